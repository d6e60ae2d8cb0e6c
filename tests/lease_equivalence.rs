//! The lease's grouping statement, rewritten for speed on 2026-12-05 (one walk of an item's
//! waiting records for both where it is blocked and where its run ends; the probe for a
//! retrying group asked once of the cart; the one other batch probed by its id), chooses the
//! same records as the statement it replaced, on a few hundred random web stacks: the order
//! of an item's changes on a cart, what waits behind a retry or a batch in flight, the run's
//! end at another workstation's record, local-mode ownership and the window and room limits
//! are what store owners rely on for their counts, and a faster statement that chose
//! differently would send a change ahead of an older one or hold one back for good.
//!
//! Both statements run on the store's own file in a transaction that is rolled back, so the
//! stack the next step builds on is untouched. The new statement is a copy of the source's,
//! built as the source builds it (`lease_sql::grouping`, shared with tests/scaling.rs);
//! [`copies_match_the_source`] fails when the source changes, so a changed statement is
//! checked here again. The old one is the text of commit 13bd224, kept as the reference.

use inventory_sync::stack::{LeaseScope, SqliteStack, Transition, WebStack};
use inventory_sync::{Adjustment, Delta, OpenOptions, Reason, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::{Connection, ToSql};

#[path = "common/lease_sql.rs"]
mod lease_sql;
use lease_sql::{
    BATCHES, BEHIND_BATCHES, BEHIND_GROUP, BEHIND_ONE_BATCH, FIRST, NEW_BATCH, RETRYING, SCOPE,
};

/// The grouping statement of `first_attempt_batch` before the rewrite (13bd224), verbatim.
const OLD_GROUPING: &str = "UPDATE stack SET group_id = ?7 WHERE id IN (
             SELECT x.id FROM (SELECT s.item_id, s.workstation, s.id
                   FROM (SELECT s.item_id, s.workstation, s.id FROM stack s
                         WHERE s.cart_id = ?1 AND s.group_id IS NULL AND {}
                         ORDER BY s.id LIMIT ?8) s
                   WHERE NOT EXISTS (SELECT 1 FROM stack e
                         WHERE e.cart_id = ?1 AND e.item_id = s.item_id
                           AND e.id >= {first} AND e.id < s.id AND e.group_id IS NULL)
                     AND NOT EXISTS (SELECT 1 FROM send_groups o
                         WHERE o.cart_id = ?1 AND o.item_id = s.item_id
                           AND o.state = 'pending')
                     AND NOT EXISTS (SELECT 1 FROM send_groups b CROSS JOIN stack f
                         WHERE b.cart_id = ?1 AND b.item_id = 0
                           AND f.group_id = b.id AND f.item_id = s.item_id)
                   LIMIT ?6) p
             CROSS JOIN stack x
             WHERE x.cart_id = ?1 AND x.item_id = p.item_id AND x.id >= p.id
               AND x.workstation = p.workstation AND x.group_id IS NULL
               AND x.id < COALESCE((SELECT MIN(y.id) FROM stack y
                   WHERE y.cart_id = ?1 AND y.item_id = p.item_id AND y.id > p.id
                     AND y.group_id IS NULL AND y.workstation <> p.workstation),
                   9223372036854775807))";

#[test]
fn copies_match_the_source() {
    lease_sql::assert_in_source(&[]);
}

/// What one lease asks of the grouping: the cart, the scope, the room and the window.
struct Ask {
    cart: i64,
    now: i64,
    scope: LeaseScope,
    room: i64,
    window: i64,
    /// A record moved into another of the cart's groups before both statements run, the
    /// same in both: states a controller reaches only rarely (a newer record of an item in
    /// a group while an older one waits; a batch holding several items), that the lease
    /// must still read as both statements did.
    moved: Option<(i64, i64)>,
}

/// Inserts the new batch as the source does, returns its id.
fn insert_batch(c: &Connection, ask: &Ask) -> i64 {
    c.execute(
        NEW_BATCH,
        rusqlite::params![
            ask.cart,
            "k",
            1_i64,
            ask.scope.workstation,
            ask.now,
            "t",
            ask.now + 60_000
        ],
    )
    .unwrap();
    let b = c.last_insert_rowid();
    if let Some((record, group)) = ask.moved {
        c.execute(
            "UPDATE stack SET group_id = ?2 WHERE id = ?1",
            [record, group],
        )
        .unwrap();
    }
    b
}

fn grouped(c: &Connection, b: i64) -> Vec<i64> {
    let mut st = c
        .prepare("SELECT id FROM stack WHERE group_id = ?1 ORDER BY id")
        .unwrap();
    let ids = st
        .query_map([b], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<Vec<i64>>>()
        .unwrap();
    ids
}

/// The records the old statement groups for `ask`, in a transaction rolled back.
fn old_choice(c: &mut Connection, ask: &Ask) -> Vec<i64> {
    let tx = c.transaction().unwrap();
    let b = insert_batch(&tx, ask);
    let sql = OLD_GROUPING
        .replacen("{}", &SCOPE.replace("{a}", "s"), 1)
        .replace("{first}", FIRST);
    tx.execute(
        &sql,
        rusqlite::params![
            ask.cart,
            ask.now,
            ask.scope.shared,
            ask.scope.workstation,
            ask.scope.stale_before,
            ask.room,
            b,
            ask.window
        ],
    )
    .unwrap();
    let ids = grouped(&tx, b);
    tx.rollback().unwrap();
    ids
}

/// The records the new statement groups for `ask`, built and bound as the source builds
/// and binds it (one of its six variants), in a transaction rolled back. Also returns the
/// variant, so that the test can tell it reached all six.
fn new_choice(c: &mut Connection, ask: &Ask) -> (Vec<i64>, (bool, usize)) {
    let tx = c.transaction().unwrap();
    let b = insert_batch(&tx, ask);
    let retrying: bool = tx.query_row(RETRYING, [ask.cart], |r| r.get(0)).unwrap();
    let batches: Vec<i64> = {
        let mut st = tx.prepare(BATCHES).unwrap();
        let ids = st
            .query_map([ask.cart, b], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        ids
    };
    let behind_group = if retrying { BEHIND_GROUP } else { "" };
    let behind_batch = match batches.len() {
        0 => "",
        1 => BEHIND_ONE_BATCH,
        _ => BEHIND_BATCHES,
    };
    let sql = lease_sql::grouping(behind_group, behind_batch);
    let mut bound: Vec<&dyn ToSql> = vec![
        &ask.cart,
        &ask.now,
        &ask.scope.shared,
        &ask.scope.workstation,
        &ask.scope.stale_before,
        &ask.room,
        &b,
        &ask.window,
    ];
    if let [batch] = batches.as_slice() {
        bound.push(batch);
    }
    tx.execute(&sql, bound.as_slice()).unwrap();
    let ids = grouped(&tx, b);
    tx.rollback().unwrap();
    (ids, (retrying, batches.len().min(2)))
}

const WORKSTATIONS: [&str; 3] = ["A", "B", "C"];
const ITEMS: usize = 4;

/// A cart that is never reached, Synchronize Inventory on.
fn add_cart(store: &Store, name: &str) -> i64 {
    let cart = store
        .upsert_cart_json(
            &serde_json::json!({
                "name": name, "adapter": "http_json", "url": format!("http://127.0.0.1:9/{name}/"),
                "capabilities": {"send": true, "get": true, "realtime": "attribute"},
            })
            .to_string(),
        )
        .unwrap();
    store.set_cart_sync(cart, true).unwrap();
    cart
}

/// A random record of `cart` and a random group of the cart (any state, batches too).
fn pick(c: &Connection, cart: i64, rng: &mut StdRng) -> Option<(i64, i64)> {
    let ids = |sql: &str| -> Vec<i64> {
        let mut st = c.prepare(sql).unwrap();
        let ids = st
            .query_map([cart], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        ids
    };
    let records = ids("SELECT id FROM stack WHERE cart_id = ?1 ORDER BY id");
    let groups = ids("SELECT id FROM send_groups WHERE cart_id = ?1 ORDER BY id");
    if records.is_empty() || groups.is_empty() {
        return None;
    }
    Some((
        records[rng.gen_range(0..records.len())],
        groups[rng.gen_range(0..groups.len())],
    ))
}

fn random_scope(rng: &mut StdRng) -> LeaseScope {
    LeaseScope {
        workstation: WORKSTATIONS[rng.gen_range(0..WORKSTATIONS.len())].into(),
        shared: rng.gen_bool(0.4),
        stale_before: [0, 50, 1_000_000][rng.gen_range(0..3)],
    }
}

fn random_transition(rng: &mut StdRng, now: i64) -> Transition {
    match rng.gen_range(0..4) {
        0 | 1 => Transition::Leave {
            outcome: "applied",
            response: "200".into(),
        },
        2 => Transition::Pending {
            attempts: 1,
            next_attempt_at: now + rng.gen_range(0..3) * 10,
            response: "503".into(),
            maybe_applied: false,
        },
        _ => Transition::Bypassed {
            attempts: 1,
            response: "404".into(),
            maybe_applied: false,
        },
    }
}

/// One random store: records of several items made at three workstations for two carts,
/// leased in random scopes and settled at random (applied, retrying, bypassed), some leases
/// left in flight and some let lapse. After every step, both statements are asked the same
/// random leases of every cart. Returns the states compared; adds the variants reached to
/// `variants` and the states where the old statement chose records to `chose`.
fn one_store(
    seed: u64,
    variants: &mut std::collections::HashSet<(bool, usize)>,
    chose: &mut usize,
) -> usize {
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let stores: Vec<Store> = WORKSTATIONS
        .iter()
        .map(|w| {
            Store::open_with(
                &path,
                OpenOptions {
                    workstation: Some((*w).into()),
                    ..Default::default()
                },
            )
            .unwrap()
        })
        .collect();
    stores[0].set_param("SynchQOH", "true").unwrap();
    let carts = [add_cart(&stores[0], "One"), add_cart(&stores[0], "Two")];
    for i in 0..ITEMS {
        stores[0]
            .upsert_item_json(&format!(r#"{{"sku":"I{i}","qoh":1000}}"#))
            .unwrap();
    }
    let stack = SqliteStack::open(&path, &OpenOptions::default()).unwrap();
    let mut c = Connection::open(&path).unwrap();
    c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    let mut now = 100;
    let mut compared = 0;
    for _step in 0..30 {
        now += rng.gen_range(0..40);
        match rng.gen_range(0..10) {
            0..=4 => {
                let ws = rng.gen_range(0..stores.len());
                let sku = format!("I{}", rng.gen_range(0..ITEMS));
                let d = if rng.gen_bool(0.5) { -1 } else { 2 };
                let a = Adjustment::new(&sku, Delta::new(d).unwrap(), Reason::PosSale);
                stores[ws].adjust_qoh(&a).unwrap();
            }
            5 => {
                // A workstation's heartbeat, fresh or old: local leases by other
                // workstations may take its records only once it is stale.
                let ws = WORKSTATIONS[rng.gen_range(0..WORKSTATIONS.len())];
                c.execute(
                    "INSERT OR REPLACE INTO heartbeats(workstation, last_seen) VALUES (?1, ?2)",
                    rusqlite::params![ws, [10_i64, now, 2_000_000][rng.gen_range(0..3)]],
                )
                .unwrap();
            }
            _ => {
                let cart = carts[rng.gen_range(0..carts.len())];
                let scope = random_scope(&mut rng);
                let lease_ms = [5, 60_000][rng.gen_range(0..2)];
                let lease = stack
                    .lease(cart, rng.gen_range(1..4), &scope, now, lease_ms)
                    .unwrap();
                if !lease.sends.is_empty() && rng.gen_bool(0.7) {
                    let mut t = Vec::new();
                    for s in &lease.sends {
                        if rng.gen_bool(0.8) {
                            t.push((s.group_id, random_transition(&mut rng, now)));
                        }
                    }
                    stack.settle(&lease.token, &t, now).unwrap();
                }
            }
        }
        for &cart in &carts {
            for _ in 0..2 {
                let room = rng.gen_range(1..5);
                let moved = if rng.gen_bool(0.3) {
                    pick(&c, cart, &mut rng)
                } else {
                    None
                };
                let ask = Ask {
                    cart,
                    now,
                    scope: random_scope(&mut rng),
                    room,
                    window: room + rng.gen_range(0..6),
                    moved,
                };
                let old = old_choice(&mut c, &ask);
                let (new, variant) = new_choice(&mut c, &ask);
                variants.insert(variant);
                assert_eq!(
                    old, new,
                    "seed {seed}: the new grouping chose other records than the old for cart \
                     {cart}, scope {:?}, room {}, window {}",
                    ask.scope, ask.room, ask.window
                );
                compared += 1;
                *chose += usize::from(!old.is_empty());
            }
        }
    }
    compared
}

/// The rewritten grouping chooses, on every random stack, the records the old one chose:
/// an item's change never goes ahead of an older one waiting on the cart, an item in flight
/// or waiting to retry sends nothing more, a run stops at another workstation's record,
/// and a local controller sends only what is its own or a stopped workstation's.
#[test]
fn the_rewritten_grouping_chooses_what_the_old_one_chose() {
    let mut variants = std::collections::HashSet::new();
    let (mut compared, mut chose) = (0, 0);
    for seed in 0..24 {
        compared += one_store(seed, &mut variants, &mut chose);
    }
    assert!(compared >= 2_000, "{compared} states compared");
    // Most states had something to send: the comparison is of choices, not of empty sets.
    assert!(
        chose * 2 >= compared,
        "{chose} of {compared} states chose records"
    );
    // All six variants of the new statement were run against the old one.
    for retrying in [false, true] {
        for batches in 0..3 {
            assert!(
                variants.contains(&(retrying, batches)),
                "variant (retrying {retrying}, other batches {batches}) never reached: {variants:?}"
            );
        }
    }
}
