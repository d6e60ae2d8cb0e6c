//! inventory_sync (skeleton)
pub mod adapter;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod error;
pub mod secret;
pub use error::{Error, ErrorKind, Result};
