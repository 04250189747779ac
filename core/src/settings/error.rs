//! [`SettingsError`]: why a setting was rejected.

/// Why a setting was rejected. `Display` is one line: the variable, what was wrong, what is
/// accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// A value the variable does not accept. The value is not secret, so it is shown (quoted and
    /// escaped, so the message stays on one line).
    #[error("{var}: {value:?} {problem}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it and what is accepted.
        problem: String,
    },
    /// A secret the variable does not accept. Only what is wrong is shown, never the value.
    #[error("{var}: {problem}")]
    InvalidSecret {
        /// The variable.
        var: &'static str,
        /// What is wrong with it and what is accepted.
        problem: String,
    },
    /// A variable that must be set because another one is.
    #[error(
        "{var}: required when {because} is set (set both, or neither to read chat anonymously)"
    )]
    Required {
        /// The missing variable.
        var: &'static str,
        /// The variable that is set.
        because: &'static str,
    },
}

impl SettingsError {
    pub(super) fn invalid(var: &'static str, value: &str, problem: impl Into<String>) -> Self {
        Self::Invalid {
            var,
            value: value.to_owned(),
            problem: problem.into(),
        }
    }

    pub(super) fn secret(var: &'static str, problem: impl Into<String>) -> Self {
        Self::InvalidSecret {
            var,
            problem: problem.into(),
        }
    }
}
