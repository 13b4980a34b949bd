-- id: session_hijack
-- title: One session used from a new address with a different browser
-- severity: high
-- stage: initial-access
-- attack: T1550.004
-- description: Consecutive events of one IdP session (Okta externalSessionId) from different addresses and different user agents: a stolen session cookie replayed elsewhere. A phone changing networks keeps its user agent and does not alert.
-- tactic: Defense Evasion
-- runbook: Compare the two addresses and browsers of the session: is the second one the user's? If not, the session cookie was stolen (phishing proxy, malware): revoke all of the user's sessions, reset the password and factors, and look at what the second browser did in the session.
-- false_positives: A user switching between two browsers that share a session through a password manager; a corporate proxy that rewrites user agents.
WITH moved AS (
    -- Only sessions seen from two addresses and two user agents can alert: find them with
    -- one aggregation, and order only their events.
    SELECT user, session_id
    FROM auth
    WHERE session_id IS NOT NULL AND src_ip IS NOT NULL AND user_agent IS NOT NULL AND user IS NOT NULL
    GROUP BY user, session_id
    HAVING min(src_ip) <> max(src_ip) AND min(user_agent) <> max(user_agent)
),
ev AS (
    SELECT a.user, a.time, a.time_ms, a.session_id, a.src_ip, a.user_agent, a.os, a.browser, a.geo_city, a.geo_country, a.as_org,
           LAG(a.time) OVER (PARTITION BY a.user, a.session_id ORDER BY a.time_ms, a.src_ip) AS prev_time,
           LAG(a.src_ip) OVER (PARTITION BY a.user, a.session_id ORDER BY a.time_ms, a.src_ip) AS prev_ip,
           LAG(a.user_agent) OVER (PARTITION BY a.user, a.session_id ORDER BY a.time_ms, a.src_ip) AS prev_agent,
           LAG(a.geo_city) OVER (PARTITION BY a.user, a.session_id ORDER BY a.time_ms, a.src_ip) AS prev_city,
           LAG(a.geo_country) OVER (PARTITION BY a.user, a.session_id ORDER BY a.time_ms, a.src_ip) AS prev_country,
           LAG(a.as_org) OVER (PARTITION BY a.user, a.session_id ORDER BY a.time_ms, a.src_ip) AS prev_as_org
    FROM auth a
    JOIN moved m ON a.user = m.user AND a.session_id = m.session_id
    WHERE a.src_ip IS NOT NULL
      AND a.user_agent IS NOT NULL
)
SELECT
    user,
    prev_time AS first_seen,
    time AS last_seen,
    concat(user, '''s session ', session_id, ' moved from ', prev_ip, ' (', coalesce(prev_city, '?'), ' ',
           coalesce(prev_country, '?'), ') to ', src_ip, ' (', coalesce(geo_city, '?'), ' ', coalesce(geo_country, '?'),
           ') with another browser (', coalesce(os, '?'), ' / ', coalesce(browser, '?'), ')') AS summary,
    concat(session_id, '>', src_ip) AS alert_key,
    session_id,
    prev_ip AS src_ip_a,
    src_ip AS src_ip_b,
    prev_as_org AS as_org_a,
    as_org AS as_org_b,
    prev_agent AS user_agent_a,
    user_agent AS user_agent_b
FROM ev
WHERE prev_ip IS NOT NULL
  AND src_ip <> prev_ip
  AND user_agent <> prev_agent
ORDER BY user, last_seen, alert_key
