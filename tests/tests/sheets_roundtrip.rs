#![allow(clippy::unwrap_used)]
//! What a device publishes after a write must hash exactly like what the leader later reads
//! back from the sheet; otherwise the leader "imports" rows nobody edited (issue 11, item 9).
//! Random transitions of the real domain are written through the product's client to the
//! emulator over HTTP, read back, decoded, and compared with the row the engine publishes.

mod sheets_common;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sheets_common::*;
use zeues_sync::domain::sheet::{OperacionesLayout, OPERACIONES};
use zeues_sync::domain::time::santiago;
use zeues_sync::domain::{
    apply, Actor, DefectoOrigen, Intent, Operacion, ResultadoMetrologia, Spool,
};
use zeues_sync::ports::{row_hash, RowUpdate, Workbook, WriteBatch};

fn intents() -> Vec<Intent> {
    let mut v = Vec::new();
    for op in [Operacion::Arm, Operacion::Sold, Operacion::Reparacion] {
        v.extend([
            Intent::Tomar(op),
            Intent::Pausar(op),
            Intent::Completar(op),
            Intent::Cancelar(op),
        ]);
    }
    v.push(Intent::Metrologia {
        resultado: ResultadoMetrologia::Aprobado,
        origen: None,
    });
    for o in [DefectoOrigen::Arm, DefectoOrigen::Sold] {
        v.push(Intent::Metrologia {
            resultado: ResultadoMetrologia::Rechazado,
            origen: Some(o),
        });
    }
    v.push(Intent::Override);
    v.push(Intent::ForzarLiberacion);
    v
}

#[tokio::test]
async fn a_written_row_reads_back_with_the_hash_the_writer_published() {
    let rig = Rig::start().await;
    rig.seed(demo_plant(40));
    let wb = rig.client().await;
    let workers = zeues_sync::demo::workers();
    let intents = intents();
    let seed: u64 = std::env::var("SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(11);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let grid = wb.read_tab(OPERACIONES).await.unwrap();
    let layout = OperacionesLayout::from_headers(&grid.headers).unwrap();
    let mut rows: Vec<Spool> = layout.decode_all(&grid.rows).spools;
    let t0 = chrono::Utc::now();
    let mut applied = 0;
    for step in 0..400 {
        let i = rng.gen_range(0..rows.len());
        // Device clocks carry milliseconds; the sheet keeps a serial number.
        let at = santiago(t0 + chrono::Duration::milliseconds(rng.gen_range(0..86_400_000)));
        let id = format!("cmd-{seed}-{step}");
        // Something the plant could do next on this spool: a random valid (worker, action).
        let mut tries: Vec<(usize, usize)> = (0..workers.len())
            .flat_map(|w| (0..intents.len()).map(move |k| (w, k)))
            .collect();
        tries.shuffle(&mut rng);
        let Some((intent, t)) = tries.into_iter().find_map(|(w, k)| {
            let actor = Actor {
                worker: &workers[w],
                supervisor_verified: true,
            };
            apply(&rows[i], actor, intents[k], at, &id)
                .ok()
                .map(|t| (intents[k], t))
        }) else {
            continue;
        };
        applied += 1;
        wb.write(&WriteBatch {
            updates: vec![RowUpdate {
                tab: OPERACIONES.into(),
                row: rows[i].row,
                cells: layout.encode(&t.changes).unwrap(),
            }],
            ..WriteBatch::default()
        })
        .await
        .unwrap();
        let back = wb.read_rows(OPERACIONES, &[rows[i].row]).await.unwrap();
        let read = layout.decode(rows[i].row, &back.rows[0]).unwrap().unwrap();
        assert_eq!(
            row_hash(&read),
            row_hash(&t.after),
            "step {step} (SEED={seed}) {intent:?}:\n published {:?}\n read back {:?}",
            t.after,
            read
        );
        rows[i] = read;
    }
    assert!(applied > 100, "only {applied} transitions were valid");
}
