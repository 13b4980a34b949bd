//! CloudTrail on real records from `../shared/corpus/cloudtrail` (OTRF's S3 exfiltration
//! lab as a shipper wrote it, Sekoia's test records; read in place), in the shapes
//! CloudTrail arrives in.

mod common;

use std::io::Write;
use std::path::PathBuf;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use common::col;
use midgame_sources::{BadRecord, Framer, ParseOptions, SourceKind, decoded};

fn corpus(rel: &str) -> PathBuf {
    common::corpus("cloudtrail", rel)
}

struct Out {
    admin: RecordBatch,
    auth: Option<RecordBatch>,
    bad: Vec<BadRecord>,
    skipped: u64,
}

fn parse(bytes: Vec<u8>, opts: &ParseOptions) -> Out {
    let mut framer = Framer::new(decoded(std::io::Cursor::new(bytes)).unwrap());
    let (mut admin, mut auth, mut bad, mut skipped) = (Vec::new(), Vec::new(), Vec::new(), 0);
    while let Some(chunk) = framer.next_chunk().unwrap() {
        assert_eq!(
            SourceKind::recognise(&chunk),
            Some(SourceKind::new(&midgame_sources::cloudtrail::CloudTrail))
        );
        let p = SourceKind::new(&midgame_sources::cloudtrail::CloudTrail).parse(&chunk, opts);
        admin.extend(p.admin);
        auth.extend(p.auth);
        bad.extend(p.bad);
        skipped += p.skipped;
    }
    Out {
        admin: arrow::compute::concat_batches(&midgame_schema::admin_schema(), &admin).unwrap(),
        auth: (!auth.is_empty()).then(|| {
            arrow::compute::concat_batches(&midgame_schema::auth_schema(), &auth).unwrap()
        }),
        bad,
        skipped,
    }
}

/// The Sekoia test records (each a CloudTrail record as a JSON string).
/// One record per line, as shippers write them.
fn sekoia_records() -> Vec<String> {
    common::compact(common::messages(&corpus(
        "sekoia-aws-cloudtrail.messages.ndjson",
    )))
}

#[test]
fn the_s3_exfiltration_lab_reads_whole_with_the_role_session_and_the_bytes() {
    let bytes = std::fs::read(corpus(
        "otrf/ec2_proxy_s3_exfiltration_2020-09-14011940.json",
    ))
    .unwrap();
    let out = parse(bytes, &ParseOptions::new("ct.json"));
    assert!(out.bad.is_empty(), "{:?}", out.bad);
    let b = &out.admin;
    assert_eq!(b.num_rows(), 103);
    let actions = col(b, "action");
    let users = col(b, "user");
    assert_eq!(
        users
            .iter()
            .filter(|u| u.as_deref() == Some("pedro"))
            .count(),
        87,
        "the IAM user's console browsing"
    );
    let gets: Vec<usize> = (0..b.num_rows())
        .filter(|i| actions[*i].as_deref() == Some("s3:GetObject"))
        .collect();
    assert_eq!(gets.len(), 2);
    let bytes = b
        .column_by_name("bytes")
        .unwrap()
        .as_primitive::<Int64Type>();
    for i in gets {
        assert_eq!(bytes.value(i), 89);
        assert_eq!(
            users[i].as_deref(),
            Some("mordornginxstack-bankingwafrole-9s3e0uae1mm0/i-0317f6c6b66ae9c40"),
            "an instance's role session is no person: no default domain"
        );
        assert_eq!(
            col(b, "target_id")[i].as_deref(),
            Some("arn:aws:s3:::mordors3stack-s3bucket-llp2yingx64a/ring.txt")
        );
        assert_eq!(col(b, "activity_id")[i].as_deref(), Some("2"), "a read");
        assert_eq!(col(b, "tool")[i].as_deref(), Some("s3.amazonaws.com"));
    }
    // The shipper dropped eventTime: @timestamp is the time.
    assert_eq!(
        col(b, "time_ms")[0].as_deref(),
        Some("1600044263000"),
        "2020-09-14T00:44:23Z"
    );
    assert!(out.auth.is_none(), "no console logins in the lab");
}

#[test]
fn console_logins_also_become_sign_ins() {
    let text = sekoia_records().join("\n");
    let mut opts = ParseOptions::new("ct.ndjson");
    opts.identities = midgame_schema::IdentityMap::new(Some("example.org"));
    let out = parse(text.into_bytes(), &opts);
    assert!(out.bad.is_empty(), "{:?}", out.bad);
    assert_eq!(
        out.admin.num_rows() + out.skipped as usize,
        sekoia_records().len(),
        "every record a row, or skipped (an Insights event)"
    );
    assert_eq!(out.skipped, 1);
    let auth = out.auth.unwrap();
    let users = col(&auth, "user");
    assert!(
        users.contains(&Some("arn:aws:iam::1111111111:root".to_owned())),
        "{users:?}"
    );
    assert!(
        users.contains(&Some("user@example.org".to_owned())),
        "{users:?}"
    );
    assert!(
        col(&auth, "activity")
            .iter()
            .all(|a| a.as_deref() == Some("Logon"))
    );
    assert!(
        col(&auth, "app")
            .iter()
            .all(|a| a.as_deref() == Some("AWS Console"))
    );
    let root = users
        .iter()
        .position(|u| u.as_deref() == Some("arn:aws:iam::1111111111:root"))
        .unwrap();
    assert_eq!(col(&auth, "outcome")[root].as_deref(), Some("success"));
    assert_eq!(col(&auth, "is_mfa")[root].as_deref(), Some("false"));
    assert_eq!(col(&auth, "src_ip")[root].as_deref(), Some("1.2.3.4"));
    assert_eq!(col(&auth, "browser")[root].as_deref(), Some("Firefox"));
}

#[test]
fn a_delivered_records_file_gzipped_reads_like_the_records_one_per_line() {
    let records = sekoia_records();
    let file = format!("{{\"Records\":[{}]}}", records.join(","));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(file.as_bytes()).unwrap();
    let delivered = parse(gz.finish().unwrap(), &ParseOptions::new("x.json.gz"));
    let per_line = parse(
        records.join("\n").into_bytes(),
        &ParseOptions::new("x.json.gz"),
    );
    assert!(delivered.bad.is_empty(), "{:?}", delivered.bad);
    for name in [
        "time_ms",
        "user",
        "action",
        "src_ip",
        "outcome",
        "target_id",
        "raw",
    ] {
        assert_eq!(
            col(&delivered.admin, name),
            col(&per_line.admin, name),
            "{name}"
        );
    }
    // Each record of a delivered file keeps its own text (Sigma rules read it).
    let raw = col(&delivered.admin, "raw");
    assert!(raw.iter().all(|r| {
        r.as_deref()
            .is_some_and(|r| r.starts_with('{') && !r.contains("\"Records\""))
    }));
}

#[test]
fn an_iam_call_names_the_principal_it_acts_on() {
    let records = [
        r#"{"eventTime":"2024-03-01T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"AttachUserPolicy","userIdentity":{"type":"IAMUser","userName":"ops","arn":"arn:aws:iam::1:user/ops"},"requestParameters":{"userName":"mallory","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}}"#,
        r#"{"eventTime":"2024-03-01T10:01:00Z","eventSource":"iam.amazonaws.com","eventName":"AttachRolePolicy","userIdentity":{"type":"IAMUser","userName":"ops","arn":"arn:aws:iam::1:user/ops"},"requestParameters":{"roleName":"deploy","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}}"#,
        r#"{"eventTime":"2024-03-01T10:02:00Z","eventSource":"iam.amazonaws.com","eventName":"AddUserToGroup","userIdentity":{"type":"IAMUser","userName":"ops","arn":"arn:aws:iam::1:user/ops"},"requestParameters":{"groupName":"admins","userName":"mallory"}}"#,
        r#"{"eventTime":"2024-03-01T10:03:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","userIdentity":{"type":"IAMUser","userName":"ops","arn":"arn:aws:iam::1:user/ops"},"requestParameters":{"bucketName":"b","key":"k","userName":"not-iam"}}"#,
    ];
    let out = parse(
        records.join("\n").into_bytes(),
        &ParseOptions::new("ct.json"),
    );
    assert!(out.bad.is_empty(), "{:?}", out.bad);
    let pairs: Vec<(Option<String>, Option<String>)> = col(&out.admin, "target_type")
        .into_iter()
        .zip(col(&out.admin, "target_id"))
        .collect();
    assert_eq!(
        pairs,
        [
            (Some("AWS::IAM::User".into()), Some("mallory".into())),
            (Some("AWS::IAM::Role".into()), Some("deploy".into())),
            (Some("AWS::IAM::User".into()), Some("mallory".into())),
            (Some("AWS::S3::Object".into()), Some("b/k".into())),
        ]
    );
}

#[test]
fn a_record_without_its_time_is_quarantined_and_the_rest_kept() {
    let records = sekoia_records();
    let broken = records[0].replace("\"eventTime\"", "\"eventTimeX\"");
    let text = [
        records[1].clone(),
        broken,
        "{\"eventSource\": \"s3.amazonaws.com\", \"eventName\":".into(),
    ]
    .join("\n");
    let out = parse(text.into_bytes(), &ParseOptions::new("x"));
    assert_eq!(out.admin.num_rows(), 1);
    let reasons: Vec<(u64, &str)> = out
        .bad
        .iter()
        .map(|b| (b.line, b.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert_eq!(reasons[0], (2, "missing `eventTime`"));
    assert_eq!(reasons[1].0, 3);
    assert!(reasons[1].1.starts_with("invalid JSON"), "{reasons:?}");
}
