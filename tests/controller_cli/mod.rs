//! Runs the `invsync` command's controller as a store owner would, for the CLI's tests.

/// Runs `invsync controller` on `db` until a line of its output passes `wanted` (at most 30 s
/// of silence), then stops it: that line, if one came, and the lines before it.
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
    let said = loop {
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
