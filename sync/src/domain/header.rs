//! Columns are found by header name, never by position. Engineering inserts and moves columns
//! freely, so every read checks the header row's hash and rebuilds the map when it changed.

use std::collections::HashMap;

use unicode_normalization::{char::is_combining_mark, UnicodeNormalization};

use super::error::DomainError;

/// Case-folded, accents stripped, spaces/underscores/slashes and other punctuation-free
/// spacing removed: `Fecha_QC_Metrología` and `fecha qc metrologia` are the same column.
pub fn normalize_header(h: &str) -> String {
    h.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .filter(|c| !c.is_whitespace() && *c != '_' && *c != '/')
        .collect()
}

/// FNV-1a over the raw header cells: stable across platforms and runs, cheap on every read.
pub fn header_hash(headers: &[String]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for cell in headers {
        for b in cell.as_bytes().iter().chain(std::iter::once(&0x1f)) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    One(usize),
    /// The same normalized name on several columns: reading it would be a guess.
    Many(Vec<usize>),
}

/// A tab's `normalized name → 0-based column` map, built from its header row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMap {
    exact: HashMap<String, Slot>,
    /// `A / B` also answers to `A`, unless some column is exactly named `A`.
    alias: HashMap<String, Slot>,
    hash: u64,
    width: usize,
}

fn insert(map: &mut HashMap<String, Slot>, key: String, idx: usize) {
    map.entry(key)
        .and_modify(|slot| match slot {
            Slot::One(first) => *slot = Slot::Many(vec![*first, idx]),
            Slot::Many(v) => v.push(idx),
        })
        .or_insert(Slot::One(idx));
}

impl ColumnMap {
    pub fn from_headers(headers: &[String]) -> Self {
        let mut exact = HashMap::new();
        let mut alias = HashMap::new();
        for (idx, h) in headers.iter().enumerate() {
            let norm = normalize_header(h);
            if norm.is_empty() {
                continue;
            }
            insert(&mut exact, norm, idx);
            if let Some((head, _)) = h.split_once('/') {
                let head = normalize_header(head);
                if !head.is_empty() {
                    insert(&mut alias, head, idx);
                }
            }
        }
        ColumnMap {
            exact,
            alias,
            hash: header_hash(headers),
            width: headers.len(),
        }
    }

    fn slot(&self, name: &str) -> Option<&Slot> {
        let key = normalize_header(name);
        self.exact.get(&key).or_else(|| self.alias.get(&key))
    }

    /// The column of `name`, if exactly one column answers to it.
    pub fn find(&self, name: &str) -> Option<usize> {
        match self.slot(name) {
            Some(Slot::One(i)) => Some(*i),
            _ => None,
        }
    }

    /// The column of `name` or `ESQUEMA_INCOMPATIBLE` naming it (missing or duplicated).
    pub fn require(&self, tab: &str, name: &str) -> Result<usize, DomainError> {
        match self.slot(name) {
            Some(Slot::One(i)) => Ok(*i),
            Some(Slot::Many(cols)) => Err(DomainError::EsquemaIncompatible {
                tab: tab.to_string(),
                column: name.to_string(),
                detalle: format!(
                    "hay {} columnas con el mismo nombre ({})",
                    cols.len(),
                    cols.iter()
                        .map(|c| column_letter(*c))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
            None => Err(DomainError::EsquemaIncompatible {
                tab: tab.to_string(),
                column: name.to_string(),
                detalle: "falta la columna".to_string(),
            }),
        }
    }

    /// The first of `names` that is missing or ambiguous, as an error; all present → Ok.
    pub fn require_all(&self, tab: &str, names: &[&str]) -> Result<(), DomainError> {
        for n in names {
            self.require(tab, n)?;
        }
        Ok(())
    }

    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// Number of header cells (the grid may be wider).
    pub fn width(&self) -> usize {
        self.width
    }

    /// Whether `headers` is the header row this map was built from.
    pub fn matches(&self, headers: &[String]) -> bool {
        header_hash(headers) == self.hash
    }
}

/// `0 → A`, `25 → Z`, `26 → AA`.
pub fn column_letter(idx: usize) -> String {
    let mut n = idx + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn hs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn normalization_ignores_case_accents_and_spacing() {
        assert_eq!(normalize_header("Fecha_QC_Metrología"), "fechaqcmetrologia");
        assert_eq!(
            normalize_header("  fecha qc METROLOGIA "),
            "fechaqcmetrologia"
        );
        assert_eq!(normalize_header("N°_Informe_UT_ RX"), "n°informeutrx");
    }

    #[test]
    fn finds_by_name_wherever_the_column_is() {
        let m = ColumnMap::from_headers(&hs(&["id", "NV", "TAG_SPOOL / CODIGO_BARRA", "Armador"]));
        assert_eq!(m.find("TAG_SPOOL"), Some(2));
        assert_eq!(m.find("tag spool codigo barra"), Some(2));
        assert_eq!(m.find("ARMADOR"), Some(3));
        assert_eq!(m.find("Soldador"), None);
    }

    #[test]
    fn exact_name_wins_over_alias() {
        let m = ColumnMap::from_headers(&hs(&["TAG_SPOOL / X", "TAG_SPOOL"]));
        assert_eq!(m.find("TAG_SPOOL"), Some(1));
    }

    #[test]
    fn missing_and_duplicated_columns_fail_closed() {
        let m = ColumnMap::from_headers(&hs(&["TAG_SPOOL", "Armador", "armador"]));
        let e = m.require("Operaciones", "Soldador").unwrap_err();
        assert_eq!(e.code(), "ESQUEMA_INCOMPATIBLE");
        assert!(e.to_string().contains("Soldador"));
        let e = m.require("Operaciones", "Armador").unwrap_err();
        assert!(e.to_string().contains("B, C"), "{e}");
    }

    #[test]
    fn drift_changes_the_hash() {
        let a = ColumnMap::from_headers(&hs(&["TAG_SPOOL", "Armador"]));
        assert!(a.matches(&hs(&["TAG_SPOOL", "Armador"])));
        assert!(!a.matches(&hs(&["TAG_SPOOL", "MatSys", "Armador"])));
    }

    #[test]
    fn letters() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(74), "BW");
    }
}
