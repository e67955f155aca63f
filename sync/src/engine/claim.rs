//! Claiming occupations ahead of the sheet. A TOMAR takes its lock in the coordinator as soon as
//! the device can reach it, and the other devices are told at once through the change stream,
//! so every tablet sees the spool taken within a second even while the Sheets write waits for
//! quota. The sheet write (and its version check) still decides; if it refuses, the lock is
//! released and the plant's row is announced again (push path).

use super::Engine;
use crate::ports::{Acquire, LockHolder, RowChange};

impl Engine {
    /// Returns how many TOMARs were claimed this round.
    pub async fn claim_once(&self) -> Result<usize, super::EngineError> {
        let cmds = self.store.unclaimed_tomar(self.config.batch_size)?;
        let mut claimed = 0;
        for cmd in cmds {
            let mine = LockHolder {
                worker_id: cmd.worker_id,
                command_id: cmd.id.clone(),
            };
            match self.coord.acquire_occupation(&cmd.tag, &mine).await {
                Ok(Acquire::Acquired) => {}
                Ok(Acquire::HeldBy(h)) if h == mine => {}
                // Someone holds it: the push path decides with the sheet in hand (the lock may
                // be stale, and a refusal must name the plant's occupant).
                Ok(Acquire::HeldBy(_)) => continue,
                Err(e) => {
                    self.note_coord_error(&e);
                    return Ok(claimed);
                }
            }
            self.store.mark_claimed(&cmd.id)?;
            claimed += 1;
            super::failpoint::hit_on(self.store.device_id(), "claim.after_lock");
            if let Some(row) = self.store.spool(&cmd.tag)? {
                let change = RowChange {
                    tag: cmd.tag.clone(),
                    row,
                    command_id: cmd.id.clone(),
                    device_id: cmd.device_id.clone(),
                };
                if let Err(e) = self.coord.announce(&change).await {
                    // Best effort: the sheet write publishes the row again.
                    tracing::warn!(tag = %cmd.tag, error = %e, "no se pudo anunciar la ocupación");
                    self.note_coord_error(&e);
                }
            }
        }
        Ok(claimed)
    }
}
