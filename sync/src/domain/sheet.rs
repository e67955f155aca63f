//! The workbook's tabs as the app reads and writes them: which columns, how a row becomes a
//! [`Spool`] or [`Worker`], and how a transition's changes become cells. Pure: grids in, values out.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::cell::{parse_date, parse_datetime, parse_flag, parse_small_int, CellValue, RawCell};
use super::error::DomainError;
use super::estado;
use super::header::ColumnMap;
use super::spool::{
    normalize_tag, DefectoOrigen, EstadoReparacion, OpOcupacion, ResultadoMetrologia, Spool,
};
use super::transitions::MAX_CICLOS;
use super::worker::{Rol, Worker};

pub const OPERACIONES: &str = "Operaciones";
pub const TRABAJADORES: &str = "Trabajadores";
pub const ROLES: &str = "Roles";
pub const METADATA: &str = "Metadata";

/// A tab as read: the header row and the data rows (`rows[i]` is sheet row `i + 2`). Trailing
/// empty cells may be missing, as Sheets trims them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Grid {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<RawCell>>,
}

impl Grid {
    pub fn header_cells(cells: &[RawCell]) -> Vec<String> {
        cells.iter().map(RawCell::shown).collect()
    }
}

/// The `Operaciones` columns the app knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Col {
    TagSpool,
    Nv,
    FechaMateriales,
    Armador,
    FechaArmado,
    Soldador,
    FechaSoldadura,
    FechaQcMetrologia,
    OcupadoPor,
    FechaOcupacion,
    Version,
    EstadoDetalle,
    OperacionOcupacion,
    ResultadoMetrologia,
    CicloReparacion,
    EstadoReparacion,
    DefectoOrigen,
    OcupacionInicia,
}

impl Col {
    pub const ALL: [Col; 18] = [
        Col::TagSpool,
        Col::Nv,
        Col::FechaMateriales,
        Col::Armador,
        Col::FechaArmado,
        Col::Soldador,
        Col::FechaSoldadura,
        Col::FechaQcMetrologia,
        Col::OcupadoPor,
        Col::FechaOcupacion,
        Col::Version,
        Col::EstadoDetalle,
        Col::OperacionOcupacion,
        Col::ResultadoMetrologia,
        Col::CicloReparacion,
        Col::EstadoReparacion,
        Col::DefectoOrigen,
        Col::OcupacionInicia,
    ];

    /// Added by the schema migration, at the end of the tab, in this order.
    pub const APP_OWNED: [Col; 6] = [
        Col::OperacionOcupacion,
        Col::ResultadoMetrologia,
        Col::CicloReparacion,
        Col::EstadoReparacion,
        Col::DefectoOrigen,
        Col::OcupacionInicia,
    ];

    /// App-owned columns without which nothing is written (the spool's state lives there).
    /// `Ocupacion_Inicia` came later: a sheet migrated before it still syncs, and CANCELAR
    /// falls back to what the device that took the spool knows until `zeues migrate` adds it.
    pub const WRITE_REQUIRED: [Col; 5] = [
        Col::OperacionOcupacion,
        Col::ResultadoMetrologia,
        Col::CicloReparacion,
        Col::EstadoReparacion,
        Col::DefectoOrigen,
    ];

    /// Without these the app cannot read a spool's state; a missing one fails closed.
    pub const CRITICAL: [Col; 11] = [
        Col::TagSpool,
        Col::FechaMateriales,
        Col::Armador,
        Col::FechaArmado,
        Col::Soldador,
        Col::FechaSoldadura,
        Col::FechaQcMetrologia,
        Col::OcupadoPor,
        Col::FechaOcupacion,
        Col::Version,
        Col::EstadoDetalle,
    ];

    pub fn header(self) -> &'static str {
        match self {
            Col::TagSpool => "TAG_SPOOL",
            Col::Nv => "NV",
            Col::FechaMateriales => "Fecha_Materiales",
            Col::Armador => "Armador",
            Col::FechaArmado => "Fecha_Armado",
            Col::Soldador => "Soldador",
            Col::FechaSoldadura => "Fecha_Soldadura",
            Col::FechaQcMetrologia => "Fecha_QC_Metrología",
            Col::OcupadoPor => "Ocupado_Por",
            Col::FechaOcupacion => "Fecha_Ocupacion",
            Col::Version => "version",
            Col::EstadoDetalle => "Estado_Detalle",
            Col::OperacionOcupacion => "Operacion_Ocupacion",
            Col::ResultadoMetrologia => "Resultado_Metrologia",
            Col::CicloReparacion => "Ciclo_Reparacion",
            Col::EstadoReparacion => "Estado_Reparacion",
            Col::DefectoOrigen => "Defecto_Origen",
            Col::OcupacionInicia => "Ocupacion_Inicia",
        }
    }

    /// Columns the app may write (everything else belongs to Engineering).
    pub fn is_written(self) -> bool {
        !matches!(self, Col::TagSpool | Col::Nv | Col::FechaMateriales)
    }

    pub fn is_date(self) -> bool {
        matches!(
            self,
            Col::FechaMateriales | Col::FechaArmado | Col::FechaSoldadura | Col::FechaQcMetrologia
        )
    }
}

/// The cell value of `col` for `spool`, exactly as the app writes it.
pub fn cell_of(s: &Spool, col: Col) -> CellValue {
    match col {
        Col::TagSpool => CellValue::text(s.tag.clone()),
        Col::Nv => CellValue::text(s.nv.clone()),
        Col::FechaMateriales => s.fecha_materiales.map_or(CellValue::Empty, CellValue::Date),
        Col::Armador => CellValue::opt_text(s.armador.as_deref()),
        Col::FechaArmado => s.fecha_armado.map_or(CellValue::Empty, CellValue::Date),
        Col::Soldador => CellValue::opt_text(s.soldador.as_deref()),
        Col::FechaSoldadura => s.fecha_soldadura.map_or(CellValue::Empty, CellValue::Date),
        Col::FechaQcMetrologia => s
            .fecha_qc_metrologia
            .map_or(CellValue::Empty, CellValue::Date),
        Col::OcupadoPor => CellValue::opt_text(s.ocupado_por.as_deref()),
        Col::FechaOcupacion => s
            .fecha_ocupacion
            .map_or(CellValue::Empty, CellValue::DateTime),
        Col::Version => CellValue::text(s.version.clone()),
        Col::EstadoDetalle => CellValue::text(s.estado_detalle.clone()),
        Col::OperacionOcupacion => CellValue::opt_text(s.operacion_ocupacion.map(|o| o.code())),
        Col::ResultadoMetrologia => CellValue::opt_text(s.resultado_metrologia.map(|r| r.code())),
        Col::CicloReparacion => CellValue::Number(f64::from(s.ciclo_reparacion)),
        Col::EstadoReparacion => CellValue::opt_text(s.estado_reparacion.map(|e| e.code())),
        Col::DefectoOrigen => CellValue::opt_text(s.defecto_origen.map(|d| d.code())),
        // Which worker column (Armador/Soldador) the current occupation wrote, so a CANCELAR
        // made on any device restores the spool exactly (DOMAIN.md §3).
        Col::OcupacionInicia => CellValue::opt_text(
            s.operacion_ocupacion
                .filter(|_| s.occupation_set_worker && s.ocupado_por.is_some())
                .map(|o| o.code()),
        ),
    }
}

/// The written columns whose value differs between two states of a spool.
pub fn diff(before: &Spool, after: &Spool) -> Vec<(Col, CellValue)> {
    Col::ALL
        .into_iter()
        .filter(|c| c.is_written())
        .filter_map(|c| {
            let v = cell_of(after, c);
            (cell_of(before, c) != v).then_some((c, v))
        })
        .collect()
}

/// Where the app's columns are in this `Operaciones` header row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperacionesLayout {
    pub map: ColumnMap,
    cols: BTreeMap<Col, usize>,
}

/// What reading `Operaciones` found: the spools, and every row it could not read (named).
#[derive(Debug, Clone, Default)]
pub struct OperacionesRead {
    pub spools: Vec<Spool>,
    pub problems: Vec<DomainError>,
}

impl OperacionesRead {
    /// Every TAG the tab has, readable or not: a row that cannot be read now (a bad cell, a
    /// duplicated TAG) is still a spool of the plant, never "gone from the sheet".
    pub fn present_tags(&self) -> std::collections::HashSet<String> {
        let mut tags: std::collections::HashSet<String> =
            self.spools.iter().map(|s| s.tag.clone()).collect();
        for p in &self.problems {
            match p {
                DomainError::DatosCorruptos { tag, .. } | DomainError::TagDuplicado { tag, .. } => {
                    tags.insert(tag.clone());
                }
                _ => {}
            }
        }
        tags
    }
}

impl OperacionesLayout {
    /// Fails closed when a critical column is missing or ambiguous.
    pub fn from_headers(headers: &[String]) -> Result<Self, DomainError> {
        let map = ColumnMap::from_headers(headers);
        let mut cols = BTreeMap::new();
        for c in Col::CRITICAL {
            cols.insert(c, map.require(OPERACIONES, c.header())?);
        }
        for c in [Col::Nv].into_iter().chain(Col::APP_OWNED) {
            if let Some(i) = map.find(c.header()) {
                cols.insert(c, i);
            }
        }
        Ok(OperacionesLayout { map, cols })
    }

    pub fn col(&self, c: Col) -> Option<usize> {
        self.cols.get(&c).copied()
    }

    /// App-owned columns the migration still has to add.
    pub fn missing_app_columns(&self) -> Vec<Col> {
        Col::APP_OWNED
            .into_iter()
            .filter(|c| !self.cols.contains_key(c))
            .collect()
    }

    /// A v3.0-era sheet: state is read from `Estado_Detalle` and nothing can be written yet.
    pub fn is_legacy(&self) -> bool {
        Col::WRITE_REQUIRED
            .iter()
            .any(|c| !self.cols.contains_key(c))
    }

    /// Whether the sheet has this column.
    pub fn has(&self, c: Col) -> bool {
        self.cols.contains_key(&c)
    }

    /// Writes need the app-owned columns that hold the state; otherwise `ESQUEMA_INCOMPATIBLE`
    /// naming the first missing one (run the migration).
    pub fn check_writable(&self) -> Result<(), DomainError> {
        for c in Col::WRITE_REQUIRED {
            self.map.require(OPERACIONES, c.header())?;
        }
        Ok(())
    }

    /// The cells to write for `changes`, addressed by 0-based column.
    pub fn encode(
        &self,
        changes: &[(Col, CellValue)],
    ) -> Result<Vec<(usize, CellValue)>, DomainError> {
        self.check_writable()?;
        changes
            .iter()
            // A later app column the sheet does not have yet is not written (see WRITE_REQUIRED).
            .filter(|(c, _)| {
                Col::WRITE_REQUIRED.contains(c) || !Col::APP_OWNED.contains(c) || self.has(*c)
            })
            .map(|(c, v)| {
                let i = self.map.require(OPERACIONES, c.header())?;
                Ok((i, v.clone()))
            })
            .collect()
    }

    /// Where each TAG is, from the TAG cell alone: a row that cannot be read now is still
    /// there (the push path must find it, never call it missing). A TAG on two rows is left
    /// out (ambiguous: `decode_all` reports it).
    pub fn tag_index(&self, rows: &[Vec<RawCell>]) -> HashMap<String, u32> {
        let mut index: HashMap<String, u32> = HashMap::new();
        let mut twice: Vec<String> = Vec::new();
        let Some(c) = self.col(Col::TagSpool) else {
            return index;
        };
        for (i, row) in rows.iter().enumerate() {
            let Some(tag) = row
                .get(c)
                .filter(|t| !t.is_empty())
                .and_then(|t| normalize_tag(&t.shown()).ok())
            else {
                continue;
            };
            if index.insert(tag.clone(), i as u32 + 2).is_some() {
                twice.push(tag);
            }
        }
        for t in twice {
            index.remove(&t);
        }
        index
    }

    /// One data row → a spool (`Ok(None)` for a row without TAG).
    pub fn decode(&self, row_number: u32, row: &[RawCell]) -> Result<Option<Spool>, DomainError> {
        let empty = RawCell::Empty;
        let cell = |c: Col| -> &RawCell { self.col(c).and_then(|i| row.get(i)).unwrap_or(&empty) };
        let tag_raw = cell(Col::TagSpool);
        if tag_raw.is_empty() {
            return Ok(None);
        }
        let tag = match normalize_tag(&tag_raw.shown()) {
            Ok(t) => t,
            Err(_) => {
                return Err(DomainError::DatosCorruptos {
                    tag: format!("fila {row_number}"),
                    column: Col::TagSpool.header().into(),
                    value: tag_raw.shown().escape_debug().to_string(),
                })
            }
        };
        let corrupt = |c: Col| DomainError::DatosCorruptos {
            tag: tag.clone(),
            column: c.header().into(),
            value: cell(c).shown(),
        };
        let date = |c: Col| parse_date(cell(c)).map_err(|_| corrupt(c));
        let text = |c: Col| cell(c).text();
        let info = estado::parse(&text(Col::EstadoDetalle).unwrap_or_default());
        let ocupado_por = text(Col::OcupadoPor).filter(|t| !t.eq_ignore_ascii_case("DISPONIBLE"));
        let mut s = Spool {
            tag: tag.clone(),
            row: row_number,
            nv: text(Col::Nv).unwrap_or_default(),
            fecha_materiales: date(Col::FechaMateriales)?,
            armador: text(Col::Armador),
            fecha_armado: date(Col::FechaArmado)?,
            soldador: text(Col::Soldador),
            fecha_soldadura: date(Col::FechaSoldadura)?,
            fecha_qc_metrologia: date(Col::FechaQcMetrologia)?,
            fecha_ocupacion: parse_datetime(cell(Col::FechaOcupacion))
                .map_err(|_| corrupt(Col::FechaOcupacion))?,
            ocupado_por,
            version: text(Col::Version).unwrap_or_default(),
            estado_detalle: text(Col::EstadoDetalle).unwrap_or_default(),
            ..Spool::default()
        };
        if self.is_legacy() {
            // v3.0 import: the state lives only in Estado_Detalle.
            s.operacion_ocupacion = s.ocupado_por.as_ref().and(info.operacion);
            s.resultado_metrologia = info
                .resultado
                .or(s.fecha_qc_metrologia.map(|_| ResultadoMetrologia::Aprobado));
            s.estado_reparacion = info.reparacion;
            s.ciclo_reparacion = info.ciclo;
        } else {
            let parse_enum = |c: Col, f: &dyn Fn(&str) -> bool| -> Result<(), DomainError> {
                match text(c) {
                    Some(t) if !f(&t) => Err(corrupt(c)),
                    _ => Ok(()),
                }
            };
            parse_enum(Col::OperacionOcupacion, &|t| {
                OpOcupacion::parse(t).is_some()
            })?;
            parse_enum(Col::ResultadoMetrologia, &|t| {
                ResultadoMetrologia::parse(t).is_some()
            })?;
            parse_enum(Col::EstadoReparacion, &|t| {
                EstadoReparacion::parse(t).is_some()
            })?;
            parse_enum(Col::DefectoOrigen, &|t| DefectoOrigen::parse(t).is_some())?;
            parse_enum(Col::OcupacionInicia, &|t| OpOcupacion::parse(t).is_some())?;
            s.operacion_ocupacion = text(Col::OperacionOcupacion)
                .and_then(|t| OpOcupacion::parse(&t))
                .or(info.operacion)
                .filter(|_| s.ocupado_por.is_some());
            s.resultado_metrologia =
                text(Col::ResultadoMetrologia).and_then(|t| ResultadoMetrologia::parse(&t));
            s.estado_reparacion =
                text(Col::EstadoReparacion).and_then(|t| EstadoReparacion::parse(&t));
            s.defecto_origen = text(Col::DefectoOrigen).and_then(|t| DefectoOrigen::parse(&t));
            let ciclo = parse_small_int(cell(Col::CicloReparacion))
                .map_err(|_| corrupt(Col::CicloReparacion))?;
            if ciclo > u32::from(MAX_CICLOS) {
                return Err(corrupt(Col::CicloReparacion));
            }
            s.ciclo_reparacion = ciclo as u8;
            s.occupation_set_worker = s.operacion_ocupacion.is_some()
                && text(Col::OcupacionInicia).and_then(|t| OpOcupacion::parse(&t))
                    == s.operacion_ocupacion;
        }
        Ok(Some(s))
    }

    /// Every spool of the tab. Unreadable rows and duplicated TAGs are reported, not dropped
    /// silently, and never turn into "spool not found".
    pub fn decode_all(&self, rows: &[Vec<RawCell>]) -> OperacionesRead {
        let mut out = OperacionesRead::default();
        let mut seen: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, row) in rows.iter().enumerate() {
            let row_number = i as u32 + 2;
            match self.decode(row_number, row) {
                Ok(Some(s)) => {
                    seen.entry(s.tag.clone()).or_default().push(row_number);
                    out.spools.push(s);
                }
                Ok(None) => {}
                Err(e) => out.problems.push(e),
            }
        }
        let dups: HashMap<&String, &Vec<u32>> = seen.iter().filter(|(_, r)| r.len() > 1).collect();
        if !dups.is_empty() {
            out.spools.retain(|s| !dups.contains_key(&s.tag));
            let mut errs: Vec<DomainError> = dups
                .into_iter()
                .map(|(tag, rows)| DomainError::TagDuplicado {
                    tag: tag.clone(),
                    filas: rows
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(" y "),
                })
                .collect();
            errs.sort_by_key(|e| e.to_string());
            out.problems.extend(errs);
        }
        out
    }
}

/// A row of Trabajadores or Roles that was skipped, and why (shown to supervisors, logged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowProblem {
    pub tab: String,
    pub row: u32,
    pub message: String,
}

/// Workers with their active roles. Rows that cannot be read are reported and skipped; a
/// missing column fails closed.
pub fn decode_workers(
    trabajadores: &Grid,
    roles: &Grid,
) -> Result<(Vec<Worker>, Vec<RowProblem>), DomainError> {
    let tm = ColumnMap::from_headers(&trabajadores.headers);
    let (c_id, c_nombre, c_apellido, c_activo) = (
        tm.require(TRABAJADORES, "Id")?,
        tm.require(TRABAJADORES, "Nombre")?,
        tm.require(TRABAJADORES, "Apellido")?,
        tm.require(TRABAJADORES, "Activo")?,
    );
    let rm = ColumnMap::from_headers(&roles.headers);
    let (r_id, r_rol, r_activo) = (
        rm.require(ROLES, "Id")?,
        rm.require(ROLES, "Rol")?,
        rm.require(ROLES, "Activo")?,
    );
    let empty = RawCell::Empty;
    let mut problems = Vec::new();
    let mut workers: BTreeMap<u32, Worker> = BTreeMap::new();
    for (i, row) in trabajadores.rows.iter().enumerate() {
        let n = i as u32 + 2;
        let get = |c: usize| row.get(c).unwrap_or(&empty);
        if row.iter().all(RawCell::is_empty) {
            continue;
        }
        let Some(id) = parse_id(get(c_id)) else {
            problems.push(RowProblem {
                tab: TRABAJADORES.into(),
                row: n,
                message: format!("Id '{}' no es un número entero positivo", get(c_id).shown()),
            });
            continue;
        };
        let (Some(nombre), Some(apellido)) = (get(c_nombre).text(), get(c_apellido).text()) else {
            problems.push(RowProblem {
                tab: TRABAJADORES.into(),
                row: n,
                message: format!("el trabajador {id} no tiene Nombre o Apellido"),
            });
            continue;
        };
        if workers.contains_key(&id) {
            problems.push(RowProblem {
                tab: TRABAJADORES.into(),
                row: n,
                message: format!("el Id {id} está repetido; se usa la primera fila"),
            });
            continue;
        }
        workers.insert(
            id,
            Worker {
                id,
                nombre,
                apellido,
                activo: parse_flag(get(c_activo)),
                roles: Vec::new(),
            },
        );
    }
    for (i, row) in roles.rows.iter().enumerate() {
        let n = i as u32 + 2;
        let get = |c: usize| row.get(c).unwrap_or(&empty);
        if row.iter().all(RawCell::is_empty) || !parse_flag(get(r_activo)) {
            continue;
        }
        let Some(id) = parse_id(get(r_id)) else {
            problems.push(RowProblem {
                tab: ROLES.into(),
                row: n,
                message: format!("Id '{}' no es un número entero positivo", get(r_id).shown()),
            });
            continue;
        };
        let Some(rol) = get(r_rol).text().and_then(|t| Rol::parse(&t)) else {
            problems.push(RowProblem {
                tab: ROLES.into(),
                row: n,
                message: format!("rol desconocido '{}'", get(r_rol).shown()),
            });
            continue;
        };
        if let Some(w) = workers.get_mut(&id) {
            if !w.roles.contains(&rol) {
                w.roles.push(rol);
                w.roles.sort();
            }
        }
    }
    Ok((workers.into_values().collect(), problems))
}

fn parse_id(raw: &RawCell) -> Option<u32> {
    match raw {
        RawCell::Number(n) if n.fract() == 0.0 && *n >= 1.0 && *n <= f64::from(u32::MAX) => {
            Some(*n as u32)
        }
        RawCell::Text(t) => t.trim().parse::<u32>().ok().filter(|i| *i > 0),
        _ => None,
    }
}

/// The header row of a fresh `Operaciones` tab with every column the app knows.
pub fn operaciones_headers() -> Vec<String> {
    Col::ALL.iter().map(|c| c.header().to_string()).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn t(s: &str) -> RawCell {
        RawCell::Text(s.into())
    }

    fn layout(extra_front: &[&str]) -> (OperacionesLayout, Vec<String>) {
        let mut h: Vec<String> = extra_front.iter().map(|s| s.to_string()).collect();
        h.extend(operaciones_headers());
        (OperacionesLayout::from_headers(&h).unwrap(), h)
    }

    fn row_for(h: &[String], cells: &[(&str, RawCell)]) -> Vec<RawCell> {
        let m = ColumnMap::from_headers(h);
        let mut row = vec![RawCell::Empty; h.len()];
        for (name, v) in cells {
            row[m.find(name).unwrap()] = v.clone();
        }
        row
    }

    #[test]
    fn decodes_wherever_columns_moved() {
        let (l, h) = layout(&["id", "SPLIT", "MatSys"]);
        let row = row_for(
            &h,
            &[
                ("TAG_SPOOL", t(" mk-1335 ")),
                ("SPLIT", t("1")),
                ("Fecha_Materiales", RawCell::Number(46042.0)),
                ("Armador", t("MR(93)")),
                ("Ocupado_Por", t("MR(93)")),
                ("Operacion_Ocupacion", t("ARM")),
                ("Fecha_Ocupacion", t("20-01-2026 08:00:00")),
            ],
        );
        let s = l.decode(7, &row).unwrap().unwrap();
        assert_eq!(s.tag, "MK-1335");
        assert_eq!(s.row, 7);
        assert_eq!(s.ocupado_por.as_deref(), Some("MR(93)"));
        assert_eq!(s.operacion_ocupacion, Some(OpOcupacion::Arm));
    }

    #[test]
    fn corrupt_cells_name_tag_and_column() {
        let (l, h) = layout(&[]);
        let row = row_for(
            &h,
            &[
                ("TAG_SPOOL", t("T1")),
                ("Fecha_Armado", RawCell::Bool(true)),
            ],
        );
        let e = l.decode(2, &row).unwrap_err();
        assert_eq!(e.code(), "DATOS_CORRUPTOS");
        assert_eq!(
            e,
            DomainError::DatosCorruptos {
                tag: "T1".into(),
                column: "Fecha_Armado".into(),
                value: "TRUE".into()
            }
        );
    }

    #[test]
    fn duplicate_tags_name_both_rows() {
        let (l, h) = layout(&[]);
        let rows = vec![
            row_for(&h, &[("TAG_SPOOL", t("A"))]),
            row_for(&h, &[("TAG_SPOOL", t("B"))]),
            row_for(&h, &[("TAG_SPOOL", t("a "))]),
        ];
        let r = l.decode_all(&rows);
        assert_eq!(r.spools.len(), 1);
        assert_eq!(r.problems.len(), 1);
        assert!(
            r.problems[0].to_string().contains("2 y 4"),
            "{}",
            r.problems[0]
        );
    }

    #[test]
    fn missing_critical_column_fails_closed() {
        let mut h = operaciones_headers();
        h.retain(|c| c != "Ocupado_Por");
        let e = OperacionesLayout::from_headers(&h).unwrap_err();
        assert_eq!(e.code(), "ESQUEMA_INCOMPATIBLE");
        assert!(e.to_string().contains("Ocupado_Por"));
    }

    #[test]
    fn legacy_sheet_reads_state_from_estado_detalle() {
        let h: Vec<String> = operaciones_headers()
            .into_iter()
            .filter(|c| !Col::APP_OWNED.iter().any(|a| a.header() == c))
            .collect();
        let l = OperacionesLayout::from_headers(&h).unwrap();
        assert!(l.is_legacy());
        assert!(l.check_writable().is_err());
        let row = row_for(
            &h,
            &[
                ("TAG_SPOOL", t("T")),
                ("Estado_Detalle", t("REPARACION_PAUSADA (Ciclo 2/3)")),
            ],
        );
        let s = l.decode(2, &row).unwrap().unwrap();
        assert_eq!(s.estado_reparacion, Some(EstadoReparacion::Pausada));
        assert_eq!(s.ciclo_reparacion, 2);
    }

    #[test]
    fn workers_and_roles() {
        let trab = Grid {
            headers: vec![
                "Id".into(),
                "Nombre".into(),
                "Apellido".into(),
                "Activo".into(),
            ],
            rows: vec![
                vec![
                    RawCell::Number(93.0),
                    t("Mauricio"),
                    t("Rodriguez"),
                    RawCell::Bool(true),
                ],
                vec![t("x"), t("A"), t("B"), t("TRUE")],
                vec![t("94"), t("Juan"), t("Pérez"), t("")],
            ],
        };
        let roles = Grid {
            headers: vec!["Id".into(), "Rol".into(), "Activo".into()],
            rows: vec![
                vec![t("93"), t("Armador"), t("TRUE")],
                vec![t("93"), t("Metrología"), t("TRUE")],
                vec![t("93"), t("Soldador"), t("FALSE")],
                vec![t("93"), t("Jefe"), t("TRUE")],
            ],
        };
        let (ws, problems) = decode_workers(&trab, &roles).unwrap();
        assert_eq!(ws.len(), 2);
        assert_eq!(ws[0].roles, vec![Rol::Armador, Rol::Metrologia]);
        assert!(!ws[1].activo);
        assert_eq!(problems.len(), 2);
    }
}
