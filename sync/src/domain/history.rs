//! A spool's occupation history, derived from its audit rows: work sessions (who, which
//! operation, from–to, how long, across how many days) plus point events (inspections,
//! overrides, conflicts).

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::audit::{AuditEvent, EventType};
use super::time::fmt_duration;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub worker_id: u32,
    pub worker: String,
    pub operacion: String,
    pub start: NaiveDateTime,
    /// `None` while still open (or when a later TOMAR shows it was never closed).
    pub end: Option<NaiveDateTime>,
    pub open: bool,
    /// Whole duration in seconds (to `now` while open); days are never dropped.
    pub duration_secs: i64,
    /// `Xh Ym`.
    pub duration: String,
    /// Calendar days the session touched (1 = same day).
    pub days: u32,
    pub closed_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointEvent {
    pub at: NaiveDateTime,
    pub event_type: String,
    pub worker: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct History {
    pub sessions: Vec<Session>,
    pub events: Vec<PointEvent>,
}

pub(crate) fn opens(e: EventType) -> bool {
    matches!(e, EventType::TomarSpool | EventType::TomarReparacion)
}

pub(crate) fn closes(e: EventType) -> bool {
    matches!(
        e,
        EventType::PausarSpool
            | EventType::CompletarArm
            | EventType::CompletarSold
            | EventType::CancelarArm
            | EventType::CancelarSold
            | EventType::PausarReparacion
            | EventType::CompletarReparacion
            | EventType::CancelarReparacion
            | EventType::ForzarLiberacion
    )
}

fn finish(
    mut s: Session,
    end: Option<NaiveDateTime>,
    now: NaiveDateTime,
    by: Option<&str>,
) -> Session {
    let until = end.unwrap_or(now);
    s.end = end;
    s.open = end.is_none() && by.is_none();
    s.closed_by = by.map(str::to_string);
    s.duration_secs = (until - s.start).num_seconds().max(0);
    s.duration = fmt_duration(s.duration_secs);
    s.days = ((until.date() - s.start.date()).num_days().max(0) + 1) as u32;
    s
}

/// The history of one spool from its audit rows (any order; sorted by time, ties keep order).
pub fn history(events: &[AuditEvent], now: NaiveDateTime) -> History {
    history_of(events.iter().collect(), now)
}

/// [`history`] over borrowed rows (a report that groups a whole log by spool copies nothing).
pub fn history_of(mut evs: Vec<&AuditEvent>, now: NaiveDateTime) -> History {
    evs.sort_by_key(|e| e.timestamp);
    let mut out = History::default();
    let mut open: Option<Session> = None;
    for e in evs {
        if opens(e.event_type) {
            if let Some(prev) = open.take() {
                // Never closed in the log: report it ended with no end time.
                out.sessions
                    .push(finish(prev, None, e.timestamp, Some("SIN_CIERRE")));
            }
            open = Some(Session {
                worker_id: e.worker_id,
                worker: e.worker_nombre.clone(),
                operacion: e.operacion.clone(),
                start: e.timestamp,
                end: None,
                open: true,
                duration_secs: 0,
                duration: String::new(),
                days: 1,
                closed_by: None,
            });
        } else if closes(e.event_type) {
            if let Some(s) = open.take() {
                out.sessions
                    .push(finish(s, Some(e.timestamp), now, Some(e.event_type.code())));
            }
            if e.event_type == EventType::ForzarLiberacion {
                out.events.push(point(e));
            }
        } else if e.event_type != EventType::MigracionEsquema {
            out.events.push(point(e));
        }
    }
    if let Some(s) = open {
        out.sessions.push(finish(s, None, now, None));
    }
    out
}

fn point(e: &AuditEvent) -> PointEvent {
    let detail = match &e.metadata {
        serde_json::Value::Object(m) => m
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "device" | "seq" | "synced_at" | "base_version"))
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    PointEvent {
        at: e.timestamp,
        event_type: e.event_type.code().to_string(),
        worker: e.worker_nombre.clone(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::NaiveDate;

    fn ev(day: u32, h: u32, m: u32, t: EventType, who: &str, op: &str) -> AuditEvent {
        let at = NaiveDate::from_ymd_opt(2026, 3, day)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap();
        AuditEvent {
            id: format!("{day}{h}{m}"),
            timestamp: at,
            event_type: t,
            tag: "T".into(),
            worker_id: 1,
            worker_nombre: who.into(),
            operacion: op.into(),
            accion: String::new(),
            fecha_operacion: at.date(),
            metadata: serde_json::json!({"resultado": "RECHAZADO", "device": "x"}),
        }
    }

    #[test]
    fn sessions_with_durations_that_count_days() {
        let evs = vec![
            ev(1, 8, 0, EventType::TomarSpool, "MR(93)", "ARM"),
            ev(1, 10, 15, EventType::PausarSpool, "MR(93)", "ARM"),
            ev(1, 11, 0, EventType::TomarSpool, "JP(94)", "ARM"),
            ev(2, 13, 5, EventType::CompletarArm, "JP(94)", "ARM"),
            ev(
                3,
                9,
                0,
                EventType::CompletarMetrologia,
                "AL(5)",
                "METROLOGIA",
            ),
            ev(3, 10, 0, EventType::TomarReparacion, "JP(94)", "REPARACION"),
        ];
        let now = NaiveDate::from_ymd_opt(2026, 3, 3)
            .unwrap()
            .and_hms_opt(10, 30, 0)
            .unwrap();
        let h = history(&evs, now);
        assert_eq!(h.sessions.len(), 3);
        assert_eq!(h.sessions[0].duration, "2h 15m");
        assert_eq!(h.sessions[1].duration, "26h 5m");
        assert_eq!(h.sessions[1].days, 2);
        assert!(h.sessions[2].open);
        assert_eq!(h.sessions[2].duration, "30m");
        assert_eq!(h.events.len(), 1);
        assert_eq!(h.events[0].detail, "resultado: RECHAZADO");
    }

    #[test]
    fn unclosed_session_is_reported() {
        let evs = vec![
            ev(1, 8, 0, EventType::TomarSpool, "MR(93)", "ARM"),
            ev(1, 9, 0, EventType::TomarSpool, "JP(94)", "ARM"),
        ];
        let now = NaiveDate::from_ymd_opt(2026, 3, 1)
            .unwrap()
            .and_hms_opt(9, 30, 0)
            .unwrap();
        let h = history(&evs, now);
        assert_eq!(h.sessions[0].closed_by.as_deref(), Some("SIN_CIERRE"));
        assert!(!h.sessions[0].open);
        assert!(h.sessions[1].open);
    }
}
