//! The command line (clap derive): every subcommand of the SPEC, parsed and validated. Logins
//! and durations are parsed here, so a bad one is a usage error (exit 2) before anything starts.

use std::path::PathBuf;
use std::time::Duration;

use chatters_core::domain::Login;
use clap::{Parser, Subcommand, ValueEnum};

/// chatters: a Twitch chat bot with embedded analytics.
///
/// Settings come from the environment (and `.env` when present); see README.md.
#[derive(Debug, Parser)]
#[command(name = "chatters", version, about, long_about)]
pub struct Cli {
    /// What to do; `run` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// A subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bot and the web endpoint in one process (the default).
    Run,
    /// Run the bot half only: chat ingestion (for scaling out).
    Bot,
    /// Run the web half only (for scaling out).
    Web,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage the tracked channels.
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Apikey(ApikeyCommand),
    /// Export a channel's chatters.
    Export(ExportArgs),
    /// Backfill from raw Twitch IRC logs (one raw line per line).
    ///
    /// Lines are raw IRC exactly as Twitch sends them, without a timestamp prefix. Times come
    /// from `tmi-sent-ts`; a line without one (JOIN, PART) takes the time of the last
    /// timestamped line before it in its file. A file already imported (same SHA-256) is
    /// refused.
    Import(ImportArgs),
    /// Sign the bot account in with Twitch (device code flow; needs only TWITCH_CLIENT_ID of a
    /// public application) and store its tokens in the database.
    Login,
    /// Check the setup: settings, database, Redis, token, Twitch, web and public address.
    ///
    /// Prints one line per check, ✓ or ✗ with the fix; exits 0 only when every check passes.
    Doctor,
    /// Copy the SQLite database to FILE while chatters runs (MariaDB: mariadb-dump,
    /// PostgreSQL: pg_dump; see README "Backups").
    Backup {
        /// Where to write the copy (must not exist).
        file: PathBuf,
    },
    /// Print a shell completion script (e.g. `chatters completions bash > /etc/bash_completion.d/chatters`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
}

/// Shells with completion scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// Bash.
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
}

/// `chatters channel …`.
#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    /// Track a channel (joined on every start).
    Add {
        /// Channel login, e.g. forsen.
        #[arg(value_parser = parse_login)]
        login: Login,
    },
    /// Stop tracking a channel (its history stays).
    Remove {
        /// Channel login.
        #[arg(value_parser = parse_login)]
        login: Login,
    },
    /// List the tracked channels: login, Twitch id (or -), date added.
    List,
    /// Set a per-channel setting (commands, webhooks, public page, known bots).
    Set {
        /// Channel login.
        #[arg(value_parser = parse_login)]
        login: Login,
        /// Setting name, e.g. bots.add.
        key: String,
        /// New value.
        value: String,
    },
}

/// `chatters apikey …`.
#[derive(Debug, Subcommand)]
pub enum ApikeyCommand {
    /// Create a key scoped to a channel; the key is printed alone on the last line.
    Create {
        /// Channel the key may read (repeat for several).
        #[arg(long, value_parser = parse_login, required = true)]
        channel: Vec<Login>,
        /// A note to recognise the key by in `apikey list`.
        #[arg(long)]
        label: Option<String>,
    },
    /// Revoke a key.
    Revoke {
        /// Key id, as listed.
        #[arg(value_parser = parse_key_id)]
        id: i64,
    },
    /// List keys (never the keys themselves).
    List,
}

/// `chatters export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Channel login.
    #[arg(long, value_parser = parse_login)]
    pub channel: Login,
    /// Start: RFC 3339, or a duration back from now (7d).
    #[arg(long, value_parser = parse_time_arg)]
    pub since: Option<String>,
    /// End: RFC 3339, or a duration back from now.
    #[arg(long, value_parser = parse_time_arg)]
    pub until: Option<String>,
    /// Output format.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Write to this file instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// JSON `{"chatters": [...]}`.
    Json,
}

/// `chatters import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Log files (plain or gzip) and directories (walked in path order, e.g. a justlog
    /// archive), one raw Twitch IRC line per line, optionally after an RFC 3339 time
    /// (`<time> <line>` or `[<time>] <line>`). Imported in the order given.
    #[arg(required = true, value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// Infer streams from chat activity, per channel: a silence of at least this long (e.g.
    /// 30m) separates two streams. Without it, imported lines belong to no stream.
    #[arg(long, value_name = "GAP", value_parser = parse_duration)]
    pub infer_streams: Option<Duration>,
}

impl Command {
    /// The name of a subcommand this version does not implement yet, if this is one.
    pub fn not_yet_available(&self) -> Option<&'static str> {
        match self {
            Command::Run
            | Command::Bot
            | Command::Web
            | Command::Migrate
            | Command::Channel(_)
            | Command::Apikey(_)
            | Command::Export(_)
            | Command::Import(_)
            | Command::Login
            | Command::Doctor
            | Command::Backup { .. }
            | Command::Completions { .. } => None,
        }
    }
}

fn parse_login(s: &str) -> Result<Login, String> {
    Login::parse(s).map_err(|_| "expected 1-25 characters of a-z, 0-9 or _".to_owned())
}

/// Checks a `--since`/`--until` value now (a usage error); it is read again, against the
/// clock, when the export starts.
fn parse_time_arg(s: &str) -> Result<String, String> {
    chatters_core::export::parse_time(s, chatters_core::domain::Timestamp::now())
        .map(|_| s.to_owned())
        .map_err(|e| e.to_string())
}

fn parse_key_id(s: &str) -> Result<i64, String> {
    match s.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err("expected a key id as shown by `chatters apikey list`".to_owned()),
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err("expected a duration greater than zero, e.g. 30m or 2h".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("chatters").chain(args.iter().copied()))
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn completions_take_a_known_shell() {
        for shell in ["bash", "zsh", "fish"] {
            assert!(parse(&["completions", shell]).is_ok(), "{shell}");
        }
        assert_eq!(
            parse(&["completions", "tcsh"])
                .expect_err("unknown shell")
                .exit_code(),
            2
        );
    }

    #[test]
    fn no_subcommand_means_run() {
        assert!(parse(&[]).expect("parses").command.is_none());
    }

    #[test]
    fn channel_logins_are_normalised() {
        let cli = parse(&["channel", "add", "#Forsen"]).expect("parses");

        match cli.command {
            Some(Command::Channel(ChannelCommand::Add { login })) => {
                assert_eq!(login.as_str(), "forsen");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn bad_logins_and_durations_are_usage_errors() {
        for args in [
            &["channel", "add", "bad login"][..],
            &["channel", "remove", "a-b"],
            &["apikey", "create", "--channel", "x y"],
            &["apikey", "create"],
            &["apikey", "revoke", "abc"],
            &["apikey", "revoke", "0"],
            &["import", "log.txt", "--infer-streams", "soon"],
            &["export", "--channel", "forsen", "--format", "xml"],
            &[
                "export",
                "--channel",
                "forsen",
                "--format",
                "csv",
                "--since",
                "soon",
            ],
            &[
                "export",
                "--channel",
                "forsen",
                "--format",
                "csv",
                "--until",
                "7",
            ],
        ] {
            let error = parse(args).expect_err("rejected");
            assert_eq!(error.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn apikey_create_takes_several_channels_and_a_label() {
        let cli = parse(&[
            "apikey",
            "create",
            "--channel",
            "#Forsen",
            "--channel",
            "xqc",
            "--label",
            "ci",
        ])
        .expect("parses");

        match cli.command {
            Some(Command::Apikey(ApikeyCommand::Create { channel, label })) => {
                let names: Vec<&str> = channel.iter().map(Login::as_str).collect();
                assert_eq!(names, ["forsen", "xqc"]);
                assert_eq!(label.as_deref(), Some("ci"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn later_subcommands_are_recognised_but_not_available() {
        let cases: [(&[&str], Option<&str>); 8] = [
            (&["channel", "set", "forsen", "bots.add", "x"], None),
            (&["apikey", "create", "--channel", "forsen"], None),
            (&["apikey", "revoke", "3"], None),
            (&["apikey", "list"], None),
            (
                &[
                    "export",
                    "--channel",
                    "forsen",
                    "--format",
                    "csv",
                    "-o",
                    "f.csv",
                ],
                None,
            ),
            (
                &["import", "a.log", "b.log", "--infer-streams", "30m"],
                None,
            ),
            (&["channel", "list"], None),
            (&["migrate"], None),
        ];
        for (args, expected) in cases {
            let command = parse(args).expect("parses").command.expect("subcommand");
            assert_eq!(command.not_yet_available(), expected, "{args:?}");
        }
    }
}
