//! The entry points of contract v1, in the order of DESIGN §9's table.
//!
//! Every function here is `unsafe`: the caller upholds what its `# Safety` section says
//! (pointers NULL or valid for what they claim); every other input, including NULL where it is
//! not allowed, non-UTF-8 text and out-of-range numbers, returns a status with a message.

use super::util::*;
use super::*;
use crate::{Adjustment, Delta, GetOptions, Reason, SendOptions, StackState};
use std::ffi::{c_char, c_void};
use std::time::Duration;

/// Returns the ABI version this library implements (`INVSYNC_ABI_VERSION`, 1). A host
/// compares it with the header's `INVSYNC_ABI_VERSION` before any other call.
/// Thread safety: any thread, any time.
#[no_mangle]
pub extern "C" fn invsync_abi_version() -> i32 {
    INVSYNC_ABI_VERSION
}

/// Copies the calling thread's last failure message (empty when no call failed yet) into
/// `buf`. It names the function and what was at fault and never contains a secret.
///
/// Buffers: `needed` (bytes with the NUL) is written when not NULL, unless the buffer is
/// refused (`len` negative: `INVSYNC_INVALID_ARGUMENT`; `buf` NULL with `len` not 0:
/// `INVSYNC_NULL_POINTER`), which leaves it; `buf = NULL, len = 0` asks the size; a
/// too-small buffer gets nothing and the call returns `INVSYNC_BUFFER_TOO_SMALL`. This call
/// never replaces the message it reads, even when it fails.
///
/// # Safety
/// `buf` is NULL or writable for `len` bytes; `needed` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn invsync_last_error(buf: *mut c_char, len: i32, needed: *mut i32) -> i32 {
    let msg = last_error();
    let result = std::panic::catch_unwind(|| {
        TextOut::new(buf, len, needed).and_then(|out| {
            // SAFETY: the caller's contract on buf, len and needed.
            unsafe { out.write(&msg) }
        })
    });
    match result {
        Ok(Ok(())) => INVSYNC_OK,
        Ok(Err(f)) => f.status,
        Err(_) => INVSYNC_PANIC,
    }
}

/// Opens or creates the store file at `path` (UTF-8) and migrates its schema. On success
/// `*out` receives a new handle, owned by the caller and freed with `invsync_store_close`;
/// on failure `*out` is left untouched. A store must be a file: an empty path, `:memory:` or
/// a `file:` URI with `mode=memory` is `INVSYNC_INVALID_ARGUMENT`, as is one with
/// `cache=shared` (whose locks SQLite does not wait on), `nolock=1` or a VFS without locks
/// (two writers would overwrite each other's changes), or `mode=ro` or `immutable=1` (the
/// store is written to). `mode=rwc` is left out (the file is created where missing).
/// `INVSYNC_REFUSED` (from 2026-12-05) while another machine has the file open, that machine
/// named in the message: a store is for one machine's processes (the file `<path>-machine`
/// beside it says whose; see the README's Store section).
///
/// NULL: `path` and `out` are required. Thread safety: any thread; the new handle may be used
/// from several threads (see the conventions at the top of this header).
///
/// # Safety
/// `path` is NULL or NUL-terminated; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn invsync_store_open(
    path: *const c_char,
    out: *mut *mut InvsyncStore,
) -> i32 {
    entry("invsync_store_open", || {
        // SAFETY: the caller's contract on path.
        let path = unsafe { str_in(path, "path", INVSYNC_MAX_NAME_IN) }?;
        let out = out_ptr(out, "out")?;
        let store = Store::open(path)?;
        let handle = Box::into_raw(Box::new(InvsyncStore {
            store,
            state: Default::default(),
        }));
        // SAFETY: out was checked non-NULL and is writable by the caller's contract.
        unsafe { put(out, handle) };
        Ok(())
    })
}

/// Closes a handle: stops its background controller (after its current pass), rolls back an
/// open host transaction, and frees it. NULL is a no-op. A call still inside the library on
/// this handle (the caller of a progress callback that closes it, as a VBA `DoEvents` lets a
/// Close button do; another thread's call) finishes first: the handle is freed when the last
/// of them returns.
///
/// Thread safety: the handle must not be used afterwards, by any thread: no call may start
/// on it once the close has begun.
///
/// # Safety
/// `store` is NULL or a live handle from `invsync_store_open`, closed only once.
#[no_mangle]
pub unsafe extern "C" fn invsync_store_close(store: *mut InvsyncStore) {
    if store.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: a live handle made by Box::into_raw in invsync_store_open, closed once.
        unsafe { close(store) };
    }));
}

/// Sets a parameter: `SynchQOH` (`true`/`false`), `BypassAfterAttempts` (10), `RetryBaseMs`
/// (1000), `RetryMaxMs` (300000), `LeaseMs` (60000), `StackMode` (`local`/`shared`),
/// `StackHistoryDays` (90; 0 keeps the stack's history for ever), and, for this handle only,
/// `Workstation` (default the host name) and `PassIntervalMs` (0: how often at most the host
/// calls `invsync_stack_run` on its own timer, 1 to 3600000 ms; declared, a shared
/// controller holds the store's lock, and a local one stays alive to the others, through
/// that pause; 0 declares none). An unknown name or a bad value is
/// `INVSYNC_INVALID_ARGUMENT` and changes nothing.
/// Where the call makes real-time changes start going to a cart a manual run holds, and that
/// is owed a correction (what a Get QOH or an imported order left it counting), it is
/// `INVSYNC_BUSY` and changes nothing.
///
/// NULL: all required. Thread safety: any thread.
///
/// # Safety
/// `store` is NULL or a live handle; `name` and `value` are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn invsync_param_set(
    store: *mut InvsyncStore,
    name: *const c_char,
    value: *const c_char,
) -> i32 {
    entry("invsync_param_set", || {
        // SAFETY: the caller's contract on each pointer.
        let (store, name, value) = unsafe {
            (
                store_ref(store)?,
                str_in(name, "name", INVSYNC_MAX_NAME_IN)?,
                str_in(value, "value", INVSYNC_MAX_NAME_IN)?,
            )
        };
        Ok(store.set_param(name, value)?)
    })
}

/// Copies a parameter's value as text (its default when never set) into `buf`. An unknown
/// name is `INVSYNC_INVALID_ARGUMENT`.
///
/// Buffers: as `invsync_last_error`. NULL: `store` and `name` required. Thread safety: any
/// thread.
///
/// # Safety
/// `store` is NULL or a live handle; `name` is NULL or NUL-terminated; `buf` is NULL or
/// writable for `len` bytes; `needed` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn invsync_param_get(
    store: *mut InvsyncStore,
    name: *const c_char,
    buf: *mut c_char,
    len: i32,
    needed: *mut i32,
) -> i32 {
    entry("invsync_param_get", || {
        // SAFETY: the caller's contract on each pointer.
        let (store, name) = unsafe {
            (
                store_ref(store)?,
                str_in(name, "name", INVSYNC_MAX_NAME_IN)?,
            )
        };
        let out = TextOut::new(buf, len, needed)?;
        let value = store.param(name)?;
        // SAFETY: the caller's contract on buf, len and needed.
        unsafe { out.write(&value) }
    })
}

/// Defines a cart, or updates the one with the same `name`, from JSON
/// `{"name","adapter","url","token"?,"capabilities":{"send","get","realtime"},
/// "max_items_to_send"?,"retains_basket"?}` (secrets may be `"env:NAME"`). A new cart starts
/// with *Synchronize Inventory* off. On success `*out_cart_id` receives its id. A `url` with a
/// query or fragment, a secret that is empty or holds characters an HTTP header cannot carry,
/// or settings the built-in adapter cannot be built from (a missing token or location, a
/// location that is not a number) is `INVSYNC_INVALID_ARGUMENT`, naming the setting, and
/// changes nothing. An update that changes the adapter or its
/// settings (credentials, URL) lifts the cart's pause and back-off; one that changes only its
/// capabilities or batch size leaves a running `Retry-After` alone. A change of its real-time
/// level while records wait for it is `INVSYNC_REFUSED`; so is a new name for the shop another
/// cart already is (the same built-in adapter, URL and stock location; for `http_json` the
/// same credentials too), which would receive every change twice. A name another cart has in
/// another case, or holding a control character, a line separator or a bidirectional override,
/// is `INVSYNC_INVALID_ARGUMENT`.
/// Where the call makes real-time changes start going to a cart a manual run holds, and that
/// is owed a correction (what a Get QOH or an imported order left it counting), it is
/// `INVSYNC_BUSY` and changes nothing; so is a change of the adapter, the shop (URL, stock
/// location) or the real-time level while a Send QOH, Get QOH or drift repair runs for the
/// cart.
///
/// NULL: all required. Thread safety: any thread.
///
/// # Safety
/// `store` is NULL or a live handle; `cart_json` is NULL or NUL-terminated; `out_cart_id` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn invsync_cart_upsert(
    store: *mut InvsyncStore,
    cart_json: *const c_char,
    out_cart_id: *mut i32,
) -> i32 {
    entry("invsync_cart_upsert", || {
        // SAFETY: the caller's contract on each pointer.
        let (store, json) = unsafe {
            (
                store_ref(store)?,
                str_in(cart_json, "cart_json", INVSYNC_MAX_TEXT_IN)?,
            )
        };
        let out = out_ptr(out_cart_id, "out_cart_id")?;
        let id = to_i32(store.upsert_cart_json(json)?, "cart id")?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { put(out, id) };
        Ok(())
    })
}

/// As `invsync_cart_upsert`, and on success `*out_uncertain` receives how many records of the
/// cart's web stack the save held back as uncertain: with a change of the adapter, the
/// changes that may already be on the cart (sent through the old adapter, whose answer was
/// lost), which the new adapter cannot tell from new ones. The owner checks the cart's counts,
/// then retries or discards each (`invsync_stack_list` with state 3 lists them); 0 for a save
/// that keeps the adapter. Added within ABI version 1 (2026-12-05): a host checks for the
/// export before calling it (`invsync_cart_upsert` holds them back alike, and says nothing).
///
/// NULL: all required (checked before anything is saved). Thread safety: any thread.
///
/// # Safety
/// `store` is NULL or a live handle; `cart_json` is NULL or NUL-terminated; `out_cart_id` and
/// `out_uncertain` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn invsync_cart_save(
    store: *mut InvsyncStore,
    cart_json: *const c_char,
    out_cart_id: *mut i32,
    out_uncertain: *mut i32,
) -> i32 {
    entry("invsync_cart_save", || {
        // SAFETY: the caller's contract on each pointer.
        let (store, json) = unsafe {
            (
                store_ref(store)?,
                str_in(cart_json, "cart_json", INVSYNC_MAX_TEXT_IN)?,
            )
        };
        let out_id = out_ptr(out_cart_id, "out_cart_id")?;
        let out_uncertain = out_ptr(out_uncertain, "out_uncertain")?;
        let saved = store.save_cart_json(json)?;
        let id = to_i32(saved.id, "cart id")?;
        // SAFETY: both checked non-NULL; writable by the caller's contract.
        unsafe {
            put(out_id, id);
            put(out_uncertain, saved.uncertain.min(i32::MAX as usize) as i32);
        }
        Ok(())
    })
}

/// Ticks (`on` = 1) or clears (`on` = 0) a cart's *Synchronize Inventory* box; any other
/// value is `INVSYNC_INVALID_ARGUMENT`. Queuing for the cart starts at once. Ticking it for a
/// cart without real-time sync (`capabilities.realtime` `none`) is `INVSYNC_REFUSED`.
/// Where the call makes real-time changes start going to a cart a manual run holds, and that
/// is owed a correction (what a Get QOH or an imported order left it counting), it is
/// `INVSYNC_BUSY` and changes nothing.
///
/// NULL: `store` required. Thread safety: any thread.
///
/// # Safety
/// `store` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn invsync_cart_set_sync(
    store: *mut InvsyncStore,
    cart_id: i32,
    on: i32,
) -> i32 {
    entry("invsync_cart_set_sync", || {
        // SAFETY: the caller's contract on store.
        let store = unsafe { store_ref(store)? };
        let cart = super::util::cart_id(cart_id)?;
        let on = match on {
            0 => false,
            1 => true,
            _ => return Err(Failure::invalid(format!("on must be 0 or 1, not {on}"))),
        };
        Ok(store.set_cart_sync(cart, on)?)
    })
}

/// Copies the carts as a JSON array into `buf`, without secrets (only whether each is set).
///
/// Buffers: as `invsync_last_error`. NULL: `store` required. Thread safety: any thread.
///
/// # Safety
/// `store` is NULL or a live handle; `buf` is NULL or writable for `len` bytes; `needed` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn invsync_cart_list(
    store: *mut InvsyncStore,
    buf: *mut c_char,
    len: i32,
    needed: *mut i32,
) -> i32 {
    entry("invsync_cart_list", || {
        // SAFETY: the caller's contract on store.
        let store = unsafe { store_ref(store)? };
        let out = TextOut::new(buf, len, needed)?;
        let json = store.carts_json()?;
        // SAFETY: the caller's contract on buf, len and needed.
        unsafe { out.write(&json) }
    })
}

/// Deletes a cart. `INVSYNC_REFUSED` while it has records on the web stack (discard them
/// first; one waiting to be sent can be discarded only once bypassed, and the message says how
/// many wait); `INVSYNC_BUSY` while a Send QOH, Get QOH or drift repair runs for it;
/// `INVSYNC_NOT_FOUND` for an unknown id. A cart whose shop is gone is removed with its
/// records by `invsync_cart_retire`.
///
/// NULL: `store` required. Thread safety: any thread.
///
/// # Safety
/// `store` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn invsync_cart_delete(store: *mut InvsyncStore, cart_id: i32) -> i32 {
    entry("invsync_cart_delete", || {
        // SAFETY: the caller's contract on store.
        let store = unsafe { store_ref(store)? };
        Ok(store.delete_cart(super::util::cart_id(cart_id)?)?)
    })
}

/// Retires a cart whose shop is gone: deletes it with every record it has on the web stack
/// (waiting, bypassed or uncertain), each logged as discarded with the cart, the cart not
/// told, in one transaction (a crash leaves the cart with all its records, or neither); on
/// success `*out_discarded` receives how many records went. Other carts' records stay. For a
/// cart that will not come back: a shop merely down gets its waiting sales once it answers.
/// `INVSYNC_BUSY`, with nothing changed, while a send to the cart may be in flight (a stack
/// controller holds a live lease of its records: stop the controller or wait for its pass,
/// and call again) or a Send QOH, Get QOH or drift repair holds it; `INVSYNC_NOT_FOUND` for
/// an unknown id. Added within ABI version 1 (2026-12-05): a host checks for the export
/// before calling it.
///
/// NULL: all required (`out_discarded` NULL is `INVSYNC_NULL_POINTER`, checked before
/// anything is done). Thread safety: any thread.
///
/// # Safety
/// `store` is NULL or a live handle; `out_discarded` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn invsync_cart_retire(
    store: *mut InvsyncStore,
    cart_id: i32,
    out_discarded: *mut i32,
) -> i32 {
    entry("invsync_cart_retire", || {
        // SAFETY: the caller's contract on store.
        let store = unsafe { store_ref(store)? };
        let out = out_ptr(out_discarded, "out_discarded")?;
        let n = store.retire_cart(super::util::cart_id(cart_id)?)?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { put(out, n.min(i32::MAX as usize) as i32) };
        Ok(())
    })
}

/// Creates an item or updates one from JSON
/// `{"sku","qoh"?,"parent_sku"?,"attributes"?:{"Size":"M"},"description"?}`. A SKU is read
/// trimmed, and is then 1 to 255 bytes of UTF-8 without a control character (otherwise
/// `INVSYNC_INVALID_ARGUMENT`: size a SKU field in bytes, not characters). `qoh` is allowed
/// only when the item is created (its initial count, which queues nothing);
/// for an existing item it is `INVSYNC_REFUSED`: QOH then changes only by an adjustment.
///
/// NULL: all required. Thread safety: any thread.
///
/// # Safety
/// `store` is NULL or a live handle; `item_json` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn invsync_item_upsert(
    store: *mut InvsyncStore,
    item_json: *const c_char,
) -> i32 {
    entry("invsync_item_upsert", || {
        // SAFETY: the caller's contract on each pointer.
        let (store, json) = unsafe {
            (
                store_ref(store)?,
                str_in(item_json, "item_json", INVSYNC_MAX_TEXT_IN)?,
            )
        };
        store.upsert_item_json(json)?;
        Ok(())
    })
}

/// Copies items as a JSON array into `buf`, by SKU. `filter_json` is optional (NULL: the first
/// 1000 items): `{"sku_prefix"?, "parent_sku"?, "limit"?}` (`limit` 1 to 1000000; 1000 when
/// not given).
///
/// Buffers: as `invsync_last_error`. NULL: `store` required; `filter_json` optional. Thread
/// safety: any thread.
///
/// # Safety
/// `store` is NULL or a live handle; `filter_json` is NULL or NUL-terminated; `buf` is NULL
/// or writable for `len` bytes; `needed` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn invsync_item_list(
    store: *mut InvsyncStore,
    filter_json: *const c_char,
    buf: *mut c_char,
    len: i32,
    needed: *mut i32,
) -> i32 {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        filtered_list(
            "invsync_item_list",
            store,
            filter_json,
            buf,
            len,
            needed,
            Store::items_json,
        )
    }
}

/// Deletes an item. `INVSYNC_REFUSED` while it has records on the web stack or variants, or
/// while a cart real-time changes go to shows a count of it other than 0 (adjust it to 0
/// first), also one it was taken off while it showed one (put it back on that cart first);
/// `INVSYNC_NOT_FOUND` for an unknown SKU. A cart real-time changes do not reach that was sent
/// or read the item's count is set to 0 for it at its next `invsync_send_qoh` (refused, as
/// above, where the item was taken off it with a count of it kept other than 0).
///
/// NULL: all required. Thread safety: any thread.
///
/// # Safety
/// `store` is NULL or a live handle; `sku` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn invsync_item_delete(store: *mut InvsyncStore, sku: *const c_char) -> i32 {
    entry("invsync_item_delete", || {
        // SAFETY: the caller's contract on each pointer.
        let (store, sku) = unsafe { (store_ref(store)?, str_in(sku, "sku", INVSYNC_MAX_NAME_IN)?) };
        Ok(store.delete_item(sku)?)
    })
}

/// Sets web fields of one item on one cart from JSON
/// `{"remote_ref"?,"sync"?:true,"buffer"?:0,"max_publish"?:null}`; keys left out keep their
/// value. When the cart syncs in real time, a change of its published count is queued. A
/// `remote_ref` the cart's adapter cannot read (any on an `http_json` or BigCommerce cart; a
/// Shopify one that names no inventory item; a WooCommerce one that is not `123` or
/// `123/456`) is `INVSYNC_INVALID_ARGUMENT`, and nothing changes; so is a call that keeps
/// such a reference stored before: clear it (`"remote_ref":null`) or set one it reads. So is
/// a `remote_ref` naming what another item's on the same cart names (`7` and
/// `gid://shopify/InventoryItem/7` name one): the cart keeps one count for the two; the
/// message names the other item. A cart given another adapter forgets its items' references.
///
/// NULL: all required. Thread safety: any thread.
///
/// # Safety
/// `store` is NULL or a live handle; `sku` and `json` are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn invsync_web_fields_set(
    store: *mut InvsyncStore,
    cart_id: i32,
    sku: *const c_char,
    json: *const c_char,
) -> i32 {
    entry("invsync_web_fields_set", || {
        // SAFETY: the caller's contract on each pointer.
        let (store, sku, json) = unsafe {
            (
                store_ref(store)?,
                str_in(sku, "sku", INVSYNC_MAX_NAME_IN)?,
                str_in(json, "json", INVSYNC_MAX_TEXT_IN)?,
            )
        };
        Ok(store.set_web_fields(super::util::cart_id(cart_id)?, sku, json)?)
    })
}

/// The shared body of the two adjust calls.
///
/// # Safety
/// As `invsync_adjust_qoh_ref`.
#[allow(clippy::too_many_arguments)] // the C signature's parameters, one for one
unsafe fn adjust(
    name: &'static str,
    store: *mut InvsyncStore,
    sku: *const c_char,
    delta: i32,
    reason: i32,
    origin_cart_id: i32,
    flags: i32,
    host_ref: Option<*const c_char>,
) -> i32 {
    entry(name, || {
        // SAFETY: the caller's contract on each pointer.
        let (store, sku) = unsafe { (store_ref(store)?, str_in(sku, "sku", INVSYNC_MAX_NAME_IN)?) };
        let host_ref = match host_ref {
            // SAFETY: the caller's contract on host_ref.
            Some(p) => Some(unsafe { str_in(p, "host_ref", INVSYNC_MAX_NAME_IN)? }),
            None => None,
        };
        check_flags(flags, INVSYNC_ADJUST_NO_WEB, "flags")?;
        let origin = zero_means(origin_cart_id, "origin_cart_id", "none")?;
        let mut adj = Adjustment::new(
            sku,
            Delta::new(delta as i64)?,
            Reason::from_code(reason as i64)?,
        )
        .send_to_web(flags & INVSYNC_ADJUST_NO_WEB == 0);
        if let Some(origin) = origin {
            adj = adj.origin_cart(origin);
        }
        if let Some(r) = host_ref {
            adj = adj.host_ref(r);
        }
        store.adjust_qoh(&adj)?;
        Ok(())
    })
}

/// Changes an item's QOH by `delta` (not 0) and, in the same transaction, queues one web
/// stack record per eligible cart. `reason`: 1 adjustment, 2 POS sale, 3 order import,
/// 4 receiving, 5 other, 6 return or cancellation. `origin_cart_id`: the cart the change came
/// from (it is not sent to that cart), 0 = none. `flags`: `INVSYNC_ADJUST_NO_WEB` (1) = don't
/// send QOH changes to web sites (the origin cart, where real-time changes go to it, is still
/// sent what keeps it at the count the store publishes under a cap, a buffer or the floor of
/// 0). A product that has variants is `INVSYNC_REFUSED`.
/// Inside a host transaction a refused call leaves the transaction intact; but if the store
/// fails after the call began writing (full disk, I/O error: `INVSYNC_DATABASE`, its message
/// says so) the whole host transaction has been rolled back, so that half a change is never
/// committed.
///
/// NULL: all pointers required. Thread safety: any thread.
///
/// # Safety
/// `store` is NULL or a live handle; `sku` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn invsync_adjust_qoh(
    store: *mut InvsyncStore,
    sku: *const c_char,
    delta: i32,
    reason: i32,
    origin_cart_id: i32,
    flags: i32,
) -> i32 {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        adjust(
            "invsync_adjust_qoh",
            store,
            sku,
            delta,
            reason,
            origin_cart_id,
            flags,
            None,
        )
    }
}

/// As `invsync_adjust_qoh`, idempotent on `host_ref` (1 to 255 bytes: an order number and
/// line, an adjustment id; read trimmed, as a SKU is, so a fixed-width field's padding names
/// the same reference): the same change again under a reference seen before is an
/// `INVSYNC_OK` no-op, so a host that retries after its own crash never doubles a change.
/// Another change (SKU, delta, reason or origin cart) under a reference used before is
/// `INVSYNC_REFUSED`, naming both: skipped, it would be lost without a word. So is the same
/// change with `INVSYNC_ADJUST_NO_WEB` set where it was not, or not set where it was: a change
/// first made without the carts and retried to reach them would never reach them.
///
/// NULL: all pointers required. Thread safety: any thread.
///
/// # Safety
/// `store` is NULL or a live handle; `sku` and `host_ref` are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn invsync_adjust_qoh_ref(
    store: *mut InvsyncStore,
    sku: *const c_char,
    delta: i32,
    reason: i32,
    origin_cart_id: i32,
    flags: i32,
    host_ref: *const c_char,
) -> i32 {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        adjust(
            "invsync_adjust_qoh_ref",
            store,
            sku,
            delta,
            reason,
            origin_cart_id,
            flags,
            Some(host_ref),
        )
    }
}

/// On success `*out_qoh` receives the order manager's QOH of `sku`; an unknown SKU is
/// `INVSYNC_NOT_FOUND`.
///
/// NULL: all required. Thread safety: any thread.
///
/// # Safety
/// `store` is NULL or a live handle; `sku` is NULL or NUL-terminated; `out_qoh` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn invsync_item_qoh(
    store: *mut InvsyncStore,
    sku: *const c_char,
    out_qoh: *mut i32,
) -> i32 {
    entry("invsync_item_qoh", || {
        // SAFETY: the caller's contract on each pointer.
        let (store, sku) = unsafe { (store_ref(store)?, str_in(sku, "sku", INVSYNC_MAX_NAME_IN)?) };
        let out = out_ptr(out_qoh, "out_qoh")?;
        let qoh = to_i32(store.item_qoh(sku)?, "QOH")?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { put(out, qoh) };
        Ok(())
    })
}

/// Copies QOH changes (newest first) as a JSON array into `buf`: sku, delta, qoh_after,
/// reason, origin_cart_id, host_ref, workstation, created_at (Unix ms). `filter_json` is
/// optional: `{"sku"?, "limit"?}` (`limit` 1 to 1000000; without one, NULL included, the
/// newest 1000 only).
///
/// Buffers: as `invsync_last_error`. NULL: `store` required; `filter_json` optional. Thread
/// safety: any thread.
///
/// # Safety
/// `store` is NULL or a live handle; `filter_json` is NULL or NUL-terminated; `buf` is NULL
/// or writable for `len` bytes; `needed` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn invsync_ledger_list(
    store: *mut InvsyncStore,
    filter_json: *const c_char,
    buf: *mut c_char,
    len: i32,
    needed: *mut i32,
) -> i32 {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        filtered_list(
            "invsync_ledger_list",
            store,
            filter_json,
            buf,
            len,
            needed,
            Store::ledger_json,
        )
    }
}

/// Opens a host transaction on the handle: a later call on it (from any thread) that fails
/// leaves the rest of it intact, except `invsync_adjust_qoh` after a store failure (see
/// there). Calls that talk to a cart are `INVSYNC_REFUSED`; closing the handle rolls it back.
/// `INVSYNC_REFUSED` when one is open, and while a Send/Get QOH or drift repair runs on the
/// handle (from another thread, or from its progress callback): the transaction would take in
/// the run's own writes, and a rollback would undo what the cart was already sent.
///
/// NULL: `store` required.
///
/// # Safety
/// `store` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn invsync_begin(store: *mut InvsyncStore) -> i32 {
    entry("invsync_begin", || {
        // SAFETY: the caller's contract on store.
        Ok(unsafe { store_ref(store)? }.begin()?)
    })
}

/// Commits the host transaction; `INVSYNC_REFUSED` when none is open. A background
/// controller stopped inside it (`invsync_controller_stop`) is waited for here: the request
/// it has in flight, then its settlement. Other calls on the handle go on meanwhile.
///
/// NULL: `store` required.
///
/// # Safety
/// `store` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn invsync_commit(store: *mut InvsyncStore) -> i32 {
    entry("invsync_commit", || {
        // SAFETY: the caller's contract on store.
        Ok(unsafe { store_ref(store)? }.commit()?)
    })
}

/// Rolls the host transaction back; `INVSYNC_REFUSED` when none is open, but `INVSYNC_OK`
/// right after an `invsync_commit` that failed with the transaction gone (a host's error
/// handler rolls back after any failure). Waits as `invsync_commit` does.
///
/// NULL: `store` required.
///
/// # Safety
/// `store` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn invsync_rollback(store: *mut InvsyncStore) -> i32 {
    entry("invsync_rollback", || {
        // SAFETY: the caller's contract on store.
        Ok(unsafe { store_ref(store)? }.rollback()?)
    })
}

/// On success `*out` receives how many records of cart `cart_id` (0 = all carts) are in
/// `state`: 1 waiting to be sent (pending, leased, or waiting to retry), 2 bypassed,
/// 3 uncertain. A count beyond `INT32_MAX` is reported as `INT32_MAX`. Counting waiting
/// records may commit a small write (once more than 1,000 records were queued since they were
/// last counted, so later polls need not walk them); it never waits for the write lock and
/// writes nothing inside a host transaction.
///
/// NULL: all required. Thread safety: any thread.
///
/// # Safety
/// `store` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn invsync_stack_count(
    store: *mut InvsyncStore,
    cart_id: i32,
    state: i32,
    out: *mut i32,
) -> i32 {
    entry("invsync_stack_count", || {
        // SAFETY: the caller's contract on store.
        let store = unsafe { store_ref(store)? };
        let out = out_ptr(out, "out")?;
        let cart = zero_means(cart_id, "cart_id", "all carts")?;
        let state = StackState::from_code(state as i64)?;
        let n = store.stack_count(cart.unwrap_or(0), state)?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { put(out, n.clamp(0, i32::MAX as i64) as i32) };
        Ok(())
    })
}

/// Copies the troubleshooting view as a JSON array into `buf`, oldest first: per record `id,
/// cart_id, sku, delta, reason, created_at, attempts, next_attempt_at, last_response, state`
/// (times as Unix milliseconds; a waiting record's `next_attempt_at` is at least the end of
/// its cart's pause or a manual run's hold, while one lasts). `filter_json` is optional: `{"cart_id"?, "state"?, "limit"?}`,
/// `state` 1 waiting, 2 bypassed, 3 uncertain, or the name a record shows (`"pending"`, `"bypassed"`,
/// `"uncertain"`); `limit` 1 to 1000000 (without one, NULL included, the oldest 1000 only).
///
/// Buffers: as `invsync_last_error`. NULL: `store` required; `filter_json` optional. Thread
/// safety: any thread.
///
/// # Safety
/// `store` is NULL or a live handle; `filter_json` is NULL or NUL-terminated; `buf` is NULL
/// or writable for `len` bytes; `needed` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn invsync_stack_list(
    store: *mut InvsyncStore,
    filter_json: *const c_char,
    buf: *mut c_char,
    len: i32,
    needed: *mut i32,
) -> i32 {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        filtered_list(
            "invsync_stack_list",
            store,
            filter_json,
            buf,
            len,
            needed,
            Store::stack_list_json,
        )
    }
}

/// Operator action: sends a bypassed or uncertain record (with the rest of its send group)
/// again, from attempt 0, with the same idempotency key. Any other record is
/// `INVSYNC_REFUSED`; an unknown id `INVSYNC_NOT_FOUND`, an id of 0 or less (never a
/// record's) `INVSYNC_INVALID_ARGUMENT`.
///
/// NULL: `store` required. Thread safety: any thread.
///
/// # Safety
/// `store` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn invsync_stack_retry(store: *mut InvsyncStore, record_id: i32) -> i32 {
    entry("invsync_stack_retry", || {
        // SAFETY: the caller's contract on store.
        let store = unsafe { store_ref(store)? };
        Ok(store.stack_retry(id_arg(record_id, "record")?)?)
    })
}

/// Operator action: removes a bypassed or uncertain record and the rest of its send group
/// from the stack (logged as discarded); the cart is not told. Any other record is
/// `INVSYNC_REFUSED`; an unknown id `INVSYNC_NOT_FOUND`, an id of 0 or less (never a
/// record's) `INVSYNC_INVALID_ARGUMENT`; `INVSYNC_BUSY` while a Send QOH, Get QOH or drift
/// repair holds the record's cart (discard it once that ends). Counts a Send QOH that ended
/// before settling left sending are left to the cart's next pass or manual run, whose report
/// counts the changes they included as `uncertain` (from 2026-12-05; before, a discard settled
/// them first, holding the cart's other records in doubt unannounced).
///
/// NULL: `store` required. Thread safety: any thread.
///
/// # Safety
/// `store` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn invsync_stack_discard(store: *mut InvsyncStore, record_id: i32) -> i32 {
    entry("invsync_stack_discard", || {
        // SAFETY: the caller's contract on store.
        let store = unsafe { store_ref(store)? };
        Ok(store.stack_discard(id_arg(record_id, "record")?)?)
    })
}

/// Runs one pass of the stack controller over due records, at most `max_records` of them
/// (0 = all that are due), on the controller's own connection, and copies its report
/// `{sent, retried, bypassed, uncertain, remaining, standby, carts:[...]}` into `buf`. The pass
/// is made whatever the buffer; the report can be read again with `invsync_last_report`.
/// `standby` is true when, in `StackMode` shared, another controller holds the store's lock:
/// this one sent nothing, and `remaining` still counts what waits. `INVSYNC_REFUSED` inside a
/// host transaction.
///
/// Buffers: as `invsync_last_error` (`buf = NULL, len = 0, needed = NULL` runs without
/// copying the report, which is kept for `invsync_last_report` all the same). NULL: `store`
/// required. Thread safety: any thread; the call blocks while it talks to the carts.
///
/// # Safety
/// `store` is NULL or a live handle; `buf` is NULL or writable for `len` bytes; `needed` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn invsync_stack_run(
    store: *mut InvsyncStore,
    max_records: i32,
    buf: *mut c_char,
    len: i32,
    needed: *mut i32,
) -> i32 {
    entry("invsync_stack_run", || {
        // SAFETY: the caller's contract on store.
        let store = unsafe { store_ref(store)? };
        // Before the arguments' checks: a call refused for them has no report either,
        // and must not leave the one before it to be read as its own.
        store.forget_report();
        let out = TextOut::new(buf, len, needed)?;
        let max = zero_means(max_records, "max_records", "all due")?.map(|n| n as usize);
        let report = store.run_stack(max)?;
        // SAFETY: the caller's contract on buf, len and needed.
        unsafe { out.write(&report.to_json()) }
    })
}

/// Starts the stack controller on a background thread of this handle, a pass every
/// `interval_ms` (1 to 3600000). `INVSYNC_REFUSED` when one runs already, and inside a host
/// transaction while one stopped in it (`invsync_controller_stop`) still ends: commit or roll
/// back first.
///
/// NULL: `store` required. Thread safety: any thread; the controller uses its own connection
/// and never calls back into the host.
///
/// # Safety
/// `store` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn invsync_controller_start(
    store: *mut InvsyncStore,
    interval_ms: i32,
) -> i32 {
    entry("invsync_controller_start", || {
        // SAFETY: the caller's contract on store.
        let store = unsafe { store_ref(store)? };
        if interval_ms <= 0 {
            return Err(Failure::invalid(format!(
                "interval_ms {interval_ms} must be 1 to 3600000"
            )));
        }
        Ok(store.start_controller(Duration::from_millis(interval_ms as u64))?)
    })
}

/// Stops the background controller after its current pass; `INVSYNC_OK` when none runs.
///
/// NULL: `store` required. Thread safety: any thread; blocks until the pass ends, except
/// inside this handle's transaction (`invsync_begin`): the pass needs the write lock to
/// settle, so it ends, and is waited for, at `invsync_commit`/`invsync_rollback`.
///
/// # Safety
/// `store` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn invsync_controller_stop(store: *mut InvsyncStore) -> i32 {
    entry("invsync_controller_stop", || {
        // SAFETY: the caller's contract on store.
        unsafe { store_ref(store)? }.stop_controller();
        Ok(())
    })
}

/// Copies the background controller's status as JSON into `buf`: `{running, passes,
/// last_pass_at, last_error, last_error_kind, heartbeat, last_report}` (times as Unix ms;
/// `last_error_kind`, from 2026-12-05, is null or one of `busy` (the store was held by
/// another writer: the next pass tries again by itself), `database`, `network`,
/// `invalid_argument`, `not_found`, `refused`, `cancelled`; null with `last_error` set: the
/// pass panicked).
///
/// Buffers: as `invsync_last_error`. NULL: `store` required. Thread safety: any thread.
///
/// # Safety
/// `store` is NULL or a live handle; `buf` is NULL or writable for `len` bytes; `needed` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn invsync_controller_status(
    store: *mut InvsyncStore,
    buf: *mut c_char,
    len: i32,
    needed: *mut i32,
) -> i32 {
    entry("invsync_controller_status", || {
        // SAFETY: the caller's contract on store.
        let store = unsafe { store_ref(store)? };
        let out = TextOut::new(buf, len, needed)?;
        let json = serde_json::to_string(&store.controller_status())
            .map_err(|e| Failure::new(INVSYNC_PANIC, format!("status not serialisable: {e}")))?;
        // SAFETY: the caller's contract on buf, len and needed.
        unsafe { out.write(&json) }
    })
}

/// Which manual call a [`manual`] runs.
#[derive(Clone, Copy)]
pub(crate) enum Manual {
    Send,
    Get,
}

/// The shared body of Send QOH and Get QOH (and of their stdcall twins): `progress(done,
/// total)` returns true to go on.
///
/// # Safety
/// `store`, `buf` and `needed` as the entry points say.
#[allow(clippy::too_many_arguments)] // the C signature's parameters, one for one
pub(crate) unsafe fn manual(
    name: &'static str,
    which: Manual,
    store: *mut InvsyncStore,
    cart_id: i32,
    flags: i32,
    progress: &mut dyn FnMut(i32, i32) -> bool,
    buf: *mut c_char,
    len: i32,
    needed: *mut i32,
) -> i32 {
    entry(name, || {
        // SAFETY: the caller's contract on store.
        let store = unsafe { store_ref(store)? };
        // Before the arguments' checks: a call refused for them has no report either,
        // and must not leave the one before it to be read as its own.
        store.forget_report();
        let out = TextOut::new(buf, len, needed)?;
        let cart = super::util::cart_id(cart_id)?;
        let mut narrow = |done: i64, total: i64| -> bool {
            let clamp = |v: i64| v.clamp(-1, i32::MAX as i64) as i32;
            progress(clamp(done), clamp(total))
        };
        let (json, cancelled, what) = match which {
            Manual::Send => {
                check_flags(flags, INVSYNC_MANUAL_FORCE, "flags")?;
                let options = SendOptions {
                    force: flags & INVSYNC_MANUAL_FORCE != 0,
                };
                let r = store.send_qoh(cart, options, Some(&mut narrow))?;
                let json = serde_json::to_string(&r).unwrap_or_else(|_| "{}".into());
                (
                    json,
                    r.cancelled,
                    format!("after {} sent", crate::counted(r.sent as i64, "item")),
                )
            }
            Manual::Get => {
                check_flags(
                    flags,
                    INVSYNC_MANUAL_FORCE | INVSYNC_GET_CREATE_NEW,
                    "flags",
                )?;
                let options = GetOptions {
                    force: flags & INVSYNC_MANUAL_FORCE != 0,
                    create_new: flags & INVSYNC_GET_CREATE_NEW != 0,
                };
                let r = store.get_qoh(cart, options, Some(&mut narrow))?;
                let json = serde_json::to_string(&r).unwrap_or_else(|_| "{}".into());
                (
                    json,
                    r.cancelled,
                    format!("after {} updated", crate::counted(r.updated as i64, "item")),
                )
            }
        };
        // SAFETY: the caller's contract on buf, len and needed.
        let written = unsafe { out.write(&json) };
        if cancelled {
            return Err(Failure::new(
                INVSYNC_CANCELLED,
                format!("cart {cart}: cancelled by the progress callback {what}; the partial report is in invsync_last_report"),
            ));
        }
        written
    })
}

/// *Send QOH to website* (rule 7): pushes the absolute published count of every item the cart
/// gets, in batches of the cart's `max_items_to_send`, then 0 for each item deleted from the
/// store while the cart showed it and real-time changes did not reach it, and copies the
/// report `{sent, failed, superseded, zeroed, requests, failures:[{sku, message}], cancelled,
/// failures_left_out, error?}` into `buf` (`zeroed`: the deleted items set to 0; `failures`
/// holds the first 1,000 of the `failed` items, `failures_left_out` says how many more there
/// were, from 2026-12-05). From 2026-12-05 also `uncertain`: the records the run left in
/// doubt for the owner to check on the cart, then retry or discard (those a Send QOH that ended
/// before it recorded the cart's answer included, held as this run took the cart over and not
/// settled by a count it set); a run that fails after holding some names them in its message.
/// `flags`:
/// `INVSYNC_MANUAL_FORCE` (1) = run even while real-time sync is on (otherwise
/// `INVSYNC_REFUSED`). `progress` (optional) is called between batches with `user`; a non-zero
/// return stops the send and the call returns `INVSYNC_CANCELLED` with the partial report.
/// Per-item failures are in the report with `INVSYNC_OK`, and so is a cart that stopped
/// answering part-way (`error` says why; what was sent stands; run it again to finish);
/// `INVSYNC_NETWORK` when no request reached the cart. `INVSYNC_REFUSED` inside a host
/// transaction, and when the cart refuses the credentials (the message names the cart and
/// what it said; a request it refuses otherwise, or fails, is reported item by item), or
/// names a wait longer than a minute before anything reached it: one it names now, or one
/// written on the cart by an earlier run or the controller that is not over (the cart is
/// not asked before then, and a wait it names to this run binds the controller too).
/// A shorter wait is waited out.
/// `INVSYNC_BUSY` while another Send or Get QOH holds the cart (the controller sends nothing
/// to a held cart).
///
/// Buffers: as `invsync_last_error`; the send is made whatever the buffer (read the report
/// again with `invsync_last_report`). NULL: `store` required; `progress` and `user` optional.
/// Thread safety: any thread; `progress` runs on the calling thread only, with no lock held.
///
/// # Safety
/// `store` is NULL or a live handle; `progress` is NULL or a function safe to call with
/// `user`; `buf` is NULL or writable for `len` bytes; `needed` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn invsync_send_qoh(
    store: *mut InvsyncStore,
    cart_id: i32,
    flags: i32,
    progress: InvsyncProgressFn,
    user: *mut c_void,
    buf: *mut c_char,
    len: i32,
    needed: *mut i32,
) -> i32 {
    let mut call = progress_call!(progress, user);
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        manual(
            "invsync_send_qoh",
            Manual::Send,
            store,
            cart_id,
            flags,
            &mut call,
            buf,
            len,
            needed,
        )
    }
}

/// Import the cart's outstanding orders first: an order placed there already moved the
/// cart's count, and imported after this call it moves the item's QOH a second time.
///
/// *Get QOH from website* (rule 8): changes each item's QOH by the difference between the
/// cart's count plus the cart's waiting records for it and the count the cart was shown, as a
/// QOH change from that cart (so a sale made on the cart is applied, and a buffer or cap
/// kept), holding the cart meanwhile, and copies the report `{updated,
/// created, unchanged, unknown:[skus], not_applied:[{sku, why}], cancelled,
/// updated_items:[{sku, before, after}], updated_items_left_out, created_items:[{sku, qoh}],
/// created_items_left_out, unknown_left_out, not_applied_left_out, error?}` into `buf`:
/// `updated_items` names the items `updated` counts,
/// each with its QOH before and after the run, and `created_items` those `created` counts,
/// each with the QOH it was made with (the first 1,000 of each, so a first run creating a
/// whole catalogue needs no buffer of megabytes; `*_left_out` says how many more there
/// were). `unknown` and `not_applied` hold the first 1,000 too (from 2026-12-05): a host
/// making items for every SKU the store lacks makes those listed and runs Get QOH again for
/// the next 1,000 (the preflight's `unmapped` warnings stop at 1,000 too), or passes
/// `INVSYNC_GET_CREATE_NEW`. Keys may be added: ignore those you do not know. From
/// 2026-12-05 also `uncertain`: the records the run held in doubt as it took the cart over (a
/// Send QOH that ended before it recorded the cart's answer included them), for the owner to
/// check on the cart, then retry or discard; a run that fails after holding some names them.
/// And `undescribed` (text, present only then): how many items `INVSYNC_GET_CREATE_NEW`
/// did not create as the cart failed to say what they are (BigCommerce's catalogue refused
/// or down: made unknowing, a variant would be an item of its own for good), and why; each
/// is in `not_applied`, and the counts of the store's items are applied all the same.
/// `flags`: `INVSYNC_MANUAL_FORCE` (1) = run even while real-time sync is on,
/// `INVSYNC_GET_CREATE_NEW` (2) = create items for unknown SKUs (a variant the cart lists
/// with its product under that product). The whole listing is read before a count is
/// applied (a SKU the cart lists twice, on any pages, is applied at neither place).
/// `progress` (optional) is called after each page read (`total` -1 while more may follow;
/// after the last, `total` = `done`, before any count is applied); a non-zero return stops
/// the run, and the call returns `INVSYNC_CANCELLED` with the report, no count applied. A
/// cart that fails after some pages were read ends the run with `INVSYNC_OK` and `error` in
/// the report, no count applied (run it again). `INVSYNC_NETWORK` when the cart cannot be
/// reached;
/// `INVSYNC_REFUSED` inside a host transaction, and when the cart's answer to the first
/// page ends the run (credentials refused, a 4xx or 5xx, an answer that cannot be read: the
/// message names the cart and what it said), or the cart's wait is not over, as for
/// `invsync_send_qoh`.
///
/// Buffers: as `invsync_send_qoh`. NULL: `store` required; `progress` and `user` optional.
/// Thread safety: as `invsync_send_qoh`.
///
/// # Safety
/// As `invsync_send_qoh`.
#[no_mangle]
pub unsafe extern "C" fn invsync_get_qoh(
    store: *mut InvsyncStore,
    cart_id: i32,
    flags: i32,
    progress: InvsyncProgressFn,
    user: *mut c_void,
    buf: *mut c_char,
    len: i32,
    needed: *mut i32,
) -> i32 {
    let mut call = progress_call!(progress, user);
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        manual(
            "invsync_get_qoh",
            Manual::Get,
            store,
            cart_id,
            flags,
            &mut call,
            buf,
            len,
            needed,
        )
    }
}

/// Before real-time sync is switched on for a cart (rule 11): copies a JSON array of warnings
/// `{kind, sku?, message, cart_qoh?, expected?}` into `buf`, kinds `pending`, `drift`,
/// `basket`, `unmapped`, `deleted` (an item deleted while the cart showed it: Send QOH sets
/// it to 0 there); `[]` when all is in step. At most the first 1,000 warnings are listed: when
/// there were more, one last warning of kind `more` (from 2026-12-05), without `sku`, says in
/// its `message` how many of each kind were not listed and what to do (a host that does not
/// know a kind shows its message). Reads the cart: `INVSYNC_NETWORK` when it
/// cannot be reached, `INVSYNC_REFUSED` inside a host transaction and when the cart's answer
/// ends the read (as `invsync_get_qoh`). The warnings are also kept
/// for `invsync_last_report`: after `INVSYNC_BUFFER_TOO_SMALL` read them there, rather than
/// call again, which reads the whole cart again.
/// Kind `unreadable` (from 2026-12-05): the cart lists the item with a count it cannot read, quoted in `message`; `expected` is the count to correct it to.
/// Kind `sku_twin` (from 2026-12-05): the item's SKU differs from another item's (named in `message`) only in case or accents, which the cart (WooCommerce) does not tell apart: it holds one product for both, and only the item whose SKU it has exactly is synced there.
///
/// Buffers: as `invsync_last_error`. NULL: `store` required. Thread safety: any thread.
///
/// # Safety
/// `store` is NULL or a live handle; `buf` is NULL or writable for `len` bytes; `needed` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn invsync_preflight(
    store: *mut InvsyncStore,
    cart_id: i32,
    buf: *mut c_char,
    len: i32,
    needed: *mut i32,
) -> i32 {
    entry("invsync_preflight", || {
        // SAFETY: the caller's contract on store.
        let store = unsafe { store_ref(store)? };
        // Before the arguments' checks: a call refused for them has no report either,
        // and must not leave the one before it to be read as its own.
        store.forget_report();
        let out = TextOut::new(buf, len, needed)?;
        let warnings = store.preflight(super::util::cart_id(cart_id)?)?;
        let json = serde_json::to_string(&warnings).unwrap_or_else(|_| "[]".into());
        // SAFETY: the caller's contract on buf, len and needed.
        unsafe { out.write(&json) }
    })
}

/// The drift report (README "Drift report"): compares each count cart `cart_id` shows with
/// the count it should show, net of the records still waiting for it, and copies
/// `{in_step, items:[{sku, cart_qoh, expected, why?, outcome?}], repaired, unlisted:[skus],
/// items_left_out, unlisted_left_out}` into `buf`: `items` and `unlisted` hold the first 1,000
/// each, `*_left_out` says how many more there were (from 2026-12-05; a repair works on every
/// count off, listed or not, and `repaired` counts all it repaired). `repair` 1 also sets each
/// count that is off, by compare-and-set (a sale the cart
/// made meanwhile is never overwritten: the item is listed with its outcome), holding the cart
/// as a Send QOH does; 0 only reports; any other value is `INVSYNC_INVALID_ARGUMENT`. Runs
/// whether or not real-time sync is on. `INVSYNC_NETWORK` when the cart cannot be reached,
/// `INVSYNC_REFUSED` inside a host transaction, for a cart that cannot be read (or, to
/// repair, sent counts), and when the cart's answer ends the read (as `invsync_get_qoh`);
/// `INVSYNC_BUSY` to repair while a Send QOH, Get QOH or repair holds the cart. Added within
/// ABI version 1 (2026-12-04): a host checks for the export before calling it.
/// From 2026-12-05 also `unreadable:[{sku, why}]` and `unreadable_left_out`: items whose cart count cannot be read, neither compared nor repaired; with repair, `items` lists those not repaired first.
/// From 2026-12-05 also `unlisted_why:[{sku, why}]` and `unlisted_why_left_out`: the SKUs of `unlisted` the cart said why it lists no count of (a Shopify variant not stocked at the cart's location), with that reason; `unlisted` still lists every such SKU.
/// From 2026-12-05 also `uncertain`: with repair, the records the repair held in doubt as it took the cart over (a Send QOH that ended before it recorded the cart's answer included them), for the owner to check on the cart, then retry or discard; 0 without repair.
///
/// Buffers: as `invsync_last_error`; the report is made (and a repair done) whatever the
/// buffer, and kept for `invsync_last_report`: read it there, never by calling again, which
/// reads the whole cart again. NULL: `store` required. Thread safety: any thread; the call
/// blocks while it talks to the cart.
///
/// # Safety
/// `store` is NULL or a live handle; `buf` is NULL or writable for `len` bytes; `needed` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn invsync_drift(
    store: *mut InvsyncStore,
    cart_id: i32,
    repair: i32,
    buf: *mut c_char,
    len: i32,
    needed: *mut i32,
) -> i32 {
    entry("invsync_drift", || {
        // SAFETY: the caller's contract on store.
        let store = unsafe { store_ref(store)? };
        // As in invsync_preflight: a call refused for its arguments leaves no earlier report
        // to be read as its own.
        store.forget_report();
        let out = TextOut::new(buf, len, needed)?;
        let cart = super::util::cart_id(cart_id)?;
        let repair = match repair {
            0 => false,
            1 => true,
            _ => {
                return Err(Failure::invalid(format!(
                    "repair must be 0 or 1, not {repair}"
                )))
            }
        };
        let report = store.drift(cart, repair)?;
        let json = serde_json::to_string(&report).unwrap_or_else(|_| "{}".into());
        store.remember_report(json.clone());
        // SAFETY: the caller's contract on buf, len and needed.
        unsafe { out.write(&json) }
    })
}

/// Copies the report of this thread's last `invsync_stack_run`, `invsync_send_qoh`,
/// `invsync_get_qoh`, `invsync_preflight` or `invsync_drift` on this handle into `buf` (also after `INVSYNC_CANCELLED` or
/// `INVSYNC_BUFFER_TOO_SMALL`). `INVSYNC_NOT_FOUND` when this thread made none yet, or its
/// last one failed before it had done anything to report (an unreachable cart, a refusal on
/// the first page): never an earlier call's report.
///
/// Buffers: as `invsync_last_error`. NULL: `store` required. Thread safety: any thread; each
/// thread sees its own last report.
///
/// # Safety
/// `store` is NULL or a live handle; `buf` is NULL or writable for `len` bytes; `needed` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn invsync_last_report(
    store: *mut InvsyncStore,
    buf: *mut c_char,
    len: i32,
    needed: *mut i32,
) -> i32 {
    entry("invsync_last_report", || {
        // SAFETY: the caller's contract on store.
        let store = unsafe { store_ref(store)? };
        let out = TextOut::new(buf, len, needed)?;
        let report = store.last_report().ok_or_else(|| {
            Failure::new(
                INVSYNC_NOT_FOUND,
                "no run, send or get was made on this handle by this thread yet",
            )
        })?;
        // SAFETY: the caller's contract on buf, len and needed.
        unsafe { out.write(&report) }
    })
}

/// The body of the entry points that list as JSON under an optional filter.
///
/// # Safety
/// As for those entry points: `store` is NULL or a live handle; `filter_json` is NULL or
/// NUL-terminated; `buf` is NULL or writable for `len` bytes; `needed` is NULL or writable.
unsafe fn filtered_list(
    name: &'static str,
    store: *mut InvsyncStore,
    filter_json: *const c_char,
    buf: *mut c_char,
    len: i32,
    needed: *mut i32,
    list: fn(&Store, Option<&str>) -> crate::Result<String>,
) -> i32 {
    entry(name, || {
        // SAFETY: the caller's contract on each pointer.
        let (store, filter) = unsafe {
            (
                store_ref(store)?,
                opt_str_in(filter_json, "filter_json", INVSYNC_MAX_TEXT_IN)?,
            )
        };
        let out = TextOut::new(buf, len, needed)?;
        let json = list(&store, filter)?;
        // SAFETY: the caller's contract on buf, len and needed.
        unsafe { out.write(&json) }
    })
}
