//! The settings a Ballista session carries from the client to the scheduler and the
//! executors.

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::common::config::ConfigExtension;
use datafusion::common::extensions_options;
use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::SessionConfig;

extensions_options! {
    /// midgame's session settings (`midgame.*`).
    pub struct MidgameOptions {
        /// The lake the session reads: an absolute path every node of the cluster sees, or
        /// `s3://bucket/prefix`.
        pub lake: String, default = String::new()
    }
}

impl ConfigExtension for MidgameOptions {
    const PREFIX: &'static str = "midgame";
}

/// The lake a session reads, when it names one.
#[must_use]
pub fn lake_of(config: &SessionConfig) -> Option<PathBuf> {
    config
        .options()
        .extensions
        .get::<MidgameOptions>()
        .map(|o| o.lake.clone())
        .filter(|l| !l.is_empty())
        .map(PathBuf::from)
}

/// Register, in `runtime`, the lake's store (for `file://`, or `s3://bucket` for a lake on
/// S3) when the session names a lake:
/// listings show only its committed data files, and each block read is checked.
///
/// # Errors
/// The lake's manifest cannot be read.
pub fn register_lake_store(
    config: &SessionConfig,
    runtime: &Arc<RuntimeEnv>,
) -> Result<(), DataFusionError> {
    if let Some(lake) = lake_of(config) {
        let (url, store) = midgame_detect::lake_store(&lake)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        runtime.register_object_store(&url, store);
    }
    Ok(())
}

/// A session config that knows `midgame.*` and Ballista's settings: what the scheduler
/// and the executors start each session from before the client's values are applied.
#[must_use]
pub fn config_producer() -> SessionConfig {
    use ballista_core::extension::SessionConfigExt;
    SessionConfig::new_with_ballista()
        .with_option_extension(MidgameOptions::default())
        .with_ballista_logical_extension_codec(Arc::new(crate::codec::MidgameCodec::default()))
}
