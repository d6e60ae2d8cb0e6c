//! A stable-Rust stand-in for `fuzz/fuzz_targets/ffi_strings.rs`: seeded random and
//! edge-case byte strings thrown at every string-taking entry point of the C ABI, with random
//! numbers and buffer sizes. Every call must return one of the fixed status values (never
//! `INVSYNC_PANIC`), leave a readable UTF-8 message on failure that never shows the cart's
//! secret, never write past the caller's buffer, and write a NUL-terminated text of exactly
//! `needed` bytes on success.

use inventory_sync::ffi::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::ffi::{c_char, CString};
use std::ptr;

const SECRET: &str = "TOPSECRET-7f3a9";
const CASES: usize = 20_000;
const CANARY: u8 = 0xA5;

/// Bytes worth inserting into JSON: structure, digits, escapes, a byte that is never UTF-8.
const INSERTS: &[u8] = b"\"{}[],:0-9aZ\\\xff";

const FIXED: [i32; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 99];

/// Valid inputs to mutate, so many cases get past the parser into the core.
const TEMPLATES: &[&str] = &[
    r#"{"sku":"TEE-M","qoh":5}"#,
    r#"{"sku":"TEE-S","parent_sku":"TEE","attributes":{"Size":"S"},"description":"été"}"#,
    r#"{"name":"Web","adapter":"http_json","url":"http://127.0.0.1:9/","token":"x","capabilities":{"send":true,"get":true,"realtime":"attribute"},"max_items_to_send":50}"#,
    r#"{"remote_ref":"gid://1","sync":true,"buffer":2,"max_publish":null}"#,
    r#"{"cart_id":1,"state":2,"limit":10}"#,
    r#"{"sku_prefix":"TEE","limit":5}"#,
    r#"{"sku":"TEE-M","limit":1}"#,
    "SynchQOH",
    "RetryBaseMs",
    "Workstation",
    "true",
    "300000",
    "TEE-M",
    "PO-1/2",
];

fn edge_cases() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b" ".to_vec(),
        b"\t\r\n".to_vec(),
        b"{}".to_vec(),
        b"[]".to_vec(),
        b"null".to_vec(),
        b"{\"sku\":\"\\u0000\"}".to_vec(),
        b"{\"sku\":\"\\ud800\"}".to_vec(),
        b"{\"sku\":\"A\",\"qoh\":99999999999999999999}".to_vec(),
        b"{\"sku\":\"A\",\"qoh\":-2147483649}".to_vec(),
        b"{\"sku\":\"A\",\"qoh\":1e308}".to_vec(),
        b"{\"limit\":-1}".to_vec(),
        b"{\"limit\":1.5}".to_vec(),
        vec![0xff, 0xfe],
        vec![0xc0, 0x80],
        vec![0xed, 0xa0, 0x80],
        vec![0xf4, 0x90, 0x80, 0x80],
        vec![b'A'; 255],
        vec![b'A'; 256],
        vec![b'A'; 70_000],
        "\u{202e}\u{feff}ÿ😀".as_bytes().to_vec(),
        b"\x01\x02\x1b[31m".to_vec(),
    ];
    v.push(
        std::iter::repeat_n(b'[', 5000)
            .chain(std::iter::repeat_n(b']', 5000))
            .collect(),
    );
    v
}

fn random_input(rng: &mut StdRng, edges: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes = match rng.gen_range(0..10) {
        0 | 1 => edges[rng.gen_range(0..edges.len())].clone(),
        2 | 3 => (0..rng.gen_range(0..48)).map(|_| rng.gen()).collect(),
        4 => (0..rng.gen_range(0..24))
            .map(|_| rng.gen::<char>())
            .collect::<String>()
            .into_bytes(),
        _ => {
            let mut t = TEMPLATES[rng.gen_range(0..TEMPLATES.len())]
                .as_bytes()
                .to_vec();
            for _ in 0..rng.gen_range(0..4) {
                if t.is_empty() {
                    break;
                }
                let i = rng.gen_range(0..t.len());
                match rng.gen_range(0..4) {
                    0 => t[i] = rng.gen(),
                    1 => {
                        t.remove(i);
                    }
                    2 => t.insert(i, INSERTS[rng.gen_range(0..INSERTS.len())]),
                    _ => t.truncate(i),
                }
            }
            t
        }
    };
    // A C string ends at its first NUL.
    if let Some(n) = bytes.iter().position(|&b| b == 0) {
        bytes.truncate(n);
    }
    bytes
}

/// A caller's buffer with a canary tail, checked after the call.
struct Buf {
    mem: Vec<u8>,
    len: i32,
    null: bool,
}

impl Buf {
    fn random(rng: &mut StdRng) -> Buf {
        let null = rng.gen_range(0..8) == 0;
        let len = if null {
            0
        } else {
            [0, 1, 2, 8, 64, 4096][rng.gen_range(0..6)]
        };
        Buf {
            mem: vec![CANARY; len as usize + 16],
            len,
            null,
        }
    }
    fn ptr(&mut self) -> *mut c_char {
        if self.null {
            ptr::null_mut()
        } else {
            self.mem.as_mut_ptr().cast()
        }
    }
    fn check(&self, status: i32, needed: i32, call: &str) {
        assert!(
            self.mem[self.len as usize..].iter().all(|&b| b == CANARY),
            "{call}: wrote past the buffer"
        );
        if status == INVSYNC_OK && !self.null {
            let n = self.mem[..self.len as usize]
                .iter()
                .position(|&b| b == 0)
                .unwrap_or_else(|| panic!("{call}: no NUL in an OK text"));
            assert_eq!(
                n as i32 + 1,
                needed,
                "{call}: needed disagrees with the text"
            );
            std::str::from_utf8(&self.mem[..n]).expect("text out is UTF-8");
        }
        if status == INVSYNC_BUFFER_TOO_SMALL {
            assert!(
                needed > self.len,
                "{call}: too small but needed {needed} fits"
            );
            assert!(
                self.mem[..self.len as usize].iter().all(|&b| b == CANARY),
                "{call}: a too-small buffer was written"
            );
        }
    }
}

fn last_error() -> String {
    let mut needed = 0;
    // SAFETY: a size query, then a buffer of exactly that size.
    unsafe {
        assert_eq!(
            invsync_last_error(ptr::null_mut(), 0, &mut needed),
            INVSYNC_OK
        );
        let mut buf = vec![0u8; needed as usize];
        assert_eq!(
            invsync_last_error(buf.as_mut_ptr().cast(), needed, &mut needed),
            INVSYNC_OK
        );
        buf.pop();
        String::from_utf8(buf).expect("messages are UTF-8")
    }
}

fn check_status(status: i32, call: &str) {
    assert!(
        FIXED.contains(&status),
        "{call}: status {status} is not a fixed value"
    );
    assert_ne!(status, INVSYNC_PANIC, "{call}: panicked ({})", last_error());
    if status != INVSYNC_OK {
        let msg = last_error();
        assert!(msg.starts_with("invsync_"), "{call}: message {msg:?}");
        assert!(!msg.contains(SECRET), "{call}: the secret leaked: {msg}");
    }
}

#[test]
fn random_and_edge_case_strings_never_crash_and_always_get_a_fixed_status() {
    let dir = tempfile::tempdir().unwrap();
    let path = CString::new(dir.path().join("fuzz.db").to_str().unwrap()).unwrap();
    let mut store: *mut InvsyncStore = ptr::null_mut();
    let cart = CString::new(format!(
        r#"{{"name":"Web","adapter":"http_json","url":"http://127.0.0.1:9/","token":"{SECRET}","capabilities":{{"send":true,"get":true,"realtime":"attribute"}}}}"#
    ))
    .unwrap();
    let mut cart_id = 0;
    // SAFETY: valid C strings and out pointers throughout; the store is closed at the end.
    unsafe {
        assert_eq!(invsync_store_open(path.as_ptr(), &mut store), INVSYNC_OK);
        assert_eq!(
            invsync_cart_upsert(store, cart.as_ptr(), &mut cart_id),
            INVSYNC_OK
        );
    }
    let edges = edge_cases();
    let mut rng = StdRng::seed_from_u64(0x1a7e_5eed);
    let mut seen = [0usize; 100];
    for case in 0..CASES {
        let a = CString::new(random_input(&mut rng, &edges)).unwrap();
        let b = CString::new(random_input(&mut rng, &edges)).unwrap();
        let n: i32 = match rng.gen_range(0..4) {
            0 => rng.gen(),
            1 => cart_id,
            _ => rng.gen_range(-3..8),
        };
        let m: i32 = if rng.gen() {
            rng.gen()
        } else {
            rng.gen_range(-2..8)
        };
        let mut buf = Buf::random(&mut rng);
        let mut needed = -1;
        let mut out = -77;
        let which = rng.gen_range(0..13);
        // SAFETY: every pointer is a live C string, a live buffer of `buf.len` bytes, or NULL.
        let (status, call, text_out) = unsafe {
            match which {
                0 => (
                    invsync_param_set(store, a.as_ptr(), b.as_ptr()),
                    "param_set",
                    false,
                ),
                1 => (
                    invsync_param_get(store, a.as_ptr(), buf.ptr(), buf.len, &mut needed),
                    "param_get",
                    true,
                ),
                2 => (
                    invsync_cart_upsert(store, a.as_ptr(), &mut out),
                    "cart_upsert",
                    false,
                ),
                3 => (invsync_item_upsert(store, a.as_ptr()), "item_upsert", false),
                4 => (
                    invsync_item_list(store, a.as_ptr(), buf.ptr(), buf.len, &mut needed),
                    "item_list",
                    true,
                ),
                5 => (invsync_item_delete(store, a.as_ptr()), "item_delete", false),
                6 => (
                    invsync_web_fields_set(store, n, a.as_ptr(), b.as_ptr()),
                    "web_fields_set",
                    false,
                ),
                7 => (
                    invsync_adjust_qoh(store, a.as_ptr(), m, n, 0, m & 3),
                    "adjust_qoh",
                    false,
                ),
                8 => (
                    invsync_adjust_qoh_ref(store, a.as_ptr(), m, 1 + (n & 7), 0, 0, b.as_ptr()),
                    "adjust_qoh_ref",
                    false,
                ),
                9 => (
                    invsync_item_qoh(store, a.as_ptr(), &mut out),
                    "item_qoh",
                    false,
                ),
                10 => (
                    invsync_ledger_list(store, a.as_ptr(), buf.ptr(), buf.len, &mut needed),
                    "ledger_list",
                    true,
                ),
                11 => (
                    invsync_stack_list(store, a.as_ptr(), buf.ptr(), buf.len, &mut needed),
                    "stack_list",
                    true,
                ),
                _ => {
                    // store_open with text that is not a usable path: never a file outside
                    // the temp dir (valid UTF-8 names are opened inside it).
                    let mut h: *mut InvsyncStore = ptr::null_mut();
                    // Every valid UTF-8 text becomes a name inside the temp dir: an arbitrary
                    // relative path would create files wherever the test runs. Only bytes that
                    // are not UTF-8 go through as they are (refused before any file is made).
                    let p = match std::str::from_utf8(a.as_bytes()) {
                        Ok(s) => {
                            let safe: String = s
                                .chars()
                                .filter(|c| c.is_ascii_alphanumeric())
                                .take(32)
                                .collect();
                            CString::new(dir.path().join(format!("o-{safe}.db")).to_str().unwrap())
                                .unwrap()
                        }
                        Err(_) => a.clone(),
                    };
                    let s = invsync_store_open(p.as_ptr(), &mut h);
                    if s == INVSYNC_OK {
                        assert!(!h.is_null());
                        invsync_store_close(h);
                    } else {
                        assert!(h.is_null(), "store_open wrote out on failure");
                    }
                    (s, "store_open", false)
                }
            }
        };
        check_status(status, &format!("case {case}: {call}"));
        if text_out {
            buf.check(status, needed, call);
            if status == INVSYNC_OK || status == INVSYNC_BUFFER_TOO_SMALL {
                assert!(needed >= 1, "{call}: needed not written");
            }
        } else if status != INVSYNC_OK {
            assert_eq!(out, -77, "{call}: out written on failure");
        }
        seen[status as usize] += 1;
    }
    // SAFETY: the handle from invsync_store_open, closed once.
    unsafe { invsync_store_close(store) };
    // The run reached the core, not only the argument checks.
    for status in [
        INVSYNC_OK,
        INVSYNC_INVALID_UTF8,
        INVSYNC_INVALID_ARGUMENT,
        INVSYNC_NOT_FOUND,
    ] {
        assert!(
            seen[status as usize] > 100,
            "status {status} seen only {} times",
            seen[status as usize]
        );
    }
    assert!(seen[INVSYNC_BUFFER_TOO_SMALL as usize] > 0);
}
