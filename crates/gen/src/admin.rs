//! Support Console audit actions, in the generic admin-audit NDJSON of DESIGN.md.

use chrono::{Duration, NaiveDateTime};
use serde_json::json;

use crate::day::Ctx;
use crate::people::User;
use crate::rng::Rng;

/// Who does what in the Support Console.
pub(crate) struct AdminCall<'a> {
    pub(crate) ip: String,
    pub(crate) session: &'a str,
    pub(crate) agent: &'a str,
}

impl AdminCall<'_> {
    /// One audit action in the generic admin-audit shape of DESIGN.md.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn push(
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
pub(crate) fn customer(n: usize) -> String {
    format!("AC{:05}", 10_000 + n % 2_000)
}

/// A support agent's working hours in the Support Console: `per_hour` customers looked
/// up (and their tickets answered) in each of `hours` hours from `start`.
pub(crate) fn support_work(
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
