//! Opening a store file, its connection and transactions. SQL lives in this module only
//! ([`sql`] and [`schema`]); the domain modules call the functions of [`sql`].

mod machine;
pub(crate) mod schema;
pub(crate) mod sql;

use crate::adapter::registry::AdapterRegistry;
use crate::controller::{ControllerHandle, StackController};
use crate::error::{Error, Result};
use crate::stack::SqliteStack;
use parking_lot::Mutex;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How hard a commit waits for the disk (DESIGN §6).
///
/// With WAL, `Normal` loses nothing on a process crash; a power cut may lose the last few
/// commits (they were acknowledged but not yet synced). `Full` syncs every commit, at the cost
/// of one disk flush per transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=NORMAL`: the default.
    #[default]
    Normal,
    /// `synchronous=FULL`: survives a power cut.
    Full,
}

/// Options for [`Store::open_with`].
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// The commit durability.
    pub durability: Durability,
    /// How long a writer waits for another writer before [`crate::ErrorKind::Busy`].
    pub busy_timeout: Duration,
    /// The workstation name this handle writes on its records; default the host name.
    pub workstation: Option<String>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            durability: Durability::Normal,
            busy_timeout: Duration::from_secs(10),
            workstation: None,
        }
    }
}

/// One open store data file: items, carts, parameters, the web stack and the ledger.
///
/// A `Store` may be shared between threads (`&Store` is `Sync`); calls on one handle are
/// serialised on its connection. Several handles, and several processes, may open the same
/// file at once: writers wait for each other up to the busy timeout. The stack controller
/// always uses its own connection, so it sees only committed records.
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) path: PathBuf,
    pub(crate) options: OpenOptions,
    pub(crate) conn: Mutex<Connection>,
    pub(crate) workstation: Arc<Mutex<String>>,
    pub(crate) adapters: Arc<AdapterRegistry>,
    pub(crate) controller: Mutex<Option<Arc<StackController<SqliteStack>>>>,
    /// This handle's controllers to the shared-controller lock: who, and for how long.
    pub(crate) lock_hold: Arc<crate::controller::LockHold>,
    pub(crate) background: Mutex<Option<ControllerHandle>>,
    /// Background controllers stopped inside the host's transaction, still ending: waited
    /// for once it ends.
    pub(crate) stopping: Mutex<Vec<ControllerHandle>>,
    /// The background controller's status, read without the `background` lock, which a stop
    /// holds while it waits for the requests in flight.
    pub(crate) controller_status: Mutex<Option<Arc<Mutex<crate::controller::ControllerStatus>>>>,
    /// Whether the host opened a transaction it has not ended: when SQLite or a failed call
    /// rolled it back meanwhile, the connection is back in autocommit while the host still
    /// believes its calls are held for its commit.
    pub(crate) host_tx: AtomicBool,
    /// Set when the host's commit failed, its transaction gone (lost before, or the COMMIT
    /// itself failed): the rollback a host's error handler calls next ends nothing, and
    /// succeeds, rather than failing over the commit's own error.
    commit_failed: AtomicBool,
    /// Manual runs (Send/Get QOH, a drift repair) holding a cart through this handle: they
    /// write on its connection between their calls to the cart, so a host transaction begun
    /// meanwhile would take those writes in, and its rollback would undo them. Raised and
    /// read only with `conn` locked.
    pub(crate) manual_runs: AtomicUsize,
    /// The waits carts named to this handle's manual runs, by cart: until when (Unix ms),
    /// under which saving of the cart's settings. Honoured by its next run whether or not
    /// the store took them (one met inside a host transaction is not written there, where a
    /// rollback would take it); new settings lift one, as they lift the store's.
    pub(crate) cart_waits: Mutex<std::collections::HashMap<crate::CartId, (i64, i64)>>,
    /// Counts the host transactions begun on this handle: which one `change_reads` was kept in.
    host_tx_serial: AtomicU64,
    /// What the last QOH change on this handle read (see [`Store::change_reads`]).
    change_reads: Mutex<Option<KeptReads>>,
    /// Keeps other machines off the file while this handle is open ([`machine`]); dropped
    /// last, after the connection.
    _machine: Option<MachineHold>,
}

/// What a QOH change reads that nothing but other writes change, kept from one change on a
/// handle to the next ([`Store::change_reads`]).
#[derive(Clone, Default)]
pub(crate) struct ChangeReads {
    /// The carts real-time changes go to ([`sql::realtime_targets`]), once read.
    pub(crate) targets: Option<Arc<[(crate::CartId, crate::SyncLevel)]>>,
    /// The highest id the stack ever gave, once a change queued a record
    /// ([`sql::stack_insert_many`]).
    pub(crate) stack_last: Option<i64>,
    /// The file's `PRAGMA data_version` when they were taken outside a host transaction.
    data_version: Option<i64>,
}

/// [`ChangeReads`] as they stood in host transaction `serial` (if they were taken in one:
/// `data_version` is `None`) when this connection's [`Connection::total_changes`] stood at
/// `changes`.
struct KeptReads {
    serial: u64,
    changes: u64,
    reads: ChangeReads,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .field("workstation", &*self.inner.workstation.lock())
            .finish()
    }
}

/// Opens a connection with the pragmas every connection to a store uses, and this process's
/// share of the store's machine lock ([`machine`]), taken before the connection reads it:
/// kept by whatever keeps the store open (a handle, a stack), dropped where one already does.
pub(crate) fn connect(
    path: &Path,
    options: &OpenOptions,
) -> Result<(Connection, Option<MachineHold>)> {
    configure(Connection::open(path), path, options)
}

/// [`connect`] to a store file that must exist already: a connection opened again later
/// (the controller's) must not leave an empty file where a moved store was.
pub(crate) fn connect_existing(
    path: &Path,
    options: &OpenOptions,
) -> Result<(Connection, Option<MachineHold>)> {
    use rusqlite::OpenFlags;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    configure(Connection::open_with_flags(path, flags), path, options)
}

pub(crate) use machine::MachineHold;

/// `timeout` as SQLite takes it: whole milliseconds up to `i32::MAX` (24.8 days).
fn check_busy_timeout(timeout: Duration) -> Result<Duration> {
    if timeout.as_millis() > i32::MAX as u128 {
        return Err(Error::invalid(format!(
            "busy timeout {timeout:?} is too long: SQLite waits at most {} ms (24.8 days)",
            i32::MAX
        )));
    }
    Ok(timeout)
}

/// The page size of a store file this library creates. Every QOH change commits alone (a
/// POS sale, an adjustment) and writes about 6 pages to the WAL (the item, the ledger row, the
/// stack record and its 2 indexes; page 1 and a parent page when a b-tree grows a page:
/// `tests/pages_per_change.rs` counts them); at 1 KiB a page such a commit runs
/// 1.4-1.5x as fast as at SQLite's default 4 KiB, while one host transaction of 10,000 changes
/// runs 0.8-0.9x as fast and drains, Send and Get QOH alike (`cargo bench --bench ratios`,
/// 2026-12-02). A file created earlier keeps its page size.
const PAGE_SIZE: i64 = 1024;

/// WAL bytes after which a commit checkpoints them into the file: SQLite's default of 1,000
/// pages, as it counts them at its default 4 KiB page. At our 1 KiB pages its default
/// checkpointed four times as often (each checkpoint copies the pages back and syncs the file
/// twice); at 4 MiB a QOH change committed alone runs about a tenth faster (`cargo bench
/// --bench ratios`, 2026-12-04). A crash loses nothing more: the WAL holds what it always held.
const WAL_CHECKPOINT_BYTES: i64 = 1000 * 4096;

/// [`WAL_CHECKPOINT_BYTES`] in pages of `page_size` bytes, as SQLite reports it (512 to
/// 65,536): a file created before the 1 KiB pages keeps its 4 KiB pages, and SQLite's 1,000.
fn wal_checkpoint_pages(page_size: i64) -> i64 {
    WAL_CHECKPOINT_BYTES / page_size
}

/// The most WAL a store's connections leave on disk once a checkpoint has emptied it
/// (`journal_size_limit`): twice [`WAL_CHECKPOINT_BYTES`], so the everyday cycle of writes
/// and checkpoints never shrinks the file and regrows it, while a WAL grown past it is cut
/// back at the first commit after it starts over. It grows past it beside a read left open
/// (a front end's form or report: SQLite cannot start the WAL over while a reader may need
/// it, however often it checkpoints) or with one big transaction (an import in one host
/// transaction, a cart retired with its backlog). Without a limit SQLite keeps the WAL file
/// at the largest size it ever reached for as long as any connection has the store open,
/// which, with a controller running, is for good (2026-12-05: 15 MB after a morning of
/// 2,000 sales beside an open read, `tests/year_of_trading.rs`).
const WAL_KEPT_BYTES: i64 = 2 * WAL_CHECKPOINT_BYTES;

fn configure(
    conn: rusqlite::Result<Connection>,
    path: &Path,
    options: &OpenOptions,
) -> Result<(Connection, Option<MachineHold>)> {
    let conn = conn.map_err(|e| {
        Error::new(
            crate::ErrorKind::Database,
            format!("cannot open store file {}: {e}", path.display()),
        )
    })?;
    // Before SQLite reads the file: another machine's process may have it open. Named by
    // SQLite's full path, so that every spelling of the file shares the process's one hold.
    let machine = machine::hold(Path::new(conn.path().unwrap_or_default()))?;
    conn.busy_timeout(check_busy_timeout(options.busy_timeout)?)?;
    let empty = match found(&conn, path)? {
        Found::Empty => true,
        Found::Store => false,
        // Left as it was found, with no lock file beside it. Only a file that is no store:
        // a process of this machine opening it at this moment may keep a hold on the lock
        // file removed, which another machine would not see; that process is refused too,
        // and lets it go at once. (A store refused, newer or only readable, keeps the file.)
        Found::NoStore(why) => {
            drop(conn);
            if let Some(m) = machine {
                m.discard_made();
            }
            return Err(why);
        }
    };
    prepare(&conn, path, options, empty)?;
    Ok((conn, machine))
}

/// What a file opened as a store turns out to be, read before anything writes to it.
enum Found {
    /// A new file (no tables, no schema version): it becomes a store.
    Empty,
    /// A store this build may open.
    Store,
    /// No store at all, and why: not a database, or another program's.
    NoStore(Error),
}

/// What the file `conn` has open is: another program's database, or a newer build's store
/// (an error), is refused before anything here writes to it, since switching it to WAL alone
/// would outlive the refusal. A store has a schema version and the tables every version has;
/// a file with neither is new.
fn found(conn: &Connection, path: &Path) -> Result<Found> {
    // The statements assume text stored as UTF-8 (an item search bounds SKUs by byte 0xFF,
    // which UTF-8 never holds). A file this library creates is; one another program created
    // as UTF-16 is refused rather than misread.
    let encoding: String = match conn.query_row("PRAGMA encoding", [], |r| r.get(0)) {
        Ok(encoding) => encoding,
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) => {
            return Ok(Found::NoStore(e.into()))
        }
        Err(e) => return Err(e.into()),
    };
    if encoding != "UTF-8" {
        return Ok(Found::NoStore(Error::refused(format!(
            "store file {} stores text as {encoding}; inventory_sync stores it as UTF-8 \
             (let Store::open create the file)",
            path.display()
        ))));
    }
    let (version, empty, ours): (i64, bool, i64) = conn.query_row(
        "SELECT (SELECT user_version FROM pragma_user_version),
                NOT EXISTS (SELECT 1 FROM sqlite_master),
                (SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'
                    AND name IN ('params', 'items', 'carts', 'ledger', 'stack'))",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    // A newer build may rename one or two of them; a file with fewer is no store at all.
    if ours >= 3 {
        schema::check_not_newer(version)?;
    }
    if !(empty && version == 0 || version > 0 && ours == 5) {
        return Ok(Found::NoStore(Error::refused(format!(
            "{} is a database of another program (it has {}, not the tables of an \
             inventory_sync store); it was left untouched",
            path.display(),
            match (empty, version) {
                (true, _) => format!("schema version {version} but no tables"),
                (false, 0) => "tables but no inventory_sync schema version".into(),
                (false, _) => format!("schema version {version}"),
            }
        ))));
    }
    Ok(if empty { Found::Empty } else { Found::Store })
}

/// Refuses a store file this process may only read, and sets the connection's pragmas
/// (`empty`: a new file, given its page size first).
fn prepare(conn: &Connection, path: &Path, options: &OpenOptions, empty: bool) -> Result<()> {
    // SQLite opens a file it may not write read-only without a word, and every sale would
    // then fail with "attempt to write a readonly database", naming no file.
    if conn.is_readonly(rusqlite::MAIN_DB)? {
        return Err(Error::refused(format!(
            "store file {} can only be read (its permissions, or a read-only disk or share); \
             inventory_sync writes every QOH change to it",
            path.display()
        )));
    }
    if empty {
        // Set before the first table, for good: a WAL file cannot change its page size.
        conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    }
    let journal: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    // `NORMAL` is safe against a process crash only with the WAL; a file SQLite cannot put in
    // WAL mode (a VFS or medium without shared memory) keeps its rollback journal, where a
    // power cut at the wrong moment could corrupt it under `NORMAL`.
    let wal = journal.eq_ignore_ascii_case("wal");
    conn.pragma_update(
        None,
        "synchronous",
        match options.durability {
            Durability::Normal if wal => "NORMAL",
            _ => "FULL",
        },
    )?;
    if wal {
        let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        conn.pragma_update(None, "wal_autocheckpoint", wal_checkpoint_pages(page_size))?;
        conn.pragma_update_and_check(None, "journal_size_limit", WAL_KEPT_BYTES, |_| Ok(()))?;
    }
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Savepoints (one per call inside a host transaction) journal the pages they touch; in
    // memory that costs nothing, in a temp file it was most of a host transaction's time.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(64);
    // Plans made without the values bound: SQLite 3.54 plans a join through a partial index
    // by the value bound, then prepares the statement again whenever that parameter changes,
    // which four of the drain's statements did at every lease (the drain at half its rate).
    // What a statement returns never depends on it, only how fast.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// The host name, used as the default workstation name: as the `Workstation` parameter
/// takes one (its control characters left out, at most 128 characters), since the host did
/// not choose it and is not to be refused for it. A process's own `COMPUTERNAME` or
/// `HOSTNAME` first (a shell may name a till's session so), else the machine's name.
fn host_name() -> String {
    let from_env = std::env::var("COMPUTERNAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .ok();
    match from_env {
        Some(name) => plain_name(&name),
        None => machine::machine_name(),
    }
    .unwrap_or_else(|| "workstation".to_owned())
}

/// Whether `c` has no place in a name, or a cart's answer, printed in reports and logs: a
/// control character (a line break, an escape), a line or paragraph separator (a line break
/// to many viewers), or a bidirectional embedding, override or isolate, which reorders what
/// follows it on the line and can make a log line read as another. (Right-to-left and left-to-right marks, which
/// Arabic and Hebrew keyboards type and which reorder nothing beyond themselves, are taken.)
pub(crate) fn unprintable_in_name(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `raw` as a workstation name: without its control characters, trimmed, at most 128
/// characters; `None` when nothing is left.
fn plain_name(raw: &str) -> Option<String> {
    let plain: String = raw.chars().filter(|c| !unprintable_in_name(*c)).collect();
    let name: String = plain.trim().chars().take(128).collect();
    Some(name.trim().to_owned()).filter(|n| !n.is_empty())
}

impl Store {
    /// Opens or creates the store file at `path` with default options, migrating its schema.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Self::open_with(path, OpenOptions::default())
    }

    /// Opens or creates the store file at `path`, migrating its schema.
    ///
    /// A store must be a file: an empty path, `:memory:` or a `file:` URI with `mode=memory`
    /// is [`crate::ErrorKind::InvalidArgument`]. The controller and manual runs open their own
    /// connections to the file, and an in-memory database is not shared between connections.
    /// So is a `file:` URI with `cache=shared` (the process's connections to the file would
    /// share one cache, whose locks SQLite answers at once, with no busy timeout), `nolock=1`
    /// or a VFS without locks (two writers would overwrite each other's changes), or
    /// `immutable=1` or `mode=ro` (the store is written to). `mode=rwc` is left out: a store is
    /// created where missing, as for a plain path.
    ///
    /// A store another machine has open is [`crate::ErrorKind::Refused`], naming that machine:
    /// a store is for one machine's processes, as the README's Store section explains. The
    /// handle keeps other machines off the file until it is dropped.
    pub fn open_with(path: impl AsRef<Path>, options: OpenOptions) -> Result<Store> {
        const MUST_BE_A_FILE: &str = "a store must be a file: the stack controller and manual \
             runs open their own connections to it, and an in-memory or temporary database is \
             not shared between connections";
        let path = path.as_ref().to_path_buf();
        if path.to_str().is_some_and(|p| p.trim().is_empty()) {
            return Err(Error::invalid(format!("path is empty; {MUST_BE_A_FILE}")));
        }
        // Refused before the file is touched: a refused call must not leave a new file at a
        // mistyped path, nor migrate one that older builds still share.
        let workstation = match &options.workstation {
            Some(w) => crate::params::check_workstation(w)?,
            None => host_name(),
        };
        check_busy_timeout(options.busy_timeout)?;
        if let Some(why) = path.to_str().and_then(refused_uri) {
            return Err(Error::invalid(format!(
                "store path {}: {why}",
                path.display()
            )));
        }
        let path = without_rwc(path);
        // Made absolute now: the controller and manual runs open the file again later, after
        // the host may have changed its working directory (VBA's ChDir, a file dialog), and
        // would open another file, or none.
        let cwd = || {
            std::env::current_dir()
                .map_err(|e| Error::invalid(format!("store path {}: {e}", path.display())))
        };
        let path = match path.to_str() {
            _ if path.is_absolute() => path,
            Some(":memory:") => path,
            Some(uri) if uri.starts_with("file:") => PathBuf::from(absolute_uri(uri, cwd()?)),
            _ => cwd()?.join(path),
        };
        let opened = || -> Result<(Connection, Option<MachineHold>)> {
            let (mut conn, machine) = connect(&path, &options)?;
            // SQLite names no file for `:memory:`, `file:…?mode=memory` or a temporary
            // database.
            let no_file: bool = conn.query_row(
                "SELECT COALESCE(file, '') = '' FROM pragma_database_list WHERE name = 'main'",
                [],
                |r| r.get(0),
            )?;
            if no_file {
                return Err(Error::invalid(format!(
                    "{} is not a file; {MUST_BE_A_FILE}",
                    path.display()
                )));
            }
            schema::migrate(&mut conn)?;
            Ok((conn, machine))
        };
        // SQLite's own errors name no file ("file is not a database"): a host that opens
        // several, or an `invsync import` given its arguments the wrong way round, is told
        // which.
        let (conn, machine) = opened().map_err(|e| {
            let named = path.display().to_string();
            // SQLite's word for a missing folder, a folder this user may not write to, and
            // a path that is a folder: the owner is told where to look.
            let hint = if e.message().contains("unable to open database file") {
                " (check that its folder exists, that this user may create and change files \
                 in it, and that the path names a file, not a folder)"
            } else {
                ""
            };
            let what = match e.message().contains(&named) {
                true => String::new(),
                false => format!("store file {named}: "),
            };
            Error::new(e.kind(), format!("{what}{}{hint}", e.message()))
        })?;
        Ok(Store {
            inner: Arc::new(Inner {
                path,
                options,
                conn: Mutex::new(conn),
                workstation: Arc::new(Mutex::new(workstation)),
                adapters: Arc::new(AdapterRegistry::with_builtins()),
                controller: Mutex::new(None),
                lock_hold: Arc::default(),
                background: Mutex::new(None),
                stopping: Mutex::new(Vec::new()),
                controller_status: Mutex::new(None),
                host_tx: AtomicBool::new(false),
                commit_failed: AtomicBool::new(false),
                manual_runs: AtomicUsize::new(0),
                cart_waits: Mutex::new(std::collections::HashMap::new()),
                host_tx_serial: AtomicU64::new(0),
                change_reads: Mutex::new(None),
                _machine: machine,
            }),
        })
    }

    /// The file this handle has open.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The workstation name this handle writes on its records.
    pub fn workstation(&self) -> String {
        self.inner.workstation.lock().clone()
    }

    /// Runs `f` in a write transaction: `BEGIN IMMEDIATE` (so the write lock is taken up front
    /// and a busy store waits instead of failing mid-way), or a savepoint when the host has a
    /// transaction open. Any error rolls back everything `f` did.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.inner.conn.lock();
        self.host_tx_kept(&conn)?;
        write_on(&conn, f)
    }

    /// Refuses a write while the host's transaction is gone (rolled back after a failed call)
    /// but not yet ended by the host: run alone, the write would commit at once, and the host,
    /// whose commit is then refused, would replay it on top.
    fn host_tx_kept(&self, conn: &Connection) -> Result<()> {
        if conn.is_autocommit() && self.inner.host_tx.load(Ordering::Relaxed) {
            return Err(Error::refused(LOST_HOST_TX));
        }
        // A write after a failed commit: a rollback now would not be "right after" it.
        self.inner.commit_failed.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// Runs `f`, a call whose every refusal comes before its first write, in a write
    /// transaction. Outside a host transaction this is [`Store::write`]; inside one, see
    /// [`write_checked_on`].
    pub(crate) fn write_checked<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.inner.conn.lock();
        self.host_tx_kept(&conn)?;
        write_checked_on(&conn, f)
    }

    /// Runs `f` in a read transaction (inside a host transaction: in that one), so its
    /// statements see one snapshot and take the file's lock once, not once each.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.inner.conn.lock();
        read_on(&conn, f)
    }

    /// What the QOH change about to be made on `c` (in a call run by [`Store::write_checked`])
    /// may take as read: what the change before it on this handle read, while nothing else
    /// wrote since; else nothing. A bulk import of 10,000 adjustments read the same three
    /// carts and the stack's highest id 10,000 times, an eighth of its CPU, and a change
    /// committed alone paid the same (issue 6).
    ///
    /// What they come from (the carts, the SynchQOH parameter, the stack) cannot change
    /// unseen. Any write on this connection moves its [`Connection::total_changes`] (one
    /// rolled back to a savepoint too), which [`Store::keep_change_reads`] notes after a
    /// change's own. Another connection's commit moves the file's `PRAGMA data_version`, read
    /// here outside a host transaction; inside one nothing else can commit (it holds the write
    /// lock). What was read in a host transaction is taken only in that one: not after it
    /// (its rollback may have undone a cart's change; reads taken outside one carry the
    /// `data_version`, those inside none), nor in the next (`host_tx_serial`).
    pub(crate) fn change_reads(&self, c: &Connection) -> Result<ChangeReads> {
        let serial = self.inner.host_tx_serial.load(Ordering::Relaxed);
        let data_version = if self.inner.host_tx.load(Ordering::Relaxed) {
            None
        } else {
            Some(sql::data_version(c)?)
        };
        Ok(match &*self.inner.change_reads.lock() {
            Some(k)
                if k.serial == serial
                    && k.changes == c.total_changes()
                    && k.reads.data_version == data_version =>
            {
                k.reads.clone()
            }
            _ => ChangeReads {
                data_version,
                ..ChangeReads::default()
            },
        })
    }

    /// Keeps `reads`, as a QOH change that just wrote its own rows on `c` left them (taken
    /// from [`Store::change_reads`] before it wrote, the carts read if they were not, and its
    /// records' ids), for the next change on this handle.
    pub(crate) fn keep_change_reads(&self, c: &Connection, reads: ChangeReads) {
        *self.inner.change_reads.lock() = Some(KeptReads {
            serial: self.inner.host_tx_serial.load(Ordering::Relaxed),
            changes: c.total_changes(),
            reads,
        });
    }

    /// Whether the host has a transaction open on this handle.
    pub fn in_host_transaction(&self) -> bool {
        !self.inner.conn.lock().is_autocommit()
    }

    /// Opens a host transaction: a later call on this handle that fails leaves the rest of it
    /// intact (each call runs in a savepoint), except [`Store::adjust_qoh`], which refuses
    /// before its first write and needs none: if the store fails after it began writing (a
    /// full disk, an I/O error) the whole transaction is rolled back and the error says so.
    /// Network calls are refused, and dropping the handle rolls it back. The stack controller
    /// sees none of it until [`Store::commit`]. Refused while a Send QOH, Get QOH or drift
    /// repair runs on this handle (from another thread, or from its progress callback): the
    /// transaction would take in the run's own writes, and its rollback would undo counts the
    /// cart was already sent.
    ///
    /// Once the transaction is rolled back that way, every write on the handle is refused
    /// until the host ends it: [`Store::commit`] then fails (nothing was kept) and
    /// [`Store::rollback`] succeeds, also right after that failed commit (a host's error
    /// handler rolls back after any failure). A write run alone meanwhile would commit at
    /// once, outside what the host will replay.
    pub fn begin(&self) -> Result<()> {
        let conn = self.inner.conn.lock();
        self.host_tx_kept(&conn)?;
        if !conn.is_autocommit() {
            return Err(Error::refused(
                "a host transaction is already open on this handle",
            ));
        }
        if self.inner.manual_runs.load(Ordering::Relaxed) > 0 {
            return Err(Error::refused(
                "a Send QOH, Get QOH or drift repair is running on this handle; begin once it has ended",
            ));
        }
        conn.execute_batch("BEGIN IMMEDIATE")?;
        self.inner.host_tx_serial.fetch_add(1, Ordering::Relaxed);
        self.inner.host_tx.store(true, Ordering::Relaxed);
        self.inner.commit_failed.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// Commits the host transaction. A background controller stopped inside it is waited
    /// for here (the request it has in flight, then its settlement); the handle's other calls
    /// go on meanwhile.
    pub fn commit(&self) -> Result<()> {
        self.end_host_transaction("COMMIT")
    }

    /// Rolls the host transaction back; waits as [`Store::commit`] does.
    pub fn rollback(&self) -> Result<()> {
        self.end_host_transaction("ROLLBACK")
    }

    fn end_host_transaction(&self, sql: &str) -> Result<()> {
        let conn = self.inner.conn.lock();
        let rollback = sql == "ROLLBACK";
        if conn.is_autocommit() {
            if self.inner.host_tx.swap(false, Ordering::Relaxed) {
                if rollback {
                    return Ok(());
                }
                self.inner.commit_failed.store(true, Ordering::Relaxed);
                return Err(Error::refused(LOST_HOST_TX));
            }
            if rollback && self.inner.commit_failed.swap(false, Ordering::Relaxed) {
                return Ok(());
            }
            return Err(Error::refused("no host transaction is open on this handle"));
        }
        let r = conn.execute_batch(sql);
        let ended = conn.is_autocommit();
        if ended {
            self.inner.host_tx.store(false, Ordering::Relaxed);
            self.inner
                .commit_failed
                .store(!rollback && r.is_err(), Ordering::Relaxed);
        }
        drop(conn);
        if ended {
            // What the transaction's write lock kept the controllers from writing. Waited
            // for without the handle's connection: a stopped controller's request in flight
            // must not hold up the host's other calls on the handle. Its writes now wait for
            // the store as any controller's do: another writer, another handle's transaction
            // or this handle's next, must not hold this call up for ever.
            self.inner.join_stopped();
            self.inner
                .lock_hold
                .finish_ends(|w, row, to| self.write_pause_end(w, row, to));
        }
        r?;
        Ok(())
    }

    /// Refuses a network call while the host has a transaction open: the call would hold the
    /// store's write lock for the length of an HTTP exchange.
    pub(crate) fn refuse_in_host_transaction(&self, what: &str) -> Result<()> {
        if self.in_host_transaction() {
            return Err(in_host_transaction(what));
        }
        Ok(())
    }

    /// Counts a manual run on this handle until the guard drops, so that [`Store::begin`]
    /// refuses meanwhile; refused inside a host transaction, checked under the same lock.
    pub(crate) fn manual_run(&self, what: &str) -> Result<ManualRun<'_>> {
        let conn = self.inner.conn.lock();
        if !conn.is_autocommit() {
            return Err(in_host_transaction(what));
        }
        self.inner.manual_runs.fetch_add(1, Ordering::Relaxed);
        Ok(ManualRun(self))
    }

    /// The report of this thread's last run, send, get or preflight on this handle (JSON);
    /// `None` when it made none yet, or its last one failed before it had done anything to
    /// report (an unreachable cart, a refusal on the first page): never an earlier call's.
    pub fn last_report(&self) -> Option<String> {
        let me = Arc::as_ptr(&self.inner);
        // `try_with` (here and below): a host's per-thread clean-up may call in after this
        // thread's storage is gone; there is then nothing kept.
        LAST_REPORTS
            .try_with(|kept| {
                let kept = kept.borrow();
                let found = kept.iter().find(|k| std::ptr::eq(k.handle.as_ptr(), me));
                found.map(|k| k.json.clone())
            })
            .ok()
            .flatten()
    }

    /// Drops this thread's report on this handle: called as a run, send, get or preflight
    /// starts, so that one failing before it keeps a report of its own does not leave the
    /// report of an earlier call to be read as its own.
    pub(crate) fn forget_report(&self) {
        let me = Arc::as_ptr(&self.inner);
        let _ = LAST_REPORTS.try_with(|kept| {
            kept.borrow_mut()
                .retain(|k| !std::ptr::eq(k.handle.as_ptr(), me));
        });
    }

    /// Keeps `json` as this thread's last report on this handle, in the thread's own storage:
    /// it goes with the thread (a host that runs each call on a new thread grows nothing),
    /// and no thread's report is ever dropped for another's (a thread pool of 65 lost one
    /// when the handle kept 64, after the call that made it had said to ask for it).
    pub(crate) fn remember_report(&self, json: String) {
        let me = Arc::as_ptr(&self.inner);
        let _ = LAST_REPORTS.try_with(|kept| {
            let mut kept = kept.borrow_mut();
            // Reports of handles closed since go: a thread that opens a handle per call
            // keeps one report, not one a call.
            kept.retain(|k| k.handle.strong_count() > 0 && !std::ptr::eq(k.handle.as_ptr(), me));
            kept.push(KeptReport {
                handle: Arc::downgrade(&self.inner),
                json,
            });
        });
    }
}

/// A report kept for [`Store::last_report`]: its handle (which a live `Weak` keeps from
/// being taken for another opened at the same address), and the report.
struct KeptReport {
    handle: std::sync::Weak<Inner>,
    json: String,
}

thread_local! {
    /// This thread's last report on each live handle it used.
    static LAST_REPORTS: std::cell::RefCell<Vec<KeptReport>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// What a host hears once its transaction was rolled back after a failed call.
const LOST_HOST_TX: &str = "the host transaction was rolled back after an earlier error and \
                            nothing of it was kept; call rollback, then start again";

impl Inner {
    /// Waits for the background controllers stopped inside a transaction that has ended
    /// (or rolled back as the handle closes). From now on their writes wait the busy timeout,
    /// as any controller's: a writer after the transaction must not hold this wait up for as
    /// long as it lasts.
    pub(crate) fn join_stopped(&self) {
        let stopped = std::mem::take(&mut *self.stopping.lock());
        for h in &stopped {
            h.impatient();
        }
        for h in stopped {
            h.stop();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The host's transaction first: its write lock would keep the controllers going
        // away from ending the pauses they declared. Then nothing is declared any more.
        let conn = self.conn.get_mut();
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        self.join_stopped();
        let conn = self.conn.get_mut();
        let busy = self.options.busy_timeout;
        let write = |w: &str, row, to| brief_pause_end(conn, busy, w, row, to);
        self.lock_hold.declare_none();
        self.lock_hold.shorten_pauses(write);
        if let Some(bg) = self.background.get_mut().take() {
            bg.stop();
        }
    }
}

/// Runs the write `f` on `conn` waiting for the store a moment only (then `busy` again):
/// long enough for another's write (a sale, a heartbeat) to end, short enough for a handle
/// closing with a transaction open elsewhere. For what a controller going away leaves.
pub(crate) fn write_briefly_on(
    conn: &Connection,
    busy: Duration,
    f: impl FnOnce(&Connection) -> Result<()>,
) -> Result<()> {
    conn.busy_timeout(Duration::from_millis(250))?;
    let written = write_on(conn, f);
    conn.busy_timeout(busy)?;
    written
}

/// Writes the end of a heartbeat's pause (see [`sql::heartbeat_end`]) on `conn`, briefly.
fn brief_pause_end(conn: &Connection, busy: Duration, w: &str, row: i64, to: i64) -> Result<()> {
    write_briefly_on(conn, busy, |c| sql::heartbeat_end(c, w, row, to))
}

impl Store {
    /// Writes the end of a heartbeat's pause on the handle's connection, waiting for the store
    /// a moment only; inside the host's transaction, not at all (the end would go with it):
    /// it is kept, and written when the transaction ends.
    pub(crate) fn write_pause_end(&self, w: &str, row: i64, to: i64) -> Result<()> {
        let conn = self.inner.conn.lock();
        if !conn.is_autocommit() {
            return Err(Error::new(
                crate::ErrorKind::Busy,
                "inside the host's transaction",
            ));
        }
        brief_pause_end(&conn, self.inner.options.busy_timeout, w, row, to)
    }
}

/// See [`Store::write`]; shared with the controller's and manual sync's connections.
pub(crate) fn write_on<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    if conn.is_autocommit() {
        in_transaction(conn, "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK", f)
    } else {
        in_transaction(
            conn,
            "SAVEPOINT invsync_call",
            "RELEASE invsync_call",
            "ROLLBACK TO invsync_call; RELEASE invsync_call",
            f,
        )
    }
}

/// [`write_on`] for a call `f` that checks everything it can refuse before its first write,
/// and after it can fail only as the store fails (a full disk, an I/O error).
///
/// Inside a host transaction it opens no savepoint: SQLite copies every page a savepoint
/// touches into its sub-journal, and for `adjust_qoh` that was a third of a bulk import's CPU
/// (issue 6). A refusal before the first write leaves the host transaction as it was, exactly
/// as the savepoint did. A failure or a panic after a write rolls the whole host transaction
/// back (the error says so; a panic reaches the host as a panic): half a QOH change (a stack
/// record without its QOH, or the reverse) must never be committed, and for those errors
/// SQLite may roll the transaction back on its own anyway.
pub(crate) fn write_checked_on<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    if conn.is_autocommit() {
        return write_on(conn, f);
    }
    /// What a failed call left of the host transaction.
    enum Left {
        Intact,
        RolledBack,
        /// The call wrote and the rollback failed too: half a change is in the transaction.
        Stuck,
    }
    struct Guard<'a> {
        conn: &'a Connection,
        changes: u64,
        armed: bool,
    }
    impl Guard<'_> {
        fn undo(&self) -> Left {
            if self.conn.total_changes() != self.changes && !self.conn.is_autocommit() {
                let _ = self.conn.execute_batch("ROLLBACK");
            }
            if self.conn.is_autocommit() {
                Left::RolledBack
            } else if self.conn.total_changes() != self.changes {
                Left::Stuck
            } else {
                Left::Intact
            }
        }
    }
    impl Drop for Guard<'_> {
        fn drop(&mut self) {
            if self.armed {
                self.undo();
            }
        }
    }
    let mut guard = Guard {
        conn,
        changes: conn.total_changes(),
        armed: true,
    };
    let result = f(conn);
    guard.armed = false;
    result.map_err(|e| {
        let left = match guard.undo() {
            Left::Intact => return e,
            Left::RolledBack => "the host transaction was rolled back: nothing of it was kept",
            Left::Stuck => {
                "the call had written part of its change and rolling the host transaction \
                 back failed: roll it back before anything else, never commit it"
            }
        };
        Error::new(e.kind(), format!("{}; {left}", e.message()))
    })
}

/// See [`Store::read`]: several statements read one snapshot, under one lock.
pub(crate) fn read_on<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    if conn.is_autocommit() {
        in_transaction(conn, "BEGIN", "COMMIT", "ROLLBACK", f)
    } else {
        f(conn)
    }
}

/// Runs `f` between `open` and `commit`; `undo` runs if `f` fails or panics, so a caught
/// panic never leaves a transaction open that would look like a host transaction to the next
/// call.
fn in_transaction<T>(
    conn: &Connection,
    open: &str,
    commit: &str,
    undo: &'static str,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    // Cached statements: a host transaction of thousands of calls parses these once.
    let run = |sql: &str| -> Result<()> {
        conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    };
    run(open)?;
    struct Guard<'a> {
        conn: &'a Connection,
        undo: &'static str,
        armed: bool,
    }
    impl Drop for Guard<'_> {
        fn drop(&mut self) {
            if self.armed {
                let _ = self.conn.execute_batch(self.undo);
            }
        }
    }
    let mut guard = Guard {
        conn,
        undo,
        armed: true,
    };
    let result = f(conn);
    if result.is_ok() {
        run(commit)?;
    }
    // On success the commit is done; on error the guard's undo runs.
    guard.armed = result.is_err();
    drop(guard);
    result
}

/// Milliseconds since the Unix epoch: the time stamp of every row.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A random 128-bit idempotency key (UUID v4 text form): never derived from a row id.
pub(crate) fn random_key() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut key = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            key.push('-');
        }
        key.push(HEX[(x >> 4) as usize] as char);
        key.push(HEX[(x & 15) as usize] as char);
    }
    key
}

/// Why a `file:` URI `path` cannot name a store, if it cannot: parameters under which the
/// handle, the controller and manual runs (each on its own connection) would not share the
/// file safely. `None` for a plain path, or a URI whose parameters are fine. (One in memory
/// is refused for that, later.)
fn refused_uri(path: &str) -> Option<&'static str> {
    let (_, query) = path.strip_prefix("file:")?.split_once('?')?;
    let params = || query.split('#').next().unwrap_or_default().split('&');
    // SQLite decodes `%HH` in a query (`cache=%73hared` is `cache=shared` to it), and takes
    // a boolean as 1, true, yes or on, in any case.
    let value = |key: &str| {
        params().find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (percent_decoded(k) == key.as_bytes())
                .then(|| String::from_utf8_lossy(&percent_decoded(v)).to_ascii_lowercase())
        })
    };
    // (`sqlite3_uri_boolean`: a value starting with a digit is a number, true but 0: `2`,
    // `01`, and hexadecimal `0x1`. Any non-zero digit is taken as true here, so a few values
    // SQLite reads as false, `0x100` or one past 32 bits, are refused too: the safe side.)
    let on = |key: &str| {
        value(key).is_some_and(|v| {
            let hex = v
                .strip_prefix("0x")
                .filter(|h| h.starts_with(|c: char| c.is_ascii_hexdigit()));
            matches!(v.as_str(), "true" | "yes" | "on")
                || hex.is_some_and(|h| {
                    h.bytes()
                        .take_while(u8::is_ascii_hexdigit)
                        .any(|b| b != b'0')
                })
                || (hex.is_none()
                    && v.starts_with(|c: char| c.is_ascii_digit())
                    && v.bytes().take_while(u8::is_ascii_digit).any(|b| b != b'0'))
        })
    };
    if value("mode").as_deref() == Some("memory") {
        return None;
    }
    if value("cache").as_deref() == Some("shared") {
        return Some(
            "cache=shared would make this process's connections to the store (the handle's, \
             the controller's, other handles') share one cache, whose locks SQLite does not \
             wait on: a read would fail while another handle writes; leave it out",
        );
    }
    // Without locks two writers overwrite each other's pages: a change reported done is lost
    // (found by a review, 2026-12-03: a sale lost, and a host commit reported failed applied).
    if on("nolock") || value("vfs").is_some_and(|v| v.ends_with("-none")) {
        return Some(
            "nolock=1 (or a VFS without locks) lets two writers overwrite each other's \
             changes, and the store is written by several connections at once; leave it out \
             (a store on a network share that cannot lock needs PostgreSQL, not this)",
        );
    }
    if on("immutable") || value("mode").as_deref() == Some("ro") {
        return Some(
            "immutable=1 or mode=ro opens the store read-only, and every QOH change and send \
             writes to it; leave it out",
        );
    }
    None
}

/// `path` without a `mode=rwc` parameter: the handle's own connection may create the file
/// (as for a plain path), but the controller and manual runs open it again without leave to
/// create, and SQLite refuses a URI asking for more than that (until 2026-12-03 every pass of
/// such a store failed, its sales never sent).
fn without_rwc(path: PathBuf) -> PathBuf {
    let Some(uri) = path.to_str() else {
        return path;
    };
    let Some((base, query)) = uri.strip_prefix("file:").and_then(|u| u.split_once('?')) else {
        return path;
    };
    let (query, fragment) = query
        .split_once('#')
        .map_or((query, None), |(q, f)| (q, Some(f)));
    let kept: Vec<&str> = query
        .split('&')
        .filter(|kv| {
            !kv.split_once('=').is_some_and(|(k, v)| {
                percent_decoded(k) == b"mode" && percent_decoded(v).eq_ignore_ascii_case(b"rwc")
            })
        })
        .collect();
    let mut out = format!("file:{base}");
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    PathBuf::from(out)
}

/// `s` with each `%HH` read as the byte it names, as SQLite reads a URI.
fn percent_decoded(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, ..) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// A `file:` URI whose path is relative, made absolute against `cwd` (SQLite reads a
/// relative one against the directory current when each connection opens: the controller's
/// and a manual run's, opened later, after a host's change of directory). The directory goes
/// in as its bytes, percent-encoded where a URI needs it (SQLite decodes them): a name that
/// is not UTF-8 (a Linux folder named in Latin-1) or holds a `\`, which only a Windows path
/// (one not starting with `/`) separates its folders with.
fn absolute_uri(uri: &str, cwd: PathBuf) -> String {
    let rest = &uri["file:".len()..];
    // `file:C:/shop/store.db` (a drive letter) is absolute on Windows, as SQLite reads it.
    let drive = rest.as_bytes().get(..3).is_some_and(|b| {
        b[0].is_ascii_alphabetic() && b[1] == b':' && (b[2] == b'/' || b[2] == b'\\')
    });
    if rest.starts_with('/') || rest.starts_with(":memory:") || drive {
        return uri.to_owned();
    }
    #[cfg(unix)]
    let mut dir = std::os::unix::ffi::OsStrExt::as_bytes(cwd.as_os_str()).to_vec();
    #[cfg(not(unix))]
    let Some(mut dir) = cwd.to_str().map(|d| d.as_bytes().to_vec()) else {
        return uri.to_owned();
    };
    // C:\shop → /C:/shop; \\server\share → //server/share (SQLite's UNC form: five
    // slashes in all would name no server).
    if dir.first() != Some(&b'/') {
        for b in dir.iter_mut().filter(|b| **b == b'\\') {
            *b = b'/';
        }
    }
    if dir.first() != Some(&b'/') {
        dir.insert(0, b'/');
    }
    while dir.len() > 1 && dir.ends_with(b"/") {
        dir.pop();
    }
    let mut out = String::from("file://");
    for b in dir {
        match b {
            b'/' | b':' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            b if b.is_ascii_alphanumeric() => out.push(b as char),
            b => out.push_str(&format!("%{b:02x}")),
        }
    }
    if !out.ends_with('/') {
        out.push('/');
    }
    out + rest
}

fn in_host_transaction(what: &str) -> Error {
    Error::refused(format!(
        "{what} talks to a cart and cannot run inside a host transaction; commit first"
    ))
}

/// A manual run counted on its handle (see [`Store::manual_run`]).
pub(crate) struct ManualRun<'a>(&'a Store);

impl Drop for ManualRun<'_> {
    fn drop(&mut self) {
        // Without the lock (a drop may come where it is held): a begin racing the end of a
        // run may still be refused, never the other way round.
        self.0.inner.manual_runs.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    /// A host name the `Workstation` parameter would refuse (a line break in `HOSTNAME`, 200
    /// characters) is made one it takes, as the default name: the store ran under it, forged
    /// lines in the controller's log, and refused it back from a host (review of 2026-12-02).
    #[test]
    fn a_host_name_becomes_a_workstation_name_the_parameter_takes() {
        for (raw, name) in [
            (
                "POS-1\n2026-12-02 controller started\n",
                Some("POS-12026-12-02 controller started"),
            ),
            ("  FRONT\r\n", Some("FRONT")),
            ("\u{1b}\t\n", None),
        ] {
            let plain = super::plain_name(raw);
            assert_eq!(plain.as_deref(), name, "{raw:?}");
            if let Some(p) = plain {
                crate::params::check_workstation(&p).unwrap();
            }
        }
        let long = super::plain_name(&"é".repeat(200)).unwrap();
        assert_eq!(long.chars().count(), 128);
        crate::params::check_workstation(&long).unwrap();
    }

    /// Every thread finds its own last report, however many threads use the handle (a
    /// handle kept 64, and the 65th thread's call dropped another thread's), and a thread
    /// keeps none of a handle closed since.
    #[test]
    fn last_reports_are_each_threads_own_and_go_with_their_handle() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::Store::open(dir.path().join("s.db")).unwrap();
        let ready = std::sync::Barrier::new(100);
        std::thread::scope(|scope| {
            for i in 0..100 {
                let (store, ready) = (&store, &ready);
                scope.spawn(move || {
                    store.remember_report(format!("{{\"n\":{i}}}"));
                    ready.wait();
                    assert_eq!(store.last_report().unwrap(), format!("{{\"n\":{i}}}"));
                });
            }
        });
        assert_eq!(store.last_report(), None, "this thread made none");
        store.remember_report("{}".into());
        drop(store);
        let other = super::Store::open(dir.path().join("s.db")).unwrap();
        assert_eq!(other.last_report(), None);
        other.remember_report("{\"other\":1}".into());
        super::LAST_REPORTS.with(|kept| assert_eq!(kept.borrow().len(), 1));
    }

    /// A file SQLite cannot put in WAL mode (here a VFS without shared memory, locking with
    /// dot files; a medium without it does the same) keeps its rollback journal, where
    /// `synchronous=NORMAL` could let a power cut corrupt it: such a store syncs fully; one in
    /// WAL mode does not.
    #[cfg(unix)]
    #[test]
    fn a_store_that_cannot_use_the_wal_syncs_fully() {
        let dir = tempfile::tempdir().unwrap();
        for (vfs, journal, synchronous) in [("unix-dotfile", "delete", 2), ("unix", "wal", 1)] {
            let file = dir.path().join(format!("{vfs}.db"));
            let store = super::Store::open(format!("file:{}?vfs={vfs}", file.display())).unwrap();
            let conn = store.inner.conn.lock();
            let j: String = conn
                .pragma_query_value(None, "journal_mode", |r| r.get(0))
                .unwrap();
            let s: i64 = conn
                .pragma_query_value(None, "synchronous", |r| r.get(0))
                .unwrap();
            assert_eq!((j.as_str(), s), (journal, synchronous), "{vfs}");
        }
    }

    /// A statement is planned once, not again each time it is given new values. SQLite
    /// 3.54.1 plans a join through a partial index (`stack_group … WHERE group_id IS NOT NULL`)
    /// by looking at the value bound, and then prepares the statement again whenever that
    /// parameter is bound anew: four of the drain's statements were prepared again at every
    /// lease (about 4 a batch, counted with a probe on `sqlite3Reprepare`), and a drain ran at
    /// half the rate it had on 3.46.0 (57k against 111k records/s, 50,000 records, one cart).
    /// The query planner stability guarantee (`SQLITE_DBCONFIG_ENABLE_QPSG`) plans without the
    /// values, once. Shown re-prepared on each value without it.
    #[test]
    fn a_statement_is_planned_once_whatever_values_it_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        drop(crate::Store::open(&path).unwrap());
        for conn in [
            super::connect(&path, &super::OpenOptions::default())
                .unwrap()
                .0,
            super::connect_existing(&path, &super::OpenOptions::default())
                .unwrap()
                .0,
        ] {
            // The shape of the lease's and the settle's reads of a batch's records.
            let mut st = conn
                .prepare_cached(
                    "SELECT COUNT(*) FROM send_groups b JOIN stack s ON s.group_id = b.id
                     WHERE b.id = ?1",
                )
                .unwrap();
            for batch in 1..=5_i64 {
                let n: i64 = st.query_row([batch], |r| r.get(0)).unwrap();
                assert_eq!(n, 0);
            }
            assert_eq!(
                st.get_status(rusqlite::StatementStatus::RePrepare),
                0,
                "prepared again for new values"
            );
        }
    }

    /// `Durability::Full` syncs every commit (`synchronous=FULL`) on the host's connection and
    /// on the one the stack controller opens with the same options (a settle is a commit
    /// too); the default syncs at checkpoints only (`NORMAL`). Nothing else can see the
    /// setting: it is the connection's own.
    #[test]
    fn durability_full_syncs_every_commit_on_every_connection_the_options_open() {
        let dir = tempfile::tempdir().unwrap();
        let synchronous = |c: &rusqlite::Connection| -> i64 {
            c.pragma_query_value(None, "synchronous", |r| r.get(0))
                .unwrap()
        };
        for (durability, want) in [(super::Durability::Full, 2), (super::Durability::Normal, 1)] {
            let path = dir.path().join(format!("{durability:?}.db"));
            let options = super::OpenOptions {
                durability,
                ..Default::default()
            };
            let store = super::Store::open_with(&path, options.clone()).unwrap();
            assert_eq!(
                synchronous(&store.inner.conn.lock()),
                want,
                "{durability:?}"
            );
            let (controller_side, _) = super::connect_existing(&path, &options).unwrap();
            assert_eq!(synchronous(&controller_side), want, "{durability:?}");
        }
    }

    /// A store's WAL is checkpointed after 4 MiB of pages, whatever its page size: at the
    /// 1 KiB pages of a new file SQLite's default (1,000 pages) checkpointed four times as
    /// often, and every QOH change committed alone paid for it.
    #[test]
    fn the_wal_is_checkpointed_at_4_mib_whatever_the_page_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let checkpoint_at = |store: &super::Store| -> (i64, i64) {
            let conn = store.inner.conn.lock();
            let page: i64 = conn
                .pragma_query_value(None, "page_size", |r| r.get(0))
                .unwrap();
            let pages: i64 = conn
                .pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))
                .unwrap();
            (page, pages)
        };
        let store = super::Store::open(&path).unwrap();
        assert_eq!(checkpoint_at(&store), (1024, 4000));
        drop(store);
        // A file made before the 1 KiB pages keeps its 4 KiB and SQLite's 1,000 pages.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
        conn.pragma_update(None, "page_size", 4096).unwrap();
        conn.execute_batch("VACUUM").unwrap();
        drop(conn);
        let store = super::Store::open(&path).unwrap();
        assert_eq!(checkpoint_at(&store), (4096, 1000));
    }

    /// `file:C:/shop/store.db` is absolute on Windows (SQLite opens C:\\shop\\store.db): it
    /// was joined to the working directory as if relative, a path that cannot exist.
    #[test]
    fn a_drive_letter_uri_is_left_absolute() {
        for uri in [
            "file:C:/shop/store.db?cache=private",
            "file:d:\\shop\\store.db",
        ] {
            assert_eq!(
                super::absolute_uri(uri, std::path::PathBuf::from("D:\\work")),
                uri
            );
        }
        assert_eq!(
            super::absolute_uri("file:shop/store.db", std::path::PathBuf::from("D:\\work")),
            "file:///D:/work/shop/store.db"
        );
        // A network share (Access started from one): SQLite's UNC form, four slashes.
        assert_eq!(
            super::absolute_uri(
                "file:store.db?cache=private",
                std::path::PathBuf::from(r"\\server\share\shop")
            ),
            "file:////server/share/shop/store.db?cache=private"
        );
    }

    /// SQLite opens a file it may not write read-only without a word (every sale then failed
    /// with "attempt to write a readonly database", naming no file); a store is refused at
    /// open instead, naming the file. (Root writes any file, so the test opens it read-only.)
    #[test]
    fn a_store_that_can_only_be_read_is_refused_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        drop(super::Store::open(&path).unwrap());
        let conn = rusqlite::Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        );
        let e = super::configure(conn, &path, &super::OpenOptions::default()).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Refused, "{e}");
        assert!(
            e.message().contains("store.db") && e.message().contains("only be read"),
            "{e}"
        );
    }

    #[test]
    fn random_keys_are_uuid_v4_and_differ() {
        let (a, b) = (super::random_key(), super::random_key());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            vec![8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"));
    }
}
