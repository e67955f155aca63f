//! `cargo bench -p zeues-tests --bench sheets`: Google Sheets API calls per command through the
//! engine and the product's `GoogleSheets` client, for batches of 1, 10 and 50 commands, cold
//! and warm cache; and the time to read a 100,000-row `Operaciones` through the emulator over
//! HTTP (loopback). Counts come from the emulator's per-method request counters.
#![allow(clippy::unwrap_used)]

#[path = "../tests/sheets_common/mod.rs"]
mod sheets_common;

use std::collections::BTreeMap;
use std::time::Instant;

use sheets_common::*;
use zeues_sync::domain::sheet::{OperacionesLayout, OPERACIONES};
use zeues_sync::domain::{Intent, Operacion, Rol, Spool};
use zeues_sync::ports::Workbook;

fn free_for_arm(rig: &Rig) -> Vec<String> {
    let rows = rig.dump(OPERACIONES);
    let headers: Vec<String> = rows[0]
        .iter()
        .map(|h| h.as_str().unwrap_or_default().to_string())
        .collect();
    let layout = OperacionesLayout::from_headers(&headers).unwrap();
    let raw: Vec<Vec<zeues_sync::domain::RawCell>> = rows[1..]
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    serde_json::Value::String(s) => zeues_sync::domain::RawCell::Text(s.clone()),
                    serde_json::Value::Number(n) => {
                        zeues_sync::domain::RawCell::Number(n.as_f64().unwrap())
                    }
                    serde_json::Value::Object(o) => {
                        o.get("number").and_then(serde_json::Value::as_f64).map_or(
                            zeues_sync::domain::RawCell::Empty,
                            zeues_sync::domain::RawCell::Number,
                        )
                    }
                    serde_json::Value::Bool(b) => zeues_sync::domain::RawCell::Bool(*b),
                    _ => zeues_sync::domain::RawCell::Empty,
                })
                .collect()
        })
        .collect();
    layout
        .decode_all(&raw)
        .spools
        .into_iter()
        .filter(|s: &Spool| {
            s.fecha_materiales.is_some()
                && s.armador.is_none()
                && s.ocupado_por.is_none()
                && s.estado_reparacion.is_none()
                && s.fecha_armado.is_none()
        })
        .map(|s| s.tag)
        .collect()
}

fn delta(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>, m: &str) -> u64 {
    after.get(m).copied().unwrap_or(0) - before.get(m).copied().unwrap_or(0)
}

struct Row {
    batch: usize,
    phase: &'static str,
    get: u64,
    batch_get: u64,
    batch_update: u64,
    landed: usize,
}

async fn calls_per_batch(batch: usize) -> Vec<Row> {
    let rig = Rig::start().await;
    rig.seed(demo_plant(2_500));
    let armador = zeues_sync::demo::workers()
        .into_iter()
        .find(|w| w.activo && w.roles.contains(&Rol::Armador))
        .unwrap()
        .id;
    let free = free_for_arm(&rig);
    assert!(free.len() >= 2 * batch, "only {} free spools", free.len());
    let wb = rig.client().await;
    let mut dev = Device::new(wb.clone());
    // The device starts from a snapshot (its own reads, not counted below).
    dev.engine.load_snapshot().await.unwrap();
    // Cold: a fresh client and engine whose plant cache is empty.
    let wb_cold = rig.client().await;
    let mut cold = Device::new(wb_cold.clone());
    cold.store = dev.store.clone();
    cold.engine = zeues_sync::engine::Engine::new(
        dev.store.clone(),
        wb_cold,
        std::sync::Arc::new(zeues_sync::ports::InProcessCoordinator::new()),
        std::sync::Arc::new(zeues_sync::engine::SystemClock),
        std::sync::Arc::new(zeues_sync::engine::NoNotifier),
        tokio::sync::broadcast::channel(16).0,
        zeues_sync::engine::EngineConfig {
            mode: "plant",
            batch_size: 50,
            ..Default::default()
        },
    );
    let mut out = Vec::new();
    for (phase, tags) in [
        ("frío", &free[..batch]),
        ("caliente", &free[batch..2 * batch]),
    ] {
        let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
        dev.act(armador, Intent::Tomar(Operacion::Arm), &tags);
        let before = rig.emu.counts();
        let landed = cold.engine.push_once().await.unwrap();
        let after = rig.emu.counts();
        out.push(Row {
            batch,
            phase,
            get: delta(&before, &after, "spreadsheets.get"),
            batch_get: delta(&before, &after, "spreadsheets.values.batchGet"),
            batch_update: delta(&before, &after, "spreadsheets.batchUpdate"),
            landed,
        });
    }
    rig.emu.shutdown().await;
    out
}

async fn read_100k() -> (u128, u128, u128, usize) {
    let rig = Rig::start().await;
    let t = Instant::now();
    rig.seed(demo_plant_wide(100_000, 58));
    eprintln!("  (seed of the emulator: {} ms)", t.elapsed().as_millis());
    let wb = rig.client().await;
    let t = Instant::now();
    let g = wb.read_tab(OPERACIONES).await.unwrap();
    let cold = t.elapsed().as_millis();
    let t = Instant::now();
    let g2 = wb.read_tab(OPERACIONES).await.unwrap();
    let warm = t.elapsed().as_millis();
    assert_eq!(g, g2);
    let t = Instant::now();
    let layout = OperacionesLayout::from_headers(&g.headers).unwrap();
    let read = layout.decode_all(&g.rows);
    let decode = t.elapsed().as_millis();
    rig.emu.shutdown().await;
    (cold, warm, decode, read.spools.len())
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        println!("## Sheets API calls per command (engine → GoogleSheets → emulator, in-process coordinator)");
        println!();
        println!("| commands in batch | cache | spreadsheets.get | values.batchGet | spreadsheets.batchUpdate | calls total | calls per command | applied |");
        println!("|---:|---|---:|---:|---:|---:|---:|---:|");
        for n in [1usize, 10, 50] {
            for r in calls_per_batch(n).await {
                let total = r.get + r.batch_get + r.batch_update;
                println!(
                    "| {} | {} | {} | {} | {} | {} | {:.3} | {} |",
                    r.batch,
                    r.phase,
                    r.get,
                    r.batch_get,
                    r.batch_update,
                    total,
                    total as f64 / r.batch as f64,
                    r.landed
                );
            }
        }
        println!();
        let (cold, warm, decode, n) = read_100k().await;
        println!("## Reading a 100,000-row Operaciones (75 columns; the client reads the 17 app columns)");
        println!();
        println!("| read | ms |");
        println!("|---|---:|");
        println!("| cold: spreadsheets.get + header + values.batchGet | {cold} |");
        println!("| warm: one values.batchGet (header rides along) | {warm} |");
        println!("| decode {n} spools (OperacionesLayout::decode_all) | {decode} |");
    });
}
