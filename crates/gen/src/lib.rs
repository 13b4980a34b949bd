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

mod admin;
mod attack;
mod day;
mod files;
pub mod measure;
mod okta;
mod people;
mod rng;
mod world;

use chrono::NaiveDate;
use rayon::prelude::*;

use day::generate_day;
pub use files::{GenSummary, write};
use people::User;
pub use rng::Rng;

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

/// Generate every day (in parallel; the result does not depend on the thread count).
#[must_use]
pub fn generate_days(cfg: &GenConfig) -> Vec<Day> {
    let users: Vec<User> = (0..cfg.users).map(|i| cfg.user(i)).collect();
    (0..cfg.days)
        .into_par_iter()
        .map(|d| generate_day(cfg, &users, d))
        .collect()
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
                    serde_json::from_str::<serde_json::Value>(e).unwrap()["published"]
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
