//! The `woocommerce` adapter's listing on shops whose answers are a little off what it
//! expects (found in review; each test failed before its fix). Each fake shop answers at most
//! `CAP` requests, then 401 (the adapter stops on it), so a listing that never ends fails
//! the test instead of hanging it.
#![cfg(feature = "emulator")]

use inventory_sync::adapter::woocommerce::WooCommerceAdapter;
use inventory_sync::adapter::{CartAdapter, DeltaSend, SendOutcome};
use inventory_sync::secret::Secret;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Requests a fake shop answers before it answers 401 to every other.
const CAP: usize = 300;

type Reply = (u16, Vec<(String, String)>, String);

/// A loopback shop answering (method, path?query, body) with `route`; logs every request.
struct FakeShop {
    url: String,
    log: Arc<Mutex<Vec<(String, String)>>>,
}

impl FakeShop {
    fn start(mut route: impl FnMut(&str, &str, &str) -> Reply + Send + 'static) -> FakeShop {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let mut reader = BufReader::new(stream);
                let mut first = String::new();
                if reader.read_line(&mut first).is_err() || first.is_empty() {
                    continue;
                }
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        break;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        if k.eq_ignore_ascii_case("content-length") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                    }
                }
                let mut body = vec![0; len];
                let _ = reader.read_exact(&mut body);
                let body = String::from_utf8_lossy(&body).into_owned();
                let mut parts = first.split_whitespace();
                let method = parts.next().unwrap_or("").to_owned();
                let target = parts.next().unwrap_or("").to_owned();
                let n = {
                    let mut l = l.lock().unwrap();
                    l.push((method.clone(), target.clone()));
                    l.len()
                };
                let (status, headers, answer) = if n > CAP {
                    (
                        401,
                        Vec::new(),
                        r#"{"code":"woocommerce_rest_cannot_view"}"#.to_owned(),
                    )
                } else {
                    route(&method, &target, &body)
                };
                let mut out = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                    answer.len()
                );
                for (k, v) in headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str("\r\n");
                out.push_str(&answer);
                let mut stream = reader.into_inner();
                let _ = stream.write_all(out.as_bytes());
                let _ = stream.flush();
            }
        });
        FakeShop { url, log }
    }

    fn gets(&self) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, _)| m == "GET")
            .count()
    }
}

fn woo(url: &str) -> WooCommerceAdapter {
    WooCommerceAdapter::new(url, "ck_x", Secret::new("cs_x"), Duration::from_secs(5)).unwrap()
}

fn param(target: &str, name: &str) -> Option<usize> {
    target
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix(name))
        .and_then(|p| p.parse().ok())
}

/// A simple product `id` with SKU `P{id}` and count `id`; `id_json` is how its id is written.
fn product(id: u64, id_json: &str) -> String {
    format!(
        r#"{{"id":{id_json},"sku":"P{id}","type":"simple","manage_stock":true,"stock_quantity":{id}}}"#
    )
}

/// `GET products` by ascending id as WordPress pages it (`offset` counts rows of the query),
/// `X-WP-Total` the query's size. `answer(id)` is how each row is answered: `None` where
/// WooCommerce leaves it out of the answer, still counted in the total (`get_items` skips an
/// object `wc_rest_check_post_permissions` refuses or `wc_get_product` cannot load).
/// A batch write answers each update as applied.
fn shop(
    ids: Vec<u64>,
    answer: impl Fn(u64) -> Option<String> + Send + 'static,
) -> impl FnMut(&str, &str, &str) -> Reply + Send {
    move |method, target, body| {
        if method == "POST" {
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            let u: Vec<String> = v["update"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| {
                    format!(
                        r#"{{"id":{},"sku":"P{}","manage_stock":true,"stock_quantity":{}}}"#,
                        u["id"], u["id"], u["stock_quantity"]
                    )
                })
                .collect();
            return (
                200,
                Vec::new(),
                format!(r#"{{"update":[{}]}}"#, u.join(",")),
            );
        }
        let per = param(target, "per_page=").unwrap_or(10);
        let rows: Vec<u64> = match target.split("include=").nth(1) {
            Some(list) => {
                let want: Vec<u64> = list
                    .split('&')
                    .next()
                    .unwrap()
                    .split("%2C")
                    .flat_map(|s| s.split(','))
                    .filter_map(|s| s.parse().ok())
                    .collect();
                ids.iter().copied().filter(|i| want.contains(i)).collect()
            }
            None => ids.clone(),
        };
        let offset =
            param(target, "offset=").unwrap_or((param(target, "page=").unwrap_or(1) - 1) * per);
        let page: Vec<String> = rows
            .iter()
            .skip(offset)
            .take(per)
            .filter_map(|i| answer(*i))
            .collect();
        (
            200,
            vec![("X-WP-Total".into(), rows.len().to_string())],
            format!("[{}]", page.join(",")),
        )
    }
}

/// Every SKU a Get QOH style walk reads at `limit` a page, or why it stopped.
fn walk(a: &WooCommerceAdapter, limit: u32) -> Result<Vec<String>, String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut cursors = std::collections::HashSet::new();
    loop {
        let p = a
            .fetch_quantities(cursor.as_deref(), limit)
            .map_err(|e| e.message())?;
        seen.extend(p.items.iter().map(|(s, _)| s.clone()));
        match p.next_cursor {
            None => return Ok(seen),
            Some(c) => {
                if !cursors.insert(c.clone()) {
                    return Err(format!(
                        "cursor {c} came back after reading {} SKUs",
                        seen.len()
                    ));
                }
                cursor = Some(c);
            }
        }
    }
}

/// 150 products; product 100 answers its id as a JSON string ("100"; a plugin filtering
/// `woocommerce_rest_prepare_product_object`, or a proxy rewriting the JSON). It is the last
/// row of the first page of 100, so each later page, asked from one row back, starts with
/// it. Its id was taken for none, so for "the last product read left the list": the listing
/// stepped back and handed back the position it was asked for, and the index a sale of a
/// SKU not yet cached builds looped for ever (here the shop stops it after `CAP` requests).
/// An id written as a string of digits is read as the number.
#[test]
fn indexing_ends_when_a_product_answers_its_id_as_a_string() {
    let server = FakeShop::start(shop((1..=150).collect(), |id| {
        Some(if id == 100 {
            product(id, "\"100\"")
        } else {
            product(id, &id.to_string())
        })
    }));
    let out = woo(&server.url).apply_deltas(&[DeltaSend {
        key: "k1".into(),
        sku: "P150".into(),
        remote_ref: None,
        delta: -1,
    }]);
    let gets = server.gets();
    // Written and read back (this shop keeps no stock, so the read-back differs: not a
    // refusal, and not an unknown SKU).
    assert!(
        matches!(&out, Ok(o) if !matches!(o[0], SendOutcome::Failed { .. })),
        "the sale of P150 was not written after {gets} GET requests: {out:?}"
    );
    assert!(gets < 10, "indexing 150 products took {gets} GET requests");
}

/// The same shop through Get QOH's paging: the cursor after page 1 comes back on every
/// later page (Get QOH stops with "a cursor it gave before came back"), so products
/// 101–150 are never read.
#[test]
fn get_qoh_paging_reads_past_a_product_whose_id_is_a_string() {
    let server = FakeShop::start(shop((1..=150).collect(), |id| {
        Some(if id == 100 {
            product(id, "\"100\"")
        } else {
            product(id, &id.to_string())
        })
    }));
    let seen = walk(&woo(&server.url), 100);
    assert!(
        matches!(&seen, Ok(s) if s.contains(&"P150".to_owned())),
        "P150 was never read: {:?}",
        seen.map(|s| s.len())
    );
}

/// 151 products by id, of which WooCommerce answers 150: the newest (151) is counted in
/// `X-WP-Total` but left out of the answer. The last page, asked from one row back, holds
/// only product 150, read before; the total said one more was left, so the same page was
/// asked again three times and the listing stopped with "the pages do not move on": every
/// index failed (no sale of a SKU not yet cached was sent), and every Get QOH at its last
/// page. A short page with nothing new now ends the listing.
#[test]
fn a_listing_ends_when_the_shop_leaves_its_newest_product_out_of_the_answer() {
    let server = FakeShop::start(shop((1..=151).collect(), |id| {
        (id != 151).then(|| product(id, &id.to_string()))
    }));
    let a = woo(&server.url);
    let seen = walk(&a, 100);
    assert!(
        matches!(&seen, Ok(s) if s.len() == 150),
        "the walk did not end as done: {seen:?}"
    );
    let out = woo(&server.url).apply_deltas(&[DeltaSend {
        key: "k1".into(),
        sku: "P150".into(),
        remote_ref: None,
        delta: -1,
    }]);
    assert!(
        matches!(&out, Ok(o) if !matches!(o[0], SendOutcome::Failed { .. })),
        "the sale of P150 was not written: {out:?}"
    );
}

/// A shop that answers at most 50 rows a page whatever `per_page` asks (a host or plugin
/// lowering the REST maximum; WooCommerce's `X-WP-Total` stays right), 300 products. Get QOH
/// reads pages 1-3 (ids 1-148); then product 1, behind the cursor, is trashed. The next
/// page, asked from one row back, starts with 149 (after the last read, 148): the listing
/// steps back a whole `per_page` (100), to a page of 50 products all read before. That page
/// is short with nothing new; ending there (as an earlier fix today did) left products
/// 149-300 unread. The listing looks just past it, and reads on.
#[test]
fn a_listing_on_a_shop_capping_its_pages_goes_on_after_a_product_is_trashed_behind_it() {
    let ids: Arc<Mutex<Vec<u64>>> = Arc::new(Mutex::new((1..=300).collect()));
    let gets = Arc::new(Mutex::new(0usize));
    let (ids2, gets2) = (ids.clone(), gets.clone());
    let server = FakeShop::start(move |method, target, _| {
        assert_eq!(method, "GET");
        let mut n = gets2.lock().unwrap();
        *n += 1;
        if *n == 4 {
            ids2.lock().unwrap().retain(|&i| i != 1); // trashed from wp-admin meanwhile
        }
        let rows = ids2.lock().unwrap().clone();
        let per = param(target, "per_page=").unwrap_or(10).min(50);
        let offset = param(target, "offset=").unwrap_or(0);
        let page: Vec<String> = rows
            .iter()
            .skip(offset)
            .take(per)
            .map(|&i| product(i, &i.to_string()))
            .collect();
        (
            200,
            vec![("X-WP-Total".into(), rows.len().to_string())],
            format!("[{}]", page.join(",")),
        )
    });
    let seen = walk(&woo(&server.url), 500);
    assert!(
        matches!(&seen, Ok(s) if s.contains(&"P300".to_owned())),
        "the walk skipped products: {:?}",
        seen.as_ref().map(|s| (s.len(), s.last().cloned()))
    );
}

/// Get QOH paging at a small `limit` (2: each page is the last product read and one more)
/// on a shop that leaves product 5 of 10 out of its answers (counted in `X-WP-Total`, as
/// `a_listing_ends_when_the_shop_leaves_its_newest_product_out_of_the_answer`'s shop does
/// with its newest). The page asked for 4 and 5 holds only 4, read before: short with
/// nothing new; ending there left products 6-10 unread. The listing looks just past it.
#[test]
fn a_product_left_out_mid_listing_does_not_end_a_walk_at_a_small_limit() {
    let server = FakeShop::start(shop((1..=10).collect(), |id| {
        (id != 5).then(|| product(id, &id.to_string()))
    }));
    let seen = walk(&woo(&server.url), 2);
    assert!(
        matches!(&seen, Ok(s) if s.contains(&"P10".to_owned())),
        "the walk skipped products: {seen:?}"
    );
}
