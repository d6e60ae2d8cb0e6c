//! Every SQL statement of the library, as prepared statements with bound parameters.
//! Functions take the connection (or transaction) they run on; transactions are the callers'.

use crate::carts::{Capabilities, Cart, CartId, CartSpec, SyncLevel, WebFields};
use crate::error::{Error, Result};
use crate::items::{Item, ItemId, Reason};
use crate::stack::{CartRunState, LeaseScope, LeasedSend, NewRecord, StackState, Transition};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::{json, Value};

// ---- parameters -------------------------------------------------------------------------

pub(crate) fn params_all(c: &Connection) -> Result<Vec<(String, String)>> {
    let mut st = c.prepare_cached("SELECT name, value FROM params")?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn param_get(c: &Connection, name: &str) -> Result<Option<String>> {
    Ok(
        c.prepare_cached("SELECT value FROM params WHERE name = ?1")?
            .query_row([name], |r| r.get(0))
            .optional()?,
    )
}

pub(crate) fn param_set(c: &Connection, name: &str, value: &str) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO params(name, value) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET value = excluded.value",
    )?
    .execute([name, value])?;
    Ok(())
}

// ---- carts ------------------------------------------------------------------------------

/// A cart's columns, as a macro so the statements using them are constants: a statement
/// text built per call is formatted and hashed again by the statement cache every time.
macro_rules! cart_cols {
    () => {
        "id, name, adapter, config, cap_send, cap_get, realtime, max_items_to_send, \
         retains_basket, sync_on, config_version"
    };
}

fn cart_row(r: &Row) -> rusqlite::Result<Cart> {
    let config: String = r.get(3)?;
    let realtime: String = r.get(6)?;
    let config = match serde_json::from_str::<Value>(&config) {
        Ok(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    Ok(Cart {
        id: r.get(0)?,
        name: r.get(1)?,
        adapter: r.get(2)?,
        config,
        capabilities: Capabilities {
            send: r.get(4)?,
            get: r.get(5)?,
            realtime: SyncLevel::parse_opt(&realtime).flatten(),
        },
        max_items_to_send: r.get(7)?,
        retains_basket: r.get(8)?,
        sync_on: r.get(9)?,
        config_version: r.get(10)?,
    })
}

/// The parameter row that keeps the highest cart id ever given ([`cart_delete`] writes it):
/// not a setting, so [`crate::Store::set_param`] neither takes nor shows it.
const CART_IDS_GIVEN: &str = "CartIdsGiven";

/// Defines a cart by name, or updates it. A new cart gets the id after every id given
/// before, deleted carts' too: SQLite would give a deleted newest cart's id again, and
/// whatever names a cart by id (a controller's adapter, built from the old cart's URL and
/// credentials and cached by id and config version; the ledger's origin carts) would take
/// the new cart for the old one. An update with `resumes` (its adapter or settings changed)
/// clears the cart's pause and back-off, and the refusals its groups met (`refused`): they
/// were the old cart's answers, and a group marked so takes the item's later groups into it,
/// which a cart now keyed must not (a change it may have applied would go again under a new
/// key). The next refusal marks a group again.
pub(crate) fn cart_upsert(c: &Connection, s: &CartSpec, resumes: bool) -> Result<CartId> {
    let config = Value::Object(s.config.clone()).to_string();
    let realtime = s.capabilities.realtime.map_or("none", SyncLevel::as_str);
    let id: CartId = c
        .prepare_cached(
            "INSERT INTO carts(id, name, adapter, config, cap_send, cap_get, realtime,
                           max_items_to_send, retains_basket)
         VALUES (1 + MAX(COALESCE((SELECT MAX(id) FROM carts), 0),
                         COALESCE((SELECT CAST(value AS INTEGER) FROM params WHERE name = ?9), 0)),
                 ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(name) DO UPDATE SET adapter = excluded.adapter, config = excluded.config,
             cap_send = excluded.cap_send, cap_get = excluded.cap_get,
             realtime = excluded.realtime, max_items_to_send = excluded.max_items_to_send,
             retains_basket = excluded.retains_basket, config_version = config_version + 1,
             settings_version = CASE WHEN ?10 THEN config_version + 1 ELSE settings_version END,
             sync_on = CASE WHEN excluded.realtime = 'none' THEN 0 ELSE sync_on END,
             backoff_until = CASE WHEN ?10 THEN 0 ELSE backoff_until END,
             outage_step = CASE WHEN ?10 THEN 0 ELSE outage_step END,
             cart_error = CASE WHEN ?10 THEN NULL ELSE cart_error END,
             rate_limited_until = CASE WHEN ?10 THEN 0 ELSE rate_limited_until END,
             credentials_paused_until = CASE WHEN ?10 THEN 0 ELSE credentials_paused_until END
         RETURNING id",
        )?
        .query_row(
            params![
                s.name,
                s.adapter,
                config,
                s.capabilities.send,
                s.capabilities.get,
                realtime,
                s.max_items_to_send,
                s.retains_basket,
                CART_IDS_GIVEN,
                resumes
            ],
            |r| r.get(0),
        )?;
    if resumes {
        c.prepare_cached("UPDATE send_groups SET refused = 0 WHERE cart_id = ?1 AND refused = 1")?
            .execute([id])?;
    }
    Ok(id)
}

pub(crate) fn cart_by_id(c: &Connection, id: CartId) -> Result<Cart> {
    c.prepare_cached(concat!(
        "SELECT ",
        cart_cols!(),
        " FROM carts WHERE id = ?1"
    ))?
    .query_row([id], cart_row)
    .optional()?
    .ok_or_else(|| Error::not_found(format!("cart {id} does not exist")))
}

/// Every cart's id (a stack record's cart always exists: a cart with records cannot be
/// deleted, so what is asked of every cart is asked of the whole stack).
pub(crate) fn cart_ids(c: &Connection) -> Result<Vec<CartId>> {
    Ok(c.prepare_cached("SELECT id FROM carts")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn carts_all(c: &Connection) -> Result<Vec<Cart>> {
    let mut st = c.prepare_cached(concat!("SELECT ", cart_cols!(), " FROM carts ORDER BY id"))?;
    let rows = st.query_map([], cart_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Which carts a QOH change is queued for (a condition on `carts`).
macro_rules! targets_where {
    () => {
        "sync_on = 1 AND realtime <> 'none'
           AND EXISTS (SELECT 1 FROM params WHERE name = 'SynchQOH' AND value = 'true')"
    };
}

/// The carts a QOH change is queued for now, with their level: Synchronize Inventory on and
/// real-time capable, while the global SynchQOH parameter is on (else none). One statement:
/// every `adjust_qoh` reads it; Get QOH once a page.
pub(crate) fn realtime_targets(c: &Connection) -> Result<Vec<(CartId, SyncLevel)>> {
    let mut st = c.prepare_cached(concat!(
        "SELECT id, realtime FROM carts WHERE ",
        targets_where!(),
        " ORDER BY id"
    ))?;
    let rows = st.query_map([], |r| {
        let level = SyncLevel::parse_opt(r.get_ref(1)?.as_str()?).flatten();
        Ok((r.get(0)?, level.unwrap_or(SyncLevel::Attribute)))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn cart_set_sync(c: &Connection, id: CartId, on: bool) -> Result<()> {
    c.prepare_cached("UPDATE carts SET sync_on = ?2 WHERE id = ?1")?
        .execute(params![id, on])?;
    Ok(())
}

/// Deletes a cart; its web fields go with it (`ON DELETE CASCADE`, foreign keys are on for
/// every connection).
pub(crate) fn cart_delete(c: &Connection, id: CartId) -> Result<()> {
    c.prepare_cached("DELETE FROM carts WHERE id = ?1")?
        .execute([id])?;
    c.prepare_cached(
        "INSERT INTO params(name, value) VALUES (?1, CAST(?2 AS TEXT))
         ON CONFLICT(name) DO UPDATE
             SET value = CAST(MAX(CAST(value AS INTEGER), ?2) AS TEXT)",
    )?
    .execute(params![CART_IDS_GIVEN, id])?;
    c.prepare_cached("DELETE FROM stack_backlog WHERE cart_id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Removes every record of `cart` from the stack, whatever its state (waiting, leased
/// ahead, bypassed, uncertain), and the cart's send groups and backlog count, each record
/// logged as `discarded` with `response`; returns how many. For
/// [`Store::retire_cart`](crate::Store::retire_cart), which refused first while a lease of
/// the cart is live ([`live_leases`]) or a manual run holds it: a lapsed lease's late
/// answer then settles nothing, its token gone with its group. Other carts' records stay.
pub(crate) fn stack_discard_cart(
    c: &Connection,
    cart: CartId,
    response: &str,
    now: i64,
) -> Result<usize> {
    c.prepare_cached(&format!(
        "INSERT INTO stack_log(record_id, cart_id, item_id, delta, outcome, group_key, response, at)
         SELECT s.id, s.cart_id, s.item_id, s.delta, 'discarded', {}, ?2, ?3
         FROM stack s LEFT JOIN send_groups g ON g.id = s.group_id
         WHERE s.cart_id = ?1 ORDER BY s.id",
        record_key_sql()
    ))?
    .execute(params![cart, response, now])?;
    stack_high_raise(c)?;
    let n = c
        .prepare_cached("DELETE FROM stack WHERE cart_id = ?1")?
        .execute([cart])?;
    c.prepare_cached("DELETE FROM send_groups WHERE cart_id = ?1")?
        .execute([cart])?;
    c.prepare_cached("DELETE FROM stack_backlog WHERE cart_id = ?1")?
        .execute([cart])?;
    backlog_clamp(c)?;
    Ok(n)
}

/// Refuses a cart id that does not exist, reading nothing else of it.
pub(crate) fn cart_exists(c: &Connection, id: CartId) -> Result<()> {
    c.prepare_cached("SELECT 1 FROM carts WHERE id = ?1")?
        .query_row([id], |_| Ok(()))
        .optional()?
        .ok_or_else(|| Error::not_found(format!("cart {id} does not exist")))
}

pub(crate) fn cart_run_state(c: &Connection, id: CartId) -> Result<CartRunState> {
    Ok(cart_run_state_and_settings(c, id)?.0)
}

/// A cart's controller state, and the saving from which its adapter and settings stand
/// (schema 16).
pub(crate) fn cart_run_state_and_settings(
    c: &Connection,
    id: CartId,
) -> Result<(CartRunState, i64)> {
    c.prepare_cached(
        "SELECT backoff_until, outage_step, cart_error, rate_limited_until, settings_version,
                credentials_paused_until
         FROM carts WHERE id = ?1",
    )?
    .query_row([id], |r| {
        Ok((
            CartRunState {
                backoff_until: r.get(0)?,
                outage_step: r.get(1)?,
                cart_error: r.get(2)?,
                rate_limited_until: r.get(3)?,
                credentials_paused_until: r.get(5)?,
            },
            r.get(4)?,
        ))
    })
    .optional()?
    .ok_or_else(|| Error::not_found(format!("cart {id} does not exist")))
}

/// [`WebStack::set_cart_state`](crate::stack::WebStack::set_cart_state): kept unless the
/// cart's adapter or settings were changed after `config_version` (schema 16).
pub(crate) fn cart_set_run_state(
    c: &Connection,
    id: CartId,
    config_version: i64,
    s: &CartRunState,
) -> Result<()> {
    c.prepare_cached(
        "UPDATE carts SET backoff_until = ?2, outage_step = ?3, cart_error = ?4,
                          rate_limited_until = ?5, credentials_paused_until = ?7
         WHERE id = ?1 AND settings_version <= ?6",
    )?
    .execute(params![
        id,
        s.backoff_until,
        s.outage_step,
        s.cart_error,
        s.rate_limited_until,
        config_version,
        s.credentials_paused_until
    ])?;
    Ok(())
}

/// Writes a wait the cart named to a manual run (`answer`, until `until`), as a controller
/// writes one it meets: no controller sends to the cart before then, and no other answer
/// lifts it. Kept unless the cart's adapter or settings were changed after `config_version`.
pub(crate) fn cart_rate_limited(
    c: &Connection,
    id: CartId,
    config_version: i64,
    until: i64,
    answer: &str,
) -> Result<()> {
    c.prepare_cached(
        "UPDATE carts SET rate_limited_until = MAX(rate_limited_until, ?3),
                          backoff_until = MAX(backoff_until, ?3), cart_error = ?4
         WHERE id = ?1 AND settings_version <= ?2",
    )?
    .execute(params![id, config_version, until, answer])?;
    Ok(())
}

/// Ends a controller's pause of the cart for refused credentials, which a manual run saw
/// end at `now` when the cart answered it: the back-off falls to a wait the cart asked for,
/// if one is left, and an outage is over (the cart answered). Kept unless the cart's adapter
/// or settings were changed after `config_version` (a save ends the pause itself).
pub(crate) fn cart_pause_end(
    c: &Connection,
    id: CartId,
    config_version: i64,
    now: i64,
) -> Result<()> {
    c.prepare_cached(
        "UPDATE carts SET credentials_paused_until = 0, outage_step = 0,
                          backoff_until = rate_limited_until,
                          cart_error = CASE WHEN rate_limited_until > ?3 THEN cart_error END
         WHERE id = ?1 AND credentials_paused_until > ?3 AND settings_version <= ?2",
    )?
    .execute(params![id, config_version, now])?;
    Ok(())
}

/// Holds a cart for a manual Send/Get QOH by `owner` until `until` (or renews the hold): the
/// controller leases nothing of it meanwhile. False while another owner's hold is live.
pub(crate) fn cart_hold(
    c: &Connection,
    id: CartId,
    owner: &str,
    now: i64,
    until: i64,
) -> Result<bool> {
    Ok(c.prepare_cached(
        "UPDATE carts SET manual_until = ?4, manual_owner = ?2
             WHERE id = ?1 AND (manual_until <= ?3 OR manual_owner = ?2)",
    )?
    .execute(params![id, owner, now, until])?
        > 0)
}

/// Ends `owner`'s hold on a cart (another owner's hold is left alone).
pub(crate) fn cart_release(c: &Connection, id: CartId, owner: &str) -> Result<()> {
    c.prepare_cached(
        "UPDATE carts SET manual_until = 0, manual_owner = NULL WHERE id = ?1 AND manual_owner = ?2",
    )?
    .execute(params![id, owner])?;
    Ok(())
}

/// How the owner of a hold taken by a run that sends counts (Send QOH, a drift repair)
/// begins.
pub(crate) const SENDER: &str = "send:";

/// Whether a run that sends counts holds `cart` now.
pub(crate) fn cart_held_by_sender(c: &Connection, cart: CartId, now: i64) -> Result<bool> {
    Ok(c.prepare_cached(
        "SELECT 1 FROM carts WHERE id = ?1 AND manual_until > ?2
                              AND substr(manual_owner, 1, length(?3)) = ?3",
    )?
    .query_row(params![cart, now, SENDER], |_| Ok(()))
    .optional()?
    .is_some())
}

/// When a manual Send/Get QOH holds the cart until (0 when none does).
pub(crate) fn cart_held_until(c: &Connection, id: CartId) -> Result<i64> {
    Ok(
        c.prepare_cached("SELECT manual_until FROM carts WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?
            .unwrap_or(0),
    )
}

// ---- web fields -------------------------------------------------------------------------

fn web_fields_row(r: &Row, at: usize) -> rusqlite::Result<WebFields> {
    Ok(WebFields {
        remote_ref: r.get(at)?,
        sync: r.get::<_, Option<bool>>(at + 1)?.unwrap_or(true),
        buffer: r.get::<_, Option<i64>>(at + 2)?.unwrap_or(0),
        max_publish: r.get(at + 3)?,
    })
}

/// The SKUs of the items linked to `cart` by a `remote_ref`, in order.
pub(crate) fn linked_by_ref(c: &Connection, cart: CartId) -> Result<Vec<String>> {
    Ok(c.prepare_cached(
        "SELECT i.sku FROM web_fields w JOIN items i ON i.id = w.item_id
         WHERE w.cart_id = ?1 AND TRIM(COALESCE(w.remote_ref, '')) <> '' ORDER BY i.sku",
    )?
    .query_map([cart], |r| r.get(0))?
    .collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn web_fields_get(c: &Connection, cart: CartId, item: ItemId) -> Result<WebFields> {
    Ok(c.prepare_cached(
        "SELECT remote_ref, sync, buffer, max_publish FROM web_fields
             WHERE cart_id = ?1 AND item_id = ?2",
    )?
    .query_row([cart, item], |r| web_fields_row(r, 0))
    .optional()?
    .unwrap_or_default())
}

pub(crate) fn web_fields_put(
    c: &Connection,
    cart: CartId,
    item: ItemId,
    w: &WebFields,
) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO web_fields(cart_id, item_id, remote_ref, sync, buffer, max_publish)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(cart_id, item_id) DO UPDATE SET remote_ref = excluded.remote_ref,
             sync = excluded.sync, buffer = excluded.buffer, max_publish = excluded.max_publish",
    )?
    .execute(params![
        cart,
        item,
        w.remote_ref,
        w.sync,
        w.buffer,
        w.max_publish
    ])?;
    Ok(())
}

/// (SKU, reference) of every item given a reference of `cart`'s own.
pub(crate) fn web_fields_refs(c: &Connection, cart: CartId) -> Result<Vec<(String, String)>> {
    let rows = c
        .prepare_cached(
            "SELECT i.sku, w.remote_ref FROM web_fields w JOIN items i ON i.id = w.item_id
             WHERE w.cart_id = ?1 AND w.remote_ref IS NOT NULL ORDER BY i.sku",
        )?
        .query_map([cart], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// The SKU of an item other than `item` whose reference on `cart` is spelled one of the ways
/// in `spellings`, if any (`registry::remote_ref_spellings`).
pub(crate) fn web_fields_ref_holder(
    c: &Connection,
    cart: CartId,
    item: ItemId,
    spellings: &[String],
) -> Result<Option<String>> {
    let mut st = c.prepare_cached(
        "SELECT i.sku FROM web_fields w JOIN items i ON i.id = w.item_id
         WHERE w.cart_id = ?1 AND w.remote_ref = ?2 AND w.item_id <> ?3 LIMIT 1",
    )?;
    for r in spellings {
        if let Some(sku) = st
            .query_row(params![cart, r, item], |r| r.get(0))
            .optional()?
        {
            return Ok(Some(sku));
        }
    }
    Ok(None)
}

/// Forgets the cart's own references of every item on `cart` (its adapter changed).
pub(crate) fn web_fields_clear_refs(c: &Connection, cart: CartId) -> Result<()> {
    c.prepare_cached("UPDATE web_fields SET remote_ref = NULL WHERE cart_id = ?1")?
        .execute([cart])?;
    Ok(())
}

/// The web fields of `item` on every cart that has any.
pub(crate) fn web_fields_of_item(c: &Connection, item: ItemId) -> Result<Vec<(CartId, WebFields)>> {
    let mut st = c.prepare_cached(
        "SELECT cart_id, remote_ref, sync, buffer, max_publish FROM web_fields WHERE item_id = ?1",
    )?;
    let rows = st.query_map([item], |r| Ok((r.get(0)?, web_fields_row(r, 1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

// ---- counts pulled (schema 8) -------------------------------------------------------------

/// What `cart` counted for `item` (with its waiting records) at its last Get QOH, kept only
/// where that was not the count it publishes.
pub(crate) fn pulled_get(c: &Connection, cart: CartId, item: ItemId) -> Result<Option<i64>> {
    Ok(
        c.prepare_cached("SELECT count FROM pulled_counts WHERE cart_id = ?1 AND item_id = ?2")?
            .query_row([cart, item], |r| r.get(0))
            .optional()?,
    )
}

/// Nothing for an item deleted meanwhile (another workstation deleted it while a manual run's
/// request was on its way): the count went with the item.
pub(crate) fn pulled_set(c: &Connection, cart: CartId, item: ItemId, count: i64) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO pulled_counts(cart_id, item_id, count)
         SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM items WHERE id = ?2)
         ON CONFLICT(cart_id, item_id) DO UPDATE SET count = excluded.count",
    )?
    .execute(params![cart, item, count])?;
    Ok(())
}

/// Forgets what `cart` counted for `item`: it was sent the item's count since.
pub(crate) fn pulled_forget(c: &Connection, cart: CartId, item: ItemId) -> Result<()> {
    c.prepare_cached("DELETE FROM pulled_counts WHERE cart_id = ?1 AND item_id = ?2")?
        .execute([cart, item])?;
    Ok(())
}

/// Forgets every count kept for `cart`, which items it was shown, and which deleted ones it
/// may show: it names another shop.
pub(crate) fn pulled_forget_cart(c: &Connection, cart: CartId) -> Result<()> {
    c.prepare_cached("DELETE FROM pulled_counts WHERE cart_id = ?1")?
        .execute([cart])?;
    c.prepare_cached("DELETE FROM counts_shown WHERE cart_id = ?1")?
        .execute([cart])?;
    c.prepare_cached("UPDATE carts SET counts_shown_upto = 0 WHERE id = ?1")?
        .execute([cart])?;
    c.prepare_cached("DELETE FROM deleted_on_cart WHERE cart_id = ?1")?
        .execute([cart])?;
    Ok(())
}

/// Notes that `cart` may still show `sku`, an item being deleted or given its first variant
/// (no longer sent to an `Attribute` cart), or one the cart's new real-time level is not sent
/// (`items::level_changed`), with the cart's own reference for it: its next
/// Send QOH sets it to 0 (schema 19).
pub(crate) fn deleted_on_cart_note(
    c: &Connection,
    cart: CartId,
    sku: &str,
    remote_ref: Option<&str>,
) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO deleted_on_cart(cart_id, sku, remote_ref) VALUES (?1, ?2, ?3)
         ON CONFLICT(cart_id, sku) DO UPDATE SET remote_ref = excluded.remote_ref",
    )?
    .execute(params![cart, sku, remote_ref])?;
    Ok(())
}

/// The condition on a `deleted_on_cart d` row that [`deleted_on_cart`] and
/// [`deleted_on_cart_lists`] share: no item's web fields name its reference on the cart, but
/// for the noted item's own where its count is not sent at the cart's level.
const STILL_SHOWN: &str = "NOT EXISTS (SELECT 1 FROM web_fields w JOIN items i ON i.id = w.item_id
                           WHERE w.cart_id = d.cart_id AND w.remote_ref = d.remote_ref
                             AND NOT (i.sku = d.sku AND (EXISTS
                                      (SELECT 1 FROM items v WHERE v.parent_id = i.id)
                                      OR (i.parent_id IS NOT NULL AND EXISTS
                                          (SELECT 1 FROM carts k WHERE k.id = d.cart_id
                                             AND k.realtime = 'sku')))))";

/// The deleted items `cart` may still show (and products given variants, and what its old
/// real-time level showed it that its level now does not), by SKU, with its reference for
/// each; not those whose reference an item's web fields name on the cart (that item's count is
/// what the cart is sent there now, and one taken off the cart keeps its own), but for the
/// noted item's own where its count is not sent at the cart's level (a product with variants;
/// a variant on a `Sku` cart). An item
/// holding the SKU again is sent its count after the 0 (Send QOH sends the zeros first).
pub(crate) fn deleted_on_cart(
    c: &Connection,
    cart: CartId,
) -> Result<Vec<(String, Option<String>)>> {
    Ok(c.prepare_cached(&format!(
        "SELECT d.sku, d.remote_ref FROM deleted_on_cart d
         WHERE d.cart_id = ?1 AND {STILL_SHOWN}
         ORDER BY d.sku"
    ))?
    .query_map([cart], |r| Ok((r.get(0)?, r.get(1)?)))?
    .collect::<rusqlite::Result<_>>()?)
}

/// Whether [`deleted_on_cart`] lists `sku`: the cart may still show the count of a deleted item
/// of that SKU (or of it before it was a product with variants), which its next Send QOH sets
/// to 0. Get QOH applies no count of it to an item holding the SKU now.
pub(crate) fn deleted_on_cart_lists(c: &Connection, cart: CartId, sku: &str) -> Result<bool> {
    Ok(c.prepare_cached(&format!(
        "SELECT 1 FROM deleted_on_cart d
         WHERE d.cart_id = ?1 AND d.sku = ?2 AND {STILL_SHOWN}"
    ))?
    .query_row(params![cart, sku], |_| Ok(()))
    .optional()?
    .is_some())
}

/// Whether [`deleted_on_cart`] lists any SKU of `cart`.
pub(crate) fn deleted_on_cart_any(c: &Connection, cart: CartId) -> Result<bool> {
    Ok(
        c.prepare_cached("SELECT EXISTS (SELECT 1 FROM deleted_on_cart WHERE cart_id = ?1)")?
            .query_row([cart], |r| r.get(0))?,
    )
}

/// Whether `cart` may still show deleted `sku` (Get QOH creates no item of it).
pub(crate) fn deleted_on_cart_has(c: &Connection, cart: CartId, sku: &str) -> Result<bool> {
    Ok(
        c.prepare_cached("SELECT 1 FROM deleted_on_cart WHERE cart_id = ?1 AND sku = ?2")?
            .query_row(params![cart, sku], |_| Ok(()))
            .optional()?
            .is_some(),
    )
}

/// Forgets that `cart` may show deleted `sku`: it was set to 0 there, or the cart refused it.
pub(crate) fn deleted_on_cart_forget(c: &Connection, cart: CartId, skus: &[&str]) -> Result<()> {
    let mut st = c.prepare_cached("DELETE FROM deleted_on_cart WHERE cart_id = ?1 AND sku = ?2")?;
    for sku in skus {
        st.execute(params![cart, sku])?;
    }
    Ok(())
}

/// Notes that `cart`, whose reads trail its writes, took 0 for the deleted items `skus` at
/// `now` (schema 22), for [`zeroed_since`] (a cart that declares no lag notes its one time,
/// [`counts_set_last_note`]). Rows older than an hour and [`LOG_SKEW`] go as the cart's next
/// ones come.
pub(crate) fn zeroed_on_cart_note(
    c: &Connection,
    cart: CartId,
    skus: &[&str],
    now: i64,
) -> Result<()> {
    if skus.is_empty() {
        return Ok(());
    }
    c.prepare_cached("DELETE FROM zeroed_on_cart WHERE cart_id = ?1 AND at < ?2")?
        .execute(params![cart, now - 3_600_000 - LOG_SKEW])?;
    let mut note = c.prepare_cached(
        "INSERT INTO zeroed_on_cart(cart_id, sku, at) VALUES (?1, ?2, ?3)
         ON CONFLICT(cart_id, sku) DO UPDATE SET at = MAX(at, excluded.at)",
    )?;
    for sku in skus {
        note.execute(params![cart, sku, now])?;
    }
    Ok(())
}

/// The deleted items' SKUs `cart` took 0 for at or after `since` (by the caller's clock,
/// allowing [`LOG_SKEW`] for the clock that noted it, as [`written_since`] does), with when.
pub(crate) fn zeroed_since(c: &Connection, cart: CartId, since: i64) -> Result<Vec<(String, i64)>> {
    Ok(
        c.prepare_cached("SELECT sku, at FROM zeroed_on_cart WHERE cart_id = ?1 AND at >= ?2")?
            .query_map(params![cart, since.saturating_sub(LOG_SKEW)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?,
    )
}

/// Item ids a `counts_shown` row marks (schema 11): its bitmap is an eighth as many bytes.
const SHOWN_CHUNK: i64 = 4096;

/// Which row of `counts_shown` marks `item`, and its byte and bit there.
fn shown_bit(item: ItemId) -> (i64, usize, u8) {
    let bit = item.rem_euclid(SHOWN_CHUNK) as usize;
    (item.div_euclid(SHOWN_CHUNK), bit / 8, 1 << (bit % 8))
}

/// One `counts_shown` row's bitmap (all clear where there is none).
fn shown_chunk(c: &Connection, cart: CartId, chunk: i64) -> Result<Vec<u8>> {
    let bits: Option<Vec<u8>> = c
        .prepare_cached("SELECT bits FROM counts_shown WHERE cart_id = ?1 AND chunk = ?2")?
        .query_row([cart, chunk], |r| r.get(0))
        .optional()?;
    let mut bits = bits.unwrap_or_default();
    bits.resize((SHOWN_CHUNK / 8) as usize, 0);
    Ok(bits)
}

fn shown_chunk_put(c: &Connection, cart: CartId, chunk: i64, bits: &[u8]) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO counts_shown(cart_id, chunk, bits) VALUES (?1, ?2, ?3)
         ON CONFLICT(cart_id, chunk) DO UPDATE SET bits = excluded.bits",
    )?
    .execute(params![cart, chunk, bits])?;
    Ok(())
}

/// Whether the store knows what `cart` shows of `item`: it was sent or read the item's count
/// (schema 11), or the item is one the cart is taken to show (schema 10's mark).
pub(crate) fn cart_was_shown(c: &Connection, cart: CartId, item: ItemId) -> Result<bool> {
    let (chunk, byte, mask) = shown_bit(item);
    Ok(shown_upto(c, cart)? >= item || shown_chunk(c, cart, chunk)?[byte] & mask != 0)
}

fn shown_upto(c: &Connection, cart: CartId) -> Result<ItemId> {
    Ok(
        c.prepare_cached("SELECT counts_shown_upto FROM carts WHERE id = ?1")?
            .query_row([cart], |r| r.get(0))?,
    )
}

/// Notes that `cart` took (or may have taken) counts or changes of `items` at `now` (Send
/// QOH, a drift repair, an operator's discard of a group the cart may have applied), for
/// [`written_since`]: a cart that declares no lag notes its one time instead
/// ([`counts_set_last_note`]), but an operator's discard is noted on any cart (a row or
/// two). Never on the controller's path: its deltas are found in `stack_log`. Rows older than an
/// hour, the longest lag a built-in adapter takes, and [`LOG_SKEW`], go as the cart's next
/// ones come.
pub(crate) fn counts_set_note(
    c: &Connection,
    cart: CartId,
    items: &[ItemId],
    now: i64,
) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    c.prepare_cached("DELETE FROM counts_set_at WHERE cart_id = ?1 AND at < ?2")?
        .execute(params![cart, now - 3_600_000 - LOG_SKEW])?;
    let mut note = c.prepare_cached(
        "INSERT INTO counts_set_at(cart_id, item_id, at)
         SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM items WHERE id = ?2)
         ON CONFLICT(cart_id, item_id) DO UPDATE SET at = MAX(at, excluded.at)",
    )?;
    for &item in items {
        note.execute(params![cart, item, now])?;
    }
    Ok(())
}

/// Notes, as [`counts_set_note`] does, the items of send group `group` as changed on its
/// cart at `now`: an operator discards a group the cart may have applied (uncertain, or
/// bypassed after an answer that did not say), and the log has it as discarded, which
/// [`written_since`] does not read; a Get QOH right after, on a cart whose reads trail its
/// writes, could take a count from before it (until 2026-12-04 it did, and gave the sold
/// unit back). Dated at the discard, later than the cart took it: the window only grows.
pub(crate) fn group_counts_set_note(c: &Connection, group: i64, now: i64) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO counts_set_at(cart_id, item_id, at)
         SELECT DISTINCT s.cart_id, s.item_id, ?2 FROM stack s
         WHERE s.group_id = ?1 AND EXISTS (SELECT 1 FROM items WHERE id = s.item_id)
         ON CONFLICT(cart_id, item_id) DO UPDATE SET at = MAX(at, excluded.at)",
    )?
    .execute(params![group, now])?;
    Ok(())
}

/// Notes that `cart`, which declares no read lag, took counts at `now` (Send QOH, a drift
/// repair, a deleted item's 0): one row for the cart (schema 23), written with what is
/// written anyway, where a row an item ([`counts_set_note`]) cost Send QOH about a third of
/// its speed. An owner who then finds the cart lags and sets `read_lag_ms` is covered for
/// them ([`counts_set_last_since`]): until 2026-12-04 nothing was noted, and a Get QOH right
/// after took the cart's stale counts as sales there.
pub(crate) fn counts_set_last_note(c: &Connection, cart: CartId, now: i64) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO counts_set_last(cart_id, at) VALUES (?1, ?2)
         ON CONFLICT(cart_id) DO UPDATE SET at = MAX(at, excluded.at)",
    )?
    .execute(params![cart, now])?;
    Ok(())
}

/// When `cart` last took counts while it declared no read lag ([`counts_set_last_note`]),
/// if at or after `since` (by the caller's clock, allowing [`LOG_SKEW`] as
/// [`written_since`] does): within its lag now, any of its counts may be from before them.
pub(crate) fn counts_set_last_since(
    c: &Connection,
    cart: CartId,
    since: i64,
) -> Result<Option<i64>> {
    let at: Option<i64> = c
        .prepare_cached("SELECT at FROM counts_set_last WHERE cart_id = ?1")?
        .query_row([cart], |r| r.get(0))
        .optional()?;
    Ok(at.filter(|&at| at >= since.saturating_sub(LOG_SKEW)))
}

/// The items `cart` took a change of at or after `since` (by the caller's clock), with their
/// SKU and when the last was: a delta the controller sent (logged 'applied' as it settled,
/// after the cart answered) or a count noted by [`counts_set_note`] (index
/// `counts_set_at_when`, schema 21). Each is dated by the clock of the workstation that
/// wrote it, which may be up to [`LOG_SKEW`] behind the caller's: one dated up to that long
/// before `since` is taken too (until 2026-12-04 it was not, and a sale the shared
/// controller on a workstation two minutes behind had just sent was given back by the
/// stale read it was meant to leave alone). The log is read from the first entry dated
/// [`LOG_SKEW`] before `since` on, found by its ids (the log is written in time order but
/// for workstations' clocks: every entry written after the ones looked for is dated at
/// least that late): an index of it by cart and time would be written with every record
/// the controller settles, and cost the drain 15 %, for a question Get QOH asks of carts
/// whose reads trail their writes only.
pub(crate) fn written_since(
    c: &Connection,
    cart: CartId,
    since: i64,
) -> Result<Vec<(ItemId, String, i64)>> {
    let since = since.saturating_sub(LOG_SKEW);
    let from = log_id_from(c, since)?;
    let mut stmt = c.prepare_cached(
        "SELECT i.id, i.sku, MAX(w.at) FROM items i JOIN (
             SELECT item_id, at FROM stack_log
             WHERE id >= ?3 AND cart_id = ?1 AND outcome = 'applied' AND at >= ?2
             UNION ALL
             SELECT item_id, at FROM counts_set_at WHERE cart_id = ?1 AND at >= ?2
         ) w ON w.item_id = i.id
         GROUP BY i.id",
    )?;
    let rows = stmt.query_map(params![cart, since, from], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// How far apart the clocks of workstations writing one history may be for
/// [`written_since`] to find every entry written after a time on the caller's clock.
pub(crate) const LOG_SKEW: i64 = 5 * 60_000;

/// The id of the first history entry dated at or after `at`, by bisection of the ids (as
/// they would be were the entries' dates in their order; a few dozen look-ups by id for a
/// history of millions); past the last entry when none is.
fn log_id_from(c: &Connection, at: i64) -> Result<i64> {
    let mut first_at =
        c.prepare_cached("SELECT id, at FROM stack_log WHERE id >= ?1 ORDER BY id LIMIT 1")?;
    let last: i64 = c
        .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM stack_log")?
        .query_row([], |r| r.get(0))?;
    let (mut lo, mut hi) = (0i64, last + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match first_at
            .query_row([mid], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
            .optional()?
        {
            Some((_, when)) if when >= at => hi = mid,
            Some((id, _)) => lo = id + 1,
            None => hi = mid,
        }
    }
    Ok(lo)
}

/// Notes that `cart` was sent or read the counts of `items`, but where the mark covers one.
/// (An item deleted meanwhile leaves a bit no item reads: ids are never given again.)
pub(crate) fn cart_mark_shown(c: &Connection, cart: CartId, items: &[ItemId]) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let upto = shown_upto(c, cart)?;
    let mut rows: std::collections::BTreeMap<i64, Vec<(usize, u8)>> = Default::default();
    for &item in items.iter().filter(|&&i| i > upto) {
        let (chunk, byte, mask) = shown_bit(item);
        rows.entry(chunk).or_default().push((byte, mask));
    }
    for (chunk, marks) in rows {
        let mut bits = shown_chunk(c, cart, chunk)?;
        let mut changed = false;
        for (byte, mask) in marks {
            changed |= bits[byte] & mask == 0;
            bits[byte] |= mask;
        }
        if changed {
            shown_chunk_put(c, cart, chunk, &bits)?;
        }
    }
    Ok(())
}

/// The newest item's id (0 for none).
fn item_last_id(c: &Connection) -> Result<ItemId> {
    Ok(c.prepare_cached("SELECT COALESCE(MAX(id), 0) FROM items")?
        .query_row([], |r| r.get(0))?)
}

/// Notes that every cart real-time changes go to now was shown every item so far, each
/// change as it came: called before a change that may make one stop being such a cart.
pub(crate) fn targets_mark_shown(c: &Connection) -> Result<()> {
    let last = item_last_id(c)?;
    // (Rows whose items are all under the mark now mark nothing more.)
    c.prepare_cached(concat!(
        "DELETE FROM counts_shown WHERE (chunk + 1) * ?2 - 1 <= ?1
           AND cart_id IN (SELECT id FROM carts WHERE ",
        targets_where!(),
        ")"
    ))?
    .execute([last, SHOWN_CHUNK])?;
    c.prepare_cached(concat!(
        "UPDATE carts SET counts_shown_upto = ?1 WHERE counts_shown_upto < ?1 AND ",
        targets_where!()
    ))?
    .execute([last])?;
    Ok(())
}

/// The newest ledger row's id (0 for none): what a later [`ledger_moves_since`] counts from.
pub(crate) fn ledger_last_id(c: &Connection) -> Result<i64> {
    Ok(c.prepare_cached("SELECT COALESCE(MAX(id), 0) FROM ledger")?
        .query_row([], |r| r.get(0))?)
}

/// Whether any change from `cart` (an order or return imported from it) entered the ledger
/// after row `since`, but in the ranges of rows `own` (first, last; in order, all after
/// `since`: a Get QOH's own pages): a walk of the rows in between, none on most runs.
pub(crate) fn ledger_from_cart_since(
    c: &Connection,
    cart: CartId,
    since: i64,
    own: &[(i64, i64)],
) -> Result<bool> {
    let mut st = c.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM ledger WHERE id > ?1 AND id < ?2 AND origin_cart_id = ?3)",
    )?;
    let mut after = since;
    for &(first, last) in own.iter().chain(std::iter::once(&(i64::MAX, i64::MAX))) {
        if st.query_row(params![after, first, cart], |r| r.get::<_, bool>(0))? {
            return Ok(true);
        }
        after = last;
    }
    Ok(false)
}

/// Whether a change from `cart` of `item`, or of its variants (a `Sku` cart counts the
/// product), entered the ledger after row `since`.
pub(crate) fn ledger_from_cart_for_item_since(
    c: &Connection,
    cart: CartId,
    item: ItemId,
    since: i64,
) -> Result<bool> {
    let mut from_cart = false;
    item_changes_since(c, item, since, |_, origin| {
        from_cart = origin == Some(cart);
        !from_cart
    })?;
    Ok(from_cart)
}

/// The units of `item`, or of its variants (a `Sku` cart counts the product), sold on `cart`
/// (orders imported from it: 0 or less) and returned there (0 or more) that entered the
/// ledger after row `since`.
pub(crate) fn ledger_moves_since(
    c: &Connection,
    cart: CartId,
    item: ItemId,
    since: i64,
) -> Result<(i64, i64)> {
    let (mut sold, mut returned) = (0, 0);
    item_changes_since(c, item, since, |delta, origin| {
        if origin == Some(cart) {
            sold += delta.min(0);
            returned += delta.max(0);
        }
        true
    })?;
    Ok((sold, returned))
}

/// Calls `each` with (delta, origin cart) for every change of `item` and of its variants
/// after ledger row `since`, newest first, item by item, while it returns true. Each item's
/// changes are walked from its newest (`items.last_change`) along `prev_change` (schema 26),
/// one row by its id at a time: the rows before `since` are never read.
fn item_changes_since(
    c: &Connection,
    item: ItemId,
    since: i64,
    mut each: impl FnMut(i64, Option<CartId>) -> bool,
) -> Result<()> {
    let heads = c
        .prepare_cached(
            "SELECT last_change FROM items WHERE id = ?1
             UNION ALL SELECT last_change FROM items WHERE parent_id = ?1",
        )?
        .query_map([item], |r| r.get::<_, i64>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut st =
        c.prepare_cached("SELECT delta, origin_cart_id, prev_change FROM ledger WHERE id = ?1")?;
    for head in heads {
        if !walk_back(&mut st, head, since, 2, |r| Ok(each(r.get(0)?, r.get(1)?)))? {
            break;
        }
    }
    Ok(())
}

/// Walks an item's changes back from the ledger row `head` along `prev_change` (schema 26),
/// newest first, one row by its id at a time, while they are after row `since` and `each`
/// (given the row `st` reads by its id, whose column `prev` is `prev_change`) returns true.
/// Returns false where `each` stopped it.
fn walk_back(
    st: &mut rusqlite::CachedStatement<'_>,
    head: i64,
    since: i64,
    prev: usize,
    mut each: impl FnMut(&Row) -> rusqlite::Result<bool>,
) -> Result<bool> {
    let mut at = head;
    while at > since {
        let Some((go_on, before)) = st
            .query_row([at], |r| Ok((each(r)?, r.get::<_, i64>(prev)?)))
            .optional()?
        else {
            break;
        };
        if !go_on {
            return Ok(false);
        }
        at = before;
    }
    Ok(true)
}

/// Whether any count pulled from `cart` is kept (most carts have none: a run skips the
/// forgetting then).
pub(crate) fn pulled_any(c: &Connection, cart: CartId) -> Result<bool> {
    Ok(
        c.prepare_cached("SELECT EXISTS (SELECT 1 FROM pulled_counts WHERE cart_id = ?1)")?
            .query_row([cart], |r| r.get(0))?,
    )
}

/// The counts kept for carts real-time changes now go to: (cart, item, count).
pub(crate) fn pulled_of_targets(c: &Connection) -> Result<Vec<(CartId, ItemId, i64)>> {
    let mut st = c.prepare_cached(concat!(
        "SELECT cart_id, item_id, count FROM pulled_counts
         WHERE cart_id IN (SELECT id FROM carts WHERE ",
        targets_where!(),
        ")"
    ))?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The variants of `product` with their QOH and web fields on `cart`.
pub(crate) fn variants_with_fields(
    c: &Connection,
    cart: CartId,
    product: ItemId,
) -> Result<Vec<(ItemId, i64, WebFields)>> {
    let mut st = c.prepare_cached(
        "SELECT i.id, i.qoh, w.remote_ref, w.sync, w.buffer, w.max_publish
         FROM items i LEFT JOIN web_fields w ON w.item_id = i.id AND w.cart_id = ?1
         WHERE i.parent_id = ?2",
    )?;
    let rows = st.query_map([cart, product], |r| {
        Ok((r.get(0)?, r.get(1)?, web_fields_row(r, 2)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

// ---- items ------------------------------------------------------------------------------

/// An item's columns (alias `i`), with whether it has variants; a macro like `cart_cols!`.
macro_rules! item_cols {
    () => {
        "i.id, i.sku, i.parent_id, i.attributes, i.description, i.qoh, \
         EXISTS (SELECT 1 FROM items v WHERE v.parent_id = i.id)"
    };
}

fn item_row(r: &Row) -> rusqlite::Result<Item> {
    Ok(Item {
        id: r.get(0)?,
        sku: r.get(1)?,
        parent_id: r.get(2)?,
        attributes: r.get(3)?,
        description: r.get(4)?,
        qoh: r.get(5)?,
        has_variants: r.get(6)?,
    })
}

pub(crate) fn item_find(c: &Connection, sku: &str) -> Result<Option<Item>> {
    Ok(c.prepare_cached(concat!(
        "SELECT ",
        item_cols!(),
        " FROM items i WHERE i.sku = ?1"
    ))?
    .query_row([sku], item_row)
    .optional()?)
}

/// Whether the store has an item of `sku` (exactly).
pub(crate) fn item_exists(c: &Connection, sku: &str) -> Result<bool> {
    Ok(c.prepare_cached("SELECT 1 FROM items WHERE sku = ?1")?
        .query_row([sku], |_| Ok(()))
        .optional()?
        .is_some())
}

pub(crate) fn item_by_sku(c: &Connection, sku: &str) -> Result<Item> {
    item_find(c, sku)?.ok_or_else(|| Error::not_found(format!("unknown SKU {sku:?}")))
}

pub(crate) fn item_by_id(c: &Connection, id: ItemId) -> Result<Item> {
    item_get(c, id)?.ok_or_else(|| Error::not_found(format!("item {id} does not exist")))
}

/// The item `id`, or `None` when it was deleted (since its id was read).
pub(crate) fn item_get(c: &Connection, id: ItemId) -> Result<Option<Item>> {
    Ok(c.prepare_cached(concat!(
        "SELECT ",
        item_cols!(),
        " FROM items i WHERE i.id = ?1"
    ))?
    .query_row([id], item_row)
    .optional()?)
}

/// The items of `ids` that still exist, in the order of `ids`, each with its web fields on
/// `cart` (the defaults where it has none): a Send QOH's batch read in one statement, where
/// an item and its fields, read one by one, cost three look-ups an item.
pub(crate) fn items_with_fields(
    c: &Connection,
    cart: CartId,
    ids: &[ItemId],
) -> Result<Vec<(Item, WebFields)>> {
    let list = Value::from(ids).to_string();
    let mut st = c.prepare_cached(concat!(
        "SELECT ",
        item_cols!(),
        ", w.remote_ref, w.sync, w.buffer, w.max_publish, j.key
         FROM json_each(?2) j CROSS JOIN items i ON i.id = j.value
              LEFT JOIN web_fields w ON w.cart_id = ?1 AND w.item_id = i.id"
    ))?;
    let rows = st.query_map(params![cart, list], |r| {
        Ok((r.get::<_, i64>(11)?, item_row(r)?, web_fields_row(r, 7)?))
    })?;
    let mut rows = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    // Put in order here: `ORDER BY j.key` sorted every column of every row, a third of
    // this read (the rows come in that order already, which this checks in one pass).
    rows.sort_by_key(|r| r.0);
    Ok(rows
        .into_iter()
        .map(|(_, item, fields)| (item, fields))
        .collect())
}

/// Every item's SKU, for Get QOH's `create_new` to tell a cart's SKU that differs from one
/// only in case (one scan, read once a run and only if it creates anything).
pub(crate) fn item_skus(c: &Connection) -> Result<Vec<String>> {
    let mut st = c.prepare_cached("SELECT sku FROM items")?;
    let rows = st.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every product with variants, as (id, SKU).
pub(crate) fn products_with_variants(c: &Connection) -> Result<Vec<(ItemId, String)>> {
    let mut st = c.prepare_cached(
        "SELECT i.id, i.sku FROM items i
         WHERE EXISTS (SELECT 1 FROM items v WHERE v.parent_id = i.id) ORDER BY i.id",
    )?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every variant, as (id, SKU).
pub(crate) fn variants_all(c: &Connection) -> Result<Vec<(ItemId, String)>> {
    let mut st =
        c.prepare_cached("SELECT id, sku FROM items WHERE parent_id IS NOT NULL ORDER BY id")?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn item_insert(
    c: &Connection,
    sku: &str,
    parent: Option<ItemId>,
    attributes: &str,
    description: &str,
    qoh: i64,
) -> Result<ItemId> {
    // The id after every id given before, deleted items' too: SQLite would give a deleted
    // newest item's id again, and its SKU's history would then walk the new item's changes.
    c.prepare_cached(
        "INSERT INTO items(id, sku, parent_id, attributes, description, qoh, created_at)
         VALUES (1 + MAX(COALESCE((SELECT MAX(id) FROM items), 0),
                         COALESCE((SELECT MAX(item_id) FROM retired_items), 0)),
                 ?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        sku,
        parent,
        attributes,
        description,
        qoh,
        super::now_ms()
    ])?;
    Ok(c.last_insert_rowid())
}

pub(crate) fn item_update(
    c: &Connection,
    id: ItemId,
    attributes: Option<&str>,
    description: Option<&str>,
) -> Result<()> {
    c.prepare_cached(
        "UPDATE items SET attributes = COALESCE(?2, attributes),
                          description = COALESCE(?3, description) WHERE id = ?1",
    )?
    .execute(params![id, attributes, description])?;
    Ok(())
}

/// Sets an item's QOH after a change, and its newest change: the ledger row `change` (from
/// [`ledger_insert`]), from which the item's history is walked (schema 26).
pub(crate) fn item_set_qoh(c: &Connection, id: ItemId, qoh: i64, change: i64) -> Result<()> {
    c.prepare_cached("UPDATE items SET qoh = ?2, last_change = ?3 WHERE id = ?1")?
        .execute(params![id, qoh, change])?;
    Ok(())
}

/// Deletes an item; its web fields go with it (`ON DELETE CASCADE`). Its SKU keeps naming it
/// in `retired_items`, with its newest change, so the SKU's history still lists its changes
/// ([`ledger_list`]).
pub(crate) fn item_delete(c: &Connection, id: ItemId) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO retired_items(item_id, sku, last_change)
         SELECT id, sku, last_change FROM items WHERE id = ?1
         ON CONFLICT (item_id, sku) DO UPDATE SET
             last_change = MAX(last_change, excluded.last_change)",
    )?
    .execute([id])?;
    c.prepare_cached("DELETE FROM items WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Up to `limit` items whose SKU starts with `prefix`, in SKU order; of one product's
/// variants only, if `parent` is given. Each form walks only what it may list: SKUs from the
/// prefix on, through the SKU index (no valid UTF-8 text that starts with the prefix sorts
/// at or after the prefix followed by byte 0xFF), or the product's variants through
/// `items_parent`. One statement for both forms, filtering as it went, walked the catalogue
/// from its first SKU.
pub(crate) fn items_list(
    c: &Connection,
    prefix: &str,
    parent: Option<ItemId>,
    limit: i64,
) -> Result<Vec<Value>> {
    const COLUMNS: &str = "SELECT i.sku, i.qoh, p.sku, i.attributes, i.description,
                                  EXISTS (SELECT 1 FROM items v WHERE v.parent_id = i.id)
                           FROM items i LEFT JOIN items p ON p.id = i.parent_id";
    const PREFIXED: &str = "substr(i.sku, 1, length(?1)) = ?1";
    let mut st = match parent {
        None => c.prepare_cached(&format!(
            "{COLUMNS} WHERE i.sku >= ?1 AND i.sku < CAST(?1 || x'ff' AS TEXT) AND {PREFIXED}
             ORDER BY i.sku LIMIT ?3"
        ))?,
        Some(_) => c.prepare_cached(&format!(
            "{COLUMNS} WHERE i.parent_id = ?2 AND {PREFIXED} ORDER BY i.sku LIMIT ?3"
        ))?,
    };
    let rows = st.query_map(params![prefix, parent, limit], |r| {
        let attrs: String = r.get(3)?;
        Ok(json!({
            "sku": r.get::<_, String>(0)?,
            "qoh": r.get::<_, i64>(1)?,
            "parent_sku": r.get::<_, Option<String>>(2)?,
            "attributes": serde_json::from_str::<Value>(&attrs).unwrap_or(json!({})),
            "description": r.get::<_, String>(4)?,
            "has_variants": r.get::<_, bool>(5)?,
        }))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The items a cart is sent by Send QOH: an `Attribute` cart gets variants and plain items,
/// a `Sku` cart products and plain items (rule 5); web fields `sync` off leaves an item out.
pub(crate) fn items_for_cart(c: &Connection, cart: &Cart) -> Result<Vec<Item>> {
    let cols = item_cols!();
    let mut st = c.prepare_cached(&format!(
        "SELECT {cols} FROM items i
         LEFT JOIN web_fields w ON w.item_id = i.id AND w.cart_id = ?1
         WHERE {} AND COALESCE(w.sync, 1) = 1 ORDER BY i.sku",
        shown_filter(cart)
    ))?;
    let rows = st.query_map([cart.id], item_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The ids of [`items_for_cart`], in its order: what a Send QOH lists. It reads each batch's
/// items when it sends them ([`items_with_fields`]); listed whole as well, they cost a sixth of
/// the run's CPU.
pub(crate) fn item_ids_for_cart(c: &Connection, cart: &Cart) -> Result<Vec<ItemId>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT i.id FROM items i
         LEFT JOIN web_fields w ON w.item_id = i.id AND w.cart_id = ?1
         WHERE {} AND COALESCE(w.sync, 1) = 1 ORDER BY i.sku",
        shown_filter(cart)
    ))?;
    let rows = st.query_map([cart.id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Which items `cart` is shown (alias `i`): a `Sku`-level cart its products and items
/// without variants, any other its items without variants.
fn shown_filter(cart: &Cart) -> &'static str {
    match cart.capabilities.realtime {
        Some(SyncLevel::Sku) => "i.parent_id IS NULL",
        _ => "NOT EXISTS (SELECT 1 FROM items v WHERE v.parent_id = i.id)",
    }
}

// ---- ledger -----------------------------------------------------------------------------

/// Writes a QOH change's ledger row, after the item's newest (`prev_change`), and returns its
/// id: the caller makes it the item's newest ([`item_set_qoh`]) in the same transaction.
#[allow(clippy::too_many_arguments)]
pub(crate) fn ledger_insert(
    c: &Connection,
    item: &Item,
    delta: i64,
    qoh_after: i64,
    reason: Reason,
    origin: Option<CartId>,
    host_ref: Option<&str>,
    sent_to_web: bool,
    workstation: &str,
) -> Result<i64> {
    c.prepare_cached(
        "INSERT INTO ledger(item_id, sku, delta, qoh_after, reason, origin_cart_id, host_ref,
                            sent_to_web, workstation, created_at, prev_change)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,
                 (SELECT last_change FROM items WHERE id = ?1))",
    )?
    .execute(params![
        item.id,
        item.sku,
        delta,
        qoh_after,
        reason.code(),
        origin,
        host_ref,
        sent_to_web,
        workstation,
        super::now_ms()
    ])?;
    Ok(c.last_insert_rowid())
}

/// A change as the ledger keeps it: (SKU, delta, reason code, origin cart, whether it was to
/// go to the carts: `None` for a change made before schema 15).
pub(crate) type LedgerChange = (String, i64, i64, Option<CartId>, Option<bool>);

/// The change made under `host_ref`.
pub(crate) fn ledger_by_host_ref(c: &Connection, host_ref: &str) -> Result<Option<LedgerChange>> {
    Ok(c.prepare_cached(
        "SELECT sku, delta, reason, origin_cart_id, sent_to_web FROM ledger WHERE host_ref = ?1",
    )?
    .query_row([host_ref], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .optional()?)
}

/// The newest `limit` QOH changes, of `sku` only if given. A SKU's changes are asked item by
/// item (the item that has the SKU and any deleted ones that had it; their rows merge by id),
/// each walked back from its newest along `prev_change` (schema 26): a filter on SKU scanned
/// the whole ledger, a row per QOH change kept for good. (The SKU is compared too: before
/// schema 6 a deleted item's id could be given to a new item.)
pub(crate) fn ledger_list(c: &Connection, sku: Option<&str>, limit: i64) -> Result<Vec<Value>> {
    const COLUMNS: &str = "SELECT id, sku, delta, qoh_after, reason, origin_cart_id, host_ref,
                                  workstation, created_at";
    let Some(sku) = sku else {
        return Ok(c
            .prepare_cached(&format!("{COLUMNS} FROM ledger ORDER BY id DESC LIMIT ?1"))?
            .query_map([limit], ledger_row)?
            .map(|r| r.map(|(_, v)| v))
            .collect::<rusqlite::Result<_>>()?);
    };
    // An id once given to two items (before schema 6) is one chain: walked once, from its
    // newest change.
    let heads = c
        .prepare_cached(
            "SELECT MAX(head) FROM (SELECT id, last_change AS head FROM items WHERE sku = ?1
                                    UNION ALL
                                    SELECT item_id, last_change FROM retired_items WHERE sku = ?1)
             GROUP BY id",
        )?
        .query_map([sku], |r| r.get::<_, i64>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut st = c.prepare_cached(&format!("{COLUMNS}, prev_change FROM ledger WHERE id = ?1"))?;
    let mut rows = Vec::new();
    for head in heads {
        let mut found = 0;
        walk_back(&mut st, head, 0, 9, |r| {
            let row = ledger_row(r)?;
            if row.1["sku"] == sku {
                rows.push(row);
                found += 1;
            }
            Ok(found < limit)
        })?;
    }
    rows.sort_unstable_by_key(|(id, _)| std::cmp::Reverse(*id));
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(rows.into_iter().map(|(_, v)| v).collect())
}

fn ledger_row(r: &Row) -> rusqlite::Result<(i64, Value)> {
    let reason: i64 = r.get(4)?;
    Ok((
        r.get(0)?,
        json!({
            "sku": r.get::<_, String>(1)?,
            "delta": r.get::<_, i64>(2)?,
            "qoh_after": r.get::<_, i64>(3)?,
            "reason": reason,
            "reason_name": Reason::from_code(reason).map(Reason::name).unwrap_or("unknown"),
            "origin_cart_id": r.get::<_, Option<i64>>(5)?,
            "host_ref": r.get::<_, Option<String>>(6)?,
            "workstation": r.get::<_, String>(7)?,
            "created_at": r.get::<_, i64>(8)?,
        }),
    ))
}

/// The file's `PRAGMA data_version`: it moves when another connection commits, not for this
/// one's own writes.
pub(crate) fn data_version(c: &Connection) -> Result<i64> {
    Ok(c.prepare_cached("PRAGMA data_version")?
        .query_row([], |r| r.get(0))?)
}

// ---- web stack --------------------------------------------------------------------------

/// Writes one stack record per entry of `records`. One cached single-row statement per record:
/// a multi-row `INSERT` built per call cost more in formatting its text and in the statement
/// journal SQLite keeps for a statement that writes several rows than it saved in calls.
///
/// Each record's id is above every id a record ever had (`stack_high`, schema 24): hosts act
/// on the numbers they listed, and the log keeps them. `last` is that id where the caller
/// knows it (its own records are the last any connection wrote: see
/// `Store::change_reads`), else it is read; returns the highest id given
/// (`last` when `records` is empty).
pub(crate) fn stack_insert_many(
    c: &Connection,
    records: &[NewRecord],
    last: Option<i64>,
) -> Result<Option<i64>> {
    if records.is_empty() {
        return Ok(last);
    }
    let now = super::now_ms();
    let last: i64 = match last {
        Some(id) => id,
        // Read once a call, not a record: the records of one change go to every cart.
        None => c
            .prepare_cached(
                "SELECT MAX(COALESCE((SELECT MAX(id) FROM stack), 0),
                            COALESCE((SELECT id FROM stack_high WHERE one = 1), 0))",
            )?
            .query_row([], |r| r.get(0))?,
    };
    let mut st = c.prepare_cached(
        "INSERT INTO stack(cart_id, item_id, delta, reason, origin_cart_id, workstation,
                           created_at, id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut id = last;
    for r in records {
        id += 1;
        st.execute(params![
            r.cart_id,
            r.item_id,
            r.delta,
            r.reason.code(),
            r.origin_cart_id,
            r.workstation,
            now,
            id
        ])?;
    }
    Ok(Some(id))
}

pub(crate) fn stack_count_for_cart(c: &Connection, cart: CartId) -> Result<i64> {
    Ok(
        c.prepare_cached("SELECT COUNT(*) FROM stack WHERE cart_id = ?1")?
            .query_row([cart], |r| r.get(0))?,
    )
}

/// Records of `item` on every cart's stack. A cart with records cannot be deleted, so going
/// cart by cart through the (cart, item) index finds them all without a walk of the stack.
pub(crate) fn stack_count_for_item(c: &Connection, item: ItemId) -> Result<i64> {
    Ok(c.prepare_cached(
        "SELECT COUNT(*) FROM carts k CROSS JOIN stack s
         WHERE s.cart_id = k.id AND s.item_id = ?1",
    )?
    .query_row([item], |r| r.get(0))?)
}

/// Records of `cart` (0 = all) in `state`. For one cart each term is served by an index (and
/// the waiting records by `stack_backlog`), so the controller can ask per pass and a host can
/// poll without reading the whole stack.
pub(crate) fn stack_count(c: &Connection, cart: CartId, state: StackState) -> Result<i64> {
    if cart == 0 {
        // Every record belongs to a cart that exists (a cart with records cannot be deleted),
        // so the sum over the carts is the whole stack's count.
        return cart_ids(c)?
            .into_iter()
            .map(|k| stack_count(c, k, state))
            .sum();
    }
    // Whether anything waits ungrouped is asked of the stack itself, so the count says 0
    // exactly when nothing waits even if `stack_backlog` were off (a process of an older build
    // still writing to the file does not keep it). `INDEXED BY`: without statistics SQLite
    // served that question from `stack_cart_item` and walked every record of the cart that
    // has a group (a cart's thousands of bypassed records) to find an ungrouped one.
    Ok(c.prepare_cached(
        "SELECT (CASE WHEN ?2 = 'pending' AND EXISTS (SELECT 1 FROM stack
                                     INDEXED BY stack_ungrouped
                                     WHERE cart_id = ?1 AND group_id IS NULL) THEN
                       MAX(1, COALESCE((SELECT n FROM stack_backlog WHERE cart_id = ?1), 0)
                         + (SELECT COUNT(*) FROM stack WHERE cart_id = ?1 AND group_id IS NULL
                            AND id > COALESCE((SELECT counted_to FROM stack_backlog
                                               WHERE cart_id = ?1), 0)))
                     ELSE 0 END)
                  + (SELECT COUNT(*) FROM send_groups g JOIN stack s ON s.group_id = g.id
                     WHERE g.cart_id = ?1 AND g.state = ?2)",
    )?
    .query_row(params![cart, state.group_state()], |r| r.get(0))?)
}

/// Whether any record waits for `cart` (ungrouped, or in a pending group); asked every pass,
/// of the index of ungrouped records only (see [`stack_count`]).
pub(crate) fn stack_has_waiting(c: &Connection, cart: CartId) -> Result<bool> {
    Ok(c.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM stack INDEXED BY stack_ungrouped
                        WHERE cart_id = ?1 AND group_id IS NULL)
                 OR EXISTS (SELECT 1 FROM send_groups WHERE cart_id = ?1 AND state = 'pending')",
    )?
    .query_row([cart], |r| r.get(0))?)
}

/// The columns of the troubleshooting view, for a statement with the record as `s`, its item
/// as `i` and its group (if any) as `g`.
const LISTED: &str = "s.id, s.cart_id, i.sku, s.delta, s.reason, s.created_at,
        COALESCE(g.attempts, 0), COALESCE(g.next_attempt_at, s.created_at), g.last_response,
        COALESCE(g.state, 'pending'), COALESCE(g.lease_until, 0), s.origin_cart_id,
        s.workstation,
        (SELECT MAX(k.backoff_until, k.manual_until) FROM carts k WHERE k.id = s.cart_id)";

/// The troubleshooting view: up to `limit` records of `cart` (all carts if `None`) in
/// `state` (any if `None`), oldest first. Unfiltered, every record qualifies: the stack in id
/// order, stopping at `limit`. Filtered, a scan in id order walked every record of the other
/// carts or states to list a few (an operator asking for a cart's bypassed records during
/// another cart's outage waited for its whole backlog), so it is asked cart by cart, each
/// way served by an index: the cart's ungrouped records through `stack_ungrouped` in id order
/// and its first-attempt batches' records (waiting), then its item groups in the states asked
/// for, oldest `first_record` first, until one could hold nothing old enough to list. At
/// most twice `limit` rows are held ([`Oldest`]).
pub(crate) fn stack_list(
    c: &Connection,
    cart: Option<CartId>,
    state: Option<StackState>,
    limit: i64,
) -> Result<Vec<Value>> {
    let now = super::now_ms();
    let listed = |r: &Row| -> rusqlite::Result<(i64, Value)> {
        let reason: i64 = r.get(4)?;
        let mut state: String = r.get(9)?;
        if state == "pending" && r.get::<_, i64>(10)? > now {
            state = "leased".into();
        }
        let id: i64 = r.get(0)?;
        // A waiting record of a cart that sends nothing before a time (paused for refused
        // credentials, backing off in an outage, asked to wait, held by a manual run) is tried
        // then at the soonest: listed as due since it was queued, it read as going at the
        // next pass while its cart sent nothing for an hour.
        let mut next: i64 = r.get(7)?;
        if state == "pending" {
            let cart_wait = r.get::<_, Option<i64>>(13)?.unwrap_or(0);
            if cart_wait > now {
                next = next.max(cart_wait);
            }
        }
        Ok((
            id,
            json!({
                "id": id,
                "cart_id": r.get::<_, i64>(1)?,
                "sku": r.get::<_, String>(2)?,
                "delta": r.get::<_, i64>(3)?,
                "reason": reason,
                "reason_name": Reason::from_code(reason).map(Reason::name).unwrap_or("unknown"),
                "created_at": r.get::<_, i64>(5)?,
                "attempts": r.get::<_, i64>(6)?,
                "next_attempt_at": next,
                "last_response": r.get::<_, Option<String>>(8)?,
                "state": state,
                "origin_cart_id": r.get::<_, Option<i64>>(11)?,
                "workstation": r.get::<_, String>(12)?,
            }),
        ))
    };
    if cart.is_none() && state.is_none() {
        return Ok(c
            .prepare_cached(&format!(
                "SELECT {LISTED} FROM stack s JOIN items i ON i.id = s.item_id
                      LEFT JOIN send_groups g ON g.id = s.group_id
                 ORDER BY s.id LIMIT ?1"
            ))?
            .query_map([limit], listed)?
            .map(|r| r.map(|(_, v)| v))
            .collect::<rusqlite::Result<_>>()?);
    }
    let carts = match cart {
        Some(k) => vec![k],
        None => cart_ids(c)?,
    };
    let states: &[&str] = match state {
        None => &["pending", "bypassed", "uncertain"],
        Some(s) => &[s.group_state()],
    };
    // Item groups, oldest first record first: once `limit` records older than a group's
    // first record are held, neither it nor any group after it has one to list. A group's
    // records (only its item's) come through `stack_group (group_id, item_id)` in id order:
    // a hot item's thousands are not sorted to list a few.
    let mut groups = c.prepare_cached(
        "SELECT id, first_record FROM send_groups INDEXED BY send_groups_listed
         WHERE cart_id = ?1 AND state = ?2 AND item_id <> 0 ORDER BY first_record",
    )?;
    let mut records = c.prepare_cached(&format!(
        "SELECT {LISTED} FROM send_groups g
              JOIN stack s ON s.group_id = g.id AND s.item_id = g.item_id
              JOIN items i ON i.id = s.item_id
         WHERE g.id = ?1 AND s.id < ?2 ORDER BY s.id LIMIT ?3"
    ))?;
    let mut oldest = Oldest::new(limit);
    for k in carts {
        if states.contains(&"pending") {
            // Ungrouped records, and those of first-attempt batches (a lease's worth each).
            for sql in [
                "FROM stack s INDEXED BY stack_ungrouped JOIN items i ON i.id = s.item_id
                      LEFT JOIN send_groups g ON g.id = s.group_id
                 WHERE s.cart_id = ?1 AND s.group_id IS NULL AND s.id < ?2",
                "FROM send_groups g INDEXED BY send_groups_batches
                      JOIN stack s ON s.group_id = g.id JOIN items i ON i.id = s.item_id
                 WHERE g.cart_id = ?1 AND g.item_id = 0 AND g.state = 'pending' AND s.id < ?2",
            ] {
                let mut st =
                    c.prepare_cached(&format!("SELECT {LISTED} {sql} ORDER BY s.id LIMIT ?3"))?;
                oldest.add(st.query_map(params![k, oldest.below, limit], listed)?)?;
            }
        }
        for &st in states {
            let mut walk = groups.query(params![k, st])?;
            while let Some(g) = walk.next()? {
                if g.get::<_, i64>(1)? >= oldest.below {
                    break;
                }
                let group: i64 = g.get(0)?;
                oldest.add(records.query_map(params![group, oldest.below, limit], listed)?)?;
            }
        }
    }
    Ok(oldest.into_rows())
}

/// The oldest `limit` rows (by id) of those added, for [`stack_list`]. Rows are sorted and cut
/// to `limit` once twice that many are held, so adding costs a sort only now and then;
/// `below` is the newest row kept at the last cut (no row at or above it can be listed).
struct Oldest {
    rows: Vec<(i64, Value)>,
    limit: usize,
    below: i64,
}

impl Oldest {
    fn new(limit: i64) -> Oldest {
        Oldest {
            rows: Vec::new(),
            limit: usize::try_from(limit).unwrap_or(0),
            below: i64::MAX,
        }
    }

    fn add(
        &mut self,
        rows: impl Iterator<Item = rusqlite::Result<(i64, Value)>>,
    ) -> rusqlite::Result<()> {
        for row in rows {
            self.rows.push(row?);
            if self.rows.len() >= 2 * self.limit.max(1) {
                self.cut();
            }
        }
        Ok(())
    }

    fn cut(&mut self) {
        self.rows.sort_unstable_by_key(|(id, _)| *id);
        self.rows.truncate(self.limit);
        if let Some(&(id, _)) = self.limit.checked_sub(1).and_then(|i| self.rows.get(i)) {
            self.below = id;
        }
    }

    fn into_rows(mut self) -> Vec<Value> {
        self.cut();
        self.rows.into_iter().map(|(_, v)| v).collect()
    }
}

/// The send group of a record and its state (`None` for a record not yet grouped).
pub(crate) fn record_group(c: &Connection, record: i64) -> Result<(Option<i64>, Option<String>)> {
    c.prepare_cached(
        "SELECT s.group_id, g.state FROM stack s LEFT JOIN send_groups g ON g.id = s.group_id
         WHERE s.id = ?1",
    )?
    .query_row([record], |r| Ok((r.get(0)?, r.get(1)?)))
    .optional()?
    .ok_or_else(|| Error::not_found(format!("stack record {record} does not exist")))
}

/// The cart of stack record `record` (`None`: no such record).
pub(crate) fn record_cart(c: &Connection, record: i64) -> Result<Option<Cart>> {
    let cart: Option<CartId> = c
        .prepare_cached("SELECT cart_id FROM stack WHERE id = ?1")?
        .query_row([record], |r| r.get(0))
        .optional()?;
    cart.map(|id| cart_by_id(c, id)).transpose()
}

/// An operator's retry of a bypassed or uncertain group: pending, from attempt 0. A bypassed
/// group's mark of possibly being on the cart stays (its keyed adapter re-sends it under
/// its key; a switch of adapter, or one registered without keys, holds it back: until
/// 2026-12-04 the retry cleared it, and such a switch sent the sale again as new); an
/// uncertain one's goes, the operator having checked the cart as its response asks.
pub(crate) fn group_reset(c: &Connection, group: i64, now: i64) -> Result<()> {
    c.prepare_cached(
        "UPDATE send_groups SET state = 'pending', attempts = 0, next_attempt_at = ?2,
                lease_token = NULL, lease_until = 0, refused = 0,
                unsettled = CASE WHEN state = 'bypassed' THEN MIN(unsettled, 1) ELSE 0 END
         WHERE id = ?1",
    )?
    .execute(params![group, now])?;
    Ok(())
}

/// Puts a group that stays on the stack (a retry, a bypass, an uncertain send) in its new
/// state, only while `token` still holds it. Returns whether it did. Groups that leave the
/// stack settle through [`groups_leave`]. A refused group stays marked refused while it
/// waits again without being applied (a rate limit, an outage between refusals: to a cart
/// without keys, every wait is of a change not applied), so the correction that lets it pass
/// still joins it.
pub(crate) fn group_settle(
    c: &Connection,
    group: i64,
    token: &str,
    t: &Transition,
    now: i64,
) -> Result<bool> {
    let (state, attempts, next, response) = settled_state(t, now)?;
    Ok(c.prepare_cached(
        "UPDATE send_groups SET state = ?2, attempts = ?3, next_attempt_at = ?4,
                last_response = ?5, lease_token = NULL, lease_until = 0,
                unsettled = CASE WHEN ?8 THEN unsettled ELSE 0 END,
                refused = CASE WHEN ?7 THEN 1 WHEN ?8 THEN 0 WHEN ?2 = 'pending' THEN refused
                               ELSE 0 END
         WHERE id = ?1 AND lease_token = ?6",
    )?
    .execute(params![
        group,
        state,
        attempts,
        next,
        truncate(response, 2000),
        token,
        matches!(t, Transition::Refused { .. }),
        maybe_applied(t)
    ])? > 0)
}

/// Removes a group and its records from the stack, logged with `outcome` and `response`
/// (an operator's discard).
pub(crate) fn group_leave_now(
    c: &Connection,
    group: i64,
    outcome: &str,
    response: &str,
    now: i64,
) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO stack_log(record_id, cart_id, item_id, delta, outcome, group_key,
                               response, at)
         SELECT s.id, s.cart_id, s.item_id, s.delta, ?2, g.key, ?3, ?4
         FROM send_groups g JOIN stack s ON s.group_id = g.id WHERE g.id = ?1",
    )?
    .execute(params![group, outcome, response, now])?;
    stack_high_raise(c)?;
    c.prepare_cached("DELETE FROM stack WHERE group_id = ?1")?
        .execute([group])?;
    c.prepare_cached("DELETE FROM send_groups WHERE id = ?1")?
        .execute([group])?;
    backlog_clamp(c)
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The key the records of item `s.item_id` in first-attempt batch `b` are sent under: the
/// batch's random key (a UUID v4) with its last 12 hex digits replaced by the item's id XOR
/// the batch's random 48-bit `key_salt`. It is a UUID v4 like any group's key, with as many
/// random bits; no two items of a batch share one (XOR with one salt is one-to-one); and it
/// is derived, so a batch needs no row per item unless a send fails. (SQLite has no XOR:
/// `(a | b) - (a & b)` is one.)
const ITEM_KEY_SQL: &str = "substr(b.key, 1, 24)
         || printf('%012x', (s.item_id | b.key_salt) - (s.item_id & b.key_salt))";

/// [`ITEM_KEY_SQL`] for the batch whose key begins with `prefix` ([`item_key_prefix`]) and
/// whose salt is `salt`: `batch_sends` derives
/// each item's key here, where SQLite's `printf` and `substr` cost the drain 1.2k instructions
/// a record (2026-12-05, callgrind). The salt and the ids are below 2^48, so the subtraction
/// never overflows (where SQLite would turn to a float); the hex digits are written as
/// `printf('%012x')` (and Rust's `{:012x}`) write them: the 64 bits, at least 12 digits. By
/// hand, as `format!` cost 1.2k instructions a key.
fn item_key(prefix: &str, salt: i64, item: ItemId) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bits = (item | salt).wrapping_sub(item & salt) as u64;
    let digits = (64 - bits.leading_zeros()).div_ceil(4).max(12);
    let mut out = String::with_capacity(prefix.len() + 16);
    out.push_str(prefix);
    for d in (0..digits).rev() {
        out.push(char::from(HEX[((bits >> (4 * d)) & 0xf) as usize]));
    }
    out
}

/// `substr(key, 1, 24)`: the part of a batch's key every item's key shares, taken by
/// characters as `substr` takes them.
fn item_key_prefix(key: &str) -> &str {
    key.char_indices().nth(24).map_or(key, |(at, _)| &key[..at])
}

/// The key record `s` was (or is) sent under, its group joined as `g` (`NULL` ungrouped): a
/// batch's item key is derived as [`ITEM_KEY_SQL`] derives it, a group's is stored.
fn record_key_sql() -> String {
    format!(
        "CASE WHEN g.item_id = 0 THEN {} ELSE g.key END",
        ITEM_KEY_SQL.replace("b.", "g.")
    )
}

/// Whose records a lease takes (`a` is the table's alias; parameters ?3, ?4, ?5 are the
/// [`LeaseScope`]'s): in local mode, the controller's own workstation's and those of
/// workstations whose heartbeat stopped; in shared mode, everyone's.
fn scope_sql(a: &str) -> String {
    format!(
        "(?3 OR {a}.workstation = ?4 OR NOT EXISTS (SELECT 1 FROM heartbeats h
              WHERE h.workstation = {a}.workstation AND h.last_seen >= ?5))"
    )
}

/// Leases up to `max` sends of `cart` under `token`: send groups due for a retry first (oldest
/// first), then a first-attempt batch of the oldest ungrouped records, one send per item.
///
/// A first-attempt batch is one `send_groups` row with `item_id = 0` that its records point
/// to; each item's send in it has a key derived from the batch's ([`ITEM_KEY_SQL`]) and is
/// given to the controller with `group_id` = minus the item's id. An item whose send fails
/// becomes a group of its own when it settles ([`batch_settle`]); an item the cart applied
/// leaves without ever having one. That saves a group row written and deleted per record.
/// Each step is one set-based statement, so the cost per batch does not grow with the batch.
/// `built_from`: see [`NextLease::built_from`](crate::stack::NextLease::built_from).
/// Also returns how many records counts a Send QOH left sending had it hold in doubt first
/// ([`counts_left`]): the pass reports them as uncertain, the owner's to check.
#[allow(clippy::too_many_arguments)]
pub(crate) fn lease(
    c: &Connection,
    cart: CartId,
    max: i64,
    scope: &LeaseScope,
    built_from: Option<i64>,
    now: i64,
    until: i64,
    token: &str,
) -> Result<(Vec<LeasedSend>, usize)> {
    // The hold, whether a Send QOH left counts unsettled, whether the cart is down, and the
    // saving its adapter stands from, in the one look every lease takes at the cart.
    let (manual_until, left, down, settings): (i64, bool, bool, i64) = c
        .prepare_cached(
            "SELECT manual_until, EXISTS (SELECT 1 FROM counts_sending WHERE cart_id = ?1),
                    outage_step > 0, settings_version
             FROM carts WHERE id = ?1",
        )?
        .query_row([cart], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?
        .unwrap_or((i64::MAX, false, false, 0));
    if manual_until > now || built_from.is_some_and(|v| settings > v) {
        return Ok((Vec::new(), 0));
    }
    let in_doubt = match left {
        true => counts_left(c, cart, now)?.iter().map(|&(_, n)| n).sum(),
        false => 0,
    };
    leases_ahead_end(c, cart, now)?;
    batches_lapsed(c, cart, scope, now)?;
    // Most leases find no group due (first attempts go in batches): the statement below
    // gathers its candidates in a temporary table, made and dropped at each run, 27k
    // instructions where this look at the index of due groups takes a few thousand
    // (2026-12-05, callgrind). It asks less than the statement does, so when it finds
    // nothing, neither would the statement.
    let any_due = c
        .prepare_cached(
            "SELECT 1 FROM send_groups
             WHERE cart_id = ?1 AND state = 'pending' AND next_attempt_at <= ?2 AND item_id <> 0
             LIMIT 1",
        )?
        .exists(params![cart, now])?;
    // Only a pending group ever holds a lease: only pending groups are leased, and every
    // statement that changes a group's state (`group_settle`, `group_reset`) also ends its
    // lease. So the probes for an item's groups in flight ask only of its pending ones,
    // through `send_groups_cart_item (cart, item, state)`, never walking the bypassed and
    // uncertain groups a refused SKU gains with every sale.
    let due = if !any_due {
        0
    } else {
        c.prepare_cached(&format!(
            "UPDATE send_groups SET lease_token = ?7, lease_until = ?8, unsettled = unsettled + 1
             WHERE id IN (
             SELECT g.id FROM send_groups g
             WHERE g.cart_id = ?1 AND g.state = 'pending' AND g.next_attempt_at <= ?2
               AND g.lease_until <= ?2 AND g.item_id <> 0 AND {}
               AND NOT EXISTS (SELECT 1 FROM send_groups o
                   WHERE o.cart_id = g.cart_id AND o.item_id = g.item_id AND o.state = 'pending'
                     AND o.id <> g.id AND (o.lease_until > ?2 OR o.id < g.id))
               AND NOT EXISTS (SELECT 1 FROM send_groups b CROSS JOIN stack x
                   WHERE b.cart_id = g.cart_id AND b.item_id = 0
                     AND x.group_id = b.id AND x.item_id = g.item_id)
             ORDER BY g.next_attempt_at, g.id LIMIT ?6)",
            scope_sql("g")
        ))?
        .execute(params![
            cart,
            now,
            scope.shared,
            scope.workstation,
            scope.stale_before,
            max,
            token,
            until
        ])?
    };
    // A refused group that nets out frees its place in the batch.
    let netted = match due {
        0 => 0,
        _ => refused_take_later(c, cart, token, now)?,
    };
    // Rule 10: while the cart is down, only its oldest batch is tried, each back-off step;
    // the rest of the backlog waits untouched. Topped up with newer records where the oldest
    // left room, every probe spent their attempts too, and a long outage bypassed them. (With
    // none of its groups due, the oldest new records are the probe: a group waiting longer,
    // for a Retry-After on its item, must not keep the cart from learning it is back.)
    let room = match down && due > netted {
        true => 0,
        false => max - (due - netted) as i64,
    };
    let mut st = c.prepare_cached(
        "SELECT g.id, g.key, g.item_id, i.sku, w.remote_ref, g.net_delta, g.attempts,
                (SELECT COUNT(*) FROM stack s WHERE s.group_id = g.id), g.unsettled > 1
         FROM send_groups g JOIN items i ON i.id = g.item_id
              LEFT JOIN web_fields w ON w.cart_id = g.cart_id AND w.item_id = g.item_id
         WHERE g.lease_token = ?1 AND g.item_id <> 0 ORDER BY g.next_attempt_at, g.id",
    )?;
    let rows = st.query_map([token], |r| {
        Ok(LeasedSend {
            group_id: r.get(0)?,
            key: r.get(1)?,
            item_id: r.get(2)?,
            sku: r.get(3)?,
            remote_ref: r.get(4)?,
            delta: r.get(5)?,
            attempts: r.get(6)?,
            records: r.get::<_, i64>(7)? as usize,
            lapsed: r.get(8)?,
        })
    })?;
    let mut sends = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    if room > 0 {
        backlog_catch_up(c, cart)?;
        // A batch whose every item's changes cancel out (sales voided, orders cancelled)
        // leaves the stack with nothing to send: the next one is leased at once, or the pass
        // would end there as if nothing were due, leaving the sales behind it for the next.
        // Up to a bound, so that a long run of them does not hold the store's one writer
        // (and every host's sale) for one transaction: the pass after goes on from there.
        let mut netted = 0;
        while netted < NETTED_PER_LEASE {
            match first_attempt_batch(c, cart, room, scope, now, until, token, &mut sends)? {
                0 => break,
                n => netted += n,
            }
        }
    }
    Ok((sends, in_doubt))
}

/// Adds to each group `token` just leased that the cart refused as it stood, applying
/// nothing (`Transition::Refused`), the item's changes made since that ask less of the cart
/// with it, netted in: the waiting records of the item on the cart, of any workstation (a
/// correction the back office's import queued is what lets a till's sale refused below 0
/// pass), in order, up to the one that takes the sum furthest the other way (for a refused
/// sale, the highest sum: a correction, a delivery; for a refused increase, the lowest), if
/// that is past the refused change alone. Later changes the same way (sales after a sale
/// refused below 0) wait behind it: folded, they were refused with it for as long as the item
/// sold, where alone they would have passed once it was bypassed. The records taken leave the
/// backlog, so no other controller leases them. The group goes under a new key (the content
/// differs; the old key was refused) and keeps its attempts, so that it is bypassed after
/// `BypassAfterAttempts` refusals whatever joins it (counted afresh at each join, a refused
/// change that a delivery took past 0 was joined by every later sale and never bypassed; a
/// change joining late is bypassed with the group, and an operator's retry sends it again).
/// A group that nets out leaves the stack; returns how many did. A group leased before and
/// not settled since (its controller stopped mid-send: the cart may have it) is no longer
/// taken for refused.
fn refused_take_later(c: &Connection, cart: CartId, token: &str, now: i64) -> Result<usize> {
    c.prepare_cached(
        "UPDATE send_groups SET refused = 0
         WHERE lease_token = ?1 AND refused = 1 AND unsettled > 1",
    )?
    .execute([token])?;
    let refused: Vec<(i64, ItemId, i64)> = c
        .prepare_cached(
            "SELECT id, item_id, net_delta FROM send_groups
             WHERE lease_token = ?1 AND item_id <> 0 AND refused = 1",
        )?
        .query_map([token], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if refused.is_empty() {
        return Ok(0);
    }
    backlog_catch_up(c, cart)?;
    let mut netted = Vec::new();
    for (group, item, net) in refused {
        let waiting = later_groups(c, cart, item, group, now)?;
        // From the group's newest record: the item's records before it (a SKU refused for
        // good leaves one bypassed group a sale) are not walked. The item's later groups that
        // wait unapplied are walked with its ungrouped records, whole: a cut is made only
        // where none of them has records on both sides.
        let mut later = c.prepare_cached(
            "SELECT id, delta, group_id FROM stack
             WHERE cart_id = ?1 AND item_id = ?2
               AND id > (SELECT MAX(id) FROM stack WHERE group_id = ?3)
             ORDER BY id",
        )?;
        let mut rows = later.query(params![cart, item, group])?;
        // How far a sum is the other way from the refused change (a sale's: up).
        let way = |sum: i128| if net < 0 { sum } else { -sum };
        let (mut sum, mut best, mut upto) = (i128::from(net), way(i128::from(net)), None);
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            if let Some(g) = r.get::<_, Option<i64>>(2)? {
                if !waiting.iter().any(|w| w.id == g) {
                    continue;
                }
            }
            sum += i128::from(r.get::<_, i64>(1)?);
            let cut = !waiting.iter().any(|w| w.first <= id && id < w.last);
            if cut && way(sum) > best {
                best = way(sum);
                upto = Some(id);
            }
        }
        let Some(upto) = upto else { continue };
        // Groups that do not join keep their attempts, last answer and back-off.
        for w in waiting.iter().filter(|w| w.last <= upto) {
            dissolve_groups(c, "id = ?1", [w.id])?;
        }
        let joined = c
            .prepare_cached(
                "UPDATE stack SET group_id = ?1
                 WHERE cart_id = ?2 AND item_id = ?3 AND group_id IS NULL AND id <= ?4",
            )?
            .execute(params![group, cart, item, upto])?;
        backlog_grouped(c, cart, joined as i64)?;
        let net: i64 = c
            .prepare_cached(
                "UPDATE send_groups SET key = ?2,
                        net_delta = (SELECT SUM(delta) FROM stack WHERE group_id = ?1)
                 WHERE id = ?1 RETURNING net_delta",
            )?
            .query_row(params![group, super::random_key()], |r| r.get(0))?;
        if net == 0 {
            netted.push((group, "changes cancel out: nothing to send"));
        }
    }
    if !netted.is_empty() {
        groups_leave(c, token, "netted", &netted, now, &mut Vec::new())?;
    }
    Ok(netted.len())
}

/// A send group of an item waiting, unapplied and unleased, behind a refused one of it, by
/// the ids of its first and last records.
struct WaitingGroup {
    id: i64,
    first: i64,
    last: i64,
}

/// The item's send groups on `cart` after refused group `group` that wait unapplied and
/// unleased (an operator's retry of a change in doubt, a change refused on its own before):
/// they may join it, as the item's ungrouped records do. Left out, they waited behind it: a
/// delivery that lets a sale refused below 0 pass waited until the sale was bypassed, then
/// went alone, and the cart offered units the store did not have. Only a cart without keys
/// has refused groups, so no key is lost with one that joins; a group leased before and not
/// settled since (the cart may have it) is not among them.
fn later_groups(
    c: &Connection,
    cart: CartId,
    item: ItemId,
    group: i64,
    now: i64,
) -> Result<Vec<WaitingGroup>> {
    Ok(c.prepare_cached(
        "SELECT g.id, MIN(s.id), MAX(s.id) FROM send_groups g JOIN stack s ON s.group_id = g.id
             WHERE g.cart_id = ?1 AND g.item_id = ?2 AND g.id <> ?3 AND g.state = 'pending'
               AND g.lease_until <= ?4 AND g.unsettled = 0
             GROUP BY g.id
             HAVING MIN(s.id) > (SELECT MAX(id) FROM stack WHERE group_id = ?3)",
    )?
    .query_map(params![cart, item, group, now], |r| {
        Ok(WaitingGroup {
            id: r.get(0)?,
            first: r.get(1)?,
            last: r.get(2)?,
        })
    })?
    .collect::<rusqlite::Result<_>>()?)
}

/// Puts the records of the send groups `which` selects (a condition on `send_groups`, with
/// parameters `p`) back in the backlog, and drops the groups: records counted before they were
/// grouped count again once ungrouped. Returns how many groups it dropped.
fn dissolve_groups<P: rusqlite::Params + Copy>(c: &Connection, which: &str, p: P) -> Result<usize> {
    c.prepare_cached(&format!(
        "UPDATE stack_backlog SET n = n + back.records
         FROM (SELECT g.cart_id, COUNT(*) AS records
               FROM send_groups g JOIN stack s ON s.group_id = g.id
               WHERE g.id IN (SELECT id FROM send_groups WHERE {which})
                 AND s.id <= (SELECT b.counted_to FROM stack_backlog b WHERE b.cart_id = g.cart_id)
               GROUP BY g.cart_id) back
         WHERE stack_backlog.cart_id = back.cart_id"
    ))?
    .execute(p)?;
    c.prepare_cached(&format!(
        "UPDATE stack SET group_id = NULL WHERE group_id IN
         (SELECT id FROM send_groups WHERE {which})"
    ))?
    .execute(p)?;
    Ok(
        c.prepare_cached(&format!("DELETE FROM send_groups WHERE {which}"))?
            .execute(p)?,
    )
}

/// Records cancelling out that one lease removes at most while it finds nothing to send.
const NETTED_PER_LEASE: usize = 10_000;

/// Records of items that may not go now (a change of the item waits for its retry, or is in
/// flight, or an older one is another live workstation's) a lease passes over at most for
/// other items': a bound on the store's one writer's time, as [`NETTED_PER_LEASE`].
const WINDOW_PAST_BLOCKED: i64 = 10_000;

/// Groups a first-attempt batch of the cart's oldest ungrouped records (up to `room` items)
/// under `token` and adds its sends to `sends`. Returns the records it grouped when all of
/// them cancelled out (another batch may find something to send), else 0.
#[allow(clippy::too_many_arguments)]
fn first_attempt_batch(
    c: &Connection,
    cart: CartId,
    room: i64,
    scope: &LeaseScope,
    now: i64,
    until: i64,
    token: &str,
    sends: &mut Vec<LeasedSend>,
) -> Result<usize> {
    let (key, salt) = (super::random_key(), (rand::random::<u64>() >> 16) as i64);
    c.prepare_cached(
        "INSERT INTO send_groups(cart_id, item_id, key, key_salt, net_delta, workstation,
                                 state, next_attempt_at, created_at, lease_token,
                                 lease_until, unsettled)
         VALUES (?1, 0, ?2, ?3, 0, ?4, 'pending', ?5, ?5, ?6, ?7, 1)",
    )?
    .execute(params![
        cart,
        key,
        salt,
        scope.workstation,
        now,
        token,
        until
    ])?;
    let b = c.last_insert_rowid();
    // The window of oldest ungrouped records is the room and [`WINDOW_PAST_BLOCKED`] more:
    // records of items that may not go now (below) are passed over, up to that many, for
    // other items' (a window of twice the room, filled by a best-seller's sales behind its
    // retry, leased nothing, and no other item's sale reached the cart until that one was
    // sent or bypassed). It is read as the filters below pull from it, so a batch of
    // items that may go reads the window no further than it needs. Each item's
    // first record in the window stands for the item (an index probe: a GROUP BY sorted
    // the window twice), unless an older record of the item waits ungrouped (another live
    // workstation's, which this controller may not send), a send of the item is in flight
    // in a batch, or was in one whose lease lapsed that this controller may not take over
    // (another live workstation's, which sends it when it comes back: until 2026-12-03 a
    // sale went ahead of the receiving such a batch held; probed through the batch: the
    // item's own records may be many) or waits in
    // a group, in flight or for its retry: the item's changes reach the cart in the order
    // they were made (a cart that takes no negative count, as Medusa, refused a sale sent
    // ahead of the receiving before it, and the sale was bypassed). The item's ungrouped
    // records of that record's workstation join the batch, up to the first of another
    // workstation's. Both come from one walk of the item's waiting records (`stop`): the
    // first that is older than the window's record (the item may not go) or newer and
    // another workstation's (where the run ends). As two walks, each a seek and a subquery,
    // with the window's record read again to check it and again to take it, the grouping
    // cost 27.5k instructions a record where it now costs 23.9k (callgrind, 2026-12-05):
    // `e.id <> s.id` and `x.id = p.id` are answered from the index (the window's record
    // waits, and is its own workstation's). The walk starts at the cart's oldest waiting
    // record (`first`): every record it looks for is at or after it, and an item's records
    // before it (a hot item's thousands of bypassed ones) would be walked on every lease.
    let first = "(SELECT m.id FROM stack m WHERE m.cart_id = ?1 AND m.group_id IS NULL
          ORDER BY m.id LIMIT 1)";
    // The probe for an item's group in flight or waiting to retry is asked once of the cart
    // first: a drain with no retry pending has none, and the probe a record cost 4 % of
    // the grouping (1.3k of 28.9k instructions a record, callgrind, 2026-12-05). Nothing
    // adds a group between this look and the grouping: both run in the lease's transaction.
    // Through the index of due groups, whose pending rows ahead of an item's group are the
    // cart's batches (a few), not through the item index, where a refused SKU's bypassed
    // groups come first.
    let retrying: bool = c
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM send_groups INDEXED BY send_groups_due
                 WHERE cart_id = ?1 AND state = 'pending' AND item_id <> 0)",
        )?
        .query_row([cart], |r| r.get(0))?;
    let behind_group = match retrying {
        true => {
            "AND NOT EXISTS (SELECT 1 FROM send_groups o
                         WHERE o.cart_id = ?1 AND o.item_id = s.item_id
                           AND o.state = 'pending')"
        }
        false => "",
    };
    // Likewise the probe for a send of the item in one of the cart's batches (in flight, or
    // lapsed and another live workstation's): the batch just made holds nothing yet, and a
    // drain that overlaps its sends has one other, probed by its id (1.9k instructions a
    // record where the walk of the cart's batches cost 3.8k, callgrind, 2026-12-05).
    let batches: Vec<i64> = c
        .prepare_cached(
            "SELECT id FROM send_groups INDEXED BY send_groups_batches
             WHERE cart_id = ?1 AND item_id = 0 AND id <> ?2",
        )?
        .query_map([cart, b], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let behind_batch = match batches.len() {
        0 => "",
        1 => {
            "AND NOT EXISTS (SELECT 1 FROM stack f
                         WHERE f.group_id = ?9 AND f.item_id = s.item_id)"
        }
        _ => {
            "AND NOT EXISTS (SELECT 1 FROM send_groups b CROSS JOIN stack f
                         WHERE b.cart_id = ?1 AND b.item_id = 0
                           AND f.group_id = b.id AND f.item_id = s.item_id)"
        }
    };
    let window = room + WINDOW_PAST_BLOCKED;
    let mut bound: Vec<&dyn rusqlite::ToSql> = vec![
        &cart,
        &now,
        &scope.shared,
        &scope.workstation,
        &scope.stale_before,
        &room,
        &b,
        &window,
    ];
    if let [batch] = batches.as_slice() {
        bound.push(batch);
    }
    let grouped = c
        .prepare_cached(&format!(
            "UPDATE stack SET group_id = ?7 WHERE id IN (
             SELECT x.id FROM (SELECT s.item_id, s.workstation, s.id, s.stop
                   FROM (SELECT s.item_id, s.workstation, s.id,
                                (SELECT e.id FROM stack e
                                 WHERE e.cart_id = ?1 AND e.item_id = s.item_id
                                   AND e.id >= {first} AND e.id <> s.id AND e.group_id IS NULL
                                   AND (e.id < s.id OR e.workstation <> s.workstation)
                                 ORDER BY e.id LIMIT 1) AS stop
                         FROM stack s
                         WHERE s.cart_id = ?1 AND s.group_id IS NULL AND {}
                         ORDER BY s.id LIMIT ?8) s
                   WHERE (s.stop IS NULL OR s.stop > s.id)
                     {behind_group}
                     {behind_batch}
                   LIMIT ?6) p
             CROSS JOIN stack x
             WHERE x.cart_id = ?1 AND x.item_id = p.item_id AND x.id >= p.id
               AND (x.id = p.id OR (x.workstation = p.workstation AND x.group_id IS NULL))
               AND x.id < COALESCE(p.stop, 9223372036854775807))",
            scope_sql("s")
        ))?
        .execute(bound.as_slice())?;
    // Counted by the lease's catch-up, so every record grouped here was in the count.
    backlog_grouped(c, cart, grouped as i64)?;
    let before = sends.len();
    batch_sends(c, b, (&key, salt), now, sends)?;
    Ok(if sends.len() == before { grouped } else { 0 })
}

/// Adds the sends of first-attempt batch `b` to `sends` (in no promised order: an `ORDER BY`
/// cost the drain 6 %, and nothing depends on the order). Items whose changes cancel out
/// leave at once (nothing to send); an empty batch is deleted. `key` and `salt` are the
/// batch's, as stored in its row: each item's key is derived from them ([`item_key`]).
fn batch_sends(
    c: &Connection,
    b: i64,
    (key, salt): (&str, i64),
    now: i64,
    sends: &mut Vec<LeasedSend>,
) -> Result<()> {
    let mut st = c.prepare_cached(
        "SELECT s.item_id, i.sku, w.remote_ref, SUM(s.delta), COUNT(*)
         FROM send_groups b JOIN stack s ON s.group_id = b.id JOIN items i ON i.id = s.item_id
              LEFT JOIN web_fields w ON w.cart_id = b.cart_id AND w.item_id = s.item_id
         WHERE b.id = ?1 GROUP BY s.item_id",
    )?;
    // Once a batch: taken for each item, it cost 260 instructions a record.
    let prefix = item_key_prefix(key);
    let rows = st.query_map([b], |r| {
        let item_id: ItemId = r.get(0)?;
        Ok(LeasedSend {
            group_id: -item_id,
            key: item_key(prefix, salt, item_id),
            item_id,
            sku: r.get(1)?,
            remote_ref: r.get(2)?,
            delta: r.get(3)?,
            attempts: 0,
            records: r.get::<_, i64>(4)? as usize,
            lapsed: false,
        })
    })?;
    let before = sends.len();
    let mut netted = Vec::new();
    for send in rows {
        let send = send?;
        if send.delta == 0 {
            netted.push((send.item_id, "changes cancel out: nothing to send"));
        } else {
            sends.push(send);
        }
    }
    if !netted.is_empty() {
        batch_items_leave(c, (b, key, salt), "netted", &netted, now)?;
        backlog_clamp(c)?;
    }
    if sends.len() == before {
        c.prepare_cached("DELETE FROM send_groups WHERE id = ?1")?
            .execute([b])?;
    }
    Ok(())
}

/// Logs and removes the records of `items` in first-attempt batch `b`, each item's with its
/// response, in two statements: the responses go as one JSON object of item → response (a
/// statement per item took twice as long). When they are all the batch still holds (a
/// settle where every item was applied), the delete takes the batch's range of its index
/// instead of looking up each item of the list: 5 % of a drain. Returns the items, each once
/// (finding which of them had records there, by `RETURNING`, cost 4 % of a drain; the
/// controller names only items of the batch).
fn batch_items_leave(
    c: &Connection,
    (b, key, salt): (i64, &str, i64),
    outcome: &str,
    items: &[(ItemId, &str)],
    now: i64,
) -> Result<Vec<ItemId>> {
    // An item named twice would log its records twice, and pass the count below for records
    // of items never named.
    // Sorted ids tell whether any is named twice (a settle names each once) for less than
    // hashing each: 250 instructions a record of the drain (2026-12-05, callgrind).
    let mut ids: Vec<ItemId> = items.iter().map(|(i, _)| *i).collect();
    ids.sort_unstable();
    let items: Vec<_> = if ids.windows(2).any(|w| w[0] == w[1]) {
        let mut named = std::collections::HashSet::with_capacity(items.len());
        items.iter().filter(|(i, _)| named.insert(*i)).collect()
    } else {
        items.iter().collect()
    };
    // An object, not an array of [item, response] pairs: `json_each` gives each key and
    // value as it walks, where `->>` parsed each pair again, twice a record (2026-12-04, in
    // callgrind, 10,000 records: 200M instructions here against 166M, serialized by hand).
    let mut pairs = Vec::with_capacity(items.len() * 32);
    pairs.push(b'{');
    for (n, (item, response)) in items.iter().enumerate() {
        if n > 0 {
            pairs.push(b',');
        }
        pairs.push(b'"');
        push_decimal(&mut pairs, *item);
        pairs.extend_from_slice(b"\":");
        serde_json::to_writer(&mut pairs, response).map_err(|e| {
            Error::new(
                crate::ErrorKind::Database,
                format!("cannot list the sends: {e}"),
            )
        })?;
    }
    pairs.push(b'}');
    // Only JSON's own output went in: valid UTF-8, checked without the copy and the slower
    // walk of `from_utf8_lossy` (280 instructions a record of the drain).
    let pairs = String::from_utf8(pairs).map_err(|e| {
        Error::new(
            crate::ErrorKind::Database,
            format!("cannot list the sends: {e}"),
        )
    })?;
    // [`ITEM_KEY_SQL`] with the batch's key prefix and salt bound (`key` and `salt` are the
    // batch's, as stored in its row): `substr` of the stored key once a record cost 480
    // instructions a record of the drain (2026-12-05, callgrind).
    let logged = c
        .prepare_cached(
            "INSERT INTO stack_log(record_id, cart_id, item_id, delta, outcome, group_key,
                               response, at)
         SELECT s.id, s.cart_id, s.item_id, s.delta, ?3,
                ?5 || printf('%012x', (s.item_id | ?6) - (s.item_id & ?6)), j.value, ?4
         FROM send_groups b CROSS JOIN json_each(?2) j CROSS JOIN stack s
         WHERE b.id = ?1 AND s.group_id = b.id AND s.item_id = CAST(j.key AS INTEGER)",
        )?
        .execute(params![b, pairs, outcome, now, item_key_prefix(key), salt])?;
    let held: i64 = c
        .prepare_cached("SELECT COUNT(*) FROM stack WHERE group_id = ?1")?
        .query_row([b], |r| r.get(0))?;
    stack_high_raise(c)?;
    if logged as i64 == held {
        c.prepare_cached("DELETE FROM stack WHERE group_id = ?1")?
            .execute([b])?;
    } else {
        c.prepare_cached(
            "DELETE FROM stack WHERE group_id = ?1
               AND item_id IN (SELECT CAST(j.key AS INTEGER) FROM json_each(?2) j)",
        )?
        .execute(params![b, pairs])?;
    }
    Ok(items.into_iter().map(|(i, _)| *i).collect())
}

/// Writes `n` in decimal, as `{n}` would, without the formatting machinery (350 instructions
/// an item of a settle, 2026-12-05, callgrind).
fn push_decimal(out: &mut Vec<u8>, n: i64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut v = n.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
}

/// Makes the records of `item` in first-attempt batch `b` a send group of their own, under
/// the key they were sent with, in `state` (state, attempts, next attempt, last response);
/// returns whether there were any.
fn batch_item_to_group(
    c: &Connection,
    b: i64,
    item: ItemId,
    (state, attempts, next_attempt_at, response): (&str, i64, i64, Option<&str>),
    unsettled: i64,
    refused: bool,
) -> Result<bool> {
    let made = c
        .prepare_cached(&format!(
            "INSERT INTO send_groups(cart_id, item_id, key, net_delta, workstation, state,
                                     attempts, next_attempt_at, last_response, created_at,
                                     unsettled, first_record, refused)
             SELECT b.cart_id, s.item_id, {ITEM_KEY_SQL}, SUM(s.delta), MIN(s.workstation),
                    ?3, ?4, ?5, ?6, b.created_at, ?7, MIN(s.id), ?8
             FROM send_groups b JOIN stack s ON s.group_id = b.id AND s.item_id = ?2
             WHERE b.id = ?1 GROUP BY s.item_id"
        ))?
        .execute(params![
            b,
            item,
            state,
            attempts,
            next_attempt_at,
            response.map(|r| truncate(r, 2000)),
            unsettled,
            refused
        ])?;
    if made > 0 {
        let g = c.last_insert_rowid();
        c.prepare_cached("UPDATE stack SET group_id = ?3 WHERE group_id = ?1 AND item_id = ?2")?
            .execute(params![b, item, g])?;
    }
    Ok(made > 0)
}

// Ends stamped by the writer's clock, and what a clock running ahead does to each (2026-12-04):
// - lease ends, the shared-controller lock, heartbeats: bounded by what the code ever stamps,
//   so an end further ahead is taken as ended ([`LEASE_AHEAD_MAX`], [`LOCK_AHEAD_MAX`],
//   [`HEARTBEAT_AHEAD_MAX`]); a first-attempt batch's `next_attempt_at` (when it was leased)
//   is taken as now when it lapses ([`batches_lapsed`]).
// - a retry group's `next_attempt_at`, a cart's `backoff_until` and `rate_limited_until`:
//   left as stamped. A cart's `Retry-After` lands there uncapped (up to 10^9 s, or an HTTP
//   date ending a maintenance window), so no bound tells a clock ahead from a wait the cart
//   asked for (ended early, each pass would ask the cart again). A Send QOH settles a
//   waiting group's changes (superseded by the count); saving the cart's settings ends the
//   cart's waits (`cart_upsert`). `credentials_paused_until` is bounded
//   (`RetryMaxMs`) but always written with a `backoff_until` as far ahead, so ending it
//   alone would end nothing; the same save ends both.
// - a manual run's hold (`manual_until`): left as stamped. A Send QOH under it sets absolute
//   counts that include the changes it supersedes; a controller that took a live hold for
//   ended would send such a change beside it, and nothing would tell: counted twice, keys or
//   not. A hold a stopped run left lasts its 15 minutes plus the lead of the clock that
//   stamped it.

/// The furthest past the reader's clock an honest lease end (`send_groups.lease_until`) can
/// be: `LeaseMs` at its largest (1 hour, `params.rs`; every lease, renewal and answer kept is
/// stamped `now + LeaseMs` by the writer's clock), plus [`LOG_SKEW`], how far apart two
/// workstations' clocks are taken to be. An end further ahead was stamped by a clock running
/// ahead (a PC a day fast, corrected since by NTP or an operator) and is taken as ended
/// ([`leases_ahead_end`]); left alone it held the cart's changes back for the whole
/// difference while the shop sold stock it no longer had.
///
/// Ending it early is safe for the reason any lapsed lease is: its groups, leased again,
/// count as leased twice (`unsettled > 1`, [`LeasedSend::lapsed`]), so a cart with keys gets
/// them again under the same keys and a cart without keys has them held back (uncertain, for
/// the drift report), never sent again; the first controller's late answer settles nothing
/// once its token is gone. The cost falls only on a workstation whose clock is more than
/// this ahead: its live sends may be taken over.
pub(crate) const LEASE_AHEAD_MAX: i64 = 3_600_000 + LOG_SKEW;

/// Ends every lease of `cart` whose end is more than [`LEASE_AHEAD_MAX`] past `now`: the
/// end is set to 0, the token kept, as a lease that lapsed (its holder, if alive, may still
/// renew and settle it until another controller takes it over). Through the index of leased
/// groups; a lease leaving (`-1`) is not touched.
fn leases_ahead_end(c: &Connection, cart: CartId, now: i64) -> Result<usize> {
    Ok(c.prepare_cached(
        "UPDATE send_groups INDEXED BY send_groups_token SET lease_until = 0
             WHERE cart_id = ?1 AND lease_token IS NOT NULL AND lease_until > ?2",
    )?
    .execute(params![cart, now.saturating_add(LEASE_AHEAD_MAX)])?)
}

/// Turns `cart`'s first-attempt batches whose lease lapsed (a controller stopped while
/// sending them) into one group per item, under the keys they were sent with and counted as
/// leased once, so each is retried, or held back from a blind cart, like any group that lapsed.
/// A controller takes over its own batches and those of controllers out of action (the
/// batch's `workstation` is the leasing controller's); each group formed keeps its records'
/// workstation.
fn batches_lapsed(c: &Connection, cart: CartId, scope: &LeaseScope, now: i64) -> Result<()> {
    let lapsed: Vec<(i64, i64, i64, i64)> = c
        .prepare_cached(&format!(
            "SELECT b.id, b.attempts, b.next_attempt_at, b.unsettled FROM send_groups b
             WHERE b.cart_id = ?1 AND b.item_id = 0 AND b.lease_until <= ?2 AND {}",
            scope_sql("b")
        ))?
        .query_map(
            params![
                cart,
                now,
                scope.shared,
                scope.workstation,
                scope.stale_before
            ],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?
        .collect::<rusqlite::Result<_>>()?;
    for (b, attempts, next, unsettled) in lapsed {
        // A batch's `next_attempt_at` is when it was leased, by the leasing controller's
        // clock: its groups are due now. Kept as stamped, a batch leased by a clock a day
        // fast made groups due a day later, and its changes waited that long.
        let next = next.min(now);
        let items: Vec<ItemId> = c
            .prepare_cached("SELECT DISTINCT item_id FROM stack WHERE group_id = ?1")?
            .query_map([b], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for item in items {
            batch_item_to_group(
                c,
                b,
                item,
                ("pending", attempts, next, None),
                unsettled,
                false,
            )?;
        }
        c.prepare_cached("DELETE FROM send_groups WHERE id = ?1")?
            .execute([b])?;
    }
    Ok(())
}

/// Settles the items of the first-attempt batch leased under `token` (sent as `group_id` =
/// minus the item's id): the items `leaving` (by outcome, with each item's response) leave
/// the stack; each `failed` one becomes a group of its own, under the key it was sent with,
/// in the state its transition gives. Adds the sends settled to `held`. Nothing is settled
/// once the batch is no longer the token's: its lease lapsed and its records became groups
/// (a lease or a Send QOH took it over). While it is the token's, its records are all there:
/// nothing else removes them.
pub(crate) fn batch_settle(
    c: &Connection,
    token: &str,
    failed: &[(ItemId, &Transition)],
    leaving: &[(&str, Vec<(ItemId, &str)>)],
    now: i64,
    held: &mut Vec<i64>,
) -> Result<()> {
    let Some((b, key, salt)): Option<(i64, String, i64)> = c
        .prepare_cached(
            "SELECT id, key, key_salt FROM send_groups WHERE lease_token = ?1 AND item_id = 0",
        )?
        .query_row([token], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?
    else {
        return Ok(());
    };
    for &(item, t) in failed {
        let (state, attempts, next, response) = settled_state(t, now)?;
        let settled = (state, attempts, next, Some(response));
        let refused = matches!(t, Transition::Refused { .. });
        let unsettled = i64::from(maybe_applied(t));
        if batch_item_to_group(c, b, item, settled, unsettled, refused)? {
            held.push(-item);
        }
    }
    for (outcome, left) in leaving {
        let left = batch_items_leave(c, (b, &key, salt), outcome, left, now)?;
        held.extend(left.iter().map(|item| -item));
    }
    c.prepare_cached(
        "DELETE FROM send_groups WHERE id = ?1
           AND NOT EXISTS (SELECT 1 FROM stack WHERE group_id = ?1)",
    )?
    .execute([b])?;
    backlog_clamp(c)
}

/// Whether a group settling with `t` stays counted as sent without an answer (its lease
/// left `unsettled`): the cart may have it, so the next lease takes it for lapsed, and a
/// cart without keys holds it back (`LeasedSend::lapsed`).
fn maybe_applied(t: &Transition) -> bool {
    matches!(
        t,
        Transition::Pending {
            maybe_applied: true,
            ..
        } | Transition::Bypassed {
            maybe_applied: true,
            ..
        }
    )
}

/// A group's state, attempts, next attempt and last response after `t` (not a leave).
fn settled_state(t: &Transition, now: i64) -> Result<(&'static str, i64, i64, &str)> {
    Ok(match t {
        Transition::Leave { .. } => {
            return Err(Error::new(
                crate::ErrorKind::Database,
                "a group leaving the stack settles with the others leaving",
            ))
        }
        Transition::Pending {
            attempts,
            next_attempt_at,
            response,
            ..
        }
        | Transition::Refused {
            attempts,
            next_attempt_at,
            response,
        } => ("pending", *attempts, *next_attempt_at, response),
        Transition::Bypassed {
            attempts, response, ..
        } => ("bypassed", *attempts, now, response),
        Transition::Uncertain { attempts, response } => ("uncertain", *attempts, now, response),
    })
}

/// Settles groups that left the stack with `outcome` under `token`: each is marked with its
/// response (a primary-key update of unindexed columns; `lease_until = -1` marks it leaving),
/// then their records are logged and removed, and the groups deleted, in three set-based
/// statements. Adds the groups still held to `held`.
pub(crate) fn groups_leave(
    c: &Connection,
    token: &str,
    outcome: &str,
    done: &[(i64, &str)],
    now: i64,
    held: &mut Vec<i64>,
) -> Result<()> {
    let mut mark = c.prepare_cached(
        "UPDATE send_groups SET lease_until = -1, last_response = ?3
         WHERE id = ?1 AND lease_token = ?2",
    )?;
    let before = held.len();
    for (group, response) in done {
        if mark.execute(params![group, token, response])? > 0 {
            held.push(*group);
        }
    }
    if held.len() == before {
        return Ok(());
    }
    c.prepare_cached(
        "INSERT INTO stack_log(record_id, cart_id, item_id, delta, outcome, group_key, response, at)
         SELECT s.id, s.cart_id, s.item_id, s.delta, ?2, g.key, g.last_response, ?3
         FROM send_groups g JOIN stack s ON s.group_id = g.id
         WHERE g.lease_token = ?1 AND g.lease_until = -1",
    )?
    .execute(params![token, outcome, now])?;
    stack_high_raise(c)?;
    c.prepare_cached(
        "DELETE FROM stack WHERE group_id IN
         (SELECT id FROM send_groups WHERE lease_token = ?1 AND lease_until = -1)",
    )?
    .execute([token])?;
    c.prepare_cached("DELETE FROM send_groups WHERE lease_token = ?1 AND lease_until = -1")?
        .execute([token])?;
    backlog_clamp(c)
}

/// Gives back a lease that was never sent (leased ahead of need). Groups it formed, never
/// sent under any lease (no attempt, no answer, no other unsettled lease), are dissolved: their
/// records are ungrouped again, so they keep their place behind older retries. Groups leased
/// again for a retry only lose the token.
pub(crate) fn lease_release(c: &Connection, token: &str) -> Result<usize> {
    let dissolved = dissolve_groups(
        c,
        "lease_token = ?1 AND unsettled = 1 AND attempts = 0 AND last_response IS NULL",
        [token],
    )?;
    let kept = c
        .prepare_cached(
            "UPDATE send_groups SET lease_token = NULL, lease_until = 0,
                    unsettled = MAX(unsettled - 1, 0)
             WHERE lease_token = ?1",
        )?
        .execute([token])?;
    Ok(dissolved + kept)
}

/// Extends a lease to `until`, also one that lapsed while its controller stalled, so long as
/// nothing took it over: a takeover removes the token ([`cart_take_over`], a lease).
pub(crate) fn lease_renew(c: &Connection, token: &str, until: i64) -> Result<bool> {
    Ok(
        c.prepare_cached("UPDATE send_groups SET lease_until = ?2 WHERE lease_token = ?1")?
            .execute(params![token, until])?
            > 0,
    )
}

/// For a manual run holding `cart`: false while a lease of the cart is live. Otherwise takes
/// over every lapsed lease of the cart, in the same transaction, so that a controller that
/// stalled cannot renew its lease back to life while the run reads and supersedes: lapsed
/// batches become groups, and lapsed groups lose their token (they stay counted as leased,
/// so a blind cart does not get them blindly again). Such a controller's late answer then
/// settles nothing. With `counts`, counts an earlier Send QOH left sending are settled
/// ([`counts_left`]): returns the records that held in doubt, by item (none without), for the
/// caller's report; `None` while a lease is live. A caller without a report to count them in
/// (a save switching the cart's adapter) leaves them to the cart's next lease or manual run.
pub(crate) fn cart_take_over(
    c: &Connection,
    cart: CartId,
    now: i64,
    counts: bool,
) -> Result<Option<Vec<(ItemId, usize)>>> {
    if live_leases(c, cart, now)? > 0 {
        return Ok(None);
    }
    leases_ahead_end(c, cart, now)?;
    let anyone = LeaseScope {
        workstation: String::new(),
        shared: true,
        stale_before: 0,
    };
    batches_lapsed(c, cart, &anyone, now)?;
    c.prepare_cached(
        "UPDATE send_groups INDEXED BY send_groups_token SET lease_token = NULL, lease_until = 0
         WHERE cart_id = ?1 AND lease_token IS NOT NULL",
    )?
    .execute([cart])?;
    match counts {
        true => Ok(Some(counts_left(c, cart, now)?)),
        false => Ok(Some(Vec::new())),
    }
}

/// Groups of `cart` under a live lease (a controller is sending them now; a lease ending
/// more than [`LEASE_AHEAD_MAX`] ahead was stamped by a clock running ahead and is not).
/// Asked every 20 ms while a manual run waits: `INDEXED BY` the index of leased groups,
/// which SQLite passed over for the cart's index and walked every group of the cart (all
/// its bypassed ones too) instead.
pub(crate) fn live_leases(c: &Connection, cart: CartId, now: i64) -> Result<i64> {
    Ok(c.prepare_cached(
        "SELECT COUNT(*) FROM send_groups INDEXED BY send_groups_token
             WHERE cart_id = ?1 AND lease_token IS NOT NULL AND lease_until > ?2
               AND lease_until <= ?3",
    )?
    .query_row(
        params![cart, now, now.saturating_add(LEASE_AHEAD_MAX)],
        |r| r.get(0),
    )?)
}

/// Of the records of (cart, item) in doubt ([`Waiting::in_doubt`]), those the cart surely
/// does not hold: bypassed on the cart's own refusal (an unknown SKU, a rejected value, a
/// refusal at every attempt), with no send of them left whose answer was lost (`unsettled`
/// 0: a keyed re-send of a lost answer keeps its mark through a refusal). (How many, their
/// deltas summed.) They wait for an operator, who retries (the cart then takes them) or
/// discards them; manual sync cannot tell which the owner means, but can say they are not
/// in the cart's count. Asked only for an item with records in doubt.
pub(crate) fn refused_for_good(c: &Connection, cart: CartId, item: ItemId) -> Result<(i64, i64)> {
    Ok(c.prepare_cached(
        "SELECT COUNT(*), COALESCE(SUM(s.delta), 0)
         FROM send_groups g JOIN stack s ON s.group_id = g.id
         WHERE g.cart_id = ?1 AND g.item_id = ?2 AND g.state = 'bypassed' AND g.unsettled = 0",
    )?
    .query_row([cart, item], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// The net change of every record of (cart, item) still on the stack, in any state.
/// What waits on the stack for (cart, item): the sum of its records' deltas, and of those
/// among them in doubt.
pub(crate) fn stack_sum(c: &Connection, cart: CartId, item: ItemId) -> Result<Waiting> {
    Ok(c.prepare_cached(
        "SELECT COALESCE(SUM(delta), 0),
                COALESCE(SUM(CASE WHEN group_id IS NULL THEN 0 ELSE delta END), 0),
                COUNT(group_id), COUNT(*)
         FROM stack WHERE cart_id = ?1 AND item_id = ?2",
    )?
    .query_row([cart, item], |r| {
        Ok(Waiting {
            sum: r.get(0)?,
            in_doubt_sum: r.get(1)?,
            in_doubt: r.get(2)?,
            records: r.get(3)?,
        })
    })?)
}

/// Every item with records waiting for `cart`: (SKU, their deltas summed, how many).
pub(crate) fn stack_sums_of_cart(c: &Connection, cart: CartId) -> Result<Vec<(String, i64, i64)>> {
    let mut st = c.prepare_cached(
        "SELECT i.sku, COALESCE(SUM(s.delta), 0), COUNT(*)
         FROM stack s JOIN items i ON i.id = s.item_id
         WHERE s.cart_id = ?1 GROUP BY s.item_id ORDER BY i.sku",
    )?;
    let rows = st.query_map([cart], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The records waiting for one cart and item, as manual sync weighs them against the cart's
/// count. A record never sent (it is in no send group) is surely not on the cart. One in a
/// send group has been sent, or is being sent, at least once without settling: the cart may
/// hold it already (an answer lost after the cart applied it), so it is in doubt until the
/// stack delivers it (a keyed re-send is answered as a duplicate) or an operator resolves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Waiting {
    /// Every waiting record's delta, summed.
    pub sum: i64,
    /// The deltas of the records in doubt, summed.
    pub in_doubt_sum: i64,
    /// How many records are in doubt.
    pub in_doubt: i64,
    /// How many records wait, in any state (a sale and a return net to 0, and are both sent).
    pub records: i64,
}

/// A pending group of (cart, item), or the item's send in a first-attempt batch (`group` the
/// batch's id, `key` the item's): its changes were leased, so a request of them may have
/// reached the cart, or may still (`stalled`: sent under a lease that lapsed and was taken
/// over, [`cart_take_over`], before it settled; always, for a batch). A group is made only
/// for a send that failed or lapsed, and its attempts do not tell (a rate limit counts none).
pub(crate) struct SentBefore {
    pub group: i64,
    pub key: String,
    pub delta: i64,
    pub stalled: bool,
}

/// The pending groups of (cart, item), and the item's send in a first-attempt batch of the
/// cart (`group` the batch's id, its key the item's), taken for stalled. Asked for every item
/// of a Send QOH, which took every lease over before it began: a batch there was leased since
/// by a controller whose clock runs ahead of the hold's end (a hold stamped by a correct
/// clock is over to it), and its request may land after the count (until 2026-12-04 that
/// change was counted twice, keys or not). `INDEXED BY`,
/// since without it Send QOH of 100,000 items ran at half the speed (`cargo bench --bench
/// ratios`: 74-77k items/s against 144-156k, three runs each), though `EXPLAIN QUERY PLAN`
/// on a fresh store names this index either way.
///
/// `batches`: whether the cart has first-attempt batches ([`CartWaiting::batches`], asked once a
/// Send QOH batch): the batches are looked in only then, as they almost never are there (the
/// union cost Send QOH of 100,000 items a tenth of its speed, 113k against 102k items/s,
/// `cargo bench --bench ratios`, 2026-12-04).
pub(crate) fn sent_before(
    c: &Connection,
    cart: CartId,
    item: ItemId,
    batches: bool,
) -> Result<Vec<SentBefore>> {
    const GROUPS: &str = "SELECT id, key, net_delta, unsettled > 0
         FROM send_groups INDEXED BY send_groups_cart_item
         WHERE cart_id = ?1 AND item_id = ?2 AND state = 'pending'";
    let mut st = if batches {
        c.prepare_cached(&format!(
            "{GROUPS}
             UNION ALL
             SELECT b.id, {ITEM_KEY_SQL}, SUM(s.delta), 1
             FROM send_groups b INDEXED BY send_groups_cart_item JOIN stack s ON s.group_id = b.id
             WHERE b.cart_id = ?1 AND b.item_id = 0 AND s.item_id = ?2 GROUP BY b.id"
        ))?
    } else {
        c.prepare_cached(GROUPS)?
    };
    let rows = st.query_map([cart, item], |r| {
        Ok(SentBefore {
            group: r.get(0)?,
            key: r.get(1)?,
            delta: r.get(2)?,
            stalled: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// What `cart` has waiting, asked once a Send QOH batch in one statement: where it has no
/// pending group and no batch, no item of it has a change [`sent_before`]; where it has no
/// record, none has a [`stack_newest`].
pub(crate) struct CartWaiting {
    /// A pending send group (one item's changes waiting to retry, or a first-attempt batch).
    pub(crate) groups: bool,
    /// A first-attempt batch (a controller's send of its records, in flight or lapsed
    /// unsettled): [`sent_before`] looks in the batches only then.
    pub(crate) batches: bool,
    /// A record on the stack.
    pub(crate) records: bool,
}

pub(crate) fn cart_waiting(c: &Connection, cart: CartId) -> Result<CartWaiting> {
    Ok(c.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM send_groups WHERE cart_id = ?1 AND state = 'pending'),
                EXISTS (SELECT 1 FROM send_groups INDEXED BY send_groups_cart_item
                        WHERE cart_id = ?1 AND item_id = 0),
                EXISTS (SELECT 1 FROM stack WHERE cart_id = ?1)",
    )?
    .query_row([cart], |r| {
        Ok(CartWaiting {
            groups: r.get(0)?,
            batches: r.get(1)?,
            records: r.get(2)?,
        })
    })?)
}

/// Holds back as uncertain the pending and bypassed groups of `cart` that may be on the cart
/// (a bypassed one kept its mark from 2026-12-04: an operator's retry after the switch sent
/// it as new) (marked so:
/// a keyed adapter's lost answer, a lease that lapsed, a Send QOH's keyed re-send; see
/// `maybe_applied`): the cart's adapter is being replaced, and only a re-send under the old
/// one's key would tell, which the new one cannot make. Until 2026-12-03 a switch to an
/// adapter without keys sent such a change again as a new one, applied twice (fixed then by
/// holding it back at its next lease); a switch to another adapter with keys still did, its
/// old key unknown to the new platform (fixed the same week, here). Until 2026-12-04 every
/// change a keyed adapter had tried was held back, one it surely never sent (the cart
/// unreachable) too, and an adapter without keys held back none, though one registered in a
/// keyed one's place (a host's, after a restart) had lost answers waiting.
///
/// Returns how many records it held back (a group is one item's records), for the save's
/// result.
pub(crate) fn groups_held_back_at_switch(c: &Connection, cart: CartId, now: i64) -> Result<usize> {
    const HELD: &str = "cart_id = ?1 AND item_id <> 0 AND state IN ('pending', 'bypassed')
           AND unsettled > 0 AND lease_token IS NULL";
    let records: i64 = c
        .prepare_cached(&format!(
            "SELECT COUNT(*) FROM stack WHERE group_id IN (SELECT id FROM send_groups WHERE {HELD})"
        ))?
        .query_row([cart], |r| r.get(0))?;
    c.prepare_cached(&format!(
        "UPDATE send_groups SET state = 'uncertain', next_attempt_at = ?2, unsettled = 0,
                last_response = 'sent through the cart''s previous adapter, whose answer was \
lost: it may be on the cart; check the cart, then retry or discard it'
         WHERE {HELD}"
    ))?
    .execute(params![cart, now])?;
    Ok(records as usize)
}

/// Marks pending `groups` as possibly on the cart (a keyed re-send of them was applied, or
/// its answer lost, outside any lease: Send QOH's): taken for lapsed at their next lease,
/// so a cart without keys holds them back ([`maybe_applied`]), and a save replacing the
/// adapter does too ([`groups_held_back_at_switch`]).
pub(crate) fn groups_maybe_applied(c: &Connection, groups: &[i64]) -> Result<()> {
    let mut st = c.prepare_cached(
        "UPDATE send_groups SET unsettled = MAX(unsettled, 1), refused = 0
         WHERE id = ?1 AND state = 'pending'",
    )?;
    for g in groups {
        st.execute([g])?;
    }
    Ok(())
}

/// Marks a pending group that no lease holds uncertain, as a controller does with a stalled
/// controller's send to a cart without keys ([`cart_take_over`] left it unleased). Returns how
/// many records it marked (0 when the group was not pending), for the caller's report.
pub(crate) fn group_held_back(
    c: &Connection,
    group: i64,
    response: &str,
    now: i64,
) -> Result<usize> {
    let marked = c
        .prepare_cached(
            "UPDATE send_groups SET state = 'uncertain', next_attempt_at = ?3, last_response = ?2,
                unsettled = 0, refused = 0
         WHERE id = ?1 AND state = 'pending' AND lease_token IS NULL",
        )?
        .execute(params![group, response, now])?;
    if marked == 0 {
        return Ok(0);
    }
    let records: i64 = c
        .prepare_cached("SELECT COUNT(*) FROM stack WHERE group_id = ?1")?
        .query_row([group], |r| r.get(0))?;
    Ok(records as usize)
}

/// How many records of (`cart`, `item`) are uncertain: of those a takeover held in doubt
/// ([`counts_left`]), the ones no count the run set has settled since.
pub(crate) fn uncertain_of_item(c: &Connection, cart: CartId, item: ItemId) -> Result<usize> {
    let n: i64 = c
        .prepare_cached(
            "SELECT COUNT(*) FROM stack s JOIN send_groups g ON g.id = s.group_id
             WHERE s.cart_id = ?1 AND s.item_id = ?2 AND g.state = 'uncertain'",
        )?
        .query_row(params![cart, item], |r| r.get(0))?;
    Ok(n as usize)
}

/// The newest record of (cart, item) on the stack, if any: what an absolute count read now
/// includes.
pub(crate) fn stack_newest(c: &Connection, cart: CartId, item: ItemId) -> Result<Option<i64>> {
    Ok(
        c.prepare_cached("SELECT MAX(id) FROM stack WHERE cart_id = ?1 AND item_id = ?2")?
            .query_row([cart, item], |r| r.get(0))?,
    )
}

/// Settles the records of each (cart, item) up to its `upto` as superseded by an absolute
/// count the cart took; returns how many. Later records stay: the count did not include them.
pub(crate) fn supersede(
    c: &Connection,
    cart: CartId,
    applied: &[(ItemId, i64)],
    now: i64,
) -> Result<usize> {
    stack_high_raise(c)?;
    let mut n = 0;
    for &(item, upto) in applied {
        n += supersede_item(c, cart, item, upto, now, "superseded by Send QOH")?;
    }
    backlog_clamp(c)?;
    Ok(n)
}

/// Notes that Send QOH is about to send `cart` the counts of `items`, each including its
/// records up to `upto` (see `counts_sending` in the schema).
pub(crate) fn counts_sending(c: &Connection, cart: CartId, items: &[(ItemId, i64)]) -> Result<()> {
    let mut st = c.prepare_cached(
        "INSERT OR REPLACE INTO counts_sending(cart_id, item_id, upto) VALUES (?1, ?2, ?3)",
    )?;
    for &(item, upto) in items {
        st.execute(params![cart, item, upto])?;
    }
    Ok(())
}

/// The carts with counts a Send QOH left sending ([`counts_left`] settles them) whose hold
/// has lapsed at `now` (a hold still running may be the run itself, alive). One walk of
/// `counts_sending`, empty but for a run sending or one killed.
pub(crate) fn carts_with_counts_left(c: &Connection, now: i64) -> Result<Vec<CartId>> {
    let carts = c
        .prepare_cached(
            "SELECT k.id FROM carts k
             WHERE k.manual_until <= ?1
               AND k.id IN (SELECT cart_id FROM counts_sending)",
        )?
        .query_map([now], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(carts)
}

/// Whether a count a Send QOH is sending, or left sending, includes a record of send group
/// `group`: the cart may have taken it, so the group must not be sent as it is.
pub(crate) fn group_in_count_left(c: &Connection, group: i64) -> Result<bool> {
    Ok(c.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM stack s JOIN counts_sending n
                          ON n.cart_id = s.cart_id AND n.item_id = s.item_id
                        WHERE s.group_id = ?1 AND s.id <= n.upto)",
    )?
    .query_row([group], |r| r.get(0))?)
}

/// The answer to the counts of `items` was settled.
pub(crate) fn counts_sent(c: &Connection, cart: CartId, items: &[ItemId]) -> Result<()> {
    let mut st =
        c.prepare_cached("DELETE FROM counts_sending WHERE cart_id = ?1 AND item_id = ?2")?;
    for &item in items {
        st.execute(params![cart, item])?;
    }
    Ok(())
}

/// Why a count left sending superseded the records it included, when they cancel out: the
/// cart is in step whether it took the count or not.
const LEFT_SENDING: &str = "superseded by Send QOH: its count included this change, and the \
     run ended before it recorded the cart's answer (a busy store, or its process ended); the \
     changes it included cancel out, so the cart is in step whether it took the count or not";

/// Why the records a count left sending included are held in doubt.
const LEFT_IN_DOUBT: &str = "a Send QOH's count included this change, and the run ended \
     before it recorded the cart's answer (a busy store, or its process ended): the cart may \
     or may not have taken the count. Check the cart: if it shows the count, discard this; \
     if not, retry it (or run Send QOH again, which sets the count and settles this)";

/// Settles the counts a Send QOH left sending to `cart` (its settlement failed, or its
/// process ended before it): the cart may or may not have taken each, so the records it
/// included are held back as uncertain ([`hold_left_in_doubt`]), never sent on top of a
/// count the cart may have taken, and a count kept of what the cart shows is settled as
/// [`kept_left`] says. Called where a controller leases or a manual run takes the cart over,
/// so nothing sends them first. Returns how many records it marked uncertain, by item (none
/// listed with 0): a pass counts them as such, and a Send QOH names them beside an item
/// whose count the cart did not take, so the report tells the owner there are changes to
/// check (until 2026-12-05 only the stack listing showed them).
pub(crate) fn counts_left(c: &Connection, cart: CartId, now: i64) -> Result<Vec<(ItemId, usize)>> {
    let left: Vec<(ItemId, i64)> = c
        .prepare_cached("SELECT item_id, upto FROM counts_sending WHERE cart_id = ?1")?
        .query_map([cart], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if left.is_empty() {
        return Ok(Vec::new());
    }
    let shown_to = cart_by_id(c, cart)?;
    stack_high_raise(c)?;
    let mut held = Vec::new();
    for &(item, upto) in &left {
        match hold_left_in_doubt(c, cart, item, upto, now)? {
            0 => {}
            n => held.push((item, n)),
        }
        kept_left(c, &shown_to, item)?;
    }
    c.prepare_cached("DELETE FROM counts_sending WHERE cart_id = ?1")?
        .execute([cart])?;
    backlog_clamp(c)?;
    Ok(held)
}

/// Settles, as [`counts_left`] does, the counts kept of what `cart` shows ([`kept_left`]) of
/// the items a Send QOH left sending it counts of, and nothing else: the notes stay, for the
/// cart's next lease or manual run to hold in doubt the records they include and count them
/// in its report. For a call that returns no report (real-time changes starting to go to the
/// cart: `manual::pulled_to_realtime`), which needs the kept counts settled first.
pub(crate) fn counts_left_kept(c: &Connection, cart: CartId) -> Result<()> {
    let items: Vec<ItemId> = c
        .prepare_cached("SELECT item_id FROM counts_sending WHERE cart_id = ?1")?
        .query_map([cart], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if items.is_empty() {
        return Ok(());
    }
    let shown_to = cart_by_id(c, cart)?;
    for item in items {
        kept_left(c, &shown_to, item)?;
    }
    Ok(())
}

/// Holds back, for the owner, the records of (`cart`, `item`) up to `upto` that a count left
/// sending included: whether the cart took the count is unknown. Those that would otherwise
/// go (waiting alone or in a pending group) become one uncertain group, or, cancelling out,
/// are superseded (the cart is in step either way); a bypassed group of them becomes
/// uncertain, so that a retry is not sent blindly on top of a count the cart may have taken;
/// an uncertain group stays as it is (each group reached the cart whole or not at all).
/// Settled as superseded, as until 2026-12-05, a sale in a count whose request never reached
/// the cart (its Send QOH killed with the request on its way, the PC switched off) left the
/// stack in silence, and the cart went on offering the units sold. Returns how many records
/// it marked uncertain (those superseded, or uncertain already, are not counted).
fn hold_left_in_doubt(
    c: &Connection,
    cart: CartId,
    item: ItemId,
    upto: i64,
    now: i64,
) -> Result<usize> {
    const WAITING: &str = "s.cart_id = ?1 AND s.item_id = ?2 AND s.id <= ?3
          AND (s.group_id IS NULL OR s.group_id IN (SELECT g.id FROM send_groups g
               WHERE g.cart_id = ?1 AND g.item_id IN (?2, 0) AND g.state = 'pending'))";
    // The records of the bypassed groups made uncertain below, counted first: the report
    // counts records, not groups.
    let bypassed: i64 = c
        .prepare_cached(
            "SELECT COUNT(*) FROM stack s WHERE s.group_id IN (SELECT g.id FROM send_groups g
               WHERE g.cart_id = ?1 AND g.item_id = ?2 AND g.state = 'bypassed'
                 AND NOT EXISTS (SELECT 1 FROM stack x WHERE x.group_id = g.id AND x.id > ?3))",
        )?
        .query_row(params![cart, item, upto], |r| r.get(0))?;
    let bypassed = bypassed as usize;
    c.prepare_cached(
        "UPDATE send_groups SET state = 'uncertain', next_attempt_at = ?4,
                    last_response = ?5, unsettled = 0, refused = 0
             WHERE cart_id = ?1 AND item_id = ?2 AND state = 'bypassed'
               AND NOT EXISTS (SELECT 1 FROM stack s WHERE s.group_id = send_groups.id
                                                       AND s.id > ?3)",
    )?
    .execute(params![cart, item, upto, now, LEFT_IN_DOUBT])?;
    let (records, net): (i64, i64) = c
        .prepare_cached(&format!(
            "SELECT COUNT(*), COALESCE(SUM(s.delta), 0) FROM stack s WHERE {WAITING}"
        ))?
        .query_row(params![cart, item, upto], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if records == 0 {
        return Ok(bypassed);
    }
    let group = if net != 0 {
        c.prepare_cached(&format!(
            "INSERT INTO send_groups(cart_id, item_id, key, net_delta, workstation, state,
                                     attempts, next_attempt_at, last_response, created_at,
                                     unsettled, first_record)
             SELECT ?1, ?2, ?4, SUM(s.delta), MIN(s.workstation), 'uncertain', 0, ?5, ?6, ?5,
                    0, MIN(s.id)
             FROM stack s WHERE {WAITING}"
        ))?
        .execute(params![
            cart,
            item,
            upto,
            super::random_key(),
            now,
            LEFT_IN_DOUBT
        ])?;
        Some(c.last_insert_rowid())
    } else {
        c.prepare_cached(&format!(
            "INSERT INTO stack_log(record_id, cart_id, item_id, delta, outcome, group_key,
                                   response, at)
             SELECT s.id, s.cart_id, s.item_id, s.delta, 'superseded', NULL, ?5, ?4
             FROM stack s WHERE {WAITING}"
        ))?
        .execute(params![cart, item, upto, now, LEFT_SENDING])?;
        None
    };
    // The records waiting alone that the backlog counted leave it.
    backlog_leave(c, cart, item, upto)?;
    if let Some(g) = group {
        c.prepare_cached(&format!(
            "UPDATE stack SET group_id = ?4 WHERE id IN (SELECT s.id FROM stack s WHERE {WAITING})"
        ))?
        .execute(params![cart, item, upto, g])?;
    } else {
        c.prepare_cached(&format!(
            "DELETE FROM stack WHERE id IN (SELECT s.id FROM stack s WHERE {WAITING})"
        ))?
        .execute(params![cart, item, upto])?;
    }
    // Groups (and first-attempt batches) left with no record go.
    c.prepare_cached(
        "DELETE FROM send_groups WHERE cart_id = ?1 AND item_id IN (?2, 0) AND state = 'pending'
           AND NOT EXISTS (SELECT 1 FROM stack s WHERE s.group_id = send_groups.id)",
    )?
    .execute([cart, item])?;
    Ok(match group {
        Some(_) => records as usize + bypassed,
        None => bypassed,
    })
}

/// The count kept of what `cart` shows of `item` after a count the cart may or may not have
/// taken (the count the store published then, which it publishes still unless a web field
/// changed meanwhile): the cart shows the one or the other, so the store takes it to show
/// the larger, and the next Get QOH errs toward fewer units. The count kept goes where the
/// store publishes at least as much, and stays otherwise. (Kept, a count of 19 the cart
/// showed after a sale made the next Get QOH read the 20 it took as the sale given back;
/// forgotten, a kept 100 over a cap set to 20 meanwhile made it read 30 units returned.)
fn kept_left(c: &Connection, cart: &Cart, item: ItemId) -> Result<()> {
    let Some(kept) = pulled_get(c, cart.id, item)? else {
        return Ok(());
    };
    let Some(target) = item_get(c, item)? else {
        return pulled_forget(c, cart.id, item);
    };
    match crate::items::published_now(c, cart, &target)? {
        Some((t, published)) if t == item && published >= kept => pulled_forget(c, cart.id, item),
        _ => Ok(()),
    }
}

/// Raises `stack_high` (schema 24) to the highest record id on the stack, if that is higher:
/// called before every statement that deletes records, so that no id a record had is given
/// to a new one ([`stack_insert_many`]). SQLite gives a new row the highest id plus one, and
/// a host acts on the numbers it listed (`invsync_stack_retry`, `invsync_stack_discard`):
/// until 2026-12-04 the newest record, once sent, gave its number to the next change's.
/// Writes the row only when records came since the last raise: a settlement of the drain
/// writes it once, not once a record as a trigger did. The highest id is read by scalar
/// subqueries (each a seek to the last row, run once), not `UPDATE … FROM` a subquery: SQLite
/// copies a `FROM` into a temporary table, made and dropped at each run, 33k instructions
/// against 6k (670 and 115 a record of the drain, 2026-12-05, callgrind).
fn stack_high_raise(c: &Connection) -> Result<()> {
    c.prepare_cached(
        "UPDATE stack_high SET id = (SELECT MAX(id) FROM stack)
         WHERE one = 1 AND (SELECT MAX(id) FROM stack) > id",
    )?
    .execute([])?;
    Ok(())
}

/// Takes out of `cart`'s backlog count (`stack_backlog`) the records of `item` up to `upto`
/// that it counted (waiting alone, in no group): called just before they leave the stack or
/// join a send group, so the count of what waits stays true without a recount.
fn backlog_leave(c: &Connection, cart: CartId, item: ItemId, upto: i64) -> Result<()> {
    c.prepare_cached(
        "UPDATE stack_backlog SET n = n - (SELECT COUNT(*) FROM stack s
             WHERE s.cart_id = ?1 AND s.item_id = ?2 AND s.id <= MIN(?3, stack_backlog.counted_to)
               AND s.group_id IS NULL)
         WHERE cart_id = ?1",
    )?
    .execute(params![cart, item, upto])?;
    Ok(())
}

/// Deletes records of (cart, item) up to `upto`: its callers raise [`stack_high_raise`] first.
fn supersede_item(
    c: &Connection,
    cart: CartId,
    item: ItemId,
    upto: i64,
    now: i64,
    response: &str,
) -> Result<usize> {
    c.prepare_cached(&format!(
        "INSERT INTO stack_log(record_id, cart_id, item_id, delta, outcome, group_key, response, at)
         SELECT s.id, s.cart_id, s.item_id, s.delta, 'superseded', {}, ?5, ?4
         FROM stack s LEFT JOIN send_groups g ON g.id = s.group_id
         WHERE s.cart_id = ?1 AND s.item_id = ?2 AND s.id <= ?3",
        record_key_sql()
    ))?
    .execute(params![cart, item, upto, now, response])?;
    backlog_leave(c, cart, item, upto)?;
    let n = c
        .prepare_cached("DELETE FROM stack WHERE cart_id = ?1 AND item_id = ?2 AND id <= ?3")?
        .execute(params![cart, item, upto])?;
    c.prepare_cached(
        "DELETE FROM send_groups WHERE cart_id = ?1 AND item_id = ?2
         AND NOT EXISTS (SELECT 1 FROM stack s WHERE s.group_id = send_groups.id)",
    )?
    .execute([cart, item])?;
    Ok(n)
}

/// The carts (`cart`, or all if 0) whose row of `stack_backlog` was brought up to date more
/// than `by` records ago (counted in ids of any cart: an upper bound on the cart's own).
pub(crate) fn carts_behind(c: &Connection, cart: CartId, by: i64) -> Result<Vec<CartId>> {
    Ok(c.prepare_cached(
        "SELECT k.id FROM carts k
         WHERE (?1 = 0 OR k.id = ?1)
           AND (SELECT COALESCE(MAX(id), 0) FROM stack)
               - COALESCE((SELECT counted_to FROM stack_backlog b WHERE b.cart_id = k.id), 0) > ?2",
    )?
    .query_map([cart, by], |r| r.get(0))?
    .collect::<rusqlite::Result<_>>()?)
}

/// Brings `cart`'s row of `stack_backlog` up to the newest record: counts its ungrouped
/// records enqueued since the last count, so each record is counted once, not once a pass.
/// Runs in a write transaction: the lease's, so no record arrives between the count and the
/// grouping that follows it, or the report's (see `WebStack::waiting` of `SqliteStack`).
pub(crate) fn backlog_catch_up(c: &Connection, cart: CartId) -> Result<()> {
    let top: i64 = c
        .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM stack")?
        .query_row([], |r| r.get(0))?;
    c.prepare_cached(
        "INSERT INTO stack_backlog(cart_id, counted_to, n)
         VALUES (?1, ?2, (SELECT COUNT(*) FROM stack WHERE cart_id = ?1 AND group_id IS NULL
                   AND id > COALESCE((SELECT counted_to FROM stack_backlog WHERE cart_id = ?1), 0)
                   AND id <= ?2))
         ON CONFLICT(cart_id) DO UPDATE SET n = n + excluded.n, counted_to = excluded.counted_to",
    )?
    .execute([cart, top])?;
    Ok(())
}

/// Takes `grouped` records off `cart`'s counted ungrouped records. Once none is left
/// ungrouped the count starts again from 0, which also heals one an older build's process
/// (writing to the same file without keeping `stack_backlog`) put off. Asked of the index of
/// ungrouped records only (see [`stack_count`]): this runs at every lease.
fn backlog_grouped(c: &Connection, cart: CartId, grouped: i64) -> Result<()> {
    c.prepare_cached(
        "UPDATE stack_backlog SET n = CASE WHEN EXISTS (SELECT 1 FROM stack
                                                        INDEXED BY stack_ungrouped
                                                        WHERE cart_id = ?1 AND group_id IS NULL)
                                      THEN n - ?2 ELSE 0 END
         WHERE cart_id = ?1",
    )?
    .execute([cart, grouped])?;
    Ok(())
}

/// After records left the stack: SQLite gives a new record the highest id plus one, so once
/// the newest records are gone, ids at or below a cart's `counted_to` are given out again.
/// Lowering `counted_to` to the highest id left keeps such a record out of the count already
/// taken (no record above the new mark exists, so `n` is unchanged). Every function that
/// deletes from the stack ends with this, in its transaction and before any record is added.
/// The highest id is read first and bound: SQLite copies the rows an `UPDATE` scans into a
/// temporary table, made and dropped at each run, when its `WHERE` holds a subquery (20k
/// instructions a run) or it is `UPDATE … FROM` one (33k), where these two take 8k (670
/// against 160 a record of the drain, 2026-12-05, callgrind).
fn backlog_clamp(c: &Connection) -> Result<()> {
    let top: i64 = c
        .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM stack")?
        .query_row([], |r| r.get(0))?;
    c.prepare_cached("UPDATE stack_backlog SET counted_to = ?1 WHERE counted_to > ?1")?
        .execute([top])?;
    Ok(())
}

/// Rows of the stack's history one prune step examines: by id, which is the order of time
/// (but for entries written while a clock ran ahead), so a step never walks the whole log.
const PRUNE_STEP: i64 = 5_000;

/// What one prune step did.
pub(crate) struct PruneStep {
    /// Entries forgotten.
    pub(crate) gone: usize,
    /// The last id the step looked at; 0 when there was none to look at.
    pub(crate) last: i64,
    /// Whether every entry it looked at is dated after now (written while a clock ran
    /// ahead): entries due to go may follow them.
    pub(crate) all_ahead: bool,
}

/// One step of forgetting history older than `before`: of the [`PRUNE_STEP`] entries after
/// id `after`, those older than `before` go.
pub(crate) fn stack_log_prune(
    c: &Connection,
    before: i64,
    after: i64,
    now: i64,
) -> Result<PruneStep> {
    let (last, all_ahead): (i64, bool) = c
        .prepare_cached(
            "SELECT COALESCE(MAX(id), 0), COALESCE(MIN(at) > ?3, 0)
             FROM (SELECT id, at FROM stack_log WHERE id > ?1 ORDER BY id LIMIT ?2)",
        )?
        .query_row(params![after, PRUNE_STEP, now], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let gone = c
        .prepare_cached(
            "DELETE FROM stack_log
             WHERE id IN (SELECT id FROM stack_log WHERE id > ?1 ORDER BY id LIMIT ?2)
               AND at < ?3",
        )?
        .execute(params![after, PRUNE_STEP, before])?;
    Ok(PruneStep {
        gone,
        last,
        all_ahead,
    })
}

pub(crate) fn stack_log_count(c: &Connection, outcome: &str) -> Result<i64> {
    Ok(
        c.prepare_cached("SELECT COUNT(*) FROM stack_log WHERE outcome = ?1")?
            .query_row([outcome], |r| r.get(0))?,
    )
}

// ---- controllers ------------------------------------------------------------------------

/// Ends the pause a controller declared with the heartbeat `declared`: `workstation` was
/// last seen at `now` at the latest. Only while the row still holds that heartbeat: another
/// controller of the same name that beat since keeps the pause it declared.
pub(crate) fn heartbeat_end(
    c: &Connection,
    workstation: &str,
    declared: i64,
    now: i64,
) -> Result<()> {
    c.prepare_cached(
        "UPDATE heartbeats SET last_seen = MIN(last_seen, ?3)
         WHERE workstation = ?1 AND last_seen = ?2",
    )?
    .execute(params![workstation, declared, now])?;
    Ok(())
}

/// How far past the caller's own heartbeat another workstation's can honestly be: a
/// heartbeat is stamped `now` plus the pause declared before the next pass (at most the
/// longest pass interval, 1 hour, `check_interval`), and the caller's own is at least its
/// `now`; plus [`LOG_SKEW`] between workstations' clocks. One further ahead was written by a
/// clock running ahead: left alone, a workstation that wrote it and then stopped (a PC a
/// day fast, switched off) stayed alive to the others, in local mode, for the whole
/// difference, and its records were sent by no one. It is taken as stale (its `last_seen`
/// set to 0) at every other controller's heartbeat.
///
/// Safe: a workstation taken for stale loses only the claim on its records; what it has
/// leased stays its own until the lease ends ([`LEASE_AHEAD_MAX`]), and a group leased by two
/// controllers is held back from a cart without keys as any lapsed one. A live workstation
/// whose clock runs this far ahead merely shares its records with the others.
pub(crate) const HEARTBEAT_AHEAD_MAX: i64 = 3_600_000 + LOG_SKEW;

/// Writes `workstation`'s heartbeat (`now`: the end of its declared pause), and takes every
/// heartbeat more than [`HEARTBEAT_AHEAD_MAX`] past it for stale.
pub(crate) fn heartbeat(c: &Connection, workstation: &str, now: i64) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO heartbeats(workstation, last_seen) VALUES (?1, ?2)
         ON CONFLICT(workstation) DO UPDATE SET last_seen = excluded.last_seen",
    )?
    .execute(params![workstation, now])?;
    c.prepare_cached("UPDATE heartbeats SET last_seen = 0 WHERE last_seen > ?1")?
        .execute([now.saturating_add(HEARTBEAT_AHEAD_MAX)])?;
    Ok(())
}

/// Forgets the heartbeats last seen before `before` (Unix ms), and those a clock running
/// ahead left taken for stale (`last_seen` 0, [`HEARTBEAT_AHEAD_MAX`]); returns how many
/// went. Every reader of the table ([`scope_sql`], [`hand_over`]) takes a row seen before its
/// `stale_before` exactly as a name with no row, so a row that old is forgotten without any
/// controller deciding otherwise (the bound: `HEARTBEAT_FORGET_MS`, in the controller).
pub(crate) fn heartbeats_forget(c: &Connection, before: i64) -> Result<usize> {
    Ok(
        c.prepare_cached("DELETE FROM heartbeats WHERE last_seen < ?1")?
            .execute([before])?,
    )
}

/// Leaves the controller's workstation's waiting records for `cart` (ungrouped, in retry
/// groups, and in first-attempt batches whose lease lapsed, as when its controller crashed
/// mid-send) to the other workstations' controllers: renamed to `"<workstation> (handed
/// over)"`, a name no controller beats for (a workstation that took it would only send them
/// itself), so any live local controller takes them as it takes a silent workstation's. Only
/// while another workstation's controller is alive: alone, the rename would help no one and
/// blur the listing. Groups on a live lease stay with it. Returns how many records moved.
pub(crate) fn hand_over(
    c: &Connection,
    cart: CartId,
    scope: &LeaseScope,
    now: i64,
) -> Result<usize> {
    let others: bool = c
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM heartbeats
                            WHERE workstation <> ?1 AND last_seen >= ?2)",
        )?
        .query_row(params![scope.workstation, scope.stale_before], |r| r.get(0))?;
    if !others {
        return Ok(0);
    }
    // A lapsed batch becomes retry groups, handed over below with the rest.
    leases_ahead_end(c, cart, now)?;
    batches_lapsed(c, cart, scope, now)?;
    let to = format!("{} (handed over)", scope.workstation);
    c.prepare_cached(
        "UPDATE send_groups SET workstation = ?3
         WHERE cart_id = ?1 AND item_id <> 0 AND workstation = ?2 AND state = 'pending'
           AND lease_until <= ?4",
    )?
    .execute(params![cart, scope.workstation, to, now])?;
    // The records that wait alone, and those of the groups just handed over (or earlier).
    Ok(c.prepare_cached(
        "UPDATE stack SET workstation = ?3
         WHERE cart_id = ?1 AND workstation = ?2
           AND (group_id IS NULL OR group_id IN (
               SELECT g.id FROM send_groups g WHERE g.cart_id = ?1 AND g.workstation = ?3))",
    )?
    .execute(params![cart, scope.workstation, to])?)
}

/// The part of a lock holder (`"{workstation} #{hold id}"`) that says who holds it: the hold,
/// whatever its workstation is called now. A handle renamed (`Workstation`) is the same
/// holder: matched by its whole name, it stood by for its own lock until that lapsed.
fn hold_of(holder: &str) -> &str {
    holder.rfind(" #").map_or(holder, |i| &holder[i..])
}

/// The furthest past the reader's clock an honest end of the shared-controller lock can be:
/// `3 × LeaseMs` at its largest (3 hours) and the longest pass interval a holder may declare
/// or run at (1 hour, `check_interval`), the most a pass or a renewal stamps (`now + 3 ×
/// LeaseMs + interval`), plus [`LOG_SKEW`] between workstations' clocks. A lock ending
/// further ahead was taken by a clock running ahead; it is taken as ended, else a holder
/// that crashed before its clock was corrected kept every cart's changes back (standby)
/// for the whole difference.
///
/// Two shared controllers at once are safe: each sends only what it leased, and its leases
/// (stamped by the same clock) are taken over as any lapsed lease ([`LEASE_AHEAD_MAX`]).
pub(crate) const LOCK_AHEAD_MAX: i64 = 4 * 3_600_000 + LOG_SKEW;

/// Takes the shared-controller lock for `holder` until `until`, or renews it; false while
/// another holds it (a lock ending more than [`LOCK_AHEAD_MAX`] past `now` is held by no one).
pub(crate) fn shared_lock(c: &Connection, holder: &str, now: i64, until: i64) -> Result<bool> {
    Ok(c.prepare_cached(
        "INSERT INTO controller_lock(name, holder, until) VALUES ('shared', ?1, ?3)
             ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, until = excluded.until
             WHERE substr(controller_lock.holder, -length(?4)) = ?4
                OR controller_lock.until < ?2 OR controller_lock.until > ?5",
    )?
    .execute(params![
        holder,
        now,
        until,
        hold_of(holder),
        now.saturating_add(LOCK_AHEAD_MAX)
    ])? > 0)
}

/// Gives the shared-controller lock back if `holder` has it.
pub(crate) fn shared_lock_release(c: &Connection, holder: &str) -> Result<()> {
    c.prepare_cached(
        "UPDATE controller_lock SET until = 0
         WHERE name = 'shared' AND substr(holder, -length(?1)) = ?1",
    )?
    .execute([hold_of(holder)])?;
    Ok(())
}

/// Whether this build of SQLite keeps one page cache for every connection of the process (its
/// memory management compiled in: libsqlite3-sys's default up to 0.38, and a build that asks
/// for it with `LIBSQLITE3_FLAGS`). (In `src/stack.rs` until 2026-12-05: the one SQL outside this module, which
/// DESIGN §5 keeps here, for the PostgreSQL backend to follow.)
pub(crate) fn shares_page_cache(c: &Connection) -> Result<bool> {
    Ok(c.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_compile_options
                        WHERE compile_options = 'ENABLE_MEMORY_MANAGEMENT')",
        [],
        |r| r.get(0),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch's item keys are derived in Rust at the lease ([`item_key`]) and in SQL at the
    /// settle and everywhere a record's key is read ([`ITEM_KEY_SQL`]): a key that differed
    /// by one character would resend a change whose answer was lost under a new key, and the
    /// cart would apply it twice. Both agree on every salt and item id the store makes (each
    /// below 2^48), and on a key whose 24 first characters are not all ASCII.
    #[test]
    fn item_keys_derived_in_rust_are_those_sql_derives() {
        let c = Connection::open_in_memory().unwrap();
        let mut st = c
            .prepare(&format!(
                "SELECT {ITEM_KEY_SQL} FROM (SELECT ?1 AS key, ?2 AS key_salt) b,
                                            (SELECT ?3 AS item_id) s"
            ))
            .unwrap();
        let keys = [
            "0123456789abcdef0123456789abcdef",
            "é-batch-key-with-accents-ñ-0042",
        ];
        let mut values: Vec<i64> = vec![0, 1, 15, 16, 0xfff_ffff_ffff, (1 << 48) - 1];
        for _ in 0..500 {
            values.push((rand::random::<u64>() >> 16) as i64);
        }
        for key in keys {
            for &salt in &values {
                for &item in values.iter().take(40) {
                    let sql: String = st
                        .query_row(params![key, salt, item], |r| r.get(0))
                        .unwrap();
                    assert_eq!(
                        item_key(item_key_prefix(key), salt, item),
                        sql,
                        "key {key:?}, salt {salt}, item {item}"
                    );
                }
            }
        }
    }
}
