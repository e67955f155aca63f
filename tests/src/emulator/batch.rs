//! `spreadsheets.batchUpdate`: requests applied in order to a copy of the spreadsheet; the copy
//! replaces the original only when every request succeeded ("all or nothing"). Errors name the
//! sub-request (`Invalid requests[1].updateCells: ...`).

use std::sync::Arc;

use rand::Rng;
use serde_json::{json, Value as Json};

use super::a1::{self, Rect};
use super::cell::{FormatType, NumberFormat, Value};
use super::error::{ApiError, ApiResult};
use super::model::{Sheet, Spreadsheet, MAX_CELL_CHARS};
use super::resource;

/// Request kinds of the discovery document that the emulator does not implement.
const KNOWN_UNSUPPORTED: &[&str] = &[
    "repeatCell",
    "mergeCells",
    "unmergeCells",
    "updateBorders",
    "autoFill",
    "cutPaste",
    "copyPaste",
    "findReplace",
    "pasteData",
    "textToColumns",
    "sortRange",
    "setDataValidation",
    "setBasicFilter",
    "clearBasicFilter",
    "addFilterView",
    "deleteFilterView",
    "updateFilterView",
    "duplicateFilterView",
    "addNamedRange",
    "updateNamedRange",
    "deleteNamedRange",
    "addProtectedRange",
    "updateProtectedRange",
    "deleteProtectedRange",
    "addConditionalFormatRule",
    "updateConditionalFormatRule",
    "deleteConditionalFormatRule",
    "addChart",
    "updateChartSpec",
    "deleteEmbeddedObject",
    "updateEmbeddedObjectPosition",
    "addBanding",
    "updateBanding",
    "deleteBanding",
    "createDeveloperMetadata",
    "updateDeveloperMetadata",
    "deleteDeveloperMetadata",
    "duplicateSheet",
    "updateSpreadsheetProperties",
    "updateDimensionProperties",
    "autoResizeDimensions",
    "moveDimension",
    "deleteRange",
    "insertRange",
    "addDimensionGroup",
    "deleteDimensionGroup",
    "updateDimensionGroup",
    "randomizeRange",
    "trimWhitespace",
    "deleteDuplicates",
    "addSlicer",
    "updateSlicerSpec",
    "addDataSource",
    "updateDataSource",
    "deleteDataSource",
    "refreshDataSource",
    "cancelDataSourceRefresh",
    "addTable",
    "updateTable",
    "deleteTable",
    "addComment",
    "insertComment",
    "addCommentReply",
];

/// Applies `requests` atomically; returns the replies, in order.
pub fn apply(
    book: &mut Spreadsheet,
    requests: &[Json],
    rng: &mut impl Rng,
) -> ApiResult<Vec<Json>> {
    let mut work = book.clone();
    let mut replies = Vec::with_capacity(requests.len());
    for (i, req) in requests.iter().enumerate() {
        let obj = req.as_object().ok_or_else(|| {
            ApiError::invalid(format!("Invalid requests[{i}]: must be an object."))
        })?;
        let mut kinds = obj.iter();
        let (kind, body) = match (kinds.next(), kinds.next()) {
            (Some(kv), None) => kv,
            (None, _) => {
                return Err(ApiError::invalid(format!(
                    "Invalid requests[{i}]: No request set."
                )))
            }
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid(format!(
                    "Invalid requests[{i}]: Only one request kind may be set per request."
                )))
            }
        };
        let reply = match kind.as_str() {
            "updateCells" => update_cells(&mut work, body),
            "appendCells" => append_cells(&mut work, body),
            "appendDimension" => append_dimension(&mut work, body),
            "insertDimension" => insert_dimension(&mut work, body),
            "deleteDimension" => delete_dimension(&mut work, body),
            "addSheet" => add_sheet(&mut work, body, rng),
            "deleteSheet" => delete_sheet(&mut work, body),
            "updateSheetProperties" => update_sheet_properties(&mut work, body),
            other if KNOWN_UNSUPPORTED.contains(&other) => Err(ApiError::invalid(
                "This request kind is not implemented by the Sheets emulator.",
            )),
            other => {
                return Err(ApiError::invalid(format!(
                    "Invalid JSON payload received. Unknown name \"{other}\" at 'requests[{i}]': Cannot find field."
                )))
            }
        }
        .map_err(|e| e.in_request(i, kind))?;
        replies.push(reply);
    }
    *book = work;
    Ok(replies)
}

fn int(body: &Json, key: &str) -> ApiResult<Option<i64>> {
    match body.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .map(Some)
            .ok_or_else(|| {
                ApiError::invalid(format!("Invalid value at '{key}' (TYPE_INT32), {v}"))
            }),
    }
}

fn sheet_id(body: &Json, key: &str) -> ApiResult<i32> {
    Ok(int(body, key)?.unwrap_or(0) as i32)
}

fn index(body: &Json, key: &str) -> ApiResult<u32> {
    let v = int(body, key)?.unwrap_or(0);
    u32::try_from(v).map_err(|_| ApiError::invalid(format!("{key} must be non-negative: {v}")))
}

/// Which parts of a `CellData` a field mask writes.
struct CellFields {
    value: bool,
    format: bool,
}

fn cell_fields(body: &Json) -> ApiResult<CellFields> {
    let fields = body.get("fields").and_then(Json::as_str).unwrap_or("");
    if fields.trim().is_empty() {
        return Err(ApiError::invalid("At least one field must be specified."));
    }
    let mut f = CellFields {
        value: false,
        format: false,
    };
    for part in fields.split(',').map(str::trim) {
        match part {
            "*" => {
                f.value = true;
                f.format = true;
            }
            "userEnteredValue" => f.value = true,
            p if p == "userEnteredFormat" || p.starts_with("userEnteredFormat.") => f.format = true,
            // Notes, validation, text runs, hyperlinks: accepted and not modelled.
            _ => {}
        }
    }
    Ok(f)
}

/// One `CellData` -> (value, format) per the field mask; `None` = leave as is.
type CellWrite = (Option<Value>, Option<Option<Arc<NumberFormat>>>);

fn parse_cell_data(d: &Json, f: &CellFields) -> ApiResult<CellWrite> {
    let value = if f.value {
        Some(match d.get("userEnteredValue") {
            None | Some(Json::Null) => Value::Empty,
            Some(ev) => extended_to_value(ev)?,
        })
    } else {
        None
    };
    let format = if f.format {
        Some(
            match d
                .get("userEnteredFormat")
                .and_then(|f| f.get("numberFormat"))
            {
                None | Some(Json::Null) => None,
                Some(nf) => {
                    let kind_s = nf.get("type").and_then(Json::as_str).unwrap_or("");
                    let kind = FormatType::parse(kind_s).ok_or_else(|| {
                        ApiError::invalid(format!(
                            "Invalid value at 'number_format.type' (type.googleapis.com/google.apps.sheets.v4.NumberFormatType), \"{kind_s}\""
                        ))
                    })?;
                    let pattern = nf.get("pattern").and_then(Json::as_str).unwrap_or("");
                    Some(NumberFormat::new(kind, pattern))
                }
            },
        )
    } else {
        None
    };
    Ok((value, format))
}

fn extended_to_value(ev: &Json) -> ApiResult<Value> {
    let obj = ev
        .as_object()
        .ok_or_else(|| ApiError::invalid("userEnteredValue must be an ExtendedValue object."))?;
    if obj.len() > 1 {
        return Err(ApiError::invalid(
            "Only one of stringValue, numberValue, boolValue, formulaValue may be set.",
        ));
    }
    let Some((k, v)) = obj.iter().next() else {
        return Ok(Value::Empty);
    };
    match (k.as_str(), v) {
        ("stringValue", Json::String(s)) => {
            if s.chars().count() > MAX_CELL_CHARS {
                return Err(ApiError::invalid(format!(
                    "Your input contains more than the maximum of {MAX_CELL_CHARS} characters in a single cell."
                )));
            }
            // A string value is text, even when it starts with `=`: never a formula.
            Ok(if s.is_empty() {
                Value::Empty
            } else {
                Value::Text(s.clone())
            })
        }
        ("numberValue", Json::Number(n)) => Ok(Value::Number(n.as_f64().unwrap_or(0.0))),
        ("numberValue", Json::String(s)) => s.parse().map(Value::Number).map_err(|_| {
            ApiError::invalid(format!(
                "Invalid value at 'number_value' (TYPE_DOUBLE), \"{s}\""
            ))
        }),
        ("boolValue", Json::Bool(b)) => Ok(Value::Bool(*b)),
        ("formulaValue", Json::String(s)) => Ok(Value::Formula {
            text: s.clone(),
            cached: None,
        }),
        ("errorValue", _) => Err(ApiError::invalid("errorValue cannot be written.")),
        (other, _) => Err(ApiError::invalid(format!(
            "Invalid JSON payload received. Unknown name \"{other}\": Cannot find field."
        ))),
    }
}

fn write_rows(
    sheet: &mut Sheet,
    row0: u32,
    col0: u32,
    rows: &[Json],
    f: &CellFields,
    bound: Option<Rect>,
) -> ApiResult<()> {
    // Parse and bounds-check everything before touching the sheet.
    let mut parsed = Vec::with_capacity(rows.len());
    for row in rows {
        let values = row.get("values").and_then(Json::as_array);
        let mut line = Vec::new();
        for d in values.into_iter().flatten() {
            line.push(parse_cell_data(d, f)?);
        }
        parsed.push(line);
    }
    let height = parsed.len() as u32;
    let width = parsed.iter().map(Vec::len).max().unwrap_or(0) as u32;
    if height > 0 && width > 0 {
        if row0 + height > sheet.row_count {
            return Err(ApiError::invalid(format!(
                "GridCoordinate.rowIndex[{}] is after last row in grid[{}]",
                row0 + height - 1,
                sheet.row_count.saturating_sub(1)
            )));
        }
        if col0 + width > sheet.col_count {
            return Err(ApiError::invalid(format!(
                "GridCoordinate.columnIndex[{}] is after last column in grid[{}]",
                col0 + width - 1,
                sheet.col_count.saturating_sub(1)
            )));
        }
    }
    if let Some(b) = bound {
        // With `range`, cells in the range the rows do not cover are cleared (per fields).
        for r in b.row0..b.row1.min(sheet.row_count) {
            for c in b.col0..b.col1.min(sheet.col_count) {
                if sheet.cell(r, c).is_none() {
                    continue;
                }
                let cell = sheet.cell_mut(r, c);
                if f.value {
                    cell.value = Value::Empty;
                }
                if f.format {
                    cell.format = None;
                }
            }
        }
    }
    for (r, line) in parsed.into_iter().enumerate() {
        for (c, (value, format)) in line.into_iter().enumerate() {
            let (rr, cc) = (row0 + r as u32, col0 + c as u32);
            if let Some(b) = bound {
                if rr >= b.row1 || cc >= b.col1 {
                    continue;
                }
            }
            if value.is_none() && format.is_none() {
                continue;
            }
            let cell = sheet.cell_mut(rr, cc);
            if let Some(v) = value {
                cell.value = v;
            }
            if let Some(fmt) = format {
                cell.format = fmt;
            }
        }
    }
    Ok(())
}

fn update_cells(book: &mut Spreadsheet, body: &Json) -> ApiResult<Json> {
    let f = cell_fields(body)?;
    let rows = body
        .get("rows")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    match (body.get("start"), body.get("range")) {
        (Some(start), None) => {
            let idx = book.sheet_by_id(sheet_id(start, "sheetId")?)?;
            let (r, c) = (index(start, "rowIndex")?, index(start, "columnIndex")?);
            write_rows(&mut book.sheets[idx], r, c, &rows, &f, None)?;
        }
        (None, Some(range)) => {
            let idx = book.sheet_by_id(sheet_id(range, "sheetId")?)?;
            let rect = grid_range(&book.sheets[idx], range)?;
            write_rows(
                &mut book.sheets[idx],
                rect.row0,
                rect.col0,
                &rows,
                &f,
                Some(rect),
            )?;
        }
        _ => {
            return Err(ApiError::invalid(
                "Exactly one of 'start' or 'range' must be specified.",
            ))
        }
    }
    Ok(json!({}))
}

/// A `GridRange` clipped to nothing: unbounded sides are the grid's sides.
fn grid_range(sheet: &Sheet, range: &Json) -> ApiResult<Rect> {
    let opt = |k: &str| -> ApiResult<Option<u32>> {
        int(range, k)?
            .map(|v| {
                u32::try_from(v).map_err(|_| ApiError::invalid(format!("{k} must be non-negative")))
            })
            .transpose()
    };
    let rect = Rect {
        row0: opt("startRowIndex")?.unwrap_or(0),
        col0: opt("startColumnIndex")?.unwrap_or(0),
        row1: opt("endRowIndex")?.unwrap_or(sheet.row_count),
        col1: opt("endColumnIndex")?.unwrap_or(sheet.col_count),
    };
    if rect.row1 < rect.row0 || rect.col1 < rect.col0 {
        return Err(ApiError::invalid("The range's end is before its start."));
    }
    if rect.row1 > sheet.row_count || rect.col1 > sheet.col_count {
        return Err(ApiError::invalid(format!(
            "Range ({}!{}) exceeds grid limits. Max rows: {}, max columns: {}",
            a1::quote_title(&sheet.title),
            rect.a1(),
            sheet.row_count,
            sheet.col_count
        )));
    }
    Ok(rect)
}

fn append_cells(book: &mut Spreadsheet, body: &Json) -> ApiResult<Json> {
    let f = cell_fields(body)?;
    let idx = book.sheet_by_id(sheet_id(body, "sheetId")?)?;
    let rows = body
        .get("rows")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    let sheet = &mut book.sheets[idx];
    let start = sheet.used_rows_in(0, sheet.col_count);
    let needed = start + rows.len() as u32;
    if needed > sheet.row_count {
        sheet.row_count = needed;
    }
    write_rows(sheet, start, 0, &rows, &f, None)?;
    book.check_cell_cap()?;
    Ok(json!({}))
}

fn dimension(body: &Json) -> ApiResult<bool> {
    match body.get("dimension").and_then(Json::as_str) {
        Some("ROWS") => Ok(true),
        Some("COLUMNS") => Ok(false),
        other => Err(ApiError::invalid(format!(
            "Invalid value at 'dimension' (type.googleapis.com/google.apps.sheets.v4.Dimension), \"{}\"",
            other.unwrap_or("")
        ))),
    }
}

fn append_dimension(book: &mut Spreadsheet, body: &Json) -> ApiResult<Json> {
    let idx = book.sheet_by_id(sheet_id(body, "sheetId")?)?;
    let rows = dimension(body)?;
    let length = int(body, "length")?.unwrap_or(0);
    if length <= 0 {
        return Err(ApiError::invalid("length must be greater than 0."));
    }
    let length = u32::try_from(length).map_err(|_| ApiError::invalid("length is too large."))?;
    let sheet = &mut book.sheets[idx];
    if rows {
        sheet.row_count += length;
    } else {
        if sheet.col_count + length > a1::MAX_COLUMNS {
            return Err(ApiError::invalid(format!(
                "This action would increase the number of columns in the sheet above the limit of {}.",
                a1::MAX_COLUMNS
            )));
        }
        sheet.col_count += length;
    }
    book.check_cell_cap()?;
    Ok(json!({}))
}

fn dimension_range(book: &Spreadsheet, body: &Json) -> ApiResult<(usize, bool, u32, u32)> {
    let range = body
        .get("range")
        .ok_or_else(|| ApiError::invalid("range must be specified."))?;
    let idx = book.sheet_by_id(sheet_id(range, "sheetId")?)?;
    let rows = dimension(range)?;
    let start = index(range, "startIndex")?;
    let end = index(range, "endIndex")?;
    if end <= start {
        return Err(ApiError::invalid(
            "The range's end index must be greater than its start index.",
        ));
    }
    Ok((idx, rows, start, end))
}

fn insert_dimension(book: &mut Spreadsheet, body: &Json) -> ApiResult<Json> {
    let (idx, rows, start, end) = dimension_range(book, body)?;
    let sheet = &mut book.sheets[idx];
    let limit = if rows {
        sheet.row_count
    } else {
        sheet.col_count
    };
    if start > limit {
        return Err(ApiError::invalid(format!(
            "Cannot insert at index {start}: the sheet has only {limit}."
        )));
    }
    if rows {
        sheet.insert_rows(start, end - start);
    } else {
        sheet.insert_cols(start, end - start);
    }
    book.check_cell_cap()?;
    Ok(json!({}))
}

fn delete_dimension(book: &mut Spreadsheet, body: &Json) -> ApiResult<Json> {
    let (idx, rows, start, end) = dimension_range(book, body)?;
    let sheet = &mut book.sheets[idx];
    let limit = if rows {
        sheet.row_count
    } else {
        sheet.col_count
    };
    if end > limit {
        return Err(ApiError::invalid(format!(
            "Cannot delete past the end of the grid: endIndex[{end}] > {limit}."
        )));
    }
    if end - start == limit {
        return Err(ApiError::invalid(if rows {
            "You can't delete all the rows on the sheet."
        } else {
            "You can't delete all the columns on the sheet."
        }));
    }
    if rows {
        sheet.delete_rows(start, end);
    } else {
        sheet.delete_cols(start, end);
    }
    Ok(json!({}))
}

fn title_taken(book: &Spreadsheet, title: &str, except: Option<i32>) -> bool {
    let lower = title.to_lowercase();
    book.sheets
        .iter()
        .any(|s| Some(s.id) != except && s.title.to_lowercase() == lower)
}

fn duplicate_title(title: &str) -> ApiError {
    ApiError::invalid(format!(
        "A sheet with the name \"{title}\" already exists. Please enter another name."
    ))
}

fn add_sheet(book: &mut Spreadsheet, body: &Json, rng: &mut impl Rng) -> ApiResult<Json> {
    let empty = json!({});
    let props = body.get("properties").unwrap_or(&empty);
    let id = match int(props, "sheetId")? {
        Some(id) => {
            let id = i32::try_from(id)
                .ok()
                .filter(|v| *v >= 0)
                .ok_or_else(|| ApiError::invalid("sheetId must be a non-negative int32."))?;
            if book.sheets.iter().any(|s| s.id == id) {
                return Err(ApiError::invalid(format!(
                    "A sheet with the ID {id} already exists. Please enter another ID."
                )));
            }
            id
        }
        None => loop {
            let id = rng.gen_range(1..i32::MAX);
            if book.sheets.iter().all(|s| s.id != id) {
                break id;
            }
        },
    };
    let title = match props.get("title").and_then(Json::as_str) {
        Some(t) if !t.trim().is_empty() => t.to_string(),
        _ => {
            let mut n = book.sheets.len() + 1;
            while title_taken(book, &format!("Sheet{n}"), None) {
                n += 1;
            }
            format!("Sheet{n}")
        }
    };
    if title_taken(book, &title, None) {
        return Err(duplicate_title(&title));
    }
    let grid = props.get("gridProperties").unwrap_or(&empty);
    let rows = int(grid, "rowCount")?.unwrap_or(1000);
    let cols = int(grid, "columnCount")?.unwrap_or(26);
    let (rows, cols) = match (u32::try_from(rows), u32::try_from(cols)) {
        (Ok(r), Ok(c)) if r > 0 && c > 0 && c <= a1::MAX_COLUMNS => (r, c),
        _ => return Err(ApiError::invalid("gridProperties must be positive.")),
    };
    let mut sheet = Sheet::new(id, &title, rows, cols);
    sheet.frozen_rows = int(grid, "frozenRowCount")?.unwrap_or(0).max(0) as u32;
    sheet.frozen_cols = int(grid, "frozenColumnCount")?.unwrap_or(0).max(0) as u32;
    sheet.hidden = props.get("hidden").and_then(Json::as_bool).unwrap_or(false);
    let at = int(props, "index")?.map_or(book.sheets.len(), |i| {
        (i.max(0) as usize).min(book.sheets.len())
    });
    book.sheets.insert(at, sheet);
    book.check_cell_cap()?;
    Ok(json!({ "addSheet": { "properties": resource::sheet_properties(&book.sheets[at], at) } }))
}

fn delete_sheet(book: &mut Spreadsheet, body: &Json) -> ApiResult<Json> {
    let idx = book.sheet_by_id(sheet_id(body, "sheetId")?)?;
    if book.sheets.len() == 1 {
        return Err(ApiError::invalid(
            "You can't remove all the sheets in a document.",
        ));
    }
    book.sheets.remove(idx);
    Ok(json!({}))
}

fn update_sheet_properties(book: &mut Spreadsheet, body: &Json) -> ApiResult<Json> {
    let empty = json!({});
    let props = body.get("properties").unwrap_or(&empty);
    let fields = body.get("fields").and_then(Json::as_str).unwrap_or("");
    if fields.trim().is_empty() {
        return Err(ApiError::invalid("At least one field must be specified."));
    }
    let id = sheet_id(props, "sheetId")?;
    let idx = book.sheet_by_id(id)?;
    let grid = props.get("gridProperties").unwrap_or(&empty);
    let mut paths: Vec<String> = Vec::new();
    for f in fields.split(',').map(str::trim) {
        match f {
            "*" => paths.extend(
                [
                    "title",
                    "index",
                    "hidden",
                    "gridProperties.rowCount",
                    "gridProperties.columnCount",
                    "gridProperties.frozenRowCount",
                    "gridProperties.frozenColumnCount",
                ]
                .map(String::from),
            ),
            "gridProperties" => paths.extend(
                [
                    "gridProperties.rowCount",
                    "gridProperties.columnCount",
                    "gridProperties.frozenRowCount",
                    "gridProperties.frozenColumnCount",
                ]
                .map(String::from),
            ),
            other => paths.push(other.to_string()),
        }
    }
    let mut new_index = None;
    for p in &paths {
        let sheet = &mut book.sheets[idx];
        match p.as_str() {
            "title" => {
                let t = props.get("title").and_then(Json::as_str).unwrap_or("");
                if t.trim().is_empty() {
                    return Err(ApiError::invalid("The sheet name cannot be empty."));
                }
                let t = t.to_string();
                if title_taken(book, &t, Some(id)) {
                    return Err(duplicate_title(&t));
                }
                book.sheets[idx].title = t;
            }
            "index" => new_index = Some(index(props, "index")? as usize),
            "hidden" => sheet.hidden = props.get("hidden").and_then(Json::as_bool).unwrap_or(false),
            "gridProperties.rowCount" => {
                let n = index(grid, "rowCount")?;
                if n == 0 {
                    return Err(ApiError::invalid("rowCount must be greater than 0."));
                }
                sheet.row_count = n;
                sheet.truncate_to_grid();
            }
            "gridProperties.columnCount" => {
                let n = index(grid, "columnCount")?;
                if n == 0 || n > a1::MAX_COLUMNS {
                    return Err(ApiError::invalid("columnCount is out of range."));
                }
                sheet.col_count = n;
                sheet.truncate_to_grid();
            }
            "gridProperties.frozenRowCount" => sheet.frozen_rows = index(grid, "frozenRowCount")?,
            "gridProperties.frozenColumnCount" => {
                sheet.frozen_cols = index(grid, "frozenColumnCount")?
            }
            "sheetId" => {}
            "sheetType"
            | "rightToLeft"
            | "tabColor"
            | "tabColorStyle"
            | "gridProperties.hideGridlines" => {}
            other => {
                return Err(ApiError::invalid(format!(
                    "Invalid field mask: unknown field \"{other}\"."
                )))
            }
        }
    }
    if let Some(to) = new_index {
        let sheet = book.sheets.remove(idx);
        let to = to.min(book.sheets.len());
        book.sheets.insert(to, sheet);
    }
    book.check_cell_cap()?;
    Ok(json!({}))
}
