-- id: admin_tampering
-- title: Identity provider tampering by a user who does not usually do it
-- severity: high
-- stage: admin-access
-- attack: T1556
-- description: A change that weakens or opens the identity provider, by a user who made no such change in the previous baseline_days: a sign-on policy or policy rule changed, deactivated or deleted, a network zone deactivated or deleted, an API token created, an identity provider created, an admin role assigned (Okta); a conditional access policy, named location or authentication method policy changed or deleted, a federation or identity provider added, a role member added (Entra ID audit). An intruder with admin access removing what stands in their way or making a way back in.
-- tactic: Defense Evasion
-- runbook: Ask the user, by phone and not by chat, whether they made this change. Look at what changed (midgame sql: SELECT raw FROM auth WHERE file = '<file>' AND line = <line>) and put it back if it was not theirs: restore the policy or zone, revoke the token, remove the identity provider or role. Then treat the account as taken: end its sessions, reset its password and factors, review its other admin actions.
-- false_positives: A new administrator's first changes; a planned policy rollout by someone who rarely touches policies (check the change ticket); automation (Terraform) running under a person's account.
-- param baseline_days: 30  a user who made such a change this recently is a known administrator
-- param learning_days: 7  no alert until a user has been seen this long
WITH changes AS (
    SELECT user, time, time_ms, source, event_type AS action, src_ip, CAST(NULL AS VARCHAR) AS target
    FROM auth
    WHERE source = 'okta'
      AND outcome <> 'failure'
      AND user IS NOT NULL
      AND event_type IN (
          'policy.lifecycle.update', 'policy.lifecycle.deactivate', 'policy.lifecycle.delete',
          'policy.rule.update', 'policy.rule.deactivate', 'policy.rule.delete',
          'application.policy.sign_on.update', 'application.policy.sign_on.rule.delete',
          'zone.deactivate', 'zone.delete',
          'system.api_token.create',
          'system.idp.lifecycle.create',
          'user.account.privilege.grant', 'group.privilege.grant', 'iam.resourceset.bindings.add')
    UNION ALL
    SELECT user, time, time_ms, source, action, src_ip, target_id AS target
    FROM admin
    WHERE source = 'entra'
      AND outcome <> 'failure'
      AND user IS NOT NULL
      AND regexp_like(action, '(?i)^((update|delete|disable) (conditional access policy|named location|authentication methods? policy|policy)|(add|set) (unverified )?domain authentication|set federation settings on domain|add (eligible |scoped )?member to role|add identity provider|add service principal credentials)')
),
seq AS (
    SELECT c.*, LAG(c.time_ms) OVER (PARTITION BY c.user ORDER BY c.time_ms, c.action) AS prev_ms, f.first_ms
    FROM changes c
    JOIN user_first_seen f ON c.user = f.user
)
SELECT
    user,
    time AS first_seen,
    time AS last_seen,
    concat(user, ' made an identity-provider change (', action,
           CASE WHEN target IS NOT NULL THEN concat(' on ', target) ELSE '' END,
           ') from ', coalesce(src_ip, '?'), ', their first in ', CAST($baseline_days AS VARCHAR), ' days') AS summary,
    concat(action, '@', CAST(time_ms AS VARCHAR)) AS alert_key,
    action,
    source,
    target,
    src_ip
FROM seq
WHERE (prev_ms IS NULL OR time_ms - prev_ms > $baseline_days * 86400000)
  AND time_ms - first_ms >= $learning_days * 86400000
ORDER BY user, first_seen, alert_key
