//! Regressions a review of 2026-12-04's changes found (cart waits kept by manual runs, the
//! secret-key rule, Shopify's counted variants, BigCommerce's safety stock, history pruning),
//! each test seen failing on the code before its fix. Each test's comment says what went
//! wrong on that code (its "now" is the code reviewed, before the fix).

#![cfg(feature = "emulator")]

#[macro_use]
mod common;

/// The adapters' scripted loopback server (one answer per connection, requests recorded).
#[path = "../src/adapter/scripted.rs"]
#[allow(dead_code)]
mod scripted;

use common::*;
use inventory_sync::adapter::{CartAdapter, CartError, QuantityPage, QuantitySet, SendOutcome};
use inventory_sync::GetOptions;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

const HOUR: Duration = Duration::from_secs(3600);

fn forced() -> GetOptions {
    GetOptions {
        force: true,
        create_new: false,
    }
}

/// Each count set, as a cart that takes every one answers.
fn all_applied(sets: &[QuantitySet]) -> Vec<SendOutcome> {
    sets.iter()
        .map(|_| SendOutcome::Applied { qoh: None })
        .collect()
}

/// Answers its first `limited` reads with a 429 naming `wait`, then shows A at 5.
struct ShortThrottles {
    limited: usize,
    wait: Duration,
    reads: AtomicUsize,
}

impl CartAdapter for ShortThrottles {
    takes_no_deltas!();
    fn set_quantities(&self, sets: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
        Ok(all_applied(sets))
    }
    fn fetch_quantities(&self, _: Option<&str>, _: u32) -> Result<QuantityPage, CartError> {
        if self.reads.fetch_add(1, Ordering::SeqCst) < self.limited {
            return Err(CartError::RateLimited {
                retry_after: Some(self.wait),
                message: "HTTP 429: Retry-After 0.05".into(),
            });
        }
        Ok(QuantityPage {
            items: vec![("A".to_string(), 5)],
            next_cursor: None,
        })
    }
}

/// A cart on `f`'s store whose first `limited` reads are 429s naming 50 ms; item A at 5.
fn short_throttles(f: &Fixture, limited: usize) -> (Arc<ShortThrottles>, inventory_sync::CartId) {
    let cart = Arc::new(ShortThrottles {
        limited,
        wait: Duration::from_millis(50),
        reads: AtomicUsize::new(0),
    });
    let c = custom_cart(&f.store, "short", cart.clone(), None, None);
    item(&f.store, "A", 5);
    (cart, c)
}

/// A manual run waits out up to five 429s (RATE_LIMIT_TRIES). With the cart's wait now
/// written on the cart at least a second long, each sub-second 429 is slept twice (its own
/// wait, then what is left of the second written) and counts two tries: three 429s of
/// 50 ms end a Get QOH that waited 150 ms before, after ~3 s of sleep.
#[test]
fn get_qoh_waits_out_three_short_rate_limits_once_each() {
    let f = store();
    let (cart, c) = short_throttles(&f, 3);
    let started = Instant::now();
    let r = f.store.get_qoh(c, forced(), None);
    let took = started.elapsed();
    assert!(
        r.is_ok(),
        "three 50 ms rate limits stopped the run after {took:?}: {r:?}"
    );
    assert_eq!(cart.reads.load(Ordering::SeqCst), 4, "{r:?}");
    assert!(
        took < Duration::from_millis(1500),
        "three 50 ms waits took {took:?}"
    );
}

/// Its first read blocks until told to go on, then answers a 429 naming an hour; later
/// reads show nothing. Counts the reads.
struct GatedThrottle {
    in_flight: Mutex<Option<mpsc::Sender<()>>>,
    go: Mutex<Option<mpsc::Receiver<()>>>,
    reads: AtomicUsize,
}

impl CartAdapter for GatedThrottle {
    takes_no_deltas!();
    fn set_quantities(&self, sets: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
        Ok(all_applied(sets))
    }
    fn fetch_quantities(&self, _: Option<&str>, _: u32) -> Result<QuantityPage, CartError> {
        if self.reads.fetch_add(1, Ordering::SeqCst) == 0 {
            if let Some(tx) = self.in_flight.lock().unwrap().take() {
                let _ = tx.send(());
            }
            if let Some(rx) = self.go.lock().unwrap().take() {
                let _ = rx.recv_timeout(Duration::from_secs(10));
            }
            return Err(CartError::RateLimited {
                retry_after: Some(HOUR),
                message: "HTTP 429: Retry-After 3600".into(),
            });
        }
        Ok(QuantityPage::default())
    }
}

/// The drift report (no repair) takes no manual-run guard, so a host may begin a transaction
/// on the handle while its read is in flight. The hour the cart then names is written on the
/// handle's connection, inside the host's transaction: the host's rollback (of its own,
/// unrelated work) erases it, and the cart is asked again at once, within the hour it named.
#[test]
fn a_wait_met_by_the_drift_report_is_not_written_inside_a_host_transaction() {
    let f = store();
    let (in_tx, in_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel();
    let cart = Arc::new(GatedThrottle {
        in_flight: Mutex::new(Some(in_tx)),
        go: Mutex::new(Some(go_rx)),
        reads: AtomicUsize::new(0),
    });
    let c = custom_cart(&f.store, "gated", cart.clone(), None, None);
    item(&f.store, "A", 5);
    std::thread::scope(|s| {
        let store = &f.store;
        let drift = s.spawn(move || store.drift(c, false));
        in_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the drift report reads the cart");
        f.store
            .begin()
            .expect("no manual run guard on a drift report");
        go_tx.send(()).unwrap();
        let r = drift.join().unwrap();
        assert!(format!("{r:?}").contains("429"), "{r:?}");
        // The host's own work failed; it rolls its transaction back.
        f.store.rollback().unwrap();
    });
    let r = f.store.get_qoh(c, forced(), None);
    assert_eq!(
        cart.reads.load(Ordering::SeqCst),
        1,
        "the cart named an hour and was asked again at once: {r:?}"
    );
}

/// A pause for refused credentials (401/403) is no wait the cart named: the controller writes
/// it as `rate_limited_until` (RetryMaxMs long, 5 minutes by default), and a manual run now
/// reads it as one. An owner who fixed the credentials where the cart reads them (an
/// `env:NAME` token rotated, the app's access restored in the shop: the cart's settings
/// unchanged) and runs Get QOH or Send QOH to check is refused for minutes, told that "the
/// cart is not asked again before the wait it named ends" and "rate limited", which it never
/// said.
#[test]
fn a_credentials_pause_does_not_stop_a_manual_run_as_a_rate_limit() {
    let f = store();
    let (emu, id) = paused_for_credentials(&f);
    // The cart takes the credentials again; the owner checks with a forced Get QOH.
    let asked = emu.requests();
    let r = f.store.get_qoh(id, forced(), None);
    assert!(
        r.is_ok() && emu.requests() > asked,
        "a manual run refused during a credentials pause, as a rate limit: {r:?}"
    );
}

/// A cart paused for refused credentials (`f`'s controller met a 401), with RetryMaxMs at 5
/// minutes, and the sale of a MUG the 401 answered waiting.
fn paused_for_credentials(
    f: &Fixture,
) -> (inventory_sync::emulator::Emulator, inventory_sync::CartId) {
    f.store.set_param("RetryMaxMs", "300000").unwrap();
    let emu = inventory_sync::emulator::Emulator::start().unwrap();
    let id = cart(&f.store, &emu, "Web", "attribute");
    item(&f.store, "MUG", 5);
    emu.set_qoh("MUG", 5);
    emu.inject(inventory_sync::emulator::Fault::Status {
        status: 401,
        count: 1,
        retry_after: None,
    });
    adjust(&f.store, "MUG", -1, inventory_sync::Reason::PosSale);
    let report = f.store.run_stack(None).unwrap();
    assert!(report.to_string().contains("401"), "{report}");
    (emu, id)
}

/// A 429 met by a manual run during a credentials pause was written into the column that
/// held the pause, with its own answer over the pause's: the stored wait was then the pause's
/// 300 s, read as one the cart had named, and the next Get QOH was refused for 5 minutes
/// where the cart had asked for 2.
#[test]
fn a_rate_limit_met_during_a_credentials_pause_is_kept_as_long_as_the_cart_asked() {
    let f = store();
    let (emu, id) = paused_for_credentials(&f);
    emu.inject(inventory_sync::emulator::Fault::Status {
        status: 429,
        count: 1,
        retry_after: Some(120),
    });
    let first = f.store.get_qoh(id, forced(), None).unwrap_err();
    assert!(first.message().contains("429"), "{first}");
    let again = f.store.get_qoh(id, forced(), None).unwrap_err();
    let secs: u64 = again
        .message()
        .split("ends, in ")
        .nth(1)
        .and_then(|rest| rest.split(" s").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no wait named: {again}"));
    assert!(
        (100..=120).contains(&secs),
        "the cart asked for 120 s; the run waits {secs} s: {again}"
    );
}

/// An operator who mends refused credentials where the cart reads them (an `env:` token
/// rotated, the app's access restored in the shop) checks with Get QOH, and the cart answers;
/// the controller went on sending nothing until the pause's end (5 minutes by default), and
/// every sale meanwhile waited.
#[test]
fn a_manual_run_the_cart_answers_ends_the_credentials_pause() {
    let f = store();
    let (emu, id) = paused_for_credentials(&f);
    f.store.get_qoh(id, forced(), None).unwrap();
    adjust(&f.store, "MUG", -1, inventory_sync::Reason::PosSale);
    let report = f.store.run_stack(None).unwrap();
    assert_eq!(
        (report.sent, report.remaining),
        (2, 0),
        "after the cart answered the operator's check: {report}"
    );
    assert_eq!(emu.qoh("MUG"), Some(3));
    let state = f.store.carts_json().unwrap();
    assert!(!state.contains("fix its credentials"), "{state}");
}

/// A store file a build before schema 20 left with a credentials pause in force (kept with
/// the waits the cart named, told apart by its text) is upgraded with the pause moved apart:
/// left there, it read as a 5-minute wait the cart had named, and the operator's check was
/// refused.
#[test]
fn a_credentials_pause_an_older_build_kept_is_moved_apart_at_the_upgrade() {
    let f = store();
    let (emu, id) = paused_for_credentials(&f);
    rusqlite::Connection::open(f.store.path())
        .unwrap()
        .execute_batch(
            "UPDATE carts SET rate_limited_until = credentials_paused_until;
             ALTER TABLE carts DROP COLUMN credentials_paused_until;
             PRAGMA user_version = 19;",
        )
        .unwrap();
    let upgraded = f.reopen();
    let asked = emu.requests();
    let r = upgraded.get_qoh(id, forced(), None);
    assert!(
        r.is_ok() && emu.requests() > asked,
        "the pause an older build kept refused the check: {r:?}"
    );
}

/// Quotes the credential it was built with in every refusal.
struct QuotesCredential(String);

impl CartAdapter for QuotesCredential {
    fn update_mode(&self) -> inventory_sync::UpdateMode {
        inventory_sync::UpdateMode::Absolute
    }
    fn apply_deltas(
        &self,
        d: &[inventory_sync::adapter::DeltaSend],
    ) -> Result<Vec<SendOutcome>, CartError> {
        Ok(d.iter()
            .map(|_| SendOutcome::Failed {
                message: format!("bad credential {}", self.0),
            })
            .collect())
    }
    fn set_quantities(&self, s: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
        Ok(s.iter()
            .map(|_| SendOutcome::Applied { qoh: None })
            .collect())
    }
    fn fetch_quantities(&self, _: Option<&str>, _: u32) -> Result<QuantityPage, CartError> {
        Ok(Default::default())
    }
}

const CREDENTIAL: &str = "sk_live_7f3a9c2e11b4";

/// `is_secret_key` misses common spellings of a custom adapter's credential: `api-key` (the
/// `X-API-Key` header's own name), a plain `key`, a `passphrase`. Each is listed whole by
/// `carts_json` and quoted unscrubbed in the stack's last response.
#[test]
fn common_credential_key_spellings_are_secrets_too() {
    for key in ["api-key", "x-api-key", "key", "passphrase"] {
        let f = store();
        f.store.register_adapter("plugin", move |cart| {
            let credential = cart.secret(key)?.expect("given").expose().to_owned();
            Ok(Arc::new(QuotesCredential(credential)) as Arc<dyn CartAdapter>)
        });
        let json = serde_json::json!({
            "name": "Plugin", "adapter": "plugin", key: CREDENTIAL,
            "capabilities": {"send": true, "get": true, "realtime": "attribute"},
        });
        let c = f.store.upsert_cart_json(&json.to_string()).unwrap();
        f.store.set_cart_sync(c, true).unwrap();
        item(&f.store, "S1", 5);
        adjust(&f.store, "S1", -1, inventory_sync::Reason::PosSale);
        f.store.run_stack(None).unwrap();
        let listed = f.store.carts_json().unwrap();
        let stack = f.store.stack_list_json(None).unwrap();
        assert!(
            !listed.contains(CREDENTIAL) && !stack.contains(CREDENTIAL),
            "{key}: the credential comes back out: {listed} / {stack}"
        );
    }
}

/// The drift report writes nothing of its own: it runs while another handle (a host's
/// import on another workstation) holds the store's write lock. The wait a 429 names is now
/// written with the handle's full busy time-out (10 s): one 429 of 50 ms makes the report
/// stall for the whole time-out, as "best effort" (the write then fails anyway). A brief
/// write (`write_briefly_on`, 250 ms) or none is what a best-effort note takes.
#[test]
fn a_short_rate_limit_does_not_stall_the_drift_report_on_a_busy_store() {
    let f = store();
    let (_cart, c) = short_throttles(&f, 1);
    let other = f.reopen();
    other.begin().unwrap();
    let started = Instant::now();
    let r = f.store.drift(c, false);
    let took = started.elapsed();
    other.rollback().unwrap();
    assert!(r.is_ok(), "{r:?}");
    assert!(
        took < Duration::from_secs(3),
        "a 50 ms rate limit held the drift report {took:?} on a busy store"
    );
}

/// TEE twice in the shop: exactly "TEE" on a variant whose inventory is not tracked (a
/// gift-wrap variant), and "TEE " (a trailing blank) on the tracked variant stocked at the
/// cart's location, the one Get QOH reads TEE from.
const TEE_UNTRACKED_EXACT: &str = r#"{"data":{"productVariants":{"nodes":[
  {"sku":"TEE","inventoryItem":{"id":"gid://shopify/InventoryItem/2","tracked":false,
    "inventoryLevel":{"quantities":[{"name":"available","quantity":0}]}}},
  {"sku":"TEE ","inventoryItem":{"id":"gid://shopify/InventoryItem/1","tracked":true,
    "inventoryLevel":{"quantities":[{"name":"available","quantity":5}]}}}],
  "pageInfo":{"hasNextPage":false,"endCursor":null}}}}"#;
const TEE_APPLIED: &str = r#"{"data":{"c0":{"inventoryAdjustmentGroup":{"changes":[
  {"name":"available","delta":-1,"quantityAfterChange":4},
  {"name":"on_hand","delta":-1,"quantityAfterChange":4}]},"userErrors":[]}}}"#;

/// The lookup picks the exact SKU's variants before the tally of those Get QOH reads: a
/// sale of TEE goes to the untracked exact twin (which counts nothing), while Get QOH took
/// TEE's count from the tracked "TEE " variant; the shop's count never moves (an oversell).
/// The day's rule ("a sale goes to the one variant of its SKU that is tracked and stocked at
/// the cart's location, as Get QOH reads it, whatever twins the SKU has that are not") holds
/// only within one of the two spellings.
#[test]
fn a_shopify_sale_goes_to_the_variant_get_qoh_read_across_blank_twins() {
    use inventory_sync::adapter::shopify::ShopifyAdapter;
    use inventory_sync::adapter::DeltaSend;
    let server = scripted::Scripted::start(vec![
        (200, TEE_UNTRACKED_EXACT),
        (200, TEE_UNTRACKED_EXACT),
        (200, TEE_APPLIED),
    ]);
    let a = ShopifyAdapter::new(
        &server.url,
        inventory_sync::secret::Secret::new("shpat_x"),
        "1",
        None,
        Duration::from_secs(5),
    )
    .unwrap();
    let read = a.fetch_quantities(None, 500).unwrap();
    assert_eq!(
        read.items,
        vec![("TEE ".to_owned(), 5)],
        "Get QOH reads the tracked one"
    );
    let out = a
        .apply_deltas(&[DeltaSend {
            key: "3f5b6ebf-143c-4da5-8d0f-fb8553bfd850".into(),
            sku: "TEE".into(),
            remote_ref: None,
            delta: -1,
        }])
        .unwrap();
    let seen = server.finish();
    assert!(
        seen.len() == 3 && seen[2].2.contains("InventoryItem/1"),
        "the sale of TEE went elsewhere than the variant Get QOH read: {out:?} {:?}",
        seen.get(2)
    );
}

/// MUG at 1 on hand at the location, no safety stock.
const BC_LEVEL: &str = r#"{"data":[{"identity":{"sku":"MUG","variant_id":7,"product_id":3},"available_to_sell":1,"total_inventory_onhand":1,"settings":{"safety_stock":0}}],"meta":{"pagination":{"total":1,"count":1,"per_page":1000,"current_page":1,"total_pages":1}}}"#;
const BC_REFUSED_FOR_STOCK: &str = r#"{"status":422,"title":"Insufficient stock for items with identity: [sku MUG]","type":"https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes","errors":{}}"#;

/// A sale refused for stock was a `Retry` (tried again, bypassed only after the attempts).
/// Now the adapter reads the level after the refusal (`below_safety_stock`) and a 4xx to
/// that read of its own (unlike the same read in `levels`, mapped to `Unavailable` today) is
/// the sale's `Failed`: bypassed at once, though nothing was refused but the adapter's read.
#[test]
fn a_refused_safety_stock_read_does_not_bypass_the_sale() {
    use inventory_sync::adapter::bigcommerce::BigCommerceAdapter;
    use inventory_sync::adapter::DeltaSend;
    let server = scripted::Scripted::start(vec![
        (200, BC_LEVEL),
        (422, BC_REFUSED_FOR_STOCK),
        (400, r#"{"status":400,"title":"Bad Request"}"#),
    ]);
    let a = BigCommerceAdapter::new(
        &format!("{}stores/abc/", server.url),
        inventory_sync::secret::Secret::new("tok_x"),
        1,
        Duration::from_secs(5),
    )
    .unwrap();
    let out = a.apply_deltas(&[DeltaSend {
        key: "k1".into(),
        sku: "MUG".into(),
        remote_ref: None,
        delta: -1,
    }]);
    server.finish();
    assert!(
        !matches!(&out, Ok(o) if matches!(o[0], SendOutcome::Failed { .. })),
        "the sale is bypassed for the adapter's own read: {out:?}"
    );
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The prune step still looks only at the 5,000 oldest ids: where a clock ran ahead for a
/// busy spell (5,000 sends, a day of a busy shop), every step finds nothing to forget there
/// and the loop ends at once: the log is never pruned again until those entries' time comes
/// (200 days here; years for a clock set a year ahead), the case the day's change meant to
/// end, only at 5,000 entries instead of one.
#[test]
fn pruning_goes_past_a_full_step_of_entries_written_with_a_clock_ahead() {
    let day: i64 = 86_400_000;
    let now = now_ms();
    let f = store();
    let e = inventory_sync::emulator::Emulator::start().unwrap();
    cart(&f.store, &e, "A", "attribute");
    item(&f.store, "L", 1_000_000);
    e.set_qoh("L", 1_000_000);
    adjust(&f.store, "L", -1, inventory_sync::Reason::PosSale);
    f.store.run_stack(None).unwrap();
    let conn = rusqlite::Connection::open(f.store.path()).unwrap();
    conn.execute(
        "INSERT INTO stack_log(record_id, cart_id, item_id, delta, outcome, group_key,
                               response, at)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 11999)
         SELECT record_id + i, cart_id, item_id, delta, outcome, group_key, response, ?1
         FROM stack_log, n",
        [now - 365 * day],
    )
    .unwrap();
    conn.execute(
        "UPDATE stack_log SET at = ?1 WHERE id IN (SELECT id FROM stack_log ORDER BY id LIMIT 5000)",
        [now + 200 * day],
    )
    .unwrap();
    assert_eq!(f.store.stack_history_count("applied").unwrap(), 12_000);
    let gone = f.store.prune_stack_history(now - 90 * day).unwrap();
    assert_eq!(
        gone, 7000,
        "a year-old history kept behind 5,000 entries dated ahead"
    );
}
