//! One day at the company: who works, from where, and the look-alikes placed on their
//! days (the flight, the new laptop, the roaming phone, the VPN egress, the new hire,
//! the support lead, the nightly export).

use chrono::{Duration, NaiveDateTime};

use crate::admin::{AdminCall, support_work};
use crate::attack::attack;
use crate::okta::{Behaviors, Extra, apps_for, ip_in, ip_str, sign_in};
use crate::people::{Origin, User};
use crate::rng::Rng;
use crate::{Day, GenConfig, world};

/// What one day's generation writes to.
pub(crate) struct Ctx<'a> {
    pub(crate) cfg: &'a GenConfig,
    pub(crate) rng: Rng,
    pub(crate) out: Vec<(NaiveDateTime, String)>,
    pub(crate) admin: Vec<(NaiveDateTime, String)>,
}

pub(crate) fn generate_day(cfg: &GenConfig, users: &[User], day: u32) -> Day {
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
