//! What the header promises about threads: one handle used from several threads at once, and
//! a last error message and a last report per thread.

use inventory_sync::ffi::*;
use std::ffi::CString;
use std::ptr;

fn last_error() -> String {
    let mut buf = vec![0u8; 1024];
    let mut needed = 0;
    // SAFETY: a live buffer of 1024 bytes and a live `needed`.
    let status = unsafe { invsync_last_error(buf.as_mut_ptr().cast(), 1024, &mut needed) };
    assert_eq!(status, INVSYNC_OK);
    buf.truncate(needed as usize - 1);
    String::from_utf8(buf).unwrap()
}

#[test]
fn one_handle_serves_several_threads_and_messages_stay_per_thread() {
    let dir = tempfile::tempdir().unwrap();
    let path = CString::new(dir.path().join("t.db").to_str().unwrap()).unwrap();
    let mut store: *mut InvsyncStore = ptr::null_mut();
    // SAFETY: valid C strings and out pointers.
    unsafe {
        assert_eq!(invsync_store_open(path.as_ptr(), &mut store), INVSYNC_OK);
        assert_eq!(
            invsync_item_upsert(store, b"{\"sku\":\"A\",\"qoh\":0}\0".as_ptr().cast()),
            INVSYNC_OK
        );
    }
    let shared = store as usize;
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let store = shared as *mut InvsyncStore;
                let missing = CString::new(format!("MISSING-{t}")).unwrap();
                for _ in 0..25 {
                    // SAFETY: the handle stays open until every thread is joined.
                    unsafe {
                        assert_eq!(
                            invsync_adjust_qoh(store, b"A\0".as_ptr().cast(), 1, 1, 0, 0),
                            INVSYNC_OK
                        );
                        let mut q = 0;
                        assert_eq!(
                            invsync_item_qoh(store, missing.as_ptr(), &mut q),
                            INVSYNC_NOT_FOUND
                        );
                    }
                    // This thread's message names this thread's SKU, whatever the others do.
                    assert!(last_error().contains(&format!("MISSING-{t}")));
                }
                // No report was made on this thread.
                let mut needed = 0;
                // SAFETY: a size query on the open handle.
                let s = unsafe { invsync_last_report(store, ptr::null_mut(), 0, &mut needed) };
                assert_eq!(s, INVSYNC_NOT_FOUND);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut q = 0;
    // SAFETY: the handle is still open; closed once after.
    unsafe {
        assert_eq!(
            invsync_item_qoh(store, b"A\0".as_ptr().cast(), &mut q),
            INVSYNC_OK
        );
        invsync_store_close(store);
    }
    assert_eq!(q, 100);
}

/// The header: a call that does work does it whatever the buffer, and its report is read
/// again with `invsync_last_report` (also after `INVSYNC_BUFFER_TOO_SMALL`). A handle kept
/// the last reports of 64 threads and, past that, dropped another thread's, a live one's
/// too: with 65 threads on one handle, one found the report of the pass it had just made
/// gone (`INVSYNC_NOT_FOUND`), and could not get it back without another pass.
#[test]
fn a_report_left_for_invsync_last_report_is_never_dropped_for_another_threads() {
    const THREADS: usize = 65;
    let dir = tempfile::tempdir().unwrap();
    let path = CString::new(dir.path().join("t.db").to_str().unwrap()).unwrap();
    let mut store: *mut InvsyncStore = ptr::null_mut();
    // SAFETY: a valid path and out pointer.
    assert_eq!(
        unsafe { invsync_store_open(path.as_ptr(), &mut store) },
        INVSYNC_OK
    );
    let shared = store as usize;
    let ran = std::sync::Arc::new(std::sync::Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let ran = ran.clone();
            std::thread::spawn(move || {
                let store = shared as *mut InvsyncStore;
                let mut small = [0u8; 2];
                let mut needed = 0;
                // SAFETY: the handle stays open until every thread is joined; a live
                // 2-byte buffer.
                let status = unsafe {
                    invsync_stack_run(store, 0, small.as_mut_ptr().cast(), 2, &mut needed)
                };
                assert_eq!(status, INVSYNC_BUFFER_TOO_SMALL);
                // Every thread has made its pass; now each reads its report, as told to.
                ran.wait();
                let mut buf = vec![0u8; needed.max(1) as usize + 64];
                let len = buf.len() as i32;
                // SAFETY: as above, with a live buffer of `len` bytes.
                unsafe { invsync_last_report(store, buf.as_mut_ptr().cast(), len, &mut needed) }
            })
        })
        .collect();
    let statuses: Vec<i32> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    // SAFETY: every thread is joined; closed once.
    unsafe { invsync_store_close(store) };
    let lost = statuses.iter().filter(|s| **s != INVSYNC_OK).count();
    assert_eq!(
        lost, 0,
        "{lost} of {THREADS} threads lost the report of the pass they had just made: {statuses:?}"
    );
}
