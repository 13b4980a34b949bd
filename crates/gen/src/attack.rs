//! The 0ktapus-style intrusion: a phished sign-in from a hosting address in Amsterdam,
//! a new factor, and the Support Console reads and exports that follow.

use chrono::{Duration, NaiveDateTime};

use crate::admin::{AdminCall, customer};
use crate::day::Ctx;
use crate::okta::{Behaviors, Extra, ip_str, policy_and_logon};
use crate::people::{Origin, User};
use crate::rng::Rng;
use crate::world;

pub(crate) fn attack(ctx: &mut Ctx<'_>, u: &User, t: NaiveDateTime, r: &mut Rng) {
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
