//! Wall time on simulated time: a fixed shift start plus the paused tokio clock's progress, plus
//! the device's own skew (a tablet whose clock is minutes off). The engine reads wall time only
//! through `zeues_sync::engine::Clock`; every timer it sleeps on is tokio's, so one seed gives
//! the same instants on every run.

use chrono::{DateTime, Utc};
use tokio::time::Instant;
use zeues_sync::engine::Clock;

pub struct SimClock {
    start: DateTime<Utc>,
    origin: Instant,
    skew: chrono::Duration,
}

impl SimClock {
    pub fn new(start: DateTime<Utc>, origin: Instant, skew_ms: i64) -> SimClock {
        SimClock {
            start,
            origin,
            skew: chrono::Duration::milliseconds(skew_ms),
        }
    }
}

impl Clock for SimClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = Instant::now().saturating_duration_since(self.origin);
        self.start + chrono::Duration::milliseconds(elapsed.as_millis() as i64) + self.skew
    }
}
