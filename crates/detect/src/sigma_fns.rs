//! `sigma_match(raw, path, op, arg)` and `sigma_text(raw, path)`: a field of the
//! original record (`raw`, JSON text) as Sigma reads it, for rules converted from Sigma
//! whose fields the lake has no column for.
//!
//! A path is dotted keys (`target.displayName`), alternatives separated by `|` (the
//! first that finds a value is taken: `properties.status.errorCode|status.errorCode`).
//! Keys match without regard to case, a key may itself hold dots
//! (`debugContext.debugData.requestUri` is found whether or not `debugData` is nested),
//! and an array on the way is any of its elements. A path that ends at an object is the
//! object's JSON text and every value inside it. The empty path is every value of the
//! record (Sigma keywords).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringArray};
use arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use serde_json::Value;

use crate::AllowEntry;

/// `sigma_match` and `sigma_text`.
#[must_use]
pub fn functions() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::from(SigmaMatch {
            signature: Signature::string(4, Volatility::Immutable),
        }),
        ScalarUDF::from(SigmaText {
            signature: Signature::string(2, Volatility::Immutable),
        }),
    ]
}

/// The values at `path` in `record` (all alternatives tried in order; the first with
/// any value wins).
#[must_use]
pub fn values_at<'v>(record: &'v Value, path: &str) -> Vec<&'v Value> {
    for alt in path.split('|') {
        let mut out = Vec::new();
        if alt.is_empty() {
            leaves(record, &mut out);
        } else {
            let keys: Vec<&str> = alt.split('.').collect();
            walk(record, &keys, &mut out);
        }
        if !out.is_empty() {
            return out;
        }
    }
    Vec::new()
}

fn leaves<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
    match v {
        Value::Object(m) => m.values().for_each(|x| leaves(x, out)),
        Value::Array(a) => a.iter().for_each(|x| leaves(x, out)),
        other => out.push(other),
    }
}

fn walk<'v>(v: &'v Value, keys: &[&str], out: &mut Vec<&'v Value>) {
    if keys.is_empty() {
        match v {
            // The field's value is a list: any element (an empty list is itself, `[]`).
            Value::Array(a) if !a.is_empty() => out.extend(a.iter()),
            // An object is its JSON text and each value in it (a policy document written
            // as a string inside `requestParameters` is read as written).
            Value::Object(_) => {
                out.push(v);
                leaves(v, out);
            }
            other => out.push(other),
        }
        return;
    }
    match v {
        Value::Array(a) => a.iter().for_each(|x| walk(x, keys, out)),
        Value::Object(m) => {
            // `a.b.c` is key `a` then `b.c`, or key `a.b` then `c`, or key `a.b.c`.
            for take in 1..=keys.len() {
                let key = keys[..take].join(".");
                for (k, x) in m {
                    if k.eq_ignore_ascii_case(&key) {
                        walk(x, &keys[take..], out);
                    }
                }
            }
        }
        _ => {}
    }
}

/// A value as Sigma compares it: strings as they are, numbers and booleans as written,
/// objects as JSON; null is no text.
fn text_of(v: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(std::borrow::Cow::Borrowed(s)),
        Value::Bool(b) => Some(std::borrow::Cow::Borrowed(if *b {
            "true"
        } else {
            "false"
        })),
        Value::Number(n) => Some(std::borrow::Cow::Owned(n.to_string())),
        other => Some(std::borrow::Cow::Owned(other.to_string())),
    }
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// What `sigma_match` tests.
enum Op {
    Re(regex::Regex),
    Cidr(AllowEntry),
    Exists,
    Null,
    Cmp(std::cmp::Ordering, bool, f64),
}

impl Op {
    fn parse(op: &str, arg: &str) -> Result<Self> {
        use std::cmp::Ordering::{Equal, Greater, Less};
        let number = || {
            arg.trim().parse::<f64>().map_err(|_| {
                DataFusionError::Plan(format!("sigma_match: {arg:?} is not a number to compare"))
            })
        };
        Ok(match op {
            "re" => Op::Re(regex::Regex::new(arg).map_err(|e| {
                DataFusionError::Plan(format!("sigma_match: bad regular expression: {e}"))
            })?),
            "cidr" => Op::Cidr(AllowEntry::parse(arg, "").map_err(|e| {
                DataFusionError::Plan(format!("sigma_match: {arg:?} is not a network: {e}"))
            })?),
            "exists" => Op::Exists,
            "null" => Op::Null,
            "eq" => Op::Cmp(Equal, true, number()?),
            "lt" => Op::Cmp(Less, false, number()?),
            "le" => Op::Cmp(Less, true, number()?),
            "gt" => Op::Cmp(Greater, false, number()?),
            "ge" => Op::Cmp(Greater, true, number()?),
            other => {
                return Err(DataFusionError::Plan(format!(
                    "sigma_match: unknown operation {other:?} (re, cidr, exists, null, eq, lt, le, gt, ge)"
                )));
            }
        })
    }

    /// Whether the values found meet the test (any of them).
    fn test(&self, found: &[&Value]) -> bool {
        match self {
            Op::Exists => found.iter().any(|v| !v.is_null()),
            Op::Null => found.iter().all(|v| v.is_null()),
            Op::Re(re) => found
                .iter()
                .filter_map(|v| text_of(v))
                .any(|t| re.is_match(&t)),
            Op::Cidr(range) => found
                .iter()
                .filter_map(|v| v.as_str())
                .filter_map(|t| t.trim().parse().ok())
                .any(|ip| range.contains(&ip)),
            Op::Cmp(ord, or_equal, n) => found.iter().filter_map(|v| number_of(v)).any(|x| {
                x.partial_cmp(n)
                    .is_some_and(|o| o == *ord || (*or_equal && o == std::cmp::Ordering::Equal))
            }),
        }
    }
}

/// The constant text of an argument, if it is one.
fn constant(v: &ColumnarValue) -> Option<String> {
    match v {
        ColumnarValue::Scalar(s) => s.try_as_str().flatten().map(str::to_owned),
        ColumnarValue::Array(_) => None,
    }
}

fn strings(a: &ArrayRef) -> Result<ArrayRef> {
    Ok(arrow::compute::cast(a, &DataType::Utf8)?)
}

/// `sigma_match(raw, path, op, arg)`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SigmaMatch {
    signature: Signature,
}

impl ScalarUDFImpl for SigmaMatch {
    fn name(&self) -> &'static str {
        "sigma_match"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        // Generated SQL passes the path, operation and argument as constants: one
        // compiled test for the whole batch.
        let fixed = match (
            constant(&args.args[1]),
            constant(&args.args[2]),
            constant(&args.args[3]),
        ) {
            (Some(p), Some(o), Some(a)) => Some((p, Op::parse(&o, &a)?)),
            _ => None,
        };
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let cols: Vec<ArrayRef> = arrays.iter().map(strings).collect::<Result<_>>()?;
        let [raw, path, op, arg] = [0, 1, 2, 3].map(|i| cols[i].as_string::<i32>());
        let mut out = Vec::with_capacity(raw.len());
        for i in 0..raw.len() {
            if raw.is_null(i) {
                out.push(None);
                continue;
            }
            let Ok(record) = serde_json::from_str::<Value>(raw.value(i)) else {
                out.push(None);
                continue;
            };
            let verdict = match &fixed {
                Some((p, test)) => test.test(&values_at(&record, p)),
                None => {
                    if path.is_null(i) || op.is_null(i) || arg.is_null(i) {
                        out.push(None);
                        continue;
                    }
                    Op::parse(op.value(i), arg.value(i))?.test(&values_at(&record, path.value(i)))
                }
            };
            out.push(Some(verdict));
        }
        Ok(ColumnarValue::Array(Arc::new(BooleanArray::from(out))))
    }
}

/// `sigma_text(raw, path)`: the first value at `path` as text.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SigmaText {
    signature: Signature,
}

impl ScalarUDFImpl for SigmaText {
    fn name(&self) -> &'static str {
        "sigma_text"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let cols: Vec<ArrayRef> = arrays.iter().map(strings).collect::<Result<_>>()?;
        let [raw, path] = [0, 1].map(|i| cols[i].as_string::<i32>());
        let out: StringArray = (0..raw.len())
            .map(|i| {
                if raw.is_null(i) || path.is_null(i) {
                    return None;
                }
                let record = serde_json::from_str::<Value>(raw.value(i)).ok()?;
                values_at(&record, path.value(i))
                    .into_iter()
                    .find_map(|v| text_of(v).map(std::borrow::Cow::into_owned))
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(record: &str, path: &str) -> Vec<String> {
        let v: Value = serde_json::from_str(record).unwrap();
        values_at(&v, path)
            .into_iter()
            .map(|x| text_of(x).map_or("null".into(), |t| t.into_owned()))
            .collect()
    }

    #[test]
    fn paths_walk_keys_arrays_and_dotted_names() {
        let okta = r#"{"target":[{"type":"User","displayName":"Ann"},{"type":"AppInstance","displayName":"Slack"}],
            "debugContext":{"debugData":{"requestUri":"/api/v1/users"}},
            "flat":{"a.b":"dotted"},"n":7,"ok":true}"#;
        assert_eq!(found(okta, "target.displayName"), ["Ann", "Slack"]);
        assert_eq!(found(okta, "TARGET.DisplayName"), ["Ann", "Slack"]);
        assert_eq!(
            found(okta, "debugContext.debugData.requestUri"),
            ["/api/v1/users"]
        );
        assert_eq!(found(okta, "flat.a.b"), ["dotted"]);
        assert_eq!(found(okta, "missing|n"), ["7"]);
        assert_eq!(found(okta, "ok"), ["true"]);
        assert!(found(okta, "target.nothing").is_empty());
        assert_eq!(found(okta, "").len(), 8);
    }

    #[test]
    fn tests_answer_as_sigma_does() {
        let v: Value = serde_json::from_str(
            r#"{"ip":"10.1.2.3","codes":[50074,"500121"],"gone":null,"name":"Admin"}"#,
        )
        .unwrap();
        let t = |path: &str, op: &str, arg: &str| {
            Op::parse(op, arg).unwrap().test(&values_at(&v, path))
        };
        assert!(t("ip", "cidr", "10.0.0.0/8"));
        assert!(!t("ip", "cidr", "192.168.0.0/16"));
        assert!(t("codes", "eq", "500121"));
        assert!(t("codes", "gt", "50073"));
        assert!(!t("codes", "lt", "50074"));
        assert!(t("codes", "le", "50074"));
        assert!(t("name", "re", "(?i)^admin$"));
        assert!(!t("name", "re", "^admin$"));
        assert!(t("name", "exists", ""));
        assert!(!t("gone", "exists", ""));
        assert!(t("gone", "null", ""));
        assert!(t("absent", "null", ""));
        assert!(!t("name", "null", ""));
        assert!(Op::parse("gt", "x").is_err());
        assert!(Op::parse("like", "").is_err());
    }

    #[tokio::test]
    async fn in_sql() {
        let ctx = datafusion::prelude::SessionContext::new();
        for f in functions() {
            ctx.register_udf(f);
        }
        let sql = r#"SELECT sigma_match(raw, 'actor.alternateId', 're', '(?i)^.*@ACME\.test$') AS m,
                            sigma_text(raw, 'nothing|actor.alternateId') AS t
                     FROM (VALUES ('{"actor":{"alternateId":"ann@acme.test"}}'), ('{"actor":{}}'), ('not json'), (NULL)) AS x(raw)"#;
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        let rows: Vec<&str> = text.lines().skip(3).take(4).collect();
        assert_eq!(
            rows,
            [
                "| true  | ann@acme.test |",
                "| false |               |",
                "|       |               |",
                "|       |               |",
            ],
            "{text}"
        );
    }
}
