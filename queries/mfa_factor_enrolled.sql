-- id: mfa_factor_enrolled
-- title: MFA factor enrolled right after a new-device sign-in or a factor reset
-- severity: high
-- stage: initial-access
-- attack: T1098.005
-- description: A new MFA factor activated within window_hours after the same user signed in from a device unused in baseline_days, or after the user's factors were reset or removed: how an intruder with phished credentials makes their access last. Users in their learning period (enrolling on day one) are left out.
-- tactic: Persistence
-- runbook: Ask the user whether they enrolled this factor (which phone, which app) and whether they signed in from the new device. If not: remove the factor, end their sessions, reset the password, and check what the new device did after the enrolment.
-- false_positives: A user who got a new phone and re-enrolled after an IT-approved factor reset; a help-desk reset followed by enrolment the same day.
-- param window_hours: 4  how long after the new device or reset an enrolment counts
-- param baseline_days: 30  a device unused this long is new
-- param learning_days: 7  no alert until a user has been seen this long
WITH enrolments AS (
    SELECT a.user, a.time, a.time_ms, a.src_ip, a.geo_city, a.geo_country, a.mfa_factor, a.device_id
    FROM auth a
    JOIN user_first_seen f ON a.user = f.user
    WHERE a.activity = 'MFA Enroll'
      AND a.outcome = 'success'
      AND a.time_ms - f.first_ms >= $learning_days * 86400000
),
triggers AS (
    SELECT user, time_ms, concat('new device (', coalesce(os, '?'), ' / ', coalesce(browser, '?'), ') from ',
                                 coalesce(geo_city, '?'), ' ', coalesce(geo_country, '?')) AS what
    FROM signin_history
    WHERE device IS NOT NULL
      AND (prev_device_ms IS NULL OR time_ms - prev_device_ms > $baseline_days * 86400000)
    UNION ALL
    SELECT user, time_ms, CASE activity WHEN 'MFA Reset' THEN 'reset of all factors' ELSE 'factor removal' END AS what
    FROM auth
    WHERE activity IN ('MFA Reset', 'MFA Remove') AND outcome = 'success' AND user IS NOT NULL
),
matched AS (
    SELECT e.user, e.time, e.time_ms, e.src_ip, e.geo_city, e.geo_country, e.mfa_factor, e.device_id,
           min(t.time_ms) AS trigger_ms,
           min(t.what) AS trigger_what
    FROM enrolments e
    JOIN triggers t
      ON t.user = e.user
     AND t.time_ms <= e.time_ms
     AND t.time_ms >= e.time_ms - $window_hours * 3600000
    GROUP BY e.user, e.time, e.time_ms, e.src_ip, e.geo_city, e.geo_country, e.mfa_factor, e.device_id
)
SELECT
    user,
    time AS first_seen,
    time AS last_seen,
    concat(user, ' enrolled ', coalesce(mfa_factor, 'an MFA factor'), ' from ', coalesce(geo_city, '?'), ' ',
           coalesce(geo_country, '?'), ' ', CAST(round((time_ms - trigger_ms) / 60000.0) AS BIGINT),
           ' min after a ', trigger_what) AS summary,
    concat(coalesce(mfa_factor, ''), '@', CAST(time_ms AS VARCHAR)) AS alert_key,
    mfa_factor,
    src_ip,
    geo_city AS city,
    geo_country AS country,
    trigger_what AS after,
    CAST(round((time_ms - trigger_ms) / 60000.0) AS BIGINT) AS minutes_after
FROM matched
ORDER BY user, first_seen, alert_key
