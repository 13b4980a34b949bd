//! One person, one `user` across sources (DESIGN 'Identities').

use std::borrow::Cow;
use std::collections::HashMap;

/// A problem in an aliases CSV.
#[derive(Debug, thiserror::Error)]
#[error("aliases line {line}: {reason}")]
pub struct IdentityError {
    /// 1-based line in the CSV.
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

/// Normalises identities: lower-case, `DOMAIN\name` loses its domain, a bare name gets
/// `@default_domain`, then the aliases map the rest.
#[derive(Debug, Clone, Default)]
pub struct IdentityMap {
    default_domain: Option<String>,
    aliases: HashMap<String, String>,
}

impl IdentityMap {
    /// A map with an optional default domain (without `@`) and no aliases.
    #[must_use]
    pub fn new(default_domain: Option<&str>) -> Self {
        Self {
            default_domain: default_domain
                .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
                .filter(|d| !d.is_empty()),
            aliases: HashMap::new(),
        }
    }

    /// Add aliases from CSV text of `alias,user` lines (an `alias,user` header, blank
    /// lines and `#` comments are allowed). Both sides are normalised first, so the alias
    /// `JDoe` matches `ACME\jdoe` too.
    ///
    /// # Errors
    /// A line without exactly two non-empty fields.
    pub fn add_aliases_csv(&mut self, text: &str) -> Result<usize, IdentityError> {
        // Quoted fields may hold commas (`"Doe, John",jdoe`).
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .comment(Some(b'#'))
            .trim(csv::Trim::All)
            .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        let mut added = 0;
        for (i, record) in reader.records().enumerate() {
            let bad = |line: u64, reason: String| IdentityError {
                line: usize::try_from(line).unwrap_or(usize::MAX),
                reason,
            };
            let record = record
                .map_err(|e| bad(e.position().map_or(0, csv::Position::line), e.to_string()))?;
            let line = record.position().map_or(0, csv::Position::line);
            let fields: Vec<&str> = record.iter().collect();
            if fields.iter().all(|f| f.is_empty()) {
                continue;
            }
            if fields.len() != 2 || fields.iter().any(|f| f.is_empty()) {
                let found = fields.join(",");
                return Err(bad(line, format!("expected `alias,user`, found {found:?}")));
            }
            if i == 0 && fields[0].eq_ignore_ascii_case("alias") {
                continue;
            }
            let alias = self.base(fields[0]).into_owned();
            let user = self.base(fields[1]).into_owned();
            self.aliases.insert(alias, user);
            added += 1;
        }
        Ok(added)
    }

    /// The normalised identity of `raw` (borrowed when nothing changes).
    #[must_use]
    pub fn normalise<'a>(&self, raw: &'a str) -> Cow<'a, str> {
        let base = self.base(raw);
        match self.aliases.get(base.as_ref()) {
            Some(user) => Cow::Owned(user.clone()),
            None => base,
        }
    }

    fn base<'a>(&self, raw: &'a str) -> Cow<'a, str> {
        let mut s = raw.trim();
        if let Some((_, name)) = s.rsplit_once('\\') {
            s = name;
        }
        let needs_domain = !s.contains('@') && !s.is_empty();
        let lower = if s.bytes().any(|b| b.is_ascii_uppercase()) || !s.is_ascii() {
            Cow::Owned(s.to_lowercase())
        } else {
            Cow::Borrowed(s)
        };
        match (&self.default_domain, needs_domain) {
            (Some(domain), true) => Cow::Owned(format!("{lower}@{domain}")),
            _ => lower,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_cases_and_strips_the_domain_prefix() {
        let ids = IdentityMap::new(Some("Example.com"));
        assert_eq!(ids.normalise("JDoe@Example.COM"), "jdoe@example.com");
        assert_eq!(ids.normalise(r"ACME\JDoe"), "jdoe@example.com");
        assert_eq!(ids.normalise("jdoe"), "jdoe@example.com");
        assert!(matches!(
            ids.normalise("jdoe@example.com"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn without_default_domain_a_bare_name_stays_bare() {
        let ids = IdentityMap::new(None);
        assert_eq!(ids.normalise(r"CORP\Alice"), "alice");
    }

    #[test]
    fn aliases_map_after_normalising() {
        let mut ids = IdentityMap::new(Some("example.com"));
        let n = ids
            .add_aliases_csv("\u{feff}alias,user\n# vpn names\nJ.Doe,jdoe@example.com\n\nroot-jd@example.com , JDOE\n")
            .unwrap();
        assert_eq!(n, 2);
        assert_eq!(ids.normalise(r"ACME\j.doe"), "jdoe@example.com");
        assert_eq!(ids.normalise("ROOT-JD@example.com"), "jdoe@example.com");
        assert_eq!(ids.normalise("other"), "other@example.com");
    }

    #[test]
    fn quoted_aliases_may_hold_commas() {
        let mut ids = IdentityMap::new(Some("example.com"));
        ids.add_aliases_csv("alias,user\n\"Doe, John\",jdoe\n")
            .unwrap();
        assert_eq!(ids.normalise("doe, john"), "jdoe@example.com");
        let err = ids.add_aliases_csv("\"a,b\n").unwrap_err();
        assert_eq!(err.line, 1, "{err}");
    }

    #[test]
    fn a_bad_alias_line_names_its_line() {
        let mut ids = IdentityMap::new(None);
        let err = ids.add_aliases_csv("a,b\nc\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(
            err.to_string()
                .starts_with("aliases line 2: expected `alias,user`")
        );
    }
}
