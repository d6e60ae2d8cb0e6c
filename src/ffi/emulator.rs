//! TEST ONLY: a loopback `http_json` cart for the C and C# suites (feature `emulator`). The
//! header declares these functions only when `INVSYNC_EMULATOR` is defined; a release build of
//! the library does not export them.

use super::util::*;
use super::*;
use crate::emulator::Emulator;
use std::ffi::c_char;

/// TEST ONLY: a running loopback cart, created by `invsync_emulator_start` and freed by
/// `invsync_emulator_stop`.
pub struct InvsyncEmulator {
    emulator: Emulator,
}

/// The emulator behind `h`.
///
/// # Safety
/// `h` is NULL or a live handle from `invsync_emulator_start`.
unsafe fn emu_ref<'a>(h: *const InvsyncEmulator) -> FfiResult<&'a Emulator> {
    if h.is_null() {
        return Err(Failure::new(INVSYNC_NULL_POINTER, "emulator is NULL"));
    }
    // SAFETY: non-NULL and live by the caller's contract.
    Ok(unsafe { &(*h).emulator })
}

/// TEST ONLY: starts a loopback `http_json` cart on a free port of 127.0.0.1 with an empty
/// catalogue; `*out` receives its handle (free it with `invsync_emulator_stop`).
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn invsync_emulator_start(out: *mut *mut InvsyncEmulator) -> i32 {
    entry("invsync_emulator_start", || {
        let out = out_ptr(out, "out")?;
        let emulator = Emulator::start()
            .map_err(|e| Failure::new(INVSYNC_NETWORK, format!("cannot listen: {e}")))?;
        let h = Box::into_raw(Box::new(InvsyncEmulator { emulator }));
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { put(out, h) };
        Ok(())
    })
}

/// TEST ONLY: copies the cart's base URL (`http://127.0.0.1:PORT/`) into `buf`.
///
/// # Safety
/// `h` is NULL or a live emulator; `buf` is NULL or writable for `len` bytes; `needed` is NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn invsync_emulator_url(
    h: *mut InvsyncEmulator,
    buf: *mut c_char,
    len: i32,
    needed: *mut i32,
) -> i32 {
    entry("invsync_emulator_url", || {
        // SAFETY: the caller's contract on h.
        let emu = unsafe { emu_ref(h)? };
        let out = TextOut::new(buf, len, needed)?;
        // SAFETY: the caller's contract on buf, len and needed.
        unsafe { out.write(&emu.url()) }
    })
}

/// TEST ONLY: sets the cart's count of `sku` (creating it in the cart's catalogue).
///
/// # Safety
/// `h` is NULL or a live emulator; `sku` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn invsync_emulator_set_qoh(
    h: *mut InvsyncEmulator,
    sku: *const c_char,
    qoh: i32,
) -> i32 {
    entry("invsync_emulator_set_qoh", || {
        // SAFETY: the caller's contract on each pointer.
        let (emu, sku) = unsafe { (emu_ref(h)?, str_in(sku, "sku", INVSYNC_MAX_NAME_IN)?) };
        emu.set_qoh(sku, qoh as i64);
        Ok(())
    })
}

/// TEST ONLY: on success `*out` receives the cart's count of `sku`; `INVSYNC_NOT_FOUND` when
/// the cart does not have it.
///
/// # Safety
/// `h` is NULL or a live emulator; `sku` is NULL or NUL-terminated; `out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn invsync_emulator_qoh(
    h: *mut InvsyncEmulator,
    sku: *const c_char,
    out: *mut i32,
) -> i32 {
    entry("invsync_emulator_qoh", || {
        // SAFETY: the caller's contract on each pointer.
        let (emu, sku) = unsafe { (emu_ref(h)?, str_in(sku, "sku", INVSYNC_MAX_NAME_IN)?) };
        let out = out_ptr(out, "out")?;
        let q = emu.qoh(sku).ok_or_else(|| {
            Failure::new(INVSYNC_NOT_FOUND, format!("the cart has no SKU {sku:?}"))
        })?;
        let q = to_i32(q, "count")?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { put(out, q) };
        Ok(())
    })
}

/// TEST ONLY: stops the cart and frees the handle. NULL is a no-op.
///
/// # Safety
/// `h` is NULL or a live emulator, stopped only once.
#[no_mangle]
pub unsafe extern "C" fn invsync_emulator_stop(h: *mut InvsyncEmulator) {
    if h.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: made by Box::into_raw in invsync_emulator_start; stopped once.
        drop(unsafe { Box::from_raw(h) });
    }));
}
