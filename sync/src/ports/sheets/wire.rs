//! The JSON the client exchanges with the Sheets API v4: response shapes it reads, the
//! `CellData` it writes, and how `batchUpdate` requests are laid out. Pure (no I/O), unit-tested.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::domain::time::{date_to_serial, datetime_to_serial};
use crate::domain::{CellValue, RawCell};
use crate::ports::{RowUpdate, WorkbookError};

/// Number formats of the date cells the app writes (DOMAIN.md §1: `DD-MM-YYYY[ HH:MM:SS]`).
pub const DATE_PATTERN: &str = "dd-mm-yyyy";
pub const DATE_TIME_PATTERN: &str = "dd-mm-yyyy hh:mm:ss";

/// `spreadsheets.get` with the `fields` mask [`SPREADSHEET_FIELDS`].
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spreadsheet {
    #[serde(default)]
    pub spreadsheet_id: String,
    #[serde(default)]
    pub properties: Option<SpreadsheetProperties>,
    #[serde(default)]
    pub sheets: Vec<Sheet>,
}

pub const SPREADSHEET_FIELDS: &str = "spreadsheetId,properties(title,timeZone),\
sheets.properties(sheetId,title,index,gridProperties(rowCount,columnCount))";

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpreadsheetProperties {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Sheet {
    pub properties: SheetProperties,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SheetProperties {
    #[serde(default)]
    pub sheet_id: i64,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub grid_properties: Option<GridProperties>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GridProperties {
    #[serde(default)]
    pub row_count: u32,
    #[serde(default)]
    pub column_count: u32,
}

/// `values.batchGet`: one `ValueRange` per requested range, in request order.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchGet {
    #[serde(default)]
    pub value_ranges: Vec<ValueRange>,
}

/// An empty range comes back without `values` at all: that is `[]`, not an error.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValueRange {
    #[serde(default)]
    pub range: String,
    #[serde(default)]
    pub values: Vec<Vec<Value>>,
}

/// Google's error envelope (`google.rpc.Status` as JSON).
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    pub error: ApiError,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiError {
    #[serde(default)]
    pub code: u16,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub details: Vec<Value>,
}

impl ApiError {
    /// `reason` of the first `google.rpc.ErrorInfo` detail (`RATE_LIMIT_EXCEEDED`, …).
    pub fn reason(&self) -> Option<&str> {
        self.details
            .iter()
            .find(|d| {
                d.get("@type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.ends_with("google.rpc.ErrorInfo"))
            })
            .and_then(|d| d.get("reason"))
            .and_then(Value::as_str)
    }

    /// `(status) message`, for logs and user messages (never carries credentials).
    pub fn summary(&self) -> String {
        match (self.status.is_empty(), self.reason()) {
            (true, _) => format!("{} {}", self.code, self.message),
            (false, Some(r)) => format!("{} {} [{r}]: {}", self.code, self.status, self.message),
            (false, None) => format!("{} {}: {}", self.code, self.status, self.message),
        }
    }
}

/// Parses an error body; a body that is not Google's envelope (a proxy's HTML page) still gives
/// a readable message.
pub fn parse_error(status: u16, body: &[u8]) -> ApiError {
    match serde_json::from_slice::<Envelope>(body) {
        Ok(e) => e.error,
        Err(_) => ApiError {
            code: status,
            message: String::from_utf8_lossy(&body[..body.len().min(300)])
                .trim()
                .to_string(),
            status: String::new(),
            details: Vec::new(),
        },
    }
}

/// A value as read with `UNFORMATTED_VALUE` + `SERIAL_NUMBER`.
pub fn raw_cell(v: &Value) -> RawCell {
    match v {
        Value::Null => RawCell::Empty,
        Value::String(s) if s.is_empty() => RawCell::Empty,
        Value::String(s) => RawCell::Text(s.clone()),
        Value::Bool(b) => RawCell::Bool(*b),
        Value::Number(n) => n
            .as_f64()
            .map_or_else(|| RawCell::Text(n.to_string()), RawCell::Number),
        other => RawCell::Text(other.to_string()),
    }
}

pub fn raw_row(values: &[Value]) -> Vec<RawCell> {
    let mut row: Vec<RawCell> = values.iter().map(raw_cell).collect();
    trim(&mut row);
    row
}

pub fn trim(row: &mut Vec<RawCell>) {
    while matches!(row.last(), Some(RawCell::Empty)) {
        row.pop();
    }
}

fn finite(n: f64) -> Result<f64, WorkbookError> {
    if n.is_finite() {
        Ok(n)
    } else {
        Err(WorkbookError::Rejected(format!(
            "valor numérico no válido para la planilla: {n}"
        )))
    }
}

/// The `CellData` for a value. Text is always `stringValue`: a string starting with `=`, `+`,
/// `-` or `@` stays text and can never become a formula. Dates are serial numbers with a date
/// number format, so Sheets shows and sorts them as real dates.
pub fn cell_data(v: &CellValue) -> Result<Value, WorkbookError> {
    Ok(match v {
        CellValue::Empty => json!({}),
        CellValue::Text(s) => json!({"userEnteredValue": {"stringValue": s}}),
        CellValue::Number(n) => json!({"userEnteredValue": {"numberValue": finite(*n)?}}),
        CellValue::Date(d) => json!({
            "userEnteredValue": {"numberValue": date_to_serial(*d)},
            "userEnteredFormat": {"numberFormat": {"type": "DATE", "pattern": DATE_PATTERN}},
        }),
        CellValue::DateTime(t) => json!({
            "userEnteredValue": {"numberValue": datetime_to_serial(*t)},
            "userEnteredFormat": {"numberFormat": {"type": "DATE_TIME", "pattern": DATE_TIME_PATTERN}},
        }),
    })
}

fn is_date(v: &CellValue) -> bool {
    matches!(v, CellValue::Date(_) | CellValue::DateTime(_))
}

/// The field mask of a write: a date run also sets its number format; a text/number run
/// touches the value only (the plant's own formatting stays).
pub fn fields_for<'a>(values: impl IntoIterator<Item = &'a CellValue>) -> &'static str {
    if values.into_iter().any(is_date) {
        "userEnteredValue,userEnteredFormat.numberFormat"
    } else {
        "userEnteredValue"
    }
}

/// A contiguous run of columns in one row: `(first column, values)`.
pub type Run = (usize, Vec<CellValue>);

/// A row update split into contiguous column runs (later cells of the same column win, as if
/// written in order).
pub fn runs(cells: &[(usize, CellValue)]) -> Vec<Run> {
    let mut sorted: Vec<(usize, CellValue)> = Vec::with_capacity(cells.len());
    for (c, v) in cells {
        match sorted.iter_mut().find(|(x, _)| x == c) {
            Some(slot) => slot.1 = v.clone(),
            None => sorted.push((*c, v.clone())),
        }
    }
    sorted.sort_by_key(|(c, _)| *c);
    let mut out: Vec<Run> = Vec::new();
    for (c, v) in sorted {
        match out.last_mut() {
            Some((start, vals)) if *start + vals.len() == c => vals.push(v),
            _ => out.push((c, vec![v])),
        }
    }
    out
}

/// `updateCells` requests for row updates of one sheet. Consecutive rows that write the same
/// column run become one request with several rows (a migration initialising 100 000 rows is
/// one request, not 100 000).
pub fn update_cells(sheet_id: i64, updates: &[&RowUpdate]) -> Result<Vec<Value>, WorkbookError> {
    struct Block {
        row: u32,
        col: usize,
        width: usize,
        rows: Vec<Vec<CellValue>>,
    }
    let mut blocks: Vec<Block> = Vec::new();
    for u in updates {
        if u.row < 1 {
            return Err(WorkbookError::Rejected(format!(
                "fila {} no válida en '{}'",
                u.row, u.tab
            )));
        }
        for (col, vals) in runs(&u.cells) {
            let extend = matches!(blocks.last(), Some(b)
                if b.col == col && b.width == vals.len() && b.row + b.rows.len() as u32 == u.row);
            match blocks.last_mut() {
                Some(b) if extend => b.rows.push(vals),
                _ => blocks.push(Block {
                    row: u.row,
                    col,
                    width: vals.len(),
                    rows: vec![vals],
                }),
            }
        }
    }
    blocks
        .into_iter()
        .map(|b| {
            let fields = fields_for(b.rows.iter().flatten());
            let rows = b
                .rows
                .iter()
                .map(|r| {
                    let values = r.iter().map(cell_data).collect::<Result<Vec<_>, _>>()?;
                    Ok(json!({ "values": values }))
                })
                .collect::<Result<Vec<_>, WorkbookError>>()?;
            Ok(json!({"updateCells": {
                "start": {"sheetId": sheet_id, "rowIndex": b.row - 1, "columnIndex": b.col},
                "rows": rows,
                "fields": fields,
            }}))
        })
        .collect()
}

/// One `appendCells` for the rows to add at the end of a sheet (the audit log). Sheets inserts
/// rows as needed, so no grid growth is required for appends.
pub fn append_cells(sheet_id: i64, rows: &[&[CellValue]]) -> Result<Value, WorkbookError> {
    let fields = fields_for(rows.iter().flat_map(|r| r.iter()));
    let rows = rows
        .iter()
        .map(|r| {
            let values = r.iter().map(cell_data).collect::<Result<Vec<_>, _>>()?;
            Ok(json!({ "values": values }))
        })
        .collect::<Result<Vec<_>, WorkbookError>>()?;
    Ok(json!({"appendCells": {"sheetId": sheet_id, "rows": rows, "fields": fields}}))
}

pub fn append_dimension(sheet_id: i64, columns: bool, length: u32) -> Value {
    json!({"appendDimension": {
        "sheetId": sheet_id,
        "dimension": if columns { "COLUMNS" } else { "ROWS" },
        "length": length,
    }})
}

/// Shrinks (or grows) a sheet to `columns` columns: cells beyond are dropped (rollback).
pub fn set_column_count(sheet_id: i64, columns: u32) -> Value {
    json!({"updateSheetProperties": {
        "properties": {"sheetId": sheet_id, "gridProperties": {"columnCount": columns}},
        "fields": "gridProperties.columnCount",
    }})
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn reads_every_json_kind() {
        let row = raw_row(&[
            json!("TAG-1"),
            json!(46042),
            json!(46042.5),
            json!(true),
            json!(""),
            json!(null),
            json!("=SUM(A1)"),
            json!(""),
        ]);
        assert_eq!(
            row,
            vec![
                RawCell::Text("TAG-1".into()),
                RawCell::Number(46042.0),
                RawCell::Number(46042.5),
                RawCell::Bool(true),
                RawCell::Empty,
                RawCell::Empty,
                RawCell::Text("=SUM(A1)".into()),
            ]
        );
    }

    #[test]
    fn missing_values_key_is_an_empty_range() {
        let v: ValueRange =
            serde_json::from_str(r#"{"range":"'T'!A1:B2","majorDimension":"ROWS"}"#).unwrap();
        assert!(v.values.is_empty());
    }

    #[test]
    fn formulas_stay_text() {
        let v = cell_data(&CellValue::Text("=IMPORTXML(\"http://x\",\"//a\")".into())).unwrap();
        assert_eq!(
            v["userEnteredValue"]["stringValue"],
            json!("=IMPORTXML(\"http://x\",\"//a\")")
        );
        assert!(v["userEnteredValue"].get("formulaValue").is_none());
    }

    #[test]
    fn dates_are_serials_with_a_format() {
        let d = NaiveDate::from_ymd_opt(2026, 1, 20).unwrap();
        let v = cell_data(&CellValue::Date(d)).unwrap();
        assert_eq!(v["userEnteredValue"]["numberValue"], json!(46042.0));
        assert_eq!(
            v["userEnteredFormat"]["numberFormat"]["pattern"],
            json!("dd-mm-yyyy")
        );
        let t = d.and_hms_opt(12, 0, 0).unwrap();
        let v = cell_data(&CellValue::DateTime(t)).unwrap();
        assert_eq!(v["userEnteredValue"]["numberValue"], json!(46042.5));
        assert_eq!(
            v["userEnteredFormat"]["numberFormat"]["type"],
            json!("DATE_TIME")
        );
        assert!(cell_data(&CellValue::Number(f64::NAN)).is_err());
    }

    #[test]
    fn runs_split_gaps_and_keep_the_last_write() {
        let t = |s: &str| CellValue::Text(s.into());
        let r = runs(&[
            (5, t("a")),
            (3, t("b")),
            (4, t("c")),
            (9, t("d")),
            (5, t("e")),
        ]);
        assert_eq!(
            r,
            vec![(3, vec![t("b"), t("c"), t("e")]), (9, vec![t("d")])]
        );
    }

    #[test]
    fn consecutive_rows_merge_into_one_request() {
        let u = |row| RowUpdate {
            tab: "Operaciones".into(),
            row,
            cells: vec![(10, CellValue::Text("x".into())), (11, CellValue::Empty)],
        };
        let (a, b, c, far) = (u(2), u(3), u(4), u(9));
        let reqs = update_cells(7, &[&a, &b, &c, &far]).unwrap();
        assert_eq!(reqs.len(), 2);
        let first = &reqs[0]["updateCells"];
        assert_eq!(
            first["start"],
            json!({"sheetId": 7, "rowIndex": 1, "columnIndex": 10})
        );
        assert_eq!(first["rows"].as_array().unwrap().len(), 3);
        assert_eq!(first["fields"], json!("userEnteredValue"));
        assert_eq!(first["rows"][0]["values"][1], json!({}));
    }

    #[test]
    fn error_envelope() {
        let body = br#"{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED",
            "details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED"}]}}"#;
        let e = parse_error(429, body);
        assert_eq!(e.reason(), Some("RATE_LIMIT_EXCEEDED"));
        assert!(e.summary().contains("RESOURCE_EXHAUSTED"));
        let e = parse_error(502, b"<html>Bad Gateway</html>");
        assert_eq!(e.code, 502);
        assert!(e.message.contains("Bad Gateway"));
    }

    /// Property tests of the wire conversion: what the client writes reads back as the same
    /// value under `UNFORMATTED_VALUE` + `SERIAL_NUMBER`, and no JSON scalar makes it panic.
    mod props {
        use super::*;
        use crate::domain::cell::{parse_date, parse_datetime};
        use chrono::{Duration, NaiveDateTime, NaiveTime};
        use proptest::prelude::*;

        fn datetime() -> impl Strategy<Value = NaiveDateTime> {
            (0i64..=2_958_463, 0i64..86_400).prop_map(|(days, secs)| {
                let day = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN)
                    + Duration::days(days);
                day.and_time(NaiveTime::MIN) + Duration::seconds(secs)
            })
        }

        fn value() -> impl Strategy<Value = CellValue> {
            prop_oneof![
                ".{1,40}".prop_map(CellValue::Text),
                (-1e12f64..1e12).prop_map(CellValue::Number),
                any::<i32>().prop_map(|n| CellValue::Number(f64::from(n))),
                datetime().prop_map(|t| CellValue::Date(t.date())),
                datetime().prop_map(CellValue::DateTime),
            ]
        }

        /// What Sheets answers for a cell written with `data`: its `userEnteredValue`, unformatted
        /// (a string stays a string, a number — dates included — comes back as the number), sent
        /// through JSON text as on the wire.
        fn read_back(data: &Value) -> Result<Value, TestCaseError> {
            let entered = &data["userEnteredValue"];
            let v = entered
                .get("stringValue")
                .or_else(|| entered.get("numberValue"))
                .cloned()
                .unwrap_or(Value::Null);
            let text = serde_json::to_string(&v).map_err(|e| TestCaseError::fail(e.to_string()))?;
            serde_json::from_str(&text).map_err(|e| TestCaseError::fail(e.to_string()))
        }

        proptest! {
            #[test]
            fn what_is_written_reads_back_the_same(v in value()) {
                let data = cell_data(&v).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(data["userEnteredValue"].get("formulaValue").is_none());
                let raw = raw_cell(&read_back(&data)?);
                match (&raw, v.to_raw()) {
                    // serde_json (without `float_roundtrip`) may parse the last bit of a
                    // decimal differently: within an ulp or two is the same number here.
                    (RawCell::Number(a), RawCell::Number(b)) => prop_assert!(
                        (a - b).abs() <= a.abs().max(1.0) * 4.0 * f64::EPSILON,
                        "{} → {}", b, a
                    ),
                    (got, want) => prop_assert_eq!(got, &want),
                }
                match v {
                    CellValue::Date(d) => prop_assert_eq!(parse_date(&raw), Ok(Some(d))),
                    CellValue::DateTime(t) => prop_assert_eq!(parse_datetime(&raw), Ok(Some(t))),
                    _ => {}
                }
            }

            #[test]
            fn any_json_scalar_converts_without_panicking(
                v in prop_oneof![
                    Just(Value::Null),
                    any::<bool>().prop_map(Value::Bool),
                    any::<i64>().prop_map(|n| json!(n)),
                    any::<u64>().prop_map(|n| json!(n)),
                    any::<f64>().prop_map(|n| json!(n)),
                    any::<String>().prop_map(Value::String),
                ]
            ) {
                let raw = raw_cell(&v);
                let kind_kept = match (&v, &raw) {
                    (Value::Null, RawCell::Empty) | (Value::Bool(_), RawCell::Bool(_)) => true,
                    (Value::Number(_), RawCell::Number(_)) => true,
                    (Value::String(s), RawCell::Empty) => s.is_empty(),
                    (Value::String(s), RawCell::Text(t)) => s == t,
                    _ => false,
                };
                prop_assert!(kind_kept, "{:?} → {:?}", v, raw);
                // The cell parser takes whatever came off the wire (booleans: always refused).
                let date = parse_datetime(&raw);
                if matches!(raw, RawCell::Bool(_)) {
                    prop_assert!(date.is_err());
                }
                let rows = raw_row(&[v.clone(), Value::Null, json!("")]);
                prop_assert!(rows.len() <= 1);
            }
        }
    }
}
