//! Okta System Log events: one `LogEvent` in the shape of `/api/v1/logs`, and the
//! sign-in sequence (policy, session, push, MFA, SSO to the day's apps).

use chrono::{Duration, NaiveDateTime};
use serde_json::{Value, json};

use crate::day::Ctx;
use crate::people::{Origin, User};
use crate::rng::Rng;
use crate::world::{self, Net};

/// Which flags of Okta's `behaviors` are positive.
#[derive(Default, Clone, Copy)]
pub(crate) struct Behaviors {
    pub(crate) geo: bool,
    pub(crate) device: bool,
    pub(crate) ip: bool,
    pub(crate) country: bool,
    pub(crate) velocity: bool,
}

impl Behaviors {
    pub(crate) fn text(self) -> String {
        let f = |b: bool| if b { "POSITIVE" } else { "NEGATIVE" };
        format!(
            "{{New Geo-Location={}, New Device={}, New IP={}, New State={}, New Country={}, Velocity={}, New City={}}}",
            f(self.geo),
            f(self.device),
            f(self.ip),
            f(self.geo),
            f(self.country),
            f(self.velocity),
            f(self.geo)
        )
    }
}

impl Ctx<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn event(
        &mut self,
        t: NaiveDateTime,
        user: &User,
        o: &Origin,
        event_type: &str,
        result: &str,
        reason: Option<&str>,
        session: &str,
        extra: Extra<'_>,
    ) {
        let r = &mut self.rng;
        let (legacy, message) = legacy(event_type, result);
        let geo = json!({
            "city": o.city.name, "state": o.city.state, "country": o.city.country, "postalCode": o.city.postal,
            "geolocation": {"lat": o.city.lat, "lon": o.city.lon}
        });
        let ip = format!("{}.{}.{}.{}", o.ip[0], o.ip[1], o.ip[2], o.ip[3]);
        let fingerprint = device_hex(self.cfg.seed, user.index, o.device, 32);
        let mut debug = serde_json::Map::new();
        debug.insert("requestId".into(), json!(r.alnum(27)));
        let uri = match event_type {
            "user.authentication.sso" => "/app/saml/sso",
            "user.authentication.auth_via_mfa" | "system.push.send_factor_verify_push" => {
                "/idp/idx/challenge/answer"
            }
            _ => "/idp/idx/identify",
        };
        debug.insert("requestUri".into(), json!(uri));
        debug.insert("url".into(), json!(format!("{uri}?")));
        debug.insert("threatSuspected".into(), json!("false"));
        if matches!(
            event_type,
            "user.session.start"
                | "policy.evaluate_sign_on"
                | "user.authentication.sso"
                | "user.authentication.auth_via_mfa"
        ) {
            debug.insert("deviceFingerprint".into(), json!(fingerprint));
            debug.insert(
                "dtHash".into(),
                json!(device_hex(self.cfg.seed ^ 1, user.index, o.device, 64)),
            );
            debug.insert("behaviors".into(), json!(extra.behaviors.text()));
            let risky = extra.behaviors.device && extra.behaviors.country;
            debug.insert(
                "risk".into(),
                json!(if risky {
                    "{reasons=Anomalous Device, Anomalous Location, level=HIGH}"
                } else {
                    "{level=LOW}"
                }),
            );
        }
        if let Some(f) = extra.factor {
            debug.insert("factor".into(), json!(f));
        }
        let mut target = Vec::new();
        if let Some((name, id)) = extra.app {
            target.push(json!({"id": id, "type": "AppInstance", "alternateId": name, "displayName": name, "detailEntry": {"signOnModeType": "SAML_2_0"}}));
            target.push(json!({"id": format!("0ua{}", r.alnum(17)), "type": "AppUser", "alternateId": user.email, "displayName": user.display, "detailEntry": null}));
        }
        if let Some(f) = extra.factor {
            target.push(json!({"id": format!("pfd{}", r.alnum(17)), "type": "AuthenticatorEnrollment", "alternateId": "unknown", "displayName": factor_name(f), "detailEntry": null}));
        }
        if event_type == "user.mfa.factor.activate" || event_type == "user.session.start" {
            target.push(json!({"id": user.id, "type": "User", "alternateId": user.email, "displayName": user.display, "detailEntry": null}));
        }
        let published = t.and_utc().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        let ev = json!({
            "actor": {"id": user.id, "type": "User", "alternateId": user.email, "displayName": user.display, "detailEntry": null},
            "client": {
                "userAgent": {"rawUserAgent": o.agent.raw, "os": o.agent.os, "browser": o.agent.browser},
                "zone": "null",
                "device": if o.agent.os == "iOS" { "Mobile" } else { "Computer" },
                "id": null,
                "ipAddress": ip,
                "geographicalContext": geo
            },
            "device": null,
            "authenticationContext": {
                "authenticationProvider": null, "credentialProvider": null,
                "credentialType": extra.credential_type, "issuer": null, "interface": null,
                "authenticationStep": 0, "externalSessionId": session
            },
            "displayMessage": message,
            "eventType": event_type,
            "outcome": {"result": result, "reason": reason},
            "published": published,
            "securityContext": {"asNumber": o.net.asn, "asOrg": o.net.org, "isp": o.net.isp, "domain": o.net.domain, "isProxy": o.proxy},
            "severity": if result == "SUCCESS" || result == "ALLOW" { "INFO" } else { "WARN" },
            "debugContext": {"debugData": Value::Object(debug)},
            "legacyEventType": legacy,
            "transaction": {"type": "WEB", "id": r.alnum(27), "detail": {}},
            "uuid": r.uuid(),
            "version": "0",
            "request": {"ipChain": [{"ip": ip, "geographicalContext": geo, "version": "V4", "source": null}]},
            "target": target
        });
        self.out.push((t, ev.to_string()));
    }
}

#[derive(Default, Clone, Copy)]
pub(crate) struct Extra<'a> {
    pub(crate) app: Option<(&'a str, &'a str)>,
    pub(crate) factor: Option<&'a str>,
    pub(crate) credential_type: Option<&'a str>,
    pub(crate) behaviors: Behaviors,
}

fn factor_name(f: &str) -> &'static str {
    match f {
        "SMS" => "SMS Authentication",
        _ => "Okta Verify",
    }
}

fn legacy(event_type: &str, result: &str) -> (&'static str, &'static str) {
    match (event_type, result) {
        ("user.session.start", "SUCCESS") => ("core.user_auth.login_success", "User login to Okta"),
        ("user.session.start", _) => ("core.user_auth.login_failed", "User login to Okta"),
        ("policy.evaluate_sign_on", _) => ("", "Evaluation of sign-on policy"),
        ("system.push.send_factor_verify_push", _) => {
            ("", "A push was sent to a user for verification")
        }
        ("user.authentication.auth_via_mfa", _) => (
            "core.user.factor.attempt_success",
            "Authentication of user via MFA",
        ),
        ("user.authentication.sso", _) => ("app.auth.sso", "User single sign on to app"),
        ("user.mfa.factor.activate", _) => ("core.user.factor.activate", "User set up MFA factor"),
        _ => ("", ""),
    }
}

fn device_hex(seed: u64, user: usize, device: u64, n: usize) -> String {
    Rng::new(seed, &[0xde71, user as u64, device]).hex(n)
}

pub(crate) fn ip_str(ip: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3])
}

pub(crate) fn ip_in(net: &Net, host: [u8; 2]) -> [u8; 4] {
    [net.prefix[0], net.prefix[1], host[0], host[1].max(1)]
}

pub(crate) fn apps_for(u: &User, r: &mut Rng) -> Vec<(&'static str, &'static str)> {
    let mut apps: Vec<(&str, &str)> = world::APPS
        .iter()
        .filter(|a| !a.2 || u.support)
        .map(|a| (a.0, a.1))
        .collect();
    let keep = 2 + r.below(3) + usize::from(u.support);
    // A stable daily subset: rotate by a random offset.
    let k = r.below(apps.len());
    apps.rotate_left(k);
    apps.truncate(keep.min(apps.len()));
    apps
}

pub(crate) fn sign_in(
    ctx: &mut Ctx<'_>,
    u: &User,
    o: &Origin,
    t0: NaiveDateTime,
    apps: &[(&str, &str)],
    b: Behaviors,
    r: &mut Rng,
) {
    let session = format!("102{}", r.alnum(22));
    let none = Extra {
        behaviors: b,
        ..Extra::default()
    };
    if r.chance(5) {
        ctx.event(
            t0 - Duration::seconds(25),
            u,
            o,
            "user.session.start",
            "FAILURE",
            Some("INVALID_CREDENTIALS"),
            "unknown",
            none,
        );
    }
    policy_and_logon(ctx, t0, Duration::seconds(2), u, o, &session, none);
    ctx.event(
        t0 + Duration::seconds(4),
        u,
        o,
        "system.push.send_factor_verify_push",
        "SUCCESS",
        None,
        &session,
        Extra {
            factor: Some("OKTA_VERIFY_PUSH"),
            ..none
        },
    );
    let mfa = Extra {
        factor: Some("OKTA_VERIFY_PUSH"),
        credential_type: Some("OKTA_VERIFY_PUSH"),
        ..none
    };
    ctx.event(
        t0 + Duration::seconds(11 + r.below(20) as i64),
        u,
        o,
        "user.authentication.auth_via_mfa",
        "SUCCESS",
        None,
        &session,
        mfa,
    );
    let mut t = t0 + Duration::seconds(40);
    for app in apps {
        ctx.event(
            t,
            u,
            o,
            "user.authentication.sso",
            "SUCCESS",
            None,
            &session,
            Extra {
                app: Some(*app),
                ..none
            },
        );
        t += Duration::minutes(5 + r.below(150) as i64);
    }
}

/// Okta's sign-on policy evaluation, then the successful sign-in `gap` later.
pub(crate) fn policy_and_logon(
    ctx: &mut Ctx<'_>,
    t: NaiveDateTime,
    gap: Duration,
    u: &User,
    o: &Origin,
    session: &str,
    extra: Extra<'_>,
) {
    let allow = Some("Sign-on policy evaluation resulted in ALLOW");
    ctx.event(
        t,
        u,
        o,
        "policy.evaluate_sign_on",
        "ALLOW",
        allow,
        session,
        extra,
    );
    ctx.event(
        t + gap,
        u,
        o,
        "user.session.start",
        "SUCCESS",
        None,
        session,
        extra,
    );
}
