//! A host transaction beside a stack controller that has drained the stack and sits idle,
//! against the same transaction with nothing else open; and beside a controller that keeps
//! its connection after the pass, as every controller did before 2026-12-01.
//!
//! It matters where SQLite is built with its memory management (one page cache for every
//! connection of the process: libsqlite3-sys's default up to 0.38, which a Rust application
//! depending on the crate got until 2026-12-05; 0.39 on leaves it off, as this repository's
//! `.cargo/config.toml` does). To measure that build:
//!
//! ```sh
//! CARGO_TARGET_DIR=target/shared LIBSQLITE3_FLAGS="-DSQLITE_ENABLE_MEMORY_MANAGEMENT" \
//!     cargo bench --bench idle_controller
//! ```

mod common;

use common::*;
use inventory_sync::adapter::registry::AdapterRegistry;
use inventory_sync::adapter::CartAdapter;
use inventory_sync::stack::{
    CartRunState, Lease, LeaseScope, NextLease, SqliteStack, Transition, WebStack,
};
use inventory_sync::{
    Cart, CartId, OpenOptions, Result, RunReport, Settings, StackController, Store,
};
use rusqlite::Connection;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Set in a child process: which side it runs.
const SIDE: &str = "INVSYNC_IDLE_CONTROLLER_SIDE";
/// What is open beside the host, one per side.
const SIDES: [&str; 3] = [
    "nothing",
    "an idle controller",
    "an idle controller keeping its connection (as before 2026-12-01)",
];
const ITEMS: usize = 20_000;
const TX: usize = 10_000;
/// Children per side; the figures are each side's median.
const ROUNDS: usize = 5;

/// What stays open beside the host's handle while it works.
enum Beside {
    Nothing,
    Controller(#[allow(dead_code)] StackController<SqliteStack>),
    Keeping(#[allow(dead_code)] StackController<Keeping>),
}

/// The SQLite stack without [`WebStack::release_memory`]: its connection stays open with
/// what it read, as every controller's did before it gave its connection back.
struct Keeping(SqliteStack);

impl WebStack for Keeping {
    fn settings(&self) -> Result<Settings> {
        self.0.settings()
    }
    fn carts(&self) -> Result<Vec<Cart>> {
        self.0.carts()
    }
    fn lease(
        &self,
        cart: CartId,
        max: usize,
        scope: &LeaseScope,
        now: i64,
        ms: i64,
    ) -> Result<Lease> {
        self.0.lease(cart, max, scope, now, ms)
    }
    fn renew(&self, token: &str, until: i64) -> Result<bool> {
        self.0.renew(token, until)
    }
    fn release(&self, token: &str) -> Result<usize> {
        self.0.release(token)
    }
    fn settle(&self, token: &str, t: &[(i64, Transition)], now: i64) -> Result<usize> {
        self.0.settle(token, t, now)
    }
    fn settle_and_lease(
        &self,
        token: &str,
        t: &[(i64, Transition)],
        now: i64,
        next: Option<NextLease<'_>>,
    ) -> Result<(Vec<i64>, Option<Lease>)> {
        self.0.settle_and_lease(token, t, now, next)
    }
    fn cart_state(&self, cart: CartId) -> Result<CartRunState> {
        self.0.cart_state(cart)
    }
    fn set_cart_state(&self, cart: CartId, version: i64, state: &CartRunState) -> Result<()> {
        self.0.set_cart_state(cart, version, state)
    }
    fn waiting(&self, cart: CartId) -> Result<i64> {
        self.0.waiting(cart)
    }
    fn has_waiting(&self, cart: CartId) -> Result<bool> {
        self.0.has_waiting(cart)
    }
    fn held_until(&self, cart: CartId) -> Result<i64> {
        self.0.held_until(cart)
    }
    fn heartbeat(&self, workstation: &str, now: i64) -> Result<()> {
        self.0.heartbeat(workstation, now)
    }
    fn hand_over(&self, cart: CartId, scope: &LeaseScope, now: i64) -> Result<usize> {
        self.0.hand_over(cart, scope, now)
    }
    fn shared_lock(&self, holder: &str, now: i64, until: i64) -> Result<bool> {
        self.0.shared_lock(holder, now, until)
    }
    fn prune_history(&self, before: i64) -> Result<usize> {
        self.0.prune_history(before)
    }
}

/// A store of [`ITEMS`] items on 3 carts, one adjustment per item and cart made on the host's
/// handle (its cache is warm, as a working host's is) and drained by a controller of its own;
/// then the host's handle and what `side` leaves open beside it.
fn prepared(path: &Path, side: usize) -> (Store, Beside) {
    let store = open_store(path);
    for name in ["A", "B", "C"] {
        noop_cart(&store, name, 50);
    }
    items(&store, ITEMS, 1_000_000);
    adjust_in_one_tx(&store, 0..ITEMS, ITEMS);
    let adapters = AdapterRegistry::with_builtins();
    adapters.register("noop", |_| Ok(Arc::new(NoopCart) as Arc<dyn CartAdapter>));
    let adapters = Arc::new(adapters);
    let stack = SqliteStack::open(path, &OpenOptions::default()).unwrap();
    let drain = |report: RunReport| {
        assert_eq!((report.sent, report.remaining), (3 * ITEMS, 0), "{report}");
    };
    let beside = if side == 2 {
        let controller = StackController::new(Keeping(stack), adapters, "bench".into()).unwrap();
        drain(controller.run_once(None).unwrap());
        Beside::Keeping(controller)
    } else {
        let controller = StackController::new(stack, adapters, "bench".into()).unwrap();
        drain(controller.run_once(None).unwrap());
        match side {
            0 => Beside::Nothing,
            _ => Beside::Controller(controller),
        }
    };
    (store, beside)
}

/// The host's next transaction of [`TX`] adjustments, with `side` open beside it: its time
/// and the read calls the process made meanwhile.
fn side(which: usize) -> (Duration, Option<u64>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let (host, _beside) = prepared(&path, which);
    // Every side starts from an empty write-ahead log.
    let busy: i64 = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
        .unwrap();
    assert_eq!(busy, 0, "the checkpoint could not finish");
    let reads = read_calls();
    let t = Instant::now();
    adjust_in_one_tx(&host, 0..TX, ITEMS);
    let took = t.elapsed();
    (
        took,
        read_calls()
            .zip(reads)
            .map(|(after, before)| after - before),
    )
}

/// Read calls this process has made so far (Linux's `/proc/self/io`): a page cache that
/// cannot keep its pages reads them from the file again. `None` elsewhere.
fn read_calls() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("syscr:"))
        .and_then(|n| n.trim().parse().ok())
}

/// Runs [`side`] in a child process; reads its time (ns) and read calls from its output.
fn in_child(which: usize) -> (Duration, Option<u64>) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .env(SIDE, which.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}: {out:?}", SIDES[which]);
    let out = String::from_utf8(out.stdout).unwrap();
    let (ns, reads) = out.trim().split_once(' ').unwrap();
    (
        Duration::from_nanos(ns.parse().unwrap()),
        reads.parse().ok(),
    )
}

fn main() {
    if let Ok(which) = std::env::var(SIDE) {
        let (took, reads) = side(which.parse().unwrap());
        let reads = reads.map_or("-".into(), |r| r.to_string());
        println!("{} {reads}", took.as_nanos());
        return;
    }
    // Each side in processes of its own (with a shared page cache every connection of a
    // process counts), taking turns at going first.
    let mut runs: Vec<Vec<(Duration, Option<u64>)>> = vec![Vec::new(); SIDES.len()];
    for round in 0..ROUNDS {
        for k in 0..SIDES.len() {
            let i = (k + round) % SIDES.len();
            runs[i].push(in_child(i));
        }
    }
    let medians: Vec<(Duration, Option<u64>)> = runs
        .into_iter()
        .map(|mut r| {
            r.sort();
            r[ROUNDS / 2]
        })
        .collect();
    let shared = Connection::open_in_memory()
        .unwrap()
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_compile_options
                            WHERE compile_options = 'ENABLE_MEMORY_MANAGEMENT')",
            [],
            |r| r.get::<_, bool>(0),
        )
        .unwrap();
    println!(
        "SQLite's page cache: {}; the host's next tx of {TX} adjust_qoh after a drain, median of \
         {ROUNDS} processes a side:",
        if shared {
            "shared by all connections (SQLITE_ENABLE_MEMORY_MANAGEMENT)"
        } else {
            "one per connection"
        }
    );
    let per_call =
        |r: Option<u64>| r.map_or("?".into(), |r| format!("{:.1}", r as f64 / TX as f64));
    let alone = medians[0].0;
    for (i, (name, (took, reads))) in SIDES.iter().zip(&medians).enumerate().skip(1) {
        let ratio = alone.as_secs_f64() / took.as_secs_f64();
        let verdict = match (i, ratio >= 0.8) {
            (1, true) => "(goal >= 0.8) ok",
            (1, false) => "(goal >= 0.8) below goal",
            _ => "(no goal: how the host fared before)",
        };
        println!(
            "host tx beside {name}: {ratio:.2}x vs the same with nothing beside {verdict}  \
             [{took:.0?}, {} read calls a call; alone {alone:.0?}, {}]",
            per_call(*reads),
            per_call(medians[0].1),
        );
    }
}
