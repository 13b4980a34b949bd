-- id: password_spray
-- title: Password spray: many users failing from one address or network, then a success
-- severity: high
-- stage: initial-access
-- attack: T1110.003
-- description: A successful sign-in from an address (or its IPv4 /24) from which at least min_users distinct users failed to sign in within the window_minutes before it: one password tried across many accounts until one worked. Failures of one user alone (a forgotten password, a brute force on one account) do not count, nor do MFA failures (the password was right); allow-listed networks are left out. IdP and VPN sign-ins alike.
-- tactic: Credential Access
-- runbook: The account that succeeded had a guessable or reused password. Reset it and end its sessions now, then look at what it did after (midgame sql: SELECT * FROM auth WHERE user = '<user>' ORDER BY time). Block the address or network at the IdP (Okta network zone, Entra named location) and check the other sprayed users for successes from elsewhere.
-- false_positives: A shared NAT (an office, a campus) the morning after a forced password change, followed by someone's ordinary sign-in: allow-list the NAT's egress; a misconfigured service retrying many accounts' old passwords (one user agent, steady rate).
-- param window_minutes: 60  failures this long before the success count
-- param min_users: 5  distinct users failing from the network
WITH attempts AS (
    SELECT a.user, a.time, a.time_ms, a.outcome, a.src_ip, a.geo_city, a.geo_country, a.source,
           CASE WHEN a.src_ip LIKE '%.%.%.%' AND a.src_ip NOT LIKE '%:%'
                THEN concat(split_part(a.src_ip, '.', 1), '.', split_part(a.src_ip, '.', 2), '.',
                            split_part(a.src_ip, '.', 3), '.0/24')
                ELSE a.src_ip END AS network
    FROM auth a
    LEFT JOIN allowlisted_ip w ON a.src_ip = w.ip
    WHERE a.activity = 'Logon'
      AND a.outcome IN ('success', 'failure')
      AND a.user IS NOT NULL
      AND a.src_ip IS NOT NULL
      AND w.ip IS NULL
),
sprayed AS (
    SELECT s.user, s.time, s.time_ms, s.src_ip, s.network, s.geo_city, s.geo_country, s.source,
           count(DISTINCT f.user) AS users_failed,
           count(*) AS failures,
           min(f.time) AS first_failure
    FROM attempts s
    JOIN attempts f
      ON f.network = s.network
     AND f.outcome = 'failure'
     AND f.time_ms < s.time_ms
     AND f.time_ms >= s.time_ms - $window_minutes * 60000
    WHERE s.outcome = 'success'
    GROUP BY s.user, s.time, s.time_ms, s.src_ip, s.network, s.geo_city, s.geo_country, s.source
)
SELECT
    user,
    first_failure AS first_seen,
    time AS last_seen,
    concat(user, ' signed in from ', src_ip, ' (', coalesce(geo_city, '?'), ' ', coalesce(geo_country, '?'),
           ') after ', CAST(users_failed AS VARCHAR), ' users failed ', CAST(failures AS VARCHAR),
           ' sign-ins from ', network, ' within ', CAST($window_minutes AS VARCHAR), ' minutes') AS summary,
    concat(network, '@', CAST(time_ms AS VARCHAR)) AS alert_key,
    src_ip,
    network,
    users_failed,
    failures,
    source
FROM sprayed
WHERE users_failed >= $min_users
ORDER BY user, last_seen, alert_key
