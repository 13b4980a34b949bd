//! Content recognition on the public corpus (`../shared/corpus`): every native log file
//! and every vendor record of the derived message lists is taken for its own source.

use std::path::{Path, PathBuf};

use midgame_sources::{Framer, SourceKind, decoded};

fn corpus(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus")
        .join(rel)
}

fn recognise(bytes: &[u8]) -> Option<SourceKind> {
    let mut framer = Framer::new(decoded(std::io::Cursor::new(bytes.to_vec())).unwrap());
    let chunk = framer.next_chunk().unwrap()?;
    SourceKind::recognise(&chunk)
}

/// The vendor records inside a derived `*.messages.ndjson` list.
fn messages(rel: &str) -> Vec<(String, String)> {
    std::fs::read_to_string(corpus(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e} (clone `shared` beside the repository)"))
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| {
            (
                v["file"].as_str().unwrap_or("").to_owned(),
                v["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn every_native_corpus_file_is_recognised_as_its_source() {
    let files = [
        (
            "vpn-cisco-asa/elastic/test-anyconnect-messages.log",
            SourceKind::new(&midgame_sources::cisco_asa::CiscoAsa),
        ),
        (
            "vpn-cisco-asa/elastic/test-751025-vpn-session.log",
            SourceKind::new(&midgame_sources::cisco_asa::CiscoAsa),
        ),
        (
            "vpn-cisco-asa/elastic/test-dap-records.log",
            SourceKind::new(&midgame_sources::cisco_asa::CiscoAsa),
        ),
        (
            "vpn-cisco-asa/wazuh/cisco_asa.lines.derived.log",
            SourceKind::new(&midgame_sources::cisco_asa::CiscoAsa),
        ),
        (
            "vpn-openvpn/wazuh/openvpn_ldap.lines.derived.log",
            SourceKind::new(&midgame_sources::openvpn::OpenVpn),
        ),
        (
            "vpn-globalprotect/elastic/test-panw-panos-globalprotect-sample.log",
            SourceKind::new(&midgame_sources::globalprotect::GlobalProtect),
        ),
        (
            "cloudtrail/otrf/ec2_proxy_s3_exfiltration_2020-09-14011940.json",
            SourceKind::new(&midgame_sources::cloudtrail::CloudTrail),
        ),
        (
            "entra/elastic/test-signinlogs-raw.log",
            SourceKind::new(&midgame_sources::entra::Entra),
        ),
    ];
    for (rel, kind) in files {
        let bytes = std::fs::read(corpus(rel)).unwrap();
        assert_eq!(recognise(&bytes), Some(kind), "{rel}");
    }
}

/// A derived message list, its source, and which of its records are that vendor's own.
type List = (&'static str, SourceKind, fn(&str) -> bool);

#[test]
fn every_vendor_record_is_recognised_as_its_source() {
    // (list, source, which records are that vendor's own format)
    let lists: [List; 6] = [
        (
            "okta/sekoia-okta-system-logs.messages.ndjson",
            SourceKind::new(&midgame_sources::okta::Okta),
            |_| true,
        ),
        (
            "cloudtrail/sekoia-aws-cloudtrail.messages.ndjson",
            SourceKind::new(&midgame_sources::cloudtrail::CloudTrail),
            |_| true,
        ),
        (
            "entra/sekoia-azure-ad.messages.ndjson",
            SourceKind::new(&midgame_sources::entra::Entra),
            |_| true,
        ),
        // ASA/FTD bodies with their %ASA-/%FTD- tag (the `test_group_*` bodies have none).
        (
            "vpn-cisco-asa/sekoia-cisco-secure-firewall.messages.ndjson",
            SourceKind::new(&midgame_sources::cisco_asa::CiscoAsa),
            |m| m.contains("%ASA-") || m.contains("%FTD-"),
        ),
        (
            "vpn-globalprotect/sekoia-paloalto-ngfw.messages.ndjson",
            SourceKind::new(&midgame_sources::globalprotect::GlobalProtect),
            |m| m.contains(",GLOBALPROTECT,"),
        ),
        // An OpenVPN log is recognised from its lines that say OpenVPN (a file has many).
        (
            "vpn-openvpn/sekoia-openvpn.messages.ndjson",
            SourceKind::new(&midgame_sources::openvpn::OpenVpn),
            |m| {
                m.contains("Peer Connection Initiated")
                    || m.contains("VERIFY OK")
                    || m.contains("peer info: IV_")
            },
        ),
    ];
    for (rel, kind, own) in lists {
        let records: Vec<(String, String)> =
            messages(rel).into_iter().filter(|(_, m)| own(m)).collect();
        assert!(!records.is_empty(), "{rel}");
        for (file, m) in records {
            // One record per line, as a log file holds it.
            let line = match serde_json::from_str::<serde_json::Value>(&m) {
                Ok(v) if v.is_object() => v.to_string(),
                _ => m.clone(),
            };
            assert_eq!(recognise(line.as_bytes()), Some(kind), "{rel}: {file}");
        }
    }
}
