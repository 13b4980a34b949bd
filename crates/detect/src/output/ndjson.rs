//! One JSON object per line: DESIGN's alert format, with incidents, each with a `type`
//! (and in a scheduled run's changes, a `change`).

use std::io::Write;

use arrow::array::RecordBatch;
use serde::Serialize;
use serde_json::{Value, json};

use crate::Findings;

/// Query results, a row a line.
///
/// # Errors
/// Writing or encoding fails.
pub fn batches(out: &mut dyn Write, batches: &[RecordBatch]) -> Result<(), super::OutputError> {
    let mut w = arrow_json::LineDelimitedWriter::new(&mut *out);
    w.write_batches(&batches.iter().collect::<Vec<_>>())?;
    w.finish()?;
    Ok(())
}

/// `value` as a JSON object with `extra` fields added after its own.
///
/// # Errors
/// `value` does not serialise to an object.
pub fn object_with(
    value: &impl Serialize,
    extra: &[(&str, &str)],
) -> Result<Value, serde_json::Error> {
    let mut v = serde_json::to_value(value)?;
    let Some(obj) = v.as_object_mut() else {
        return Err(serde::ser::Error::custom("not a JSON object"));
    };
    for (k, x) in extra {
        obj.insert((*k).to_owned(), json!(x));
    }
    Ok(v)
}

/// Incidents, then alerts, then suppressed alerts (with the reasons), a line each.
///
/// # Errors
/// Writing fails.
pub fn findings(out: &mut dyn Write, f: &Findings) -> Result<(), super::OutputError> {
    for i in &f.incidents {
        writeln!(out, "{}", object_with(i, &[("type", "incident")])?)?;
    }
    for a in &f.alerts {
        writeln!(out, "{}", object_with(a, &[("type", "alert")])?)?;
    }
    for s in &f.suppressed {
        let v = json!({"type": "suppressed", "reasons": s.reasons, "alert": s.alert});
        writeln!(out, "{v}")?;
    }
    Ok(())
}
