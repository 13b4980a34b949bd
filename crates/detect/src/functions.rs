//! Security functions for analysts' SQL, vectorised over Arrow arrays:
//! `haversine_km`, `cidr_contains`, `ua_os`, `ua_browser`.
//!
//! Shipped detections do not use them (they stay portable SQL, see LAKE-SCHEMA.md); a
//! cluster deployment registers them in its scheduler and executors under the same
//! names.

use std::net::IpAddr;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, StringArray};
use arrow::datatypes::{DataType, Float64Type};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

use crate::AllowEntry;

/// Name, call and meaning of each function, for `\df`-style listings and docs.
pub const FUNCTIONS: &[(&str, &str)] = &[
    (
        "haversine_km(lat1, lon1, lat2, lon2)",
        "Great-circle distance in km between two points (degrees).",
    ),
    (
        "cidr_contains(cidr, ip)",
        "Whether the address `ip` is inside the range `cidr` (IPv4 or IPv6; a bare address is a /32 or /128). Null when either is null or unreadable.",
    ),
    (
        "ua_os(user_agent)",
        "Operating-system family of a user agent (`Windows`, `Mac OS X`, `iOS`, ...), as ingest fills `os`.",
    ),
    (
        "ua_browser(user_agent)",
        "Browser family of a user agent (`Chrome`, `Safari`, `Firefox`, `Edge`, ...), as ingest fills `browser`.",
    ),
    (
        "sigma_match(raw, path, op, arg)",
        "Whether a field of the original record meets a test (op `re`, `cidr`, `exists`, `null`, `eq`, `lt`, `le`, `gt`, `ge`): keys matched without regard to case, arrays as any element, `a|b` alternatives. Used by rules converted from Sigma.",
    ),
    (
        "sigma_text(raw, path)",
        "The first value at `path` in the original record, as text.",
    ),
    (
        "geoip_city(ip), geoip_country(ip), geoip_lat(ip), geoip_lon(ip), geoip_asn(ip)",
        "What the configured GeoIP databases ([geoip] in midgame.toml) say about an address; registered only when one is configured.",
    ),
];

/// Which field a `geoip_*` function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum GeoField {
    City,
    Country,
    Lat,
    Lon,
    Asn,
}

/// `geoip_<field>(ip)` over a GeoIP database.
#[derive(Debug)]
struct GeoIpFn {
    name: &'static str,
    field: GeoField,
    db: Arc<midgame_lake::geoip::GeoIp>,
    signature: Signature,
}

impl PartialEq for GeoIpFn {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.db, &other.db)
    }
}

impl Eq for GeoIpFn {}

impl std::hash::Hash for GeoIpFn {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for GeoIpFn {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(match self.field {
            GeoField::City | GeoField::Country => DataType::Utf8,
            GeoField::Lat | GeoField::Lon => DataType::Float64,
            GeoField::Asn => DataType::Int64,
        })
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let text = to_utf8(&arrays[0])?;
        let mut cache: std::collections::HashMap<&str, Option<midgame_lake::geoip::Location>> =
            std::collections::HashMap::new();
        let found: Vec<Option<midgame_lake::geoip::Location>> = text
            .as_string::<i32>()
            .iter()
            .map(|v| {
                let v = v?;
                cache
                    .entry(v)
                    .or_insert_with(|| v.trim().parse().ok().and_then(|ip| self.db.lookup(ip)))
                    .clone()
            })
            .collect();
        let out: ArrayRef = match self.field {
            GeoField::City => Arc::new(
                found
                    .iter()
                    .map(|l| l.as_ref().and_then(|l| l.city.clone()))
                    .collect::<StringArray>(),
            ),
            GeoField::Country => Arc::new(
                found
                    .iter()
                    .map(|l| l.as_ref().and_then(|l| l.country.clone()))
                    .collect::<StringArray>(),
            ),
            GeoField::Lat => Arc::new(
                found
                    .iter()
                    .map(|l| l.as_ref().and_then(|l| l.lat))
                    .collect::<Float64Array>(),
            ),
            GeoField::Lon => Arc::new(
                found
                    .iter()
                    .map(|l| l.as_ref().and_then(|l| l.lon))
                    .collect::<Float64Array>(),
            ),
            GeoField::Asn => Arc::new(
                found
                    .iter()
                    .map(|l| l.as_ref().and_then(|l| l.asn))
                    .collect::<arrow::array::Int64Array>(),
            ),
        };
        Ok(ColumnarValue::Array(out))
    }
}

/// `geoip_city`, `geoip_country`, `geoip_lat`, `geoip_lon` and `geoip_asn` over `db`.
#[must_use]
pub fn geoip_functions(db: &Arc<midgame_lake::geoip::GeoIp>) -> Vec<ScalarUDF> {
    [
        ("geoip_city", GeoField::City),
        ("geoip_country", GeoField::Country),
        ("geoip_lat", GeoField::Lat),
        ("geoip_lon", GeoField::Lon),
        ("geoip_asn", GeoField::Asn),
    ]
    .into_iter()
    .map(|(name, field)| {
        ScalarUDF::from(GeoIpFn {
            name,
            field,
            db: Arc::clone(db),
            signature: Signature::string(1, Volatility::Immutable),
        })
    })
    .collect()
}

/// Register the [`geoip_functions`] over `db`.
pub fn register_geoip(ctx: &SessionContext, db: &Arc<midgame_lake::geoip::GeoIp>) {
    for f in geoip_functions(db) {
        ctx.register_udf(f);
    }
}

/// midgame's own scalar functions (those that need no configuration).
#[must_use]
pub fn scalar_functions() -> Vec<ScalarUDF> {
    let mut out = vec![
        ScalarUDF::from(Haversine::new()),
        ScalarUDF::from(CidrContains::new()),
        ScalarUDF::from(UaFamily::new("ua_os", midgame_schema::ua::os_family)),
        ScalarUDF::from(UaFamily::new(
            "ua_browser",
            midgame_schema::ua::browser_family,
        )),
    ];
    out.extend(crate::sigma_fns::functions());
    out
}

/// Register every function in `ctx`.
pub fn register_functions(ctx: &SessionContext) {
    for f in scalar_functions() {
        ctx.register_udf(f);
    }
}

fn to_float(a: &ArrayRef) -> Result<ArrayRef> {
    Ok(arrow::compute::cast(a, &DataType::Float64)?)
}

fn to_utf8(a: &ArrayRef) -> Result<ArrayRef> {
    Ok(arrow::compute::cast(a, &DataType::Utf8)?)
}

/// `haversine_km(lat1, lon1, lat2, lon2)`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Haversine {
    signature: Signature,
}

impl Haversine {
    fn new() -> Self {
        Self {
            signature: Signature::uniform(4, vec![DataType::Float64], Volatility::Immutable),
        }
    }
}

/// Great-circle distance in km (mean Earth radius 6,371 km).
#[must_use]
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().min(1.0).asin()
}

impl ScalarUDFImpl for Haversine {
    fn name(&self) -> &'static str {
        "haversine_km"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let f: Vec<ArrayRef> = arrays.iter().map(to_float).collect::<Result<_>>()?;
        let [a, b, c, d] = [0, 1, 2, 3].map(|i| f[i].as_primitive::<Float64Type>());
        let out: Float64Array = (0..a.len())
            .map(|i| {
                (a.is_valid(i) && b.is_valid(i) && c.is_valid(i) && d.is_valid(i))
                    .then(|| haversine_km(a.value(i), b.value(i), c.value(i), d.value(i)))
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// `cidr_contains(cidr, ip)`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CidrContains {
    signature: Signature,
}

impl CidrContains {
    fn new() -> Self {
        Self {
            signature: Signature::string(2, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for CidrContains {
    fn name(&self) -> &'static str {
        "cidr_contains"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        // The common call has a constant range: parse it once.
        let constant = match &args.args[0] {
            ColumnarValue::Scalar(s) => Some(
                s.try_as_str()
                    .flatten()
                    .and_then(|t| AllowEntry::parse(t, "").ok()),
            ),
            ColumnarValue::Array(_) => None,
        };
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let ranges = to_utf8(&arrays[0])?;
        let ranges = ranges.as_string::<i32>();
        let ips = to_utf8(&arrays[1])?;
        let ips = ips.as_string::<i32>();
        let out: BooleanArray = (0..ips.len())
            .map(|i| {
                if ranges.is_null(i) || ips.is_null(i) {
                    return None;
                }
                let ip = ips.value(i).trim().parse::<IpAddr>().ok()?;
                match &constant {
                    Some(entry) => entry.as_ref().map(|e| e.contains(&ip)),
                    None => AllowEntry::parse(ranges.value(i), "")
                        .ok()
                        .map(|e| e.contains(&ip)),
                }
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// `ua_os(user_agent)` and `ua_browser(user_agent)`.
#[derive(Debug)]
struct UaFamily {
    name: &'static str,
    family: fn(&str) -> Option<&'static str>,
    signature: Signature,
}

impl PartialEq for UaFamily {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for UaFamily {}

impl std::hash::Hash for UaFamily {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl UaFamily {
    fn new(name: &'static str, family: fn(&str) -> Option<&'static str>) -> Self {
        Self {
            name,
            family,
            signature: Signature::string(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for UaFamily {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let text = to_utf8(&arrays[0])?;
        let out: StringArray = text
            .as_string::<i32>()
            .iter()
            .map(|v| v.and_then(self.family))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_functions_answer_in_sql() {
        let ctx = SessionContext::new();
        register_functions(&ctx);
        let sql = "SELECT round(haversine_km(37.7749, -122.4194, 52.3676, 4.9041)) AS d, \
                   cidr_contains('198.51.100.0/24', ip) AS inside, \
                   cidr_contains('2001:db8::/32', '2001:db8::1') AS v6, \
                   cidr_contains(NULL, ip) AS nothing, \
                   ua_os('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/104.0.0.0 Safari/537.36') AS os, \
                   ua_browser('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/104.0.0.0 Safari/537.36') AS browser \
                   FROM (VALUES ('198.51.100.77'), ('198.51.101.1'), ('not an ip')) AS t(ip)";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        let rows: Vec<&str> = text.lines().skip(3).take(3).collect();
        assert_eq!(
            rows,
            [
                "| 8773.0 | true   | true |         | Windows | Chrome  |",
                "| 8773.0 | false  | true |         | Windows | Chrome  |",
                "| 8773.0 |        | true |         | Windows | Chrome  |",
            ],
            "{text}"
        );
    }
}
