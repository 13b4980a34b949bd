//! `midgame pull okta` against a local System Log API on 127.0.0.1 that does what Okta
//! documents: `since`/`after` paging with `Link: rel="next"` (always there when polling),
//! `X-Rate-Limit-*` headers, and, on cue, a 429, a 500, a dropped connection and a body
//! cut short. A pull killed half-way resumes with nothing lost or doubled.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{bin, midgame, stderr};

const TOKEN: &str = "00aBcD-test-token";

/// An Okta sign-in event: what the okta source reads.
fn event(i: usize, published: &str) -> String {
    format!(
        r#"{{"uuid":"ev-{i:05}","published":"{published}","eventType":"user.session.start","displayMessage":"User login to Okta","severity":"INFO","actor":{{"id":"00u{i}","type":"User","alternateId":"user{u}@acme.test","displayName":"User {u}"}},"client":{{"ipAddress":"198.51.100.{h}","userAgent":{{"rawUserAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/103.0.0.0 Safari/537.36","os":"Mac OS X","browser":"CHROME"}}}},"outcome":{{"result":"SUCCESS"}},"authenticationContext":{{"externalSessionId":"s{u}"}},"target":[]}}"#,
        u = i % 17,
        h = i % 200 + 1
    )
}

/// The org's log: events three to a millisecond now and then, so that a page boundary
/// falls inside one timestamp.
fn dataset(n: usize) -> Vec<(String, String)> {
    let base = chrono::DateTime::parse_from_rfc3339("2022-08-04T00:00:00Z").unwrap();
    (0..n)
        .map(|i| {
            let ms = (i / 3) as i64 * 1000;
            let t = (base + chrono::Duration::milliseconds(ms))
                .with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            (format!("ev-{i:05}"), event(i, &t))
        })
        .collect()
}

/// What the server does on the nth request (1-based) besides answering.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fault {
    TooMany,
    ServerError,
    Dropped,
    CutBody,
}

struct Api {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

fn query(path: &str) -> BTreeMap<String, String> {
    path.split_once('?')
        .map(|(_, q)| q)
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let mut out = String::new();
            let b = v.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' && i + 2 < b.len() + 1 {
                    out.push(char::from(
                        u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap(),
                    ));
                    i += 3;
                } else {
                    out.push(char::from(b[i]));
                    i += 1;
                }
            }
            (k.to_owned(), out)
        })
        .collect()
}

/// A System Log API over `events` on 127.0.0.1: faults on the requests `faults` names,
/// each answer `delay` late.
fn serve(events: Vec<(String, String)>, faults: Vec<(usize, Fault)>, delay: Duration) -> Api {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    let base = url.clone();
    std::thread::spawn(move || {
        let mut n = 0usize;
        let mut remaining = 50u32;
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut r = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            if r.read_line(&mut first).is_err() {
                continue;
            }
            let mut auth = String::new();
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("authorization:") {
                    auth = v.trim().to_owned();
                }
            }
            n += 1;
            let path = first.split_whitespace().nth(1).unwrap_or("").to_owned();
            seen.lock().unwrap().push(path.clone());
            std::thread::sleep(delay);
            let respond = |s: &mut TcpStream, status: &str, headers: &str, body: &str| {
                let _ = write!(
                    s,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
                    body.len()
                );
            };
            if auth != format!("ssws {}", TOKEN.to_ascii_lowercase()) {
                respond(
                    &mut stream,
                    "401 Unauthorized",
                    "",
                    "{\"errorCode\":\"E0000011\"}",
                );
                continue;
            }
            let reset = chrono::Utc::now().timestamp() + 1;
            match faults.iter().find(|(at, _)| *at == n).map(|(_, f)| *f) {
                Some(Fault::TooMany) => {
                    respond(
                        &mut stream,
                        "429 Too Many Requests",
                        &format!(
                            "X-Rate-Limit-Limit: 50\r\nX-Rate-Limit-Remaining: 0\r\nX-Rate-Limit-Reset: {reset}\r\n"
                        ),
                        "{\"errorCode\":\"E0000047\"}",
                    );
                    continue;
                }
                Some(Fault::ServerError) => {
                    respond(&mut stream, "500 Internal Server Error", "", "{}");
                    continue;
                }
                Some(Fault::Dropped) => {
                    drop(stream);
                    continue;
                }
                _ => {}
            }
            let q = query(&path);
            let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
            let start = match (q.get("after"), q.get("since")) {
                (Some(a), _) => a.parse::<usize>().unwrap(),
                (None, Some(since)) => {
                    let since = chrono::DateTime::parse_from_rfc3339(since).unwrap();
                    events
                        .iter()
                        .position(|(_, e)| {
                            let v: serde_json::Value = serde_json::from_str(e).unwrap();
                            chrono::DateTime::parse_from_rfc3339(v["published"].as_str().unwrap())
                                .unwrap()
                                >= since
                        })
                        .unwrap_or(events.len())
                }
                _ => 0,
            };
            let end = (start + limit).min(events.len());
            let body = format!(
                "[{}]",
                events[start..end]
                    .iter()
                    .map(|(_, e)| e.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            );
            remaining = if remaining == 0 { 50 } else { remaining - 1 };
            let headers = format!(
                "Link: <{base}/api/v1/logs?limit={limit}>; rel=\"self\"\r\nLink: <{base}/api/v1/logs?after={end}&limit={limit}>; rel=\"next\"\r\nX-Rate-Limit-Limit: 50\r\nX-Rate-Limit-Remaining: {}\r\nX-Rate-Limit-Reset: {reset}\r\n",
                if n.is_multiple_of(5) { 0 } else { remaining }
            );
            if faults
                .iter()
                .any(|(at, f)| *at == n && *f == Fault::CutBody)
            {
                // Promise the whole body, send half, hang up.
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{}",
                    body.len(),
                    &body[..body.len() / 2]
                );
                continue;
            }
            respond(&mut stream, "200 OK", &headers, &body);
        }
    });
    Api { url, requests }
}

/// Every event id in the pulled files, with how many times it was written.
fn pulled_ids(dir: &Path) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if !p.to_string_lossy().ends_with(".ndjson.gz") {
            continue;
        }
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&p).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            *out.entry(v["uuid"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    out
}

fn pull(api: &Api, out: &Path) -> std::process::Command {
    let mut c = bin();
    c.env("OKTA_TEST_TOKEN", TOKEN).args([
        "pull",
        "okta",
        "--org",
        &api.url,
        "--token-env",
        "OKTA_TEST_TOKEN",
        "--limit",
        "200",
        "--since",
        "2022-08-04T00:00:00.000Z",
        "--out",
        out.to_str().unwrap(),
    ]);
    c
}

#[test]
fn a_pull_follows_the_pages_through_rate_limits_and_failures_and_ingests() {
    let events = dataset(2500);
    let api = serve(
        events.clone(),
        vec![
            (2, Fault::TooMany),
            (4, Fault::ServerError),
            (6, Fault::Dropped),
            (8, Fault::CutBody),
        ],
        Duration::ZERO,
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("okta-api");
    let o = pull(&api, &out).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("pulled 2500 events") && err.contains("(4 retries)"),
        "{err}"
    );
    assert!(err.contains("429"), "{err}");
    let ids = pulled_ids(&out);
    assert_eq!(ids.len(), 2500, "every event");
    assert!(ids.values().all(|n| *n == 1), "none twice");
    let requests = api.requests.lock().unwrap().clone();
    assert!(
        requests[0].contains("since=2022-08-04T00%3A00%3A00.000Z"),
        "{requests:?}"
    );
    assert!(requests[0].contains("sortOrder=ASCENDING"));
    assert!(
        requests.iter().skip(5).any(|r| r.contains("after=")),
        "follows the next links"
    );
    // Caught up: the next pull asks from the cursor (the last event's time, inclusive)
    // and writes nothing.
    let asked = api.requests.lock().unwrap().len();
    let o = pull(&api, &out).output().unwrap();
    assert!(stderr(&o).contains("pulled 0 events"), "{}", stderr(&o));
    assert_eq!(pulled_ids(&out).len(), 2500);
    let first = api.requests.lock().unwrap()[asked].clone();
    assert!(
        first.contains("since=2022-08-04T00%3A13%3A53.000Z"),
        "{first}"
    );
    // What it wrote is an archive like any other.
    let lake = dir.path().join("lake");
    let o = midgame(&[
        "ingest",
        "--lake",
        lake.to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("2,500 rows"), "{}", stderr(&o));
    // A wrong token is one clear error.
    let o = pull(&api, &dir.path().join("x"))
        .env("OKTA_TEST_TOKEN", "wrong")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("the token was refused"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_pull_killed_half_way_resumes_with_nothing_lost_or_doubled() {
    let events = dataset(3000);
    let want: BTreeSet<String> = events.iter().map(|(id, _)| id.clone()).collect();
    let dir = tempfile::tempdir().unwrap();
    // Killed at each durable step of the first pages (page written, cursor saved)...
    for step in 1..=5 {
        let api = serve(events.clone(), vec![], Duration::ZERO);
        let out = dir.path().join(format!("crash-{step}"));
        let o = pull(&api, &out)
            .env("MIDGAME_CRASH_AT", step.to_string())
            .output()
            .unwrap();
        assert!(!o.status.success(), "step {step} reached");
        let o = pull(&api, &out).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let ids = pulled_ids(&out);
        assert_eq!(
            ids.keys().cloned().collect::<BTreeSet<_>>(),
            want,
            "step {step}: every event"
        );
        assert!(ids.values().all(|n| *n == 1), "step {step}: none twice");
    }
    // ...and with SIGKILL in the middle of the pages.
    let api = serve(events.clone(), vec![], Duration::from_millis(150));
    let out = dir.path().join("sigkill");
    let mut child = pull(&api, &out).spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while pages(&out) < 4 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    child.wait().unwrap();
    let before = pulled_ids(&out).len();
    assert!(before > 0 && before < 3000, "killed half-way: {before}");
    let o = pull(&api, &out).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let ids = pulled_ids(&out);
    assert_eq!(ids.keys().cloned().collect::<BTreeSet<_>>(), want);
    assert!(ids.values().all(|n| *n == 1));
    // Old page files rotated away: the cursor file alone carries on.
    for p in page_files(&out) {
        std::fs::remove_file(p).unwrap();
    }
    let o = pull(&api, &out).output().unwrap();
    assert!(stderr(&o).contains("pulled 0 events"), "{}", stderr(&o));
}

fn page_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().path())
                .filter(|p| p.to_string_lossy().ends_with(".ndjson.gz"))
                .collect()
        })
        .unwrap_or_default()
}

fn pages(dir: &Path) -> usize {
    page_files(dir).len()
}

#[test]
fn a_scheduled_run_pulls_then_ingests() {
    let events = dataset(900);
    let api = serve(events, vec![], Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("midgame.toml");
    std::fs::write(
        &cfg,
        format!(
            "[lake]\npath = \"lake\"\n[[pull]]\nsource = \"okta\"\norg = \"{}\"\ntoken_env = \"OKTA_TEST_TOKEN\"\nout = \"okta-api\"\nsince = \"2022-08-04T00:00:00Z\"\nlimit = 250\n",
            api.url
        ),
    )
    .unwrap();
    let run = || {
        let o = bin()
            .env("OKTA_TEST_TOKEN", TOKEN)
            .args(["run", "--config"])
            .arg(&cfg)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .to_owned()
    };
    let first = run();
    assert!(
        first.contains("pulled=900") && first.contains("events=900"),
        "{first}"
    );
    let second = run();
    assert!(
        second.contains("pulled=0") && second.contains("events=0"),
        "{second}"
    );
}
