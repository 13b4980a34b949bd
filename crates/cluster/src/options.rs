//! The settings a Ballista session carries from the client to the scheduler and the
//! executors.

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::common::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::SessionConfig;

/// midgame's session settings (`midgame.*`).
///
/// Written out rather than with DataFusion's `extensions_options!`: the macro's entries
/// are named without their prefix (`lake`), and Ballista sends a session's settings to
/// the scheduler and the executors as its entries, where `lake` names no namespace and
/// is dropped. These entries carry the prefix (`midgame.lake`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MidgameOptions {
    /// The lake the session reads: an absolute path every node of the cluster sees, or
    /// `s3://bucket/prefix`.
    pub lake: String,
}

const LAKE_KEY: &str = "lake";

impl ExtensionOptions for MidgameOptions {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> datafusion::error::Result<()> {
        // DataFusion passes the key without the prefix; a full key is taken too.
        match key.strip_prefix("midgame.").unwrap_or(key) {
            LAKE_KEY => {
                value.clone_into(&mut self.lake);
                Ok(())
            }
            other => Err(DataFusionError::Configuration(format!(
                "midgame has no setting {other:?}"
            ))),
        }
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        vec![ConfigEntry {
            key: format!("{}.{LAKE_KEY}", Self::PREFIX),
            value: (!self.lake.is_empty()).then(|| self.lake.clone()),
            description: "The lake the session reads: an absolute path every node sees, or s3://bucket/prefix",
        }]
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
        tracing::debug!(lake = %lake.display(), %url, "registered the lake's store");
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

#[cfg(test)]
mod tests {
    use super::*;
    use ballista_core::extension::SessionConfigHelperExt;

    #[test]
    fn the_lake_survives_ballistas_trip_to_the_scheduler() {
        let client = config_producer().with_option_extension(MidgameOptions {
            lake: "s3://lakes/security".to_owned(),
        });
        // What the client sends, applied to what the scheduler starts each session from.
        let pairs = client.to_key_value_pairs();
        assert!(pairs.iter().any(|p| p.key == "midgame.lake"));
        let scheduler = config_producer().update_from_key_value_pair(&pairs);
        assert_eq!(
            lake_of(&scheduler),
            Some(PathBuf::from("s3://lakes/security"))
        );
        assert_eq!(lake_of(&config_producer()), None);
    }
}
