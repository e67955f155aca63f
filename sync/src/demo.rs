//! The demo plant seeded on first start in standalone mode: ~2,500 spools spread over every
//! state, 30 workers with Chilean names and realistic role mixes (one Supervisor), and the audit
//! rows that explain the current state (so every spool has a history). Deterministic per seed.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::domain::audit::METADATA_HEADERS;
use crate::domain::estado::project;
use crate::domain::sheet::{cell_of, Col, Grid, METADATA, OPERACIONES, ROLES, TRABAJADORES};
use crate::domain::time::santiago;
use crate::domain::{
    AuditEvent, CellValue, DefectoOrigen, EstadoReparacion, EventType, OpOcupacion, RawCell,
    ResultadoMetrologia, Rol, Spool, Worker,
};
use crate::ports::{LocalWorkbook, WorkbookError};

pub const DEMO_SPOOLS: usize = 2_500;

const NAMES: [(&str, &str, &[Rol]); 30] = [
    ("Mauricio", "Rodriguez", &[Rol::Armador]),
    ("Juan Carlos", "Pérez López", &[Rol::Armador, Rol::Soldador]),
    ("María José", "García", &[Rol::Metrologia]),
    ("Patricio", "Muñoz", &[Rol::Soldador]),
    ("Camila", "Soto", &[Rol::Armador]),
    ("Felipe", "Contreras", &[Rol::Soldador]),
    ("Javiera", "Silva", &[Rol::Ayudante]),
    ("Cristián", "Martínez", &[Rol::Armador]),
    ("Francisca", "Sepúlveda", &[Rol::Metrologia]),
    ("Rodrigo", "Morales", &[Rol::Soldador]),
    ("Constanza", "Rojas", &[Rol::Armador, Rol::Ayudante]),
    ("Sebastián", "Díaz", &[Rol::Soldador]),
    ("Valentina", "Torres", &[Rol::Revestimiento]),
    ("Gonzalo", "Araya", &[Rol::Armador]),
    ("Daniela", "Flores", &[Rol::Pintura]),
    ("Matías", "Espinoza", &[Rol::Soldador, Rol::Ayudante]),
    ("Carolina", "Valenzuela", &[Rol::Metrologia]),
    ("Ignacio", "Castillo", &[Rol::Armador]),
    ("Catalina", "Tapia", &[Rol::Despacho]),
    ("Nicolás", "Reyes", &[Rol::Soldador]),
    ("Fernanda", "Gutiérrez", &[Rol::Ayudante]),
    ("Diego", "Castro", &[Rol::Armador, Rol::Soldador]),
    ("Paula", "Pizarro", &[Rol::Revestimiento, Rol::Pintura]),
    ("Tomás", "Álvarez", &[Rol::Soldador]),
    ("Antonia", "Vásquez", &[Rol::Armador]),
    ("Benjamín", "Fuentes", &[Rol::Ayudante]),
    ("Josefa", "Cortés", &[Rol::Soldador]),
    ("Héctor", "Carrasco", &[Rol::Supervisor, Rol::Metrologia]),
    ("Luis", "Núñez", &[Rol::Armador]),
    ("Isidora", "Vergara", &[Rol::Despacho]),
];

/// The demo's supervisor PIN (documented in the README; plant installs set their own).
pub const DEMO_SUPERVISOR_PIN: &str = "1234";

pub fn workers() -> Vec<Worker> {
    NAMES
        .iter()
        .enumerate()
        .map(|(i, (n, a, roles))| Worker {
            id: 93 + i as u32,
            nombre: n.to_string(),
            apellido: a.to_string(),
            // One inactive worker: the lists must hide them.
            activo: i != 29,
            roles: roles.to_vec(),
        })
        .collect()
}

#[derive(Clone, Copy)]
enum Stage {
    SinMateriales,
    ArmPendiente,
    ArmEnProgreso,
    ArmPausado,
    ArmCompletado,
    SoldEnProgreso,
    SoldPausado,
    SoldCompletado,
    Aprobado,
    Rechazado(u8),
    EnReparacion(u8),
    ReparacionPausada(u8),
    ReparacionCompletada(u8),
    Bloqueado,
}

fn stage_for(i: usize, r: f64) -> Stage {
    if i == 7 {
        return Stage::Bloqueado;
    }
    // About 2 % of the plant is occupied at a time (≈ 50 spools for 30 workers), as on a
    // normal shift; the rest waits at each stage.
    match r {
        x if x < 0.08 => Stage::SinMateriales,
        x if x < 0.30 => Stage::ArmPendiente,
        x if x < 0.308 => Stage::ArmEnProgreso,
        x if x < 0.37 => Stage::ArmPausado,
        x if x < 0.47 => Stage::ArmCompletado,
        x if x < 0.478 => Stage::SoldEnProgreso,
        x if x < 0.53 => Stage::SoldPausado,
        x if x < 0.70 => Stage::SoldCompletado,
        x if x < 0.88 => Stage::Aprobado,
        x if x < 0.92 => Stage::Rechazado(1),
        x if x < 0.94 => Stage::Rechazado(2),
        x if x < 0.944 => Stage::EnReparacion(1),
        x if x < 0.97 => Stage::ReparacionPausada(2),
        x if x < 0.985 => Stage::ReparacionCompletada(1),
        _ => Stage::ReparacionCompletada(2),
    }
}

struct Builder<'a> {
    rng: ChaCha8Rng,
    workers: &'a [Worker],
    events: Vec<AuditEvent>,
    now: NaiveDateTime,
    next_id: u64,
}

impl Builder<'_> {
    fn pick(&mut self, roles: &[Rol]) -> Worker {
        let candidates: Vec<&Worker> = self
            .workers
            .iter()
            .filter(|w| w.activo && roles.iter().any(|r| w.has(*r)))
            .collect();
        candidates
            .choose(&mut self.rng)
            .map(|w| (*w).clone())
            .unwrap_or_else(|| self.workers[0].clone())
    }

    fn id(&mut self) -> String {
        self.next_id += 1;
        let mut bytes = [0u8; 16];
        self.rng.fill(&mut bytes);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    fn event(
        &mut self,
        s: &Spool,
        (t, op): (EventType, &str),
        w: &Worker,
        at: NaiveDateTime,
        meta: serde_json::Value,
    ) {
        let accion = match t {
            EventType::TomarSpool | EventType::TomarReparacion => "TOMAR",
            EventType::PausarSpool | EventType::PausarReparacion => "PAUSAR",
            _ => "COMPLETAR",
        };
        let id = self.id();
        self.events.push(AuditEvent {
            id,
            timestamp: at,
            event_type: t,
            tag: s.tag.clone(),
            worker_id: w.id,
            worker_nombre: w.token(),
            operacion: op.into(),
            accion: accion.into(),
            fecha_operacion: at.date(),
            metadata: meta,
        });
    }

    fn hours_ago(&mut self, lo: i64, hi: i64) -> NaiveDateTime {
        let mins = self.rng.gen_range(lo * 60..hi * 60);
        self.now - Duration::minutes(mins)
    }

    /// One finished session of `op` by `w` ending at `end`.
    fn session(&mut self, s: &Spool, w: &Worker, op: &str, end: NaiveDateTime, closing: EventType) {
        let start = end - Duration::minutes(self.rng.gen_range(40..300));
        self.event(
            s,
            (EventType::TomarSpool, op),
            w,
            start,
            serde_json::json!({}),
        );
        self.event(s, (closing, op), w, end, serde_json::json!({}));
    }

    fn spool(&mut self, i: usize) -> Spool {
        let nv = 1300 + (i / 60) as u32;
        let mut s = Spool {
            tag: format!("MK-{nv}-CW-{}-{:03}", 25_000 + i * 7 % 900, i % 1000),
            row: i as u32 + 2,
            nv: nv.to_string(),
            version: "0".into(),
            ..Spool::default()
        };
        let r: f64 = self.rng.gen();
        let stage = stage_for(i, r);
        if matches!(stage, Stage::SinMateriales) {
            return s;
        }
        s.fecha_materiales = Some(self.hours_ago(24 * 20, 24 * 60).date());
        if matches!(stage, Stage::ArmPendiente) {
            return s;
        }
        let armador = self.pick(&[Rol::Armador, Rol::Ayudante]);
        s.armador = Some(armador.token());
        match stage {
            Stage::ArmEnProgreso => {
                let at = self.hours_ago(0, 10);
                self.event(
                    &s,
                    (EventType::TomarSpool, "ARM"),
                    &armador,
                    at,
                    serde_json::json!({"inicia_operacion": true}),
                );
                s.ocupado_por = Some(armador.token());
                s.fecha_ocupacion = Some(at);
                s.operacion_ocupacion = Some(OpOcupacion::Arm);
                return s;
            }
            Stage::ArmPausado => {
                let end = self.hours_ago(2, 72);
                self.session(&s, &armador, "ARM", end, EventType::PausarSpool);
                return s;
            }
            _ => {}
        }
        let arm_done = self.hours_ago(24 * 6, 24 * 14);
        self.session(&s, &armador, "ARM", arm_done, EventType::CompletarArm);
        s.fecha_armado = Some(arm_done.date());
        if matches!(stage, Stage::ArmCompletado) {
            return s;
        }
        let soldador = self.pick(&[Rol::Soldador, Rol::Ayudante]);
        s.soldador = Some(soldador.token());
        match stage {
            Stage::SoldEnProgreso => {
                let at = self.hours_ago(0, 10);
                self.event(
                    &s,
                    (EventType::TomarSpool, "SOLD"),
                    &soldador,
                    at,
                    serde_json::json!({"inicia_operacion": true}),
                );
                s.ocupado_por = Some(soldador.token());
                s.fecha_ocupacion = Some(at);
                s.operacion_ocupacion = Some(OpOcupacion::Sold);
                return s;
            }
            Stage::SoldPausado => {
                let end = self.hours_ago(2, 48);
                self.session(&s, &soldador, "SOLD", end, EventType::PausarSpool);
                return s;
            }
            _ => {}
        }
        let sold_done = self.hours_ago(24 * 2, 24 * 5);
        self.session(&s, &soldador, "SOLD", sold_done, EventType::CompletarSold);
        s.fecha_soldadura = Some(sold_done.date());
        if matches!(stage, Stage::SoldCompletado) {
            return s;
        }
        let metro = self.pick(&[Rol::Metrologia]);
        let (cycles, tail) = match stage {
            Stage::Aprobado => (0, None),
            Stage::Rechazado(c) => (c, Some(EstadoReparacion::Pendiente)),
            Stage::EnReparacion(c) => (c, Some(EstadoReparacion::EnReparacion)),
            Stage::ReparacionPausada(c) => (c, Some(EstadoReparacion::Pausada)),
            Stage::ReparacionCompletada(c) => (c, Some(EstadoReparacion::Completada)),
            _ => (3, Some(EstadoReparacion::Bloqueado)),
        };
        let mut at = sold_done;
        let origen = if self.rng.gen_bool(0.6) {
            DefectoOrigen::Sold
        } else {
            DefectoOrigen::Arm
        };
        let reparador = if origen == DefectoOrigen::Sold {
            self.pick(&[Rol::Soldador])
        } else {
            self.pick(&[Rol::Armador])
        };
        for c in 1..=cycles {
            at += Duration::minutes(self.rng.gen_range(60..600));
            self.event(
                &s,
                (EventType::CompletarMetrologia, "METROLOGIA"),
                &metro,
                at,
                serde_json::json!({"resultado": "RECHAZADO", "origen": origen.code(), "ciclo": c}),
            );
            let last = c == cycles;
            if last && tail != Some(EstadoReparacion::Completada) {
                break;
            }
            at += Duration::minutes(self.rng.gen_range(30..240));
            self.event(
                &s,
                (EventType::TomarReparacion, "REPARACION"),
                &reparador,
                at,
                serde_json::json!({"ciclo": c}),
            );
            at += Duration::minutes(self.rng.gen_range(30..240));
            self.event(
                &s,
                (EventType::CompletarReparacion, "REPARACION"),
                &reparador,
                at,
                serde_json::json!({"ciclo": c}),
            );
        }
        if cycles == 0 {
            at += Duration::minutes(self.rng.gen_range(60..600));
            self.event(
                &s,
                (EventType::CompletarMetrologia, "METROLOGIA"),
                &metro,
                at,
                serde_json::json!({"resultado": "APROBADO"}),
            );
            s.resultado_metrologia = Some(ResultadoMetrologia::Aprobado);
            s.fecha_qc_metrologia = Some(at.date());
            return s;
        }
        s.resultado_metrologia = Some(ResultadoMetrologia::Rechazado);
        s.ciclo_reparacion = cycles;
        s.defecto_origen = Some(origen);
        s.estado_reparacion = tail;
        match tail {
            Some(EstadoReparacion::EnReparacion) => {
                let t = self.hours_ago(0, 8);
                self.event(
                    &s,
                    (EventType::TomarReparacion, "REPARACION"),
                    &reparador,
                    t,
                    serde_json::json!({"ciclo": cycles}),
                );
                s.ocupado_por = Some(reparador.token());
                s.fecha_ocupacion = Some(t);
                s.operacion_ocupacion = Some(OpOcupacion::Reparacion);
            }
            Some(EstadoReparacion::Pausada) => {
                let t = self.hours_ago(10, 30);
                self.event(
                    &s,
                    (EventType::TomarReparacion, "REPARACION"),
                    &reparador,
                    t,
                    serde_json::json!({"ciclo": cycles}),
                );
                let e = t + Duration::minutes(90);
                self.event(
                    &s,
                    (EventType::PausarReparacion, "REPARACION"),
                    &reparador,
                    e,
                    serde_json::json!({"ciclo": cycles}),
                );
            }
            _ => {}
        }
        s
    }
}

/// Engineering's own columns around the app's, as in the plant's real sheet.
const ENGINEERING: [&str; 8] = [
    "id", "OT", "SPLIT", "Cliente", "DIAM", "Peso_Kg", "FLAG", "MatSys",
];

/// The four tabs of the demo plant.
pub fn build(now: DateTime<Utc>, seed: u64, spools: usize) -> (Grid, Grid, Grid, Grid) {
    let workers = workers();
    let mut b = Builder {
        rng: ChaCha8Rng::seed_from_u64(seed),
        workers: &workers,
        events: Vec::new(),
        now: santiago(now),
        next_id: 0,
    };
    let mut headers: Vec<String> = ENGINEERING[..3].iter().map(|s| s.to_string()).collect();
    headers.push(Col::TagSpool.header().into());
    headers.push(Col::Nv.header().into());
    headers.extend(ENGINEERING[3..].iter().map(|s| s.to_string()));
    let app_cols: Vec<Col> = Col::ALL
        .into_iter()
        .filter(|c| !matches!(c, Col::TagSpool | Col::Nv))
        .collect();
    headers.extend(app_cols.iter().map(|c| c.header().to_string()));
    let mut rows = Vec::with_capacity(spools);
    for i in 0..spools {
        let mut s = b.spool(i);
        s.estado_detalle = project(&s);
        let mut row: Vec<RawCell> = vec![
            RawCell::Number(i as f64 + 1.0),
            RawCell::Text(format!("OT-{}", 500 + i / 25)),
            RawCell::Text(((i % 4) + 1).to_string()),
            cell_of(&s, Col::TagSpool).to_raw(),
            cell_of(&s, Col::Nv).to_raw(),
            RawCell::Text("Minera Kronos".into()),
            RawCell::Number(f64::from([2u8, 4, 6, 8, 10, 12][i % 6])),
            RawCell::Number(((i * 37) % 400) as f64 / 4.0 + 5.0),
            RawCell::Empty,
            RawCell::Text("-".into()),
        ];
        row.extend(app_cols.iter().map(|c| cell_of(&s, *c).to_raw()));
        while matches!(row.last(), Some(RawCell::Empty)) {
            row.pop();
        }
        rows.push(row);
    }
    let operaciones = Grid { headers, rows };
    let trabajadores = Grid {
        headers: vec![
            "Id".into(),
            "Nombre".into(),
            "Apellido".into(),
            "Activo".into(),
        ],
        rows: workers
            .iter()
            .map(|w| {
                vec![
                    RawCell::Number(f64::from(w.id)),
                    RawCell::Text(w.nombre.clone()),
                    RawCell::Text(w.apellido.clone()),
                    RawCell::Bool(w.activo),
                ]
            })
            .collect(),
    };
    let roles = Grid {
        headers: vec!["Id".into(), "Rol".into(), "Activo".into()],
        rows: workers
            .iter()
            .flat_map(|w| {
                w.roles.iter().map(move |r| {
                    vec![
                        RawCell::Number(f64::from(w.id)),
                        RawCell::Text(r.as_str().into()),
                        RawCell::Bool(true),
                    ]
                })
            })
            .collect(),
    };
    let meta_headers: Vec<String> = METADATA_HEADERS.iter().map(|s| s.to_string()).collect();
    let meta_map = crate::domain::ColumnMap::from_headers(&meta_headers);
    let mut events = std::mem::take(&mut b.events);
    events.sort_by_key(|e| e.timestamp);
    let metadata = Grid {
        headers: meta_headers,
        rows: events
            .iter()
            .map(|e| e.to_row(&meta_map).iter().map(CellValue::to_raw).collect())
            .collect(),
    };
    (operaciones, trabajadores, roles, metadata)
}

/// Writes the demo plant into an (empty) local workbook.
pub fn seed(
    wb: &LocalWorkbook,
    now: DateTime<Utc>,
    seed: u64,
    spools: usize,
) -> Result<(), WorkbookError> {
    let (ops, trab, roles, meta) = build(now, seed, spools);
    wb.replace_tab(OPERACIONES, &ops)?;
    wb.replace_tab(TRABAJADORES, &trab)?;
    wb.replace_tab(ROLES, &roles)?;
    wb.replace_tab(METADATA, &meta)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::sheet::{decode_workers, OperacionesLayout};
    use chrono::TimeZone;

    #[test]
    fn demo_plant_covers_every_state_and_reads_back() {
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
        let (ops, trab, roles, meta) = build(now, 7, DEMO_SPOOLS);
        let layout = OperacionesLayout::from_headers(&ops.headers).unwrap();
        let read = layout.decode_all(&ops.rows);
        assert!(read.problems.is_empty(), "{:?}", read.problems);
        assert_eq!(read.spools.len(), DEMO_SPOOLS);
        let s = &read.spools;
        assert!(s.iter().any(|x| x.fecha_materiales.is_none()));
        assert!(s
            .iter()
            .any(|x| x.operacion_ocupacion == Some(OpOcupacion::Arm)));
        assert!(s
            .iter()
            .any(|x| x.operacion_ocupacion == Some(OpOcupacion::Sold)));
        assert!(s
            .iter()
            .any(|x| x.operacion_ocupacion == Some(OpOcupacion::Reparacion)));
        assert!(s.iter().any(|x| x.awaiting_inspection()));
        assert_eq!(s.iter().filter(|x| x.is_blocked()).count(), 1);
        for c in 1..=3u8 {
            assert!(s.iter().any(|x| x.ciclo_reparacion == c), "cycle {c}");
        }
        assert!(s.iter().all(|x| x.estado_detalle == project(x)));
        let (ws, problems) = decode_workers(&trab, &roles).unwrap();
        assert!(problems.is_empty());
        assert_eq!(ws.len(), 30);
        assert_eq!(ws.iter().filter(|w| w.has(Rol::Supervisor)).count(), 1);
        assert_eq!(ws[0].token(), "MR(93)");
        assert!(meta.rows.len() > DEMO_SPOOLS);
        // Deterministic per seed.
        assert_eq!(build(now, 7, 50).0, build(now, 7, 50).0);
    }
}
