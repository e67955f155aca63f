//! The shapes of live coordination between devices: the change stream's cursor, the live row
//! cache, presence. Shared by every `Coordinator` (Redis, in-process) and by the engine.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::RowChange;
use crate::domain::Spool;

/// A reader's place in the change stream.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamCursor {
    /// The coordinator's data generation: set by the leader after it warmed the live cache.
    /// Empty while nobody has warmed it (a fresh or restarted Redis).
    pub epoch: String,
    /// The last entry read (`0-0` before any).
    pub id: String,
    /// The sequence number of that entry; entries are numbered 1, 2, 3… so a gap means the
    /// stream was trimmed past this reader.
    pub seq: u64,
}

/// What reading the change stream found.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeRead {
    /// Changes after the cursor, in order (none when the wait timed out), and where to go on.
    Changes {
        cursor: StreamCursor,
        changes: Vec<RowChange>,
    },
    /// The cursor cannot be continued: the stream was trimmed past it, or the coordinator lost
    /// its data. Reload a snapshot, then continue from `stream_head()`.
    Reload,
}

/// One spool in the live cache: its row and the hash the leader compares with the sheet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveRow {
    pub row: Spool,
    pub hash: String,
}

impl LiveRow {
    pub fn new(row: &Spool) -> LiveRow {
        LiveRow {
            hash: row_hash(row),
            row: row.clone(),
        }
    }
}

/// A device's heartbeat, so supervisors see which tablets are alive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Presence {
    pub device_id: String,
    /// The worker who last acted on the device (token), if any.
    pub worker: Option<String>,
    pub online_since: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Commands waiting to sync on the device.
    pub pending: u32,
    pub leader: bool,
    /// The device's name from its configuration (older devices send none).
    #[serde(default)]
    pub name: Option<String>,
    /// When the device's oldest command still waiting to sync was made.
    #[serde(default)]
    pub oldest_pending: Option<DateTime<Utc>>,
}

/// A stable hash (FNV-1a over the row's JSON) of what the plant shows for a spool, so that
/// devices built by different compilers agree. `Fecha_Ocupacion` is compared to the whole
/// second (truncated, as the sheet's serial keeps it). `occupation_set_worker` is the `Ocupacion_Inicia`
/// cell: publishers clear it when their sheet has no such column (the engine's `as_sheet`).
pub fn row_hash(row: &Spool) -> String {
    let mut r = row.clone();
    r.fecha_ocupacion = r.fecha_ocupacion.map(round_to_second);
    let json = serde_json::to_string(&r).unwrap_or_default();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in json.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn round_to_second(t: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
    use chrono::Timelike;
    // The sheet keeps whole seconds (the serial is written from the truncated time), so a row
    // published with milliseconds reads back as the same second, not the next one.
    t.with_nanosecond(0).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hash_ignores_subsecond_noise_but_not_the_occupation_start() {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 11, 29)
            .unwrap()
            .and_hms_milli_opt(10, 0, 0, 100)
            .unwrap();
        let a = Spool {
            tag: "MK-1".into(),
            ocupado_por: Some("MR(93)".into()),
            fecha_ocupacion: Some(t),
            occupation_set_worker: true,
            ..Spool::default()
        };
        let mut b = a.clone();
        b.fecha_ocupacion = Some(t - chrono::Duration::microseconds(3));
        assert_eq!(row_hash(&a), row_hash(&b));
        b.occupation_set_worker = false;
        assert_ne!(
            row_hash(&a),
            row_hash(&b),
            "Ocupacion_Inicia is a sheet cell"
        );
        b.occupation_set_worker = true;
        b.ocupado_por = None;
        assert_ne!(row_hash(&a), row_hash(&b));
    }
}
