//! One machine per store file. SQLite keeps the index of a WAL file in memory that only one
//! machine's processes share, so two machines writing one store over a network share (an
//! Access front end started on every PC of the shop from the server's folder) can corrupt it
//! or lose committed changes, which no busy timeout or transaction prevents. A process that
//! opens the store names its machine in a file beside it, `<store>-machine`, and holds a
//! shared lock on that file while it uses the store; a process of another machine finds the
//! lock held under a name not its own and is refused, told which machine has the store.
//!
//! The lock is the operating system's (`LockFileEx` on Windows, which holds across a share
//! between machines as Access's own `.laccdb` locks do; `flock` elsewhere), so it goes with
//! the process: a machine that crashed or lost the share holds nothing. The name is written
//! only under the exclusive lock, taken when no process holds the file, so while any process
//! holds it the name is that process's machine's. Where the file cannot be made or locked
//! (a folder that takes no new files, a file system without locks) or this machine has no
//! name to give, the store opens as before, unguarded.

use crate::{Error, ErrorKind, Result};
use std::fs::{File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// This process's hold on a store's machine lock: the lock is given back when the last
/// handle, controller or stack of the process holding it is dropped. One per file and
/// process, since where `flock` is emulated with POSIX locks (NFS), closing any descriptor
/// of the file would give back every lock the process holds on it.
pub(crate) struct MachineHold {
    _file: File,
}

/// The holds of this process, by lock file.
static HOLDS: Mutex<Vec<(PathBuf, Weak<MachineHold>)>> = Mutex::new(Vec::new());

/// How long an open waits for another process's moment of writing its machine's name.
const NAMING_WAIT: Duration = Duration::from_secs(5);

/// The lock file of the store file `db`.
pub(crate) fn lock_file(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-machine");
    PathBuf::from(name)
}

/// Holds the machine lock of the store file `db` for this process, or says which machine
/// has the store (`Refused`). `None`: the store is unguarded (see the module docs).
pub(crate) fn hold(db: &Path) -> Result<Option<Arc<MachineHold>>> {
    let Some(me) = machine_name() else {
        return Ok(None);
    };
    let path = lock_file(db);
    let mut holds = HOLDS.lock().unwrap_or_else(|e| e.into_inner());
    holds.retain(|(_, h)| h.strong_count() > 0);
    if let Some(held) = holds
        .iter()
        .find(|(p, _)| *p == path)
        .and_then(|(_, h)| h.upgrade())
    {
        return Ok(Some(held));
    }
    let Some(file) = take(db, &path, &me)? else {
        return Ok(None);
    };
    let held = Arc::new(MachineHold { _file: file });
    holds.push((path, Arc::downgrade(&held)));
    Ok(Some(held))
}

/// The lock file at `path`, held shared under this machine's name `me`; `None` where it
/// cannot be made or locked.
fn take(db: &Path, path: &Path, me: &str) -> Result<Option<File>> {
    let Ok(mut file) = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
    else {
        return Ok(None);
    };
    // Held by no process: the store is this machine's from now on.
    match file.try_lock() {
        Ok(()) => {
            let named = (|| {
                file.set_len(0)?;
                file.seek(SeekFrom::Start(0))?;
                file.write_all(format!("{me}\n").as_bytes())?;
                file.unlock()
            })();
            if named.is_err() {
                return Ok(None);
            }
        }
        Err(TryLockError::WouldBlock) => {}
        Err(TryLockError::Error(_)) => return Ok(None),
    }
    // Another process may be naming its machine between the two locks: a moment.
    let since = Instant::now();
    loop {
        match file.try_lock_shared() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) if since.elapsed() < NAMING_WAIT => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(Error::new(
                    ErrorKind::Busy,
                    format!(
                        "store file {}: {} stayed locked by another process for {NAMING_WAIT:?}",
                        db.display(),
                        path.display()
                    ),
                ))
            }
            Err(TryLockError::Error(_)) => return Ok(None),
        }
    }
    let mut holder = String::new();
    if file.seek(SeekFrom::Start(0)).is_err() || file.read_to_string(&mut holder).is_err() {
        return Ok(None);
    }
    let holder = holder.trim();
    if holder == me {
        return Ok(Some(file));
    }
    let holder = match holder {
        "" => "another machine".to_owned(),
        name => format!("machine {name}"),
    };
    Err(Error::refused(format!(
        "store file {} is open on {holder} ({} names it); a store is for one machine's \
         processes: SQLite keeps the index of its write-ahead log in memory that only one \
         machine's processes share, so a second machine writing the file over a network \
         share can corrupt it. Close it there first, or work on that machine",
        db.display(),
        path.display()
    )))
}

/// This machine's name, as the operating system gives it to every process (not a process's
/// own `HOSTNAME`, which a shell may set to anything): Windows' `COMPUTERNAME`, elsewhere the
/// kernel's host name.
fn machine_name() -> Option<String> {
    let raw = if cfg!(windows) {
        std::env::var("COMPUTERNAME").ok()
    } else {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .ok()
    };
    raw.and_then(|n| super::plain_name(&n))
}
