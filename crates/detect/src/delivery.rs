//! Delivering committed changes: a copy of each outbox file in `[output] dir`, a POST
//! of it to `[output.webhook]`.
//!
//! A file leaves the outbox when every configured output has it. The webhook gets the
//! NDJSON body (`Content-Type: application/x-ndjson`) with an `Idempotency-Key` header
//! naming the batch, so a receiver can drop a batch it already has: delivery is at least
//! once (a run killed after the POST and before it records the delivery sends the batch
//! again). A webhook that fails keeps its batch, and every later one, in order, for the
//! next run. Files are delivered exactly once (by name).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use midgame_lake::{FileLock, LakeError, Layout};
use serde::Deserialize;

use crate::alert_table::AlertTableError;

/// `[output]`: where scheduled runs send new and changed alerts.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// One NDJSON file per run with changes (`midgame-<generation>-<time>.ndjson`).
    pub dir: Option<PathBuf>,
    /// POST each run's changes here.
    pub webhook: Option<WebhookConfig>,
    /// Also write each run's incident report (`midgame-<generation>-<time>.html`) beside
    /// its NDJSON file in `dir`.
    #[serde(default)]
    pub html: bool,
}

/// `[output.webhook]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// `http://` or `https://` URL.
    pub url: String,
    /// Seconds before one attempt gives up.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Attempts after the first, each after twice the previous wait (at most
    /// [`MAX_RETRIES`], each wait at most [`MAX_BACKOFF`]: a run must end before the
    /// next one is due).
    #[serde(default = "default_retries", deserialize_with = "retries")]
    pub retries: u32,
    /// Wait before the first retry.
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
    /// Extra headers (`Authorization = "Bearer ..."`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The most time one delivery spends on the webhook, all batches and retries
    /// together; what is left stays queued for the next run.
    #[serde(default = "default_max_seconds")]
    pub max_seconds: u64,
}

fn default_max_seconds() -> u64 {
    300
}

fn default_timeout() -> u64 {
    10
}
fn default_retries() -> u32 {
    3
}

/// The most retries a webhook may ask for.
pub const MAX_RETRIES: u32 = 10;

/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

fn retries<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = u32::deserialize(d)?;
    if n > MAX_RETRIES {
        return Err(serde::de::Error::custom(format!(
            "retries = {n}: at most {MAX_RETRIES} (the run holds its place until delivery ends)"
        )));
    }
    Ok(n)
}
fn default_backoff_ms() -> u64 {
    1000
}

/// What a delivery did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Batches every output has now (removed from the outbox).
    pub delivered: usize,
    /// Batches still waiting.
    pub queued: usize,
    /// Webhook failures (the reason is given to `warn`).
    pub failed: usize,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AlertTableError + '_ {
    move |source| {
        AlertTableError::Lake(LakeError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// The committed outbox files (of generations up to `generation`), oldest first. A
/// later run's files are its own to deliver; files of runs that did not commit were
/// removed when the lake was opened for writing ([`crate::alert_table::AlertTable::recover_outbox`]).
fn committed(layout: &Layout, generation: u64) -> Result<Vec<PathBuf>, AlertTableError> {
    let dir = layout.outbox_dir();
    let mut out = Vec::new();
    let entries = match fs_err::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io(&dir)(e)),
    };
    for entry in entries {
        let p = entry.map_err(io(&dir))?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let generation_of: Option<u64> = name.split(['-', '.']).next().and_then(|g| g.parse().ok());
        if name.ends_with(".ndjson") && generation_of.is_some_and(|g| g <= generation) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// Deliver every committed outbox file (of generations up to `generation`), oldest
/// first; relative `[output] dir` paths are relative to `base`. `warn` hears each webhook
/// failure.
///
/// Delivery holds its own lock (`alerts/.delivery.lock`), not the lake's: the caller
/// releases the lake first, so a webhook that is slow to answer never keeps the next
/// scheduled run from ingesting. When another run is delivering, this one leaves its
/// batches queued for it. The webhook gets at most `max_seconds` in all.
///
/// # Errors
/// The outbox or the output folder cannot be read or written (a webhook that fails is
/// not an error: its batches stay queued).
pub fn deliver(
    cfg: &OutputConfig,
    base: &Path,
    layout: &Layout,
    generation: u64,
    warn: &dyn Fn(&str),
) -> Result<Delivered, AlertTableError> {
    let mut d = Delivered::default();
    let Some(_lock) = FileLock::try_acquire(&layout.delivery_lock())? else {
        d.queued = committed(layout, generation)?.len();
        if d.queued > 0 {
            warn("another run is delivering the outbox: this run's batches wait in it");
        }
        return Ok(d);
    };
    let deadline = cfg
        .webhook
        .as_ref()
        .map(|w| Instant::now() + Duration::from_secs(w.max_seconds));
    let mut webhook_down = false;
    for p in committed(layout, generation)? {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if let Some(dir) = &cfg.dir {
            let dir = base.join(dir);
            fs_err::create_dir_all(&dir).map_err(io(&dir))?;
            let dest = dir.join(format!("midgame-{name}"));
            if !dest.exists() {
                // The batch's report first: once its NDJSON file is there, so is it.
                let report = p.with_extension("html");
                if report.exists() {
                    copy_new(&report, &dest.with_extension("html"))?;
                    midgame_lake::crashpoint("output report written");
                }
                copy_new(&p, &dest)?;
                midgame_lake::crashpoint("output file written");
            }
        }
        let mut sent = true;
        if let (Some(wh), Some(deadline)) = (&cfg.webhook, deadline) {
            let marker = p.with_extension("sent");
            if !marker.exists() {
                sent = false;
                if !webhook_down {
                    let body = fs_err::read(&p).map_err(io(&p))?;
                    match post(wh, &name, &body, deadline) {
                        Ok(()) => {
                            midgame_lake::crashpoint("webhook sent");
                            fs_err::write(&marker, b"").map_err(io(&marker))?;
                            sent = true;
                        }
                        Err(e) => {
                            warn(&format!(
                                "webhook: {e}; {name} stays queued for the next run"
                            ));
                            webhook_down = true;
                            d.failed += 1;
                        }
                    }
                }
            }
        }
        if sent {
            fs_err::remove_file(&p).map_err(io(&p))?;
            let _ = fs_err::remove_file(p.with_extension("sent"));
            let _ = fs_err::remove_file(p.with_extension("html"));
            midgame_lake::crashpoint("outbox file delivered");
            d.delivered += 1;
        } else {
            d.queued += 1;
        }
    }
    Ok(d)
}

/// Copy `from` to `to` through a temporary file beside it, synced, then renamed: a
/// reader of the output folder never sees half a file.
fn copy_new(from: &Path, to: &Path) -> Result<(), AlertTableError> {
    let name = to.file_name().unwrap_or_default().to_string_lossy();
    let tmp = to.with_file_name(format!(".{name}.tmp"));
    fs_err::copy(from, &tmp).map_err(io(&tmp))?;
    fs_err::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io(&tmp))?;
    fs_err::rename(&tmp, to).map_err(io(to))?;
    Ok(())
}

/// POST `body` with retries, none of them past `deadline`; `Err` says why the last
/// attempt failed.
fn post(cfg: &WebhookConfig, key: &str, body: &[u8], deadline: Instant) -> Result<(), String> {
    let mut wait = Duration::from_millis(cfg.backoff_ms).min(MAX_BACKOFF);
    let mut last = String::new();
    for attempt in 0..=cfg.retries {
        if attempt > 0 {
            if Instant::now() + wait >= deadline {
                last.push_str(&format!(
                    " (no time left for another attempt: [output.webhook] max_seconds = {})",
                    cfg.max_seconds
                ));
                break;
            }
            std::thread::sleep(wait);
            wait = wait.saturating_mul(2).min(MAX_BACKOFF);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            last = format!(
                "no time left ([output.webhook] max_seconds = {})",
                cfg.max_seconds
            );
            break;
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(
                Duration::from_secs(cfg.timeout_seconds.max(1)).min(left),
            ))
            .http_status_as_error(false)
            .user_agent(concat!("midgame/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let mut req = agent
            .post(&cfg.url)
            .header("Content-Type", "application/x-ndjson")
            .header("Idempotency-Key", key);
        for (k, v) in &cfg.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        match req.send(body) {
            Ok(resp) if resp.status().is_success() => return Ok(()),
            Ok(resp) => {
                last = format!("{} answered {}", cfg.url, resp.status());
                // A client error will not go away by asking again (except 408/429).
                let s = resp.status().as_u16();
                if (400..500).contains(&s) && s != 408 && s != 429 {
                    break;
                }
            }
            Err(e) => last = format!("{}: {e}", cfg.url),
        }
        tracing::warn!(attempt, error = %last, "webhook attempt failed");
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_are_capped_so_a_run_ends_before_the_next() {
        let ok: WebhookConfig =
            serde_json::from_str(r#"{"url": "http://127.0.0.1:9/", "retries": 10}"#).unwrap();
        assert_eq!(ok.retries, MAX_RETRIES);
        let err = serde_json::from_str::<WebhookConfig>(
            r#"{"url": "http://127.0.0.1:9/", "retries": 1000000}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("retries = 1000000: at most 10"), "{err}");
    }
}
