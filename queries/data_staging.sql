-- id: data_staging
-- title: Data staged for exfiltration: exports far above the user's own hours or days, or a first bulk export
-- severity: high
-- stage: staging
-- attack: T1074
-- description: (1) A user's bytes or records exported or downloaded in one hour (admin exports and object reads, VPN bytes sent to the client) above both an absolute floor (min_bytes, min_records) and multiple times their own 95th percentile of an active hour over the baseline days before that day; (2) a user's day (UTC) above a daily floor (daily_min_bytes, daily_min_records) and daily_multiple times the user's biggest day in the daily_baseline_days before, when no hour of that day alerted already: staging spread over a working day at a few times the usual hourly rate; (3) a bulk or archive export (bulk_pattern) by a user who made none in baseline_days. A nightly scheduled export is its own baseline and stays quiet, as does a month-end export seen the month before and the doubled day of a nightly job whose UTC hour moves at a daylight-saving change. Users in their learning period are left out.
-- tactic: Collection
-- runbook: Look at what was exported (action, customer_id, records, bytes) and from which address and session; compare with the user's ticket or project. If unexplained: suspend the account's sessions, block the export path, preserve the exported files' audit trail, and scope which customers' data left.
-- false_positives: Month-end or audit exports by finance and compliance; a data migration; a new report scheduled under a person's account; a support lead handling a large customer's request.
-- param baseline_days: 30  the history a user is compared with
-- param learning_days: 7  no alert until a user has been seen this long
-- param min_bytes: 500000000  floor: an hour moving less never alerts
-- param min_records: 20000  floor: an hour exporting fewer records never alerts
-- param multiple: 10.0  how far above the user's own 95th percentile an hour must be
-- param daily_baseline_days: 45  the days a day is compared with: long enough to hold last month's month-end
-- param daily_min_bytes: 200000000  floor: a day moving less never alerts
-- param daily_min_records: 5000  floor: a day exporting fewer records never alerts
-- param daily_multiple: 3.0  how far above the user's biggest day a day must be (above 2, so a job run twice in one UTC day stays quiet)
-- param bulk_pattern: (?i)(bulk|export_?all|archive|dump|backup)  actions that export everything at once (a regular expression)
WITH moves AS (
    SELECT user, time, time_ms, coalesce(tool, source) AS tool, action, coalesce(bytes, 0) AS bytes,
           coalesce(records, 0) AS records
    FROM admin
    WHERE user IS NOT NULL
      AND outcome <> 'failure'
      AND (activity_id = 7 OR regexp_like(action, '(?i)(getobject|download|export)'))
    UNION ALL
    SELECT user, time, time_ms, source AS tool, 'vpn session' AS action, bytes_in AS bytes, CAST(0 AS BIGINT) AS records
    FROM auth
    WHERE bytes_in IS NOT NULL AND user IS NOT NULL
),
hourly AS (
    SELECT user, time_ms - time_ms % 3600000 AS hour_ms, sum(bytes) AS bytes, sum(records) AS records,
           count(*) AS actions, min(time) AS first_seen, max(time) AS last_seen, min(tool) AS tool
    FROM moves
    GROUP BY user, time_ms - time_ms % 3600000
),
candidates AS (
    SELECT h.*
    FROM hourly h
    JOIN user_first_seen f ON h.user = f.user
    WHERE (h.bytes > $min_bytes OR h.records > $min_records)
      AND h.hour_ms - f.first_ms >= $learning_days * 86400000
),
history AS (
    SELECT c.user, c.hour_ms, b.bytes, b.records,
           ROW_NUMBER() OVER (PARTITION BY c.user, c.hour_ms ORDER BY b.bytes) AS rn_bytes,
           ROW_NUMBER() OVER (PARTITION BY c.user, c.hour_ms ORDER BY b.records) AS rn_records,
           COUNT(*) OVER (PARTITION BY c.user, c.hour_ms) AS hours
    FROM candidates c
    JOIN hourly b
      ON b.user = c.user
     AND b.hour_ms < c.hour_ms - c.hour_ms % 86400000
     AND b.hour_ms >= c.hour_ms - c.hour_ms % 86400000 - $baseline_days * 86400000
),
p95 AS (
    SELECT user, hour_ms,
           max(CASE WHEN rn_bytes = CAST(ceil(0.95 * hours) AS BIGINT) THEN bytes END) AS p95_bytes,
           max(CASE WHEN rn_records = CAST(ceil(0.95 * hours) AS BIGINT) THEN records END) AS p95_records,
           max(hours) AS hours
    FROM history
    GROUP BY user, hour_ms
),
loud_hours AS (
    SELECT c.*, coalesce(p.p95_bytes, 0) AS p95_bytes, coalesce(p.p95_records, 0) AS p95_records
    FROM candidates c
    LEFT JOIN p95 p ON p.user = c.user AND p.hour_ms = c.hour_ms
    WHERE (c.bytes > $min_bytes AND c.bytes > $multiple * coalesce(p.p95_bytes, 0))
       OR (c.records > $min_records AND c.records > $multiple * coalesce(p.p95_records, 0))
),
volume_alerts AS (
    SELECT user, first_seen, last_seen,
           concat(user, ' exported ', CAST(round(bytes / 1000000.0) AS BIGINT), ' MB and ',
                  CAST(records AS VARCHAR), ' records in one hour (', CAST(actions AS VARCHAR), ' actions in ', tool,
                  '; 95th percentile ', CAST(round(p95_bytes / 1000000.0) AS BIGINT), ' MB and ',
                  CAST(p95_records AS VARCHAR), ' records/hour)') AS summary,
           concat('volume:', CAST(hour_ms AS VARCHAR)) AS alert_key,
           'hourly volume' AS finding, tool, CAST(NULL AS VARCHAR) AS action,
           CAST(bytes AS BIGINT) AS bytes, CAST(records AS BIGINT) AS records,
           CAST(p95_bytes AS BIGINT) AS baseline_p95_bytes,
           CAST(p95_records AS BIGINT) AS baseline_p95_records,
           CAST(NULL AS BIGINT) AS baseline_max_day_bytes, CAST(NULL AS BIGINT) AS baseline_max_day_records,
           CAST(NULL AS BIGINT) AS active_hours
    FROM loud_hours
),
daily AS (
    SELECT user, hour_ms - hour_ms % 86400000 AS day_ms, sum(bytes) AS bytes, sum(records) AS records,
           sum(actions) AS actions, count(*) AS hours, min(first_seen) AS first_seen, max(last_seen) AS last_seen,
           min(tool) AS tool
    FROM hourly
    GROUP BY user, hour_ms - hour_ms % 86400000
),
day_candidates AS (
    SELECT d.*
    FROM daily d
    JOIN user_first_seen f ON d.user = f.user
    WHERE (d.bytes > $daily_min_bytes OR d.records > $daily_min_records)
      AND d.day_ms - f.first_ms >= $learning_days * 86400000
),
day_history AS (
    SELECT c.user, c.day_ms, max(b.bytes) AS max_bytes, max(b.records) AS max_records
    FROM day_candidates c
    JOIN daily b
      ON b.user = c.user
     AND b.day_ms < c.day_ms
     AND b.day_ms >= c.day_ms - $daily_baseline_days * 86400000
    GROUP BY c.user, c.day_ms
),
loud_days AS (
    SELECT DISTINCT user, hour_ms - hour_ms % 86400000 AS day_ms FROM loud_hours
),
daily_alerts AS (
    SELECT c.user, c.first_seen, c.last_seen,
           concat(c.user, ' exported ', CAST(round(c.bytes / 1000000.0) AS BIGINT), ' MB and ',
                  CAST(c.records AS VARCHAR), ' records in one day over ', CAST(c.hours AS VARCHAR), ' hours (',
                  CAST(c.actions AS VARCHAR), ' actions in ', c.tool, '; biggest day in ',
                  CAST($daily_baseline_days AS VARCHAR), ' days ',
                  CAST(round(coalesce(h.max_bytes, 0) / 1000000.0) AS BIGINT), ' MB and ',
                  CAST(coalesce(h.max_records, 0) AS VARCHAR), ' records)') AS summary,
           concat('daily:', CAST(c.day_ms AS VARCHAR)) AS alert_key,
           'daily volume' AS finding, c.tool, CAST(NULL AS VARCHAR) AS action,
           CAST(c.bytes AS BIGINT) AS bytes, CAST(c.records AS BIGINT) AS records,
           CAST(NULL AS BIGINT) AS baseline_p95_bytes, CAST(NULL AS BIGINT) AS baseline_p95_records,
           CAST(coalesce(h.max_bytes, 0) AS BIGINT) AS baseline_max_day_bytes,
           CAST(coalesce(h.max_records, 0) AS BIGINT) AS baseline_max_day_records,
           CAST(c.hours AS BIGINT) AS active_hours
    FROM day_candidates c
    LEFT JOIN day_history h ON h.user = c.user AND h.day_ms = c.day_ms
    LEFT JOIN loud_days l ON l.user = c.user AND l.day_ms = c.day_ms
    WHERE l.user IS NULL
      AND ((c.bytes > $daily_min_bytes AND c.bytes > $daily_multiple * coalesce(h.max_bytes, 0))
        OR (c.records > $daily_min_records AND c.records > $daily_multiple * coalesce(h.max_records, 0)))
),
bulk AS (
    SELECT m.*, LAG(m.time_ms) OVER (PARTITION BY m.user ORDER BY m.time_ms, m.action) AS prev_bulk_ms
    FROM moves m
    WHERE regexp_like(m.action, $bulk_pattern)
),
bulk_alerts AS (
    SELECT b.user, b.time AS first_seen, b.time AS last_seen,
           concat(b.user, ' ran a bulk export (', b.action, ' in ', b.tool, ': ',
                  CAST(round(b.bytes / 1000000.0) AS BIGINT), ' MB, ', CAST(b.records AS VARCHAR),
                  ' records), the first in ', CAST($baseline_days AS VARCHAR), ' days') AS summary,
           concat('bulk:', b.action, '@', CAST(b.time_ms AS VARCHAR)) AS alert_key,
           'first bulk export' AS finding, b.tool, b.action,
           CAST(b.bytes AS BIGINT) AS bytes, CAST(b.records AS BIGINT) AS records,
           CAST(NULL AS BIGINT) AS baseline_p95_bytes, CAST(NULL AS BIGINT) AS baseline_p95_records,
           CAST(NULL AS BIGINT) AS baseline_max_day_bytes, CAST(NULL AS BIGINT) AS baseline_max_day_records,
           CAST(NULL AS BIGINT) AS active_hours
    FROM bulk b
    JOIN user_first_seen f ON b.user = f.user
    WHERE (b.prev_bulk_ms IS NULL OR b.time_ms - b.prev_bulk_ms > $baseline_days * 86400000)
      AND b.time_ms - f.first_ms >= $learning_days * 86400000
)
SELECT * FROM volume_alerts
UNION ALL
SELECT * FROM daily_alerts
UNION ALL
SELECT * FROM bulk_alerts
ORDER BY user, first_seen, alert_key
