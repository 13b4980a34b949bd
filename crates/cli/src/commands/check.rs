//! `midgame check`: before a detection goes live, its header parses, its query plans
//! against the lake's tables with the configured parameters, and its `.slt` tests pass.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use midgame_detect::{Detection, slt};

use crate::args::CheckArgs;
use crate::config::Config;
use crate::printer::Printer;

pub(crate) fn run(a: &CheckArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let cfg = Config::load_opt(a.config.as_deref())?;
    let params = &cfg.detections;
    let dirs: Vec<PathBuf> = if a.dirs.is_empty() {
        vec![crate::builtin_queries()?]
    } else {
        a.dirs.clone()
    };
    let rt = crate::runtime()?;
    let empty = tempfile::Builder::new()
        .prefix("midgame-check-")
        .tempdir()?;
    let lake = match &a.lake {
        Some(l) => l.clone(),
        None => {
            midgame_lake::Lake::open(empty.path())?;
            empty.path().to_path_buf()
        }
    };
    let mut out = std::io::stdout();
    let mut failures = 0_usize;
    let mut checked = 0_usize;
    let mut tests = 0_usize;
    rt.block_on(async {
        let ctx = crate::open_session(&lake, &cfg).await?;
        for dir in &dirs {
            // Headers and ids first: one bad file is named, the rest still checked.
            let detections = match Detection::load_dir(dir) {
                Ok(d) => d,
                Err(e) => {
                    failures += 1;
                    writeln!(out, "FAIL {e}")?;
                    continue;
                }
            };
            let empty_params = std::collections::BTreeMap::new();
            for d in &detections {
                checked += 1;
                let planned = match d.bind(params.get(&d.id).unwrap_or(&empty_params)) {
                    Ok(values) => d.plan(&ctx, &values).await.map(|_| ()),
                    Err(e) => Err(e),
                };
                let test = dir.join("tests").join(format!("{}.slt", d.id));
                match planned {
                    Ok(()) if test.is_file() => writeln!(out, "ok   {:<24} header, plan", d.id)?,
                    Ok(()) => writeln!(
                        out,
                        "ok   {:<24} header, plan (no tests: write {})",
                        d.id,
                        test.display()
                    )?,
                    Err(e) => {
                        failures += 1;
                        writeln!(out, "FAIL {e}")?;
                    }
                }
            }
            let test_dir = dir.join("tests");
            if !test_dir.is_dir() {
                continue;
            }
            for file in slt::slt_files(&test_dir)? {
                tests += 1;
                match slt::run_slt_file(&file, dir).await {
                    Ok(()) => writeln!(out, "ok   {}", file.display())?,
                    Err(e) => {
                        failures += 1;
                        writeln!(out, "FAIL {e}")?;
                    }
                }
            }
        }
        anyhow::Ok(())
    })?;
    let summary = format!(
        "{checked} detections, {tests} test files: {}",
        if failures == 0 {
            "all good".to_owned()
        } else {
            format!("{failures} failed")
        }
    );
    if failures == 0 {
        printer.status(&summary);
        Ok(ExitCode::SUCCESS)
    } else {
        anyhow::bail!("{summary}")
    }
}
