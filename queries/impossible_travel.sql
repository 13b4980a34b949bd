-- id: impossible_travel
-- title: Impossible travel between consecutive sign-ins
-- severity: high
-- stage: initial-access
-- attack: T1078
-- description: Two consecutive successful sign-ins of one user (any IdP or VPN) farther apart than anyone could travel in the time between them, after taking off the locations' accuracy radius where known. Sign-ins through allow-listed networks (corporate egress, VPN concentrators) say nothing about where the user is and are left out, and so are IdP sign-ins from a VPN egress: an address from which at least min_egress_users users signed in to the IdP while each had a VPN session open from another address. (An intruder's address, used by one account only, is never taken for the egress.)
-- tactic: Initial Access
-- runbook: Call the user: where are they, and was the second sign-in theirs? Check both addresses' networks (hosting provider, VPN, mobile carrier) and the devices. If it was not them: end all their sessions, reset their password and MFA factors, and follow the intruder's address through the lake (auth and admin rows with that src_ip).
-- false_positives: A corporate VPN or proxy egress not yet in the allow-list; a mobile carrier or satellite link located far from the user; a shared account; GeoIP errors on newly reassigned address blocks.
-- param max_speed_kmh: 1000  faster than this is not a flight
-- param min_distance_km: 500  closer than this is geolocation noise (mobile carriers, ISP hubs)
-- param vpn_session_hours: 24  a VPN connect with no disconnect counts as open this long
-- param min_egress_users: 2  users seen signing in through an address while on the VPN before it counts as the VPN's egress
WITH vpn_events AS (
    SELECT user, time_ms, activity, src_ip,
           LEAD(time_ms) OVER (PARTITION BY user ORDER BY time_ms, activity) AS next_ms
    FROM auth
    WHERE source IN ('cisco-asa', 'openvpn', 'globalprotect')
      AND activity IN ('Logon', 'Logoff')
      AND outcome = 'success'
      AND user IS NOT NULL
),
vpn_sessions AS (
    SELECT user, time_ms AS start_ms,
           least(coalesce(next_ms, time_ms + $vpn_session_hours * 3600000), time_ms + $vpn_session_hours * 3600000) AS end_ms,
           src_ip AS client_ip
    FROM vpn_events
    WHERE activity = 'Logon'
),
on_vpn AS (
    SELECT a.user, a.src_ip
    FROM auth a
    JOIN vpn_sessions v
      ON v.user = a.user
     AND a.time_ms > v.start_ms
     AND a.time_ms < v.end_ms
     AND a.src_ip <> v.client_ip
    WHERE a.outcome = 'success'
      AND a.activity = 'Logon'
      AND a.source NOT IN ('cisco-asa', 'openvpn', 'globalprotect')
),
vpn_egress AS (
    SELECT src_ip AS ip
    FROM on_vpn
    GROUP BY src_ip
    HAVING count(DISTINCT user) >= $min_egress_users
),
signins AS (
    SELECT a.user, a.time, a.time_ms, a.src_ip, a.geo_lat, a.geo_lon, coalesce(a.geo_accuracy_km, 0.0) AS accuracy_km,
           a.geo_city, a.geo_country, a.asn, a.as_org, a.source
    FROM auth a
    LEFT JOIN allowlisted_ip w ON a.src_ip = w.ip
    LEFT JOIN vpn_egress e ON a.src_ip = e.ip
    WHERE a.outcome = 'success'
      AND a.activity = 'Logon'
      AND a.user IS NOT NULL
      AND a.geo_lat IS NOT NULL
      AND a.geo_lon IS NOT NULL
      AND w.ip IS NULL
      AND e.ip IS NULL
),
pairs AS (
    SELECT
        user,
        LAG(time) OVER (PARTITION BY user ORDER BY time_ms, src_ip) AS prev_time,
        LAG(time_ms) OVER (PARTITION BY user ORDER BY time_ms, src_ip) AS prev_time_ms,
        LAG(src_ip) OVER (PARTITION BY user ORDER BY time_ms, src_ip) AS prev_ip,
        LAG(geo_lat) OVER (PARTITION BY user ORDER BY time_ms, src_ip) AS prev_lat,
        LAG(geo_lon) OVER (PARTITION BY user ORDER BY time_ms, src_ip) AS prev_lon,
        LAG(geo_city) OVER (PARTITION BY user ORDER BY time_ms, src_ip) AS prev_city,
        LAG(geo_country) OVER (PARTITION BY user ORDER BY time_ms, src_ip) AS prev_country,
        LAG(as_org) OVER (PARTITION BY user ORDER BY time_ms, src_ip) AS prev_as_org,
        LAG(accuracy_km) OVER (PARTITION BY user ORDER BY time_ms, src_ip) AS prev_accuracy_km,
        time, time_ms, src_ip, geo_lat, geo_lon, accuracy_km, geo_city, geo_country, asn, as_org
    FROM signins
),
measured AS (
    SELECT
        *,
        greatest(2 * 6371.0 * asin(sqrt(
            power(sin(radians(geo_lat - prev_lat) / 2), 2)
            + cos(radians(prev_lat)) * cos(radians(geo_lat)) * power(sin(radians(geo_lon - prev_lon) / 2), 2)
        )) - prev_accuracy_km - accuracy_km, 0.0) AS distance_km,
        (time_ms - prev_time_ms) / 60000.0 AS minutes
    FROM pairs
    WHERE prev_time_ms IS NOT NULL
),
fast AS (
    SELECT *, distance_km / (greatest(minutes, 1.0) / 60.0) AS speed_kmh
    FROM measured
    WHERE distance_km > $min_distance_km
)
SELECT
    user,
    prev_time AS first_seen,
    time AS last_seen,
    concat(user, ' signed in from ', geo_city, ' ', geo_country, ' ', CAST(round(minutes) AS BIGINT), ' min after ',
           prev_city, ' ', prev_country, ': ', CAST(round(distance_km) AS BIGINT), ' km at ',
           CAST(round(speed_kmh) AS BIGINT), ' km/h') AS summary,
    concat(prev_ip, '>', src_ip, '@', CAST(time_ms AS VARCHAR)) AS alert_key,
    prev_ip AS src_ip_a,
    prev_city AS city_a,
    prev_country AS country_a,
    prev_as_org AS as_org_a,
    src_ip AS src_ip_b,
    geo_city AS city_b,
    geo_country AS country_b,
    as_org AS as_org_b,
    asn AS asn_b,
    CAST(round(distance_km) AS BIGINT) AS distance_km,
    CAST(round(minutes) AS BIGINT) AS minutes,
    CAST(round(speed_kmh) AS BIGINT) AS speed_kmh
FROM fast
WHERE speed_kmh > $max_speed_kmh
ORDER BY user, last_seen, src_ip_b
