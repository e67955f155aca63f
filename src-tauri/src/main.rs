//! The `zeues` binary: everything lives in the `zeues_app` library (`src/lib.rs`).

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    // `zeues doctor`, `zeues status` …: the command line, no window (see `cli`).
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if zeues_app::cli::is_cli(&args) {
        return zeues_app::cli::main(args);
    }
    zeues_app::run()
}
