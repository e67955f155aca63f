//! The independent checker: it trusts no engine state. From the final sheet, the audit log in
//! the order it was appended, and every device's database, it verifies ARCHITECTURE.md §7:
//! no lost command, none applied twice, never two occupants, every row obeys the domain rules,
//! every replica equals the sheet, and the Sheets write rate stayed within the quota.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use rusqlite::{Connection, OpenFlags};
use zeues_sync::domain::estado::project;
use zeues_sync::domain::sheet::{Grid, OperacionesLayout};
use zeues_sync::domain::{AuditEvent, ColumnMap, EventType, ResultadoMetrologia, Spool};
use zeues_sync::store::{spool_from_row, SPOOL_COLUMNS};

#[derive(Debug, Default, Clone)]
pub struct Report {
    pub commands: u64,
    pub applied: u64,
    pub conflicts: u64,
    pub held: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub double_occupied: u64,
    pub rule_violations: u64,
    pub diverged: u64,
    pub max_writes_per_min: u64,
    /// The first few violations, each explained.
    pub details: Vec<String>,
}

impl Report {
    pub fn ok(&self, write_quota: u64) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.double_occupied == 0
            && self.rule_violations == 0
            && self.diverged == 0
            && self.max_writes_per_min <= write_quota
    }

    pub fn summary(&self, runs: u32) -> String {
        format!(
            "runs={runs} commands={} applied={} conflicts={} held={} lost={} duplicated={} double_occupied={} rule_violations={} diverged={} max_writes_per_min={}",
            self.commands,
            self.applied,
            self.conflicts,
            self.held,
            self.lost,
            self.duplicated,
            self.double_occupied,
            self.rule_violations,
            self.diverged,
            self.max_writes_per_min
        )
    }

    fn note(&mut self, detail: String) {
        if self.details.len() < 40 {
            self.details.push(detail);
        }
    }
}

pub struct Inputs {
    /// Operaciones when the run started (initial occupants and blocked spools).
    pub initial: Grid,
    /// Metadata rows already there when the run started (history of the initial state).
    pub initial_audit_rows: usize,
    pub operaciones: Grid,
    pub metadata: Grid,
    pub devices: Vec<PathBuf>,
    pub max_writes_per_min: u64,
}

struct Command {
    id: String,
    tag: String,
    status: String,
    device: String,
}

fn commands(db: &PathBuf) -> Result<Vec<Command>, String> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("{}: {e}", db.display()))?;
    let mut stmt = conn
        .prepare("SELECT id, tag, status, device_id FROM outbox ORDER BY seq")
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Command {
                id: r.get(0)?,
                tag: r.get(1)?,
                status: r.get(2)?,
                device: r.get(3)?,
            })
        })
        .map_err(|e| e.to_string())?;
    rows.collect::<rusqlite::Result<_>>()
        .map_err(|e| e.to_string())
}

fn replica(db: &PathBuf) -> Result<Vec<Spool>, String> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("{}: {e}", db.display()))?;
    let mut stmt = conn
        .prepare(&format!("SELECT {SPOOL_COLUMNS} FROM spools"))
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([], |r| Ok(spool_from_row(r)))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?);
    }
    Ok(out)
}

/// The fields a replica must agree with the sheet on.
fn visible(s: &Spool) -> impl PartialEq + std::fmt::Debug {
    (
        (
            s.ocupado_por.clone(),
            s.operacion_ocupacion,
            s.armador.clone(),
            s.soldador.clone(),
            s.fecha_armado,
            s.fecha_soldadura,
            s.fecha_qc_metrologia,
        ),
        (
            s.resultado_metrologia,
            s.ciclo_reparacion,
            s.estado_reparacion,
            s.defecto_origen,
            s.version.clone(),
            s.estado_detalle.clone(),
        ),
    )
}

fn rules(s: &Spool) -> Vec<&'static str> {
    let mut bad = Vec::new();
    if s.ocupado_por.is_some() != s.operacion_ocupacion.is_some() {
        bad.push("ocupación sin operación (o al revés)");
    }
    if s.ciclo_reparacion > 3 {
        bad.push("ciclo > 3");
    }
    if (s.soldador.is_some() || s.fecha_soldadura.is_some()) && s.armador.is_none() {
        bad.push("SOLD sin ARM iniciado");
    }
    if s.resultado_metrologia.is_some() && (s.fecha_armado.is_none() || s.fecha_soldadura.is_none())
    {
        bad.push("metrología sin ARM y SOLD completados");
    }
    if s.fecha_qc_metrologia.is_some()
        && s.resultado_metrologia != Some(ResultadoMetrologia::Aprobado)
    {
        bad.push("Fecha_QC_Metrología sin APROBADO");
    }
    if s.estado_detalle != project(s) {
        bad.push("Estado_Detalle no es la proyección del estado");
    }
    bad
}

fn closes(e: EventType) -> bool {
    matches!(
        e,
        EventType::PausarSpool
            | EventType::CompletarArm
            | EventType::CompletarSold
            | EventType::CancelarArm
            | EventType::CancelarSold
            | EventType::PausarReparacion
            | EventType::CompletarReparacion
            | EventType::CancelarReparacion
    )
}

pub fn check(inp: &Inputs) -> Result<Report, String> {
    let mut r = Report {
        max_writes_per_min: inp.max_writes_per_min,
        ..Report::default()
    };
    let layout =
        OperacionesLayout::from_headers(&inp.operaciones.headers).map_err(|e| e.to_string())?;
    let sheet = layout.decode_all(&inp.operaciones.rows);
    for p in &sheet.problems {
        r.rule_violations += 1;
        r.note(format!("fila ilegible en la hoja final: {p}"));
    }
    let by_tag: HashMap<&str, &Spool> = sheet.spools.iter().map(|s| (s.tag.as_str(), s)).collect();
    for s in &sheet.spools {
        for why in rules(s) {
            r.rule_violations += 1;
            r.note(format!("{}: {why}", s.tag));
        }
    }

    // The audit log, in append order.
    let meta_map = ColumnMap::from_headers(&inp.metadata.headers);
    let mut events = Vec::new();
    // Events already in the log describe the initial state; replay starts after them.
    let mut replay_from = 0;
    for (i, row) in inp.metadata.rows.iter().enumerate() {
        match AuditEvent::from_row(&meta_map, row) {
            Ok(Some(e)) => events.push(e),
            Ok(None) => {}
            Err(e) => {
                r.rule_violations += 1;
                r.note(format!("Metadata fila {}: {e}", i + 2));
            }
        }
        if i + 1 == inp.initial_audit_rows {
            replay_from = events.len();
        }
    }
    let mut applied_rows: HashMap<&str, u32> = HashMap::new();
    let mut conflict_rows: HashMap<String, u32> = HashMap::new();
    for e in &events {
        if e.event_type == EventType::Conflicto {
            let cmd = e
                .metadata
                .get("command_id")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            *conflict_rows.entry(cmd.to_string()).or_default() += 1;
        } else {
            *applied_rows.entry(e.id.as_str()).or_default() += 1;
        }
    }
    for (id, n) in &applied_rows {
        if *n > 1 {
            r.duplicated += u64::from(n - 1);
            r.note(format!("ID {id} aparece {n} veces en Metadata"));
        }
    }
    for (id, n) in &conflict_rows {
        if *n > 1 {
            r.duplicated += u64::from(n - 1);
            r.note(format!("CONFLICTO de {id} registrado {n} veces"));
        }
    }

    // Every command any device acknowledged.
    for db in &inp.devices {
        for c in commands(db)? {
            r.commands += 1;
            let landed = applied_rows.get(c.id.as_str()).copied().unwrap_or(0);
            let refused = conflict_rows.get(&c.id).copied().unwrap_or(0);
            match c.status.as_str() {
                "applied" => {
                    r.applied += 1;
                    if landed == 0 {
                        r.lost += 1;
                        r.note(format!(
                            "{} ({}, {}): aplicado en el equipo pero sin fila en Metadata",
                            c.id, c.tag, c.device
                        ));
                    }
                }
                "conflict" => {
                    r.conflicts += 1;
                    if refused == 0 {
                        r.lost += 1;
                        r.note(format!(
                            "{} ({}): conflicto sin fila CONFLICTO",
                            c.id, c.tag
                        ));
                    }
                    if landed > 0 {
                        r.duplicated += 1;
                        r.note(format!(
                            "{} ({}): rechazado en el equipo pero aplicado en la hoja",
                            c.id, c.tag
                        ));
                    }
                }
                "held" => {
                    r.held += 1;
                    if landed > 0 {
                        r.duplicated += 1;
                        r.note(format!(
                            "{} ({}): retenido pero aplicado en la hoja",
                            c.id, c.tag
                        ));
                    }
                }
                _ => {
                    r.lost += 1;
                    r.note(format!(
                        "{} ({}, {}): sigue pendiente al final",
                        c.id, c.tag, c.device
                    ));
                }
            }
        }
    }

    // Replay occupations and blocks from the starting sheet, in the order the plant applied.
    let initial = OperacionesLayout::from_headers(&inp.initial.headers)
        .map_err(|e| e.to_string())?
        .decode_all(&inp.initial.rows);
    let mut occupant: BTreeMap<String, Option<String>> = initial
        .spools
        .iter()
        .map(|s| (s.tag.clone(), s.ocupado_por.clone()))
        .collect();
    let mut blocked: HashMap<String, bool> = initial
        .spools
        .iter()
        .map(|s| (s.tag.clone(), s.is_blocked()))
        .collect();
    for e in &events[replay_from..] {
        let occ = occupant.entry(e.tag.clone()).or_default();
        let blk = blocked.entry(e.tag.clone()).or_default();
        match e.event_type {
            EventType::TomarSpool | EventType::TomarReparacion => {
                if let Some(prev) = occ.as_ref() {
                    r.double_occupied += 1;
                    r.note(format!(
                        "{}: {} tomó el spool ocupado por {prev} ({})",
                        e.tag, e.worker_nombre, e.id
                    ));
                }
                if e.event_type == EventType::TomarReparacion && *blk {
                    r.rule_violations += 1;
                    r.note(format!("{}: reparación tomada estando BLOQUEADO", e.tag));
                }
                *occ = Some(e.worker_nombre.clone());
            }
            t if closes(t) => {
                if occ.as_deref() != Some(e.worker_nombre.as_str()) {
                    r.rule_violations += 1;
                    r.note(format!(
                        "{}: {} cerró una ocupación de {:?} ({})",
                        e.tag, e.worker_nombre, occ, e.id
                    ));
                }
                *occ = None;
            }
            EventType::ForzarLiberacion => *occ = None,
            EventType::CompletarMetrologia => {
                if occ.is_some() {
                    r.rule_violations += 1;
                    r.note(format!("{}: metrología con el spool ocupado", e.tag));
                }
                let rechazado =
                    e.metadata.get("resultado").and_then(|v| v.as_str()) == Some("RECHAZADO");
                let ciclo = e
                    .metadata
                    .get("ciclo")
                    .and_then(|v| v.as_u64())
                    .unwrap_or(0);
                if *blk {
                    r.rule_violations += 1;
                    r.note(format!("{}: inspeccionado estando BLOQUEADO", e.tag));
                }
                *blk = rechazado && ciclo >= 3;
            }
            EventType::SupervisorOverride => *blk = false,
            _ => {}
        }
    }
    for (tag, occ) in &occupant {
        if let Some(s) = by_tag.get(tag.as_str()) {
            if &s.ocupado_por != occ {
                r.rule_violations += 1;
                r.note(format!(
                    "{tag}: el log dice ocupante {occ:?}, la hoja {:?}",
                    s.ocupado_por
                ));
            }
        }
    }

    // Convergence: every replica equals the sheet.
    for db in &inp.devices {
        let rep = replica(db)?;
        if rep.len() != sheet.spools.len() {
            r.diverged += 1;
            r.note(format!(
                "{}: réplica con {} spools, la hoja {}",
                db.display(),
                rep.len(),
                sheet.spools.len()
            ));
        }
        for s in &rep {
            match by_tag.get(s.tag.as_str()) {
                Some(p) if visible(p) == visible(s) => {}
                Some(p) => {
                    r.diverged += 1;
                    r.note(format!(
                        "{} en {}: réplica {:?} ≠ hoja {:?}",
                        s.tag,
                        db.display(),
                        visible(s),
                        visible(p)
                    ));
                }
                None => {
                    r.diverged += 1;
                    r.note(format!("{} en {}: no está en la hoja", s.tag, db.display()));
                }
            }
        }
    }
    Ok(r)
}
