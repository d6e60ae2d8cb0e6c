//! The checks and conversions every entry point shares: the last error, panics, strings in,
//! text out, out parameters.

use super::*;
use crate::{Error, ErrorKind};
use std::cell::RefCell;
use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;

thread_local! {
    /// The calling thread's last failure message, NUL-free.
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// A failed call: its status and the message for `invsync_last_error`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: i32,
    pub(crate) message: String,
}

pub(crate) type FfiResult<T> = std::result::Result<T, Failure>;

impl Failure {
    pub(crate) fn new(status: i32, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(INVSYNC_INVALID_ARGUMENT, message)
    }
}

/// The status a core error kind maps to (DESIGN §9).
pub(crate) fn status_of(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::InvalidArgument => INVSYNC_INVALID_ARGUMENT,
        ErrorKind::NotFound => INVSYNC_NOT_FOUND,
        ErrorKind::Refused => INVSYNC_REFUSED,
        ErrorKind::Cancelled => INVSYNC_CANCELLED,
        ErrorKind::Busy => INVSYNC_BUSY,
        ErrorKind::Database => INVSYNC_DATABASE,
        ErrorKind::Network => INVSYNC_NETWORK,
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::new(status_of(e.kind()), e.message())
    }
}

/// Replaces the calling thread's last error message.
pub(crate) fn set_last_error(message: String) {
    // A NUL inside would cut the C string short; show it instead.
    let message = if message.contains('\0') {
        message.replace('\0', "\\0")
    } else {
        message
    };
    // `try_with`: a host's own per-thread clean-up (a C++ `thread_local` destructor, a
    // `pthread_key_create` one) may call in after this thread's storage is gone; `with` would
    // panic there, outside any guard, and abort the host. The message is then lost; the
    // status still says what failed.
    let _ = LAST_ERROR.try_with(|e| *e.borrow_mut() = message);
}

/// The calling thread's last error message (empty once the thread's storage is gone).
pub(crate) fn last_error() -> String {
    LAST_ERROR
        .try_with(|e| e.borrow().clone())
        .unwrap_or_default()
}

/// Runs the body of entry point `name`: a failure's message goes to the thread's last error
/// (prefixed with `name`) and a panic becomes [`INVSYNC_PANIC`].
pub(crate) fn entry(name: &'static str, body: impl FnOnce() -> FfiResult<()>) -> i32 {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => INVSYNC_OK,
        Ok(Err(f)) => {
            set_last_error(format!("{name}: {}", f.message));
            f.status
        }
        Err(_) => {
            // The payload is not shown: it is not written for operators and could hold
            // anything. The default panic hook has printed it to stderr.
            set_last_error(format!(
                "{name}: internal error (a panic was caught; please report it)"
            ));
            INVSYNC_PANIC
        }
    }
}

/// The handle behind `store`, counted as in use until the returned guard drops.
///
/// # Safety
/// `store` is NULL or a live handle from `invsync_store_open` on which `invsync_store_close`
/// has not been called.
pub(crate) unsafe fn store_ref<'a>(store: *const InvsyncStore) -> FfiResult<StoreCall<'a>> {
    if store.is_null() {
        return Err(Failure::new(INVSYNC_NULL_POINTER, "store is NULL"));
    }
    // SAFETY: non-NULL, and the caller guarantees it is a live handle.
    unsafe { &*store }.state.fetch_add(2, Ordering::SeqCst);
    Ok(StoreCall {
        handle: store.cast_mut(),
        life: std::marker::PhantomData,
    })
}

/// A call in progress on a handle: a close requested meanwhile (from the call's own progress
/// callback, or from another thread) frees the handle when the last such call returns, never
/// under it.
pub(crate) struct StoreCall<'a> {
    handle: *mut InvsyncStore,
    life: std::marker::PhantomData<&'a Store>,
}

impl std::ops::Deref for StoreCall<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        // SAFETY: the handle is freed only once this guard has dropped (see its `Drop`).
        unsafe { &(*self.handle).store }
    }
}

impl Drop for StoreCall<'_> {
    fn drop(&mut self) {
        // SAFETY: counted in by `store_ref`, so not yet freed. Nothing reads the handle after
        // this operation: from then on a close on another thread may free it.
        let before = unsafe { &*self.handle }
            .state
            .fetch_sub(2, Ordering::SeqCst);
        if before == 2 + CLOSING {
            // SAFETY: the last call to end after a close: no one else frees it.
            drop(unsafe { Box::from_raw(self.handle) });
        }
    }
}

/// Closes `store` now, or, while calls on it are still inside the library, when the last of
/// them returns.
///
/// # Safety
/// `store` is a live handle from `invsync_store_open`, closed only once, and no call on it
/// starts once this has begun.
pub(crate) unsafe fn close(store: *mut InvsyncStore) {
    // SAFETY: the caller's contract. Nothing reads the handle after this operation.
    let before = unsafe { &*store }.state.fetch_or(CLOSING, Ordering::SeqCst);
    if before == 0 {
        // SAFETY: no call inside and none may start: this is the only one to free it.
        drop(unsafe { Box::from_raw(store) });
    }
}

/// Reads a required NUL-terminated UTF-8 string `what` of at most `max` bytes.
///
/// # Safety
/// `p` is NULL or points to readable memory up to and including a NUL byte, or to at least
/// `max + 1` readable bytes.
pub(crate) unsafe fn str_in<'a>(p: *const c_char, what: &str, max: i32) -> FfiResult<&'a str> {
    if p.is_null() {
        return Err(Failure::new(
            INVSYNC_NULL_POINTER,
            format!("{what} is NULL"),
        ));
    }
    let max = max as usize;
    let mut n = 0usize;
    // A bounded strlen: never reads more than max + 1 bytes.
    loop {
        // SAFETY: the caller guarantees the bytes up to the NUL, or max + 1 bytes, are
        // readable, and n <= max here.
        if unsafe { *p.add(n) } == 0 {
            break;
        }
        if n == max {
            return Err(Failure::invalid(format!(
                "{what} is longer than {max} bytes"
            )));
        }
        n += 1;
    }
    // SAFETY: the n bytes before the NUL were just read, so they are readable.
    let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), n) };
    std::str::from_utf8(bytes).map_err(|e| {
        Failure::new(
            INVSYNC_INVALID_UTF8,
            format!("{what} is not valid UTF-8 (at byte {})", e.valid_up_to()),
        )
    })
}

/// Reads an optional string: NULL is `None`.
///
/// # Safety
/// As [`str_in`].
pub(crate) unsafe fn opt_str_in<'a>(
    p: *const c_char,
    what: &str,
    max: i32,
) -> FfiResult<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded from the caller.
        unsafe { str_in(p, what, max) }.map(Some)
    }
}

/// Checks a required out parameter up front, so nothing is done when it is NULL.
pub(crate) fn out_ptr<T>(p: *mut T, what: &str) -> FfiResult<*mut T> {
    if p.is_null() {
        Err(Failure::new(
            INVSYNC_NULL_POINTER,
            format!("{what} is NULL"),
        ))
    } else {
        Ok(p)
    }
}

/// A caller's text-out triple, checked before any work is done.
pub(crate) struct TextOut {
    buf: *mut c_char,
    len: usize,
    needed: *mut i32,
}

impl TextOut {
    /// Checks `(buf, len, needed)`: `len` not negative, `buf` NULL only with `len` 0.
    pub(crate) fn new(buf: *mut c_char, len: i32, needed: *mut i32) -> FfiResult<TextOut> {
        if len < 0 {
            return Err(Failure::invalid(format!("len is negative ({len})")));
        }
        if buf.is_null() && len != 0 {
            return Err(Failure::new(
                INVSYNC_NULL_POINTER,
                format!("buf is NULL but len is {len}"),
            ));
        }
        Ok(TextOut {
            buf,
            len: len as usize,
            needed,
        })
    }

    /// Writes `text` and its NUL if it fits; `needed` always (when non-NULL).
    ///
    /// # Safety
    /// `buf` (when non-NULL) is writable for `len` bytes and `needed` (when non-NULL) is
    /// writable, as the entry point's caller guarantees.
    pub(crate) unsafe fn write(&self, text: &str) -> FfiResult<()> {
        let size = text.len() + 1;
        let Ok(size32) = i32::try_from(size) else {
            return Err(Failure::invalid(format!(
                "the text is {size} bytes, more than an int32_t can count; ask for less (a filter limit)"
            )));
        };
        if !self.needed.is_null() {
            // SAFETY: non-NULL and writable by the caller's contract.
            unsafe { self.needed.write_unaligned(size32) };
        }
        if self.buf.is_null() {
            // A size query.
            return Ok(());
        }
        if self.len < size {
            return Err(Failure::new(
                INVSYNC_BUFFER_TOO_SMALL,
                format!(
                    "the buffer holds {} bytes but {size} are needed; nothing was written",
                    self.len
                ),
            ));
        }
        // SAFETY: buf is writable for len >= size bytes; text does not overlap it (it is
        // Rust-owned memory).
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), self.buf.cast::<u8>(), text.len());
            self.buf.add(text.len()).write(0);
        }
        Ok(())
    }
}

/// Writes an out parameter (after the call succeeded).
///
/// # Safety
/// `p` is non-NULL (checked with [`out_ptr`]) and writable.
pub(crate) unsafe fn put<T>(p: *mut T, v: T) {
    // SAFETY: by the caller's contract; unaligned in case a host packs its variables.
    unsafe { p.write_unaligned(v) }
}

/// Checks that `flags` uses only the bits in `allowed`.
pub(crate) fn check_flags(flags: i32, allowed: i32, what: &str) -> FfiResult<()> {
    if flags & !allowed != 0 {
        return Err(Failure::invalid(format!(
            "{what}: unknown flag bits {:#x} (allowed {allowed:#x})",
            flags & !allowed
        )));
    }
    Ok(())
}

/// Checks a cart id argument: positive.
pub(crate) fn cart_id(id: i32) -> FfiResult<i64> {
    id_arg(id, "cart")
}

/// Checks the id argument `<what>_id`: positive, as the store's ids are.
pub(crate) fn id_arg(id: i32, what: &str) -> FfiResult<i64> {
    if id <= 0 {
        return Err(Failure::invalid(format!(
            "{what}_id {id} is not a {what} id (ids are positive)"
        )));
    }
    Ok(id as i64)
}

/// A number where 0 means `zero` (none, all) and a positive value itself; a negative one is
/// refused naming `what`.
pub(crate) fn zero_means(v: i32, what: &str, zero: &str) -> FfiResult<Option<i64>> {
    match v {
        0 => Ok(None),
        n if n > 0 => Ok(Some(n as i64)),
        n => Err(Failure::invalid(format!(
            "{what} {n} is negative (0 = {zero})"
        ))),
    }
}

/// Narrows a count to `int32_t`, or fails naming `what`.
pub(crate) fn to_i32(v: i64, what: &str) -> FfiResult<i32> {
    i32::try_from(v).map_err(|_| Failure::invalid(format!("{what} {v} does not fit in an int32_t")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_the_panic_status_with_a_message() {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let status = entry("invsync_test", || panic!("secret-token-123"));
        std::panic::set_hook(hook);
        assert_eq!(status, INVSYNC_PANIC);
        let msg = last_error();
        assert!(msg.starts_with("invsync_test: internal error"), "{msg}");
        assert!(!msg.contains("secret-token-123"));
    }

    #[test]
    fn every_error_kind_has_its_fixed_status() {
        let cases = [
            (ErrorKind::InvalidArgument, 3),
            (ErrorKind::NotFound, 4),
            (ErrorKind::Refused, 5),
            (ErrorKind::Cancelled, 7),
            (ErrorKind::Busy, 8),
            (ErrorKind::Database, 9),
            (ErrorKind::Network, 10),
        ];
        for (kind, status) in cases {
            assert_eq!(status_of(kind), status, "{kind:?}");
        }
    }

    #[test]
    fn a_nul_in_a_message_is_shown_not_cut() {
        set_last_error("sku \"A\0B\" unknown".into());
        assert_eq!(last_error(), "sku \"A\\0B\" unknown");
    }
}
