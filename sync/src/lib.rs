//! ZEUES sync: the plant's rules and the machinery that keeps every device in step with them.
//!
//! - [`domain`]: pure rules (no I/O, compiles for wasm32 so `ui/` shares the types).
//! - [`api`]: the shapes that cross IPC (`{code, message, data}` errors, views).
//! - `store`, `ports`, `engine`, `service` (feature `native`): local SQLite replica + outbox,
//!   the `Workbook`/`Coordinator` ports and the engine that drains the outbox into them.

pub mod api;
pub mod domain;
/// The shell's IPC command names, shared by `src-tauri` (ACL, build check) and `ui` (calls).
pub mod ipc_names;

#[cfg(feature = "native")]
pub mod demo;
#[cfg(feature = "native")]
pub mod doctor;
#[cfg(feature = "native")]
pub mod engine;
#[cfg(feature = "native")]
pub mod export;
#[cfg(feature = "native")]
pub mod instance;
#[cfg(feature = "native")]
pub mod migrate;
#[cfg(feature = "native")]
pub mod ports;
#[cfg(feature = "native")]
pub mod reports;
#[cfg(feature = "native")]
pub mod service;
#[cfg(feature = "native")]
pub mod store;
