//! Every Spanish word the screens choose by code. Pure functions, unit-tested on the host.

use zeues_sync::api::{Connectivity, SyncStatus, WorkerView};
use zeues_sync::domain::{Intent, Operacion, ResultadoMetrologia};

use crate::state::Screen;

/// Every error code the shell and `zeues-sync` can answer (and `ERROR_IPC`, the UI's own):
/// the codes of DOMAIN.md §6 first, then malformed input, the workbook's, the supervisor
/// desk's, the first-run screen's and the local ones. `every_error_says_what_to_do` holds each
/// to a title and an action of its own, and `every_code_the_backend_returns_is_listed` reads
/// the sources so a new code cannot fall back to "Error inesperado" unnoticed.
pub const ERROR_CODES: [&str; 40] = [
    // DOMAIN.md §6
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
    // Malformed input
    "TAG_INVALIDO",
    "LOTE_INVALIDO",
    // The workbook (Google Sheets)
    "SIN_PERMISO",
    "PLANILLA_NO_ENCONTRADA",
    "SOLICITUD_RECHAZADA",
    "ESCRITOR_OCUPADO",
    // Supervisor
    "PIN_INCORRECTO",
    "PIN_BLOQUEADO",
    "PIN_NO_CONFIGURADO",
    "PIN_INVALIDO",
    "PERIODO_INVALIDO",
    "CARPETA_INVALIDA",
    "ERROR_ESCRITURA",
    "CONFLICTO_NO_ENCONTRADO",
    "CONFLICTO_RESUELTO",
    // Configuration and first run
    "SIN_CONFIGURAR",
    "CONFIGURACION_INVALIDA",
    "CONFIGURACION_CON_ERRORES",
    "CONFIGURACION_NO_GUARDADA",
    "CONFIGURACION_SHEETS",
    "CONFIGURACION_REDIS",
    "PIN_REQUERIDO",
    "SUPERVISOR_NO_VERIFICABLE",
    // This device
    "ERROR_LOCAL",
    "ERROR_INTERNO",
    "ERROR_IPC",
];

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
        "SIN_PERMISO" => "ZEUES no tiene permiso sobre la planilla",
        "ESCRITOR_OCUPADO" => "Otro equipo es el que escribe en esta planilla",
        "PLANILLA_NO_ENCONTRADA" => "No se encontró la planilla",
        "SOLICITUD_RECHAZADA" => "Google Sheets rechazó el cambio",
        "ERROR_IPC" => "La ventana no pudo comunicarse con la aplicación",
        "PIN_INCORRECTO" => "PIN de supervisor incorrecto",
        "PIN_BLOQUEADO" => "PIN bloqueado por intentos fallidos",
        "PIN_NO_CONFIGURADO" => "Este equipo no tiene PIN de supervisor",
        "PIN_INVALIDO" => "PIN no válido",
        "PIN_REQUERIDO" => "Falta el PIN de supervisor",
        "SUPERVISOR_NO_VERIFICABLE" => "No se puede comprobar al supervisor de la planta",
        "SIN_CONFIGURAR" => "Equipo sin configurar",
        "CONFIGURACION_INVALIDA" => "Configuración no válida",
        "CONFIGURACION_CON_ERRORES" => "No se guardó: la conexión tiene errores",
        "CONFIGURACION_NO_GUARDADA" => "No se pudo guardar la configuración",
        "CONFIGURACION_SHEETS" => "No se pudo conectar con Google Sheets",
        "CONFIGURACION_REDIS" => "No se pudo conectar con Redis",
        "PERIODO_INVALIDO" => "Período no válido",
        "CARPETA_INVALIDA" => "Carpeta no válida",
        "ERROR_ESCRITURA" => "No se pudo guardar el archivo",
        "CONFLICTO_NO_ENCONTRADO" => "Conflicto no encontrado",
        "CONFLICTO_RESUELTO" => "El conflicto ya fue resuelto",
        "ERROR_LOCAL" => "Error de la base de datos de este equipo",
        "ERROR_INTERNO" => "Error interno de ZEUES",
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
        "TAG_INVALIDO" => "Escriba el TAG tal como está en la etiqueta del spool, o escanéela.",
        "LOTE_INVALIDO" => "Vuelva a la lista y elija entre 1 y 50 spools.",
        "SIN_PERMISO" => "Comparta la planilla con el correo de la cuenta de servicio, como Editor, y pruebe de nuevo. Mientras tanto todo queda guardado en este equipo.",
        "PLANILLA_NO_ENCONTRADA" => "Revise el ID de la planilla (lo que va entre /d/ y /edit en su dirección) y que no la hayan borrado o movido.",
        "SOLICITUD_RECHAZADA" => "Avise a soporte con la hora y el mensaje. Lo hecho en este equipo no se pierde.",
        "ESCRITOR_OCUPADO" => "Sin Redis solo un equipo registra acciones: use el equipo indicado, o pida a TI configurar Redis. Lo ya guardado aquí espera y no se pierde.",
        "PIN_INCORRECTO" => "Escriba el PIN otra vez con cuidado.",
        "PIN_BLOQUEADO" => "Espere unos minutos o pida a otro supervisor que entre.",
        "PIN_NO_CONFIGURADO" => "TI fija el PIN con «echo NNNN | zeues pin» en este equipo, con ZEUES cerrado.",
        "PIN_INVALIDO" => "Escriba un PIN de al menos 4 dígitos, solo números.",
        "PIN_REQUERIDO" => "Escriba el PIN de supervisor (al menos 4 dígitos, solo números); para cambiar un equipo ya conectado, elija también al supervisor que autoriza.",
        "SUPERVISOR_NO_VERIFICABLE" => "Corrija lo que PROBAR CONEXIÓN marca en rojo (archivo de clave, red) y reinicie ZEUES; si no basta, TI edita zeues.toml (docs/OPERATIONS.md).",
        "SIN_CONFIGURAR" => "Elija la planta de demostración o conecte la planta.",
        "CONFIGURACION_INVALIDA" => "Revise los datos del formulario (ID de la planilla, archivo de clave, URL de Redis) y pruebe la conexión otra vez.",
        "CONFIGURACION_CON_ERRORES" => "Corrija lo que PROBAR CONEXIÓN marca en rojo y vuelva a guardar.",
        "CONFIGURACION_NO_GUARDADA" => "Revise que la carpeta de configuración exista y se pueda escribir, y vuelva a guardar.",
        "CONFIGURACION_SHEETS" => "Revise el archivo de clave de la cuenta de servicio y la conexión a internet; «zeues doctor» dice qué falla.",
        "CONFIGURACION_REDIS" => "Revise la URL y la contraseña de Redis y la red de la planta; «zeues doctor» dice qué falla.",
        "PERIODO_INVALIDO" => "Use fechas DD-MM-AAAA, con «desde» antes de «hasta».",
        "CARPETA_INVALIDA" | "ERROR_ESCRITURA" => "Elija una carpeta existente donde pueda escribir.",
        "CONFLICTO_NO_ENCONTRADO" => "Vuelva a abrir CONFLICTOS: la lista cambió (otro supervisor pudo resolverlo).",
        "CONFLICTO_RESUELTO" => "No hay nada más que hacer: véalo con VER RESUELTOS.",
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

/// What a scan on a screen that has nothing to scan says, so it is not silently lost; `None`
/// where the screen uses scans (or is a form). `tag` is the spool being inspected.
pub fn ignored_scan(screen: Screen, code: &str, tag: Option<&str>) -> Option<String> {
    let what = match screen {
        Screen::Operacion => "elija primero la operación; la credencial se lee en la pantalla del trabajador y el TAG en la lista de spools.".to_string(),
        Screen::Accion => "elija primero TOMAR, PAUSAR o COMPLETAR; el TAG se lee en la lista de spools.".to_string(),
        Screen::Confirmar => "los spools ya están elegidos. Para cambiarlos, toque VOLVER.".to_string(),
        Screen::Metrologia => format!(
            "elija primero APROBADO o RECHAZADO{}. Para otro spool, toque VOLVER.",
            tag.map(|t| format!(" para {t}")).unwrap_or_default()
        ),
        Screen::Exito => "espere la vuelta al inicio (o toque CONTINUAR) y elija la operación.".to_string(),
        Screen::Arranque
        | Screen::Configuracion
        | Screen::Trabajador
        | Screen::Spools
        | Screen::Dashboard
        | Screen::SupervisorLogin
        | Screen::Supervisor => return None,
    };
    Some(format!("Lectura «{code}» ignorada: {what}"))
}

/// The count line over the spool list: `3 ocupados por otros · 1 bloqueado`.
pub fn greyed_summary(occupied: usize, blocked: usize) -> String {
    let mut parts = Vec::new();
    match occupied {
        0 => {}
        1 => parts.push("1 ocupado por otro".to_string()),
        n => parts.push(format!("{n} ocupados por otros")),
    }
    match blocked {
        0 => {}
        1 => parts.push("1 bloqueado".to_string()),
        n => parts.push(format!("{n} bloqueados")),
    }
    parts.join(" · ")
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

/// Why a worker typed by number (or a badge) is not on the list for `op_label`, and what to do:
/// `who` is that worker when the plant has them (active, without the role).
pub fn worker_not_enabled(op_label: &str, id: u32, who: Option<&WorkerView>) -> String {
    match who {
        Some(w) => {
            let roles = if w.roles.is_empty() {
                "ninguno".to_string()
            } else {
                w.roles.join(", ")
            };
            format!(
                "{} ({} {}) no está habilitado para {op_label}: sus roles son {roles}. Elija a otro trabajador o pida a su supervisor que le agregue el rol en la planilla (Roles).",
                w.token, w.nombre, w.apellido
            )
        }
        None => format!(
            "No hay un trabajador activo con el número {id}. Revise el número o pida ayuda a su supervisor."
        ),
    }
}

/// A typed search + Enter that does not name exactly one worker of the list.
pub fn worker_search_ambiguous(op_label: &str, query: &str, matches: usize) -> String {
    if matches == 0 {
        format!("Ningún trabajador de {op_label} coincide con «{query}». Revise lo escrito o elija de la lista.")
    } else {
        format!("«{query}» coincide con {matches} trabajadores: toque el suyo en la lista.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeues_sync::domain::DefectoOrigen;

    #[test]
    fn a_worker_without_the_role_is_told_why_and_what_to_do() {
        let jp = WorkerView {
            id: 94,
            token: "JP(94)".into(),
            nombre: "Juan Carlos".into(),
            apellido: "Pérez".into(),
            roles: vec!["Armador".into()],
        };
        let m = worker_not_enabled("SOLDADURA", 94, Some(&jp));
        assert!(m.starts_with("JP(94) (Juan Carlos Pérez) no está habilitado para SOLDADURA: sus roles son Armador."), "{m}");
        assert!(m.contains("supervisor"), "{m}");
        let m = worker_not_enabled("SOLDADURA", 4242, None);
        assert!(m.contains("4242") && m.contains("supervisor"), "{m}");
        assert!(worker_search_ambiguous("ARMADO", "xx", 0).contains("Ningún trabajador de ARMADO"));
        assert!(worker_search_ambiguous("ARMADO", "ma", 3).contains("3 trabajadores"));
    }

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

    /// DOMAIN.md §6, as written there.
    const DOMAIN_CODES: [&str; 14] = [
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

    #[test]
    fn every_code_has_its_own_spanish_title() {
        for c in DOMAIN_CODES {
            assert!(ERROR_CODES.contains(&c), "{c} is missing from ERROR_CODES");
        }
        let generic = error_title("NO_EXISTE");
        let mut seen = std::collections::HashSet::new();
        for c in ERROR_CODES {
            let t = error_title(c);
            assert_ne!(t, generic, "{c} falls back to the generic text");
            assert!(seen.insert(t), "{c} shares its title");
        }
    }

    /// The string literal `text` starts with (after blanks), if it looks like an error code.
    fn code_literal(text: &str) -> Option<&str> {
        let rest = text.trim_start().strip_prefix('"')?;
        let code = &rest[..rest.find('"')?];
        let is_code = code.len() > 2
            && code
                .chars()
                .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit());
        is_code.then_some(code)
    }

    fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let entries = std::fs::read_dir(dir).expect("a source folder of the workspace");
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }

    /// Reads the shell's and the sync crate's sources: every `ApiError::new("CODE"` and every
    /// code a `fn code(&self)` maps an error to must be in ERROR_CODES (so it has a title and
    /// an action). Test modules are left out: they may build codes that never reach a screen.
    #[test]
    fn every_code_the_backend_returns_is_listed() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = Vec::new();
        for dir in ["sync/src", "src-tauri/src"] {
            rust_files(&root.join(dir), &mut files);
        }
        let mut found = std::collections::BTreeSet::new();
        for f in &files {
            if f.file_name().is_some_and(|n| n == "tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(f).expect("a readable source file");
            let text = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (at, _) in text.match_indices("ApiError::new(") {
                if let Some(c) = code_literal(&text[at + "ApiError::new(".len()..]) {
                    found.insert(c.to_string());
                }
            }
            for (at, _) in text.match_indices("fn code(&self) -> &'static str {") {
                let body = &text[at..];
                let body = &body[..body.find("\n    }\n").unwrap_or(body.len())];
                for (arrow, _) in body.match_indices("=>") {
                    if let Some(c) = code_literal(&body[arrow + 2..]) {
                        found.insert(c.to_string());
                    }
                }
            }
        }
        found.insert("ERROR_INTERNO".into()); // ApiError::internal
                                              // Both crates were read, the domain's mapping included (CONFLICTO is an event, not
                                              // an answer, so it is not looked for).
        for c in [
            "SPOOL_OCUPADO",
            "SIN_PERMISO",
            "PIN_REQUERIDO",
            "CARPETA_INVALIDA",
        ] {
            assert!(found.contains(c), "{c} was not found in the sources");
        }
        let missing: Vec<&String> = found
            .iter()
            .filter(|c| !ERROR_CODES.contains(&c.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "codes without a Spanish title and action in ui/src/text.rs: {missing:?}"
        );
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
        let generic = error_action("NO_EXISTE");
        for c in ERROR_CODES {
            let a = error_action(c);
            assert_ne!(a, generic, "{c} has no action of its own");
            assert!(a.ends_with('.'), "{c}: «{a}» is not a sentence");
        }
        assert_eq!(op_label("REPARACION"), "REPARACIÓN");
        assert_eq!(QUEUED, "Guardado — se sincronizará");
        assert!(unknown_tag("MK-1").contains("«MK-1»"));
    }

    #[test]
    fn a_scan_where_nothing_scans_says_why() {
        for screen in [
            Screen::Operacion,
            Screen::Accion,
            Screen::Confirmar,
            Screen::Metrologia,
            Screen::Exito,
        ] {
            let hint = ignored_scan(screen, "MK-1", Some("MK-9")).unwrap_or_default();
            assert!(
                hint.starts_with("Lectura «MK-1» ignorada: "),
                "{screen:?}: {hint}"
            );
        }
        assert!(ignored_scan(Screen::Metrologia, "X1", Some("MK-9"))
            .is_some_and(|h| h.contains("para MK-9")));
        for screen in [
            Screen::Trabajador,
            Screen::Spools,
            Screen::Dashboard,
            Screen::Supervisor,
        ] {
            assert_eq!(
                ignored_scan(screen, "MK-1", None),
                None,
                "{screen:?} uses scans"
            );
        }
    }

    #[test]
    fn the_greyed_count_line_reads_in_spanish() {
        assert_eq!(greyed_summary(1, 0), "1 ocupado por otro");
        assert_eq!(greyed_summary(3, 2), "3 ocupados por otros · 2 bloqueados");
        assert_eq!(greyed_summary(0, 1), "1 bloqueado");
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
