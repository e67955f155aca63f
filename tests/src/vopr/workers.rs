//! What people on the shop floor do, through the product's own API: a worker looks at the list
//! the tablet shows for an action (`Zeues::spools`: only eligible spools) and taps
//! (`Zeues::execute`). Work in hand is finished, paused or dropped first; otherwise a free
//! spool is taken, often one near the top of the list (so devices collide as they do at shift
//! start). Metrología inspects; supervisors act only in the supervisor scenes.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use zeues_sync::api::{ActionRequest, ApiError, ForAction, SpoolQuery, WorkerView};
use zeues_sync::domain::{DefectoOrigen, Intent, Operacion, ResultadoMetrologia};
use zeues_sync::service::Zeues;

/// The supervisor PIN set on every simulated device.
pub const PIN: &str = "4321";

/// Spools listed for `worker` and `intent` on this tablet.
pub fn eligible(z: &Zeues, worker: u32, intent: Intent) -> Result<Vec<String>, ApiError> {
    Ok(z.spools(&SpoolQuery {
        for_action: Some(ForAction {
            worker_id: worker,
            intent,
        }),
        limit: Some(200),
        ..SpoolQuery::default()
    })?
    .spools
    .into_iter()
    .map(|s| s.tag)
    .collect())
}

/// Half the time among the first few of the list, otherwise anywhere.
fn pick(rng: &mut ChaCha8Rng, tags: &[String], n: usize) -> Vec<String> {
    if tags.is_empty() {
        return Vec::new();
    }
    let pool: &[String] = if rng.gen_bool(0.5) {
        &tags[..tags.len().min(6)]
    } else {
        tags
    };
    let mut v: Vec<String> = pool
        .choose_multiple(rng, n.min(pool.len()))
        .cloned()
        .collect();
    v.sort();
    v
}

pub fn has(w: &WorkerView, role: &str) -> bool {
    w.roles.iter().any(|r| r == role)
}

/// One thing one worker does next, if anything.
pub fn next_request(
    z: &Zeues,
    rng: &mut ChaCha8Rng,
    w: &WorkerView,
) -> Result<Option<ActionRequest>, ApiError> {
    let req = |intent: Intent, tags: Vec<String>| ActionRequest {
        worker_id: w.id,
        intent,
        tags,
        supervisor_pin: None,
    };
    if has(w, "Metrologia") {
        let probe = Intent::Metrologia {
            resultado: ResultadoMetrologia::Aprobado,
            origen: None,
        };
        let ready = eligible(z, w.id, probe)?;
        if let Some(tag) = pick(rng, &ready, 1).pop() {
            let intent = if rng.gen_bool(0.55) {
                probe
            } else {
                Intent::Metrologia {
                    resultado: ResultadoMetrologia::Rechazado,
                    origen: Some(if rng.gen_bool(0.5) {
                        DefectoOrigen::Arm
                    } else {
                        DefectoOrigen::Sold
                    }),
                }
            };
            return Ok(Some(req(intent, vec![tag])));
        }
    }
    let mut ops: Vec<Operacion> = Vec::new();
    if has(w, "Armador") || has(w, "Ayudante") {
        ops.push(Operacion::Arm);
    }
    if has(w, "Soldador") || has(w, "Ayudante") {
        ops.push(Operacion::Sold);
    }
    if has(w, "Armador") || has(w, "Soldador") {
        ops.push(Operacion::Reparacion);
    }
    // Work in hand first: finish, pause or drop it.
    for op in &ops {
        let mine = eligible(z, w.id, Intent::Pausar(*op))?;
        if mine.is_empty() || (mine.len() < 4 && rng.gen_bool(0.4)) {
            continue;
        }
        let roll: f64 = rng.gen();
        let intent = if roll < 0.55 {
            Intent::Completar(*op)
        } else if roll < 0.9 {
            Intent::Pausar(*op)
        } else {
            Intent::Cancelar(*op)
        };
        let tags = if intent.batchable() && rng.gen_bool(0.2) {
            mine.into_iter().take(50).collect()
        } else {
            pick(rng, &mine, 1)
        };
        return Ok(Some(req(intent, tags)));
    }
    let Some(op) = ops.choose(rng).copied() else {
        return Ok(None);
    };
    let intent = Intent::Tomar(op);
    let free = eligible(z, w.id, intent)?;
    let n = if intent.batchable() && rng.gen_bool(0.15) {
        rng.gen_range(2..=6)
    } else {
        1
    };
    let tags = pick(rng, &free, n);
    if tags.is_empty() {
        return Ok(None);
    }
    Ok(Some(req(intent, tags)))
}

/// The intent as the checker's acked log spells it.
pub fn intent_text(i: Intent) -> String {
    match i {
        Intent::Tomar(o) => format!("TOMAR {}", o.code()),
        Intent::Pausar(o) => format!("PAUSAR {}", o.code()),
        Intent::Completar(o) => format!("COMPLETAR {}", o.code()),
        Intent::Cancelar(o) => format!("CANCELAR {}", o.code()),
        Intent::Metrologia {
            resultado: ResultadoMetrologia::Aprobado,
            ..
        } => "METROLOGIA APROBADO".into(),
        Intent::Metrologia {
            resultado: ResultadoMetrologia::Rechazado,
            origen,
        } => match origen {
            Some(o) => format!("METROLOGIA RECHAZADO {}", o.code()),
            None => "METROLOGIA RECHAZADO".into(),
        },
        Intent::Override => "OVERRIDE".into(),
        Intent::ForzarLiberacion => "FORZAR_LIBERACION".into(),
    }
}
