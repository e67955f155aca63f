#![allow(clippy::unwrap_used)]
//! Unit tests per rule and per error code, and property tests over random command sequences.

use super::*;
use crate::domain::estado::{info_of, parse, project};
use chrono::NaiveDate;
use proptest::prelude::*;

fn at(h: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 3, 10)
        .unwrap()
        .and_hms_opt(h, 0, 0)
        .unwrap()
}

fn worker(id: u32, roles: &[Rol]) -> Worker {
    Worker {
        id,
        nombre: format!("N{id}"),
        apellido: format!("A{id}"),
        activo: true,
        roles: roles.to_vec(),
    }
}

fn ready() -> Spool {
    Spool {
        tag: "MK-1".into(),
        row: 2,
        fecha_materiales: NaiveDate::from_ymd_opt(2026, 1, 1),
        version: "0".into(),
        ..Spool::default()
    }
}

fn act(w: &Worker) -> Actor<'_> {
    Actor {
        worker: w,
        supervisor_verified: false,
    }
}

fn sup(w: &Worker) -> Actor<'_> {
    Actor {
        worker: w,
        supervisor_verified: true,
    }
}

fn run(s: &Spool, a: Actor<'_>, i: Intent) -> Result<Spool, DomainError> {
    apply(s, a, i, at(8), "cmd").map(|t| t.after)
}

fn code(r: Result<Spool, DomainError>) -> &'static str {
    r.err().map_or("OK", |e| e.code())
}

fn armado_y_soldado() -> Spool {
    let mut s = ready();
    s.armador = Some("NA(1)".into());
    s.soldador = Some("NA(2)".into());
    s.fecha_armado = NaiveDate::from_ymd_opt(2026, 2, 1);
    s.fecha_soldadura = NaiveDate::from_ymd_opt(2026, 2, 2);
    s
}

#[test]
fn tomar_arm_writes_exact_cells_and_event() {
    let w = worker(93, &[Rol::Armador]);
    let t = apply(
        &ready(),
        act(&w),
        Intent::Tomar(Operacion::Arm),
        at(8),
        "c1",
    )
    .unwrap();
    let cols: Vec<Col> = t.changes.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        cols,
        vec![
            Col::Armador,
            Col::OcupadoPor,
            Col::FechaOcupacion,
            Col::Version,
            Col::EstadoDetalle,
            Col::OperacionOcupacion,
            Col::OcupacionInicia
        ]
    );
    // The sheet records that this occupation started ARM (CANCELAR anywhere undoes it).
    assert_eq!(
        t.changes.last().map(|(_, v)| v.clone()),
        Some(CellValue::text("ARM"))
    );
    assert_eq!(t.after.ocupado_por.as_deref(), Some("NA(93)"));
    assert_eq!(
        t.after.estado_detalle,
        "NA(93) trabajando ARM (ARM en progreso, SOLD pendiente)"
    );
    assert_eq!(t.event.event_type, EventType::TomarSpool);
    assert_eq!(t.event.id, "c1");
    assert_eq!(t.event.accion, "TOMAR");
    assert_eq!(t.event.operacion, "ARM");
    assert_eq!(t.after.version, "c1");
}

#[test]
fn tomar_guards_in_order() {
    let armador = worker(1, &[Rol::Armador]);
    let soldador = worker(2, &[Rol::Soldador]);
    let metro = worker(3, &[Rol::Metrologia]);
    // Role first.
    assert_eq!(
        code(run(&ready(), act(&metro), Intent::Tomar(Operacion::Arm))),
        "ROL_NO_AUTORIZADO"
    );
    // Materials.
    let mut s = ready();
    s.fecha_materiales = None;
    assert_eq!(
        code(run(&s, act(&armador), Intent::Tomar(Operacion::Arm))),
        "DEPENDENCIAS_NO_SATISFECHAS"
    );
    // Already completed beats occupied.
    let mut s = ready();
    s.fecha_armado = NaiveDate::from_ymd_opt(2026, 1, 2);
    s.ocupado_por = Some("X(9)".into());
    assert_eq!(
        code(run(&s, act(&armador), Intent::Tomar(Operacion::Arm))),
        "OPERACION_YA_COMPLETADA"
    );
    // Occupied names the occupant.
    let taken = run(&ready(), act(&armador), Intent::Tomar(Operacion::Arm)).unwrap();
    let e = run(
        &taken,
        act(&worker(4, &[Rol::Armador])),
        Intent::Tomar(Operacion::Arm),
    )
    .unwrap_err();
    assert_eq!(e.code(), "SPOOL_OCUPADO");
    assert!(e.to_string().contains("NA(1)"), "{e}");
    // SOLD needs ARM initiated.
    assert_eq!(
        code(run(
            &ready(),
            act(&soldador),
            Intent::Tomar(Operacion::Sold)
        )),
        "DEPENDENCIAS_NO_SATISFECHAS"
    );
    let e = run(&ready(), act(&soldador), Intent::Tomar(Operacion::Sold)).unwrap_err();
    assert!(e.to_string().contains("falta ARM iniciado"));
    // ARM initiated (paused) is enough for SOLD.
    let paused = run(&taken, act(&armador), Intent::Pausar(Operacion::Arm)).unwrap();
    let s = run(&paused, act(&soldador), Intent::Tomar(Operacion::Sold)).unwrap();
    assert_eq!(s.soldador.as_deref(), Some("NA(2)"));
    assert_eq!(s.arm_state(), OpState::Pausado);
    assert_eq!(s.sold_state(), OpState::EnProgreso);
}

#[test]
fn inactive_worker_is_not_found() {
    let mut w = worker(1, &[Rol::Armador]);
    w.activo = false;
    assert_eq!(
        code(run(&ready(), act(&w), Intent::Tomar(Operacion::Arm))),
        "WORKER_NO_ENCONTRADO"
    );
}

#[test]
fn pausar_completar_only_by_the_occupant_for_that_operation() {
    let a = worker(1, &[Rol::Armador, Rol::Soldador]);
    let b = worker(2, &[Rol::Armador]);
    let taken = run(&ready(), act(&a), Intent::Tomar(Operacion::Arm)).unwrap();
    assert_eq!(
        code(run(&taken, act(&b), Intent::Pausar(Operacion::Arm))),
        "NO_ES_OCUPANTE"
    );
    assert_eq!(
        code(run(&ready(), act(&b), Intent::Completar(Operacion::Arm))),
        "NO_ES_OCUPANTE"
    );
    assert_eq!(
        code(run(&taken, act(&a), Intent::Pausar(Operacion::Sold))),
        "TRANSICION_INVALIDA"
    );
    let done = run(&taken, act(&a), Intent::Completar(Operacion::Arm)).unwrap();
    assert_eq!(done.fecha_armado, Some(at(8).date()));
    assert!(!done.is_occupied());
    assert_eq!(
        done.estado_detalle,
        "Disponible - ARM completado, SOLD pendiente"
    );
    // Resuming keeps the first Armador (the worker column is not overwritten).
    let paused = run(&taken, act(&a), Intent::Pausar(Operacion::Arm)).unwrap();
    let resumed = run(&paused, act(&b), Intent::Tomar(Operacion::Arm)).unwrap();
    assert_eq!(resumed.armador.as_deref(), Some("NA(1)"));
    assert_eq!(resumed.ocupado_por.as_deref(), Some("NA(2)"));
}

#[test]
fn cancelar_clears_worker_only_if_this_occupation_set_it() {
    let a = worker(1, &[Rol::Armador]);
    let b = worker(2, &[Rol::Armador]);
    let taken = run(&ready(), act(&a), Intent::Tomar(Operacion::Arm)).unwrap();
    let cancelled = run(&taken, act(&a), Intent::Cancelar(Operacion::Arm)).unwrap();
    assert_eq!(cancelled.armador, None);
    assert_eq!(cancelled.arm_state(), OpState::Pendiente);
    let paused = run(&taken, act(&a), Intent::Pausar(Operacion::Arm)).unwrap();
    let resumed = run(&paused, act(&b), Intent::Tomar(Operacion::Arm)).unwrap();
    let cancelled = run(&resumed, act(&b), Intent::Cancelar(Operacion::Arm)).unwrap();
    assert_eq!(cancelled.armador.as_deref(), Some("NA(1)"));
}

#[test]
fn metrologia_rules() {
    let m = worker(5, &[Rol::Metrologia]);
    let ok = |r| Intent::Metrologia {
        resultado: r,
        origen: Some(DefectoOrigen::Sold),
    };
    assert_eq!(
        code(run(&ready(), act(&m), ok(ResultadoMetrologia::Aprobado))),
        "DEPENDENCIAS_NO_SATISFECHAS"
    );
    let s = armado_y_soldado();
    let approved = run(&s, act(&m), ok(ResultadoMetrologia::Aprobado)).unwrap();
    assert_eq!(approved.fecha_qc_metrologia, Some(at(8).date()));
    assert_eq!(
        code(run(&approved, act(&m), ok(ResultadoMetrologia::Aprobado))),
        "OPERACION_YA_COMPLETADA"
    );
    let rejected = run(&s, act(&m), ok(ResultadoMetrologia::Rechazado)).unwrap();
    assert_eq!(rejected.fecha_qc_metrologia, None);
    assert_eq!(rejected.ciclo_reparacion, 1);
    assert_eq!(
        rejected.estado_reparacion,
        Some(EstadoReparacion::Pendiente)
    );
    assert_eq!(rejected.defecto_origen, Some(DefectoOrigen::Sold));
    assert_eq!(
        code(run(&rejected, act(&m), ok(ResultadoMetrologia::Aprobado))),
        "TRANSICION_INVALIDA"
    );
    let no_origin = Intent::Metrologia {
        resultado: ResultadoMetrologia::Rechazado,
        origen: None,
    };
    assert_eq!(code(run(&s, act(&m), no_origin)), "TRANSICION_INVALIDA");
    assert_eq!(
        code(run(&s, act(&m), Intent::Tomar(Operacion::Metrologia))),
        "TRANSICION_INVALIDA"
    );
    let a = worker(1, &[Rol::Armador]);
    assert_eq!(
        code(run(&s, act(&a), ok(ResultadoMetrologia::Aprobado))),
        "ROL_NO_AUTORIZADO"
    );
}

#[test]
fn repair_loop_blocks_after_three_rejections_and_override_allows_one_more() {
    let m = worker(5, &[Rol::Metrologia]);
    let sol = worker(2, &[Rol::Soldador]);
    let arm = worker(1, &[Rol::Armador]);
    let boss = worker(9, &[Rol::Supervisor]);
    let reject = Intent::Metrologia {
        resultado: ResultadoMetrologia::Rechazado,
        origen: Some(DefectoOrigen::Sold),
    };
    let mut s = armado_y_soldado();
    for cycle in 1..=3u8 {
        s = run(&s, act(&m), reject).unwrap();
        assert_eq!(s.ciclo_reparacion, cycle);
        if cycle < 3 {
            assert_eq!(
                code(run(&s, act(&arm), Intent::Tomar(Operacion::Reparacion))),
                "ROL_NO_AUTORIZADO"
            );
            s = run(&s, act(&sol), Intent::Tomar(Operacion::Reparacion)).unwrap();
            s = run(&s, act(&sol), Intent::Pausar(Operacion::Reparacion)).unwrap();
            assert!(s
                .estado_detalle
                .contains(&format!("REPARACION_PAUSADA (Ciclo {cycle}/3)")));
            s = run(&s, act(&sol), Intent::Tomar(Operacion::Reparacion)).unwrap();
            s = run(&s, act(&sol), Intent::Completar(Operacion::Reparacion)).unwrap();
            assert!(s.awaiting_inspection());
        }
    }
    assert!(s.is_blocked());
    assert!(s
        .estado_detalle
        .ends_with("BLOQUEADO - Contactar supervisor"));
    assert_eq!(
        code(run(&s, act(&sol), Intent::Tomar(Operacion::Reparacion))),
        "SPOOL_BLOQUEADO"
    );
    assert_eq!(code(run(&s, act(&m), reject)), "SPOOL_BLOQUEADO");
    assert_eq!(
        code(run(&s, act(&boss), Intent::Override)),
        "ROL_NO_AUTORIZADO"
    );
    assert_eq!(
        code(run(&s, act(&sol), Intent::Override)),
        "ROL_NO_AUTORIZADO"
    );
    s = run(&s, sup(&boss), Intent::Override).unwrap();
    assert_eq!(s.estado_reparacion, Some(EstadoReparacion::Pendiente));
    assert_eq!(s.ciclo_reparacion, 3);
    s = run(&s, act(&sol), Intent::Tomar(Operacion::Reparacion)).unwrap();
    s = run(&s, act(&sol), Intent::Completar(Operacion::Reparacion)).unwrap();
    // Another rejection blocks again; an approval resets the cycle.
    assert!(run(&s, act(&m), reject).unwrap().is_blocked());
    let approved = run(
        &s,
        act(&m),
        Intent::Metrologia {
            resultado: ResultadoMetrologia::Aprobado,
            origen: None,
        },
    )
    .unwrap();
    assert_eq!(approved.ciclo_reparacion, 0);
    assert_eq!(approved.estado_reparacion, None);
}

#[test]
fn repair_errors() {
    let sol = worker(2, &[Rol::Soldador]);
    let other = worker(3, &[Rol::Soldador]);
    assert_eq!(
        code(run(
            &armado_y_soldado(),
            act(&sol),
            Intent::Tomar(Operacion::Reparacion)
        )),
        "TRANSICION_INVALIDA"
    );
    let mut s = armado_y_soldado();
    s.resultado_metrologia = Some(ResultadoMetrologia::Rechazado);
    s.estado_reparacion = Some(EstadoReparacion::Pendiente);
    s.ciclo_reparacion = 1;
    let taken = run(&s, act(&sol), Intent::Tomar(Operacion::Reparacion)).unwrap();
    assert_eq!(
        code(run(
            &taken,
            act(&other),
            Intent::Tomar(Operacion::Reparacion)
        )),
        "SPOOL_OCUPADO"
    );
    assert_eq!(
        code(run(
            &taken,
            act(&other),
            Intent::Completar(Operacion::Reparacion)
        )),
        "NO_ES_OCUPANTE"
    );
    let cancelled = run(&taken, act(&sol), Intent::Cancelar(Operacion::Reparacion)).unwrap();
    assert_eq!(
        cancelled.estado_reparacion,
        Some(EstadoReparacion::Pendiente)
    );
}

#[test]
fn force_release_needs_a_verified_supervisor() {
    let a = worker(1, &[Rol::Armador]);
    let boss = worker(9, &[Rol::Supervisor]);
    let taken = run(&ready(), act(&a), Intent::Tomar(Operacion::Arm)).unwrap();
    let e = run(&taken, act(&boss), Intent::ForzarLiberacion).unwrap_err();
    assert_eq!(e, DomainError::SupervisorRequerido);
    let t = apply(&taken, sup(&boss), Intent::ForzarLiberacion, at(9), "f").unwrap();
    assert!(!t.after.is_occupied());
    assert_eq!(t.event.event_type, EventType::ForzarLiberacion);
    assert_eq!(t.event.metadata["ocupante_anterior"], "NA(1)");
    assert_eq!(
        code(run(&ready(), sup(&boss), Intent::ForzarLiberacion)),
        "TRANSICION_INVALIDA"
    );
    assert_eq!(
        code(run(&ready(), sup(&boss), Intent::Override)),
        "TRANSICION_INVALIDA"
    );
    // The occupant's later PAUSAR is refused: the supervisor took the spool back.
    assert_eq!(
        code(run(&t.after, act(&a), Intent::Pausar(Operacion::Arm))),
        "NO_ES_OCUPANTE"
    );
}

#[test]
fn every_error_code_has_a_spanish_message() {
    let errs = vec![
        DomainError::SpoolNoEncontrado { tag: "T".into() },
        DomainError::WorkerNoEncontrado { id: 3 },
        DomainError::SpoolOcupado {
            tag: "T".into(),
            por: "MR(93)".into(),
        },
        DomainError::SpoolBloqueado { tag: "T".into() },
        DomainError::DatosCorruptos {
            tag: "T".into(),
            column: "Fecha_Armado".into(),
            value: "x".into(),
        },
        DomainError::EsquemaIncompatible {
            tab: "Operaciones".into(),
            column: "Armador".into(),
            detalle: "falta la columna".into(),
        },
    ];
    assert_eq!(
        errs[2].to_string(),
        "El spool 'T' ya está ocupado por MR(93). Espera a que termine o elige otro spool."
    );
    for e in errs {
        assert!(!e.to_string().is_empty());
        assert!(e.code().chars().all(|c| c.is_ascii_uppercase() || c == '_'));
    }
}

// ---------------------------------------------------------------- property tests

fn workers() -> Vec<Worker> {
    vec![
        worker(1, &[Rol::Armador]),
        worker(2, &[Rol::Soldador]),
        worker(3, &[Rol::Ayudante]),
        worker(4, &[Rol::Armador, Rol::Soldador]),
        worker(5, &[Rol::Metrologia]),
        worker(6, &[Rol::Supervisor]),
    ]
}

fn intent_strategy() -> impl Strategy<Value = Intent> {
    let op = prop_oneof![
        Just(Operacion::Arm),
        Just(Operacion::Sold),
        Just(Operacion::Reparacion),
        Just(Operacion::Metrologia)
    ];
    let origen = prop_oneof![
        Just(None),
        Just(Some(DefectoOrigen::Arm)),
        Just(Some(DefectoOrigen::Sold))
    ];
    let res = prop_oneof![
        Just(ResultadoMetrologia::Aprobado),
        Just(ResultadoMetrologia::Rechazado)
    ];
    prop_oneof![
        4 => op.clone().prop_map(Intent::Tomar),
        2 => op.clone().prop_map(Intent::Pausar),
        3 => op.clone().prop_map(Intent::Completar),
        1 => op.prop_map(Intent::Cancelar),
        3 => (res, origen).prop_map(|(resultado, origen)| Intent::Metrologia { resultado, origen }),
        1 => Just(Intent::Override),
        1 => Just(Intent::ForzarLiberacion),
    ]
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

/// (spool index, worker index, intent, supervisor PIN verified)
type Step = (usize, usize, Intent, bool);

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (0..3usize, 0..6usize, intent_strategy(), any::<bool>()),
        1..80,
    )
}

/// DOMAIN.md §3's table, written again from the text alone (not from `apply`): whether the
/// action is allowed on `s`. The property test holds `apply` to it both ways.
fn domain_allows(s: &Spool, w: &Worker, intent: Intent, pin: bool) -> bool {
    let occupant = s.ocupado_por.as_deref().and_then(|t| {
        let inner = t.rsplit_once('(')?.1.strip_suffix(')')?;
        inner.parse::<u32>().ok()
    }) == Some(w.id);
    let free = s.ocupado_por.is_none();
    let armador = w.has(Rol::Armador);
    let soldador = w.has(Rol::Soldador);
    let ayudante = w.has(Rol::Ayudante);
    let repair_loop = matches!(
        s.estado_reparacion,
        Some(
            EstadoReparacion::Pendiente
                | EstadoReparacion::EnReparacion
                | EstadoReparacion::Pausada
                | EstadoReparacion::Bloqueado
        )
    );
    let occupied_for = |op: OpOcupacion| occupant && s.operacion_ocupacion == Some(op);
    match intent {
        Intent::Tomar(Operacion::Arm) => {
            (armador || ayudante)
                && s.fecha_materiales.is_some()
                && s.fecha_armado.is_none()
                && free
                && !repair_loop
        }
        Intent::Tomar(Operacion::Sold) => {
            (soldador || ayudante)
                && s.fecha_materiales.is_some()
                && s.fecha_soldadura.is_none()
                && free
                && !repair_loop
                && s.armador.is_some()
        }
        Intent::Pausar(Operacion::Arm)
        | Intent::Completar(Operacion::Arm)
        | Intent::Cancelar(Operacion::Arm) => occupied_for(OpOcupacion::Arm),
        Intent::Pausar(Operacion::Sold)
        | Intent::Completar(Operacion::Sold)
        | Intent::Cancelar(Operacion::Sold) => occupied_for(OpOcupacion::Sold),
        Intent::Tomar(Operacion::Reparacion) => {
            let role = match s.defecto_origen {
                Some(DefectoOrigen::Arm) => armador,
                Some(DefectoOrigen::Sold) => soldador,
                None => armador || soldador,
            };
            role && free
                && matches!(
                    s.estado_reparacion,
                    Some(EstadoReparacion::Pendiente | EstadoReparacion::Pausada)
                )
        }
        Intent::Pausar(Operacion::Reparacion)
        | Intent::Completar(Operacion::Reparacion)
        | Intent::Cancelar(Operacion::Reparacion) => {
            occupied_for(OpOcupacion::Reparacion)
                && s.estado_reparacion == Some(EstadoReparacion::EnReparacion)
        }
        Intent::Tomar(Operacion::Metrologia)
        | Intent::Pausar(Operacion::Metrologia)
        | Intent::Completar(Operacion::Metrologia)
        | Intent::Cancelar(Operacion::Metrologia) => false,
        Intent::Metrologia { resultado, origen } => {
            w.has(Rol::Metrologia)
                && s.fecha_armado.is_some()
                && s.fecha_soldadura.is_some()
                && free
                && (s.resultado_metrologia.is_none()
                    || s.estado_reparacion == Some(EstadoReparacion::Completada))
                && !s.is_blocked()
                && (resultado == ResultadoMetrologia::Aprobado || origen.is_some())
        }
        Intent::Override => w.has(Rol::Supervisor) && pin && s.is_blocked(),
        Intent::ForzarLiberacion => w.has(Rol::Supervisor) && pin && !free,
    }
}

/// `Estado_Detalle` as DOMAIN.md §3 spells it, built here from its literals.
fn domain_literal(s: &Spool) -> String {
    let word = |done: bool, worker: &Option<String>, op: OpOcupacion| {
        if done {
            "completado"
        } else if s.ocupado_por.is_some() && s.operacion_ocupacion == Some(op) {
            "en progreso"
        } else if worker.is_some() {
            "pausado"
        } else {
            "pendiente"
        }
    };
    let arm = word(s.fecha_armado.is_some(), &s.armador, OpOcupacion::Arm);
    let sold = word(s.fecha_soldadura.is_some(), &s.soldador, OpOcupacion::Sold);
    let mut out = match (&s.ocupado_por, s.operacion_ocupacion) {
        (Some(t), Some(op)) => {
            let op = match op {
                OpOcupacion::Arm => "ARM",
                OpOcupacion::Sold => "SOLD",
                OpOcupacion::Reparacion => "REPARACION",
            };
            format!("{t} trabajando {op} (ARM {arm}, SOLD {sold})")
        }
        _ => format!("Disponible - ARM {arm}, SOLD {sold}"),
    };
    let n = s.ciclo_reparacion;
    let tail = match (s.estado_reparacion, s.resultado_metrologia) {
        (Some(EstadoReparacion::Bloqueado), _) => "BLOQUEADO - Contactar supervisor".to_string(),
        (Some(EstadoReparacion::Pendiente), _) => {
            format!("RECHAZADO (Ciclo {n}/3) - Pendiente reparación")
        }
        (Some(EstadoReparacion::EnReparacion), _) => format!(
            "EN_REPARACION (Ciclo {n}/3) - Ocupado: {}",
            s.ocupado_por.clone().unwrap_or_default()
        ),
        (Some(EstadoReparacion::Pausada), _) => format!("REPARACION_PAUSADA (Ciclo {n}/3)"),
        (Some(EstadoReparacion::Completada), _) => format!("PENDIENTE_METROLOGIA (Ciclo {n}/3)"),
        (None, Some(ResultadoMetrologia::Aprobado)) => "METROLOGIA APROBADO ✓".to_string(),
        (None, _) => return out,
    };
    out.push_str(", ");
    out.push_str(&tail);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn random_sequences_keep_every_invariant(seq in steps(), no_materials in any::<bool>()) {
        let ws = workers();
        let mut spools: Vec<Spool> = (0..3)
            .map(|i| {
                let mut s = ready();
                s.tag = format!("T-{i}");
                if i == 1 {
                    // Start one spool at inspection so metrología and repairs are reached often.
                    s = armado_y_soldado();
                    s.tag = "T-1".into();
                }
                if i == 2 && no_materials {
                    s.fecha_materiales = None;
                }
                s.estado_detalle = project(&s);
                s
            })
            .collect();
        for (n, (si, wi, intent, pin)) in seq.into_iter().enumerate() {
            let before = spools[si].clone();
            let actor = Actor { worker: &ws[wi], supervisor_verified: pin };
            let id = format!("c{n}");
            match apply(&before, actor, intent, at(8), &id) {
                Ok(t) => {
                    let a = &t.after;
                    // Never two occupants: taking needs a free spool.
                    if matches!(intent, Intent::Tomar(_)) {
                        prop_assert!(before.ocupado_por.is_none());
                        prop_assert_eq!(a.ocupado_por.clone(), Some(ws[wi].token()));
                    }
                    prop_assert_eq!(a.ocupado_por.is_some(), a.operacion_ocupacion.is_some());
                    prop_assert!(a.ciclo_reparacion <= MAX_CICLOS);
                    if before.is_blocked() && !a.is_blocked() {
                        prop_assert_eq!(intent, Intent::Override);
                    }
                    if a.soldador.is_some() || a.fecha_soldadura.is_some() {
                        prop_assert!(a.armador.is_some(), "SOLD before ARM initiated: {:?}", a);
                    }
                    if a.resultado_metrologia.is_some() {
                        prop_assert!(a.fecha_armado.is_some() && a.fecha_soldadura.is_some());
                    }
                    if a.fecha_qc_metrologia.is_some() {
                        prop_assert_eq!(a.resultado_metrologia, Some(ResultadoMetrologia::Aprobado));
                    }
                    prop_assert!(
                        domain_allows(&before, &ws[wi], intent, pin),
                        "accepted what DOMAIN.md refuses: {:?} on {:?}", intent, before
                    );
                    prop_assert_eq!(&a.estado_detalle, &domain_literal(a));
                    prop_assert_eq!(parse(&a.estado_detalle), info_of(a));
                    if let Intent::Metrologia { resultado, .. } = intent {
                        match resultado {
                            ResultadoMetrologia::Rechazado => {
                                prop_assert_eq!(
                                    a.ciclo_reparacion,
                                    (before.ciclo_reparacion + 1).min(MAX_CICLOS)
                                );
                                prop_assert_eq!(a.is_blocked(), a.ciclo_reparacion == MAX_CICLOS);
                            }
                            ResultadoMetrologia::Aprobado => {
                                prop_assert_eq!(a.ciclo_reparacion, 0);
                                prop_assert_eq!(a.estado_reparacion, None);
                            }
                        }
                    } else {
                        prop_assert_eq!(a.ciclo_reparacion, before.ciclo_reparacion);
                    }
                    prop_assert_eq!(&a.version, &id);
                    prop_assert_eq!(&t.event.id, &id);
                    // The changes are exactly the written cells that differ.
                    for (c, v) in &t.changes {
                        prop_assert!(c.is_written());
                        prop_assert_eq!(v, &crate::domain::sheet::cell_of(a, *c));
                    }
                    if intent.needs_supervisor() {
                        prop_assert!(pin && ws[wi].has(Rol::Supervisor));
                    }
                    spools[si] = t.after;
                }
                Err(e) => {
                    prop_assert!(!e.to_string().is_empty());
                    prop_assert!(
                        !domain_allows(&before, &ws[wi], intent, pin),
                        "refused a valid action ({}): {:?} on {:?}", e, intent, before
                    );
                    if matches!(intent, Intent::Tomar(Operacion::Arm | Operacion::Sold))
                        && before.is_occupied()
                        && ws[wi].may_act(intent.operacion().unwrap_or(Operacion::Arm), None)
                        && before.fecha_materiales.is_some()
                        && e.code() != "OPERACION_YA_COMPLETADA"
                    {
                        prop_assert_eq!(e.code(), "SPOOL_OCUPADO");
                    }
                }
            }
        }
    }
}
