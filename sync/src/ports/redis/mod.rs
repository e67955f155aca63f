//! The plant's `Coordinator`: Redis (single server, Sentinel or Cluster) through the `redis`
//! crate with tokio. What it keeps — occupation locks, row mutexes, applied command ids, the
//! live row cache and its change stream, the shared Sheets quota bucket, the leader lease and
//! presence — can all be rebuilt from the sheet: losing Redis loses no data (the leader re-warms
//! it, see `engine::leader`).
//!
//! Keys (prefix `zeues` by default; `{…}` is the Cluster hash tag):
//!
//! | key | value | lifetime |
//! |---|---|---|
//! | `zeues:spool_lock:{TAG}` | `{worker_id}:{command_id}` of the occupation | none: ends by PAUSAR/COMPLETAR/CANCELAR or force-release |
//! | `zeues:row_lock:{TAG}` | fencing value of the writer (its command id) | PX, renewable |
//! | `zeues:row:{TAG}` | live row JSON (`LiveRow`: the row + its hash) | none |
//! | `zeues:rows` | set of cached TAGs | none |
//! | `zeues:applied:<command id>` | `1` | `applied_retention` (14 days) |
//! | `zeues:{changes}:stream` / `:seq` / `:epoch` | change stream (`c` = JSON, `n` = 1, 2, 3…), its counter, the data generation | stream trimmed to ≈`stream_maxlen` |
//! | `zeues:quota:{account}:read`/`:write` | token bucket `{tokens, ts}` | 2 windows idle |
//! | `zeues:leader` | device id holding the lease | PX lease |
//! | `zeues:{presence}:index` / `:data` | device → expiry; device → JSON | heartbeat ttl |
//!
//! It never decides a rule: it answers who holds what. The sheet's `version` stays the fence.

mod config;
mod conn;
mod keys;
mod scripts;

pub use config::{redact, ConfigError, QuotaConfig, RateLimit, RedisConfig, Topology};

use std::time::Duration;

use async_trait::async_trait;
use redis::streams::StreamReadReply;
use redis::{AsyncCommands, FromRedisValue, RedisResult, Value};

use self::conn::{coord_err, Conn, Opener};
use self::keys::Keys;
use self::scripts::Scripts;
use super::{
    Acquire, ChangeRead, CoordError, Coordinator, LiveRow, LockHolder, Presence, QuotaGrant,
    QuotaKind, QuotaTaker, RowChange, StreamCursor,
};
use crate::domain::Spool;

/// Most keys read concurrently in one go (bulk reads are split so one call never floods).
const BULK: usize = 1_000;

pub struct RedisCoordinator {
    conn: Conn,
    /// A second connection for `XREAD BLOCK`: a blocked command would stall every other
    /// command pipelined on the shared one. Opened on first use.
    blocking: tokio::sync::Mutex<Option<Conn>>,
    opener: Opener,
    keys: Keys,
    scripts: Scripts,
    cfg: RedisConfig,
    /// This connection's name in the quota bucket's reservation (one per device process).
    instance: String,
}

fn protocol(what: impl std::fmt::Display) -> CoordError {
    CoordError::Protocol(what.to_string())
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, CoordError> {
    serde_json::to_string(v).map_err(protocol)
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisCoordinator {
    /// Prepares the connections. A single server is connected lazily (a device starts, and
    /// keeps its outbox, while Redis is down); Cluster and Sentinel connect here.
    pub async fn connect(cfg: RedisConfig) -> Result<RedisCoordinator, CoordError> {
        let opener = Opener::new(&cfg)?;
        let conn = opener
            .open(Some(cfg.response_timeout))
            .await
            .map_err(coord_err)?;
        Ok(RedisCoordinator {
            conn,
            blocking: tokio::sync::Mutex::new(None),
            opener,
            keys: Keys::new(&cfg.prefix),
            scripts: Scripts::new(),
            cfg,
            instance: uuid::Uuid::new_v4().to_string(),
        })
    }

    pub fn config(&self) -> &RedisConfig {
        &self.cfg
    }

    fn conn(&self) -> Conn {
        self.conn.clone()
    }

    /// `PING`, for health probes.
    pub async fn ping(&self) -> Result<(), CoordError> {
        let pong: String = redis::cmd("PING")
            .query_async(&mut self.conn())
            .await
            .map_err(coord_err)?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(protocol(format!("PING respondió {pong}")))
        }
    }

    /// `INFO <section>` as text (benchmarks, diagnostics).
    pub async fn info(&self, section: &str) -> Result<String, CoordError> {
        redis::cmd("INFO")
            .arg(section)
            .query_async(&mut self.conn())
            .await
            .map_err(coord_err)
    }

    /// The server's clock (`TIME`), for `zeues doctor`'s skew check: every lease and quota
    /// window is measured on it, while audit timestamps come from the devices' clocks.
    pub async fn server_time(&self) -> Result<chrono::DateTime<chrono::Utc>, CoordError> {
        let (secs, micros): (i64, u32) = redis::cmd("TIME")
            .query_async(&mut self.conn())
            .await
            .map_err(coord_err)?;
        chrono::DateTime::from_timestamp(secs, micros.saturating_mul(1000))
            .ok_or_else(|| protocol(format!("TIME respondió {secs}.{micros}")))
    }

    /// Tokens in the shared Sheets quota bucket now, without taking one (`None`: no bucket,
    /// i.e. no device spent quota in the last two windows), and the bucket's capacity.
    pub async fn quota_level(&self, kind: QuotaKind) -> Result<(Option<f64>, u32), CoordError> {
        let limit = match kind {
            QuotaKind::Read => self.cfg.quota.reads,
            QuotaKind::Write => self.cfg.quota.writes,
        };
        let key = self.keys.quota(&self.cfg.quota.account, kind);
        let (tokens, ts): (Option<f64>, Option<f64>) = redis::cmd("HMGET")
            .arg(&key)
            .arg("tokens")
            .arg("ts")
            .query_async(&mut self.conn())
            .await
            .map_err(coord_err)?;
        let (Some(tokens), Some(ts)) = (tokens, ts) else {
            return Ok((None, limit.burst));
        };
        let now = self.server_time().await?.timestamp_millis() as f64;
        let level =
            (tokens + (now - ts).max(0.0) * limit.refill_per_ms()).min(f64::from(limit.burst));
        Ok((Some(level), limit.burst))
    }

    async fn blocking_conn(&self) -> Result<Conn, CoordError> {
        let mut slot = self.blocking.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let c = self.opener.open(None).await.map_err(coord_err)?;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Runs one command per key concurrently (the multiplexed connection pipelines them; in a
    /// Cluster each goes to its slot's node), `BULK` at a time.
    async fn get_many(&self, keys: Vec<String>) -> Result<Vec<Option<String>>, CoordError> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BULK) {
            let futs = chunk.iter().map(|k| {
                let mut c = self.conn();
                let k = k.clone();
                async move { c.get::<_, Option<String>>(k).await }
            });
            let got = futures_util::future::try_join_all(futs)
                .await
                .map_err(coord_err)?;
            out.extend(got);
        }
        Ok(out)
    }

    async fn put_live(&self, row: &LiveRow) -> Result<(), CoordError> {
        let mut c = self.conn();
        let _: () = c
            .set(self.keys.row(&row.row.tag), json(row)?)
            .await
            .map_err(coord_err)?;
        let _: i64 = c
            .sadd(self.keys.rows_index(), &row.row.tag)
            .await
            .map_err(coord_err)?;
        Ok(())
    }

    async fn append(&self, change: &RowChange) -> Result<(), CoordError> {
        let _: (String, u64) = self
            .scripts
            .append
            .key(self.keys.stream())
            .key(self.keys.stream_seq())
            .arg(self.cfg.stream_maxlen)
            .arg(json(change)?)
            .invoke_async(&mut self.conn())
            .await
            .map_err(coord_err)?;
        Ok(())
    }

    /// Deletes everything under the prefix (tests and `zeues doctor --reset-redis`): the
    /// leader rebuilds it from the sheet. Single server and Sentinel only.
    pub async fn flush_namespace(&self) -> Result<u64, CoordError> {
        if matches!(self.cfg.topology, Topology::Cluster { .. }) {
            return Err(protocol("flush_namespace no está disponible en Cluster"));
        }
        let mut c = self.conn();
        let pattern = format!("{}:*", self.cfg.prefix.trim_end_matches(':'));
        let mut cursor: u64 = 0;
        let mut deleted = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut c)
                .await
                .map_err(coord_err)?;
            if !keys.is_empty() {
                let n: u64 = c.del(keys).await.map_err(coord_err)?;
                deleted += n;
            }
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }
}

/// Parses `XREAD` entries, checking that their numbers continue `after` with no gap.
fn decode_entries(
    reply: Option<StreamReadReply>,
    after: &StreamCursor,
) -> Result<ChangeRead, CoordError> {
    let mut cursor = after.clone();
    let mut changes = Vec::new();
    let entries = reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids);
    for e in entries {
        let n: u64 = e
            .get("n")
            .ok_or_else(|| protocol(format!("entrada {} sin número", e.id)))?;
        if n != cursor.seq + 1 {
            tracing::info!(
                after = cursor.seq,
                got = n,
                "el stream de cambios se recortó; se recarga"
            );
            return Ok(ChangeRead::Reload);
        }
        let raw: String = e
            .get("c")
            .ok_or_else(|| protocol(format!("entrada {} sin cambio", e.id)))?;
        let change: RowChange = serde_json::from_str(&raw).map_err(protocol)?;
        changes.push(change);
        cursor.seq = n;
        cursor.id = e.id;
    }
    Ok(ChangeRead::Changes { cursor, changes })
}

#[async_trait]
impl Coordinator for RedisCoordinator {
    fn describe(&self) -> String {
        self.cfg.describe()
    }

    async fn acquire_occupation(
        &self,
        tag: &str,
        holder: &LockHolder,
    ) -> Result<Acquire, CoordError> {
        // SET NX GET (7.0+): one round trip, answers who holds it when taken. No TTL.
        let previous: Option<String> = redis::cmd("SET")
            .arg(self.keys.spool_lock(tag))
            .arg(holder.encode())
            .arg("NX")
            .arg("GET")
            .query_async(&mut self.conn())
            .await
            .map_err(coord_err)?;
        match previous {
            None => Ok(Acquire::Acquired),
            Some(v) => LockHolder::decode(&v)
                .map(Acquire::HeldBy)
                .ok_or_else(|| protocol(format!("lock de ocupación ilegible en {tag}: {v}"))),
        }
    }

    async fn occupation_holder(&self, tag: &str) -> Result<Option<LockHolder>, CoordError> {
        let v: Option<String> = self
            .conn()
            .get(self.keys.spool_lock(tag))
            .await
            .map_err(coord_err)?;
        v.map(|v| {
            LockHolder::decode(&v)
                .ok_or_else(|| protocol(format!("lock de ocupación ilegible en {tag}: {v}")))
        })
        .transpose()
    }

    async fn release_occupation(&self, tag: &str, holder: &LockHolder) -> Result<bool, CoordError> {
        let n: i64 = self
            .scripts
            .compare_and_delete
            .key(self.keys.spool_lock(tag))
            .arg(holder.encode())
            .invoke_async(&mut self.conn())
            .await
            .map_err(coord_err)?;
        Ok(n == 1)
    }

    async fn force_release(&self, tag: &str) -> Result<(), CoordError> {
        let _: i64 = self
            .conn()
            .del(self.keys.spool_lock(tag))
            .await
            .map_err(coord_err)?;
        Ok(())
    }

    async fn lock_row(&self, tag: &str, owner: &str, ttl: Duration) -> Result<bool, CoordError> {
        let n: i64 = self
            .scripts
            .lock_row
            .key(self.keys.row_lock(tag))
            .arg(owner)
            .arg(ms(ttl))
            .invoke_async(&mut self.conn())
            .await
            .map_err(coord_err)?;
        if n != 1 {
            return Ok(false);
        }
        if self.cfg.row_settle.is_zero() {
            return Ok(true);
        }
        // Checked after taking the mutex: a restart in between wipes the mutex and the marker
        // together, and this check then starts the settle period.
        let wait: i64 = self
            .scripts
            .rows_writable
            .key(self.keys.rows_writable_at())
            .arg(ms(self.cfg.row_settle))
            .invoke_async(&mut self.conn())
            .await
            .map_err(coord_err)?;
        if wait > 0 {
            tracing::info!(%tag, espera_ms = wait, "Redis recién iniciado: se espera antes de escribir filas");
            self.unlock_row(tag, owner).await?;
            return Ok(false);
        }
        Ok(true)
    }

    async fn unlock_row(&self, tag: &str, owner: &str) -> Result<(), CoordError> {
        let _: i64 = self
            .scripts
            .compare_and_delete
            .key(self.keys.row_lock(tag))
            .arg(owner)
            .invoke_async(&mut self.conn())
            .await
            .map_err(coord_err)?;
        Ok(())
    }

    async fn was_applied(&self, command_id: &str) -> Result<bool, CoordError> {
        self.conn()
            .exists(self.keys.applied(command_id))
            .await
            .map_err(coord_err)
    }

    async fn record_applied(&self, command_id: &str) -> Result<(), CoordError> {
        let secs = self.cfg.applied_retention.as_secs().max(1);
        let _: () = self
            .conn()
            .set_ex(self.keys.applied(command_id), 1, secs)
            .await
            .map_err(coord_err)?;
        Ok(())
    }

    async fn publish(&self, change: &RowChange) -> Result<(), CoordError> {
        // Stream first, then cache (two slots in a Cluster, so not one script). If either step
        // fails the cache still differs from the sheet, and the leader's import re-announces
        // the row; the other order could leave a cached row that no follower ever heard of.
        self.append(change).await?;
        self.put_live(&LiveRow::new(&change.row)).await
    }

    async fn probe(&self) -> Result<(), CoordError> {
        self.ping().await
    }

    async fn quota_levels(&self) -> Result<Option<crate::ports::QuotaLevels>, CoordError> {
        let (reads, read_capacity) = self.quota_level(QuotaKind::Read).await?;
        let (writes, write_capacity) = self.quota_level(QuotaKind::Write).await?;
        let per_minute = |l: RateLimit| {
            let secs = l.window.as_secs().max(1);
            u32::try_from((u64::from(l.limit) * 60).div_ceil(secs)).unwrap_or(u32::MAX)
        };
        Ok(Some(crate::ports::QuotaLevels {
            reads,
            writes,
            read_capacity,
            write_capacity,
            reads_per_minute: per_minute(self.cfg.quota.reads),
            writes_per_minute: per_minute(self.cfg.quota.writes),
        }))
    }

    async fn announce(&self, change: &RowChange) -> Result<(), CoordError> {
        self.append(change).await
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
        let limit = match kind {
            QuotaKind::Read => self.cfg.quota.reads,
            QuotaKind::Write => self.cfg.quota.writes,
        };
        let wait: u64 = self
            .scripts
            .take_token
            .key(self.keys.quota(&self.cfg.quota.account, kind))
            .arg(limit.burst.max(1))
            .arg(format!("{:.12e}", limit.refill_per_ms()))
            .arg(ms(limit.window * 2))
            .arg(n.clamp(1, limit.burst.max(1)))
            .arg(format!("{}:{}", self.instance, taker.name))
            .arg(u8::from(taker.priority))
            .invoke_async(&mut self.conn())
            .await
            .map_err(coord_err)?;
        Ok(if wait == 0 {
            QuotaGrant::Granted
        } else {
            QuotaGrant::Wait(Duration::from_millis(wait))
        })
    }

    async fn renew_row_lock(
        &self,
        tag: &str,
        owner: &str,
        ttl: Duration,
    ) -> Result<bool, CoordError> {
        let n: i64 = self
            .scripts
            .renew
            .key(self.keys.row_lock(tag))
            .arg(owner)
            .arg(ms(ttl))
            .invoke_async(&mut self.conn())
            .await
            .map_err(coord_err)?;
        Ok(n == 1)
    }

    async fn occupation_holders(
        &self,
        tags: &[String],
    ) -> Result<Vec<Option<LockHolder>>, CoordError> {
        let keys = tags.iter().map(|t| self.keys.spool_lock(t)).collect();
        let values = self.get_many(keys).await?;
        values
            .into_iter()
            .zip(tags)
            .map(|(v, tag)| {
                v.map(|v| {
                    LockHolder::decode(&v).ok_or_else(|| {
                        protocol(format!("lock de ocupación ilegible en {tag}: {v}"))
                    })
                })
                .transpose()
            })
            .collect()
    }

    async fn live_rows(&self, tags: &[String]) -> Result<Vec<Option<LiveRow>>, CoordError> {
        let keys = tags.iter().map(|t| self.keys.row(t)).collect();
        let values = self.get_many(keys).await?;
        values
            .into_iter()
            .map(|v| {
                v.map(|s| serde_json::from_str::<LiveRow>(&s).map_err(protocol))
                    .transpose()
            })
            .collect()
    }

    async fn live_snapshot(&self) -> Result<Vec<Spool>, CoordError> {
        let mut tags: Vec<String> = self
            .conn()
            .smembers(self.keys.rows_index())
            .await
            .map_err(coord_err)?;
        tags.sort();
        let rows = self.live_rows(&tags).await?;
        Ok(rows.into_iter().flatten().map(|l| l.row).collect())
    }

    async fn warm_live(&self, rows: &[Spool]) -> Result<usize, CoordError> {
        let mut added = 0;
        for chunk in rows.chunks(BULK) {
            let futs = chunk.iter().map(|r| {
                let mut c = self.conn();
                let key = self.keys.row(&r.tag);
                let value = json(&LiveRow::new(r));
                async move {
                    let value = value?;
                    c.set_nx::<_, _, bool>(key, value).await.map_err(coord_err)
                }
            });
            let set = futures_util::future::try_join_all(futs).await?;
            added += set.iter().filter(|s| **s).count();
            let tags: Vec<&str> = chunk.iter().map(|r| r.tag.as_str()).collect();
            if !tags.is_empty() {
                let _: i64 = self
                    .conn()
                    .sadd(self.keys.rows_index(), tags)
                    .await
                    .map_err(coord_err)?;
            }
        }
        Ok(added)
    }

    async fn publish_if(
        &self,
        change: &RowChange,
        expected: Option<&str>,
    ) -> Result<bool, CoordError> {
        let live = LiveRow::new(&change.row);
        let set: i64 = self
            .scripts
            .cache_cas
            .key(self.keys.row(&change.tag))
            .arg(expected.unwrap_or(""))
            .arg(json(&live)?)
            .invoke_async(&mut self.conn())
            .await
            .map_err(coord_err)?;
        if set != 1 {
            return Ok(false);
        }
        let _: i64 = self
            .conn()
            .sadd(self.keys.rows_index(), &change.tag)
            .await
            .map_err(coord_err)?;
        self.append(change).await?;
        Ok(true)
    }

    async fn workers(&self) -> Result<Option<(String, String)>, CoordError> {
        let (hash, json): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(self.keys.workers())
            .arg("hash")
            .arg("json")
            .query_async(&mut self.conn())
            .await
            .map_err(coord_err)?;
        Ok(hash.zip(json))
    }

    async fn workers_hash(&self) -> Result<Option<String>, CoordError> {
        self.conn()
            .hget(self.keys.workers(), "hash")
            .await
            .map_err(coord_err)
    }

    async fn put_workers(&self, hash: &str, json: &str) -> Result<(), CoordError> {
        let _: () = redis::cmd("HSET")
            .arg(self.keys.workers())
            .arg("hash")
            .arg(hash)
            .arg("json")
            .arg(json)
            .query_async(&mut self.conn())
            .await
            .map_err(coord_err)?;
        Ok(())
    }

    async fn epoch(&self) -> Result<Option<String>, CoordError> {
        self.conn().get(self.keys.epoch()).await.map_err(coord_err)
    }

    async fn set_epoch(&self, epoch: &str) -> Result<(), CoordError> {
        let _: () = self
            .conn()
            .set(self.keys.epoch(), epoch)
            .await
            .map_err(coord_err)?;
        Ok(())
    }

    async fn stream_head(&self) -> Result<StreamCursor, CoordError> {
        let (epoch, id, seq): (String, String, String) = self
            .scripts
            .head
            .key(self.keys.stream())
            .key(self.keys.stream_seq())
            .key(self.keys.epoch())
            .invoke_async(&mut self.conn())
            .await
            .map_err(coord_err)?;
        Ok(StreamCursor {
            epoch,
            id,
            seq: seq.parse().map_err(protocol)?,
        })
    }

    async fn read_changes(
        &self,
        after: &StreamCursor,
        max: usize,
        block: Duration,
    ) -> Result<ChangeRead, CoordError> {
        let epoch = self.epoch().await?.unwrap_or_default();
        if epoch != after.epoch {
            return Ok(ChangeRead::Reload);
        }
        let mut c = self.blocking_conn().await?;
        let reply: RedisResult<Value> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(max.max(1))
            .arg("BLOCK")
            .arg(ms(block))
            .arg("STREAMS")
            .arg(self.keys.stream())
            .arg(&after.id)
            .query_async(&mut c)
            .await;
        let value = match reply {
            Ok(v) => v,
            Err(e) => {
                // A broken blocking connection is replaced on the next read.
                *self.blocking.lock().await = None;
                return Err(coord_err(e));
            }
        };
        let parsed: Option<StreamReadReply> = match value {
            Value::Nil => None,
            v => Some(StreamReadReply::from_redis_value(v).map_err(protocol)?),
        };
        match decode_entries(parsed, after)? {
            ChangeRead::Changes { cursor, changes } if changes.is_empty() => {
                // Nothing new: still make sure nothing was lost behind us (Redis restarted
                // and nobody published yet: the sequence went back).
                let head = self.stream_head().await?;
                if head.seq < after.seq || head.epoch != after.epoch {
                    Ok(ChangeRead::Reload)
                } else {
                    Ok(ChangeRead::Changes { cursor, changes })
                }
            }
            other => Ok(other),
        }
    }

    async fn lease(&self, device_id: &str, ttl: Duration) -> Result<bool, CoordError> {
        let n: i64 = self
            .scripts
            .lease
            .key(self.keys.leader())
            .arg(device_id)
            .arg(ms(ttl))
            .invoke_async(&mut self.conn())
            .await
            .map_err(coord_err)?;
        Ok(n == 1)
    }

    async fn resign(&self, device_id: &str) -> Result<(), CoordError> {
        let _: i64 = self
            .scripts
            .compare_and_delete
            .key(self.keys.leader())
            .arg(device_id)
            .invoke_async(&mut self.conn())
            .await
            .map_err(coord_err)?;
        Ok(())
    }

    async fn leader(&self) -> Result<Option<String>, CoordError> {
        self.conn().get(self.keys.leader()).await.map_err(coord_err)
    }

    async fn heartbeat(&self, presence: &Presence, ttl: Duration) -> Result<(), CoordError> {
        let _: i64 = self
            .scripts
            .heartbeat
            .key(self.keys.presence_index())
            .key(self.keys.presence_data())
            .arg(&presence.device_id)
            .arg(json(presence)?)
            .arg(ms(ttl))
            .invoke_async(&mut self.conn())
            .await
            .map_err(coord_err)?;
        Ok(())
    }

    async fn presence(&self) -> Result<Vec<Presence>, CoordError> {
        let raw: Vec<String> = self
            .scripts
            .alive
            .key(self.keys.presence_index())
            .key(self.keys.presence_data())
            .invoke_async(&mut self.conn())
            .await
            .map_err(coord_err)?;
        let mut out = Vec::with_capacity(raw.len());
        for r in raw {
            match serde_json::from_str::<Presence>(&r) {
                Ok(p) => out.push(p),
                Err(e) => tracing::warn!(error = %e, "presencia ilegible en Redis; se omite"),
            }
        }
        out.sort_by(|a, b| a.device_id.cmp(&b.device_id));
        Ok(out)
    }
}
