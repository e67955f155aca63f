//! Secrets never reach a log file or a terminal. A plant device is configured with a Redis
//! password and a service-account key through the first-run code path, opened with the app's
//! real logging (`logging::init` into the log directory a plant's IT person is told to read;
//! once with the shipped filter, once with `RUST_LOG=debug`), made to sync, to refresh its
//! access token and to lose Redis; then `zeues doctor` and `zeues status` run as processes with
//! `RUST_LOG=debug`. No log file and no stdout/stderr may hold the password, the key's private
//! material, an access token or the signed token request.
#![allow(clippy::unwrap_used)]

#[path = "../../tests/tests/sheets_common/mod.rs"]
mod sheets_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sheets_common::*;
use zeues_app::startup;
use zeues_sync::api::{ActionRequest, AppMode, ForAction, PlantSettings, SpoolQuery};
use zeues_sync::domain::{Intent, Operacion};
use zeues_sync::engine::NoNotifier;
use zeues_sync::service::Zeues;
use zeues_tests::redis_server::{RedisServer, ServerOptions};

const BIN: &str = env!("CARGO_BIN_EXE_zeues");
const PASSWORD: &str = "R3dis-s3cr@to-zeues";
/// The same password as typed into a `redis://` URL.
const PASSWORD_IN_URL: &str = "R3dis-s3cr%40to-zeues";
/// Demo plant: Armador MR(93).
const ARMADOR: u32 = 93;
const PATIENCE: Duration = Duration::from_secs(60);

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !ok() {
        assert!(t0.elapsed() < PATIENCE, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn free_arm(z: &Zeues) -> Vec<String> {
    z.spools(&SpoolQuery {
        for_action: Some(ForAction {
            worker_id: ARMADOR,
            intent: Intent::Tomar(Operacion::Arm),
        }),
        limit: Some(50),
        ..SpoolQuery::default()
    })
    .unwrap()
    .spools
    .into_iter()
    .filter(|s| s.ocupado_por.is_none())
    .map(|s| s.tag)
    .collect()
}

fn act(z: &Zeues, intent: Intent, tag: &str) {
    let out = z
        .execute(ActionRequest {
            worker_id: ARMADOR,
            intent,
            tags: vec![tag.to_string()],
            supervisor_pin: None,
        })
        .unwrap();
    assert_eq!(out.succeeded(), 1, "refused locally: {}", out.summary);
}

/// `zeues args…` with the config and data dir of the test, `RUST_LOG=debug`; stdout + stderr.
fn zeues(args: &[&str], config: &Path, data: &Path) -> String {
    let o = Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .env_remove("ZEUES_CONFIG")
        .env_remove("ZEUES_DATA_DIR")
        .env_remove("ZEUES_LANG")
        .env_remove("ZEUES_REDIS_URL")
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    format!(
        "$ zeues {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// What must never be shown: the password (as typed and as in a URL), every line of the
/// key's PEM body and its id, any Google access token (`ya29.` is their prefix, the
/// emulator's too) and a signed JWT (the token request's assertion; base64 of `{"`).
fn secrets(key_file: &Path) -> Vec<String> {
    let key: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(key_file).unwrap()).unwrap();
    let pem = key["private_key"].as_str().unwrap();
    let mut s: Vec<String> = pem
        .lines()
        .filter(|l| !l.starts_with("-----") && !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    assert!(s.len() > 10, "a 2048-bit PEM body has ~26 lines");
    s.push(key["private_key_id"].as_str().unwrap().to_string());
    s.extend(
        [PASSWORD, PASSWORD_IN_URL, "ya29.", "eyJ"]
            .iter()
            .map(|x| x.to_string()),
    );
    s
}

#[test]
fn no_secret_in_the_default_log_or_the_terminal() {
    scenario(None);
}

#[test]
fn no_secret_in_a_debug_log_or_the_terminal() {
    // Debug for every crate (reqwest, hyper, redis, yup-oauth2 too), as an IT person asked
    // for a detailed log would run it. Needs its own process (nextest's default): the log
    // subscriber is global.
    scenario(Some("debug"));
}

/// The whole run with the app's log filter from `rust_log` (`None`: the app's default).
fn scenario(rust_log: Option<&str>) {
    // Set before the runtime or any other thread of this test exists, so nothing reads the
    // environment concurrently.
    match rust_log {
        Some(level) => std::env::set_var("RUST_LOG", level),
        None => std::env::remove_var("RUST_LOG"),
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    // Where the app logs with `--data-dir` (config::resolve).
    let log_dir = data.join("logs");
    let guard = zeues_app::logging::init(&log_dir).unwrap();

    let rig = rt.block_on(async {
        let rig = Rig::start().await;
        rig.seed(demo_plant(40));
        rig
    });
    let mut redis = RedisServer::start_with(ServerOptions {
        password: Some(PASSWORD.into()),
        ..ServerOptions::default()
    })
    .unwrap();
    let config = data.join("zeues.toml");
    // Tests reach the emulator, not Google: the one setting the form does not edit.
    std::fs::write(
        &config,
        format!(
            "mode = \"demo\"\nsheets_base_url = \"{}\"\n",
            rig.emu.base_url()
        ),
    )
    .unwrap();

    // First-run "Guardar": every doctor check (token, Redis AUTH) runs, then the files.
    let settings = PlantSettings {
        spreadsheet: BOOK.into(),
        key_file: rig.key.display().to_string(),
        redis_url: Some(format!(
            "redis://:{PASSWORD_IN_URL}@127.0.0.1:{}/0",
            redis.port()
        )),
        device_name: "tablet-07".into(),
        supervisor_pin: Some("4321".into()),
    };
    let mode = rt
        .block_on(startup::save(
            &settings,
            &config,
            &data,
            startup::Requester::default(),
        ))
        .unwrap();
    assert_eq!(mode, AppMode::Planta);
    // This Redis is new: no settle period before the first row write (an IT setting).
    let toml = std::fs::read_to_string(&config).unwrap();
    let setting = "ZEUES_REDIS_ROW_SETTLE_SECS = \"0\"\n";
    let toml = match toml.find("[redis]\n") {
        Some(i) => format!("{}[redis]\n{setting}{}", &toml[..i], &toml[i + 8..]),
        None => format!("{toml}\n[redis]\n{setting}"),
    };
    std::fs::write(&config, toml).unwrap();

    // The device as the window opens it: loads the plant, syncs a TOMAR through Redis and
    // Sheets, fetches a new token when Google expires the old one.
    let (z, _) = startup::open_configured(
        &AppMode::Planta,
        &data,
        &config,
        Arc::new(NoNotifier),
        rt.handle().clone(),
    )
    .unwrap();
    let free = free_arm(&z);
    assert!(free.len() >= 2, "free ARM spools: {free:?}");
    act(&z, Intent::Tomar(Operacion::Arm), &free[0]);
    wait_for("the TOMAR synced", || z.sync_status().pending == 0);
    let tokens_before = rig.calls("oauth2.token");
    rig.emu.expire_tokens();
    act(&z, Intent::Pausar(Operacion::Arm), &free[0]);
    wait_for("the PAUSAR synced", || z.sync_status().pending == 0);
    assert!(
        rig.calls("oauth2.token") > tokens_before,
        "a new token was fetched"
    );

    // The command line while everything is up (green doctor, online status) …
    let mut terminal = String::new();
    for args in [
        &["doctor"][..],
        &["doctor", "--json"],
        &["status"],
        &["status", "--json"],
    ] {
        terminal += &zeues(args, &config, &data);
    }
    assert!(terminal.contains("Todo en verde"), "{terminal}");

    // … and with Redis gone: connection errors are where URLs (and their passwords) leak.
    redis.kill9();
    act(&z, Intent::Tomar(Operacion::Arm), &free[1]);
    wait_for("the engine saw Redis gone", || {
        z.sync_status().last_error.is_some()
    });
    for args in [&["doctor"][..], &["status", "--json"]] {
        terminal += &zeues(args, &config, &data);
    }
    assert!(
        terminal.contains("redis-server"),
        "doctor's red Redis line: {terminal}"
    );
    z.shutdown();
    // Flushes the file writer.
    drop(guard);

    let logs: Vec<(PathBuf, String)> = files_under(&log_dir)
        .into_iter()
        .map(|p| {
            let t = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            (p, t)
        })
        .collect();
    let all_logs: String = logs.iter().map(|(_, t)| t.as_str()).collect();
    // The log is real: the plant was opened and synced at debug level, Redis errors included.
    assert!(all_logs.contains("abriendo la planta"), "{all_logs}");
    assert!(all_logs.contains("DEBUG"), "debug lines were written");
    assert!(all_logs.to_lowercase().contains("redis"), "{all_logs}");

    let mut shown: Vec<(String, &str)> = logs
        .iter()
        .map(|(p, t)| (p.display().to_string(), t.as_str()))
        .collect();
    shown.push(("stdout/stderr de zeues doctor/status".into(), &terminal));
    let mut leaks = Vec::new();
    for secret in secrets(&rig.key) {
        for (what, text) in &shown {
            for (at, _) in text.match_indices(&secret) {
                let from = text[..at].rfind('\n').map_or(0, |i| i + 1);
                let to = text[at..].find('\n').map_or(text.len(), |i| at + i);
                leaks.push(format!(
                    "'{}…' in {what}:\n  {}",
                    &secret[..secret.len().min(6)],
                    &text[from..to]
                ));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "{} secrets shown:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
}
