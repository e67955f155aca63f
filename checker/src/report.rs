//! What a check found: counters, and the first few findings explained.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How many findings are kept with their explanation (counters count them all).
pub const MAX_DETAILS: usize = 40;
/// How many notes (observations that are not violations) are kept.
pub const MAX_NOTES: usize = 20;

/// The kind of a finding; every kind but [`Kind::Note`] is a violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    Lost,
    Duplicated,
    DoubleOccupied,
    RuleViolation,
    WrongState,
    Diverged,
    Note,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Lost => "lost",
            Kind::Duplicated => "duplicated",
            Kind::DoubleOccupied => "double_occupied",
            Kind::RuleViolation => "rule_violation",
            Kind::WrongState => "wrong_state",
            Kind::Diverged => "diverged",
            Kind::Note => "note",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detail {
    pub kind: Kind,
    pub text: String,
}

/// Counters of one check (or of many, merged). See the crate docs for what each means.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Distinct acked taps.
    pub commands: u64,
    /// Acked taps that have a Metadata row with their id.
    pub applied: u64,
    /// Acked taps named as the refused `command_id` of a CONFLICTO row.
    pub conflicts: u64,
    /// Acked taps named in a CONFLICTO row's `retenidos` (and not refused themselves).
    pub held: u64,
    /// Acked taps with no outcome at all.
    pub lost: u64,
    /// Acked taps with more than one Metadata row, or both applied and refused/held.
    pub duplicated: u64,
    /// Audit rows that occupy an already occupied spool, and cells naming two occupants.
    pub double_occupied: u64,
    /// Audit rows whose guard (DOMAIN.md §3) does not hold on the model, or that disagree
    /// with the tap the worker was told succeeded.
    pub rule_violations: u64,
    /// Final spool rows that differ from the model (one per row), duplicated or missing TAGs.
    pub wrong_state: u64,
    /// Replica rows that differ from the final sheet, or are missing/extra (one per row).
    pub diverged: u64,
    /// Observations that are not violations (unknown event types, unacked applied rows…).
    pub notes: u64,
    /// The first [`MAX_DETAILS`] violations, explained.
    pub details: Vec<Detail>,
    /// The first [`MAX_NOTES`] notes.
    pub note_details: Vec<Detail>,
}

impl Report {
    /// True when every violation counter is 0.
    pub fn ok(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.double_occupied == 0
            && self.rule_violations == 0
            && self.wrong_state == 0
            && self.diverged == 0
    }

    /// One line for logs: `runs=… commands=… applied=… …`.
    pub fn summary(&self, runs: u64) -> String {
        format!(
            "runs={runs} commands={} applied={} conflicts={} held={} lost={} duplicated={} double_occupied={} rule_violations={} wrong_state={} diverged={}",
            self.commands,
            self.applied,
            self.conflicts,
            self.held,
            self.lost,
            self.duplicated,
            self.double_occupied,
            self.rule_violations,
            self.wrong_state,
            self.diverged
        )
    }

    /// Adds another run's counters (details kept up to the caps).
    pub fn merge(&mut self, other: &Report) {
        self.commands += other.commands;
        self.applied += other.applied;
        self.conflicts += other.conflicts;
        self.held += other.held;
        self.lost += other.lost;
        self.duplicated += other.duplicated;
        self.double_occupied += other.double_occupied;
        self.rule_violations += other.rule_violations;
        self.wrong_state += other.wrong_state;
        self.diverged += other.diverged;
        self.notes += other.notes;
        for d in &other.details {
            if self.details.len() < MAX_DETAILS {
                self.details.push(d.clone());
            }
        }
        for d in &other.note_details {
            if self.note_details.len() < MAX_NOTES {
                self.note_details.push(d.clone());
            }
        }
    }

    /// Counts a finding and keeps its explanation while there is room.
    pub(crate) fn add(&mut self, kind: Kind, text: String) {
        let (counter, list, cap) = match kind {
            Kind::Lost => (&mut self.lost, &mut self.details, MAX_DETAILS),
            Kind::Duplicated => (&mut self.duplicated, &mut self.details, MAX_DETAILS),
            Kind::DoubleOccupied => (&mut self.double_occupied, &mut self.details, MAX_DETAILS),
            Kind::RuleViolation => (&mut self.rule_violations, &mut self.details, MAX_DETAILS),
            Kind::WrongState => (&mut self.wrong_state, &mut self.details, MAX_DETAILS),
            Kind::Diverged => (&mut self.diverged, &mut self.details, MAX_DETAILS),
            Kind::Note => (&mut self.notes, &mut self.note_details, MAX_NOTES),
        };
        *counter += 1;
        if list.len() < cap {
            list.push(Detail { kind, text });
        }
    }

    /// How many kept details are of `kind`.
    pub fn count_details(&self, kind: Kind) -> usize {
        self.details
            .iter()
            .chain(&self.note_details)
            .filter(|d| d.kind == kind)
            .count()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary(1))?;
        for d in &self.details {
            writeln!(f, "  [{}] {}", d.kind.label(), d.text)?;
        }
        for d in &self.note_details {
            writeln!(f, "  [{}] {}", d.kind.label(), d.text)?;
        }
        Ok(())
    }
}
