//! Logs pulled from where they live: the Okta System Log API (`/api/v1/logs`), read page
//! by page in time order and written as gzip NDJSON files that `ingest` and `run` read
//! like any archive.
//!
//! The pull resumes where the last one stopped, without a gap or a duplicate: each page
//! is written whole (a temporary file renamed), and the cursor (the last `published`
//! time and the event ids at that time) is both in the newest page file and in
//! `.okta-cursor.json` beside the files; the later of the two wins, so a pull killed
//! between writing a page and its cursor loses nothing, and deleting old page files
//! (rotation) does not make the next pull start again. Okta's `since` is inclusive: the
//! events at the cursor's own time are asked for again and the ones already written are
//! left out.
//!
//! Rate limits are respected: when `X-Rate-Limit-Remaining` reaches 0 the pull waits for
//! `X-Rate-Limit-Reset`; a 429 waits the same way and asks again; a 5xx answer or a
//! dropped connection is retried with a doubling backoff.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// What went wrong pulling.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The API refused or kept failing.
    #[error("{url}: {reason}")]
    Api {
        /// The request's URL (no token in it).
        url: String,
        /// What happened.
        reason: String,
    },
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The settings are unusable.
    #[error("{0}")]
    Config(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PullError + '_ {
    move |source| PullError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// How to pull an Okta org's System Log.
#[derive(Debug, Clone)]
pub struct OktaPull {
    /// The org's base URL (`https://acme.okta.com`).
    pub org: String,
    /// The API token (sent as `Authorization: SSWS <token>`).
    pub token: String,
    /// The folder the page files go to.
    pub out: PathBuf,
    /// Where the first pull starts (RFC 3339); later ones go on from their cursor.
    pub since: Option<String>,
    /// Events per page (Okta allows up to 1000).
    pub limit: u32,
    /// Retries of a failed request (5xx, dropped connection) before the pull stops.
    pub retries: u32,
    /// Wait before the first retry (doubling after).
    pub backoff: Duration,
    /// One request's timeout.
    pub timeout: Duration,
    /// The longest a pull waits for a rate limit to reset; past it, it stops and the
    /// rest waits for the next pull.
    pub max_wait: Duration,
}

impl OktaPull {
    /// Settings with Okta's usual limits for `org`, `token` and `out`.
    #[must_use]
    pub fn new(org: impl Into<String>, token: impl Into<String>, out: impl Into<PathBuf>) -> Self {
        Self {
            org: org.into(),
            token: token.into(),
            out: out.into(),
            since: None,
            limit: 1000,
            retries: 5,
            backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(30),
            max_wait: Duration::from_secs(120),
        }
    }
}

/// What a pull did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pulled {
    /// Pages read (the last, empty one included).
    pub pages: u64,
    /// Events written.
    pub events: u64,
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Requests asked again (429, 5xx, dropped connections).
    pub retries: u64,
    /// The pull stopped at a rate limit that resets later than `max_wait`.
    pub rate_limited: bool,
}

/// Where the next pull starts: the last event's time and the ids of the events at
/// exactly that time (Okta's `since` includes them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// `published` of the last event written.
    pub published: String,
    /// `uuid`s of the events written with that `published`.
    pub uuids: BTreeSet<String>,
}

impl Cursor {
    fn key(&self) -> i64 {
        chrono::DateTime::parse_from_rfc3339(&self.published)
            .map(|t| t.timestamp_millis())
            .unwrap_or(i64::MIN)
    }
}

#[derive(Deserialize)]
struct Stamp {
    uuid: String,
    published: String,
}

/// Hidden, so that walking the folder for logs passes it over.
const CURSOR_FILE: &str = ".okta-cursor.json";

/// The cursor of the folder: the later of `.okta-cursor.json` and the newest page file.
///
/// # Errors
/// The folder or a file cannot be read.
pub fn cursor(out: &Path) -> Result<Option<Cursor>, PullError> {
    let from_file = match fs_err::read(out.join(CURSOR_FILE)) {
        Ok(b) => serde_json::from_slice::<Cursor>(&b).ok(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(&out.join(CURSOR_FILE))(e)),
    };
    let mut pages: Vec<PathBuf> = match fs_err::read_dir(out) {
        Ok(d) => d
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("okta-") && n.ends_with(".ndjson.gz"))
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io(out)(e)),
    };
    pages.sort();
    let from_pages = match pages.last() {
        Some(p) => page_cursor(p)?,
        None => None,
    };
    Ok(match (from_file, from_pages) {
        (Some(a), Some(b)) => Some(if b.key() >= a.key() { merge(a, b) } else { a }),
        (a, b) => a.or(b),
    })
}

/// Two cursors at the same time know the union of the ids there.
fn merge(a: Cursor, mut b: Cursor) -> Cursor {
    if a.published == b.published {
        b.uuids.extend(a.uuids);
    }
    b
}

/// The cursor at the end of one page file.
fn page_cursor(path: &Path) -> Result<Option<Cursor>, PullError> {
    use std::io::BufRead;
    let f = fs_err::File::open(path).map_err(io(path))?;
    let mut c: Option<Cursor> = None;
    for line in std::io::BufReader::new(flate2::read::GzDecoder::new(f)).lines() {
        let line = line.map_err(io(path))?;
        let Ok(s) = serde_json::from_str::<Stamp>(&line) else {
            continue;
        };
        match &mut c {
            Some(c) if c.published == s.published => {
                c.uuids.insert(s.uuid);
            }
            _ => {
                c = Some(Cursor {
                    published: s.published,
                    uuids: BTreeSet::from([s.uuid]),
                });
            }
        }
    }
    Ok(c)
}

/// The `next` URL of a `Link` header.
fn next_link(headers: &ureq::http::HeaderMap) -> Option<String> {
    headers.get_all("link").iter().find_map(|v| {
        let v = v.to_str().ok()?;
        v.split(',').find_map(|part| {
            let (url, params) = part.trim().split_once(';')?;
            params
                .split(';')
                .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"))
                .then(|| {
                    url.trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_owned()
                })
        })
    })
}

fn header_u64(headers: &ureq::http::HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// How long until the rate limit resets (`X-Rate-Limit-Reset`, epoch seconds).
fn until_reset(headers: &ureq::http::HeaderMap) -> Option<Duration> {
    let reset = header_u64(headers, "x-rate-limit-reset")?;
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
    Some(Duration::from_secs(reset.saturating_sub(now) + 1))
}

/// One page: its events (original text) and the next URL.
struct Page {
    events: Vec<Box<RawValue>>,
    next: Option<String>,
    headers: ureq::http::HeaderMap,
}

/// Pull what the org logged since the cursor (or `since`), page by page, into `out`.
/// `log` hears waits and retries.
///
/// # Errors
/// A request keeps failing past the retries, the API refuses the token, or a file
/// cannot be written; the pages written before stay, with their cursor.
pub fn pull_okta(cfg: &OktaPull, log: &dyn Fn(&str)) -> Result<Pulled, PullError> {
    fs_err::create_dir_all(&cfg.out).map_err(io(&cfg.out))?;
    let org = cfg.org.trim_end_matches('/');
    if !(org.starts_with("https://") || org.starts_with("http://")) {
        return Err(PullError::Config(format!(
            "--org {org:?}: the org's URL, like https://acme.okta.com"
        )));
    }
    let mut cursor = cursor(&cfg.out)?;
    let since = match &cursor {
        Some(c) => c.published.clone(),
        None => match &cfg.since {
            Some(s) => s.clone(),
            None => (chrono::Utc::now() - chrono::Duration::hours(24))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        },
    };
    let mut url = format!(
        "{org}/api/v1/logs?since={}&sortOrder=ASCENDING&limit={}",
        encode(&since),
        cfg.limit
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(cfg.timeout))
        .http_status_as_error(false)
        .user_agent(concat!("midgame/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut done = Pulled::default();
    loop {
        let page = fetch(&agent, cfg, &url, &mut done, log)?;
        done.pages += 1;
        let seen = cursor.as_ref();
        let mut kept: Vec<&RawValue> = Vec::new();
        let mut last = cursor.clone();
        for e in &page.events {
            let Ok(s) = serde_json::from_str::<Stamp>(e.get()) else {
                // Not an event with an id and a time: kept, the ingest will say what it is.
                kept.push(e);
                continue;
            };
            if seen.is_some_and(|c| c.published == s.published && c.uuids.contains(&s.uuid)) {
                continue;
            }
            kept.push(e);
            match &mut last {
                Some(c) if c.published == s.published => {
                    c.uuids.insert(s.uuid);
                }
                _ => {
                    last = Some(Cursor {
                        published: s.published,
                        uuids: BTreeSet::from([s.uuid]),
                    });
                }
            }
        }
        if !kept.is_empty() {
            let path = write_page(&cfg.out, &kept)?;
            done.events += kept.len() as u64;
            done.files.push(path);
            if let Some(c) = &last {
                save_cursor(&cfg.out, c)?;
            }
            cursor = last;
        }
        // Polling in time order: an empty page means the pull has caught up.
        if page.events.is_empty() {
            break;
        }
        let Some(next) = page.next else { break };
        url = next;
        if header_u64(&page.headers, "x-rate-limit-remaining") == Some(0)
            && let Some(wait) = until_reset(&page.headers)
        {
            if wait > cfg.max_wait {
                log(&format!(
                    "rate limit reached; it resets in {} s, past the {} s this pull waits: the rest waits for the next pull",
                    wait.as_secs(),
                    cfg.max_wait.as_secs()
                ));
                done.rate_limited = true;
                break;
            }
            log(&format!(
                "rate limit reached; waiting {} s for it to reset",
                wait.as_secs()
            ));
            std::thread::sleep(wait);
        }
    }
    Ok(done)
}

/// One GET with its retries: a 429 waits for the reset, a 5xx or a dropped connection
/// waits a doubling backoff.
fn fetch(
    agent: &ureq::Agent,
    cfg: &OktaPull,
    url: &str,
    done: &mut Pulled,
    log: &dyn Fn(&str),
) -> Result<Page, PullError> {
    let mut backoff = cfg.backoff;
    let mut attempt = 0u32;
    loop {
        let fail = |reason: String| PullError::Api {
            url: url.to_owned(),
            reason,
        };
        let result = agent
            .get(url)
            .header("Authorization", format!("SSWS {}", cfg.token))
            .header("Accept", "application/json")
            .call();
        let wait = match result {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                match status {
                    200 => {
                        let body = resp
                            .body_mut()
                            .with_config()
                            .limit(256 << 20)
                            .read_to_string();
                        match body {
                            Ok(text) => {
                                let events: Vec<Box<RawValue>> = serde_json::from_str(&text)
                                    .map_err(|e| {
                                        fail(format!("not a JSON array of events: {e}"))
                                    })?;
                                return Ok(Page {
                                    events,
                                    next: next_link(&headers),
                                    headers,
                                });
                            }
                            // The connection dropped in the middle of the body.
                            Err(e) => {
                                log(&format!("{url}: the answer broke off ({e}); asking again"));
                                backoff
                            }
                        }
                    }
                    429 => {
                        let wait = until_reset(&headers).unwrap_or(backoff);
                        if wait > cfg.max_wait {
                            return Err(fail(format!(
                                "429 Too Many Requests, resetting in {} s (past the {} s a pull waits)",
                                wait.as_secs(),
                                cfg.max_wait.as_secs()
                            )));
                        }
                        log(&format!(
                            "429 Too Many Requests; waiting {} s for the reset",
                            wait.as_secs()
                        ));
                        wait
                    }
                    401 | 403 => {
                        return Err(fail(format!(
                            "{status}: the token was refused (is it an API token of this org, with read access to the System Log?)"
                        )));
                    }
                    s if s >= 500 => {
                        log(&format!("{url}: {s}; asking again"));
                        backoff
                    }
                    s => {
                        let text = resp.body_mut().read_to_string().unwrap_or_default();
                        return Err(fail(format!(
                            "{s}: {}",
                            text.chars().take(200).collect::<String>()
                        )));
                    }
                }
            }
            Err(e) => {
                log(&format!("{url}: {e}; asking again"));
                backoff
            }
        };
        attempt += 1;
        if attempt > cfg.retries {
            return Err(fail(format!("still failing after {} retries", cfg.retries)));
        }
        done.retries += 1;
        std::thread::sleep(wait);
        backoff = (backoff * 2).min(Duration::from_secs(60));
    }
}

/// A page's events as one gzip NDJSON file, named by its first event's time so that the
/// files sort in time order; written under a temporary name and renamed.
fn write_page(out: &Path, events: &[&RawValue]) -> Result<PathBuf, PullError> {
    let first = events
        .iter()
        .find_map(|e| serde_json::from_str::<Stamp>(e.get()).ok());
    let (time, id) = match &first {
        Some(s) => (
            chrono::DateTime::parse_from_rfc3339(&s.published)
                .map(|t| {
                    t.with_timezone(&chrono::Utc)
                        .format("%Y%m%dT%H%M%S%3fZ")
                        .to_string()
                })
                .unwrap_or_else(|_| "00000000T000000000Z".to_owned()),
            s.uuid
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(12)
                .collect::<String>(),
        ),
        None => ("00000000T000000000Z".to_owned(), "none".to_owned()),
    };
    let path = out.join(format!("okta-{time}-{id}.ndjson.gz"));
    let mut tmp = tempfile::Builder::new()
        .prefix(".okta-")
        .suffix(".tmp")
        .tempfile_in(out)
        .map_err(io(out))?;
    {
        let mut gz =
            flate2::write::GzEncoder::new(tmp.as_file_mut(), flate2::Compression::default());
        for e in events {
            gz.write_all(e.get().as_bytes()).map_err(io(&path))?;
            gz.write_all(b"\n").map_err(io(&path))?;
        }
        gz.finish().map_err(io(&path))?;
    }
    tmp.as_file().sync_all().map_err(io(&path))?;
    tmp.persist(&path).map_err(|e| io(&path)(e.error))?;
    crashpoint("pulled page written");
    Ok(path)
}

fn save_cursor(out: &Path, c: &Cursor) -> Result<(), PullError> {
    let path = out.join(CURSOR_FILE);
    let mut tmp = tempfile::Builder::new()
        .prefix(".okta-cursor-")
        .tempfile_in(out)
        .map_err(io(out))?;
    serde_json::to_writer_pretty(tmp.as_file_mut(), c)
        .map_err(|e| io(&path)(std::io::Error::other(e)))?;
    tmp.as_file().sync_all().map_err(io(&path))?;
    tmp.persist(&path).map_err(|e| io(&path)(e.error))?;
    crashpoint("pull cursor saved");
    Ok(())
}

/// The query-string form of an RFC 3339 time (`+` and `:` escaped).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The crash points of a pull, for the kill tests (`MIDGAME_CRASH_AT`, as the lake's).
fn crashpoint(step: &str) {
    if let Some(hook) = CRASH_HOOK.get() {
        hook(step);
    }
}

/// A function called at each durable step of a pull (the lake's crash-point hook, set by
/// the binary).
pub static CRASH_HOOK: std::sync::OnceLock<fn(&str)> = std::sync::OnceLock::new();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_name_the_next_page() {
        let mut h = ureq::http::HeaderMap::new();
        h.append(
            "link",
            "<https://acme.okta.com/api/v1/logs?limit=2>; rel=\"self\""
                .parse()
                .unwrap(),
        );
        h.append(
            "link",
            "<https://acme.okta.com/api/v1/logs?after=abc&limit=2>; rel=\"next\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://acme.okta.com/api/v1/logs?after=abc&limit=2")
        );
        assert_eq!(
            encode("2022-08-04T10:00:00.000+02:00"),
            "2022-08-04T10%3A00%3A00.000%2B02%3A00"
        );
    }
}
