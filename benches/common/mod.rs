//! Set-up shared by the benches: stores, carts, the bare baselines' statements.
#![allow(dead_code)]

use inventory_sync::adapter::{
    CartAdapter, CartError, DeltaSend, QuantityPage, QuantitySet, SendOutcome, UpdateMode,
};
use inventory_sync::emulator::Emulator;
use inventory_sync::{Adjustment, CartId, Delta, Reason, Store};
use rusqlite::{params, Connection};
use std::path::Path;
use std::sync::Arc;

/// A cart that applies everything and does nothing: the queue's own cost, no network.
pub struct NoopCart;

impl CartAdapter for NoopCart {
    fn update_mode(&self) -> UpdateMode {
        UpdateMode::RelativeKeyed
    }
    fn apply_deltas(&self, deltas: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        Ok(deltas
            .iter()
            .map(|_| SendOutcome::Applied { qoh: None })
            .collect())
    }
    fn set_quantities(&self, sets: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
        Ok(sets
            .iter()
            .map(|_| SendOutcome::Applied { qoh: None })
            .collect())
    }
    fn fetch_quantities(
        &self,
        _cursor: Option<&str>,
        _limit: u32,
    ) -> Result<QuantityPage, CartError> {
        Ok(QuantityPage::default())
    }
}

pub fn sku(i: usize) -> String {
    format!("SKU-{i:07}")
}

/// A store with SynchQOH on, a fixed workstation name and the no-op adapter registered as
/// `noop`.
pub fn open_store(path: &Path) -> Store {
    let store = Store::open_with(
        path,
        inventory_sync::OpenOptions {
            workstation: Some("bench".into()),
            ..Default::default()
        },
    )
    .unwrap();
    store.set_param("SynchQOH", "true").unwrap();
    store.register_adapter("noop", |_| Ok(Arc::new(NoopCart) as Arc<dyn CartAdapter>));
    store
}

/// An `http_json` cart on `url` (real-time at attribute level, switched on when `realtime`).
pub fn http_cart(store: &Store, name: &str, url: &str, realtime: bool, max: u32) -> CartId {
    let json = serde_json::json!({
        "name": name, "adapter": "http_json", "url": url,
        "capabilities": {"send": true, "get": true,
                         "realtime": if realtime { "attribute" } else { "none" }},
        "max_items_to_send": max,
    });
    let id = store.upsert_cart_json(&json.to_string()).unwrap();
    if realtime {
        store.set_cart_sync(id, true).unwrap();
    }
    id
}

/// A cart on the no-op adapter, real-time on.
pub fn noop_cart(store: &Store, name: &str, max: u32) -> CartId {
    let json = serde_json::json!({
        "name": name, "adapter": "noop",
        "capabilities": {"send": true, "get": true, "realtime": "attribute"},
        "max_items_to_send": max,
    });
    let id = store.upsert_cart_json(&json.to_string()).unwrap();
    store.set_cart_sync(id, true).unwrap();
    id
}

/// `n` plain items `SKU-0000000`… with QOH `qoh`, in one host transaction.
pub fn items(store: &Store, n: usize, qoh: i64) {
    store.begin().unwrap();
    for i in 0..n {
        store
            .upsert_item_json(&format!(r#"{{"sku":"{}","qoh":{qoh}}}"#, sku(i)))
            .unwrap();
    }
    store.commit().unwrap();
}

/// The delta of adjustment `i`: -1, +1, -1, … so counts stay near where they started.
pub fn delta(i: usize) -> i64 {
    if i.is_multiple_of(2) {
        -1
    } else {
        1
    }
}

pub fn adjustment(item: usize, i: usize) -> Adjustment {
    Adjustment::new(sku(item), Delta::new(delta(i)).unwrap(), Reason::PosSale)
}

/// Adjustments `range` over `items` items (adjustment `i` to item `i % items`), one host
/// transaction.
pub fn adjust_in_one_tx(store: &Store, range: std::ops::Range<usize>, items: usize) {
    store.begin().unwrap();
    for i in range {
        store.adjust_qoh(&adjustment(i % items, i)).unwrap();
    }
    store.commit().unwrap();
}

/// An emulator whose catalogue holds `n` items at `qoh`.
pub fn emulator(n: usize, qoh: i64) -> Emulator {
    let emu = Emulator::start().unwrap();
    for i in 0..n {
        emu.set_qoh(&sku(i), qoh);
    }
    emu
}

/// The bare baseline of an adjustment: a hand-written outbox on the library's own schema and
/// pragmas, with what every adjustment must do and nothing else — find the item, update its
/// QOH, write the ledger row, write one stack record per cart.
pub struct BareOutbox {
    pub conn: Connection,
    pub carts: Vec<CartId>,
}

impl BareOutbox {
    /// Opens a file the library has created (so the schema is the library's), with the
    /// library's pragmas (DESIGN §6).
    pub fn open(path: &Path, carts: Vec<CartId>, full: bool) -> BareOutbox {
        let conn = Connection::open(path).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "synchronous", if full { "FULL" } else { "NORMAL" })
            .unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        // The library checkpoints its WAL at 4 MiB (`WAL_CHECKPOINT_BYTES` in
        // src/store/mod.rs, private to it), not every 1,000 pages of 1 KiB.
        let page: i64 = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 4_096_000 / page)
            .unwrap();
        conn.set_prepared_statement_cache_capacity(64);
        BareOutbox { conn, carts }
    }

    /// A store file the library creates at `path` with the carts `carts` makes and `items`
    /// items, then opened bare: the twin a baseline writes into.
    pub fn twin(
        path: &Path,
        items_n: usize,
        full: bool,
        carts: impl FnOnce(&Store) -> Vec<CartId>,
    ) -> BareOutbox {
        let store = open_store(path);
        let carts = carts(&store);
        items(&store, items_n, 1_000_000);
        drop(store);
        BareOutbox::open(path, carts, full)
    }

    /// One adjustment's rows, on whatever transaction is open.
    pub fn write(&self, sku: &str, delta: i64, now: i64) {
        let c = &self.conn;
        let (id, qoh): (i64, i64) = c
            .prepare_cached("SELECT id, qoh FROM items WHERE sku = ?1")
            .unwrap()
            .query_row([sku], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        let after = qoh + delta;
        // The ledger row names the item's change before it, and the item its newest, as the
        // library writes them (schema 26). Without the link the row is an older build's, and
        // the schema's trigger would link it: work the library never does.
        c.prepare_cached(
            "INSERT INTO ledger(item_id, sku, delta, qoh_after, reason, origin_cart_id, host_ref,
                                sent_to_web, workstation, created_at, prev_change)
             VALUES (?1, ?2, ?3, ?4, 2, NULL, NULL, 1, 'bench', ?5,
                     (SELECT last_change FROM items WHERE id = ?1))",
        )
        .unwrap()
        .execute(params![id, sku, delta, after, now])
        .unwrap();
        let change = c.last_insert_rowid();
        c.prepare_cached("UPDATE items SET qoh = ?2, last_change = ?3 WHERE id = ?1")
            .unwrap()
            .execute(params![id, after, change])
            .unwrap();
        let mut st = c
            .prepare_cached(
                "INSERT INTO stack(cart_id, item_id, delta, reason, origin_cart_id, workstation,
                                   created_at)
                 VALUES (?1, ?2, ?3, 2, NULL, 'bench', ?4)",
            )
            .unwrap();
        for cart in &self.carts {
            st.execute(params![cart, id, delta, now]).unwrap();
        }
    }

    /// One adjustment in a transaction of its own.
    pub fn write_tx(&self, sku: &str, delta: i64, now: i64) {
        self.in_tx(|| self.write(sku, delta, now));
    }

    /// Runs `f` in one transaction (`BEGIN IMMEDIATE`, as the library).
    pub fn in_tx(&self, f: impl FnOnce()) {
        self.conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        f();
        self.conn.execute_batch("COMMIT").unwrap();
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A random key in the library's form (UUID v4 text), for the bare HTTP baselines.
pub fn random_key() -> String {
    let b: [u8; 16] = rand::random();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Fills a store file that the library created (schema, one cart `cart`) with `n` items and
/// one pending stack record for each, straight through SQL: the fastest way to a stack of a
/// million records. The rows are exactly what `adjust_qoh` writes for a stack record.
pub fn fill_stack_bare(path: &Path, cart: CartId, n: usize, first_item: usize) {
    let mut conn = Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    let tx = conn.transaction().unwrap();
    let now = now_ms();
    {
        let mut item = tx
            .prepare("INSERT INTO items(sku, qoh, created_at) VALUES (?1, 100, ?2)")
            .unwrap();
        let mut rec = tx
            .prepare(
                "INSERT INTO stack(cart_id, item_id, delta, reason, origin_cart_id, workstation,
                                   created_at)
                 VALUES (?1, ?2, -1, 2, NULL, 'bench', ?3)",
            )
            .unwrap();
        for i in first_item..first_item + n {
            item.execute(params![sku(i), now]).unwrap();
            let id = tx.last_insert_rowid();
            rec.execute(params![cart, id, now]).unwrap();
        }
    }
    tx.commit().unwrap();
}
