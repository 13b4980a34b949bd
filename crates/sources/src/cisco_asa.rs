//! Cisco ASA / FTD syslog (AnyConnect, WebVPN, IKEv2 remote access) into `auth` rows.
//!
//! A line is whatever a syslog server stored: an optional `<PRI>`, an optional server
//! timestamp and host, an optional ASA timestamp, then `%ASA-6-113039: ...` (or `%FTD-`).
//! The event time is the first timestamp with a year; a year-less one
//! (`Aug  4 10:12:33`) takes [`ParseOptions::default_year`], and one that would land more
//! than a day after [`ParseOptions::reference_day`] belongs to the year before (a
//! December line in a January file). Times are UTC shifted by
//! [`ParseOptions::clock`].
//!
//! Session starts (113039, 722022, 716001, 722051, 751025, 734001) become `Logon` rows
//! with the client's public address; ends (113019 with duration and bytes, 722023,
//! 716002) `Logoff` rows; AAA results (113004, 113005, 716039) `AAA Auth` rows. Other ASA
//! messages are counted as skipped; a line that is not an ASA message is a bad record.

use std::net::IpAddr;

use chrono::NaiveDate;
use midgame_schema::{AuthBuilder, AuthRow};

use crate::{Chunk, ParseOptions, Parsed};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Whether a line looks like Cisco ASA / FTD syslog.
#[must_use]
fn looks_like(text: &[u8]) -> bool {
    tag(text).is_some()
}

/// Position and parts of the `%ASA-6-113039:` tag (some devices leave out the colon): (start, severity, message id, body start).
fn tag(text: &[u8]) -> Option<(usize, u8, u32, usize)> {
    let mut from = 0;
    while let Some(p) = text[from..].iter().position(|b| *b == b'%') {
        let at = from + p;
        let rest = &text[at + 1..];
        let product = ["ASA-", "FTD-", "FWSM-", "PIX-"]
            .iter()
            .find(|prefix| rest.starts_with(prefix.as_bytes()));
        if let Some(prefix) = product {
            let r = &rest[prefix.len()..];
            // d-dddddd:
            if r.len() >= 9
                && r[0].is_ascii_digit()
                && r[1] == b'-'
                && r[2..8].iter().all(u8::is_ascii_digit)
                && (r[8] == b':' || r[8] == b' ')
            {
                let id = std::str::from_utf8(&r[2..8]).ok()?.parse().ok()?;
                return Some((at, r[0] - b'0', id, at + 1 + prefix.len() + 9));
            }
        }
        from = at + 1;
    }
    None
}

/// A timestamp in the header, on the device's clock.
fn header_time(header: &str, opts: &ParseOptions) -> Option<crate::time::LocalTime> {
    // A syslog priority (`<166>`) is not part of the time.
    let header = match header.strip_prefix('<').and_then(|h| h.split_once('>')) {
        Some((pri, rest)) if pri.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => header,
    };
    let words: Vec<&str> = header
        .split([' ', ':'].as_slice())
        .filter(|w| !w.is_empty())
        .collect();
    // ISO 8601 (RFC 5424 servers): the first token that parses.
    for token in header.split_whitespace() {
        if token.len() >= 19
            && token.as_bytes()[4] == b'-'
            && let Some(ms) = crate::time::parse_time_ms(token.trim_end_matches(':'))
        {
            return Some(crate::time::LocalTime { ms, later_ms: None });
        }
    }
    // "Mmm dd yyyy HH MM SS" (the ASA's own) first, then "Mmm dd HH MM SS" (the server's).
    let mut yearless = None;
    for i in 0..words.len() {
        let Some(month) = MONTHS.iter().position(|m| *m == words[i]) else {
            continue;
        };
        let num = |j: usize| words.get(j).and_then(|w| w.parse::<u32>().ok());
        let Some(day) = num(i + 1) else { continue };
        if let (Some(year), Some(h), Some(m), Some(s)) =
            (num(i + 2), num(i + 3), num(i + 4), num(i + 5))
            && words[i + 2].len() == 4
        {
            let t = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month as u32 + 1, day)?
                .and_hms_opt(h, m, s)?;
            return Some(opts.clock.utc(t));
        }
        if yearless.is_none()
            && let (Some(h), Some(m), Some(s)) = (num(i + 2), num(i + 3), num(i + 4))
        {
            yearless = Some((month as u32 + 1, day, h, m, s));
        }
    }
    let (month, day, h, m, s) = yearless?;
    let year = opts.default_year?;
    let mut date = NaiveDate::from_ymd_opt(year, month, day)?;
    if let Some(reference) = opts.reference_day
        && date > reference + chrono::Duration::days(1)
    {
        date = NaiveDate::from_ymd_opt(year - 1, month, day)?;
    }
    Some(opts.clock.utc(date.and_hms_opt(h, m, s)?))
}

/// `key <value>`.
fn angle<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    let at = body.find(&format!("{key} <"))?;
    let rest = &body[at + key.len() + 2..];
    Some(&rest[..rest.find('>')?])
}

/// `key = value` up to `,`, ` :` or the end.
fn equals<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(p) = body[from..].find(key) {
        let at = from + p;
        let before_ok = at == 0 || !body.as_bytes()[at - 1].is_ascii_alphanumeric();
        let rest = body[at + key.len()..].trim_start();
        if before_ok && let Some(v) = rest.strip_prefix('=') {
            let v = v.trim_start();
            let end = v.find([',', ':']).unwrap_or(v.len());
            let v = v[..end].trim();
            return (!v.is_empty()).then_some(v);
        }
        from = at + key.len();
    }
    None
}

/// `key:value` (IKEv2 751025 style), up to whitespace.
fn colon<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    let at = body.find(&format!("{key}:"))?;
    body[at + key.len() + 1..].split_whitespace().next()
}

/// `key value` up to whitespace or `,` (the unbracketed `Group G User U IP I` style).
fn word_after<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    let at = body.find(&format!("{key} "))?;
    let v = body[at + key.len() + 1..].split([' ', ',']).next()?;
    (!v.is_empty() && !v.starts_with('<') && v != "=").then_some(v)
}

/// An address, possibly with a `:port` (IPv4 or IPv6).
fn address(text: &str) -> Option<&str> {
    let t = text.trim().trim_start_matches('[').trim_end_matches(']');
    if t.parse::<IpAddr>().is_ok() {
        return Some(t);
    }
    let (host, _port) = t.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.parse::<IpAddr>().is_ok().then_some(host)
}

fn user_of(body: &str) -> Option<&str> {
    angle(body, "User")
        .or_else(|| equals(body, "Username"))
        .or_else(|| equals(body, "user"))
        .or_else(|| equals(body, "User"))
        .or_else(|| colon(body, "Username"))
        .or_else(|| word_after(body, "client user"))
        .or_else(|| word_after(body, "User"))
        .filter(|u| !u.chars().all(|c| c == '*'))
}

fn ip_of(body: &str) -> Option<&str> {
    angle(body, "IP")
        .and_then(address)
        .or_else(|| equals(body, "user IP").and_then(address))
        .or_else(|| equals(body, "IP").and_then(address))
        .or_else(|| colon(body, "Remote").and_then(address))
        .or_else(|| word_after(body, "Addr").and_then(address))
        .or_else(|| word_after(body, "IP").and_then(address))
}

fn group_of(body: &str) -> Option<&str> {
    angle(body, "Group")
        .or_else(|| equals(body, "Group"))
        .or_else(|| colon(body, "Group"))
        .or_else(|| word_after(body, "Group"))
}

/// `2h:28m:09s` (also `1d 2h:28m:09s`) in seconds.
fn duration_s(body: &str) -> Option<i64> {
    let at = body.find("Duration:")?;
    let text = body[at + 9..].trim_start();
    let text = &text[..text.find(',').unwrap_or(text.len())];
    let mut total = 0_i64;
    for part in text.split([' ', ':']).filter(|p| !p.is_empty()) {
        let (num, unit) = part.split_at(part.len().checked_sub(1)?);
        let n: i64 = num.parse().ok()?;
        total += n * match unit {
            "d" => 86_400,
            "h" => 3_600,
            "m" => 60,
            "s" => 1,
            _ => return None,
        };
    }
    Some(total)
}

fn number_after(body: &str, key: &str) -> Option<i64> {
    let at = body.find(key)?;
    body[at + key.len()..]
        .trim_start()
        .split([',', ' ', '.'])
        .next()?
        .parse()
        .ok()
}

/// What a message means for `auth`: (activity, outcome, OCSF class, OCSF activity id).
fn meaning(id: u32, body: &str) -> Option<(&'static str, &'static str, i32, i32)> {
    Some(match id {
        113039 | 722022 | 716001 | 722051 | 751025 | 734001 => ("Logon", "success", 3002, 1),
        113019 | 722023 | 716002 => ("Logoff", "success", 3002, 2),
        113004 => ("AAA Auth", "success", 3002, 99),
        113005 | 716039 => ("AAA Auth", "failure", 3002, 99),
        _ => {
            let _ = body;
            return None;
        }
    })
}

/// Parse every line of a chunk.
#[must_use]
fn parse(chunk: &Chunk, opts: &ParseOptions) -> Parsed {
    crate::auth_rows(chunk, opts, parse_line)
}

/// `Ok(true)`: a row; `Ok(false)`: an ASA message no table needs.
fn parse_line(
    bytes: &[u8],
    line: u64,
    opts: &ParseOptions,
    out: &mut AuthBuilder,
) -> Result<bool, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("not UTF-8 text (byte {})", e.valid_up_to()))?;
    let (start, _severity, id, body_at) =
        tag(bytes).ok_or("not a Cisco ASA message (no %ASA-n-nnnnnn tag)")?;
    let Some((activity, outcome, class_uid, activity_id)) = meaning(id, &text[body_at..]) else {
        return Ok(false);
    };
    let body = text[body_at..].trim();
    let time = header_time(&text[..start], opts).ok_or_else(|| {
        if opts.default_year.is_none() {
            "no timestamp with a year before the ASA tag (give --year)".to_owned()
        } else {
            "no timestamp before the ASA tag".to_owned()
        }
    })?;
    let user_raw = user_of(body);
    let user = user_raw.map(|u| opts.identities.normalise(u));
    let event_type = format!("ASA-{id}");
    let reason = if outcome == "failure" {
        equals(body, "reason").or_else(|| body.split("Authentication: ").nth(1).map(str::trim))
    } else if id == 113019 {
        body.split("Reason: ").nth(1).map(str::trim)
    } else {
        None
    };
    out.append(&AuthRow {
        time_ms: time.ms,
        time_later_ms: time.later_ms,
        source: "cisco-asa",
        class_uid,
        activity_id,
        event_type: &event_type,
        activity,
        outcome,
        status_detail: reason,
        user: user.as_deref(),
        user_raw,
        src_ip: ip_of(body),
        app: group_of(body),
        bytes_in: (id == 113019)
            .then(|| number_after(body, "Bytes xmt:"))
            .flatten(),
        bytes_out: (id == 113019)
            .then(|| number_after(body, "Bytes rcv:"))
            .flatten(),
        duration_s: (id == 113019).then(|| duration_s(body)).flatten(),
        provenance: opts.provenance(line, Some(text)),
        ..AuthRow::default()
    })?;
    Ok(true)
}

/// The `cisco-asa` source.
#[derive(Debug, Clone, Copy)]
pub struct CiscoAsa;

impl crate::Source for CiscoAsa {
    fn name(&self) -> &'static str {
        "cisco-asa"
    }

    fn about(&self) -> &'static str {
        "Cisco ASA / FTD syslog (AnyConnect, WebVPN, IKEv2 remote access)."
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
            "app",
            "bytes_in",
            "bytes_out",
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
    fn fields_in_every_style() {
        let b = "Group <GroupPolicy Remote-VPN> User <first.o'last@example.com> IP <81.2.69.144> AnyConnect parent session started.";
        assert_eq!(user_of(b), Some("first.o'last@example.com"));
        assert_eq!(ip_of(b), Some("81.2.69.144"));
        assert_eq!(group_of(b), Some("GroupPolicy Remote-VPN"));
        let b =
            "Group VPN_USERS User example.user IP 67.43.156.14 AnyConnect parent session started.";
        assert_eq!(
            (user_of(b), ip_of(b), group_of(b)),
            (
                Some("example.user"),
                Some("67.43.156.14"),
                Some("VPN_USERS")
            )
        );
        let b = "Group = EXAMPLE, Username = Username, IP = 1.1.1.1, Session disconnected. Session Type: IKEv2, Duration: 2h:28m:09s, Bytes xmt: 54735230, Bytes rcv: 27473152, Reason: Idle Timeout";
        assert_eq!(
            (user_of(b), ip_of(b), group_of(b)),
            (Some("Username"), Some("1.1.1.1"), Some("EXAMPLE"))
        );
        assert_eq!(duration_s(b), Some(2 * 3600 + 28 * 60 + 9));
        assert_eq!(number_after(b, "Bytes xmt:"), Some(54_735_230));
        let b = "AAA user authentication Rejected : reason = Unspecified : server = 2.2.2.2 : user = jdoe : user IP = 1.1.1.1";
        assert_eq!((user_of(b), ip_of(b)), (Some("jdoe"), Some("1.1.1.1")));
        let b = "Local:2001:db8::1:4500 Remote:2001:db8::2:50470 Username:erin.davis@example.com IKEv2 Group:GroupPolicy_SAML_Example IPv4 Address=172.16.58.34";
        assert_eq!(
            (user_of(b), ip_of(b), group_of(b)),
            (
                Some("erin.davis@example.com"),
                Some("2001:db8::2"),
                Some("GroupPolicy_SAML_Example")
            )
        );
        let b =
            "(WebVPN-Primary) WebVPN session for client user admin, IP 1.1.1.1 has been created.";
        assert_eq!((user_of(b), ip_of(b)), (Some("admin"), Some("1.1.1.1")));
        let b = "DAP: User firsname.lastname@domain.net, Addr 81.2.69.144, Connection AnyConnect: The following DAP records were selected";
        assert_eq!(
            (user_of(b), ip_of(b)),
            (Some("firsname.lastname@domain.net"), Some("81.2.69.144"))
        );
        assert_eq!(
            user_of("AAA user authentication Rejected : user = ***** : user IP = 1.1.1.1"),
            None
        );
    }
}
