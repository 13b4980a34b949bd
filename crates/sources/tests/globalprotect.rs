//! GlobalProtect on real PAN-OS lines from `../shared/corpus/vpn-globalprotect` (elastic's
//! test log in both CSV layouts, Sekoia's CSV bodies; read in place).

mod common;

use std::path::PathBuf;

use arrow::array::RecordBatch;
use common::col;
use midgame_sources::{Framer, ParseOptions, SourceKind};

fn corpus(rel: &str) -> PathBuf {
    common::corpus("vpn-globalprotect", rel)
}

fn parse(text: &str) -> (RecordBatch, u64, usize) {
    let mut framer = Framer::new(text.as_bytes());
    let (mut batches, mut skipped, mut bad) = (Vec::new(), 0, 0);
    while let Some(chunk) = framer.next_chunk().unwrap() {
        assert_eq!(
            SourceKind::recognise(&chunk),
            Some(SourceKind::new(
                &midgame_sources::globalprotect::GlobalProtect
            ))
        );
        let p = SourceKind::new(&midgame_sources::globalprotect::GlobalProtect)
            .parse(&chunk, &ParseOptions::new("gp.log"));
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
fn gateway_logins_tunnels_and_releases_in_both_layouts() {
    let text = std::fs::read_to_string(corpus("elastic/test-panw-panos-globalprotect-sample.log"))
        .unwrap();
    let (b, skipped, bad) = parse(&text);
    assert_eq!(bad, 0);
    assert_eq!(b.num_rows() as u64 + skipped, text.lines().count() as u64);
    assert_eq!(
        col(&b, "event_type"),
        [
            "gateway-config-release",
            "gateway-auth",
            "gateway-setup-ipsec"
        ]
        .map(|s| Some(s.to_owned()))
    );
    assert_eq!(
        col(&b, "activity"),
        ["Logoff", "AAA Auth", "Logon"].map(|s| Some(s.to_owned()))
    );
    assert_eq!(
        col(&b, "user"),
        ["user", "maxmustermann", "musterman"].map(|s| Some(s.to_owned())),
        "DOMAIN\\\\ is dropped"
    );
    assert_eq!(col(&b, "user_raw")[2].as_deref(), Some("domain\\musterman"));
    assert_eq!(
        col(&b, "src_ip")[2].as_deref(),
        Some("175.16.199.1"),
        "the public address"
    );
    assert_eq!(col(&b, "app")[2].as_deref(), Some("GPGateway"));
    assert_eq!(
        col(&b, "device_id")[2].as_deref(),
        Some("96c43d47-8bb5-4f78-8dfc-413a189a29e0"),
        "the host id"
    );
    // Generated time, 2021/03/02 11:01:02.
    assert_eq!(col(&b, "time_ms")[2].as_deref(), Some("1614682862000"));
}

#[test]
fn sekoia_bodies_and_other_pan_os_types() {
    let lines: Vec<String> = common::messages(&corpus("sekoia-paloalto-ngfw.messages.ndjson"))
        .into_iter()
        .filter(|m| m.contains(",GLOBALPROTECT,"))
        .collect();
    let (b, skipped, bad) = parse(&lines.join("\n"));
    assert_eq!(
        (b.num_rows(), skipped, bad),
        (2, 1, 0),
        "gw-auth and config-release; switch-to-ssl skipped"
    );
    assert_eq!(col(&b, "os")[0].as_deref(), Some("Windows"));
    assert_eq!(col(&b, "user")[1].as_deref(), Some("test"));
    // A TRAFFIC line in the same file is skipped; another program's line is quarantined.
    let mixed = format!(
        "{}\n<14>Nov 30 16:09:08 fw01 1,2021/03/24 11:30:00,0131,TRAFFIC,end,2305,2021/03/24 11:30:00,10.0.0.1\nsshd[1]: Accepted publickey for admin\n",
        lines[0]
    );
    let mut framer = Framer::new(mixed.as_bytes());
    let chunk = framer.next_chunk().unwrap().unwrap();
    let p = SourceKind::new(&midgame_sources::globalprotect::GlobalProtect)
        .parse(&chunk, &ParseOptions::new("gp.log"));
    assert_eq!(
        (p.auth.unwrap().num_rows(), p.skipped, p.bad.len()),
        (1, 1, 1)
    );
}
