//! The `invsync` command line as an operator meets it: an import file with a bad line changes
//! nothing, files saved by spreadsheets are read, and a mistyped store path creates nothing.
#![cfg(feature = "emulator")]

mod common;

use common::*;
use std::process::{Command, Output};

fn invsync(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_invsync"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn an_import_with_a_bad_line_changes_nothing_and_names_the_line() {
    let f = store();
    item(&f.store, "TEE-M", 10);
    item(&f.store, "CAP", 5);
    item(&f.store, "SHIRT", 0);
    variant(&f.store, "SHIRT-L", "SHIRT", 3);
    let db = f.dir.path().join("store.db");
    let csv = f.dir.path().join("sales.csv");
    for (bad, why) in [
        ("MUG,-1,2", "unknown SKU"),
        ("SHIRT,-1,2", "variants"),
        ("CAP,x,2", "not a number"),
        ("CAP,-1,2,ref,99", "cart 99"),
        ("\"CAP,-1", "not closed"),
        // Only the lines together take CAP out of the range the store keeps.
        ("CAP,2147483000,4\nCAP,1000,4", "32-bit range"),
    ] {
        std::fs::write(&csv, format!("TEE-M,-1,2\nCAP,-1,2\n{bad}\n")).unwrap();
        let out = invsync(&["import", db.to_str().unwrap(), csv.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{bad}: {stderr}");
        let line = if why == "32-bit range" {
            "line 4"
        } else {
            "line 3"
        };
        assert!(
            stderr.contains(line) && stderr.contains(why),
            "{bad}: {stderr}"
        );
        assert!(stderr.contains("nothing was applied"), "{stderr}");
        assert_eq!(f.store.item_qoh("TEE-M").unwrap(), 10, "{bad}");
        assert_eq!(f.store.item_qoh("CAP").unwrap(), 5, "{bad}");
    }
}

#[test]
fn an_import_reads_what_spreadsheets_save() {
    let f = store();
    let e = inventory_sync::emulator::Emulator::start().unwrap();
    let web = cart(&f.store, &e, "Web", "attribute");
    item(&f.store, "TEE-M", 10);
    item(&f.store, "CAP, RED", 5);
    let db = f.dir.path().join("store.db");
    let csv = f.dir.path().join("sales.csv");
    // A byte-order mark, CRLF, quotes (one holding a comma, one a quote), origin 0 = none.
    std::fs::write(
        &csv,
        "\u{feff}TEE-M,-1,2,POS-1\r\n\"CAP, RED\",-2,3,\"SO-1001, line \"\"2\"\"\",0\r\n",
    )
    .unwrap();
    let out = invsync(&["import", db.to_str().unwrap(), csv.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(f.store.item_qoh("TEE-M").unwrap(), 9);
    assert_eq!(f.store.item_qoh("CAP, RED").unwrap(), 3);
    let ledger = f.store.ledger_json(Some(r#"{"sku":"CAP, RED"}"#)).unwrap();
    assert!(ledger.contains(r#"SO-1001, line \"2\""#), "{ledger}");
    // Origin 0 is no origin: the change goes to every cart.
    assert_eq!(records(&f.store, web).len(), 2);
}

#[test]
fn a_mistyped_store_path_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("stroe.db");
    for args in [
        vec!["run", typo.to_str().unwrap()],
        vec!["run", "--workstation", "W", typo.to_str().unwrap()],
        vec!["stack", typo.to_str().unwrap()],
    ] {
        let out = invsync(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("no store file"),
            "{args:?}"
        );
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // Options may come before the store.
    let f = store();
    let db = f.dir.path().join("store.db");
    let out = invsync(&["run", "--workstation", "W", db.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!f.dir.path().join("--workstation").exists());
}
