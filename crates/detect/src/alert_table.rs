//! The alert lifecycle (`LAKE/alerts/alerts.parquet`) and the outbox of changes not yet
//! delivered (`LAKE/alerts/outbox/`).
//!
//! The table holds every alert a scheduled run has emitted, keyed by `alert_id`: whether
//! it is still `active` or was `retracted` (fuller data no longer supports it), when it
//! was first alerted, last changed and last matched, how many runs matched it, and a
//! fingerprint of what was emitted. A run compares its findings with the table and emits
//! only what is new, changed or retracted.
//!
//! Commit protocol, so that a run killed at any point neither loses nor repeats a change:
//! the run writes its changes to `outbox/<generation>-<time>.ndjson` first, then replaces
//! the table (which records the generation and the last manifest sequence detected) by
//! a rename: that rename is the commit. An outbox file of a generation the table does not
//! have is from a run that died before committing and is removed; the rest are delivered
//! and removed, by this run or the next.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Int64Type, TimeUnit, TimestampMillisecondType};
use midgame_lake::{Lake, LakeError, Layout, ManifestEntry};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::metadata::KeyValue;
use serde_json::{Value, json};

use crate::output::{Lifecycle, OutputError};
use crate::{Alert, Incident, correlate, in_window};

const KEY_GENERATION: &str = "midgame.generation";
const KEY_DETECTED_SEQ: &str = "midgame.detected_seq";

/// What went wrong reading or committing the alert table.
#[derive(Debug, thiserror::Error)]
pub enum AlertTableError {
    /// The lake could not be written.
    #[error(transparent)]
    Lake(#[from] LakeError),
    /// The table could not be encoded.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The table on disk is unreadable.
    #[error("{path}: {reason}")]
    Corrupt {
        /// The table's file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// One alert as the table remembers it.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracked {
    /// The alert as last emitted.
    pub alert: Alert,
    /// `active`, or retracted.
    pub active: bool,
    /// A hash of what was emitted.
    pub fingerprint: String,
    /// When a run first emitted it (ms).
    pub first_alerted_ms: i64,
    /// When a run last emitted a change of it (ms).
    pub last_changed_ms: i64,
    /// When a run last found it (ms).
    pub last_matched_ms: i64,
    /// Runs that found it.
    pub matches: i64,
}

/// The committed state of the alert table.
#[derive(Debug, Default)]
pub struct AlertTable {
    /// Commits so far.
    pub generation: u64,
    /// Manifest entries up to this sequence have been run through the detections.
    pub detected_seq: Option<u64>,
    /// Every alert ever emitted, by id.
    pub alerts: BTreeMap<String, Tracked>,
}

/// What happened to an alert in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// Emitted for the first time.
    New,
    /// Emitted before, different now.
    Changed,
    /// Active before, no longer supported by the data.
    Retracted,
}

impl Change {
    /// `new`, `changed` or `retracted`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Change::New => "new",
            Change::Changed => "changed",
            Change::Retracted => "retracted",
        }
    }
}

/// The changes of one run.
#[derive(Debug, Default)]
pub struct Diff {
    /// Alerts emitted, with what happened to each.
    pub alerts: Vec<(Change, Alert)>,
    /// Incidents with a new or changed alert.
    pub incidents: Vec<Incident>,
    /// Active alerts after the run.
    pub active: usize,
    /// Incidents over the active alerts after the run.
    pub incidents_total: usize,
}

impl Diff {
    /// The count of one kind of change.
    #[must_use]
    pub fn count(&self, c: Change) -> usize {
        self.alerts.iter().filter(|(k, _)| *k == c).count()
    }

    /// The NDJSON lines: incidents first (`change` is `changed` for an incident in
    /// `prev`), then alerts, each with `type` and `change`.
    ///
    /// # Errors
    /// An alert or incident does not serialise (never for ones detections made).
    pub fn ndjson(&self, prev: &BTreeSet<String>) -> Result<String, serde_json::Error> {
        use crate::output::ndjson::object_with;
        let mut out = String::new();
        for i in &self.incidents {
            let change = if prev.contains(&i.incident_id) {
                "changed"
            } else {
                "new"
            };
            out.push_str(&object_with(i, &[("type", "incident"), ("change", change)])?.to_string());
            out.push('\n');
        }
        for (c, a) in &self.alerts {
            out.push_str(&object_with(a, &[("type", "alert"), ("change", c.name())])?.to_string());
            out.push('\n');
        }
        Ok(out)
    }
}

/// What was emitted of an alert, hashed. The times are hashed as the RFC 3339 text
/// emitted, so tables written before times were numbers keep their fingerprints.
fn fingerprint(a: &Alert) -> String {
    let v = json!([
        a.severity,
        crate::time::rfc3339(a.first_seen_ms),
        crate::time::rfc3339(a.last_seen_ms),
        a.summary,
        Value::Object(a.evidence.clone()),
        a.incident_id
    ]);
    format!(
        "{:032x}",
        xxhash_rust::xxh3::xxh3_128(v.to_string().as_bytes())
    )
}

/// What a scheduled run has to detect, given what the lake holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// Rows came in that no committed run has detected (or this is the first run over
    /// a lake with rows).
    pub detect: bool,
    /// Re-evaluate alerts ending at or after this time (ms); `None`: all of history.
    pub window_from: Option<i64>,
}

impl AlertTable {
    /// What a run must detect over the manifest `entries`: everything on the first run,
    /// then alerts from the earliest event of the entries committed since the last
    /// detection, less `overlap_ms` (a late file can change an alert that ended a little
    /// before its rows).
    #[must_use]
    pub fn pending(&self, entries: &[ManifestEntry], overlap_ms: i64) -> Pending {
        let Some(done) = self.detected_seq else {
            return Pending {
                detect: !entries.is_empty(),
                window_from: None,
            };
        };
        let earliest = entries
            .iter()
            .filter(|e| e.seq > done)
            .filter_map(|e| e.min_time_ms)
            .min();
        Pending {
            detect: earliest.is_some(),
            window_from: Some(earliest.map_or(i64::MAX, |t| t - overlap_ms)),
        }
    }

    /// The committed state (empty when no run has committed).
    ///
    /// # Errors
    /// The table exists but cannot be read.
    pub fn load(layout: &Layout) -> Result<Self, AlertTableError> {
        let path = layout.alert_table();
        let corrupt = |reason: String| AlertTableError::Corrupt {
            path: path.clone(),
            reason,
        };
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(corrupt(e.to_string())),
        };
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| corrupt(e.to_string()))?;
        let mut table = Self::default();
        if let Some(kv) = builder.metadata().file_metadata().key_value_metadata() {
            for KeyValue { key, value } in kv {
                let number = |v: &str| v.parse::<u64>().map_err(|e| corrupt(format!("{key}: {e}")));
                match (key.as_str(), value) {
                    (KEY_GENERATION, Some(v)) => table.generation = number(v)?,
                    (KEY_DETECTED_SEQ, Some(v)) => table.detected_seq = Some(number(v)?),
                    _ => {}
                }
            }
        }
        for batch in builder.build().map_err(|e| corrupt(e.to_string()))? {
            let batch = batch.map_err(|e| corrupt(e.to_string()))?;
            for t in from_batch(&batch).map_err(corrupt)? {
                table.alerts.insert(t.alert.alert_id.clone(), t);
            }
        }
        Ok(table)
    }

    /// Replace the table atomically: the commit of a run.
    ///
    /// # Errors
    /// The table cannot be encoded or written.
    pub fn save(&self, lake: &Lake) -> Result<(), AlertTableError> {
        let path = lake.layout().alert_table();
        let dir = path.parent().expect("the table is in the alerts folder");
        fs_err::create_dir_all(dir).map_err(|source| LakeError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let rows: Vec<&Tracked> = self.alerts.values().collect();
        let alerts: Vec<&Alert> = rows.iter().map(|t| &t.alert).collect();
        let active: Vec<bool> = rows.iter().map(|t| t.active).collect();
        let first: Vec<i64> = rows.iter().map(|t| t.first_alerted_ms).collect();
        let changed: Vec<i64> = rows.iter().map(|t| t.last_changed_ms).collect();
        let matched: Vec<i64> = rows.iter().map(|t| t.last_matched_ms).collect();
        let matches: Vec<i64> = rows.iter().map(|t| t.matches).collect();
        let fingerprints: Vec<&str> = rows.iter().map(|t| t.fingerprint.as_str()).collect();
        let batch = crate::output::lifecycle_batch(
            &alerts,
            &Lifecycle {
                active: &active,
                first_alerted_ms: &first,
                last_changed_ms: &changed,
                last_matched_ms: &matched,
                matches: &matches,
                fingerprint: &fingerprints,
            },
        )?;
        let mut kv = vec![KeyValue::new(
            KEY_GENERATION.to_owned(),
            self.generation.to_string(),
        )];
        if let Some(s) = self.detected_seq {
            kv.push(KeyValue::new(KEY_DETECTED_SEQ.to_owned(), s.to_string()));
        }
        let bytes = crate::output::parquet::with_metadata(&batch.schema(), &[batch], kv)?;
        lake.publish(&bytes, &path)?;
        Ok(())
    }

    /// Remove outbox files of runs that never committed; the others, oldest first.
    ///
    /// # Errors
    /// The outbox cannot be listed or a file removed.
    pub fn recover_outbox(&self, lake: &Lake) -> Result<Vec<PathBuf>, AlertTableError> {
        let dir = lake.layout().outbox_dir();
        let io = |path: &std::path::Path| {
            let path = path.to_path_buf();
            move |source| LakeError::Io { path, source }
        };
        fs_err::create_dir_all(&dir).map_err(io(&dir))?;
        let mut pending = Vec::new();
        for entry in fs_err::read_dir(&dir).map_err(io(&dir))? {
            let p = entry.map_err(io(&dir))?.path();
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            let generation: Option<u64> =
                name.split(['-', '.']).next().and_then(|g| g.parse().ok());
            let committed = generation.is_some_and(|g| g <= self.generation);
            if name.ends_with(".sent") || (name.ends_with(".html") && committed) {
                // A delivery marker, or a committed batch's report: kept while its
                // batch is.
                if !p.with_extension("ndjson").exists() {
                    fs_err::remove_file(&p).map_err(io(&p))?;
                }
                continue;
            }
            if !name.ends_with(".ndjson") || generation.is_none_or(|g| g > self.generation) {
                tracing::warn!(file = %p.display(), "removing the outbox file of a run that did not commit");
                fs_err::remove_file(&p).map_err(io(&p))?;
                midgame_lake::crashpoint("uncommitted outbox removed");
            } else {
                pending.push(p);
            }
        }
        pending.sort();
        Ok(pending)
    }

    /// Ids of incidents the table's active alerts belong to.
    #[must_use]
    pub fn incident_ids(&self) -> BTreeSet<String> {
        self.alerts
            .values()
            .filter(|t| t.active)
            .filter_map(|t| t.alert.incident_id.clone())
            .collect()
    }

    /// Active alerts.
    #[must_use]
    pub fn active(&self) -> usize {
        self.alerts.values().filter(|t| t.active).count()
    }

    /// Merge a run's findings for the window `from..to` (alerts ending at or after `from`
    /// and starting before `to`; `None` is unbounded) into the table, and say what
    /// changed. Active alerts in the window that the run no longer finds are retracted;
    /// alerts outside it are kept as they are. Incidents are chained over every active
    /// alert, old and new: this is the run's one correlation.
    pub fn apply(
        &mut self,
        fresh: Vec<Alert>,
        window: (Option<i64>, Option<i64>),
        stages: &BTreeMap<String, String>,
        incidents: (i64, usize),
        now_ms: i64,
    ) -> Diff {
        let before: BTreeMap<String, String> = self
            .alerts
            .values()
            .filter(|t| t.active)
            .map(|t| (t.alert.alert_id.clone(), t.fingerprint.clone()))
            .collect();
        let fresh_ids: BTreeSet<String> = fresh.iter().map(|a| a.alert_id.clone()).collect();
        let mut retracted = Vec::new();
        for t in self.alerts.values_mut() {
            if t.active
                && in_window(&t.alert, window.0, window.1)
                && !fresh_ids.contains(&t.alert.alert_id)
            {
                t.active = false;
                t.last_changed_ms = now_ms;
                retracted.push(t.alert.clone());
            }
        }
        for mut a in fresh {
            a.incident_id = None;
            let t = self
                .alerts
                .entry(a.alert_id.clone())
                .or_insert_with(|| Tracked {
                    alert: a.clone(),
                    active: true,
                    fingerprint: String::new(),
                    first_alerted_ms: now_ms,
                    last_changed_ms: now_ms,
                    last_matched_ms: now_ms,
                    matches: 0,
                });
            t.alert = a;
            t.active = true;
            t.matches += 1;
            t.last_matched_ms = now_ms;
        }
        let active: Vec<Alert> = self
            .alerts
            .values()
            .filter(|t| t.active)
            .map(|t| Alert {
                incident_id: None,
                ..t.alert.clone()
            })
            .collect();
        let chained = correlate(&active, stages, incidents.0, incidents.1);
        let member: BTreeMap<&str, &str> = chained
            .iter()
            .flat_map(|i| {
                i.timeline
                    .iter()
                    .map(|e| (e.alert_id.as_str(), i.incident_id.as_str()))
            })
            .collect();
        let mut diff = Diff {
            incidents_total: chained.len(),
            ..Diff::default()
        };
        let mut touched = BTreeSet::new();
        for t in self.alerts.values_mut().filter(|t| t.active) {
            t.alert.incident_id = member
                .get(t.alert.alert_id.as_str())
                .map(|s| (*s).to_owned());
            let fp = fingerprint(&t.alert);
            let change = match before.get(&t.alert.alert_id) {
                None => Some(Change::New),
                Some(old) if *old != fp => Some(Change::Changed),
                Some(_) => None,
            };
            t.fingerprint = fp;
            if let Some(c) = change {
                t.last_changed_ms = now_ms;
                if let Some(i) = &t.alert.incident_id {
                    touched.insert(i.clone());
                }
                diff.alerts.push((c, t.alert.clone()));
            }
            diff.active += 1;
        }
        diff.alerts
            .extend(retracted.into_iter().map(|a| (Change::Retracted, a)));
        diff.alerts.sort_by(|(c1, a1), (c2, a2)| {
            (c1, a1.first_seen_ms, &a1.alert_id).cmp(&(c2, a2.first_seen_ms, &a2.alert_id))
        });
        diff.incidents = chained
            .into_iter()
            .filter(|i| touched.contains(&i.incident_id))
            .collect();
        diff
    }

    /// Commit a run: write its changes to the outbox (when there are any), then replace
    /// the table with the next generation (the commit point). `detected_seq`, when given,
    /// records how far into the manifest the run detected.
    ///
    /// # Errors
    /// The outbox or the table cannot be written; the commit did not happen then.
    pub fn commit(
        &mut self,
        lake: &Lake,
        diff: &Diff,
        prev_incidents: &BTreeSet<String>,
        stamp: &str,
        detected_seq: Option<u64>,
    ) -> Result<(), AlertTableError> {
        self.commit_with_report(lake, diff, prev_incidents, stamp, detected_seq, None)
    }

    /// [`AlertTable::commit`], with the run's HTML report beside its changes in the
    /// outbox (`<generation>-<time>.html`, written before the `.ndjson`: a batch in the
    /// outbox always has its report, and both are delivered or dropped together).
    ///
    /// # Errors
    /// As [`AlertTable::commit`].
    pub fn commit_with_report(
        &mut self,
        lake: &Lake,
        diff: &Diff,
        prev_incidents: &BTreeSet<String>,
        stamp: &str,
        detected_seq: Option<u64>,
        report: Option<&str>,
    ) -> Result<(), AlertTableError> {
        self.generation += 1;
        if !diff.alerts.is_empty() {
            let dir = lake.layout().outbox_dir();
            fs_err::create_dir_all(&dir).map_err(|source| LakeError::Io {
                path: dir.clone(),
                source,
            })?;
            let body = diff.ndjson(prev_incidents).map_err(OutputError::Json)?;
            let path = dir.join(format!("{:010}-{stamp}.ndjson", self.generation));
            if let Some(html) = report {
                lake.publish(html.as_bytes(), &path.with_extension("html"))?;
            }
            lake.publish(body.as_bytes(), &path)?;
        }
        if detected_seq.is_some() {
            self.detected_seq = detected_seq;
        }
        self.save(lake)
    }
}

/// The rows of a lifecycle table batch. Times are read as timestamps, or as RFC 3339
/// text in tables written before they were numbers.
fn from_batch(b: &RecordBatch) -> Result<Vec<Tracked>, String> {
    let col = |name: &str| {
        b.column_by_name(name)
            .ok_or_else(|| format!("the alert table has no `{name}` column"))
    };
    let text = |name: &str| -> Result<StringArray, String> {
        arrow::compute::cast(col(name)?, &DataType::Utf8)
            .map(|a| a.as_string::<i32>().clone())
            .map_err(|e| format!("`{name}`: {e}"))
    };
    let time = |name: &str| -> Result<Vec<i64>, String> {
        let c = col(name)?;
        let ms: Vec<Option<i64>> = if matches!(c.data_type(), DataType::Utf8) {
            c.as_string::<i32>()
                .iter()
                .map(|t| {
                    t.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                        .map(|t| t.timestamp_millis())
                })
                .collect()
        } else {
            arrow::compute::cast(c, &DataType::Timestamp(TimeUnit::Millisecond, None))
                .map_err(|e| format!("`{name}`: {e}"))?
                .as_primitive::<TimestampMillisecondType>()
                .iter()
                .collect()
        };
        ms.into_iter()
            .map(|t| t.ok_or_else(|| format!("`{name}` is not a time")))
            .collect()
    };
    let (id, det, sev, user) = (
        text("alert_id")?,
        text("detection")?,
        text("severity")?,
        text("user")?,
    );
    let (first, last) = (time("first_seen")?, time("last_seen")?);
    let (summary, evidence, incident) = (text("summary")?, text("evidence")?, text("incident_id")?);
    // The context columns came later: a table written before has none.
    let optional = |name: &str| text(name).ok();
    let (tactic, technique, runbook, fps) = (
        optional("tactic"),
        optional("technique"),
        optional("runbook"),
        optional("false_positives"),
    );
    let at = |a: &Option<StringArray>, i: usize| {
        a.as_ref()
            .filter(|a| a.is_valid(i))
            .map(|a| a.value(i).to_owned())
    };
    let active = col("active")?
        .as_boolean_opt()
        .ok_or("`active` is not a boolean")?;
    let (fa, lc, lm) = (
        time("first_alerted")?,
        time("last_changed")?,
        time("last_matched")?,
    );
    let matches = col("matches")?
        .as_primitive_opt::<Int64Type>()
        .ok_or("`matches` is not an integer")?;
    let fp = text("fingerprint")?;
    let mut out = Vec::with_capacity(b.num_rows());
    for i in 0..b.num_rows() {
        let evidence = match serde_json::from_str(evidence.value(i)).map_err(|e| e.to_string())? {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        out.push(Tracked {
            alert: Alert {
                alert_id: id.value(i).to_owned(),
                detection: det.value(i).to_owned(),
                severity: sev.value(i).to_owned(),
                user: user.value(i).to_owned(),
                first_seen_ms: first[i],
                last_seen_ms: last[i],
                summary: summary.value(i).to_owned(),
                evidence,
                incident_id: incident.is_valid(i).then(|| incident.value(i).to_owned()),
                context: crate::AlertContext {
                    tactic: at(&tactic, i),
                    technique: at(&technique, i),
                    runbook: at(&runbook, i),
                    false_positives: at(&fps, i),
                },
            },
            active: active.value(i),
            fingerprint: fp.value(i).to_owned(),
            first_alerted_ms: fa[i],
            last_changed_ms: lc[i],
            last_matched_ms: lm[i],
            matches: matches.value(i),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    const T0: i64 = 1_659_600_000_000; // 2022-08-04T08:00:00Z

    fn alert(id: &str, detection: &str, user: &str, at: i64, summary: &str) -> Alert {
        Alert {
            alert_id: id.to_owned(),
            detection: detection.to_owned(),
            severity: "high".to_owned(),
            user: user.to_owned(),
            first_seen_ms: at,
            last_seen_ms: at + 60_000,
            summary: summary.to_owned(),
            evidence: serde_json::Map::new(),
            incident_id: None,
            context: crate::AlertContext::default(),
        }
    }

    fn stages() -> BTreeMap<String, String> {
        [
            ("impossible_travel", "initial-access"),
            ("unusual_admin_access", "admin-access"),
            ("push_fatigue", "initial-access"),
        ]
        .into_iter()
        .map(|(d, s)| (d.to_owned(), s.to_owned()))
        .collect()
    }

    fn apply(table: &mut AlertTable, fresh: Vec<Alert>, from: Option<i64>, now: i64) -> Diff {
        table.apply(fresh, (from, None), &stages(), (4 * HOUR, 2), now)
    }

    fn changes(d: &Diff) -> Vec<(Change, String)> {
        d.alerts
            .iter()
            .map(|(c, a)| (*c, a.alert_id.clone()))
            .collect()
    }

    fn outbox(lake: &Lake) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(lake.layout().outbox_dir())
            .map(|rd| {
                rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    #[test]
    fn apply_says_new_changed_and_retracted_once_each() {
        let mut t = AlertTable::default();
        let a = alert("a", "push_fatigue", "bob", T0, "12 pushes");
        let b = alert("b", "push_fatigue", "carol", T0, "9 pushes");
        let d = apply(&mut t, vec![a.clone(), b.clone()], None, 1);
        assert_eq!(
            changes(&d),
            [(Change::New, "a".into()), (Change::New, "b".into())]
        );
        assert_eq!((d.active, t.active()), (2, 2));

        // The same findings again: nothing to say, but both were matched twice.
        let d = apply(&mut t, vec![a.clone(), b.clone()], None, 2);
        assert!(d.alerts.is_empty());
        assert_eq!(t.alerts["a"].matches, 2);
        assert_eq!(t.alerts["a"].last_changed_ms, 1);
        assert_eq!(t.alerts["a"].last_matched_ms, 2);

        // `a` grew (fuller data), `b` is no longer found: changed and retracted.
        let a2 = alert("a", "push_fatigue", "bob", T0, "20 pushes");
        let d = apply(&mut t, vec![a2], None, 3);
        assert_eq!(
            changes(&d),
            [
                (Change::Changed, "a".into()),
                (Change::Retracted, "b".into())
            ]
        );
        assert!(!t.alerts["b"].active);
        assert_eq!(t.alerts["b"].last_changed_ms, 3);
        assert_eq!(t.alerts["a"].first_alerted_ms, 1);

        // A retracted alert found again is new again.
        let d = apply(
            &mut t,
            vec![alert("a", "push_fatigue", "bob", T0, "20 pushes"), b],
            None,
            4,
        );
        assert_eq!(changes(&d), [(Change::New, "b".into())]);
    }

    #[test]
    fn apply_keeps_alerts_outside_the_window() {
        let mut t = AlertTable::default();
        let old = alert("old", "push_fatigue", "bob", T0, "old");
        apply(&mut t, vec![old], None, 1);
        // A run over the last hours only does not see `old`: it is not retracted.
        let d = apply(&mut t, vec![], Some(T0 + 48 * HOUR), 2);
        assert!(d.alerts.is_empty());
        assert!(t.alerts["old"].active);
        // A run whose window covers it and does not find it retracts it.
        let d = apply(&mut t, vec![], Some(T0 - HOUR), 3);
        assert_eq!(changes(&d), [(Change::Retracted, "old".into())]);
    }

    #[test]
    fn an_old_alert_joining_a_new_incident_is_changed() {
        let mut t = AlertTable::default();
        let travel = alert("travel", "impossible_travel", "alice", T0, "travel");
        let d = apply(&mut t, vec![travel.clone()], None, 1);
        assert!(d.incidents.is_empty() && d.alerts[0].1.incident_id.is_none());

        let admin = alert("admin", "unusual_admin_access", "alice", T0 + HOUR, "admin");
        let d = apply(&mut t, vec![travel, admin], None, 2);
        assert_eq!(
            changes(&d),
            [
                (Change::New, "admin".into()),
                (Change::Changed, "travel".into())
            ]
        );
        assert_eq!(d.incidents.len(), 1);
        assert_eq!(d.incidents_total, 1);
        let id = &d.incidents[0].incident_id;
        assert!(
            d.alerts
                .iter()
                .all(|(_, a)| a.incident_id.as_ref() == Some(id))
        );
        assert_eq!(t.incident_ids(), BTreeSet::from([id.clone()]));
    }

    fn entry(seq: u64, min_time_ms: Option<i64>) -> ManifestEntry {
        serde_json::from_value(json!({
            "path": format!("f{seq}"), "size": 1, "hash": "h", "seq": seq,
            "min_time_ms": min_time_ms, "source": "okta", "auth_rows": 1, "admin_rows": 0,
            "quarantined": 0, "skipped": 0, "files": [], "ingested_at": "2022-08-04T08:00:00Z",
        }))
        .unwrap()
    }

    #[test]
    fn pending_is_everything_first_then_what_came_in_less_the_overlap() {
        let mut t = AlertTable::default();
        let none = Pending {
            detect: false,
            window_from: None,
        };
        assert_eq!(t.pending(&[], HOUR), none);
        let entries = [entry(1, Some(T0)), entry(2, Some(T0 + 10 * HOUR))];
        assert_eq!(
            t.pending(&entries, HOUR),
            Pending {
                detect: true,
                window_from: None
            }
        );
        t.detected_seq = Some(1);
        assert_eq!(
            t.pending(&entries, HOUR),
            Pending {
                detect: true,
                window_from: Some(T0 + 9 * HOUR)
            }
        );
        // Everything detected, or only files without rows since: nothing to do.
        t.detected_seq = Some(2);
        let later = [entry(1, Some(T0)), entry(2, Some(T0)), entry(3, None)];
        assert!(!t.pending(&later, HOUR).detect);
        assert!(!t.pending(&entries, HOUR).detect);
    }

    #[test]
    fn commit_writes_the_outbox_then_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path()).unwrap();
        let mut t = AlertTable::load(lake.layout()).unwrap();
        assert_eq!((t.generation, t.alerts.len()), (0, 0));

        let d = apply(
            &mut t,
            vec![alert("a", "push_fatigue", "bob", T0, "x")],
            None,
            5,
        );
        t.commit(&lake, &d, &BTreeSet::new(), "20220804T080000Z", Some(7))
            .unwrap();
        assert_eq!(outbox(&lake), ["0000000001-20220804T080000Z.ndjson"]);
        let body =
            std::fs::read_to_string(lake.layout().outbox_dir().join(&outbox(&lake)[0])).unwrap();
        let line: Value = serde_json::from_str(body.lines().next().unwrap()).unwrap();
        assert_eq!(line["change"], "new");
        assert_eq!(line["alert_id"], "a");
        assert_eq!(line["first_seen"], "2022-08-04T08:00:00Z");

        // What a later process reads back is what was committed.
        let back = AlertTable::load(lake.layout()).unwrap();
        assert_eq!((back.generation, back.detected_seq), (1, Some(7)));
        assert_eq!(back.alerts, t.alerts);

        // A run with nothing to say still commits (its generation and how far it
        // detected) but leaves no outbox file.
        let d = apply(
            &mut t,
            vec![alert("a", "push_fatigue", "bob", T0, "x")],
            None,
            6,
        );
        t.commit(&lake, &d, &BTreeSet::new(), "20220804T090000Z", None)
            .unwrap();
        assert_eq!(outbox(&lake).len(), 1);
        let back = AlertTable::load(lake.layout()).unwrap();
        assert_eq!((back.generation, back.detected_seq), (2, Some(7)));
        assert_eq!(back.alerts["a"].matches, 2);
    }

    #[test]
    fn recover_outbox_drops_what_no_commit_owns() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path()).unwrap();
        let mut t = AlertTable::default();
        let d = apply(
            &mut t,
            vec![alert("a", "push_fatigue", "bob", T0, "x")],
            None,
            1,
        );
        t.commit(&lake, &d, &BTreeSet::new(), "s1", None).unwrap();

        // A run that wrote its outbox and died before the table's rename: its changes
        // were never committed, so the next run finds them again and must not deliver
        // them twice.
        let ob = lake.layout().outbox_dir();
        std::fs::write(ob.join("0000000002-s2.ndjson"), "{}\n").unwrap();
        std::fs::write(ob.join("stray.tmp"), "").unwrap();
        // A delivery marker whose batch is gone, and one whose batch is pending.
        std::fs::write(ob.join("0000000000-s0.sent"), "").unwrap();
        std::fs::write(ob.join("0000000001-s1.sent"), "").unwrap();

        let committed = AlertTable::load(lake.layout()).unwrap();
        let pending = committed.recover_outbox(&lake).unwrap();
        assert_eq!(pending, [ob.join("0000000001-s1.ndjson")]);
        assert_eq!(
            outbox(&lake),
            ["0000000001-s1.ndjson", "0000000001-s1.sent"]
        );
    }

    #[test]
    fn an_unreadable_table_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        std::fs::create_dir_all(layout.alert_table().parent().unwrap()).unwrap();
        std::fs::write(layout.alert_table(), b"not parquet").unwrap();
        let e = AlertTable::load(&layout).unwrap_err().to_string();
        assert!(
            e.starts_with(&layout.alert_table().display().to_string()),
            "{e}"
        );
    }
}
