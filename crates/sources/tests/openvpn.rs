//! OpenVPN server log on real lines from `../shared/corpus/vpn-openvpn` (Sekoia's test
//! lines, Wazuh's LDAP lines; read in place).

mod common;

use std::path::PathBuf;

use arrow::array::RecordBatch;
use common::col;
use midgame_sources::{BadRecord, Framer, ParseOptions, SourceKind};

fn corpus(rel: &str) -> PathBuf {
    common::corpus("vpn-openvpn", rel)
}

fn parse(text: &str, opts: &ParseOptions) -> (RecordBatch, u64, Vec<BadRecord>) {
    let mut framer = Framer::new(text.as_bytes());
    let (mut batches, mut skipped, mut bad) = (Vec::new(), 0, Vec::new());
    while let Some(chunk) = framer.next_chunk().unwrap() {
        assert_eq!(
            SourceKind::recognise(&chunk),
            Some(SourceKind::new(&midgame_sources::openvpn::OpenVpn))
        );
        let p = SourceKind::new(&midgame_sources::openvpn::OpenVpn).parse(&chunk, opts);
        batches.extend(p.auth);
        skipped += p.skipped;
        bad.extend(p.bad);
    }
    (
        arrow::compute::concat_batches(&midgame_schema::auth_schema(), &batches).unwrap(),
        skipped,
        bad,
    )
}

fn sekoia_lines() -> Vec<String> {
    common::messages(&corpus("sekoia-openvpn.messages.ndjson"))
}

#[test]
fn connections_and_authentications_become_rows_and_the_rest_is_skipped() {
    let lines = sekoia_lines();
    let (b, skipped, bad) = parse(&lines.join("\n"), &ParseOptions::new("openvpn.log"));
    // One authentication failure in the corpus has lost its time: it is quarantined, not
    // guessed.
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(
        bad[0]
            .text()
            .starts_with("Incorrect password supplied for LDAP DN")
    );
    assert_eq!(bad[0].reason, "no timestamp at the start of the line");
    assert_eq!(
        b.num_rows() as u64 + skipped + bad.len() as u64,
        lines.len() as u64,
        "every line accounted for"
    );
    // activity, outcome, user, address of each row
    let rows: Vec<[Option<String>; 4]> = (0..b.num_rows())
        .map(|i| ["activity", "outcome", "user", "src_ip"].map(|c| col(&b, c)[i].clone()))
        .collect();
    let s = |v: &str| Some(v.to_owned());
    assert!(
        rows.contains(&[s("Logon"), s("success"), s("client01"), s("165.225.204.88")]),
        "{rows:?}"
    );
    assert!(
        rows.contains(&[
            s("AAA Auth"),
            s("success"),
            s("user-placeholder1"),
            s("192.0.2.12")
        ]),
        "{rows:?}"
    );
    let logon = col(&b, "activity")
        .iter()
        .position(|a| a.as_deref() == Some("Logon"))
        .unwrap();
    assert_eq!(
        col(&b, "time_ms")[logon].as_deref(),
        Some("1698764999000"),
        "2023-10-31 15:09:59 UTC"
    );
    let ok = col(&b, "user")
        .iter()
        .position(|u| u.as_deref() == Some("user-placeholder1"))
        .unwrap();
    assert_eq!(
        col(&b, "time_ms")[ok].as_deref(),
        Some("1754987189000"),
        "Tue Aug 12 08:26:29 2025"
    );
}

#[test]
fn syslog_framed_lines_take_the_year_given_and_lines_without_a_time_are_bad() {
    let text = std::fs::read_to_string(corpus("wazuh/openvpn_ldap.lines.derived.log")).unwrap();
    let mut opts = ParseOptions::new("openvpn.log");
    opts.default_year = Some(2024);
    let (b, skipped, bad) = parse(&text, &opts);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(
        (b.num_rows(), skipped),
        (1, 1),
        "the LDAP bind failure itself names nobody"
    );
    assert_eq!(col(&b, "user")[0].as_deref(), Some("harry t. hacker"));
    assert_eq!(
        col(&b, "time_ms")[0].as_deref(),
        Some("1706451949000"),
        "2024-01-28 14:25:49"
    );
    let (_, _, bad) = parse(&text, &ParseOptions::new("openvpn.log"));
    assert_eq!(bad.len(), 1);
    assert!(bad[0].reason.contains("give --year"), "{}", bad[0].reason);
}

#[test]
fn a_line_whose_twentieth_byte_is_inside_a_character_is_not_a_panic() {
    // Found by the openvpn fuzz target (fuzz/regressions/openvpn/): the time was cut at
    // byte 19 without asking whether a character ends there.
    let text = "2023-10-31 15:09:5\u{0f16} client/203.0.113.7:1194 MULTI: Learn: 10.8.0.6\n";
    let mut framer = Framer::new(text.as_bytes());
    let chunk = framer.next_chunk().unwrap().unwrap();
    let p = SourceKind::new(&midgame_sources::openvpn::OpenVpn)
        .parse(&chunk, &ParseOptions::new("openvpn.log"));
    assert_eq!(p.auth.map_or(0, |b| b.num_rows()), 0);
    assert_eq!(p.bad.len() as u64 + p.skipped, 1, "{:?}", p.bad);
}
