//! Bounded waits for the tests: each fails the test naming what it waited for, where a wait
//! without an end would hang the run (CI's until its own limit, with no word of why) when the
//! library under test misbehaves. Standard library only, so that a test file built without
//! the emulator may take it in by `#[path]`.
#![allow(dead_code)]

use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long a test waits for what normally takes milliseconds before it fails naming what it
/// waited for: far past anything a slow, loaded CI machine needs, and well short of CI's own
/// limit, so that a library that never gets there fails a test instead of hanging the run.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Polls `cond` until it holds or `secs` pass; whether it held.
pub fn eventually(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::yield_now();
    }
    cond()
}

/// Polls `cond` until it holds; fails the test naming `what` if it does not within
/// [`PATIENCE`].
pub fn wait_for(what: &str, cond: impl FnMut() -> bool) {
    assert!(
        eventually(PATIENCE.as_secs(), cond),
        "waited {PATIENCE:?} for {what}; it never happened"
    );
}

/// The next message on `rx`; fails the test naming `what` if none comes within [`PATIENCE`]
/// (or every sender is gone: a thread meant to send it ended without).
pub fn recv_for<T>(rx: &Receiver<T>, what: &str) -> T {
    match rx.recv_timeout(PATIENCE) {
        Ok(v) => v,
        Err(RecvTimeoutError::Timeout) => {
            panic!("waited {PATIENCE:?} for {what}; it never happened")
        }
        Err(RecvTimeoutError::Disconnected) => {
            panic!("waited for {what}; whatever was to say so ended without")
        }
    }
}

/// Sets its flag when dropped: however the code holding it ends (a failed assertion too), a
/// thread that runs until the flag is set is let go, and a scope joining it does not hang.
pub struct SetOnDrop<'a>(pub &'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A barrier for `n` threads that cannot hang: a thread that ends before it arrives (a failed
/// assertion) counts as arrived, so the others go on and its join reports the failure; and a
/// thread waiting longer than [`PATIENCE`] fails naming what it waited for.
pub struct Arrivals {
    n: usize,
    arrived: Mutex<usize>,
    all_in: Condvar,
}

/// One thread's place at an [`Arrivals`]: it arrives at [`Arrival::wait`], or when dropped.
pub struct Arrival<'a>(&'a Arrivals);

impl Arrivals {
    pub fn new(n: usize) -> Arrivals {
        Arrivals {
            n,
            arrived: Mutex::new(0),
            all_in: Condvar::new(),
        }
    }

    /// A place for the calling thread; take it before anything that may fail.
    pub fn place(&self) -> Arrival<'_> {
        Arrival(self)
    }
}

impl Arrival<'_> {
    /// Arrives, and waits for the other threads to arrive (or end); fails naming `what` if
    /// they have not within [`PATIENCE`].
    pub fn wait(self, what: &str) {
        let all = self.0;
        drop(self);
        let arrived = all.arrived.lock().unwrap_or_else(|e| e.into_inner());
        let (arrived, waited) = all
            .all_in
            .wait_timeout_while(arrived, PATIENCE, |a| *a < all.n)
            .unwrap_or_else(|e| e.into_inner());
        assert!(
            !waited.timed_out(),
            "waited {PATIENCE:?} for {what}; {} of {} came",
            *arrived,
            all.n
        );
    }
}

impl Drop for Arrival<'_> {
    fn drop(&mut self) {
        *self.0.arrived.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.all_in.notify_all();
    }
}

/// A child process killed and reaped when dropped: however the test holding it ends (a failed
/// assertion too), a process that runs until stopped (a controller) does not outlive the test,
/// still writing to its store and holding the run's output pipes open.
pub struct KilledOnDrop(pub Child);

impl std::ops::Deref for KilledOnDrop {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for KilledOnDrop {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `cmd` to its end and gives back its output, as `Command::output` (stdin closed,
/// stdout and stderr read); kills it and fails the test naming `what` if it has not ended
/// within [`PATIENCE`].
pub fn output_for(cmd: &mut Command, what: &str) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_output(child, PATIENCE, what)
}

/// Waits for `child` to end and gives back its output, as `Child::wait_with_output`; kills it
/// and fails the test naming `what` if it has not ended within `limit`.
pub fn wait_output(mut child: Child, limit: Duration, what: &str) -> Output {
    fn read(r: Option<impl std::io::Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut v);
            }
            v
        })
    }
    let out = read(child.stdout.take());
    let err = read(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("waited {limit:?} for {what} to end; killed it");
        }
        // Polling for the process's end, not a wait standing in for an event: a short pause
        // leaves the CPU to the process.
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}
