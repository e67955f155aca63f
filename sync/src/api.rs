//! The shapes that cross IPC between the shell and the UI. Shared by `src-tauri` and `ui`
//! (wasm), so the UI's calls and the shell's answers cannot drift apart.

use serde::{Deserialize, Serialize};

use crate::domain::{
    history::History, DomainError, EstadoReparacion, Intent, OpState, ResultadoMetrologia, Spool,
};

/// Every error across IPC: the UI branches on `code` (DOMAIN.md §6), shows `message`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub data: serde_json::Value,
}

impl ApiError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            code: code.into(),
            message: message.into(),
            data: serde_json::Value::Null,
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new("ERROR_INTERNO", message)
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        ApiError {
            code: e.code().to_string(),
            message: e.to_string(),
            data: serde_json::to_value(&e).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// A spool as the screens show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpoolView {
    pub tag: String,
    pub nv: String,
    pub estado_detalle: String,
    pub ocupado_por: Option<String>,
    pub operacion_ocupacion: Option<String>,
    /// `DD-MM-YYYY HH:MM:SS`, plant time.
    pub fecha_ocupacion: Option<String>,
    /// Seconds since the epoch of the occupation start, for live elapsed-time counters.
    pub ocupado_desde_epoch: Option<i64>,
    pub arm: OpState,
    pub sold: OpState,
    pub resultado_metrologia: Option<ResultadoMetrologia>,
    pub estado_reparacion: Option<EstadoReparacion>,
    pub ciclo_reparacion: u8,
    /// `ARM` / `SOLD`: where metrología found the defect (what a repair fixes).
    #[serde(default)]
    pub defecto_origen: Option<String>,
    pub bloqueado: bool,
    /// A local command for this spool is waiting to sync.
    pub pendiente: bool,
}

impl SpoolView {
    pub fn from_spool(s: &Spool, pendiente: bool) -> Self {
        SpoolView {
            tag: s.tag.clone(),
            nv: s.nv.clone(),
            estado_detalle: s.estado_detalle.clone(),
            ocupado_por: s.ocupado_por.clone(),
            operacion_ocupacion: s.operacion_ocupacion.map(|o| o.code().to_string()),
            fecha_ocupacion: s.fecha_ocupacion.map(crate::domain::time::fmt_datetime),
            ocupado_desde_epoch: s
                .fecha_ocupacion
                .map(|t| crate::domain::time::from_santiago(t).timestamp()),
            arm: s.arm_state(),
            sold: s.sold_state(),
            resultado_metrologia: s.resultado_metrologia,
            estado_reparacion: s.estado_reparacion,
            ciclo_reparacion: s.ciclo_reparacion,
            defecto_origen: s.defecto_origen.map(|o| o.code().to_string()),
            bloqueado: s.is_blocked(),
            pendiente,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerView {
    pub id: u32,
    pub token: String,
    pub nombre: String,
    pub apellido: String,
    pub roles: Vec<String>,
}

/// Which spools a list screen wants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SpoolQuery {
    /// Case-insensitive substring of the TAG.
    #[serde(default)]
    pub tag: Option<String>,
    /// Case-insensitive substring of the NV.
    #[serde(default)]
    pub nv: Option<String>,
    /// Only spools the worker may pick for this intent (plus the occupied ones, greyed).
    #[serde(default)]
    pub for_action: Option<ForAction>,
    #[serde(default)]
    pub limit: Option<usize>,
    /// Only occupied spools (the `Quién tiene qué` dashboard).
    #[serde(default)]
    pub solo_ocupados: bool,
    /// TAGs to judge whatever the filters and the limit (a scanned label, the spools already
    /// selected): each comes back in [`SpoolList::checked`] with the rule's verdict.
    #[serde(default)]
    pub check: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForAction {
    pub worker_id: u32,
    pub intent: Intent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpoolList {
    pub spools: Vec<SpoolView>,
    /// Occupied spools that would otherwise qualify (shown greyed, `Ocupado por MR(93)`).
    pub ocupados: Vec<SpoolView>,
    pub total: usize,
    /// One verdict per [`SpoolQuery::check`] TAG, in its order.
    #[serde(default)]
    pub checked: Vec<TagCheck>,
}

/// Whether a TAG may be picked for the query's action now: the spool when the rules allow it,
/// else the reason in the plant's words (occupied by whom, blocked, not ready, unknown TAG).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagCheck {
    /// As asked (normalized when it is a valid TAG).
    pub tag: String,
    pub spool: Option<SpoolView>,
    pub refusal: Option<ApiError>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRequest {
    pub worker_id: u32,
    pub intent: Intent,
    pub tags: Vec<String>,
    /// Supervisor actions only.
    #[serde(default)]
    pub supervisor_pin: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpoolOutcome {
    pub tag: String,
    pub ok: bool,
    pub code: String,
    pub message: String,
    /// A METROLOGÍA RECHAZADO that landed locally: the repair cycle it opened and whether it
    /// blocked the spool (the screen that follows must not look like a success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rechazo: Option<Rechazo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rechazo {
    /// 1–3 (`Ciclo N/3`).
    pub ciclo: u8,
    /// `ARM` / `SOLD`.
    pub origen: String,
    /// The third rejection: BLOQUEADO until a supervisor releases it.
    pub bloqueado: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionOutcome {
    pub results: Vec<SpoolOutcome>,
    /// `Spool T tomado por MR(93)` or `7 de 10 spools exitosos (3 fallos)`.
    pub summary: String,
    /// Saved locally and waiting to sync (`Guardado — se sincronizará`), not an error.
    pub queued: bool,
}

impl ActionOutcome {
    pub fn succeeded(&self) -> usize {
        self.results.iter().filter(|r| r.ok).count()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Connectivity {
    /// Embedded default: nothing to reach.
    Standalone,
    Online,
    RedisOnly,
    SheetsOnly,
    Offline,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingCommand {
    pub id: String,
    pub tag: String,
    pub accion: String,
    pub operacion: String,
    pub worker: String,
    pub created_at: String,
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncStatus {
    pub mode: String,
    pub connectivity: Connectivity,
    pub pending: u32,
    pub conflicts: u32,
    pub last_sync: Option<String>,
    pub last_error: Option<String>,
    pub device_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpoolHistory {
    pub tag: String,
    pub history: History,
}

/// Pushed to the UI (Tauri events) so it never polls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum AppEvent {
    /// These spools changed in the replica.
    ReplicaChanged {
        tags: Vec<String>,
    },
    SyncChanged {
        status: SyncStatus,
    },
    Conflict {
        tag: String,
        message: String,
        winner: Option<String>,
    },
}

/// What opening the local database found (a corrupt file is moved aside and the user told).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct OpenReport {
    pub recovered_from_corruption: Option<CorruptionRecovery>,
    pub seeded_demo: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorruptionRecovery {
    pub moved_to: String,
    pub salvaged_commands: usize,
    pub message: String,
}

/// A conflict in the inbox: a command the plant refused, why, and who holds the spool now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictView {
    pub id: i64,
    pub command_id: String,
    pub tag: String,
    pub code: String,
    pub message: String,
    pub winner: Option<String>,
    /// The worker whose command was refused (`MR(93)`).
    pub worker: String,
    pub accion: String,
    pub operacion: String,
    /// Commands of the same spool held behind it.
    pub held: usize,
    /// `DD-MM-YYYY HH:MM:SS`, plant time.
    pub created_at: String,
    pub resolved_at: Option<String>,
    pub resolution: Option<String>,
}

/// A supervisor's decision on a conflict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictDecision {
    pub conflict_id: i64,
    pub supervisor_id: u32,
    pub pin: String,
}

/// What the first-run screen and `zeues doctor` check before a plant configuration is saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PlantSettings {
    /// The sheet's URL or id (`https://docs.google.com/spreadsheets/d/<id>/edit`).
    pub spreadsheet: String,
    /// Path of the service account's key JSON (the file itself is never copied into config).
    pub key_file: String,
    /// `redis://` / `rediss://` URL; empty = Sheets-only.
    #[serde(default)]
    pub redis_url: Option<String>,
    pub device_name: String,
    /// Only when setting it: stored as an argon2 hash, never in the config file.
    #[serde(default)]
    pub supervisor_pin: Option<String>,
}

/// One line of a connection check: green or red, and the fix in Spanish when red.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoctorCheck {
    /// Stable id (`config`, `key_file`, `token`, `spreadsheet`, `tabs`, `columns`, `app_columns`,
    /// `redis`, `clock_skew`, `quota`, `local_db`, `supervisor_pin`, `outbox`).
    pub id: String,
    pub label: String,
    pub ok: bool,
    pub detail: String,
    pub fix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct DoctorReport {
    pub checks: Vec<DoctorCheck>,
}

impl DoctorReport {
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
}

/// What "Migrar planilla" (first-run screen) will do to `Operaciones`: the schema migration's
/// plan, shown before anything is written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct MigrationPreview {
    /// App-owned columns to add at the end, in order; empty = nothing to do.
    pub columns: Vec<String>,
    /// The plan as `zeues migrate --dry-run` prints it (Spanish).
    pub preview: String,
}

/// "Migrar planilla" done (backup, columns added, verified, one `MIGRACION_ESQUEMA` row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct MigrationDone {
    /// Columns added; empty when the sheet already had them all.
    pub columns: Vec<String>,
    /// The local backup file (`zeues migrate --rollback <file>` restores the sheet's shape).
    pub backup: Option<String>,
    /// The connection test again, on the migrated sheet.
    pub report: DoctorReport,
}

/// How this installation runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppMode {
    /// No configuration yet: the first-run screen asks demo or plant.
    SinConfigurar,
    /// The embedded demo plant.
    Demo,
    Planta,
}

/// Dashboard counters: spools ready for each operation right now (for any worker with the
/// role), blocked ones, and how many are occupied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Disponibles {
    pub arm: u32,
    pub sold: u32,
    pub metrologia: u32,
    pub reparacion: u32,
    pub bloqueados: u32,
    pub ocupados: u32,
    pub total: u32,
}

/// Spools with more conflicts than this in a period are hot spots.
pub const HOT_SPOT_THRESHOLD: u32 = 5;

/// A period of plant dates, both days included (`DD-MM-YYYY`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Periodo {
    pub desde: String,
    pub hasta: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictCount {
    /// A TAG or a worker token.
    pub key: String,
    pub conflicts: u32,
    /// The latest one, `DD-MM-YYYY HH:MM:SS`.
    pub last: String,
}

/// Conflicts in a period, counted per spool and per worker (the worker whose command the
/// plant refused). Sorted by count, highest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictMetrics {
    pub desde: String,
    pub hasta: String,
    pub total: u32,
    pub por_spool: Vec<ConflictCount>,
    pub por_trabajador: Vec<ConflictCount>,
    /// Spools with more than [`HOT_SPOT_THRESHOLD`] conflicts.
    pub hot_spots: Vec<ConflictCount>,
}

/// A supervisor action on spools from the desk (OVERRIDE, FORZAR LIBERACIÓN).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupervisorRequest {
    pub supervisor_id: u32,
    pub pin: String,
    pub intent: crate::domain::Intent,
    pub tags: Vec<String>,
}

/// One supervisor PIN check on this device (the wrong ones are the audit trail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinAttempt {
    /// `DD-MM-YYYY HH:MM:SS`, plant time.
    pub at: String,
    /// Who claimed to be the supervisor (`HC(120)`), when known.
    pub worker: Option<String>,
    pub ok: bool,
    /// Refused without checking: too many wrong PINs just before.
    pub bloqueado: bool,
    /// What the PIN was for: `Entrada al escritorio`, `OVERRIDE MK-…`, `Exportar CSV`…
    /// (`None`: recorded by a version that did not say).
    #[serde(default)]
    pub accion: Option<String>,
}

/// A device seen alive by the coordinator (plant mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceView {
    pub device_id: String,
    pub name: Option<String>,
    pub worker: Option<String>,
    /// `DD-MM-YYYY HH:MM:SS`, plant time.
    pub online_since: String,
    pub last_seen: String,
    pub pending: u32,
    pub oldest_pending: Option<String>,
    pub leader: bool,
    pub this_device: bool,
}

/// The supervisor's view of synchronisation: what is reachable, what waits, who is online.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncHealth {
    pub status: SyncStatus,
    /// `None` in standalone (nothing to reach).
    pub sheets_ok: Option<bool>,
    /// `None` when there is no Redis (standalone, or plant in Sheets-only mode).
    pub redis_ok: Option<bool>,
    pub workbook: String,
    pub coordinator: String,
    /// Shared Sheets quota use, when the coordinator can tell.
    pub quota: Option<String>,
    /// This device's oldest command waiting to sync, `DD-MM-YYYY HH:MM:SS`.
    pub oldest_pending: Option<String>,
    /// Devices alive now (plant mode with Redis only).
    pub devices: Vec<DeviceView>,
    pub devices_error: Option<String>,
}

/// An export of a period: the audit rows and the occupation sessions, as one CSV in the same
/// format as `zeues export` (`Registro` = `AUDITORIA` / `OCUPACION`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvExport {
    pub desde: String,
    pub hasta: String,
    pub csv: String,
    pub audit_rows: usize,
    pub sessions: usize,
}

/// A supervisor's export from the desk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRequest {
    pub supervisor_id: u32,
    pub pin: String,
    pub periodo: Periodo,
    /// Folder to write into; `None` = the user's Downloads folder.
    #[serde(default)]
    pub carpeta: Option<String>,
}

/// Where an export was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportResult {
    pub archivo: String,
    pub audit_rows: usize,
    pub sessions: usize,
}

#[cfg(test)]
mod ipc_shape_tests {
    use super::*;

    /// The UI matches on `kind`; the native notification and the banner share these fields.
    #[test]
    fn conflict_event_crosses_as_kind_tag_message_winner() {
        let ev = AppEvent::Conflict {
            tag: "MK-1".into(),
            message: "Spool MK-1 fue tomado por JP(94) mientras estabas sin conexión".into(),
            winner: Some("JP(94)".into()),
        };
        let v = serde_json::to_value(&ev).unwrap_or_default();
        assert_eq!(v["kind"], "Conflict");
        assert_eq!(v["winner"], "JP(94)");
    }
}
