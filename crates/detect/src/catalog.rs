//! What an analyst at the SQL prompt asks about the session: which tables and views
//! there are and what they mean, a table's columns, the nearest column to a misspelt
//! one; and how a script splits into statements.

use std::collections::BTreeMap;

use arrow::array::AsArray;
use arrow::datatypes::DataType;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;

/// A table or view of the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// Its name.
    pub name: String,
    /// A view (else a table).
    pub view: bool,
    /// What it holds (empty when midgame does not know it).
    pub doc: String,
}

/// A column of a table or view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnInfo {
    /// Its name.
    pub name: String,
    /// Its type as an analyst reads it (`text`, `timestamp (UTC)`, `int64`).
    pub type_name: String,
    /// It may be null.
    pub nullable: bool,
    /// What it means (empty when midgame does not know it).
    pub doc: String,
}

/// What went wrong asking the catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] DataFusionError),
    /// A column could not be read.
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    /// There is no such table or view.
    #[error("no table or view named {0:?}")]
    Unknown(String),
}

fn docs() -> BTreeMap<String, String> {
    let mut docs: BTreeMap<String, String> = BTreeMap::new();
    for t in midgame_schema::Table::ALL {
        docs.insert(t.name.to_owned(), t.doc.to_owned());
    }
    for (name, doc, _) in crate::VIEWS.iter().chain(crate::OCSF_VIEWS) {
        docs.insert((*name).to_owned(), (*doc).to_owned());
    }
    docs.insert(
        "allowlisted_ip".into(),
        "The lake's addresses inside the [allowlist] ranges, with the reason.".into(),
    );
    docs
}

/// Every table and view of the session, by name.
///
/// # Errors
/// The engine cannot list them.
pub async fn relations(ctx: &SessionContext) -> Result<Vec<Relation>, CatalogError> {
    let batches = ctx
        .sql("SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name")
        .await?
        .collect()
        .await?;
    let docs = docs();
    let mut out = Vec::new();
    for b in &batches {
        let names = arrow::compute::cast(b.column(0), &DataType::Utf8)?;
        let kinds = arrow::compute::cast(b.column(1), &DataType::Utf8)?;
        let (names, kinds) = (names.as_string::<i32>(), kinds.as_string::<i32>());
        for i in 0..b.num_rows() {
            let name = names.value(i).to_owned();
            out.push(Relation {
                doc: docs.get(&name).cloned().unwrap_or_default(),
                view: kinds.value(i) == "VIEW",
                name,
            });
        }
    }
    Ok(out)
}

/// The columns of table or view `name`, with what each means.
///
/// # Errors
/// There is no such table or view.
pub async fn describe(ctx: &SessionContext, name: &str) -> Result<Vec<ColumnInfo>, CatalogError> {
    let schema = ctx
        .table(name)
        .await
        .map_err(|_| CatalogError::Unknown(name.to_owned()))?
        .schema()
        .as_arrow()
        .clone();
    let mut meaning: BTreeMap<&str, &str> = BTreeMap::new();
    let own = midgame_schema::Table::ALL.iter().find(|t| t.name == name);
    // Columns a view takes from the tables keep their meaning.
    for t in midgame_schema::Table::ALL.iter().rev() {
        if own.is_some_and(|o| o.name != t.name) {
            continue;
        }
        for c in t.columns {
            meaning.insert(c.name, c.doc);
        }
    }
    for (column, doc) in [
        (
            "date",
            "The UTC day of `time` (YYYY-MM-DD): the folder of day files, a column of clustered ones.",
        ),
        (
            "device",
            "Device key: `device_id`, else `os / browser` family.",
        ),
        (
            "prev_device_ms",
            "When this user last used this device before this row (epoch ms; null: never).",
        ),
        ("first_ms", "The user's first row in any table (epoch ms)."),
        ("ip", "An allow-listed address seen in the lake."),
        ("reason", "Why it is allow-listed."),
    ] {
        meaning.insert(column, doc);
    }
    Ok(schema
        .fields()
        .iter()
        .map(|f| ColumnInfo {
            name: f.name().clone(),
            type_name: type_name(f.data_type()),
            nullable: f.is_nullable(),
            doc: meaning
                .get(f.name().as_str())
                .copied()
                .unwrap_or("")
                .to_owned(),
        })
        .collect())
}

fn type_name(t: &DataType) -> String {
    match t {
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => "text".into(),
        DataType::Timestamp(_, Some(tz)) => format!("timestamp ({tz})"),
        other => other.to_string().to_lowercase(),
    }
}

/// For an engine error "No field named x": the nearest real column and the columns of its
/// table, as "did you mean `user`? auth has: ...". `None` when the engine already named
/// the valid fields or nothing is near.
#[must_use]
pub fn column_hint(message: &str) -> Option<String> {
    if message.contains("Valid fields are") {
        return None;
    }
    let rest = message.split("No field named ").nth(1)?;
    let name: String = rest
        .trim_start_matches(['"', '`'])
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
        .collect();
    let name = name
        .trim_end_matches('.')
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_lowercase();
    let name = name.as_str();
    let (d, col, table) = midgame_schema::Table::ALL
        .iter()
        .flat_map(|t| {
            t.columns
                .iter()
                .map(move |c| (distance(name, c.name), c.name, t))
        })
        .min_by_key(|(d, _, _)| *d)?;
    (d <= 3).then(|| {
        let cols: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
        format!(
            "did you mean `{col}`? {} has: {}",
            table.name,
            cols.join(", ")
        )
    })
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Split `text` into complete statements (ended by `;` outside quotes and comments) and
/// the incomplete rest.
#[must_use]
pub fn split_statements(text: &str) -> (Vec<String>, String) {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    let mut quote: Option<char> = None;
    while let Some((i, c)) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '-' if chars.peek().is_some_and(|(_, n)| *n == '-') => {
                    // A comment runs to the end of the line.
                    for (_, n) in chars.by_ref() {
                        if n == '\n' {
                            break;
                        }
                    }
                }
                ';' => {
                    let stmt = text[start..i].trim();
                    if !stmt.is_empty() {
                        out.push(stmt.to_owned());
                    }
                    start = i + 1;
                }
                _ => {}
            },
        }
    }
    (out, text[start..].to_owned())
}

/// What the SQL shell may do besides reading: by default nothing. The lake is written
/// only by ingest, so `COPY` never goes into it and no statement changes its tables.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    /// `COPY ... TO` and `INSERT` may write files (never into the lake).
    pub allow_write: bool,
    /// `CREATE EXTERNAL TABLE` may read files outside the lake.
    pub allow_files: bool,
    /// The lake's root: nothing is written under it.
    pub lake: std::path::PathBuf,
}

/// Why the shell refused a statement.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// The statement does what the session was not opened for.
    #[error("{0}")]
    Refused(String),
    /// The engine refused or failed it.
    #[error(transparent)]
    Engine(#[from] DataFusionError),
}

/// Plan `sql` and refuse what [`Guard`] does not allow, before anything runs (a `COPY`
/// inside `EXPLAIN ANALYZE` or a subquery included).
///
/// # Errors
/// The statement is refused, or does not plan.
pub async fn guarded_sql(
    ctx: &SessionContext,
    sql: &str,
    guard: &Guard,
) -> Result<datafusion::dataframe::DataFrame, GuardError> {
    use datafusion::common::tree_node::TreeNodeRecursion;
    use datafusion::logical_expr::{DdlStatement, LogicalPlan};
    let plan = ctx.state().create_logical_plan(sql).await?;
    let mut refusal = None;
    plan.apply_with_subqueries(|node| {
        refusal = match node {
            LogicalPlan::Copy(c) if !guard.allow_write => Some(format!(
                "COPY writes {}: the shell is read-only unless started with --allow-write",
                c.output_url
            )),
            LogicalPlan::Copy(c) if inside(&guard.lake, &c.output_url) => Some(format!(
                "COPY into {}: that is inside the lake, which only ingest writes",
                c.output_url
            )),
            LogicalPlan::Dml(d) if is_lake_table(d.table_name.table()) => Some(format!(
                "{} on {}: the lake's tables are written only by ingest",
                d.op, d.table_name
            )),
            LogicalPlan::Dml(d) if !guard.allow_write => Some(format!(
                "{} on {}: the shell is read-only unless started with --allow-write",
                d.op, d.table_name
            )),
            LogicalPlan::Ddl(DdlStatement::CreateExternalTable(t)) if !guard.allow_files => {
                Some(format!(
                    "CREATE EXTERNAL TABLE {} reads {}: files outside the lake need --allow-files",
                    t.name,
                    t.locations.join(", ")
                ))
            }
            _ => None,
        };
        Ok(if refusal.is_some() {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    })?;
    if let Some(r) = refusal {
        return Err(GuardError::Refused(r));
    }
    Ok(ctx.execute_logical_plan(plan).await?)
}

fn is_lake_table(name: &str) -> bool {
    midgame_schema::Table::ALL.iter().any(|t| t.name == name) || name == "alerts"
}

/// Whether a `COPY` target (a path, or a `file://` URL) is under `lake`, after `..` and
/// symbolic links in its existing part are resolved.
fn inside(lake: &std::path::Path, target: &str) -> bool {
    use std::path::{Component, PathBuf};
    let Some(path) = target
        .strip_prefix("file://")
        .or((!target.contains("://")).then_some(target))
    else {
        return false;
    };
    let Ok(abs) = std::path::absolute(path) else {
        return true;
    };
    // `..` taken away by hand: the target need not exist yet.
    let mut clean = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                clean.pop();
            }
            Component::CurDir => {}
            other => clean.push(other),
        }
    }
    // The longest part that exists, with its links resolved, then the rest.
    let mut existing = clean.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => break,
        }
    }
    let mut resolved = existing
        .canonicalize()
        .unwrap_or_else(|_| existing.to_path_buf());
    for name in rest.into_iter().rev() {
        resolved.push(name);
    }
    let lake = lake.canonicalize().unwrap_or_else(|_| lake.to_path_buf());
    resolved.starts_with(&lake)
}

/// `sql` holds nothing but whitespace and comments.
#[must_use]
pub fn is_blank(sql: &str) -> bool {
    sql.lines()
        .all(|l| l.split("--").next().unwrap_or("").trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_on_semicolons_outside_quotes_and_comments() {
        let (s, rest) = split_statements("SELECT ';' AS a; -- x; y\nSELECT 2;\nSELECT");
        assert_eq!(s, ["SELECT ';' AS a", "-- x; y\nSELECT 2"]);
        assert_eq!(rest, "\nSELECT");
        let (s, rest) = split_statements("SELECT \"a;b\" FROM t");
        assert!(s.is_empty());
        assert_eq!(rest, "SELECT \"a;b\" FROM t");
        assert!(is_blank("  -- only a comment\n\n"));
        assert!(!is_blank("-- a comment\nSELECT 1"));
    }

    #[test]
    fn edit_distance() {
        assert_eq!(distance("usr", "user"), 1);
        assert_eq!(distance("geo_contry", "geo_country"), 1);
        assert_eq!(distance("", "abc"), 3);
    }

    #[test]
    fn a_misspelt_column_gets_the_nearest_one() {
        let h = column_hint("Schema error: No field named geo_contry.").unwrap();
        assert!(
            h.starts_with("did you mean `geo_country`? auth has: "),
            "{h}"
        );
        assert_eq!(column_hint("No field named zzzzzzzzzzzz"), None);
        assert_eq!(
            column_hint("No field named usr. Valid fields are auth.user"),
            None
        );
    }
}
