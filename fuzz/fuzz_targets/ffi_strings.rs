//! Fuzzes every string-taking entry point of the C ABI: the input is split into a selector,
//! two numbers and two C strings (cut at their first NUL, like a C caller's). Every call must
//! return a fixed status other than INVSYNC_PANIC, write nothing past the caller's buffer,
//! and leave a UTF-8 message that never shows the cart's secret.
//!
//! Run: `cargo +nightly fuzz run ffi_strings -- -max_total_time=60` (from the repository root).
#![no_main]

use inventory_sync::ffi::*;
use libfuzzer_sys::fuzz_target;
use std::ffi::{c_char, CString};
use std::ptr;
use std::sync::OnceLock;

const SECRET: &str = "TOPSECRET-7f3a9";

struct Fixture {
    _dir: tempfile::TempDir,
    store: usize,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = CString::new(dir.path().join("fuzz.db").to_str().unwrap()).unwrap();
        let cart = CString::new(format!(
            r#"{{"name":"Web","adapter":"http_json","url":"http://127.0.0.1:9/","token":"{SECRET}","capabilities":{{"send":true,"get":true,"realtime":"attribute"}}}}"#
        ))
        .unwrap();
        let mut store: *mut InvsyncStore = ptr::null_mut();
        let mut id = 0;
        // SAFETY: valid C strings and out pointers; the store lives for the whole run.
        unsafe {
            assert_eq!(invsync_store_open(path.as_ptr(), &mut store), INVSYNC_OK);
            assert_eq!(invsync_cart_upsert(store, cart.as_ptr(), &mut id), INVSYNC_OK);
            assert_eq!(
                invsync_item_upsert(store, c"{\"sku\":\"TEE-M\",\"qoh\":5}".as_ptr()),
                INVSYNC_OK
            );
        }
        Fixture {
            _dir: dir,
            store: store as usize,
        }
    })
}

fn last_error() -> String {
    let mut needed = 0;
    // SAFETY: a size query, then a buffer of exactly that size.
    unsafe {
        invsync_last_error(ptr::null_mut(), 0, &mut needed);
        let mut buf = vec![0u8; needed as usize];
        assert_eq!(
            invsync_last_error(buf.as_mut_ptr().cast(), needed, &mut needed),
            INVSYNC_OK
        );
        buf.pop();
        String::from_utf8(buf).expect("messages are UTF-8")
    }
}

fn c_string(bytes: &[u8]) -> CString {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    CString::new(&bytes[..end]).unwrap()
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let store = fixture().store as *mut InvsyncStore;
    let which = data[0] % 12;
    let n = i32::from_le_bytes([data[1], data[2], data[3], data[4]]);
    let m = i32::from_le_bytes([data[5], data[6], data[7], data[8]]);
    let rest = &data[9..];
    let split = rest
        .iter()
        .position(|&b| b == 0)
        .map_or(rest.len(), |i| i + 1);
    let a = c_string(&rest[..split]);
    let b = c_string(&rest[split..]);
    let len = (m & 0xff).min(200);
    let mut buf = vec![0xA5u8; len as usize + 16];
    let bp: *mut c_char = buf.as_mut_ptr().cast();
    let mut needed = -1;
    let mut out = 0;
    // SAFETY: live C strings, a buffer of at least `len` bytes, live out pointers.
    let status = unsafe {
        match which {
            0 => invsync_param_set(store, a.as_ptr(), b.as_ptr()),
            1 => invsync_param_get(store, a.as_ptr(), bp, len, &mut needed),
            2 => invsync_cart_upsert(store, a.as_ptr(), &mut out),
            3 => invsync_item_upsert(store, a.as_ptr()),
            4 => invsync_item_list(store, a.as_ptr(), bp, len, &mut needed),
            5 => invsync_item_delete(store, a.as_ptr()),
            6 => invsync_web_fields_set(store, n, a.as_ptr(), b.as_ptr()),
            7 => invsync_adjust_qoh(store, a.as_ptr(), m, n, 0, 0),
            8 => invsync_adjust_qoh_ref(store, a.as_ptr(), m, n, 0, 0, b.as_ptr()),
            9 => invsync_item_qoh(store, a.as_ptr(), &mut out),
            10 => invsync_ledger_list(store, a.as_ptr(), bp, len, &mut needed),
            _ => invsync_stack_list(store, a.as_ptr(), bp, len, &mut needed),
        }
    };
    assert!(
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10].contains(&status),
        "status {status}: {}",
        last_error()
    );
    assert!(
        buf[len as usize..].iter().all(|&x| x == 0xA5),
        "wrote past the buffer"
    );
    if status != INVSYNC_OK {
        let msg = last_error();
        assert!(!msg.contains(SECRET), "secret in {msg}");
    }
});
