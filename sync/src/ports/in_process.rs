//! The embedded coordinator: one device, so agreement is a mutex. Same contract as Redis
//! (`ports::redis`), which is what the engine's unit tests rely on.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

// tokio's clock: real time normally, simulated time when the runtime's clock is paused.
use tokio::time::Instant;

use async_trait::async_trait;
use tokio::sync::{broadcast, Notify};

use super::{
    Acquire, ChangeRead, CoordError, Coordinator, LiveRow, LockHolder, Presence, QuotaGrant,
    QuotaKind, RowChange, StreamCursor,
};
use crate::domain::Spool;

/// Entries kept in the in-memory change stream (older ones are trimmed, as in Redis).
const STREAM_CAP: usize = 10_000;

#[derive(Default)]
struct State {
    locks: BTreeMap<String, LockHolder>,
    row_locks: BTreeMap<String, (String, Instant)>,
    applied: BTreeSet<String>,
    live: BTreeMap<String, LiveRow>,
    /// (seq, change), oldest first.
    stream: VecDeque<(u64, RowChange)>,
    seq: u64,
    epoch: Option<String>,
    lease: Option<(String, Instant)>,
    presence: BTreeMap<String, (Presence, Instant)>,
    workers: Option<(String, String)>,
    /// (tokens, when) of the read and the write bucket, when this device keeps a budget.
    buckets: [(f64, Option<Instant>); 2],
}

/// How this coordinator describes itself (the engine recognises it by this).
pub const DESCRIPTION: &str = "coordinación local (un solo equipo)";

pub struct InProcessCoordinator {
    /// A budget for the Sheets calls of this device alone (a plant device without Redis);
    /// `None`: unlimited (the embedded demo plant's workbook is local).
    quota: Option<(
        crate::ports::redis::RateLimit,
        crate::ports::redis::RateLimit,
    )>,
    state: Mutex<State>,
    changes: broadcast::Sender<RowChange>,
    appended: Notify,
}

impl Default for InProcessCoordinator {
    fn default() -> Self {
        Self::new()
    }
}

fn stream_id(seq: u64) -> String {
    format!("{seq}-0")
}

impl InProcessCoordinator {
    pub fn new() -> Self {
        InProcessCoordinator {
            quota: None,
            state: Mutex::new(State::default()),
            changes: broadcast::channel(1024).0,
            appended: Notify::new(),
        }
    }

    /// A device without Redis still keeps Google's limits: the same token bucket as the
    /// fleet's (burst, then a steady refill), for its own calls.
    pub fn with_quota(
        reads: crate::ports::redis::RateLimit,
        writes: crate::ports::redis::RateLimit,
    ) -> Self {
        InProcessCoordinator {
            quota: Some((reads, writes)),
            ..Self::new()
        }
    }

    /// What a Redis restart does to the row mutexes: they are gone (engine tests).
    #[cfg(test)]
    pub(crate) fn lose_row_mutexes(&self) {
        self.state().row_locks.clear();
    }

    pub fn subscribe(&self) -> broadcast::Receiver<RowChange> {
        self.changes.subscribe()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn append(&self, change: &RowChange) {
        {
            let mut st = self.state();
            st.seq += 1;
            let seq = st.seq;
            st.stream.push_back((seq, change.clone()));
            while st.stream.len() > STREAM_CAP {
                st.stream.pop_front();
            }
        }
        self.appended.notify_waiters();
        // No subscriber is fine: on one device the replica is already up to date.
        if self.changes.send(change.clone()).is_err() {
            tracing::trace!(tag = %change.tag, "cambio publicado sin suscriptores");
        }
    }

    fn read_now(&self, after: &StreamCursor, max: usize) -> ChangeRead {
        let st = self.state();
        if st.epoch.as_deref().unwrap_or("") != after.epoch {
            return ChangeRead::Reload;
        }
        let first = st.stream.front().map_or(st.seq + 1, |(s, _)| *s);
        if after.seq + 1 < first || after.seq > st.seq {
            return ChangeRead::Reload;
        }
        let changes: Vec<(u64, RowChange)> = st
            .stream
            .iter()
            .filter(|(s, _)| *s > after.seq)
            .take(max)
            .cloned()
            .collect();
        let mut cursor = after.clone();
        if let Some((s, _)) = changes.last() {
            cursor.seq = *s;
            cursor.id = stream_id(*s);
        }
        ChangeRead::Changes {
            cursor,
            changes: changes.into_iter().map(|(_, c)| c).collect(),
        }
    }
}

#[async_trait]
impl Coordinator for InProcessCoordinator {
    async fn workers(&self) -> Result<Option<(String, String)>, CoordError> {
        Ok(self.state().workers.clone())
    }

    async fn workers_hash(&self) -> Result<Option<String>, CoordError> {
        Ok(self.state().workers.as_ref().map(|(h, _)| h.clone()))
    }

    async fn put_workers(&self, hash: &str, json: &str) -> Result<(), CoordError> {
        self.state().workers = Some((hash.to_string(), json.to_string()));
        Ok(())
    }

    fn describe(&self) -> String {
        DESCRIPTION.into()
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
        self.state()
            .live
            .insert(change.tag.clone(), LiveRow::new(&change.row));
        self.append(change);
        Ok(())
    }

    async fn take_quota(&self, kind: QuotaKind) -> Result<QuotaGrant, CoordError> {
        self.take_quotas(kind, 1).await
    }

    async fn take_quotas(&self, kind: QuotaKind, n: u32) -> Result<QuotaGrant, CoordError> {
        let Some((reads, writes)) = self.quota else {
            return Ok(QuotaGrant::Granted);
        };
        let (limit, i) = match kind {
            QuotaKind::Read => (reads, 0),
            QuotaKind::Write => (writes, 1),
        };
        let cap = f64::from(limit.burst.max(1));
        let rate = limit.refill_per_ms();
        let n = f64::from(n.clamp(1, limit.burst.max(1)));
        let now = Instant::now();
        let mut st = self.state();
        let (tokens, at) = &mut st.buckets[i];
        let elapsed = at.map_or(f64::INFINITY, |t| now.duration_since(t).as_millis() as f64);
        *tokens = (*tokens + elapsed * rate).min(cap);
        *at = Some(now);
        if *tokens >= n {
            *tokens -= n;
            Ok(QuotaGrant::Granted)
        } else {
            let wait = ((n - *tokens) / rate).ceil().max(1.0) as u64;
            Ok(QuotaGrant::Wait(Duration::from_millis(wait)))
        }
    }

    async fn renew_row_lock(
        &self,
        tag: &str,
        owner: &str,
        ttl: Duration,
    ) -> Result<bool, CoordError> {
        let mut st = self.state();
        let now = Instant::now();
        match st.row_locks.get_mut(tag) {
            Some((o, exp)) if o == owner && *exp > now => {
                *exp = now + ttl;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn occupation_holders(
        &self,
        tags: &[String],
    ) -> Result<Vec<Option<LockHolder>>, CoordError> {
        let st = self.state();
        Ok(tags.iter().map(|t| st.locks.get(t).cloned()).collect())
    }

    async fn live_rows(&self, tags: &[String]) -> Result<Vec<Option<LiveRow>>, CoordError> {
        let st = self.state();
        Ok(tags.iter().map(|t| st.live.get(t).cloned()).collect())
    }

    async fn live_snapshot(&self) -> Result<Vec<Spool>, CoordError> {
        let st = self.state();
        let mut rows: Vec<Spool> = st.live.values().map(|l| l.row.clone()).collect();
        rows.sort_by(|a, b| a.tag.cmp(&b.tag));
        Ok(rows)
    }

    async fn warm_live(&self, rows: &[Spool]) -> Result<usize, CoordError> {
        let mut st = self.state();
        let mut added = 0;
        for r in rows {
            if !st.live.contains_key(&r.tag) {
                st.live.insert(r.tag.clone(), LiveRow::new(r));
                added += 1;
            }
        }
        Ok(added)
    }

    async fn publish_if(
        &self,
        change: &RowChange,
        expected: Option<&str>,
    ) -> Result<bool, CoordError> {
        {
            let mut st = self.state();
            let current = st.live.get(&change.tag).map(|l| l.hash.as_str());
            if current != expected {
                return Ok(false);
            }
            st.live
                .insert(change.tag.clone(), LiveRow::new(&change.row));
        }
        self.append(change);
        Ok(true)
    }

    async fn epoch(&self) -> Result<Option<String>, CoordError> {
        Ok(self.state().epoch.clone())
    }

    async fn set_epoch(&self, epoch: &str) -> Result<(), CoordError> {
        self.state().epoch = Some(epoch.to_string());
        Ok(())
    }

    async fn stream_head(&self) -> Result<StreamCursor, CoordError> {
        let st = self.state();
        Ok(StreamCursor {
            epoch: st.epoch.clone().unwrap_or_default(),
            id: stream_id(st.seq),
            seq: st.seq,
        })
    }

    async fn read_changes(
        &self,
        after: &StreamCursor,
        max: usize,
        block: Duration,
    ) -> Result<ChangeRead, CoordError> {
        let deadline = tokio::time::Instant::now() + block;
        loop {
            let appended = self.appended.notified();
            match self.read_now(after, max) {
                ChangeRead::Changes { changes, .. } if changes.is_empty() => {}
                other => return Ok(other),
            }
            if tokio::time::timeout_at(deadline, appended).await.is_err() {
                return Ok(self.read_now(after, max));
            }
        }
    }

    async fn lease(&self, device_id: &str, ttl: Duration) -> Result<bool, CoordError> {
        let mut st = self.state();
        let now = Instant::now();
        match &st.lease {
            Some((holder, exp)) if holder != device_id && *exp > now => Ok(false),
            _ => {
                st.lease = Some((device_id.to_string(), now + ttl));
                Ok(true)
            }
        }
    }

    async fn resign(&self, device_id: &str) -> Result<(), CoordError> {
        let mut st = self.state();
        if st.lease.as_ref().is_some_and(|(h, _)| h == device_id) {
            st.lease = None;
        }
        Ok(())
    }

    async fn leader(&self) -> Result<Option<String>, CoordError> {
        let st = self.state();
        Ok(st
            .lease
            .as_ref()
            .filter(|(_, exp)| *exp > Instant::now())
            .map(|(h, _)| h.clone()))
    }

    async fn heartbeat(&self, presence: &Presence, ttl: Duration) -> Result<(), CoordError> {
        self.state().presence.insert(
            presence.device_id.clone(),
            (presence.clone(), Instant::now() + ttl),
        );
        Ok(())
    }

    async fn presence(&self) -> Result<Vec<Presence>, CoordError> {
        let mut st = self.state();
        let now = Instant::now();
        st.presence.retain(|_, (_, exp)| *exp > now);
        let mut out: Vec<Presence> = st.presence.values().map(|(p, _)| p.clone()).collect();
        out.sort_by(|a, b| a.device_id.cmp(&b.device_id));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn change(tag: &str, n: u32) -> RowChange {
        RowChange {
            tag: tag.into(),
            row: Spool {
                tag: tag.into(),
                row: n,
                ..Spool::default()
            },
            command_id: format!("c{n}"),
            device_id: "d".into(),
        }
    }

    #[tokio::test]
    async fn stream_follows_from_the_head_and_reloads_on_a_new_epoch() {
        let c = InProcessCoordinator::new();
        c.set_epoch("e1").await.unwrap();
        let head = c.stream_head().await.unwrap();
        c.publish(&change("A", 1)).await.unwrap();
        c.publish(&change("B", 2)).await.unwrap();
        let ChangeRead::Changes { cursor, changes } = c
            .read_changes(&head, 10, Duration::from_millis(10))
            .await
            .unwrap()
        else {
            panic!("expected changes")
        };
        assert_eq!(changes.len(), 2);
        assert_eq!(cursor.seq, 2);
        assert_eq!(c.live_snapshot().await.unwrap().len(), 2);
        c.set_epoch("e2").await.unwrap();
        assert_eq!(
            c.read_changes(&cursor, 10, Duration::from_millis(10))
                .await
                .unwrap(),
            ChangeRead::Reload
        );
    }

    #[tokio::test]
    async fn publish_if_is_a_compare_and_set_on_the_cached_row() {
        let c = InProcessCoordinator::new();
        assert!(c.publish_if(&change("A", 1), None).await.unwrap());
        assert!(!c.publish_if(&change("A", 2), None).await.unwrap());
        let h = c.live_rows(&["A".into()]).await.unwrap()[0]
            .clone()
            .unwrap()
            .hash;
        assert!(c.publish_if(&change("A", 2), Some(&h)).await.unwrap());
    }

    #[tokio::test]
    async fn lease_has_one_holder_until_it_lapses() {
        let c = InProcessCoordinator::new();
        assert!(c.lease("a", Duration::from_millis(30)).await.unwrap());
        assert!(!c.lease("b", Duration::from_millis(30)).await.unwrap());
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert!(c.lease("b", Duration::from_millis(30)).await.unwrap());
        assert_eq!(c.leader().await.unwrap().as_deref(), Some("b"));
    }
}

#[cfg(test)]
mod quota_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ports::redis::RateLimit;

    /// A device without Redis keeps Google's limit on its own: a burst, then the refill.
    #[tokio::test(start_paused = true)]
    async fn a_device_without_redis_keeps_its_own_budget() {
        let c =
            InProcessCoordinator::with_quota(RateLimit::per_minute(50), RateLimit::per_minute(50));
        for _ in 0..5 {
            assert_eq!(
                c.take_quota(QuotaKind::Write).await.unwrap(),
                QuotaGrant::Granted
            );
        }
        let QuotaGrant::Wait(d) = c.take_quota(QuotaKind::Write).await.unwrap() else {
            panic!("the burst is spent");
        };
        assert!(d <= Duration::from_millis(1_334), "{d:?}");
        // Reads have their own bucket.
        assert_eq!(
            c.take_quota(QuotaKind::Read).await.unwrap(),
            QuotaGrant::Granted
        );
        // In one minute, at most the limit.
        let mut granted = 5;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            match c.take_quota(QuotaKind::Write).await.unwrap() {
                QuotaGrant::Granted => granted += 1,
                QuotaGrant::Wait(d) => tokio::time::sleep(d).await,
            }
        }
        assert!(granted <= 51, "{granted} writes in a minute");
        assert!(granted >= 45, "{granted} writes in a minute");
        // The embedded plant's coordinator has no budget.
        let free = InProcessCoordinator::new();
        for _ in 0..100 {
            assert_eq!(
                free.take_quota(QuotaKind::Write).await.unwrap(),
                QuotaGrant::Granted
            );
        }
    }
}
