//! Detections tested in sqllogictest files (`queries/tests/*.slt`), the format
//! DataFusion's own SQL is tested with.
//!
//! A test file starts from empty `auth`, `admin` and `allowlisted_ip` tables, inserts the
//! rows of a story (`INSERT INTO auth (time, user, ...) VALUES ...`) and queries each
//! detection as a view of the same name, with its default parameters:
//!
//! ```text
//! statement ok
//! INSERT INTO auth (time, activity, outcome, user, src_ip, geo_lat, geo_lon) VALUES
//!   ('2022-08-04T09:00:00Z', 'Logon', 'success', 'jdoe@acme.test', '203.0.113.5', 37.77, -122.42),
//!   ('2022-08-04T09:40:00Z', 'Logon', 'success', 'jdoe@acme.test', '164.92.190.17', 52.37, 4.90)
//!
//! query TT
//! SELECT user, alert_key FROM impossible_travel
//! ----
//! jdoe@acme.test 203.0.113.5>164.92.190.17@1659606000000
//! ```
//!
//! To keep stories short every column may be left out: `time_ms` is computed from
//! `time`, `source` defaults to `test`, `outcome` to `success`, the OCSF ids to 0 and
//! `file`/`line` to `test.slt`/0. The shared views (`signins`, ...) see the rows exactly as
//! the detections do.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{Expr, lit};
use datafusion::prelude::SessionContext;
use sqllogictest::{DBOutput, DefaultColumnType};

use crate::{Detection, DetectionError, VIEWS, read_schema, register_views, session_config};

/// The writable test table of a lake table: every column nullable, plus `date`.
fn input_table(table: &midgame_schema::Table) -> datafusion::error::Result<MemTable> {
    let mut fields: Vec<Field> = read_schema(&table.schema())
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    fields.push(Field::new(
        midgame_lake::layout::PARTITION_COLUMN,
        DataType::Utf8,
        true,
    ));
    let schema = Arc::new(Schema::new(fields));
    let defaults: HashMap<String, Expr> = [
        ("source", lit("test")),
        ("class_uid", lit(0_i32)),
        ("activity_id", lit(0_i32)),
        ("event_type", lit("")),
        ("activity", lit("")),
        ("outcome", lit("success")),
        ("action", lit("")),
        ("file", lit("test.slt")),
        ("line", lit(0_i64)),
    ]
    .into_iter()
    .filter(|(name, _)| schema.field_with_name(name).is_ok())
    .map(|(name, e)| (name.to_owned(), e))
    .collect();
    Ok(MemTable::try_new(schema, vec![vec![]])?.with_column_defaults(defaults))
}

/// A session for `.slt` files: empty writable tables, the shared views, and every
/// detection of `queries` as a view named by its id (default parameters).
///
/// # Errors
/// A detection file is bad or does not plan.
pub async fn test_session(queries: &Path) -> Result<SessionContext, DetectionError> {
    let qerr = |source| DetectionError::Query {
        path: queries.to_path_buf(),
        source,
    };
    // The test writes into `front`; detections are planned in `back`, where `auth` and
    // `admin` are views over the same tables with `time_ms` filled in from `time`.
    let front = SessionContext::new_with_config(session_config());
    let back = SessionContext::new_with_config(session_config());
    for table in midgame_schema::Table::ALL {
        let input = Arc::new(input_table(&table).map_err(qerr)?);
        front
            .register_table(table.name, input.clone())
            .map_err(qerr)?;
        let hidden = format!("{}_input", table.name);
        back.register_table(hidden.as_str(), input).map_err(qerr)?;
        let columns: Vec<String> = table
            .schema()
            .fields()
            .iter()
            .map(|f| match f.name().as_str() {
                "time_ms" => "coalesce(time_ms, CAST(time AS BIGINT)) AS time_ms".to_owned(),
                name => format!("\"{name}\""),
            })
            .chain(std::iter::once(
                midgame_lake::layout::PARTITION_COLUMN.to_owned(),
            ))
            .collect();
        back.sql(&format!(
            "CREATE VIEW {} AS SELECT {} FROM {hidden}",
            table.name,
            columns.join(", ")
        ))
        .await
        .map_err(qerr)?;
    }
    let allow_schema = Arc::new(Schema::new(vec![
        Field::new("ip", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, true),
    ]));
    let allow = Arc::new(MemTable::try_new(allow_schema, vec![vec![]]).map_err(qerr)?);
    front
        .register_table("allowlisted_ip", allow.clone())
        .map_err(qerr)?;
    back.register_table("allowlisted_ip", allow).map_err(qerr)?;
    register_views(&back).await.map_err(qerr)?;
    crate::register_functions(&front);
    crate::register_functions(&back);
    for (name, _, _) in VIEWS {
        let view = back.table(*name).await.map_err(qerr)?.into_view();
        front.register_table(*name, view).map_err(qerr)?;
    }
    for d in Detection::load_dir(queries)? {
        let values = d.bind(&BTreeMap::new())?;
        let df = d.plan(&back, &values).await?;
        front
            .register_table(d.id.as_str(), df.into_view())
            .map_err(|source| DetectionError::Query {
                path: d.path.clone(),
                source,
            })?;
    }
    Ok(front)
}

/// One connection of the sqllogictest runner: a test session.
pub struct SltDb {
    ctx: SessionContext,
}

fn is_query(sql: &str) -> bool {
    let first = sql
        .trim_start_matches(|c: char| c.is_whitespace() || c == '(')
        .split(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    matches!(
        first.as_str(),
        "SELECT" | "WITH" | "VALUES" | "SHOW" | "DESCRIBE" | "EXPLAIN"
    )
}

fn rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, DataFusionError> {
    let opts = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for b in batches {
        let formatters = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts))
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..b.num_rows() {
            out.push(
                formatters
                    .iter()
                    .map(|f| match f.value(row).to_string() {
                        s if s.is_empty() => "(empty)".to_owned(),
                        s => s,
                    })
                    .collect(),
            );
        }
    }
    Ok(out)
}

#[async_trait::async_trait]
impl sqllogictest::AsyncDB for SltDb {
    type Error = DataFusionError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, DataFusionError> {
        let batches = self.ctx.sql(sql).await?.collect().await?;
        if is_query(sql) {
            let width = batches.first().map_or(0, RecordBatch::num_columns);
            Ok(DBOutput::Rows {
                types: vec![DefaultColumnType::Any; width],
                rows: rows(&batches)?,
            })
        } else {
            let count = batches
                .first()
                .and_then(|b| {
                    b.column(0)
                        .as_any()
                        .downcast_ref::<arrow::array::UInt64Array>()
                })
                .map_or(0, |c| c.value(0));
            Ok(DBOutput::StatementComplete(count))
        }
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "midgame"
    }
}

/// Run one `.slt` file against the detections of `queries`.
///
/// # Errors
/// The session cannot be built, or a record of the file fails (the message names the
/// file and line, and shows expected and actual rows).
pub async fn run_slt_file(path: &Path, queries: &Path) -> Result<(), String> {
    let ctx = test_session(queries).await.map_err(|e| e.to_string())?;
    let mut runner = sqllogictest::Runner::new(move || {
        let ctx = ctx.clone();
        async move { Ok::<_, DataFusionError>(SltDb { ctx }) }
    });
    runner
        .run_file_async(path)
        .await
        .map_err(|e| format!("{}: {}", e.location(), e.display(false)))
}

/// The `.slt` files under `dir` (sorted).
///
/// # Errors
/// The directory cannot be read.
pub fn slt_files(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    Ok(files)
}
