//! Allow-listed networks (corporate egress, VPN concentrators) as a table detections join.
//!
//! Shipped detections stay plain SQL: instead of a CIDR function, the engine matches the
//! lake's distinct addresses against the configured ranges once and registers the
//! result as the table `allowlisted_ip(ip, reason)`.

use std::net::IpAddr;
use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

/// One allow-listed range and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowEntry {
    net: IpAddr,
    prefix: u8,
    /// The range as written.
    pub cidr: String,
    /// Why it is allow-listed.
    pub reason: String,
}

impl AllowEntry {
    /// Parse `a.b.c.d/len` or an IPv6 CIDR (a bare address is a /32 or /128).
    ///
    /// # Errors
    /// The text is not an address with an optional prefix length in range.
    pub fn parse(cidr: &str, reason: &str) -> Result<Self, String> {
        let (addr, len) = cidr
            .trim()
            .split_once('/')
            .map_or((cidr.trim(), None), |(a, l)| (a, Some(l)));
        let net: IpAddr = addr
            .parse()
            .map_err(|_| format!("{cidr:?} is not an IP address or CIDR range"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match len {
            None => max,
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| format!("{cidr:?}: prefix length must be 0..={max}"))?,
        };
        Ok(Self {
            net,
            prefix,
            cidr: cidr.trim().to_owned(),
            reason: reason.to_owned(),
        })
    }

    /// Whether `ip` is inside the range.
    #[must_use]
    pub fn contains(&self, ip: &IpAddr) -> bool {
        let (a, b, bits) = match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                (u128::from(u32::from(n)), u128::from(u32::from(*i)), 32)
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => (u128::from(n), u128::from(*i), 128),
            _ => return false,
        };
        let host_bits = bits - u32::from(self.prefix);
        if host_bits >= 128 {
            return true;
        }
        (a >> host_bits) == (b >> host_bits)
    }
}

/// Register `allowlisted_ip(ip, reason)`: every distinct `src_ip` of the lake's tables
/// that falls in an allow-listed range. Returns the same as a map from address to reason.
///
/// # Errors
/// Reading the distinct addresses fails.
pub async fn register_allowlist(
    ctx: &SessionContext,
    entries: &[AllowEntry],
) -> Result<std::collections::BTreeMap<String, String>, datafusion::error::DataFusionError> {
    let mut ips = Vec::new();
    let mut reasons = Vec::new();
    if !entries.is_empty() {
        for table in ["auth", "admin"] {
            if !ctx.table_exist(table)? {
                continue;
            }
            let batches = ctx
                .sql(&format!(
                    "SELECT DISTINCT src_ip FROM {table} WHERE src_ip IS NOT NULL"
                ))
                .await?
                .collect()
                .await?;
            for b in &batches {
                let col = arrow::compute::cast(b.column(0), &DataType::Utf8)?;
                for text in col.as_string::<i32>().iter().flatten() {
                    let Ok(ip) = text.parse::<IpAddr>() else {
                        continue;
                    };
                    if let Some(e) = entries.iter().find(|e| e.contains(&ip)) {
                        ips.push(text.to_owned());
                        reasons.push(format!("{} ({})", e.reason, e.cidr));
                    }
                }
            }
        }
    }
    let listed = ips.iter().cloned().zip(reasons.iter().cloned()).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("ip", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(ips)),
            Arc::new(StringArray::from(reasons)),
        ],
    )?;
    ctx.deregister_table("allowlisted_ip")?;
    ctx.register_table(
        "allowlisted_ip",
        Arc::new(MemTable::try_new(schema, vec![vec![batch]])?),
    )?;
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_matching() {
        let e = AllowEntry::parse("198.51.100.0/24", "corporate egress").unwrap();
        assert!(e.contains(&"198.51.100.77".parse().unwrap()));
        assert!(!e.contains(&"198.51.101.1".parse().unwrap()));
        assert!(!e.contains(&"2001:db8::1".parse().unwrap()));
        let all = AllowEntry::parse("0.0.0.0/0", "x").unwrap();
        assert!(all.contains(&"8.8.8.8".parse().unwrap()));
        let v6 = AllowEntry::parse("2001:db8::/32", "x").unwrap();
        assert!(v6.contains(&"2001:db8:1::5".parse().unwrap()));
        assert!(
            AllowEntry::parse("203.0.113.5", "x")
                .unwrap()
                .contains(&"203.0.113.5".parse().unwrap())
        );
        assert!(AllowEntry::parse("198.51.100.0/33", "x").is_err());
        assert!(AllowEntry::parse("corp", "x").is_err());
    }
}
