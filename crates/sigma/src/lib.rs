//! Sigma rules in: detection rules and correlation rules converted to midgame's
//! detection files (the usual header, then plain SQL over the lake's tables), parsed by
//! the maintained `rsigma-parser`.
//!
//! A rule's `logsource` chooses the table and its field mapping:
//!
//! | logsource | rows |
//! |---|---|
//! | `product: okta` | `auth WHERE source = 'okta'` |
//! | `product: azure`, `service: signinlogs` | `auth WHERE source = 'entra'` |
//! | `product: aws`, `service: cloudtrail` | `admin WHERE source = 'cloudtrail'` |
//!
//! A Sigma field the lake has a column for with the same values is read from the
//! column (`eventType` is `event_type`, `client.ipAddress` is `src_ip`); any other is
//! read from the original record (`raw`) by `sigma_match(raw, path, op, pattern)` and
//! `sigma_text(raw, path)`, which walk the JSON with keys matched without regard to case
//! and match any element of an array on the way (`target.displayName` matches any
//! target). Values follow Sigma: strings match without regard to case unless `|cased`,
//! `*` and `?` are wildcards, a list of values is any of them (all with `|all`).
//!
//! Filter rules (`filter:`) take their events out of the rules they name, or of every
//! rule of their logsource; correlation rules become window and aggregate SQL over the
//! events of the rules they name (see `correlate`).
//!
//! What Sigma defines and this converter cannot express exactly is refused with an error
//! naming the rule file and the construct, never weakened: `|wide`/`|utf16*`,
//! `|expand` placeholders, timestamp-part modifiers, array object-scope blocks,
//! tumbling and session correlation windows, `value_median`, extended correlation
//! conditions, regular expressions the regex engine does not support (look-around,
//! back-references). A rule whose filter cannot be applied is refused with it.

mod correlate;
mod fields;

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;
use std::path::{Path, PathBuf};

use rsigma_parser::ast::{
    ConditionExpr, Detection, DetectionItem, Level, LogSource, Modifier, Quantifier,
    SelectorPattern, SigmaRule,
};
use rsigma_parser::value::{SigmaString, SigmaValue, SpecialChar, StringPart};

pub use fields::{Field, Target};

/// A rule that cannot be converted, or a file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {rule}: {construct}", path.display())]
pub struct SigmaError {
    /// The rule file.
    pub path: PathBuf,
    /// The rule's title (or what was being read).
    pub rule: String,
    /// What is not supported, or wrong.
    pub construct: String,
}

/// One converted rule: a detection file's name and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    /// The detection's id (`sigma_okta_api_token_created`).
    pub id: String,
    /// The rule's title.
    pub title: String,
    /// The rule file it came from.
    pub source: PathBuf,
    /// The whole `.sql` detection file.
    pub text: String,
}

/// Every rule of a file or folder (recursively `*.yml`, `*.yaml`), converted; each rule
/// converts or is refused on its own (see [`convert_paths`]).
///
/// # Errors
/// The path cannot be read (a rule that cannot be converted is one `Err` in the list).
pub fn convert_path(path: &Path) -> Result<Vec<Result<Converted, SigmaError>>, SigmaError> {
    convert_paths(&[path.to_path_buf()])
}

/// Every rule of several files or folders, converted together: correlation rules find
/// the rules they name, and filter rules the rules they apply to, anywhere among them.
/// A rule whose filter cannot be applied is refused with it, never run unfiltered.
///
/// # Errors
/// A path cannot be read (a rule that cannot be converted is one `Err` in the list).
pub fn convert_paths(paths: &[PathBuf]) -> Result<Vec<Result<Converted, SigmaError>>, SigmaError> {
    let mut files = Vec::new();
    for p in paths {
        for f in rule_files(p)? {
            if !files.contains(&f) {
                files.push(f);
            }
        }
    }
    let mut texts = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| SigmaError {
            path: f.clone(),
            rule: "(the file)".into(),
            construct: e.to_string(),
        })?;
        texts.push((f, text));
    }
    Ok(convert_texts(&texts))
}

/// The body of the `sigma` fuzz target (`fuzz/`), also run over its seeds in the tests:
/// whatever the text, converting it returns rules or refusals, and never panics.
pub fn fuzz(text: &str) {
    for c in convert_texts(&[(PathBuf::from("fuzz.yml"), text.to_string())])
        .into_iter()
        .flatten()
    {
        // Nothing from the rule breaks out of the header's comment lines.
        let header: Vec<&str> = c.text.lines().take_while(|l| l.starts_with("--")).collect();
        assert_eq!(header.first(), Some(&format!("-- id: {}", c.id).as_str()));
        assert!(
            header.iter().any(|l| l.starts_with("-- sigma_rule: ")),
            "the header ends with the rule's attribution: {}",
            c.text
        );
    }
}

/// Rule files' texts (path, YAML) converted together, as [`convert_paths`] does.
pub fn convert_texts(texts: &[(PathBuf, String)]) -> Vec<Result<Converted, SigmaError>> {
    let mut docs = Vec::new();
    let mut out = Vec::new();
    for (f, text) in texts {
        let f = f.clone();
        match rsigma_parser::parse_sigma_yaml(text) {
            Ok(c) => {
                for e in &c.errors {
                    out.push(Err(SigmaError {
                        path: f.clone(),
                        rule: "(a document)".into(),
                        construct: e.replace('\n', " "),
                    }));
                }
                docs.push((f, c));
            }
            Err(e) => out.push(Err(SigmaError {
                path: f.clone(),
                rule: "(the file)".into(),
                construct: e.to_string().replace('\n', " "),
            })),
        }
    }
    let filters = Filters(
        docs.iter()
            .flat_map(|(f, c)| c.filters.iter().map(move |x| (f.clone(), x.clone())))
            .collect(),
    );
    // Every detection rule, by name and id, for the correlations and filters.
    let mut by_ref: HashMap<String, (PathBuf, SigmaRule)> = HashMap::new();
    for (f, c) in &docs {
        for r in &c.rules {
            for key in [r.name.clone(), r.id.clone()].into_iter().flatten() {
                by_ref.insert(key, (f.clone(), r.clone()));
            }
        }
    }
    // Rules a correlation uses without `generate: true` make no alerts of their own.
    let mut silent: BTreeSet<String> = BTreeSet::new();
    for (_, c) in &docs {
        for k in c.correlations.iter().filter(|k| !k.generate) {
            silent.extend(k.rules.iter().cloned());
        }
    }
    for (f, c) in &docs {
        for r in &c.rules {
            let referenced = [&r.name, &r.id]
                .into_iter()
                .flatten()
                .any(|k| silent.contains(k));
            if !referenced {
                out.push(convert_rule_filtered(f, r, &filters));
            }
        }
        for k in &c.correlations {
            out.push(correlate::convert(f, k, &by_ref, &filters));
        }
    }
    // A filter that applies to no rule here is said, not dropped without a word.
    for (f, flt) in &filters.0 {
        if let rsigma_parser::ast::FilterRuleTarget::Specific(names) = &flt.rules
            && !names.iter().any(|n| by_ref.contains_key(n))
        {
            out.push(Err(SigmaError {
                path: f.clone(),
                rule: flt.title.clone(),
                construct: format!(
                    "the filter applies to {}, none of which is among the rules given",
                    names.join(", ")
                ),
            }));
        }
    }
    out
}

/// The filter rules given (Sigma filters: conditions that take events out of the rules
/// they name, or of every rule of their logsource).
#[derive(Debug, Default)]
pub struct Filters(Vec<(PathBuf, rsigma_parser::ast::FilterRule)>);

impl Filters {
    /// The SQL that keeps the events of `r` the filters applying to it let through
    /// (`TRUE` when none applies).
    pub(crate) fn keep(&self, r: &SigmaRule, target: &Target) -> Result<String, String> {
        use rsigma_parser::ast::FilterRuleTarget;
        let mut parts = Vec::new();
        for (f, flt) in &self.0 {
            let named = match &flt.rules {
                FilterRuleTarget::Any => false,
                FilterRuleTarget::Specific(names) => names
                    .iter()
                    .any(|n| Some(n) == r.id.as_ref() || Some(n) == r.name.as_ref()),
            };
            if !named && !matches!(flt.rules, FilterRuleTarget::Any) {
                continue;
            }
            let ft = flt.logsource.as_ref().map(Target::of);
            match ft {
                Some(Ok(t)) if t == *target => {}
                // A filter for every rule applies to those of its logsource only.
                _ if !named => continue,
                _ => {
                    return Err(format!(
                        "the filter `{}` ({}) names this rule but is for another logsource",
                        flt.title,
                        f.display()
                    ));
                }
            }
            let cond = detections_condition(&flt.detection, target)
                .map_err(|e| format!("the filter `{}` ({}): {e}", flt.title, f.display()))?;
            parts.push(format!("NOT coalesce({cond}, FALSE)"));
        }
        Ok(if parts.is_empty() {
            "TRUE".into()
        } else {
            parts.join(" AND ")
        })
    }
}

fn rule_files(path: &Path) -> Result<Vec<PathBuf>, SigmaError> {
    let err = |e: std::io::Error| SigmaError {
        path: path.to_path_buf(),
        rule: "(the path)".into(),
        construct: e.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(err)?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    let mut seen = BTreeSet::new();
    while let Some(d) = stack.pop() {
        let Ok(canon) = d.canonicalize() else {
            continue;
        };
        if !seen.insert(canon) {
            continue;
        }
        for e in std::fs::read_dir(&d).map_err(err)? {
            let p = e.map_err(err)?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A SQL string literal.
pub(crate) fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A detection id from a rule: `sigma_` and its name or title, lower-case words joined
/// by `_`, cut at 60 characters, with the start of the Sigma id when it has one (two
/// rules of one title stay apart).
pub(crate) fn detection_id(name: Option<&str>, title: &str, id: Option<&str>) -> String {
    let base = name.unwrap_or(title);
    let mut slug = String::new();
    for c in base.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('_') {
            slug.push('_');
        }
    }
    let mut slug: String = slug.trim_matches('_').chars().take(60).collect();
    slug = slug.trim_end_matches('_').to_owned();
    match id {
        Some(id) => {
            let short: String = id.chars().filter(char::is_ascii_hexdigit).take(8).collect();
            format!("sigma_{slug}_{}", short.to_ascii_lowercase())
        }
        None => format!("sigma_{slug}"),
    }
}

pub(crate) fn severity(level: Option<&Level>) -> &'static str {
    match level {
        Some(Level::Critical) => "critical",
        Some(Level::High) => "high",
        Some(Level::Medium) => "medium",
        _ => "low",
    }
}

/// The stage of a rule from its ATT&CK tactic tags (`attack.initial-access`): initial
/// access for getting in and holding on to credentials, staging for collection and
/// exfiltration, admin access for what an intruder does once in.
pub(crate) fn stage(tags: &[String]) -> &'static str {
    let tactics: Vec<&str> = tags
        .iter()
        .filter_map(|t| t.strip_prefix("attack."))
        .collect();
    if tactics
        .iter()
        .any(|t| matches!(*t, "collection" | "exfiltration"))
    {
        "staging"
    } else if tactics.is_empty()
        || tactics.iter().any(|t| {
            matches!(
                *t,
                "initial-access" | "initial_access" | "credential-access" | "credential_access"
            )
        })
    {
        "initial-access"
    } else {
        "admin-access"
    }
}

/// The first ATT&CK technique tag (`attack.t1098.003` is `T1098.003`), or `-`.
pub(crate) fn technique(tags: &[String]) -> String {
    tags.iter()
        .filter_map(|t| t.strip_prefix("attack.t"))
        .find(|t| {
            t.chars().next().is_some_and(|c| c.is_ascii_digit())
                && t.chars().all(|c| c.is_ascii_digit() || c == '.')
        })
        .map_or_else(
            || "-".to_owned(),
            |t| format!("T{}", t.to_ascii_uppercase()),
        )
}

/// The first ATT&CK tactic tag, in words (`attack.privilege-escalation` is
/// `Privilege Escalation`).
pub(crate) fn tactic(tags: &[String]) -> Option<String> {
    tags.iter()
        .filter_map(|t| t.strip_prefix("attack."))
        .find(|t| !t.starts_with('t') || !t[1..].starts_with(|c: char| c.is_ascii_digit()))
        .filter(|t| !t.starts_with('g') && !t.starts_with('s'))
        .map(|t| {
            t.split(['-', '_'])
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
}

/// One line of header text.
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The link to a SigmaHQ rule from where it sits in a copy of the repository
/// (`.../rules/identity/okta/x.yml`), else its first reference.
pub(crate) fn link(path: &Path, references: &[String]) -> Option<String> {
    let text = path.to_string_lossy().replace('\\', "/");
    for top in [
        "rules/",
        "rules-emerging-threats/",
        "rules-threat-hunting/",
        "rules-placeholder/",
    ] {
        if let Some(at) = text.find(&format!("/{top}")) {
            return Some(format!(
                "https://github.com/SigmaHQ/sigma/blob/master/{}",
                &text[at + 1..]
            ));
        }
    }
    references.first().cloned()
}

/// The header every converted rule carries: midgame's fields, then the Sigma rule's
/// attribution (its id, author and link, as the Detection Rule License asks).
#[allow(clippy::too_many_arguments)]
pub(crate) fn header(
    id: &str,
    title: &str,
    level: Option<&Level>,
    tags: &[String],
    description: Option<&str>,
    falsepositives: &[String],
    sigma_id: Option<&str>,
    author: Option<&str>,
    path: &Path,
    references: &[String],
) -> String {
    let mut h = String::new();
    let _ = writeln!(h, "-- id: {id}");
    let _ = writeln!(h, "-- title: {}", one_line(title));
    let _ = writeln!(h, "-- severity: {}", severity(level));
    let _ = writeln!(h, "-- stage: {}", stage(tags));
    let _ = writeln!(h, "-- attack: {}", technique(tags));
    let _ = writeln!(
        h,
        "-- description: {}",
        one_line(description.unwrap_or(title))
    );
    if let Some(t) = tactic(tags) {
        let _ = writeln!(h, "-- tactic: {}", one_line(&t));
    }
    if !falsepositives.is_empty() {
        let _ = writeln!(
            h,
            "-- false_positives: {}",
            one_line(&falsepositives.join("; "))
        );
    }
    if let Some(s) = sigma_id {
        let _ = writeln!(h, "-- sigma_id: {}", one_line(s));
    }
    if let Some(a) = author {
        let _ = writeln!(h, "-- sigma_author: {}", one_line(a));
    }
    if let Some(l) = link(path, references) {
        let _ = writeln!(h, "-- sigma_link: {}", one_line(&l));
    }
    let _ = writeln!(
        h,
        "-- sigma_rule: {} (converted by midgame sigma convert; Detection Rule License 1.1 for SigmaHQ rules)",
        one_line(&path.file_name().unwrap_or_default().to_string_lossy())
    );
    h
}

/// Convert one detection rule.
///
/// # Errors
/// The rule uses what is not supported (see the crate's doc).
pub fn convert_rule(path: &Path, r: &SigmaRule) -> Result<Converted, SigmaError> {
    convert_rule_filtered(path, r, &Filters::default())
}

fn convert_rule_filtered(
    path: &Path,
    r: &SigmaRule,
    filters: &Filters,
) -> Result<Converted, SigmaError> {
    let fail = |construct: String| SigmaError {
        path: path.to_path_buf(),
        rule: r.title.clone(),
        construct,
    };
    let target = Target::of(&r.logsource).map_err(fail)?;
    let cond = rule_condition(r, &target, filters).map_err(fail)?;
    let id = detection_id(r.name.as_deref(), &r.title, r.id.as_deref());
    let mut text = header(
        &id,
        &r.title,
        r.level.as_ref(),
        &r.tags,
        r.description.as_deref(),
        &r.falsepositives,
        r.id.as_deref(),
        r.author.as_deref(),
        path,
        &r.references,
    );
    let what = target.what_column();
    let _ = write!(
        text,
        "SELECT user, time AS first_seen, time AS last_seen,\n       \
         concat({}, ': ', coalesce(user, '(no user)'), ' ', {what}, ' from ', coalesce(src_ip, '(no address)')) AS summary,\n       \
         concat(file, ':', CAST(line AS VARCHAR)) AS alert_key,\n       \
         {what} AS event, src_ip, file, line\n\
         FROM {}\n\
         WHERE source = {} AND ({cond})\n\
         ORDER BY time, file, line\n",
        lit(&one_line(&r.title)),
        target.table,
        lit(target.source)
    );
    Ok(Converted {
        id,
        title: r.title.clone(),
        source: path.to_path_buf(),
        text,
    })
}

/// A rule's condition as SQL (several conditions are any of them), with the filters
/// that apply to it.
pub(crate) fn rule_condition(
    r: &SigmaRule,
    target: &Target,
    filters: &Filters,
) -> Result<String, String> {
    let cond = detections_condition(&r.detection, target)?;
    Ok(match filters.keep(r, target)?.as_str() {
        "TRUE" => cond,
        keep => format!("({cond} AND {keep})"),
    })
}

/// A detection section's condition as SQL.
fn detections_condition(
    d: &rsigma_parser::ast::Detections,
    target: &Target,
) -> Result<String, String> {
    if d.timeframe.is_some() {
        return Err(
            "`timeframe` with an aggregating condition (Sigma v1 `| count()`) is not supported: write a correlation rule".into(),
        );
    }
    if d.conditions.is_empty() {
        return Err("the rule has no condition".into());
    }
    let parts: Vec<String> = d
        .conditions
        .iter()
        .map(|c| condition(c, &d.named, target))
        .collect::<Result<_, _>>()?;
    Ok(if parts.len() == 1 {
        parts.into_iter().next().unwrap_or_default()
    } else {
        format!("({})", parts.join(" OR "))
    })
}

fn condition(
    c: &ConditionExpr,
    named: &HashMap<String, Detection>,
    target: &Target,
) -> Result<String, String> {
    Ok(match c {
        ConditionExpr::And(v) => format!(
            "({})",
            v.iter()
                .map(|x| condition(x, named, target))
                .collect::<Result<Vec<_>, _>>()?
                .join(" AND ")
        ),
        ConditionExpr::Or(v) => format!(
            "({})",
            v.iter()
                .map(|x| condition(x, named, target))
                .collect::<Result<Vec<_>, _>>()?
                .join(" OR ")
        ),
        ConditionExpr::Not(x) => format!("(NOT {})", condition(x, named, target)?),
        ConditionExpr::Identifier(id) => {
            let d = named.get(id).ok_or_else(|| {
                format!("the condition names `{id}`, which the detection does not define")
            })?;
            detection(d, target)?
        }
        ConditionExpr::Selector {
            quantifier,
            pattern,
        } => {
            let mut names: Vec<&String> = named
                .keys()
                .filter(|k| match pattern {
                    SelectorPattern::Them => !k.starts_with('_'),
                    SelectorPattern::Pattern(p) => wildcard_match(p, k),
                })
                .collect();
            names.sort();
            if names.is_empty() {
                return Err(format!("`{quantifier} of {pattern}` matches no detection"));
            }
            let parts: Vec<String> = names
                .iter()
                .map(|n| detection(&named[*n], target))
                .collect::<Result<_, _>>()?;
            match quantifier {
                Quantifier::Any => format!("({})", parts.join(" OR ")),
                Quantifier::All => format!("({})", parts.join(" AND ")),
                Quantifier::Count(n) => format!(
                    "(({}) >= {n})",
                    parts
                        .iter()
                        .map(|p| format!("CASE WHEN {p} THEN 1 ELSE 0 END"))
                        .collect::<Vec<_>>()
                        .join(" + ")
                ),
            }
        }
    })
}

/// `selection_*` against a detection name.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let re = format!(
        "^{}$",
        pattern
            .split('*')
            .map(regex::escape)
            .collect::<Vec<_>>()
            .join(".*")
    );
    regex::Regex::new(&re).is_ok_and(|r| r.is_match(name))
}

fn detection(d: &Detection, target: &Target) -> Result<String, String> {
    Ok(match d {
        Detection::AllOf(items) => {
            if items.is_empty() {
                return Ok("TRUE".into());
            }
            format!(
                "({})",
                items
                    .iter()
                    .map(|i| item(i, target))
                    .collect::<Result<Vec<_>, _>>()?
                    .join(" AND ")
            )
        }
        Detection::AnyOf(v) => format!(
            "({})",
            v.iter()
                .map(|x| detection(x, target))
                .collect::<Result<Vec<_>, _>>()?
                .join(" OR ")
        ),
        Detection::And(v) => format!(
            "({})",
            v.iter()
                .map(|x| detection(x, target))
                .collect::<Result<Vec<_>, _>>()?
                .join(" AND ")
        ),
        Detection::Keywords(values) => {
            // A keyword is anywhere in the original record.
            let parts: Vec<String> = values
                .iter()
                .map(|v| match v {
                    SigmaValue::String(s) => Ok(
                        Match::from_string(s, false, Wrap::Contains).on(&Field::raw(""), target)
                    ),
                    other => Ok(Match::Text(other.to_string(), false, Wrap::Contains)
                        .on(&Field::raw(""), target)),
                })
                .collect::<Result<_, String>>()?;
            format!("({})", parts.join(" OR "))
        }
        Detection::ArrayMatch { field, .. } => {
            return Err(format!(
                "the array object-scope block `{field}[...]` is not supported"
            ));
        }
        Detection::Conditional { .. } => {
            return Err("a conditional array object-scope block is not supported".into());
        }
    })
}

/// Where a pattern sits in the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wrap {
    Exact,
    Contains,
    StartsWith,
    EndsWith,
}

/// One value to match, as the converter builds it.
#[derive(Debug, Clone)]
enum Match {
    /// A Sigma string (wildcards kept), case-sensitive or not.
    Pattern(SigmaString, bool, Wrap),
    /// Plain text (no wildcards), case-sensitive or not.
    Text(String, bool, Wrap),
    /// A regular expression, flags given.
    Regex(String),
    /// An address range.
    Cidr(String),
    /// A number compared (`=`, `<`, `<=`, `>`, `>=`).
    Number(&'static str, String),
    /// A boolean.
    Bool(bool),
    /// Present or not.
    Exists(bool),
    /// Null.
    Null,
    /// Not equal to text.
    NotText(String, bool),
}

impl Match {
    fn from_string(s: &SigmaString, cased: bool, wrap: Wrap) -> Self {
        Match::Pattern(s.clone(), cased, wrap)
    }

    /// The anchored regular expression of a wildcard pattern.
    fn regex_of(s: &SigmaString, cased: bool, wrap: Wrap) -> String {
        let mut re = String::from(if cased { "^" } else { "(?i)^" });
        if matches!(wrap, Wrap::Contains | Wrap::EndsWith) {
            re.push_str(".*");
        }
        for part in &s.parts {
            match part {
                StringPart::Plain(p) => re.push_str(&regex::escape(p)),
                StringPart::Special(SpecialChar::WildcardMulti) => re.push_str(".*"),
                StringPart::Special(SpecialChar::WildcardSingle) => re.push('.'),
            }
        }
        if matches!(wrap, Wrap::Contains | Wrap::StartsWith) {
            re.push_str(".*");
        }
        re.push('$');
        // Values may span lines (a displayMessage does not; a raw record might).
        format!("(?s){re}")
    }

    /// SQL for this match on `field`.
    fn on(&self, field: &Field, target: &Target) -> String {
        match field {
            // A missing value matches nothing (and `not` of it holds), as in Sigma.
            Field::Column(c, kind) => format!("coalesce({}, FALSE)", self.on_column(c, *kind)),
            Field::Raw(path) => self.on_raw(path, target),
            Field::Any(fields) => format!(
                "({})",
                fields
                    .iter()
                    .map(|f| self.on(f, target))
                    .collect::<Vec<_>>()
                    .join(" OR ")
            ),
        }
    }

    fn on_column(&self, c: &str, kind: fields::Kind) -> String {
        use fields::Kind;
        let text = |v: &str| match kind {
            Kind::Text => lit(v),
            _ => lit(v),
        };
        match self {
            Match::Pattern(s, cased, wrap) => match (s.as_plain(), kind) {
                (Some(p), Kind::Number) => match p.trim().parse::<f64>() {
                    Ok(_) => format!("{c} = {}", p.trim()),
                    Err(_) => "FALSE".into(),
                },
                (Some(p), Kind::Bool) => match p.to_ascii_lowercase().as_str() {
                    "true" => format!("{c} = TRUE"),
                    "false" => format!("{c} = FALSE"),
                    _ => "FALSE".into(),
                },
                (Some(p), Kind::Text) if *wrap == Wrap::Exact => {
                    if *cased {
                        format!("{c} = {}", text(&p))
                    } else {
                        format!("lower({c}) = {}", lit(&p.to_lowercase()))
                    }
                }
                _ => format!(
                    "regexp_like(CAST({c} AS VARCHAR), {})",
                    lit(&Self::regex_of(s, *cased, *wrap))
                ),
            },
            Match::Text(t, cased, wrap) => {
                Match::Pattern(SigmaString::from_raw(t), *cased, *wrap).on_column(c, kind)
            }
            Match::Regex(re) => format!("regexp_like(CAST({c} AS VARCHAR), {})", lit(re)),
            Match::Cidr(r) => format!(
                "coalesce(cidr_contains({}, CAST({c} AS VARCHAR)), FALSE)",
                lit(r)
            ),
            Match::Number(op, n) => match kind {
                Kind::Number => format!("{c} {op} {n}"),
                _ => format!("TRY_CAST({c} AS DOUBLE) {op} {n}"),
            },
            Match::Bool(b) => match kind {
                Kind::Bool => format!("{c} = {}", if *b { "TRUE" } else { "FALSE" }),
                _ => format!(
                    "lower(CAST({c} AS VARCHAR)) = {}",
                    lit(if *b { "true" } else { "false" })
                ),
            },
            Match::Exists(true) => format!("{c} IS NOT NULL"),
            Match::Exists(false) | Match::Null => format!("{c} IS NULL"),
            Match::NotText(t, cased) => {
                if *cased {
                    format!("({c} IS NULL OR CAST({c} AS VARCHAR) <> {})", lit(t))
                } else {
                    format!(
                        "({c} IS NULL OR lower(CAST({c} AS VARCHAR)) <> {})",
                        lit(&t.to_lowercase())
                    )
                }
            }
        }
    }

    fn on_raw(&self, path: &str, _target: &Target) -> String {
        let call = |op: &str, arg: &str| {
            format!("sigma_match(raw, {}, {}, {})", lit(path), lit(op), lit(arg))
        };
        match self {
            Match::Pattern(s, cased, wrap) => call("re", &Self::regex_of(s, *cased, *wrap)),
            Match::Text(t, cased, wrap) => call(
                "re",
                &Self::regex_of(&SigmaString::from_raw(t), *cased, *wrap),
            ),
            Match::Regex(re) => call("re", re),
            Match::Cidr(r) => call("cidr", r),
            Match::Number(op, n) => call(
                match *op {
                    "=" => "eq",
                    "<" => "lt",
                    "<=" => "le",
                    ">" => "gt",
                    _ => "ge",
                },
                n,
            ),
            Match::Bool(b) => call("re", if *b { "(?i)^true$" } else { "(?i)^false$" }),
            Match::Exists(true) => call("exists", ""),
            Match::Exists(false) | Match::Null => call("null", ""),
            Match::NotText(t, cased) => format!(
                "NOT {}",
                call(
                    "re",
                    &Self::regex_of(&SigmaString::from_raw(t), *cased, Wrap::Exact)
                )
            ),
        }
    }
}

/// One detection item (`field|modifiers: values`) as SQL.
fn item(i: &DetectionItem, target: &Target) -> Result<String, String> {
    let Some(name) = &i.field.name else {
        // A keyword list given as an item.
        let m = Detection::Keywords(i.values.clone());
        return detection(&m, target);
    };
    let mods = &i.field.modifiers;
    let has = |m: Modifier| mods.contains(&m);
    for m in mods {
        match m {
            Modifier::Wide | Modifier::Utf16be | Modifier::Utf16 => {
                return Err(format!(
                    "`{name}|{}`: UTF-16 encodings are for Windows event data, not identity logs",
                    modifier_name(*m)
                ));
            }
            Modifier::Expand => {
                return Err(format!(
                    "`{name}|expand`: placeholders need a pipeline that fills them"
                ));
            }
            Modifier::Minute
            | Modifier::Hour
            | Modifier::Day
            | Modifier::Week
            | Modifier::Month
            | Modifier::Year => {
                return Err(format!(
                    "`{name}|{}`: timestamp parts are not supported",
                    modifier_name(*m)
                ));
            }
            _ => {}
        }
    }
    let field = target.field(name);
    if has(Modifier::FieldRef) {
        let parts: Vec<String> = i
            .values
            .iter()
            .map(|v| {
                let other = target.field(&v.to_string());
                // A missing field equals nothing.
                Ok(format!(
                    "coalesce({} = {}, FALSE)",
                    field.text_sql(),
                    other.text_sql()
                ))
            })
            .collect::<Result<_, String>>()?;
        return Ok(join(&parts, has(Modifier::All)));
    }
    if has(Modifier::Exists) {
        let want = match i.values.first() {
            Some(SigmaValue::Bool(b)) => *b,
            Some(SigmaValue::String(s)) if s.original.eq_ignore_ascii_case("true") => true,
            Some(SigmaValue::String(s)) if s.original.eq_ignore_ascii_case("false") => false,
            _ => return Err(format!("`{name}|exists` takes true or false")),
        };
        return Ok(Match::Exists(want).on(&field, target));
    }
    let cased = has(Modifier::Cased);
    let wrap = if has(Modifier::Contains) {
        Wrap::Contains
    } else if has(Modifier::StartsWith) {
        Wrap::StartsWith
    } else if has(Modifier::EndsWith) {
        Wrap::EndsWith
    } else {
        Wrap::Exact
    };
    let mut parts = Vec::new();
    for v in &i.values {
        for m in matches(name, v, mods, cased, wrap)? {
            parts.push(m.on(&field, target));
        }
    }
    if parts.is_empty() {
        return Err(format!("`{name}` has no value"));
    }
    // The encodings make one value several (base64offset, windash): any of them.
    let all = has(Modifier::All);
    if all && (has(Modifier::Base64Offset) || has(Modifier::WindAsh)) {
        return Err(format!(
            "`{name}`: `|all` with an encoding that makes several variants of each value is not supported"
        ));
    }
    Ok(join(&parts, all))
}

fn join(parts: &[String], all: bool) -> String {
    if parts.len() == 1 {
        return parts[0].clone();
    }
    format!("({})", parts.join(if all { " AND " } else { " OR " }))
}

fn modifier_name(m: Modifier) -> String {
    format!("{m:?}").to_lowercase()
}

/// The matches one value makes under the modifiers.
fn matches(
    name: &str,
    v: &SigmaValue,
    mods: &[Modifier],
    cased: bool,
    wrap: Wrap,
) -> Result<Vec<Match>, String> {
    let has = |m: Modifier| mods.contains(&m);
    let compare = [
        (Modifier::Gt, ">"),
        (Modifier::Gte, ">="),
        (Modifier::Lt, "<"),
        (Modifier::Lte, "<="),
    ]
    .into_iter()
    .find(|(m, _)| has(*m));
    if let Some((_, op)) = compare {
        let n = match v {
            SigmaValue::Integer(i) => i.to_string(),
            SigmaValue::Float(f) => f.to_string(),
            SigmaValue::String(s) if s.original.trim().parse::<f64>().is_ok() => {
                s.original.trim().to_owned()
            }
            other => return Err(format!("`{name}`: {other} is not a number to compare")),
        };
        return Ok(vec![Match::Number(op, n)]);
    }
    if has(Modifier::Neq) {
        return Ok(vec![Match::NotText(v.to_string(), cased)]);
    }
    if has(Modifier::Re) {
        let SigmaValue::String(s) = v else {
            return Err(format!("`{name}|re`: {v} is not a regular expression"));
        };
        let mut flags = String::new();
        if has(Modifier::IgnoreCase) {
            flags.push('i');
        }
        if has(Modifier::Multiline) {
            flags.push('m');
        }
        if has(Modifier::DotAll) {
            flags.push('s');
        }
        let re = if flags.is_empty() {
            s.original.clone()
        } else {
            format!("(?{flags}){}", s.original)
        };
        regex::Regex::new(&re).map_err(|e| {
            format!(
                "`{name}|re`: the regular expression {:?} is not supported by the regex engine ({})",
                s.original,
                e.to_string().lines().last().unwrap_or("invalid").trim()
            )
        })?;
        return Ok(vec![Match::Regex(re)]);
    }
    if has(Modifier::Cidr) {
        let SigmaValue::String(s) = v else {
            return Err(format!("`{name}|cidr`: {v} is not a network"));
        };
        return Ok(vec![Match::Cidr(s.original.clone())]);
    }
    match v {
        SigmaValue::Null => Ok(vec![Match::Null]),
        SigmaValue::Bool(b) => Ok(vec![Match::Bool(*b)]),
        SigmaValue::Integer(i) => Ok(vec![if wrap == Wrap::Exact {
            Match::Number("=", i.to_string())
        } else {
            Match::Text(i.to_string(), cased, wrap)
        }]),
        SigmaValue::Float(f) => Ok(vec![Match::Number("=", f.to_string())]),
        SigmaValue::String(s) => {
            if has(Modifier::Base64) || has(Modifier::Base64Offset) {
                let plain = s.as_plain().ok_or_else(|| {
                    format!("`{name}|base64`: a value with wildcards cannot be encoded")
                })?;
                let encoded = if has(Modifier::Base64Offset) {
                    base64_offsets(&plain)
                } else {
                    vec![b64(plain.as_bytes())]
                };
                // An encoded value is matched as it is written (base64 is cased).
                return Ok(encoded
                    .into_iter()
                    .map(|e| {
                        Match::Text(
                            e,
                            true,
                            if wrap == Wrap::Exact && has(Modifier::Base64) {
                                Wrap::Exact
                            } else {
                                Wrap::Contains
                            },
                        )
                    })
                    .collect());
            }
            if has(Modifier::WindAsh) {
                let variants = windash(&s.original);
                return Ok(variants
                    .into_iter()
                    .map(|t| Match::Pattern(SigmaString::new(&t), cased, wrap))
                    .collect());
            }
            Ok(vec![Match::Pattern(s.clone(), cased, wrap)])
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The three encodings of `plain` at each offset in a base64 stream, without the
/// characters that depend on what comes before or after (pySigma's base64offset).
fn base64_offsets(plain: &str) -> Vec<String> {
    let start_cut = [0usize, 2, 3];
    let end_cut = [0usize, 3, 2];
    (0..3)
        .map(|i| {
            let mut bytes = vec![b' '; i];
            bytes.extend(plain.as_bytes());
            let enc = b64(&bytes);
            let trimmed_end = (plain.len() + i) % 3;
            let end = enc.len() - end_cut[trimmed_end];
            enc[start_cut[i]..end].to_owned()
        })
        .collect()
}

/// A command-line flag written with each dash Windows takes (`-`, `/`, en dash, em
/// dash, horizontal bar) at the start of a word.
fn windash(s: &str) -> Vec<String> {
    let dashes = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
    let mut out = Vec::new();
    for d in dashes {
        let v: String = s
            .char_indices()
            .map(|(i, c)| {
                let starts_word = i == 0 || s[..i].ends_with(' ');
                if (c == '-' || c == '/') && starts_word {
                    d
                } else {
                    c
                }
            })
            .collect();
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

impl Target {
    /// The table and field mapping of a logsource.
    ///
    /// # Errors
    /// No table of the lake holds what the logsource names.
    pub fn of(ls: &LogSource) -> Result<Self, String> {
        fields::target(ls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_tags_and_levels() {
        assert_eq!(
            detection_id(
                None,
                "Okta API Token Created",
                Some("19951c21-229d-4ccb-8774-b993c3ff3c5c")
            ),
            "sigma_okta_api_token_created_19951c21"
        );
        let tags: Vec<String> = ["attack.privilege-escalation", "attack.t1098.003"]
            .map(String::from)
            .to_vec();
        assert_eq!(technique(&tags), "T1098.003");
        assert_eq!(tactic(&tags).as_deref(), Some("Privilege Escalation"));
        assert_eq!(stage(&tags), "admin-access");
        assert_eq!(
            stage(&["attack.initial-access".to_owned()]),
            "initial-access"
        );
        assert_eq!(severity(Some(&Level::Informational)), "low");
    }

    #[test]
    fn base64_offsets_match_pysigma() {
        // pySigma's documented example: 'Test' at the three offsets.
        assert_eq!(base64_offsets("Test"), ["VGVzd", "Rlc3", "UZXN0"]);
    }

    #[test]
    fn windash_variants() {
        assert_eq!(
            windash("-foo /bar")[..2],
            ["-foo -bar".to_owned(), "/foo /bar".to_owned()]
        );
        assert_eq!(windash("-foo").len(), 5);
    }
}
