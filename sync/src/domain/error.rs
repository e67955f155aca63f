//! The domain's errors. Each carries the data its Spanish message needs and maps to one stable
//! code of DOMAIN.md §6 that the UI branches on.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dependencia {
    FechaMateriales,
    ArmIniciado,
    ArmYSoldCompletados,
}

impl Dependencia {
    pub fn texto(&self) -> &'static str {
        match self {
            Dependencia::FechaMateriales => "falta Fecha_Materiales (el spool debe tener materiales registrados antes de ocuparlo)",
            Dependencia::ArmIniciado => "falta ARM iniciado (SOLD no puede iniciarse sin ARM iniciado)",
            Dependencia::ArmYSoldCompletados => "falta ARM y SOLD completados (deben finalizar antes de metrología)",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum DomainError {
    #[error("El spool '{tag}' no existe en Operaciones. Revisa el TAG.")]
    SpoolNoEncontrado { tag: String },
    #[error("El TAG '{tag}' no es válido: {detalle}.")]
    TagInvalido { tag: String, detalle: String },
    #[error("El trabajador {id} no existe o no está activo. Pide a tu supervisor que lo revise en Trabajadores.")]
    WorkerNoEncontrado { id: u32 },
    #[error("{token} no tiene el rol necesario para {operacion}. Roles actuales: {roles}.")]
    RolNoAutorizado {
        token: String,
        operacion: String,
        roles: String,
    },
    #[error(
        "El spool '{tag}' ya está ocupado por {por}. Espera a que termine o elige otro spool."
    )]
    SpoolOcupado { tag: String, por: String },
    #[error("{token} no está trabajando en el spool '{tag}' ({operacion}){}. Solo quien lo ocupa puede pausarlo, completarlo o cancelarlo.", ocupante.as_ref().map(|o| format!("; lo ocupa {o}")).unwrap_or_default())]
    NoEsOcupante {
        tag: String,
        token: String,
        operacion: String,
        ocupante: Option<String>,
    },
    #[error("No se puede {accion} en el spool '{tag}': {}.", falta.texto())]
    DependenciasNoSatisfechas {
        tag: String,
        accion: String,
        falta: Dependencia,
    },
    #[error("La operación {operacion} del spool '{tag}' ya fue completada. Contacta al supervisor si necesitas hacer correcciones.")]
    OperacionYaCompletada { tag: String, operacion: String },
    #[error("No se puede realizar esta acción en el spool '{tag}': {detalle}.")]
    TransicionInvalida { tag: String, detalle: String },
    #[error(
        "El spool '{tag}' está bloqueado después de 3 rechazos consecutivos. Contactar supervisor."
    )]
    SpoolBloqueado { tag: String },
    #[error("El spool '{tag}' tiene un dato que no se puede leer en la columna '{column}': '{value}'. Contacta soporte y reporta el TAG.")]
    DatosCorruptos {
        tag: String,
        column: String,
        value: String,
    },
    #[error("El TAG '{tag}' aparece en varias filas de Operaciones ({filas}). Corrige la hoja: no se escribirá en ninguna de ellas.")]
    TagDuplicado { tag: String, filas: String },
    #[error("La hoja '{tab}' no es compatible: {detalle} '{column}'. No se escribió nada.")]
    EsquemaIncompatible {
        tab: String,
        column: String,
        detalle: String,
    },
    #[error("El lote no es válido: {detalle}.")]
    LoteInvalido { detalle: String },
    #[error("Esta acción requiere un supervisor con su PIN.")]
    SupervisorRequerido,
}

impl DomainError {
    /// The stable code of DOMAIN.md §6 (plus `LOTE_INVALIDO` and `TAG_INVALIDO` for malformed input).
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::SpoolNoEncontrado { .. } => "SPOOL_NO_ENCONTRADO",
            DomainError::TagInvalido { .. } => "TAG_INVALIDO",
            DomainError::WorkerNoEncontrado { .. } => "WORKER_NO_ENCONTRADO",
            DomainError::RolNoAutorizado { .. } => "ROL_NO_AUTORIZADO",
            DomainError::SupervisorRequerido => "ROL_NO_AUTORIZADO",
            DomainError::SpoolOcupado { .. } => "SPOOL_OCUPADO",
            DomainError::NoEsOcupante { .. } => "NO_ES_OCUPANTE",
            DomainError::DependenciasNoSatisfechas { .. } => "DEPENDENCIAS_NO_SATISFECHAS",
            DomainError::OperacionYaCompletada { .. } => "OPERACION_YA_COMPLETADA",
            DomainError::TransicionInvalida { .. } => "TRANSICION_INVALIDA",
            DomainError::SpoolBloqueado { .. } => "SPOOL_BLOQUEADO",
            DomainError::DatosCorruptos { .. } => "DATOS_CORRUPTOS",
            DomainError::TagDuplicado { .. } => "DATOS_CORRUPTOS",
            DomainError::EsquemaIncompatible { .. } => "ESQUEMA_INCOMPATIBLE",
            DomainError::LoteInvalido { .. } => "LOTE_INVALIDO",
        }
    }
}
