//! Building a summary's message and posting it to its destination.

use anyhow::Context as _;
use chatters_core::channel_settings::ChannelSettings;
use chatters_core::charts::{self, ChartSpec};
use chatters_core::store::{Channel, StoreError, StreamKey};
use tracing::warn;

use super::content::Recap;
use super::digest::Digest;
use super::discord::{self, DiscordWebhook};
use super::outcome::Outcome;
use super::slack;
use super::{Destination, Kind, Recaps, Service};

impl Recaps {
    /// Loads the content and posts it. Errors are failures to load (retried).
    pub(super) async fn send(
        &self,
        kind: Kind,
        subject: i64,
        to: &Destination,
    ) -> anyhow::Result<Outcome> {
        let base = &self.config.public_base_url;
        match kind {
            Kind::Recap(target) => {
                let stream = self
                    .figures
                    .store()
                    .stream_by_key(StreamKey(subject))
                    .await?
                    .context("the stream is gone")?;
                let recap = Recap::load(&self.figures, &to.channel, &stream, base).await?;
                match target.service {
                    Service::Discord => {
                        let Ok(hook) = DiscordWebhook::parse(&to.webhook) else {
                            return Ok(invalid_discord_url());
                        };
                        let series = self.figures.stream_series(&to.channel, &stream).await?;
                        let png =
                            render(move || charts::stream(&series, &ChartSpec::default())).await;
                        let message = discord::recap_message(&recap, png.is_some());
                        Ok(discord::send(&self.discord, &hook, message, png).await)
                    }
                    Service::Slack => {
                        let public = self.public_page(&to.channel).await?;
                        let message = slack::recap_message(&recap, public);
                        Ok(slack::send(&self.slack, &to.webhook, &message).await)
                    }
                }
            }
            Kind::Digest(week, target) => {
                let digest = Digest::load(&self.figures, &to.channel, week, base).await?;
                match target.service {
                    Service::Discord => {
                        let Ok(hook) = DiscordWebhook::parse(&to.webhook) else {
                            return Ok(invalid_discord_url());
                        };
                        let (from, until) = digest.window();
                        let title = format!("{}: chatters, week {week}", to.channel.login);
                        let series = self
                            .figures
                            .channel_series(&to.channel, from, until, title)
                            .await?;
                        let png =
                            render(move || charts::channel(&series, &ChartSpec::default())).await;
                        let message = discord::digest_message(&digest, png.is_some());
                        Ok(discord::send(&self.discord, &hook, message, png).await)
                    }
                    Service::Slack => {
                        let public = self.public_page(&to.channel).await?;
                        let message = slack::message(
                            &digest.title(),
                            &digest.period(),
                            &digest.fields(),
                            public.then_some((
                                digest.chart_url.as_str(),
                                "chatters over the last 7 days",
                            )),
                            &digest.text(),
                        );
                        Ok(slack::send(&self.slack, &to.webhook, &message).await)
                    }
                }
            }
        }
    }

    /// False when the channel switched its public page (and so its chart URLs) off.
    pub(super) async fn public_page(&self, channel: &Channel) -> Result<bool, StoreError> {
        let store = self.figures.store().as_ref();
        Ok(ChannelSettings::load(store, channel.key).await?.public_page)
    }
}

fn invalid_discord_url() -> Outcome {
    Outcome::Rejected {
        error: discord::InvalidWebhook.to_string(),
    }
}

/// Renders a chart on the blocking pool; a failure is logged and the recap goes without it.
async fn render(
    draw: impl FnOnce() -> Result<Vec<u8>, charts::ChartError> + Send + 'static,
) -> Option<Vec<u8>> {
    match tokio::task::spawn_blocking(draw).await {
        Ok(Ok(png)) => Some(png),
        Ok(Err(error)) => {
            warn!(%error, "recap chart failed, sending without it");
            None
        }
        Err(error) => {
            warn!(%error, "recap chart task failed, sending without it");
            None
        }
    }
}
