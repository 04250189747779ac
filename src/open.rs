//! Opens the store the way every subcommand needs it: from `DATABASE_URL`, migrated, with errors
//! that name the host and never the password.

use std::sync::Arc;

use anyhow::Context as _;
use chatters_core::settings::Settings;
use chatters_core::store::{self, Backend, ConnectOptions, Store, StoreError};
use secrecy::ExposeSecret as _;

/// Opens the database named by `DATABASE_URL` (an SQLite file is created when missing) and
/// applies the migrations. Errors name the host, never the password.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<Store>> {
    open_store_with(settings, &ConnectOptions::default()).await
}

/// [`open_store`] with other connection options.
pub async fn open_store_with(
    settings: &Settings,
    options: &ConnectOptions,
) -> anyhow::Result<Arc<Store>> {
    let url = settings.database_url.expose_secret();
    let backend = settings.database_backend();
    let host = store::url_host(url);
    let store = match store::open(url, options).await {
        Ok(store) => store,
        // Already names the host.
        Err(error @ StoreError::Unreachable { .. }) => {
            return Err(error).context("opening the database");
        }
        Err(error) => {
            return Err(error).with_context(|| {
                format!("opening the {} database at {host}", backend_name(backend))
            });
        }
    };
    if let Err(error) = store.migrate().await {
        store.close().await;
        return Err(error).context("applying the database migrations");
    }
    tracing::debug!(?backend, %host, "database ready");
    Ok(store)
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SQLite",
        Backend::MySql => "MariaDB/MySQL",
        Backend::Postgres => "PostgreSQL",
    }
}
