//! POSTing a run's changes to a webhook, with retries and backoff.
//!
//! The body is the run's NDJSON (one alert or incident change a line,
//! `Content-Type: application/x-ndjson`) with an `Idempotency-Key` header naming the
//! batch, so a receiver can drop a batch it already has: delivery is at least once (a run
//! killed after the POST and before it records the delivery sends the batch again).

use std::time::Duration;

use crate::config::WebhookConfig;

/// Send `body`; `Err` says why the last attempt failed.
pub(crate) fn post(cfg: &WebhookConfig, key: &str, body: &[u8]) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(cfg.timeout_seconds.max(1))))
        .http_status_as_error(false)
        .user_agent(concat!("midgame/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut wait = Duration::from_millis(cfg.backoff_ms);
    let mut last = String::new();
    for attempt in 0..=cfg.retries {
        if attempt > 0 {
            std::thread::sleep(wait);
            wait = wait.saturating_mul(2);
        }
        let mut req = agent
            .post(&cfg.url)
            .header("Content-Type", "application/x-ndjson")
            .header("Idempotency-Key", key);
        for (k, v) in &cfg.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        match req.send(body) {
            Ok(resp) if resp.status().is_success() => return Ok(()),
            Ok(resp) => {
                last = format!("{} answered {}", cfg.url, resp.status());
                // A client error will not go away by asking again (except 408/429).
                let s = resp.status().as_u16();
                if (400..500).contains(&s) && s != 408 && s != 429 {
                    break;
                }
            }
            Err(e) => last = format!("{}: {e}", cfg.url),
        }
        tracing::warn!(attempt, error = %last, "webhook attempt failed");
    }
    Err(last)
}
