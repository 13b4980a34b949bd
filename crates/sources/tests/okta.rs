//! The Okta source on real System Log events (fixtures: see `fixtures/okta/*/ORIGIN.md`).

use std::io::Write;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int32Type, Int64Type};
use midgame_schema::IdentityMap;
use midgame_sources::{BadRecord, Framer, ParseOptions, SourceKind, decoded};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/okta")
        .join(name)
}

/// Frame and parse `bytes` as Okta, chunk by chunk.
fn parse_bytes(bytes: Vec<u8>, opts: &ParseOptions) -> (Vec<RecordBatch>, Vec<BadRecord>) {
    let reader = decoded(std::io::Cursor::new(bytes)).unwrap();
    let mut framer = Framer::with_chunk_bytes(reader, 4096);
    let (mut batches, mut bad) = (Vec::new(), Vec::new());
    while let Some(chunk) = framer.next_chunk().unwrap() {
        let parsed = SourceKind::new(&midgame_sources::okta::Okta).parse(&chunk, opts);
        batches.extend(parsed.auth);
        bad.extend(parsed.bad);
    }
    (batches, bad)
}

fn one_batch(batches: Vec<RecordBatch>) -> RecordBatch {
    arrow::compute::concat_batches(&midgame_schema::auth_schema(), &batches).unwrap()
}

fn s<'a>(b: &'a RecordBatch, col: &str, row: usize) -> Option<&'a str> {
    let a = b.column_by_name(col).unwrap().as_string::<i32>();
    a.is_valid(row).then(|| a.value(row))
}

fn i64_at(b: &RecordBatch, col: &str, row: usize) -> Option<i64> {
    let a = b.column_by_name(col).unwrap().as_primitive::<Int64Type>();
    a.is_valid(row).then(|| a.value(row))
}

fn f64_at(b: &RecordBatch, col: &str, row: usize) -> Option<f64> {
    let a = b.column_by_name(col).unwrap().as_primitive::<Float64Type>();
    a.is_valid(row).then(|| a.value(row))
}

fn bool_at(b: &RecordBatch, col: &str, row: usize) -> Option<bool> {
    let a = b.column_by_name(col).unwrap().as_boolean();
    a.is_valid(row).then(|| a.value(row))
}

#[test]
fn victim_sign_in_maps_field_by_field() {
    let bytes = std::fs::read(fixture("panther/victim_okta.ndjson")).unwrap();
    let (batches, bad) = parse_bytes(bytes, &ParseOptions::new("victim_okta.ndjson"));
    assert!(bad.is_empty(), "{bad:?}");
    let b = one_batch(batches);
    assert_eq!(b.num_rows(), 1);
    assert_eq!(i64_at(&b, "time_ms", 0), Some(1_603_773_531_650)); // 2020-10-27T04:38:51.650Z
    assert_eq!(s(&b, "source", 0), Some("okta"));
    assert_eq!(
        b.column_by_name("class_uid")
            .unwrap()
            .as_primitive::<Int32Type>()
            .value(0),
        3002
    );
    assert_eq!(
        b.column_by_name("activity_id")
            .unwrap()
            .as_primitive::<Int32Type>()
            .value(0),
        1
    );
    assert_eq!(s(&b, "event_type", 0), Some("user.session.start"));
    assert_eq!(s(&b, "activity", 0), Some("Logon"));
    assert_eq!(s(&b, "outcome", 0), Some("success"));
    assert_eq!(s(&b, "status_detail", 0), None);
    assert_eq!(s(&b, "user", 0), Some("tracey.stone@acme.io"));
    assert_eq!(s(&b, "user_raw", 0), Some("tracey.stone@acme.io"));
    assert_eq!(s(&b, "src_ip", 0), Some("71.253.251.71"));
    assert_eq!(f64_at(&b, "geo_lat", 0), Some(37.7852));
    assert_eq!(f64_at(&b, "geo_lon", 0), Some(-122.3874));
    assert_eq!(s(&b, "geo_city", 0), Some("San Francisco"));
    assert_eq!(s(&b, "geo_country", 0), Some("US"));
    assert_eq!(i64_at(&b, "asn", 0), None);
    assert_eq!(bool_at(&b, "is_proxy", 0), None);
    assert_eq!(
        s(&b, "device_id", 0),
        Some("164995752e4644fce6833bf4cafa9cca")
    );
    assert!(
        s(&b, "user_agent", 0)
            .unwrap()
            .contains("Chrome/86.0.4240.111")
    );
    assert_eq!(s(&b, "os", 0), Some("Mac OS X"));
    assert_eq!(s(&b, "browser", 0), Some("Chrome"));
    assert_eq!(s(&b, "session_id", 0), Some("102F5M3O5P6Rge8yFXs55YsJg"));
    assert_eq!(s(&b, "app", 0), None);
    assert_eq!(s(&b, "mfa_factor", 0), None);
    assert_eq!(s(&b, "file", 0), Some("victim_okta.ndjson"));
    assert_eq!(i64_at(&b, "line", 0), Some(1));
    assert!(
        s(&b, "raw", 0)
            .unwrap()
            .starts_with("{\"uuid\": \"776aaebb")
    );
}

#[test]
fn attacker_lands_under_the_victims_identity_through_aliases() {
    let bytes = std::fs::read(fixture("panther/attacker_okta.ndjson")).unwrap();
    let mut opts = ParseOptions::new("attacker_okta.ndjson");
    opts.identities = IdentityMap::new(Some("acme.io"));
    opts.identities
        .add_aliases_csv("tracey_stone@acme.io,tracey.stone@acme.io\n")
        .unwrap();
    let (batches, bad) = parse_bytes(bytes, &opts);
    assert!(bad.is_empty(), "{bad:?}");
    let b = one_batch(batches);
    assert_eq!(b.num_rows(), 2);
    for row in 0..2 {
        assert_eq!(s(&b, "user", row), Some("tracey.stone@acme.io"));
        assert_eq!(s(&b, "user_raw", row), Some("tracey_stone@acme.io"));
        assert_eq!(s(&b, "geo_city", row), Some("Bucharest"));
        assert_eq!(s(&b, "geo_country", row), Some("RO"));
    }
    assert_eq!(
        s(&b, "device_id", 0),
        Some("164995752e4644fce6833bf4cafaxxxxx")
    );
    assert_eq!(
        s(&b, "device_id", 1),
        Some("164995752e4644fce6833bf4cafaxxxx")
    );
    assert_eq!(s(&b, "outcome", 0), Some("failure"));
    assert_eq!(s(&b, "status_detail", 0), Some("VERIFICATION_ERROR"));
    assert_eq!(i64_at(&b, "line", 1), Some(2));
}

#[test]
fn rule_tests_every_event_is_a_row_or_a_counted_bad_record() {
    let bytes = std::fs::read(fixture("panther/rule-tests.ndjson")).unwrap();
    let (batches, bad) = parse_bytes(bytes, &ParseOptions::new("rule-tests.ndjson"));
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows + bad.len(), 88, "nothing is lost");
    // Rule tests trimmed to a rule's fields often lack `published`; they are quarantined,
    // with the reason, never guessed.
    let reasons: Vec<&str> = bad.iter().map(|b| b.reason.as_str()).collect();
    assert!(
        reasons.iter().all(|r| matches!(
            *r,
            "missing `published`"
                | "missing `eventType`"
                | "`published` is not a timestamp: \"redacted\""
        )),
        "{reasons:?}"
    );
    assert!(bad.iter().any(|b| b.line == 50));
    // Lower-cased keys (`eventtype`, `debugcontext`) are read like the real ones.
    let b = one_batch(batches);
    let lower = (0..b.num_rows())
        .find(|&r| s(&b, "raw", r).unwrap().contains("\"eventtype\""))
        .expect("a lower-cased event with a time");
    assert!(s(&b, "event_type", lower).is_some());
    assert!(s(&b, "user", lower).is_some());
    // Every event keeps its evidence.
    assert!((0..b.num_rows()).all(|r| s(&b, "raw", r).is_some()));
}

#[test]
fn array_ndjson_gzip_and_bom_crlf_give_the_same_rows() {
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(fixture("panther/brute_force_logins.ndjson"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    let ndjson = lines
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let array = serde_json::to_vec_pretty(&lines).unwrap();
    let bom_crlf = format!("\u{feff}{}\r\n\r\n", ndjson.replace('\n', "\r\n\r\n"));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(ndjson.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();

    let key = |bytes: Vec<u8>| {
        let (batches, bad) = parse_bytes(bytes, &ParseOptions::new("f"));
        assert!(bad.is_empty(), "{bad:?}");
        let b = one_batch(batches);
        (0..b.num_rows())
            .map(|r| {
                (
                    i64_at(&b, "time_ms", r),
                    s(&b, "user", r).map(str::to_owned),
                    s(&b, "outcome", r).map(str::to_owned),
                    s(&b, "src_ip", r).map(str::to_owned),
                )
            })
            .collect::<Vec<_>>()
    };
    let want = key(ndjson.clone().into_bytes());
    assert_eq!(want.len(), 10);
    assert_eq!(key(array), want, "pretty JSON array");
    assert_eq!(key(gz), want, "gzip");
    assert_eq!(key(bom_crlf.into_bytes()), want, "BOM + CRLF + blank lines");
}

#[test]
fn broken_lines_are_quarantined_with_their_line_numbers_and_the_rest_ingests() {
    let good = std::fs::read_to_string(fixture("panther/legit_login.ndjson")).unwrap();
    let good: Vec<&str> = good.lines().collect();
    let text = format!(
        "{}\n{{\"published\": \"2020-10-27T04:38:51.650Z\", \"eventType\": \n{}\nnot json at all\n{}\n{{\"eventType\":\"user.session.start\",\"published\":\"last tuesday\"}}\n@@BAD@@\n{}\n",
        good[0], good[1], good[2], good[3]
    );
    let mut bytes = text.into_bytes();
    // A line of invalid UTF-8 where the placeholder stands.
    let pos = bytes.windows(7).position(|w| w == b"@@BAD@@").unwrap();
    bytes.splice(pos..pos + 7, [0xff, 0xfe]);
    let (batches, bad) = parse_bytes(bytes, &ParseOptions::new("broken.ndjson"));
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows, 4);
    let got: Vec<(u64, &str)> = bad.iter().map(|b| (b.line, b.reason.as_str())).collect();
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(got[0].0, 2);
    assert!(
        got[0].1.starts_with("invalid JSON: EOF while parsing"),
        "{}",
        got[0].1
    );
    assert_eq!(
        got[1],
        (4, "not a JSON object (expected an Okta System Log event)")
    );
    assert_eq!(
        got[2],
        (6, "`published` is not a timestamp: \"last tuesday\"")
    );
    assert_eq!(got[3], (7, "not UTF-8 text (byte 0 of the record)"));
}

/// Sekoia's Okta test events may not be copied into the project (no licence), so this
/// test reads them from `../shared/corpus` where it exists.
#[test]
fn sekoia_reference_events_parse_field_by_field() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/okta/sekoia-okta-system-logs.messages.ndjson");
    let Ok(text) = std::fs::read_to_string(&corpus) else {
        panic!(
            "shared corpus not found at {}: CI always has it; clone ../shared beside the repo",
            corpus.display()
        );
    };
    let messages: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["message"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(messages.len(), 10);
    // Some messages are pretty-printed: ship them as the JSON array an export would be.
    let array = format!("[{}]", messages.join(","));
    let (batches, bad) = parse_bytes(array.into_bytes(), &ParseOptions::new("sekoia"));
    assert!(bad.is_empty(), "{bad:?}");
    let b = one_batch(batches);
    assert_eq!(b.num_rows(), 10);
    let lock = (0..10)
        .find(|&r| s(&b, "event_type", r) == Some("user.account.lock"))
        .unwrap();
    assert_eq!(s(&b, "activity", lock), Some("Account Lock"));
    assert_eq!(s(&b, "outcome", lock), Some("failure"));
    assert_eq!(s(&b, "status_detail", lock), Some("LOCKED_OUT"));
    assert_eq!(s(&b, "user", lock), Some("john.doe@example.com"));
    assert_eq!(s(&b, "src_ip", lock), Some("1.2.3.4"));
    assert_eq!(s(&b, "geo_city", lock), Some("Paris"));
    assert_eq!(s(&b, "geo_country", lock), Some("FR"));
    assert_eq!(f64_at(&b, "geo_lat", lock), Some(48.856944));
    assert_eq!(i64_at(&b, "asn", lock), Some(123_456));
    assert_eq!(s(&b, "as_org", lock), Some("ACME"));
    assert_eq!(bool_at(&b, "is_proxy", lock), Some(false));
    assert_eq!(
        s(&b, "device_id", lock),
        Some("4444444444444444444444444444444444444444444444444444444444444444")
    );
    assert_eq!(s(&b, "os", lock), Some("Android"));
    assert_eq!(s(&b, "browser", lock), Some("Chrome"));
    assert_eq!(s(&b, "session_id", lock), Some("SESSION_ID"));
    assert!(
        s(&b, "behaviors", lock)
            .unwrap()
            .contains("New Device=POSITIVE")
    );
    let mfa = (0..10)
        .find(|&r| s(&b, "event_type", r) == Some("user.authentication.auth_via_mfa"))
        .unwrap();
    assert_eq!(s(&b, "activity", mfa), Some("MFA Verify"));
    assert_eq!(bool_at(&b, "is_mfa", mfa), Some(true));
    assert!(s(&b, "mfa_factor", mfa).is_some());
    let sso = (0..10)
        .find(|&r| s(&b, "event_type", r) == Some("user.authentication.sso"))
        .unwrap();
    assert_eq!(s(&b, "activity", sso), Some("SSO"));
    assert!(
        s(&b, "app", sso).is_some(),
        "SSO rows name their target app"
    );
}

#[test]
fn content_recognition_picks_okta() {
    for name in [
        "panther/victim_okta.ndjson",
        "panther/rule-tests.ndjson",
        "panther/legit_login.ndjson",
    ] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let chunk = Framer::new(&bytes[..]).next_chunk().unwrap().unwrap();
        assert_eq!(
            SourceKind::recognise(&chunk),
            Some(SourceKind::new(&midgame_sources::okta::Okta)),
            "{name}"
        );
    }
    let chunk = Framer::new(&b"<166>Aug  4 10:12:33 asa %ASA-6-113004: AAA\n"[..])
        .next_chunk()
        .unwrap()
        .unwrap();
    assert_eq!(
        SourceKind::recognise(&chunk),
        Some(SourceKind::new(&midgame_sources::cisco_asa::CiscoAsa))
    );
    let chunk = Framer::new(&b"Aug  4 10:12:33 host sshd[1]: Accepted publickey\n"[..])
        .next_chunk()
        .unwrap()
        .unwrap();
    assert_eq!(SourceKind::recognise(&chunk), None);
}

#[test]
fn a_code_sent_to_a_phone_and_a_device_added_name_the_factor_as_the_device() {
    let events = [
        r#"{"uuid":"1","published":"2024-05-01T10:00:00.000Z","eventType":"system.sms.send_phone_verification_message","actor":{"id":"00u1","type":"User","alternateId":"ann@acme.test"},"outcome":{"result":"SUCCESS"},"target":[{"id":"00u1","type":"User","alternateId":"ann@acme.test"},{"id":"mbl1","type":"Phone","alternateId":"+1 555-0100"}],"debugContext":{"debugData":{"dtHash":"abc"}}}"#,
        r#"{"uuid":"2","published":"2024-05-01T10:01:00.000Z","eventType":"device.user.add","actor":{"id":"00u2","type":"User","alternateId":"bob@acme.test"},"outcome":{"result":"SUCCESS"},"target":[{"id":"guo1dev","type":"Device","displayName":"iPhone"},{"id":"00u2","type":"User","alternateId":"bob@acme.test"}]}"#,
        r#"{"uuid":"3","published":"2024-05-01T10:02:00.000Z","eventType":"user.session.start","actor":{"id":"00u2","type":"User","alternateId":"bob@acme.test"},"outcome":{"result":"SUCCESS"},"target":[{"id":"x","type":"AppInstance","alternateId":"Slack"}],"debugContext":{"debugData":{"dtHash":"laptop"}}}"#,
    ];
    let (batches, bad) = parse_bytes(
        events.join("\n").into_bytes(),
        &ParseOptions::new("okta.json"),
    );
    assert!(bad.is_empty(), "{bad:?}");
    let b = one_batch(batches);
    assert_eq!(s(&b, "activity", 0), Some("MFA Code Sent"));
    assert_eq!(s(&b, "device_id", 0), Some("+1 555-0100"));
    assert_eq!(s(&b, "activity", 1), Some("Device Enroll"));
    assert_eq!(s(&b, "device_id", 1), Some("guo1dev"));
    // A sign-in's device is still the one signing in.
    assert_eq!(s(&b, "device_id", 2), Some("laptop"));
}
