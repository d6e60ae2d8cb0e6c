//! The conformance kit's checks of a failing cart (`conformance::check_faults`), run on the
//! loopback emulator as the test cart that fails on purpose: an adapter that answers a cart
//! failing as the contract says passes them, and one that answers `Unavailable` after a
//! partial write (the integrator's adapter that doubled a sale) fails that check and no other.

use inventory_sync::adapter::conformance::{
    check, check_faults, names, CheckOptions, TestCart, Verdict,
};
use inventory_sync::adapter::http_json::HttpJsonAdapter;
use inventory_sync::emulator::Emulator;
use inventory_sync::{
    CartAdapter, CartError, DeltaSend, QuantityPage, QuantitySet, SendOutcome, UpdateMode,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How a [`PerItem`] adapter answers a cart failing.
#[derive(Clone, Copy, PartialEq)]
enum Slip {
    /// As the contract says.
    None,
    /// A later request's error answered for the whole call, the earlier ones applied.
    WholeCallError,
    /// A lost answer (`Ambiguous`) answered `Unavailable`.
    LostAsUnavailable,
}

/// An adapter over the `http_json` cart that sends each item of a call as a request of its
/// own, as adapters of carts without batch writes do. Without keys, it sends every request
/// under a fresh key, so that the cart de-duplicates nothing (a cart without keys).
struct PerItem {
    inner: HttpJsonAdapter,
    keyed: bool,
    slip: Slip,
    sends: AtomicU64,
}

impl PerItem {
    fn new(cart: &Emulator, keyed: bool, slip: Slip) -> PerItem {
        PerItem {
            inner: HttpJsonAdapter::new(&cart.url(), None, Duration::from_secs(5)).unwrap(),
            keyed,
            slip,
            sends: AtomicU64::new(0),
        }
    }

    fn key(&self, key: &str) -> String {
        match self.keyed {
            true => key.to_owned(),
            false => format!("{key}-{}", self.sends.fetch_add(1, Ordering::SeqCst)),
        }
    }

    /// Sends `items` one request each through `send`, answering per item once one applied.
    fn each<T>(
        &self,
        items: &[T],
        send: impl Fn(&T) -> Result<Vec<SendOutcome>, CartError>,
    ) -> Result<Vec<SendOutcome>, CartError> {
        let mut outcomes = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let error = match send(item) {
                Ok(mut o) if o.len() == 1 => {
                    outcomes.push(o.remove(0));
                    continue;
                }
                Ok(_) => CartError::Ambiguous("not one outcome".into()),
                Err(CartError::Ambiguous(m)) if self.slip == Slip::LostAsUnavailable => {
                    CartError::Unavailable(m)
                }
                Err(e) => e,
            };
            if i == 0 || self.slip == Slip::WholeCallError {
                return Err(error);
            }
            // The earlier requests were applied: say so, and what became of the rest.
            let message = error.message();
            outcomes.push(match error {
                CartError::Ambiguous(_) => SendOutcome::Uncertain {
                    message: message.clone(),
                },
                CartError::Rejected(_) => SendOutcome::Failed {
                    message: message.clone(),
                },
                _ => SendOutcome::Retry {
                    message: message.clone(),
                    after: None,
                },
            });
            while outcomes.len() < items.len() {
                outcomes.push(SendOutcome::Retry {
                    message: format!("not sent: {message}"),
                    after: None,
                });
            }
            return Ok(outcomes);
        }
        Ok(outcomes)
    }
}

impl CartAdapter for PerItem {
    fn update_mode(&self) -> UpdateMode {
        match self.keyed {
            true => UpdateMode::RelativeKeyed,
            false => UpdateMode::RelativeUnkeyed,
        }
    }
    fn apply_deltas(&self, deltas: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        self.each(deltas, |d| {
            let d = DeltaSend {
                key: self.key(&d.key),
                ..d.clone()
            };
            self.inner.apply_deltas(&[d])
        })
    }
    fn set_quantities(&self, sets: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
        self.each(sets, |s| self.inner.set_quantities(std::slice::from_ref(s)))
    }
    fn fetch_quantities(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<QuantityPage, CartError> {
        self.inner.fetch_quantities(cursor, limit)
    }
}

/// The emulator as a test cart that cannot fail on purpose (the trait's defaults).
struct Steady(Emulator);

impl TestCart for Steady {
    fn put(&self, sku: &str, count: i64) -> Result<(), String> {
        self.0.set_qoh(sku, count);
        Ok(())
    }
    fn count(&self, sku: &str) -> Result<Option<i64>, String> {
        Ok(self.0.qoh(sku))
    }
}

fn verdict(
    report: &inventory_sync::adapter::conformance::ConformanceReport,
    name: &str,
) -> Verdict {
    report
        .verdict(name)
        .unwrap_or_else(|| panic!("{name} did not run:\n{report}"))
        .clone()
}

/// An adapter answering a failing cart as the contract says passes both checks, keyed or
/// not, as well as every check of a cart that answers: the owner can trust a pass.
#[test]
fn an_adapter_answering_a_failing_cart_rightly_passes() {
    for keyed in [true, false] {
        let cart = Emulator::start().unwrap();
        let adapter = PerItem::new(&cart, keyed, Slip::None);
        let options = CheckOptions::default();
        let answering = check(&adapter, &cart, &options);
        assert!(answering.passed(), "keyed {keyed}:\n{answering}");
        let faults = check_faults(&adapter, &cart, &options);
        assert!(faults.passed(), "keyed {keyed}:\n{faults}");
        for name in [names::LOST_ANSWER, names::PART_FAILED] {
            assert_eq!(
                verdict(&faults, name),
                Verdict::Passed,
                "keyed {keyed}:\n{faults}"
            );
        }
        assert!(cart.pending_faults().is_empty(), "a fault was left armed");
    }
}

/// The integrator's adapter: it answers `Unavailable` for the whole call after the cart
/// applied the call's first request. Every check of a cart that answers passes it; the check
/// of a call failing part-way fails it, naming the answer, and no other check does. Keys do
/// not save it: Send QOH's counts go again on top of the waiting changes.
#[test]
fn unavailable_after_a_partial_write_fails_that_check_and_no_other() {
    for keyed in [true, false] {
        let cart = Emulator::start().unwrap();
        let adapter = PerItem::new(&cart, keyed, Slip::WholeCallError);
        let options = CheckOptions::default();
        let answering = check(&adapter, &cart, &options);
        assert!(answering.passed(), "keyed {keyed}:\n{answering}");
        let faults = check_faults(&adapter, &cart, &options);
        let failed: Vec<_> = faults.failed().map(|c| c.name).collect();
        assert_eq!(failed, [names::PART_FAILED], "keyed {keyed}:\n{faults}");
        match verdict(&faults, names::PART_FAILED) {
            Verdict::Failed(why) => assert!(
                why.contains("Unavailable") && why.contains("INVSYNC-CONFORMANCE-1"),
                "{why}"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            verdict(&faults, names::LOST_ANSWER),
            Verdict::Passed,
            "{faults}"
        );
        assert!(cart.pending_faults().is_empty(), "a fault was left armed");
    }
}

/// A lost answer called `Unavailable` doubles a sale on a cart without keys (the library
/// sends it again), and fails the check of a lost answer, naming what the cart counts; on a
/// keyed cart the re-send is de-duplicated and the check passes: it judges by the mode.
#[test]
fn a_lost_answer_called_unavailable_fails_on_a_cart_without_keys_only() {
    let cart = Emulator::start().unwrap();
    let adapter = PerItem::new(&cart, false, Slip::LostAsUnavailable);
    let faults = check_faults(&adapter, &cart, &CheckOptions::default());
    let failed: Vec<_> = faults.failed().map(|c| c.name).collect();
    assert_eq!(failed, [names::LOST_ANSWER], "{faults}");
    match verdict(&faults, names::LOST_ANSWER) {
        Verdict::Failed(why) => assert!(
            why.contains("Unavailable") && why.contains("counts 6 on the cart, not 8"),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }

    let cart = Emulator::start().unwrap();
    let keyed = PerItem::new(&cart, true, Slip::LostAsUnavailable);
    let faults = check_faults(&keyed, &cart, &CheckOptions::default());
    assert_eq!(
        verdict(&faults, names::LOST_ANSWER),
        Verdict::Passed,
        "{faults}"
    );
}

/// The built-in `http_json` adapter writes a call in one request: a lost answer is
/// `Ambiguous` (passed), and no call of it can fail part-way (not applicable, not a pass
/// claimed for what was not seen).
#[test]
fn the_builtin_adapter_passes_and_a_single_request_is_not_judged() {
    let cart = Emulator::start().unwrap();
    let adapter = HttpJsonAdapter::new(&cart.url(), None, Duration::from_secs(5)).unwrap();
    let faults = check_faults(&adapter, &cart, &CheckOptions::default());
    assert_eq!(
        verdict(&faults, names::LOST_ANSWER),
        Verdict::Passed,
        "{faults}"
    );
    assert!(
        matches!(
            verdict(&faults, names::PART_FAILED),
            Verdict::NotApplicable(_)
        ),
        "{faults}"
    );
    assert!(cart.pending_faults().is_empty(), "a fault was left armed");
}

/// A test cart written before the fault hook (no `inject`) still compiles and runs the
/// checks: both are not applicable, and the report does not fail for it.
#[test]
fn a_test_cart_that_cannot_fail_has_the_checks_not_applicable() {
    let cart = Steady(Emulator::start().unwrap());
    let adapter = PerItem::new(&cart.0, false, Slip::WholeCallError);
    let faults = check_faults(&adapter, &cart, &CheckOptions::default());
    assert!(faults.passed(), "{faults}");
    for name in [names::LOST_ANSWER, names::PART_FAILED] {
        assert!(
            matches!(verdict(&faults, name), Verdict::NotApplicable(_)),
            "{faults}"
        );
    }
}

/// The built-in adapters, each against its loopback cart failing on purpose, answer as the
/// contract says: the owner's own stores rely on the same answers the kit asks of others.
#[test]
fn the_builtin_adapters_answer_a_failing_loopback_cart_rightly() {
    use inventory_sync::adapter::bigcommerce::BigCommerceAdapter;
    use inventory_sync::adapter::shopify::ShopifyAdapter;
    use inventory_sync::adapter::woocommerce::WooCommerceAdapter;
    use inventory_sync::emulator::Mode;
    use inventory_sync::secret::Secret;
    const T: Duration = Duration::from_secs(5);
    let carts: Vec<(&str, Emulator)> = vec![
        ("shopify", Emulator::start_mode(Mode::Shopify).unwrap()),
        (
            "woocommerce",
            Emulator::start_mode(Mode::WooCommerce).unwrap(),
        ),
        (
            "bigcommerce",
            Emulator::start_mode(Mode::BigCommerce).unwrap(),
        ),
    ];
    for (name, cart) in &carts {
        let adapter: Box<dyn CartAdapter> = match *name {
            "shopify" => {
                cart.set_token(Some("tok"));
                Box::new(
                    ShopifyAdapter::new(&cart.url(), Secret::new("tok"), "1", None, T).unwrap(),
                )
            }
            "woocommerce" => {
                cart.set_token(Some("ck_test:cs"));
                Box::new(
                    WooCommerceAdapter::new(&cart.url(), "ck_test", Secret::new("cs"), T).unwrap(),
                )
            }
            _ => {
                cart.set_token(Some("tok"));
                Box::new(
                    BigCommerceAdapter::new(
                        &format!("{}stores/abc123/", cart.url()),
                        Secret::new("tok"),
                        1,
                        T,
                    )
                    .unwrap()
                    .with_read_lag(Duration::ZERO),
                )
            }
        };
        let faults = check_faults(adapter.as_ref(), cart, &CheckOptions::default());
        println!("{name}:\n{faults}");
        assert!(faults.passed(), "{name}:\n{faults}");
        assert!(
            cart.pending_faults().is_empty(),
            "{name}: a fault was left armed"
        );
    }
}

/// Options naming one SKU are refused by the fault checks as by `check`, before anything is
/// sent: the second item would be one the integrator did not name, which their test cart may
/// not hold (until 2026-12-04 the fault checks made up `<prefix>-2` and wrote to it).
#[test]
fn the_fault_checks_refuse_options_naming_one_sku_as_check_does() {
    let cart = Emulator::start().unwrap();
    let adapter = PerItem::new(&cart, true, Slip::None);
    let options = CheckOptions {
        skus: vec!["MUG".into()],
        ..CheckOptions::default()
    };
    for report in [
        check(&adapter, &cart, &options),
        check_faults(&adapter, &cart, &options),
    ] {
        let failed: Vec<_> = report.failed().map(|c| c.name).collect();
        assert_eq!(failed, ["options"], "{report}");
        assert!(report.to_string().contains("needs 2 or more"), "{report}");
    }
    assert_eq!(cart.adjust_requests(), 0, "nothing was sent");
    assert_eq!(cart.set_requests(), 0, "nothing was set");
}
