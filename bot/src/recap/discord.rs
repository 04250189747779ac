//! Discord webhooks through serenity's HTTP parts (no gateway): the message is serenity's
//! [`ExecuteWebhook`] builder, the request serenity's [`Request`] for
//! `Route::WebhookWithToken` with the chart as `files[0]` and the JSON as `payload_json`.
//! serenity's `Http` is not used to send it because it drops a 429's `Retry-After` header;
//! the request is executed with serenity's own reqwest client type instead, and the answer
//! classified by [`Outcome`].
//!
//! The webhook URL's host is honoured (tests use a local one): `<base>/api/webhooks/<id>/<token>`
//! is parsed here and `<base>` given to serenity as its proxy (the rate-limited path of
//! serenity would ignore it).

use serenity::builder::{CreateAllowedMentions, CreateAttachment, CreateEmbed, ExecuteWebhook};
use serenity::http::{LightMethod, Multipart, MultipartUpload, Request, Route};
use serenity::model::id::WebhookId;
use serenity_reqwest::header::RETRY_AFTER;

use super::content::{Field, Recap};
use super::digest::Digest;
use super::outcome::Outcome;
use super::target::Webhook;

/// The attachment's name, referenced by the embed as `attachment://chart.png`.
pub const CHART_FILE: &str = "chart.png";

/// Name the messages are posted under.
const USERNAME: &str = "chatters";

/// Twitch purple.
const COLOUR: u32 = 0x0091_46FF;

/// A parsed Discord webhook URL.
pub struct DiscordWebhook {
    /// Scheme, host, port and any path before `/api` (`https://discord.com`).
    base: String,
    id: WebhookId,
    token: String,
}

impl std::fmt::Debug for DiscordWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordWebhook")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The URL is not `<base>/api[/v<n>]/webhooks/<id>/<token>` (the URL is not repeated).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Discord webhook URL (expected .../api/webhooks/<id>/<token>)")]
pub struct InvalidWebhook;

impl DiscordWebhook {
    /// Parses `<base>/api/webhooks/<id>/<token>` (also `/api/v10/webhooks/...`).
    pub fn parse(webhook: &Webhook) -> Result<Self, InvalidWebhook> {
        let url = url::Url::parse(webhook.url()).map_err(|_| InvalidWebhook)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(InvalidWebhook);
        }
        let host = url.host_str().ok_or(InvalidWebhook)?;
        let segments: Vec<&str> = url.path_segments().ok_or(InvalidWebhook)?.collect();
        let api = segments
            .iter()
            .position(|s| *s == "api")
            .ok_or(InvalidWebhook)?;
        let mut rest = &segments[api + 1..];
        if rest.first().is_some_and(|s| {
            s.len() > 1 && s.starts_with('v') && s[1..].bytes().all(|b| b.is_ascii_digit())
        }) {
            rest = &rest[1..];
        }
        let [hooks, id, token, ..] = rest else {
            return Err(InvalidWebhook);
        };
        let id: u64 = id.parse().map_err(|_| InvalidWebhook)?;
        if *hooks != "webhooks" || id == 0 || token.is_empty() {
            return Err(InvalidWebhook);
        }
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        let prefix: String = segments[..api].iter().map(|s| format!("/{s}")).collect();
        Ok(Self {
            base: format!("{}://{host}{port}{prefix}", url.scheme()),
            id: WebhookId::new(id),
            token: (*token).to_owned(),
        })
    }
}

/// The recap as a webhook message: one embed with every field and, with `chart`, the
/// attached chart shown as its image.
pub fn recap_message(recap: &Recap, chart: bool) -> ExecuteWebhook {
    let mut embed = CreateEmbed::new()
        .title(clip(&recap.title(), 256))
        .description(recap.period())
        .colour(COLOUR);
    if chart {
        embed = embed.image(format!("attachment://{CHART_FILE}"));
    }
    embed = add_fields(embed, &recap.fields());
    if let Some(end) = recap.figures.ended_at
        && let Ok(at) = serenity::model::Timestamp::from_unix_timestamp(end.0)
    {
        embed = embed.timestamp(at);
    }
    message(embed)
}

/// The weekly digest as a webhook message (with `chart`, the week's channel chart).
pub fn digest_message(digest: &Digest, chart: bool) -> ExecuteWebhook {
    let mut embed = CreateEmbed::new()
        .title(clip(&digest.title(), 256))
        .description(digest.period())
        .colour(COLOUR);
    if chart {
        embed = embed.image(format!("attachment://{CHART_FILE}"));
    }
    message(add_fields(embed, &digest.fields()))
}

/// A webhook message of one embed, mentioning nobody.
pub fn message(embed: CreateEmbed) -> ExecuteWebhook {
    ExecuteWebhook::new()
        .username(USERNAME)
        .allowed_mentions(CreateAllowedMentions::new())
        .embed(embed)
}

/// Adds fields to an embed (values clipped to Discord's 1,024 characters).
pub fn add_fields(mut embed: CreateEmbed, fields: &[Field]) -> CreateEmbed {
    for f in fields {
        embed = embed.field(f.name, clip(&f.value, 1024), f.short);
    }
    embed
}

/// Posts `message` with `png` attached as [`CHART_FILE`] (`wait=false`: Discord answers 204).
pub async fn send(
    client: &serenity_reqwest::Client,
    hook: &DiscordWebhook,
    message: ExecuteWebhook,
    png: Option<Vec<u8>>,
) -> Outcome {
    let mut message = message;
    let files: Vec<CreateAttachment> = match png {
        Some(png) => {
            // The payload lists the attachment (its bytes are not serialised); the bytes go as
            // the multipart part `files[0]`.
            message = message.add_file(CreateAttachment::bytes(Vec::new(), CHART_FILE));
            vec![CreateAttachment::bytes(png, CHART_FILE)]
        }
        None => Vec::new(),
    };
    let payload = match serde_json::to_string(&message) {
        Ok(json) => json,
        Err(e) => {
            return Outcome::Rejected {
                error: format!("could not encode the message: {e}"),
            };
        }
    };
    let mut request = Request::new(
        Route::WebhookWithToken {
            webhook_id: hook.id,
            token: &hook.token,
        },
        LightMethod::Post,
    )
    .params(Some(vec![("wait", "false".to_owned())]));
    request = if files.is_empty() {
        request.body(Some(payload.into_bytes()))
    } else {
        request.multipart(Some(Multipart {
            upload: MultipartUpload::Attachments(files),
            fields: Vec::new(),
            payload_json: Some(payload),
        }))
    };
    // serenity's errors here may quote the URL: they are not repeated.
    let Ok(builder) = request.build(client, "", Some(&hook.base)) else {
        return Outcome::Rejected {
            error: "could not build the webhook request".to_owned(),
        };
    };
    let request = match builder.build() {
        Ok(r) => r,
        Err(e) => {
            return Outcome::Rejected {
                error: format!("could not build the webhook request: {}", e.without_url()),
            };
        }
    };
    match client.execute(request).await {
        Ok(response) => {
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = response.bytes().await.unwrap_or_default();
            Outcome::from_response(status, retry_after.as_deref(), &body)
        }
        Err(e) => Outcome::unreachable(&e.without_url()),
    }
}

/// At most `max` characters (Discord's limits count characters).
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    fn parse(url: &str) -> Result<DiscordWebhook, InvalidWebhook> {
        DiscordWebhook::parse(&Webhook::new(SecretString::from(url)))
    }

    #[test]
    fn webhook_urls_keep_their_host() {
        let real = parse("https://discord.com/api/webhooks/123456/tok-EN_1").expect("valid");
        let local = parse("http://127.0.0.1:4567/api/webhooks/42/abc").expect("valid");
        let versioned =
            parse("https://ptb.discord.com/api/v10/webhooks/7/t?thread_id=1").expect("valid");
        let prefixed = parse("http://localhost:9/proxy/api/webhooks/8/t").expect("valid");

        assert_eq!(
            (real.base.as_str(), real.id.get(), real.token.as_str()),
            ("https://discord.com", 123_456, "tok-EN_1")
        );
        assert_eq!(local.base, "http://127.0.0.1:4567");
        assert_eq!(local.id.get(), 42);
        assert_eq!(versioned.base, "https://ptb.discord.com");
        assert_eq!(versioned.token, "t");
        assert_eq!(prefixed.base, "http://localhost:9/proxy");
    }

    #[test]
    fn other_urls_are_refused_without_repeating_them() {
        for url in [
            "https://discord.com/api/webhooks/abc/secret",
            "https://discord.com/api/webhooks/0/secret",
            "https://discord.com/api/webhooks/1",
            "https://discord.com/webhooks/1/secret",
            "ftp://discord.com/api/webhooks/1/secret",
            "secret",
        ] {
            let error = parse(url).expect_err(url);
            assert!(!error.to_string().contains("secret"), "{error}");
        }
        let ok = parse("https://discord.com/api/webhooks/1/secret").expect("valid");
        assert!(!format!("{ok:?}").contains("secret"));
    }

    #[test]
    fn long_values_are_clipped() {
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcd", 3), "ab…");
    }
}
