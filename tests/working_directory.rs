//! A store opened by a relative path stays that file when the host changes its working
//! directory afterwards (VBA's `ChDir`, a file dialog): the controller and manual runs open it
//! again on connections of their own. Its own test binary, one test: the working directory is
//! the process's.
#![cfg(feature = "emulator")]

mod common;

use common::*;
use inventory_sync::emulator::Emulator;
use inventory_sync::{Reason, Store};

#[test]
fn a_store_opened_by_a_relative_path_is_found_after_a_change_of_directory() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let e = Emulator::start().unwrap();
    e.set_qoh("X", 5);
    for (n, path) in ["relative.db", "file:relative-uri.db"]
        .into_iter()
        .enumerate()
    {
        std::env::set_current_dir(dir.path()).unwrap();
        let store = Store::open(path).unwrap();
        store.set_param("SynchQOH", "true").unwrap();
        cart(&store, &e, "A", "attribute");
        item(&store, "X", 5);
        adjust(&store, "X", -1, Reason::PosSale);
        std::env::set_current_dir(elsewhere.path()).unwrap();
        let report = store.run_stack(None);
        assert_eq!(e.qoh("X"), Some(4 - n as i64), "{path}: {report:?}");
    }
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    assert!(dir.path().join("relative-uri.db").exists());
}
