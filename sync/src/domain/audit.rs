//! The `Metadata` audit log: one schema for every event, one row per applied command.

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::cell::{parse_date, parse_datetime, CellValue, RawCell};
use super::header::ColumnMap;
use super::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    TomarSpool,
    PausarSpool,
    CompletarArm,
    CompletarSold,
    CancelarArm,
    CancelarSold,
    CompletarMetrologia,
    TomarReparacion,
    PausarReparacion,
    CompletarReparacion,
    CancelarReparacion,
    SupervisorOverride,
    ForzarLiberacion,
    Conflicto,
    /// A supervisor closed a conflict without re-applying it (the held commands with it).
    ConflictoDescartado,
    MigracionEsquema,
}

impl EventType {
    pub const ALL: [EventType; 16] = [
        EventType::TomarSpool,
        EventType::PausarSpool,
        EventType::CompletarArm,
        EventType::CompletarSold,
        EventType::CancelarArm,
        EventType::CancelarSold,
        EventType::CompletarMetrologia,
        EventType::TomarReparacion,
        EventType::PausarReparacion,
        EventType::CompletarReparacion,
        EventType::CancelarReparacion,
        EventType::SupervisorOverride,
        EventType::ForzarLiberacion,
        EventType::Conflicto,
        EventType::ConflictoDescartado,
        EventType::MigracionEsquema,
    ];

    pub fn code(self) -> &'static str {
        match self {
            EventType::TomarSpool => "TOMAR_SPOOL",
            EventType::PausarSpool => "PAUSAR_SPOOL",
            EventType::CompletarArm => "COMPLETAR_ARM",
            EventType::CompletarSold => "COMPLETAR_SOLD",
            EventType::CancelarArm => "CANCELAR_ARM",
            EventType::CancelarSold => "CANCELAR_SOLD",
            EventType::CompletarMetrologia => "COMPLETAR_METROLOGIA",
            EventType::TomarReparacion => "TOMAR_REPARACION",
            EventType::PausarReparacion => "PAUSAR_REPARACION",
            EventType::CompletarReparacion => "COMPLETAR_REPARACION",
            EventType::CancelarReparacion => "CANCELAR_REPARACION",
            EventType::SupervisorOverride => "SUPERVISOR_OVERRIDE",
            EventType::ForzarLiberacion => "FORZAR_LIBERACION",
            EventType::Conflicto => "CONFLICTO",
            EventType::ConflictoDescartado => "CONFLICTO_DESCARTADO",
            EventType::MigracionEsquema => "MIGRACION_ESQUEMA",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let t = s.trim();
        EventType::ALL.into_iter().find(|e| e.code() == t)
    }
}

/// Headers of the Metadata tab, in the order a new workbook gets them.
pub const METADATA_HEADERS: [&str; 10] = [
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// The command id (UUID v4); the proof that a command landed.
    pub id: String,
    /// When the worker acted, plant time.
    pub timestamp: NaiveDateTime,
    pub event_type: EventType,
    pub tag: String,
    /// 0 = SYSTEM.
    pub worker_id: u32,
    pub worker_nombre: String,
    pub operacion: String,
    pub accion: String,
    pub fecha_operacion: NaiveDate,
    pub metadata: serde_json::Value,
}

impl AuditEvent {
    /// The row in `Metadata`, laid out by that tab's header map. Columns the map lacks are
    /// skipped (the required ones are checked before writing).
    pub fn to_row(&self, map: &ColumnMap) -> Vec<CellValue> {
        let width = map.width().max(METADATA_HEADERS.len());
        let mut row = vec![CellValue::Empty; width];
        let values = [
            CellValue::text(self.id.clone()),
            CellValue::DateTime(self.timestamp),
            CellValue::text(self.event_type.code()),
            CellValue::text(self.tag.clone()),
            CellValue::Number(f64::from(self.worker_id)),
            CellValue::text(self.worker_nombre.clone()),
            CellValue::text(self.operacion.clone()),
            CellValue::text(self.accion.clone()),
            CellValue::Date(self.fecha_operacion),
            CellValue::text(self.metadata.to_string()),
        ];
        for (name, value) in METADATA_HEADERS.iter().zip(values) {
            if let Some(i) = map.find(name) {
                if i < row.len() {
                    row[i] = value;
                }
            }
        }
        while matches!(row.last(), Some(CellValue::Empty)) {
            row.pop();
        }
        row
    }

    /// Reads a Metadata row. Rows of event types this version does not know (v2.1 `INICIAR_*`,
    /// v4.0 events) are returned as `Ok(None)`: they are kept in the sheet, just not interpreted.
    pub fn from_row(map: &ColumnMap, row: &[RawCell]) -> Result<Option<AuditEvent>, DomainError> {
        let cell = |name: &str| -> &RawCell {
            map.find(name)
                .and_then(|i| row.get(i))
                .unwrap_or(&RawCell::Empty)
        };
        let id = cell("ID").text().unwrap_or_default();
        let Some(event_type) = cell("Evento_Tipo")
            .text()
            .and_then(|t| EventType::parse(&t))
        else {
            return Ok(None);
        };
        let tag = cell("TAG_SPOOL").text().unwrap_or_default();
        let corrupt = |column: &str, raw: &RawCell| DomainError::DatosCorruptos {
            tag: tag.clone(),
            column: format!("Metadata.{column}"),
            value: raw.shown(),
        };
        let ts_raw = cell("Timestamp");
        let timestamp = parse_datetime(ts_raw)
            .map_err(|_| corrupt("Timestamp", ts_raw))?
            .ok_or_else(|| corrupt("Timestamp", ts_raw))?;
        let f_raw = cell("Fecha_Operacion");
        let fecha_operacion = parse_date(f_raw)
            .map_err(|_| corrupt("Fecha_Operacion", f_raw))?
            .unwrap_or(timestamp.date());
        let wid_raw = cell("Worker_ID");
        let worker_id = match wid_raw {
            RawCell::Empty => 0,
            RawCell::Number(n) if n.fract() == 0.0 && *n >= 0.0 => *n as u32,
            other => other
                .text()
                .and_then(|t| t.parse::<u32>().ok())
                .ok_or_else(|| corrupt("Worker_ID", other))?,
        };
        let metadata = cell("Metadata_JSON")
            .text()
            .map(|t| serde_json::from_str(&t).unwrap_or(serde_json::Value::String(t)))
            .unwrap_or(serde_json::Value::Null);
        Ok(Some(AuditEvent {
            id,
            timestamp,
            event_type,
            tag,
            worker_id,
            worker_nombre: cell("Worker_Nombre").text().unwrap_or_default(),
            operacion: cell("Operacion").text().unwrap_or_default(),
            accion: cell("Accion").text().unwrap_or_default(),
            fecha_operacion,
            metadata,
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn row_round_trip_through_shuffled_headers() {
        let mut headers: Vec<String> = METADATA_HEADERS.iter().map(|s| s.to_lowercase()).collect();
        headers.reverse();
        let map = ColumnMap::from_headers(&headers);
        let ev = AuditEvent {
            id: "abc".into(),
            timestamp: NaiveDate::from_ymd_opt(2026, 1, 2)
                .unwrap()
                .and_hms_opt(3, 4, 5)
                .unwrap(),
            event_type: EventType::TomarSpool,
            tag: "T-1".into(),
            worker_id: 93,
            worker_nombre: "MR(93)".into(),
            operacion: "ARM".into(),
            accion: "TOMAR".into(),
            fecha_operacion: NaiveDate::from_ymd_opt(2026, 1, 2).unwrap(),
            metadata: serde_json::json!({"device": "d1"}),
        };
        let raw: Vec<RawCell> = ev.to_row(&map).iter().map(CellValue::to_raw).collect();
        assert_eq!(AuditEvent::from_row(&map, &raw).unwrap().unwrap(), ev);
    }

    #[test]
    fn unknown_events_are_kept_not_interpreted() {
        let map = ColumnMap::from_headers(
            &METADATA_HEADERS
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        );
        let row = vec![
            RawCell::Text("x".into()),
            RawCell::Text("2026-01-28T16:56:25.026880Z".into()),
            RawCell::Text("INICIAR_ARM".into()),
        ];
        assert_eq!(AuditEvent::from_row(&map, &row).unwrap(), None);
    }
}
