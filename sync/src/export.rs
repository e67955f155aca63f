//! `zeues export`: the plant's audit log and the occupation sessions derived from it, for a
//! date range, as one CSV a supervisor or a regulator can open in a spreadsheet.
//!
//! - Source: the `Metadata` tab (the record; DOMAIN.md §4) as read through the [`Workbook`]
//!   port, so plant and demo export alike. Rows of unknown event types are kept out, unreadable
//!   rows are reported, never silently dropped.
//! - One row per audit event (`Registro = AUDITORIA`) whose business date falls in the range,
//!   then one per occupation session (`Registro = OCUPACION`) that overlaps it. Sessions are
//!   computed from the spool's whole log, so one that started before `desde` has its true start.
//!   Last, the PRODUCCIÓN figures at `now` (`Registro = PRODUCCION`, one number per row).
//! - Safe to open: a value starting with `=`, `+`, `-`, `@`, tab or carriage return is prefixed
//!   with `'`, so Excel, LibreOffice or Sheets never evaluate it as a formula (CSV injection).
//!   UTF-8 with a byte-order mark, so Excel shows `Muñoz` and not `MuÃ±oz`.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};

use crate::domain::audit::AuditEvent;
use crate::domain::header::ColumnMap;
use crate::domain::history::history;
use crate::domain::produccion::{produccion, Produccion};
use crate::domain::sheet::{Grid, METADATA};
use crate::domain::time::{fmt_date, fmt_datetime};

pub const HEADER: [&str; 14] = [
    "Registro",
    "ID",
    "TAG_SPOOL",
    "Evento_Tipo",
    "Operacion",
    "Accion",
    "Worker_ID",
    "Trabajador",
    "Inicio",
    "Fin",
    "Duracion",
    "Dias",
    "Fecha_Operacion",
    "Detalle",
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExportError {
    #[error("fecha no válida '{0}': use DD-MM-YYYY (por ejemplo 01-03-2026)")]
    BadDate(String),
    #[error("el rango está invertido: --desde {desde} es posterior a --hasta {hasta}")]
    Reversed { desde: String, hasta: String },
    #[error("formato no soportado '{0}': use csv")]
    Format(String),
    #[error("la pestaña Metadata no se puede leer: {0}")]
    Schema(String),
}

/// `DD-MM-YYYY` (also `D-M-YYYY` and `/` separators).
pub fn parse_date(s: &str) -> Result<NaiveDate, ExportError> {
    let t = s.trim().replace('/', "-");
    NaiveDate::parse_from_str(&t, "%d-%m-%Y").map_err(|_| ExportError::BadDate(s.to_string()))
}

/// The events of `Metadata` (unknown event types skipped) and a description of each row that
/// could not be read.
pub fn decode_audit(grid: &Grid) -> Result<(Vec<AuditEvent>, Vec<String>), ExportError> {
    let map = ColumnMap::from_headers(&grid.headers);
    map.require_all(METADATA, &["ID", "Timestamp", "Evento_Tipo", "TAG_SPOOL"])
        .map_err(|e| ExportError::Schema(e.to_string()))?;
    let mut events = Vec::new();
    let mut problems = Vec::new();
    for (i, row) in grid.rows.iter().enumerate() {
        match AuditEvent::from_row(&map, row) {
            Ok(Some(e)) => events.push(e),
            Ok(None) => {}
            Err(e) => problems.push(format!("Metadata fila {}: {e}", i + 2)),
        }
    }
    Ok((events, problems))
}

/// One CSV field: formula-looking text neutralised, then quoted when needed (RFC 4180). The
/// same rule as the supervisor desk's export ([`crate::reports::csv_field`]).
pub fn field(v: &str) -> String {
    crate::reports::csv_field(v)
}

fn line(out: &mut String, cells: &[String]) {
    let fields: Vec<String> = cells.iter().map(|c| field(c)).collect();
    out.push_str(&fields.join(","));
    out.push_str("\r\n");
}

/// Counts of what an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Written {
    pub audit_rows: usize,
    pub sessions: usize,
    /// `Registro = PRODUCCION` rows: the supervisor's PRODUCCIÓN figures at `now`.
    pub produccion: usize,
}

/// The CSV text for `[desde, hasta]` (both included; business dates, plant time). `now` closes
/// sessions still open (their `Fin` stays empty and `Duracion` runs to `now`).
pub fn to_csv(
    events: &[AuditEvent],
    desde: NaiveDate,
    hasta: NaiveDate,
    now: NaiveDateTime,
) -> Result<(String, Written), ExportError> {
    if desde > hasta {
        return Err(ExportError::Reversed {
            desde: fmt_date(desde),
            hasta: fmt_date(hasta),
        });
    }
    let mut out = String::from("\u{feff}");
    line(&mut out, &HEADER.map(String::from));
    let mut written = Written::default();
    let mut sorted: Vec<&AuditEvent> = events.iter().collect();
    sorted.sort_by(|a, b| (a.timestamp, &a.tag).cmp(&(b.timestamp, &b.tag)));
    for e in &sorted {
        let day = e.fecha_operacion;
        if day < desde || day > hasta {
            continue;
        }
        let detalle = match &e.metadata {
            serde_json::Value::Null => String::new(),
            m => m.to_string(),
        };
        line(
            &mut out,
            &[
                "AUDITORIA".into(),
                e.id.clone(),
                e.tag.clone(),
                e.event_type.code().into(),
                e.operacion.clone(),
                e.accion.clone(),
                e.worker_id.to_string(),
                e.worker_nombre.clone(),
                fmt_datetime(e.timestamp),
                String::new(),
                String::new(),
                String::new(),
                fmt_date(day),
                detalle,
            ],
        );
        written.audit_rows += 1;
    }
    // Sessions per spool, from its whole log.
    let mut by_tag: BTreeMap<&str, Vec<AuditEvent>> = BTreeMap::new();
    for e in events.iter().filter(|e| !e.tag.is_empty()) {
        by_tag.entry(e.tag.as_str()).or_default().push(e.clone());
    }
    let mut sessions = Vec::new();
    for (tag, evs) in &by_tag {
        for s in history(evs, now).sessions {
            let end_day = s.end.unwrap_or(now).date();
            if s.start.date() > hasta || end_day < desde {
                continue;
            }
            sessions.push((s.start, tag.to_string(), s));
        }
    }
    sessions.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    for (_, tag, s) in sessions {
        line(
            &mut out,
            &[
                "OCUPACION".into(),
                String::new(),
                tag,
                String::new(),
                s.operacion.clone(),
                s.closed_by
                    .clone()
                    .unwrap_or_else(|| "EN_CURSO".to_string()),
                s.worker_id.to_string(),
                s.worker.clone(),
                fmt_datetime(s.start),
                s.end.map(fmt_datetime).unwrap_or_default(),
                s.duration.clone(),
                s.days.to_string(),
                fmt_date(s.start.date()),
                String::new(),
            ],
        );
        written.sessions += 1;
    }
    // The PRODUCCIÓN tab's figures, as the desk shows them now (one row per number).
    for cells in produccion_rows(&produccion(events, now)) {
        line(&mut out, &cells);
        written.produccion += 1;
    }
    Ok((out, written))
}

/// `Registro = PRODUCCION` rows: `ID` names the figure, `Operacion` its operation, `Accion`
/// the measure, `Fecha_Operacion` the day, hour or week, `Detalle` the number.
pub fn produccion_rows(p: &Produccion) -> Vec<Vec<String>> {
    let row = |figura: &str, op: &str, medida: &str, cuando: &str, valor: String| {
        let mut cells = vec![String::new(); HEADER.len()];
        cells[0] = "PRODUCCION".into();
        cells[1] = figura.into();
        cells[4] = op.into();
        cells[5] = medida.into();
        cells[12] = cuando.into();
        cells[13] = valor;
        cells
    };
    let mut rows = Vec::new();
    for s in &p.completados {
        for (dia, v) in p.dias.iter().zip(&s.valores) {
            rows.push(row(
                "COMPLETADOS_POR_DIA",
                &s.operacion,
                "cantidad",
                dia,
                v.to_string(),
            ));
        }
    }
    for s in &p.en_curso {
        for (hora, v) in p.horas.iter().zip(&s.valores) {
            rows.push(row(
                "EN_CURSO_HOY",
                &s.operacion,
                "spools",
                hora,
                v.to_string(),
            ));
        }
    }
    let minutes = |m: Option<f64>| m.map(|m| format!("{m:.1}")).unwrap_or_default();
    for t in &p.tiempos {
        for (i, semana) in p.semanas.iter().enumerate() {
            let get = |v: &Vec<Option<f64>>| v.get(i).copied().flatten();
            rows.push(row(
                "TIEMPO_POR_SEMANA",
                &t.operacion,
                "mediana_min",
                semana,
                minutes(get(&t.mediana_min)),
            ));
            rows.push(row(
                "TIEMPO_POR_SEMANA",
                &t.operacion,
                "p90_min",
                semana,
                minutes(get(&t.p90_min)),
            ));
            rows.push(row(
                "TIEMPO_POR_SEMANA",
                &t.operacion,
                "completados",
                semana,
                t.n.get(i).copied().unwrap_or(0).to_string(),
            ));
        }
    }
    for r in &p.rechazo {
        rows.push(row(
            "RECHAZO_POR_ORIGEN",
            "METROLOGIA",
            "inspecciones",
            &r.semana,
            r.inspecciones.to_string(),
        ));
        for (origen, n) in [("ARM", r.rechazos_arm), ("SOLD", r.rechazos_sold)] {
            rows.push(row(
                "RECHAZO_POR_ORIGEN",
                origen,
                "rechazos",
                &r.semana,
                n.to_string(),
            ));
            rows.push(row(
                "RECHAZO_POR_ORIGEN",
                origen,
                "tasa_%",
                &r.semana,
                format!("{:.1}", r.tasa(n)),
            ));
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::audit::EventType;

    fn at(day: u32, h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, day)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
    }

    fn ev(id: &str, day: u32, h: u32, t: EventType, who: &str) -> AuditEvent {
        AuditEvent {
            id: id.into(),
            timestamp: at(day, h),
            event_type: t,
            tag: "MK-1".into(),
            worker_id: 93,
            worker_nombre: who.into(),
            operacion: "ARM".into(),
            accion: "TOMAR".into(),
            fecha_operacion: at(day, h).date(),
            metadata: serde_json::json!({"device": "t1"}),
        }
    }

    #[test]
    fn formula_looking_values_are_neutralised_and_quoted() {
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("+56 9 1234"), "'+56 9 1234");
        assert_eq!(field("-1"), "'-1");
        assert_eq!(field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(field("\tcmd"), "'\tcmd");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("MR(93)"), "MR(93)");
        assert_eq!(field("Muñoz"), "Muñoz");
    }

    #[test]
    fn range_keeps_audit_rows_by_business_date_and_overlapping_sessions() {
        let evs = vec![
            ev("a", 1, 8, EventType::TomarSpool, "MR(93)"),
            ev("b", 3, 10, EventType::PausarSpool, "MR(93)"),
            ev("c", 5, 9, EventType::TomarSpool, "=cmd|' /C calc'!A0"),
        ];
        let (csv, n) = to_csv(
            &evs,
            NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
            NaiveDate::from_ymd_opt(2026, 3, 3).unwrap(),
            at(6, 12),
        )
        .unwrap();
        assert!(csv.starts_with('\u{feff}'));
        assert_eq!(n.audit_rows, 1, "{csv}");
        assert_eq!(n.sessions, 1, "the 1→3 session overlaps; {csv}");
        assert!(csv.contains("OCUPACION,,MK-1,,ARM,PAUSAR_SPOOL,93,MR(93),01-03-2026 08:00:00,03-03-2026 10:00:00,50h 0m,3,"), "{csv}");
        assert!(!csv.contains("calc"), "out of range: {csv}");
        let (csv, _) = to_csv(
            &evs,
            NaiveDate::from_ymd_opt(2026, 3, 5).unwrap(),
            NaiveDate::from_ymd_opt(2026, 3, 5).unwrap(),
            at(6, 12),
        )
        .unwrap();
        assert!(csv.contains("'=cmd|"), "{csv}");
        assert!(!csv.contains(",=cmd"), "{csv}");
        assert!(csv.contains("EN_CURSO"), "{csv}");
    }

    #[test]
    fn dates_and_reversed_ranges() {
        assert_eq!(
            parse_date("01-03-2026"),
            Ok(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap())
        );
        assert_eq!(
            parse_date("1/3/2026"),
            Ok(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap())
        );
        assert!(parse_date("2026-03-01").is_err());
        let d = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        assert!(matches!(
            to_csv(&[], d.succ_opt().unwrap(), d, at(1, 1)),
            Err(ExportError::Reversed { .. })
        ));
    }

    /// The PRODUCCIÓN tab's figures are in the CSV too, one number per row (issue 15).
    #[test]
    fn the_production_figures_are_rows_of_the_export() {
        let events = vec![
            ev("a", 2, 8, EventType::TomarSpool, "MR(93)"),
            ev("b", 2, 10, EventType::CompletarArm, "MR(93)"),
        ];
        let (csv, written) = to_csv(&events, at(1, 0).date(), at(2, 0).date(), at(2, 12)).unwrap();
        let p = produccion(&events, at(2, 12));
        assert_eq!(written.produccion, produccion_rows(&p).len());
        assert!(
            csv.contains("PRODUCCION,COMPLETADOS_POR_DIA,,,ARM,cantidad,,,,,,,02-03,1\r\n"),
            "{csv}"
        );
        // Two hours of ARM, completed this week: its median and p90.
        let week = p.semanas.last().unwrap();
        assert!(csv.contains(&format!(
            "PRODUCCION,TIEMPO_POR_SEMANA,,,ARM,mediana_min,,,,,,,{week},120.0\r\n"
        )));
        assert!(csv.contains(&format!(
            "PRODUCCION,TIEMPO_POR_SEMANA,,,ARM,p90_min,,,,,,,{week},120.0\r\n"
        )));
    }
}
