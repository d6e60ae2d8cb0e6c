//! Contention (issue 5): two host processes change QOH in the same store file while a
//! controller process drains it. No caller sees SQLITE_BUSY, no QOH change is lost, and the
//! totals are exact in the store and on the cart.
#![cfg(feature = "emulator")]

mod common;

use common::*;
use inventory_sync::emulator::Emulator;
use inventory_sync::StackState;
use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn two_hosts_and_a_controller_share_one_store_file() {
    let f = store();
    let e = Emulator::start().unwrap();
    cart(&f.store, &e, "Web", "attribute");
    let skus: Vec<String> = (0..50).map(|i| format!("C{i:02}")).collect();
    for sku in &skus {
        item(&f.store, sku, 10_000);
        e.set_qoh(sku, 10_000);
    }
    let db = f.dir.path().join("store.db");
    let per_host = 1500;
    let mut expected: std::collections::HashMap<&str, i64> =
        skus.iter().map(|s| (s.as_str(), 10_000)).collect();
    let mut files = Vec::new();
    for host in 0..2 {
        let mut csv = String::new();
        for n in 0..per_host {
            let sku = &skus[(n * 7 + host * 13) % skus.len()];
            let delta = if n % 3 == 0 { 2 } else { -1 };
            *expected.get_mut(sku.as_str()).unwrap() += delta;
            writeln!(csv, "{sku},{delta},2,host{host}-line{n}").unwrap();
        }
        let path = f.dir.path().join(format!("host{host}.csv"));
        std::fs::write(&path, csv).unwrap();
        files.push(path);
    }
    let bin = env!("CARGO_BIN_EXE_invsync");
    let controller = KilledOnDrop(
        Command::new(bin)
            .args([
                "controller",
                db.to_str().unwrap(),
                "--interval-ms",
                "1",
                "--workstation",
                "BACK",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let hosts: Vec<_> = files
        .iter()
        .enumerate()
        .map(|(i, file)| {
            Command::new(bin)
                .args([
                    "import",
                    db.to_str().unwrap(),
                    file.to_str().unwrap(),
                    "--workstation",
                    &format!("HOST{i}"),
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for h in hosts {
        // Bounded (far past the few seconds an import takes), so that one that never ends
        // fails the test instead of hanging it.
        let out = wait_output(h, Duration::from_secs(300), "a host's import");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "a host failed: {stderr}");
        assert!(
            !stderr.to_lowercase().contains("busy") && !stderr.contains("locked"),
            "{stderr}"
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("{per_host} changes applied, 0 changes seen before")
        );
    }
    // The controller process keeps draining; wait for it to finish the backlog (bounded).
    let deadline = Instant::now() + Duration::from_secs(60);
    while f.store.stack_count(0, StackState::Waiting).unwrap() > 0 && Instant::now() < deadline {
        std::thread::yield_now();
    }
    drop(controller);
    assert_eq!(f.store.stack_count(0, StackState::Waiting).unwrap(), 0);
    for sku in &skus {
        assert_eq!(
            f.store.item_qoh(sku).unwrap(),
            expected[sku.as_str()],
            "{sku}: no lost update"
        );
        assert_eq!(
            e.qoh(sku),
            Some(expected[sku.as_str()]),
            "{sku} on the cart"
        );
    }
    let ledger: serde_json::Value =
        serde_json::from_str(&f.store.ledger_json(Some(r#"{"limit":100000}"#)).unwrap()).unwrap();
    assert_eq!(ledger.as_array().unwrap().len(), 2 * per_host);
    // Running an import again changes nothing: every line carries a host reference.
    let again = output_for(
        Command::new(bin).args(["import", db.to_str().unwrap(), files[0].to_str().unwrap()]),
        "the import run again",
    );
    assert_eq!(
        String::from_utf8_lossy(&again.stdout).trim(),
        format!("0 changes applied, {per_host} changes seen before")
    );
}
