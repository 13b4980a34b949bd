-- id: unusual_admin_access
-- title: Admin tool used unusually: first use, far more customers than usual, or from an address never signed in from
-- severity: high
-- stage: admin-access
-- attack: T1078
-- description: Three findings over the admin table (and Okta admin-console access): (1) a user with no admin activity in baseline_days uses an admin tool; (2) distinct customers (else targets) touched in one hour above both min_targets_per_hour and multiple times the user's own 95th percentile of an active hour over the baseline days before that day; (3) admin actions from an address the user never signed in from before. Users in their learning period are left out.
-- tactic: Privilege Escalation
-- runbook: Look at which customers or targets were touched and from where; ask the user and their manager whether the work was assigned. If not: suspend the admin-tool session, list every customer record read (the evidence's file:line and the admin table), and start customer notification scoping.
-- false_positives: A new support hire's first week; an incident or audit that needs many customers looked up; an admin working from home for the first time.
-- param baseline_days: 30  the history a user is compared with
-- param learning_days: 7  no alert until a user has been seen this long
-- param min_targets_per_hour: 40  cold-start floor: an hour with fewer never alerts
-- param multiple: 3.0  how far above the user's own 95th percentile an hour must be
WITH actions AS (
    SELECT user, time, time_ms, coalesce(tool, source) AS tool, src_ip, asn, coalesce(customer_id, target_id) AS touched
    FROM admin
    WHERE user IS NOT NULL
    UNION ALL
    SELECT user, time, time_ms, app AS tool, src_ip, asn, CAST(NULL AS VARCHAR) AS touched
    FROM auth
    WHERE activity = 'Admin App Access' AND outcome = 'success' AND user IS NOT NULL
),
-- (1) first use of an admin tool in the baseline
first_use AS (
    SELECT user, time, time_ms, tool, src_ip,
           LAG(time_ms) OVER (PARTITION BY user ORDER BY time_ms, tool) AS prev_ms
    FROM actions
),
first_use_alerts AS (
    SELECT u.user, u.time AS first_seen, u.time AS last_seen, 'high' AS severity,
           concat(u.user, ' used an admin tool (', u.tool, ') from ', coalesce(u.src_ip, '?'),
                  ' with no admin activity in the previous ', CAST($baseline_days AS VARCHAR), ' days') AS summary,
           concat('first-use:', u.tool, '@', CAST(u.time_ms AS VARCHAR)) AS alert_key,
           'first use' AS finding, u.tool, u.src_ip,
           CAST(NULL AS BIGINT) AS baseline_p95, CAST(NULL AS BIGINT) AS now_count
    FROM first_use u
    JOIN user_first_seen f ON u.user = f.user
    WHERE (u.prev_ms IS NULL OR u.time_ms - u.prev_ms > $baseline_days * 86400000)
      AND u.time_ms - f.first_ms >= $learning_days * 86400000
),
-- (2) customers touched per hour against the user's own baseline
hourly AS (
    SELECT user, time_ms - time_ms % 3600000 AS hour_ms, count(DISTINCT touched) AS n,
           min(time) AS first_seen, max(time) AS last_seen, min(tool) AS tool, min(src_ip) AS src_ip
    FROM actions
    WHERE touched IS NOT NULL
    GROUP BY user, time_ms - time_ms % 3600000
),
candidates AS (
    SELECT h.*, h.hour_ms - h.hour_ms % 86400000 AS day_ms
    FROM hourly h
    JOIN user_first_seen f ON h.user = f.user
    WHERE h.n > $min_targets_per_hour
      AND h.hour_ms - f.first_ms >= $learning_days * 86400000
),
-- The baseline of a candidate hour is the user's hours in the baseline_days before its
-- day, so the hours of one day share it: computed once per (user, day), not per hour.
candidate_days AS (
    SELECT DISTINCT user, day_ms FROM candidates
),
history AS (
    SELECT c.user, c.day_ms, b.n,
           ROW_NUMBER() OVER (PARTITION BY c.user, c.day_ms ORDER BY b.n) AS rn,
           COUNT(*) OVER (PARTITION BY c.user, c.day_ms) AS hours
    FROM candidate_days c
    JOIN hourly b
      ON b.user = c.user
     AND b.hour_ms < c.day_ms
     AND b.hour_ms >= c.day_ms - $baseline_days * 86400000
),
p95 AS (
    SELECT user, day_ms, n AS p95, hours
    FROM history
    WHERE rn = CAST(ceil(0.95 * hours) AS BIGINT)
),
volume_alerts AS (
    SELECT c.user, c.first_seen, c.last_seen, 'high' AS severity,
           concat(c.user, ' touched ', CAST(c.n AS VARCHAR), ' customers in one hour in ', c.tool,
                  ' (95th percentile ', CAST(coalesce(p.p95, 0) AS VARCHAR), ' customers/hour over ',
                  CAST(coalesce(p.hours, 0) AS VARCHAR), ' active hours, now ', CAST(c.n AS VARCHAR), ')') AS summary,
           concat('volume:', CAST(c.hour_ms AS VARCHAR)) AS alert_key,
           'customers per hour' AS finding, c.tool, c.src_ip,
           CAST(coalesce(p.p95, 0) AS BIGINT) AS baseline_p95, CAST(c.n AS BIGINT) AS now_count
    FROM candidates c
    LEFT JOIN p95 p ON p.user = c.user AND p.day_ms = c.day_ms
    WHERE c.n > $multiple * coalesce(p.p95, 0)
),
-- (3) admin actions from an address the user never signed in from
signin_ips AS (
    SELECT user, src_ip, min(time_ms) AS first_ms
    FROM signins
    WHERE src_ip IS NOT NULL
    GROUP BY user, src_ip
),
signin_asns AS (
    SELECT user, asn, min(time_ms) AS first_ms
    FROM signins
    WHERE asn IS NOT NULL
    GROUP BY user, asn
),
admin_ips AS (
    SELECT user, src_ip, min(asn) AS asn, min(time) AS first_seen, max(time) AS last_seen, min(time_ms) AS first_ms,
           min(tool) AS tool, count(*) AS actions
    FROM actions
    WHERE src_ip IS NOT NULL
    GROUP BY user, src_ip
),
network_alerts AS (
    SELECT a.user, a.first_seen, a.last_seen, 'high' AS severity,
           concat(a.user, ' used ', a.tool, ' from ', a.src_ip, ', an address they never signed in from (',
                  CAST(a.actions AS VARCHAR), ' actions)') AS summary,
           concat('network:', a.src_ip) AS alert_key,
           'unknown address' AS finding, a.tool, a.src_ip,
           CAST(NULL AS BIGINT) AS baseline_p95, CAST(a.actions AS BIGINT) AS now_count
    FROM admin_ips a
    JOIN user_first_seen f ON a.user = f.user
    LEFT JOIN signin_ips s ON s.user = a.user AND s.src_ip = a.src_ip AND s.first_ms <= a.first_ms
    LEFT JOIN signin_asns n ON n.user = a.user AND n.asn = a.asn AND n.first_ms <= a.first_ms
    WHERE s.src_ip IS NULL AND n.asn IS NULL
      AND a.first_ms - f.first_ms >= $learning_days * 86400000
)
SELECT * FROM first_use_alerts
UNION ALL
SELECT * FROM volume_alerts
UNION ALL
SELECT * FROM network_alerts
ORDER BY user, first_seen, alert_key
