//! Correlation rules as window and aggregate SQL over the events of the rules they name.
//!
//! Every referenced rule is a CTE of its matching rows (time, user, address, provenance
//! and the group-by and value fields as text); the correlation then finds, per group, the
//! events at which its condition starts to hold over the sliding `timespan` before them:
//!
//! - `event_count`: events in the window;
//! - `value_count`: distinct values of `field` in the window;
//! - `temporal`: distinct rules matched in the window (all of them, unless a condition);
//! - `temporal_ordered`: the rules matched in their order, the first within the window;
//! - `value_sum`, `value_avg`: the sum or average of the numeric `field` in the window;
//! - `value_percentile`: how common (in %) the event's value of `field` is among the
//!   group's events in the window (`lte: 1`: a value seen in at most 1% of them).
//!
//! An alert is raised at the first event of a burst that meets the condition (the
//! group's previous event that met it is more than the timespan before), so a burst is
//! one alert, not one per event.

use std::collections::HashMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use rsigma_parser::ast::{
    ConditionOperator, CorrelationCondition, CorrelationRule, CorrelationType, SigmaRule,
    WindowMode,
};

use crate::{
    Converted, Filters, SigmaError, Target, detection_id, header, lit, one_line, rule_condition,
};

fn op_sql(op: ConditionOperator) -> &'static str {
    match op {
        ConditionOperator::Lt => "<",
        ConditionOperator::Lte => "<=",
        ConditionOperator::Gt => ">",
        ConditionOperator::Gte => ">=",
        ConditionOperator::Eq => "=",
        ConditionOperator::Neq => "<>",
    }
}

/// A referenced rule's rows: the CTE's SQL and its target.
struct Base {
    cte: String,
    target: Target,
}

pub(crate) fn convert(
    path: &Path,
    k: &CorrelationRule,
    rules: &HashMap<String, (PathBuf, SigmaRule)>,
    filters: &Filters,
) -> Result<Converted, SigmaError> {
    let fail = |construct: String| SigmaError {
        path: path.to_path_buf(),
        rule: k.title.clone(),
        construct,
    };
    if k.window != WindowMode::Sliding {
        return Err(fail(format!(
            "a {} correlation window is not supported (sliding windows are)",
            k.window.as_str()
        )));
    }
    if k.gap.is_some() {
        return Err(fail("a correlation `gap` is not supported".into()));
    }
    if k.rules.is_empty() {
        return Err(fail("the correlation names no rule".into()));
    }
    let (predicates, field, percentile) = match &k.condition {
        CorrelationCondition::Threshold {
            predicates,
            field,
            percentile,
        } => (predicates.clone(), field.clone(), *percentile),
        CorrelationCondition::Extended(_) => {
            return Err(fail(
                "an extended correlation condition (a boolean expression over rules) is not supported"
                    .into(),
            ));
        }
    };
    if percentile.is_some() {
        return Err(fail(
            "a `percentile` key in the condition is not supported".into(),
        ));
    }
    let field = match field.as_deref() {
        None | Some([]) => None,
        Some([f]) => Some(f.clone()),
        Some(_) => {
            return Err(fail(
                "a condition on several fields is not supported".into(),
            ));
        }
    };
    let needs_field = matches!(
        k.correlation_type,
        CorrelationType::ValueCount
            | CorrelationType::ValueSum
            | CorrelationType::ValueAvg
            | CorrelationType::ValuePercentile
    );
    if needs_field && field.is_none() {
        return Err(fail(format!(
            "a {} correlation needs `field` in its condition",
            k.correlation_type.as_str()
        )));
    }
    if k.correlation_type == CorrelationType::ValueMedian {
        return Err(fail("value_median is not supported".into()));
    }
    let span_ms = k.timespan.seconds.saturating_mul(1000);

    // The referenced rules' rows, with the group-by and value fields by their names
    // (through the aliases where a rule calls a field otherwise).
    let mut bases = Vec::new();
    for (n, name) in k.rules.iter().enumerate() {
        let (rpath, rule) = rules.get(name).ok_or_else(|| {
            fail(format!(
                "the correlation names the rule `{name}`, which is not among the rules given"
            ))
        })?;
        let target = Target::of(&rule.logsource).map_err(&fail)?;
        let cond = rule_condition(rule, &target, filters)
            .map_err(|e| fail(format!("the rule `{name}` ({}): {e}", rpath.display())))?;
        let field_of = |f: &str| {
            let real = k
                .aliases
                .iter()
                .find(|a| a.alias == f)
                .and_then(|a| a.mapping.get(name))
                .map_or(f, String::as_str);
            target.field(real)
        };
        let mut cols = String::new();
        for (g, gname) in k.group_by.iter().enumerate() {
            let _ = write!(cols, ", {} AS g{g}", field_of(gname).text_sql());
        }
        if let Some(f) = &field {
            let fd = field_of(f);
            let _ = write!(cols, ", {} AS v, {} AS vn", fd.text_sql(), fd.number_sql());
        }
        let cte = format!(
            "r{n} AS (\n    SELECT {rule_lit} AS rule, time_ms, time, user, src_ip, file, line, {what} AS event{cols}\n    FROM {table}\n    WHERE source = {source} AND ({cond})\n)",
            rule_lit = lit(name),
            what = target.what_column(),
            table = target.table,
            source = lit(target.source),
        );
        bases.push(Base { cte, target });
    }
    let groups: Vec<String> = (0..k.group_by.len()).map(|g| format!("g{g}")).collect();
    let partition = if groups.is_empty() {
        String::new()
    } else {
        format!("PARTITION BY {} ", groups.join(", "))
    };
    let same_group = |a: &str, b: &str| {
        if groups.is_empty() {
            "TRUE".to_owned()
        } else {
            groups
                .iter()
                .map(|g| format!("({a}.{g} IS NOT DISTINCT FROM {b}.{g})"))
                .collect::<Vec<_>>()
                .join(" AND ")
        }
    };
    let holds = |expr: &str| {
        if predicates.is_empty() {
            "TRUE".to_owned()
        } else {
            predicates
                .iter()
                .map(|(op, n)| format!("{expr} {} {n}", op_sql(*op)))
                .collect::<Vec<_>>()
                .join(" AND ")
        }
    };
    let mut sql = String::from("WITH ");
    sql.push_str(
        &bases
            .iter()
            .map(|b| b.cte.clone())
            .collect::<Vec<_>>()
            .join(",\n"),
    );
    let _ = write!(
        sql,
        ",\nbase AS (\n    {}\n)",
        (0..bases.len())
            .map(|n| format!("SELECT * FROM r{n}"))
            .collect::<Vec<_>>()
            .join("\n    UNION ALL\n    ")
    );
    let key = "a.rule, a.time_ms, a.time, a.user, a.src_ip, a.file, a.line, a.event";
    let group_cols = groups
        .iter()
        .map(|g| format!(", a.{g}"))
        .collect::<String>();
    // `measured`: each event with `n` (what the condition is on) and `from_ms` (the
    // window's first event).
    let measured = match k.correlation_type {
        CorrelationType::EventCount => format!(
            "measured AS (\n    SELECT *, CAST(count(*) OVER w AS DOUBLE) AS n, min(time_ms) OVER w AS from_ms\n    FROM base\n    WINDOW w AS ({partition}ORDER BY time_ms RANGE BETWEEN {span_ms} PRECEDING AND CURRENT ROW)\n)"
        ),
        CorrelationType::ValueSum | CorrelationType::ValueAvg => {
            let agg = if k.correlation_type == CorrelationType::ValueSum {
                "sum"
            } else {
                "avg"
            };
            format!(
                "measured AS (\n    SELECT *, CAST({agg}(vn) OVER w AS DOUBLE) AS n, min(time_ms) OVER w AS from_ms\n    FROM base\n    WINDOW w AS ({partition}ORDER BY time_ms RANGE BETWEEN {span_ms} PRECEDING AND CURRENT ROW)\n)"
            )
        }
        CorrelationType::ValueCount | CorrelationType::Temporal => {
            let what = if k.correlation_type == CorrelationType::ValueCount {
                "b.v"
            } else {
                "b.rule"
            };
            format!(
                "measured AS (\n    SELECT {key}{group_cols}, CAST(count(DISTINCT {what}) AS DOUBLE) AS n, min(b.time_ms) AS from_ms\n    FROM base a JOIN base b\n      ON {} AND b.time_ms <= a.time_ms AND b.time_ms >= a.time_ms - {span_ms}\n    GROUP BY {key}{group_cols}\n)",
                same_group("a", "b")
            )
        }
        CorrelationType::ValuePercentile => format!(
            "measured AS (\n    SELECT {key}{group_cols}, 100.0 * sum(CASE WHEN (b.v IS NOT DISTINCT FROM a.v) THEN 1 ELSE 0 END) / count(*) AS n, min(b.time_ms) AS from_ms\n    FROM base a JOIN base b\n      ON {} AND b.time_ms <= a.time_ms AND b.time_ms >= a.time_ms - {span_ms}\n    GROUP BY {key}{group_cols}, a.v\n)",
            same_group("a", "b")
        ),
        CorrelationType::TemporalOrdered => {
            // The last rule's events with each earlier rule matched before it, in order,
            // all within the window.
            let last = bases.len() - 1;
            let mut from = format!("r{last} a");
            let mut prev = "a".to_owned();
            for n in (0..last).rev() {
                let alias = format!("p{n}");
                let _ = write!(
                    from,
                    "\n      JOIN r{n} {alias} ON {} AND {alias}.time_ms <= {prev}.time_ms AND {alias}.time_ms >= a.time_ms - {span_ms}",
                    same_group("a", &alias)
                );
                prev = alias;
            }
            format!(
                "measured AS (\n    SELECT {key}{group_cols}, CAST({} AS DOUBLE) AS n, max(p0.time_ms) AS from_ms\n    FROM {from}\n    GROUP BY {key}{group_cols}\n)",
                bases.len()
            )
        }
        CorrelationType::ValueMedian => unreachable!("refused above"),
    };
    // All the rules (in order), unless the condition says how many. The parser gives a
    // temporal correlation without a condition `gte: 1`, which as a count of rules would
    // be any one of them: read as the specification's default, all of them.
    let all_rules = predicates.is_empty()
        || predicates.as_slice() == [(rsigma_parser::ast::ConditionOperator::Gte, 1)];
    let condition = match k.correlation_type {
        CorrelationType::Temporal | CorrelationType::TemporalOrdered if all_rules => {
            format!("n >= {}", bases.len())
        }
        _ => holds("n"),
    };
    // One alert per burst: an event that meets the condition when the group's previous
    // one that did is more than the timespan before it.
    let _ = write!(
        sql,
        ",
{measured},
episodes AS (
    SELECT *, LAG(time_ms) OVER ({partition}ORDER BY time_ms, file, line) AS prev_ms
    FROM measured
    WHERE {condition}
)
"
    );
    let title = one_line(&k.title);
    let group_words = if k.group_by.is_empty() {
        "'all events'".to_owned()
    } else {
        format!(
            "concat({})",
            k.group_by
                .iter()
                .enumerate()
                .map(|(g, name)| format!("{}, coalesce(g{g}, '(none)')", lit(&format!("{name}="))))
                .collect::<Vec<_>>()
                .join(", ' ', ")
        )
    };
    let user_col = k
        .group_by
        .iter()
        .position(|g| {
            matches!(
                bases[0].target.field(g),
                crate::Field::Column("user_raw" | "user", _)
            )
        })
        .map_or_else(|| "user".to_owned(), |g| format!("coalesce(user, g{g})"));
    let _ = write!(
        sql,
        "SELECT {user_col} AS user,\n       to_timestamp_millis(from_ms) AS first_seen, time AS last_seen,\n       concat({}, ': ', {group_words}, ', {} ', CAST(n AS VARCHAR), ' in {}') AS summary,\n       concat(rule, '@', file, ':', CAST(line AS VARCHAR)) AS alert_key,\n       n AS measured, event, src_ip, file, line\nFROM episodes\nWHERE prev_ms IS NULL OR time_ms - prev_ms > {span_ms}\nORDER BY time, file, line\n",
        lit(&title),
        k.correlation_type.as_str(),
        k.timespan.original,
    );
    let id = detection_id(k.name.as_deref(), &k.title, k.id.as_deref());
    let mut text = header(
        &id,
        &k.title,
        k.level.as_ref(),
        &k.tags,
        k.description.as_deref(),
        &k.falsepositives,
        k.id.as_deref(),
        k.author.as_deref(),
        path,
        &k.references,
    );
    text.push_str(&sql);
    Ok(Converted {
        id,
        title: k.title.clone(),
        source: path.to_path_buf(),
        text,
    })
}
