//! `invsync`: the library from the command line.
//!
//! - `invsync controller STORE [--interval-ms N] [--workstation W]` runs the stack controller
//!   until killed: the seeds' shared stack controller on an always-on back-office machine.
//! - `invsync run STORE` makes one pass and prints its report.
//! - `invsync import STORE FILE [--workstation W] [--again]` applies QOH changes from a CSV
//!   file, one per line: `sku,delta[,reason[,host_ref[,origin_cart_id]]]` (the reason by its
//!   number or name: 1 adjustment, the default, 2 pos_sale, 3 order_import, 4 receiving,
//!   5 other, 6 return; fields may be quoted; a UTF-8
//!   byte-order mark, CRLF, blank lines, rows of commas only and comments are allowed; a
//!   comment starts with `# `, a hash and a space, so a SKU such as `#10-SCREW` is a change
//!   and a line commented out as `#SKU,5` is refused, never skipped; origin 0 is none). The
//!   file must be UTF-8. Every line is checked (its numbers, its SKU, its cart,
//!   its host reference, which no other line of the file may repeat) before the first is
//!   applied, so a file with a bad line changes nothing. The changes then commit together,
//!   so a file stopped part way (a store busy past its timeout, a crash) changes nothing
//!   either; run again, a line whose host reference was applied before is skipped, and one
//!   whose reference names another change refuses the file (it would be skipped, the change
//!   lost). A line without a host reference is given one naming the file's changes, so the
//!   same changes imported again (the same file run twice, or its lines sorted and saved
//!   again) refuse the file; `--again` says they are new changes and applies them, numbered
//!   on from the imports of the same changes before (so a later run without it is refused).
//! - `invsync stack STORE [--limit N] [--cart C] [--state S] [--json]` prints the
//!   troubleshooting view: the oldest N records (1,000 unless given, at most 999,999) as a
//!   table (carts by name, times in UTC, each cart's last answer), of cart C only (its name or
//!   id) and in state S only (`pending`, `bypassed` or `uncertain`) when given, then how many
//!   are in each state; when the table leaves records out (more records, or another state), a
//!   line counts the stack's records (of cart C) in each state, and stderr says when there
//!   are more; an empty list of cart C or state S says so, not that the stack is empty;
//!   `--json` prints them as `stack_list_json` gives them (times in Unix milliseconds).
//!   Stderr also names each paused cart (of cart C): until when (UTC), why (the cause the
//!   controller stored) and what to do; stdout is the same whether a cart is paused or not.
//! - `invsync retry STORE RECORD [--checked]` sends a bypassed or uncertain record (by the
//!   number the stack view shows) again, with the records sent with it, from attempt 0; an
//!   uncertain one (the cart may have it: the answer to its send was lost) only with
//!   `--checked`, which says the operator checked the cart's count and the change is not in
//!   it. `invsync discard STORE RECORD` removes it and them from the stack, the cart not told.
//!   Others are refused.
//! - `invsync qoh STORE SKU` prints the order manager's QOH (of a product with variants, the
//!   sum of its variants' QOH: a product keeps none of its own).
//! - `invsync init STORE` makes a new, empty store file (refused where a file exists).
//! - `invsync help` (or `-h`, `--help`, also after a command) prints the usage; `invsync
//!   --version` the version.
//!
//! STORE must be an existing store file: a mistyped path or an empty file is an error, never a
//! new empty store. Every argument and option, and an import file's text, are checked before
//! STORE is opened, so a command refused for them changes no file. Opening upgrades an older
//! store file to this version's schema (an older build then refuses to open it), so a command
//! refused for what only the store can say (an unknown SKU) has upgraded it. A command given an argument or
//! option it does not take refuses it, rather than ignore what the operator meant. Arguments
//! must be UTF-8 text.
//! The controller keeps running through a failed pass (a store locked past its busy timeout by
//! a long host transaction, a cart down): it prints the error and tries again next interval.
//!
//! Exit status: 0 on success, 1 on a library error (its message on stderr), 2 on bad usage.
//! A command that changed the store (`run`, `import`, `init`, `retry`, `discard`) exits 0 even when its report
//! cannot be written to stdout (a full disk, a closed pipe): it says so on stderr, with the
//! report, since running it again would apply the changes again.

use inventory_sync::{Adjustment, Delta, Reason, Store};
use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: invsync controller STORE [--interval-ms N] [--workstation W]
       invsync run STORE [--workstation W]
       invsync import STORE FILE [--workstation W] [--again]
       invsync stack STORE [--limit N] [--cart C] [--state S] [--json]
       invsync retry STORE RECORD [--checked]
       invsync discard STORE RECORD
       invsync qoh STORE SKU
       invsync init STORE
       invsync help | --version";

/// The usage of the command a mistake was made in, where it is one (the whole usage after
/// each one-line mistake buried it), else the whole usage.
fn usage_of(command: Option<&String>) -> String {
    let wanted = command.map(|c| format!("invsync {c} "));
    let line = USAGE
        .lines()
        .map(|l| l.trim_start().trim_start_matches("usage: "))
        .find(|l| wanted.as_deref().is_some_and(|w| l.starts_with(w)));
    match line {
        Some(l) => format!("usage: {l} (`invsync help` lists every command)"),
        None => USAGE.to_owned(),
    }
}

/// What `help` adds to the usage: what each command is for, and what is not done here. The
/// usage alone named commands an owner new to them could not tell apart (`run` or
/// `controller`?), and nothing said where Send QOH, Get QOH or a new cart were.
const ABOUT: &str = "
  controller  sends what waits on the web stack to the carts, pass after pass, until stopped
  run         makes one pass: sends what waits now and prints what each cart answered
  import      applies QOH changes from a CSV file of lines sku,delta[,reason[,host_ref[,origin_cart_id]]]
  stack       lists the records waiting for the carts, set aside (bypassed) or in doubt (uncertain)
  retry       sends a bypassed or uncertain record again (RECORD: the first column of `stack`)
  discard     drops a bypassed or uncertain record from the stack, the cart not told
  qoh         prints an item's QOH in the order manager
  init        makes a new, empty store file

Items, carts, SynchQOH, each cart's Synchronize Inventory box, Send QOH and Get QOH are the
order manager's (the library's API), not this command's; the quickstart's --config adds carts.
Exit status: 0 done, 1 refused or failed (the message says why), 2 a mistyped command line.";

/// Each command: the arguments after it, and the options it takes.
const COMMANDS: &[(&str, &[&str], &[&str])] = &[
    (
        "controller",
        &["STORE"],
        &["--interval-ms", "--workstation"],
    ),
    ("run", &["STORE"], &["--workstation"]),
    ("import", &["STORE", "FILE"], &["--workstation", "--again"]),
    (
        "stack",
        &["STORE"],
        &["--limit", "--json", "--cart", "--state"],
    ),
    ("retry", &["STORE", "RECORD"], &["--checked"]),
    ("discard", &["STORE", "RECORD"], &[]),
    ("qoh", &["STORE", "SKU"], &[]),
    ("init", &["STORE"], &[]),
];

fn main() -> ExitCode {
    let args = match std::env::args_os()
        .skip(1)
        .map(std::ffi::OsString::into_string)
        .collect::<Result<Vec<String>, _>>()
    {
        Ok(args) => args,
        Err(bad) => {
            warn(&format!(
                "invsync: argument {:?} is not UTF-8 text: give the path or SKU as text\n{USAGE}\n",
                bad.to_string_lossy()
            ));
            return ExitCode::from(2);
        }
    };
    let args = split_equals(args);
    let done = match args.first().map(String::as_str) {
        // (They take nothing more: a script's mistyped check is not passed as a success.)
        Some(first @ ("help" | "-h" | "--help" | "--version" | "-V" | "version"))
            if args.len() > 1 =>
        {
            Err(Failure::Usage(format!(
                "{first} takes nothing more, not also {:?}",
                args[1]
            )))
        }
        Some("help" | "-h" | "--help") => {
            emit(&format!("{USAGE}\n{ABOUT}\n")).map_err(output_failed)
        }
        // Help asked after a command (`invsync stack --help`, the first thing a new operator
        // types; `-h` where STORE goes) was refused as an unknown option, or as a store file.
        Some(command) if COMMANDS.iter().any(|(name, ..)| *name == command) && asks_help(&args) => {
            emit(&format!("{USAGE}\n{ABOUT}\n")).map_err(output_failed)
        }
        Some("--version" | "-V" | "version") => {
            emit(&format!("invsync {}\n", env!("CARGO_PKG_VERSION"))).map_err(output_failed)
        }
        _ => run(&args),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(m)) => {
            warn(&format!("invsync: {m}\n{}\n", usage_of(args.first())));
            ExitCode::from(2)
        }
        Err(Failure::Lib(e)) => {
            warn(&format!("invsync: {e}\n"));
            ExitCode::from(1)
        }
        Err(Failure::Output(e)) => {
            warn(&format!("invsync: cannot write to standard output: {e}\n"));
            ExitCode::from(1)
        }
    }
}

/// Whether a command's arguments ask for help: `--help` among its options (before `--`), or
/// `-h` where STORE goes (a SKU `-h` stays a SKU).
fn asks_help(args: &[String]) -> bool {
    let options = &args[..args.iter().position(|a| a == "--").unwrap_or(args.len())];
    options.iter().any(|a| a == "--help") || options.get(1).is_some_and(|a| a == "-h")
}

enum Failure {
    Usage(String),
    Lib(inventory_sync::Error),
    /// Standard output could not be written, by a command that changed nothing.
    Output(std::io::Error),
}

fn output_failed(e: std::io::Error) -> Failure {
    Failure::Output(e)
}

/// Writes `text` to standard output: written, not printed, as `print!` panics when its reader
/// has gone (`invsync stack STORE | head`) or the disk is full, and a panic after a change
/// was made would read as the change failing.
fn emit(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Writes `text` to standard error, come what may.
fn warn(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// The report of a command that changed the store. Failing to write it must not look like
/// failing to make the change (run again, the change would be made twice): it goes to
/// stderr instead, and the command succeeds.
fn report_done(text: &str) {
    if let Err(e) = emit(text) {
        warn(&format!(
            "invsync: done, but standard output cannot be written ({e}); the report:\n{text}"
        ));
    }
}

impl From<inventory_sync::Error> for Failure {
    fn from(e: inventory_sync::Error) -> Self {
        Failure::Lib(e)
    }
}

/// The options that take a value.
const OPTIONS: [&str; 5] = [
    "--interval-ms",
    "--workstation",
    "--limit",
    "--cart",
    "--state",
];
/// Options that take no value.
const FLAGS: [&str; 3] = ["--again", "--json", "--checked"];

/// `--name=value` (before `--`) as `--name value`, for an option that takes a value: refused
/// as an unknown option until 2026-12-04, though the option was known.
fn split_equals(args: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut options_end = false;
    for a in args {
        options_end |= a == "--";
        match a.split_once('=') {
            Some((name, value)) if !options_end && OPTIONS.contains(&name) => {
                out.push(name.to_owned());
                out.push(value.to_owned());
            }
            _ => out.push(a),
        }
    }
    out
}

/// The arguments that are not options or their values: the command, STORE, FILE or SKU;
/// refuses what the command does not take.
fn positional(args: &[String]) -> Result<Parsed<'_>, Failure> {
    let mut out = Vec::new();
    let mut options = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--" {
            // What follows is an argument even if it starts with a dash (a SKU `-10-SCREW`).
            out.extend(args[i + 1..].iter().map(String::as_str));
            break;
        } else if OPTIONS.contains(&a) || FLAGS.contains(&a) {
            if options.contains(&a) {
                return Err(Failure::Usage(format!("{a} is given twice")));
            }
            // An option's value forgotten: the option after it is not taken for its value
            // (`--workstation --again` would name a workstation "--again" and apply a file
            // again).
            if OPTIONS.contains(&a) && args.get(i + 1).is_some_and(|v| v.starts_with("--")) {
                return Err(Failure::Usage(format!("{a} needs a value")));
            }
            options.push(a);
            i += if FLAGS.contains(&a) { 1 } else { 2 };
        } else if a.starts_with("--") {
            return Err(Failure::Usage(format!("unknown option {a}")));
        } else {
            out.push(a);
            i += 1;
        }
    }
    let Some(&command) = out.first() else {
        return Err(Failure::Usage("no command".into()));
    };
    let Some((_, wants, takes)) = COMMANDS.iter().find(|(name, ..)| *name == command) else {
        return Err(Failure::Usage(format!("unknown command {command:?}")));
    };
    if let Some(extra) = out.get(1 + wants.len()) {
        return Err(Failure::Usage(format!(
            "{command} takes {} only, not also {extra:?}",
            wants.join(" ")
        )));
    }
    if let Some(o) = options.iter().find(|o| !takes.contains(o)) {
        return Err(Failure::Usage(format!("{command} takes no {o}")));
    }
    Ok(Parsed { pos: out, options })
}

/// A command line as [`positional`] read it.
struct Parsed<'a> {
    /// The command, STORE, FILE or SKU.
    pos: Vec<&'a str>,
    /// The options given (not their values).
    options: Vec<&'a str>,
}

/// The value of `--name` in `args`, if given before `--` (after it, `--name` is an argument:
/// a SKU `--workstation`).
fn option<'a>(args: &'a [String], name: &str) -> Result<Option<&'a str>, Failure> {
    let options = &args[..args.iter().position(|a| a == "--").unwrap_or(args.len())];
    match options.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => args
            .get(i + 1)
            .map(|v| Some(v.as_str()))
            .ok_or_else(|| Failure::Usage(format!("{name} needs a value"))),
    }
}

/// The `i`-th positional argument, named `what` when it is missing.
fn nth<'a>(pos: &[&'a str], i: usize, what: &str) -> Result<&'a str, Failure> {
    pos.get(i)
        .copied()
        .ok_or_else(|| Failure::Usage(format!("{what} is missing")))
}

/// Opens STORE: the command's last step before it acts, once every other argument was
/// checked (opening upgrades an older file, which older builds then refuse).
fn open(args: &[String], pos: &[&str]) -> Result<Store, Failure> {
    let path = nth(pos, 1, "STORE")?;
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.len() == 0 => {
            // SQLite would make a new, empty store of it.
            return Err(Failure::Usage(format!(
                "{path:?} is empty, not a store (`invsync init` makes a new one)"
            )));
        }
        Ok(m) if m.is_file() => {}
        _ => return Err(Failure::Usage(format!("no store file at {path:?}"))),
    }
    let options = inventory_sync::OpenOptions {
        workstation: option(args, "--workstation")?.map(str::to_owned),
        ..Default::default()
    };
    // What opening refuses as invalid is what the command line gave it (a blank or garbled
    // `--workstation`, options in a store URI): bad usage, as for every other option.
    Store::open_with(path, options).map_err(|e| match e.kind() {
        inventory_sync::ErrorKind::InvalidArgument => Failure::Usage(e.message().to_owned()),
        _ => Failure::Lib(e),
    })
}

/// A whole-number option from 1 to `max`, or `default`.
fn number_option(args: &[String], name: &str, max: u64, default: u64) -> Result<u64, Failure> {
    match option(args, name)? {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| Failure::Usage(format!("{name} {v:?} is not 1 to {max}"))),
    }
}

fn run(args: &[String]) -> Result<(), Failure> {
    let Parsed { pos, options } = positional(args)?;
    match pos.first().copied() {
        Some("controller") => {
            let interval = number_option(args, "--interval-ms", 3_600_000, 1000)?;
            let store = open(args, &pos)?;
            store.hold_shared_lock_between_passes(Duration::from_millis(interval))?;
            say(
                &mut std::io::stdout(),
                &format!(
                    "controller started: {}, workstation {}, StackMode {}, {interval} ms between passes when nothing waits\n",
                    store.path().display(),
                    store.workstation(),
                    store
                        .param("StackMode")
                        .unwrap_or_else(|e| format!("unknown ({e})"))
                ),
            );
            // Said once at the start: a controller left running on such a store sends nothing
            // for good, and its silence read as "all in step".
            if let Some(why) = not_queued_why(&store) {
                say(
                    &mut std::io::stdout(),
                    &format!("{why}, so QOH changes are queued for no cart\n"),
                );
            }
            let mut log = ControllerLog::default();
            loop {
                // A pass leases for at most a second, so a slow cart's backlog never holds
                // up the other carts' new records for longer.
                let idle = match store.run_stack_within(None, Duration::from_secs(1)) {
                    Ok(report) => {
                        if log.wants(&report, std::time::Instant::now()) {
                            say(&mut std::io::stdout(), &report.to_string());
                        }
                        // The log's reader is the owner's only view of what was set aside.
                        if let Some(next) = set_aside_next_step(&report, nth(&pos, 1, "STORE")?) {
                            say(&mut std::io::stdout(), &next);
                        }
                        // A pass whose second ran out with records waiting goes on at once.
                        !(report.cut_short && report.remaining > 0)
                    }
                    // The shared controller stays up: the next pass tries again.
                    Err(e) => {
                        say(
                            &mut std::io::stderr(),
                            &format!("invsync: pass failed, trying again: {e}\n"),
                        );
                        true
                    }
                };
                if idle {
                    std::thread::sleep(Duration::from_millis(interval));
                }
            }
        }
        Some("run") => {
            let store = open(args, &pos)?;
            let report = store.run_stack(None)?;
            report_done(&report.to_string());
            if let Some(next) = set_aside_next_step(&report, nth(&pos, 1, "STORE")?) {
                warn(&format!("invsync: {next}"));
            }
            if report.remaining == 0 && report.sent == 0 {
                if let Some(why) = not_queued_why(&store) {
                    warn(&format!(
                        "invsync: {why}, so QOH changes are queued for no cart\n"
                    ));
                }
            }
            Ok(())
        }
        Some("import") => {
            // The file is read before STORE is opened: arguments given the wrong way round
            // (an empty CSV file first) must not make a store of the CSV file.
            let file = nth(&pos, 2, "FILE")?;
            let bytes = std::fs::read(file)
                .map_err(|e| Failure::Usage(format!("cannot read {file}: {e}")))?;
            if bytes.starts_with(b"SQLite format 3\0") {
                return Err(Failure::Usage(format!(
                    "{file} is a database, not a CSV file of changes: the store comes first"
                )));
            }
            let text = String::from_utf8(bytes).map_err(|e| {
                let bytes = e.as_bytes();
                let line = 1 + bytes[..e.utf8_error().valid_up_to()]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count();
                Failure::Lib(invalid(format!(
                    "{file} line {line}: not UTF-8 text (from Excel, save as \"CSV UTF-8\"); \
                     nothing was applied"
                )))
            })?;
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            let at = |n: usize, e: inventory_sync::Error| {
                Failure::Lib(inventory_sync::Error::new(
                    e.kind(),
                    format!("{file} line {n}: {}; nothing was applied", e.message()),
                ))
            };
            // The file's own checks come before STORE is opened (which upgrades an older
            // file), so a file refused for its text changes no store.
            let mut parsed = Vec::new();
            // Each host reference's line: the same one twice in a file would apply only the
            // first change (the second reads as seen before), so it is refused.
            let mut refs: HashMap<String, usize> = HashMap::new();
            for (n, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l)) {
                // A spreadsheet's empty row comes out as commas.
                if line.chars().all(|c| c == ',' || c.is_whitespace()) {
                    continue;
                }
                // A comment starts with `# ` (or is `#` alone). Any other line is a change,
                // a SKU such as `#10-SCREW` too: a line skipped as a comment leaves its stock
                // wrong without a word, a bad line refuses the file.
                if line == "#" || line.starts_with("# ") || line.starts_with("#\t") {
                    continue;
                }
                let l = parse_line(line).map_err(|e| {
                    // A spreadsheet's heading row (`sku,delta`) is the first line of many files
                    // saved from one: say so, not only that "delta" is not a number.
                    let heading = parsed.is_empty()
                        && fields(line).is_ok_and(|f| {
                            f.get(1).is_some_and(|d| {
                                d.chars().any(char::is_alphabetic)
                                    && !d.chars().any(|c| c.is_ascii_digit())
                            })
                        });
                    match heading {
                        true => at(
                            n,
                            invalid(format!(
                                "{} (a heading row? the file takes none: remove it)",
                                e.message()
                            )),
                        ),
                        false => at(n, e),
                    }
                })?;
                // Read trimmed, as the store reads a reference (`"ORD-1 "` is `ORD-1`).
                if let Some(r) = l.host_ref.as_deref().map(str::trim) {
                    if let Some(first) = refs.insert(r.to_owned(), n) {
                        return Err(at(
                            n,
                            invalid(format!(
                                "host_ref {r:?} is also on line {first}: each line needs its own \
                                 reference (the order and its line, say), or the second change \
                                 would be skipped as seen before"
                            )),
                        ));
                    }
                }
                parsed.push((n, l));
            }
            if parsed.is_empty() {
                // Not refused (a day's export with no sales is empty), but not a silent
                // success either: the wrong file picked, or one saved empty, looked done.
                warn(&format!(
                    "invsync: {file} holds no change (only blank lines or comments)\n"
                ));
            }
            // A line without a host reference is given one naming the file's changes and
            // the line among them, so the same file imported again (run twice by mistake,
            // yesterday's file taken for today's, or sorted in a spreadsheet and saved again)
            // is refused, not applied twice. `--again` says the same changes are new ones (a
            // receiving of 10 made again): its lines are numbered on from the last import of
            // the same changes, so a later run without it is refused too.
            let again = options.contains(&"--again");
            let line_digests: Vec<u64> = parsed.iter().map(|(_, l)| line_digest(l)).collect();
            let digest = changes_digest(&line_digests);
            // Until 2026-12-03 the reference named the file's changes in their order and the
            // line's place: a file imported then is looked for under that one too.
            let ordered = ordered_digest(parsed.iter().map(|(_, l)| l));
            let mut earlier = Vec::new();
            // How many lines of the file are each line's, and each line's number among them.
            let mut count: HashMap<u64, usize> = HashMap::new();
            let mut nth = Vec::with_capacity(parsed.len());
            for (k, ((_, l), &line)) in parsed.iter().zip(&line_digests).enumerate() {
                if l.host_ref.is_none() {
                    let n = count.entry(line).or_default();
                    nth.push((k, line, *n));
                    *n += 1;
                    earlier.push(
                        l.adjustment
                            .clone()
                            .host_ref(format!("invsync import {ordered:016x}/{k}")),
                    );
                }
            }
            let (nth, count) = (&nth, &count);
            let numbered = |round: usize| {
                nth.iter().map(move |&(k, line, n)| {
                    let n = n + round * count[&line];
                    (k, format!("invsync import {digest:016x}/{line:016x}/{n}"))
                })
            };
            let store = open(args, &pos)?;
            // The imports of these changes so far (each numbered its lines on from the last),
            // as the store has them now, `made(k)` being line k's change.
            let rounds = |made: &dyn Fn(usize) -> inventory_sync::Adjustment| {
                let mut round = 0;
                while let Some((k, reference)) = numbered(round).next() {
                    if !store.seen_before(&made(k).host_ref(reference))? {
                        break;
                    }
                    round += 1;
                }
                Ok::<usize, inventory_sync::Error>(round)
            };
            if !again {
                for adj in &earlier {
                    if store.seen_before(adj)? {
                        return Err(Failure::Lib(inventory_sync::Error::new(
                            inventory_sync::ErrorKind::Refused,
                            format!("{file}: {IMPORTED_BEFORE}"),
                        )));
                    }
                }
                for (k, reference) in numbered(0) {
                    let l = &mut parsed[k].1;
                    l.adjustment = l.adjustment.clone().host_ref(reference);
                }
            }
            // Each SKU's QOH as the lines before would leave it.
            let mut qoh: HashMap<String, i64> = HashMap::new();
            let mut lines = Vec::with_capacity(parsed.len());
            for (n, l) in parsed {
                check_line(&store, &l, &mut qoh).map_err(|e| at(n, e))?;
                lines.push((n, l.adjustment, l.sku));
            }
            // Each SKU's QOH after its last line applied.
            let mut after: std::collections::BTreeMap<String, i64> = Default::default();
            // One transaction: a file stopped part way (a store busy past its timeout, a
            // crash, a full disk) applies nothing, so it can be run again whole, lines without
            // a host reference too.
            let (mut applied, mut skipped) = (0usize, 0usize);
            let whole = store.begin().and_then(|()| {
                // Under --again the round is chosen under the transaction's write lock: two
                // imports of the same changes at once would otherwise both choose the same,
                // give their lines the same references, and the second apply nothing.
                if again {
                    for (k, reference) in numbered(rounds(&|k| lines[k].1.clone())?) {
                        lines[k].1 = lines[k].1.clone().host_ref(reference);
                    }
                }
                for (n, adj, sku) in &lines {
                    match store.adjust_qoh(adj) {
                        Ok(inventory_sync::AdjustOutcome::Duplicate) => skipped += 1,
                        Ok(inventory_sync::AdjustOutcome::Applied { qoh, .. }) => {
                            applied += 1;
                            after.insert(sku.clone(), qoh);
                        }
                        Err(e) => {
                            return Err(inventory_sync::Error::new(
                                e.kind(),
                                format!("line {n}: {}", e.message()),
                            ))
                        }
                    }
                }
                store.commit()
            });
            if let Err(e) = whole {
                if store.in_host_transaction() {
                    // (Nothing of it was kept whether this succeeds or not.)
                    let _ = store.rollback();
                }
                return Err(Failure::Lib(inventory_sync::Error::new(
                    e.kind(),
                    format!("{file}: {}; nothing was applied", e.message()),
                )));
            }
            report_done(&format!(
                "{} applied, {} seen before\n",
                counted(applied, "change"),
                counted(skipped, "change")
            ));
            // Taken, as an order manager takes a sale of stock it has not counted in; but not
            // without a word: the owner counts the shelf.
            let below: Vec<String> = after
                .iter()
                .filter(|(_, qoh)| **qoh < 0)
                .map(|(sku, qoh)| format!("{} at {qoh}", printable(sku)))
                .collect();
            if !below.is_empty() {
                warn(&format!(
                    "invsync: below 0 after this import: {} (more went out than the store \
                     had: count the shelf and adjust it; carts are shown 0, never less)\n",
                    below.join(", ")
                ));
            }
            if applied > 0 {
                if let Some(why) = not_queued_why(&store) {
                    warn(&format!(
                        "invsync: {why}, so these changes were queued for no cart: the carts \
                         still show their counts from before (a Send QOH from the order \
                         manager sets them)\n"
                    ));
                }
            }
            Ok(())
        }
        Some("stack") => {
            // One under the library's largest list, so that one more can tell whether there are more.
            let limit = number_option(args, "--limit", 999_999, 1000)?;
            let state = match option(args, "--state")? {
                None => None,
                Some(s @ ("pending" | "bypassed" | "uncertain")) => Some(s),
                Some(s) => {
                    return Err(Failure::Usage(format!(
                        "--state {s:?} is not pending, bypassed or uncertain"
                    )))
                }
            };
            let cart_asked = option(args, "--cart")?;
            let store = open(args, &pos)?;
            let carts = store.carts()?;
            let cart = match cart_asked {
                None => None,
                Some(asked) => Some(find_cart(&carts, asked)?),
            };
            // One more than asked for tells whether there are more.
            let mut filter = serde_json::json!({"limit": limit + 1});
            if let Some(c) = cart {
                filter["cart_id"] = c.id.into();
            }
            if let Some(s) = state {
                filter["state"] = s.into();
            }
            let mut records: Vec<serde_json::Value> =
                serde_json::from_str(&store.stack_list_json(Some(&filter.to_string()))?)
                    .expect("the library lists records as a JSON array");
            let more = records.len() as u64 > limit;
            records.truncate(limit as usize);
            let text = if options.contains(&"--json") {
                let json = serde_json::to_string(&records).expect("JSON values serialise");
                format!("{json}\n")
            } else {
                let names: HashMap<i64, String> =
                    carts.iter().map(|c| (c.id, c.name.clone())).collect();
                let mut text = match (records.is_empty(), state, cart) {
                    // Not "the web stack is empty": records of other states or carts may wait.
                    (true, Some(_), _) | (true, _, Some(_)) => format!(
                        "no {}records{}\n",
                        state.map(|s| format!("{s} ")).unwrap_or_default(),
                        cart.map(|c| format!(" of {}", printable(&c.name)))
                            .unwrap_or_default()
                    ),
                    _ => stack_table(&records, &names),
                };
                // What the list leaves out, counted: a record bypassed behind a day's backlog
                // (past --limit), or in a state not asked for, was nowhere on the screen.
                if more || state.is_some() {
                    text.push_str(&stack_totals(&store, cart)?);
                }
                text
            };
            emit(&text).map_err(output_failed)?;
            if records.is_empty() && cart.is_none() && state.is_none() {
                if let Some(why) = not_queued_why(&store) {
                    warn(&format!(
                        "invsync: {why}, so QOH changes are queued for no cart\n"
                    ));
                }
            }
            // A paused cart's records were listed as if the next pass sent them, and nothing
            // said why none went: each paused cart is told, on stderr (stdout stays the table
            // or JSON scripts read).
            match pause_notes(&store, &carts, cart) {
                Ok(notes) => notes.iter().for_each(|n| warn(n)),
                Err(e) => warn(&format!(
                    "invsync: cannot tell whether a cart is paused: {e}\n"
                )),
            }
            if more {
                warn(&format!(
                    "invsync: the oldest {limit} record{} listed; there are more \
                     (--limit N lists up to 999999)\n",
                    if limit == 1 { " is" } else { "s are" }
                ));
            }
            Ok(())
        }
        Some(action @ ("retry" | "discard")) => {
            let given = nth(&pos, 2, "RECORD")?;
            let record = given
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    Failure::Usage(format!(
                        "RECORD {given:?} is not a record's number (the first column of `invsync stack`)"
                    ))
                })?;
            let store = open(args, &pos)?;
            let path = nth(&pos, 1, "STORE")?;
            // The library's "does not exist" and "is not bypassed or uncertain" left the
            // owner with a number from an old screen and no way on.
            let explained = |e: inventory_sync::Error| {
                let message = match e.kind() {
                    inventory_sync::ErrorKind::NotFound => format!(
                        "no record {record} is on the web stack: it was sent, discarded or \
                         never made (`invsync stack {path}` lists what is there)"
                    ),
                    inventory_sync::ErrorKind::Refused => {
                        format!("{} (`invsync stack {path}` shows its state)", e.message())
                    }
                    _ => return Failure::Lib(e),
                };
                Failure::Lib(inventory_sync::Error::new(e.kind(), message))
            };
            // The records that go with it (its send group) are named: "and the records sent
            // with it" left the owner to find which.
            let before = set_aside(&store)?;
            let done = if action == "retry" {
                if !options.contains(&"--checked") {
                    refuse_unchecked_retry(&store, record, path)?;
                }
                store.stack_retry(record).map_err(explained)?;
                format!(
                    "will be sent again at the next pass, from attempt 0 (the controller's, or \
                     `invsync run {path}` now)"
                )
            } else {
                store.stack_discard(record).map_err(explained)?;
                "discarded: the cart was not told (check its count; a Send QOH from the order \
                 manager sets it)"
                    .to_owned()
            };
            let after = set_aside(&store)?;
            let with_it: Vec<&str> = before
                .iter()
                .filter(|(id, _)| **id != record && !after.contains_key(id))
                .map(|(_, said)| said.as_str())
                .collect();
            let which = match with_it.as_slice() {
                [] => format!("record {record}"),
                [one] => format!("record {record}, and {one} sent with it,"),
                more => format!("record {record}, and {} sent with it,", more.join(", ")),
            };
            report_done(&format!("{which} {done}\n"));
            Ok(())
        }
        Some("qoh") => {
            let sku = nth(&pos, 2, "SKU")?;
            // What the SKU itself may be (not empty, not too long, no control character) is
            // checked before STORE is opened, which upgrades an older file.
            // A SKU no store could hold is the argument's fault: bad usage (2), as any other
            // bad argument, where an unknown one is the store's answer (1).
            Adjustment::new(sku, Delta::new(1)?, Reason::Other)
                .check()
                .map_err(|e| Failure::Usage(format!("SKU {sku:?}: {}", e.message())))?;
            let store = open(args, &pos)?;
            let item = store.item(sku)?;
            let qoh = if item.has_variants {
                // A product holds no stock of its own: its variants do.
                let filter = serde_json::json!({"parent_sku": item.sku, "limit": 1_000_000});
                let variants: Vec<serde_json::Value> =
                    serde_json::from_str(&store.items_json(Some(&filter.to_string()))?)
                        .expect("the library lists items as a JSON array");
                let total: i64 = variants.iter().filter_map(|v| v["qoh"].as_i64()).sum();
                let whose = match variants.len() {
                    1 => "its variant's QOH".to_owned(),
                    n => format!("the sum of its {n} variants' QOH"),
                };
                warn(&format!(
                    "invsync: {} has variants: {total} is {whose} (a cart tracking stock per \
                     SKU shows the sum of what each publishes: none below 0, less its buffer, \
                     within its cap)\n",
                    item.sku
                ));
                total
            } else {
                item.qoh
            };
            emit(&format!("{qoh}\n")).map_err(output_failed)?;
            Ok(())
        }
        Some("init") => {
            let path = nth(&pos, 1, "STORE")?;
            // A URI would name a file other than the one checked here.
            if path.starts_with("file:") {
                return Err(Failure::Usage(format!(
                    "{path:?}: init takes a file path, not a URI"
                )));
            }
            // Made here, atomically, so a file that exists (or appears meanwhile) is never
            // opened, let alone migrated: SQLite makes a store of the empty file.
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(Failure::Usage(format!(
                        "{path:?} exists already: init makes a new store only"
                    )))
                }
                Err(e) => return Err(Failure::Usage(format!("cannot create {path:?}: {e}"))),
            }
            match Store::open(path) {
                Ok(store) => {
                    report_done(&format!("new store: {}\n", store.path().display()));
                    Ok(())
                }
                Err(e) => {
                    let _ = std::fs::remove_file(path);
                    Err(e.into())
                }
            }
        }
        Some(other) => Err(Failure::Usage(format!("unknown command {other:?}"))),
        None => Err(Failure::Usage("no command".into())),
    }
}

/// How soon a cart's error is reported again once its wording changed (a rate limit's answer
/// naming its request, say), and how often while it stays the same (a cart paused for bad
/// credentials counts no attempt, so nothing else would say it is still down).
const ERROR_REPEAT: Duration = Duration::from_secs(15 * 60);
const ERROR_REMIND: Duration = Duration::from_secs(60 * 60);

/// What the controller's log was last told, so that a report is written when something was
/// sent, retried, bypassed or given up on, when a cart's error comes or goes, when the
/// controller starts or stops standing by for another, when an error's wording has changed
/// ([`ERROR_REPEAT`] after the last report of it at most), and every [`ERROR_REMIND`] while a
/// cart stays down: a cart down is no silence, and a cart answering every attempt a little
/// differently is no flood.
#[derive(Default)]
struct ControllerLog {
    /// Each cart's error as the log last showed it (`None`: none), and when.
    errors: HashMap<inventory_sync::CartId, (Option<String>, std::time::Instant)>,
    standby: Option<bool>,
}

impl ControllerLog {
    fn wants(&mut self, report: &inventory_sync::RunReport, now: std::time::Instant) -> bool {
        let mut wants = report.sent + report.retried + report.bypassed + report.uncertain > 0;
        // Standing by from the first pass, or starting or stopping to later.
        let before = self.standby.replace(report.standby);
        if before != Some(report.standby) && (report.standby || before.is_some()) {
            wants = true;
        }
        for c in &report.carts {
            let shown = self.errors.get(&c.cart_id);
            let tell = match (shown, &c.error) {
                (None, error) => error.is_some(),
                (Some((shown, _)), error) if shown.is_some() != error.is_some() => true,
                (Some((_, _)), None) => false,
                (Some((shown, at)), Some(_)) => {
                    let since = now.duration_since(*at);
                    since >= ERROR_REMIND || (shown != &c.error && since >= ERROR_REPEAT)
                }
            };
            if tell || shown.is_none() {
                self.errors.insert(c.cart_id, (c.error.clone(), now));
            }
            wants |= tell;
        }
        wants
    }
}

/// Why QOH changes reach no cart's queue, if they do not: `SynchQOH` off (a new store's
/// default), or no cart with its Synchronize Inventory box on. An owner who imported a file,
/// made a pass or looked at an empty stack was told nothing, and took the carts to be in step.
/// `None` also when the store cannot say: a hint must not fail a command that made its change.
fn not_queued_why(store: &Store) -> Option<&'static str> {
    if store.param("SynchQOH").ok()? != "true" {
        return Some("SynchQOH is off");
    }
    if !store.carts().ok()?.iter().any(|c| c.sync_on) {
        return Some("no cart has Synchronize Inventory on");
    }
    None
}

/// Each cart (`only`, or every cart) that sends nothing now, as the owner reads it: that it is
/// paused, until when (UTC, and how long from now), why (the cause the controller stored, on
/// one line, no secret in it) and what to do. A manual run's hold and the cart's own wait (its
/// credentials refused, an outage's back-off, a wait it asked for) may both hold: each is told.
/// Read through the stack's own public view of a cart's state ([`WebStack::cart_state`],
/// [`WebStack::held_until`]), as the controller reads it.
///
/// [`WebStack::cart_state`]: inventory_sync::stack::WebStack::cart_state
/// [`WebStack::held_until`]: inventory_sync::stack::WebStack::held_until
fn pause_notes(
    store: &Store,
    carts: &[inventory_sync::Cart],
    only: Option<&inventory_sync::Cart>,
) -> inventory_sync::Result<Vec<String>> {
    use inventory_sync::stack::{SqliteStack, WebStack};
    let stack = SqliteStack::open(store.path(), &inventory_sync::OpenOptions::default())?;
    let now = now_ms();
    let mut notes = Vec::new();
    for cart in carts.iter().filter(|c| only.is_none_or(|o| o.id == c.id)) {
        let held = stack.held_until(cart.id)?;
        let state = stack.cart_state(cart.id)?;
        if held <= now && state.backoff_until <= now {
            continue;
        }
        let waiting = store.stack_count(cart.id, inventory_sync::StackState::Waiting)?;
        let records = match waiting {
            0 => "nothing waits for it now; a change made meanwhile waits too".to_owned(),
            1 => "1 record waiting for it is not sent before then".to_owned(),
            n => format!("{n} records waiting for it are not sent before then"),
        };
        let head = |until: i64| {
            format!(
                "invsync: cart \"{}\" is paused until {} (UTC, {} from now): {records}",
                printable(&cart.name),
                utc(until),
                how_long(until - now)
            )
        };
        if held > now {
            notes.push(format!(
                "{}. Why: a manual Send or Get QOH holds it. What to do: wait for it to end; a \
                 hold left by one stopped part way ends by itself then\n",
                head(held)
            ));
        }
        if state.backoff_until > now {
            let cause = state.cart_error.as_deref().map_or_else(
                || "no cause was stored".to_owned(),
                |e| without_secrets(cart, e),
            );
            let (why, what) = if state.credentials_paused_until > now {
                (
                    "the cart refused its credentials or settings",
                    "mend what the cause names. Mended on the cart (new credentials, url or \
                     location saved on it in the order manager), it resumes at once; mended at \
                     the shop or in the environment (an `env:` variable), a Send or Get QOH the \
                     cart answers resumes it. Left as it is, the cart is asked again then, and \
                     paused again while it refuses",
                )
            } else if state.rate_limited_until > now {
                (
                    "the cart asked to wait",
                    "nothing: sending resumes by itself then",
                )
            } else if state.outage_step > 0 {
                (
                    "the cart did not answer",
                    "nothing if the cart's site is up by then: sending resumes by itself, and \
                     waits longer each time the cart still fails; check the site, and the \
                     cart's url, if it stays down",
                )
            } else {
                ("the cart failed", "nothing: sending resumes by itself then")
            };
            notes.push(format!(
                "{}. Why: {why}: {cause}. What to do: {what}\n",
                head(state.backoff_until)
            ));
        }
    }
    Ok(notes)
}

/// `text` (a cart's stored error) on one line, printable, and with any of the cart's
/// credentials the command can read written `***`: the adapters scrub them from what they
/// store, and a note on the owner's screen must not be where one slips through.
fn without_secrets(cart: &inventory_sync::Cart, text: &str) -> String {
    let mut text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    // The listing names each credential the cart holds (`token_set`), a custom adapter's too.
    let info = cart.info();
    let keys = info["settings"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, set)| set.as_bool() == Some(true))
        .filter_map(|(k, _)| k.strip_suffix("_set"))
        .filter(|k| inventory_sync::carts::is_secret_key(k));
    for key in keys {
        if let Ok(Some(secret)) = cart.secret(key) {
            if secret.expose().len() >= 4 {
                text = text.replace(secret.expose(), "***");
            }
        }
    }
    printable(&text)
}

/// A wait of `ms` as an owner reads it: `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
fn how_long(ms: i64) -> String {
    let s = ms.max(0).saturating_add(999) / 1000;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", (s + 59) / 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

/// After a pass that bypassed records or left them uncertain, the owner's next step (for
/// `run` on stderr, for the controller in its log): the report said "1 bypassed" and nothing
/// of where to look or what to do.
fn set_aside_next_step(report: &inventory_sync::RunReport, path: &str) -> Option<String> {
    let mut states = Vec::new();
    if report.bypassed > 0 {
        states.push("bypassed");
    }
    if report.uncertain > 0 {
        states.push("uncertain");
    }
    if states.is_empty() {
        return None;
    }
    let list: Vec<String> = states
        .iter()
        .map(|s| format!("`invsync stack {path} --state {s}`"))
        .collect();
    Some(format!(
        "records were set aside and will not be sent by themselves: {} lists them with the \
         cart's answer; once the cause is mended, `invsync retry {path} RECORD` sends one \
         again, or `invsync discard {path} RECORD` drops it (the cart not told)\n",
        list.join(" and ")
    ))
}

/// Writes `text` with the time (UTC) before it: written, not printed, as `print!` panics when
/// its reader has gone (a log shipper restarted, a full disk), and the controller must outlive
/// its log.
fn say(out: &mut dyn Write, text: &str) {
    let _ = write!(out, "[{}] {text}", utc_now());
    let _ = out.flush();
}

/// The time now as `YYYY-MM-DD HH:MM:SSZ`.
fn utc_now() -> String {
    utc(now_ms())
}

/// Now, in Unix milliseconds.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `n` and `noun`, plural unless `n` is 1 ("1 record", "3 records").
fn counted(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// A time in Unix milliseconds as `2026-12-04 03:20:01Z`.
fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// `text` as a terminal may show it: a control character, a line or paragraph separator or a
/// bidirectional mark (a cart's answer, an older build's name, a SKU may hold any) written as
/// `\u{…}`, so that none moves the cursor, breaks or clears a line or reorders what follows.
fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let hidden = c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        match hidden {
            true => out.extend(c.escape_unicode()),
            false => out.push(c),
        }
    }
    out
}

/// The terminal columns `text` takes: two for a wide character (CJK, Hangul, kana,
/// fullwidth forms, most emoji), none for a combining mark or zero-width one, else one; so
/// that a SKU in Chinese does not push the columns after it out of line.
fn columns(text: &str) -> usize {
    text.chars()
        .map(|c| match u32::from(c) {
            0x0300..=0x036F | 0x200B..=0x200D | 0xFE00..=0xFE0F => 0,
            0x1100..=0x115F
            | 0x2E80..=0x303E
            | 0x3041..=0x33FF
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xA000..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6
            | 0x1F300..=0x1F64F
            | 0x1F900..=0x1F9FF
            | 0x20000..=0x3FFFD => 2,
            _ => 1,
        })
        .sum()
}

/// The records set aside (bypassed or uncertain), by number, each as `record N (SKU +D)`.
fn set_aside(store: &Store) -> Result<std::collections::BTreeMap<i64, String>, Failure> {
    let mut set_aside = std::collections::BTreeMap::new();
    for state in ["bypassed", "uncertain"] {
        let filter = serde_json::json!({"state": state, "limit": 1_000_000});
        let records: Vec<serde_json::Value> =
            serde_json::from_str(&store.stack_list_json(Some(&filter.to_string()))?)
                .expect("the library lists records as a JSON array");
        for r in records {
            set_aside.insert(
                r["id"].as_i64().unwrap_or_default(),
                format!(
                    "record {} ({} {:+})",
                    r["id"],
                    printable(r["sku"].as_str().unwrap_or_default()),
                    r["delta"].as_i64().unwrap_or_default()
                ),
            );
        }
    }
    Ok(set_aside)
}

/// The stack's records as a table an operator reads: one line each, oldest first, under a
/// heading, the cart by its name, times in UTC, the change signed, the cart's last answer in
/// full (on one line) at the end; then how many records in each state. A record on its way to
/// the cart shows `leased`; `next try` is blank for one due now.
fn stack_table(records: &[serde_json::Value], carts: &HashMap<i64, String>) -> String {
    if records.is_empty() {
        return "the web stack is empty\n".into();
    }
    let now = now_ms();
    let text = |r: &serde_json::Value, k: &str| r[k].as_str().unwrap_or_default().to_owned();
    let number = |r: &serde_json::Value, k: &str| r[k].as_i64().unwrap_or_default();
    let heading = [
        "record",
        "cart",
        "sku",
        "change",
        "reason",
        "state",
        "tries",
        "queued",
        "next try",
        "last response",
    ];
    let mut rows: Vec<[String; 10]> = vec![heading.map(str::to_owned)];
    let mut states: Vec<(String, usize)> = ["pending", "leased", "bypassed", "uncertain"]
        .map(|s| (s.to_owned(), 0))
        .into();
    for r in records {
        let cart = number(r, "cart_id");
        let state = text(r, "state");
        match states.iter_mut().find(|(s, _)| *s == state) {
            Some((_, n)) => *n += 1,
            None => states.push((state.clone(), 1)),
        }
        let next = number(r, "next_attempt_at");
        rows.push([
            number(r, "id").to_string(),
            printable(
                &carts
                    .get(&cart)
                    .cloned()
                    .unwrap_or_else(|| format!("cart {cart}")),
            ),
            printable(&text(r, "sku")),
            format!("{:+}", number(r, "delta")),
            text(r, "reason_name"),
            state,
            number(r, "attempts").to_string(),
            utc(number(r, "created_at")),
            if next > now { utc(next) } else { String::new() },
            // A cart's answer may hold line breaks and tabs: the record stays one line.
            printable(
                &text(r, "last_response")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        ]);
    }
    let mut widths = [0; 10];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(columns(cell));
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            // Numbers to the right, as a reader compares them.
            let pad = " ".repeat(w - columns(cell));
            if matches!(i, 0 | 3 | 6) {
                line.push_str(&pad);
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&pad);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let each: Vec<String> = states
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    out.push_str(&format!(
        "{}: {}\n",
        counted(records.len(), "record"),
        each.join(", ")
    ));
    out
}

/// Refuses the retry of an uncertain record: the cart may have its change already (the
/// answer to its send was lost), and sent again it would be applied twice, as a retry from
/// the command line did without a word. `--checked` says the operator looked and the cart
/// has not got it.
fn refuse_unchecked_retry(store: &Store, record: i64, path: &str) -> Result<(), Failure> {
    let filter = r#"{"state":"uncertain","limit":1000000}"#;
    let uncertain: Vec<serde_json::Value> =
        serde_json::from_str(&store.stack_list_json(Some(filter))?)
            .expect("the library lists records as a JSON array");
    let Some(r) = uncertain.iter().find(|r| r["id"].as_i64() == Some(record)) else {
        return Ok(());
    };
    let sku = printable(r["sku"].as_str().unwrap_or_default());
    Err(Failure::Lib(inventory_sync::Error::new(
        inventory_sync::ErrorKind::Refused,
        format!(
            "record {record} is uncertain: the cart may have its change ({sku} {:+}) already, as \
             the answer to its send was lost, and sent again it would be applied twice. Check \
             the cart's count of {sku}: if the change is in it, `invsync discard {path} {record}`; \
             if not, `invsync retry {path} {record} --checked`",
            r["delta"].as_i64().unwrap_or_default()
        ),
    )))
}

/// The cart `asked` names: by its name, or in other case the only one so named, else by its
/// id.
fn find_cart<'a>(
    carts: &'a [inventory_sync::Cart],
    asked: &str,
) -> Result<&'a inventory_sync::Cart, Failure> {
    let folded = |c: &&inventory_sync::Cart| c.name.to_lowercase() == asked.to_lowercase();
    carts
        .iter()
        .find(|c| c.name == asked)
        .or_else(|| match carts.iter().filter(folded).count() {
            1 => carts.iter().find(folded),
            _ => None,
        })
        .or_else(|| {
            let id = asked.trim().parse::<i64>().ok()?;
            carts.iter().find(|c| c.id == id)
        })
        .ok_or_else(|| {
            let names: Vec<String> = carts.iter().map(|c| format!("{:?}", c.name)).collect();
            // The store's answer, as an unknown SKU is (exit 1), not bad usage.
            Failure::Lib(inventory_sync::Error::new(
                inventory_sync::ErrorKind::NotFound,
                format!(
                    "--cart {asked:?} names no cart of this store (its carts: {})",
                    if names.is_empty() {
                        "none".into()
                    } else {
                        names.join(", ")
                    }
                ),
            ))
        })
}

/// The stack's records in each state (of `cart`, or of every cart), as a line after a list
/// that shows only some of them.
fn stack_totals(store: &Store, cart: Option<&inventory_sync::Cart>) -> Result<String, Failure> {
    use inventory_sync::StackState::{Bypassed, Uncertain, Waiting};
    let mut each = Vec::new();
    let mut all = 0;
    for (state, name) in [
        // As the table and `--state` name them.
        (Waiting, "pending"),
        (Bypassed, "bypassed"),
        (Uncertain, "uncertain"),
    ] {
        let n = store.stack_count(cart.map_or(0, |c| c.id), state)?;
        all += n;
        each.push(format!("{n} {name}"));
    }
    let whose = match cart {
        Some(c) => format!("{}'s records", printable(&c.name)),
        None => "the whole stack".into(),
    };
    Ok(format!(
        "in {whose}: {}: {}\n",
        counted(all as usize, "record"),
        each.join(", ")
    ))
}

/// One line of an import file.
struct Line {
    sku: String,
    delta: i64,
    origin: Option<i64>,
    reason: i64,
    /// The line's own host reference (its adjustment may carry its file's instead).
    host_ref: Option<String>,
    adjustment: Adjustment,
}

/// The 32-bit range of a QOH and a change of it, as the library's errors give it.
const RANGE: &str = "-2,147,483,648 to 2,147,483,647";

/// Why an import file is refused when its changes were imported before.
const IMPORTED_BEFORE: &str = "these changes were imported before (this file, or one with the \
     same lines, in any order): if they are new changes, run the import again with --again; a \
     host_ref on each line (the order and its line) lets a file run again skip what it applied";

/// FNV-1a, 64 bits, over `hash` and `bytes`: stable across builds, as the store keeps what
/// it digests for years, and a file is only ever compared to the files imported into one
/// store.
fn fnv(mut hash: u64, bytes: impl IntoIterator<Item = u8>) -> u64 {
    for b in bytes {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// One line's change, from `hash`: each field goes in with its length, so no text in one (a
/// host reference may hold any character) reads as the next.
fn line_fields(hash: u64, l: &Line, trimmed: bool) -> u64 {
    let (delta, reason, origin) = (
        l.delta.to_string(),
        l.reason.to_string(),
        l.origin.unwrap_or(0).to_string(),
    );
    let host_ref = l.host_ref.as_deref().unwrap_or("");
    // Trimmed as the store reads it, so a file saved again with other padding in a quoted
    // reference is the same changes (builds before 2026-12-03's ordered digest never saw one:
    // their files are looked for under `ordered_digest`, untrimmed).
    let host_ref = if trimmed { host_ref.trim() } else { host_ref };
    [l.sku.trim(), &delta, &reason, host_ref, &origin]
        .iter()
        .fold(hash, |h, field| {
            fnv(h, format!("{}:{field}", field.len()).into_bytes())
        })
}

/// A digest of one line's change.
fn line_digest(l: &Line) -> u64 {
    line_fields(FNV_START, l, true)
}

/// A digest of an import file's changes, not of its bytes nor of their order: the same lines
/// saved again with other line ends, quotes, padding or comments, or sorted, are the same
/// changes.
/// `lines` holds each line's [`line_digest`].
fn changes_digest(lines: &[u64]) -> u64 {
    let mut digests = lines.to_vec();
    digests.sort_unstable();
    digests
        .iter()
        .fold(FNV_START, |h, d| fnv(h, d.to_le_bytes()))
}

/// The digest builds before 2026-12-03 gave a file: its changes in their order.
fn ordered_digest<'a>(lines: impl Iterator<Item = &'a Line>) -> u64 {
    lines.fold(FNV_START, |h, l| line_fields(h, l, false))
}

fn invalid(message: impl Into<String>) -> inventory_sync::Error {
    inventory_sync::Error::new(inventory_sync::ErrorKind::InvalidArgument, message)
}

/// A CSV line's fields, trimmed; a field in double quotes may hold commas, and `""` inside it
/// stands for one quote.
fn fields(line: &str) -> inventory_sync::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        let mut field = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    Some('"') if chars.next_if_eq(&'"').is_some() => field.push('"'),
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err(invalid("a quoted field is not closed")),
                }
            }
            while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
            if !matches!(chars.peek(), None | Some(',')) {
                return Err(invalid("text after a quoted field"));
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',') {
                field.push(c);
            }
            field = field.trim().to_owned();
        }
        out.push(field);
        if chars.next().is_none() {
            return Ok(out);
        }
    }
}

/// A line's reason: its number or its name, as `invsync stack` prints them (`2` or
/// `pos_sale`). Until 2026-12-04 only the number was taken, and a refused line said neither
/// what the numbers mean nor that the names it is shown are not taken.
fn reason_of(field: &str) -> inventory_sync::Result<Reason> {
    let all = (1..=6).filter_map(|n| Reason::from_code(n).ok());
    let given = field.trim();
    let found = match given.parse::<i64>() {
        Ok(n) => Reason::from_code(n).ok(),
        Err(_) => all.clone().find(|r| r.name().eq_ignore_ascii_case(given)),
    };
    found.ok_or_else(|| {
        let known: Vec<String> = all.map(|r| format!("{} {}", r.code(), r.name())).collect();
        invalid(format!(
            "unknown reason {given:?}: give its number or its name ({})",
            known.join(", ")
        ))
    })
}

/// `sku,delta[,reason[,host_ref[,origin_cart_id]]]`
fn parse_line(line: &str) -> inventory_sync::Result<Line> {
    let f = fields(line)?;
    let num = |i: usize, what: &str| -> inventory_sync::Result<i64> {
        f[i].parse().map_err(|_| {
            // Digits past what any field takes: out of range, not "not a number".
            let digits = f[i].strip_prefix(['-', '+']).unwrap_or(&f[i]);
            let why = match !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                true if what == "delta" => format!("is out of range ({RANGE})"),
                true => "is out of range".to_owned(),
                false => "is not a number".to_owned(),
            };
            invalid(format!("{what} {:?} {why}", f[i]))
        })
    };
    if f.len() < 2 || f.len() > 5 {
        // A spreadsheet in a language whose decimal mark is a comma saves "CSV" with
        // semicolons; the bare "expected sku,delta" did not say the separator was the fault.
        let separator = match f.len() {
            1 if line.contains(';') => {
                " (this line is separated by semicolons: save the file as \"CSV UTF-8 (comma \
                 delimited)\")"
            }
            1 if line.contains('\t') => {
                " (this line is separated by tabs: save the file as \"CSV UTF-8 (comma \
                 delimited)\")"
            }
            _ => "",
        };
        return Err(invalid(format!(
            "expected sku,delta[,reason[,host_ref[,origin_cart_id]]]{separator}"
        )));
    }
    let reason = if f.len() > 2 && !f[2].is_empty() {
        reason_of(&f[2])?
    } else {
        Reason::Adjustment
    };
    let delta = num(1, "delta")?;
    let mut adjustment = Adjustment::new(f[0].as_str(), Delta::new(delta)?, reason);
    let host_ref = f.get(3).filter(|r| !r.is_empty()).cloned();
    if let Some(r) = &host_ref {
        adjustment = adjustment.host_ref(r.as_str());
    }
    // 0 is "none", as in the C ABI.
    let origin = match f.get(4).filter(|o| !o.is_empty()) {
        Some(_) => Some(num(4, "origin cart")?).filter(|o| *o != 0),
        None => None,
    };
    if let Some(o) = origin {
        adjustment = adjustment.origin_cart(o);
    }
    adjustment.check()?;
    Ok(Line {
        sku: f[0].clone(),
        delta,
        origin,
        reason: reason.code(),
        host_ref,
        adjustment,
    })
}

/// What the store would refuse of a line, found before anything is applied.
/// `qoh` holds each SKU's QOH as the lines before leave it: a line taking it out of the
/// 32-bit range the store keeps is refused here, before anything is applied.
fn check_line(
    store: &Store,
    line: &Line,
    qoh: &mut HashMap<String, i64>,
) -> inventory_sync::Result<()> {
    // (Refused where its reference names another change.) A line seen before is skipped
    // whatever became of its item or cart since (deleted, given variants), as
    // `adjust_qoh` skips it: checked first, so a file run again is not refused for it.
    if store.seen_before(&line.adjustment)? {
        // A reference the file gave the line: the same changes were imported before.
        if line.host_ref.is_none() {
            return Err(inventory_sync::Error::new(
                inventory_sync::ErrorKind::Refused,
                IMPORTED_BEFORE,
            ));
        }
        return Ok(());
    }
    let item = store.item(&line.sku)?;
    if item.has_variants {
        return Err(inventory_sync::Error::new(
            inventory_sync::ErrorKind::Refused,
            format!(
                "item {:?} has variants, which hold its stock: change a variant",
                line.sku
            ),
        ));
    }
    if let Some(o) = line.origin {
        store.cart(o)?;
    }
    let now = qoh.entry(item.sku.clone()).or_insert(item.qoh);
    let after = *now + line.delta;
    if !(i64::from(i32::MIN)..=i64::from(i32::MAX)).contains(&after) {
        return Err(invalid(format!(
            "item {:?}: QOH {now} {:+} leaves the 32-bit range ({RANGE})",
            item.sku, line.delta
        )));
    }
    *now = after;
    Ok(())
}

#[cfg(test)]
mod controller_log {
    use super::*;
    use inventory_sync::{CartReport, RunReport};
    use std::time::Instant;

    fn pass(error: Option<&str>) -> RunReport {
        RunReport {
            carts: vec![CartReport {
                cart_id: 1,
                name: "Shop".into(),
                remaining: 5,
                error: error.map(str::to_owned),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    /// A cart goes from unreachable to paused for bad credentials a minute later, and stays
    /// paused: the new cause reaches the log once the 15 minutes after the last report are
    /// up, not never (the log would say "connection refused" for as long as it is paused).
    #[test]
    fn an_error_whose_wording_changed_inside_the_window_is_shown_once_the_window_ends() {
        let mut log = ControllerLog::default();
        let t0 = Instant::now();
        let m = |s: u64| Duration::from_secs(60 * s);
        assert!(log.wants(&pass(Some("connection refused")), t0));
        assert!(!log.wants(&pass(Some("401 Unauthorized; cart paused")), t0 + m(1)));
        let shown_later = (2..=24 * 60)
            .any(|min| log.wants(&pass(Some("401 Unauthorized; cart paused")), t0 + m(min)));
        assert!(
            shown_later,
            "the 401 never reaches the log in a day of passes"
        );
    }

    /// A cart paused for bad credentials (401: no attempt is counted, so no report says
    /// "to retry") is reported again while it stays paused, not once and then never while
    /// its records pile up for days.
    #[test]
    fn a_standing_error_is_reported_again_after_a_while() {
        let mut log = ControllerLog::default();
        let t0 = Instant::now();
        let paused = pass(Some("401 Unauthorized; cart paused"));
        assert!(log.wants(&paused, t0));
        let again =
            (1..=3 * 24 * 60).any(|min| log.wants(&paused, t0 + Duration::from_secs(60 * min)));
        assert!(again, "three days of silence about a paused cart");
    }
    /// A cart answering every attempt differently (a request id in each 429), once a second
    /// for an hour, is reported a handful of times, not on every pass; its recovery at once.
    #[test]
    fn an_error_worded_differently_each_pass_does_not_flood_and_its_end_is_told() {
        let mut log = ControllerLog::default();
        let t0 = Instant::now();
        let told = (0..3600u64)
            .filter(|s| {
                let error = format!("rate limited: request r-{s}");
                log.wants(&pass(Some(&error)), t0 + Duration::from_secs(*s))
            })
            .count();
        assert!((1..=5).contains(&told), "{told} reports in an hour");
        assert!(log.wants(&pass(None), t0 + Duration::from_secs(3601)));
        assert!(!log.wants(&pass(None), t0 + Duration::from_secs(3602)));
    }
}
