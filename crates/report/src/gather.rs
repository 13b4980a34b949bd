//! The report's context, asked of the lake: each incident's events, the user's baseline,
//! what was touched from new addresses, the impossible hops' places, each alert's own
//! rows, and what the lake covers. Every value from a finding reaches SQL as a bound
//! parameter, never as SQL text.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{AsArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use datafusion::common::ParamValues;
use datafusion::datasource::MemTable;
use datafusion::scalar::ScalarValue;
use midgame_detect::{Alert, Detection, Findings, ParamValue, RunOptions, SessionContext};

use crate::{
    AlertEvents, Baseline, Coverage, DetectionInfo, Event, Hop, IncidentView, Lane, Options, Peak,
    Place, Report, ReportError, SourceCoverage, Touched,
};

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
/// Events shown of each alert: the first and the last few of its span.
const ALERT_EVENTS_EACH_END: i64 = 4;
const VPN_SOURCES: [&str; 3] = ["cisco-asa", "openvpn", "globalprotect"];
/// Name of the scratch table of alert spans in the caller's session.
const SPANS: &str = "midgame_report_alert_spans";

/// The columns of an `auth` row the report shows (as [`Event`] reads them).
const AUTH_EVENT: &str = "time_ms, source, activity AS what, outcome, src_ip, geo_city, geo_country, \
     geo_lat, geo_lon, asn, as_org, \
     CASE WHEN os IS NULL AND browser IS NULL THEN NULL \
          ELSE concat(coalesce(os, '?'), ' / ', coalesce(browser, '?')) END AS device, \
     coalesce(app, mfa_factor) AS target, bytes_in AS bytes, user_agent, file, line";
/// The columns of an `admin` row the report shows.
const ADMIN_EVENT: &str = "time_ms, source, action AS what, activity_id, outcome, src_ip, geo_country, asn, \
     coalesce(customer_id, target_id) AS target, records, bytes, user_agent, file, line";

type Params = Vec<(&'static str, ScalarValue)>;

fn text(v: &str) -> ScalarValue {
    ScalarValue::Utf8(Some(v.to_owned()))
}

fn int(v: i64) -> ScalarValue {
    ScalarValue::Int64(Some(v))
}

async fn query(
    ctx: &SessionContext,
    sql: &str,
    params: Params,
) -> Result<Vec<RecordBatch>, ReportError> {
    let df = ctx.sql(sql).await?;
    let df = if params.is_empty() {
        df
    } else {
        df.with_param_values(ParamValues::from(params))?
    };
    Ok(df.collect().await?)
}

/// A column read as text, whatever its string type (all null when absent).
fn strings(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    match b.column_by_name(name) {
        Some(c) => match arrow::compute::cast(c, &DataType::Utf8) {
            Ok(a) => a
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(str::to_owned))
                .collect(),
            Err(_) => vec![None; b.num_rows()],
        },
        None => vec![None; b.num_rows()],
    }
}

fn ints(b: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    match b
        .column_by_name(name)
        .and_then(|c| arrow::compute::cast(c, &DataType::Int64).ok())
    {
        Some(a) => a.as_primitive::<Int64Type>().iter().collect(),
        None => vec![None; b.num_rows()],
    }
}

fn floats(b: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    match b
        .column_by_name(name)
        .and_then(|c| arrow::compute::cast(c, &DataType::Float64).ok())
    {
        Some(a) => a.as_primitive::<Float64Type>().iter().collect(),
        None => vec![None; b.num_rows()],
    }
}

fn unsigned(v: Option<i64>) -> u64 {
    v.and_then(|v| u64::try_from(v).ok()).unwrap_or(0)
}

/// Rows of `auth` (`admin = false`) or `admin` as events, in the order returned.
fn events_of(batches: &[RecordBatch], admin: bool) -> Vec<Event> {
    let mut out = Vec::new();
    for b in batches {
        let (time, line) = (ints(b, "time_ms"), ints(b, "line"));
        let (what, outcome, source) = (
            strings(b, "what"),
            strings(b, "outcome"),
            strings(b, "source"),
        );
        let (ip, city, country) = (
            strings(b, "src_ip"),
            strings(b, "geo_city"),
            strings(b, "geo_country"),
        );
        let (lat, lon) = (floats(b, "geo_lat"), floats(b, "geo_lon"));
        let (asn, org) = (ints(b, "asn"), strings(b, "as_org"));
        let (device, target, file) = (
            strings(b, "device"),
            strings(b, "target"),
            strings(b, "file"),
        );
        let (records, bytes) = (ints(b, "records"), ints(b, "bytes"));
        let activity = ints(b, "activity_id");
        let agent = strings(b, "user_agent");
        for i in 0..b.num_rows() {
            let what = what[i].clone().unwrap_or_default();
            let source = source[i].clone().unwrap_or_default();
            let lane = lane_of(admin, &source, &what, activity[i]);
            let network = match (asn[i], &org[i]) {
                (Some(n), Some(o)) => Some(format!("AS{n} {o}")),
                (Some(n), None) => Some(format!("AS{n}")),
                (None, Some(o)) => Some(o.clone()),
                (None, None) => None,
            };
            out.push(Event {
                time_ms: time[i].unwrap_or_default(),
                lane,
                what,
                outcome: outcome[i].clone().unwrap_or_default(),
                source,
                src_ip: ip[i].clone(),
                city: city[i].clone(),
                country: country[i].clone(),
                lat: lat[i],
                lon: lon[i],
                network,
                device: device[i].clone(),
                user_agent: agent[i].clone(),
                target: target[i].clone(),
                records: records[i],
                bytes: bytes[i],
                file: file[i].clone().unwrap_or_default(),
                line: line[i].unwrap_or_default(),
                new_address: false,
            });
        }
    }
    out
}

/// OCSF API Activity's `Export`.
const ACTIVITY_EXPORT: i64 = 7;

fn lane_of(admin: bool, source: &str, what: &str, activity_id: Option<i64>) -> Lane {
    if admin {
        let w = what.to_ascii_lowercase();
        if activity_id == Some(ACTIVITY_EXPORT)
            || ["export", "download", "dump", "backup"]
                .iter()
                .any(|k| w.contains(k))
        {
            Lane::Export
        } else {
            Lane::Admin
        }
    } else if VPN_SOURCES.contains(&source) {
        Lane::Vpn
    } else if what.starts_with("MFA") {
        Lane::Mfa
    } else if what == "SSO" {
        Lane::Sso
    } else {
        Lane::SignIn
    }
}

fn by_time(a: &Event, b: &Event) -> std::cmp::Ordering {
    (a.time_ms, &a.file, a.line).cmp(&(b.time_ms, &b.file, b.line))
}

/// A user's rows of both tables in `[from, to]`, in time order (at most `limit`), and
/// how many there are in all.
async fn user_events(
    ctx: &SessionContext,
    user: &str,
    (from, to): (i64, i64),
    limit: usize,
) -> Result<(Vec<Event>, u64), ReportError> {
    let params = || -> Params { vec![("user", text(user)), ("from", int(from)), ("to", int(to))] };
    let range = "user = $user AND time_ms >= $from AND time_ms <= $to";
    let order = format!("ORDER BY time_ms, file, line LIMIT {limit}");
    let auth = query(
        ctx,
        &format!("SELECT {AUTH_EVENT} FROM auth WHERE {range} {order}"),
        params(),
    )
    .await?;
    let admin = query(
        ctx,
        &format!("SELECT {ADMIN_EVENT} FROM admin WHERE {range} {order}"),
        params(),
    )
    .await?;
    let count = query(
        ctx,
        &format!(
            "SELECT (SELECT count(*) FROM auth WHERE {range}) + (SELECT count(*) FROM admin WHERE {range}) AS n"
        ),
        params(),
    )
    .await?;
    let mut events = events_of(&auth, false);
    events.extend(events_of(&admin, true));
    events.sort_by(by_time);
    events.truncate(limit);
    let total = count
        .first()
        .map_or(0, |b| unsigned(ints(b, "n").first().copied().flatten()));
    Ok((events, total))
}

/// The user's usual behaviour in the `days` before `start`.
async fn baseline(
    ctx: &SessionContext,
    user: &str,
    start: i64,
    days: i64,
) -> Result<Baseline, ReportError> {
    let from = start - days * DAY_MS;
    let params = || -> Params {
        vec![
            ("user", text(user)),
            ("from", int(from)),
            ("to", int(start)),
        ]
    };
    let ok = "user = $user AND time_ms >= $from AND time_ms < $to AND outcome = 'success'";
    let places = query(
        ctx,
        &format!(
            "SELECT geo_city, geo_country, avg(geo_lat) AS geo_lat, avg(geo_lon) AS geo_lon, count(*) AS n \
             FROM auth WHERE {ok} AND geo_lat IS NOT NULL AND geo_lon IS NOT NULL \
             GROUP BY geo_city, geo_country ORDER BY n DESC, geo_country, geo_city LIMIT 60"
        ),
        params(),
    )
    .await?;
    let mut b = Baseline {
        days,
        ..Baseline::default()
    };
    let mut countries: BTreeMap<String, u64> = BTreeMap::new();
    for batch in &places {
        let (city, country) = (strings(batch, "geo_city"), strings(batch, "geo_country"));
        let (lat, lon, n) = (
            floats(batch, "geo_lat"),
            floats(batch, "geo_lon"),
            ints(batch, "n"),
        );
        for i in 0..batch.num_rows() {
            let (Some(lat), Some(lon)) = (lat[i], lon[i]) else {
                continue;
            };
            let count = unsigned(n[i]);
            if let Some(c) = &country[i] {
                *countries.entry(c.clone()).or_default() += count;
            }
            b.places.push(Place {
                city: city[i].clone(),
                country: country[i].clone(),
                lat,
                lon,
                count,
            });
        }
    }
    b.countries = most_first(countries);
    let counted = |sql: String| {
        let p = params();
        async move {
            let batches = query(ctx, &sql, p).await?;
            let mut out = Vec::new();
            for batch in &batches {
                let (k, n) = (strings(batch, "k"), ints(batch, "n"));
                for i in 0..batch.num_rows() {
                    if let Some(k) = &k[i] {
                        out.push((k.clone(), unsigned(n[i])));
                    }
                }
            }
            Ok::<_, ReportError>(out)
        }
    };
    b.networks = counted(format!(
        "SELECT CASE WHEN asn IS NULL THEN as_org WHEN as_org IS NULL THEN concat('AS', CAST(asn AS VARCHAR)) \
                ELSE concat('AS', CAST(asn AS VARCHAR), ' ', as_org) END AS k, count(*) AS n \
         FROM auth WHERE {ok} AND (asn IS NOT NULL OR as_org IS NOT NULL) \
         GROUP BY 1 ORDER BY n DESC, k LIMIT 12"
    ))
    .await?;
    b.devices = counted(format!(
        "SELECT concat(coalesce(os, '?'), ' / ', coalesce(browser, '?')) AS k, count(*) AS n \
         FROM auth WHERE {ok} AND activity IN ('Logon', 'SSO') AND (os IS NOT NULL OR browser IS NOT NULL) \
         GROUP BY 1 ORDER BY n DESC, k LIMIT 12"
    ))
    .await?;
    // Every address seen before, however long ago: "new" means never used.
    let known = query(
        ctx,
        "SELECT DISTINCT src_ip FROM auth WHERE user = $user AND time_ms < $to AND src_ip IS NOT NULL \
         UNION SELECT DISTINCT src_ip FROM admin WHERE user = $user AND time_ms < $to AND src_ip IS NOT NULL",
        vec![("user", text(user)), ("to", int(start))],
    )
    .await?;
    b.addresses = known
        .iter()
        .flat_map(|batch| strings(batch, "src_ip"))
        .flatten()
        .collect();
    let hours = admin_hours(ctx, user, (from, start - 1)).await?;
    b.admin_hours = hours.len() as u64;
    b.p95_targets_per_hour = p95(hours.iter().map(|h| h.1).collect());
    b.p95_bytes_per_hour = p95(hours.iter().map(|h| h.2).collect());
    Ok(b)
}

fn most_first(counts: BTreeMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// Nearest-rank 95th percentile of active hours (`None` when there are none).
fn p95(mut values: Vec<u64>) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = (values.len() * 95).div_ceil(100).max(1);
    values.get(rank - 1).copied()
}

/// `(hour start ms, distinct customers or targets, bytes)` of each hour with admin rows.
async fn admin_hours(
    ctx: &SessionContext,
    user: &str,
    (from, to): (i64, i64),
) -> Result<Vec<(i64, u64, u64)>, ReportError> {
    let batches = query(
        ctx,
        "SELECT (time_ms / 3600000) * 3600000 AS hour_ms, \
                count(DISTINCT coalesce(customer_id, target_id)) AS targets, \
                sum(coalesce(bytes, 0)) AS bytes \
         FROM admin WHERE user = $user AND time_ms >= $from AND time_ms <= $to \
         GROUP BY 1 ORDER BY 1",
        vec![("user", text(user)), ("from", int(from)), ("to", int(to))],
    )
    .await?;
    let mut out = Vec::new();
    for b in &batches {
        let (h, t, by) = (ints(b, "hour_ms"), ints(b, "targets"), ints(b, "bytes"));
        for i in 0..b.num_rows() {
            out.push((h[i].unwrap_or_default(), unsigned(t[i]), unsigned(by[i])));
        }
    }
    Ok(out)
}

/// Admin work done in `[from, to]` from addresses the user had not used before `start`.
async fn touched_from_new(
    ctx: &SessionContext,
    user: &str,
    start: i64,
    (from, to): (i64, i64),
) -> Result<Touched, ReportError> {
    let batches = query(
        ctx,
        "WITH known AS ( \
             SELECT DISTINCT src_ip FROM auth WHERE user = $user AND time_ms < $start AND src_ip IS NOT NULL \
             UNION SELECT DISTINCT src_ip FROM admin WHERE user = $user AND time_ms < $start AND src_ip IS NOT NULL) \
         SELECT count(*) AS actions, count(DISTINCT a.customer_id) AS customers, \
                count(DISTINCT a.target_id) AS targets, \
                sum(a.records) AS records, sum(a.bytes) AS bytes \
         FROM admin a LEFT JOIN known k ON a.src_ip = k.src_ip \
         WHERE a.user = $user AND a.time_ms >= $from AND a.time_ms <= $to \
           AND a.src_ip IS NOT NULL AND k.src_ip IS NULL",
        vec![
            ("user", text(user)),
            ("start", int(start)),
            ("from", int(from)),
            ("to", int(to)),
        ],
    )
    .await?;
    let first = |name: &str| {
        unsigned(
            batches
                .first()
                .and_then(|b| ints(b, name).first().copied().flatten()),
        )
    };
    Ok(Touched {
        actions: first("actions"),
        customers: first("customers"),
        targets: first("targets"),
        records: first("records"),
        bytes: first("bytes"),
        addresses: Vec::new(),
    })
}

/// Where the user signed in from `ip` nearest to `time_ms`.
async fn place_of(
    ctx: &SessionContext,
    user: &str,
    ip: &str,
    time_ms: i64,
) -> Result<Option<(f64, f64)>, ReportError> {
    let batches = query(
        ctx,
        "SELECT geo_lat, geo_lon FROM auth \
         WHERE user = $user AND src_ip = $ip AND geo_lat IS NOT NULL AND geo_lon IS NOT NULL \
         ORDER BY abs(time_ms - $t) LIMIT 1",
        vec![("user", text(user)), ("ip", text(ip)), ("t", int(time_ms))],
    )
    .await?;
    Ok(batches.iter().find(|b| b.num_rows() > 0).and_then(|b| {
        let (lat, lon) = (floats(b, "geo_lat"), floats(b, "geo_lon"));
        lat[0].zip(lon[0])
    }))
}

fn evidence_text(a: &Alert, key: &str) -> Option<String> {
    match a.evidence.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn evidence_int(a: &Alert, key: &str) -> i64 {
    a.evidence
        .get(key)
        .and_then(serde_json::Value::as_i64)
        .unwrap_or_default()
}

/// The impossible trips among `alerts`, placed where their sign-ins were.
async fn hops(ctx: &SessionContext, alerts: &[Alert]) -> Result<Vec<Hop>, ReportError> {
    let mut out = Vec::new();
    for a in alerts.iter().filter(|a| a.detection == "impossible_travel") {
        let (Some(ip_a), Some(ip_b)) = (evidence_text(a, "src_ip_a"), evidence_text(a, "src_ip_b"))
        else {
            continue;
        };
        let (Some(pa), Some(pb)) = (
            place_of(ctx, &a.user, &ip_a, a.first_seen_ms).await?,
            place_of(ctx, &a.user, &ip_b, a.last_seen_ms).await?,
        ) else {
            continue;
        };
        let place = |(lat, lon): (f64, f64), city: &str, country: &str| Place {
            city: evidence_text(a, city),
            country: evidence_text(a, country),
            lat,
            lon,
            count: 1,
        };
        out.push(Hop {
            from: place(pa, "city_a", "country_a"),
            to: place(pb, "city_b", "country_b"),
            ips: (ip_a, ip_b),
            distance_km: evidence_int(a, "distance_km"),
            minutes: evidence_int(a, "minutes"),
            speed_kmh: evidence_int(a, "speed_kmh"),
        });
    }
    Ok(out)
}

async fn incident_view(
    ctx: &SessionContext,
    incident: &midgame_detect::Incident,
    all: &[Alert],
    opts: &Options,
) -> Result<IncidentView, ReportError> {
    let user = incident.user.as_str();
    let ids: BTreeSet<&str> = incident
        .timeline
        .iter()
        .map(|t| t.alert_id.as_str())
        .collect();
    let mut alerts: Vec<Alert> = all
        .iter()
        .filter(|a| ids.contains(a.alert_id.as_str()))
        .cloned()
        .collect();
    alerts.sort_by(|a, b| {
        (a.first_seen_ms, &a.detection, &a.alert_id).cmp(&(
            b.first_seen_ms,
            &b.detection,
            &b.alert_id,
        ))
    });
    let pad = opts.context_minutes * 60_000;
    let window = (incident.first_seen_ms - pad, incident.last_seen_ms + pad);
    let (mut events, events_total) = user_events(ctx, user, window, opts.max_events).await?;
    let baseline = baseline(ctx, user, incident.first_seen_ms, opts.baseline_days).await?;
    let mut new_addresses = BTreeSet::new();
    for e in &mut events {
        if let Some(ip) = &e.src_ip
            && e.time_ms >= incident.first_seen_ms
            && !baseline.addresses.contains(ip)
        {
            e.new_address = true;
            new_addresses.insert(ip.clone());
        }
    }
    let hours = admin_hours(ctx, user, window).await?;
    let peak = |f: fn(&(i64, u64, u64)) -> u64| {
        hours
            .iter()
            .max_by_key(|h| (f(h), std::cmp::Reverse(h.0)))
            .filter(|h| f(h) > 0)
            .map(|h| Peak {
                hour_ms: h.0,
                value: f(h),
            })
    };
    let peaks = (peak(|h| h.1), peak(|h| h.2));
    let mut touched = touched_from_new(ctx, user, incident.first_seen_ms, window).await?;
    touched.addresses = new_addresses.into_iter().collect();
    let hops = hops(ctx, &alerts).await?;
    Ok(IncidentView {
        incident: incident.clone(),
        alerts,
        window,
        events,
        events_total,
        baseline,
        peaks,
        touched,
        hops,
    })
}

/// The first and last few rows of each alert's span (its user, from its first to its
/// last time), for `alerts`: one query per table over a scratch table of spans.
async fn alert_events(
    ctx: &SessionContext,
    alerts: &[&Alert],
) -> Result<BTreeMap<String, AlertEvents>, ReportError> {
    let mut out = BTreeMap::new();
    if alerts.is_empty() {
        return Ok(out);
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("idx", DataType::Int64, false),
        Field::new("user", DataType::Utf8, false),
        Field::new("from_ms", DataType::Int64, false),
        Field::new("to_ms", DataType::Int64, false),
    ]));
    let idx: Vec<i64> = (0..alerts.len() as i64).collect();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(idx)),
            Arc::new(StringArray::from_iter_values(
                alerts.iter().map(|a| a.user.as_str()),
            )),
            Arc::new(Int64Array::from_iter_values(
                alerts.iter().map(|a| a.first_seen_ms),
            )),
            Arc::new(Int64Array::from_iter_values(
                alerts.iter().map(|a| a.last_seen_ms),
            )),
        ],
    )
    .map_err(datafusion::error::DataFusionError::from)?;
    ctx.register_table(
        SPANS,
        Arc::new(MemTable::try_new(schema, vec![vec![batch]])?),
    )?;
    let mut per: BTreeMap<i64, (Vec<Event>, u64)> = BTreeMap::new();
    let result = async {
        for (table, cols, admin) in [("auth", AUTH_EVENT, false), ("admin", ADMIN_EVENT, true)] {
            // The event columns are unqualified: only `e` has them.
            let sql = format!(
                "SELECT * FROM ( \
                   SELECT s.idx, {cols}, \
                          row_number() OVER (PARTITION BY s.idx ORDER BY e.time_ms, e.file, e.line) AS rn, \
                          count(*) OVER (PARTITION BY s.idx) AS total \
                   FROM {SPANS} s JOIN {table} e \
                     ON e.user = s.user AND e.time_ms >= s.from_ms AND e.time_ms <= s.to_ms) t \
                 WHERE rn <= {ALERT_EVENTS_EACH_END} OR rn > total - {ALERT_EVENTS_EACH_END} \
                 ORDER BY idx, rn"
            );
            let batches = query(ctx, &sql, Vec::new()).await?;
            // Each span's count in this table, once (every row of the span carries it).
            let mut counted = BTreeSet::new();
            for b in &batches {
                let (idx, total) = (ints(b, "idx"), ints(b, "total"));
                let events = events_of(std::slice::from_ref(b), admin);
                for (i, e) in events.into_iter().enumerate() {
                    let k = idx[i].unwrap_or_default();
                    let entry = per.entry(k).or_default();
                    if counted.insert(k) {
                        entry.1 += unsigned(total[i]);
                    }
                    entry.0.push(e);
                }
            }
        }
        Ok::<_, ReportError>(())
    }
    .await;
    ctx.deregister_table(SPANS)?;
    result?;
    for (i, (mut events, total)) in per {
        events.sort_by(by_time);
        let keep = usize::try_from(ALERT_EVENTS_EACH_END * 2).unwrap_or(8);
        if events.len() > keep {
            let tail = events.split_off(events.len() - keep / 2);
            events.truncate(keep / 2);
            events.extend(tail);
        }
        let a = alerts[usize::try_from(i).unwrap_or_default()];
        out.insert(a.alert_id.clone(), AlertEvents { events, total });
    }
    Ok(out)
}

/// What each table holds of each source, and the manifest's counts.
async fn coverage(ctx: &SessionContext, opts: &Options) -> Result<Coverage, ReportError> {
    let mut c = Coverage::default();
    for table in ["auth", "admin"] {
        let batches = query(
            ctx,
            &format!(
                "SELECT source, count(*) AS n, count(DISTINCT date) AS days, min(date) AS first_day, \
                        max(date) AS last_day FROM {table} GROUP BY source ORDER BY source"
            ),
            Vec::new(),
        )
        .await?;
        for b in &batches {
            let (source, n, days) = (strings(b, "source"), ints(b, "n"), ints(b, "days"));
            let (first, last) = (strings(b, "first_day"), strings(b, "last_day"));
            for i in 0..b.num_rows() {
                c.sources.push(SourceCoverage {
                    table: table.to_owned(),
                    source: source[i].clone().unwrap_or_default(),
                    rows: unsigned(n[i]),
                    days: unsigned(days[i]),
                    first_day: first[i].clone().unwrap_or_default(),
                    last_day: last[i].clone().unwrap_or_default(),
                });
            }
        }
    }
    let lake = midgame_lake::Lake::inspect(&opts.lake);
    if lake.layout().is_lake() {
        for e in lake.manifest()? {
            c.files += 1;
            c.quarantined += e.quarantined;
            c.skipped += e.skipped;
        }
    }
    Ok(c)
}

fn param_text(v: &ParamValue) -> String {
    match v {
        ParamValue::Int(i) => i.to_string(),
        ParamValue::Float(f) => f.to_string(),
        ParamValue::Text(t) => format!("{t:?}"),
        ParamValue::Bool(b) => b.to_string(),
    }
}

fn detection_info(d: &Detection, run: &RunOptions) -> Result<DetectionInfo, ReportError> {
    let empty = BTreeMap::new();
    let bound = d.bind(run.params.get(&d.id).unwrap_or(&empty))?;
    Ok(DetectionInfo {
        id: d.id.clone(),
        title: d.title.clone(),
        severity: d.severity.name().to_owned(),
        stage: d.stage.clone(),
        attack: d.attack.clone(),
        tactic: d.tactic.clone(),
        description: d.description.clone(),
        runbook: d.runbook.clone(),
        false_positives: d.false_positives.clone(),
        params: bound
            .iter()
            .map(|(k, v)| (k.clone(), param_text(v)))
            .collect(),
    })
}

/// Ask the lake for the context of `findings` (made by `detections` with `run`): every
/// incident's evidence, baseline and trips, the events of the alerts shown in detail, and
/// the lake's coverage.
///
/// # Errors
/// A query fails, the manifest cannot be read, or a detection's parameters do not bind.
pub async fn gather(
    ctx: &SessionContext,
    findings: &Findings,
    detections: &[Detection],
    run: &RunOptions,
    opts: &Options,
) -> Result<Report, ReportError> {
    let mine = |u: &str| opts.user.as_deref().is_none_or(|w| w == u);
    let alerts: Vec<Alert> = findings
        .alerts
        .iter()
        .filter(|a| mine(&a.user))
        .cloned()
        .collect();
    let mut incidents = Vec::new();
    for i in findings.incidents.iter().filter(|i| mine(&i.user)) {
        incidents.push(incident_view(ctx, i, &alerts, opts).await?);
    }
    // Alerts in detail: the incidents' first, then the rest in the order listed.
    let mut detailed: Vec<&Alert> = incidents.iter().flat_map(|i| i.alerts.iter()).collect();
    let in_incident: BTreeSet<&str> = detailed.iter().map(|a| a.alert_id.as_str()).collect();
    detailed.extend(
        alerts
            .iter()
            .filter(|a| !in_incident.contains(a.alert_id.as_str())),
    );
    detailed.truncate(opts.max_detailed_alerts);
    let alert_events = alert_events(ctx, &detailed).await?;
    Ok(Report {
        options: opts.clone(),
        detections: detections
            .iter()
            .map(|d| detection_info(d, run))
            .collect::<Result<_, _>>()?,
        incidents,
        alerts,
        alert_events,
        suppressed: findings
            .suppressed
            .iter()
            .filter(|s| mine(&s.alert.user))
            .cloned()
            .collect(),
        coverage: coverage(ctx, opts).await?,
        allowlist: run
            .allowlist
            .iter()
            .map(|e| format!("{}: {}", e.cidr, e.reason))
            .collect(),
        incident_rules: (run.incident_window_ms / HOUR_MS, run.incident_min_stages),
        window: (run.from_ms, run.to_ms),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn p95_is_nearest_rank() {
        assert_eq!(super::p95(vec![]), None);
        assert_eq!(super::p95(vec![7]), Some(7));
        assert_eq!(super::p95((1..=100).collect()), Some(95));
        assert_eq!(super::p95((1..=20).collect()), Some(19));
    }

    #[test]
    fn lanes() {
        use super::{Lane, lane_of};
        assert_eq!(lane_of(false, "okta", "MFA Enroll", None), Lane::Mfa);
        assert_eq!(lane_of(false, "okta", "SSO", None), Lane::Sso);
        assert_eq!(lane_of(false, "cisco-asa", "Logon", None), Lane::Vpn);
        assert_eq!(lane_of(false, "okta", "Logon", None), Lane::SignIn);
        assert_eq!(
            lane_of(true, "admin-audit", "customer.view", Some(2)),
            Lane::Admin
        );
        assert_eq!(
            lane_of(true, "admin-audit", "customer.export", None),
            Lane::Export
        );
        assert_eq!(
            lane_of(true, "billing", "invoice.run", Some(7)),
            Lane::Export
        );
        assert_eq!(
            lane_of(true, "cloudtrail", "s3:GetObject", Some(2)),
            Lane::Admin
        );
    }
}
