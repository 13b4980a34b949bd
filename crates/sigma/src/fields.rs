//! Which table a logsource's events are in, and where each Sigma field is: a lake column
//! holding the same values, or a path into the original record.

use rsigma_parser::ast::LogSource;

use crate::lit;

/// What kind of values a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text.
    Text,
    /// A number.
    Number,
    /// True or false.
    Bool,
}

/// Where a Sigma field's values are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// A column of the table.
    Column(&'static str, Kind),
    /// Paths into the original record (`raw`), alternatives separated by `|`, the first
    /// that has a value taken.
    Raw(String),
    /// Any of several places (a test holds when it holds for one of them).
    Any(Vec<Field>),
}

impl Field {
    pub(crate) fn raw(path: &str) -> Self {
        Field::Raw(path.to_owned())
    }

    /// The field's value as text, in SQL.
    pub(crate) fn text_sql(&self) -> String {
        match self {
            Field::Column(c, Kind::Text) => (*c).to_owned(),
            Field::Column(c, _) => format!("CAST({c} AS VARCHAR)"),
            Field::Raw(p) => format!("sigma_text(raw, {})", lit(p)),
            Field::Any(v) => format!(
                "coalesce({})",
                v.iter().map(Field::text_sql).collect::<Vec<_>>().join(", ")
            ),
        }
    }

    /// The field's value as a number, in SQL.
    pub(crate) fn number_sql(&self) -> String {
        match self {
            Field::Column(c, Kind::Number) => format!("CAST({c} AS DOUBLE)"),
            other => format!("TRY_CAST({} AS DOUBLE)", other.text_sql()),
        }
    }
}

/// Which field mapping a target uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldMap {
    Okta,
    Entra,
    CloudTrail,
}

/// A logsource's rows and field mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The table.
    pub table: &'static str,
    /// The `source` of its rows.
    pub source: &'static str,
    map: FieldMap,
}

impl Target {
    /// Where `name` is.
    #[must_use]
    pub fn field(&self, name: &str) -> Field {
        // The taxonomy's generic names for who and from where, in any logsource.
        match name {
            "User" | "user" => return Field::Column("user", Kind::Text),
            "SourceIP" | "src_ip" | "ClientIP" => return Field::Column("src_ip", Kind::Text),
            _ => {}
        }
        match self.map {
            FieldMap::Okta => okta(name),
            FieldMap::Entra => entra(name),
            FieldMap::CloudTrail => cloudtrail(name),
        }
    }

    /// The column that says what happened.
    #[must_use]
    pub fn what_column(&self) -> &'static str {
        if self.table == "admin" {
            "action"
        } else {
            "event_type"
        }
    }
}

pub(crate) fn target(ls: &LogSource) -> Result<Target, String> {
    let p = ls.product.as_deref().unwrap_or("").to_ascii_lowercase();
    let s = ls.service.as_deref().unwrap_or("").to_ascii_lowercase();
    match (p.as_str(), s.as_str()) {
        ("okta", _) => Ok(Target {
            table: "auth",
            source: "okta",
            map: FieldMap::Okta,
        }),
        ("azure", "signinlogs") => Ok(Target {
            table: "auth",
            source: "entra",
            map: FieldMap::Entra,
        }),
        ("aws", "cloudtrail") => Ok(Target {
            table: "admin",
            source: "cloudtrail",
            map: FieldMap::CloudTrail,
        }),
        _ => Err(format!(
            "logsource product {:?} service {:?} category {:?}: the lake holds okta, azure signinlogs and aws cloudtrail",
            ls.product.as_deref().unwrap_or(""),
            ls.service.as_deref().unwrap_or(""),
            ls.category.as_deref().unwrap_or("")
        )),
    }
}

/// Okta System Log names: the columns ingest fills with the same values; the rest from
/// the record.
fn okta(name: &str) -> Field {
    use Kind::{Bool, Number, Text};
    match name {
        "eventType" => Field::Column("event_type", Text),
        "actor.alternateId" => Field::Column("user_raw", Text),
        "client.ipAddress" => Field::Column("src_ip", Text),
        "client.userAgent.rawUserAgent" => Field::Column("user_agent", Text),
        "securityContext.isProxy" => Field::Column("is_proxy", Bool),
        "securityContext.asNumber" => Field::Column("asn", Number),
        "securityContext.asOrg" => Field::Column("as_org", Text),
        "outcome.reason" => Field::Column("status_detail", Text),
        "authenticationContext.externalSessionId" => Field::Column("session_id", Text),
        "debugContext.debugData.behaviors" => Field::Column("behaviors", Text),
        other => Field::raw(other),
    }
}

/// Entra ID sign-in logs, as Microsoft Sentinel names them (`ResultType`,
/// `DeviceDetail.trustType`): found in the diagnostic-settings shape
/// (`properties.status.errorCode`) or the Graph shape (`status.errorCode`).
fn entra(name: &str) -> Field {
    use Kind::Text;
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "resulttype" => Field::raw("resultType|properties.status.errorCode|status.errorCode"),
        // Sentinel's `Status` is the status object (`errorCode`, `failureReason`,
        // `additionalDetails`), which rules test for `Success` or for words of its details.
        "status" => Field::Any(vec![
            Field::Column("outcome", Text),
            Field::raw("properties.status|status"),
        ]),
        "clientapp" | "clientappused" => Field::raw("properties.clientAppUsed|clientAppUsed"),
        "resultdescription" => Field::raw(
            "resultDescription|properties.status.failureReason|status.failureReason|properties.resultDescription",
        ),
        "username" | "userprincipalname" => Field::Column("user_raw", Text),
        "ipaddress" | "callerippaddress" => Field::Column("src_ip", Text),
        "useragent" => Field::raw("properties.userAgent|userAgent"),
        "appdisplayname" => Field::raw("properties.appDisplayName|appDisplayName"),
        _ => Field::raw(&format!("properties.{name}|{name}")),
    }
}

/// CloudTrail: the record's own names; the source, the call and the address from the
/// columns ingest fills with them (`tool` is `eventSource` as written, `action` is
/// `<service>:<eventName>`).
fn cloudtrail(name: &str) -> Field {
    use Kind::Text;
    match name {
        "eventSource" => Field::Column("tool", Text),
        "eventName" => Field::Column("substr(action, strpos(action, ':') + 1)", Text),
        "sourceIPAddress" => Field::Column("src_ip", Text),
        other => Field::raw(other),
    }
}
