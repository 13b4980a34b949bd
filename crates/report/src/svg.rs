//! The pictures: a travel map, an incident's timeline, alerts per detection per day, and
//! a usual-against-now bar pair. Plain inline SVG; every text from a log goes through
//! [`escape`].

use std::collections::BTreeMap;
use std::fmt::Write;

use midgame_detect::Alert;

use crate::html::{clock, escape, human_bytes, short_time, thousands};
use crate::{Event, IncidentView, Lane};

/// Natural Earth's land (public domain), as one path in the 720 x 360 box of [`project`].
const WORLD: &str = include_str!("../assets/world-110m.path");

/// Equirectangular: longitude -180..180 to x 0..720, latitude 90..-90 to y 0..360.
fn project(lat: f64, lon: f64) -> (f64, f64) {
    (
        (lon.clamp(-180.0, 180.0) + 180.0) * 2.0,
        (90.0 - lat.clamp(-90.0, 90.0)) * 2.0,
    )
}

/// The colour of a stage.
pub(crate) fn stage_colour(stage: &str) -> &'static str {
    match stage {
        "initial-access" => "#d9730d",
        "admin-access" => "#7b3fa0",
        "staging" => "#c0392b",
        _ => "#555555",
    }
}

const NEW: &str = "#c0392b";
const USUAL: &str = "#2e6da4";

/// The box the map shows: every point with a margin, two wide for one high, inside
/// the world.
fn view_box(points: &[(f64, f64)]) -> (f64, f64, f64, f64) {
    if points.is_empty() {
        return (0.0, 20.0, 720.0, 300.0);
    }
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for &(x, y) in points {
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    // Room around the points, more on the right where the place names go.
    let margin = 24.0;
    x1 += 0.2 * (x1 - x0) + 40.0;
    let mut w = (x1 - x0 + 2.0 * margin).max(140.0);
    let mut h = (y1 - y0 + 2.0 * margin).max(70.0);
    if w < 2.0 * h {
        w = 2.0 * h;
    } else {
        h = w / 2.0;
    }
    w = w.min(720.0);
    h = h.min(360.0);
    let cx = f64::midpoint(x0, x1);
    let cy = f64::midpoint(y0, y1);
    let x = (cx - w / 2.0).clamp(0.0, 720.0 - w);
    let y = (cy - h / 2.0).clamp(0.0, 360.0 - h);
    (x, y, w, h)
}

struct NewPlace {
    name: String,
    lat: f64,
    lon: f64,
    ips: Vec<String>,
    events: usize,
}

/// The places of sign-ins from addresses new to the user, grouped by place.
fn new_places(events: &[Event]) -> Vec<NewPlace> {
    let mut by: BTreeMap<String, NewPlace> = BTreeMap::new();
    for e in events.iter().filter(|e| e.new_address) {
        let (Some(lat), Some(lon)) = (e.lat, e.lon) else {
            continue;
        };
        let name = e.place().unwrap_or_else(|| format!("{lat:.1}, {lon:.1}"));
        let p = by.entry(name.clone()).or_insert(NewPlace {
            name,
            lat,
            lon,
            ips: Vec::new(),
            events: 0,
        });
        p.events += 1;
        if let Some(ip) = &e.src_ip
            && !p.ips.contains(ip)
        {
            p.ips.push(ip.clone());
        }
    }
    by.into_values().collect()
}

/// The user's usual places (blue, by how often), the places of new addresses in the
/// incident (red, named) and each impossible hop (an arrow with its distance and speed).
pub(crate) fn map(v: &IncidentView) -> String {
    let fresh = new_places(&v.events);
    let mut points: Vec<(f64, f64)> = Vec::new();
    points.extend(v.baseline.places.iter().map(|p| project(p.lat, p.lon)));
    points.extend(fresh.iter().map(|p| project(p.lat, p.lon)));
    for h in &v.hops {
        points.push(project(h.from.lat, h.from.lon));
        points.push(project(h.to.lat, h.to.lon));
    }
    let (x, y, w, h) = view_box(&points);
    let font = w / 48.0;
    let unit = w / 720.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg class="map" viewBox="{x:.1} {y:.1} {w:.1} {h:.1}" role="img" aria-label="Map of {user}'s sign-ins" xmlns="http://www.w3.org/2000/svg">"##,
        user = escape(&v.incident.user)
    );
    let _ = write!(
        s,
        r##"<defs><marker id="arrow-{id}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="{NEW}"/></marker></defs>"##,
        id = escape(short_id(&v.incident.incident_id)),
    );
    let _ = write!(
        s,
        r##"<rect x="0" y="0" width="720" height="360" fill="#dbe8f3"/><path d="{}" fill="#f4f1ea" stroke="#b9b3a5" stroke-width="0.6" vector-effect="non-scaling-stroke"/>"##,
        WORLD.trim()
    );
    for lon in (-150..=150).step_by(30) {
        let (gx, _) = project(0.0, f64::from(lon));
        let _ = write!(
            s,
            r##"<line x1="{gx}" y1="0" x2="{gx}" y2="360" stroke="#ffffff" stroke-width="0.5" vector-effect="non-scaling-stroke"/>"##
        );
    }
    for lat in (-60..=60).step_by(30) {
        let (_, gy) = project(f64::from(lat), 0.0);
        let _ = write!(
            s,
            r##"<line x1="0" y1="{gy}" x2="720" y2="{gy}" stroke="#ffffff" stroke-width="0.5" vector-effect="non-scaling-stroke"/>"##
        );
    }
    let most = v
        .baseline
        .places
        .iter()
        .map(|p| p.count)
        .max()
        .unwrap_or(1)
        .max(1);
    for p in &v.baseline.places {
        let (px, py) = project(p.lat, p.lon);
        #[allow(clippy::cast_precision_loss)]
        let r = unit * (2.5 + 5.0 * (p.count as f64 / most as f64).sqrt());
        let _ = write!(
            s,
            r##"<circle cx="{px:.2}" cy="{py:.2}" r="{r:.2}" fill="{USUAL}" fill-opacity="0.55" stroke="{USUAL}" vector-effect="non-scaling-stroke"><title>{} (usual: {} sign-ins in the {} days before)</title></circle>"##,
            escape(&p.name()),
            p.count,
            v.baseline.days
        );
    }
    for hop in &v.hops {
        let (ax, ay) = project(hop.from.lat, hop.from.lon);
        let (bx, by) = project(hop.to.lat, hop.to.lon);
        let label = hop_words(hop);
        let short = format!("{} km in {} min", thousands(hop.distance_km), hop.minutes);
        let _ = write!(
            s,
            r##"<g class="hop"><line x1="{ax:.2}" y1="{ay:.2}" x2="{bx:.2}" y2="{by:.2}" stroke="{NEW}" stroke-width="2.2" stroke-dasharray="6 3" vector-effect="non-scaling-stroke" marker-end="url(#arrow-{id})"><title>{t}</title></line><text x="{mx:.2}" y="{my:.2}" font-size="{font:.2}" text-anchor="middle" class="halo">{short}</text></g>"##,
            id = escape(short_id(&v.incident.incident_id)),
            t = escape(&label),
            short = escape(&short),
            mx = f64::midpoint(ax, bx),
            my = f64::midpoint(ay, by) - font * 0.8,
        );
    }
    for p in &fresh {
        let (px, py) = project(p.lat, p.lon);
        let r = unit * 6.0;
        let _ = write!(
            s,
            r##"<circle cx="{px:.2}" cy="{py:.2}" r="{r:.2}" fill="{NEW}" stroke="#ffffff" stroke-width="1.5" vector-effect="non-scaling-stroke"><title>{name}: new address {ips} ({n} events in the incident)</title></circle><text x="{tx:.2}" y="{ty:.2}" font-size="{font:.2}" class="halo new">{name}</text>"##,
            name = escape(&p.name),
            ips = escape(&p.ips.join(", ")),
            n = p.events,
            tx = px + r * 1.6,
            ty = py + font * 0.35,
        );
    }
    s.push_str("</svg>");
    s
}

/// `New York US → Amsterdam NL: 5,859 km in 47 min (7,477 km/h)`.
pub(crate) fn hop_words(hop: &crate::Hop) -> String {
    format!(
        "{} → {}: {} km in {} min ({} km/h)",
        hop.from.name(),
        hop.to.name(),
        thousands(hop.distance_km),
        hop.minutes,
        thousands(hop.speed_kmh)
    )
}

pub(crate) fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// A tick step (ms) that puts at most `max` ticks on `span`.
fn tick_step(span: i64, max: i64) -> i64 {
    const STEPS: [i64; 14] = [
        60_000,
        300_000,
        600_000,
        900_000,
        1_800_000,
        3_600_000,
        7_200_000,
        10_800_000,
        21_600_000,
        43_200_000,
        86_400_000,
        172_800_000,
        604_800_000,
        2_592_000_000,
    ];
    STEPS
        .iter()
        .copied()
        .find(|s| span / s <= max)
        .unwrap_or(STEPS[STEPS.len() - 1])
}

fn lane_title(e: &Event) -> String {
    let mut t = format!("{}  {}", short_time(e.time_ms), e.what);
    if !e.outcome.is_empty() && e.outcome != "success" {
        let _ = write!(t, " ({})", e.outcome);
    }
    if let Some(x) = &e.target {
        let _ = write!(t, " {x}");
    }
    if let Some(b) = e.bytes.filter(|b| *b > 0) {
        let _ = write!(t, ", {}", human_bytes(u64::try_from(b).unwrap_or_default()));
    }
    if let Some(ip) = &e.src_ip {
        let _ = write!(t, " from {ip}");
        if e.new_address {
            t.push_str(" (new address)");
        }
    }
    if let Some(p) = e.place() {
        let _ = write!(t, " {p}");
    }
    if let Some(n) = &e.network {
        let _ = write!(t, " {n}");
    }
    if let Some(d) = &e.device {
        let _ = write!(t, ", {d}");
    }
    if let Some(ua) = &e.user_agent {
        let _ = write!(t, " ({ua})");
    }
    let _ = write!(t, "  [{}:{}]", e.file, e.line);
    t
}

/// The incident on a time axis: one row per kind of evidence, a dot per event (red from
/// addresses new to the user, exports sized by their bytes), the alerts as numbered
/// marks over the span they cover, coloured by stage.
pub(crate) fn timeline(
    v: &IncidentView,
    number: &BTreeMap<&str, usize>,
    stage_of: &BTreeMap<String, String>,
) -> String {
    const W: f64 = 1100.0;
    const LEFT: f64 = 112.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 48.0;
    const LANE: f64 = 30.0;
    let lanes: Vec<Lane> = Lane::ALL
        .into_iter()
        .filter(|l| v.events.iter().any(|e| e.lane == *l))
        .collect();
    let lanes = if lanes.is_empty() {
        vec![Lane::SignIn]
    } else {
        lanes
    };
    #[allow(clippy::cast_precision_loss)]
    let height = TOP + LANE * lanes.len() as f64 + 26.0;
    let (t0, t1) = v.window;
    let span = (t1 - t0).max(1);
    #[allow(clippy::cast_precision_loss)]
    let xt = |t: i64| LEFT + ((t - t0) as f64 / span as f64).clamp(0.0, 1.0) * (W - LEFT - RIGHT);
    let lane_y = |l: Lane| {
        #[allow(clippy::cast_precision_loss)]
        let i = lanes.iter().position(|x| *x == l).unwrap_or(0) as f64;
        TOP + LANE * i + LANE / 2.0
    };
    let bottom = TOP + LANE * f64::from(u32::try_from(lanes.len()).unwrap_or(1));
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg class="timeline" viewBox="0 0 {W} {height}" role="img" aria-label="Timeline of the incident" xmlns="http://www.w3.org/2000/svg">"##
    );
    for (i, l) in lanes.iter().enumerate() {
        let y = lane_y(*l);
        if i % 2 == 0 {
            let _ = write!(
                s,
                r##"<rect x="{LEFT}" y="{:.1}" width="{:.1}" height="{LANE}" fill="#f6f6f4"/>"##,
                y - LANE / 2.0,
                W - LEFT - RIGHT
            );
        }
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" class="lane">{}</text>"##,
            LEFT - 8.0,
            y + 4.0,
            l.label()
        );
    }
    // The axis.
    let step = tick_step(span, 10);
    let mut t = t0 - t0.rem_euclid(step) + step;
    let mut last_day = String::new();
    while t < t1 {
        let x = xt(t);
        let day = crate::html::day(t);
        let label = if day == last_day {
            clock(t)
        } else {
            format!("{} {}", crate::html::short_day(t), clock(t))
        };
        last_day = day;
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{bottom:.1}" stroke="#dddddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" class="tick">{label}</text>"##,
            bottom + 16.0
        );
        t += step;
    }
    // The alerts: a band over their span, a line at their start, a numbered mark.
    let mut rows: [f64; 3] = [f64::MIN; 3];
    for a in &v.alerts {
        let n = number.get(a.alert_id.as_str()).copied().unwrap_or(0);
        let colour = stage_colour(stage_of.get(&a.detection).map_or("", String::as_str));
        let (xa, xb) = (xt(a.first_seen_ms), xt(a.last_seen_ms));
        let _ = write!(
            s,
            r##"<rect x="{xa:.1}" y="{TOP}" width="{:.1}" height="{:.1}" fill="{colour}" fill-opacity="0.10"/><line x1="{xa:.1}" y1="{:.1}" x2="{xa:.1}" y2="{bottom:.1}" stroke="{colour}" stroke-width="1.5"/>"##,
            (xb - xa).max(1.5),
            bottom - TOP,
            TOP - 6.0,
        );
        let row = rows.iter().position(|r| xa - r >= 20.0).unwrap_or(0);
        rows[row] = xa;
        #[allow(clippy::cast_precision_loss)]
        let cy = 10.0 + 13.0 * row as f64;
        let _ = write!(
            s,
            r##"<g class="mark"><circle cx="{xa:.1}" cy="{cy:.1}" r="8" fill="{colour}"/><text x="{xa:.1}" y="{:.1}" text-anchor="middle" fill="#ffffff" font-size="10" font-weight="bold">{n}</text><title>{n}. {} {}: {}</title></g>"##,
            cy + 3.5,
            escape(&a.detection),
            short_time(a.first_seen_ms),
            escape(&a.summary)
        );
    }
    let biggest = v
        .events
        .iter()
        .filter_map(|e| e.bytes)
        .max()
        .unwrap_or(1)
        .max(1);
    for e in &v.events {
        let x = xt(e.time_ms);
        let y = lane_y(e.lane);
        #[allow(clippy::cast_precision_loss)]
        let r = match (e.lane, e.bytes) {
            (Lane::Export | Lane::Admin, Some(b)) if b > 0 => {
                3.0 + 9.0 * (b as f64 / biggest as f64).sqrt()
            }
            _ => 3.2,
        };
        let fill = if e.new_address { NEW } else { USUAL };
        let stroke = if e.outcome == "failure" {
            r##" stroke="#f0a000" stroke-width="1.6""##
        } else {
            ""
        };
        let _ = write!(
            s,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="{r:.1}" fill="{fill}" fill-opacity="0.6"{stroke}><title>{}</title></circle>"##,
            escape(&lane_title(e))
        );
    }
    s.push_str("</svg>");
    s
}

/// Alerts per detection per day: a grid, darker for more, with each row's total.
pub(crate) fn per_day(alerts: &[Alert]) -> String {
    const DAY: i64 = 86_400_000;
    const MAX_DAYS: i64 = 92;
    let mut counts: BTreeMap<(&str, i64), u64> = BTreeMap::new();
    let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
    for a in alerts {
        let d = a.first_seen_ms.div_euclid(DAY);
        *counts.entry((a.detection.as_str(), d)).or_default() += 1;
        *totals.entry(a.detection.as_str()).or_default() += 1;
    }
    let Some(last) = counts.keys().map(|k| k.1).max() else {
        return String::new();
    };
    let first = counts
        .keys()
        .map(|k| k.1)
        .min()
        .unwrap_or(last)
        .max(last - MAX_DAYS + 1);
    let days = last - first + 1;
    let most = counts.values().copied().max().unwrap_or(1).max(1);
    let cell: f64 = if days <= 31 { 18.0 } else { 12.0 };
    const LEFT: f64 = 170.0;
    #[allow(clippy::cast_precision_loss)]
    let (w, h) = (
        LEFT + cell * days as f64 + 60.0,
        22.0 + cell * totals.len() as f64 + 20.0,
    );
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg class="perday" viewBox="0 0 {w:.0} {h:.0}" width="{w:.0}" height="{h:.0}" role="img" aria-label="Alerts per detection per day" xmlns="http://www.w3.org/2000/svg">"##
    );
    for (row, (det, total)) in totals.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let y = 22.0 + cell * row as f64;
        let _ = write!(
            s,
            r##"<text x="{:.0}" y="{:.1}" text-anchor="end" class="lane">{}</text>"##,
            LEFT - 6.0,
            y + cell * 0.75,
            escape(det)
        );
        for d in first..=last {
            let n = counts.get(&(*det, d)).copied().unwrap_or(0);
            #[allow(clippy::cast_precision_loss)]
            let x = LEFT + cell * (d - first) as f64;
            #[allow(clippy::cast_precision_loss)]
            let shade = if n == 0 {
                "#f0f0ee".to_owned()
            } else {
                format!(
                    "rgba(192,57,43,{:.2})",
                    0.25 + 0.75 * (n as f64 / most as f64)
                )
            };
            let _ = write!(
                s,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{shade}"><title>{} {}: {n} alerts</title></rect>"##,
                cell - 1.5,
                cell - 1.5,
                crate::html::day(d * DAY),
                escape(det)
            );
        }
        #[allow(clippy::cast_precision_loss)]
        let tx = LEFT + cell * days as f64 + 6.0;
        let _ = write!(
            s,
            r##"<text x="{tx:.1}" y="{:.1}" class="tick">{}</text>"##,
            y + cell * 0.75,
            crate::html::count(*total)
        );
    }
    #[allow(clippy::cast_precision_loss)]
    let end = LEFT + cell * days as f64;
    let _ = write!(
        s,
        r##"<text x="{LEFT}" y="12" class="tick">{}</text>"##,
        crate::html::day(first * DAY)
    );
    if days > 1 {
        let _ = write!(
            s,
            r##"<text x="{end:.1}" y="12" text-anchor="end" class="tick">{}</text>"##,
            crate::html::day(last * DAY)
        );
    }
    s.push_str("</svg>");
    s
}

/// Two bars: the user's usual value and the incident's, to scale.
pub(crate) fn usual_vs_now(usual: u64, now: u64, show: &dyn Fn(u64) -> String) -> String {
    const W: f64 = 200.0;
    let most = usual.max(now).max(1);
    #[allow(clippy::cast_precision_loss)]
    let len = |v: u64| (v as f64 / most as f64 * W).max(1.5);
    format!(
        r##"<svg class="bars" viewBox="0 0 360 34" width="360" height="34" role="img" xmlns="http://www.w3.org/2000/svg"><rect x="0" y="2" width="{:.1}" height="12" fill="{USUAL}"/><text x="{:.1}" y="12" class="tick">usual {}</text><rect x="0" y="19" width="{:.1}" height="12" fill="{NEW}"/><text x="{:.1}" y="29" class="tick">now {}</text></svg>"##,
        len(usual),
        len(usual) + 5.0,
        escape(&show(usual)),
        len(now),
        len(now) + 5.0,
        escape(&show(now))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_projection_puts_the_world_in_its_box() {
        assert_eq!(project(90.0, -180.0), (0.0, 0.0));
        assert_eq!(project(-90.0, 180.0), (720.0, 360.0));
        let (x, y) = project(52.37, 4.89); // Amsterdam
        assert!((x - 369.78).abs() < 0.01 && (y - 75.26).abs() < 0.01);
    }

    #[test]
    fn the_view_box_keeps_every_point_and_its_shape() {
        let pts = [project(40.7, -74.0), project(52.4, 4.9)];
        let (x, y, w, h) = view_box(&pts);
        assert!((w - 2.0 * h).abs() < 1e-9);
        for (px, py) in pts {
            assert!(
                px > x && px < x + w && py > y && py < y + h,
                "{px},{py} outside"
            );
        }
        assert_eq!(view_box(&[]), (0.0, 20.0, 720.0, 300.0));
    }

    #[test]
    fn ticks_are_few() {
        assert_eq!(tick_step(4 * 3_600_000, 10), 1_800_000);
        assert_eq!(tick_step(90 * 60_000, 10), 600_000);
    }
}
