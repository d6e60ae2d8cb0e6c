//! A conformance check for a [`CartAdapter`], for integrators: run [`check`] against a test
//! cart you control (a development store, a sandbox, a stand-in of the cart's API) before
//! registering the adapter on a live store.
//!
//! The library copes with an adapter that slips (a short answer is read as a lost answer, a
//! panic is caught), but it copes by holding changes back or leaving them for an operator:
//! the shop then shows counts the order manager does not. Each check here is one rule of
//! [the contract](super) that the library cannot check for itself, as a store owner would
//! notice its breach:
//!
//! | check | a breach means |
//! |---|---|
//! | `update mode is stable` | the library handles a lost answer by a mode the adapter no longer has |
//! | `deltas apply once each, in order` | outcomes matched to the wrong items; a sale on the wrong product |
//! | `an unknown SKU fails alone, by name` | a whole batch bypassed for one SKU the cart lacks, or an operator not told which; a sale of the store's `tee-m` taken off the cart's `TEE-M` (SKUs are matched exactly: a SKU differing from one of the cart's only in case is another one, from 2026-12-05) |
//! | `a re-sent key applies once` (keyed carts) | a sale whose answer was lost taken twice |
//! | `two changes alike under two keys both apply` | the second of two equal sales lost |
//! | `counts are set as sent` | Send QOH publishing other counts than the order manager's |
//! | `a set finding another count writes nothing` | a drift repair overwriting a sale the cart made meanwhile |
//! | `an unknown SKU's count fails by name and creates nothing` | Send QOH putting products on the cart; or setting `TEE-M`'s count and then `tee-m`'s on the one product, the last one winning (a server looking SKUs up under a collation that ignores case, as MySQL's default does) |
//! | `the listing gives each item once, with its count` | Get QOH moving counts by what it read twice or never |
//! | `reads show a change within the declared read lag` | Get QOH taking a count from before a sale sent there for a return there, and giving the sold unit back ([`CartAdapter::read_lag`]) |
//! | `refused credentials pause the cart, quoted nowhere` ([`check_refused_credentials`], on an adapter given credentials the cart refuses) | a revoked token bypassing every change of a batch (`Rejected`), or spending their attempts as an outage (`Unavailable`), where the library pauses the cart with its changes waiting |
//! | `credentials stay out` | a token in a message the library cannot scrub (it scrubs the cart's settings it knows to be credentials) |
//!
//! The check works on SKUs of its own (`options.sku_prefix` and a number), which it puts on
//! the cart through [`TestCart`], never through the adapter, and reads back the same way to
//! judge what the adapter did. Point it at a cart where those SKUs sell nothing: it changes
//! their counts. `<prefix>-ABSENT` must not be on the cart: after a run whose adapter put it
//! there (which that run reports), delete it or choose another prefix.
//!
//! [`check_keys_across_adapters`] checks a keyed cart's de-duplication through two adapter
//! instances, as the library uses them: a change whose answer was lost goes again through
//! another instance (the next pass's, another workstation's, the process's after a crash),
//! so keys remembered by the adapter instead of the cart de-duplicate nothing.
//!
//! [`check_faults`] checks the answers to a cart failing, with a test cart that fails on
//! purpose ([`TestCart::inject`], whose default says it cannot; the `emulator` feature's
//! loopback cart can): a write whose answer the cart lost must not be answered as "not
//! applied" ([`CartError::Unavailable`], [`SendOutcome::Retry`]) unless the cart
//! de-duplicates keys, or the library sends it again on top of itself; and a call whose
//! second request the cart failed must answer `Ok`, per item, rather than the failed
//! request's error for the whole call (the library then sends the applied changes again). An
//! adapter that passes [`check`] can still do either, and double a sale. What it cannot make
//! (a refused request, a 502 from a gateway, a malformed body) is for the adapter's own
//! tests, against a stand-in that fails on purpose: the table in [the contract](super) says
//! what each must answer.
//!
//! ```
//! use inventory_sync::adapter::conformance::{check, CheckOptions, TestCart};
//! use inventory_sync::adapter::http_json::HttpJsonAdapter;
//! use inventory_sync::emulator::Emulator;
//!
//! /// The loopback `http_json` cart, driven from outside the adapter.
//! struct Loopback(Emulator);
//!
//! impl TestCart for Loopback {
//!     fn put(&self, sku: &str, count: i64) -> Result<(), String> {
//!         self.0.set_qoh(sku, count);
//!         Ok(())
//!     }
//!     fn count(&self, sku: &str) -> Result<Option<i64>, String> {
//!         Ok(self.0.qoh(sku))
//!     }
//! }
//!
//! let cart = Loopback(Emulator::start().unwrap());
//! let adapter =
//!     HttpJsonAdapter::new(&cart.0.url(), None, std::time::Duration::from_secs(5)).unwrap();
//! let report = check(&adapter, &cart, &CheckOptions::default());
//! assert!(report.passed(), "{report}");
//! ```

use super::{CartAdapter, CartError, DeltaSend, QuantitySet, SendOutcome, UpdateMode};
use std::collections::HashMap;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

/// The test cart as the check sees it from outside the adapter: your sandbox's admin API, a
/// database of the stand-in, whatever sets and reads a count without the adapter under test.
pub trait TestCart {
    /// Lists `sku` on the cart with `count` available (making the product if needed).
    fn put(&self, sku: &str, count: i64) -> Result<(), String>;
    /// The count the cart offers for `sku`; `None` when it does not list it.
    fn count(&self, sku: &str) -> Result<Option<i64>, String>;
    /// Arms `fault` for the adapter's next requests, for [`check_faults`]: `Ok(true)` once
    /// armed, `Ok(false)` from a cart that cannot make it (the default: those checks are then
    /// reported not applicable, and [`check`] never asks). [`CartFault`] may gain faults:
    /// answer `Ok(false)` for one you do not know.
    fn inject(&self, fault: CartFault) -> Result<bool, String> {
        let _ = fault;
        Ok(false)
    }
    /// Disarms what [`TestCart::inject`] armed and no request met (an adapter that wrote a
    /// call in one request leaves a fault meant for its second). The default does nothing.
    fn clear_faults(&self) -> Result<(), String> {
        Ok(())
    }
}

/// A failure a test cart makes on purpose for [`check_faults`] ([`TestCart::inject`]): what
/// a real cart does to an adapter on a bad day, and costs the most when answered wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CartFault {
    /// Apply the next request that changes counts, then lose its answer: close the
    /// connection without one, as a time-out after sending or a proxy dropping it does.
    /// Requests that only read, before it, pass untouched.
    ApplyThenLoseAnswer,
    /// Answer the next request that changes counts as usual, then fail the request after it
    /// as a cart that is down does (a 503 naming no wait), applying nothing of it: a call the
    /// adapter sends as several requests, failing part-way.
    FailAfterFirstWrite,
}

/// What [`check`] works with.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// The start of every SKU the check puts on the cart (`<prefix>-1` to `<prefix>-9`)
    /// or names as one the cart lacks (`<prefix>-ABSENT`): choose one no product of the cart
    /// has.
    pub sku_prefix: String,
    /// SKUs the cart lists already, to use instead of `<prefix>-1` to `<prefix>-9`, for a
    /// test cart whose [`TestCart::put`] sets a count but cannot make a product: at least 2
    /// (the listing check lists them all). Their counts are changed.
    pub skus: Vec<String>,
    /// The credentials the adapter was built with: none may appear in any message it
    /// answers.
    pub secrets: Vec<String>,
    /// The `limit` the listing check asks pages of: below the items it lists, so that the
    /// listing takes more than one page where the adapter heeds it.
    pub page_limit: u32,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            sku_prefix: "INVSYNC-CONFORMANCE".into(),
            skus: Vec::new(),
            secrets: Vec::new(),
            page_limit: 4,
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The adapter kept the rule.
    Passed,
    /// It broke it, or the check could not be made (the test cart failed): why.
    Failed(String),
    /// The rule is not the adapter's (a keyed rule, for a cart without keys): why.
    NotApplicable(String),
}

/// One check: its name (as in the module's table) and verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What it checks.
    pub name: &'static str,
    /// What became of it.
    pub verdict: Verdict,
}

/// Every check's verdict, in the order they ran. `Display` prints one line each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConformanceReport {
    /// The checks.
    pub checks: Vec<Check>,
}

impl ConformanceReport {
    /// Whether no check failed.
    pub fn passed(&self) -> bool {
        self.failed().next().is_none()
    }

    /// The checks that failed.
    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks
            .iter()
            .filter(|c| matches!(c.verdict, Verdict::Failed(_)))
    }

    /// The verdict of the check named `name`, if it ran.
    pub fn verdict(&self, name: &str) -> Option<&Verdict> {
        self.checks
            .iter()
            .find(|c| c.name == name)
            .map(|c| &c.verdict)
    }
}

impl fmt::Display for ConformanceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            match &c.verdict {
                Verdict::Passed => writeln!(f, "ok    {}", c.name)?,
                Verdict::Failed(why) => writeln!(f, "FAIL  {}: {why}", c.name)?,
                Verdict::NotApplicable(why) => writeln!(f, "n/a   {}: {why}", c.name)?,
            }
        }
        let failed = self.failed().count();
        let skipped = self
            .checks
            .iter()
            .filter(|c| matches!(c.verdict, Verdict::NotApplicable(_)))
            .count();
        write!(
            f,
            "{failed} of {} checks failed",
            self.checks.len() - skipped
        )?;
        if skipped > 0 {
            write!(f, " ({skipped} not applicable)")?;
        }
        Ok(())
    }
}

/// Names of the checks, as [`ConformanceReport::verdict`] takes them.
pub mod names {
    /// `update_mode` answers the same every time.
    pub const STABLE_MODE: &str = "update mode is stable";
    /// One `Applied` outcome per delta, in order, each count moved by its delta.
    pub const DELTAS: &str = "deltas apply once each, in order";
    /// A delta to a SKU the cart lacks is `Failed` naming it; the others of the call apply.
    /// So is one to a SKU differing only in case from one the cart has, which it lacks.
    pub const UNKNOWN_DELTA: &str = "an unknown SKU fails alone, by name";
    /// A keyed cart applies a re-sent key once.
    pub const RESENT_KEY: &str = "a re-sent key applies once";
    /// Equal changes under different keys each apply (a cart de-duplicating by content
    /// loses the second of two equal sales).
    pub const TWO_KEYS: &str = "two changes alike under two keys both apply";
    /// `set_quantities` sets each count as sent.
    pub const SETS: &str = "counts are set as sent";
    /// A set whose `expected` count the cart no longer holds is a `Conflict` naming the
    /// count, and writes nothing; one that matches is applied.
    pub const EXPECTED: &str = "a set finding another count writes nothing";
    /// A set to a SKU the cart lacks is `Failed` naming it, and lists nothing new. So is one
    /// to a SKU differing only in case from one the cart has, which it lacks: that one keeps
    /// its own count.
    pub const UNKNOWN_SET: &str = "an unknown SKU's count fails by name and creates nothing";
    /// Paging through `fetch_quantities` ends, with no cursor twice (nor 10,000 empty pages,
    /// or 100 pages of SKUs listed before, in a row, as Get QOH judges it), and lists each
    /// item once with its count.
    pub const LISTING: &str = "the listing gives each item once, with its count";
    /// No credential in any message the adapter answered.
    pub const SECRETS: &str = "credentials stay out";
    /// A delta the adapter applied shows in its listing once its declared read lag (at most
    /// an hour) has passed.
    pub const READ_LAG: &str = "reads show a change within the declared read lag";
    /// A key sent through one adapter instance and again through another applies once.
    pub const KEYS_ACROSS: &str = "a key re-sent through another adapter applies once";
    /// After the cart applied a delta and lost the answer, the adapter's answer, handled as
    /// the library handles it (sent again or not, by its
    /// [`UpdateMode`](super::UpdateMode)), leaves the change applied once.
    pub const LOST_ANSWER: &str =
        "a write whose answer was lost is not sent again on top of itself";
    /// A call of two items whose second request the cart failed answers `Ok`, `Applied` for
    /// the items the cart took and `Retry` for the others (or `Uncertain`, for either), deltas
    /// and counts.
    pub const PART_FAILED: &str = "a call failing part-way answers each item as the cart left it";
    /// Every call of an adapter given credentials the cart refuses answers
    /// [`CartError::Unauthorized`](super::CartError::Unauthorized), quoting none of them.
    pub const REFUSED: &str = "refused credentials pause the cart, quoted nowhere";
}

/// Runs every check of the module's table on `adapter`, judging it by `cart`. Each check
/// sets its own counts first, so one failing does not fail the next; a panic in the adapter
/// fails the check it happened in.
pub fn check(
    adapter: &dyn CartAdapter,
    cart: &dyn TestCart,
    options: &CheckOptions,
) -> ConformanceReport {
    let mut run = Run::new(adapter, cart, options);
    run.declared = catch_unwind(AssertUnwindSafe(|| adapter.read_lag())).unwrap_or_default();
    // One past what the library waits is that check's failure; no other waits it out.
    run.lag = Some(run.declared)
        .filter(|l| *l <= MAX_READ_LAG)
        .unwrap_or_default();
    let mode = catch_unwind(AssertUnwindSafe(|| adapter.update_mode()));
    let mut report = ConformanceReport::default();
    let mut add = |name, verdict| report.checks.push(Check { name, verdict });
    if let Some(refused) = one_sku(options) {
        report.checks.push(refused);
        return report;
    }
    let Ok(mode) = mode else {
        add(
            names::STABLE_MODE,
            Verdict::Failed("update_mode panicked".into()),
        );
        return report;
    };
    add(names::STABLE_MODE, run.judge(|r| r.stable_mode(mode)));
    add(names::DELTAS, run.judge(Run::deltas));
    add(names::UNKNOWN_DELTA, run.judge(Run::unknown_delta));
    let keyed = match mode {
        UpdateMode::RelativeKeyed => None,
        other => Some(Verdict::NotApplicable(format!(
            "the cart is {other:?}: the library never sends it a change again after a lost answer"
        ))),
    };
    add(
        names::RESENT_KEY,
        keyed.unwrap_or_else(|| run.judge(Run::resent_key)),
    );
    add(names::TWO_KEYS, run.judge(Run::two_keys));
    add(names::SETS, run.judge(Run::sets));
    add(names::EXPECTED, run.judge(Run::expected));
    add(names::UNKNOWN_SET, run.judge(Run::unknown_set));
    add(names::LISTING, run.judge(Run::listing));
    add(names::READ_LAG, run.judge(Run::read_lag));
    add(names::SECRETS, run.secrets());
    report
}

/// Runs the check of refused credentials on `refused`: an adapter built as the one given to
/// [`check`] is, but with credentials the test cart refuses (`wrong`: a revoked token, a
/// wrong password). Each kind of call (a delta, a count, a page of the listing) must answer
/// [`CartError::Unauthorized`], whose message quotes none of `wrong`: the library then
/// pauses the cart, its changes waiting, until the owner mends the credentials.
pub fn check_refused_credentials(
    refused: &dyn CartAdapter,
    wrong: &[&str],
    options: &CheckOptions,
) -> ConformanceReport {
    let mut run = Run::new(refused, &NoCart, options);
    let verdict = run.judge(|r| {
        let sku = r.sku(1);
        let delta = [r.delta(&sku, -1)];
        let set = [r.set(&sku, 1, None)];
        let answers = [
            ("apply_deltas", refused.apply_deltas(&delta).map(|_| ())),
            ("set_quantities", refused.set_quantities(&set).map(|_| ())),
            (
                "fetch_quantities",
                refused
                    .fetch_quantities(None, options.page_limit)
                    .map(|_| ()),
            ),
        ];
        for (call, answer) in answers {
            let message = match answer {
                Err(CartError::Unauthorized(m)) => m,
                Ok(()) => {
                    return Err(format!(
                        "{call} with credentials the cart refuses answered Ok: are they wrong?"
                    ))
                }
                Err(e) => {
                    return Err(format!(
                        "{call} with credentials the cart refuses answered {}, not Unauthorized: \
                         {}",
                        error_kind(&e),
                        match e {
                            CartError::Rejected(_) => {
                                "the library bypasses every change of the call for good"
                            }
                            CartError::RateLimited { .. } => {
                                "the library waits as asked and asks again, never telling the \
                                 owner the credentials are refused"
                            }
                            _ =>
                                "the library backs the cart off as down, each try an attempt, \
                                  and bypasses the changes after 10",
                        }
                    ))
                }
            };
            if wrong.iter().any(|w| !w.is_empty() && message.contains(w)) {
                return Err(format!("{call}'s refusal quotes a credential"));
            }
        }
        Ok(())
    });
    ConformanceReport {
        checks: vec![Check {
            name: names::REFUSED,
            verdict,
        }],
    }
}

/// Checks that a keyed cart ([`UpdateMode::RelativeKeyed`]) de-duplicates a change by its
/// key whichever adapter instance sends it: sent through `first`, then again through
/// `second` (built as the library builds one for the next pass, another workstation, or the
/// process after a crash), it applies once. A keyed adapter that keeps the keys it sent in
/// its own memory passes [`check`]'s re-sent key through one instance, and takes a sale
/// twice when an answer is lost. Not applicable to an adapter without keys.
pub fn check_keys_across_adapters(
    first: &dyn CartAdapter,
    second: &dyn CartAdapter,
    cart: &dyn TestCart,
    options: &CheckOptions,
) -> ConformanceReport {
    let mut run = Run::new(first, cart, options);
    let mode = catch_unwind(AssertUnwindSafe(|| first.update_mode()));
    let verdict = match mode {
        Ok(UpdateMode::RelativeKeyed) => {
            run.lag = catch_unwind(AssertUnwindSafe(|| first.read_lag()))
                .unwrap_or_default()
                .min(MAX_READ_LAG);
            run.judge(|r| {
                let a = r.sku(1);
                r.put(&a, 10)?;
                r.settle();
                let sale = r.delta(&a, -2);
                let outcome = r.apply(std::slice::from_ref(&sale))?;
                applied(&outcome[0], "a delta of -2 through the first adapter")?;
                r.adapter = second;
                let again = r.apply(std::slice::from_ref(&sale))?;
                applied(
                    &again[0],
                    "the same delta sent again under its key through the second adapter",
                )?;
                r.expect_count(
                    &a,
                    8,
                    "a delta of -2 to 10 sent through one adapter and again, under its key, \
                     through another (the cart, not the adapter, must remember keys)",
                )
            })
        }
        Ok(other) => Verdict::NotApplicable(format!(
            "the cart is {other:?}: the library never sends it a change again after a lost answer"
        )),
        Err(_) => Verdict::Failed("update_mode panicked".into()),
    };
    ConformanceReport {
        checks: vec![Check {
            name: names::KEYS_ACROSS,
            verdict,
        }],
    }
}

/// Runs the checks of a failing cart on `adapter`, with a test cart that makes faults on
/// purpose ([`TestCart::inject`]; a cart that cannot has them reported not applicable):
///
/// | check | a breach means |
/// |---|---|
/// | `a write whose answer was lost is not sent again on top of itself` | a sale whose answer a cart without keys lost answered `Unavailable` or `Retry` (read as "not applied"), sent again: taken twice |
/// | `a call failing part-way answers each item as the cart left it` | an adapter that writes a call in several requests answering the error of the failed one for the whole call: the library reads every error but `Ambiguous` as nothing applied, sends the applied changes again (twice on a cart without keys) and, in Send QOH, sends the waiting records a count included on top of it |
///
/// The first judges by what the library does: an answer it reads as not applied (an error
/// other than [`CartError::Ambiguous`] or [`CartError::Rejected`], a `Retry`, a `Conflict`)
/// is sent again, as is a lost answer (`Ambiguous`, a short answer) to a
/// [`UpdateMode::RelativeKeyed`] adapter, under the same key; the cart must then count the
/// change once. An answer that bypasses the change (`Failed`, `Rejected`) fails too: the cart
/// has it. The second sends two items, then two counts, and compares each item's outcome
/// with the count the cart holds: one the cart took is `Applied`, one it did not is `Retry`;
/// either may be `Uncertain` (never sent blindly again), as from an adapter whose read
/// confirming a write is the request that failed. An adapter that writes a call in one request leaves the fault unmet: the
/// check is then not applicable.
pub fn check_faults(
    adapter: &dyn CartAdapter,
    cart: &dyn TestCart,
    options: &CheckOptions,
) -> ConformanceReport {
    let mut run = Run::new(adapter, cart, options);
    let mut report = ConformanceReport::default();
    // Refused as `check` refuses it: with one SKU named, the second item would be one the
    // integrator did not name (`<prefix>-2`), which their test cart may not hold.
    if let Some(refused) = one_sku(options) {
        report.checks.push(refused);
        return report;
    }
    let Ok(mode) = catch_unwind(AssertUnwindSafe(|| adapter.update_mode())) else {
        for name in [names::LOST_ANSWER, names::PART_FAILED] {
            report.checks.push(Check {
                name,
                verdict: Verdict::Failed("update_mode panicked".into()),
            });
        }
        return report;
    };
    run.lag = catch_unwind(AssertUnwindSafe(|| adapter.read_lag()))
        .unwrap_or_default()
        .min(MAX_READ_LAG);
    let lost = run.judge_faulted(|r| r.lost_answer(mode));
    let part = run.judge_faulted(Run::part_failed);
    for (name, verdict) in [(names::LOST_ANSWER, lost), (names::PART_FAILED, part)] {
        report.checks.push(Check { name, verdict });
    }
    report
}

/// The refusal of options naming one SKU: the checks send two items or more.
fn one_sku(options: &CheckOptions) -> Option<Check> {
    (options.skus.len() == 1).then(|| Check {
        name: "options",
        verdict: Verdict::Failed(
            "CheckOptions::skus names one SKU; the check needs 2 or more".into(),
        ),
    })
}

/// What the library does with an adapter's answer to one delta the cart applied, and why:
/// whether it sends the change again, whether it bypasses it, and what it read the answer as.
fn library_reading(
    answer: &std::result::Result<Vec<SendOutcome>, CartError>,
    mode: UpdateMode,
) -> (bool, bool, String) {
    let keyed = mode.resends_safely();
    let lost = match keyed {
        true => "a lost answer, sent again under its key",
        false => "a lost answer, left in doubt for an operator",
    };
    match answer {
        Err(CartError::Ambiguous(_)) => (keyed, false, format!("Ambiguous ({lost})")),
        Err(CartError::Rejected(_)) => (
            false,
            true,
            "Rejected (refused, nothing applied: the change is bypassed, though the cart has it)"
                .into(),
        ),
        Err(e) => (
            true,
            false,
            format!("{} (nothing applied: sent again)", error_kind(e)),
        ),
        Ok(o) if o.len() != 1 => (
            keyed,
            false,
            format!("{} outcomes for 1 item ({lost})", o.len()),
        ),
        Ok(o) => match &o[0] {
            SendOutcome::Applied { .. } => (false, false, "Applied".into()),
            SendOutcome::Uncertain { .. } => {
                (false, false, "Uncertain (left for an operator)".into())
            }
            SendOutcome::Failed { .. } => (
                false,
                true,
                "Failed (nothing applied: the change is bypassed, though the cart has it)".into(),
            ),
            other @ (SendOutcome::Retry { .. } | SendOutcome::Conflict { .. }) => (
                true,
                false,
                format!("{other:?} (nothing applied: sent again)"),
            ),
        },
    }
}

/// The variant of `e`, for a verdict (its message may quote what the check must not).
fn error_kind(e: &CartError) -> &'static str {
    match e {
        CartError::Unreachable(_) => "Unreachable",
        CartError::Unavailable(_) => "Unavailable",
        CartError::Ambiguous(_) => "Ambiguous",
        CartError::RateLimited { .. } => "RateLimited",
        CartError::Unauthorized(_) => "Unauthorized",
        CartError::Rejected(_) => "Rejected",
    }
}

/// The test cart of a check that reads none.
struct NoCart;

impl TestCart for NoCart {
    fn put(&self, _: &str, _: i64) -> Result<(), String> {
        Ok(())
    }
    fn count(&self, _: &str) -> Result<Option<i64>, String> {
        Ok(None)
    }
}

/// The longest read lag the library waits out (Get QOH takes a longer one for an hour).
const MAX_READ_LAG: Duration = Duration::from_secs(3600);

/// The items the listing check puts on the cart, unless given theirs.
const LISTED: usize = 9;

struct Run<'a> {
    adapter: &'a dyn CartAdapter,
    cart: &'a dyn TestCart,
    options: &'a CheckOptions,
    /// Every message the adapter answered, for the credentials check.
    said: Vec<String>,
    /// Keys handed out so far.
    keys: u64,
    /// A check put the SKU the cart lacked on it.
    made_absent: bool,
    /// The adapter's [`CartAdapter::read_lag`], as declared.
    declared: Duration,
    /// The read lag waited out before what the check reads shows what it put or wrote: the
    /// one declared, unless longer than the library waits ([`MAX_READ_LAG`]).
    lag: Duration,
}

type Step = std::result::Result<(), String>;

impl<'a> Run<'a> {
    /// A run of checks on `adapter`, judged by `cart`, waiting out no read lag until told.
    fn new(
        adapter: &'a dyn CartAdapter,
        cart: &'a dyn TestCart,
        options: &'a CheckOptions,
    ) -> Self {
        Run {
            adapter,
            cart,
            options,
            said: Vec::new(),
            keys: 0,
            made_absent: false,
            declared: Duration::ZERO,
            lag: Duration::ZERO,
        }
    }

    /// A check's verdict; a panic in it (the adapter's) fails it.
    fn judge(&mut self, f: impl FnOnce(&mut Self) -> Step) -> Verdict {
        match catch_unwind(AssertUnwindSafe(|| f(self))) {
            Ok(Ok(())) => Verdict::Passed,
            Ok(Err(why)) => Verdict::Failed(why),
            Err(p) => Verdict::Failed(format!("the adapter panicked: {}", panic_text(&p))),
        }
    }

    /// A check that arms a fault: `Ok(Some(why))` is not applicable; whatever it armed is
    /// disarmed after it, however it ended.
    fn judge_faulted(
        &mut self,
        f: impl FnOnce(&mut Self) -> std::result::Result<Option<String>, String>,
    ) -> Verdict {
        let mut not_applicable = None;
        let verdict = self.judge(|r| {
            not_applicable = f(r)?;
            Ok(())
        });
        let cleared = self.cart.clear_faults();
        match (verdict, not_applicable, cleared) {
            (Verdict::Passed, _, Err(e)) => {
                Verdict::Failed(format!("the test cart could not clear its faults: {e}"))
            }
            (Verdict::Passed, Some(why), _) => Verdict::NotApplicable(why),
            (verdict, _, _) => verdict,
        }
    }

    /// Arms `fault` on the test cart: `false` when it cannot make it.
    fn arm(&self, fault: CartFault) -> std::result::Result<bool, String> {
        self.cart
            .inject(fault)
            .map_err(|e| format!("the test cart could not arm {fault:?}: {e}"))
    }

    fn disarm(&self) -> Step {
        self.cart
            .clear_faults()
            .map_err(|e| format!("the test cart could not clear its faults: {e}"))
    }

    fn lost_answer(&mut self, mode: UpdateMode) -> std::result::Result<Option<String>, String> {
        let a = self.sku(1);
        self.put(&a, 10)?;
        self.settle();
        let sale = self.delta(&a, -2);
        if !self.arm(CartFault::ApplyThenLoseAnswer)? {
            return Ok(Some(
                "the test cart cannot lose an answer (TestCart::inject)".into(),
            ));
        }
        let answer = self.adapter.apply_deltas(std::slice::from_ref(&sale));
        self.heard(&answer);
        self.disarm()?;
        self.expect_count(
            &a,
            8,
            "the test cart applied a delta of -2 to 10 and lost the answer (if not, its \
             TestCart::inject is at fault)",
        )?;
        let (again, bypassed, read) = library_reading(&answer, mode);
        if again {
            let resent = self.adapter.apply_deltas(std::slice::from_ref(&sale));
            self.heard(&resent);
        }
        let what = format!(
            "the cart applied a delta of -2 to 10 and lost the answer; the adapter ({mode:?}) \
             answered {read}: answer a lost write Ambiguous (or Uncertain), or read the count \
             back"
        );
        if bypassed {
            return Err(what);
        }
        self.expect_count(&a, 8, &what)?;
        Ok(None)
    }

    /// Lists `a` at 10 and `b` at 20 and lets the cart settle: where a check of two items
    /// starts.
    fn put_ten_and_twenty(&self, a: &str, b: &str) -> Step {
        self.put(a, 10)?;
        self.put(b, 20)?;
        self.settle();
        Ok(())
    }

    /// Keeps `answer`'s messages, clears the armed fault and lets the cart settle, so what it
    /// took reads as it stands.
    fn after_fault(&mut self, answer: &std::result::Result<Vec<SendOutcome>, CartError>) -> Step {
        self.heard(answer);
        self.disarm()?;
        self.settle();
        Ok(())
    }

    fn part_failed(&mut self) -> std::result::Result<Option<String>, String> {
        let (a, b) = (self.sku(1), self.sku(2));
        self.put_ten_and_twenty(&a, &b)?;
        let deltas = [self.delta(&a, -1), self.delta(&b, -1)];
        if !self.arm(CartFault::FailAfterFirstWrite)? {
            return Ok(Some(
                "the test cart cannot fail a request after a write (TestCart::inject)".into(),
            ));
        }
        let answer = self.adapter.apply_deltas(&deltas);
        self.after_fault(&answer)?;
        let took = [self.count(&a)? == Some(9), self.count(&b)? == Some(19)];
        let split_deltas = self.per_item(
            "apply_deltas of a delta to each of two items",
            [&a, &b],
            answer,
            took,
            "sends the changes the cart took again (twice, to a cart without keys)",
        )?;

        self.put_ten_and_twenty(&a, &b)?;
        let sets = [self.set(&a, 5, None), self.set(&b, 6, None)];
        self.arm(CartFault::FailAfterFirstWrite)?;
        let answer = self.adapter.set_quantities(&sets);
        self.after_fault(&answer)?;
        let took = [self.count(&a)? == Some(5), self.count(&b)? == Some(6)];
        let split_sets = self.per_item(
            "set_quantities of a count for each of two items",
            [&a, &b],
            answer,
            took,
            "has Send QOH send the changes waiting for the items it set on top of their counts",
        )?;
        Ok(match split_deltas || split_sets {
            true => None,
            false => Some(
                "no call failed part-way: the cart took each call's two items, or neither (an \
                 adapter writing them in one request)"
                    .into(),
            ),
        })
    }

    /// Judges the answer to a call of two items whose second write request the cart failed,
    /// by what the cart took (`took`): `Ok(true)` when the call did fail part-way (the cart
    /// took some of it but not all), `Ok(false)` when the fault left all or none of it.
    fn per_item(
        &self,
        call: &str,
        skus: [&str; 2],
        answer: std::result::Result<Vec<SendOutcome>, CartError>,
        took: [bool; 2],
        resent: &str,
    ) -> std::result::Result<bool, String> {
        let taken: Vec<&str> = skus
            .iter()
            .zip(took)
            .filter(|(_, t)| *t)
            .map(|(s, _)| *s)
            .collect();
        let part = !taken.is_empty() && taken.len() < skus.len();
        let outcomes = match answer {
            Err(e) if !taken.is_empty() => {
                return Err(format!(
                    "{call} answered {} for the whole call after the cart took {} in the call's \
                     first request: the library reads that as nothing applied ({}) and {resent}; \
                     answer Ok, Applied for what the cart took and Retry for the rest",
                    error_kind(&e),
                    taken.join(", "),
                    match e {
                        CartError::Ambiguous(_) => "or in doubt",
                        _ => "nothing of it",
                    }
                ))
            }
            // Nothing taken: the whole call failed, as an error says.
            Err(_) => return Ok(false),
            Ok(o) => one_each(Ok(o), skus.len(), call)?,
        };
        for ((sku, took), outcome) in skus.iter().zip(took).zip(&outcomes) {
            match (took, outcome) {
                // In doubt is never sent blindly again: an adapter whose read confirming a
                // write failed may not know either way.
                (_, SendOutcome::Uncertain { .. }) => {}
                (true, SendOutcome::Applied { .. }) => {}
                (false, SendOutcome::Retry { .. }) => {}
                (true, other) => {
                    return Err(format!(
                        "{call}: {sku}, which the cart took before the next request failed, \
                         answered {other:?}, not Applied: the library {}",
                        match other {
                            SendOutcome::Failed { .. } => "bypasses a change the cart has",
                            _ => resent,
                        }
                    ))
                }
                (false, other) => {
                    return Err(format!(
                        "{call}: {sku}, whose request the cart failed (applying nothing), \
                         answered {other:?}, not Retry: the library {}",
                        match other {
                            SendOutcome::Applied { .. } => {
                                "takes for published a change the cart never got"
                            }
                            _ => "gives up a change that trying again would publish",
                        }
                    ))
                }
            }
        }
        Ok(part)
    }

    /// The `n`th SKU (from 1) the check uses.
    fn sku(&self, n: usize) -> String {
        match self.options.skus.get(n - 1) {
            Some(given) => given.clone(),
            None => format!("{}-{n}", self.options.sku_prefix),
        }
    }

    /// How many SKUs the listing check lists.
    fn listed(&self) -> usize {
        match self.options.skus.len() {
            0 => LISTED,
            given => given,
        }
    }

    fn absent(&self) -> String {
        format!("{}-ABSENT", self.options.sku_prefix)
    }

    /// A key unique to this run and this change (random, as the library's are).
    fn key(&mut self) -> String {
        self.keys += 1;
        format!("conformance-{:016x}-{}", rand::random::<u64>(), self.keys)
    }

    fn delta(&mut self, sku: &str, delta: i64) -> DeltaSend {
        DeltaSend {
            key: self.key(),
            sku: sku.to_owned(),
            remote_ref: None,
            delta,
        }
    }

    fn set(&mut self, sku: &str, qoh: i64, expected: Option<i64>) -> QuantitySet {
        QuantitySet {
            key: self.key(),
            sku: sku.to_owned(),
            remote_ref: None,
            qoh,
            expected,
        }
    }

    fn put(&self, sku: &str, count: i64) -> Step {
        self.cart
            .put(sku, count)
            .map_err(|e| format!("the test cart could not list {sku} with {count}: {e}"))
    }

    fn count(&self, sku: &str) -> std::result::Result<Option<i64>, String> {
        self.cart
            .count(sku)
            .map_err(|e| format!("the test cart could not read {sku}: {e}"))
    }

    /// The cart's count of `sku` is `want`, as it reads outside the adapter: at once, or,
    /// on a cart declaring a read lag, within it (read again each second meanwhile).
    fn expect_count(&self, sku: &str, want: i64, after: &str) -> Step {
        let until = std::time::Instant::now() + self.lag;
        let mut now = self.count(sku)?;
        while now != Some(want) && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_secs(1).min(self.lag));
            now = self.count(sku)?;
        }
        match now {
            Some(c) if c == want => Ok(()),
            Some(c) => Err(format!(
                "after {after}, {sku} counts {c} on the cart, not {want}"
            )),
            None => Err(format!(
                "after {after}, the cart no longer lists {sku} (it should count {want})"
            )),
        }
    }

    /// Keeps every message of an answer for the credentials check.
    fn heard(&mut self, answer: &std::result::Result<Vec<SendOutcome>, CartError>) {
        match answer {
            Ok(outcomes) => {
                for o in outcomes {
                    if let Some(m) = message_of(o) {
                        self.said.push(m.to_owned());
                    }
                }
            }
            Err(e) => self.said.push(e.message()),
        }
    }

    /// The outcomes of `apply_deltas`, one per delta, or why not.
    fn apply(&mut self, deltas: &[DeltaSend]) -> std::result::Result<Vec<SendOutcome>, String> {
        let answer = self.adapter.apply_deltas(deltas);
        self.heard(&answer);
        one_each(answer, deltas.len(), "apply_deltas")
    }

    fn send_sets(&mut self, sets: &[QuantitySet]) -> std::result::Result<Vec<SendOutcome>, String> {
        let answer = self.adapter.set_quantities(sets);
        self.heard(&answer);
        one_each(answer, sets.len(), "set_quantities")
    }

    fn stable_mode(&mut self, first: UpdateMode) -> Step {
        for _ in 0..3 {
            let again = self.adapter.update_mode();
            if again != first {
                return Err(format!("update_mode answered {first:?}, then {again:?}"));
            }
        }
        Ok(())
    }

    fn deltas(&mut self) -> Step {
        let (a, b) = (self.sku(1), self.sku(2));
        self.put_ten_and_twenty(&a, &b)?;
        let sent = [self.delta(&a, -3), self.delta(&b, 4)];
        let outcomes = self.apply(&sent)?;
        for (d, o) in sent.iter().zip(&outcomes) {
            applied(o, &format!("the delta of {} to {}", d.delta, d.sku))?;
        }
        self.expect_count(&a, 7, "a delta of -3 to 10")?;
        self.expect_count(&b, 24, "a delta of +4 to 20")
    }

    fn unknown_delta(&mut self) -> Step {
        let (a, absent) = (self.sku(1), self.absent());
        self.lacks(&absent)?;
        self.put(&a, 10)?;
        self.settle();
        let sent = [self.delta(&a, -1), self.delta(&absent, -1)];
        let outcomes = self.apply(&sent)?;
        // First: it explains an `Applied` for it, and the check of an unknown SKU's count
        // learns who put it there.
        self.still_lacks(&absent, "a delta")?;
        applied(
            &outcomes[0],
            &format!("a delta to {a} beside one to an unknown SKU"),
        )?;
        failed_naming(&outcomes[1], &absent, "a delta to a SKU the cart lacks")?;
        self.expect_count(&a, 9, "a delta of -1 to 10")?;
        let Some(twin) = self.case_twin(&a)? else {
            return Ok(());
        };
        // -5: no change of `a` before was alike (a cart de-duplicating by content fails its
        // own check, not this one).
        let sent = [self.delta(&a, -5), self.delta(&twin, -1)];
        let outcomes = self.apply(&sent)?;
        failed_naming(
            &outcomes[1],
            &twin,
            &format!("a delta to {twin}, which the cart lacks (it has {a})"),
        )?;
        self.expect_count(
            &a,
            4,
            &format!("a delta of -5 to 9 beside one of -1 to {twin}"),
        )
    }

    /// `sku` written with the case of each ASCII letter swapped (`tee-m` for `TEE-M`), for
    /// the checks of unknown SKUs, where the cart lacks it: the library matches SKUs exactly
    /// (the store may hold the two as two items), so the adapter must not take it for `sku`
    /// (a server that looks SKUs up under a collation that ignores case, as MySQL's default
    /// does, would: the sales of both reach one product, and Send QOH sets its count to one
    /// item's and then to the other's). `None` for a SKU without such letters, or where the
    /// test cart lists the other spelling too.
    fn case_twin(&self, sku: &str) -> std::result::Result<Option<String>, String> {
        let twin: String = sku
            .chars()
            .map(|c| match c {
                'a'..='z' => c.to_ascii_uppercase(),
                'A'..='Z' => c.to_ascii_lowercase(),
                c => c,
            })
            .collect();
        if twin == sku || self.count(&twin)?.is_some() {
            return Ok(None);
        }
        Ok(Some(twin))
    }

    /// The cart lacks `absent` before a check that needs it to: else the integrator's test
    /// cart has it (the adapter has not been asked anything of it yet), and is told so.
    fn lacks(&self, absent: &str) -> Step {
        match self.count(absent)? {
            None => Ok(()),
            Some(c) => Err(format!(
                "the test cart lists {absent} (count {c}), which the check needs it to lack: \
                 choose another sku_prefix or remove it"
            )),
        }
    }

    /// The cart still lacks `absent` after `what` for it was sent.
    fn still_lacks(&mut self, absent: &str, what: &str) -> Step {
        match self.count(absent)? {
            None => Ok(()),
            Some(c) => Err({
                self.made_absent = true;
                format!("{what} for a SKU the cart lacked put it on the cart (count {c})")
            }),
        }
    }

    fn resent_key(&mut self) -> Step {
        let a = self.sku(1);
        self.put(&a, 10)?;
        self.settle();
        let sale = self.delta(&a, -2);
        let first = self.apply(std::slice::from_ref(&sale))?;
        applied(&first[0], "a delta of -2")?;
        let again = self.apply(std::slice::from_ref(&sale))?;
        applied(
            &again[0],
            "the same delta sent again under its key (a duplicate counts as applied)",
        )?;
        self.expect_count(&a, 8, "a delta of -2 to 10, sent twice under one key")
    }

    fn two_keys(&mut self) -> Step {
        let a = self.sku(1);
        self.put(&a, 10)?;
        self.settle();
        for _ in 0..2 {
            let sale = self.delta(&a, -1);
            let outcome = self.apply(&[sale])?;
            applied(&outcome[0], "a delta of -1 under a new key")?;
        }
        self.expect_count(&a, 8, "two deltas of -1 to 10, each under its own key")
    }

    fn sets(&mut self) -> Step {
        let (a, b) = (self.sku(1), self.sku(2));
        self.put_ten_and_twenty(&a, &b)?;
        let sent = [self.set(&a, 5, None), self.set(&b, 0, None)];
        let outcomes = self.send_sets(&sent)?;
        for (s, o) in sent.iter().zip(&outcomes) {
            applied(o, &format!("a count of {} for {}", s.qoh, s.sku))?;
        }
        self.expect_count(&a, 5, "a count of 5 set")?;
        self.expect_count(&b, 0, "a count of 0 set")
    }

    fn expected(&mut self) -> Step {
        let a = self.sku(1);
        self.put(&a, 5)?;
        self.settle();
        let stale = self.set(&a, 9, Some(4));
        let outcome = self.send_sets(&[stale])?;
        match &outcome[0] {
            SendOutcome::Conflict { current: 5 } => {}
            other => {
                return Err(format!(
                    "a count of 9 expecting 4, where the cart counts 5, answered {other:?}, not \
                     Conflict {{ current: 5 }}"
                ))
            }
        }
        self.expect_count(&a, 5, "a set expecting another count")?;
        let fresh = self.set(&a, 9, Some(5));
        let outcome = self.send_sets(&[fresh])?;
        applied(
            &outcome[0],
            "a count of 9 expecting 5, where the cart counts 5",
        )?;
        self.expect_count(&a, 9, "a count of 9 set expecting the cart's 5")
    }

    fn unknown_set(&mut self) -> Step {
        let absent = self.absent();
        if self.count(&absent)?.is_some() && self.made_absent {
            return Err(format!(
                "cannot be checked: {absent}, which the cart lacked, was put on it by a delta \
                 (see the check of an unknown SKU's delta)"
            ));
        }
        self.lacks(&absent)?;
        let set = self.set(&absent, 1, None);
        let outcome = self.send_sets(&[set])?;
        failed_naming(&outcome[0], &absent, "a count for a SKU the cart lacks")?;
        self.still_lacks(&absent, "a count")?;
        let a = self.sku(1);
        let Some(twin) = self.case_twin(&a)? else {
            return Ok(());
        };
        self.put(&a, 10)?;
        self.settle();
        let sets = [self.set(&a, 7, None), self.set(&twin, 3, None)];
        let outcome = self.send_sets(&sets)?;
        failed_naming(
            &outcome[1],
            &twin,
            &format!("a count for {twin}, which the cart lacks (it has {a})"),
        )?;
        self.expect_count(&a, 7, &format!("a count of 7 beside one of 3 for {twin}"))
    }

    fn listing(&mut self) -> Step {
        let mut ours = HashMap::new();
        for n in 1..=self.listed() {
            let (sku, count) = (self.sku(n), 30 + n as i64);
            self.put(&sku, count)?;
            ours.insert(sku, count);
        }
        self.settle();
        let seen = self.list_all(&ours)?;
        let mut skus: Vec<_> = ours.keys().cloned().collect();
        skus.sort();
        for sku in skus {
            match seen.get(&sku) {
                None => return Err(format!("the listing left out {sku}")),
                Some(&c) if c != ours[&sku] => {
                    return Err(format!(
                        "the listing gave {sku} a count of {c}; the cart counts {}",
                        ours[&sku]
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// A delta the adapter applied shows in its listing once the lag it declares has passed:
    /// a cart whose reads trail its writes by more has Get QOH take the count from before
    /// a sale sent there for a return, and give the sold unit back.
    fn read_lag(&mut self) -> Step {
        if self.declared > MAX_READ_LAG {
            return Err(format!(
                "read_lag declares {} s; the library waits at most {} s",
                self.declared.as_secs(),
                MAX_READ_LAG.as_secs()
            ));
        }
        let a = self.sku(1);
        self.put(&a, 20)?;
        self.settle();
        let sale = self.delta(&a, -1);
        let outcome = self.apply(&[sale])?;
        applied(&outcome[0], "a delta of -1")?;
        self.settle();
        let seen = self.list_all(&HashMap::from([(a.clone(), 19)]))?;
        match seen.get(&a) {
            Some(19) => Ok(()),
            Some(c) => Err(format!(
                "the listing gave {a} a count of {c}, not 19, {} s after the adapter applied a \
                 delta of -1 to the 20 put there: reads trailing writes by more than \
                 CartAdapter::read_lag declares have Get QOH give sold units back; declare at \
                 least the longest trail seen",
                self.lag.as_secs()
            )),
            None => Err(format!("the listing left out {a}")),
        }
    }

    /// Waits out the read lag the adapter declares, after counts were put on the cart or
    /// written to it, so that what the check reads next shows them (minutes on such a cart).
    fn settle(&self) {
        if !self.lag.is_zero() {
            std::thread::sleep(self.lag);
        }
    }

    /// The whole listing, paged with `options.page_limit`: the counts of the SKUs of `ours`.
    fn list_all(
        &mut self,
        ours: &HashMap<String, i64>,
    ) -> std::result::Result<HashMap<String, i64>, String> {
        let mut seen: HashMap<String, i64> = HashMap::new();
        let mut cursors = std::collections::HashSet::new();
        let mut cursor: Option<String> = None;
        // Every SKU listed (trimmed), and the pages in a row that listed nothing new: the
        // listing is judged endless where Get QOH gives up on it (a cursor come back, 10,000
        // empty pages or 100 pages of SKUs listed before in a row), never by its length: a
        // test cart may be a copy of a shop of 40,000 products, 10,000 pages of 4.
        let mut listed = std::collections::HashSet::new();
        let (mut empty, mut repeated) = (0usize, 0usize);
        for page in 0.. {
            let read = self
                .adapter
                .fetch_quantities(cursor.as_deref(), self.options.page_limit);
            let read = match read {
                Ok(p) => p,
                Err(e) => {
                    self.said.push(e.message());
                    return Err(format!(
                        "fetch_quantities answered an error on page {}: {}",
                        page + 1,
                        e.message()
                    ));
                }
            };
            let (mut new, mut repeats) = (false, false);
            for (sku, count) in read.items {
                let sku = sku.trim().to_owned();
                if !sku.is_empty() {
                    let first = listed.insert(sku.clone());
                    new |= first;
                    repeats |= !first;
                }
                if ours.contains_key(&sku) && seen.insert(sku.clone(), count).is_some() {
                    return Err(format!("the listing gave {sku} twice"));
                }
            }
            match (new, repeats) {
                (true, _) => (empty, repeated) = (0, 0),
                (false, true) => repeated += 1,
                (false, false) => empty += 1,
            }
            match read.next_cursor {
                None => break,
                Some(next) => {
                    if !cursors.insert(next.clone()) {
                        return Err(format!(
                            "the listing answered the cursor {next:?} twice: Get QOH stops there"
                        ));
                    }
                    if empty >= 10_000 || repeated >= 100 {
                        return Err(format!(
                            "the listing did not end: {} pages in a row (to page {}) listed {}, \
                             each naming another: Get QOH stops there",
                            empty.max(repeated),
                            page + 1,
                            match empty > 0 {
                                true => "nothing",
                                false => "only SKUs listed before",
                            }
                        ));
                    }
                    cursor = Some(next);
                }
            }
        }
        Ok(seen)
    }

    fn secrets(&self) -> Verdict {
        for secret in self.options.secrets.iter().filter(|s| !s.is_empty()) {
            if self.said.iter().any(|m| m.contains(secret.as_str())) {
                return Verdict::Failed(
                    "a message the adapter answered quotes a credential".into(),
                );
            }
        }
        match self.options.secrets.is_empty() {
            true => Verdict::NotApplicable("no credentials given in CheckOptions::secrets".into()),
            false => Verdict::Passed,
        }
    }
}

/// The outcomes of a call that must answer one per item, or why it did not.
fn one_each(
    answer: std::result::Result<Vec<SendOutcome>, CartError>,
    items: usize,
    call: &str,
) -> std::result::Result<Vec<SendOutcome>, String> {
    match answer {
        Ok(outcomes) if outcomes.len() == items => Ok(outcomes),
        Ok(outcomes) => Err(format!(
            "{call} answered {} outcomes for {items} items: the library reads that as a lost \
             answer for the whole call",
            outcomes.len()
        )),
        Err(e) => Err(format!("{call} answered an error: {}", e.message())),
    }
}

fn applied(o: &SendOutcome, what: &str) -> Step {
    match o {
        SendOutcome::Applied { .. } => Ok(()),
        other => Err(format!("{what} answered {other:?}, not Applied")),
    }
}

/// `o` fails `sku` for good, naming it: an operator must learn which SKU, and a `Retry`
/// would be tried until bypassed, an `Uncertain` left for them to check.
fn failed_naming(o: &SendOutcome, sku: &str, what: &str) -> Step {
    match o {
        SendOutcome::Failed { message } if message.contains(sku) => Ok(()),
        SendOutcome::Failed { message } => Err(format!(
            "{what} failed without naming the SKU {sku}: {message:?}"
        )),
        other => Err(format!("{what} answered {other:?}, not Failed")),
    }
}

fn message_of(o: &SendOutcome) -> Option<&str> {
    match o {
        SendOutcome::Retry { message, .. }
        | SendOutcome::Failed { message }
        | SendOutcome::Uncertain { message } => Some(message),
        SendOutcome::Applied { .. } | SendOutcome::Conflict { .. } => None,
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}
