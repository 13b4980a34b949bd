//! The incident report in a real browser: Debian's Chromium, headless, opens the file
//! from disk. The page must load with no console message (a script the policy blocked,
//! a resource it refused, an error: each is one) and no network request of its own, show
//! the intrusion in the rendered DOM, and keep hostile log values as text.
//!
//! Without a Chromium these tests say so and pass, unless `MIDGAME_REQUIRE_BROWSER=1`
//! (as `.ci/run` sets, after installing it). `CHROMIUM` names another binary.
// A skipped test says so, and the screenshot's path is printed for the person running it.
#![allow(clippy::print_stderr)]

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{midgame, ok, repo};

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
        .find(|p| p.is_file())
}

fn browser() -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        assert!(
            std::env::var("MIDGAME_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "no chromium on PATH (apt-get install chromium), and MIDGAME_REQUIRE_BROWSER=1"
        );
        eprintln!("skipped: no chromium on PATH (apt-get install chromium to run this test)");
    }
    found
}

/// What the browser made of a page.
struct Loaded {
    /// The DOM after loading, serialised.
    dom: String,
    /// Console messages (errors, policy violations, logs).
    console: Vec<String>,
    /// Requests the page made (not the browser's own housekeeping).
    requests: Vec<String>,
}

/// Chromium headless as the machine notes say to run it here, with a fresh profile.
fn headless(chromium: &Path, profile: &Path) -> Command {
    let mut c = Command::new(chromium);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

fn load(chromium: &Path, page: &Path) -> Loaded {
    let scratch = tempfile::tempdir().unwrap();
    let netlog = scratch.path().join("netlog.json");
    let out = headless(chromium, &scratch.path().join("profile"))
        .args(["--enable-logging=stderr", "--v=0"])
        .arg(format!("--log-net-log={}", netlog.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        dom.contains("</html>"),
        "chromium did not render {}: {}",
        page.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect();
    Loaded {
        dom,
        console,
        requests: page_requests(&netlog),
    }
}

/// URL requests in Chromium's net log that the page made: the browser's own (update
/// checks, sign-in probes) have no origin; the page's come from `file://`.
fn page_requests(netlog: &Path) -> Vec<String> {
    let mut text = std::fs::read_to_string(netlog).unwrap();
    let log: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|_| {
        // A log the browser did not close: close it.
        text.truncate(text.trim_end().trim_end_matches(',').len());
        text.push_str("]}");
        serde_json::from_str(&text).unwrap()
    });
    let start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
        .as_u64()
        .unwrap();
    log["events"]
        .as_array()
        .unwrap()
        .iter()
        // The job's start carries the URL; its end does not.
        .filter(|e| e["type"].as_u64() == Some(start) && e["params"]["url"].is_string())
        .filter(|e| {
            let p = &e["params"];
            p["initiator"].as_str() != Some("not an origin")
                || p["network_isolation_key"]
                    .as_str()
                    .is_some_and(|k| k.starts_with("file://"))
        })
        .filter_map(|e| e["params"]["url"].as_str().map(str::to_owned))
        .collect()
}

/// The element names of a serialised DOM (quoted attribute values skipped: the
/// serialiser escapes `<` in text, not in attributes).
fn elements(dom: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = dom.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '<' {
            continue;
        }
        let name: String =
            std::iter::from_fn(|| chars.next_if(|c| c.is_ascii_alphanumeric())).collect();
        if !name.is_empty() {
            out.push(name.to_ascii_lowercase());
        }
        let mut quote = None;
        for c in chars.by_ref() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, '>') => break,
                _ => {}
            }
        }
    }
    out
}

fn screenshot(chromium: &Path, page: &Path, png: &Path) {
    let scratch = tempfile::tempdir().unwrap();
    let out = headless(chromium, &scratch.path().join("profile"))
        .arg("--window-size=1280,1500")
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let bytes = std::fs::read(png).unwrap_or_else(|e| {
        panic!(
            "no screenshot at {}: {e}; {}",
            png.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
        "{} bytes",
        bytes.len()
    );
}

#[test]
fn the_demo_ends_with_a_report_that_shows_the_intrusion() {
    let Some(chromium) = browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.html");
    let out = ok(&midgame(&["demo", "--report", path.to_str().unwrap()]));
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with(path.to_str().unwrap()) && last.ends_with("(open it in a browser)"),
        "the demo ends with the report's path: {last}"
    );
    // Outputs are never overwritten.
    let again = midgame(&["demo", "--report", path.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));

    let page = load(&chromium, &path);
    assert!(page.console.is_empty(), "console: {:#?}", page.console);
    assert!(page.requests.is_empty(), "requests: {:#?}", page.requests);
    for text in [
        ">initial access<",
        ">admin access<",
        ">staging<",
        "Amsterdam NL",
        "New York US → Amsterdam NL: 5,859 km in 47 min",
        "<b>209 customers</b>",
        "alice.lee@acme.test",
        "1 incident",
    ] {
        assert!(
            page.dom.contains(text),
            "{text:?} is not in the rendered page"
        );
    }
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size < 2_000_000, "{size} bytes");

    // The artefact a person looks at.
    let png = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sample-report.png");
    let _ = std::fs::remove_file(&png);
    screenshot(&chromium, &path, &png);
    eprintln!("screenshot: {}", png.display());
}

/// The sample logs with the victim's name, the intruder's user agent and the bulk
/// export's action name turned into markup, as plain files in `to`.
fn hostile_samples(to: &Path) {
    for sub in ["okta", "admin"] {
        std::fs::create_dir_all(to.join(sub)).unwrap();
        for e in std::fs::read_dir(repo().join("sample-logs").join(sub)).unwrap() {
            let p = e.unwrap().path();
            let mut text = String::new();
            if p.extension().is_some_and(|x| x == "gz") {
                flate2::read::GzDecoder::new(std::fs::File::open(&p).unwrap())
                    .read_to_string(&mut text)
                    .unwrap();
            } else {
                text = std::fs::read_to_string(&p).unwrap();
            }
            let text: String = text
                .lines()
                .map(|l| {
                    let l = l
                        .replace(
                            "alice.lee@acme.test",
                            "alice.<script>alert(1)</script>@acme.test",
                        )
                        .replace(
                            "customers.bulk_export",
                            "customers.bulk_export<img src=x onerror=alert(3)>",
                        );
                    if l.contains("164.92.190.17") {
                        l.replace(
                            "Safari/537.36\"",
                            "Safari/537.36 <script>alert(2)</script><iframe src=http://127.0.0.1:9/>\"",
                        )
                    } else {
                        l
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            let name = p.file_name().unwrap().to_string_lossy().replace(".gz", "");
            std::fs::write(to.join(sub).join(name), text + "\n").unwrap();
        }
    }
}

#[test]
fn markup_in_logs_stays_text() {
    let Some(chromium) = browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    hostile_samples(&logs);
    let lake = dir.path().join("lake");
    let config = repo().join("sample-logs/midgame.toml");
    let (lake_s, config_s) = (lake.to_str().unwrap(), config.to_str().unwrap());
    ok(&midgame(&[
        "ingest",
        "--lake",
        lake_s,
        "--config",
        config_s,
        logs.to_str().unwrap(),
    ]));
    let path = dir.path().join("hostile.html");
    ok(&midgame(&[
        "report",
        "--lake",
        lake_s,
        "--config",
        config_s,
        "--output",
        path.to_str().unwrap(),
    ]));
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(
        html.contains("alice.&lt;script&gt;alert(1)&lt;/script&gt;@acme.test"),
        "the hostile user is in the report, as text"
    );
    assert!(html.contains("bulk_export&lt;img src=x onerror=alert(3)&gt;"));
    assert!(html.contains("&lt;script&gt;alert(2)&lt;/script&gt;&lt;iframe"));

    let page = load(&chromium, &path);
    let tags = elements(&page.dom);
    for bad in ["script", "img", "iframe"] {
        assert!(
            !tags.iter().any(|t| t == bad),
            "a <{bad}> element in the page"
        );
    }
    assert!(tags.iter().filter(|t| *t == "svg").count() >= 2, "{tags:?}");
    assert!(page.console.is_empty(), "console: {:#?}", page.console);
    assert!(page.requests.is_empty(), "requests: {:#?}", page.requests);
    // Still the same intrusion, under its hostile name.
    assert!(page.dom.contains("1 incident"));
    assert!(
        page.dom
            .contains("alice.&lt;script&gt;alert(1)&lt;/script&gt;@acme.test")
    );
}

#[test]
fn the_checks_would_see_a_script_a_request_and_an_element() {
    // The checks above must be able to fail: a page that runs a script, logs and asks
    // for a resource is caught by each of them.
    let Some(chromium) = browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.html");
    std::fs::write(
        &path,
        "<!DOCTYPE html><html><head><title>t</title></head><body><p id=x>hi</p>\
         <img src=\"http://127.0.0.1:9/y.png\" title=\"a <script> in an attribute\">\
         <script>console.error('boom'); document.getElementById('x').textContent = 'ran';</script></body></html>",
    )
    .unwrap();
    let page = load(&chromium, &path);
    assert!(page.dom.contains("<p id=\"x\">ran</p>"));
    assert!(
        page.console.iter().any(|l| l.contains("boom")),
        "{:#?}",
        page.console
    );
    assert!(
        page.requests
            .iter()
            .any(|u| u.starts_with("http://127.0.0.1:9/")),
        "{:#?}",
        page.requests
    );
    let tags = elements(&page.dom);
    assert!(tags.contains(&"script".to_owned()) && tags.contains(&"img".to_owned()));
    assert_eq!(
        tags.iter().filter(|t| *t == "script").count(),
        1,
        "{tags:?}"
    );
}
