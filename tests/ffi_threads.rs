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
