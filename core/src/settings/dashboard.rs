//! `DASHBOARD_ADMINS` (SPEC "Operations settings"): the logins that see every tracked channel in
//! the dashboard, comma-separated, case-insensitive.

use crate::domain::Login;

/// The dashboard's settings of its own (its Twitch app credentials are the app's:
/// `TWITCH_CLIENT_ID`, `TWITCH_CLIENT_SECRET`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dashboard {
    /// `DASHBOARD_ADMINS`: logins that see every tracked channel.
    pub admins: Vec<Login>,
}

impl Dashboard {
    /// Parses `DASHBOARD_ADMINS` (unset: nobody); the error names the first bad item.
    pub(super) fn parse(admins: Option<&str>) -> Result<Self, String> {
        let mut out: Vec<Login> = Vec::new();
        for item in admins
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|i| !i.is_empty())
        {
            let login = Login::parse(item).map_err(|_| item.to_owned())?;
            if !out.contains(&login) {
                out.push(login);
            }
        }
        Ok(Self { admins: out })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admins_are_lower_cased_logins_without_duplicates() {
        let d = Dashboard::parse(Some(" Alice, bob,ALICE ,")).expect("valid");
        let names: Vec<&str> = d.admins.iter().map(Login::as_str).collect();
        assert_eq!(names, ["alice", "bob"]);
        assert_eq!(Dashboard::parse(None), Ok(Dashboard::default()));
        assert_eq!(
            Dashboard::parse(Some("alice,no way")),
            Err("no way".to_owned())
        );
    }
}
