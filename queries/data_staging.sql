-- id: data_staging
-- title: Data staged for exfiltration: exports far above the user's own hours, or a first bulk export
-- severity: high
-- stage: staging
-- attack: T1074
-- description: (1) A user's bytes or records exported or downloaded in one hour (admin exports and object reads, VPN bytes sent to the client) above both an absolute floor (min_bytes, min_records) and multiple times their own 95th percentile of an active hour over the baseline days before that day; (2) a bulk or archive export (bulk_pattern) by a user who made none in baseline_days. A nightly scheduled export is its own baseline and stays quiet. Users in their learning period are left out.
-- param baseline_days: 30  the history a user is compared with
-- param learning_days: 7  no alert until a user has been seen this long
-- param min_bytes: 500000000  floor: an hour moving less never alerts
-- param min_records: 20000  floor: an hour exporting fewer records never alerts
-- param multiple: 10.0  how far above the user's own 95th percentile an hour must be
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
volume_alerts AS (
    SELECT c.user, c.first_seen, c.last_seen,
           concat(c.user, ' exported ', CAST(round(c.bytes / 1000000.0) AS BIGINT), ' MB and ',
                  CAST(c.records AS VARCHAR), ' records in one hour (', CAST(c.actions AS VARCHAR), ' actions in ', c.tool,
                  '; 95th percentile ', CAST(round(coalesce(p.p95_bytes, 0) / 1000000.0) AS BIGINT), ' MB and ',
                  CAST(coalesce(p.p95_records, 0) AS VARCHAR), ' records/hour)') AS summary,
           concat('volume:', CAST(c.hour_ms AS VARCHAR)) AS alert_key,
           'hourly volume' AS finding, c.tool, CAST(NULL AS VARCHAR) AS action,
           CAST(c.bytes AS BIGINT) AS bytes, CAST(c.records AS BIGINT) AS records,
           CAST(coalesce(p.p95_bytes, 0) AS BIGINT) AS baseline_p95_bytes,
           CAST(coalesce(p.p95_records, 0) AS BIGINT) AS baseline_p95_records
    FROM candidates c
    LEFT JOIN p95 p ON p.user = c.user AND p.hour_ms = c.hour_ms
    WHERE (c.bytes > $min_bytes AND c.bytes > $multiple * coalesce(p.p95_bytes, 0))
       OR (c.records > $min_records AND c.records > $multiple * coalesce(p.p95_records, 0))
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
           CAST(NULL AS BIGINT) AS baseline_p95_bytes, CAST(NULL AS BIGINT) AS baseline_p95_records
    FROM bulk b
    JOIN user_first_seen f ON b.user = f.user
    WHERE (b.prev_bulk_ms IS NULL OR b.time_ms - b.prev_bulk_ms > $baseline_days * 86400000)
      AND b.time_ms - f.first_ms >= $learning_days * 86400000
)
SELECT * FROM volume_alerts
UNION ALL
SELECT * FROM bulk_alerts
ORDER BY user, first_seen, alert_key
