//! The workbook as plain data (tabs of rows of dump-encoded cells) and the two ways the
//! checker reads it: a cell's value, and a column found by its normalized header name
//! (DOMAIN.md §1). Nothing here knows a rule of the plant.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::Value;

use crate::CheckerError;

/// A row given as header name → cell (used for spools Engineering appended during a run).
pub type SheetRow = BTreeMap<String, Value>;

/// Tabs by title; row 0 of each tab is its header row. Cells are in the Sheets emulator's dump
/// encoding: `null`, a string, a number, a bool, or an object (`{"number": …}`,
/// `{"string": …}`, `{"bool": …}`, `{"formula": …, "value": <cached>}`, with an optional
/// `format`). Trailing empty cells and rows may be missing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Workbook {
    pub tabs: BTreeMap<String, Vec<Vec<Value>>>,
}

impl Workbook {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a tab; `rows[0]` is the header row.
    pub fn with_tab(mut self, title: &str, rows: Vec<Vec<Value>>) -> Self {
        self.tabs.insert(title.to_string(), rows);
        self
    }

    /// Reads `{"sheets":[{"title": "...", "rows": [[...], ...]}, ...]}`; other fields ignored.
    pub fn from_dump_json(dump: &Value) -> Result<Self, CheckerError> {
        let sheets = dump
            .get("sheets")
            .and_then(Value::as_array)
            .ok_or_else(|| CheckerError::Input("dump has no \"sheets\" array".into()))?;
        let mut book = Workbook::new();
        for (i, sheet) in sheets.iter().enumerate() {
            let title = sheet
                .get("title")
                .and_then(Value::as_str)
                .ok_or_else(|| CheckerError::Input(format!("sheet {i} has no title")))?;
            let rows = match sheet.get("rows") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(rows)) => rows
                    .iter()
                    .enumerate()
                    .map(|(r, row)| match row {
                        Value::Array(cells) => Ok(cells.clone()),
                        Value::Null => Ok(Vec::new()),
                        _ => Err(CheckerError::Input(format!(
                            "{title}: row {} is not an array",
                            r + 1
                        ))),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                Some(_) => {
                    return Err(CheckerError::Input(format!(
                        "{title}: \"rows\" is not an array"
                    )))
                }
            };
            book.tabs.insert(title.to_string(), rows);
        }
        Ok(book)
    }

    /// [`Workbook::from_dump_json`] of a file.
    pub fn from_dump_file(path: &Path) -> Result<Self, CheckerError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CheckerError::Io(format!("{}: {e}", path.display())))?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| CheckerError::Input(format!("{}: {e}", path.display())))?;
        Self::from_dump_json(&v)
    }

    /// A tab by exact title, else by normalized title.
    pub fn tab(&self, title: &str) -> Option<&[Vec<Value>]> {
        if let Some(rows) = self.tabs.get(title) {
            return Some(rows);
        }
        let want = normalize_header(title);
        self.tabs
            .iter()
            .find(|(t, _)| normalize_header(t) == want)
            .map(|(_, rows)| rows.as_slice())
    }
}

/// One cell's value, decoded from the dump encoding.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Empty,
    Text(String),
    Number(f64),
    Bool(bool),
}

impl Cell {
    pub(crate) fn of(v: &Value) -> Cell {
        match v {
            Value::Null => Cell::Empty,
            Value::String(s) if s.trim().is_empty() => Cell::Empty,
            Value::String(s) => Cell::Text(s.clone()),
            Value::Number(n) => n.as_f64().map_or(Cell::Empty, Cell::Number),
            Value::Bool(b) => Cell::Bool(*b),
            Value::Array(_) => Cell::Text(v.to_string()),
            Value::Object(m) => {
                if m.contains_key("formula") {
                    m.get("value").map_or(Cell::Empty, Cell::of)
                } else if let Some(s) = m.get("string") {
                    Cell::of(s)
                } else if let Some(n) = m.get("number") {
                    Cell::of(n)
                } else if let Some(b) = m.get("bool") {
                    Cell::of(b)
                } else {
                    Cell::Empty
                }
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Cell::Empty)
    }

    /// The cell as trimmed text ("" when empty); integral numbers without a fraction.
    pub(crate) fn text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.trim().to_string(),
            Cell::Number(n) => number_text(*n),
            Cell::Bool(true) => "TRUE".into(),
            Cell::Bool(false) => "FALSE".into(),
        }
    }

    /// `Some(text)` unless empty.
    pub(crate) fn opt_text(&self) -> Option<String> {
        Some(self.text()).filter(|t| !t.is_empty())
    }
}

pub(crate) fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Case-folds, strips accents and removes spaces and underscores (DOMAIN.md §1).
pub(crate) fn normalize_header(h: &str) -> String {
    fold(h)
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .collect()
}

/// Lower case with the accents of Spanish (and common Latin) letters removed.
pub(crate) fn fold(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => 'a',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ò' | 'ó' | 'ô' | 'ö' | 'õ' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            other => other,
        })
        // Combining marks (a decomposed accent) are dropped too.
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .collect()
}

/// A tab read through its header row: columns by normalized name, data rows after it.
pub(crate) struct Table<'a> {
    cols: HashMap<String, usize>,
    /// Data rows with their 1-based sheet row number.
    pub(crate) rows: Vec<(usize, &'a [Value])>,
}

impl<'a> Table<'a> {
    pub(crate) fn new(rows: &'a [Vec<Value>]) -> Table<'a> {
        let header: Vec<String> = rows
            .first()
            .map(|h| h.iter().map(|c| Cell::of(c).text()).collect())
            .unwrap_or_default();
        Table {
            cols: header_map(&header),
            rows: rows
                .iter()
                .enumerate()
                .skip(1)
                .map(|(i, r)| (i + 1, r.as_slice()))
                .collect(),
        }
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.cols.contains_key(&normalize_header(name))
    }

    pub(crate) fn cell(&self, row: &[Value], name: &str) -> Cell {
        self.cols
            .get(&normalize_header(name))
            .and_then(|i| row.get(*i))
            .map_or(Cell::Empty, Cell::of)
    }

    pub(crate) fn is_blank(row: &[Value]) -> bool {
        row.iter().all(|c| Cell::of(c).is_empty())
    }
}

/// Normalized name → column index. A full name wins over an `A / B` alias; among equal names
/// the leftmost column wins.
pub(crate) fn header_map(header: &[String]) -> HashMap<String, usize> {
    let mut cols = HashMap::new();
    for (i, h) in header.iter().enumerate() {
        let n = normalize_header(h);
        if !n.is_empty() {
            cols.entry(n).or_insert(i);
        }
    }
    for (i, h) in header.iter().enumerate() {
        if let Some((first, _)) = h.split_once('/') {
            let n = normalize_header(first);
            if !n.is_empty() {
                cols.entry(n).or_insert(i);
            }
        }
    }
    cols
}

/// A [`SheetRow`] read through the same normalization as a tab.
pub(crate) struct RowMap {
    cells: HashMap<String, Cell>,
}

impl RowMap {
    pub(crate) fn new(row: &SheetRow) -> RowMap {
        let names: Vec<String> = row.keys().cloned().collect();
        let map = header_map(&names);
        let cells = map
            .into_iter()
            .filter_map(|(n, i)| {
                names
                    .get(i)
                    .and_then(|k| row.get(k))
                    .map(|v| (n, Cell::of(v)))
            })
            .collect();
        RowMap { cells }
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.cells.contains_key(&normalize_header(name))
    }

    pub(crate) fn cell(&self, name: &str) -> Cell {
        self.cells
            .get(&normalize_header(name))
            .cloned()
            .unwrap_or(Cell::Empty)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn headers_match_normalized_and_by_alias() {
        let m = header_map(&[
            "Fecha_QC_Metrología".into(),
            "Ocupado Por / Worker".into(),
            "ocupado_por".into(),
        ]);
        assert_eq!(m.get(&normalize_header("Fecha QC Metrologia")), Some(&0));
        // The exact name wins over the alias.
        assert_eq!(m.get(&normalize_header("Ocupado_Por")), Some(&2));
        let m = header_map(&["Ocupado Por / Worker".into()]);
        assert_eq!(m.get(&normalize_header("Ocupado_Por")), Some(&0));
    }

    #[test]
    fn cells_decode_every_dump_form() {
        assert_eq!(Cell::of(&json!(null)), Cell::Empty);
        assert_eq!(Cell::of(&json!("  ")), Cell::Empty);
        assert_eq!(
            Cell::of(&json!({"number": 46000.5, "format": {"type": "DATE"}})),
            Cell::Number(46000.5)
        );
        assert_eq!(Cell::of(&json!({"string": "x"})), Cell::Text("x".into()));
        assert_eq!(Cell::of(&json!({"bool": true})), Cell::Bool(true));
        assert_eq!(
            Cell::of(&json!({"formula": "=A1", "value": 3})),
            Cell::Number(3.0)
        );
        assert_eq!(Cell::of(&json!({"formula": "=A1"})), Cell::Empty);
        assert_eq!(Cell::Number(3.0).text(), "3");
    }

    #[test]
    fn dump_json_reads_sheets_and_ignores_other_fields() {
        let b = Workbook::from_dump_json(&json!({
            "spreadsheetId": "x",
            "sheets": [{"title": "Operaciones", "sheetId": 0, "rows": [["TAG_SPOOL"], ["A"]]},
                       {"title": "Metadata"}]
        }))
        .unwrap();
        assert_eq!(b.tab("operaciones").unwrap().len(), 2);
        assert!(b.tab("Metadata").unwrap().is_empty());
        assert!(Workbook::from_dump_json(&json!({"x": 1})).is_err());
    }
}
