//! Emulator mode [`super::Mode::WooCommerce`]: WooCommerce REST API v3 products and
//! variations under `/wp-json/wc/v3/`, as the `woocommerce` adapter uses them.
//!
//! - Authentication: HTTP Basic with the consumer key as user and the consumer secret as
//!   password ([`super::Emulator::set_token`] takes `"ck:cs"`); otherwise 401
//!   `woocommerce_rest_cannot_view`.
//! - `GET products` and `GET products/{id}/variations` with `page`, `offset` (which, as in
//!   WordPress, overrides `page`), `per_page` (1–100, default 10, else 400
//!   `rest_invalid_param`) and `include` (comma-separated ids); the answers carry
//!   `X-WP-Total` and `X-WP-TotalPages`. The variations of a product the shop does not have
//!   (deleted, in the bin, or not variable) are `200 []`, as WooCommerce answers them (its
//!   list is a query by parent, with no check of the parent). Products are listed by id: plain items are `simple`
//!   products, parents of [`super::Emulator::set_variant_qoh`] are `variable` products with
//!   their `variations` ids and no stock of their own. A product answers its `name` and a
//!   variation its `attributes` (`[{id, name, slug, option}]`) as
//!   [`super::Emulator::set_item_details`] gave them, verbatim (so a test gives a name as
//!   WordPress stores it, `Tea &amp; Cake`); an empty option (an attribute set to "any") is
//!   left out, as WooCommerce leaves it.
//! - `GET products?sku=A,B` as WooCommerce's `sku` filter (`prepare_objects_query` of its
//!   products controllers): the value is cleaned as `sanitize_text_field` would (trimmed;
//!   empty or `"0"` sets no filter, as PHP's `empty`), split at commas, and the whole value
//!   is one more SKU where it has a comma; a product or variation matches a SKU as MySQL's
//!   default collation compares (case aside, so the adapter must compare exactly), and
//!   variations are listed among the products, with `type: "variation"` and their
//!   `parent_id` (products answer `parent_id: 0`). A variation's SKU is always its own here
//!   (the emulator has no variation inheriting its product's). Every product is listed
//!   (the emulator has no statuses: WooCommerce's default, `any`, lists all but the bin).
//! - `POST products/batch` and `POST products/{id}/variations/batch` with `update` (at most
//!   100 objects, else 413 `woocommerce_rest_request_entity_too_large`): `stock_quantity` is
//!   absolute; an unknown id (or one under a product the shop does not have) answers an
//!   `error` object for that entry, the others apply.
//! - There is no relative stock endpoint, as in WooCommerce.

use super::{note_batch, Answer, Cart, Request, RequestKind, Shared};
use serde_json::{json, Value};

const MAX_BATCH: usize = 100;
const MAX_PER_PAGE: usize = 100;

pub(super) fn kind(request: &Request) -> Option<RequestKind> {
    let rest = request.path.strip_prefix("/wp-json/wc/v3/")?;
    match request.method.as_str() {
        "GET" => Some(RequestKind::Get),
        "POST" | "PUT" if rest.ends_with("batch") => Some(RequestKind::Set),
        _ => None,
    }
}

fn wc_error(status: u16, code: &str, message: impl Into<String>) -> Answer {
    Answer::json(
        status,
        json!({"code": code, "message": message.into(), "data": {"status": status}}),
    )
}

/// Plain items and parents: the products, by id.
fn products(cart: &Cart) -> Vec<(u64, String)> {
    let mut out: Vec<(u64, String)> = cart
        .ids
        .iter()
        .filter(|(sku, _)| !cart.parents.contains_key(*sku))
        .filter(|(sku, _)| {
            cart.items.contains_key(*sku) || cart.parents.values().any(|p| p == *sku)
        })
        .map(|(sku, id)| (*id, sku.clone()))
        .collect();
    out.sort();
    out
}

fn variations(cart: &Cart, parent: &str) -> Vec<(u64, String)> {
    let mut out: Vec<(u64, String)> = cart
        .parents
        .iter()
        .filter(|(v, p)| p.as_str() == parent && cart.items.contains_key(*v))
        .map(|(v, _)| (cart.ids[v], v.clone()))
        .collect();
    out.sort();
    out
}

fn product_json(cart: &Cart, id: u64, sku: &str) -> Value {
    let vars = variations(cart, sku);
    if vars.is_empty() {
        json!({"id": id, "sku": sku, "name": cart.name_of(sku), "type": "simple",
               "manage_stock": true, "stock_quantity": served(cart, sku), "variations": []})
    } else {
        json!({"id": id, "sku": sku, "name": cart.name_of(sku), "type": "variable",
               "manage_stock": false, "stock_quantity": null,
               "variations": vars.iter().map(|(i, _)| *i).collect::<Vec<_>>()})
    }
}

/// A variation: its `attributes` as WooCommerce answers them, `[{id, name, slug, option}]`
/// (id 0: a custom attribute, not a global one; `name` the label as given, `slug` its
/// sanitized form, as recent WooCommerce adds it). An option given as `""` is an attribute set
/// to "any" value, which WooCommerce leaves out of the list.
fn variation_json(cart: &Cart, id: u64, sku: &str) -> Value {
    let attributes: Vec<Value> = cart
        .options_of(sku)
        .iter()
        .filter(|(_, option)| !option.is_empty())
        .map(|(name, option)| json!({"id": 0, "name": name, "slug": slug(name), "option": option}))
        .collect();
    json!({"id": id, "sku": sku, "manage_stock": true, "stock_quantity": served(cart, sku),
           "attributes": attributes})
}

/// `name` as a slug, roughly as WordPress's `sanitize_title`: lower case, each run of other
/// than letters and digits one `-`.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// `sku`'s `stock_quantity` as a listing writes it: as [`super::Emulator::set_qoh_json`]
/// gave it, else its number.
fn served(cart: &Cart, sku: &str) -> Value {
    match cart.written.get(sku) {
        Some(v) => v.clone(),
        None => json!(cart.items.get(sku)),
    }
}

fn basic_ok(cart: &Cart, request: &Request) -> bool {
    let Some(token) = &cart.token else {
        return true;
    };
    let expected = crate::adapter::common::basic_auth(token);
    request.authorization.as_deref() == Some(expected.as_str())
}

/// One page of a list, its total and its page count.
type Paged = (Vec<(u64, String)>, usize, usize);

/// A list endpoint's answer: the requested page, each entry as `to_json` makes it, with
/// WooCommerce's total headers.
fn list_answer(
    request: &Request,
    list: Vec<(u64, String)>,
    to_json: impl Fn(u64, &str) -> Value,
) -> Answer {
    // `_fields` (WordPress core's global parameter): only the named top-level fields.
    let fields: Option<Vec<String>> = request.query_pairs().and_then(|pairs| {
        pairs
            .into_iter()
            .find(|(k, _)| k == "_fields")
            .map(|(_, v)| v.split(',').map(|f| f.trim().to_owned()).collect())
    });
    let shown = |mut v: Value| {
        if let (Some(fields), Some(o)) = (&fields, v.as_object_mut()) {
            o.retain(|k, _| fields.contains(k));
        }
        v
    };
    match page_of(request, list) {
        Ok((items, total, pages)) => Answer::json(
            200,
            Value::Array(items.iter().map(|(i, s)| shown(to_json(*i, s))).collect()),
        )
        .with_header("X-WP-Total", total)
        .with_header("X-WP-TotalPages", pages),
        Err(a) => a,
    }
}

/// The SKU of the product a path's product id names.
fn parent_sku(cart: &Cart, pid: &str) -> Option<String> {
    pid.parse()
        .ok()
        .and_then(|i| cart.sku_of(i))
        .map(str::to_owned)
}

fn page_of(request: &Request, list: Vec<(u64, String)>) -> Result<Paged, Answer> {
    let pairs = request
        .query_pairs()
        .ok_or_else(|| wc_error(400, "rest_invalid_param", "bad query string"))?;
    let mut page = 1usize;
    let mut offset: Option<usize> = None;
    let mut per_page = 10usize;
    let mut include: Option<Vec<u64>> = None;
    for (k, v) in pairs {
        match k.as_str() {
            "page" => {
                page = v.parse().ok().filter(|p| *p >= 1).ok_or_else(|| {
                    wc_error(400, "rest_invalid_param", "Invalid parameter(s): page")
                })?
            }
            "offset" => {
                offset = Some(v.parse().map_err(|_| {
                    wc_error(400, "rest_invalid_param", "Invalid parameter(s): offset")
                })?)
            }
            "per_page" => {
                per_page = v
                    .parse()
                    .ok()
                    .filter(|p| (1..=MAX_PER_PAGE).contains(p))
                    .ok_or_else(|| {
                        wc_error(400, "rest_invalid_param", "Invalid parameter(s): per_page")
                    })?
            }
            "include" => {
                include = Some(v.split(',').filter_map(|i| i.trim().parse().ok()).collect())
            }
            _ => {}
        }
    }
    let list: Vec<(u64, String)> = match include {
        Some(ids) => list.into_iter().filter(|(i, _)| ids.contains(i)).collect(),
        None => list,
    };
    let total = list.len();
    let pages = total.div_ceil(per_page);
    let items = list
        .into_iter()
        .skip(offset.unwrap_or((page - 1) * per_page))
        .take(per_page)
        .collect();
    Ok((items, total, pages))
}

/// The SKUs a `sku` parameter asks for, as WooCommerce reads it; `None` where it sets no
/// filter (absent, or empty or `"0"` once trimmed, which PHP's `empty` takes as unset).
fn sku_filter(request: &Request) -> Option<Vec<String>> {
    let value = request
        .query_pairs()?
        .into_iter()
        .find(|(k, _)| k == "sku")
        .map(|(_, v)| v.trim().to_owned())?;
    if value.is_empty() || value == "0" {
        return None;
    }
    let mut skus: Vec<String> = value.split(',').map(str::to_owned).collect();
    if skus.len() > 1 {
        skus.push(value);
    }
    Some(skus)
}

/// Products and variations whose SKU is one of `skus`, by id: WordPress's default collation
/// (`utf8mb4_unicode_ci`) compares them case and accents aside, as `crate::items::sku_fold`
/// does (`sku=CAFE` answers `CAFÉ`), with its expansions (`sku=STRASSE` answers `STRAßE`),
/// and trailing spaces aside (`sku=TEE` answers `TEE `).
fn by_sku(cart: &Cart, skus: &[String]) -> Vec<(u64, String)> {
    // Trailing spaces aside too: the collation pads (`TEE ` = `TEE`).
    let fold = |s: &str| {
        crate::items::sku_fold(s.trim_end_matches(' '))
            .replace('ß', "ss")
            .replace('æ', "ae")
            .replace('œ', "oe")
    };
    let wanted: Vec<String> = skus.iter().map(|s| fold(s)).collect();
    let mut out: Vec<(u64, String)> = products(cart)
        .into_iter()
        .chain(
            cart.parents
                .keys()
                .filter(|v| cart.items.contains_key(*v))
                .map(|v| (cart.ids[v], v.clone())),
        )
        .filter(|(_, sku)| wanted.contains(&fold(sku)))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A product's or variation's entry in a listing of products filtered by SKU.
fn listed_json(cart: &Cart, id: u64, sku: &str) -> Value {
    match cart.parents.get(sku) {
        Some(parent) => {
            let mut v = variation_json(cart, id, sku);
            v["type"] = "variation".into();
            v["parent_id"] = cart.ids.get(parent).copied().unwrap_or(0).into();
            v
        }
        None => {
            let mut v = product_json(cart, id, sku);
            v["parent_id"] = 0.into();
            v
        }
    }
}

pub(super) fn handle(shared: &Shared, cart: &mut Cart, request: &Request) -> Answer {
    let Some(rest) = request.path.strip_prefix("/wp-json/wc/v3/") else {
        return wc_error(
            404,
            "rest_no_route",
            "No route was found matching the URL and request method.",
        );
    };
    if !basic_ok(cart, request) {
        return wc_error(
            401,
            "woocommerce_rest_cannot_view",
            "Sorry, you cannot list resources.",
        );
    }
    let parts: Vec<&str> = rest.split('/').collect();
    match (request.method.as_str(), parts.as_slice()) {
        ("GET", ["products"]) => match sku_filter(request) {
            Some(skus) => list_answer(request, by_sku(cart, &skus), |i, s| listed_json(cart, i, s)),
            None => list_answer(request, products(cart), |i, s| product_json(cart, i, s)),
        },
        // As WooCommerce: the list is a query by `post_parent` (`prepare_objects_query`), with
        // no check that the product exists or is variable; a product deleted, in the bin, or
        // not variable answers `200 []` with `X-WP-Total: 0`, never a 404.
        ("GET", ["products", pid, "variations"]) => {
            let parent = parent_sku(cart, pid).unwrap_or_default();
            list_answer(request, variations(cart, &parent), |i, s| {
                variation_json(cart, i, s)
            })
        }
        ("POST" | "PUT", ["products", "batch"]) => batch(shared, cart, request, None),
        // As WooCommerce: the batch checks no parent either; each `update` is answered on its
        // own (an id that is no variation of this product: an `error` entry, status 400).
        ("POST" | "PUT", ["products", pid, "variations", "batch"]) => {
            let parent = parent_sku(cart, pid).unwrap_or_default();
            batch(shared, cart, request, Some(parent))
        }
        _ => wc_error(
            404,
            "rest_no_route",
            "No route was found matching the URL and request method.",
        ),
    }
}

fn batch(shared: &Shared, cart: &mut Cart, request: &Request, parent: Option<String>) -> Answer {
    let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
        return wc_error(400, "rest_invalid_json", "Invalid JSON body passed.");
    };
    let updates = body["update"].as_array().cloned().unwrap_or_default();
    let n = updates.len()
        + body["create"].as_array().map_or(0, Vec::len)
        + body["delete"].as_array().map_or(0, Vec::len);
    if n > MAX_BATCH {
        return wc_error(
            413,
            "woocommerce_rest_request_entity_too_large",
            format!("Unable to accept more than {MAX_BATCH} items for this request."),
        );
    }
    note_batch(shared, updates.len());
    let mut out = Vec::new();
    for u in updates {
        let id = u["id"].as_u64().unwrap_or(0);
        let sku = cart.sku_of(id).map(str::to_owned);
        let valid = sku
            .as_ref()
            .filter(|s| cart.items.contains_key(*s) && cart.parents.get(*s).cloned() == parent);
        let Some(sku) = valid.cloned() else {
            // `WC_REST_CRUD_Controller::update_item`: "woocommerce_rest_{post_type}_invalid_id".
            let code = match parent {
                Some(_) => "woocommerce_rest_product_variation_invalid_id",
                None => "woocommerce_rest_product_invalid_id",
            };
            out.push(json!({"id": id, "error": {"code": code,
                "message": "Invalid ID.", "data": {"status": 400}}}));
            continue;
        };
        if let Some(q) = u.get("stock_quantity") {
            match q.as_i64() {
                Some(q) => {
                    cart.items.insert(sku.clone(), q);
                }
                None => {
                    out.push(json!({"id": id, "error": {"code": "rest_invalid_param",
                        "message": "Invalid parameter(s): stock_quantity", "data": {"status": 400}}}));
                    continue;
                }
            }
        }
        out.push(if parent.is_some() {
            variation_json(cart, id, &sku)
        } else {
            product_json(cart, id, &sku)
        });
    }
    Answer::json(200, json!({"update": out}))
}
