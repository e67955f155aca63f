//! Following the coordinator's change stream into the replica (ARCHITECTURE.md §4): read from
//! the last id this device saw (kept in its settings, so a restart resumes there); when the
//! stream was trimmed past it or Redis lost its data, reload a snapshot from the live cache
//! and go on from the stream's head. Never reads the sheet: after a Redis restart it waits for
//! the leader to warm the cache (one lease period) instead of 200 tablets each reading Sheets.

use std::sync::Arc;
use std::time::Duration;

use super::Engine;
use crate::api::AppEvent;
use crate::ports::{ChangeRead, CoordError, StreamCursor};

/// Where the device's stream position is kept.
const CURSOR_SETTING: &str = "stream_cursor";
/// The hash of the workers list this device last took from the leader.
const WORKERS_SETTING: &str = "workers_hash";
/// How often a device compares its workers list with the leader's (one small Redis read).
const WORKERS_CHECK: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct FollowConfig {
    /// Longest wait for a change in one read (also how soon a stop is noticed).
    pub block: Duration,
    /// Most changes applied per read.
    pub batch: usize,
    /// Pause after the coordinator failed or has not been warmed yet.
    pub retry: Duration,
}

impl Default for FollowConfig {
    fn default() -> Self {
        FollowConfig {
            block: Duration::from_secs(2),
            batch: 500,
            retry: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error(transparent)]
    Coord(#[from] CoordError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// What one step did (for tests and logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Applied(usize),
    Reloaded(usize),
    /// The coordinator has no warmed data yet: nothing to follow.
    Cold,
}

impl Engine {
    fn saved_cursor(&self) -> Option<StreamCursor> {
        match self.store.setting(CURSOR_SETTING) {
            Ok(Some(s)) => serde_json::from_str(&s).ok(),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "no se pudo leer la posición del stream");
                None
            }
        }
    }

    fn save_cursor(&self, c: &StreamCursor) -> Result<(), FollowError> {
        let s = serde_json::to_string(c).unwrap_or_default();
        self.store.set_setting(CURSOR_SETTING, &s)?;
        Ok(())
    }

    /// Replaces the replica's view of the plant with the live cache, then continues from the
    /// head read *before* the snapshot (changes in between are applied twice: harmless).
    async fn reload_from_live(&self) -> Result<Step, FollowError> {
        let head = self.coord.stream_head().await?;
        if head.epoch.is_empty() {
            return Ok(Step::Cold);
        }
        let mark = self.store.replica_mark();
        let rows = self.coord.live_snapshot().await?;
        // A push of this device that lands while the snapshot is read stays (it is newer).
        let tags = self.store.upsert_plant_rows_since(&rows, mark)?;
        if !tags.is_empty() {
            self.emit(AppEvent::ReplicaChanged { tags: tags.clone() });
        }
        self.save_cursor(&head)?;
        tracing::info!(
            rows = rows.len(),
            changed = tags.len(),
            "réplica recargada desde la caché en vivo"
        );
        Ok(Step::Reloaded(tags.len()))
    }

    /// One read of the stream (waiting up to `block`), applied to the replica.
    pub(crate) async fn follow_once(&self, cfg: &FollowConfig) -> Result<Step, FollowError> {
        let Some(cursor) = self.saved_cursor() else {
            return self.reload_from_live().await;
        };
        match self
            .coord
            .read_changes(&cursor, cfg.batch, cfg.block)
            .await?
        {
            ChangeRead::Reload => self.reload_from_live().await,
            ChangeRead::Changes {
                cursor: next,
                changes,
            } => {
                if !changes.is_empty() {
                    self.apply_changes(&changes)?;
                }
                if next != cursor {
                    self.save_cursor(&next)?;
                }
                Ok(Step::Applied(changes.len()))
            }
        }
    }

    /// Follows the change stream until shutdown. Errors are logged and retried; the
    /// coordinator's health shows in the sync status.
    /// Takes the workers list the leader published when it differs from this device's (a
    /// worker added to the sheet mid-shift can tap on every tablet). Returns whether it changed.
    pub async fn sync_workers(&self) -> Result<bool, FollowError> {
        let Some(hash) = self.coord.workers_hash().await? else {
            return Ok(false);
        };
        if self.store.setting(WORKERS_SETTING)?.as_deref() == Some(hash.as_str()) {
            return Ok(false);
        }
        let Some((hash, json)) = self.coord.workers().await? else {
            return Ok(false);
        };
        let workers: Vec<crate::domain::Worker> = match serde_json::from_str(&json) {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "lista de trabajadores publicada ilegible; se ignora");
                return Ok(false);
            }
        };
        self.store.replace_workers(&workers)?;
        self.store.set_setting(WORKERS_SETTING, &hash)?;
        tracing::info!(
            trabajadores = workers.len(),
            "lista de trabajadores actualizada desde el líder"
        );
        self.emit(AppEvent::ReplicaChanged { tags: Vec::new() });
        Ok(true)
    }

    pub async fn follow_stream(self: Arc<Self>, cfg: FollowConfig) {
        let mut stop = self.stop.subscribe();
        let mut workers_checked: Option<tokio::time::Instant> = None;
        loop {
            if *stop.borrow() {
                break;
            }
            if workers_checked.is_none_or(|t| t.elapsed() >= WORKERS_CHECK) {
                workers_checked = Some(tokio::time::Instant::now());
                if let Err(e) = self.sync_workers().await {
                    tracing::debug!(error = %e, "no se pudo revisar la lista de trabajadores");
                }
            }
            let pause = match self.follow_once(&cfg).await {
                Ok(Step::Cold) => {
                    self.note_coord_ok();
                    Some(cfg.retry)
                }
                Ok(_) => {
                    self.note_coord_ok();
                    None
                }
                Err(FollowError::Coord(e)) => {
                    tracing::debug!(error = %e, "stream de cambios no disponible");
                    self.note_coord_error(&e);
                    Some(cfg.retry)
                }
                Err(e) => {
                    tracing::error!(error = %e, "no se pudo aplicar el stream de cambios");
                    Some(cfg.retry)
                }
            };
            if let Some(p) = pause {
                tokio::select! {
                    _ = tokio::time::sleep(p) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::Spool;
    use crate::engine::{EngineConfig, NoNotifier, SystemClock};
    use crate::ports::{Coordinator, InProcessCoordinator, LocalWorkbook, RowChange};
    use crate::store::Store;

    async fn device(
        coord: Arc<InProcessCoordinator>,
    ) -> (tempfile::TempDir, Arc<Engine>, Arc<Store>) {
        let dir = tempfile::tempdir().unwrap();
        let wb = LocalWorkbook::open(&dir.path().join("plant.db")).unwrap();
        crate::demo::seed(&wb, chrono::Utc::now(), 5, 20).unwrap();
        let (store, _) = Store::open(&dir.path().join("zeues.db")).unwrap();
        let store = Arc::new(store);
        let engine = Engine::new(
            store.clone(),
            Arc::new(wb),
            coord,
            Arc::new(SystemClock),
            Arc::new(NoNotifier),
            tokio::sync::broadcast::channel(16).0,
            EngineConfig::default(),
        );
        engine.load_snapshot().await.unwrap();
        (dir, engine, store)
    }

    fn quick() -> FollowConfig {
        FollowConfig {
            block: Duration::from_millis(20),
            batch: 100,
            retry: Duration::from_millis(10),
        }
    }

    #[tokio::test]
    async fn waits_for_a_warm_cache_then_follows_changes() {
        let coord = Arc::new(InProcessCoordinator::new());
        let (_d, engine, store) = device(coord.clone()).await;
        assert_eq!(engine.follow_once(&quick()).await.unwrap(), Step::Cold);

        let mut row: Spool = store.spools_where("1=1", &[], 1).unwrap().remove(0);
        coord.warm_live(std::slice::from_ref(&row)).await.unwrap();
        coord.set_epoch("e1").await.unwrap();
        assert!(matches!(
            engine.follow_once(&quick()).await.unwrap(),
            Step::Reloaded(_)
        ));

        row.nv = "NV-CAMBIADA".into();
        row.version = "otro-equipo".into();
        coord
            .publish(&RowChange {
                tag: row.tag.clone(),
                row: row.clone(),
                command_id: "c1".into(),
                device_id: "otro".into(),
            })
            .await
            .unwrap();
        assert_eq!(
            engine.follow_once(&quick()).await.unwrap(),
            Step::Applied(1)
        );
        assert_eq!(store.spool(&row.tag).unwrap().unwrap().nv, "NV-CAMBIADA");

        // Redis lost its data and the leader re-warmed it: the device reloads.
        coord.set_epoch("e2").await.unwrap();
        assert!(matches!(
            engine.follow_once(&quick()).await.unwrap(),
            Step::Reloaded(_)
        ));
        assert_eq!(
            engine.follow_once(&quick()).await.unwrap(),
            Step::Applied(0)
        );
    }
}
