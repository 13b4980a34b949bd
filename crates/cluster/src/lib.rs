//! midgame on an Apache DataFusion Ballista cluster: the scheduler and the executor
//! built with midgame's functions and lake tables, and the client session that sends the
//! detections' SQL to them.
//!
//! What travels: the client plans a query against the lake's tables and sends the
//! logical plan to the scheduler. Listing tables travel as DataFusion serializes them;
//! midgame's clustered tables and in-memory tables (the allow-list, materialised views)
//! travel through [`codec::MidgameCodec`]. The session's settings carry the lake's path
//! (`midgame.lake`, [`options::MidgameOptions`]): the scheduler lists the lake's tables,
//! and the executors read its files, through the lake's own object store, so a cluster
//! reads only committed data files with every block checked, as a local run does.
//! midgame's functions are registered in the scheduler's sessions and the executors'
//! function registry by name.

#![deny(missing_docs)]

pub mod client;
pub mod codec;
pub mod options;
pub mod server;

pub use client::connect;
pub use datafusion::logical_expr::ScalarUDF;
pub use server::{ExecutorArgs, SchedulerArgs, run_executor, run_scheduler};

/// A cluster could not be started or reached.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Ballista failed (binding, registering, a lost connection).
    #[error("{0}")]
    Ballista(String),
    /// The scheduler cannot be reached at the URL given.
    #[error("cannot reach the Ballista scheduler at {url}: {reason}")]
    Unreachable {
        /// The URL given (`df://HOST:PORT`).
        url: String,
        /// Why.
        reason: String,
    },
    /// The lake cannot be opened.
    #[error(transparent)]
    Detect(#[from] midgame_detect::DetectError),
    /// DataFusion refused the session.
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
}

impl From<ballista_core::error::BallistaError> for ClusterError {
    fn from(e: ballista_core::error::BallistaError) -> Self {
        Self::Ballista(e.to_string())
    }
}

/// midgame's functions for a remote session: the built-in ones and, with a GeoIP
/// database, the `geoip_*` ones.
#[must_use]
pub fn functions(
    geoip: Option<&std::sync::Arc<midgame_lake::geoip::GeoIp>>,
) -> Vec<std::sync::Arc<datafusion::logical_expr::ScalarUDF>> {
    let mut out = midgame_detect::scalar_functions();
    if let Some(db) = geoip {
        out.extend(midgame_detect::geoip_functions(db));
    }
    out.into_iter().map(std::sync::Arc::new).collect()
}
