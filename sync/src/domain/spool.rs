//! A spool row as the app sees it: the authoritative state lives in explicit fields; the
//! per-operation states are derived from them (DOMAIN.md §3).

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Operacion {
    Arm,
    Sold,
    Metrologia,
    Reparacion,
}

impl Operacion {
    pub const ALL: [Operacion; 4] = [
        Operacion::Arm,
        Operacion::Sold,
        Operacion::Metrologia,
        Operacion::Reparacion,
    ];

    /// The plant's code word, as written in the audit log.
    pub fn code(self) -> &'static str {
        match self {
            Operacion::Arm => "ARM",
            Operacion::Sold => "SOLD",
            Operacion::Metrologia => "METROLOGIA",
            Operacion::Reparacion => "REPARACION",
        }
    }

    /// The word shown to people.
    pub fn label(self) -> &'static str {
        match self {
            Operacion::Arm => "ARMADO",
            Operacion::Sold => "SOLDADURA",
            Operacion::Metrologia => "METROLOGÍA",
            Operacion::Reparacion => "REPARACIÓN",
        }
    }

    pub fn parse(s: &str) -> Option<Operacion> {
        let n = super::header::normalize_header(s);
        match n.as_str() {
            "arm" | "armado" => Some(Operacion::Arm),
            "sold" | "soldadura" => Some(Operacion::Sold),
            "metrologia" => Some(Operacion::Metrologia),
            "reparacion" => Some(Operacion::Reparacion),
            _ => None,
        }
    }

    pub fn occupation(self) -> Option<OpOcupacion> {
        match self {
            Operacion::Arm => Some(OpOcupacion::Arm),
            Operacion::Sold => Some(OpOcupacion::Sold),
            Operacion::Reparacion => Some(OpOcupacion::Reparacion),
            Operacion::Metrologia => None,
        }
    }
}

/// What an occupant is doing (`Operacion_Ocupacion`). Metrología never occupies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OpOcupacion {
    Arm,
    Sold,
    Reparacion,
}

impl OpOcupacion {
    pub fn code(self) -> &'static str {
        match self {
            OpOcupacion::Arm => "ARM",
            OpOcupacion::Sold => "SOLD",
            OpOcupacion::Reparacion => "REPARACION",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match super::header::normalize_header(s).as_str() {
            "arm" => Some(OpOcupacion::Arm),
            "sold" => Some(OpOcupacion::Sold),
            "reparacion" => Some(OpOcupacion::Reparacion),
            _ => None,
        }
    }

    pub fn operacion(self) -> Operacion {
        match self {
            OpOcupacion::Arm => Operacion::Arm,
            OpOcupacion::Sold => Operacion::Sold,
            OpOcupacion::Reparacion => Operacion::Reparacion,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ResultadoMetrologia {
    Aprobado,
    Rechazado,
}

impl ResultadoMetrologia {
    pub fn code(self) -> &'static str {
        match self {
            ResultadoMetrologia::Aprobado => "APROBADO",
            ResultadoMetrologia::Rechazado => "RECHAZADO",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match super::header::normalize_header(s).as_str() {
            "aprobado" => Some(ResultadoMetrologia::Aprobado),
            "rechazado" => Some(ResultadoMetrologia::Rechazado),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EstadoReparacion {
    Pendiente,
    EnReparacion,
    Pausada,
    Completada,
    Bloqueado,
}

impl EstadoReparacion {
    pub fn code(self) -> &'static str {
        match self {
            EstadoReparacion::Pendiente => "PENDIENTE",
            EstadoReparacion::EnReparacion => "EN_REPARACION",
            EstadoReparacion::Pausada => "PAUSADA",
            EstadoReparacion::Completada => "COMPLETADA",
            EstadoReparacion::Bloqueado => "BLOQUEADO",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match super::header::normalize_header(s).as_str() {
            "pendiente" => Some(EstadoReparacion::Pendiente),
            "enreparacion" => Some(EstadoReparacion::EnReparacion),
            "pausada" => Some(EstadoReparacion::Pausada),
            "completada" => Some(EstadoReparacion::Completada),
            "bloqueado" => Some(EstadoReparacion::Bloqueado),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DefectoOrigen {
    Arm,
    Sold,
}

impl DefectoOrigen {
    pub fn code(self) -> &'static str {
        match self {
            DefectoOrigen::Arm => "ARM",
            DefectoOrigen::Sold => "SOLD",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match super::header::normalize_header(s).as_str() {
            "arm" => Some(DefectoOrigen::Arm),
            "sold" => Some(DefectoOrigen::Sold),
            _ => None,
        }
    }
}

/// Progress of ARM or SOLD: `pendiente → en_progreso ⇄ pausado → completado`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OpState {
    Pendiente,
    EnProgreso,
    Pausado,
    Completado,
}

impl OpState {
    pub fn word(self) -> &'static str {
        match self {
            OpState::Pendiente => "pendiente",
            OpState::EnProgreso => "en progreso",
            OpState::Pausado => "pausado",
            OpState::Completado => "completado",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Spool {
    pub tag: String,
    /// 1-based sheet row (data starts at 2); 0 when not known.
    pub row: u32,
    pub nv: String,
    pub fecha_materiales: Option<NaiveDate>,
    pub armador: Option<String>,
    pub fecha_armado: Option<NaiveDate>,
    pub soldador: Option<String>,
    pub fecha_soldadura: Option<NaiveDate>,
    pub fecha_qc_metrologia: Option<NaiveDate>,
    pub ocupado_por: Option<String>,
    pub fecha_ocupacion: Option<NaiveDateTime>,
    pub operacion_ocupacion: Option<OpOcupacion>,
    pub resultado_metrologia: Option<ResultadoMetrologia>,
    pub ciclo_reparacion: u8,
    pub estado_reparacion: Option<EstadoReparacion>,
    pub defecto_origen: Option<DefectoOrigen>,
    pub version: String,
    pub estado_detalle: String,
    /// Not a sheet cell: whether the current occupation is the one that wrote `Armador` or
    /// `Soldador` (so CANCELAR may clear it). Known to the device that took the spool.
    #[serde(default)]
    pub occupation_set_worker: bool,
}

impl Spool {
    pub fn is_occupied(&self) -> bool {
        self.ocupado_por.is_some()
    }

    fn op_state(&self, done: bool, worker: &Option<String>, occ: OpOcupacion) -> OpState {
        if done {
            OpState::Completado
        } else if self.is_occupied() && self.operacion_ocupacion == Some(occ) {
            OpState::EnProgreso
        } else if worker.is_some() {
            OpState::Pausado
        } else {
            OpState::Pendiente
        }
    }

    pub fn arm_state(&self) -> OpState {
        self.op_state(self.fecha_armado.is_some(), &self.armador, OpOcupacion::Arm)
    }

    pub fn sold_state(&self) -> OpState {
        self.op_state(
            self.fecha_soldadura.is_some(),
            &self.soldador,
            OpOcupacion::Sold,
        )
    }

    /// In the repair loop: rejected and not yet back in the inspection queue.
    pub fn in_repair_loop(&self) -> bool {
        matches!(
            self.estado_reparacion,
            Some(
                EstadoReparacion::Pendiente
                    | EstadoReparacion::EnReparacion
                    | EstadoReparacion::Pausada
                    | EstadoReparacion::Bloqueado
            )
        )
    }

    pub fn is_blocked(&self) -> bool {
        self.estado_reparacion == Some(EstadoReparacion::Bloqueado)
    }

    /// Waiting for metrología: ARM+SOLD done and not inspected yet, or back from repair.
    pub fn awaiting_inspection(&self) -> bool {
        self.fecha_armado.is_some()
            && self.fecha_soldadura.is_some()
            && !self.is_occupied()
            && match self.resultado_metrologia {
                None => true,
                Some(ResultadoMetrologia::Rechazado) => {
                    self.estado_reparacion == Some(EstadoReparacion::Completada)
                }
                Some(ResultadoMetrologia::Aprobado) => false,
            }
    }
}

/// A TAG as typed or scanned: trimmed, upper-cased. Empty or with control characters is invalid.
pub fn normalize_tag(tag: &str) -> Result<String, super::DomainError> {
    let t = tag.trim();
    if t.is_empty() {
        return Err(super::DomainError::TagInvalido {
            tag: tag.to_string(),
            detalle: "está vacío".into(),
        });
    }
    if t.chars().any(char::is_control) {
        return Err(super::DomainError::TagInvalido {
            tag: t.escape_debug().to_string(),
            detalle: "contiene caracteres de control".into(),
        });
    }
    if t.chars().count() > 120 {
        return Err(super::DomainError::TagInvalido {
            tag: t.chars().take(40).collect::<String>() + "…",
            detalle: "es demasiado largo".into(),
        });
    }
    Ok(t.to_uppercase())
}
