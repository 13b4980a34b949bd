//! A lake on S3-compatible object storage: `--lake s3://bucket/prefix`.
//!
//! S3 has no rename and no file lock. A command on an S3 lake works on a local *mirror*
//! of it and publishes what it changed in commit order:
//!
//! 1. **The one-writer lock.** `PREFIX/_lock` is created only if absent (a conditional
//!    PUT, `If-None-Match: *`) and holds the holder's id. The holder rewrites it every
//!    quarter of the stale time as a heartbeat (`If-Match` on its ETag). A lock not
//!    rewritten for the stale time (2 minutes, `MIDGAME_LOCK_STALE_SECS`) is taken over
//!    by a conditional PUT on the ETag seen, so two runs cannot both take it.
//! 2. **The mirror.** The records (`_manifest/**`) and the alert folder are downloaded.
//!    Every other object becomes an empty placeholder of the same name, so the lake's
//!    code sees what is there without reading it. `_remote.json` in the mirror names the
//!    lake, and queries over the mirror read the data from the store (midgame-detect).
//! 3. **Orphans.** A writer moves data objects that no record commits (a run killed
//!    between its data and its record) to `_orphans/`, as [`crate::Lake::open`] does on
//!    disk.
//! 4. The command runs on the mirror as on any lake.
//! 5. **Push.** New and changed objects are uploaded (a file the command renamed is
//!    copied on the store instead), then new records are created with a conditional PUT:
//!    that is the commit. Last, the objects the command removed are deleted, but for
//!    the table objects a commit replaced (a compaction's inputs): a reader that listed
//!    the table before the commit may still read them, so they are named in a list
//!    `_garbage/<ms>-<pid>.json`, left out of every mirror, and deleted by the first
//!    writer after the grace time (10 minutes, `MIDGAME_S3_GRACE_SECS`).
//!
//! A run killed at any point leaves what it uploaded without a record: readers never
//! see it (they read only what records commit) and the next writer sweeps it. Its mirror
//! is removed by the next run on the machine (the marker names the process).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{
    ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion, WriteMultipart,
};

use crate::{LakeError, io_err};

/// The file in a mirror that names the lake it stands for.
pub const MARKER: &str = "_remote.json";
/// The object every S3 lake has, so an empty lake is still a lake.
const LAKE_MARK: &str = "_manifest/.lake";
const LOCK: &str = "_lock";
/// Lists of replaced data objects, deleted once no reader can still be reading them.
const GARBAGE: &str = "_garbage/";
/// Objects downloaded into the mirror (the rest are placeholders).
const DOWNLOADED: [&str; 3] = ["_manifest/", "alerts/", GARBAGE];
/// Files of the mirror that are never published.
const LOCAL_ONLY: [&str; 3] = [MARKER, LOCK, "alerts/.delivery.lock"];
/// Uploads, copies and downloads in flight at once.
const CONCURRENCY: usize = 8;
/// Larger files are uploaded in parts.
const PART_BYTES: usize = 16 << 20;

/// Whether `lake` names a lake on object storage (`s3://...`).
#[must_use]
pub fn is_remote_lake(lake: &Path) -> bool {
    lake.to_str().is_some_and(crate::remote::is_remote)
}

/// What a mirror's marker says: the lake it stands for and the process it is for.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Marker {
    url: String,
    pid: u32,
}

fn read_marker(dir: &Path) -> Option<Marker> {
    let text = std::fs::read_to_string(dir.join(MARKER)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The URL of the lake `dir` mirrors, when it is a mirror.
#[must_use]
pub fn mirrored_url(dir: &Path) -> Option<String> {
    read_marker(dir).map(|m| m.url)
}

/// Why nothing at a URL is a lake.
const NOT_A_LAKE: &str =
    "not a midgame lake (no _manifest/ objects); create it with `midgame ingest --lake URL ...`";

fn remote_err(url: &str, e: impl std::fmt::Display) -> LakeError {
    LakeError::Remote {
        url: url.to_owned(),
        reason: e.to_string().replace('\n', " "),
    }
}

/// `(bucket, prefix)` of `s3://bucket/prefix` (the prefix without slashes at its ends;
/// empty for a lake at the bucket's root).
///
/// # Errors
/// The URL is not `s3://bucket[/prefix]`.
pub fn parse_lake_url(url: &str) -> Result<(String, String), LakeError> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| remote_err(url, "not an s3://bucket/prefix URL"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(remote_err(url, "no bucket in the URL (s3://bucket/prefix)"));
    }
    Ok((bucket.to_owned(), prefix.trim_matches('/').to_owned()))
}

/// An S3 client for `bucket` with the usual AWS environment (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL` for
/// S3-compatible stores; instance and container credentials). `url` names it in errors.
///
/// # Errors
/// The client cannot be built (a malformed endpoint, say).
pub fn s3_store(bucket: &str, url: &str) -> Result<Arc<dyn ObjectStore>, LakeError> {
    // A store that cannot be reached is an error within a minute, not the default three:
    // a run at 3 a.m. should fail and say so.
    let retry = object_store::RetryConfig {
        max_retries: 4,
        retry_timeout: Duration::from_secs(60),
        ..object_store::RetryConfig::default()
    };
    let mut builder = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_retry(retry);
    // An S3-compatible store on plain HTTP (a local MinIO, moto) is what the endpoint
    // says it is.
    if std::env::var("AWS_ENDPOINT_URL")
        .or_else(|_| std::env::var("AWS_ENDPOINT"))
        .is_ok_and(|e| e.starts_with("http://"))
    {
        builder = builder.with_allow_http(true);
    }
    Ok(Arc::new(builder.build().map_err(|e| remote_err(url, e))?))
}

/// The name of every mirror's folder begins so.
const MIRROR_PREFIX: &str = "midgame-s3-";

/// Remove the mirrors in `dir` of processes that are gone (a run killed before it could
/// remove its own): they hold nothing the store does not.
fn sweep_dead_mirrors(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if !e.file_name().to_string_lossy().starts_with(MIRROR_PREFIX) {
            continue;
        }
        if let Some(m) = read_marker(&path)
            && !Path::new("/proc").join(m.pid.to_string()).exists()
        {
            match std::fs::remove_dir_all(&path) {
                Ok(()) => {
                    tracing::info!(mirror = %path.display(), "removed the mirror of a run that died")
                }
                Err(e) => {
                    tracing::warn!(mirror = %path.display(), error = %e, "could not remove the mirror of a run that died")
                }
            }
        }
    }
}

/// Seconds (not negative) from the environment variable `name`.
fn env_secs(name: &str) -> Option<Duration> {
    std::env::var(name)
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s.parse().ok()?).ok())
}

/// How long a replaced data object stays on the store for readers that listed the
/// table before the commit that replaced it (`MIDGAME_S3_GRACE_SECS`, 10 minutes).
fn grace() -> Duration {
    env_secs("MIDGAME_S3_GRACE_SECS").unwrap_or(Duration::from_secs(600))
}

/// A garbage list: the data objects one push replaced, and when.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Garbage {
    /// When the commit that replaced them was published (ms since the epoch).
    replaced_ms: i64,
    /// The objects, relative to the lake.
    objects: Vec<String>,
}

/// How long a lock goes without a heartbeat before another run may take it.
fn stale_after() -> Duration {
    // Never 0: the heartbeat beats every quarter of it.
    env_secs("MIDGAME_LOCK_STALE_SECS")
        .filter(|d| !d.is_zero())
        .unwrap_or(Duration::from_secs(120))
}

/// A fingerprint of the records of the lake at `url` (one listing of `_manifest/`: each
/// record's name, size and ETag): equal while no commit has been published, so a reader
/// can keep what it built from the records until it changes.
///
/// # Errors
/// The store cannot be listed.
pub fn records_version(url: &str) -> Result<u128, LakeError> {
    let url = url.trim_end_matches('/');
    let (bucket, prefix) = parse_lake_url(url)?;
    let store = s3_store(&bucket, url)?;
    let records = ObjectPath::from(if prefix.is_empty() {
        "_manifest".to_owned()
    } else {
        format!("{prefix}/_manifest")
    });
    // A runtime of its own, made and dropped on a thread of its own: the caller may be
    // in an asynchronous context (a scheduler's session builder), where neither is
    // allowed.
    let mut metas: Vec<object_store::ObjectMeta> = std::thread::scope(|s| {
        s.spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| remote_err(url, e))?;
            runtime
                .block_on(store.list(Some(&records)).try_collect::<Vec<_>>())
                .map_err(|e| remote_err(url, e))
        })
        .join()
        .expect("a listing never panics")
    })?;
    metas.sort_by(|a, b| a.location.cmp(&b.location));
    let mut text = String::new();
    for m in &metas {
        text.push_str(&format!(
            "{}\0{}\0{}\n",
            m.location,
            m.size,
            m.e_tag.as_deref().unwrap_or_default()
        ));
    }
    Ok(xxhash_rust::xxh3::xxh3_128(text.as_bytes()))
}

/// What the mirror saw of a file when it was last in step with the store.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    len: u64,
    mtime_ns: i64,
    ino: u64,
    placeholder: bool,
}

fn seen(meta: &std::fs::Metadata, placeholder: bool) -> Seen {
    Seen {
        len: meta.len(),
        mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
        ino: meta.ino(),
        placeholder,
    }
}

/// What one push did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pushed {
    /// Objects uploaded (data, quarantine, alerts).
    pub uploaded: usize,
    /// Objects copied on the store (files the command moved).
    pub copied: usize,
    /// Records created: the commits.
    pub records: usize,
    /// Objects deleted.
    pub deleted: usize,
    /// Replaced table objects left for readers, to be deleted after the grace time.
    pub deferred: usize,
    /// Bytes uploaded.
    pub bytes: u64,
}

/// A lake on S3 and its local mirror (see the module's steps).
pub struct RemoteLake {
    url: String,
    prefix: String,
    store: Arc<dyn ObjectStore>,
    runtime: Option<Arc<tokio::runtime::Runtime>>,
    mirror: tempfile::TempDir,
    snapshot: BTreeMap<String, Seen>,
    lock: Option<RemoteLock>,
}

impl std::fmt::Debug for RemoteLake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteLake")
            .field("url", &self.url)
            .field("mirror", &self.mirror.path())
            .finish_non_exhaustive()
    }
}

/// Run `fut` on `rt` from a thread of its own, so it works inside another runtime too.
fn block_on<F>(rt: &tokio::runtime::Runtime, fut: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| rt.block_on(fut))
            .join()
            .expect("a store call never panics")
    })
}

impl RemoteLake {
    /// The lake at `url`, its records mirrored, for reading: no lock is taken.
    ///
    /// # Errors
    /// The store cannot be listed or read (credentials, a missing bucket, the network),
    /// or nothing at `url` is a lake.
    pub fn open_read(url: &str) -> Result<Self, LakeError> {
        let mut lake = Self::connect(url)?;
        lake.pull()?;
        if !lake.snapshot.keys().any(|k| k.starts_with("_manifest/")) {
            return Err(remote_err(url, NOT_A_LAKE));
        }
        Ok(lake)
    }

    /// The lake at `url` (created when `create` is set and nothing is there yet) for
    /// writing: the lock taken, the records mirrored, orphans moved aside.
    ///
    /// # Errors
    /// Another run holds the lock ([`LakeError::Locked`]), the store fails, or `create`
    /// is not set and nothing at `url` is a lake.
    pub fn open_write(url: &str, create: bool) -> Result<Self, LakeError> {
        let mut lake = Self::connect(url)?;
        let rt = Arc::clone(lake.runtime.as_ref().expect("a live runtime"));
        lake.lock = Some(RemoteLock::acquire(
            rt,
            Arc::clone(&lake.store),
            lake.key(LOCK),
            format!("{}/{LOCK}", lake.url),
        )?);
        lake.pull()?;
        if !lake.snapshot.keys().any(|k| k.starts_with("_manifest/")) {
            if !create {
                return Err(remote_err(url, NOT_A_LAKE));
            }
            let mark = lake.mirror.path().join(LAKE_MARK);
            fs_err::create_dir_all(mark.parent().expect("has a parent")).map_err(io_err(&mark))?;
            fs_err::write(&mark, b"a midgame lake\n").map_err(io_err(&mark))?;
        }
        lake.collect_garbage()?;
        lake.sweep()?;
        Ok(lake)
    }

    fn connect(url: &str) -> Result<Self, LakeError> {
        let url = url.trim_end_matches('/').to_owned();
        let (bucket, prefix) = parse_lake_url(&url)?;
        let store = s3_store(&bucket, &url)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| remote_err(&url, e))?;
        sweep_dead_mirrors(&std::env::temp_dir());
        let mirror = tempfile::Builder::new()
            .prefix(MIRROR_PREFIX)
            .tempdir()
            .map_err(|e| remote_err(&url, format!("creating a local mirror: {e}")))?;
        let marker = mirror.path().join(MARKER);
        let text = serde_json::to_string(&Marker {
            url: url.clone(),
            pid: std::process::id(),
        })
        .expect("a marker serialises");
        fs_err::write(&marker, text).map_err(io_err(&marker))?;
        Ok(Self {
            url,
            prefix,
            store,
            runtime: Some(Arc::new(runtime)),
            mirror,
            snapshot: BTreeMap::new(),
            lock: None,
        })
    }

    /// The lake's URL (`s3://bucket/prefix`).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The mirror: give it to [`crate::Lake::open`] and to query sessions.
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.mirror.path()
    }

    /// The previous holder of the lock, when this run took it over from a stale one.
    #[must_use]
    pub fn took_over_lock_from(&self) -> Option<&str> {
        self.lock.as_ref().and_then(|l| l.took_over.as_deref())
    }

    fn key(&self, rel: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(rel)
        } else {
            ObjectPath::from(format!("{}/{rel}", self.prefix))
        }
    }

    fn object_url(&self, rel: &str) -> String {
        format!("{}/{rel}", self.url)
    }

    fn rt(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("a live runtime")
    }

    /// List the lake, download what [`DOWNLOADED`] names and leave a placeholder for the
    /// rest, but for the replaced objects the garbage lists name: those are not in the
    /// lake any more.
    fn pull(&mut self) -> Result<(), LakeError> {
        let root = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let metas: Vec<object_store::ObjectMeta> = block_on(
            self.rt(),
            self.store.list(root.as_ref()).try_collect::<Vec<_>>(),
        )
        .map_err(|e| remote_err(&self.url, e))?;
        let rels: Vec<String> = metas
            .iter()
            .filter_map(|m| m.location.as_ref().strip_prefix(&strip).map(str::to_owned))
            .filter(|rel| rel != LOCK && !rel.starts_with("_tmp/"))
            .collect();
        for rel in &rels {
            let local = self.mirror.path().join(rel);
            fs_err::create_dir_all(local.parent().expect("under the mirror"))
                .map_err(io_err(&local))?;
        }
        let (fetch, rest): (Vec<String>, Vec<String>) = rels
            .into_iter()
            .partition(|rel| DOWNLOADED.iter().any(|d| rel.starts_with(d)));
        self.download(fetch)?;
        let replaced: HashSet<String> = self
            .garbage()?
            .into_iter()
            .flat_map(|(_, g)| g.objects)
            .collect();
        for rel in rest.into_iter().filter(|r| !replaced.contains(r)) {
            let local = self.mirror.path().join(&rel);
            fs_err::write(&local, b"").map_err(io_err(&local))?;
            let meta = fs_err::metadata(&local).map_err(io_err(&local))?;
            self.snapshot.insert(rel, seen(&meta, true));
        }
        Ok(())
    }

    /// The garbage lists in the mirror, by their path.
    fn garbage(&self) -> Result<Vec<(String, Garbage)>, LakeError> {
        let mut out = Vec::new();
        for rel in self.snapshot.keys().filter(|r| r.starts_with(GARBAGE)) {
            let path = self.mirror.path().join(rel);
            let bytes = fs_err::read(&path).map_err(io_err(&path))?;
            let list = serde_json::from_slice(&bytes)
                .map_err(|source| LakeError::Manifest { path, source })?;
            out.push((rel.clone(), list));
        }
        Ok(out)
    }

    /// Delete the objects of the garbage lists older than the grace time, then the lists.
    fn collect_garbage(&mut self) -> Result<(), LakeError> {
        let now = chrono::Utc::now().timestamp_millis();
        let grace = i64::try_from(grace().as_millis()).unwrap_or(i64::MAX);
        let lists = self.garbage()?;
        if lists.iter().all(|(_, l)| now - l.replaced_ms < grace) {
            return Ok(());
        }
        // Never what a record commits now (a name written again since).
        let committed = crate::Lake::inspect(self.mirror.path()).committed()?.files;
        for (rel, list) in lists {
            if now - list.replaced_ms < grace {
                continue;
            }
            let objects = list.objects.iter().filter(|o| !committed.contains_key(*o));
            for object in objects.chain(std::iter::once(&rel)) {
                let key = self.key(object);
                match block_on(self.rt(), self.store.delete(&key)) {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(remote_err(&self.object_url(object), e)),
                }
                crate::crashpoint("deleted from the store");
            }
            let local = self.mirror.path().join(&rel);
            fs_err::remove_file(&local).map_err(io_err(&local))?;
            self.snapshot.remove(&rel);
            tracing::info!(
                objects = list.objects.len(),
                "deleted the objects commits replaced, past their grace time"
            );
        }
        Ok(())
    }

    /// Download, in place of their placeholders, the data files of every table folder
    /// (a day or a bucket) that holds at least `min_files` of them: what
    /// [`crate::Lake::compact`] reads whole.
    ///
    /// # Errors
    /// An object cannot be read or its file written.
    pub fn fetch_tables(&mut self, min_files: usize) -> Result<(), LakeError> {
        let folder = |rel: &str| rel.rsplit_once('/').map_or("", |(d, _)| d).to_owned();
        let mut per_folder: HashMap<String, usize> = HashMap::new();
        for rel in self.snapshot.keys() {
            if is_table_file(rel) && rel.ends_with(".parquet") {
                *per_folder.entry(folder(rel)).or_default() += 1;
            }
        }
        let want: Vec<String> = self
            .snapshot
            .iter()
            .filter(|(rel, s)| {
                s.placeholder
                    && is_table_file(rel)
                    && per_folder.get(&folder(rel)).copied().unwrap_or(0) >= min_files.max(2)
            })
            .map(|(rel, _)| rel.clone())
            .collect();
        self.download(want)
    }

    fn download(&mut self, rels: Vec<String>) -> Result<(), LakeError> {
        let store = Arc::clone(&self.store);
        let jobs = rels.into_iter().map(|rel| {
            let key = self.key(&rel);
            let local = self.mirror.path().join(&rel);
            let url = self.object_url(&rel);
            let store = Arc::clone(&store);
            async move {
                let bytes = async { store.get(&key).await?.bytes().await }
                    .await
                    .map_err(|e| remote_err(&url, e))?;
                fs_err::write(&local, &bytes).map_err(io_err(&local))?;
                let meta = fs_err::metadata(&local).map_err(io_err(&local))?;
                Ok::<_, LakeError>((rel, seen(&meta, false)))
            }
        });
        let done: Vec<(String, Seen)> = block_on(
            self.rt(),
            futures::stream::iter(jobs)
                .buffer_unordered(CONCURRENCY)
                .try_collect(),
        )?;
        self.snapshot.extend(done);
        Ok(())
    }

    /// Move the data and quarantine objects no record commits to `_orphans/`.
    fn sweep(&mut self) -> Result<(), LakeError> {
        let lake = crate::Lake::inspect(self.mirror.path());
        let committed = lake.committed()?;
        let hashes = lake.committed_hashes()?;
        let orphans: Vec<String> = self
            .snapshot
            .keys()
            .filter(|rel| {
                if is_table_file(rel) {
                    !committed.files.contains_key(*rel)
                } else if let Some(name) = rel.strip_prefix("_quarantine/") {
                    !hashes.contains(name.split(['-', '.']).next().unwrap_or_default())
                } else {
                    false
                }
            })
            .cloned()
            .collect();
        for rel in orphans {
            let to = format!("_orphans/{rel}");
            let (from_key, to_key) = (self.key(&rel), self.key(&to));
            block_on(self.rt(), async {
                self.store.copy(&from_key, &to_key).await?;
                self.store.delete(&from_key).await
            })
            .map_err(|e| remote_err(&self.object_url(&rel), e))?;
            tracing::warn!(
                object = %self.object_url(&rel),
                moved_to = %self.object_url(&to),
                "an object no record commits (a run killed before its commit): moved to _orphans"
            );
            let (from, dest) = (self.mirror.path().join(&rel), self.mirror.path().join(&to));
            fs_err::create_dir_all(dest.parent().expect("under the mirror"))
                .map_err(io_err(&dest))?;
            fs_err::rename(&from, &dest).map_err(io_err(&dest))?;
            if let Some(s) = self.snapshot.remove(&rel) {
                self.snapshot.insert(to, s);
            }
        }
        Ok(())
    }

    /// Every file of the mirror that the store should hold, with its metadata.
    fn walk(&self) -> Result<BTreeMap<String, std::fs::Metadata>, LakeError> {
        let mut out = BTreeMap::new();
        let mut stack = vec![self.mirror.path().to_path_buf()];
        while let Some(dir) = stack.pop() {
            for p in crate::read_dir_sorted(&dir)? {
                let rel = p
                    .strip_prefix(self.mirror.path())
                    .expect("under the mirror")
                    .to_string_lossy()
                    .into_owned();
                if rel == "_tmp" || LOCAL_ONLY.contains(&rel.as_str()) {
                    continue;
                }
                let meta = fs_err::symlink_metadata(&p).map_err(io_err(&p))?;
                if meta.is_dir() {
                    stack.push(p);
                } else if meta.is_file() {
                    out.insert(rel, meta);
                }
            }
        }
        Ok(out)
    }

    /// Publish what the command changed in the mirror (see the module's step 5).
    ///
    /// # Errors
    /// The lock was lost to another run, or the store refused a write: what was
    /// published before stays invisible until its record is, and the next writer
    /// sweeps it.
    pub fn push(&mut self) -> Result<Pushed, LakeError> {
        if let Some(holder) = self.lock.as_ref().and_then(RemoteLock::lost) {
            return Err(remote_err(
                &format!("{}/{LOCK}", self.url),
                format!(
                    "the lake's lock was lost to another run ({holder}) before this one published: nothing was published"
                ),
            ));
        }
        let now = self.walk()?;
        let gone: Vec<String> = self
            .snapshot
            .keys()
            .filter(|rel| !now.contains_key(*rel))
            .cloned()
            .collect();
        // A rename keeps a file's inode, length and time; a new file on a recycled inode
        // does not keep the other two.
        let moved_from: HashMap<(u64, u64, i64), &String> = gone
            .iter()
            .map(|rel| {
                let s = &self.snapshot[rel];
                ((s.ino, s.len, s.mtime_ns), rel)
            })
            .collect();
        let mut data = Vec::new();
        let mut records = Vec::new();
        for (rel, meta) in &now {
            let before = self.snapshot.get(rel);
            let after = seen(meta, before.is_some_and(|s| s.placeholder));
            if before == Some(&after) {
                continue;
            }
            let op = match moved_from.get(&(after.ino, after.len, after.mtime_ns)) {
                Some(from) if before.is_none() => Op::Copy((*from).clone()),
                _ => Op::Upload {
                    create: before.is_none(),
                },
            };
            if rel.starts_with("_manifest/") {
                records.push((rel.clone(), op));
            } else {
                data.push((rel.clone(), op));
            }
        }
        let mut pushed = Pushed::default();
        // Data first, in parallel; records one by one, after every data object is in.
        let results: Vec<u64> = block_on(
            self.rt(),
            futures::stream::iter(data.iter().map(|(rel, op)| self.apply(rel, op, false)))
                .buffer_unordered(CONCURRENCY)
                .try_collect(),
        )?;
        for ((_, op), bytes) in data.iter().zip(&results) {
            match op {
                Op::Copy(_) => pushed.copied += 1,
                Op::Upload { .. } => pushed.uploaded += 1,
            }
            pushed.bytes += bytes;
        }
        for (rel, op) in &records {
            pushed.bytes += block_on(self.rt(), self.apply(rel, op, true))?;
            pushed.records += 1;
            crate::crashpoint("record created on the store");
        }
        // Table objects a commit replaced stay for the grace time: a reader that listed
        // the table before the commit may still read them. Their list is written after
        // the records. (A moved object is not replaced: its copy holds it.)
        let copied: HashSet<&String> = data
            .iter()
            .chain(&records)
            .filter_map(|(_, op)| match op {
                Op::Copy(from) => Some(from),
                Op::Upload { .. } => None,
            })
            .collect();
        let (replaced, gone): (Vec<String>, Vec<String>) = gone
            .iter()
            .cloned()
            .partition(|rel| is_table_file(rel) && !copied.contains(rel));
        if !replaced.is_empty() {
            let at = chrono::Utc::now().timestamp_millis();
            let rel = format!("{GARBAGE}{at}-{}.json", std::process::id());
            let list = Garbage {
                replaced_ms: at,
                objects: replaced,
            };
            let local = self.mirror.path().join(&rel);
            fs_err::create_dir_all(local.parent().expect("under the mirror"))
                .map_err(io_err(&local))?;
            let bytes = serde_json::to_vec_pretty(&list).expect("a list serialises");
            fs_err::write(&local, bytes).map_err(io_err(&local))?;
            block_on(
                self.rt(),
                self.apply(&rel, &Op::Upload { create: true }, false),
            )?;
            pushed.deferred += list.objects.len();
        }
        // Removed records first (a forgotten entry), then what no record names any more.
        let (gone_records, gone_data): (Vec<_>, Vec<_>) =
            gone.iter().partition(|r| r.starts_with("_manifest/"));
        for rel in gone_records.into_iter().chain(gone_data) {
            let key = self.key(rel);
            match block_on(self.rt(), self.store.delete(&key)) {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(remote_err(&self.object_url(rel), e)),
            }
            pushed.deleted += 1;
            crate::crashpoint("deleted from the store");
        }
        // In step with the store again (the garbage list included).
        let now = self.walk()?;
        self.snapshot = now
            .iter()
            .map(|(rel, meta)| {
                let placeholder = self.snapshot.get(rel).is_some_and(|s| s.placeholder);
                (rel.clone(), seen(meta, placeholder))
            })
            .collect();
        Ok(pushed)
    }

    /// Upload or copy one object; the bytes uploaded.
    async fn apply(&self, rel: &str, op: &Op, record: bool) -> Result<u64, LakeError> {
        let url = self.object_url(rel);
        let key = self.key(rel);
        match op {
            Op::Copy(from) => {
                self.store
                    .copy(&self.key(from), &key)
                    .await
                    .map_err(|e| remote_err(&url, e))?;
                crate::crashpoint("copied on the store");
                Ok(0)
            }
            Op::Upload { create } => {
                let local = self.mirror.path().join(rel);
                let len = fs_err::metadata(&local).map_err(io_err(&local))?.len();
                if len as usize > PART_BYTES && !record {
                    self.upload_parts(&local, &key, &url).await?;
                } else {
                    let bytes = fs_err::read(&local).map_err(io_err(&local))?;
                    let mode = if record && *create {
                        PutMode::Create
                    } else {
                        PutMode::Overwrite
                    };
                    let opts = PutOptions {
                        mode,
                        ..PutOptions::default()
                    };
                    match self
                        .store
                        .put_opts(&key, PutPayload::from(bytes), opts)
                        .await
                    {
                        Ok(_) => {}
                        Err(object_store::Error::AlreadyExists { .. }) => {
                            return Err(remote_err(
                                &url,
                                "another writer committed this record first: the lake changed under this run's lock; nothing of it is committed",
                            ));
                        }
                        Err(e) => return Err(remote_err(&url, e)),
                    }
                }
                if !record {
                    crate::crashpoint("uploaded to the store");
                }
                Ok(len)
            }
        }
    }

    async fn upload_parts(
        &self,
        local: &Path,
        key: &ObjectPath,
        url: &str,
    ) -> Result<(), LakeError> {
        use std::io::Read;
        let upload = self
            .store
            .put_multipart(key)
            .await
            .map_err(|e| remote_err(url, e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let mut file = fs_err::File::open(local).map_err(io_err(local))?;
        let mut buf = vec![0u8; PART_BYTES];
        loop {
            let n = file.read(&mut buf).map_err(io_err(local))?;
            if n == 0 {
                break;
            }
            writer
                .wait_for_capacity(4)
                .await
                .map_err(|e| remote_err(url, e))?;
            writer.write(&buf[..n]);
        }
        writer.finish().await.map_err(|e| remote_err(url, e))?;
        Ok(())
    }
}

impl Drop for RemoteLake {
    fn drop(&mut self) {
        drop(self.lock.take());
        if let Some(rt) = self.runtime.take().and_then(|rt| Arc::try_unwrap(rt).ok()) {
            // Safe inside another runtime too.
            rt.shutdown_background();
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// Copy the object the command renamed to this name.
    Copy(String),
    /// Upload the file; `create` when the store has no object of its name yet.
    Upload { create: bool },
}

/// `<table>/...` for one of the lake's tables.
fn is_table_file(rel: &str) -> bool {
    midgame_schema::Table::ALL
        .iter()
        .any(|t| rel.strip_prefix(t.name).is_some_and(|r| r.starts_with('/')))
}

/// The held lock: a heartbeat thread rewrites it; dropping it stops the heartbeat and
/// deletes the lock.
struct RemoteLock {
    rt: Arc<tokio::runtime::Runtime>,
    store: Arc<dyn ObjectStore>,
    key: ObjectPath,
    version: Arc<Mutex<UpdateVersion>>,
    /// Set by the heartbeat when another run took the lock.
    lost: Arc<Mutex<Option<String>>>,
    stop: Arc<(Mutex<bool>, Condvar)>,
    beat: Option<std::thread::JoinHandle<()>>,
    took_over: Option<String>,
}

impl RemoteLock {
    fn acquire(
        rt: Arc<tokio::runtime::Runtime>,
        store: Arc<dyn ObjectStore>,
        key: ObjectPath,
        url: String,
    ) -> Result<Self, LakeError> {
        let me = format!(
            "pid={} host={} started={}\n",
            std::process::id(),
            crate::lock::hostname(),
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        let stale = stale_after();
        let put = |mode: PutMode| {
            let opts = PutOptions {
                mode,
                ..PutOptions::default()
            };
            block_on(
                &rt,
                store.put_opts(&key, PutPayload::from(me.clone().into_bytes()), opts),
            )
        };
        let locked = |holder: String| LakeError::Locked {
            path: PathBuf::from(&url),
            holder,
        };
        let mut took_over = None;
        let mut result = put(PutMode::Create);
        for _ in 0..3 {
            if !matches!(result, Err(object_store::Error::AlreadyExists { .. })) {
                break;
            }
            let held = block_on(&rt, async {
                let got = store.get(&key).await?;
                let meta = got.meta.clone();
                Ok::<_, object_store::Error>((meta, got.bytes().await?))
            });
            let (meta, bytes) = match held {
                // Released between the two calls: try again.
                Err(object_store::Error::NotFound { .. }) => {
                    result = put(PutMode::Create);
                    continue;
                }
                Err(e) => return Err(remote_err(&url, e)),
                Ok(h) => h,
            };
            let holder = String::from_utf8_lossy(&bytes).trim().to_owned();
            let age = (chrono::Utc::now() - meta.last_modified)
                .to_std()
                .unwrap_or_default();
            if age < stale {
                return Err(locked(format!(
                    "{holder}, last heartbeat {}s ago",
                    age.as_secs()
                )));
            }
            result = put(PutMode::Update(UpdateVersion {
                e_tag: meta.e_tag,
                version: meta.version,
            }));
            match &result {
                Ok(_) => {
                    tracing::warn!(previous = %holder, "took over the lake lock of a run that stopped its heartbeat");
                    took_over = Some(holder);
                }
                Err(object_store::Error::Precondition { .. }) => {
                    return Err(locked(
                        "another run took over the stale lock first".to_owned(),
                    ));
                }
                Err(_) => {}
            }
        }
        let version: UpdateVersion = result.map_err(|e| remote_err(&url, e))?.into();
        let version = Arc::new(Mutex::new(version));
        let lost = Arc::new(Mutex::new(None));
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let beat = {
            let (rt, store, key) = (Arc::clone(&rt), Arc::clone(&store), key.clone());
            let (version, lost, stop) =
                (Arc::clone(&version), Arc::clone(&lost), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("midgame-lock-heartbeat".to_owned())
                .spawn(move || {
                    let (flag, wake) = &*stop;
                    let mut stopped = flag.lock().expect("not poisoned");
                    loop {
                        stopped = wake
                            .wait_timeout(stopped, stale / 4)
                            .expect("not poisoned")
                            .0;
                        if *stopped {
                            return;
                        }
                        let current = version.lock().expect("not poisoned").clone();
                        let opts = PutOptions {
                            mode: PutMode::Update(current),
                            ..PutOptions::default()
                        };
                        let payload = PutPayload::from(me.clone().into_bytes());
                        match rt.block_on(store.put_opts(&key, payload, opts)) {
                            Ok(r) => *version.lock().expect("not poisoned") = r.into(),
                            Err(object_store::Error::Precondition { .. }) => {
                                let holder = rt
                                    .block_on(async { store.get(&key).await?.bytes().await })
                                    .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
                                    .unwrap_or_else(|_| "unknown".to_owned());
                                tracing::error!(%holder, "lost the lake's lock to another run");
                                *lost.lock().expect("not poisoned") = Some(holder);
                                return;
                            }
                            // A network blip: the next beat tries again.
                            Err(e) => tracing::warn!(error = %e, "lake lock heartbeat failed"),
                        }
                    }
                })
                .map_err(|e| remote_err(&url, e))?
        };
        Ok(Self {
            rt,
            store,
            key,
            version,
            lost,
            stop,
            beat: Some(beat),
            took_over,
        })
    }

    fn lost(&self) -> Option<String> {
        self.lost.lock().expect("not poisoned").clone()
    }
}

impl Drop for RemoteLock {
    fn drop(&mut self) {
        let (flag, wake) = &*self.stop;
        *flag.lock().expect("not poisoned") = true;
        wake.notify_all();
        if let Some(beat) = self.beat.take() {
            let _ = beat.join();
        }
        if self.lost().is_some() {
            return;
        }
        // Delete it only while it is still ours.
        let ours = self.version.lock().expect("not poisoned").e_tag.clone();
        let (store, key) = (Arc::clone(&self.store), self.key.clone());
        let _ = block_on(&self.rt, async move {
            if store.head(&key).await?.e_tag == ours {
                store.delete(&key).await?;
            }
            Ok::<_, object_store::Error>(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lake_urls() {
        assert_eq!(
            parse_lake_url("s3://bkt/sec/lake/").unwrap(),
            ("bkt".to_owned(), "sec/lake".to_owned())
        );
        assert_eq!(
            parse_lake_url("s3://bkt").unwrap(),
            ("bkt".to_owned(), String::new())
        );
        assert!(parse_lake_url("s3:///x").is_err());
        assert!(parse_lake_url("/srv/lake").is_err());
        assert!(is_remote_lake(Path::new("s3://bkt/lake")));
        assert!(!is_remote_lake(Path::new("/srv/lake")));
    }

    #[test]
    fn table_files_are_told_apart() {
        assert!(is_table_file("auth/date=2022-08-04/x.parquet"));
        assert!(is_table_file("admin/bucket=001/x.parquet"));
        assert!(!is_table_file("authx/y"));
        assert!(!is_table_file("_manifest/a.json"));
        assert!(!is_table_file("alerts/alerts.parquet"));
    }
}
