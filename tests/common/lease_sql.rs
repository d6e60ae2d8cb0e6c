//! One copy of the lease's statements for the tests that check them: tests/scaling.rs (their
//! query plans and their work at a small and a large stack) and tests/lease_equivalence.rs
//! (the grouping chooses what the statement it replaced chose). [`assert_in_source`] fails
//! when `src/store/sql.rs` no longer holds one of them, so a changed statement is checked
//! again rather than passing on stale text. Each file brings this in with
//! `#[path = "common/lease_sql.rs"] mod lease_sql;`.
#![allow(dead_code)]

/// `scope_sql(a)` in `lease()`.
pub const SCOPE: &str = "(?3 OR {a}.workstation = ?4 OR NOT EXISTS (SELECT 1 FROM heartbeats h
              WHERE h.workstation = {a}.workstation AND h.last_seen >= ?5))";

/// The cart's oldest waiting record, of any workstation, where the grouping's walk for an
/// item's older records starts (`{first}` in the source).
pub const FIRST: &str = "(SELECT m.id FROM stack m WHERE m.cart_id = ?1 AND m.group_id IS NULL
          ORDER BY m.id LIMIT 1)";

/// The first of each item's records among the oldest ungrouped ones, unless an older one
/// waits or the item is in flight: the items of a first-attempt batch (`{}` is the scope of
/// `s`). `stop` is where the item's run ends: its first waiting record older than the
/// window's (then the item may not go) or newer and another workstation's.
pub const FIRSTS: &str = "SELECT s.item_id, s.workstation, s.id, s.stop
                   FROM (SELECT s.item_id, s.workstation, s.id,
                                (SELECT e.id FROM stack e
                                 WHERE e.cart_id = ?1 AND e.item_id = s.item_id
                                   AND e.id >= {first} AND e.id <> s.id AND e.group_id IS NULL
                                   AND (e.id < s.id OR e.workstation <> s.workstation)
                                 ORDER BY e.id LIMIT 1) AS stop
                         FROM stack s
                         WHERE s.cart_id = ?1 AND s.group_id IS NULL AND {}
                         ORDER BY s.id LIMIT ?8) s
                   WHERE (s.stop IS NULL OR s.stop > s.id)
                     {behind_group}
                     {behind_batch}
                   LIMIT ?6";

/// `{behind_group}` in [`FIRSTS`] while the cart has a group in flight or waiting to retry
/// ([`RETRYING`], asked once of the cart); empty else.
pub const BEHIND_GROUP: &str = "AND NOT EXISTS (SELECT 1 FROM send_groups o
                         WHERE o.cart_id = ?1 AND o.item_id = s.item_id
                           AND o.state = 'pending')";

/// `{behind_batch}` in [`FIRSTS`] while the cart has more than one batch besides the one
/// being made ([`BATCHES`]).
pub const BEHIND_BATCHES: &str = "AND NOT EXISTS (SELECT 1 FROM send_groups b CROSS JOIN stack f
                         WHERE b.cart_id = ?1 AND b.item_id = 0
                           AND f.group_id = b.id AND f.item_id = s.item_id)";

/// `{behind_batch}` when [`BATCHES`] found exactly one, bound as `?9`: probed by its id.
pub const BEHIND_ONE_BATCH: &str = "AND NOT EXISTS (SELECT 1 FROM stack f
                         WHERE f.group_id = ?9 AND f.item_id = s.item_id)";

/// The cart's batches but the one being made (`?2`): through their index, a few rows.
pub const BATCHES: &str = "SELECT id FROM send_groups INDEXED BY send_groups_batches
             WHERE cart_id = ?1 AND item_id = 0 AND id <> ?2";

/// Whether the cart has a group in flight or waiting to retry: through the index of due
/// groups, never walking a refused SKU's bypassed ones.
pub const RETRYING: &str = "SELECT EXISTS (SELECT 1 FROM send_groups INDEXED BY send_groups_due
                 WHERE cart_id = ?1 AND state = 'pending' AND item_id <> 0)";

/// The batch takes those items' ungrouped records, each item's of one workstation up to
/// another's (`{FIRSTS}` is [`FIRSTS`]).
pub const GROUPING: &str = "UPDATE stack SET group_id = ?7 WHERE id IN (
             SELECT x.id FROM ({FIRSTS}) p
             CROSS JOIN stack x
             WHERE x.cart_id = ?1 AND x.item_id = p.item_id AND x.id >= p.id
               AND (x.id = p.id OR (x.workstation = p.workstation AND x.group_id IS NULL))
               AND x.id < COALESCE(p.stop, 9223372036854775807))";

/// The batch row `first_attempt_batch` inserts before it groups.
pub const NEW_BATCH: &str =
    "INSERT INTO send_groups(cart_id, item_id, key, key_salt, net_delta, workstation,
                                     state, next_attempt_at, created_at, lease_token,
                                     lease_until, unsettled)
             VALUES (?1, 0, ?2, ?3, 0, ?4, 'pending', ?5, ?5, ?6, ?7, 1)";

/// [`FIRSTS`] as the source builds it: the scope of `s`, the walk's start, and the two
/// probes the lease chose (each one of the constants above or empty).
pub fn firsts(behind_group: &str, behind_batch: &str) -> String {
    FIRSTS
        .replacen("{}", &SCOPE.replace("{a}", "s"), 1)
        .replace("{first}", FIRST)
        .replace("{behind_group}", behind_group)
        .replace("{behind_batch}", behind_batch)
}

/// The grouping statement as the source builds it (see [`firsts`]).
pub fn grouping(behind_group: &str, behind_batch: &str) -> String {
    GROUPING.replace("{FIRSTS}", &firsts(behind_group, behind_batch))
}

/// `s` with its runs of white space made one space: the source indents differently.
pub fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Fails naming the statement when `src/store/sql.rs` no longer holds one of these copies, or
/// one of `more` (the calling file's own).
pub fn assert_in_source(more: &[&str]) {
    let source = squash(include_str!("../../src/store/sql.rs"));
    let (head, tail) = GROUPING
        .split_once("({FIRSTS})")
        .expect("GROUPING holds {FIRSTS}");
    for s in [
        SCOPE,
        FIRST,
        FIRSTS,
        BEHIND_GROUP,
        BEHIND_BATCHES,
        BEHIND_ONE_BATCH,
        BATCHES,
        RETRYING,
        head,
        tail,
        NEW_BATCH,
    ]
    .iter()
    .chain(more)
    {
        assert!(
            source.contains(&squash(s)),
            "src/store/sql.rs no longer holds this statement; update the test's copy:\n{s}"
        );
    }
}
