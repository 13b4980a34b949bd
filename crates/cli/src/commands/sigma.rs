//! `midgame sigma convert`, and Sigma rules run beside the detections
//! (`detect --sigma`, `[run] sigma`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use midgame_detect::Detection;

use crate::args::SigmaConvertArgs;
use crate::printer::Printer;

/// The detections of `queries` folders (the built-ins first when among them), then the
/// Sigma rules of `sigma`, converted. A rule that cannot be converted is named through
/// `warn` and left out; a converted rule with the id of another detection replaces it
/// (as a later folder's detection does).
///
/// # Errors
/// A detection file is bad, or a Sigma path cannot be read.
pub(crate) fn load_detections(
    queries: &[PathBuf],
    sigma: &[PathBuf],
    warn: &dyn Fn(&str),
) -> anyhow::Result<Vec<Detection>> {
    anyhow::ensure!(
        !queries.is_empty() || !sigma.is_empty(),
        "no detections: the built-ins are left out and no queries or Sigma rules are given"
    );
    let mut out = Detection::load_dirs(queries)?;
    for path in sigma {
        let (converted, refused) = convert(path)?;
        for e in &refused {
            warn(&format!("sigma: {e} (rule left out)"));
        }
        for c in converted {
            let d = Detection::parse(&c.source, &c.text)?;
            match out.iter_mut().find(|o| o.id == d.id) {
                Some(other) => {
                    tracing::info!("{} replaces {}", d.path.display(), other.path.display());
                    *other = d;
                }
                None => out.push(d),
            }
        }
    }
    Ok(out)
}

/// The rules of `path` converted, and those refused.
fn convert(
    path: &Path,
) -> anyhow::Result<(
    Vec<midgame_sigma::Converted>,
    Vec<midgame_sigma::SigmaError>,
)> {
    let all = midgame_sigma::convert_path(path)?;
    let mut ok = Vec::new();
    let mut refused = Vec::new();
    for r in all {
        match r {
            Ok(c) => ok.push(c),
            Err(e) => refused.push(e),
        }
    }
    // Two rules of one id (a copy of a rule in two folders): the first is kept.
    let mut seen = std::collections::BTreeSet::new();
    ok.retain(|c| seen.insert(c.id.clone()));
    Ok((ok, refused))
}

pub(crate) fn run(a: &SigmaConvertArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let (converted, refused) = convert(&a.path)?;
    for e in &refused {
        printer.warn(&format!("sigma: {e}"));
    }
    match &a.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
            // Check every name first: nothing is written when one would overwrite.
            for c in &converted {
                let f = dir.join(format!("{}.sql", c.id));
                anyhow::ensure!(
                    !f.exists(),
                    "{}: exists: midgame never overwrites an output file (nothing written)",
                    f.display()
                );
            }
            for c in &converted {
                let f = dir.join(format!("{}.sql", c.id));
                midgame_report::write_new(&f, &c.text)
                    .with_context(|| format!("{}", f.display()))?;
            }
        }
        None => {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            for (n, c) in converted.iter().enumerate() {
                if n > 0 {
                    writeln!(out)?;
                }
                write!(out, "{}", c.text)?;
            }
            out.flush()?;
        }
    }
    printer.status(&format!(
        "sigma: {} rule{} converted, {} refused{}",
        converted.len(),
        if converted.len() == 1 { "" } else { "s" },
        refused.len(),
        a.out
            .as_ref()
            .map(|d| format!(" (written to {})", d.display()))
            .unwrap_or_default()
    ));
    Ok(if a.strict && !refused.is_empty() {
        ExitCode::from(crate::EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    })
}
