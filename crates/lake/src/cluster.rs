//! Clustered tables: the layout the per-user detections read without sorting.
//!
//! A day-partitioned table is sorted within each file, but a user's rows are spread over
//! every day's file, so a query engine must sort the whole table again for every
//! `PARTITION BY user ORDER BY time_ms` window. Clustering rewrites a table into
//! buckets, each holding one range of users (`split_points[i-1] <= user <
//! split_points[i]`, null users in the last), one file per bucket, sorted by
//! [`crate::layout::sort_order`]:
//!
//! ```text
//! LAKE/auth/bucket=000/<id>.parquet     users before split_points[0]
//! LAKE/auth/bucket=001/<id>.parquet     split_points[0] <= user < split_points[1]
//! ...
//! ```
//!
//! The files keep every column and `date` (the UTC day) as a column of their own, so
//! the table reads the same. Readers declare the buckets to DataFusion as range
//! partitions on `user`, each ordered, so the windows need neither a repartition nor a
//! sort. After clustering, ingest splits new rows by the same split points into new
//! files beside the clustered ones (a bucket with several files is sorted again by the
//! engine until the next clustering folds them in).
//!
//! The rewrite itself (a sort of the whole table) is done by the query engine
//! (`midgame_detect::cluster`); this module commits it:
//!
//! 1. the new files are written into a staging copy of the table's folder under `_tmp/`;
//! 2. a record `_manifest/clustered/<id>.json` naming the committed files it replaces
//!    and the files it writes (with their checksums) commits them;
//! 3. the staging folder and the table's folder are swapped in one `renameat2`
//!    (`RENAME_EXCHANGE`): a reader lists either the old files or the new ones;
//! 4. the old files, now in the staging folder, are removed.
//!
//! Killed before 3, the table is as it was (the record's files never appear in place,
//! so it is never applied, and the next open clears the staging folder).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::integrity::DataFile;
use crate::{Lake, LakeError, io_err, read_dir_sorted};

/// The record of one clustering of a table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Clustering {
    /// The table.
    pub table: String,
    /// Unique per clustering (names its files).
    pub id: String,
    /// The first user of each bucket after the first, ascending: bucket `i` holds the
    /// users from `split_points[i-1]` (inclusive) to `split_points[i]` (exclusive), the
    /// last bucket also the rows without a user.
    pub split_points: Vec<String>,
    /// The committed data files it replaced, relative to the root.
    pub inputs: Vec<String>,
    /// The files it wrote, relative to the root, with their checksums.
    pub outputs: Vec<DataFile>,
    /// Rows written.
    pub rows: u64,
    /// When (RFC 3339 UTC).
    pub clustered_at: String,
}

impl Clustering {
    /// Number of buckets.
    #[must_use]
    pub fn buckets(&self) -> usize {
        self.split_points.len() + 1
    }
}

/// The bucket of `user` under `split_points` (null users go to the last).
#[must_use]
pub fn bucket_of_user(split_points: &[String], user: Option<&str>) -> usize {
    match user {
        Some(u) => split_points.partition_point(|s| s.as_str() <= u),
        None => split_points.len(),
    }
}

/// Split points that share `users` (each user with its row count, ascending by user)
/// into at most `buckets` ranges of about the same number of rows. Every user is in
/// exactly one range; fewer ranges come back when there are fewer users.
#[must_use]
pub fn split_points_for(users: &[(String, u64)], buckets: usize) -> Vec<String> {
    let total: u64 = users.iter().map(|(_, n)| n).sum();
    let buckets = buckets.max(1) as u64;
    let mut out = Vec::new();
    let mut seen = 0u64;
    for (u, n) in users {
        // Start a new bucket at this user when the rows before it have filled the
        // buckets so far.
        let next = out.len() as u64 + 1;
        if seen > 0 && next < buckets && seen * buckets >= next * total {
            out.push(u.clone());
        }
        seen += n;
    }
    out
}

impl Lake {
    /// The staging folder of clustering `id` of `table`: write its files as
    /// `bucket=NNN/<id>.parquet` under it, then [`Lake::commit_clustering`].
    ///
    /// # Errors
    /// The folder cannot be created.
    pub fn clustering_staging(&self, table: &str, id: &str) -> Result<PathBuf, LakeError> {
        let dir = self
            .layout
            .tmp_dir()
            .join(format!("cluster-{id}"))
            .join(table);
        fs_err::create_dir_all(&dir).map_err(io_err(&dir))?;
        Ok(dir)
    }

    /// Commit the files staged for clustering `id` of `table` (see the module's steps):
    /// they replace every committed file of the table.
    ///
    /// # Errors
    /// A file cannot be read, the record written, or the folders swapped; the table is
    /// then as it was.
    pub fn commit_clustering(
        &self,
        table: &str,
        id: &str,
        split_points: Vec<String>,
        rows: u64,
    ) -> Result<Clustering, LakeError> {
        let staged = self
            .layout
            .tmp_dir()
            .join(format!("cluster-{id}"))
            .join(table);
        let mut outputs = Vec::new();
        for bucket in read_dir_sorted(&staged)? {
            for f in read_dir_sorted(&bucket)? {
                let name = |p: &Path| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or_default()
                        .to_owned()
                };
                let rel = format!("{}/{}", name(&bucket), name(&f));
                crate::manifest::sync_file(&f)?;
                let mut sums = crate::integrity::checksum(&staged, &rel)?;
                sums.path = format!("{table}/{rel}");
                outputs.push(sums);
            }
        }
        crate::crashpoint("clustered files staged");
        let prefix = format!("{table}/");
        let inputs: Vec<String> = self
            .committed()?
            .files
            .into_keys()
            .filter(|f| f.starts_with(&prefix))
            .collect();
        let record = Clustering {
            table: table.to_owned(),
            id: id.to_owned(),
            split_points,
            inputs,
            outputs,
            rows,
            clustered_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        };
        let dir = self.layout.clustered_dir();
        fs_err::create_dir_all(&dir).map_err(io_err(&dir))?;
        let bytes = serde_json::to_vec_pretty(&record).expect("a record serialises");
        self.publish(&bytes, &dir.join(format!("{id}.json")))?;
        let table_dir = self.layout.table_dir(table);
        fs_err::create_dir_all(&table_dir).map_err(io_err(&table_dir))?;
        rustix::fs::renameat_with(
            rustix::fs::CWD,
            &staged,
            rustix::fs::CWD,
            &table_dir,
            rustix::fs::RenameFlags::EXCHANGE,
        )
        .map_err(|e| io_err(&table_dir)(e.into()))?;
        crate::crashpoint("table swapped");
        let staging = staged.parent().expect("the staging folder has a parent");
        fs_err::remove_dir_all(staging).map_err(io_err(staging))?;
        self.clusters
            .lock()
            .expect("not poisoned")
            .insert(table.to_owned(), record.split_points.clone());
        Ok(record)
    }

    /// Every clustering record.
    pub(crate) fn clusterings(&self) -> Result<Vec<Clustering>, LakeError> {
        crate::read_records(&self.layout.clustered_dir())
    }

    /// The split points new rows of `table` are written by, when it is clustered.
    pub(crate) fn split_points(&self, table: &str) -> Option<Vec<String>> {
        self.clusters
            .lock()
            .expect("not poisoned")
            .get(table)
            .cloned()
    }

    pub(crate) fn load_clusters(&self) -> Result<(), LakeError> {
        let current = self.committed()?.clustered;
        *self.clusters.lock().expect("not poisoned") = current;
        Ok(())
    }
}

/// The split points of the clusterings applied, by table (the newest of each).
pub(crate) type Clustered = BTreeMap<String, Vec<String>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_go_to_the_range_they_fall_in() {
        let sp = vec!["b".to_owned(), "d".to_owned()];
        assert_eq!(bucket_of_user(&sp, Some("a")), 0);
        assert_eq!(bucket_of_user(&sp, Some("b")), 1);
        assert_eq!(bucket_of_user(&sp, Some("c")), 1);
        assert_eq!(bucket_of_user(&sp, Some("d")), 2);
        assert_eq!(bucket_of_user(&sp, Some("zz")), 2);
        assert_eq!(bucket_of_user(&sp, None), 2);
        assert_eq!(bucket_of_user(&[], Some("a")), 0);
    }

    #[test]
    fn split_points_share_rows_evenly() {
        let users: Vec<(String, u64)> = (0..100).map(|i| (format!("u{i:03}"), 10)).collect();
        let sp = split_points_for(&users, 4);
        assert_eq!(sp, vec!["u025", "u050", "u075"]);
        // Never more buckets than users, and one user never splits.
        let two = vec![("a".to_owned(), 1000), ("b".to_owned(), 1)];
        assert_eq!(split_points_for(&two, 8), vec!["b"]);
        assert!(split_points_for(&two[..1], 8).is_empty());
        assert!(split_points_for(&[], 8).is_empty());
    }
}
