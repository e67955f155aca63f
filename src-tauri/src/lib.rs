//! ZEUES desktop/tablet shell as a library: the `zeues` binary's `main` calls [`app::run`],
//! and tests reach the pieces that do not need a window (the notifier, the ACL list).
//! Decides nothing about spools: every rule lives in `zeues-sync`.

pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod core;
pub mod events;
pub mod logging;
pub mod notifier;
pub mod plant_config;
pub mod setup_commands;
pub mod single_instance;
pub mod startup;
pub mod supervisor;

pub use app::run;
