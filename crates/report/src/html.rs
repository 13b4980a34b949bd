//! The page: the verdict first, then each incident (map, baseline, timeline, alerts,
//! evidence), then the overview. Every value from a log or a finding passes through
//! [`escape`]; the page carries a Content-Security-Policy that allows no script, no
//! fetch and no font, so even a value that got through could not run or call out.

use std::collections::BTreeMap;
use std::fmt::Write;

use midgame_detect::Alert;

use crate::svg;
use crate::{AlertEvents, DetectionInfo, Event, IncidentView, Report, technique_name};

/// Text for HTML content and attribute values: `& < > " '` as entities.
#[must_use]
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and newlines have no business in a
            // page (and some are not allowed in XML-compatible HTML).
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => {
                let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

fn at(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// `13:05`.
pub(crate) fn clock(ms: i64) -> String {
    at(ms).format("%H:%M").to_string()
}

/// `2022-08-04 13:05:25`.
pub(crate) fn short_time(ms: i64) -> String {
    at(ms).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// `2022-08-04`.
pub(crate) fn day(ms: i64) -> String {
    at(ms).format("%Y-%m-%d").to_string()
}

/// `Aug 04`.
pub(crate) fn short_day(ms: i64) -> String {
    at(ms).format("%b %d").to_string()
}

/// `1,234,567`.
pub(crate) fn thousands(n: i64) -> String {
    let sign = if n < 0 { "-" } else { "" };
    format!(
        "{sign}{}",
        midgame_detect::output::thousands(n.unsigned_abs())
    )
}

/// `1,234` of a count.
pub(crate) fn count(n: impl TryInto<u64>) -> String {
    midgame_detect::output::thousands(n.try_into().unwrap_or(u64::MAX))
}

/// `1.6 GB`, `510 MB`, `12 kB`, `900 B` (powers of 1000, as the alerts say them).
pub(crate) fn human_bytes(b: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let f = b as f64;
    match b {
        0..1_000 => format!("{b} B"),
        1_000..1_000_000 => format!("{:.0} kB", f / 1e3),
        1_000_000..1_000_000_000 => format!("{:.0} MB", f / 1e6),
        _ => format!("{:.1} GB", f / 1e9),
    }
}

fn duration(ms: i64) -> String {
    let minutes = (ms + 30_000) / 60_000;
    match minutes {
        m if m < 60 => format!("{m} min"),
        m if m < 48 * 60 => format!("{} h {} min", m / 60, m % 60),
        m => format!("{} days", m / (24 * 60)),
    }
}

fn stage_words(stage: &str) -> String {
    stage.replace('-', " ")
}

const STYLE: &str = r#"
:root { --ink:#1d1d1f; --muted:#6b6b6b; --line:#e2e0da; --new:#c0392b; --usual:#2e6da4; }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color:var(--ink); background:#fbfaf7; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 60px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 34px 0 10px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 20px 0 8px; }
.meta, .muted { color: var(--muted); }
.verdict { margin: 18px 0 8px; padding: 14px 18px; border-radius: 8px; background: #fff; border: 1px solid var(--line); border-left: 8px solid #2f8f46; }
.verdict.alarm { border-left-color: var(--new); }
.verdict .big { font-size: 20px; font-weight: 650; }
.sev { display:inline-block; padding: 1px 8px; border-radius: 10px; color:#fff; font-weight:600; font-size:12px; text-transform:uppercase; letter-spacing:.03em; }
.sev.critical { background:#8e1b10; } .sev.high { background:#c0392b; } .sev.medium { background:#d9730d; } .sev.low { background:#6b6b6b; }
.stages { margin: 6px 0; }
.stage { display:inline-block; padding: 2px 10px; border-radius: 4px; color:#fff; font-weight:600; margin-right: 4px; }
.arrow { color: var(--muted); margin-right: 4px; }
.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding: 14px 18px; margin: 12px 0; }
.grid { display:grid; grid-template-columns: 1.35fr 1fr; gap: 16px; align-items:start; }
.facts { display:flex; flex-wrap:wrap; gap: 10px 28px; margin: 8px 0 2px; }
.fact .n { font-size: 22px; font-weight: 700; color: var(--new); }
.fact .l { color: var(--muted); font-size: 12px; }
svg.map { width: 100%; height: auto; border-radius: 6px; border: 1px solid var(--line); }
svg.timeline { width: 100%; height: auto; }
svg text { font-family: system-ui, sans-serif; }
svg .lane { font-size: 12px; fill: #444; } svg .tick { font-size: 11px; fill: #666; }
svg .halo { paint-order: stroke; stroke: #ffffff; stroke-width: 3px; stroke-linejoin: round; fill: #222; font-weight: 600; }
svg .halo.new { fill: var(--new); }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
td.t { white-space: nowrap; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.new td { background: #fdf0ee; }
.tag { display:inline-block; font-size: 11px; padding: 0 6px; border-radius: 8px; background: var(--new); color:#fff; margin-left: 4px; }
.src { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12px; color: var(--muted); word-break: break-all; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12px; }
details { margin: 6px 0; } summary { cursor: pointer; }
.alert { border-left: 4px solid var(--line); padding: 4px 0 4px 12px; margin: 12px 0; }
.alert .num { display:inline-block; width: 22px; height: 22px; border-radius: 11px; color:#fff; text-align:center; font-weight:700; font-size:12px; line-height:22px; margin-right:6px; }
.kv { display:grid; grid-template-columns: max-content 1fr; gap: 2px 14px; font-size: 13px; }
.kv div:nth-child(odd) { color: var(--muted); }
.legend span { margin-right: 16px; font-size: 12px; color: var(--muted); }
.dot { display:inline-block; width:10px; height:10px; border-radius:5px; margin-right:4px; vertical-align: -1px; }
.wrap { overflow-wrap: anywhere; }
.hopline { margin-top: 6px; color: var(--new); }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
@media print { details { display:block; } }
"#;

/// The whole page.
#[must_use]
pub fn render(r: &Report) -> String {
    let mut s = String::with_capacity(64 * 1024);
    let o = &r.options;
    let _ = write!(
        s,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title><style>{STYLE}</style></head><body><main>
<h1>{title}</h1>
<div class="meta">Made {made} UTC from the lake <code>{lake}</code>{window}{user}. Times are UTC.</div>
"#,
        title = escape(&o.title),
        made = short_time(o.generated_ms),
        lake = escape(&o.lake.display().to_string()),
        window = window_words(r.window),
        user = o
            .user
            .as_ref()
            .map(|u| format!(", user {}", escape(u)))
            .unwrap_or_default(),
    );
    verdict(&mut s, r);
    let info: BTreeMap<&str, &DetectionInfo> =
        r.detections.iter().map(|d| (d.id.as_str(), d)).collect();
    let stage_of: BTreeMap<String, String> = r
        .detections
        .iter()
        .map(|d| (d.id.clone(), d.stage.clone()))
        .collect();
    for v in &r.incidents {
        incident(&mut s, v, r, &info, &stage_of);
    }
    overview(&mut s, r, &info);
    let _ = writeln!(
        s,
        "<footer>midgame {} · map: Natural Earth (public domain), made with Natural Earth · this file fetches nothing and runs no script.</footer></main></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    s
}

fn window_words(w: (Option<i64>, Option<i64>)) -> String {
    match w {
        (None, None) => String::new(),
        (Some(f), None) => format!(", alerts from {}", short_time(f)),
        (None, Some(t)) => format!(", alerts before {}", short_time(t)),
        (Some(f), Some(t)) => format!(", alerts from {} to {}", short_time(f), short_time(t)),
    }
}

fn verdict(s: &mut String, r: &Report) {
    if r.incidents.is_empty() {
        let _ = write!(
            s,
            r#"<section class="verdict"><div class="big">No incidents.</div><div>{} alerts, none chained into an incident (a user's alerts covering at least {} stages within {} h){}.</div></section>"#,
            count(r.alerts.len()),
            r.incident_rules.1,
            r.incident_rules.0,
            if r.alerts.is_empty() {
                ""
            } else {
                "; they are listed below"
            }
        );
        return;
    }
    let _ = write!(
        s,
        r#"<section class="verdict alarm"><div class="big">{n} incident{plural}</div>"#,
        n = r.incidents.len(),
        plural = if r.incidents.len() == 1 { "" } else { "s" }
    );
    for v in &r.incidents {
        let i = &v.incident;
        let _ = write!(
            s,
            r##"<div style="margin-top:8px"><span class="sev {sev}">{sev}</span> <b>score {score}</b> · <a href="#incident-{id}"><b>{user}</b></a> · {first} UTC, {dur}<div class="stages">{stages}</div>"##,
            sev = escape(&i.severity),
            score = i.score,
            id = escape(svg::short_id(&i.incident_id)),
            user = escape(&i.user),
            first = short_time(i.first_seen_ms),
            dur = duration(i.last_seen_ms - i.first_seen_ms),
            stages = stage_chips(&i.stages),
        );
        let mut bits = Vec::new();
        for h in &v.hops {
            bits.push(format!(
                "signed in from <b>{}</b> {} min after {} ({} km, {} km/h)",
                escape(&h.to.name()),
                h.minutes,
                escape(&h.from.name()),
                thousands(h.distance_km),
                thousands(h.speed_kmh)
            ));
        }
        if v.touched.actions > 0 {
            let (n, what) = v.touched.what();
            bits.push(format!(
                "from new addresses: <b>{} {what}</b> touched in {} admin actions, {} moved",
                count(n),
                count(v.touched.actions),
                human_bytes(v.touched.bytes)
            ));
        }
        if !bits.is_empty() {
            let _ = write!(s, "<div>{}</div>", bits.join("; "));
        }
        s.push_str("</div>");
    }
    s.push_str("</section>");
}

fn stage_chips(stages: &[String]) -> String {
    let mut out = String::new();
    for (k, st) in stages.iter().enumerate() {
        if k > 0 {
            out.push_str(r#"<span class="arrow">→</span>"#);
        }
        let _ = write!(
            out,
            r#"<span class="stage" style="background:{}">{}</span>"#,
            svg::stage_colour(st),
            escape(&stage_words(st))
        );
    }
    out
}

fn incident(
    s: &mut String,
    v: &IncidentView,
    r: &Report,
    info: &BTreeMap<&str, &DetectionInfo>,
    stage_of: &BTreeMap<String, String>,
) {
    let i = &v.incident;
    let _ = write!(
        s,
        r#"<section id="incident-{id}"><h2><span class="sev {sev}">{sev}</span> Incident: {user} <span class="muted">score {score} · {id}</span></h2>
<div class="stages">{stages}</div><p class="wrap">{summary}</p>"#,
        id = escape(svg::short_id(&i.incident_id)),
        sev = escape(&i.severity),
        user = escape(&i.user),
        score = i.score,
        stages = stage_chips(&i.stages),
        summary = escape(&i.summary),
    );
    // Facts.
    s.push_str(r#"<div class="facts">"#);
    let mut fact = |n: String, l: String| {
        let _ = write!(
            s,
            r#"<div class="fact"><div class="n">{n}</div><div class="l">{l}</div></div>"#
        );
    };
    fact(
        duration(i.last_seen_ms - i.first_seen_ms),
        format!(
            "from the first alert ({} UTC) to the last",
            short_time(i.first_seen_ms)
        ),
    );
    fact(v.alerts.len().to_string(), "alerts".to_owned());
    if !v.touched.addresses.is_empty() {
        fact(
            v.touched.addresses.len().to_string(),
            format!(
                "new address{}: {}",
                if v.touched.addresses.len() == 1 {
                    ""
                } else {
                    "es"
                },
                escape(&v.touched.addresses.join(", "))
            ),
        );
    }
    if v.touched.actions > 0 {
        let (n, what) = v.touched.what();
        fact(
            count(n),
            format!(
                "{what} touched from new addresses ({} admin actions)",
                count(v.touched.actions)
            ),
        );
        fact(
            human_bytes(v.touched.bytes),
            format!(
                "exported from new addresses ({} records)",
                count(v.touched.records)
            ),
        );
    }
    s.push_str("</div>");

    // Map and baseline.
    let _ = write!(
        s,
        r#"<div class="grid"><div class="card"><h3>Where the account signed in from</h3>{map}<div class="legend"><span><i class="dot" style="background:var(--usual)"></i>usual places ({days} days before)</span><span><i class="dot" style="background:var(--new)"></i>new addresses in the incident</span><span>- - → impossible hop</span></div>{hops}</div><div class="card"><h3>Usual for {user}, against the incident</h3>"#,
        map = svg::map(v),
        hops = v
            .hops
            .iter()
            .map(|h| format!(
                r#"<div class="hopline">Impossible hop: <b>{}</b> ({} → {})</div>"#,
                escape(&svg::hop_words(h)),
                escape(&h.ips.0),
                escape(&h.ips.1)
            ))
            .collect::<String>(),
        days = v.baseline.days,
        user = escape(&i.user),
    );
    baseline_table(s, v);
    s.push_str("</div></div>");

    // Timeline.
    let number: BTreeMap<&str, usize> = v
        .alerts
        .iter()
        .enumerate()
        .map(|(k, a)| (a.alert_id.as_str(), k + 1))
        .collect();
    let _ = write!(
        s,
        r#"<div class="card"><h3>Timeline, {from} to {to} UTC</h3>{svg}<div class="legend"><span><i class="dot" style="background:var(--usual)"></i>from a known address</span><span><i class="dot" style="background:var(--new)"></i>from an address new to the user</span><span><i class="dot" style="border:2px solid #f0a000"></i>failed</span><span>exports sized by bytes; numbered marks are the alerts below, coloured by stage</span></div></div>"#,
        from = short_time(v.window.0),
        to = short_time(v.window.1),
        svg = svg::timeline(v, &number, stage_of),
    );

    // Alerts.
    let _ = write!(s, "<h3>The {} alerts, in order</h3>", v.alerts.len());
    for (k, a) in v.alerts.iter().enumerate() {
        alert_block(s, a, Some(k + 1), r, info);
    }

    // Evidence.
    let _ = write!(
        s,
        "<h3>The evidence: {}'s events from {} to {} UTC</h3>",
        escape(&i.user),
        short_time(v.window.0),
        short_time(v.window.1)
    );
    events_table(s, &v.events, 30);
    if v.events_total > v.events.len() as u64 {
        let _ = write!(
            s,
            r#"<p class="muted">{} more events in this window are not listed; <code>midgame sql</code> has them all (user = '{}').</p>"#,
            count(v.events_total - v.events.len() as u64),
            escape(&i.user)
        );
    }
    s.push_str("</section>");
}

fn baseline_table(s: &mut String, v: &IncidentView) {
    let b = &v.baseline;
    let signin = |e: &&Event| {
        matches!(
            e.lane,
            crate::Lane::SignIn | crate::Lane::Sso | crate::Lane::Mfa | crate::Lane::Vpn
        ) && e.time_ms >= v.incident.first_seen_ms
    };
    let mut now_countries: BTreeMap<String, usize> = BTreeMap::new();
    let mut now_networks: BTreeMap<String, usize> = BTreeMap::new();
    let mut now_devices: BTreeMap<String, usize> = BTreeMap::new();
    for e in v.events.iter().filter(signin) {
        if let Some(c) = &e.country {
            *now_countries.entry(c.clone()).or_default() += 1;
        }
        if let Some(n) = &e.network {
            *now_networks.entry(n.clone()).or_default() += 1;
        }
        if let Some(d) = &e.device {
            *now_devices.entry(d.clone()).or_default() += 1;
        }
    }
    s.push_str(r#"<table><tr><th></th><th>usual</th><th>in the incident</th></tr>"#);
    let row =
        |s: &mut String, label: &str, usual: &[(String, u64)], now: &BTreeMap<String, usize>| {
            let usual_text = if usual.is_empty() {
                r#"<span class="muted">none seen</span>"#.to_owned()
            } else {
                usual
                    .iter()
                    .take(5)
                    .map(|(k, n)| format!("{} <span class=\"muted\">({n})</span>", escape(k)))
                    .collect::<Vec<_>>()
                    .join("<br>")
            };
            let now_text = now
                .keys()
                .map(|k| {
                    let new = !usual.iter().any(|(u, _)| u == k);
                    format!(
                        "{}{}",
                        escape(k),
                        if new {
                            r#"<span class="tag">new</span>"#
                        } else {
                            ""
                        }
                    )
                })
                .collect::<Vec<_>>()
                .join("<br>");
            let _ = write!(
                s,
                "<tr><th>{label}</th><td>{usual_text}</td><td>{now_text}</td></tr>"
            );
        };
    row(s, "countries", &b.countries, &now_countries);
    row(s, "networks", &b.networks, &now_networks);
    row(s, "devices", &b.devices, &now_devices);
    s.push_str("</table>");
    let (targets, bytes) = v.peaks;
    if let (Some(p95), Some(peak)) = (b.p95_targets_per_hour, targets) {
        let _ = write!(
            s,
            "<h3>Customers (or objects) touched in an hour</h3><div class=\"muted\">usual: 95th percentile of {} active hours; now: {} to {} UTC</div>{}",
            b.admin_hours,
            clock(peak.hour_ms),
            clock(peak.hour_ms + 3_600_000),
            svg::usual_vs_now(p95, peak.value, &|n| format!("{n} touched"))
        );
    } else if let Some(peak) = targets {
        let _ = write!(
            s,
            "<h3>Customers (or objects) touched in an hour</h3><div class=\"muted\">no admin activity in the {} days before: all of it is new</div>{}",
            b.days,
            svg::usual_vs_now(0, peak.value, &|n| format!("{n} touched"))
        );
    }
    if let Some(peak) = bytes {
        let _ = write!(
            s,
            "<h3>Bytes exported in an hour</h3><div class=\"muted\">usual: 95th percentile of active hours; now: {} to {} UTC</div>{}",
            clock(peak.hour_ms),
            clock(peak.hour_ms + 3_600_000),
            svg::usual_vs_now(b.p95_bytes_per_hour.unwrap_or(0), peak.value, &human_bytes)
        );
    }
}

fn events_table(s: &mut String, events: &[Event], open_rows: usize) {
    if events.is_empty() {
        s.push_str(r#"<p class="muted">No rows of this user in this span.</p>"#);
        return;
    }
    let head = r#"<table><tr><th>time (UTC)</th><th>what</th><th>from</th><th>where</th><th>device / network</th><th class="num">bytes</th><th>source file:line</th></tr>"#;
    s.push_str(head);
    for (k, e) in events.iter().enumerate() {
        if k == open_rows {
            let _ = write!(
                s,
                "</table><details><summary>{} more events</summary>{head}",
                events.len() - open_rows
            );
        }
        let what = match &e.target {
            Some(t) => format!(
                "{} <span class=\"muted\">{}</span>",
                escape(&e.what),
                escape(t)
            ),
            None => escape(&e.what),
        };
        let outcome = if e.outcome == "failure" {
            r#" <span class="tag" style="background:#f0a000">failure</span>"#
        } else {
            ""
        };
        let ip = e.src_ip.as_deref().map(escape).unwrap_or_default();
        let new = if e.new_address {
            r#"<span class="tag">new</span>"#
        } else {
            ""
        };
        // The device as parsed; the raw user agent on hover, or shown when nothing
        // could be parsed from it.
        let device = match (&e.device, &e.user_agent) {
            (Some(d), Some(ua)) => format!(r#"<span title="{}">{}</span>"#, escape(ua), escape(d)),
            (Some(d), None) => escape(d),
            (None, Some(ua)) => format!(
                r#"<span class="muted" title="{}">{}</span>"#,
                escape(ua),
                escape(&ua.chars().take(60).collect::<String>())
            ),
            (None, None) => String::new(),
        };
        let dev = [Some(device), e.network.as_deref().map(escape)]
            .into_iter()
            .flatten()
            .filter(|x| !x.is_empty())
            .collect::<Vec<_>>()
            .join("<br>");
        let bytes = e
            .bytes
            .filter(|b| *b > 0)
            .map(|b| human_bytes(u64::try_from(b).unwrap_or_default()))
            .unwrap_or_default();
        let _ = write!(
            s,
            r#"<tr{cls}><td class="t">{t}</td><td>{what}{outcome}</td><td>{ip}{new}</td><td>{place}</td><td>{dev}</td><td class="num">{bytes}</td><td class="src" title="{file}:{line}">{name}:{line}</td></tr>"#,
            cls = if e.new_address { r#" class="new""# } else { "" },
            t = short_time(e.time_ms),
            place = e.place().as_deref().map(escape).unwrap_or_default(),
            file = escape(&e.file),
            name = escape(file_name(&e.file)),
            line = e.line,
        );
    }
    s.push_str("</table>");
    if events.len() > open_rows {
        s.push_str("</details>");
    }
}

/// The last part of a path (the whole path is in the cell's title).
fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn technique(d: &DetectionInfo) -> String {
    match technique_name(&d.attack) {
        Some(name) => format!("{} {}", escape(&d.attack), escape(name)),
        None => escape(&d.attack),
    }
}

fn alert_block(
    s: &mut String,
    a: &Alert,
    number: Option<usize>,
    r: &Report,
    info: &BTreeMap<&str, &DetectionInfo>,
) {
    let d = info.get(a.detection.as_str()).copied();
    let stage = d.map_or("", |d| d.stage.as_str());
    let colour = svg::stage_colour(stage);
    let change = r
        .options
        .changes
        .get(&a.alert_id)
        .map(|c| {
            format!(
                r#" <span class="tag" style="background:#555">{}</span>"#,
                escape(c)
            )
        })
        .unwrap_or_default();
    let _ = write!(
        s,
        r#"<div class="alert" style="border-left-color:{colour}"><div>{num}<span class="sev {sev}">{sev}</span> <b>{det}</b>{change} <span class="muted">{from} → {to} UTC</span></div><div class="wrap" style="margin:4px 0">{summary}</div>"#,
        num = number
            .map(|n| format!(r#"<span class="num" style="background:{colour}">{n}</span>"#))
            .unwrap_or_default(),
        sev = escape(&a.severity),
        det = escape(&a.detection),
        from = short_time(a.first_seen_ms),
        to = short_time(a.last_seen_ms),
        summary = escape(&a.summary),
    );
    s.push_str(r#"<div class="kv">"#);
    if let Some(d) = d {
        let _ = write!(
            s,
            "<div>detection</div><div>{}</div><div>stage</div><div>{}</div><div>technique</div><div>{}{}</div>",
            escape(&d.title),
            escape(&stage_words(&d.stage)),
            technique(d),
            d.tactic
                .as_ref()
                .map(|t| format!(" <span class=\"muted\">({})</span>", escape(t)))
                .unwrap_or_default()
        );
        if let Some(rb) = &d.runbook {
            let _ = write!(
                s,
                "<div>runbook</div><div class=\"wrap\">{}</div>",
                escape(rb)
            );
        }
        if let Some(fp) = &d.false_positives {
            let _ = write!(
                s,
                "<div>known false positives</div><div class=\"wrap\">{}</div>",
                escape(fp)
            );
        }
    }
    let _ = write!(
        s,
        "<div>alert id</div><div><code>{}</code></div></div>",
        escape(&a.alert_id)
    );
    if !a.evidence.is_empty() {
        s.push_str("<details><summary>evidence</summary><div class=\"kv\">");
        for (k, v) in &a.evidence {
            let v = match v {
                serde_json::Value::String(t) => t.clone(),
                other => other.to_string(),
            };
            let _ = write!(
                s,
                "<div>{}</div><div class=\"wrap\">{}</div>",
                escape(k),
                escape(&v)
            );
        }
        s.push_str("</div></details>");
    }
    if let Some(AlertEvents { events, total }) = r.alert_events.get(&a.alert_id) {
        let _ = write!(
            s,
            "<details><summary>{} of the user's events in the alert's span{}</summary>",
            count(*total),
            if *total > events.len() as u64 {
                format!(" (the first and last {})", events.len() / 2)
            } else {
                String::new()
            }
        );
        events_table(s, events, usize::MAX);
        s.push_str("</details>");
    }
    s.push_str("</div>");
}

fn overview(s: &mut String, r: &Report, info: &BTreeMap<&str, &DetectionInfo>) {
    s.push_str("<section id=\"overview\"><h2>Overview</h2>");
    // Alerts per detection per day.
    let _ = write!(
        s,
        "<h3>Alerts per detection per day</h3>{}",
        if r.alerts.is_empty() {
            "<p class=\"muted\">No alerts.</p>".to_owned()
        } else {
            format!(
                "<div class=\"card\" style=\"overflow-x:auto\">{}</div>",
                svg::per_day(&r.alerts)
            )
        }
    );

    // Every alert, by detection.
    let mut by_detection: BTreeMap<&str, Vec<&Alert>> = BTreeMap::new();
    for a in &r.alerts {
        by_detection
            .entry(a.detection.as_str())
            .or_default()
            .push(a);
    }
    let _ = write!(
        s,
        "<h3>All {} alerts, by detection</h3>",
        count(r.alerts.len())
    );
    let incident_of: BTreeMap<&str, &str> = r
        .incidents
        .iter()
        .flat_map(|v| {
            v.alerts
                .iter()
                .map(|a| (a.alert_id.as_str(), v.incident.incident_id.as_str()))
        })
        .collect();
    let mut listed = 0usize;
    let mut detailed = 0usize;
    for (det, alerts) in &by_detection {
        let d = info.get(det).copied();
        let _ = write!(
            s,
            "<details{open}><summary><b>{det}</b> · {n} alert{pl}{title}</summary>",
            open = if alerts.len() <= 12 { " open" } else { "" },
            det = escape(det),
            n = count(alerts.len()),
            pl = if alerts.len() == 1 { "" } else { "s" },
            title = d
                .map(|d| format!(" · {} · {}", escape(&d.title), technique(d)))
                .unwrap_or_default()
        );
        let mut rows = String::new();
        let mut not_listed = 0usize;
        for a in alerts {
            if listed >= r.options.max_listed_alerts {
                not_listed += 1;
                continue;
            }
            listed += 1;
            let incident = incident_of.get(a.alert_id.as_str());
            if incident.is_none()
                && r.alert_events.contains_key(&a.alert_id)
                && detailed < r.options.max_detailed_alerts
            {
                detailed += 1;
                alert_block(s, a, None, r, info);
            } else {
                let _ = write!(
                    rows,
                    r#"<tr><td><span class="sev {sev}">{sev}</span></td><td class="t">{t}</td><td>{u}</td><td class="wrap">{sum}{link}</td></tr>"#,
                    sev = escape(&a.severity),
                    t = short_time(a.first_seen_ms),
                    u = escape(&a.user),
                    sum = escape(&a.summary),
                    link = incident
                        .map(|id| {
                            let id = escape(svg::short_id(id));
                            format!(r##" <a href="#incident-{id}">(incident {id})</a>"##)
                        })
                        .unwrap_or_default()
                );
            }
        }
        if !rows.is_empty() {
            let _ = write!(
                s,
                "<table><tr><th>severity</th><th>from (UTC)</th><th>user</th><th>summary</th></tr>{rows}</table>"
            );
        }
        if not_listed > 0 {
            let _ = write!(
                s,
                "<p class=\"muted\">{not_listed} more not listed here, to keep this file small: <code>midgame detect --format csv</code> has every one.</p>"
            );
        }
        s.push_str("</details>");
    }

    // Suppressed.
    s.push_str("<h3>Silenced by the allow-list</h3>");
    if r.suppressed.is_empty() {
        let _ = write!(
            s,
            "<p class=\"muted\">Nothing{}.</p>",
            if r.allowlist.is_empty() {
                " (no allow-list configured)"
            } else {
                ""
            }
        );
    } else {
        s.push_str("<table><tr><th>detection</th><th>user</th><th>from (UTC)</th><th>would have said</th><th>because</th></tr>");
        for x in &r.suppressed {
            let _ = write!(
                s,
                r#"<tr><td>{}</td><td>{}</td><td>{}</td><td class="wrap">{}</td><td class="wrap">{}</td></tr>"#,
                escape(&x.alert.detection),
                escape(&x.alert.user),
                short_time(x.alert.first_seen_ms),
                escape(&x.alert.summary),
                escape(&x.reasons.join("; "))
            );
        }
        s.push_str("</table>");
    }

    // Coverage.
    let c = &r.coverage;
    let _ = write!(
        s,
        "<h3>What the lake holds</h3><p>{} files ingested; <b>{} records quarantined</b>{}; {} records read but needed by no table.</p>",
        count(c.files),
        count(c.quarantined),
        if c.quarantined > 0 {
            " (in <code>_quarantine/</code> with file, line and reason)"
        } else {
            ""
        },
        count(c.skipped),
    );
    s.push_str("<table><tr><th>table</th><th>source</th><th class=\"num\">rows</th><th class=\"num\">days</th><th>first day</th><th>last day</th></tr>");
    for x in &c.sources {
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td><td>{}</td></tr>"#,
            escape(&x.table),
            escape(&x.source),
            count(x.rows),
            x.days,
            escape(&x.first_day),
            escape(&x.last_day)
        );
    }
    s.push_str("</table>");

    // Parameters.
    let _ = write!(
        s,
        "<h3>How this run was set</h3><p>Incidents: a user's alerts within {} h of each other covering at least {} stages. Allow-list: {}.</p>",
        r.incident_rules.0,
        r.incident_rules.1,
        if r.allowlist.is_empty() {
            "none".to_owned()
        } else {
            escape(&r.allowlist.join("; "))
        }
    );
    s.push_str(
        "<table><tr><th>detection</th><th>stage</th><th>technique</th><th>parameters</th></tr>",
    );
    for d in &r.detections {
        let params = d
            .params
            .iter()
            .map(|(k, v)| format!("{} = {}", escape(k), escape(v)))
            .collect::<Vec<_>>()
            .join("<br>");
        let _ = write!(
            s,
            r#"<tr><td><b>{}</b><br><span class="muted">{}</span></td><td>{}</td><td>{}</td><td><code>{params}</code></td></tr>"#,
            escape(&d.id),
            escape(&d.title),
            escape(&stage_words(&d.stage)),
            technique(d)
        );
    }
    s.push_str("</table></section>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_leaves_no_markup() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(escape("a\u{0}b"), "a\\u{0000}b");
    }

    #[test]
    fn bytes_and_durations_read_as_people_say_them() {
        assert_eq!(human_bytes(900), "900 B");
        assert_eq!(human_bytes(510_000_000), "510 MB");
        assert_eq!(human_bytes(1_595_000_000), "1.6 GB");
        assert_eq!(duration(151 * 60_000), "2 h 31 min");
        assert_eq!(duration(47 * 60_000), "47 min");
        assert_eq!(thousands(-1234), "-1,234");
    }
}
