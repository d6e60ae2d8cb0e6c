//! The schema of a store file and its migrations, versioned with `PRAGMA user_version`.
//!
//! Each entry of [`MIGRATIONS`] takes the file from version `i` to `i + 1`; they run in one
//! transaction on open, so a file is never left half-migrated. Never edit a released entry:
//! append a new one.

use rusqlite::Connection;

/// Migration `i` brings a store from `user_version = i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
    CREATE TABLE params (
        name  TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE items (
        id          INTEGER PRIMARY KEY,
        sku         TEXT NOT NULL UNIQUE,
        parent_id   INTEGER REFERENCES items(id),
        attributes  TEXT NOT NULL DEFAULT '{}',
        description TEXT NOT NULL DEFAULT '',
        qoh         INTEGER NOT NULL,
        created_at  INTEGER NOT NULL
    );
    CREATE INDEX items_parent ON items(parent_id) WHERE parent_id IS NOT NULL;

    CREATE TABLE carts (
        id                INTEGER PRIMARY KEY,
        name              TEXT NOT NULL UNIQUE,
        adapter           TEXT NOT NULL,
        config            TEXT NOT NULL,
        cap_send          INTEGER NOT NULL,
        cap_get           INTEGER NOT NULL,
        realtime          TEXT NOT NULL CHECK (realtime IN ('none', 'sku', 'attribute')),
        max_items_to_send INTEGER NOT NULL,
        retains_basket    INTEGER NOT NULL,
        sync_on           INTEGER NOT NULL DEFAULT 0,
        config_version    INTEGER NOT NULL DEFAULT 1,
        backoff_until     INTEGER NOT NULL DEFAULT 0,
        outage_step       INTEGER NOT NULL DEFAULT 0,
        cart_error        TEXT,
        manual_until      INTEGER NOT NULL DEFAULT 0
    );

    CREATE TABLE web_fields (
        cart_id     INTEGER NOT NULL REFERENCES carts(id) ON DELETE CASCADE,
        item_id     INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        remote_ref  TEXT,
        sync        INTEGER NOT NULL DEFAULT 1,
        buffer      INTEGER NOT NULL DEFAULT 0,
        max_publish INTEGER,
        PRIMARY KEY (cart_id, item_id)
    ) WITHOUT ROWID;

    CREATE TABLE ledger (
        id             INTEGER PRIMARY KEY,
        item_id        INTEGER NOT NULL,
        sku            TEXT NOT NULL,
        delta          INTEGER NOT NULL,
        qoh_after      INTEGER NOT NULL,
        reason         INTEGER NOT NULL,
        origin_cart_id INTEGER,
        host_ref       TEXT UNIQUE,
        workstation    TEXT NOT NULL,
        created_at     INTEGER NOT NULL
    );
    CREATE INDEX ledger_item ON ledger(item_id, id);

    -- A send group: what one request carries for one (cart, item), saved before its first
    -- attempt so every retry re-sends the same payload under the same key.
    CREATE TABLE send_groups (
        id              INTEGER PRIMARY KEY,
        cart_id         INTEGER NOT NULL,
        item_id         INTEGER NOT NULL,
        key             TEXT NOT NULL UNIQUE,
        net_delta       INTEGER NOT NULL,
        workstation     TEXT NOT NULL,
        state           TEXT NOT NULL CHECK (state IN ('pending', 'bypassed', 'uncertain')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_response   TEXT,
        lease_token     TEXT,
        lease_until     INTEGER NOT NULL DEFAULT 0,
        created_at      INTEGER NOT NULL
    );
    -- Serves the lease query in its own order: due groups of one cart, oldest first.
    CREATE INDEX send_groups_due ON send_groups(cart_id, state, next_attempt_at, id);
    CREATE INDEX send_groups_token ON send_groups(lease_token) WHERE lease_token IS NOT NULL;

    -- The web stack: one record per (QOH change, cart).
    CREATE TABLE stack (
        id             INTEGER PRIMARY KEY,
        cart_id        INTEGER NOT NULL,
        item_id        INTEGER NOT NULL,
        delta          INTEGER NOT NULL,
        reason         INTEGER NOT NULL,
        origin_cart_id INTEGER,
        workstation    TEXT NOT NULL,
        created_at     INTEGER NOT NULL,
        group_id       INTEGER
    );
    CREATE INDEX stack_ungrouped ON stack(cart_id, id) WHERE group_id IS NULL;
    CREATE INDEX stack_group ON stack(group_id) WHERE group_id IS NOT NULL;
    CREATE INDEX stack_cart_item ON stack(cart_id, item_id);

    -- What left the stack and how (applied, superseded, discarded, netted out).
    CREATE TABLE stack_log (
        id          INTEGER PRIMARY KEY,
        record_id   INTEGER NOT NULL,
        cart_id     INTEGER NOT NULL,
        item_id     INTEGER NOT NULL,
        delta       INTEGER NOT NULL,
        outcome     TEXT NOT NULL,
        group_key   TEXT,
        response    TEXT,
        at          INTEGER NOT NULL
    );

    CREATE TABLE heartbeats (
        workstation TEXT PRIMARY KEY,
        last_seen   INTEGER NOT NULL
    ) WITHOUT ROWID;

    -- The single active shared controller (DESIGN §7).
    CREATE TABLE controller_lock (
        name   TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        until  INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 2: Send QOH supersedes by (cart, item); without this it read every group of the cart.
    r#"
    CREATE INDEX send_groups_cart_item ON send_groups(cart_id, item_id);
    -- Every QOH change reads the item's web fields on all carts at once.
    CREATE INDEX web_fields_item ON web_fields(item_id);
    -- Leases taken since the group's last settlement: above 1, a controller stopped while
    -- sending it, and a cart that cannot de-duplicate must not be sent it blindly again.
    ALTER TABLE send_groups ADD COLUMN unsettled INTEGER NOT NULL DEFAULT 0;
    -- Who holds a cart for a manual Send/Get QOH (with `manual_until` as its deadline).
    ALTER TABLE carts ADD COLUMN manual_owner TEXT;
    "#,
    // 3: A cart's ungrouped backlog, counted once: `n` of its records with an id up to
    // `counted_to` wait ungrouped, so a pass reports what is left by counting only the records
    // enqueued since (see `sql::backlog_catch_up`). A cart without a row counts from 0.
    r#"
    CREATE TABLE stack_backlog (
        cart_id    INTEGER PRIMARY KEY,
        counted_to INTEGER NOT NULL,
        n          INTEGER NOT NULL
    );
    "#,
    // 4: A lease's first attempts are one `send_groups` row with `item_id = 0` (a batch) that
    // its records point to; an item gets a group of its own only when its send fails
    // (`sql::lease`). A build before this one would take such a row for an item's group.
    r#"
    CREATE INDEX send_groups_batches ON send_groups(cart_id, lease_until) WHERE item_id = 0;
    -- A batch's items' keys mix the item's id with these random bits (`sql::ITEM_KEY_SQL`).
    ALTER TABLE send_groups ADD COLUMN key_salt INTEGER NOT NULL DEFAULT 0;
    -- A batch's records of one item, found without walking the item's other records.
    DROP INDEX stack_group;
    CREATE INDEX stack_group ON stack(group_id, item_id) WHERE group_id IS NOT NULL;
    "#,
    // 5: an item's groups by state, so a lease asking whether an item has a send in flight
    // or waiting to retry (only pending groups are ever leased) passes over its bypassed and
    // uncertain ones: a SKU a cart refuses that keeps selling gains one a sale.
    r#"
    DROP INDEX send_groups_cart_item;
    CREATE INDEX send_groups_cart_item ON send_groups(cart_id, item_id, state);
    "#,
    // 6: the items a SKU named before they were deleted, so a SKU's history (its deleted
    // items' changes too) reads the ledger through `ledger_item` rather than scanning it. An
    // index of the ledger by SKU would do the same, at 10-17 % of every QOH change's cost.
    // Filled here from the ledger: the (item, SKU) pairs no current item has. From now on an
    // item's id is never given again (`sql::item_insert`), so an id names one SKU for good.
    // And each item group's first record (below), for the troubleshooting view.
    r#"
    CREATE TABLE retired_items (
        item_id INTEGER NOT NULL,
        sku     TEXT NOT NULL,
        PRIMARY KEY (item_id, sku)
    ) WITHOUT ROWID;
    CREATE INDEX retired_items_sku ON retired_items(sku);
    INSERT OR IGNORE INTO retired_items(item_id, sku)
        SELECT l.item_id, l.sku FROM ledger l
        WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.id = l.item_id AND i.sku = l.sku);
    -- An item group's oldest record when it was formed: a group never gains records, so no
    -- record of it is older. The troubleshooting view walks a cart's groups in this order and
    -- stops at the first whose oldest record could not be listed. Batches (item_id = 0) are
    -- left out: applied sends never write this index.
    ALTER TABLE send_groups ADD COLUMN first_record INTEGER NOT NULL DEFAULT 0;
    UPDATE send_groups SET first_record =
        COALESCE((SELECT MIN(s.id) FROM stack s WHERE s.group_id = send_groups.id), 0)
        WHERE item_id <> 0;
    CREATE INDEX send_groups_listed ON send_groups(cart_id, state, first_record)
        WHERE item_id <> 0;
    "#,
    // 7: a host reference is unique where there is one, and a change without one (most
    // adjustments, every POS sale) no longer writes a NULL into an index: one page of the 7
    // a QOH change commits. A column's UNIQUE cannot be dropped, so before this the ledger
    // is rebuilt without it, every column, row and id kept (`drop_column_unique`);
    // `ledger_by_host_ref` is served by the partial index (`host_ref = ?` implies
    // `host_ref IS NOT NULL`).
    r#"
    CREATE UNIQUE INDEX ledger_host_ref ON ledger(host_ref) WHERE host_ref IS NOT NULL;
    "#,
    // 8: what a cart that is not sent real-time changes counted (with the records still
    // waiting for it) at its last Get QOH, where that differs from what it publishes (a cap,
    // a buffer, the floor of 0): the next Get QOH takes only what changed there since, not
    // the same difference again. Forgotten once the cart is sent the item's count, or made
    // a record of the difference when real-time changes start going to the cart
    // (`manual::pulled_to_realtime`).
    r#"
    CREATE TABLE pulled_counts (
        cart_id INTEGER NOT NULL REFERENCES carts(id) ON DELETE CASCADE,
        item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        count   INTEGER NOT NULL,
        PRIMARY KEY (cart_id, item_id)
    ) WITHOUT ROWID;
    CREATE INDEX pulled_counts_item ON pulled_counts(item_id);
    "#,
    // 9: the counts a Send QOH batch is sending, each with the newest record it includes
    // (0 for none, of an item with a count kept: `pulled_counts`): written before the
    // request, gone with the settlement of its answer. One left (the settlement failed on a
    // busy store, or the process ended) may have been taken, so the records it included are
    // settled as superseded, and a kept count settled (`sql::counts_left`), before a controller
    // or manual run goes on with the cart: sent as deltas they would be counted twice.
    r#"
    CREATE TABLE counts_sending (
        cart_id INTEGER NOT NULL REFERENCES carts(id) ON DELETE CASCADE,
        item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        upto    INTEGER NOT NULL,
        PRIMARY KEY (cart_id, item_id)
    ) WITHOUT ROWID;
    CREATE INDEX counts_sending_item ON counts_sending(item_id);
    "#,
    // 10: the items whose count the store knows a cart shows: those up to this id. It was
    // sent their counts (Send QOH, or real-time changes while it was one they go to) or read
    // them (Get QOH). A web field changed on such an item, on a cart that real-time changes do
    // not go to, leaves the cart showing the count it published before: that count is kept
    // (schema 8), so that Get QOH does not read the change as sales or returns there. An item
    // the cart was never shown (made since, or on a cart never synced) has the count its shop
    // gave it: a web field set on it keeps nothing. A store from before counts every item as
    // shown to every cart: a cart set up by Send QOH alone left no trace of it, and a cart in
    // use before the upgrade shows what it was last sent far more often than what a web field
    // changed since would make it.
    r#"
    ALTER TABLE carts ADD COLUMN counts_shown_upto INTEGER NOT NULL DEFAULT 0;
    UPDATE carts SET counts_shown_upto = (SELECT COALESCE(MAX(id), 0) FROM items);
    "#,
    // 11: the items past `counts_shown_upto` whose count a cart was sent or read (Send QOH,
    // Get QOH, a drift repair), one by one. Schema 10 moved the mark up to the newest item a
    // Send QOH sent, and to the newest of all at a Get QOH, so an item between them that the
    // cart never listed, refused, or was not sent, was taken as shown: a cap set on it then
    // kept what the store published before, and Get QOH read the cap as sales there (100
    // units capped at 20 and listed at 20 became QOH 20). The mark stays for what it was
    // right for: every item of a store upgraded from before, and every item of a cart
    // real-time changes went to, once they stop going there (each change sent assumed the cart
    // showed what the store published).
    // A row holds the marks of 4,096 item ids (`sql::SHOWN_CHUNK`) as a bitmap: Send QOH of a
    // new cart notes every item, and a row per item cost it a fifth of its rate.
    r#"
    CREATE TABLE counts_shown (
        cart_id INTEGER NOT NULL REFERENCES carts(id) ON DELETE CASCADE,
        chunk   INTEGER NOT NULL,
        bits    BLOB NOT NULL,
        PRIMARY KEY (cart_id, chunk)
    ) WITHOUT ROWID;
    "#,
    // 12: two things a schema-1 build left that migration 2 kept as they were. A group a
    // schema-1 controller had taken for sending and never settled (its process ended) holds
    // a lease token with `unsettled` at 0: taken as never sent, a cart without keys was sent
    // it again (a sale taken twice). It is counted as sent once, as schema 2 counts a lease.
    // And a cart a schema-1 Send QOH held until it ended (`manual_until` at the end of time,
    // no owner) stayed held for good when the run's process had died: nothing sent to it, and
    // every Send QOH refused. Its hold now lapses in 15 minutes, as a hold does since schema
    // 2. Builds from schema 2 on leave neither (a lease counts itself; a hold names its
    // owner), so nothing else matches.
    // Also: until when a cart asked to be sent nothing (a 429), apart from the back-off it
    // is part of, so that an answer ending an outage does not lift it (`CartRunState`).
    r#"
    ALTER TABLE carts ADD COLUMN rate_limited_until INTEGER NOT NULL DEFAULT 0;
    UPDATE send_groups SET unsettled = 1 WHERE lease_token IS NOT NULL AND unsettled = 0;
    UPDATE carts
       SET manual_until = MIN(manual_until,
                              CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) + 900000)
     WHERE manual_owner IS NULL AND manual_until > 0;
    "#,
    // 13: finding the item a reference of a cart already links (`Store::set_web_fields`
    // refuses a second), without reading every item's web fields on the cart.
    r#"
    CREATE INDEX web_fields_ref ON web_fields(cart_id, remote_ref);
    "#,
    // 14: a pending group whose last answer said the cart applied nothing of it, as a change
    // it cannot take as it stands (`Verdict::Refused`): the item's later changes join it when
    // it goes again.
    r#"
    ALTER TABLE send_groups ADD COLUMN refused INTEGER NOT NULL DEFAULT 0;
    "#,
    // 15: whether a change under a host reference was to go to the carts (`send_to_web`),
    // so that a retry asking otherwise is told, not skipped as seen before: a change first
    // made with the carts left out and retried to reach them was never sent. Left NULL
    // (not known) on the rows before, which are compared as before.
    r#"
    ALTER TABLE ledger ADD COLUMN sent_to_web INTEGER;
    "#,
    // 16: the saving of a cart from which its adapter and settings stand
    // (`cart_set_run_state`): an answer to a request made since is the same shop's and is
    // kept whatever else was saved meanwhile (its batch size, say). Guarded by every saving
    // before, a Retry-After met while the owner saved the cart unchanged was dropped, and
    // the next pass sent the cart the rest of its backlog inside it.
    r#"
    ALTER TABLE carts ADD COLUMN settings_version INTEGER NOT NULL DEFAULT 0;
    UPDATE carts SET settings_version = config_version;
    "#,
    // 17: host references kept padded by builds before 2026-12-03 (a VBA fixed-width field,
    // a right-aligned one, a full-width CHAR column), trimmed as a reference is read now
    // (Rust's `str::trim`: Unicode's White_Space, the code points listed): a retry given
    // trimmed (the CLI's import trims every field) was not found, and applied again. Where
    // several rows trim to one reference, or one is there already, the oldest not yet there
    // is trimmed and the others are left (each still found by its own form).
    r#"
    CREATE TEMP TABLE refs_trimmed AS
        SELECT MIN(id) AS id, trimmed AS host_ref
        FROM (SELECT id, host_ref,
                     TRIM(host_ref, char(9, 10, 11, 12, 13, 32, 133, 160, 5760, 8192, 8193, 8194,
                                         8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232,
                                         8233, 8239, 8287, 12288)) AS trimmed
              FROM ledger WHERE host_ref IS NOT NULL)
        WHERE trimmed <> host_ref AND trimmed <> ''
        GROUP BY trimmed;
    DELETE FROM refs_trimmed WHERE host_ref IN (SELECT host_ref FROM ledger WHERE host_ref IS NOT NULL);
    UPDATE ledger SET host_ref = (SELECT t.host_ref FROM refs_trimmed t WHERE t.id = ledger.id)
    WHERE id IN (SELECT id FROM refs_trimmed);
    DROP TABLE refs_trimmed;
    "#,
    // 18: the changes a keyed built-in adapter (`http_json`, Shopify) tried and will try
    // again, marked as possibly on the cart, as builds from 2026-12-04 mark a lost answer:
    // builds before kept no mark, and a switch of adapter took every tried change for one.
    // Not a change tried once whose answer said nothing was sent or processed (the cart
    // unreachable; a 4xx "try later", a 503): after one try the last answer is the only one.
    // A host's adapters' keys are not known here: theirs are not marked.
    r#"
    UPDATE send_groups SET unsettled = 1
    WHERE state = 'pending' AND item_id <> 0 AND attempts > 0 AND unsettled = 0
      AND cart_id IN (SELECT id FROM carts WHERE adapter IN ('http_json', 'shopify'))
      AND NOT (attempts = 1 AND (last_response LIKE 'cart unreachable:%'
                                 OR last_response LIKE 'cart unavailable: HTTP 4%'
                                 OR last_response LIKE 'cart unavailable: HTTP 503%'));
    "#,
    // 19: items deleted from the store that a cart may still show and sell: one real-time
    // changes did not reach (SynchQOH off, its box clear), that was shown the item's count.
    // The next Send QOH to it sets each to 0 there (by SKU, and the cart's own reference the
    // item's web fields held), then forgets it; so does a new item taking the SKU.
    r#"
    CREATE TABLE deleted_on_cart (
        cart_id    INTEGER NOT NULL REFERENCES carts(id) ON DELETE CASCADE,
        sku        TEXT NOT NULL,
        remote_ref TEXT,
        PRIMARY KEY (cart_id, sku)
    ) WITHOUT ROWID;
    "#,
    // 20: until when a controller pauses a cart whose credentials it refused, apart from the
    // waits the cart asked for (`rate_limited_until`), where it was kept until now and told
    // apart by the error's text: a manual run's 429 met during the pause replaced that text,
    // and the next Send QOH was refused for the rest of the pause (5 minutes) as "rate
    // limited". A pause in force moves to its own column.
    r#"
    ALTER TABLE carts ADD COLUMN credentials_paused_until INTEGER NOT NULL DEFAULT 0;
    UPDATE carts SET credentials_paused_until = rate_limited_until, rate_limited_until = 0
     WHERE cart_error LIKE '%cart paused: fix its credentials%';
    "#,
    // 21: when a cart whose reads trail its writes (`CartAdapter::read_lag`) last took a
    // change of an item, so that Get QOH and the drift report leave alone a count read too
    // soon after it: one query a page. The controller's deltas are in `stack_log` (outcome
    // 'applied', at its settlement, after the cart answered), read from the end by id
    // (`sql::written_since`). A Send QOH or drift repair count leaves no log row (there may
    // be no record), so its time goes in `counts_set_at`, one row per cart and item, kept
    // at the latest, written for such carts only. (IF NOT EXISTS: a file a test dates back
    // to an older schema keeps them, and is migrated all the same.)
    r#"
    CREATE TABLE IF NOT EXISTS counts_set_at (
        cart_id INTEGER NOT NULL REFERENCES carts(id) ON DELETE CASCADE,
        item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        at      INTEGER NOT NULL,
        PRIMARY KEY (cart_id, item_id)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS counts_set_at_when ON counts_set_at(cart_id, at);
    "#,
    // 22: when Send QOH set to 0 a deleted item (schema 19) on a cart whose reads trail its
    // writes, by SKU (the item is gone, so `counts_set_at` cannot hold it): Get QOH creates
    // no item of that SKU from a count read within the cart's read lag after it, which may
    // be the deleted item's old count. Written for such carts only, kept an hour. And the
    // index of applied entries that schema 21 made as first written (4b04305) goes: taken
    // out of that migration (805869b) for the 15 % it cost the drain, it stayed in the files
    // that build had migrated.
    r#"
    DROP INDEX IF EXISTS stack_log_applied;
    CREATE TABLE IF NOT EXISTS zeroed_on_cart (
        cart_id INTEGER NOT NULL REFERENCES carts(id) ON DELETE CASCADE,
        sku     TEXT NOT NULL,
        at      INTEGER NOT NULL,
        PRIMARY KEY (cart_id, sku)
    ) WITHOUT ROWID;
    "#,
    // 23: when a cart that declares no read lag (for which the two tables above are not
    // written) last took counts (Send QOH, a drift repair, a deleted item's 0), Unix ms: an
    // owner who finds it lags and sets `read_lag_ms` is covered for them
    // (`sql::counts_set_last_since`). One row a cart, not one an item as `counts_set_at`
    // (which cost Send QOH a third of its speed when written for every cart). A table, not
    // a column of `carts`: IF NOT EXISTS lets a file dated back be migrated again.
    r#"
    CREATE TABLE IF NOT EXISTS counts_set_last (
        cart_id INTEGER PRIMARY KEY REFERENCES carts(id) ON DELETE CASCADE,
        at      INTEGER NOT NULL
    );
    "#,
    // 24: a stack record's id is never given to another record. SQLite gives a new row the
    // highest id plus one, so once the newest record left the stack (sent, discarded) the
    // next change's record took its id: a host's retry or discard of a number it listed
    // before named another record, and the stack's log named two records with one number.
    // `stack_high` is at least the highest id any record had when records left the stack:
    // every statement that deletes records raises it first (`sql::stack_high_raise`), and a
    // record is inserted above it (`sql::stack_insert_many`). Not AUTOINCREMENT: its counter
    // is written at every insert, one more page in every QOH change's commit; nor a trigger
    // at each deleted row, which cost the drain of one cart 12 % (0.57-0.58x against
    // 0.50x, `cargo bench --bench ratios`, 2026-12-04); this writes once a settlement, and
    // only when records came since the last. Seeded from every record id the file still
    // names. (IF NOT EXISTS, as 21 and 23: a file a test dates back to an older schema keeps
    // it.)
    r#"
    CREATE TABLE IF NOT EXISTS stack_high (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        id  INTEGER NOT NULL
    );
    INSERT OR IGNORE INTO stack_high(one, id) VALUES (1, 0);
    UPDATE stack_high SET id = MAX(id,
        (SELECT COALESCE(MAX(id), 0) FROM stack),
        (SELECT COALESCE(MAX(record_id), 0) FROM stack_log),
        (SELECT COALESCE(MAX(counted_to), 0) FROM stack_backlog),
        (SELECT COALESCE(MAX(upto), 0) FROM counts_sending),
        (SELECT COALESCE(MAX(first_record), 0) FROM send_groups))
    WHERE one = 1;
    "#,
    // 25: deleting an item deletes its rows of `counts_set_at` (schema 21, `ON DELETE
    // CASCADE`), which SQLite looked for by reading the whole table: its key and index lead
    // with the cart. A store that counts a read-lagging cart (Send QOH, drift repairs) keeps
    // a row for each item so counted, so each delete read them all. One more index entry
    // where Send QOH or a repair writes a row for such a cart. (IF NOT EXISTS, as 21 and
    // 23: a file a test dates back to an older schema keeps it.)
    r#"
    CREATE INDEX IF NOT EXISTS counts_set_at_item ON counts_set_at(item_id);
    "#,
    // 26: an item's changes are found from the item, each ledger row naming the item's change
    // before it (`prev_change`, 0 for its first) and the item its newest (`last_change`; a
    // deleted item's in `retired_items`), no longer through `ledger_item`: that index was one
    // page of the 6 every QOH change commits alone (a POS sale, an adjustment), and with its
    // splits and the pages they add to the file, 1.3 of the 6.9 frames a change wrote to the
    // WAL (2026-12-05). The item's row, the other page, is written by every change anyway.
    // The columns are added first, where missing (`ADDED_COLUMNS`); the index is made again
    // (a file dated back to an older schema may lack it) to fill them, then goes.
    //
    // A schema-25 process still running after another upgraded the file (DESIGN asks to
    // upgrade them together; a till left on overnight does not) writes its changes and
    // deletes without the links, `prev_change` and `last_change` left NULL: the two triggers
    // link them as this build would. Without them its changes fell out of every chain for
    // good, out of Get and Send QOH's look at the orders a cart made during their run too,
    // and such an order could be given back to the store (2026-12-05, from a review). This
    // build always writes both, so the triggers' conditions are false for its own rows and
    // cost nothing on the page count.
    r#"
    CREATE INDEX IF NOT EXISTS ledger_item ON ledger(item_id, id);
    UPDATE ledger SET prev_change = COALESCE(
        (SELECT MAX(p.id) FROM ledger p WHERE p.item_id = ledger.item_id AND p.id < ledger.id), 0);
    UPDATE items SET last_change = COALESCE(
        (SELECT MAX(l.id) FROM ledger l WHERE l.item_id = items.id), 0);
    UPDATE retired_items SET last_change = COALESCE(
        (SELECT MAX(l.id) FROM ledger l
         WHERE l.item_id = retired_items.item_id AND l.sku = retired_items.sku), 0);
    DROP INDEX ledger_item;
    CREATE TRIGGER IF NOT EXISTS ledger_link AFTER INSERT ON ledger
    WHEN NEW.prev_change IS NULL BEGIN
        UPDATE ledger SET prev_change = COALESCE(
            (SELECT last_change FROM items WHERE id = NEW.item_id), 0)
        WHERE id = NEW.id;
        UPDATE items SET last_change = NEW.id WHERE id = NEW.item_id;
    END;
    CREATE TRIGGER IF NOT EXISTS retired_items_link AFTER INSERT ON retired_items
    WHEN NEW.last_change IS NULL BEGIN
        UPDATE retired_items SET last_change = COALESCE(
            (SELECT last_change FROM items WHERE id = NEW.item_id), 0)
        WHERE item_id = NEW.item_id AND sku = NEW.sku;
    END;
    "#,
];

/// The columns a migration adds (by the index of the migration in [`MIGRATIONS`]), each added
/// before it runs where the table lacks it: SQLite has no `ADD COLUMN IF NOT EXISTS`, and a
/// file dated back to an older schema (a test's, a copy an owner restored) has them already.
/// 26's links are NULL where an older build, which does not know them, leaves them: its
/// triggers fill them in.
const ADDED_COLUMNS: &[(usize, &str, &str, &str)] = &[
    (25, "ledger", "prev_change", "INTEGER"),
    (25, "items", "last_change", "INTEGER NOT NULL DEFAULT 0"),
    (25, "retired_items", "last_change", "INTEGER"),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The (table, column) whose column `UNIQUE` a migration drops first (by rebuilding the
/// table: a new table, the rows copied, the old one dropped and the new one renamed), by the
/// index of the migration in [`MIGRATIONS`].
const REBUILDS: &[(usize, &str, &str)] = &[(6, "ledger", "host_ref")];

/// Refuses a file written by a newer build (`version` is its `user_version`).
pub(crate) fn check_not_newer(version: i64) -> crate::Result<()> {
    if version > SCHEMA_VERSION {
        return Err(crate::Error::refused(format!(
            "the store file has schema version {version}, newer than this library's \
             {SCHEMA_VERSION}: upgrade inventory_sync on this workstation"
        )));
    }
    Ok(())
}

/// Brings the file to [`SCHEMA_VERSION`]; refuses a file written by a newer build.
pub(crate) fn migrate(conn: &mut Connection) -> crate::Result<()> {
    // A current or newer file needs no write lock: opening must not wait for another
    // handle's (or a host's) open transaction, nor report a newer file as busy.
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    check_not_newer(current)?;
    if current == SCHEMA_VERSION {
        return Ok(());
    }
    // A rebuild drops a table: with foreign keys on, that deletes what the owner's tables
    // point at in it (ON DELETE CASCADE) or fails the migration. They are off while it runs
    // (the pragma does nothing inside a transaction); the new table keeps every row and id,
    // so what pointed at a row still does.
    let rebuilds = REBUILDS.iter().any(|(m, ..)| *m as i64 >= current);
    if rebuilds {
        conn.pragma_update(None, "foreign_keys", false)?;
    }
    let migrated = run_migrations(conn);
    if rebuilds {
        conn.pragma_update(None, "foreign_keys", true)?;
    }
    migrated
}

fn run_migrations(conn: &mut Connection) -> crate::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    check_not_newer(version)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        if let Some((_, table, column)) = REBUILDS.iter().find(|(m, ..)| *m == i) {
            drop_column_unique(&tx, table, column)?;
        }
        for (_, table, column, decl) in ADDED_COLUMNS.iter().filter(|(m, ..)| *m == i) {
            let has: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)",
                [table, column],
                |r| r.get(0),
            )?;
            if !has {
                // Names from this library's own schema, not input: no identifier is bound here.
                tx.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))?;
            }
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    tx.commit()?;
    Ok(())
}

/// Rebuilds `table` without the `UNIQUE` of its `column`, so that what the store's owner
/// added to the file survives it: columns they added (the new table is made from the old
/// one's own `CREATE TABLE` text, which `ADD COLUMN` extends), the triggers and indexes on
/// the table (which its DROP drops) are made again, rows of the owner's tables that point at
/// it are kept (ids are; see [`migrate`]), and views and other triggers naming it are left
/// to find the new table by its name (SQLite would otherwise check them at the RENAME, while
/// the name is missing, and refuse the migration, and with it every open of the file). A
/// table whose text does not read as this library wrote it is left as it is.
fn drop_column_unique(tx: &Connection, table: &str, column: &str) -> crate::Result<()> {
    let create: String = tx.query_row(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [table],
        |r| r.get(0),
    )?;
    let Some(rebuilt) = without_unique(&create, table, column) else {
        return Ok(());
    };
    // A trigger keeps its table's name as its author typed it (`ON Ledger`).
    let kept: Vec<(String, String)> = tx
        .prepare(
            "SELECT name, sql FROM sqlite_master
             WHERE type IN ('trigger', 'index') AND tbl_name = ?1 COLLATE NOCASE
               AND sql IS NOT NULL",
        )?
        .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    tx.execute_batch(&rebuilt)?;
    // Names from this library's own schema, not input: no identifier is bound here.
    tx.execute_batch(&format!(
        "INSERT INTO {table}_rebuilt SELECT * FROM {table}; DROP TABLE {table};"
    ))?;
    tx.pragma_update(None, "legacy_alter_table", true)?;
    let renamed = tx.execute_batch(&format!("ALTER TABLE {table}_rebuilt RENAME TO {table}"));
    tx.pragma_update(None, "legacy_alter_table", false)?;
    renamed?;
    for (_, sql) in kept {
        tx.execute_batch(&sql)?;
    }
    Ok(())
}

/// `create` (a `CREATE TABLE table (...)` text) as `CREATE TABLE table_rebuilt (...)` with no
/// `UNIQUE` in `column`'s definition; `None` if it has none, or does not read as expected.
fn without_unique(create: &str, table: &str, column: &str) -> Option<String> {
    let head = format!("CREATE TABLE {table} ");
    let rest = create.strip_prefix(&head)?;
    let at = rest.find(&format!("\n        {column} "))?;
    let end = at + rest[at..].find(',')?;
    let definition = &rest[at..end];
    let unique = definition.find(" UNIQUE")?;
    let mut body = rest.to_owned();
    body.replace_range(at + unique..at + unique + " UNIQUE".len(), "");
    Some(format!("CREATE TABLE {table}_rebuilt {body}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table whose text does not read as this library wrote it is left as it is, rather
    /// than rebuilt from a guess.
    #[test]
    fn a_column_unique_is_dropped_only_from_the_text_this_library_wrote() {
        let ours = "CREATE TABLE ledger (\n        id INTEGER PRIMARY KEY,\n        host_ref       TEXT UNIQUE,\n        n INTEGER\n    , note TEXT)";
        assert_eq!(
            without_unique(ours, "ledger", "host_ref").as_deref(),
            Some("CREATE TABLE ledger_rebuilt (\n        id INTEGER PRIMARY KEY,\n        host_ref       TEXT,\n        n INTEGER\n    , note TEXT)")
        );
        for other in [
            "CREATE TABLE \"ledger\" (\n        host_ref       TEXT UNIQUE,\n        n INTEGER)",
            "CREATE TABLE ledger (\n        host_ref       TEXT,\n        n INTEGER)",
            "CREATE TABLE ledger (\n        n INTEGER,\n        host_ref TEXT UNIQUE)",
        ] {
            assert_eq!(without_unique(other, "ledger", "host_ref"), None, "{other}");
        }
    }

    /// A file of version 5 keeps its rows and gains what the later migrations add (the
    /// deleted items its ledger names, each group's oldest record; a host reference unique
    /// where there is one, and no index entry where there is none); a file of a newer build
    /// is refused, untouched.
    #[test]
    fn an_older_file_migrates_and_a_newer_one_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..5] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 5).unwrap();
        conn.execute_batch(
            "INSERT INTO send_groups(id, cart_id, item_id, key, net_delta, workstation, state,
                                     next_attempt_at, created_at)
             VALUES (1, 1, 8, 'k1', -2, 'ws', 'bypassed', 0, 0);
             INSERT INTO stack(id, cart_id, item_id, delta, reason, workstation, created_at,
                               group_id)
             VALUES (9, 1, 8, -1, 2, 'ws', 0, 1), (5, 1, 8, -1, 2, 'ws', 0, 1);
             INSERT INTO items(id, sku, qoh, created_at) VALUES (8, 'MUG', 3, 0);
             INSERT INTO ledger(id, item_id, sku, delta, qoh_after, reason, host_ref,
                                workstation, created_at)
             VALUES (4, 7, 'TEE-L', -1, 4, 2, 'ORD-1', 'ws', 0),
                    (6, 7, 'TEE-L', -1, 3, 2, NULL, 'ws', 0),
                    (11, 8, 'MUG', 1, 3, 2, NULL, 'ws', 0)",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let retired: Vec<(String, i64)> = conn
            .prepare("SELECT sku, item_id FROM retired_items")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(retired, [("TEE-L".to_string(), 7)], "the deleted item only");
        let kept: Vec<(i64, Option<String>)> = conn
            .prepare("SELECT id, host_ref FROM ledger ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            kept,
            [(4, Some("ORD-1".to_string())), (6, None), (11, None)],
            "the ledger keeps its rows, ids and host references"
        );
        let first: i64 = conn
            .query_row(
                "SELECT first_record FROM send_groups WHERE id = 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(first, 5, "a group's oldest record");
        let insert = |host_ref: Option<&str>| {
            conn.execute(
                "INSERT INTO ledger(item_id, sku, delta, qoh_after, reason, host_ref,
                                    workstation, created_at)
                 VALUES (8, 'MUG', -1, 2, 2, ?1, 'ws', 0)",
                [host_ref],
            )
        };
        let e = insert(Some("ORD-1")).unwrap_err();
        assert!(e.to_string().contains("UNIQUE"), "{e}");
        insert(None).unwrap();
        let next: i64 = conn
            .query_row("SELECT MAX(id) FROM ledger", [], |r| r.get(0))
            .unwrap();
        assert_eq!(next, 12, "ids go on from the ledger's last");
        let in_index: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM ledger INDEXED BY ledger_host_ref
                 WHERE host_ref IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            in_index, 1,
            "only the change with a host reference is indexed"
        );
        let unique: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE tbl_name = 'ledger'
                 AND name LIKE 'sqlite_autoindex%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            unique, 0,
            "the column UNIQUE (an index entry for every NULL) is gone"
        );

        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let e = migrate(&mut conn).unwrap_err();
        assert!(e.message().contains("newer than this library's"), "{e}");
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION + 1);
    }
}
