//! The sections of `midgame.toml` that say how detections run: `[allowlist]`,
//! `[detections.<id>]` and `[incidents]` (every key documented here, unknown keys are
//! errors), and the [`RunOptions`] they make.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{AllowEntry, ParamValue, RunOptions};

/// `[allowlist]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowlistConfig {
    /// CIDR ranges (their reason is "`[allowlist] cidrs`").
    #[serde(default)]
    pub cidrs: Vec<String>,
    /// Ranges with a reason each (`[[allowlist.networks]] cidr = ..., reason = ...`).
    #[serde(default)]
    pub networks: Vec<AllowNetwork>,
}

/// One `[[allowlist.networks]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowNetwork {
    /// The range.
    pub cidr: String,
    /// Why it is allow-listed (shown by `--explain-suppressed`).
    pub reason: String,
}

/// `[incidents]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentConfig {
    /// A user's alerts chain while each starts within this many hours of the previous.
    #[serde(default = "default_window_hours")]
    pub window_hours: f64,
    /// Distinct stages (initial-access, admin-access, staging) an incident needs.
    #[serde(default = "default_min_stages")]
    pub min_stages: usize,
}

fn default_window_hours() -> f64 {
    24.0
}

fn default_min_stages() -> usize {
    2
}

impl Default for IncidentConfig {
    fn default() -> Self {
        Self {
            window_hours: default_window_hours(),
            min_stages: default_min_stages(),
        }
    }
}

/// `[detections.<id>]`: parameter overrides per detection id, and `enabled = false` to
/// leave a detection out.
pub type DetectionParams = BTreeMap<String, BTreeMap<String, ParamValue>>;

impl<'de> Deserialize<'de> for ParamValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ParamValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number or text")
            }
            fn visit_i64<E>(self, v: i64) -> Result<ParamValue, E> {
                Ok(ParamValue::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ParamValue, E> {
                i64::try_from(v)
                    .map(ParamValue::Int)
                    .map_err(|_| E::custom(format!("{v} is too large")))
            }
            fn visit_f64<E>(self, v: f64) -> Result<ParamValue, E> {
                Ok(ParamValue::Float(v))
            }
            fn visit_bool<E>(self, v: bool) -> Result<ParamValue, E> {
                Ok(ParamValue::Bool(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<ParamValue, E> {
                Ok(ParamValue::Text(v.to_owned()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// The allow-list entries, each with its reason.
///
/// # Errors
/// A range is not a CIDR.
pub fn allow_entries(a: Option<&AllowlistConfig>) -> Result<Vec<AllowEntry>, String> {
    let Some(a) = a else {
        return Ok(Vec::new());
    };
    let plain = a.cidrs.iter().map(|c| (c.as_str(), "[allowlist] cidrs"));
    let named = a
        .networks
        .iter()
        .map(|n| (n.cidr.as_str(), n.reason.as_str()));
    plain
        .chain(named)
        .map(|(cidr, reason)| {
            AllowEntry::parse(cidr, reason).map_err(|e| format!("[allowlist]: {e}"))
        })
        .collect()
}

impl RunOptions {
    /// How detections run, from the config's sections.
    ///
    /// # Errors
    /// An allow-list range is not a CIDR, or the incident window is not a positive
    /// number of hours.
    pub fn from_config(
        allowlist: Option<&AllowlistConfig>,
        params: &DetectionParams,
        incidents: &IncidentConfig,
    ) -> Result<Self, String> {
        let hours = incidents.window_hours;
        if !(hours.is_finite() && hours > 0.0) {
            return Err(format!(
                "[incidents] window_hours must be a positive number of hours, not {hours}"
            ));
        }
        let mut params = params.clone();
        let mut disabled = std::collections::BTreeSet::new();
        for (id, values) in &mut params {
            match values.remove("enabled") {
                None | Some(ParamValue::Bool(true)) => {}
                Some(ParamValue::Bool(false)) => {
                    disabled.insert(id.clone());
                }
                Some(other) => {
                    return Err(format!(
                        "[detections.{id}] enabled takes true or false, not {other:?}"
                    ));
                }
            }
        }
        #[allow(clippy::cast_possible_truncation)]
        Ok(RunOptions {
            params,
            disabled,
            allowlist: allow_entries(allowlist)?,
            incident_window_ms: (hours * 3_600_000.0) as i64,
            incident_min_stages: incidents.min_stages,
            ..RunOptions::default()
        })
    }
}
