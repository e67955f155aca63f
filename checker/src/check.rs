//! The check itself: outcomes of acked taps, the replay of the audit log through the model,
//! the final sheet against the model, and every replica against the final sheet.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDateTime;
use serde_json::Value;

use crate::dates::{date_of, datetime_of, datetime_text, same_second};
use crate::input::{AckedTap, Replica, ReplicaRow};
use crate::model::{
    code, col, decode_spool, detalle_matches, expected_detalle, render, same_token, token_count,
    Event, Model, Roster, Spool, Workers, BLOQUEADO, COMMAND_EVENTS,
};
use crate::report::{Kind, Report};
use crate::workbook::{fold, Cell, RowMap, SheetRow, Table, Workbook};

/// Everything one run left behind.
#[derive(Debug, Clone, Default)]
pub struct RunInput {
    /// The workbook before the run.
    pub initial: Workbook,
    /// The workbook after every device drained.
    pub final_book: Workbook,
    /// Rows Engineering appended to Operaciones during the run, in their initial state.
    pub appended_spools: Vec<SheetRow>,
    /// Every tap a worker was told succeeded.
    pub acked: Vec<AckedTap>,
    /// Every device's replica after it drained.
    pub replicas: Vec<Replica>,
}

/// The app-owned Operaciones columns the final sheet must have.
const STATE_COLUMNS: [&str; 15] = [
    col::ARMADOR,
    col::FECHA_ARMADO,
    col::SOLDADOR,
    col::FECHA_SOLDADURA,
    col::FECHA_QC,
    col::OCUPADO_POR,
    col::FECHA_OCUPACION,
    col::VERSION,
    col::ESTADO_DETALLE,
    col::OPERACION_OCUPACION,
    col::RESULTADO,
    col::CICLO,
    col::ESTADO_REPARACION,
    col::DEFECTO_ORIGEN,
    col::TAG,
];

const METADATA_COLUMNS: [&str; 3] = ["ID", "Evento_Tipo", "TAG_SPOOL"];

/// TAG_SPOOL matches trimmed and case-insensitively.
fn key(tag: &str) -> String {
    tag.trim().to_lowercase()
}

/// Checks one run.
pub fn check(input: &RunInput) -> Report {
    let mut r = Report::default();
    let events = read_metadata(&input.final_book, &mut r);
    outcomes(input, &events, &mut r);
    let workers = Workers {
        last: Roster::read(&input.final_book),
        first: Roster::read(&input.initial),
    };
    let finals = read_final(&input.final_book, &mut r);
    let models = replay(input, &events, &workers, &finals, &mut r);
    compare_final(&models, &finals, &mut r);
    for replica in &input.replicas {
        compare_replica(replica, &finals, &mut r);
    }
    r
}

fn read_metadata(book: &Workbook, r: &mut Report) -> Vec<Event> {
    let Some(rows) = book.tab("Metadata") else {
        r.add(
            Kind::WrongState,
            "final workbook has no Metadata tab".into(),
        );
        return Vec::new();
    };
    let t = Table::new(rows);
    for c in METADATA_COLUMNS {
        if !rows.is_empty() && !t.has(c) {
            r.add(Kind::WrongState, format!("Metadata has no column {c}"));
        }
    }
    let mut events = Vec::new();
    for (n, row) in &t.rows {
        if Table::is_blank(row) {
            continue;
        }
        let cell = |name: &str| t.cell(row, name);
        let id = cell("ID").text();
        let mut note = |what: String| r.add(Kind::Note, format!("Metadata row {n} ({id}): {what}"));
        let ts = datetime_of(&cell("Timestamp")).unwrap_or_else(|e| {
            note(format!("Timestamp: {e}"));
            None
        });
        let fecha = date_of(&cell("Fecha_Operacion")).unwrap_or_else(|e| {
            note(format!("Fecha_Operacion: {e}"));
            None
        });
        let json = match cell("Metadata_JSON") {
            Cell::Empty => Value::Null,
            c => serde_json::from_str(&c.text()).unwrap_or_else(|e| {
                note(format!("Metadata_JSON: {e}"));
                Value::Null
            }),
        };
        let worker_id = match cell("Worker_ID") {
            Cell::Number(x) if x >= 0.0 && x.fract() == 0.0 => Some(x as u32),
            c => c.text().parse().ok(),
        };
        events.push(Event {
            row: *n,
            kind: code(&cell("Evento_Tipo").text()).unwrap_or_default(),
            tag: cell("TAG_SPOOL").text(),
            worker_id,
            worker_name: cell("Worker_Nombre").text(),
            operacion: code(&cell("Operacion").text()),
            ts,
            fecha,
            json,
            id,
        });
    }
    events
}

/// What a tap's intent says the applied row must be: event type, Operacion, resultado, origen.
type Expected = (String, Option<String>, Option<String>, Option<String>);

fn expected_event(intent: &str) -> Option<Expected> {
    let up = fold(intent).to_uppercase().replace('_', " ");
    let w: Vec<&str> = up.split_whitespace().collect();
    let s = |x: &str| Some(x.to_string());
    Some(match w.as_slice() {
        ["TOMAR", op @ ("ARM" | "SOLD")] => ("TOMAR_SPOOL".into(), s(op), None, None),
        ["PAUSAR", op @ ("ARM" | "SOLD")] => ("PAUSAR_SPOOL".into(), s(op), None, None),
        [verb @ ("TOMAR" | "PAUSAR" | "COMPLETAR" | "CANCELAR"), "REPARACION"] => {
            (format!("{verb}_REPARACION"), None, None, None)
        }
        [verb @ ("COMPLETAR" | "CANCELAR"), op @ ("ARM" | "SOLD")] => {
            (format!("{verb}_{op}"), None, None, None)
        }
        ["METROLOGIA", res @ ("APROBADO" | "RECHAZADO")] => {
            ("COMPLETAR_METROLOGIA".into(), None, s(res), None)
        }
        ["METROLOGIA", "RECHAZADO", origen @ ("ARM" | "SOLD")] => (
            "COMPLETAR_METROLOGIA".into(),
            None,
            s("RECHAZADO"),
            s(origen),
        ),
        ["OVERRIDE"] | ["SUPERVISOR", "OVERRIDE"] => {
            ("SUPERVISOR_OVERRIDE".into(), None, None, None)
        }
        ["FORZAR", "LIBERACION"] => ("FORZAR_LIBERACION".into(), None, None, None),
        _ => return None,
    })
}

/// Check 1: every acked tap has exactly one outcome the plant recorded.
fn outcomes(input: &RunInput, events: &[Event], r: &mut Report) {
    let mut applied: HashMap<&str, Vec<&Event>> = HashMap::new();
    let mut refused: HashMap<String, Vec<usize>> = HashMap::new();
    let mut held: HashMap<String, Vec<(usize, String)>> = HashMap::new();
    for e in events {
        if e.kind == "CONFLICTO" {
            let Some(cmd) = e.json.get("command_id").and_then(Value::as_str) else {
                r.add(
                    Kind::Note,
                    format!("CONFLICTO row {} names no command_id", e.row),
                );
                continue;
            };
            refused.entry(cmd.to_string()).or_default().push(e.row);
            for h in e
                .json
                .get("retenidos")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                held.entry(h.to_string())
                    .or_default()
                    .push((e.row, cmd.to_string()));
            }
        } else if !e.id.is_empty() {
            applied.entry(e.id.as_str()).or_default().push(e);
        }
    }
    let mut taps: BTreeMap<&str, &AckedTap> = BTreeMap::new();
    for t in &input.acked {
        taps.entry(t.command_id.as_str()).or_insert(t);
    }
    r.commands = taps.len() as u64;
    for (id, tap) in &taps {
        let rows = applied.get(id).map_or(&[][..], Vec::as_slice);
        let refused_in = refused.get(*id);
        let held_in = held.get(*id);
        let what = format!(
            "tap {id} ({} on {} by {} from {})",
            tap.intent, tap.tag, tap.worker_id, tap.device
        );
        if !rows.is_empty() {
            r.applied += 1;
        }
        if refused_in.is_some() {
            r.conflicts += 1;
        } else if held_in.is_some() {
            r.held += 1;
        }
        if rows.len() > 1 {
            let at: Vec<String> = rows.iter().map(|e| e.row.to_string()).collect();
            r.add(
                Kind::Duplicated,
                format!(
                    "{what} has {} Metadata rows (rows {})",
                    rows.len(),
                    at.join(", ")
                ),
            );
        }
        if !rows.is_empty() && (refused_in.is_some() || held_in.is_some()) {
            r.add(
                Kind::Duplicated,
                format!(
                    "{what} was applied (row {}) and also {} in a CONFLICTO row",
                    rows[0].row,
                    if refused_in.is_some() {
                        "refused"
                    } else {
                        "held"
                    }
                ),
            );
        }
        if rows.is_empty() && refused_in.is_none() && held_in.is_none() {
            r.add(
                Kind::Lost,
                format!("{what} has no Metadata row and no CONFLICTO names it"),
            );
        }
        if let Some(e) = rows.first() {
            let mut wrong = Vec::new();
            if key(&e.tag) != key(&tap.tag) {
                wrong.push(format!("TAG {:?}", e.tag));
            }
            if tap.worker_id != 0 && e.worker_id != Some(tap.worker_id) {
                wrong.push(format!("Worker_ID {:?}", e.worker_id));
            }
            if let Some((kind, op, res, origen)) = expected_event(&tap.intent) {
                if e.kind != kind {
                    wrong.push(format!("Evento_Tipo {}", e.kind));
                }
                if op.is_some() && e.operacion != op {
                    wrong.push(format!("Operacion {:?}", e.operacion));
                }
                let j = |k: &str| e.json.get(k).and_then(Value::as_str).and_then(code);
                if res.is_some() && j("resultado") != res {
                    wrong.push(format!("resultado {:?}", j("resultado")));
                }
                if origen.is_some() && j("origen") != origen {
                    wrong.push(format!("origen {:?}", j("origen")));
                }
            }
            if !wrong.is_empty() {
                r.add(
                    Kind::RuleViolation,
                    format!(
                        "{what} was applied as something else (row {}: {})",
                        e.row,
                        wrong.join(", ")
                    ),
                );
            }
        }
        if let Some(list) = held_in {
            for (row, by) in list {
                if let Some(first) = taps.get(by.as_str()) {
                    if first.device != tap.device || key(&first.tag) != key(&tap.tag) {
                        r.add(
                            Kind::Note,
                            format!("{what} is held (row {row}) behind {by}, a tap of another device or spool"),
                        );
                    }
                }
            }
        }
    }
    let unacked = applied
        .iter()
        .filter(|(id, rows)| {
            !taps.contains_key(*id)
                && rows
                    .iter()
                    .any(|e| COMMAND_EVENTS.contains(&e.kind.as_str()) && !e.is_system())
        })
        .count();
    if unacked > 0 {
        r.add(
            Kind::Note,
            format!(
                "{unacked} applied command(s) were never acked to a worker (crash before the ack?)"
            ),
        );
    }
}

/// A final Operaciones row.
struct FinalRow {
    row: usize,
    spool: Spool,
    problems: Vec<String>,
}

fn read_final(book: &Workbook, r: &mut Report) -> BTreeMap<String, Vec<FinalRow>> {
    let mut out: BTreeMap<String, Vec<FinalRow>> = BTreeMap::new();
    let Some(rows) = book.tab("Operaciones") else {
        r.add(
            Kind::WrongState,
            "final workbook has no Operaciones tab".into(),
        );
        return out;
    };
    let t = Table::new(rows);
    for c in STATE_COLUMNS {
        if !t.has(c) {
            r.add(
                Kind::WrongState,
                format!("final Operaciones has no column {c}"),
            );
        }
    }
    for (n, row) in &t.rows {
        let mut problems = Vec::new();
        let spool = decode_spool(&(&t, *row), &mut problems);
        if spool.tag.is_empty() {
            continue;
        }
        out.entry(key(&spool.tag)).or_default().push(FinalRow {
            row: *n,
            spool,
            problems,
        });
    }
    out
}

fn initial_spools(input: &RunInput, r: &mut Report) -> BTreeMap<String, Spool> {
    let mut out = BTreeMap::new();
    let mut problems = Vec::new();
    if let Some(rows) = input.initial.tab("Operaciones") {
        let t = Table::new(rows);
        for (n, row) in &t.rows {
            let s = decode_spool(&(&t, *row), &mut problems);
            if s.tag.is_empty() {
                continue;
            }
            if out.contains_key(&key(&s.tag)) {
                r.add(
                    Kind::Note,
                    format!("initial sheet has TAG {} twice (row {n} ignored)", s.tag),
                );
                continue;
            }
            out.insert(key(&s.tag), s);
        }
    } else {
        r.add(Kind::Note, "initial workbook has no Operaciones tab".into());
    }
    for row in &input.appended_spools {
        let s = decode_spool(&RowMap::new(row), &mut problems);
        if s.tag.is_empty() {
            r.add(Kind::Note, "an appended spool has no TAG_SPOOL".into());
            continue;
        }
        if out.contains_key(&key(&s.tag)) {
            r.add(
                Kind::Note,
                format!("appended spool {} was already in the initial sheet", s.tag),
            );
            continue;
        }
        out.insert(key(&s.tag), s);
    }
    for p in problems {
        r.add(Kind::Note, format!("initial state unreadable: {p}"));
    }
    out
}

/// Check 2: replays every spool's audit rows, in append order, through the model.
fn replay(
    input: &RunInput,
    events: &[Event],
    workers: &Workers,
    finals: &BTreeMap<String, Vec<FinalRow>>,
    r: &mut Report,
) -> BTreeMap<String, Model> {
    let mut models: BTreeMap<String, Model> = initial_spools(input, r)
        .into_iter()
        .map(|(k, mut s)| {
            // Fecha_Materiales is Engineering's: it may be filled in during the run.
            if finals
                .get(&k)
                .is_some_and(|f| f.iter().any(|x| x.spool.materiales))
            {
                s.materiales = true;
            }
            (k, Model::start(s))
        })
        .collect();
    // Rows by which SYSTEM audits a spool a person un-blocked in the sheet. The edit happened
    // before the row (the leader notices it later), so a command that needs the spool
    // un-blocked may sit between the edit and its row: such a row is applied first.
    let mut manual: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        if e.is_system() && e.kind == "SUPERVISOR_OVERRIDE" {
            manual.entry(key(&e.tag)).or_default().push(i);
        }
    }
    let mut early: HashSet<usize> = HashSet::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for (i, e) in events.iter().enumerate() {
        if e.kind == "CONFLICTO" || early.contains(&i) {
            continue;
        }
        if !e.id.is_empty() && !seen.insert(e.id.as_str()) {
            // A duplicate is counted once as `duplicated` (when acked); replaying it again
            // would blame its consequences on the rules.
            continue;
        }
        if e.kind == "MIGRACION_ESQUEMA" {
            continue;
        }
        let at = format!(
            "Metadata row {} ({} {} on {:?} by {:?})",
            e.row, e.id, e.kind, e.tag, e.worker_id
        );
        if !COMMAND_EVENTS.contains(&e.kind.as_str()) {
            r.add(
                Kind::Note,
                format!("{at}: unknown event type, no state change"),
            );
            continue;
        }
        let Some(m) = models.get_mut(&key(&e.tag)) else {
            r.add(Kind::RuleViolation, format!("{at}: no such spool"));
            continue;
        };
        if m.s.estado_rep.as_deref() == Some(BLOQUEADO) && e.kind != "SUPERVISOR_OVERRIDE" {
            let later = manual
                .get(&key(&e.tag))
                .and_then(|list| list.iter().find(|j| **j > i && !early.contains(*j)));
            if let Some(&j) = later {
                let edit = &events[j];
                early.insert(j);
                seen.insert(edit.id.as_str());
                r.add(
                    Kind::Note,
                    format!(
                        "{at}: the hand un-block audited at row {} is applied before it",
                        edit.row
                    ),
                );
                let out = m.apply(edit, workers);
                if !out.failed.is_empty() {
                    r.add(
                        Kind::RuleViolation,
                        format!(
                            "Metadata row {} ({}): {}",
                            edit.row,
                            edit.id,
                            out.failed.join("; ")
                        ),
                    );
                }
            }
        }
        let out = m.apply(e, workers);
        if out.double {
            r.add(
                Kind::DoubleOccupied,
                format!("{at}: took an occupied spool"),
            );
        }
        if !out.failed.is_empty() {
            r.add(
                Kind::RuleViolation,
                format!("{at}: {}", out.failed.join("; ")),
            );
        }
    }
    models
}

fn same_opt(a: &Option<String>, b: &Option<String>, eq: fn(&str, &str) -> bool) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => eq(x, y),
        _ => false,
    }
}

fn same_time(a: Option<NaiveDateTime>, b: Option<NaiveDateTime>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => same_second(x, y),
        _ => false,
    }
}

fn show<T: std::fmt::Debug>(v: &Option<T>) -> String {
    v.as_ref().map_or("∅".into(), |x| format!("{x:?}"))
}

/// Check 3: the final sheet equals the model on every state column.
fn compare_final(
    models: &BTreeMap<String, Model>,
    finals: &BTreeMap<String, Vec<FinalRow>>,
    r: &mut Report,
) {
    for (k, rows) in finals {
        if rows.len() > 1 {
            let at: Vec<String> = rows.iter().map(|x| x.row.to_string()).collect();
            r.add(
                Kind::WrongState,
                format!(
                    "TAG {} is on {} rows ({})",
                    rows[0].spool.tag,
                    rows.len(),
                    at.join(", ")
                ),
            );
        }
        for f in rows {
            if let Some(o) = &f.spool.ocupado_por {
                if token_count(o) > 1 {
                    r.add(
                        Kind::DoubleOccupied,
                        format!("{}: Ocupado_Por {o:?} names two occupants", f.spool.tag),
                    );
                }
            }
        }
        if !models.contains_key(k) {
            r.add(
                Kind::WrongState,
                format!(
                    "{} (row {}) is neither in the initial sheet nor an appended spool",
                    rows[0].spool.tag, rows[0].row
                ),
            );
        }
    }
    for (k, m) in models {
        let Some(rows) = finals.get(k) else {
            r.add(
                Kind::WrongState,
                format!("{} is missing from the final sheet", m.s.tag),
            );
            continue;
        };
        let [f] = rows.as_slice() else { continue };
        let mut diff = f.problems.clone();
        let (e, a) = (&m.s, &f.spool);
        let tok = |x: &str, y: &str| same_token(x, y);
        let txt = |x: &str, y: &str| x == y;
        for (name, exp, act, eq) in [
            (
                col::OCUPADO_POR,
                &e.ocupado_por,
                &a.ocupado_por,
                tok as fn(&str, &str) -> bool,
            ),
            (col::ARMADOR, &e.armador, &a.armador, tok),
            (col::SOLDADOR, &e.soldador, &a.soldador, tok),
            (col::OPERACION_OCUPACION, &e.operacion, &a.operacion, txt),
            (col::RESULTADO, &e.resultado, &a.resultado, txt),
            (col::ESTADO_REPARACION, &e.estado_rep, &a.estado_rep, txt),
            (col::DEFECTO_ORIGEN, &e.defecto, &a.defecto, txt),
        ] {
            if !same_opt(exp, act, eq) {
                diff.push(format!("{name} {} (model {})", show(act), show(exp)));
            }
        }
        for (name, exp, act) in [
            (col::FECHA_ARMADO, e.fecha_armado, a.fecha_armado),
            (col::FECHA_SOLDADURA, e.fecha_soldadura, a.fecha_soldadura),
            (col::FECHA_QC, e.fecha_qc, a.fecha_qc),
        ] {
            if exp != act {
                diff.push(format!("{name} {} (model {})", show(&act), show(&exp)));
            }
        }
        if !same_time(e.fecha_ocupacion, a.fecha_ocupacion) {
            diff.push(format!(
                "{} {} (model {})",
                col::FECHA_OCUPACION,
                show(&a.fecha_ocupacion),
                show(&e.fecha_ocupacion)
            ));
        }
        if e.ciclo != a.ciclo {
            diff.push(format!("{} {} (model {})", col::CICLO, a.ciclo, e.ciclo));
        }
        if e.version != a.version {
            diff.push(format!(
                "{} {:?} (model {:?})",
                col::VERSION,
                a.version,
                e.version
            ));
        }
        let want = expected_detalle(e);
        // A row no command touched keeps the text it started with; after a hand edit the
        // text is whatever the person left (DOMAIN.md gives the app no rewrite for it).
        let as_left = (!m.touched && a.estado_detalle == e.estado_detalle) || m.last_by_system;
        if !as_left && !detalle_matches(&want, &a.estado_detalle) {
            diff.push(format!(
                "{} {:?} (model {:?})",
                col::ESTADO_DETALLE,
                a.estado_detalle,
                render(&want)
            ));
        }
        if !diff.is_empty() {
            r.add(
                Kind::WrongState,
                format!("{} (row {}): {}", a.tag, f.row, diff.join("; ")),
            );
        }
    }
}

fn rtext(row: &ReplicaRow, c: &str) -> Option<String> {
    row.get(c)
        .cloned()
        .flatten()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn rdate(row: &ReplicaRow, c: &str) -> Result<Option<NaiveDateTime>, String> {
    rtext(row, c).map_or(Ok(None), |t| datetime_text(&t))
}

/// Check 4: a drained replica equals the final sheet.
fn compare_replica(replica: &Replica, finals: &BTreeMap<String, Vec<FinalRow>>, r: &mut Report) {
    let dev = &replica.device;
    let mut rows: BTreeMap<String, Vec<&ReplicaRow>> = BTreeMap::new();
    for row in &replica.rows {
        let tag = rtext(row, "tag").unwrap_or_default();
        rows.entry(key(&tag)).or_default().push(row);
    }
    for (k, list) in &rows {
        if !finals.contains_key(k) {
            r.add(
                Kind::Diverged,
                format!("device {dev}: replica has {k:?}, not in the final sheet"),
            );
        } else if list.len() > 1 {
            r.add(
                Kind::Diverged,
                format!("device {dev}: replica has {k:?} {} times", list.len()),
            );
        }
    }
    for (k, frows) in finals {
        let [f] = frows.as_slice() else { continue };
        let Some(list) = rows.get(k) else {
            r.add(
                Kind::Diverged,
                format!("device {dev}: replica is missing {}", f.spool.tag),
            );
            continue;
        };
        let [row] = list.as_slice() else { continue };
        let s = &f.spool;
        let mut diff = Vec::new();
        for (c, sheet) in [
            ("ocupado_por", &s.ocupado_por),
            ("armador", &s.armador),
            ("soldador", &s.soldador),
        ] {
            if rtext(row, c) != *sheet {
                diff.push(format!(
                    "{c} {} (sheet {})",
                    show(&rtext(row, c)),
                    show(sheet)
                ));
            }
        }
        for (c, sheet) in [
            ("operacion_ocupacion", &s.operacion),
            ("resultado_metrologia", &s.resultado),
            ("estado_reparacion", &s.estado_rep),
            ("defecto_origen", &s.defecto),
        ] {
            let mine = rtext(row, c).and_then(|t| code(&t));
            if mine != *sheet {
                diff.push(format!("{c} {} (sheet {})", show(&mine), show(sheet)));
            }
        }
        for (c, sheet) in [
            ("fecha_armado", s.fecha_armado),
            ("fecha_soldadura", s.fecha_soldadura),
            ("fecha_qc_metrologia", s.fecha_qc),
        ] {
            match rdate(row, c).map(|d| d.map(|d| d.date())) {
                Ok(mine) if mine == sheet => {}
                Ok(mine) => diff.push(format!("{c} {} (sheet {})", show(&mine), show(&sheet))),
                Err(e) => diff.push(format!("{c}: {e}")),
            }
        }
        match rdate(row, "fecha_ocupacion") {
            Ok(mine) if same_time(mine, s.fecha_ocupacion) => {}
            Ok(mine) => diff.push(format!(
                "fecha_ocupacion {} (sheet {})",
                show(&mine),
                show(&s.fecha_ocupacion)
            )),
            Err(e) => diff.push(format!("fecha_ocupacion: {e}")),
        }
        let ciclo = rtext(row, "ciclo_reparacion").map_or(Some(0), |t| t.parse::<u32>().ok());
        if ciclo != Some(s.ciclo) {
            diff.push(format!(
                "ciclo_reparacion {} (sheet {})",
                show(&ciclo),
                s.ciclo
            ));
        }
        let version = rtext(row, "version").unwrap_or_default();
        if version != s.version {
            diff.push(format!("version {version:?} (sheet {:?})", s.version));
        }
        let detalle = rtext(row, "estado_detalle").unwrap_or_default();
        if detalle != s.estado_detalle {
            diff.push(format!(
                "estado_detalle {detalle:?} (sheet {:?})",
                s.estado_detalle
            ));
        }
        if !diff.is_empty() {
            r.add(
                Kind::Diverged,
                format!("device {dev}: {}: {}", s.tag, diff.join("; ")),
            );
        }
    }
}
