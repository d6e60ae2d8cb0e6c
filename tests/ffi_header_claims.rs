//! What include/inventory_sync.h says of each function, asserted through the C ABI where no
//! other test did: out parameters left untouched on failure, `needed` on a size query, a
//! buffer too small and a bad buffer, the last error kept by successes, the listings' default
//! limit and order, parameters of one handle only, a host transaction refusing every call that
//! talks to a cart, and the controller's and the stack run's documented outcomes.

mod documented;

use inventory_sync::ffi::*;
use std::ffi::{c_char, c_void, CString};
use std::ptr;

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// The calling thread's last error message.
fn last_error() -> String {
    let mut buf = vec![0u8; 4096];
    let mut n = 0;
    // SAFETY: a live 4096-byte buffer and a live `needed`.
    let st = unsafe { invsync_last_error(buf.as_mut_ptr().cast(), 4096, &mut n) };
    assert_eq!(st, INVSYNC_OK);
    buf.truncate(n as usize - 1);
    String::from_utf8(buf).unwrap()
}

/// A store file in a temp dir (closed on drop).
struct Fx {
    dir: tempfile::TempDir,
    s: *mut InvsyncStore,
}

impl Drop for Fx {
    fn drop(&mut self) {
        // SAFETY: live, closed once.
        unsafe { invsync_store_close(self.s) };
    }
}

impl Fx {
    fn new() -> Fx {
        let dir = tempfile::tempdir().unwrap();
        let s = open(&dir, "t.db");
        Fx { dir, s }
    }

    fn ok(&self, st: i32) {
        assert_eq!(st, INVSYNC_OK, "{}", last_error());
    }

    fn item(&self, sku: &str, qoh: i32) {
        let j = c(&format!(r#"{{"sku":"{sku}","qoh":{qoh}}}"#));
        // SAFETY: live handle and C string.
        self.ok(unsafe { invsync_item_upsert(self.s, j.as_ptr()) });
    }

    fn qoh(&self, sku: &str) -> i32 {
        let sku = c(sku);
        let mut q = -1;
        // SAFETY: live handle, C string and out pointer.
        self.ok(unsafe { invsync_item_qoh(self.s, sku.as_ptr(), &mut q) });
        q
    }

    fn param(&self, name: &str) -> String {
        let name = c(name);
        let s = self.s;
        // SAFETY: live handle and C string; `read_text` passes a live buffer.
        read_text(|b, l, n| unsafe { invsync_param_get(s, name.as_ptr(), b, l, n) })
    }

    fn set_param(&self, name: &str, value: &str) -> i32 {
        let (name, value) = (c(name), c(value));
        // SAFETY: live handle and C strings.
        unsafe { invsync_param_set(self.s, name.as_ptr(), value.as_ptr()) }
    }
}

fn open(dir: &tempfile::TempDir, name: &str) -> *mut InvsyncStore {
    let path = c(dir.path().join(name).to_str().unwrap());
    let mut s = ptr::null_mut();
    // SAFETY: a C string and a live out pointer.
    let st = unsafe { invsync_store_open(path.as_ptr(), &mut s) };
    assert_eq!(st, INVSYNC_OK, "{}", last_error());
    s
}

/// A text-out call as a host makes it: a size query, then a buffer of that size.
fn read_text(mut f: impl FnMut(*mut c_char, i32, *mut i32) -> i32) -> String {
    let mut n = -1;
    let st = f(ptr::null_mut(), 0, &mut n);
    assert_eq!(st, INVSYNC_OK, "{}", last_error());
    let mut buf = vec![0u8; n as usize];
    let mut m = -1;
    assert_eq!(f(buf.as_mut_ptr().cast(), n, &mut m), INVSYNC_OK);
    assert_eq!(m, n);
    assert_eq!(buf.pop(), Some(0));
    String::from_utf8(buf).unwrap()
}

/// Every text-out rule of the header's conventions, for one call that has its text: a size
/// query (`buf = NULL, len = 0`) is `INVSYNC_OK` and writes `*needed`; a buffer of `len` 0 or
/// one byte short is `INVSYNC_BUFFER_TOO_SMALL` with `*needed` written and nothing written to
/// it; `needed` may be NULL; a negative `len` or a NULL `buf` with a `len` is refused with
/// `*needed` left as it was. Returns the text.
fn check_text_out(what: &str, mut f: impl FnMut(*mut c_char, i32, *mut i32) -> i32) -> String {
    const CANARY: u8 = 0xA5;
    let mut n = -5;
    assert_eq!(
        f(ptr::null_mut(), 0, &mut n),
        INVSYNC_OK,
        "{what}: size query"
    );
    assert!(n >= 1, "{what}: needed {n}");
    for len in [0, n - 1] {
        let mut buf = vec![CANARY; n as usize + 8];
        let mut m = -5;
        assert_eq!(
            f(buf.as_mut_ptr().cast(), len, &mut m),
            INVSYNC_BUFFER_TOO_SMALL,
            "{what}: len {len}"
        );
        assert_eq!(m, n, "{what}: needed on BUFFER_TOO_SMALL (len {len})");
        assert!(
            buf.iter().all(|&b| b == CANARY),
            "{what}: a too-small buffer was written"
        );
    }
    let mut buf = vec![CANARY; n as usize + 8];
    assert_eq!(
        f(buf.as_mut_ptr().cast(), n, ptr::null_mut()),
        INVSYNC_OK,
        "{what}: exact size, needed NULL"
    );
    assert_eq!(buf[n as usize - 1], 0, "{what}: NUL at needed - 1");
    assert!(
        buf[n as usize..].iter().all(|&b| b == CANARY),
        "{what}: past the text"
    );
    let text = String::from_utf8(buf[..n as usize - 1].to_vec()).unwrap();
    assert!(!text.contains('\0'), "{what}: a NUL inside the text");
    // A bad buffer: refused, needed left as it was.
    let mut m = -5;
    assert_eq!(
        f(ptr::null_mut(), 8, &mut m),
        INVSYNC_NULL_POINTER,
        "{what}"
    );
    assert_eq!(m, -5, "{what}: needed written with buf NULL and len 8");
    let mut small = [CANARY; 4];
    assert_eq!(
        f(small.as_mut_ptr().cast(), -1, &mut m),
        INVSYNC_INVALID_ARGUMENT,
        "{what}"
    );
    assert_eq!(m, -5, "{what}: needed written with a negative len");
    assert_eq!(small, [CANARY; 4]);
    text
}

/// Conventions: "Successes leave it as is" (the last error); `invsync_last_error`: "This call
/// never replaces the message it reads", also when it fails itself.
#[test]
fn successes_and_invsync_last_errors_own_failures_leave_the_last_error_as_it_was() {
    let f = Fx::new();
    f.item("A", 3);
    let sku = c("NO-SUCH-SKU");
    let mut q = -77;
    // SAFETY: live handle, C string and out pointer.
    let st = unsafe { invsync_item_qoh(f.s, sku.as_ptr(), &mut q) };
    assert_eq!(st, INVSYNC_NOT_FOUND);
    assert_eq!(q, -77, "out_qoh written on failure");
    let msg = last_error();
    assert!(
        msg.starts_with("invsync_item_qoh") && msg.contains("NO-SUCH-SKU"),
        "{msg}"
    );

    // Successful calls of several kinds.
    assert_eq!(f.qoh("A"), 3);
    assert_eq!(f.param("SynchQOH"), "false");
    assert_eq!(f.set_param("RetryBaseMs", "10"), INVSYNC_OK);
    assert_eq!(last_error(), msg, "a success replaced the last error");

    // invsync_last_error failing on a bad buffer keeps the message, and so `needed`.
    let mut n = -5;
    // SAFETY: NULL buffer with a length: refused before any write.
    assert_eq!(
        unsafe { invsync_last_error(ptr::null_mut(), 8, &mut n) },
        INVSYNC_NULL_POINTER
    );
    let mut small = [0u8; 4];
    // SAFETY: a live 4-byte buffer; a negative length is refused before any write.
    assert_eq!(
        unsafe { invsync_last_error(small.as_mut_ptr().cast(), -1, &mut n) },
        INVSYNC_INVALID_ARGUMENT
    );
    assert_eq!(n, -5);
    assert_eq!(last_error(), msg, "invsync_last_error replaced the message");
}

/// The header's text-out conventions hold for every call that copies text out without doing
/// work: `invsync_last_error`, `invsync_param_get`, `invsync_cart_list`, `invsync_item_list`,
/// `invsync_ledger_list`, `invsync_stack_list`, `invsync_controller_status`,
/// `invsync_last_report`.
#[test]
fn every_text_out_call_sizes_refuses_and_copies_as_the_conventions_say() {
    let f = Fx::new();
    f.item("A", 3);
    let sku = c("A");
    // SAFETY: live handle and C string.
    f.ok(unsafe { invsync_adjust_qoh(f.s, sku.as_ptr(), 2, 4, 0, 0) });
    // SAFETY: live handle; a run with no buffer makes a report for invsync_last_report.
    f.ok(unsafe { invsync_stack_run(f.s, 0, ptr::null_mut(), 0, ptr::null_mut()) });
    let bad = c("NO-SUCH");
    let mut q = 0;
    // SAFETY: live handle, C string and out pointer: a failure, for the last error.
    unsafe { invsync_item_qoh(f.s, bad.as_ptr(), &mut q) };

    let s = f.s;
    let name = c("RetryMaxMs");
    // SAFETY (each closure): live handle and C strings; check_text_out passes NULL or a live
    // buffer of at least `len` bytes, and NULL or a live `needed`.
    let msg = check_text_out("last_error", |b, l, n| unsafe {
        invsync_last_error(b, l, n)
    });
    assert!(msg.contains("NO-SUCH"), "{msg}");
    let v = check_text_out("param_get", |b, l, n| unsafe {
        invsync_param_get(s, name.as_ptr(), b, l, n)
    });
    assert_eq!(v, "300000");
    check_text_out("cart_list", |b, l, n| unsafe {
        invsync_cart_list(s, b, l, n)
    });
    let items = check_text_out("item_list", |b, l, n| unsafe {
        invsync_item_list(s, ptr::null(), b, l, n)
    });
    assert!(items.contains("\"A\""), "{items}");
    let ledger = check_text_out("ledger_list", |b, l, n| unsafe {
        invsync_ledger_list(s, ptr::null(), b, l, n)
    });
    assert!(ledger.contains("\"delta\":2"), "{ledger}");
    check_text_out("stack_list", |b, l, n| unsafe {
        invsync_stack_list(s, ptr::null(), b, l, n)
    });
    check_text_out("controller_status", |b, l, n| unsafe {
        invsync_controller_status(s, b, l, n)
    });
    let report = check_text_out("last_report", |b, l, n| unsafe {
        invsync_last_report(s, b, l, n)
    });
    assert!(report.contains("\"sent\":0"), "{report}");
}

/// Conventions: `*needed` is written "whenever the call has its text (a call that fails before
/// it has any leaves it)".
#[test]
fn a_call_that_fails_before_it_has_its_text_leaves_needed_and_the_buffer() {
    let f = Fx::new();
    let name = c("NoSuchParam");
    let mut buf = [0xA5u8; 64];
    let mut n = -5;
    // SAFETY: live handle, C string, a live 64-byte buffer and a live `needed`.
    let st = unsafe { invsync_param_get(f.s, name.as_ptr(), buf.as_mut_ptr().cast(), 64, &mut n) };
    assert_eq!(st, INVSYNC_INVALID_ARGUMENT);
    assert_eq!(n, -5);
    assert!(buf.iter().all(|&b| b == 0xA5));
    let filter = c(r#"{"limit":0}"#);
    // SAFETY: as above.
    let st =
        unsafe { invsync_ledger_list(f.s, filter.as_ptr(), buf.as_mut_ptr().cast(), 64, &mut n) };
    assert_eq!(st, INVSYNC_INVALID_ARGUMENT);
    assert_eq!(n, -5);
    assert!(buf.iter().all(|&b| b == 0xA5));
    // No run yet on this thread: NOT_FOUND, needed left.
    // SAFETY: as above.
    let st = unsafe { invsync_last_report(f.s, buf.as_mut_ptr().cast(), 64, &mut n) };
    assert_eq!(st, INVSYNC_NOT_FOUND);
    assert_eq!(n, -5);
}

/// `invsync_store_open`: "on failure `*out` is left untouched", whatever the failure.
#[test]
fn store_open_leaves_out_untouched_on_every_failure() {
    let dir = tempfile::tempdir().unwrap();
    let sentinel = ptr::NonNull::<InvsyncStore>::dangling().as_ptr();
    let missing_dir = dir.path().join("no-such-dir").join("t.db");
    let cases: Vec<(Vec<u8>, i32)> = vec![
        (b":memory:".to_vec(), INVSYNC_INVALID_ARGUMENT),
        (b"".to_vec(), INVSYNC_INVALID_ARGUMENT),
        (
            format!("file:{}?mode=ro", dir.path().join("ro.db").display()).into_bytes(),
            INVSYNC_INVALID_ARGUMENT,
        ),
        (vec![b'a', 0xff, b'b'], INVSYNC_INVALID_UTF8),
        (
            missing_dir.to_str().unwrap().as_bytes().to_vec(),
            INVSYNC_DATABASE,
        ),
    ];
    for (path, want) in cases {
        let p = CString::new(path.clone()).unwrap();
        let mut out = sentinel;
        // SAFETY: a C string and a live out pointer.
        let st = unsafe { invsync_store_open(p.as_ptr(), &mut out) };
        assert_eq!(st, want, "{path:?}: {}", last_error());
        assert_eq!(out, sentinel, "{path:?}: *out written on failure");
    }
    assert!(!missing_dir.exists() && !dir.path().join("ro.db").exists());
    let mut out = sentinel;
    // SAFETY: NULL path: refused before anything is read.
    assert_eq!(
        unsafe { invsync_store_open(ptr::null(), &mut out) },
        INVSYNC_NULL_POINTER
    );
    assert_eq!(out, sentinel);
}

/// `invsync_store_close`: "NULL is a no-op" (the C suite calls only the stdcall twin so).
#[test]
fn closing_null_is_a_no_op() {
    // SAFETY: NULL is allowed.
    unsafe { invsync_store_close(ptr::null_mut()) };
    // The thread's last error is not touched by it either.
    let f = Fx::new();
    assert_eq!(f.set_param("NoSuch", "1"), INVSYNC_INVALID_ARGUMENT);
    let msg = last_error();
    // SAFETY: NULL is allowed.
    unsafe { invsync_store_close(ptr::null_mut()) };
    assert_eq!(last_error(), msg);
}

/// `invsync_param_set`/`invsync_param_get`: each documented default; a bad value "changes
/// nothing"; `Workstation` and `PassIntervalMs` are "for this handle only", the others the
/// store's.
#[test]
fn parameters_have_their_defaults_a_bad_value_changes_nothing_and_two_are_the_handles() {
    let f = Fx::new();
    for &(name, default) in documented::PARAM_DEFAULTS {
        assert_eq!(f.param(name), default, "{name}");
    }
    assert!(!f.param("Workstation").is_empty());

    f.ok(f.set_param("RetryBaseMs", "500"));
    for bad in ["abc", "-1", ""] {
        assert_eq!(
            f.set_param("RetryBaseMs", bad),
            INVSYNC_INVALID_ARGUMENT,
            "{bad:?}"
        );
        assert_eq!(f.param("RetryBaseMs"), "500", "{bad:?} changed the value");
    }
    f.ok(f.set_param("StackMode", "shared"));
    assert_eq!(
        f.set_param("StackMode", "everywhere"),
        INVSYNC_INVALID_ARGUMENT
    );
    assert_eq!(f.param("StackMode"), "shared");
    f.ok(f.set_param("PassIntervalMs", "5000"));
    assert_eq!(
        f.set_param("PassIntervalMs", "3600001"),
        INVSYNC_INVALID_ARGUMENT
    );
    assert_eq!(f.param("PassIntervalMs"), "5000");

    // A second handle on the same file.
    let other = Fx {
        s: open(&f.dir, "t.db"),
        dir: tempfile::tempdir().unwrap(),
    };
    let theirs = other.param("Workstation");
    f.ok(f.set_param("Workstation", "TILL-9"));
    assert_eq!(f.param("Workstation"), "TILL-9");
    assert_eq!(
        other.param("Workstation"),
        theirs,
        "Workstation is the handle's"
    );
    assert_eq!(
        other.param("PassIntervalMs"),
        "0",
        "PassIntervalMs is the handle's"
    );
    assert_eq!(
        other.param("RetryBaseMs"),
        "500",
        "RetryBaseMs is the store's"
    );
    assert_eq!(
        other.param("StackMode"),
        "shared",
        "StackMode is the store's"
    );
}

/// `invsync_item_list`: "NULL: the first 1000 items"; `invsync_ledger_list`: "newest first"
/// (and, as the header now says, at most 1000 without a `limit`); `invsync_stack_list`:
/// "oldest first", `state` by number or by the name a record shows.
#[test]
fn listings_keep_their_documented_order_and_default_limit() {
    let f = Fx::new();
    // A real-time cart on a port nothing answers: its records wait.
    let cart = c(
        r#"{"name":"Web","adapter":"http_json","url":"http://127.0.0.1:9/","capabilities":{"send":true,"get":true,"realtime":"attribute"}}"#,
    );
    let mut id = 0;
    // SAFETY: live handle, C string and out pointer.
    f.ok(unsafe { invsync_cart_upsert(f.s, cart.as_ptr(), &mut id) });
    f.ok(f.set_param("SynchQOH", "true"));
    // SAFETY: live handle.
    f.ok(unsafe { invsync_cart_set_sync(f.s, id, 1) });
    // SAFETY: live handle.
    f.ok(unsafe { invsync_begin(f.s) });
    for i in 0..1001 {
        f.item(&format!("I{i:04}"), 1);
    }
    // One sale of each item (a record each, oldest I0000's), then 1001 receipts of I0000
    // that reach no cart (the newest changes).
    for i in 0..1001 {
        let sku = c(&format!("I{i:04}"));
        // SAFETY: live handle and C string.
        f.ok(unsafe { invsync_adjust_qoh(f.s, sku.as_ptr(), -1, 2, 0, 0) });
    }
    let sku = c("I0000");
    for _ in 0..1001 {
        // SAFETY: live handle and C string.
        f.ok(unsafe { invsync_adjust_qoh(f.s, sku.as_ptr(), 1, 4, 0, INVSYNC_ADJUST_NO_WEB) });
    }
    // SAFETY: live handle.
    f.ok(unsafe { invsync_commit(f.s) });
    assert_eq!(f.qoh("I0000"), 1001);

    let s = f.s;
    let list = |which: fn(*mut InvsyncStore, *const c_char, *mut c_char, i32, *mut i32) -> i32,
                filter: Option<&str>| {
        let filter = filter.map(c);
        let p = filter.as_ref().map_or(ptr::null(), |f| f.as_ptr());
        let text = read_text(|b, l, n| which(s, p, b, l, n));
        serde_json::from_str::<Vec<serde_json::Value>>(&text).unwrap()
    };
    // SAFETY (the three wrappers): `list` passes a live handle, NULL or a C string, and a
    // live buffer and `needed` as `read_text` does.
    let items = |s, p, b, l, n| unsafe { invsync_item_list(s, p, b, l, n) };
    let ledger = |s, p, b, l, n| unsafe { invsync_ledger_list(s, p, b, l, n) };
    let stack = |s, p, b, l, n| unsafe { invsync_stack_list(s, p, b, l, n) };

    let all = list(items, None);
    assert_eq!(all.len(), 1000, "item_list with NULL: the first 1000");
    assert_eq!(all[0]["sku"], "I0000");
    assert_eq!(list(items, Some(r#"{"limit":1001}"#)).len(), 1001);

    let changes = list(ledger, None);
    assert_eq!(
        changes.len(),
        1000,
        "ledger_list with NULL: the newest 1000"
    );
    let after: Vec<i64> = changes
        .iter()
        .filter(|v| v["sku"] == "I0000")
        .map(|v| v["qoh_after"].as_i64().unwrap())
        .collect();
    assert_eq!(after[0], 1001, "newest first");
    assert!(after.windows(2).all(|w| w[0] > w[1]), "newest first");
    for key in [
        "sku",
        "delta",
        "qoh_after",
        "reason",
        "origin_cart_id",
        "host_ref",
        "workstation",
        "created_at",
    ] {
        assert!(
            changes[0].get(key).is_some(),
            "ledger key {key}: {}",
            changes[0]
        );
    }
    let whole = list(ledger, Some(r#"{"limit":1000000}"#));
    assert!(whole.len() > 1000);
    let sales = whole
        .iter()
        .filter(|v| v["sku"] == "I0000" && v["delta"] == 1 && v["reason"] == 4)
        .count();
    assert_eq!(sales, 1001, "a limit of 1000000 lists them all");

    let recs = list(stack, None);
    assert_eq!(recs.len(), 1000, "stack_list with NULL: the oldest 1000");
    assert_eq!(recs[0]["sku"], "I0000", "oldest first");
    assert_eq!(recs[999]["sku"], "I0999", "oldest first");
    assert!(recs
        .windows(2)
        .all(|w| w[0]["id"].as_i64() < w[1]["id"].as_i64()));
    for key in documented::STACK_LIST_KEYS {
        assert!(recs[0].get(key).is_some(), "stack key {key}: {}", recs[0]);
    }
    assert_eq!(list(stack, Some(r#"{"state":1}"#)), recs);
    assert_eq!(list(stack, Some(r#"{"state":"pending"}"#)), recs);
    assert!(list(stack, Some(r#"{"state":"bypassed"}"#)).is_empty());
    assert!(list(stack, Some(r#"{"state":3}"#)).is_empty());
    assert_eq!(list(stack, Some(r#"{"limit":1000000}"#)).len(), 1001);
}

/// Conventions: strings in are "at most INVSYNC_MAX_TEXT_IN bytes (JSON)": that many is
/// taken, one more is `INVSYNC_INVALID_ARGUMENT`, and nothing is changed.
#[test]
fn json_is_taken_up_to_invsync_max_text_in_bytes() {
    let f = Fx::new();
    let json = r#"{"sku":"BIG","qoh":4}"#;
    let max = INVSYNC_MAX_TEXT_IN as usize;
    let mut padded = json.as_bytes().to_vec();
    padded.resize(max, b' ');
    let at_max = CString::new(padded.clone()).unwrap();
    padded.push(b' ');
    let over = CString::new(padded).unwrap();
    // SAFETY: live handle and C string.
    let st = unsafe { invsync_item_upsert(f.s, over.as_ptr()) };
    assert_eq!(st, INVSYNC_INVALID_ARGUMENT);
    assert!(last_error().contains("longer than"), "{}", last_error());
    let sku = c("BIG");
    let mut q = -77;
    // SAFETY: live handle, C string and out pointer.
    assert_eq!(
        unsafe { invsync_item_qoh(f.s, sku.as_ptr(), &mut q) },
        INVSYNC_NOT_FOUND
    );
    // SAFETY: live handle and C string.
    f.ok(unsafe { invsync_item_upsert(f.s, at_max.as_ptr()) });
    assert_eq!(f.qoh("BIG"), 4);
}

/// `invsync_controller_stop`: "`INVSYNC_OK` when none runs"; `invsync_controller_start`:
/// `interval_ms` "1 to 3600000"; `invsync_controller_status`: "`{running, passes,
/// last_pass_at, last_error, last_error_kind, heartbeat, last_report}`".
#[test]
fn the_controller_calls_keep_their_documented_range_outcomes_and_keys() {
    let f = Fx::new();
    // SAFETY: live handle throughout.
    unsafe {
        f.ok(invsync_controller_stop(f.s));
        assert_eq!(
            invsync_controller_start(f.s, 3_600_001),
            INVSYNC_INVALID_ARGUMENT
        );
        assert!(last_error().contains("interval"), "{}", last_error());
    }
    let s = f.s;
    // SAFETY: live handle; read_text passes a live buffer.
    let status = || read_text(|b, l, n| unsafe { invsync_controller_status(s, b, l, n) });
    let v: serde_json::Value = serde_json::from_str(&status()).unwrap();
    assert_eq!(v["running"], false, "{v}");
    // SAFETY: live handle.
    f.ok(unsafe { invsync_controller_start(f.s, 3_600_000) });
    let v: serde_json::Value = serde_json::from_str(&status()).unwrap();
    assert_eq!(v["running"], true, "{v}");
    for key in [
        "running",
        "passes",
        "last_pass_at",
        "last_error",
        "last_error_kind",
        "heartbeat",
        "last_report",
    ] {
        assert!(v.get(key).is_some(), "status key {key}: {v}");
    }
    // SAFETY: live handle.
    unsafe {
        f.ok(invsync_controller_stop(f.s));
        f.ok(invsync_controller_stop(f.s));
    }
    let v: serde_json::Value = serde_json::from_str(&status()).unwrap();
    assert_eq!(v["running"], false, "{v}");
}

/// `invsync_controller_start`: "`INVSYNC_REFUSED` ... inside a host transaction while one
/// stopped in it (`invsync_controller_stop`) still ends"; after the commit it starts.
#[test]
fn a_controller_stopped_inside_a_transaction_cannot_be_restarted_before_its_end() {
    let f = Fx::new();
    // SAFETY: live handle throughout.
    unsafe {
        f.ok(invsync_controller_start(f.s, 3_600_000));
        f.ok(invsync_begin(f.s));
        f.ok(invsync_controller_stop(f.s));
        assert_eq!(invsync_controller_start(f.s, 3_600_000), INVSYNC_REFUSED);
        assert!(
            last_error().contains("commit or roll back"),
            "{}",
            last_error()
        );
        f.ok(invsync_commit(f.s));
        f.ok(invsync_controller_start(f.s, 3_600_000));
        f.ok(invsync_controller_stop(f.s));
    }
}

/// `invsync_rollback`: "`INVSYNC_REFUSED` when none is open".
#[test]
fn rollback_and_commit_without_a_transaction_are_refused() {
    let f = Fx::new();
    // SAFETY: live handle.
    unsafe {
        assert_eq!(invsync_rollback(f.s), INVSYNC_REFUSED);
        assert_eq!(invsync_commit(f.s), INVSYNC_REFUSED);
        f.ok(invsync_begin(f.s));
        f.ok(invsync_commit(f.s));
        assert_eq!(invsync_rollback(f.s), INVSYNC_REFUSED);
    }
}

#[cfg(feature = "emulator")]
mod with_a_cart {
    use super::*;

    struct Web {
        f: Fx,
        emu: *mut InvsyncEmulator,
        cart: i32,
    }

    impl Drop for Web {
        fn drop(&mut self) {
            // SAFETY: live, stopped once.
            unsafe { invsync_emulator_stop(self.emu) };
        }
    }

    /// A store with one manual (`realtime` `none`) cart on the loopback emulator, items A and
    /// B on both.
    fn web() -> Web {
        let f = Fx::new();
        let mut emu = ptr::null_mut();
        // SAFETY: a live out pointer.
        f.ok(unsafe { invsync_emulator_start(&mut emu) });
        // SAFETY: live emulator; read_text passes a live buffer.
        let url = read_text(|b, l, n| unsafe { invsync_emulator_url(emu, b, l, n) });
        let j = c(&format!(
            r#"{{"name":"Web","adapter":"http_json","url":"{url}","max_items_to_send":1,"capabilities":{{"send":true,"get":true,"realtime":"none"}}}}"#
        ));
        let mut cart = -1;
        // SAFETY: live handle, C string and out pointer.
        f.ok(unsafe { invsync_cart_upsert(f.s, j.as_ptr(), &mut cart) });
        for sku in ["A", "B"] {
            f.item(sku, 5);
            let sku = c(sku);
            // SAFETY: live emulator and C string.
            f.ok(unsafe { invsync_emulator_set_qoh(emu, sku.as_ptr(), 5) });
        }
        Web { f, emu, cart }
    }

    /// `invsync_emulator_stop`: "NULL is a no-op".
    #[test]
    fn stopping_a_null_emulator_is_a_no_op() {
        // SAFETY: NULL is allowed.
        unsafe { invsync_emulator_stop(ptr::null_mut()) };
    }

    /// `invsync_cart_upsert`: "A new cart starts with *Synchronize Inventory* off", and
    /// ticking it for a cart without real-time sync is refused.
    #[test]
    fn a_new_cart_starts_with_its_box_clear_and_one_without_real_time_cannot_tick_it() {
        let w = web();
        let s = w.f.s;
        // SAFETY: live handle; read_text passes a live buffer.
        let carts = read_text(|b, l, n| unsafe { invsync_cart_list(s, b, l, n) });
        let v: Vec<serde_json::Value> = serde_json::from_str(&carts).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0]["sync"], false, "{carts}");
        // SAFETY: live handle.
        let st = unsafe { invsync_cart_set_sync(s, w.cart, 1) };
        assert_eq!(st, INVSYNC_REFUSED);
        assert!(last_error().contains("real-time"), "{}", last_error());
        // SAFETY: live handle: clearing it is always allowed.
        w.f.ok(unsafe { invsync_cart_set_sync(s, w.cart, 0) });
    }

    /// Conventions: "Other out parameters are written only on success", for the calls whose
    /// failures no other test checked with a sentinel.
    #[test]
    fn out_parameters_are_left_untouched_on_failure() {
        let w = web();
        let s = w.f.s;
        let (mut id, mut uncertain, mut n) = (-77, -77, -77);
        let bad = c(r#"{"name":"X","adapter":"no-such-adapter","url":"http://127.0.0.1:9/"}"#);
        // SAFETY: live handle, C string and out pointers, throughout.
        unsafe {
            assert_eq!(
                invsync_cart_save(s, bad.as_ptr(), &mut id, &mut uncertain),
                INVSYNC_INVALID_ARGUMENT
            );
            assert_eq!((id, uncertain), (-77, -77));
            assert_eq!(
                invsync_cart_upsert(s, bad.as_ptr(), &mut id),
                INVSYNC_INVALID_ARGUMENT
            );
            assert_eq!(id, -77);
            assert_eq!(invsync_cart_retire(s, 4242, &mut n), INVSYNC_NOT_FOUND);
            assert_eq!(n, -77);
            assert_eq!(invsync_cart_retire(s, 0, &mut n), INVSYNC_INVALID_ARGUMENT);
            assert_eq!(n, -77);
            assert_eq!(invsync_stack_count(s, 4242, 1, &mut n), INVSYNC_NOT_FOUND);
            assert_eq!(
                invsync_stack_count(s, 0, 9, &mut n),
                INVSYNC_INVALID_ARGUMENT
            );
            assert_eq!(n, -77);
            let sku = c("NOT-ON-THE-CART");
            assert_eq!(
                invsync_emulator_qoh(w.emu, sku.as_ptr(), &mut n),
                INVSYNC_NOT_FOUND
            );
            assert_eq!(n, -77);
            let mut e = ptr::NonNull::<InvsyncEmulator>::dangling().as_ptr();
            let before = e;
            assert_eq!(
                invsync_emulator_start(ptr::null_mut()),
                INVSYNC_NULL_POINTER
            );
            // And on success each is written.
            let good = c(
                r#"{"name":"Web","adapter":"http_json","url":"http://127.0.0.1:9/","capabilities":{"send":true,"get":true,"realtime":"none"}}"#,
            );
            w.f.ok(invsync_cart_save(s, good.as_ptr(), &mut id, &mut uncertain));
            assert_eq!((id, uncertain), (w.cart, 0));
            w.f.ok(invsync_stack_count(s, 0, 1, &mut n));
            assert_eq!(n, 0);
            w.f.ok(invsync_emulator_start(&mut e));
            assert_ne!(e, before);
            invsync_emulator_stop(e);
        }
    }

    /// `invsync_begin`: "Calls that talk to a cart are `INVSYNC_REFUSED`" (Send QOH, Get QOH,
    /// the preflight, the drift report, a stack run), the transaction left intact; a refused
    /// call has no text, so `*needed` and the buffer are left as they were.
    #[test]
    fn inside_a_host_transaction_every_call_that_talks_to_a_cart_is_refused() {
        let w = web();
        let (s, cart) = (w.f.s, w.cart);
        let sku = c("A");
        // SAFETY: live handle and C string.
        unsafe {
            w.f.ok(invsync_begin(s));
            w.f.ok(invsync_adjust_qoh(s, sku.as_ptr(), -2, 2, 0, 0));
        }
        type Call<'a> = (&'a str, Box<dyn Fn(*mut c_char, i32, *mut i32) -> i32>);
        // SAFETY (each closure): live handle; the caller passes a live buffer and `needed`.
        let calls: Vec<Call> = vec![
            (
                "send_qoh",
                Box::new(move |b, l, n| unsafe {
                    invsync_send_qoh(
                        s,
                        cart,
                        INVSYNC_MANUAL_FORCE,
                        None,
                        ptr::null_mut(),
                        b,
                        l,
                        n,
                    )
                }),
            ),
            (
                "get_qoh",
                Box::new(move |b, l, n| unsafe {
                    invsync_get_qoh(
                        s,
                        cart,
                        INVSYNC_MANUAL_FORCE,
                        None,
                        ptr::null_mut(),
                        b,
                        l,
                        n,
                    )
                }),
            ),
            (
                "preflight",
                Box::new(move |b, l, n| unsafe { invsync_preflight(s, cart, b, l, n) }),
            ),
            (
                "drift",
                Box::new(move |b, l, n| unsafe { invsync_drift(s, cart, 1, b, l, n) }),
            ),
            (
                "stack_run",
                Box::new(move |b, l, n| unsafe { invsync_stack_run(s, 0, b, l, n) }),
            ),
        ];
        for (what, call) in &calls {
            let mut buf = [0xA5u8; 256];
            let mut n = -5;
            assert_eq!(
                call(buf.as_mut_ptr().cast(), 256, &mut n),
                INVSYNC_REFUSED,
                "{what}"
            );
            assert!(
                last_error().contains("transaction"),
                "{what}: {}",
                last_error()
            );
            assert_eq!(n, -5, "{what}: needed written");
            assert!(buf.iter().all(|&b| b == 0xA5), "{what}: buffer written");
            let mut r = -5;
            // SAFETY: live handle, a live buffer and `needed`.
            let st = unsafe { invsync_last_report(s, buf.as_mut_ptr().cast(), 256, &mut r) };
            assert_eq!(
                st, INVSYNC_NOT_FOUND,
                "{what}: a refused call left a report"
            );
        }
        // The transaction is intact: its sale is there, the cart was not told, and it commits.
        assert_eq!(w.f.qoh("A"), 3);
        // SAFETY: live handle; live emulator, C string and out pointer.
        unsafe {
            w.f.ok(invsync_commit(s));
            let mut q = -1;
            w.f.ok(invsync_emulator_qoh(w.emu, sku.as_ptr(), &mut q));
            assert_eq!(q, 5, "a refused call reached the cart");
        }
        assert_eq!(w.f.qoh("A"), 3);
    }

    /// `invsync_stack_run`: "`buf = NULL, len = 0, needed = NULL` runs without a report":
    /// the pass is made and its report kept for `invsync_last_report` all the same (the
    /// conventions: "read their report again with invsync_last_report()").
    #[test]
    fn a_stack_run_without_a_buffer_still_keeps_its_report() {
        let w = web();
        let s = w.f.s;
        w.f.ok(w.f.set_param("SynchQOH", "true"));
        // The cart, now with real-time sync.
        let j = c(
            r#"{"name":"Web","adapter":"http_json","url":"URL","capabilities":{"send":true,"get":true,"realtime":"attribute"}}"#,
        );
        // SAFETY: live emulator; read_text passes a live buffer.
        let url = read_text(|b, l, n| unsafe { invsync_emulator_url(w.emu, b, l, n) });
        let j = c(&j.to_str().unwrap().replace("URL", &url));
        let mut live = -1;
        let sku = c("B");
        // SAFETY: live handle, C strings and out pointer.
        unsafe {
            w.f.ok(invsync_cart_upsert(s, j.as_ptr(), &mut live));
            assert_eq!(live, w.cart);
            w.f.ok(invsync_cart_set_sync(s, live, 1));
            w.f.ok(invsync_adjust_qoh(s, sku.as_ptr(), -1, 2, 0, 0));
            w.f.ok(invsync_stack_run(s, 0, ptr::null_mut(), 0, ptr::null_mut()));
        }
        let mut q = -1;
        // SAFETY: live emulator, C string and out pointer.
        w.f.ok(unsafe { invsync_emulator_qoh(w.emu, sku.as_ptr(), &mut q) });
        assert_eq!(q, 4, "the pass was made");
        // SAFETY: live handle; read_text passes a live buffer.
        let report = read_text(|b, l, n| unsafe { invsync_last_report(s, b, l, n) });
        let v: serde_json::Value = serde_json::from_str(&report).unwrap();
        assert_eq!(v["sent"], 1, "{report}");
        for key in [
            "sent",
            "retried",
            "bypassed",
            "uncertain",
            "remaining",
            "standby",
            "carts",
        ] {
            assert!(v.get(key).is_some(), "run report key {key}: {report}");
        }
    }

    struct Begun {
        s: *mut InvsyncStore,
        statuses: Vec<i32>,
    }

    unsafe extern "C" fn try_begin(user: *mut c_void, _done: i32, _total: i32) -> i32 {
        // SAFETY: `user` is the test's live `Begun`, used on this thread only.
        let b = unsafe { &mut *user.cast::<Begun>() };
        // SAFETY: the handle the call runs on, live.
        b.statuses.push(unsafe { invsync_begin(b.s) });
        0
    }

    unsafe extern "C" fn cancel(_user: *mut c_void, _done: i32, _total: i32) -> i32 {
        1
    }

    /// `invsync_begin`: "`INVSYNC_REFUSED` ... while a Send/Get QOH ... runs on the handle
    /// (... or from its progress callback)"; the callback runs with no lock held (a call on
    /// the handle from it returns).
    #[test]
    fn a_transaction_cannot_begin_from_a_send_or_get_qohs_progress_callback() {
        let w = web();
        let s = w.f.s;
        let mut b = Begun {
            s,
            statuses: Vec::new(),
        };
        let user = (&mut b as *mut Begun).cast::<c_void>();
        // SAFETY: live handle; `user` outlives the calls; no buffer.
        unsafe {
            w.f.ok(invsync_send_qoh(
                s,
                w.cart,
                0,
                Some(try_begin),
                user,
                ptr::null_mut(),
                0,
                ptr::null_mut(),
            ));
            w.f.ok(invsync_get_qoh(
                s,
                w.cart,
                0,
                Some(try_begin),
                user,
                ptr::null_mut(),
                0,
                ptr::null_mut(),
            ));
        }
        assert!(b.statuses.len() >= 2, "{:?}", b.statuses);
        assert!(
            b.statuses.iter().all(|&st| st == INVSYNC_REFUSED),
            "{:?}",
            b.statuses
        );
        // Once the runs have ended, one begins.
        // SAFETY: live handle.
        unsafe {
            w.f.ok(invsync_begin(s));
            w.f.ok(invsync_rollback(s));
        }
    }

    /// Conventions: "a non-zero return cancels and the call returns INVSYNC_CANCELLED with
    /// the partial report": copied to `buf` with `*needed` written, and kept for
    /// `invsync_last_report`; too small a buffer gets nothing and the report is read there.
    #[test]
    fn a_cancelled_send_copies_its_partial_report_and_writes_needed() {
        let w = web();
        let s = w.f.s;
        let mut buf = vec![0xA5u8; 4096];
        let mut n = -5;
        // SAFETY: live handle; a live 4096-byte buffer and `needed`.
        let st = unsafe {
            invsync_send_qoh(
                s,
                w.cart,
                0,
                Some(cancel),
                ptr::null_mut(),
                buf.as_mut_ptr().cast(),
                4096,
                &mut n,
            )
        };
        assert_eq!(st, INVSYNC_CANCELLED);
        assert!(n > 1);
        assert_eq!(buf[n as usize - 1], 0);
        let copied = String::from_utf8(buf[..n as usize - 1].to_vec()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&copied).unwrap();
        assert_eq!(v["cancelled"], true, "{copied}");
        assert_eq!(
            v["sent"], 1,
            "one batch of one before the callback: {copied}"
        );
        // SAFETY: live handle; read_text passes a live buffer.
        let kept = read_text(|b, l, n| unsafe { invsync_last_report(s, b, l, n) });
        assert_eq!(kept, copied);

        let mut small = [0xA5u8; 4];
        let mut m = -5;
        // SAFETY: live handle; a live 4-byte buffer and `needed`.
        let st = unsafe {
            invsync_send_qoh(
                s,
                w.cart,
                0,
                Some(cancel),
                ptr::null_mut(),
                small.as_mut_ptr().cast(),
                4,
                &mut m,
            )
        };
        assert_eq!(st, INVSYNC_CANCELLED, "cancelled wins over a small buffer");
        assert!(m > 4);
        assert_eq!(small, [0xA5u8; 4]);
        // SAFETY: live handle; read_text passes a live buffer.
        let kept = read_text(|b, l, n| unsafe { invsync_last_report(s, b, l, n) });
        assert_eq!(kept.len() + 1, m as usize);
        assert!(kept.contains("\"cancelled\":true"), "{kept}");
    }
}
