//! Connectivity probes: Redis and the Sheets endpoint are asked on a timer, so the sync badge
//! says online / Redis-only / Sheets-only / offline from real answers even while nobody taps.

use std::sync::Arc;
use std::time::Duration;

use super::Engine;

impl Engine {
    /// One probe of both ports; updates the health record (and the badge when it changed).
    pub async fn probe_once(&self) {
        match self.workbook.probe().await {
            Ok(()) => self.update_health(|h| h.reachable = true),
            Err(e) => self.update_health(|h| {
                h.reachable = false;
                h.last_error = Some(e.to_string());
            }),
        }
        match self.coord.probe().await {
            Ok(()) => self.note_coord_ok(),
            Err(e) => self.note_coord_error(&e),
        }
    }

    pub async fn run_probes(self: Arc<Self>, every: Duration) {
        let mut stop = self.stop.subscribe();
        loop {
            if *stop.borrow() {
                break;
            }
            self.probe_once().await;
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => {}
            }
        }
    }
}
