//! The Sheets API as one device sees it: the shared [`Book`](super::book::Book) behind the
//! faults Google's API really has, each drawn from the run's generator per call:
//! 429 (nothing applied), 503 before committing, 503 after committing and an answer lost after
//! committing (applied, reported as an unknown outcome), latency before the call lands and
//! after, and Google's per-minute quota for the whole fleet (60 reads, 60 writes). A device
//! that is cut off gets `Unavailable` for every call.
//!
//! A write that was sent lands even if its sender gives up or dies meanwhile: the request is
//! "in the network" (a task of its own) until it arrives.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
use zeues_sync::domain::sheet::{Grid, METADATA, OPERACIONES};
use zeues_sync::ports::{RowsRead, TabShape, Workbook, WorkbookError, WriteBatch, WriterLease};

use super::swarm::Feature;
use super::world::Sim;

/// How long the product's Sheets client waits for an answer before calling it lost.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Ok,
    Quota,
    Unavailable,
    AfterCommit,
    Lost,
    UnknownNotApplied,
}

#[derive(Debug, Clone, Copy)]
struct Plan {
    fate: Fate,
    pre: Duration,
    post: Duration,
}

pub struct SimWorkbook {
    sim: Arc<Sim>,
    device: usize,
}

impl SimWorkbook {
    pub fn new(sim: Arc<Sim>, device: usize) -> SimWorkbook {
        SimWorkbook { sim, device }
    }

    /// Decides this call's fate before it is sent.
    fn plan(&self, write: bool, what: &str) -> Result<Plan, WorkbookError> {
        let mut w = self.sim.world();
        if w.sheets_cut.contains(&self.device) {
            w.trace
                .detail(format_args!("sheets d{} {what} -> cortado", self.device));
            return Err(WorkbookError::Unavailable(
                "sin conexión con Google Sheets (partición)".into(),
            ));
        }
        let mut plan = Plan {
            fate: Fate::Ok,
            pre: Duration::ZERO,
            post: Duration::ZERO,
        };
        if !w.faults_on {
            return Ok(plan);
        }
        if w.swarm.has(Feature::SheetsFaults) {
            let f = w.swarm.sheets;
            let r: f64 = w.rng.gen();
            let mut acc = 0.0;
            for (p, fate) in [
                (f.quota, Fate::Quota),
                (f.unavailable, Fate::Unavailable),
                (f.after_commit, Fate::AfterCommit),
                (f.lost, Fate::Lost),
                (f.unknown_not_applied, Fate::UnknownNotApplied),
            ] {
                acc += p;
                if r < acc {
                    plan.fate = fate;
                    break;
                }
            }
            if !write && matches!(plan.fate, Fate::AfterCommit | Fate::UnknownNotApplied) {
                // A read has nothing to commit: a 5xx is a 5xx.
                plan.fate = Fate::Unavailable;
            }
        }
        if w.swarm.has(Feature::Latency) {
            let l = w.swarm.latency;
            if w.rng.gen_bool(l.p) {
                plan.pre = Duration::from_millis(w.rng.gen_range(0..=l.max_pre_ms));
                plan.post = Duration::from_millis(w.rng.gen_range(0..=l.max_post_ms));
            }
        }
        if plan.fate != Fate::Ok {
            w.stats.add(match plan.fate {
                Fate::Quota => "sheets_429",
                Fate::Unavailable => "sheets_503",
                Fate::AfterCommit => "sheets_503_after_commit",
                Fate::Lost => "sheets_answer_lost",
                Fate::UnknownNotApplied => "sheets_unknown_not_applied",
                Fate::Ok => "sheets_ok",
            });
        }
        Ok(plan)
    }

    /// A write to the lease tab alone (one `batchUpdate`): the same faults as any write.
    async fn lease_call<T>(
        &self,
        what: &str,
        f: impl FnOnce(&mut super::book::Book) -> T,
    ) -> Result<T, WorkbookError> {
        let plan = self.plan(true, what)?;
        tokio::time::sleep(plan.pre).await;
        let r = match plan.fate {
            Fate::Quota => Err(WorkbookError::Quota("429 (simulado)".into())),
            Fate::Unavailable => Err(WorkbookError::Unavailable("503 (simulado)".into())),
            Fate::UnknownNotApplied => Err(WorkbookError::OutcomeUnknown(
                "conexión cortada (simulado)".into(),
            )),
            Fate::Ok | Fate::AfterCommit | Fate::Lost => {
                let mut w = self.sim.world();
                if w.quota_on && !w.google.admit(true, tokio::time::Instant::now()) {
                    Err(WorkbookError::Quota(
                        "429: cuota de escrituras por minuto de Google".into(),
                    ))
                } else {
                    let v = f(&mut w.book);
                    match plan.fate {
                        Fate::Ok => Ok(v),
                        _ => Err(WorkbookError::OutcomeUnknown(
                            "respuesta perdida (simulado)".into(),
                        )),
                    }
                }
            }
        };
        self.note(format_args!("{what} -> {}", outcome(&r)));
        tokio::time::sleep(plan.post).await;
        r
    }

    fn note(&self, what: std::fmt::Arguments<'_>) {
        self.sim
            .detail(format_args!("sheets d{} {what}", self.device));
    }

    /// A read: faults first, then the read happens when the request arrives (after `pre`), and
    /// the answer takes `post` to come back.
    async fn read<T>(
        &self,
        what: &str,
        f: impl FnOnce(&super::book::Book) -> Result<T, WorkbookError>,
    ) -> Result<T, WorkbookError> {
        let plan = self.plan(false, what)?;
        tokio::time::sleep(plan.pre).await;
        let r = match plan.fate {
            Fate::Quota => Err(WorkbookError::Quota("429 (simulado)".into())),
            Fate::Unavailable | Fate::AfterCommit | Fate::UnknownNotApplied => {
                Err(WorkbookError::Unavailable("503 (simulado)".into()))
            }
            Fate::Ok | Fate::Lost => land_read(&self.sim, f),
        };
        self.note(format_args!("{what} -> {}", outcome(&r)));
        if plan.fate == Fate::Lost {
            tokio::time::sleep(REQUEST_TIMEOUT).await;
            return Err(WorkbookError::Unavailable(
                "sin respuesta de Google Sheets (simulado)".into(),
            ));
        }
        tokio::time::sleep(plan.post).await;
        r
    }
}

fn outcome<T>(r: &Result<T, WorkbookError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(WorkbookError::Unavailable(_)) => "503",
        Err(WorkbookError::Quota(_)) => "429",
        Err(WorkbookError::OutcomeUnknown(_)) => "desconocido",
        Err(_) => "error",
    }
}

fn land_read<T>(
    sim: &Sim,
    f: impl FnOnce(&super::book::Book) -> Result<T, WorkbookError>,
) -> Result<T, WorkbookError> {
    let mut w = sim.world();
    if w.quota_on && !w.google.admit(false, tokio::time::Instant::now()) {
        return Err(WorkbookError::Quota(
            "429: cuota de lecturas por minuto de Google".into(),
        ));
    }
    f(&w.book)
}

/// A write arriving at Google: the per-minute quota, then the batch, whole or nothing. Also
/// checks, as it lands, that no write puts a second occupant over the first.
fn land_write(sim: &Sim, device: usize, batch: &WriteBatch) -> Result<(), WorkbookError> {
    let mut w = sim.world();
    if w.quota_on && !w.google.admit(true, tokio::time::Instant::now()) {
        return Err(WorkbookError::Quota(
            "429: cuota de escrituras por minuto de Google".into(),
        ));
    }
    let headers = w.book.headers(OPERACIONES).unwrap_or_default();
    // The spools this batch's audit rows name: the rows it means to write.
    let meta = w.book.headers(METADATA).unwrap_or_default();
    let meta_tag = meta
        .iter()
        .position(|h| zeues_sync::domain::header::normalize_header(h) == "tagspool");
    let meant: std::collections::HashSet<String> = batch
        .appends
        .iter()
        .filter(|a| a.tab == METADATA)
        .filter_map(|a| meta_tag.and_then(|c| a.cells.get(c)))
        .map(|v| v.to_raw().shown().trim().to_uppercase())
        .collect();
    let occ = headers
        .iter()
        .position(|h| zeues_sync::domain::header::normalize_header(h) == "ocupadopor");
    if let Some(col) = occ {
        for u in batch.updates.iter().filter(|u| u.tab == OPERACIONES) {
            let Some((_, v)) = u.cells.iter().find(|(c, _)| *c == col) else {
                continue;
            };
            let new = v.to_raw();
            let old = w.book.cell(OPERACIONES, u.row, col);
            if !new.is_empty() && !old.is_empty() && new.shown() != old.shown() {
                let tag_col = headers
                    .iter()
                    .position(|h| zeues_sync::domain::header::normalize_header(h) == "tagspool");
                let tag = tag_col.map(|c| w.book.cell(OPERACIONES, u.row, c).shown());
                let row_tag = tag.clone().unwrap_or_default().trim().to_uppercase();
                if !meant.contains(&row_tag) {
                    // Not the row this write means (moved under it), or a repair: the
                    // checker judges the end state.
                    w.inv.moved_writes += 1;
                    continue;
                }
                w.inv.double_holder += 1;
                let at = tokio::time::Instant::now()
                    .saturating_duration_since(sim.origin)
                    .as_millis();
                w.inv.note(format!(
                    "{at} ms: d{device} wrote Ocupado_Por {:?} over {:?} on row {} ({:?})",
                    new.shown(),
                    old.shown(),
                    u.row,
                    tag
                ));
            }
        }
    }
    w.book.apply(batch)
}

fn describe_batch(b: &WriteBatch) -> String {
    let rows: Vec<String> = b.updates.iter().map(|u| u.row.to_string()).collect();
    format!(
        "write rows=[{}] appends={}",
        rows.join(","),
        b.appends.len()
    )
}

#[async_trait]
impl Workbook for SimWorkbook {
    fn describe(&self) -> String {
        "Google Sheets simulado (plant-vopr)".into()
    }

    async fn read_tab(&self, tab: &str) -> Result<Grid, WorkbookError> {
        self.read(&format!("read_tab {tab}"), |b| b.grid(tab)).await
    }

    async fn read_rows(&self, tab: &str, rows: &[u32]) -> Result<RowsRead, WorkbookError> {
        self.read(&format!("read_rows {tab} {rows:?}"), |b| b.rows(tab, rows))
            .await
    }

    async fn read_row_range(
        &self,
        tab: &str,
        first: u32,
        last: u32,
    ) -> Result<RowsRead, WorkbookError> {
        self.read(&format!("read_range {tab} {first}..{last}"), |b| {
            b.range(tab, first, last)
        })
        .await
    }

    async fn write(&self, batch: &WriteBatch) -> Result<(), WorkbookError> {
        let what = describe_batch(batch);
        let plan = self.plan(true, &what)?;
        match plan.fate {
            Fate::Quota => {
                tokio::time::sleep(plan.pre).await;
                self.note(format_args!("{what} -> 429"));
                return Err(WorkbookError::Quota("429 (simulado)".into()));
            }
            Fate::Unavailable => {
                tokio::time::sleep(plan.pre).await;
                self.note(format_args!("{what} -> 503 antes"));
                return Err(WorkbookError::Unavailable("503 (simulado)".into()));
            }
            Fate::UnknownNotApplied => {
                tokio::time::sleep(plan.pre + REQUEST_TIMEOUT).await;
                self.note(format_args!("{what} -> cortado sin llegar"));
                return Err(WorkbookError::OutcomeUnknown(
                    "conexión cortada (simulado)".into(),
                ));
            }
            Fate::Ok | Fate::AfterCommit | Fate::Lost => {}
        }
        let landed = if plan.pre.is_zero() {
            land_write(&self.sim, self.device, batch)
        } else {
            // Sent: it arrives after `pre` whatever happens to the sender meanwhile.
            let (tx, rx) = tokio::sync::oneshot::channel();
            let sim = self.sim.clone();
            let device = self.device;
            let batch = batch.clone();
            let pre = plan.pre;
            tokio::spawn(async move {
                tokio::time::sleep(pre).await;
                let r = land_write(&sim, device, &batch);
                sim.detail(format_args!(
                    "sheets d{device} llegó {} -> {}",
                    describe_batch(&batch),
                    outcome(&r)
                ));
                if tx.send(r).is_err() {
                    sim.detail(format_args!("sheets d{device} nadie espera la respuesta"));
                }
            });
            rx.await.unwrap_or_else(|_| {
                Err(WorkbookError::Unavailable("la solicitud se perdió".into()))
            })
        };
        self.note(format_args!("{what} -> {}", outcome(&landed)));
        if landed.is_ok() {
            match plan.fate {
                Fate::AfterCommit => {
                    tokio::time::sleep(plan.post).await;
                    return Err(WorkbookError::OutcomeUnknown(
                        "503 después de escribir (simulado)".into(),
                    ));
                }
                Fate::Lost => {
                    tokio::time::sleep(REQUEST_TIMEOUT).await;
                    return Err(WorkbookError::OutcomeUnknown(
                        "respuesta perdida (simulado)".into(),
                    ));
                }
                _ => {}
            }
        }
        tokio::time::sleep(plan.post).await;
        landed
    }

    async fn probe(&self) -> Result<(), WorkbookError> {
        if self.sim.sheets_cut(self.device) {
            return Err(WorkbookError::Unavailable(
                "sin conexión con Google Sheets (partición)".into(),
            ));
        }
        Ok(())
    }

    async fn tab_shape(&self, tab: &str) -> Result<TabShape, WorkbookError> {
        self.read(&format!("tab_shape {tab}"), |b| b.shape(tab))
            .await
    }

    async fn writer_lease(&self) -> Result<Option<WriterLease>, WorkbookError> {
        self.read("writer_lease", |b| Ok(b.writer())).await
    }

    async fn claim_writer(
        &self,
        me: &WriterLease,
        replacing: Option<i64>,
    ) -> Result<bool, WorkbookError> {
        self.lease_call(
            &format!("claim_writer {} {replacing:?}", me.device_id),
            |b| b.claim_writer(me, replacing),
        )
        .await
    }

    async fn release_writer(&self, sheet_id: i64) -> Result<(), WorkbookError> {
        self.lease_call(&format!("release_writer {sheet_id}"), |b| {
            b.release_writer(sheet_id)
        })
        .await
    }
}
