//! API keys: generation from the operating system's CSPRNG, the stored form (a SHA-256 hash)
//! and constant-time verification.
//!
//! A key is `chk_` followed by 43 base62 characters (about 256 bits of entropy). It is shown
//! once, when created; the database keeps only the lower-case hex SHA-256 of the whole key, so
//! a copy of the database holds no usable key. Keys are long random strings, so a plain hash
//! (no salt, no slow KDF) cannot be reversed by guessing.
//!
//! A presented key is looked up by its hash (an indexed, unique column), then the stored hash
//! is compared with the presented key's hash in constant time ([`subtle`]), so the time an
//! answer takes says nothing about how much of a hash matched.

use std::fmt;

use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// What every key starts with (lets secret scanners and people recognise one).
pub const PREFIX: &str = "chk_";

/// Random characters after the prefix: 43 × log2(62) ≈ 256 bits.
const SECRET_CHARS: usize = 43;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Why a key could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed: {0}")]
    Random(getrandom::Error),
    /// The text is not shaped like a key (`chk_` and 43 base62 characters).
    #[error("not an API key (expected chk_ followed by 43 letters and digits)")]
    Malformed,
}

/// An API key in clear. Never printed by `Debug`; shown to a person once, at creation.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(chk_[redacted])")
    }
}

impl ApiKey {
    /// A new random key, from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, ApiKeyError> {
        let mut key = String::with_capacity(PREFIX.len() + SECRET_CHARS);
        key.push_str(PREFIX);
        let mut random = [0u8; 64];
        while key.len() < PREFIX.len() + SECRET_CHARS {
            getrandom::fill(&mut random).map_err(ApiKeyError::Random)?;
            // Rejection sampling: 248 = 4 × 62, so every character is equally likely.
            for byte in random.iter().copied().filter(|b| *b < 248) {
                if key.len() == PREFIX.len() + SECRET_CHARS {
                    break;
                }
                key.push(char::from(BASE62[usize::from(byte % 62)]));
            }
        }
        random.fill(0);
        Ok(Self(SecretString::from(key)))
    }

    /// A presented key, checked for shape only (whether it exists is the store's business).
    pub fn parse(presented: &str) -> Result<Self, ApiKeyError> {
        let secret = presented
            .strip_prefix(PREFIX)
            .ok_or(ApiKeyError::Malformed)?;
        if secret.len() == SECRET_CHARS && secret.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(SecretString::from(presented.to_owned())))
        } else {
            Err(ApiKeyError::Malformed)
        }
    }

    /// The key itself, to show once or to send.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Its stored form.
    pub fn hash(&self) -> KeyHash {
        KeyHash(Sha256::digest(self.expose().as_bytes()).into())
    }
}

/// The SHA-256 of a key: what the database stores (as lower-case hex).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyHash([u8; 32]);

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHash({})", self.to_hex())
    }
}

impl KeyHash {
    /// Lower-case hex, 64 characters (the `api_keys.key_hash` column).
    pub fn to_hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        out
    }

    /// Reads the hex form back (`None` when it is not 64 hex digits).
    pub fn from_hex(hex: &str) -> Option<Self> {
        fn nibble(c: u8) -> Option<u8> {
            match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                b'A'..=b'F' => Some(c - b'A' + 10),
                _ => None,
            }
        }
        let bytes = hex.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Some(Self(out))
    }

    /// Constant-time equality: the time taken does not depend on where the hashes differ.
    pub fn ct_eq(&self, other: &KeyHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

/// True when `presented` is the key whose hash is stored as `stored_hex` (compared in constant
/// time; a malformed stored value never matches).
pub fn verify(presented: &ApiKey, stored_hex: &str) -> bool {
    KeyHash::from_hex(stored_hex).is_some_and(|stored| stored.ct_eq(&presented.hash()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_prefix_and_43_base62_characters() {
        let key = ApiKey::generate().expect("random");

        assert_eq!(key.expose().len(), 47);
        assert!(key.expose().starts_with("chk_"));
        assert!(ApiKey::parse(key.expose()).is_ok());
    }

    #[test]
    fn generated_keys_differ() {
        let keys: std::collections::HashSet<String> = (0..1000)
            .map(|_| ApiKey::generate().expect("random").expose().to_owned())
            .collect();

        assert_eq!(keys.len(), 1000);
    }

    #[test]
    fn every_base62_character_occurs() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let key = ApiKey::generate().expect("random");
            seen.extend(key.expose()[4..].bytes());
        }

        assert_eq!(seen.len(), 62);
    }

    #[test]
    fn malformed_keys_are_rejected_before_any_lookup() {
        for bad in [
            "",
            "chk_",
            "abc",
            "chk_short",
            &format!("chk_{}", "a".repeat(42)),
            &format!("chk_{}", "a".repeat(44)),
            &format!("chk_{}-", "a".repeat(42)),
            &format!("xyz_{}", "a".repeat(43)),
        ] {
            assert!(
                matches!(ApiKey::parse(bad), Err(ApiKeyError::Malformed)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_hash_is_the_sha256_of_the_whole_key_in_hex() {
        let key = ApiKey::parse(&format!("chk_{}", "a".repeat(43))).expect("shape");

        // printf 'chk_%s' aaa… | sha256sum
        assert_eq!(
            key.hash().to_hex(),
            "f99abcfe03b84d841e15e65f8242f8f84a629d43f6d754764c4d773dd02b8ebb"
        );
        assert_eq!(key.hash().to_hex().len(), 64);
        assert_eq!(KeyHash::from_hex(&key.hash().to_hex()), Some(key.hash()));
    }

    #[test]
    fn verify_accepts_only_the_key_that_was_hashed() {
        let key = ApiKey::generate().expect("random");
        let other = ApiKey::generate().expect("random");
        let stored = key.hash().to_hex();
        let mut one_digit_off = stored.clone().into_bytes();
        one_digit_off[63] = if one_digit_off[63] == b'0' {
            b'1'
        } else {
            b'0'
        };

        assert!(verify(&key, &stored));
        assert!(verify(&key, &stored.to_uppercase()));
        assert!(!verify(&other, &stored));
        assert!(!verify(
            &key,
            std::str::from_utf8(&one_digit_off).expect("ascii")
        ));
        assert!(!verify(&key, "not hex"));
        assert!(!verify(&key, ""));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = ApiKey::generate().expect("random");

        assert!(!format!("{key:?}").contains(&key.expose()[4..]));
    }
}
