//! OpenVPN server log into `auth` rows.
//!
//! A line is `[time] [peer] message`: the time as `2023-10-31 15:09:59`, as
//! `Tue Aug 12 08:26:30 2025 us=340080`, or behind a syslog header (`Jan 28 14:25:49 host
//! openvpn[12]:`, year from [`ParseOptions::default_year`]); the peer as
//! `client01/165.225.204.88:59321` or `165.225.204.88:59321`. `Peer Connection Initiated`
//! is a `Logon` from the client's public address; username/password and LDAP results are
//! `AAA Auth`; a client instance exiting or its connection reset is a `Logoff`. Every
//! other line of the server's log is counted as skipped.

use std::net::IpAddr;

use chrono::NaiveDate;
use midgame_schema::{AuthBuilder, AuthRow};

use crate::{Chunk, ParseOptions, Parsed};

const MARKERS: [&str; 7] = [
    "Peer Connection Initiated",
    "MULTI: ",
    "VERIFY OK",
    "peer info: IV_",
    "Username/Password authentication",
    " openvpn",
    "Control Channel: TLS",
];

/// Whether a line looks like an OpenVPN server log line.
#[must_use]
fn looks_like(text: &[u8]) -> bool {
    let Ok(t) = std::str::from_utf8(text) else {
        return false;
    };
    !t.starts_with('{') && MARKERS.iter().any(|m| t.contains(m))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The time at the start of a line and the rest of it.
fn split_time<'a>(line: &'a str, opts: &ParseOptions) -> (Option<crate::time::LocalTime>, &'a str) {
    // 2023-10-31 15:09:59
    if line.len() >= 19
        && line.as_bytes()[4] == b'-'
        && line.as_bytes()[10] == b' '
        && let Some(head) = line.get(..19)
        && let Ok(t) = chrono::NaiveDateTime::parse_from_str(head, "%Y-%m-%d %H:%M:%S")
    {
        return (Some(opts.clock.utc(t)), line[19..].trim_start());
    }
    let words: Vec<&str> = line.splitn(7, ' ').filter(|w| !w.is_empty()).collect();
    // Tue Aug 12 08:26:30 2025 us=340080
    if words.len() >= 5
        && let Some(m) = MONTHS.iter().position(|m| *m == words[1])
        && let (Ok(d), Ok(y)) = (words[2].parse::<u32>(), words[4].parse::<i32>())
        && let Ok(t) = chrono::NaiveTime::parse_from_str(words[3], "%H:%M:%S")
        && let Some(date) = NaiveDate::from_ymd_opt(y, m as u32 + 1, d)
    {
        let mut rest = line;
        for w in &words[..5] {
            rest = rest.trim_start().strip_prefix(w).unwrap_or(rest);
        }
        let rest = rest.trim_start();
        let rest = rest
            .strip_prefix("us=")
            .map_or(rest, |r| r.split_once(' ').map_or("", |(_, after)| after));
        return (Some(opts.clock.utc(date.and_time(t))), rest);
    }
    // Jan 28 14:25:49 host openvpn[123]: ...
    if words.len() >= 4
        && let Some(m) = MONTHS.iter().position(|m| *m == words[0])
        && let Ok(d) = words[1].parse::<u32>()
        && let Ok(t) = chrono::NaiveTime::parse_from_str(words[2], "%H:%M:%S")
        && let Some(at) = line.find("openvpn")
    {
        let rest = line[at..].split_once(": ").map_or("", |(_, r)| r);
        let time = opts.default_year.and_then(|y| {
            let mut date = NaiveDate::from_ymd_opt(y, m as u32 + 1, d)?;
            if let Some(reference) = opts.reference_day
                && date > reference + chrono::Duration::days(1)
            {
                date = NaiveDate::from_ymd_opt(y - 1, m as u32 + 1, d)?;
            }
            Some(opts.clock.utc(date.and_time(t)))
        });
        return (time, rest);
    }
    (None, line)
}

/// `client01/165.225.204.88:59321 ` or `165.225.204.88:59321 ` at the start: (name, ip).
fn peer(rest: &str) -> (Option<&str>, Option<&str>, &str) {
    let Some((first, after)) = rest.split_once(' ') else {
        return (None, None, rest);
    };
    let (name, addr) = match first.rsplit_once('/') {
        Some((n, a)) => (Some(n), a),
        None => (None, first),
    };
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let host = host
        .trim_start_matches("[AF_INET]")
        .trim_start_matches("[AF_INET6]");
    if host.parse::<IpAddr>().is_ok() {
        (name, Some(host), after)
    } else {
        (None, None, rest)
    }
}

fn quoted<'a>(text: &'a str, after: &str, quote: char) -> Option<&'a str> {
    let at = text.find(after)? + after.len();
    let rest = text[at..].trim_start().strip_prefix(quote)?;
    Some(&rest[..rest.find(quote)?])
}

/// Parse every line of a chunk.
#[must_use]
fn parse(chunk: &Chunk, opts: &ParseOptions) -> Parsed {
    crate::auth_rows(chunk, opts, parse_line)
}

/// What a line says: (activity, outcome, user, address, event).
type Found<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>, &'a str);

fn parse_line(
    bytes: &[u8],
    line: u64,
    opts: &ParseOptions,
    out: &mut AuthBuilder,
) -> Result<bool, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("not UTF-8 text (byte {})", e.valid_up_to()))?;
    let (time, rest) = split_time(text, opts);
    let (name, ip, message) = peer(rest);
    let found: Option<Found<'_>> = if let Some(at) = message.find("Peer Connection Initiated with ")
    {
        let addr = &message[at + 31..];
        let addr = addr
            .trim_start_matches("[AF_INET]")
            .trim_start_matches("[AF_INET6]");
        let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
        let cn = message
            .strip_prefix('[')
            .and_then(|m| m.split_once(']'))
            .map(|(cn, _)| cn);
        Some((
            "Logon",
            "success",
            cn.or(name),
            Some(host).or(ip),
            "peer-connection-initiated",
        ))
    } else if message.contains("Username/Password authentication succeeded") {
        Some((
            "AAA Auth",
            "success",
            quoted(message, "for username", '\'').or(name),
            ip,
            "auth-succeeded",
        ))
    } else if message.contains("authentication failed")
        || message.contains("Auth Username/Password verification failed")
    {
        Some((
            "AAA Auth",
            "failure",
            quoted(message, "for username", '\'').or(name),
            ip,
            "auth-failed",
        ))
    } else if message.starts_with("Incorrect password supplied for LDAP DN") {
        let dn = quoted(message, "LDAP DN", '"');
        let cn = dn
            .and_then(|d| d.strip_prefix("CN="))
            .and_then(|d| d.split(',').next());
        Some(("AAA Auth", "failure", cn, ip, "ldap-incorrect-password"))
    } else if message.contains("client-instance exiting")
        || message.contains("Connection reset, restarting")
    {
        Some(("Logoff", "success", name, ip, "client-exit"))
    } else {
        None
    };
    let Some((activity, outcome, user_raw, src_ip, event)) = found else {
        return Ok(false);
    };
    let time = time.ok_or_else(|| {
        if opts.default_year.is_none() && text.contains("openvpn") {
            "no timestamp with a year (give --year)".to_owned()
        } else {
            "no timestamp at the start of the line".to_owned()
        }
    })?;
    let user = user_raw.map(|u| opts.identities.normalise(u));
    out.append(&AuthRow {
        time_ms: time.ms,
        time_later_ms: time.later_ms,
        source: "openvpn",
        class_uid: 3002,
        activity_id: match activity {
            "Logon" => 1,
            "Logoff" => 2,
            _ => 99,
        },
        event_type: event,
        activity,
        outcome,
        user: user.as_deref(),
        user_raw,
        src_ip,
        provenance: opts.provenance(line, Some(text)),
        ..AuthRow::default()
    })?;
    Ok(true)
}

/// The `openvpn` source.
#[derive(Debug, Clone, Copy)]
pub struct OpenVpn;

impl crate::Source for OpenVpn {
    fn name(&self) -> &'static str {
        "openvpn"
    }

    fn about(&self) -> &'static str {
        "OpenVPN server log."
    }

    fn looks_like(&self, record: &[u8]) -> bool {
        looks_like(record)
    }

    fn table(&self) -> &'static str {
        midgame_schema::AUTH
    }

    fn columns(&self) -> &'static [&'static str] {
        &["user", "user_raw", "src_ip"]
    }

    fn parse(&self, chunk: &Chunk, opts: &ParseOptions) -> Parsed {
        parse(chunk, opts)
    }
}
