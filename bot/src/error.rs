//! [`ConfigError`]: a configuration problem found before anything started (the binary exits 2).

use std::fmt;

/// A configuration problem found before anything started: exit code 2.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}
