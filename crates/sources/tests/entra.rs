//! Entra ID sign-in logs on real records from `../shared/corpus/entra` (elastic's
//! diagnostic-settings test log, Sekoia's test records; read in place).

mod common;

use std::path::PathBuf;

use arrow::array::RecordBatch;
use common::col;
use midgame_sources::{Framer, ParseOptions, SourceKind};

fn corpus(rel: &str) -> PathBuf {
    common::corpus("entra", rel)
}

fn parse(text: &str) -> (RecordBatch, u64, usize) {
    let mut framer = Framer::new(text.as_bytes());
    let (mut batches, mut skipped, mut bad) = (Vec::new(), 0, 0);
    while let Some(chunk) = framer.next_chunk().unwrap() {
        assert_eq!(
            SourceKind::recognise(&chunk),
            Some(SourceKind::new(&midgame_sources::entra::Entra))
        );
        let p = SourceKind::new(&midgame_sources::entra::Entra)
            .parse(&chunk, &ParseOptions::new("entra.json"));
        batches.extend(p.auth);
        skipped += p.skipped;
        bad += p.bad.len();
    }
    (
        arrow::compute::concat_batches(&midgame_schema::auth_schema(), &batches).unwrap(),
        skipped,
        bad,
    )
}

#[test]
fn diagnostic_settings_sign_ins_map_field_by_field() {
    let (b, skipped, bad) =
        parse(&std::fs::read_to_string(corpus("elastic/test-signinlogs-raw.log")).unwrap());
    assert_eq!((b.num_rows(), skipped, bad), (5, 0, 0));
    let interactive = col(&b, "event_type")
        .iter()
        .position(|c| c.as_deref() == Some("SignInLogs"))
        .unwrap();
    let at = |name: &str| col(&b, name)[interactive].clone();
    assert_eq!(at("user").as_deref(), Some("test@elastic.co"));
    assert_eq!(at("activity").as_deref(), Some("Logon"));
    assert_eq!(at("outcome").as_deref(), Some("failure"), "errorCode 50140");
    assert_eq!(at("src_ip").as_deref(), Some("81.2.69.144"));
    assert_eq!(at("geo_city").as_deref(), Some("Champs-Sur-Marne"));
    assert_eq!(at("geo_country").as_deref(), Some("FR"));
    assert_eq!(at("geo_lat").as_deref(), Some("48.12341234"));
    assert_eq!(at("os").as_deref(), Some("Mac OS X"));
    assert_eq!(at("browser").as_deref(), Some("Chrome"));
    assert_eq!(at("app").as_deref(), Some("Office 365"));
    assert_eq!(
        at("session_id").as_deref(),
        Some("8a4de8b5-095c-47d0-a96f-a75130c61d53")
    );
    assert_eq!(at("device_id"), None, "an empty deviceId is none");
    // createdDateTime -05:00 is 09:45:48.072 UTC.
    assert_eq!(at("time_ms").as_deref(), Some("1571391948072"));
    let activities = col(&b, "activity");
    assert_eq!(
        activities
            .iter()
            .filter(|a| a.as_deref() == Some("SSO"))
            .count(),
        1
    );
    assert_eq!(
        activities
            .iter()
            .filter(|a| a.as_deref() == Some("Service Logon"))
            .count(),
        3,
        "service principals and managed identities are not people signing in"
    );
}

#[test]
fn sign_ins_are_rows_and_other_entra_records_are_skipped() {
    let text = common::compact(common::messages(&corpus("sekoia-azure-ad.messages.ndjson")));
    let (b, skipped, bad) = parse(&text.join("\n"));
    assert_eq!(bad, 0);
    assert_eq!(b.num_rows() as u64 + skipped, text.len() as u64);
    assert_eq!(
        b.num_rows(),
        8,
        "6 interactive, 1 non-interactive, 1 service principal"
    );
    assert!(skipped >= 11, "audit logs, Graph activity, risk events");
}

#[test]
fn a_broken_record_is_quarantined_with_its_line_and_the_rest_kept() {
    let good = std::fs::read_to_string(corpus("elastic/test-signinlogs-raw.log")).unwrap();
    let first = good.lines().next().unwrap();
    let text = format!(
        "{first}\n{{\"category\":\"SignInLogs\",\"properties\":{{\"userPrincipalName\":\"a@b.c\"}}}}\n{{\"category\": \"SignInLogs\",\n"
    );
    let mut framer = Framer::new(text.as_bytes());
    let chunk = framer.next_chunk().unwrap().unwrap();
    let p = SourceKind::new(&midgame_sources::entra::Entra)
        .parse(&chunk, &ParseOptions::new("entra.json"));
    assert_eq!(p.auth.unwrap().num_rows(), 1);
    let bad: Vec<(u64, &str)> = p.bad.iter().map(|b| (b.line, b.reason.as_str())).collect();
    assert_eq!(bad[0], (2, "missing `createdDateTime`"));
    assert_eq!(bad[1].0, 3);
}

#[test]
fn session_id_is_the_browser_sessions_id_where_the_record_has_one() {
    // Sekoia's diagnostic-settings sign-ins: three carry `properties.sessionId`, which
    // outlives each sign-in flow's `correlationId`.
    let text = common::compact(common::messages(&corpus("sekoia-azure-ad.messages.ndjson")));
    let (b, _, _) = parse(&text.join("\n"));
    let sessions: Vec<Option<String>> = col(&b, "session_id");
    for (session, correlation) in [
        (
            "22222222-2222-2222-2222-222222222222",
            "44444444-4444-4444-4444-444444444444",
        ),
        (
            "11111111-1111-1111-1111-666666666666",
            "11111111-1111-1111-4444-222222222222",
        ),
        ("99999999-9999-9999-9999-999999999999", ""),
    ] {
        assert!(
            sessions.iter().any(|s| s.as_deref() == Some(session)),
            "{session} in {sessions:?}"
        );
        assert!(
            correlation.is_empty() || !sessions.iter().any(|s| s.as_deref() == Some(correlation)),
            "the correlationId {correlation} is not the session"
        );
    }
    // A record without `sessionId` keeps its `correlationId` (elastic's log has none).
    let (b, _, _) =
        parse(&std::fs::read_to_string(corpus("elastic/test-signinlogs-raw.log")).unwrap());
    assert!(
        col(&b, "session_id")
            .iter()
            .all(|s| s.as_deref().is_some_and(|s| s.len() == 36)),
        "every row has its correlationId"
    );
}
