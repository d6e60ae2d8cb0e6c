//! The stdcall twins for 32-bit VBA (DESIGN §9): every entry point `f` again as `f_std`,
//! `extern "system"`, with the same parameters and meaning. On 32-bit Windows that is
//! stdcall; elsewhere it is the C convention, which lets the C suite call them on Linux
//! (`--cfg invsync_std_twins`).
//!
//! One macro writes them all from a list of signatures, so nothing is written twice. The two
//! calls that take a progress callback take the stdcall [`InvsyncProgressStdFn`] instead.

use super::api::{self, Manual};
use super::*;
use std::ffi::{c_char, c_void};

/// The stdcall progress callback of `invsync_send_qoh_std` and `invsync_get_qoh_std`
/// (what VBA's `AddressOf` gives); same meaning as [`InvsyncProgressFn`].
pub type InvsyncProgressStdFn =
    Option<unsafe extern "system" fn(user: *mut c_void, done: i32, total: i32) -> i32>;

macro_rules! std_twins {
    ($( $name:ident ( $($arg:ident : $ty:ty),* ) $(-> $ret:ty)? ; )*) => {$(
        #[doc = concat!("The stdcall twin of [`", stringify!($name), "`](super::", stringify!($name), ").")]
        ///
        /// # Safety
        /// As for the function it twins.
        #[export_name = concat!(stringify!($name), "_std")]
        #[allow(unused_unsafe)]
        pub unsafe extern "system" fn $name($($arg: $ty),*) $(-> $ret)? {
            // SAFETY: the same contract as the function it twins, upheld by the caller.
            unsafe { api::$name($($arg),*) }
        }
    )*};
}

macro_rules! std_manual_twins {
    ($( $name:ident => $which:expr ; )*) => {$(
        #[doc = concat!("The stdcall twin of [`", stringify!($name), "`](super::", stringify!($name), "), with a stdcall progress callback.")]
        ///
        /// # Safety
        /// As for the function it twins.
        #[export_name = concat!(stringify!($name), "_std")]
        #[allow(clippy::too_many_arguments)]
        pub unsafe extern "system" fn $name(
            store: *mut InvsyncStore,
            cart_id: i32,
            flags: i32,
            progress: InvsyncProgressStdFn,
            user: *mut c_void,
            buf: *mut c_char,
            len: i32,
            needed: *mut i32,
        ) -> i32 {
            let mut call = progress_call!(progress, user);
            // SAFETY: the caller's contract, forwarded.
            unsafe {
                api::manual(
                    concat!(stringify!($name), "_std"),
                    $which,
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
    )*};
}

std_twins! {
    invsync_abi_version() -> i32;
    invsync_last_error(buf: *mut c_char, len: i32, needed: *mut i32) -> i32;
    invsync_store_open(path: *const c_char, out: *mut *mut InvsyncStore) -> i32;
    invsync_store_close(store: *mut InvsyncStore);
    invsync_param_set(store: *mut InvsyncStore, name: *const c_char, value: *const c_char) -> i32;
    invsync_param_get(store: *mut InvsyncStore, name: *const c_char, buf: *mut c_char, len: i32, needed: *mut i32) -> i32;
    invsync_cart_upsert(store: *mut InvsyncStore, cart_json: *const c_char, out_cart_id: *mut i32) -> i32;
    invsync_cart_save(store: *mut InvsyncStore, cart_json: *const c_char, out_cart_id: *mut i32, out_uncertain: *mut i32) -> i32;
    invsync_cart_set_sync(store: *mut InvsyncStore, cart_id: i32, on: i32) -> i32;
    invsync_cart_list(store: *mut InvsyncStore, buf: *mut c_char, len: i32, needed: *mut i32) -> i32;
    invsync_cart_delete(store: *mut InvsyncStore, cart_id: i32) -> i32;
    invsync_cart_retire(store: *mut InvsyncStore, cart_id: i32, out_discarded: *mut i32) -> i32;
    invsync_item_upsert(store: *mut InvsyncStore, item_json: *const c_char) -> i32;
    invsync_item_list(store: *mut InvsyncStore, filter_json: *const c_char, buf: *mut c_char, len: i32, needed: *mut i32) -> i32;
    invsync_item_delete(store: *mut InvsyncStore, sku: *const c_char) -> i32;
    invsync_web_fields_set(store: *mut InvsyncStore, cart_id: i32, sku: *const c_char, json: *const c_char) -> i32;
    invsync_adjust_qoh(store: *mut InvsyncStore, sku: *const c_char, delta: i32, reason: i32, origin_cart_id: i32, flags: i32) -> i32;
    invsync_adjust_qoh_ref(store: *mut InvsyncStore, sku: *const c_char, delta: i32, reason: i32, origin_cart_id: i32, flags: i32, host_ref: *const c_char) -> i32;
    invsync_item_qoh(store: *mut InvsyncStore, sku: *const c_char, out_qoh: *mut i32) -> i32;
    invsync_ledger_list(store: *mut InvsyncStore, filter_json: *const c_char, buf: *mut c_char, len: i32, needed: *mut i32) -> i32;
    invsync_begin(store: *mut InvsyncStore) -> i32;
    invsync_commit(store: *mut InvsyncStore) -> i32;
    invsync_rollback(store: *mut InvsyncStore) -> i32;
    invsync_stack_count(store: *mut InvsyncStore, cart_id: i32, state: i32, out: *mut i32) -> i32;
    invsync_stack_list(store: *mut InvsyncStore, filter_json: *const c_char, buf: *mut c_char, len: i32, needed: *mut i32) -> i32;
    invsync_stack_retry(store: *mut InvsyncStore, record_id: i32) -> i32;
    invsync_stack_discard(store: *mut InvsyncStore, record_id: i32) -> i32;
    invsync_stack_run(store: *mut InvsyncStore, max_records: i32, buf: *mut c_char, len: i32, needed: *mut i32) -> i32;
    invsync_controller_start(store: *mut InvsyncStore, interval_ms: i32) -> i32;
    invsync_controller_stop(store: *mut InvsyncStore) -> i32;
    invsync_controller_status(store: *mut InvsyncStore, buf: *mut c_char, len: i32, needed: *mut i32) -> i32;
    invsync_preflight(store: *mut InvsyncStore, cart_id: i32, buf: *mut c_char, len: i32, needed: *mut i32) -> i32;
    invsync_drift(store: *mut InvsyncStore, cart_id: i32, repair: i32, buf: *mut c_char, len: i32, needed: *mut i32) -> i32;
    invsync_last_report(store: *mut InvsyncStore, buf: *mut c_char, len: i32, needed: *mut i32) -> i32;
}

std_manual_twins! {
    invsync_send_qoh => Manual::Send;
    invsync_get_qoh => Manual::Get;
}
