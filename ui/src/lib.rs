//! ZEUES screens (Leptos CSR, compiled to wasm and shown in the Tauri window). Spanish,
//! touch-first. The UI shows and asks; every rule is decided behind `ipc` by `zeues-sync`.

pub mod charts;
pub mod components;
pub mod ipc;
pub mod scanner;
pub mod screens;
pub mod state;
pub mod text;

/// Mounts the app on `<body>` (called from `main` in the browser).
pub fn start() {
    leptos::mount::mount_to_body(state::App);
}
