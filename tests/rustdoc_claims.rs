//! The rustdoc's checkable promises of the public Rust API that no other test asserted (a
//! truth audit of the doc comments, 2026-12-05): each test quotes the promise and names the
//! item it is made on. Where the audit found a doc comment promising other than the code does
//! and the code was right, the comment was corrected and the test asserts the corrected text.
//!
//! Promises checked and where each is asserted (`file::test`, or `here` for this file):
//! - `ErrorKind::is_retryable`: rust_trial, here (every kind); its JSON names: here.
//! - `Delta::new` bounds: bad_input, rust_trial, here. `Reason`/`StackState::from_code`: here.
//! - `Adjustment::check`, `host_ref` trimmed, `seen_before` refusals: here; `send_to_web` with
//!   `host_ref` retries: rules (send_to_web section); refusals inside a host transaction:
//!   bad_input::every_refused_adjustment_inside_a_host_transaction_leaves_the_rest_of_it_intact.
//! - `Store::open_with` refusals: bad_input (memory, `cache=shared`, `nolock`, `mode=ro`);
//!   `OpenOptions` defaults and its workstation check: here.
//! - `Store` shared between threads: here; `begin`/`commit`, network calls refused, the
//!   controller not seeing the transaction: bad_input::a_host_transaction_*.
//! - `last_report`: here, dotnet_trial (a refused call). Listing limits and order: here
//!   (`stack_list_json`'s bad limit: bad_input).
//! - `stack_retry`/`stack_discard` kinds, `stack_history_count` refusal: here; with a Send
//!   QOH's count in doubt: killed_count_idle_cart, record_ids; `prune_stack_history`:
//!   year_of_trading, controller; `retire_cart`/`delete_cart`: retire_cart, bad_input.
//! - `start_controller`/`hold_shared_lock_between_passes` intervals: rust_trial, controller;
//!   a second start refused, a stopped one's status: here; `last_error_kind`: controller,
//!   readme_claims_a.
//! - `is_secret_key`, `Cart::setting`/`level`/`info`/`config_version`: here; a new cart's
//!   box off, an update keeping it: readme_claims_a, level_switch_review.
//! - `SendReport::error`, `GetReport::error` (both corrected): here, rules (Get QOH pages).
//! - `Progress`: rules (rule7_progress_callback_cancels_between_batches and the Get QOH
//!   callbacks), rust_trial, readme_claims_b; report caps of 1,000: report_bounds,
//!   report_lists, mutation_audit_s36.
//! - `fetch_quantities`: pages that never end, rules::a_cart_whose_pages_never_end_*;
//!   negative counts, rules::rule8_get_qoh_takes_padded_skus_and_negative_counts_as_they_are;
//!   past 32 bits: here. `read_lag`: read_lag; `describe`: describe_on_demand;
//!   `begin_manual_run`: drift_repair and the platform adapter tests.
//! - `SendOutcome`/`CartError` as the controller reads them (`Retry` with and without a
//!   wait, `RateLimited`, `Unauthorized`'s pause, `Rejected`'s bypass, `Ambiguous` per
//!   `UpdateMode`): controller, adapter_contract, fault_matrix, http_edges, conformance.

#[macro_use]
mod common;

use common::*;
use inventory_sync::adapter::{CartAdapter, CartError, QuantityPage, QuantitySet, SendOutcome};
use inventory_sync::stack::StackState;
use inventory_sync::{
    Adjustment, Delta, ErrorKind, GetOptions, Reason, SendOptions, Store, SyncLevel,
};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// `Delta`: "A checked change of QOH: never 0, and within the 32-bit range a host can hold";
/// `Delta::new`: "0 and anything outside `i32` are refused".
#[test]
fn delta_refuses_zero_and_what_is_outside_32_bits() {
    let max = i64::from(i32::MAX);
    let min = i64::from(i32::MIN);
    for n in [0, max + 1, min - 1, i64::MAX, i64::MIN] {
        let e = Delta::new(n).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{n}: {e}");
    }
    for n in [1, -1, max, min] {
        assert_eq!(Delta::new(n).unwrap().get(), n);
    }
}

/// `Reason::from_code` ("The reason with C ABI number `n`") and `StackState::from_code`: the
/// numbers `code` gives back, and an unknown number refused as bad input (what a host that
/// read the number from a file is told).
#[test]
fn reason_and_stack_state_numbers_round_trip_and_unknown_ones_are_refused() {
    for n in 1..=6 {
        assert_eq!(Reason::from_code(n).unwrap().code(), n);
    }
    for n in [0, 7, -1] {
        let e = Reason::from_code(n).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{n}: {e}");
    }
    for (n, s) in [
        (1, StackState::Waiting),
        (2, StackState::Bypassed),
        (3, StackState::Uncertain),
    ] {
        assert_eq!(StackState::from_code(n).unwrap(), s);
    }
    for n in [0, 4] {
        let e = StackState::from_code(n).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{n}: {e}");
    }
}

/// `Adjustment::check`: "What `Store::adjust_qoh` refuses of the change itself, before it reads
/// the store: a SKU that is empty, too long or holds a control character, a host reference not
/// of 1 to 255 bytes" (a caller checks a whole import first).
#[test]
fn adjustment_check_refuses_what_adjust_qoh_refuses_of_the_change_itself() {
    let d = Delta::new(-1).unwrap();
    let bad = [
        Adjustment::new("", d, Reason::PosSale),
        Adjustment::new("   ", d, Reason::PosSale),
        Adjustment::new("X".repeat(256), d, Reason::PosSale),
        Adjustment::new("A\u{7}B", d, Reason::PosSale),
        Adjustment::new("A", d, Reason::PosSale).host_ref(""),
        Adjustment::new("A", d, Reason::PosSale).host_ref("   "),
        Adjustment::new("A", d, Reason::PosSale).host_ref("R".repeat(256)),
    ];
    // The store refuses each the same way, having changed nothing.
    let f = store();
    item(&f.store, "A", 5);
    for a in &bad {
        let e = a.check().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{a:?}: {e}");
        let e = f.store.adjust_qoh(a).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{a:?}: {e}");
    }
    assert_eq!(f.store.item_qoh("A").unwrap(), 5);
    let good = [
        Adjustment::new("X".repeat(255), d, Reason::PosSale),
        Adjustment::new("A", d, Reason::PosSale).host_ref("R".repeat(255)),
        Adjustment::new("A", d, Reason::PosSale).host_ref(" ORD-1/1 "),
    ];
    for a in &good {
        a.check().unwrap();
    }
}

/// `Adjustment::host_ref`: "the same reference again is an OK no-op ... Read trimmed, as a SKU
/// is: `"ORD-1/1 "` (a fixed-width field read back) is `"ORD-1/1"`"; `Store::seen_before` says
/// so beforehand.
#[test]
fn a_host_reference_is_read_trimmed_and_its_retry_is_a_no_op() {
    let f = store();
    item(&f.store, "A", 5);
    let change =
        |r: &str| Adjustment::new("A", Delta::new(-1).unwrap(), Reason::PosSale).host_ref(r);
    assert!(!f.store.seen_before(&change("ORD-1/1")).unwrap());
    assert!(matches!(
        f.store.adjust_qoh(&change("ORD-1/1 ")).unwrap(),
        inventory_sync::AdjustOutcome::Applied { qoh: 4, .. }
    ));
    assert!(f.store.seen_before(&change("ORD-1/1")).unwrap());
    assert_eq!(
        f.store.adjust_qoh(&change("ORD-1/1")).unwrap(),
        inventory_sync::AdjustOutcome::Duplicate
    );
    assert_eq!(f.store.item_qoh("A").unwrap(), 4, "applied once");
}

/// `ErrorKind`: "In JSON ... written in snake case: `invalid_argument`, `not_found`,
/// `refused`, `cancelled`, `busy`, `database`, `network`"; `ErrorKind::is_retryable`: `Busy`
/// and `Network` may be made again as they were, "The others are not".
#[test]
fn error_kinds_in_json_and_which_are_retryable() {
    let kinds = [
        (ErrorKind::InvalidArgument, "invalid_argument", false),
        (ErrorKind::NotFound, "not_found", false),
        (ErrorKind::Refused, "refused", false),
        (ErrorKind::Cancelled, "cancelled", false),
        (ErrorKind::Busy, "busy", true),
        (ErrorKind::Database, "database", false),
        (ErrorKind::Network, "network", true),
    ];
    for (kind, json, retryable) in kinds {
        assert_eq!(serde_json::to_value(kind).unwrap(), Value::from(json));
        assert_eq!(kind.is_retryable(), retryable, "{kind:?}");
    }
}

/// `carts::is_secret_key`: the built-in names, `key`, `_key`/`-key` endings and, `-` and `_`
/// aside, `secret`, `token`, `password`, `passwd`, `passphrase`, `apikey` endings, "in any
/// case (`client_secret`, `access_token`, `private_key`, `x-api-key`, `ApiKey`), but
/// WooCommerce's `consumer_key`".
#[test]
fn secret_keys_are_told_by_the_documented_rule() {
    use inventory_sync::carts::is_secret_key;
    for k in [
        "token",
        "consumer_secret",
        "api_key",
        "password",
        "key",
        "client_secret",
        "access_token",
        "private_key",
        "x-api-key",
        "ApiKey",
        "API_KEY",
        "db_passwd",
        "ssh-passphrase",
        "Client-Secret",
    ] {
        assert!(is_secret_key(k), "{k}");
    }
    for k in [
        "consumer_key",
        "url",
        "location_id",
        "keys",
        "monkey",
        "tokens",
    ] {
        assert!(!is_secret_key(k), "{k}");
    }
}

/// `Cart::setting`: "`None` for the built-in adapters' credentials (`token`,
/// `consumer_secret`, `api_key`, `password`), read with `Cart::secret`"; `Cart::level`: "a
/// cart without real-time sync is treated as `Attribute`"; `Cart::info`: "The cart without its
/// secrets"; `Cart::config_version`: "it changes each time the cart is saved".
#[test]
fn a_carts_settings_level_listing_and_saving() {
    let f = store();
    let json = r#"{"name":"Web","adapter":"http_json","url":"http://127.0.0.1:9/",
        "token":"TOKEN-SECRET","capabilities":{"send":true,"get":true}}"#;
    let id = f.store.upsert_cart_json(json).unwrap();
    let cart = f.store.cart(id).unwrap();
    assert_eq!(cart.setting("token"), None);
    assert_eq!(cart.setting("url"), Some("http://127.0.0.1:9/"));
    assert_eq!(
        cart.secret("token").unwrap().unwrap().expose(),
        "TOKEN-SECRET"
    );
    assert_eq!(cart.capabilities.realtime, None);
    assert_eq!(cart.level(), SyncLevel::Attribute);
    assert!(!cart.info().to_string().contains("TOKEN-SECRET"));
    assert!(!f.store.carts_json().unwrap().contains("TOKEN-SECRET"));
    // Saved again as it was: another saving all the same.
    f.store.upsert_cart_json(json).unwrap();
    let again = f.store.cart(id).unwrap();
    assert_ne!(again.config_version(), cart.config_version());
}

/// `Store::items_json`, `Store::ledger_json` and `Store::stack_list_json`: a filter's `limit`
/// is 1 to 1,000,000 and "1,000 when left out" (added to their docs by this audit: a host
/// listing 5,000 items got 1,000 without a word of why); the ledger "newest first", the stack
/// view "oldest first".
#[test]
fn listings_hold_1000_unless_a_limit_says_otherwise_in_their_documented_order() {
    let f = store();
    let shop = Arc::new(Mem::default());
    let c = custom_cart(&f.store, "mem", shop, Some("attribute"), None);
    f.store.set_cart_sync(c, true).unwrap();
    f.store.begin().unwrap();
    for i in 0..1001 {
        item(&f.store, &format!("I{i:04}"), 5);
        adjust(&f.store, &format!("I{i:04}"), -1, Reason::PosSale);
    }
    f.store.commit().unwrap();
    let list = |s: String| -> Vec<Value> { serde_json::from_str(&s).unwrap() };
    assert_eq!(list(f.store.items_json(None).unwrap()).len(), 1000);
    assert_eq!(
        list(f.store.items_json(Some(r#"{"limit":2000}"#)).unwrap()).len(),
        1001
    );
    let ledger = list(f.store.ledger_json(None).unwrap());
    assert_eq!(ledger.len(), 1000);
    assert_eq!(ledger[0]["sku"], "I1000", "newest first");
    assert_eq!(
        list(f.store.ledger_json(Some(r#"{"limit":2000}"#)).unwrap()).len(),
        1001
    );
    let stack = list(f.store.stack_list_json(None).unwrap());
    assert_eq!(stack.len(), 1000);
    assert_eq!(stack[0]["sku"], "I0000", "oldest first");
    assert_eq!(
        list(f.store.stack_list_json(Some(r#"{"limit":2000}"#)).unwrap()).len(),
        1001
    );
    for bad in [r#"{"limit":0}"#, r#"{"limit":1000001}"#] {
        let e = f.store.items_json(Some(bad)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}: {e}");
    }
}

/// `Store::stack_retry`: "A record that is not bypassed or uncertain is `Refused`; one
/// discarded or applied is `NotFound`"; `Store::stack_discard` refuses a waiting record the
/// same way; `Store::stack_history_count`: "Any other outcome is refused, naming these".
#[test]
fn operator_actions_on_records_answer_the_documented_kinds() {
    let f = store();
    let shop = Arc::new(Mem::default());
    shop.set("A", 5);
    let c = custom_cart(&f.store, "mem", shop, Some("attribute"), None);
    f.store.set_cart_sync(c, true).unwrap();
    item(&f.store, "A", 5);
    adjust(&f.store, "A", -1, Reason::PosSale);
    let id = stack(&f.store, None)[0]["id"].as_i64().unwrap();
    assert_eq!(
        f.store.stack_retry(id).unwrap_err().kind(),
        ErrorKind::Refused
    );
    assert_eq!(
        f.store.stack_discard(id).unwrap_err().kind(),
        ErrorKind::Refused
    );
    assert_eq!(drain(&f.store).sent, 1);
    assert_eq!(
        f.store.stack_retry(id).unwrap_err().kind(),
        ErrorKind::NotFound,
        "applied"
    );
    for bad in ["discard", "Applied", ""] {
        let e = f.store.stack_history_count(bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
        assert!(e.message().contains("superseded"), "{e}");
    }
    assert_eq!(f.store.stack_history_count("applied").unwrap(), 1);
}

/// A cart read for Get QOH whose second page fails (and which can be made to stop failing).
struct FailsOnPage2 {
    fail: AtomicBool,
}

impl CartAdapter for FailsOnPage2 {
    takes_no_deltas!();
    fn set_quantities(&self, _: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
        Err(CartError::Rejected("not in this test".into()))
    }
    fn fetch_quantities(&self, cursor: Option<&str>, _: u32) -> Result<QuantityPage, CartError> {
        match cursor {
            None => Ok(QuantityPage {
                items: vec![("A".into(), 7)],
                next_cursor: Some("p2".into()),
            }),
            Some(_) if self.fail.load(Ordering::SeqCst) => {
                Err(CartError::Unavailable("503 on page 2".into()))
            }
            Some(_) => Ok(QuantityPage {
                items: vec![("B".into(), 2)],
                next_cursor: None,
            }),
        }
    }
}

/// `GetReport::error`: "Why it stopped before the end, when the cart failed after its first
/// page was read: nothing was applied then (a count is applied once the whole listing is
/// read) ... (the call still returns the report; on the first page, the call fails instead)".
/// Until this audit the doc said "after some pages were applied": a host reading it would take
/// the items of the pages read as updated, and not run Get QOH again for them.
#[test]
fn get_qoh_stopped_after_a_page_returns_its_report_and_has_applied_nothing() {
    let f = store();
    item(&f.store, "A", 10);
    item(&f.store, "B", 10);
    let shop = Arc::new(FailsOnPage2 {
        fail: AtomicBool::new(true),
    });
    let c = custom_cart(&f.store, "paged", shop.clone(), None, None);
    let report = f.store.get_qoh(c, GetOptions::default(), None).unwrap();
    let why = report
        .error
        .clone()
        .expect("the report says why it stopped");
    assert!(why.contains("nothing was applied"), "{why}");
    assert_eq!((report.updated, report.unchanged), (0, 0), "{report:?}");
    assert_eq!(f.store.item_qoh("A").unwrap(), 10, "page 1 was not applied");
    // Read to its end, the same listing moves the item.
    shop.fail.store(false, Ordering::SeqCst);
    let report = f.store.get_qoh(c, GetOptions::default(), None).unwrap();
    assert_eq!(report.error, None);
    assert_eq!(report.updated, 2, "{report:?}");
    assert_ne!(f.store.item_qoh("A").unwrap(), 10);
}

/// A cart taking counts one a request: the first request's answer refuses its item, every
/// later request finds the cart unreachable.
struct RefusesThenGone {
    calls: AtomicUsize,
    gone_at_once: bool,
}

impl CartAdapter for RefusesThenGone {
    takes_no_deltas!();
    fn set_quantities(&self, sets: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) > 0 || self.gone_at_once {
            return Err(CartError::Unreachable("connection refused".into()));
        }
        Ok(sets
            .iter()
            .map(|s| SendOutcome::Failed {
                message: format!("no product {}", s.sku),
            })
            .collect())
    }
    fn fetch_quantities(&self, _: Option<&str>, _: u32) -> Result<QuantityPage, CartError> {
        Ok(QuantityPage::default())
    }
}

/// `SendReport::error`: "Why it stopped before the end, when the cart failed after a request
/// of the run reached it ... (the call still returns the report, whose `failures` name what
/// was refused; if none had reached it, the call fails instead)". Until this audit the doc said
/// "after it had taken some counts ... before any, the call fails instead": a cart that refused
/// the first batch's items and then went away returns a report (0 sent), not an error.
#[test]
fn send_qoh_stopped_after_the_cart_answered_returns_its_report() {
    let f = store();
    item(&f.store, "A", 3);
    item(&f.store, "B", 4);
    let shop = Arc::new(RefusesThenGone {
        calls: AtomicUsize::new(0),
        gone_at_once: false,
    });
    let c = custom_cart(&f.store, "refuses", shop.clone(), None, Some(1));
    let report = f.store.send_qoh(c, SendOptions::default(), None).unwrap();
    assert_eq!(report.sent, 0, "{report:?}");
    assert!(report.error.is_some(), "{report:?}");
    assert_eq!(report.failures.len(), 1, "{report:?}");
    assert!(
        report.failures[0].message.contains("no product"),
        "{report:?}"
    );
    // A cart no request reached: an error of the call, the kind a retry may cure.
    let f2 = store();
    item(&f2.store, "A", 3);
    let gone = Arc::new(RefusesThenGone {
        calls: AtomicUsize::new(0),
        gone_at_once: true,
    });
    let c2 = custom_cart(&f2.store, "gone", gone, None, Some(1));
    let e = f2
        .store
        .send_qoh(c2, SendOptions::default(), None)
        .unwrap_err();
    assert!(e.kind().is_retryable(), "{e:?}");
}

/// `Store::open_with`'s `OpenOptions` default: `Durability::Normal` ("the default"), and a
/// `workstation` left out is the host name; one given is checked as the `Workstation`
/// parameter ("1 to 128 characters").
#[test]
fn open_options_defaults_and_a_workstation_checked_before_the_file_is_made() {
    let o = inventory_sync::OpenOptions::default();
    assert_eq!(o.durability, inventory_sync::Durability::Normal);
    assert!(o.workstation.is_none());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let e = Store::open_with(
        &path,
        inventory_sync::OpenOptions {
            workstation: Some("W".repeat(129)),
            ..Default::default()
        },
    )
    .err()
    .unwrap();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(!path.exists(), "refused before the file is touched");
    let s = Store::open_with(
        &path,
        inventory_sync::OpenOptions {
            workstation: Some("Till 2".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(s.workstation(), "Till 2");
    assert_eq!(s.param("Workstation").unwrap(), "Till 2");
}

/// `Store::seen_before`: "A reference that names another change (another SKU, delta, reason
/// or origin cart ...) is refused, here as there", and (added to its doc by this audit) the
/// same change asked with `send_to_web` otherwise than it was made.
#[test]
fn seen_before_refuses_a_reference_naming_another_change() {
    let f = store();
    item(&f.store, "A", 5);
    item(&f.store, "B", 5);
    let sale = |sku: &str, n: i64| {
        Adjustment::new(sku, Delta::new(n).unwrap(), Reason::PosSale).host_ref("ORD-9/1")
    };
    f.store
        .adjust_qoh(&sale("A", -1).send_to_web(false))
        .unwrap();
    assert!(f
        .store
        .seen_before(&sale("A", -1).send_to_web(false))
        .unwrap());
    let others = [
        sale("B", -1).send_to_web(false),
        sale("A", -2).send_to_web(false),
        Adjustment::new("A", Delta::new(-1).unwrap(), Reason::OrderImport)
            .host_ref("ORD-9/1")
            .send_to_web(false),
        sale("A", -1),
    ];
    for a in &others {
        let e = f.store.seen_before(a).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Refused, "{a:?}: {e}");
        assert_eq!(
            f.store.adjust_qoh(a).unwrap_err().kind(),
            ErrorKind::Refused,
            "{a:?}"
        );
    }
    assert_eq!(f.store.item_qoh("A").unwrap(), 4);
    assert_eq!(f.store.item_qoh("B").unwrap(), 5);
}

/// `Store`: "A `Store` may be shared between threads (`&Store` is `Sync`); calls on one handle
/// are serialised on its connection": changes made at once from several threads through one
/// handle are each applied once.
#[test]
fn one_store_handle_is_shared_between_threads() {
    fn shareable<T: Send + Sync>(_: &T) {}
    let f = store();
    shareable(&f.store);
    item(&f.store, "A", 1000);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..25 {
                    adjust(&f.store, "A", -1, Reason::PosSale);
                }
            });
        }
    });
    assert_eq!(f.store.item_qoh("A").unwrap(), 900);
    let ledger: Vec<Value> = serde_json::from_str(&f.store.ledger_json(None).unwrap()).unwrap();
    assert_eq!(ledger.len(), 100);
}

/// `Store::last_report`: "The report of this thread's last run, send, get or preflight on this
/// handle (JSON); `None` when it made none yet, or its last one failed before it had done
/// anything to report (an unreachable cart ...): never an earlier call's".
#[test]
fn last_report_is_this_threads_and_this_handles_and_never_an_earlier_calls() {
    let f = store();
    item(&f.store, "A", 3);
    let shop = Arc::new(Mem::default());
    shop.set("A", 0);
    let c = custom_cart(&f.store, "mem", shop.clone(), None, None);
    assert_eq!(f.store.last_report(), None, "none made yet");
    let report = f.store.send_qoh(c, SendOptions::default(), None).unwrap();
    assert_eq!(report.sent, 1);
    let kept: Value = serde_json::from_str(&f.store.last_report().unwrap()).unwrap();
    assert_eq!(kept["sent"], 1);
    std::thread::scope(|s| {
        s.spawn(|| assert_eq!(f.store.last_report(), None, "another thread's"));
    });
    assert_eq!(f.reopen().last_report(), None, "another handle's");
    // A call that fails before it did anything leaves no report, not the send's.
    let gone = Arc::new(RefusesThenGone {
        calls: AtomicUsize::new(0),
        gone_at_once: true,
    });
    let g = custom_cart(&f.store, "gone", gone, None, None);
    f.store
        .send_qoh(g, SendOptions::default(), None)
        .unwrap_err();
    assert_eq!(f.store.last_report(), None);
}

/// `Store::start_controller`: "Refused when one runs already on this handle";
/// `Store::stop_controller`: "a no-op when none runs", and once stopped
/// `Store::controller_status` is "the last one's"; a start after a stop runs again.
#[test]
fn a_second_background_controller_is_refused_and_a_stopped_ones_status_stays() {
    let f = store();
    f.store.stop_controller();
    let idle = f.store.controller_status();
    assert!(!idle.running && idle.passes == 0, "{idle:?}");
    let shop = Arc::new(Mem::default());
    shop.set("A", 5);
    let c = custom_cart(&f.store, "mem", shop.clone(), Some("attribute"), None);
    f.store.set_cart_sync(c, true).unwrap();
    item(&f.store, "A", 5);
    adjust(&f.store, "A", -1, Reason::PosSale);
    let interval = std::time::Duration::from_millis(20);
    f.store.start_controller(interval).unwrap();
    let e = f.store.start_controller(interval).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Refused, "{e}");
    wait_for("the background controller to send the sale", || {
        f.store.stack_count(0, StackState::Waiting).unwrap() == 0
    });
    wait_for("a pass to be counted", || {
        f.store.controller_status().passes > 0
    });
    f.store.stop_controller();
    let stopped = f.store.controller_status();
    assert!(!stopped.running, "{stopped:?}");
    assert!(
        stopped.passes > 0 && stopped.last_report.is_some(),
        "{stopped:?}"
    );
    assert_eq!(shop.get("A"), 4);
    f.store.start_controller(interval).unwrap();
    assert!(f.store.controller_status().running);
    f.store.stop_controller();
}

/// A cart listing fixed counts, for Get QOH.
struct Lists(Vec<(String, i64)>);

impl CartAdapter for Lists {
    takes_no_deltas!();
    fn set_quantities(&self, _: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
        Err(CartError::Rejected("not in this test".into()))
    }
    fn fetch_quantities(&self, _: Option<&str>, _: u32) -> Result<QuantityPage, CartError> {
        Ok(QuantityPage {
            items: self.0.clone(),
            next_cursor: None,
        })
    }
}

/// `CartAdapter::fetch_quantities`: "A count that would take the item's QOH outside 32 bits is
/// listed as not applied" (the rest of the listing is applied).
#[test]
fn get_qoh_lists_a_count_past_32_bits_as_not_applied() {
    let f = store();
    item(&f.store, "A", 10);
    item(&f.store, "B", 10);
    let huge = i64::from(i32::MAX) + 100;
    let shop = Arc::new(Lists(vec![("A".into(), huge), ("B".into(), 4)]));
    let c = custom_cart(&f.store, "lists", shop, None, None);
    let report = f.store.get_qoh(c, GetOptions::default(), None).unwrap();
    assert_eq!(f.store.item_qoh("A").unwrap(), 10, "{report:?}");
    assert!(
        report.not_applied.iter().any(|n| n.sku == "A"),
        "{report:?}"
    );
    assert_eq!(report.updated, 1, "B is applied: {report:?}");
    assert_ne!(f.store.item_qoh("B").unwrap(), 10);
    // `Reason::Other`: "Anything else, including a pull from a cart (Get QOH)"; `get_qoh`: "as
    // a QOH change from that cart".
    let ledger: Vec<Value> =
        serde_json::from_str(&f.store.ledger_json(Some(r#"{"sku":"B"}"#)).unwrap()).unwrap();
    assert_eq!(ledger[0]["reason"], Reason::Other.code(), "{ledger:?}");
    assert_eq!(ledger[0]["origin_cart_id"], c, "{ledger:?}");
}
