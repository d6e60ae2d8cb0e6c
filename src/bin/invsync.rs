//! `invsync`: the library from the command line.
//!
//! - `invsync controller STORE [--interval-ms N] [--workstation W]` runs the stack controller
//!   until killed: the seeds' shared stack controller on an always-on back-office machine.
//! - `invsync run STORE` makes one pass and prints its report.
//! - `invsync import STORE FILE [--workstation W]` applies QOH changes from a CSV file, one per
//!   line: `sku,delta[,reason[,host_ref[,origin_cart_id]]]`. With host references it can be run
//!   again after a crash: what was applied before is skipped.
//! - `invsync stack STORE` prints the troubleshooting view.
//! - `invsync qoh STORE SKU` prints the order manager's QOH.
//!
//! Exit status: 0 on success, 1 on a library error (its message on stderr), 2 on bad usage.

use inventory_sync::{Adjustment, Delta, Reason, Store};
use std::io::BufRead;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: invsync controller STORE [--interval-ms N] [--workstation W]
       invsync run STORE
       invsync import STORE FILE [--workstation W]
       invsync stack STORE
       invsync qoh STORE SKU";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(m)) => {
            eprintln!("{m}\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Lib(e)) => {
            eprintln!("invsync: {e}");
            ExitCode::from(1)
        }
    }
}

enum Failure {
    Usage(String),
    Lib(inventory_sync::Error),
}

impl From<inventory_sync::Error> for Failure {
    fn from(e: inventory_sync::Error) -> Self {
        Failure::Lib(e)
    }
}

/// The value of `--name` in `args`, if given.
fn option<'a>(args: &'a [String], name: &str) -> Result<Option<&'a str>, Failure> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => args
            .get(i + 1)
            .map(|v| Some(v.as_str()))
            .ok_or_else(|| Failure::Usage(format!("{name} needs a value"))),
    }
}

fn open(args: &[String]) -> Result<Store, Failure> {
    let path = args
        .get(1)
        .ok_or_else(|| Failure::Usage("STORE is missing".into()))?;
    let store = Store::open(path)?;
    if let Some(w) = option(args, "--workstation")? {
        store.set_param("Workstation", w)?;
    }
    Ok(store)
}

fn run(args: &[String]) -> Result<(), Failure> {
    match args.first().map(String::as_str) {
        Some("controller") => {
            let store = open(args)?;
            let interval = match option(args, "--interval-ms")? {
                None => 1000,
                Some(v) => v
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=3_600_000).contains(n))
                    .ok_or_else(|| {
                        Failure::Usage(format!("--interval-ms {v:?} is not 1 to 3600000"))
                    })?,
            };
            loop {
                let report = store.run_stack(None)?;
                if report.sent + report.retried + report.bypassed + report.uncertain > 0 {
                    print!("{report}");
                }
                if report.remaining == 0 || report.carts.iter().all(|c| c.sent == 0) {
                    std::thread::sleep(Duration::from_millis(interval));
                }
            }
        }
        Some("run") => {
            let store = open(args)?;
            print!("{}", store.run_stack(None)?);
            Ok(())
        }
        Some("import") => {
            let store = open(args)?;
            let file = args
                .get(2)
                .ok_or_else(|| Failure::Usage("FILE is missing".into()))?;
            let f = std::fs::File::open(file)
                .map_err(|e| Failure::Usage(format!("cannot read {file}: {e}")))?;
            let (mut applied, mut skipped) = (0usize, 0usize);
            for (n, line) in std::io::BufReader::new(f).lines().enumerate() {
                let line = line.map_err(|e| Failure::Usage(format!("{file}: {e}")))?;
                if line.trim().is_empty() || line.starts_with('#') {
                    continue;
                }
                let adj = parse_line(&line).map_err(|e| {
                    Failure::Lib(inventory_sync::Error::new(
                        e.kind(),
                        format!("{file} line {}: {}", n + 1, e.message()),
                    ))
                })?;
                match store.adjust_qoh(&adj)? {
                    inventory_sync::AdjustOutcome::Duplicate => skipped += 1,
                    _ => applied += 1,
                }
            }
            println!("{applied} changes applied, {skipped} seen before");
            Ok(())
        }
        Some("stack") => {
            let store = open(args)?;
            println!("{}", store.stack_list_json(None)?);
            Ok(())
        }
        Some("qoh") => {
            let store = open(args)?;
            let sku = args
                .get(2)
                .ok_or_else(|| Failure::Usage("SKU is missing".into()))?;
            println!("{}", store.item_qoh(sku)?);
            Ok(())
        }
        Some(other) => Err(Failure::Usage(format!("unknown command {other:?}"))),
        None => Err(Failure::Usage("no command".into())),
    }
}

/// `sku,delta[,reason[,host_ref[,origin_cart_id]]]`
fn parse_line(line: &str) -> inventory_sync::Result<Adjustment> {
    let f: Vec<&str> = line.split(',').map(str::trim).collect();
    let num = |i: usize, what: &str| -> inventory_sync::Result<i64> {
        f[i].parse().map_err(|_| {
            inventory_sync::Error::new(
                inventory_sync::ErrorKind::InvalidArgument,
                format!("{what} {:?} is not a number", f[i]),
            )
        })
    };
    if f.len() < 2 || f.len() > 5 {
        return Err(inventory_sync::Error::new(
            inventory_sync::ErrorKind::InvalidArgument,
            "expected sku,delta[,reason[,host_ref[,origin_cart_id]]]",
        ));
    }
    let reason = if f.len() > 2 && !f[2].is_empty() {
        Reason::from_code(num(2, "reason")?)?
    } else {
        Reason::Adjustment
    };
    let mut adj = Adjustment::new(f[0], Delta::new(num(1, "delta")?)?, reason);
    if f.len() > 3 && !f[3].is_empty() {
        adj = adj.host_ref(f[3]);
    }
    if f.len() > 4 && !f[4].is_empty() {
        adj = adj.origin_cart(num(4, "origin cart")?);
    }
    Ok(adj)
}
