//! One JSON entry per ingested file: what was read and what it produced.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Lake, LakeError, io_err, read_dir_sorted};

/// The record of one ingested file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    /// Path as it was given when ingested.
    pub path: String,
    /// Size in bytes (as stored, compressed or not) when it was read.
    pub size: u64,
    /// xxh3-128, hex, of the file's bytes up to `end` (of the whole file when `end` is
    /// absent): the identity of what was read.
    pub hash: String,
    /// First byte read: past 0 when a grown file was read on from an earlier entry.
    #[serde(default)]
    pub start: u64,
    /// Byte after the last one read, for plain files (a compressed file is read whole).
    #[serde(default)]
    pub end: Option<u64>,
    /// The file's modification time then (ms since the epoch): with `path` and `size`,
    /// lets a run pass over an unchanged file without reading it.
    #[serde(default)]
    pub mtime_ms: Option<i64>,
    /// Earliest event time of its rows (ms since the epoch).
    #[serde(default)]
    pub min_time_ms: Option<i64>,
    /// Latest event time of its rows.
    #[serde(default)]
    pub max_time_ms: Option<i64>,
    /// Commit order: entries past a run's last detected sequence are what it has not yet
    /// run detections over.
    #[serde(default)]
    pub seq: u64,
    /// Source kind used to parse it.
    pub source: String,
    /// Rows written to `auth`.
    pub auth_rows: u64,
    /// Rows written to `admin`.
    pub admin_rows: u64,
    /// Records quarantined.
    pub quarantined: u64,
    /// Records read but needed by no table.
    pub skipped: u64,
    /// Data files written, relative to the lake root (as written: `midgame compact` may
    /// since have merged them; `_manifest/compacted/` records what into what).
    pub files: Vec<String>,
    /// Each data file's length and block checksums, as committed (absent in lakes
    /// written before checksums were recorded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<crate::integrity::DataFile>,
    /// When it was ingested (RFC 3339 UTC).
    pub ingested_at: String,
}

impl Lake {
    fn entry_path(&self, hash: &str) -> PathBuf {
        self.layout.manifest_entry(hash)
    }

    /// The entry of the file with this content hash, if it was ingested.
    ///
    /// # Errors
    /// The entry exists but cannot be read or parsed.
    pub fn manifest_entry(&self, hash: &str) -> Result<Option<ManifestEntry>, LakeError> {
        let path = self.entry_path(hash);
        match fs_err::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| LakeError::Manifest { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    /// Every manifest entry, in hash order.
    ///
    /// # Errors
    /// An entry cannot be read or parsed.
    pub fn manifest(&self) -> Result<Vec<ManifestEntry>, LakeError> {
        crate::read_records(&self.layout.manifest_dir())
    }

    pub(crate) fn committed_hashes(&self) -> Result<HashSet<String>, LakeError> {
        Ok(read_dir_sorted(&self.layout.manifest_dir())?
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_owned))
            .collect())
    }

    /// Commit a file: number its entry and write it atomically.
    pub(crate) fn commit(&self, entry: &mut ManifestEntry) -> Result<(), LakeError> {
        entry.seq = self
            .next_seq
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let bytes = serde_json::to_vec_pretty(entry).expect("a manifest entry always serialises");
        self.publish(&bytes, &self.entry_path(&entry.hash))
    }

    /// Write `bytes` to `dest` through a temporary file and a rename.
    ///
    /// # Errors
    /// The temporary file cannot be written or renamed.
    pub fn publish(&self, bytes: &[u8], dest: &Path) -> Result<(), LakeError> {
        let tmp = self.tmp_path(dest);
        fs_err::write(&tmp, bytes).map_err(io_err(&tmp))?;
        sync_file(&tmp)?;
        crate::crashpoint("written to _tmp");
        fs_err::rename(&tmp, dest).map_err(io_err(dest))?;
        crate::crashpoint("renamed into place");
        Ok(())
    }

    /// The highest sequence number committed so far (0 for an empty lake).
    #[must_use]
    pub fn last_seq(&self) -> u64 {
        self.next_seq
            .load(std::sync::atomic::Ordering::SeqCst)
            .saturating_sub(1)
    }
}

pub(crate) fn sync_file(path: &Path) -> Result<(), LakeError> {
    fs_err::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io_err(path))
}
