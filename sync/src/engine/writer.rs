//! Plants without Redis: exactly one device writes a spreadsheet (ARCHITECTURE.md §4).
//!
//! Google Sheets has no compare-and-set, so two devices that read version V could both write.
//! With no Redis to hold locks, the devices agree through the sheet itself: a hidden lease tab
//! (`ZEUES_ESCRITOR`) names the writer. Creating a tab whose title exists fails, so the first
//! device to register wins; every write the writer makes renews the lease *in the same atomic
//! call*, addressed by the lease tab's sheetId, so a writer whose lease was taken over cannot
//! land anything. Another device sees the registered writer, refuses taps with a clear Spanish
//! message and keeps what it already queued; it takes the role over only after the writer has
//! been silent for [`STALE`] (its tablet gone), deleting the old tab in the same call.

use chrono::{DateTime, Utc};

use super::Engine;
use crate::ports::{WorkbookError, WriteBatch, WriterFence, WriterLease};

/// A writer silent this long (no write, no heartbeat) may be replaced.
pub const STALE: chrono::Duration = chrono::Duration::minutes(10);
/// How often an idle writer renews its lease.
const BEAT: chrono::Duration = chrono::Duration::minutes(2);
/// How often a device that is not the writer looks at the lease again.
const RECHECK: chrono::Duration = chrono::Duration::seconds(30);

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) enum WriterRole {
    #[default]
    Unknown,
    Mine {
        sheet_id: i64,
        beat: DateTime<Utc>,
    },
    Other(WriterLease),
}

#[derive(Debug, Default)]
pub(crate) struct WriterState {
    pub role: WriterRole,
    pub checked_at: Option<DateTime<Utc>>,
}

impl Engine {
    fn writer_state(&self) -> std::sync::MutexGuard<'_, WriterState> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// This device's fence when it is the spreadsheet's writer (registering or taking over
    /// when it can); `None` while another device writes. An idle writer renews its lease here.
    pub(crate) async fn writer_fence(&self) -> Result<Option<WriterFence>, WorkbookError> {
        let now = self.clock.now();
        let (role, checked_at) = {
            let st = self.writer_state();
            (st.role.clone(), st.checked_at)
        };
        match role {
            WriterRole::Mine { sheet_id, beat } => {
                if now - beat >= BEAT {
                    self.renew_writer(sheet_id, now).await?;
                }
                return Ok(Some(WriterFence {
                    sheet_id,
                    heartbeat: now,
                }));
            }
            WriterRole::Other(_) if checked_at.is_some_and(|t| now - t < RECHECK) => {
                return Ok(None)
            }
            WriterRole::Other(_) | WriterRole::Unknown => {}
        }
        self.writer_state().checked_at = Some(now);
        let me = self.store.device_id().to_string();
        let name = self
            .store
            .setting("device_name")
            .ok()
            .flatten()
            .unwrap_or_else(|| me.clone());
        let current = self.workbook.writer_lease().await?;
        let replacing = match &current {
            Some(l) if l.device_id == me => {
                self.become_writer(l.sheet_id, now);
                return Ok(Some(WriterFence {
                    sheet_id: l.sheet_id,
                    heartbeat: now,
                }));
            }
            Some(l) if now - l.heartbeat < STALE => {
                self.other_writer(l.clone());
                return Ok(None);
            }
            Some(l) => {
                tracing::warn!(escritor = %l.name, latido = %l.heartbeat, "el escritor registrado lleva más de 10 min sin señal; este equipo toma el rol");
                Some(l.sheet_id)
            }
            None => None,
        };
        let sheet_id = self.new_sheet_id();
        let lease = WriterLease {
            sheet_id,
            device_id: me,
            name,
            since: now,
            heartbeat: now,
        };
        if self.workbook.claim_writer(&lease, replacing).await? {
            tracing::info!(
                sheet_id,
                "este equipo es el escritor de la planilla (sin Redis)"
            );
            self.become_writer(sheet_id, now);
            Ok(Some(WriterFence {
                sheet_id,
                heartbeat: now,
            }))
        } else {
            // Someone registered between our read and our claim: look again next round.
            self.writer_state().role = WriterRole::Unknown;
            Ok(None)
        }
    }

    async fn renew_writer(&self, sheet_id: i64, now: DateTime<Utc>) -> Result<(), WorkbookError> {
        let beat = WriteBatch {
            fence: Some(WriterFence {
                sheet_id,
                heartbeat: now,
            }),
            ..WriteBatch::default()
        };
        match self.workbook.write(&beat).await {
            Ok(()) => {
                self.writer_state().role = WriterRole::Mine {
                    sheet_id,
                    beat: now,
                };
                Ok(())
            }
            Err(WorkbookError::WriterLost(m)) => {
                self.writer_lost();
                Err(WorkbookError::WriterLost(m))
            }
            Err(e) => Err(e),
        }
    }

    fn new_sheet_id(&self) -> i64 {
        use rand::Rng;
        // Sheet ids are positive 31-bit numbers; from the engine's seeded generator.
        i64::from(
            self.rng
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .gen_range(1_000_000..i32::MAX),
        )
    }

    fn become_writer(&self, sheet_id: i64, now: DateTime<Utc>) {
        let mut st = self.writer_state();
        st.role = WriterRole::Mine {
            sheet_id,
            beat: now,
        };
        drop(st);
        self.update_health(|h| h.writer_error = None);
    }

    fn other_writer(&self, lease: WriterLease) {
        let msg = other_writer_message(&lease);
        tracing::warn!(escritor = %lease.name, equipo = %lease.device_id, "otro equipo es el escritor de esta planilla (sin Redis): este no envía nada");
        self.writer_state().role = WriterRole::Other(lease);
        self.update_health(|h| h.writer_error = Some(msg));
    }

    /// A write was refused because the lease tab is gone: someone took the role over.
    pub(crate) fn writer_lost(&self) {
        tracing::warn!("el rol de escritor de la planilla pasó a otro equipo");
        let mut st = self.writer_state();
        st.role = WriterRole::Unknown;
        st.checked_at = None;
    }

    /// Why this device refuses taps: another device is the spreadsheet's writer.
    pub fn writer_refusal(&self) -> Option<(String, String)> {
        if !self.config.single_writer {
            return None;
        }
        match &self.writer_state().role {
            WriterRole::Other(l) => Some(("ESCRITOR_OCUPADO".into(), other_writer_message(l))),
            _ => None,
        }
    }

    /// Gives the role up on a clean stop, so another device can write at once.
    pub(crate) async fn release_writer_role(&self) {
        let role = self.writer_state().role.clone();
        if let WriterRole::Mine { sheet_id, .. } = role {
            match self.workbook.release_writer(sheet_id).await {
                Ok(()) => tracing::info!("rol de escritor de la planilla liberado"),
                Err(e) => {
                    tracing::warn!(error = %e, "no se pudo liberar el rol de escritor; otro equipo podrá tomarlo tras 10 min sin señal")
                }
            }
            self.writer_state().role = WriterRole::Unknown;
        }
    }
}

fn other_writer_message(l: &WriterLease) -> String {
    let since = crate::domain::time::fmt_datetime(crate::domain::time::santiago(l.since));
    format!(
        "Sin Redis, solo un equipo puede registrar acciones en esta planilla, y ahora lo hace «{}» (desde {since}). Use ese equipo, o pida a TI configurar Redis para trabajar con varios equipos. Lo que este equipo ya guardó no se pierde: espera.",
        l.name
    )
}
