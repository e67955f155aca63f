//! The `zeues` binary: everything lives in the `zeues_app` library (`src/lib.rs`).

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    zeues_app::run()
}
