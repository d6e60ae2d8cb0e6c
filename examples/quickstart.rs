//! The quickstart: a store, three carts on the built-in loopback emulator, the seeds' set-up
//! procedure (Send QOH, then SynchQOH and Synchronize Inventory), everyday QOH changes, a
//! stack drain, and a table showing every count in step.
//!
//! Run: `cargo run --example quickstart --features emulator`
//!
//! Pointed at real carts: `cargo run --example quickstart --features emulator -- --config
//! FILE [--send]`, where FILE is `{"store": "path/to/store.db", "carts": [cart JSON, ...]}`
//! with credentials written as `"env:NAME"` (one written out is used, with a warning on
//! stderr naming the cart and the key). The store file must exist. A cart the store
//! lacks is added (Synchronize Inventory off); one it has keeps its stored settings. It prints
//! each cart's preflight (drift, unmapped items) and what waits for it on the web stack;
//! with `--send` it also makes one stack pass, sending what waits. It changes no count.

use inventory_sync::emulator::Emulator;
use inventory_sync::{
    AdjustOutcome, Adjustment, CartId, Delta, Reason, SendOptions, StackState, Store,
};

/// `--config FILE` and `--send`, each at most once. Anything else is refused: a mistyped
/// `--sned` ignored sent nothing, and `--confg FILE` ran the demo instead, without a word.
fn arguments(args: impl Iterator<Item = String>) -> Result<(Option<String>, bool), String> {
    let (mut config, mut send) = (None, false);
    let mut args = args.peekable();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--config" if config.is_some() => return Err("--config is given twice".into()),
            "--config" => match args.next_if(|f| !f.starts_with("--")) {
                Some(file) => config = Some(file),
                None => return Err("--config needs a file".into()),
            },
            "--send" if send => return Err("--send is given twice".into()),
            "--send" => send = true,
            _ => return Err(format!("unknown argument {a:?}")),
        }
    }
    if send && config.is_none() {
        return Err("--send goes with --config FILE (the demo always sends)".into());
    }
    Ok((config, send))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (config, send) = match arguments(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("quickstart: {e} (usage: quickstart [--config FILE [--send]])");
            std::process::exit(2);
        }
    };
    if let Some(file) = &config {
        if let Err(e) = against_real_carts(file, send) {
            eprintln!("quickstart: {file}: {e}");
            std::process::exit(1);
        }
        return Ok(());
    }
    let dir = std::env::temp_dir().join(format!("invsync-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = Store::open(dir.join("store.db"))?;
    println!(
        "store: {} (a demo store, removed when the demo ends)",
        store.path().display()
    );

    // Items: a T-shirt product with three sizes, and two plain items.
    store.upsert_item_json(r#"{"sku":"TEE","description":"T-shirt"}"#)?;
    for (size, qoh) in [("S", 5), ("M", 8), ("L", 3)] {
        store.upsert_item_json(&format!(
            r#"{{"sku":"TEE-{size}","parent_sku":"TEE","attributes":{{"Size":"{size}"}},"qoh":{qoh}}}"#
        ))?;
    }
    store.upsert_item_json(r#"{"sku":"MUG","description":"Mug","qoh":12}"#)?;
    store.upsert_item_json(r#"{"sku":"CAP","description":"Cap","qoh":4}"#)?;

    // Three carts: one tracks stock per SKU only, two per attribute/option.
    let carts = [
        ("Shop SKU", "sku"),
        ("Shop A", "attribute"),
        ("Shop B", "attribute"),
    ];
    let mut emulators = Vec::new();
    let mut ids = Vec::new();
    for (name, level) in carts {
        let emu = Emulator::start()?;
        // The cart's catalogue lists its products, with counts not yet in step.
        let skus: &[&str] = if level == "sku" {
            &["TEE", "MUG", "CAP"]
        } else {
            &["TEE-S", "TEE-M", "TEE-L", "MUG", "CAP"]
        };
        for sku in skus {
            emu.set_qoh(sku, 0);
        }
        let id = store.upsert_cart_json(&format!(
            r#"{{"name":"{name}","adapter":"http_json","url":"{}",
                "capabilities":{{"send":true,"get":true,"realtime":"{level}"}},"max_items_to_send":50}}"#,
            emu.url()
        ))?;
        emulators.push(emu);
        ids.push((id, name));
    }

    // The seeds' set-up: Send QOH to every cart, then SynchQOH, then each cart's box.
    for &(id, name) in &ids {
        let r = store.send_qoh(id, SendOptions::default(), None)?;
        println!(
            "Send QOH to {name}: {} items in {} request(s)",
            r.sent, r.requests
        );
    }
    store.set_param("SynchQOH", "true")?;
    for &(id, _) in &ids {
        store.set_cart_sync(id, true)?;
    }

    // A day's changes, each said as it is made: what changed, and how many carts it queued for.
    println!(
        "\nthe day's changes (each queued, in its own transaction, for the carts it changes):"
    );
    let said = |what: &str, outcome: AdjustOutcome| match outcome {
        AdjustOutcome::Applied { qoh, queued } => {
            println!("  {what:<44} QOH now {qoh:>3}, queued for {queued} cart(s)")
        }
        AdjustOutcome::Duplicate => println!("  {what:<44} seen before: nothing changed"),
    };
    let change = |sku: &str, delta: i64, reason: Reason, why: &str| -> inventory_sync::Result<()> {
        let outcome = store.adjust_qoh(&Adjustment::new(sku, Delta::new(delta)?, reason))?;
        said(&format!("{sku} {delta:+} ({why})"), outcome);
        Ok(())
    };
    change("MUG", -2, Reason::Adjustment, "two found broken")?;
    change("TEE-M", -1, Reason::PosSale, "sold at the counter")?;
    change("CAP", 10, Reason::Receiving, "a purchase order arrived")?;
    // An order imported from Shop A: Shop A already took the stock off, so it is not sent there.
    emulators[1].set_qoh("TEE-L", emulators[1].qoh("TEE-L").unwrap_or(0) - 2);
    let import = || {
        Adjustment::new("TEE-L", Delta::new(-2).expect("not 0"), Reason::OrderImport)
            .origin_cart(ids[1].0)
            .host_ref("A-1001/1")
    };
    said(
        "TEE-L -2 (order A-1001 imported from Shop A)",
        store.adjust_qoh(&import())?,
    );
    // The host retries the import after a crash: the same reference is a no-op.
    said(
        "TEE-L -2 (the same order, imported again)",
        store.adjust_qoh(&import())?,
    );

    println!(
        "\nweb stack before the drain: {} records waiting",
        store.stack_count(0, StackState::Waiting)?
    );
    let report = store.run_stack(None)?;
    print!("stack controller: {report}");

    // The table: the order manager's QOH and what each cart shows.
    println!(
        "\n{:<8} {:>6} {:>10} {:>8} {:>8}",
        "item", "OM QOH", carts[0].0, carts[1].0, carts[2].0
    );
    let mut all_agree = true;
    let items: serde_json::Value = serde_json::from_str(&store.items_json(None)?)?;
    for it in items.as_array().unwrap() {
        let sku = it["sku"].as_str().unwrap();
        let has_variants = it["has_variants"].as_bool().unwrap();
        let om = if has_variants {
            items
                .as_array()
                .unwrap()
                .iter()
                .filter(|v| v["parent_sku"] == sku)
                .map(|v| v["qoh"].as_i64().unwrap())
                .sum()
        } else {
            it["qoh"].as_i64().unwrap()
        };
        let mut row = format!("{sku:<8} {om:>6}");
        for (i, (_, level)) in carts.iter().enumerate() {
            let shown = emulators[i].qoh(sku);
            let expected = match (*level, has_variants, it["parent_sku"].is_string()) {
                ("sku", _, true) | ("attribute", true, _) => None,
                _ => Some(om),
            };
            all_agree &= shown == expected;
            let cell = shown.map_or("-".to_string(), |q| q.to_string());
            row.push_str(&format!(
                " {cell:>width$}",
                width = if i == 0 { 10 } else { 8 }
            ));
        }
        println!("{row}");
    }
    println!("\nremaining on the stack: {}", report.remaining);
    println!(
        "every cart agrees with the order manager: {}",
        if all_agree { "yes" } else { "NO" }
    );
    std::fs::remove_dir_all(&dir).ok();
    if !all_agree {
        std::process::exit(1);
    }
    Ok(())
}

/// The tour of real carts described in the module docs.
fn against_real_carts(file: &str, send: bool) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read it: {e}"))?;
    let config: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
    let path = config["store"]
        .as_str()
        .ok_or("\"store\" must name the store file")?;
    // A mistyped path must not become a new, empty store that every cart then "agrees" with.
    if !std::path::Path::new(path).is_file() {
        return Err(format!("no store file at {path:?}"));
    }
    let store = Store::open(path).map_err(|e| e.to_string())?;
    println!("store: {}", store.path().display());
    let carts = config["carts"]
        .as_array()
        .ok_or("\"carts\" must be an array")?;
    for warning in written_out_credentials(file, carts) {
        eprintln!("{warning}");
    }
    // The carts the store lacks are added in one transaction, which also reads the store's
    // carts (so one another process adds meanwhile is matched, not overwritten): a file with
    // a bad cart adds none.
    store.begin().map_err(|e| e.to_string())?;
    let added = add_missing_carts(&store, carts);
    match &added {
        Ok(_) => store.commit().map_err(|e| e.to_string())?,
        Err(_) => {
            let _ = store.rollback();
        }
    }
    for (name, id, was_stored) in added? {
        match was_stored {
            true => println!("{name}: in the store already; its stored settings are used"),
            false => println!("{name}: added (Synchronize Inventory off)"),
        }
        match store.preflight(id) {
            Ok(w) if w.is_empty() => println!("  every item in step"),
            Ok(w) => {
                println!("  {} warnings", w.len());
                // The last, after 1,000, may say how many more there were (kind `more`).
                let more = w.last().filter(|m| m.kind == "more" && w.len() > 20);
                for w in w.iter().take(20).chain(more) {
                    println!(
                        "  {:<9} {:<16} {}",
                        w.kind,
                        w.sku.as_deref().unwrap_or(""),
                        w.message
                    );
                }
            }
            Err(e) => println!("  cannot be checked: {e}"),
        }
        let count = |state| store.stack_count(id, state).map_err(|e| e.to_string());
        println!(
            "  on the web stack: {} waiting, {} bypassed, {} uncertain",
            count(StackState::Waiting)?,
            count(StackState::Bypassed)?,
            count(StackState::Uncertain)?
        );
    }
    if send {
        let report = store.run_stack(None).map_err(|e| e.to_string())?;
        print!("stack controller: {report}");
    } else {
        println!("(add --send to send what waits)");
    }
    Ok(())
}

/// Each cart of the file with its id, and whether the store had it, adding those it lacks.
/// Names are compared as the store keeps them (trimmed); one the store, or the file, spells
/// otherwise only in case is refused, never added as a second cart for the same shop.
fn add_missing_carts(
    store: &Store,
    carts: &[serde_json::Value],
) -> Result<Vec<(String, CartId, bool)>, String> {
    let stored = store.carts().map_err(|e| e.to_string())?;
    let mut out: Vec<(String, CartId, bool)> = Vec::new();
    for cart in carts {
        let name = cart["name"]
            .as_str()
            .map(str::trim)
            .ok_or("each cart needs a \"name\"; nothing was added")?;
        let folded = name.to_lowercase();
        if out.iter().any(|(n, ..)| n.to_lowercase() == folded) {
            return Err(format!("cart {name:?} is named twice; nothing was added"));
        }
        let exact = stored.iter().find(|c| c.name == name);
        let entry = match exact.or_else(|| stored.iter().find(|c| c.name.to_lowercase() == folded))
        {
            Some(c) if c.name == name => (name.to_owned(), c.id, true),
            Some(c) => {
                return Err(format!(
                    "cart {name:?}: the store names it {:?}; nothing was added",
                    c.name
                ))
            }
            None => {
                let id = store.upsert_cart_json(&cart.to_string()).map_err(|e| {
                    // The library's message names the cart, mostly: not twice.
                    let own = format!("cart {name:?}");
                    match e.message().starts_with(&own) {
                        true => format!("{}; nothing was added", e.message()),
                        false => format!("{own}: {}; nothing was added", e.message()),
                    }
                })?;
                (name.to_owned(), id, false)
            }
        };
        out.push(entry);
    }
    Ok(out)
}

/// A warning for each credential the file's carts hold written out, not as `env:NAME`: the
/// README says to keep them out of the file, and a file holding one was taken without a word.
/// It names the cart and the key, never the value, and says how to move it; the file keeps
/// working as it is (an owner's file is not refused for it).
fn written_out_credentials(file: &str, carts: &[serde_json::Value]) -> Vec<String> {
    let mut out = Vec::new();
    for cart in carts {
        let Some(settings) = cart.as_object() else {
            continue;
        };
        let name = cart["name"].as_str().unwrap_or_default().trim();
        for (key, value) in settings {
            let written = value
                .as_str()
                .is_some_and(|v| !v.trim().is_empty() && !v.starts_with("env:"));
            if !written || !inventory_sync::carts::is_secret_key(key) {
                continue;
            }
            // A variable's name the owner may take: `Web shop` and `token`, WEB_SHOP_TOKEN.
            let variable: String = format!("{name}_{key}")
                .chars()
                .map(|c| match c.is_ascii_alphanumeric() {
                    true => c.to_ascii_uppercase(),
                    false => '_',
                })
                .collect();
            out.push(format!(
                "quickstart: warning: {file}: cart {name:?}: its {key:?} is written out in the \
                 file, where anyone who reads the file has it: set an environment variable \
                 (say {variable}) to it and write \"{key}\": \"env:{variable}\" instead. It is \
                 used as written meanwhile"
            ));
        }
    }
    out
}
