//! Merging a partition's small files into one, atomically.
//!
//! Every ingest writes its own files, so an hourly run leaves a day's partition with two
//! dozen small files per table. Compaction reads them, sorts the rows by user and time
//! again, and writes one file:
//!
//! 1. the merged file is written into a staging copy of the partition folder under
//!    `_tmp/`;
//! 2. a record `_manifest/compacted/<id>.json` naming the inputs commits the merged
//!    file's name (the lake keeps only data files whose name a commit record knows);
//! 3. the staging folder and the partition folder are swapped in one `renameat2`
//!    (`RENAME_EXCHANGE`), so a reader lists either the old files or the new one, never
//!    both and never neither;
//! 4. the old files, now in the staging folder, are removed.
//!
//! A run killed before 3 leaves the partition as it was (the staging folder is cleared by
//! the next open); killed after 3, it leaves the merged partition and a staging folder to
//! clear.

use std::path::{Path, PathBuf};

use arrow::compute::concat_batches;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::{Deserialize, Serialize};

use crate::{Lake, LakeError, io_err, read_dir_sorted};

/// The record of one compaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compaction {
    /// The table.
    pub table: String,
    /// The partition folder (`date=2022-08-04`).
    pub partition: String,
    /// The files merged.
    pub inputs: Vec<String>,
    /// The file written.
    pub output: String,
    /// Rows in it.
    pub rows: u64,
    /// Its length and block checksums (absent in records written before they were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_data: Option<crate::integrity::DataFile>,
    /// When (RFC 3339 UTC).
    pub compacted_at: String,
}

impl Lake {
    /// Merge every partition of every table that has at least `min_files` files.
    ///
    /// # Errors
    /// A file cannot be read or written; the partition concerned is left as it was.
    pub fn compact(&self, min_files: usize) -> Result<Vec<Compaction>, LakeError> {
        let mut done = Vec::new();
        for table in midgame_schema::Table::ALL {
            for part in read_dir_sorted(&self.table_dir(table.name))? {
                if !part.is_dir() {
                    continue;
                }
                let files: Vec<PathBuf> = read_dir_sorted(&part)?
                    .into_iter()
                    .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
                    .collect();
                if files.len() >= min_files.max(2) {
                    done.push(self.compact_partition(table.name, &part, &files)?);
                }
            }
        }
        Ok(done)
    }

    fn compact_partition(
        &self,
        table: &str,
        part: &Path,
        files: &[PathBuf],
    ) -> Result<Compaction, LakeError> {
        let names: Vec<String> = files
            .iter()
            .filter_map(|f| f.file_name().and_then(|n| n.to_str()).map(str::to_owned))
            .collect();
        let partition = part
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        // The partition is part of the id: the buckets of a clustered table hold files
        // of the same names (one ingest writes `<hash>-0000.parquet` into each), and two
        // compactions of one id would share one record, the second replacing the first.
        let id = format!(
            "c{:031x}",
            xxhash_rust::xxh3::xxh3_128(
                format!("{table}\0{partition}\0{}", names.join("\0")).as_bytes()
            ) >> 4
        );
        let mut batches = Vec::new();
        for f in files {
            let file = fs_err::File::open(f).map_err(io_err(f))?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(file.into_file())
                .and_then(|b| b.build())
                .map_err(|source| LakeError::Parquet {
                    path: f.clone(),
                    source,
                })?;
            for b in reader {
                batches.push(b.map_err(|source| LakeError::Arrow {
                    path: f.clone(),
                    source,
                })?);
            }
        }
        let schema = batches
            .first()
            .map(arrow::array::RecordBatch::schema)
            .unwrap_or_else(|| match table {
                "admin" => midgame_schema::admin_schema(),
                _ => midgame_schema::auth_schema(),
            });
        let arrow_err = |source| LakeError::Arrow {
            path: part.to_path_buf(),
            source,
        };
        let all = concat_batches(&schema, &batches).map_err(arrow_err)?;
        drop(batches);
        let sorted = crate::writer::sort_rows(table, &all).map_err(arrow_err)?;
        drop(all);
        let rows = sorted.num_rows() as u64;

        let staging = self.layout.tmp_dir().join(format!("compact-{id}"));
        let staged_part = staging.join(&partition);
        fs_err::create_dir_all(&staged_part).map_err(io_err(&staged_part))?;
        let output = format!("{id}-0000.parquet");
        let staged_file = staged_part.join(&output);
        crate::writer::write_parquet(table, &staged_file, &sorted)?;
        crate::manifest::sync_file(&staged_file)?;
        crate::crashpoint("compacted file staged");
        let mut sums = crate::integrity::checksum(&staged_part, &output)?;
        sums.path = format!("{table}/{partition}/{output}");
        let record = Compaction {
            table: table.to_owned(),
            partition: partition.clone(),
            inputs: names,
            output: output.clone(),
            rows,
            output_data: Some(sums),
            compacted_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        };
        let dir = self.layout.compacted_dir();
        fs_err::create_dir_all(&dir).map_err(io_err(&dir))?;
        let bytes = serde_json::to_vec_pretty(&record).expect("a record serialises");
        self.publish(&bytes, &dir.join(format!("{id}.json")))?;
        rustix::fs::renameat_with(
            rustix::fs::CWD,
            &staged_part,
            rustix::fs::CWD,
            part,
            rustix::fs::RenameFlags::EXCHANGE,
        )
        .map_err(|e| io_err(part)(e.into()))?;
        crate::crashpoint("partition swapped");
        fs_err::remove_dir_all(&staging).map_err(io_err(&staging))?;
        Ok(record)
    }
}
