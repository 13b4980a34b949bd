//! GeoIP on databases the tests build themselves: an ip-location-db city and ASN CSV, and
//! a MaxMind DB (`.mmdb`, format 2.0) written here byte by byte and read through the
//! `maxminddb` crate, as GeoLite2 is.

use std::net::IpAddr;

use midgame_lake::geoip::{GeoIp, Location};

// --- A minimal MaxMind DB writer (https://maxmind.github.io/MaxMind-DB/). ---

fn control(kind: u8, size: usize) -> Vec<u8> {
    let (first, extra): (u8, Vec<u8>) = match size {
        s if s < 29 => (u8::try_from(s).unwrap(), vec![]),
        s if s < 285 => (29, vec![u8::try_from(s - 29).unwrap()]),
        s => (30, u16::try_from(s - 285).unwrap().to_be_bytes().to_vec()),
    };
    let mut out = if kind <= 7 {
        vec![(kind << 5) | first]
    } else {
        vec![first, kind - 7]
    };
    out.extend(extra);
    out
}

fn string(s: &str) -> Vec<u8> {
    let mut out = control(2, s.len());
    out.extend(s.as_bytes());
    out
}

fn double(v: f64) -> Vec<u8> {
    let mut out = control(3, 8);
    out.extend(v.to_be_bytes());
    out
}

fn unsigned(kind: u8, v: u64) -> Vec<u8> {
    let bytes: Vec<u8> = v
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    let mut out = control(kind, bytes.len());
    out.extend(bytes);
    out
}

fn map(pairs: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = control(7, pairs.len());
    for (k, v) in pairs {
        out.extend(string(k));
        out.extend(v);
    }
    out
}

fn array(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = control(11, items.len());
    for i in items {
        out.extend(i);
    }
    out
}

/// An IPv4 database of `(network, prefix length, record)`, 24-bit records.
fn mmdb(networks: &[([u8; 4], u32, Vec<u8>)]) -> Vec<u8> {
    #[derive(Clone, Copy)]
    enum Rec {
        Empty,
        Node(usize),
        Data(usize),
    }
    let mut nodes: Vec<[Rec; 2]> = vec![[Rec::Empty; 2]];
    let mut data: Vec<u8> = Vec::new();
    for (net, len, record) in networks {
        let offset = data.len();
        data.extend(record);
        let bits = u32::from_be_bytes(*net);
        let mut node = 0;
        for i in 0..*len {
            let b = ((bits >> (31 - i)) & 1) as usize;
            if i + 1 == *len {
                nodes[node][b] = Rec::Data(offset);
            } else {
                node = match nodes[node][b] {
                    Rec::Node(n) => n,
                    _ => {
                        nodes.push([Rec::Empty; 2]);
                        let n = nodes.len() - 1;
                        nodes[node][b] = Rec::Node(n);
                        n
                    }
                };
            }
        }
    }
    let count = nodes.len();
    let mut out = Vec::new();
    for n in &nodes {
        for r in n {
            let v = match *r {
                Rec::Empty => count,
                Rec::Node(i) => i,
                Rec::Data(off) => count + 16 + off,
            };
            out.extend(&u32::try_from(v).unwrap().to_be_bytes()[1..]);
        }
    }
    out.extend([0_u8; 16]);
    out.extend(data);
    out.extend(b"\xAB\xCD\xEFMaxMind.com");
    out.extend(map(&[
        ("binary_format_major_version", unsigned(5, 2)),
        ("binary_format_minor_version", unsigned(5, 0)),
        ("build_epoch", unsigned(9, 1_659_600_000)),
        ("database_type", string("midgame-Test-City")),
        (
            "description",
            map(&[("en", string("midgame test database"))]),
        ),
        ("ip_version", unsigned(5, 4)),
        ("languages", array(&[string("en")])),
        ("node_count", unsigned(6, count as u64)),
        ("record_size", unsigned(5, 24)),
    ]));
    out
}

fn city(name: &str, iso: &str, lat: f64, lon: f64, radius: u64) -> Vec<u8> {
    map(&[
        (
            "city",
            map(&[("names", map(&[("en", string(name)), ("de", string("x"))]))]),
        ),
        ("country", map(&[("iso_code", string(iso))])),
        (
            "location",
            map(&[
                ("accuracy_radius", unsigned(5, radius)),
                ("latitude", double(lat)),
                ("longitude", double(lon)),
                ("time_zone", string("Europe/Amsterdam")),
            ]),
        ),
    ])
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn a_maxmind_database_locates_addresses_with_their_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("city.mmdb");
    std::fs::write(
        &path,
        mmdb(&[
            (
                [164, 92, 190, 0],
                24,
                city("Amsterdam", "NL", 52.3759, 4.8975, 20),
            ),
            (
                [198, 18, 40, 0],
                22,
                city("Oakland", "US", 37.8044, -122.2712, 50),
            ),
        ]),
    )
    .unwrap();
    let asn_path = dir.path().join("asn.mmdb");
    std::fs::write(
        &asn_path,
        mmdb(&[(
            [164, 92, 0, 0],
            16,
            map(&[
                ("autonomous_system_number", unsigned(6, 14061)),
                ("autonomous_system_organization", string("DIGITALOCEAN-ASN")),
            ]),
        )]),
    )
    .unwrap();
    let g = GeoIp::open(&path, Some(&asn_path)).unwrap();
    assert_eq!(
        g.lookup(ip("164.92.190.17")),
        Some(Location {
            lat: Some(52.3759),
            lon: Some(4.8975),
            accuracy_km: Some(20.0),
            city: Some("Amsterdam".into()),
            country: Some("NL".into()),
            asn: Some(14061),
            as_org: Some("DIGITALOCEAN-ASN".into()),
        })
    );
    assert_eq!(
        g.lookup(ip("198.18.43.1")).unwrap().city.as_deref(),
        Some("Oakland")
    );
    assert_eq!(g.lookup(ip("198.18.44.1")), None, "outside the /22");
    assert_eq!(g.lookup(ip("2001:db8::1")), None);
}

#[test]
fn ip_location_db_csv_files_locate_both_families() {
    let dir = tempfile::tempdir().unwrap();
    let city = dir.path().join("dbip-city-ipv4.csv");
    std::fs::write(
        &city,
        "164.92.190.0,164.92.190.255,NL,North Holland,,Amsterdam,1012,52.3759,4.8975,Europe/Amsterdam\n\
         198.18.40.0,198.18.43.255,US,California,,Oakland,94612,37.8044,-122.2712,America/Los_Angeles\n\
         2001:db8::,2001:db8::ffff,de,Hesse,,Frankfurt,60311,50.1109,8.6821,Europe/Berlin\n",
    )
    .unwrap();
    let asn = dir.path().join("asn.csv");
    std::fs::write(&asn, "ip_range_start,ip_range_end,as_number,as_organisation\n164.92.0.0,164.92.255.255,14061,DigitalOcean LLC\n").unwrap();
    let g = GeoIp::open(&city, Some(&asn)).unwrap();
    let a = g.lookup(ip("164.92.190.17")).unwrap();
    assert_eq!(
        (a.city.as_deref(), a.country.as_deref(), a.asn),
        (Some("Amsterdam"), Some("NL"), Some(14061))
    );
    assert_eq!(a.as_org.as_deref(), Some("DigitalOcean LLC"));
    assert_eq!(
        g.lookup(ip("2001:db8::42")).unwrap().country.as_deref(),
        Some("DE")
    );
    assert_eq!(g.lookup(ip("198.18.39.255")), None);
    assert_eq!(
        g.lookup(ip("198.18.43.255")).unwrap().city.as_deref(),
        Some("Oakland")
    );

    // Organisation names holding a comma are quoted, as DB-IP and ip-location-db write
    // them; the whole file used to be refused.
    let quoted = dir.path().join("asn-quoted.csv");
    std::fs::write(
        &quoted,
        "3.0.0.0,3.127.255.255,16509,\"Amazon.com, Inc.\"\n8.8.8.0,8.8.8.255,15169,Google LLC\n",
    )
    .unwrap();
    let g = GeoIp::open(&city, Some(&quoted)).unwrap();
    let a = g.lookup(ip("3.5.140.2")).unwrap();
    assert_eq!(
        (a.asn, a.as_org.as_deref()),
        (Some(16509), Some("Amazon.com, Inc."))
    );

    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "164.92.190.0,164.92.190.255,NL\n").unwrap();
    let err = GeoIp::open(&bad, None).unwrap_err().to_string();
    assert!(err.contains("bad.csv: line 1: 3 fields"), "{err}");
}
