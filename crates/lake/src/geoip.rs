//! Where an address is: MaxMind-format `.mmdb` databases (GeoLite2 / GeoIP2 City and
//! ASN, DB-IP City Lite) through the `maxminddb` crate, or the ip-location-db CSV
//! layouts (`ip_range_start,ip_range_end,country_code,state1,state2,city,postcode,
//! latitude,longitude,timezone` for cities, `ip_range_start,ip_range_end,as_number,
//! as_organisation` for networks).
//!
//! Ingest fills the location of rows whose source gave none ([`GeoIp::enrich_auth`],
//! [`GeoIp::enrich_admin`]); locations the source gave (Okta's) are kept.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{Float64Type, Int64Type};
use serde::Deserialize;

/// What is known about an address.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Location {
    /// Latitude.
    pub lat: Option<f64>,
    /// Longitude.
    pub lon: Option<f64>,
    /// Accuracy radius in km.
    pub accuracy_km: Option<f64>,
    /// City (English name).
    pub city: Option<String>,
    /// ISO 3166 alpha-2 country.
    pub country: Option<String>,
    /// Autonomous system number.
    pub asn: Option<i64>,
    /// Autonomous system organisation.
    pub as_org: Option<String>,
}

/// A GeoIP database could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct GeoIpError {
    /// The database file.
    pub path: PathBuf,
    /// What is wrong.
    pub reason: String,
}

enum Db {
    Mmdb(maxminddb::Reader<Vec<u8>>),
    Csv(Vec<(u128, u128, Location)>),
}

/// One or two databases: a city database, and optionally an ASN one.
pub struct GeoIp {
    dbs: Vec<Db>,
}

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GeoIp({} databases)", self.dbs.len())
    }
}

#[derive(Deserialize, Default)]
struct MmRecord<'a> {
    #[serde(borrow, default)]
    city: Option<Named<'a>>,
    #[serde(borrow, default)]
    country: Option<Country<'a>>,
    #[serde(default)]
    location: Option<MmLocation>,
    #[serde(default)]
    autonomous_system_number: Option<u32>,
    #[serde(borrow, default)]
    autonomous_system_organization: Option<&'a str>,
}

#[derive(Deserialize, Default)]
struct Named<'a> {
    #[serde(borrow, default)]
    names: std::collections::BTreeMap<&'a str, &'a str>,
}

#[derive(Deserialize, Default)]
struct Country<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize, Default)]
struct MmLocation {
    #[serde(default)]
    latitude: Option<f64>,
    #[serde(default)]
    longitude: Option<f64>,
    #[serde(default)]
    accuracy_radius: Option<u16>,
}

fn as_u128(ip: IpAddr) -> u128 {
    match ip {
        // IPv4 as IPv4-mapped IPv6, so both families share one order.
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn read_csv(path: &Path, text: &str) -> Result<Vec<(u128, u128, Location)>, GeoIpError> {
    let err = |line: u64, reason: String| GeoIpError {
        path: path.to_path_buf(),
        reason: format!("line {line}: {reason}"),
    };
    // Quoted fields hold commas (`"Amazon.com, Inc."`, as DB-IP and ip-location-db
    // write organisation names): a real CSV reader, not a split on commas.
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, csv::Position::line);
            err(line, e.to_string())
        })?;
        let line_no = record.position().map_or(0, csv::Position::line);
        let f: Vec<&str> = record.iter().collect();
        if f.iter().all(|s| s.is_empty()) {
            continue;
        }
        if i == 0 && f[0].parse::<IpAddr>().is_err() {
            continue; // a header
        }
        let (Some(a), Some(b)) = (f.first(), f.get(1)) else {
            return Err(err(
                line_no,
                "expected ip_range_start,ip_range_end,...".into(),
            ));
        };
        let start: IpAddr = a
            .parse()
            .map_err(|_| err(line_no, format!("{a:?} is not an address")))?;
        let end: IpAddr = b
            .parse()
            .map_err(|_| err(line_no, format!("{b:?} is not an address")))?;
        let text = |k: usize| f.get(k).filter(|s| !s.is_empty()).map(|s| (*s).to_owned());
        let loc = match f.len() {
            // ASN layout.
            4 => Location {
                asn: f[2].parse().ok(),
                as_org: text(3),
                ..Location::default()
            },
            n if n >= 9 => Location {
                country: text(2).map(|c| c.to_ascii_uppercase()),
                city: text(5),
                lat: f[7].parse().ok(),
                lon: f[8].parse().ok(),
                ..Location::default()
            },
            n => {
                return Err(err(
                    line_no,
                    format!("{n} fields: expected the ip-location-db city (10) or ASN (4) layout"),
                ));
            }
        };
        out.push((as_u128(start), as_u128(end), loc));
    }
    out.sort_by_key(|r| r.0);
    Ok(out)
}

impl GeoIp {
    /// Open a city database and optionally an ASN database (`.mmdb` recognised by its
    /// metadata marker, anything else read as CSV).
    ///
    /// # Errors
    /// A file cannot be read or is neither format.
    pub fn open(city: &Path, asn: Option<&Path>) -> Result<Self, GeoIpError> {
        let mut dbs = vec![Self::open_one(city)?];
        if let Some(a) = asn {
            dbs.push(Self::open_one(a)?);
        }
        Ok(Self { dbs })
    }

    fn open_one(path: &Path) -> Result<Db, GeoIpError> {
        let bytes = std::fs::read(path).map_err(|e| GeoIpError {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let marker = b"\xAB\xCD\xEFMaxMind.com";
        if bytes.windows(marker.len()).any(|w| w == marker) {
            return maxminddb::Reader::from_source(bytes)
                .map(Db::Mmdb)
                .map_err(|e| GeoIpError {
                    path: path.to_path_buf(),
                    reason: format!("not a readable MaxMind database: {e}"),
                });
        }
        let text = String::from_utf8(bytes).map_err(|_| GeoIpError {
            path: path.to_path_buf(),
            reason: "neither a MaxMind .mmdb nor a CSV text file".into(),
        })?;
        read_csv(path, &text).map(Db::Csv)
    }

    /// Everything the databases know about `ip`.
    #[must_use]
    pub fn lookup(&self, ip: IpAddr) -> Option<Location> {
        let mut found = Location::default();
        let mut any = false;
        for db in &self.dbs {
            let loc = match db {
                Db::Mmdb(r) => {
                    let rec: Option<MmRecord<'_>> = r.lookup(ip).ok()?.decode().ok().flatten();
                    rec.map(|m| Location {
                        lat: m.location.as_ref().and_then(|l| l.latitude),
                        lon: m.location.as_ref().and_then(|l| l.longitude),
                        accuracy_km: m
                            .location
                            .as_ref()
                            .and_then(|l| l.accuracy_radius)
                            .map(f64::from),
                        city: m
                            .city
                            .as_ref()
                            .and_then(|c| c.names.get("en").map(|s| (*s).to_owned())),
                        country: m
                            .country
                            .as_ref()
                            .and_then(|c| c.iso_code)
                            .map(str::to_owned),
                        asn: m.autonomous_system_number.map(i64::from),
                        as_org: m.autonomous_system_organization.map(str::to_owned),
                    })
                }
                Db::Csv(rows) => {
                    let key = as_u128(ip);
                    let i = rows.partition_point(|r| r.0 <= key);
                    i.checked_sub(1)
                        .map(|i| &rows[i])
                        .filter(|r| key <= r.1)
                        .map(|r| r.2.clone())
                }
            };
            if let Some(l) = loc {
                any = true;
                found.lat = found.lat.or(l.lat);
                found.lon = found.lon.or(l.lon);
                found.accuracy_km = found.accuracy_km.or(l.accuracy_km);
                found.city = found.city.or(l.city);
                found.country = found.country.or(l.country);
                found.asn = found.asn.or(l.asn);
                found.as_org = found.as_org.or(l.as_org);
            }
        }
        any.then_some(found)
    }

    fn locate<'a>(
        &self,
        ips: &'a arrow::array::StringArray,
        cache: &mut HashMap<&'a str, Option<Location>>,
        row: usize,
    ) -> Option<Location> {
        if ips.is_null(row) {
            return None;
        }
        let text = ips.value(row);
        cache
            .entry(text)
            .or_insert_with(|| text.trim().parse().ok().and_then(|ip| self.lookup(ip)))
            .clone()
    }

    /// Fill the location columns of `auth` rows whose source located nothing; a row the
    /// source located keeps its location (the ASN is filled when missing either way).
    ///
    /// # Errors
    /// The batch is not of the `auth` schema.
    pub fn enrich_auth(
        &self,
        batch: &RecordBatch,
    ) -> Result<RecordBatch, arrow::error::ArrowError> {
        let col = |name: &str| column(batch, name);
        let ips = col("src_ip")?.as_string::<i32>();
        let lat = col("geo_lat")?.as_primitive::<Float64Type>();
        let lon = col("geo_lon")?.as_primitive::<Float64Type>();
        let acc = col("geo_accuracy_km")?.as_primitive::<Float64Type>();
        let city = col("geo_city")?.as_string::<i32>();
        let country = col("geo_country")?.as_string::<i32>();
        let asn = col("asn")?.as_primitive::<Int64Type>();
        let org = col("as_org")?.as_string::<i32>();
        let mut cache = HashMap::new();
        let n = batch.num_rows();
        let (mut v_lat, mut v_lon, mut v_acc) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut v_city, mut v_country) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut v_asn, mut v_org) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for r in 0..n {
            let has_place = lat.is_valid(r) && lon.is_valid(r);
            let needs = !has_place || asn.is_null(r);
            let found = if needs {
                self.locate(ips, &mut cache, r)
            } else {
                None
            };
            let str_at = |a: &StringArray| a.is_valid(r).then(|| a.value(r).to_owned());
            if has_place {
                v_lat.push(Some(lat.value(r)));
                v_lon.push(Some(lon.value(r)));
                v_acc.push(acc.is_valid(r).then(|| acc.value(r)));
                v_city.push(str_at(city));
                v_country.push(str_at(country));
            } else {
                let f = found.clone().unwrap_or_default();
                v_lat.push(f.lat);
                v_lon.push(f.lon);
                v_acc.push(f.accuracy_km);
                v_city.push(str_at(city).or(f.city));
                v_country.push(str_at(country).or(f.country));
            }
            let f = found.unwrap_or_default();
            v_asn.push(if asn.is_valid(r) {
                Some(asn.value(r))
            } else {
                f.asn
            });
            v_org.push(str_at(org).or(f.as_org));
        }
        let replace: Vec<(&str, ArrayRef)> = vec![
            ("geo_lat", Arc::new(Float64Array::from(v_lat))),
            ("geo_lon", Arc::new(Float64Array::from(v_lon))),
            ("geo_accuracy_km", Arc::new(Float64Array::from(v_acc))),
            ("geo_city", Arc::new(StringArray::from(v_city))),
            ("geo_country", Arc::new(StringArray::from(v_country))),
            ("asn", Arc::new(Int64Array::from(v_asn))),
            ("as_org", Arc::new(StringArray::from(v_org))),
        ];
        replace_columns(batch, replace)
    }

    /// Fill `geo_country` and `asn` of `admin` rows that have none.
    ///
    /// # Errors
    /// The batch is not of the `admin` schema.
    pub fn enrich_admin(
        &self,
        batch: &RecordBatch,
    ) -> Result<RecordBatch, arrow::error::ArrowError> {
        let col = |name: &str| column(batch, name);
        let ips = col("src_ip")?.as_string::<i32>();
        let country = col("geo_country")?.as_string::<i32>();
        let asn = col("asn")?.as_primitive::<Int64Type>();
        let mut cache = HashMap::new();
        let n = batch.num_rows();
        let (mut v_country, mut v_asn) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for r in 0..n {
            let needs = country.is_null(r) || asn.is_null(r);
            let f = if needs {
                self.locate(ips, &mut cache, r)
            } else {
                None
            }
            .unwrap_or_default();
            v_country.push(if country.is_valid(r) {
                Some(country.value(r).to_owned())
            } else {
                f.country
            });
            v_asn.push(if asn.is_valid(r) {
                Some(asn.value(r))
            } else {
                f.asn
            });
        }
        replace_columns(
            batch,
            vec![
                (
                    "geo_country",
                    Arc::new(StringArray::from(v_country)) as ArrayRef,
                ),
                ("asn", Arc::new(Int64Array::from(v_asn))),
            ],
        )
    }
}

fn column<'a>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<&'a ArrayRef, arrow::error::ArrowError> {
    batch
        .column_by_name(name)
        .ok_or_else(|| arrow::error::ArrowError::SchemaError(format!("no column {name}")))
}

fn replace_columns(
    batch: &RecordBatch,
    replace: Vec<(&str, ArrayRef)>,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let schema = batch.schema();
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    for (name, array) in replace {
        let i = schema.index_of(name)?;
        columns[i] = array;
    }
    RecordBatch::try_new(schema, columns)
}
