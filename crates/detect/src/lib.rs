//! DataFusion over the lake: every table registered as a partitioned listing table.
//!
//! Each table directory is a Hive-partitioned listing table (`date=YYYY-MM-DD`), so a
//! filter on `date` prunes whole directories, and every file is declared sorted by
//! `user, time_ms` (the lake writes them so), which lets per-user window functions skip
//! a sort.
//!
//! ```no_run
//! # async fn demo() -> Result<(), midgame_detect::DetectError> {
//! let ctx = midgame_detect::open_session("lake".as_ref()).await?;
//! let df = ctx.sql("SELECT user, count(*) FROM auth GROUP BY user").await?;
//! df.show().await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod alert_table;
mod alerts;
mod allowlist;
pub mod builtin;
pub mod catalog;
mod cluster;
pub mod config;
pub mod delivery;
mod detection;
mod functions;
mod incidents;
pub mod output;
pub mod sigma_fns;
pub mod slt;
mod store;
pub mod time;
mod views;

pub use alerts::{
    Alert, AlertContext, Findings, RunOptions, Suppressed, Unchained, chain, find_alerts,
    in_window, run_detections, run_loaded, stages_of, to_alerts,
};
pub use allowlist::{AllowEntry, register_allowlist};
pub use cluster::{Clustered, cluster, default_buckets};
/// The DataFusion session type, for callers that do not depend on DataFusion themselves.
pub use datafusion::prelude::{DataFrame, SessionContext};
/// A typed value for a query parameter.
pub use datafusion::scalar::ScalarValue;
pub use detection::{Detection, DetectionError, Param, ParamValue, Severity};
pub use functions::{
    FUNCTIONS, geoip_functions, haversine_km, register_functions, register_geoip, scalar_functions,
};
pub use incidents::{Incident, STAGES, TimelineEntry, correlate};
pub use views::{OCSF_VIEWS, VIEWS, register_views, tables_read};

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::logical_expr::col;
use datafusion::prelude::SessionConfig;
use midgame_lake::Layout;
use midgame_lake::layout::{PARTITION_COLUMN, sort_order};

/// What went wrong opening or querying the lake.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// The lake directory is missing or not a lake.
    #[error("{path}: not a midgame lake ({reason})")]
    NotALake {
        /// The directory.
        path: String,
        /// Why not.
        reason: String,
    },
    /// DataFusion refused a query or failed running it.
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// The lake's records cannot be read.
    #[error(transparent)]
    Lake(#[from] midgame_lake::LakeError),
    /// The lake's store cannot be set up.
    #[error(transparent)]
    Store(#[from] object_store::Error),
    /// Arrow data could not be converted (a bug, not bad input).
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
}

/// The schema a table's files are read with: strings as `Utf8View`, as DataFusion reads
/// Parquet strings by default (no cast on the hot path).
#[must_use]
pub fn read_schema(file_schema: &SchemaRef) -> SchemaRef {
    Arc::new(Schema::new(
        file_schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Utf8 => Field::new(f.name(), DataType::Utf8View, f.is_nullable()),
                _ => f.as_ref().clone(),
            })
            .collect::<Vec<_>>(),
    ))
}

/// A session configured for midgame: information schema on (`SHOW TABLES`, `\d`).
#[must_use]
pub fn session_config() -> SessionConfig {
    SessionConfig::new().with_information_schema(true)
}

/// Memory DataFusion may hold for query execution: `MIDGAME_MEMORY_LIMIT` (bytes, or with
/// a `K`, `M`, `G` suffix), else half of the machine's memory, else 4 GiB.
#[must_use]
pub fn memory_limit() -> usize {
    if let Ok(v) = std::env::var("MIDGAME_MEMORY_LIMIT")
        && let Some(bytes) = parse_bytes(&v)
    {
        return bytes;
    }
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<usize>().ok())
        })
        .map_or(4 << 30, |kb| kb * 1024 / 2)
}

fn parse_bytes(v: &str) -> Option<usize> {
    let v = v.trim();
    let (num, mult) = match v.char_indices().last()? {
        (i, 'k' | 'K') => (&v[..i], 1 << 10),
        (i, 'm' | 'M') => (&v[..i], 1 << 20),
        (i, 'g' | 'G') => (&v[..i], 1 << 30),
        _ => (v, 1),
    };
    num.trim().parse::<usize>().ok().map(|n| n * mult)
}

/// The execution runtime: a memory pool of [`memory_limit`] bytes that operators draw
/// from first come, first served (sorts and aggregations spill to the system's temporary
/// folder when it is full; hash joins cannot and fail with a clear error), so a
/// detection over 50M events stays within bounds instead of taking the machine. (A fair
/// pool, which splits the limit evenly between the spilling operators of a plan, failed
/// sorts that needed one large allocation while most of the pool was idle.)
///
/// # Errors
/// The runtime cannot be built (the temporary folder is unusable).
pub fn runtime_env() -> Result<Arc<datafusion::execution::runtime_env::RuntimeEnv>, DetectError> {
    use datafusion::execution::memory_pool::{GreedyMemoryPool, TrackConsumersPool};
    let pool = TrackConsumersPool::new(
        GreedyMemoryPool::new(memory_limit()),
        std::num::NonZeroUsize::new(5).expect("5 is not zero"),
    );
    Ok(datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(pool))
        .build_arc()?)
}

/// A DataFusion session with every lake table registered.
///
/// # Errors
/// `lake` is not a directory with a `_manifest` folder, or a table cannot be registered.
pub async fn open_session(lake: &Path) -> Result<SessionContext, DetectError> {
    open_session_with(lake, session_config()).await
}

/// [`open_session`] with a session configuration of the caller's (partitions, batch
/// size, memory limits).
///
/// # Errors
/// As [`open_session`].
pub async fn open_session_with(
    lake: &Path,
    config: SessionConfig,
) -> Result<SessionContext, DetectError> {
    let ctx = SessionContext::new_with_config_rt(config, runtime_env()?);
    register_lake(&ctx, lake).await?;
    Ok(ctx)
}

/// The lake's object store and the URL to register it under (`file://` for a folder,
/// `s3://bucket` for a lake on S3): it lists only the committed data files of the lake
/// at `lake` (an absolute path or `s3://bucket/prefix`) and checks each block read
/// (store.rs). A Ballista scheduler and its executors register it too (midgame-cluster).
///
/// # Errors
/// The lake's manifest cannot be read.
pub fn lake_store(
    lake: &Path,
) -> Result<(url::Url, Arc<dyn object_store::ObjectStore>), DetectError> {
    type Built = (url::Url, Arc<dyn object_store::ObjectStore>);
    /// The store last built for each lake on S3, with the records it was built from:
    /// a scheduler builds one per job and an executor one per session, and mirroring
    /// the records costs a request per record where checking them costs one listing.
    static REMOTE: std::sync::OnceLock<std::sync::Mutex<HashMap<String, (u128, Built)>>> =
        std::sync::OnceLock::new();
    if midgame_lake::remote_lake::is_remote_lake(lake) {
        let url = lake.to_string_lossy().into_owned();
        let version = midgame_lake::remote_lake::records_version(&url)?;
        let cache = REMOTE.get_or_init(std::sync::Mutex::default);
        if let Some((v, built)) = cache.lock().expect("not poisoned").get(&url)
            && *v == version
        {
            return Ok(built.clone());
        }
        let built = build_lake_store(lake)?;
        cache
            .lock()
            .expect("not poisoned")
            .insert(url, (version, built.clone()));
        return Ok(built);
    }
    build_lake_store(lake)
}

fn build_lake_store(
    lake: &Path,
) -> Result<(url::Url, Arc<dyn object_store::ObjectStore>), DetectError> {
    let source = store::Source::open(lake)?;
    let committed = source.committed()?;
    Ok((
        source.store_url.clone(),
        Arc::new(source.lake_store(committed)),
    ))
}

/// The table provider of one lake table: a clustered table (declared range partitions
/// on `user` when `range` is set, else a listing table of its buckets), a
/// day-partitioned listing table, or an empty table of the same columns when no source
/// has filled it yet.
fn table_provider(
    source: &store::Source,
    table: &midgame_schema::Table,
    clustered: Option<&Vec<String>>,
    range: bool,
) -> Result<Arc<dyn datafusion::datasource::TableProvider>, DetectError> {
    let dir = Layout::new(&source.records).table_dir(table.name);
    if !dir.is_dir() {
        // No source has filled this table yet: an empty table of the same columns,
        // so every detection still plans and finds nothing here.
        let mut fields: Vec<Field> = read_schema(&table.schema())
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(Field::new(PARTITION_COLUMN, DataType::Utf8, true));
        let schema = Arc::new(Schema::new(fields));
        return Ok(Arc::new(datafusion::datasource::MemTable::try_new(
            schema,
            vec![vec![]],
        )?));
    }
    // Day files written before the tie-breaker was added to the sort are in order
    // of user and time only: only clustered files (written since) declare all three.
    let keys = if clustered.is_some() { 3 } else { 2 };
    let sorted = vec![
        sort_order(table.name)[..keys]
            .iter()
            .map(|c| col(*c).sort(true, false))
            .collect(),
    ];
    let url = ListingTableUrl::parse(format!("{}/{}/", source.base, table.name))?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_file_sort_order(sorted);
    if let Some(split_points) = clustered {
        // A clustered table: `date` is a column of its files, and its buckets are
        // range partitions on `user` (cluster.rs).
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(read_schema(&midgame_lake::writer::clustered_schema(
                &table.schema(),
            )));
        let listing = ListingTable::try_new(config)?;
        if !range {
            return Ok(Arc::new(listing));
        }
        return Ok(Arc::new(cluster::ClusteredTable::new(
            listing,
            split_points.clone(),
        )));
    }
    let options =
        options.with_table_partition_cols(vec![(PARTITION_COLUMN.to_owned(), DataType::Utf8)]);
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(read_schema(&table.schema()));
    Ok(Arc::new(ListingTable::try_new(config)?))
}

/// Register the lake's tables in an existing session.
///
/// # Errors
/// A table cannot be registered.
pub async fn register_lake(ctx: &SessionContext, lake: &Path) -> Result<(), DetectError> {
    register_lake_with(ctx, lake, true).await
}

/// [`register_lake`]; a clustered table declares its buckets as range partitions on
/// `user` only when `range` is set. A Ballista cluster needs it off: Ballista 55 cannot
/// shuffle DataFusion's range partitioning (midgame-cluster).
///
/// # Errors
/// A table cannot be registered.
pub async fn register_lake_with(
    ctx: &SessionContext,
    lake: &Path,
    range: bool,
) -> Result<(), DetectError> {
    // A folder, or a lake on S3 whose records are mirrored here.
    let source = store::Source::open(lake)?;
    let layout = Layout::new(&source.records);
    // The tables read only the committed data files, each block checked (store.rs).
    let committed = source.committed()?;
    let committed_clusters = committed.clustered.clone();
    ctx.runtime_env()
        .register_object_store(&source.store_url, Arc::new(source.lake_store(committed)));
    for table in midgame_schema::Table::ALL {
        ctx.register_table(
            table.name,
            table_provider(&source, &table, committed_clusters.get(table.name), range)?,
        )?;
    }
    // The alert lifecycle table `midgame run` keeps, when there is one.
    if layout.alert_table().is_file() {
        ctx.register_parquet(
            "alerts",
            format!("{}/alerts/alerts.parquet", source.base),
            datafusion::prelude::ParquetReadOptions::default(),
        )
        .await?;
    }
    register_views(ctx).await?;
    register_functions(ctx);
    Ok(())
}
