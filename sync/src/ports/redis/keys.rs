//! Every key the coordinator uses, in one place. Keys of one spool carry the hash tag `{TAG}`
//! so a Cluster keeps them in one slot; the stream's keys share `{changes}` and presence's
//! share `{presence}`, because the scripts that touch them run on one slot.

use crate::ports::QuotaKind;

pub(super) struct Keys {
    prefix: String,
}

impl Keys {
    pub(super) fn new(prefix: &str) -> Keys {
        Keys {
            prefix: prefix.trim_end_matches(':').to_string(),
        }
    }

    /// `prefix:kind:{TAG}`. A TAG with braces would break the hash tag, so its slot is taken
    /// from the TAG without them and the TAG itself follows (keys stay distinct).
    fn spool(&self, kind: &str, tag: &str) -> String {
        if tag.contains(['{', '}']) {
            let mut slot: String = tag.chars().filter(|c| *c != '{' && *c != '}').collect();
            if slot.is_empty() {
                slot.push('_');
            }
            format!("{}:{kind}:{{{slot}}}:{tag}", self.prefix)
        } else {
            format!("{}:{kind}:{{{tag}}}", self.prefix)
        }
    }

    /// `{worker_id}:{command_id}` of the occupation; no TTL.
    pub(super) fn spool_lock(&self, tag: &str) -> String {
        self.spool("spool_lock", tag)
    }

    /// The row write mutex (fencing value, PX).
    pub(super) fn row_lock(&self, tag: &str) -> String {
        self.spool("row_lock", tag)
    }

    /// When row mutexes may be granted again after Redis started empty (ms since the epoch).
    pub(super) fn rows_writable_at(&self) -> String {
        format!("{}:rows_writable_at", self.prefix)
    }

    /// The live row (JSON `LiveRow`).
    pub(super) fn row(&self, tag: &str) -> String {
        self.spool("row", tag)
    }

    /// Tags present in the live cache (for snapshots).
    pub(super) fn rows_index(&self) -> String {
        format!("{}:rows", self.prefix)
    }

    /// The plant's workers as the leader last read them: a hash `{hash, json}`.
    pub(super) fn workers(&self) -> String {
        format!("{}:workers", self.prefix)
    }

    pub(super) fn applied(&self, command_id: &str) -> String {
        format!("{}:applied:{command_id}", self.prefix)
    }

    pub(super) fn stream(&self) -> String {
        format!("{}:{{changes}}:stream", self.prefix)
    }

    pub(super) fn stream_seq(&self) -> String {
        format!("{}:{{changes}}:seq", self.prefix)
    }

    pub(super) fn epoch(&self) -> String {
        format!("{}:{{changes}}:epoch", self.prefix)
    }

    pub(super) fn quota(&self, account: &str, kind: QuotaKind) -> String {
        let k = match kind {
            QuotaKind::Read => "read",
            QuotaKind::Write => "write",
        };
        format!("{}:quota:{{{account}}}:{k}", self.prefix)
    }

    pub(super) fn leader(&self) -> String {
        format!("{}:leader", self.prefix)
    }

    pub(super) fn presence_index(&self) -> String {
        format!("{}:{{presence}}:index", self.prefix)
    }

    pub(super) fn presence_data(&self) -> String {
        format!("{}:{{presence}}:data", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The slot-deciding part of a key, as Redis Cluster computes it.
    fn hash_tag(key: &str) -> &str {
        if let Some(open) = key.find('{') {
            if let Some(len) = key[open + 1..].find('}') {
                if len > 0 {
                    return &key[open + 1..open + 1 + len];
                }
            }
        }
        key
    }

    #[test]
    fn keys_of_one_spool_share_a_slot() {
        let k = Keys::new("zeues:");
        for tag in ["MK-1335", "A B", "X{1}", "}odd", "{}"] {
            let slot = hash_tag(&k.spool_lock(tag)).to_string();
            assert_eq!(hash_tag(&k.row_lock(tag)), slot);
            assert_eq!(hash_tag(&k.row(tag)), slot);
        }
        assert_eq!(k.spool_lock("MK-1335"), "zeues:spool_lock:{MK-1335}");
        assert_ne!(k.spool_lock("A}"), k.spool_lock("A"));
        assert_eq!(hash_tag(&k.stream()), hash_tag(&k.stream_seq()));
        assert_eq!(hash_tag(&k.stream()), hash_tag(&k.epoch()));
        assert_eq!(hash_tag(&k.presence_index()), hash_tag(&k.presence_data()));
    }
}
