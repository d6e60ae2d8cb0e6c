//! What the header promises about threads: one handle used from several threads at once, and
//! a last error message and a last report per thread.

mod ffi_text;
#[path = "common/waits.rs"]
mod waits;
use ffi_text::*;
use inventory_sync::ffi::*;
use std::ffi::CString;
use std::ptr;

#[test]
fn one_handle_serves_several_threads_and_messages_stay_per_thread() {
    let dir = tempfile::tempdir().unwrap();
    let path = CString::new(dir.path().join("t.db").to_str().unwrap()).unwrap();
    let mut store: *mut InvsyncStore = ptr::null_mut();
    // SAFETY: valid C strings and out pointers.
    unsafe {
        assert_eq!(invsync_store_open(path.as_ptr(), &mut store), INVSYNC_OK);
        assert_eq!(
            invsync_item_upsert(store, c"{\"sku\":\"A\",\"qoh\":0}".as_ptr()),
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
                            invsync_adjust_qoh(store, c"A".as_ptr(), 1, 1, 0, 0),
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
        assert_eq!(invsync_item_qoh(store, c"A".as_ptr(), &mut q), INVSYNC_OK);
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
    // Not a `Barrier`: a thread whose assertion fails before it arrives would leave the
    // others waiting at it for ever.
    let ran = std::sync::Arc::new(waits::Arrivals::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let ran = ran.clone();
            std::thread::spawn(move || {
                let place = ran.place();
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
                place.wait("every thread's pass");
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

/// What the calls made from a TLS destructor returned (-1: not made).
static AT_EXIT_STATUS: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);
static AT_EXIT_LAST_ERROR: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

/// A host's per-thread clean-up (a C++ `thread_local` RAII wrapper, a `pthread_key_create`
/// destructor, a Rust `thread_local!`): it runs after the library's `LAST_ERROR` was
/// destroyed and makes a call that fails (here: a NULL store), then reads the message.
struct CallsAtThreadExit;

impl Drop for CallsAtThreadExit {
    fn drop(&mut self) {
        let mut q = 0;
        // SAFETY: NULL store (refused by the call), a live SKU and out pointer.
        let st = unsafe { invsync_item_qoh(ptr::null_mut(), c"A".as_ptr(), &mut q) };
        AT_EXIT_STATUS.store(st, std::sync::atomic::Ordering::SeqCst);
        let mut needed = 0;
        // SAFETY: a size query with a live `needed`.
        let st = unsafe { invsync_last_error(ptr::null_mut(), 0, &mut needed) };
        AT_EXIT_LAST_ERROR.store(st, std::sync::atomic::Ordering::SeqCst);
    }
}

thread_local! {
    static AT_EXIT: CallsAtThreadExit = const { CallsAtThreadExit };
}

/// The child half of the test below: run only in the child process it starts.
#[test]
fn child_call_from_a_thread_local_destructor() {
    if std::env::var_os("INVSYNC_TLS_CHILD").is_none() {
        return;
    }
    std::thread::spawn(|| {
        // Registered first, so destroyed last (after the library's thread-locals).
        AT_EXIT.with(|_| {});
        let mut q = 0;
        // SAFETY: NULL store, refused; this first failure creates the thread's LAST_ERROR.
        let st = unsafe { invsync_item_qoh(ptr::null_mut(), c"A".as_ptr(), &mut q) };
        assert_eq!(st, INVSYNC_NULL_POINTER);
    })
    .join()
    .unwrap();
    println!(
        "at thread exit: item_qoh {} last_error {}",
        AT_EXIT_STATUS.load(std::sync::atomic::Ordering::SeqCst),
        AT_EXIT_LAST_ERROR.load(std::sync::atomic::Ordering::SeqCst)
    );
}

/// "No call lets a Rust panic unwind into the caller": a failing call made from a host's
/// per-thread clean-up, after the library's thread storage was destroyed, recorded its message
/// there outside the panic guard; that panicked inside an `extern "C"` function and aborted
/// the host (until 2026-12-03; found by a review). It now returns its status, and the last
/// error reads empty. Run in a child process, since the bug killed the process.
#[test]
fn a_failing_call_from_a_thread_exit_destructor_returns_its_status_instead_of_aborting() {
    let out = waits::output_for(
        std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_call_from_a_thread_local_destructor",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("INVSYNC_TLS_CHILD", "1"),
        "the child making a failing call at thread exit",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: String = stderr.lines().take(6).collect::<Vec<_>>().join("\n");
    assert!(
        out.status.success(),
        "the host process died ({:?}) on a failing call made at thread exit:\n{tail}",
        out.status
    );
    assert!(
        stdout.contains(&format!(
            "at thread exit: item_qoh {INVSYNC_NULL_POINTER} last_error {INVSYNC_OK}"
        )),
        "{stdout}"
    );
}

/// Reports kept for `invsync_last_report` (on the loopback emulator).
#[cfg(feature = "emulator")]
mod reports {
    use super::*;

    fn c(s: &str) -> CString {
        CString::new(s).unwrap()
    }

    /// A store in a temp dir and one loopback cart (closed and stopped on drop).
    struct Fx {
        _dir: tempfile::TempDir,
        s: *mut InvsyncStore,
        emu: *mut InvsyncEmulator,
    }

    impl Drop for Fx {
        fn drop(&mut self) {
            // SAFETY: both live, each freed once.
            unsafe {
                invsync_store_close(self.s);
                invsync_emulator_stop(self.emu);
            }
        }
    }

    fn fx() -> Fx {
        let dir = tempfile::tempdir().unwrap();
        let path = c(dir.path().join("t.db").to_str().unwrap());
        let (mut s, mut emu) = (ptr::null_mut(), ptr::null_mut());
        // SAFETY: a valid path and live out pointers.
        unsafe {
            assert_eq!(invsync_store_open(path.as_ptr(), &mut s), INVSYNC_OK);
            assert_eq!(invsync_emulator_start(&mut emu), INVSYNC_OK);
        }
        Fx { _dir: dir, s, emu }
    }

    fn emu_url(emu: *mut InvsyncEmulator) -> String {
        let mut buf = [0u8; 256];
        let mut n = 0;
        // SAFETY: a live emulator and a live 256-byte buffer.
        let st = unsafe { invsync_emulator_url(emu, buf.as_mut_ptr().cast(), 256, &mut n) };
        assert_eq!(st, INVSYNC_OK);
        String::from_utf8(buf[..n as usize - 1].to_vec()).unwrap()
    }

    /// A manual (`realtime: none`) http_json cart at `url`.
    fn cart_at(f: &Fx, name: &str, url: &str) -> i32 {
        let j = c(&format!(
            r#"{{"name":"{name}","adapter":"http_json","url":"{url}","capabilities":{{"send":true,"get":true,"realtime":"none"}}}}"#
        ));
        let mut id = 0;
        // SAFETY: live handle, C string and out pointer.
        let st = unsafe { invsync_cart_upsert(f.s, j.as_ptr(), &mut id) };
        assert_eq!(st, INVSYNC_OK, "{}", last_error());
        id
    }

    fn item(f: &Fx, sku: &str, qoh: i32) {
        let j = c(&format!(r#"{{"sku":"{sku}","qoh":{qoh}}}"#));
        // SAFETY: live handle and C string.
        assert_eq!(unsafe { invsync_item_upsert(f.s, j.as_ptr()) }, INVSYNC_OK);
        let k = c(sku);
        // SAFETY: live emulator and C string.
        unsafe { invsync_emulator_set_qoh(f.emu, k.as_ptr(), qoh) };
    }

    #[test]
    /// Some failed calls keep a report for `invsync_last_report` (a Send QOH that reached the cart
    /// before the store failed); others have nothing to report (refused on the first page). Until
    /// 2026-12-03 such a call left the report before it in place, and a host that showed the
    /// report after a failure showed an earlier, different call's as this one's: here a Send QOH's
    /// `{"sent":2,...}` after a Get QOH that was refused on its first page and changed nothing.
    /// (Found by a review.)
    fn a_failed_get_qoh_does_not_leave_an_earlier_send_qohs_report_as_its_own() {
        let f = fx();
        let good = cart_at(&f, "Web", &emu_url(f.emu));
        // The same emulator under a path it does not serve: a 404 on the first page.
        let bad = cart_at(&f, "Broken", &format!("{}nope/", emu_url(f.emu)));
        item(&f, "A", 5);
        item(&f, "B", 5);
        let mut needed = 0;
        // SAFETY: live handle; a size query.
        unsafe {
            assert_eq!(
                invsync_send_qoh(
                    f.s,
                    good,
                    0,
                    None,
                    ptr::null_mut(),
                    ptr::null_mut(),
                    0,
                    &mut needed
                ),
                INVSYNC_OK
            );
            assert_eq!(
                invsync_get_qoh(
                    f.s,
                    bad,
                    0,
                    None,
                    ptr::null_mut(),
                    ptr::null_mut(),
                    0,
                    &mut needed
                ),
                INVSYNC_REFUSED
            );
        }
        let mut buf = vec![0u8; 4096];
        // SAFETY: live handle and a live 4096-byte buffer.
        let st = unsafe { invsync_last_report(f.s, buf.as_mut_ptr().cast(), 4096, &mut needed) };
        let report = if st == INVSYNC_OK {
            String::from_utf8_lossy(&buf[..needed as usize - 1]).into_owned()
        } else {
            String::new()
        };
        assert_eq!(
            st, INVSYNC_NOT_FOUND,
            "after a Get QOH that failed with no report, invsync_last_report gave another call's \
         report as this thread's last: {report}"
        );
    }

    /// The same for a call refused for its own arguments before it reached the store (a
    /// flag it does not know, a negative record count, cart 0): each left the Send QOH's
    /// report to be read as its own (found by a review of the fix above).
    #[test]
    fn a_call_refused_for_its_arguments_leaves_no_earlier_report_as_its_own() {
        let f = fx();
        let cart = cart_at(&f, "Web", &emu_url(f.emu));
        item(&f, "A", 5);
        type Refused = Box<dyn Fn(&Fx, i32, &mut i32) -> i32>;
        let calls: [(&str, Refused); 3] = [
            (
                "get_qoh with an unknown flag",
                // SAFETY: a live handle; a size query with a live `needed`.
                Box::new(|f, cart, needed| unsafe {
                    invsync_get_qoh(
                        f.s,
                        cart,
                        0x4000,
                        None,
                        ptr::null_mut(),
                        ptr::null_mut(),
                        0,
                        needed,
                    )
                }),
            ),
            (
                "stack_run of -1 records",
                // SAFETY: as above.
                Box::new(|f, _, needed| unsafe {
                    invsync_stack_run(f.s, -1, ptr::null_mut(), 0, needed)
                }),
            ),
            (
                "preflight of cart 0",
                // SAFETY: as above.
                Box::new(|f, _, needed| unsafe {
                    invsync_preflight(f.s, 0, ptr::null_mut(), 0, needed)
                }),
            ),
        ];
        for (what, call) in calls {
            let mut needed = 0;
            // SAFETY: a live handle; a size query with a live `needed`.
            let sent = unsafe {
                invsync_send_qoh(
                    f.s,
                    cart,
                    0,
                    None,
                    ptr::null_mut(),
                    ptr::null_mut(),
                    0,
                    &mut needed,
                )
            };
            assert_eq!(sent, INVSYNC_OK);
            assert_eq!(
                call(&f, cart, &mut needed),
                INVSYNC_INVALID_ARGUMENT,
                "{what}"
            );
            let mut buf = vec![0u8; 4096];
            // SAFETY: a live handle and a live 4096-byte buffer.
            let st =
                unsafe { invsync_last_report(f.s, buf.as_mut_ptr().cast(), 4096, &mut needed) };
            assert_eq!(
                st, INVSYNC_NOT_FOUND,
                "{what}: the Send QOH's report was left as its own"
            );
        }
    }
}
