-- id: admin_privilege_grant
-- title: Admin privilege granted by a user who has not granted any in the baseline
-- severity: high
-- stage: admin-access
-- attack: T1098.003
-- description: An IdP privilege grant or impersonation (Okta user/group privilege grant, session impersonation; Entra role member added), a cloud control-plane grant (CloudTrail: an administrator policy attached or written inline to a user, role or group, a user added to an admin group, an access key or console password made for another user) or an admin-tool action granting a role, privilege or permission, by a user who made no such grant in the previous baseline_days: an intruder giving themselves or an accomplice lasting power. The grantee is `target`. Routine grants by the usual administrators stay quiet after their first.
-- tactic: Persistence
-- runbook: Ask the granter, by phone and not by chat, whether they made this grant and why. If not: revoke the grant, end the granter's and grantee's sessions, reset the granter's password and MFA factors, and look for what the grantee did since (midgame sql: SELECT * FROM admin WHERE user = '<grantee>' ORDER BY time).
-- false_positives: A new administrator's first routine grants; a migration script running under a person's account; break-glass access during an outage.
-- param baseline_days: 30  a user who granted something this recently is a known administrator
-- param learning_days: 7  no alert until a user has been seen this long
WITH grants AS (
    SELECT user, time, time_ms, source, event_type AS action, app AS tool, src_ip, CAST(NULL AS VARCHAR) AS target
    FROM auth
    WHERE activity IN ('Privilege Grant', 'Impersonation') AND outcome = 'success' AND user IS NOT NULL
    UNION ALL
    SELECT user, time, time_ms, source, action, tool, src_ip, target_id AS target
    FROM admin
    WHERE outcome <> 'failure'
      AND user IS NOT NULL
      AND regexp_like(action, '(?i)(privilege|role|permission|admin|impersonat)[^a-z]*(grant|assign|add|create|elevate)|(grant|assign|add|elevate)[^a-z]*(privilege|role|permission|admin)|^add (eligible |scoped )?member to role')
    UNION ALL
    -- CloudTrail IAM: what the call grants is in the request (`raw`).
    SELECT user, time, time_ms, source, action, tool, src_ip, target_id AS target
    FROM admin
    WHERE source = 'cloudtrail'
      AND outcome <> 'failure'
      AND user IS NOT NULL
      AND ((action IN ('iam:AttachUserPolicy', 'iam:AttachRolePolicy', 'iam:AttachGroupPolicy')
            AND regexp_like(raw, 'arn:aws:iam::aws:policy/(AdministratorAccess|IAMFullAccess)"'))
        OR (action IN ('iam:PutUserPolicy', 'iam:PutRolePolicy', 'iam:PutGroupPolicy')
            AND regexp_like(raw, '\"Action\"(\s|\n)*:(\s|\n)*\[?(\s|\n)*\"(\*|iam:\*)\"'))
        OR (action = 'iam:AddUserToGroup'
            AND regexp_like(raw, '"groupName"\s*:\s*"[^"]*(?i:admin)'))
        OR (action IN ('iam:CreateAccessKey', 'iam:CreateLoginProfile', 'iam:UpdateLoginProfile')
            AND target_id IS NOT NULL AND lower(target_id) <> lower(coalesce(user_raw, ''))))
),
seq AS (
    SELECT g.*, LAG(g.time_ms) OVER (PARTITION BY g.user ORDER BY g.time_ms, g.action) AS prev_grant_ms, f.first_ms
    FROM grants g
    JOIN user_first_seen f ON g.user = f.user
)
SELECT
    user,
    time AS first_seen,
    time AS last_seen,
    concat(user, ' granted privileges (', action, CASE WHEN target IS NOT NULL THEN concat(' on ', target) ELSE '' END,
           ') from ', coalesce(src_ip, '?'), ', the first grant in ', CAST($baseline_days AS VARCHAR), ' days') AS summary,
    concat(action, '@', CAST(time_ms AS VARCHAR)) AS alert_key,
    action,
    source,
    tool,
    target,
    src_ip
FROM seq
WHERE (prev_grant_ms IS NULL OR time_ms - prev_grant_ms > $baseline_days * 86400000)
  AND time_ms - first_ms >= $learning_days * 86400000
ORDER BY user, first_seen, alert_key
