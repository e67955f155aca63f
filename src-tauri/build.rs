//! Generates the Tauri context and the ACL from the one list of command names
//! (`sync/src/ipc_names.rs`, also used by the UI's calls), and fails the build when the list,
//! the shell's `#[tauri::command]` functions and `capabilities/default.json` disagree.

use std::collections::BTreeSet;
use std::path::Path;

mod names {
    include!("../sync/src/ipc_names.rs");
}

/// The shell's command functions: every `fn` right after `#[tauri::command]` in `src/`.
fn shell_commands(dir: &Path, out: &mut BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        panic!("build.rs: cannot read {}", dir.display());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            shell_commands(&path, out);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
        let Ok(text) = std::fs::read_to_string(&path) else {
            panic!("build.rs: cannot read {}", path.display());
        };
        let mut armed = false;
        for line in text.lines() {
            let t = line.trim();
            if t.starts_with("#[tauri::command") {
                armed = true;
                continue;
            }
            if armed {
                if let Some(i) = t.find("fn ") {
                    let name: String = t[i + 3..]
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    out.insert(name);
                    armed = false;
                }
            }
        }
    }
}

fn main() {
    // The UI is embedded from ../ui/dist (tauri.conf.json). A fresh clone has none yet.
    if !Path::new("../ui/dist/index.html").is_file() {
        panic!("ui/dist is missing: run `bash ui/build.sh` (scripts/run.sh and scripts/test.sh do) before building zeues-app");
    }
    println!("cargo:rerun-if-changed=../sync/src/ipc_names.rs");
    println!("cargo:rerun-if-changed=capabilities/default.json");

    let listed: BTreeSet<String> = names::ALL.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        listed.len(),
        names::ALL.len(),
        "ipc_names::ALL has duplicates"
    );
    let mut found = BTreeSet::new();
    shell_commands(Path::new("src"), &mut found);
    let unlisted: Vec<_> = found.difference(&listed).collect();
    if !unlisted.is_empty() {
        panic!("#[tauri::command] functions missing from sync/src/ipc_names.rs ALL: {unlisted:?}");
    }
    for missing in listed.difference(&found) {
        // A name the UI may call before the shell has it answers "command not found" at run
        // time; say so at build time.
        println!("cargo:warning=ipc_names::ALL lists `{missing}` but no #[tauri::command] fn has that name yet");
    }

    let caps = std::fs::read_to_string("capabilities/default.json")
        .unwrap_or_else(|e| panic!("build.rs: capabilities/default.json: {e}"));
    let caps: serde_json::Value = serde_json::from_str(&caps)
        .unwrap_or_else(|e| panic!("build.rs: capabilities/default.json is not JSON: {e}"));
    let granted: BTreeSet<String> = caps["permissions"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str())
                .filter_map(|p| p.strip_prefix("allow-"))
                .map(|p| p.replace('-', "_"))
                .collect()
        })
        .unwrap_or_default();
    if granted != listed {
        panic!(
            "capabilities/default.json must grant exactly the app's commands: not granted {:?}, granted but not commands {:?}",
            listed.difference(&granted).collect::<Vec<_>>(),
            granted.difference(&listed).collect::<Vec<_>>()
        );
    }

    let attrs = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(names::ALL));
    if let Err(e) = tauri_build::try_build(attrs) {
        panic!("tauri-build failed: {e:#}");
    }
}
