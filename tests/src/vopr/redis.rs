//! The simulated Redis: one shared instance every device talks to through its own handle, with
//! the contracts of the real coordinator (`zeues_sync::ports::redis`), which the engine relies
//! on and the product's `InProcessCoordinator` does not need to keep:
//!
//! - `announce` appends to the change stream only; the live cache mirrors the sheet.
//! - After Redis starts empty, no row mutex is granted for `row_settle` (`ROWS_WRITABLE`).
//! - The fleet's Sheets quota is a token bucket with one reservation (`TAKE_TOKEN`, ported
//!   line by line: starts empty, serves a waiting multi-token take first, the leader first of
//!   all); its time is the server's (here tokio's paused clock).
//! - Stream entries are numbered 1, 2, 3… (`APPEND`); ids grow with server time, so a reader's
//!   old cursor after a restart sees a gap and reloads.
//! - A restart wipes everything (locks, mutexes, applied ids, cache, stream, epoch, lease,
//!   quota, presence) and drops every connection: a call in flight fails.
//!
//! Per-device handles add partitions: every call of a cut device fails as `Unavailable`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;
use zeues_sync::domain::Spool;
use zeues_sync::ports::{
    Acquire, ChangeRead, CoordError, Coordinator, LiveRow, LockHolder, Presence, QuotaGrant,
    QuotaKind, QuotaLevels, QuotaTaker, RowChange, StreamCursor,
};

use super::world::Sim;

/// Stream length kept (`stream_maxlen`).
const STREAM_MAXLEN: usize = 10_000;

/// The fleet's Sheets budget (the product's default: 50 per minute, burst 5).
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub limit: u32,
    pub window_ms: u64,
    pub burst: u32,
}

impl Limit {
    pub const DEFAULT: Limit = Limit {
        limit: 50,
        window_ms: 60_000,
        burst: 5,
    };

    fn refill_per_ms(&self) -> f64 {
        f64::from(self.limit.saturating_sub(self.burst).max(1)) / self.window_ms.max(1) as f64
    }
}

#[derive(Debug, Clone, Default)]
struct Bucket {
    tokens: f64,
    ts: u64,
    rwho: Option<String>,
    rn: u32,
    runtil: u64,
    rprio: u8,
    /// `PEXPIRE window * 2`: an idle bucket disappears and starts empty again.
    expires: u64,
}

struct Entry {
    id: (u64, u64),
    n: u64,
    change: RowChange,
}

/// What one Redis keeps. Every method is one command or script: atomic.
pub struct RedisModel {
    origin: Instant,
    base_ms: u64,
    row_settle_ms: u64,
    limit: Limit,
    locks: BTreeMap<String, LockHolder>,
    row_locks: BTreeMap<String, (String, u64)>,
    rows_writable_at: Option<u64>,
    applied: BTreeSet<String>,
    live: BTreeMap<String, LiveRow>,
    stream: VecDeque<Entry>,
    seq: u64,
    last_id: (u64, u64),
    epoch: Option<String>,
    lease: Option<(String, u64)>,
    presence: BTreeMap<String, (Presence, u64)>,
    buckets: [Option<Bucket>; 2],
    /// The plant's workers as the leader last published them: (hash, JSON).
    workers: Option<(String, String)>,
}

fn kind_index(k: QuotaKind) -> usize {
    match k {
        QuotaKind::Read => 0,
        QuotaKind::Write => 1,
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn parse_id(id: &str) -> (u64, u64) {
    let (a, b) = id.split_once('-').unwrap_or((id, "0"));
    (a.parse().unwrap_or(0), b.parse().unwrap_or(0))
}

impl RedisModel {
    /// An empty Redis. `started_long_ago`: it has been up since before the shift, so its settle
    /// period is long over (a restart during the run starts one).
    pub fn new(
        origin: Instant,
        base_ms: u64,
        row_settle: Duration,
        started_long_ago: bool,
    ) -> RedisModel {
        RedisModel {
            origin,
            base_ms,
            row_settle_ms: ms(row_settle),
            limit: Limit::DEFAULT,
            locks: BTreeMap::new(),
            row_locks: BTreeMap::new(),
            rows_writable_at: started_long_ago.then_some(0),
            applied: BTreeSet::new(),
            live: BTreeMap::new(),
            stream: VecDeque::new(),
            seq: 0,
            last_id: (0, 0),
            epoch: None,
            lease: None,
            presence: BTreeMap::new(),
            buckets: [None, None],
            workers: None,
        }
    }

    /// The server's clock (`TIME`), in ms.
    fn now(&self) -> u64 {
        self.base_ms
            + Instant::now()
                .saturating_duration_since(self.origin)
                .as_millis() as u64
    }

    fn row_lock_owner(&self, tag: &str, now: u64) -> Option<&str> {
        self.row_locks
            .get(tag)
            .filter(|(_, until)| *until > now)
            .map(|(o, _)| o.as_str())
    }

    pub fn holders(&self) -> &BTreeMap<String, LockHolder> {
        &self.locks
    }

    fn acquire(&mut self, tag: &str, holder: &LockHolder) -> Acquire {
        match self.locks.get(tag) {
            Some(h) => Acquire::HeldBy(h.clone()),
            None => {
                self.locks.insert(tag.to_string(), holder.clone());
                Acquire::Acquired
            }
        }
    }

    fn release(&mut self, tag: &str, holder: &LockHolder) -> bool {
        if self.locks.get(tag) == Some(holder) {
            self.locks.remove(tag);
            true
        } else {
            false
        }
    }

    /// `LOCK_ROW` then `ROWS_WRITABLE` (see `RedisCoordinator::lock_row`).
    fn lock_row(&mut self, tag: &str, owner: &str, ttl: Duration) -> bool {
        let now = self.now();
        match self.row_lock_owner(tag, now) {
            Some(o) if o == owner => {}
            Some(_) => return false,
            None => {}
        }
        self.row_locks
            .insert(tag.to_string(), (owner.to_string(), now + ms(ttl)));
        let at = *self
            .rows_writable_at
            .get_or_insert(now + self.row_settle_ms);
        if now < at {
            self.unlock_row(tag, owner);
            return false;
        }
        true
    }

    fn unlock_row(&mut self, tag: &str, owner: &str) {
        let now = self.now();
        if self.row_lock_owner(tag, now) == Some(owner) {
            self.row_locks.remove(tag);
        }
    }

    fn renew_row_lock(&mut self, tag: &str, owner: &str, ttl: Duration) -> bool {
        let now = self.now();
        if self.row_lock_owner(tag, now) == Some(owner) {
            self.row_locks
                .insert(tag.to_string(), (owner.to_string(), now + ms(ttl)));
            true
        } else {
            false
        }
    }

    /// `APPEND`: the entry numbered after the last, id from the server clock.
    fn append(&mut self, change: &RowChange) {
        self.seq += 1;
        let now = self.now();
        self.last_id = if now > self.last_id.0 {
            (now, 0)
        } else {
            (self.last_id.0, self.last_id.1 + 1)
        };
        self.stream.push_back(Entry {
            id: self.last_id,
            n: self.seq,
            change: change.clone(),
        });
        while self.stream.len() > STREAM_MAXLEN {
            self.stream.pop_front();
        }
    }

    fn head(&self) -> StreamCursor {
        let id = self
            .stream
            .back()
            .map_or_else(|| "0-0".to_string(), |e| format!("{}-{}", e.id.0, e.id.1));
        StreamCursor {
            epoch: self.epoch.clone().unwrap_or_default(),
            id,
            seq: self.seq,
        }
    }

    fn entries_after(&self, after: (u64, u64), max: usize) -> Vec<(String, u64, RowChange)> {
        self.stream
            .iter()
            .filter(|e| e.id > after)
            .take(max.max(1))
            .map(|e| (format!("{}-{}", e.id.0, e.id.1), e.n, e.change.clone()))
            .collect()
    }

    fn lease(&mut self, device: &str, ttl: Duration) -> bool {
        let now = self.now();
        match &self.lease {
            Some((holder, until)) if holder != device && *until > now => false,
            _ => {
                self.lease = Some((device.to_string(), now + ms(ttl)));
                true
            }
        }
    }

    fn leader(&self) -> Option<String> {
        let now = self.now();
        self.lease
            .as_ref()
            .filter(|(_, until)| *until > now)
            .map(|(h, _)| h.clone())
    }

    /// `TAKE_TOKEN`, ported from the Lua script (same arithmetic, same reservation rules).
    fn take_token(&mut self, kind: QuotaKind, n: u32, who: &str, prio: bool) -> u64 {
        let now = self.now();
        let limit = self.limit;
        let cap = f64::from(limit.burst.max(1));
        let rate = limit.refill_per_ms();
        let n = n.clamp(1, limit.burst.max(1));
        let prio = u8::from(prio);
        let slot = &mut self.buckets[kind_index(kind)];
        if slot.as_ref().is_some_and(|b| now >= b.expires) {
            *slot = None;
        }
        let b = slot.get_or_insert_with(|| Bucket {
            ts: now,
            ..Bucket::default()
        });
        let mut tokens = b.tokens;
        let mut ts = b.ts;
        if now > ts {
            tokens = cap.min(tokens + (now - ts) as f64 * rate);
            ts = now;
        }
        let mut rwho = b.rwho.clone();
        if rwho.is_some() && now > b.runtil {
            rwho = None;
        }
        let (mut rn, mut runtil, mut rprio) = (b.rn, b.runtil, b.rprio);
        let held = match &rwho {
            Some(r) if r != who => f64::from(rn),
            _ => 0.0,
        };
        let nf = f64::from(n);
        let mut wait: u64 = 0;
        if tokens - held >= nf {
            tokens -= nf;
            if rwho.as_deref() == Some(who) {
                rwho = None;
            }
        } else {
            wait = ((nf + held - tokens) / rate).ceil().max(1.0) as u64;
            // Only a take of several tokens, or a priority one, reserves: a single take that
            // waits is served in turn with the others.
            if (n > 1 || prio > 0)
                && (rwho.is_none() || rwho.as_deref() == Some(who) || prio > rprio)
            {
                if rwho.as_deref() != Some(who) {
                    wait = ((nf - tokens) / rate).ceil().max(1.0) as u64;
                }
                rwho = Some(who.to_string());
                rn = n;
                rprio = prio;
                runtil = now + wait + wait.max(2_000);
            }
        }
        b.tokens = tokens;
        b.ts = ts;
        match rwho {
            Some(r) => {
                b.rwho = Some(r);
                b.rn = rn;
                b.runtil = runtil;
                b.rprio = rprio;
            }
            None => {
                b.rwho = None;
                b.rn = 0;
                b.runtil = 0;
                b.rprio = 0;
            }
        }
        b.expires = now + limit.window_ms * 2;
        wait
    }

    fn level(&self, kind: QuotaKind) -> Option<f64> {
        let now = self.now();
        let b = self.buckets[kind_index(kind)]
            .as_ref()
            .filter(|b| now < b.expires)?;
        let cap = f64::from(self.limit.burst.max(1));
        Some(cap.min(b.tokens + now.saturating_sub(b.ts) as f64 * self.limit.refill_per_ms()))
    }
}

/// One Redis server's life: its data and the wake-up of blocked stream readers.
pub struct RedisInstance {
    model: Mutex<RedisModel>,
    appended: Notify,
}

impl RedisInstance {
    pub fn new(model: RedisModel) -> RedisInstance {
        RedisInstance {
            model: Mutex::new(model),
            appended: Notify::new(),
        }
    }

    pub fn model(&self) -> MutexGuard<'_, RedisModel> {
        self.model.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A restart cuts every connection: blocked readers wake up (and fail).
    pub fn shut_down(&self) {
        self.appended.notify_waiters();
    }
}

/// The Redis as one device sees it.
pub struct SimCoordinator {
    sim: Arc<Sim>,
    device: usize,
    /// The connection's name in the bucket's reservation (one per device process).
    instance: String,
}

impl SimCoordinator {
    pub fn new(sim: Arc<Sim>, device: usize, instance: String) -> SimCoordinator {
        SimCoordinator {
            sim,
            device,
            instance,
        }
    }

    fn begin(&self) -> Result<(Arc<RedisInstance>, u64), CoordError> {
        if self.sim.redis_cut(self.device) {
            return Err(CoordError::Unavailable(
                "sin conexión con Redis (partición)".into(),
            ));
        }
        Ok(self.sim.redis())
    }

    /// The answer reaches the device only if its connection survived the call.
    fn finish<T>(&self, generation: u64, r: T) -> Result<T, CoordError> {
        if self.sim.redis_cut(self.device) || self.sim.redis().1 != generation {
            return Err(CoordError::Unavailable("conexión con Redis cortada".into()));
        }
        Ok(r)
    }

    /// Runs one command atomically on the current server.
    fn cmd<T>(&self, f: impl FnOnce(&mut RedisModel) -> T) -> Result<T, CoordError> {
        let (redis, generation) = self.begin()?;
        let r = f(&mut redis.model());
        self.finish(generation, r)
    }

    fn note(&self, what: std::fmt::Arguments<'_>) {
        self.sim
            .detail(format_args!("redis d{} {what}", self.device));
    }
}

#[async_trait]
impl Coordinator for SimCoordinator {
    fn describe(&self) -> String {
        "Redis simulado (plant-vopr)".into()
    }

    async fn acquire_occupation(
        &self,
        tag: &str,
        holder: &LockHolder,
    ) -> Result<Acquire, CoordError> {
        let r = self.cmd(|m| m.acquire(tag, holder));
        self.note(format_args!("lock {tag} {} -> {r:?}", holder.encode()));
        r
    }

    async fn occupation_holder(&self, tag: &str) -> Result<Option<LockHolder>, CoordError> {
        self.cmd(|m| m.locks.get(tag).cloned())
    }

    async fn release_occupation(&self, tag: &str, holder: &LockHolder) -> Result<bool, CoordError> {
        let r = self.cmd(|m| m.release(tag, holder));
        self.note(format_args!("release {tag} {} -> {r:?}", holder.encode()));
        r
    }

    async fn force_release(&self, tag: &str) -> Result<(), CoordError> {
        let r = self.cmd(|m| {
            m.locks.remove(tag);
        });
        self.note(format_args!("force_release {tag} -> {r:?}"));
        r
    }

    async fn lock_row(&self, tag: &str, owner: &str, ttl: Duration) -> Result<bool, CoordError> {
        let r = self.cmd(|m| m.lock_row(tag, owner, ttl));
        self.note(format_args!("lock_row {tag} {owner} -> {r:?}"));
        r
    }

    async fn unlock_row(&self, tag: &str, owner: &str) -> Result<(), CoordError> {
        self.cmd(|m| m.unlock_row(tag, owner))
    }

    async fn was_applied(&self, command_id: &str) -> Result<bool, CoordError> {
        self.cmd(|m| m.applied.contains(command_id))
    }

    async fn record_applied(&self, command_id: &str) -> Result<(), CoordError> {
        self.cmd(|m| {
            m.applied.insert(command_id.to_string());
        })
    }

    async fn publish(&self, change: &RowChange) -> Result<(), CoordError> {
        let (redis, generation) = self.begin()?;
        {
            let mut m = redis.model();
            m.append(change);
            m.live.insert(change.tag.clone(), LiveRow::new(&change.row));
        }
        redis.appended.notify_waiters();
        self.note(format_args!(
            "publish {} v={} by {}",
            change.tag, change.row.version, change.device_id
        ));
        self.finish(generation, ())
    }

    async fn announce(&self, change: &RowChange) -> Result<(), CoordError> {
        let (redis, generation) = self.begin()?;
        redis.model().append(change);
        redis.appended.notify_waiters();
        self.note(format_args!(
            "announce {} by {}",
            change.tag, change.device_id
        ));
        self.finish(generation, ())
    }

    async fn take_quota(&self, kind: QuotaKind) -> Result<QuotaGrant, CoordError> {
        self.take_quotas(kind, 1).await
    }

    async fn take_quotas(&self, kind: QuotaKind, n: u32) -> Result<QuotaGrant, CoordError> {
        self.take_quota_as(kind, n, QuotaTaker::new("general"))
            .await
    }

    async fn take_quota_as(
        &self,
        kind: QuotaKind,
        n: u32,
        taker: QuotaTaker,
    ) -> Result<QuotaGrant, CoordError> {
        let who = format!("{}:{}", self.instance, taker.name);
        let wait = self.cmd(|m| m.take_token(kind, n, &who, taker.priority))?;
        self.note(format_args!("quota {kind:?} {n} {} -> {wait}", taker.name));
        Ok(if wait == 0 {
            QuotaGrant::Granted
        } else {
            QuotaGrant::Wait(Duration::from_millis(wait))
        })
    }

    async fn probe(&self) -> Result<(), CoordError> {
        self.cmd(|_| ())
    }

    async fn quota_levels(&self) -> Result<Option<QuotaLevels>, CoordError> {
        self.cmd(|m| {
            let l = m.limit;
            let per_minute = |l: Limit| {
                u32::try_from((u64::from(l.limit) * 60_000).div_ceil(l.window_ms.max(1)))
                    .unwrap_or(u32::MAX)
            };
            Some(QuotaLevels {
                reads: m.level(QuotaKind::Read),
                writes: m.level(QuotaKind::Write),
                read_capacity: l.burst,
                write_capacity: l.burst,
                reads_per_minute: per_minute(l),
                writes_per_minute: per_minute(l),
            })
        })
    }

    async fn renew_row_lock(
        &self,
        tag: &str,
        owner: &str,
        ttl: Duration,
    ) -> Result<bool, CoordError> {
        self.cmd(|m| m.renew_row_lock(tag, owner, ttl))
    }

    async fn occupation_holders(
        &self,
        tags: &[String],
    ) -> Result<Vec<Option<LockHolder>>, CoordError> {
        self.cmd(|m| tags.iter().map(|t| m.locks.get(t).cloned()).collect())
    }

    async fn live_rows(&self, tags: &[String]) -> Result<Vec<Option<LiveRow>>, CoordError> {
        self.cmd(|m| tags.iter().map(|t| m.live.get(t).cloned()).collect())
    }

    async fn live_snapshot(&self) -> Result<Vec<Spool>, CoordError> {
        self.cmd(|m| m.live.values().map(|l| l.row.clone()).collect())
    }

    async fn warm_live(&self, rows: &[Spool]) -> Result<usize, CoordError> {
        let r = self.cmd(|m| {
            let mut added = 0;
            for r in rows {
                if !m.live.contains_key(&r.tag) {
                    m.live.insert(r.tag.clone(), LiveRow::new(r));
                    added += 1;
                }
            }
            added
        });
        self.note(format_args!("warm_live {} -> {r:?}", rows.len()));
        r
    }

    async fn publish_if(
        &self,
        change: &RowChange,
        expected: Option<&str>,
    ) -> Result<bool, CoordError> {
        let (redis, generation) = self.begin()?;
        let set = {
            let mut m = redis.model();
            let current = m.live.get(&change.tag).map(|l| l.hash.as_str());
            if current == expected {
                m.live.insert(change.tag.clone(), LiveRow::new(&change.row));
                m.append(change);
                true
            } else {
                false
            }
        };
        if set {
            redis.appended.notify_waiters();
        }
        self.note(format_args!(
            "publish_if {} v={} -> {set}",
            change.tag, change.row.version
        ));
        self.finish(generation, set)
    }

    async fn workers(&self) -> Result<Option<(String, String)>, CoordError> {
        self.cmd(|m| m.workers.clone())
    }

    async fn workers_hash(&self) -> Result<Option<String>, CoordError> {
        self.cmd(|m| m.workers.as_ref().map(|(h, _)| h.clone()))
    }

    async fn put_workers(&self, hash: &str, json: &str) -> Result<(), CoordError> {
        let r = self.cmd(|m| m.workers = Some((hash.to_string(), json.to_string())));
        self.note(format_args!("put_workers {hash} -> {r:?}"));
        r
    }

    async fn epoch(&self) -> Result<Option<String>, CoordError> {
        self.cmd(|m| m.epoch.clone())
    }

    async fn set_epoch(&self, epoch: &str) -> Result<(), CoordError> {
        let r = self.cmd(|m| m.epoch = Some(epoch.to_string()));
        self.note(format_args!("set_epoch {epoch} -> {r:?}"));
        r
    }

    async fn stream_head(&self) -> Result<StreamCursor, CoordError> {
        self.cmd(|m| m.head())
    }

    async fn read_changes(
        &self,
        after: &StreamCursor,
        max: usize,
        block: Duration,
    ) -> Result<ChangeRead, CoordError> {
        let (redis, generation) = self.begin()?;
        let epoch = redis.model().epoch.clone().unwrap_or_default();
        if epoch != after.epoch {
            return self.finish(generation, ChangeRead::Reload);
        }
        // XREAD BLOCK on its own connection.
        let from = parse_id(&after.id);
        let deadline = Instant::now() + block;
        let entries = loop {
            let appended = redis.appended.notified();
            let got = redis.model().entries_after(from, max);
            if !got.is_empty() {
                break got;
            }
            if tokio::time::timeout_at(deadline, appended).await.is_err() {
                break Vec::new();
            }
            if self.sim.redis().1 != generation {
                return Err(CoordError::Unavailable("Redis se reinició".into()));
            }
        };
        // decode_entries: the numbers must continue the cursor's, or it was trimmed past.
        let mut cursor = after.clone();
        let mut changes = Vec::new();
        for (id, n, change) in entries {
            if n != cursor.seq + 1 {
                return self.finish(generation, ChangeRead::Reload);
            }
            cursor.seq = n;
            cursor.id = id;
            changes.push(change);
        }
        if changes.is_empty() {
            let head = redis.model().head();
            if head.seq < after.seq || head.epoch != after.epoch {
                self.note(format_args!("read_changes {} -> reload", after.seq));
                return self.finish(generation, ChangeRead::Reload);
            }
        } else {
            let tags: Vec<&str> = changes.iter().map(|c| c.tag.as_str()).collect();
            self.note(format_args!("read_changes {} -> {tags:?}", after.seq));
        }
        self.finish(generation, ChangeRead::Changes { cursor, changes })
    }

    async fn lease(&self, device_id: &str, ttl: Duration) -> Result<bool, CoordError> {
        let r = self.cmd(|m| m.lease(device_id, ttl));
        self.note(format_args!("lease {device_id} -> {r:?}"));
        r
    }

    async fn resign(&self, device_id: &str) -> Result<(), CoordError> {
        self.cmd(|m| {
            if m.lease.as_ref().is_some_and(|(h, _)| h == device_id) {
                m.lease = None;
            }
        })
    }

    async fn leader(&self) -> Result<Option<String>, CoordError> {
        self.cmd(|m| m.leader())
    }

    async fn heartbeat(&self, presence: &Presence, ttl: Duration) -> Result<(), CoordError> {
        self.cmd(|m| {
            let now = m.now();
            m.presence.retain(|_, (_, until)| *until > now);
            m.presence.insert(
                presence.device_id.clone(),
                (presence.clone(), now + ms(ttl)),
            );
        })
    }

    async fn presence(&self) -> Result<Vec<Presence>, CoordError> {
        self.cmd(|m| {
            let now = m.now();
            m.presence
                .values()
                .filter(|(_, until)| *until > now)
                .map(|(p, _)| p.clone())
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_bucket_starts_empty_and_keeps_a_reservation_for_a_multi_token_take() {
        let mut m = RedisModel::new(Instant::now(), 0, Duration::from_secs(12), false);
        // Empty at first: one token is 1/refill ms away.
        let w = m.take_token(QuotaKind::Read, 1, "a", false);
        assert!(w > 0);
        tokio::time::advance(Duration::from_secs(60)).await;
        // Full burst (5) now; a take of 5 by b succeeds at once.
        assert_eq!(m.take_token(QuotaKind::Read, 5, "b", false), 0);
        // c asks 3 and must wait: it reserves; d's single take cannot use the reserved tokens.
        let wc = m.take_token(QuotaKind::Read, 3, "c", false);
        assert!(wc > 0);
        tokio::time::advance(Duration::from_millis(wc)).await;
        assert!(m.take_token(QuotaKind::Read, 1, "d", false) > 0);
        assert_eq!(m.take_token(QuotaKind::Read, 3, "c", false), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn no_row_mutex_right_after_an_empty_start() {
        let mut m = RedisModel::new(Instant::now(), 0, Duration::from_secs(12), false);
        assert!(!m.lock_row("T", "c1", Duration::from_secs(30)));
        tokio::time::advance(Duration::from_secs(13)).await;
        assert!(m.lock_row("T", "c1", Duration::from_secs(30)));
        assert!(!m.lock_row("T", "c2", Duration::from_secs(30)));
    }
}
