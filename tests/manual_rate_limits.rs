//! A manual run (Send QOH, the drift repair) and a cart that names a long `Retry-After`
//! (DESIGN §9a: not before then): the cart is not asked again in that run, whichever way
//! the rate limit reaches the run.

#![cfg(feature = "emulator")]

#[macro_use]
mod common;

use common::*;
use inventory_sync::adapter::{CartAdapter, CartError, QuantityPage, QuantitySet, SendOutcome};
use inventory_sync::SendOptions;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const HOUR: Duration = Duration::from_secs(3600);

/// A 429 naming an hour.
fn limited() -> CartError {
    CartError::RateLimited {
        retry_after: Some(HOUR),
        message: "HTTP 429: Retry-After 3600".into(),
    }
}

/// Panics on a batch of more than one count (an integrator's bug); a count alone gets a 429
/// naming an hour. Counts the requests that reach the cart (the single sets).
struct PanicsThenThrottles {
    singles: AtomicUsize,
}

impl CartAdapter for PanicsThenThrottles {
    takes_no_deltas!();
    fn set_quantities(&self, sets: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
        if sets.len() > 1 {
            panic!("adapter bug on a batch");
        }
        self.singles.fetch_add(1, Ordering::SeqCst);
        Err(limited())
    }
    fn fetch_quantities(&self, _: Option<&str>, _: u32) -> Result<QuantityPage, CartError> {
        Err(CartError::Rejected("not in this test".into()))
    }
}

/// A batch that panicked is sent one count at a time; a count met with an hour's rate limit
/// ends that, and the run stops: not the batch again (its counts are in doubt, as the
/// panic left them), nor the next batch. (It was asked 6 times in the run, 12 before.)
#[test]
fn send_qoh_does_not_ask_again_after_a_long_rate_limit_met_sending_counts_one_by_one() {
    let f = store();
    let cart = Arc::new(PanicsThenThrottles {
        singles: AtomicUsize::new(0),
    });
    let c = custom_cart(&f.store, "pt", cart.clone(), None, Some(2));
    for sku in ["A", "B", "C", "D"] {
        item(&f.store, sku, 5);
    }
    let r = f.store.send_qoh(c, SendOptions::default(), None);
    let said = format!("{r:?}");
    assert_eq!(
        cart.singles.load(Ordering::SeqCst),
        1,
        "the cart named an hour, and was asked again in the same run: {said}"
    );
    if let Ok(report) = r {
        assert!(
            report.error.is_some(),
            "the run does not say it stopped: {report:?}"
        );
    }
}

/// Two lost answers, then per-item 429s naming an hour (a multi-request call whose later
/// request was limited); logs every call.
struct LostThenLimited {
    calls: AtomicUsize,
}

impl CartAdapter for LostThenLimited {
    takes_no_deltas!();
    fn set_quantities(&self, sets: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
        match self.calls.fetch_add(1, Ordering::SeqCst) {
            0 | 1 => Err(CartError::Ambiguous("time-out after sending".into())),
            _ => Ok(sets
                .iter()
                .map(|_| SendOutcome::Retry {
                    message: "HTTP 429: Retry-After 3600".into(),
                    after: Some(HOUR),
                })
                .collect()),
        }
    }
    fn fetch_quantities(&self, _: Option<&str>, _: u32) -> Result<QuantityPage, CartError> {
        Err(CartError::Rejected("not in this test".into()))
    }
}

/// A per-count `Retry-After` of an hour on the last try of a batch (after two lost answers)
/// stops the run too: the next batch was sent at once.
#[test]
fn send_qoh_stops_on_a_long_per_item_retry_after_on_the_last_try_of_a_batch() {
    let f = store();
    let cart = Arc::new(LostThenLimited {
        calls: AtomicUsize::new(0),
    });
    let c = custom_cart(&f.store, "ll", cart.clone(), None, Some(1));
    for sku in ["A", "B"] {
        item(&f.store, sku, 5);
    }
    let report = f.store.send_qoh(c, SendOptions::default(), None).unwrap();
    assert_eq!(
        cart.calls.load(Ordering::SeqCst),
        3,
        "the cart named an hour on the third call and was asked again: {report:?}"
    );
    assert!(report.error.is_some(), "{report:?}");
}

/// Shows every SKU at 0; every count it is sent is per-item rate-limited for an hour.
struct DriftLimited {
    sets: AtomicUsize,
}

impl CartAdapter for DriftLimited {
    takes_no_deltas!();
    fn set_quantities(&self, sets: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
        self.sets.fetch_add(1, Ordering::SeqCst);
        Ok(sets
            .iter()
            .map(|_| SendOutcome::Retry {
                message: "HTTP 429: Retry-After 3600".into(),
                after: Some(HOUR),
            })
            .collect())
    }
    fn fetch_quantities(&self, _: Option<&str>, _: u32) -> Result<QuantityPage, CartError> {
        Ok(QuantityPage {
            items: ["A", "B", "C"].iter().map(|s| (s.to_string(), 0)).collect(),
            next_cursor: None,
        })
    }
}

/// The drift repair stops on a per-count `Retry-After` of an hour (what an adapter making
/// several requests a call answers when a later one is limited), as on a whole-call one:
/// every later batch was sent at once.
#[test]
fn drift_repair_stops_on_a_long_per_item_retry_after() {
    let f = store();
    let cart = Arc::new(DriftLimited {
        sets: AtomicUsize::new(0),
    });
    let c = custom_cart(&f.store, "dl", cart.clone(), None, Some(1));
    for sku in ["A", "B", "C"] {
        item(&f.store, sku, 5);
    }
    let report = f.store.drift(c, true).unwrap();
    assert_eq!(
        cart.sets.load(Ordering::SeqCst),
        1,
        "the cart named an hour and was asked again in the same repair: {report:?}"
    );
}

/// Answers `lost_first` calls with a lost answer, the next with a per-count `Retry-After` of
/// a second, and every later one as applied; shows every SKU at 0; notes when each call came.
struct SecondLater {
    lost_first: usize,
    calls: Mutex<Vec<Instant>>,
}

const SECOND: Duration = Duration::from_secs(1);

impl CartAdapter for SecondLater {
    takes_no_deltas!();
    fn set_quantities(&self, sets: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
        let mut calls = self.calls.lock().unwrap();
        calls.push(Instant::now());
        let n = calls.len() - 1;
        if n < self.lost_first {
            return Err(CartError::Ambiguous("time-out after sending".into()));
        }
        Ok(sets
            .iter()
            .map(|s| match n == self.lost_first {
                true => SendOutcome::Retry {
                    message: "HTTP 429: Retry-After 1".into(),
                    after: Some(SECOND),
                },
                false => SendOutcome::Applied { qoh: Some(s.qoh) },
            })
            .collect())
    }
    fn fetch_quantities(&self, _: Option<&str>, _: u32) -> Result<QuantityPage, CartError> {
        Ok(QuantityPage {
            items: ["A", "B"].iter().map(|s| (s.to_string(), 0)).collect(),
            next_cursor: None,
        })
    }
}

/// The time between each call to the cart and the next.
fn gaps(calls: &Mutex<Vec<Instant>>) -> Vec<Duration> {
    let calls = calls.lock().unwrap();
    calls.windows(2).map(|w| w[1] - w[0]).collect()
}

/// A short per-count `Retry-After` (a second) is waited out before the cart's next request,
/// also when it comes on a batch's last try (Send QOH, after two lost answers) and in the
/// drift repair: the next batch went at once.
#[test]
fn a_short_per_count_retry_after_is_waited_out_before_the_next_batch() {
    for (lost_first, drift) in [(2, false), (0, true)] {
        let f = store();
        let cart = Arc::new(SecondLater {
            lost_first,
            calls: Mutex::new(Vec::new()),
        });
        let name = if drift { "dr" } else { "sr" };
        let c = custom_cart(&f.store, name, cart.clone(), None, Some(1));
        for sku in ["A", "B"] {
            item(&f.store, sku, 5);
        }
        let said = match drift {
            true => format!("{:?}", f.store.drift(c, true).unwrap()),
            false => format!("{:?}", f.store.send_qoh(c, SendOptions::default(), None)),
        };
        let g = gaps(&cart.calls);
        assert!(
            g.len() > lost_first && g[lost_first] >= SECOND,
            "drift {drift}: the cart named a second; the next call came after {g:?}: {said}"
        );
    }
}

/// Such a wait is owed to the cart's next request only: a run whose last batch was given
/// one (Send QOH on its last try, the drift repair) ends at once, and an operator who
/// cancels at the progress callback after that batch is not kept waiting either. (It slept
/// first, holding the cart from the controller and the handle from a host transaction.)
#[test]
fn nothing_is_waited_for_after_the_last_request() {
    let quick = Duration::from_millis(500);
    for (lost_first, drift, items, cancel) in [
        (2, false, 1, false),
        (0, true, 1, false),
        (2, false, 2, true),
    ] {
        let f = store();
        let cart = Arc::new(SecondLater {
            lost_first,
            calls: Mutex::new(Vec::new()),
        });
        let c = custom_cart(&f.store, "tail", cart.clone(), None, Some(1));
        for sku in ["A", "B"].iter().take(items) {
            item(&f.store, sku, 5);
        }
        let mut progress = |_: i64, _: i64| !cancel;
        let said = match drift {
            true => format!("{:?}", f.store.drift(c, true).unwrap()),
            false => format!(
                "{:?}",
                f.store
                    .send_qoh(c, SendOptions::default(), Some(&mut progress))
                    .unwrap()
            ),
        };
        let tail = cart.calls.lock().unwrap().last().unwrap().elapsed();
        assert!(
            tail < quick,
            "drift {drift}, cancel {cancel}: {tail:?} after the last request: {said}"
        );
        if !drift && !cancel {
            // Two tries were lost, and the cart answered the third: the count is in doubt,
            // and the operator is told both (it said "no answer ... 3 times").
            assert!(
                said.contains("time-out after sending") && said.contains("Retry-After 1"),
                "{said}"
            );
        }
    }
}

/// A cart with keys whose first delta request is answered "try again" (a change then waits
/// as a retry) and later ones with `later`; it takes every count. Records when each request
/// came, and the SKUs of the counts.
struct ChangeWaits {
    later: fn(&[inventory_sync::adapter::DeltaSend]) -> Result<Vec<SendOutcome>, CartError>,
    deltas: Mutex<Vec<Instant>>,
    sets: Mutex<Vec<(Instant, String)>>,
}

impl ChangeWaits {
    /// Its cart on `f`'s store, with items `skus` (5 of each) and a sale of the first.
    fn cart(
        f: &Fixture,
        skus: &[&str],
        later: fn(&[inventory_sync::adapter::DeltaSend]) -> Result<Vec<SendOutcome>, CartError>,
    ) -> (Arc<ChangeWaits>, inventory_sync::CartId) {
        let cart = Arc::new(ChangeWaits {
            later,
            deltas: Mutex::new(Vec::new()),
            sets: Mutex::new(Vec::new()),
        });
        let id = custom_cart(&f.store, "waits", cart.clone(), Some("attribute"), None);
        f.store.set_cart_sync(id, true).unwrap();
        for sku in skus {
            item(&f.store, sku, 5);
        }
        adjust(&f.store, skus[0], -1, inventory_sync::Reason::PosSale);
        (cart, id)
    }

    /// When the last request came.
    fn last_request(&self) -> Instant {
        let deltas = self.deltas.lock().unwrap().last().copied();
        let sets = self.sets.lock().unwrap().last().map(|(t, _)| *t);
        deltas.max(sets).expect("a request came")
    }
}

impl CartAdapter for ChangeWaits {
    fn update_mode(&self) -> inventory_sync::UpdateMode {
        inventory_sync::UpdateMode::RelativeKeyed
    }
    fn apply_deltas(
        &self,
        d: &[inventory_sync::adapter::DeltaSend],
    ) -> Result<Vec<SendOutcome>, CartError> {
        let mut deltas = self.deltas.lock().unwrap();
        deltas.push(Instant::now());
        if deltas.len() > 1 {
            return (self.later)(d);
        }
        Ok(d.iter()
            .map(|_| SendOutcome::Retry {
                message: "later".into(),
                after: None,
            })
            .collect())
    }
    fn set_quantities(&self, s: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
        let now = Instant::now();
        self.sets
            .lock()
            .unwrap()
            .extend(s.iter().map(|x| (now, x.sku.clone())));
        Ok(s.iter()
            .map(|x| SendOutcome::Applied { qoh: Some(x.qoh) })
            .collect())
    }
    fn fetch_quantities(&self, _: Option<&str>, _: u32) -> Result<QuantityPage, CartError> {
        Ok(QuantityPage::default())
    }
}

/// A cart with keys whose change waits as a retry, then asks for two minutes when Send QOH
/// sends it again under its key first: the run stops there, and the count of the other item
/// is not sent at once (it was, and the 429 only left the first item out).
#[test]
fn send_qoh_stops_on_a_long_rate_limit_met_sending_a_waiting_change_again() {
    let f = store();
    let (cart, id) = ChangeWaits::cart(&f, &["X", "Y"], |_| Err(limited()));
    // The change waits for its retry past the pass (tried again at once, the pass met the
    // hour itself, and Send QOH now keeps to it without asking).
    f.store.set_param("RetryMaxMs", "60000").unwrap();
    f.store.set_param("RetryBaseMs", "60000").unwrap();
    f.store.run_stack(None).unwrap();
    let before = cart.deltas.lock().unwrap().len();
    let e = f
        .store
        .send_qoh(id, SendOptions { force: true }, None)
        .expect_err("nothing reached the cart: an error of the call");
    assert!(e.message().contains("rate limited"), "{e}");
    assert_eq!(cart.deltas.lock().unwrap().len(), before + 1);
    assert!(cart.sets.lock().unwrap().is_empty(), "asked again at once");
}

/// A wait a cart asks for while a waiting change goes again under its key is waited out
/// before the next request only: with no count left to send, the run ends at once (it slept
/// the wait out holding the cart).
#[test]
fn a_wait_asked_while_a_change_goes_again_is_not_slept_when_no_request_follows() {
    let f = store();
    let (cart, id) = ChangeWaits::cart(&f, &["X"], |d| {
        Ok(d.iter()
            .map(|_| SendOutcome::Retry {
                message: "later".into(),
                after: Some(Duration::from_secs(2)),
            })
            .collect())
    });
    assert_eq!(f.store.run_stack(None).unwrap().retried, 1);
    let r = f
        .store
        .send_qoh(id, SendOptions { force: true }, None)
        .unwrap();
    let tail = cart.last_request().elapsed();
    assert_eq!((r.sent, r.failures.len()), (0, 1), "{r:?}");
    assert!(
        tail < Duration::from_secs(1),
        "{tail:?} after the last request"
    );
}

/// Send QOH's report counts every request its run made: a batch the cart answered 429
/// (`Retry-After: 0`) and that went again counts twice, as the cart saw it. It counted
/// once, and a throttled run read as a clean one (from a review of manual sync).
#[test]
fn send_qoh_counts_the_request_a_rate_limit_made_it_send_again() {
    let f = store();
    let e = inventory_sync::emulator::Emulator::start().unwrap();
    let cart = cart_with(&f.store, &e, "Web", "attribute", 50);
    f.store.set_cart_sync(cart, false).unwrap();
    for i in 0..100 {
        let sku = format!("I{i:03}");
        item(&f.store, &sku, i);
        e.set_qoh(&sku, 0);
    }
    e.reset_counters();
    e.inject(inventory_sync::emulator::Fault::Status {
        status: 429,
        count: 1,
        retry_after: Some(0),
    });
    let r = f
        .store
        .send_qoh(cart, SendOptions::default(), None)
        .unwrap();
    assert_eq!((r.sent, r.failed), (100, 0), "{r:?}");
    assert_eq!((r.requests, e.requests()), (3, 3), "{r:?}");
}

/// A cart (`http_json` on the emulator) whose next `n` requests are answered 429 naming two
/// minutes; real-time sync on, with items MUG and CAP.
fn throttled_cart(f: &Fixture) -> (inventory_sync::emulator::Emulator, inventory_sync::CartId) {
    let emu = inventory_sync::emulator::Emulator::start().unwrap();
    let id = cart(&f.store, &emu, "Web", "attribute");
    for sku in ["MUG", "CAP"] {
        item(&f.store, sku, 5);
        emu.set_qoh(sku, 5);
    }
    emu.inject(inventory_sync::emulator::Fault::Status {
        status: 429,
        count: 1,
        retry_after: Some(120),
    });
    (emu, id)
}

/// A wait a cart named to a Send QOH binds the controller: written on the cart, the next
/// pass does not ask it before then (it asked at once, within the two minutes named).
#[test]
fn a_wait_named_to_send_qoh_binds_the_controller() {
    let f = store();
    let (emu, id) = throttled_cart(&f);
    let r = f.store.send_qoh(id, SendOptions { force: true }, None);
    assert!(format!("{r:?}").contains("429"), "{r:?}");
    adjust(&f.store, "MUG", -1, inventory_sync::Reason::PosSale);
    let asked = emu.requests();
    let report = f.store.run_stack(None).unwrap();
    assert_eq!(emu.requests(), asked, "asked within the wait: {report}");
    assert_eq!(report.carts[0].remaining, 1, "{report}");
    assert!(
        report.to_string().contains("429"),
        "the report says why: {report}"
    );
}

/// The other way round: a wait a cart named to the controller binds a manual run, forced
/// Send QOH and Get QOH alike: the run stops at once, naming the wait, and asks nothing.
#[test]
fn a_wait_named_to_the_controller_binds_a_manual_run() {
    let f = store();
    let (emu, id) = throttled_cart(&f);
    adjust(&f.store, "MUG", -1, inventory_sync::Reason::PosSale);
    let report = f.store.run_stack(None).unwrap();
    assert!(report.to_string().contains("429"), "{report}");
    let asked = emu.requests();
    let e = f
        .store
        .send_qoh(id, SendOptions { force: true }, None)
        .expect_err("nothing asked: an error of the call");
    assert!(
        e.message()
            .contains("not asked again before the wait it named ends"),
        "{e}"
    );
    let e = f
        .store
        .get_qoh(
            id,
            inventory_sync::GetOptions {
                force: true,
                create_new: false,
            },
            None,
        )
        .expect_err("nothing asked");
    assert!(
        e.message().contains("429"),
        "the cart's answer is named: {e}"
    );
    assert_eq!(emu.requests(), asked, "asked within the wait");
}
