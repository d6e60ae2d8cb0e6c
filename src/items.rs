//! Items (products, variants, plain items), the ledger, and the one path every QOH change
//! takes: [`Store::adjust_qoh`] (DESIGN §3 rules 1–6 and 13).

use crate::carts::{Cart, CartId, SyncLevel, WebFields};
use crate::error::{Error, Result};
use crate::stack::NewRecord;
use crate::store::{sql, Store};
use rusqlite::Connection;
use serde_json::{Map, Value};
use std::sync::Arc;

/// An item's id in the store.
pub type ItemId = i64;

/// Why QOH changed; the numbers are the C ABI's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A manual adjustment.
    Adjustment = 1,
    /// A point-of-sale sale.
    PosSale = 2,
    /// An order imported from a cart.
    OrderImport = 3,
    /// Stock received (purchase order).
    Receiving = 4,
    /// Anything else, including a pull from a cart (Get QOH).
    Other = 5,
    /// A return or cancellation.
    Return = 6,
}

impl Reason {
    /// The reason with C ABI number `n`.
    pub fn from_code(n: i64) -> Result<Reason> {
        Ok(match n {
            1 => Reason::Adjustment,
            2 => Reason::PosSale,
            3 => Reason::OrderImport,
            4 => Reason::Receiving,
            5 => Reason::Other,
            6 => Reason::Return,
            _ => return Err(Error::invalid(format!("unknown reason {n} (1 to 6)"))),
        })
    }
    /// The C ABI number.
    pub fn code(self) -> i64 {
        self as i64
    }
    /// A short name for listings.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Adjustment => "adjustment",
            Reason::PosSale => "pos_sale",
            Reason::OrderImport => "order_import",
            Reason::Receiving => "receiving",
            Reason::Other => "other",
            Reason::Return => "return",
        }
    }
}

/// The 32-bit range a QOH and a change of it are kept in (a VBA `Long`), as an owner reads it
/// in an error.
pub(crate) const RANGE: &str = "-2,147,483,648 to 2,147,483,647";

/// A checked change of QOH: never 0, and within the 32-bit range a host can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delta(i64);

impl Delta {
    /// Checks `n`: 0 and anything outside `i32` are refused.
    pub fn new(n: i64) -> Result<Delta> {
        if n == 0 {
            return Err(Error::invalid("delta is 0: nothing to change"));
        }
        if n < i32::MIN as i64 || n > i32::MAX as i64 {
            return Err(Error::invalid(format!(
                "delta {n} is outside the 32-bit range ({RANGE})"
            )));
        }
        Ok(Delta(n))
    }
    /// The signed amount.
    pub fn get(self) -> i64 {
        self.0
    }
}

/// One QOH change, built with [`Adjustment::new`] and its setters.
#[derive(Debug, Clone)]
pub struct Adjustment {
    sku: String,
    delta: Delta,
    reason: Reason,
    origin_cart: Option<CartId>,
    send_to_web: bool,
    host_ref: Option<String>,
    /// How far the origin cart's own count moved, when not by `delta` (Get QOH below the
    /// floor of 0: the cart went from the 0 it was shown to its count, while QOH moved from
    /// below 0).
    origin_moved: Option<i64>,
}

impl Adjustment {
    /// A change of `delta` to `sku` for `reason`, sent to every eligible cart.
    pub fn new(sku: impl Into<String>, delta: Delta, reason: Reason) -> Self {
        Adjustment {
            sku: sku.into(),
            delta,
            reason,
            origin_cart: None,
            send_to_web: true,
            host_ref: None,
            origin_moved: None,
        }
    }
    /// The cart the change came from (an imported order, a return from it): that cart
    /// already has it and is never sent it (rule 2).
    pub fn origin_cart(mut self, cart: CartId) -> Self {
        self.origin_cart = Some(cart);
        self
    }
    /// The origin cart's count moved by `moved`, not by the change's delta.
    pub(crate) fn origin_moved(mut self, moved: i64) -> Self {
        self.origin_moved = Some(moved);
        self
    }
    /// The seeds' *Send QOH changes to web sites* box: `false` changes QOH and queues
    /// nothing for the carts (rule 3), but for the change's origin cart where real-time
    /// changes go to it: that cart has the change already, and is sent only what keeps it
    /// at the count the store publishes, where a cap, a buffer or the floor of 0 makes that
    /// move otherwise (rules 2 and 6), as without the opt-out.
    pub fn send_to_web(mut self, send: bool) -> Self {
        self.send_to_web = send;
        self
    }
    /// The host's own reference (order and line, adjustment id): the same reference again is
    /// an OK no-op, so a host retrying after its own crash never doubles a change. Read
    /// trimmed, as a SKU is: `"ORD-1/1 "` (a fixed-width field read back) is `"ORD-1/1"`.
    pub fn host_ref(mut self, host_ref: impl Into<String>) -> Self {
        self.host_ref = Some(host_ref.into());
        self
    }
    /// The reference as the store keeps it: trimmed.
    fn reference(&self) -> Option<&str> {
        self.host_ref.as_deref().map(str::trim)
    }
    /// What [`Store::adjust_qoh`] refuses of the change itself, before it reads the store: a
    /// SKU that is empty, longer than 255 bytes or holds a control character, a host reference
    /// not of 1 to 255 bytes (both trimmed), each [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument). A caller
    /// applying many changes one by one (an import) checks them all first, so that a bad one
    /// is found before the first is applied.
    pub fn check(&self) -> Result<()> {
        self.checked_sku().map(drop)
    }
    fn checked_sku(&self) -> Result<&str> {
        let sku = check_sku(&self.sku)?;
        if let Some(r) = self.reference() {
            if r.is_empty() || r.len() > 255 {
                return Err(Error::invalid(
                    "host_ref must be 1 to 255 bytes, not counting blanks around it",
                ));
            }
        }
        Ok(sku)
    }
}

/// What [`Store::adjust_qoh`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdjustOutcome {
    /// QOH changed; `queued` web stack records were written with it.
    Applied {
        /// The new QOH.
        qoh: i64,
        /// Records queued, one per eligible cart whose published count changed.
        queued: usize,
    },
    /// The host reference was seen before: nothing changed.
    Duplicate,
}

/// [`Store::seen_before`] in the caller's transaction; `sku` is the adjustment's, checked.
fn seen_before(c: &Connection, adjustment: &Adjustment, sku: &str) -> Result<bool> {
    let (Some(r), Some(given)) = (adjustment.reference(), adjustment.host_ref.as_deref()) else {
        return Ok(false);
    };
    // Until 2026-12-03 a reference was kept as given, blanks and all (schema 17 trimmed
    // them, but where another row had the trimmed form): a retry of one kept so is found by
    // that form first.
    let mut found = None;
    if given != r {
        found = sql::ledger_by_host_ref(c, given)?;
    }
    if found.is_none() {
        found = sql::ledger_by_host_ref(c, r)?;
    }
    let Some((was_sku, was_delta, was_reason, was_origin, was_sent)) = found else {
        return Ok(false);
    };
    let now = (
        adjustment.delta.get(),
        adjustment.reason.code(),
        adjustment.origin_cart,
    );
    // A change made before schema 15 did not note whether it went to the carts.
    let sent = was_sent.unwrap_or(adjustment.send_to_web);
    if was_sku == sku && (was_delta, was_reason, was_origin) == now {
        if sent == adjustment.send_to_web {
            return Ok(true);
        }
        // Skipped as seen before, a change made with the carts left out and retried to
        // reach them would never reach them.
        let (was, is) = if sent {
            ("made and sent to the carts", "not to be sent")
        } else {
            ("made without sending it to the carts", "to be sent")
        };
        // Either way the store's QOH has the change; whichever the host meant, Send QOH
        // brings the carts to it.
        return Err(Error::refused(format!(
            "host_ref {r:?} was used for the same change, {}, {was}; this one asks it {is} \
             and was not applied again: run Send QOH to website for the item to bring the \
             carts to the store's count",
            describe(sku, now.0, now.1, now.2),
        )));
    }
    Err(Error::refused(format!(
        "host_ref {r:?} was used for another change, {}; this one, {}, was not applied: give \
         each change its own reference (the order and its line, say)",
        describe(&was_sku, was_delta, was_reason, was_origin),
        describe(sku, now.0, now.1, now.2)
    )))
}

/// A change as [`seen_before`]'s refusals name it: `"H" -2 (order_import, from cart 1)`.
fn describe(sku: &str, delta: i64, reason: i64, origin: Option<CartId>) -> String {
    let reason = Reason::from_code(reason).map_or("unknown reason", Reason::name);
    match origin {
        Some(o) => format!("{sku:?} {delta:+} ({reason}, from cart {o})"),
        None => format!("{sku:?} {delta:+} ({reason})"),
    }
}

/// An item as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The item's id.
    pub id: ItemId,
    /// Its SKU.
    pub sku: String,
    /// Its product, when it is a variant.
    pub parent_id: Option<ItemId>,
    /// Attribute/option values (Size=M) as a JSON object.
    pub attributes: String,
    /// A description.
    pub description: String,
    /// The order manager's QOH.
    pub qoh: i64,
    /// Whether other items name it as their product.
    pub has_variants: bool,
}

/// A whole number as a host's JSON may write it: `5`, or `5.0` and `-0` (a .NET or
/// JavaScript host writing a double; `-0` is 0, which .NET Core 3.0 and later write for a
/// negative zero). Text is not a number here. Read with `as_i64` alone, `-0` was refused as
/// "not a whole number in the 32-bit range".
pub(crate) fn json_whole(v: &Value) -> Option<i64> {
    v.is_number()
        .then(|| crate::adapter::common::whole_count(v)?.ok())
        .flatten()
}

pub(crate) fn check_sku(sku: &str) -> Result<&str> {
    let s = sku.trim();
    if s.is_empty() {
        return Err(Error::invalid("SKU is empty"));
    }
    if s.len() > 255 {
        return Err(Error::invalid("SKU is longer than 255 bytes"));
    }
    if s.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "SKU {s:?} contains a control character"
        )));
    }
    Ok(s)
}

/// A SKU as a shop's look-ups compare it, for telling the owner that two SKUs would be
/// taken for one another (never for matching: the store, and every adapter, match SKUs
/// exactly). WooCommerce keeps SKUs in MySQL under WordPress's `utf8mb4_unicode_ci`
/// collation, which compares without case or accents (`café` = `CAFE`) and refuses a second
/// product with such a SKU; and a SKU pasted from another system may be the same letters
/// written otherwise: composed or decomposed (`é` as U+00E9, or `e` and U+0301, which macOS
/// file names and some spreadsheets write), with an invisible character (a zero-width space,
/// a byte-order mark, a soft hyphen), a no-break space for a space, or full-width letters.
/// Those look the same on screen, so the owner cannot tell the two items apart.
///
/// Folded: lower case; the accented Latin letters (Latin-1, Latin Extended-A and -B,
/// Latin Extended Additional) their base letter, and so the Greek and Cyrillic ones
/// ([`ACCENTED_OTHER`]: `Й` as `И`); Greek's final sigma sigma; combining marks,
/// invisible format characters and variation selectors left out; every space a plain one;
/// full-width ASCII ASCII. No Unicode-normalization crate is used: the one in the dependency
/// tree (through `url`) needs a newer Rust than the crate's 1.75, and this covers the letters
/// SKUs are written in. (Added 2026-12-05: until then Get QOH's *create records for new
/// products* told SKUs apart by case alone, and made `CAFE\u{301}-1` beside the store's
/// `CAFÉ-1`.)
pub(crate) fn sku_fold(sku: &str) -> String {
    let mut out = String::with_capacity(sku.len());
    for c in sku.chars() {
        let c = match c {
            _ if c.is_ascii() => c,
            _ if invisible_in_sku(c) => continue,
            _ if c.is_whitespace() => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => base_letter(c).unwrap_or(c),
        };
        // Greek's final sigma is sigma's lower case at a word's end, as `str::to_lowercase`
        // writes it and one char's lower case cannot: the cart's `καφες` is the store's
        // `ΚΑΦΕΣ`. The case-only check before this fold kept them together; folded apart
        // (2026-12-05, fixed the same day), Get QOH made the cart's a second item.
        out.extend(c.to_lowercase().map(|l| if l == 'ς' { 'σ' } else { l }));
    }
    out
}

/// The base letter of `c`, one of [`ACCENTED`] or [`ACCENTED_OTHER`], by a binary search of
/// the tables read once: a search along the Latin letters for each non-ASCII character took
/// some 0.7 s to fold 100,000 Greek or Chinese SKUs, as Get QOH and the preflight do
/// (measured 2026-12-05).
fn base_letter(c: char) -> Option<char> {
    static TABLE: std::sync::OnceLock<Vec<(char, char)>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t: Vec<(char, char)> = ACCENTED
            .chars()
            .zip(BASE_LETTERS.chars())
            .chain(ACCENTED_OTHER.chars().zip(BASE_OTHER.chars()))
            .collect();
        t.sort_unstable();
        t
    });
    let at = table.binary_search_by_key(&c, |(a, _)| *a).ok()?;
    Some(table[at].1)
}

/// Whether `c` is a combining mark or a character that shows nothing, for [`sku_fold`].
pub(crate) fn invisible_in_sku(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}' // combining diacritical marks
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE20}'..='\u{FE2F}'
        | '\u{00AD}' // soft hyphen
        | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200F}' // zero-width spaces and joiners, direction marks
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{FE00}'..='\u{FE0F}' // variation selectors
        | '\u{FEFF}' // byte-order mark
    )
}

/// The Latin letters with a canonical decomposition into an ASCII letter and combining
/// marks, in code point order (generated from Unicode's decompositions; [`base_letter`]
/// searches it so); [`BASE_LETTERS`] holds each one's ASCII letter at the same position.
const ACCENTED: &str = concat!(
    "ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíî",
    "ïñòóôõöùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜ",
    "ĝĞğĠġĢģĤĥĨĩĪīĬĭĮįİĴĵĶķĹĺĻļĽľŃńŅņŇňŌōŎŏŐő",
    "ŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽ",
    "žƠơƯưǍǎǏǐǑǒǓǔǕǖǗǘǙǚǛǜǞǟǠǡǦǧǨǩǪǫǬǭǰǴǵǸǹǺǻ",
    "ȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȞȟȦȧȨȩȪȫȬȭȮȯ",
    "ȰȱȲȳḀḁḂḃḄḅḆḇḈḉḊḋḌḍḎḏḐḑḒḓḔḕḖḗḘḙḚḛḜḝḞḟḠḡḢḣ",
    "ḤḥḦḧḨḩḪḫḬḭḮḯḰḱḲḳḴḵḶḷḸḹḺḻḼḽḾḿṀṁṂṃṄṅṆṇṈṉṊṋ",
    "ṌṍṎṏṐṑṒṓṔṕṖṗṘṙṚṛṜṝṞṟṠṡṢṣṤṥṦṧṨṩṪṫṬṭṮṯṰṱṲṳ",
    "ṴṵṶṷṸṹṺṻṼṽṾṿẀẁẂẃẄẅẆẇẈẉẊẋẌẍẎẏẐẑẒẓẔẕẖẗẘẙẠạ",
    "ẢảẤấẦầẨẩẪẫẬậẮắẰằẲẳẴẵẶặẸẹẺẻẼẽẾếỀềỂểỄễỆệỈỉ",
    "ỊịỌọỎỏỐốỒồỔổỖỗỘộỚớỜờỞởỠỡỢợỤụỦủỨứỪừỬửỮữỰự",
    "ỲỳỴỵỶỷỸỹ",
);
/// The ASCII letter of each of [`ACCENTED`], by position.
const BASE_LETTERS: &str = concat!(
    "AAAAAACEEEEIIIINOOOOOUUUUYaaaaaaceeeeiii",
    "inooooouuuuyyAaAaAaCcCcCcCcDdEeEeEeEeEeG",
    "gGgGgGgHhIiIiIiIiIJjKkLlLlLlNnNnNnOoOoOo",
    "RrRrRrSsSsSsSsTtTtUuUuUuUuUuUuWwYyYZzZzZ",
    "zOoUuAaIiOoUuUuUuUuUuAaAaGgKkOoOojGgNnAa",
    "AaAaEeEeIiIiOoOoRrRrUuUuSsTtHhAaEeOoOoOo",
    "OoYyAaBbBbBbCcDdDdDdDdDdEeEeEeEeEeFfGgHh",
    "HhHhHhHhIiIiKkKkKkLlLlLlLlMmMmMmNnNnNnNn",
    "OoOoOoOoPpPpRrRrRrRrSsSsSsSsSsTtTtTtTtUu",
    "UuUuUuUuVvVvWwWwWwWwWwXxXxYyZzZzZzhtwyAa",
    "AaAaAaAaAaAaAaAaAaAaAaEeEeEeEeEeEeEeEeIi",
    "IiOoOoOoOoOoOoOoOoOoOoOoOoUuUuUuUuUuUuUu",
    "YyYyYyYy",
);

/// The Greek and Cyrillic letters with a canonical decomposition into a letter of their own
/// script and combining marks (`Й` is `И` and a breve), in code point order (generated from
/// Unicode's decompositions); [`BASE_OTHER`] holds each one's base letter at the same
/// position. Without them, [`sku_fold`] left `Й` composed but took the breve off a
/// decomposed one, so a cart's decomposed `ЧАЙ-1` was a twin of the store's `ЧАИ-1` (a
/// different word) while the store's composed `ЧАЙ-1` beside it was made a second item
/// (from a review, 2026-12-05). Now all three are one: refused as twins, with the cart's
/// SKU written out, which the owner can create by hand, rather than the same stock twice.
const ACCENTED_OTHER: &str = concat!(
    "ΆΈΉΊΌΎΏΐΪΫάέήίΰϊϋόύώϓϔ",
    "ЀЁЃЇЌЍЎЙйѐёѓїќѝўѶѷӁӂӐӑӒӓӖӗӚӛӜӝӞӟӢӣӤӥӦӧӪӫӬӭӮӯӰӱӲӳӴӵӸӹ",
);
/// The base letter of each of [`ACCENTED_OTHER`], by position.
const BASE_OTHER: &str = concat!(
    "ΑΕΗΙΟΥΩιΙΥαεηιυιυουωϒϒ",
    "ЕЕГІКИУИиеегікиуѴѵЖжАаАаЕеӘәЖжЗзИиИиОоӨөЭэУуУуУуЧчЫы",
);

/// Why an item's attributes cannot be stored, if they cannot: the check of a host's
/// (`Store::upsert_item_json`), which Get QOH's cart-made attributes pass too
/// ([`cart_attributes`]).
fn check_attributes(a: &Map<String, Value>) -> std::result::Result<(), &'static str> {
    match a.values().all(Value::is_string) {
        true => Ok(()),
        false => Err("attribute values must be strings"),
    }
}

/// The most bytes of a description, or of an attribute's name or value, Get QOH takes from
/// a cart ([`crate::adapter::CataloguePage::details`]).
pub(crate) const CART_TEXT_MAX: usize = 255;

/// A cart's text as Get QOH stores it: control characters (a line break in a product's
/// name), line and paragraph separators and bidirectional embeddings, overrides and isolates
/// ([`crate::store::unprintable_in_name`]) made spaces, blanks trimmed, cut at
/// [`CART_TEXT_MAX`] bytes on a character boundary. Cut rather than refused: a long name must
/// not keep the product from being created. (Until 2026-12-05 a U+202E in a shop's product
/// name was kept, and the back office showed the rest of the item's name reversed.)
pub(crate) fn cart_text(raw: &str) -> String {
    let clean: String = raw
        .chars()
        .map(|c| match crate::store::unprintable_in_name(c) {
            true => ' ',
            false => c,
        })
        .collect();
    let mut s = clean.trim();
    if s.len() > CART_TEXT_MAX {
        let mut end = CART_TEXT_MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s = s[..end].trim_end();
    }
    s.to_owned()
}

/// A cart's (option name, value) pairs as an item's attributes JSON, each cleaned as
/// [`cart_text`]: a pair without a name, or with a name given before, is left out. Passes
/// the check a host's attributes pass (`{}` where it would not).
pub(crate) fn cart_attributes(pairs: &[(String, String)]) -> String {
    let mut map = Map::new();
    for (name, value) in pairs {
        let name = cart_text(name);
        if name.is_empty() || map.contains_key(&name) {
            continue;
        }
        map.insert(name, Value::String(cart_text(value)));
    }
    match check_attributes(&map) {
        Ok(()) => Value::Object(map).to_string(),
        Err(_) => "{}".to_owned(),
    }
}

/// A parsed item JSON (`{"sku","qoh"?,"parent_sku"?,"attributes"?,"description"?}`).
pub(crate) struct ItemSpec {
    pub sku: String,
    pub qoh: Option<i64>,
    pub parent_sku: Option<String>,
    pub attributes: Option<String>,
    pub description: Option<String>,
}

fn parse_item_json(json: &str) -> Result<ItemSpec> {
    let map = host_object(json, "item")?;
    let sku = match map.get("sku") {
        Some(Value::String(s)) => check_sku(s)?.to_owned(),
        _ => return Err(Error::invalid("item JSON: sku must be a string")),
    };
    let text = |k: &str| -> Result<Option<String>> {
        match map.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            _ => Err(Error::invalid(format!(
                "item {sku:?}: {k} must be a string"
            ))),
        }
    };
    for k in map.keys() {
        if !matches!(
            k.as_str(),
            "sku" | "qoh" | "parent_sku" | "attributes" | "description"
        ) {
            return Err(Error::invalid(format!("item {sku:?}: unknown key {k:?}")));
        }
    }
    let qoh = match map.get("qoh") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            json_whole(v)
                .filter(|n| (i32::MIN as i64..=i32::MAX as i64).contains(n))
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "item {sku:?}: qoh must be a whole number in the 32-bit range ({RANGE})"
                    ))
                })?,
        ),
    };
    let attributes = match map.get("attributes") {
        None | Some(Value::Null) => None,
        Some(Value::Object(a)) => {
            check_attributes(a).map_err(|why| Error::invalid(format!("item {sku:?}: {why}")))?;
            Some(Value::Object(a.clone()).to_string())
        }
        _ => {
            return Err(Error::invalid(format!(
                "item {sku:?}: attributes must be an object"
            )))
        }
    };
    // Named in the refusal: "SKU is empty" for a host's empty parent box sent the owner to
    // the item's own SKU, which was fine.
    let parent_sku = text("parent_sku")?
        .map(|p| {
            check_sku(&p).map(str::to_owned).map_err(|e| {
                Error::new(
                    e.kind(),
                    format!("item {sku:?}: parent_sku: {}", e.message()),
                )
            })
        })
        .transpose()?;
    Ok(ItemSpec {
        qoh,
        parent_sku,
        attributes,
        description: text("description")?,
        sku,
    })
}

/// Which item cart `cart` is shown for `item`, and its published count there now. `None` when
/// the cart is never sent that item (rule 5, or web fields `sync` off).
pub(crate) fn published_now(
    c: &Connection,
    cart: &Cart,
    item: &Item,
) -> Result<Option<(ItemId, i64)>> {
    Ok(
        published_change(c, cart.id, cart.level(), item, item.qoh, item.qoh, None)?
            .map(|(target, now, _)| (target, now)),
    )
}

/// [`published_now`], with `item`'s own web fields on `cart` already read (`fields`).
pub(crate) fn published_with(
    c: &Connection,
    cart: &Cart,
    item: &Item,
    fields: &WebFields,
) -> Result<Option<(ItemId, i64)>> {
    Ok(published_change(
        c,
        cart.id,
        cart.level(),
        item,
        item.qoh,
        item.qoh,
        Some(fields),
    )?
    .map(|(target, now, _)| (target, now)))
}

/// Which item cart `cart_id` is shown for a change of `item`, and its published count there
/// before and after the item's QOH goes from `old_qoh` to `new_qoh`; `None` when the cart is
/// never sent that item.
fn published_change(
    c: &Connection,
    cart_id: CartId,
    level: SyncLevel,
    item: &Item,
    old_qoh: i64,
    new_qoh: i64,
    own_fields: Option<&WebFields>,
) -> Result<Option<(ItemId, i64, i64)>> {
    // The item's own web fields on this cart: given by the caller when it read them for every
    // cart at once (the enqueue hot path), else read here.
    let own_wf = || -> Result<WebFields> {
        match own_fields {
            Some(wf) => Ok(wf.clone()),
            None => sql::web_fields_get(c, cart_id, item.id),
        }
    };
    match level {
        SyncLevel::Attribute => {
            if item.has_variants {
                return Ok(None);
            }
            let wf = own_wf()?;
            if !wf.sync {
                return Ok(None);
            }
            Ok(Some((
                item.id,
                wf.published(old_qoh),
                wf.published(new_qoh),
            )))
        }
        SyncLevel::Sku => {
            let product = match item.parent_id {
                Some(p) => p,
                None if item.has_variants => item.id,
                None => {
                    let wf = own_wf()?;
                    if !wf.sync {
                        return Ok(None);
                    }
                    return Ok(Some((
                        item.id,
                        wf.published(old_qoh),
                        wf.published(new_qoh),
                    )));
                }
            };
            let pwf = sql::web_fields_get(c, cart_id, product)?;
            if !pwf.sync {
                return Ok(None);
            }
            // The product's count is the sum of its variants' published counts; only the
            // changed variant's term differs between before and after. A variant whose web
            // fields on this cart say `sync: false` adds nothing: the owner keeps its stock
            // off this cart (sold in the shop only, say), as an `Attribute` cart would.
            let mut others = 0i64;
            let mut own = None;
            for (vid, vqoh, vwf) in sql::variants_with_fields(c, cart_id, product)? {
                if vid == item.id {
                    own = Some(vwf);
                } else if vwf.sync {
                    others += vwf.published(vqoh);
                }
            }
            let (b, a) = match own {
                Some(vwf) if vwf.sync => (
                    others + vwf.published(old_qoh),
                    others + vwf.published(new_qoh),
                ),
                _ => (others, others),
            };
            Ok(Some((product, pwf.published(b), pwf.published(a))))
        }
    }
}

/// The item a cart at `level` is shown for `item`, whatever its web fields say (rule 5): the
/// item itself, or on a `Sku` cart its product; `None` for a product with variants on an
/// `Attribute` cart.
pub(crate) fn shown_as(level: SyncLevel, item: &Item) -> Option<ItemId> {
    match level {
        SyncLevel::Sku => Some(item.parent_id.unwrap_or(item.id)),
        SyncLevel::Attribute => (!item.has_variants).then_some(item.id),
    }
}

/// Moves by `moved` the count kept of what `cart` shows of `item` taken off it (`sync:
/// false`), if one is kept: a change made there (an order or return imported from it) is in
/// its count.
fn kept_follows(c: &Connection, cart: &Cart, item: &Item, moved: i64) -> Result<()> {
    let Some(target) = shown_as(cart.level(), item) else {
        return Ok(());
    };
    if let Some(kept) = sql::pulled_get(c, cart.id, target)? {
        sql::pulled_set(c, cart.id, target, kept + moved)?;
    }
    Ok(())
}

/// Runs `change`, which adds a variant to `product` or takes one away, and queues for
/// every `Sku` cart the change it makes to the product's published count: such a cart
/// shows a product as the total of its variants (rule 5), and must be told of a variant
/// coming with stock as of one going, like of any other change. Rule 13's "creation
/// queues nothing" is about the new item itself, which no cart has yet. No cart while
/// SynchQOH is off: the targets' query reads it.
/// After a variant of `product` is deleted: if it was the last, the product is a plain item
/// again, which `Attribute` carts are shown. One such cart it was taken off (`sync: false`)
/// shows 0 of it (its count had to be 0 there before its first variant) and is kept at 0, so
/// that putting it back sends the cart what the store publishes by then; with nothing kept,
/// the put-back sent nothing and the cart went on showing 0 (found by a review). One it is on
/// with a count kept of what it shows (the 0 Send QOH set its listing to while the cart's
/// level did not show it: `Store::send_zeros`) is sent the difference from that count, as when
/// real-time changes start, and the count is forgotten: from here on each change moves the
/// cart's count. Left kept, it was taken for what the cart showed when real-time changes next
/// started, and the cart was sent the product's count again on top of the changes it had.
fn product_made_plain(c: &Connection, product: ItemId, workstation: &str) -> Result<()> {
    let item = sql::item_by_id(c, product)?;
    if item.has_variants {
        return Ok(());
    }
    for (cart, level) in sql::realtime_targets(c)? {
        if level != SyncLevel::Attribute {
            continue;
        }
        let wf = sql::web_fields_get(c, cart, product)?;
        let kept = sql::pulled_get(c, cart, product)?;
        match kept {
            None if !wf.sync => sql::pulled_set(c, cart, product, 0)?,
            Some(kept) if wf.sync => {
                let published = wf.published(item.qoh);
                if published != kept {
                    crate::manual::queue_correction(
                        c,
                        cart,
                        product,
                        published - kept,
                        workstation,
                    )?;
                }
                sql::pulled_forget(c, cart, product)?;
            }
            _ => {}
        }
    }
    Ok(())
}

pub(crate) fn queue_product_total<T>(
    c: &Connection,
    workstation: &str,
    product: Option<ItemId>,
    change: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    let sku_carts: Vec<CartId> = match product {
        Some(_) => sql::realtime_targets(c)?
            .into_iter()
            .filter(|(_, level)| *level == SyncLevel::Sku)
            .map(|(id, _)| id)
            .collect(),
        None => Vec::new(),
    };
    let product = product.filter(|_| !sku_carts.is_empty());
    let shown = |c: &Connection| -> Result<Vec<Option<(ItemId, i64)>>> {
        let Some(p) = product else {
            return Ok(Vec::new());
        };
        let p = sql::item_by_id(c, p)?;
        sku_carts
            .iter()
            .map(|&cart| {
                Ok(
                    published_change(c, cart, SyncLevel::Sku, &p, p.qoh, p.qoh, None)?
                        .map(|(t, b, _)| (t, b)),
                )
            })
            .collect()
    };
    let before = shown(c)?;
    let out = change(c)?;
    let after = shown(c)?;
    let mut records = Vec::new();
    for ((cart, b), a) in sku_carts.iter().zip(before).zip(after) {
        if let (Some((target, b)), Some((_, a))) = (b, a) {
            if a != b {
                records.push(NewRecord {
                    cart_id: *cart,
                    item_id: target,
                    delta: a - b,
                    reason: Reason::Other,
                    origin_cart_id: None,
                    workstation,
                });
            }
        }
    }
    sql::stack_insert_many(c, &records, None)?;
    Ok(out)
}

/// Why `product` cannot take variant `variant`: it is a variant itself, or a plain item holding
/// stock (a product with variants holds none: bring it to 0 first). Asked of a host's new
/// variant and of one Get QOH creates.
pub(crate) fn refuse_as_product(product: &Item, variant: &str) -> Result<()> {
    if product.parent_id.is_some() {
        return Err(Error::refused(format!(
            "item {variant:?}: {:?} is itself a variant and cannot have variants",
            product.sku
        )));
    }
    if !product.has_variants && product.qoh != 0 {
        return Err(Error::refused(format!(
            "product {:?} holds QOH {}; bring it to 0 before it gets variants, which hold the stock",
            product.sku, product.qoh
        )));
    }
    Ok(())
}

/// Inserts `sku` as a variant of `product` (which [`refuse_as_product`] let pass): refused as
/// its first while an `Attribute` cart shows units of the product
/// ([`refuse_first_variant_while_shown`]); the product's `Sku` carts are told of the units it
/// gains ([`queue_product_total`]).
pub(crate) fn insert_variant(
    c: &Connection,
    workstation: &str,
    product: &Item,
    sku: &str,
    attributes: &str,
    description: &str,
    qoh: i64,
) -> Result<ItemId> {
    if !product.has_variants {
        refuse_first_variant_while_shown(c, product, sku)?;
        zeroed_where_shown_by_hand(c, product)?;
    }
    queue_product_total(c, workstation, Some(product.id), |c| {
        sql::item_insert(c, sku, Some(product.id), attributes, description, qoh)
    })
}

/// A plain item given its first variant holds no stock of its own and is no longer sent to
/// an `Attribute` cart (rule 5): such a cart the store knows still shows units of it (kept
/// from a Get QOH on a cart real-time changes do not go to, or from when the item was taken
/// off it) would go on selling that count for good, as after a delete (`Store::delete_item`
/// refuses the same). Refused, naming the cart and how to bring it to 0 first.
fn refuse_first_variant_while_shown(c: &Connection, product: &Item, variant: &str) -> Result<()> {
    for cart in sql::carts_all(c)? {
        if cart.level() != SyncLevel::Attribute {
            continue;
        }
        // (A count at or below 0, backorders the cart counts, puts nothing on sale.)
        if let Some(kept) = sql::pulled_get(c, cart.id, product.id)?.filter(|k| *k > 0) {
            return Err(Error::refused(format!(
                "item {variant:?}: cart {:?} still shows {kept} of {:?}, which as a product \
                 with variants is no longer sent to that cart; bring the cart to 0 of it first \
                 (Send QOH to the cart, or put the item back on it if it was taken off), then \
                 add the variant",
                cart.name, product.sku
            )));
        }
    }
    Ok(())
}

/// A plain item given its first variant is no longer sent to an `Attribute` cart (rule 5), not
/// by Send QOH either. Such a cart that real-time changes do not reach, and that was sent or
/// read the item's count (or that a manual run holds, which may be sending it), may still show
/// a count the shop sold since (6 sent, then sold in the shop: the cart shows 6 of a product
/// the store has none of), and nothing would ever correct it: its next Send QOH sets the item
/// to 0 there, as for a deleted item (`Store::delete_item`). (A cart it was taken off, with a
/// count kept of what it shows, refuses the variant: [`refuse_first_variant_while_shown`].)
fn zeroed_where_shown_by_hand(c: &Connection, product: &Item) -> Result<()> {
    let targets = sql::realtime_targets(c)?;
    for cart in sql::carts_all(c)? {
        if cart.level() != SyncLevel::Attribute
            || !cart.capabilities.send
            || targets.iter().any(|(id, _)| *id == cart.id)
        {
            continue;
        }
        let wf = sql::web_fields_get(c, cart.id, product.id)?;
        if wf.sync
            && (sql::cart_was_shown(c, cart.id, product.id)?
                || sql::cart_held_by_sender(c, cart.id, crate::store::now_ms())?)
        {
            sql::deleted_on_cart_note(c, cart.id, &product.sku, wf.remote_ref.as_deref())?;
        }
    }
    Ok(())
}

/// The items a cart at `old` level is shown (rule 5) and one at `new` level is not: each
/// variant when it goes from `Attribute` to `Sku` (which is shown products' totals), each
/// product with variants when it goes the other way; none when the level stays.
fn shown_only_at(c: &Connection, old: SyncLevel, new: SyncLevel) -> Result<Vec<(ItemId, String)>> {
    match (old, new) {
        (SyncLevel::Sku, SyncLevel::Attribute) => sql::products_with_variants(c),
        (SyncLevel::Attribute, SyncLevel::Sku) => sql::variants_all(c),
        _ => Ok(Vec::new()),
    }
}

/// Refuses to change `cart`'s real-time level from `old` to `new` while an item the old level
/// shows and the new one does not is taken off the cart (`sync: false`) with a count kept of
/// what the cart shows above 0: at the new level that listing is never sent a count again,
/// not when the item is put back either (a variant put back on a `Sku` cart joins its
/// product's total), and the cart would sell those units for good (as [`Store::delete_item`]
/// and a first variant refuse). Put back first, it is sent what the store publishes, and the
/// change then sets it to 0 at the next Send QOH ([`level_changed`]).
pub(crate) fn refuse_level_change_while_kept_off(
    c: &Connection,
    cart: &Cart,
    old: SyncLevel,
    new: SyncLevel,
) -> Result<()> {
    for (id, sku) in shown_only_at(c, old, new)? {
        if sql::web_fields_get(c, cart.id, id)?.sync {
            continue;
        }
        // (A count at or below 0, backorders the cart counts, puts nothing on sale.)
        if let Some(kept) = sql::pulled_get(c, cart.id, id)?.filter(|k| *k > 0) {
            return Err(Error::refused(format!(
                "cart {:?} still shows {kept} of {sku:?}, as when it was taken off that cart \
                 (sync: false), and at level {:?} is never sent it again: put it back on the \
                 cart (which sends it what the store publishes) first, then change the level \
                 (its next Send QOH then sets {sku:?} to 0 there)",
                cart.name,
                new.as_str()
            )));
        }
    }
    Ok(())
}

/// A cart whose real-time level changes from `old` to `new` is never sent again what the old
/// level showed it and the new one does not (rule 5): a product's total when it goes from
/// `Sku` to `Attribute` (or no real-time sync), each variant's own count when it goes from
/// `Attribute` to `Sku`. Each it was sent or read the count of, and that is not taken off it,
/// is set to 0 there at its next Send QOH, which the owner runs to set the new level's counts
/// (else that count stays on sale there for good, as after a first variant: a variant's 5 on
/// a cart now sent its product's total sold the units the shop sold since, until 2026-12-05);
/// the preflight lists each.
///
/// Until then the cart shows what it was shown at the old level, which is kept (the count kept
/// already, else what the store published there: a cart real-time changes went to, with no
/// record waiting, as the change asks, shows that), as a count kept of an item taken off the
/// cart is: switched back before that Send QOH, a cart real-time changes go to is sent the
/// difference to what the store publishes by then, and Get QOH measures from it (until
/// 2026-12-05 the sales made meanwhile stayed on sale there). The 0 Send QOH sets replaces it
/// (`Store::send_zeros`). Called once the cart is saved at `new` level.
pub(crate) fn level_changed(
    c: &Connection,
    cart: CartId,
    old: SyncLevel,
    new: SyncLevel,
) -> Result<()> {
    for (id, sku) in shown_only_at(c, old, new)? {
        let wf = sql::web_fields_get(c, cart, id)?;
        // (One taken off the cart keeps its count as it was: it was refused above 0.)
        if !wf.sync || !sql::cart_was_shown(c, cart, id)? {
            continue;
        }
        sql::deleted_on_cart_note(c, cart, &sku, wf.remote_ref.as_deref())?;
        if sql::pulled_get(c, cart, id)?.is_none() {
            let item = sql::item_by_id(c, id)?;
            if let Some((_, shows, _)) =
                published_change(c, cart, old, &item, item.qoh, item.qoh, None)?
            {
                sql::pulled_set(c, cart, id, shows)?;
            }
        }
    }
    Ok(())
}

/// The one path of every QOH change (rule 1), inside the caller's transaction: the QOH, the
/// ledger row, and one web stack record for every cart of `targets` (from
/// [`sql::realtime_targets`], read in the same transaction) whose published count moves.
/// Every refusal comes before the first write: [`Store::adjust_qoh`] runs it without a
/// savepoint inside a host transaction. `stack_last` is the highest id the stack ever gave
/// where the caller knows it ([`Store::change_reads`]), and is left at the last this gave.
pub(crate) fn apply_change(
    c: &Connection,
    item: &Item,
    change: &Adjustment,
    workstation: &str,
    targets: &[(CartId, SyncLevel)],
    stack_last: &mut Option<i64>,
) -> Result<AdjustOutcome> {
    let (delta, reason, origin_cart) = (change.delta.get(), change.reason, change.origin_cart);
    let origin_moved = change.origin_moved.unwrap_or(delta);
    if item.has_variants {
        return Err(Error::refused(format!(
            "item {:?} is a product with variants and holds no stock of its own; adjust a variant",
            item.sku
        )));
    }
    let new_qoh = item.qoh + delta;
    if new_qoh < i32::MIN as i64 || new_qoh > i32::MAX as i64 {
        return Err(Error::invalid(format!(
            "item {:?}: QOH {} {:+} leaves the 32-bit range ({RANGE})",
            item.sku, item.qoh, delta
        )));
    }
    let mut queued = 0;
    // Rule 3's opt-out keeps the change from every cart but its origin: that cart made the
    // change itself, and what it is sent is only the difference that keeps it at what the
    // store publishes (below). Without it a return there past a cap or below the floor of 0
    // (QOH -5, a return of 2 restocked on the cart: it counts 2, the store publishes 0) left
    // it selling units the store does not have, and an order there (QOH 100 capped at 20, an
    // order of 2: it counts 18) was taken again by the next Get QOH.
    let sent_to = |id: CartId| change.send_to_web || Some(id) == origin_cart;
    if targets.iter().any(|&(id, _)| sent_to(id)) {
        // The item's web fields on every cart in one read (most items have none).
        let fields = sql::web_fields_of_item(c, item.id)?;
        let default = WebFields::default();
        let mut records = Vec::with_capacity(targets.len());
        for &(cart_id, level) in targets.iter().filter(|&&(id, _)| sent_to(id)) {
            let own = fields
                .iter()
                .find(|(id, _)| *id == cart_id)
                .map_or(&default, |(_, wf)| wf);
            if let Some((target, before, after)) =
                published_change(c, cart_id, level, item, item.qoh, new_qoh, Some(own))?
            {
                // The cart the change came from already moved its own count by `delta`
                // (rule 2). Where a cap or a buffer makes its published count move otherwise
                // (QOH 100 capped at 10: a sale there leaves it at 10, not 9), it gets the
                // difference; without one, that is 0 and nothing is queued for it.
                let change = if Some(cart_id) == origin_cart {
                    (after - before) - origin_moved
                } else {
                    after - before
                };
                if change != 0 {
                    records.push(NewRecord {
                        cart_id,
                        item_id: target,
                        delta: change,
                        reason,
                        origin_cart_id: origin_cart,
                        workstation,
                    });
                }
            }
        }
        *stack_last = sql::stack_insert_many(c, &records, *stack_last)?;
        queued = records.len();
    }
    // (Get QOH, the one caller that says how far its origin cart moved, keeps that cart's
    // count itself: `manual::apply_pulled`.)
    if let Some(origin) = origin_cart.filter(|_| change.origin_moved.is_none()) {
        // A cart real-time changes do not go to gets no correction: where a change made there
        // (an order imported from it) leaves it counting other than what it publishes (QOH
        // 100 capped at 20, an order of 2 there: it counts 18 and publishes 20), what it
        // counts is kept for Get QOH (`manual::apply_pulled`), which would otherwise take
        // the order again. (One real-time changes go to is sent the correction.)
        let cart = sql::cart_by_id(c, origin)?;
        let corrected = targets.iter().any(|(id, _)| *id == origin);
        match published_change(c, origin, cart.level(), item, item.qoh, new_qoh, None)? {
            Some(_) if corrected => {}
            Some((target, before, after)) => {
                let kept = sql::pulled_get(c, origin, target)?;
                let counts = kept.unwrap_or(before) + origin_moved;
                if counts != after {
                    sql::pulled_set(c, origin, target, counts)?;
                } else if kept.is_some() {
                    sql::pulled_forget(c, origin, target)?;
                }
            }
            // Taken off the cart (`sync: false`), real-time or not: the count kept of what it
            // shows (`Store::set_web_fields`) moves with the change made there, which its
            // count already includes; else the item, once back, is measured from the old one.
            None => kept_follows(c, &cart, item, origin_moved)?,
        }
    }
    let change_id = sql::ledger_insert(
        c,
        item,
        delta,
        new_qoh,
        reason,
        origin_cart,
        change.reference(),
        change.send_to_web,
        workstation,
    )?;
    sql::item_set_qoh(c, item.id, new_qoh, change_id)?;
    Ok(AdjustOutcome::Applied {
        qoh: new_qoh,
        queued,
    })
}

impl Store {
    /// Creates an item, or updates the description/attributes of an existing one, from JSON
    /// `{"sku","qoh"?,"parent_sku"?,"attributes"?:{"Size":"M"},"description"?}`.
    ///
    /// A new item takes its initial `qoh` (default 0) without queuing anything (rule 13: this
    /// is initialisation). An existing item's QOH changes only through
    /// [`Store::adjust_qoh`], so a `qoh` for it is refused. A variant's product must exist, be
    /// no variant itself, and hold QOH 0 (a product with variants holds no stock). Given its
    /// first variant, a product is no longer sent to an `Attribute` cart: one that real-time
    /// changes do not reach and that was sent or read its count is set to 0 of it at its next
    /// Send QOH, as for a deleted item ([`Store::delete_item`]).
    pub fn upsert_item_json(&self, json: &str) -> Result<ItemId> {
        let spec = parse_item_json(json)?;
        self.write(|c| {
            let existing = sql::item_find(c, &spec.sku)?;
            let parent = match &spec.parent_sku {
                None => None,
                Some(p) => {
                    let parent = sql::item_by_sku(c, p).map_err(|_| {
                        Error::not_found(format!(
                            "item {:?}: parent product {p:?} does not exist",
                            spec.sku
                        ))
                    })?;
                    if parent.parent_id.is_none() && parent.sku == spec.sku {
                        return Err(Error::invalid(format!(
                            "item {:?} cannot be its own product",
                            spec.sku
                        )));
                    }
                    // Checked of a new variant's product only: an existing item's product
                    // cannot change, which is what its refusal below says (refused first for
                    // the other product's stock, the owner zeroed that product's stock, sent
                    // to every cart, to be told so afterwards).
                    if existing.is_none() {
                        refuse_as_product(&parent, &spec.sku)?;
                    }
                    Some(parent)
                }
            };
            match existing {
                Some(existing) => {
                    if spec.qoh.is_some() {
                        return Err(Error::refused(format!(
                            "item {:?} exists: its QOH changes only by an adjustment, not by qoh",
                            spec.sku
                        )));
                    }
                    if spec.parent_sku.is_some()
                        && parent.as_ref().map(|p| p.id) != existing.parent_id
                    {
                        return Err(Error::refused(format!(
                            "item {:?}: its product cannot be changed",
                            spec.sku
                        )));
                    }
                    sql::item_update(
                        c,
                        existing.id,
                        spec.attributes.as_deref(),
                        spec.description.as_deref(),
                    )?;
                    Ok(existing.id)
                }
                None => {
                    let (attributes, description, qoh) = (
                        spec.attributes.as_deref().unwrap_or("{}"),
                        spec.description.as_deref().unwrap_or(""),
                        spec.qoh.unwrap_or(0),
                    );
                    match &parent {
                        Some(p) => insert_variant(
                            c,
                            &self.workstation(),
                            p,
                            &spec.sku,
                            attributes,
                            description,
                            qoh,
                        ),
                        None => sql::item_insert(c, &spec.sku, None, attributes, description, qoh),
                    }
                }
            }
        })
    }

    /// One item.
    pub fn item(&self, sku: &str) -> Result<Item> {
        let sku = check_sku(sku)?;
        self.read(|c| sql::item_by_sku(c, sku))
    }

    /// The order manager's QOH of `sku`.
    pub fn item_qoh(&self, sku: &str) -> Result<i64> {
        Ok(self.item(sku)?.qoh)
    }

    /// Items as a JSON array, by SKU; filter `{"sku_prefix"?, "parent_sku"?, "limit"?}`, the
    /// `limit` 1 to 1,000,000, and 1,000 when left out: a store of more items lists its first
    /// 1,000 unless the filter asks for more.
    pub fn items_json(&self, filter_json: Option<&str>) -> Result<String> {
        let f = parse_filter(filter_json, &["sku_prefix", "parent_sku", "limit"])?;
        let prefix = filter_str(&f, "sku_prefix")?.unwrap_or("");
        let parent = filter_str(&f, "parent_sku")?.map(check_sku).transpose()?;
        let limit = filter_limit(&f)?;
        self.read(|c| {
            let parent = match parent {
                Some(p) => Some(sql::item_by_sku(c, p)?.id),
                None => None,
            };
            let rows = sql::items_list(c, prefix, parent, limit)?;
            Ok(Value::Array(rows).to_string())
        })
    }

    /// Deletes an item; refused while it has records on the web stack, or variants, or while
    /// a cart real-time changes go to shows a count of it other than 0 (adjust it to 0 first:
    /// that change is what tells the carts), also one it was taken off (`sync: false`) while
    /// it showed one (put it back on the cart, which is sent the difference). A cart that
    /// real-time changes do not reach, and that was sent or read the item's count (or that a
    /// manual run holds, which may be sending it), is set to 0 for it at its next Send QOH
    /// ([`Store::send_qoh`]), which reports it: a deleted item is no longer sold there; one
    /// the item was taken off, with a count kept of it other than 0, refuses the delete, as a
    /// cart real-time changes go to does. Get QOH creates no item of such a SKU again.
    pub fn delete_item(&self, sku: &str) -> Result<()> {
        let sku = check_sku(sku)?;
        self.write(|c| {
            let item = sql::item_by_sku(c, sku)?;
            if item.has_variants {
                return Err(Error::refused(format!(
                    "item {sku:?} has variants; delete them first"
                )));
            }
            let n = sql::stack_count_for_item(c, item.id)?;
            if n > 0 {
                return Err(Error::refused(format!(
                    "item {sku:?} has {} on the web stack; let them drain or discard them",
                    crate::counted(n, "record")
                )));
            }
            // A cart real-time changes go to that shows the item itself (a `Sku` cart shows a
            // variant in its product's total, lowered below) would go on selling what it
            // shows: no record can be queued for an item that is gone.
            // So would one the item was taken off (`sync: false`) while it showed a count,
            // kept since: the change to 0 is not sent there.
            let targets = sql::realtime_targets(c)?;
            for &(cart, level) in &targets {
                let name = || sql::cart_by_id(c, cart).map(|c| c.name);
                match published_change(c, cart, level, &item, item.qoh, item.qoh, None)? {
                    Some((target, shown, _)) if target == item.id && shown != 0 => {
                        return Err(Error::refused(format!(
                            "item {sku:?}: cart {:?} shows {shown} of it; adjust its QOH to 0 \
                             first, then delete it (sent to the web, the change stops the carts \
                             selling it; not sent, if no cart lists it)",
                            name()?
                        )));
                    }
                    Some(_) => {}
                    None if shown_as(level, &item) == Some(item.id) => {
                        if let Some(kept) = sql::pulled_get(c, cart, item.id)?.filter(|k| *k != 0) {
                            return Err(Error::refused(format!(
                                "item {sku:?}: cart {:?} still shows {kept} of it, as when it was \
                                 taken off that cart: put it back on the cart (the cart is sent \
                                 what it publishes) with QOH 0, then delete it",
                                name()?
                            )));
                        }
                    }
                    None => {}
                }
            }
            // A cart real-time changes do not reach (SynchQOH off, its box clear) that was
            // shown the item's count may still show it, and no change will reach it: it
            // would sell what it showed for good (until 2026-12-04; Send QOH skips what the
            // store no longer has). Its next Send QOH sets the item to 0 there. A cart showing
            // the item only in its product's total is sent the new total as ever.
            for cart in sql::carts_all(c)? {
                if !cart.capabilities.send
                    || targets.iter().any(|(id, _)| *id == cart.id)
                    || shown_as(cart.level(), &item) != Some(item.id)
                {
                    continue;
                }
                let wf = sql::web_fields_get(c, cart.id, item.id)?;
                // Taken off the cart with a count kept of what it shows: refused, as for a
                // cart real-time changes go to (that count is the cart's, not a guess).
                if !wf.sync {
                    if let Some(kept) = sql::pulled_get(c, cart.id, item.id)?.filter(|k| *k != 0) {
                        return Err(Error::refused(format!(
                            "item {sku:?}: cart {:?} still shows {kept} of it, as when it was \
                             taken off that cart: put it back on the cart and send it QOH 0 \
                             (Send QOH), then delete it",
                            cart.name
                        )));
                    }
                }
                // A run sending counts to the cart may be sending the item's now: the cart is
                // noted as shown it when the run settles the answer, after this looked. (An
                // item taken off the cart is not sent; a Get QOH sends nothing.)
                if sql::cart_was_shown(c, cart.id, item.id)?
                    || (wf.sync && sql::cart_held_by_sender(c, cart.id, crate::store::now_ms())?)
                {
                    sql::deleted_on_cart_note(c, cart.id, &item.sku, wf.remote_ref.as_deref())?;
                }
            }
            let workstation = self.workstation();
            queue_product_total(c, &workstation, item.parent_id, |c| {
                sql::item_delete(c, item.id)
            })?;
            if let Some(product) = item.parent_id {
                product_made_plain(c, product, &workstation)?;
            }
            Ok(())
        })
    }

    /// Changes QOH and, in the same transaction, queues one web stack record per eligible cart
    /// (rules 1–6). Refused for a product with variants; a change repeated under its host
    /// reference (a retry, a file imported again) is an OK no-op ([`AdjustOutcome::Duplicate`]);
    /// another change under a reference used before is refused ([`Store::seen_before`]).
    ///
    /// Inside a host transaction a refusal leaves the transaction intact; a store failure after
    /// the call began writing (an [`ErrorKind::Database`](crate::ErrorKind::Database) error
    /// that says so) has rolled the whole host transaction back: check
    /// [`Store::in_host_transaction`] after such an error.
    pub fn adjust_qoh(&self, adjustment: &Adjustment) -> Result<AdjustOutcome> {
        let sku = adjustment.checked_sku()?;
        let workstation = self.workstation();
        // Every refusal (duplicate reference, unknown cart or SKU, a product with variants, a
        // QOH out of range) comes before `apply_change`'s first write.
        self.write_checked(|c| {
            if seen_before(c, adjustment, sku)? {
                return Ok(AdjustOutcome::Duplicate);
            }
            if let Some(origin) = adjustment.origin_cart {
                sql::cart_exists(c, origin)?;
            }
            let item = sql::item_by_sku(c, sku)?;
            let mut reads = self.change_reads(c)?;
            // With an origin cart the targets are read even when nothing is sent: whether
            // the origin is one decides whether its count is kept (never for a target).
            let targets = if adjustment.send_to_web || adjustment.origin_cart.is_some() {
                match &reads.targets {
                    Some(t) => t.clone(),
                    None => reads
                        .targets
                        .insert(sql::realtime_targets(c)?.into())
                        .clone(),
                }
            } else {
                Arc::new([])
            };
            let outcome = apply_change(
                c,
                &item,
                adjustment,
                &workstation,
                &targets,
                &mut reads.stack_last,
            )?;
            self.keep_change_reads(c, reads);
            Ok(outcome)
        })
    }

    /// Whether the store made `adjustment` already, under its host reference: what
    /// [`Store::adjust_qoh`] would skip as a duplicate. A reference that names another change
    /// (another SKU, delta, reason or origin cart: an order number two carts share, a host
    /// keying by order without its line) is refused, here as there: skipped as seen before,
    /// that change would be lost without a word. So is the same change asked with
    /// [`Adjustment::send_to_web`] otherwise than it was made: skipped, a change made without
    /// the carts and retried to reach them would never reach them (Send QOH brings the carts
    /// to the store's count, whichever was meant).
    pub fn seen_before(&self, adjustment: &Adjustment) -> Result<bool> {
        let sku = adjustment.checked_sku()?;
        self.read(|c| seen_before(c, adjustment, sku))
    }

    /// QOH changes as a JSON array (sku, delta, qoh_after, reason, origin_cart_id, host_ref,
    /// workstation, created_at); filter `{"sku"?, "limit"?}`, newest first. The `limit` is 1 to
    /// 1,000,000, and 1,000 when left out: the newest 1,000 changes unless the filter asks for
    /// more.
    pub fn ledger_json(&self, filter_json: Option<&str>) -> Result<String> {
        let f = parse_filter(filter_json, &["sku", "limit"])?;
        let limit = filter_limit(&f)?;
        let sku = filter_str(&f, "sku")?.map(check_sku).transpose()?;
        self.read(|c| Ok(Value::Array(sql::ledger_list(c, sku, limit)?).to_string()))
    }
}

/// A JSON object a host gave (`what`: "cart", "item", "web fields", "filter"), parsed strictly:
/// a key given twice at any depth is refused, where a parser keeps the last one and a host
/// building its JSON by joining text (`{"max_publish":20,...,"max_publish":null}`) would
/// lose the first without a word.
pub(crate) fn host_object(json: &str, what: &str) -> Result<Map<String, Value>> {
    let mut de = serde_json::Deserializer::from_str(json);
    let v = serde::de::DeserializeSeed::deserialize(Strict, &mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| Error::invalid(format!("{what} JSON is malformed: {e}")))?;
    match v {
        Value::Object(map) => Ok(map),
        _ => Err(Error::invalid(format!("{what} JSON must be an object"))),
    }
}

/// Builds a [`Value`] as serde_json does, but refuses an object's key given twice.
#[derive(Clone, Copy)]
struct Strict;

impl<'de> serde::de::DeserializeSeed<'de> for Strict {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Strict {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Strict)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            if out.contains_key(&k) {
                return Err(serde::de::Error::custom(format!(
                    "key {k:?} is given twice"
                )));
            }
            let v = map.next_value_seed(Strict)?;
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

/// Parses an optional filter object, refusing keys not in `allowed`.
pub(crate) fn parse_filter(json: Option<&str>, allowed: &[&str]) -> Result<Map<String, Value>> {
    let Some(json) = json else {
        return Ok(Map::new());
    };
    if json.trim().is_empty() {
        return Ok(Map::new());
    }
    let m = host_object(json, "filter")?;
    if let Some(k) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(Error::invalid(format!("filter: unknown key {k:?}")));
    }
    Ok(m)
}

/// Filter key `key` as a string, if given: a value of another type is refused, not taken
/// for "no filter".
pub(crate) fn filter_str<'a>(f: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>> {
    filter_as(f, key, "a string", Value::as_str)
}

/// Filter key `key` as a whole number, if given (see [`filter_str`]).
pub(crate) fn filter_number(f: &Map<String, Value>, key: &str) -> Result<Option<i64>> {
    filter_as(f, key, "a number", json_whole)
}

fn filter_as<'a, T>(
    f: &'a Map<String, Value>,
    key: &str,
    kind: &str,
    read: impl FnOnce(&'a Value) -> Option<T>,
) -> Result<Option<T>> {
    match f.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => read(v)
            .map(Some)
            .ok_or_else(|| Error::invalid(format!("filter: {key} must be {kind}"))),
    }
}

pub(crate) fn filter_limit(f: &Map<String, Value>) -> Result<i64> {
    match f.get("limit") {
        None | Some(Value::Null) => Ok(1000),
        Some(v) => json_whole(v)
            .filter(|n| (1..=1_000_000).contains(n))
            .ok_or_else(|| {
                Error::invalid("filter: limit must be a whole number from 1 to 1000000")
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`base_letter`] searches [`ACCENTED`] by halves: out of order, a letter would keep its
    /// accent and two SKUs the owner cannot tell apart would be two items again.
    #[test]
    fn every_accented_letter_folds_to_its_base_letter() {
        let table: Vec<char> = ACCENTED.chars().collect();
        assert!(table.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(table.len(), BASE_LETTERS.len());
        for (c, b) in table.iter().zip(BASE_LETTERS.chars()) {
            assert_eq!(
                sku_fold(&c.to_string()),
                b.to_ascii_lowercase().to_string(),
                "{c}"
            );
        }
        assert_eq!(ACCENTED_OTHER.chars().count(), BASE_OTHER.chars().count());
        for (c, b) in ACCENTED_OTHER.chars().zip(BASE_OTHER.chars()) {
            assert_eq!(sku_fold(&c.to_string()), sku_fold(&b.to_string()), "{c}");
        }
    }

    /// A Cyrillic or Greek letter with a mark folds the same composed or decomposed, as a
    /// Latin one does: the store's composed `ЧАЙ-1` and a cart's decomposed one are one SKU
    /// to the owner's eye.
    #[test]
    fn cyrillic_and_greek_fold_the_same_composed_or_not() {
        assert_eq!(sku_fold("ЧАЙ-1"), sku_fold("ЧАИ\u{306}-1"));
        assert_eq!(sku_fold("ЧАЙ-1"), sku_fold("чаи-1"));
        assert_eq!(sku_fold("ΚΑΦΈΣ"), sku_fold("καφε\u{301}ς"));
        assert_ne!(sku_fold("ЧАЙ-1"), sku_fold("ЧАЙ-2"));
    }
}
