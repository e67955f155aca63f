//! The embedded coordinator: one device, so agreement is a mutex. Same contract as Redis.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::{Acquire, CoordError, Coordinator, LockHolder, QuotaGrant, QuotaKind, RowChange};

#[derive(Default)]
struct State {
    locks: HashMap<String, LockHolder>,
    row_locks: HashMap<String, (String, Instant)>,
    applied: HashSet<String>,
}

pub struct InProcessCoordinator {
    state: Mutex<State>,
    changes: broadcast::Sender<RowChange>,
}

impl Default for InProcessCoordinator {
    fn default() -> Self {
        Self::new()
    }
}

impl InProcessCoordinator {
    pub fn new() -> Self {
        InProcessCoordinator {
            state: Mutex::new(State::default()),
            changes: broadcast::channel(1024).0,
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<RowChange> {
        self.changes.subscribe()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Coordinator for InProcessCoordinator {
    fn describe(&self) -> String {
        "coordinación local (un solo equipo)".into()
    }

    async fn acquire_occupation(
        &self,
        tag: &str,
        holder: &LockHolder,
    ) -> Result<Acquire, CoordError> {
        let mut st = self.state();
        match st.locks.get(tag) {
            Some(h) => Ok(Acquire::HeldBy(h.clone())),
            None => {
                st.locks.insert(tag.to_string(), holder.clone());
                Ok(Acquire::Acquired)
            }
        }
    }

    async fn occupation_holder(&self, tag: &str) -> Result<Option<LockHolder>, CoordError> {
        Ok(self.state().locks.get(tag).cloned())
    }

    async fn release_occupation(&self, tag: &str, holder: &LockHolder) -> Result<bool, CoordError> {
        let mut st = self.state();
        if st.locks.get(tag) == Some(holder) {
            st.locks.remove(tag);
            Ok(true)
        } else {
            Ok(false)
        }
    }

    async fn force_release(&self, tag: &str) -> Result<(), CoordError> {
        self.state().locks.remove(tag);
        Ok(())
    }

    async fn lock_row(&self, tag: &str, owner: &str, ttl: Duration) -> Result<bool, CoordError> {
        let mut st = self.state();
        let now = Instant::now();
        match st.row_locks.get(tag) {
            Some((o, exp)) if o != owner && *exp > now => Ok(false),
            _ => {
                st.row_locks
                    .insert(tag.to_string(), (owner.to_string(), now + ttl));
                Ok(true)
            }
        }
    }

    async fn unlock_row(&self, tag: &str, owner: &str) -> Result<(), CoordError> {
        let mut st = self.state();
        if st.row_locks.get(tag).is_some_and(|(o, _)| o == owner) {
            st.row_locks.remove(tag);
        }
        Ok(())
    }

    async fn was_applied(&self, command_id: &str) -> Result<bool, CoordError> {
        Ok(self.state().applied.contains(command_id))
    }

    async fn record_applied(&self, command_id: &str) -> Result<(), CoordError> {
        self.state().applied.insert(command_id.to_string());
        Ok(())
    }

    async fn publish(&self, change: &RowChange) -> Result<(), CoordError> {
        // No subscriber is fine: on one device the replica is already up to date.
        if self.changes.send(change.clone()).is_err() {
            tracing::trace!(tag = %change.tag, "cambio publicado sin suscriptores");
        }
        Ok(())
    }

    async fn take_quota(&self, _kind: QuotaKind) -> Result<QuotaGrant, CoordError> {
        Ok(QuotaGrant::Granted)
    }
}
