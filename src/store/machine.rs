//! One machine per store file. SQLite keeps the index of a WAL file in memory that only one
//! machine's processes share, so two machines writing one store over a network share (an
//! Access front end started on every PC of the shop from the server's folder) can corrupt it
//! or lose committed changes, which no busy timeout or transaction prevents. A process that
//! opens the store names its machine in a file beside it, `<store>-machine`, and holds a
//! shared lock on that file while it uses the store; a process of another machine finds the
//! lock held under a name not its own and is refused, told which machine has the store.
//!
//! The lock is the operating system's (`LockFileEx` on Windows, which the file server holds
//! across machines as it holds Access's own `.laccdb` locks; `flock` elsewhere, which NFS
//! and CIFS (Linux 5.5 on) turn into byte-range locks the server holds), so it goes with the
//! process: a machine that crashed holds nothing once its system, or the file server for a
//! machine that lost the share, lets its locks go. The name is written only under the
//! exclusive lock, taken when no process holds the file, so while any process holds it the
//! name is that process's machine's. The lock is taken before SQLite reads the store.
//!
//! Where the file cannot be made, written or locked (a folder this user may not create files
//! in, a share mounted without locks, as Linux's `nobrl` or NFS's `nolock`) or this machine
//! has no name to give, the store opens as before, unguarded: the guard refuses only what it
//! knows to be another machine.

use crate::{Error, ErrorKind, Result};
use std::fs::{File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A share of this process's hold on a store's machine lock. The process opens the lock file
/// once however many handles, controllers and runs use the store, and closes it when the
/// last share is dropped, under [`HOLDS`]'s lock: where `flock` is emulated with POSIX locks
/// (NFS), closing any descriptor of the file gives back every lock the process holds on it,
/// so a second descriptor, or a new one opened while the last was closing, would lose it.
#[derive(Debug)]
pub(crate) struct MachineHold {
    path: PathBuf,
    /// Whether this share's open made the lock file (it was not there before).
    made: bool,
}

/// The lock files this process holds, with how many shares of each are out.
static HOLDS: Mutex<Vec<(PathBuf, File, usize)>> = Mutex::new(Vec::new());

/// Held while a lock file not yet in [`HOLDS`] is taken, which may wait out another
/// process's naming: so that two threads taking the same file make one descriptor, while
/// [`HOLDS`] stays free for the process's stores already held (their opens and closes, a
/// controller's end) during that wait.
static TAKING: Mutex<()> = Mutex::new(());

/// How long an open waits for another process's moment of writing its machine's name.
const NAMING_WAIT: Duration = Duration::from_secs(5);

/// The lock file of the store file `db`.
fn lock_file(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-machine");
    PathBuf::from(name)
}

/// Holds the machine lock of the store file `db` for this process, or says which machine
/// has the store (`Refused`). `None`: the store is unguarded (see the module docs).
pub(crate) fn hold(db: &Path) -> Result<Option<MachineHold>> {
    // No file (`:memory:`): refused as such by the caller.
    if db.as_os_str().is_empty() {
        return Ok(None);
    }
    let path = lock_file(db);
    let share = |path: &PathBuf| {
        let mut holds = HOLDS.lock().unwrap_or_else(|e| e.into_inner());
        let held = holds.iter_mut().find(|(p, _, _)| p == path);
        held.map(|(_, _, shares)| *shares += 1).is_some()
    };
    if share(&path) {
        return Ok(Some(MachineHold { path, made: false }));
    }
    let _taking = TAKING.lock().unwrap_or_else(|e| e.into_inner());
    // Taken by another thread while this one waited its turn.
    if share(&path) {
        return Ok(Some(MachineHold { path, made: false }));
    }
    let Some(me) = machine_name() else {
        return Ok(None);
    };
    let Some((file, made)) = take(db, &path, &me)? else {
        return Ok(None);
    };
    let mut holds = HOLDS.lock().unwrap_or_else(|e| e.into_inner());
    holds.push((path.clone(), file, 1));
    Ok(Some(MachineHold { path, made }))
}

impl MachineHold {
    /// Gives the hold back, and removes the lock file if this share's open made it and no
    /// other process or handle holds it: for a file the open found to be no store (not a
    /// database, another program's), which is to be left as it was found, with nothing new
    /// beside it.
    pub(crate) fn discard_made(mut self) {
        if !self.made {
            return;
        }
        // No thread of this process opens the file meanwhile.
        let _taking = TAKING.lock().unwrap_or_else(|e| e.into_inner());
        let mut holds = HOLDS.lock().unwrap_or_else(|e| e.into_inner());
        let Some(at) = holds.iter().position(|(p, _, _)| *p == self.path) else {
            return;
        };
        if holds[at].2 > 1 {
            return;
        }
        let (_, file, _) = holds.swap_remove(at);
        let path = std::mem::take(&mut self.path);
        let _ = file.unlock();
        // The exclusive lock: no other process holds the file.
        if file.try_lock().is_ok() {
            let _ = std::fs::remove_file(&path);
            let _ = file.unlock();
        }
    }
}

impl Drop for MachineHold {
    fn drop(&mut self) {
        let mut holds = HOLDS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = holds.iter().position(|(p, _, _)| *p == self.path) {
            holds[at].2 -= 1;
            if holds[at].2 == 0 {
                let (_, file, _) = holds.swap_remove(at);
                // Given back at once: Windows may keep a lock a while after its handle closes.
                let _ = file.unlock();
            }
        }
    }
}

/// The lock file at `path`, held shared under this machine's name `me`, and whether this
/// call made it; `None` where it cannot be made, written or locked.
fn take(db: &Path, path: &Path, me: &str) -> Result<Option<(File, bool)>> {
    let mut options = File::options();
    options.read(true).write(true).create(true).truncate(false);
    // Every user of the machine may open the store (a terminal server's sessions): so may
    // they the lock file, whoever made it (the umask still applies).
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o666);
    let made = options.clone().create_new(true).open(path);
    let Ok((mut file, made)) = made
        .map(|f| (f, true))
        .or_else(|_| options.open(path).map(|f| (f, false)))
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
    let mut holder = Vec::new();
    if file.seek(SeekFrom::Start(0)).is_err() || file.read_to_end(&mut holder).is_err() {
        return Ok(None);
    }
    let holder = String::from_utf8_lossy(&holder);
    let holder = holder.trim();
    if holder.eq_ignore_ascii_case(me) {
        return Ok(Some((file, made)));
    }
    // Given back at once, not at the close: a child the host forks meanwhile would hold it
    // until it execs.
    let _ = file.unlock();
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
/// own `HOSTNAME`, which a shell may set to anything): Windows' `COMPUTERNAME` (a host that
/// starts this process with an environment of its own without it leaves the store
/// unguarded), elsewhere the kernel's host name. Also the default workstation name's last
/// resort ([`super::host_name`]).
pub(super) fn machine_name() -> Option<String> {
    let raw = if cfg!(windows) {
        std::env::var("COMPUTERNAME").ok()
    } else {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .ok()
    };
    raw.and_then(|n| super::plain_name(&n))
}
