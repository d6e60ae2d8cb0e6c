//! One machine per store file: a store another machine has open is refused, naming that
//! machine, and changes nothing; one that machine closed (or left by crashing) opens.
//!
//! Most tests play the other machine as its process would: the lock file beside the store,
//! named under the exclusive lock, then held shared. The last two run the `invsync` command
//! as another machine's process, in a UTS namespace of its own (`unshare -u`), where the
//! kernel's host name is another PC's: the library on both sides, one file.

mod ffi_text;
#[path = "common/waits.rs"]
mod waits;
use ffi_text::*;
use inventory_sync::{ErrorKind, Store};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

fn lock_file(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-machine");
    PathBuf::from(name)
}

/// Another machine's process with the store open, until dropped.
struct OtherMachine(File);

impl Drop for OtherMachine {
    /// Unlocked, not only closed: a child another test forks meanwhile holds a copy of the
    /// descriptor, and the lock with it, until it execs.
    fn drop(&mut self) {
        self.0.unlock().unwrap();
    }
}

/// Another machine's process with the store open: its lock file names it and is held.
fn other_machine_opens(db: &Path, name: &str) -> OtherMachine {
    let mut f = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(lock_file(db))
        .unwrap();
    f.lock().unwrap();
    f.set_len(0).unwrap();
    f.write_all(format!("{name}\n").as_bytes()).unwrap();
    f.unlock().unwrap();
    f.lock_shared().unwrap();
    OtherMachine(f)
}

/// What another machine opening the store now would find: `None` when no process holds the
/// store, else the name the lock file gives.
fn holder_seen_from_another_machine(db: &Path) -> Option<String> {
    let mut f = File::options().read(true).open(lock_file(db)).unwrap();
    match f.try_lock() {
        Ok(()) => {
            f.unlock().unwrap();
            None
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            f.lock_shared().unwrap();
            let mut name = String::new();
            f.seek(SeekFrom::Start(0)).unwrap();
            f.read_to_string(&mut name).unwrap();
            f.unlock().unwrap();
            Some(name.trim().to_owned())
        }
        Err(e) => panic!("{e:?}"),
    }
}

/// How many descriptors of `file` this process has open (Linux).
fn descriptors_of(file: &Path) -> usize {
    let file = std::fs::canonicalize(file).unwrap();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter(|fd| std::fs::read_link(fd.as_ref().unwrap().path()).is_ok_and(|t| t == file))
        .count()
}

fn store_with_an_item(db: &Path) {
    let store = Store::open(db).unwrap();
    store.upsert_item_json(r#"{"sku":"TEE","qoh":7}"#).unwrap();
}

#[test]
fn a_store_another_machine_has_open_is_refused_naming_it_and_opens_once_it_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    store_with_an_item(&db);

    let other = other_machine_opens(&db, "BACKOFFICE-PC");
    let Err(e) = Store::open(&db) else {
        panic!("opened while another machine has it open");
    };
    assert_eq!(e.kind(), ErrorKind::Refused, "{e}");
    for said in [
        "machine BACKOFFICE-PC",
        &db.display().to_string(),
        "network share",
    ] {
        assert!(e.message().contains(said), "{said:?} not in: {e}");
    }

    // Through the C ABI: the status for what the store's state forbids, and the same words.
    let path = c(db.to_str().unwrap());
    let mut handle = std::ptr::null_mut();
    // SAFETY: a valid C string and a live out pointer.
    let status = unsafe { inventory_sync::ffi::invsync_store_open(path.as_ptr(), &mut handle) };
    assert_eq!(status, inventory_sync::ffi::INVSYNC_REFUSED);
    assert!(handle.is_null());
    assert!(
        last_error().contains("machine BACKOFFICE-PC"),
        "{}",
        last_error()
    );

    // That machine closes it: this one opens it, unchanged, and now holds it.
    drop(other);
    let store = Store::open(&db).unwrap();
    assert_eq!(store.item_qoh("TEE").unwrap(), 7);
    let mine = holder_seen_from_another_machine(&db).expect("held while open");
    assert_ne!(mine, "BACKOFFICE-PC");
    assert!(!mine.is_empty());
}

#[test]
fn the_store_stays_held_until_the_last_handle_and_controller_of_the_process_close() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    // The same file spelled as a host might, through `..` or a link to its folder: one
    // hold all the same, as SQLite names the file by its full path.
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.path(), dir.path().join("link")).unwrap();
    let other_spelling = if cfg!(unix) {
        "link/shop.db"
    } else {
        "sub/../shop.db"
    };
    let first = Store::open(&db).unwrap();
    let second = Store::open(dir.path().join("sub/../shop.db")).unwrap();
    first
        .start_controller(std::time::Duration::from_secs(3600))
        .unwrap();
    assert!(holder_seen_from_another_machine(&db).is_some());
    // One descriptor of the lock file for the process: where NFS emulates the lock with
    // POSIX locks, closing any second one would give the process's lock back.
    let descriptors = || descriptors_of(&lock_file(&db));
    if cfg!(target_os = "linux") {
        assert_eq!(
            descriptors(),
            1,
            "descriptors of the lock file in this process"
        );
    }
    drop(first);
    assert!(
        holder_seen_from_another_machine(&db).is_some(),
        "given back while a handle of the process still has the store open"
    );
    // Handles of this machine open beside it, as a till's and the back office's processes
    // do: the lock file names this machine.
    let third = Store::open(dir.path().join(other_spelling)).unwrap();
    if cfg!(target_os = "linux") {
        assert_eq!(
            descriptors(),
            1,
            "descriptors of the lock file in this process"
        );
    }
    drop(second);
    assert!(holder_seen_from_another_machine(&db).is_some());
    drop(third);
    assert_eq!(holder_seen_from_another_machine(&db), None);
}

/// A host's threads opening one store at the same moment (a till's and a report's) still
/// make one descriptor of its lock file.
#[cfg(target_os = "linux")]
#[test]
fn threads_opening_a_store_at_once_share_one_hold() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    store_with_an_item(&db);
    let start = std::sync::Barrier::new(8);
    let stores: Vec<Store> = std::thread::scope(|s| {
        let opens: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    Store::open(&db).unwrap()
                })
            })
            .collect();
        opens.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(descriptors_of(&lock_file(&db)), 1);
    drop(stores);
    assert_eq!(holder_seen_from_another_machine(&db), None);
}

#[test]
fn a_name_left_by_a_machine_that_no_longer_has_the_store_open_holds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    store_with_an_item(&db);
    // It crashed, or lost the share: the name stays, the lock went with its process.
    drop(other_machine_opens(&db, "OLD-PC"));
    let store = Store::open(&db).unwrap();
    assert_eq!(store.item_qoh("TEE").unwrap(), 7);
    assert_ne!(holder_seen_from_another_machine(&db).unwrap(), "OLD-PC");
}

/// The lock is taken before SQLite reads the file: what SQLite would read is another
/// machine's to write (here a file SQLite cannot read at all is refused for the machine, not
/// for its content).
#[test]
fn the_machine_is_checked_before_the_store_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    std::fs::write(&db, vec![b'x'; 4096]).unwrap();
    let other = other_machine_opens(&db, "BACKOFFICE-PC");
    let Err(e) = Store::open(&db) else {
        panic!("opened while another machine has it open");
    };
    assert_eq!(e.kind(), ErrorKind::Refused, "{e}");
    assert!(e.message().contains("machine BACKOFFICE-PC"), "{e}");
    drop(other);
    let Err(e) = Store::open(&db) else {
        panic!("a file that is not a database opened");
    };
    assert!(!e.message().contains("BACKOFFICE-PC"), "{e}");
}

/// `invsync args` as a process of the machine `name`: its own host name, the same files.
#[cfg(target_os = "linux")]
fn invsync_on_machine(name: &str, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(["-u", "sh", "-c", "hostname \"$0\" && exec \"$@\"", name])
        .arg(env!("CARGO_BIN_EXE_invsync"))
        .args(args);
    cmd
}

#[cfg(target_os = "linux")]
fn this_machine() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}

#[cfg(target_os = "linux")]
#[test]
fn invsync_on_another_machine_is_refused_while_this_one_has_the_store_then_takes_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let store = Store::open(&db).unwrap();
    store.upsert_item_json(r#"{"sku":"TEE","qoh":7}"#).unwrap();
    let db = db.to_str().unwrap();

    let qoh = || {
        let mut cmd = invsync_on_machine("OTHER-PC", &["qoh", db, "TEE"]);
        waits::output_for(&mut cmd, "invsync qoh on OTHER-PC")
    };
    let out = qoh();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    let this = format!("is open on machine {}", this_machine());
    assert!(said.contains(&this), "{this:?} not in: {said}");

    drop(store);
    let out = qoh();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains('7'));
}

#[cfg(target_os = "linux")]
#[test]
fn a_controller_running_on_another_machine_keeps_this_one_off_until_it_stops() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    store_with_an_item(&db);
    let mut controller = invsync_on_machine(
        "BACKOFFICE-PC",
        &[
            "controller",
            db.to_str().unwrap(),
            "--interval-ms",
            "3600000",
        ],
    )
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    /// Stops the other machine's controller however the test ends.
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut started = String::new();
    std::io::BufReader::new(controller.stdout.take().unwrap())
        .read_line(&mut started)
        .unwrap();
    let controller = Killed(controller);
    assert!(started.contains("controller started"), "{started:?}");

    let Err(e) = Store::open(&db) else {
        panic!("opened while a controller on another machine has it open");
    };
    assert_eq!(e.kind(), ErrorKind::Refused, "{e}");
    assert!(e.message().contains("machine BACKOFFICE-PC"), "{e}");

    drop(controller);
    let store = Store::open(&db).unwrap();
    assert_eq!(store.item_qoh("TEE").unwrap(), 7);
}

/// A process frozen between its two locks (naming its machine under the exclusive one) keeps
/// the store's openers waiting a moment, not for ever: `Busy`, naming the lock file, and the
/// store opens once that process goes.
#[test]
fn a_process_stuck_naming_its_machine_makes_an_open_busy_instead_of_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    store_with_an_item(&db);
    let stuck = File::options()
        .read(true)
        .write(true)
        .open(lock_file(&db))
        .unwrap();
    stuck.lock().unwrap();
    // The process's other store, open before and after: its handles come and go while
    // that open waits (a till closing its handle is not held up by another store's wait).
    let till = dir.path().join("till.db");
    let till_store = Store::open(&till).unwrap();
    let waiting = std::thread::spawn({
        let db = db.clone();
        move || Store::open(&db).map(drop)
    });
    if cfg!(target_os = "linux") {
        waits::wait_for("the open to wait on the lock file", || {
            descriptors_of(&lock_file(&db)) == 2
        });
        drop(Store::open(&till).unwrap());
        drop(till_store);
        assert!(
            !waiting.is_finished(),
            "the other store's handles waited for this open to give up"
        );
    }
    let Err(e) = waiting.join().unwrap() else {
        panic!("opened while another process held the lock file exclusively");
    };
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    assert!(e.message().contains("shop.db-machine"), "{e}");
    stuck.unlock().unwrap();
    assert_eq!(Store::open(&db).unwrap().item_qoh("TEE").unwrap(), 7);
}
