//! The engine's two ports. `Workbook` is the plant's system of record (Google Sheets, or the
//! embedded SQLite workbook); `Coordinator` is how devices agree (Redis, or in-process).
//! Implementations translate; every rule stays in `domain` and every decision in `engine`.

pub mod in_process;
pub mod live;
pub mod local_workbook;
pub mod redis;
pub mod sheets;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::sheet::Grid;
use crate::domain::{CellValue, DomainError, RawCell, Spool};

pub use in_process::InProcessCoordinator;
pub use live::{row_hash, ChangeRead, LiveRow, Presence, StreamCursor};
pub use local_workbook::LocalWorkbook;
pub use sheets::GoogleSheets;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkbookError {
    #[error("no se pudo contactar la planilla: {0}")]
    Unavailable(String),
    #[error("cuota de Google Sheets agotada; se reintentará: {0}")]
    Quota(String),
    /// The write may or may not have landed (timeout, 5xx after commit): resolve by reading.
    #[error("no se sabe si la escritura llegó a la planilla: {0}")]
    OutcomeUnknown(String),
    #[error(transparent)]
    Schema(DomainError),
    #[error("sin permiso sobre la planilla: {0}")]
    Denied(String),
    #[error("la planilla o la hoja no existe: {0}")]
    NotFound(String),
    #[error("la planilla rechazó la solicitud: {0}")]
    Rejected(String),
    /// A write carried this device's writer fence and the sheet no longer has its lease tab:
    /// another device took the writer role (nothing of the write landed).
    #[error("otro equipo tomó el rol de escritor de la planilla: {0}")]
    WriterLost(String),
}

impl WorkbookError {
    /// Worth trying again later without anyone changing anything.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            WorkbookError::Unavailable(_)
                | WorkbookError::Quota(_)
                | WorkbookError::OutcomeUnknown(_)
        )
    }

    pub fn code(&self) -> &'static str {
        match self {
            WorkbookError::Unavailable(_) | WorkbookError::OutcomeUnknown(_) => "SIN_CONEXION",
            WorkbookError::Quota(_) => "CUOTA_SHEETS",
            WorkbookError::Schema(e) => e.code(),
            WorkbookError::Denied(_) => "SIN_PERMISO",
            WorkbookError::NotFound(_) => "PLANILLA_NO_ENCONTRADA",
            WorkbookError::Rejected(_) => "SOLICITUD_RECHAZADA",
            WorkbookError::WriterLost(_) => "ESCRITOR_OCUPADO",
        }
    }
}

/// Header row plus the requested rows, in request order (a missing row reads as empty).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RowsRead {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<RawCell>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowUpdate {
    pub tab: String,
    /// 1-based sheet row.
    pub row: u32,
    /// 0-based column → value.
    pub cells: Vec<(usize, CellValue)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Append {
    pub tab: String,
    pub cells: Vec<CellValue>,
}

/// One atomic write: every update and append lands, or none does.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct WriteBatch {
    pub updates: Vec<RowUpdate>,
    pub appends: Vec<Append>,
    /// Plants without Redis: the writer's lease, renewed in the same atomic call. If the lease
    /// is gone (another device took the role), the whole write is refused.
    #[serde(default)]
    pub fence: Option<WriterFence>,
}

impl WriteBatch {
    pub fn is_empty(&self) -> bool {
        self.updates.is_empty() && self.appends.is_empty() && self.fence.is_none()
    }
}

/// The hidden tab that names a spreadsheet's only writer when there is no Redis: Google
/// Sheets refuses to create a second tab with the same title, so registering is a real
/// create-if-absent; taking over a silent writer deletes its tab by id in the same call that
/// creates the new one (it fails if someone else already did).
pub const WRITER_TAB: &str = "ZEUES_ESCRITOR";

/// Who writes this spreadsheet (plants without Redis).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriterLease {
    /// The lease tab's sheetId: the fence every write carries.
    pub sheet_id: i64,
    pub device_id: String,
    pub name: String,
    pub since: chrono::DateTime<chrono::Utc>,
    /// Renewed by every write (and on a timer while idle).
    pub heartbeat: chrono::DateTime<chrono::Utc>,
}

/// The writer's fence: its lease tab, and the heartbeat written there with the batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriterFence {
    pub sheet_id: i64,
    pub heartbeat: chrono::DateTime<chrono::Utc>,
}

/// Size of a tab's grid, header row included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TabShape {
    pub rows: u32,
    pub columns: u32,
}

/// A schema change (the migration): `headers.len()` new columns at the end of `tab`, which has
/// `at` columns now, with their header cells in row 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddColumns {
    pub tab: String,
    pub at: u32,
    pub headers: Vec<String>,
}

fn schema_unsupported(what: &str) -> WorkbookError {
    WorkbookError::Rejected(format!(
        "esta planilla no admite cambios de esquema ({what})"
    ))
}

#[async_trait]
pub trait Workbook: Send + Sync {
    /// Short description for logs and the status panel (never a secret).
    fn describe(&self) -> String;
    async fn read_tab(&self, tab: &str) -> Result<Grid, WorkbookError>;
    async fn read_rows(&self, tab: &str, rows: &[u32]) -> Result<RowsRead, WorkbookError>;
    /// Rows `first..=last` (1-based sheet rows) in one call: the audit import walks
    /// `Metadata` with this, a block at a time.
    async fn read_row_range(
        &self,
        tab: &str,
        first: u32,
        last: u32,
    ) -> Result<RowsRead, WorkbookError> {
        let rows: Vec<u32> = (first..=last).collect();
        self.read_rows(tab, &rows).await
    }
    async fn write(&self, batch: &WriteBatch) -> Result<(), WorkbookError>;
    /// Whether the workbook's endpoint answers at all, without spending API quota (the sync
    /// badge's connectivity is measured, not guessed from the OS's online flag).
    async fn probe(&self) -> Result<(), WorkbookError> {
        Ok(())
    }

    /// The tab's grid size, read fresh (the migration's plan and backup).
    async fn tab_shape(&self, tab: &str) -> Result<TabShape, WorkbookError> {
        Err(schema_unsupported(tab))
    }

    /// Adds columns at the end of a tab and then applies `then` (initial values, the audit
    /// row), all in one atomic call. Refused when the tab no longer has `add.at` columns.
    async fn add_columns(&self, add: &AddColumns, _then: &WriteBatch) -> Result<(), WorkbookError> {
        Err(schema_unsupported(&add.tab))
    }

    /// The registered writer (plants without Redis), if any.
    async fn writer_lease(&self) -> Result<Option<WriterLease>, WorkbookError> {
        Err(schema_unsupported(WRITER_TAB))
    }

    /// Registers `me` as the only writer, atomically: creates the lease tab with `me.sheet_id`
    /// (and, taking over a silent writer, deletes its tab `replacing` in the same call).
    /// `Ok(false)` when another device got there first.
    async fn claim_writer(
        &self,
        _me: &WriterLease,
        _replacing: Option<i64>,
    ) -> Result<bool, WorkbookError> {
        Err(schema_unsupported(WRITER_TAB))
    }

    /// Gives the role up (deletes the lease tab, if it is still this one).
    async fn release_writer(&self, _sheet_id: i64) -> Result<(), WorkbookError> {
        Err(schema_unsupported(WRITER_TAB))
    }

    /// Shrinks a tab back to `columns` columns, dropping everything beyond (rollback), and
    /// then applies `then` (the audit row), in one atomic call.
    async fn truncate_columns(
        &self,
        tab: &str,
        _columns: u32,
        _then: &WriteBatch,
    ) -> Result<(), WorkbookError> {
        Err(schema_unsupported(tab))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoordError {
    #[error("coordinación no disponible: {0}")]
    Unavailable(String),
    #[error("respuesta inesperada de la coordinación: {0}")]
    Protocol(String),
}

/// Who holds a spool's occupation lock: `{worker_id}:{command_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    pub worker_id: u32,
    pub command_id: String,
}

impl LockHolder {
    pub fn encode(&self) -> String {
        format!("{}:{}", self.worker_id, self.command_id)
    }

    pub fn decode(v: &str) -> Option<LockHolder> {
        let (w, c) = v.split_once(':')?;
        Some(LockHolder {
            worker_id: w.parse().ok()?,
            command_id: c.to_string(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquire {
    Acquired,
    /// Someone holds it (possibly this same command, from an earlier try).
    HeldBy(LockHolder),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaKind {
    Read,
    Write,
}

/// Tokens left now in the fleet's Sheets quota buckets (`None`: nobody spent any in the last
/// two windows, so the bucket is full) and each bucket's capacity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuotaLevels {
    pub reads: Option<f64>,
    pub writes: Option<f64>,
    pub read_capacity: u32,
    pub write_capacity: u32,
    /// The fleet's budget per minute (what Google's 60/min is compared with).
    pub reads_per_minute: u32,
    pub writes_per_minute: u32,
}

/// Who asks for Sheets quota. The shared bucket keeps one reservation for a waiting asker
/// (see the Redis coordinator): a take of several tokens is served before later single takes,
/// and a `priority` asker (the leader importing people's edits) goes before everyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaTaker {
    pub name: &'static str,
    pub priority: bool,
}

impl QuotaTaker {
    pub const fn new(name: &'static str) -> QuotaTaker {
        QuotaTaker {
            name,
            priority: false,
        }
    }
    /// Push rounds (row reads and the batch write).
    pub const PUSH: QuotaTaker = QuotaTaker::new("envio");
    /// A device's load of the whole sheet.
    pub const LOAD: QuotaTaker = QuotaTaker::new("carga");
    /// The row index read again on a TAG it did not have.
    pub const INDEX: QuotaTaker = QuotaTaker::new("indice");
    /// The audit import (history screens, settling unknown outcomes).
    pub const AUDIT: QuotaTaker = QuotaTaker::new("auditoria");
    /// Reading the sheet without Redis.
    pub const POLL: QuotaTaker = QuotaTaker::new("sondeo");
    /// The leader's duties: people's edits reach every tablet first.
    pub const LEADER: QuotaTaker = QuotaTaker {
        name: "lider",
        priority: true,
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaGrant {
    Granted,
    /// Try again after this long.
    Wait(Duration),
}

/// A row change every device should see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowChange {
    pub tag: String,
    pub row: Spool,
    pub command_id: String,
    pub device_id: String,
}

#[async_trait]
pub trait Coordinator: Send + Sync {
    fn describe(&self) -> String;
    async fn acquire_occupation(
        &self,
        tag: &str,
        holder: &LockHolder,
    ) -> Result<Acquire, CoordError>;
    async fn occupation_holder(&self, tag: &str) -> Result<Option<LockHolder>, CoordError>;
    /// Compare-and-delete: only the exact holder's lock goes.
    async fn release_occupation(&self, tag: &str, holder: &LockHolder) -> Result<bool, CoordError>;
    /// Supervisor force-release (audited by the caller).
    async fn force_release(&self, tag: &str) -> Result<(), CoordError>;
    /// Short per-row mutex for a read-check-write; `false` when another writer holds it.
    async fn lock_row(&self, tag: &str, owner: &str, ttl: Duration) -> Result<bool, CoordError>;
    async fn unlock_row(&self, tag: &str, owner: &str) -> Result<(), CoordError>;
    async fn was_applied(&self, command_id: &str) -> Result<bool, CoordError>;
    async fn record_applied(&self, command_id: &str) -> Result<(), CoordError>;
    async fn publish(&self, change: &RowChange) -> Result<(), CoordError>;
    /// Tells the other devices about a row before the sheet has it (an occupation claimed in
    /// the coordinator): the stream only, never the live cache, which mirrors the sheet.
    async fn announce(&self, change: &RowChange) -> Result<(), CoordError> {
        self.publish(change).await
    }
    async fn take_quota(&self, kind: QuotaKind) -> Result<QuotaGrant, CoordError>;
    /// `n` tokens at once or none, for a step that makes `n` calls in a row: taking them one
    /// by one would let many devices each hoard a few and then all spend them together, a
    /// burst past the limit. `n` is at most the bucket's burst.
    async fn take_quotas(&self, kind: QuotaKind, n: u32) -> Result<QuotaGrant, CoordError> {
        for _ in 0..n {
            if let QuotaGrant::Wait(d) = self.take_quota(kind).await? {
                return Ok(QuotaGrant::Wait(d));
            }
        }
        Ok(QuotaGrant::Granted)
    }
    /// `n` tokens for `taker` (see [`QuotaTaker`]); coordinators without a shared budget
    /// ignore who asks.
    async fn take_quota_as(
        &self,
        kind: QuotaKind,
        n: u32,
        _taker: QuotaTaker,
    ) -> Result<QuotaGrant, CoordError> {
        self.take_quotas(kind, n).await
    }
    /// Whether the coordinator answers now (Redis `PING`).
    async fn probe(&self) -> Result<(), CoordError> {
        Ok(())
    }
    /// The shared Sheets quota as the supervisor sees it, without taking a token: `None` when
    /// this coordinator keeps no shared budget (in-process).
    async fn quota_levels(&self) -> Result<Option<QuotaLevels>, CoordError> {
        Ok(None)
    }

    // Row mutex renewal and occupation locks in bulk (the leader's reconciliation).
    /// Extends the row mutex while its owner still holds it; `false` when it was lost.
    async fn renew_row_lock(
        &self,
        tag: &str,
        owner: &str,
        ttl: Duration,
    ) -> Result<bool, CoordError>;
    /// The occupation lock holder of each tag, in request order.
    async fn occupation_holders(
        &self,
        tags: &[String],
    ) -> Result<Vec<Option<LockHolder>>, CoordError>;

    // Live row cache and change stream. `publish` (above) caches the row and appends it.
    /// The cached rows of these tags, in request order.
    async fn live_rows(&self, tags: &[String]) -> Result<Vec<Option<LiveRow>>, CoordError>;
    /// Every cached row (a device's snapshot after a trim or a restart).
    async fn live_snapshot(&self) -> Result<Vec<Spool>, CoordError>;
    /// Warms the cache from the sheet: rows not cached yet are added; cached ones are kept
    /// (they were published after the sheet was read). Returns how many were added.
    async fn warm_live(&self, rows: &[Spool]) -> Result<usize, CoordError>;
    /// Caches and appends a change that no command made (an edit made in the sheet), only if
    /// the cache still holds the row with hash `expected` (`None`: no row cached).
    async fn publish_if(
        &self,
        change: &RowChange,
        expected: Option<&str>,
    ) -> Result<bool, CoordError>;
    /// The data generation (see `StreamCursor::epoch`); `None` until the leader warmed it.
    async fn epoch(&self) -> Result<Option<String>, CoordError>;
    async fn set_epoch(&self, epoch: &str) -> Result<(), CoordError>;
    /// Where a reader that has the current state continues from.
    async fn stream_head(&self) -> Result<StreamCursor, CoordError>;
    /// Changes after `after`, waiting up to `block` for the first one.
    async fn read_changes(
        &self,
        after: &StreamCursor,
        max: usize,
        block: Duration,
    ) -> Result<ChangeRead, CoordError>;

    // The plant's workers and roles, as the leader last read them from the sheet.
    /// `(hash, JSON of the workers)`; `None` until a leader published them.
    async fn workers(&self) -> Result<Option<(String, String)>, CoordError> {
        Ok(None)
    }
    /// Just the hash: devices compare it every few seconds.
    async fn workers_hash(&self) -> Result<Option<String>, CoordError> {
        Ok(None)
    }
    async fn put_workers(&self, _hash: &str, _json: &str) -> Result<(), CoordError> {
        Ok(())
    }

    // Leader lease and presence.
    /// Takes the lease when free or renews it when `device_id` holds it; `false` otherwise.
    async fn lease(&self, device_id: &str, ttl: Duration) -> Result<bool, CoordError>;
    /// Gives the lease up if `device_id` holds it.
    async fn resign(&self, device_id: &str) -> Result<(), CoordError>;
    async fn leader(&self) -> Result<Option<String>, CoordError>;
    /// Records a device as alive for `ttl`.
    async fn heartbeat(&self, presence: &Presence, ttl: Duration) -> Result<(), CoordError>;
    /// Devices alive now.
    async fn presence(&self) -> Result<Vec<Presence>, CoordError>;
}
