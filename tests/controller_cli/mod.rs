//! Runs the `invsync` command's controller as a store owner would, and finds the quickstart
//! example's build, for the CLI's tests.
#![allow(dead_code)]

/// Runs `invsync controller` on `db` until a line of its output passes `wanted` (at most 30 s
/// of silence, 60 s in all: a controller that keeps talking of something else ends too), then
/// stops it: that line, if one came, and the lines before it.
pub fn controller_says(
    db: &std::path::Path,
    wanted: impl Fn(&str) -> bool,
) -> (Option<String>, Vec<String>) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_invsync"))
        .args(["controller", db.to_str().unwrap(), "--interval-ms", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let said = loop {
        if std::time::Instant::now() >= deadline {
            break None;
        }
        match lines.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(line) if wanted(&line) => break Some(line),
            Ok(line) => seen.push(line),
            Err(_) => break None,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    (said, seen)
}

/// The quickstart example as `cargo test` built it.
pub fn quickstart() -> std::path::PathBuf {
    // `cargo test` builds the examples beside the test binaries (target/debug/examples); a
    // run of one test file alone (`--test cli`) does not, and would try an old build.
    let exe = std::env::current_exe().unwrap();
    let quickstart = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|debug| debug.join("examples").join("quickstart"))
        .unwrap();
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/quickstart.rs");
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    assert!(
        modified(&quickstart) >= modified(std::path::Path::new(source)),
        "no quickstart built from its current source: run `cargo test --features emulator`, \
         which builds the examples"
    );
    quickstart
}
