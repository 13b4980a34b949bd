-- id: new_device_sso
-- title: Sign-in from a device new to the user, from a new network or followed by an MFA change
-- severity: medium
-- stage: initial-access
-- attack: T1078.004
-- description: A successful sign-in or SSO from a device (fingerprint, else OS / browser family) the user has not used in baseline_days, after their learning period. A new device alone is routine (a new laptop) and only alerts with bare_new_device = 1; it alerts when the device also brings a country or network (ASN) new to the user (medium), or is followed within mfa_window_minutes by an MFA factor enrolment or reset (high; both: high).
-- tactic: Initial Access
-- runbook: Check the device (OS, browser, fingerprint) and its network against the user's usual ones shown in the evidence; ask the user whether they have a new laptop or phone. If not theirs: end the device's sessions, reset the password and factors, and look at every app it reached.
-- false_positives: A new or re-imaged laptop; a browser update that changes the fingerprint; travel with a new phone.
-- param baseline_days: 30  a device unused this long is new again
-- param learning_days: 7  no alert until a user has been seen this long
-- param mfa_window_minutes: 60  an MFA enrolment or reset this soon after the new device raises severity
-- param bare_new_device: 0  1 also alerts (severity low) on a new device with nothing else new
WITH firsts AS (
    SELECT h.*
    FROM signin_history h
    JOIN user_first_seen f ON h.user = f.user
    WHERE h.device IS NOT NULL
      AND (h.prev_device_ms IS NULL OR h.time_ms - h.prev_device_ms > $baseline_days * 86400000)
      AND h.time_ms - f.first_ms >= $learning_days * 86400000
),
-- When the user last signed in from the same country and the same network, for the new
-- devices only (one join on the user, not a window over every sign-in). `firsts` is read
-- once: DataFusion computes a CTE again for each reference, and the window under it is
-- most of this query's cost.
seen AS (
    SELECT d.user, d.time, d.time_ms, d.device, d.os, d.browser, d.app, d.activity, d.src_ip,
           d.geo_city, d.geo_country, d.asn, d.as_org,
           max(CASE WHEN s.geo_country = d.geo_country THEN s.time_ms END) AS prev_country_ms,
           max(CASE WHEN s.asn = d.asn THEN s.time_ms END) AS prev_asn_ms
    FROM firsts d
    LEFT JOIN signins s ON s.user = d.user AND s.time_ms < d.time_ms
    GROUP BY d.user, d.time, d.time_ms, d.device, d.os, d.browser, d.app, d.activity, d.src_ip,
             d.geo_city, d.geo_country, d.asn, d.as_org
),
mfa AS (
    SELECT user, time_ms, activity, mfa_factor
    FROM auth
    WHERE activity IN ('MFA Enroll', 'MFA Reset', 'MFA Remove')
      AND outcome = 'success'
      AND user IS NOT NULL
),
scored AS (
    SELECT
        d.user, d.time, d.time_ms, d.device, d.os, d.browser, d.app, d.activity, d.src_ip,
        d.geo_city, d.geo_country, d.asn, d.as_org,
        d.geo_country IS NOT NULL
            AND (d.prev_country_ms IS NULL OR d.time_ms - d.prev_country_ms > $baseline_days * 86400000) AS new_country,
        d.asn IS NOT NULL
            AND (d.prev_asn_ms IS NULL OR d.time_ms - d.prev_asn_ms > $baseline_days * 86400000) AS new_asn,
        min(m.time_ms) AS mfa_ms,
        min(m.activity) AS mfa_activity,
        min(m.mfa_factor) AS mfa_factor
    FROM seen d
    LEFT JOIN mfa m
      ON m.user = d.user
     AND m.time_ms >= d.time_ms
     AND m.time_ms <= d.time_ms + $mfa_window_minutes * 60000
    GROUP BY d.user, d.time, d.time_ms, d.device, d.os, d.browser, d.app, d.activity, d.src_ip,
             d.geo_city, d.geo_country, d.asn, d.as_org, d.prev_country_ms, d.prev_asn_ms
)
SELECT
    user,
    time AS first_seen,
    time AS last_seen,
    CASE
        WHEN mfa_ms IS NOT NULL THEN 'high'
        WHEN new_country OR new_asn THEN 'medium'
        ELSE 'low'
    END AS severity,
    concat(
        user, ' signed in on a new device (', coalesce(os, '?'), ' / ', coalesce(browser, '?'), ') from ',
        coalesce(geo_city, '?'), ' ', coalesce(geo_country, '?'),
        CASE WHEN asn IS NOT NULL THEN concat(', AS', CAST(asn AS VARCHAR), ' ', coalesce(as_org, '')) ELSE '' END,
        CASE
            WHEN new_country AND new_asn THEN ' (new country, new network)'
            WHEN new_country THEN ' (new country)'
            WHEN new_asn THEN ' (new network)'
            ELSE ''
        END,
        CASE
            WHEN mfa_ms IS NOT NULL THEN concat('; ', mfa_activity, ' ', coalesce(mfa_factor, ''), ' ',
                                               CAST(round((mfa_ms - time_ms) / 60000.0) AS BIGINT), ' min later')
            ELSE ''
        END
    ) AS summary,
    concat(device, '@', CAST(time_ms AS VARCHAR)) AS alert_key,
    device,
    os,
    browser,
    activity,
    app,
    src_ip,
    geo_city AS city,
    geo_country AS country,
    asn,
    as_org,
    new_country,
    new_asn,
    mfa_activity,
    mfa_factor
FROM scored
WHERE new_country OR new_asn OR mfa_ms IS NOT NULL OR $bare_new_device = 1
ORDER BY user, first_seen, alert_key
