//! Replica rows ↔ [`Spool`]. Dates are stored as ISO text so the file stays readable by hand.

use chrono::{NaiveDate, NaiveDateTime};
use rusqlite::{params, Connection, Row};

use super::{Result, StoreError};
use crate::domain::{DefectoOrigen, EstadoReparacion, OpOcupacion, ResultadoMetrologia, Spool};

pub const SPOOL_COLUMNS: &str = "tag, row, nv, fecha_materiales, armador, fecha_armado, soldador, \
    fecha_soldadura, fecha_qc_metrologia, ocupado_por, fecha_ocupacion, operacion_ocupacion, \
    resultado_metrologia, ciclo_reparacion, estado_reparacion, defecto_origen, version, \
    estado_detalle, occupation_set_worker";

const DATE: &str = "%Y-%m-%d";
const DATETIME: &str = "%Y-%m-%dT%H:%M:%S";

fn decode_err(what: &str, v: &str) -> StoreError {
    StoreError::Decode {
        what: what.to_string(),
        detail: v.to_string(),
    }
}

fn date(v: Option<String>, what: &str) -> Result<Option<NaiveDate>> {
    v.map(|s| NaiveDate::parse_from_str(&s, DATE).map_err(|_| decode_err(what, &s)))
        .transpose()
}

fn datetime(v: Option<String>, what: &str) -> Result<Option<NaiveDateTime>> {
    v.map(|s| NaiveDateTime::parse_from_str(&s, DATETIME).map_err(|_| decode_err(what, &s)))
        .transpose()
}

fn parsed<T>(v: Option<String>, what: &str, f: fn(&str) -> Option<T>) -> Result<Option<T>> {
    v.map(|s| f(&s).ok_or_else(|| decode_err(what, &s)))
        .transpose()
}

/// Reads a row selected with [`SPOOL_COLUMNS`].
pub fn spool_from_row(r: &Row<'_>) -> Result<Spool> {
    Ok(Spool {
        tag: r.get(0)?,
        row: r.get(1)?,
        nv: r.get(2)?,
        fecha_materiales: date(r.get(3)?, "fecha_materiales")?,
        armador: r.get(4)?,
        fecha_armado: date(r.get(5)?, "fecha_armado")?,
        soldador: r.get(6)?,
        fecha_soldadura: date(r.get(7)?, "fecha_soldadura")?,
        fecha_qc_metrologia: date(r.get(8)?, "fecha_qc_metrologia")?,
        ocupado_por: r.get(9)?,
        fecha_ocupacion: datetime(r.get(10)?, "fecha_ocupacion")?,
        operacion_ocupacion: parsed(r.get(11)?, "operacion_ocupacion", OpOcupacion::parse)?,
        resultado_metrologia: parsed(
            r.get(12)?,
            "resultado_metrologia",
            ResultadoMetrologia::parse,
        )?,
        ciclo_reparacion: r.get(13)?,
        estado_reparacion: parsed(r.get(14)?, "estado_reparacion", EstadoReparacion::parse)?,
        defecto_origen: parsed(r.get(15)?, "defecto_origen", DefectoOrigen::parse)?,
        version: r.get(16)?,
        estado_detalle: r.get(17)?,
        occupation_set_worker: r.get(18)?,
    })
}

pub fn write_spool(conn: &Connection, s: &Spool) -> Result<()> {
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO spools ({SPOOL_COLUMNS}) VALUES
         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
    ))?;
    stmt.execute(params![
        s.tag,
        s.row,
        s.nv,
        s.fecha_materiales.map(|d| d.format(DATE).to_string()),
        s.armador,
        s.fecha_armado.map(|d| d.format(DATE).to_string()),
        s.soldador,
        s.fecha_soldadura.map(|d| d.format(DATE).to_string()),
        s.fecha_qc_metrologia.map(|d| d.format(DATE).to_string()),
        s.ocupado_por,
        s.fecha_ocupacion.map(|d| d.format(DATETIME).to_string()),
        s.operacion_ocupacion.map(|o| o.code()),
        s.resultado_metrologia.map(|o| o.code()),
        s.ciclo_reparacion,
        s.estado_reparacion.map(|o| o.code()),
        s.defecto_origen.map(|o| o.code()),
        s.version,
        s.estado_detalle,
        s.occupation_set_worker,
    ])?;
    Ok(())
}
