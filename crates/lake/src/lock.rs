//! One writer per lake: `LAKE/_lock`, held with an advisory file lock.
//!
//! The kernel drops a file lock when its process dies, however it dies, so a lock left by
//! a killed run is never an obstacle: the next run takes it. The file's text names the
//! holder (pid, host, start time) so a refused run can say who holds the lake, and a run
//! that takes over from a dead holder says so.

use std::collections::HashMap;
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::{LakeError, Layout, io_err};

/// The held lock; released when the last handle is dropped.
#[derive(Debug)]
pub(crate) struct LakeLock {
    file: std::fs::File,
    /// The previous holder's line, when it died holding the lock.
    pub(crate) took_over: Option<String>,
}

/// Locks held by this process, by lake: opening the same lake twice in one process shares
/// one lock instead of refusing itself.
fn held() -> &'static Mutex<HashMap<PathBuf, Weak<LakeLock>>> {
    static HELD: OnceLock<Mutex<HashMap<PathBuf, Weak<LakeLock>>>> = OnceLock::new();
    HELD.get_or_init(Mutex::default)
}

/// Take the lake's lock, or fail naming the process that holds it.
pub(crate) fn acquire(layout: &Layout) -> Result<Arc<LakeLock>, LakeError> {
    let root = layout.root();
    let key = root.canonicalize().map_err(io_err(root))?;
    let mut map = held().lock().expect("the lock registry is never poisoned");
    if let Some(lock) = map.get(&key).and_then(Weak::upgrade) {
        return Ok(lock);
    }
    let path = layout.lock_file();
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_err(&path))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Err(LakeError::Locked {
                path,
                holder: holder.trim().to_owned(),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&path)(e)),
    }
    let mut previous = String::new();
    let _ = file.read_to_string(&mut previous);
    let previous = previous.trim();
    let took_over = (!previous.is_empty()).then(|| previous.to_owned());
    if let Some(p) = &took_over {
        tracing::warn!(previous = %p, "took over the lake lock of a run that died holding it");
    }
    let me = format!(
        "pid={} host={} started={}",
        std::process::id(),
        hostname(),
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let write = |f: &mut std::fs::File| -> std::io::Result<()> {
        f.set_len(0)?;
        f.rewind()?;
        f.write_all(me.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()
    };
    write(&mut file).map_err(io_err(&path))?;
    let lock = Arc::new(LakeLock { file, took_over });
    map.insert(key, Arc::downgrade(&lock));
    Ok(lock)
}

impl Drop for LakeLock {
    fn drop(&mut self) {
        // A clean exit leaves an empty lock file: text in it means its writer died.
        let _ = self.file.set_len(0);
    }
}

/// An advisory lock on a file of its own, for work that must not run twice at once but
/// need not hold the lake (delivering the outbox). Released when dropped, or when the
/// process dies.
#[derive(Debug)]
pub struct FileLock {
    _file: std::fs::File,
}

impl FileLock {
    /// Take the lock at `path` (created if missing), or `None` when another process
    /// holds it.
    ///
    /// # Errors
    /// The file cannot be created or locked for another reason.
    pub fn try_acquire(path: &std::path::Path) -> Result<Option<Self>, LakeError> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_err(path))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Self { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(io_err(path)(e)),
        }
    }
}

pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}
