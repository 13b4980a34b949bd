-- id: push_fatigue
-- title: MFA push fatigue: several denied or unanswered pushes, then one accepted
-- severity: high
-- stage: initial-access
-- attack: T1621
-- description: A successful MFA verification preceded, since the user's previous successful verification and within window_minutes, by at least min_denied denied pushes or at least min_pushes pushes sent (the unanswered ones re-sent): someone with the password pressing the user until they approve. Okta's push events and Entra's sign-ins alike (a sign-in stopped at its push, error 500121, is a push sent, denied when the user declined it; one that completed MFA is the verification).
-- tactic: Credential Access
-- runbook: Ask the user whether they approved the push on purpose. If not: the password is known to someone else. Reset it, end the sessions the approval opened, switch the user to number matching or a phishing-resistant factor, and check the approving session's address and device.
-- false_positives: A user whose phone was offline and who retried several times; a flaky Okta Verify install re-sending pushes.
-- param window_minutes: 30  how far back pushes count
-- param min_pushes: 3  pushes sent before the success (a normal sign-in sends one)
-- param min_denied: 2  pushes the user denied before the success
WITH mfa AS (
    -- A sign-in that itself completed MFA (Entra: required MFA and names the method) is
    -- the verification.
    SELECT user, time, time_ms,
           CASE WHEN activity = 'Logon' THEN 'MFA Verify' ELSE activity END AS activity,
           outcome, src_ip, geo_city, geo_country, mfa_factor
    FROM auth
    WHERE user IS NOT NULL
      AND (activity IN ('MFA Push', 'MFA Push Denied', 'MFA Verify')
           OR (activity = 'Logon' AND outcome = 'success' AND is_mfa = true AND mfa_factor IS NOT NULL))
),
successes AS (
    SELECT *, LAG(time_ms) OVER (PARTITION BY user ORDER BY time_ms) AS prev_success_ms
    FROM mfa
    WHERE activity = 'MFA Verify' AND outcome = 'success'
),
pressed AS (
    SELECT
        s.user, s.time, s.time_ms, s.src_ip, s.geo_city, s.geo_country,
        min(m.time) AS first_push,
        sum(CASE WHEN m.activity = 'MFA Push' THEN 1 ELSE 0 END) AS pushes,
        sum(CASE WHEN m.activity = 'MFA Push Denied'
                   OR (m.activity = 'MFA Verify' AND m.outcome = 'failure') THEN 1 ELSE 0 END) AS denied
    FROM successes s
    JOIN mfa m
      ON m.user = s.user
     AND m.time_ms <= s.time_ms
     AND m.time_ms >= s.time_ms - $window_minutes * 60000
     AND (s.prev_success_ms IS NULL OR m.time_ms > s.prev_success_ms)
     AND NOT (m.activity = 'MFA Verify' AND m.outcome = 'success')
    GROUP BY s.user, s.time, s.time_ms, s.src_ip, s.geo_city, s.geo_country
)
SELECT
    user,
    first_push AS first_seen,
    time AS last_seen,
    concat(user, ' approved an MFA push after ', CAST(pushes AS VARCHAR), ' sent and ',
           CAST(denied AS VARCHAR), ' denied, from ', coalesce(geo_city, '?'), ' ', coalesce(geo_country, '?'),
           ' (', coalesce(src_ip, '?'), ')') AS summary,
    CAST(time_ms AS VARCHAR) AS alert_key,
    pushes,
    denied,
    src_ip,
    geo_city AS city,
    geo_country AS country
FROM pressed
WHERE pushes >= $min_pushes OR denied >= $min_denied
ORDER BY user, last_seen, alert_key
