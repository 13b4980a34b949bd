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
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use arrow::array::{
    Array, AsArray, BooleanArray, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit, TimestampMillisecondType};
use midgame_detect::{Alert, Incident};
use midgame_lake::Lake;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde_json::{Value, json};

/// Folder of the alert table and outbox, inside the lake.
pub(crate) const ALERTS_DIR: &str = "alerts";
const TABLE_FILE: &str = "alerts.parquet";
const OUTBOX_DIR: &str = "outbox";
const KEY_GENERATION: &str = "midgame.generation";
const KEY_DETECTED_SEQ: &str = "midgame.detected_seq";

/// One alert as the table remembers it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tracked {
    pub alert: Alert,
    pub active: bool,
    pub fingerprint: String,
    pub first_alerted_ms: i64,
    pub last_changed_ms: i64,
    pub last_matched_ms: i64,
    pub matches: i64,
}

/// The committed state.
#[derive(Debug, Default)]
pub(crate) struct AlertState {
    /// Commits so far.
    pub generation: u64,
    /// Manifest entries up to this sequence have been run through the detections.
    pub detected_seq: Option<u64>,
    pub alerts: BTreeMap<String, Tracked>,
}

/// What happened to an alert in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Change {
    New,
    Changed,
    Retracted,
}

impl Change {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Change::New => "new",
            Change::Changed => "changed",
            Change::Retracted => "retracted",
        }
    }
}

/// The changes of one run.
#[derive(Debug, Default)]
pub(crate) struct Diff {
    pub alerts: Vec<(Change, Alert)>,
    /// Incidents with a new or changed alert.
    pub incidents: Vec<Incident>,
    pub active: usize,
    pub incidents_total: usize,
}

impl Diff {
    pub(crate) fn count(&self, c: Change) -> usize {
        self.alerts.iter().filter(|(k, _)| *k == c).count()
    }

    /// The NDJSON lines: incidents first, then alerts, each with `type` and `change`.
    pub(crate) fn ndjson(&self, prev: &BTreeSet<String>) -> String {
        let mut out = String::new();
        for i in &self.incidents {
            let mut v = serde_json::to_value(i).expect("an incident serialises");
            let obj = v.as_object_mut().expect("an incident is an object");
            obj.insert("type".into(), json!("incident"));
            let change = if prev.contains(&i.incident_id) {
                "changed"
            } else {
                "new"
            };
            obj.insert("change".into(), json!(change));
            out.push_str(&v.to_string());
            out.push('\n');
        }
        for (c, a) in &self.alerts {
            let mut v = serde_json::to_value(a).expect("an alert serialises");
            let obj = v.as_object_mut().expect("an alert is an object");
            obj.insert("type".into(), json!("alert"));
            obj.insert("change".into(), json!(c.name()));
            out.push_str(&v.to_string());
            out.push('\n');
        }
        out
    }
}

fn fingerprint(a: &Alert) -> String {
    let v = json!([
        a.severity,
        a.first_seen,
        a.last_seen,
        a.summary,
        Value::Object(a.evidence.clone()),
        a.incident_id
    ]);
    format!(
        "{:032x}",
        xxhash_rust::xxh3::xxh3_128(v.to_string().as_bytes())
    )
}

fn ms(t: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Whether an alert falls in a re-evaluated window (the rule `detect --from/--to` uses:
/// it ends at or after `from` and starts before `to`).
fn in_window(a: &Alert, from: Option<i64>, to: Option<i64>) -> bool {
    from.is_none_or(|f| ms(&a.last_seen).is_none_or(|t| t >= f))
        && to.is_none_or(|to| ms(&a.first_seen).is_none_or(|t| t < to))
}

impl AlertState {
    fn table_path(lake: &Path) -> PathBuf {
        lake.join(ALERTS_DIR).join(TABLE_FILE)
    }

    fn outbox_dir(lake: &Path) -> PathBuf {
        lake.join(ALERTS_DIR).join(OUTBOX_DIR)
    }

    /// The committed state (empty when no run has committed).
    pub(crate) fn load(lake: &Path) -> anyhow::Result<Self> {
        let path = Self::table_path(lake);
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e).with_context(|| path.display().to_string()),
        };
        let ctx = || path.display().to_string();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).with_context(ctx)?;
        let mut state = Self::default();
        if let Some(kv) = builder.metadata().file_metadata().key_value_metadata() {
            for KeyValue { key, value } in kv {
                match (key.as_str(), value) {
                    (KEY_GENERATION, Some(v)) => state.generation = v.parse().with_context(ctx)?,
                    (KEY_DETECTED_SEQ, Some(v)) => {
                        state.detected_seq = Some(v.parse().with_context(ctx)?);
                    }
                    _ => {}
                }
            }
        }
        for batch in builder.build().with_context(ctx)? {
            let batch = batch.with_context(ctx)?;
            for t in from_batch(&batch).with_context(ctx)? {
                state.alerts.insert(t.alert.alert_id.clone(), t);
            }
        }
        Ok(state)
    }

    /// Replace the table atomically: the commit of a run.
    pub(crate) fn save(&self, lake: &Lake) -> anyhow::Result<()> {
        let path = Self::table_path(lake.root());
        fs_err::create_dir_all(path.parent().expect("in the alerts folder"))?;
        let batch = to_batch(self.alerts.values())?;
        let mut kv = vec![KeyValue::new(
            KEY_GENERATION.to_owned(),
            self.generation.to_string(),
        )];
        if let Some(s) = self.detected_seq {
            kv.push(KeyValue::new(KEY_DETECTED_SEQ.to_owned(), s.to_string()));
        }
        let props = WriterProperties::builder()
            .set_compression(parquet::basic::Compression::ZSTD(
                parquet::basic::ZstdLevel::try_new(3).expect("a valid level"),
            ))
            .set_key_value_metadata(Some(kv))
            .build();
        let mut bytes = Vec::new();
        let mut w = ArrowWriter::try_new(&mut bytes, batch.schema(), Some(props))?;
        w.write(&batch)?;
        w.close()?;
        lake.publish(&bytes, &path)?;
        Ok(())
    }

    /// Remove outbox files of runs that never committed; the others, oldest first.
    pub(crate) fn recover_outbox(&self, lake: &Lake) -> anyhow::Result<Vec<PathBuf>> {
        let dir = Self::outbox_dir(lake.root());
        fs_err::create_dir_all(&dir)?;
        let mut pending = Vec::new();
        for entry in fs_err::read_dir(&dir)? {
            let p = entry?.path();
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            let generation: Option<u64> =
                name.split(['-', '.']).next().and_then(|g| g.parse().ok());
            if name.ends_with(".sent") {
                // A delivery marker: kept while its batch is.
                if !p.with_extension("ndjson").exists() {
                    fs_err::remove_file(&p)?;
                }
                continue;
            }
            if !name.ends_with(".ndjson") || generation.is_none_or(|g| g > self.generation) {
                tracing::warn!(file = %p.display(), "removing the outbox file of a run that did not commit");
                fs_err::remove_file(&p)?;
                midgame_lake::crashpoint("uncommitted outbox removed");
            } else {
                pending.push(p);
            }
        }
        pending.sort();
        Ok(pending)
    }

    /// Write the changes of the generation about to be committed.
    pub(crate) fn write_outbox(
        lake: &Lake,
        generation: u64,
        stamp: &str,
        body: &str,
    ) -> anyhow::Result<PathBuf> {
        let dir = Self::outbox_dir(lake.root());
        fs_err::create_dir_all(&dir)?;
        let path = dir.join(format!("{generation:010}-{stamp}.ndjson"));
        lake.publish(body.as_bytes(), &path)?;
        Ok(path)
    }

    /// Ids of incidents the table's active alerts belong to.
    pub(crate) fn incident_ids(&self) -> BTreeSet<String> {
        self.alerts
            .values()
            .filter(|t| t.active)
            .filter_map(|t| t.alert.incident_id.clone())
            .collect()
    }

    /// Merge a run's findings for the window `from..to` (alerts ending at or after `from`
    /// and starting before `to`; `None` is unbounded) into the table, and say what
    /// changed. Active alerts in the window that the run no longer finds are retracted;
    /// alerts outside it are kept as they are. Incidents are chained again over every
    /// active alert.
    pub(crate) fn apply(
        &mut self,
        fresh: Vec<Alert>,
        window: (Option<i64>, Option<i64>),
        stages: &BTreeMap<String, String>,
        incident_window_ms: i64,
        incident_min_stages: usize,
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
        // Incidents over every active alert, old and new.
        let mut active: Vec<Alert> = self
            .alerts
            .values()
            .filter(|t| t.active)
            .map(|t| {
                let mut a = t.alert.clone();
                a.incident_id = None;
                a
            })
            .collect();
        active.sort_by(|a, b| (&a.first_seen, &a.alert_id).cmp(&(&b.first_seen, &b.alert_id)));
        let incidents =
            midgame_detect::correlate(&active, stages, incident_window_ms, incident_min_stages);
        let member: BTreeMap<&str, &str> = incidents
            .iter()
            .flat_map(|i| {
                i.timeline
                    .iter()
                    .map(|e| (e.alert_id.as_str(), i.incident_id.as_str()))
            })
            .collect();
        let mut diff = Diff {
            incidents_total: incidents.len(),
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
            (c1, &a1.first_seen, &a1.alert_id).cmp(&(c2, &a2.first_seen, &a2.alert_id))
        });
        diff.incidents = incidents
            .into_iter()
            .filter(|i| touched.contains(&i.incident_id))
            .collect();
        diff
    }
}

fn schema() -> Arc<Schema> {
    let ts = || DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("alert_id", DataType::Utf8, false),
        Field::new("detection", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("user", DataType::Utf8, false),
        Field::new("first_seen", DataType::Utf8, false),
        Field::new("last_seen", DataType::Utf8, false),
        Field::new("summary", DataType::Utf8, false),
        Field::new("evidence", DataType::Utf8, false),
        Field::new("incident_id", DataType::Utf8, true),
        Field::new("status", DataType::Utf8, false),
        Field::new("active", DataType::Boolean, false),
        Field::new("first_alerted", ts(), false),
        Field::new("last_changed", ts(), false),
        Field::new("last_matched", ts(), false),
        Field::new("matches", DataType::Int64, false),
        Field::new("fingerprint", DataType::Utf8, false),
    ]))
}

fn to_batch<'a>(rows: impl Iterator<Item = &'a Tracked> + Clone) -> anyhow::Result<RecordBatch> {
    let s = |f: &dyn Fn(&Tracked) -> String| -> Arc<dyn Array> {
        Arc::new(StringArray::from_iter_values(rows.clone().map(f)))
    };
    let t = |f: &dyn Fn(&Tracked) -> i64| -> Arc<dyn Array> {
        Arc::new(
            TimestampMillisecondArray::from_iter_values(rows.clone().map(f)).with_timezone("UTC"),
        )
    };
    Ok(RecordBatch::try_new(
        schema(),
        vec![
            s(&|r| r.alert.alert_id.clone()),
            s(&|r| r.alert.detection.clone()),
            s(&|r| r.alert.severity.clone()),
            s(&|r| r.alert.user.clone()),
            s(&|r| r.alert.first_seen.clone()),
            s(&|r| r.alert.last_seen.clone()),
            s(&|r| r.alert.summary.clone()),
            s(&|r| Value::Object(r.alert.evidence.clone()).to_string()),
            Arc::new(StringArray::from_iter(
                rows.clone().map(|r| r.alert.incident_id.clone()),
            )),
            s(&|r| if r.active { "active" } else { "retracted" }.to_owned()),
            Arc::new(BooleanArray::from_iter(
                rows.clone().map(|r| Some(r.active)),
            )),
            t(&|r| r.first_alerted_ms),
            t(&|r| r.last_changed_ms),
            t(&|r| r.last_matched_ms),
            Arc::new(Int64Array::from_iter_values(
                rows.clone().map(|r| r.matches),
            )),
            s(&|r| r.fingerprint.clone()),
        ],
    )?)
}

fn from_batch(b: &RecordBatch) -> anyhow::Result<Vec<Tracked>> {
    let col = |name: &str| {
        b.column_by_name(name)
            .with_context(|| format!("the alert table has no `{name}` column"))
    };
    let text = |name: &str| -> anyhow::Result<&StringArray> {
        col(name)?
            .as_string_opt::<i32>()
            .with_context(|| format!("`{name}` is not text"))
    };
    let time = |name: &str| -> anyhow::Result<&TimestampMillisecondArray> {
        col(name)?
            .as_primitive_opt::<TimestampMillisecondType>()
            .with_context(|| format!("`{name}` is not a timestamp"))
    };
    let (id, det, sev, user) = (
        text("alert_id")?,
        text("detection")?,
        text("severity")?,
        text("user")?,
    );
    let (first, last, summary, evidence, incident) = (
        text("first_seen")?,
        text("last_seen")?,
        text("summary")?,
        text("evidence")?,
        text("incident_id")?,
    );
    let active = col("active")?
        .as_boolean_opt()
        .context("`active` is not a boolean")?;
    let (fa, lc, lm) = (
        time("first_alerted")?,
        time("last_changed")?,
        time("last_matched")?,
    );
    let matches = col("matches")?
        .as_primitive_opt::<arrow::datatypes::Int64Type>()
        .context("`matches` is not an integer")?;
    let fp = text("fingerprint")?;
    let mut out = Vec::with_capacity(b.num_rows());
    for i in 0..b.num_rows() {
        let evidence = match serde_json::from_str(evidence.value(i))? {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        out.push(Tracked {
            alert: Alert {
                alert_id: id.value(i).to_owned(),
                detection: det.value(i).to_owned(),
                severity: sev.value(i).to_owned(),
                user: user.value(i).to_owned(),
                first_seen: first.value(i).to_owned(),
                last_seen: last.value(i).to_owned(),
                summary: summary.value(i).to_owned(),
                evidence,
                incident_id: incident.is_valid(i).then(|| incident.value(i).to_owned()),
            },
            active: active.value(i),
            fingerprint: fp.value(i).to_owned(),
            first_alerted_ms: fa.value(i),
            last_changed_ms: lc.value(i),
            last_matched_ms: lm.value(i),
            matches: matches.value(i),
        });
    }
    Ok(out)
}
