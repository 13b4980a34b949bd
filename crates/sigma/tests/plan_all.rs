//! Every rule of `../shared/corpus/sigma/` converted and planned against the lake's
//! tables; what is refused is exactly what the converter cannot express, each named
//! with its file and construct.

mod common;

use std::path::Path;

#[tokio::test(flavor = "multi_thread")]
async fn every_corpus_rule_converts_and_plans_or_is_refused_for_a_named_construct() {
    let root = common::sigma();
    let bases = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let all = midgame_sigma::convert_paths(&[root.clone(), bases]).unwrap();

    // A lake with both tables (one Okta sign-in, one CloudTrail call) to plan against.
    let dir = tempfile::tempdir().unwrap();
    let okta = common::corpus().join("okta/sekoia-okta-system-logs.messages.ndjson");
    let text = std::fs::read_to_string(&okta).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let ct = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/a","userName":"a"},"eventTime":"2024-01-01T00:00:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateUser","sourceIPAddress":"1.2.3.4","userAgent":"aws-cli","eventType":"AwsApiCall"}"#;
    std::fs::write(
        dir.path().join("okta.ndjson"),
        format!("{}\n", first["message"].as_str().unwrap()),
    )
    .unwrap();
    std::fs::write(dir.path().join("cloudtrail.ndjson"), format!("{ct}\n")).unwrap();
    let lake_dir = dir.path().join("lake");
    let lake = midgame_lake::Lake::open(&lake_dir).unwrap();
    for f in ["okta.ndjson", "cloudtrail.ndjson"] {
        let r = lake
            .ingest_file(
                &dir.path().join(f),
                &midgame_lake::IngestOptions::default(),
                &|_| {},
            )
            .unwrap();
        assert!(r.rows() > 0, "{r:?}");
    }
    let ctx = midgame_detect::open_session(&lake_dir).await.unwrap();

    let mut converted = std::collections::BTreeMap::<String, usize>::new();
    let mut refused = Vec::new();
    for r in &all {
        match r {
            Ok(c) => {
                let d = midgame_detect::Detection::parse(&c.source, &c.text)
                    .unwrap_or_else(|e| panic!("{e}\n{}", c.text));
                let plan = ctx.sql(&d.sql).await;
                let plan = match plan {
                    Ok(df) => df.create_physical_plan().await.map(|_| ()),
                    Err(e) => Err(e),
                };
                if let Err(e) = plan {
                    panic!("{}: does not plan: {e}\n{}", c.source.display(), c.text);
                }
                let folder = c
                    .source
                    .strip_prefix(&root)
                    .map(|p| p.parent().unwrap().to_string_lossy().into_owned())
                    .unwrap_or_else(|_| "fixtures".into());
                *converted.entry(folder).or_default() += 1;
            }
            Err(e) => {
                let line = e.to_string();
                assert!(!line.contains('\n'), "one line: {line}");
                refused.push(
                    e.path
                        .strip_prefix(&root)
                        .unwrap_or(&e.path)
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    let count = |f: &str| converted.get(f).copied().unwrap_or(0);
    assert_eq!(count("rules/identity/okta"), 21);
    assert_eq!(count("rules/cloud/azure/signin_logs"), 18);
    assert_eq!(count("rules/cloud/aws/cloudtrail"), 57);
    assert_eq!(count("specification/tests/schema/correlation"), 8);
    refused.sort();
    assert_eq!(
        refused,
        [
            // `|expand` needs a placeholder pipeline.
            "rules-placeholder/identity/okta/okta_session_impersonation_granted.yml",
            // Filters for Windows rules that are not among these.
            "specification/tests/schema/filter/filter_1.yml",
            "specification/tests/schema/filter/filter_ecs.yml",
            // Windows and DNS logs: no table of the lake holds them.
            "specification/tests/schema/rules/rule_1.yml",
            "specification/tests/schema/rules/rule_ecs.yml",
        ],
        "{converted:?}"
    );
}
