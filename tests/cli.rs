//! The `invsync` command line as an operator meets it: an import file with a bad line changes
//! nothing, files saved by spreadsheets are read, and a mistyped store path creates nothing.
#![cfg(feature = "emulator")]

#[macro_use]
mod common;
mod controller_cli;
use controller_cli::quickstart;

use common::*;
use controller_cli::controller_says;
use inventory_sync::{Adjustment, Delta, Reason};
use std::process::{Command, Output};

/// A store holding `items` at their QOH, its path, and the path of an import file `name`
/// beside it.
fn import_setup(items: &[(&str, i64)], name: &str) -> (Fixture, String, std::path::PathBuf) {
    let f = store();
    for &(sku, qoh) in items {
        item(&f.store, sku, qoh);
    }
    let db = f.dir.path().join("store.db").to_str().unwrap().to_owned();
    let csv = f.dir.path().join(name);
    (f, db, csv)
}

/// An `invsync controller` process on `db`, passing every 20 ms, its stdout piped.
fn controller_every_20ms(db: &std::path::Path) -> KilledOnDrop {
    KilledOnDrop(
        Command::new(env!("CARGO_BIN_EXE_invsync"))
            .args(["controller", db.to_str().unwrap(), "--interval-ms", "20"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// The quickstart's `--config` mode on `config`, written to a file in `dir`.
fn run_quickstart(dir: &std::path::Path, config: serde_json::Value, extra: &[&str]) -> Output {
    let file = dir.join("carts.json");
    std::fs::write(&file, config.to_string()).unwrap();
    output_for(
        Command::new(quickstart())
            .arg("--config")
            .arg(&file)
            .args(extra),
        "the quickstart",
    )
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
    let long_ref = format!("CAP,-1,2,{}", "R".repeat(256));
    for (bad, line, why) in [
        ("MUG,-1,2", "line 3", "unknown SKU"),
        ("SHIRT,-1,2", "line 3", "variants"),
        ("CAP,x,2", "line 3", "not a number"),
        // A number past any range is said to be out of it, with the range, not "not a number".
        (
            "CAP,-99999999999999999999,2",
            "line 3",
            "out of range (-2,147,483,648 to 2,147,483,647)",
        ),
        ("CAP,-1,2,ref,99", "line 3", "cart 99"),
        ("\"CAP,-1", "line 3", "not closed"),
        // Only the lines together take CAP out of the range the store keeps.
        (
            "CAP,2147483000,4\nCAP,1000,4",
            "line 4",
            "32-bit range (-2,147,483,648 to 2,147,483,647)",
        ),
        // Refused by the store only when applied, after the lines before it.
        (
            long_ref.as_str(),
            "line 3",
            "host_ref must be 1 to 255 bytes",
        ),
        // An order number on every line of its order: the second would read as seen before.
        (
            "TEE-M,-1,3,SO-1001\nCAP,-2,3,SO-1001",
            "line 4",
            "also on line 3",
        ),
        // The same, one quoted with the blanks of a fixed-width column: a reference is read
        // trimmed (the second line was applied as seen before, its change lost).
        (
            "TEE-M,-1,3,\"SO-1001 \"\nCAP,-2,3,SO-1001",
            "line 4",
            "also on line 3",
        ),
        (
            "CAP,-1,3,\"SO-1002 \"\nCAP,-1,3,SO-1002",
            "line 4",
            "also on line 3",
        ),
        // A line starting with # but not "# " is a change: a typo in a SKU starting with #,
        // or a row commented out without the space, refuses the file, never slips through.
        ("#10-SCREW,-4,9", "line 3", "reason"),
        ("#CAP,5", "line 3", "unknown SKU"),
    ] {
        std::fs::write(&csv, format!("TEE-M,-1,2\nCAP,-1,2\n{bad}\n")).unwrap();
        let out = invsync(&["import", db.to_str().unwrap(), csv.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{bad}: {stderr}");
        assert!(
            stderr.contains(line) && stderr.contains(why),
            "{bad}: {stderr}"
        );
        assert!(stderr.contains("nothing was applied"), "{stderr}");
        assert_eq!(f.store.item_qoh("TEE-M").unwrap(), 10, "{bad}");
        assert_eq!(f.store.item_qoh("CAP").unwrap(), 5, "{bad}");
    }
}

/// A file whose host reference was used before for another change (two carts both at order
/// 1001) is refused before anything is applied, naming the line, the reference and the
/// earlier change: skipped as seen before, as until 2026-12-02, the sale of 7 CAP was lost
/// and the import said "1 change applied, 1 change seen before". The same file run again
/// still skips its changes.
#[test]
fn an_import_line_whose_reference_was_used_for_another_change_refuses_the_file() {
    let (f, db, csv) = import_setup(&[("TEE-M", 10), ("CAP", 10)], "orders.csv");
    let (db, csv_s) = (db.as_str(), csv.to_str().unwrap());
    std::fs::write(&csv, "TEE-M,-1,3,SO-1001\n").unwrap();
    assert!(invsync(&["import", db, csv_s]).status.success());
    let again = invsync(&["import", db, csv_s]);
    assert!(again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("0 changes applied, 1 change seen before")
    );
    std::fs::write(&csv, "TEE-M,-2,3,SO-1002\nCAP,-7,3,SO-1001\n").unwrap();
    let out = invsync(&["import", db, csv_s]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("line 2") && stderr.contains("SO-1001") && stderr.contains("\"TEE-M\" -1"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was applied"), "{stderr}");
    assert_eq!(
        (
            f.store.item_qoh("TEE-M").unwrap(),
            f.store.item_qoh("CAP").unwrap()
        ),
        (9, 10)
    );
}

/// An import that takes an item below 0 (orders for stock the store had not counted in) is
/// applied, as a sale at the counter would be, and says so on stderr, naming each such item
/// and its QOH: it was applied without a word, the carts shown 0.
#[test]
fn an_import_that_takes_an_item_below_0_says_so() {
    let (f, db, csv) = import_setup(&[("MUG", 13), ("CAP", 10), ("PEN", 1)], "orders.csv");
    let (db, csv_s) = (db.as_str(), csv.to_str().unwrap());
    std::fs::write(
        &csv,
        "MUG,-100,3,SO-1
CAP,-2,3,SO-2
PEN,-3,3,SO-3
PEN,1,3,SO-4
",
    )
    .unwrap();
    let out = invsync(&["import", db, csv_s]);
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("below 0 after this import: MUG at -87, PEN at -1 ("),
        "{stderr}"
    );
    assert_eq!(f.store.item_qoh("MUG").unwrap(), -87);
    // Nothing below 0: nothing said.
    std::fs::write(
        &csv,
        "CAP,-1,3,SO-5
",
    )
    .unwrap();
    let out = invsync(&["import", db, csv_s]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("below 0"),
        "{out:?}"
    );
}

/// A file run again after an item it sold was deleted (discontinued) skips that line, seen
/// before, as `adjust_qoh` does, and applies the new orders in it: until the review of
/// 2026-12-02 the line was refused for its unknown SKU, and with it the whole file.
#[test]
fn an_import_run_again_skips_a_line_whose_item_was_deleted_since() {
    let (f, db, csv) = import_setup(&[("OLD", 1), ("NEW", 10)], "orders.csv");
    let (db, csv_s) = (db.as_str(), csv.to_str().unwrap());
    std::fs::write(&csv, "OLD,-1,3,SO-1\n").unwrap();
    assert!(invsync(&["import", db, csv_s]).status.success());
    f.store.delete_item("OLD").unwrap();
    std::fs::write(&csv, "OLD,-1,3,SO-1\nNEW,-2,3,SO-2\n").unwrap();
    let out = invsync(&["import", db, csv_s]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 change applied, 1 change seen before"),
        "{out:?}"
    );
    assert_eq!(f.store.item_qoh("NEW").unwrap(), 8);
}

/// The same file imported twice (a scheduled job run again, yesterday's file taken for
/// today's) is refused the second time, naming what to do, and changes nothing: until
/// 2026-12-02 its lines without a host reference were applied again, the receiving of 12
/// counted twice. The same changes saved again (CRLF, quotes, a comment) are the same file;
/// `--again` applies them as new changes, and a file with other lines is not held back.
#[test]
fn the_same_import_file_run_twice_is_refused_unless_asked_again() {
    let (f, db, csv) = import_setup(&[("TEE-M", 10), ("CAP", 5)], "receiving.csv");
    let (db, csv_s) = (db.as_str(), csv.to_str().unwrap());
    std::fs::write(&csv, "TEE-M,12,4\nCAP,-1,2,POS-7\n").unwrap();
    let first = invsync(&["import", db, csv_s]);
    assert!(first.status.success(), "{first:?}");
    let qoh = |f: &Fixture| {
        (
            f.store.item_qoh("TEE-M").unwrap(),
            f.store.item_qoh("CAP").unwrap(),
        )
    };
    assert_eq!(qoh(&f), (22, 4));
    for resaved in [
        "TEE-M,12,4\nCAP,-1,2,POS-7\n",
        "# receiving\r\n\"TEE-M\", 12 ,4\r\nCAP,-1,2,\"POS-7\"\r\n",
        // The store reads a SKU trimmed, quoted or not.
        "\" TEE-M \",12,4\nCAP,-1,2,POS-7\n",
    ] {
        std::fs::write(&csv, resaved).unwrap();
        let out = invsync(&["import", db, csv_s]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("imported before")
                && stderr.contains("--again")
                && stderr.contains("nothing was applied"),
            "{stderr}"
        );
        assert_eq!(qoh(&f), (22, 4), "{resaved:?}");
    }
    // Another day's file with other lines goes in.
    std::fs::write(&csv, "TEE-M,12,4\nTEE-M,1,4\n").unwrap();
    assert!(invsync(&["import", db, csv_s]).status.success());
    assert_eq!(qoh(&f), (35, 4));
    // The first file's changes made again: the line with its own reference is still seen
    // before, the other applied.
    std::fs::write(&csv, "TEE-M,12,4\nCAP,-1,2,POS-7\n").unwrap();
    let again = invsync(&["import", db, csv_s, "--again"]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("1 change applied, 1 change seen before"),
        "{again:?}"
    );
    assert_eq!(qoh(&f), (47, 4));
    let ledger = f
        .store
        .ledger_json(Some(r#"{"sku":"TEE-M","limit":1}"#))
        .unwrap();
    // Numbered on from the first import of the same changes.
    let row: serde_json::Value = serde_json::from_str(&ledger).unwrap();
    let reference = row[0]["host_ref"].as_str().unwrap_or_default().to_owned();
    assert!(
        reference.starts_with("invsync import ") && reference.ends_with("/1"),
        "{ledger}"
    );
    // It stays refused without --again.
    assert_eq!(invsync(&["import", db, csv_s]).status.code(), Some(1));
    assert_eq!(qoh(&f), (47, 4));
}

/// A file imported with `--again` the first time (a script that always passes it) is
/// recognised as imported like any other: run again without it, it is refused. Before, a
/// line given `--again` had no reference, and the receiving was counted twice. Each
/// `--again` numbers its lines on from the imports of the same changes before.
#[test]
fn a_file_first_imported_with_again_is_refused_when_run_again_without_it() {
    let (f, db, csv) = import_setup(&[("TEE-M", 10)], "receiving.csv");
    let (db, csv_s) = (db.as_str(), csv.to_str().unwrap());
    std::fs::write(&csv, "TEE-M,12,4\nTEE-M,12,4\n").unwrap();
    let first = invsync(&["import", db, csv_s, "--again"]);
    assert!(first.status.success(), "{first:?}");
    assert_eq!(f.store.item_qoh("TEE-M").unwrap(), 34);
    let plain = invsync(&["import", db, csv_s]);
    assert_eq!(plain.status.code(), Some(1), "{plain:?}");
    assert_eq!(f.store.item_qoh("TEE-M").unwrap(), 34, "not counted twice");
    for (round, qoh) in [(1, 58), (2, 82)] {
        let again = invsync(&["import", db, csv_s, "--again"]);
        assert!(
            String::from_utf8_lossy(&again.stdout).contains("2 changes applied"),
            "round {round}: {again:?}"
        );
        assert_eq!(f.store.item_qoh("TEE-M").unwrap(), qoh);
    }
    let ledger = f
        .store
        .ledger_json(Some(r#"{"sku":"TEE-M","limit":2}"#))
        .unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&ledger).unwrap();
    let mut last: Vec<String> = rows
        .iter()
        .map(|r| {
            r["host_ref"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    last.sort();
    assert_eq!(last, ["4", "5"], "two lines a round: {ledger}");
}

/// The same file sorted in a spreadsheet and saved again holds the same changes: until
/// 2026-12-03 the reference a line was given named the lines in their order and the line's
/// place, so the sorted file's receiving was counted twice. Two identical lines are two
/// changes, in any order. A file imported by a build before that is recognised by the
/// reference that build gave its lines (`invsync import <digest of the lines in order>/<n>`;
/// the digest below is the FNV-1a of the file's fields as that build took them).
#[test]
fn the_same_import_file_in_another_order_is_refused_too() {
    let (f, db, csv) = import_setup(&[("TEE-M", 10), ("CAP", 5)], "receiving.csv");
    let (db, csv_s) = (db.as_str(), csv.to_str().unwrap());
    std::fs::write(&csv, "TEE-M,12,4\nCAP,6,4\nCAP,6,4\n").unwrap();
    assert!(invsync(&["import", db, csv_s]).status.success());
    let qoh = |f: &Fixture| {
        (
            f.store.item_qoh("TEE-M").unwrap(),
            f.store.item_qoh("CAP").unwrap(),
        )
    };
    assert_eq!(qoh(&f), (22, 17), "the two lines of CAP are two changes");
    std::fs::write(&csv, "CAP,6,4\nCAP,6,4\nTEE-M,12,4\n").unwrap();
    let out = invsync(&["import", db, csv_s]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("imported before"),
        "{out:?}"
    );
    assert_eq!(qoh(&f), (22, 17), "nothing applied twice");

    // Imported by an earlier build: its lines carry the references it gave them.
    item(&f.store, "MUG", 1);
    item(&f.store, "PEN", 1);
    for (k, (sku, delta)) in [("MUG", 12), ("PEN", 6)].into_iter().enumerate() {
        let change = Adjustment::new(sku, Delta::new(delta).unwrap(), Reason::Receiving)
            .host_ref(format!("invsync import {}/{k}", "7f0792b65226b96b"));
        f.store.adjust_qoh(&change).unwrap();
    }
    std::fs::write(&csv, "MUG,12,4\nPEN,6,4\n").unwrap();
    let out = invsync(&["import", db, csv_s]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("imported before"),
        "{out:?}"
    );
    assert_eq!(
        (
            f.store.item_qoh("MUG").unwrap(),
            f.store.item_qoh("PEN").unwrap()
        ),
        (13, 7)
    );
}

/// Two files of other changes are never taken for the same file, whatever text a host
/// reference holds: with the fields joined by separator characters, a reference holding
/// them made a second file (A under a new reference, then C) read as the first (A, B, C),
/// refused for a reference its operator never wrote (review of 2026-12-02).
#[test]
fn an_import_file_of_other_changes_is_never_taken_for_one_imported_before() {
    let f = store();
    for sku in ["A", "B", "C"] {
        item(&f.store, sku, 10);
    }
    let db = f.dir.path().join("store.db");
    let csv = f.dir.path().join("in.csv");
    let (db, csv_s) = (db.to_str().unwrap(), csv.to_str().unwrap());
    std::fs::write(&csv, "A,1,4,h\nB,2,4\nC,3,4\n").unwrap();
    assert!(invsync(&["import", db, csv_s]).status.success());
    std::fs::write(&csv, "A,1,4,\"h\x1f0\x1eB\x1f2\x1f4\x1f\"\nC,3,4\n").unwrap();
    let out = invsync(&["import", db, csv_s]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        ["A", "B", "C"].map(|s| f.store.item_qoh(s).unwrap()),
        [12, 12, 16]
    );
}

/// An import stopped part way by what only applying it meets (here the owner's trigger on
/// the ledger refuses line 3; a store busy past its timeout, a full disk or a crash do the
/// same) applies nothing: until 2026-12-02 each line committed on its own, so the two lines
/// before it stayed applied and, carrying no host reference, were applied again when the
/// operator ran the file again.
#[test]
fn an_import_stopped_part_way_applies_nothing() {
    let f = store();
    item(&f.store, "A", 0);
    item(&f.store, "B", 0);
    let db = f.dir.path().join("store.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER no_b BEFORE INSERT ON ledger WHEN NEW.sku = 'B'
             BEGIN SELECT RAISE(ABORT, 'B is being counted'); END;",
        )
        .unwrap();
    let csv = f.dir.path().join("counts.csv");
    std::fs::write(&csv, "A,1\nA,1\nB,1\nA,1\n").unwrap();
    let out = invsync(&["import", db.to_str().unwrap(), csv.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("line 3") && stderr.contains("nothing was applied"),
        "{stderr}"
    );
    assert_eq!(f.store.item_qoh("A").unwrap(), 0, "{stderr}");
    assert_eq!(f.store.ledger_json(None).unwrap(), "[]");
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
    item(&f.store, "#10-SCREW", 100);
    // A byte-order mark, CRLF, quotes (one holding a comma, one a quote), origin 0 = none, an
    // empty row as a spreadsheet saves it, comments, SKUs starting with # (bare and quoted).
    std::fs::write(
        &csv,
        "\u{feff}TEE-M,-1,2,POS-1\r\n\"CAP, RED\",-2,3,\"SO-1001, line \"\"2\"\"\",0\r\n\
         ,,,,\r\n# sku,delta,reason\r\n# 5,3\r\n#\r\n#10-SCREW,-4,2\r\n\"#10-SCREW\",-1,2\r\n",
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
    assert_eq!(f.store.item_qoh("#10-SCREW").unwrap(), 95);
    let ledger = f.store.ledger_json(Some(r#"{"sku":"CAP, RED"}"#)).unwrap();
    assert!(ledger.contains(r#"SO-1001, line \"2\""#), "{ledger}");
    // Origin 0 is no origin: the change goes to every cart.
    assert_eq!(records(&f.store, web).len(), 4);
    // Excel's plain "CSV" is Windows-1252: refused by line, nothing applied.
    std::fs::write(&csv, b"TEE-M,-1,2\r\nGR\xd6SSE,-1,2\r\n").unwrap();
    let out = invsync(&["import", db.to_str().unwrap(), csv.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("line 2: not UTF-8") && stderr.contains("CSV UTF-8"),
        "{stderr}"
    );
    assert_eq!(f.store.item_qoh("TEE-M").unwrap(), 9);
}

/// A line's reason by the name `invsync stack` shows it (`pos_sale`), as well as its number:
/// the name was refused as "not a number", and a number out of range said nothing of what
/// the numbers mean (from a first-time user's check of the README, 2026-12-04).
#[test]
fn an_import_takes_a_reason_by_its_name_and_a_bad_one_lists_them() {
    let (f, db, csv) = import_setup(&[("TEE-M", 10)], "sales.csv");
    std::fs::write(
        &csv,
        "TEE-M,-2,pos_sale,POS-1
TEE-M,5,Receiving,PO-7
",
    )
    .unwrap();
    let out = invsync(&["import", &db, csv.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(f.store.item_qoh("TEE-M").unwrap(), 13);
    let ledger = f.store.ledger_json(Some(r#"{"sku":"TEE-M"}"#)).unwrap();
    assert!(
        ledger.contains(r#""reason":2"#) && ledger.contains(r#""reason":4"#),
        "{ledger}"
    );
    std::fs::write(
        &csv,
        "TEE-M,-1,9
",
    )
    .unwrap();
    let out = invsync(&["import", &db, csv.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("2 pos_sale") && stderr.contains("6 return"),
        "{stderr}"
    );
}

/// The always-on controller writes its reports to a pipe (a service wrapper, a log shipper)
/// that may go away: it goes on sending, where `print!` would have panicked and stopped every
/// cart's updates.
#[test]
fn the_controller_outlives_its_output_going_away() {
    use std::time::{Duration, Instant};
    let f = store();
    let e = inventory_sync::emulator::Emulator::start().unwrap();
    let web = cart(&f.store, &e, "Web", "attribute");
    item(&f.store, "TEE-M", 10);
    e.set_qoh("TEE-M", 10);
    let db = f.dir.path().join("store.db");
    let mut child = controller_every_20ms(&db);
    drop(child.stdout.take());
    let mut sent = |qoh: i64| {
        adjust(&f.store, "TEE-M", -1, inventory_sync::Reason::PosSale);
        // A bounded wait on the condition itself: the controller polls every 20 ms.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !(e.qoh("TEE-M") == Some(qoh) && records(&f.store, web).is_empty()) {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the controller ended ({status}) once its output had gone");
            }
            assert!(
                Instant::now() < deadline,
                "never sent: {:?}",
                e.qoh("TEE-M")
            );
            std::thread::yield_now();
        }
    };
    // The first report goes to the closed pipe; the second change must still be sent.
    sent(9);
    sent(8);
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
    // And as `--name=value` (refused as an unknown option until 2026-12-04).
    for args in [
        vec!["run", "--workstation=W", db.to_str().unwrap()],
        vec!["stack", db.to_str().unwrap(), "--limit=1"],
    ] {
        let out = invsync(&args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(!f.dir.path().join("--workstation=W").exists());
}

/// A workstation name the store refuses (blank, or with a line break that could forge a line
/// of the controller's log) is bad usage, exit 2 as for any other bad option value, and
/// changes nothing. It exited 1, as for a failure of the store.
#[test]
fn a_bad_workstation_name_is_bad_usage() {
    let f = store();
    let db = f.dir.path().join("store.db");
    for name in ["  ", "TILL\n1"] {
        let out = invsync(&["run", db.to_str().unwrap(), "--workstation", name]);
        assert_eq!(out.status.code(), Some(2), "{name:?}");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            said.contains("Workstation") && said.contains("usage:"),
            "{said}"
        );
    }
}

/// The quickstart's demo (the README's first command) says what each of the day's changes did
/// before it drains them: the order imported from Shop A goes to the two other carts only, the
/// same order imported again changes nothing, and every cart ends in step. It showed only
/// "11 records waiting", and a reader could not tell why Shop A was sent 3 and Shop B 4.
#[test]
fn the_quickstart_demo_says_what_each_change_queued_and_ends_in_step() {
    let out = output_for(&mut Command::new(quickstart()), "the quickstart demo");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |start: &str| {
        said.lines()
            .find(|l| l.trim_start().starts_with(start))
            .unwrap_or_else(|| panic!("no line {start:?} in:\n{said}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(
        line("MUG -2").ends_with("QOH now 10, queued for 3 cart(s)"),
        "{said}"
    );
    assert!(
        line("TEE-L -2 (order").ends_with("QOH now 1, queued for 2 cart(s)"),
        "{said}"
    );
    assert!(
        line("TEE-L -2 (the same").ends_with("seen before: nothing changed"),
        "{said}"
    );
    assert!(line("stack controller:").starts_with("stack controller: 11 records sent"));
    assert_eq!(
        line("every cart agrees"),
        "every cart agrees with the order manager: yes"
    );
}

/// The quickstart pointed at a store owner's own file (README, `--config`): a mistyped store
/// path creates nothing; a cart the store has keeps its stored settings (a file that leaves
/// out `realtime` does not switch its real-time sync off); what waits on the stack is counted,
/// not sent, unless `--send` says so.
#[test]
fn the_quickstart_on_a_real_store_changes_no_cart_and_sends_only_when_asked() {
    let quickstart = quickstart();
    let f = store();
    let emu = inventory_sync::emulator::Emulator::start().unwrap();
    let c = cart(&f.store, &emu, "Web", "attribute");
    item(&f.store, "MUG", 10);
    emu.set_qoh("MUG", 10);
    adjust(&f.store, "MUG", -1, inventory_sync::Reason::PosSale);
    let config = f.dir.path().join("carts.json");
    let run = |store: &std::path::Path, extra: &[&str]| {
        let json = serde_json::json!({
            "store": store,
            "carts": [{"name": "Web", "adapter": "http_json", "url": emu.url(),
                       "capabilities": {"send": true, "get": true}}],
        });
        std::fs::write(&config, json.to_string()).unwrap();
        output_for(
            Command::new(&quickstart)
                .arg("--config")
                .arg(&config)
                .args(extra),
            "the quickstart",
        )
    };
    let typo = f.dir.path().join("stroe.db");
    let out = run(&typo, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no store file"), "{stderr}");
    assert!(!typo.exists(), "a mistyped path became a store");

    let db = f.dir.path().join("store.db");
    let out = run(&db, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 waiting"), "{stdout}");
    let kept = f.store.cart(c).unwrap();
    assert!(kept.sync_on, "the stored cart keeps its real-time sync on");
    assert_eq!(emu.qoh("MUG"), Some(10), "nothing sent without --send");

    let out = run(&db, &["--send"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(emu.qoh("MUG"), Some(9), "--send sends what waits");
}

/// What an operator types first: help and the version answer (exit 0); `init` makes a new
/// store and never touches a file that exists; an argument or option a command does not take
/// is refused (exit 2), never ignored; an import given the store twice says so.
#[test]
fn the_command_line_helps_makes_a_store_and_refuses_what_it_does_not_take() {
    for help in ["help", "-h", "--help"] {
        let out = invsync(&[help]);
        assert_eq!(out.status.code(), Some(0), "{help}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("invsync init STORE"));
    }
    let out = invsync(&["--version"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("invsync {}", env!("CARGO_PKG_VERSION"))
    );
    // They take nothing more: a script's mistyped check is not passed as a success.
    for args in [["help", "extra"], ["--version", "--bogus"], ["-h", "run"]] {
        assert_eq!(invsync(&args).status.code(), Some(2), "{args:?}");
    }
    // Help asked after a command: it was "unknown option --help" (exit 2), and `-h` was taken
    // for the store file.
    for args in [
        &["stack", "--help"][..],
        &["import", "--help"],
        &["stack", "-h"],
        &["run", "my.db", "--help"],
    ] {
        let out = invsync(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("invsync stack STORE"));
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("new.db");
    let db = db.to_str().unwrap();
    let out = invsync(&["init", db]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = invsync(&["qoh", db, "MUG"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown SKU"),
        "a store, empty: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = std::fs::read(db).unwrap();
    let out = invsync(&["init", db]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));
    assert_eq!(
        std::fs::read(db).unwrap(),
        before,
        "init left the file alone"
    );
    for (args, says) in [
        (vec!["run", db, "extra"], "not also \"extra\""),
        (vec!["qoh", db, "MUG", "TEE"], "not also \"TEE\""),
        (
            vec!["run", db, "--interval-ms", "5"],
            "run takes no --interval-ms",
        ),
        (
            vec!["stack", db, "--workstation", "W"],
            "stack takes no --workstation",
        ),
        (vec!["run", "--x", db], "unknown option --x"),
        (vec!["import", db, db], "is a database, not a CSV file"),
    ] {
        let out = invsync(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("invsync: "), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// The always-on controller says it started, and says when a cart cannot be sent to, though
/// nothing was sent or tried (its token's environment variable is not set on this machine):
/// an operator reading its log must not find silence while sales pile up.
#[test]
fn the_controller_reports_a_cart_it_cannot_send_to() {
    let f = store();
    let json = serde_json::json!({
        "name": "Down", "adapter": "http_json", "url": "http://127.0.0.1:9",
        "token": "env:INVSYNC_CLI_TEST_NEVER_SET",
        "capabilities": {"send": true, "get": true, "realtime": "attribute"},
    });
    let down = f.store.upsert_cart_json(&json.to_string()).unwrap();
    f.store.set_cart_sync(down, true).unwrap();
    item(&f.store, "MUG", 10);
    adjust(&f.store, "MUG", -1, inventory_sync::Reason::PosSale);
    let db = f.dir.path().join("store.db");
    let (reported, seen) = controller_says(&db, |line| {
        line.contains("Down") && line.contains("INVSYNC_CLI_TEST_NEVER_SET")
    });
    assert!(
        seen.first()
            .is_some_and(|l| l.contains("controller started")),
        "{seen:?}"
    );
    assert!(
        reported.is_some(),
        "no report of the cart it cannot send to: {seen:?}"
    );
}

/// The store keeps a cart's name trimmed: "Web " in the file is the stored "Web", whose
/// settings stay (rewritten from the file, realtime left out, its sync would be switched off).
#[test]
fn the_quickstart_keeps_a_stored_cart_named_with_a_trailing_space() {
    let f = store();
    let emu = inventory_sync::emulator::Emulator::start().unwrap();
    let c = cart(&f.store, &emu, "Web", "attribute");
    assert!(f.store.cart(c).unwrap().sync_on);
    let out = run_quickstart(
        f.dir.path(),
        serde_json::json!({
            "store": f.dir.path().join("store.db"),
            "carts": [{"name": "Web ", "adapter": "http_json", "url": emu.url(),
                       "capabilities": {"send": true, "get": true}}],
        }),
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        f.store.cart(c).unwrap().sync_on,
        "the stored cart's real-time sync was switched off: {stdout}"
    );
}

/// A name differing only by case is refused, not added as a second cart for the same shop.
#[test]
fn the_quickstart_adds_no_second_cart_for_a_name_differing_by_case() {
    let f = store();
    let emu = inventory_sync::emulator::Emulator::start().unwrap();
    cart(&f.store, &emu, "Web", "attribute");
    let out = run_quickstart(
        f.dir.path(),
        serde_json::json!({
            "store": f.dir.path().join("store.db"),
            "carts": [{"name": "web", "adapter": "http_json", "url": emu.url(),
                       "capabilities": {"send": true, "get": true}}],
        }),
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(f.store.carts().unwrap().len(), 1, "{stdout}");
}

/// A file with a bad cart adds none of its carts to the owner's real store.
#[test]
fn the_quickstart_adds_no_cart_from_a_file_with_a_bad_one() {
    let f = store();
    let emu = inventory_sync::emulator::Emulator::start().unwrap();
    let out = run_quickstart(
        f.dir.path(),
        serde_json::json!({
            "store": f.dir.path().join("store.db"),
            "carts": [
                {"name": "Good", "adapter": "http_json", "url": emu.url(),
                 "capabilities": {"send": true, "get": true}},
                {"name": "Bad", "adapter": "http_json", "url": emu.url(),
                 "capabilities": {"send": true, "get": true}, "max_items_to_send": 0},
            ],
        }),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        f.store.carts().unwrap().len(),
        0,
        "a failed run left carts behind: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The message names the bad cart once (it named it twice: "cart "Bad": cart "Bad": ...").
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(said.matches("\"Bad\"").count(), 1, "{said}");
    assert!(said.contains("max_items_to_send"), "{said}");
}

/// An argument the quickstart does not take is refused by name, before anything runs: a
/// mistyped `--sned` was ignored (nothing sent, exit 0), `--confg FILE` ran the demo instead,
/// and a second `--config` was passed over for the first.
#[test]
fn the_quickstart_refuses_an_argument_it_does_not_take() {
    let f = store();
    let emu = inventory_sync::emulator::Emulator::start().unwrap();
    item(&f.store, "MUG", 4);
    let config = serde_json::json!({
        "store": f.dir.path().join("store.db"),
        "carts": [{"name": "Web", "adapter": "http_json", "url": emu.url(),
                   "capabilities": {"send": true, "get": true}}],
    });
    let file = f.dir.path().join("carts.json");
    for (extra, named) in [
        (&["--sned"][..], "--sned"),
        (&["--config", "other.json"], "--config is given twice"),
        (&["--send", "--send"], "--send is given twice"),
        (&["extra"], "extra"),
    ] {
        let out = run_quickstart(f.dir.path(), config.clone(), extra);
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {said}");
        assert!(said.contains(named), "{extra:?}: {said}");
        assert!(
            out.stdout.is_empty(),
            "{extra:?} ran: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    assert!(
        f.store.carts().unwrap().is_empty(),
        "a refused run added a cart"
    );
    let out = output_for(
        Command::new(quickstart()).arg("--confg").arg(&file),
        "the quickstart with a misspelt option",
    );
    assert_eq!(out.status.code(), Some(2), "the demo ran instead");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--confg"));
}

/// A SKU starting with '-' (valid in the library, importable from CSV) can be asked for, as
/// is or after `--`.
#[test]
fn the_qoh_of_a_sku_starting_with_a_dash_can_be_asked() {
    // After `--`, even an option's name is the SKU.
    {
        let f = store();
        item(&f.store, "--workstation", 4);
        let db = f.dir.path().join("store.db");
        let out = invsync(&["qoh", db.to_str().unwrap(), "--", "--workstation"]);
        assert_eq!(
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).trim()
            ),
            (Some(0), "4"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let f = store();
    item(&f.store, "-10-SCREW", 7);
    let db = f.dir.path().join("store.db");
    let db = db.to_str().unwrap();
    let plain = invsync(&["qoh", db, "-10-SCREW"]);
    let sep = invsync(&["qoh", db, "--", "-10-SCREW"]);
    assert!(
        String::from_utf8_lossy(&plain.stdout).trim() == "7"
            && String::from_utf8_lossy(&sep.stdout).trim() == "7",
        "{} / {}",
        String::from_utf8_lossy(&plain.stderr),
        String::from_utf8_lossy(&sep.stderr)
    );
}

/// An option given twice is refused: the first would silently win over an appended override.
#[test]
fn an_option_given_twice_is_refused() {
    let f = store();
    let db = f.dir.path().join("store.db");
    let out = invsync(&[
        "run",
        db.to_str().unwrap(),
        "--workstation",
        "A",
        "--workstation",
        "B",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// An option whose value is forgotten does not take the next option for it: `--workstation
/// --again` applied a file imported before again, under a workstation named "--again"
/// (review of 2026-12-02). It is bad usage, and changes nothing.
#[test]
fn an_option_without_its_value_does_not_take_the_next_option() {
    let (f, db, csv) = import_setup(&[("TEE-M", 10)], "in.csv");
    let (db, csv_s) = (db.as_str(), csv.to_str().unwrap());
    std::fs::write(&csv, "TEE-M,12,4\n").unwrap();
    assert!(invsync(&["import", db, csv_s]).status.success());
    let out = invsync(&["import", db, csv_s, "--workstation", "--again"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--workstation needs a value"), "{stderr}");
    assert_eq!(f.store.item_qoh("TEE-M").unwrap(), 22);
}

/// `init file:X` with X an existing store: refused, never opened as new (and migrated).
#[test]
fn init_never_opens_an_existing_store_through_a_uri() {
    let f = store();
    let dir = f.dir.path();
    let out = output_for(
        Command::new(env!("CARGO_BIN_EXE_invsync"))
            .args(["init", "file:store.db"])
            .current_dir(dir),
        "`invsync init` of a URI",
    );
    assert_ne!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A cart answering 429 with a short Retry-After and a body that names its request: the
/// controller reports the error once, not on every attempt (a flood of its log).
#[test]
fn the_controller_does_not_report_every_attempt_on_a_rate_limited_cart() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::time::Duration;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let (served, answers) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let mut conn = conn.unwrap();
            let mut buf = [0u8; 65536];
            let _ = conn.read(&mut buf);
            let body = format!("{{\"error\":\"slow down\",\"request_id\":\"r-{n}\"}}");
            let _ = write!(
                conn,
                "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0.05\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.flush();
            if served.send(n).is_err() {
                break;
            }
        }
    });
    let f = store();
    let json = serde_json::json!({
        "name": "Web", "adapter": "http_json", "url": url,
        "capabilities": {"send": true, "get": true, "realtime": "attribute"},
    });
    let c = f.store.upsert_cart_json(&json.to_string()).unwrap();
    f.store.set_cart_sync(c, true).unwrap();
    item(&f.store, "MUG", 10);
    adjust(&f.store, "MUG", -1, inventory_sync::Reason::PosSale);
    let db = f.dir.path().join("store.db");
    let mut child = controller_every_20ms(&db);
    let stdout = child.stdout.take().unwrap();
    // Ten attempts answered, then stop the controller and read all it wrote.
    for _ in 0..10 {
        answers.recv_timeout(Duration::from_secs(30)).unwrap();
    }
    drop(child);
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .collect();
    let reports = lines.iter().filter(|l| l.contains("request_id")).count();
    assert!(
        reports <= 2,
        "{reports} reports for 10 rate-limited attempts:\n{}",
        lines.join("\n")
    );
}

/// A cart's answer quoting a line separator (U+2028) or a right-to-left override (U+202E)
/// cannot break or reverse a line of `invsync run`'s report (nor the controller's log, the
/// stack view's last response, a host's): the library blanks them as it blanks control
/// characters, where they came through raw.
#[test]
fn a_carts_answer_cannot_break_or_reverse_a_line_of_the_run_report() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let _ = conn.read(&mut [0u8; 65536]);
            let body = "bad token\u{2028}[2026-12-04 10:00:00Z] 5 records sent\u{202e}tnes";
            let _ = write!(
                conn,
                "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let f = store();
    let json = serde_json::json!({
        "name": "Web", "adapter": "http_json", "url": url, "token": "t",
        "capabilities": {"send": true, "get": true, "realtime": "attribute"},
    });
    let c = f.store.upsert_cart_json(&json.to_string()).unwrap();
    f.store.set_cart_sync(c, true).unwrap();
    item(&f.store, "S1", 5);
    adjust(&f.store, "S1", -1, inventory_sync::Reason::PosSale);
    let db = f.dir.path().join("store.db");
    let out = invsync(&["run", db.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.contains("bad token"),
        "the cart's answer is quoted: {said:?}"
    );
    assert!(
        !said.contains(['\u{2028}', '\u{202e}']),
        "printed raw: {said:?}"
    );
    let listed = f.store.stack_list_json(None).unwrap();
    assert!(
        !listed.contains("\\u2028") && !listed.contains('\u{2028}'),
        "{listed}"
    );
}

/// A second shared controller says it stands by for the active one, rather than log its start
/// and then nothing for months.
#[test]
fn a_controller_standing_by_for_another_says_so() {
    use std::time::Duration;
    let f = store();
    f.store.set_param("StackMode", "shared").unwrap();
    f.store
        .hold_shared_lock_between_passes(Duration::from_secs(3600))
        .unwrap();
    let active = f.store.run_stack(None).unwrap();
    assert!(!active.standby, "{active}");
    let db = f.dir.path().join("store.db");
    let (said, seen) = controller_says(&db, |line| line.contains("standing by"));
    assert!(said.is_some(), "{seen:?}");
}

/// A file naming one shop twice, as "Web" and "web", is refused (the store holding neither):
/// two carts for one shop would each be sent every change once real-time is on.
#[test]
fn the_quickstart_refuses_a_file_naming_a_cart_twice_in_two_cases() {
    let f = store();
    let emu = inventory_sync::emulator::Emulator::start().unwrap();
    let cart = |name: &str| {
        serde_json::json!({"name": name, "adapter": "http_json", "url": emu.url(),
                           "capabilities": {"send": true, "get": true}})
    };
    let out = run_quickstart(
        f.dir.path(),
        serde_json::json!({"store": f.dir.path().join("store.db"),
                           "carts": [cart("Web"), cart("web")]}),
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("named twice"), "{stderr}");
    assert!(f.store.carts().unwrap().is_empty(), "a cart was added");
}

// ---- arguments checked before the store is opened; output that cannot be written ----------

/// A path or SKU that is not UTF-8 (a file name from a Windows-1252 share) is bad usage
/// (exit 2), never a panic with a Rust backtrace (exit 101).
#[test]
fn a_non_utf8_argument_is_bad_usage_not_a_panic() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(OsStr::from_bytes(b"caf\xe9.db"));
    let out = output_for(
        Command::new(env!("CARGO_BIN_EXE_invsync"))
            .arg("init")
            .arg(&path),
        "`invsync init` of a path not in UTF-8",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(2) && stderr.contains("not UTF-8") && !path.exists(),
        "{:?}: {stderr}",
        out.status
    );
}

/// A command refused for any of its arguments, or an import file for its text, leaves an
/// older store file at its schema: an Access front end on the older DLL sharing it would then
/// be refused the file as newer. (The workstation was checked, and the interval, FILE, its
/// lines and SKU read, after opening.)
#[test]
fn a_refused_command_upgrades_no_older_store_file() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.db");
    let csv = dir.path().join("c.csv");
    std::fs::write(&csv, "MUG,-1\n").unwrap();
    let missing = dir.path().join("missing.csv");
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "MUG,-1\nMUG,abc\n").unwrap();
    let (old_s, csv_s, missing_s, bad_s) = (
        old.to_str().unwrap(),
        csv.to_str().unwrap(),
        missing.to_str().unwrap(),
        bad.to_str().unwrap(),
    );
    // (A SKU the store could never hold is the argument's fault too.)
    let long = "X".repeat(300);
    for args in [
        vec!["run", old_s, "--workstation", " "],
        vec!["import", old_s, csv_s, "--workstation", ""],
        vec!["controller", old_s, "--interval-ms", "0"],
        vec!["import", old_s, missing_s],
        vec!["qoh", old_s],
        vec!["qoh", old_s, " "],
        vec!["qoh", old_s, "TEE\tM"],
        vec!["qoh", old_s, &long],
        vec!["stack", old_s, "--limit", "0"],
        vec!["stack", old_s, "--limit", "1000000"],
        vec!["import", old_s, bad_s],
    ] {
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", old.display()));
        }
        old_store(&old, 6);
        let out = invsync(&args);
        assert!(!out.status.success(), "{args:?}");
        assert_eq!(
            value::<i64>(&old, "PRAGMA user_version"),
            6,
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A SKU argument no store could hold (blank, a tab in it, longer than 255 bytes) is bad
/// usage, exit 2, as every other bad argument is; it exited 1, the status of a library
/// error such as a SKU the store does not have (until 2026-12-03).
#[test]
fn a_malformed_sku_argument_is_bad_usage_and_an_unknown_one_is_not() {
    let f = store();
    item(&f.store, "MUG", 10);
    let db = f.dir.path().join("store.db");
    let db = db.to_str().unwrap();
    let long = "X".repeat(300);
    for sku in [" ", "TEE\tM", long.as_str()] {
        let out = invsync(&["qoh", db, sku]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{sku:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The command's own usage, not all nine lines after a one-line mistake.
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains("\nusage: invsync qoh STORE SKU ("), "{said}");
        assert!(!said.contains("invsync controller"), "{said}");
    }
    // A command that is none: every command's.
    let out = invsync(&["frob", db]);
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("invsync controller") && said.contains("invsync qoh"),
        "{said}"
    );
    let unknown = invsync(&["qoh", db, "NOPE"]);
    assert_eq!(unknown.status.code(), Some(1));
}

/// An empty file is not a store: SQLite would make a new, empty one of it. Neither the CSV
/// file given first by mistake nor a store file a failed copy left at 0 bytes.
#[test]
fn an_empty_file_is_not_taken_for_a_store() {
    let f = store();
    item(&f.store, "MUG", 10);
    let db = f.dir.path().join("store.db");
    let csv = f.dir.path().join("changes.csv");
    std::fs::write(&csv, b"").unwrap();
    let out = invsync(&["import", csv.to_str().unwrap(), db.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        std::fs::read(&csv).unwrap().is_empty(),
        "the CSV file became a store: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let zero = f.dir.path().join("zeroed.db");
    std::fs::write(&zero, b"").unwrap();
    let out = invsync(&["run", zero.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(2) && stderr.contains("is empty, not a store"),
        "{stderr}"
    );
    assert_eq!(std::fs::metadata(&zero).unwrap().len(), 0);
}

/// An import whose summary cannot be written (stdout on a full disk) made its changes: it
/// says so on stderr and succeeds. It panicked (exit 101), and an operator or script running
/// the file again applied every change without a host reference twice.
#[test]
fn an_import_whose_summary_cannot_be_written_succeeds_and_says_so() {
    let f = store();
    item(&f.store, "MUG", 10);
    let db = f.dir.path().join("store.db");
    let csv = f.dir.path().join("counts.csv");
    std::fs::write(&csv, "MUG,-2,2\n").unwrap();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = wait_output(
        Command::new(env!("CARGO_BIN_EXE_invsync"))
            .args(["import", db.to_str().unwrap(), csv.to_str().unwrap()])
            .stdout(full)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
        PATIENCE,
        "`invsync import` writing to a full disk",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(f.store.item_qoh("MUG").unwrap(), 8);
    assert!(
        out.status.success() && stderr.contains("1 change applied"),
        "{:?}: {stderr}",
        out.status
    );
}

/// `invsync stack` lists the oldest 1,000 records unless asked for more, and says on stderr
/// when there are more (it said nothing: an operator took 1,000 for the whole backlog).
#[test]
fn the_stack_command_says_when_more_records_wait_than_it_lists() {
    let f = store();
    let emu = inventory_sync::emulator::Emulator::start().unwrap();
    cart(&f.store, &emu, "Web", "attribute");
    f.store.begin().unwrap();
    for i in 0..1001 {
        item(&f.store, &format!("SKU-{i:04}"), 10);
        adjust(
            &f.store,
            &format!("SKU-{i:04}"),
            -1,
            inventory_sync::Reason::PosSale,
        );
    }
    f.store.commit().unwrap();
    let db = f.dir.path().join("store.db");
    let listed = |extra: &[&str]| {
        let mut args = vec!["stack", db.to_str().unwrap(), "--json"];
        args.extend(extra);
        let out = invsync(&args);
        assert!(out.status.success(), "{out:?}");
        let records: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        (
            records.len(),
            String::from_utf8_lossy(&out.stderr).contains("there are more"),
        )
    };
    assert_eq!(listed(&[]), (1000, true));
    assert_eq!(listed(&["--limit", "1001"]), (1001, false));
    assert_eq!(listed(&["--limit", "5000"]), (1001, false));
    assert_eq!(listed(&["--limit", "999999"]), (1001, false));
}

/// A record bypassed behind a backlog longer than `--limit` was nowhere on the screen: the
/// summary counted only the records listed ("1 record: 1 pending"). Now a list that leaves
/// records out ends with the whole stack's count in each state, and `--state` and `--cart`
/// find the ones wanted.
#[test]
fn the_stack_view_counts_what_it_leaves_out_and_finds_a_state_or_a_cart() {
    use inventory_sync::emulator::{Emulator, Fault};
    let f = store();
    let shop = Emulator::start().unwrap();
    cart(&f.store, &shop, "Shop", "attribute");
    let outlet = Emulator::start().unwrap();
    cart(&f.store, &outlet, "Outlet", "attribute");
    for sku in ["PEN", "MUG"] {
        item(&f.store, sku, 4);
        shop.set_qoh(sku, 4);
        outlet.set_qoh(sku, 4);
    }
    // The outlet is down: its records wait ahead of the shop's refused one.
    outlet.inject(Fault::Status {
        status: 503,
        count: 1000,
        retry_after: Some(600),
    });
    shop.fail_sku("MUG", "refused");
    adjust(&f.store, "PEN", -1, inventory_sync::Reason::PosSale);
    f.store.run_stack(None).unwrap();
    adjust(&f.store, "MUG", -1, inventory_sync::Reason::PosSale);
    f.store.run_stack(None).unwrap();
    let db = f.dir.path().join("store.db");
    let db = db.to_str().unwrap();
    let shown = |extra: &[&str]| {
        let mut args = vec!["stack", db];
        args.extend(extra);
        let out = invsync(&args);
        assert!(out.status.success(), "{extra:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let said = shown(&["--limit", "1"]);
    assert!(
        said.ends_with("1 record: 1 pending\nin the whole stack: 3 records: 2 pending, 1 bypassed, 0 uncertain\n"),
        "{said}"
    );
    let said = shown(&["--state", "bypassed"]);
    assert_eq!(
        said.lines().filter(|l| l.contains("MUG")).count(),
        1,
        "{said}"
    );
    assert!(!said.contains("PEN"), "{said}");
    assert!(said.contains("1 record: 1 bypassed\n"), "{said}");
    // By name in any case, or by id; the totals are the cart's.
    let outlet_only = shown(&["--cart", "outlet", "--state", "pending"]);
    assert!(
        outlet_only.contains("in Outlet's records: 2 records: 2 pending, 0 bypassed"),
        "{outlet_only}"
    );
    // Nothing of a state asked for: said so, with the cart's totals, not "the web stack is
    // empty" over records of other states.
    let none = shown(&["--cart", "outlet", "--state", "uncertain"]);
    assert!(
        none.starts_with(
            "no uncertain records of Outlet\nin Outlet's records: 2 records: 2 pending"
        ),
        "{none}"
    );
    assert!(!outlet_only.contains("Shop"), "{outlet_only}");
    // The whole list, nothing left out: no second line.
    let all = shown(&[]);
    assert!(all.ends_with("3 records: 2 pending, 1 bypassed\n"), "{all}");
    // A bad state is bad usage; a cart the store has not is the store's answer.
    for (args, says, code) in [
        (
            &["--state", "waiting"][..],
            "--state \"waiting\" is not pending, bypassed or uncertain",
            2,
        ),
        (
            &["--cart", "Mall"],
            "--cart \"Mall\" names no cart of this store (its carts: \"Shop\", \"Outlet\")",
            1,
        ),
    ] {
        let mut full = vec!["stack", db];
        full.extend(args);
        let out = invsync(&full);
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{args:?}: {out:?}"
        );
    }
}

/// The QOH of a product with variants is the sum of its variants' QOH, said as such; it
/// printed the product row's own 0.
#[test]
fn the_qoh_of_a_product_with_variants_is_their_total() {
    let f = store();
    f.store
        .upsert_item_json(r#"{"sku":"TEE","description":"T-shirt"}"#)
        .unwrap();
    variant(&f.store, "TEE-S", "TEE", 5);
    variant(&f.store, "TEE-M", "TEE", 8);
    let db = f.dir.path().join("store.db");
    let out = invsync(&["qoh", db.to_str().unwrap(), "TEE"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "13\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("13 is the sum of its 2 variants' QOH"));
    // One variant: its QOH, not "the sum of their 1".
    f.store
        .upsert_item_json(r#"{"sku":"CAP","description":"Cap"}"#)
        .unwrap();
    variant(&f.store, "CAP-L", "CAP", 4);
    let out = invsync(&["qoh", db.to_str().unwrap(), "CAP"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "4\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("4 is its variant's QOH"));
}

/// `invsync stack` is read by a store owner: each record on a line under a heading, its cart
/// by name, its change signed, its times in UTC, the cart's last answer on the same line
/// however many lines the cart wrote, and how many records are in each state. It printed the
/// library's JSON: cart ids and Unix milliseconds. `--json` still gives that JSON.
#[test]
fn the_stack_command_prints_a_table_an_operator_reads() {
    let f = store();
    let emu = inventory_sync::emulator::Emulator::start().unwrap();
    cart(&f.store, &emu, "Main shop", "attribute");
    let outlet = inventory_sync::emulator::Emulator::start().unwrap();
    cart(&f.store, &outlet, "Outlet", "attribute");
    item(&f.store, "MUG", 10);
    item(&f.store, "CAP", 4);
    for e in [&emu, &outlet] {
        e.set_qoh("MUG", 10);
        e.set_qoh("CAP", 4);
    }
    emu.fail_sku("CAP", "out of stock\nat the\twarehouse");
    // The outlet is down for a while: its sale waits for its next try.
    outlet.inject(inventory_sync::emulator::Fault::Status {
        status: 503,
        count: 1,
        retry_after: Some(600),
    });
    adjust(&f.store, "CAP", -1, Reason::PosSale);
    f.store.run_stack(None).unwrap();
    adjust(&f.store, "MUG", 3, Reason::Receiving);
    let db = f.dir.path().join("store.db");
    let out = invsync(&["stack", db.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "a heading, 4 records, a total: {text}");
    assert!(lines[0].starts_with("record  cart "), "{text}");
    let out = invsync(&["stack", db.to_str().unwrap(), "--json"]);
    let json: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    // SQLite's own reading of the times, as the oracle.
    let sqlite = rusqlite::Connection::open_in_memory().unwrap();
    let utc = |ms: &serde_json::Value| -> String {
        sqlite
            .query_row(
                "SELECT strftime('%Y-%m-%d %H:%M:%SZ', ?1 / 1000, 'unixepoch')",
                [ms.as_i64().unwrap()],
                |r| r.get(0),
            )
            .unwrap()
    };
    let queued = |i: usize| utc(&json[i]["created_at"]);
    for (i, wanted) in [
        // Refused, with the cart's answer on the record's own line.
        format!(
            "Main shop CAP -1 pos_sale bypassed 10 {} sku CAP: unexpected status `out of \
             stock at the warehouse`",
            queued(0)
        ),
        // Waiting out the cart's Retry-After (no try counted), its end shown in UTC.
        format!(
            "Outlet CAP -1 pos_sale pending 0 {} {} rate limited: HTTP 503",
            queued(1),
            utc(&json[1]["next_attempt_at"])
        ),
        format!("Main shop MUG +3 receiving pending 0 {}", queued(2)),
        format!("Outlet MUG +3 receiving pending 0 {}", queued(3)),
    ]
    .into_iter()
    .enumerate()
    {
        let wanted = format!("{} {wanted}", json[i]["id"]);
        let words = lines[i + 1]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            words.starts_with(&wanted),
            "{:?}, not {wanted:?}",
            lines[i + 1]
        );
    }
    assert_eq!(lines[5], "4 records: 3 pending, 1 bypassed");
    let out = invsync(&["stack", db.to_str().unwrap(), "--json", "--limit", "1"]);
    let records: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["reason_name"], "pos_sale");
    // An empty stack says so, rather than print a heading over nothing.
    let empty = store();
    let out = invsync(&["stack", empty.dir.path().join("store.db").to_str().unwrap()]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "the web stack is empty\n"
    );
}

/// The operator's two actions on the stack, from the command line: a bypassed record is sent
/// again (`retry`) or removed (`discard`) by the number `invsync stack` shows, and a record
/// still on its way is refused either; a number that names no record is refused, not taken
/// for done. The CLI showed bypassed records and offered no way to act on them.
#[test]
fn an_operator_retries_or_discards_a_bypassed_record_from_the_command_line() {
    let f = store();
    let emu = inventory_sync::emulator::Emulator::start().unwrap();
    cart(&f.store, &emu, "Shop", "attribute");
    for sku in ["MUG", "CAP", "PEN"] {
        item(&f.store, sku, 4);
        emu.set_qoh(sku, 4);
    }
    emu.fail_sku("MUG", "refused");
    emu.fail_sku("CAP", "refused");
    adjust(&f.store, "MUG", -1, Reason::PosSale);
    // Two sales of CAP: sent together, as one, and set aside together.
    adjust(&f.store, "CAP", -1, Reason::PosSale);
    adjust(&f.store, "CAP", -2, Reason::PosSale);
    f.store.run_stack(None).unwrap();
    adjust(&f.store, "PEN", -1, Reason::PosSale);
    let id = |sku: &str| {
        stack(&f.store, None)
            .iter()
            .find(|r| r["sku"] == sku)
            .map(|r| r["id"].to_string())
            .unwrap()
    };
    let (mug, cap, pen) = (id("MUG"), id("CAP"), id("PEN"));
    let second_cap = stack(&f.store, None)
        .iter()
        .filter(|r| r["sku"] == "CAP")
        .map(|r| r["id"].to_string())
        .nth(1)
        .unwrap();
    let db = f.dir.path().join("store.db");
    let db = db.to_str().unwrap();
    for (args, code) in [
        (vec!["retry", db, "x1"], 2),
        (vec!["discard", db, "0"], 2),
        (vec!["retry", db], 2),
        (vec!["retry", db, "999"], 1),
        (vec!["retry", db, &pen], 1),
        (vec!["discard", db, &pen], 1),
    ] {
        let out = invsync(&args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {out:?}");
        assert!(!out.stderr.is_empty(), "{args:?} says why");
    }
    emu.unfail_sku("MUG");
    let out = invsync(&["retry", db, &mug]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with(&format!("record {mug} will be sent again")),
        "{out:?}"
    );
    // The record that goes with the one asked for is named: "and the records sent with it"
    // left the owner to find which.
    let out = invsync(&["discard", db, &cap]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with(&format!(
            "record {cap}, and record {second_cap} (CAP -2) sent with it, discarded: the cart was \
             not told"
        )),
        "{out:?}"
    );
    drain(&f.store);
    assert_eq!(
        (emu.qoh("MUG"), emu.qoh("CAP"), emu.qoh("PEN")),
        (Some(3), Some(4), Some(3))
    );
    assert!(stack(&f.store, None).is_empty());
    assert_eq!(f.store.stack_history_count("discarded").unwrap(), 2);
}

/// An uncertain record (a WooCommerce sale whose answer was lost: the cart has it) retried
/// from the command line was sent again and applied twice (the cart showed 3 where the order
/// manager had 6), the CLI saying only "will be sent again". It is now refused until the
/// operator says `--checked`, and the refusal says what to check and both ways on.
#[test]
fn an_uncertain_record_is_retried_only_once_the_operator_says_the_cart_was_checked() {
    use inventory_sync::emulator::{Emulator, Fault, Mode};
    let f = store();
    let emu = Emulator::start_mode(Mode::WooCommerce).unwrap();
    emu.set_token(Some("ck_test:cs_test_1"));
    let c = f
        .store
        .upsert_cart_json(
            &serde_json::json!({"name": "Woo", "adapter": "woocommerce", "url": emu.url(),
                "consumer_key": "ck_test", "consumer_secret": "cs_test_1",
                "capabilities": {"send": true, "get": true, "realtime": "sku"}})
            .to_string(),
        )
        .unwrap();
    f.store.set_cart_sync(c, true).unwrap();
    item(&f.store, "MUG", 10);
    emu.set_qoh("MUG", 10);
    adjust(&f.store, "MUG", -1, Reason::PosSale);
    drain(&f.store);
    adjust(&f.store, "MUG", -3, Reason::PosSale);
    emu.inject(Fault::Delay { ms: 0, count: 1 }); // the read passes
    emu.inject(Fault::ApplyThenDrop { count: 1 }); // the write applies, its answer is lost
    drain(&f.store);
    let rec = &stack(&f.store, None)[0];
    assert_eq!(rec["state"], "uncertain", "set-up");
    assert_eq!(emu.qoh("MUG"), Some(6), "set-up: the cart has the sale");
    let db = f.dir.path().join("store.db");
    let db = db.to_str().unwrap();
    let id = rec["id"].to_string();
    let out = invsync(&["retry", db, &id]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    for part in [
        format!("record {id} is uncertain"),
        "MUG -3".into(),
        format!("invsync discard {db} {id}"),
        format!("invsync retry {db} {id} --checked"),
    ] {
        assert!(said.contains(&part), "{part:?} in {said}");
    }
    drain(&f.store);
    assert_eq!(emu.qoh("MUG"), Some(6), "sent again though refused");
    assert_eq!(stack(&f.store, None)[0]["state"], "uncertain");
    // Checked: the operator set the cart back (a count corrected by hand), and says so.
    emu.set_qoh("MUG", 9);
    let out = invsync(&["retry", db, &id, "--checked"]);
    assert!(out.status.success(), "{out:?}");
    drain(&f.store);
    assert_eq!(emu.qoh("MUG"), Some(6));
    assert!(stack(&f.store, None).is_empty());
    // `--checked` is the retry's only: discard takes none.
    let out = invsync(&["discard", db, &id, "--checked"]);
    assert_eq!(out.status.code(), Some(2));
}

/// A store with a real-time cart on the [`Escaping`] adapter.
fn escaping_cart() -> Fixture {
    let f = store();
    let c = custom_cart(
        &f.store,
        "Plugin",
        std::sync::Arc::new(Escaping),
        Some("attribute"),
        None,
    );
    f.store.set_cart_sync(c, true).unwrap();
    f
}

/// A SKU may hold Unicode's line and paragraph separators (only control characters are
/// refused in one, and a cart's listing may bring such a SKU in through Get QOH): a terminal
/// may break the line there, so `invsync stack` shows them escaped, as it does control
/// characters, and the record stays one line.
#[test]
fn the_stack_table_escapes_line_separators_in_a_sku() {
    let f = escaping_cart();
    let sku = "TEA\u{2028}GREEN\u{2029}1";
    item(&f.store, sku, 10);
    adjust(&f.store, sku, -1, Reason::PosSale);
    let db = f.dir.path().join("store.db");
    let out = invsync(&["stack", db.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains(['\u{2028}', '\u{2029}']), "{text:?}");
    assert!(text.contains(r"TEA\u{2028}GREEN\u{2029}1"), "{text}");
}

/// A cart adapter (an integrator's) whose refusal quotes the shop's answer with a terminal
/// escape sequence (ESC [1A ESC [2K: up a line, erase it), a bell and a bidirectional override.
struct Escaping;

impl inventory_sync::adapter::CartAdapter for Escaping {
    fn update_mode(&self) -> inventory_sync::adapter::UpdateMode {
        inventory_sync::adapter::UpdateMode::RelativeKeyed
    }
    fn apply_deltas(
        &self,
        d: &[inventory_sync::adapter::DeltaSend],
    ) -> Result<Vec<inventory_sync::adapter::SendOutcome>, inventory_sync::adapter::CartError> {
        Ok(d.iter()
            .map(|_| inventory_sync::adapter::SendOutcome::Failed {
                message: "rejected\u{1b}[1A\u{1b}[2Kall sent\u{7} \u{202e}detsoc".into(),
            })
            .collect())
    }
    sends_deltas_only!();
}

/// `invsync stack` prints no control character or bidirectional mark from a cell (a cart's
/// answer): an escape sequence in a cart's refusal reached the terminal raw and could erase
/// the lines above it or forge others; it is shown escaped. And a SKU of wide characters
/// (緑茶, two columns each on a terminal) keeps the columns after it in line: padding
/// counted characters (from a review of the table).
#[test]
fn the_stack_table_prints_cells_as_they_read_and_in_line() {
    let f = escaping_cart();
    for sku in ["MUG", "緑茶"] {
        item(&f.store, sku, 10);
        adjust(&f.store, sku, -1, Reason::PosSale);
    }
    f.store.run_stack(None).unwrap();
    adjust(&f.store, "緑茶", -1, Reason::PosSale);
    let db = f.dir.path().join("store.db");
    let out = invsync(&["stack", db.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        !text
            .chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}'),
        "{text:?}"
    );
    assert!(
        text.contains(r"rejected\u{1b}[1A\u{1b}[2Kall sent\u{7} \u{202e}detsoc"),
        "{text}"
    );
    // Where the "change" column ends, in terminal columns, on each line but the total.
    let wide = |c: char| ('\u{3000}'..='\u{9fff}').contains(&c);
    let lines: Vec<&str> = text.lines().collect();
    let ends: Vec<usize> = lines[..lines.len() - 1]
        .iter()
        .map(|l| {
            let at = l
                .find("change")
                .map(|i| i + "change".len())
                .or_else(|| l.find("-1 ").map(|i| i + 2))
                .unwrap();
            l[..at]
                .chars()
                .map(|c| if wide(c) { 2 } else { 1 })
                .sum::<usize>()
        })
        .collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(ends.iter().all(|e| *e == ends[0]), "{ends:?}\n{text}");
}
