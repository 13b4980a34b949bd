//! `midgame cluster scheduler|executor`, and the client side of `--cluster`: Apache
//! DataFusion Ballista with midgame's functions and tables (crates/cluster), when the
//! binary was built with the `cluster` feature.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use crate::args::ClusterCommand;
#[cfg(feature = "cluster")]
use crate::config::Config;

#[cfg(not(feature = "cluster"))]
const NOT_BUILT: &str = "this midgame was built without the cluster feature: install it with `cargo install --locked --path crates/cli --features cluster` (README, Beyond one machine)";

/// Detection queries `detect --cluster` keeps in flight at once. Each stage of a
/// Ballista job waits for an executor's next poll and for its task reports, so one job
/// at a time leaves the executors mostly idle on a small lake.
pub(crate) const CONCURRENT_QUERIES: usize = 4;

/// The functions a cluster node registers: midgame's, and `geoip_*` when the config
/// names a database.
#[cfg(feature = "cluster")]
fn functions(config: Option<&Path>) -> anyhow::Result<Vec<Arc<midgame_cluster::ScalarUDF>>> {
    let cfg = Config::load_opt(config)?;
    let geoip = cfg.geoip()?.map(Arc::new);
    Ok(midgame_cluster::functions(geoip.as_ref()))
}

pub(crate) fn run(c: &ClusterCommand) -> anyhow::Result<ExitCode> {
    #[cfg(feature = "cluster")]
    {
        let rt = crate::runtime()?;
        match c {
            ClusterCommand::Scheduler(a) => {
                let args = midgame_cluster::SchedulerArgs {
                    bind: a.bind,
                    executor_timeout_secs: a.executor_timeout,
                    functions: functions(a.config.as_deref())?,
                };
                rt.block_on(midgame_cluster::run_scheduler(args))?;
            }
            ClusterCommand::Executor(a) => {
                let args = midgame_cluster::ExecutorArgs {
                    scheduler: a.scheduler,
                    bind: a.bind,
                    external_host: a
                        .external_host
                        .clone()
                        .unwrap_or_else(|| a.bind.ip().to_string()),
                    concurrent_tasks: a.concurrent_tasks,
                    heartbeat_secs: a.heartbeat.max(1),
                    work_dir: a.work_dir.clone(),
                    functions: functions(a.config.as_deref())?,
                };
                rt.block_on(midgame_cluster::run_executor(args))?;
            }
        }
        Ok(ExitCode::SUCCESS)
    }
    #[cfg(not(feature = "cluster"))]
    {
        let _ = c;
        anyhow::bail!(NOT_BUILT)
    }
}

/// A session over `lake` whose queries run on the cluster at `url`.
pub(crate) async fn connect(
    url: &str,
    lake: &Path,
    geoip: Option<&Arc<midgame_lake::geoip::GeoIp>>,
) -> anyhow::Result<midgame_detect::SessionContext> {
    #[cfg(feature = "cluster")]
    {
        let functions = midgame_cluster::functions(geoip);
        Ok(
            midgame_cluster::connect(url, lake, midgame_detect::session_config(), &functions)
                .await?,
        )
    }
    #[cfg(not(feature = "cluster"))]
    {
        let _ = (url, lake, geoip);
        anyhow::bail!(NOT_BUILT)
    }
}
