//! The generic admin-tool audit log of DESIGN.md: NDJSON (or a JSON array), one action
//! per record, into `admin` rows.
//!
//! Only `time`, `actor` and `action` are required; `time` is RFC 3339 or epoch
//! seconds/milliseconds. Numbers may arrive as strings. The OCSF activity is taken from
//! `activity_id` when the record has one, else read from the action's last word
//! (`customer.export` is an Export, `ticket.view` a Read).

use std::borrow::Cow;

use midgame_schema::{AdminBuilder, AdminRow};
use serde::Deserialize;

use crate::lenient::{Num, Text};
use crate::{BadRecord, Chunk, ParseOptions, Parsed};

#[derive(Deserialize, Default)]
struct Action<'a> {
    #[serde(borrow, default)]
    time: Text<'a>,
    #[serde(borrow, default)]
    actor: Text<'a>,
    #[serde(borrow, default)]
    action: Text<'a>,
    #[serde(borrow, default)]
    tool: Text<'a>,
    #[serde(borrow, default)]
    src_ip: Text<'a>,
    #[serde(borrow, default)]
    session_id: Text<'a>,
    #[serde(borrow, default)]
    target_type: Text<'a>,
    #[serde(borrow, default)]
    target_id: Text<'a>,
    #[serde(borrow, default)]
    customer_id: Text<'a>,
    #[serde(default)]
    records: Num,
    #[serde(default)]
    bytes: Num,
    #[serde(default)]
    activity_id: Num,
    #[serde(borrow, default)]
    outcome: Text<'a>,
    #[serde(borrow, default)]
    user_agent: Text<'a>,
    #[serde(borrow, default)]
    geo_country: Text<'a>,
    #[serde(default)]
    asn: Num,
}

/// Whether a record looks like a generic admin audit action.
#[must_use]
fn looks_like(text: &[u8]) -> bool {
    let has = |needle: &[u8]| text.windows(needle.len()).any(|w| w == needle);
    text.first() == Some(&b'{') && has(b"\"actor\"") && has(b"\"action\"") && has(b"\"time\"")
}

/// OCSF API activity of an action name: 1 Create, 2 Read, 3 Update, 4 Delete, 7 Export,
/// 99 Other, from its last word (`customer.export`, `users:ListUsers`, `report-download`).
#[must_use]
pub fn activity_of(action: &str) -> i32 {
    let verb = action
        .rsplit(['.', ':', '/', '-', '_'])
        .next()
        .unwrap_or(action)
        .to_ascii_lowercase();
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| verb.starts_with(p));
    if starts(&["export", "download", "dump", "archive", "backup", "bulk"]) {
        7
    } else if starts(&["create", "add", "insert", "new", "invite", "put"]) {
        1
    } else if starts(&[
        "view", "read", "get", "list", "search", "show", "describe", "open", "lookup",
    ]) {
        2
    } else if starts(&[
        "update", "edit", "set", "modify", "change", "grant", "reset", "patch", "assign",
    ]) {
        3
    } else if starts(&["delete", "remove", "revoke", "destroy", "purge"]) {
        4
    } else {
        99
    }
}

fn outcome(text: Option<&str>) -> &'static str {
    match text.map(str::to_ascii_lowercase).as_deref() {
        Some("success" | "succeeded" | "ok" | "allow" | "allowed" | "true" | "200") => "success",
        Some("failure" | "failed" | "fail" | "error" | "deny" | "denied" | "false") => "failure",
        _ => "unknown",
    }
}

/// Parse every record of a chunk into `admin` rows.
#[must_use]
fn parse(chunk: &Chunk, opts: &ParseOptions) -> Parsed {
    let mut builder = opts.admin_builder(chunk.len());
    let mut bad = Vec::new();
    for rec in chunk.records() {
        if let Err(reason) = parse_record(rec.text, rec.line, opts, &mut builder) {
            bad.push(BadRecord::new(rec.line, reason, rec.text));
        }
    }
    Parsed {
        nulled: builder.take_nulled(),
        ambiguous: Vec::new(),
        auth: None,
        admin: (!builder.is_empty()).then(|| builder.finish()),
        bad,
        skipped: 0,
    }
}

fn parse_record(
    bytes: &[u8],
    line: u64,
    opts: &ParseOptions,
    out: &mut AdminBuilder,
) -> Result<(), String> {
    let mapped;
    let (text, a): (&str, Action<'_>) = match &opts.admin_mapping {
        None => crate::json_record(bytes, "an admin audit action")?,
        Some(mapping) => {
            let (text, record): (&str, serde_json::Value) =
                crate::json_record(bytes, "an admin audit record")?;
            mapped = mapping.apply(&record)?.to_string();
            let action = serde_json::from_str(&mapped).map_err(|e| e.to_string())?;
            (text, action)
        }
    };
    let time = a.time.value().ok_or("missing `time`")?;
    let time_ms = crate::time::parse_time_ms(time)
        .ok_or_else(|| format!("`time` is not a timestamp: {time:?}"))?;
    let user_raw = a.actor.value().ok_or("missing `actor`")?;
    let action = a.action.value().ok_or("missing `action`")?;
    let user: Cow<'_, str> = opts.identities.normalise(user_raw);
    let activity_id = a
        .activity_id
        .as_i64()
        .and_then(|v| i32::try_from(v).ok())
        .unwrap_or_else(|| activity_of(action));
    out.append(&AdminRow {
        time_ms,
        source: "admin-audit",
        tool: a.tool.value(),
        user: Some(&user),
        user_raw: Some(user_raw),
        src_ip: a.src_ip.value(),
        geo_country: a.geo_country.value().and_then(crate::country_code),
        asn: a.asn.as_i64(),
        session_id: a.session_id.value(),
        action,
        activity_id,
        target_type: a.target_type.value(),
        target_id: a.target_id.value(),
        customer_id: a.customer_id.value(),
        records: a.records.as_i64(),
        bytes: a.bytes.as_i64(),
        outcome: outcome(a.outcome.value()),
        user_agent: a.user_agent.value(),
        provenance: opts.provenance(line, Some(text)),
    })?;
    Ok(())
}

/// The `admin-audit` source.
#[derive(Debug, Clone, Copy)]
pub struct AdminAudit;

impl crate::Source for AdminAudit {
    fn name(&self) -> &'static str {
        "admin-audit"
    }

    fn about(&self) -> &'static str {
        "Generic admin-tool audit NDJSON (`time`, `actor`, `action`, ...)."
    }

    fn looks_like(&self, record: &[u8]) -> bool {
        looks_like(record)
    }

    fn table(&self) -> &'static str {
        midgame_schema::ADMIN
    }

    fn columns(&self) -> &'static [&'static str] {
        &[
            "tool",
            "user",
            "user_raw",
            "src_ip",
            "geo_country",
            "asn",
            "session_id",
            "target_type",
            "target_id",
            "customer_id",
            "records",
            "bytes",
            "user_agent",
        ]
    }

    fn parse(&self, chunk: &Chunk, opts: &ParseOptions) -> Parsed {
        parse(chunk, opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activities_come_from_the_last_word_of_the_action() {
        assert_eq!(activity_of("customer.export"), 7);
        assert_eq!(activity_of("report-download"), 7);
        assert_eq!(activity_of("customer.view"), 2);
        assert_eq!(activity_of("s3:GetObject"), 2);
        assert_eq!(activity_of("user.create"), 1);
        assert_eq!(activity_of("role.grant"), 3);
        assert_eq!(activity_of("ticket.delete"), 4);
        assert_eq!(activity_of("impersonate"), 99);
    }
}
