//! Generated events are real-format Okta: the Okta source reads every one of them.

use arrow::array::{Array, AsArray};
use midgame_gen::{GenConfig, generate_days};
use midgame_sources::{Framer, ParseOptions, SourceKind};

#[test]
fn every_generated_event_parses_with_its_enrichment() {
    let cfg = GenConfig {
        users: 15,
        days: 5,
        attack: true,
        ..GenConfig::default()
    };
    let text = generate_days(&cfg)
        .into_iter()
        .flat_map(|d| d.events)
        .collect::<Vec<_>>()
        .join("\n");
    let mut framer = Framer::new(text.as_bytes());
    let mut rows = 0;
    while let Some(chunk) = framer.next_chunk().unwrap() {
        assert_eq!(
            SourceKind::recognise(&chunk),
            Some(SourceKind::new(&midgame_sources::okta::Okta))
        );
        let parsed =
            SourceKind::new(&midgame_sources::okta::Okta).parse(&chunk, &ParseOptions::new("gen"));
        assert!(parsed.bad.is_empty(), "{:?}", parsed.bad.first());
        let b = parsed.auth.unwrap();
        rows += b.num_rows();
        for col in [
            "user",
            "src_ip",
            "geo_country",
            "geo_city",
            "as_org",
            "os",
            "browser",
            "session_id",
            "behaviors",
        ] {
            let a = b.column_by_name(col).unwrap();
            let event_type = b.column_by_name("event_type").unwrap().as_string::<i32>();
            for i in 0..b.num_rows() {
                if event_type.value(i) == "user.session.start"
                    && b.column_by_name("outcome")
                        .unwrap()
                        .as_string::<i32>()
                        .value(i)
                        == "success"
                {
                    assert!(a.is_valid(i), "{col} missing in a generated sign-in");
                }
            }
        }
    }
    assert_eq!(rows, text.lines().count());
}
