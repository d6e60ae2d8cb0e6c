//! A store opened by a relative `file:` URI: made absolute when opened, so the connections
//! opened later (the controller's, a manual run's) find the same file after the host changed
//! its working directory. In a binary of their own: they change the process's directory.
#![cfg(feature = "emulator")]

mod common;

use common::*;
use inventory_sync::emulator::Emulator;
use inventory_sync::{Reason, Store};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The working directory is the process's: the tests that change it take turns, and put it
/// back. (Every other path in this file is absolute.)
static CWD: Mutex<()> = Mutex::new(());

struct InDir {
    was: PathBuf,
}
impl InDir {
    fn enter(dir: &Path) -> InDir {
        let was = std::env::current_dir().unwrap();
        std::env::set_current_dir(dir).unwrap();
        InDir { was }
    }
}
impl Drop for InDir {
    fn drop(&mut self) {
        let _ = std::env::set_current_dir(&self.was);
    }
}

/// A store opened by a relative `file:` URI while the working directory's name is not UTF-8
/// (a Linux folder named in Latin-1, `caf\xe9`): the URI was left relative, and after the
/// host changed its working directory the controller found no file there (or another store
/// of the same name), and the sale was never sent.
#[cfg(unix)]
#[test]
fn a_relative_uri_opened_in_a_non_utf8_folder_is_found_after_a_change_of_directory() {
    use std::os::unix::ffi::OsStrExt;
    let _turn = CWD.lock().unwrap_or_else(|e| e.into_inner());
    let root = tempfile::tempdir().unwrap();
    let shop = root.path().join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
    let elsewhere = root.path().join("elsewhere");
    std::fs::create_dir(&shop).unwrap();
    std::fs::create_dir(&elsewhere).unwrap();
    let e = Emulator::start().unwrap();
    e.set_qoh("X", 5);

    let cwd = InDir::enter(&shop);
    let store = Store::open("file:store.db").unwrap();
    assert!(shop.join("store.db").exists());
    store.set_param("SynchQOH", "true").unwrap();
    cart(&store, &e, "A", "attribute");
    item(&store, "X", 5);
    adjust(&store, "X", -1, Reason::PosSale);
    std::env::set_current_dir(&elsewhere).unwrap(); // the host's ChDir / file dialog
    let report = store.run_stack(None);
    drop(cwd);
    assert_eq!(
        e.qoh("X"),
        Some(4),
        "the sale never reached the cart: {report:?}"
    );
}

/// A relative `file:` URI opened in a Linux folder whose name holds a backslash (`shop\2024`,
/// a legal file-name character there): every `\` of the working directory was taken for a
/// Windows separator, so the store was looked for in `shop/2024`, another folder: the open
/// failed, or opened another store where that folder exists.
#[cfg(unix)]
#[test]
fn a_relative_uri_opened_in_a_folder_whose_name_has_a_backslash_opens_that_folders_file() {
    let _turn = CWD.lock().unwrap_or_else(|e| e.into_inner());
    let root = tempfile::tempdir().unwrap();
    let shop = root.path().join("shop\\2024");
    std::fs::create_dir(&shop).unwrap();
    let cwd = InDir::enter(&shop);
    let opened = Store::open("file:store.db").map(|s| s.path().to_path_buf());
    drop(cwd);
    assert!(
        opened.is_ok() && shop.join("store.db").exists(),
        "{opened:?}; files in the folder: {:?}",
        std::fs::read_dir(&shop).unwrap().count()
    );
}
