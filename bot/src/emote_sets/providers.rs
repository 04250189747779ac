//! The three providers' public APIs: which URL gives a channel's set and the global one, and
//! how their JSON reads (only ids and names are kept).
//!
//! - 7TV: `users/twitch/{id}` → `{"emote_set": {"emotes": [{"id", "name"}]}}` (the name is the
//!   channel's alias), `emote-sets/global` → `{"emotes": [{"id", "name"}]}`.
//! - BetterTTV: `cached/users/twitch/{id}` → `{"channelEmotes": [{"id", "code"}],
//!   "sharedEmotes": [...]}`, `cached/emotes/global` → `[{"id", "code"}]`.
//! - FrankerFaceZ: `room/id/{id}` → `{"room": {"set": N}, "sets": {"N": {"emoticons": [{"id",
//!   "name"}]}}}`, `set/global` → `{"default_sets": [N], "sets": {...}}`: the global emotes are
//!   the default sets only.
//!
//! A 404 for a channel means the channel has no set there (an empty set, not a failure).

use std::collections::HashMap;

use chatters_core::domain::UserId;
use chatters_core::signals::Provider;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

/// `(id, name)` pairs of one set.
pub type Emotes = Vec<(String, String)>;

/// Why a set could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The request failed or timed out.
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// An answer other than 200 or 404.
    #[error("answered {0}")]
    Status(u16),
    /// A body that is not the provider's JSON.
    #[error("unexpected JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A base URL that cannot take the path (not an http(s) base).
    #[error("bad URL")]
    Url,
}

/// The URL of a channel's set (`channel: Some`) or of the global one.
pub fn url(provider: Provider, base: &Url, channel: Option<UserId>) -> Result<Url, FetchError> {
    let path = match (provider, channel) {
        (Provider::SevenTv, Some(id)) => format!("users/twitch/{id}"),
        (Provider::SevenTv, None) => "emote-sets/global".to_owned(),
        (Provider::Bttv, Some(id)) => format!("cached/users/twitch/{id}"),
        (Provider::Bttv, None) => "cached/emotes/global".to_owned(),
        (Provider::Ffz, Some(id)) => format!("room/id/{id}"),
        (Provider::Ffz, None) => "set/global".to_owned(),
        (Provider::Twitch, _) => return Err(FetchError::Url),
    };
    base.join(&path).map_err(|_| FetchError::Url)
}

/// Reads a provider's answer (`channel`: whether it is a channel's).
pub fn parse(provider: Provider, channel: bool, body: &[u8]) -> Result<Emotes, FetchError> {
    match (provider, channel) {
        (Provider::SevenTv, true) => {
            let user: SevenTvUser = serde_json::from_slice(body)?;
            Ok(user.emote_set.map(|s| s.pairs()).unwrap_or_default())
        }
        (Provider::SevenTv, false) => Ok(serde_json::from_slice::<SevenTvSet>(body)?.pairs()),
        (Provider::Bttv, true) => {
            let user: BttvUser = serde_json::from_slice(body)?;
            Ok(user
                .channel_emotes
                .into_iter()
                .chain(user.shared_emotes)
                .map(|e| (e.id, e.code))
                .collect())
        }
        (Provider::Bttv, false) => Ok(serde_json::from_slice::<Vec<BttvEmote>>(body)?
            .into_iter()
            .map(|e| (e.id, e.code))
            .collect()),
        (Provider::Ffz, true) => {
            let room: FfzRoom = serde_json::from_slice(body)?;
            let set = room.room.set.map(|s| id_string(&s));
            Ok(room
                .sets
                .into_iter()
                .filter(|(id, _)| set.as_ref().is_none_or(|s| s == id))
                .flat_map(|(_, s)| s.pairs())
                .collect())
        }
        (Provider::Ffz, false) => {
            let global: FfzGlobal = serde_json::from_slice(body)?;
            let defaults: Vec<String> = global.default_sets.iter().map(id_string).collect();
            let mut sets: Vec<_> = global
                .sets
                .into_iter()
                .filter(|(id, _)| defaults.contains(id))
                .collect();
            sets.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(sets.into_iter().flat_map(|(_, s)| s.pairs()).collect())
        }
        (Provider::Twitch, _) => Ok(Vec::new()),
    }
}

/// A JSON number or string as a string (FFZ ids are numbers).
fn id_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[derive(Deserialize)]
struct SevenTvUser {
    emote_set: Option<SevenTvSet>,
}

#[derive(Deserialize)]
struct SevenTvSet {
    #[serde(default)]
    emotes: Option<Vec<SevenTvEmote>>,
}

impl SevenTvSet {
    fn pairs(self) -> Emotes {
        self.emotes
            .unwrap_or_default()
            .into_iter()
            .map(|e| (e.id, e.name))
            .collect()
    }
}

#[derive(Deserialize)]
struct SevenTvEmote {
    id: String,
    name: String,
}

#[derive(Deserialize)]
struct BttvUser {
    #[serde(default, rename = "channelEmotes")]
    channel_emotes: Vec<BttvEmote>,
    #[serde(default, rename = "sharedEmotes")]
    shared_emotes: Vec<BttvEmote>,
}

#[derive(Deserialize)]
struct BttvEmote {
    id: String,
    code: String,
}

#[derive(Deserialize)]
struct FfzRoom {
    room: FfzRoomInfo,
    #[serde(default)]
    sets: HashMap<String, FfzSet>,
}

#[derive(Deserialize)]
struct FfzRoomInfo {
    set: Option<Value>,
}

#[derive(Deserialize)]
struct FfzGlobal {
    #[serde(default)]
    default_sets: Vec<Value>,
    #[serde(default)]
    sets: HashMap<String, FfzSet>,
}

#[derive(Deserialize)]
struct FfzSet {
    #[serde(default)]
    emoticons: Vec<FfzEmote>,
}

impl FfzSet {
    fn pairs(self) -> Emotes {
        self.emoticons
            .into_iter()
            .map(|e| (id_string(&e.id), e.name))
            .collect()
    }
}

#[derive(Deserialize)]
struct FfzEmote {
    id: Value,
    name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Emotes {
        p.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn seventv_channel_and_global_sets_read_ids_and_names() {
        let user = br#"{"id":"22484632","platform":"TWITCH","username":"forsen","emote_capacity":1000,
            "emote_set":{"id":"6134...","name":"forsen's Emotes","emotes":[
              {"id":"60ae958e229664e8667aea38","name":"forsenE","flags":0,"data":{"id":"60ae958e229664e8667aea38","name":"forsenE","animated":false}},
              {"id":"603cb219c20d020014423c34","name":"WAYTOODANK","flags":0,"data":{"name":"WAYTOODANK"}}]},
            "user":{"id":"60b3ac4bd0a2f6b2e5b73a96","username":"forsen"}}"#;
        assert_eq!(
            parse(Provider::SevenTv, true, user).expect("parses"),
            pairs(&[
                ("60ae958e229664e8667aea38", "forsenE"),
                ("603cb219c20d020014423c34", "WAYTOODANK")
            ])
        );
        let no_set = br#"{"id":"1","emote_set":null}"#;
        assert_eq!(
            parse(Provider::SevenTv, true, no_set).expect("parses"),
            vec![]
        );
        let global = br#"{"id":"62cdd34e72a832540de95857","name":"Global Emotes","emotes":[{"id":"60a1babb3c3362f9a4b8b33a","name":"EZ"}]}"#;
        assert_eq!(
            parse(Provider::SevenTv, false, global).expect("parses"),
            pairs(&[("60a1babb3c3362f9a4b8b33a", "EZ")])
        );
    }

    #[test]
    fn bttv_channel_emotes_include_shared_ones() {
        let user = br#"{"id":"5f8f...","bots":["nightbot"],"avatar":"x",
            "channelEmotes":[{"id":"5f1b0186cf6d2144653d2970","code":"catJAM","imageType":"gif","animated":true,"userId":"1"}],
            "sharedEmotes":[{"id":"5e0fa9d40550d42106b8a489","code":"LULW","imageType":"png","user":{"id":"1","name":"x"}}]}"#;
        assert_eq!(
            parse(Provider::Bttv, true, user).expect("parses"),
            pairs(&[
                ("5f1b0186cf6d2144653d2970", "catJAM"),
                ("5e0fa9d40550d42106b8a489", "LULW")
            ])
        );
        let global = br#"[{"id":"54fa925e01e468494b85b54d","code":"OhMyGoodness","imageType":"png","userId":"5561169bd6b9d206222a8c19"}]"#;
        assert_eq!(
            parse(Provider::Bttv, false, global).expect("parses"),
            pairs(&[("54fa925e01e468494b85b54d", "OhMyGoodness")])
        );
    }

    #[test]
    fn ffz_room_reads_its_set_and_global_reads_default_sets_only() {
        let room = br#"{"room":{"_id":1,"twitch_id":22484632,"id":"forsen","set":1234},
            "sets":{"1234":{"id":1234,"_type":1,"title":"Channel: forsen","emoticons":[
              {"id":128054,"name":"OMEGALUL","height":32,"width":32,"public":true}]}}}"#;
        assert_eq!(
            parse(Provider::Ffz, true, room).expect("parses"),
            pairs(&[("128054", "OMEGALUL")])
        );
        let global = br#"{"default_sets":[3],"sets":{
              "3":{"id":3,"emoticons":[{"id":9,"name":"ZreknarF"}]},
              "4330":{"id":4330,"emoticons":[{"id":1,"name":"NotDefault"}]}},
            "users":{"4330":["someone"]}}"#;
        assert_eq!(
            parse(Provider::Ffz, false, global).expect("parses"),
            pairs(&[("9", "ZreknarF")])
        );
    }

    #[test]
    fn urls_follow_each_providers_api() {
        let base = Url::parse("http://127.0.0.1:1/7tv/").expect("url");
        assert_eq!(
            url(Provider::SevenTv, &base, Some(UserId(5)))
                .expect("url")
                .as_str(),
            "http://127.0.0.1:1/7tv/users/twitch/5"
        );
        let base = Url::parse("https://api.frankerfacez.com/v1/").expect("url");
        assert_eq!(
            url(Provider::Ffz, &base, None).expect("url").as_str(),
            "https://api.frankerfacez.com/v1/set/global"
        );
    }
}
