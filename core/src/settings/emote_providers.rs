//! `SEVENTV_API_URL`, `BTTV_API_URL` and `FFZ_API_URL` ([`EmoteProviders`]): the base URLs of
//! the third-party emote providers (SPEC "Emotes"), each `off` to disable it.

use url::Url;

use super::operations::Rejected;

/// 7TV's API (`users/twitch/{id}`, `emote-sets/global`).
pub const DEFAULT_SEVENTV_URL: &str = "https://7tv.io/v3/";
/// BetterTTV's API (`cached/users/twitch/{id}`, `cached/emotes/global`).
pub const DEFAULT_BTTV_URL: &str = "https://api.betterttv.net/3/";
/// FrankerFaceZ's API (`room/id/{id}`, `set/global`).
pub const DEFAULT_FFZ_URL: &str = "https://api.frankerfacez.com/v1/";

/// The emote providers' base URLs (always ending with `/`); `None`: the provider is off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmoteProviders {
    /// `SEVENTV_API_URL`.
    pub seventv: Option<Url>,
    /// `BTTV_API_URL`.
    pub bttv: Option<Url>,
    /// `FFZ_API_URL`.
    pub ffz: Option<Url>,
}

impl Default for EmoteProviders {
    fn default() -> Self {
        let url = |u: &str| Url::parse(u).ok();
        Self {
            seventv: url(DEFAULT_SEVENTV_URL),
            bttv: url(DEFAULT_BTTV_URL),
            ffz: url(DEFAULT_FFZ_URL),
        }
    }
}

impl EmoteProviders {
    /// Every provider off (tests and tools that must not reach the internet).
    pub fn off() -> Self {
        Self {
            seventv: None,
            bttv: None,
            ffz: None,
        }
    }

    /// Parses the variables through `get` (a set value, trimmed, or `None`).
    pub(super) fn parse<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, Rejected> {
        let one = |var: &'static str, default: &str| -> Result<Option<Url>, Rejected> {
            match get(var) {
                Some(v) if v.eq_ignore_ascii_case("off") => Ok(None),
                Some(v) => base_url(v).map(Some).map_err(|problem| Rejected {
                    var,
                    value: v.to_owned(),
                    problem,
                }),
                None => Ok(Url::parse(default).ok()),
            }
        };
        Ok(Self {
            seventv: one("SEVENTV_API_URL", DEFAULT_SEVENTV_URL)?,
            bttv: one("BTTV_API_URL", DEFAULT_BTTV_URL)?,
            ffz: one("FFZ_API_URL", DEFAULT_FFZ_URL)?,
        })
    }
}

/// An http(s) URL without credentials, ending with `/`.
fn base_url(value: &str) -> Result<Url, &'static str> {
    const PROBLEM: &str = "is not an http(s) base URL (use e.g. https://7tv.io/v3/, or off)";
    let mut url = Url::parse(value).map_err(|_| PROBLEM)?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(PROBLEM);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials");
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::super::{Settings, SettingsError};
    use super::*;

    fn providers(vars: &[(&str, &str)]) -> Result<EmoteProviders, SettingsError> {
        Settings::from_vars(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
            .map(|s| s.emote_providers)
    }

    #[test]
    fn defaults_are_the_public_apis() {
        assert_eq!(providers(&[]), Ok(EmoteProviders::default()));
        assert_eq!(
            EmoteProviders::default()
                .seventv
                .map(String::from)
                .as_deref(),
            Some("https://7tv.io/v3/")
        );
    }

    #[test]
    fn off_disables_one_and_base_urls_gain_a_slash() {
        let p = providers(&[
            ("SEVENTV_API_URL", "OFF"),
            ("BTTV_API_URL", "http://127.0.0.1:9000/bttv"),
        ])
        .expect("valid");
        assert_eq!(p.seventv, None);
        assert_eq!(
            p.bttv.map(String::from).as_deref(),
            Some("http://127.0.0.1:9000/bttv/")
        );
        assert!(p.ffz.is_some());
    }

    #[test]
    fn a_bad_url_names_its_variable() {
        let error = providers(&[("FFZ_API_URL", "ftp://x")])
            .expect_err("rejected")
            .to_string();
        assert!(error.starts_with("FFZ_API_URL: "), "{error}");
    }
}
