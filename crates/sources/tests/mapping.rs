//! An admin tool's own audit JSON read through a mapping file.

use arrow::array::{Array, AsArray};
use midgame_sources::mapping::AdminMapping;
use midgame_sources::{Framer, ParseOptions, SourceKind};

fn mapping(dir: &std::path::Path, text: &str) -> Result<AdminMapping, String> {
    let p = dir.join("billing.toml");
    std::fs::write(&p, text).unwrap();
    AdminMapping::load(&p).map_err(|e| e.to_string())
}

#[test]
fn a_tools_own_fields_and_time_format_become_admin_rows() {
    let dir = tempfile::tempdir().unwrap();
    let m = mapping(
        dir.path(),
        "time = \"/ts\"\ntime_format = \"%d/%m/%Y %H:%M:%S\"\nactor = \"/who/email\"\naction = \"/what\"\nsrc_ip = \"/client/ip\"\ncustomer_id = \"/account/id\"\nbytes = \"/export/size\"\n[constants]\ntool = \"billing-admin\"\n",
    )
    .unwrap();
    let text = concat!(
        r#"{"ts":"04/08/2022 10:12:33","who":{"email":"JDoe@Acme.test","role":"support"},"what":"invoice.export","client":{"ip":"203.0.113.5"},"account":{"id":"AC0001"},"export":{"size":"5242880"}}"#,
        "\n",
        r#"{"ts":"2022-08-04","who":{"email":"jdoe@acme.test"},"what":"invoice.view"}"#,
        "\n",
        r#"{"ts":"04/08/2022 10:13:00","what":"invoice.view"}"#,
        "\n",
    );
    let mut opts = ParseOptions::new("billing.json");
    opts.admin_mapping = Some(std::sync::Arc::new(m));
    let chunk = Framer::new(text.as_bytes()).next_chunk().unwrap().unwrap();
    let p = SourceKind::new(&midgame_sources::admin_audit::AdminAudit).parse(&chunk, &opts);
    let b = p.admin.unwrap();
    assert_eq!(b.num_rows(), 1);
    let s = |c: &str| {
        let a = b.column_by_name(c).unwrap().as_string::<i32>();
        a.is_valid(0).then(|| a.value(0).to_owned())
    };
    assert_eq!(s("user").as_deref(), Some("jdoe@acme.test"));
    assert_eq!(s("action").as_deref(), Some("invoice.export"));
    assert_eq!(s("tool").as_deref(), Some("billing-admin"));
    assert_eq!(s("src_ip").as_deref(), Some("203.0.113.5"));
    assert_eq!(s("customer_id").as_deref(), Some("AC0001"));
    assert_eq!(
        s("raw").as_deref(),
        Some(text.lines().next().unwrap()),
        "raw keeps the tool's own record"
    );
    let n = |c: &str| {
        b.column_by_name(c)
            .unwrap()
            .as_primitive::<arrow::datatypes::Int64Type>()
            .value(0)
    };
    assert_eq!(n("bytes"), 5_242_880);
    assert_eq!(n("time_ms"), 1_659_607_953_000);
    let reasons: Vec<(u64, String)> = p.bad.iter().map(|r| (r.line, r.reason.clone())).collect();
    assert_eq!(
        reasons,
        [
            (
                2,
                "`time` \"2022-08-04\" does not match the time format \"%d/%m/%Y %H:%M:%S\""
                    .to_owned()
            ),
            (3, "missing `actor`".to_owned()),
        ]
    );
}

#[test]
fn a_bad_mapping_is_refused_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let e = mapping(dir.path(), "time = \"/t\"\nactor = \"/a\"\n").unwrap_err();
    assert!(e.ends_with("billing.toml: `action` is required"), "{e}");
    let e = mapping(
        dir.path(),
        "time = \"/t\"\nactor = \"/a\"\naction = \"/x\"\nusr = \"/u\"\n",
    )
    .unwrap_err();
    assert!(e.contains("`usr` is not a field of the admin table"), "{e}");
    let e = mapping(
        dir.path(),
        "time = \"t\"\nactor = \"/a\"\naction = \"/x\"\n",
    )
    .unwrap_err();
    assert!(e.contains("a JSON pointer starts with /"), "{e}");
}
