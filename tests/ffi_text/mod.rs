//! Text across the C ABI for the tests that call it from Rust.
#![allow(dead_code)]

use inventory_sync::ffi::{invsync_last_error, INVSYNC_OK};
use std::ffi::CString;

/// `s` as a NUL-terminated string to pass in.
pub fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// The calling thread's last error message (up to 4 KiB).
pub fn last_error() -> String {
    let mut buf = vec![0u8; 4096];
    let mut needed = 0;
    // SAFETY: a live buffer of 4096 bytes and a live `needed`.
    let status = unsafe { invsync_last_error(buf.as_mut_ptr().cast(), 4096, &mut needed) };
    assert_eq!(status, INVSYNC_OK);
    buf.truncate(needed as usize - 1);
    String::from_utf8(buf).unwrap()
}
