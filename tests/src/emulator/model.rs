//! The in-memory workbook: spreadsheets of sheets of typed cells, with grid limits, and the
//! value operations (read with trimming, write, append, clear) in Google's semantics.
//!
//! Rows are `Arc`ed so a batch can work on a cheap copy of the spreadsheet and swap it in only
//! when every request succeeded (all-or-nothing without copying a 100,000-row sheet).

use std::sync::Arc;

use serde_json::{json, Map, Value as Json};

use super::a1::{self, format_range, quote_title, ParsedRange, Rect};
use super::cell::{
    self, effective, parse_input, Cell, DateOrder, DateRender, Effective, InputOption,
    RenderOption, Value,
};
use super::error::{ApiError, ApiResult};
use super::formula;

/// Google's cap on cells per spreadsheet.
pub const MAX_CELLS: u64 = 10_000_000;
/// Google's cap on characters per cell.
pub const MAX_CELL_CHARS: usize = 50_000;

#[derive(Debug, Clone)]
pub struct Sheet {
    pub id: i32,
    pub title: String,
    pub row_count: u32,
    pub col_count: u32,
    pub frozen_rows: u32,
    pub frozen_cols: u32,
    pub hidden: bool,
    /// Dense up to the last touched row; each row dense up to its last touched cell.
    pub rows: Vec<Arc<Vec<Cell>>>,
}

impl Sheet {
    pub fn new(id: i32, title: &str, row_count: u32, col_count: u32) -> Self {
        Sheet {
            id,
            title: title.to_string(),
            row_count,
            col_count,
            frozen_rows: 0,
            frozen_cols: 0,
            hidden: false,
            rows: Vec::new(),
        }
    }

    pub fn cell(&self, row: u32, col: u32) -> Option<&Cell> {
        self.rows.get(row as usize)?.get(col as usize)
    }

    pub fn cell_mut(&mut self, row: u32, col: u32) -> &mut Cell {
        let (r, c) = (row as usize, col as usize);
        if self.rows.len() <= r {
            self.rows.resize_with(r + 1, || Arc::new(Vec::new()));
        }
        let row = Arc::make_mut(&mut self.rows[r]);
        if row.len() <= c {
            row.resize_with(c + 1, Cell::default);
        }
        &mut row[c]
    }

    /// Index after the last row holding a value, looking only at columns `cols`.
    pub fn used_rows_in(&self, col0: u32, col1: u32) -> u32 {
        for (i, row) in self.rows.iter().enumerate().rev() {
            let end = (col1 as usize).min(row.len());
            let start = (col0 as usize).min(end);
            if row[start..end].iter().any(Cell::has_value) {
                return i as u32 + 1;
            }
        }
        0
    }

    fn row_has_value(&self, row: u32, col0: u32, col1: u32) -> bool {
        self.rows.get(row as usize).is_some_and(|r| {
            let end = (col1 as usize).min(r.len());
            let start = (col0 as usize).min(end);
            r[start..end].iter().any(Cell::has_value)
        })
    }

    pub fn cells(&self) -> u64 {
        self.row_count as u64 * self.col_count as u64
    }

    /// Drops cells outside the grid after a shrink.
    pub fn truncate_to_grid(&mut self) {
        self.rows.truncate(self.row_count as usize);
        let cols = self.col_count as usize;
        for row in &mut self.rows {
            if row.len() > cols {
                Arc::make_mut(row).truncate(cols);
            }
        }
    }

    pub fn insert_rows(&mut self, at: u32, n: u32) {
        let at = at as usize;
        if at < self.rows.len() {
            let blank: Vec<Arc<Vec<Cell>>> = (0..n).map(|_| Arc::new(Vec::new())).collect();
            self.rows.splice(at..at, blank);
        }
        self.row_count += n;
    }

    pub fn delete_rows(&mut self, start: u32, end: u32) {
        let len = self.rows.len();
        let (s, e) = ((start as usize).min(len), (end as usize).min(len));
        self.rows.drain(s..e);
        self.row_count -= end - start;
    }

    pub fn insert_cols(&mut self, at: u32, n: u32) {
        let at = at as usize;
        for row in &mut self.rows {
            if at < row.len() {
                let row = Arc::make_mut(row);
                let blank: Vec<Cell> = (0..n).map(|_| Cell::default()).collect();
                row.splice(at..at, blank);
            }
        }
        self.col_count += n;
    }

    pub fn delete_cols(&mut self, start: u32, end: u32) {
        for row in &mut self.rows {
            let len = row.len();
            let (s, e) = ((start as usize).min(len), (end as usize).min(len));
            if s < e {
                Arc::make_mut(row).drain(s..e);
            }
        }
        self.col_count -= end - start;
    }

    pub fn whole(&self) -> Rect {
        Rect {
            row0: 0,
            col0: 0,
            row1: self.row_count,
            col1: self.col_count,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Spreadsheet {
    pub id: String,
    pub title: String,
    pub locale: String,
    pub time_zone: String,
    /// `None` = every account may use it; otherwise the `client_email`s it is shared with.
    pub shared_with: Option<Vec<String>>,
    pub sheets: Vec<Sheet>,
}

/// A range resolved against a spreadsheet.
#[derive(Debug, Clone)]
pub struct Target {
    pub sheet: usize,
    /// Requested rectangle; unbounded ends are the grid's ends.
    pub rect: Rect,
    /// A single cell (`A1`) or sheet-only range: writes may extend right and down from it.
    pub open: bool,
    /// What the client wrote, for messages.
    pub text: String,
}

/// `ValueRange` of a read.
pub struct ReadResult {
    pub range: String,
    pub values: Option<Vec<Json>>,
}

/// Shape of a write, for `UpdateValuesResponse`.
#[derive(Debug, Clone, Default)]
pub struct WriteResult {
    pub range: String,
    pub rows: u32,
    pub cols: u32,
    pub cells: u32,
    pub rect: Option<Rect>,
    pub sheet: usize,
}

impl WriteResult {
    pub fn to_json(&self, spreadsheet_id: &str) -> Json {
        let mut m = Map::new();
        m.insert("spreadsheetId".into(), json!(spreadsheet_id));
        m.insert("updatedRange".into(), json!(self.range));
        if self.cells > 0 {
            m.insert("updatedRows".into(), json!(self.rows));
            m.insert("updatedColumns".into(), json!(self.cols));
            m.insert("updatedCells".into(), json!(self.cells));
        }
        Json::Object(m)
    }
}

impl Spreadsheet {
    pub fn sheet_by_id(&self, id: i32) -> ApiResult<usize> {
        self.sheets
            .iter()
            .position(|s| s.id == id)
            .ok_or_else(|| ApiError::invalid(format!("No grid with id: {id}")))
    }

    pub fn sheet_by_title(&self, title: &str) -> Option<usize> {
        self.sheets
            .iter()
            .position(|s| s.title == title)
            .or_else(|| {
                let lower = title.to_lowercase();
                self.sheets
                    .iter()
                    .position(|s| s.title.to_lowercase() == lower)
            })
    }

    pub fn total_cells(&self) -> u64 {
        self.sheets.iter().map(Sheet::cells).sum()
    }

    pub fn check_cell_cap(&self) -> ApiResult<()> {
        if self.total_cells() > MAX_CELLS {
            return Err(ApiError::invalid(format!(
                "This action would increase the number of cells in the workbook above the limit of {MAX_CELLS} cells."
            )));
        }
        Ok(())
    }

    pub fn date_order(&self) -> DateOrder {
        DateOrder::for_locale(&self.locale)
    }

    /// Resolves an A1 range. Unknown sheets and bad syntax: "Unable to parse range".
    pub fn resolve(&self, text: &str) -> ApiResult<Target> {
        let parsed = a1::parse_range(text).ok_or_else(|| ApiError::unparseable_range(text))?;
        let ParsedRange { sheet, cells, bare } = parsed;
        let (idx, cells) = if bare && cells.is_some() {
            // A bare `A1:B2` is on the first visible sheet.
            let first = self
                .sheets
                .iter()
                .position(|s| !s.hidden)
                .or(if self.sheets.is_empty() {
                    None
                } else {
                    Some(0)
                })
                .ok_or_else(|| ApiError::unparseable_range(text))?;
            (first, cells)
        } else {
            let title = sheet.unwrap_or_default();
            let idx = self
                .sheet_by_title(&title)
                .ok_or_else(|| ApiError::unparseable_range(text))?;
            (idx, if bare { None } else { cells })
        };
        let sh = &self.sheets[idx];
        let Some(c) = cells else {
            return Ok(Target {
                sheet: idx,
                rect: sh.whole(),
                open: true,
                text: text.to_string(),
            });
        };
        let row0 = c.start.row.unwrap_or(0);
        let col0 = c.start.col.unwrap_or(0);
        let row1 = c.end.row.map_or(sh.row_count, |r| r + 1);
        let col1 = c.end.col.map_or(sh.col_count, |c| c + 1);
        // Sheets normalises reversed ranges (`B2:A1` = `A1:B2`).
        let rect = Rect {
            row0: row0.min(row1.saturating_sub(1)),
            col0: col0.min(col1.saturating_sub(1)),
            row1: row1.max(row0 + 1),
            col1: col1.max(col0 + 1),
        };
        let single = c.start == c.end && c.start.row.is_some() && c.start.col.is_some();
        Ok(Target {
            sheet: idx,
            rect,
            open: single,
            text: text.to_string(),
        })
    }

    /// Calculated value of one cell, following formulas (depth-limited against cycles).
    pub fn effective_at(&self, sheet: usize, row: u32, col: u32, depth: u32) -> Effective {
        match self.sheets[sheet].cell(row, col) {
            None => Effective::Empty,
            Some(c) => self.effective_of(sheet, c, depth),
        }
    }

    pub fn effective_of(&self, sheet: usize, c: &Cell, depth: u32) -> Effective {
        let eval = |text: &str| -> Option<Effective> {
            if depth > 32 {
                return Some(Effective::Error("#REF!".into()));
            }
            let lookup = |title: Option<&str>, r: u32, col: u32| -> Option<Effective> {
                let s = match title {
                    None => sheet,
                    Some(t) => self.sheet_by_title(t)?,
                };
                Some(self.effective_at(s, r, col, depth + 1))
            };
            formula::evaluate(text, &lookup)
        };
        effective(c, &eval)
    }

    /// `values.get` of one resolved range.
    pub fn read(
        &self,
        t: &Target,
        major_columns: bool,
        render: RenderOption,
        dates: DateRender,
    ) -> ReadResult {
        let sh = &self.sheets[t.sheet];
        // Reads are clipped to the grid.
        let rect = Rect {
            row0: t.rect.row0,
            col0: t.rect.col0,
            row1: t.rect.row1.min(sh.row_count).max(t.rect.row0),
            col1: t.rect.col1.min(sh.col_count).max(t.rect.col0),
        };
        let echo = if rect.is_empty() { t.rect } else { rect };
        let range = format_range(&sh.title, &echo);
        let last_row = (rect.row1 as usize).min(sh.rows.len()) as u32;
        // Dense matrix of rendered cells, `None` = empty.
        let mut grid: Vec<Vec<Option<Json>>> = Vec::new();
        for r in rect.row0..last_row.max(rect.row0) {
            let row = &sh.rows[r as usize];
            let end = (rect.col1 as usize).min(row.len());
            let mut out = Vec::new();
            for c in (rect.col0 as usize)..end.max(rect.col0 as usize) {
                let cell = &row[c];
                if !cell.has_value() {
                    out.push(None);
                    continue;
                }
                let eff = self.effective_of(t.sheet, cell, 0);
                let v = cell::render(cell, &eff, render, dates);
                out.push(if v == Json::String(String::new()) {
                    None
                } else {
                    Some(v)
                });
            }
            grid.push(out);
        }
        let lines: Vec<Vec<Option<Json>>> = if major_columns {
            let width = grid.iter().map(Vec::len).max().unwrap_or(0);
            (0..width)
                .map(|c| {
                    grid.iter()
                        .map(|row| row.get(c).cloned().flatten())
                        .collect()
                })
                .collect()
        } else {
            grid
        };
        let mut values: Vec<Json> = lines
            .into_iter()
            .map(|mut line| {
                while matches!(line.last(), Some(None)) {
                    line.pop();
                }
                Json::Array(
                    line.into_iter()
                        .map(|v| v.unwrap_or_else(|| Json::String(String::new())))
                        .collect(),
                )
            })
            .collect();
        while values
            .last()
            .is_some_and(|l| l.as_array().is_some_and(Vec::is_empty))
        {
            values.pop();
        }
        ReadResult {
            range,
            values: (!values.is_empty()).then_some(values),
        }
    }

    /// `Range ('Sheet'!A1001) exceeds grid limits. Max rows: 1000, max columns: 26`.
    fn check_grid(&self, sheet: usize, rect: &Rect) -> ApiResult<()> {
        let sh = &self.sheets[sheet];
        if rect.row1 <= sh.row_count && rect.col1 <= sh.col_count {
            return Ok(());
        }
        let row = if rect.row1 > sh.row_count {
            rect.row0.max(sh.row_count)
        } else {
            rect.row0
        };
        let col = if rect.col1 > sh.col_count {
            rect.col0.max(sh.col_count)
        } else {
            rect.col0
        };
        Err(ApiError::invalid(format!(
            "Range ({}!{}{}) exceeds grid limits. Max rows: {}, max columns: {}",
            quote_title(&sh.title),
            a1::column_letters(col),
            row + 1,
            sh.row_count,
            sh.col_count
        )))
    }

    /// `values.update` semantics: `rows` are already in row-major order.
    pub fn write(
        &mut self,
        t: &Target,
        rows: &[Vec<Json>],
        option: InputOption,
    ) -> ApiResult<WriteResult> {
        let height = rows.len() as u32;
        let width = rows.iter().map(Vec::len).max().unwrap_or(0) as u32;
        let (row0, col0) = (t.rect.row0, t.rect.col0);
        if !t.open {
            if height > t.rect.rows() {
                return Err(ApiError::invalid(format!(
                    "Requested writing within range [{}], but tried writing to row [{}]",
                    t.text,
                    row0 + t.rect.rows() + 1
                )));
            }
            if width > t.rect.cols() {
                return Err(ApiError::invalid(format!(
                    "Requested writing within range [{}], but tried writing to column [{}]",
                    t.text,
                    a1::column_letters(col0 + t.rect.cols())
                )));
            }
        }
        let title = self.sheets[t.sheet].title.clone();
        if height == 0 || width == 0 {
            let echo = Rect {
                row0,
                col0,
                row1: t
                    .rect
                    .row1
                    .min(self.sheets[t.sheet].row_count)
                    .max(row0 + 1),
                col1: t
                    .rect
                    .col1
                    .min(self.sheets[t.sheet].col_count)
                    .max(col0 + 1),
            };
            return Ok(WriteResult {
                range: format_range(&title, if t.open { &t.rect } else { &echo }),
                sheet: t.sheet,
                ..WriteResult::default()
            });
        }
        let rect = Rect {
            row0,
            col0,
            row1: row0 + height,
            col1: col0 + width,
        };
        self.check_grid(t.sheet, &rect)?;
        let order = self.date_order();
        // Parse everything first so a bad value leaves the sheet untouched.
        let mut parsed = Vec::with_capacity(rows.len());
        for (r, row) in rows.iter().enumerate() {
            let mut line = Vec::with_capacity(row.len());
            for (c, v) in row.iter().enumerate() {
                if let Json::String(s) = v {
                    if s.chars().count() > MAX_CELL_CHARS {
                        return Err(ApiError::invalid(format!(
                            "Your input contains more than the maximum of {MAX_CELL_CHARS} characters in a single cell."
                        )));
                    }
                }
                let p = parse_input(v, option, order).map_err(|kind| {
                    ApiError::invalid(format!("Invalid values[{r}][{c}]: {kind} {}", compact(v)))
                })?;
                line.push(p);
            }
            parsed.push(line);
        }
        let sh = &mut self.sheets[t.sheet];
        let mut cells = 0;
        for (r, line) in parsed.into_iter().enumerate() {
            for (c, p) in line.into_iter().enumerate() {
                let Some(p) = p else { continue };
                cells += 1;
                let cell = sh.cell_mut(row0 + r as u32, col0 + c as u32);
                cell.value = p.value;
                if cell.format.is_none() {
                    cell.format = p.implied;
                }
            }
        }
        Ok(WriteResult {
            range: format_range(&title, &rect),
            rows: height,
            cols: width,
            cells,
            rect: Some(rect),
            sheet: t.sheet,
        })
    }

    /// `values.append`: finds the table in the range, writes after it, grows the grid.
    /// Returns `(tableRange, result)`.
    pub fn append(
        &mut self,
        t: &Target,
        rows: &[Vec<Json>],
        option: InputOption,
        insert_rows: bool,
    ) -> ApiResult<(Option<String>, WriteResult)> {
        let sh = &self.sheets[t.sheet];
        // A single cell (`A1`) or a bare sheet searches the whole sheet from there.
        let (col0, col1) = if t.open {
            (t.rect.col0, sh.col_count.max(t.rect.col0 + 1))
        } else {
            (
                t.rect.col0,
                t.rect.col1.min(sh.col_count).max(t.rect.col0 + 1),
            )
        };
        let scan_end = if t.open {
            sh.row_count
        } else {
            t.rect.row1.min(sh.row_count)
        };
        // The table: first row with data at or below the range top, through the last row
        // before an empty row.
        let mut first = None;
        let mut r = t.rect.row0;
        while r < scan_end {
            if sh.row_has_value(r, col0, col1) {
                first = Some(r);
                break;
            }
            r += 1;
        }
        let (table, start_row, start_col) = match first {
            None => (None, t.rect.row0, t.rect.col0),
            Some(first) => {
                let mut last = first;
                while last + 1 < scan_end && sh.row_has_value(last + 1, col0, col1) {
                    last += 1;
                }
                let (mut tc0, mut tc1) = (u32::MAX, 0);
                for rr in first..=last {
                    if let Some(row) = sh.rows.get(rr as usize) {
                        for c in col0..col1.min(row.len() as u32) {
                            if row[c as usize].has_value() {
                                tc0 = tc0.min(c);
                                tc1 = tc1.max(c + 1);
                            }
                        }
                    }
                }
                let rect = Rect {
                    row0: first,
                    col0: tc0,
                    row1: last + 1,
                    col1: tc1,
                };
                (Some(format_range(&sh.title, &rect)), last + 1, tc0)
            }
        };
        let height = rows.len() as u32;
        let width = rows.iter().map(Vec::len).max().unwrap_or(0) as u32;
        let sheet = &mut self.sheets[t.sheet];
        if insert_rows && height > 0 {
            sheet.insert_rows(start_row.min(sheet.row_count), height);
        } else if start_row + height > sheet.row_count {
            sheet.row_count = start_row + height;
        }
        if start_col + width > sheet.col_count {
            sheet.col_count = start_col + width;
        }
        self.check_cell_cap()?;
        let target = Target {
            sheet: t.sheet,
            rect: Rect {
                row0: start_row,
                col0: start_col,
                row1: start_row + height.max(1),
                col1: start_col + width.max(1),
            },
            open: true,
            text: t.text.clone(),
        };
        let res = self.write(&target, rows, option)?;
        Ok((table, res))
    }

    /// `values.clear`: values go, formats stay. Returns the cleared range.
    pub fn clear(&mut self, t: &Target) -> String {
        let sh = &mut self.sheets[t.sheet];
        let rect = Rect {
            row0: t.rect.row0,
            col0: t.rect.col0,
            row1: t.rect.row1.min(sh.row_count).max(t.rect.row0 + 1),
            col1: t.rect.col1.min(sh.col_count).max(t.rect.col0 + 1),
        };
        let last = (rect.row1 as usize).min(sh.rows.len());
        for r in (rect.row0 as usize)..last.max(rect.row0 as usize) {
            if sh.rows[r].len() <= rect.col0 as usize {
                continue;
            }
            let row = Arc::make_mut(&mut sh.rows[r]);
            let end = (rect.col1 as usize).min(row.len());
            for cell in &mut row[rect.col0 as usize..end] {
                cell.value = Value::Empty;
            }
        }
        format_range(&sh.title, &rect)
    }
}

fn compact(v: &Json) -> String {
    match v {
        Json::Array(_) => "{ values { ... } }".to_string(),
        Json::Object(_) => "{ fields { ... } }".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn book() -> Spreadsheet {
        let mut s = Sheet::new(0, "Jon's Spools", 10, 5);
        for (r, row) in [["TAG", "N"], ["SP-1", "2"], ["SP-2", "3"]]
            .iter()
            .enumerate()
        {
            for (c, v) in row.iter().enumerate() {
                s.cell_mut(r as u32, c as u32).value = Value::Text((*v).to_string());
            }
        }
        Spreadsheet {
            id: "x".into(),
            title: "t".into(),
            locale: "en_US".into(),
            time_zone: "Etc/UTC".into(),
            shared_with: None,
            sheets: vec![s, Sheet::new(7, "Other", 5, 5)],
        }
    }

    #[test]
    fn whole_column_read_echoes_the_grid_and_trims() {
        let b = book();
        let t = b.resolve("'Jon''s Spools'!A:C").unwrap();
        let r = b.read(&t, false, RenderOption::Formatted, DateRender::SerialNumber);
        assert_eq!(r.range, "'Jon''s Spools'!A1:C10");
        assert_eq!(r.values.unwrap().len(), 3);
        let empty = b.resolve("Other!A1:B2").unwrap();
        assert!(b
            .read(
                &empty,
                false,
                RenderOption::Formatted,
                DateRender::SerialNumber
            )
            .values
            .is_none());
    }

    #[test]
    fn writes_past_the_grid_fail_like_google() {
        let mut b = book();
        let t = b.resolve("Other!A5").unwrap();
        let err = b
            .write(&t, &[vec![json!(1)], vec![json!(2)]], InputOption::Raw)
            .unwrap_err();
        assert_eq!(
            err.message,
            "Range (Other!A6) exceeds grid limits. Max rows: 5, max columns: 5"
        );
    }

    #[test]
    fn bounded_range_smaller_than_data_fails() {
        let mut b = book();
        let t = b.resolve("Other!A1:B1").unwrap();
        let err = b
            .write(&t, &[vec![json!(1), json!(2), json!(3)]], InputOption::Raw)
            .unwrap_err();
        assert_eq!(
            err.message,
            "Requested writing within range [Other!A1:B1], but tried writing to column [C]"
        );
    }

    #[test]
    fn append_goes_after_the_table_and_grows() {
        let mut b = book();
        let t = b.resolve("'Jon''s Spools'!A1").unwrap();
        let rows: Vec<Vec<Json>> = (0..10).map(|i| vec![json!(format!("N{i}"))]).collect();
        let (table, res) = b.append(&t, &rows, InputOption::Raw, false).unwrap();
        assert_eq!(table.as_deref(), Some("'Jon''s Spools'!A1:B3"));
        assert_eq!(res.range, "'Jon''s Spools'!A4:A13");
        assert_eq!(b.sheets[0].row_count, 13);
    }
}
