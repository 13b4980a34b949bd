//! Clustered tables in the engine: reading them as range partitions on `user`, each
//! in the order the per-user windows ask for, and writing them (`midgame compact`).
//!
//! A clustered table's files sit in `bucket=NNN` folders, one range of users each (see
//! `midgame_lake::Clustering`). The scan is the listing table's, with its files
//! regrouped: file group `i` is bucket `i`, declared to DataFusion as range
//! partitioning on `user` with the table's split points. A `PARTITION BY user` window
//! is then satisfied partition by partition (no repartition), and with one file per
//! bucket the files' order (`user, time_ms, src_ip`) is kept, so `ORDER BY time_ms,
//! src_ip` needs no sort either. A bucket with several files (rows ingested since the
//! clustering) loses the declared order; DataFusion checks that itself from the files'
//! statistics and sorts those partitions, until `midgame compact` merges them.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::{ScalarValue, SplitPoint};
use datafusion::datasource::listing::ListingTable;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::{LexOrdering, Partitioning, PhysicalSortExpr, RangePartitioning};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::expressions::col as physical_col;
use futures::StreamExt;
use midgame_lake::layout::{CLUSTER_COLUMN, sort_order};
use midgame_lake::{Clustering, Lake, Layout};

use crate::DetectError;

/// A clustered table: the listing table's scan, its files grouped by bucket and
/// declared range-partitioned on `user`.
#[derive(Debug)]
pub(crate) struct ClusteredTable {
    inner: ListingTable,
    split_points: Vec<String>,
}

impl ClusteredTable {
    pub(crate) fn new(inner: ListingTable, split_points: Vec<String>) -> Self {
        Self {
            inner,
            split_points,
        }
    }

    /// The scan with file group `i` = bucket `i`, declared range-partitioned; `None`
    /// when the plan is not a plain file scan (then it is used as it is: correct, and
    /// the engine repartitions).
    fn regroup(&self, plan: &Arc<dyn ExecutionPlan>) -> Option<Arc<dyn ExecutionPlan>> {
        let exec = plan.downcast_ref::<DataSourceExec>()?;
        let config = exec.data_source().downcast_ref::<FileScanConfig>()?;
        let buckets = self.split_points.len() + 1;
        let mut groups: Vec<Vec<_>> = vec![Vec::new(); buckets];
        for file in config.file_groups.iter().flat_map(|g| g.iter()) {
            let bucket = Layout::bucket_of(file.object_meta.location.as_ref())?;
            groups.get_mut(bucket)?.push(file.clone());
        }
        for g in &mut groups {
            g.sort_by(|a, b| a.object_meta.location.cmp(&b.object_meta.location));
        }
        let schema = config.file_source.table_schema().table_schema();
        let key = PhysicalSortExpr::new(
            physical_col(CLUSTER_COLUMN, schema).ok()?,
            arrow::compute::SortOptions {
                descending: false,
                nulls_first: false,
            },
        );
        let split_points = self
            .split_points
            .iter()
            .map(|s| SplitPoint::new(vec![ScalarValue::Utf8View(Some(s.clone()))]))
            .collect();
        let range = RangePartitioning::try_new(LexOrdering::new(vec![key])?, split_points).ok()?;
        let mut config = config.clone();
        config.file_groups = groups.into_iter().map(FileGroup::new).collect();
        config.output_partitioning = Some(Partitioning::Range(range));
        Some(DataSourceExec::from_data_source(config))
    }
}

#[async_trait::async_trait]
impl TableProvider for ClusteredTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let plan = self.inner.scan(state, projection, filters, limit).await?;
        Ok(self.regroup(&plan).unwrap_or(plan))
    }
}

/// How a clustering went, per table.
#[derive(Debug, Clone)]
pub struct Clustered {
    /// The record committed.
    pub record: Clustering,
    /// Files it replaced.
    pub inputs: usize,
}

/// The number of buckets `midgame compact` makes by default: one per core, more when
/// the lake is large (a bucket of about two million rows), at most 256.
#[must_use]
pub fn default_buckets(rows: u64) -> usize {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let by_size = usize::try_from(rows.div_ceil(2_000_000)).unwrap_or(256);
    cores.max(by_size).clamp(1, 256)
}

/// Rewrite every table of the lake into `buckets` ranges of users (the same split
/// points for every table, so joins on `user` line up), each bucket one file sorted by
/// the table's order, and commit it (see `midgame_lake::Clustering`). The rewrite is
/// DataFusion's sort, within the session's memory limit (it spills).
///
/// # Errors
/// The lake cannot be read or written, or the rows written are not the rows read; the
/// table concerned is then as it was.
pub async fn cluster(lake: &Lake, buckets: Option<usize>) -> Result<Vec<Clustered>, DetectError> {
    let ctx = crate::open_session(lake.root()).await?;
    let mut users: Vec<(String, u64)> = Vec::new();
    let mut total = 0u64;
    let batches = ctx
        .sql(
            "SELECT user, count(*) AS n FROM \
             (SELECT user FROM auth UNION ALL SELECT user FROM admin) \
             WHERE user IS NOT NULL GROUP BY user ORDER BY user",
        )
        .await?
        .collect()
        .await?;
    for b in &batches {
        let u = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8)?;
        let u = arrow::array::AsArray::as_string::<i32>(&u);
        let n = arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(b.column(1));
        for i in 0..b.num_rows() {
            let count = u64::try_from(n.value(i)).unwrap_or(0);
            total += count;
            users.push((u.value(i).to_owned(), count));
        }
    }
    let buckets = buckets.unwrap_or_else(|| default_buckets(total));
    let split_points = midgame_lake::split_points_for(&users, buckets);
    let committed = lake.committed()?;
    let mut out = Vec::new();
    for table in midgame_schema::Table::ALL {
        let prefix = format!("{}/", table.name);
        let inputs = committed
            .files
            .keys()
            .filter(|f| f.starts_with(&prefix))
            .count();
        if inputs == 0 {
            continue;
        }
        let record = cluster_table(&ctx, lake, &table, &split_points).await?;
        out.push(Clustered { record, inputs });
    }
    Ok(out)
}

async fn cluster_table(
    ctx: &datafusion::prelude::SessionContext,
    lake: &Lake,
    table: &midgame_schema::Table,
    split_points: &[String],
) -> Result<Clustering, DetectError> {
    use datafusion::prelude::{col, lit};
    let id = format!(
        "k{:031x}",
        xxhash_rust::xxh3::xxh3_128(
            format!(
                "{}\0{}",
                table.name,
                chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
            )
            .as_bytes()
        ) >> 4
    );
    let staging = lake.clustering_staging(table.name, &id)?;
    let file_schema = midgame_lake::writer::clustered_schema(&table.schema());
    let expected: i64 = {
        let b = ctx
            .sql(&format!("SELECT count(*) FROM {}", table.name))
            .await?
            .collect()
            .await?;
        arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(b[0].column(0)).value(0)
    };
    let columns: Vec<Expr> = file_schema.fields().iter().map(|f| col(f.name())).collect();
    let order: Vec<_> = sort_order(table.name)
        .iter()
        .chain(&["line"])
        .map(|c| col(*c).sort(true, false))
        .collect();
    let mut rows = 0u64;
    for bucket in 0..=split_points.len() {
        let user = col(CLUSTER_COLUMN);
        let lower = bucket
            .checked_sub(1)
            .map(|i| user.clone().gt_eq(lit(split_points[i].as_str())));
        let upper = split_points
            .get(bucket)
            .map(|s| user.clone().lt(lit(s.as_str())));
        let filter = match (lower, upper) {
            (Some(l), Some(u)) => Some(l.and(u)),
            (None, Some(u)) => Some(u),
            (Some(l), None) => Some(l.or(user.is_null())),
            (None, None) => None,
        };
        let mut df = ctx.table(table.name).await?;
        if let Some(f) = filter {
            df = df.filter(f)?;
        }
        let mut stream = df
            .select(columns.clone())?
            .sort(order.clone())?
            .execute_stream()
            .await?;
        let dir = staging.join(Layout::bucket_name(bucket));
        let path = dir.join(format!("{id}.parquet"));
        let mut writer: Option<parquet::arrow::ArrowWriter<std::fs::File>> = None;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            if batch.num_rows() == 0 {
                continue;
            }
            let columns = batch
                .columns()
                .iter()
                .zip(file_schema.fields())
                .map(|(c, f)| arrow::compute::cast(c, f.data_type()))
                .collect::<Result<Vec<_>, _>>()?;
            let batch = arrow::array::RecordBatch::try_new(Arc::clone(&file_schema), columns)?;
            if writer.is_none() {
                fs_err::create_dir_all(&dir).map_err(|e| lake_io(&dir, e))?;
                let file = fs_err::File::create(&path).map_err(|e| lake_io(&path, e))?;
                writer = Some(
                    parquet::arrow::ArrowWriter::try_new(
                        file.into_file(),
                        Arc::clone(&file_schema),
                        Some(midgame_lake::writer::writer_properties(
                            table.name,
                            &file_schema,
                        )),
                    )
                    .map_err(|e| parquet_err(&path, e))?,
                );
            }
            rows += batch.num_rows() as u64;
            writer
                .as_mut()
                .expect("just created")
                .write(&batch)
                .map_err(|e| parquet_err(&path, e))?;
        }
        if let Some(w) = writer {
            w.close().map_err(|e| parquet_err(&path, e))?;
        }
    }
    if i64::try_from(rows).ok() != Some(expected) {
        return Err(DetectError::DataFusion(
            datafusion::error::DataFusionError::Execution(format!(
                "clustering {}: wrote {rows} rows of {expected}; nothing committed",
                table.name
            )),
        ));
    }
    Ok(lake.commit_clustering(table.name, &id, split_points.to_vec(), rows)?)
}

fn lake_io(path: &std::path::Path, source: std::io::Error) -> DetectError {
    DetectError::Lake(midgame_lake::LakeError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn parquet_err(path: &std::path::Path, source: parquet::errors::ParquetError) -> DetectError {
    DetectError::Lake(midgame_lake::LakeError::Parquet {
        path: path.to_path_buf(),
        source,
    })
}
