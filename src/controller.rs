//! The stack controller: drains the web stack into the carts (DESIGN §7, rule 10).
//!
//! One pass ([`StackController::run_once`]) serves every cart at once, each on its own
//! thread, so a slow or failing cart never holds back the others. Per cart it leases a batch
//! of at most `max_items_to_send` send groups, sends them through the cart's adapter while a
//! helper thread renews the lease, and settles each group under the lease token through
//! [`crate::stack::transition`]. Cart-wide failures are handled per cart:
//! - 429 / `Retry-After`: the whole cart waits as told; no attempt is counted.
//! - 401/403: the cart is paused with a cart-level error; no attempt is counted.
//! - an outage (refused connections, time-outs, 5xx): the batch's records count an attempt and
//!   the cart backs off; on each back-off step only its oldest batch is tried again, while the
//!   rest of the backlog waits untouched.

use crate::adapter::registry::AdapterRegistry;
use crate::adapter::{CartAdapter, CartError, DeltaSend, SendOutcome};
use crate::carts::{Cart, CartId};
use crate::error::{Error, ErrorKind, Result};
use crate::params::{Settings, StackMode};
use crate::stack::{
    backoff_ms, transition, CartRunState, Lease, LeaseScope, LeasedSend, NextLease, SqliteStack,
    Transition, Verdict, WebStack,
};
use crate::store::{now_ms, Store};
use parking_lot::{Condvar, Mutex};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

/// What one pass did for one cart.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct CartReport {
    /// The cart's id.
    pub cart_id: CartId,
    /// The cart's name.
    pub name: String,
    /// Records the cart applied.
    pub sent: usize,
    /// Records a failed try left waiting for another (see [`RunReport::retried`]).
    pub retried: usize,
    /// Records bypassed in this pass.
    pub bypassed: usize,
    /// Records marked uncertain in this pass: the answer to their send was lost, or a Send
    /// QOH whose run ended before it recorded the cart's answer had included them in its
    /// count (held in doubt as the pass leased the cart).
    pub uncertain: usize,
    /// Records waiting for the cart's rate limit, no attempt counted.
    pub deferred: usize,
    /// Records still waiting for this cart after the pass.
    pub remaining: i64,
    /// Requests made.
    pub requests: usize,
    /// The cart-level error, when the cart is paused or backing off.
    pub error: Option<String>,
}

impl CartReport {
    /// Adds what a later drain of the same cart in the pass did; its error (or none) is the
    /// cart's state now.
    fn absorb(&mut self, later: CartReport) {
        self.sent += later.sent;
        self.retried += later.retried;
        self.bypassed += later.bypassed;
        self.uncertain += later.uncertain;
        self.deferred += later.deferred;
        self.requests += later.requests;
        self.error = later.error;
    }

    /// The report of a cart the pass could not serve at all, saying why.
    fn failed(cart: &Cart, error: &str) -> CartReport {
        CartReport {
            cart_id: cart.id,
            name: cart.name.clone(),
            error: Some(error.to_owned()),
            ..Default::default()
        }
    }
}

/// What one pass did: totals and one entry per cart.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct RunReport {
    /// Records applied.
    pub sent: usize,
    /// Records a failed try left waiting for another: counted at each failed try, so a record
    /// tried again later in the same pass (its back-off short enough) and applied is counted
    /// here and in `sent`; `remaining` says what still waits.
    pub retried: usize,
    /// Records bypassed.
    pub bypassed: usize,
    /// Records marked uncertain (see [`CartReport::uncertain`]).
    pub uncertain: usize,
    /// Records still waiting, all carts.
    pub remaining: i64,
    /// Whether this controller stood by because another shared controller is active.
    pub standby: bool,
    /// Whether the pass stopped leasing before all that was due had gone: its
    /// `max_records` or its time was up, or its controller is stopping. Records due may be
    /// left for the next pass.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cut_short: bool,
    /// Per cart.
    pub carts: Vec<CartReport>,
}

impl std::fmt::Display for RunReport {
    /// A few lines an operator can read.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.standby {
            return writeln!(
                f,
                "standing by: another shared stack controller is active; {} waiting",
                crate::counted(self.remaining, "record")
            );
        }
        writeln!(
            f,
            "{} sent, {} to retry, {} bypassed, {} uncertain, {} still waiting",
            crate::counted(self.sent as i64, "record"),
            self.retried,
            self.bypassed,
            self.uncertain,
            self.remaining
        )?;
        for c in &self.carts {
            let s = if c.requests == 1 { "" } else { "s" };
            write!(
                f,
                "  {}: {} sent in {} request{s}",
                c.name, c.sent, c.requests
            )?;
            if c.retried + c.bypassed + c.uncertain + c.deferred > 0 {
                write!(
                    f,
                    ", {} to retry, {} bypassed, {} uncertain, {} deferred",
                    c.retried, c.bypassed, c.uncertain, c.deferred
                )?;
            }
            if let Some(e) = &c.error {
                write!(f, " ({e})")?;
            }
            writeln!(f, ", {} waiting", c.remaining)?;
        }
        Ok(())
    }
}

impl RunReport {
    /// The report as JSON (the C ABI's `invsync_stack_run` report).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// Where credentials the cart refused were read from the environment (`env:NAME`), which
/// machine's: the pause stops every workstation's sends, and the owner looking at the cart's
/// settings, the same everywhere, was not told that one machine's variable was the wrong one.
fn refused_env(cart: &Cart, workstation: &str) -> String {
    let names = cart.env_credentials();
    if names.is_empty() {
        return String::new();
    }
    format!(
        "; the credentials were read from the environment ({}) on workstation {workstation}, \
         whose values may differ from another's",
        names.join(", ")
    )
}

/// How long after its last heartbeat a workstation's row is forgotten: 7 days.
///
/// A row says "alive until `last_seen`" (the beat plus the pause it declared before its
/// next pass). Every reader takes a row seen more than `3 × LeaseMs` before its own clock
/// for stopped, exactly as a workstation with no row: a local controller then sends that
/// workstation's records (`LeaseScope::stale_before`), and a controller that cannot build a
/// cart's adapter hands its records over only while another workstation's row is younger.
/// `LeaseMs` is at most 1 hour, so a row is dead to every reader 3 hours after its
/// `last_seen`, and workstations' clocks are taken to differ by minutes (`LOG_SKEW`), not
/// days. 7 days is 56 times those 3 hours: a row that old is dead to any controller whose
/// clock is less than 6 days and 21 hours behind the one forgetting it, and forgetting it
/// changes no decision of theirs. A live controller beats at every pass and every `LeaseMs`
/// during one, so its row is never that old (one forgotten by a clock days ahead is written
/// again at its next beat, as if it had been stale meanwhile). The shared-controller lock is
/// another table (`controller_lock`), untouched.
const HEARTBEAT_FORGET_MS: i64 = 7 * 86_400_000;

/// A controller's housekeeping: runs `work` at the first pass and then once `every_ms` has
/// passed since it last succeeded (`last`, Unix ms; 0: never). A failure (a busy store)
/// is tried again next pass; the pass's report stands.
fn housekeep(last: &AtomicI64, every_ms: i64, now: i64, work: impl FnOnce() -> bool) {
    let at = last.load(Ordering::Relaxed);
    if (at == 0 || now - at >= every_ms) && work() {
        last.store(now, Ordering::Relaxed);
    }
}

/// Per cart, the adapter built, and the cart's saving and the registry's generation it was
/// built from.
type AdapterCache = HashMap<CartId, ((i64, u64), Arc<dyn CartAdapter>)>;

/// Drains a [`WebStack`] through cart adapters built by an [`AdapterRegistry`].
pub struct StackController<S: WebStack> {
    stack: S,
    adapters: Arc<AdapterRegistry>,
    /// Read at each pass: a store handle's controllers share the handle's, so a rename
    /// reaches a background controller too.
    workstation: Arc<Mutex<String>>,
    cache: Mutex<AdapterCache>,
    /// When this controller last forgot old history (Unix ms; 0: not yet).
    pruned_at: AtomicI64,
    /// When this controller last forgot the heartbeats of long-stopped workstations (Unix ms;
    /// 0: not yet, done at its first pass).
    heartbeats_forgotten_at: AtomicI64,
    /// When this controller last wrote its heartbeat (Unix ms).
    beat_at: AtomicI64,
    /// Set to end the pass under way soon: each cart ends after the request it has in flight.
    stopping: AtomicBool,
    /// The holder name it took the shared lock as, while it holds it: given back when the
    /// controller goes, so the next one need not wait for the lock to lapse.
    holding: Mutex<Option<String>>,
    /// Who it is to the shared lock, and how long it holds it (a store handle's, shared by
    /// its foreground and background controllers).
    hold: Arc<LockHold>,
}

/// A store handle's controllers to the shared-controller lock: one holder, named by its
/// workstation and `id`, so two controllers of one workstation (an Access front end and
/// `invsync controller` on one PC, both named for the host) are two holders, not one. They
/// hold it past `3 × LeaseMs` a pass for the longer of the interval the host said it runs
/// passes at ([`Store::hold_shared_lock_between_passes`]) and its background controller's,
/// so that the lock does not lapse between passes (and a foreground pass does not shorten
/// the background controller's hold).
pub(crate) struct LockHold {
    id: String,
    declared_ms: AtomicI64,
    background_ms: AtomicI64,
    /// The heartbeats its controllers wrote, one a workstation name, each as the store holds
    /// it, and any end of its pause the store was too busy to take (a transaction open):
    /// written at a controller's next beat, when the handle's transaction ends, or when the
    /// handle closes, whichever comes first.
    beats: Mutex<Vec<Beaten>>,
}

/// A heartbeat a handle's controller wrote.
struct Beaten {
    workstation: String,
    /// When it was written.
    at: i64,
    /// The row's `last_seen` as written: the beat plus the pause it declared, or an end.
    row: i64,
    /// An earlier end of its pause still to be written.
    end: Option<i64>,
}

impl Default for LockHold {
    fn default() -> Self {
        LockHold {
            id: crate::store::random_key(),
            declared_ms: AtomicI64::new(0),
            background_ms: AtomicI64::new(0),
            beats: Mutex::new(Vec::new()),
        }
    }
}

impl LockHold {
    /// A heartbeat its controller wrote: it replaces the name's earlier one, and any end of
    /// that one's pause not yet written (the row no longer holds it).
    fn beaten(&self, workstation: &str, at: i64, row: i64) {
        let mut beats = self.beats.lock();
        beats.retain(|b| b.workstation != workstation);
        beats.push(Beaten {
            workstation: workstation.to_owned(),
            at,
            row,
            end: None,
        });
    }

    /// Moves the end of the pause of each heartbeat (of `workstation`, or all) back to
    /// `to(when it was written)`, with `write` (see [`WebStack::heartbeat_end`]); an end the
    /// store is too busy to take is kept, with the earliest asked, to be written later.
    pub(crate) fn end_pauses(
        &self,
        workstation: Option<&str>,
        to: impl Fn(i64) -> i64,
        write: impl Fn(&str, i64, i64) -> Result<()>,
    ) {
        for b in self.beats.lock().iter_mut() {
            if workstation.is_some_and(|w| w != b.workstation) {
                continue;
            }
            let end = to(b.at).min(b.end.unwrap_or(i64::MAX));
            if end >= b.row {
                continue;
            }
            match write(&b.workstation, b.row, end) {
                Ok(()) => (b.row, b.end) = (end, None),
                Err(_) => b.end = Some(end),
            }
        }
    }

    /// Shortens every heartbeat's pause to what the handle declares now (its background
    /// controller stopped, `PassIntervalMs` lowered, the handle closing: nothing).
    pub(crate) fn shorten_pauses(&self, write: impl Fn(&str, i64, i64) -> Result<()>) {
        self.end_pauses(None, |at| at.saturating_add(self.ms()), write);
    }

    /// Writes the ends of pauses kept for later.
    pub(crate) fn finish_ends(&self, write: impl Fn(&str, i64, i64) -> Result<()>) {
        self.end_pauses(None, |_| i64::MAX, write);
    }

    /// Its handle is closing: no pause between passes is declared any more.
    pub(crate) fn declare_none(&self) {
        self.declared_ms.store(0, Ordering::Relaxed);
        self.background_ms.store(0, Ordering::Relaxed);
    }

    fn ms(&self) -> i64 {
        let declared = self.declared_ms.load(Ordering::Relaxed);
        declared.max(self.background_ms.load(Ordering::Relaxed))
    }
}

/// The interval of a controller's passes, refused outside what one runs at.
fn check_interval(interval: Duration) -> Result<i64> {
    if interval < Duration::from_millis(1) || interval > Duration::from_secs(3600) {
        return Err(Error::invalid("controller interval must be 1 ms to 1 hour"));
    }
    Ok(interval.as_millis() as i64)
}

impl<S: WebStack> Drop for StackController<S> {
    fn drop(&mut self) {
        // Best effort, waiting a moment at most: a lock not given back lapses by itself, and
        // a pause not ended ends by itself. What its handle still declares stays (a host's own
        // timer, when only the background controller stops).
        if let Some(holder) = self.holding.lock().take() {
            let _ = self.stack.release_shared_lock(&holder);
        }
        self.hold
            .shorten_pauses(|w, row, to| self.stack.heartbeat_end(w, row, to));
    }
}

impl<S: WebStack> StackController<S> {
    /// A controller for `stack`, sending as `workstation`: a name the `Workstation` parameter
    /// takes (1 to 128 characters, no control characters, line separators or bidirectional
    /// overrides, as it is printed in the controller's log and the stack view), else
    /// `InvalidArgument`.
    pub fn new(stack: S, adapters: Arc<AdapterRegistry>, workstation: String) -> Result<Self> {
        let workstation = crate::params::check_workstation(&workstation)?;
        Ok(StackController {
            stack,
            adapters,
            workstation: Arc::new(Mutex::new(workstation)),
            cache: Mutex::new(HashMap::new()),
            pruned_at: AtomicI64::new(0),
            heartbeats_forgotten_at: AtomicI64::new(0),
            beat_at: AtomicI64::new(0),
            stopping: AtomicBool::new(false),
            holding: Mutex::new(None),
            hold: Arc::default(),
        })
    }

    /// The same controller, holding the shared lock as `hold` and sending as the workstation
    /// named in `workstation` (a store handle gives its foreground and background controllers
    /// its own, so they are one holder and one workstation, whatever it is renamed to).
    pub(crate) fn of_handle(
        mut self,
        hold: Arc<LockHold>,
        workstation: Arc<Mutex<String>>,
    ) -> Self {
        self.hold = hold;
        self.workstation = workstation;
        self
    }

    /// Ends the pass under way soon (each cart after the request it has in flight), and every
    /// later one at once: for a controller that is being stopped.
    pub(crate) fn stop_soon(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// Whether a pass should lease no more: the controller is stopping or `until` passed.
    fn time_up(&self, until: Option<i64>) -> bool {
        self.stopping.load(Ordering::Relaxed) || until.is_some_and(|t| now_ms() >= t)
    }

    /// Runs `write`, a store write that records what a cart answered (its settlement, the
    /// cart's state). A store another writer holds past the busy timeout (a host importing
    /// orders in one long transaction) is asked again until `give_up` (Unix ms: about as long
    /// as the answer's lease, renewed while the request was in flight; settlement goes by the
    /// lease's token, so one another controller took over meanwhile is left to it) unless the
    /// controller is stopping: an answer given up is lost, and a sale a cart without keys
    /// applied could then only be marked uncertain. A pass run by the host waits as long.
    fn keeping_answer<T>(&self, give_up: i64, mut write: impl FnMut() -> Result<T>) -> Result<T> {
        loop {
            match write() {
                Err(e)
                    if e.kind() == ErrorKind::Busy
                        && !self.stopping.load(Ordering::Relaxed)
                        && now_ms() < give_up => {}
                done => return done,
            }
        }
    }

    /// The stack it drains.
    pub fn stack(&self) -> &S {
        &self.stack
    }

    fn adapter(&self, cart: &Cart) -> Result<Arc<dyn CartAdapter>> {
        let mut cache = self.cache.lock();
        // Until 2026-12-03 a host's adapter registered again was not used until the cart was
        // saved: the controller kept the one it had built.
        let built_from = (cart.config_version, self.adapters.generation(&cart.adapter));
        if let Some((_, a)) = cache.get(&cart.id).filter(|(v, _)| *v == built_from) {
            return Ok(a.clone());
        }
        // An adapter with keys replaced by one without (registered again, after a restart,
        // or by a save keeping its name) does not send again a change whose answer the old
        // one lost: the group keeps that (`Transition::Pending`'s `maybe_applied`), and a
        // lease to a cart without keys holds it back (until 2026-12-04 a rebuild on this
        // handle held such changes back, and a restart or a save in between sent them again).
        let a = self.adapters.build(cart)?;
        cache.insert(cart.id, (built_from, a.clone()));
        Ok(a)
    }

    /// One pass over due records of every cart, at most `max_records` in all (`None`: no
    /// limit; a send group goes whole, so records coalesced into a pass's last groups may
    /// exceed it). Carts are served concurrently.
    ///
    /// After a pass that sent to a cart, the stack gives back what it held for it
    /// ([`WebStack::release_memory`]), so an idle controller does not keep pages the host's
    /// work needs; after one that failed, too (a broken connection is opened afresh). It keeps
    /// them after a pass that sent nothing (it read little), and after one that spent its
    /// `max_records` with records left: its caller drains in steps, and opening again cost
    /// 1-6 ms a pass where it happens.
    pub fn run_once(&self, max_records: Option<usize>) -> Result<RunReport> {
        self.run(max_records, None)
    }

    /// [`run_once`](Self::run_once) that leases no more batches once `within` has passed:
    /// each cart then ends after the request it has in flight. A controller that runs for
    /// good passes this, so that one slow cart's long backlog does not hold a pass, and with
    /// it every other cart's new records, until that backlog is gone: the next pass starts
    /// at once and serves every cart again.
    ///
    /// While a cart's request hangs past that (a slow shop, up to the request's time-out), the
    /// other carts are drained again every interval the handle declared for its passes
    /// ([`Store::hold_shared_lock_between_passes`]), else every `within`, each for `within`:
    /// the pass does not hold their new records until the slow shop answers.
    pub fn run_within(&self, max_records: Option<usize>, within: Duration) -> Result<RunReport> {
        let pace = match self.hold.declared_ms.load(Ordering::Relaxed) {
            0 => within,
            ms => Duration::from_millis(ms as u64),
        };
        self.run_paced(max_records, within, pace)
    }

    /// [`run_within`](Self::run_within) whose rounds beside a hanging request go every `pace`
    /// (the background controller's interval).
    fn run_paced(
        &self,
        max_records: Option<usize>,
        within: Duration,
        pace: Duration,
    ) -> Result<RunReport> {
        self.run(
            max_records,
            Some(Paced {
                slice: within,
                pace,
            }),
        )
    }

    fn run(&self, max_records: Option<usize>, paced: Option<Paced>) -> Result<RunReport> {
        let report = self.pass(max_records, paced);
        let keep = report.as_ref().is_ok_and(|r| {
            r.carts.iter().all(|c| c.requests == 0) || (r.cut_short && r.remaining > 0)
        });
        if !keep {
            // Failing to give memory back costs speed, not records: the pass's report stands.
            let _ = self.stack.release_memory();
        }
        report
    }

    /// One pass.
    fn pass(&self, max_records: Option<usize>, paced: Option<Paced>) -> Result<RunReport> {
        let now = now_ms();
        let until = paced.map(|p| now.saturating_add(millis(p.slice)));
        let settings = self.stack.settings()?;
        let workstation = self.workstation.lock().clone();
        self.beat(&workstation, now)?;
        let mut report = RunReport::default();
        let shared = settings.stack_mode == StackMode::Shared;
        if shared {
            let holder = format!("{workstation} #{}", self.hold.id);
            let until = now
                .saturating_add(3 * settings.lease_ms)
                .saturating_add(self.hold.ms());
            if !self.stack.shared_lock(&holder, now, until)? {
                report.standby = true;
                // What waits is counted all the same: a host reading `remaining` must not
                // take standing by for nothing left to send.
                for cart in self.stack.carts()? {
                    let remaining = self.stack.waiting(cart.id)?;
                    if remaining > 0 {
                        report.remaining += remaining;
                        report.carts.push(CartReport {
                            cart_id: cart.id,
                            name: cart.name,
                            remaining,
                            ..Default::default()
                        });
                    }
                }
                return Ok(report);
            }
            *self.holding.lock() = Some(holder);
        }
        let scope = LeaseScope {
            workstation,
            shared,
            stale_before: now - 3 * settings.lease_ms,
        };
        let budget = Budget(Mutex::new(max_records.unwrap_or(usize::MAX)));
        let cut_short = AtomicBool::new(false);
        let mut work = Vec::new();
        let carts = self.stack.carts()?;
        // A deleted cart's adapter (its connections) goes with it.
        self.cache
            .lock()
            .retain(|id, _| carts.iter().any(|c| c.id == *id));
        // Carts a killed Send QOH left counts sending to are taken over with nothing waiting:
        // their lease holds the changes those counts included in doubt, and this pass counts
        // them (a count of bypassed records alone was otherwise settled at the next sale).
        let counts_left = self.stack.carts_with_counts_left(now)?;
        for cart in carts {
            if !counts_left.contains(&cart.id) && !self.stack.has_waiting(cart.id)? {
                continue;
            }
            match self.adapter(&cart) {
                Ok(a) => work.push((cart, a)),
                // Heartbeating for records it cannot send would strand them: a local
                // controller leaves them to the others (a shared one serves every
                // workstation, so there is no one to leave them to).
                Err(e) if shared => report.carts.push(CartReport::failed(&cart, e.message())),
                Err(e) => {
                    let left = match self.stack.hand_over(cart.id, &scope, now) {
                        Ok(0) => String::new(),
                        Ok(n) => format!(
                            "; {} of this workstation left to the other workstations' \
                             controllers",
                            crate::counted(n as i64, "record")
                        ),
                        Err(h) => format!("; its records could not be handed over: {h}"),
                    };
                    let error = format!("{}{left}", e.message());
                    report.carts.push(CartReport::failed(&cart, &error));
                }
            }
        }
        let ended = DrainEnded::default();
        let results: Vec<CartReport> = std::thread::scope(|s| {
            // A drain of `cart` leasing until `until`, on a thread of its own.
            let spawn = |cart: Cart, adapter: Arc<dyn CartAdapter>, until: Option<i64>| {
                let (scope, settings, ended) = (&scope, &settings, &ended);
                let (budget, cut_short) = (&budget, &cut_short);
                let c = cart.clone();
                let thread = s.spawn(move || {
                    let _ended = ended.on_drop(c.id);
                    let limits = PassLimits {
                        budget,
                        until,
                        cut_short,
                    };
                    self.drain_cart(&c, adapter.as_ref(), settings, scope, &limits)
                });
                Drain {
                    cart,
                    until,
                    thread,
                }
            };
            let mut drains: Vec<Drain<'_>> = work
                .into_iter()
                .map(|(cart, adapter)| spawn(cart, adapter, until))
                .collect();
            // One report a cart, however many drains it had: merged as each is joined.
            let mut done: Vec<CartReport> = Vec::new();
            // The carts whose last drain sent nothing, and what waited for them then.
            let mut idle: HashMap<CartId, i64> = HashMap::new();
            if let Some(p) = paced.filter(|_| !drains.is_empty()) {
                // A pass of a loop of passes (the background controller's, `run_within`):
                // while a cart's drain runs past its slice by more than a slice (a request
                // hanging toward its time-out), the other carts are drained again every pace,
                // each for a slice, instead of waiting for the slow shop's answer. Until the
                // pass's hold of the shared lock (and a local heartbeat) could lapse: the pass
                // stays bounded, and the next one starts afresh.
                let give_up = now.saturating_add(2 * settings.lease_ms);
                let pace = millis(p.pace).max(1);
                // A request in flight at a slice's end is common (a backlog); one still
                // unanswered a slice (and a pace) later hangs.
                let late = pace.max(millis(p.slice));
                let mut tick = now_ms().saturating_add(pace);
                loop {
                    // Drains are joined as they end (a thread kept unjoined keeps its stack);
                    // one that ended is at most returning, so the join does not wait.
                    let gone = ended.wait_until(tick);
                    let (finished, running): (Vec<_>, Vec<_>) =
                        drains.into_iter().partition(|d| gone.contains(&d.cart.id));
                    drains = running;
                    for d in finished {
                        let r = d.join();
                        if r.requests == 0 {
                            idle.insert(r.cart_id, self.stack.waiting(r.cart_id).unwrap_or(0));
                        } else {
                            idle.remove(&r.cart_id);
                        }
                        merge_report(&mut done, r);
                    }
                    let at = now_ms();
                    if drains.is_empty() || self.stopping.load(Ordering::Relaxed) || at >= give_up {
                        break;
                    }
                    if at < tick {
                        continue;
                    }
                    tick = at.saturating_add(pace);
                    let hanging = drains
                        .iter()
                        .any(|d| d.until.is_some_and(|u| at > u.saturating_add(late)));
                    if !hanging || *budget.0.lock() == 0 {
                        continue;
                    }
                    let slice_end = at.saturating_add(millis(p.slice));
                    for (cart, adapter) in self.beside_hanging(&drains, &idle, at) {
                        drains.push(spawn(cart, adapter, Some(slice_end)));
                    }
                }
            }
            for d in drains {
                merge_report(&mut done, d.join());
            }
            done
        });
        for r in results {
            merge_report(&mut report.carts, r);
        }
        report.carts.sort_by_key(|c| c.cart_id);
        self.forget_old_history(&settings, now);
        self.forget_dead_heartbeats(now);
        for c in &mut report.carts {
            c.remaining = self.stack.waiting(c.cart_id)?;
            report.sent += c.sent;
            report.retried += c.retried;
            report.bypassed += c.bypassed;
            report.uncertain += c.uncertain;
            report.remaining += c.remaining;
        }
        report.cut_short = cut_short.load(Ordering::Relaxed);
        Ok(report)
    }

    /// The carts to drain again beside a hanging request (`drains` run now): those with
    /// records waiting that are not draining, held by a manual run, or backing off, and whose
    /// adapter can be had (a cart whose adapter cannot be built is reported by the next pass).
    /// A cart whose last drain sent nothing (`idle`: its records wait for a retry, or are
    /// another workstation's) goes again once more records wait for it than then. A store
    /// error leaves a cart to the next pass.
    fn beside_hanging(
        &self,
        drains: &[Drain<'_>],
        idle: &HashMap<CartId, i64>,
        now: i64,
    ) -> Vec<(Cart, Arc<dyn CartAdapter>)> {
        let ready = |cart: &Cart| -> Result<bool> {
            Ok(!drains.iter().any(|d| d.cart.id == cart.id)
                && self.stack.has_waiting(cart.id)?
                && match idle.get(&cart.id) {
                    Some(then) => self.stack.waiting(cart.id)? > *then,
                    None => true,
                }
                && self.stack.held_until(cart.id)? <= now
                && self.stack.cart_state(cart.id)?.backoff_until <= now)
        };
        self.stack
            .carts()
            .unwrap_or_default()
            .into_iter()
            .filter(|c| ready(c).unwrap_or(false))
            .filter_map(|c| self.adapter(&c).ok().map(|a| (c, a)))
            .collect()
    }

    /// Once an hour, forgets history older than `StackHistoryDays`: the log gains a row per
    /// record sent and would otherwise grow for ever.
    fn forget_old_history(&self, settings: &Settings, now: i64) {
        if settings.history_days == 0 {
            return;
        }
        housekeep(&self.pruned_at, 3_600_000, now, || {
            self.stack
                .prune_history(now - settings.history_days * 86_400_000)
                .is_ok()
        });
    }

    /// At its first pass and once a day after, forgets the heartbeats last seen more than
    /// [`HEARTBEAT_FORGET_MS`] ago: the table kept a row for every workstation name ever
    /// used (PCs renamed, a controller run from many laptops), and every takeover check
    /// ([`WebStack::hand_over`]) read the dead ones. After the pass's sends, so it holds up
    /// none.
    fn forget_dead_heartbeats(&self, now: i64) {
        housekeep(&self.heartbeats_forgotten_at, 86_400_000, now, || {
            self.stack
                .forget_heartbeats(now.saturating_sub(HEARTBEAT_FORGET_MS))
                .is_ok()
        });
    }

    /// Waits for the answer to the request in flight, renewing `tokens` meanwhile (the
    /// batch being sent, and the one leased behind it).
    fn await_answer(
        &self,
        answers: &mpsc::Receiver<Answer>,
        tokens: &[&str],
        settings: &Settings,
    ) -> Result<Answer> {
        let lease_ms = settings.lease_ms;
        let every = Duration::from_millis((lease_ms / 3).max(10) as u64);
        loop {
            match answers.recv_timeout(every) {
                Ok(a) => return Ok(a),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    self.keep_alive(settings);
                    for t in tokens {
                        // A failed renewal only means the lease may lapse: settlement then
                        // finds the token gone and leaves the groups to the next controller.
                        let _ = self.stack.renew(t, now_ms() + lease_ms);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(Error::new(
                        ErrorKind::Database,
                        "a cart's send thread stopped in the middle of a request",
                    ))
                }
            }
        }
    }

    /// A pass longer than the heartbeat's life (a long backlog, a slow cart) beats again as it
    /// goes, and renews the shared lock it holds: taken for `3 × LeaseMs` at the pass's
    /// start, it lapsed during a pass longer than that, and a second shared controller became
    /// active beside it (until 2026-12-03; leases still kept the two from sending one record).
    /// Failures cost nothing now: the records stay this controller's for another
    /// `3 × LeaseMs`, and the lock is taken again at the next pass.
    fn keep_alive(&self, settings: &Settings) {
        let lease_ms = settings.lease_ms;
        let now = now_ms();
        if now - self.beat_at.load(Ordering::Relaxed) < lease_ms {
            return;
        }
        let workstation = self.workstation.lock().clone();
        let _ = self.beat(&workstation, now);
        let holder = self.holding.lock().clone();
        if let Some(holder) = holder.filter(|_| settings.stack_mode == StackMode::Shared) {
            let until = now
                .saturating_add(3 * lease_ms)
                .saturating_add(self.hold.ms());
            let _ = self.stack.shared_lock(&holder, now, until);
        }
    }

    /// Writes the heartbeat: alive now, and through the pause before its next pass (a local
    /// controller whose pause outlasted `3 × LeaseMs` was taken for dead, and the other
    /// workstations sent its records as theirs).
    fn beat(&self, workstation: &str, now: i64) -> Result<()> {
        self.hold
            .finish_ends(|w, row, to| self.stack.heartbeat_end(w, row, to));
        let declared = now.saturating_add(self.hold.ms());
        self.stack.heartbeat(workstation, declared)?;
        self.beat_at.store(now, Ordering::Relaxed);
        self.hold.beaten(workstation, now, declared);
        Ok(())
    }

    /// Settles `answered` (if any) and, when `more`, leases the cart's next batch, as one
    /// store step. `None` when nothing was leased: nothing due, the cart backs off, or the
    /// pass's budget is spent.
    fn step(
        &self,
        d: &CartDrain<'_>,
        answered: Option<(Batch, Vec<(i64, Transition)>)>,
        more: bool,
        rep: &mut CartReport,
    ) -> Result<Option<Lease>> {
        let now = now_ms();
        self.keep_alive(d.settings);
        // Nothing more through an adapter built before the cart was given another adapter
        // or settings (a save during a long pass): the next pass builds the new one. Until
        // 2026-12-03 the pass went on with the old one, to the old URL or credentials, and a
        // keyed adapter's lost answer was then sent again by a new adapter without keys.
        // The lease looks again in its own transaction (`built_from`): a save can land
        // between this read and it.
        let due = more
            && self
                .stack
                .cart_state_since(d.cart.id, d.cart.config_version)?
                .is_some_and(|s| s.backoff_until <= now);
        // The budget stays locked from before the lease until what it used is taken, so carts
        // draining at once cannot overdraw it, and none finds it empty while another's lease
        // has reserved records it will not use. (Store steps are one at a time anyway.)
        let mut left = d.limits.budget.0.lock();
        // A lease held back by the pass's time or budget (not by an empty or backing-off
        // cart): the pass ends with work it did not do.
        let held_back = due && (self.time_up(d.limits.until) || *left == 0);
        if held_back {
            d.limits.cut_short.store(true, Ordering::Relaxed);
        }
        let take = if due && !held_back {
            (*left).min(d.cart.max_items_to_send as usize)
        } else {
            0
        };
        let next = (take > 0).then_some(NextLease {
            cart: d.cart.id,
            max: take,
            scope: d.scope,
            lease_ms: d.settings.lease_ms,
            built_from: Some(d.cart.config_version),
        });
        let lease = match answered {
            Some((batch, transitions)) => {
                let (held, lease) = self.keeping_answer(batch.keep_until, || {
                    self.stack
                        .settle_and_lease(&batch.token, &transitions, now_ms(), next)
                })?;
                batch.count(&transitions, &held, rep);
                lease
            }
            None => match next {
                Some(n) => Some(self.stack.lease_next(n, now_ms())?),
                None => None,
            },
        };
        // A send group goes whole: records coalesced beyond `take` are taken on top.
        *left = left.saturating_sub(lease.as_ref().map_or(0, Lease::records));
        drop(left);
        // Changes a killed Send QOH's count included, held in doubt by this lease: counted as
        // uncertain, or only the stack listing told the owner there was a cart to check.
        rep.uncertain += lease.as_ref().map_or(0, |l| l.in_doubt);
        Ok(lease.filter(|l| !l.sends.is_empty()))
    }

    /// Releases a batch leased ahead and never sent, and gives its groups back to the budget.
    fn give_back(&self, d: &CartDrain<'_>, lease: Option<Lease>) -> Result<()> {
        if let Some(l) = lease {
            self.stack.release(&l.token)?;
            d.limits.budget.give_back(l.records());
        }
        Ok(())
    }

    /// Drains one cart. Batches are pipelined: while one request is in flight, the batch
    /// answered before it is settled and the next one leased (one store transaction), so the
    /// store's work and the round trip overlap. The next batch is leased ahead only while the
    /// cart answers and can de-duplicate a re-send; a batch leased ahead and then not sent
    /// (the cart failed) is released untouched.
    ///
    /// A drain that fails (a store held past the wait for it) after its store steps recorded
    /// something reports what they recorded with the error: the changes its lease held in
    /// doubt above all, which wait on the owner and which no later pass counts again (until
    /// 2026-12-05 the failed cart's report was made from the error alone, `uncertain` 0).
    fn drain_cart(
        &self,
        cart: &Cart,
        adapter: &dyn CartAdapter,
        settings: &Settings,
        scope: &LeaseScope,
        limits: &PassLimits<'_>,
    ) -> Result<CartReport> {
        let mut rep = CartReport {
            cart_id: cart.id,
            name: cart.name.clone(),
            ..Default::default()
        };
        match self.drain_cart_into(cart, adapter, settings, scope, limits, &mut rep) {
            Ok(()) => Ok(rep),
            Err(e) => {
                let mut error = e.message().to_owned();
                if rep.uncertain > 0 {
                    error.push_str(&format!(
                        "; before that, this pass held {} in doubt (uncertain): the cart may \
                         or may not have them; check the cart, then retry or discard them (the \
                         stack's view lists them as uncertain)",
                        crate::counted(rep.uncertain as i64, "change")
                    ));
                }
                // Counted only once their store step committed (`Batch::count`, the lease).
                Ok(CartReport {
                    sent: rep.sent,
                    retried: rep.retried,
                    bypassed: rep.bypassed,
                    uncertain: rep.uncertain,
                    ..CartReport::failed(cart, &error)
                })
            }
        }
    }

    /// [`Self::drain_cart`]'s work, counting into `rep` as its store steps commit.
    fn drain_cart_into(
        &self,
        cart: &Cart,
        adapter: &dyn CartAdapter,
        settings: &Settings,
        scope: &LeaseScope,
        limits: &PassLimits<'_>,
        rep: &mut CartReport,
    ) -> Result<()> {
        if self.stack.held_until(cart.id)? > now_ms() {
            rep.error = Some(HELD.into());
            return Ok(());
        }
        let state = self.stack.cart_state(cart.id)?;
        if state.backoff_until > now_ms() {
            rep.error = state.cart_error.clone();
            return Ok(());
        }
        // A group a dead controller may already have sent: a cart that cannot de-duplicate
        // must not get it blindly again (DESIGN §4); nor is anything leased ahead for it, as a
        // lease that lapses unsent would look like such a group.
        let blind = !adapter.update_mode().resends_safely();
        let d = CartDrain {
            cart,
            settings,
            scope,
            limits,
        };
        std::thread::scope(|s| {
            let (requests, inbox) = mpsc::channel::<Vec<DeltaSend>>();
            let (outbox, answers) = mpsc::channel::<Answer>();
            s.spawn(move || {
                for deltas in inbox {
                    if outbox.send(adapter.apply_deltas(&deltas)).is_err() {
                        break;
                    }
                }
            });
            let mut queued = self.step(&d, None, true, rep)?;
            let mut answered = None;
            // The cart answered its last request (or is not known to be failing).
            let mut healthy = state.outage_step == 0 && state.cart_error.is_none();
            loop {
                // A batch leased ahead is not sent once a manual Send/Get QOH holds the cart:
                // the manual run waits only for the request already in flight.
                if queued.is_some()
                    && answered.is_some()
                    && self.stack.held_until(cart.id)? > now_ms()
                {
                    self.give_back(&d, queued.take())?;
                    rep.error = Some(HELD.into());
                }
                // Nor once the pass's time is up: a stop waits for the request in flight only.
                if queued.is_some() && self.time_up(d.limits.until) {
                    self.give_back(&d, queued.take())?;
                    d.limits.cut_short.store(true, Ordering::Relaxed);
                }
                let flying = queued.take().map(|lease| Batch::new(cart, lease, blind));
                let sent = flying.as_ref().is_some_and(|b| !b.sending.is_empty());
                if let Some(b) = flying.as_ref().filter(|_| sent) {
                    rep.requests += 1;
                    // The receiver lives until this scope ends.
                    let _ = requests.send(b.deltas());
                }
                let ahead = sent && healthy && !blind;
                if answered.is_some() || ahead {
                    queued = self.step(&d, answered.take(), ahead, rep)?;
                }
                let Some(mut batch) = flying else { break };
                let answer = if sent {
                    let mut tokens = vec![batch.token.as_str()];
                    tokens.extend(queued.as_ref().map(|l| l.token.as_str()));
                    self.await_answer(&answers, &tokens, settings)?
                } else {
                    Ok(Vec::new())
                };
                batch.keep_until = now_ms() + settings.lease_ms;
                let state = self.stack.cart_state(cart.id)?;
                let (transitions, stop) = self.judge(&d, &batch, answer, adapter, &state, rep)?;
                healthy = !stop;
                if stop {
                    // The answer first: a batch leased ahead goes only to a cart with keys,
                    // so one left leased by a busy store is sent again harmlessly.
                    self.step(&d, Some((batch, transitions)), false, rep)?;
                    self.give_back(&d, queued.take())?;
                    break;
                }
                if queued.is_some() {
                    answered = Some((batch, transitions));
                } else {
                    // Nothing was leased ahead (or nothing could be: every waiting record
                    // belonged to an item of this batch, leased until it settles): settle it,
                    // then lease, in one step.
                    queued = self.step(&d, Some((batch, transitions)), true, rep)?;
                }
            }
            drop(requests);
            // A hold taken while a request was in flight makes the next lease come back
            // empty, as if nothing were due: the report says why the cart stopped with records
            // still waiting.
            if rep.error.is_none()
                && self.stack.held_until(cart.id)? > now_ms()
                && self.stack.has_waiting(cart.id)?
            {
                rep.error = Some(HELD.into());
            }
            Ok(())
        })
    }

    /// What an answer means for each group of `batch`; updates the cart's state. Returns the
    /// transitions and whether to stop sending to the cart in this pass.
    fn judge(
        &self,
        d: &CartDrain<'_>,
        batch: &Batch,
        answer: Answer,
        adapter: &dyn CartAdapter,
        state: &CartRunState,
        rep: &mut CartReport,
    ) -> Result<(Vec<(i64, Transition)>, bool)> {
        let (cart, settings) = (d.cart, d.settings);
        let now = now_ms();
        let sending = batch.sending.len();
        let mut stop = false;
        let keyed = adapter.update_mode().resends_safely();
        // Whether the cart may have each send though the answer says nothing of it, were
        // the cart keyed (only a keyed cart's are marked, below).
        let mut lost = vec![false; sending];
        let verdicts: Vec<Verdict> = match answer {
            Ok(outcomes) => {
                // A rate limit another controller recorded while this request was in flight
                // stands: an answer to another request does not lift it. An outage is over once
                // the cart answers, whoever met it.
                let held = state.rate_limited_until.max(state.credentials_paused_until);
                let limited = held > now;
                if limited {
                    stop = true;
                }
                for (i, lost) in lost.iter_mut().enumerate() {
                    *lost = SendOutcome::keyed_answer_lost(outcomes.get(i));
                }
                let verdicts: Vec<Verdict> = (0..sending)
                    .map(|i| match outcomes.get(i) {
                        Some(o) => outcome_verdict(o, !keyed, now),
                        // Not met: the registry's adapters answer a short list as lost.
                        None => Verdict::Retryable("the cart gave no result for this item".into()),
                    })
                    .collect();
                // A wait the cart asked for on items of the call (the built-in adapters' answer
                // to a rate limit met by a later request of it) is the cart's, as one on the
                // whole call: written on the cart, so that every controller honours it.
                let asked = verdicts
                    .iter()
                    .filter_map(|v| match v {
                        Verdict::WaitUntil {
                            until,
                            attempt: false,
                            response,
                        } => Some((*until, response)),
                        _ => None,
                    })
                    .max_by_key(|(until, _)| *until);
                let new_state = match asked {
                    Some((until, response)) => Some(CartRunState {
                        backoff_until: until.max(state.backoff_until),
                        outage_step: state.outage_step,
                        cart_error: Some(response.clone()),
                        rate_limited_until: until.max(state.rate_limited_until),
                        credentials_paused_until: state.credentials_paused_until,
                    }),
                    None if limited => Some(CartRunState {
                        backoff_until: held,
                        outage_step: 0,
                        ..state.clone()
                    }),
                    None if sending > 0
                        && (state.outage_step > 0
                            || state.cart_error.is_some()
                            || state.backoff_until > now) =>
                    {
                        Some(CartRunState::default())
                    }
                    None => None,
                };
                if let Some(new_state) = new_state.filter(|n| n != state) {
                    self.keeping_answer(batch.keep_until, || {
                        self.stack
                            .set_cart_state(batch.cart, batch.config_version, &new_state)
                    })?;
                }
                verdicts
            }
            Err(e) => {
                stop = true;
                let msg = e.message();
                let (verdict, new_state) = match &e {
                    CartError::RateLimited { retry_after, .. } => {
                        // At least a second, as for a wait on items: `Retry-After: 0` (at a
                        // window's edge) left the cart due at once, and every pass asked it
                        // again, counting no attempt, for as long as it answered so.
                        let wait = retry_after
                            .map(millis)
                            .unwrap_or_else(|| backoff_ms(settings, state.outage_step + 1))
                            .max(1000);
                        let until = now.saturating_add(wait);
                        (
                            Verdict::WaitUntil {
                                until,
                                attempt: false,
                                response: msg.clone(),
                            },
                            // The outage's step stays: a cart answering 503 and 429 by turns
                            // is backed off further each time, not from the start.
                            CartRunState {
                                backoff_until: until,
                                outage_step: state.outage_step,
                                cart_error: Some(msg.clone()),
                                rate_limited_until: until.max(state.rate_limited_until),
                                credentials_paused_until: state.credentials_paused_until,
                            },
                        )
                    }
                    CartError::Unauthorized(_) => (
                        Verdict::WaitUntil {
                            until: now,
                            attempt: false,
                            response: msg.clone(),
                        },
                        // A pause no other request's answer lifts: only new settings, its end,
                        // or a manual run the cart answers (`CartWait::answered`).
                        CartRunState {
                            backoff_until: now + settings.retry_max_ms.max(1000),
                            outage_step: state.outage_step,
                            cart_error: Some(format!(
                                "{msg}; {} or settings (updating the cart resumes it){}",
                                CREDENTIALS_PAUSE,
                                refused_env(cart, &self.workstation.lock())
                            )),
                            rate_limited_until: state.rate_limited_until,
                            credentials_paused_until: (now + settings.retry_max_ms.max(1000))
                                .max(state.credentials_paused_until),
                        },
                    ),
                    CartError::Rejected(_) => (Verdict::Permanent(msg.clone()), state.clone()),
                    // The cart is not answering: backed off as an outage (rule 10). To a cart
                    // without keys a lost answer's batch may have landed: uncertain, never
                    // sent again blindly; and the next batch waits for the cart instead of
                    // meeting the same (until 2026-12-03 each pass sent a hung cart without
                    // keys its next batch, and an hour's hang left the whole backlog
                    // uncertain, none of it sent, each record for an operator to check).
                    CartError::Unreachable(_)
                    | CartError::Unavailable(_)
                    | CartError::Ambiguous(_) => {
                        let step = state.outage_step + 1;
                        let until = now + backoff_ms(settings, step);
                        let verdict = match e {
                            CartError::Ambiguous(_) if !keyed => Verdict::Uncertain(msg.clone()),
                            CartError::Ambiguous(_) => {
                                lost.fill(true);
                                Verdict::WaitUntil {
                                    until,
                                    attempt: true,
                                    response: msg.clone(),
                                }
                            }
                            _ => Verdict::WaitUntil {
                                until,
                                attempt: true,
                                response: msg.clone(),
                            },
                        };
                        (
                            verdict,
                            CartRunState {
                                backoff_until: until,
                                outage_step: step,
                                cart_error: Some(msg.clone()),
                                rate_limited_until: state.rate_limited_until,
                                credentials_paused_until: state.credentials_paused_until,
                            },
                        )
                    }
                };
                // A longer wait another controller recorded meanwhile stands: an outage's
                // back-off or another wait does not shorten it; and a rate limit met here
                // stands within it, for when an answer ends that outage.
                let new_state = match state.backoff_until > new_state.backoff_until {
                    true => CartRunState {
                        rate_limited_until: new_state.rate_limited_until,
                        credentials_paused_until: new_state.credentials_paused_until,
                        ..state.clone()
                    },
                    false => new_state,
                };
                if new_state != *state {
                    self.keeping_answer(batch.keep_until, || {
                        self.stack
                            .set_cart_state(batch.cart, batch.config_version, &new_state)
                    })?;
                }
                rep.error = new_state.cart_error.clone();
                vec![verdict; sending]
            }
        };
        // What the cart asked to wait for, counting no attempt (a rate limit on the call or on
        // some of its items, a pause for credentials), is deferred, and ends the cart's pass.
        let deferred: usize = batch
            .sending
            .iter()
            .zip(&verdicts)
            .filter(|(_, v)| matches!(v, Verdict::WaitUntil { attempt: false, .. }))
            .map(|(s, _)| s.records)
            .sum();
        if deferred > 0 {
            stop = true;
            rep.deferred += deferred;
        }
        let lapsed = Verdict::Uncertain(
            "sent before, and its answer never came (a controller stopped while sending it, \
             or the cart's answer was lost), and the cart's adapter cannot tell a change sent \
             again: the cart may or may not have it; check the cart, then retry or discard"
                .into(),
        );
        let transitions = batch
            .sending
            .iter()
            .chain(&batch.held_back)
            .zip(verdicts.into_iter().chain(std::iter::repeat(lapsed)))
            .zip(lost.into_iter().chain(std::iter::repeat(false)))
            .map(|((s, v), lost_now)| {
                let mut t = transition(settings, s.attempts, v, now);
                // Bypassed too: a keyed cart's refusal of the re-send may look like an answer
                // to its key while it is a request's refusal an adapter gave each item of it
                // (a 400 to the second request of three), which says nothing of the lost first
                // send: the mark stays, and an operator checks the cart once (a switch, or an
                // adapter without keys, makes the retried sale uncertain).
                if let Transition::Pending { maybe_applied, .. }
                | Transition::Bypassed { maybe_applied, .. } = &mut t
                {
                    *maybe_applied = keyed && (lost_now || s.lapsed);
                }
                (s.group_id, t)
            })
            .collect();
        Ok((transitions, stop))
    }
}

/// What a cart's error says once the controller paused the cart for refused credentials
/// (a pause kept apart from the cart's waits, `credentials_paused_until`, schema 20, which
/// only new settings, its end, or a manual run the cart answers lift; manual runs are not
/// held by it). Schema 20's migration finds a pause an older build kept by this text.
const CREDENTIALS_PAUSE: &str = "cart paused: fix its credentials";

/// A wait in milliseconds, as long as the store's time stamps can hold: an adapter may ask
/// for any `Duration` (a custom one for `Duration::MAX`), which `as i64` turned into -1 ms,
/// due at once, so the cart was asked again and again.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The records a pass may still take, shared by the carts draining at once. A lease holds
/// its lock from before it until what it used is taken (`StackController::step`).
struct Budget(Mutex<usize>);

impl Budget {
    fn give_back(&self, records: usize) {
        let mut left = self.0.lock();
        *left = left.saturating_add(records);
    }
}

const HELD: &str = "held by a manual Send or Get QOH: nothing is sent until it ends";

/// How a pass of a loop of passes goes ([`StackController::run_within`]).
#[derive(Clone, Copy)]
struct Paced {
    /// How long each drain leases.
    slice: Duration,
    /// How often the other carts are drained again beside a hanging request.
    pace: Duration,
}

/// The carts whose drain in a pass ended (however: a panic too), not yet joined; signalled
/// as each ends.
#[derive(Default)]
struct DrainEnded {
    ended: Mutex<Vec<CartId>>,
    signal: Condvar,
}

impl DrainEnded {
    /// Notes `cart`'s drain ended when the value returned drops, at the end of its thread.
    fn on_drop(&self, cart: CartId) -> impl Drop + '_ {
        struct Ends<'a>(&'a DrainEnded, CartId);
        impl Drop for Ends<'_> {
            fn drop(&mut self) {
                self.0.ended.lock().push(self.1);
                self.0.signal.notify_all();
            }
        }
        Ends(self, cart)
    }

    /// The carts whose drain ended since the last call, once one has, or at `until` (Unix ms).
    fn wait_until(&self, until: i64) -> Vec<CartId> {
        let mut ended = self.ended.lock();
        while ended.is_empty() {
            let left = until.saturating_sub(now_ms());
            if left <= 0 {
                break;
            }
            self.signal
                .wait_for(&mut ended, Duration::from_millis(left as u64));
        }
        std::mem::take(&mut *ended)
    }
}

/// A cart's drain running in a pass.
struct Drain<'scope> {
    cart: Cart,
    /// When it leases no more (Unix ms).
    until: Option<i64>,
    thread: std::thread::ScopedJoinHandle<'scope, Result<CartReport>>,
}

impl Drain<'_> {
    /// Its report; one cart's store error (or panic) does not hide what the others did.
    fn join(self) -> CartReport {
        match self.thread.join() {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => CartReport::failed(&self.cart, e.message()),
            Err(_) => CartReport::failed(&self.cart, "a cart's send thread panicked"),
        }
    }
}

/// Adds `r` to `reports`: to the entry of its cart, as a later drain of it, or as its own.
fn merge_report(reports: &mut Vec<CartReport>, r: CartReport) {
    match reports.iter_mut().find(|c| c.cart_id == r.cart_id) {
        Some(earlier) => earlier.absorb(r),
        None => reports.push(r),
    }
}

/// What bounds a pass, shared by its carts.
struct PassLimits<'a> {
    budget: &'a Budget,
    /// No batch is leased after this (Unix ms).
    until: Option<i64>,
    /// Set when a lease was held back for the pass's time or budget.
    cut_short: &'a AtomicBool,
}

/// What one cart's drain works with.
struct CartDrain<'a> {
    cart: &'a Cart,
    settings: &'a Settings,
    scope: &'a LeaseScope,
    limits: &'a PassLimits<'a>,
}

/// A cart's answer to one request.
type Answer = std::result::Result<Vec<SendOutcome>, CartError>;

/// A leased batch: the groups sent, and those held back (a blind cart's lapsed groups).
struct Batch {
    cart: CartId,
    /// The cart's saving its request was made with ([`Cart::config_version`]).
    config_version: i64,
    token: String,
    sending: Vec<LeasedSend>,
    held_back: Vec<LeasedSend>,
    /// Until when a store too busy to record its answer is asked again (Unix ms; see
    /// `StackController::keeping_answer`): its lease's length from the answer.
    keep_until: i64,
}

impl Batch {
    fn new(cart: &Cart, lease: Lease, blind: bool) -> Batch {
        let (held_back, sending): (Vec<LeasedSend>, Vec<LeasedSend>) =
            lease.sends.into_iter().partition(|s| blind && s.lapsed);
        Batch {
            cart: cart.id,
            config_version: cart.config_version,
            token: lease.token,
            sending,
            held_back,
            keep_until: 0,
        }
    }

    /// What the request carries: the groups sent.
    fn deltas(&self) -> Vec<DeltaSend> {
        self.sending
            .iter()
            .map(|s| DeltaSend {
                key: s.key.clone(),
                sku: s.sku.clone(),
                remote_ref: s.remote_ref.clone(),
                delta: s.delta,
            })
            .collect()
    }

    /// Adds the transitions settled under the batch's lease to the cart's report; a group
    /// whose lease lapsed and that another controller took is that controller's to report.
    fn count(&self, transitions: &[(i64, Transition)], held: &[i64], rep: &mut CartReport) {
        for (send, (_, t)) in self.sending.iter().chain(&self.held_back).zip(transitions) {
            if !held.contains(&send.group_id) {
                continue;
            }
            let n = send.records;
            match t {
                Transition::Leave { .. } => rep.sent += n,
                Transition::Pending { attempts, .. } | Transition::Refused { attempts, .. } => {
                    if send.attempts < *attempts {
                        rep.retried += n;
                    }
                }
                Transition::Bypassed { .. } => rep.bypassed += n,
                Transition::Uncertain { .. } => rep.uncertain += n,
            }
        }
    }
}

/// Classifies one per-item outcome of a successful request. To a cart that cannot take a
/// change twice (`unkeyed`), a `Retry` or a `Conflict` applied nothing: the change goes again
/// with the item's later ones (`Verdict::Refused`).
fn outcome_verdict(o: &SendOutcome, unkeyed: bool, now: i64) -> Verdict {
    let not_applied = |message: String| match unkeyed {
        true => Verdict::Refused(message),
        false => Verdict::Retryable(message),
    };
    match o {
        SendOutcome::Applied { qoh } => Verdict::Applied(match qoh {
            // Not `format!`: its machinery cost 540 instructions a record of the drain
            // (2026-12-05, callgrind); the text is the same.
            Some(q) => {
                let mut text = String::with_capacity(48);
                text.push_str("applied; cart count now ");
                text.push_str(&q.to_string());
                text
            }
            None => "applied".into(),
        }),
        // The cart's own wait (a rate limit on a later request of the call): rule 10 counts
        // no attempt for it, as for a rate limit on the whole call.
        SendOutcome::Retry {
            message,
            after: Some(d),
        } => Verdict::WaitUntil {
            // At least a second: a wait of 0 (`Retry-After: 0` at a window's edge) would be
            // due again at once, and a pass would send it again and again.
            until: now.saturating_add(millis(*d).max(1000)),
            attempt: false,
            response: message.clone(),
        },
        SendOutcome::Retry {
            message,
            after: None,
        } => not_applied(message.clone()),
        SendOutcome::Failed { message } => Verdict::Permanent(message.clone()),
        // A compare-and-set that found another count wrote nothing: read again next time.
        SendOutcome::Conflict { current } => not_applied(format!(
            "the cart's count changed meanwhile (now {current}); nothing was written"
        )),
        SendOutcome::Uncertain { message } => Verdict::Uncertain(message.clone()),
    }
}

/// What the background controller is doing, for `invsync_controller_status`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ControllerStatus {
    /// Whether its thread runs.
    pub running: bool,
    /// Passes made.
    pub passes: u64,
    /// When the last pass ended (Unix ms).
    pub last_pass_at: Option<i64>,
    /// The last pass's error, if it failed.
    pub last_error: Option<String>,
    /// The kind of `last_error` (from 2026-12-05), so a host can tell a pass that met the
    /// store busy ([`ErrorKind::Busy`]: another workstation held the file; the next pass
    /// tries again by itself) from one the owner must see ([`ErrorKind::Database`]: a full
    /// disk, a damaged file) without reading the message. `None` with `last_error` set: the
    /// pass panicked.
    pub last_error_kind: Option<ErrorKind>,
    /// When the thread last showed life (Unix ms).
    pub heartbeat: Option<i64>,
    /// The last pass's report.
    pub last_report: Option<RunReport>,
}

/// A running background controller.
pub(crate) struct ControllerHandle {
    stop: Option<mpsc::Sender<()>>,
    thread: std::thread::JoinHandle<()>,
    status: Arc<Mutex<ControllerStatus>>,
    controller: Arc<StackController<SqliteStack>>,
}

impl ControllerHandle {
    /// Ends the pass under way after the requests in flight (not after the whole backlog),
    /// and waits for the thread.
    pub(crate) fn stop(mut self) {
        self.signal();
        let _ = self.thread.join();
        self.status.lock().running = false;
    }

    /// Its writes wait no longer than the busy timeout: its handle is closing.
    pub(crate) fn impatient(&self) {
        self.controller.stack().wait_out_busy(false);
    }

    /// Tells the thread to end after the requests in flight, without waiting for it: a
    /// handle inside its own transaction holds the write lock the thread needs to settle
    /// their answers, so it waits for the thread only once that ends ([`Store::commit`],
    /// [`Store::rollback`], closing).
    pub(crate) fn signal(&mut self) {
        self.controller.stop_soon();
        self.stop.take();
    }
}

/// How long a background pass leases batches: a slow cart's backlog yields to the other
/// carts' new records at least this often, and a stop waits for no more than the requests in
/// flight.
const PASS_SLICE: Duration = Duration::from_secs(1);

impl Store {
    /// A controller of this handle, on a connection of its own.
    fn new_controller(&self) -> Result<StackController<SqliteStack>> {
        let stack = SqliteStack::open(&self.inner.path, &self.inner.options)?;
        Ok(
            StackController::new(stack, self.inner.adapters.clone(), self.workstation())?
                .of_handle(self.inner.lock_hold.clone(), self.inner.workstation.clone()),
        )
    }

    fn controller(&self) -> Result<Arc<StackController<SqliteStack>>> {
        let mut slot = self.inner.controller.lock();
        let ctl = match &*slot {
            Some(c) => c.clone(),
            None => {
                let c = Arc::new(self.new_controller()?);
                *slot = Some(c.clone());
                c
            }
        };
        Ok(ctl)
    }

    /// One pass of the stack controller over due records, at most `max_records` (`None`: all
    /// that are due). Runs on the controller's own connection; refused inside a host
    /// transaction.
    pub fn run_stack(&self, max_records: Option<usize>) -> Result<RunReport> {
        self.forget_report();
        self.refuse_in_host_transaction("running the stack")?;
        let report = self.controller()?.run_once(max_records)?;
        self.remember_report(report.to_json());
        Ok(report)
    }

    /// [`Store::run_stack`] whose pass leases no more batches once `within` has passed (each
    /// cart then ends after the request it has in flight): for a caller that runs passes for
    /// good, so that one slow cart's long backlog never holds up the other carts' new records
    /// for longer than that.
    pub fn run_stack_within(
        &self,
        max_records: Option<usize>,
        within: Duration,
    ) -> Result<RunReport> {
        self.forget_report();
        self.refuse_in_host_transaction("running the stack")?;
        let report = self.controller()?.run_within(max_records, within)?;
        self.remember_report(report.to_json());
        Ok(report)
    }

    /// Says that this handle runs passes itself (`run_stack_within` in a loop) every
    /// `interval` at most, as `invsync controller` does: in `shared` mode its controller then
    /// holds the store's lock for `interval` beyond `3 × LeaseMs` a pass, and in `local` mode
    /// its heartbeat lasts as long, so that another workstation's controller does not take
    /// over between its passes. (A background controller, [`Store::start_controller`], does
    /// this by itself.)
    ///
    /// `interval` is 1 ms to 1 hour, as for a background controller.
    ///
    /// A C host declares it with the parameter `PassIntervalMs` (this handle only).
    pub fn hold_shared_lock_between_passes(&self, interval: Duration) -> Result<()> {
        self.declare_pass_interval_ms(check_interval(interval)?);
        Ok(())
    }

    /// The pause declared between this handle's own passes (0: none).
    pub(crate) fn declared_pass_interval_ms(&self) -> i64 {
        self.inner.lock_hold.declared_ms.load(Ordering::Relaxed)
    }

    /// Declares the pause between this handle's own passes; a shorter one than before takes
    /// effect at once on the heartbeat already written.
    pub(crate) fn declare_pass_interval_ms(&self, ms: i64) {
        self.inner
            .lock_hold
            .declared_ms
            .store(ms, Ordering::Relaxed);
        self.inner
            .lock_hold
            .shorten_pauses(|w, row, to| self.write_pause_end(w, row, to));
    }

    /// Starts the stack controller on a background thread, a pass every `interval` (at once
    /// while a pass ends with records due: passes lease batches for at most a second each, so
    /// a slow cart's backlog yields to the other carts' new records). Refused when one runs
    /// already on this handle.
    ///
    /// `interval` is 1 ms to 1 hour ([`ErrorKind::InvalidArgument`] otherwise); one
    /// second, as `invsync controller` uses, suits a till. A pass that fails (a busy store, a
    /// cart that cannot be reached) does not stop the thread: the next pass tries again, and
    /// [`Store::controller_status`] holds the last pass's error until a pass succeeds. At
    /// shutdown call [`Store::stop_controller`] (dropping the `Store` does the same): it
    /// returns once the requests in flight are answered and settled, so no answer is lost.
    pub fn start_controller(&self, interval: Duration) -> Result<()> {
        let mut bg = self.inner.background.lock();
        if bg.as_ref().is_some_and(|h| !h.thread.is_finished()) {
            return Err(Error::refused(
                "the stack controller already runs on this handle",
            ));
        }
        if !self.inner.stopping.lock().is_empty() {
            if self.in_host_transaction() {
                return Err(Error::refused(
                    "the stack controller stopped inside this transaction is still ending: \
                     commit or roll back first",
                ));
            }
            self.inner.join_stopped();
        }
        let interval_ms = check_interval(interval)?;
        let ctl = self.new_controller()?;
        self.inner
            .lock_hold
            .background_ms
            .store(interval_ms, Ordering::Relaxed);
        let ctl = Arc::new(ctl);
        let controller = ctl.clone();
        let status = Arc::new(Mutex::new(ControllerStatus {
            running: true,
            ..Default::default()
        }));
        let (stop, rx) = mpsc::channel::<()>();
        let st = status.clone();
        /// Marks the status stopped however the thread ends.
        struct Ended(Arc<Mutex<ControllerStatus>>);
        impl Drop for Ended {
            fn drop(&mut self) {
                self.0.lock().running = false;
            }
        }
        let ended = Ended(status.clone());
        let thread = std::thread::Builder::new()
            .name("invsync-controller".into())
            .spawn(move || loop {
                let _ended = &ended;
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    ctl.run_paced(None, PASS_SLICE, interval)
                }));
                // A pass whose slice ended with records waiting goes on at once (it worked
                // for its whole slice, so this never spins); any other waits the interval.
                let busy = matches!(&result, Ok(Ok(r)) if r.cut_short && r.remaining > 0);
                {
                    let mut s = st.lock();
                    let now = now_ms();
                    s.passes += 1;
                    s.last_pass_at = Some(now);
                    s.heartbeat = Some(now);
                    (s.last_error, s.last_error_kind) = match result {
                        Ok(Ok(r)) => {
                            s.last_report = Some(r);
                            (None, None)
                        }
                        Ok(Err(e)) => (Some(e.message().to_owned()), Some(e.kind())),
                        Err(_) => (Some("a controller pass panicked".into()), None),
                    };
                }
                let wait = if busy { Duration::ZERO } else { interval };
                if !matches!(rx.recv_timeout(wait), Err(mpsc::RecvTimeoutError::Timeout)) {
                    break;
                }
            })
            .map_err(|e| {
                Error::new(
                    ErrorKind::Database,
                    format!("cannot start the controller thread: {e}"),
                )
            })?;
        if let Some(old) = bg.take() {
            old.stop();
        }
        *self.inner.controller_status.lock() = Some(status.clone());
        *bg = Some(ControllerHandle {
            stop: Some(stop),
            thread,
            status,
            controller,
        });
        Ok(())
    }

    /// Stops the background controller once the requests it has in flight are answered and
    /// settled; a no-op when none runs. Its status stays readable meanwhile, and a start
    /// waits for the stop. Inside this handle's transaction it returns at once: settling
    /// needs the write lock the transaction holds, so the controller ends, and is waited for,
    /// when the transaction ends (a start before then is refused).
    pub fn stop_controller(&self) {
        let mut bg = self.inner.background.lock();
        if let Some(mut h) = bg.take() {
            // Its interval no longer holds: the background controller, going, shortens its
            // pause to what the handle still declares (a host's own timer).
            self.inner
                .lock_hold
                .background_ms
                .store(0, Ordering::Relaxed);
            if self.in_host_transaction() {
                h.controller.stack().wait_out_busy(true);
                h.signal();
                self.inner.stopping.lock().push(h);
            } else {
                h.stop();
            }
            // A foreground pass since declared the background's pause too.
            self.inner
                .lock_hold
                .shorten_pauses(|w, row, to| self.write_pause_end(w, row, to));
        }
    }

    /// The background controller's status (the last one's, once stopped).
    pub fn controller_status(&self) -> ControllerStatus {
        let status = self.inner.controller_status.lock().clone();
        status.map(|s| s.lock().clone()).unwrap_or_default()
    }
}

#[cfg(all(test, feature = "emulator"))]
mod tests {
    use super::*;
    use crate::adapter::UpdateMode;
    use crate::emulator::Emulator;
    use crate::items::{Adjustment, Delta, Reason};
    use crate::stack::SqliteStack;

    fn adjust(store: &Store, sku: &str) {
        let delta = Delta::new(-1).unwrap();
        store
            .adjust_qoh(&Adjustment::new(sku, delta, Reason::PosSale))
            .unwrap();
    }

    /// A cart whose every request waits for the test's word; it counts its requests.
    struct Gate {
        entered: std::sync::mpsc::SyncSender<()>,
        release: Mutex<std::sync::mpsc::Receiver<()>>,
        calls: std::sync::atomic::AtomicUsize,
    }

    impl CartAdapter for Gate {
        fn update_mode(&self) -> UpdateMode {
            UpdateMode::RelativeKeyed
        }
        fn apply_deltas(
            &self,
            d: &[DeltaSend],
        ) -> std::result::Result<Vec<SendOutcome>, CartError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let _ = self.entered.try_send(());
            // Bounded, so that a regression fails the test instead of hanging it.
            let _ = self.release.lock().recv_timeout(Duration::from_secs(10));
            Ok(d.iter()
                .map(|_| SendOutcome::Applied { qoh: None })
                .collect())
        }
        fn set_quantities(
            &self,
            _: &[crate::adapter::QuantitySet],
        ) -> std::result::Result<Vec<SendOutcome>, CartError> {
            Err(CartError::Rejected("not in this test".into()))
        }
        fn fetch_quantities(
            &self,
            _: Option<&str>,
            _: u32,
        ) -> std::result::Result<crate::adapter::QuantityPage, CartError> {
            Err(CartError::Rejected("not in this test".into()))
        }
    }

    /// A store whose one cart, on a [`Gate`], sends one item a request, with a record waiting
    /// for each of `items` items; the gate, how to see a request enter it, and how to let it
    /// answer.
    fn gated_store(
        items: usize,
    ) -> (
        tempfile::TempDir,
        Store,
        Arc<Gate>,
        std::sync::mpsc::Receiver<()>,
        std::sync::mpsc::Sender<()>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store.db")).unwrap();
        store.set_param("SynchQOH", "true").unwrap();
        let (entered, on_entered) = std::sync::mpsc::sync_channel(16);
        let (release, on_release) = std::sync::mpsc::channel();
        let gate = Arc::new(Gate {
            entered,
            release: Mutex::new(on_release),
            calls: std::sync::atomic::AtomicUsize::new(0),
        });
        let g = gate.clone();
        store.register_adapter("gate", move |_| Ok(g.clone() as Arc<dyn CartAdapter>));
        let cart = store
            .upsert_cart_json(
                r#"{"name":"Gate","adapter":"gate","max_items_to_send":1,
                    "capabilities":{"send":true,"get":true,"realtime":"attribute"}}"#,
            )
            .unwrap();
        store.set_cart_sync(cart, true).unwrap();
        for i in 0..items {
            let sku = format!("G{i}");
            store
                .upsert_item_json(&format!(r#"{{"sku":"{sku}","qoh":10}}"#))
                .unwrap();
            adjust(&store, &sku);
        }
        (dir, store, gate, on_entered, release)
    }

    /// A real-time cart named `name` on the loopback emulator `emu`, batches of 50, on.
    fn emulator_cart(store: &Store, emu: &Emulator, name: &str) -> CartId {
        let cart = store
            .upsert_cart_json(&format!(
                r#"{{"name":"{name}","adapter":"http_json","url":"{}","max_items_to_send":50,
                    "capabilities":{{"send":true,"get":true,"realtime":"attribute"}}}}"#,
                emu.url()
            ))
            .unwrap();
        store.set_cart_sync(cart, true).unwrap();
        cart
    }

    /// A stop waits for the request in flight, never sends the batch leased behind it, and
    /// gives that batch back: the next controller sends it.
    #[test]
    fn a_stopping_pass_sends_nothing_after_the_request_in_flight() {
        let (_dir, store, gate, on_entered, release) = gated_store(5);
        let registry = store.inner.adapters.clone();
        let stack = SqliteStack::open(store.path(), &crate::store::OpenOptions::default()).unwrap();
        let ctl = StackController::new(stack, registry, "W".into()).unwrap();
        std::thread::scope(|s| {
            let pass = s.spawn(|| ctl.run_once(None).unwrap());
            on_entered.recv().unwrap();
            ctl.stop_soon();
            release.send(()).unwrap();
            let report = pass.join().unwrap();
            assert_eq!(report.sent, 1, "{report}");
            assert!(report.cut_short);
        });
        assert_eq!(
            gate.calls.load(Ordering::SeqCst),
            1,
            "nothing after the stop"
        );
        // The batch leased behind it was given back: a new controller sends the rest now.
        for _ in 0..4 {
            release.send(()).unwrap();
        }
        let report = store.run_stack(None).unwrap();
        assert_eq!((report.sent, report.remaining), (4, 0), "{report}");
    }

    /// A cart whose request hangs (a slow shop, up to the request's time-out of 30 s) does not
    /// hold the other carts' new sales until it answers: while it hangs, the background
    /// controller drains the other carts again every interval. A pass joined every cart's
    /// drain before the next began, so a sale made meanwhile waited for the slow shop, and the
    /// other shops oversold it.
    #[test]
    fn a_hanging_request_does_not_hold_up_another_carts_new_sales() {
        let (_dir, store, gate, on_entered, release) = gated_store(1);
        let emu = Emulator::start().unwrap();
        emulator_cart(&store, &emu, "Fast");
        store.upsert_item_json(r#"{"sku":"NEW","qoh":10}"#).unwrap();
        emu.set_qoh("NEW", 10);
        store.start_controller(Duration::from_millis(10)).unwrap();
        on_entered.recv().unwrap();
        adjust(&store, "NEW");
        // Bounded, so that a regression fails instead of hanging; the gate stays shut
        // throughout, so the sale can only have gone beside the hanging request.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while emu.qoh("NEW") != Some(9) && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        let landed = emu.qoh("NEW");
        assert_eq!(
            gate.calls.load(Ordering::SeqCst),
            1,
            "the gate is still shut"
        );
        // Its request, and the gate cart's own record of the new sale.
        release.send(()).unwrap();
        release.send(()).unwrap();
        store.stop_controller();
        assert_eq!(landed, Some(9), "the sale waited for the hanging request");
        assert_eq!(store.run_stack(None).unwrap().remaining, 0);
    }

    /// The same once the first carts' drains have ended: a cart drained again beside the
    /// hanging one whose own request then hangs does not hold the others either. (The
    /// rounds ended with the pass's first drains, and the pass then waited for that request.)
    #[test]
    fn a_request_hanging_in_a_later_round_does_not_hold_up_the_others() {
        let (_dir, store, gate, on_entered, release) = gated_store(1);
        let (entered2, on_entered2) = std::sync::mpsc::sync_channel(16);
        let (release2, on_release2) = std::sync::mpsc::channel();
        let gate2 = Arc::new(Gate {
            entered: entered2,
            release: Mutex::new(on_release2),
            calls: std::sync::atomic::AtomicUsize::new(0),
        });
        let g2 = gate2.clone();
        store.register_adapter("gate2", move |_| Ok(g2.clone() as Arc<dyn CartAdapter>));
        let emu = Emulator::start().unwrap();
        let g2 = store
            .upsert_cart_json(
                r#"{"name":"Gate2","adapter":"gate2","max_items_to_send":1,
                    "capabilities":{"send":true,"get":true,"realtime":"attribute"}}"#,
            )
            .unwrap();
        store.set_cart_sync(g2, true).unwrap();
        emulator_cart(&store, &emu, "Fast");
        for sku in ["B", "C"] {
            store
                .upsert_item_json(&format!(r#"{{"sku":"{sku}","qoh":10}}"#))
                .unwrap();
            emu.set_qoh(sku, 10);
        }
        let bounded = |what: &str, cond: &dyn Fn() -> bool| {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while !cond() && std::time::Instant::now() < deadline {
                std::thread::yield_now();
            }
            assert!(cond(), "{what}");
        };
        // A host's pass of a loop of passes, with a slice of half a second: the first gate's
        // request outlasts it.
        let registry = store.inner.adapters.clone();
        let stack = SqliteStack::open(store.path(), &crate::store::OpenOptions::default()).unwrap();
        let ctl = StackController::new(stack, registry, "W".into()).unwrap();
        let report = std::thread::scope(|s| {
            let pass = s.spawn(|| ctl.run_within(None, Duration::from_millis(500)).unwrap());
            on_entered
                .recv_timeout(Duration::from_secs(10))
                .expect("the first gate entered");
            // Beside the first gate's hanging request, B goes to the fast cart, and to the
            // second gate, whose request hangs in turn.
            adjust(&store, "B");
            on_entered2
                .recv_timeout(Duration::from_secs(10))
                .expect("the second gate entered");
            bounded("B beside the first hang", &|| emu.qoh("B") == Some(9));
            // The first gate answers from now on: its first drain ends (its slice is long
            // over), and it is drained again (B) beside the second gate's hanging request.
            for _ in 0..4 {
                release.send(()).unwrap();
            }
            bounded("the first gate drained again", &|| {
                gate.calls.load(Ordering::SeqCst) >= 2
            });
            adjust(&store, "C");
            bounded("C beside the second hang", &|| emu.qoh("C") == Some(9));
            assert_eq!(
                gate2.calls.load(Ordering::SeqCst),
                1,
                "the second gate is still shut"
            );
            for _ in 0..4 {
                release2.send(()).unwrap();
            }
            pass.join().unwrap()
        });
        // One entry a cart, whatever its drains in the pass.
        let fast = report.carts.iter().find(|c| c.name == "Fast").unwrap();
        assert_eq!(fast.sent, 2, "{report}");
        assert_eq!(report.carts.len(), 3, "{report}");
        assert_eq!(store.run_stack(None).unwrap().remaining, 0);
    }

    /// A host's status screen keeps answering while a stop waits for the request in flight.
    #[test]
    fn the_status_is_readable_while_a_stop_waits_for_a_request() {
        let (_dir, store, _gate, on_entered, release) = gated_store(1);
        store.start_controller(Duration::from_millis(10)).unwrap();
        on_entered.recv().unwrap();
        std::thread::scope(|s| {
            let stopper = s.spawn(|| store.stop_controller());
            // The stop has begun once it holds the handle's controller slot; it holds it
            // until the gate lets the request answer.
            while !store.inner.background.is_locked() {
                std::thread::yield_now();
            }
            assert!(
                store.controller_status().running,
                "read while the stop waits, not after it"
            );
            release.send(()).unwrap();
            stopper.join().unwrap();
        });
        let status = store.controller_status();
        assert!(!status.running);
        assert_eq!(status.last_report.map(|r| r.sent), Some(1));
    }

    /// Where SQLite shares one page cache among all connections of a process
    /// (libsqlite3-sys's default build), the pages an idle controller held starved the host's
    /// transactions of theirs: there the controller's connection closes after a pass that had
    /// work (unless its caller drains in steps), and opens again for the next pass, which
    /// loses nothing.
    #[test]
    fn a_controller_gives_back_its_connection_after_a_pass_with_work() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let store = Store::open(&path).unwrap();
        store.set_param("SynchQOH", "true").unwrap();
        let emu = Emulator::start().unwrap();
        emulator_cart(&store, &emu, "Shop");
        let n = 300;
        store.begin().unwrap();
        for i in 0..n {
            let sku = format!("SKU-{i:05}");
            emu.set_qoh(&sku, 10);
            store
                .upsert_item_json(&format!(r#"{{"sku":"{sku}","qoh":10}}"#))
                .unwrap();
            adjust(&store, &sku);
        }
        store.commit().unwrap();
        let stack = SqliteStack::open_closing(&path, &store.inner.options).unwrap();
        let ctl = StackController::new(stack, store.inner.adapters.clone(), "ws".into()).unwrap();

        let report = ctl.run_once(Some(100)).unwrap();
        assert_eq!(
            (report.sent, report.remaining),
            (100, n as i64 - 100),
            "{report}"
        );
        assert!(
            ctl.stack().is_open(),
            "kept while its caller drains in steps"
        );
        let report = ctl.run_once(None).unwrap();
        assert_eq!((report.sent, report.remaining), (n - 100, 0), "{report}");
        assert!(!ctl.stack().is_open(), "closed after a pass with work");

        let idle = ctl.run_once(None).unwrap();
        assert_eq!(idle.sent, 0, "{idle}");
        assert!(
            ctl.stack().is_open(),
            "kept after a pass that found nothing"
        );

        adjust(&store, "SKU-00007");
        let report = ctl.run_once(None).unwrap();
        assert_eq!((report.sent, report.remaining), (1, 0), "{report}");
        assert!(!ctl.stack().is_open());
        assert_eq!(emu.qoh("SKU-00007"), Some(8));

        // A budget not spent, with records left only on a cart that does not answer: the pass
        // is over all the same.
        let down = store
            .upsert_cart_json(
                r#"{"name":"Down","adapter":"http_json","url":"http://127.0.0.1:9/",
                    "capabilities":{"send":true,"get":true,"realtime":"attribute"}}"#,
            )
            .unwrap();
        store.set_cart_sync(down, true).unwrap();
        adjust(&store, "SKU-00008");
        let report = ctl.run_once(Some(100)).unwrap();
        assert_eq!((report.sent, report.remaining), (1, 1), "{report}");
        assert!(
            !ctl.stack().is_open(),
            "closed: the budget was not what stopped it"
        );
    }
}
