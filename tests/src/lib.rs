//! Shared support for ZEUES integration and end-to-end suites, so each test reads like a
//! scenario. `support::e2e` drives the built app through tauri-driver (WebDriver).

pub mod chaos;
pub mod emulator;
pub mod plant;
pub mod redis_server;
pub mod support;
pub mod vopr;
