//! Generates the Tauri context and the ACL. Every app command gets an `allow-<name>` permission
//! and, because the app manifest lists them, is callable only when a capability grants it.

/// Keep in sync with `tauri::generate_handler!` in `src/main.rs` and `capabilities/default.json`.
const COMMANDS: &[&str] = &[
    "list_workers",
    "list_spools",
    "get_spool",
    "execute_action",
    "sync_status",
    "pending_commands",
    "spool_history",
    "open_report",
];

fn main() {
    // The UI is embedded from ../ui/dist (tauri.conf.json). A fresh clone has none yet.
    if !std::path::Path::new("../ui/dist/index.html").is_file() {
        panic!("ui/dist is missing: run `bash ui/build.sh` (scripts/run.sh and scripts/test.sh do) before building zeues-app");
    }
    let attrs = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attrs) {
        panic!("tauri-build failed: {e:#}");
    }
}
