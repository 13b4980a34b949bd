-- id: shared_mfa_factor
-- title: One phone number, email address or device receiving the MFA codes of several accounts
-- severity: high
-- stage: initial-access
-- attack: T1098.005
-- description: A phone number or email address that one-time codes went to (Okta system.sms/voice/email events), or an Okta Verify device added (device.user.add), for at least min_users distinct accounts within window_days: an intruder enrolling their own phone as the factor of every account they took (0ktapus reused one phone). One alert per account, naming the others.
-- tactic: Persistence
-- runbook: Find the factor on each account named (Okta admin: People > the user > Authenticators) and remove it; reset those accounts' passwords and end their sessions. Ask each user whether the number or device is theirs: a family's shared phone is legitimate, an unknown one is not.
-- false_positives: A team's shared on-call phone or shared mailbox used as a factor; a test device enrolled on test accounts; Okta masking phone numbers (two numbers ending alike then look the same: check the numbers in the admin console).
-- param window_days: 30  how far apart the accounts' uses may be
-- param min_users: 2  accounts sharing the factor
WITH uses AS (
    SELECT user, time, time_ms, device_id AS factor, activity, src_ip
    FROM auth
    WHERE activity IN ('MFA Code Sent', 'Device Enroll')
      AND outcome <> 'failure'
      AND user IS NOT NULL
      AND device_id IS NOT NULL
),
per_user AS (
    SELECT factor, user, min(time) AS first_use, max(time) AS last_use,
           min(time_ms) AS first_ms, max(time_ms) AS last_ms
    FROM uses
    GROUP BY factor, user
),
shared AS (
    SELECT p.factor, p.user, p.first_use, p.last_use, p.first_ms,
           count(DISTINCT o.user) AS users,
           string_agg(o.user, ', ' ORDER BY o.user) AS accounts
    FROM per_user p
    JOIN per_user o
      ON o.factor = p.factor
     AND o.first_ms <= p.last_ms + $window_days * 86400000
     AND o.last_ms >= p.first_ms - $window_days * 86400000
    GROUP BY p.factor, p.user, p.first_use, p.last_use, p.first_ms
)
SELECT
    user,
    first_use AS first_seen,
    last_use AS last_seen,
    concat(factor, ' receives the MFA codes of ', CAST(users AS VARCHAR), ' accounts: ', accounts) AS summary,
    factor AS alert_key,
    factor,
    users,
    accounts
FROM shared
WHERE users >= $min_users
ORDER BY user, first_seen, alert_key
