//! Cisco ASA / FTD syslog on real lines from `../shared/corpus/vpn-cisco-asa` (elastic
//! integration test logs, Sekoia message bodies; read in place, not copied) and on lines
//! in the documented formats the corpus lacks (722022, 716001/716002, year-less headers).

use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use midgame_sources::{BadRecord, Framer, ParseOptions, SourceKind};

fn corpus(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/vpn-cisco-asa")
        .join(rel)
}

fn read(rel: &str) -> String {
    let p = corpus(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (clone `shared` beside the repository)",
            p.display()
        )
    })
}

struct Out {
    batch: RecordBatch,
    bad: Vec<BadRecord>,
    skipped: u64,
}

fn parse(text: &str, opts: &ParseOptions) -> Out {
    let mut framer = Framer::new(text.as_bytes());
    let mut batches = Vec::new();
    let (mut bad, mut skipped) = (Vec::new(), 0);
    while let Some(chunk) = framer.next_chunk().unwrap() {
        assert_eq!(
            SourceKind::recognise(&chunk),
            Some(SourceKind::new(&midgame_sources::cisco_asa::CiscoAsa))
        );
        let p = SourceKind::new(&midgame_sources::cisco_asa::CiscoAsa).parse(&chunk, opts);
        batches.extend(p.auth);
        bad.extend(p.bad);
        skipped += p.skipped;
    }
    let batch = arrow::compute::concat_batches(&midgame_schema::auth_schema(), &batches).unwrap();
    Out {
        batch,
        bad,
        skipped,
    }
}

fn s(b: &RecordBatch, col: &str) -> Vec<Option<String>> {
    let a = b.column_by_name(col).unwrap().as_string::<i32>();
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i).to_owned()))
        .collect()
}

fn i(b: &RecordBatch, col: &str) -> Vec<Option<i64>> {
    let a = b.column_by_name(col).unwrap().as_primitive::<Int64Type>();
    (0..a.len())
        .map(|r| a.is_valid(r).then(|| a.value(r)))
        .collect()
}

fn some(v: &[&str]) -> Vec<Option<String>> {
    v.iter().map(|s| Some((*s).to_owned())).collect()
}

#[test]
fn anyconnect_session_starts_in_both_header_styles_and_the_rest_is_skipped() {
    let text = read("elastic/test-anyconnect-messages.log");
    let lines = text.lines().count() as u64;
    let out = parse(&text, &ParseOptions::new("asa.log"));
    assert!(out.bad.is_empty(), "{:?}", out.bad);
    let b = &out.batch;
    assert_eq!(
        b.num_rows() as u64 + out.skipped,
        lines,
        "every line accounted for"
    );
    assert_eq!(
        out.skipped, 11,
        "113029..113040 other than 113039 are not sessions"
    );
    assert_eq!(
        s(b, "user"),
        some(&[
            "example.user",
            "user-1",
            "first.o'last@example.com",
            "first.o'last@example.com"
        ])
    );
    assert_eq!(
        s(b, "src_ip"),
        some(&["67.43.156.14", "81.2.69.144", "81.2.69.144", "81.2.69.144"])
    );
    assert_eq!(
        s(b, "app"),
        some(&[
            "VPN_USERS",
            "GroupPolicy_Remote-VPN",
            "GroupPolicy_Remote-VPN",
            "GroupPolicy Remote-VPN"
        ])
    );
    assert_eq!(s(b, "activity"), some(&["Logon"; 4]));
    assert_eq!(s(b, "event_type"), some(&["ASA-113039"; 4]));
    assert_eq!(s(b, "source"), some(&["cisco-asa"; 4]));
    // The ASA's own timestamps carry their year.
    assert_eq!(
        i(b, "time_ms")[..2],
        [Some(1_539_174_896_000), Some(1_655_904_551_000)]
    );
}

#[test]
fn ikev2_address_assignments_give_the_remote_public_address() {
    let out = parse(
        &read("elastic/test-751025-vpn-session.log"),
        &ParseOptions::new("a"),
    );
    assert!(out.bad.is_empty(), "{:?}", out.bad);
    assert_eq!(
        s(&out.batch, "src_ip"),
        vec![
            Some("198.51.100.25".into()),
            Some("198.51.100.26".into()),
            Some("198.51.100.27".into()),
            None, // a host name, not an address
            Some("2001:db8::2".into()),
        ]
    );
    assert_eq!(s(&out.batch, "user")[2], Some("carol".into()));
}

/// A Sekoia test body (the message without a syslog header), with a header put back.
fn sekoia_body(id: &str) -> String {
    let text = read("sekoia-cisco-secure-firewall.messages.ndjson");
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|v| v["message"].as_str().map(str::to_owned))
        .find(|m| m.contains(&format!("-{id}:")))
        .unwrap_or_else(|| panic!("no {id} in the corpus"))
}

#[test]
fn a_disconnect_carries_duration_and_bytes_each_way() {
    let line = format!("Aug  4 15:02:11 fw01 : {}", sekoia_body("113019"));
    let mut opts = ParseOptions::new("vpn/asa-2022-08-04.log");
    opts.default_year = Some(2022);
    let out = parse(&line, &opts);
    assert!(out.bad.is_empty(), "{:?}", out.bad);
    let b = &out.batch;
    assert_eq!(s(b, "activity"), some(&["Logoff"]));
    assert_eq!(s(b, "user"), some(&["username"]));
    assert_eq!(s(b, "user_raw"), some(&["Username"]));
    assert_eq!(s(b, "src_ip"), some(&["1.1.1.1"]));
    assert_eq!(
        i(b, "bytes_in"),
        [Some(54_735_230)],
        "xmt: sent to the client"
    );
    assert_eq!(i(b, "bytes_out"), [Some(27_473_152)]);
    assert_eq!(i(b, "duration_s"), [Some(2 * 3600 + 28 * 60 + 9)]);
    assert_eq!(s(b, "status_detail"), some(&["Idle Timeout"]));
    assert_eq!(i(b, "time_ms"), [Some(1_659_625_331_000)]);
}

#[test]
fn aaa_rejections_are_failed_authentications_with_the_user_address() {
    let line = sekoia_body("113005");
    assert!(
        line.starts_with("Jun 07 2025 17:31:57: %ASA-6-113005"),
        "{line}"
    );
    let out = parse(&line, &ParseOptions::new("a"));
    assert!(out.bad.is_empty(), "{:?}", out.bad);
    let b = &out.batch;
    assert_eq!(s(b, "activity"), some(&["AAA Auth"]));
    assert_eq!(s(b, "outcome"), some(&["failure"]));
    assert_eq!(s(b, "user"), vec![None], "a masked user name is no user");
    assert_eq!(s(b, "src_ip"), some(&["1.1.1.1"]));
    assert_eq!(s(b, "status_detail"), some(&["Unspecified"]));
}

#[test]
fn year_less_headers_take_the_files_year_and_the_zone_given() {
    // As Cisco documents 722022 / 716001 / 716002, behind a year-less RFC 3164 header.
    let text = "\
<166>Aug  4 10:12:33 vpn01 %ASA-6-716001: Group <Staff> User <jdoe> IP <203.0.113.5> WebVPN session started.
Aug  4 10:12:35 vpn01 %ASA-6-722022: Group <Staff> User <jdoe> IP <203.0.113.5> TCP SVC connection established without compression
Aug  4 12:00:00 vpn01 %ASA-6-716002: Group <Staff> User <jdoe> IP <203.0.113.5> WebVPN session terminated: User Requested.
Aug  4 12:00:01 vpn01 %ASA-6-302013: Built inbound TCP connection 1 for outside:203.0.113.5/1 (203.0.113.5/1) to inside:10.0.0.1/443 (10.0.0.1/443)
Aug  4 12:00:02 vpn01 sshd[123]: Accepted publickey for admin from 10.0.0.9
";
    let mut opts = ParseOptions::new("vpn.log");
    opts.default_year = Some(2022);
    let out = parse(text, &opts);
    assert_eq!(out.batch.num_rows(), 3);
    assert_eq!(
        out.skipped, 1,
        "a connection built is an ASA message no table needs"
    );
    assert_eq!(out.bad.len(), 1, "another program's line is quarantined");
    assert_eq!(out.bad[0].line, 5);
    assert!(out.bad[0].reason.contains("not a Cisco ASA message"));
    assert_eq!(
        s(&out.batch, "activity"),
        some(&["Logon", "Logon", "Logoff"])
    );
    assert_eq!(i(&out.batch, "time_ms")[0], Some(1_659_607_953_000));
    // In Berlin summer time the same clock reading is two hours earlier in UTC.
    opts.clock = midgame_sources::time::DeviceClock::Offset(120);
    let shifted = parse(text, &opts);
    assert_eq!(
        i(&shifted.batch, "time_ms")[0],
        Some(1_659_607_953_000 - 7_200_000)
    );
    // Without a year it is a bad record saying what to do.
    let out = parse(text, &ParseOptions::new("vpn.log"));
    assert_eq!(out.bad.len(), 4);
    assert!(
        out.bad[0].reason.contains("give --year"),
        "{}",
        out.bad[0].reason
    );
}

#[test]
fn a_december_line_in_a_january_file_belongs_to_the_year_before() {
    let text = "Dec 31 23:59:58 vpn01 %ASA-6-113039: Group <G> User <a> IP <203.0.113.5> AnyConnect parent session started.\nJan  1 00:00:02 vpn01 %ASA-6-113039: Group <G> User <b> IP <203.0.113.6> AnyConnect parent session started.\n";
    let mut opts = ParseOptions::new("vpn/2023-01-01.log");
    opts.default_year = Some(2023);
    opts.reference_day = chrono::NaiveDate::from_ymd_opt(2023, 1, 1);
    let out = parse(text, &opts);
    let t: Vec<String> = i(&out.batch, "time_ms")
        .into_iter()
        .map(|ms| {
            chrono::DateTime::from_timestamp_millis(ms.unwrap())
                .unwrap()
                .to_rfc3339()
        })
        .collect();
    assert_eq!(
        t,
        ["2022-12-31T23:59:58+00:00", "2023-01-01T00:00:02+00:00"]
    );
}
