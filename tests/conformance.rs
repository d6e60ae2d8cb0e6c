//! The adapter conformance check an integrator runs (`adapter::conformance::check`): the
//! built-in adapters pass it against their loopback carts, and an adapter breaking one rule
//! of the contract fails that check, by name, and no other.
#![cfg(feature = "emulator")]

use inventory_sync::adapter::bigcommerce::BigCommerceAdapter;
use inventory_sync::adapter::conformance::{
    check, check_keys_across_adapters, check_refused_credentials, names, CheckOptions, TestCart,
    Verdict,
};
use inventory_sync::adapter::http_json::HttpJsonAdapter;
use inventory_sync::adapter::shopify::ShopifyAdapter;
use inventory_sync::adapter::woocommerce::WooCommerceAdapter;
use inventory_sync::adapter::{
    CartAdapter, CartError, DeltaSend, QuantityPage, QuantitySet, SendOutcome, UpdateMode,
};
use inventory_sync::emulator::{Emulator, Mode};
use inventory_sync::secret::Secret;
use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

const SECRET: &str = "s3cr3t-Conf0rmance-T0ken";

/// A loopback emulator, driven from outside the adapter.
struct Loopback(Emulator);

impl TestCart for Loopback {
    fn put(&self, sku: &str, count: i64) -> Result<(), String> {
        self.0.set_qoh(sku, count);
        Ok(())
    }
    fn count(&self, sku: &str) -> Result<Option<i64>, String> {
        Ok(self.0.qoh(sku))
    }
}

fn options() -> CheckOptions {
    CheckOptions {
        secrets: vec![SECRET.into()],
        ..Default::default()
    }
}

fn loopback(mode: Mode, credential: &str) -> Loopback {
    let emu = Emulator::start_mode(mode).unwrap();
    emu.set_token(Some(credential));
    Loopback(emu)
}

const TIMEOUT: Duration = Duration::from_secs(10);

#[test]
fn the_built_in_adapters_pass_against_their_loopback_carts() {
    let http = loopback(Mode::HttpJson, SECRET);
    let shopify = loopback(Mode::Shopify, SECRET);
    let woo = loopback(Mode::WooCommerce, &format!("ck_test:{SECRET}"));
    let bc = loopback(Mode::BigCommerce, SECRET);
    let adapters: Vec<(&str, &Loopback, Box<dyn CartAdapter>)> = vec![
        (
            "http_json",
            &http,
            Box::new(
                HttpJsonAdapter::new(&http.0.url(), Some(Secret::new(SECRET)), TIMEOUT).unwrap(),
            ),
        ),
        (
            "shopify",
            &shopify,
            Box::new(
                ShopifyAdapter::new(&shopify.0.url(), Secret::new(SECRET), "1", None, TIMEOUT)
                    .unwrap(),
            ),
        ),
        (
            "woocommerce",
            &woo,
            Box::new(
                WooCommerceAdapter::new(&woo.0.url(), "ck_test", Secret::new(SECRET), TIMEOUT)
                    .unwrap(),
            ),
        ),
        (
            "bigcommerce",
            &bc,
            Box::new(
                BigCommerceAdapter::new(
                    &format!("{}stores/abc123/", bc.0.url()),
                    Secret::new(SECRET),
                    1,
                    TIMEOUT,
                )
                .unwrap()
                // The emulator's reads do not trail (unless a test makes them).
                .with_read_lag(Duration::ZERO),
            ),
        ),
    ];
    for (name, cart, adapter) in adapters {
        let report = check(adapter.as_ref(), cart, &options());
        assert!(report.passed(), "{name}:\n{report}");
        let keyed = adapter.update_mode() == UpdateMode::RelativeKeyed;
        assert_eq!(
            report.verdict(names::RESENT_KEY) == Some(&Verdict::Passed),
            keyed,
            "{name}:\n{report}"
        );
    }
}

#[test]
fn the_built_in_adapters_answer_refused_credentials_as_a_pause_quoting_none() {
    const WRONG: &str = "wr0ng-Conf0rmance-T0ken";
    let http = loopback(Mode::HttpJson, SECRET);
    let shopify = loopback(Mode::Shopify, SECRET);
    let woo = loopback(Mode::WooCommerce, &format!("ck_test:{SECRET}"));
    let bc = loopback(Mode::BigCommerce, SECRET);
    let refused: Vec<(&str, Box<dyn CartAdapter>)> = vec![
        (
            "http_json",
            Box::new(
                HttpJsonAdapter::new(&http.0.url(), Some(Secret::new(WRONG)), TIMEOUT).unwrap(),
            ),
        ),
        (
            "shopify",
            Box::new(
                ShopifyAdapter::new(&shopify.0.url(), Secret::new(WRONG), "1", None, TIMEOUT)
                    .unwrap(),
            ),
        ),
        (
            "woocommerce",
            Box::new(
                WooCommerceAdapter::new(&woo.0.url(), "ck_test", Secret::new(WRONG), TIMEOUT)
                    .unwrap(),
            ),
        ),
        (
            "bigcommerce",
            Box::new(
                BigCommerceAdapter::new(
                    &format!("{}stores/abc123/", bc.0.url()),
                    Secret::new(WRONG),
                    1,
                    TIMEOUT,
                )
                .unwrap(),
            ),
        ),
    ];
    for (name, adapter) in refused {
        let report = check_refused_credentials(adapter.as_ref(), &[WRONG], &options());
        assert!(report.passed(), "{name}:\n{report}");
    }
}

/// Answers every call with `error`.
struct Refuses(fn() -> CartError);

impl CartAdapter for Refuses {
    fn update_mode(&self) -> UpdateMode {
        UpdateMode::RelativeKeyed
    }
    fn apply_deltas(&self, _: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        Err((self.0)())
    }
    fn set_quantities(&self, _: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
        Err((self.0)())
    }
    fn fetch_quantities(&self, _: Option<&str>, _: u32) -> Result<QuantityPage, CartError> {
        Err((self.0)())
    }
}

#[test]
fn refused_credentials_answered_otherwise_or_quoted_fail_their_check() {
    let verdict = |error: fn() -> CartError| {
        let report = check_refused_credentials(&Refuses(error), &[SECRET], &options());
        report.verdict(names::REFUSED).cloned().unwrap()
    };
    assert_eq!(
        verdict(|| CartError::Unauthorized("HTTP 401: invalid token".into())),
        Verdict::Passed
    );
    let failed = |v: Verdict, says: &str| match v {
        Verdict::Failed(why) => assert!(why.contains(says), "{why}"),
        other => panic!("{other:?}"),
    };
    failed(
        verdict(|| CartError::Rejected("HTTP 401".into())),
        "bypasses every change",
    );
    failed(
        verdict(|| CartError::Unavailable("HTTP 401".into())),
        "backs the cart off as down",
    );
    failed(
        verdict(|| CartError::Unauthorized(format!("HTTP 401: token {SECRET} revoked"))),
        "quotes a credential",
    );
}

/// BigCommerce's reads trail its adjustments (the emulator made to, by a minute): its
/// adapter declaring no lag fails the read-lag check, naming what to declare.
#[test]
fn an_adapter_declaring_no_lag_over_reads_that_trail_fails_the_read_lag_check() {
    let bc = loopback(Mode::BigCommerce, SECRET);
    bc.0.set_bigcommerce_read_lag(Duration::from_secs(60));
    let adapter = BigCommerceAdapter::new(
        &format!("{}stores/abc123/", bc.0.url()),
        Secret::new(SECRET),
        1,
        TIMEOUT,
    )
    .unwrap()
    .with_read_lag(Duration::ZERO);
    let report = check(&adapter, &bc, &options());
    match report.verdict(names::READ_LAG) {
        Some(Verdict::Failed(why)) => assert!(why.contains("declare"), "{why}"),
        other => panic!("{other:?}\n{report}"),
    }
}

/// A keyed adapter that remembers the keys it sent in its own memory, over a cart that
/// de-duplicates nothing: one instance never sends a key twice, so [`check`] passes it, but
/// a change whose answer was lost goes again through another instance, and is taken twice.
struct RemembersKeys<'a> {
    cart: &'a Memory,
    sent: Mutex<HashSet<String>>,
}

impl CartAdapter for RemembersKeys<'_> {
    fn update_mode(&self) -> UpdateMode {
        UpdateMode::RelativeKeyed
    }
    fn apply_deltas(&self, d: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        let mut sent = self.sent.lock().unwrap();
        let fresh: Vec<DeltaSend> = d
            .iter()
            .filter(|d| sent.insert(d.key.clone()))
            .cloned()
            .collect();
        self.cart.apply_deltas(&fresh)?;
        Ok(d.iter()
            .map(|_| SendOutcome::Applied { qoh: None })
            .collect())
    }
    fn set_quantities(&self, s: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
        self.cart.set_quantities(s)
    }
    fn fetch_quantities(&self, c: Option<&str>, l: u32) -> Result<QuantityPage, CartError> {
        self.cart.fetch_quantities(c, l)
    }
}

#[test]
fn keys_remembered_by_the_adapter_not_the_cart_fail_the_check_across_adapters() {
    let cart = Memory::new(Flaw::ForgetsKeys);
    let adapter = |cart| RemembersKeys {
        cart,
        sent: Mutex::default(),
    };
    let (first, second) = (adapter(&cart), adapter(&cart));
    let one = check(&first, &cart, &options());
    assert_eq!(
        one.verdict(names::RESENT_KEY),
        Some(&Verdict::Passed),
        "{one}"
    );
    let across = check_keys_across_adapters(&first, &second, &cart, &options());
    match across.verdict(names::KEYS_ACROSS) {
        Some(Verdict::Failed(why)) => assert!(why.contains("not the adapter"), "{why}"),
        other => panic!("{other:?}"),
    }
    let keeps = Memory::new(Flaw::None);
    let report = check_keys_across_adapters(&keeps, &keeps, &keeps, &options());
    assert!(report.passed(), "{report}");
}

#[test]
fn the_built_in_keyed_adapters_deduplicate_across_instances() {
    let http = loopback(Mode::HttpJson, SECRET);
    let shopify = loopback(Mode::Shopify, SECRET);
    let http_json =
        || HttpJsonAdapter::new(&http.0.url(), Some(Secret::new(SECRET)), TIMEOUT).unwrap();
    let shop =
        || ShopifyAdapter::new(&shopify.0.url(), Secret::new(SECRET), "1", None, TIMEOUT).unwrap();
    let report = check_keys_across_adapters(&http_json(), &http_json(), &http, &options());
    assert_eq!(
        report.verdict(names::KEYS_ACROSS),
        Some(&Verdict::Passed),
        "{report}"
    );
    let report = check_keys_across_adapters(&shop(), &shop(), &shopify, &options());
    assert_eq!(
        report.verdict(names::KEYS_ACROSS),
        Some(&Verdict::Passed),
        "{report}"
    );
}

/// A rule the [`Memory`] cart breaks.
#[derive(Clone, Copy, PartialEq)]
enum Flaw {
    None,
    /// Answers a different mode on every call after the first.
    ModeChanges,
    /// Answers its outcomes in reverse order.
    Reversed,
    /// Refuses a whole call naming a SKU it lacks.
    RejectsCallForUnknown,
    /// Fails an unknown SKU without saying which.
    UnnamedFailure,
    /// Applies a re-sent key again.
    ForgetsKeys,
    /// De-duplicates by SKU and delta instead of by key.
    DedupesByContent,
    /// Sets whatever the count it finds.
    IgnoresExpected,
    /// Makes the product a set names when it lacks it.
    SetCreates,
    /// Makes the product a delta names when it lacks it.
    DeltaCreates,
    /// Lists the last item of each page again at the top of the next.
    RepeatsAcrossPages,
    /// Answers the same cursor forever.
    CursorLoops,
    /// Quotes its token in a failure.
    QuotesToken,
    /// Answers one outcome too few.
    ShortAnswer,
    /// Lists each count as it was before the last delta, declaring no read lag.
    ReadsTrail,
    /// Declares a read lag of two hours.
    HugeLag,
}

/// A keyed cart in memory, with a flaw.
struct Memory {
    flaw: Flaw,
    counts: Mutex<BTreeMap<String, i64>>,
    /// The last delta applied to each SKU since it was put.
    last: Mutex<BTreeMap<String, i64>>,
    keys: Mutex<HashSet<String>>,
    modes: Mutex<usize>,
}

impl Memory {
    fn new(flaw: Flaw) -> Memory {
        Memory {
            flaw,
            counts: Mutex::new(BTreeMap::new()),
            last: Mutex::new(BTreeMap::new()),
            keys: Mutex::new(HashSet::new()),
            modes: Mutex::new(0),
        }
    }

    fn unknown(&self, sku: &str) -> SendOutcome {
        SendOutcome::Failed {
            message: match self.flaw {
                Flaw::UnnamedFailure => "no such product".into(),
                Flaw::QuotesToken => format!("no product {sku} for token {SECRET}"),
                _ => format!("no product {sku}"),
            },
        }
    }

    fn answer(&self, mut outcomes: Vec<SendOutcome>) -> Result<Vec<SendOutcome>, CartError> {
        if self.flaw == Flaw::Reversed {
            outcomes.reverse();
        }
        if self.flaw == Flaw::ShortAnswer && outcomes.len() > 1 {
            outcomes.pop();
        }
        Ok(outcomes)
    }
}

impl CartAdapter for Memory {
    fn read_lag(&self) -> Duration {
        match self.flaw {
            Flaw::HugeLag => Duration::from_secs(7200),
            _ => Duration::ZERO,
        }
    }

    fn update_mode(&self) -> UpdateMode {
        let mut n = self.modes.lock().unwrap();
        *n += 1;
        match (self.flaw, *n) {
            (Flaw::ModeChanges, 2..) => UpdateMode::Absolute,
            _ => UpdateMode::RelativeKeyed,
        }
    }

    fn apply_deltas(&self, deltas: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        let mut counts = self.counts.lock().unwrap();
        if self.flaw == Flaw::RejectsCallForUnknown
            && deltas.iter().any(|d| !counts.contains_key(&d.sku))
        {
            return Err(CartError::Rejected("unknown product in request".into()));
        }
        let mut keys = self.keys.lock().unwrap();
        let outcomes = deltas
            .iter()
            .map(|d| {
                if self.flaw == Flaw::DeltaCreates {
                    counts.entry(d.sku.clone()).or_insert(0);
                }
                let Some(q) = counts.get_mut(&d.sku) else {
                    return self.unknown(&d.sku);
                };
                let seen = match self.flaw {
                    Flaw::DedupesByContent => !keys.insert(format!("{}/{}", d.sku, d.delta)),
                    Flaw::ForgetsKeys => false,
                    _ => !keys.insert(d.key.clone()),
                };
                if !seen {
                    *q += d.delta;
                    self.last.lock().unwrap().insert(d.sku.clone(), d.delta);
                }
                SendOutcome::Applied { qoh: Some(*q) }
            })
            .collect();
        self.answer(outcomes)
    }

    fn set_quantities(&self, sets: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
        let mut counts = self.counts.lock().unwrap();
        let outcomes = sets
            .iter()
            .map(|s| match counts.get_mut(&s.sku) {
                None if self.flaw == Flaw::SetCreates => {
                    counts.insert(s.sku.clone(), s.qoh);
                    SendOutcome::Applied { qoh: Some(s.qoh) }
                }
                None => self.unknown(&s.sku),
                Some(q)
                    if self.flaw != Flaw::IgnoresExpected
                        && s.expected.is_some_and(|e| e != *q) =>
                {
                    SendOutcome::Conflict { current: *q }
                }
                Some(q) => {
                    *q = s.qoh;
                    SendOutcome::Applied { qoh: Some(s.qoh) }
                }
            })
            .collect();
        self.answer(outcomes)
    }

    fn fetch_quantities(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<QuantityPage, CartError> {
        let counts = self.counts.lock().unwrap();
        let last = self.last.lock().unwrap();
        let trail = |sku: &str| match self.flaw {
            Flaw::ReadsTrail => last.get(sku).copied().unwrap_or(0),
            _ => 0,
        };
        let all: Vec<(String, i64)> = counts
            .iter()
            .map(|(k, v)| (k.clone(), *v - trail(k)))
            .collect();
        let from: usize = cursor.map_or(0, |c| c.parse().unwrap());
        let start = match self.flaw {
            Flaw::RepeatsAcrossPages if from > 0 => from - 1,
            _ => from,
        };
        let end = (from + limit as usize).min(all.len());
        let next = match self.flaw {
            Flaw::CursorLoops => Some("1".to_owned()),
            _ => (end < all.len()).then(|| end.to_string()),
        };
        Ok(QuantityPage {
            items: all[start..end].to_vec(),
            next_cursor: next,
        })
    }
}

impl TestCart for Memory {
    fn put(&self, sku: &str, count: i64) -> Result<(), String> {
        self.counts.lock().unwrap().insert(sku.into(), count);
        self.last.lock().unwrap().remove(sku);
        Ok(())
    }
    fn count(&self, sku: &str) -> Result<Option<i64>, String> {
        Ok(self.counts.lock().unwrap().get(sku).copied())
    }
}

/// The checks `flaw` fails.
fn failed_by(flaw: Flaw) -> Vec<&'static str> {
    let cart = Memory::new(flaw);
    let report = check(&cart, &cart, &options());
    report.failed().map(|c| c.name).collect()
}

#[test]
fn a_cart_keeping_the_contract_passes_every_check() {
    let cart = Memory::new(Flaw::None);
    let report = check(&cart, &cart, &options());
    assert!(report.passed(), "{report}");
    assert!(
        report.checks.iter().all(|c| c.verdict == Verdict::Passed),
        "{report}"
    );
    assert!(
        report.to_string().ends_with("0 of 11 checks failed"),
        "{report}"
    );
}

#[test]
fn each_broken_rule_fails_its_own_check() {
    use names::*;
    let cases = [
        (Flaw::ModeChanges, vec![STABLE_MODE]),
        (Flaw::RejectsCallForUnknown, vec![UNKNOWN_DELTA]),
        (Flaw::UnnamedFailure, vec![UNKNOWN_DELTA, UNKNOWN_SET]),
        (Flaw::ForgetsKeys, vec![RESENT_KEY]),
        // Its read-lag check's sale repeats an earlier one: deduplicated, it never shows.
        (Flaw::DedupesByContent, vec![TWO_KEYS, READ_LAG]),
        (Flaw::IgnoresExpected, vec![EXPECTED]),
        (Flaw::SetCreates, vec![UNKNOWN_SET]),
        (Flaw::DeltaCreates, vec![UNKNOWN_DELTA, UNKNOWN_SET]),
        (Flaw::RepeatsAcrossPages, vec![LISTING]),
        (Flaw::CursorLoops, vec![LISTING, READ_LAG]),
        (Flaw::QuotesToken, vec![SECRETS]),
        (Flaw::ReadsTrail, vec![READ_LAG]),
        (Flaw::HugeLag, vec![READ_LAG]),
    ];
    for (flaw, expected) in cases {
        assert_eq!(failed_by(flaw), expected);
    }
}

/// A delta that made the product the cart lacked is named as the adapter's doing, and the
/// check of a count for it does not blame the integrator's choice of SKUs.
#[test]
fn a_product_made_by_a_delta_is_blamed_on_the_adapter() {
    let cart = Memory::new(Flaw::DeltaCreates);
    let report = check(&cart, &cart, &options()).to_string();
    assert!(
        report.contains("a delta for a SKU the cart lacked put it on the cart"),
        "{report}"
    );
    assert!(report.contains("was put on it by a delta"), "{report}");
    assert!(!report.contains("choose another sku_prefix"), "{report}");
}

#[test]
fn outcomes_out_of_order_or_short_fail_the_calls_that_answer_them() {
    let reversed = failed_by(Flaw::Reversed);
    assert!(reversed.contains(&names::UNKNOWN_DELTA), "{reversed:?}");
    let short = failed_by(Flaw::ShortAnswer);
    assert!(
        short.contains(&names::DELTAS) && short.contains(&names::SETS),
        "{short:?}"
    );
    let cart = Memory::new(Flaw::ShortAnswer);
    let report = check(&cart, &cart, &options());
    assert!(
        report
            .to_string()
            .contains("answered 1 outcomes for 2 items"),
        "{report}"
    );
}

/// A cart whose products the test cart cannot make: the check works on the SKUs given.
#[test]
fn the_check_runs_on_skus_the_cart_already_lists() {
    let cart = Memory::new(Flaw::None);
    for sku in ["TEE-S", "TEE-M", "TEE-L"] {
        cart.put(sku, 1).unwrap();
    }
    let opts = CheckOptions {
        skus: vec!["TEE-S".into(), "TEE-M".into(), "TEE-L".into()],
        page_limit: 2,
        ..options()
    };
    let report = check(&cart, &cart, &opts);
    assert!(report.passed(), "{report}");
    let listed: Vec<String> = cart.counts.lock().unwrap().keys().cloned().collect();
    assert_eq!(
        listed,
        ["TEE-L", "TEE-M", "TEE-S"],
        "no SKU of its own made"
    );
}

#[test]
fn a_panic_fails_the_check_it_happened_in_and_the_rest_still_run() {
    struct Panics(Memory);
    impl CartAdapter for Panics {
        fn update_mode(&self) -> UpdateMode {
            UpdateMode::RelativeKeyed
        }
        fn apply_deltas(&self, d: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
            self.0.apply_deltas(d)
        }
        fn set_quantities(&self, _: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
            panic!("set_quantities is not written yet")
        }
        fn fetch_quantities(&self, c: Option<&str>, l: u32) -> Result<QuantityPage, CartError> {
            self.0.fetch_quantities(c, l)
        }
    }
    let cart = Panics(Memory::new(Flaw::None));
    let report = check(&cart, &cart.0, &options());
    let failed: Vec<_> = report.failed().map(|c| c.name).collect();
    assert_eq!(
        failed,
        [names::SETS, names::EXPECTED, names::UNKNOWN_SET],
        "{report}"
    );
    assert!(report
        .to_string()
        .contains("set_quantities is not written yet"));
    assert_eq!(report.verdict(names::LISTING), Some(&Verdict::Passed));
}
