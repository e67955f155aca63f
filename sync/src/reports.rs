//! What the supervisor desk reads: spools available per operation, conflict metrics over a
//! period, sync health and devices online, the CSV export of history and audit; and the
//! supervisor PIN's guard (rate limiting, the trail of wrong PINs). Everything here reads the
//! device's replica and audit or the engine's status; the only write is the PIN trail.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use argon2::password_hash::PasswordHash;
use argon2::{Argon2, PasswordVerifier};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::api::{
    ActionOutcome, ActionRequest, ApiError, ConflictCount, ConflictMetrics, Connectivity,
    CsvExport, DeviceView, Disponibles, Periodo, PinAttempt, SupervisorRequest, SyncHealth,
    WorkerView, HOT_SPOT_THRESHOLD,
};
use crate::domain::time::{fmt_datetime, santiago};
use crate::domain::transitions::eligible;
use crate::domain::{Actor, EventType, Intent, Operacion, ResultadoMetrologia, Rol, Worker};
use crate::service::Zeues;
use crate::store::reports::PinAttemptRecord;

/// Wrong PINs in a row (within [`PIN_WINDOW`]) before the PIN is locked for [`PIN_LOCKOUT`].
/// What ACCESOS shows for the desk's door.
pub const ENTRADA: &str = "Entrada al escritorio";
pub const PIN_MAX_FAILURES: usize = 5;
pub const PIN_WINDOW: Duration = Duration::from_secs(15 * 60);
pub const PIN_LOCKOUT: Duration = Duration::from_secs(5 * 60);

fn chrono_dur(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero())
}

/// When the PIN unlocks again, if it is locked now: `PIN_MAX_FAILURES` wrong PINs in a row
/// (newest first in `recent`, no success between them) within the window, the last less than
/// the lockout ago.
pub fn pin_locked_until(recent: &[PinAttemptRecord], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let window_start = now - chrono_dur(PIN_WINDOW);
    let failures: Vec<&PinAttemptRecord> = recent
        .iter()
        .take_while(|a| !a.ok)
        .filter(|a| !a.refused && a.at >= window_start)
        .collect();
    if failures.len() < PIN_MAX_FAILURES {
        return None;
    }
    let until = failures.first()?.at + chrono_dur(PIN_LOCKOUT);
    (until > now).then_some(until)
}

/// `DD-MM-YYYY` (what the app shows) or `YYYY-MM-DD` (what a date input gives).
pub fn parse_plant_date(s: &str) -> Option<NaiveDate> {
    let t = s.trim();
    NaiveDate::parse_from_str(t, "%d-%m-%Y")
        .or_else(|_| NaiveDate::parse_from_str(t, "%Y-%m-%d"))
        .ok()
}

/// The period as `[from, to)` in plant time.
pub fn period_bounds(
    p: &Periodo,
) -> Result<(NaiveDate, NaiveDate, NaiveDateTime, NaiveDateTime), ApiError> {
    let bad = |what: &str, v: &str| {
        ApiError::new(
            "PERIODO_INVALIDO",
            format!("Fecha {what} inválida: «{v}». Use DD-MM-AAAA."),
        )
    };
    let desde = parse_plant_date(&p.desde).ok_or_else(|| bad("desde", &p.desde))?;
    let hasta = parse_plant_date(&p.hasta).ok_or_else(|| bad("hasta", &p.hasta))?;
    if hasta < desde {
        return Err(ApiError::new(
            "PERIODO_INVALIDO",
            "La fecha «hasta» es anterior a «desde».",
        ));
    }
    let from = desde.and_time(chrono::NaiveTime::MIN);
    let to = (hasta + chrono::Duration::days(1)).and_time(chrono::NaiveTime::MIN);
    Ok((desde, hasta, from, to))
}

/// One CSV field (RFC 4180). A field a spreadsheet would run as a formula (`=`, `+`, `-`,
/// `@`) gets a leading apostrophe: an export must never execute anything when opened.
pub fn csv_field(v: &str) -> String {
    let guarded = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}")
    } else {
        v.to_string()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// A conflict as counted by the metrics (from the plant's CONFLICTO rows or this device's
/// inbox, the same conflict once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictFact {
    pub key: String,
    pub tag: String,
    pub worker: String,
    pub at: NaiveDateTime,
}

fn count_by(facts: &[ConflictFact], key: impl Fn(&ConflictFact) -> &str) -> Vec<ConflictCount> {
    let mut m: BTreeMap<&str, (u32, NaiveDateTime)> = BTreeMap::new();
    for f in facts {
        let e = m.entry(key(f)).or_insert((0, f.at));
        e.0 += 1;
        e.1 = e.1.max(f.at);
    }
    let mut v: Vec<ConflictCount> = m
        .into_iter()
        .map(|(k, (n, last))| ConflictCount {
            key: k.to_string(),
            conflicts: n,
            last: fmt_datetime(last),
        })
        .collect();
    v.sort_by(|a, b| b.conflicts.cmp(&a.conflicts).then(a.key.cmp(&b.key)));
    v
}

/// Counts per spool and per worker; hot spots are spools above [`HOT_SPOT_THRESHOLD`].
pub fn conflict_metrics(
    desde: NaiveDate,
    hasta: NaiveDate,
    facts: &[ConflictFact],
) -> ConflictMetrics {
    let por_spool = count_by(facts, |f| &f.tag);
    let hot_spots = por_spool
        .iter()
        .filter(|c| c.conflicts > HOT_SPOT_THRESHOLD)
        .cloned()
        .collect();
    ConflictMetrics {
        desde: crate::domain::time::fmt_date(desde),
        hasta: crate::domain::time::fmt_date(hasta),
        total: facts.len() as u32,
        por_trabajador: count_by(facts, |f| &f.worker),
        por_spool,
        hot_spots,
    }
}

/// `Presupuesto de la flota: 50 lecturas/min y 50 escrituras/min · ráfaga disponible ahora: 3 de
/// 5 lecturas, 5 de 5 escrituras` (a full bucket when no device spent any lately).
pub fn quota_text(q: &crate::ports::QuotaLevels) -> String {
    let left = |v: Option<f64>, cap: u32| v.map_or(f64::from(cap), |t| t.floor().max(0.0));
    format!(
        "Presupuesto de todos los equipos: {} lecturas/min y {} escrituras/min (Google permite 60). Ráfaga disponible ahora: {:.0} de {} lecturas, {:.0} de {} escrituras.",
        q.reads_per_minute,
        q.writes_per_minute,
        left(q.reads, q.read_capacity),
        q.read_capacity,
        left(q.writes, q.write_capacity),
        q.write_capacity
    )
}

/// A worker who holds every role: "could anyone with the role take this spool now?".
fn anyone() -> Worker {
    Worker {
        id: u32::MAX,
        nombre: "Cualquiera".into(),
        apellido: "Planta".into(),
        activo: true,
        roles: Rol::ALL.to_vec(),
    }
}

impl Zeues {
    /// Spools ready for each operation now, for any worker holding the role.
    pub fn disponibles(&self) -> Result<Disponibles, ApiError> {
        let now = santiago(self.clock().now());
        let w = anyone();
        let actor = Actor {
            worker: &w,
            supervisor_verified: false,
        };
        let count = |coarse: &str, intent: Intent| -> Result<u32, ApiError> {
            let rows = self.store().spools_where(coarse, &[], usize::MAX >> 1)?;
            Ok(rows
                .iter()
                .filter(|s| eligible(s, actor, intent, now))
                .count() as u32)
        };
        let scalar = |sql: &str| -> Result<u32, ApiError> {
            let rows = self.store().spools_where(sql, &[], usize::MAX >> 1)?;
            Ok(rows.len() as u32)
        };
        Ok(Disponibles {
            arm: count(
                "ocupado_por IS NULL AND fecha_materiales IS NOT NULL AND fecha_armado IS NULL",
                Intent::Tomar(Operacion::Arm),
            )?,
            sold: count(
                "ocupado_por IS NULL AND fecha_materiales IS NOT NULL AND armador IS NOT NULL AND fecha_soldadura IS NULL",
                Intent::Tomar(Operacion::Sold),
            )?,
            metrologia: count(
                "ocupado_por IS NULL AND fecha_armado IS NOT NULL AND fecha_soldadura IS NOT NULL AND (resultado_metrologia IS NULL OR estado_reparacion = 'COMPLETADA')",
                Intent::Metrologia {
                    resultado: ResultadoMetrologia::Aprobado,
                    origen: None,
                },
            )?,
            reparacion: count(
                "ocupado_por IS NULL AND estado_reparacion IN ('PENDIENTE', 'PAUSADA')",
                Intent::Tomar(Operacion::Reparacion),
            )?,
            bloqueados: scalar("estado_reparacion = 'BLOQUEADO'")?,
            ocupados: scalar("ocupado_por IS NOT NULL")?,
            total: self.store().spool_count()? as u32,
        })
    }

    /// Checks the supervisor PIN, at most [`PIN_MAX_FAILURES`] wrong ones in a row before it
    /// is locked for [`PIN_LOCKOUT`]. Every check is recorded (the trail of wrong PINs).
    pub(crate) fn check_pin(
        &self,
        pin: &str,
        worker_id: Option<u32>,
        accion: &str,
    ) -> Result<(), ApiError> {
        let now = self.clock().now();
        let recent = self
            .store()
            .pin_attempts_since(now - chrono_dur(PIN_WINDOW.max(PIN_LOCKOUT)))?;
        if let Some(until) = pin_locked_until(&recent, now) {
            self.store().record_pin_attempt(&PinAttemptRecord {
                at: now,
                worker_id,
                ok: false,
                refused: true,
                accion: Some(accion.to_string()),
            })?;
            let mins = ((until - now).num_seconds() + 59) / 60;
            tracing::warn!(worker = ?worker_id, "PIN de supervisor bloqueado por intentos fallidos");
            let mut e = ApiError::new(
                "PIN_BLOQUEADO",
                format!(
                    "Demasiados PIN incorrectos seguidos. Espere {mins} min o pida ayuda a otro supervisor."
                ),
            );
            e.data = serde_json::json!({ "retry_after_secs": (until - now).num_seconds() });
            return Err(e);
        }
        let stored = self.store().setting("supervisor_pin")?.ok_or_else(|| {
            ApiError::new(
                "PIN_NO_CONFIGURADO",
                "No hay PIN de supervisor configurado en este equipo.",
            )
        })?;
        let parsed = PasswordHash::new(&stored)
            .map_err(|e| ApiError::internal(format!("PIN guardado ilegible: {e}")))?;
        let ok = Argon2::default()
            .verify_password(pin.as_bytes(), &parsed)
            .is_ok();
        self.store().record_pin_attempt(&PinAttemptRecord {
            at: now,
            worker_id,
            ok,
            refused: false,
            accion: Some(accion.to_string()),
        })?;
        if ok {
            return Ok(());
        }
        let failures = 1 + recent.iter().take_while(|a| !a.ok && !a.refused).count();
        let left = PIN_MAX_FAILURES.saturating_sub(failures);
        tracing::warn!(worker = ?worker_id, left, "PIN de supervisor incorrecto");
        let mut e = ApiError::new(
            // The failure that locks says so with the lockout's code: its next step is to wait.
            if left == 0 {
                "PIN_BLOQUEADO"
            } else {
                "PIN_INCORRECTO"
            },
            if left == 0 {
                format!(
                    "PIN de supervisor incorrecto. El PIN queda bloqueado {} minutos.",
                    PIN_LOCKOUT.as_secs() / 60
                )
            } else if left == 1 {
                "PIN de supervisor incorrecto. Queda 1 intento.".to_string()
            } else {
                format!("PIN de supervisor incorrecto. Quedan {left} intentos.")
            },
        );
        e.data = serde_json::json!({ "intentos_restantes": left });
        Err(e)
    }

    /// The supervisor desk's door: a worker with the Supervisor role and the right PIN.
    pub fn supervisor_login(&self, supervisor_id: u32, pin: &str) -> Result<WorkerView, ApiError> {
        let w = self.supervisor_check(supervisor_id, pin, ENTRADA)?;
        tracing::info!(supervisor = w.id, "entrada al escritorio de supervisor");
        Ok(w)
    }

    /// A supervisor vouching with the PIN for `accion` (an export, a reconfiguration): checked
    /// like the desk's door, recorded in ACCESOS under that action.
    pub fn supervisor_check(
        &self,
        supervisor_id: u32,
        pin: &str,
        accion: &str,
    ) -> Result<WorkerView, ApiError> {
        let w = self.checked_supervisor(supervisor_id, pin, accion)?;
        Ok(WorkerView {
            id: w.id,
            token: w.token(),
            nombre: w.nombre.clone(),
            apellido: w.apellido.clone(),
            roles: w.roles.iter().map(|r| r.as_str().to_string()).collect(),
        })
    }

    /// OVERRIDE / FORZAR LIBERACIÓN from the desk (the PIN is checked again for each one).
    pub fn supervisor_action(&self, r: SupervisorRequest) -> Result<ActionOutcome, ApiError> {
        if !r.intent.needs_supervisor() {
            return Err(ApiError::new(
                "TRANSICION_INVALIDA",
                "Desde el escritorio de supervisor solo se hace OVERRIDE o FORZAR LIBERACIÓN.",
            ));
        }
        self.execute(ActionRequest {
            worker_id: r.supervisor_id,
            intent: r.intent,
            tags: r.tags,
            supervisor_pin: Some(r.pin),
        })
    }

    /// PIN checks of the last `days` days, newest first.
    pub fn pin_attempts(&self, days: u32) -> Result<Vec<PinAttempt>, ApiError> {
        let since = self.clock().now() - chrono::Duration::days(i64::from(days.max(1)));
        let workers = self.store().workers()?;
        Ok(self
            .store()
            .pin_attempts_since(since)?
            .into_iter()
            .map(|a| PinAttempt {
                at: fmt_datetime(santiago(a.at)),
                worker: a.worker_id.map(|id| {
                    workers
                        .iter()
                        .find(|w| w.id == id)
                        .map_or_else(|| format!("({id})"), Worker::token)
                }),
                ok: a.ok,
                bloqueado: a.refused,
                accion: a.accion,
            })
            .collect())
    }

    /// Conflicts in the period: the plant's CONFLICTO rows this device has imported plus this
    /// device's own inbox (the same conflict counted once, by its command id).
    pub fn conflict_metrics(&self, p: &Periodo) -> Result<ConflictMetrics, ApiError> {
        let (desde, hasta, from, to) = period_bounds(p)?;
        let mut seen = HashSet::new();
        let mut facts = Vec::new();
        for rec in self.store().audit_between(from, to)? {
            let e = rec.event;
            if e.event_type != EventType::Conflicto {
                continue;
            }
            let key = e
                .metadata
                .get("command_id")
                .and_then(|v| v.as_str())
                .map_or_else(|| e.id.clone(), str::to_string);
            if seen.insert(key.clone()) {
                facts.push(ConflictFact {
                    key,
                    tag: e.tag,
                    worker: e.worker_nombre,
                    at: e.timestamp,
                });
            }
        }
        let workers = self.store().workers()?;
        for c in self.store().conflicts(true)? {
            let at = santiago(c.created_at);
            if at < from || at >= to || !seen.insert(c.command_id.clone()) {
                continue;
            }
            let worker = match self.store().command(&c.command_id)? {
                Some(cmd) => workers
                    .iter()
                    .find(|w| w.id == cmd.worker_id)
                    .map_or_else(|| format!("({})", cmd.worker_id), Worker::token),
                None => String::new(),
            };
            facts.push(ConflictFact {
                key: c.command_id,
                tag: c.tag,
                worker,
                at,
            });
        }
        Ok(conflict_metrics(desde, hasta, &facts))
    }

    /// The supervisor's PRODUCCIÓN figures now, from the plant's log as this device holds it
    /// (the rows the CSV export writes: taps still waiting to sync are left out).
    pub fn produccion(&self) -> Result<crate::domain::produccion::Produccion, ApiError> {
        let events = self.store().plant_log_for_reports()?;
        Ok(crate::domain::produccion::produccion(
            &events,
            santiago(self.clock().now()),
        ))
    }

    fn plant_log(&self) -> Result<Vec<crate::domain::AuditEvent>, ApiError> {
        // Four-digit years: the log's timestamps compare as `YYYY-MM-DDTHH:MM:SS` text.
        let all = |y, m, d| {
            NaiveDate::from_ymd_opt(y, m, d)
                .map(|d| d.and_time(chrono::NaiveTime::MIN))
                .ok_or_else(|| ApiError::internal("fecha fuera de rango"))
        };
        Ok(self
            .store()
            .audit_between(all(1, 1, 1)?, all(9999, 12, 31)?)?
            .into_iter()
            .filter(|r| r.state != "local")
            .map(|r| r.event)
            .collect())
    }

    /// The period's audit rows and occupation sessions as one CSV, in the format of
    /// `zeues export` ([`crate::export::to_csv`]), from what this device holds of the plant's
    /// log: rows the plant has (its own synced taps and the plant's imported `Metadata`), not
    /// taps still waiting to sync (they may yet be refused).
    pub fn csv_export(&self, p: &Periodo) -> Result<CsvExport, ApiError> {
        let (desde, hasta, _, _) = period_bounds(p)?;
        let now = santiago(self.clock().now());
        let events = self.plant_log()?;
        let (csv, written) = crate::export::to_csv(&events, desde, hasta, now)
            .map_err(|e| ApiError::new("PERIODO_INVALIDO", e.to_string()))?;
        Ok(CsvExport {
            desde: crate::domain::time::fmt_date(desde),
            hasta: crate::domain::time::fmt_date(hasta),
            csv,
            audit_rows: written.audit_rows,
            sessions: written.sessions,
        })
    }

    /// What the supervisor sees of synchronisation: Sheets and Redis reachable, the oldest
    /// command waiting here, and (plant mode with Redis) every device alive with its backlog.
    pub async fn sync_health(&self) -> Result<SyncHealth, ApiError> {
        let status = self.sync_status();
        let engine = self.engine();
        let standalone = status.connectivity == Connectivity::Standalone;
        let shared = !standalone && !engine.coordinator_is_local();
        let sheets_ok = (!standalone).then_some(matches!(
            status.connectivity,
            Connectivity::Online | Connectivity::SheetsOnly
        ));
        let redis_ok = shared.then_some(matches!(
            status.connectivity,
            Connectivity::Online | Connectivity::RedisOnly
        ));
        let oldest_pending = self
            .store()
            .oldest_unapplied()?
            .map(|t| fmt_datetime(santiago(t)));
        let (devices, devices_error) = if shared {
            match engine.fleet().await {
                Ok(list) => {
                    let me = self.store().device_id().to_string();
                    let mut v: Vec<DeviceView> = list
                        .into_iter()
                        .map(|p| DeviceView {
                            this_device: p.device_id == me,
                            name: p.name,
                            worker: p.worker,
                            online_since: fmt_datetime(santiago(p.online_since)),
                            last_seen: fmt_datetime(santiago(p.last_seen)),
                            pending: p.pending,
                            oldest_pending: p.oldest_pending.map(|t| fmt_datetime(santiago(t))),
                            leader: p.leader,
                            device_id: p.device_id,
                        })
                        .collect();
                    v.sort_by(|a, b| {
                        b.this_device
                            .cmp(&a.this_device)
                            .then(a.name.cmp(&b.name))
                            .then(a.device_id.cmp(&b.device_id))
                    });
                    (v, None)
                }
                Err(e) => (Vec::new(), Some(e.to_string())),
            }
        } else {
            (Vec::new(), None)
        };
        let quota = if shared {
            match engine.quota_levels().await {
                Ok(Some(q)) => Some(quota_text(&q)),
                Ok(None) => None,
                Err(e) => Some(format!("No se pudo leer la cuota compartida: {e}")),
            }
        } else {
            None
        };
        Ok(SyncHealth {
            sheets_ok,
            redis_ok,
            workbook: engine.workbook_description(),
            coordinator: engine.coordinator_description(),
            quota,
            oldest_pending,
            devices,
            devices_error,
            status,
        })
    }
}

#[cfg(test)]
mod tests;
