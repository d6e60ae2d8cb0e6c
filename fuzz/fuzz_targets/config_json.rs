//! Cart config, item and web-fields JSON (issue 5): any bytes are refused with an error or
//! accepted, never a panic, and a refused call leaves the store as it was.
#![no_main]

use inventory_sync::Store;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    cart: i64,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("fuzz.db")).unwrap();
        let cart = store
            .upsert_cart_json(
                r#"{"name":"F","adapter":"http_json","url":"http://127.0.0.1:9/",
                    "capabilities":{"send":true,"get":true,"realtime":"attribute"}}"#,
            )
            .unwrap();
        store.upsert_item_json(r#"{"sku":"P","qoh":0}"#).unwrap();
        Fixture { _dir: dir, store, cart }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let f = fixture();
    let before = f.store.items_json(None).unwrap();
    let _ = f.store.upsert_cart_json(text);
    if f.store.upsert_item_json(text).is_err() {
        assert_eq!(f.store.items_json(None).unwrap(), before, "a refused item changed the store");
    }
    let _ = f.store.set_web_fields(f.cart, "P", text);
    let _ = f.store.items_json(Some(text));
    let _ = f.store.stack_list_json(Some(text));
    let _ = f.store.ledger_json(Some(text));
});
