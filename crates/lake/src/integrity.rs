//! What the lake holds, by its own records: the committed data files (each with its
//! length and a checksum of every 1 MiB block, recorded when it was committed), the files
//! on disk that nothing committed (orphans, moved aside and never read), and a check of
//! every committed file against its record.
//!
//! Readers list the committed files, not the folders: a file an ingest wrote and never
//! committed, or one copied into a partition, is not read; a block that does not match
//! its checksum is an error naming the file, never different rows.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Lake, LakeError, io_err};

/// Size of a checksummed block.
pub const BLOCK_BYTES: u64 = 1 << 20;

/// A committed data file: where, how long, and the checksum of each block.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DataFile {
    /// Relative to the lake's root (`auth/date=2022-08-04/<hash>-0000.parquet`).
    pub path: String,
    /// Length in bytes.
    pub len: u64,
    /// xxh3-64 (hex) of each [`BLOCK_BYTES`] block, the last one shorter.
    pub blocks: Vec<String>,
}

/// The checksum of one block.
#[must_use]
pub fn block_sum(bytes: &[u8]) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(bytes))
}

/// Record the length and block checksums of the data file at `rel` under `root`.
///
/// # Errors
/// The file cannot be read.
pub fn checksum(root: &Path, rel: &str) -> Result<DataFile, LakeError> {
    let path = root.join(rel);
    let mut f = fs_err::File::open(&path).map_err(io_err(&path))?;
    let mut blocks = Vec::new();
    let mut len = 0u64;
    let mut buf = vec![0u8; usize::try_from(BLOCK_BYTES).unwrap_or(1 << 20)];
    loop {
        let n = read_full(&mut f, &mut buf).map_err(io_err(&path))?;
        if n == 0 {
            break;
        }
        blocks.push(block_sum(&buf[..n]));
        len += n as u64;
        if n < buf.len() {
            break;
        }
    }
    Ok(DataFile {
        path: rel.to_owned(),
        len,
        blocks,
    })
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A compaction or clustering: the files it read, the files it wrote (with their
/// records), and the clustering record when it is one.
type Rewrite = (
    Vec<String>,
    Vec<(String, Option<DataFile>)>,
    Option<crate::Clustering>,
);

/// The committed data files of the lake, relative path to record (`None` for files
/// committed before checksums were recorded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Committed {
    /// Every committed file.
    pub files: BTreeMap<String, Option<DataFile>>,
    /// The clustered tables, with the split points of their buckets (see
    /// [`crate::Clustering`]).
    pub clustered: BTreeMap<String, Vec<String>>,
}

impl Lake {
    /// The committed data files: those of every manifest entry, with each compaction
    /// and clustering applied whose files are in place (before the folder is swapped they
    /// are staged elsewhere, and their inputs are still the committed ones) or were
    /// since merged by a later one.
    ///
    /// # Errors
    /// The manifest or a compaction record cannot be read.
    pub fn committed(&self) -> Result<Committed, LakeError> {
        let mut files: BTreeMap<String, Option<DataFile>> = BTreeMap::new();
        for e in self.manifest()? {
            let sums: BTreeMap<&str, &DataFile> =
                e.data.iter().map(|d| (d.path.as_str(), d)).collect();
            for f in &e.files {
                files.insert(f.clone(), sums.get(f.as_str()).map(|d| (*d).clone()));
            }
        }
        // Every rewrite, as (inputs, outputs, clustering).
        let mut pending: Vec<Rewrite> = Vec::new();
        for c in self.compactions()? {
            let dir = format!("{}/{}", c.table, c.partition);
            pending.push((
                c.inputs.iter().map(|i| format!("{dir}/{i}")).collect(),
                vec![(format!("{dir}/{}", c.output), c.output_data.clone())],
                None,
            ));
        }
        for c in self.clusterings()? {
            pending.push((
                c.inputs.clone(),
                c.outputs
                    .iter()
                    .map(|o| (o.path.clone(), Some(o.clone())))
                    .collect(),
                Some(c),
            ));
        }
        // A file a later rewrite read was in place when it did.
        let consumed: BTreeSet<String> = pending.iter().flat_map(|p| p.0.clone()).collect();
        let mut clustered: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
        // A rewrite can merge an earlier one's output: apply until nothing changes.
        loop {
            let before = pending.len();
            pending.retain(|(inputs, outputs, clustering)| {
                let ready = outputs
                    .iter()
                    .all(|(o, _)| consumed.contains(o) || self.root.join(o).is_file())
                    && inputs.iter().all(|i| files.contains_key(i));
                if ready {
                    for i in inputs {
                        files.remove(i);
                    }
                    files.extend(outputs.iter().cloned());
                    if let Some(c) = clustering {
                        let newer = clustered
                            .get(&c.table)
                            .is_none_or(|(at, _)| *at < c.clustered_at);
                        if newer {
                            clustered.insert(
                                c.table.clone(),
                                (c.clustered_at.clone(), c.split_points.clone()),
                            );
                        }
                    }
                }
                !ready
            });
            if pending.len() == before {
                break;
            }
        }
        Ok(Committed {
            files,
            clustered: clustered.into_iter().map(|(t, (_, sp))| (t, sp)).collect(),
        })
    }

    /// Every compaction record.
    fn compactions(&self) -> Result<Vec<crate::Compaction>, LakeError> {
        crate::read_records(&self.layout.compacted_dir())
    }

    /// Data files in the tables' partitions that nothing committed.
    ///
    /// # Errors
    /// A folder cannot be listed, or the manifest read.
    pub fn orphans(&self) -> Result<Vec<PathBuf>, LakeError> {
        let committed = self.committed()?;
        let mut out = Vec::new();
        for table in midgame_schema::Table::ALL {
            for f in self.data_files(table.name)? {
                if !committed.files.contains_key(&self.relative(&f)) {
                    out.push(f);
                }
            }
        }
        Ok(out)
    }

    fn relative(&self, f: &Path) -> String {
        f.strip_prefix(&self.root)
            .unwrap_or(f)
            .to_string_lossy()
            .into_owned()
    }

    /// Move `f` (a data file nothing committed) to `_orphans/`, keeping its path: it is
    /// never read there, and never deleted by midgame.
    pub(crate) fn move_to_orphans(&self, f: &Path) -> Result<PathBuf, LakeError> {
        let dest = self.layout.orphans_dir().join(self.relative(f));
        if let Some(parent) = dest.parent() {
            fs_err::create_dir_all(parent).map_err(io_err(parent))?;
        }
        fs_err::rename(f, &dest).map_err(io_err(&dest))?;
        Ok(dest)
    }

    /// Check every committed data file against its record: present, of its length, and
    /// every block matching its checksum; and list the files nothing committed.
    ///
    /// # Errors
    /// The manifest cannot be read or a folder listed.
    pub fn verify(&self) -> Result<Verified, LakeError> {
        let committed = self.committed()?;
        let mut v = Verified::default();
        for (rel, record) in &committed.files {
            let path = self.root.join(rel);
            let Some(record) = record else {
                if path.is_file() {
                    v.unchecked.push(path);
                } else {
                    v.problems
                        .push((path, "missing: the manifest commits it".into()));
                }
                continue;
            };
            match checksum(&self.root, rel) {
                Err(_) if !path.exists() => {
                    v.problems
                        .push((path, "missing: the manifest commits it".into()));
                }
                Err(e) => v.problems.push((path, e.to_string())),
                Ok(now) if now.len != record.len => v.problems.push((
                    path,
                    format!("{} bytes, the manifest says {}", now.len, record.len),
                )),
                Ok(now) => {
                    let bad: Vec<usize> = (now.blocks.iter().zip(&record.blocks))
                        .enumerate()
                        .filter(|(_, (a, b))| a != b)
                        .map(|(i, _)| i)
                        .collect();
                    if bad.is_empty() {
                        v.ok += 1;
                    } else {
                        v.problems.push((
                            path,
                            format!(
                                "corrupt: {} of its {} blocks of 1 MiB differ from their checksums (first: block {}, bytes {}..)",
                                bad.len(),
                                record.blocks.len(),
                                bad[0],
                                bad[0] as u64 * BLOCK_BYTES
                            ),
                        ));
                    }
                }
            }
        }
        v.orphans = self.orphans()?;
        let referenced: BTreeSet<&String> = committed.files.keys().collect();
        v.committed = referenced.len();
        Ok(v)
    }
}

/// What [`Lake::verify`] found.
#[derive(Debug, Default)]
pub struct Verified {
    /// Committed files checked.
    pub committed: usize,
    /// Files that matched their record.
    pub ok: usize,
    /// Files committed before checksums were recorded (present, not checked; `midgame
    /// compact` rewrites them with checksums).
    pub unchecked: Vec<PathBuf>,
    /// Committed files missing, of another length, or corrupt, and how.
    pub problems: Vec<(PathBuf, String)>,
    /// Data files in the partitions that nothing committed.
    pub orphans: Vec<PathBuf>,
}

impl Verified {
    /// Nothing differs from the records.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty() && self.orphans.is_empty()
    }
}

impl Lake {
    /// The manifest entries whose rows are in the committed data file `rel`: the entry
    /// that wrote it, or those whose files a compaction merged into it.
    ///
    /// # Errors
    /// The manifest or a compaction record cannot be read.
    pub fn entries_behind(&self, rel: &str) -> Result<Vec<crate::ManifestEntry>, LakeError> {
        let entries = self.manifest()?;
        let compactions = self.compactions()?;
        let mut want: BTreeSet<String> = BTreeSet::from([rel.to_owned()]);
        // Walk back through compactions to the files ingest wrote.
        loop {
            let before = want.len();
            for c in &compactions {
                let dir = format!("{}/{}", c.table, c.partition);
                if want.contains(&format!("{dir}/{}", c.output)) {
                    want.extend(c.inputs.iter().map(|i| format!("{dir}/{i}")));
                }
            }
            if want.len() == before {
                break;
            }
        }
        Ok(entries
            .into_iter()
            .filter(|e| e.files.iter().any(|f| want.contains(f)))
            .collect())
    }

    /// Take a file's entry out of the manifest, so that the file is ingested again; its
    /// data files become orphans (moved aside by the next open).
    ///
    /// # Errors
    /// The entry cannot be removed.
    pub fn forget(&self, entry: &crate::ManifestEntry) -> Result<(), LakeError> {
        let path = self.layout.manifest_entry(&entry.hash);
        fs_err::remove_file(&path).map_err(io_err(&path))?;
        crate::crashpoint("manifest entry removed");
        Ok(())
    }
}
