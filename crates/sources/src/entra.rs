//! Microsoft Entra ID (Azure AD) sign-in logs into `auth` rows, audit logs into `admin`.
//!
//! Reads both shapes they are exported in: Azure Monitor diagnostic settings / Event Hub
//! records (`time`, `category`, `properties{...}`) and Microsoft Graph `signIn` and
//! `directoryAudit` objects (the same fields at the top level). Interactive sign-ins are
//! `Logon`, non-interactive ones (token refreshes) `SSO`, service principal and managed
//! identity sign-ins `Service Logon`; a sign-in that failed at its MFA push (error
//! 500121) is `MFA Push Denied` when the user declined or reported it, else `MFA Push`
//! (sent, not approved), as push fatigue reads them. A sign-in Entra's risk detection
//! calls an anonymised address (`anonymizedIPAddress`) is a proxy sign-in. An audit
//! record of a person acting on someone or something else (`Add member to role`,
//! `Update conditional access policy`) is an `admin` row: who (`initiatedBy.user`), what
//! (`activityDisplayName`), on what (`targetResources[0]`); Microsoft's services acting
//! on their own and users' self-service on their own account are skipped.
//! Other Entra records (Graph activity, risk events) are counted as skipped.

use midgame_schema::{AuthBuilder, AuthRow};
use serde::Deserialize;

use crate::lenient::{Flag, List, Num, Obj, Text, Texts};
use crate::{BadRecord, Chunk, ParseOptions, Parsed, country_code};
use midgame_schema::ua;
use midgame_schema::{AdminBuilder, AdminRow};

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
    #[serde(borrow, default, rename = "riskEventTypes_v2")]
    risk_events_v2: Texts<'a>,
    #[serde(borrow, default, rename = "riskEventTypes")]
    risk_events: Texts<'a>,
    #[serde(default, rename = "autonomousSystemNumber")]
    asn: Num,
    /// Present on audit records only.
    #[serde(borrow, default, rename = "activityDisplayName")]
    activity_display: Text<'a>,
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
    #[serde(borrow, default, rename = "additionalDetails")]
    details: Text<'a>,
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
            || (has(b"\"userPrincipalName\"") && has(b"\"createdDateTime\""))
            || (has(b"\"activityDisplayName\"") && has(b"\"initiatedBy\"")))
}

/// Parse every record of a chunk.
#[must_use]
fn parse(chunk: &Chunk, opts: &ParseOptions) -> Parsed {
    let mut auth = opts.auth_builder(chunk.len());
    let mut admin = opts.admin_builder(0);
    let mut bad = Vec::new();
    let mut skipped = 0;
    for rec in chunk.records() {
        match parse_record(rec.text, rec.line, opts, &mut auth, &mut admin) {
            Ok(true) => {}
            Ok(false) => skipped += 1,
            Err(reason) => bad.push(BadRecord::new(rec.line, reason, rec.text)),
        }
    }
    Parsed {
        nulled: auth.take_nulled() + admin.take_nulled(),
        ambiguous: auth.take_ambiguous(),
        auth: (!auth.is_empty()).then(|| auth.finish()),
        admin: (!admin.is_empty()).then(|| admin.finish()),
        bad,
        skipped,
    }
}

/// An audit record's fields (`properties` of the diagnostic-settings shape, or the Graph
/// `directoryAudit` object itself).
#[derive(Deserialize, Default)]
struct Audit<'a> {
    #[serde(borrow, default, rename = "activityDateTime")]
    when: Text<'a>,
    #[serde(borrow, default, rename = "activityDisplayName")]
    activity: Text<'a>,
    #[serde(borrow, default, rename = "loggedByService")]
    service: Text<'a>,
    #[serde(borrow, default)]
    result: Text<'a>,
    #[serde(borrow, default, rename = "correlationId")]
    correlation_id: Text<'a>,
    #[serde(borrow, default, rename = "initiatedBy")]
    initiated_by: Obj<InitiatedBy<'a>>,
    #[serde(borrow, default, rename = "targetResources")]
    targets: List<Target<'a>>,
}

#[derive(Deserialize, Default)]
struct AuditEnvelope<'a> {
    #[serde(borrow, default)]
    time: Text<'a>,
    #[serde(borrow, default)]
    properties: Obj<Audit<'a>>,
    #[serde(flatten, borrow)]
    top: Audit<'a>,
}

#[derive(Deserialize, Default)]
struct InitiatedBy<'a> {
    #[serde(borrow, default)]
    user: Obj<Initiator<'a>>,
}

#[derive(Deserialize, Default)]
struct Initiator<'a> {
    #[serde(borrow, default, rename = "userPrincipalName")]
    upn: Text<'a>,
    #[serde(borrow, default, rename = "ipAddress")]
    ip: Text<'a>,
}

#[derive(Deserialize, Default)]
struct Target<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Text<'a>,
    #[serde(borrow, default, rename = "userPrincipalName")]
    upn: Text<'a>,
    #[serde(borrow, default, rename = "displayName")]
    display_name: Text<'a>,
    #[serde(borrow, default)]
    id: Text<'a>,
}

/// An audit record as an `admin` row.
fn audit_row(
    text: &str,
    line: u64,
    opts: &ParseOptions,
    out: &mut AdminBuilder,
) -> Result<bool, String> {
    let env: AuditEnvelope<'_> =
        serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let a = env.properties.as_ref().unwrap_or(&env.top);
    let Some(action) = a.activity.value() else {
        return Ok(false);
    };
    let when = a
        .when
        .value()
        .or_else(|| env.time.value())
        .ok_or("missing `activityDateTime`")?;
    let time_ms = crate::time::parse_time_ms(when)
        .ok_or_else(|| format!("`activityDateTime` is not a timestamp: {when:?}"))?;
    let by = a.initiated_by.as_ref();
    let person = by.and_then(|b| b.user.as_ref());
    let target = a.targets.0.first();
    // A person's action on someone or something else: what Microsoft's services do on
    // their own (initiated by an app) and what a user does to their own account
    // (self-service password reset, registering their own methods) are not admin work.
    let Some(upn) = person.and_then(|u| u.upn.value()) else {
        return Ok(false);
    };
    if target.and_then(|t| t.upn.value()) == Some(upn) {
        return Ok(false);
    }
    let user_raw = Some(upn);
    let user = user_raw.map(|u| opts.identities.normalise(u));
    out.append(&AdminRow {
        time_ms,
        source: "entra",
        tool: Some(a.service.value().unwrap_or("Entra ID")),
        user: user.as_deref(),
        user_raw,
        src_ip: person.and_then(|u| u.ip.value()),
        session_id: a.correlation_id.value(),
        action,
        activity_id: audit_activity(action),
        target_type: target.and_then(|t| t.kind.value()),
        target_id: target.and_then(|t| {
            t.upn
                .value()
                .or_else(|| t.display_name.value())
                .or_else(|| t.id.value())
        }),
        outcome: match a.result.value().map(str::to_ascii_lowercase).as_deref() {
            Some("success") => "success",
            Some("failure" | "timeout") => "failure",
            _ => "unknown",
        },
        provenance: opts.provenance(line, Some(text)),
        ..AdminRow::default()
    })?;
    Ok(true)
}

/// OCSF API Activity of an audit activity (`Add member to role` is a create, `Update
/// user` an update): its first word.
fn audit_activity(action: &str) -> i32 {
    let verb = action
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match verb.as_str() {
        "add" | "create" | "register" | "invite" | "consent" | "restore" => 1,
        "get" | "list" | "read" | "view" => 2,
        "update" | "set" | "change" | "reset" | "enable" | "disable" | "assign" => 3,
        "delete" | "remove" | "hard" | "revoke" => 4,
        _ => 99,
    }
}

fn parse_record(
    bytes: &[u8],
    line: u64,
    opts: &ParseOptions,
    out: &mut AuthBuilder,
    admin: &mut AdminBuilder,
) -> Result<bool, String> {
    let (text, env): (&str, Envelope<'_>) = crate::json_record(bytes, "an Entra ID record")?;
    let category = env.category.value();
    let audit_shape = env
        .properties
        .as_ref()
        .is_some_and(|p| p.activity_display.value().is_some())
        || env.top.activity_display.value().is_some();
    if category == Some("AuditLogs") || (category.is_none() && audit_shape) {
        return audit_row(text, line, opts, admin);
    }
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
    let status = s.status.as_ref();
    let code = status.and_then(|st| st.error_code.as_i64()).unwrap_or(0);
    let details = status.and_then(|st| st.details.value()).unwrap_or("");
    // 500121: the sign-in stopped at its strong authentication (the push). Entra says why
    // in `additionalDetails`: "MFA denied; user declined the authentication", "...; Phone
    // App Reported Fraud", "...; user did not respond to mobile app notification".
    let mfa_push = (code == 500_121).then(|| {
        let d = details.to_ascii_lowercase();
        if d.contains("declined") || d.contains("fraud") {
            "MFA Push Denied"
        } else {
            "MFA Push"
        }
    });
    let activity = match (mfa_push, category) {
        (Some(push), _) => push,
        (None, Some("NonInteractiveUserSignInLogs")) => "SSO",
        (None, Some(c)) if c.contains("ServicePrincipal") || c.contains("ManagedIdentity") => {
            "Service Logon"
        }
        _ if s.interactive.0 == Some(false) && category.is_none() => "SSO",
        _ => "Logon",
    };
    let user_raw = s.upn.value().or_else(|| s.service_principal.value());
    let user = user_raw.map(|u| opts.identities.normalise(u));
    let device = s.device.as_ref();
    let anonymised = s
        .risk_events_v2
        .0
        .iter()
        .chain(&s.risk_events.0)
        .any(|r| r.value() == Some("anonymizedIPAddress"));
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
        activity_id: if activity == "Logon" || activity == "Service Logon" {
            1
        } else {
            99
        },
        event_type: category.unwrap_or("signIn"),
        activity,
        outcome: if code == 0 { "success" } else { "failure" },
        status_detail: if mfa_push.is_some() && !details.is_empty() {
            Some(details)
        } else {
            detail
        },
        user: user.as_deref(),
        user_raw,
        src_ip: s.ip.value().or_else(|| env.caller_ip.value()),
        geo_lat: coordinates.and_then(|c| c.latitude.0),
        geo_lon: coordinates.and_then(|c| c.longitude.0),
        geo_city: location.and_then(|l| l.city.value()),
        geo_country: location
            .and_then(|l| l.country.value())
            .and_then(country_code),
        asn: s.asn.as_i64(),
        // Entra's own verdict; otherwise it does not say (null, not false).
        is_proxy: anonymised.then_some(true),
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
        is_mfa: if mfa_push.is_some() {
            Some(true)
        } else {
            s.auth_requirement
                .value()
                .map(|r| r == "multiFactorAuthentication")
        },
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
        "Microsoft Entra ID (Azure AD) sign-in and audit logs (diagnostic settings or Graph API)."
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
            "asn",
            "is_proxy",
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
