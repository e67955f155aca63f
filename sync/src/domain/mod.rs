//! The plant's rules as plain functions and types. Nothing here does I/O or reads a clock:
//! time, ids and rows come in as arguments so every rule is deterministic and testable.

pub mod audit;
pub mod cell;
pub mod error;
pub mod estado;
pub mod header;
pub mod history;
pub mod produccion;
pub mod sheet;
pub mod spool;
pub mod time;
pub mod transitions;
pub mod worker;

pub use audit::{AuditEvent, EventType};
pub use cell::{CellValue, RawCell};
pub use error::DomainError;
pub use header::{normalize_header, ColumnMap};
pub use spool::{
    DefectoOrigen, EstadoReparacion, OpOcupacion, OpState, Operacion, ResultadoMetrologia, Spool,
};
pub use transitions::{apply, Actor, Change, Intent, Transition, MAX_BATCH, MAX_CICLOS};
pub use worker::{Rol, Worker};
