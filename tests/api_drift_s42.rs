//! API drift review (s42) of the Medusa adapter: its lookups of inventory items by `sku[]`
//! and `id[]`, against a loopback stand-in that reads a query string as a Medusa 2.21 backend
//! on Express 4.22.0 or 4.22.1 does:
//!
//! - Express 4.22.0/4.22.1 parse `req.query` with qs `~6.14.0`; from qs 6.14.1 its
//!   `arrayLimit` (20) also caps bracket notation, so `sku[]` given more than 20 times becomes
//!   an object (`{"0": …, "20": …}`), not an array
//!   (<https://github.com/expressjs/express/issues/7147>,
//!   <https://github.com/ljharb/qs/pull/568>; Express 4.22.2 of 2026-05-08 raised the cap to
//!   1000, <https://github.com/expressjs/express/pull/7225>, but a shop installed in between
//!   keeps its lockfile). Medusa's list validator takes `sku` and `id` as a string or an
//!   array of strings only (`AdminGetInventoryItemsParamsFields`, `.strict()`), and answers
//!   anything else 400 `invalid_data`.
//! - Medusa's `normalizeQuery` (`validateAndTransformQuery`) splits an array of one string on
//!   commas, its documented way of passing a list in one value: `sku[]=TEE,RED` alone asks for
//!   TEE and RED, never the SKU `TEE,RED`.
#![cfg(feature = "emulator")]

use inventory_sync::adapter::medusa::{MedusaAdapter, MedusaAuth};
use inventory_sync::adapter::{CartAdapter, DeltaSend, QuantitySet, SendOutcome};
use inventory_sync::secret::Secret;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LOCATION: &str = "sloc_main";
/// qs's default `arrayLimit`, as Express 4.22.0/4.22.1 leave it for `req.query`.
const ARRAY_LIMIT: usize = 20;

/// Inventory items by id: (SKU, stocked at [`LOCATION`]).
type Items = BTreeMap<String, (String, i64)>;

struct Medusa {
    url: String,
    items: Arc<Mutex<Items>>,
    /// The status of each `GET /admin/inventory-items` answered.
    lookups: Arc<Mutex<Vec<u16>>>,
}

impl Medusa {
    fn start(items: &[(&str, &str, i64)]) -> Medusa {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let state: Items = items
            .iter()
            .map(|(id, sku, n)| ((*id).to_owned(), ((*sku).to_owned(), *n)))
            .collect();
        let items = Arc::new(Mutex::new(state));
        let lookups = Arc::new(Mutex::new(Vec::new()));
        let (i, l) = (items.clone(), lookups.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (i, l) = (i.clone(), l.clone());
                std::thread::spawn(move || serve(conn, &i, &l));
            }
        });
        Medusa {
            url,
            items,
            lookups,
        }
    }

    fn stocked(&self, id: &str) -> i64 {
        self.items.lock().unwrap()[id].1
    }

    fn refused_lookups(&self) -> usize {
        self.lookups
            .lock()
            .unwrap()
            .iter()
            .filter(|s| **s != 200)
            .count()
    }
}

fn serve(conn: TcpStream, items: &Mutex<Items>, lookups: &Mutex<Vec<u16>>) {
    let mut out = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    while let Some((method, target, body)) = read_request(&mut reader) {
        let (status, body) = answer(&mut items.lock().unwrap(), lookups, &method, &target, &body);
        let head = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        if out.write_all(head.as_bytes()).is_err() || out.write_all(body.as_bytes()).is_err() {
            return;
        }
    }
}

fn read_request(r: &mut BufReader<TcpStream>) -> Option<(String, String, Vec<u8>)> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            if n.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some((method, target, body))
}

fn decoded(s: &str) -> String {
    let b = s.as_bytes();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn invalid(message: String) -> (u16, String) {
    (
        400,
        json!({"type": "invalid_data", "message": message}).to_string(),
    )
}

/// A filter's values as Medusa would take them, or its 400.
fn filter(name: &str, values: Vec<String>) -> Result<Option<Vec<String>>, (u16, String)> {
    match values.len() {
        0 => Ok(None),
        // qs 6.14.1: past `arrayLimit` the array becomes an object, which the validator refuses.
        n if n > ARRAY_LIMIT => Err(invalid(format!(
            "Invalid request: Expected type: 'array' for field '{name}', got: 'object'"
        ))),
        // normalizeQuery: one string is a comma-separated list.
        1 => Ok(Some(values[0].split(',').map(str::to_owned).collect())),
        _ => Ok(Some(values)),
    }
}

fn level(id: &str, stocked: i64) -> Value {
    json!({"id": format!("ilev_{id}"), "inventory_item_id": id, "location_id": LOCATION,
           "stocked_quantity": stocked, "reserved_quantity": 0, "incoming_quantity": 0,
           "available_quantity": stocked})
}

fn answer(
    items: &mut Items,
    lookups: &Mutex<Vec<u16>>,
    method: &str,
    target: &str,
    body: &[u8],
) -> (u16, String) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    match (method, path) {
        ("GET", p) if p.starts_with("/admin/stock-locations/") => {
            (200, json!({"stock_location": {"id": LOCATION}}).to_string())
        }
        ("GET", "/admin/inventory-items") => {
            let (mut ids, mut skus) = (Vec::new(), Vec::new());
            let (mut offset, mut limit) = (0usize, 20usize);
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
                match decoded(n).as_str() {
                    "id[]" => ids.push(decoded(v)),
                    "sku[]" => skus.push(decoded(v)),
                    "offset" => offset = decoded(v).parse().unwrap(),
                    "limit" => limit = decoded(v).parse().unwrap(),
                    "fields" | "order" => {}
                    other => {
                        lookups.lock().unwrap().push(400);
                        return invalid(format!("Invalid request: Unrecognized fields: '{other}'"));
                    }
                }
            }
            let (ids, skus) = match (filter("id", ids), filter("sku", skus)) {
                (Ok(i), Ok(s)) => (i, s),
                (Err(e), _) | (_, Err(e)) => {
                    lookups.lock().unwrap().push(e.0);
                    return e;
                }
            };
            lookups.lock().unwrap().push(200);
            let all: Vec<Value> = items
                .iter()
                .filter(|(id, (sku, _))| {
                    ids.as_ref().map_or(true, |f| f.contains(id))
                        && skus.as_ref().map_or(true, |f| f.contains(sku))
                })
                .map(|(id, (sku, n))| json!({"id": id, "sku": sku, "location_levels": [level(id, *n)]}))
                .collect();
            let count = all.len();
            let page: Vec<Value> = all.into_iter().skip(offset).take(limit).collect();
            (
                200,
                json!({"inventory_items": page, "count": count, "offset": offset, "limit": limit})
                    .to_string(),
            )
        }
        ("POST", "/admin/inventory-items/location-levels/batch") => {
            let b: Value = serde_json::from_slice(body).unwrap();
            let mut updated = Vec::new();
            for u in b["update"].as_array().into_iter().flatten() {
                let id = u["inventory_item_id"].as_str().unwrap();
                let stocked = u["stocked_quantity"].as_i64().unwrap();
                items.get_mut(id).unwrap().1 = stocked;
                updated.push(level(id, stocked));
            }
            (
                200,
                json!({"created": [], "updated": updated, "deleted": []}).to_string(),
            )
        }
        _ => (
            404,
            json!({"type": "not_found", "message": "Not found"}).to_string(),
        ),
    }
}

fn adapter(url: &str) -> MedusaAdapter {
    MedusaAdapter::new(
        url,
        MedusaAuth::ApiKey(Secret::new("sk_drift_s42_1234")),
        LOCATION,
        Duration::from_secs(5),
    )
    .unwrap()
}

fn sale(n: usize, sku: &str) -> DeltaSend {
    DeltaSend {
        key: format!("k{n}"),
        sku: sku.to_owned(),
        remote_ref: None,
        delta: -1,
    }
}

/// 25 sales of 25 SKUs in one call, as a batch of a real-time cart sending its default 50
/// records: each reaches its inventory item once. The adapter asked for the 25 SKUs in one
/// `sku[]` list of 25; Medusa on Express 4.22.0/4.22.1 refused it 400, and the controller
/// bypassed every sale of the batch as refused (the shop kept the units sold).
#[test]
fn a_call_of_more_than_twenty_skus_reaches_medusa_each_once() {
    let items: Vec<(String, String)> = (0..25)
        .map(|i| (format!("iitem_{i:02}"), format!("SKU-{i:02}")))
        .collect();
    let seeded: Vec<(&str, &str, i64)> = items
        .iter()
        .map(|(id, sku)| (id.as_str(), sku.as_str(), 10))
        .collect();
    let medusa = Medusa::start(&seeded);
    let a = adapter(&medusa.url);
    let sales: Vec<DeltaSend> = items
        .iter()
        .enumerate()
        .map(|(n, (_, sku))| sale(n, sku))
        .collect();
    let outcomes = a
        .apply_deltas(&sales)
        .expect("Medusa answers a lookup of at most 20 SKUs");
    for ((id, sku), outcome) in items.iter().zip(&outcomes) {
        assert!(
            matches!(outcome, SendOutcome::Applied { qoh: Some(9) }),
            "{sku}: {outcome:?}"
        );
        assert_eq!(medusa.stocked(id), 9, "{sku} sold once");
    }
    assert_eq!(medusa.refused_lookups(), 0);

    // Send QOH of the same 25 (each read by its cached id now): set, each once.
    let sets: Vec<QuantitySet> = items
        .iter()
        .enumerate()
        .map(|(n, (_, sku))| QuantitySet {
            key: format!("s{n}"),
            sku: sku.clone(),
            remote_ref: None,
            qoh: 4,
            expected: None,
        })
        .collect();
    let outcomes = a.set_quantities(&sets).expect("set");
    for ((id, sku), outcome) in items.iter().zip(&outcomes) {
        assert!(
            matches!(outcome, SendOutcome::Applied { qoh: Some(4) }),
            "{sku}: {outcome:?}"
        );
        assert_eq!(medusa.stocked(id), 4, "{sku}");
    }
    assert_eq!(medusa.refused_lookups(), 0);
}

/// A sale of a SKU holding a comma (`TEE,RED`, which Medusa takes as a SKU) sent alone
/// reaches its item. Looked up as `sku[]=TEE,RED`, Medusa read the one value as the list TEE
/// and RED, and the sale failed as an unknown SKU (bypassed) while Get QOH, which lists the
/// inventory, took the item's count.
#[test]
fn a_sku_holding_a_comma_is_found_when_it_is_looked_up_alone() {
    let medusa = Medusa::start(&[
        ("iitem_a", "TEE,RED", 10),
        ("iitem_b", "TEE", 5),
        ("iitem_c", "RED", 7),
    ]);
    let a = adapter(&medusa.url);
    let outcomes = a.apply_deltas(&[sale(0, "TEE,RED")]).expect("sale");
    assert!(
        matches!(outcomes[0], SendOutcome::Applied { qoh: Some(9) }),
        "{:?}",
        outcomes[0]
    );
    assert_eq!(medusa.stocked("iitem_a"), 9);
    assert_eq!(
        (medusa.stocked("iitem_b"), medusa.stocked("iitem_c")),
        (5, 7)
    );
}
