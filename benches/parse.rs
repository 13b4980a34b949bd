//! Parsing throughput per core (each source's parser on one thread), and ingest of one
//! generated Okta day into a lake (parse on every core + sort + zstd Parquet write).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use midgame_benches::{chunks, corpus_lines, generated_logs};
use midgame_sources::{ParseOptions, RawMode, SourceKind};

fn first_file(dir: &std::path::Path) -> std::path::PathBuf {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("generated logs")
        .map(|e| e.expect("an entry").path())
        .collect();
    files.sort();
    files.into_iter().nth(10).expect("30 days of files")
}

fn parse(c: &mut Criterion) {
    let logs = generated_logs(1_000_000);
    let mut inputs: Vec<(SourceKind, String, Vec<u8>)> = vec![
        (
            SourceKind::new(&midgame_sources::okta::Okta),
            "okta (generated day)".into(),
            std::fs::read(first_file(&logs.join("okta"))).expect("okta day"),
        ),
        (
            SourceKind::new(&midgame_sources::admin_audit::AdminAudit),
            "admin-audit (generated day)".into(),
            std::fs::read(first_file(&logs.join("admin"))).expect("admin day"),
        ),
    ];
    for (kind, rel) in [
        (
            SourceKind::new(&midgame_sources::cisco_asa::CiscoAsa),
            "vpn-cisco-asa/sekoia-cisco-secure-firewall.messages.ndjson",
        ),
        (
            SourceKind::new(&midgame_sources::openvpn::OpenVpn),
            "vpn-openvpn/sekoia-openvpn.messages.ndjson",
        ),
        (
            SourceKind::new(&midgame_sources::globalprotect::GlobalProtect),
            "vpn-globalprotect/sekoia-paloalto-ngfw.messages.ndjson",
        ),
        (
            SourceKind::new(&midgame_sources::cloudtrail::CloudTrail),
            "cloudtrail/sekoia-aws-cloudtrail.messages.ndjson",
        ),
        (
            SourceKind::new(&midgame_sources::entra::Entra),
            "entra/sekoia-azure-ad.messages.ndjson",
        ),
    ] {
        if let Some(bytes) = corpus_lines(rel, 8 << 20) {
            inputs.push((kind, format!("{} (corpus, repeated)", kind.name()), bytes));
        }
    }
    let mut g = c.benchmark_group("parse, one core");
    g.sample_size(10);
    for (kind, name, bytes) in &inputs {
        let chunks = chunks(bytes);
        for raw in [RawMode::None, RawMode::Full] {
            let opts = ParseOptions {
                raw,
                ..ParseOptions::new("bench")
            };
            g.throughput(Throughput::Bytes(bytes.len() as u64));
            let label = format!(
                "{name}, raw {}",
                if raw == RawMode::Full { "full" } else { "none" }
            );
            g.bench_function(label, |b| {
                b.iter(|| {
                    for ch in &chunks {
                        black_box(kind.parse(ch, &opts));
                    }
                });
            });
        }
    }
    g.finish();
}

fn ingest(c: &mut Criterion) {
    let logs = generated_logs(1_000_000);
    let file = first_file(&logs.join("okta"));
    let size = std::fs::metadata(&file).expect("the day").len();
    let mut g = c.benchmark_group("ingest one okta day (parse, sort, zstd Parquet)");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(size));
    for raw in [RawMode::None, RawMode::Full] {
        let opts = midgame_lake::IngestOptions {
            raw,
            ..midgame_lake::IngestOptions::default()
        };
        let label = if raw == RawMode::Full {
            "raw full"
        } else {
            "raw none"
        };
        g.bench_function(label, |b| {
            b.iter_batched(
                tempfile_dir,
                |dir| {
                    let lake = midgame_lake::Lake::open(&dir).expect("a lake");
                    black_box(lake.ingest_file(&file, &opts, &|_| {}).expect("ingest"));
                    drop(lake);
                    let _ = std::fs::remove_dir_all(&dir);
                },
                criterion::BatchSize::PerIteration,
            );
        });
    }
    g.finish();
}

fn tempfile_dir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    midgame_benches::cache_dir().join(format!(
        "ingest-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

criterion_group!(benches, parse, ingest);
criterion_main!(benches);
