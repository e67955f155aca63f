// The names of the shell's IPC commands, in one list. Three readers keep each other honest:
// `ui/src/ipc.rs` calls commands only through these constants (a typo does not compile);
// `src-tauri/build.rs` includes this file, builds the ACL from `ALL` and fails the build when a
// `#[tauri::command]` of the shell is missing here or a name here has no command; and
// `src-tauri/capabilities/default.json` is checked against `ALL` by the same build script.
// Plain `//` comments: build.rs `include!`s this file, where inner doc comments are not allowed.

// Worker flow, dashboard, history.
pub const LIST_WORKERS: &str = "list_workers";
pub const LIST_SPOOLS: &str = "list_spools";
pub const GET_SPOOL: &str = "get_spool";
pub const EXECUTE_ACTION: &str = "execute_action";
pub const SYNC_STATUS: &str = "sync_status";
pub const PENDING_COMMANDS: &str = "pending_commands";
pub const SPOOL_HISTORY: &str = "spool_history";
pub const OPEN_REPORT: &str = "open_report";
pub const DISPONIBLES: &str = "disponibles";

// Supervisor desk.
pub const SUPERVISOR_LOGIN: &str = "supervisor_login";
pub const SUPERVISOR_ACTION: &str = "supervisor_action";
pub const LIST_CONFLICTS: &str = "list_conflicts";
pub const DISCARD_CONFLICT: &str = "discard_conflict";
pub const REAPPLY_CONFLICT: &str = "reapply_conflict";
pub const CONFLICT_METRICS: &str = "conflict_metrics";
pub const SYNC_HEALTH: &str = "sync_health";
pub const PIN_ATTEMPTS: &str = "pin_attempts";
pub const PRODUCCION: &str = "produccion";
pub const EXPORT_CSV: &str = "export_csv";
pub const DEFAULT_EXPORT_DIR: &str = "default_export_dir";

// First run and configuration.
pub const APP_MODE: &str = "app_mode";
pub const PROBAR_CONEXION: &str = "probar_conexion";
pub const GUARDAR_CONFIGURACION: &str = "guardar_configuracion";
pub const VISTA_MIGRACION: &str = "vista_migracion";
pub const MIGRAR_PLANILLA: &str = "migrar_planilla";

pub const ALL: &[&str] = &[
    LIST_WORKERS,
    LIST_SPOOLS,
    GET_SPOOL,
    EXECUTE_ACTION,
    SYNC_STATUS,
    PENDING_COMMANDS,
    SPOOL_HISTORY,
    OPEN_REPORT,
    DISPONIBLES,
    SUPERVISOR_LOGIN,
    SUPERVISOR_ACTION,
    LIST_CONFLICTS,
    DISCARD_CONFLICT,
    REAPPLY_CONFLICT,
    CONFLICT_METRICS,
    SYNC_HEALTH,
    PIN_ATTEMPTS,
    PRODUCCION,
    EXPORT_CSV,
    DEFAULT_EXPORT_DIR,
    APP_MODE,
    PROBAR_CONEXION,
    GUARDAR_CONFIGURACION,
    VISTA_MIGRACION,
    MIGRAR_PLANILLA,
];
