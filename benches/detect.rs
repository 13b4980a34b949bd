//! Each detection over a generated lake of `MIDGAME_BENCH_EVENTS` events (default 1M),
//! in a fresh session each time (session start and planning included), all cores.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use midgame_benches::{bench_events, generated_lake};

fn detections(c: &mut Criterion) {
    let events = bench_events();
    let lake = generated_lake(events);
    let queries = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../queries");
    let all = midgame_detect::Detection::load_dirs(&[queries]).expect("the built-in detections");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut g = c.benchmark_group(format!("detection over {events} events"));
    g.sample_size(10);
    g.throughput(Throughput::Elements(events));
    let empty = BTreeMap::new();
    for d in &all {
        g.bench_function(d.id.as_str(), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let ctx = midgame_detect::open_session(&lake).await.expect("session");
                    midgame_detect::register_allowlist(&ctx, &[])
                        .await
                        .expect("allow-list");
                    let values = d.bind(&empty).expect("defaults");
                    let df = d.plan(&ctx, &values).await.expect("plan");
                    black_box(df.collect().await.expect("run"))
                })
            });
        });
    }
    g.finish();
}

criterion_group!(benches, detections);
criterion_main!(benches);
