//! The transition table of DOMAIN.md §3. One function decides every action: guards in the
//! stated order (the first failure is the error), then the new row, the exact cells to write and
//! the audit event to append. A batch is this function once per spool.

use chrono::{NaiveDateTime, Timelike};
use serde::{Deserialize, Serialize};

use super::audit::{AuditEvent, EventType};
use super::cell::CellValue;
use super::error::{Dependencia, DomainError};
use super::estado;
use super::sheet::{diff, Col};
use super::spool::{
    DefectoOrigen, EstadoReparacion, OpOcupacion, OpState, Operacion, ResultadoMetrologia, Spool,
};
use super::worker::{worker_id_from_token, Rol, Worker};

/// Most spools in one batch.
pub const MAX_BATCH: usize = 50;
/// Consecutive rejections before a spool is BLOQUEADO.
pub const MAX_CICLOS: u8 = 3;

/// What a worker asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "accion", content = "op")]
pub enum Intent {
    Tomar(Operacion),
    Pausar(Operacion),
    Completar(Operacion),
    Cancelar(Operacion),
    Metrologia {
        resultado: ResultadoMetrologia,
        origen: Option<DefectoOrigen>,
    },
    Override,
    ForzarLiberacion,
}

impl Intent {
    /// `Accion` column of the audit log.
    pub fn accion(self) -> &'static str {
        match self {
            Intent::Tomar(_) => "TOMAR",
            Intent::Pausar(_) => "PAUSAR",
            Intent::Completar(_) | Intent::Metrologia { .. } => "COMPLETAR",
            Intent::Cancelar(_) => "CANCELAR",
            Intent::Override => "OVERRIDE",
            Intent::ForzarLiberacion => "FORZAR_LIBERACION",
        }
    }

    /// The operation the intent is about (`None` for supervisor actions).
    pub fn operacion(self) -> Option<Operacion> {
        match self {
            Intent::Tomar(o) | Intent::Pausar(o) | Intent::Completar(o) | Intent::Cancelar(o) => {
                Some(o)
            }
            Intent::Metrologia { .. } => Some(Operacion::Metrologia),
            Intent::Override | Intent::ForzarLiberacion => None,
        }
    }

    pub fn needs_supervisor(self) -> bool {
        matches!(self, Intent::Override | Intent::ForzarLiberacion)
    }

    /// Batches are for occupation actions only; metrología is one spool at a time.
    pub fn batchable(self) -> bool {
        matches!(
            self,
            Intent::Tomar(_) | Intent::Pausar(_) | Intent::Completar(_) | Intent::Cancelar(_)
        )
    }
}

/// Who acts. `supervisor_verified` is true only after the PIN was checked (outside the domain).
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub worker: &'a Worker,
    pub supervisor_verified: bool,
}

/// A changed cell.
pub type Change = (Col, CellValue);

#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub after: Spool,
    /// Exactly the cells to write (always includes `version` and `Estado_Detalle` when changed).
    pub changes: Vec<Change>,
    pub event: AuditEvent,
}

fn occupant_is(s: &Spool, w: &Worker) -> bool {
    match &s.ocupado_por {
        Some(tok) => match worker_id_from_token(tok) {
            Some(id) => id == w.id,
            None => tok.trim() == w.token(),
        },
        None => false,
    }
}

fn occupied_err(s: &Spool) -> DomainError {
    DomainError::SpoolOcupado {
        tag: s.tag.clone(),
        por: s.ocupado_por.clone().unwrap_or_default(),
    }
}

fn repair_loop_err(s: &Spool) -> DomainError {
    if s.is_blocked() {
        DomainError::SpoolBloqueado { tag: s.tag.clone() }
    } else {
        DomainError::TransicionInvalida {
            tag: s.tag.clone(),
            detalle: "el spool está en el ciclo de reparación".into(),
        }
    }
}

fn invalid(s: &Spool, detalle: impl Into<String>) -> DomainError {
    DomainError::TransicionInvalida {
        tag: s.tag.clone(),
        detalle: detalle.into(),
    }
}

fn check_role(w: &Worker, op: Operacion, s: &Spool) -> Result<(), DomainError> {
    if w.may_act(op, s.defecto_origen) {
        Ok(())
    } else {
        Err(DomainError::RolNoAutorizado {
            token: w.token(),
            operacion: op.label().into(),
            roles: w.roles_text(),
        })
    }
}

/// The occupant of `op` is this worker (PAUSAR/COMPLETAR/CANCELAR).
fn check_occupant(s: &Spool, w: &Worker, op: OpOcupacion) -> Result<(), DomainError> {
    if !occupant_is(s, w) {
        return Err(DomainError::NoEsOcupante {
            tag: s.tag.clone(),
            token: w.token(),
            operacion: op.code().into(),
            ocupante: s.ocupado_por.clone(),
        });
    }
    if s.operacion_ocupacion != Some(op) {
        return Err(invalid(
            s,
            format!(
                "{} está trabajando en {}, no en {}",
                w.token(),
                s.operacion_ocupacion
                    .map_or("otra operación", OpOcupacion::code),
                op.code()
            ),
        ));
    }
    Ok(())
}

fn occupy(s: &mut Spool, w: &Worker, op: OpOcupacion, at: NaiveDateTime) {
    s.ocupado_por = Some(w.token());
    s.fecha_ocupacion = Some(at);
    s.operacion_ocupacion = Some(op);
    s.occupation_set_worker = false;
}

fn release(s: &mut Spool) {
    s.ocupado_por = None;
    s.fecha_ocupacion = None;
    s.operacion_ocupacion = None;
    s.occupation_set_worker = false;
}

fn arm_sold_completado(s: &Spool, op: Operacion) -> bool {
    match op {
        Operacion::Arm => s.arm_state() == OpState::Completado,
        _ => s.sold_state() == OpState::Completado,
    }
}

/// Decides `intent` by `actor` on `spool` at plant time `at`. `command_id` becomes the row's
/// new `version` and the audit row's `ID`.
pub fn apply(
    spool: &Spool,
    actor: Actor<'_>,
    intent: Intent,
    at: NaiveDateTime,
    command_id: &str,
) -> Result<Transition, DomainError> {
    let w = actor.worker;
    if !w.activo {
        return Err(DomainError::WorkerNoEncontrado { id: w.id });
    }
    // The plant's timestamps have whole seconds (a sheet serial keeps no more): the row the
    // engine publishes must be exactly the row the sheet will give back.
    let at = at.with_nanosecond(0).unwrap_or(at);
    let mut s = spool.clone();
    let mut details = serde_json::Map::new();
    let event_type = match intent {
        Intent::Tomar(op @ (Operacion::Arm | Operacion::Sold)) => {
            check_role(w, op, spool)?;
            if spool.fecha_materiales.is_none() {
                return Err(DomainError::DependenciasNoSatisfechas {
                    tag: spool.tag.clone(),
                    accion: format!("tomar {}", op.code()),
                    falta: Dependencia::FechaMateriales,
                });
            }
            if arm_sold_completado(spool, op) {
                return Err(DomainError::OperacionYaCompletada {
                    tag: spool.tag.clone(),
                    operacion: op.code().into(),
                });
            }
            if spool.is_occupied() {
                return Err(occupied_err(spool));
            }
            if spool.in_repair_loop() {
                return Err(repair_loop_err(spool));
            }
            if op == Operacion::Sold && spool.armador.is_none() {
                return Err(DomainError::DependenciasNoSatisfechas {
                    tag: spool.tag.clone(),
                    accion: "tomar SOLD".into(),
                    falta: Dependencia::ArmIniciado,
                });
            }
            let occ = if op == Operacion::Arm {
                OpOcupacion::Arm
            } else {
                OpOcupacion::Sold
            };
            occupy(&mut s, w, occ, at);
            let worker_col = if op == Operacion::Arm {
                &mut s.armador
            } else {
                &mut s.soldador
            };
            if worker_col.is_none() {
                *worker_col = Some(w.token());
                s.occupation_set_worker = true;
            }
            details.insert("inicia_operacion".into(), s.occupation_set_worker.into());
            EventType::TomarSpool
        }
        Intent::Pausar(op @ (Operacion::Arm | Operacion::Sold))
        | Intent::Completar(op @ (Operacion::Arm | Operacion::Sold))
        | Intent::Cancelar(op @ (Operacion::Arm | Operacion::Sold)) => {
            let occ = if op == Operacion::Arm {
                OpOcupacion::Arm
            } else {
                OpOcupacion::Sold
            };
            check_occupant(spool, w, occ)?;
            let set_worker = spool.occupation_set_worker;
            release(&mut s);
            match intent {
                Intent::Pausar(_) => EventType::PausarSpool,
                Intent::Completar(_) => {
                    if op == Operacion::Arm {
                        s.fecha_armado = Some(at.date());
                        EventType::CompletarArm
                    } else {
                        s.fecha_soldadura = Some(at.date());
                        EventType::CompletarSold
                    }
                }
                _ => {
                    // Only the occupation that started the operation undoes its start.
                    if set_worker {
                        if op == Operacion::Arm {
                            s.armador = None;
                        } else {
                            s.soldador = None;
                        }
                    }
                    details.insert("revierte_inicio".into(), set_worker.into());
                    if op == Operacion::Arm {
                        EventType::CancelarArm
                    } else {
                        EventType::CancelarSold
                    }
                }
            }
        }
        Intent::Tomar(Operacion::Reparacion) => {
            check_role(w, Operacion::Reparacion, spool)?;
            match spool.estado_reparacion {
                Some(EstadoReparacion::Pendiente | EstadoReparacion::Pausada) => {}
                Some(EstadoReparacion::Bloqueado) => {
                    return Err(DomainError::SpoolBloqueado {
                        tag: spool.tag.clone(),
                    })
                }
                _ => {
                    if spool.is_occupied() {
                        return Err(occupied_err(spool));
                    }
                    return Err(invalid(
                        spool,
                        "solo los spools rechazados en metrología pueden repararse",
                    ));
                }
            }
            if spool.is_occupied() {
                return Err(occupied_err(spool));
            }
            occupy(&mut s, w, OpOcupacion::Reparacion, at);
            s.estado_reparacion = Some(EstadoReparacion::EnReparacion);
            details.insert("ciclo".into(), spool.ciclo_reparacion.into());
            EventType::TomarReparacion
        }
        Intent::Pausar(Operacion::Reparacion)
        | Intent::Completar(Operacion::Reparacion)
        | Intent::Cancelar(Operacion::Reparacion) => {
            check_occupant(spool, w, OpOcupacion::Reparacion)?;
            if spool.estado_reparacion != Some(EstadoReparacion::EnReparacion) {
                return Err(invalid(spool, "la reparación no está en curso"));
            }
            release(&mut s);
            details.insert("ciclo".into(), spool.ciclo_reparacion.into());
            match intent {
                Intent::Pausar(_) => {
                    s.estado_reparacion = Some(EstadoReparacion::Pausada);
                    EventType::PausarReparacion
                }
                Intent::Completar(_) => {
                    s.estado_reparacion = Some(EstadoReparacion::Completada);
                    EventType::CompletarReparacion
                }
                _ => {
                    s.estado_reparacion = Some(EstadoReparacion::Pendiente);
                    EventType::CancelarReparacion
                }
            }
        }
        Intent::Tomar(Operacion::Metrologia)
        | Intent::Pausar(Operacion::Metrologia)
        | Intent::Completar(Operacion::Metrologia)
        | Intent::Cancelar(Operacion::Metrologia) => {
            return Err(invalid(
                spool,
                "metrología es instantánea: se registra APROBADO o RECHAZADO",
            ));
        }
        Intent::Metrologia { resultado, origen } => {
            check_role(w, Operacion::Metrologia, spool)?;
            if spool.fecha_armado.is_none() || spool.fecha_soldadura.is_none() {
                return Err(DomainError::DependenciasNoSatisfechas {
                    tag: spool.tag.clone(),
                    accion: "registrar metrología".into(),
                    falta: Dependencia::ArmYSoldCompletados,
                });
            }
            if spool.is_occupied() {
                return Err(occupied_err(spool));
            }
            match (spool.resultado_metrologia, spool.estado_reparacion) {
                (None, _) | (_, Some(EstadoReparacion::Completada)) => {}
                (Some(ResultadoMetrologia::Aprobado), _) => {
                    return Err(DomainError::OperacionYaCompletada {
                        tag: spool.tag.clone(),
                        operacion: "METROLOGIA".into(),
                    })
                }
                (Some(ResultadoMetrologia::Rechazado), _) => return Err(repair_loop_err(spool)),
            }
            if spool.is_blocked() {
                return Err(DomainError::SpoolBloqueado {
                    tag: spool.tag.clone(),
                });
            }
            details.insert("resultado".into(), resultado.code().into());
            match resultado {
                ResultadoMetrologia::Aprobado => {
                    s.resultado_metrologia = Some(ResultadoMetrologia::Aprobado);
                    s.fecha_qc_metrologia = Some(at.date());
                    s.ciclo_reparacion = 0;
                    s.estado_reparacion = None;
                }
                ResultadoMetrologia::Rechazado => {
                    let Some(origen) = origen else {
                        return Err(invalid(
                            spool,
                            "indica el origen del defecto (ARM o SOLD) para rechazar",
                        ));
                    };
                    let ciclo = (spool.ciclo_reparacion + 1).min(MAX_CICLOS);
                    s.resultado_metrologia = Some(ResultadoMetrologia::Rechazado);
                    s.ciclo_reparacion = ciclo;
                    s.defecto_origen = Some(origen);
                    s.estado_reparacion = Some(if ciclo >= MAX_CICLOS {
                        EstadoReparacion::Bloqueado
                    } else {
                        EstadoReparacion::Pendiente
                    });
                    details.insert("origen".into(), origen.code().into());
                    details.insert("ciclo".into(), ciclo.into());
                }
            }
            EventType::CompletarMetrologia
        }
        Intent::Override | Intent::ForzarLiberacion => {
            if !w.has(Rol::Supervisor) {
                return Err(DomainError::RolNoAutorizado {
                    token: w.token(),
                    operacion: "supervisión".into(),
                    roles: w.roles_text(),
                });
            }
            if !actor.supervisor_verified {
                return Err(DomainError::SupervisorRequerido);
            }
            if intent == Intent::Override {
                if !spool.is_blocked() {
                    return Err(invalid(spool, "solo un spool BLOQUEADO admite override"));
                }
                s.estado_reparacion = Some(EstadoReparacion::Pendiente);
                details.insert("ciclo".into(), spool.ciclo_reparacion.into());
                EventType::SupervisorOverride
            } else {
                let Some(prev) = spool.ocupado_por.clone() else {
                    return Err(invalid(spool, "el spool no está ocupado"));
                };
                release(&mut s);
                if spool.estado_reparacion == Some(EstadoReparacion::EnReparacion) {
                    s.estado_reparacion = Some(EstadoReparacion::Pausada);
                }
                details.insert("ocupante_anterior".into(), prev.into());
                details.insert(
                    "operacion_anterior".into(),
                    spool
                        .operacion_ocupacion
                        .map_or("", OpOcupacion::code)
                        .into(),
                );
                EventType::ForzarLiberacion
            }
        }
    };
    s.version = command_id.to_string();
    s.estado_detalle = estado::project(&s);
    let changes = diff(spool, &s);
    let operacion = match intent {
        Intent::Override => "REPARACION".to_string(),
        Intent::ForzarLiberacion => spool
            .operacion_ocupacion
            .map_or("", OpOcupacion::code)
            .to_string(),
        other => other.operacion().map_or("", Operacion::code).to_string(),
    };
    let event = AuditEvent {
        id: command_id.to_string(),
        timestamp: at,
        event_type,
        tag: spool.tag.clone(),
        worker_id: w.id,
        worker_nombre: w.token(),
        operacion,
        accion: intent.accion().to_string(),
        fecha_operacion: at.date(),
        metadata: serde_json::Value::Object(details),
    };
    Ok(Transition {
        after: s,
        changes,
        event,
    })
}

/// FORZAR LIBERACIÓN reaches the plant later than the supervisor decided it: it may only
/// eject the occupant the supervisor saw (`seen`, an `Ocupado_Por` token). Someone else there
/// now means the spool changed hands meanwhile: refused, never an ejection of another worker.
pub fn check_force_target(spool: &Spool, seen: &str) -> Result<(), DomainError> {
    let Some(now) = spool.ocupado_por.as_deref() else {
        return Err(invalid(spool, "el spool ya no está ocupado"));
    };
    let same = match (worker_id_from_token(now), worker_id_from_token(seen)) {
        (Some(a), Some(b)) => a == b,
        _ => now.trim() == seen.trim(),
    };
    if same {
        Ok(())
    } else {
        Err(invalid(
            spool,
            format!(
                "el spool cambió de manos: ahora lo ocupa {now}, no {seen}; la liberación forzada no se aplicó"
            ),
        ))
    }
}

/// The spools a worker can pick for an action (DOMAIN.md §5, screen 4): the same guards as
/// [`apply`], so the list never offers what the rules would refuse. Occupied spools are listed
/// separately by the UI (greyed).
pub fn eligible(spool: &Spool, actor: Actor<'_>, intent: Intent, at: NaiveDateTime) -> bool {
    apply(spool, actor, intent, at, "").is_ok()
}

#[cfg(test)]
mod tests;
