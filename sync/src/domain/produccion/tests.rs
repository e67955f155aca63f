#![allow(clippy::unwrap_used)]

use super::*;
use chrono::NaiveDate;

fn at(day: u32, h: u32, m: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 12, day)
        .unwrap()
        .and_hms_opt(h, m, 0)
        .unwrap()
}

fn ev(
    when: NaiveDateTime,
    t: EventType,
    tag: &str,
    op: &str,
    meta: serde_json::Value,
) -> AuditEvent {
    AuditEvent {
        id: format!("{tag}-{when}-{}", t.code()),
        timestamp: when,
        event_type: t,
        tag: tag.into(),
        worker_id: 93,
        worker_nombre: "MR(93)".into(),
        operacion: op.into(),
        accion: String::new(),
        fecha_operacion: when.date(),
        metadata: meta,
    }
}

fn plain(when: NaiveDateTime, t: EventType, tag: &str, op: &str) -> AuditEvent {
    ev(when, t, tag, op, serde_json::Value::Null)
}

/// Thursday 3 December 2026 at 10:30; week 2026-S49 starts Monday 30 November.
fn now() -> NaiveDateTime {
    at(3, 10, 30)
}

#[test]
fn completions_per_day_and_operation_over_fourteen_days() {
    let log = vec![
        plain(at(3, 8, 0), EventType::CompletarArm, "A", "ARM"),
        plain(at(3, 9, 0), EventType::CompletarArm, "B", "ARM"),
        plain(at(2, 9, 0), EventType::CompletarSold, "A", "SOLD"),
        // 20 November is 14 days before 3 December: one day too old.
        ev(
            NaiveDate::from_ymd_opt(2026, 11, 19)
                .unwrap()
                .and_hms_opt(9, 0, 0)
                .unwrap(),
            EventType::CompletarArm,
            "OLD",
            "ARM",
            serde_json::Value::Null,
        ),
    ];
    let p = produccion(&log, now());
    assert_eq!(p.dias.len(), DIAS);
    assert_eq!(p.dias.first().unwrap(), "20-11");
    assert_eq!(p.dias.last().unwrap(), "03-12");
    let serie = |op: &str| {
        p.completados
            .iter()
            .find(|s| s.operacion == op)
            .unwrap()
            .valores
            .clone()
    };
    assert_eq!(serie("ARM")[DIAS - 1], 2);
    assert_eq!(serie("ARM").iter().sum::<u32>(), 2);
    assert_eq!(serie("SOLD")[DIAS - 2], 1);
    assert_eq!(p.eventos, 4);
}

#[test]
fn work_in_progress_counts_sessions_open_at_each_hour_of_the_shift() {
    let log = vec![
        // Taken yesterday evening, still open: in progress from the shift's start.
        plain(at(2, 20, 0), EventType::TomarSpool, "A", "ARM"),
        // 07:10–09:20 SOLD.
        plain(at(3, 7, 10), EventType::TomarSpool, "B", "SOLD"),
        plain(at(3, 9, 20), EventType::PausarSpool, "B", "SOLD"),
        // 08:00 REPARACION, open.
        plain(at(3, 8, 0), EventType::TomarReparacion, "C", "REPARACION"),
    ];
    let p = produccion(&log, now());
    // Work was in progress at midnight: the chart starts there.
    assert_eq!(p.horas.first().unwrap(), "00:00");
    assert_eq!(p.horas.last().unwrap(), "10:30");
    let i = |h: &str| p.horas.iter().position(|x| x == h).unwrap();
    let serie = |op: &str| {
        p.en_curso
            .iter()
            .find(|s| s.operacion == op)
            .unwrap()
            .valores
            .clone()
    };
    assert_eq!(serie("ARM")[i("06:00")], 1);
    assert_eq!(serie("SOLD")[i("07:00")], 0);
    assert_eq!(serie("SOLD")[i("08:00")], 1);
    assert_eq!(serie("SOLD")[i("09:00")], 1);
    assert_eq!(serie("SOLD")[i("10:00")], 0);
    assert_eq!(serie("REPARACION")[i("08:00")], 1);
    assert_eq!(serie("REPARACION")[i("10:30")], 1);
}

#[test]
fn an_operation_s_time_sums_its_sessions_up_to_completar_in_that_week() {
    let log = vec![
        // Spool A: ARM 60 min, pause, 30 min more, COMPLETAR on Wednesday: 90 min this week.
        plain(at(2, 7, 0), EventType::TomarSpool, "A", "ARM"),
        plain(at(2, 8, 0), EventType::PausarSpool, "A", "ARM"),
        plain(at(2, 9, 0), EventType::TomarSpool, "A", "ARM"),
        plain(at(2, 9, 30), EventType::CompletarArm, "A", "ARM"),
        // Spool B: 30 min; spool C: 120 min; spool D: cancelled after 500 min, then 10 min.
        plain(at(1, 7, 0), EventType::TomarSpool, "B", "ARM"),
        plain(at(1, 7, 30), EventType::CompletarArm, "B", "ARM"),
        plain(at(1, 10, 0), EventType::TomarSpool, "C", "ARM"),
        plain(at(1, 12, 0), EventType::CompletarArm, "C", "ARM"),
        plain(at(1, 0, 0), EventType::TomarSpool, "D", "ARM"),
        plain(at(1, 8, 20), EventType::CancelarArm, "D", "ARM"),
        plain(at(1, 9, 0), EventType::TomarSpool, "D", "ARM"),
        plain(at(1, 9, 10), EventType::CompletarArm, "D", "ARM"),
    ];
    let p = produccion(&log, now());
    assert_eq!(p.semanas.len(), SEMANAS);
    assert_eq!(p.semanas.last().unwrap(), "2026-S49");
    let arm = p.tiempos.iter().find(|t| t.operacion == "ARM").unwrap();
    let w = SEMANAS - 1;
    assert_eq!(arm.n[w], 4);
    // 10, 30, 90, 120 → median 60, p90 120 (nearest rank).
    assert_eq!(arm.mediana_min[w], Some(60.0));
    assert_eq!(arm.p90_min[w], Some(120.0));
    assert_eq!(arm.mediana_min[w - 1], None);
}

#[test]
fn rejection_rate_by_origin_per_week() {
    let rej = |d, tag, origen: &str| {
        ev(
            at(d, 9, 0),
            EventType::CompletarMetrologia,
            tag,
            "METROLOGIA",
            serde_json::json!({"resultado": "RECHAZADO", "origen": origen, "ciclo": 1}),
        )
    };
    let log = vec![
        rej(1, "A", "SOLD"),
        rej(2, "B", "SOLD"),
        rej(2, "C", "ARM"),
        ev(
            at(3, 9, 0),
            EventType::CompletarMetrologia,
            "D",
            "METROLOGIA",
            serde_json::json!({"resultado": "APROBADO"}),
        ),
    ];
    let p = produccion(&log, now());
    let w = p.rechazo.last().unwrap();
    assert_eq!((w.inspecciones, w.rechazos_arm, w.rechazos_sold), (4, 1, 2));
    assert_eq!(w.tasa(w.rechazos_sold), 50.0);
    assert_eq!(p.rechazo[0].tasa(0), 0.0);
}
