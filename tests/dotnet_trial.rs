//! The .NET integrator's trial (bindings/dotnet/tests/DotnetTrial.cs): what it needed of the
//! C ABI itself. The drift report was Rust only, so a C, .NET or VBA host could read the
//! preflight's drift warnings but not repair a count without a forced Send QOH, which
//! overwrites a sale the cart made meanwhile. `invsync_drift` (added within ABI version 1)
//! gives the report, and the repair by compare-and-set.
#![cfg(feature = "emulator")]

mod ffi_text;
use ffi_text::*;
use inventory_sync::ffi::*;
use std::ptr;

struct Fx {
    _dir: tempfile::TempDir,
    s: *mut InvsyncStore,
    emu: *mut InvsyncEmulator,
    cart: i32,
}

impl Drop for Fx {
    fn drop(&mut self) {
        // SAFETY: handles from open/start, freed once.
        unsafe {
            invsync_store_close(self.s);
            invsync_emulator_stop(self.emu);
        }
    }
}

impl Fx {
    /// A store with A (5), B (8) and C (2) on a real-time cart that shows A 5 and B 8 and
    /// lists no C.
    fn new() -> Fx {
        let dir = tempfile::tempdir().unwrap();
        let path = c(dir.path().join("t.db").to_str().unwrap());
        let (mut s, mut emu) = (ptr::null_mut(), ptr::null_mut());
        // SAFETY: a valid path and live out pointers.
        unsafe {
            assert_eq!(invsync_store_open(path.as_ptr(), &mut s), INVSYNC_OK);
            assert_eq!(invsync_emulator_start(&mut emu), INVSYNC_OK);
        }
        let mut fx = Fx {
            _dir: dir,
            s,
            emu,
            cart: 0,
        };
        let mut buf = [0u8; 256];
        let mut n = 0;
        // SAFETY: a live emulator and a live 256-byte buffer.
        let st = unsafe { invsync_emulator_url(emu, buf.as_mut_ptr().cast(), 256, &mut n) };
        assert_eq!(st, INVSYNC_OK);
        let url = String::from_utf8(buf[..n as usize - 1].to_vec()).unwrap();
        let cart = c(&format!(
            r#"{{"name":"Web","adapter":"http_json","url":"{url}","capabilities":{{"send":true,"get":true,"realtime":"attribute"}}}}"#
        ));
        // SAFETY: live handle, C strings and out pointer.
        unsafe {
            assert_eq!(
                invsync_cart_upsert(s, cart.as_ptr(), &mut fx.cart),
                INVSYNC_OK,
                "{}",
                last_error()
            );
            for (sku, qoh) in [("A", 5), ("B", 8), ("C", 2)] {
                let j = c(&format!(r#"{{"sku":"{sku}","qoh":{qoh}}}"#));
                assert_eq!(invsync_item_upsert(s, j.as_ptr()), INVSYNC_OK);
            }
            assert_eq!(
                invsync_param_set(s, c("SynchQOH").as_ptr(), c("true").as_ptr()),
                INVSYNC_OK
            );
        }
        fx.web_set("A", 5);
        fx.web_set("B", 8);
        // SAFETY: live handle.
        assert_eq!(unsafe { invsync_cart_set_sync(s, fx.cart, 1) }, INVSYNC_OK);
        fx
    }

    fn web_set(&self, sku: &str, qoh: i32) {
        let k = c(sku);
        // SAFETY: live emulator and C string.
        assert_eq!(
            unsafe { invsync_emulator_set_qoh(self.emu, k.as_ptr(), qoh) },
            INVSYNC_OK
        );
    }

    fn web(&self, sku: &str) -> i32 {
        let k = c(sku);
        let mut q = 0;
        // SAFETY: live emulator, C string and out pointer.
        assert_eq!(
            unsafe { invsync_emulator_qoh(self.emu, k.as_ptr(), &mut q) },
            INVSYNC_OK
        );
        q
    }

    /// `invsync_drift` with a 4 KiB buffer: (status, report or "").
    fn drift(&self, cart: i32, repair: i32) -> (i32, String) {
        let mut buf = vec![0u8; 4096];
        let mut needed = 0;
        // SAFETY: a live handle, a live 4096-byte buffer and a live `needed`.
        let st = unsafe {
            invsync_drift(
                self.s,
                cart,
                repair,
                buf.as_mut_ptr().cast(),
                4096,
                &mut needed,
            )
        };
        if st != INVSYNC_OK {
            return (st, String::new());
        }
        buf.truncate(needed as usize - 1);
        (st, String::from_utf8(buf).unwrap())
    }

    fn last_report(&self) -> Option<String> {
        let mut buf = vec![0u8; 4096];
        let mut needed = 0;
        // SAFETY: as in `drift`.
        let st = unsafe { invsync_last_report(self.s, buf.as_mut_ptr().cast(), 4096, &mut needed) };
        (st == INVSYNC_OK).then(|| {
            buf.truncate(needed as usize - 1);
            String::from_utf8(buf).unwrap()
        })
    }
}

#[test]
fn a_host_reads_the_drift_report_and_repairs_it_while_real_time_is_on() {
    let f = Fx::new();
    f.web_set("B", 6); // edited by hand in the shop's admin
    let (st, report) = f.drift(f.cart, 0);
    assert_eq!(st, INVSYNC_OK, "{}", last_error());
    let v: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(v["in_step"], 1, "{report}");
    assert_eq!(v["repaired"], 0, "{report}");
    assert_eq!(v["unlisted"], serde_json::json!(["C"]), "{report}");
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{report}");
    assert_eq!(items[0]["sku"], "B");
    assert_eq!(items[0]["cart_qoh"], 6);
    assert_eq!(items[0]["expected"], 8);
    assert_eq!(f.web("B"), 6, "a report alone changes nothing on the cart");
    assert_eq!(f.last_report().as_deref(), Some(report.as_str()));

    let (st, report) = f.drift(f.cart, 1);
    assert_eq!(st, INVSYNC_OK, "{}", last_error());
    let v: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(v["repaired"], 1, "{report}");
    assert_eq!(f.web("B"), 8, "the repair set the cart's count");
    let (_, report) = f.drift(f.cart, 0);
    assert!(report.contains("\"items\":[]"), "{report}");
}

#[test]
fn drift_refuses_what_a_host_can_get_wrong_and_says_so() {
    let f = Fx::new();
    let (st, _) = f.drift(f.cart, 2);
    assert_eq!(st, INVSYNC_INVALID_ARGUMENT);
    assert!(
        last_error().contains("repair must be 0 or 1"),
        "{}",
        last_error()
    );
    assert_eq!(f.last_report(), None, "a refused call leaves no report");
    assert_eq!(f.drift(0, 0).0, INVSYNC_INVALID_ARGUMENT);
    assert_eq!(f.drift(99, 0).0, INVSYNC_NOT_FOUND);
    assert!(last_error().contains("invsync_drift"), "{}", last_error());
    // SAFETY: NULL handle: refused, not read.
    let st = unsafe {
        invsync_drift(
            ptr::null_mut(),
            f.cart,
            0,
            ptr::null_mut(),
            0,
            ptr::null_mut(),
        )
    };
    assert_eq!(st, INVSYNC_NULL_POINTER);
    // SAFETY: live handle.
    assert_eq!(unsafe { invsync_begin(f.s) }, INVSYNC_OK);
    assert_eq!(f.drift(f.cart, 0).0, INVSYNC_REFUSED);
    // SAFETY: live handle.
    assert_eq!(unsafe { invsync_rollback(f.s) }, INVSYNC_OK);

    // A buffer too small: the report (made once) is read from invsync_last_report.
    f.web_set("B", 1);
    let mut needed = 0;
    let mut small = [0u8; 4];
    // SAFETY: a live handle, a live 4-byte buffer and a live `needed`.
    let st = unsafe { invsync_drift(f.s, f.cart, 0, small.as_mut_ptr().cast(), 4, &mut needed) };
    assert_eq!(st, INVSYNC_BUFFER_TOO_SMALL);
    let kept = f.last_report().unwrap();
    assert_eq!(kept.len() + 1, needed as usize);
    assert!(kept.contains("\"cart_qoh\":1"), "{kept}");
}

/// An operator removing a cart whose shop is gone for good was told "discard them first", and
/// each waiting record's discard was refused as "not bypassed or uncertain": the message now
/// says how many wait and how they go, and that way ends in the cart deleted.
#[test]
fn deleting_a_cart_with_waiting_records_says_how_they_go() {
    let dir = tempfile::tempdir().unwrap();
    let path = c(dir.path().join("t.db").to_str().unwrap());
    let mut s = ptr::null_mut();
    let mut cart = 0;
    // SAFETY: live handle, C strings and out pointers throughout; closed once at the end.
    unsafe {
        assert_eq!(invsync_store_open(path.as_ptr(), &mut s), INVSYNC_OK);
        let j = c(
            r#"{"name":"Gone","adapter":"http_json","url":"http://127.0.0.1:9/","capabilities":{"send":true,"get":true,"realtime":"attribute"}}"#,
        );
        assert_eq!(invsync_cart_upsert(s, j.as_ptr(), &mut cart), INVSYNC_OK);
        assert_eq!(
            invsync_item_upsert(s, c(r#"{"sku":"A","qoh":5}"#).as_ptr()),
            INVSYNC_OK
        );
        for (k, v) in [("SynchQOH", "true"), ("RetryBaseMs", "0")] {
            assert_eq!(
                invsync_param_set(s, c(k).as_ptr(), c(v).as_ptr()),
                INVSYNC_OK
            );
        }
        assert_eq!(invsync_cart_set_sync(s, cart, 1), INVSYNC_OK);
        assert_eq!(
            invsync_adjust_qoh(s, c("A").as_ptr(), -1, 2, 0, 0),
            INVSYNC_OK
        );
        assert_eq!(invsync_cart_delete(s, cart), INVSYNC_REFUSED);
        let why = last_error();
        assert!(
            why.contains("1 still waiting to be sent") && why.contains("once bypassed"),
            "{why}"
        );
        assert_eq!(invsync_stack_discard(s, 1), INVSYNC_REFUSED);

        // The way the message gives: bypassed after its attempts, discarded, deleted.
        assert_eq!(
            invsync_param_set(s, c("BypassAfterAttempts").as_ptr(), c("1").as_ptr()),
            INVSYNC_OK
        );
        let mut bypassed = 0;
        for _ in 0..20 {
            assert_eq!(
                invsync_stack_run(s, 0, ptr::null_mut(), 0, ptr::null_mut()),
                INVSYNC_OK
            );
            assert_eq!(invsync_stack_count(s, cart, 2, &mut bypassed), INVSYNC_OK);
            if bypassed == 1 {
                break;
            }
        }
        assert_eq!(bypassed, 1);
        assert_eq!(invsync_cart_delete(s, cart), INVSYNC_REFUSED);
        assert!(
            last_error().ends_with("discard them first"),
            "{}",
            last_error()
        );
        assert_eq!(invsync_stack_discard(s, 1), INVSYNC_OK);
        assert_eq!(invsync_cart_delete(s, cart), INVSYNC_OK, "{}", last_error());
        invsync_store_close(s);
    }
}
