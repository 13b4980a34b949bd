//! `midgame gen`.

use std::process::ExitCode;

use crate::args::GenArgs;
use crate::printer::{Printer, thousands};

pub(crate) fn run(a: &GenArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let cfg = midgame_gen::GenConfig {
        users: a.users as usize,
        days: a.days,
        seed: a.seed,
        attack: a.attack,
        start: a.start,
        domain: a.domain.clone(),
    };
    let summary = midgame_gen::write(&cfg, &a.out)?;
    #[allow(clippy::cast_precision_loss)]
    let mb = summary.bytes as f64 / 1e6;
    printer.status(&format!(
        "wrote {} events in {} files ({mb:.1} MB) to {}",
        thousands(summary.events),
        summary.files.len(),
        a.out.display()
    ));
    if a.attack {
        let day = cfg.start + chrono::Duration::days(i64::from(cfg.attack_day()));
        printer.status(&format!("intrusion: {} on {day}", cfg.victim()));
    }
    Ok(ExitCode::SUCCESS)
}
