//! The plant simulator (`plant-sim`): many devices as separate OS processes against a real
//! `redis-server` and the Sheets emulator, behind chaos proxies, doing what workers (and
//! Engineering, and supervisors) do on a plant's ordinary day; then the independent checker
//! (`zeues-checker`, no product code) verifies ARCHITECTURE.md §7 from the final sheet, the
//! audit log, the acked-tap logs and every device's replica.

pub mod device;
pub mod engineering;
pub mod rig;
pub mod sim;

use serde_json::{json, Value as Json};
use zeues_sync::domain::sheet::Grid;
use zeues_sync::domain::RawCell;

use crate::emulator::{SheetSeed, SpreadsheetSeed};

/// The spreadsheet id of the simulated plant.
pub const BOOK: &str = "zeues-plant-sim";
/// The service account every device uses (one quota for the fleet, as in a plant).
pub const SERVICE_ACCOUNT: &str = "zeues-planta@zeues-sim.iam.gserviceaccount.com";
/// PIN of the supervisor on every simulated device.
pub const SIM_PIN: &str = "4321";

pub fn raw_json(c: &RawCell) -> Json {
    match c {
        RawCell::Empty => Json::Null,
        RawCell::Text(s) => json!(s),
        RawCell::Number(n) => json!(n),
        RawCell::Bool(b) => json!(b),
    }
}

/// A tab in the emulator's seed form, header frozen, grid exactly as large as the data.
pub fn grid_sheet(title: &str, g: &Grid) -> SheetSeed {
    let mut rows: Vec<Vec<Json>> = vec![g.headers.iter().map(|h| json!(h)).collect()];
    rows.extend(g.rows.iter().map(|r| r.iter().map(raw_json).collect()));
    let width = rows.iter().map(Vec::len).max().unwrap_or(1);
    let mut s = SheetSeed::from_rows(title, rows);
    s.row_count = Some(g.rows.len() as u32 + 1);
    s.column_count = Some(width as u32);
    s.frozen_row_count = 1;
    s
}

/// A dumped cell as Sheets stores it (what an `UNFORMATTED_VALUE` read returns).
pub fn json_raw(v: &Json) -> RawCell {
    match v {
        Json::Null => RawCell::Empty,
        Json::String(s) => RawCell::Text(s.clone()),
        Json::Number(n) => RawCell::Number(n.as_f64().unwrap_or(f64::NAN)),
        Json::Bool(b) => RawCell::Bool(*b),
        Json::Array(_) => RawCell::Text(v.to_string()),
        Json::Object(m) => {
            if let Some(n) = m.get("number").and_then(Json::as_f64) {
                RawCell::Number(n)
            } else if let Some(s) = m.get("string").and_then(Json::as_str) {
                RawCell::Text(s.to_string())
            } else if let Some(b) = m.get("bool").and_then(Json::as_bool) {
                RawCell::Bool(b)
            } else if let Some(cached) = m.get("value") {
                json_raw(cached)
            } else {
                RawCell::Empty
            }
        }
    }
}

/// One tab of a dump as a grid (header row + data rows).
pub fn dump_grid(book: &SpreadsheetSeed, title: &str) -> Option<Grid> {
    let sheet = book.sheets.iter().find(|s| s.title == title)?;
    let mut rows = sheet.rows.iter();
    let headers = rows
        .next()
        .map(|h| h.iter().map(|c| json_raw(c).shown()).collect())
        .unwrap_or_default();
    Some(Grid {
        headers,
        rows: rows.map(|r| r.iter().map(json_raw).collect()).collect(),
    })
}
