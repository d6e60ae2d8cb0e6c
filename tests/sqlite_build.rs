//! The SQLite the library is built with: the store's counts are only as safe as the engine
//! under them.
//!
//! Every store runs in WAL mode with several connections to one file (the host's, the
//! controller's, other workstations' and their controllers'), each checkpointing as it
//! commits. Those are the conditions of SQLite's WAL-reset bug (SQLite 3.7.0 to 3.51.2,
//! fixed in 3.51.3; <https://sqlite.org/wal.html#walresetbug>): a checkpoint
//! racing another connection's commit that resets the WAL can corrupt the file or lose
//! committed transactions, here a sale's QOH change and the web-stack records written with it.
//! Until 2026-12-05 the library bundled SQLite 3.46.0 (rusqlite 0.32). The race needs timing
//! no test can arrange, so this asserts the version instead: a dependency pinned back would
//! bring the bug back with every test still passing.

/// SQLite 3.51.3, as `sqlite3_libversion_number` gives it.
const WAL_RESET_FIXED: i32 = 3_051_003;

#[test]
fn the_bundled_sqlite_has_the_wal_reset_fix() {
    assert!(
        rusqlite::version_number() >= WAL_RESET_FIXED,
        "SQLite {} has the WAL-reset bug (fixed in 3.51.3): a store shared by a host and a \
         controller can lose committed changes",
        rusqlite::version()
    );
}
