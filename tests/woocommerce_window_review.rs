//! Review of the per-group read-add-write of the `woocommerce` adapter (DESIGN §4): the cases
//! its author left untested, against a stateful fake shop on loopback (products, variations,
//! shared stock, lookups by SKU, batch writes) whose faults and storefront sales are injected
//! at a given request.
#![cfg(feature = "emulator")]

mod platform;

use inventory_sync::adapter::woocommerce::WooCommerceAdapter;
use inventory_sync::adapter::{CartAdapter, DeltaSend, SendOutcome};
use inventory_sync::secret::Secret;
use platform::Reply;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Requests the shop answers before it refuses every other: a looping call fails its test.
const CAP: usize = 80;

/// One product or variation: its SKU, `manage_stock` (`true`, `false` or `"parent"`), its
/// count (a `"parent"` variation answers its product's) and type.
#[derive(Clone)]
struct Item {
    sku: String,
    manage: Value,
    qty: i64,
    kind: &'static str,
}

#[derive(Default)]
struct State {
    /// Products by id.
    products: BTreeMap<u64, Item>,
    /// Variations by (product, variation).
    vars: BTreeMap<(u64, u64), Item>,
    /// (method, path?query, body) of every request, in order.
    log: Vec<(String, String, String)>,
}

impl State {
    fn product(&mut self, id: u64, sku: &str, kind: &'static str, manage: Value, qty: i64) {
        self.products.insert(
            id,
            Item {
                sku: sku.into(),
                manage,
                qty,
                kind,
            },
        );
    }
    fn variation(&mut self, p: u64, v: u64, sku: &str, manage: Value, qty: i64) {
        if !self.products.contains_key(&p) {
            self.product(p, "", "variable", json!(false), 0);
        }
        self.vars.insert(
            (p, v),
            Item {
                sku: sku.into(),
                manage,
                qty,
                kind: "variation",
            },
        );
    }
    fn count(&self, p: u64, v: Option<u64>) -> i64 {
        match v {
            None => self.products[&p].qty,
            Some(v) => self.vars[&(p, v)].qty,
        }
    }
    fn sell(&mut self, p: u64, v: Option<u64>, n: i64) {
        match v {
            None => self.products.get_mut(&p).unwrap().qty -= n,
            Some(v) => self.vars.get_mut(&(p, v)).unwrap().qty -= n,
        }
    }
    fn product_json(&self, id: u64) -> Value {
        let it = &self.products[&id];
        json!({"id": id, "parent_id": 0, "sku": it.sku, "type": it.kind,
               "manage_stock": it.manage, "stock_quantity": it.qty})
    }
    fn variation_json(&self, p: u64, v: u64) -> Value {
        let it = &self.vars[&(p, v)];
        let qty = match &it.manage {
            Value::String(_) => self.products[&p].qty,
            _ => it.qty,
        };
        json!({"id": v, "parent_id": p, "sku": it.sku, "type": "variation",
               "manage_stock": it.manage, "stock_quantity": qty})
    }
    fn posts(&self) -> usize {
        self.log.iter().filter(|(m, _, _)| m == "POST").count()
    }
}

/// A fault or a storefront event: called with the shop's state (the request already logged)
/// before the shop answers; `Some` answers instead of the shop.
type Hook = Box<dyn FnMut(&mut State, &str, &str, &Value) -> Option<Reply> + Send>;

struct Shop {
    state: State,
    hook: Option<Hook>,
    /// The most items a batch request may carry; more are answered 413.
    batch_limit: usize,
}

fn param<'a>(target: &'a str, name: &str) -> Option<&'a str> {
    target
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

fn ids(target: &str, name: &str) -> Vec<String> {
    param(target, name)
        .map(|v| {
            v.replace("%2C", ",")
                .replace("%2c", ",")
                .split(',')
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn page(list: Vec<Value>, target: &str) -> Reply {
    let offset: usize = param(target, "offset")
        .and_then(|o| o.parse().ok())
        .unwrap_or(0);
    let per: usize = param(target, "per_page")
        .and_then(|o| o.parse().ok())
        .unwrap_or(10);
    let total = list.len();
    let list: Vec<Value> = list.into_iter().skip(offset).take(per).collect();
    (
        200,
        vec![
            ("X-WP-Total".into(), total.to_string()),
            ("X-WP-TotalPages".into(), total.div_ceil(per).to_string()),
        ],
        Value::Array(list).to_string(),
    )
}

fn answer(s: &mut State, method: &str, target: &str, body: &Value, limit: usize) -> Reply {
    let path = target.split('?').next().unwrap();
    let Some(rest) = path.strip_prefix("/wp-json/wc/v3/") else {
        return (404, Vec::new(), r#"{"code":"rest_no_route"}"#.into());
    };
    let parts: Vec<&str> = rest.split('/').collect();
    match (method, parts.as_slice()) {
        ("GET", ["products"]) => {
            let include = ids(target, "include");
            let skus = ids(target, "sku");
            let mut list = Vec::new();
            for id in s.products.keys().copied().collect::<Vec<_>>() {
                let sku_hit = skus.contains(&s.products[&id].sku);
                if include.contains(&id.to_string()) || sku_hit {
                    list.push(s.product_json(id));
                }
            }
            if !skus.is_empty() {
                for (p, v) in s.vars.keys().copied().collect::<Vec<_>>() {
                    if skus.contains(&s.vars[&(p, v)].sku) {
                        list.push(s.variation_json(p, v));
                    }
                }
            }
            list.sort_by_key(|v| v["id"].as_u64());
            page(list, target)
        }
        ("GET", ["products", p, "variations"]) => {
            let p: u64 = p.parse().unwrap();
            let include = ids(target, "include");
            let list: Vec<Value> = s
                .vars
                .keys()
                .filter(|(q, v)| *q == p && include.contains(&v.to_string()))
                .map(|(q, v)| s.variation_json(*q, *v))
                .collect();
            page(list, target)
        }
        ("POST", ["products", "batch"]) | ("POST", ["products", _, "variations", "batch"]) => {
            let update = body["update"].as_array().cloned().unwrap_or_default();
            if update.len() > limit {
                return (
                    413,
                    Vec::new(),
                    r#"{"code":"rest_batch_too_many_requests"}"#.into(),
                );
            }
            let product: Option<u64> = parts.get(1).and_then(|p| p.parse().ok());
            let mut answered = Vec::new();
            for u in update {
                let id = u["id"].as_u64().unwrap();
                let n = u["stock_quantity"].as_i64().unwrap();
                let it = match product {
                    None => s.products.get_mut(&id).unwrap(),
                    Some(p) => s.vars.get_mut(&(p, id)).unwrap(),
                };
                it.qty = n;
                it.manage = json!(true);
                answered.push(match product {
                    None => s.product_json(id),
                    Some(p) => s.variation_json(p, id),
                });
            }
            (200, Vec::new(), json!({ "update": answered }).to_string())
        }
        _ => (404, Vec::new(), r#"{"code":"rest_no_route"}"#.into()),
    }
}

fn start(state: State, batch_limit: usize) -> (String, Arc<Mutex<Shop>>) {
    let shop = Arc::new(Mutex::new(Shop {
        state,
        hook: None,
        batch_limit,
    }));
    let inner = shop.clone();
    let url = platform::serve(move |method, target, body| -> Reply {
        let mut guard = inner.lock().unwrap();
        let shop = &mut *guard;
        shop.state
            .log
            .push((method.to_owned(), target.to_owned(), body.to_owned()));
        if shop.state.log.len() > CAP {
            return (
                401,
                Vec::new(),
                r#"{"code":"woocommerce_rest_cannot_view"}"#.into(),
            );
        }
        let body: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        if let Some(hook) = shop.hook.as_mut() {
            if let Some(reply) = hook(&mut shop.state, method, target, &body) {
                return reply;
            }
        }
        answer(&mut shop.state, method, target, &body, shop.batch_limit)
    });
    (url, shop)
}

fn adapter(url: &str) -> WooCommerceAdapter {
    WooCommerceAdapter::new(url, "ck_x", Secret::new("cs_x"), Duration::from_secs(5)).unwrap()
}

fn change(sku: &str, remote_ref: Option<&str>, delta: i64) -> DeltaSend {
    DeltaSend {
        key: format!("k-{sku}"),
        sku: sku.into(),
        remote_ref: remote_ref.map(str::to_owned),
        delta,
    }
}

fn applied(q: i64) -> SendOutcome {
    SendOutcome::Applied { qoh: Some(q) }
}

fn is_retry(o: &SendOutcome) -> bool {
    matches!(o, SendOutcome::Retry { .. })
}

/// Two variable products of three variations each (10: 11-13, SKUs A1-A3; 20: 21-23, SKUs
/// B1-B3), every count 10.
fn two_products() -> State {
    let mut s = State::default();
    for (p, l) in [(10, "A"), (20, "B")] {
        for n in 1..=3 {
            s.variation(p, p + n, &format!("{l}{n}"), json!(true), 10);
        }
    }
    s
}

fn six_sales() -> Vec<DeltaSend> {
    let mut d = Vec::new();
    for (p, l) in [(10, "A"), (20, "B")] {
        for n in 1..=3 {
            d.push(change(
                &format!("{l}{n}"),
                Some(&format!("{p}/{}", p + n)),
                -(n as i64),
            ));
        }
    }
    d
}

/// Case 1. The shop takes 2 items a batch. The first group (product 10's three variations)
/// learns that from a 413 and goes in halves; the second group (product 20's three) was read
/// as one, then goes in two requests, and a storefront sale of B3 lands with the first of
/// them. B3's request must be planned from a read made after that request, not from the
/// group's read: the sale stands, and ours is on top.
#[test]
fn a_group_past_a_limit_lowered_mid_call_is_read_again_before_its_second_request() {
    let (url, shop) = start(two_products(), 2);
    let mut sold = false;
    shop.lock().unwrap().hook = Some(Box::new(move |s, m, t, body| {
        let n = body["update"].as_array().map_or(0, Vec::len);
        if m == "POST" && t.contains("/products/20/") && n <= 2 && !sold {
            sold = true;
            s.sell(20, Some(23), 1);
        }
        None
    }));
    let out = adapter(&url).apply_deltas(&six_sales()).unwrap();
    let s = shop.lock().unwrap();
    let counts: Vec<i64> = [(10, 11), (10, 12), (10, 13), (20, 21), (20, 22), (20, 23)]
        .iter()
        .map(|(p, v)| s.state.count(*p, Some(*v)))
        .collect();
    assert_eq!(
        counts,
        vec![9, 8, 7, 9, 8, 10 - 1 - 3],
        "the storefront sale of B3 between the group's two requests was overwritten; requests: {:?}; outcomes: {out:?}",
        s.state.log.iter().map(|x| (&x.0, &x.1)).collect::<Vec<_>>()
    );
    assert_eq!(
        out,
        vec![
            applied(9),
            applied(8),
            applied(7),
            applied(9),
            applied(8),
            applied(6)
        ]
    );
}

/// Case 1 and 4 together: the read inside `write` of the group's second request fails (a
/// 500) after its first request was applied. The items of the applied request are Applied,
/// B3 goes again (a `Retry`: nothing of it was sent), never a whole-call error.
#[test]
fn a_failed_read_before_a_groups_second_request_leaves_the_first_applied() {
    let (url, shop) = start(two_products(), 2);
    let mut writes_to_20 = 0;
    shop.lock().unwrap().hook = Some(Box::new(move |_, m, t, body| {
        let n = body["update"].as_array().map_or(0, Vec::len);
        if m == "POST" && t.contains("/products/20/") && n <= 2 {
            writes_to_20 += 1;
        }
        // Once: the call's read-back after it reads product 20's variations too.
        let fail = m == "GET" && t.contains("/products/20/variations") && writes_to_20 == 1;
        if fail {
            writes_to_20 += 1;
        }
        fail.then(|| {
            (
                500,
                Vec::new(),
                r#"{"code":"internal_server_error"}"#.into(),
            )
        })
    }));
    let out = adapter(&url).apply_deltas(&six_sales()).unwrap();
    let s = shop.lock().unwrap();
    assert_eq!(
        &out[..5],
        &[applied(9), applied(8), applied(7), applied(9), applied(8)],
        "{out:?}"
    );
    assert!(is_retry(&out[5]), "{out:?}");
    assert_eq!(s.state.count(20, Some(23)), 10, "B3 was written");
}

/// Case 2: a variation sharing its product's stock (`manage_stock: "parent"`) and a plain
/// product in one call. The shared change is read and written with the products, after the
/// variation's read: a storefront sale of the pool at that read stands.
#[test]
fn a_shared_count_variation_and_a_plain_product_go_in_one_products_request() {
    let mut st = State::default();
    st.product(30, "POOL", "variable", json!(true), 10);
    st.variation(30, 31, "S-31", json!("parent"), 0);
    st.product(40, "PLAIN", "simple", json!(true), 10);
    let (url, shop) = start(st, 100);
    let mut sold = false;
    shop.lock().unwrap().hook = Some(Box::new(move |s, m, t, _| {
        if m == "GET" && t.contains("/products/30/variations") && !sold {
            sold = true;
            s.sell(30, None, 1);
        }
        None
    }));
    let out = adapter(&url)
        .apply_deltas(&[
            change("S-31", Some("30/31"), -2),
            change("PLAIN", Some("40"), -3),
        ])
        .unwrap();
    let s = shop.lock().unwrap();
    assert_eq!(
        (s.state.count(30, None), s.state.count(40, None)),
        (10 - 1 - 2, 7),
        "{:?}",
        s.state.log
    );
    assert_eq!(out, vec![applied(7), applied(7)]);
    assert_eq!(
        s.state.posts(),
        1,
        "one products request: {:?}",
        s.state.log
    );
}

/// Case 2: two variations of one pooled product, a plain variation between them: the two
/// changes add up in one write of the pool, both answered as it is.
#[test]
fn two_variations_of_one_pooled_product_add_up_in_one_write() {
    let mut st = State::default();
    st.product(30, "POOL", "variable", json!(true), 20);
    st.variation(30, 31, "S-31", json!("parent"), 0);
    st.variation(30, 32, "S-32", json!("parent"), 0);
    st.variation(50, 51, "V-51", json!(true), 5);
    let (url, shop) = start(st, 100);
    let out = adapter(&url)
        .apply_deltas(&[
            change("S-31", Some("30/31"), -2),
            change("V-51", Some("50/51"), 4),
            change("S-32", Some("30/32"), -5),
        ])
        .unwrap();
    let s = shop.lock().unwrap();
    assert_eq!(
        (s.state.count(30, None), s.state.count(50, Some(51))),
        (13, 9),
        "{:?}",
        s.state.log
    );
    assert_eq!(out, vec![applied(13), applied(9), applied(13)]);
}

/// A shop with SKU MOVE on variation 51 of product 50, looked up (and so cached) by a first
/// call; then the owner gives the SKU to variation `to` and variation 51 another SKU.
fn moved_shop(to: (u64, u64)) -> (String, Arc<Mutex<Shop>>, WooCommerceAdapter) {
    let mut st = State::default();
    st.variation(5, 6, "X-6", json!(true), 10);
    st.variation(10, 11, "A-11", json!(true), 10);
    st.variation(50, 51, "MOVE", json!(true), 10);
    st.variation(60, 62, "B-62", json!(true), 10);
    st.variation(to.0, to.1, "NEW", json!(true), 30);
    let (url, shop) = start(st, 100);
    let a = adapter(&url);
    assert_eq!(
        a.apply_deltas(&[change("MOVE", None, -1)]).unwrap(),
        vec![applied(9)]
    );
    {
        let mut s = shop.lock().unwrap();
        s.state.vars.get_mut(&(50, 51)).unwrap().sku = "OLD".into();
        s.state.vars.get_mut(&to).unwrap().sku = "MOVE".into();
        s.state.log.clear();
    }
    (url, shop, a)
}

/// Case 3: a SKU moved to another product's variation whose group is still to come: the
/// change goes with that group, read right before its write; the old variation is untouched.
#[test]
fn a_sku_moved_to_a_later_group_mid_call_is_written_with_that_group() {
    let (_url, shop, a) = moved_shop((60, 61));
    let out = a
        .apply_deltas(&[
            change("A-11", Some("10/11"), -1),
            change("MOVE", None, -2),
            change("B-62", Some("60/62"), -3),
        ])
        .unwrap();
    let s = shop.lock().unwrap();
    assert_eq!(
        (
            s.state.count(10, Some(11)),
            s.state.count(50, Some(51)),
            s.state.count(60, Some(61)),
            s.state.count(60, Some(62))
        ),
        (9, 9, 28, 7),
        "{:?}",
        s.state.log
    );
    assert_eq!(out, vec![applied(9), applied(28), applied(7)]);
}

/// Case 3: a SKU moved to a product whose group this call already wrote: it gets a request
/// of its own, read right before it.
#[test]
fn a_sku_moved_to_a_group_already_written_is_read_and_written_again() {
    let (_url, shop, a) = moved_shop((5, 7));
    let mut sold = false;
    shop.lock().unwrap().hook = Some(Box::new(move |s, m, t, _| {
        // A storefront sale of the new variation when the call writes its old product's
        // group... of product 5, before the moved SKU's read.
        if m == "POST" && t.contains("/products/5/") && !sold {
            sold = true;
            s.sell(5, Some(7), 1);
        }
        None
    }));
    let out = a
        .apply_deltas(&[change("X-6", Some("5/6"), -1), change("MOVE", None, -2)])
        .unwrap();
    let s = shop.lock().unwrap();
    assert_eq!(
        (
            s.state.count(5, Some(6)),
            s.state.count(5, Some(7)),
            s.state.count(50, Some(51))
        ),
        (9, 30 - 1 - 2, 9),
        "{:?}",
        s.state.log
    );
    assert_eq!(out, vec![applied(9), applied(27)]);
}

/// Three groups (variations of 10, of 20, the products); the read of the second fails after
/// the first was written.
fn three_groups(fail: Reply) -> (Vec<SendOutcome>, Arc<Mutex<Shop>>) {
    three_groups_stalling(fail, None)
}

/// [`three_groups`], the failing read's answer held back for `stall` first (the adapter
/// then waits 2 s).
fn three_groups_stalling(
    fail: Reply,
    stall: Option<Duration>,
) -> (Vec<SendOutcome>, Arc<Mutex<Shop>>) {
    let mut st = State::default();
    st.variation(10, 11, "A-11", json!(true), 10);
    st.variation(10, 12, "A-12", json!(true), 10);
    st.variation(20, 21, "B-21", json!(true), 10);
    st.product(40, "PLAIN", "simple", json!(true), 10);
    let (url, shop) = start(st, 100);
    let mut fail = Some(fail);
    shop.lock().unwrap().hook = Some(Box::new(move |s, m, t, _| {
        if m == "GET" && t.contains("/products/20/variations") && s.posts() == 1 {
            if let (Some(stall), Some(_)) = (stall, &fail) {
                // The fault itself (an answer later than the adapter waits), not a wait for
                // another thread: the adapter gives up on it and goes on.
                std::thread::sleep(stall);
            }
            return fail.take();
        }
        None
    }));
    let timeout = Duration::from_secs(if stall.is_some() { 2 } else { 5 });
    let out = WooCommerceAdapter::new(&url, "ck_x", Secret::new("cs_x"), timeout)
        .unwrap()
        .apply_deltas(&[
            change("PLAIN", Some("40"), -4),
            change("B-21", Some("20/21"), -3),
            change("A-11", Some("10/11"), -1),
            change("A-12", Some("10/12"), -2),
        ])
        .expect("a call of which a request was applied answers per item, never a whole-call error");
    (out, shop)
}

/// Case 4: a 500 (or a gateway's 504: a read's lost answer applied nothing) reading the
/// second group: the first group's items Applied, the second's `Retry` (nothing of it was
/// sent: not `Uncertain`), and the call goes on to the products.
#[test]
fn a_5xx_reading_the_second_group_leaves_the_first_applied_and_the_rest_per_item() {
    for status in [500u16, 503, 504] {
        let (out, shop) = three_groups((status, Vec::new(), r#"{"code":"x"}"#.into()));
        let s = shop.lock().unwrap();
        assert_eq!(out.len(), 4);
        assert_eq!(
            (&out[0], &out[2], &out[3]),
            (&applied(6), &applied(9), &applied(8)),
            "HTTP {status}: {out:?}"
        );
        assert!(is_retry(&out[1]), "HTTP {status}: {out:?}");
        assert_eq!(s.state.count(20, Some(21)), 10);
        assert_eq!(s.state.count(40, None), 6);
    }
}

/// Case 4: a rate limit reading the second group ends the call: the first group Applied, the
/// rest `Retry` after the shop's wait, nothing more sent.
#[test]
fn a_rate_limit_reading_the_second_group_ends_the_call_per_item() {
    let (out, shop) = three_groups((
        429,
        vec![("Retry-After".into(), "7".into())],
        r#"{"code":"too_many"}"#.into(),
    ));
    let s = shop.lock().unwrap();
    assert_eq!((&out[2], &out[3]), (&applied(9), &applied(8)), "{out:?}");
    for o in [&out[0], &out[1]] {
        assert!(
            matches!(o, SendOutcome::Retry { after: Some(d), .. } if *d == Duration::from_secs(7)),
            "{out:?}"
        );
    }
    assert_eq!(s.state.posts(), 1, "{:?}", s.state.log);
    assert_eq!(s.state.count(40, None), 10);
}

/// Case 4: the read of the second group answers a body that cannot be read (a 200 cut off by a
/// proxy): a read's lost answer, the rest `Retry`, never `Uncertain` for a change never sent.
#[test]
fn an_unreadable_read_of_the_second_group_is_not_uncertain() {
    let (out, _shop) = three_groups((200, Vec::new(), "[{\"id\":21,".into()));
    assert_eq!((&out[2], &out[3]), (&applied(9), &applied(8)), "{out:?}");
    assert!(is_retry(&out[1]), "{out:?}");
    assert_eq!(out[0], applied(6), "{out:?}");
}

/// Case 5: outcomes by position, whatever order the groups go in (variations first, by
/// product, then products; shared counts with the products): a mixed call with a refused
/// item, an unknown one and a second change of one count among them.
#[test]
fn outcomes_match_inputs_by_position_across_groups() {
    let mut st = State::default();
    st.product(40, "P40", "simple", json!(true), 40);
    st.product(41, "P41", "simple", json!(false), 0);
    st.product(30, "POOL", "variable", json!(true), 30);
    st.variation(30, 31, "S-31", json!("parent"), 0);
    st.variation(20, 21, "B-21", json!(true), 20);
    st.variation(10, 11, "A-11", json!(true), 10);
    st.variation(10, 12, "A-12", json!(true), 12);
    let (url, shop) = start(st, 100);
    let out = adapter(&url)
        .apply_deltas(&[
            change("P40", Some("40"), -1),     // 0: products
            change("B-21", Some("20/21"), -2), // 1: variations of 20
            change("S-31", Some("30/31"), -3), // 2: pool 30, with the products
            change("P41", Some("41"), -4),     // 3: stock not managed: Failed
            change("A-12", Some("10/12"), -5), // 4: variations of 10
            change("GONE", Some("99"), -6),    // 5: not listed
            change("A-11", Some("10/11"), -7), // 6: variations of 10
            change("P40b", Some("40"), -8),    // 7: P40's count again: Retry
        ])
        .unwrap();
    let s = shop.lock().unwrap();
    assert_eq!(out.len(), 8, "{out:?}");
    assert_eq!(out[0], applied(39), "{out:?}");
    assert_eq!(out[1], applied(18), "{out:?}");
    assert_eq!(out[2], applied(27), "{out:?}");
    assert!(matches!(out[3], SendOutcome::Failed { .. }), "{out:?}");
    assert_eq!(out[4], applied(7), "{out:?}");
    assert!(
        matches!(
            &out[5],
            SendOutcome::Failed { .. } | SendOutcome::Retry { .. }
        ),
        "{out:?}"
    );
    assert_eq!(out[6], applied(3), "{out:?}");
    assert!(is_retry(&out[7]), "{out:?}");
    assert_eq!(s.state.count(40, None), 39);
}

/// Case 4: the read of the second group times out (its answer comes after the adapter gave
/// up): a read's lost answer applied nothing, so its item goes again (`Retry`, not
/// `Uncertain`), the first group Applied, and the call goes on to the products.
#[test]
fn a_timed_out_read_of_the_second_group_leaves_the_first_applied() {
    let (out, shop) = three_groups_stalling(
        (200, Vec::new(), "[]".into()),
        // Past the adapter's 2 s, and not so long that the next request (queued behind this
        // one on the one-connection-at-a-time shop) waits past it too.
        Some(Duration::from_millis(2400)),
    );
    let s = shop.lock().unwrap();
    assert_eq!(
        (&out[0], &out[2], &out[3]),
        (&applied(6), &applied(9), &applied(8)),
        "{out:?}"
    );
    assert!(is_retry(&out[1]), "{out:?}");
    assert_eq!(s.state.count(20, Some(21)), 10);
}

/// Case 1, the halves of a 413: the shop takes 2 items a batch and the call's first group
/// (product 10's three variations) is refused as too large, then goes in halves ([A1, A2],
/// [A3]). A storefront sale of A3 lands with the first half's request: A3's half must be
/// planned from a read made after it, as any other request after the first of a call. Read
/// once for the refused batch, the sale was overwritten (the shop then offered a unit the
/// store had sold), and the read-back, finding the count written, said Applied.
#[test]
fn a_sale_during_the_first_half_of_a_refused_batch_is_not_overwritten() {
    let (url, shop) = start(two_products(), 2);
    let mut sold = false;
    shop.lock().unwrap().hook = Some(Box::new(move |s, m, t, body| {
        let n = body["update"].as_array().map_or(0, Vec::len);
        if m == "POST" && t.contains("/products/10/") && n <= 2 && !sold {
            sold = true;
            s.sell(10, Some(13), 1);
        }
        None
    }));
    let out = adapter(&url).apply_deltas(&six_sales()[..3]).unwrap();
    let s = shop.lock().unwrap();
    assert_eq!(
        s.state.count(10, Some(13)),
        10 - 1 - 3,
        "the storefront sale of A3 during the first half of the refused batch was overwritten; requests: {:?}; outcomes: {out:?}",
        s.state.log.iter().map(|x| (&x.0, &x.1)).collect::<Vec<_>>()
    );
    assert_eq!(out, vec![applied(9), applied(8), applied(6)]);
}
