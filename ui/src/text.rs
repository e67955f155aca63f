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
        "PIN_INCORRECTO" => "PIN de supervisor incorrecto",
        "PIN_BLOQUEADO" => "PIN bloqueado por intentos fallidos",
        "PIN_NO_CONFIGURADO" => "Este equipo no tiene PIN de supervisor",
        "PIN_INVALIDO" => "PIN no válido",
        "SIN_CONFIGURAR" => "Equipo sin configurar",
        "PERIODO_INVALIDO" => "Período no válido",
        "CARPETA_INVALIDA" => "Carpeta no válida",
        "ERROR_ESCRITURA" => "No se pudo guardar el archivo",
        "CONFLICTO_NO_ENCONTRADO" => "Conflicto no encontrado",
        "CONFLICTO_RESUELTO" => "El conflicto ya fue resuelto",
        "ERROR_LOCAL" => "Error de la base de datos de este equipo",
        _ => "Error inesperado",
    }
}

/// What the person in front of the screen should do about an error `code`.
pub fn error_action(code: &str) -> &'static str {
    match code {
        "SPOOL_NO_ENCONTRADO" => "Revise el TAG (o escanéelo de nuevo). Si el spool es nuevo, pida que lo agreguen a la planilla.",
        "WORKER_NO_ENCONTRADO" => "Elija su nombre de la lista. Si no aparece, pida a su supervisor que lo active.",
        "ROL_NO_AUTORIZADO" => "Vuelva y elija otra operación, o pida a su supervisor que le asigne el rol.",
        "SPOOL_OCUPADO" => "Espere a que quien lo tiene lo pause o complete, o elija otro spool.",
        "NO_ES_OCUPANTE" => "Solo quien tomó el spool puede pausarlo o completarlo. Un supervisor puede forzar la liberación.",
        "DEPENDENCIAS_NO_SATISFECHAS" => "Complete primero el paso anterior del spool.",
        "OPERACION_YA_COMPLETADA" => "No hay nada más que hacer en esta operación. Si es un error, avise a su supervisor.",
        "TRANSICION_INVALIDA" => "Vuelva al inicio y revise el estado del spool en QUIÉN TIENE QUÉ.",
        "SPOOL_BLOQUEADO" => "Tres rechazos: solo un supervisor puede desbloquearlo (OVERRIDE).",
        "DATOS_CORRUPTOS" => "No use este spool. Avise a soporte indicando el TAG y la columna del mensaje.",
        "ESQUEMA_INCOMPATIBLE" => "Avise a soporte: alguien cambió la planilla. No se escribió nada.",
        "SIN_CONEXION" => "Puede seguir trabajando: todo queda guardado en este equipo.",
        "CONFLICTO" => "Un supervisor puede descartarlo o re-aplicarlo en SUPERVISOR › CONFLICTOS.",
        "CUOTA_SHEETS" => "No haga nada: se reintenta solo en un minuto.",
        "PIN_INCORRECTO" => "Escriba el PIN otra vez con cuidado.",
        "PIN_BLOQUEADO" => "Espere unos minutos o pida a otro supervisor que entre.",
        "PIN_NO_CONFIGURADO" => "Configure el PIN de supervisor en la configuración de planta.",
        "SIN_CONFIGURAR" => "Elija la planta de demostración o conecte la planta.",
        "PERIODO_INVALIDO" => "Use fechas DD-MM-AAAA, con «desde» antes de «hasta».",
        "CARPETA_INVALIDA" | "ERROR_ESCRITURA" => "Elija una carpeta existente donde pueda escribir.",
        "ERROR_IPC" | "ERROR_INTERNO" | "ERROR_LOCAL" => "Cierre y abra ZEUES. Si se repite, avise a soporte con la hora.",
        _ => "Intente de nuevo. Si se repite, avise a su supervisor.",
    }
}

/// What a typed or scanned TAG that names no spool says (search fields of the dashboard and
/// the supervisor desk).
pub fn unknown_tag(tag: &str) -> String {
    format!(
        "No hay ningún spool con TAG «{tag}». Revise el TAG completo (o escanee la etiqueta); si el spool es nuevo, pida que lo agreguen a la planilla."
    )
}

/// `standalone` / `plant` as people read it.
pub fn mode_label(mode: &str) -> &str {
    match mode {
        "standalone" => "Planta de demostración",
        "plant" => "Planta",
        other => other,
    }
}

/// The first block of a device id (enough to tell devices apart on screen).
pub fn short_id(id: &str) -> &str {
    id.split('-').next().unwrap_or(id)
}

/// A pending command's state, attempts and last error in Spanish.
pub fn pending_state(status: &str, attempts: u32, last_error: Option<&str>) -> String {
    let word = match status {
        "pending" => "En espera",
        "held" => "Retenido tras un conflicto",
        "conflict" => "Conflicto",
        "applied" => "Sincronizado",
        other => other,
    };
    let tries = match attempts {
        0 => String::new(),
        1 => " (1 intento)".to_string(),
        n => format!(" ({n} intentos)"),
    };
    match last_error {
        Some(e) => format!("{word}{tries}: {e}"),
        None => format!("{word}{tries}"),
    }
}

/// Occupations longer than this are highlighted (one shift).
pub const LONG_OCCUPATION_SECS: i64 = 8 * 3600;

/// What a command saved on this device and not synced yet says (not an error).
pub const QUEUED: &str = "Guardado — se sincronizará";

/// `ARM` → `ARMADO`, … (codes as the replica stores them).
pub fn op_label(code: &str) -> &str {
    match code {
        "ARM" => "ARMADO",
        "SOLD" => "SOLDADURA",
        "METROLOGIA" => "METROLOGÍA",
        "REPARACION" => "REPARACIÓN",
        other => other,
    }
}

/// An audit event type as people read it.
pub fn event_label(code: &str) -> &str {
    match code {
        "COMPLETAR_METROLOGIA" => "Inspección de metrología",
        "SUPERVISOR_OVERRIDE" => "Override de supervisor",
        "FORZAR_LIBERACION" => "Liberación forzada",
        "CONFLICTO" => "Conflicto",
        "TOMAR_SPOOL" => "Tomado",
        "PAUSAR_SPOOL" => "Pausado",
        "COMPLETAR_ARM" => "ARM completado",
        "COMPLETAR_SOLD" => "SOLD completado",
        "CANCELAR_ARM" | "CANCELAR_SOLD" | "CANCELAR_REPARACION" => "Cancelado",
        "TOMAR_REPARACION" => "Reparación tomada",
        "PAUSAR_REPARACION" => "Reparación pausada",
        "COMPLETAR_REPARACION" => "Reparación completada",
        "MIGRACION_ESQUEMA" => "Migración de la planilla",
        other => other,
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
    fn every_error_says_what_to_do() {
        for c in [
            "SPOOL_OCUPADO",
            "SPOOL_BLOQUEADO",
            "SIN_CONEXION",
            "PIN_BLOQUEADO",
            "DATOS_CORRUPTOS",
        ] {
            assert_ne!(error_action(c), error_action("NO_EXISTE"), "{c}");
        }
        assert_eq!(op_label("REPARACION"), "REPARACIÓN");
        assert_eq!(QUEUED, "Guardado — se sincronizará");
    }

    #[test]
    fn pending_commands_read_in_spanish() {
        assert_eq!(pending_state("pending", 0, None), "En espera");
        assert_eq!(
            pending_state("pending", 1, Some("sin conexión")),
            "En espera (1 intento): sin conexión"
        );
        assert_eq!(
            pending_state("held", 3, None),
            "Retenido tras un conflicto (3 intentos)"
        );
        assert_eq!(mode_label("plant"), "Planta");
        assert_eq!(short_id("22ea207f-44df-4a26"), "22ea207f");
    }

    #[test]
    fn badge_scans_resolve_to_worker_ids() {
        assert_eq!(scanned_worker_id(" 93 "), Some(93));
        assert_eq!(scanned_worker_id("MR(93)"), Some(93));
        assert_eq!(scanned_worker_id("mauricio"), None);
        assert_eq!(scanned_worker_id("MR()"), None);
    }
}
