//! Every Spanish word the screens choose by code. Pure functions, unit-tested on the host.

use zeues_sync::api::{Connectivity, SyncStatus};
use zeues_sync::domain::{Intent, Operacion, ResultadoMetrologia};

/// The headline for an error `code` (DOMAIN.md §6); the service's `message` is shown under it.
pub fn error_title(code: &str) -> &'static str {
    match code {
        "SPOOL_NO_ENCONTRADO" => "Spool no encontrado",
        "WORKER_NO_ENCONTRADO" => "Trabajador no encontrado o inactivo",
        "ROL_NO_AUTORIZADO" => "No tienes el rol para esta operación",
        "SPOOL_OCUPADO" => "Spool ocupado por otro trabajador",
        "NO_ES_OCUPANTE" => "Solo quien tomó el spool puede hacer esto",
        "DEPENDENCIAS_NO_SATISFECHAS" => "Faltan pasos previos",
        "OPERACION_YA_COMPLETADA" => "La operación ya fue completada",
        "TRANSICION_INVALIDA" => "Acción no permitida en el estado actual",
        "SPOOL_BLOQUEADO" => "Spool bloqueado - contactar supervisor",
        "DATOS_CORRUPTOS" => {
            "Este spool tiene un problema de datos. Contacta soporte y reporta el TAG"
        }
        "ESQUEMA_INCOMPATIBLE" => "La planilla cambió: falta una columna necesaria",
        "SIN_CONEXION" => "Sin conexión: guardado en este equipo, se sincronizará",
        "CONFLICTO" => "Conflicto: otro equipo registró primero",
        "CUOTA_SHEETS" => "Google Sheets está saturado; se reintentará solo",
        "TAG_INVALIDO" => "TAG inválido",
        "LOTE_INVALIDO" => "Selección inválida",
        "ERROR_IPC" => "La ventana no pudo comunicarse con la aplicación",
        _ => "Error inesperado",
    }
}

/// `¿Quién va a armar?` …
pub fn who_question(op: Operacion) -> &'static str {
    match op {
        Operacion::Arm => "¿Quién va a armar?",
        Operacion::Sold => "¿Quién va a soldar?",
        Operacion::Metrologia => "¿Quién va a medir?",
        Operacion::Reparacion => "¿Quién va a reparar?",
    }
}

/// The word on a button or header for an intent: TOMAR, PAUSAR, … INSPECCIONAR.
pub fn intent_word(intent: Intent) -> &'static str {
    match intent {
        Intent::Tomar(_) => "TOMAR",
        Intent::Pausar(_) => "PAUSAR",
        Intent::Completar(_) => "COMPLETAR",
        Intent::Cancelar(_) => "CANCELAR",
        Intent::Metrologia { .. } => "INSPECCIONAR",
        Intent::Override => "DESBLOQUEAR",
        Intent::ForzarLiberacion => "FORZAR LIBERACIÓN",
    }
}

/// The big word on the success screen.
pub fn done_word(intent: Intent) -> &'static str {
    match intent {
        Intent::Tomar(_) => "TOMADO",
        Intent::Pausar(_) => "PAUSADO",
        Intent::Completar(_) => "COMPLETADO",
        Intent::Cancelar(_) => "CANCELADO",
        Intent::Metrologia {
            resultado: ResultadoMetrologia::Aprobado,
            ..
        } => "APROBADO",
        Intent::Metrologia {
            resultado: ResultadoMetrologia::Rechazado,
            ..
        } => "RECHAZADO",
        Intent::Override => "DESBLOQUEADO",
        Intent::ForzarLiberacion => "LIBERADO",
    }
}

/// `CONTINUAR CON 1 SPOOL` / `CONTINUAR CON 3 SPOOLS`.
pub fn spools_count(n: usize) -> String {
    if n == 1 {
        "1 SPOOL".to_string()
    } else {
        format!("{n} SPOOLS")
    }
}

/// Text and tone (`ok`, `warn`, `bad`) of the sync badge.
pub fn sync_badge(status: Option<&SyncStatus>) -> (String, &'static str) {
    let Some(s) = status else {
        return ("CONECTANDO…".to_string(), "warn");
    };
    let (base, mut tone) = match s.connectivity {
        Connectivity::Standalone => ("LOCAL", "ok"),
        Connectivity::Online => ("EN LÍNEA", "ok"),
        Connectivity::RedisOnly | Connectivity::SheetsOnly => ("CONEXIÓN PARCIAL", "warn"),
        Connectivity::Offline => ("SIN CONEXIÓN", "bad"),
    };
    let mut text = base.to_string();
    if s.pending > 0 {
        text.push_str(&format!(" · {} PENDIENTE{}", s.pending, plural(s.pending)));
        if tone == "ok" {
            tone = "warn";
        }
    }
    if s.conflicts > 0 {
        text.push_str(&format!(
            " · {} CONFLICTO{}",
            s.conflicts,
            plural(s.conflicts)
        ));
        tone = "bad";
    }
    (text, tone)
}

fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "S"
    }
}

/// `Xh Ym` / `Ym` for an elapsed number of seconds (never drops whole days).
pub fn elapsed(secs: i64) -> String {
    let secs = secs.max(0);
    let h = secs / 3600;
    let m = (secs % 3600) / 60;
    if h > 0 {
        format!("{h}h {m}m")
    } else {
        format!("{m}m")
    }
}

/// A scanned badge (`93`, `MR(93)`, `mr(93)`) as a worker id.
pub fn scanned_worker_id(input: &str) -> Option<u32> {
    let t = input.trim();
    if let Ok(id) = t.parse::<u32>() {
        return Some(id);
    }
    let inner = t.strip_suffix(')')?;
    let open = inner.rfind('(')?;
    inner[open + 1..].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeues_sync::domain::DefectoOrigen;

    fn status(c: Connectivity, pending: u32, conflicts: u32) -> SyncStatus {
        SyncStatus {
            mode: "standalone".into(),
            connectivity: c,
            pending,
            conflicts,
            last_sync: None,
            last_error: None,
            device_id: "d".into(),
        }
    }

    #[test]
    fn every_domain_code_has_its_own_spanish_title() {
        let codes = [
            "SPOOL_NO_ENCONTRADO",
            "WORKER_NO_ENCONTRADO",
            "ROL_NO_AUTORIZADO",
            "SPOOL_OCUPADO",
            "NO_ES_OCUPANTE",
            "DEPENDENCIAS_NO_SATISFECHAS",
            "OPERACION_YA_COMPLETADA",
            "TRANSICION_INVALIDA",
            "SPOOL_BLOQUEADO",
            "DATOS_CORRUPTOS",
            "ESQUEMA_INCOMPATIBLE",
            "SIN_CONEXION",
            "CONFLICTO",
            "CUOTA_SHEETS",
        ];
        let generic = error_title("NO_EXISTE");
        let mut seen = std::collections::HashSet::new();
        for c in codes {
            let t = error_title(c);
            assert_ne!(t, generic, "{c} falls back to the generic text");
            assert!(seen.insert(t), "{c} shares its title");
        }
    }

    #[test]
    fn badge_escalates_with_pending_and_conflicts() {
        assert_eq!(sync_badge(None).1, "warn");
        assert_eq!(
            sync_badge(Some(&status(Connectivity::Standalone, 0, 0))),
            ("LOCAL".to_string(), "ok")
        );
        assert_eq!(
            sync_badge(Some(&status(Connectivity::Offline, 3, 0))),
            ("SIN CONEXIÓN · 3 PENDIENTES".to_string(), "bad")
        );
        assert_eq!(
            sync_badge(Some(&status(Connectivity::Online, 1, 2))),
            ("EN LÍNEA · 1 PENDIENTE · 2 CONFLICTOS".to_string(), "bad")
        );
    }

    #[test]
    fn words_follow_the_intent() {
        assert_eq!(intent_word(Intent::Tomar(Operacion::Arm)), "TOMAR");
        assert_eq!(done_word(Intent::Pausar(Operacion::Sold)), "PAUSADO");
        let rech = Intent::Metrologia {
            resultado: ResultadoMetrologia::Rechazado,
            origen: Some(DefectoOrigen::Sold),
        };
        assert_eq!(done_word(rech), "RECHAZADO");
        assert_eq!(who_question(Operacion::Metrologia), "¿Quién va a medir?");
        assert_eq!(spools_count(1), "1 SPOOL");
        assert_eq!(spools_count(7), "7 SPOOLS");
    }

    #[test]
    fn elapsed_keeps_whole_days_in_hours() {
        assert_eq!(elapsed(59), "0m");
        assert_eq!(elapsed(3 * 3600 + 5 * 60), "3h 5m");
        assert_eq!(elapsed(26 * 3600), "26h 0m");
        assert_eq!(elapsed(-5), "0m");
    }

    #[test]
    fn badge_scans_resolve_to_worker_ids() {
        assert_eq!(scanned_worker_id(" 93 "), Some(93));
        assert_eq!(scanned_worker_id("MR(93)"), Some(93));
        assert_eq!(scanned_worker_id("mauricio"), None);
        assert_eq!(scanned_worker_id("MR()"), None);
    }
}
