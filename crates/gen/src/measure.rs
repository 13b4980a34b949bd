//! What a benchmark phase cost: wall time, CPU time of every thread (from
//! `/proc/self/stat`) and peak resident memory (`VmHWM`, reset before the phase through
//! `/proc/self/clear_refs`). Off Linux the CPU and memory figures are zero.

use std::time::Instant;

/// The cost of one measured phase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    /// Wall-clock seconds.
    pub wall: f64,
    /// CPU seconds, user + system, all threads.
    pub cpu: f64,
    /// Peak resident memory during the phase, in bytes.
    pub peak_rss: u64,
}

/// One measured phase of a benchmark and the work it did.
#[derive(Debug, Clone)]
pub struct Phase {
    /// What ran (`ingest`, a detection's id, ...).
    pub name: String,
    /// What it cost.
    pub cost: Cost,
    /// Events it covered.
    pub events: u64,
    /// Input bytes it read (0 when it read the lake).
    pub bytes: u64,
    /// Alerts it found, for a detection.
    pub alerts: Option<usize>,
}

impl Phase {
    /// Events per wall-clock second.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn events_per_s(&self) -> f64 {
        self.events as f64 / self.cost.wall.max(1e-9)
    }

    /// Input MB (10^6 bytes) per wall-clock second, for a phase that read input.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn mb_per_s(&self) -> Option<f64> {
        (self.bytes > 0).then(|| self.bytes as f64 / 1e6 / self.cost.wall.max(1e-9))
    }

    /// The phase as one object of the JSON report.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "phase": self.name,
            "wall_s": (self.cost.wall * 1000.0).round() / 1000.0,
            "cpu_s": (self.cost.cpu * 100.0).round() / 100.0,
            "peak_rss_bytes": self.cost.peak_rss,
            "events": self.events,
            "events_per_s": self.events_per_s().round(),
            "mb_per_s": self.mb_per_s().map(|m| (m * 10.0).round() / 10.0),
            "alerts": self.alerts,
        })
    }
}

/// Run `f` and say what it cost.
///
/// # Errors
/// Whatever `f` returns.
pub fn measure<T, E>(f: impl FnOnce() -> Result<T, E>) -> Result<(T, Cost), E> {
    reset_peak_rss();
    let cpu = cpu_seconds();
    let start = Instant::now();
    let out = f()?;
    let wall = start.elapsed().as_secs_f64();
    Ok((
        out,
        Cost {
            wall,
            cpu: cpu_seconds() - cpu,
            peak_rss: peak_rss(),
        },
    ))
}

/// CPU seconds this process has used (user + system, all threads).
#[must_use]
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) are space-separated;
    // utime and stime are fields 14 and 15, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident memory since the last reset, in bytes.
#[must_use]
pub fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn reset_peak_rss() {
    // "5" resets the peak RSS (Linux 4.0+); where it cannot, peaks only grow.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phase_that_spins_costs_cpu_and_one_that_allocates_costs_memory() {
        // Spin until the process has used 0.2 s of CPU by its own count (however busy
        // the machine, and other tests' threads count too), then the phase must say at
        // least that much CPU.
        let ((), spin) = measure(|| {
            let (start, cpu) = (Instant::now(), cpu_seconds());
            let mut x = 0u64;
            while cpu_seconds() - cpu < 0.2 && start.elapsed().as_secs() < 60 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            Ok::<_, std::io::Error>(())
        })
        .unwrap();
        assert!(spin.cpu >= 0.2, "a busy loop uses CPU: {spin:?}");
        assert!(spin.wall > 0.0, "{spin:?}");
        let (len, big) = measure(|| {
            let v = vec![1u8; 64 << 20];
            Ok::<_, std::io::Error>(
                std::hint::black_box(v)
                    .iter()
                    .map(|&b| usize::from(b))
                    .sum::<usize>(),
            )
        })
        .unwrap();
        assert_eq!(len, 64 << 20);
        assert!(big.peak_rss >= 64 << 20, "64 MiB touched: {big:?}");
        let failed = measure(|| Err::<(), _>("no"));
        assert_eq!(failed.unwrap_err(), "no");
        let p = Phase {
            name: "ingest".into(),
            cost: Cost {
                wall: 2.0,
                cpu: 3.0,
                peak_rss: 1 << 20,
            },
            events: 1000,
            bytes: 5_000_000,
            alerts: None,
        };
        assert_eq!(p.to_json()["events_per_s"], 500.0);
        assert_eq!(p.to_json()["mb_per_s"], 2.5);
        assert_eq!(
            Phase { bytes: 0, ..p }.to_json()["mb_per_s"],
            serde_json::Value::Null
        );
    }
}
