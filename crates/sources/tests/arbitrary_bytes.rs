//! Property tests on generated inputs: framing and parsing never panic, and what comes
//! out does not depend on how the stream was cut into chunks.
//!
//! The inputs are drawn from fragments that stress the framer (brackets, quotes,
//! escapes, line ends, a BOM, whole real events, raw bytes) with a fixed-seed generator,
//! so a failure is reproducible from its case number.

use midgame_gen::Rng;
use midgame_sources::{Framer, ParseOptions, SourceKind};

const EVENT: &str = r#"{"published":"2022-08-04T10:12:33.000Z","eventType":"user.session.start","actor":{"alternateId":"a@b.c"},"outcome":{"result":"SUCCESS"},"debugContext":{"debugData":""}}"#;

fn input(rng: &mut Rng) -> Vec<u8> {
    let fragments: [&[u8]; 16] = [
        b"{",
        b"}",
        b"[",
        b"]",
        b"\"",
        b"\\",
        b",",
        b"\n",
        b"\r\n",
        b" ",
        b"\xef\xbb\xbf",
        b"\xff",
        b"{\"a\":\"x\\\"]\"}",
        b"null",
        EVENT.as_bytes(),
        b"\n",
    ];
    let mut out = Vec::new();
    if rng.below(3) == 0 {
        out.push(b'[');
    }
    for _ in 0..rng.below(40) {
        out.extend_from_slice(fragments[rng.below(fragments.len())]);
        if rng.below(8) == 0 {
            out.push(u8::try_from(rng.below(256)).unwrap());
        }
    }
    out
}

/// Records (line, bytes), framing errors (line, reason), rows, records the parser refused.
type Framed = (Vec<(u64, Vec<u8>)>, Vec<(u64, String)>, usize, usize);

fn frame_all(bytes: &[u8], chunk: usize) -> Framed {
    let mut framer = Framer::with_chunk_bytes(bytes, chunk);
    let (mut records, mut bad, mut rows, mut parse_bad) = (Vec::new(), Vec::new(), 0, 0);
    while let Some(c) = framer.next_chunk().unwrap() {
        records.extend(c.records().map(|r| (r.line, r.text.to_vec())));
        bad.extend(c.bad().iter().map(|b| (b.line, b.reason.clone())));
        let parsed =
            SourceKind::new(&midgame_sources::okta::Okta).parse(&c, &ParseOptions::new("x"));
        rows += parsed.auth.map_or(0, |b| b.num_rows());
        parse_bad += parsed.bad.len();
    }
    (records, bad, rows, parse_bad)
}

#[test]
fn chunk_size_never_changes_what_is_framed_or_parsed() {
    let mut rng = Rng::new(20_220_804, &[]);
    for case in 0..600 {
        let bytes = input(&mut rng);
        let whole = frame_all(&bytes, 1 << 20);
        // Every record becomes a row or a bad record: nothing is lost.
        assert_eq!(
            whole.2 + whole.3,
            whole.0.len() + whole.1.len(),
            "case {case}: {:?}",
            String::from_utf8_lossy(&bytes)
        );
        for chunk in [1, 2, 7, 64] {
            let cut = frame_all(&bytes, chunk);
            assert_eq!(
                cut,
                whole,
                "case {case}, chunk {chunk}: {:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
}

#[test]
fn every_ndjson_line_is_a_row_or_a_bad_record() {
    let mut rng = Rng::new(7, &[]);
    for case in 0..500 {
        // Lines of arbitrary fragments, first line a valid event so the file is NDJSON.
        let mut text = format!("{EVENT}\n").into_bytes();
        let mut lines = 1;
        for _ in 0..rng.below(20) {
            let mut line = input(&mut rng);
            line.retain(|b| *b != b'\n' && *b != b'\r');
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            text.extend_from_slice(&line);
            text.push(b'\n');
            lines += 1;
        }
        let (records, bad, rows, parse_bad) = frame_all(&text, 16);
        assert!(bad.is_empty(), "case {case}");
        assert_eq!(records.len(), lines, "case {case}");
        assert_eq!(rows + parse_bad, lines, "case {case}");
        assert!(
            records
                .iter()
                .enumerate()
                .all(|(i, (line, _))| *line == i as u64 + 1),
            "case {case}: line numbers"
        );
    }
}
