//! Okta System Log events (`/api/v1/logs`, console CSV-less exports, event hooks) into
//! `auth` rows.
//!
//! Field names follow Okta's LogEvent object. Exports re-shaped by other tools sometimes
//! lower-case every key (`eventtype`, `debugcontext`); both spellings are read.

use std::borrow::Cow;

use midgame_schema::{AuthBuilder, AuthRow};
use serde::Deserialize;

use crate::lenient::{Flag, List, Num, Obj, Text};
use crate::{Chunk, ParseOptions, Parsed, country_code};
use midgame_schema::ua;

#[derive(Deserialize, Default)]
struct Event<'a> {
    #[serde(borrow, default)]
    published: Text<'a>,
    #[serde(borrow, default, rename = "eventType", alias = "eventtype")]
    event_type: Text<'a>,
    #[serde(borrow, default)]
    actor: Obj<Actor<'a>>,
    #[serde(borrow, default)]
    client: Obj<Client<'a>>,
    #[serde(borrow, default)]
    outcome: Obj<Outcome<'a>>,
    #[serde(borrow, default, rename = "securityContext", alias = "securitycontext")]
    security_context: Obj<SecurityContext<'a>>,
    #[serde(borrow, default, rename = "debugContext", alias = "debugcontext")]
    debug_context: Obj<DebugContext<'a>>,
    #[serde(
        borrow,
        default,
        rename = "authenticationContext",
        alias = "authenticationcontext"
    )]
    authentication_context: Obj<AuthenticationContext<'a>>,
    #[serde(borrow, default)]
    device: Obj<Device<'a>>,
    #[serde(borrow, default)]
    target: List<Target<'a>>,
    #[serde(borrow, default)]
    request: Obj<Request<'a>>,
}

#[derive(Deserialize, Default)]
struct Actor<'a> {
    #[serde(borrow, default, rename = "alternateId", alias = "alternateid")]
    alternate_id: Text<'a>,
}

#[derive(Deserialize, Default)]
struct Client<'a> {
    #[serde(borrow, default, rename = "ipAddress", alias = "ipaddress")]
    ip_address: Text<'a>,
    #[serde(borrow, default, rename = "userAgent", alias = "useragent")]
    user_agent: Obj<UserAgent<'a>>,
    #[serde(
        borrow,
        default,
        rename = "geographicalContext",
        alias = "geographicalcontext"
    )]
    geo: Obj<Geo<'a>>,
}

#[derive(Deserialize, Default)]
struct UserAgent<'a> {
    #[serde(borrow, default, rename = "rawUserAgent", alias = "rawuseragent")]
    raw: Text<'a>,
    #[serde(borrow, default)]
    os: Text<'a>,
    #[serde(borrow, default)]
    browser: Text<'a>,
}

#[derive(Deserialize, Default)]
struct Geo<'a> {
    #[serde(borrow, default)]
    city: Text<'a>,
    #[serde(borrow, default)]
    country: Text<'a>,
    #[serde(default)]
    geolocation: Obj<LatLon>,
}

#[derive(Deserialize, Default)]
struct LatLon {
    #[serde(default)]
    lat: Num,
    #[serde(default)]
    lon: Num,
}

#[derive(Deserialize, Default)]
struct Outcome<'a> {
    #[serde(borrow, default)]
    result: Text<'a>,
    #[serde(borrow, default)]
    reason: Text<'a>,
}

#[derive(Deserialize, Default)]
struct SecurityContext<'a> {
    #[serde(default, rename = "asNumber", alias = "asnumber")]
    as_number: Num,
    #[serde(borrow, default, rename = "asOrg", alias = "asorg")]
    as_org: Text<'a>,
    #[serde(default, rename = "isProxy", alias = "isproxy")]
    is_proxy: Flag,
}

#[derive(Deserialize, Default)]
struct DebugContext<'a> {
    #[serde(borrow, default, rename = "debugData", alias = "debugdata")]
    debug_data: Obj<DebugData<'a>>,
}

#[derive(Deserialize, Default)]
struct DebugData<'a> {
    #[serde(
        borrow,
        default,
        rename = "deviceFingerprint",
        alias = "devicefingerprint"
    )]
    device_fingerprint: Text<'a>,
    #[serde(borrow, default, rename = "dtHash", alias = "dthash")]
    dt_hash: Text<'a>,
    #[serde(borrow, default)]
    behaviors: Text<'a>,
    #[serde(borrow, default)]
    factor: Text<'a>,
}

#[derive(Deserialize, Default)]
struct AuthenticationContext<'a> {
    #[serde(
        borrow,
        default,
        rename = "externalSessionId",
        alias = "externalsessionid"
    )]
    external_session_id: Text<'a>,
    #[serde(borrow, default, rename = "credentialType", alias = "credentialtype")]
    credential_type: Text<'a>,
}

#[derive(Deserialize, Default)]
struct Device<'a> {
    #[serde(borrow, default)]
    id: Text<'a>,
}

#[derive(Deserialize, Default)]
struct Target<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Text<'a>,
    #[serde(borrow, default, rename = "displayName", alias = "displayname")]
    display_name: Text<'a>,
    #[serde(borrow, default, rename = "alternateId", alias = "alternateid")]
    alternate_id: Text<'a>,
    #[serde(borrow, default)]
    id: Text<'a>,
}

#[derive(Deserialize, Default)]
struct Request<'a> {
    #[serde(borrow, default, rename = "ipChain", alias = "ipchain")]
    ip_chain: List<IpChainEntry<'a>>,
}

#[derive(Deserialize, Default)]
struct IpChainEntry<'a> {
    #[serde(borrow, default)]
    ip: Text<'a>,
}

/// Whether a record looks like an Okta System Log event.
#[must_use]
fn looks_like(text: &[u8]) -> bool {
    let has = |needle: &[u8]| {
        text.windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    };
    text.first() == Some(&b'{') && has(b"\"eventType\"") && has(b"\"published\"")
}

/// OCSF class, activity id and activity name of an Okta `eventType`.
#[must_use]
pub fn classify(event_type: &str) -> (i32, i32, &'static str) {
    match event_type {
        "user.session.start" => (3002, 1, "Logon"),
        "user.session.end" | "logout" | "user.session.clear" => (3002, 2, "Logoff"),
        // OCSF 3002's 4 is a Kerberos service ticket request: an SSO into an app is
        // "Other", named.
        "user.authentication.sso" => (3002, 99, "SSO"),
        "user.authentication.auth_via_mfa" => (3002, 99, "MFA Verify"),
        "system.push.send_factor_verify_push" => (3002, 99, "MFA Push"),
        "user.mfa.okta_verify.deny_push" | "user.mfa.okta_verify.deny_push_upgrade_needed" => {
            (3002, 99, "MFA Push Denied")
        }
        "user.mfa.attempt_bypass" => (3002, 99, "MFA Bypass Attempt"),
        "policy.evaluate_sign_on" => (3002, 99, "Sign-on Policy"),
        "user.session.access_admin_app" => (3002, 99, "Admin App Access"),
        "user.session.impersonation.grant" | "user.session.impersonation.initiate" => {
            (3005, 1, "Impersonation")
        }
        "user.mfa.factor.activate" | "system.mfa.factor.activate" => (3001, 10, "MFA Enroll"),
        "user.mfa.factor.deactivate"
        | "system.mfa.factor.deactivate"
        | "user.mfa.factor.suspend" => (3001, 11, "MFA Remove"),
        "user.mfa.factor.reset_all" => (3001, 11, "MFA Reset"),
        "user.mfa.factor.update" => (3001, 99, "MFA Update"),
        "user.account.lock" | "user.account.lock.limit" => (3001, 9, "Account Lock"),
        "user.account.unlock" | "user.account.unlock_by_admin" => (3001, 99, "Account Unlock"),
        "user.account.update_password" => (3001, 3, "Password Change"),
        "user.account.reset_password" | "user.credential.forgot_password" => {
            (3001, 4, "Password Reset")
        }
        "user.lifecycle.create" => (3001, 1, "Account Create"),
        "user.lifecycle.activate" | "user.lifecycle.reactivate" => (3001, 2, "Account Enable"),
        "user.lifecycle.deactivate" | "user.lifecycle.suspend" => (3001, 5, "Account Disable"),
        "user.lifecycle.delete.initiated" | "user.lifecycle.delete.completed" => {
            (3001, 6, "Account Delete")
        }
        "user.account.privilege.grant" | "group.privilege.grant" => (3005, 1, "Privilege Grant"),
        "user.account.privilege.revoke" | "group.privilege.revoke" => (3005, 2, "Privilege Revoke"),
        "user.account.report_suspicious_activity_by_enduser" => {
            (0, 99, "Suspicious Activity Report")
        }
        "security.threat.detected" => (0, 99, "Threat Detected"),
        // A code sent to a phone or an email address: the factor's address is a target.
        et if is_factor_message(et) => (3002, 99, "MFA Code Sent"),
        "device.user.add" => (3001, 99, "Device Enroll"),
        "system.api_token.create" => (3005, 99, "API Token Create"),
        "system.api_token.revoke" => (3005, 99, "API Token Revoke"),
        "application.user_membership.show_password" => (3005, 99, "App Password Reveal"),
        et if et.starts_with("user.authentication.") => (3002, 1, "Logon"),
        et if et.starts_with("app.oauth2.") => (3002, 3, "OAuth Token"),
        et if et.starts_with("group.user_membership.")
            || et.starts_with("application.user_membership.") =>
        {
            (3005, 99, "Membership Change")
        }
        _ => (0, 99, "Other"),
    }
}

/// Okta's events for a one-time code sent by SMS, voice call or email, whose target
/// names the phone number or address (`system.sms.send_factor_verify_message`,
/// `system.voice.send_phone_verification_call`, `system.email.send_factor_verify_message`).
fn is_factor_message(event_type: &str) -> bool {
    (event_type.starts_with("system.sms.") || event_type.starts_with("system.voice."))
        && (event_type.contains("verif") || event_type.contains("mfa"))
        || event_type.starts_with("system.email.")
            && (event_type.contains("factor") || event_type.contains("mfa"))
}

/// The phone number, address or device an MFA factor event is about (a target that is
/// not the user), as it is written (`+1 XXX-XXX-1234` where Okta masks it): the key of
/// `shared_mfa_factor`.
fn factor_target<'a>(event_type: &str, targets: &'a [Target<'a>]) -> Option<&'a str> {
    let factor_event = is_factor_message(event_type) || event_type == "device.user.add";
    if !factor_event {
        return None;
    }
    targets
        .iter()
        .find(|t| t.kind.value() != Some("User"))
        .and_then(|t| {
            if event_type == "device.user.add" {
                t.id.value().or_else(|| t.alternate_id.value())
            } else {
                t.alternate_id.value().or_else(|| t.display_name.value())
            }
        })
}

fn outcome(result: Option<&str>) -> &'static str {
    match result.map(str::to_ascii_uppercase).as_deref() {
        Some("SUCCESS" | "ALLOW") => "success",
        Some("FAILURE" | "DENY" | "FAILED") => "failure",
        _ => "unknown",
    }
}

/// Parse every record of a chunk into `auth` rows.
#[must_use]
fn parse(chunk: &Chunk, opts: &ParseOptions) -> Parsed {
    crate::auth_rows(chunk, opts, |bytes, line, opts, out| {
        parse_record(bytes, line, opts, out).map(|()| true)
    })
}

fn parse_record(
    bytes: &[u8],
    line: u64,
    opts: &ParseOptions,
    out: &mut AuthBuilder,
) -> Result<(), String> {
    let (text, ev): (&str, Event<'_>) = crate::json_record(bytes, "an Okta System Log event")?;
    let event_type = ev.event_type.value().ok_or("missing `eventType`")?;
    let published = ev.published.value().ok_or("missing `published`")?;
    let time_ms = crate::time::parse_time_ms(published)
        .ok_or_else(|| format!("`published` is not a timestamp: {published:?}"))?;

    let (class_uid, activity_id, activity) = classify(event_type);
    // Every System Log event has an actor object (a person, an app, or Okta itself): one
    // missing, or given as a string, is a broken record, not a row with no user.
    let actor = ev
        .actor
        .as_ref()
        .ok_or("`actor` is missing or not an object")?;
    let user_raw = actor.alternate_id.value();
    let user: Option<Cow<'_, str>> = user_raw.map(|u| opts.identities.normalise(u));

    let client = ev.client.as_ref();
    let src_ip = client
        .and_then(|c| c.ip_address.value())
        .or_else(|| ev.request.as_ref()?.ip_chain.0.first()?.ip.value());
    let geo = client.and_then(|c| c.geo.as_ref());
    let latlon = geo.and_then(|g| g.geolocation.as_ref());
    let agent = client.and_then(|c| c.user_agent.as_ref());
    let raw_ua = agent.and_then(|a| a.raw.value());
    let os = agent
        .and_then(|a| a.os.value())
        .and_then(ua::os_family)
        .or_else(|| raw_ua.and_then(ua::os_family));
    let browser = agent
        .and_then(|a| a.browser.value())
        .and_then(ua::browser_family)
        .or_else(|| raw_ua.and_then(ua::browser_family));

    let sec = ev.security_context.as_ref();
    let debug = ev
        .debug_context
        .as_ref()
        .and_then(|d| d.debug_data.as_ref());
    let authn = ev.authentication_context.as_ref();
    let targets = &ev.target.0;
    // For a factor event the device is the factor's (the phone a code goes to); else
    // the device signing in.
    let device_id = factor_target(event_type, targets).or_else(|| {
        debug
            .and_then(|d| d.device_fingerprint.value().or_else(|| d.dt_hash.value()))
            .or_else(|| ev.device.as_ref().and_then(|d| d.id.value()))
    });
    let app = if event_type == "user.session.access_admin_app" {
        Some("Okta Admin Console")
    } else {
        targets
            .iter()
            .find(|t| t.kind.value() == Some("AppInstance"))
            .and_then(|t| t.display_name.value().or_else(|| t.alternate_id.value()))
    };
    let is_mfa_event = matches!(activity, "MFA Verify" | "MFA Push" | "MFA Push Denied");
    let mfa_factor = debug.and_then(|d| d.factor.value()).or_else(|| {
        if is_mfa_event || class_uid == 3001 {
            authn.and_then(|a| a.credential_type.value()).or_else(|| {
                targets
                    .iter()
                    .find(|t| matches!(t.kind.value(), Some("AuthenticatorEnrollment" | "Factor")))
                    .and_then(|t| t.display_name.value())
            })
        } else {
            None
        }
    });
    let row = AuthRow {
        time_ms,
        time_later_ms: None,
        source: "okta",
        class_uid,
        activity_id,
        event_type,
        activity,
        outcome: outcome(ev.outcome.as_ref().and_then(|o| o.result.value())),
        status_detail: ev.outcome.as_ref().and_then(|o| o.reason.value()),
        user: user.as_deref(),
        user_raw,
        src_ip,
        geo_lat: latlon.and_then(|l| l.lat.0),
        geo_lon: latlon.and_then(|l| l.lon.0),
        geo_accuracy_km: None,
        geo_city: geo.and_then(|g| g.city.value()),
        geo_country: geo.and_then(|g| g.country.value()).and_then(country_code),
        asn: sec.and_then(|s| s.as_number.as_i64()),
        as_org: sec.and_then(|s| s.as_org.value()),
        is_proxy: sec.and_then(|s| s.is_proxy.0),
        device_id,
        user_agent: agent
            .and_then(|a| a.raw.as_given())
            .filter(|s| !s.is_empty()),
        os,
        browser,
        app,
        session_id: authn.and_then(|a| a.external_session_id.value()),
        is_mfa: is_mfa_event.then_some(true),
        mfa_factor,
        behaviors: debug.and_then(|d| d.behaviors.value()),
        bytes_in: None,
        bytes_out: None,
        duration_s: None,
        provenance: opts.provenance(line, Some(text)),
    };
    out.append(&row)?;
    Ok(())
}

/// The `okta` source.
#[derive(Debug, Clone, Copy)]
pub struct Okta;

impl crate::Source for Okta {
    fn name(&self) -> &'static str {
        "okta"
    }

    fn about(&self) -> &'static str {
        "Okta System Log (JSON array or NDJSON, as the API and exports give it)."
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
            "asn",
            "as_org",
            "is_proxy",
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
