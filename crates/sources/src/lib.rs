//! Vendor log formats parsed into rows of the lake tables.
//!
//! Reading is split in three steps, each testable on its own:
//! 1. [`open_decoded`] turns a file into a byte stream (gzip and zstd are recognised by
//!    their magic bytes, not their names);
//! 2. [`Framer`] cuts the stream into records (NDJSON lines or the elements of a JSON
//!    array, with BOM, CRLF and blank lines tolerated) and hands them out in chunks that
//!    can be parsed in parallel;
//! 3. a [`Source`] (through its [`SourceKind`] handle) maps each record of a chunk to typed Arrow
//!    columns. A record it cannot read is a [`BadRecord`] value carrying its line and the
//!    reason, never a panic or an early return.
//!
//! ```
//! use midgame_sources::{Framer, ParseOptions, SourceKind};
//! let text = br#"{"published":"2022-08-04T10:12:33.000Z","eventType":"user.session.start","actor":{"alternateId":"JDoe@Example.com"},"outcome":{"result":"SUCCESS"}}"#;
//! let mut framer = Framer::new(&text[..]);
//! let chunk = framer.next_chunk().unwrap().unwrap();
//! let parsed = SourceKind::from_name("okta").unwrap().parse(&chunk, &ParseOptions::new("okta.json"));
//! assert_eq!(parsed.auth.unwrap().num_rows(), 1);
//! assert!(parsed.bad.is_empty());
//! ```
#![deny(missing_docs)]

pub mod admin_audit;
pub mod cisco_asa;
pub mod cloudtrail;
mod countries;
pub mod entra;
mod framing;
#[doc(hidden)]
pub mod fuzz;
pub mod globalprotect;
mod lenient;
pub mod mapping;
pub mod okta;
pub mod openvpn;
pub mod time;

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use arrow::array::RecordBatch;
pub use framing::{Chunk, DEFAULT_MAX_RECORD_BYTES, Framer, FramingMode, Record, framing_of};
use midgame_schema::{IdentityMap, Provenance};

/// Whether the original record text is kept in the `raw` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RawMode {
    /// Keep the whole record (the default: the evidence stays one query away).
    #[default]
    Full,
    /// Keep provenance (`file`, `line`) only: faster ingest, smaller lake.
    None,
}

/// What every parser needs to know besides the bytes.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// The file name written to the `file` column.
    pub file: String,
    /// Identity normalisation.
    pub identities: IdentityMap,
    /// Whether `raw` is kept.
    pub raw: RawMode,
    /// Year of year-less syslog timestamps (`--year`, else the file's date, else its
    /// modification time).
    pub default_year: Option<i32>,
    /// The day the file is about (from its path, else its modification time): a
    /// year-less time more than a day after it belongs to the year before.
    pub reference_day: Option<chrono::NaiveDate>,
    /// The zone of zone-less device timestamps (`--tz`; UTC by default).
    pub clock: time::DeviceClock,
    /// How an admin tool's own audit JSON maps to `admin` (for `admin-audit`).
    pub admin_mapping: Option<std::sync::Arc<mapping::AdminMapping>>,
    /// The window of event times accepted (a record outside it is quarantined).
    pub door: midgame_schema::Door,
}

impl ParseOptions {
    /// Defaults for a file: no default domain, no aliases, `raw` kept.
    #[must_use]
    pub fn new(file: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            identities: IdentityMap::default(),
            raw: RawMode::Full,
            default_year: None,
            reference_day: None,
            clock: time::DeviceClock::Utc,
            admin_mapping: None,
            door: midgame_schema::Door::default(),
        }
    }

    /// An `auth` builder for `rows` rows that checks times against [`ParseOptions::door`].
    #[must_use]
    pub fn auth_builder(&self, rows: usize) -> midgame_schema::AuthBuilder {
        midgame_schema::AuthBuilder::with_capacity(rows).with_door(self.door)
    }

    /// An `admin` builder for `rows` rows that checks times against [`ParseOptions::door`].
    #[must_use]
    pub fn admin_builder(&self, rows: usize) -> midgame_schema::AdminBuilder {
        midgame_schema::AdminBuilder::with_capacity(rows).with_door(self.door)
    }

    /// The provenance of a row made from the record at `line` whose text is `text`:
    /// the file, the line and (unless `raw` is off) the text.
    #[must_use]
    pub fn provenance<'a>(&'a self, line: u64, text: Option<&'a str>) -> Provenance<'a> {
        Provenance {
            file: &self.file,
            line: i64::try_from(line).unwrap_or(i64::MAX),
            raw: match self.raw {
                RawMode::Full => text,
                RawMode::None => None,
            },
        }
    }
}

/// A record that could not become a row, with where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    /// 1-based line where the record starts.
    pub line: u64,
    /// One line saying what is wrong.
    pub reason: String,
    /// The record's original bytes, exactly as read (at most [`BadRecord::MAX_TEXT`]).
    pub bytes: Vec<u8>,
    /// The record's whole length in bytes (more than `bytes` holds when it was cut).
    pub length: u64,
}

impl BadRecord {
    /// Longest record text kept in quarantine.
    pub const MAX_TEXT: usize = 64 * 1024;

    /// A bad record from its bytes.
    #[must_use]
    pub fn new(line: u64, reason: impl Into<String>, bytes: &[u8]) -> Self {
        Self::cut(line, reason, bytes, bytes.len() as u64)
    }

    /// A bad record of `length` bytes of which `start` are the first (a record too long
    /// to hold is quarantined by its position and length, not read whole).
    #[must_use]
    pub fn cut(line: u64, reason: impl Into<String>, start: &[u8], length: u64) -> Self {
        Self {
            line,
            reason: reason.into(),
            bytes: start[..start.len().min(Self::MAX_TEXT)].to_vec(),
            length,
        }
    }

    /// The bytes as text (invalid UTF-8 replaced: for people; the quarantine keeps the
    /// bytes themselves).
    #[must_use]
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }

    /// Whether only the start of the record is held.
    #[must_use]
    pub fn is_cut(&self) -> bool {
        (self.bytes.len() as u64) < self.length
    }
}

impl fmt::Display for BadRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// A JSON record's text as `T`, or the one-line reason it is not: not UTF-8, invalid
/// JSON, or not an object (`what` names what was expected).
pub(crate) fn json_record<'a, T: serde::Deserialize<'a>>(
    bytes: &'a [u8],
    what: &str,
) -> Result<(&'a str, T), String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("not UTF-8 text (byte {} of the record)", e.valid_up_to()))?;
    let value = serde_json::from_str(text).map_err(|e| {
        if text.starts_with('{') {
            format!("invalid JSON: {e}")
        } else {
            format!("not a JSON object (expected {what})")
        }
    })?;
    Ok((text, value))
}

/// Parse each record of `chunk` into `auth` rows with `row`: `Ok(true)` made a row,
/// `Ok(false)` is a record no table needs (counted as skipped), `Err` a bad record.
pub(crate) fn auth_rows(
    chunk: &Chunk,
    opts: &ParseOptions,
    row: impl Fn(&[u8], u64, &ParseOptions, &mut midgame_schema::AuthBuilder) -> Result<bool, String>,
) -> Parsed {
    let mut builder = opts.auth_builder(chunk.len());
    let mut bad = Vec::new();
    let mut skipped = 0;
    for rec in chunk.records() {
        match row(rec.text, rec.line, opts, &mut builder) {
            Ok(true) => {}
            Ok(false) => skipped += 1,
            Err(reason) => bad.push(BadRecord::new(rec.line, reason, rec.text)),
        }
    }
    Parsed {
        nulled: builder.take_nulled(),
        ambiguous: builder.take_ambiguous(),
        auth: (!builder.is_empty()).then(|| builder.finish()),
        admin: None,
        bad,
        skipped,
    }
}

/// Rows parsed from one chunk.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Rows of the `auth` table, if any.
    pub auth: Option<RecordBatch>,
    /// Rows of the `admin` table, if any.
    pub admin: Option<RecordBatch>,
    /// Records that could not be read (to quarantine).
    pub bad: Vec<BadRecord>,
    /// Records read but needed by no table (counted, not stored).
    pub skipped: u64,
    /// Values stored as null because they were invalid (addresses that are not IP
    /// addresses, coordinates off the globe); the record's `raw` keeps the original.
    pub nulled: u64,
    /// `auth` rows whose device time occurred twice (the hour a clock goes back): the row
    /// and its later reading (see [`time::LocalTime`]).
    pub ambiguous: Vec<(usize, i64)>,
}

/// A log format midgame reads, implemented by each vendor's module: its name, how its
/// records are recognised, the table and columns it fills, and the parser.
///
/// Adding a vendor is a module with one `impl Source` and a line in [`SourceKind::ALL`];
/// the command line's `--source` values, content recognition, dispatch and the table
/// reference all come from that list.
pub trait Source: Sync + Send {
    /// The name used on the command line and in the `source` column.
    fn name(&self) -> &'static str;
    /// One line on what the format is, for `--source` help.
    fn about(&self) -> &'static str;
    /// Whether one record (a line, or a JSON array element) is of this format.
    fn looks_like(&self, record: &[u8]) -> bool;
    /// The table this source writes.
    fn table(&self) -> &'static str;
    /// The columns of that table it fills besides the ones every source fills.
    fn columns(&self) -> &'static [&'static str];
    /// Map every record of a chunk to rows, bad records and a count of skipped ones.
    fn parse(&self, chunk: &Chunk, opts: &ParseOptions) -> Parsed;
}

/// One of the log formats midgame reads: a handle on its [`Source`].
#[derive(Clone, Copy)]
pub struct SourceKind(&'static dyn Source);

impl PartialEq for SourceKind {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for SourceKind {}

impl std::hash::Hash for SourceKind {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name().hash(state);
    }
}

impl fmt::Debug for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SourceKind({})", self.name())
    }
}

impl SourceKind {
    /// Every source, in the order content recognition tries them (the most specific
    /// first: an Okta event also looks like generic JSON).
    pub const ALL: [SourceKind; 7] = [
        SourceKind(&okta::Okta),
        SourceKind(&cloudtrail::CloudTrail),
        SourceKind(&entra::Entra),
        SourceKind(&admin_audit::AdminAudit),
        SourceKind(&cisco_asa::CiscoAsa),
        SourceKind(&globalprotect::GlobalProtect),
        SourceKind(&openvpn::OpenVpn),
    ];

    /// The generic admin-audit source: what a mapping file (`--mapping`) reads with.
    pub const ADMIN_AUDIT: SourceKind = SourceKind(&admin_audit::AdminAudit);

    /// The handle of a source.
    #[must_use]
    pub const fn new(source: &'static dyn Source) -> Self {
        Self(source)
    }

    /// The name used on the command line and in the `source` column.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// One line on what the format is.
    #[must_use]
    pub fn about(self) -> &'static str {
        self.0.about()
    }

    /// The kind named `name` on the command line.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Every name, for messages: `okta, cloudtrail, ...`.
    #[must_use]
    pub fn names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }

    /// Recognise the format from the first records of a file.
    #[must_use]
    pub fn recognise(chunk: &Chunk) -> Option<Self> {
        chunk
            .records()
            .take(16)
            .find_map(|r| Self::ALL.into_iter().find(|k| k.0.looks_like(r.text)))
    }

    /// The table this source writes and the columns it can fill (the rest stay null):
    /// the columns every source of that table fills, then its own.
    #[must_use]
    pub fn fills(self) -> (&'static str, Vec<&'static str>) {
        // Every row of a table has its time, source, what happened, and provenance.
        const AUTH_ALWAYS: [&str; 11] = [
            "time",
            "time_ms",
            "source",
            "class_uid",
            "activity_id",
            "event_type",
            "activity",
            "outcome",
            "file",
            "line",
            "raw",
        ];
        const ADMIN_ALWAYS: [&str; 9] = [
            "time",
            "time_ms",
            "source",
            "action",
            "activity_id",
            "outcome",
            "file",
            "line",
            "raw",
        ];
        let table = self.0.table();
        let always: &[&str] = if table == midgame_schema::AUTH {
            &AUTH_ALWAYS
        } else {
            &ADMIN_ALWAYS
        };
        (
            table,
            always.iter().chain(self.0.columns()).copied().collect(),
        )
    }

    /// Parse every record of `chunk`; records the framer could not cut are bad ones too.
    #[must_use]
    pub fn parse(self, chunk: &Chunk, opts: &ParseOptions) -> Parsed {
        let mut parsed = self.0.parse(chunk, opts);
        parsed.bad.extend(chunk.bad().iter().cloned());
        parsed
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The reference of the lake tables in Markdown: every column with its type, meaning and
/// the sources that fill it. `docs/tables.md` is this text (a test keeps it so).
#[must_use]
pub fn tables_reference() -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "# Lake tables\n\n\
         Generated from the schema (`crates/schema/src/table.rs`) and each source's \
         `SourceKind::fills`; do not edit by hand. `cargo test -p midgame-sources --test reference` \
         checks it, and `MIDGAME_BLESS=1` with the same command rewrites it. In `midgame sql`, \
         `\\d NAME` shows the same for tables and views.\n",
    );
    for table in midgame_schema::Table::ALL {
        let _ = write!(
            out,
            "\n## `{}`\n\n{}\n\n| column | type | null | meaning | filled by |\n|---|---|---|---|---|\n",
            table.name, table.doc
        );
        for c in table.columns {
            let by: Vec<&str> = SourceKind::ALL
                .iter()
                .filter(|k| {
                    let (t, cols) = k.fills();
                    t == table.name && cols.contains(&c.name)
                })
                .map(|k| k.name())
                .collect();
            let ty = match c.ty.data_type() {
                arrow::datatypes::DataType::Timestamp(_, _) => "timestamp (ms, UTC)".to_owned(),
                arrow::datatypes::DataType::Utf8 => "text".to_owned(),
                other => other.to_string().to_lowercase(),
            };
            let _ = writeln!(
                out,
                "| `{}` | {ty} | {} | {} | {} |",
                c.name,
                if c.nullable { "yes" } else { "no" },
                c.doc.replace('|', "\\|"),
                if by.is_empty() {
                    "(none yet)".to_owned()
                } else {
                    by.join(", ")
                }
            );
        }
        let _ = writeln!(
            out,
            "| `date` | text | no | Partition directory `date=YYYY-MM-DD`: the UTC day of `time`. | the lake |"
        );
    }
    out
}

/// Open `path` for reading, decompressing gzip (`1f 8b`) or zstd (`28 b5 2f fd`) when
/// its first bytes say so, whatever its name.
///
/// # Errors
/// The file cannot be opened or read.
pub fn open_decoded(path: &Path) -> std::io::Result<Box<dyn Read + Send>> {
    let file = std::fs::File::open(path)?;
    decoded(BufReader::with_capacity(1 << 20, file))
}

/// Decompress `reader` when its first bytes are a gzip or zstd magic number.
///
/// # Errors
/// The first bytes cannot be read, or the zstd decoder cannot start.
pub fn decoded<R: BufRead + Send + 'static>(
    mut reader: R,
) -> std::io::Result<Box<dyn Read + Send>> {
    let head = reader.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(reader)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Ok(Box::new(zstd::stream::read::Decoder::with_buffer(reader)?))
    } else {
        Ok(Box::new(reader))
    }
}

/// ISO 3166 alpha-2 code of a country name as IdPs write it (`United States` -> `US`);
/// a two-letter code is returned upper-cased.
#[must_use]
pub fn country_code(name: &str) -> Option<&'static str> {
    let name = name.trim();
    if name.len() == 2 && name.bytes().all(|b| b.is_ascii_alphabetic()) {
        let upper = name.to_ascii_uppercase();
        return countries::COUNTRIES
            .iter()
            .map(|(_, c)| *c)
            .find(|c| *c == upper);
    }
    let lower = name.to_lowercase();
    countries::COUNTRIES
        .binary_search_by(|(n, _)| (*n).cmp(lower.as_str()))
        .ok()
        .map(|i| countries::COUNTRIES[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_names_become_codes() {
        assert_eq!(country_code("United States"), Some("US"));
        assert_eq!(country_code("France"), Some("FR"));
        assert_eq!(country_code("netherlands"), Some("NL"));
        assert_eq!(country_code("Russia"), Some("RU"));
        assert_eq!(country_code("gb"), Some("GB"));
        assert_eq!(country_code("Atlantis"), None);
    }

    #[test]
    fn gzip_and_zstd_are_recognised_by_content() {
        use std::io::Write;
        let text = b"{\"a\":1}\n";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text).unwrap();
        let gz = gz.finish().unwrap();
        let zs = zstd::stream::encode_all(&text[..], 3).unwrap();
        for bytes in [gz, zs, text.to_vec()] {
            let mut out = Vec::new();
            decoded(std::io::Cursor::new(bytes))
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, text);
        }
    }
}
