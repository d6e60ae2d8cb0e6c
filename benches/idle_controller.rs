//! A host transaction beside an idle stack controller, against the same transaction on a
//! handle that never opened one: the controller's connection must not slow the host down once
//! its pass is over.
//!
//! It matters where SQLite is built with its memory management (libsqlite3-sys's default: one
//! page cache for every connection of the process), which this repository's
//! `.cargo/config.toml` turns off. To measure that build, as a Rust application that depends on
//! the crate without setting `LIBSQLITE3_FLAGS` gets it:
//!
//! ```sh
//! CARGO_TARGET_DIR=target/shared LIBSQLITE3_FLAGS="" cargo bench --bench idle_controller
//! ```

mod common;

use common::*;
use inventory_sync::Store;
use std::time::{Duration, Instant};

/// Set in a child process: which side it runs.
const SIDE: &str = "INVSYNC_IDLE_CONTROLLER_SIDE";
const ITEMS: usize = 20_000;
const TX: usize = 10_000;
/// Children per side; the figure is each side's median.
const ROUNDS: usize = 5;

/// A store of [`ITEMS`] items on 3 carts, one adjustment per item and cart drained by the
/// store's own controller: its connection has read the whole stack and now sits idle.
fn drained(path: &std::path::Path) -> Store {
    let store = open_store(path);
    for name in ["A", "B", "C"] {
        noop_cart(&store, name, 50);
    }
    items(&store, ITEMS, 1_000_000);
    adjust_in_one_tx(&store, 0..ITEMS, ITEMS);
    let report = store.run_stack(None).unwrap();
    assert_eq!((report.sent, report.remaining), (3 * ITEMS, 0), "{report}");
    store
}

/// The first host transaction of [`TX`] adjustments after the drain, on a fresh handle
/// (`beside` false) or on the one whose controller drained the stack.
fn side(beside: bool) -> (Duration, Option<u64>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut store = drained(&path);
    if !beside {
        drop(store);
        store = open_store(&path);
    }
    // Closing the last connection empties the write-ahead log: both sides start with an
    // empty one, so only the controller's connection tells them apart.
    rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap();
    let reads = read_calls();
    let t = Instant::now();
    adjust_in_one_tx(&store, 0..TX, ITEMS);
    let took = t.elapsed();
    (
        took,
        read_calls()
            .zip(reads)
            .map(|(after, before)| after - before),
    )
}

/// Read calls this process has made (Linux's `/proc/self/io`), so far: a cache that cannot
/// keep its pages reads them again from the file. `None` elsewhere.
fn read_calls() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("syscr:"))
        .and_then(|n| n.trim().parse().ok())
}

/// Runs [`side`] in a child process and reads its time (in ns) and read calls from its output.
fn in_child(which: &str) -> (Duration, Option<u64>) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .env(SIDE, which)
        .output()
        .unwrap();
    assert!(out.status.success(), "{which}: {out:?}");
    let out = String::from_utf8(out.stdout).unwrap();
    let (ns, reads) = out.trim().split_once(' ').unwrap();
    (
        Duration::from_nanos(ns.parse().unwrap()),
        reads.parse().ok(),
    )
}

fn main() {
    if let Ok(which) = std::env::var(SIDE) {
        let (took, reads) = side(which == "beside");
        let reads = reads.map_or("-".into(), |r| r.to_string());
        println!("{} {reads}", took.as_nanos());
        return;
    }
    // Each side in processes of its own, taking turns: with a shared page cache every
    // connection of a process counts, the other side's too.
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        ours.push(in_child("beside"));
        base.push(in_child("alone"));
    }
    ours.sort();
    base.sort();
    let ((ours, ours_reads), (base, base_reads)) = (ours[ROUNDS / 2], base[ROUNDS / 2]);
    let per_call =
        |r: Option<u64>| r.map_or("?".into(), |r| format!("{:.1}", r as f64 / TX as f64));
    let shared = rusqlite::Connection::open_in_memory()
        .unwrap()
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_compile_options
                            WHERE compile_options = 'ENABLE_MEMORY_MANAGEMENT')",
            [],
            |r| r.get::<_, bool>(0),
        )
        .unwrap();
    let ratio = base.as_secs_f64() / ours.as_secs_f64();
    println!(
        "host tx of {TX} adjust_qoh beside an idle controller: {ratio:.2}x vs the same on a \
         handle without one (goal >= 0.8) {}  [ours {ours:.0?}, {} file reads a call; alone {base:.0?}, {}; \
         SQLite's page cache {}; median of {ROUNDS} processes a side]",
        if ratio >= 0.8 { "ok" } else { "below goal" },
        per_call(ours_reads),
        per_call(base_reads),
        if shared {
            "shared by all connections (libsqlite3-sys's default build)"
        } else {
            "one per connection"
        }
    );
}
