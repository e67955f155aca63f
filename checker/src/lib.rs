//! `zeues-checker`: an independent checker of ARCHITECTURE.md §7 for any run of the plant
//! (the real-process simulator or the in-process one), re-deriving the truth from DOMAIN.md.
//!
//! # What it trusts
//! Only plain data a run leaves behind:
//! - the **initial workbook** (where every spool starts; Engineering's appended rows come with
//!   their own initial state),
//! - the **final workbook** after every device drained: its `Operaciones` rows, its append-only
//!   `Metadata` audit log (replayed in append order) and its `Trabajadores`/`Roles` tabs,
//! - the **acked-tap log**: what each worker was told succeeded,
//! - each device's **replica** rows.
//!
//! # What it never uses
//! The product's code (`zeues-sync`, `zeues-tests`): no decoding, projection, transition or
//! header code is shared or copied — a bug there must not be able to hide itself here. Nor does
//! it use a device's outbox or conflict tables, Redis, logs, or the sheet's own
//! `Ciclo_Reparacion`/`Estado_Detalle` to decide anything: those are compared against the
//! model, never fed into it (except the initial sheet, which is where the model starts).
//!
//! # What it checks (counters of [`Report`])
//! 1. **Outcomes against what workers were told**: every acked tap ends as exactly one
//!    `Metadata` row whose `ID` is the command id (`applied`), or is named by a `CONFLICTO`
//!    row as its `command_id` (`conflicts`) or in its `retenidos` (`held`). No outcome is
//!    `lost`; several rows, or applied and also refused/held, is `duplicated`. An applied row
//!    that disagrees with the tap (other TAG, worker or action) is a `rule_violations`.
//! 2. **Reference model**: each spool starts from the initial sheet and replays its audit rows
//!    through DOMAIN.md §3's table; a guard that does not hold is a `rule_violations`, and a
//!    TOMAR of an occupied spool is also `double_occupied`.
//! 3. **Final sheet against the model** (`wrong_state`, one per row): occupation, workers,
//!    dates, metrología, repair cycle and state, `version` (the last command row's `ID`) and
//!    `Estado_Detalle` (DOMAIN.md §3's literals); a TAG on two rows, missing or unknown.
//! 4. **Replicas against the final sheet** (`diverged`, one per device and spool).

mod check;
mod dates;
mod input;
mod model;
mod report;
mod workbook;

#[cfg(test)]
mod tests;

pub use check::{check, RunInput};
pub use input::{
    parse_acked_jsonl, read_acked_jsonl, read_replica, AckedTap, Replica, ReplicaRow,
    REPLICA_COLUMNS,
};
pub use report::{Detail, Kind, Report, MAX_DETAILS, MAX_NOTES};
pub use workbook::{SheetRow, Workbook};

use std::fmt;

/// Why an input could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckerError {
    /// A file or database could not be opened or read.
    Io(String),
    /// The data is not in the expected shape.
    Input(String),
}

impl fmt::Display for CheckerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckerError::Io(m) => write!(f, "cannot read input: {m}"),
            CheckerError::Input(m) => write!(f, "malformed input: {m}"),
        }
    }
}

impl std::error::Error for CheckerError {}
