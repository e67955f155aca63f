//! The run's trace: every event the driver causes or sees, stamped with simulated time, folded
//! into a running hash (FNV-1a). Two runs of one seed must give the same hash; a failing seed's
//! trace is what the report prints. Port calls are hashed too but kept only in verbose mode
//! (there are many, and the driver's events tell the story).

use std::fmt::Write as _;

use tokio::time::Instant;

pub struct Trace {
    hash: u64,
    origin: Instant,
    lines: Vec<String>,
    keep_detail: bool,
    buf: String,
    events: u64,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

pub fn fnv(hash: u64, bytes: &[u8]) -> u64 {
    let mut h = hash;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

impl Trace {
    pub fn new(origin: Instant, keep_detail: bool) -> Trace {
        Trace {
            hash: FNV_OFFSET,
            origin,
            lines: Vec::new(),
            keep_detail,
            buf: String::new(),
            events: 0,
        }
    }

    fn stamp(&mut self, what: std::fmt::Arguments<'_>) {
        self.buf.clear();
        let ms = Instant::now()
            .saturating_duration_since(self.origin)
            .as_millis();
        if write!(self.buf, "{:>5}.{:03}s {what}", ms / 1000, ms % 1000).is_err() {
            // Only a Display impl that fails can get here; the hash still moves on.
            self.buf.push_str("<evento ilegible>");
        }
        self.hash = fnv(self.hash, self.buf.as_bytes());
        self.hash = fnv(self.hash, b"\n");
        self.events += 1;
    }

    /// A driver-level event: hashed and kept.
    pub fn event(&mut self, what: std::fmt::Arguments<'_>) {
        self.stamp(what);
        self.lines.push(self.buf.clone());
    }

    /// A port call: hashed; kept only in verbose mode.
    pub fn detail(&mut self, what: std::fmt::Arguments<'_>) {
        self.stamp(what);
        if self.keep_detail {
            self.lines.push(self.buf.clone());
        }
    }

    /// Folds data that is not an event (the final workbook) into the hash.
    pub fn fold(&mut self, bytes: &[u8]) {
        self.hash = fnv(self.hash, bytes);
    }

    pub fn hash(&self) -> u64 {
        self.hash
    }

    pub fn events(&self) -> u64 {
        self.events
    }

    pub fn into_lines(self) -> Vec<String> {
        self.lines
    }
}
