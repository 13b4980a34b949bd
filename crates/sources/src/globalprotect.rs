//! Palo Alto Networks PAN-OS GlobalProtect logs (syslog CSV, log type `GLOBALPROTECT`,
//! PAN-OS 9.1+) into `auth` rows.
//!
//! Columns follow the PAN-OS GlobalProtect log field list: generated time (6), event id
//! (8), stage (9), source user (12), machine name (14), public IP (15, 16), host id (19),
//! client OS (22, 23), error (26), description (27), status (28), login duration (30),
//! portal or gateway (33). Portal and gateway authentication is `AAA Auth`, a tunnel
//! established is `Logon` from the public address, a logout or configuration release a
//! `Logoff`; the rest (pre-login, get-config, HIP checks, latency reports) is counted as
//! skipped, and so are PAN-OS logs of other types. Times are the firewall's clock, UTC
//! unless `--tz` says otherwise.

use midgame_schema::{AuthBuilder, AuthRow};

use crate::{Chunk, ParseOptions, Parsed};
use midgame_schema::ua;

/// Whether a line looks like a PAN-OS GlobalProtect log line.
#[must_use]
fn looks_like(text: &[u8]) -> bool {
    text.windows(15).any(|w| w == b",GLOBALPROTECT,")
}

/// Split one CSV record (double quotes, `""` escapes).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    out.push(field);
    out
}

/// The CSV part of a line: from the field before the receive time.
fn csv_part(line: &str) -> Option<&str> {
    let pos = line.find(",GLOBALPROTECT,").or_else(|| {
        // Another PAN-OS log type: the fourth field.
        [
            "TRAFFIC",
            "THREAT",
            "SYSTEM",
            "CONFIG",
            "HIPMATCH",
            "USERID",
            "CORRELATION",
        ]
        .iter()
        .find_map(|t| line.find(&format!(",{t},")))
    })?;
    let mut parts = line[..pos].rsplitn(3, ',');
    let _serial = parts.next()?;
    let _receive = parts.next()?;
    let head = parts.next()?;
    let first = head.rsplit(' ').next()?;
    Some(&line[pos - (line[..pos].len() - (head.len() - first.len()))..])
}

fn time_ms(text: &str, opts: &ParseOptions) -> Option<crate::time::LocalTime> {
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, "%Y/%m/%d %H:%M:%S") {
        return Some(opts.clock.utc(t));
    }
    crate::time::parse_time_ms(text).map(|ms| crate::time::LocalTime { ms, later_ms: None })
}

/// Parse every line of a chunk.
#[must_use]
fn parse(chunk: &Chunk, opts: &ParseOptions) -> Parsed {
    crate::auth_rows(chunk, opts, parse_line)
}

fn parse_line(
    bytes: &[u8],
    line: u64,
    opts: &ParseOptions,
    out: &mut AuthBuilder,
) -> Result<bool, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("not UTF-8 text (byte {})", e.valid_up_to()))?;
    let csv =
        csv_part(text).ok_or("not a PAN-OS log line (no ,GLOBALPROTECT, or other log type)")?;
    let f = csv_fields(csv);
    if f.get(3).map(String::as_str) != Some("GLOBALPROTECT") {
        return Ok(false);
    }
    if f.len() < 34 {
        return Err(format!(
            "{} fields: a GlobalProtect log line has at least 34",
            f.len()
        ));
    }
    let get = |i: usize| f.get(i).map(String::as_str).filter(|s| !s.is_empty());
    let event = get(8).unwrap_or("");
    let stage = get(9).unwrap_or("");
    let status = get(28).unwrap_or("");
    let activity = match (event, stage) {
        ("portal-auth" | "gateway-auth" | "gw-auth", _) => "AAA Auth",
        ("gateway-connected" | "gateway-setup-ipsec" | "gateway-setup-ssl", _) => "Logon",
        ("gateway-logout" | "portal-logout" | "gateway-config-release", _) => "Logoff",
        _ => return Ok(false),
    };
    let when = get(6).or_else(|| get(1)).ok_or("no generated time")?;
    let time =
        time_ms(when, opts).ok_or_else(|| format!("generated time is not a time: {when:?}"))?;
    let public = [get(15), get(16)]
        .into_iter()
        .flatten()
        .find(|ip| !matches!(*ip, "0.0.0.0" | "::") && ip.parse::<std::net::IpAddr>().is_ok());
    let user_raw = get(12).filter(|u| *u != "pre-logon");
    let user = user_raw.map(|u| opts.identities.normalise(u));
    let os_text = get(23).or_else(|| get(22));
    let failed = !status.eq_ignore_ascii_case("success");
    out.append(&AuthRow {
        time_ms: time.ms,
        time_later_ms: time.later_ms,
        source: "globalprotect",
        class_uid: 3002,
        activity_id: match activity {
            "Logon" => 1,
            "Logoff" => 2,
            _ => 99,
        },
        event_type: event,
        activity,
        outcome: if failed { "failure" } else { "success" },
        status_detail: if failed {
            get(26).or_else(|| get(27))
        } else {
            None
        },
        user: user.as_deref(),
        user_raw,
        src_ip: public,
        device_id: get(19),
        os: os_text.and_then(ua::os_family),
        app: get(33),
        duration_s: (activity == "Logoff")
            .then(|| get(30).and_then(|d| d.parse().ok()))
            .flatten()
            .filter(|d: &i64| *d > 0),
        provenance: opts.provenance(line, Some(text)),
        ..AuthRow::default()
    })?;
    Ok(true)
}

/// The `globalprotect` source.
#[derive(Debug, Clone, Copy)]
pub struct GlobalProtect;

impl crate::Source for GlobalProtect {
    fn name(&self) -> &'static str {
        "globalprotect"
    }

    fn about(&self) -> &'static str {
        "Palo Alto Networks GlobalProtect (PAN-OS syslog CSV, log type GLOBALPROTECT)."
    }

    fn looks_like(&self, record: &[u8]) -> bool {
        looks_like(record)
    }

    fn table(&self) -> &'static str {
        midgame_schema::AUTH
    }

    fn columns(&self) -> &'static [&'static str] {
        &[
            "status_detail",
            "user",
            "user_raw",
            "src_ip",
            "device_id",
            "os",
            "app",
            "duration_s",
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
    fn csv_with_quotes() {
        assert_eq!(
            csv_fields(r#"a,"b, c",,"d ""e""""#),
            ["a", "b, c", "", "d \"e\""]
        );
    }

    #[test]
    fn the_csv_starts_after_the_syslog_header() {
        let line = "Nov 30 16:09:08 1,2021/03/24 11:30:00,013101001305,GLOBALPROTECT,0,2305";
        assert_eq!(
            csv_part(line),
            Some("1,2021/03/24 11:30:00,013101001305,GLOBALPROTECT,0,2305")
        );
        let line = "<14>Nov 30 16:09:08 fw01 1,2021/03/24 11:30:00,0131,TRAFFIC,end";
        assert_eq!(
            csv_part(line),
            Some("1,2021/03/24 11:30:00,0131,TRAFFIC,end")
        );
    }
}
