//! A store owner's IT person trying the `invsync` command from the README alone: what each
//! command tells someone who has not read the code, chiefly where changes did not reach the
//! carts and what to do about records set aside.
#![cfg(feature = "emulator")]

#[macro_use]
mod common;
mod controller_cli;

use common::*;
use controller_cli::controller_says;
use inventory_sync::emulator::Emulator;
use inventory_sync::Reason;
use std::process::Output;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A new store has SynchQOH off: an import applied its changes and queued them for no cart,
/// and said only "1 change applied", so the owner took the shop to be told. It now says
/// which setting kept the carts out, for SynchQOH and for a cart's Synchronize Inventory box.
#[test]
fn an_import_that_reaches_no_cart_says_why() {
    let f = store();
    let emu = Emulator::start().unwrap();
    emu.set_qoh("CAP", 10);
    item(&f.store, "CAP", 10);
    let shop = cart(&f.store, &emu, "Shop", "attribute");
    let db = f.dir.path().join("store.db");
    let db = db.to_str().unwrap();
    let csv = f.dir.path().join("sales.csv");
    let csv = csv.to_str().unwrap();
    for (synch, box_on, says, line) in [
        ("false", true, Some("SynchQOH is off"), "CAP,-1"),
        (
            "true",
            false,
            Some("no cart has Synchronize Inventory on"),
            "CAP,-2",
        ),
        ("true", true, None, "CAP,-3"),
    ] {
        f.store.set_param("SynchQOH", synch).unwrap();
        f.store.set_cart_sync(shop, box_on).unwrap();
        std::fs::write(csv, format!("{line}\n")).unwrap();
        let out = invsync(&["import", db, csv]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "1 change applied, 0 changes seen before\n"
        );
        match says {
            Some(why) => {
                assert!(stderr(&out).contains(why), "{line}: {}", stderr(&out));
                assert!(
                    stderr(&out).contains("queued for no cart"),
                    "{}",
                    stderr(&out)
                );
            }
            None => assert_eq!(stderr(&out), "", "{line}"),
        }
    }
    // Only the last change was queued: the hint told the truth.
    assert_eq!(records(&f.store, shop), vec![("CAP".to_owned(), -3)]);
}

/// An empty stack, and a pass that sent nothing, on a store whose changes reach no cart said
/// "the web stack is empty" and "0 records sent", which read as "all in step".
#[test]
fn an_empty_stack_and_an_idle_pass_say_when_changes_reach_no_cart() {
    let f = store();
    f.store.set_param("SynchQOH", "false").unwrap();
    item(&f.store, "CAP", 5);
    adjust(&f.store, "CAP", -1, Reason::PosSale);
    let db = f.dir.path().join("store.db");
    let db = db.to_str().unwrap();
    for command in ["stack", "run"] {
        let out = invsync(&[command, db]);
        assert!(out.status.success(), "{command}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("SynchQOH is off, so QOH changes are queued for no cart"),
            "{command}: {}",
            stderr(&out)
        );
    }
    // With SynchQOH on and a cart's box on, an empty stack is just empty.
    f.store.set_param("SynchQOH", "true").unwrap();
    let emu = Emulator::start().unwrap();
    cart(&f.store, &emu, "Shop", "attribute");
    for command in ["stack", "run"] {
        let out = invsync(&[command, db]);
        assert_eq!(stderr(&out), "", "{command}");
    }
}

/// A sale of CAP waiting for cart "Shop", which refuses it: the next pass bypasses the
/// record (`BypassAfterAttempts` 1). The emulator must live as long as the test.
fn a_sale_the_cart_refuses() -> (Fixture, Emulator) {
    let f = store();
    f.store.set_param("BypassAfterAttempts", "1").unwrap();
    let emu = Emulator::start().unwrap();
    emu.set_qoh("CAP", 5);
    emu.fail_sku("CAP", "refused");
    item(&f.store, "CAP", 5);
    cart(&f.store, &emu, "Shop", "attribute");
    adjust(&f.store, "CAP", -1, Reason::PosSale);
    (f, emu)
}

/// A pass that bypassed a record said "1 bypassed" and stopped: nothing said the record would
/// never be sent by itself, where to see why, or the two commands that deal with it.
#[test]
fn a_pass_that_bypasses_a_record_says_where_to_look_and_what_to_do() {
    let (f, _emu) = a_sale_the_cart_refuses();
    let db = f.dir.path().join("store.db");
    let db = db.to_str().unwrap();
    let out = invsync(&["run", db]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 bypassed"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = stderr(&out);
    for says in [
        "will not be sent by themselves",
        &format!("invsync stack {db} --state bypassed"),
        &format!("invsync retry {db} RECORD"),
        &format!("invsync discard {db} RECORD"),
    ] {
        assert!(err.contains(says), "{says:?} in {err}");
    }
    // A pass with nothing set aside adds nothing.
    let out = invsync(&["run", db]);
    assert_eq!(stderr(&out), "");
}

/// `invsync help` listed the commands' syntax only: `run` and `controller` could not be told
/// apart, and nothing said that Send QOH, Get QOH and carts are not commands here.
#[test]
fn help_says_what_each_command_does_and_what_is_not_here() {
    let out = invsync(&["help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for says in [
        "run         makes one pass",
        "controller  sends what waits",
        "discard     drops a bypassed or uncertain record",
        "Send QOH and Get QOH are the\norder manager's",
        "Exit status: 0 done",
    ] {
        assert!(text.contains(says), "{says:?} in {text}");
    }
    // Help asked after a command says the same.
    let after = invsync(&["stack", "--help"]);
    assert_eq!(String::from_utf8_lossy(&after.stdout), text);
}

/// A store holding 5 of CAP, with the paths of its file and of `sales.csv` beside it (not
/// written yet), as the command line takes them.
fn cap_at_5_and_a_file_to_import() -> (Fixture, String, String) {
    let f = store();
    item(&f.store, "CAP", 5);
    let path = |name: &str| f.dir.path().join(name).to_str().unwrap().to_owned();
    let (db, csv) = (path("store.db"), path("sales.csv"));
    (f, db, csv)
}

/// A file saved from a spreadsheet with its heading row was refused as "delta \"delta\" is not
/// a number", which does not tell the owner the row is the problem.
#[test]
fn an_import_with_a_heading_row_says_so_and_changes_nothing() {
    let (f, db, csv) = cap_at_5_and_a_file_to_import();
    let (db, csv) = (db.as_str(), csv.as_str());
    for file in ["sku,delta\nCAP,-1\n", "SKU,Qty,Reason\nCAP,-1,2\n"] {
        std::fs::write(csv, file).unwrap();
        let out = invsync(&["import", db, csv]);
        assert_eq!(out.status.code(), Some(1), "{file:?}");
        let err = stderr(&out);
        assert!(err.contains("line 1"), "{err}");
        assert!(err.contains("a heading row?"), "{file:?}: {err}");
        assert!(err.contains("nothing was applied"), "{err}");
    }
    // A bad delta on a later line, or a first line missing its delta, is not called a heading.
    for file in ["CAP,-1\nCAP,x\n", "CAP,\n"] {
        std::fs::write(csv, file).unwrap();
        let err = stderr(&invsync(&["import", db, csv]));
        assert!(!err.contains("heading"), "{file:?}: {err}");
    }
    assert_eq!(f.store.item("CAP").unwrap().qoh, 5);
}

/// A file saved by a spreadsheet set to a language that writes CSV with semicolons (or tabs)
/// was refused as "expected sku,delta[,...]", which does not name the separator; and a file
/// with no change in it at all (the wrong file picked, or saved empty) was "0 changes
/// applied", a success without a word.
#[test]
fn an_import_names_the_wrong_separator_and_an_empty_file() {
    let (f, db, csv) = cap_at_5_and_a_file_to_import();
    let (db, csv) = (db.as_str(), csv.as_str());
    for (file, says) in [
        ("CAP;-1;2\n", "separated by semicolons"),
        ("CAP\t-1\n", "separated by tabs"),
    ] {
        std::fs::write(csv, file).unwrap();
        let out = invsync(&["import", db, csv]);
        assert_eq!(out.status.code(), Some(1), "{file:?}");
        let err = stderr(&out);
        assert!(err.contains("line 1: expected sku,delta"), "{err}");
        assert!(err.contains(says), "{file:?}: {err}");
        assert!(err.contains("CSV UTF-8 (comma delimited)"), "{err}");
    }
    for file in ["", "\n\n", "# nothing today\n", ",,\n"] {
        std::fs::write(csv, file).unwrap();
        let out = invsync(&["import", db, csv]);
        assert!(out.status.success(), "{file:?}: {}", stderr(&out));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "0 changes applied, 0 changes seen before\n"
        );
        assert!(
            stderr(&out).contains("holds no change (only blank lines or comments)"),
            "{file:?}: {}",
            stderr(&out)
        );
    }
    assert_eq!(f.store.item("CAP").unwrap().qoh, 5);
}

/// The always-on controller's log is the owner's view of it: a pass that bypassed a record
/// logged "1 bypassed" and nothing of where to look or what to do.
#[test]
fn the_controller_log_says_what_to_do_with_a_bypassed_record() {
    let (f, _emu) = a_sale_the_cart_refuses();
    let db = f.dir.path().join("store.db");
    let db = db.to_str().unwrap();
    let (hint, seen) = controller_says(db.as_ref(), |l| l.contains("set aside"));
    let hint = hint.unwrap_or_else(|| panic!("no next step in the log: {seen:#?}"));
    assert!(seen.iter().any(|l| l.contains("1 bypassed")), "{seen:#?}");
    assert!(
        hint.contains(&format!("invsync stack {db} --state bypassed")),
        "{hint}"
    );
    assert!(
        hint.contains(&format!("invsync retry {db} RECORD")),
        "{hint}"
    );
}

/// `retry` and `discard` of a number from an old screen said "stack record 4 does not exist"
/// (it was sent meanwhile) or "is not bypassed or uncertain" (it is on its way), and a retry
/// said "at the next pass" to an owner who runs no controller: each now says how to go on.
#[test]
fn retry_and_discard_say_how_to_go_on() {
    let f = store();
    f.store.set_param("BypassAfterAttempts", "1").unwrap();
    let emu = Emulator::start().unwrap();
    for sku in ["MUG", "CAP"] {
        item(&f.store, sku, 4);
        emu.set_qoh(sku, 4);
    }
    emu.fail_sku("MUG", "refused");
    cart(&f.store, &emu, "Shop", "attribute");
    adjust(&f.store, "MUG", -1, Reason::PosSale);
    f.store.run_stack(None).unwrap();
    adjust(&f.store, "CAP", -1, Reason::PosSale);
    let id = |sku: &str| {
        stack(&f.store, None)
            .iter()
            .find(|r| r["sku"] == sku)
            .map(|r| r["id"].to_string())
            .unwrap()
    };
    let (mug, cap) = (id("MUG"), id("CAP"));
    let db = f.dir.path().join("store.db");
    let db = db.to_str().unwrap();
    for action in ["retry", "discard"] {
        let out = invsync(&[action, db, "999"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).contains(&format!(
                "no record 999 is on the web stack: it was sent, discarded or never made \
                 (`invsync stack {db}` lists what is there)"
            )),
            "{action}: {}",
            stderr(&out)
        );
        let out = invsync(&[action, db, &cap]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).contains("a pending record is sent by the next pass by itself"),
            "{action}: {}",
            stderr(&out)
        );
    }
    emu.unfail_sku("MUG");
    let out = invsync(&["retry", db, &mug]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("or `invsync run {db}` now")),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    drain(&f.store);
    assert_eq!((emu.qoh("MUG"), emu.qoh("CAP")), (Some(3), Some(3)));
}

/// A controller started on a store whose changes reach no cart (SynchQOH off) logged its start
/// line and then nothing, for good: its silence read as "all in step".
#[test]
fn a_controller_on_a_store_whose_changes_reach_no_cart_says_so() {
    let f = store();
    f.store.set_param("SynchQOH", "false").unwrap();
    item(&f.store, "CAP", 5);
    let db = f.dir.path().join("store.db");
    let (said, seen) = controller_says(&db, |l| l.contains("no cart"));
    let said = said.unwrap_or_else(|| panic!("nothing said of it: {seen:#?}"));
    assert!(
        said.ends_with("] SynchQOH is off, so QOH changes are queued for no cart"),
        "{said}"
    );
    assert!(seen[0].contains("controller started"), "{seen:#?}");
}
