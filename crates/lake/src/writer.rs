//! Buffering rows per (table, day) (per (table, bucket) for a clustered table) and
//! writing them as sorted, zstd Parquet files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch, StringBuilder, UInt32Array};
use arrow::compute::{
    SortColumn, SortOptions, concat_batches, lexsort_to_indices, take_record_batch,
};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;

use crate::layout::{PARTITION_COLUMN, sort_order};
use crate::{Lake, LakeError, Layout, io_err};

/// Rows per Parquet row group: small enough for DataFusion to split one file across
/// cores, large enough for good compression.
pub const ROW_GROUP_ROWS: usize = 256 * 1024;

/// Where a file's rows go: a day folder, or a bucket of a clustered table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    Day(i64),
    Bucket(usize),
}

#[derive(Default)]
struct Partition {
    batches: Vec<RecordBatch>,
    bytes: usize,
    seq: u32,
}

/// Rows of one input file on their way into the lake.
pub(crate) struct PartitionWriter<'a> {
    lake: &'a Lake,
    hash: &'a str,
    budget: usize,
    buffered: usize,
    parts: BTreeMap<(&'static str, Part), Partition>,
    /// The split points of each clustered table written to (`None`: by day).
    splits: BTreeMap<&'static str, Option<Vec<String>>>,
    /// Files written so far, relative to the lake root.
    pub(crate) written: Vec<String>,
}

impl<'a> PartitionWriter<'a> {
    pub(crate) fn new(lake: &'a Lake, hash: &'a str, budget: usize) -> Self {
        Self {
            lake,
            hash,
            budget,
            buffered: 0,
            parts: BTreeMap::new(),
            splits: BTreeMap::new(),
            written: Vec::new(),
        }
    }

    /// Buffer a batch of `table`, flushing the largest partitions when over budget.
    pub(crate) fn add(
        &mut self,
        table: &'static str,
        batch: &RecordBatch,
    ) -> Result<(), LakeError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let lake = self.lake;
        let splits = self
            .splits
            .entry(table)
            .or_insert_with(|| lake.split_points(table));
        let parts = match splits {
            Some(sp) => split_by_bucket(batch, sp),
            None => {
                split_by_day(batch).map(|v| v.into_iter().map(|(d, b)| (Part::Day(d), b)).collect())
            }
        }
        .map_err(|source| self.arrow_err(source))?;
        for (key, part) in parts {
            let bytes = part.get_array_memory_size();
            let p = self.parts.entry((table, key)).or_default();
            p.batches.push(part);
            p.bytes += bytes;
            self.buffered += bytes;
        }
        while self.buffered > self.budget {
            let Some((&key, _)) = self
                .parts
                .iter()
                .filter(|(_, p)| p.bytes > 0)
                .max_by_key(|(_, p)| p.bytes)
            else {
                break;
            };
            let p = self.parts.get_mut(&key).expect("key was just found");
            let batches = std::mem::take(&mut p.batches);
            self.buffered -= std::mem::take(&mut p.bytes);
            let seq = p.seq;
            p.seq += 1;
            let rel = self.write_file(key.0, key.1, seq, batches)?;
            self.written.push(rel);
        }
        Ok(())
    }

    /// Write every buffered partition (in parallel) and return all files written.
    pub(crate) fn finish(mut self) -> Result<Vec<String>, LakeError> {
        let work: Vec<_> = std::mem::take(&mut self.parts)
            .into_iter()
            .filter(|(_, p)| !p.batches.is_empty())
            .map(|(key, p)| (key, p.seq, p.batches))
            .collect();
        let results: Vec<Result<String, LakeError>> = work
            .into_par_iter()
            .map(|((table, part), seq, batches)| self.write_file(table, part, seq, batches))
            .collect();
        let mut written = std::mem::take(&mut self.written);
        for r in results {
            written.push(r?);
        }
        written.sort();
        Ok(written)
    }

    fn arrow_err(&self, source: arrow::error::ArrowError) -> LakeError {
        LakeError::Arrow {
            path: self.lake.root.clone(),
            source,
        }
    }

    fn write_file(
        &self,
        table: &'static str,
        part: Part,
        seq: u32,
        batches: Vec<RecordBatch>,
    ) -> Result<String, LakeError> {
        let name = format!("{}-{seq:04}.parquet", self.hash);
        let rel = match part {
            Part::Day(day) => Layout::data_file(table, day, &name),
            Part::Bucket(b) => Layout::bucket_file(table, b, &name),
        };
        let dest = self.lake.root.join(&rel);
        let schema = batches[0].schema();
        let all = concat_batches(&schema, &batches).map_err(|source| LakeError::Arrow {
            path: dest.clone(),
            source,
        })?;
        drop(batches);
        let sorted = sort_rows(table, &all).map_err(|source| LakeError::Arrow {
            path: dest.clone(),
            source,
        })?;
        drop(all);
        let dir = dest.parent().expect("a partition file has a directory");
        fs_err::create_dir_all(dir).map_err(io_err(dir))?;
        let tmp = self.lake.tmp_path(&dest);
        write_parquet(table, &tmp, &sorted)?;
        crate::manifest::sync_file(&tmp)?;
        crate::crashpoint("data file written to _tmp");
        fs_err::rename(&tmp, &dest).map_err(io_err(&dest))?;
        crate::crashpoint("data file renamed into place");
        Ok(rel)
    }
}

/// Split a batch into one batch per UTC day of its `time_ms` column.
fn split_by_day(batch: &RecordBatch) -> Result<Vec<(i64, RecordBatch)>, arrow::error::ArrowError> {
    let times = batch
        .column_by_name("time_ms")
        .expect("every lake table has time_ms")
        .as_primitive::<Int64Type>();
    let first = midgame_schema::epoch_day(times.value(0));
    if times
        .values()
        .iter()
        .all(|t| midgame_schema::epoch_day(*t) == first)
    {
        return Ok(vec![(first, batch.clone())]);
    }
    let mut by_day: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
    for (i, t) in times.values().iter().enumerate() {
        by_day
            .entry(midgame_schema::epoch_day(*t))
            .or_default()
            .push(u32::try_from(i).expect("a batch has fewer than 2^32 rows"));
    }
    by_day
        .into_iter()
        .map(|(day, idx)| Ok((day, take_record_batch(batch, &UInt32Array::from(idx))?)))
        .collect()
}

/// The columns of a clustered table's files: the table's, and `date` (the UTC day of
/// `time`, `YYYY-MM-DD`), which a day-partitioned table has in its folder names.
#[must_use]
pub fn clustered_schema(table_schema: &SchemaRef) -> SchemaRef {
    let mut fields: Vec<Field> = table_schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new(PARTITION_COLUMN, DataType::Utf8, false));
    Arc::new(Schema::new_with_metadata(
        fields,
        table_schema.metadata().clone(),
    ))
}

/// Split a batch into one batch per bucket of `split_points` (by its `user`), each with
/// its `date` column added.
fn split_by_bucket(
    batch: &RecordBatch,
    split_points: &[String],
) -> Result<Vec<(Part, RecordBatch)>, arrow::error::ArrowError> {
    let users = batch
        .column_by_name("user")
        .expect("every lake table has user")
        .as_string::<i32>();
    let mut by_bucket: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
    for i in 0..batch.num_rows() {
        let user = arrow::array::Array::is_valid(users, i).then(|| users.value(i));
        by_bucket
            .entry(crate::bucket_of_user(split_points, user))
            .or_default()
            .push(u32::try_from(i).expect("a batch has fewer than 2^32 rows"));
    }
    by_bucket
        .into_iter()
        .map(|(b, idx)| {
            let part = take_record_batch(batch, &UInt32Array::from(idx))?;
            Ok((Part::Bucket(b), with_date(&part)?))
        })
        .collect()
}

/// `batch` with its `date` column.
fn with_date(batch: &RecordBatch) -> Result<RecordBatch, arrow::error::ArrowError> {
    let times = batch
        .column_by_name("time_ms")
        .expect("every lake table has time_ms")
        .as_primitive::<Int64Type>();
    // One day's text is formatted once: a batch holds few days.
    let mut days: BTreeMap<i64, String> = BTreeMap::new();
    let mut dates = StringBuilder::with_capacity(times.len(), times.len() * 10);
    for t in times.values() {
        let day = midgame_schema::epoch_day(*t);
        dates.append_value(
            days.entry(day)
                .or_insert_with(|| midgame_schema::day_string(day)),
        );
    }
    let dates = dates.finish();
    let mut columns = batch.columns().to_vec();
    columns.push(Arc::new(dates));
    RecordBatch::try_new(clustered_schema(&batch.schema()), columns)
}

/// Sort rows by the table's [`sort_order`], then line (a total order for rows of one
/// file).
pub(crate) fn sort_rows(
    table: &str,
    batch: &RecordBatch,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let asc = Some(SortOptions {
        descending: false,
        nulls_first: false,
    });
    let columns: Vec<SortColumn> = sort_order(table)
        .iter()
        .chain(&["line"])
        .map(|name| SortColumn {
            values: Arc::clone(
                batch
                    .column_by_name(name)
                    .expect("lake tables have the sort columns and line"),
            ),
            options: asc,
        })
        .collect();
    let indices = lexsort_to_indices(&columns, None)?;
    take_record_batch(batch, &indices)
}

/// How the lake writes a data file of `table` with these columns: zstd(3), row groups of
/// [`ROW_GROUP_ROWS`], the sort order recorded, no dictionary for near-unique columns.
#[must_use]
pub fn writer_properties(table: &str, schema: &Schema) -> WriterProperties {
    let idx = |name: &str| {
        i32::try_from(
            schema
                .index_of(name)
                .expect("lake tables have user and time_ms"),
        )
        .expect("few columns")
    };
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("3 is a valid zstd level"),
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_sorting_columns(Some(
            sort_order(table)
                .iter()
                .map(|name| SortingColumn {
                    column_idx: idx(name),
                    descending: false,
                    nulls_first: false,
                })
                .collect(),
        ));
    // Nearly every value is distinct: a dictionary would only be tried and thrown away.
    for col in ["raw", "time_ms", "time"] {
        if schema.column_with_name(col).is_some() {
            props = props.set_column_dictionary_enabled(ColumnPath::from(col), false);
        }
    }
    props.build()
}

pub(crate) fn write_parquet(
    table: &str,
    path: &Path,
    batch: &RecordBatch,
) -> Result<(), LakeError> {
    let parquet_err = |source| LakeError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let file = fs_err::File::create(path).map_err(io_err(path))?;
    let mut writer = ArrowWriter::try_new(
        file,
        batch.schema(),
        Some(writer_properties(table, &batch.schema())),
    )
    .map_err(parquet_err)?;
    writer.write(batch).map_err(parquet_err)?;
    writer.close().map_err(parquet_err)?;
    Ok(())
}

impl Lake {
    /// A unique temporary path for a file that will be renamed to `dest`.
    pub(crate) fn tmp_path(&self, dest: &Path) -> PathBuf {
        use std::sync::atomic::{AtomicU64, Ordering};
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let name = dest.file_name().and_then(|n| n.to_str()).unwrap_or("file");
        self.layout.tmp_dir().join(format!(
            "{}-{}-{name}.tmp",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Array;
    use midgame_schema::{AuthBuilder, AuthRow};

    #[test]
    fn rows_split_by_utc_day() {
        // Times near the epoch: the door's window is not what is tested here.
        let mut b = AuthBuilder::with_capacity(3).with_door(midgame_schema::Door {
            earliest_ms: i64::MIN,
            latest_ms: i64::MAX,
        });
        for t in [86_400_000 - 1, 86_400_000, 10] {
            b.append(&AuthRow {
                time_ms: t,
                source: "okta",
                provenance: midgame_schema::Provenance {
                    file: "f",
                    ..Default::default()
                },
                ..AuthRow::default()
            })
            .unwrap();
        }
        let parts = split_by_day(&b.finish()).unwrap();
        assert_eq!(
            parts
                .iter()
                .map(|(d, b)| (*d, b.num_rows()))
                .collect::<Vec<_>>(),
            vec![(0, 2), (1, 1)]
        );
    }

    #[test]
    fn sorted_by_user_then_time_with_nulls_last() {
        // Times near the epoch: the door's window is not what is tested here.
        let mut b = AuthBuilder::with_capacity(4).with_door(midgame_schema::Door {
            earliest_ms: i64::MIN,
            latest_ms: i64::MAX,
        });
        for (user, t) in [(Some("b"), 1), (None, 0), (Some("a"), 5), (Some("a"), 2)] {
            b.append(&AuthRow {
                time_ms: t,
                user,
                source: "okta",
                provenance: midgame_schema::Provenance {
                    file: "f",
                    ..Default::default()
                },
                ..AuthRow::default()
            })
            .unwrap();
        }
        let sorted = sort_rows("auth", &b.finish()).unwrap();
        let users = sorted.column_by_name("user").unwrap().as_string::<i32>();
        let got: Vec<Option<&str>> = (0..4)
            .map(|i| users.is_valid(i).then(|| users.value(i)))
            .collect();
        assert_eq!(got, vec![Some("a"), Some("a"), Some("b"), None]);
        let times = sorted
            .column_by_name("time_ms")
            .unwrap()
            .as_primitive::<Int64Type>();
        assert_eq!(times.values()[..2], [2, 5]);
    }
}
