//! Closing a handle whose background controller runs (an Access front end quit while its
//! timer-less controller sends): `invsync_store_close` stops the controller before it
//! returns. A controller that outlived its handle would keep the store's shared lock until it
//! lapsed, so the workstation taking over sends nothing for that long, and its thread would
//! run code of a DLL the host unloads next.
//!
//! The only test in its binary: it counts the process's controller threads.

mod ffi_text;
#[path = "common/waits.rs"]
mod waits;
use ffi_text::*;
use inventory_sync::ffi::*;
use std::ptr;

fn open(path: &str, workstation: &str) -> *mut InvsyncStore {
    let mut store: *mut InvsyncStore = ptr::null_mut();
    // SAFETY: valid C strings and a live out pointer.
    unsafe {
        assert_eq!(invsync_store_open(c(path).as_ptr(), &mut store), INVSYNC_OK);
        assert_eq!(
            invsync_param_set(store, c"Workstation".as_ptr(), c(workstation).as_ptr()),
            INVSYNC_OK
        );
    }
    store
}

/// Text an ABI call writes into a caller's buffer.
fn text(read: impl Fn(*mut std::ffi::c_char, i32, *mut i32) -> i32) -> serde_json::Value {
    let mut buf = vec![0u8; 1 << 16];
    let mut needed = 0;
    assert_eq!(
        read(buf.as_mut_ptr().cast(), 1 << 16, &mut needed),
        INVSYNC_OK,
        "{}",
        last_error()
    );
    buf.truncate(needed as usize - 1);
    serde_json::from_slice(&buf).unwrap()
}

/// A pass of `store`'s own, its report.
fn run(store: *mut InvsyncStore) -> serde_json::Value {
    // SAFETY: a live handle and the buffer `text` gives.
    text(|b, l, n| unsafe { invsync_stack_run(store, 0, b, l, n) })
}

/// The process's threads named as the library names its background controller's.
fn controller_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter(|t| {
            let comm = std::fs::read_to_string(t.as_ref().unwrap().path().join("comm"));
            comm.is_ok_and(|n| n.starts_with("invsync-contro"))
        })
        .count()
}

#[test]
fn closing_a_handle_stops_its_controller_and_frees_the_shared_lock_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("close.db");
    let path = path.to_str().unwrap();
    let a = open(path, "FRONT-A");
    // SAFETY: live handles throughout; `a` is not used after its close.
    unsafe {
        assert_eq!(
            invsync_param_set(a, c"StackMode".as_ptr(), c"shared".as_ptr()),
            INVSYNC_OK
        );
        assert_eq!(invsync_controller_start(a, 3_600_000), INVSYNC_OK);
    }
    // Its first pass takes the store's shared lock; the next is an hour away.
    waits::wait_for("the background controller's first pass", || {
        // SAFETY: a live handle and the buffer `text` gives.
        let status = text(|b, l, n| unsafe { invsync_controller_status(a, b, l, n) });
        status["passes"].as_i64().unwrap() >= 1
    });
    if cfg!(target_os = "linux") {
        assert_eq!(controller_threads(), 1);
    }
    let b = open(path, "FRONT-B");
    assert_eq!(
        run(b)["standby"],
        true,
        "A's controller holds the shared lock"
    );

    // SAFETY: `a` is live, and no call is made on it after this.
    unsafe { invsync_store_close(a) };
    if cfg!(target_os = "linux") {
        assert_eq!(
            controller_threads(),
            0,
            "the controller outlived its handle"
        );
    }
    // Not after the lock's 3 x LeaseMs: B's next pass is the store's controller.
    let report = run(b);
    assert_eq!(report["standby"], false, "{report}");
    // SAFETY: `b` is live, closed once.
    unsafe { invsync_store_close(b) };
}
