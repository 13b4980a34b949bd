//! Cutting a byte stream into records, independent of what the records mean.
//!
//! Two framings cover the JSON exports and syslog files midgame reads:
//! - [`FramingMode::Lines`]: one record per line (NDJSON, syslog); CRLF and blank lines
//!   are tolerated;
//! - [`FramingMode::Json`]: JSON values that may span lines: the elements of a top-level
//!   array (`[{...},{...}]`, as Okta's API and console exports give them), concatenated
//!   arrays (paged API output appended to one file) or pretty-printed objects.
//!
//! The mode is recognised from the first bytes (at most [`DEFAULT_MAX_RECORD_BYTES`] of
//! them). Records are handed out in [`Chunk`]s of a few MiB that own their bytes, so
//! chunks can be parsed on other threads while the next one is read: memory is bounded by
//! the chunk size and the longest record allowed, whatever the file holds. A record
//! longer than that (a line that never ends, a JSON value that never closes) is not read
//! whole: it becomes a bad record naming its line and length, with its first bytes, and
//! framing goes on after it.

use std::io::{self, Read};
use std::ops::Range;

use crate::BadRecord;

const BOM: &[u8] = b"\xef\xbb\xbf";
/// Default size of a chunk's bytes.
pub const DEFAULT_CHUNK_BYTES: usize = 4 << 20;
/// Default longest record: 16 MiB (the largest real records, CloudTrail digests and
/// Entra sign-ins with many policies, are a few hundred KiB).
pub const DEFAULT_MAX_RECORD_BYTES: usize = 16 << 20;
/// Bytes of an oversize record kept for the quarantine.
const OVERSIZE_KEPT: usize = 4096;

/// How the stream is cut into records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramingMode {
    /// One record per line.
    Lines,
    /// JSON values, possibly multi-line, at the top level or inside top-level arrays.
    Json,
}

/// One record: its bytes and the 1-based line where it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// 1-based line number of the record's first byte.
    pub line: u64,
    /// The record's bytes (no line terminator, no surrounding whitespace).
    pub text: &'a [u8],
}

#[derive(Debug, Clone)]
struct Span {
    range: Range<usize>,
    line: u64,
}

/// A run of whole records that owns its bytes.
#[derive(Debug, Clone, Default)]
pub struct Chunk {
    data: Vec<u8>,
    spans: Vec<Span>,
    bad: Vec<BadRecord>,
}

impl Chunk {
    /// The records, in file order.
    pub fn records(&self) -> impl Iterator<Item = Record<'_>> + '_ {
        self.spans.iter().map(|s| Record {
            line: s.line,
            text: &self.data[s.range.clone()],
        })
    }

    /// Number of records.
    #[must_use]
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the chunk holds no record.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Bytes that could not be framed as a record (e.g. an array cut off by the end of
    /// the file).
    #[must_use]
    pub fn bad(&self) -> &[BadRecord] {
        &self.bad
    }
}

/// Cuts a reader into [`Chunk`]s of records.
pub struct Framer<R> {
    reader: R,
    buf: Vec<u8>,
    /// 1-based line number of `buf[0]`.
    line: u64,
    eof: bool,
    mode: Option<FramingMode>,
    in_array: bool,
    started: bool,
    chunk_bytes: usize,
    max_record: usize,
    total_bytes: u64,
    peak_buffer: usize,
}

impl<R: Read> Framer<R> {
    /// A framer with the default chunk size; the mode is recognised from the content.
    pub fn new(reader: R) -> Self {
        Self::with_chunk_bytes(reader, DEFAULT_CHUNK_BYTES)
    }

    /// A framer whose chunks hold about `chunk_bytes` bytes (a longer record makes a
    /// longer chunk).
    pub fn with_chunk_bytes(reader: R, chunk_bytes: usize) -> Self {
        Self {
            reader,
            buf: Vec::new(),
            line: 1,
            eof: false,
            mode: None,
            in_array: false,
            started: false,
            chunk_bytes: chunk_bytes.max(1),
            max_record: DEFAULT_MAX_RECORD_BYTES,
            total_bytes: 0,
            peak_buffer: 0,
        }
    }

    /// Records longer than `bytes` are quarantined by their position and length instead
    /// of being read whole.
    #[must_use]
    pub fn max_record_bytes(mut self, bytes: usize) -> Self {
        self.max_record = bytes.max(1);
        self
    }

    /// The most bytes held at once (for tests and benchmarks of bounded memory).
    #[must_use]
    pub fn peak_buffer(&self) -> usize {
        self.peak_buffer
    }

    /// Continue a stream from the middle of a file: the reader starts at a record boundary
    /// on line `line` (1-based), where no byte-order mark can be.
    #[must_use]
    pub fn starting_at_line(mut self, line: u64) -> Self {
        self.line = line;
        self.started = true;
        self
    }

    /// The mode in use, once the first bytes were read.
    #[must_use]
    pub fn mode(&self) -> Option<FramingMode> {
        self.mode
    }

    /// Decompressed bytes read so far.
    #[must_use]
    pub fn bytes_read(&self) -> u64 {
        self.total_bytes
    }

    fn fill(&mut self, want: usize) -> io::Result<()> {
        const STEP: usize = 256 * 1024;
        while self.buf.len() < want && !self.eof {
            let old = self.buf.len();
            let step = STEP.max(want - old);
            self.buf.reserve(step);
            // `take` + `read_to_end` appends into spare capacity: no zero-filling.
            let n = loop {
                match (&mut self.reader)
                    .take(step as u64)
                    .read_to_end(&mut self.buf)
                {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.buf.truncate(old);
                        return Err(e);
                    }
                }
            };
            self.total_bytes += n as u64;
            self.peak_buffer = self.peak_buffer.max(self.buf.len());
            if n < step {
                self.eof = true;
            }
        }
        Ok(())
    }

    /// How many more bytes to ask for when the buffer holds no whole record: twice as
    /// many, up to one past the longest record allowed.
    fn grow(&self, want: usize) -> usize {
        want.saturating_mul(2)
            .min(self.max_record + 1)
            .max(self.buf.len() + 1)
    }

    /// Records over the limit that arrived whole in one read are bad records too, kept
    /// by their first bytes and length, so the limit does not depend on read sizes.
    fn quarantine_oversize(&self, cut: &mut Cut) {
        if cut.spans.iter().all(|s| s.range.len() <= self.max_record) {
            return;
        }
        let what = match self.mode {
            Some(FramingMode::Json) => "a JSON value",
            _ => "a line",
        };
        cut.spans.retain(|s| {
            if s.range.len() <= self.max_record {
                return true;
            }
            let start = &self.buf[s.range.start..s.range.start + OVERSIZE_KEPT.min(s.range.len())];
            cut.bad.push(BadRecord::cut(
                s.line,
                format!(
                    "{what} of {} bytes, over the {} byte limit on a record: skipped (its first {} bytes kept)",
                    s.range.len(),
                    self.max_record,
                    start.len()
                ),
                start,
                s.range.len() as u64,
            ));
            false
        });
    }

    /// The buffer starts with a record longer than the limit: read past it without
    /// keeping it, and hand it out as a bad record with its first bytes and length.
    fn skip_oversize(&mut self) -> io::Result<Chunk> {
        let line = self.line;
        let kept = self.buf[..self.buf.len().min(OVERSIZE_KEPT)].to_vec();
        let mut skip = match self.mode {
            Some(FramingMode::Json) => Skip::value(self.buf.first().copied()),
            _ => Skip::Line,
        };
        let mut length: u64 = 0;
        let mut newlines: u64 = 0;
        loop {
            match skip.feed(&self.buf) {
                Some(end) => {
                    newlines += count_newlines(&self.buf[..end]);
                    // A line's length is without its terminator, as when it is whole.
                    let terminator = usize::from(matches!(skip, Skip::Line));
                    length += (end - terminator) as u64;
                    self.buf.drain(..end);
                    break;
                }
                None => {
                    newlines += count_newlines(&self.buf);
                    length += self.buf.len() as u64;
                    self.buf.clear();
                    if self.eof {
                        break;
                    }
                    self.fill(OVERSIZE_STEP)?;
                }
            }
        }
        let unfinished = self.eof && self.buf.is_empty() && !skip.ended();
        self.line = line + newlines;
        let what = match self.mode {
            Some(FramingMode::Json) if unfinished => "a JSON value that never ends",
            Some(FramingMode::Json) => "a JSON value",
            _ => "a line",
        };
        Ok(Chunk {
            data: Vec::new(),
            spans: Vec::new(),
            bad: vec![BadRecord::cut(
                line,
                format!(
                    "{what} of {length} bytes, over the {} byte limit on a record: skipped (its first {} bytes kept)",
                    self.max_record,
                    kept.len()
                ),
                &kept,
                length,
            )],
        })
    }

    /// The next chunk of whole records, or `None` at the end of the stream.
    ///
    /// # Errors
    /// Reading (or decompressing) fails.
    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        let mut want = self.chunk_bytes;
        loop {
            self.fill(want)?;
            if !self.started {
                if self.buf.len() < BOM.len() && !self.eof {
                    want = want.max(BOM.len());
                    continue;
                }
                if self.buf.starts_with(BOM) {
                    self.buf.drain(..BOM.len());
                }
                self.started = true;
            }
            if self.mode.is_none() {
                match recognise(&self.buf, self.eof) {
                    Some(mode) => self.mode = Some(mode),
                    // Undecided after the longest record: one endless line (or blank
                    // space), which the line framing quarantines.
                    None if self.buf.len() > self.max_record => {
                        self.mode = Some(FramingMode::Lines);
                    }
                    None => {
                        want = self.grow(want);
                        continue;
                    }
                }
            }
            let mut cut = match self.mode {
                Some(FramingMode::Lines) => split_lines(&self.buf, self.eof, self.line),
                _ => scan_json(&self.buf, self.eof, self.line, &mut self.in_array),
            };
            self.quarantine_oversize(&mut cut);
            if cut.consumed == 0 {
                if self.eof {
                    return Ok(None);
                }
                if self.buf.len() > self.max_record {
                    return self.skip_oversize().map(Some);
                }
                // One record longer than the buffer: read more before cutting.
                want = self.grow(want);
                continue;
            }
            let rest = self.buf[cut.consumed..].to_vec();
            self.buf.truncate(cut.consumed);
            let data = std::mem::replace(&mut self.buf, rest);
            self.line = cut.next_line;
            if cut.spans.is_empty() && cut.bad.is_empty() {
                want = self.chunk_bytes;
                continue;
            }
            return Ok(Some(Chunk {
                data,
                spans: cut.spans,
                bad: cut.bad,
            }));
        }
    }
}

/// Bytes read at a time while skipping an oversize record.
const OVERSIZE_STEP: usize = 1 << 20;

fn count_newlines(b: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', b).count() as u64
}

/// Where an oversize record ends, found while reading past it a buffer at a time.
#[derive(Debug, Clone, Copy)]
enum Skip {
    /// Up to and including the next newline.
    Line,
    /// A JSON object, array or string: up to its closing byte.
    Value {
        depth: usize,
        in_str: bool,
        esc: bool,
        ended: bool,
    },
}

impl Skip {
    fn value(first: Option<u8>) -> Self {
        match first {
            Some(b'{' | b'[' | b'"') => Skip::Value {
                depth: 0,
                in_str: false,
                esc: false,
                ended: false,
            },
            // A bare scalar ends at the end of its line.
            _ => Skip::Line,
        }
    }

    fn ended(&self) -> bool {
        matches!(self, Skip::Value { ended: true, .. })
    }

    /// Feed the next bytes; `Some(n)`: the record ends after `n` of them.
    fn feed(&mut self, buf: &[u8]) -> Option<usize> {
        match self {
            Skip::Line => memchr::memchr(b'\n', buf).map(|p| p + 1),
            Skip::Value {
                depth,
                in_str,
                esc,
                ended,
            } => {
                for (j, &b) in buf.iter().enumerate() {
                    if *in_str {
                        if *esc {
                            *esc = false;
                        } else if b == b'\\' {
                            *esc = true;
                        } else if b == b'"' {
                            *in_str = false;
                            if *depth == 0 {
                                *ended = true;
                                return Some(j + 1);
                            }
                        }
                        continue;
                    }
                    match b {
                        b'"' => *in_str = true,
                        b'{' | b'[' => *depth += 1,
                        b'}' | b']' => {
                            *depth = depth.saturating_sub(1);
                            if *depth == 0 {
                                *ended = true;
                                return Some(j + 1);
                            }
                        }
                        _ => {}
                    }
                }
                None
            }
        }
    }
}

struct Cut {
    spans: Vec<Span>,
    bad: Vec<BadRecord>,
    consumed: usize,
    next_line: u64,
}

/// `Lines` unless the text starts with `[`, or with a `{` whose value does not end on its
/// first line (pretty-printed JSON). `None` when more bytes are needed to tell.
#[must_use]
pub fn framing_of(buf: &[u8], eof: bool) -> Option<FramingMode> {
    recognise(buf, eof)
}

fn recognise(buf: &[u8], eof: bool) -> Option<FramingMode> {
    let Some(first) = buf.iter().position(|b| !b.is_ascii_whitespace()) else {
        return eof.then_some(FramingMode::Lines);
    };
    match buf[first] {
        b'[' => Some(FramingMode::Json),
        b'{' => match scan_value(buf, first) {
            Some((end, newlines)) => {
                let ends_line = buf[end..]
                    .iter()
                    .find(|b| !matches!(b, b' ' | b'\t' | b'\r'))
                    .is_none_or(|b| *b == b'\n');
                Some(if newlines == 0 && ends_line {
                    FramingMode::Lines
                } else {
                    FramingMode::Json
                })
            }
            None if eof => Some(FramingMode::Json),
            // The first line ended inside the value: pretty-printed JSON.
            None => buf[first..].contains(&b'\n').then_some(FramingMode::Json),
        },
        _ => Some(FramingMode::Lines),
    }
}

fn trim(bytes: &[u8]) -> Range<usize> {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    start..end.max(start)
}

fn split_lines(buf: &[u8], eof: bool, first_line: u64) -> Cut {
    let consumed = if eof {
        buf.len()
    } else {
        memchr::memrchr(b'\n', buf).map_or(0, |p| p + 1)
    };
    let mut spans = Vec::with_capacity(consumed / 512 + 1);
    let mut line = first_line;
    let mut start = 0;
    while start < consumed {
        let end = memchr::memchr(b'\n', &buf[start..consumed]).map_or(consumed, |p| start + p);
        let t = trim(&buf[start..end]);
        if !t.is_empty() {
            spans.push(Span {
                range: start + t.start..start + t.end,
                line,
            });
        }
        line += 1;
        start = end + 1;
    }
    Cut {
        spans,
        bad: Vec::new(),
        consumed,
        next_line: line,
    }
}

/// End (exclusive) of the JSON object/array/string starting at `start`, and the newlines
/// inside it; `None` when the buffer ends first.
fn scan_value(buf: &[u8], start: usize) -> Option<(usize, u64)> {
    let mut depth = 0usize;
    let mut in_str = false;
    let mut esc = false;
    let mut newlines = 0;
    for (j, &b) in buf.iter().enumerate().skip(start) {
        if b == b'\n' {
            newlines += 1;
        }
        if in_str {
            if esc {
                esc = false;
            } else if b == b'\\' {
                esc = true;
            } else if b == b'"' {
                in_str = false;
                if depth == 0 {
                    return Some((j + 1, newlines));
                }
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some((j + 1, newlines));
                }
            }
            _ => {}
        }
    }
    None
}

fn scan_json(buf: &[u8], eof: bool, first_line: u64, in_array: &mut bool) -> Cut {
    let mut spans = Vec::new();
    let mut bad = Vec::new();
    let mut line = first_line;
    let mut i = 0;
    let mut consumed;
    let mut consumed_line;
    let len = buf.len();
    loop {
        // Between records: whitespace, commas inside an array, array brackets.
        while i < len && (buf[i].is_ascii_whitespace() || (*in_array && buf[i] == b',')) {
            if buf[i] == b'\n' {
                line += 1;
            }
            i += 1;
        }
        consumed = i;
        consumed_line = line;
        if i == len {
            break;
        }
        match buf[i] {
            b'[' if !*in_array => {
                *in_array = true;
                i += 1;
                continue;
            }
            b']' if *in_array => {
                *in_array = false;
                i += 1;
                continue;
            }
            _ => {}
        }
        let start = i;
        let scanned = match buf[i] {
            b'{' | b'[' | b'"' => scan_value(buf, i),
            _ => {
                // A bare scalar or stray text: up to the next delimiter.
                let stop: &[u8] = if *in_array { b",]\n" } else { b"\n" };
                buf[i..].iter().position(|b| stop.contains(b)).map(|p| {
                    let end = i + p;
                    (end, 0)
                })
            }
        };
        match scanned {
            Some((end, newlines)) => {
                let t = trim(&buf[start..end]);
                spans.push(Span {
                    range: start + t.start..start + t.end,
                    line,
                });
                line += newlines;
                i = end;
            }
            None if eof => {
                let text = &buf[start..];
                if matches!(text[0], b'{' | b'[' | b'"') {
                    bad.push(BadRecord::new(
                        line,
                        "unterminated JSON value: the file ends inside it",
                        text,
                    ));
                } else {
                    let t = trim(text);
                    spans.push(Span {
                        range: start + t.start..start + t.end,
                        line,
                    });
                }
                line += text.iter().filter(|b| **b == b'\n').count() as u64;
                consumed = len;
                consumed_line = line;
                break;
            }
            None => break,
        }
    }
    Cut {
        spans,
        bad,
        consumed,
        next_line: consumed_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(bytes: &[u8], chunk: usize) -> (Vec<(u64, String)>, Vec<BadRecord>, FramingMode) {
        let mut f = Framer::with_chunk_bytes(bytes, chunk);
        let mut out = Vec::new();
        let mut bad = Vec::new();
        while let Some(c) = f.next_chunk().unwrap() {
            out.extend(
                c.records()
                    .map(|r| (r.line, String::from_utf8(r.text.to_vec()).unwrap())),
            );
            bad.extend(c.bad().iter().cloned());
        }
        (out, bad, f.mode().unwrap_or(FramingMode::Lines))
    }

    #[test]
    fn ndjson_with_bom_crlf_and_blank_lines() {
        let text = b"\xef\xbb\xbf{\"a\":1}\r\n\r\n{\"a\":2}\r\n  \n{\"a\":3}";
        for chunk in [1, 4, 1 << 20] {
            let (recs, bad, mode) = frame(text, chunk);
            assert_eq!(mode, FramingMode::Lines);
            assert!(bad.is_empty());
            assert_eq!(
                recs,
                vec![
                    (1, "{\"a\":1}".into()),
                    (3, "{\"a\":2}".into()),
                    (5, "{\"a\":3}".into())
                ],
                "chunk size {chunk}"
            );
        }
    }

    #[test]
    fn json_array_elements_with_their_lines() {
        let text = b"[\n  {\"a\": \"x],}\\\"\"},\n  {\n    \"b\": [1, 2]\n  }\n]\n";
        for chunk in [1, 3, 1 << 20] {
            let (recs, bad, mode) = frame(text, chunk);
            assert_eq!(mode, FramingMode::Json);
            assert!(bad.is_empty());
            assert_eq!(recs.len(), 2, "chunk size {chunk}");
            assert_eq!(recs[0], (2, "{\"a\": \"x],}\\\"\"}".into()));
            assert_eq!(recs[1].0, 3);
            assert!(recs[1].1.ends_with('}'));
        }
    }

    #[test]
    fn concatenated_arrays_and_pretty_objects() {
        let (recs, _, _) = frame(b"[{\"a\":1}][{\"a\":2},{\"a\":3}]\n", 2);
        assert_eq!(recs.len(), 3);
        let (recs, _, mode) = frame(b"{\n \"a\": 1\n}\n{\n \"a\": 2\n}\n", 2);
        assert_eq!(mode, FramingMode::Json);
        assert_eq!(recs.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 4]);
    }

    #[test]
    fn a_truncated_array_is_a_bad_record_not_lost() {
        let (recs, bad, _) = frame(b"[{\"a\":1},\n{\"a\":", 1 << 20);
        assert_eq!(recs.len(), 1);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].line, 2);
        assert!(bad[0].reason.contains("unterminated"));
    }

    /// A file shorter than a byte-order mark once made the framer wait forever for the
    /// bytes that would tell (found by `tests/arbitrary_bytes.rs`).
    #[test]
    fn inputs_shorter_than_a_bom_end() {
        assert!(frame(b"\n", 1).0.is_empty());
        assert_eq!(frame(b"{}", 1).0, vec![(1, "{}".to_owned())]);
        assert!(frame(b"[]", 2).0.is_empty());
    }

    #[test]
    fn empty_and_whitespace_only_input_yield_nothing() {
        assert!(frame(b"", 16).0.is_empty());
        assert!(frame(b"\n\r\n  \n", 16).0.is_empty());
        assert!(frame(b"[]", 16).0.is_empty());
        assert!(frame(b"\xef\xbb\xbf", 16).0.is_empty());
    }

    /// Framing with a small record limit: every record, bad ones too, and the most
    /// bytes held at once.
    fn frame_limited(bytes: &[u8], max: usize) -> (Vec<(u64, String)>, Vec<BadRecord>, usize) {
        let mut f = Framer::with_chunk_bytes(bytes, 64).max_record_bytes(max);
        let (mut out, mut bad) = (Vec::new(), Vec::new());
        while let Some(c) = f.next_chunk().unwrap() {
            out.extend(
                c.records()
                    .map(|r| (r.line, String::from_utf8_lossy(r.text).into_owned())),
            );
            bad.extend(c.bad().iter().cloned());
        }
        (out, bad, f.peak_buffer())
    }

    /// One line without an end once made the framer read the whole file into memory
    /// (a 600 MB line took 3.7 GB); now it is a bad record and the lines after it are read.
    #[test]
    fn an_endless_line_is_quarantined_by_its_length_and_the_rest_read() {
        // Longer than one read (skipped as it streams by) and shorter (cut whole).
        for len in [600_000, 100_000] {
            let mut text = b"{\"a\":1}\n".to_vec();
            text.extend(std::iter::repeat_n(b'x', len));
            text.extend(b"\n{\"a\":2}\n");
            let (recs, bad, peak) = frame_limited(&text, 1000);
            assert_eq!(recs, vec![(1, "{\"a\":1}".into()), (3, "{\"a\":2}".into())]);
            assert_eq!(bad.len(), 1);
            assert_eq!((bad[0].line, bad[0].length), (2, len as u64));
            assert!(bad[0].is_cut() && bad[0].bytes.iter().all(|b| *b == b'x'));
            assert!(
                bad[0].reason.contains("over the 1000 byte limit"),
                "{}",
                bad[0].reason
            );
            assert!(peak < 4 * 1000 + OVERSIZE_STEP, "held {peak} bytes");
        }
        // Without a newline at all, to the end of the file.
        let (recs, bad, _) = frame_limited(&vec![0u8; 50_000], 1000);
        assert!(recs.is_empty());
        assert_eq!((bad.len(), bad[0].length), (1, 50_000));
    }

    /// 3 GiB of `{` once filled memory before the format was even decided; a JSON value
    /// over the limit is skipped by scanning, and the next one is read.
    #[test]
    fn an_endless_json_value_is_quarantined_and_framing_goes_on() {
        let mut text = b"[{\"a\":1},\n{\"big\":\"".to_vec();
        text.extend(std::iter::repeat_n(b'y', 20_000));
        text.extend(b"\\\"}\"},\n{\"a\":2}]\n");
        let (recs, bad, _) = frame_limited(&text, 1000);
        assert_eq!(recs, vec![(1, "{\"a\":1}".into()), (3, "{\"a\":2}".into())]);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].line, 2);
        assert!(
            bad[0].reason.starts_with("a JSON value of 20013 bytes"),
            "{}",
            bad[0].reason
        );
        // Inside an array: a value that never closes.
        let mut text = b"[".to_vec();
        text.extend(std::iter::repeat_n(b'{', 600_000));
        let (recs, bad, peak) = frame_limited(&text, 1000);
        assert!(recs.is_empty());
        assert_eq!(bad.len(), 1);
        assert!(bad[0].reason.contains("never ends"), "{}", bad[0].reason);
        assert_eq!(bad[0].length, 600_000);
        assert!(peak < 4 * 1000 + OVERSIZE_STEP, "held {peak} bytes");
        // Alone, with no newline: the format is decided after the longest record, as
        // one line.
        let (recs, bad, peak) = frame_limited(&vec![b'{'; 600_000], 1000);
        assert!(recs.is_empty());
        assert_eq!((bad.len(), bad[0].length), (1, 600_000));
        assert!(peak < 4 * 1000 + OVERSIZE_STEP, "held {peak} bytes");
        // Blank space is no record, however long.
        let (recs, _, peak) = frame_limited(&vec![b' '; 200_000], 1000);
        assert!(recs.is_empty());
        assert!(peak < 4 * 1000 + OVERSIZE_STEP, "held {peak} bytes");
    }

    #[test]
    fn syslog_text_is_framed_by_lines() {
        let (recs, _, mode) = frame(b"<166>Aug  4 10:12:33 asa %ASA-6-113004: x\nnot json\n", 8);
        assert_eq!(mode, FramingMode::Lines);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1], (2, "not json".into()));
    }
}
