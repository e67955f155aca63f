//! The plain inputs besides the workbooks: what workers were told succeeded (the acked-tap
//! log) and each device's replica rows.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

use crate::CheckerError;

/// A tap a worker was told succeeded (queued or applied: the promise is the same).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckedTap {
    pub command_id: String,
    #[serde(default)]
    pub device: String,
    #[serde(default)]
    pub worker_id: u32,
    #[serde(default)]
    pub tag: String,
    /// `TOMAR ARM`, `PAUSAR SOLD`, `COMPLETAR REPARACION`, `CANCELAR ARM`,
    /// `METROLOGIA APROBADO`, `METROLOGIA RECHAZADO ARM`, `OVERRIDE`, `FORZAR_LIBERACION`.
    #[serde(default)]
    pub intent: String,
}

/// Parses a JSON-lines acked log. A last line that does not parse is a write torn by a
/// `kill -9` and is dropped; a bad line anywhere else is an error.
pub fn parse_acked_jsonl(text: &str) -> Result<Vec<AckedTap>, CheckerError> {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let mut out = Vec::with_capacity(lines.len());
    for (k, (n, line)) in lines.iter().enumerate() {
        match serde_json::from_str::<AckedTap>(line) {
            Ok(tap) => out.push(tap),
            // Torn tail: the process died mid-write; that tap was never acknowledged.
            Err(_) if k + 1 == lines.len() => {}
            Err(e) => {
                return Err(CheckerError::Input(format!(
                    "acked log line {}: {e}",
                    n + 1
                )))
            }
        }
    }
    Ok(out)
}

/// [`parse_acked_jsonl`] of a file.
pub fn read_acked_jsonl(path: &Path) -> Result<Vec<AckedTap>, CheckerError> {
    let bytes =
        std::fs::read(path).map_err(|e| CheckerError::Io(format!("{}: {e}", path.display())))?;
    // A torn write may also cut a multi-byte character.
    parse_acked_jsonl(&String::from_utf8_lossy(&bytes))
}

/// One replica row: column name of the device DB's `spools` table → text (`None` = NULL).
pub type ReplicaRow = BTreeMap<String, Option<String>>;

/// A device's replica after it drained.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replica {
    pub device: String,
    pub rows: Vec<ReplicaRow>,
}

/// The `spools` columns a replica row carries.
pub const REPLICA_COLUMNS: [&str; 18] = [
    "tag",
    "row",
    "nv",
    "fecha_materiales",
    "armador",
    "fecha_armado",
    "soldador",
    "fecha_soldadura",
    "fecha_qc_metrologia",
    "ocupado_por",
    "fecha_ocupacion",
    "operacion_ocupacion",
    "resultado_metrologia",
    "ciclo_reparacion",
    "estado_reparacion",
    "defecto_origen",
    "version",
    "estado_detalle",
];

/// Reads a device database's `spools` table, read-only, every value as text.
pub fn read_replica(path: &Path) -> Result<Vec<ReplicaRow>, CheckerError> {
    let db = |e: rusqlite::Error| CheckerError::Io(format!("{}: {e}", path.display()));
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(db)?;
    let select = REPLICA_COLUMNS
        .iter()
        .map(|c| format!("CAST(\"{c}\" AS TEXT)"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut stmt = conn
        .prepare(&format!("SELECT {select} FROM spools"))
        .map_err(db)?;
    let rows = stmt
        .query_map([], |r| {
            let mut row = ReplicaRow::new();
            for (i, c) in REPLICA_COLUMNS.iter().enumerate() {
                row.insert((*c).to_string(), r.get::<_, Option<String>>(i)?);
            }
            Ok(row)
        })
        .map_err(db)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(db)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_torn_last_line_is_dropped_but_a_torn_middle_is_an_error() {
        let ok = "{\"command_id\":\"a\",\"device\":\"d1\",\"worker_id\":93,\"tag\":\"T\",\"intent\":\"TOMAR ARM\"}\n";
        let torn = format!("{ok}{ok}{{\"command_id\":\"b\",\"dev");
        assert_eq!(parse_acked_jsonl(&torn).unwrap().len(), 2);
        let middle = format!("{{\"command_id\":\n{ok}");
        assert!(parse_acked_jsonl(&middle).is_err());
    }

    #[test]
    fn replica_rows_read_back_as_text() {
        let path =
            std::env::temp_dir().join(format!("zeues-checker-replica-{}.db", std::process::id()));
        if path.exists() {
            std::fs::remove_file(&path).unwrap();
        }
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE spools (tag TEXT PRIMARY KEY, row INTEGER, nv TEXT, fecha_materiales TEXT,
                 armador TEXT, fecha_armado TEXT, soldador TEXT, fecha_soldadura TEXT,
                 fecha_qc_metrologia TEXT, ocupado_por TEXT, fecha_ocupacion TEXT,
                 operacion_ocupacion TEXT, resultado_metrologia TEXT, ciclo_reparacion INTEGER,
                 estado_reparacion TEXT, defecto_origen TEXT, version TEXT, estado_detalle TEXT,
                 occupation_set_worker INTEGER);
                 INSERT INTO spools (tag, row, ciclo_reparacion, version) VALUES ('T-1', 2, 3, 'v');",
            )
            .unwrap();
        }
        let rows = read_replica(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["ciclo_reparacion"].as_deref(), Some("3"));
        assert_eq!(rows[0]["armador"], None);
    }
}
