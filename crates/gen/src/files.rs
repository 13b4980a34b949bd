//! Writing the generated days as NDJSON files, a few days in memory at a time.

use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::day::generate_day;
use crate::people::User;
use crate::{Day, GenConfig};

/// What [`write()`] produced.
#[derive(Debug, Clone, Default)]
pub struct GenSummary {
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Events written.
    pub events: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Write NDJSON files per day under `out`: `okta/okta-YYYY-MM-DD.ndjson` and
/// `admin/support-console-YYYY-MM-DD.ndjson`.
///
/// # Errors
/// A file cannot be written.
pub fn write(cfg: &GenConfig, out: &Path) -> std::io::Result<GenSummary> {
    let dir = out.join("okta");
    fs_err::create_dir_all(&dir)?;
    let admin_dir = out.join("admin");
    fs_err::create_dir_all(&admin_dir)?;
    let mut summary = GenSummary::default();
    let users: Vec<User> = (0..cfg.users).map(|i| cfg.user(i)).collect();
    // A few days at a time, generated in parallel and written in order: memory holds a
    // handful of days whatever the range.
    let window = rayon::current_num_threads().max(1) as u32;
    for first in (0..cfg.days).step_by(window as usize) {
        let days: Vec<Day> = (first..(first + window).min(cfg.days))
            .into_par_iter()
            .map(|d| generate_day(cfg, &users, d))
            .collect();
        for day in days {
            if !day.admin.is_empty() {
                let path = admin_dir.join(format!("support-console-{}.ndjson", day.date));
                summary.add(path, &day.admin)?;
            }
            summary.add(dir.join(format!("okta-{}.ndjson", day.date)), &day.events)?;
        }
    }
    Ok(summary)
}

impl GenSummary {
    /// Write `events` one per line to a new file at `path`, and count them.
    fn add(&mut self, path: PathBuf, events: &[String]) -> std::io::Result<()> {
        let mut f = std::io::BufWriter::new(fs_err::File::create(&path)?);
        for e in events {
            f.write_all(e.as_bytes())?;
            f.write_all(b"\n")?;
            self.bytes += e.len() as u64 + 1;
        }
        f.flush()?;
        self.events += events.len() as u64;
        self.files.push(path);
        Ok(())
    }
}
