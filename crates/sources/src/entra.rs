//! Microsoft Entra ID (Azure AD) sign-in logs into `auth` rows.
//!
//! Reads both shapes they are exported in: Azure Monitor diagnostic settings / Event Hub
//! records (`time`, `category`, `properties{...}`) and Microsoft Graph `signIn` objects
//! (the same fields at the top level). Interactive sign-ins are `Logon`, non-interactive
//! ones (token refreshes) `SSO`, service principal and managed identity sign-ins
//! `Service Logon`. Other Entra records (audit logs, Graph activity, risk events) are
//! counted as skipped.

use midgame_schema::{AuthBuilder, AuthRow};
use serde::Deserialize;

use crate::lenient::{Flag, Num, Obj, Text};
use crate::{Chunk, ParseOptions, Parsed, country_code};
use midgame_schema::ua;

#[derive(Deserialize, Default)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    time: Text<'a>,
    #[serde(borrow, default)]
    category: Text<'a>,
    #[serde(borrow, default, rename = "operationName")]
    operation: Text<'a>,
    #[serde(borrow, default, rename = "callerIpAddress")]
    caller_ip: Text<'a>,
    #[serde(borrow, default)]
    properties: Obj<SignIn<'a>>,
    #[serde(flatten, borrow)]
    top: SignIn<'a>,
}

#[derive(Deserialize, Default)]
struct SignIn<'a> {
    #[serde(borrow, default, rename = "createdDateTime")]
    created: Text<'a>,
    #[serde(borrow, default, rename = "userPrincipalName")]
    upn: Text<'a>,
    #[serde(borrow, default, rename = "servicePrincipalName")]
    service_principal: Text<'a>,
    #[serde(borrow, default, rename = "ipAddress")]
    ip: Text<'a>,
    #[serde(borrow, default)]
    location: Obj<Location<'a>>,
    #[serde(borrow, default, rename = "deviceDetail")]
    device: Obj<Device<'a>>,
    #[serde(borrow, default, rename = "appDisplayName")]
    app: Text<'a>,
    #[serde(borrow, default)]
    status: Obj<Status<'a>>,
    #[serde(borrow, default, rename = "conditionalAccessStatus")]
    conditional_access: Text<'a>,
    #[serde(borrow, default, rename = "correlationId")]
    correlation_id: Text<'a>,
    #[serde(borrow, default, rename = "sessionId")]
    session: Text<'a>,
    #[serde(borrow, default, rename = "userAgent")]
    user_agent: Text<'a>,
    #[serde(default, rename = "isInteractive")]
    interactive: Flag,
    #[serde(borrow, default, rename = "authenticationRequirement")]
    auth_requirement: Text<'a>,
    #[serde(borrow, default, rename = "mfaDetail")]
    mfa: Obj<Mfa<'a>>,
    #[serde(borrow, default, rename = "riskLevelDuringSignIn")]
    risk: Text<'a>,
}

#[derive(Deserialize, Default)]
struct Location<'a> {
    #[serde(borrow, default)]
    city: Text<'a>,
    #[serde(borrow, default, rename = "countryOrRegion")]
    country: Text<'a>,
    #[serde(default, rename = "geoCoordinates")]
    coordinates: Obj<Coordinates>,
}

#[derive(Deserialize, Default)]
struct Coordinates {
    #[serde(default)]
    latitude: Num,
    #[serde(default)]
    longitude: Num,
}

#[derive(Deserialize, Default)]
struct Device<'a> {
    #[serde(borrow, default, rename = "deviceId")]
    id: Text<'a>,
    #[serde(borrow, default, rename = "operatingSystem")]
    os: Text<'a>,
    #[serde(borrow, default)]
    browser: Text<'a>,
}

#[derive(Deserialize, Default)]
struct Status<'a> {
    #[serde(default, rename = "errorCode")]
    error_code: Num,
    #[serde(borrow, default, rename = "failureReason")]
    failure_reason: Text<'a>,
}

#[derive(Deserialize, Default)]
struct Mfa<'a> {
    #[serde(borrow, default, rename = "authMethod")]
    method: Text<'a>,
}

/// Whether a record looks like an Entra ID log record.
#[must_use]
fn looks_like(text: &[u8]) -> bool {
    let has = |needle: &[u8]| text.windows(needle.len()).any(|w| w == needle);
    let has_ci = |needle: &[u8]| {
        text.windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    };
    text.first() == Some(&b'{')
        && (has_ci(b"/providers/microsoft.aadiam")
            || has(b"SignInLogs\"")
            || (has(b"\"userPrincipalName\"") && has(b"\"createdDateTime\"")))
}

/// Parse every record of a chunk.
#[must_use]
fn parse(chunk: &Chunk, opts: &ParseOptions) -> Parsed {
    crate::auth_rows(chunk, opts, parse_record)
}

fn parse_record(
    bytes: &[u8],
    line: u64,
    opts: &ParseOptions,
    out: &mut AuthBuilder,
) -> Result<bool, String> {
    let (text, env): (&str, Envelope<'_>) = crate::json_record(bytes, "an Entra ID record")?;
    let category = env.category.value();
    let sign_in_category = category.is_some_and(|c| c.ends_with("SignInLogs"));
    let is_sign_in = sign_in_category
        || env.operation.value() == Some("Sign-in activity")
        || (category.is_none() && env.top.created.value().is_some());
    if !is_sign_in {
        return Ok(false);
    }
    let s = env.properties.as_ref().unwrap_or(&env.top);
    let when = s
        .created
        .value()
        .or_else(|| env.time.value())
        .ok_or("missing `createdDateTime`")?;
    let time_ms = crate::time::parse_time_ms(when)
        .ok_or_else(|| format!("`createdDateTime` is not a timestamp: {when:?}"))?;
    let activity = match category {
        Some("NonInteractiveUserSignInLogs") => "SSO",
        Some(c) if c.contains("ServicePrincipal") || c.contains("ManagedIdentity") => {
            "Service Logon"
        }
        _ if s.interactive.0 == Some(false) && category.is_none() => "SSO",
        _ => "Logon",
    };
    let user_raw = s.upn.value().or_else(|| s.service_principal.value());
    let user = user_raw.map(|u| opts.identities.normalise(u));
    let status = s.status.as_ref();
    let code = status.and_then(|st| st.error_code.as_i64()).unwrap_or(0);
    let device = s.device.as_ref();
    let location = s.location.as_ref();
    let coordinates = location.and_then(|l| l.coordinates.as_ref());
    let agent = s.user_agent.value();
    let risk = s.risk.value().filter(|r| *r != "none" && *r != "hidden");
    let risk_text = risk.map(|r| format!("{{riskLevelDuringSignIn={r}}}"));
    let detail = status
        .and_then(|st| st.failure_reason.value())
        .filter(|_| code != 0)
        .or_else(|| s.conditional_access.value().filter(|c| *c == "failure"));
    out.append(&AuthRow {
        time_ms,
        source: "entra",
        class_uid: 3002,
        activity_id: if activity == "SSO" { 99 } else { 1 },
        event_type: category.unwrap_or("signIn"),
        activity,
        outcome: if code == 0 { "success" } else { "failure" },
        status_detail: detail,
        user: user.as_deref(),
        user_raw,
        src_ip: s.ip.value().or_else(|| env.caller_ip.value()),
        geo_lat: coordinates.and_then(|c| c.latitude.0),
        geo_lon: coordinates.and_then(|c| c.longitude.0),
        geo_city: location.and_then(|l| l.city.value()),
        geo_country: location
            .and_then(|l| l.country.value())
            .and_then(country_code),
        device_id: device.and_then(|d| d.id.value()),
        user_agent: agent,
        os: device
            .and_then(|d| d.os.value())
            .and_then(ua::os_family)
            .or_else(|| agent.and_then(ua::os_family)),
        browser: device
            .and_then(|d| d.browser.value())
            .and_then(ua::browser_family)
            .or_else(|| agent.and_then(ua::browser_family)),
        app: s.app.value(),
        // One browser session keeps its `sessionId` across sign-ins and token refreshes;
        // `correlationId` changes with each sign-in flow and is all older records have.
        session_id: s.session.value().or_else(|| s.correlation_id.value()),
        is_mfa: s
            .auth_requirement
            .value()
            .map(|r| r == "multiFactorAuthentication"),
        mfa_factor: s.mfa.as_ref().and_then(|m| m.method.value()),
        behaviors: risk_text.as_deref(),
        provenance: opts.provenance(line, Some(text)),
        ..AuthRow::default()
    })?;
    Ok(true)
}

/// The `entra` source.
#[derive(Debug, Clone, Copy)]
pub struct Entra;

impl crate::Source for Entra {
    fn name(&self) -> &'static str {
        "entra"
    }

    fn about(&self) -> &'static str {
        "Microsoft Entra ID (Azure AD) sign-in logs (diagnostic settings or Graph API)."
    }

    fn looks_like(&self, record: &[u8]) -> bool {
        looks_like(record)
    }

    fn table(&self) -> &'static str {
        midgame_schema::AUTH
    }

    fn columns(&self) -> &'static [&'static str] {
        &[
            "status_detail",
            "user",
            "user_raw",
            "src_ip",
            "geo_lat",
            "geo_lon",
            "geo_city",
            "geo_country",
            "device_id",
            "user_agent",
            "os",
            "browser",
            "app",
            "session_id",
            "is_mfa",
            "mfa_factor",
            "behaviors",
        ]
    }

    fn parse(&self, chunk: &Chunk, opts: &ParseOptions) -> Parsed {
        parse(chunk, opts)
    }
}
