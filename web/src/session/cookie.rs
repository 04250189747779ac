//! The dashboard's cookies: the session id (`chatters_session`) and, between `/login` and
//! `/auth/callback`, the OAuth `state` with the page to return to (`chatters_oauth`). Both are
//! `HttpOnly`, `SameSite=Lax` (the callback is a top-level navigation from Twitch, which Lax
//! lets through) and `Secure` when the public base URL is https.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

/// The session cookie.
pub const SESSION: &str = "chatters_session";
/// The sign-in cookie (state and return path).
pub const OAUTH: &str = "chatters_oauth";

/// How the cookies are scoped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieScope {
    /// `Path=` (the public base URL's path, `/` at least).
    pub path: String,
    /// Sent over https only.
    pub secure: bool,
}

impl CookieScope {
    /// The scope for a public base URL (`https://host/prefix` → path `/prefix`, secure).
    pub fn for_base(public_base_url: &str) -> Self {
        let secure = public_base_url.starts_with("https://");
        let path = url::Url::parse(public_base_url)
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        Self {
            path: if path.is_empty() {
                "/".to_owned()
            } else {
                path
            },
            secure,
        }
    }

    /// A `Set-Cookie` value setting `name` to `value` for `max_age` seconds.
    pub fn set(&self, name: &str, value: &str, max_age: u64) -> String {
        format!(
            "{name}={value}; Path={}; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
            self.path,
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// A `Set-Cookie` value deleting `name`.
    pub fn clear(&self, name: &str) -> String {
        self.set(name, "", 0)
    }
}

/// The value of cookie `name` in the request, if sent.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_http_only_lax_and_secure_behind_https() {
        let plain = CookieScope::for_base("http://127.0.0.1:8080");
        assert_eq!(
            plain.set(SESSION, "abc", 60),
            "chatters_session=abc; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"
        );
        let tls = CookieScope::for_base("https://stats.example.com/chatters");
        assert_eq!(
            tls.clear(OAUTH),
            "chatters_oauth=; Path=/chatters; Max-Age=0; HttpOnly; SameSite=Lax; Secure"
        );
    }

    #[test]
    fn a_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            "a=1; chatters_session=xyz; b=2".parse().expect("header"),
        );
        assert_eq!(get(&headers, SESSION), Some("xyz"));
        assert_eq!(get(&headers, OAUTH), None);
    }
}
