//! The JSON form of a spreadsheet, used both to seed the emulator and to dump its state:
//!
//! ```json
//! {"spreadsheetId": "abc", "title": "ZEUES", "locale": "es_CL", "timeZone": "America/Santiago",
//!  "sheets": [{"title": "Operaciones", "sheetId": 0, "rowCount": 1000, "columnCount": 26,
//!              "frozenRowCount": 1,
//!              "rows": [["TAG", "Fecha"], ["SP-1", {"number": 46355, "format": {"type": "DATE", "pattern": "dd-mm-yyyy"}}],
//!                       [null, true, 3.5, {"formula": "=B2+1"}, {"string": "=not a formula"}]]}]}
//! ```
//!
//! A plain JSON string / number / bool is that value (never parsed); `null` is an empty cell;
//! an object gives a typed value (`string`, `number`, `bool`, `formula` with optional cached
//! `value`) and an optional number `format`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::cell::{json_number, Cell, Effective, NumberFormat, Value};
use super::error::EmulatorError;
use super::model::{Sheet, Spreadsheet};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SpreadsheetSeed {
    pub spreadsheet_id: String,
    #[serde(default = "default_title")]
    pub title: String,
    #[serde(default = "default_locale")]
    pub locale: String,
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_with: Option<Vec<String>>,
    pub sheets: Vec<SheetSeed>,
}

fn default_title() -> String {
    "Untitled spreadsheet".into()
}
fn default_locale() -> String {
    "en_US".into()
}
fn default_time_zone() -> String {
    "America/Santiago".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct SheetSeed {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet_id: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column_count: Option<u32>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub frozen_row_count: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub frozen_column_count: u32,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
    #[serde(default)]
    pub rows: Vec<Vec<Json>>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl SheetSeed {
    /// A sheet from plain rows (strings, numbers, bools, nulls).
    pub fn from_rows(title: &str, rows: Vec<Vec<Json>>) -> Self {
        SheetSeed {
            title: title.to_string(),
            rows,
            ..SheetSeed::default()
        }
    }
}

impl SpreadsheetSeed {
    pub fn new(spreadsheet_id: &str, sheets: Vec<SheetSeed>) -> Self {
        SpreadsheetSeed {
            spreadsheet_id: spreadsheet_id.to_string(),
            title: default_title(),
            locale: default_locale(),
            time_zone: default_time_zone(),
            shared_with: None,
            sheets,
        }
    }

    pub fn from_json(v: Json) -> Result<Self, EmulatorError> {
        Ok(serde_json::from_value(v)?)
    }

    pub fn build(&self) -> Result<Spreadsheet, EmulatorError> {
        let mut sheets: Vec<Sheet> = Vec::new();
        for (i, s) in self.sheets.iter().enumerate() {
            let width = s.rows.iter().map(Vec::len).max().unwrap_or(0) as u32;
            let id = s
                .sheet_id
                .unwrap_or(if i == 0 { 0 } else { 1000 + i as i32 });
            if sheets.iter().any(|o| o.id == id || o.title == s.title) {
                return Err(EmulatorError::Seed(format!(
                    "duplicate sheet id {id} or title {:?}",
                    s.title
                )));
            }
            let mut sheet = Sheet::new(
                id,
                &s.title,
                s.row_count.unwrap_or(1000).max(s.rows.len() as u32).max(1),
                s.column_count.unwrap_or(26).max(width).max(1),
            );
            sheet.frozen_rows = s.frozen_row_count;
            sheet.frozen_cols = s.frozen_column_count;
            sheet.hidden = s.hidden;
            for (r, row) in s.rows.iter().enumerate() {
                for (c, v) in row.iter().enumerate() {
                    let cell = seed_cell(v).map_err(|m| {
                        EmulatorError::Seed(format!("{}!R{}C{}: {m}", s.title, r + 1, c + 1))
                    })?;
                    if !cell.is_blank() {
                        *sheet.cell_mut(r as u32, c as u32) = cell;
                    }
                }
            }
            sheets.push(sheet);
        }
        if sheets.is_empty() {
            return Err(EmulatorError::Seed("a spreadsheet needs a sheet".into()));
        }
        let book = Spreadsheet {
            id: self.spreadsheet_id.clone(),
            title: self.title.clone(),
            locale: self.locale.clone(),
            time_zone: self.time_zone.clone(),
            shared_with: self.shared_with.clone(),
            sheets,
        };
        book.check_cell_cap()
            .map_err(|e| EmulatorError::Seed(e.message))?;
        Ok(book)
    }

    pub fn dump(book: &Spreadsheet) -> Self {
        SpreadsheetSeed {
            spreadsheet_id: book.id.clone(),
            title: book.title.clone(),
            locale: book.locale.clone(),
            time_zone: book.time_zone.clone(),
            shared_with: book.shared_with.clone(),
            sheets: book
                .sheets
                .iter()
                .map(|s| {
                    let mut rows: Vec<Vec<Json>> = s
                        .rows
                        .iter()
                        .map(|row| {
                            let mut out: Vec<Json> = row.iter().map(dump_cell).collect();
                            while out.last().is_some_and(Json::is_null) {
                                out.pop();
                            }
                            out
                        })
                        .collect();
                    while rows.last().is_some_and(Vec::is_empty) {
                        rows.pop();
                    }
                    SheetSeed {
                        title: s.title.clone(),
                        sheet_id: Some(s.id),
                        row_count: Some(s.row_count),
                        column_count: Some(s.col_count),
                        frozen_row_count: s.frozen_rows,
                        frozen_column_count: s.frozen_cols,
                        hidden: s.hidden,
                        rows,
                    }
                })
                .collect(),
        }
    }
}

fn scalar(v: &Json) -> Result<Value, String> {
    Ok(match v {
        Json::Null => Value::Empty,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        Json::String(s) if s.is_empty() => Value::Empty,
        Json::String(s) => Value::Text(s.clone()),
        other => return Err(format!("not a scalar: {other}")),
    })
}

fn seed_cell(v: &Json) -> Result<Cell, String> {
    let Json::Object(o) = v else {
        return Ok(Cell {
            value: scalar(v)?,
            format: None,
        });
    };
    let value = if let Some(f) = o.get("formula") {
        let text = f.as_str().ok_or("formula must be a string")?.to_string();
        let cached = match o.get("value") {
            None => None,
            Some(v) => Some(Box::new(match scalar(v)? {
                Value::Empty => Effective::Empty,
                Value::Text(s) if s.starts_with('#') => Effective::Error(s),
                Value::Text(s) => Effective::Text(s),
                Value::Number(n) => Effective::Number(n),
                Value::Bool(b) => Effective::Bool(b),
                Value::Formula { .. } => Effective::Empty,
            })),
        };
        Value::Formula { text, cached }
    } else if let Some(s) = o.get("string") {
        match s.as_str() {
            Some("") => Value::Empty,
            Some(s) => Value::Text(s.to_string()),
            None => return Err("string must be a string".into()),
        }
    } else if let Some(n) = o.get("number") {
        Value::Number(n.as_f64().ok_or("number must be a number")?)
    } else if let Some(b) = o.get("bool") {
        Value::Bool(b.as_bool().ok_or("bool must be a bool")?)
    } else {
        Value::Empty
    };
    let format = match o.get("format") {
        None | Some(Json::Null) => None,
        Some(f) => Some(std::sync::Arc::new(
            serde_json::from_value::<NumberFormat>(f.clone()).map_err(|e| e.to_string())?,
        )),
    };
    Ok(Cell { value, format })
}

fn dump_cell(c: &Cell) -> Json {
    let plain = match &c.value {
        Value::Empty => Json::Null,
        Value::Text(s) => Json::String(s.clone()),
        Value::Number(n) => json_number(*n),
        Value::Bool(b) => Json::Bool(*b),
        Value::Formula { text, cached } => {
            let mut m = Map::new();
            m.insert("formula".into(), Json::String(text.clone()));
            if let Some(c) = cached {
                let v = match c.as_ref() {
                    Effective::Empty => Json::Null,
                    Effective::Text(s) | Effective::Error(s) => Json::String(s.clone()),
                    Effective::Number(n) => json_number(*n),
                    Effective::Bool(b) => Json::Bool(*b),
                };
                m.insert("value".into(), v);
            }
            Json::Object(m)
        }
    };
    let Some(f) = &c.format else { return plain };
    let mut m = match plain {
        Json::Object(m) => m,
        Json::Null => Map::new(),
        other => {
            let key = match other {
                Json::String(_) => "string",
                Json::Bool(_) => "bool",
                _ => "number",
            };
            let mut m = Map::new();
            m.insert(key.into(), other);
            m
        }
    };
    m.insert(
        "format".into(),
        serde_json::to_value(f.as_ref()).unwrap_or(Json::Null),
    );
    Json::Object(m)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn seed_and_dump_round_trip() {
        let seed = SpreadsheetSeed::from_json(json!({
            "spreadsheetId": "s1",
            "sheets": [{"title": "Jon's Spools", "rows": [
                ["TAG", 1, true, null, {"formula": "=B1+1"}, {"formula": "=SUM(B1:B2)", "value": 7}],
                [{"number": 46355, "format": {"type": "DATE", "pattern": "dd-mm-yyyy"}}, {"string": "=x"}]
            ]}]
        }))
        .unwrap();
        let book = seed.build().unwrap();
        assert_eq!(book.sheets[0].row_count, 1000);
        let dumped = SpreadsheetSeed::dump(&book);
        let again = dumped.build().unwrap();
        assert_eq!(SpreadsheetSeed::dump(&again), dumped);
        assert_eq!(
            dumped.sheets[0].rows[1][1],
            json!("=x"),
            "a string that looks like a formula stays a string"
        );
    }
}
