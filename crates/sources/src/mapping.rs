//! A mapping file turns any admin tool's JSON audit log into `admin` rows without code:
//! each of our fields names a JSON pointer (RFC 6901) into the tool's record, and the
//! time format is given when it is not RFC 3339 or epoch seconds/milliseconds.
//!
//! ```toml
//! # billing-admin.toml
//! time = "/ts"
//! time_format = "%d/%m/%Y %H:%M:%S"     # chrono strftime; UTC
//! actor = "/who/email"
//! action = "/what"
//! src_ip = "/client/ip"
//! customer_id = "/account/id"
//! bytes = "/export/size"
//! [constants]
//! tool = "billing-admin"                # the same value on every row
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// The fields a mapping may fill.
pub const FIELDS: [&str; 16] = [
    "time",
    "actor",
    "action",
    "tool",
    "src_ip",
    "session_id",
    "target_type",
    "target_id",
    "customer_id",
    "records",
    "bytes",
    "outcome",
    "user_agent",
    "activity_id",
    "geo_country",
    "asn",
];

/// A loaded, checked mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminMapping {
    pointers: BTreeMap<String, String>,
    constants: BTreeMap<String, String>,
    time_format: Option<String>,
}

/// A mapping file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct MappingError {
    /// The mapping file.
    pub path: PathBuf,
    /// What is wrong.
    pub reason: String,
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    time_format: Option<String>,
    #[serde(default)]
    constants: BTreeMap<String, String>,
    #[serde(flatten)]
    pointers: BTreeMap<String, String>,
}

impl AdminMapping {
    /// Read and check a mapping file.
    ///
    /// # Errors
    /// The file cannot be read, is not TOML, names a field midgame does not have, a
    /// pointer that does not start with `/`, or leaves `time`, `actor` or `action` out.
    pub fn load(path: &Path) -> Result<Self, MappingError> {
        let text = std::fs::read_to_string(path).map_err(|e| MappingError {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Self::parse(path, &text)
    }

    /// Check a mapping file's text (`path` names it in errors).
    ///
    /// # Errors
    /// As [`AdminMapping::load`], but for reading the file.
    pub fn parse(path: &Path, text: &str) -> Result<Self, MappingError> {
        let err = |reason: String| MappingError {
            path: path.to_path_buf(),
            reason,
        };
        let f: File =
            toml::from_str(text).map_err(|e| err(e.to_string().trim_end().replace('\n', " ")))?;
        for name in f.pointers.keys().chain(f.constants.keys()) {
            if !FIELDS.contains(&name.as_str()) {
                return Err(err(format!(
                    "`{name}` is not a field of the admin table (mappable: {})",
                    FIELDS.join(", ")
                )));
            }
        }
        for (name, ptr) in &f.pointers {
            if !ptr.starts_with('/') {
                return Err(err(format!(
                    "`{name} = {ptr:?}`: a JSON pointer starts with / (e.g. \"/user/email\")"
                )));
            }
        }
        for required in ["time", "actor", "action"] {
            if !f.pointers.contains_key(required) && !f.constants.contains_key(required) {
                return Err(err(format!("`{required}` is required")));
            }
        }
        Ok(Self {
            pointers: f.pointers,
            constants: f.constants,
            time_format: f.time_format,
        })
    }

    /// The generic admin-audit record this mapping makes of `record`: our field names,
    /// text values.
    pub(crate) fn apply(&self, record: &Value) -> Result<Value, String> {
        let mut out = serde_json::Map::new();
        for (name, value) in &self.constants {
            out.insert(name.clone(), Value::String(value.clone()));
        }
        for (name, ptr) in &self.pointers {
            match record.pointer(ptr) {
                None | Some(Value::Null) => {}
                Some(v) => {
                    out.insert(name.clone(), v.clone());
                }
            }
        }
        if let (Some(fmt), Some(Value::String(t))) = (&self.time_format, out.get("time")) {
            let ms = chrono::NaiveDateTime::parse_from_str(t, fmt)
                .map(|d| d.and_utc().timestamp_millis())
                .or_else(|_| chrono::DateTime::parse_from_str(t, fmt).map(|d| d.timestamp_millis()))
                .map_err(|_| format!("`time` {t:?} does not match the time format {fmt:?}"))?;
            out.insert("time".into(), Value::from(ms));
        }
        Ok(Value::Object(out))
    }
}
