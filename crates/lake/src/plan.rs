//! Deciding what of a file is new, before anything is written.
//!
//! A compressed file is one unit, known by the hash of its bytes. A plain file is known by
//! the hashes of its prefixes: every manifest entry of a plain file records where its
//! read ended (`end`) and the hash of the bytes up to there, so hashing a file with
//! checkpoints at the ends the manifest knows finds the longest prefix already in the
//! lake, whatever the file is called now. What follows it is new, up to the last
//! complete record (an unfinished last line of a file still being written waits for its
//! end).

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

use midgame_sources::FramingMode;

use crate::manifest::ManifestEntry;
use crate::{Lake, LakeError, io_err};

/// What reading a file would add to the lake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilePlan {
    /// Nothing new: its bytes (its complete records) are in the lake.
    Seen {
        /// The path recorded when they were read.
        as_path: String,
        /// Bytes of an unfinished last record left for a later run.
        held: u64,
    },
    /// Bytes `start..end` are new.
    Read {
        /// First new byte (past 0 when the file grew since it was last read).
        start: u64,
        /// Byte after the last complete record.
        end: u64,
        /// Line number of byte `start`.
        first_line: u64,
        /// xxh3-128 of bytes `0..end` (of the whole file when compressed): the identity
        /// the manifest will record.
        hash: String,
        /// The file's size now.
        size: u64,
        /// Its modification time (ms since the epoch).
        mtime_ms: Option<i64>,
        /// Gzip or zstd: read whole.
        compressed: bool,
        /// Bytes of an unfinished last record left for a later run.
        held: u64,
        /// The manifest hash of the part read before, when the file grew: its source
        /// kind is the one to go on with.
        prior: Option<String>,
    },
}

impl FilePlan {
    /// Bytes of an unfinished last record left for a later run.
    #[must_use]
    pub fn held(&self) -> u64 {
        match self {
            FilePlan::Seen { held, .. } | FilePlan::Read { held, .. } => *held,
        }
    }
}

/// The manifest, indexed for planning many files.
#[derive(Debug, Default)]
pub struct ManifestIndex {
    by_hash: HashMap<String, String>,
    /// Per path, its newest entry: size, modification time, end of what was read, and
    /// the hash of the bytes up to that end.
    by_path: HashMap<String, (u64, Option<i64>, u64, String)>,
    ends: BTreeSet<u64>,
}

impl ManifestIndex {
    /// Whether the manifest read `key` (a path or URL) when it had this size and time,
    /// to its end: nothing new in it.
    #[must_use]
    pub fn unchanged(&self, key: &str, size: u64, mtime_ms: i64) -> bool {
        self.by_path
            .get(key)
            .is_some_and(|(s, m, end, _)| *s == size && *m == Some(mtime_ms) && *end == size)
    }

    fn from_entries(entries: &[ManifestEntry]) -> Self {
        let mut idx = Self::default();
        for e in entries {
            idx.by_hash.insert(e.hash.clone(), e.path.clone());
            let end = e.end.unwrap_or(e.size);
            let newest = idx
                .by_path
                .entry(e.path.clone())
                .or_insert((0, None, 0, String::new()));
            if end >= newest.2 {
                *newest = (e.size, e.mtime_ms, end, e.hash.clone());
            }
            if let Some(end) = e.end {
                idx.ends.insert(end);
            }
        }
        idx
    }
}

/// Modification time in ms since the epoch.
pub(crate) fn mtime_ms(meta: &std::fs::Metadata) -> Option<i64> {
    let t = meta.modified().ok()?;
    Some(chrono::DateTime::<chrono::Utc>::from(t).timestamp_millis())
}

fn is_compressed(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b]) || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
}

/// Hash of bytes `0..c` and the newlines before `c`, for each checkpoint `c`.
struct Prefixes {
    at: HashMap<u64, (String, u64)>,
}

fn hash_prefixes(path: &Path, checkpoints: &BTreeSet<u64>) -> Result<Prefixes, LakeError> {
    let mut f = fs_err::File::open(path).map_err(io_err(path))?;
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = 0u64;
    let mut newlines = 0u64;
    let mut at = HashMap::new();
    let mut next = checkpoints.iter().copied().peekable();
    loop {
        while let Some(&c) = next.peek() {
            if c > pos {
                break;
            }
            if c == pos {
                at.insert(c, (format!("{:032x}", hasher.digest128()), newlines));
            }
            next.next();
        }
        let Some(&c) = next.peek() else { break };
        let want = usize::try_from((c - pos).min(buf.len() as u64)).unwrap_or(buf.len());
        let n = f.read(&mut buf[..want]).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        newlines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        pos += n as u64;
    }
    Ok(Prefixes { at })
}

/// Offset just past the last newline of the file's first `size` bytes (0 when none).
fn after_last_newline(path: &Path, size: u64) -> Result<u64, LakeError> {
    let mut f = fs_err::File::open(path).map_err(io_err(path))?;
    let mut end = size;
    let mut buf = vec![0u8; 64 << 10];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let len = usize::try_from(end - start).expect("at most the buffer");
        f.seek(SeekFrom::Start(start)).map_err(io_err(path))?;
        f.read_exact(&mut buf[..len]).map_err(io_err(path))?;
        if let Some(p) = memchr::memrchr(b'\n', &buf[..len]) {
            return Ok(start + p as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// How the records from `start` on are framed (JSON arrays are read to the end: an
/// unfinished one is quarantined rather than cut at a line).
fn framing_at(path: &Path, start: u64, size: u64) -> Result<Option<FramingMode>, LakeError> {
    let mut f = fs_err::File::open(path).map_err(io_err(path))?;
    f.seek(SeekFrom::Start(start)).map_err(io_err(path))?;
    let mut head = Vec::new();
    f.take((size - start).min(64 << 10))
        .read_to_end(&mut head)
        .map_err(io_err(path))?;
    // Not at the end of the stream as far as recognition goes: an unfinished `{` on the
    // last line is a line being written, not pretty-printed JSON.
    Ok(midgame_sources::framing_of(&head, false))
}

/// Whether the bytes `0..end` (hashing to `hash`) of a file whose start was read as part
/// of `other` are a copy of what `other` still holds and was read up to: `other` exists,
/// its bytes up to the end of its last read still hash as then, and its first `end`
/// bytes are these. A file that grew (under its name or a new one, the old one gone or
/// holding something else now) is not: what it gained is new.
fn copy_of_read_content(
    other: &Path,
    end: u64,
    hash: &str,
    index: &ManifestIndex,
) -> Result<bool, LakeError> {
    let key = other.display().to_string();
    let Some((_, _, read_end, read_hash)) = index.by_path.get(&key) else {
        return Ok(false);
    };
    if end > *read_end
        || !std::fs::metadata(other).is_ok_and(|m| m.is_file() && m.len() >= *read_end)
    {
        return Ok(false);
    }
    let p = hash_prefixes(other, &BTreeSet::from([end, *read_end]))?;
    let at = |c: u64| p.at.get(&c).map(|(h, _)| h.as_str());
    Ok(at(*read_end) == Some(read_hash.as_str()) && at(end) == Some(hash))
}

impl Lake {
    /// The manifest, indexed for [`Lake::plan_file`].
    ///
    /// # Errors
    /// An entry cannot be read.
    pub fn manifest_index(&self) -> Result<ManifestIndex, LakeError> {
        Ok(ManifestIndex::from_entries(&self.manifest()?))
    }

    /// What of `path` is not in the lake yet.
    ///
    /// `settle`: a plain file modified less than this long ago may still be being written,
    /// so an unfinished last line waits for its end; `None` takes every byte.
    ///
    /// # Errors
    /// The file cannot be read.
    pub fn plan_file(
        &self,
        path: &Path,
        index: &ManifestIndex,
        settle: Option<Duration>,
    ) -> Result<FilePlan, LakeError> {
        let meta = fs_err::metadata(path).map_err(io_err(path))?;
        let size = meta.len();
        let mtime = mtime_ms(&meta);
        let settling = settle.is_some_and(|d| {
            let age = chrono::Utc::now().timestamp_millis() - mtime.unwrap_or(0);
            i128::from(age) < d.as_millis().try_into().unwrap_or(i128::MAX)
        });
        let key = path.display().to_string();
        // The same path, size and time as when it was last read: unchanged, unless a
        // held-back tail may be taken now that the file has settled.
        if let Some(&(old_size, old_mtime, end, _)) = index.by_path.get(&key)
            && old_size == size
            && old_mtime.is_some()
            && old_mtime == mtime
            && (end == size || settling)
        {
            return Ok(FilePlan::Seen {
                as_path: key,
                held: size - end,
            });
        }
        let mut head = [0u8; 4];
        let n = fs_err::File::open(path)
            .and_then(|mut f| f.read(&mut head))
            .map_err(io_err(path))?;
        if is_compressed(&head[..n]) {
            let whole = hash_prefixes(path, &BTreeSet::from([size]))?;
            let (hash, _) = whole.at[&size].clone();
            if let Some(p) = index.by_hash.get(&hash) {
                return Ok(FilePlan::Seen {
                    as_path: p.clone(),
                    held: 0,
                });
            }
            return Ok(FilePlan::Read {
                start: 0,
                end: size,
                first_line: 1,
                hash,
                size,
                mtime_ms: mtime,
                compressed: true,
                held: 0,
                prior: None,
            });
        }
        let lines_end = if settling && size > 0 {
            after_last_newline(path, size)?
        } else {
            size
        };
        let mut checkpoints: BTreeSet<u64> = index.ends.range(1..=size).copied().collect();
        checkpoints.extend([0, size, lines_end]);
        let prefixes = hash_prefixes(path, &checkpoints)?;
        let known = |c: u64| prefixes.at.get(&c).and_then(|(h, _)| index.by_hash.get(h));
        if let Some(p) = known(size) {
            return Ok(FilePlan::Seen {
                as_path: p.clone(),
                held: 0,
            });
        }
        let start = checkpoints
            .iter()
            .rev()
            .copied()
            .find(|c| *c > 0 && *c <= size && known(*c).is_some())
            .unwrap_or(0);
        let end = if lines_end < size
            && start < size
            && framing_at(path, start, size)? == Some(FramingMode::Json)
        {
            size
        } else {
            lines_end.max(start)
        };
        let held = size - end;
        if (end == start && size > 0) || known(end).is_some() {
            return Ok(FilePlan::Seen {
                as_path: known(end).or(known(start)).cloned().unwrap_or(key),
                held,
            });
        }
        let prefix = |c: u64| -> Result<(String, u64), LakeError> {
            match prefixes.at.get(&c) {
                Some(v) => Ok(v.clone()),
                None => {
                    let p = hash_prefixes(path, &BTreeSet::from([c]))?;
                    Ok(p.at.get(&c).cloned().unwrap_or_default())
                }
            }
        };
        let (hash, _) = prefix(end)?;
        if let Some(p) = known(start)
            && *p != key
            && copy_of_read_content(Path::new(p), end, &hash, index)?
        {
            // A copy of what another file, still there, was read up to: nothing new.
            return Ok(FilePlan::Seen {
                as_path: p.clone(),
                held,
            });
        }
        let (prior, newlines) = prefix(start)?;
        Ok(FilePlan::Read {
            start,
            end,
            first_line: newlines + 1,
            hash,
            size,
            mtime_ms: mtime,
            compressed: false,
            held,
            prior: (start > 0).then_some(prior),
        })
    }
}
