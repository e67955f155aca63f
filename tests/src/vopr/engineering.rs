//! Engineering working in the sheet while the devices sync, as people do: new spools appended at
//! the bottom, values typed in their own columns, materials arriving (`Fecha_Materiales`, as a
//! date or typed as text), a date typed as text in one of their columns, a column inserted
//! before the app's columns, and the rows sorted. Never an app-owned cell.

use chrono::{Datelike, NaiveDate};
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::Value as Json;
use zeues_sync::domain::sheet::OPERACIONES;
use zeues_sync::domain::time::date_to_serial;
use zeues_sync::domain::{normalize_header, RawCell};

use super::book::dump_cell;
use super::world::World;

/// Engineering's columns in the demo plant's sheet (inserted ones are added as they appear).
const ENGINEERING: [&str; 8] = [
    "id", "OT", "SPLIT", "Cliente", "DIAM", "Peso_Kg", "FLAG", "MatSys",
];
const INSERTED: &str = "Obs_Ingenieria_";

fn col(headers: &[String], name: &str) -> Option<usize> {
    let want = normalize_header(name);
    headers.iter().position(|h| normalize_header(h) == want)
}

fn engineering_cols(headers: &[String]) -> Vec<usize> {
    headers
        .iter()
        .enumerate()
        .filter(|(_, h)| ENGINEERING.contains(&h.as_str()) || h.starts_with(INSERTED))
        .map(|(i, _)| i)
        .collect()
}

fn text_date(rng: &mut impl Rng, d: NaiveDate) -> String {
    match rng.gen_range(0..3) {
        0 => d.format("%d-%m-%Y").to_string(),
        1 => format!("{}/{}/{}", d.day(), d.month(), d.year()),
        _ => d.format("%Y-%m-%d").to_string(),
    }
}

/// Makes one edit (`layout`: a column inserted or the rows sorted; otherwise one that moves
/// nothing); returns what it did, and the new row when a spool was appended (its initial state,
/// for the checker).
pub fn edit(
    w: &mut World,
    today: NaiveDate,
    next_tag: &mut u32,
    layout: bool,
) -> (String, Option<zeues_checker::SheetRow>) {
    let Ok(headers) = w.book.headers(OPERACIONES) else {
        return ("sin hoja Operaciones".into(), None);
    };
    let rows = w.book.data_rows(OPERACIONES) as u32;
    let roll = if layout {
        w.rng.gen_range(77..100)
    } else {
        w.rng.gen_range(0..77)
    };
    let materials = col(&headers, "Fecha_Materiales");
    let tag_col = col(&headers, "TAG_SPOOL");
    match roll {
        0..=24 => {
            *next_tag += 1;
            let tag = format!("ING-{:04}", *next_tag);
            let mut cells = vec![RawCell::Empty; headers.len()];
            let mut set = |name: &str, v: RawCell| {
                if let Some(c) = col(&headers, name) {
                    cells[c] = v;
                }
            };
            set("TAG_SPOOL", RawCell::Text(tag.clone()));
            set("NV", RawCell::Text("1399".into()));
            set("id", RawCell::Number(f64::from(10_000 + *next_tag)));
            set("OT", RawCell::Text("OT-999".into()));
            set("Cliente", RawCell::Text("Minera Kronos".into()));
            let mat = match w.rng.gen_range(0..10) {
                0..=5 => RawCell::Number(date_to_serial(today)),
                6..=7 => RawCell::Text(text_date(&mut w.rng, today)),
                _ => RawCell::Empty,
            };
            set("Fecha_Materiales", mat);
            let row: zeues_checker::SheetRow = headers
                .iter()
                .zip(&cells)
                .filter(|(_, c)| !c.is_empty())
                .map(|(h, c)| (h.clone(), dump_cell(c)))
                .collect::<std::collections::BTreeMap<String, Json>>();
            let cells: Vec<RawCell> = {
                let end = cells
                    .iter()
                    .rposition(|c| !c.is_empty())
                    .map_or(0, |i| i + 1);
                cells[..end].to_vec()
            };
            match w.book.append_row(OPERACIONES, cells) {
                Ok(n) => (format!("nuevo spool {tag} en la fila {n}"), Some(row)),
                Err(e) => (format!("no se pudo agregar {tag}: {e}"), None),
            }
        }
        25..=49 => {
            let cols = engineering_cols(&headers);
            let Some(&c) = cols.choose(&mut w.rng) else {
                return ("sin columnas de Ingeniería".into(), None);
            };
            if rows == 0 {
                return ("hoja vacía".into(), None);
            }
            let r = w.rng.gen_range(2..rows + 2);
            let v = if w.rng.gen_bool(0.5) {
                RawCell::Number(f64::from(w.rng.gen_range(1..500_u32)))
            } else {
                RawCell::Text(format!("rev-{}", w.rng.gen_range(1..99_u32)))
            };
            let shown = v.shown();
            w.book.set_cell(OPERACIONES, r, c, v);
            (
                format!("{shown:?} escrito en {} fila {r}", headers[c]),
                None,
            )
        }
        50..=64 => {
            let Some(m) = materials else {
                return ("sin Fecha_Materiales".into(), None);
            };
            let missing: Vec<u32> = (2..rows + 2)
                .filter(|r| w.book.cell(OPERACIONES, *r, m).is_empty())
                .collect();
            let Some(&r) = missing.choose(&mut w.rng) else {
                return ("todos tienen materiales".into(), None);
            };
            let v = if w.rng.gen_bool(0.5) {
                RawCell::Number(date_to_serial(today))
            } else {
                RawCell::Text(text_date(&mut w.rng, today))
            };
            let shown = v.shown();
            w.book.set_cell(OPERACIONES, r, m, v);
            (format!("Fecha_Materiales {shown:?} en la fila {r}"), None)
        }
        65..=76 => {
            let Some(c) = col(&headers, "FLAG").or_else(|| engineering_cols(&headers).pop()) else {
                return ("sin columnas de Ingeniería".into(), None);
            };
            if rows == 0 {
                return ("hoja vacía".into(), None);
            }
            let r = w.rng.gen_range(2..rows + 2);
            let d = today - chrono::Duration::days(w.rng.gen_range(0..400));
            let t = text_date(&mut w.rng, d);
            w.book.set_cell(OPERACIONES, r, c, RawCell::Text(t.clone()));
            (
                format!("fecha como texto {t:?} en {} fila {r}", headers[c]),
                None,
            )
        }
        77..=88 => {
            let before = tag_col.unwrap_or(0);
            let at = w.rng.gen_range(0..=before);
            *next_tag += 1;
            let name = format!("{INSERTED}{}", *next_tag);
            w.book.insert_column(OPERACIONES, at, &name);
            (
                format!("columna {name} insertada en la posición {at}"),
                None,
            )
        }
        _ => {
            let keys: Vec<usize> = ["DIAM", "Peso_Kg", "OT", "id"]
                .iter()
                .filter_map(|n| col(&headers, n))
                .collect();
            let Some(&c) = keys.choose(&mut w.rng) else {
                return ("sin columna para ordenar".into(), None);
            };
            let desc = w.rng.gen_bool(0.5);
            w.book.sort_rows(OPERACIONES, c, desc);
            (
                format!(
                    "filas ordenadas por {}{}",
                    headers[c],
                    if desc { " (desc)" } else { "" }
                ),
                None,
            )
        }
    }
}
