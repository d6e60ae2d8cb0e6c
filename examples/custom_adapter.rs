//! Registering your own adapter, so that a store's cart is served by it: the factory a
//! `Store` calls to build the adapter from the cart's stored definition, reading the cart's own
//! keys and credentials, and refusing what it cannot use by name.
//!
//! Run: `cargo run --example custom_adapter` (no cart is needed: the "warehouse" here is kept
//! in memory, standing in for the HTTP client of your cart's API).
//!
//! What to take from it:
//! - register on every `Store` handle, before a cart naming the adapter is saved
//!   (`upsert_cart_json` refuses an adapter name no registry holds), and again after each
//!   reopen;
//! - the factory is called for every manual run and whenever the cart's definition changes:
//!   keep it cheap, and keep what must outlive one adapter (here, the warehouse the cart
//!   stands for; in real code a connection pool or a cache of ids) outside it, shared
//!   through an `Arc`;
//! - read settings with `Cart::setting`/`Cart::setting_i64` and credentials with
//!   `Cart::secret` (which resolves `env:NAME`); never put a credential in an error.

use inventory_sync::{
    Adjustment, Cart, CartAdapter, CartError, Delta, DeltaSend, Error, ErrorKind, QuantityPage,
    QuantitySet, Reason, SendOutcome, Store, UpdateMode,
};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// The cart's side: counts and the idempotency keys it applied. It lives as long as the
/// process, not as long as one adapter: a key remembered by an adapter instance would
/// de-duplicate nothing when the library re-sends through the next one.
#[derive(Default)]
struct Warehouse {
    counts: Mutex<HashMap<String, i64>>,
    keys: Mutex<HashSet<String>>,
}

/// One adapter, built by the factory for one cart definition.
struct WarehouseAdapter {
    warehouse: Arc<Warehouse>,
    /// A setting of the cart (`"bin"`), as an adapter would keep a URL or a location id.
    bin: String,
}

impl WarehouseAdapter {
    fn sku(&self, sku: &str) -> String {
        format!("{}/{sku}", self.bin)
    }
}

impl CartAdapter for WarehouseAdapter {
    fn update_mode(&self) -> UpdateMode {
        // The warehouse de-duplicates by key: the only mode whose changes go again after a
        // lost answer.
        UpdateMode::RelativeKeyed
    }

    fn apply_deltas(&self, deltas: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        let mut counts = self.warehouse.counts.lock().unwrap();
        let mut keys = self.warehouse.keys.lock().unwrap();
        // One outcome per delta, in order.
        Ok(deltas
            .iter()
            .map(|d| match counts.get_mut(&self.sku(&d.sku)) {
                None => SendOutcome::Failed {
                    message: format!("unknown SKU {}", d.sku),
                },
                Some(count) => {
                    if keys.insert(d.key.clone()) {
                        *count += d.delta;
                    }
                    SendOutcome::Applied { qoh: Some(*count) }
                }
            })
            .collect())
    }

    fn set_quantities(&self, sets: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
        let mut counts = self.warehouse.counts.lock().unwrap();
        Ok(sets
            .iter()
            .map(|s| match counts.get_mut(&self.sku(&s.sku)) {
                None => SendOutcome::Failed {
                    message: format!("unknown SKU {}", s.sku),
                },
                Some(count) if s.expected.is_some_and(|e| e != *count) => {
                    SendOutcome::Conflict { current: *count }
                }
                Some(count) => {
                    *count = s.qoh;
                    SendOutcome::Applied { qoh: Some(s.qoh) }
                }
            })
            .collect())
    }

    fn fetch_quantities(
        &self,
        _cursor: Option<&str>,
        _limit: u32,
    ) -> Result<QuantityPage, CartError> {
        let prefix = format!("{}/", self.bin);
        let counts = self.warehouse.counts.lock().unwrap();
        let mut items: Vec<(String, i64)> = counts
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.to_owned(), *v)))
            .collect();
        items.sort();
        Ok(QuantityPage {
            items,
            next_cursor: None,
        })
    }
}

/// The factory: builds the adapter of `cart` from its stored definition, or says which key
/// is missing (the error is the operator's; it names the key, never a credential's value).
fn build(warehouse: &Arc<Warehouse>, cart: &Cart) -> inventory_sync::Result<Arc<dyn CartAdapter>> {
    let missing = |key: &str| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("cart {:?}: {key} is required", cart.name),
        )
    };
    let bin = cart.setting("bin").ok_or_else(|| missing("bin"))?;
    // `env:NAME` is read here, where the adapter runs. A real adapter would give it to its
    // HTTP client; this one only insists on having one.
    let _token = cart.secret("token")?.ok_or_else(|| missing("token"))?;
    Ok(Arc::new(WarehouseAdapter {
        warehouse: warehouse.clone(),
        bin: bin.to_owned(),
    }))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("invsync-custom-adapter-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = Store::open(dir.join("store.db"))?;

    let warehouse = Arc::new(Warehouse::default());
    warehouse
        .counts
        .lock()
        .unwrap()
        .insert("main/TEE-M".into(), 10);

    // Before any cart naming "warehouse" is saved, and on every handle that sends to it.
    let shared = warehouse.clone();
    store.register_adapter("warehouse", move |cart| build(&shared, cart));

    // The cart's own keys ("bin", "token") are the factory's to read; the library stores them.
    std::env::set_var("WAREHOUSE_TOKEN", "example-token");
    let cart = store.upsert_cart_json(
        r#"{"name":"Warehouse","adapter":"warehouse","bin":"main","token":"env:WAREHOUSE_TOKEN",
            "capabilities":{"send":true,"get":true,"realtime":"attribute"}}"#,
    )?;
    store.upsert_item_json(r#"{"sku":"TEE-M","qoh":10}"#)?;
    store.set_param("SynchQOH", "true")?;
    store.set_cart_sync(cart, true)?;

    store.adjust_qoh(&Adjustment::new("TEE-M", Delta::new(-2)?, Reason::PosSale))?;
    let report = store.run_stack(None)?;
    let count = warehouse.counts.lock().unwrap()["main/TEE-M"];
    println!(
        "sent {} record(s), {} remain; the warehouse counts {count} of TEE-M",
        report.sent, report.remaining
    );
    assert_eq!(
        (report.sent, count),
        (1, 8),
        "the sale reached the warehouse"
    );

    drop(store);
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
