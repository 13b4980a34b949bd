-- id: proxy_signin
-- title: Sign-in through a proxy or anonymising network
-- severity: medium
-- stage: initial-access
-- attack: T1090.003
-- description: Successful sign-ins, SSOs or MFA verifications of a user from an address the IdP flags as a proxy (Okta isProxy) or whose network (AS organisation) matches anonymiser_pattern (Tor, commercial VPNs); allow-listed networks are left out. One alert per user, address and day.
-- tactic: Command and Control
-- runbook: Look at the address's network: commercial VPN, Tor, hosting provider? Ask the user whether they use a privacy VPN. If not theirs: end the sessions from that address, reset credentials, and search the lake for other users from the same address.
-- false_positives: Employees using a personal privacy VPN or iCloud Private Relay; a security team's own testing from a VPN.
-- param anonymiser_pattern: '(?i)(\btor\b|tor exit|mullvad|nordvpn|expressvpn|private internet access|surfshark|protonvpn|ipvanish|cyberghost|windscribe|hide\.me|m247|datacamp)'  AS organisations of anonymising networks (a regular expression)
WITH hits AS (
    SELECT a.user, a.time, a.time_ms, a.src_ip, a.geo_city, a.geo_country, a.asn, a.as_org, a.is_proxy, a.activity,
           a.time_ms - a.time_ms % 86400000 AS day_ms
    FROM auth a
    LEFT JOIN allowlisted_ip w ON a.src_ip = w.ip
    WHERE a.outcome = 'success'
      AND a.activity IN ('Logon', 'SSO', 'MFA Verify')
      AND a.user IS NOT NULL
      AND w.ip IS NULL
      AND (a.is_proxy = true OR regexp_like(coalesce(a.as_org, ''), $anonymiser_pattern))
)
SELECT
    user,
    min(time) AS first_seen,
    max(time) AS last_seen,
    concat(user, ' signed in through ', CASE WHEN bool_or(is_proxy) THEN 'a proxy' ELSE 'an anonymising network' END,
           ' at ', src_ip, ' (', coalesce(min(as_org), 'unknown network'), ', ', coalesce(min(geo_city), '?'), ' ',
           coalesce(min(geo_country), '?'), '), ', CAST(count(*) AS VARCHAR), ' events') AS summary,
    concat(src_ip, '@', CAST(day_ms AS VARCHAR)) AS alert_key,
    src_ip,
    min(asn) AS asn,
    min(as_org) AS as_org,
    min(geo_city) AS city,
    min(geo_country) AS country,
    bool_or(is_proxy) AS flagged_proxy,
    count(*) AS events
FROM hits
GROUP BY user, src_ip, day_ms
ORDER BY user, first_seen, alert_key
