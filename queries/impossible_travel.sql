-- id: impossible_travel
-- title: Impossible travel between consecutive sign-ins
-- severity: high
-- stage: initial-access
-- attack: T1078
-- description: Two consecutive successful sign-ins of one user (any IdP or VPN) farther apart than anyone could travel in the time between them; sign-ins through allow-listed networks (corporate egress, VPN concentrators) say nothing about where the user is and are left out.
-- param max_speed_kmh: 1000  faster than this is not a flight
-- param min_distance_km: 500  closer than this is geolocation noise (mobile carriers, ISP hubs)
WITH signins AS (
    SELECT a.user, a.time, a.time_ms, a.src_ip, a.geo_lat, a.geo_lon, a.geo_city, a.geo_country, a.asn, a.as_org, a.source
    FROM auth a
    LEFT JOIN allowlisted_ip w ON a.src_ip = w.ip
    WHERE a.outcome = 'success'
      AND a.activity = 'Logon'
      AND a.user IS NOT NULL
      AND a.geo_lat IS NOT NULL
      AND a.geo_lon IS NOT NULL
      AND w.ip IS NULL
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
        time, time_ms, src_ip, geo_lat, geo_lon, geo_city, geo_country, asn, as_org
    FROM signins
),
measured AS (
    SELECT
        *,
        2 * 6371.0 * asin(sqrt(
            power(sin(radians(geo_lat - prev_lat) / 2), 2)
            + cos(radians(prev_lat)) * cos(radians(geo_lat)) * power(sin(radians(geo_lon - prev_lon) / 2), 2)
        )) AS distance_km,
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
