//! Views every detection shares, registered in each session beside the lake tables.
//!
//! They are plain portable SQL (like the shipped detections), so a cluster deployment
//! creates the same views from the same text.

use datafusion::prelude::SessionContext;

/// Name and SQL of each shared view, in dependency order.
pub const VIEWS: &[(&str, &str, &str)] = &[
    (
        "signins",
        "Successful sign-ins and SSOs (IdP and VPN) of a known user, with a `device` key: the \
         device fingerprint where the source has one, else OS / browser family (null when the \
         source says nothing about the device, as VPN logs).",
        "SELECT user, time, time_ms, source, activity, src_ip, geo_lat, geo_lon, geo_city, \
                geo_country, asn, as_org, is_proxy, device_id, user_agent, os, browser, app, \
                session_id, \
                CASE WHEN device_id IS NULL AND os IS NULL AND browser IS NULL THEN NULL \
                     ELSE coalesce(device_id, concat(coalesce(os, '?'), ' / ', coalesce(browser, '?'))) END AS device \
         FROM auth \
         WHERE outcome = 'success' AND activity IN ('Logon', 'SSO') AND user IS NOT NULL",
    ),
    (
        "signin_history",
        "`signins` with, for each row, when this user last used the same device before it \
         (`prev_device_ms`, null: never).",
        "SELECT *, \
                LAG(time_ms) OVER (PARTITION BY user, device ORDER BY time_ms, src_ip) AS prev_device_ms \
         FROM signins",
    ),
    (
        "user_first_seen",
        "When each user first appears in any table: the end of their learning period is \
         `first_ms` plus a detection's `learning_days`.",
        "SELECT user, min(time_ms) AS first_ms \
         FROM (SELECT user, time_ms FROM auth UNION ALL SELECT user, time_ms FROM admin) u \
         WHERE user IS NOT NULL \
         GROUP BY user",
    ),
];

/// The lake in OCSF's own shape, for those who live in it: the `auth` table's
/// authentication events as class 3002 and the `admin` table as API Activity (6003),
/// with OCSF's nested field names (`src_endpoint.ip`, `actor.user.name`, ...). `time` is
/// OCSF's `timestamp_t` (epoch ms; the table's own `time` is renamed inside, as DataFusion's
/// optimizer takes a column and an alias of one name for the same); provenance is in
/// `unmapped`. Not used by detections
/// (which stay portable SQL over the flat tables).
pub const OCSF_VIEWS: &[(&str, &str, &str)] = &[
    (
        "ocsf_authentication",
        "The auth table's authentication events as OCSF 1.1 Authentication (class 3002) \
         records, nested as OCSF names them.",
        "SELECT 3002 AS class_uid, 'Authentication' AS class_name, \
                3 AS category_uid, 'Identity & Access Management' AS category_name, \
                activity_id, activity AS activity_name, 300200 + activity_id AS type_uid, \
                time_ms AS time, event_time AS time_dt, 1 AS severity_id, 'Informational' AS severity, \
                CASE outcome WHEN 'success' THEN 1 WHEN 'failure' THEN 2 ELSE 0 END AS status_id, \
                CASE outcome WHEN 'success' THEN 'Success' WHEN 'failure' THEN 'Failure' ELSE 'Unknown' END AS status, \
                status_detail, \
                named_struct('name', user, 'uid', user_raw) AS \"user\", \
                named_struct('ip', src_ip, \
                             'location', named_struct('city', geo_city, 'country', geo_country, \
                                                      'lat', geo_lat, 'long', geo_lon), \
                             'autonomous_system', named_struct('number', asn, 'name', as_org)) AS src_endpoint, \
                named_struct('uid', device_id, 'os', named_struct('name', os)) AS device, \
                named_struct('user_agent', user_agent) AS http_request, \
                named_struct('name', app) AS service, \
                named_struct('uid', session_id) AS session, \
                is_mfa, mfa_factor, \
                named_struct('version', '1.1.0', \
                             'product', named_struct('name', 'midgame', 'vendor_name', 'midgame'), \
                             'log_name', source, 'event_code', event_type) AS metadata, \
                named_struct('file', file, 'line', line, 'behaviors', behaviors, 'is_proxy', is_proxy) AS unmapped, \
                raw AS raw_data, date \
         FROM (SELECT * EXCLUDE (time), time AS event_time FROM auth) a WHERE class_uid = 3002",
    ),
    (
        "ocsf_api_activity",
        "The admin table as OCSF 1.1 API Activity (class 6003) records: who called which \
         operation of which tool on what, from where.",
        "SELECT 6003 AS class_uid, 'API Activity' AS class_name, \
                6 AS category_uid, 'Application Activity' AS category_name, \
                CASE WHEN activity_id IN (1, 2, 3, 4) THEN activity_id ELSE 99 END AS activity_id, \
                CASE activity_id WHEN 1 THEN 'Create' WHEN 2 THEN 'Read' WHEN 3 THEN 'Update' \
                                 WHEN 4 THEN 'Delete' WHEN 7 THEN 'Export' ELSE 'Other' END AS activity_name, \
                600300 + CASE WHEN activity_id IN (1, 2, 3, 4) THEN activity_id ELSE 99 END AS type_uid, \
                time_ms AS time, event_time AS time_dt, 1 AS severity_id, 'Informational' AS severity, \
                CASE outcome WHEN 'success' THEN 1 WHEN 'failure' THEN 2 ELSE 0 END AS status_id, \
                CASE outcome WHEN 'success' THEN 'Success' WHEN 'failure' THEN 'Failure' ELSE 'Unknown' END AS status, \
                named_struct('user', named_struct('name', user, 'uid', user_raw), \
                             'session', named_struct('uid', session_id)) AS actor, \
                named_struct('operation', action, 'service', named_struct('name', tool)) AS api, \
                make_array(named_struct('uid', target_id, 'type', target_type, \
                                        'data', named_struct('customer_id', customer_id, \
                                                             'records', records, 'bytes', bytes))) AS resources, \
                named_struct('ip', src_ip, 'location', named_struct('country', geo_country), \
                             'autonomous_system', named_struct('number', asn)) AS src_endpoint, \
                named_struct('user_agent', user_agent) AS http_request, \
                named_struct('version', '1.1.0', \
                             'product', named_struct('name', 'midgame', 'vendor_name', 'midgame'), \
                             'log_name', source, 'event_code', action) AS metadata, \
                named_struct('file', file, 'line', line) AS unmapped, \
                raw AS raw_data, date \
         FROM (SELECT * EXCLUDE (time), time AS event_time FROM admin) a",
    ),
];

/// Create (or replace) the shared views.
///
/// # Errors
/// A view does not plan against the session's tables.
pub async fn register_views(ctx: &SessionContext) -> datafusion::error::Result<()> {
    for (name, _, sql) in VIEWS.iter().chain(OCSF_VIEWS) {
        ctx.sql(&format!("CREATE OR REPLACE VIEW {name} AS {sql}"))
            .await?
            .collect()
            .await?;
    }
    Ok(())
}

/// The lake tables a query reads, directly or through the shared views (`signins` is
/// `auth`), in the order `auth`, `admin`. Comments are not read.
#[must_use]
pub fn tables_read(sql: &str) -> Vec<&'static str> {
    let mut found = std::collections::BTreeSet::new();
    collect_tables(sql, &mut found, 0);
    [midgame_schema::AUTH, midgame_schema::ADMIN]
        .into_iter()
        .filter(|t| found.contains(t))
        .collect()
}

fn collect_tables(sql: &str, found: &mut std::collections::BTreeSet<&'static str>, depth: u8) {
    let code: String = sql
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    // Names after FROM or JOIN (a table or a view; subqueries are read on).
    let words: Vec<&str> = code
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    for pair in words.windows(2) {
        if !(pair[0].eq_ignore_ascii_case("from") || pair[0].eq_ignore_ascii_case("join")) {
            continue;
        }
        let name = pair[1].to_ascii_lowercase();
        for t in [midgame_schema::AUTH, midgame_schema::ADMIN] {
            if name == t {
                found.insert(t);
            }
        }
        if depth < 4
            && let Some((_, _, view_sql)) =
                VIEWS.iter().chain(OCSF_VIEWS).find(|(v, _, _)| *v == name)
        {
            collect_tables(view_sql, found, depth + 1);
        }
    }
}
