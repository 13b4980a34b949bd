-- id: mfa_push_denied
-- title: MFA push denied by the user
-- severity: medium
-- stage: initial-access
-- attack: T1621
-- description: The user said no to an MFA push (Okta Verify "No, it's not me", Entra "MFA denied; user declined the authentication" or reported fraud): someone else typed their password. Left out when the same user approves a push from the same address within grace_minutes (a reflex tap, then the right one).
-- tactic: Credential Access
-- runbook: Ask the user what they were doing when the push came. If it was not them: their password is known. Reset it, end their sessions, look at the address that asked (evidence src_ip) for other users, and watch for push fatigue (more pushes) on this account.
-- false_positives: A user denying a push their own second device started; a push they did not recognise because it came late.
-- param grace_minutes: 5  an approval from the same address this soon after means the user fumbled
WITH denied AS (
    SELECT user, time, time_ms, src_ip, geo_city, geo_country, source, mfa_factor
    FROM auth
    WHERE activity = 'MFA Push Denied' AND user IS NOT NULL
),
approved AS (
    SELECT user, time_ms, src_ip
    FROM auth
    WHERE outcome = 'success'
      AND user IS NOT NULL
      AND (activity = 'MFA Verify' OR (activity IN ('Logon', 'SSO') AND is_mfa = true AND mfa_factor IS NOT NULL))
),
unexplained AS (
    SELECT d.*
    FROM denied d
    LEFT JOIN approved a
      ON a.user = d.user
     AND a.src_ip = d.src_ip
     AND a.time_ms > d.time_ms
     AND a.time_ms <= d.time_ms + $grace_minutes * 60000
    WHERE a.user IS NULL
)
SELECT
    user,
    time AS first_seen,
    time AS last_seen,
    concat(user, ' denied an MFA push asked for from ', coalesce(src_ip, '?'), ' (',
           coalesce(geo_city, '?'), ' ', coalesce(geo_country, '?'), ')') AS summary,
    CAST(time_ms AS VARCHAR) AS alert_key,
    src_ip,
    source,
    mfa_factor AS factor
FROM unexplained
ORDER BY user, first_seen, alert_key
