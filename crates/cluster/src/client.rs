//! The client side: a session whose queries run on a Ballista cluster.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::SessionContextExt;
use ballista_core::extension::SessionConfigExt;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::ClusterError;
use crate::codec::MidgameCodec;
use crate::options::MidgameOptions;

/// `HOST:PORT` of a `df://HOST:PORT` URL (the scheme Ballista's clients use).
fn host_port(url: &str) -> Result<(String, u16), ClusterError> {
    let bad = |reason: &str| ClusterError::Unreachable {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = url::Url::parse(url).map_err(|e| bad(&format!("not a URL: {e}")))?;
    if parsed.scheme() != "df" {
        return Err(bad("the URL must be df://HOST:PORT"));
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| bad("the URL names no host"))?
        .trim_matches(['[', ']'])
        .to_owned();
    Ok((host, parsed.port().unwrap_or(50050)))
}

/// A session over the lake at `lake` whose queries run on the Ballista cluster at `url`
/// (`df://HOST:PORT`): the same tables, views and functions as a local session. `lake`
/// must be a path the scheduler and every executor see.
///
/// # Errors
/// `url` is not a `df://` URL or nothing listens there, or the lake cannot be opened.
pub async fn connect(
    url: &str,
    lake: &Path,
    config: SessionConfig,
    functions: &[Arc<datafusion::logical_expr::ScalarUDF>],
) -> Result<SessionContext, ClusterError> {
    let (host, port) = host_port(url)?;
    // Ballista connects lazily, at the first query: find out now, with one clear error.
    let addr = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| ClusterError::Unreachable {
            url: url.to_owned(),
            reason: e.to_string(),
        })?
        .next()
        .ok_or_else(|| ClusterError::Unreachable {
            url: url.to_owned(),
            reason: "the host name has no address".to_owned(),
        })?;
    match tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::TcpStream::connect(addr),
    )
    .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            return Err(ClusterError::Unreachable {
                url: url.to_owned(),
                reason: e.to_string(),
            });
        }
        Err(_) => {
            return Err(ClusterError::Unreachable {
                url: url.to_owned(),
                reason: "no answer within 10 s".to_owned(),
            });
        }
    }
    let root = if midgame_lake::remote_lake::is_remote_lake(lake) {
        lake.to_path_buf()
    } else {
        std::path::absolute(lake).map_err(|e| midgame_detect::DetectError::NotALake {
            path: lake.display().to_string(),
            reason: e.to_string(),
        })?
    };
    let options = MidgameOptions {
        lake: root.display().to_string(),
    };
    let config = config
        .with_option_extension(options)
        .with_ballista_logical_extension_codec(Arc::new(MidgameCodec::default()))
        // Ballista 55's adaptive planner re-planned a stage of a detection without end
        // (tens of thousands of tasks of one job over sample-logs): the static planner.
        .with_ballista_adaptive_query_planner(false)
        // DataFusion's dynamic join filters, built at planning, make Ballista's scheduler
        // fail a stage ("Cannot swap HashJoinExec inputs after dynamic filters have been
        // constructed") and then wait on it for ever: off, as a static plan needs.
        .set_bool("datafusion.optimizer.enable_dynamic_filter_pushdown", false);
    let state = SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .with_runtime_env(midgame_detect::runtime_env()?)
        .build();
    let ctx = SessionContext::remote_with_state(&format!("df://{host}:{port}"), state).await?;
    // Ballista's session keeps only DataFusion's functions: midgame's go on after.
    for f in functions {
        ctx.register_udf(f.as_ref().clone());
    }
    // A clustered table's buckets are not declared as range partitions here: Ballista
    // 55 cannot shuffle DataFusion's range partitioning ("not yet mapped onto Ballista's
    // range shuffle") and restricts each task's scan to its own buckets, which breaks
    // the declaration ("Can not create InterleaveExec", data_staging over a clustered
    // lake). The cluster reads them as listing tables and repartitions by hash.
    midgame_detect::register_lake_with(&ctx, &root, false).await?;
    Ok(ctx)
}
