//! Manual sync: *Send QOH to website*, *Get QOH from website*, and the preflight check before
//! real-time sync is switched on (DESIGN §3 rules 7–9 and 11).

use crate::adapter::{CartAdapter, CartError, QuantityPage, QuantitySet, SendOutcome};
use crate::carts::{Cart, CartId, SyncLevel};
use crate::error::{Error, ErrorKind, Result};
use crate::items::{
    apply_change, check_sku, published_now, published_with, shown_as, Adjustment, Delta, ItemId,
    Reason,
};
use crate::stack::NewRecord;
use crate::store::{now_ms, random_key, sql, Store};
use serde::Serialize;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::mpsc;
use std::time::Duration;

/// Options of [`Store::send_qoh`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SendOptions {
    /// Send even while the cart's real-time sync is on (rule 9).
    pub force: bool,
}

/// Options of [`Store::get_qoh`].
#[derive(Debug, Clone, Copy, Default)]
pub struct GetOptions {
    /// Pull even while the cart's real-time sync is on (rule 9).
    pub force: bool,
    /// The seeds' *Create records for new products*: unknown SKUs become items.
    pub create_new: bool,
}

/// One item that could not be sent.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ItemFailure {
    /// The item.
    pub sku: String,
    /// Why (the cart's answer; never a secret).
    pub message: String,
}

/// What *Send QOH* did.
///
/// Fields may be added (hence `#[non_exhaustive]`, as [`GetReport`]: a report is the library's
/// to make, never built by a caller); its JSON keys keep their names, types and meanings.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendReport {
    /// Items the cart took.
    pub sent: usize,
    /// Items that failed, every one (the first 1,000 are listed in `failures`).
    pub failed: usize,
    /// Stack records settled as superseded by the absolute counts.
    pub superseded: usize,
    /// Items deleted from the store that the cart may still have shown, set to 0 there (not
    /// in `sent`): see [`Store::delete_item`]; also, on an `Attribute` cart without real-time
    /// sync, items given their first variant since it was shown their count (a product with
    /// variants holds no stock, and is no longer sent there).
    pub zeroed: usize,
    /// Calls made to the cart's adapter: a batch and each try of it again (an adapter may
    /// make more than one HTTP request in a call, and sends counts one by one after a panic).
    pub requests: usize,
    /// Per-item failures, in the order they came (the first 1,000: see `failures_left_out`).
    pub failures: Vec<ItemFailure>,
    /// Whether the progress callback stopped it (the counts cover what was done).
    pub cancelled: bool,
    /// How many items of `failed` are not in `failures` (0 unless it holds 1,000). Until
    /// 2026-12-05 every failure was listed: a cart at the wrong URL, or refusing every item,
    /// made a report of megabytes out of a catalogue of 100,000 items for the host to copy.
    pub failures_left_out: usize,
    /// Stack records this run left uncertain (in doubt), for the owner to check the cart and
    /// then retry or discard each (the stack's view lists them as uncertain): those an
    /// earlier Send QOH's count included, whose run ended before it recorded the cart's
    /// answer, held in doubt as this run took the cart over and not settled by a count this
    /// run set (an item of them that failed says so too), and the changes of items left out
    /// because a stalled controller sent them to a cart without keys. Added 2026-12-05:
    /// before, only the failures' text and the stack listing told.
    pub uncertain: usize,
    /// Why it stopped before the end (the cart unreachable, refusing the credentials, or
    /// asking a wait of more than a minute), when an earlier request of the run had reached
    /// the cart, even one whose items it refused: the call still returns the report, whose
    /// counts and `failures` say what was done; when none had, the call fails instead.
    /// (Until 2026-12-05 this said "after it had taken some counts": a cart that refused the
    /// first batch's items and then went away returns a report with nothing sent.)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl SendReport {
    /// Counts an item that failed, listed while there is room.
    fn note_failure(&mut self, sku: String, message: String) {
        self.failed += 1;
        list_capped(
            &mut self.failures,
            &mut self.failures_left_out,
            ItemFailure { sku, message },
        );
    }
}

/// One SKU whose count was not applied (Get QOH's `not_applied`), or not compared (the drift
/// report's `unreadable` and `unlisted_why`), and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NotApplied {
    /// The SKU.
    pub sku: String,
    /// Why.
    pub why: String,
}

/// One item whose QOH *Get QOH* changed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct QohChange {
    /// The store's SKU.
    pub sku: String,
    /// Its QOH before the run.
    pub before: i64,
    /// Its QOH after it.
    pub after: i64,
}

/// One item *Get QOH* created (`create_new`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreatedItem {
    /// Its SKU.
    pub sku: String,
    /// The QOH it was created with: the cart's count (0 for a product made for a variant the
    /// cart listed: a product with variants holds no stock of its own).
    pub qoh: i64,
}

/// The most entries [`GetReport::updated_items`], [`GetReport::created_items`],
/// [`GetReport::unknown`] and [`GetReport::not_applied`] each hold.
/// The report lives in memory until the call returns, is kept for [`Store::last_report`], and
/// is copied into a host's buffer: listed whole, a first Get QOH creating a catalogue of
/// 100,000 items would make a report of some 4 MB for a host to allocate (and a VBA host to
/// parse) when the owner reads a handful of lines; so would one of such a catalogue without
/// *create records*, every SKU of it in `unknown` (until 2026-12-05 that list, and
/// `not_applied`, had no bound). 1,000 entries (some 60 KB at most; a `not_applied` entry's
/// reason makes it longer, some 300 KB) show every change of an ordinary run, and the counts
/// still say how many there were.
pub(crate) const REPORT_ITEMS_MAX: usize = 1000;

/// What *Get QOH* did.
///
/// Fields may be added (hence `#[non_exhaustive]`: a report is the library's to make, never
/// built by a caller); its JSON keys keep their names, types and meanings.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct GetReport {
    /// Items whose QOH changed.
    pub updated: usize,
    /// Items created for new products.
    pub created: usize,
    /// Items already in step.
    pub unchanged: usize,
    /// SKUs the order manager does not know (and did not create), in the cart's listing order
    /// (the first 1,000: see `unknown_left_out`). Not one whose SKU differs from an item's
    /// only in case or accents, or in characters that do not show (`CAFE` + U+0301 beside the
    /// store's `CAFÉ`): it is in `not_applied`, saying so (from 2026-12-05; made from this
    /// list, it was a second item of the same stock). Not a list to act on whole: a host that
    /// makes the items itself makes those listed and runs Get QOH again for the next 1,000
    /// (the preflight's `unmapped` warnings, [`Store::preflight`], stop at 1,000 too), or has
    /// Get QOH create them (*create records*).
    pub unknown: Vec<String>,
    /// Counts that could not be applied, each with why and what to do (the first 1,000: see
    /// `not_applied_left_out`; the next run lists those still not applied).
    pub not_applied: Vec<NotApplied>,
    /// Whether the progress callback stopped it.
    pub cancelled: bool,
    /// The items of `updated`, in the cart's listing order, each with its QOH before and after
    /// (the first 1,000: see `updated_items_left_out`), so the owner sees which moved and by
    /// how much.
    pub updated_items: Vec<QohChange>,
    /// How many items of `updated` are not in `updated_items` (0 unless it holds 1,000).
    pub updated_items_left_out: usize,
    /// The items of `created`, in the order they were made, each with the QOH it was given
    /// (the first 1,000: see `created_items_left_out`).
    pub created_items: Vec<CreatedItem>,
    /// How many items of `created` are not in `created_items` (0 unless it holds 1,000).
    pub created_items_left_out: usize,
    /// How many SKUs the store does not know are not in `unknown` (0 unless it holds 1,000).
    /// Added 2026-12-05.
    pub unknown_left_out: usize,
    /// How many counts not applied are not in `not_applied` (0 unless it holds 1,000).
    /// Added 2026-12-05.
    pub not_applied_left_out: usize,
    /// Stack records this run held in doubt (uncertain) as it took the cart over: an earlier
    /// Send QOH's count included them, and its run ended before it recorded the cart's
    /// answer. They are not sent again, and wait for the owner to check the cart and then
    /// retry or discard each (the stack's view lists them as uncertain; a Send QOH sets the
    /// counts and settles them); their items are in `not_applied`. Added 2026-12-05: before,
    /// the report did not count them.
    pub uncertain: usize,
    /// Why it stopped before the end, when the cart failed after its first page was read:
    /// nothing was applied then (a count is applied once the whole listing is read), and the
    /// call still returns the report; on the first page, the call fails instead. (Until
    /// 2026-12-05 this said "after some pages were applied", which none is: run Get QOH again.)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// With `create_new`, where the cart failed to say what the items it would create are
    /// ([`CartAdapter::describe`]: a BigCommerce token without the catalogue's read scope,
    /// the catalogue down): how many were not created, why, and what to do. Each is listed in
    /// `not_applied` too. Made without knowing, a variant of the cart's would be an item of
    /// its own, which cannot be moved under its product afterwards; a later Get QOH creates
    /// them once the cart answers. The counts of the store's items are applied all the same.
    /// Added 2026-12-05; absent from the JSON otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undescribed: Option<String>,
}

/// Lists `entry` at the end of `list` while the list holds fewer than [`REPORT_ITEMS_MAX`]
/// entries, and otherwise counts it in `left_out` (the report's `*_left_out` beside the list):
/// every bounded list of a report grows through here, so each keeps its first 1,000 entries in
/// the order they came and says how many more there were.
fn list_capped<T>(list: &mut Vec<T>, left_out: &mut usize, entry: T) {
    match list.len() < REPORT_ITEMS_MAX {
        true => list.push(entry),
        false => *left_out += 1,
    }
}

impl GetReport {
    /// Counts an item Get QOH moved from `before` to `after`, listed while there is room.
    fn note_updated(&mut self, sku: &str, before: i64, after: i64) {
        self.updated += 1;
        let change = QohChange {
            sku: sku.to_owned(),
            before,
            after,
        };
        list_capped(
            &mut self.updated_items,
            &mut self.updated_items_left_out,
            change,
        );
    }

    /// Counts an item Get QOH created with `qoh`, listed while there is room.
    fn note_created(&mut self, sku: &str, qoh: i64) {
        self.created += 1;
        let created = CreatedItem {
            sku: sku.to_owned(),
            qoh,
        };
        list_capped(
            &mut self.created_items,
            &mut self.created_items_left_out,
            created,
        );
    }

    /// Counts a SKU the store does not know, listed while there is room.
    fn note_unknown(&mut self, sku: &str) {
        list_capped(
            &mut self.unknown,
            &mut self.unknown_left_out,
            sku.to_owned(),
        );
    }

    /// Counts a count not applied, listed while there is room.
    fn note_not_applied(&mut self, n: NotApplied) {
        list_capped(&mut self.not_applied, &mut self.not_applied_left_out, n);
    }

    /// [`GetReport::note_not_applied`] of each of `all`.
    fn note_not_applied_all(&mut self, all: impl IntoIterator<Item = NotApplied>) {
        for n in all {
            self.note_not_applied(n);
        }
    }

    /// Where the report stands, to go [`GetReport::back_to`] when a page's transaction is
    /// rolled back.
    fn mark(&self) -> GetReportMark {
        GetReportMark {
            counts: [self.updated, self.created, self.unchanged],
            lens: [
                self.unknown.len(),
                self.not_applied.len(),
                self.updated_items.len(),
                self.created_items.len(),
            ],
            left_out: [
                self.unknown_left_out,
                self.not_applied_left_out,
                self.updated_items_left_out,
                self.created_items_left_out,
            ],
        }
    }

    /// Forgets what was noted since `mark`.
    fn back_to(&mut self, mark: GetReportMark) {
        [self.updated, self.created, self.unchanged] = mark.counts;
        let [unknown, not_applied, updated_items, created_items] = mark.lens;
        self.unknown.truncate(unknown);
        self.not_applied.truncate(not_applied);
        self.updated_items.truncate(updated_items);
        self.created_items.truncate(created_items);
        [
            self.unknown_left_out,
            self.not_applied_left_out,
            self.updated_items_left_out,
            self.created_items_left_out,
        ] = mark.left_out;
    }
}

/// A [`GetReport`]'s counts, list lengths and `*_left_out` counts, each group in one order
/// (`mark` and `back_to` name them alike).
#[derive(Clone, Copy)]
struct GetReportMark {
    counts: [usize; 3],
    lens: [usize; 4],
    left_out: [usize; 4],
}

/// One preflight warning (rule 11).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Warning {
    /// `pending`, `drift`, `basket`, `unmapped` or `deleted` (an item deleted from the store
    /// that the cart may still show, or one no longer sent to it, as a product given variants
    /// or what its old real-time level showed it: Send QOH sets it to 0); `unreadable` (from 2026-12-05:
    /// the cart lists the item with a count it wrote unreadably; `expected` is the count to
    /// correct it to); `sku_twin` (from 2026-12-05: the item's SKU differs from another's
    /// only in case or accents, which the cart does not tell apart, so it holds one product
    /// for the two; WooCommerce's carts only, the message naming the other); or `more` (from
    /// 2026-12-05),
    /// without a SKU, last after the first 1,000 warnings when there were more: its message
    /// says how many of each kind were not listed and what to do.
    pub kind: &'static str,
    /// The item, when the warning is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// What is wrong and what to do.
    pub message: String,
    /// The cart's count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cart_qoh: Option<i64>,
    /// The count the cart should show.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<i64>,
}

/// A progress callback: `(done, total)`; returning `false` cancels between batches. `total` is
/// -1 while unknown (Get QOH pages through a catalogue of unknown size).
///
/// Both count items, not requests: Send QOH's counts sent or tried (out of the items it will
/// send, zeros for deleted items included), called after each batch but the last and once at
/// the end unless cancelled (`done == total` when every batch went); Get QOH's entries read,
/// after each page (the last with `total == done`). Cancelling returns `Ok`, the report's
/// `cancelled` set (not [`crate::ErrorKind::Cancelled`], which only the C ABI answers).
pub type Progress<'a> = &'a mut dyn FnMut(i64, i64) -> bool;

/// How often, and how long at most, manual sync waits out a cart's rate limit.
const RATE_LIMIT_TRIES: usize = 5;
pub(crate) const RATE_LIMIT_MAX_WAIT: Duration = Duration::from_secs(60);

/// A cart's wait as the store keeps it, shared by manual runs and controllers: the wait a
/// cart names (a rate limit on the call or on some of its items) is written on the cart
/// whichever run met it, and no run asks the cart before that wait ends (a controller's
/// pause for refused credentials aside). (Until 2026-12-04 a manual run neither wrote the
/// waits it met nor read those a controller wrote: the next pass asked a cart within the two
/// minutes it had named to a Send QOH, and a forced Send QOH within a controller's.)
pub(crate) struct CartWait<'a> {
    store: &'a Store,
    cart: &'a Cart,
    /// The store showed a controller's pause for refused credentials: the first answer the
    /// cart gives this run ends it ([`CartWait::answered`]).
    paused: std::cell::Cell<bool>,
}

impl<'a> CartWait<'a> {
    pub(crate) fn new(store: &'a Store, cart: &'a Cart) -> Self {
        CartWait {
            store,
            cart,
            paused: std::cell::Cell::new(false),
        }
    }

    /// What is left of the wait the store keeps for the cart, and the answer that named it.
    /// A controller's pause for refused credentials (kept apart, schema 20) is none of this:
    /// an operator who has mended them (a token rotated in the environment, an app's
    /// access given back in the shop) runs Send or Get QOH to see the cart answer.
    fn left(&self) -> Option<(Duration, String)> {
        let state = self
            .store
            .read(|c| sql::cart_run_state(c, self.cart.id))
            .ok()?;
        let stored = state.rate_limited_until;
        if state.credentials_paused_until > now_ms() {
            self.paused.set(true);
        }
        let answer = state.cart_error.unwrap_or_default();
        let (until, answer) = match self.kept() {
            Some((kept, why)) if kept > stored => (kept, why),
            _ => (stored, answer),
        };
        let left = until.saturating_sub(now_ms());
        (left > 0).then(|| (Duration::from_millis(left as u64), answer))
    }

    /// The wait this handle's runs last met at the cart, and its answer, kept in memory.
    fn kept(&self) -> Option<(i64, String)> {
        let (until, version) = *self.store.inner.cart_waits.lock().get(&self.cart.id)?;
        (version == self.cart.config_version()).then(|| {
            (
                until,
                "a wait the cart named to an earlier run of this handle".into(),
            )
        })
    }

    /// Writes on the cart a wait of `wait` it asked for, with its answer, as asked (this run
    /// sleeps it out itself), briefly ([`CartWait::write_briefly`]): where it cannot be
    /// written, the run honours the wait alone.
    fn record(&self, wait: Duration, answer: &str) {
        let wait = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
        let until = now_ms().saturating_add(wait);
        let (id, version) = (self.cart.id, self.cart.config_version());
        let mut kept = self.store.inner.cart_waits.lock();
        let at = kept.entry(id).or_insert((until, version));
        *at = match at.1 == version {
            true => (at.0.max(until), version),
            false => (until, version),
        };
        drop(kept);
        self.write_briefly(|c| sql::cart_rate_limited(c, id, version, until, answer));
    }

    /// The cart answered a call of this run: a controller's pause for refused credentials
    /// it showed ends, so real-time changes go again without waiting out the pause (until
    /// 2026-12-04 an operator who mended an `env:` token and saw Send QOH succeed still had
    /// the controller sending nothing for up to 5 minutes). Were the credentials mended for
    /// this workstation only, another's controller meets the refusal again, counting no
    /// attempt, and pauses anew.
    fn answered(&self) {
        if self.paused.replace(false) {
            let (id, version) = (self.cart.id, self.cart.config_version());
            self.write_briefly(|c| sql::cart_pause_end(c, id, version, now_ms()));
        }
    }

    /// Best effort, and brief: never inside a transaction a host began on the handle
    /// meanwhile (a drift report or preflight holds no guard against one, and its rollback
    /// would take the write with it), nor waiting the busy timeout behind another writer.
    fn write_briefly(&self, f: impl FnOnce(&rusqlite::Connection) -> Result<()>) {
        let busy = self.store.inner.options.busy_timeout;
        let conn = self.store.inner.conn.lock();
        if conn.is_autocommit() {
            let _ = crate::store::write_briefly_on(&conn, busy, f);
        }
    }

    /// Writes the longest wait `outcomes` asked for on items (a rate limit met by a later
    /// request of a call).
    fn record_items(&self, outcomes: &[SendOutcome]) {
        let asked = outcomes
            .iter()
            .filter_map(|o| match o {
                SendOutcome::Retry {
                    message,
                    after: Some(after),
                } => Some((*after, message)),
                _ => None,
            })
            .max_by_key(|(after, _)| *after);
        if let Some((after, message)) = asked {
            self.record(after, message);
        }
    }
}

/// Calls `f`, waiting out 429s as the cart asks (a manual run has an operator watching; it
/// does not give up on the first throttle), and the wait the store keeps for the cart.
fn with_rate_limit<T>(
    wait: &CartWait,
    f: impl FnMut() -> std::result::Result<T, CartError>,
) -> std::result::Result<T, CartError> {
    let mut unbounded = Duration::MAX;
    with_rate_limit_within(Some(wait), f, &mut unbounded)
}

/// [`with_rate_limit`], waiting no longer than `budget` in all, and taking the waits from it:
/// callers that make many calls share one budget. `wait`: the cart's wait as the store keeps
/// it ([`CartWait`]), honoured before each call and written with each rate limit met.
///
/// The cart is never asked again before the time it named (DESIGN §9a): a wait longer than
/// [`RATE_LIMIT_MAX_WAIT`], or than what is left of `budget`, is not waited out; the rate
/// limit is the answer, and the run stops on it, saying so.
pub(crate) fn with_rate_limit_within<T>(
    wait: Option<&CartWait>,
    mut f: impl FnMut() -> std::result::Result<T, CartError>,
    budget: &mut Duration,
) -> std::result::Result<T, CartError> {
    // The cart's 429s waited out, and the waits kept for the cart slept (another run's or a
    // controller's, counted apart: they are no answer of the cart's to this run).
    let (mut tries, mut slept) = (0, 0);
    loop {
        if let Some((left, answer)) = wait.and_then(CartWait::left) {
            if slept >= 2 * RATE_LIMIT_TRIES || left > RATE_LIMIT_MAX_WAIT.min(*budget) {
                return Err(CartError::RateLimited {
                    retry_after: Some(left),
                    message: format!(
                        "the cart is not asked again before the wait it named ends, in {} s: {answer}",
                        left.as_secs_f64().ceil()
                    ),
                });
            }
            slept += 1;
            *budget -= left;
            std::thread::sleep(left);
            continue;
        }
        match f() {
            Err(CartError::RateLimited {
                retry_after,
                message,
            }) => {
                let asked = retry_after.unwrap_or(Duration::from_secs(1));
                if let Some(w) = wait {
                    w.record(asked, &message);
                }
                if tries >= RATE_LIMIT_TRIES || asked > RATE_LIMIT_MAX_WAIT.min(*budget) {
                    return Err(CartError::RateLimited {
                        retry_after,
                        message,
                    });
                }
                tries += 1;
                *budget -= asked;
                std::thread::sleep(asked);
            }
            r => {
                if let (Ok(_), Some(w)) = (&r, wait) {
                    w.answered();
                }
                return r;
            }
        }
    }
}

fn cart_error(cart: &Cart, e: &CartError) -> Error {
    let kind = match e {
        CartError::Unreachable(_) => ErrorKind::Network,
        _ => ErrorKind::Refused,
    };
    Error::new(kind, format!("cart {:?}: {}", cart.name, e.message()))
}

/// How long a manual Send/Get QOH holds its cart before another may take it, unless renewed:
/// a thread of the run renews it every third of this, so it lapses only when the process
/// holding it died, however long one call to the cart takes (a batch that answers slowly,
/// rate-limit waits, counts sent one by one after a panic).
const HOLD_MS: i64 = 15 * 60 * 1000;

/// A manual Send/Get QOH's hold on its cart (the controller sends nothing to the cart
/// meanwhile); released on drop, and lapsing by itself if the process dies.
struct CartHold<'a> {
    store: &'a Store,
    cart: CartId,
    owner: String,
    keeper: Option<(mpsc::Sender<()>, std::thread::JoinHandle<()>)>,
    /// The records, by item, that counts an earlier Send QOH left sending had the takeover
    /// hold in doubt (`sql::counts_left`): uncertain unless this run's count settles them.
    in_doubt: Vec<(ItemId, usize)>,
    /// Dropped after the release: the host may begin a transaction only once the run wrote
    /// its last.
    _run: crate::store::ManualRun<'a>,
}

impl CartHold<'_> {
    /// How many of the records the takeover held in doubt ([`CartHold::in_doubt`]) are still
    /// uncertain: those no count this run set has settled since, for the run's report
    /// (`uncertain`) or its error. On a store that cannot be read, all of them: the owner is
    /// told of a record to check rather than none.
    fn in_doubt_left(&self) -> usize {
        in_doubt_left(self.store, self.cart, &self.in_doubt)
    }

    /// `e`, ending the run, with the records its takeover held in doubt and left so named
    /// ([`held_in_doubt`]): the call returns no report to count them in, and they wait for
    /// the owner (until 2026-12-05 the error did not say so).
    fn tell(&self, e: Error) -> Error {
        match self.in_doubt_left() {
            0 => e,
            n => Error::new(e.kind(), format!("{}; {}", e.message(), held_in_doubt(n))),
        }
    }

    /// Starts the thread that pushes the deadline (`hold_ms` on) out every third of it until
    /// the hold is dropped. A renewal that fails (a busy store) is tried at the next third.
    /// It writes on a connection of its own, opened at its first renewal: on the handle's, a
    /// transaction the host opened meanwhile (from another thread) would take the renewals
    /// in, and a rollback would undo them.
    fn keep(&mut self, hold_ms: i64) {
        let (stop, stopped) = mpsc::channel::<()>();
        let (path, options) = (
            self.store.inner.path.clone(),
            self.store.inner.options.clone(),
        );
        let (cart, owner) = (self.cart, self.owner.clone());
        let every = Duration::from_millis((hold_ms / 3).max(1) as u64);
        let thread = std::thread::Builder::new()
            .name("invsync-cart-hold".into())
            .spawn(move || {
                let mut conn = None;
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    if conn.is_none() {
                        // Its handle keeps the machine lock.
                        conn = crate::store::connect_existing(&path, &options)
                            .ok()
                            .map(|(c, _)| c);
                    }
                    if let Some(c) = &conn {
                        // From when the write lock was had: a host transaction may have
                        // held it a while.
                        let renewed = crate::store::write_on(c, |c| {
                            let now = now_ms();
                            sql::cart_hold(c, cart, &owner, now, now + hold_ms)
                        });
                        if renewed.is_err() {
                            conn = None; // opened afresh next time
                        }
                    }
                }
            });
        // Without the thread the hold still holds for `hold_ms`, as it did before it had one.
        self.keeper = thread.ok().map(|t| (stop, t));
    }
}

impl Drop for CartHold<'_> {
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.keeper.take() {
            drop(stop);
            let _ = thread.join();
        }
        // If this fails the hold lapses by its deadline.
        let _ = self
            .store
            .write(|c| sql::cart_release(c, self.cart, &self.owner));
    }
}

impl Store {
    /// Checks rule 9 and the cart's capability; returns the cart and its adapter.
    fn manual_prepare(
        &self,
        cart: CartId,
        force: bool,
        what: &str,
    ) -> Result<(Cart, std::sync::Arc<dyn CartAdapter>)> {
        self.refuse_in_host_transaction(what)?;
        let (cart, settings) =
            self.read(|c| Ok((sql::cart_by_id(c, cart)?, crate::params::load(c)?)))?;
        let capable = match what {
            "Send QOH" => cart.capabilities.send,
            "Get QOH" => cart.capabilities.get,
            _ => true,
        };
        if !capable {
            return Err(Error::refused(format!(
                "cart {:?} cannot {what}",
                cart.name
            )));
        }
        if !force && settings.synch_qoh && cart.realtime_on() {
            return Err(Error::refused(format!(
                "cart {:?} has real-time sync on: {what} is refused (clear Synchronize Inventory first, or force)",
                cart.name
            )));
        }
        let adapter = self.build_adapter(&cart)?;
        Ok((cart, adapter))
    }

    /// Holds `cart` for a manual run: takes the hold (another run's live hold is `Busy`),
    /// then waits for a send the controller already has in flight to settle, and takes over
    /// leases that lapsed, so nothing the run reads can change under it.
    /// `sends`: the run sends counts (Send QOH, a drift repair), which its hold says
    /// ([`sql::cart_held_by_sender`]): an item deleted meanwhile may be on its way there.
    fn hold_cart(&self, cart: &Cart, sends: bool) -> Result<CartHold<'_>> {
        self.hold_cart_for(cart, HOLD_MS, sends)
    }

    /// [`Store::hold_cart`], renewed every third of `hold_ms`.
    fn hold_cart_for(&self, cart: &Cart, hold_ms: i64, sends: bool) -> Result<CartHold<'_>> {
        let run = self.manual_run("Send or Get QOH")?;
        let owner = match sends {
            true => format!("{}{}", sql::SENDER, random_key()),
            false => random_key(),
        };
        let now = now_ms();
        let held = self.write(|c| {
            // Saved since the run read it (another adapter, shop or level, which a save is
            // refused while the cart is held): the run would go on with the old one.
            if sql::cart_by_id(c, cart.id)?.config_version != cart.config_version {
                return Err(Error::new(
                    ErrorKind::Busy,
                    format!(
                        "cart {:?} was saved as this run started; run it again",
                        cart.name
                    ),
                ));
            }
            sql::cart_hold(c, cart.id, &owner, now, now + hold_ms)
        })?;
        if !held {
            return Err(Error::new(
                ErrorKind::Busy,
                format!(
                    "cart {:?}: another Send or Get QOH is running for it",
                    cart.name
                ),
            ));
        }
        let mut hold = CartHold {
            store: self,
            cart: cart.id,
            owner,
            keeper: None,
            in_doubt: Vec::new(),
            _run: run,
        };
        hold.keep(hold_ms);
        let deadline = now_ms() + self.settings()?.lease_ms;
        // Waits reading; takes the write lock (which the controller it waits for needs to
        // settle) only to take over once no lease is live.
        loop {
            if self.read(|c| sql::live_leases(c, cart.id, now_ms()))? == 0 {
                if let Some(held) =
                    self.write(|c| sql::cart_take_over(c, cart.id, now_ms(), true))?
                {
                    hold.in_doubt = held;
                    break;
                }
            }
            if now_ms() > deadline {
                return Err(Error::new(
                    ErrorKind::Busy,
                    format!(
                        "cart {:?}: a stack controller is still sending to it; try again",
                        cart.name
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(hold)
    }

    /// *Send QOH to website* (rule 7): pushes the absolute published count of every item the
    /// cart gets, in batches of at most its `max_items_to_send`. The counts of each batch are
    /// read together with the newest record waiting for each item; the records a count included
    /// are settled as superseded once the cart has taken it. Such a count is noted before it
    /// goes: if the run ends before it settles the answer (a busy store, a process that ended),
    /// the next lease or manual run of the cart settles the records as included, as for a lost
    /// answer, instead of sending them on top of a count the cart may have taken. The cart is
    /// held meanwhile: its controller sends nothing to it. `progress` is called between
    /// batches; returning `false` stops (the report says `cancelled`).
    ///
    /// A wait the cart names (`Retry-After`, on the call or on items) is written on the cart,
    /// as a controller writes one, and the run asks the cart nothing before the end of one
    /// written there (by a controller or an earlier run): a wait of up to
    /// a minute is waited out, a longer one stops the run, an error of the call when nothing
    /// reached the cart yet.
    ///
    /// An item whose set fails is listed in `failures`; its waiting records stay on the stack
    /// and are sent as deltas once the cart is released, but for those an earlier run's count
    /// left in doubt, held back as uncertain as this run took the cart over: they wait for the
    /// owner, and its failure says how many (a count this run sets settles them). A batch
    /// whose answer is lost is sent again (twice at most: a count is absolute). A count the cart may still have taken is
    /// listed in `failures` too, but its waiting records are settled with it, since sending
    /// them after a count that included them would count them twice on the cart (an oversell);
    /// Send QOH again puts such an item right.
    ///
    /// A change the count includes that was sent before without settling (a failed try, a
    /// lost answer, or a controller that stalled with its request on the way and whose lease
    /// the run took over) may still reach the cart after the count, which would then count it
    /// twice. A cart with keys is first sent every such change again under its key (a late
    /// copy is then a duplicate); an item whose change is not applied so is listed and not
    /// sent its count. On a cart without keys an item a stalled controller sent a change is listed,
    /// not sent, and the change marked uncertain, for the owner to check the cart before the
    /// next Send QOH sets the count (a late request landing after that is counted twice: no
    /// cart without keys can tell it from a new one).
    pub fn send_qoh(
        &self,
        cart: CartId,
        options: SendOptions,
        progress: Option<Progress>,
    ) -> Result<SendReport> {
        self.forget_report();
        let (cart, adapter) = self.manual_prepare(cart, options.force, "Send QOH")?;
        let hold = self.hold_cart(&cart, true)?;
        self.send_qoh_held(cart, adapter, &hold, progress)
            .map_err(|e| hold.tell(e))
    }

    /// [`Store::send_qoh`] once `hold` holds the cart.
    fn send_qoh_held(
        &self,
        cart: Cart,
        adapter: std::sync::Arc<dyn CartAdapter>,
        hold: &CartHold<'_>,
        mut progress: Option<Progress>,
    ) -> Result<SendReport> {
        adapter.begin_manual_run();
        let items = self.read(|c| sql::item_ids_for_cart(c, &cart))?;
        let deleted = self.read(|c| sql::deleted_on_cart(c, cart.id))?;
        let mut run = SendRun {
            in_doubt: &hold.in_doubt,
            cart: &cart,
            adapter: adapter.as_ref(),
            wait: CartWait::new(self, &cart),
            total: (items.len() + deleted.len()) as i64,
            done: 0,
            reached: false,
            owed: Duration::ZERO,
            report: SendReport::default(),
            maybe_on_cart: Vec::new(),
        };
        let keyed = adapter.update_mode() == crate::adapter::UpdateMode::RelativeKeyed;
        // Items a stalled controller sent a change to a cart without keys: held back, their
        // changes marked uncertain once the run has a report to say so in.
        let mut held_back: Vec<(String, Vec<sql::SentBefore>)> = Vec::new();
        // The deleted items' zeros go first, each in a run of its own for the adapter (which
        // refuses a record set twice in a run for two SKUs): a new item of the same SKU, on
        // the same record, is then sent its count after the 0, and on another record leaves
        // the old one at 0 (the store cannot tell which; sent after the items, a 0 to the
        // same record erased the new count, and one held back left the old record selling).
        // Whether the run stopped at them (cancelled, or the cart stopped).
        let ended =
            !deleted.is_empty() && self.send_zeros(&mut run, &deleted, progress.as_mut())?;
        if !deleted.is_empty() {
            adapter.begin_manual_run();
        }
        let items: &[ItemId] = if ended { &[] } else { &items };
        for batch in items.chunks(cart.max_items_to_send as usize) {
            run.pay_owed();
            // The counts, and the newest waiting record each one includes.
            let mut read: Vec<Included> = Vec::with_capacity(batch.len());
            // The ledger's newest row as the counts are read: returns imported from the cart
            // after it may be on the cart on top of the count sent (below).
            let mut since = 0;
            // Items with a change sent before that has not settled: on a cart with keys it is
            // sent again under its key first (by set index), on one without, held back when a
            // stalled controller sent it (by SKU).
            let mut deliver: Vec<(usize, Vec<sql::SentBefore>)> = Vec::new();
            let sets = self.read(|c| {
                let mut sets = Vec::with_capacity(batch.len());
                since = sql::ledger_last_id(c)?;
                let kept_any = sql::pulled_any(c, cart.id)?;
                // Asked once a batch, in the read's one snapshot: a cart with nothing waiting
                // (the usual Send QOH) skips two look-ups an item, a sixth of the run's CPU.
                let waiting = sql::cart_waiting(c, cart.id)?;
                // An item deleted since the run listed it (from another workstation) is not
                // read: nothing to count, and no reason to stop the run.
                for (item, fields) in sql::items_with_fields(c, cart.id, batch)? {
                    let Some((target, published)) = published_with(c, &cart, &item, &fields)?
                    else {
                        continue;
                    };
                    // The count includes that change; should its request land after it, the
                    // cart counts the change twice (the count's key is not the change's).
                    let before = match waiting.groups || waiting.batches {
                        true => sql::sent_before(c, cart.id, target, waiting.batches)?,
                        false => Vec::new(),
                    };
                    if keyed && !before.is_empty() {
                        deliver.push((sets.len(), before));
                    } else if before.iter().any(|g| g.stalled) {
                        held_back.push((item.sku.clone(), before));
                        continue;
                    }
                    // An item with a count kept of what the cart shows is noted too, as
                    // including no record (0): should the run end before it settles the
                    // answer, the count is taken as one the cart may have taken, and what
                    // was kept is settled so (`sql::counts_left`).
                    let newest = match waiting.records {
                        true => sql::stack_newest(c, cart.id, target)?,
                        false => None,
                    };
                    let newest = match newest {
                        None if kept_any && sql::pulled_get(c, cart.id, target)?.is_some() => {
                            Some(0)
                        }
                        newest => newest,
                    };
                    read.push((target, newest));
                    sets.push(QuantitySet {
                        key: random_key(),
                        sku: item.sku.clone(),
                        remote_ref: match target == item.id {
                            true => fields.remote_ref,
                            false => sql::web_fields_get(c, cart.id, target)?.remote_ref,
                        },
                        qoh: published,
                        expected: None,
                    });
                }
                Ok(sets)
            });
            let sets = sets.map_err(|e| self.send_failed(&mut run, e))?;
            let resent = run.resend_first(sets, read, &deliver);
            let marked = std::mem::take(&mut run.maybe_on_cart);
            if !marked.is_empty() {
                self.write_patiently(|c| sql::groups_maybe_applied(c, &marked))
                    .map_err(|e| self.send_failed(&mut run, e))?;
            }
            let Some((sets, read)) = resent.map_err(|e| self.send_failed(&mut run, e))? else {
                break;
            };
            if !sets.is_empty() {
                run.pay_owed();
                // Each count that includes waiting records (or replaces a kept count) is
                // noted just before it goes: should the run end before it settles the answer,
                // the count is taken as one the cart may have taken, and its records are not
                // sent on top of it.
                let notes: Vec<(ItemId, i64)> = read
                    .iter()
                    .filter_map(|&(target, upto)| upto.map(|u| (target, u)))
                    .collect();
                let noted: Vec<ItemId> = notes.iter().map(|n| n.0).collect();
                // Where the cart's reads trail its writes, every count is noted as set just
                // before it goes too (and again once it settles): should the run end between
                // the two, a Get QOH right after must still not read the cart's old count as
                // a sale there (from review: it did, and took the units off). Elsewhere the
                // cart's one time is noted with the settled answer (`note_counts_set`), and
                // here only in a write made anyway: a write a batch cost Send QOH a third.
                let lag = lag_ms(run.adapter);
                if !notes.is_empty() || lag > 0 {
                    let targets: Vec<ItemId> = read.iter().map(|&(target, _)| target).collect();
                    let now = now_ms();
                    self.write(|c| {
                        sql::counts_sending(c, cart.id, &notes)?;
                        note_counts_set(c, cart.id, lag, &targets, now)
                    })
                    .map_err(|e| self.send_failed(&mut run, e))?;
                }
                let (took, stop) = match run.set_counts(&sets) {
                    Ok(sent) => sent,
                    // Nothing reached the cart: the counts were surely not taken.
                    Err(e) => {
                        if !noted.is_empty() {
                            self.write_patiently(|c| sql::counts_sent(c, cart.id, &noted))
                                .map_err(|busy| unsettled(&run, &busy))?;
                        }
                        return Err(e);
                    }
                };
                if let Err(e) = self.settle_counts(&mut run, &sets, &read, took, since, &noted) {
                    return Err(self.send_failed(&mut run, e));
                }
                if let Some(why) = stop {
                    run.report.error = Some(why);
                    break;
                }
            }
            if run.batch_done(batch.len(), progress.as_mut()) {
                break;
            }
        }
        if let Some(p) = progress.as_mut() {
            if !run.report.cancelled {
                p(run.done, run.total);
            }
        }
        let mut marked = 0;
        if !held_back.is_empty() {
            let now = now_ms();
            // Per item: a change a live controller still holds on its lease is left to it,
            // not marked (the message says which).
            let per_item: Vec<usize> = self.write(|c| {
                held_back
                    .iter()
                    .map(|(_, groups)| {
                        groups.iter().try_fold(0, |n, g| {
                            Ok(n + sql::group_held_back(c, g.group, HELD_BACK_RESPONSE, now)?)
                        })
                    })
                    .collect()
            })?;
            marked = per_item.iter().sum();
            for ((sku, _), n) in held_back.into_iter().zip(per_item) {
                let why = if n > 0 { HELD_BACK } else { HELD_BY_SENDER };
                run.report.note_failure(sku, why.into());
            }
        }
        run.report.uncertain = hold.in_doubt_left() + marked;
        let report = run.report;
        self.remember_report(serde_json::to_string(&report).unwrap_or_default());
        Ok(report)
    }

    /// Sets to 0 on the cart the items deleted from the store that it may still show, before
    /// the run's items: each the cart took, or refused for good (its shop no longer lists it),
    /// is forgotten; one that was not taken, or may have been, goes again at the next Send
    /// QOH (a count of 0 taken twice is still 0). Returns whether the run stops here (the
    /// cart stopped answering, or the progress callback cancelled it).
    fn send_zeros(
        &self,
        run: &mut SendRun<'_>,
        deleted: &[(String, Option<String>)],
        mut progress: Option<&mut Progress>,
    ) -> Result<bool> {
        for batch in deleted.chunks(run.cart.max_items_to_send as usize) {
            run.pay_owed();
            let sets: Vec<QuantitySet> = batch
                .iter()
                .map(|(sku, remote_ref)| QuantitySet {
                    key: random_key(),
                    sku: sku.clone(),
                    remote_ref: remote_ref.clone(),
                    qoh: 0,
                    expected: None,
                })
                .collect();
            // Noted before the 0s go, as Send QOH's counts are: a run ending before it
            // settles them leaves the SKUs to set again, and a Get QOH right after must not
            // make the items again from the cart's old counts.
            let lag = lag_ms(run.adapter);
            if lag > 0 {
                let (cart, now) = (run.cart.id, now_ms());
                let skus: Vec<&str> = sets.iter().map(|s| s.sku.as_str()).collect();
                self.write(|c| sql::zeroed_on_cart_note(c, cart, &skus, now))
                    .map_err(|e| self.send_failed(run, e))?;
            }
            let (took, stop) = match run.set_counts(&sets) {
                Ok(sent) => sent,
                Err(e) => return Err(self.send_failed(run, e)),
            };
            let mut forget = Vec::new();
            // The 0s the cart took (not those it refused).
            let mut zeroed = Vec::new();
            for (set, took) in sets.iter().zip(took) {
                let why = match took {
                    Took::NotTried => continue,
                    Took::Yes => {
                        run.report.zeroed += 1;
                        forget.push(set.sku.as_str());
                        zeroed.push(set.sku.as_str());
                        continue;
                    }
                    Took::Refused(why) => {
                        forget.push(set.sku.as_str());
                        format!("{NO_LONGER_SENT}; the cart refused to set it to 0: {why}")
                    }
                    Took::No(why) | Took::Maybe(why) => format!(
                        "{NO_LONGER_SENT}; not known to be set to 0 on the cart (sent again at \
                         the next Send QOH): {why}"
                    ),
                };
                run.report.note_failure(set.sku.clone(), why);
            }
            if !forget.is_empty() {
                let cart = run.cart.id;
                // When each 0 was taken: a Get QOH right after, on a cart whose reads trail
                // its writes, may read the item's old count; on one that declares no lag, the
                // cart's one time, should it be found to lag later.
                let now = now_ms();
                let level = run.cart.level();
                self.write_patiently(|c| {
                    match lag {
                        0 if !zeroed.is_empty() => sql::counts_set_last_note(c, cart, now)?,
                        0 => {}
                        _ => sql::zeroed_on_cart_note(c, cart, &zeroed, now)?,
                    }
                    // An item still in the store that the cart's level does not show (a
                    // variant on a `Sku` cart, a product with variants on an `Attribute` one)
                    // is kept at the 0 its listing shows now: should the level change to one
                    // that shows it, that 0 is no sale there (Get QOH), and real-time changes
                    // send it the difference (until 2026-12-05 a Get QOH read it as every
                    // unit sold there).
                    for sku in &zeroed {
                        if let Some(item) = sql::item_find(c, sku)? {
                            if shown_as(level, &item) != Some(item.id) {
                                sql::pulled_set(c, cart, item.id, 0)?;
                            }
                        }
                    }
                    sql::deleted_on_cart_forget(c, cart, &forget)
                })
                .map_err(|e| self.send_failed(run, e))?;
            }
            if let Some(why) = stop {
                run.report.error = Some(why);
                return Ok(true);
            }
            if run.batch_done(batch.len(), progress.as_deref_mut()) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The error ending a Send QOH. Once a batch reached the cart, what the batches before
    /// did stands, and the report says so, kept for `last_report` (the call fails).
    fn send_failed(&self, run: &mut SendRun<'_>, e: Error) -> Error {
        if run.reached {
            run.report.error = Some(e.message().to_owned());
            run.report.uncertain = in_doubt_left(self, run.cart.id, run.in_doubt);
            self.remember_report(serde_json::to_string(&run.report).unwrap_or_default());
        }
        e
    }

    /// Settles what a batch's counts (`sets`, each including `read`'s records) did, by
    /// `took`: counts the cart took, or may have, make the records they include obsolete;
    /// the others are listed. `since`: the ledger's newest row as the counts were read.
    fn settle_counts(
        &self,
        run: &mut SendRun<'_>,
        sets: &[QuantitySet],
        read: &[Included],
        took: Vec<Took>,
        since: i64,
        noted: &[ItemId],
    ) -> Result<()> {
        let mut applied = Vec::new();
        // The items the cart took or may have taken.
        let mut sent = Vec::new();
        for ((set, read), took) in sets.iter().zip(read).zip(took) {
            let (target, upto) = *read;
            let message = match took {
                Took::NotTried => continue,
                Took::Yes => {
                    run.report.sent += 1;
                    None
                }
                Took::Maybe(why) => Some(format!("{IN_DOUBT}: {why}")),
                Took::No(why) | Took::Refused(why) => {
                    let why = match run.in_doubt.iter().find(|&&(item, _)| item == target) {
                        Some(&(_, n)) => format!("{why}; {}", left_in_doubt(n)),
                        None => why,
                    };
                    run.report.note_failure(set.sku.clone(), why);
                    continue;
                }
            };
            if let Some(upto) = upto {
                applied.push((target, upto));
            }
            sent.push((target, set.qoh, message.is_some()));
            if let Some(message) = message {
                run.report.note_failure(set.sku.clone(), message);
            }
        }
        // A count the cart took makes the records it included obsolete; so does one it
        // may have taken (it would apply them twice). The records of an item the cart
        // surely did not take stay and are sent as deltas.
        //
        // The cart now shows the count it took (or may have), so a count kept of it
        // goes, looked for after the answer. An order or return imported from the cart
        // while the request was on its way may have come before the cart took the
        // count (which then erased it) or after; which is not known, so the cart is
        // taken to show the count sent plus the returns (summed from the ledger, so a
        // sale cannot hide one): a sale that came after is then counted twice, a
        // return that came before lost, both toward fewer units; a sale it erased is
        // never given back, as measuring from the published count (which fell with
        // it) would. Only on a cart that real-time changes do not go to: one they go
        // to keeps nothing, as each change moves it. But an order imported from that
        // very cart queues it nothing (rule 2), so a sale the count erased was never
        // taken off it again (until 2026-12-03: the cart went on showing a unit the
        // store no longer had): it is sent the sales as a correction, which a sale that
        // came after the count then has twice, toward fewer units as above (a forced
        // run's returns stay lost).
        let now = now_ms();
        let (moved, owed) = match sent.is_empty() {
            true => (false, false),
            false => self.read(|c| {
                let from_cart = sql::ledger_from_cart_since(c, run.cart.id, since, &[])?;
                let realtime = sql::realtime_targets(c)?
                    .iter()
                    .any(|(id, _)| *id == run.cart.id);
                Ok((from_cart && !realtime, from_cart && realtime))
            })?,
        };
        if !applied.is_empty() || moved || owed || !noted.is_empty() || !sent.is_empty() {
            let cart = run.cart.id;
            let workstation = self.workstation();
            let lag = lag_ms(run.adapter);
            let settled = self.write_patiently(|c| {
                sql::counts_sent(c, cart, noted)?;
                let items: Vec<ItemId> = sent.iter().map(|&(item, ..)| item).collect();
                sql::cart_mark_shown(c, cart, &items)?;
                note_counts_set(c, cart, lag, &items, now)?;
                let superseded = sql::supersede(c, cart, &applied, now)?;
                // Read in the write: a count kept while the request was on its way is seen.
                let kept = !moved && sql::pulled_any(c, cart)?;
                for &(item, count, maybe) in &sent {
                    let (sales, returns) = match moved || owed {
                        true => sql::ledger_moves_since(c, cart, item, since)?,
                        false => (0, 0),
                    };
                    if moved {
                        sql::pulled_set(c, cart, item, count + returns)?;
                    } else if kept {
                        kept_after_taken(c, run.cart, item, count, maybe)?;
                    }
                    if owed && sales < 0 {
                        queue_correction(c, cart, item, sales, &workstation)?;
                    }
                }
                Ok(superseded)
            });
            run.report.superseded += settled.map_err(|e| unsettled(run, &e))?;
        }
        Ok(())
    }

    /// A write of what a cart answered, tried [`SETTLE_TRIES`] times on a busy store: the
    /// answer is worth waiting for (the cart stays held meanwhile), and unsettled, each count
    /// noted is later taken as one the cart may have taken, refused ones too, whose records
    /// are then not sent.
    fn write_patiently<T>(&self, f: impl Fn(&rusqlite::Connection) -> Result<T>) -> Result<T> {
        let mut tries = 1;
        loop {
            match self.write(&f) {
                Err(e) if e.kind() == ErrorKind::Busy && tries < SETTLE_TRIES => tries += 1,
                written => return written,
            }
        }
    }

    /// Import the cart's outstanding orders first: an order placed there already moved the
    /// cart's count, and imported after this run it moves the item's QOH a second time.
    ///
    /// *Get QOH from website* (rule 8): moves each item's QOH by what the cart's count plus the
    /// cart's waiting records for it moved from what the cart was shown (or, on a cart that
    /// real-time changes do not go to, what it counted at the last Get QOH where that was not
    /// what it publishes), as a QOH change from that cart (queued to every other real-time
    /// cart, and to that cart only where a cap or buffer makes its published count move
    /// otherwise). A cart last at or below 0 that now counts above 0 sets the count. With `create_new`, unknown
    /// SKUs become items with the cart's count; otherwise they are listed in `unknown`. One
    /// whose SKU differs from an item's only in case or accents, or in characters that do not
    /// show, is neither: it is listed in `not_applied`, naming the item. A `Sku`
    /// cart's count for a product with variants cannot be split among them: where it is not
    /// what the store has the cart show (then it is `unchanged`), it is listed in
    /// `not_applied` with both counts, as is an item with records sent to the cart that have not settled (the
    /// count may or may not include them), and one whose count moved though the cart took a
    /// change of it within its adapter's [`CartAdapter::read_lag`] before the page was read
    /// (the read may be from before the change). An item of the store's that the cart has but
    /// lists no count of ([`crate::adapter::CataloguePage::unlisted`]: a Shopify variant not
    /// stocked at the cart's location) is listed in `not_applied` with the cart's reason,
    /// unless the listing counts its SKU elsewhere. `progress` is called after each page read, with
    /// `total` -1 while more may follow and `done` once the listing is read; returning
    /// `false` stops the run before any count is applied (the report says `cancelled`).
    ///
    /// The report names what changed: each item moved, with its QOH before and after, and each
    /// item created, with its QOH; each SKU the store lacks; and each count not applied once,
    /// with why and what to do (the first 1,000 of each list, and how many more: see
    /// [`GetReport`]). An entry the
    /// cart lists with a count that cannot be read ([`crate::adapter::CataloguePage::unreadable`])
    /// is listed alone, the rest of the listing applied.
    pub fn get_qoh(
        &self,
        cart: CartId,
        options: GetOptions,
        progress: Option<Progress>,
    ) -> Result<GetReport> {
        self.forget_report();
        let (cart, adapter) = self.manual_prepare(cart, options.force, "Get QOH")?;
        // Held, so no record is sent (and settled) between reading the cart's counts and
        // adding the records still waiting for it: each is counted exactly once.
        let hold = self.hold_cart(&cart, false)?;
        self.get_qoh_held(cart, adapter, &hold, options, progress)
            .map_err(|e| hold.tell(e))
    }

    /// [`Store::get_qoh`] once `hold` holds the cart.
    fn get_qoh_held(
        &self,
        cart: Cart,
        adapter: std::sync::Arc<dyn CartAdapter>,
        hold: &CartHold<'_>,
        options: GetOptions,
        mut progress: Option<Progress>,
    ) -> Result<GetReport> {
        let workstation = self.workstation();
        // Get QOH sends nothing: what the takeover held in doubt stays so.
        let mut report = GetReport {
            uncertain: hold.in_doubt_left(),
            ..GetReport::default()
        };
        let mut paging = Paging::default();
        let mut cursor: Option<String> = None;
        let mut done = 0i64;
        // Items linked to the cart by a `remote_ref`: the cart lists its counts under its own
        // SKUs, which for these may differ from the store's, so a SKU it lists that the
        // store does not know may be one of them, and is not made an item of its own.
        let linked = self.read(|c| sql::linked_by_ref(c, cart.id))?;
        // The whole listing is read before any count is applied: a SKU the cart lists on two
        // products is two counts of one item, and where the second is on a later page, the
        // first would already have moved the item. A listing not read to its end (cancelled, or
        // the cart failed part-way) applies nothing. Each page keeps the ledger's newest row
        // before the cart was asked for it: an order or return imported from the cart after
        // it may or may not be in the page's counts. (The cart is held throughout, so no
        // record is sent meanwhile; a local change made meanwhile moves the item's QOH and
        // its waiting records alike, and the count is measured with both.)
        let mut pages: Vec<ReadPage> = Vec::new();
        // A cart whose reads trail its writes by this much may answer a count from before a
        // change it took: see `Pull::recent`.
        let lag = lag_ms(adapter.as_ref());
        // Variant SKU → its product's SKU, where the cart says (both trimmed).
        let mut products: HashMap<String, String> = HashMap::new();
        // SKU → (description, attributes) for what `create_item` makes, where the cart says
        // (`CataloguePage::details`; SKUs trimmed, the first entry of each kept).
        let mut details: HashMap<String, Details> = HashMap::new();
        // With `create_new`, the SKUs (trimmed) `CartAdapter::describe` was asked about and
        // failed for, the first failure's text, and how many of them were created.
        let mut undescribed: HashSet<String> = HashSet::new();
        let mut undescribed_why: Option<String> = None;
        let uncreated = std::cell::Cell::new(0usize);
        // The products made for variants the cart listed (see `create_item`).
        let made = std::cell::RefCell::new(HashSet::new());
        // Every SKU of the store by its lower case, read once something is to be created.
        let folded = std::cell::RefCell::new(None);
        // (SKU, why) of what the cart has but lists no count of (`CataloguePage::unlisted`).
        let mut unlisted: Vec<(String, String)> = Vec::new();
        // (SKU, why) of what the cart lists with a count it wrote unreadably
        // (`CataloguePage::unreadable`).
        let mut unreadable: Vec<(String, String)> = Vec::new();
        loop {
            let since = self.read(sql::ledger_last_id)?;
            let asked_at = now_ms();
            let page = match with_rate_limit(&CartWait::new(self, &cart), || {
                adapter.fetch_catalogue(cursor.as_deref(), 500)
            })
            .and_then(|page| {
                for (variant, product) in page.products {
                    products.insert(variant.trim().to_owned(), product.trim().to_owned());
                }
                if options.create_new {
                    for (sku, description, attributes) in page.details {
                        details
                            .entry(sku.trim().to_owned())
                            .or_insert((description, attributes));
                    }
                }
                unlisted.extend(page.unlisted);
                let counts = paging.check(page.counts)?;
                paging.note_unreadable(page.unreadable.iter().map(|(sku, _)| sku.as_str()));
                unreadable.extend(page.unreadable);
                Ok(counts)
            }) {
                Ok(page) => page,
                // Before any page: an error of the call. After, the report says why it
                // stopped, and nothing is applied (below).
                Err(e) if cursor.is_none() => return Err(cart_error(&cart, &e)),
                Err(e) => {
                    report.error = Some(format!(
                        "stopped after reading {}: {}; nothing was applied (a count is \
                         applied once the whole listing is read); run it again",
                        crate::counted(done, "item"),
                        cart_error(&cart, &e).message()
                    ));
                    break;
                }
            };
            // What the page lists that this run may create, named before any count is applied
            // (`create_item` needs a variant's product to make it one).
            if options.create_new && linked.is_empty() {
                let asked = self.to_describe(&page.items, &details)?;
                if !asked.is_empty() {
                    let skus: Vec<&str> = asked.iter().map(String::as_str).collect();
                    match with_rate_limit(&CartWait::new(self, &cart), || adapter.describe(&skus)) {
                        Ok((said, of)) => {
                            for (variant, product) in of {
                                products
                                    .entry(variant.trim().to_owned())
                                    .or_insert_with(|| product.trim().to_owned());
                            }
                            for (sku, description, attributes) in said {
                                details
                                    .entry(sku.trim().to_owned())
                                    .or_insert((description, attributes));
                            }
                        }
                        // Never a reason to stop: the items are made as the page says them.
                        Err(e) => {
                            undescribed_why.get_or_insert_with(|| e.message());
                            undescribed.extend(asked.iter().map(|s| s.trim().to_owned()));
                        }
                    }
                }
            }
            done += page.items.len() as i64;
            pages.push((page.items, since, asked_at));
            cursor = page.next_cursor;
            let last = cursor.is_none();
            // After every page, the last too (`total` = `done`: all read, nothing applied
            // yet), so a Cancel always comes before a count is applied. Until 2026-12-04 the
            // last page had no call, and a listing of one page (a small shop's) was told
            // only after its counts were applied, its Cancel ignored (from a review).
            if let Some(p) = progress.as_mut() {
                if !p(done, if last { done } else { -1 }) {
                    report.cancelled = true;
                    break;
                }
            }
            if last {
                break;
            }
        }
        // A listing not read to its end may list a SKU of a page read again on a page not read:
        // no count is applied (and a Cancel stops the run before it changes anything).
        if report.cancelled || report.error.is_some() {
            pages.clear();
        }
        // The counts of each SKU the cart lists on more than one product (by its trimmed
        // form), listed once in `not_applied` where the first is met: until 2026-12-05 each
        // listing was a line of its own, the same SKU twice, without the counts.
        let mut twice: HashMap<String, Vec<i64>> = HashMap::new();
        for (sku, count) in pages.iter().flat_map(|(items, _, _)| items) {
            let form = sku.trim();
            if !form.is_empty() && paging.listed[form] > 1 {
                twice.entry(form.to_owned()).or_default().push(*count);
            }
        }
        let mut applied = 0i64;
        // The ledger rows this run's pages wrote (first, last), merged where adjacent: changes
        // from the cart too, which are no order imported from it.
        let mut own: Vec<(i64, i64)> = Vec::new();
        for (items, since, asked_at) in pages {
            // What the report said before this page: a page whose transaction fails is rolled
            // back whole, and its counts are not reported as applied.
            let before = report.mark();
            let written = self.write(|c| {
                // The carts a change goes to: the same for the whole page.
                let pull = Pull {
                    cart: &cart,
                    create_new: options.create_new,
                    workstation: &workstation,
                    targets: sql::realtime_targets(c)?,
                    kept_any: std::cell::Cell::new(sql::pulled_any(c, cart.id)?),
                    deleted_any: sql::deleted_on_cart_any(c, cart.id)?,
                    imported_since: sql::ledger_from_cart_since(c, cart.id, since, &own)?
                        .then_some(since),
                    linked: linked.len(),
                    products: &products,
                    details: &details,
                    undescribed: &undescribed,
                    uncreated: &uncreated,
                    made: &made,
                    folded: &folded,
                    shown: Default::default(),
                    recent: match lag {
                        0 => HashMap::new(),
                        lag => sql::written_since(c, cart.id, asked_at - lag)?
                            .into_iter()
                            .map(|(item, _, at)| (item, at))
                            .collect(),
                    },
                    zeroed: match lag {
                        0 => HashMap::new(),
                        lag => sql::zeroed_since(c, cart.id, asked_at - lag)?
                            .into_iter()
                            .collect(),
                    },
                    any_since: match lag {
                        0 => None,
                        lag => sql::counts_set_last_since(c, cart.id, asked_at - lag)?,
                    },
                    lag,
                };
                let first = sql::ledger_last_id(c)? + 1;
                // A cart listing a SKU on two products ("P" and "P ", or two variants sharing
                // a SKU) gives two counts of one item: applying both would move it by each,
                // the last one winning (on every run), so none of them is applied.
                for (sku, count) in &items {
                    let form = sku.trim();
                    if !form.is_empty() && paging.listed[form] > 1 {
                        if let Some(counts) = twice.remove(form) {
                            report.note_not_applied(NotApplied {
                                sku: form.to_owned(),
                                why: listed_twice_why(&counts),
                            });
                        }
                        continue;
                    }
                    apply_pulled(c, &pull, sku, *count, &mut report)?;
                }
                sql::cart_mark_shown(c, cart.id, &pull.shown.take())?;
                Ok((first, sql::ledger_last_id(c)?))
            });
            let (first, last) = match written {
                Ok(rows) => rows,
                Err(e) => {
                    // The pages before stand (each was its own transaction): the call fails, and
                    // its report, kept for `last_report`, says what they changed.
                    if applied > 0 {
                        report.back_to(before);
                        report.error = Some(format!(
                            "stopped after {}: {}; what was done stands, run it again to finish",
                            crate::counted(applied, "item"),
                            e.message()
                        ));
                        self.remember_report(serde_json::to_string(&report).unwrap_or_default());
                    }
                    return Err(e);
                }
            };
            match own.last_mut() {
                _ if last < first => {}
                Some(prev) if prev.1 + 1 == first => prev.1 = last,
                _ => own.push((first, last)),
            }
            applied += items.len() as i64;
        }
        if !report.cancelled && report.error.is_none() {
            // An item of the store's that the cart has but gave no count of, where the listing
            // counts the SKU nowhere (a Shopify SKU on a variant stocked at the location and a
            // twin stocked elsewhere is counted, and applied): once each, with the cart's
            // reason. SKUs the store does not have are left out: a shop's other locations may
            // stock many, none of them the owner's concern here.
            let mut named = HashSet::new();
            unlisted.retain(|(sku, _)| {
                let form = sku.trim();
                !form.is_empty()
                    && !paging.listed.contains_key(form)
                    && named.insert(form.to_owned())
            });
            // What the cart listed with a count it wrote unreadably: once each, known to the
            // store or not (with `create_new` it would have been made).
            let mut told = HashSet::new();
            report.note_not_applied_all(
                unreadable
                    .into_iter()
                    .filter(|(sku, _)| told.insert(sku.trim().to_owned()))
                    .map(|(sku, why)| NotApplied {
                        sku,
                        why: format!("{why}: not applied; {CORRECT_ON_CART}"),
                    }),
            );
            // Counts are applied by now: a failed read lists them all rather than fail the run.
            let known = self.read(|c| {
                let mut known = HashSet::new();
                for (sku, _) in &unlisted {
                    if sql::item_find(c, sku.trim())?.is_some() {
                        known.insert(sku.clone());
                    }
                }
                Ok(known)
            });
            report.note_not_applied_all(
                unlisted
                    .into_iter()
                    .filter(|(sku, _)| known.as_ref().map_or(true, |k| k.contains(sku)))
                    .map(|(sku, why)| NotApplied { sku, why }),
            );
            // The whole listing was read: a linked item it has no SKU of is never updated.
            report.note_not_applied_all(
                linked
                    .into_iter()
                    .filter(|sku| !paging.listed.contains_key(sku) && !named.contains(sku))
                    .map(|sku| NotApplied {
                        sku,
                        why: LINKED_UNLISTED.into(),
                    }),
            );
        }
        if let (n @ 1.., Some(why)) = (uncreated.get(), undescribed_why) {
            report.undescribed = Some(format!(
                "{} not created, as the cart did not say what they are (their names, and \
                 whether each is a variant of a product): {why}; run Get QOH again once the \
                 cart answers, and where it refused, give its credentials read access to its \
                 products first",
                crate::counted(n as i64, "item")
            ));
        }
        self.remember_report(serde_json::to_string(&report).unwrap_or_default());
        Ok(report)
    }

    /// The SKUs of a page (as listed) Get QOH may create and should ask
    /// [`CartAdapter::describe`] about: a valid SKU with a count in range that the store lacks
    /// and the cart has not described yet (`details`, by trimmed SKU), each once.
    fn to_describe(
        &self,
        items: &[(String, i64)],
        details: &HashMap<String, Details>,
    ) -> Result<Vec<String>> {
        let mut seen = HashSet::new();
        let candidates: Vec<&str> = items
            .iter()
            .filter(|(_, count)| (i32::MIN as i64..=i32::MAX as i64).contains(count))
            .map(|(sku, _)| sku.as_str())
            .filter(|sku| {
                check_sku(sku)
                    .ok()
                    .is_some_and(|s| !details.contains_key(s) && seen.insert(s))
            })
            .collect();
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        self.read(|c| {
            let mut out = Vec::new();
            for sku in &candidates {
                if !sql::item_exists(c, sku.trim())? {
                    out.push((*sku).to_owned());
                }
            }
            Ok(out)
        })
    }

    /// What would go wrong if real-time sync were switched on for `cart` now (rule 11): items
    /// with waiting records, items whose cart count differs from the expected count (when the
    /// cart can be read), a cart that holds stock in baskets, items the cart does not have
    /// (`unmapped`, with the cart's reason where it gave one:
    /// [`crate::adapter::CataloguePage::unlisted`]), items it lists with a count that cannot
    /// be read (`unreadable`).
    /// Items in step are not listed; one whose count differs though the cart took a change
    /// of it within its [`CartAdapter::read_lag`] before the read is listed as `drift` that
    /// was not compared, saying when to run again. The warnings are also kept as this thread's
    /// [`Store::last_report`]: a host whose buffer was too small reads them there rather
    /// than read the whole cart again. At most the first 1,000 are listed; when there were
    /// more, one last warning of kind `more` says how many of each kind were left out.
    pub fn preflight(&self, cart: CartId) -> Result<Vec<Warning>> {
        self.forget_report();
        let (cart, adapter) = self.manual_prepare(cart, true, "preflight")?;
        let mut warnings = CappedWarnings::default();
        if cart.retains_basket {
            warnings.push(Warning {
                kind: "basket",
                sku: None,
                message: format!(
                    "cart {:?} holds stock in shoppers' baskets: empty every basket before switching real-time sync on",
                    cart.name
                ),
                cart_qoh: None,
                expected: None,
            });
        }
        // Real-time changes do not set these to 0: only Send QOH does.
        let noted = self.read(|c| {
            let mut out = Vec::new();
            for (sku, _) in sql::deleted_on_cart(c, cart.id)? {
                // (Else deleted, or held again by a new item, sent its count after the 0.)
                let item = sql::item_find(c, &sku)?;
                let sent = item
                    .as_ref()
                    .is_some_and(|i| shown_as(cart.level(), i) == Some(i.id));
                let product = item.as_ref().is_some_and(|i| i.has_variants);
                let variant =
                    item.is_some_and(|i| i.parent_id.is_some()) && cart.level() == SyncLevel::Sku;
                out.push((sku, product && !sent, variant, sent));
            }
            Ok(out)
        })?;
        for (sku, product, variant, sent) in noted {
            let message = match (product, variant) {
                _ if sent => format!(
                    "the cart may still show a count of {sku:?} the store did not send it (of \
                     an item of that SKU deleted before, or from before the cart's real-time \
                     level last changed): Send QOH sets it to 0, then sends the item's count"
                ),
                (true, _) => format!(
                    "item {sku:?} is a product with variants, no longer sent to this cart, \
                     which was shown its count before: that count may still be on sale there; \
                     Send QOH sets it to 0"
                ),
                (false, true) => format!(
                    "item {sku:?} is a variant, no longer sent to this cart since its real-time \
                     level became sku (it is sent its product's total), and was shown its own \
                     count before: that count may still be on sale there; Send QOH sets it to 0"
                ),
                (false, false) => format!(
                    "item {sku:?} was deleted from the store while the cart showed its count, \
                     which may still be on sale there: Send QOH sets it to 0"
                ),
            };
            warnings.push(Warning {
                kind: "deleted",
                message,
                sku: Some(sku),
                cart_qoh: None,
                expected: None,
            });
        }
        // A reference stored before web fields refused it: the adapter fails the item.
        // Or one naming what another item's names (the cart keeps one count for the two).
        if !self.inner.adapters.is_custom(&cart.adapter) {
            let mut linked: HashMap<String, String> = HashMap::new();
            for (sku, r) in self.read(|c| sql::web_fields_refs(c, cart.id))? {
                let message = if let Some(why) =
                    crate::adapter::registry::remote_ref_refused(&cart.adapter, &r)
                {
                    format!("remote_ref {r:?}: {why}")
                } else {
                    let Some(key) =
                        crate::adapter::registry::remote_ref_spellings(&cart.adapter, &r)
                            .and_then(|s| s.into_iter().next())
                    else {
                        continue;
                    };
                    match linked.get(&key) {
                        Some(first) => format!(
                            "remote_ref {r:?} names what item {first} is linked to on this cart, \
                             which keeps one count for the two"
                        ),
                        None => {
                            linked.insert(key, sku);
                            continue;
                        }
                    }
                };
                warnings.push(Warning {
                    kind: "unmapped",
                    sku: Some(sku),
                    message: format!(
                        "{message}; set it right or clear it (\"remote_ref\": null) before \
                         real-time sync goes on"
                    ),
                    cart_qoh: None,
                    expected: None,
                });
            }
        }
        let expected = self.expected_counts(&cart)?;
        for Expected { sku, waiting, .. } in &expected {
            if waiting.records > 0 {
                warnings.push(Warning {
                    kind: "pending",
                    sku: Some(sku.clone()),
                    message: format!(
                        "{} totalling {:+} {} still waiting for this cart",
                        crate::counted(waiting.records, "record"),
                        waiting.sum,
                        if waiting.records == 1 { "is" } else { "are" }
                    ),
                    cart_qoh: None,
                    expected: None,
                });
            }
        }
        // Records waiting for an item the cart is not sent now (taken off it with `sync:
        // false` while they waited) are sent all the same: until 2026-12-03 the preflight
        // did not name them.
        let sent_now: HashSet<&str> = expected.iter().map(|e| e.sku.as_str()).collect();
        for (sku, sum, records) in self.read(|c| sql::stack_sums_of_cart(c, cart.id))? {
            if !sent_now.contains(sku.as_str()) {
                warnings.push(Warning {
                    kind: "pending",
                    message: format!(
                        "{} totalling {sum:+} {} still waiting for this cart, and go to it \
                         although the item was taken off it since they were made",
                        crate::counted(records, "record"),
                        if records == 1 { "is" } else { "are" }
                    ),
                    sku: Some(sku),
                    cart_qoh: None,
                    expected: None,
                });
            }
        }
        // Items the cart would take for one product (`sku_twin_warnings`): known without
        // reading the cart, and said so of a cart that cannot be read.
        let collation = match self.inner.adapters.is_custom(&cart.adapter) {
            true => None,
            false => crate::adapter::registry::sku_collation(&cart.adapter),
        };
        if let (Some(fold), false) = (collation, cart.capabilities.get) {
            for w in sku_twin_warnings(&cart, &expected, fold, None) {
                warnings.push(w);
            }
        }
        if cart.capabilities.get {
            let lag = lag_ms(adapter.as_ref());
            let asked_at = now_ms();
            let listing = fetch_all(&cart, adapter.as_ref(), &CartWait::new(self, &cart))?;
            let (counts, twice) = (&listing.counts, &listing.twice);
            // As the drift report: an item the cart took a change of within its read lag
            // before the listing was asked for, or since, may be read from before it, which
            // is no drift (until 2026-12-04 such a stale count was shown as drift). Read after
            // `expected`, so a send settled in between is in one or the other.
            let (recent, any_since) = recent_changes(self, &cart, lag, asked_at)?;
            let known: HashSet<&str> = expected.iter().map(|e| e.sku.as_str()).collect();
            let alikes = listing.look_alikes(&known);
            let twins = listing.ours_listed(&known);
            if let Some(fold) = collation {
                for w in sku_twin_warnings(&cart, &expected, fold, Some(&listing)) {
                    warnings.push(w);
                }
            }
            // The cart's SKUs told as look-alikes of the store's: (cart's, store's).
            let mut alike_of: HashMap<&str, &str> = HashMap::new();
            for Expected {
                sku,
                published,
                waiting,
                kept,
                in_doubt: why,
            } in &expected
            {
                let pending = &waiting.sum;
                // Not `unmapped`: the product is there, its count damaged (as the drift
                // report's `unreadable`). Against the kept count where the store keeps one,
                // as `drift` below: switching on sends the cart the difference from it.
                if let Some(unread) = listing.unreadable.get(sku) {
                    let against = kept.unwrap_or(*published);
                    warnings.push(Warning {
                        kind: "unreadable",
                        sku: Some(sku.clone()),
                        message: format!(
                            "the cart's count cannot be read, so it was not compared (the \
                             store has it show {}): {unread}",
                            should_show(against, waiting)
                        ),
                        cart_qoh: None,
                        expected: Some(against - pending),
                    });
                    continue;
                }
                let at = recent.get(sku).copied().or(any_since);
                if let (Some(at), Some(&q)) = (at, counts.get(sku)) {
                    let against = kept.unwrap_or(*published);
                    if !in_step(q, against, waiting) {
                        warnings.push(Warning {
                            kind: "drift",
                            sku: Some(sku.clone()),
                            message: format!(
                                "the cart shows {q}; not compared: {}",
                                read_too_soon(lag, at)
                            ),
                            cart_qoh: Some(q),
                            expected: Some(against - pending),
                        });
                    }
                    continue;
                }
                // Where the store keeps a count of what the cart shows (a cap, the floor of
                // 0), switching on sends the cart the difference from it to the published
                // count (`pulled_to_realtime`): the cart ends right if it shows the kept
                // count now, and wrong by as much as it differs from it.
                if let (Some(kept), Some(&q)) = (kept, counts.get(sku)) {
                    if !in_step(q, *kept, waiting) {
                        warnings.push(Warning {
                            kind: "drift",
                            sku: Some(sku.clone()),
                            message: format!(
                                "the cart shows {q}; the store takes it to show {} (kept since \
                                 the last Get QOH or Send QOH), and switching real-time sync on \
                                 sends it {:+} to what the store publishes ({published}): it \
                                 would show {}",
                                kept - pending,
                                published - kept,
                                // Wide: a cart's count can be any i64.
                                i128::from(q) + i128::from(*pending) + i128::from(*published)
                                    - i128::from(*kept)
                            ),
                            cart_qoh: Some(q),
                            expected: Some(kept - pending),
                        });
                    }
                    continue;
                }
                match counts.get(sku) {
                    // Unmapped too: no one count of the cart's stands for the item.
                    None if twice.contains_key(sku) => warnings.push(Warning {
                        kind: "unmapped",
                        sku: Some(sku.clone()),
                        message: LISTED_TWICE.into(),
                        cart_qoh: None,
                        expected: Some(*published),
                    }),
                    None => warnings.push(Warning {
                        kind: "unmapped",
                        sku: Some(sku.clone()),
                        // The cart's reason where it gave one (a Shopify variant not stocked
                        // at the location: until 2026-12-05 told as below, and the owner
                        // looked for a missing product). Adapters leave out without a word
                        // what the cart lists without counting it (Shopify's untracked
                        // inventory, WooCommerce's unmanaged stock).
                        message: match (listing.unlisted.get(sku), look_alike(&alikes, sku)) {
                            (Some(why), _) => {
                                format!("the cart lists no count for this SKU: {why}")
                            }
                            (None, Some(theirs)) => {
                                alike_of.insert(theirs.as_str(), sku.as_str());
                                look_alike_why(theirs)
                            }
                            (None, None) => match look_alike(&twins, sku) {
                                Some(twin) => twin_listed_why(twin),
                                None => "the cart lists no count for this SKU: no product has \
                                         it, or the cart does not track its stock"
                                    .into(),
                            },
                        },
                        cart_qoh: None,
                        expected: Some(*published),
                    }),
                    Some(&q) if !in_step(q, *published, waiting) => warnings.push(Warning {
                        kind: "drift",
                        sku: Some(sku.clone()),
                        message: match why {
                            None => format!(
                                "the cart shows {q}; it should show {}",
                                published - pending
                            ),
                            Some(InDoubt { why, refused }) => format!(
                                "the cart shows {q}; it should show {}, or {} with the changes \
                                 {} applied ({why})",
                                published - pending,
                                published - pending + waiting.in_doubt_sum,
                                match refused {
                                    false => "in doubt",
                                    true => "sent and not settled",
                                }
                            ),
                        },
                        cart_qoh: Some(q),
                        expected: Some(published - pending),
                    }),
                    Some(_) => {}
                }
            }
            // What the cart lists that the store does not sync to it, listed twice or not,
            // or with a count it wrote unreadably (with the cart's reason).
            let mut extra: Vec<(&String, Option<i64>, Option<&str>)> = counts
                .iter()
                .map(|(s, q)| (s, Some(*q), None))
                .chain(twice.iter().map(|(s, q)| (s, Some(*q), Some(LISTED_TWICE))))
                .chain(
                    listing
                        .unreadable
                        .iter()
                        .map(|(s, why)| (s, None, Some(why.as_str()))),
                )
                .filter(|(s, _, _)| !known.contains(s.as_str()))
                .collect();
            extra.sort();
            for (sku, q, note) in extra {
                let mut message =
                    "the cart has this SKU but the order manager does not sync it here".to_owned();
                if let Some(note) = note {
                    message = format!("{message}; {note}");
                }
                if let Some(ours) = alike_of.get(sku.as_str()) {
                    message = format!(
                        "{message}; it differs only in case or accents, or in characters that \
                         do not show, from the store's {ours:?} (see its warning)"
                    );
                }
                warnings.push(Warning {
                    kind: "unmapped",
                    sku: Some(sku.clone()),
                    message,
                    cart_qoh: q,
                    expected: None,
                });
            }
        }
        let warnings = warnings.into_list();
        self.remember_report(serde_json::to_string(&warnings).unwrap_or_default());
        Ok(warnings)
    }
}

/// The preflight's `sku_twin` warnings (from 2026-12-05): for each item sent to `cart` whose
/// SKU the cart compares as the same as another's (`fold`, the cart's comparison:
/// [`crate::adapter::registry::sku_collation`]; WooCommerce's `TEE-M` and `tee-m`, `CAFÉ`
/// and `CAFE`), one warning naming the others. The store keeps such items apart (SKU
/// identity is exact), and so may a host; such a cart holds one product for them, and the
/// adapter, which matches SKUs exactly, syncs only the item whose SKU the product has: every
/// change of the other fails there as an unknown SKU, and the owner, told only that no
/// product has its SKU, cannot make one (the cart refuses the SKU as a duplicate). Said of
/// each twin, the product present or not, so the owner sees the pair before switching on;
/// not of twins the cart's `listing` (where it was read) lists each exactly, a shop whose
/// uniqueness check was turned off (a plugin, a database import) holding a product for each.
fn sku_twin_warnings(
    cart: &Cart,
    expected: &[Expected],
    fold: fn(&str) -> String,
    listing: Option<&Listing>,
) -> Vec<Warning> {
    let listed = |sku: &str| {
        listing.is_some_and(|l| {
            l.counts.contains_key(sku)
                || l.twice.contains_key(sku)
                || l.unreadable.contains_key(sku)
                || l.unlisted.contains_key(sku)
        })
    };
    let mut groups: HashMap<String, Vec<&str>> = HashMap::new();
    for e in expected {
        groups.entry(fold(&e.sku)).or_default().push(&e.sku);
    }
    let mut twins: Vec<(&str, Vec<&str>)> = Vec::new();
    for group in groups
        .values()
        .filter(|g| g.len() > 1 && !g.iter().all(|s| listed(s)))
    {
        for sku in group {
            let mut others: Vec<&str> = group.iter().copied().filter(|o| o != sku).collect();
            others.sort_unstable();
            twins.push((sku, others));
        }
    }
    twins.sort_unstable();
    twins
        .into_iter()
        .map(|(sku, others)| {
            let others: Vec<String> = others.iter().map(|o| written_out(o)).collect();
            Warning {
                kind: "sku_twin",
                sku: Some(sku.to_owned()),
                message: format!(
                    "the store's item{} \"{}\" differ{} from this one only in case or \
                     accents, which cart {:?} ({}) does not tell apart: it holds one product for \
                     them, which takes only the changes of the item whose SKU it has exactly; \
                     each change of the other fails there as an unknown SKU, and the cart \
                     refuses a product of its own for it: give one of them another SKU, or take \
                     it off this cart (web fields \"sync\": false)",
                    if others.len() == 1 { "" } else { "s" },
                    others.join("\", \""),
                    if others.len() == 1 { "s" } else { "" },
                    cart.name,
                    cart.adapter,
                ),
                cart_qoh: None,
                expected: None,
            }
        })
        .collect()
}

/// The preflight's warnings as a host gets them, kept as they are found: the first 1,000
/// ([`list_capped`]), then, when there were more, one of kind `more` saying how many of each
/// kind were left out and what to do ([`CappedWarnings::into_list`]). The C ABI returns the
/// warnings as a JSON array (DESIGN §9), which has no place for a count beside it; listed
/// whole, a cart at the wrong URL or with nothing mapped made an array of some 200 bytes an
/// item, megabytes for a catalogue of 100,000 (until 2026-12-05), where the owner reads the
/// first lines and fixes the cause. A warning past the first 1,000 is counted and dropped
/// at once: until 2026-12-05 the preflight held every one (some 100,000 for such a
/// catalogue) and cut the list at the end.
#[derive(Default)]
struct CappedWarnings {
    listed: Vec<Warning>,
    left_out: usize,
    /// The kinds left out, in the order they first came.
    kinds: Vec<(&'static str, usize)>,
}

impl CappedWarnings {
    /// Lists `w` after the others while there is room, else counts it under its kind.
    fn push(&mut self, w: Warning) {
        let (kind, before) = (w.kind, self.left_out);
        list_capped(&mut self.listed, &mut self.left_out, w);
        if self.left_out > before {
            match self.kinds.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, n)) => *n += 1,
                None => self.kinds.push((kind, 1)),
            }
        }
    }

    /// The warnings listed, and the `more` one last when some were left out.
    fn into_list(self) -> Vec<Warning> {
        let CappedWarnings {
            mut listed,
            left_out,
            kinds,
        } = self;
        if left_out > 0 {
            let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
            listed.push(Warning {
                kind: "more",
                sku: None,
                message: format!(
                    "{} not listed here ({}): only the first {REPORT_ITEMS_MAX} are. So many \
                     mostly mean the cart is set up wrong (a url or stock location of another \
                     shop, SKUs or remote_ref links that do not match the store's): fix that, or \
                     run the drift report (with repair to set the counts that are off), then run \
                     the preflight again",
                    crate::counted(i64::try_from(left_out).unwrap_or(i64::MAX), "more warning"),
                    kinds.join(", ")
                ),
                cart_qoh: None,
                expected: None,
            });
        }
        listed
    }
}

impl Store {
    /// [`kept_after_taken`] of each (item, count, maybe) `cart` took or may have taken, in
    /// one write; with `shown`, the cart's shown marks too (it surely took them).
    fn kept_after_taken(
        &self,
        cart: &Cart,
        sent: &[ItemId],
        taken: &[(ItemId, i64, bool)],
        shown: bool,
        lag: i64,
    ) -> Result<()> {
        let now = now_ms();
        self.write_patiently(|c| {
            for &(item, count, maybe) in taken {
                kept_after_taken(c, cart, item, count, maybe)?;
            }
            let items: Vec<ItemId> = taken.iter().map(|&(item, ..)| item).collect();
            if shown {
                sql::cart_mark_shown(c, cart.id, &items)?;
            }
            // As Send QOH notes its counts: a report read right after would take the cart's
            // old count for drift.
            note_counts_set(c, cart.id, lag, &items, now)?;
            sql::counts_sent(c, cart.id, sent)
        })
    }

    /// [`Expected`] of every item the cart gets.
    fn expected_counts(&self, cart: &Cart) -> Result<Vec<Expected>> {
        self.read(|c| {
            let mut out = Vec::new();
            // Most carts have no kept count: each item then skips the lookup.
            let kept_any = sql::pulled_any(c, cart.id)?;
            for item in sql::items_for_cart(c, cart)? {
                if let Some((target, published)) = published_now(c, cart, &item)? {
                    let kept = match kept_any {
                        true => sql::pulled_get(c, cart.id, target)?,
                        false => None,
                    };
                    let waiting = sql::stack_sum(c, cart.id, target)?;
                    let in_doubt = match waiting.in_doubt > 0 {
                        true => Some(InDoubt {
                            why: in_doubt_why_of(c, cart.id, target, waiting)?,
                            refused: sql::refused_for_good(c, cart.id, target)?.0 > 0,
                        }),
                        false => None,
                    };
                    out.push(Expected {
                        sku: item.sku.clone(),
                        published,
                        waiting,
                        kept,
                        in_doubt,
                    });
                }
            }
            Ok(out)
        })
    }

    /// The drift report (DESIGN §4): every item whose count on the cart differs from the
    /// count it should show, net of the records still waiting for it. With `repair`, each is
    /// set with compare-and-set — only if the cart still shows the count just read, so a sale
    /// the cart made meanwhile is never overwritten; such items are listed as conflicts. An
    /// item with records sent to the cart that have not settled is in step if the cart shows
    /// its count with them or without them; otherwise it is listed with why, and never
    /// repaired; so is one the cart took a change of within its adapter's
    /// [`CartAdapter::read_lag`] before the listing was read. The report lists the first
    /// 1,000 items and unlisted SKUs ([`DriftReport::items_left_out`] and
    /// [`DriftReport::unlisted_left_out`] count the rest); a repair works on every item off,
    /// listed or not, and lists those it did not repair before those it did. An item the cart
    /// lists with a count that cannot be read is in [`DriftReport::unreadable`], neither
    /// compared nor repaired; one it has but lists no count of, saying why (a Shopify variant
    /// not stocked at the location), is in [`DriftReport::unlisted_why`] with the reason.
    pub fn drift(&self, cart: CartId, repair: bool) -> Result<DriftReport> {
        let (cart, adapter) = self.manual_prepare(cart, true, "the drift report")?;
        if !cart.capabilities.get {
            return Err(Error::refused(format!(
                "cart {:?} cannot be read",
                cart.name
            )));
        }
        if repair && !cart.capabilities.send {
            return Err(Error::refused(format!(
                "cart {:?} cannot be sent counts",
                cart.name
            )));
        }
        // A repair compares and sets against counts net of waiting records: hold the cart so
        // the controller cannot settle one of them in between.
        let hold = if repair {
            let hold = self.hold_cart(&cart, true)?;
            adapter.begin_manual_run();
            Some(hold)
        } else {
            None
        };
        let report = self.drift_held(cart, adapter, repair);
        match &hold {
            Some(hold) => report
                .map(|report| DriftReport {
                    uncertain: hold.in_doubt_left(),
                    ..report
                })
                .map_err(|e| hold.tell(e)),
            None => report,
        }
    }

    /// [`Store::drift`] once the cart is held (to repair).
    fn drift_held(
        &self,
        cart: Cart,
        adapter: std::sync::Arc<dyn CartAdapter>,
        repair: bool,
    ) -> Result<DriftReport> {
        let lag = lag_ms(adapter.as_ref());
        let asked_at = now_ms();
        let listing = fetch_all(&cart, adapter.as_ref(), &CartWait::new(self, &cart))?;
        let (counts, twice) = (&listing.counts, &listing.twice);
        // What the cart should show, read before `recent`: a send the controller settles
        // between the two is then in one or the other (read the other way round, it was in
        // neither: no longer waiting, not yet in the history, and its stale count was
        // reported as drift).
        let expected = self.expected_counts(&cart)?;
        // The items the cart took a change of within its read lag before the listing was
        // asked for, or since (a report alone holds nothing: the controller may send
        // meanwhile): their counts may be from before it, which is no drift, and a repair
        // compared against one would set a count over a sale made there since.
        let (recent, any_since) = recent_changes(self, &cart, lag, asked_at)?;
        let mut report = DriftReport::default();
        let (alikes, twins) = {
            let ours: HashSet<&str> = expected.iter().map(|e| e.sku.as_str()).collect();
            (listing.look_alikes(&ours), listing.ours_listed(&ours))
        };
        // Every item off, repaired below whether the report lists it or not; listed (the
        // first 1,000) once the repair has said what became of each.
        let mut off = Vec::new();
        let mut in_doubt = Vec::new();
        for Expected {
            sku,
            published,
            waiting,
            in_doubt: why,
            ..
        } in expected
        {
            // No count to compare a repair against: the owner corrects it on the cart.
            if let Some(unread) = listing.unreadable.get(&sku) {
                let why = not_compared(published, &waiting, unread);
                list_capped(
                    &mut report.unreadable,
                    &mut report.unreadable_left_out,
                    NotApplied { sku, why },
                );
                continue;
            }
            let Some(&q) = counts.get(&sku) else {
                match twice.get(&sku) {
                    Some(&first) => in_doubt.push(DriftItem {
                        sku,
                        cart_qoh: first,
                        expected: published - waiting.sum,
                        outcome: Some(format!(
                            "not compared (the count shown is the first of them): {LISTED_TWICE}"
                        )),
                    }),
                    None => {
                        let alike = look_alike(&alikes, &sku)
                            .map(|t| look_alike_why(t))
                            .or_else(|| look_alike(&twins, &sku).map(|t| twin_listed_why(t)));
                        if let Some(why) = listing.unlisted.get(&sku).or(alike.as_ref()) {
                            let why = not_compared(published, &waiting, why);
                            list_capped(
                                &mut report.unlisted_why,
                                &mut report.unlisted_why_left_out,
                                NotApplied {
                                    sku: sku.clone(),
                                    why,
                                },
                            );
                        }
                        list_capped(&mut report.unlisted, &mut report.unlisted_left_out, sku)
                    }
                }
                continue;
            };
            let expected = published - waiting.sum;
            if in_step(q, published, &waiting) {
                report.in_step += 1;
            } else if let Some(at) = recent.get(&sku).copied().or(any_since) {
                in_doubt.push(DriftItem {
                    sku,
                    cart_qoh: q,
                    expected,
                    outcome: Some(format!(
                        "not compared, nor repaired: {}",
                        read_too_soon(lag, at)
                    )),
                });
            } else if let Some(InDoubt { why, .. }) = why {
                in_doubt.push(DriftItem {
                    sku,
                    cart_qoh: q,
                    expected,
                    outcome: Some(format!("not repaired: {why}")),
                });
            } else {
                off.push(DriftItem {
                    sku,
                    cart_qoh: q,
                    expected,
                    outcome: None,
                });
            }
        }
        if repair {
            let wait = CartWait::new(self, &cart);
            // Set once the cart asks for a pause longer than a run waits: later batches would
            // be asked before the time it named, so they are not sent.
            let mut paused: Option<String> = None;
            // A short one the last chunk was given: waited out before the next chunk only.
            let mut owed = Duration::ZERO;
            for chunk in off.chunks_mut(cart.max_items_to_send as usize) {
                if let Some(why) = &paused {
                    for d in chunk.iter_mut() {
                        d.outcome = Some(format!("not sent: {why}"));
                    }
                    continue;
                }
                if !owed.is_zero() {
                    std::thread::sleep(std::mem::take(&mut owed));
                }
                // The batch's counts, worked out again as it goes, in one transaction: what
                // the report read may be stale by now (an order imported from the cart lowers
                // what the store publishes, and the cart's count already holds the sale: set
                // to the old count, the cart would offer a unit the store lacks; an item may
                // have been deleted, taken off the cart, or given records in doubt). A count
                // that replaces a kept count is noted before it goes, as Send QOH notes it:
                // should the run end before it settles the answer, the cart is taken to show
                // the larger of the two, never a count that makes stock at the next Get QOH.
                let found: Vec<std::result::Result<(ItemId, QuantitySet), Skipped>> =
                    self.write(|c| {
                        let mut noted = Vec::new();
                        let found = chunk
                            .iter()
                            .map(|d| repair_set(c, &cart, d, &mut noted))
                            .collect::<Result<Vec<_>>>()?;
                        sql::counts_sending(c, cart.id, &noted)?;
                        // Noted as set before they go too, as Send QOH's counts are.
                        let items: Vec<ItemId> =
                            found.iter().flatten().map(|(item, _)| *item).collect();
                        note_counts_set(c, cart.id, lag, &items, now_ms())?;
                        Ok(found)
                    })?;
                let mut chunk: Vec<&mut DriftItem> = chunk
                    .iter_mut()
                    .zip(&found)
                    .filter_map(|(d, f)| match f {
                        Ok((_, set)) => {
                            d.expected = set.qoh;
                            Some(d)
                        }
                        Err(skipped) => {
                            d.outcome = Some(skipped.why.clone());
                            d.expected = skipped.expected.unwrap_or(d.expected);
                            None
                        }
                    })
                    .collect();
                let (targets, sets): (Vec<ItemId>, Vec<QuantitySet>) =
                    found.into_iter().flatten().unzip();
                if sets.is_empty() {
                    continue;
                }
                match with_rate_limit(&wait, || adapter.set_quantities(&sets)) {
                    Ok(outcomes) => {
                        wait.record_items(&outcomes);
                        // A count the cart asks to send again later than a run waits: the
                        // later batches would be asked before then.
                        // A short one is waited out before the next batch.
                        let asked = outcomes.iter().filter_map(|o| match o {
                            SendOutcome::Retry {
                                message,
                                after: Some(after),
                            } => Some((*after, message)),
                            _ => None,
                        });
                        match asked.max_by_key(|(after, _)| *after) {
                            Some((after, message)) if after > RATE_LIMIT_MAX_WAIT => {
                                paused = Some(message.clone())
                            }
                            Some((after, _)) => owed = after,
                            None => {}
                        }
                        // What the cart took, or may have taken (as Send QOH, the count
                        // kept from a Get QOH goes: a sale counted twice is safer than one
                        // given back).
                        let mut taken = Vec::new();
                        for (i, d) in chunk.iter_mut().enumerate() {
                            if let Some(
                                o @ (SendOutcome::Applied { .. } | SendOutcome::Uncertain { .. }),
                            ) = outcomes.get(i)
                            {
                                let maybe = matches!(o, SendOutcome::Uncertain { .. });
                                taken.push((targets[i], sets[i].qoh, maybe));
                            }
                            d.outcome = Some(match outcomes.get(i) {
                                Some(SendOutcome::Applied { .. }) => {
                                    report.repaired += 1;
                                    REPAIRED.into()
                                }
                                Some(SendOutcome::Conflict { current }) => {
                                    format!("the cart changed meanwhile (now {current}); run the report again")
                                }
                                other => describe(other),
                            });
                        }
                        // The cart was shown these counts, as by Send QOH.
                        self.kept_after_taken(&cart, &targets, &taken, true, lag)?;
                    }
                    Err(e) => {
                        for d in chunk.iter_mut() {
                            d.outcome = Some(e.message());
                        }
                        let taken: Vec<(ItemId, i64, bool)> = match e {
                            CartError::Ambiguous(_) => targets
                                .iter()
                                .zip(&sets)
                                .map(|(&t, s)| (t, s.qoh, true))
                                .collect(),
                            _ => Vec::new(),
                        };
                        self.kept_after_taken(&cart, &targets, &taken, false, lag)?;
                        if matches!(e, CartError::RateLimited { .. }) {
                            paused = Some(e.message());
                        }
                    }
                }
            }
        }
        // What the owner must act on first: the items repaired last, so that they never push
        // a conflict or an item in doubt past the cap.
        let (repaired, left): (Vec<DriftItem>, Vec<DriftItem>) = off
            .into_iter()
            .partition(|d| d.outcome.as_deref() == Some(REPAIRED));
        for d in left.into_iter().chain(in_doubt).chain(repaired) {
            list_capped(&mut report.items, &mut report.items_left_out, d);
        }
        Ok(report)
    }
}

/// One item whose cart count is off.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DriftItem {
    /// The item.
    pub sku: String,
    /// What the cart shows.
    pub cart_qoh: i64,
    /// What it should show, net of waiting records: with repair, as the repair found it when
    /// its batch went (an item found in step by then shows the count it is in step with).
    pub expected: i64,
    /// With repair: what became of the fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

/// What [`Store::drift`] found (and fixed).
///
/// Fields may be added (hence `#[non_exhaustive]`, as [`GetReport`]: a report is the library's
/// to make, never built by a caller); its JSON keys keep their names, types and meanings.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct DriftReport {
    /// Items in step.
    pub in_step: usize,
    /// Items off (the first 1,000: see `items_left_out`). A repair works on every item off,
    /// listed or not, and `repaired` counts all it repaired. With repair, the items it did not
    /// repair (a conflict, a count in doubt, one not sent) come first, and those repaired
    /// after them (from 2026-12-05; before, in the order read, 1,000 repaired items could hide
    /// every item the owner must act on past the cap).
    pub items: Vec<DriftItem>,
    /// Items repaired.
    pub repaired: usize,
    /// SKUs the store publishes to the cart that the cart lists no count for: no product has
    /// the SKU there, or the cart does not track its stock, or it says why (those are in
    /// `unlisted_why` too). Neither compared nor repaired (the preflight names them too);
    /// until 2026-12-03 the report said nothing of them. The first 1,000: see
    /// `unlisted_left_out`.
    pub unlisted: Vec<String>,
    /// How many items off are not in `items` (0 unless it holds 1,000). Until 2026-12-05
    /// every one was listed: a cart at the wrong URL, or whose every count is off, made a
    /// report of megabytes out of a catalogue of 100,000 items for the host to copy.
    pub items_left_out: usize,
    /// How many SKUs the cart lists no count for are not in `unlisted` (0 unless it holds
    /// 1,000). Added 2026-12-05.
    pub unlisted_left_out: usize,
    /// Items the store publishes to the cart that the cart lists with a count it wrote
    /// unreadably (text that is no number, a fraction, none: a plugin or proxy damaging the
    /// field), each with the cart's value and the count the store has it show: neither
    /// compared nor repaired (a compare-and-set needs the count the cart shows); the owner
    /// corrects it on the cart. The first 1,000: see `unreadable_left_out`. Added 2026-12-05;
    /// before, such an item was in `unlisted` (WooCommerce, BigCommerce), or failed the
    /// report (`http_json`, Medusa).
    pub unreadable: Vec<NotApplied>,
    /// How many items are not in `unreadable` (0 unless it holds 1,000). Added 2026-12-05.
    pub unreadable_left_out: usize,
    /// The SKUs of `unlisted` the cart gave a reason for, with it and the count the store has
    /// the cart show (a Shopify variant not stocked at the cart's location: stock it there in
    /// Shopify admin), or that the cart lists under a SKU differing only in case or accents,
    /// or in characters that do not show (from 2026-12-05); the others stay in `unlisted` alone. `unlisted` keeps every SKU, so a
    /// host reading it alone is unaffected. The first 1,000: see `unlisted_why_left_out`.
    /// Added 2026-12-05; before, such a SKU was told as one no product has, the fix unsaid.
    pub unlisted_why: Vec<NotApplied>,
    /// How many SKUs with a reason are not in `unlisted_why` (0 unless it holds 1,000). Added
    /// 2026-12-05.
    pub unlisted_why_left_out: usize,
    /// With repair: stack records the repair left uncertain (in doubt), held so as it took
    /// the cart over: an earlier Send QOH's count included them, and its run ended before it
    /// recorded the cart's answer. They are not sent again, and wait for the owner to check
    /// the cart and then retry or discard each (the stack's view lists them as uncertain; a
    /// Send QOH sets the counts and settles them); their items are not repaired. 0 without
    /// repair (a report alone takes nothing over). Added 2026-12-05: before, the report did
    /// not count them.
    pub uncertain: usize,
}

/// After `cart` took (or, `maybe`, may have taken) `count` of `item` (Send QOH, a drift
/// repair): the count kept of what it shows goes, as it now shows what the store publishes;
/// unless the store publishes another count there by now, or none (a cap, a buffer or
/// `sync: false` set while the count was on its way): the cart shows `count`, and that is
/// kept. Forgotten, the next Get QOH read the cart's count against the new cap as units
/// returned there, and real-time changes, starting, sent the cart nothing of the difference.
///
/// A kept count is what the cart shows with the records still waiting for it (as Get QOH
/// keeps it): a drift repair sets the cart to what the store publishes less what waits, and
/// kept that alone, so the next Get QOH took a waiting sale off a second time. A count the
/// cart may not have taken leaves it showing that or what was kept: the larger is kept, as
/// after a run that ended unsettled (`sql::counts_left`), so Get QOH errs toward fewer units
/// (forgotten, a kept 100 over a cap of 20 set meanwhile was read as 80 units returned).
/// Called after the records a Send QOH count included are superseded.
fn kept_after_taken(
    c: &rusqlite::Connection,
    cart: &Cart,
    item: ItemId,
    count: i64,
    maybe: bool,
) -> Result<()> {
    let Some(kept) = sql::pulled_get(c, cart.id, item)? else {
        return Ok(());
    };
    let Some(target) = sql::item_get(c, item)? else {
        return sql::pulled_forget(c, cart.id, item);
    };
    let mut shows = count.saturating_add(sql::stack_sum(c, cart.id, item)?.sum);
    if maybe {
        shows = shows.max(kept);
    }
    match published_now(c, cart, &target)? {
        Some((t, published)) if t == item && published == shows => {
            sql::pulled_forget(c, cart.id, item)
        }
        _ => sql::pulled_set(c, cart.id, item, shows),
    }
}

/// What [`Store::expected_counts`] gives for an item.
struct Expected {
    sku: String,
    /// The count the store publishes to the cart.
    published: i64,
    /// What waits for the cart.
    waiting: sql::Waiting,
    /// The count kept of what the cart shows, where one is.
    kept: Option<i64>,
    /// Where records sent and not settled keep the item from being compared or repaired.
    in_doubt: Option<InDoubt>,
}

/// Why records sent to a cart and not settled keep an item from being compared or repaired:
/// [`in_doubt_why_of`], which tells those the cart refused for good as not in its count, as
/// Get QOH does; and whether any of them was, when "in doubt" no longer names them all.
struct InDoubt {
    why: String,
    refused: bool,
}

/// Why a drift repair left an item alone, and what it should show by then where that moved
/// (an item found in step lists the count it is in step with, not the one the report read).
struct Skipped {
    why: String,
    expected: Option<i64>,
}

impl From<String> for Skipped {
    fn from(why: String) -> Self {
        Skipped {
            why,
            expected: None,
        }
    }
}

impl From<&str> for Skipped {
    fn from(why: &str) -> Self {
        why.to_owned().into()
    }
}

/// A drift repair's set for item `d`, worked out from the store as it is now, or why the item
/// is not repaired. The target of a count that replaces a kept count goes to `noted` (see
/// `counts_sending`: it includes no waiting record, which go on top of it).
fn repair_set(
    c: &rusqlite::Connection,
    cart: &Cart,
    d: &DriftItem,
    noted: &mut Vec<(ItemId, i64)>,
) -> Result<std::result::Result<(ItemId, QuantitySet), Skipped>> {
    let Some(item) = sql::item_find(c, &d.sku)? else {
        return Ok(Err("not repaired: the item was deleted meanwhile".into()));
    };
    let Some((target, published)) = published_now(c, cart, &item)? else {
        return Ok(Err(
            "not repaired: no longer published to this cart (taken off it, or made a product with variants, meanwhile)".into(),
        ));
    };
    if target != item.id {
        return Ok(Err(
            "not repaired: no longer published to this cart as itself (made a variant meanwhile)"
                .into(),
        ));
    }
    let waiting = sql::stack_sum(c, cart.id, target)?;
    if in_step(d.cart_qoh, published, &waiting) {
        return Ok(Err(Skipped {
            why: "in step now: the store's count moved to the cart's meanwhile (an order imported from it)".into(),
            expected: Some(published - waiting.sum),
        }));
    }
    if waiting.in_doubt > 0 {
        let why = in_doubt_why_of(c, cart.id, target, waiting)?;
        return Ok(Err(format!("not repaired: {why}").into()));
    }
    if sql::pulled_get(c, cart.id, target)?.is_some() {
        noted.push((target, 0));
    }
    Ok(Ok((
        target,
        QuantitySet {
            key: random_key(),
            sku: d.sku.clone(),
            // The cart's own reference, as real-time sync and Send QOH use it.
            remote_ref: sql::web_fields_get(c, cart.id, target)?.remote_ref,
            qoh: published - waiting.sum,
            expected: Some(d.cart_qoh),
        },
    )))
}

/// What [`fetch_all`] read of a cart's catalogue, by SKU as the store reads it (trimmed:
/// " P " is item P). A SKU is in one of the four maps at most.
#[derive(Default)]
struct Listing {
    /// The SKUs listed once, with their count.
    counts: HashMap<String, i64>,
    /// The SKUs listed on more than one product (or padded and not), with the first count
    /// listed: two counts of one item, neither taken for it, as Get QOH takes neither.
    twice: HashMap<String, i64>,
    /// The SKUs listed with a count the cart wrote unreadably
    /// ([`crate::adapter::CataloguePage::unreadable`]), with the cart's reason (the first) and
    /// [`CORRECT_ON_CART`] (and [`LISTED_TWICE`] where the SKU is listed with a count elsewhere
    /// too), for each report to say first that it did not compare it: neither compared
    /// nor repaired, as Get QOH applies none of their counts. Until 2026-12-05 the drift
    /// report and the preflight read counts only: WooCommerce's and BigCommerce's such items
    /// were told as counts the cart lacks (no product has the SKU, or its stock is not
    /// tracked), and `http_json`'s and Medusa's failed the whole report.
    unreadable: HashMap<String, String>,
    /// The SKUs the cart has but lists no count of, with the cart's reason (the first):
    /// [`crate::adapter::CataloguePage::unlisted`], a Shopify variant not stocked at the
    /// cart's location. Not where the listing counts the SKU elsewhere, as Get QOH does not
    /// name it then. Until 2026-12-05 the two reports dropped the reason and told such an
    /// item as one no product has, which sent the owner looking for a missing product.
    unlisted: HashMap<String, String>,
}

impl Listing {
    /// The SKUs the cart lists (with a count, twice, or unreadably) that are not among
    /// `ours`, by their folded form (`items::sku_fold`), for [`Listing::look_alike`].
    fn look_alikes(&self, ours: &HashSet<&str>) -> HashMap<String, &String> {
        self.counts
            .keys()
            .chain(self.twice.keys())
            .chain(self.unreadable.keys())
            .filter(|s| !ours.contains(s.as_str()))
            .map(|s| (crate::items::sku_fold(s), s))
            .collect()
    }

    /// The SKUs the cart lists (with a count, twice, or unreadably) that are among `ours`, by
    /// their folded form, for [`look_alike`] and [`twin_listed_why`]: an item of the store's
    /// unlisted beside its twin (`tee-m` beside `TEE-M`, both the store's) was told as one no
    /// product has, as [`Listing::look_alikes`] leaves out what the store syncs.
    fn ours_listed(&self, ours: &HashSet<&str>) -> HashMap<String, &String> {
        self.counts
            .keys()
            .chain(self.twice.keys())
            .chain(self.unreadable.keys())
            .filter(|s| ours.contains(s.as_str()))
            .map(|s| (crate::items::sku_fold(s), s))
            .collect()
    }
}

/// Why the store's item is not matched with the cart's `twin`, the SKU of another of the
/// store's items that differs from it only in case or accents (from 2026-12-05: told as "no
/// product has it", the owner went to make a product the cart may refuse as a duplicate).
fn twin_listed_why(twin: &str) -> String {
    format!(
        "the cart lists no count for this SKU, but lists \"{}\", the SKU of another of the \
         store's items, which differs from this one only in case or accents, or in characters \
         that do not show on screen (written out here); SKUs are matched exactly, so that \
         product takes only the other item's changes and each change of this one fails there \
         as an unknown SKU (a cart that compares SKUs without case or accents, as WooCommerce \
         does, refuses a second product for it): give one of the two items another SKU, or \
         take this one off the cart (web fields \"sync\": false)",
        written_out(twin)
    )
}

/// The SKU of `alikes` ([`Listing::look_alikes`]) that differs from the store's `sku` only in
/// case or accents, or in characters that do not show, if there is one.
fn look_alike<'a>(alikes: &HashMap<String, &'a String>, sku: &str) -> Option<&'a String> {
    alikes
        .get(&crate::items::sku_fold(sku))
        .copied()
        .filter(|t| t.as_str() != sku)
}

/// Why the store's item is not matched with the cart's `theirs`, a SKU that looks the same
/// or differs only in case or accents: the preflight's `unmapped` warning of it and the drift
/// report's `unlisted_why`. Told as "no product has it" (until 2026-12-05), the two
/// warnings of `CAFÉ` (composed) and the cart's `CAFE` + U+0301 read on screen as the same
/// SKU said to be missing and present, and every real-time change of it failed as unknown.
fn look_alike_why(theirs: &str) -> String {
    format!(
        "the cart lists no count for this SKU, but lists \"{}\", which differs from it only in \
         case or accents, or in characters that do not show on screen (written out here); \
         SKUs are matched exactly, so this cart takes no change of the item (each fails there \
         as an unknown SKU): if they are one item, give the store's item or the cart's product \
         the other's SKU",
        written_out(theirs)
    )
}

/// A SKU as the store reads it: trimmed, but a SKU of spaces only (which names no item) as
/// listed.
fn sku_form(sku: String) -> String {
    match sku.trim() {
        "" => sku,
        form if form.len() == sku.len() => sku,
        form => form.to_owned(),
    }
}

/// Every count of the cart's catalogue (see [`Listing`]), paging through it by
/// [`CartAdapter::fetch_catalogue`], as Get QOH does (the drift report and the preflight read
/// the same pages, and tell what it tells).
fn fetch_all(cart: &Cart, adapter: &dyn CartAdapter, wait: &CartWait) -> Result<Listing> {
    let mut listing = Listing::default();
    let mut paging = Paging::default();
    let mut cursor: Option<String> = None;
    loop {
        let page = with_rate_limit(wait, || adapter.fetch_catalogue(cursor.as_deref(), 500))
            .map_err(|e| cart_error(cart, &e))?;
        let unreadable = page.unreadable;
        for (sku, why) in page.unlisted {
            listing.unlisted.entry(sku_form(sku)).or_insert(why);
        }
        let page = paging
            .check(page.counts)
            .map_err(|e| cart_error(cart, &e))?;
        for (sku, count) in page.items {
            match listing.counts.entry(sku_form(sku)) {
                Entry::Vacant(e) => {
                    e.insert(count);
                }
                Entry::Occupied(e) => {
                    listing.twice.entry(e.key().clone()).or_insert(*e.get());
                }
            }
        }
        paging.note_unreadable(unreadable.iter().map(|(sku, _)| sku.as_str()));
        for (sku, why) in unreadable {
            listing
                .unreadable
                .entry(sku_form(sku))
                .or_insert_with(|| format!("{why}; {CORRECT_ON_CART}"));
        }
        cursor = page.next_cursor;
        if cursor.is_none() {
            let Listing {
                counts,
                twice,
                unreadable,
                unlisted,
            } = &mut listing;
            unlisted.retain(|sku, _| !sku.trim().is_empty() && !paging.listed.contains_key(sku));
            for sku in twice.keys() {
                counts.remove(sku);
            }
            for (sku, why) in unreadable.iter_mut() {
                let counted = counts.remove(sku).is_some();
                if twice.remove(sku).is_some() || counted {
                    why.push_str(&format!("; {LISTED_TWICE}"));
                }
            }
            return Ok(listing);
        }
    }
}

/// What the owner does of a count the cart wrote unreadably
/// ([`crate::adapter::CataloguePage::unreadable`], whose reason is the cause alone): each
/// report says first what it did of it (Get QOH "not applied", the drift report and the
/// preflight "not compared").
const CORRECT_ON_CART: &str = "correct it on the cart, then run this again";

/// Why a SKU the cart lists on more than one product is not compared.
const LISTED_TWICE: &str =
    "the cart lists this SKU on more than one product (or padded and not): fix the cart's SKUs";

/// Why Get QOH applies none of the counts of a SKU the cart lists on more than one product,
/// with those counts (`counts`, those it read; an entry whose count it could not read is
/// listed on its own).
fn listed_twice_why(counts: &[i64]) -> String {
    let counts: Vec<String> = counts.iter().map(i64::to_string).collect();
    format!(
        "{LISTED_TWICE}, then run Get QOH again; it counts {} there, none of them applied \
         (none is surely the item's)",
        counts.join(", ")
    )
}

/// Guards a walk through a cart's pages. A cart whose cursor comes back, whose pages stay
/// empty while naming a next one, or whose pages name fresh cursors while listing only SKUs
/// it listed before, would keep a manual run going for ever, and with it the run's hold on
/// the cart, which stops real-time sending to it.
#[derive(Default)]
struct Paging {
    cursors: HashSet<String>,
    /// Every SKU listed so far, as the store reads it (trimmed), with how often it was.
    listed: HashMap<String, usize>,
    empty: usize,
    repeated: usize,
}

impl Paging {
    /// Empty pages in a row, each naming a next one, before the walk gives up. A real
    /// catalogue has long runs of them (WooCommerce products that keep no stock, Medusa items
    /// stocked only elsewhere: a page of each is empty once they are left out), so this only
    /// bounds a cart that would name new cursors for ever.
    const EMPTY_PAGES: usize = 10_000;

    /// Pages in a row listing only SKUs listed before, each naming a next one. A catalogue
    /// lists a SKU twice only where two of its products share it (each such listing is
    /// reported), never page after page; a cart that pages by a cursor it ignores does.
    const REPEATED_PAGES: usize = 100;

    /// Notes the SKUs a page lists with a count that cannot be read: listed, though not
    /// counted, so another listing of the SKU is not taken as the item's only count, nor the
    /// SKU told as one the cart has no count of (Get QOH, the drift report and the preflight
    /// alike).
    fn note_unreadable<'s>(&mut self, skus: impl IntoIterator<Item = &'s str>) {
        for sku in skus {
            let form = sku.trim();
            if !form.is_empty() {
                *self.listed.entry(form.to_owned()).or_default() += 1;
            }
        }
    }

    /// The page, unless it shows that the cart's pages do not end.
    fn check(&mut self, page: QuantityPage) -> std::result::Result<QuantityPage, CartError> {
        let (mut new, mut repeats) = (false, false);
        for (sku, _) in &page.items {
            let form = sku.trim();
            let first = !form.is_empty() && {
                let n = self.listed.entry(form.to_owned()).or_default();
                *n += 1;
                *n == 1
            };
            new |= first;
            repeats |= !first && !form.is_empty();
        }
        if new {
            (self.empty, self.repeated) = (0, 0);
        } else if repeats {
            self.repeated += 1;
        } else {
            self.empty += 1;
        }
        if let Some(c) = &page.next_cursor {
            if !self.cursors.insert(c.clone()) {
                // Not quoted: a cursor is the cart's own text, which no scrubbing has seen (a
                // cart may echo the request's credentials into it).
                return Err(CartError::Rejected(format!(
                    "the cart's pages do not end: a cursor it gave before ({} bytes) came back",
                    c.len()
                )));
            }
            if self.empty >= Self::EMPTY_PAGES {
                return Err(CartError::Rejected(format!(
                    "the cart's pages do not end: {} empty pages in a row, each naming another",
                    self.empty
                )));
            }
            if self.repeated >= Self::REPEATED_PAGES {
                return Err(CartError::Rejected(format!(
                    "the cart's pages do not end: {} pages in a row list only SKUs it listed \
                     before, each naming another",
                    self.repeated
                )));
            }
        }
        Ok(page)
    }
}

/// A count's item, and the newest waiting record the count includes.
type Included = (ItemId, Option<i64>);

/// Where a Send QOH run stands: what its batches share.
struct SendRun<'a> {
    cart: &'a Cart,
    adapter: &'a dyn CartAdapter,
    /// The cart's wait as the store keeps it.
    wait: CartWait<'a>,
    total: i64,
    /// Items whose batch is done.
    done: i64,
    /// Whether any request reached the cart: until then a cart that cannot be reached is an
    /// error of the call; after, what was done stands and the report says why it stopped.
    reached: bool,
    /// A short `Retry-After` the cart gave on a batch's last try: waited out before the next
    /// request, and not at all if none follows.
    owed: Duration,
    report: SendReport,
    /// The send groups a keyed re-send ([`SendRun::resend_unsettled`]) may have put on the
    /// cart (applied, or its answer lost): marked so before the run goes on, so that an
    /// adapter without keys in this one's place holds them back rather than send them again
    /// as new (until 2026-12-04 only the controller's lost answers were marked).
    maybe_on_cart: Vec<i64>,
    /// See [`CartHold::in_doubt`]: named beside an item whose count the cart did not take,
    /// as those records then stay uncertain (a count it took settles them).
    in_doubt: &'a [(ItemId, usize)],
}

impl SendRun<'_> {
    /// Counts a batch of `n` done and tells the progress callback, between batches (not after
    /// the last); whether it cancelled the run (so noted in the report).
    fn batch_done(&mut self, n: usize, progress: Option<&mut Progress>) -> bool {
        self.done += n as i64;
        let cancelled = match progress {
            Some(p) => self.done < self.total && !p(self.done, self.total),
            None => false,
        };
        self.report.cancelled |= cancelled;
        cancelled
    }

    /// Calls the cart through `f`, waiting out its rate limits (and the cart's wait the store
    /// keeps: [`CartWait`], which the waits asked for on items are written to), and counts each call made in
    /// the report's `requests`: one a rate limit made it make again too (until 2026-12-04 a
    /// batch answered 429 and sent again counted once).
    fn call(
        &mut self,
        f: impl Fn(&dyn CartAdapter) -> std::result::Result<Vec<SendOutcome>, CartError>,
    ) -> std::result::Result<Vec<SendOutcome>, CartError> {
        let (adapter, requests) = (self.adapter, &mut self.report.requests);
        let answer = with_rate_limit(&self.wait, || {
            *requests += 1;
            f(adapter)
        });
        if let Ok(outcomes) = &answer {
            self.wait.record_items(outcomes);
        }
        answer
    }

    fn pay_owed(&mut self) {
        if !self.owed.is_zero() {
            std::thread::sleep(std::mem::take(&mut self.owed));
        }
    }

    /// Why the run stopped on `e`, for its report.
    fn stopped(&self, e: &CartError) -> String {
        stopped(self.cart, e, self.done, self.total)
    }

    /// Sends first, on a cart with keys, the changes sent before that the counts include
    /// (`deliver`, by set index; see [`resend_unsettled`]). Returns the sets, and the records
    /// each includes, still to be sent: an item whose change was not applied is listed and
    /// left out. `None` when the run stops here (its report says why); the call's error when
    /// nothing has reached the cart.
    fn resend_first(
        &mut self,
        sets: Vec<QuantitySet>,
        read: Vec<Included>,
        deliver: &[(usize, Vec<sql::SentBefore>)],
    ) -> Result<Option<(Vec<QuantitySet>, Vec<Included>)>> {
        if deliver.is_empty() {
            return Ok(Some((sets, read)));
        }
        let refused = match self.resend_unsettled(&sets, deliver) {
            // As for a set: an error of the call if nothing reached the cart.
            Err(e) if ends_run(&e) => {
                if !self.reached {
                    return Err(cart_error(self.cart, &e));
                }
                self.report.error = Some(self.stopped(&e));
                return Ok(None);
            }
            Err(e) => {
                self.reached = true;
                let why = e.message();
                deliver.iter().map(|(i, _)| (*i, why.clone())).collect()
            }
            Ok(refused) => {
                if self.owed > RATE_LIMIT_MAX_WAIT {
                    let e = CartError::RateLimited {
                        retry_after: Some(std::mem::take(&mut self.owed)),
                        message: "the cart asked to wait before changes are sent again".into(),
                    };
                    self.report.error = Some(self.stopped(&e));
                    return Ok(None);
                }
                // What the run owes the cart is waited out before its next request: this
                // batch's counts, or the next batch's (none if none follows).
                refused
            }
        };
        let mut kept = (Vec::new(), Vec::new());
        for (i, (set, r)) in sets.into_iter().zip(read).enumerate() {
            match refused.get(&i) {
                Some(why) => self
                    .report
                    .note_failure(set.sku, format!("{NOT_DELIVERED}: {why}")),
                None => {
                    kept.0.push(set);
                    kept.1.push(r);
                }
            }
        }
        Ok(Some(kept))
    }

    /// Sends again, under their keys, the changes a count is about to include that were sent
    /// before without settling, so that should an earlier request of one land after the count
    /// the cart takes it as the duplicate it is. Requests carry at most the cart's
    /// `max_items_to_send` changes (an item may have several), and each waits out what the
    /// one before asked for (the run's `owed`; one longer than a run waits ends the sending
    /// here, and the caller stops the run: the cart is not asked again before the time it
    /// named). Returns, by set index, why an item's change was not applied (the item is then
    /// not sent its count); or the error of a request that ends the run (the first's, or a
    /// later one's that [`ends_run`]: a rate limit, a refusal of the credentials, an
    /// unreachable cart). The records stay: the count, once the cart took it, settles them as
    /// it does the others.
    fn resend_unsettled(
        &mut self,
        sets: &[QuantitySet],
        deliver: &[(usize, Vec<sql::SentBefore>)],
    ) -> std::result::Result<HashMap<usize, String>, CartError> {
        let mut owner = Vec::new();
        let mut groups_sent = Vec::new();
        let mut sends = Vec::new();
        for (i, groups) in deliver {
            for g in groups {
                owner.push(*i);
                groups_sent.push(g.group);
                sends.push(crate::adapter::DeltaSend {
                    key: g.key.clone(),
                    sku: sets[*i].sku.clone(),
                    remote_ref: sets[*i].remote_ref.clone(),
                    delta: g.delta,
                });
            }
        }
        let mut refused = HashMap::new();
        let max = (self.cart.max_items_to_send as usize).max(1);
        let requests = sends.chunks(max).zip(owner.chunks(max));
        for (n, ((chunk, owners), groups)) in requests.zip(groups_sent.chunks(max)).enumerate() {
            if self.owed > RATE_LIMIT_MAX_WAIT {
                break;
            }
            self.pay_owed();
            let answer = self.call(|a| a.apply_deltas(chunk));
            // On the cart, or may be: applied, or the answer lost (as the controller reads a
            // keyed cart's answers).
            match &answer {
                Ok(outcomes) => self.maybe_on_cart.extend(
                    groups
                        .iter()
                        .enumerate()
                        .filter(|(k, _)| {
                            let o = outcomes.get(*k);
                            matches!(o, Some(SendOutcome::Applied { .. }))
                                || SendOutcome::keyed_answer_lost(o)
                        })
                        .map(|(_, g)| *g),
                ),
                Err(CartError::Ambiguous(_)) => self.maybe_on_cart.extend(groups),
                Err(_) => {}
            }
            match answer {
                Ok(outcomes) => {
                    self.reached = true;
                    for (k, &i) in owners.iter().enumerate() {
                        match outcomes.get(k) {
                            Some(SendOutcome::Applied { .. }) => {}
                            other => {
                                if let Some(SendOutcome::Retry { after: Some(d), .. }) = other {
                                    self.owed = self.owed.max(*d);
                                }
                                refused.entry(i).or_insert_with(|| describe(other));
                            }
                        }
                    }
                }
                Err(e) if n == 0 || ends_run(&e) => return Err(e),
                Err(e) => {
                    for &i in owners {
                        refused.entry(i).or_insert_with(|| e.message());
                    }
                }
            }
        }
        Ok(refused)
    }

    /// Sends one batch's counts, and again those whose answer was lost or that the cart asked
    /// to send again. Returns what became of each count, in order, and why the run stops after
    /// this batch if it does; or the call's error when nothing has reached the cart.
    fn set_counts(&mut self, sets: &[QuantitySet]) -> Result<(Vec<Took>, Option<String>)> {
        // Each set's fate, `None` while it is to be sent (again). A set whose answer
        // was lost, or that the cart asked to send again (not sent, rate limited),
        // goes again as it is (absolute; the same key), twice at most; once a try of
        // a set was lost, it may have landed whatever a later try answers. A set
        // still asked to go again at the end was surely not applied (a `Retry`).
        let n = sets.len();
        let mut fate: Vec<Option<Took>> = vec![None; n];
        let mut lost: Vec<Option<String>> = vec![None; n];
        let mut last: Vec<String> = vec![String::new(); n];
        let mut stop = None;
        let mut tries = 0;
        // The longest wait a set's `Retry` asked for (a rate limit on a later
        // request of the call): waited out before the sets go again.
        let mut wait = Duration::ZERO;
        loop {
            let todo: Vec<usize> = (0..n).filter(|i| fate[*i].is_none()).collect();
            if todo.is_empty() {
                break;
            }
            if tries > 0 {
                // Not before the time the cart named: sets it asks to hold longer
                // than a run waits stay unsent (a `Retry`, listed), and the run stops
                // after this batch (the last try's answer included).
                if wait > RATE_LIMIT_MAX_WAIT {
                    let e = CartError::RateLimited {
                        retry_after: Some(wait),
                        message: last
                            .iter()
                            .find(|m| !m.is_empty())
                            .cloned()
                            .unwrap_or_default(),
                    };
                    stop = Some(self.stopped(&e));
                    break;
                }
                if tries > AMBIGUOUS_RESENDS {
                    // No try left for this batch; the next is not sent before the
                    // time the cart named either.
                    self.owed = std::mem::take(&mut wait);
                    break;
                }
                std::thread::sleep(std::mem::take(&mut wait));
            }
            tries += 1;
            let subset: Vec<QuantitySet> = todo.iter().map(|i| sets[*i].clone()).collect();
            match self.call(|a| a.set_quantities(&subset)) {
                Ok(outcomes) => {
                    self.reached = true;
                    for (k, &i) in todo.iter().enumerate() {
                        match outcomes.get(k) {
                            Some(SendOutcome::Applied { .. }) => fate[i] = Some(Took::Yes),
                            Some(SendOutcome::Uncertain { message }) => {
                                lost[i] = Some(message.clone())
                            }
                            Some(o @ SendOutcome::Retry { after, .. }) => {
                                wait = wait.max(after.unwrap_or_default());
                                last[i] = describe(Some(o));
                            }
                            other => {
                                fate[i] = Some(match &lost[i] {
                                    Some(m) => Took::Maybe(format!(
                                        "no answer after sending ({m}), then: {}",
                                        describe(other)
                                    )),
                                    None => match other {
                                        Some(SendOutcome::Failed { .. }) => {
                                            Took::Refused(describe(other))
                                        }
                                        _ => Took::No(describe(other)),
                                    },
                                })
                            }
                        }
                    }
                }
                Err(CartError::Ambiguous(m)) => {
                    self.reached = true;
                    for &i in &todo {
                        lost[i] = Some(m.clone());
                    }
                }
                Err(e) => {
                    let stops = ends_run(&e);
                    if stops && !self.reached {
                        return Err(cart_error(self.cart, &e));
                    }
                    self.reached |= !stops;
                    for &i in &todo {
                        fate[i] = Some(match &lost[i] {
                            Some(m) => Took::Maybe(format!(
                                "no answer after sending ({m}), then: {}",
                                e.message()
                            )),
                            // Not tried: the run stops here.
                            None if stops => Took::NotTried,
                            None => Took::No(e.message()),
                        });
                    }
                    if stops {
                        stop = Some(self.stopped(&e));
                    }
                }
            }
        }
        let took = (0..n)
            .map(|i| {
                fate[i].take().unwrap_or_else(|| match &lost[i] {
                    // A try was lost, and the cart asked to wait on another.
                    Some(m) if !last[i].is_empty() => Took::Maybe(format!(
                        "no answer after sending ({m}); the cart answered another try: {}",
                        std::mem::take(&mut last[i])
                    )),
                    Some(m) => Took::Maybe(format!("no answer after sending, {tries} times: {m}")),
                    None => Took::No(std::mem::take(&mut last[i])),
                })
            })
            .collect();
        Ok((took, stop))
    }
}

/// Why the drift report neither compared nor repaired an item, with the count the store has
/// the cart show.
fn not_compared(published: i64, waiting: &sql::Waiting, why: &str) -> String {
    format!(
        "not compared, nor repaired (the store has it show {}): {why}",
        should_show(published, waiting)
    )
}

/// The count a cart should show of an item the store publishes `published` of, with
/// `waiting` still to reach the cart, as text: with records in doubt, either count
/// ([`in_step`]). Told with a count the cart wrote unreadably, so that the owner corrects it
/// to one the store takes as in step (another would be read by Get QOH as units sold or
/// returned there).
fn should_show(published: i64, waiting: &sql::Waiting) -> String {
    let expected = i128::from(published) - i128::from(waiting.sum);
    match waiting.in_doubt > 0 {
        false => expected.to_string(),
        true => format!(
            "{expected}, or {} with the changes in doubt applied",
            expected + i128::from(waiting.in_doubt_sum)
        ),
    }
}

/// The outcome of a drift repair's item the cart took.
const REPAIRED: &str = "repaired";

/// Whether a cart showing `q` of an item is in step with the store, which publishes
/// `published` with `waiting` still to reach the cart: it shows the published count less
/// what waits, or, with records in doubt (sent, not settled), that count with them applied.
/// Wide: a cart's count can be any i64.
fn in_step(q: i64, published: i64, waiting: &sql::Waiting) -> bool {
    let expected = i128::from(published) - i128::from(waiting.sum);
    let q = i128::from(q);
    q == expected || (waiting.in_doubt > 0 && q == expected + i128::from(waiting.in_doubt_sum))
}

/// Why a manual run stopped after it had done part of its work (`total` -1: not known).
fn stopped(cart: &Cart, e: &CartError, done: i64, total: i64) -> String {
    let done = match total >= 0 {
        true => format!("{done} of {}", crate::counted(total, "item")),
        false => crate::counted(done, "item"),
    };
    format!(
        "stopped after {done}: {}; what was done stands, run it again to finish",
        cart_error(cart, e).message()
    )
}

/// Why manual sync leaves alone an item with records in doubt.
fn in_doubt_why(w: sql::Waiting) -> String {
    format!(
        "{} change(s) totalling {:+} were sent to the cart and have not settled (waiting to be sent again, bypassed or uncertain), so its count may or may not include them: the stack sends again those waiting; check the cart's count for those bypassed or uncertain (listed on the stack), discard those it shows and retry the others; then run this again",
        w.in_doubt, w.in_doubt_sum
    )
}

/// [`in_doubt_why`] for Get QOH, telling apart the records the cart refused for good
/// ([`sql::refused_for_good`]): those are not in its count. Until 2026-12-05 they were said to
/// be "maybe" in it, and to let the stack deliver them or retry them: an owner who had
/// added the product to the cart with the sale already taken off, then retried the sale, had
/// the unit taken off there twice.
fn in_doubt_why_of(
    c: &rusqlite::Connection,
    cart: CartId,
    item: ItemId,
    w: sql::Waiting,
) -> Result<String> {
    let (refused, refused_sum) = sql::refused_for_good(c, cart, item)?;
    let refused_why = format!(
        "{refused} change(s) totalling {refused_sum:+} were refused by the cart for good and \
         bypassed (their last response on the stack says why), so its count does not include \
         them: if that count already allows for them (the product added to the cart, or its \
         count set there by hand, after them), discard them; otherwise retry them, so that the \
         cart takes them; then run Get QOH again"
    );
    Ok(match w.in_doubt - refused {
        _ if refused == 0 => in_doubt_why(w),
        0 => refused_why,
        rest => format!(
            "{}; and {refused_why}",
            in_doubt_why(sql::Waiting {
                in_doubt: rest,
                in_doubt_sum: w.in_doubt_sum - refused_sum,
                ..w
            })
        ),
    })
}

/// What a Send QOH batch's answer says of one of its counts.
#[derive(Clone)]
enum Took {
    Yes,
    /// The cart may have taken it: its records are settled with it, and it is listed.
    Maybe(String),
    /// Surely not: listed, and its records stay to be sent as deltas.
    No(String),
    /// Surely not, and never will be (the cart's [`SendOutcome::Failed`]): as `No`.
    Refused(String),
    /// Not sent: the run stopped before it.
    NotTried,
}

/// Whether a whole-call error ends a Send QOH run: the cart stopped answering, or never did,
/// or asks for a pause longer than a run waits, so every later batch would fail the same way
/// (or ask it again before the time it named).
fn ends_run(e: &CartError) -> bool {
    matches!(
        e,
        CartError::Unreachable(_) | CartError::Unauthorized(_) | CartError::RateLimited { .. }
    )
}

/// The error of a Send QOH that could not record what became of a batch's counts: on a busy
/// store, what to do about it.
fn unsettled(run: &SendRun<'_>, e: &Error) -> Error {
    if e.kind() != ErrorKind::Busy {
        return e.clone();
    }
    Error::new(
        ErrorKind::Busy,
        format!(
            "Send QOH to cart {:?} stopped after {} of {} items: the store stayed busy after the \
             cart answered or failed ({}); the changes its last counts included will be taken \
             as included in them, taken or not: run Send QOH again to set every count",
            run.cart.name,
            run.done,
            run.total,
            e.message()
        ),
    )
}

/// How many times Send QOH tries to settle a batch's answer on a busy store.
const SETTLE_TRIES: u32 = 3;

/// How many times Send QOH sends a batch again whose answer was lost.
const AMBIGUOUS_RESENDS: usize = 2;

/// Why Send QOH leaves out, once, an item a stalled controller sent a change to a cart
/// without keys.
const HELD_BACK: &str = "not sent: this item has a change sent before that may be on the \
     cart or still reach it (a stack controller stalled while sending it, or an adapter with \
     keys this cart had lost its answer), and the cart cannot tell it from a new one; it is marked \
     uncertain: check the cart's count (the stack's view shows the change), then run Send QOH \
     again, which sets the count and settles it";

/// Why an item is not sent when its change sent before is still on another controller's
/// lease: not marked uncertain (that controller may yet settle it), so the report counts none.
const HELD_BY_SENDER: &str = "not sent: a stack controller is sending a change of this item \
     right now (its lease has not ended), and the cart cannot tell that change from a new one; \
     run Send QOH again once that send has ended (the stack's view shows the change)";

/// The last response of a change [`HELD_BACK`].
const HELD_BACK_RESPONSE: &str = "held back: sent before without an answer (a stack \
     controller stalled while sending it, or an adapter with keys lost its answer), and Send \
     QOH took the cart over; the cart may have it, or get it late";

/// Why Send QOH leaves out an item whose change sent before it could not send again first.
const NOT_DELIVERED: &str = "not sent: a change sent before (its request may still reach \
     the cart) was sent again under its key first, and not applied; its records wait";

/// How Send QOH's report begins the failure of a count the cart may have taken.
const IN_DOUBT: &str =
    "the cart may have taken this count (its waiting changes were settled with it); run Send QOH again for it";

/// A description and (option name, value) pairs, as a cart gives them
/// (`CataloguePage::details`).
type Details = (String, Vec<(String, String)>);

/// A page of Get QOH as read: its (SKU, count) pairs, the ledger's newest row before the cart
/// was asked for it, and when it was asked for (for `Pull::recent`).
type ReadPage = (Vec<(String, i64)>, i64, i64);

/// What a page of Get QOH applies its counts with.
struct Pull<'a> {
    cart: &'a Cart,
    create_new: bool,
    workstation: &'a str,
    targets: Vec<(crate::carts::CartId, SyncLevel)>,
    /// Whether any count of the cart is kept (read with the page, and set once the page keeps
    /// one): most carts have none, and each count then skips the lookup.
    kept_any: std::cell::Cell<bool>,
    /// Whether the cart may still show a deleted item's count of any SKU (read with the
    /// page; nothing in a Get QOH adds one): most carts have none, and each count then skips
    /// the lookup, which cost Get QOH a tenth of its rate.
    deleted_any: bool,
    /// The ledger's newest row before the page was asked for, where an order or return was
    /// imported from the cart since (on most pages none was: each count skips the lookup).
    imported_since: Option<i64>,
    /// How many items are linked to the cart by a `remote_ref` (see `get_qoh`).
    linked: usize,
    /// Variant SKU → its product's SKU, where the cart says (`CataloguePage::products`).
    products: &'a HashMap<String, String>,
    /// SKU → what the cart says of it (`CataloguePage::details`), for the items
    /// `create_item` makes.
    details: &'a HashMap<String, Details>,
    /// The SKUs `CartAdapter::describe` failed for, not created, and how many were met.
    undescribed: &'a HashSet<String>,
    uncreated: &'a std::cell::Cell<usize>,
    /// The products this run made for the variants it created: no cart has them yet.
    made: &'a std::cell::RefCell<HashSet<ItemId>>,
    /// The store's SKUs (those this run created too) by their folded form
    /// (`items::sku_fold`): read at the first item `create_item` is asked for ([`case_twin`]).
    folded: &'a std::cell::RefCell<Option<HashMap<String, String>>>,
    /// The items whose count the page read, noted as shown to the cart once it is applied.
    shown: std::cell::RefCell<Vec<ItemId>>,
    /// The items the cart took a change of (a delta sent, a count set) within its read lag
    /// before the page was asked for, or since, with when the last was: the page may hold
    /// the count from before it. A sale sent (shown 4) and read as 5 would give back a unit
    /// the store sold. Empty for a cart that declares no lag.
    recent: HashMap<ItemId, i64>,
    /// As `recent`, the SKUs of deleted items Send QOH set to 0 on the cart: the page may
    /// hold the deleted item's count from before, which would make it again with units the
    /// store does not have.
    zeroed: HashMap<String, i64>,
    /// When the cart took counts (Send QOH, a repair, a deleted item's 0) while it declared
    /// no lag, where that is within its lag now: any count the page read may be from before
    /// them (the owner set `read_lag_ms` since). `None` where there were none.
    any_since: Option<i64>,
    /// The cart's [`CartAdapter::read_lag`] in milliseconds.
    lag: i64,
}

/// Notes that `cart`, whose read lag is `lag` ms, took (or may have taken) counts of `items`
/// at `now`: one row an item where the cart declares a lag ([`sql::counts_set_note`]); where
/// it declares none, the cart's one time ([`sql::counts_set_last_note`]), so that an owner
/// who finds it lags and sets `read_lag_ms` is covered for what it took before (until
/// 2026-12-04 nothing was noted, and a Get QOH right after took the cart's stale counts). A
/// row an item on every cart cost Send QOH about a third of its speed.
fn note_counts_set(
    c: &rusqlite::Connection,
    cart: CartId,
    lag: i64,
    items: &[ItemId],
    now: i64,
) -> Result<()> {
    match lag {
        0 if items.is_empty() => Ok(()),
        0 => sql::counts_set_last_note(c, cart, now),
        _ => sql::counts_set_note(c, cart, items, now),
    }
}

/// The SKUs `cart` took a change of within its read lag `lag` before `asked_at`, with when
/// ([`sql::written_since`]), and when it took counts while it declared no lag, if within
/// that ([`sql::counts_set_last_since`]): for the drift report and the preflight. Nothing for
/// a cart that declares no lag.
fn recent_changes(
    store: &Store,
    cart: &Cart,
    lag: i64,
    asked_at: i64,
) -> Result<(HashMap<String, i64>, Option<i64>)> {
    if lag == 0 {
        return Ok((HashMap::new(), None));
    }
    store.read(|c| {
        let recent = sql::written_since(c, cart.id, asked_at - lag)?
            .into_iter()
            .map(|(_, sku, at)| (sku, at))
            .collect();
        Ok((
            recent,
            sql::counts_set_last_since(c, cart.id, asked_at - lag)?,
        ))
    })
}

/// The cart's [`CartAdapter::read_lag`] in milliseconds (an hour at most, as the built-in
/// adapters take it: a custom adapter's longer one would keep an item that sells every hour
/// from ever being read).
fn lag_ms(adapter: &dyn CartAdapter) -> i64 {
    adapter.read_lag().as_millis().min(3_600_000) as i64
}

/// Why a count read within the cart's read lag after it took a change of the item (at `at`,
/// by the clock of the workstation that noted it) is not applied or compared, and when to
/// read it again: once the change is older than the lag and the difference workstations'
/// clocks may have ([`sql::LOG_SKEW`]), or it would be left alone again. A best-seller the
/// controller sends a change every few minutes never gets there while real-time sync runs:
/// the operator is told the way out.
fn read_too_soon(lag: i64, at: i64) -> String {
    let again = ((at + lag + sql::LOG_SKEW - now_ms()).max(0) as u64)
        .div_ceil(1000)
        .max(1);
    format!(
        "this cart took a change of it (a delta sent, or a count set) less than its read lag \
         of {} s (and {} s for workstations' clocks) before the count was read, and its reads \
         may not show the change yet: the count may be from before it; run again in {again} s \
         or later (an item the store sends changes to more often than that is read at a \
         quieter time, or once the cart's real-time sync has been off that long)",
        (lag as u64).div_ceil(1000),
        sql::LOG_SKEW / 1000
    )
}

/// Why Get QOH did not update an item linked to the cart by a `remote_ref`.
const LINKED_UNLISTED: &str = "linked to this cart by its web fields' remote_ref, but the cart \
     lists no count under this SKU: Get QOH matches the cart's own SKUs; give the item the \
     cart's SKU, or set its QOH by hand";

/// Said of an item whose count the cart did not take, when `n` of its records were held in
/// doubt as the run took the cart over: they are not sent as deltas, as the item's other
/// records are, and wait for the owner (until 2026-12-05 the report did not say so).
fn left_in_doubt(n: usize) -> String {
    format!(
        "{} of it held in doubt (uncertain): an earlier Send QOH's count included them, and \
         its run ended before it recorded the cart's answer; check the cart, then retry or \
         discard them",
        crate::counted(n as i64, "change")
    )
}

/// [`CartHold::in_doubt_left`] of a takeover of `cart` that held `in_doubt`.
fn in_doubt_left(store: &Store, cart: CartId, in_doubt: &[(ItemId, usize)]) -> usize {
    let held: usize = in_doubt.iter().map(|&(_, n)| n).sum();
    if held == 0 {
        return 0;
    }
    store
        .read(|c| {
            in_doubt.iter().try_fold(0, |left, &(item, n)| {
                Ok(left + n.min(sql::uncertain_of_item(c, cart, item)?))
            })
        })
        .unwrap_or(held)
}

/// Said by a manual run that ends with an error (or a report's `uncertain` documents it) of
/// the `n` records its takeover held in doubt: an earlier Send QOH's counts included them and
/// its run ended unsettled, so they are not sent again and wait for the owner.
fn held_in_doubt(n: usize) -> String {
    format!(
        "before that, it held {} in doubt (uncertain): an earlier Send QOH's count included \
         them, and its run ended before it recorded the cart's answer; check the cart, then \
         retry or discard them (the stack's view lists them as uncertain), or run Send QOH \
         again once the cart answers, which sets the counts and settles them",
        crate::counted(n as i64, "change")
    )
}

/// Why Get QOH did not create an item for a SKU the store does not know.
fn not_created(linked: usize) -> String {
    format!(
        "not created: {linked} item(s) are linked to this cart by remote_ref, and the cart \
         lists its counts under its own SKUs, so this SKU may be one of them; give the item \
         the cart's SKU, or create this one by hand"
    )
}

/// [`ErrorKind::Busy`] while a manual run holds `cart`: `then` says what the caller can do
/// once it ends.
pub(crate) fn refuse_while_held(c: &rusqlite::Connection, cart: &Cart, then: &str) -> Result<()> {
    if sql::cart_held_until(c, cart.id)? > now_ms() {
        return Err(Error::new(
            ErrorKind::Busy,
            format!(
                "cart {:?}: a Send QOH, Get QOH or drift repair is running for it; {then}",
                cart.name
            ),
        ));
    }
    Ok(())
}

/// A cart that real-time changes now go to (its Synchronize Inventory, its settings or
/// SynchQOH changed) is sent, for each count kept from its last Get QOH, the difference to
/// what it publishes: from here on each change moves its count by the change of what it
/// publishes, which only works from a count that is what it publishes. In the caller's
/// transaction, with the change that made it one. Refused while a manual run holds such a
/// cart: the difference would be sent after the absolute count that run may be sending.
///
/// Counts a Send QOH left sending to such a cart (its run ended before it recorded the
/// cart's answer) settle the counts kept of the items they set first ([`sql::counts_left_kept`]):
/// the kept count they replace may be gone by then. The changes they included are left for
/// the cart's next lease or manual run to hold in doubt, whose report counts them: until
/// 2026-12-05 they were held in doubt here, by a call (a cart saved, a box ticked, `SynchQOH`
/// set) that returns no report, and the owner was not told.
pub(crate) fn pulled_to_realtime(c: &rusqlite::Connection, workstation: &str) -> Result<()> {
    let now = now_ms();
    for (cart_id, _) in sql::realtime_targets(c)? {
        if sql::cart_held_until(c, cart_id)? <= now {
            sql::counts_left_kept(c, cart_id)?;
        }
    }
    for (cart_id, item_id, kept) in sql::pulled_of_targets(c)? {
        let cart = sql::cart_by_id(c, cart_id)?;
        let item = sql::item_by_id(c, item_id)?;
        // Not shown at the cart's level (what it showed at its old level, or the 0 Send QOH
        // set that to: `items::level_changed`): kept for when its level shows it again, as
        // what the cart shows of it.
        if shown_as(cart.level(), &item) != Some(item_id) {
            continue;
        }
        let published = published_now(c, &cart, &item)?;
        if published.is_none() {
            // Taken off the cart (`sync: false`): it goes on showing the count kept, and is
            // sent the difference when it is put back (`Store::set_web_fields`).
            continue;
        }
        refuse_while_held(c, &cart, "real-time sync can start for it once that ends")?;
        match published {
            Some((target, published)) if target == item_id && published != kept => {
                queue_correction(c, cart_id, target, published - kept, workstation)?;
            }
            _ => {}
        }
        sql::pulled_forget(c, cart_id, item_id)?;
    }
    Ok(())
}

/// Queues `delta` for `cart` and `item` to bring what the cart counts to what it publishes: a
/// record of no QOH change (no origin cart), sent as any other.
pub(crate) fn queue_correction(
    c: &rusqlite::Connection,
    cart_id: CartId,
    item_id: ItemId,
    delta: i64,
    workstation: &str,
) -> Result<()> {
    sql::stack_insert_many(
        c,
        &[NewRecord {
            cart_id,
            item_id,
            delta,
            reason: Reason::Other,
            origin_cart_id: None,
            workstation,
        }],
        None,
    )?;
    Ok(())
}

/// Creates item `sku` with `count` for Get QOH's `create_new`: a variant of its product where
/// the cart lists it as one (the product made too, without stock, where the store lacks it:
/// then its SKU beside the id), otherwise an item of its own. `Err` says why it was not
/// created: its product is a variant in the store, or holds stock of its own (a product with
/// variants holds none), or is shown by an `Attribute` cart that would go on selling that
/// count (`items::refuse_as_product`, `items::insert_variant`, as for a host's variant), or
/// it or the product to be made differs only in case or accents, or in characters that do
/// not show, from an item of the store's ([`case_twin`]).
fn create_item(
    c: &rusqlite::Connection,
    pull: &Pull<'_>,
    sku: &str,
    count: i64,
) -> Result<std::result::Result<(ItemId, Option<String>), String>> {
    // Deleted on purpose while the cart showed it: its listing there is what the store no
    // longer has, not a new product.
    if sql::deleted_on_cart_has(c, pull.cart.id, sku)? {
        return Ok(Err(
            "not created: deleted from the store while this cart showed it (Send \
             QOH sets it to 0 there); to take it back, create the item"
                .into(),
        ));
    }
    // Set to 0 there just now, for a deleted item: the count read may be the item's old one.
    let zeroed = pull.zeroed.get(sku).copied();
    if let Some(at) = zeroed.or(pull.any_since) {
        return Ok(Err(format!(
            "not created: {}; {}",
            match zeroed {
                Some(_) => "deleted from the store and set to 0 on this cart by Send QOH",
                None =>
                    "this cart was sent counts while it declared no read lag, a deleted \
                         item's 0 among them maybe",
            },
            read_too_soon(pull.lag, at)
        )));
    }
    if let Some(twin) = case_twin(c, pull, sku)? {
        return Ok(Err(format!("not created: {}", twin_why(&twin, sku))));
    }
    // A `Sku` cart's counts are not its variants' (rule 5): its listing makes plain items.
    let product = pull
        .products
        .get(sku)
        .filter(|p| !p.is_empty() && p.as_str() != sku)
        .filter(|_| pull.cart.capabilities.realtime != Some(SyncLevel::Sku));
    let Some(product) = product else {
        let (attributes, description) = described(pull, sku);
        let id = sql::item_insert(c, sku, None, &attributes, &description, count)?;
        created(pull, sku);
        return Ok(Ok((id, None)));
    };
    let Ok(product) = check_sku(product) else {
        return Ok(Err(format!(
            "not created: the cart lists it as a variant of {product:?}, which is not a valid SKU"
        )));
    };
    // A product no cart has yet, made here or earlier in the run: creating it and its
    // variants queues nothing (rule 13).
    let parent = match sql::item_find(c, product)? {
        None => {
            if let Some(twin) = case_twin(c, pull, product)? {
                return Ok(Err(format!(
                    "not created: the cart lists it as a variant of {product:?}, which the \
                     store does not have: {}",
                    twin_why(&twin, product)
                )));
            }
            let (attributes, description) = described(pull, product);
            let id = sql::item_insert(c, product, None, &attributes, &description, 0)?;
            pull.made.borrow_mut().insert(id);
            created(pull, product);
            let (attributes, description) = described(pull, sku);
            let variant = sql::item_insert(c, sku, Some(id), &attributes, &description, count)?;
            created(pull, sku);
            return Ok(Ok((variant, Some(product.to_owned()))));
        }
        Some(p) => p,
    };
    // The checks and the telling of a host's new variant (rule 5); a product this run made
    // has no cart yet.
    let made = pull.made.borrow().contains(&parent.id);
    let (attributes, description) = described(pull, sku);
    let inserted = crate::items::refuse_as_product(&parent, sku).and_then(|()| match made {
        true => sql::item_insert(c, sku, Some(parent.id), &attributes, &description, count),
        false => crate::items::insert_variant(
            c,
            pull.workstation,
            &parent,
            sku,
            &attributes,
            &description,
            count,
        ),
    });
    match inserted {
        Ok(id) => {
            created(pull, sku);
            Ok(Ok((id, None)))
        }
        Err(e) if e.kind() == ErrorKind::Refused => Ok(Err(format!(
            "not created: the cart lists it as a variant of {product:?}: {}",
            e.message()
        ))),
        Err(e) => Err(e),
    }
}

/// The attributes JSON and the description `create_item` gives `sku`: what the cart says of
/// it, cleaned as the store takes a cart's text (`items::cart_text`: cut, never refused);
/// `{}` and `""` where it says nothing.
fn described(pull: &Pull<'_>, sku: &str) -> (String, String) {
    match pull.details.get(sku) {
        None => ("{}".to_owned(), String::new()),
        Some((description, attributes)) => (
            crate::items::cart_attributes(attributes),
            crate::items::cart_text(description),
        ),
    }
}

/// The store's item whose SKU differs from `sku` only in case, accents or how it is written
/// (`items::sku_fold`: composed or decomposed accents, invisible characters, a no-break
/// space), if there is one (one this run created too). SKUs are matched exactly, so Get QOH
/// would make `sku` an item of its own; but a cart that spells a SKU otherwise is most often
/// showing the same stock (a shop whose look-ups ignore case and accents, as WooCommerce's
/// MySQL collation does, a SKU typed again by hand or pasted from a system that writes
/// accents decomposed), and a second item would hold those units twice, sent to every other
/// cart as stock the store does not have. Until 2026-12-05 `create_new` made "mug" beside
/// "MUG" with the same 10 units, and a variant's product "Shirt" beside the plain item
/// "SHIRT" (from a review); and, told apart by case alone, "CAFE\u{301}-1" beside
/// "CAFÉ-1", which the owner could not tell apart on screen (from a later review).
fn case_twin(c: &rusqlite::Connection, pull: &Pull<'_>, sku: &str) -> Result<Option<String>> {
    let mut folded = pull.folded.borrow_mut();
    if folded.is_none() {
        let mut all = HashMap::new();
        for s in sql::item_skus(c)? {
            all.entry(crate::items::sku_fold(&s)).or_insert(s);
        }
        *folded = Some(all);
    }
    Ok(folded
        .as_ref()
        .and_then(|all| all.get(&crate::items::sku_fold(sku)))
        .filter(|twin| twin.as_str() != sku)
        .cloned())
}

/// Notes `sku`, which `create_item` made, for [`case_twin`].
fn created(pull: &Pull<'_>, sku: &str) {
    if let Some(all) = pull.folded.borrow_mut().as_mut() {
        all.entry(crate::items::sku_fold(sku))
            .or_insert_with(|| sku.to_owned());
    }
}

/// Why `sku` was not created beside `twin`, the store's SKU that differs from it only in
/// case or in how it is written ([`case_twin`]). Where more than case differs, the cart's
/// SKU is shown with what does not show on screen written out (`CAFE\u{301}-1`,
/// `TEE\u{a0}M`), so that the owner sees why two SKUs that look alike are not one.
fn twin_why(twin: &str, sku: &str) -> String {
    match twin.to_lowercase() == sku.to_lowercase() {
        true => format!(
            "the store has item {twin:?}, whose SKU differs from it only in case \
             (SKUs are matched exactly, case and all); if it is that item, give the store's \
             item or the cart's product the other's SKU, else create it by hand"
        ),
        false => format!(
            "the store has item {twin:?}, whose SKU looks the same or differs from it only in \
             case or accents: the cart's is \"{}\" (accents written as separate marks, \
             spaces and characters that do not show on screen are written out here); SKUs are \
             matched exactly, so if it is that item, give the store's item or the cart's \
             product the other's SKU, else create it by hand",
            written_out(sku)
        ),
    }
}

/// `sku` with each character that is not a visible letter, digit or ASCII written as its
/// code point (`\u{301}`), for [`twin_why`].
fn written_out(sku: &str) -> String {
    sku.chars()
        .map(|c| {
            match c.is_ascii() || (c.is_alphanumeric() && !crate::items::invisible_in_sku(c)) {
                true => c.to_string(),
                false => format!("\\u{{{:x}}}", c as u32),
            }
        })
        .collect()
}

/// A `Sku` cart's `count` of `product`, which has variants (rule 5): never applied, as it
/// cannot be split among them. `None` where it is what the store has the cart show (its
/// variants' total, net of what waits for the cart): in step, nothing to split. Otherwise why
/// not, with both counts, so the owner sees what moved there and adjusts the variants by
/// hand. (Until 2026-12-05 every such product was listed on every run, in step or not, with
/// no count: the one whose sale there was not imported was lost among them; from a review.)
fn sku_product(
    c: &rusqlite::Connection,
    pull: &Pull<'_>,
    product: &crate::items::Item,
    count: i64,
    corrected: bool,
) -> Result<Option<String>> {
    const WHY: &str = "a product's count cannot be split among its variants";
    let Some((_, published)) = published_now(c, pull.cart, product)? else {
        return Ok(Some(format!(
            "{WHY} (and its web fields say sync: false for this cart)"
        )));
    };
    let waiting = sql::stack_sum(c, pull.cart.id, product.id)?;
    if waiting.in_doubt > 0 {
        let why = in_doubt_why_of(c, pull.cart.id, product.id, waiting)?;
        return Ok(Some(format!("{WHY}; {why}")));
    }
    let kept = match corrected || !pull.kept_any.get() {
        true => None,
        false => sql::pulled_get(c, pull.cart.id, product.id)?,
    };
    // What the cart should show before the records still waiting for it (wide: a cart's
    // count can be any i64).
    let expected = i128::from(kept.unwrap_or(published)) - i128::from(waiting.sum);
    let moved = i128::from(count) - expected;
    Ok(match moved {
        0 => None,
        _ => Some(format!(
            "{WHY}: the cart counts {count} and should show {expected} (the total of its \
             variants' published counts{}), {} there; adjust the variants by hand",
            match waiting.sum {
                0 => String::new(),
                n => format!(", before the {n:+} still waiting to be sent to it"),
            },
            match moved > 0 {
                true => format!("{moved} more"),
                false => format!("{} fewer", -moved),
            }
        )),
    })
}

/// Why Send QOH sets a SKU to 0 on a cart (`Store::send_zeros`).
const NO_LONGER_SENT: &str = "deleted from the store, made a product with variants, or not \
     sent at the cart's real-time level now (no longer sent to this cart)";

/// Applies one pulled count inside the page's transaction.
fn apply_pulled(
    c: &rusqlite::Connection,
    pull: &Pull<'_>,
    sku: &str,
    count: i64,
    report: &mut GetReport,
) -> Result<()> {
    let Pull {
        cart,
        create_new,
        workstation,
        ..
    } = *pull;
    // A cart real-time changes go to is sent a correction with a change (below); one they
    // do not go to keeps its count until sent one, so where that count is not the one it
    // publishes, what it counted at this Get QOH is kept for the next.
    let corrected = pull.targets.iter().any(|(id, _)| *id == cart.id);
    // The cart's SKU is read as the host's are (trimmed), so a padded one finds its item
    // instead of failing the page's insert on the item it did not find.
    let trimmed = check_sku(sku).ok();
    let found = match trimmed {
        Some(s) => sql::item_find(c, s)?,
        None => None,
    };
    let Some(item) = found else {
        let in_range = (i32::MIN as i64..=i32::MAX as i64).contains(&count);
        match trimmed.filter(|_| in_range) {
            Some(_) if create_new && pull.linked > 0 => report.note_not_applied(NotApplied {
                sku: sku.to_owned(),
                why: not_created(pull.linked),
            }),
            // Made now, a variant of the cart's would be an item of its own for good.
            Some(s) if create_new && pull.undescribed.contains(s) => {
                pull.uncreated.set(pull.uncreated.get() + 1);
                report.note_not_applied(NotApplied {
                    sku: sku.to_owned(),
                    why: "not created: the cart did not say what it is (see the report's \
                          undescribed); run Get QOH again once it answers"
                        .into(),
                });
            }
            // The cart's count as it is, owed units included, as an existing item gets it.
            Some(s) if create_new => {
                let id = match create_item(c, pull, s, count)? {
                    Ok((id, product_made)) => {
                        if let Some(product) = product_made {
                            report.note_created(&product, 0);
                        }
                        id
                    }
                    Err(why) => {
                        report.note_not_applied(NotApplied {
                            sku: sku.to_owned(),
                            why,
                        });
                        return Ok(());
                    }
                };
                pull.shown.borrow_mut().push(id);
                // Backorders: the new item publishes 0.
                if count < 0 && !corrected {
                    sql::pulled_set(c, cart.id, id, count)?;
                    pull.kept_any.set(true);
                } else if count < 0 {
                    queue_correction(c, cart.id, id, -count, workstation)?;
                }
                report.note_created(s, count);
            }
            // Each reason named: "not a valid SKU or count" left the owner to guess which.
            _ if create_new => report.note_not_applied(NotApplied {
                sku: sku.to_owned(),
                why: match check_sku(sku) {
                    Err(e) => format!("not created: {}", e.message()),
                    Ok(_) => format!(
                        "not created: the cart's count {count} is outside the 32-bit range \
                         a QOH is kept in ({})",
                        crate::items::RANGE
                    ),
                },
            }),
            // Not one to make: a host makes the items of `unknown` itself, and would make
            // "CAFE\u{301}" beside the store's "CAFÉ" as `create_new` no longer does.
            Some(s) => match case_twin(c, pull, s)? {
                Some(twin) => report.note_not_applied(NotApplied {
                    sku: sku.to_owned(),
                    why: format!("not applied: {}", twin_why(&twin, s)),
                }),
                None => report.note_unknown(sku),
            },
            None => report.note_unknown(sku),
        }
        return Ok(());
    };
    if item.has_variants {
        let why = match cart.capabilities.realtime {
            Some(SyncLevel::Sku) => match sku_product(c, pull, &item, count, corrected)? {
                None => {
                    report.unchanged += 1;
                    return Ok(());
                }
                Some(why) => why,
            },
            // Nothing to take, nothing to tell: the store's product holds no units of its own,
            // and the cart counts none on it (a WooCommerce variable product, listed after its
            // variation made it a product, was listed as not applied on every run).
            _ if count == 0 => {
                report.unchanged += 1;
                return Ok(());
            }
            _ => format!(
                "the cart counts {count} on this product itself, but in the store a product \
                 with variants holds no stock of its own (its variants do), so the count is \
                 not applied; keep the stock on the cart's variants, or adjust the store's \
                 variants by hand"
            ),
        };
        report.note_not_applied(NotApplied {
            sku: sku.to_owned(),
            why,
        });
        return Ok(());
    }
    if item.parent_id.is_some() && cart.capabilities.realtime == Some(SyncLevel::Sku) {
        report.note_not_applied(NotApplied {
            sku: sku.to_owned(),
            why: "a SKU-level cart's count of a variant is not tracked".into(),
        });
        return Ok(());
    }
    // The cart may show the count of the item deleted before this one was made under its SKU
    // (a size dropped and taken up again), which is no sale or return of this one: until
    // 2026-12-05 the old 5 over a new item of 3 was taken as 2 units returned there.
    if pull.deleted_any && sql::deleted_on_cart_lists(c, cart.id, &item.sku)? {
        report.note_not_applied(NotApplied {
            sku: sku.to_owned(),
            why: "this cart may still show the count of an item of this SKU deleted from the \
                  store before (or of it before it had variants), not this item's: run Send QOH \
                  to the cart, which sets that to 0 and then sends this item's count"
                .into(),
        });
        return Ok(());
    }
    let wf = sql::web_fields_get(c, cart.id, item.id)?;
    if !wf.sync {
        // Send QOH never shows the cart this item, so its count there is not the store's.
        report.note_not_applied(NotApplied {
            sku: sku.to_owned(),
            why: "not synchronised with this cart (its web fields say sync: false)".into(),
        });
        return Ok(());
    }
    if let Some(since) = pull.imported_since {
        if sql::ledger_from_cart_for_item_since(c, cart.id, item.id, since)? {
            // The cart may have counted it or not: applying the count could give back an
            // order the import took off (an oversell), or take a return off twice.
            report.note_not_applied(NotApplied {
                sku: sku.to_owned(),
                why: "an order or return from this cart was imported while its count was \
                      read, which may or may not include it; run Get QOH again"
                    .into(),
            });
            return Ok(());
        }
    }
    let waiting = sql::stack_sum(c, cart.id, item.id)?;
    if waiting.in_doubt > 0 {
        // The cart's count may or may not include them: adding them could take a sale off
        // twice, leaving them out could lose one.
        report.note_not_applied(NotApplied {
            sku: sku.to_owned(),
            why: in_doubt_why_of(c, cart.id, item.id, waiting)?,
        });
        return Ok(());
    }
    let pending = waiting.sum;
    let kept = match corrected || !pull.kept_any.get() {
        true => None,
        false => sql::pulled_get(c, cart.id, item.id)?,
    };
    // The cart's view differs from what it was shown (or last counted) by what happened
    // there: apply that difference. (Inverting the published count would lose QOH held back
    // by a cap: QOH 100 capped at 20, one web sale, must give 99, not 19; taking the
    // difference from the published count again at the next Get QOH would give 98.) A cart
    // last at or below 0 (shown the floor of 0 whatever the QOH, or counting backorders)
    // that now counts above 0 was set there (a stock count), measured from QOH less the
    // buffer where that is lower (an item oversold to -5 that the cart counts 3 becomes 3,
    // not -2; QOH 2 behind a buffer of 5 that the cart counts 10 becomes 15, which publishes
    // the cart's 10). Any other move is sales or returns there, taken as they are
    // (backorders taken off, and given back when cancelled, never the shop's own oversell).
    // "Last" is what the cart last had, before the records still waiting for it: a cart
    // shown 3 that has not had the -3 taking it to the floor was never at 0, and its 4 is a
    // return, not a count set there.
    let shown = wf.published(item.qoh);
    let last = kept.unwrap_or(shown);
    let Some((target, delta, moved)) = count.checked_add(pending).and_then(|target| {
        let from = match target > 0 && last.checked_sub(pending)? <= 0 {
            true => last.min(item.qoh.saturating_sub(wf.buffer)),
            false => last,
        };
        Some((
            target,
            target.checked_sub(from)?,
            target.checked_sub(shown)?,
        ))
    }) else {
        report.note_not_applied(NotApplied {
            sku: sku.to_owned(),
            why: format!("the cart's count {count} is out of range"),
        });
        return Ok(());
    };
    if delta == 0 {
        report.unchanged += 1;
        pull.shown.borrow_mut().push(item.id);
        return Ok(());
    }
    // The move may be the cart's reads trailing a change it took, not a sale or return there.
    if let Some(at) = pull.recent.get(&item.id).copied().or(pull.any_since) {
        report.note_not_applied(NotApplied {
            sku: sku.to_owned(),
            why: read_too_soon(pull.lag, at),
        });
        return Ok(());
    }
    let change = Delta::new(delta).map(|d| {
        Adjustment::new(sku, d, Reason::Other)
            .origin_cart(cart.id)
            .origin_moved(moved)
    });
    match change
        .and_then(|change| apply_change(c, &item, &change, workstation, &pull.targets, &mut None))
    {
        Ok(_) => report.note_updated(&item.sku, item.qoh, item.qoh + delta),
        // (The refusal speaks of a delta or QOH the owner never made: the count is named.)
        Err(e) if e.kind() == ErrorKind::InvalidArgument => {
            report.note_not_applied(NotApplied {
                sku: sku.to_owned(),
                why: format!("the cart's count {count} is out of range: {}", e.message()),
            });
            return Ok(());
        }
        Err(e) => return Err(e),
    }
    // The store knows what the cart shows now: what it publishes, or the count kept here
    // where that is not it. (A cart real-time changes go to was queued the correction that
    // makes them the same.)
    pull.shown.borrow_mut().push(item.id);
    if !corrected {
        if target != wf.published(item.qoh + delta) {
            sql::pulled_set(c, cart.id, item.id, target)?;
            pull.kept_any.set(true);
        } else if kept.is_some() {
            sql::pulled_forget(c, cart.id, item.id)?;
        }
    }
    Ok(())
}

pub(crate) fn describe(o: Option<&SendOutcome>) -> String {
    match o {
        None => "the cart gave no result for this item".into(),
        Some(SendOutcome::Applied { .. }) => "applied".into(),
        Some(SendOutcome::Retry { message, .. }) => format!("not applied, try again: {message}"),
        Some(SendOutcome::Failed { message }) => message.clone(),
        Some(SendOutcome::Conflict { current }) => format!("conflict: the cart shows {current}"),
        Some(SendOutcome::Uncertain { message }) => format!("uncertain: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The preflight holds no more warnings than it returns: of 100,000 found (a catalogue
    /// of that size on a cart at the wrong URL), never more than the first 1,000, and the
    /// rest only as a count per kind for the `more` warning, as the whole list cut at the
    /// end gave. Until 2026-12-05 it held all 100,000 until the end.
    #[test]
    fn a_preflight_holds_no_more_warnings_than_it_returns() {
        let mut found = CappedWarnings::default();
        let mut peak = 0;
        for i in 0..100_000 {
            found.push(Warning {
                kind: if i % 10 == 9 { "drift" } else { "unmapped" },
                sku: Some(format!("S{i:06}")),
                message: String::new(),
                cart_qoh: None,
                expected: None,
            });
            peak = peak.max(found.listed.len());
        }
        assert_eq!(peak, REPORT_ITEMS_MAX);
        assert!(found.listed.capacity() < 2 * REPORT_ITEMS_MAX);
        let list = found.into_list();
        assert_eq!(list.len(), REPORT_ITEMS_MAX + 1);
        let skus: Vec<String> = (0..REPORT_ITEMS_MAX).map(|i| format!("S{i:06}")).collect();
        assert!(list[..REPORT_ITEMS_MAX]
            .iter()
            .zip(&skus)
            .all(|(w, s)| w.sku.as_ref() == Some(s)));
        let more = &list[REPORT_ITEMS_MAX];
        assert_eq!((more.kind, &more.sku), ("more", &None));
        assert!(
            more.message
                .starts_with("99000 more warnings not listed here (89100 unmapped, 9900 drift)"),
            "{}",
            more.message
        );
    }

    /// A hold outlives its first deadline while the run goes on (a call to the cart may take
    /// longer than the hold), and is given back when the run ends.
    #[test]
    fn a_cart_hold_is_kept_while_the_run_lasts_and_released_after() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store.db")).unwrap();
        let id = store
            .upsert_cart_json(
                r#"{"name":"A","adapter":"http_json","url":"http://127.0.0.1:9/",
                    "capabilities":{"send":true,"get":true,"realtime":"none"}}"#,
            )
            .unwrap();
        let cart = store.cart(id).unwrap();
        let held_until = || store.read(|c| sql::cart_held_until(c, id)).unwrap();
        let hold = store.hold_cart_for(&cart, 300, true).unwrap();
        let first = held_until();
        // The run's one long call: the clock passes the hold's first deadline.
        while now_ms() < first + 300 {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            held_until() > now_ms(),
            "the hold lapsed while the run went on"
        );
        drop(hold);
        assert!(held_until() <= now_ms(), "released when the run ended");
    }
}
