//! `midgame export ocsf`: a table as OCSF records in Parquet, laid out as Amazon Security
//! Lake expects a custom source: `OUT/ext/<source>/region=<region>/accountId=<account>/
//! eventDay=<YYYYMMDD>/<class>-<day>.parquet`, one file per UTC day, from the views
//! `ocsf_authentication` (auth, class 3002) and `ocsf_api_activity` (admin, class 6003).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use futures::StreamExt;
use parquet::arrow::ArrowWriter;

use crate::args::{ExportArgs, ExportTable};
use crate::config::Config;
use crate::printer::Printer;

pub(crate) fn run(a: &ExportArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        a.account_id.len() == 12 && a.account_id.bytes().all(|b| b.is_ascii_digit()),
        "--account-id {:?}: an AWS account id is 12 digits",
        a.account_id
    );
    anyhow::ensure!(
        !a.region.is_empty()
            && a.region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
        "--region {:?}: an AWS region looks like us-east-1",
        a.region
    );
    let (view, class) = match a.table {
        ExportTable::Auth => ("ocsf_authentication", "authentication"),
        ExportTable::Admin => ("ocsf_api_activity", "api-activity"),
    };
    let source = a
        .source_name
        .clone()
        .unwrap_or_else(|| format!("midgame-{class}"));
    let base = a
        .out
        .join("ext")
        .join(&source)
        .join(format!("region={}", a.region))
        .join(format!("accountId={}", a.account_id));
    let cfg = Config::load_opt(a.config.as_deref())?;
    let rt = crate::runtime()?;
    let (files, rows) = rt.block_on(async {
        let ctx = crate::open_session(&a.lake, &cfg).await?;
        let days = ctx
            .sql(&format!("SELECT DISTINCT date FROM {view} ORDER BY date"))
            .await?
            .collect()
            .await?;
        let mut list = Vec::new();
        for b in &days {
            let col = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8)?;
            let col = arrow::array::AsArray::as_string::<i32>(&col);
            list.extend(col.iter().flatten().map(str::to_owned));
        }
        list.retain(|d| {
            a.from.as_ref().is_none_or(|f| d >= f) && a.to.as_ref().is_none_or(|t| d <= t)
        });
        let (mut files, mut rows) = (0usize, 0u64);
        for day in list {
            let compact = day.replace('-', "");
            let dir = base.join(format!("eventDay={compact}"));
            let dest = dir.join(format!("{class}-{compact}.parquet"));
            anyhow::ensure!(
                !dest.exists(),
                "{}: exists: midgame never overwrites an output file",
                dest.display()
            );
            let df = ctx
                .sql(&format!(
                    "SELECT * EXCLUDE (date) FROM {view} WHERE date = $day ORDER BY time"
                ))
                .await?
                .with_param_values(vec![("day", datafusion_scalar(&day))])?;
            rows += write_day(df, &dir, &dest).await?;
            files += 1;
        }
        anyhow::Ok((files, rows))
    })?;
    printer.status(&format!(
        "exported {rows} rows as OCSF {class} into {files} files under {}",
        base.display()
    ));
    Ok(ExitCode::SUCCESS)
}

fn datafusion_scalar(s: &str) -> midgame_detect::ScalarValue {
    midgame_detect::ScalarValue::Utf8(Some(s.to_owned()))
}

/// One day's rows into a new Parquet file (zstd), written beside it and renamed.
async fn write_day(df: midgame_detect::DataFrame, dir: &Path, dest: &Path) -> anyhow::Result<u64> {
    fs_err::create_dir_all(dir)?;
    let tmp = tempfile::Builder::new()
        .prefix(".midgame-export-")
        .tempfile_in(dir)
        .with_context(|| format!("{}: cannot write", dir.display()))?;
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(
            parquet::basic::ZstdLevel::try_new(3)?,
        ))
        .build();
    let mut writer = ArrowWriter::try_new(tmp.as_file().try_clone()?, schema, Some(props))?;
    let mut rows = 0u64;
    let mut stream = df.execute_stream().await?;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        rows += batch.num_rows() as u64;
        writer.write(&batch)?;
    }
    writer.close()?;
    tmp.as_file().sync_all()?;
    tmp.persist_noclobber(dest)
        .map_err(|e| anyhow::anyhow!("{}: {}", dest.display(), e.error))?;
    Ok(rows)
}
