//! Detections as `.sql` files: a comment header of metadata and parameters, then plain,
//! portable SQL over the lake tables.
//!
//! ```sql
//! -- id: impossible_travel
//! -- title: Impossible travel between consecutive sign-ins
//! -- severity: high
//! -- stage: initial-access
//! -- attack: T1078
//! -- description: Two successful sign-ins of one user too far apart for the time between them.
//! -- tactic: Initial Access
//! -- runbook: Call the user: where are they, and was the second sign-in theirs? ...
//! -- false_positives: A corporate VPN egress not yet in the allow-list; ...
//! -- param max_speed_kmh: 1000   fastest plausible travel
//! -- param min_distance_km: 500  closer than this is geolocation noise
//! SELECT ... WHERE speed_kmh > $max_speed_kmh ...
//! ```
//!
//! `tactic`, `runbook` and `false_positives` are optional: the context the incident report
//! puts beside each alert. Parameters are SQL placeholders (`$name`) bound to typed values: a threshold from
//! `midgame.toml` never becomes SQL text.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use datafusion::common::ParamValues;
use datafusion::prelude::{DataFrame, SessionContext};
use datafusion::scalar::ScalarValue;

/// A problem with a detection file, naming the file (and the line where there is one).
#[derive(Debug, thiserror::Error)]
pub enum DetectionError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The header is malformed or incomplete.
    #[error("{path}:{line}: {reason}")]
    Header {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when the problem is the header as a whole).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A configured parameter is unknown or of the wrong type.
    #[error("{path}: parameter `{name}`: {reason}")]
    Param {
        /// The detection file.
        path: PathBuf,
        /// The parameter.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// DataFusion cannot plan or run the query.
    #[error("{path}: {source}")]
    Query {
        /// The detection file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: datafusion::error::DataFusionError,
    },
}

/// Severity of a detection's alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Worth a look today.
    Medium,
    /// Worth a look now.
    High,
    /// Wake someone up.
    Critical,
}

impl Severity {
    /// The name used in headers and alerts.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ]
        .into_iter()
        .find(|v| v.name() == s)
    }
}

/// A parameter's typed value.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// A whole number.
    Int(i64),
    /// A number with a fraction.
    Float(f64),
    /// Text.
    Text(String),
    /// True or false (`[detections.<id>] enabled`; no detection parameter is one).
    Bool(bool),
}

impl ParamValue {
    fn parse_default(s: &str) -> Self {
        if let Ok(i) = s.parse::<i64>() {
            ParamValue::Int(i)
        } else if let Ok(f) = s.parse::<f64>() {
            ParamValue::Float(f)
        } else {
            ParamValue::Text(s.trim_matches('"').to_owned())
        }
    }

    fn scalar(&self) -> ScalarValue {
        match self {
            ParamValue::Int(i) => ScalarValue::Int64(Some(*i)),
            ParamValue::Float(f) => ScalarValue::Float64(Some(*f)),
            ParamValue::Text(s) => ScalarValue::Utf8(Some(s.clone())),
            ParamValue::Bool(b) => ScalarValue::Boolean(Some(*b)),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            ParamValue::Int(_) => "a whole number",
            ParamValue::Float(_) => "a number",
            ParamValue::Text(_) => "text",
            ParamValue::Bool(_) => "true or false",
        }
    }
}

/// One parameter of a detection.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Its default.
    pub default: ParamValue,
    /// What it means.
    pub doc: String,
}

/// A detection loaded from a `.sql` file.
#[derive(Debug, Clone)]
pub struct Detection {
    /// The file.
    pub path: PathBuf,
    /// Stable id (`impossible_travel`); alerts carry it.
    pub id: String,
    /// One-line title.
    pub title: String,
    /// Default severity of its alerts.
    pub severity: Severity,
    /// Attack stage (`initial-access`, `admin-access`, `staging`).
    pub stage: String,
    /// MITRE ATT&CK technique id.
    pub attack: String,
    /// What it finds.
    pub description: String,
    /// MITRE ATT&CK tactic (`Initial Access`), when the header gives one.
    pub tactic: Option<String>,
    /// What the person on call checks and does, when the header gives it.
    pub runbook: Option<String>,
    /// What is known to look like this finding and is not an intrusion.
    pub false_positives: Option<String>,
    /// Parameters and their defaults, by name.
    pub params: BTreeMap<String, Param>,
    /// The SQL (header included; it is comments).
    pub sql: String,
}

const REQUIRED: [&str; 6] = ["id", "title", "severity", "stage", "attack", "description"];
/// Header fields a detection may leave out: the context an alert's reader gets.
const OPTIONAL: [&str; 3] = ["tactic", "runbook", "false_positives"];

impl Detection {
    /// Parse a detection from its text.
    ///
    /// # Errors
    /// A header line is malformed, a required field is missing, or the severity is
    /// unknown.
    pub fn parse(path: &Path, text: &str) -> Result<Self, DetectionError> {
        let err = |line: usize, reason: String| DetectionError::Header {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let mut fields: BTreeMap<&str, (usize, String)> = BTreeMap::new();
        let mut params = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let t = line.trim();
            if t.is_empty() {
                continue;
            }
            let Some(comment) = t.strip_prefix("--") else {
                break;
            };
            let comment = comment.trim();
            if let Some(rest) = comment.strip_prefix("param ") {
                let (name, rest) = rest.split_once(':').ok_or_else(|| {
                    err(line_no, "expected `-- param NAME: DEFAULT  meaning`".into())
                })?;
                let name = name.trim();
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(err(
                        line_no,
                        format!("parameter name {name:?} is not an identifier"),
                    ));
                }
                let rest = rest.trim();
                // A text default with spaces is quoted: 'a b'  meaning.
                let (default, doc) = if let Some(quoted) = rest.strip_prefix('\'') {
                    let (text, doc) = quoted.split_once('\'').ok_or_else(|| {
                        err(
                            line_no,
                            format!("parameter `{name}`: the quoted default has no closing '"),
                        )
                    })?;
                    (ParamValue::Text(text.to_owned()), doc)
                } else {
                    let (default, doc) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                    if default.is_empty() {
                        return Err(err(line_no, format!("parameter `{name}` has no default")));
                    }
                    (ParamValue::parse_default(default), doc)
                };
                params.insert(
                    name.to_owned(),
                    Param {
                        default,
                        doc: doc.trim().to_owned(),
                    },
                );
                continue;
            }
            if let Some((key, value)) = comment.split_once(':') {
                let key = key.trim();
                if let Some(k) = REQUIRED.iter().chain(&OPTIONAL).find(|k| **k == key)
                    && fields
                        .insert(k, (line_no, value.trim().to_owned()))
                        .is_some()
                {
                    return Err(err(line_no, format!("`{key}` given twice")));
                }
            }
        }
        for k in REQUIRED {
            match fields.get(k) {
                Some((_, v)) if !v.is_empty() => {}
                _ => return Err(err(0, format!("the header has no `-- {k}:` line"))),
            }
        }
        let take = |k: &str| fields[k].1.clone();
        let optional = |k: &str| {
            fields
                .get(k)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        let (sev_line, sev) = &fields["severity"];
        let severity = Severity::parse(sev).ok_or_else(|| {
            err(
                *sev_line,
                format!("severity {sev:?} is not one of low, medium, high, critical"),
            )
        })?;
        let id = take("id");
        if !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(err(
                fields["id"].0,
                format!("id {id:?} must be lower-case letters, digits and `_`"),
            ));
        }
        Ok(Self {
            path: path.to_path_buf(),
            id,
            title: take("title"),
            severity,
            stage: take("stage"),
            attack: take("attack"),
            description: take("description"),
            tactic: optional("tactic"),
            runbook: optional("runbook"),
            false_positives: optional("false_positives"),
            params,
            sql: text.to_owned(),
        })
    }

    /// Read and parse a detection file.
    ///
    /// # Errors
    /// As [`Detection::parse`], or the file cannot be read.
    pub fn load(path: &Path) -> Result<Self, DetectionError> {
        let text = std::fs::read_to_string(path).map_err(|source| DetectionError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Every `*.sql` file of a directory, sorted by file name; ids must be unique.
    ///
    /// # Errors
    /// A file cannot be read or parsed, or two files share an id.
    pub fn load_dir(dir: &Path) -> Result<Vec<Self>, DetectionError> {
        let io = |source| DetectionError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        paths.retain(|p| p.extension().is_some_and(|e| e == "sql"));
        paths.sort();
        let mut out: Vec<Self> = Vec::new();
        for p in paths {
            let d = Self::load(&p)?;
            if let Some(other) = out.iter().find(|o| o.id == d.id) {
                return Err(DetectionError::Header {
                    path: p,
                    line: 0,
                    reason: format!("id `{}` is also the id of {}", d.id, other.path.display()),
                });
            }
            out.push(d);
        }
        Ok(out)
    }

    /// Every detection of several folders (the built-in ones first, then an analyst's
    /// own): a later folder's detection replaces an earlier one of the same id, so a
    /// team can change a built-in without forking them all (said in the log); within
    /// one folder an id is unique.
    ///
    /// # Errors
    /// As [`Detection::load_dir`].
    pub fn load_dirs(dirs: &[PathBuf]) -> Result<Vec<Self>, DetectionError> {
        let mut out: Vec<Self> = Vec::new();
        for dir in dirs {
            for d in Self::load_dir(dir)? {
                match out.iter_mut().find(|o| o.id == d.id) {
                    Some(other) => {
                        tracing::info!("{} replaces {}", d.path.display(), other.path.display());
                        *other = d;
                    }
                    None => out.push(d),
                }
            }
        }
        Ok(out)
    }

    /// The parameter values: the defaults, overridden by `overrides` (from the config).
    ///
    /// # Errors
    /// An override names no parameter of this detection, or has another type than the
    /// default (an integer where a number is expected is accepted).
    pub fn bind(
        &self,
        overrides: &BTreeMap<String, ParamValue>,
    ) -> Result<BTreeMap<String, ParamValue>, DetectionError> {
        let mut values: BTreeMap<String, ParamValue> = self
            .params
            .iter()
            .map(|(k, p)| (k.clone(), p.default.clone()))
            .collect();
        for (name, value) in overrides {
            let Some(param) = self.params.get(name) else {
                let known = self.params.keys().cloned().collect::<Vec<_>>().join(", ");
                return Err(DetectionError::Param {
                    path: self.path.clone(),
                    name: name.clone(),
                    reason: format!("not a parameter of `{}` (it has: {known})", self.id),
                });
            };
            #[allow(clippy::cast_precision_loss)]
            let v = match (&param.default, value) {
                (ParamValue::Int(_), ParamValue::Int(_))
                | (ParamValue::Float(_), ParamValue::Float(_))
                | (ParamValue::Text(_), ParamValue::Text(_)) => value.clone(),
                (ParamValue::Float(_), ParamValue::Int(i)) => ParamValue::Float(*i as f64),
                (ParamValue::Int(_), ParamValue::Float(f)) if f.fract() == 0.0 =>
                {
                    #[allow(clippy::cast_possible_truncation)]
                    ParamValue::Int(*f as i64)
                }
                (d, v) => {
                    return Err(DetectionError::Param {
                        path: self.path.clone(),
                        name: name.clone(),
                        reason: format!("expected {}, found {}", d.kind(), v.kind()),
                    });
                }
            };
            values.insert(name.clone(), v);
        }
        Ok(values)
    }

    /// Plan the query with its parameters bound (nothing runs yet).
    ///
    /// # Errors
    /// DataFusion refuses the SQL or a placeholder has no value.
    pub async fn plan(
        &self,
        ctx: &SessionContext,
        values: &BTreeMap<String, ParamValue>,
    ) -> Result<DataFrame, DetectionError> {
        let qerr = |source| DetectionError::Query {
            path: self.path.clone(),
            source,
        };
        let params = ParamValues::from(
            values
                .iter()
                .map(|(k, v)| (k.clone(), v.scalar()))
                .collect::<Vec<_>>(),
        );
        let df = ctx.sql(&self.sql).await.map_err(qerr)?;
        let df = df.with_param_values(params).map_err(qerr)?;
        // Building the physical plan catches what the logical plan lets through.
        df.clone().create_physical_plan().await.map_err(qerr)?;
        Ok(df)
    }

    /// Plan and run.
    ///
    /// # Errors
    /// As [`Detection::plan`], or running fails.
    pub async fn run(
        &self,
        ctx: &SessionContext,
        values: &BTreeMap<String, ParamValue>,
    ) -> Result<Vec<RecordBatch>, DetectionError> {
        let df = self.plan(ctx, values).await?;
        df.collect().await.map_err(|source| DetectionError::Query {
            path: self.path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "-- id: demo\n-- title: Demo\n-- severity: high\n-- stage: initial-access\n-- attack: T1078\n-- description: A demo.\n-- param limit_km: 500  closer is noise\n-- param speed: 1000.5\n-- param pattern: '(?i)(tor exit|vpn)'  a regex with spaces\nSELECT $limit_km AS a, $speed AS b, $pattern AS c\n";

    #[test]
    fn a_header_parses_with_typed_defaults() {
        let d = Detection::parse(Path::new("demo.sql"), HEADER).unwrap();
        assert_eq!(
            (
                d.id.as_str(),
                d.severity,
                d.stage.as_str(),
                d.attack.as_str()
            ),
            ("demo", Severity::High, "initial-access", "T1078")
        );
        assert_eq!(
            d.params["limit_km"],
            Param {
                default: ParamValue::Int(500),
                doc: "closer is noise".into()
            }
        );
        assert_eq!(d.params["speed"].default, ParamValue::Float(1000.5));
        assert_eq!(
            d.params["pattern"],
            Param {
                default: ParamValue::Text("(?i)(tor exit|vpn)".into()),
                doc: "a regex with spaces".into()
            }
        );
    }

    #[test]
    fn a_missing_field_or_bad_severity_names_the_file_and_line() {
        let err = Detection::parse(Path::new("q/x.sql"), "-- id: x\nSELECT 1")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "q/x.sql:0: the header has no `-- title:` line");
        let err = Detection::parse(
            Path::new("q/x.sql"),
            &HEADER.replace("severity: high", "severity: urgent"),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "q/x.sql:3: severity \"urgent\" is not one of low, medium, high, critical"
        );
    }

    #[test]
    fn overrides_are_typed_and_unknown_ones_refused() {
        let d = Detection::parse(Path::new("demo.sql"), HEADER).unwrap();
        let v = d
            .bind(&BTreeMap::from([(
                "speed".to_owned(),
                ParamValue::Int(900),
            )]))
            .unwrap();
        assert_eq!(v["speed"], ParamValue::Float(900.0));
        assert_eq!(v["limit_km"], ParamValue::Int(500));
        let err = d
            .bind(&BTreeMap::from([("sped".to_owned(), ParamValue::Int(1))]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "demo.sql: parameter `sped`: not a parameter of `demo` (it has: limit_km, pattern, speed)"
        );
        let err = d
            .bind(&BTreeMap::from([(
                "limit_km".to_owned(),
                ParamValue::Text("far".into()),
            )]))
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("expected a whole number, found text"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn parameters_are_bound_as_values_not_pasted_as_text() {
        let d = Detection::parse(
            Path::new("demo.sql"),
            &HEADER
                .replace("SELECT $limit_km AS a, $speed AS b", "SELECT $name AS who")
                .replace("-- param speed: 1000.5\n", "-- param name: nobody\n"),
        )
        .unwrap();
        let evil = ParamValue::Text("x'; DROP TABLE auth; --".into());
        let values = d
            .bind(&BTreeMap::from([("name".to_owned(), evil)]))
            .unwrap();
        let batches = d.run(&SessionContext::new(), &values).await.unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        assert!(text.contains("x'; DROP TABLE auth; --"), "{text}");
    }

    #[test]
    fn a_later_folder_replaces_a_detection_of_the_same_id_and_one_folder_may_not_repeat_one() {
        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        fs_err::write(dirs[0].path().join("demo.sql"), HEADER).unwrap();
        fs_err::write(
            dirs[0].path().join("other.sql"),
            HEADER.replace("id: demo", "id: other"),
        )
        .unwrap();
        fs_err::write(
            dirs[1].path().join("mine.sql"),
            HEADER.replace("severity: high", "severity: low"),
        )
        .unwrap();
        let paths: Vec<PathBuf> = dirs.iter().map(|d| d.path().to_path_buf()).collect();
        let all = Detection::load_dirs(&paths).unwrap();
        let summary: Vec<(&str, String)> = all
            .iter()
            .map(|d| {
                (
                    d.id.as_str(),
                    d.path.file_name().unwrap().to_string_lossy().into_owned(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("demo", "mine.sql".to_owned()),
                ("other", "other.sql".to_owned())
            ]
        );
        fs_err::write(dirs[1].path().join("again.sql"), HEADER).unwrap();
        let err = Detection::load_dirs(&paths).unwrap_err().to_string();
        assert!(err.contains("is also the id of"), "{err}");
    }
}
