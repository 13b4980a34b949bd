//! The generic admin audit source (DESIGN.md "Generic admin audit NDJSON").

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Int32Type, Int64Type};
use midgame_schema::IdentityMap;
use midgame_sources::{BadRecord, Framer, ParseOptions, SourceKind};

const DESIGN_EXAMPLE: &str = r#"{"time":"2022-08-04T10:12:33Z","actor":"jdoe@example.com","src_ip":"203.0.113.5","session_id":"s-1","tool":"support-console","action":"customer.export","target_type":"customer","target_id":"AC0001","customer_id":"AC0001","records":1200,"bytes":5242880,"outcome":"success","user_agent":"Mozilla/5.0 (Macintosh)"}"#;

fn parse(text: &str, opts: &ParseOptions) -> (RecordBatch, Vec<BadRecord>) {
    let mut framer = Framer::new(text.as_bytes());
    let chunk = framer.next_chunk().unwrap().unwrap();
    assert_eq!(
        SourceKind::recognise(&chunk),
        Some(SourceKind::new(&midgame_sources::admin_audit::AdminAudit)),
        "recognised from content"
    );
    let parsed = SourceKind::new(&midgame_sources::admin_audit::AdminAudit).parse(&chunk, opts);
    assert!(parsed.auth.is_none());
    (parsed.admin.unwrap(), parsed.bad)
}

fn s<'a>(b: &'a RecordBatch, col: &str, row: usize) -> Option<&'a str> {
    let a = b.column_by_name(col).unwrap().as_string::<i32>();
    a.is_valid(row).then(|| a.value(row))
}

fn i64_at(b: &RecordBatch, col: &str, row: usize) -> Option<i64> {
    let a = b.column_by_name(col).unwrap().as_primitive::<Int64Type>();
    a.is_valid(row).then(|| a.value(row))
}

#[test]
fn the_design_example_maps_field_by_field() {
    let (b, bad) = parse(DESIGN_EXAMPLE, &ParseOptions::new("admin.ndjson"));
    assert!(bad.is_empty());
    assert_eq!(b.num_rows(), 1);
    assert_eq!(i64_at(&b, "time_ms", 0), Some(1_659_607_953_000));
    assert_eq!(s(&b, "source", 0), Some("admin-audit"));
    assert_eq!(s(&b, "tool", 0), Some("support-console"));
    assert_eq!(s(&b, "user", 0), Some("jdoe@example.com"));
    assert_eq!(s(&b, "src_ip", 0), Some("203.0.113.5"));
    assert_eq!(s(&b, "session_id", 0), Some("s-1"));
    assert_eq!(s(&b, "action", 0), Some("customer.export"));
    let activity = b
        .column_by_name("activity_id")
        .unwrap()
        .as_primitive::<Int32Type>();
    assert_eq!(activity.value(0), 7, "an export");
    assert_eq!(s(&b, "target_type", 0), Some("customer"));
    assert_eq!(s(&b, "target_id", 0), Some("AC0001"));
    assert_eq!(s(&b, "customer_id", 0), Some("AC0001"));
    assert_eq!(i64_at(&b, "records", 0), Some(1200));
    assert_eq!(i64_at(&b, "bytes", 0), Some(5_242_880));
    assert_eq!(s(&b, "outcome", 0), Some("success"));
    assert_eq!(s(&b, "user_agent", 0), Some("Mozilla/5.0 (Macintosh)"));
    assert_eq!(s(&b, "file", 0), Some("admin.ndjson"));
    assert_eq!(i64_at(&b, "line", 0), Some(1));
    assert_eq!(s(&b, "raw", 0), Some(DESIGN_EXAMPLE));
}

#[test]
fn only_time_actor_and_action_are_required_and_epoch_times_and_numeric_strings_are_read() {
    let text = concat!(
        r#"{"time":1659607953,"actor":"CORP\\JDoe","action":"ticket.view"}"#,
        "\n",
        r#"{"time":"1659607953123","actor":"jdoe","action":"customer.export","records":"12","bytes":"4096","outcome":"FAILED"}"#,
        "\n",
    );
    let mut opts = ParseOptions::new("a.ndjson");
    opts.identities = IdentityMap::new(Some("example.com"));
    let (b, bad) = parse(text, &opts);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(i64_at(&b, "time_ms", 0), Some(1_659_607_953_000));
    assert_eq!(i64_at(&b, "time_ms", 1), Some(1_659_607_953_123));
    assert_eq!(s(&b, "user", 0), Some("jdoe@example.com"));
    assert_eq!(s(&b, "user_raw", 0), Some("CORP\\JDoe"));
    assert_eq!(s(&b, "user", 1), Some("jdoe@example.com"));
    assert_eq!(s(&b, "outcome", 0), Some("unknown"));
    assert_eq!(s(&b, "outcome", 1), Some("failure"));
    assert_eq!(i64_at(&b, "records", 1), Some(12));
    assert_eq!(i64_at(&b, "bytes", 1), Some(4096));
    assert_eq!(s(&b, "tool", 0), None);
}

#[test]
fn bad_lines_are_quarantined_with_their_line_and_reason_and_the_rest_is_kept() {
    let text = [
        DESIGN_EXAMPLE,
        r#"{"time":"yesterday","actor":"a@b.c","action":"x.view"}"#,
        r#"{"time":"2022-08-04T10:12:33Z","action":"x.view"}"#,
        r#"{"time":"2022-08-04T10:12:33Z","actor":"a@b.c"}"#,
        r#"{"time":"2022-08-04T10:12:33Z","actor":"a@b.c","action":"x.view""#,
        DESIGN_EXAMPLE,
    ]
    .join("\n");
    let (b, bad) = parse(&text, &ParseOptions::new("a.ndjson"));
    assert_eq!(b.num_rows(), 2);
    let lines: Vec<u64> = bad.iter().map(|r| r.line).collect();
    assert_eq!(lines, [2, 3, 4, 5]);
    assert!(
        bad[0].reason.contains("not a timestamp"),
        "{}",
        bad[0].reason
    );
    assert!(bad[1].reason.contains("`actor`"), "{}", bad[1].reason);
    assert!(bad[2].reason.contains("`action`"), "{}", bad[2].reason);
    assert!(bad[3].reason.contains("invalid JSON"), "{}", bad[3].reason);
}
