//! The `sigma` fuzz target's body over its seeds (every rule of `../shared/corpus/sigma/`)
//! and every input a fuzz run found a crash with (`fuzz/regressions/sigma/`), as an
//! ordinary test; and the header holds whatever a rule's fields hold.

use std::path::{Path, PathBuf};

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn every_seed_and_saved_crash_converts_or_is_refused() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    files_under(&root.join("../shared/corpus/sigma"), &mut files);
    let rules = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .count();
    assert!(rules > 90, "the Sigma corpus is beside the repository");
    files_under(&root.join("fuzz/regressions/sigma"), &mut files);
    for f in files {
        if let Ok(text) = std::fs::read_to_string(&f) {
            midgame_sigma::fuzz(&text);
        }
    }
}

#[test]
fn line_breaks_in_a_rule_stay_inside_the_header_comments() {
    let rule = "title: \"two\\nSELECT 1\"\nid: \"abc\\nDROP\"\nauthor: \"x\\ny\"\nstatus: test\n\
                tags:\n  - \"attack.t1078\\nSELECT 2\"\n  - \"attack.initial-access\\nSELECT 3\"\n\
                logsource:\n  product: okta\n  service: okta\n\
                detection:\n  sel:\n    eventType: user.session.start\n  condition: sel\n\
                falsepositives:\n  - \"a\\nb\"\nlevel: low\n";
    midgame_sigma::fuzz(rule);
    let out = midgame_sigma::convert_texts(&[(PathBuf::from("r.yml"), rule.to_string())]);
    let c = out.into_iter().next().unwrap().unwrap();
    // Each value's second line would start a line of its own if a break got through.
    for broken in ["SELECT 1", "SELECT 2", "SELECT 3", "DROP", "b", "y"] {
        assert!(
            !c.text.lines().any(|l| l.trim_start().starts_with(broken)),
            "{broken}: {}",
            c.text
        );
    }
    assert!(c.text.contains("-- attack: -\n"), "{}", c.text);
}
