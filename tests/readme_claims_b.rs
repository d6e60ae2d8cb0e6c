//! README claims no other test asserted, from "Manual sync and preflight" through
//! "Parameters" and "For C, .NET and VBA hosts" (an audit of 2026-12-05): each test quotes
//! the sentence it checks, so an integrator who writes a host from the README is not misled
//! by a sentence the code no longer keeps.
#![cfg(feature = "emulator")]

#[macro_use]
mod common;
mod documented;
mod ffi_text;

use common::*;
use inventory_sync::emulator::{Emulator, Fault};
use inventory_sync::Reason;
use std::process::{Command, Output, Stdio};

/// `invsync args` with its standard output on a full disk.
fn invsync_to_a_full_disk(args: &[&str]) -> Output {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    wait_output(
        Command::new(env!("CARGO_BIN_EXE_invsync"))
            .args(args)
            .stdout(full)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        PATIENCE,
        &format!("`invsync {}` writing to a full disk", args.join(" ")),
    )
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// README, Parameters: "`SynchQOH` (`false`), `BypassAfterAttempts` (10), `RetryBaseMs`
/// (1000), `RetryMaxMs` (300000 …), `LeaseMs` (60000), `StackMode` (`local`),
/// `StackHistoryDays` (90 …), and, per handle, … `PassIntervalMs` (0: … up to 3600000 …). An
/// unknown name or a bad value is refused."
#[test]
fn a_new_store_has_the_documented_parameter_defaults_and_refuses_what_it_does_not_know() {
    let dir = tempfile::tempdir().unwrap();
    let store = inventory_sync::Store::open(dir.path().join("store.db")).unwrap();
    for &(name, default) in documented::PARAM_DEFAULTS {
        assert_eq!(store.param(name).unwrap(), default, "{name}");
    }
    let s = store.settings().unwrap();
    assert_eq!(
        (s.retry_base_ms, s.retry_max_ms, s.lease_ms, s.history_days),
        (1000, 300_000, 60_000, 90)
    );
    store.set_param("PassIntervalMs", "3600000").unwrap();
    assert_eq!(store.param("PassIntervalMs").unwrap(), "3600000");
    for (name, bad) in [
        ("PassIntervalMs", "3600001"),
        ("RetryMaxMs", "-1"),
        ("StackMode", "cloud"),
        ("BypassAfterAttempts", "ten"),
        ("RetryMaxMS", "1000"),
        ("NoSuchParameter", "1"),
    ] {
        assert!(store.set_param(name, bad).is_err(), "{name} = {bad}");
    }
    assert!(store.param("NoSuchParameter").is_err());
    // A refused value changes nothing.
    assert_eq!(store.param("RetryMaxMs").unwrap(), "300000");
    assert_eq!(store.param("PassIntervalMs").unwrap(), "3600000");
}

/// README, Parameters: "`RetryMaxMs` (300000: it caps the back-off between retries, so set
/// below `RetryBaseMs` every retry waits about `RetryMaxMs`, 50 to 100 % of it with jitter;
/// the two are set one at a time, so neither is refused for the other …)".
#[test]
fn retry_max_below_retry_base_is_taken_in_either_order_and_caps_each_wait() {
    let f = store();
    // Either order: the cap first, then a base above it; and the base first, then the cap.
    f.store.set_param("RetryMaxMs", "2000").unwrap();
    f.store.set_param("RetryBaseMs", "600000").unwrap();
    f.store.set_param("RetryBaseMs", "1000").unwrap();
    f.store.set_param("RetryBaseMs", "600000").unwrap();
    f.store.set_param("RetryMaxMs", "2000").unwrap();
    assert_eq!(f.store.param("RetryBaseMs").unwrap(), "600000");
    assert_eq!(f.store.param("RetryMaxMs").unwrap(), "2000");
    let e = Emulator::start().unwrap();
    e.set_qoh("MUG", 10);
    cart(&f.store, &e, "Web", "attribute");
    item(&f.store, "MUG", 10);
    adjust(&f.store, "MUG", -1, Reason::PosSale);
    e.inject(Fault::Status {
        status: 500,
        count: 1,
        retry_after: None,
    });
    let before = now_ms();
    let report = f.store.run_stack(None).unwrap();
    let after = now_ms();
    assert_eq!((report.sent, report.retried), (0, 1), "{report}");
    let listed = stack(&f.store, None);
    assert_eq!(listed.len(), 1, "{listed:?}");
    let next = listed[0]["next_attempt_at"].as_i64().unwrap();
    // 50 to 100 % of RetryMaxMs, never RetryBaseMs' ten minutes.
    assert!(
        next >= before + 1000 && next <= after + 2000,
        "next try {} ms after the pass began, {} ms after it ended",
        next - before,
        next - after
    );
    assert_eq!(e.qoh("MUG"), Some(10));
}

/// README, Adapters: "`adapter::conformance::check(&adapter, &test_cart, &options)` runs
/// eleven checks of the contract against a test cart you control … and prints one line
/// each".
#[test]
fn the_conformance_check_runs_eleven_checks_and_prints_one_line_each() {
    use inventory_sync::adapter::conformance::{check, CheckOptions};
    use inventory_sync::adapter::http_json::HttpJsonAdapter;
    const TOKEN: &str = "Readme-Claims-T0ken";
    // The emulator is a test cart itself (the library's `impl TestCart for Emulator`).
    let cart = Emulator::start().unwrap();
    cart.set_token(Some(TOKEN));
    let token = Some(inventory_sync::secret::Secret::new(TOKEN));
    let adapter =
        HttpJsonAdapter::new(&cart.url(), token, std::time::Duration::from_secs(10)).unwrap();
    let options = CheckOptions {
        secrets: vec![TOKEN.into()],
        ..Default::default()
    };
    let report = check(&adapter, &cart, &options);
    assert!(report.passed(), "{report}");
    assert_eq!(report.checks.len(), 11, "{report}");
    let printed = report.to_string();
    let lines: Vec<&str> = printed.lines().collect();
    // One line a check, then the summary.
    assert_eq!(lines.len(), 12, "{printed}");
    for (line, c) in lines.iter().zip(&report.checks) {
        assert!(line.contains(c.name), "{line:?} names {:?}", c.name);
    }
    assert_eq!(lines[11], "0 of 11 checks failed", "{printed}");
}

/// README, `invsync`, Arguments and exit status: "Exit status: 0 on success; 1 when the
/// library refuses or fails (an unknown SKU, a file imported before, a file that is not a
/// store; the message is on stderr); 2 on bad usage (an unknown command or option, a bad
/// number, … an import file it cannot read …)."
#[test]
fn the_command_line_exits_1_for_what_the_library_refuses_and_2_for_bad_usage() {
    let f = store();
    item(&f.store, "MUG", 10);
    let db = f.dir.path().join("store.db");
    let db = db.to_str().unwrap();
    let not_a_store = f.dir.path().join("notes.txt");
    std::fs::write(&not_a_store, "shopping list: milk, eggs\n".repeat(200)).unwrap();
    let missing_csv = f.dir.path().join("no-such.csv");
    for (args, code, says) in [
        (vec!["qoh", db, "MUG"], 0, ""),
        (vec!["qoh", db, "NO-SUCH-SKU"], 1, "unknown SKU"),
        (vec!["qoh", not_a_store.to_str().unwrap(), "MUG"], 1, ""),
        (vec!["sync", db], 2, "unknown command"),
        (vec!["stack", db, "--limit", "ten"], 2, "--limit"),
        (vec!["stack", db, "--limit", "1000000"], 2, "--limit"),
        (vec!["import", db, missing_csv.to_str().unwrap()], 2, ""),
    ] {
        let out = invsync(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {says:?} in {err}");
        if code != 0 {
            assert!(!err.trim().is_empty(), "{args:?}: the message is on stderr");
        }
    }
    // The file that is not a store was left as it was.
    assert_eq!(
        std::fs::read_to_string(&not_a_store).unwrap(),
        "shopping list: milk, eggs\n".repeat(200)
    );
    assert_eq!(f.store.item_qoh("MUG").unwrap(), 10);
}

/// README, `invsync`, Arguments and exit status: "A command that changed the store (`run`,
/// `import`, `init`, `retry`, `discard`) exits 0 even when its report cannot be written to
/// stdout (a full disk, a closed pipe): the report goes to stderr, since running it again
/// would make its changes again." (`import` has its own test in cli.rs.)
#[test]
fn run_init_retry_and_discard_succeed_when_their_report_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("new.db");
    let out = invsync_to_a_full_disk(&["init", new.to_str().unwrap()]);
    assert!(
        out.status.success() && stderr(&out).contains("new store"),
        "{:?}: {}",
        out.status,
        stderr(&out)
    );
    assert!(std::fs::metadata(&new).unwrap().len() > 0);

    let f = store();
    f.store.set_param("BypassAfterAttempts", "1").unwrap();
    let e = Emulator::start().unwrap();
    e.set_qoh("MUG", 10);
    e.set_qoh("CAP", 5);
    item(&f.store, "MUG", 10);
    item(&f.store, "CAP", 5);
    cart(&f.store, &e, "Web", "attribute");
    adjust(&f.store, "MUG", -1, Reason::PosSale);
    let db = f.dir.path().join("store.db");
    let db = db.to_str().unwrap();
    let out = invsync_to_a_full_disk(&["run", db]);
    assert!(
        out.status.success() && stderr(&out).contains("1 record sent"),
        "{:?}: {}",
        out.status,
        stderr(&out)
    );
    assert_eq!(e.qoh("MUG"), Some(9));

    // A sale the cart refuses, bypassed, then discarded.
    e.fail_sku("CAP", "refused");
    adjust(&f.store, "CAP", -1, Reason::PosSale);
    drain(&f.store);
    let bypassed = |sku: &str| {
        let listed = stack(&f.store, None);
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0]["state"], "bypassed", "{listed:?}");
        assert_eq!(listed[0]["sku"], sku, "{listed:?}");
        listed[0]["id"].to_string()
    };
    let out = invsync_to_a_full_disk(&["discard", db, &bypassed("CAP")]);
    assert!(out.status.success(), "{:?}: {}", out.status, stderr(&out));
    assert!(stderr(&out).contains("standard output cannot be written"));
    assert!(stack(&f.store, None).is_empty());
    // Another, then retried once the cart takes it.
    adjust(&f.store, "CAP", -2, Reason::PosSale);
    drain(&f.store);
    let id = bypassed("CAP");
    e.unfail_sku("CAP");
    let out = invsync_to_a_full_disk(&["retry", db, &id]);
    assert!(out.status.success(), "{:?}: {}", out.status, stderr(&out));
    assert!(stderr(&out).contains("standard output cannot be written"));
    drain(&f.store);
    // The retried sale reached the cart, the discarded one did not; neither went twice.
    assert_eq!(e.qoh("CAP"), Some(3));
    assert!(stack(&f.store, None).is_empty());
}

/// README, `invsync`, Arguments and exit status: "`run` exits 0 when carts were
/// unreachable; its report says so."
#[test]
fn run_exits_0_when_a_cart_is_unreachable_and_its_report_says_so() {
    let f = store();
    // A port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let json = serde_json::json!({
        "name": "Web", "adapter": "http_json", "url": format!("http://127.0.0.1:{port}/"),
        "capabilities": {"send": true, "get": true, "realtime": "attribute"},
    });
    let c = f.store.upsert_cart_json(&json.to_string()).unwrap();
    f.store.set_cart_sync(c, true).unwrap();
    item(&f.store, "MUG", 10);
    adjust(&f.store, "MUG", -1, Reason::PosSale);
    let db = f.dir.path().join("store.db");
    let out = invsync(&["run", db.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{said}{}", stderr(&out));
    let line = said
        .lines()
        .find(|l| l.trim_start().starts_with("Web:"))
        .unwrap_or_else(|| panic!("no line for the cart: {said}"));
    assert!(
        line.contains("0 sent") && line.contains('(') && line.contains("1 waiting"),
        "the cart's line says it was not reached: {line:?}"
    );
    // The sale still waits for the cart.
    assert_eq!(records(&f.store, c), vec![("MUG".to_owned(), -1)]);
}

/// README, Conventions in one breath: "JSON in (cart, item, web fields, filters) is an
/// object whose keys are each given once (a key given twice is `INVSYNC_INVALID_ARGUMENT`,
/// not the last one kept)" and "a SKU or a host reference 1 to 255 bytes, so size such a
/// field in bytes: 128 of "é" are 256".
#[test]
fn through_the_c_abi_a_key_given_twice_and_a_sku_of_256_bytes_are_invalid_arguments() {
    use ffi_text::{c, last_error};
    use inventory_sync::ffi::*;
    let dir = tempfile::tempdir().unwrap();
    let path = c(dir.path().join("t.db").to_str().unwrap());
    let mut s: *mut InvsyncStore = std::ptr::null_mut();
    // SAFETY: valid NUL-terminated strings and a live out pointer; the handle is closed last.
    unsafe {
        assert_eq!(invsync_store_open(path.as_ptr(), &mut s), INVSYNC_OK);
        let twice = c(r#"{"sku":"CAP","qoh":5,"qoh":50}"#);
        assert_eq!(
            invsync_item_upsert(s, twice.as_ptr()),
            INVSYNC_INVALID_ARGUMENT
        );
        assert!(last_error().contains("given twice"), "{}", last_error());
        let mut qoh = 0;
        assert_eq!(
            invsync_item_qoh(s, c("CAP").as_ptr(), &mut qoh),
            INVSYNC_NOT_FOUND
        );
        let fits = "é".repeat(127); // 254 bytes
        let over = "é".repeat(128); // 256 bytes
        let item = |sku: &str| c(&serde_json::json!({"sku": sku, "qoh": 3}).to_string());
        assert_eq!(invsync_item_upsert(s, item(&fits).as_ptr()), INVSYNC_OK);
        assert_eq!(
            invsync_item_upsert(s, item(&over).as_ptr()),
            INVSYNC_INVALID_ARGUMENT
        );
        assert!(last_error().contains("255 bytes"), "{}", last_error());
        assert_eq!(
            invsync_adjust_qoh(s, c(&over).as_ptr(), -1, 2, 0, 0),
            INVSYNC_INVALID_ARGUMENT
        );
        assert_eq!(
            invsync_adjust_qoh(s, c(&fits).as_ptr(), -1, 2, 0, 0),
            INVSYNC_OK
        );
        let long_ref = c(&"é".repeat(128));
        assert_eq!(
            invsync_adjust_qoh_ref(s, c(&fits).as_ptr(), -1, 2, 0, 0, long_ref.as_ptr()),
            INVSYNC_INVALID_ARGUMENT
        );
        assert_eq!(invsync_item_qoh(s, c(&fits).as_ptr(), &mut qoh), INVSYNC_OK);
        assert_eq!(qoh, 2, "the one sale taken, the refused ones not");
        invsync_store_close(s);
    }
}

/// README, .NET: "A transaction (`Begin`) is the `Store`'s, not the thread's: a sale another
/// thread makes on that `Store` meanwhile is undone by its `Rollback`; open a `Store` of its
/// own for a transaction." (The wrapper's `Begin` and `Rollback` are `invsync_begin` and
/// `invsync_rollback` on the handle.)
#[test]
fn a_sale_another_thread_makes_on_the_handle_during_a_transaction_is_undone_by_its_rollback() {
    use ffi_text::c;
    use inventory_sync::ffi::*;
    let dir = tempfile::tempdir().unwrap();
    let path = c(dir.path().join("t.db").to_str().unwrap());
    let mut s: *mut InvsyncStore = std::ptr::null_mut();
    // SAFETY: valid NUL-terminated strings and a live out pointer; the handle outlives the
    // thread (joined before it is closed).
    unsafe {
        assert_eq!(invsync_store_open(path.as_ptr(), &mut s), INVSYNC_OK);
        assert_eq!(
            invsync_item_upsert(s, c(r#"{"sku":"MUG","qoh":10}"#).as_ptr()),
            INVSYNC_OK
        );
        assert_eq!(invsync_begin(s), INVSYNC_OK);
        assert_eq!(
            invsync_adjust_qoh(s, c("MUG").as_ptr(), 5, 4, 0, 0),
            INVSYNC_OK
        );
        let shared = s as usize;
        // The handle stays open until this thread is joined.
        let till = std::thread::spawn(move || {
            let s = shared as *mut InvsyncStore;
            invsync_adjust_qoh(s, c("MUG").as_ptr(), -1, 2, 0, 0)
        });
        assert_eq!(
            till.join().unwrap(),
            INVSYNC_OK,
            "the till's sale was taken"
        );
        let mut qoh = 0;
        assert_eq!(invsync_item_qoh(s, c("MUG").as_ptr(), &mut qoh), INVSYNC_OK);
        assert_eq!(qoh, 14);
        assert_eq!(invsync_rollback(s), INVSYNC_OK);
        assert_eq!(invsync_item_qoh(s, c("MUG").as_ptr(), &mut qoh), INVSYNC_OK);
        assert_eq!(qoh, 10, "the other thread's sale went with the rollback");
        invsync_store_close(s);
    }
}

/// README, Writing an adapter: "Register it on every `Store` handle that may send to its
/// carts, before a cart naming it is saved (`upsert_cart_json` refuses an adapter name no
/// registry holds); a handle opened again (a restart) must register it again: until then its
/// carts' changes wait, the pass saying the adapter \"is not available\"."
#[test]
fn a_cart_whose_adapter_is_not_registered_on_a_reopened_handle_keeps_its_changes_waiting() {
    use std::sync::Arc;
    let f = store();
    f.store.set_param("BypassAfterAttempts", "1").unwrap();
    // Not registered: the cart is refused, and none is saved.
    let spec = serde_json::json!({
        "name": "ERP", "adapter": "erp", "capabilities": {"send": true, "get": true},
    });
    let err = f.store.upsert_cart_json(&spec.to_string()).unwrap_err();
    assert!(err.message().contains("unknown adapter"), "{err}");
    assert!(f.store.carts().unwrap().is_empty());

    let shop = Arc::new(Mem::default());
    shop.set("MUG", 10);
    item(&f.store, "MUG", 10);
    let erp = custom_cart(&f.store, "erp", shop.clone(), Some("attribute"), None);
    f.store.set_cart_sync(erp, true).unwrap();
    // A restart: the new handle has not registered the adapter yet.
    let reopened = f.reopen();
    reopened.set_param("RetryBaseMs", "0").unwrap();
    adjust(&reopened, "MUG", -1, Reason::PosSale);
    for _ in 0..3 {
        let report = reopened.run_stack(None).unwrap();
        let said = report.to_string();
        assert!(said.contains("is not available"), "{said}");
        assert_eq!((report.sent, report.bypassed), (0, 0), "{said}");
    }
    let listed = stack(&reopened, None);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["state"], "pending", "the sale waits: {listed:?}");
    assert_eq!(shop.get("MUG"), 10);
    // Registered again, the sale goes.
    let again = shop.clone();
    reopened.register_adapter("erp", move |_| Ok(again.clone()));
    drain(&reopened);
    assert_eq!(shop.get("MUG"), 9);
    assert!(stack(&reopened, None).is_empty());
}

/// README, `invsync`: "**`qoh`** prints an item's QOH (one number on stdout, for scripts);
/// for a product with variants, the sum of theirs, and stderr adds that a cart tracking stock
/// per SKU shows the sum of what each variant publishes (none below 0, less buffers, within
/// caps)." The command prints no figure per cart (until 2026-12-05 the README read as if it
/// printed each such cart's sum).
#[test]
fn qoh_of_a_product_prints_the_stores_total_alone_beside_a_per_sku_cart_with_a_buffer() {
    let f = store();
    let e = Emulator::start().unwrap();
    f.store
        .upsert_item_json(r#"{"sku":"TEE","description":"T-shirt"}"#)
        .unwrap();
    variant(&f.store, "TEE-S", "TEE", 5);
    variant(&f.store, "TEE-M", "TEE", 8);
    let web = cart(&f.store, &e, "Web", "sku");
    f.store
        .set_web_fields(web, "TEE-M", r#"{"buffer":3}"#)
        .unwrap();
    let db = f.dir.path().join("store.db");
    let out = invsync(&["qoh", db.to_str().unwrap(), "TEE"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "13\n");
    let err = stderr(&out);
    assert!(
        err.contains("sum of its 2 variants' QOH") && err.contains("less its buffer"),
        "{err}"
    );
    // No figure for the cart (it would publish 5 + 5 = 10).
    assert!(!err.contains("Web") && !err.contains("10"), "{err}");
}

/// README, Manual sync: "Get QOH's report is `{updated, created, unchanged, unknown:[skus],
/// not_applied:[{sku, why}], cancelled, updated_items:[{sku, before, after}],
/// updated_items_left_out, created_items:[{sku, qoh}], created_items_left_out,
/// unknown_left_out, not_applied_left_out, uncertain, error?, undescribed?}`". A host parses
/// these keys: each is there (`error` and `undescribed` only when they say something;
/// `uncertain` was missing from the README's list until 2026-12-05).
#[test]
fn a_get_qoh_report_as_a_host_reads_it_holds_the_documented_keys() {
    let f = store();
    let e = Emulator::start().unwrap();
    let web = cart(&f.store, &e, "Web", "none");
    item(&f.store, "MUG", 10);
    e.set_qoh("MUG", 7);
    e.set_qoh("NEW", 4);
    e.set_qoh("CAP", 1);
    let options = inventory_sync::GetOptions {
        force: false,
        create_new: false,
    };
    f.store.get_qoh(web, options, None).unwrap();
    let report: serde_json::Value = serde_json::from_str(&f.store.last_report().unwrap()).unwrap();
    let mut keys: Vec<&str> = report
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    let mut documented = vec![
        "updated",
        "created",
        "unchanged",
        "unknown",
        "not_applied",
        "cancelled",
        "updated_items",
        "updated_items_left_out",
        "created_items",
        "created_items_left_out",
        "unknown_left_out",
        "not_applied_left_out",
        "uncertain",
    ];
    documented.sort_unstable();
    assert_eq!(keys, documented, "{report}");
    assert_eq!(report["updated"], 1, "{report}");
    assert_eq!(
        report["updated_items"],
        serde_json::json!([{"sku": "MUG", "before": 10, "after": 7}])
    );
    let mut unknown: Vec<&str> = report["unknown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    unknown.sort_unstable();
    assert_eq!(unknown, ["CAP", "NEW"], "{report}");
    assert_eq!(f.store.item_qoh("MUG").unwrap(), 7);
}

/// README, Conventions in one breath: "Progress callbacks run on the calling thread; a
/// non-zero return cancels (`INVSYNC_CANCELLED`, with the partial report)." A VBA or
/// WinForms host updates its form from the callback, which only the thread that made the
/// call may do.
#[test]
fn a_send_qohs_progress_callback_runs_on_the_thread_that_called_it() {
    use ffi_text::c;
    use inventory_sync::ffi::*;
    use std::ffi::c_void;
    use std::thread::ThreadId;
    struct Seen {
        threads: Vec<ThreadId>,
        cancel_at: usize,
    }
    unsafe extern "C" fn progress(user: *mut c_void, _done: i32, _total: i32) -> i32 {
        // SAFETY: `user` is the `Seen` the test passed, alive for the call.
        let seen = unsafe { &mut *user.cast::<Seen>() };
        seen.threads.push(std::thread::current().id());
        i32::from(seen.threads.len() == seen.cancel_at)
    }
    let f = store();
    let e = Emulator::start().unwrap();
    let web = cart_with(&f.store, &e, "Web", "none", 50);
    for n in 0..120 {
        item(&f.store, &format!("SKU-{n:03}"), n);
        e.set_qoh(&format!("SKU-{n:03}"), 0);
    }
    let path = f.dir.path().join("store.db");
    let caller = std::thread::spawn(move || {
        let path = c(path.to_str().unwrap());
        let mut s: *mut InvsyncStore = std::ptr::null_mut();
        let mut all = Seen {
            threads: Vec::new(),
            cancel_at: 0,
        };
        let mut cancelled = Seen {
            threads: Vec::new(),
            cancel_at: 1,
        };
        let mut needed = 0;
        // SAFETY: valid strings, live out pointers and a `user` alive for each call; the
        // handle is closed last.
        let (whole, stopped, report) = unsafe {
            assert_eq!(invsync_store_open(path.as_ptr(), &mut s), INVSYNC_OK);
            let whole = invsync_send_qoh(
                s,
                web as i32,
                0,
                Some(progress),
                (&mut all as *mut Seen).cast(),
                std::ptr::null_mut(),
                0,
                &mut needed,
            );
            let stopped = invsync_send_qoh(
                s,
                web as i32,
                0,
                Some(progress),
                (&mut cancelled as *mut Seen).cast(),
                std::ptr::null_mut(),
                0,
                &mut needed,
            );
            let mut buf = vec![0u8; needed.max(1) as usize];
            assert_eq!(
                invsync_last_report(s, buf.as_mut_ptr().cast(), needed, std::ptr::null_mut()),
                INVSYNC_OK
            );
            buf.truncate(needed as usize - 1);
            invsync_store_close(s);
            (whole, stopped, String::from_utf8(buf).unwrap())
        };
        (
            std::thread::current().id(),
            whole,
            all.threads,
            stopped,
            cancelled.threads,
            report,
        )
    });
    let (me, whole, all, stopped, cancelled, report) = caller.join().unwrap();
    assert_eq!(whole, INVSYNC_OK);
    assert_eq!(e.qoh("SKU-119"), Some(119), "the whole run set every count");
    assert!(all.len() >= 3, "three batches of 50 and fewer: {all:?}");
    assert!(all.iter().all(|t| *t == me), "{all:?} beside {me:?}");
    assert_ne!(me, std::thread::current().id());
    assert_eq!(stopped, INVSYNC_CANCELLED);
    assert_eq!(cancelled, vec![me]);
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["cancelled"], true, "{report}");
    assert_eq!(
        report["sent"], 50,
        "the first batch went before the cancel: {report}"
    );
}
