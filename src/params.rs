//! System parameters (DESIGN §9): the names, their defaults, and the check of every value.

use crate::error::{Error, Result};
use crate::store::{sql, Store};

/// Whether stack controllers send only their own workstation's records or everyone's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackMode {
    /// Each workstation's controller sends its own records (and those of workstations whose
    /// controller has stopped beating).
    Local,
    /// One designated controller sends every workstation's records.
    Shared,
}

/// The parameters a controller and the fan-out read, with their defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// SynchQOH: when false nothing is queued for any cart.
    pub synch_qoh: bool,
    /// Failed attempts after which a record is bypassed.
    pub bypass_after_attempts: i64,
    /// The first retry's delay; doubled per attempt, with jitter.
    pub retry_base_ms: i64,
    /// The longest back-off (a cart's own `Retry-After` may be longer).
    pub retry_max_ms: i64,
    /// How long a lease holds before another controller may take the records.
    pub lease_ms: i64,
    /// Local or shared controllers.
    pub stack_mode: StackMode,
    /// Days the stack's history (what was applied, superseded, discarded) is kept; the
    /// controller forgets older entries. 0 keeps it for ever.
    pub history_days: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            synch_qoh: false,
            bypass_after_attempts: 10,
            retry_base_ms: 1000,
            retry_max_ms: 300_000,
            lease_ms: 60_000,
            stack_mode: StackMode::Local,
            history_days: 90,
        }
    }
}

/// The stored parameters and their defaults, as text.
const STORED: &[(&str, &str)] = &[
    ("SynchQOH", "false"),
    ("BypassAfterAttempts", "10"),
    ("RetryBaseMs", "1000"),
    ("RetryMaxMs", "300000"),
    ("LeaseMs", "60000"),
    ("StackMode", "local"),
    ("StackHistoryDays", "90"),
];

/// `value` of parameter `name` as a whole number from `lo` to `hi`.
fn whole_in(name: &str, value: &str, lo: i64, hi: i64) -> Result<i64> {
    let v: i64 = value.trim().parse().map_err(|_| {
        Error::invalid(format!("parameter {name}: {value:?} is not a whole number"))
    })?;
    if v < lo || v > hi {
        return Err(Error::invalid(format!(
            "parameter {name}: {v} is out of range (from {lo} to {hi})"
        )));
    }
    Ok(v)
}

/// Checks `value` for parameter `name` and returns its canonical text.
fn canonical(name: &str, value: &str) -> Result<String> {
    let int_in = |lo: i64, hi: i64| whole_in(name, value, lo, hi).map(|v| v.to_string());
    match name {
        "SynchQOH" => match value.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok("true".into()),
            "false" | "0" | "no" => Ok("false".into()),
            _ => Err(Error::invalid(format!(
                "parameter SynchQOH: {value:?} is not true or false"
            ))),
        },
        "BypassAfterAttempts" => int_in(1, 1000),
        "RetryBaseMs" => int_in(0, 3_600_000),
        "RetryMaxMs" => int_in(0, 86_400_000),
        "LeaseMs" => int_in(100, 3_600_000),
        "StackHistoryDays" => int_in(0, 36_500),
        "StackMode" => match value.trim().to_ascii_lowercase().as_str() {
            "local" => Ok("local".into()),
            "shared" => Ok("shared".into()),
            _ => Err(Error::invalid(format!(
                "parameter StackMode: {value:?} is not local or shared"
            ))),
        },
        _ => Err(Error::invalid(format!("unknown parameter {name:?}"))),
    }
}

pub(crate) fn check_workstation(value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > 128 {
        return Err(Error::invalid(
            "parameter Workstation: must be 1 to 128 characters",
        ));
    }
    // The name is printed in the controller's log, the stack view and standby notices: a
    // line break, an escape or a bidirectional override in it could forge a line there or
    // garble an operator's screen.
    if let Some(bad) = v.chars().find(|c| crate::store::unprintable_in_name(*c)) {
        return Err(Error::invalid(format!(
            "parameter Workstation: {v:?} holds the character {bad:?}, which would garble \
             reports and logs; give a plain name"
        )));
    }
    Ok(v.to_owned())
}

/// SynchQOH alone: the one parameter every QOH change reads.
pub(crate) fn synch_qoh(conn: &rusqlite::Connection) -> Result<bool> {
    Ok(sql::param_get(conn, "SynchQOH")?.as_deref() == Some("true"))
}

/// Reads every stored parameter with defaults filled in (a value that does not parse keeps
/// its default).
pub(crate) fn load(conn: &rusqlite::Connection) -> Result<Settings> {
    let mut s = Settings::default();
    for (name, value) in sql::params_all(conn)? {
        let int = |default: i64| value.parse().unwrap_or(default);
        match name.as_str() {
            "SynchQOH" => s.synch_qoh = value == "true",
            "BypassAfterAttempts" => s.bypass_after_attempts = int(s.bypass_after_attempts),
            "RetryBaseMs" => s.retry_base_ms = int(s.retry_base_ms),
            "RetryMaxMs" => s.retry_max_ms = int(s.retry_max_ms),
            "LeaseMs" => s.lease_ms = int(s.lease_ms),
            "StackHistoryDays" => s.history_days = int(s.history_days),
            "StackMode" => {
                s.stack_mode = if value == "shared" {
                    StackMode::Shared
                } else {
                    StackMode::Local
                }
            }
            _ => {}
        }
    }
    Ok(s)
}

impl Store {
    /// Sets a parameter: `SynchQOH` (`true`/`false`), `BypassAfterAttempts`, `RetryBaseMs`,
    /// `RetryMaxMs`, `LeaseMs`, `StackMode` (`local`/`shared`), `StackHistoryDays` (0 keeps
    /// history for ever), or, for this handle only, `Workstation` and `PassIntervalMs` (how
    /// often at most the host runs passes itself, 1 to 3,600,000 ms, as
    /// [`Store::hold_shared_lock_between_passes`]; 0, the default: it declares none). An
    /// unknown name or a bad value is refused and changes nothing; turning `SynchQOH` on is
    /// `Busy` as [`Store::set_cart_sync`].
    pub fn set_param(&self, name: &str, value: &str) -> Result<()> {
        match name {
            "Workstation" => {
                let new = check_workstation(value)?;
                let old = std::mem::replace(&mut *self.inner.workstation.lock(), new.clone());
                if old != new {
                    // The old name's records are no longer this handle's to send: they wait
                    // `3 × LeaseMs`, not through the pause its controllers declared.
                    self.inner.lock_hold.end_pauses(
                        Some(&old),
                        |_| crate::store::now_ms(),
                        |w, row, to| self.write_pause_end(w, row, to),
                    );
                }
                return Ok(());
            }
            "PassIntervalMs" => {
                let ms = whole_in(name, value, 0, 3_600_000)?;
                self.declare_pass_interval_ms(ms);
                return Ok(());
            }
            _ => {}
        }
        let v = canonical(name, value)?;
        let workstation = self.workstation();
        self.write(|c| {
            // Of the parameters, only SynchQOH decides which carts real-time changes go to.
            if name == "SynchQOH" {
                sql::targets_mark_shown(c)?;
            }
            sql::param_set(c, name, &v)?;
            match name {
                "SynchQOH" => crate::manual::pulled_to_realtime(c, &workstation),
                _ => Ok(()),
            }
        })
    }

    /// Reads a parameter as text (the default when never set).
    pub fn param(&self, name: &str) -> Result<String> {
        match name {
            "Workstation" => return Ok(self.workstation()),
            "PassIntervalMs" => return Ok(self.declared_pass_interval_ms().to_string()),
            _ => {}
        }
        let default = STORED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, d)| *d)
            .ok_or_else(|| Error::invalid(format!("unknown parameter {name:?}")))?;
        Ok(self
            .read(|c| sql::param_get(c, name))?
            .unwrap_or_else(|| default.to_owned()))
    }

    /// Every parameter with defaults filled in.
    pub fn settings(&self) -> Result<Settings> {
        self.read(load)
    }
}
