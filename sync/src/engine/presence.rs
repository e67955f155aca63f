//! Presence: each device's heartbeat in the coordinator (device id, the worker on it, online
//! since, pending count, whether it leads), so supervisors see which tablets are alive. A
//! device that stops beating disappears after `ttl`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Engine;
use crate::ports::{CoordError, Presence};

#[derive(Debug, Clone)]
pub struct PresenceConfig {
    pub interval: Duration,
    /// A device is shown as alive this long after its last heartbeat.
    pub ttl: Duration,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        PresenceConfig {
            interval: Duration::from_secs(10),
            ttl: Duration::from_secs(35),
        }
    }
}

impl Engine {
    /// This device as the fleet should see it now.
    pub(crate) async fn presence_now(
        &self,
        online_since: DateTime<Utc>,
    ) -> Result<Presence, CoordError> {
        let (pending, held, _) = self.store.counts().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "no se pudo contar el outbox para la presencia");
            (0, 0, 0)
        });
        let worker = match self.store.last_worker_id() {
            Ok(Some(id)) => Some(match self.store.worker(id) {
                Ok(Some(w)) => w.token(),
                _ => format!("({id})"),
            }),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "no se pudo leer el último trabajador");
                None
            }
        };
        let oldest_pending = self.store.oldest_unapplied().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "no se pudo leer el comando pendiente más antiguo");
            None
        });
        let name = self.store.setting("device_name").unwrap_or_else(|e| {
            tracing::warn!(error = %e, "no se pudo leer el nombre del equipo");
            None
        });
        let device_id = self.store.device_id().to_string();
        let leader = self.coord.leader().await?.as_deref() == Some(device_id.as_str());
        Ok(Presence {
            device_id,
            worker,
            online_since,
            last_seen: self.clock.now(),
            pending: pending + held,
            leader,
            name,
            oldest_pending,
        })
    }

    /// Beats until shutdown; failures are logged and show in the sync status.
    pub async fn run_presence(self: Arc<Self>, cfg: PresenceConfig) {
        let mut stop = self.stop.subscribe();
        let since = self.clock.now();
        loop {
            if *stop.borrow() {
                break;
            }
            let beat = match self.presence_now(since).await {
                Ok(p) => self.coord.heartbeat(&p, cfg.ttl).await,
                Err(e) => Err(e),
            };
            match beat {
                Ok(()) => self.note_coord_ok(),
                Err(e) => {
                    tracing::debug!(error = %e, "latido de presencia fallido");
                    self.note_coord_error(&e);
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(cfg.interval) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Devices alive now (supervisor view).
    pub async fn fleet(&self) -> Result<Vec<Presence>, CoordError> {
        self.coord.presence().await
    }
}
