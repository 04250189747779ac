//! `chatters backup <file>`: a consistent copy of the SQLite database, taken while chatters
//! runs (`VACUUM INTO`), readable by its owner only (it holds the bot's tokens). MariaDB and
//! PostgreSQL have their own tools; the error says which.

use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use anyhow::Context as _;
use chatters_core::settings::Settings;
use chatters_core::store::Backend;

/// Writes the copy to `file`, which must not exist.
pub async fn execute(file: &Path, settings: &Settings) -> anyhow::Result<()> {
    match settings.database_backend() {
        Backend::Sqlite => {}
        Backend::MySql => anyhow::bail!(
            "chatters backup copies SQLite databases only; for MariaDB use \
             `mariadb-dump --single-transaction <database> > {}` (see README \"Backups\")",
            file.display()
        ),
        Backend::Postgres => anyhow::bail!(
            "chatters backup copies SQLite databases only; for PostgreSQL use \
             `pg_dump --format=custom --file={} <database>` (see README \"Backups\")",
            file.display()
        ),
    }
    // Created empty first, owner only (the copy holds the bot's tokens); VACUUM INTO fills an
    // empty file.
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            anyhow::bail!("{} already exists (choose a new file)", file.display())
        }
        Err(e) => return Err(e).with_context(|| format!("creating {}", file.display())),
    }
    let copied = copy(file, settings).await;
    if copied.is_err() {
        // Nothing half-written is left behind.
        let _ = std::fs::remove_file(file);
    }
    copied?;
    crate::output::print_lines(&[format!("database copied to {}", file.display())])
}

async fn copy(file: &Path, settings: &Settings) -> anyhow::Result<()> {
    let store = crate::open::open_store(settings).await?;
    let copied = store
        .backup_sqlite(file)
        .await
        .context("the store is not SQLite")?;
    store.close().await;
    copied.with_context(|| format!("copying the database to {}", file.display()))
}
