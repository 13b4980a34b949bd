-- id: idp_threat_verdict
-- title: The identity provider's own verdict: a threat, a phishing attempt, a user's report
-- severity: medium
-- stage: initial-access
-- attack: T1078
-- description: What the IdP itself concluded, passed through with its context: Okta ThreatInsight's security.threat.detected (with its reason, such as Password Spray), FastPass refusing a phishing site (high), a user reporting activity they did not do (high), and Entra sign-ins its risk detection held at high risk. One alert per event.
-- tactic: Initial Access
-- runbook: Read the IdP's reason in the summary. A phishing refusal or a user's report means the password is in someone else's hands: reset it, end the sessions, and look for sign-ins from the address in the evidence. A ThreatInsight detection names an address to block at the network zone; check whether any user signed in from it.
-- false_positives: ThreatInsight flagging a shared egress (a mobile carrier, a cloud NAT) after others' abuse; a user reporting a push they triggered themselves on a second device.
WITH verdicts AS (
    SELECT user, time, time_ms, source, event_type, src_ip, geo_city, geo_country,
           CASE
               WHEN event_type = 'security.threat.detected' THEN concat('Okta ThreatInsight: ', coalesce(status_detail, 'threat detected'))
               WHEN event_type = 'user.account.report_suspicious_activity_by_enduser' THEN 'the user reported activity they did not do'
               WHEN status_detail = 'FastPass declined phishing attempt' THEN 'FastPass refused to sign in to a phishing site'
               ELSE concat('Entra sign-in risk ', coalesce(behaviors, 'high'))
           END AS verdict,
           CASE
               WHEN event_type = 'security.threat.detected' THEN 'medium'
               ELSE 'high'
           END AS severity
    FROM auth
    WHERE event_type IN ('security.threat.detected', 'user.account.report_suspicious_activity_by_enduser')
       OR (source = 'okta' AND status_detail = 'FastPass declined phishing attempt')
       OR (source = 'entra' AND behaviors = '{riskLevelDuringSignIn=high}')
)
SELECT
    coalesce(user, '(unknown)') AS user,
    time AS first_seen,
    time AS last_seen,
    severity,
    concat(coalesce(user, 'someone'), ': ', verdict, ' (', coalesce(src_ip, '?'), ', ',
           coalesce(geo_city, '?'), ' ', coalesce(geo_country, '?'), ')') AS summary,
    concat(event_type, '@', CAST(time_ms AS VARCHAR), '@', coalesce(src_ip, '')) AS alert_key,
    verdict,
    event_type,
    source,
    src_ip
FROM verdicts
ORDER BY user, first_seen, alert_key
