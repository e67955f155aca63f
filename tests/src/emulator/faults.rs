//! Fault injection: latency, error statuses before or after the write commits, dropped
//! connections. Rules match a method name (`spreadsheets.batchUpdate`, ...) or every API call.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Nothing is applied; the client sees the fault.
    BeforeCommit,
    /// The request is applied, then the client sees the fault (the "503 that landed").
    AfterCommit,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Sleeps before handling.
    Latency { ms: u64 },
    /// Applies the request, then sleeps before answering: a write that lands while the
    /// client's timeout fires (the timeout whose outcome only a read can tell).
    SlowAnswer { ms: u64 },
    /// Answers with Google's error for `code` (429 = quota message, 500, 503, ...).
    Error { code: u16, phase: Phase },
    /// Closes the socket without writing a response.
    Drop { phase: Phase },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// Method name (`spreadsheets.values.get`); `None` = every API method.
    #[serde(default)]
    pub method: Option<String>,
    pub fault: Fault,
    /// How many matching calls it affects; `None` = all of them.
    #[serde(default)]
    pub times: Option<u32>,
    /// Matching calls to let through before it starts.
    #[serde(default)]
    pub skip: u32,
}

impl FaultRule {
    pub fn new(method: Option<&str>, fault: Fault) -> Self {
        FaultRule {
            method: method.map(String::from),
            fault,
            times: Some(1),
            skip: 0,
        }
    }

    pub fn times(mut self, n: Option<u32>) -> Self {
        self.times = n;
        self
    }

    pub fn skip(mut self, n: u32) -> Self {
        self.skip = n;
        self
    }
}

/// What one request must suffer.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Plan {
    pub latency_ms: u64,
    /// Sleep between applying the request and answering.
    pub answer_delay_ms: u64,
    pub before: Option<Fault>,
    pub after: Option<Fault>,
}

/// Consumes matching rules for one call of `method`.
pub fn plan(rules: &mut Vec<FaultRule>, method: &str) -> Plan {
    let mut p = Plan::default();
    for rule in rules.iter_mut() {
        if rule.method.as_deref().is_some_and(|m| m != method) {
            continue;
        }
        if rule.times == Some(0) {
            continue;
        }
        let phase = match &rule.fault {
            Fault::Latency { .. } | Fault::SlowAnswer { .. } => None,
            Fault::Error { phase, .. } | Fault::Drop { phase } => Some(*phase),
        };
        let slot_free = match phase {
            None => true,
            Some(Phase::BeforeCommit) => p.before.is_none() && p.after.is_none(),
            Some(Phase::AfterCommit) => p.after.is_none() && p.before.is_none(),
        };
        if !slot_free {
            continue;
        }
        if rule.skip > 0 {
            rule.skip -= 1;
            continue;
        }
        if let Some(t) = rule.times.as_mut() {
            *t -= 1;
        }
        match (&rule.fault, phase) {
            (Fault::Latency { ms }, _) => p.latency_ms += ms,
            (Fault::SlowAnswer { ms }, _) => p.answer_delay_ms += ms,
            (f, Some(Phase::BeforeCommit)) => p.before = Some(f.clone()),
            (f, _) => p.after = Some(f.clone()),
        }
    }
    rules.retain(|r| r.times != Some(0));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_consumed_in_order() {
        let mut rules = vec![
            FaultRule::new(
                Some("spreadsheets.batchUpdate"),
                Fault::Error {
                    code: 503,
                    phase: Phase::AfterCommit,
                },
            )
            .skip(1),
            FaultRule::new(None, Fault::Latency { ms: 5 }).times(None),
        ];
        let p = plan(&mut rules, "spreadsheets.values.get");
        assert_eq!(p.latency_ms, 5);
        assert!(p.after.is_none());
        assert!(plan(&mut rules, "spreadsheets.batchUpdate").after.is_none());
        assert!(plan(&mut rules, "spreadsheets.batchUpdate").after.is_some());
        assert!(plan(&mut rules, "spreadsheets.batchUpdate").after.is_none());
        assert_eq!(rules.len(), 1);
    }

    #[test]
    fn a_slow_answer_delays_after_applying_and_takes_no_error_slot() {
        let mut rules = vec![
            FaultRule::new(None, Fault::SlowAnswer { ms: 7 }),
            FaultRule::new(
                None,
                Fault::Error {
                    code: 503,
                    phase: Phase::AfterCommit,
                },
            ),
        ];
        let p = plan(&mut rules, "spreadsheets.batchUpdate");
        assert_eq!((p.latency_ms, p.answer_delay_ms), (0, 7));
        assert!(p.after.is_some());
        assert!(rules.is_empty());
    }
}
