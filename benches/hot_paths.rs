//! Criterion micro-benches of the hot paths, each beside its bare baseline:
//! - `enqueue/adjust_qoh_3_carts` vs `enqueue/bare_rusqlite_same_rows` (one tx per call);
//! - `drain/lease_send_settle_50_noop`: one controller pass over 50 pending records on the
//!   no-op adapter (lease + settle, the queue's own work).
//!
//! The one-line ratio report is `cargo bench --bench ratios`.

mod common;

use common::*;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

fn enqueue(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir.path().join("ours.db"));
    let twin_path = dir.path().join("bare.db");
    let twin = open_store(&twin_path);
    let mut carts = Vec::new();
    for name in ["A", "B", "C"] {
        http_cart(
            &store,
            name,
            &format!("http://127.0.0.1:9/{name}/"),
            true,
            50,
        );
        carts.push(http_cart(
            &twin,
            name,
            &format!("http://127.0.0.1:9/{name}/"),
            true,
            50,
        ));
    }
    items(&store, 1000, 1_000_000);
    items(&twin, 1000, 1_000_000);
    drop(twin);
    let bare = BareOutbox::open(&twin_path, carts, false);

    let mut g = c.benchmark_group("enqueue");
    let mut i = 0usize;
    g.bench_function("adjust_qoh_3_carts", |b| {
        b.iter(|| {
            i += 1;
            store.adjust_qoh(&adjustment(i % 1000, i)).unwrap()
        })
    });
    let mut j = 0usize;
    g.bench_function("bare_rusqlite_same_rows", |b| {
        b.iter(|| {
            j += 1;
            bare.write_tx(&sku(j % 1000), delta(j), now_ms())
        })
    });
    g.finish();
}

fn drain(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir.path().join("drain.db"));
    noop_cart(&store, "noop", 50);
    items(&store, 1000, 1_000_000);
    let mut g = c.benchmark_group("drain");
    let mut i = 0usize;
    g.bench_function("lease_send_settle_50_noop", |b| {
        b.iter_batched(
            || {
                store.begin().unwrap();
                for _ in 0..50 {
                    i += 1;
                    store.adjust_qoh(&adjustment(i % 1000, i)).unwrap();
                }
                store.commit().unwrap();
            },
            |()| {
                let r = store.run_stack(None).unwrap();
                assert_eq!(r.sent, 50);
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = enqueue, drain
}
criterion_main!(benches);
