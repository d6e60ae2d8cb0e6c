//! A pass of a loop of passes (the background controller's, `run_stack_within`) drains the
//! other carts again beside a request that hangs: these pin what those rounds must not do
//! (written by a reviewer of e195bd7, each failing on it): stretch a pass where nothing hangs,
//! keep a report a round, or drain again a cart with nothing it may send. The tests run one
//! at a time (`one_at_a_time`): one of them counts the heap.
#![cfg(feature = "emulator")]

#[macro_use]
mod common;

use common::*;
use inventory_sync::adapter::registry::AdapterRegistry;
use inventory_sync::adapter::{CartAdapter, CartError, DeltaSend, SendOutcome, UpdateMode};
use inventory_sync::{CartId, Reason, StackController, Store};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Live bytes on the Rust heap (SQLite allocates through libc, not here).
struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = System.realloc(p, l, new);
        if !q.is_null() {
            LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The tests of this file one at a time (the heap is measured).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// A shop whose every request waits for the test's word (bounded): a hanging request.
struct Gate {
    entered: mpsc::SyncSender<()>,
    release: Mutex<mpsc::Receiver<()>>,
    calls: AtomicUsize,
}

impl CartAdapter for Gate {
    fn update_mode(&self) -> UpdateMode {
        UpdateMode::RelativeKeyed
    }
    fn apply_deltas(&self, d: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let _ = self.entered.try_send(());
        let _ = self
            .release
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(20));
        Ok(d.iter()
            .map(|_| SendOutcome::Applied { qoh: None })
            .collect())
    }
    sends_deltas_only!();
}

fn gate() -> (Arc<Gate>, mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (entered, on_entered) = mpsc::sync_channel(64);
    let (release, on_release) = mpsc::channel();
    let g = Arc::new(Gate {
        entered,
        release: Mutex::new(on_release),
        calls: AtomicUsize::new(0),
    });
    (g, on_entered, release)
}

/// A shop that answers at once: applied.
struct Instant_ {
    calls: AtomicUsize,
}

impl CartAdapter for Instant_ {
    fn update_mode(&self) -> UpdateMode {
        UpdateMode::RelativeKeyed
    }
    fn apply_deltas(&self, d: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(d.iter()
            .map(|_| SendOutcome::Applied { qoh: None })
            .collect())
    }
    sends_deltas_only!();
}

/// A shop that answers every item "try again" (a per-item retry, no wait asked): the group
/// goes on the retry schedule; the cart itself is fine.
struct TryAgain;

impl CartAdapter for TryAgain {
    fn update_mode(&self) -> UpdateMode {
        UpdateMode::RelativeKeyed
    }
    fn apply_deltas(&self, d: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        Ok(d.iter()
            .map(|_| SendOutcome::Retry {
                message: "try again".into(),
                after: None,
            })
            .collect())
    }
    sends_deltas_only!();
}

fn custom_cart(store: &Store, name: &str, adapter: &str, max: u32) -> CartId {
    let json = serde_json::json!({
        "name": name, "adapter": adapter,
        "capabilities": {"send": true, "get": true, "realtime": "attribute"},
        "max_items_to_send": max,
    });
    let id = store.upsert_cart_json(&json.to_string()).unwrap();
    store.set_cart_sync(id, true).unwrap();
    id
}

fn bounded(what: &str, secs: u64, cond: &dyn Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() && Instant::now() < deadline {
        std::thread::yield_now();
    }
    let ok = cond();
    if !ok {
        eprintln!("(bounded wait ran out: {what})");
    }
    ok
}

/// With a small interval, a request merely in flight when its slice ends (a backlog, an
/// ordinary round trip) was taken for a hanging one: the other carts were drained again for a
/// whole slice, their own last requests were then "hanging" in turn, and the pass went on for
/// 2 x LeaseMs (two minutes by default) while every shop answered. The background status, the
/// settings, history pruning and the host's `run_stack_within` call all waited that long. Such
/// a pass sends what its slice allows (about five requests a cart here; a slower machine sends
/// fewer), where it sent some 120.
#[test]
fn ordinary_latency_past_the_slice_does_not_stretch_a_pass_to_two_lease_times() {
    let _one = one_at_a_time();
    let f = store();
    f.store.set_param("LeaseMs", "1500").unwrap(); // a pass's rounds end after 3 s
    for (name, ms) in [("A", 40), ("B", 55), ("C", 70)] {
        let a = Arc::new(SlowCart::new(Duration::from_millis(ms)));
        f.store
            .register_adapter(name, move |_| Ok(a.clone() as Arc<dyn CartAdapter>));
        custom_cart(&f.store, name, name, 1);
    }
    // A backlog (after an outage, an import): 100 records a cart, one a request.
    f.store.begin().unwrap();
    for i in 0..100 {
        let sku = format!("S{i:03}");
        item(&f.store, &sku, 10);
        adjust(&f.store, &sku, -1, Reason::PosSale);
    }
    f.store.commit().unwrap();
    // A host running passes every millisecond, each leasing for 200 ms.
    f.store
        .hold_shared_lock_between_passes(Duration::from_millis(1))
        .unwrap();
    let r = f
        .store
        .run_stack_within(None, Duration::from_millis(200))
        .unwrap();
    assert!(
        r.sent <= 30,
        "a pass of a 200 ms slice, with shops answering in 40-70 ms and nothing hanging, went \
         on past it (2 x LeaseMs is 3 s): {r}"
    );
}

/// Every drain's (cart, report) made beside a hanging request was kept until the pass ended:
/// at a 1 ms pace one entry a cart a millisecond, for up to the 30 s time-out, so the heap
/// grew by megabytes a pass while sales kept coming. Reports are merged as drains are joined.
#[test]
fn the_heap_does_not_grow_with_each_round_beside_a_hanging_request() {
    let _one = one_at_a_time();
    let f = store();
    let (g, on_entered, release) = gate();
    let g2 = g.clone();
    f.store
        .register_adapter("gate", move |_| Ok(g2.clone() as Arc<dyn CartAdapter>));
    let fast = Arc::new(Instant_ {
        calls: AtomicUsize::new(0),
    });
    let fast2 = fast.clone();
    f.store.register_adapter(
        "instant",
        move |_| Ok(fast2.clone() as Arc<dyn CartAdapter>),
    );
    custom_cart(&f.store, "Slow", "gate", 1);
    custom_cart(&f.store, "Fast", "instant", 50);
    item(&f.store, "G", 10);
    item(&f.store, "S", 1_000_000);
    adjust(&f.store, "G", -1, Reason::PosSale);
    f.store
        .hold_shared_lock_between_passes(Duration::from_millis(1))
        .unwrap();
    let stop_sales = AtomicBool::new(false);
    let (grew, rounds) = std::thread::scope(|s| {
        let pass = s.spawn(|| {
            f.store
                .run_stack_within(None, Duration::from_millis(100))
                .unwrap()
        });
        on_entered
            .recv_timeout(Duration::from_secs(10))
            .expect("the slow shop's request entered");
        // Sales keep coming: one each time the fast shop took the last (a drain each).
        let sales = s.spawn(|| {
            let sales = f.reopen();
            let mut seen = fast.calls.load(Ordering::SeqCst);
            while !stop_sales.load(Ordering::SeqCst) {
                adjust(&sales, "S", -1, Reason::PosSale);
                if !bounded("the fast shop took the sale", 5, &|| {
                    stop_sales.load(Ordering::SeqCst) || fast.calls.load(Ordering::SeqCst) > seen
                }) {
                    break;
                }
                seen = fast.calls.load(Ordering::SeqCst);
            }
        });
        bounded("rounds began", 10, &|| {
            fast.calls.load(Ordering::SeqCst) >= 20
        });
        let (live1, calls1) = (
            LIVE.load(Ordering::SeqCst),
            fast.calls.load(Ordering::SeqCst),
        );
        bounded("rounds went on", 10, &|| {
            fast.calls.load(Ordering::SeqCst) >= calls1 + 300
        });
        let (live2, calls2) = (
            LIVE.load(Ordering::SeqCst),
            fast.calls.load(Ordering::SeqCst),
        );
        stop_sales.store(true, Ordering::SeqCst);
        sales.join().unwrap();
        for _ in 0..4 {
            release.send(()).unwrap();
        }
        let r = pass.join().unwrap();
        eprintln!("{r}");
        (live2 - live1, calls2 - calls1)
    });
    assert!(g.calls.load(Ordering::SeqCst) >= 1);
    assert!(
        rounds >= 300,
        "only {rounds} rounds beside the hanging request"
    );
    assert!(
        grew < 32 * 1024,
        "the heap grew by {grew} bytes over {rounds} drains beside one hanging request \
         ({} bytes a drain, kept until the pass ends)",
        grew / rounds.max(1) as isize
    );
}

/// Counts the leases the controller asks of each cart.
#[derive(Default)]
struct CountingLeases(Mutex<std::collections::HashMap<CartId, usize>>);

impl CountingLeases {
    fn leases_of(&self, cart: CartId) -> usize {
        *self.0.lock().unwrap().get(&cart).unwrap_or(&0)
    }
}

impl StackHooks for CountingLeases {
    fn leasing(&self, cart: CartId) {
        *self.0.lock().unwrap().entry(cart).or_default() += 1;
    }
}

/// A cart with records waiting but nothing this controller may send (one on the retry
/// schedule, another live workstation's, one leased by another controller) was drained again
/// every pace for nothing, each time two threads, a write transaction on the store (the lease)
/// and a report, for as long as another cart hung. After a drain that sent nothing it goes
/// again once more records wait for it.
#[test]
fn a_cart_with_nothing_due_is_not_drained_again_every_round() {
    let _one = one_at_a_time();
    let f = store();
    f.store.set_param("RetryBaseMs", "600000").unwrap();
    f.store.set_param("RetryMaxMs", "600000").unwrap();
    let (g, on_entered, release) = gate();
    let registry = Arc::new(AdapterRegistry::with_builtins());
    let g2 = g.clone();
    registry.register("gate", move |_| Ok(g2.clone() as Arc<dyn CartAdapter>));
    let g3 = g.clone();
    f.store
        .register_adapter("gate", move |_| Ok(g3.clone() as Arc<dyn CartAdapter>));
    registry.register("again", |_| Ok(Arc::new(TryAgain) as Arc<dyn CartAdapter>));
    f.store
        .register_adapter("again", |_| Ok(Arc::new(TryAgain) as Arc<dyn CartAdapter>));
    let later = custom_cart(&f.store, "Later", "again", 50);
    item(&f.store, "R", 10);
    adjust(&f.store, "R", -1, Reason::PosSale);
    // Its record is now on the retry schedule, ten minutes on; the cart is not backing off.
    let r = f.store.run_stack(None).unwrap();
    assert_eq!((r.retried, r.remaining), (1, 1), "{r}");
    assert!(r.carts[0].error.is_none(), "{r}");
    // A shop whose request hangs. (The new sale goes to the idle cart too: its first drain
    // puts it on the retry schedule as well.)
    custom_cart(&f.store, "Slow", "gate", 1);
    item(&f.store, "G", 10);
    adjust(&f.store, "G", -1, Reason::PosSale);

    let stack = HookedStack::open(f.store.path(), CountingLeases::default());
    let ctl = StackController::new(stack, registry, f.store.workstation()).unwrap();
    let (before, during) = std::thread::scope(|s| {
        // A host's pass of a loop of passes: 40 ms slices, rounds every 40 ms.
        let pass = s.spawn(|| ctl.run_within(None, Duration::from_millis(40)).unwrap());
        on_entered
            .recv_timeout(Duration::from_secs(10))
            .expect("the slow shop's request entered");
        let before = ctl.stack().hooks.leases_of(later);
        // About a second and a half of hanging, at most.
        bounded("the idle cart leased again and again", 2, &|| {
            ctl.stack().hooks.leases_of(later) >= before + 30
        });
        let during = ctl.stack().hooks.leases_of(later) - before;
        for _ in 0..4 {
            release.send(()).unwrap();
        }
        let r = pass.join().unwrap();
        eprintln!("{r}");
        (before, during)
    });
    assert!(g.calls.load(Ordering::SeqCst) >= 1);
    // Its first drain's last leases and one round that finds nothing; not one a round (some
    // 40 in this window).
    assert!(
        during <= 5,
        "a cart with nothing due (its one record on the retry schedule) was leased {during} \
         more times (after {before}) while another cart's request hung"
    );
}
