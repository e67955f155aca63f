//! A1 notation for the ranges the client sends and the ranges Sheets echoes back.
//!
//! Sheet titles are **always** quoted and embedded apostrophes doubled (`'Jon''s Spools'!A1:C`):
//! an unquoted title can be read as a cell (`A1`) or a named range, and a title with spaces or
//! punctuation is not even valid unquoted. Parsing accepts both forms, because Google echoes
//! titles unquoted when they need no quotes (`Operaciones!A1:C3`).

use std::fmt;

/// One end of a range: a column, a row, or both (`C`, `5`, `C5`). 0-based column, 1-based row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corner {
    pub col: Option<u32>,
    pub row: Option<u32>,
}

/// `'Title'!start[:end]`, or the whole sheet when `start` is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct A1Range {
    pub sheet: String,
    pub start: Option<Corner>,
    pub end: Option<Corner>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rango A1 no válido '{range}': {reason}")]
pub struct A1Error {
    pub range: String,
    pub reason: &'static str,
}

/// Largest column Sheets allows (ZZZ = 18 278 columns) and a generous row bound.
pub const MAX_COLUMNS: u32 = 18_278;
pub const MAX_ROWS: u32 = 10_000_000;

/// `Jon's Spools` → `'Jon''s Spools'`.
pub fn quote_title(title: &str) -> String {
    format!("'{}'", title.replace('\'', "''"))
}

/// `0 → A`, `25 → Z`, `26 → AA`.
pub fn column_letters(col: u32) -> String {
    let mut n = u64::from(col) + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = ((n - 1) % 26) as u8;
        out.push(char::from(b'A' + rem));
        n = (n - 1) / 26;
    }
    out.iter().rev().collect()
}

/// `A → 0`, `aa → 26`. `None` for anything that is not letters within the column limit.
pub fn column_index(letters: &str) -> Option<u32> {
    if letters.is_empty() || letters.len() > 3 {
        return None;
    }
    let mut n: u32 = 0;
    for c in letters.chars() {
        if !c.is_ascii_alphabetic() {
            return None;
        }
        n = n * 26 + (c.to_ascii_uppercase() as u32 - 'A' as u32 + 1);
    }
    (1..=MAX_COLUMNS).contains(&n).then(|| n - 1)
}

impl fmt::Display for Corner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(c) = self.col {
            f.write_str(&column_letters(c))?;
        }
        if let Some(r) = self.row {
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl fmt::Display for A1Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&quote_title(&self.sheet))?;
        if let Some(s) = self.start {
            write!(f, "!{s}")?;
            if let Some(e) = self.end {
                write!(f, ":{e}")?;
            }
        }
        Ok(())
    }
}

impl A1Range {
    /// The whole sheet.
    pub fn sheet(title: &str) -> Self {
        A1Range {
            sheet: title.to_string(),
            start: None,
            end: None,
        }
    }

    /// Whole rows `first..=last` (1-based): `'T'!2:2`.
    pub fn rows(title: &str, first: u32, last: u32) -> Self {
        A1Range {
            sheet: title.to_string(),
            start: Some(Corner {
                col: None,
                row: Some(first),
            }),
            end: Some(Corner {
                col: None,
                row: Some(last),
            }),
        }
    }

    /// Columns `first..=last` (0-based) from row `from_row` down to the last row with data:
    /// `'T'!C2:F`.
    pub fn columns_from(title: &str, first: u32, last: u32, from_row: u32) -> Self {
        A1Range {
            sheet: title.to_string(),
            start: Some(Corner {
                col: Some(first),
                row: Some(from_row),
            }),
            end: Some(Corner {
                col: Some(last),
                row: None,
            }),
        }
    }

    /// The block `first..=last` columns × `row_from..=row_to` rows: `'T'!C5:F5`.
    pub fn block(title: &str, first: u32, last: u32, row_from: u32, row_to: u32) -> Self {
        A1Range {
            sheet: title.to_string(),
            start: Some(Corner {
                col: Some(first),
                row: Some(row_from),
            }),
            end: Some(Corner {
                col: Some(last),
                row: Some(row_to),
            }),
        }
    }

    /// Parses `'Jon''s Spools'!A1:C`, `Operaciones!A1:C3`, `'T'!2:2`, `'T'`. A missing sheet
    /// part is refused: this client never relies on "the first visible sheet".
    pub fn parse(s: &str) -> Result<Self, A1Error> {
        let fail = |reason| A1Error {
            range: s.to_string(),
            reason,
        };
        let (sheet, rest) = if let Some(body) = s.strip_prefix('\'') {
            // Quoted title: '' is an apostrophe, a lone ' closes it.
            let mut title = String::new();
            let mut chars = body.char_indices().peekable();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                if c == '\'' {
                    if matches!(chars.peek(), Some((_, '\''))) {
                        title.push('\'');
                        chars.next();
                    } else {
                        end = Some(i + 1);
                        break;
                    }
                } else {
                    title.push(c);
                }
            }
            let end = end.ok_or_else(|| fail("falta la comilla de cierre del título"))?;
            (title, &body[end..])
        } else {
            match s.rfind('!') {
                Some(i) => (s[..i].to_string(), &s[i..]),
                None => (s.to_string(), ""),
            }
        };
        if sheet.is_empty() {
            return Err(fail("falta el título de la hoja"));
        }
        if rest.is_empty() {
            return Ok(A1Range {
                sheet,
                start: None,
                end: None,
            });
        }
        let cells = rest
            .strip_prefix('!')
            .ok_or_else(|| fail("se esperaba '!' después del título"))?;
        let (a, b) = match cells.split_once(':') {
            Some((a, b)) => (a, Some(b)),
            None => (cells, None),
        };
        let start = parse_corner(a).ok_or_else(|| fail("celda inicial no válida"))?;
        let end = match b {
            Some(b) => Some(parse_corner(b).ok_or_else(|| fail("celda final no válida"))?),
            None => None,
        };
        Ok(A1Range {
            sheet,
            start: Some(start),
            end,
        })
    }
}

fn parse_corner(s: &str) -> Option<Corner> {
    let split = s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len());
    let (letters, digits) = s.split_at(split);
    let col = if letters.is_empty() {
        None
    } else {
        Some(column_index(letters)?)
    };
    let row = if digits.is_empty() {
        None
    } else {
        if !digits.chars().all(|c| c.is_ascii_digit()) || digits.starts_with('0') {
            return None;
        }
        let r: u32 = digits.parse().ok()?;
        if r > MAX_ROWS {
            return None;
        }
        Some(r)
    };
    if col.is_none() && row.is_none() {
        return None;
    }
    Some(Corner { col, row })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn titles_are_always_quoted_and_escaped() {
        assert_eq!(quote_title("Operaciones"), "'Operaciones'");
        assert_eq!(quote_title("Jon's Spools"), "'Jon''s Spools'");
        assert_eq!(
            A1Range::columns_from("Jon's Spools", 0, 2, 1).to_string(),
            "'Jon''s Spools'!A1:C"
        );
        assert_eq!(A1Range::rows("A1", 1, 1).to_string(), "'A1'!1:1");
        assert_eq!(A1Range::sheet("x").to_string(), "'x'");
    }

    #[test]
    fn parses_what_google_echoes() {
        let r = A1Range::parse("Operaciones!A1:C3").unwrap();
        assert_eq!(r.sheet, "Operaciones");
        assert_eq!(
            r.start,
            Some(Corner {
                col: Some(0),
                row: Some(1)
            })
        );
        let r = A1Range::parse("'Jon''s Spools'!B2:B").unwrap();
        assert_eq!(r.sheet, "Jon's Spools");
        assert_eq!(
            r.end,
            Some(Corner {
                col: Some(1),
                row: None
            })
        );
        let r = A1Range::parse("'It''s!odd:'!1:2").unwrap();
        assert_eq!(r.sheet, "It's!odd:");
        assert_eq!(A1Range::parse("'Metadata'").unwrap().start, None);
    }

    #[test]
    fn refuses_garbage() {
        for bad in [
            "",
            "'unterminated",
            "'T'A1",
            "'T'!",
            "'T'!A0",
            "'T'!AAAA1",
            "'T'!1A",
            "''!A1",
        ] {
            assert!(A1Range::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn letters() {
        for (i, s) in [
            (0, "A"),
            (25, "Z"),
            (26, "AA"),
            (701, "ZZ"),
            (702, "AAA"),
            (18_277, "ZZZ"),
        ] {
            assert_eq!(column_letters(i), s);
            assert_eq!(column_index(s), Some(i));
        }
        assert_eq!(column_index("ZZZZ"), None);
        assert_eq!(column_index("A1"), None);
    }

    fn corner() -> impl Strategy<Value = Corner> {
        (
            proptest::option::of(0..MAX_COLUMNS),
            proptest::option::of(1..=MAX_ROWS),
        )
            .prop_filter("a corner names a column or a row", |(c, r)| {
                c.is_some() || r.is_some()
            })
            .prop_map(|(col, row)| Corner { col, row })
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(
            sheet in "[^\u{0}]{1,40}",
            start in proptest::option::of(corner()),
            end in proptest::option::of(corner()),
        ) {
            let r = A1Range { sheet, end: start.and(end), start };
            let text = r.to_string();
            prop_assert_eq!(A1Range::parse(&text).unwrap(), r);
        }

        #[test]
        fn whatever_parses_formats_back_to_itself(s in ".{0,60}") {
            if let Ok(r) = A1Range::parse(&s) {
                prop_assert_eq!(A1Range::parse(&r.to_string()).unwrap(), r);
            }
        }

        #[test]
        fn column_letters_round_trip(c in 0..MAX_COLUMNS) {
            prop_assert_eq!(column_index(&column_letters(c)), Some(c));
        }
    }
}
