//! `midgame pull okta`: the Okta System Log API into gzip NDJSON files (see
//! `midgame_pull`); `[[pull]]` in midgame.toml makes `midgame run` pull before it ingests.

use std::process::ExitCode;

use crate::args::PullOktaArgs;
use crate::config::PullConfig;
use crate::printer::Printer;

/// The token from the environment variable named (never from the command line, where
/// `ps` would show it).
fn token(var: &str) -> anyhow::Result<String> {
    match std::env::var(var) {
        Ok(t) if !t.trim().is_empty() => Ok(t.trim().to_owned()),
        _ => anyhow::bail!(
            "{var} is not set: export the Okta API token in it (--token-env names the variable)"
        ),
    }
}

/// Pull one `[[pull]]` (or the command line's) into its folder.
pub(crate) fn pull(
    p: &PullConfig,
    base: &std::path::Path,
    printer: &Printer,
) -> anyhow::Result<midgame_pull::Pulled> {
    let _ = midgame_pull::CRASH_HOOK.set(midgame_lake::crashpoint);
    let mut cfg =
        midgame_pull::OktaPull::new(p.org.clone(), token(&p.token_env)?, base.join(&p.out));
    cfg.since.clone_from(&p.since);
    if let Some(l) = p.limit {
        cfg.limit = l;
    }
    let pulled = midgame_pull::pull_okta(&cfg, &|m| printer.warn(m))?;
    printer.status(&format!(
        "pulled {} events in {} pages from {} into {} files ({} retries){}",
        pulled.events,
        pulled.pages,
        p.org,
        pulled.files.len(),
        pulled.retries,
        if pulled.rate_limited {
            "; stopped at the rate limit, the rest comes next time"
        } else {
            ""
        }
    ));
    Ok(pulled)
}

pub(crate) fn run(a: &PullOktaArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let p = PullConfig {
        source: "okta".to_owned(),
        org: a.org.clone(),
        token_env: a.token_env.clone(),
        out: a.out.clone(),
        since: a.since.clone(),
        limit: a.limit,
    };
    pull(&p, std::path::Path::new(""), printer)?;
    Ok(ExitCode::SUCCESS)
}
