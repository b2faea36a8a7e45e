//! The `nidan` server: configuration, the master key, and the web layer
//! (pages, JSON API) over [`nidan_core`]. Requests are parsed here, one
//! core operation is called, and its result rendered; nothing here decides
//! whether a code or password is right.
//!
//! # Layout
//! - [`config`]: the typed configuration (TOML file + `NIDAN_*` environment).
//! - [`keyfile`]: loading or creating the master key.
//! - [`web`]: the axum router, pages, API, errors, locale.

pub mod config;
pub mod keyfile;
pub mod web;

rust_i18n::i18n!("locales", fallback = "en");

use std::sync::Arc;

use nidan_core::{Nidan, SystemClock};
use nidan_store::SqlStore;

/// Builds the domain service from a configuration: connects to the
/// database (applying migrations) and loads or creates the master key.
pub async fn build(config: &config::Config) -> anyhow::Result<Arc<Nidan<SqlStore>>> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        anyhow::anyhow!(
            "could not create the data directory {}: {e}",
            config.data_dir.display()
        )
    })?;
    let store = SqlStore::connect(&config.database_url(), config.database_max_connections).await?;
    let key = keyfile::load_or_create(config)?;
    let permits = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
    Ok(Arc::new(Nidan::new(
        store,
        Arc::new(SystemClock),
        key,
        config.policy.clone(),
        permits,
    )?))
}
