//! Slack incoming webhooks: a Block Kit message (header, the figures as section fields, the
//! chart as an image block pointing at the public chart URL) with a plain-text `text`
//! fallback, POSTed as JSON.

use serde_json::{Value, json};

use super::content::{Field, Recap};
use super::outcome::Outcome;
use super::target::Webhook;

/// Slack allows at most 10 fields per section.
const FIELDS_PER_SECTION: usize = 10;

/// The recap as a Block Kit message; with `image`, the chart as an image block (only when the
/// channel's public page is on, or Slack could not load it).
pub fn recap_message(recap: &Recap, image: bool) -> Value {
    message(
        &recap.title(),
        &recap.period(),
        &recap.fields(),
        image.then_some((recap.chart_url.as_str(), "chatters during the stream")),
        &recap.text(),
    )
}

/// A message: header, context line, fields (short ones side by side), an optional image
/// `(url, alt text)`, and the notification fallback `text`.
pub fn message(
    title: &str,
    context: &str,
    fields: &[Field],
    image: Option<(&str, &str)>,
    text: &str,
) -> Value {
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": clip(title, 150)}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(context)}]}),
    ];
    let short: Vec<&Field> = fields.iter().filter(|f| f.short).collect();
    for chunk in short.chunks(FIELDS_PER_SECTION) {
        let fields: Vec<Value> = chunk.iter().map(|f| mrkdwn(f)).collect();
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    for f in fields.iter().filter(|f| !f.short) {
        blocks.push(json!({"type": "section", "text": mrkdwn(f)}));
    }
    if let Some((url, alt)) = image {
        blocks.push(json!({"type": "image", "image_url": url, "alt_text": alt}));
    }
    json!({"text": text, "blocks": blocks})
}

/// `*Name*\nvalue`, escaped.
fn mrkdwn(f: &Field) -> Value {
    json!({"type": "mrkdwn", "text": clip(&format!("*{}*\n{}", f.name, escape(&f.value)), 2000)})
}

/// Slack's three control characters in mrkdwn.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

/// POSTs `message` to the webhook (Slack answers 200 `ok`). Slack refuses a whole message
/// whose image it cannot download (`invalid_blocks`, e.g. a `PUBLIC_BASE_URL` it cannot
/// reach): a refused message with an image is sent once more without it.
pub async fn send(client: &reqwest::Client, hook: &Webhook, message: &Value) -> Outcome {
    let outcome = post(client, hook, message).await;
    if matches!(outcome, Outcome::Rejected { .. })
        && let Some(plain) = without_images(message)
    {
        return post(client, hook, &plain).await;
    }
    outcome
}

async fn post(client: &reqwest::Client, hook: &Webhook, message: &Value) -> Outcome {
    match client.post(hook.url()).json(message).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = response.bytes().await.unwrap_or_default();
            Outcome::from_response(status, retry_after.as_deref(), &body)
        }
        Err(e) => Outcome::unreachable(&e.without_url()),
    }
}

/// The message without its image blocks (`None` when it had none).
fn without_images(message: &Value) -> Option<Value> {
    let blocks = message.get("blocks")?.as_array()?;
    let kept: Vec<Value> = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) != Some("image"))
        .cloned()
        .collect();
    if kept.len() == blocks.len() {
        return None;
    }
    let mut plain = message.clone();
    plain["blocks"] = Value::Array(kept);
    Some(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_grouped_and_escaped() {
        let fields: Vec<Field> = (0..12)
            .map(|i| Field {
                name: "N",
                value: format!("<{i}>"),
                short: i < 11,
            })
            .collect();
        let m = message(
            "t",
            "c & d",
            &fields,
            Some(("http://x/c.png", "alt")),
            "fallback",
        );
        let blocks = m["blocks"].as_array().expect("blocks");
        assert_eq!(m["text"], "fallback");
        assert_eq!(blocks[1]["elements"][0]["text"], "c &amp; d");
        assert_eq!(blocks[2]["fields"].as_array().expect("fields").len(), 10);
        assert_eq!(blocks[3]["fields"].as_array().expect("fields").len(), 1);
        assert_eq!(blocks[2]["fields"][0]["text"], "*N*\n&lt;0&gt;");
        assert_eq!(blocks[4]["text"]["text"], "*N*\n&lt;11&gt;");
        assert_eq!(blocks[5]["type"], "image");
        assert_eq!(blocks[5]["image_url"], "http://x/c.png");
        let plain = without_images(&m).expect("had an image");
        assert_eq!(plain["blocks"].as_array().expect("blocks").len(), 5);
        assert_eq!(without_images(&plain), None);
    }
}
