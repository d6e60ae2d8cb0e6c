//! DESIGN §9a, the `http_json` cart protocol v1, read as a cart plugin's writer reads it: each
//! test quotes the statement it holds the library to. The cart here is a minimal server written
//! from §9a's text alone ([`Literal`]), not the emulator, so that an emulator drifting from
//! §9a together with the adapter cannot hide it. Through the public API (a store, its stack
//! controller, Send QOH, Get QOH) where the statement is about what happens to a change; on
//! the adapter alone where it is about one answer.

mod common;
mod platform;

use inventory_sync::adapter::http_json::HttpJsonAdapter;
use inventory_sync::adapter::{CartAdapter, QuantitySet, SendOutcome};
use inventory_sync::{Adjustment, CartId, Delta, Reason, SendOptions, Store};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

// ---- a cart written from §9a alone ----

/// One request as the cart received it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// The path below the cart's url (`qoh`, `qoh/adjust`, `qoh/set`).
    path: String,
    /// The query's pairs, decoded, in order.
    query: Vec<(String, String)>,
    /// Header names in lower case.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// What the cart does with its next request instead of serving it.
enum Next {
    /// Answer this status, headers and body, changing nothing.
    Answer(u16, Vec<(&'static str, String)>, String),
    /// Serve the request (apply it), then close the connection without answering: a lost
    /// answer.
    ApplyThenDrop,
}

#[derive(Default)]
struct State {
    token: Option<String>,
    items: BTreeMap<String, i64>,
    /// SKUs the cart refuses changes to (`rejected`).
    refuse: HashSet<String>,
    /// Keys of adjustments applied (§9a: only those are remembered).
    applied: HashSet<String>,
    /// The plugin's own page size: it serves at most this many, whatever `limit` asks.
    page_size: usize,
    script: VecDeque<Next>,
    log: Vec<Seen>,
}

/// The cart: one request per connection, `Connection: close`, served from [`State`].
struct Literal {
    url: String,
    state: Arc<Mutex<State>>,
}

impl Literal {
    /// A cart at `http://127.0.0.1:<port>/plugin/v1/` (a plugin's url has a path).
    fn start(token: Option<&str>, items: &[(&str, i64)]) -> Literal {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/plugin/v1/", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            token: token.map(str::to_owned),
            items: items.iter().map(|(s, q)| (s.to_string(), *q)).collect(),
            page_size: 1000,
            ..State::default()
        }));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        Literal { url, state }
    }
    fn s(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
    fn qoh(&self, sku: &str) -> Option<i64> {
        self.s().items.get(sku).copied()
    }
    fn log(&self) -> Vec<Seen> {
        self.s().log.clone()
    }
    fn then(&self, next: Next) {
        self.s().script.push_back(next);
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("").to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            return;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':').unwrap();
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let seen = Seen {
        method,
        path: path.strip_prefix("/plugin/v1/").unwrap_or(path).to_owned(),
        query: query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (n, v) = p.split_once('=').unwrap_or((p, ""));
                (platform::form_decode(n), platform::form_decode(v))
            })
            .collect(),
        headers,
        body,
    };
    let mut st = state.lock().unwrap();
    st.log.push(seen.clone());
    let (status, extra, answer, lost) = match st.script.pop_front() {
        Some(Next::Answer(status, extra, body)) => (status, extra, body, false),
        Some(Next::ApplyThenDrop) => {
            let (s, b) = answer(&mut st, &seen);
            (s, vec![], b, true)
        }
        None => {
            let (s, b) = answer(&mut st, &seen);
            (s, vec![], b, false)
        }
    };
    drop(st);
    let mut stream = stream;
    if lost {
        let _ = stream.shutdown(Shutdown::Both);
        return;
    }
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n",
        answer.len()
    );
    for (n, v) in extra {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(answer.as_bytes());
    let _ = stream.flush();
}

/// §9a, literally.
fn answer(st: &mut State, r: &Seen) -> (u16, String) {
    if let Some(t) = &st.token {
        if r.header("authorization") != Some(&format!("Bearer {t}")) {
            return (401, json!({"error": "unauthorized"}).to_string());
        }
    }
    let bad = |why: &str| (400, json!({ "error": why }).to_string());
    match (r.method.as_str(), r.path.as_str()) {
        ("GET", "qoh") => {
            let q = |name: &str| r.query.iter().find(|(n, _)| n == name).map(|(_, v)| v);
            let Some(Ok(limit)) = q("limit").map(|l| l.parse::<usize>()) else {
                return bad("limit");
            };
            // An opaque cursor of the plugin's own making: the offset, in words a URL must
            // encode.
            let from = match q("cursor") {
                None => 0,
                Some(c) => match c
                    .strip_prefix("after #")
                    .and_then(|c| c.strip_suffix("&more"))
                    .and_then(|n| n.parse().ok())
                {
                    Some(n) => n,
                    None => return bad("cursor"),
                },
            };
            let take = limit.min(st.page_size);
            let items: Vec<Value> = st
                .items
                .iter()
                .skip(from)
                .take(take)
                .map(|(s, q)| json!({"sku": s, "qoh": q}))
                .collect();
            let next = from + items.len();
            let next_cursor = (next < st.items.len()).then(|| format!("after #{next}&more"));
            (
                200,
                json!({"items": items, "next_cursor": next_cursor}).to_string(),
            )
        }
        ("POST", "qoh/adjust") => {
            let body = r.json();
            let mut results = Vec::new();
            for a in body["adjustments"].as_array().unwrap() {
                let key = a["key"].as_str().unwrap().to_owned();
                let sku = a["sku"].as_str().unwrap();
                let delta = a["delta"].as_i64().unwrap();
                let current = st.items.get(sku).copied();
                results.push(if st.applied.contains(&key) {
                    json!({"key": key, "status": "duplicate", "qoh": current})
                } else if current.is_none() {
                    json!({"key": key, "status": "unknown_sku", "message": "no such sku"})
                } else if st.refuse.contains(sku) {
                    json!({"key": key, "status": "rejected", "qoh": current,
                           "message": "refused"})
                } else {
                    let new = current.unwrap() + delta;
                    st.items.insert(sku.to_owned(), new);
                    st.applied.insert(key.clone());
                    json!({"key": key, "status": "applied", "qoh": new})
                });
            }
            (200, json!({ "results": results }).to_string())
        }
        ("POST", "qoh/set") => {
            let body = r.json();
            let mut results = Vec::new();
            for s in body["quantities"].as_array().unwrap() {
                let key = s["key"].as_str().unwrap();
                let sku = s["sku"].as_str().unwrap();
                let qoh = s["qoh"].as_i64().unwrap();
                let current = st.items.get(sku).copied();
                results.push(match (current, s["expected"].as_i64()) {
                    (None, _) => json!({"key": key, "status": "unknown_sku"}),
                    (Some(_), _) if st.refuse.contains(sku) => {
                        json!({"key": key, "status": "rejected", "message": "refused"})
                    }
                    (Some(c), Some(e)) if c != e => {
                        json!({"key": key, "status": "conflict", "qoh": c})
                    }
                    (Some(_), _) => {
                        st.items.insert(sku.to_owned(), qoh);
                        json!({"key": key, "status": "applied", "qoh": qoh})
                    }
                });
            }
            (200, json!({ "results": results }).to_string())
        }
        _ => (404, json!({"error": "no such endpoint"}).to_string()),
    }
}

// ---- the store's side ----

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
}

fn store(items: &[(&str, i64)]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store.db")).unwrap();
    store.set_param("SynchQOH", "true").unwrap();
    store.set_param("RetryBaseMs", "0").unwrap();
    store.set_param("RetryMaxMs", "0").unwrap();
    for (sku, qoh) in items {
        store
            .upsert_item_json(&json!({"sku": sku, "qoh": qoh}).to_string())
            .unwrap();
    }
    Fixture { _dir: dir, store }
}

/// A real-time `http_json` cart on `cart`, on.
fn cart(f: &Fixture, cart: &Literal, token: Option<&str>) -> CartId {
    let mut j = json!({"name": "Plugin", "adapter": "http_json", "url": cart.url,
                       "capabilities": {"send": true, "get": true, "realtime": "attribute"},
                       "max_items_to_send": 50});
    if let Some(t) = token {
        j["token"] = json!(t);
    }
    let id = f.store.upsert_cart_json(&j.to_string()).unwrap();
    f.store.set_cart_sync(id, true).unwrap();
    id
}

fn sell(f: &Fixture, sku: &str, n: i64) {
    f.store
        .adjust_qoh(&Adjustment::new(
            sku,
            Delta::new(-n).unwrap(),
            Reason::PosSale,
        ))
        .unwrap();
}

fn stack(f: &Fixture) -> Vec<Value> {
    serde_json::from_str(&f.store.stack_list_json(None).unwrap()).unwrap()
}

fn adjust_requests(c: &Literal) -> Vec<Seen> {
    c.log()
        .into_iter()
        .filter(|r| r.path == "qoh/adjust")
        .collect()
}

fn keys_of(r: &Seen) -> Vec<String> {
    r.json()["adjustments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["key"].as_str().unwrap().to_owned())
        .collect()
}

/// The names of an object's fields, sorted.
fn fields(v: &Value) -> Vec<&str> {
    let mut f: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    f.sort_unstable();
    f
}

// ---- the statements ----

/// §9a: "All bodies JSON; `Authorization: Bearer <token>` when the cart has a token." and the
/// request shapes `POST {url}qoh/adjust` `{"adjustments":[{"key":"…","sku":"TEE-M","delta":-2}]}`,
/// `POST {url}qoh/set` `{"quantities":[{"key":"…","sku":"TEE-M","qoh":7,"expected":5|null}]}`,
/// `GET {url}qoh?cursor=C&limit=N`.
///
/// A plugin checks the header as written (`Bearer`, one space, the token), reads each body
/// as JSON only when it says it is (`Content-Type: application/json`: Express's
/// `express.json()`, WordPress's `get_json_params()`), and reads the fields by these names
/// and types: a key and a SKU as strings, a delta and a count as integers, `expected` there
/// and null when not compared. Each path is `{url}` followed by the endpoint's path, under
/// the plugin's own path.
#[test]
fn every_request_is_as_section_9a_writes_it() {
    let token = "plugin-token-1";
    let web = Literal::start(Some(token), &[("TEE-M", 5), ("TEE-L", 3)]);
    let f = store(&[("TEE-M", 5), ("TEE-L", 3)]);
    let c = cart(&f, &web, Some(token));
    sell(&f, "TEE-M", 2);
    f.store.run_stack(None).unwrap();
    assert_eq!(web.qoh("TEE-M"), Some(3), "the sale reached the cart");
    f.store
        .send_qoh(c, SendOptions { force: true }, None)
        .unwrap();
    common::forced_get(&f.store, c);
    let log = web.log();
    let paths: HashSet<&str> = log.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        HashSet::from(["qoh", "qoh/adjust", "qoh/set"]),
        "{log:?}"
    );
    for r in &log {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {token}").as_str()),
            "{r:?}"
        );
        match (r.method.as_str(), r.path.as_str()) {
            ("GET", "qoh") => {
                let limit: Vec<&(String, String)> =
                    r.query.iter().filter(|(n, _)| n == "limit").collect();
                assert!(
                    limit.len() == 1 && limit[0].1.parse::<u32>().is_ok_and(|n| n > 0),
                    "one whole limit: {r:?}"
                );
                assert!(r.body.is_empty(), "{r:?}");
            }
            ("POST", path) => {
                assert_eq!(r.header("content-type"), Some("application/json"), "{r:?}");
                let body = r.json();
                let (list, names) = match path {
                    "qoh/adjust" => ("adjustments", vec!["delta", "key", "sku"]),
                    "qoh/set" => ("quantities", vec!["expected", "key", "qoh", "sku"]),
                    other => panic!("no such endpoint: {other}"),
                };
                assert_eq!(fields(&body), vec![list], "{body}");
                for e in body[list].as_array().unwrap() {
                    assert_eq!(fields(e), names, "{e}");
                    assert!(e["key"].as_str().is_some_and(|k| !k.is_empty()), "{e}");
                    assert!(e["sku"].is_string(), "{e}");
                    let n = if path == "qoh/adjust" { "delta" } else { "qoh" };
                    assert!(e[n].is_i64(), "{e}");
                    if path == "qoh/set" {
                        assert!(e["expected"].is_null() || e["expected"].is_i64(), "{e}");
                    }
                }
            }
            _ => panic!("{r:?}"),
        }
    }
    let adjust = &adjust_requests(&web)[0].json()["adjustments"][0];
    assert_eq!(
        (&adjust["sku"], &adjust["delta"]),
        (&json!("TEE-M"), &json!(-2))
    );
}

/// §9a: "`Authorization: Bearer <token>` when the cart has a token": and none when it has
/// not (a plugin open to all must not be handed an `Authorization` it may log or refuse).
#[test]
fn a_cart_without_a_token_is_sent_no_authorization() {
    let web = Literal::start(None, &[("TEE-M", 5)]);
    let f = store(&[("TEE-M", 5)]);
    let c = cart(&f, &web, None);
    sell(&f, "TEE-M", 1);
    f.store.run_stack(None).unwrap();
    f.store
        .send_qoh(c, SendOptions { force: true }, None)
        .unwrap();
    let log = web.log();
    assert_eq!(log.len(), 2, "{log:?}");
    for r in &log {
        assert_eq!(r.header("authorization"), None, "{r:?}");
    }
}

/// §9a: `GET {url}qoh?cursor=C&limit=N` → `{"items":[{"sku":"TEE-M","qoh":5}],
/// "next_cursor":null|"…"}`.
///
/// A plugin makes its own cursor (here an offset in words with a space, `#` and `&`, which a
/// URL must encode), may serve fewer items than `limit` asks (its own page size), and ends the
/// listing with `null`. Get QOH asks each next page with exactly the cursor the last one
/// gave, reads every page, and takes the counts; the first page is asked without a cursor
/// (the adapter's documentation writes it `qoh?limit=N[&cursor=C]`).
#[test]
fn get_qoh_follows_the_plugins_own_cursor_until_null() {
    let skus = ["A", "B", "C", "D", "E"];
    let counts: Vec<(&str, i64)> = skus.iter().map(|s| (*s, 7)).collect();
    let web = Literal::start(None, &counts);
    web.s().page_size = 2;
    let f = store(&skus.iter().map(|s| (*s, 1)).collect::<Vec<_>>());
    let c = cart(&f, &web, None);
    let r = common::forced_get(&f.store, c);
    assert_eq!(r.updated, 5, "{r:?}");
    for s in skus {
        assert_eq!(f.store.item_qoh(s).unwrap(), 7, "{s}");
    }
    let gets: Vec<Option<String>> = web
        .log()
        .iter()
        .map(|r| {
            r.query
                .iter()
                .find(|(n, _)| n == "cursor")
                .map(|(_, v)| v.clone())
        })
        .collect();
    assert_eq!(
        gets,
        vec![
            None,
            Some("after #2&more".into()),
            Some("after #4&more".into())
        ]
    );
}

/// §9a: "A key that was *applied* before answers `duplicate` and changes nothing: that is
/// what makes retries safe."
///
/// The plugin applied a sale and its answer was lost (the connection closed). The sale goes
/// again under the same key, is answered `duplicate`, and leaves the stack as applied: the
/// cart's count moved once, and nothing waits or is bypassed.
#[test]
fn a_lost_answer_goes_again_under_its_key_and_duplicate_settles_it() {
    let web = Literal::start(None, &[("TEE-M", 5)]);
    let f = store(&[("TEE-M", 5)]);
    cart(&f, &web, None);
    sell(&f, "TEE-M", 2);
    web.then(Next::ApplyThenDrop);
    f.store.run_stack(None).unwrap();
    assert_eq!(web.qoh("TEE-M"), Some(3), "applied, answer lost");
    assert_eq!(stack(&f).len(), 1, "the sale waits to be sent again");
    f.store.run_stack(None).unwrap();
    let sent = adjust_requests(&web);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(keys_of(&sent[0]), keys_of(&sent[1]), "the same key");
    assert_eq!(sent[0].json(), sent[1].json(), "the same payload");
    assert_eq!(web.qoh("TEE-M"), Some(3), "applied once");
    assert_eq!(stack(&f), Vec::<Value>::new(), "settled as applied");
}

/// §9a: "A key whose adjustment was not applied (unknown SKU, rejected) is not remembered,
/// so an operator's retry after fixing the cause applies it."
///
/// `unknown_sku` and `rejected` are final for the change (bypassed at once, not sent again
/// by itself); the operator's retry sends it again under the same key (so a change the cart
/// did apply after all could only answer `duplicate`), and the cart, which did not remember
/// it, applies it once.
#[test]
fn a_change_not_applied_is_bypassed_and_an_operators_retry_applies_it() {
    let web = Literal::start(None, &[("B", 5)]);
    web.s().refuse.insert("B".into());
    let f = store(&[("A", 5), ("B", 5)]);
    cart(&f, &web, None);
    sell(&f, "A", 1);
    sell(&f, "B", 1);
    f.store.run_stack(None).unwrap();
    f.store.run_stack(None).unwrap();
    let held = stack(&f);
    assert_eq!(held.len(), 2, "{held:?}");
    for r in &held {
        assert_eq!(r["state"], "bypassed", "{r}");
        assert_eq!(r["attempts"], 1, "{r}");
    }
    let first = adjust_requests(&web);
    assert_eq!(first.len(), 1, "not sent again by itself: {first:?}");
    let key_of = |sku: &str, r: &Seen| -> String {
        r.json()["adjustments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["sku"] == sku)
            .map(|a| a["key"].as_str().unwrap().to_owned())
            .unwrap()
    };
    // The operator makes A on the cart and lifts B's refusal.
    web.s().items.insert("A".into(), 4);
    web.s().refuse.clear();
    for r in &held {
        f.store.stack_retry(r["id"].as_i64().unwrap()).unwrap();
    }
    f.store.run_stack(None).unwrap();
    assert_eq!(stack(&f), Vec::<Value>::new(), "both applied");
    assert_eq!((web.qoh("A"), web.qoh("B")), (Some(3), Some(4)));
    let sent = adjust_requests(&web);
    let last = sent.last().unwrap();
    for sku in ["A", "B"] {
        assert_eq!(key_of(sku, &first[0]), key_of(sku, last), "{sku}");
    }
}

/// §9a: `POST {url}qoh/set` … → "results with `applied`, `conflict` (with the current
/// `qoh`), `unknown_sku`, `rejected`."
///
/// A count compared against `expected` that the cart no longer holds is not set, and the
/// adapter reports the cart's current count; one with `expected: null` is set as asked; an
/// unknown SKU and a refusal fail by name.
#[test]
fn a_sets_results_each_mean_what_section_9a_says() {
    let web = Literal::start(None, &[("M", 5), ("S", 2), ("R", 1)]);
    web.s().refuse.insert("R".into());
    let a = HttpJsonAdapter::new(&web.url, None, Duration::from_secs(10)).unwrap();
    let set = |key: &str, sku: &str, qoh: i64, expected: Option<i64>| QuantitySet {
        key: key.into(),
        sku: sku.into(),
        remote_ref: None,
        qoh,
        expected,
    };
    let out = a
        .set_quantities(&[
            set("s1", "M", 7, Some(4)),
            set("s2", "S", 9, Some(2)),
            set("s3", "M2", 1, None),
            set("s4", "R", 1, None),
            set("s5", "M", 8, None),
        ])
        .unwrap();
    assert_eq!(out[0], SendOutcome::Conflict { current: 5 });
    assert_eq!(out[1], SendOutcome::Applied { qoh: Some(9) });
    assert!(
        matches!(&out[2], SendOutcome::Failed { message } if message.contains("M2") && message.contains("unknown_sku")),
        "{:?}",
        out[2]
    );
    assert!(
        matches!(&out[3], SendOutcome::Failed { message } if message.contains("rejected") && message.contains("refused")),
        "{:?}",
        out[3]
    );
    assert_eq!(out[4], SendOutcome::Applied { qoh: Some(8) });
    assert_eq!((web.qoh("M"), web.qoh("S")), (Some(8), Some(9)));
    let body = web.log()[0].json();
    assert_eq!(body["quantities"][0]["expected"], json!(4));
    assert_eq!(body["quantities"][2]["expected"], Value::Null);
}

/// §9a: "429 with `Retry-After` (seconds) … mean try later".
///
/// The sale waits at least the seconds the cart names, with no attempt counted (rule 10),
/// and then goes, once.
#[test]
fn a_429_waits_the_seconds_it_names_and_counts_no_attempt() {
    let web = Literal::start(None, &[("TEE-M", 5)]);
    let f = store(&[("TEE-M", 5)]);
    cart(&f, &web, None);
    sell(&f, "TEE-M", 1);
    web.then(Next::Answer(
        429,
        vec![("Retry-After", "120".into())],
        "{}".into(),
    ));
    let before = now_ms();
    f.store.run_stack(None).unwrap();
    let held = stack(&f);
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["attempts"], 0, "{held:?}");
    assert!(
        held[0]["next_attempt_at"].as_i64().unwrap() >= before + 120_000,
        "{held:?}"
    );
    f.store.run_stack(None).unwrap();
    assert_eq!(adjust_requests(&web).len(), 1, "not before the wait");
    assert_eq!(web.qoh("TEE-M"), Some(5));
}

/// §9a: "5xx mean try later".
///
/// A 503 to a sale: the sale is not lost nor bypassed; it goes again and is applied once.
#[test]
fn a_503_is_try_later() {
    let web = Literal::start(None, &[("TEE-M", 5)]);
    let f = store(&[("TEE-M", 5)]);
    cart(&f, &web, None);
    sell(&f, "TEE-M", 1);
    web.then(Next::Answer(503, vec![], "{}".into()));
    f.store.run_stack(None).unwrap();
    let held = stack(&f);
    assert!(held.len() == 1 && held[0]["state"] == "pending", "{held:?}");
    f.store.run_stack(None).unwrap();
    assert_eq!(stack(&f), Vec::<Value>::new());
    assert_eq!(web.qoh("TEE-M"), Some(4));
    assert_eq!(adjust_requests(&web).len(), 2);
}

/// §9a: "401/403 pause the cart".
///
/// The cart's changes are kept, waiting, with no attempt counted (never bypassed for
/// credentials), nothing more is sent to it while paused, and saving the cart's settings
/// (a new token) resumes it: every change then goes, once.
#[test]
fn a_401_or_403_pauses_the_cart_with_its_changes_kept() {
    for status in [401, 403] {
        let web = Literal::start(None, &[("TEE-M", 5)]);
        let f = store(&[("TEE-M", 5)]);
        // A pause long enough that no second pass of this test can outlast it.
        f.store.set_param("RetryMaxMs", "3600000").unwrap();
        cart(&f, &web, None);
        sell(&f, "TEE-M", 1);
        web.then(Next::Answer(status, vec![], "{}".into()));
        f.store.run_stack(None).unwrap();
        sell(&f, "TEE-M", 1);
        f.store.run_stack(None).unwrap();
        assert_eq!(adjust_requests(&web).len(), 1, "{status}: paused");
        let held = stack(&f);
        assert_eq!(held.len(), 2, "{status}: {held:?}");
        for r in &held {
            assert_eq!(r["state"], "pending", "{status}: {r}");
            assert_eq!(r["attempts"], 0, "{status}: {r}");
        }
        assert_eq!(web.qoh("TEE-M"), Some(5));
        // New settings resume it.
        cart(&f, &web, Some("new-token"));
        f.store.run_stack(None).unwrap();
        assert_eq!(stack(&f), Vec::<Value>::new(), "{status}");
        assert_eq!(web.qoh("TEE-M"), Some(3), "{status}");
    }
}

/// §9a: "other 4xx are permanent for the batch".
///
/// A 422 to a batch: every change of that batch is bypassed after that one request (kept
/// for the operator, not sent again by itself), and the cart's count is untouched.
#[test]
fn another_4xx_is_permanent_for_the_batch() {
    let web = Literal::start(None, &[("A", 5), ("B", 5)]);
    let f = store(&[("A", 5), ("B", 5)]);
    cart(&f, &web, None);
    sell(&f, "A", 1);
    sell(&f, "B", 1);
    web.then(Next::Answer(
        422,
        vec![],
        json!({"error": "bad"}).to_string(),
    ));
    f.store.run_stack(None).unwrap();
    f.store.run_stack(None).unwrap();
    assert_eq!(adjust_requests(&web).len(), 1);
    let held = stack(&f);
    assert_eq!(held.len(), 2, "{held:?}");
    for r in &held {
        assert_eq!(r["state"], "bypassed", "{r}");
    }
    assert_eq!((web.qoh("A"), web.qoh("B")), (Some(5), Some(5)));
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
