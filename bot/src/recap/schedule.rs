//! Recording what is due: a pending summary per enabled target of every stream that ended
//! within the lookback, and of every weekly digest asked for.

use std::collections::HashMap;

use chatters_core::channel_settings::{self, ChannelSettings};
use chatters_core::store::{Channel, ChannelKey, StoreError};
use tracing::info;

use super::target::Webhook;
use super::{Kind, Recaps, Scope, Service, Target, Week, digest};

impl Recaps {
    /// Every channel, by key.
    pub(super) async fn channels(&self) -> Result<HashMap<ChannelKey, Channel>, StoreError> {
        Ok(self
            .figures
            .store()
            .channels()
            .await?
            .into_iter()
            .map(|c| (c.key, c))
            .collect())
    }

    /// A channel's settings.
    pub(super) async fn settings(&self, channel: &Channel) -> Result<ChannelSettings, StoreError> {
        ChannelSettings::load(self.figures.store().as_ref(), channel.key).await
    }

    /// The webhook of `target` for a channel with these settings, if one is set.
    pub(super) fn webhook(&self, target: Target, settings: &ChannelSettings) -> Option<Webhook> {
        let url = match target.scope {
            Scope::Global => match target.service {
                Service::Discord => self.config.discord_webhook_url.clone(),
                Service::Slack => self.config.slack_webhook_url.clone(),
            },
            Scope::Channel => settings
                .webhook(target.service.setting())
                .map(|url| url.secret().clone()),
        };
        url.map(Webhook::new)
    }

    /// The configured, enabled destinations of a channel's recaps.
    pub(super) async fn destinations(
        &self,
        channel: &Channel,
    ) -> Result<Vec<(Target, Webhook)>, StoreError> {
        let settings = self.settings(channel).await?;
        let disabled = self
            .figures
            .store()
            .disabled_recap_targets(channel.key)
            .await?;
        let mut out: Vec<(Target, Webhook)> = Vec::new();
        for target in Target::ALL {
            let Some(webhook) = self.webhook(target, &settings) else {
                continue;
            };
            let print = webhook.fingerprint();
            let revoked = disabled
                .iter()
                .any(|d| d.target == target.key() && d.url_hash == print);
            // The same webhook set globally and for the channel gets one recap.
            let twice = out
                .iter()
                .any(|(t, w)| t.service == target.service && w.fingerprint() == print);
            if !revoked && !twice {
                out.push((target, webhook));
            }
        }
        Ok(out)
    }

    /// Records a pending recap per destination of every stream that ended recently.
    pub(super) async fn schedule_recaps(&self) -> Result<(), StoreError> {
        let now = self.now();
        let since = now.plus(-i64::try_from(self.config.lookback.as_secs()).unwrap_or(i64::MAX));
        let store = self.figures.store();
        let streams: Vec<_> = {
            let all = store.ended_streams(since).await?;
            let mut examined = self.examined();
            examined.streams.retain(|_, ended| *ended >= since);
            all.into_iter()
                .filter(|s| !examined.streams.contains_key(&s.key))
                .collect()
        };
        if streams.is_empty() {
            return Ok(());
        }
        let channels = self.channels().await?;
        for stream in streams {
            let Some(channel) = channels.get(&stream.channel) else {
                continue;
            };
            let keys: Vec<String> = self
                .destinations(channel)
                .await?
                .iter()
                .map(|(t, _)| Kind::Recap(*t).key())
                .collect();
            let added = store
                .add_summaries(stream.key.0, &keys, (self.clock)())
                .await?;
            if added > 0 {
                info!(channel = %channel.login, stream = %stream.id, targets = added, "recap recorded");
            }
            if let Some(ended) = stream.ended_at {
                self.examined().streams.insert(stream.key, ended);
            }
        }
        Ok(())
    }

    /// During the first [`RecapConfig::lookback`] of a week, records the previous week's digest
    /// of every channel that asked for one and streamed then (once its streams have ended).
    pub(super) async fn schedule_digests(&self) -> Result<(), StoreError> {
        let now = self.now();
        let week = Week::containing(now).previous();
        let lookback = i64::try_from(self.config.lookback.as_secs()).unwrap_or(i64::MAX);
        if now.0 - week.end().0 > lookback {
            return Ok(());
        }
        let store = self.figures.store();
        let wanted = channel_settings::weekly_digest_channels(store.as_ref()).await?;
        if wanted.is_empty() {
            return Ok(());
        }
        self.examined().digests.retain(|(_, w)| *w == week);
        let wanted: Vec<ChannelKey> = wanted
            .into_iter()
            .filter(|key| !self.examined().digests.contains(&(*key, week)))
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let channels = self.channels().await?;
        for key in wanted {
            let Some(channel) = channels.get(&key) else {
                continue;
            };
            let streams = digest::week_streams(&self.figures, channel, week).await?;
            if streams.is_empty() || streams.iter().any(|s| s.ended_at.is_none()) {
                continue;
            }
            let keys: Vec<String> = self
                .destinations(channel)
                .await?
                .iter()
                .map(|(t, _)| Kind::Digest(week, *t).key())
                .collect();
            let added = store.add_summaries(key.0, &keys, (self.clock)()).await?;
            if added > 0 {
                info!(channel = %channel.login, %week, targets = added, "weekly digest recorded");
            }
            self.examined().digests.insert((key, week));
        }
        Ok(())
    }

    fn examined(&self) -> std::sync::MutexGuard<'_, super::Examined> {
        self.examined
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
