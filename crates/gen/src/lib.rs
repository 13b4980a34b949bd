//! Realistic, deterministic Okta System Log and Support Console audit log (the generic
//! admin-audit NDJSON) for a fictional company, with an optional 0ktapus-style intrusion
//! and the look-alikes a detection must not alert on.
//!
//! Every event has the shape of a real `/api/v1/logs` LogEvent (nested `actor`, `client`
//! with `geographicalContext`, `securityContext`, `debugContext.debugData` with
//! `deviceFingerprint` and `behaviors`, `authenticationContext.externalSessionId`,
//! `target` apps). The same `seed` gives byte-identical files.
//!
//! What is in the data, besides ordinary working days (sign-in, Okta Verify push, SSO to
//! a few apps, the odd mistyped password, phone sign-ins):
//! - `--attack`: on the attack day the victim (a support agent) signs in from home; 47
//!   minutes later the same account signs in from a DigitalOcean address in Amsterdam
//!   with a new device fingerprint and a phished one-time code, enrols a new Okta Verify
//!   factor, opens the Support Console and Zendesk, looks up 209 customers in little over
//!   an hour, exports 93 of them one by one and then everything in one bulk archive;
//! - a real flight San Francisco -> New York (sign-ins 6 h apart, same laptop);
//! - a new laptop (new fingerprint, same home, same network);
//! - a phone whose carrier address geolocates to Sacramento one day, San Francisco the next;
//! - a sign-in through the corporate VPN egress (Ashburn, allow-listed) 30 minutes after
//!   one from home;
//! - a new hire who appears three days before the end and enrols Okta Verify;
//! - a support lead who looks up hundreds of customers every day (agents do a few an hour);
//! - a nightly scheduled multi-GB export of every customer under one analyst's account.
//!
//! ```
//! let cfg = midgame_gen::GenConfig { users: 8, days: 3, ..midgame_gen::GenConfig::default() };
//! let days = midgame_gen::generate_days(&cfg);
//! assert_eq!(days.len(), 3);
//! assert!(days[0].events.iter().all(|e| e.starts_with("{\"actor\"")));
//! ```
#![deny(missing_docs)]

mod world;

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDate, NaiveDateTime};
use rayon::prelude::*;
use serde_json::{Value, json};

use world::{Agent, City, Net};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// Number of employees.
    pub users: usize,
    /// Number of days.
    pub days: u32,
    /// Seed: the same seed gives the same bytes.
    pub seed: u64,
    /// Inject the intrusion.
    pub attack: bool,
    /// First day.
    pub start: NaiveDate,
    /// Email domain of the company.
    pub domain: String,
}

impl Default for GenConfig {
    fn default() -> Self {
        Self {
            users: 40,
            days: 28,
            seed: 7,
            attack: false,
            start: NaiveDate::from_ymd_opt(2022, 7, 11).expect("a valid date"),
            domain: "acme.test".to_owned(),
        }
    }
}

impl GenConfig {
    /// Events per employee per day, on average (10,128,086 events from 10,000 users over
    /// 60 days with the intrusion).
    pub const EVENTS_PER_USER_DAY: f64 = 16.9;

    /// A benchmark archive of about `events` events over `days` days (seed 1, with the
    /// intrusion): the employees are as many as it takes.
    #[must_use]
    pub fn for_events(events: u64, days: u32) -> Self {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let users = ((events as f64 / (Self::EVENTS_PER_USER_DAY * f64::from(days))).ceil()
            as usize)
            .max(8);
        Self {
            users,
            days,
            seed: 1,
            attack: true,
            ..Self::default()
        }
    }

    /// Day index of the intrusion.
    #[must_use]
    pub fn attack_day(&self) -> u32 {
        (self.days * 3 / 4).max(1).min(self.days.saturating_sub(1))
    }

    /// The attacked user (a support agent).
    #[must_use]
    pub fn victim(&self) -> String {
        self.user(0).email
    }

    fn user(&self, i: usize) -> User {
        let first = world::FIRST_NAMES[i % world::FIRST_NAMES.len()];
        let last =
            world::LAST_NAMES[(i / world::FIRST_NAMES.len() + i * 7) % world::LAST_NAMES.len()];
        let suffix = if i >= world::FIRST_NAMES.len() * world::LAST_NAMES.len() {
            format!("{}", i)
        } else {
            String::new()
        };
        let mut r = Rng::new(self.seed, &[0x05e7, i as u64]);
        let home = match i {
            1 | 3 | 4 => world::HOME_CITIES[0],
            _ => world::HOME_CITIES[r.below(world::HOME_CITIES.len())],
        };
        let nets = world::home_nets(home.country);
        User {
            index: i,
            email: format!("{first}.{last}{suffix}@{}", self.domain),
            display: format!("{} {}", capitalise(first), capitalise(last)),
            id: format!("00u{}", r.alnum(17)),
            home,
            net: nets[r.below(nets.len())],
            host: [r.byte(), r.byte().max(1)],
            laptop: world::LAPTOP_AGENTS[r.below(world::LAPTOP_AGENTS.len())],
            support: i == 0 || i == 6 || r.below(5) == 0,
            weekend_worker: r.below(6) == 0,
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// splitmix64: small, fast and stable across versions (the output must not change when
/// a dependency does).
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64, path: &[u64]) -> Self {
        let mut r = Rng(seed ^ 0x9e37_79b9_7f4a_7c15);
        for p in path {
            r.0 ^= p.wrapping_mul(0xbf58_476d_1ce4_e5b9);
            r.next();
        }
        r
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn byte(&mut self) -> u8 {
        (self.next() & 0xff) as u8
    }
    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from_digit((self.next() % 16) as u32, 16).expect("below 16"))
            .collect()
    }
    fn alnum(&mut self, n: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..n).map(|_| A[self.below(A.len())] as char).collect()
    }
    fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }
}

#[derive(Debug, Clone)]
struct User {
    index: usize,
    email: String,
    display: String,
    id: String,
    home: City,
    net: Net,
    host: [u8; 2],
    laptop: Agent,
    support: bool,
    weekend_worker: bool,
}

/// Where and how one sign-in happens.
#[derive(Clone, Copy)]
struct Origin {
    city: City,
    net: Net,
    ip: [u8; 4],
    agent: Agent,
    device: u64,
    proxy: bool,
}

/// One generated day.
#[derive(Debug, Clone)]
pub struct Day {
    /// The date.
    pub date: NaiveDate,
    /// Okta events as JSON text, in time order.
    pub events: Vec<String>,
    /// Support Console audit actions (generic admin-audit NDJSON), in time order.
    pub admin: Vec<String>,
}

/// Which flags of Okta's `behaviors` are positive.
#[derive(Default, Clone, Copy)]
struct Behaviors {
    geo: bool,
    device: bool,
    ip: bool,
    country: bool,
    velocity: bool,
}

impl Behaviors {
    fn text(self) -> String {
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

struct Ctx<'a> {
    cfg: &'a GenConfig,
    rng: Rng,
    out: Vec<(NaiveDateTime, String)>,
    admin: Vec<(NaiveDateTime, String)>,
}

/// Who does what in the Support Console.
struct AdminCall<'a> {
    ip: String,
    session: &'a str,
    agent: &'a str,
}

impl AdminCall<'_> {
    /// One audit action in the generic admin-audit shape of DESIGN.md.
    #[allow(clippy::too_many_arguments)]
    fn push(
        &self,
        ctx: &mut Ctx<'_>,
        t: NaiveDateTime,
        user: &User,
        action: &str,
        target: (&str, &str),
        customer: Option<&str>,
        records: i64,
        bytes: i64,
    ) {
        let ev = json!({
            "time": t.and_utc().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "actor": user.email,
            "src_ip": self.ip,
            "session_id": self.session,
            "tool": "support-console",
            "action": action,
            "target_type": target.0,
            "target_id": target.1,
            "customer_id": customer,
            "records": records,
            "bytes": bytes,
            "outcome": "success",
            "user_agent": self.agent,
        });
        ctx.admin.push((t, ev.to_string()));
    }
}

/// A customer account id from the company's book of about 2,000 customers.
fn customer(n: usize) -> String {
    format!("AC{:05}", 10_000 + n % 2_000)
}

/// A support agent's working hours in the Support Console: `per_hour` customers looked
/// up (and their tickets answered) in each of `hours` hours from `start`.
fn support_work(
    ctx: &mut Ctx<'_>,
    u: &User,
    call: &AdminCall<'_>,
    start: NaiveDateTime,
    hours: usize,
    per_hour: (usize, usize),
    r: &mut Rng,
) {
    for h in 0..hours {
        let n = per_hour.0 + r.below(per_hour.1 - per_hour.0 + 1);
        for i in 0..n {
            let t = start
                + Duration::minutes(60 * h as i64)
                + Duration::seconds((3600 * i / n.max(1)) as i64 + r.below(30) as i64);
            let c = customer(r.below(2_000));
            call.push(
                ctx,
                t,
                u,
                "customer.view",
                ("customer", &c),
                Some(&c),
                1,
                2_048 + r.below(6_000) as i64,
            );
            let ticket = format!("T{}", 400_000 + r.below(90_000));
            let action = if r.chance(60) {
                "ticket.update"
            } else {
                "ticket.view"
            };
            call.push(
                ctx,
                t + Duration::seconds(40),
                u,
                action,
                ("ticket", &ticket),
                Some(&c),
                1,
                1_024 + r.below(3_000) as i64,
            );
            if r.chance(2) {
                // The odd single-customer export a customer asked for.
                call.push(
                    ctx,
                    t + Duration::seconds(90),
                    u,
                    "customer.export",
                    ("customer", &c),
                    Some(&c),
                    20 + r.below(400) as i64,
                    50_000 + r.below(3_000_000) as i64,
                );
            }
        }
    }
}

impl Ctx<'_> {
    #[allow(clippy::too_many_arguments)]
    fn event(
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
struct Extra<'a> {
    app: Option<(&'a str, &'a str)>,
    factor: Option<&'a str>,
    credential_type: Option<&'a str>,
    behaviors: Behaviors,
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

fn ip_str(ip: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3])
}

fn ip_in(net: &Net, host: [u8; 2]) -> [u8; 4] {
    [net.prefix[0], net.prefix[1], host[0], host[1].max(1)]
}

/// Generate every day (in parallel; the result does not depend on the thread count).
#[must_use]
pub fn generate_days(cfg: &GenConfig) -> Vec<Day> {
    let users: Vec<User> = (0..cfg.users).map(|i| cfg.user(i)).collect();
    (0..cfg.days)
        .into_par_iter()
        .map(|d| generate_day(cfg, &users, d))
        .collect()
}

fn generate_day(cfg: &GenConfig, users: &[User], day: u32) -> Day {
    let date = cfg.start + Duration::days(i64::from(day));
    let mut ctx = Ctx {
        cfg,
        rng: Rng::new(cfg.seed, &[0xda7, u64::from(day)]),
        out: Vec::new(),
        admin: Vec::new(),
    };
    let weekend = matches!(
        chrono::Datelike::weekday(&date),
        chrono::Weekday::Sat | chrono::Weekday::Sun
    );
    let flight_day = cfg.days / 2;
    let laptop_day = cfg.days * 2 / 3;
    let hire_day = cfg.days.saturating_sub(3);
    for u in users {
        let mut r = Rng::new(cfg.seed, &[0x05e7, u.index as u64, u64::from(day)]);
        let new_hire = u.index == 5 && cfg.users > 5;
        if new_hire && day < hire_day {
            continue;
        }
        let attack_today = cfg.attack && u.index == 0 && day == cfg.attack_day();
        if u.index == 7 {
            // A scheduled job under this analyst's account exports every customer at
            // 02:00 UTC every night, weekends included: multi-GB, routine.
            let job = AdminCall {
                ip: "10.20.0.15".to_owned(),
                session: "cron-nightly-export",
                agent: "acme-export-job/2.3",
            };
            let t =
                date.and_hms_opt(2, 0, 0).expect("2 am") + Duration::seconds(r.below(50) as i64);
            job.push(
                &mut ctx,
                t,
                u,
                "customers.bulk_export",
                ("report", "all-customers"),
                None,
                180_000 + r.below(40_000) as i64,
                2_500_000_000 + r.below(1_000_000_000) as i64,
            );
        }
        if weekend && !u.weekend_worker && !attack_today {
            continue;
        }
        if !attack_today && !r.chance(93) {
            continue; // a day off
        }
        let laptop_gen = u64::from(u.index == 2 && day >= laptop_day);
        let laptop = Origin {
            city: u.home,
            net: u.net,
            ip: ip_in(&u.net, u.host),
            agent: if laptop_gen == 1 {
                world::NEW_LAPTOP_AGENT
            } else {
                u.laptop
            },
            device: laptop_gen,
            proxy: false,
        };
        let local_start = 8 * 60 + r.below(90) as i64;
        let t0 = date.and_hms_opt(0, 0, 0).expect("midnight")
            + Duration::minutes(local_start - u.home.utc_offset_h * 60)
            + Duration::seconds(r.below(60) as i64);
        let first_day = day == 0 || (new_hire && day == hire_day);
        let behaviors = Behaviors {
            device: laptop_gen == 1 && day == laptop_day || first_day,
            ip: first_day,
            ..Behaviors::default()
        };
        let apps = apps_for(u, &mut r);
        sign_in(&mut ctx, u, &laptop, t0, &apps, behaviors, &mut r);

        if u.index == 1 && day == flight_day {
            // Lands in New York in the evening: a plausible 6 h after the morning sign-in.
            let hotel = Origin {
                city: world::NEW_YORK,
                net: world::HOTEL,
                ip: ip_in(&world::HOTEL, [r.byte(), r.byte()]),
                ..laptop
            };
            let b = Behaviors {
                geo: true,
                ip: true,
                ..Behaviors::default()
            };
            sign_in(
                &mut ctx,
                u,
                &hotel,
                t0 + Duration::minutes(6 * 60 + 10),
                &apps[..1],
                b,
                &mut r,
            );
        }
        if u.index == 4 && day % 5 == 2 {
            // Connects the corporate VPN (egress in Ashburn) half an hour later.
            let vpn = Origin {
                city: world::ASHBURN,
                net: world::CORP_EGRESS,
                ip: [198, 51, 100, 10 + (day % 20) as u8],
                ..laptop
            };
            sign_in(
                &mut ctx,
                u,
                &vpn,
                t0 + Duration::minutes(31),
                &apps[..1],
                Behaviors::default(),
                &mut r,
            );
        }
        let phone_city = if u.index == 3 && day % 2 == 1 {
            world::SACRAMENTO
        } else {
            u.home
        };
        // Everyone's phone signs in during the first week and at least once a week after
        // (on the user's own weekday), so a phone is never "new" after the learning days.
        let phone_day =
            chrono::Datelike::weekday(&date).num_days_from_monday() as usize == u.index % 5;
        if u.index == 3 || day < 7 || phone_day || r.chance(30) {
            let phone = Origin {
                city: if u.home.country == "United States" {
                    phone_city
                } else {
                    u.home
                },
                net: world::CARRIER,
                ip: ip_in(&world::CARRIER, [r.byte(), r.byte()]),
                agent: world::PHONE_AGENT,
                device: 100,
                proxy: false,
            };
            let t = t0 + Duration::minutes(120 + r.below(300) as i64);
            sign_in(
                &mut ctx,
                u,
                &phone,
                t,
                &[("Slack", world::APPS[0].1)],
                Behaviors {
                    device: first_day,
                    ..Behaviors::default()
                },
                &mut r,
            );
        }
        if u.support {
            let call = AdminCall {
                ip: ip_str(laptop.ip),
                session: &format!("sc-{}", r.alnum(12)),
                agent: laptop.agent.raw,
            };
            // The support lead touches hundreds of customers every day; agents a few
            // an hour.
            let per_hour = if u.index == 6 { (35, 60) } else { (3, 12) };
            let hours = 3 + r.below(4);
            support_work(
                &mut ctx,
                u,
                &call,
                t0 + Duration::minutes(30),
                hours,
                per_hour,
                &mut r,
            );
        }
        if new_hire && day == hire_day {
            // A new hire enrols Okta Verify on the first day (learning period: quiet).
            let session = format!("102{}", r.alnum(22));
            ctx.event(
                t0 + Duration::minutes(3),
                u,
                &laptop,
                "user.mfa.factor.activate",
                "SUCCESS",
                None,
                &session,
                Extra {
                    factor: Some("OKTA_VERIFY_PUSH"),
                    ..Extra::default()
                },
            );
        }
        if attack_today {
            attack(&mut ctx, u, t0 + Duration::minutes(47), &mut r);
        }
    }
    ctx.out.sort_by_key(|e| e.0);
    ctx.admin.sort_by_key(|e| e.0);
    Day {
        date,
        events: ctx.out.into_iter().map(|(_, e)| e).collect(),
        admin: ctx.admin.into_iter().map(|(_, e)| e).collect(),
    }
}

fn apps_for(u: &User, r: &mut Rng) -> Vec<(&'static str, &'static str)> {
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

fn sign_in(
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
fn policy_and_logon(
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

fn attack(ctx: &mut Ctx<'_>, u: &User, t: NaiveDateTime, r: &mut Rng) {
    let o = Origin {
        city: world::AMSTERDAM,
        net: world::HOSTING,
        ip: [164, 92, 190, 17],
        agent: world::ATTACKER_AGENT,
        device: 666,
        proxy: false,
    };
    let session = format!("102{}", r.alnum(22));
    let b = Behaviors {
        geo: true,
        device: true,
        ip: true,
        country: true,
        velocity: true,
    };
    let none = Extra {
        behaviors: b,
        ..Extra::default()
    };
    policy_and_logon(ctx, t, Duration::seconds(3), u, &o, &session, none);
    // The one-time code phished along with the password.
    let otp = Extra {
        factor: Some("OKTA_VERIFY"),
        credential_type: Some("OTP"),
        ..none
    };
    ctx.event(
        t + Duration::seconds(21),
        u,
        &o,
        "user.authentication.auth_via_mfa",
        "SUCCESS",
        None,
        &session,
        otp,
    );
    // The attacker enrols a factor of their own to come back.
    let enrol = Extra {
        factor: Some("OKTA_VERIFY_PUSH"),
        ..none
    };
    ctx.event(
        t + Duration::minutes(6),
        u,
        &o,
        "user.mfa.factor.activate",
        "SUCCESS",
        None,
        &session,
        enrol,
    );
    // In the Support Console: 209 customers looked up in little over an hour, 93 of them
    // exported one by one, then everything the console can export in one archive.
    let call = AdminCall {
        ip: ip_str(o.ip),
        session: &format!("sc-{}", r.alnum(12)),
        agent: o.agent.raw,
    };
    let start = t + Duration::minutes(10);
    for i in 0..209usize {
        let at = start + Duration::seconds(19 * i as i64 + r.below(8) as i64);
        let c = customer(1_000 + i * 7);
        call.push(
            ctx,
            at,
            u,
            "customer.view",
            ("customer", &c),
            Some(&c),
            1,
            2_048 + r.below(6_000) as i64,
        );
        if i % 9 < 4 {
            call.push(
                ctx,
                at + Duration::seconds(6),
                u,
                "customer.export",
                ("customer", &c),
                Some(&c),
                150 + r.below(300) as i64,
                4_000_000 + r.below(8_000_000) as i64,
            );
        }
    }
    call.push(
        ctx,
        start + Duration::minutes(71),
        u,
        "customers.bulk_export",
        ("report", "all-customers"),
        None,
        190_000,
        1_350_000_000,
    );
    for (minutes, app) in [
        (9, ("Support Console", world::APPS[6].1)),
        (15, ("Zendesk", world::APPS[7].1)),
        (24, ("Google Workspace", world::APPS[1].1)),
    ] {
        ctx.event(
            t + Duration::minutes(minutes),
            u,
            &o,
            "user.authentication.sso",
            "SUCCESS",
            None,
            &session,
            Extra {
                app: Some(app),
                ..none
            },
        );
    }
}

/// What [`write()`] produced.
#[derive(Debug, Clone, Default)]
pub struct GenSummary {
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Events written.
    pub events: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Write NDJSON files per day under `out`: `okta/okta-YYYY-MM-DD.ndjson` and
/// `admin/support-console-YYYY-MM-DD.ndjson`.
///
/// # Errors
/// A file cannot be written.
pub fn write(cfg: &GenConfig, out: &Path) -> std::io::Result<GenSummary> {
    let dir = out.join("okta");
    fs_err::create_dir_all(&dir)?;
    let admin_dir = out.join("admin");
    fs_err::create_dir_all(&admin_dir)?;
    let mut summary = GenSummary::default();
    let users: Vec<User> = (0..cfg.users).map(|i| cfg.user(i)).collect();
    // A few days at a time, generated in parallel and written in order: memory holds a
    // handful of days whatever the range.
    let window = rayon::current_num_threads().max(1) as u32;
    for first in (0..cfg.days).step_by(window as usize) {
        let days: Vec<Day> = (first..(first + window).min(cfg.days))
            .into_par_iter()
            .map(|d| generate_day(cfg, &users, d))
            .collect();
        for day in days {
            if !day.admin.is_empty() {
                let path = admin_dir.join(format!("support-console-{}.ndjson", day.date));
                let mut f = std::io::BufWriter::new(fs_err::File::create(&path)?);
                for e in &day.admin {
                    f.write_all(e.as_bytes())?;
                    f.write_all(b"\n")?;
                    summary.bytes += e.len() as u64 + 1;
                }
                f.flush()?;
                summary.events += day.admin.len() as u64;
                summary.files.push(path);
            }
            let path = dir.join(format!("okta-{}.ndjson", day.date));
            let mut f = std::io::BufWriter::new(fs_err::File::create(&path)?);
            for e in &day.events {
                f.write_all(e.as_bytes())?;
                f.write_all(b"\n")?;
                summary.bytes += e.len() as u64 + 1;
            }
            f.flush()?;
            summary.events += day.events.len() as u64;
            summary.files.push(path);
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_bytes_and_another_seed_does_not() {
        let cfg = GenConfig {
            users: 12,
            days: 4,
            attack: true,
            ..GenConfig::default()
        };
        let a = generate_days(&cfg);
        let b = generate_days(&cfg);
        assert_eq!(
            a.iter().map(|d| &d.events).collect::<Vec<_>>(),
            b.iter().map(|d| &d.events).collect::<Vec<_>>()
        );
        let c = generate_days(&GenConfig { seed: 8, ..cfg });
        assert_ne!(a[0].events, c[0].events);
    }

    #[test]
    fn events_are_in_time_order_within_a_day() {
        let days = generate_days(&GenConfig {
            users: 20,
            days: 2,
            ..GenConfig::default()
        });
        for d in days {
            let times: Vec<String> = d
                .events
                .iter()
                .map(|e| {
                    serde_json::from_str::<Value>(e).unwrap()["published"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                })
                .collect();
            assert!(times.windows(2).all(|w| w[0] <= w[1]));
            assert!(
                times
                    .iter()
                    .all(|t| t.starts_with(&d.date.to_string()) || t > &d.date.to_string())
            );
        }
    }

    #[test]
    fn the_attack_is_there_only_when_asked_for() {
        let cfg = GenConfig {
            users: 10,
            days: 8,
            attack: true,
            ..GenConfig::default()
        };
        let amsterdam = |days: &[Day]| {
            days.iter()
                .flat_map(|d| &d.events)
                .filter(|e| e.contains("\"Amsterdam\""))
                .count()
        };
        let with = generate_days(&cfg);
        assert_eq!(
            amsterdam(&with),
            7,
            "policy, session, MFA, factor enrolment and three SSOs"
        );
        let day = &with[cfg.attack_day() as usize].events;
        assert!(
            day.iter()
                .any(|e| e.contains("user.mfa.factor.activate") && e.contains(&cfg.victim()))
        );
        assert_eq!(
            amsterdam(&generate_days(&GenConfig {
                attack: false,
                ..cfg
            })),
            0
        );
    }
}
