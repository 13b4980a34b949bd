//! A stolen Entra session replayed elsewhere reaches `session_hijack`: Entra keeps one
//! `sessionId` across the sign-ins and token refreshes of a browser session, while each
//! sign-in flow gets its own `correlationId`. The records start from Sekoia's genuine
//! diagnostic-settings sign-in (`../shared/corpus/entra`), changed only where the story
//! needs it.

use std::path::{Path, PathBuf};

use midgame_lake::{IngestOptions, Lake};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Sekoia's non-interactive sign-in of john.doe@company.com: sessionId 2222..., from
/// 1.2.3.4 (Paris) in Edge on Windows.
fn genuine() -> Value {
    let path = repo().join("../shared/corpus/entra/sekoia-azure-ad/sign-in_activity6.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (the corpus is ../shared/corpus)", path.display()));
    let test: Value = serde_json::from_str(&text).unwrap();
    serde_json::from_str(test["input"]["message"].as_str().unwrap()).unwrap()
}

/// The genuine record, signed in at `at` by `user` from `ip` with `agent`, in session
/// `session` and sign-in flow `correlation`.
fn sign_in(
    at: &str,
    user: &str,
    ip: &str,
    agent: &str,
    session: &str,
    correlation: &str,
) -> String {
    let mut r = genuine();
    r["time"] = at.into();
    r["callerIpAddress"] = ip.into();
    let p = &mut r["properties"];
    p["createdDateTime"] = at.into();
    p["userPrincipalName"] = user.into();
    p["ipAddress"] = ip.into();
    p["userAgent"] = agent.into();
    p["sessionId"] = session.into();
    p["correlationId"] = correlation.into();
    if ip != "1.2.3.4" {
        p["location"] = serde_json::json!({"city": "Amsterdam", "countryOrRegion": "NL"});
        p["deviceDetail"] = serde_json::json!({});
    }
    r.to_string()
}

const EDGE: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.22631";
const CHROME_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_entra_session_alerts_and_its_look_alikes_do_not() {
    let john = "john.doe@company.com";
    let jane = "jane.roe@company.com";
    let records = [
        // john's browser session, then the same session's refresh token replayed from a
        // hosting address in another browser: a new sign-in flow (correlationId) each.
        sign_in(
            "2025-07-24T15:30:17Z",
            john,
            "1.2.3.4",
            EDGE,
            "s-john",
            "c-1",
        ),
        sign_in(
            "2025-07-24T16:10:00Z",
            john,
            "164.92.190.17",
            CHROME_LINUX,
            "s-john",
            "c-2",
        ),
        // Look-alike: john's second browser is its own session.
        sign_in(
            "2025-07-24T16:20:00Z",
            john,
            "1.2.3.4",
            CHROME_LINUX,
            "s-john-2",
            "c-3",
        ),
        // Look-alike: jane's laptop goes home in the same session and the same browser.
        sign_in(
            "2025-07-24T15:30:00Z",
            jane,
            "1.2.3.4",
            EDGE,
            "s-jane",
            "c-4",
        ),
        sign_in(
            "2025-07-24T18:30:00Z",
            jane,
            "164.92.190.18",
            EDGE,
            "s-jane",
            "c-5",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("entra.json");
    std::fs::write(&logs, records.join("\n") + "\n").unwrap();
    let lake_dir = dir.path().join("lake");
    let lake = Lake::open(&lake_dir).unwrap();
    let summary = lake
        .ingest_file(&logs, &IngestOptions::default(), &|_| {})
        .unwrap();
    assert_eq!(summary.rows(), 5, "{summary:?}");

    let ctx = midgame_detect::open_session(&lake_dir).await.unwrap();
    let f = midgame_detect::run_detections(
        &ctx,
        &[repo().join("queries")],
        &midgame_detect::RunOptions::default(),
    )
    .await
    .unwrap();
    let hijacks: Vec<_> = f
        .alerts
        .iter()
        .filter(|a| a.detection == "session_hijack")
        .collect();
    assert_eq!(hijacks.len(), 1, "{hijacks:#?}");
    let a = hijacks[0];
    assert_eq!(a.user, john);
    assert_eq!(a.evidence["session_id"], "s-john");
    assert_eq!(a.evidence["src_ip_a"], "1.2.3.4");
    assert_eq!(a.evidence["src_ip_b"], "164.92.190.17");
    assert!(a.summary.contains("Amsterdam NL"), "{}", a.summary);
}
