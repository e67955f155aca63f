//! The `Spreadsheet` resource as `spreadsheets.get` returns it: properties, sheets and,
//! when asked for, `GridData` (`userEnteredValue`, `effectiveValue`, `formattedValue`, formats).

use serde_json::{json, Map, Value as Json};

use super::a1::Rect;
use super::cell::{self, extended_value, format_value};
use super::model::{Sheet, Spreadsheet};

/// Default row height and column width Sheets reports in dimension metadata.
const ROW_PIXELS: u32 = 21;
const COL_PIXELS: u32 = 100;

pub fn sheet_properties(sheet: &Sheet, index: usize) -> Json {
    let mut grid = Map::new();
    grid.insert("rowCount".into(), json!(sheet.row_count));
    grid.insert("columnCount".into(), json!(sheet.col_count));
    if sheet.frozen_rows > 0 {
        grid.insert("frozenRowCount".into(), json!(sheet.frozen_rows));
    }
    if sheet.frozen_cols > 0 {
        grid.insert("frozenColumnCount".into(), json!(sheet.frozen_cols));
    }
    let mut p = Map::new();
    p.insert("sheetId".into(), json!(sheet.id));
    p.insert("title".into(), json!(sheet.title));
    p.insert("index".into(), json!(index));
    p.insert("sheetType".into(), json!("GRID"));
    p.insert("gridProperties".into(), Json::Object(grid));
    if sheet.hidden {
        p.insert("hidden".into(), json!(true));
    }
    Json::Object(p)
}

/// One `GridData` block for `rect` of sheet `idx`.
pub fn grid_data(book: &Spreadsheet, idx: usize, rect: &Rect) -> Json {
    let sh = &book.sheets[idx];
    let rect = Rect {
        row0: rect.row0,
        col0: rect.col0,
        row1: rect.row1.min(sh.row_count).max(rect.row0),
        col1: rect.col1.min(sh.col_count).max(rect.col0),
    };
    let mut rows: Vec<Json> = Vec::new();
    let last = (rect.row1 as usize).min(sh.rows.len());
    for r in (rect.row0 as usize)..last.max(rect.row0 as usize) {
        let row = &sh.rows[r];
        let end = (rect.col1 as usize).min(row.len());
        let mut values: Vec<Json> = Vec::new();
        for c in (rect.col0 as usize)..end.max(rect.col0 as usize) {
            values.push(cell_data(book, idx, &row[c]));
        }
        while values
            .last()
            .is_some_and(|v| v.as_object().is_some_and(Map::is_empty))
        {
            values.pop();
        }
        rows.push(if values.is_empty() {
            json!({})
        } else {
            json!({ "values": values })
        });
    }
    while rows
        .last()
        .is_some_and(|v| v.as_object().is_some_and(Map::is_empty))
    {
        rows.pop();
    }
    let mut g = Map::new();
    if rect.row0 > 0 {
        g.insert("startRow".into(), json!(rect.row0));
    }
    if rect.col0 > 0 {
        g.insert("startColumn".into(), json!(rect.col0));
    }
    if !rows.is_empty() {
        g.insert("rowData".into(), Json::Array(rows));
    }
    g.insert(
        "rowMetadata".into(),
        Json::Array(
            (rect.row0..rect.row1)
                .map(|_| json!({ "pixelSize": ROW_PIXELS }))
                .collect(),
        ),
    );
    g.insert(
        "columnMetadata".into(),
        Json::Array(
            (rect.col0..rect.col1)
                .map(|_| json!({ "pixelSize": COL_PIXELS }))
                .collect(),
        ),
    );
    Json::Object(g)
}

fn cell_data(book: &Spreadsheet, idx: usize, c: &cell::Cell) -> Json {
    let mut m = Map::new();
    if let Some(v) = extended_value(&c.value) {
        m.insert("userEnteredValue".into(), v);
        let eff = book.effective_of(idx, c, 0);
        if let Some(e) = cell::effective_json(&eff) {
            m.insert("effectiveValue".into(), e);
        }
        m.insert(
            "formattedValue".into(),
            json!(format_value(&eff, c.format.as_deref())),
        );
    }
    if let Some(f) = &c.format {
        let nf = json!({ "numberFormat": f.as_ref() });
        m.insert("userEnteredFormat".into(), nf.clone());
        m.insert("effectiveFormat".into(), nf);
    }
    Json::Object(m)
}

/// The whole resource. `data`: per sheet index, the rectangles to include as `GridData`.
pub fn spreadsheet(book: &Spreadsheet, sheets: &[(usize, Vec<Rect>)], with_data: bool) -> Json {
    let list: Vec<Json> = sheets
        .iter()
        .map(|(idx, rects)| {
            let mut s = Map::new();
            s.insert(
                "properties".into(),
                sheet_properties(&book.sheets[*idx], *idx),
            );
            if with_data {
                s.insert(
                    "data".into(),
                    Json::Array(rects.iter().map(|r| grid_data(book, *idx, r)).collect()),
                );
            }
            Json::Object(s)
        })
        .collect();
    json!({
        "spreadsheetId": book.id,
        "properties": {
            "title": book.title,
            "locale": book.locale,
            "autoRecalc": "ON_CHANGE",
            "timeZone": book.time_zone,
        },
        "sheets": list,
        "spreadsheetUrl": format!("https://docs.google.com/spreadsheets/d/{}/edit", book.id),
    })
}

/// Every sheet, whole.
pub fn all_sheets(book: &Spreadsheet) -> Vec<(usize, Vec<Rect>)> {
    book.sheets
        .iter()
        .enumerate()
        .map(|(i, s)| (i, vec![s.whole()]))
        .collect()
}
