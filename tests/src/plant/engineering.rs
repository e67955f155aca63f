//! Engineering at the sheet: people editing `Operaciones` through the Sheets API while the
//! devices sync, with their own service account (their own per-user quota, not the fleet's).
//! They append spools, type values in their own columns, type a date as text, insert a column
//! before the app's columns and sort a block of rows — the edits DOMAIN.md §1 says the app
//! must live with. Every choice comes from the simulator's seeded generator.
//!
//! The emulator has no `sortRange`; a sort here reads a block and writes it back reordered in
//! one `updateCells`. Google applies a sort atomically, so the simulator holds the devices'
//! Sheets traffic around it (see `sim.rs`): no device request is processed between the read
//! and the write, as none could be inside Google's own sort.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value as Json};
use zeues_checker::SheetRow;
use zeues_sync::domain::sheet::OPERACIONES;
use zeues_sync::ports::sheets::a1::A1Range;
use zeues_sync::ports::sheets::auth::Credentials;
use zeues_sync::ports::sheets::{GoogleSheets, SheetsConfig};

use super::BOOK;

/// Engineering's own service account.
pub const ENGINEERING_ACCOUNT: &str = "ingenieria@zeues-sim.iam.gserviceaccount.com";

/// Columns that belong to Engineering in the simulated plant (the app never writes them).
const ENGINEERING_COLUMNS: [&str; 7] = [
    "OT", "SPLIT", "Cliente", "DIAM", "Peso_Kg", "FLAG", "MatSys",
];
/// Columns a block may be sorted by.
const SORT_KEYS: [&str; 5] = ["Peso_Kg", "DIAM", "OT", "TAG_SPOOL", "id"];
/// The app's first written column: inserted columns go before it (and may shift TAG_SPOOL).
const FIRST_APP_WRITTEN: &str = "Armador";
/// At most this many columns are inserted in a run (each widens every row).
const MAX_INSERTS: u32 = 3;

/// One kind of edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Edit {
    /// A value typed in an Engineering column.
    Type,
    /// A date typed as text (in `Fecha_Materiales`, read by the app, or an Engineering column).
    DateText,
    /// A new spool appended at the end.
    Append,
    /// A column inserted before the app's columns.
    InsertColumn,
    /// A block of rows sorted by an Engineering column (needs the fleet held; see module doc).
    Sort,
}

impl Edit {
    pub fn label(self) -> &'static str {
        match self {
            Edit::Type => "ing_valor",
            Edit::DateText => "ing_fecha_texto",
            Edit::Append => "ing_spool_nuevo",
            Edit::InsertColumn => "ing_columna",
            Edit::Sort => "ing_orden",
        }
    }

    /// Draws the next edit (rates: typing is common, structure changes are rare).
    pub fn draw(rng: &mut ChaCha8Rng) -> Edit {
        match rng.gen_range(0..100) {
            0..=29 => Edit::Type,
            30..=49 => Edit::DateText,
            50..=74 => Edit::Append,
            75..=84 => Edit::InsertColumn,
            _ => Edit::Sort,
        }
    }
}

pub struct Engineering {
    sheets: GoogleSheets,
    rng: ChaCha8Rng,
    tag_prefix: String,
    sheet_id: Option<i64>,
    /// Spools appended (or tried: a write that failed may have landed), with their initial row.
    attempted: Vec<(String, SheetRow)>,
    next_spool: u32,
    inserted: u32,
}

/// Case-folded, accents and separators removed (DOMAIN.md §1's header matching).
fn norm(h: &str) -> String {
    h.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'á' => 'a',
            'é' => 'e',
            'í' => 'i',
            'ó' => 'o',
            'ú' => 'u',
            'ñ' => 'n',
            other => other,
        })
        .filter(|c| !c.is_whitespace() && *c != '_')
        .collect()
}

fn text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// The `CellData` of a value read back (`UNFORMATTED_VALUE`), keeping dates as dates.
fn cell_data(v: &Json, header: &str) -> Json {
    match v {
        Json::String(s) if s.is_empty() => json!({}),
        Json::String(s) => json!({"userEnteredValue": {"stringValue": s}}),
        Json::Bool(b) => json!({"userEnteredValue": {"boolValue": b}}),
        Json::Number(n) if norm(header).starts_with("fecha") => {
            let (kind, pattern) = if norm(header) == "fechaocupacion" {
                ("DATE_TIME", "dd-mm-yyyy hh:mm:ss")
            } else {
                ("DATE", "dd-mm-yyyy")
            };
            json!({"userEnteredValue": {"numberValue": n},
                   "userEnteredFormat": {"numberFormat": {"type": kind, "pattern": pattern}}})
        }
        Json::Number(n) => json!({"userEnteredValue": {"numberValue": n}}),
        _ => json!({}),
    }
}

/// Sort order of two cells of the key column: numbers before text, empty last.
fn cmp_cells(a: &Json, b: &Json) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Json::Number(_), _) => Ordering::Less,
        (_, Json::Number(_)) => Ordering::Greater,
        _ => {
            let (x, y) = (text(a), text(b));
            match (x.is_empty(), y.is_empty()) {
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                _ => x.cmp(&y),
            }
        }
    }
}

fn werr(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Engineering {
    /// Engineering's client, on its own key (registered with the emulator by the caller).
    pub async fn connect(base_url: &str, key: &Path, seed: u64) -> Result<Engineering, String> {
        let mut cfg = SheetsConfig::new(BOOK);
        cfg.base_url = base_url.to_string();
        cfg.request_timeout = Duration::from_secs(10);
        let sheets = GoogleSheets::connect(cfg, Credentials::ServiceAccountFile(key.to_path_buf()))
            .await
            .map_err(werr)?;
        Ok(Engineering {
            sheets,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x0e9c_1ee2),
            tag_prefix: format!("ING-{}", seed % 100_000),
            sheet_id: None,
            attempted: Vec::new(),
            next_spool: 1,
            inserted: 0,
        })
    }

    async fn sheet_id(&mut self) -> Result<i64, String> {
        if let Some(id) = self.sheet_id {
            return Ok(id);
        }
        let info = self.sheets.sheets_info().await.map_err(werr)?;
        let id = info
            .iter()
            .find(|s| s.title == OPERACIONES)
            .map(|s| s.sheet_id)
            .ok_or("la planilla no tiene Operaciones")?;
        self.sheet_id = Some(id);
        Ok(id)
    }

    async fn read(&self, range: A1Range) -> Result<Vec<Vec<Json>>, String> {
        Ok(self
            .sheets
            .values_batch_get(&[range])
            .await
            .map_err(werr)?
            .into_iter()
            .next()
            .map(|r| r.values)
            .unwrap_or_default())
    }

    async fn headers(&self) -> Result<Vec<String>, String> {
        Ok(self
            .read(A1Range::rows(OPERACIONES, 1, 1))
            .await?
            .first()
            .map(|r| r.iter().map(text).collect())
            .unwrap_or_default())
    }

    /// Data rows (1-based sheet rows) that hold a TAG, as read now.
    async fn tag_rows(&self, headers: &[String]) -> Result<Vec<u32>, String> {
        let col = col_of(headers, "TAG_SPOOL").ok_or("Operaciones sin TAG_SPOOL")?;
        let col = u32::try_from(col).map_err(werr)?;
        let rows = self
            .read(A1Range::columns_from(OPERACIONES, col, col, 2))
            .await?;
        Ok(rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.first().is_some_and(|v| !text(v).trim().is_empty()))
            .map(|(i, _)| i as u32 + 2)
            .collect())
    }

    /// Engineering's requests so far (reads, writes; retries included): not the fleet's, so
    /// kept out of its quota measure.
    pub fn calls(&self) -> (u64, u64) {
        let s = self.sheets.stats();
        (s.reads, s.writes)
    }

    async fn write(&mut self, requests: &[Json]) -> Result<(), String> {
        self.sheets
            .batch_update_requests(requests)
            .await
            .map_err(werr)
    }

    fn set_cell(&self, sheet_id: i64, row: u32, col: usize, cell: Json) -> Json {
        json!({"updateCells": {
            "start": {"sheetId": sheet_id, "rowIndex": row - 1, "columnIndex": col},
            "rows": [{"values": [cell]}],
            "fields": "userEnteredValue,userEnteredFormat.numberFormat",
        }})
    }

    /// Does one edit; returns what it did, for the log (`None`: nothing to do).
    pub async fn edit(&mut self, what: Edit) -> Result<Option<String>, String> {
        let sheet_id = self.sheet_id().await?;
        let headers = self.headers().await?;
        match what {
            Edit::Type => {
                let rows = self.tag_rows(&headers).await?;
                let cols: Vec<usize> = headers
                    .iter()
                    .enumerate()
                    .filter(|(_, h)| {
                        ENGINEERING_COLUMNS.iter().any(|e| norm(e) == norm(h))
                            || norm(h).starts_with("ingnota")
                    })
                    .map(|(i, _)| i)
                    .collect();
                let (Some(&row), Some(&col)) =
                    (rows.choose(&mut self.rng), cols.choose(&mut self.rng))
                else {
                    return Ok(None);
                };
                let cell = if self.rng.gen_bool(0.5) {
                    json!({"userEnteredValue": {"numberValue": self.rng.gen_range(1..500)}})
                } else {
                    let words = [
                        "rev B",
                        "OK",
                        "ver plano",
                        "=SUMA(A1)",
                        "-",
                        "'012",
                        "pendiente",
                    ];
                    let w = words.choose(&mut self.rng).copied().unwrap_or("OK");
                    json!({"userEnteredValue": {"stringValue": w}})
                };
                self.write(&[self.set_cell(sheet_id, row, col, cell)])
                    .await?;
                Ok(Some(format!("valor en {}{row}", headers[col])))
            }
            Edit::DateText => {
                let rows = self.tag_rows(&headers).await?;
                let Some(&row) = rows.choose(&mut self.rng) else {
                    return Ok(None);
                };
                let day = chrono::Utc::now().date_naive()
                    - chrono::Duration::days(self.rng.gen_range(0..40));
                // Forms DOMAIN.md §1 says reading accepts.
                let shown = match self.rng.gen_range(0..4) {
                    0 => day.format("%d-%m-%Y").to_string(),
                    1 => day.format("%-d/%-m/%Y").to_string(),
                    2 => day.format("%-d/%-m/%y").to_string(),
                    _ => day.format("%Y-%m-%d").to_string(),
                };
                let target = if self.rng.gen_bool(0.6) {
                    col_of(&headers, "Fecha_Materiales")
                } else {
                    let eng: Vec<usize> = headers
                        .iter()
                        .enumerate()
                        .filter(|(_, h)| {
                            ["MatSys", "FLAG", "Cliente"]
                                .iter()
                                .any(|e| norm(e) == norm(h))
                                || norm(h).starts_with("ingnota")
                        })
                        .map(|(i, _)| i)
                        .collect();
                    eng.choose(&mut self.rng).copied()
                };
                let Some(col) = target else {
                    return Ok(None);
                };
                let cell = json!({"userEnteredValue": {"stringValue": shown}});
                self.write(&[self.set_cell(sheet_id, row, col, cell)])
                    .await?;
                Ok(Some(format!(
                    "fecha como texto {shown:?} en {}{row}",
                    headers[col]
                )))
            }
            Edit::Append => {
                let tag = format!("{}-{:03}", self.tag_prefix, self.next_spool);
                self.next_spool += 1;
                let mut by_name: SheetRow = BTreeMap::new();
                let today = chrono::Utc::now().date_naive();
                let serial = (today
                    - chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap_or_default())
                .num_days();
                let materiales = self.rng.gen_bool(0.7);
                let mut cells = Vec::with_capacity(headers.len());
                for h in &headers {
                    let (value, cell) = match norm(h).as_str() {
                        "tagspool" => (
                            json!(tag),
                            json!({"userEnteredValue": {"stringValue": tag}}),
                        ),
                        "nv" => (
                            json!("1399"),
                            json!({"userEnteredValue": {"stringValue": "1399"}}),
                        ),
                        "ot" => (
                            json!("OT-ING"),
                            json!({"userEnteredValue": {"stringValue": "OT-ING"}}),
                        ),
                        "split" => (
                            json!("1"),
                            json!({"userEnteredValue": {"stringValue": "1"}}),
                        ),
                        "cliente" => (
                            json!("Minera Kronos"),
                            json!({"userEnteredValue": {"stringValue": "Minera Kronos"}}),
                        ),
                        "diam" => (json!(6), json!({"userEnteredValue": {"numberValue": 6}})),
                        "fechamateriales" if materiales => {
                            (json!({"number": serial}), cell_data(&json!(serial), h))
                        }
                        _ => (Json::Null, json!({})),
                    };
                    if !value.is_null() {
                        by_name.insert(h.clone(), value);
                    }
                    cells.push(cell);
                }
                self.attempted.push((tag.clone(), by_name));
                self.write(&[json!({"appendCells": {
                    "sheetId": sheet_id,
                    "rows": [{"values": cells}],
                    "fields": "userEnteredValue,userEnteredFormat.numberFormat",
                }})])
                .await?;
                Ok(Some(format!("spool nuevo {tag}")))
            }
            Edit::InsertColumn => {
                if self.inserted >= MAX_INSERTS {
                    return Ok(None);
                }
                let limit = col_of(&headers, FIRST_APP_WRITTEN).ok_or("Operaciones sin Armador")?;
                let at = self.rng.gen_range(0..=limit);
                self.inserted += 1;
                let name = format!("Ing_Nota_{}", self.inserted);
                self.write(&[
                    json!({"insertDimension": {
                        "range": {"sheetId": sheet_id, "dimension": "COLUMNS",
                                  "startIndex": at, "endIndex": at + 1},
                        "inheritFromBefore": false,
                    }}),
                    self.set_cell(
                        sheet_id,
                        1,
                        at,
                        json!({"userEnteredValue": {"stringValue": name}}),
                    ),
                ])
                .await?;
                Ok(Some(format!(
                    "columna {name} insertada en la posición {at}"
                )))
            }
            Edit::Sort => {
                let rows = self.tag_rows(&headers).await?;
                let last = rows.iter().copied().max().unwrap_or(1);
                let len = self.rng.gen_range(6..=24u32);
                if last < len + 2 {
                    return Ok(None);
                }
                let first = self.rng.gen_range(2..=last - len + 1);
                let end = first + len - 1;
                let keys: Vec<usize> = SORT_KEYS
                    .iter()
                    .filter_map(|k| col_of(&headers, k))
                    .collect();
                let Some(&key) = keys.choose(&mut self.rng) else {
                    return Ok(None);
                };
                let descending = self.rng.gen_bool(0.5);
                let mut block = self.read(A1Range::rows(OPERACIONES, first, end)).await?;
                block.resize(len as usize, Vec::new());
                let before: Vec<Vec<Json>> = block.clone();
                let null = Json::Null;
                block.sort_by(|a, b| {
                    let o = cmp_cells(a.get(key).unwrap_or(&null), b.get(key).unwrap_or(&null));
                    if descending {
                        o.reverse()
                    } else {
                        o
                    }
                });
                if block == before {
                    block.reverse();
                }
                let width = headers
                    .len()
                    .max(block.iter().map(Vec::len).max().unwrap_or(0));
                let data: Vec<Json> = block
                    .iter()
                    .map(|r| {
                        let values: Vec<Json> = (0..width)
                            .map(|c| {
                                let h = headers.get(c).map_or("", String::as_str);
                                cell_data(r.get(c).unwrap_or(&null), h)
                            })
                            .collect();
                        json!({ "values": values })
                    })
                    .collect();
                self.write(&[json!({"updateCells": {
                    "start": {"sheetId": sheet_id, "rowIndex": first - 1, "columnIndex": 0},
                    "rows": data,
                    "fields": "userEnteredValue,userEnteredFormat.numberFormat",
                }})])
                .await?;
                Ok(Some(format!(
                    "filas {first}-{end} ordenadas por {}{}",
                    headers[key],
                    if descending { " (desc)" } else { "" }
                )))
            }
        }
    }

    /// Every spool Engineering appended that is in the final sheet (a write that failed may
    /// still have landed: the final sheet says), in its initial state, for the checker.
    pub fn appended(&self, final_tags: &std::collections::HashSet<String>) -> Vec<SheetRow> {
        self.attempted
            .iter()
            .filter(|(tag, _)| final_tags.contains(&tag.to_uppercase()))
            .map(|(_, row)| row.clone())
            .collect()
    }
}

fn col_of(headers: &[String], name: &str) -> Option<usize> {
    headers.iter().position(|h| norm(h) == norm(name))
}
