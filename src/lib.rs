//! # inventory_sync
//!
//! Keeps an order manager's quantity on hand (QOH) in step with every web cart a store sells
//! through. One store data file (SQLite) holds items and their variants, carts, parameters,
//! the ledger of QOH changes and the *web stack*: the durable outbox of changes waiting for
//! each cart. Every QOH change goes through [`Store::adjust_qoh`], which writes, in the same
//! transaction, one stack record per cart that syncs in real time; the stack controller
//! ([`Store::run_stack`], or [`Store::start_controller`] in the background) drains it with
//! idempotency keys, retries, back-off and bypass. *Send QOH* and *Get QOH*
//! ([`Store::send_qoh`], [`Store::get_qoh`]) push or pull absolute counts by hand.
//!
//! ```no_run
//! use inventory_sync::{Adjustment, Delta, Reason, Store};
//! # fn main() -> inventory_sync::Result<()> {
//! let store = Store::open("store.db")?;
//! let web = store.upsert_cart_json(r#"{"name":"Web","adapter":"http_json",
//!     "url":"http://127.0.0.1:8123/","token":"env:WEB_TOKEN",
//!     "capabilities":{"send":true,"get":true,"realtime":"attribute"}}"#)?;
//! store.upsert_item_json(r#"{"sku":"TEE-M","qoh":10}"#)?;
//! // The cart's counts first: each real-time change moves the cart from the count it shows.
//! store.send_qoh(web, Default::default(), None)?;
//! store.set_param("SynchQOH", "true")?;
//! store.set_cart_sync(web, true)?;
//! store.adjust_qoh(&Adjustment::new("TEE-M", Delta::new(-2)?, Reason::PosSale))?;
//! let report = store.run_stack(None)?;
//! println!("sent {} records, {} remain", report.sent, report.remaining);
//! # Ok(()) }
//! ```
//!
//! Every call that can fail returns [`Result`] (a few that cannot, such as
//! [`Store::stop_controller`] or [`Store::controller_status`], return their value alone): an
//! error whose kind [`ErrorKind::is_retryable`] may be made again later as it was; the others
//! need the input, the store's state or the owner to change first.

pub mod adapter;
pub mod carts;
pub mod controller;
#[cfg(feature = "emulator")]
pub mod emulator;
mod error;
pub mod ffi;
pub mod items;
pub mod manual;
pub mod params;
pub mod secret;
pub mod stack;
mod store;

// What an implementation of `CartAdapter` names, at the root beside the trait (the module
// paths stay): an integrator writing one should not have to learn where each type lives.
pub use adapter::{
    CartAdapter, CartError, CataloguePage, DeltaSend, QuantityPage, QuantitySet, SendOutcome,
    UpdateMode,
};
pub use carts::{Capabilities, Cart, CartId, CartSaved, SyncLevel, WebFields};
pub use controller::{CartReport, ControllerStatus, RunReport, StackController};
pub use error::{Error, ErrorKind, Result};
pub use items::{AdjustOutcome, Adjustment, Delta, Item, ItemId, Reason};
pub use manual::{DriftItem, DriftReport, GetOptions, GetReport, SendOptions, SendReport, Warning};
pub use params::{Settings, StackMode};
pub use stack::{StackState, WebStack};
pub use store::{Durability, OpenOptions, Store};

/// The README's Rust example, compiled by `cargo test` (its other blocks are not Rust), so
/// the first code a user copies keeps building.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// `n` and `noun`, plural unless `n` is 1 ("1 record", "3 records"): what an operator reads.
pub(crate) fn counted(n: impl Into<i64>, noun: &str) -> String {
    let n = n.into();
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}
