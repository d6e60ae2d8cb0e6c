//! The web stack: the durable outbox of deltas waiting for each cart (DESIGN §7), and the
//! state machine every record follows.
//!
//! # Record states
//!
//! ```text
//!              lease                      cart applied / key was a duplicate
//!   pending ─────────▶ leased ──────────────────────────────────────────▶ applied (leaves)
//!      ▲                 │  retryable failure, attempts < limit
//!      └─────────────────┤  (or a 429 / Retry-After wait: no attempt counted)
//!                        │  attempts reach BypassAfterAttempts, or a permanent failure
//!                        ├──────────────────────────────────────────────▶ bypassed
//!                        │  sent without a key and no answer: cannot be re-sent blindly
//!                        └──────────────────────────────────────────────▶ uncertain
//!   pending ── Send QOH reads the item's absolute count ───────────────▶ superseded (leaves)
//!   pending ── a refused change and the item's later ones cancel out ──▶ netted (leaves)
//!   pending / bypassed ── may be on the cart, and only its key would tell ─▶ uncertain
//!   bypassed / uncertain ── operator retry ─▶ pending;  ── discard ─▶ leaves
//! ```
//!
//! The line before the operator's holds back, for the owner to check the cart, a change that
//! may already be on it where a re-send could not be told from it: the cart's adapter is
//! replaced (the new one does not know the old one's keys), a lease of a send to a cart
//! without keys lapsed before its answer was settled, or a Send QOH ended before it recorded
//! whether the cart took a count that included the change (changes that cancel out there
//! leave as superseded instead).
//!
//! [`transition`] is the one place that decides what a *send's result* does to its group.
//! The other moves are not decided there (a departure from DESIGN §7's "enforced in one
//! place", since the state machine was written): the operator's retry and discard, Send
//! QOH's superseding and the holds of the line above are written by the storage module
//! (`store::sql`) where the event happens, in the transaction of what caused it.
//!
//! Records are sent in *send groups*: on first lease, the pending records of one (cart, item,
//! workstation) become one group with a random idempotency key and their net change, saved
//! before the first attempt; every retry re-sends exactly that payload under that key, and
//! records that arrive later form a new group. Departures from DESIGN §4: a group is per
//! workstation too (a local controller sends only its own workstation's records, and a
//! shared one groups one workstation's changes of an item only up to another's made between
//! them, so each cart gets an item's changes in the order they were made); the first attempts
//! of a lease are saved as one batch row with a random key and a random 48-bit salt, each
//! item's key derived from them (the batch key's last 12 hex digits replaced by the item's
//! id XOR the salt: as random as a key of its own, never repeated by a row id or a restored
//! backup), and an item gets a group row of its own only if its send fails; and a change a
//! cart without keys refused as it stands goes again with the item's changes made since,
//! netted in ([`Verdict::Refused`]). A group's outcome settles all its members.
//! "Leased" is a group holding a live lease token; a result is settled only under the token
//! that leased it, so a controller whose lease expired (crashed, or merely slow) cannot
//! overwrite what the next controller did.

use crate::carts::{Cart, CartId};
use crate::error::{Error, Result};
use crate::items::{filter_limit, filter_number, parse_filter, ItemId, Reason};
use crate::params::Settings;
use crate::store::{self, sql, Store};
use parking_lot::Mutex;
use rusqlite::Connection;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A record to queue (internal: records are only made by the one QOH-change path).
pub(crate) struct NewRecord<'a> {
    pub cart_id: CartId,
    pub item_id: ItemId,
    pub delta: i64,
    pub reason: Reason,
    pub origin_cart_id: Option<CartId>,
    pub workstation: &'a str,
}

/// The states a host can count and filter by (the C ABI's numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackState {
    /// Pending, leased, or waiting to retry.
    Waiting = 1,
    /// Failed too often, or permanently: kept, visible, not retried until an operator says so.
    Bypassed = 2,
    /// May or may not have reached the cart; needs an operator or the drift report.
    Uncertain = 3,
}

impl StackState {
    /// The state with C ABI number `n`.
    pub fn from_code(n: i64) -> Result<StackState> {
        match n {
            1 => Ok(StackState::Waiting),
            2 => Ok(StackState::Bypassed),
            3 => Ok(StackState::Uncertain),
            _ => Err(Error::invalid(format!(
                "unknown stack state {n} (1 waiting, 2 bypassed, 3 uncertain)"
            ))),
        }
    }
    pub(crate) fn group_state(self) -> &'static str {
        match self {
            StackState::Waiting => "pending",
            StackState::Bypassed => "bypassed",
            StackState::Uncertain => "uncertain",
        }
    }
}

/// Which records a controller may lease (DESIGN §7, local vs shared).
#[derive(Debug, Clone)]
pub struct LeaseScope {
    /// The controller's workstation.
    pub workstation: String,
    /// Shared controllers send everyone's records.
    pub shared: bool,
    /// In local mode, another workstation's records are sent when its heartbeat is older.
    pub stale_before: i64,
}

/// One send of a lease: a send group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeasedSend {
    /// The group's id; for an item's first attempt (sent in the lease's batch, with no group
    /// of its own until it fails), minus the item's id.
    pub group_id: i64,
    /// The group's random idempotency key, the same on every attempt.
    pub key: String,
    /// The item's id.
    pub item_id: ItemId,
    /// The item's SKU.
    pub sku: String,
    /// The cart's reference for the item.
    pub remote_ref: Option<String>,
    /// The group's net change.
    pub delta: i64,
    /// Attempts so far.
    pub attempts: i64,
    /// How many stack records the group settles.
    pub records: usize,
    /// The cart may already have it: a controller leased this group before and stopped
    /// without settling it, or the answer to a send of it through a keyed adapter was lost
    /// ([`Transition::Pending`]'s `maybe_applied`). Only a re-send under its key is safe.
    pub lapsed: bool,
}

/// Records leased under one token.
#[derive(Debug, Clone)]
pub struct Lease {
    /// The random lease token; results settle only under it.
    pub token: String,
    /// The groups to send, oldest first.
    pub sends: Vec<LeasedSend>,
    /// Records of the cart the lease marked uncertain before taking anything: a Send QOH's
    /// count included them, and its run ended before it recorded the cart's answer, so the
    /// cart may or may not have them (`sql::counts_left`). The controller counts them in its
    /// report's `uncertain`, for the owner to check the cart; nothing of them is sent. 0 from
    /// a stack that holds nothing back so.
    pub in_doubt: usize,
}

impl Lease {
    /// The stack records its groups settle.
    pub fn records(&self) -> usize {
        self.sends.iter().map(|s| s.records).sum()
    }
}

/// What a send's result means for its group (computed by [`transition`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// The cart has it: the members leave the stack, logged with this outcome.
    Leave {
        /// `applied`, `superseded`, `discarded`, `netted`.
        outcome: &'static str,
        /// The cart's answer.
        response: String,
    },
    /// Back to pending, due at `next_attempt_at`.
    Pending {
        /// Attempts after this one.
        attempts: i64,
        /// When it is due.
        next_attempt_at: i64,
        /// What the cart said.
        response: String,
        /// The cart may have it already: an answer to a send of it through a keyed adapter
        /// was lost, and only a re-send under its key is safe. Kept with the group until it
        /// leaves the stack, so that an adapter without keys (registered in its place, after
        /// a restart, or by a save) holds it back as uncertain rather than sending it again
        /// as new. [`transition`] leaves it `false`; the controller sets it.
        maybe_applied: bool,
    },
    /// Back to pending, due at `next_attempt_at`, the cart having applied nothing of it (it
    /// refused the change as it stands): when it goes again, the item's changes made since
    /// go with it, netted (see [`Verdict::Refused`]).
    Refused {
        /// Attempts after this one.
        attempts: i64,
        /// When it is due.
        next_attempt_at: i64,
        /// What the cart said.
        response: String,
    },
    /// Kept, not retried until an operator says so.
    Bypassed {
        /// Attempts after this one.
        attempts: i64,
        /// What the cart said.
        response: String,
        /// As [`Transition::Pending`]'s: the cart may have it already. Kept while it waits
        /// for an operator, so that a save replacing the cart's adapter with one without keys
        /// makes it uncertain (until 2026-12-04 a bypass forgot it, and an operator's retry
        /// after such a switch sent the sale again as new).
        maybe_applied: bool,
    },
    /// May or may not have been applied.
    Uncertain {
        /// Attempts after this one.
        attempts: i64,
        /// What is known.
        response: String,
    },
}

/// What happened to one send, as the controller classifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Applied (or a duplicate key).
    Applied(String),
    /// A failure worth retrying: counts as an attempt.
    Retryable(String),
    /// The cart applied nothing and may take it later, as a change of its own (a sale that
    /// would take its count below 0, which it cannot hold, before the order that explains it
    /// is imported; a compare that found another count): an attempt, as `Retryable`, and
    /// when it goes again the item's changes made since go with it, netted. Sent alone again
    /// and again, it was bypassed, and the correction the import then queued (which takes
    /// the sale as the cart's) left the cart offering units the store does not have. Only
    /// for a cart that cannot take a change twice, where every `Retry` means nothing was
    /// applied (a keyed cart's `Retry` may follow a lost answer, and must go again as it was).
    Refused(String),
    /// Retrying cannot help: bypass at once.
    Permanent(String),
    /// Wait until the time given (a 429 or `Retry-After`): no attempt, or an attempt
    /// scheduled by the cart's own wait when `attempt` is set.
    WaitUntil {
        /// When it is due again.
        until: i64,
        /// Whether this counts as an attempt.
        attempt: bool,
        /// What the cart said.
        response: String,
    },
    /// Sent, no answer, and the cart cannot de-duplicate: never re-sent blindly.
    Uncertain(String),
}

/// The back-off delay before attempt `attempts + 1`: `RetryBaseMs · 2^(attempts−1)`, capped
/// at `RetryMaxMs`, with jitter in [50 %, 100 %] so carts and controllers do not retry in step.
pub(crate) fn backoff_ms(settings: &Settings, attempts: i64) -> i64 {
    let exp = (attempts - 1).clamp(0, 30) as u32;
    let raw = settings
        .retry_base_ms
        .saturating_mul(1i64 << exp)
        .min(settings.retry_max_ms);
    if raw <= 1 {
        return raw.max(0);
    }
    raw / 2 + (rand::random::<u64>() % (raw as u64 / 2 + 1)) as i64
}

/// The record state machine: the one place that decides where a group goes next.
pub fn transition(settings: &Settings, attempts: i64, verdict: Verdict, now: i64) -> Transition {
    match verdict {
        Verdict::Applied(response) => Transition::Leave {
            outcome: "applied",
            response,
        },
        Verdict::Permanent(response) => Transition::Bypassed {
            attempts: attempts + 1,
            response,
            maybe_applied: false,
        },
        Verdict::Uncertain(response) => Transition::Uncertain {
            attempts: attempts + 1,
            response,
        },
        Verdict::Retryable(response) | Verdict::Refused(response)
            if attempts + 1 >= settings.bypass_after_attempts =>
        {
            Transition::Bypassed {
                attempts: attempts + 1,
                response,
                maybe_applied: false,
            }
        }
        Verdict::Retryable(response) => Transition::Pending {
            attempts: attempts + 1,
            next_attempt_at: now + backoff_ms(settings, attempts + 1),
            response,
            maybe_applied: false,
        },
        Verdict::Refused(response) => Transition::Refused {
            attempts: attempts + 1,
            next_attempt_at: now + backoff_ms(settings, attempts + 1),
            response,
        },
        Verdict::WaitUntil {
            until,
            attempt,
            response,
        } => {
            let attempts = attempts + i64::from(attempt);
            if attempt && attempts >= settings.bypass_after_attempts {
                Transition::Bypassed {
                    attempts,
                    response,
                    maybe_applied: false,
                }
            } else {
                Transition::Pending {
                    attempts,
                    next_attempt_at: until,
                    response,
                    maybe_applied: false,
                }
            }
        }
    }
}

/// A cart's own controller state: back-off after an outage or a 429, and pauses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CartRunState {
    /// Nothing is sent to the cart before this time.
    pub backoff_until: i64,
    /// Consecutive outage steps (0 = the cart is answering).
    pub outage_step: i64,
    /// A cart-level error (401/403, outage), shown in reports.
    pub cart_error: Option<String>,
    /// Until when nothing is sent whatever another request's answer says, because the cart
    /// asked (a 429, a `Retry-After` on items). Within `backoff_until`, kept apart so that an
    /// answer ending an outage does not lift it. Manual runs honour it too.
    pub rate_limited_until: i64,
    /// Until when a controller sends nothing because the cart refused its credentials: a
    /// pause no other request's answer lifts, only new settings, its end, or a manual run
    /// the cart answers (an operator who mended them checks with Send or Get QOH, which do
    /// not honour it). Within `backoff_until`.
    pub credentials_paused_until: i64,
}

/// The web stack as the controller sees it. The SQLite store implements it; a PostgreSQL
/// one for multi-workstation stores will follow, so nothing here assumes SQLite.
pub trait WebStack: Send + Sync {
    /// The parameters in force.
    fn settings(&self) -> Result<Settings>;
    /// Every cart.
    fn carts(&self) -> Result<Vec<Cart>>;
    /// Takes up to `max` due groups of `cart` (forming new groups from ungrouped records as
    /// needed) under a fresh token until `now + lease_ms`. Empty when the cart is being sent
    /// to by a manual Send QOH.
    fn lease(
        &self,
        cart: CartId,
        max: usize,
        scope: &LeaseScope,
        now: i64,
        lease_ms: i64,
    ) -> Result<Lease>;
    /// [`lease`](Self::lease) as `next` says, taking nothing when the cart's adapter or
    /// settings changed after `next.built_from`. (Provided: a stack that cannot look in the
    /// lease's own transaction looks just before it.)
    fn lease_next(&self, next: NextLease<'_>, now: i64) -> Result<Lease> {
        if let Some(v) = next.built_from {
            if self.cart_state_since(next.cart, v)?.is_none() {
                return Ok(Lease {
                    token: String::new(),
                    sends: Vec::new(),
                    in_doubt: 0,
                });
            }
        }
        self.lease(next.cart, next.max, next.scope, now, next.lease_ms)
    }
    /// Extends a lease; false when the token no longer holds anything.
    fn renew(&self, token: &str, until: i64) -> Result<bool>;
    /// Gives back a lease that was never sent (leased ahead, then not needed): its groups are
    /// due again at once, and do not count as possibly sent.
    fn release(&self, token: &str) -> Result<usize>;
    /// Applies transitions to groups still held by `token`; returns how many held.
    fn settle(&self, token: &str, transitions: &[(i64, Transition)], now: i64) -> Result<usize>;
    /// [`settle`](Self::settle) one lease, then take the `next` one, as one step (one
    /// transaction): the controller does both while its next request is in flight. Returns
    /// the groups `token` still held (those settled), and the new lease.
    fn settle_and_lease(
        &self,
        token: &str,
        transitions: &[(i64, Transition)],
        now: i64,
        next: Option<NextLease<'_>>,
    ) -> Result<(Vec<i64>, Option<Lease>)>;
    /// A cart's controller state.
    fn cart_state(&self, cart: CartId) -> Result<CartRunState>;
    /// [`WebStack::cart_state`], or `None` when the cart's adapter or its settings were
    /// changed after the saving `config_version` ([`Cart::config_version`]): an adapter built
    /// from that saving is the old one, and sends nothing more. (Provided: a stack that does
    /// not know gives the state.)
    fn cart_state_since(&self, cart: CartId, config_version: i64) -> Result<Option<CartRunState>> {
        let _ = config_version;
        self.cart_state(cart).map(Some)
    }
    /// Stores a cart's controller state, judged from an answer to a request made with the
    /// cart as saved at `config_version` ([`Cart::config_version`]); nothing when the cart's
    /// adapter or settings (URL, credentials, location…) were changed since: an answer to old
    /// credentials or an old URL says nothing of the cart as it is now, and its pause would
    /// stop the cart its owner just mended. A saving that changed neither (its batch size,
    /// its level, or nothing) keeps the answer: the shop's Retry-After still runs.
    fn set_cart_state(&self, cart: CartId, config_version: i64, state: &CartRunState)
        -> Result<()>;
    /// Records waiting to be sent to `cart` (pending, leased, or waiting to retry).
    fn waiting(&self, cart: CartId) -> Result<i64>;
    /// Whether anything waits for `cart` (cheaper than counting a long backlog).
    fn has_waiting(&self, cart: CartId) -> Result<bool> {
        Ok(self.waiting(cart)? > 0)
    }
    /// The carts a Send QOH left counts sending to (its run ended before it recorded the
    /// cart's answer: a PC switched off) whose run no longer holds them at `now`. A pass
    /// takes these over even with nothing waiting for them: their lease holds the changes
    /// the counts included in doubt and the pass counts them as uncertain. Skipped, a count
    /// that included only bypassed records was settled at the cart's next sale alone, and
    /// until then no report told the owner, and a retry of such a record could be applied
    /// on top of the count. Asked once a pass, so it must stay cheap where there are none.
    /// A stack that keeps no such notes (this default) has none.
    fn carts_with_counts_left(&self, now: i64) -> Result<Vec<CartId>> {
        let _ = now;
        Ok(Vec::new())
    }
    /// Until when a manual Send/Get QOH holds `cart` (nothing is leased before; 0 = free).
    fn held_until(&self, cart: CartId) -> Result<i64>;
    /// Marks `workstation`'s controller alive at `now`: a controller that pauses between its
    /// passes passes the end of that pause, so it is not taken for dead while it waits (its
    /// records are then another workstation's to send only `3 × LeaseMs` after it).
    fn heartbeat(&self, workstation: &str, now: i64) -> Result<()>;
    /// Ends the pause the heartbeat `declared` (what this controller last passed to
    /// [`WebStack::heartbeat`]) promised, when the controller stops or its handle closes or is
    /// renamed: `workstation` was last seen at `now` at the latest, so its records wait for it
    /// `3 × LeaseMs` from now, not through a pause it will not take; unless another controller
    /// of the name beat since. Best effort, waiting for the store a moment only; this default
    /// does nothing.
    fn heartbeat_end(&self, _workstation: &str, _declared: i64, _now: i64) -> Result<()> {
        Ok(())
    }
    /// In local mode, when this controller cannot build `cart`'s adapter: leaves its
    /// workstation's waiting records for the cart to the other workstations' controllers
    /// (which may have it: an integrator's adapter, or a newer build), as if this one were
    /// silent. Returns how many records it left; none while no other controller is alive.
    /// A stack that cannot hand over (this default) leaves them waiting for this workstation.
    fn hand_over(&self, _cart: CartId, _scope: &LeaseScope, _now: i64) -> Result<usize> {
        Ok(0)
    }
    /// Takes or renews the store's single shared-controller lock; false while another holds it.
    /// `holder` is `"{workstation} #{hold}"`: the holder is the same while the part from its
    /// last `" #"` is (a controller whose workstation was renamed still holds its lock).
    fn shared_lock(&self, holder: &str, now: i64, until: i64) -> Result<bool>;
    /// Gives the lock back if `holder` has it, waiting for the store a moment only (a
    /// controller going away while a host transaction is open must not wait out the busy
    /// timeout): a lock not given back lapses by itself, as it does with this default.
    fn release_shared_lock(&self, _holder: &str) -> Result<()> {
        Ok(())
    }
    /// Forgets history entries older than `before` (Unix ms); returns how many went.
    fn prune_history(&self, before: i64) -> Result<usize>;
    /// Forgets the heartbeats of workstations last seen before `before` (Unix ms), which every
    /// controller already takes for stopped; returns how many went. A store whose PCs were
    /// renamed, or that controllers ran on from many laptops, kept one row a name ever used,
    /// read by every takeover check. This default forgets none.
    fn forget_heartbeats(&self, _before: i64) -> Result<usize> {
        Ok(0)
    }
    /// Gives back what the stack holds for its work (connections, caches) after a pass that
    /// had some: an idle controller should hold nothing the host's own work might need.
    fn release_memory(&self) -> Result<()> {
        Ok(())
    }
}

/// What [`WebStack::settle_and_lease`] should lease after settling.
#[derive(Debug, Clone, Copy)]
pub struct NextLease<'a> {
    /// The cart.
    pub cart: CartId,
    /// At most this many groups.
    pub max: usize,
    /// Whose records.
    pub scope: &'a LeaseScope,
    /// For how long, from `now`.
    pub lease_ms: i64,
    /// The saving ([`Cart::config_version`]) the adapter that will send the lease was built
    /// from: nothing is leased when the cart's adapter or its settings were changed after it
    /// (looked at in the lease's own transaction, so a save cannot slip in between). `None`:
    /// whatever the saving.
    pub built_from: Option<i64>,
}

/// The SQLite web stack, on its own connection (never the host's).
pub struct SqliteStack {
    /// `None` once given back after a pass ([`WebStack::release_memory`]); opened again at
    /// next use.
    conn: Mutex<Option<Connection>>,
    path: PathBuf,
    options: store::OpenOptions,
    /// Whether [`WebStack::release_memory`] closes the connection: where SQLite shares one
    /// page cache among every connection of the process.
    close_after_work: bool,
    /// See [`SqliteStack::wait_out_busy`].
    wait_out_busy: std::sync::atomic::AtomicBool,
    /// Keeps other machines off the file while the stack is open, its connection closed
    /// between passes or not.
    _machine: Option<store::MachineHold>,
}

impl SqliteStack {
    /// [`store::write_briefly_on`] on this stack's connection.
    fn write_briefly(&self, f: impl FnOnce(&Connection) -> Result<()>) -> Result<()> {
        self.read(|c| store::write_briefly_on(c, self.options.busy_timeout, f))
    }

    /// Opens its own connection to the store file at `path`, which must exist.
    pub fn open(path: &Path, options: &store::OpenOptions) -> Result<SqliteStack> {
        let (conn, machine) = store::connect_existing(path, options)?;
        let close_after_work = sql::shares_page_cache(&conn)?;
        Ok(SqliteStack {
            _machine: machine,
            conn: Mutex::new(Some(conn)),
            path: path.to_owned(),
            options: options.clone(),
            close_after_work,
            wait_out_busy: Default::default(),
        })
    }
    /// [`open`](Self::open), closing the connection after passes whatever the build (tests of
    /// the shared page cache's remedy in a build without one).
    #[cfg(all(test, feature = "emulator"))]
    pub(crate) fn open_closing(path: &Path, options: &store::OpenOptions) -> Result<SqliteStack> {
        Ok(SqliteStack {
            close_after_work: true,
            ..SqliteStack::open(path, options)?
        })
    }
    /// Whether the connection is open now.
    #[cfg(all(test, feature = "emulator"))]
    pub(crate) fn is_open(&self) -> bool {
        self.conn.lock().is_some()
    }
    /// Runs `f` on the connection, opening it again if it was given back.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let mut slot = self.conn.lock();
        if slot.is_none() {
            // The stack keeps its share of the machine lock from its opening.
            *slot = Some(store::connect_existing(&self.path, &self.options)?.0);
        }
        f(slot.as_ref().expect("opened above"))
    }
    /// Runs the write `f`; while [`SqliteStack::wait_out_busy`] is set, a store too busy to
    /// take it is asked again, for as long as it takes.
    fn write<T>(&self, mut f: impl FnMut(&Connection) -> Result<T>) -> Result<T> {
        loop {
            match self.read(|c| store::write_on(c, &mut f)) {
                Err(e)
                    if e.kind() == crate::ErrorKind::Busy
                        && self
                            .wait_out_busy
                            .load(std::sync::atomic::Ordering::Relaxed) => {}
                done => return done,
            }
        }
    }

    /// Whether writes wait as long as the store is busy: for a controller stopped inside its
    /// handle's own transaction, whose writes (the settlement of what a cart answered) wait
    /// for that transaction to end, by commit or rollback; given up on after the busy
    /// timeout, an answer was lost (an applied sale to a cart without keys was then marked
    /// uncertain). Unset as soon as that transaction ends (or the handle closes): from then
    /// on its writes wait the busy timeout, as any controller's, so that no other writer
    /// holds up the commit or close that waits for it.
    pub(crate) fn wait_out_busy(&self, wait: bool) {
        self.wait_out_busy
            .store(wait, std::sync::atomic::Ordering::Relaxed);
    }
}

fn lease_on(c: &Connection, n: &NextLease<'_>, now: i64) -> Result<Lease> {
    let token = store::random_key();
    let until = now + n.lease_ms;
    let (sends, in_doubt) = sql::lease(
        c,
        n.cart,
        n.max as i64,
        n.scope,
        n.built_from,
        now,
        until,
        &token,
    )?;
    Ok(Lease {
        token,
        sends,
        in_doubt,
    })
}

/// Groups leaving the stack settle together, one set of statements per outcome; the others
/// one by one (they are rare: retries, bypasses).
fn settle_on(
    c: &Connection,
    token: &str,
    transitions: &[(i64, Transition)],
    now: i64,
) -> Result<Vec<i64>> {
    // Sends leaving, by outcome: groups (positive ids), and items of the lease's first-attempt
    // batch (sent as minus the item's id; listed by item id).
    type ByOutcome<'a> = Vec<(&'a str, Vec<(i64, &'a str)>)>;
    let (mut groups_leaving, mut items_leaving): (ByOutcome, ByOutcome) = Default::default();
    let mut items_failed = Vec::new();
    let mut held = Vec::with_capacity(transitions.len());
    for (send, t) in transitions {
        match t {
            Transition::Leave { outcome, response } => {
                let (list, id) = if *send < 0 {
                    (&mut items_leaving, -*send)
                } else {
                    (&mut groups_leaving, *send)
                };
                match list.iter_mut().find(|(o, _)| o == outcome) {
                    Some((_, sends)) => sends.push((id, response)),
                    None => list.push((outcome, vec![(id, response)])),
                }
            }
            _ if *send < 0 => items_failed.push((-*send, t)),
            _ => {
                if sql::group_settle(c, *send, token, t, now)? {
                    held.push(*send);
                }
            }
        }
    }
    for (outcome, groups) in &groups_leaving {
        sql::groups_leave(c, token, outcome, groups, now, &mut held)?;
    }
    if !items_failed.is_empty() || !items_leaving.is_empty() {
        sql::batch_settle(c, token, &items_failed, &items_leaving, now, &mut held)?;
    }
    Ok(held)
}

impl WebStack for SqliteStack {
    fn settings(&self) -> Result<Settings> {
        self.read(crate::params::load)
    }
    fn carts(&self) -> Result<Vec<Cart>> {
        self.read(sql::carts_all)
    }
    fn lease(
        &self,
        cart: CartId,
        max: usize,
        scope: &LeaseScope,
        now: i64,
        lease_ms: i64,
    ) -> Result<Lease> {
        let next = NextLease {
            cart,
            max,
            scope,
            lease_ms,
            built_from: None,
        };
        self.write(|c| lease_on(c, &next, now))
    }
    fn lease_next(&self, next: NextLease<'_>, now: i64) -> Result<Lease> {
        self.write(|c| lease_on(c, &next, now))
    }
    fn renew(&self, token: &str, until: i64) -> Result<bool> {
        self.write(|c| sql::lease_renew(c, token, until))
    }
    fn release(&self, token: &str) -> Result<usize> {
        self.write(|c| sql::lease_release(c, token))
    }
    fn settle(&self, token: &str, transitions: &[(i64, Transition)], now: i64) -> Result<usize> {
        self.write(|c| Ok(settle_on(c, token, transitions, now)?.len()))
    }
    fn settle_and_lease(
        &self,
        token: &str,
        transitions: &[(i64, Transition)],
        now: i64,
        next: Option<NextLease<'_>>,
    ) -> Result<(Vec<i64>, Option<Lease>)> {
        self.write(|c| {
            let held = settle_on(c, token, transitions, now)?;
            let lease = match next {
                Some(n) => Some(lease_on(c, &n, now)?),
                None => None,
            };
            Ok((held, lease))
        })
    }
    fn cart_state(&self, cart: CartId) -> Result<CartRunState> {
        self.read(|c| sql::cart_run_state(c, cart))
    }
    fn cart_state_since(&self, cart: CartId, config_version: i64) -> Result<Option<CartRunState>> {
        self.read(|c| {
            let (state, settings) = sql::cart_run_state_and_settings(c, cart)?;
            Ok((settings <= config_version).then_some(state))
        })
    }
    fn set_cart_state(
        &self,
        cart: CartId,
        config_version: i64,
        state: &CartRunState,
    ) -> Result<()> {
        self.write(|c| sql::cart_set_run_state(c, cart, config_version, state))
    }
    /// Brings the cart's count of ungrouped records up to date first when records arrived
    /// since (only a lease did, before): a cart backing off through an outage, or held by a
    /// manual run, is not leased, and each pass counted its whole backlog again. The catch-up
    /// never waits for the write lock: a host's long write transaction costs this count a
    /// walk, not the pass its report or a wait.
    fn waiting(&self, cart: CartId) -> Result<i64> {
        self.read(|c| {
            catch_up_backlogs(c, cart, 0, self.options.busy_timeout);
            sql::stack_count(c, cart, StackState::Waiting)
        })
    }
    fn has_waiting(&self, cart: CartId) -> Result<bool> {
        self.read(|c| sql::stack_has_waiting(c, cart))
    }
    fn carts_with_counts_left(&self, now: i64) -> Result<Vec<CartId>> {
        self.read(|c| sql::carts_with_counts_left(c, now))
    }
    fn held_until(&self, cart: CartId) -> Result<i64> {
        self.read(|c| sql::cart_held_until(c, cart))
    }
    fn heartbeat(&self, workstation: &str, now: i64) -> Result<()> {
        self.write(|c| sql::heartbeat(c, workstation, now))
    }
    fn hand_over(&self, cart: CartId, scope: &LeaseScope, now: i64) -> Result<usize> {
        self.write(|c| sql::hand_over(c, cart, scope, now))
    }
    fn shared_lock(&self, holder: &str, now: i64, until: i64) -> Result<bool> {
        self.write(|c| sql::shared_lock(c, holder, now, until))
    }
    fn release_shared_lock(&self, holder: &str) -> Result<()> {
        self.write_briefly(|c| sql::shared_lock_release(c, holder))
    }
    fn heartbeat_end(&self, workstation: &str, declared: i64, now: i64) -> Result<()> {
        self.write_briefly(|c| sql::heartbeat_end(c, workstation, declared, now))
    }
    fn forget_heartbeats(&self, before: i64) -> Result<usize> {
        self.write(|c| sql::heartbeats_forget(c, before))
    }
    fn prune_history(&self, before: i64) -> Result<usize> {
        prune_in_steps(|after| {
            self.write(|c| sql::stack_log_prune(c, before, after, store::now_ms()))
        })
    }
    /// Closes the connection where SQLite shares one page cache among every connection of the
    /// process (built with its memory management: libsqlite3-sys's default up to 0.38, and a
    /// build that asks for it with `LIBSQLITE3_FLAGS`; the crate needs 0.40). There, a
    /// controller idle with a full cache made the host's next transaction read the file again
    /// and again; closing frees this connection's pages and no one else's (`PRAGMA
    /// shrink_memory` would empty every connection's). The next use opens it again. Elsewhere
    /// each connection's cache is its own, and this does nothing.
    fn release_memory(&self) -> Result<()> {
        if self.close_after_work {
            drop(self.conn.lock().take());
        }
        Ok(())
    }
}

/// Runs prune steps, each its own transaction so hosts are never held up for long, each
/// from the last entry the one before looked at, until one forgets nothing among entries
/// not all dated ahead of now. (Until 2026-12-04 each step looked at the oldest entries
/// again, and the prune stopped at a step one short of full: an entry written while a clock
/// ran ahead, kept among the oldest, held every call to 4,999 entries, and a step's worth of
/// them held it to none, and the log outgrew the hourly prune.)
fn prune_in_steps(mut step: impl FnMut(i64) -> Result<sql::PruneStep>) -> Result<usize> {
    let (mut gone, mut after) = (0, 0);
    loop {
        let s = step(after)?;
        gone += s.gone;
        if s.last == 0 || (s.gone == 0 && !s.all_ahead) {
            return Ok(gone);
        }
        after = s.last;
    }
}

/// How many records may be queued since a cart's waiting records were last counted before
/// [`Store::stack_count`] counts them in (a write), rather than walking them on every poll.
const CATCH_UP_AFTER: i64 = 1_000;

/// Brings the count of waiting records of `cart` (0 = every cart) up to date when more than
/// `by` records were queued since it last was, if the store allows it at once. The catch-up
/// saves later counts a walk and changes no answer, so it is best-effort: it never waits for
/// the write lock (a busy store costs the count a walk, not a wait), writes nothing inside a
/// host transaction, and reports nothing. `busy_timeout` is the connection's own, given back
/// however the catch-up ends (left at 0, every later write on it would fail at once beside
/// another writer).
fn catch_up_backlogs(conn: &Connection, cart: CartId, by: i64, busy_timeout: Duration) {
    if !conn.is_autocommit() {
        return;
    }
    let Ok(behind) = store::read_on(conn, |c| sql::carts_behind(c, cart, by)) else {
        return;
    };
    if behind.is_empty() || conn.busy_timeout(Duration::ZERO).is_err() {
        return;
    }
    struct Restore<'a>(&'a Connection, Duration);
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            let _ = self.0.busy_timeout(self.1);
        }
    }
    let _restore = Restore(conn, busy_timeout);
    let _ = store::write_on(conn, |c| {
        behind.iter().try_for_each(|&k| sql::backlog_catch_up(c, k))
    });
}

impl Store {
    /// How many records of `cart` (0 = all carts) are in `state`.
    ///
    /// A host may poll this while no controller runs, and the waiting records' count adds
    /// those queued since a pass last counted them: once more than 1,000 were, it is brought
    /// up to date first, so a poll counts at most that many. That catch-up
    /// never waits for the write lock (a busy store costs this poll a walk, not a wait), and
    /// inside a host transaction it is left out.
    pub fn stack_count(&self, cart: CartId, state: StackState) -> Result<i64> {
        if state == StackState::Waiting {
            let conn = self.inner.conn.lock();
            catch_up_backlogs(&conn, cart, CATCH_UP_AFTER, self.inner.options.busy_timeout);
        }
        self.read(|c| {
            if cart != 0 {
                sql::cart_by_id(c, cart)?;
            }
            sql::stack_count(c, cart, state)
        })
    }

    /// The troubleshooting view (the seeds' CTRL+Shift+S) as a JSON array: per record `id,
    /// cart_id, sku, delta, reason, created_at, attempts, next_attempt_at, last_response,
    /// state` (times in Unix milliseconds), oldest first. A waiting record's `next_attempt_at`
    /// is at least the end of its cart's pause (refused credentials, an outage's back-off, a
    /// wait the cart asked for) or of a manual run's hold, while one lasts. Filter `{"cart_id"?, "state"?,
    /// "limit"?}` with `state` 1 (or `"pending"`) waiting, 2 (`"bypassed"`), 3 (`"uncertain"`),
    /// and `limit` 1 to 1,000,000: 1,000 when left out, so a backlog past that lists its oldest
    /// 1,000 unless the filter asks for more ([`Store::stack_count`] counts them all).
    ///
    /// Each record's `state` is `"pending"` or, while a controller sends it, `"leased"` (both
    /// [`StackState::Waiting`], which the filter also takes as `"waiting"`), `"bypassed"` or
    /// `"uncertain"`; `reason` is [`crate::Reason::code`], with `reason_name` beside it.
    pub fn stack_list_json(&self, filter_json: Option<&str>) -> Result<String> {
        let f = parse_filter(filter_json, &["cart_id", "state", "limit"])?;
        let limit = filter_limit(&f)?;
        let cart = filter_number(&f, "cart_id")?;
        // By number, or by the name each record's `state` shows (refused as "not a number"
        // until 2026-12-04, though the listing names it so).
        let state = match f.get("state").and_then(Value::as_str) {
            Some(name) => Some(
                [StackState::Waiting, StackState::Bypassed, StackState::Uncertain]
                    .into_iter()
                    .find(|s| s.group_state() == name || (name == "waiting" && *s == StackState::Waiting))
                    .ok_or_else(|| {
                        Error::invalid(format!(
                            "filter: unknown state {name:?} (1 or \"pending\", records being sent, shown \"leased\", among them; 2 or \"bypassed\"; 3 or \"uncertain\")"
                        ))
                    })?,
            ),
            None => filter_number(&f, "state")?
                .map(StackState::from_code)
                .transpose()?,
        };
        self.read(|c| {
            // A mistyped cart must not read as one with nothing waiting.
            if let Some(cart) = cart {
                sql::cart_by_id(c, cart)?;
            }
            Ok(Value::Array(sql::stack_list(c, cart, state, limit)?).to_string())
        })
    }

    /// How many records have left the stack with `outcome` (`applied`, `superseded`,
    /// `discarded`, `netted`): the stack's history, kept in its log. Any other outcome is
    /// refused, naming these: a mistyped one (`discard`, `Applied`) counted 0, which reads as
    /// "none was".
    ///
    /// It reads every entry the log keeps (`StackHistoryDays` of them, a row per record that
    /// left the stack: 300,000 took 1.2 million steps of SQLite's machine, 2026-12-05), so it
    /// is a report to ask now and then, not a count to poll: [`Store::stack_count`] is that.
    /// An index by outcome would cost every settlement of the drain its upkeep.
    pub fn stack_history_count(&self, outcome: &str) -> Result<i64> {
        const OUTCOMES: [&str; 4] = ["applied", "superseded", "discarded", "netted"];
        if !OUTCOMES.contains(&outcome) {
            return Err(Error::invalid(format!(
                "unknown stack history outcome {outcome:?}: it is one of {}",
                OUTCOMES.join(", ")
            )));
        }
        self.read(|c| sql::stack_log_count(c, outcome))
    }

    /// Forgets the stack's history (what was applied, superseded, discarded) older than
    /// `before` (Unix milliseconds); returns how many entries went. The log gains one row per
    /// record sent; the stack controller forgets entries older than `StackHistoryDays` (90) by
    /// itself, once an hour. The ledger of QOH changes is not touched.
    pub fn prune_stack_history(&self, before: i64) -> Result<usize> {
        prune_in_steps(|after| {
            self.write(|c| sql::stack_log_prune(c, before, after, store::now_ms()))
        })
    }

    /// Operator action: sends a bypassed or uncertain record (with the rest of its send group)
    /// again, from attempt 0, with the same idempotency key.
    ///
    /// The record waits (state `pending`) until it is applied: a retry that fails again is
    /// backed off and counted as any change, and an adapter that found the item's SKU
    /// missing from the shop (WooCommerce) does not ask the shop again for up to 5 minutes,
    /// which the record's `last_response` says; a product the owner added meanwhile is found
    /// then, or at its back-off by a controller of a `Store` opened since.
    /// A record that is not bypassed or uncertain is [`crate::ErrorKind::Refused`]; one
    /// discarded or applied is [`crate::ErrorKind::NotFound`].
    ///
    /// A record (or one of its group) that a count a Send QOH is sending, or left sending
    /// (its run ended before it recorded the cart's answer), included is
    /// [`crate::ErrorKind::Refused`] too, changing nothing: the cart may have the change in
    /// that count, and sent again it would be applied twice. The cart's next controller pass
    /// or manual run settles the count (holding the change as uncertain, counted in its
    /// report); check the cart's count then. Until 2026-12-05 such a bypassed record was
    /// taken for retry ("will be sent again", the command line said), and the next pass held
    /// it in doubt instead of sending it.
    pub fn stack_retry(&self, record: i64) -> Result<()> {
        let now = store::now_ms();
        self.write(|c| {
            let (group, state) = sql::record_group(c, record)?;
            match (group, state.as_deref()) {
                (Some(g), Some("bypassed" | "uncertain")) if sql::group_in_count_left(c, g)? => {
                    Err(Error::refused(format!(
                        "stack record {record} was included in a count a Send QOH sent the \
                         cart, whose answer that run has not recorded (it is still running, \
                         or it ended first: a PC switched off): the cart may have this change \
                         already, and sent again it would be applied twice. The cart's next \
                         controller pass or manual run settles that count, holding the change \
                         as uncertain if the run ended; check the cart's count then"
                    )))
                }
                (Some(g), Some("bypassed" | "uncertain")) => sql::group_reset(c, g, now),
                _ => Err(Error::refused(format!(
                    "stack record {record} is not bypassed or uncertain; only those can be \
                     retried (a pending record is sent by the next pass by itself)"
                ))),
            }
        })
    }

    /// Operator action: removes a bypassed or uncertain record and the rest of its send
    /// group from the stack (logged as discarded). The cart is not told. It may have taken
    /// them: on a cart whose reads trail its writes, Get QOH and the drift report leave the
    /// group's items alone for the cart's read lag (and 5 minutes) after the discard.
    ///
    /// [`ErrorKind::Busy`](crate::ErrorKind::Busy) while a Send QOH, Get QOH or drift repair
    /// holds the record's cart: a Send QOH settles, once the cart took its counts, the records
    /// up to the newest one each count included, by id; until schema 24 a new record took the
    /// highest id plus one, so removing that newest record could give its id to a sale made
    /// meanwhile, which would then be settled as if the count had included it (schema 24 ended
    /// that; the refusal stays).
    ///
    /// The counts a Send QOH left sending to the cart (its run ended before it settled them)
    /// are left for the cart's next lease or manual run to settle, which holds the changes they
    /// included in doubt and counts them in its report (`uncertain`). Until 2026-12-05 a
    /// discard settled them first (against the reuse of a discarded record's id, which schema
    /// 24 ended): records of the cart other than the one discarded turned uncertain, and no
    /// report told the owner.
    pub fn stack_discard(&self, record: i64) -> Result<()> {
        let now = store::now_ms();
        self.write(|c| {
            if let Some(cart) = sql::record_cart(c, record)? {
                crate::manual::refuse_while_held(
                    c,
                    &cart,
                    &format!("discard stack record {record} once that ends"),
                )?;
            }
            let (group, state) = sql::record_group(c, record)?;
            match (group, state.as_deref()) {
                (Some(g), Some("bypassed" | "uncertain")) => {
                    // The cart may have taken it: a Get QOH right after must not read a
                    // count from before it on a cart whose reads trail its writes.
                    sql::group_counts_set_note(c, g, now)?;
                    sql::group_leave_now(c, g, "discarded", "discarded by an operator", now)
                }
                _ => Err(Error::refused(format!(
                    "stack record {record} is not bypassed or uncertain; only those can be \
                     discarded (a pending record is sent by the next pass by itself)"
                ))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            retry_base_ms: 1000,
            retry_max_ms: 8000,
            bypass_after_attempts: 3,
            ..Settings::default()
        }
    }

    #[test]
    fn back_off_doubles_with_jitter_and_stays_under_the_cap() {
        let s = settings();
        for attempts in 1..=10 {
            let full = (1000i64 << (attempts - 1).min(20)).min(8000);
            for _ in 0..50 {
                let d = backoff_ms(&s, attempts);
                assert!(
                    d >= full / 2 && d <= full,
                    "attempt {attempts}: {d} not in [{}, {full}]",
                    full / 2
                );
            }
        }
    }

    #[test]
    fn the_state_machine_counts_attempts_and_bypasses_at_the_limit() {
        let s = settings();
        let t = transition(&s, 0, Verdict::Retryable("500".into()), 100);
        assert!(
            matches!(t, Transition::Pending { attempts: 1, next_attempt_at, .. } if next_attempt_at >= 600)
        );
        let t = transition(&s, 2, Verdict::Retryable("500".into()), 100);
        assert_eq!(
            t,
            Transition::Bypassed {
                attempts: 3,
                response: "500".into(),
                maybe_applied: false,
            }
        );
        // A refusal (nothing applied) counts and backs off alike.
        let t = transition(&s, 1, Verdict::Refused("stock".into()), 100);
        assert!(
            matches!(t, Transition::Refused { attempts: 2, next_attempt_at, .. } if next_attempt_at >= 600)
        );
        let t = transition(&s, 2, Verdict::Refused("stock".into()), 100);
        assert!(
            matches!(t, Transition::Bypassed { attempts: 3, .. }),
            "{t:?}"
        );
        let t = transition(&s, 0, Verdict::Permanent("unknown".into()), 100);
        assert_eq!(
            t,
            Transition::Bypassed {
                attempts: 1,
                response: "unknown".into(),
                maybe_applied: false,
            }
        );
        // A rate-limit wait is no attempt, and is obeyed beyond RetryMaxMs.
        let t = transition(
            &s,
            2,
            Verdict::WaitUntil {
                until: 100_000,
                attempt: false,
                response: "429".into(),
            },
            100,
        );
        assert_eq!(
            t,
            Transition::Pending {
                attempts: 2,
                next_attempt_at: 100_000,
                response: "429".into(),
                maybe_applied: false,
            }
        );
        let t = transition(&s, 0, Verdict::Uncertain("timeout".into()), 100);
        assert_eq!(
            t,
            Transition::Uncertain {
                attempts: 1,
                response: "timeout".into()
            }
        );
        assert!(matches!(
            transition(&s, 5, Verdict::Applied("ok".into()), 1),
            Transition::Leave {
                outcome: "applied",
                ..
            }
        ));
    }

    /// The controller's connection opens again after it was given back; a store file moved
    /// meanwhile is an error naming it, never an empty file in its place.
    #[test]
    fn a_stack_leaves_no_empty_store_where_none_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("moved.db");
        let err = SqliteStack::open(&path, &store::OpenOptions::default())
            .err()
            .unwrap();
        assert!(err.message().contains("cannot open store file"), "{err}");
        assert!(!path.exists());
    }
}
