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
    let (auth, _, skipped, bad) = parse_both(text);
    (auth, skipped, bad)
}

/// `auth` rows, `admin` rows, records skipped, records bad.
fn parse_both(text: &str) -> (RecordBatch, RecordBatch, u64, usize) {
    let mut framer = Framer::new(text.as_bytes());
    let (mut batches, mut admin, mut skipped, mut bad) = (Vec::new(), Vec::new(), 0, 0);
    while let Some(chunk) = framer.next_chunk().unwrap() {
        assert_eq!(
            SourceKind::recognise(&chunk),
            Some(SourceKind::new(&midgame_sources::entra::Entra))
        );
        let p = SourceKind::new(&midgame_sources::entra::Entra)
            .parse(&chunk, &ParseOptions::new("entra.json"));
        batches.extend(p.auth);
        admin.extend(p.admin);
        skipped += p.skipped;
        bad += p.bad.len();
    }
    (
        arrow::compute::concat_batches(&midgame_schema::auth_schema(), &batches).unwrap(),
        arrow::compute::concat_batches(&midgame_schema::admin_schema(), &admin).unwrap(),
        skipped,
        bad,
    )
}

/// Sekoia's genuine interactive sign-in (`sign-in_activity6.json`) with `patch` laid over
/// its `properties`, as one line.
fn sign_in(patch: &serde_json::Value) -> String {
    let test: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(corpus("sekoia-azure-ad/sign-in_activity6.json")).unwrap(),
    )
    .unwrap();
    let mut r: serde_json::Value =
        serde_json::from_str(test["input"]["message"].as_str().unwrap()).unwrap();
    r["category"] = "SignInLogs".into();
    for (k, v) in patch.as_object().unwrap() {
        r["properties"][k] = v.clone();
    }
    r.to_string()
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
fn sign_ins_are_rows_admin_work_is_admin_rows_and_the_rest_is_skipped() {
    let text = common::compact(common::messages(&corpus("sekoia-azure-ad.messages.ndjson")));
    let (b, admin, skipped, bad) = parse_both(&text.join("\n"));
    assert_eq!(bad, 0);
    assert_eq!(
        (b.num_rows() + admin.num_rows()) as u64 + skipped,
        text.len() as u64
    );
    assert_eq!(
        b.num_rows(),
        8,
        "6 interactive, 1 non-interactive, 1 service principal"
    );
    // A person acting on something else: two domains, an app role, a device's admin
    // password; not a user's self-service or Microsoft's own services.
    let mut actions = col(&admin, "action");
    actions.sort();
    assert_eq!(
        actions,
        [
            Some("Add app role assignment to service principal".to_owned()),
            Some("Add unverified domain".to_owned()),
            Some("Recover device local administrator password".to_owned()),
            Some("Remove unverified domain".to_owned()),
        ]
    );
    let role = col(&admin, "action")
        .iter()
        .position(|a| a.as_deref() == Some("Add app role assignment to service principal"))
        .unwrap();
    let at = |name: &str| col(&admin, name)[role].clone();
    assert_eq!(
        at("user").as_deref(),
        Some("jdoe-aad@example.onmicrosoft.com")
    );
    assert_eq!(at("target_type").as_deref(), Some("ServicePrincipal"));
    assert_eq!(
        at("target_id").as_deref(),
        Some("Office 365 Exchange Online")
    );
    assert_eq!(at("activity_id").as_deref(), Some("1"));
    assert_eq!(at("outcome").as_deref(), Some("success"));
    assert!(
        skipped >= 7,
        "self-service, services, Graph activity, risk events"
    );
}

#[test]
fn a_push_the_user_declined_or_left_is_an_mfa_row_and_an_anonymised_ip_a_proxy() {
    let denied = |details: &str| {
        serde_json::json!({"status": {"errorCode": 500121,
            "failureReason": "Authentication failed during strong authentication request.",
            "additionalDetails": details}, "mfaDetail": {}})
    };
    let lines = [
        sign_in(&denied("MFA denied; user declined the authentication")),
        sign_in(&denied("MFA denied; Phone App Reported Fraud")),
        sign_in(&denied(
            "MFA denied; user did not respond to mobile app notification",
        )),
        sign_in(
            &serde_json::json!({"mfaDetail": {"authMethod": "Mobile app notification"},
            "authenticationRequirement": "multiFactorAuthentication",
            "riskEventTypes_v2": ["anonymizedIPAddress"]}),
        ),
        sign_in(&serde_json::json!({"riskEventTypes_v2": ["unfamiliarFeatures"]})),
    ];
    let (b, skipped, bad) = parse(&lines.join("\n"));
    assert_eq!((b.num_rows(), skipped, bad), (5, 0, 0));
    let activity: Vec<Option<String>> = col(&b, "activity");
    assert_eq!(
        activity,
        [
            "MFA Push Denied",
            "MFA Push Denied",
            "MFA Push",
            "Logon",
            "Logon"
        ]
        .map(|a| Some(a.to_owned()))
    );
    assert_eq!(
        col(&b, "status_detail")[0].as_deref(),
        Some("MFA denied; user declined the authentication")
    );
    assert_eq!(col(&b, "is_mfa")[2].as_deref(), Some("true"));
    assert_eq!(
        col(&b, "mfa_factor")[3].as_deref(),
        Some("Mobile app notification")
    );
    let proxy = col(&b, "is_proxy");
    assert_eq!(proxy[3].as_deref(), Some("true"));
    assert_eq!(proxy[4], None, "Entra said nothing about a proxy");
    assert_eq!(col(&b, "asn")[4].as_deref(), Some("62044"));
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
