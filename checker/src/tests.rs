//! Hand-built runs: a clean one, and each kind of breakage the checker must name.
#![allow(clippy::unwrap_used)]

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{json, Value};

use crate::dates::to_serial;
use crate::{check, AckedTap, Kind, Replica, ReplicaRow, Report, RunInput, Workbook};

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, d).unwrap()
}

fn at(h: u32, m: u32) -> NaiveDateTime {
    day(5).and_hms_opt(h, m, 0).unwrap()
}

/// How a test writes dates into the sheet.
#[derive(Clone, Copy, PartialEq)]
enum Dates {
    /// Serial numbers with a date format, as the app writes them.
    Serial,
    /// `DD-MM-YYYY` / `DD-MM-YYYY HH:MM:SS` text.
    Text,
    /// Other legacy text forms (`D/M/YYYY`, ISO).
    Legacy,
}

fn date_cell(d: Option<NaiveDate>, how: Dates) -> Value {
    match (d, how) {
        (None, _) => Value::Null,
        (Some(d), Dates::Serial) => json!({"number": to_serial(d.and_hms_opt(0, 0, 0).unwrap()),
                                            "format": {"type": "DATE", "pattern": "dd-mm-yyyy"}}),
        (Some(d), Dates::Text) => json!(d.format("%d-%m-%Y").to_string()),
        (Some(d), Dates::Legacy) => json!(d.format("%-d/%-m/%Y").to_string()),
    }
}

fn time_cell(t: Option<NaiveDateTime>, how: Dates) -> Value {
    match (t, how) {
        (None, _) => Value::Null,
        (Some(t), Dates::Serial) => json!({"number": to_serial(t),
                                            "format": {"type": "DATE_TIME", "pattern": "dd-mm-yyyy hh:mm:ss"}}),
        (Some(t), Dates::Text) => json!(t.format("%d-%m-%Y %H:%M:%S").to_string()),
        (Some(t), Dates::Legacy) => json!(t.format("%Y-%m-%dT%H:%M:%S").to_string()),
    }
}

/// One Operaciones row, as a person would read it.
#[derive(Clone, Default)]
struct Row {
    tag: &'static str,
    materiales: Option<NaiveDate>,
    armador: Option<&'static str>,
    fecha_armado: Option<NaiveDate>,
    soldador: Option<&'static str>,
    fecha_soldadura: Option<NaiveDate>,
    fecha_qc: Option<NaiveDate>,
    ocupado_por: Option<&'static str>,
    fecha_ocupacion: Option<NaiveDateTime>,
    version: &'static str,
    detalle: &'static str,
    operacion: Option<&'static str>,
    resultado: Option<&'static str>,
    ciclo: u32,
    estado_rep: Option<&'static str>,
    defecto: Option<&'static str>,
}

fn opt(s: Option<&str>) -> Value {
    s.map_or(Value::Null, |s| json!(s))
}

impl Row {
    fn cell(&self, header: &str, how: Dates) -> Value {
        match header {
            "TAG_SPOOL" => json!(self.tag),
            "NV" => json!("1300"),
            "Cliente" => json!("Minera Kronos"),
            "Notas" => json!("revisar plano"),
            "Fecha_Materiales" => date_cell(self.materiales, how),
            "Armador" => opt(self.armador),
            "Fecha_Armado" => date_cell(self.fecha_armado, how),
            "Soldador" => opt(self.soldador),
            "Fecha_Soldadura" => date_cell(self.fecha_soldadura, how),
            "Fecha_QC_Metrología" => date_cell(self.fecha_qc, how),
            "Ocupado_Por" => opt(self.ocupado_por),
            "Fecha_Ocupacion" => time_cell(self.fecha_ocupacion, how),
            "version" => json!(self.version),
            "Estado_Detalle" => json!(self.detalle),
            "Operacion_Ocupacion" => opt(self.operacion),
            "Resultado_Metrologia" => opt(self.resultado),
            "Ciclo_Reparacion" => json!(self.ciclo),
            "Estado_Reparacion" => opt(self.estado_rep),
            "Defecto_Origen" => opt(self.defecto),
            _ => Value::Null,
        }
    }

    fn sheet(&self, headers: &[&str], how: Dates) -> Vec<Value> {
        let mut cells: Vec<Value> = headers.iter().map(|h| self.cell(h, how)).collect();
        // Sheets drops trailing empty cells.
        while cells.last().is_some_and(Value::is_null) {
            cells.pop();
        }
        cells
    }

    fn replica(&self) -> ReplicaRow {
        let s = |v: Option<&str>| v.map(str::to_string);
        let d = |v: Option<NaiveDate>| v.map(|d| d.format("%Y-%m-%d").to_string());
        [
            ("tag", Some(self.tag.to_string())),
            ("row", Some("2".into())),
            ("nv", Some("1300".into())),
            ("fecha_materiales", d(self.materiales)),
            ("armador", s(self.armador)),
            ("fecha_armado", d(self.fecha_armado)),
            ("soldador", s(self.soldador)),
            ("fecha_soldadura", d(self.fecha_soldadura)),
            ("fecha_qc_metrologia", d(self.fecha_qc)),
            ("ocupado_por", s(self.ocupado_por)),
            (
                "fecha_ocupacion",
                self.fecha_ocupacion
                    .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()),
            ),
            ("operacion_ocupacion", s(self.operacion)),
            ("resultado_metrologia", s(self.resultado)),
            ("ciclo_reparacion", Some(self.ciclo.to_string())),
            ("estado_reparacion", s(self.estado_rep)),
            ("defecto_origen", s(self.defecto)),
            ("version", Some(self.version.to_string())),
            ("estado_detalle", Some(self.detalle.to_string())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

const APP_HEADERS: [&str; 17] = [
    "TAG_SPOOL",
    "NV",
    "Fecha_Materiales",
    "Armador",
    "Fecha_Armado",
    "Soldador",
    "Fecha_Soldadura",
    "Fecha_QC_Metrología",
    "Ocupado_Por",
    "Fecha_Ocupacion",
    "version",
    "Estado_Detalle",
    "Operacion_Ocupacion",
    "Resultado_Metrologia",
    "Ciclo_Reparacion",
    "Estado_Reparacion",
    "Defecto_Origen",
];

const META_HEADERS: [&str; 10] = [
    "ID",
    "Timestamp",
    "Evento_Tipo",
    "TAG_SPOOL",
    "Worker_ID",
    "Worker_Nombre",
    "Operacion",
    "Accion",
    "Fecha_Operacion",
    "Metadata_JSON",
];

/// A Metadata row as the app appends it.
#[allow(clippy::too_many_arguments)]
fn ev(
    id: &str,
    kind: &str,
    tag: &str,
    worker: u32,
    name: &str,
    op: &str,
    when: NaiveDateTime,
    meta: Value,
) -> Vec<Value> {
    let accion = kind.split('_').next().unwrap_or("");
    vec![
        json!(id),
        time_cell(Some(when), Dates::Serial),
        json!(kind),
        json!(tag),
        json!(worker),
        json!(name),
        json!(op),
        json!(accion),
        date_cell(Some(when.date()), Dates::Serial),
        json!(meta.to_string()),
    ]
}

fn tap(id: &str, device: &str, worker: u32, tag: &str, intent: &str) -> AckedTap {
    AckedTap {
        command_id: id.into(),
        device: device.into(),
        worker_id: worker,
        tag: tag.into(),
        intent: intent.into(),
    }
}

fn workers_tabs() -> (Vec<Vec<Value>>, Vec<Vec<Value>>) {
    let people = [
        (93, "Mauricio", "Rodriguez", "Armador"),
        (94, "Juan Carlos", "Pérez López", "Soldador"),
        (95, "María José", "García", "Metrología"),
        (96, "Héctor", "Carrasco", "Supervisor"),
        (97, "Javiera", "Silva", "Ayudante"),
    ];
    let mut trab = vec![vec![
        json!("Id"),
        json!("Nombre"),
        json!("Apellido"),
        json!("Activo"),
    ]];
    let mut roles = vec![vec![json!("Id"), json!("Rol"), json!("Activo")]];
    for (id, n, a, rol) in people {
        trab.push(vec![json!(id), json!(n), json!(a), json!(true)]);
        roles.push(vec![json!(id), json!(rol), json!("TRUE")]);
    }
    (trab, roles)
}

struct Scenario {
    initial_headers: Vec<&'static str>,
    final_headers: Vec<&'static str>,
    initial: Vec<Row>,
    fin: Vec<Row>,
    events: Vec<Vec<Value>>,
    acked: Vec<AckedTap>,
    initial_dates: Dates,
    final_dates: Dates,
    replicas: Vec<(String, Vec<ReplicaRow>)>,
}

const A: &str = "MK-1-A";
const B: &str = "MK-1-B";
const C: &str = "MK-1-C";
const D: &str = "MK-1-D";
const E: &str = "MK-1-E";
const F: &str = "MK-1-F";

/// Six spools through ARM, SOLD, a repair loop, a third rejection and its override, a pause,
/// two cancels and a conflict with a held command.
fn clean() -> Scenario {
    let mat = Some(day(1));
    let fresh = |tag| Row {
        tag,
        materiales: mat,
        version: "0",
        detalle: "Disponible - ARM pendiente, SOLD pendiente",
        ..Row::default()
    };
    let inspected = |tag| Row {
        armador: Some("MR(93)"),
        fecha_armado: Some(day(2)),
        soldador: Some("JP(94)"),
        fecha_soldadura: Some(day(3)),
        detalle: "Disponible - ARM completado, SOLD completado",
        ..fresh(tag)
    };
    let e_busy = Row {
        armador: Some("JS(97)"),
        ocupado_por: Some("JS(97)"),
        fecha_ocupacion: Some(day(4).and_hms_opt(8, 0, 0).unwrap()),
        operacion: Some("ARM"),
        detalle: "JS(97) trabajando ARM (ARM en progreso, SOLD pendiente)",
        ..fresh(E)
    };
    let initial = vec![
        fresh(A),
        inspected(B),
        Row {
            resultado: Some("RECHAZADO"),
            ciclo: 2,
            estado_rep: Some("COMPLETADA"),
            defecto: Some("ARM"),
            version: "v-c0",
            detalle:
                "Disponible - ARM completado, SOLD completado, PENDIENTE_METROLOGIA (Ciclo 2/3)",
            ..inspected(C)
        },
        fresh(D),
        e_busy.clone(),
        fresh(F),
    ];
    let fin = vec![
        Row {
            armador: Some("MR(93)"),
            fecha_armado: Some(day(5)),
            soldador: Some("JP(94)"),
            ocupado_por: Some("JP(94)"),
            fecha_ocupacion: Some(at(10, 0)),
            operacion: Some("SOLD"),
            version: "a3",
            detalle: "JP(94) trabajando SOLD (ARM completado, SOLD en progreso)",
            ..fresh(A)
        },
        Row {
            resultado: Some("APROBADO"),
            fecha_qc: Some(day(5)),
            defecto: Some("SOLD"),
            version: "b4",
            detalle: "Disponible - ARM completado, SOLD completado, METROLOGIA APROBADO ✓",
            ..inspected(B)
        },
        Row {
            resultado: Some("RECHAZADO"),
            ciclo: 3,
            estado_rep: Some("PENDIENTE"),
            defecto: Some("ARM"),
            version: "c2",
            detalle: "Disponible - ARM completado, SOLD completado, RECHAZADO (Ciclo 3/3) - Pendiente reparación",
            ..inspected(C)
        },
        Row {
            armador: Some("MR(93)"),
            version: "d4",
            detalle: "Disponible - ARM pausado, SOLD pendiente",
            ..fresh(D)
        },
        e_busy,
        Row {
            version: "f2",
            ..fresh(F)
        },
    ];
    let none = json!({});
    let events = vec![
        ev(
            "m-0",
            "MIGRACION_ESQUEMA",
            "",
            0,
            "SYSTEM",
            "",
            at(7, 0),
            json!({"columnas": []}),
        ),
        ev(
            "a1",
            "TOMAR_SPOOL",
            A,
            93,
            "MR(93)",
            "ARM",
            at(8, 0),
            json!({"inicia_operacion": true, "device": "tab-1", "seq": 1}),
        ),
        ev(
            "a2",
            "COMPLETAR_ARM",
            A,
            93,
            "MR(93)",
            "ARM",
            at(9, 0),
            none.clone(),
        ),
        ev(
            "b1",
            "COMPLETAR_METROLOGIA",
            B,
            95,
            "MG(95)",
            "METROLOGIA",
            at(9, 10),
            json!({"resultado": "RECHAZADO", "origen": "SOLD"}),
        ),
        ev(
            "c1",
            "COMPLETAR_METROLOGIA",
            C,
            95,
            "MG(95)",
            "METROLOGIA",
            at(9, 20),
            json!({"resultado": "RECHAZADO", "origen": "ARM"}),
        ),
        ev(
            "a3",
            "TOMAR_SPOOL",
            A,
            94,
            "JP(94)",
            "SOLD",
            at(10, 0),
            json!({"inicia_operacion": true}),
        ),
        ev(
            "b2",
            "TOMAR_REPARACION",
            B,
            94,
            "JP(94)",
            "REPARACION",
            at(10, 5),
            none.clone(),
        ),
        ev(
            "d1",
            "TOMAR_SPOOL",
            D,
            93,
            "MR(93)",
            "ARM",
            at(10, 10),
            none.clone(),
        ),
        ev(
            "k-x1",
            "CONFLICTO",
            A,
            97,
            "JS(97)",
            "ARM",
            at(10, 20),
            json!({"command_id": "x1", "codigo": "SPOOL_OCUPADO", "ganador": "JP(94)", "retenidos": ["x2"], "device": "tab-2"}),
        ),
        ev(
            "d2",
            "PAUSAR_SPOOL",
            D,
            93,
            "MR(93)",
            "ARM",
            at(11, 0),
            none.clone(),
        ),
        ev(
            "b3",
            "COMPLETAR_REPARACION",
            B,
            94,
            "JP(94)",
            "REPARACION",
            at(11, 30),
            none.clone(),
        ),
        ev(
            "c2",
            "SUPERVISOR_OVERRIDE",
            C,
            96,
            "HC(96)",
            "REPARACION",
            at(12, 0),
            none.clone(),
        ),
        ev(
            "b4",
            "COMPLETAR_METROLOGIA",
            B,
            95,
            "MG(95)",
            "METROLOGIA",
            at(12, 30),
            json!({"resultado": "APROBADO"}),
        ),
        ev(
            "d3",
            "TOMAR_SPOOL",
            D,
            97,
            "JS(97)",
            "ARM",
            at(13, 0),
            none.clone(),
        ),
        ev(
            "d4",
            "CANCELAR_ARM",
            D,
            97,
            "JS(97)",
            "ARM",
            at(13, 30),
            none.clone(),
        ),
        ev(
            "f1",
            "TOMAR_SPOOL",
            F,
            93,
            "MR(93)",
            "ARM",
            at(14, 0),
            none.clone(),
        ),
        ev(
            "f2",
            "CANCELAR_ARM",
            F,
            93,
            "MR(93)",
            "ARM",
            at(14, 10),
            none,
        ),
    ];
    let acked = vec![
        tap("a1", "tab-1", 93, A, "TOMAR ARM"),
        tap("a2", "tab-1", 93, A, "COMPLETAR ARM"),
        tap("a3", "tab-3", 94, A, "TOMAR SOLD"),
        tap("b1", "tab-4", 95, B, "METROLOGIA RECHAZADO SOLD"),
        tap("b2", "tab-3", 94, B, "TOMAR REPARACION"),
        tap("b3", "tab-3", 94, B, "COMPLETAR REPARACION"),
        tap("b4", "tab-4", 95, B, "METROLOGIA APROBADO"),
        tap("c1", "tab-4", 95, C, "METROLOGIA RECHAZADO ARM"),
        tap("c2", "tab-5", 96, C, "OVERRIDE"),
        tap("d1", "tab-1", 93, D, "TOMAR ARM"),
        tap("d2", "tab-1", 93, D, "PAUSAR ARM"),
        tap("d3", "tab-2", 97, D, "TOMAR ARM"),
        tap("d4", "tab-2", 97, D, "CANCELAR ARM"),
        tap("f1", "tab-1", 93, F, "TOMAR ARM"),
        tap("f2", "tab-1", 93, F, "CANCELAR ARM"),
        tap("x1", "tab-2", 97, A, "TOMAR ARM"),
        tap("x2", "tab-2", 97, A, "PAUSAR ARM"),
    ];
    let replica: Vec<ReplicaRow> = fin.iter().map(Row::replica).collect();
    Scenario {
        initial_headers: APP_HEADERS.to_vec(),
        final_headers: APP_HEADERS.to_vec(),
        initial,
        fin,
        events,
        acked,
        initial_dates: Dates::Text,
        final_dates: Dates::Serial,
        replicas: vec![("tab-1".into(), replica.clone()), ("tab-2".into(), replica)],
    }
}

impl Scenario {
    fn fin_mut(&mut self, tag: &str) -> &mut Row {
        self.fin.iter_mut().find(|r| r.tag == tag).unwrap()
    }

    /// Replicas equal to the final rows again (after a test changed them).
    fn refresh_replicas(&mut self) {
        let rows: Vec<ReplicaRow> = self.fin.iter().map(Row::replica).collect();
        for (_, r) in &mut self.replicas {
            *r = rows.clone();
        }
    }

    fn book(&self, headers: &[&str], rows: &[Row], how: Dates, events: bool) -> Workbook {
        let (trab, roles) = workers_tabs();
        let mut ops = vec![headers.iter().map(|h| json!(h)).collect::<Vec<_>>()];
        ops.extend(rows.iter().map(|r| r.sheet(headers, how)));
        let mut meta = vec![META_HEADERS.iter().map(|h| json!(h)).collect::<Vec<_>>()];
        if events {
            meta.extend(self.events.iter().cloned());
        }
        Workbook::new()
            .with_tab("Operaciones", ops)
            .with_tab("Trabajadores", trab)
            .with_tab("Roles", roles)
            .with_tab("Metadata", meta)
    }

    fn input(&self) -> RunInput {
        RunInput {
            initial: self.book(
                &self.initial_headers,
                &self.initial,
                self.initial_dates,
                false,
            ),
            final_book: self.book(&self.final_headers, &self.fin, self.final_dates, true),
            appended_spools: Vec::new(),
            acked: self.acked.clone(),
            replicas: self
                .replicas
                .iter()
                .map(|(d, rows)| Replica {
                    device: d.clone(),
                    rows: rows.clone(),
                })
                .collect(),
        }
    }

    fn run(&self) -> Report {
        let r = check(&self.input());
        println!("{r}");
        r
    }
}

/// Only the named counters are non-zero (the rest of the report is clean).
fn only(r: &Report, expect: &[(&str, u64)]) {
    let all = [
        ("lost", r.lost),
        ("duplicated", r.duplicated),
        ("double_occupied", r.double_occupied),
        ("rule_violations", r.rule_violations),
        ("wrong_state", r.wrong_state),
        ("diverged", r.diverged),
    ];
    for (name, value) in all {
        let want = expect
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, v)| *v);
        assert_eq!(value, want, "{name}\n{r}");
    }
}

#[test]
fn a_clean_run_is_ok() {
    let r = clean().run();
    assert!(r.ok(), "{r}");
    assert_eq!(
        (r.commands, r.applied, r.conflicts, r.held, r.lost),
        (17, 15, 1, 1, 0)
    );
    assert_eq!(
        r.summary(1),
        "runs=1 commands=17 applied=15 conflicts=1 held=1 lost=0 duplicated=0 double_occupied=0 rule_violations=0 wrong_state=0 diverged=0"
    );
}

#[test]
fn two_tomar_without_release_is_a_double_occupant() {
    let mut s = clean();
    s.events.push(ev(
        "z1",
        "TOMAR_SPOOL",
        D,
        93,
        "MR(93)",
        "ARM",
        at(15, 0),
        json!({}),
    ));
    s.events.push(ev(
        "z2",
        "TOMAR_SPOOL",
        D,
        97,
        "JS(97)",
        "ARM",
        at(15, 5),
        json!({}),
    ));
    s.acked.push(tap("z1", "tab-1", 93, D, "TOMAR ARM"));
    s.acked.push(tap("z2", "tab-2", 97, D, "TOMAR ARM"));
    let d = s.fin_mut(D);
    d.ocupado_por = Some("JS(97)");
    d.fecha_ocupacion = Some(at(15, 5));
    d.operacion = Some("ARM");
    d.version = "z2";
    d.detalle = "JS(97) trabajando ARM (ARM en progreso, SOLD pendiente)";
    s.replicas.clear();
    let r = s.run();
    only(&r, &[("double_occupied", 1), ("rule_violations", 1)]);
}

#[test]
fn a_tap_acked_but_nowhere_is_lost() {
    let mut s = clean();
    s.acked.push(tap("ghost", "tab-1", 93, F, "TOMAR ARM"));
    let r = s.run();
    only(&r, &[("lost", 1)]);
    assert_eq!(r.count_details(Kind::Lost), 1);
}

#[test]
fn a_tap_with_two_metadata_rows_is_duplicated() {
    let mut s = clean();
    let again = s.events[2].clone();
    s.events.push(again);
    let r = s.run();
    only(&r, &[("duplicated", 1)]);
}

#[test]
fn a_tap_applied_and_refused_is_a_violation() {
    let mut s = clean();
    s.events.push(ev(
        "k-a2",
        "CONFLICTO",
        A,
        93,
        "MR(93)",
        "ARM",
        at(16, 0),
        json!({"command_id": "a2", "codigo": "CONFLICTO", "retenidos": []}),
    ));
    let r = s.run();
    only(&r, &[("duplicated", 1)]);
}

#[test]
fn a_held_command_is_held_not_lost() {
    let r = clean().run();
    assert_eq!((r.held, r.lost), (1, 0));
    // Without the retenidos list it has no outcome at all.
    let mut s = clean();
    let k = s.events.iter_mut().find(|e| e[0] == json!("k-x1")).unwrap();
    k[9] = json!(json!({"command_id": "x1", "retenidos": []}).to_string());
    let r = s.run();
    only(&r, &[("lost", 1)]);
}

#[test]
fn a_cycle_that_differs_from_the_model_is_wrong_state() {
    let mut s = clean();
    s.fin_mut(C).ciclo = 2;
    let r = s.run();
    only(&r, &[("wrong_state", 1), ("diverged", 2)]);
    assert!(
        r.details
            .iter()
            .any(|d| d.text.contains("Ciclo_Reparacion 2 (model 3)")),
        "{r}"
    );
}

#[test]
fn a_wrong_estado_detalle_is_wrong_state() {
    let mut s = clean();
    s.fin_mut(A).detalle = "Disponible - ARM completado, SOLD pendiente";
    s.replicas.clear();
    let r = s.run();
    only(&r, &[("wrong_state", 1)]);
    assert!(r.details[0].text.contains("Estado_Detalle"), "{r}");
}

#[test]
fn a_third_rejection_must_block() {
    let mut s = clean();
    s.events.retain(|e| e[0] != json!("c2"));
    s.acked.retain(|t| t.command_id != "c2");
    // The sheet shows a third rejection that did not block.
    s.fin_mut(C).version = "c1";
    s.replicas.clear();
    let r = s.run();
    only(&r, &[("wrong_state", 1)]);
    assert!(
        r.details[0]
            .text
            .contains("Estado_Reparacion \"PENDIENTE\" (model \"BLOQUEADO\")"),
        "{r}"
    );
}

#[test]
fn a_rejection_of_a_blocked_spool_breaks_the_rules() {
    let mut s = clean();
    let pos = s.events.iter().position(|e| e[0] == json!("c2")).unwrap();
    s.events.insert(
        pos,
        ev(
            "c9",
            "COMPLETAR_METROLOGIA",
            C,
            95,
            "MG(95)",
            "METROLOGIA",
            at(11, 50),
            json!({"resultado": "RECHAZADO", "origen": "ARM"}),
        ),
    );
    s.acked
        .push(tap("c9", "tab-4", 95, C, "METROLOGIA RECHAZADO ARM"));
    let r = s.run();
    only(&r, &[("rule_violations", 1)]);
    assert!(r.details[0].text.contains("BLOQUEADO"), "{r}");
}

#[test]
fn sold_before_arm_breaks_the_rules() {
    let mut s = clean();
    s.events.push(ev(
        "s1",
        "TOMAR_SPOOL",
        F,
        94,
        "JP(94)",
        "SOLD",
        at(15, 0),
        json!({}),
    ));
    s.acked.push(tap("s1", "tab-3", 94, F, "TOMAR SOLD"));
    let f = s.fin_mut(F);
    f.soldador = Some("JP(94)");
    f.ocupado_por = Some("JP(94)");
    f.fecha_ocupacion = Some(at(15, 0));
    f.operacion = Some("SOLD");
    f.version = "s1";
    f.detalle = "JP(94) trabajando SOLD (ARM pendiente, SOLD en progreso)";
    s.replicas.clear();
    let r = s.run();
    only(&r, &[("rule_violations", 1)]);
    assert!(r.details[0].text.contains("SOLD before ARM"), "{r}");
}

#[test]
fn an_untouched_row_keeps_the_text_it_started_with() {
    let legacy = "JS(97) trabajando ARM";
    let mut s = clean();
    s.initial.iter_mut().find(|r| r.tag == E).unwrap().detalle = legacy;
    s.fin_mut(E).detalle = legacy;
    s.refresh_replicas();
    assert!(s.run().ok());
    // Rewritten by someone into neither its old text nor the projection: wrong.
    s.fin_mut(E).detalle = "Disponible - ARM pendiente, SOLD pendiente";
    s.refresh_replicas();
    only(&s.run(), &[("wrong_state", 1)]);
}

#[test]
fn version_must_be_the_last_audit_id() {
    let mut s = clean();
    s.fin_mut(A).version = "a1";
    s.replicas.clear();
    let r = s.run();
    only(&r, &[("wrong_state", 1)]);
    assert!(r.details[0].text.contains("version"), "{r}");
}

#[test]
fn a_replica_that_differs_or_misses_a_spool_diverges() {
    let mut s = clean();
    let rows = &mut s.replicas[0].1;
    rows[3].insert("ocupado_por".into(), Some("MR(93)".into()));
    s.replicas[1].1.retain(|r| r["tag"].as_deref() != Some(E));
    let r = s.run();
    only(&r, &[("diverged", 2)]);
    assert!(
        r.details
            .iter()
            .any(|d| d.text.contains("device tab-1: MK-1-D: ocupado_por")),
        "{r}"
    );
    assert!(
        r.details
            .iter()
            .any(|d| d.text.contains("device tab-2: replica is missing MK-1-E")),
        "{r}"
    );
}

#[test]
fn a_tag_on_two_rows_is_wrong_state() {
    let mut s = clean();
    let twin = s.fin[0].clone();
    s.fin.push(twin);
    s.replicas.clear();
    let r = s.run();
    only(&r, &[("wrong_state", 1)]);
}

#[test]
fn inserted_columns_and_sorted_rows_are_still_ok() {
    let mut s = clean();
    let mut h = vec!["Cliente"];
    h.extend(APP_HEADERS[..6].iter());
    h.push("Notas");
    h.extend(APP_HEADERS[6..].iter().rev());
    s.final_headers = h;
    s.initial_headers = {
        let mut h = APP_HEADERS.to_vec();
        h.insert(1, "SPLIT");
        h
    };
    s.fin.reverse();
    s.initial.sort_by_key(|r| std::cmp::Reverse(r.tag));
    // TAG_SPOOL matches trimmed and case-insensitively.
    s.events[1][3] = json!(" mk-1-a ");
    let r = s.run();
    assert!(r.ok(), "{r}");
}

#[test]
fn serial_and_text_dates_are_the_same_dates() {
    for (first, last) in [
        (Dates::Serial, Dates::Text),
        (Dates::Legacy, Dates::Serial),
        (Dates::Text, Dates::Legacy),
    ] {
        let mut s = clean();
        s.initial_dates = first;
        s.final_dates = last;
        let r = s.run();
        assert!(r.ok(), "{r}");
    }
}

#[test]
fn a_spool_unblocked_by_hand_is_a_system_override() {
    let mut s = clean();
    let c2 = s.events.iter_mut().find(|e| e[0] == json!("c2")).unwrap();
    *c2 = ev(
        "sys-1",
        "SUPERVISOR_OVERRIDE",
        C,
        0,
        "SYSTEM",
        "REPARACION",
        at(12, 0),
        json!({"origen": "edicion_directa_planilla", "estado_anterior": "BLOQUEADO", "estado_nuevo": "PENDIENTE", "ciclo": 3}),
    );
    s.acked.retain(|t| t.command_id != "c2");
    // A SYSTEM row does not move `version`.
    s.fin_mut(C).version = "c1";
    for (_, rows) in &mut s.replicas {
        rows[2].insert("version".into(), Some("c1".into()));
    }
    let r = s.run();
    assert!(r.ok(), "{r}");
}

#[test]
fn a_hand_unblock_audited_after_the_repair_it_allowed_is_ok() {
    let mut s = clean();
    s.events.retain(|e| e[0] != json!("c2"));
    s.acked.retain(|t| t.command_id != "c2");
    s.events.push(ev(
        "r1",
        "TOMAR_REPARACION",
        C,
        93,
        "MR(93)",
        "REPARACION",
        at(12, 10),
        json!({}),
    ));
    s.events.push(ev(
        "sys-1",
        "SUPERVISOR_OVERRIDE",
        C,
        0,
        "SYSTEM",
        "REPARACION",
        at(12, 20),
        json!({"estado_anterior": "BLOQUEADO", "estado_nuevo": "PENDIENTE", "ciclo": 3}),
    ));
    s.acked.push(tap("r1", "tab-1", 93, C, "TOMAR REPARACION"));
    let c = s.fin_mut(C);
    c.ocupado_por = Some("MR(93)");
    c.fecha_ocupacion = Some(at(12, 10));
    c.operacion = Some("REPARACION");
    c.estado_rep = Some("EN_REPARACION");
    c.version = "r1";
    c.detalle = "MR(93) trabajando REPARACION (ARM completado, SOLD completado), EN_REPARACION (Ciclo 3/3) - Ocupado: MR(93)";
    s.refresh_replicas();
    let r = s.run();
    assert!(r.ok(), "{r}");
    assert_eq!(r.notes, 1, "{r}");
}

#[test]
fn a_pausar_by_someone_else_breaks_the_rules() {
    let mut s = clean();
    let d2 = s.events.iter_mut().find(|e| e[0] == json!("d2")).unwrap();
    d2[4] = json!(97);
    d2[5] = json!("JS(97)");
    s.acked
        .iter_mut()
        .find(|t| t.command_id == "d2")
        .unwrap()
        .worker_id = 97;
    let r = s.run();
    only(&r, &[("rule_violations", 1)]);
    assert!(r.details[0].text.contains("does not occupy"), "{r}");
}

#[test]
fn an_applied_row_unlike_the_tap_is_named() {
    let mut s = clean();
    s.acked
        .iter_mut()
        .find(|t| t.command_id == "a2")
        .unwrap()
        .intent = "PAUSAR ARM".into();
    let r = s.run();
    only(&r, &[("rule_violations", 1)]);
}

#[test]
fn the_dump_json_form_checks_the_same() {
    let s = clean();
    let mut input = s.input();
    let dump = json!({
        "spreadsheetId": "zeues-plant-sim",
        "sheets": input.final_book.tabs.iter().enumerate().map(|(i, (title, rows))| json!({
            "title": title, "sheetId": i, "frozenRowCount": 1, "rows": rows
        })).collect::<Vec<_>>()
    });
    input.final_book = Workbook::from_dump_json(&dump).unwrap();
    let r = check(&input);
    assert!(r.ok(), "{r}");
}

#[test]
fn appended_spools_start_where_engineering_left_them() {
    let mut s = clean();
    s.events.push(ev(
        "g1",
        "TOMAR_SPOOL",
        "MK-9-G",
        93,
        "MR(93)",
        "ARM",
        at(15, 0),
        json!({}),
    ));
    s.acked.push(tap("g1", "tab-1", 93, "MK-9-G", "TOMAR ARM"));
    s.fin.push(Row {
        tag: "MK-9-G",
        materiales: Some(day(4)),
        armador: Some("MR(93)"),
        ocupado_por: Some("MR(93)"),
        fecha_ocupacion: Some(at(15, 0)),
        operacion: Some("ARM"),
        version: "g1",
        detalle: "MR(93) trabajando ARM (ARM en progreso, SOLD pendiente)",
        ..Row::default()
    });
    s.replicas.clear();
    let mut input = s.input();
    let unknown = check(&input);
    only(&unknown, &[("wrong_state", 1), ("rule_violations", 1)]);
    input.appended_spools.push(
        [
            ("TAG_SPOOL", json!("MK-9-G")),
            ("Fecha_Materiales", json!("04-01-2026")),
            ("Cliente", json!("x")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
    );
    let r = check(&input);
    assert!(r.ok(), "{r}");
}

#[test]
fn reports_merge_over_runs() {
    let mut total = Report::default();
    total.merge(&clean().run());
    total.merge(&clean().run());
    assert!(total
        .summary(2)
        .starts_with("runs=2 commands=34 applied=30"));
    assert!(total.ok());
}
