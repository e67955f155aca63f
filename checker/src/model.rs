//! The reference model: a spool's state as DOMAIN.md §3 defines it, the transition table
//! re-derived from that page, and the `Estado_Detalle` projection built from its literals.
//! Written from DOMAIN.md alone; it must never import or mirror the product's code.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::Value;

use crate::dates::{date_of, datetime_of};
use crate::workbook::{fold, Cell, RowMap, Table};

pub(crate) const ARM: &str = "ARM";
pub(crate) const SOLD: &str = "SOLD";
pub(crate) const REPARACION: &str = "REPARACION";
pub(crate) const APROBADO: &str = "APROBADO";
pub(crate) const RECHAZADO: &str = "RECHAZADO";
pub(crate) const PENDIENTE: &str = "PENDIENTE";
pub(crate) const EN_REPARACION: &str = "EN_REPARACION";
pub(crate) const PAUSADA: &str = "PAUSADA";
pub(crate) const COMPLETADA: &str = "COMPLETADA";
pub(crate) const BLOQUEADO: &str = "BLOQUEADO";

/// The Operaciones columns the checker reads (DOMAIN.md §1).
pub(crate) mod col {
    pub const TAG: &str = "TAG_SPOOL";
    pub const FECHA_MATERIALES: &str = "Fecha_Materiales";
    pub const ARMADOR: &str = "Armador";
    pub const FECHA_ARMADO: &str = "Fecha_Armado";
    pub const SOLDADOR: &str = "Soldador";
    pub const FECHA_SOLDADURA: &str = "Fecha_Soldadura";
    pub const FECHA_QC: &str = "Fecha_QC_Metrología";
    pub const OCUPADO_POR: &str = "Ocupado_Por";
    pub const FECHA_OCUPACION: &str = "Fecha_Ocupacion";
    pub const VERSION: &str = "version";
    pub const ESTADO_DETALLE: &str = "Estado_Detalle";
    pub const OPERACION_OCUPACION: &str = "Operacion_Ocupacion";
    pub const RESULTADO: &str = "Resultado_Metrologia";
    pub const CICLO: &str = "Ciclo_Reparacion";
    pub const ESTADO_REPARACION: &str = "Estado_Reparacion";
    pub const DEFECTO_ORIGEN: &str = "Defecto_Origen";
}

/// What a spool row says (also the model's state). Codes are upper case without accents.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Spool {
    pub tag: String,
    pub materiales: bool,
    pub armador: Option<String>,
    pub fecha_armado: Option<NaiveDate>,
    pub soldador: Option<String>,
    pub fecha_soldadura: Option<NaiveDate>,
    pub fecha_qc: Option<NaiveDate>,
    pub ocupado_por: Option<String>,
    pub fecha_ocupacion: Option<NaiveDateTime>,
    pub operacion: Option<String>,
    pub resultado: Option<String>,
    pub ciclo: u32,
    pub estado_rep: Option<String>,
    pub defecto: Option<String>,
    pub version: String,
    pub estado_detalle: String,
}

/// A row to decode: a tab row read through its header, or a header-name map.
pub(crate) trait Source {
    fn has(&self, name: &str) -> bool;
    fn cell(&self, name: &str) -> Cell;
}

impl Source for (&Table<'_>, &[Value]) {
    fn has(&self, name: &str) -> bool {
        self.0.has(name)
    }
    fn cell(&self, name: &str) -> Cell {
        self.0.cell(self.1, name)
    }
}

impl Source for RowMap {
    fn has(&self, name: &str) -> bool {
        RowMap::has(self, name)
    }
    fn cell(&self, name: &str) -> Cell {
        RowMap::cell(self, name)
    }
}

/// Upper case, accents stripped, trimmed; `None` when empty.
pub(crate) fn code(text: &str) -> Option<String> {
    Some(fold(text.trim()).to_uppercase()).filter(|s| !s.is_empty())
}

/// Decodes a spool row; `problems` names every cell that is not what its column holds.
pub(crate) fn decode_spool(src: &impl Source, problems: &mut Vec<String>) -> Spool {
    let tag = src.cell(col::TAG).text();
    let mut date = |name: &str| match date_of(&src.cell(name)) {
        Ok(d) => d,
        Err(e) => {
            problems.push(format!("{tag}: {name}: {e}"));
            None
        }
    };
    let fecha_armado = date(col::FECHA_ARMADO);
    let fecha_soldadura = date(col::FECHA_SOLDADURA);
    let fecha_qc = date(col::FECHA_QC);
    let materiales = match date_of(&src.cell(col::FECHA_MATERIALES)) {
        Ok(d) => d.is_some(),
        // Set but unreadable is still "set" for the TOMAR guard; the cell is Engineering's.
        Err(_) => true,
    };
    let fecha_ocupacion = match datetime_of(&src.cell(col::FECHA_OCUPACION)) {
        Ok(d) => d,
        Err(e) => {
            problems.push(format!("{tag}: {}: {e}", col::FECHA_OCUPACION));
            None
        }
    };
    let estado_detalle = src.cell(col::ESTADO_DETALLE).text();
    let legacy = Legacy::parse(&estado_detalle);
    let ciclo = if src.has(col::CICLO) {
        match src.cell(col::CICLO) {
            Cell::Empty => 0,
            Cell::Number(n) if n >= 0.0 && n.fract() == 0.0 => n as u32,
            Cell::Text(t) if t.trim().parse::<u32>().is_ok() => t.trim().parse().unwrap_or(0),
            other => {
                problems.push(format!("{tag}: {}: {:?} is not a cycle", col::CICLO, other));
                0
            }
        }
    } else {
        legacy.ciclo
    };
    // A v3.0 sheet without the app-owned columns is imported from Estado_Detalle (§1).
    let coded = |name: &str, fallback: Option<&str>| {
        if src.has(name) {
            code(&src.cell(name).text())
        } else {
            fallback.map(str::to_string)
        }
    };
    Spool {
        materiales,
        armador: src.cell(col::ARMADOR).opt_text(),
        fecha_armado,
        soldador: src.cell(col::SOLDADOR).opt_text(),
        fecha_soldadura,
        fecha_qc,
        ocupado_por: src.cell(col::OCUPADO_POR).opt_text(),
        fecha_ocupacion,
        operacion: coded(col::OPERACION_OCUPACION, legacy.operacion.as_deref()),
        resultado: coded(col::RESULTADO, legacy.resultado),
        ciclo,
        estado_rep: coded(col::ESTADO_REPARACION, legacy.estado),
        defecto: coded(col::DEFECTO_ORIGEN, None),
        version: src.cell(col::VERSION).text(),
        estado_detalle,
        tag,
    }
}

/// What a v3.0 `Estado_Detalle` says (DOMAIN.md §1's import markers).
struct Legacy {
    operacion: Option<String>,
    resultado: Option<&'static str>,
    ciclo: u32,
    estado: Option<&'static str>,
}

impl Legacy {
    fn parse(d: &str) -> Legacy {
        let operacion = d
            .split_once(" trabajando ")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .and_then(code);
        let mut ciclo = d
            .split_once("Ciclo ")
            .and_then(|(_, rest)| rest.split('/').next())
            .and_then(|n| n.trim().parse::<u32>().ok())
            .unwrap_or(0);
        let estado = if d.contains("BLOQUEADO") {
            ciclo = 3;
            Some(BLOQUEADO)
        } else if d.contains("EN_REPARACION") {
            Some(EN_REPARACION)
        } else if d.contains("REPARACION_PAUSADA") {
            Some(PAUSADA)
        } else if d.contains("PENDIENTE_METROLOGIA") {
            Some(COMPLETADA)
        } else if d.contains("RECHAZADO") {
            Some(PENDIENTE)
        } else {
            None
        };
        let resultado = if estado.is_some() {
            Some(RECHAZADO)
        } else if d.contains("METROLOGIA APROBADO") || d.contains("METROLOGIA_APROBADO") {
            Some(APROBADO)
        } else {
            None
        };
        Legacy {
            operacion,
            resultado,
            ciclo,
            estado,
        }
    }
}

/// The id of an `MR(93)`-style token (the trailing `(\d+)`).
pub(crate) fn token_id(token: &str) -> Option<u32> {
    let t = token.trim().strip_suffix(')')?;
    let open = t.rfind('(')?;
    let digits = &t[open + 1..];
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// How many `(\d+)` groups a cell carries (more than one is two occupants in one cell).
pub(crate) fn token_count(text: &str) -> usize {
    text.split('(')
        .skip(1)
        .filter(|part| {
            part.split_once(')')
                .is_some_and(|(d, _)| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
        })
        .count()
}

/// Two tokens name the same worker: same id, same initials ignoring accents and case
/// (DOMAIN.md does not say whether an accented initial keeps its accent).
pub(crate) fn same_token(a: &str, b: &str) -> bool {
    match (token_id(a), token_id(b)) {
        (Some(x), Some(y)) => x == y && initials(a) == initials(b),
        _ => fold(a.trim()) == fold(b.trim()),
    }
}

fn initials(token: &str) -> String {
    let t = token.trim();
    fold(t.rfind('(').map_or(t, |i| &t[..i]).trim())
}

/// Workers and roles of one workbook (DOMAIN.md §2).
#[derive(Debug, Default)]
pub(crate) struct Roster {
    tokens: HashMap<u32, String>,
    /// Active workers with their active roles (folded names), only if at least one.
    roles: HashMap<u32, HashSet<String>>,
}

fn truthy(c: &Cell) -> bool {
    match c {
        Cell::Bool(b) => *b,
        Cell::Text(t) => matches!(fold(t.trim()).as_str(), "true" | "verdadero"),
        _ => false,
    }
}

fn worker_id(c: &Cell) -> Option<u32> {
    match c {
        Cell::Number(n) if *n >= 0.0 && n.fract() == 0.0 => Some(*n as u32),
        Cell::Text(t) => t.trim().parse().ok(),
        _ => None,
    }
}

impl Roster {
    pub(crate) fn read(book: &crate::Workbook) -> Roster {
        let mut r = Roster::default();
        let mut active: HashSet<u32> = HashSet::new();
        if let Some(rows) = book.tab("Trabajadores") {
            let t = Table::new(rows);
            for (_, row) in &t.rows {
                let Some(id) = worker_id(&t.cell(row, "Id")).filter(|id| *id > 0) else {
                    continue;
                };
                let first = |name: &str| {
                    t.cell(row, name)
                        .text()
                        .split_whitespace()
                        .next()
                        .and_then(|w| w.chars().next())
                        .map(|c| c.to_uppercase().collect::<String>())
                        .unwrap_or_default()
                };
                r.tokens.insert(
                    id,
                    format!("{}{}({id})", first("Nombre"), first("Apellido")),
                );
                if truthy(&t.cell(row, "Activo")) {
                    active.insert(id);
                }
            }
        }
        if let Some(rows) = book.tab("Roles") {
            let t = Table::new(rows);
            for (_, row) in &t.rows {
                let Some(id) = worker_id(&t.cell(row, "Id")) else {
                    continue;
                };
                if active.contains(&id) && truthy(&t.cell(row, "Activo")) {
                    let rol = fold(&t.cell(row, "Rol").text());
                    if !rol.is_empty() {
                        r.roles.entry(id).or_default().insert(rol);
                    }
                }
            }
        }
        r
    }
}

/// The rosters the checker judges by: the final one, and the initial one so a worker
/// deactivated during the run keeps the taps made while active.
pub(crate) struct Workers {
    pub(crate) last: Roster,
    pub(crate) first: Roster,
}

impl Workers {
    pub(crate) fn token(&self, id: u32) -> Option<&str> {
        self.last
            .tokens
            .get(&id)
            .or_else(|| self.first.tokens.get(&id))
            .map(String::as_str)
    }

    /// Whether `id` is an active worker with one of `roles` (folded names).
    pub(crate) fn may(&self, id: u32, roles: &[&str]) -> bool {
        [&self.last, &self.first].iter().any(|r| {
            r.roles
                .get(&id)
                .is_some_and(|has| roles.iter().any(|x| has.contains(*x)))
        })
    }
}

/// One Metadata row.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub row: usize,
    pub id: String,
    pub ts: Option<NaiveDateTime>,
    pub kind: String,
    pub tag: String,
    pub worker_id: Option<u32>,
    pub worker_name: String,
    pub operacion: Option<String>,
    pub fecha: Option<NaiveDate>,
    pub json: Value,
}

impl Event {
    pub(crate) fn is_system(&self) -> bool {
        self.worker_id == Some(0)
    }

    fn jstr(&self, key: &str) -> Option<String> {
        self.json.get(key).and_then(Value::as_str).and_then(code)
    }

    /// The business date of the action: `Fecha_Operacion`, else the timestamp's date.
    fn date(&self) -> Option<NaiveDate> {
        self.fecha.or(self.ts.map(|t| t.date()))
    }
}

/// Event types that apply a command to a spool (DOMAIN.md §4).
pub(crate) const COMMAND_EVENTS: [&str; 13] = [
    "TOMAR_SPOOL",
    "PAUSAR_SPOOL",
    "COMPLETAR_ARM",
    "COMPLETAR_SOLD",
    "CANCELAR_ARM",
    "CANCELAR_SOLD",
    "COMPLETAR_METROLOGIA",
    "TOMAR_REPARACION",
    "PAUSAR_REPARACION",
    "COMPLETAR_REPARACION",
    "CANCELAR_REPARACION",
    "SUPERVISOR_OVERRIDE",
    "FORZAR_LIBERACION",
];

/// The model of one spool while its audit rows replay.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    pub s: Spool,
    /// RECHAZADO results since the last APROBADO (the sheet's cycle is only compared).
    pub rejections: u32,
    /// The current occupation's TOMAR wrote the Armador/Soldador cell.
    pub set_worker: bool,
    /// Some audit row changed the spool (else the app never rewrote its row).
    pub touched: bool,
    /// The last row that changed it was SYSTEM's record of a hand edit (the app does not
    /// rewrite `Estado_Detalle` for an edit it only audits).
    pub last_by_system: bool,
}

/// What replaying one event found.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Guards that did not hold, in the table's order.
    pub failed: Vec<String>,
    /// A TOMAR found the spool already occupied.
    pub double: bool,
    /// An event type DOMAIN.md does not list.
    pub unknown: bool,
}

impl Model {
    pub(crate) fn start(s: Spool) -> Model {
        Model {
            rejections: s.ciclo,
            s,
            set_worker: false,
            touched: false,
            last_by_system: false,
        }
    }

    fn occupant_id(&self) -> Option<u32> {
        self.s.ocupado_por.as_deref().and_then(token_id)
    }

    fn occupied_by(&self, who: u32, op: &str) -> bool {
        self.occupant_id() == Some(who) && self.s.operacion.as_deref() == Some(op)
    }

    fn clear_occupation(&mut self) {
        self.s.ocupado_por = None;
        self.s.fecha_ocupacion = None;
        self.s.operacion = None;
        self.set_worker = false;
    }

    fn completed(&self, op: &str) -> bool {
        match op {
            ARM => self.s.fecha_armado.is_some(),
            _ => self.s.fecha_soldadura.is_some(),
        }
    }

    /// Replays one audit row: checks its guards on the current state, then applies its
    /// writes anyway (the row says it happened; later rows are judged on what the sheet got).
    pub(crate) fn apply(&mut self, ev: &Event, w: &Workers) -> Outcome {
        let mut out = Outcome::default();
        let kind = ev.kind.as_str();
        if matches!(kind, "CONFLICTO" | "MIGRACION_ESQUEMA") {
            return out;
        }
        if !COMMAND_EVENTS.contains(&kind) {
            out.unknown = true;
            return out;
        }
        let who = ev.worker_id.unwrap_or(u32::MAX);
        let token = w
            .token(who)
            .map(str::to_string)
            .unwrap_or_else(|| ev.worker_name.trim().to_string());
        let failed = &mut out.failed;
        let system_override = ev.is_system() && kind == "SUPERVISOR_OVERRIDE";
        if ev.is_system() && !system_override {
            failed.push(format!(
                "{kind} by worker 0 (SYSTEM), which only audits sheet edits"
            ));
        } else if !ev.is_system() && w.token(who).is_none() {
            failed.push(format!("worker {who} is not in Trabajadores"));
        }
        let role = |roles: &[&str], what: &str| -> Option<String> {
            (!w.may(who, roles)).then(|| format!("worker {who} is not an active {what}"))
        };
        let occupant = self
            .s
            .ocupado_por
            .as_ref()
            .map(|o| format!("spool already occupied by {o}"));
        match kind {
            "TOMAR_SPOOL" => {
                let op = ev.operacion.clone().unwrap_or_default();
                if op != ARM && op != SOLD {
                    failed.push(format!("TOMAR_SPOOL with Operacion {op:?}"));
                    return out;
                }
                if op == ARM {
                    failed.extend(role(&["armador", "ayudante"], "Armador/Ayudante"));
                } else {
                    failed.extend(role(&["soldador", "ayudante"], "Soldador/Ayudante"));
                }
                if !self.s.materiales {
                    failed.push("Fecha_Materiales not set".into());
                }
                if self.completed(&op) {
                    failed.push(format!("{op} already completado"));
                }
                out.double = occupant.is_some();
                failed.extend(occupant);
                if let Some(e) = &self.s.estado_rep {
                    failed.push(format!("spool in the repair loop ({e})"));
                }
                if op == SOLD && self.s.armador.is_none() {
                    failed.push("SOLD before ARM initiated (Armador empty)".into());
                }
                let cell = if op == ARM {
                    &mut self.s.armador
                } else {
                    &mut self.s.soldador
                };
                let set = cell.is_none();
                if set {
                    *cell = Some(token.clone());
                }
                self.s.ocupado_por = Some(token);
                self.s.fecha_ocupacion = ev.ts;
                self.s.operacion = Some(op);
                self.set_worker = set;
            }
            "PAUSAR_SPOOL" | "COMPLETAR_ARM" | "COMPLETAR_SOLD" | "CANCELAR_ARM"
            | "CANCELAR_SOLD" => {
                let op = match kind {
                    "PAUSAR_SPOOL" => ev
                        .operacion
                        .clone()
                        .or_else(|| self.s.operacion.clone())
                        .unwrap_or_default(),
                    k if k.ends_with("_ARM") => ARM.to_string(),
                    _ => SOLD.to_string(),
                };
                if op != ARM && op != SOLD {
                    failed.push(format!("{kind} with Operacion {op:?}"));
                } else if !self.occupied_by(who, &op) {
                    failed.push(format!(
                        "worker {who} does not occupy it for {op} (occupant {:?}, operation {:?})",
                        self.s.ocupado_por, self.s.operacion
                    ));
                }
                let set_worker = self.set_worker;
                self.clear_occupation();
                if kind.starts_with("COMPLETAR") {
                    let d = ev.date();
                    if op == ARM {
                        self.s.fecha_armado = d;
                    } else {
                        self.s.fecha_soldadura = d;
                    }
                } else if kind.starts_with("CANCELAR") && set_worker {
                    if op == ARM {
                        self.s.armador = None;
                    } else {
                        self.s.soldador = None;
                    }
                }
            }
            "COMPLETAR_METROLOGIA" => {
                failed.extend(role(&["metrologia"], "Metrologia"));
                let resultado = ev.jstr("resultado").unwrap_or_default();
                if self.s.fecha_armado.is_none() || self.s.fecha_soldadura.is_none() {
                    failed.push("metrología before ARM and SOLD completados".into());
                }
                failed.extend(occupant);
                let queued =
                    self.s.resultado.is_none() || self.s.estado_rep.as_deref() == Some(COMPLETADA);
                if !queued {
                    failed.push(format!(
                        "not awaiting inspection (Resultado {:?}, Estado_Reparacion {:?})",
                        self.s.resultado, self.s.estado_rep
                    ));
                }
                if self.s.estado_rep.as_deref() == Some(BLOQUEADO) {
                    failed.push(format!("{resultado} on a BLOQUEADO spool"));
                }
                match resultado.as_str() {
                    APROBADO => {
                        self.s.resultado = Some(APROBADO.into());
                        self.s.fecha_qc = ev.date();
                        self.rejections = 0;
                        self.s.estado_rep = None;
                    }
                    RECHAZADO => {
                        let origen = ev.jstr("origen").filter(|o| o == ARM || o == SOLD);
                        if origen.is_none() {
                            failed.push("RECHAZADO without origen ARM/SOLD".into());
                        }
                        self.s.resultado = Some(RECHAZADO.into());
                        self.rejections += 1;
                        self.s.defecto = origen;
                        self.s.estado_rep = Some(
                            if self.rejections >= 3 {
                                BLOQUEADO
                            } else {
                                PENDIENTE
                            }
                            .into(),
                        );
                    }
                    other => failed.push(format!("Metadata_JSON resultado {other:?}")),
                }
            }
            "TOMAR_REPARACION" => {
                failed.extend(match self.s.defecto.as_deref() {
                    Some(ARM) => role(&["armador"], "Armador"),
                    Some(SOLD) => role(&["soldador"], "Soldador"),
                    _ => role(&["armador", "soldador"], "Armador/Soldador"),
                });
                if !matches!(self.s.estado_rep.as_deref(), Some(PENDIENTE | PAUSADA)) {
                    failed.push(format!(
                        "Estado_Reparacion {:?} is not PENDIENTE/PAUSADA",
                        self.s.estado_rep
                    ));
                }
                out.double = occupant.is_some();
                failed.extend(occupant);
                self.s.ocupado_por = Some(token);
                self.s.fecha_ocupacion = ev.ts;
                self.s.operacion = Some(REPARACION.into());
                self.set_worker = false;
                self.s.estado_rep = Some(EN_REPARACION.into());
            }
            "PAUSAR_REPARACION" | "COMPLETAR_REPARACION" | "CANCELAR_REPARACION" => {
                if self.s.estado_rep.as_deref() != Some(EN_REPARACION)
                    || !self.occupied_by(who, REPARACION)
                {
                    failed.push(format!(
                        "worker {who} is not repairing it (Estado_Reparacion {:?}, occupant {:?})",
                        self.s.estado_rep, self.s.ocupado_por
                    ));
                }
                self.clear_occupation();
                self.s.estado_rep = Some(
                    match kind {
                        "PAUSAR_REPARACION" => PAUSADA,
                        "COMPLETAR_REPARACION" => COMPLETADA,
                        _ => PENDIENTE,
                    }
                    .into(),
                );
            }
            "SUPERVISOR_OVERRIDE" => {
                if !system_override {
                    failed.extend(role(&["supervisor"], "Supervisor"));
                }
                if self.s.estado_rep.as_deref() != Some(BLOQUEADO) {
                    failed.push(format!(
                        "override of a spool that is not BLOQUEADO ({:?})",
                        self.s.estado_rep
                    ));
                }
                self.s.estado_rep = Some(PENDIENTE.into());
                if system_override {
                    // A person edited the sheet; the SYSTEM row records what they left.
                    if let Some(e) = ev.json.get("estado_nuevo").and_then(Value::as_str) {
                        self.s.estado_rep = code(e);
                    }
                    if let Some(c) = ev.json.get("ciclo").and_then(Value::as_u64) {
                        self.rejections = u32::try_from(c).unwrap_or(u32::MAX);
                    }
                }
            }
            "FORZAR_LIBERACION" => {
                failed.extend(role(&["supervisor"], "Supervisor"));
                if occupant.is_none() {
                    failed.push("force-release of a free spool".into());
                }
                self.clear_occupation();
                if self.s.estado_rep.as_deref() == Some(EN_REPARACION) {
                    self.s.estado_rep = Some(PAUSADA.into());
                }
            }
            _ => {}
        }
        self.s.ciclo = self.rejections.min(3);
        self.touched = true;
        self.last_by_system = ev.is_system();
        if !ev.is_system() {
            self.s.version = ev.id.clone();
        }
        out
    }
}

/// A piece of an expected `Estado_Detalle`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece {
    Lit(String),
    /// A worker token, matched with [`same_token`].
    Token(String),
    /// Text DOMAIN.md gives no literal for: any non-empty run without `,`, `(` or `)`.
    Unspecified(&'static str),
    /// Anything to the end (a state DOMAIN.md gives no suffix for).
    Rest(&'static str),
}

fn lit(s: impl Into<String>) -> Piece {
    Piece::Lit(s.into())
}

fn op_state(s: &Spool, op: &str) -> Piece {
    let (done, worker) = if op == ARM {
        (s.fecha_armado.is_some(), s.armador.is_some())
    } else {
        (s.fecha_soldadura.is_some(), s.soldador.is_some())
    };
    if done {
        lit("completado")
    } else if s.ocupado_por.is_some() && s.operacion.as_deref() == Some(op) {
        lit("en progreso")
    } else if worker {
        // §3 names the state `pausado` but gives no display literal for it.
        Piece::Unspecified("pausado")
    } else {
        lit("pendiente")
    }
}

/// DOMAIN.md §3's projection of a spool's state.
pub(crate) fn expected_detalle(s: &Spool) -> Vec<Piece> {
    let mut p = Vec::new();
    match &s.ocupado_por {
        Some(t) => {
            p.push(Piece::Token(t.clone()));
            p.push(lit(" trabajando "));
            p.push(match &s.operacion {
                Some(op) => lit(op.clone()),
                None => Piece::Unspecified("operación"),
            });
            p.push(lit(" (ARM "));
        }
        None => p.push(lit("Disponible - ARM ")),
    }
    p.push(op_state(s, ARM));
    p.push(lit(", SOLD "));
    p.push(op_state(s, SOLD));
    if s.ocupado_por.is_some() {
        p.push(lit(")"));
    }
    let n = s.ciclo;
    match (s.estado_rep.as_deref(), s.resultado.as_deref()) {
        (Some(BLOQUEADO), _) => p.push(lit(", BLOQUEADO - Contactar supervisor")),
        (Some(EN_REPARACION), _) => {
            p.push(lit(format!(", EN_REPARACION (Ciclo {n}/3) - Ocupado: ")));
            p.push(match &s.ocupado_por {
                Some(t) => Piece::Token(t.clone()),
                None => Piece::Unspecified("ocupante"),
            });
        }
        (Some(PAUSADA), _) => p.push(lit(format!(", REPARACION_PAUSADA (Ciclo {n}/3)"))),
        (Some(COMPLETADA), _) => p.push(lit(format!(", PENDIENTE_METROLOGIA (Ciclo {n}/3)"))),
        (Some(PENDIENTE), _) => p.push(lit(format!(
            ", RECHAZADO (Ciclo {n}/3) - Pendiente reparación"
        ))),
        (None, Some(APROBADO)) => p.push(lit(", METROLOGIA APROBADO ✓")),
        (None, None) => {}
        _ => p.push(Piece::Rest("estado sin texto en DOMAIN.md")),
    }
    p
}

/// Renders an expected projection for a message.
pub(crate) fn render(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Lit(s) | Piece::Token(s) => s.clone(),
            Piece::Unspecified(what) => format!("<{what}?>"),
            Piece::Rest(what) => format!("<…{what}>"),
        })
        .collect()
}

/// Whether `actual` is the projection `pieces` describe.
pub(crate) fn detalle_matches(pieces: &[Piece], actual: &str) -> bool {
    let Some((first, rest)) = pieces.split_first() else {
        return actual.is_empty();
    };
    match first {
        Piece::Lit(s) => actual
            .strip_prefix(s.as_str())
            .is_some_and(|tail| detalle_matches(rest, tail)),
        Piece::Token(t) => {
            // A token ends at its `)`.
            actual.char_indices().any(|(i, c)| {
                c == ')' && same_token(&actual[..=i], t) && detalle_matches(rest, &actual[i + 1..])
            })
        }
        Piece::Unspecified(_) => actual
            .char_indices()
            .take_while(|(_, c)| !matches!(c, ',' | '(' | ')'))
            .map(|(i, c)| i + c.len_utf8())
            .any(|end| detalle_matches(rest, &actual[end..])),
        Piece::Rest(_) => true,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tokens_compare_by_id_and_initials() {
        assert_eq!(token_id("MR(93)"), Some(93));
        assert_eq!(token_id("Mauricio"), None);
        assert!(same_token("TÁ(116)", "TA(116)"));
        assert!(!same_token("MR(93)", "MR(94)"));
        assert_eq!(token_count("MR(93) JP(94)"), 2);
        assert_eq!(token_count("MR(93)"), 1);
    }

    #[test]
    fn projection_uses_domain_literals() {
        let mut s = Spool {
            armador: Some("MR(93)".into()),
            ocupado_por: Some("MR(93)".into()),
            operacion: Some(ARM.into()),
            ..Spool::default()
        };
        let e = expected_detalle(&s);
        assert!(detalle_matches(
            &e,
            "MR(93) trabajando ARM (ARM en progreso, SOLD pendiente)"
        ));
        assert!(!detalle_matches(
            &e,
            "MR(94) trabajando ARM (ARM en progreso, SOLD pendiente)"
        ));
        s.ocupado_por = None;
        s.operacion = None;
        let e = expected_detalle(&s);
        assert!(detalle_matches(
            &e,
            "Disponible - ARM pausado, SOLD pendiente"
        ));
        assert!(!detalle_matches(
            &e,
            "Disponible - ARM pausado, SOLD pendiente, X"
        ));
        s.fecha_armado = NaiveDate::from_ymd_opt(2026, 1, 1);
        s.fecha_soldadura = s.fecha_armado;
        s.estado_rep = Some(BLOQUEADO.into());
        s.ciclo = 3;
        let e = expected_detalle(&s);
        assert!(detalle_matches(
            &e,
            "Disponible - ARM completado, SOLD completado, BLOQUEADO - Contactar supervisor"
        ));
    }

    #[test]
    fn legacy_detalle_imports_cycle_and_repair_state() {
        let l = Legacy::parse("Disponible - ARM completado, SOLD completado, RECHAZADO (Ciclo 2/3) - Pendiente reparación");
        assert_eq!(
            (l.ciclo, l.estado, l.resultado),
            (2, Some(PENDIENTE), Some(RECHAZADO))
        );
        let l = Legacy::parse("MR(93) trabajando REPARACION (ARM completado, SOLD completado), EN_REPARACION (Ciclo 1/3) - Ocupado: MR(93)");
        assert_eq!(l.operacion.as_deref(), Some(REPARACION));
        assert_eq!(l.estado, Some(EN_REPARACION));
    }
}
