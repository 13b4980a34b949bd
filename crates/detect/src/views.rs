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

/// Create (or replace) the shared views.
///
/// # Errors
/// A view does not plan against the session's tables.
pub async fn register_views(ctx: &SessionContext) -> datafusion::error::Result<()> {
    for (name, _, sql) in VIEWS {
        ctx.sql(&format!("CREATE OR REPLACE VIEW {name} AS {sql}"))
            .await?
            .collect()
            .await?;
    }
    Ok(())
}
