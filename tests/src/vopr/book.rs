//! The simulated spreadsheet's contents: each tab a grid of raw cells, row 1 the header, as
//! Google Sheets stores them (what an `UNFORMATTED_VALUE` read returns). Only data here; the
//! Sheets API's behaviour (faults, latency, quota) is `workbook`'s.
//!
//! The contract kept: a batch lands whole or not at all; row updates address a 1-based row and
//! 0-based columns, whatever is there now (no compare-and-set); appends go after the last row
//! with data; reads leave out trailing empty cells and rows, and a row beyond the data reads
//! as empty.

use std::collections::BTreeMap;

use serde_json::{json, Value as Json};
use zeues_sync::domain::sheet::Grid;
use zeues_sync::domain::{CellValue, RawCell};
use zeues_sync::ports::{RowsRead, TabShape, WorkbookError, WriteBatch, WriterLease};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Book {
    tabs: BTreeMap<String, Vec<Vec<RawCell>>>,
    /// The hidden writer-lease tab of plants without Redis (`ZEUES_ESCRITOR`), by its sheetId.
    writer: Option<WriterLease>,
}

fn trimmed(row: &[RawCell]) -> Vec<RawCell> {
    let end = row
        .iter()
        .rposition(|c| !matches!(c, RawCell::Empty))
        .map_or(0, |i| i + 1);
    row[..end].to_vec()
}

fn blank(row: &[RawCell]) -> bool {
    row.iter().all(|c| matches!(c, RawCell::Empty))
}

fn not_found(tab: &str) -> WorkbookError {
    WorkbookError::NotFound(format!("la hoja '{tab}' no existe"))
}

/// A cell in the dump encoding the checker reads: numbers as numbers, text as strings, empty as
/// null.
pub fn dump_cell(c: &RawCell) -> Json {
    match c {
        RawCell::Empty => Json::Null,
        RawCell::Text(s) => json!(s),
        RawCell::Number(n) => json!(n),
        RawCell::Bool(b) => json!(b),
    }
}

impl Book {
    pub fn from_grids(tabs: &[(&str, &Grid)]) -> Book {
        let mut book = Book::default();
        for (title, g) in tabs {
            let mut rows: Vec<Vec<RawCell>> =
                vec![g.headers.iter().map(|h| RawCell::Text(h.clone())).collect()];
            rows.extend(g.rows.iter().cloned());
            book.tabs.insert((*title).to_string(), rows);
        }
        book
    }

    fn tab(&self, tab: &str) -> Result<&Vec<Vec<RawCell>>, WorkbookError> {
        self.tabs.get(tab).ok_or_else(|| not_found(tab))
    }

    fn tab_mut(&mut self, tab: &str) -> Result<&mut Vec<Vec<RawCell>>, WorkbookError> {
        self.tabs.get_mut(tab).ok_or_else(|| not_found(tab))
    }

    pub fn headers(&self, tab: &str) -> Result<Vec<String>, WorkbookError> {
        Ok(self
            .tab(tab)?
            .first()
            .map(|h| trimmed(h).iter().map(RawCell::shown).collect())
            .unwrap_or_default())
    }

    /// Index of the first row after the data (rows past it are all empty).
    fn data_end(rows: &[Vec<RawCell>]) -> usize {
        rows.iter()
            .rposition(|r| !blank(r))
            .map_or(1, |i| i + 1)
            .max(1)
    }

    pub fn grid(&self, tab: &str) -> Result<Grid, WorkbookError> {
        let rows = self.tab(tab)?;
        let end = Self::data_end(rows);
        Ok(Grid {
            headers: self.headers(tab)?,
            rows: rows[1..end].iter().map(|r| trimmed(r)).collect(),
        })
    }

    /// A 1-based row as a read returns it (empty beyond the data).
    fn row(rows: &[Vec<RawCell>], n: u32) -> Vec<RawCell> {
        (n as usize)
            .checked_sub(1)
            .and_then(|i| rows.get(i))
            .map(|r| trimmed(r))
            .unwrap_or_default()
    }

    pub fn rows(&self, tab: &str, numbers: &[u32]) -> Result<RowsRead, WorkbookError> {
        let rows = self.tab(tab)?;
        Ok(RowsRead {
            headers: self.headers(tab)?,
            rows: numbers.iter().map(|n| Self::row(rows, *n)).collect(),
        })
    }

    pub fn range(&self, tab: &str, first: u32, last: u32) -> Result<RowsRead, WorkbookError> {
        let rows = self.tab(tab)?;
        let end = Self::data_end(rows) as u32;
        // Sheets returns the range cut at the last row with data.
        let last = last.min(end);
        Ok(RowsRead {
            headers: self.headers(tab)?,
            rows: (first.max(1)..=last).map(|n| Self::row(rows, n)).collect(),
        })
    }

    pub fn shape(&self, tab: &str) -> Result<TabShape, WorkbookError> {
        let rows = self.tab(tab)?;
        Ok(TabShape {
            rows: Self::data_end(rows) as u32,
            columns: rows.iter().map(|r| trimmed(r).len()).max().unwrap_or(0) as u32,
        })
    }

    /// Applies a batch atomically: every address is checked before anything changes. A batch
    /// carrying a writer fence first renews the lease tab it names; if that tab is gone (another
    /// device took the role), nothing lands.
    pub fn apply(&mut self, batch: &WriteBatch) -> Result<(), WorkbookError> {
        if let Some(f) = &batch.fence {
            if self.writer.as_ref().map(|w| w.sheet_id) != Some(f.sheet_id) {
                return Err(WorkbookError::WriterLost(format!(
                    "No grid with id: {}",
                    f.sheet_id
                )));
            }
        }
        for u in &batch.updates {
            self.tab(&u.tab)?;
            if u.row < 2 {
                return Err(WorkbookError::Rejected(format!(
                    "la fila {} de '{}' es la cabecera",
                    u.row, u.tab
                )));
            }
        }
        for a in &batch.appends {
            self.tab(&a.tab)?;
        }
        for u in &batch.updates {
            let rows = self.tab_mut(&u.tab)?;
            let i = u.row as usize - 1;
            if rows.len() <= i {
                rows.resize(i + 1, Vec::new());
            }
            let row = &mut rows[i];
            for (col, value) in &u.cells {
                if row.len() <= *col {
                    row.resize(col + 1, RawCell::Empty);
                }
                row[*col] = value.to_raw();
            }
        }
        for a in &batch.appends {
            let cells: Vec<RawCell> = a.cells.iter().map(CellValue::to_raw).collect();
            self.append_row(&a.tab, cells)?;
        }
        if let (Some(f), Some(w)) = (&batch.fence, self.writer.as_mut()) {
            w.heartbeat = f.heartbeat;
        }
        Ok(())
    }

    pub fn writer(&self) -> Option<WriterLease> {
        self.writer.clone()
    }

    /// `addSheet` of the lease tab, with `deleteSheet` of the one it replaces in the same call:
    /// refused when a lease tab exists that is not the one replaced, or the replaced one is gone.
    pub fn claim_writer(&mut self, me: &WriterLease, replacing: Option<i64>) -> bool {
        let ok = match (&self.writer, replacing) {
            (None, None) => true,
            (Some(cur), Some(old)) => cur.sheet_id == old,
            (Some(_), None) | (None, Some(_)) => false,
        };
        if ok {
            self.writer = Some(me.clone());
        }
        ok
    }

    /// `deleteSheet` of the lease tab, if it is still that one.
    pub fn release_writer(&mut self, sheet_id: i64) {
        if self.writer.as_ref().is_some_and(|w| w.sheet_id == sheet_id) {
            self.writer = None;
        }
    }

    /// The cell at a 1-based row and 0-based column (empty beyond the data).
    pub fn cell(&self, tab: &str, row: u32, col: usize) -> RawCell {
        self.tabs
            .get(tab)
            .and_then(|rows| rows.get((row as usize).checked_sub(1)?))
            .and_then(|r| r.get(col))
            .cloned()
            .unwrap_or_default()
    }

    // ---- Engineering's own edits (made in the sheet, not through the app) ----

    /// Number of data rows (header excluded, trailing empty rows excluded).
    pub fn data_rows(&self, tab: &str) -> usize {
        self.tabs.get(tab).map_or(0, |r| Self::data_end(r) - 1)
    }

    /// Appends a row after the last row with data; returns its 1-based number.
    pub fn append_row(&mut self, tab: &str, cells: Vec<RawCell>) -> Result<u32, WorkbookError> {
        let rows = self.tab_mut(tab)?;
        let end = Self::data_end(rows);
        rows.truncate(end);
        rows.push(cells);
        Ok(rows.len() as u32)
    }

    pub fn set_cell(&mut self, tab: &str, row: u32, col: usize, value: RawCell) {
        if let (Some(rows), Some(i)) = (self.tabs.get_mut(tab), (row as usize).checked_sub(1)) {
            if rows.len() <= i {
                rows.resize(i + 1, Vec::new());
            }
            if rows[i].len() <= col {
                rows[i].resize(col + 1, RawCell::Empty);
            }
            rows[i][col] = value;
        }
    }

    /// Inserts an empty column at `at` (0-based) with `header` in row 1; every cell from `at`
    /// on moves one to the right, as Sheets' "insert column left" does.
    pub fn insert_column(&mut self, tab: &str, at: usize, header: &str) {
        if let Some(rows) = self.tabs.get_mut(tab) {
            for (i, r) in rows.iter_mut().enumerate() {
                if r.len() < at && i > 0 {
                    continue;
                }
                if r.len() < at {
                    r.resize(at, RawCell::Empty);
                }
                let v = if i == 0 {
                    RawCell::Text(header.to_string())
                } else {
                    RawCell::Empty
                };
                r.insert(at, v);
            }
        }
    }

    /// Sorts the data rows (the header stays) by column `col`, as Sheets' "sort range" does:
    /// numbers before text, empty cells last.
    pub fn sort_rows(&mut self, tab: &str, col: usize, descending: bool) {
        if let Some(rows) = self.tabs.get_mut(tab) {
            let end = Self::data_end(rows);
            let data = &mut rows[1..end];
            data.sort_by(|a, b| {
                let ka = a.get(col).cloned().unwrap_or_default();
                let kb = b.get(col).cloned().unwrap_or_default();
                let ord = sort_key(&ka).partial_cmp(&sort_key(&kb));
                let ord = ord.unwrap_or(std::cmp::Ordering::Equal);
                if descending && !matches!(ka, RawCell::Empty) && !matches!(kb, RawCell::Empty) {
                    ord.reverse()
                } else {
                    ord
                }
            });
        }
    }

    /// The workbook in the checker's dump encoding (row 0 of each tab is its header).
    pub fn to_checker(&self) -> zeues_checker::Workbook {
        let mut book = zeues_checker::Workbook::new();
        for (title, rows) in &self.tabs {
            let end = Self::data_end(rows);
            let dumped = rows[..end]
                .iter()
                .map(|r| trimmed(r).iter().map(dump_cell).collect())
                .collect();
            book = book.with_tab(title, dumped);
        }
        book
    }

    /// A stable digest of the contents (folded into the run's trace hash).
    pub fn digest(&self) -> u64 {
        let mut h = super::trace::fnv(0xcbf2_9ce4_8422_2325, b"book");
        for (title, rows) in &self.tabs {
            h = super::trace::fnv(h, title.as_bytes());
            for r in rows {
                for c in trimmed(r) {
                    let s = match c {
                        RawCell::Empty => String::new(),
                        RawCell::Text(s) => s,
                        RawCell::Number(n) => format!("#{n}"),
                        RawCell::Bool(b) => format!("?{b}"),
                    };
                    h = super::trace::fnv(h, s.as_bytes());
                    h = super::trace::fnv(h, b"\t");
                }
                h = super::trace::fnv(h, b"\n");
            }
        }
        h
    }
}

/// (class, number, text): numbers sort before text, empty last.
fn sort_key(c: &RawCell) -> (u8, f64, String) {
    match c {
        RawCell::Number(n) => (0, *n, String::new()),
        RawCell::Bool(b) => (1, f64::from(u8::from(*b)), String::new()),
        RawCell::Text(s) => (2, 0.0, s.to_lowercase()),
        RawCell::Empty => (3, 0.0, String::new()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use zeues_sync::ports::{Append, RowUpdate};

    fn book() -> Book {
        let g = Grid {
            headers: vec!["A".into(), "B".into()],
            rows: vec![
                vec![RawCell::Text("x".into()), RawCell::Number(2.0)],
                vec![RawCell::Text("y".into())],
            ],
        };
        Book::from_grids(&[("T", &g)])
    }

    #[test]
    fn a_batch_with_a_bad_address_changes_nothing() {
        let mut b = book();
        let before = b.clone();
        let batch = WriteBatch {
            updates: vec![RowUpdate {
                tab: "T".into(),
                row: 2,
                cells: vec![(1, CellValue::Number(9.0))],
            }],
            appends: vec![Append {
                tab: "Nope".into(),
                cells: vec![CellValue::text("z")],
            }],
            fence: None,
        };
        assert!(b.apply(&batch).is_err());
        assert_eq!(b, before);
    }

    #[test]
    fn appends_go_after_the_data_and_reads_beyond_it_are_empty() {
        let mut b = book();
        let n = b.append_row("T", vec![RawCell::Text("z".into())]).unwrap();
        assert_eq!(n, 4);
        let r = b.rows("T", &[4, 9]).unwrap();
        assert_eq!(r.rows[0], vec![RawCell::Text("z".into())]);
        assert!(r.rows[1].is_empty());
        assert_eq!(b.grid("T").unwrap().rows.len(), 3);
    }

    #[test]
    fn an_inserted_column_moves_the_cells_right() {
        let mut b = book();
        b.insert_column("T", 1, "N");
        assert_eq!(b.headers("T").unwrap(), vec!["A", "N", "B"]);
        assert_eq!(b.cell("T", 2, 2), RawCell::Number(2.0));
    }
}
