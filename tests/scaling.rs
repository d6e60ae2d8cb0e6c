//! The cost of leasing the next batch does not grow with the size of the web stack
//! (issue 6, DESIGN §7): the lease's queries are served by an index in their own order, with
//! no sort of the due rows ("USE TEMP B-TREE") and no full scan, and the work SQLite does for
//! them (its virtual-machine steps) is the same on a small and on a large stack. So is the
//! cost of what a pass reports, of a manual run's wait, and of the troubleshooting view.
//!
//! The statements are copies of those in `src/store/sql.rs` (the lease's own in
//! tests/common/lease_sql.rs, shared with tests/lease_equivalence.rs);
//! [`copies_match_the_source`] fails when the source changes, so a changed query is
//! re-checked here rather than silently passing on stale text.

use inventory_sync::stack::{LeaseScope, SqliteStack, Transition, WebStack};
use inventory_sync::{Adjustment, Delta, OpenOptions, Reason, StackState, Store};
use rusqlite::{Connection, StatementStatus};

#[path = "common/lease_sql.rs"]
mod lease_sql;
use lease_sql::{BATCHES, BEHIND_BATCHES, GROUPING, NEW_BATCH, RETRYING, SCOPE};

/// Groups due for a retry, oldest first (`{}` is the scope).
const DUE: &str = "SELECT g.id FROM send_groups g
             WHERE g.cart_id = ?1 AND g.state = 'pending' AND g.next_attempt_at <= ?2
               AND g.lease_until <= ?2 AND g.item_id <> 0 AND {}
               AND NOT EXISTS (SELECT 1 FROM send_groups o
                   WHERE o.cart_id = g.cart_id AND o.item_id = g.item_id AND o.state = 'pending'
                     AND o.id <> g.id AND (o.lease_until > ?2 OR o.id < g.id))
               AND NOT EXISTS (SELECT 1 FROM send_groups b CROSS JOIN stack x
                   WHERE b.cart_id = g.cart_id AND b.item_id = 0
                     AND x.group_id = b.id AND x.item_id = g.item_id)
             ORDER BY g.next_attempt_at, g.id LIMIT ?6";

/// The oldest ungrouped records (`{}` is the scope): the window's rows, each with the walk
/// of its item's records beside it.
const CANDIDATES: &str = "FROM stack s
                         WHERE s.cart_id = ?1 AND s.group_id IS NULL AND {}
                         ORDER BY s.id LIMIT ?8";

/// Whether anything of a cart waits ungrouped, as `stack_has_waiting()` (every pass) and
/// `backlog_grouped()` (every lease) ask it, and `WAITING` too: of the ungrouped records'
/// index only, whatever else the cart holds.
const UNGROUPED_EXISTS: &[&str] = &[
    "SELECT EXISTS (SELECT 1 FROM stack INDEXED BY stack_ungrouped
                        WHERE cart_id = ?1 AND group_id IS NULL)
                 OR EXISTS (SELECT 1 FROM send_groups WHERE cart_id = ?1 AND state = 'pending')",
    "UPDATE stack_backlog SET n = CASE WHEN EXISTS (SELECT 1 FROM stack
                                                        INDEXED BY stack_ungrouped
                                                        WHERE cart_id = ?1 AND group_id IS NULL)
                                      THEN n - ?2 ELSE 0 END
         WHERE cart_id = ?1",
];

/// A manual run's wait for live leases (every 20 ms) and its take-over of lapsed ones:
/// through the index of leased groups, never the cart's every group.
const LEASED: &[&str] = &[
    "SELECT COUNT(*) FROM send_groups INDEXED BY send_groups_token
             WHERE cart_id = ?1 AND lease_token IS NOT NULL AND lease_until > ?2",
    "UPDATE send_groups INDEXED BY send_groups_token SET lease_token = NULL, lease_until = 0
         WHERE cart_id = ?1 AND lease_token IS NOT NULL",
];

/// The later records a refused change reads at each lease (`refused_take_later`).
const REFUSED_TAIL: &str = "SELECT id, delta, group_id FROM stack
             WHERE cart_id = ?1 AND item_id = ?2
               AND id > (SELECT MAX(id) FROM stack WHERE group_id = ?3)
             ORDER BY id";

/// The item's later groups waiting behind a refused one (`later_groups`; ?4 is now).
const LATER_GROUPS: &str =
    "SELECT g.id, MIN(s.id), MAX(s.id) FROM send_groups g JOIN stack s ON s.group_id = g.id
             WHERE g.cart_id = ?1 AND g.item_id = ?2 AND g.id <> ?3 AND g.state = 'pending'
               AND g.lease_until <= ?4 AND g.unsettled = 0
             GROUP BY g.id
             HAVING MIN(s.id) > (SELECT MAX(id) FROM stack WHERE group_id = ?3)";

/// `ITEM_KEY_SQL` in the source.
const ITEM_KEY: &str = "substr(b.key, 1, 24)
         || printf('%012x', (s.item_id | b.key_salt) - (s.item_id & b.key_salt))";

/// Statements that reach a batch's records of one item: through the batch, never by walking
/// the item's records on the cart, which may be many (`{ITEM_KEY_SQL}` as in the source).
const BATCH_ITEM: &[&str] = &[
    "INSERT INTO stack_log(record_id, cart_id, item_id, delta, outcome, group_key,
                               response, at)
         SELECT s.id, s.cart_id, s.item_id, s.delta, ?3,
                ?5 || printf('%012x', (s.item_id | ?6) - (s.item_id & ?6)), j.value, ?4
         FROM send_groups b CROSS JOIN json_each(?2) j CROSS JOIN stack s
         WHERE b.id = ?1 AND s.group_id = b.id AND s.item_id = CAST(j.key AS INTEGER)",
    "DELETE FROM stack WHERE group_id = ?1
               AND item_id IN (SELECT CAST(j.key AS INTEGER) FROM json_each(?2) j)",
    "INSERT INTO send_groups(cart_id, item_id, key, net_delta, workstation, state,
                                     attempts, next_attempt_at, last_response, created_at,
                                     unsettled, first_record, refused)
             SELECT b.cart_id, s.item_id, {ITEM_KEY_SQL}, SUM(s.delta), MIN(s.workstation),
                    ?3, ?4, ?5, ?6, b.created_at, ?7, MIN(s.id), ?8
             FROM send_groups b JOIN stack s ON s.group_id = b.id AND s.item_id = ?2
             WHERE b.id = ?1 GROUP BY s.item_id",
    "UPDATE stack SET group_id = ?3 WHERE group_id = ?1 AND item_id = ?2",
];

/// Statements `lease()`, `groups_leave()` and `batch_settle()` run once per batch, whatever
/// its size (`{ITEM_KEY_SQL}` and `{which}` as in the source).
const PER_BATCH: &[&str] = &[
    "SELECT b.id, b.attempts, b.next_attempt_at, b.unsettled FROM send_groups b
             WHERE b.cart_id = ?1 AND b.item_id = 0 AND b.lease_until <= ?2 AND {}",
    "SELECT DISTINCT item_id FROM stack WHERE group_id = ?1",
    "SELECT COUNT(*) FROM stack WHERE group_id = ?1",
    "DELETE FROM stack WHERE group_id = ?1",
    NEW_BATCH,
    "SELECT g.id, g.key, g.item_id, i.sku, w.remote_ref, g.net_delta, g.attempts,
                (SELECT COUNT(*) FROM stack s WHERE s.group_id = g.id), g.unsettled > 1
         FROM send_groups g JOIN items i ON i.id = g.item_id
              LEFT JOIN web_fields w ON w.cart_id = g.cart_id AND w.item_id = g.item_id
         WHERE g.lease_token = ?1 AND g.item_id <> 0 ORDER BY g.next_attempt_at, g.id",
    "SELECT s.item_id, i.sku, w.remote_ref, SUM(s.delta), COUNT(*)
         FROM send_groups b JOIN stack s ON s.group_id = b.id JOIN items i ON i.id = s.item_id
              LEFT JOIN web_fields w ON w.cart_id = b.cart_id AND w.item_id = s.item_id
         WHERE b.id = ?1 GROUP BY s.item_id",
    "SELECT id, key, key_salt FROM send_groups WHERE lease_token = ?1 AND item_id = 0",
    "SELECT 1 FROM send_groups
             WHERE cart_id = ?1 AND state = 'pending' AND next_attempt_at <= ?2 AND item_id <> 0
             LIMIT 1",
    "DELETE FROM send_groups WHERE id = ?1
           AND NOT EXISTS (SELECT 1 FROM stack WHERE group_id = ?1)",
    "UPDATE send_groups SET lease_until = -1, last_response = ?3
         WHERE id = ?1 AND lease_token = ?2",
    "INSERT INTO stack_log(record_id, cart_id, item_id, delta, outcome, group_key, response, at)
         SELECT s.id, s.cart_id, s.item_id, s.delta, ?2, g.key, g.last_response, ?3
         FROM send_groups g JOIN stack s ON s.group_id = g.id
         WHERE g.lease_token = ?1 AND g.lease_until = -1",
    "DELETE FROM stack WHERE group_id IN
         (SELECT id FROM send_groups WHERE lease_token = ?1 AND lease_until = -1)",
    // Keeping the count of what waits (`stack_backlog`).
    "INSERT INTO stack_backlog(cart_id, counted_to, n)
         VALUES (?1, ?2, (SELECT COUNT(*) FROM stack WHERE cart_id = ?1 AND group_id IS NULL
                   AND id > COALESCE((SELECT counted_to FROM stack_backlog WHERE cart_id = ?1), 0)
                   AND id <= ?2))
         ON CONFLICT(cart_id) DO UPDATE SET n = n + excluded.n, counted_to = excluded.counted_to",
    "SELECT COALESCE(MAX(id), 0) FROM stack",
    "UPDATE stack_backlog SET counted_to = ?1 WHERE counted_to > ?1",
    "UPDATE stack_backlog SET n = n - (SELECT COUNT(*) FROM stack s
             WHERE s.cart_id = ?1 AND s.item_id = ?2 AND s.id <= MIN(?3, stack_backlog.counted_to)
               AND s.group_id IS NULL)
         WHERE cart_id = ?1",
    RELEASE_COUNT,
];

/// `lease_release()` counting the records it gives back (`dissolve_groups()`, whose `{which}`
/// it fills with [`UNSENT`]).
const RELEASE_COUNT: &str = "UPDATE stack_backlog SET n = n + back.records
         FROM (SELECT g.cart_id, COUNT(*) AS records
               FROM send_groups g JOIN stack s ON s.group_id = g.id
               WHERE g.id IN (SELECT id FROM send_groups WHERE {which})
                 AND s.id <= (SELECT b.counted_to FROM stack_backlog b WHERE b.cart_id = g.cart_id)
               GROUP BY g.cart_id) back
         WHERE stack_backlog.cart_id = back.cart_id";

/// The groups `lease_release()` dissolves.
const UNSENT: &str = "lease_token = ?1 AND unsettled = 1 AND attempts = 0
                          AND last_response IS NULL";

/// `stack_count()` for one cart: a pass reports each cart's waiting records with it.
const WAITING: &str = "SELECT (CASE WHEN ?2 = 'pending' AND EXISTS (SELECT 1 FROM stack
                                     INDEXED BY stack_ungrouped
                                     WHERE cart_id = ?1 AND group_id IS NULL) THEN
                       MAX(1, COALESCE((SELECT n FROM stack_backlog WHERE cart_id = ?1), 0)
                         + (SELECT COUNT(*) FROM stack WHERE cart_id = ?1 AND group_id IS NULL
                            AND id > COALESCE((SELECT counted_to FROM stack_backlog
                                               WHERE cart_id = ?1), 0)))
                     ELSE 0 END)
                  + (SELECT COUNT(*) FROM send_groups g JOIN stack s ON s.group_id = g.id
                     WHERE g.cart_id = ?1 AND g.state = ?2)";

/// `stack_count_for_item()`: run when an item is deleted.
const ITEM_RECORDS: &str = "SELECT COUNT(*) FROM carts k CROSS JOIN stack s
         WHERE s.cart_id = k.id AND s.item_id = ?1";

fn with_scope(template: &str, alias: &str) -> String {
    template.replace("{}", &SCOPE.replace("{a}", alias))
}

/// [`lease_sql::FIRSTS`] with both probes, as the stores these tests build (a group waiting
/// to retry, several batches) have it.
fn firsts() -> String {
    lease_sql::firsts(lease_sql::BEHIND_GROUP, BEHIND_BATCHES)
}

/// A copied statement as it runs: its placeholders filled as the source fills them.
fn expand(sql: &str) -> String {
    with_scope(
        &sql.replace("{which}", UNSENT)
            .replace("{ITEM_KEY_SQL}", ITEM_KEY)
            .replace("{FIRSTS}", &firsts()),
        "b",
    )
}

#[test]
fn copies_match_the_source() {
    let own: Vec<&str> = [
        DUE,
        CANDIDATES,
        ITEM_KEY,
        ITEM_RECORDS,
        WAITING,
        UNSENT,
        LISTED,
        LIST_ALL,
        LIST_WAITING,
        UNGROUPED,
        IN_BATCHES,
        GROUPS_LISTED,
        GROUP_RECORDS,
        SKU_ITEMS,
        LEDGER_ROW,
        HOST_REF_SEEN,
        REFUSED_TAIL,
        LATER_GROUPS,
        ITEMS_PREFIXED,
        ITEMS_OF_PARENT,
        PREFIXED,
    ]
    .iter()
    .chain(PER_BATCH)
    .chain(BATCH_ITEM)
    .chain(UNGROUPED_EXISTS)
    .chain(LEASED)
    .copied()
    .collect();
    lease_sql::assert_in_source(&own);
}

/// A store with one real-time cart (never reached) and `n` pending records over `n` items.
fn store_with_pending(dir: &std::path::Path, n: usize) -> (Store, i64) {
    let store = Store::open_with(
        dir.join("store.db"),
        OpenOptions {
            workstation: Some("ws".into()),
            ..Default::default()
        },
    )
    .unwrap();
    store.set_param("SynchQOH", "true").unwrap();
    let cart = add_cart(&store, "Web");
    sell_new(&store, 0, n);
    (store, cart)
}

/// Adds a real-time cart named `name` that is never reached, Synchronize Inventory on.
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

/// What a shared controller leases: everyone's records.
fn shared_scope() -> LeaseScope {
    LeaseScope {
        workstation: "ws".into(),
        shared: true,
        stale_before: 0,
    }
}

/// Turns the oldest `groups` records into send groups due for a retry (as after a failed
/// attempt whose back-off has passed).
fn make_due_groups(path: &std::path::Path, cart: i64, groups: usize) {
    let stack = SqliteStack::open(path, &OpenOptions::default()).unwrap();
    let scope = shared_scope();
    let mut made = 0;
    while made < groups {
        let now = 1_000;
        let lease = stack.lease(cart, 50, &scope, now, 60_000).unwrap();
        assert!(!lease.sends.is_empty());
        let t: Vec<_> = lease
            .sends
            .iter()
            .map(|s| {
                (
                    s.group_id,
                    Transition::Pending {
                        attempts: 1,
                        next_attempt_at: 2_000,
                        response: "503".into(),
                        maybe_applied: false,
                    },
                )
            })
            .collect();
        made += stack.settle(&lease.token, &t, now).unwrap();
    }
}

fn plan(conn: &Connection, sql: &str) -> Vec<String> {
    let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    // The plan does not depend on the values: leave the parameters unbound (NULL).
    let mut rows = st.raw_query();
    let mut out = Vec::new();
    while let Some(r) = rows.next().unwrap() {
        out.push(r.get::<_, String>(3).unwrap());
    }
    out
}

/// Steps of SQLite's virtual machine, full-scan steps and sorts for one run of `sql`.
fn work(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> (i32, i32, i32, usize) {
    let mut st = conn.prepare(sql).unwrap();
    let rows = st.query_map(params, |_| Ok(())).unwrap().count();
    (
        st.get_status(StatementStatus::VmStep),
        st.get_status(StatementStatus::FullscanStep),
        st.get_status(StatementStatus::Sort),
        rows,
    )
}

#[test]
fn the_lease_queries_use_their_index_in_its_own_order() {
    let dir = tempfile::tempdir().unwrap();
    let (store, cart) = store_with_pending(dir.path(), 300);
    make_due_groups(store.path(), cart, 100);
    let conn = Connection::open(store.path()).unwrap();
    for (sql, index) in [
        (with_scope(DUE, "g"), "send_groups_due"),
        (
            with_scope(&format!("SELECT s.id {CANDIDATES}"), "s"),
            "stack_ungrouped",
        ),
        (firsts(), "stack_ungrouped"),
    ] {
        let p = plan(&conn, &sql);
        let text = p.join("\n");
        assert!(
            !text.contains("TEMP B-TREE"),
            "the lease sorts its rows:\n{text}"
        );
        // The first table reached (a co-routine's rows come from the table it reads).
        let first = p
            .iter()
            .find(|l| l.starts_with("SEARCH") || l.starts_with("SCAN"));
        assert!(
            first.is_some_and(|l| l.starts_with("SEARCH") && l.contains(index)),
            "the lease is not served by {index}:\n{text}"
        );
    }
    // Whether a group of the cart waits to retry: its pending groups in their index, where
    // only its batches (a few) come before one.
    let text = plan(&conn, RETRYING).join("\n");
    assert!(
        text.contains("SEARCH send_groups USING INDEX send_groups_due (cart_id=? AND state=?)"),
        "the look for a group waiting to retry walks other groups:\n{text}"
    );
    let text = plan(&conn, BATCHES).join("\n");
    assert!(
        text.contains("SEARCH send_groups USING COVERING INDEX send_groups_batches (cart_id=?)")
            || text.contains("SEARCH send_groups USING INDEX send_groups_batches (cart_id=?)"),
        "the look for the cart's batches walks other groups:\n{text}"
    );
    // The batch's grouping: the window is its only walk by cart, and the records it takes
    // are found from the items (a first version walked the cart's backlog once per item).
    let text = plan(&conn, &expand(GROUPING)).join("\n");
    for line in text.lines() {
        assert!(
            !line.contains("(cart_id=?)") || line.contains("stack_ungrouped"),
            "the grouping walks a cart's backlog:\n{text}"
        );
        if let Some(scanned) = line.strip_prefix("SCAN ") {
            assert!(
                ["s", "p"].contains(&scanned.split_whitespace().next().unwrap_or_default()),
                "the grouping scans a table:\n{text}"
            );
        }
    }
    for sql in BATCH_ITEM {
        let text = plan(&conn, &expand(sql)).join("\n");
        assert!(
            text.contains("stack_group (group_id=? AND item_id=?)")
                && !text.contains("stack_cart_item"),
            "a batch's records of an item are not found through the batch:\n{sql}\n{text}"
        );
    }
    for sql in PER_BATCH.iter().chain(BATCH_ITEM) {
        let sql = &expand(sql);
        let text = plan(&conn, sql).join("\n");
        // A batch statement may reach the stack only through a record's item, group or id:
        // a search by cart alone walks the cart's whole backlog.
        assert!(
            !text.contains("(cart_id=?)"),
            "a per-batch statement walks a cart's backlog:\n{sql}\n{text}"
        );
        // A scan is allowed only of `stack_backlog` (a row a cart), of the sub-queries `top`
        // and `back` (a row, and a row a cart) and of `j`, the JSON array of the batch's sends
        // passed in; plans name tables by their alias, so this lists what may be scanned
        // rather than what may not.
        for line in text.lines().filter(|l| l.starts_with("SCAN ")) {
            let object = line.split_whitespace().nth(1).unwrap_or_default();
            assert!(
                ["stack_backlog", "top", "back", "j"].contains(&object),
                "a per-batch statement scans {object}:\n{sql}\n{text}"
            );
        }
    }
}

#[test]
fn the_lease_does_the_same_work_on_a_small_and_a_large_stack() {
    let mut seen = Vec::new();
    for (records, groups) in [(1_000, 100), (8_000, 1_000)] {
        let dir = tempfile::tempdir().unwrap();
        let (store, cart) = store_with_pending(dir.path(), records);
        make_due_groups(store.path(), cart, groups);
        let conn = Connection::open(store.path()).unwrap();
        // Scope: local controller of workstation "ws" (the heartbeat sub-query runs per row).
        let due = work(
            &conn,
            &with_scope(DUE, "g"),
            rusqlite::params![cart, 5_000, false, "ws", 0, 50],
        );
        let fresh = work(
            &conn,
            &firsts(),
            rusqlite::params![cart, 5_000, false, "ws", 0, 50, 0, 10_050],
        );
        assert_eq!(
            (due.3, fresh.3),
            (50, 50),
            "both queries return a full batch"
        );
        for (what, w) in [("due groups", due), ("new records", fresh)] {
            assert_eq!(w.1, 0, "{what}: full-scan steps on a stack of {records}");
            assert_eq!(w.2, 0, "{what}: a sort on a stack of {records}");
        }
        seen.push((due.0, fresh.0));
    }
    assert_eq!(
        seen[0], seen[1],
        "VM steps of (due, new) at 10x the stack: the lease grew with the stack"
    );
}

/// One sale of `sku`.
fn sell(store: &Store, sku: &str) {
    let sale = Adjustment::new(sku, Delta::new(-1).unwrap(), Reason::PosSale);
    store.adjust_qoh(&sale).unwrap();
}

/// A store with one cart (as `store_with_pending`) and a hot item "H", and the web stack as
/// a shared controller sees it.
struct HotItem {
    store: Store,
    cart: i64,
    stack: SqliteStack,
    scope: LeaseScope,
}

impl HotItem {
    fn new(dir: &std::path::Path) -> HotItem {
        let (store, cart) = store_with_pending(dir, 0);
        store
            .upsert_item_json(r#"{"sku":"H","qoh":1000000}"#)
            .unwrap();
        let stack = SqliteStack::open(store.path(), &OpenOptions::default()).unwrap();
        let scope = shared_scope();
        HotItem {
            store,
            cart,
            stack,
            scope,
        }
    }

    /// The cart's answer to a SKU it does not have.
    fn refused() -> Transition {
        Transition::Bypassed {
            attempts: 1,
            response: "404 no such product".into(),
            maybe_applied: false,
        }
    }

    /// Leases what waits (one send: H's) and settles it with `t`; returns its records.
    fn send_once(&self, t: Transition) -> usize {
        let lease = self
            .stack
            .lease(self.cart, 50, &self.scope, 1_000, 60_000)
            .unwrap();
        assert_eq!(lease.sends.len(), 1);
        let held = self
            .stack
            .settle(&lease.token, &[(lease.sends[0].group_id, t)], 1_000);
        assert_eq!(held.unwrap(), 1);
        lease.sends[0].records
    }

    /// New sales: H again, and 60 other items.
    fn new_sales(&self) {
        self.store.begin().unwrap();
        sell(&self.store, "H");
        for i in 0..60 {
            self.store
                .upsert_item_json(&format!(r#"{{"sku":"S{i}","qoh":100}}"#))
                .unwrap();
            sell(&self.store, &format!("S{i}"));
        }
        self.store.commit().unwrap();
    }
}

/// A hot item whose records already have a group (coalesced through an outage, then bypassed)
/// costs a later lease that takes a new record of it no walk of those records: the lease probes
/// an item's records only from the cart's oldest waiting record on. Before, a lease walked
/// every older record of the item, twice: a shop selling one mis-mapped SKU all day paid a
/// walk of all its bypassed records on almost every batch.
#[test]
fn a_lease_does_not_walk_a_hot_items_grouped_records() {
    let mut seen = Vec::new();
    for old in [200, 2_000] {
        let dir = tempfile::tempdir().unwrap();
        let hot = HotItem::new(dir.path());
        let (store, cart) = (&hot.store, hot.cart);
        store.begin().unwrap();
        for _ in 0..old {
            sell(store, "H");
        }
        store.commit().unwrap();
        // One lease takes all of them as one send; the cart refuses it for good.
        assert_eq!(hot.send_once(HotItem::refused()), old);
        hot.new_sales();
        let conn = Connection::open(store.path()).unwrap();
        conn.execute_batch("BEGIN").unwrap();
        let (steps, full_scan, sorts, _) = work(
            &conn,
            &expand(GROUPING),
            rusqlite::params![cart, 5_000, true, "ws", 0, 50, 1_000_000, 10_050],
        );
        let taken: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM stack WHERE group_id = 1000000",
                [],
                |r| r.get(0),
            )
            .unwrap();
        conn.execute_batch("ROLLBACK").unwrap();
        assert_eq!(
            taken, 50,
            "the batch takes the hot item's new record and 49 others"
        );
        assert_eq!((full_scan, sorts), (0, 0));
        let asked = [
            work(&conn, UNGROUPED_EXISTS[0], rusqlite::params![cart]).0,
            work(&conn, UNGROUPED_EXISTS[1], rusqlite::params![cart, 0]).0,
            work(&conn, WAITING, rusqlite::params![cart, "pending"]).0,
        ];
        seen.push((steps, asked));
    }
    assert_eq!(
        seen[0], seen[1],
        "VM steps of the grouping, and of whether anything waits ungrouped (each pass, each \
         lease, the count), with 200 and 2,000 grouped records of the hot item"
    );
}

/// A SKU the cart refuses for good gains a bypassed group with every sale. A lease asking
/// whether such an item has a send in flight or waiting to retry asks only of its pending
/// groups: the due groups' probe and the grouping's do the same work beside 100 and 1,000 of
/// them (before schema 5 both walked every group of the item).
#[test]
fn a_lease_does_not_walk_a_refused_items_bypassed_groups() {
    let mut seen = Vec::new();
    for refused in [100, 1_000] {
        let dir = tempfile::tempdir().unwrap();
        let hot = HotItem::new(dir.path());
        let (store, cart) = (&hot.store, hot.cart);
        for _ in 0..refused {
            sell(store, "H");
            hot.send_once(HotItem::refused());
        }
        // One more sale failed once and is due for a retry; then new sales.
        sell(store, "H");
        hot.send_once(Transition::Pending {
            attempts: 1,
            next_attempt_at: 2_000,
            response: "503".into(),
            maybe_applied: false,
        });
        hot.new_sales();
        let conn = Connection::open(store.path()).unwrap();
        let due = work(
            &conn,
            &with_scope(DUE, "g"),
            rusqlite::params![cart, 5_000, true, "ws", 0, 50],
        );
        assert_eq!(due.3, 1, "the retry is due");
        conn.execute_batch("BEGIN").unwrap();
        let grouping = work(
            &conn,
            &expand(GROUPING),
            rusqlite::params![cart, 5_000, true, "ws", 0, 49, 1_000_000, 10_049],
        );
        conn.execute_batch("ROLLBACK").unwrap();
        seen.push((due.0, grouping.0));
    }
    assert_eq!(
        seen[0], seen[1],
        "VM steps of (due groups, grouping) beside 100 and 1,000 bypassed groups of the item"
    );
}

/// A pass ends by reporting what waits for each cart. A host that drains in small passes
/// (`invsync_stack_run` with a budget) paid a count of the whole backlog every pass: 49 ms a
/// pass at a million records, where the pass's own work took 1 ms.
#[test]
fn a_pass_reports_the_backlog_without_counting_it_again() {
    let mut seen = Vec::new();
    for records in [1_000, 8_000] {
        let dir = tempfile::tempdir().unwrap();
        let (store, cart) = store_with_pending(dir.path(), records);
        make_due_groups(store.path(), cart, 100);
        let conn = Connection::open(store.path()).unwrap();
        let (steps, full_scan, _, _) = work(&conn, WAITING, rusqlite::params![cart, "pending"]);
        assert_eq!(full_scan, 0, "full-scan steps on a stack of {records}");
        let waiting: i64 = conn
            .query_row(WAITING, rusqlite::params![cart, "pending"], |r| r.get(0))
            .unwrap();
        assert_eq!(waiting, records as i64, "every record still waits");
        seen.push(steps);
    }
    assert_eq!(
        seen[0], seen[1],
        "VM steps of the waiting count at 8x the stack: it walked the backlog"
    );
}

#[test]
fn a_manual_run_asks_only_of_leased_groups() {
    let dir = tempfile::tempdir().unwrap();
    let (store, cart) = store_with_pending(dir.path(), 300);
    make_due_groups(store.path(), cart, 100);
    let conn = Connection::open(store.path()).unwrap();
    for sql in LEASED {
        let text = plan(&conn, sql).join("\n");
        assert!(
            text.contains("send_groups_token") && !text.contains("send_groups_cart_item"),
            "{sql}\n{text}"
        );
    }
}

/// A cart that is not leased (backing off through an outage, held by a manual run) has its
/// backlog counted once all the same: the count a pass reports is brought up to date, so the
/// next pass counts only what arrived since. Before, each pass counted the whole backlog again.
#[test]
fn a_cart_not_leased_has_its_backlog_counted_once() {
    let mut seen = Vec::new();
    for records in [300, 3_000] {
        let dir = tempfile::tempdir().unwrap();
        let (store, cart) = store_with_pending(dir.path(), records);
        let stack = SqliteStack::open(store.path(), &OpenOptions::default()).unwrap();
        let conn = Connection::open(store.path()).unwrap();
        assert_eq!(stack.waiting(cart).unwrap(), records as i64);
        let (to, n, top) = counted(&conn, cart);
        assert_eq!(
            (to, n),
            (top, records as i64),
            "counted up to the newest record"
        );
        for _ in 0..5 {
            sell(&store, "S0");
        }
        assert_eq!(stack.waiting(cart).unwrap(), records as i64 + 5);
        let (to, n, top) = counted(&conn, cart);
        assert_eq!((to, n), (top, records as i64 + 5), "and again after 5 more");
        let (steps, ..) = work(&conn, WAITING, rusqlite::params![cart, "pending"]);
        seen.push(steps);
    }
    assert_eq!(
        seen[0], seen[1],
        "VM steps of the next count at 300 and 3,000 waiting: it counted the backlog again"
    );
}

/// That catch-up is a write; a host holding the store's write lock makes the count walk the
/// backlog instead, not fail the pass whose report it ends.
#[test]
fn a_count_needs_no_write_lock() {
    let dir = tempfile::tempdir().unwrap();
    let (store, cart) = store_with_pending(dir.path(), 300);
    let options = OpenOptions {
        busy_timeout: std::time::Duration::from_millis(50),
        ..Default::default()
    };
    let stack = SqliteStack::open(store.path(), &options).unwrap();
    store.begin().unwrap();
    assert_eq!(stack.waiting(cart).unwrap(), 300);
    store.rollback().unwrap();
}

#[test]
fn deleting_an_item_counts_its_records_without_walking_the_stack() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store_with_pending(dir.path(), 100);
    let conn = Connection::open(store.path()).unwrap();
    let text = plan(&conn, ITEM_RECORDS).join("\n");
    assert!(
        text.contains("SEARCH s USING COVERING INDEX stack_cart_item (cart_id=? AND item_id=?)"),
        "{text}"
    );
    assert!(!text.contains("SCAN s"), "{text}");
}

/// Every connection keeps a page cache of its own: with SQLite's memory management compiled
/// in (libsqlite3-sys's default), all connections of a process share one, and a connection
/// idle with a full cache (the controller's between passes) starved a host transaction of
/// 10,000 adjustments into re-reading 13 pages a call. `.cargo/config.toml` builds SQLite
/// without it; this fails if that setting is lost.
#[test]
fn each_connection_keeps_a_page_cache_of_its_own() {
    let conn = Connection::open_in_memory().unwrap();
    let mut st = conn.prepare("PRAGMA compile_options").unwrap();
    let options: Vec<String> = st
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        options.iter().any(|o| o.starts_with("THREADSAFE")),
        "compile options were read: {options:?}"
    );
    assert!(
        !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
        "SQLite was built with ENABLE_MEMORY_MANAGEMENT (one page cache for all connections); \
         LIBSQLITE3_FLAGS from .cargo/config.toml did not reach libsqlite3-sys"
    );
}

/// The troubleshooting view's statements in `stack_list()` (the columns as `LISTED`).
const LISTED: &str = "s.id, s.cart_id, i.sku, s.delta, s.reason, s.created_at,
        COALESCE(g.attempts, 0), COALESCE(g.next_attempt_at, s.created_at), g.last_response,
        COALESCE(g.state, 'pending'), COALESCE(g.lease_until, 0), s.origin_cart_id,
        s.workstation";
const LIST_ALL: &str = "SELECT {LISTED} FROM stack s JOIN items i ON i.id = s.item_id
                      LEFT JOIN send_groups g ON g.id = s.group_id
                 ORDER BY s.id LIMIT ?1";
const LIST_WAITING: &str = "SELECT {LISTED} {sql} ORDER BY s.id LIMIT ?3";
const UNGROUPED: &str = "FROM stack s INDEXED BY stack_ungrouped JOIN items i ON i.id = s.item_id
                      LEFT JOIN send_groups g ON g.id = s.group_id
                 WHERE s.cart_id = ?1 AND s.group_id IS NULL AND s.id < ?2";
const IN_BATCHES: &str = "FROM send_groups g INDEXED BY send_groups_batches
                      JOIN stack s ON s.group_id = g.id JOIN items i ON i.id = s.item_id
                 WHERE g.cart_id = ?1 AND g.item_id = 0 AND g.state = 'pending' AND s.id < ?2";
const GROUPS_LISTED: &str = "SELECT id, first_record FROM send_groups INDEXED BY send_groups_listed
             WHERE cart_id = ?1 AND state = ?2 AND item_id <> 0 ORDER BY first_record";
const GROUP_RECORDS: &str = "SELECT {LISTED} FROM send_groups g
                  JOIN stack s ON s.group_id = g.id AND s.item_id = g.item_id
                  JOIN items i ON i.id = s.item_id
             WHERE g.id = ?1 AND s.id < ?2 ORDER BY s.id LIMIT ?3";

/// The steps `stack_list()` takes for a cart's item groups in `state`, walking them as it
/// does (the statements are the copies above): groups oldest first record first, each
/// group's records, until `limit` records older than the next group's first are held.
/// Returns (VM steps, sorts, records listed).
fn group_walk(conn: &Connection, cart: i64, state: &str, limit: usize) -> (i32, i32, usize) {
    let mut groups = conn.prepare(GROUPS_LISTED).unwrap();
    let mut records = conn
        .prepare(&GROUP_RECORDS.replace("{LISTED}", LISTED))
        .unwrap();
    let mut ids: Vec<i64> = Vec::new();
    let mut steps = 0;
    {
        let mut walk = groups.query(rusqlite::params![cart, state]).unwrap();
        while let Some(g) = walk.next().unwrap() {
            ids.sort_unstable();
            ids.truncate(limit);
            let below = if ids.len() == limit {
                ids[limit - 1]
            } else {
                i64::MAX
            };
            if g.get::<_, i64>(1).unwrap() >= below {
                break;
            }
            let group: i64 = g.get(0).unwrap();
            let params = rusqlite::params![group, below, limit as i64];
            ids.extend(
                records
                    .query_map(params, |r| r.get::<_, i64>(0))
                    .unwrap()
                    .map(Result::unwrap),
            );
            steps += records.get_status(StatementStatus::VmStep);
            records.reset_status(StatementStatus::VmStep);
        }
    }
    ids.sort_unstable();
    ids.truncate(limit);
    let sorts =
        groups.get_status(StatementStatus::Sort) + records.get_status(StatementStatus::Sort);
    (
        steps + groups.get_status(StatementStatus::VmStep),
        sorts,
        ids.len(),
    )
}

/// The one statement the view was before: a scan of the stack in id order, filtering.
const LIST_BY_SCAN: &str = "SELECT s.id, COALESCE(g.state, 'pending'), s.cart_id, i.sku, s.delta,
                COALESCE(g.attempts, 0), g.last_response
         FROM stack s JOIN items i ON i.id = s.item_id
              LEFT JOIN send_groups g ON g.id = s.group_id
         WHERE (?1 IS NULL OR s.cart_id = ?1) AND (?2 IS NULL OR COALESCE(g.state, 'pending') = ?2)
         ORDER BY s.id LIMIT ?3";

/// New items `first..first + n`, each sold once (to every cart on sync).
fn sell_new(store: &Store, first: usize, n: usize) {
    store.begin().unwrap();
    for i in first..first + n {
        store
            .upsert_item_json(&format!(r#"{{"sku":"S{i}","qoh":100}}"#))
            .unwrap();
        sell(store, &format!("S{i}"));
    }
    store.commit().unwrap();
}

/// Leases `cart`'s oldest `n` waiting sends (one record each) and settles them all with `t`.
fn settle_oldest(stack: &SqliteStack, cart: i64, n: usize, t: Transition) {
    let scope = shared_scope();
    let lease = stack.lease(cart, n, &scope, 1_000, 60_000).unwrap();
    assert_eq!(lease.sends.len(), n);
    let settled: Vec<_> = lease
        .sends
        .iter()
        .map(|s| (s.group_id, t.clone()))
        .collect();
    assert_eq!(stack.settle(&lease.token, &settled, 1_000).unwrap(), n);
}

fn bypassed() -> Transition {
    Transition::Bypassed {
        attempts: 10,
        response: "404 no such product".into(),
        maybe_applied: false,
    }
}

/// The troubleshooting view lists a cart's records, or the records in one state, without a
/// walk of the rest of the stack: an operator looking at cart B's 40 bypassed records while
/// cart A has thousands waiting (an outage) waited for a scan of them all, on every refresh.
#[test]
fn the_stack_listing_walks_only_what_it_may_list() {
    let waiting_sql = |from: &str| {
        LIST_WAITING
            .replace("{sql}", from)
            .replace("{LISTED}", LISTED)
    };
    let mut seen = Vec::new();
    for (waiting, refused) in [(300, 40), (3_000, 400)] {
        let dir = tempfile::tempdir().unwrap();
        let (store, a) = store_with_pending(dir.path(), waiting);
        let b = add_cart(&store, "B");
        // A hot item first (its group holds as many records as there are refused items),
        // then the refused items, each a group of one.
        store
            .upsert_item_json(r#"{"sku":"H","qoh":100000}"#)
            .unwrap();
        store.begin().unwrap();
        for _ in 0..refused {
            sell(&store, "H");
        }
        store.commit().unwrap();
        sell_new(&store, waiting, refused);
        let stack = SqliteStack::open(store.path(), &OpenOptions::default()).unwrap();
        settle_oldest(&stack, b, refused + 1, bypassed());
        let listed: serde_json::Value = serde_json::from_str(
            &store
                .stack_list_json(Some(&format!(r#"{{"cart_id":{b},"state":2,"limit":10}}"#)))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(listed.as_array().unwrap().len(), 10);
        let conn = Connection::open(store.path()).unwrap();
        let b_bypassed = group_walk(&conn, b, "bypassed", 10);
        assert_eq!(
            (b_bypassed.1, b_bypassed.2),
            (0, 10),
            "sorts and rows of B's bypassed"
        );
        let b_waiting = work(
            &conn,
            &waiting_sql(UNGROUPED),
            rusqlite::params![b, i64::MAX, 1_000],
        );
        let b_batches = work(
            &conn,
            &waiting_sql(IN_BATCHES),
            rusqlite::params![b, i64::MAX, 1_000],
        );
        let a_first = work(
            &conn,
            &waiting_sql(UNGROUPED),
            rusqlite::params![a, i64::MAX, 100],
        );
        assert_eq!(
            (b_waiting.3, b_batches.3, a_first.3),
            (0, 0, 100),
            "rows listed"
        );
        for (what, w) in [
            ("B waiting", b_waiting),
            ("B batches", b_batches),
            ("A first", a_first),
        ] {
            assert_eq!(w.1, 0, "{what}: full-scan steps beside {waiting} waiting");
        }
        assert_eq!(
            a_first.2, 0,
            "A's first 100 sorted: not in the index's order"
        );
        seen.push((b_bypassed.0, b_waiting.0, b_batches.0, a_first.0));
    }
    assert_eq!(
        seen[0], seen[1],
        "VM steps of (B's first 10 bypassed, B waiting, B's batches, A's first 100) beside \
         (300 waiting for A, 40 bypassed groups on B and a hot one of 40) and (3,000, 400, 400)"
    );
}

/// Unfiltered, every record qualifies, so the view reads the stack in id order and stops at
/// its limit, however many records the carts hold grouped (a cart refusing thousands of SKUs).
#[test]
fn the_unfiltered_stack_listing_reads_only_its_limit() {
    let mut seen = Vec::new();
    for held in [300, 3_000] {
        let dir = tempfile::tempdir().unwrap();
        let (store, a) = store_with_pending(dir.path(), held);
        let stack = SqliteStack::open(store.path(), &OpenOptions::default()).unwrap();
        settle_oldest(&stack, a, held, bypassed());
        let first: serde_json::Value =
            serde_json::from_str(&store.stack_list_json(Some(r#"{"limit":10}"#)).unwrap()).unwrap();
        assert_eq!(first.as_array().unwrap().len(), 10);
        assert_eq!(first[0]["state"], "bypassed");
        let conn = Connection::open(store.path()).unwrap();
        let w = work(&conn, &LIST_ALL.replace("{LISTED}", LISTED), [10]);
        assert_eq!((w.2, w.3), (0, 10), "sorts and rows beside {held} bypassed");
        seen.push(w.0);
    }
    assert_eq!(
        seen[0], seen[1],
        "VM steps of the first 10 beside 300 and 3,000 bypassed"
    );
}

/// Whatever the filter and limit, the view lists what the scan it replaced listed, in the
/// same order: records of two carts in every state, their ids interleaved.
#[test]
fn the_stack_listing_lists_what_a_scan_of_the_stack_would() {
    let dir = tempfile::tempdir().unwrap();
    let (store, a) = store_with_pending(dir.path(), 30);
    let b = add_cart(&store, "B");
    sell_new(&store, 30, 30);
    // Items with several records, so a group holds several: S0 on A, S30 on both.
    for sku in ["S0", "S30", "S0", "S30"] {
        sell(&store, sku);
    }
    let stack = SqliteStack::open(store.path(), &OpenOptions::default()).unwrap();
    let retry = Transition::Pending {
        attempts: 1,
        next_attempt_at: 2_000,
        response: "503".into(),
        maybe_applied: false,
    };
    settle_oldest(&stack, a, 10, retry);
    settle_oldest(&stack, b, 10, bypassed());
    let unsure = Transition::Uncertain {
        attempts: 1,
        response: "timed out".into(),
    };
    settle_oldest(&stack, b, 5, unsure);
    let scope = shared_scope();
    assert_eq!(
        stack
            .lease(b, 5, &scope, 1_000, 60_000)
            .unwrap()
            .sends
            .len(),
        5
    );
    sell_new(&store, 60, 10);
    let conn = Connection::open(store.path()).unwrap();
    let mut compared = 0;
    let unknown = store.stack_list_json(Some(r#"{"cart_id":999}"#));
    assert_eq!(
        unknown.unwrap_err().kind(),
        inventory_sync::ErrorKind::NotFound
    );
    for cart in [None, Some(a), Some(b)] {
        for state in [
            None,
            Some((1, "pending")),
            Some((2, "bypassed")),
            Some((3, "uncertain")),
        ] {
            for limit in [1, 7, 1_000] {
                let filter = serde_json::json!({
                    "cart_id": cart,
                    "state": state.map(|s| s.0),
                    "limit": limit,
                });
                let listed: serde_json::Value = serde_json::from_str(
                    &store.stack_list_json(Some(&filter.to_string())).unwrap(),
                )
                .unwrap();
                let listed: Vec<serde_json::Value> = listed
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| {
                        let state = r["state"].as_str().unwrap().replace("leased", "pending");
                        serde_json::json!([
                            r["id"],
                            state,
                            r["cart_id"],
                            r["sku"],
                            r["delta"],
                            r["attempts"],
                            r["last_response"]
                        ])
                    })
                    .collect();
                let scanned: Vec<serde_json::Value> = conn
                    .prepare(LIST_BY_SCAN)
                    .unwrap()
                    .query_map(rusqlite::params![cart, state.map(|s| s.1), limit], |r| {
                        Ok(serde_json::json!([
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, i64>(4)?,
                            r.get::<_, i64>(5)?,
                            r.get::<_, Option<String>>(6)?
                        ]))
                    })
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                assert_eq!(listed, scanned, "filter {filter}");
                compared += scanned.len();
            }
        }
    }
    assert!(compared > 300, "the filters listed {compared} rows in all");
}

/// `ledger_list()` for one SKU: the newest change of each of its items, then each item's
/// changes one by one, from each row to the one before it (columns elided).
const SKU_ITEMS: &str =
    "SELECT MAX(head) FROM (SELECT id, last_change AS head FROM items WHERE sku = ?1
                                    UNION ALL
                                    SELECT item_id, last_change FROM retired_items WHERE sku = ?1)
             GROUP BY id";
const LEDGER_ROW: &str = "prev_change FROM ledger WHERE id = ?1";

/// What `ledger_list()` does for `sku` (up to 10 changes an item): SQLite's steps, full-scan
/// steps and sorts over its statements, and the rows it reads.
fn history_work(conn: &Connection, sku: &str) -> (i32, i32, i32, usize) {
    let mut heads = conn.prepare(SKU_ITEMS).unwrap();
    let starts: Vec<i64> = heads
        .query_map([sku], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let mut total = (
        heads.get_status(StatementStatus::VmStep),
        heads.get_status(StatementStatus::FullscanStep),
        0,
        0,
    );
    let mut row = conn
        .prepare(&format!("SELECT id, sku, {LEDGER_ROW}"))
        .unwrap();
    for start in starts {
        let (mut at, mut found) = (start, 0);
        while at > 0 && found < 10 {
            let (this, prev): (String, i64) =
                row.query_row([at], |r| Ok((r.get(1)?, r.get(2)?))).unwrap();
            found += usize::from(this == sku);
            total.3 += 1;
            at = prev;
        }
    }
    total.0 += row.get_status(StatementStatus::VmStep);
    total.1 += row.get_status(StatementStatus::FullscanStep);
    total.2 += row.get_status(StatementStatus::Sort);
    total
}
/// `ledger_has_host_ref`: whether an order's or a file line's change was applied before.
const HOST_REF_SEEN: &str =
    "SELECT sku, delta, reason, origin_cart_id, sent_to_web FROM ledger WHERE host_ref = ?1";

/// Whether a host reference was applied before is one search of the partial index of host
/// references (schema 7 indexes only changes that have one), not a scan of the ledger: an
/// import re-run after a crash asks it for every line.
#[test]
fn a_host_reference_is_looked_up_in_its_index() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store_with_pending(dir.path(), 20);
    let conn = Connection::open(store.path()).unwrap();
    let text = plan(&conn, HOST_REF_SEEN).join("\n");
    assert!(
        text.contains("SEARCH ledger USING INDEX ledger_host_ref (host_ref=?)"),
        "{text}"
    );
}

/// An item's history costs the same however long the ledger is (a row per QOH change, kept
/// for good): it was a scan of every change of every item. It lists by SKU, so a SKU deleted
/// and created again shows the changes of both, newest first.
#[test]
fn an_items_history_does_not_scan_the_ledger() {
    let mut seen = Vec::new();
    for changes in [300, 3_000] {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = store_with_pending(dir.path(), 0);
        // Counted to 0 (and not sent) before it is deleted: a real-time cart shows nothing.
        store.upsert_item_json(r#"{"sku":"S7","qoh":2}"#).unwrap();
        let count = Adjustment::new("S7", Delta::new(-2).unwrap(), Reason::Adjustment);
        store.adjust_qoh(&count.send_to_web(false)).unwrap();
        store.delete_item("S7").unwrap();
        sell_new(&store, 0, changes);
        let history: serde_json::Value =
            serde_json::from_str(&store.ledger_json(Some(r#"{"sku":"S7"}"#)).unwrap()).unwrap();
        let deltas: Vec<_> = history
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["delta"].as_i64().unwrap())
            .collect();
        assert_eq!(deltas, [-1, -2], "S7's changes, the deleted item's last");
        let conn = Connection::open(store.path()).unwrap();
        let items = work(&conn, SKU_ITEMS, ["S7"]);
        assert_eq!(items.3, 2, "S7 and the deleted item that was S7");
        let (steps, full_scan, sorts, rows) = history_work(&conn, "S7");
        assert_eq!(
            (full_scan, sorts, rows),
            (0, 0, 2),
            "beside {changes} changes"
        );
        seen.push((items.0, steps));
    }
    assert_eq!(
        seen[0], seen[1],
        "VM steps of one SKU's history beside 300 and 3,000 changes"
    );
}

/// `items_list()`: SKUs from a prefix on, and one product's variants (columns elided).
const ITEMS_PREFIXED: &str = "WHERE i.sku >= ?1 AND i.sku < CAST(?1 || x'ff' AS TEXT)";
const ITEMS_OF_PARENT: &str = "WHERE i.parent_id = ?2 AND {PREFIXED} ORDER BY i.sku LIMIT ?3";
const PREFIXED: &str = "substr(i.sku, 1, length(?1)) = ?1";

/// A catalogue of `n` plain items "S0".."S{n-1}" and a product "ZZ-TEE" with 3 variants.
fn catalogue(dir: &std::path::Path, n: usize) -> Store {
    let (store, _) = store_with_pending(dir, 0);
    store.begin().unwrap();
    for i in 0..n {
        store
            .upsert_item_json(&format!(r#"{{"sku":"S{i}","qoh":1}}"#))
            .unwrap();
    }
    store
        .upsert_item_json(r#"{"sku":"ZZ-TEE","qoh":0}"#)
        .unwrap();
    for size in ["S", "M", "L"] {
        store
            .upsert_item_json(&format!(
                r#"{{"sku":"ZZ-TEE-{size}","parent_sku":"ZZ-TEE","qoh":1}}"#
            ))
            .unwrap();
    }
    store.commit().unwrap();
    store
}

/// Finding items by the start of their SKU (the host's item search, as the user types) or a
/// product's variants walks only what it may list: both walked the catalogue from its first
/// SKU, so the SKUs late in the alphabet cost a scan of it all.
#[test]
fn an_item_search_walks_only_the_skus_it_may_list() {
    let mut seen = Vec::new();
    for items in [300, 3_000] {
        let dir = tempfile::tempdir().unwrap();
        let store = catalogue(dir.path(), items);
        let skus = |filter: &str| -> Vec<String> {
            let v: serde_json::Value =
                serde_json::from_str(&store.items_json(Some(filter)).unwrap()).unwrap();
            v.as_array()
                .unwrap()
                .iter()
                .map(|r| r["sku"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(
            skus(r#"{"sku_prefix":"ZZ-TEE-"}"#),
            ["ZZ-TEE-L", "ZZ-TEE-M", "ZZ-TEE-S"]
        );
        assert_eq!(
            skus(r#"{"parent_sku":"ZZ-TEE"}"#),
            ["ZZ-TEE-L", "ZZ-TEE-M", "ZZ-TEE-S"]
        );
        assert_eq!(
            skus(r#"{"parent_sku":"ZZ-TEE","sku_prefix":"ZZ-TEE-M"}"#),
            ["ZZ-TEE-M"]
        );
        let conn = Connection::open(store.path()).unwrap();
        let prefixed = format!("SELECT i.sku FROM items i {ITEMS_PREFIXED} AND {PREFIXED}");
        let search = work(&conn, &prefixed, ["ZZ-TEE-"]);
        let parent: i64 = conn
            .query_row("SELECT id FROM items WHERE sku = 'ZZ-TEE'", [], |r| {
                r.get(0)
            })
            .unwrap();
        let variants = format!(
            "SELECT i.sku FROM items i {}",
            ITEMS_OF_PARENT.replace("{PREFIXED}", PREFIXED)
        );
        let of_parent = work(&conn, &variants, rusqlite::params!["", parent, 10]);
        assert_eq!((search.3, of_parent.3), (3, 3), "rows beside {items} items");
        assert_eq!(
            (search.1, of_parent.1),
            (0, 0),
            "full-scan steps beside {items}"
        );
        seen.push((search.0, of_parent.0));
    }
    assert_eq!(
        seen[0], seen[1],
        "VM steps of (search, variants) beside 300 and 3,000 items"
    );
}

/// The prefix's range lists exactly the SKUs that start with it, whatever their characters.
#[test]
fn an_item_search_lists_every_sku_that_starts_with_the_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store_with_pending(dir.path(), 0);
    let skus = [
        "A",
        "AB",
        "Ab",
        "A~",
        "A\u{e9}",
        "A\u{10fff}",
        "A\u{10ffff}",
        "B",
        "\u{e9}t\u{e9}",
        "\u{e9}",
        "\u{1f600}",
        "\u{1f600}\u{1f600}",
        "%",
        "%A",
        "_A",
        "a",
    ];
    for sku in skus {
        let item = serde_json::json!({"sku": sku, "qoh": 1});
        store.upsert_item_json(&item.to_string()).unwrap();
    }
    for prefix in [
        "",
        "A",
        "Ab",
        "A\u{10ffff}",
        "\u{e9}",
        "\u{1f600}",
        "%",
        "_",
        "a",
        "Z",
    ] {
        let filter = serde_json::json!({"sku_prefix": prefix});
        let v: serde_json::Value =
            serde_json::from_str(&store.items_json(Some(&filter.to_string())).unwrap()).unwrap();
        let listed: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["sku"].as_str().unwrap())
            .collect();
        let mut expected: Vec<&str> = skus
            .iter()
            .copied()
            .filter(|s| s.starts_with(prefix))
            .collect();
        expected.sort_unstable();
        assert_eq!(listed, expected, "prefix {prefix:?}");
    }
}

/// A deleted item's id is not given to the next item created: SQLite gives the newest row's
/// id again once it is deleted, and a SKU created by mistake and deleted at once would have
/// had its history walk every change of the item created next.
#[test]
fn a_deleted_items_history_does_not_walk_the_next_items_changes() {
    let mut seen = Vec::new();
    for sales in [30, 300] {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = store_with_pending(dir.path(), 0);
        store.upsert_item_json(r#"{"sku":"TYPO","qoh":1}"#).unwrap();
        let typo = store.item("TYPO").unwrap().id;
        let count = Adjustment::new("TYPO", Delta::new(-1).unwrap(), Reason::Adjustment);
        store.adjust_qoh(&count.send_to_web(false)).unwrap();
        store.delete_item("TYPO").unwrap();
        store
            .upsert_item_json(r#"{"sku":"NEXT","qoh":5000}"#)
            .unwrap();
        assert!(
            store.item("NEXT").unwrap().id > typo,
            "the deleted item's id again"
        );
        store.begin().unwrap();
        for _ in 0..sales {
            sell(&store, "NEXT");
        }
        store.commit().unwrap();
        let history: serde_json::Value =
            serde_json::from_str(&store.ledger_json(Some(r#"{"sku":"TYPO"}"#)).unwrap()).unwrap();
        assert_eq!(history.as_array().unwrap().len(), 1);
        let conn = Connection::open(store.path()).unwrap();
        let (steps, _, _, rows) = history_work(&conn, "TYPO");
        assert_eq!(rows, 1, "TYPO's one change read");
        seen.push(steps);
    }
    assert_eq!(
        seen[0], seen[1],
        "VM steps of TYPO's history beside 30 and 300 sales of NEXT"
    );
}

/// `stack_backlog`'s row of `cart`: (counted_to, n, the newest record's id).
fn counted(conn: &Connection, cart: i64) -> (i64, i64, i64) {
    conn.query_row(
        "SELECT COALESCE((SELECT counted_to FROM stack_backlog WHERE cart_id = ?1), 0),
                COALESCE((SELECT n FROM stack_backlog WHERE cart_id = ?1), 0),
                (SELECT MAX(id) FROM stack)",
        [cart],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .unwrap()
}

/// A host polling the count of waiting records while no controller runs (stopped, or on a
/// back-office machine that is down) counted every record queued since the last pass, on
/// every poll. Once more than 1,000 have been queued, a poll counts them in for the next.
#[test]
fn a_host_polling_the_waiting_count_does_not_count_the_backlog_each_time() {
    let mut seen = Vec::new();
    for queued in [2_000, 20_000] {
        let dir = tempfile::tempdir().unwrap();
        let (store, cart) = store_with_pending(dir.path(), queued);
        let conn = Connection::open(store.path()).unwrap();
        assert_eq!(counted(&conn, cart).0, 0, "nothing counted yet");
        let waiting = store.stack_count(cart, StackState::Waiting).unwrap();
        assert_eq!(waiting, queued as i64);
        let (to, n, top) = counted(&conn, cart);
        assert_eq!((to, n), (top, queued as i64), "counted in by the poll");
        for _ in 0..5 {
            sell(&store, "S0");
        }
        assert_eq!(
            store.stack_count(0, StackState::Waiting).unwrap(),
            queued as i64 + 5
        );
        assert_eq!(counted(&conn, cart).0, to, "5 more: the poll only read");
        let (steps, ..) = work(&conn, WAITING, rusqlite::params![cart, "pending"]);
        seen.push(steps);
    }
    assert_eq!(
        seen[0], seen[1],
        "VM steps of the next poll beside 2,000 and 20,000 queued"
    );
}

/// That catch-up never holds up the poll, nor writes into the host's own transaction: the
/// count is right either way.
#[test]
fn a_polled_count_is_right_while_the_store_is_busy_or_in_a_host_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let (store, cart) = store_with_pending(dir.path(), 1_500);
    let other = Connection::open(store.path()).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    assert_eq!(store.stack_count(cart, StackState::Waiting).unwrap(), 1_500);
    other.execute_batch("ROLLBACK").unwrap();
    assert_eq!(
        counted(&other, cart).0,
        0,
        "no catch-up while another held the lock"
    );
    store.begin().unwrap();
    sell(&store, "S1");
    assert_eq!(store.stack_count(cart, StackState::Waiting).unwrap(), 1_501);
    store.rollback().unwrap();
    assert_eq!(
        counted(&other, cart).0,
        0,
        "nothing written in the host's transaction"
    );
    assert_eq!(store.stack_count(cart, StackState::Waiting).unwrap(), 1_500);
    assert_eq!(
        counted(&other, cart).1,
        1_500,
        "counted in once the store was free"
    );
}

/// The WAL frames `store`'s file holds, and its page size.
fn wal_frames(store: &Store) -> (i64, u64) {
    let conn = Connection::open(store.path()).unwrap();
    let page: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    drop(conn);
    let wal = std::fs::metadata(format!("{}-wal", store.path().display()))
        .map(|m| m.len())
        .unwrap_or(0);
    // A WAL file is a 32-byte header, then a 24-byte header and a page a frame.
    (page, wal.saturating_sub(32) / (24 + page as u64))
}

/// A QOH change commits alone (a POS sale, an adjustment) and its commit's cost is the pages
/// it writes to the WAL: the item, the ledger row, the stack record and its indexes; 5.56
/// pages a change here, with page 1 when the file grows, and 6.75 with the ledger's index by
/// item before schema 26). A store file is
/// created with 1 KiB pages, so such a commit writes about 6 KiB rather than 24 KiB (it ran
/// 1.4-1.5x as fast in `cargo bench --bench ratios`), and a change without a host reference
/// writes no entry in the host references' index (it wrote a NULL there, 7.9 pages a change
/// until schema 7). This fails when the page size is lost, or when a change starts writing
/// another page (a new index).
#[test]
fn a_qoh_change_commits_few_small_pages() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store_with_pending(dir.path(), 200);
    let conn = Connection::open(store.path()).unwrap();
    let busy: i64 = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
        .unwrap();
    assert_eq!(busy, 0, "the WAL was emptied");
    drop(conn);
    assert_eq!(wal_frames(&store).1, 0);

    let changes = 100;
    for i in 0..changes {
        sell(&store, &format!("S{}", i * 2));
    }
    let (page, frames) = wal_frames(&store);
    assert_eq!(page, 1024, "a new store file has 1 KiB pages");
    let per_change = frames as f64 / changes as f64;
    assert!(
        (5.0..=6.0).contains(&per_change),
        "{per_change} pages written a QOH change ({frames} in {changes} commits)"
    );
}

/// A store file created before stores had 1 KiB pages keeps its page size (a WAL file cannot
/// change it) and works as before.
#[test]
fn a_store_with_4k_pages_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let (store, cart) = store_with_pending(dir.path(), 50);
    let path = store.path().to_path_buf();
    drop(store);
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    conn.pragma_update(None, "page_size", 4096).unwrap();
    conn.execute_batch("VACUUM").unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    drop(conn);

    let store = Store::open(&path).unwrap();
    sell(&store, "S7");
    let (page, _) = wal_frames(&store);
    assert_eq!(page, 4096, "an existing store keeps its page size");
    let stack = SqliteStack::open(store.path(), &OpenOptions::default()).unwrap();
    assert_eq!(
        stack.waiting(cart).unwrap(),
        51,
        "the 50 records and the new sale wait"
    );
    assert_eq!(store.item("S7").unwrap().qoh, 98);
}

/// A SKU a cart refuses for good (BigCommerce holding no count of a new product, a Medusa
/// count below 0 it never takes) gains a bypassed group with every sale, and each sale is
/// tried `BypassAfterAttempts` times, refused each time. Every lease of such a refused sale
/// reads the item's later records to fold them, from the group's newest record: beside 1,000
/// bypassed sales it does the work it does beside 100 (it walked every record of the item,
/// in the store's one write transaction, on every retry of every sale).
#[test]
fn a_refused_sales_retry_does_not_walk_the_items_bypassed_sales() {
    let mut seen = Vec::new();
    for bypassed in [100, 1_000] {
        let dir = tempfile::tempdir().unwrap();
        let s = &Store::open(dir.path().join("store.db")).unwrap();
        s.set_param("SynchQOH", "true").unwrap();
        let cart = add_cart(s, "Web");
        s.upsert_item_json(r#"{"sku":"H","qoh":1000000}"#).unwrap();
        let sale = || {
            s.adjust_qoh(&Adjustment::new(
                "H",
                Delta::new(-1).unwrap(),
                Reason::PosSale,
            ))
            .unwrap()
        };
        let stack = SqliteStack::open(s.path(), &Default::default()).unwrap();
        let scope = LeaseScope {
            workstation: "ws".into(),
            shared: true,
            stale_before: 0,
        };
        let send_once = |t: Transition| {
            let lease = stack.lease(cart, 50, &scope, 1_000, 60_000).unwrap();
            assert_eq!(lease.sends.len(), 1);
            stack
                .settle(&lease.token, &[(lease.sends[0].group_id, t)], 1_000)
                .unwrap();
        };
        s.begin().unwrap();
        for _ in 0..bypassed {
            sale();
        }
        s.commit().unwrap();
        // Each sale sent alone and refused for good.
        for _ in 0..bypassed {
            let lease = stack.lease(cart, 1, &scope, 1_000, 60_000).unwrap();
            let t: Vec<_> = lease
                .sends
                .iter()
                .map(|x| {
                    (
                        x.group_id,
                        Transition::Bypassed {
                            attempts: 10,
                            response: "refused".into(),
                            maybe_applied: false,
                        },
                    )
                })
                .collect();
            stack.settle(&lease.token, &t, 1_000).unwrap();
        }
        // The next sale is refused, to be tried again; one more sale waits behind it.
        sale();
        send_once(Transition::Refused {
            attempts: 1,
            next_attempt_at: 2_000,
            response: "insufficient stock".into(),
        });
        sale();
        assert_eq!(s.stack_count(cart, StackState::Bypassed).unwrap(), bypassed);
        let conn = rusqlite::Connection::open(s.path()).unwrap();
        let (h, group): (i64, i64) = conn
            .query_row(
                "SELECT item_id, id FROM send_groups WHERE state = 'pending'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let mut st = conn.prepare(REFUSED_TAIL).unwrap();
        let rows = st.query_map([cart, h, group], |_| Ok(())).unwrap().count();
        assert_eq!(rows, 1, "the one sale behind the refused one");
        let mut groups = conn.prepare(LATER_GROUPS).unwrap();
        let later = groups
            .query_map([cart, h, group, 1_000], |_| Ok(()))
            .unwrap()
            .count();
        assert_eq!(later, 0, "no group waits behind the refused one");
        seen.push((
            st.get_status(rusqlite::StatementStatus::VmStep),
            groups.get_status(rusqlite::StatementStatus::VmStep),
        ));
    }
    assert_eq!(
        seen[0], seen[1],
        "VM steps of the refused sale's tail and later groups read beside 100 and 1,000 \
         bypassed sales of the item"
    );
}
