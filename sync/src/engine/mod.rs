//! The sync engine: a tokio task that drains the outbox into the plant (push), keeps the replica
//! in step with it, and says loudly when the plant disagreed (conflicts).
//!
//! It never decides a rule itself: every command's intent is re-run through `domain::apply` on
//! the plant's current row (rebase). It never writes twice on doubt: a row whose `version` is the
//! command id, or an applied-id record, or the command id in `Metadata`, proves it landed.

mod claim;
pub mod failpoint;
mod follow;
pub mod leader;
mod presence;
mod probe;
mod pull;
mod push;
mod verify;
pub mod writer;

pub use follow::FollowConfig;
pub use leader::{LeaderConfig, LeaderDuties, LeaderError, TickReport};
pub use presence::PresenceConfig;
pub use push::EngineError;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use tokio::sync::{broadcast, watch, Notify};

use crate::api::{AppEvent, Connectivity, SyncStatus};
use crate::domain::header::ColumnMap;
use crate::domain::sheet::{
    decode_workers, OperacionesLayout, METADATA, OPERACIONES, ROLES, TRABAJADORES,
};
use crate::ports::{Coordinator, Workbook, WorkbookError};
use crate::store::Store;

/// Where time comes from (tests pass a controllable one).
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Native notifications (notify-rust in the shell). Failing to notify is logged, never fatal:
/// the in-app banner shows the conflict too.
pub trait Notifier: Send + Sync {
    fn notify(&self, title: &str, body: &str) -> Result<(), String>;
}

pub struct NoNotifier;

impl Notifier for NoNotifier {
    fn notify(&self, _title: &str, _body: &str) -> Result<(), String> {
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Most commands in one workbook write.
    pub batch_size: usize,
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub row_lock_ttl: Duration,
    /// A write to the sheet (its retries included) is abandoned after this long and settled
    /// later as an unknown outcome, so a device whose row mutex was lost in a Redis restart
    /// cannot land a write after the coordinator's settle period (`RedisConfig::row_settle`).
    pub write_deadline: Duration,
    /// Longest sleep when nothing is due.
    pub idle: Duration,
    /// Seed of the retry jitter (deterministic tests).
    pub jitter_seed: u64,
    /// "standalone" or "plant": shown in the status.
    pub mode: &'static str,
    /// A plant without Redis: this device writes only while it holds the spreadsheet's writer
    /// lease (see `engine::writer`).
    pub single_writer: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            batch_size: 50,
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            row_lock_ttl: Duration::from_secs(30),
            write_deadline: Duration::from_secs(40),
            idle: Duration::from_secs(5),
            jitter_seed: 0x5eed,
            mode: "standalone",
            single_writer: false,
        }
    }
}

/// Where the plant's columns and rows are, as last read.
#[derive(Debug, Clone)]
pub(crate) struct PlantCache {
    pub layout: OperacionesLayout,
    pub metadata: ColumnMap,
    pub rows: HashMap<String, u32>,
    /// When `rows` was read from the sheet: a TAG missing from it is only "not in the sheet"
    /// for a command made before this (a newer row may have reached the replica since).
    pub read_at: DateTime<Utc>,
}

impl PlantCache {
    /// A row as this sheet holds it: without an `Ocupacion_Inicia` column the sheet cannot keep
    /// whether the occupation set the worker column, so nobody else may be told it did.
    pub fn as_sheet(&self, row: &crate::domain::Spool) -> crate::domain::Spool {
        let mut r = row.clone();
        if !self.layout.has(crate::domain::sheet::Col::OcupacionInicia) {
            r.occupation_set_worker = false;
        }
        r
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Health {
    last_sync: Option<DateTime<Utc>>,
    last_error: Option<String>,
    reachable: bool,
    /// The coordinator (Redis) answered the last time it was asked.
    coord_reachable: bool,
    coord_error: Option<String>,
    /// Set while another device is the spreadsheet's writer (plants without Redis).
    writer_error: Option<String>,
}

pub struct Engine {
    pub(crate) store: Arc<Store>,
    pub(crate) workbook: Arc<dyn Workbook>,
    pub(crate) coord: Arc<dyn Coordinator>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) notifier: Arc<dyn Notifier>,
    pub(crate) events: broadcast::Sender<AppEvent>,
    pub(crate) config: EngineConfig,
    pub(crate) cache: tokio::sync::Mutex<Option<PlantCache>>,
    health: Mutex<Health>,
    rng: Mutex<rand_chacha::ChaCha8Rng>,
    pub(crate) wake: Notify,
    stop: watch::Sender<bool>,
    /// Push rounds finished so far (claim + push, bookkeeping included): a caller that saw its
    /// command applied waits for the round in progress to end before it stops the process.
    rounds: watch::Sender<u64>,
    /// One audit import at a time (the refresh timer and the push round's settle share it).
    audit_import: tokio::sync::Mutex<()>,
    /// Commands whose TAG the row index lacked and for which it was read again since: still
    /// missing then, the sheet does not have the spool (a final conflict).
    index_reread_for: Mutex<std::collections::HashSet<String>>,
    pub(crate) writer: Mutex<writer::WriterState>,
}

impl Engine {
    pub fn new(
        store: Arc<Store>,
        workbook: Arc<dyn Workbook>,
        coord: Arc<dyn Coordinator>,
        clock: Arc<dyn Clock>,
        notifier: Arc<dyn Notifier>,
        events: broadcast::Sender<AppEvent>,
        config: EngineConfig,
    ) -> Arc<Engine> {
        let rng = rand_chacha::ChaCha8Rng::seed_from_u64(config.jitter_seed);
        Arc::new(Engine {
            store,
            workbook,
            coord,
            clock,
            notifier,
            events,
            config,
            cache: tokio::sync::Mutex::new(None),
            health: Mutex::new(Health {
                reachable: true,
                coord_reachable: true,
                ..Health::default()
            }),
            rng: Mutex::new(rng),
            wake: Notify::new(),
            stop: watch::channel(false).0,
            rounds: watch::channel(0).0,
            audit_import: tokio::sync::Mutex::new(()),
            index_reread_for: Mutex::new(std::collections::HashSet::new()),
            writer: Mutex::new(writer::WriterState::default()),
        })
    }

    /// A new local command is waiting: try now instead of at the next timer tick.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Counts finished push rounds (see [`Engine::settled`]).
    pub fn rounds(&self) -> watch::Receiver<u64> {
        self.rounds.subscribe()
    }

    /// Waits until the push round running now (if any) has finished, bookkeeping included: a
    /// command marked applied in the store still has its coordination steps (applied id,
    /// publish, lock release) to run in the same round.
    pub async fn settled(&self) {
        let mut rx = self.rounds.subscribe();
        let seen = *rx.borrow_and_update();
        let mut stop = self.stop.subscribe();
        // The loop runs at least once per `idle`, so a round always ends soon.
        tokio::select! {
            r = rx.wait_for(|n| *n > seen) => {
                if r.is_err() {
                    tracing::debug!("contador de rondas cerrado");
                }
            }
            _ = stop.wait_for(|stopped| *stopped) => {}
        }
    }

    pub fn shutdown(&self) {
        self.stop.send_replace(true);
        self.wake.notify_one();
    }

    /// The engine loop: push until nothing is due, then sleep until the next retry is due, a
    /// new command arrives, or shutdown. Retries never depend on a new local write.
    pub async fn run(self: Arc<Self>) {
        let mut stop = self.stop.subscribe();
        loop {
            if *stop.borrow() {
                break;
            }
            if let Err(e) = self.claim_once().await {
                tracing::warn!(error = %e, "reserva de ocupaciones fallida");
            }
            let progressed = match self.push_once().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "ronda de sincronización fallida");
                    0
                }
            };
            self.rounds.send_modify(|n| *n += 1);
            if progressed > 0 {
                continue;
            }
            let sleep_for = self.time_to_next_due();
            // `biased`: a tie (a tap's wake-up and the timer in the same instant) is broken the
            // same way every time, so a simulated run replays exactly (issue 12 §3).
            tokio::select! {
                biased;
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(sleep_for) => {}
                _ = stop.changed() => {}
            }
        }
        if self.config.single_writer {
            self.release_writer_role().await;
        }
        tracing::info!("motor de sincronización detenido");
    }

    /// Everything a plant device runs until shutdown: push, the change-stream follower, the
    /// leader candidacy (and duties while it leads) and presence heartbeats.
    pub async fn run_plant(
        self: Arc<Self>,
        follow: FollowConfig,
        leader: LeaderConfig,
        presence: PresenceConfig,
    ) {
        tokio::join!(
            self.clone().run(),
            self.clone().follow_stream(follow),
            self.clone().run_leader(leader),
            self.clone().run_presence(presence),
        );
    }

    fn time_to_next_due(&self) -> Duration {
        let idle = self.config.idle;
        match self.store.next_due() {
            Ok(Some(due)) => {
                let wait = (due - self.clock.now()).to_std().unwrap_or(Duration::ZERO);
                wait.clamp(Duration::from_millis(20), idle)
            }
            Ok(None) => idle,
            Err(e) => {
                tracing::error!(error = %e, "no se pudo leer el outbox");
                idle
            }
        }
    }

    /// Exponential backoff with ±25 % jitter.
    pub(crate) fn backoff(&self, attempts: u32) -> chrono::Duration {
        let base = self.config.retry_base.as_millis() as f64;
        let exp = base * 2f64.powi(attempts.min(16) as i32);
        let capped = exp.min(self.config.retry_max.as_millis() as f64);
        let jitter: f64 = self
            .rng
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .gen_range(0.75..1.25);
        chrono::Duration::milliseconds((capped * jitter) as i64)
    }

    /// Updates the health record; when what can be reached changed (Sheets, Redis), the UI's
    /// sync badge hears it at once (`SyncChanged`) instead of at the next applied command.
    pub(crate) fn update_health(&self, f: impl FnOnce(&mut Health)) {
        let changed = {
            let mut h = self.health.lock().unwrap_or_else(|p| p.into_inner());
            let before = (h.reachable, h.coord_reachable);
            f(&mut h);
            before != (h.reachable, h.coord_reachable)
        };
        if changed {
            self.emit(AppEvent::SyncChanged {
                status: self.status(),
            });
        }
    }

    pub(crate) fn note_success(&self) {
        let now = self.clock.now();
        self.update_health(|h| {
            h.last_sync = Some(now);
            h.last_error = None;
            h.reachable = true;
        });
    }

    pub(crate) fn note_error(&self, e: &WorkbookError) {
        self.update_health(|h| {
            h.last_error = Some(e.to_string());
            h.reachable = !matches!(
                e,
                WorkbookError::Unavailable(_) | WorkbookError::OutcomeUnknown(_)
            );
        });
    }

    pub(crate) fn note_coord_ok(&self) {
        self.update_health(|h| {
            h.coord_reachable = true;
            h.coord_error = None;
        });
    }

    pub(crate) fn note_coord_error(&self, e: &crate::ports::CoordError) {
        self.update_health(|h| {
            h.coord_error = Some(e.to_string());
            h.coord_reachable = !matches!(e, crate::ports::CoordError::Unavailable(_));
        });
    }

    pub fn status(&self) -> SyncStatus {
        let (pending, held, conflicts) = self.store.counts().unwrap_or_else(|e| {
            tracing::error!(error = %e, "no se pudo contar el outbox");
            (0, 0, 0)
        });
        let h = self
            .health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let connectivity = if self.config.mode == "standalone" {
            Connectivity::Standalone
        } else {
            match (h.reachable, h.coord_reachable) {
                (true, true) => Connectivity::Online,
                // Without Redis no lock can be taken: commands wait (queued), none is lost.
                (true, false) => Connectivity::SheetsOnly,
                (false, true) => Connectivity::RedisOnly,
                (false, false) => Connectivity::Offline,
            }
        };
        SyncStatus {
            mode: self.config.mode.to_string(),
            connectivity,
            pending: pending + held,
            conflicts,
            last_sync: h
                .last_sync
                .map(|t| crate::domain::time::fmt_datetime(crate::domain::time::santiago(t))),
            last_error: h.writer_error.or(h.last_error).or(h.coord_error),
            device_id: self.store.device_id().to_string(),
        }
    }

    /// The coordinator is this process only (standalone, or a plant device without Redis).
    pub fn coordinator_is_local(&self) -> bool {
        self.coord.describe() == crate::ports::in_process::DESCRIPTION
    }

    /// The workbook and coordinator as the status panel names them (never a secret).
    pub fn workbook_description(&self) -> String {
        self.workbook.describe()
    }

    pub fn coordinator_description(&self) -> String {
        self.coord.describe()
    }

    /// The fleet's shared Sheets quota left now (Redis only).
    pub async fn quota_levels(
        &self,
    ) -> Result<Option<crate::ports::QuotaLevels>, crate::ports::CoordError> {
        self.coord.quota_levels().await
    }

    pub(crate) fn emit(&self, ev: AppEvent) {
        // No UI listening (CLI, tests) is normal.
        if self.events.send(ev).is_err() {
            tracing::trace!("evento sin oyentes");
        }
    }

    /// Reads the plant's header rows and TAG positions (cold cache, or after drift).
    pub(crate) async fn load_cache(&self) -> Result<PlantCache, WorkbookError> {
        let read_at = self.clock.now();
        let ops = self.workbook.read_tab(OPERACIONES).await?;
        let layout =
            OperacionesLayout::from_headers(&ops.headers).map_err(WorkbookError::Schema)?;
        let meta = self.workbook.read_rows(METADATA, &[]).await?;
        let metadata = ColumnMap::from_headers(&meta.headers);
        metadata
            .require_all(METADATA, &["ID", "Evento_Tipo", "TAG_SPOOL", "Timestamp"])
            .map_err(WorkbookError::Schema)?;
        let rows = layout.tag_index(&ops.rows);
        let cache = PlantCache {
            layout,
            metadata,
            rows,
            read_at,
        };
        *self.cache.lock().await = Some(cache.clone());
        Ok(cache)
    }

    /// Loads the whole plant into the replica: workers, roles and every spool. Rows with local
    /// commands pending keep their optimistic state. Unreadable rows are reported, not dropped
    /// silently: the returned list says which and why.
    pub async fn load_snapshot(&self) -> Result<Vec<String>, WorkbookError> {
        self.load_snapshot_paced(false).await
    }

    /// `paced`: each read first waits for its Sheets calls' tokens (counted at the emulator:
    /// a tab is its header row, then its columns; the first read may also fetch the sheet list).
    pub(crate) async fn load_snapshot_paced(
        &self,
        paced: bool,
    ) -> Result<Vec<String>, WorkbookError> {
        let pace = |calls: u32| async move {
            if paced {
                self.wait_read_tokens(calls).await;
            }
        };
        pace(3).await;
        let trab = self.workbook.read_tab(TRABAJADORES).await?;
        pace(2).await;
        let roles = self.workbook.read_tab(ROLES).await?;
        let (workers, worker_problems) =
            decode_workers(&trab, &roles).map_err(WorkbookError::Schema)?;
        pace(2).await;
        let read_at = self.clock.now();
        let mark = self.store.replica_mark();
        let ops = self.workbook.read_tab(OPERACIONES).await?;
        let layout =
            OperacionesLayout::from_headers(&ops.headers).map_err(WorkbookError::Schema)?;
        let read = layout.decode_all(&ops.rows);
        let local = |e: crate::store::StoreError| WorkbookError::Unavailable(e.to_string());
        self.store.replace_workers(&workers).map_err(local)?;
        let changed = self
            .store
            .upsert_plant_rows_since(&read.spools, mark)
            .map_err(local)?;
        let present = read.present_tags();
        let removed = self.store.remove_missing(&present, mark).map_err(local)?;
        let mut problems: Vec<String> = read.problems.iter().map(|e| e.to_string()).collect();
        problems.extend(
            worker_problems
                .iter()
                .map(|p| format!("{} fila {}: {}", p.tab, p.row, p.message)),
        );
        for p in &problems {
            tracing::warn!(problema = %p, "fila de la planilla no leída");
        }
        pace(1).await;
        let meta = self.workbook.read_rows(METADATA, &[]).await?;
        let rows = layout.tag_index(&ops.rows);
        *self.cache.lock().await = Some(PlantCache {
            layout,
            metadata: ColumnMap::from_headers(&meta.headers),
            rows,
            read_at,
        });
        let mut tags = changed;
        tags.extend(removed);
        if !tags.is_empty() {
            self.emit(AppEvent::ReplicaChanged { tags });
        }
        self.note_success();
        Ok(problems)
    }
}

#[cfg(test)]
mod tests;
