//! The supervisor's PRODUCCIÓN view, derived from the audit log alone: spools completed per
//! day per operation (last 14 days), work in progress per operation over today's shift, the
//! median and p90 time an operation took per week (ARM, SOLD, REPARACIÓN), and metrología's
//! rejection rate by the defect's origin per week. The same figures go to the CSV export.
//!
//! Time of an operation: the sum of its work sessions on a spool (TOMAR → PAUSAR/COMPLETAR,
//! pauses excluded) up to the COMPLETAR that ends it, counted in the week of that COMPLETAR.
//! Work in progress at an hour: sessions open at that instant (a spool taken and not yet
//! paused, completed or cancelled).

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use serde::{Deserialize, Serialize};

use super::audit::{AuditEvent, EventType};
use super::history::{closes, opens};

/// Days in the completions chart.
pub const DIAS: usize = 14;
/// Weeks in the time and rejection charts.
pub const SEMANAS: usize = 8;
/// The shift's first hour when nothing was open earlier today.
pub const INICIO_TURNO: u32 = 6;

const OPS: [&str; 3] = ["ARM", "SOLD", "REPARACION"];

/// One operation's values along a chart's axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Serie {
    pub operacion: String,
    pub valores: Vec<u32>,
}

/// Median and p90 minutes of one operation, per week (`None`: nothing completed that week).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tiempos {
    pub operacion: String,
    pub mediana_min: Vec<Option<f64>>,
    pub p90_min: Vec<Option<f64>>,
    /// Operations completed per week (the sample behind each figure).
    pub n: Vec<u32>,
}

/// Metrología per week: inspections, and rejections by the defect's origin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RechazoSemana {
    pub semana: String,
    pub inspecciones: u32,
    pub rechazos_arm: u32,
    pub rechazos_sold: u32,
}

impl RechazoSemana {
    /// Percent of the week's inspections rejected with this origin.
    pub fn tasa(&self, rechazos: u32) -> f64 {
        if self.inspecciones == 0 {
            0.0
        } else {
            100.0 * f64::from(rechazos) / f64::from(self.inspecciones)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Produccion {
    /// `DD-MM` of the last [`DIAS`] days, oldest first (today last).
    pub dias: Vec<String>,
    /// ARM, SOLD, REPARACION and METROLOGIA completions per day.
    pub completados: Vec<Serie>,
    /// `HH:00` points of today's shift, up to now.
    pub horas: Vec<String>,
    /// ARM, SOLD, REPARACION in progress at each hour.
    pub en_curso: Vec<Serie>,
    /// ISO weeks (`2026-S49`), oldest first (this week last).
    pub semanas: Vec<String>,
    pub tiempos: Vec<Tiempos>,
    pub rechazo: Vec<RechazoSemana>,
    /// Audit rows the figures come from.
    pub eventos: usize,
}

fn completed_op(e: EventType) -> Option<&'static str> {
    match e {
        EventType::CompletarArm => Some("ARM"),
        EventType::CompletarSold => Some("SOLD"),
        EventType::CompletarReparacion => Some("REPARACION"),
        EventType::CompletarMetrologia => Some("METROLOGIA"),
        _ => None,
    }
}

fn week_start(d: NaiveDate) -> NaiveDate {
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

fn week_label(monday: NaiveDate) -> String {
    let w = monday.iso_week();
    format!("{}-S{:02}", w.year(), w.week())
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// The figures at `now` (plant time) from every audit row this device holds.
pub fn produccion(events: &[AuditEvent], now: NaiveDateTime) -> Produccion {
    let today = now.date();
    let first_day = today - Duration::days(DIAS as i64 - 1);
    let this_week = week_start(today);
    let first_week = this_week - Duration::weeks(SEMANAS as i64 - 1);
    let week_index = |d: NaiveDate| -> Option<usize> {
        let w = week_start(d);
        (w >= first_week && w <= this_week).then(|| ((w - first_week).num_days() / 7) as usize)
    };

    // Completions per day and metrología per week: straight from the rows.
    let mut completados: BTreeMap<&str, Vec<u32>> = OPS
        .iter()
        .chain(["METROLOGIA"].iter())
        .map(|op| (*op, vec![0; DIAS]))
        .collect();
    let mut rechazo: Vec<RechazoSemana> = (0..SEMANAS)
        .map(|i| RechazoSemana {
            semana: week_label(first_week + Duration::weeks(i as i64)),
            inspecciones: 0,
            rechazos_arm: 0,
            rechazos_sold: 0,
        })
        .collect();
    let mut by_tag: BTreeMap<&str, Vec<&AuditEvent>> = BTreeMap::new();
    for e in events {
        let day = e.timestamp.date();
        if let Some(op) = completed_op(e.event_type) {
            if day >= first_day && day <= today {
                if let Some(v) = completados.get_mut(op) {
                    v[(day - first_day).num_days() as usize] += 1;
                }
            }
        }
        if e.event_type == EventType::CompletarMetrologia {
            if let Some(w) = week_index(day) {
                let r = &mut rechazo[w];
                r.inspecciones += 1;
                if e.metadata.get("resultado").and_then(|v| v.as_str()) == Some("RECHAZADO") {
                    match e.metadata.get("origen").and_then(|v| v.as_str()) {
                        Some("ARM") => r.rechazos_arm += 1,
                        Some("SOLD") => r.rechazos_sold += 1,
                        _ => {}
                    }
                }
            }
        }
        if !e.tag.is_empty() {
            by_tag.entry(e.tag.as_str()).or_default().push(e);
        }
    }

    // Sessions: work in progress today, and each completed operation's working time.
    let shift_start = today.and_time(NaiveTime::MIN) + Duration::hours(i64::from(INICIO_TURNO));
    let mut today_sessions: Vec<(&str, NaiveDateTime, Option<NaiveDateTime>)> = Vec::new();
    let mut minutes: BTreeMap<&str, Vec<Vec<f64>>> = OPS
        .iter()
        .map(|op| (*op, vec![Vec::new(); SEMANAS]))
        .collect();
    let midnight = today.and_time(NaiveTime::MIN);
    // The sessions of `domain::history` (same opening and closing events), walked without
    // building them: a 100,000-row log is the tab's budget (issue 15).
    for mut evs in by_tag.into_values() {
        evs.sort_by_key(|e| e.timestamp);
        let mut worked: BTreeMap<&str, i64> = BTreeMap::new();
        let mut open: Option<(&str, NaiveDateTime)> = None;
        for e in evs {
            if opens(e.event_type) {
                if let Some((op, start)) = open.take() {
                    // Never closed in the log (a later TOMAR): its time runs to that TOMAR,
                    // but it was not in progress after its start.
                    *worked.entry(op).or_insert(0) += (e.timestamp - start).num_seconds().max(0);
                }
                open = Some((e.operacion.as_str(), e.timestamp));
                continue;
            }
            if !closes(e.event_type) {
                continue;
            }
            let Some((op, start)) = open.take() else {
                continue;
            };
            if e.timestamp > midnight {
                today_sessions.push((op, start, Some(e.timestamp)));
            }
            let acc = worked.entry(op).or_insert(0);
            *acc += (e.timestamp - start).num_seconds().max(0);
            match e.event_type {
                EventType::CompletarArm
                | EventType::CompletarSold
                | EventType::CompletarReparacion => {
                    let total = std::mem::take(acc);
                    if let (Some(w), Some(per_week)) =
                        (week_index(e.timestamp.date()), minutes.get_mut(op))
                    {
                        per_week[w].push(total as f64 / 60.0);
                    }
                }
                // A cancelled operation starts over: its time is not the next one's.
                EventType::CancelarArm
                | EventType::CancelarSold
                | EventType::CancelarReparacion => {
                    *acc = 0;
                }
                _ => {}
            }
        }
        if let Some((op, start)) = open {
            today_sessions.push((op, start, None));
        }
    }
    // From the shift's start, or earlier when work was already in progress.
    let earliest_today = today_sessions
        .iter()
        .map(|(_, start, _)| (*start).max(midnight))
        .min()
        .map_or(shift_start, |t| t.min(shift_start));
    let first_hour = earliest_today
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .unwrap_or(earliest_today);
    let mut points = Vec::new();
    let mut t = first_hour;
    while t <= now {
        points.push(t);
        t += Duration::hours(1);
    }
    if points.last().is_none_or(|p| *p < now) {
        points.push(now);
    }
    let en_curso = OPS
        .iter()
        .map(|op| Serie {
            operacion: op.to_string(),
            valores: points
                .iter()
                .map(|p| {
                    today_sessions
                        .iter()
                        .filter(|(o, start, end)| {
                            o == op && start <= p && end.is_none_or(|e| *p < e)
                        })
                        .count() as u32
                })
                .collect(),
        })
        .collect();
    let tiempos = OPS
        .iter()
        .map(|op| {
            let weeks = minutes.remove(op).unwrap_or_default();
            let mut t = Tiempos {
                operacion: op.to_string(),
                mediana_min: Vec::new(),
                p90_min: Vec::new(),
                n: Vec::new(),
            };
            for mut v in weeks {
                v.sort_by(f64::total_cmp);
                t.mediana_min.push(median(&v));
                t.p90_min.push(percentile(&v, 0.9));
                t.n.push(v.len() as u32);
            }
            t
        })
        .collect();
    Produccion {
        dias: (0..DIAS)
            .map(|i| {
                (first_day + Duration::days(i as i64))
                    .format("%d-%m")
                    .to_string()
            })
            .collect(),
        completados: completados
            .into_iter()
            .map(|(op, valores)| Serie {
                operacion: op.to_string(),
                valores,
            })
            .collect(),
        horas: points
            .iter()
            .map(|p| {
                if p.minute() == 0 && p.second() == 0 {
                    p.format("%H:00").to_string()
                } else {
                    p.format("%H:%M").to_string()
                }
            })
            .collect(),
        en_curso,
        semanas: rechazo.iter().map(|r| r.semana.clone()).collect(),
        tiempos,
        rechazo,
        eventos: events.len(),
    }
}

#[cfg(test)]
mod tests;
