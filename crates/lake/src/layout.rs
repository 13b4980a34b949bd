//! Every path of the lake, named in one place.
//!
//! ```text
//! LAKE/<table>/date=YYYY-MM-DD/<content-hash>-NNNN.parquet   a day's rows, by sort_order
//! LAKE/<table>/bucket=NNN/<name>.parquet                     a clustered table: one range
//!                                                            of users, by sort_order
//! LAKE/_manifest/<content-hash>.json                         one per ingested file
//! LAKE/_manifest/compacted/<id>.json                         one per compaction
//! LAKE/_manifest/clustered/<id>.json                         one per clustering of a table
//! LAKE/_quarantine/<content-hash>.ndjson                     a file's bad records
//! LAKE/_tmp/                                                 files being written
//! LAKE/_lock                                                 held by the one writer
//! LAKE/alerts/alerts.parquet                                 the alert lifecycle table
//! LAKE/alerts/outbox/<generation>-<time>.ndjson              changes not yet delivered
//! ```
//!
//! Readers (the DataFusion session, the scheduled run) and the writer use these names;
//! no other module spells them.

use std::path::{Path, PathBuf};

/// The order of the rows in every data file of `table`: by user, then time, then the
/// column the detections' per-user windows break ties on (`src_ip` for `auth`, `action`
/// for `admin`). Declared to the query engine so that `PARTITION BY user ORDER BY
/// time_ms, src_ip` reads the files as they are. Rows equal in all three are ordered by
/// line.
#[must_use]
pub fn sort_order(table: &str) -> [&'static str; 3] {
    match table {
        "admin" => ["user", "time_ms", "action"],
        _ => ["user", "time_ms", "src_ip"],
    }
}

/// The column a clustered table's files are split on: each file holds one range of it.
pub const CLUSTER_COLUMN: &str = "user";

/// The folder prefix of a clustered table's buckets (`bucket=007`).
pub const BUCKET_PREFIX: &str = "bucket=";

/// The Hive partition column of every table: the UTC day of `time` (`YYYY-MM-DD`).
pub const PARTITION_COLUMN: &str = "date";

const MANIFEST_DIR: &str = "_manifest";
const COMPACTED_DIR: &str = "compacted";
const CLUSTERED_DIR: &str = "clustered";
const QUARANTINE_DIR: &str = "_quarantine";
const TMP_DIR: &str = "_tmp";
const LOCK_FILE: &str = "_lock";
const ALERTS_DIR: &str = "alerts";
const ALERT_TABLE_FILE: &str = "alerts.parquet";
const OUTBOX_DIR: &str = "outbox";

/// The paths of one lake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout of the lake at `root`.
    #[must_use]
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The lake's root directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether `root` holds a lake (it has a manifest folder).
    #[must_use]
    pub fn is_lake(&self) -> bool {
        self.manifest_dir().is_dir()
    }

    /// One sentence for a user who pointed at a folder that is not a lake.
    #[must_use]
    pub fn not_a_lake_reason() -> String {
        format!("no {MANIFEST_DIR} directory; create it with `midgame ingest --lake DIR ...`")
    }

    /// The folder of the manifest entries.
    #[must_use]
    pub fn manifest_dir(&self) -> PathBuf {
        self.root.join(MANIFEST_DIR)
    }

    /// The manifest entry of the file with this content hash.
    #[must_use]
    pub fn manifest_entry(&self, hash: &str) -> PathBuf {
        self.manifest_dir().join(format!("{hash}.json"))
    }

    /// The folder of compaction records.
    #[must_use]
    pub fn compacted_dir(&self) -> PathBuf {
        self.manifest_dir().join(COMPACTED_DIR)
    }

    /// The folder of clustering records.
    #[must_use]
    pub fn clustered_dir(&self) -> PathBuf {
        self.manifest_dir().join(CLUSTERED_DIR)
    }

    /// Where data nothing committed is moved (never read, never deleted by midgame).
    #[must_use]
    pub fn orphans_dir(&self) -> PathBuf {
        self.root.join("_orphans")
    }

    /// The folder of quarantined records.
    #[must_use]
    pub fn quarantine_dir(&self) -> PathBuf {
        self.root.join(QUARANTINE_DIR)
    }

    /// The quarantine file of the file with this content hash.
    #[must_use]
    pub fn quarantine_file(&self, hash: &str) -> PathBuf {
        self.quarantine_dir().join(format!("{hash}.ndjson"))
    }

    /// The folder of files being written.
    #[must_use]
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join(TMP_DIR)
    }

    /// The writer's lock file.
    #[must_use]
    pub fn lock_file(&self) -> PathBuf {
        self.root.join(LOCK_FILE)
    }

    /// A table's folder.
    #[must_use]
    pub fn table_dir(&self, table: &str) -> PathBuf {
        self.root.join(table)
    }

    /// The partition folder name of a day (days since 1970-01-01, UTC).
    #[must_use]
    pub fn partition_name(day: i64) -> String {
        format!("{PARTITION_COLUMN}={}", midgame_schema::day_string(day))
    }

    /// A data file's path relative to the root: `<table>/date=YYYY-MM-DD/<name>`.
    #[must_use]
    pub fn data_file(table: &str, day: i64, name: &str) -> String {
        format!("{table}/{}/{name}", Self::partition_name(day))
    }

    /// The folder of bucket `bucket` of a clustered table, relative to the table's folder.
    #[must_use]
    pub fn bucket_name(bucket: usize) -> String {
        format!("{BUCKET_PREFIX}{bucket:03}")
    }

    /// A clustered table's data file, relative to the root: `<table>/bucket=NNN/<name>`.
    #[must_use]
    pub fn bucket_file(table: &str, bucket: usize, name: &str) -> String {
        format!("{table}/{}/{name}", Self::bucket_name(bucket))
    }

    /// The bucket of a clustered table's data file, from its path (`None` for a day file).
    #[must_use]
    pub fn bucket_of(path: &str) -> Option<usize> {
        path.split('/')
            .find_map(|seg| seg.strip_prefix(BUCKET_PREFIX))
            .and_then(|n| n.parse().ok())
    }

    /// The folders that [`crate::Lake::open`] creates besides the tables.
    #[must_use]
    pub fn working_dirs(&self) -> [PathBuf; 3] {
        [self.manifest_dir(), self.quarantine_dir(), self.tmp_dir()]
    }

    /// The alert lifecycle table of scheduled runs.
    #[must_use]
    pub fn alert_table(&self) -> PathBuf {
        self.root.join(ALERTS_DIR).join(ALERT_TABLE_FILE)
    }

    /// The folder of committed changes not yet delivered.
    #[must_use]
    pub fn outbox_dir(&self) -> PathBuf {
        self.root.join(ALERTS_DIR).join(OUTBOX_DIR)
    }

    /// The lock one delivery of the outbox holds (not the lake's: a slow webhook does not
    /// keep the next run from ingesting).
    #[must_use]
    pub fn delivery_lock(&self) -> PathBuf {
        self.root.join(ALERTS_DIR).join(".delivery.lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_under_the_root() {
        let l = Layout::new("/lake");
        assert_eq!(l.manifest_entry("ab"), Path::new("/lake/_manifest/ab.json"));
        assert_eq!(l.compacted_dir(), Path::new("/lake/_manifest/compacted"));
        assert_eq!(
            l.quarantine_file("ab"),
            Path::new("/lake/_quarantine/ab.ndjson")
        );
        assert_eq!(l.alert_table(), Path::new("/lake/alerts/alerts.parquet"));
        assert_eq!(l.outbox_dir(), Path::new("/lake/alerts/outbox"));
        assert_eq!(
            Layout::data_file("auth", 19_208, "x-0000.parquet"),
            "auth/date=2022-08-04/x-0000.parquet"
        );
        assert_eq!(
            Layout::bucket_file("auth", 7, "x.parquet"),
            "auth/bucket=007/x.parquet"
        );
        assert_eq!(Layout::bucket_of("auth/bucket=007/x.parquet"), Some(7));
        assert_eq!(Layout::bucket_of("auth/date=2022-08-04/x.parquet"), None);
        assert_eq!(sort_order("admin")[2], "action");
    }
}
