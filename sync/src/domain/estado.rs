//! `Estado_Detalle`: the human-readable projection written on every change, and the parser that
//! reads it back (including every string the v3.0 app wrote), used to import v3.0-era sheets.

use serde::{Deserialize, Serialize};

use super::spool::{EstadoReparacion, OpOcupacion, OpState, ResultadoMetrologia, Spool};
use super::transitions::MAX_CICLOS;

/// What an `Estado_Detalle` string says about a spool.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EstadoInfo {
    pub ocupante: Option<String>,
    pub operacion: Option<OpOcupacion>,
    pub arm: Option<OpState>,
    pub sold: Option<OpState>,
    pub resultado: Option<ResultadoMetrologia>,
    pub reparacion: Option<EstadoReparacion>,
    pub ciclo: u8,
}

fn suffix(s: &Spool) -> Option<String> {
    let n = s.ciclo_reparacion;
    match (s.estado_reparacion, s.resultado_metrologia) {
        (Some(EstadoReparacion::Bloqueado), _) => Some("BLOQUEADO - Contactar supervisor".into()),
        (Some(EstadoReparacion::Pendiente), _) => Some(format!(
            "RECHAZADO (Ciclo {n}/{MAX_CICLOS}) - Pendiente reparación"
        )),
        (Some(EstadoReparacion::EnReparacion), _) => Some(format!(
            "EN_REPARACION (Ciclo {n}/{MAX_CICLOS}) - Ocupado: {}",
            s.ocupado_por.as_deref().unwrap_or("?")
        )),
        (Some(EstadoReparacion::Pausada), _) => {
            Some(format!("REPARACION_PAUSADA (Ciclo {n}/{MAX_CICLOS})"))
        }
        (Some(EstadoReparacion::Completada), _) => {
            Some(format!("PENDIENTE_METROLOGIA (Ciclo {n}/{MAX_CICLOS})"))
        }
        (None, Some(ResultadoMetrologia::Aprobado)) => Some("METROLOGIA APROBADO ✓".into()),
        (None, Some(ResultadoMetrologia::Rechazado)) => {
            Some("METROLOGIA RECHAZADO - Pendiente reparación".into())
        }
        (None, None) => None,
    }
}

/// The projection (keep these texts: plant people read and search them).
pub fn project(s: &Spool) -> String {
    let arm = s.arm_state().word();
    let sold = s.sold_state().word();
    let base = match &s.ocupado_por {
        Some(tok) => format!(
            "{tok} trabajando {} (ARM {arm}, SOLD {sold})",
            s.operacion_ocupacion.map_or("operación", OpOcupacion::code)
        ),
        None => format!("Disponible - ARM {arm}, SOLD {sold}"),
    };
    match suffix(s) {
        Some(sfx) => format!("{base}, {sfx}"),
        None => base,
    }
}

/// What [`project`] encodes about `s` (the round-trip contract of [`parse`]).
pub fn info_of(s: &Spool) -> EstadoInfo {
    let (resultado, reparacion, ciclo) = match (s.estado_reparacion, s.resultado_metrologia) {
        (Some(e), _) => (
            Some(ResultadoMetrologia::Rechazado),
            Some(e),
            s.ciclo_reparacion,
        ),
        // Not written by the app; an import reads it as the first rejection.
        (None, Some(ResultadoMetrologia::Rechazado)) => (
            Some(ResultadoMetrologia::Rechazado),
            Some(EstadoReparacion::Pendiente),
            1,
        ),
        (None, r) => (r, None, 0),
    };
    EstadoInfo {
        ocupante: s.ocupado_por.clone(),
        operacion: s.ocupado_por.as_ref().and(s.operacion_ocupacion),
        arm: Some(s.arm_state()),
        sold: Some(s.sold_state()),
        resultado,
        reparacion,
        ciclo,
    }
}

fn op_state(word: &str) -> Option<OpState> {
    match word.trim() {
        "pendiente" => Some(OpState::Pendiente),
        "en progreso" => Some(OpState::EnProgreso),
        "pausado" => Some(OpState::Pausado),
        "completado" => Some(OpState::Completado),
        _ => None,
    }
}

/// `(ARM a, SOLD s)` or `ARM a, SOLD s` → the two states and what follows.
fn parse_states(rest: &str) -> Option<(OpState, OpState, &str)> {
    let rest = rest.strip_prefix("ARM ")?;
    let (arm, rest) = rest.split_once(", SOLD ")?;
    let arm = op_state(arm)?;
    let words = ["en progreso", "pendiente", "pausado", "completado"];
    let w = words.iter().find(|w| rest.starts_with(**w))?;
    Some((arm, op_state(w)?, &rest[w.len()..]))
}

fn ciclo_in(text: &str) -> Option<u8> {
    let at = text.find("Ciclo ")?;
    let digits: String = text[at + 6..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse::<u8>().ok().map(|c| c.min(MAX_CICLOS))
}

fn ocupado_in(text: &str) -> Option<String> {
    let at = text.find("Ocupado: ")?;
    let tok = text[at + 9..].split(',').next()?.trim();
    (!tok.is_empty()).then(|| tok.to_string())
}

/// Metrología / repair part (a suffix, or a whole v3.0 cell such as `METROLOGIA_APROBADO ✓`).
fn parse_repair(text: &str, info: &mut EstadoInfo) {
    let at_least_one = |c: Option<u8>| c.unwrap_or(1).max(1);
    if text.contains("BLOQUEADO") {
        info.resultado = Some(ResultadoMetrologia::Rechazado);
        info.reparacion = Some(EstadoReparacion::Bloqueado);
        info.ciclo = MAX_CICLOS;
    } else if text.contains("EN_REPARACION") {
        info.resultado = Some(ResultadoMetrologia::Rechazado);
        info.reparacion = Some(EstadoReparacion::EnReparacion);
        info.ciclo = at_least_one(ciclo_in(text));
        if info.ocupante.is_none() {
            info.ocupante = ocupado_in(text);
        }
        info.operacion = Some(OpOcupacion::Reparacion);
    } else if text.contains("REPARACION_PAUSADA") {
        info.resultado = Some(ResultadoMetrologia::Rechazado);
        info.reparacion = Some(EstadoReparacion::Pausada);
        info.ciclo = at_least_one(ciclo_in(text));
    } else if text.contains("PENDIENTE_METROLOGIA") {
        info.resultado = Some(ResultadoMetrologia::Rechazado);
        info.reparacion = Some(EstadoReparacion::Completada);
        info.ciclo = at_least_one(ciclo_in(text));
    } else if text.contains("RECHAZADO") {
        info.resultado = Some(ResultadoMetrologia::Rechazado);
        info.reparacion = Some(EstadoReparacion::Pendiente);
        // Cycle 0 is impossible after a rejection; v3.0 wrote no cycle until May 2026.
        info.ciclo = at_least_one(ciclo_in(text));
    } else if text.contains("APROBADO") {
        info.resultado = Some(ResultadoMetrologia::Aprobado);
    }
}

/// Reads any `Estado_Detalle` the app or v3.0 ever wrote. Unknown text yields an empty info
/// (the explicit cells, when present, are authoritative anyway).
pub fn parse(text: &str) -> EstadoInfo {
    let t = text.trim();
    let mut info = EstadoInfo::default();
    let mut rest = t;
    if let Some(r) = t.strip_prefix("Disponible - ") {
        if let Some((a, s, after)) = parse_states(r) {
            info.arm = Some(a);
            info.sold = Some(s);
            rest = after;
        }
    } else if let Some(at) = t.find(" trabajando ") {
        let tok = &t[..at];
        let r = &t[at + 12..];
        if let Some((op, r2)) = r.split_once(" (") {
            if let Some((a, s, after)) = parse_states(r2) {
                info.ocupante = Some(tok.to_string());
                info.operacion = OpOcupacion::parse(op);
                info.arm = Some(a);
                info.sold = Some(s);
                rest = after.strip_prefix(')').unwrap_or(after);
            }
        }
    }
    parse_repair(rest, &mut info);
    info
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn base() -> Spool {
        Spool {
            tag: "T".into(),
            ..Spool::default()
        }
    }

    #[test]
    fn occupied_and_available_texts() {
        let mut s = base();
        s.armador = Some("MR(93)".into());
        s.ocupado_por = Some("MR(93)".into());
        s.operacion_ocupacion = Some(OpOcupacion::Arm);
        assert_eq!(
            project(&s),
            "MR(93) trabajando ARM (ARM en progreso, SOLD pendiente)"
        );
        s.ocupado_por = None;
        s.operacion_ocupacion = None;
        s.fecha_armado = chrono::NaiveDate::from_ymd_opt(2026, 1, 2);
        assert_eq!(project(&s), "Disponible - ARM completado, SOLD pendiente");
    }

    #[test]
    fn suffixes() {
        let mut s = base();
        s.resultado_metrologia = Some(ResultadoMetrologia::Aprobado);
        assert!(project(&s).ends_with(", METROLOGIA APROBADO ✓"));
        s.resultado_metrologia = Some(ResultadoMetrologia::Rechazado);
        s.estado_reparacion = Some(EstadoReparacion::Pendiente);
        s.ciclo_reparacion = 2;
        assert!(project(&s).ends_with(", RECHAZADO (Ciclo 2/3) - Pendiente reparación"));
        s.estado_reparacion = Some(EstadoReparacion::Bloqueado);
        s.ciclo_reparacion = 3;
        assert!(project(&s).ends_with(", BLOQUEADO - Contactar supervisor"));
        s.estado_reparacion = Some(EstadoReparacion::EnReparacion);
        s.ocupado_por = Some("JP(94)".into());
        s.operacion_ocupacion = Some(OpOcupacion::Reparacion);
        s.ciclo_reparacion = 1;
        assert_eq!(
            project(&s),
            "JP(94) trabajando REPARACION (ARM pendiente, SOLD pendiente), EN_REPARACION (Ciclo 1/3) - Ocupado: JP(94)"
        );
    }

    #[test]
    fn reads_every_v3_whole_cell_value() {
        let cases: &[(
            &str,
            Option<ResultadoMetrologia>,
            Option<EstadoReparacion>,
            u8,
        )] = &[
            (
                "METROLOGIA_APROBADO ✓",
                Some(ResultadoMetrologia::Aprobado),
                None,
                0,
            ),
            (
                "RECHAZADO (Ciclo 2/3) - Pendiente reparación",
                Some(ResultadoMetrologia::Rechazado),
                Some(EstadoReparacion::Pendiente),
                2,
            ),
            (
                "BLOQUEADO - Contactar supervisor",
                Some(ResultadoMetrologia::Rechazado),
                Some(EstadoReparacion::Bloqueado),
                3,
            ),
            (
                "EN_REPARACION (Ciclo 1/3) - Ocupado: MR(93)",
                Some(ResultadoMetrologia::Rechazado),
                Some(EstadoReparacion::EnReparacion),
                1,
            ),
            (
                "REPARACION_PAUSADA (Ciclo 2/3)",
                Some(ResultadoMetrologia::Rechazado),
                Some(EstadoReparacion::Pausada),
                2,
            ),
            (
                "PENDIENTE_METROLOGIA",
                Some(ResultadoMetrologia::Rechazado),
                Some(EstadoReparacion::Completada),
                1,
            ),
            (
                "REPARACION completado - PENDIENTE_METROLOGIA",
                Some(ResultadoMetrologia::Rechazado),
                Some(EstadoReparacion::Completada),
                1,
            ),
            (
                "METROLOGIA RECHAZADO - Pendiente reparación",
                Some(ResultadoMetrologia::Rechazado),
                Some(EstadoReparacion::Pendiente),
                1,
            ),
        ];
        for (text, res, rep, ciclo) in cases {
            let i = parse(text);
            assert_eq!(
                (i.resultado, i.reparacion, i.ciclo),
                (*res, *rep, *ciclo),
                "{text}"
            );
        }
        assert_eq!(
            parse("EN_REPARACION (Ciclo 1/3) - Ocupado: MR(93)")
                .ocupante
                .as_deref(),
            Some("MR(93)")
        );
    }

    #[test]
    fn reads_v3_occupied_strings() {
        let i = parse("MR(93) trabajando SOLD (ARM completado, SOLD en progreso)");
        assert_eq!(i.ocupante.as_deref(), Some("MR(93)"));
        assert_eq!(i.operacion, Some(OpOcupacion::Sold));
        assert_eq!(i.sold, Some(OpState::EnProgreso));
        let i = parse("Disponible - ARM completado, SOLD completado, METROLOGIA APROBADO ✓");
        assert_eq!(i.resultado, Some(ResultadoMetrologia::Aprobado));
        assert_eq!(parse("texto libre"), EstadoInfo::default());
    }
}
