//! What the documents promise a host sees, as data several tests check against: one copy, so
//! that a change of the contract is made in one place.
#![allow(dead_code)]

/// Each parameter's default, as the README's Parameters table and the header's
/// `invsync_param_get` give them.
pub const PARAM_DEFAULTS: &[(&str, &str)] = &[
    ("SynchQOH", "false"),
    ("BypassAfterAttempts", "10"),
    ("RetryBaseMs", "1000"),
    ("RetryMaxMs", "300000"),
    ("LeaseMs", "60000"),
    ("StackMode", "local"),
    ("StackHistoryDays", "90"),
    ("PassIntervalMs", "0"),
];

/// The keys of each record of the stack's troubleshooting view (DESIGN §9's
/// `invsync_stack_list`).
pub const STACK_LIST_KEYS: &[&str] = &[
    "id",
    "cart_id",
    "sku",
    "delta",
    "reason",
    "created_at",
    "attempts",
    "next_attempt_at",
    "last_response",
    "state",
];
