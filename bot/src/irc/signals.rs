//! Chat signals on the way in: a message's text is scanned once, where its line is read
//! (`super::reader`), with its channel's matcher, and only the
//! [`MessageSignals`](chatters_core::signals::MessageSignals) go on with the observation. The
//! text itself goes no further.

use chatters_core::event::Event;
use chatters_core::signals::Registry;

use crate::observed::Observed;

/// Fills in the signals of a message observation from its line's text and `emotes` tag.
pub(super) fn annotate(
    registry: &Registry,
    text: Option<&str>,
    emotes: Option<&str>,
    observed: &mut Observed,
) {
    let message = match observed {
        Observed::Event(Event::Message(m)) | Observed::MessageByLogin(m) => m,
        _ => return,
    };
    // Shared-chat copies count in their source channel only: nothing to count here.
    if !message.has_text || message.is_foreign_shared_chat() {
        return;
    }
    let Some(text) = text else {
        return;
    };
    message.signals = registry.scan(message.channel.as_str(), text, emotes);
}
