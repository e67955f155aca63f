//! The Lua scripts. Each touches keys of one slot only (Cluster). Redis 7.0 (Debian 12) has no
//! `SET … IFEQ`, so every compare-and-* is a script. Time inside scripts is the server's
//! (`TIME`): one clock for the whole fleet, whatever the tablets' clocks say.

use redis::Script;

/// KEYS[1] lock; ARGV[1] expected value. Deletes only the caller's own lock.
pub(super) const COMPARE_AND_DELETE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

/// KEYS[1] row mutex; ARGV[1] owner, ARGV[2] ttl ms. Takes it when free, refreshes it when
/// the owner already holds it.
pub(super) const LOCK_ROW: &str = r#"
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if cur then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"#;

/// KEYS[1] the instant row mutexes may be granted; ARGV[1] settle ms. The first call on an
/// empty Redis (a first start or a restart that lost the data) sets it to now + settle.
/// Returns the ms left to wait (0 = writable).
pub(super) const ROWS_WRITABLE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local at = tonumber(redis.call('GET', KEYS[1]))
if at == nil then
  at = now + tonumber(ARGV[1])
  redis.call('SET', KEYS[1], at)
end
if now >= at then return 0 end
return at - now
"#;

/// KEYS[1] row mutex or lease; ARGV[1] owner, ARGV[2] ttl ms. Extends only the owner's.
pub(super) const RENEW: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"#;

/// KEYS[1] lease; ARGV[1] device, ARGV[2] ttl ms. Acquire when free, renew when held.
pub(super) const LEASE: &str = r#"
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if cur then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"#;

/// Token bucket with one reservation. KEYS[1] bucket; ARGV[1] capacity (burst), ARGV[2]
/// refill per ms, ARGV[3] key ttl ms, ARGV[4] tokens wanted (all or none; at most the
/// capacity), ARGV[5] who asks, ARGV[6] 1 when the taker has priority. Returns 0 when they were
/// taken, else the ms to wait until they will be there.
///
/// A missing bucket starts EMPTY, not full: after a Redis restart (or an idle expiry) the
/// fleet waits one refill interval instead of spending a fresh burst on top of what it already
/// spent in the current window. With burst B and refill (L - B)/W, any window W holds at most
/// B + (L - B) = L grants.
///
/// Fairness: a take of several tokens (or a priority one) that must wait reserves what it
/// asked for (when nobody holds the reservation, or when it has priority over the holder). Until the reserver comes back (or its
/// reservation lapses, a grace after its wait), others are served only from tokens beyond the
/// reserved ones — so a take of several tokens is not starved by a stream of single takes, and
/// the leader's import of people's edits (priority) is served next whenever it asks.
pub(super) const TAKE_TOKEN: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local n = tonumber(ARGV[4]) or 1
local who = ARGV[5] or ''
local prio = tonumber(ARGV[6]) or 0
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'rwho', 'rn', 'runtil', 'rprio')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
-- A missing hash field comes back as false, not nil.
local rwho = b[3] or nil
local rn = tonumber(b[4]) or 0
local runtil = tonumber(b[5]) or 0
local rprio = tonumber(b[6]) or 0
if tokens == nil or ts == nil then
  tokens = 0
  ts = now
end
if now > ts then
  tokens = math.min(cap, tokens + (now - ts) * rate)
  ts = now
end
if rwho and now > runtil then
  rwho = nil
end
local held = 0
if rwho and rwho ~= who then held = rn end
local wait = 0
if tokens - held >= n then
  tokens = tokens - n
  if rwho == who then rwho = nil end
else
  wait = math.ceil((n + held - tokens) / rate)
  if wait < 1 then wait = 1 end
  -- Only a take of several tokens, or a priority one, reserves: a single take that waits is
  -- served in turn with the others (it would otherwise grab the one reservation again and
  -- again, starving exactly the takes the reservation is for).
  if (n > 1 or prio > 0) and (rwho == nil or rwho == who or prio > rprio) then
    -- Reserve (or renew): served first when the tokens are there; lapses if not collected.
    if rwho ~= who then wait = math.max(1, math.ceil((n - tokens) / rate)) end
    rwho = who
    rn = n
    rprio = prio
    runtil = now + wait + math.max(wait, 2000)
  end
end
if rwho then
  redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', ts,
    'rwho', rwho, 'rn', rn, 'runtil', runtil, 'rprio', rprio)
else
  redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', ts)
  redis.call('HDEL', KEYS[1], 'rwho', 'rn', 'runtil', 'rprio')
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return wait
"#;

/// KEYS[1] stream, KEYS[2] sequence; ARGV[1] max length, ARGV[2] change JSON.
/// Numbers every entry 1, 2, 3… so a reader notices a gap (trimmed past it).
pub(super) const APPEND: &str = r#"
local n = redis.call('INCR', KEYS[2])
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'c', ARGV[2], 'n', n)
return {id, n}
"#;

/// KEYS[1] stream, KEYS[2] sequence, KEYS[3] epoch. The head a reader with the current
/// state continues from: {epoch or '', last id, last sequence}.
pub(super) const HEAD: &str = r#"
local e = redis.call('GET', KEYS[3])
if not e then e = '' end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local id = '0-0'
if #last > 0 then id = last[1][1] end
local n = redis.call('GET', KEYS[2])
if not n then n = '0' end
return {e, id, n}
"#;

/// KEYS[1] cached row; ARGV[1] expected hash ('' = not cached), ARGV[2] new LiveRow JSON.
pub(super) const CACHE_CAS: &str = r#"
local cur = redis.call('GET', KEYS[1])
local h = ''
if cur then
  local ok, row = pcall(cjson.decode, cur)
  if ok and type(row) == 'table' and row['hash'] then h = row['hash'] end
end
if h ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"#;

/// KEYS[1] index (zset device → expiry ms), KEYS[2] data (hash device → JSON);
/// ARGV[1] device, ARGV[2] JSON, ARGV[3] ttl ms. Also forgets devices whose heartbeat lapsed.
pub(super) const HEARTBEAT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, d in ipairs(dead) do redis.call('HDEL', KEYS[2], d) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
for _, k in ipairs(KEYS) do
  if redis.call('PTTL', k) < ttl then redis.call('PEXPIRE', k, ttl) end
end
return 1
"#;

/// KEYS[1] index, KEYS[2] data. JSON of the devices alive now.
pub(super) const ALIVE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local alive = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
if #alive == 0 then return {} end
local data = redis.call('HMGET', KEYS[2], unpack(alive))
local out = {}
for _, d in ipairs(data) do
  if d then table.insert(out, d) end
end
return out
"#;

/// The scripts, hashed once (EVALSHA, loaded on NOSCRIPT after a restart).
pub(super) struct Scripts {
    pub compare_and_delete: Script,
    pub lock_row: Script,
    pub renew: Script,
    pub lease: Script,
    pub take_token: Script,
    pub rows_writable: Script,
    pub append: Script,
    pub head: Script,
    pub cache_cas: Script,
    pub heartbeat: Script,
    pub alive: Script,
}

impl Scripts {
    pub(super) fn new() -> Scripts {
        Scripts {
            compare_and_delete: Script::new(COMPARE_AND_DELETE),
            lock_row: Script::new(LOCK_ROW),
            renew: Script::new(RENEW),
            lease: Script::new(LEASE),
            take_token: Script::new(TAKE_TOKEN),
            rows_writable: Script::new(ROWS_WRITABLE),
            append: Script::new(APPEND),
            head: Script::new(HEAD),
            cache_cas: Script::new(CACHE_CAS),
            heartbeat: Script::new(HEARTBEAT),
            alive: Script::new(ALIVE),
        }
    }
}
