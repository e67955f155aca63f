//! A1 notation as the Sheets API reads and echoes it: `'Jon''s Spools'!A1:C`, `Sheet1!A:A`,
//! `Sheet1!2:5`, `A5:A`, a bare sheet title, a bare cell range (first sheet).
//!
//! Parsing never looks at the spreadsheet; resolving a parsed range against the sheets (and
//! deciding whether a bare word is a sheet title or a cell reference) happens in the model.

/// One end of a range; either part may be missing (`A` in `A:C`, `5` in `5:9`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// 0-based column.
    pub col: Option<u32>,
    /// 0-based row.
    pub row: Option<u32>,
}

/// The cell part of a range, 0-based and inclusive at both ends where given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellRange {
    pub start: Endpoint,
    pub end: Endpoint,
}

/// A range as written by the client, before the sheet is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedRange {
    /// `Some` when the range named a sheet (quoted or not, or a bare word that is not a cell).
    pub sheet: Option<String>,
    /// `None` = the whole sheet.
    pub cells: Option<CellRange>,
    /// True when the text had no `!` and was not quoted: a bare word that could be a cell
    /// reference (`A1`) or a sheet title.
    pub bare: bool,
}

/// The largest column Sheets allows (`ZZZ` = 18278 columns).
pub const MAX_COLUMNS: u32 = 18_278;

/// `A` -> 0, `Z` -> 25, `AA` -> 26.
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
    (n <= MAX_COLUMNS).then(|| n - 1)
}

/// 0 -> `A`, 26 -> `AA`.
pub fn column_letters(index: u32) -> String {
    let mut n = index + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push((b'A' + rem as u8) as char);
        n = (n - 1) / 26;
    }
    out.iter().rev().collect()
}

/// `A1`, `$B$7`, `C`, `12`. Returns `None` when the text is not such an endpoint.
fn parse_endpoint(text: &str) -> Option<Endpoint> {
    let t: String = text.chars().filter(|c| *c != '$').collect();
    if t.is_empty() {
        return None;
    }
    let letters: String = t.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    let digits = &t[letters.len()..];
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let col = if letters.is_empty() {
        None
    } else {
        Some(column_index(&letters)?)
    };
    let row = if digits.is_empty() {
        None
    } else {
        let n: u32 = digits.parse().ok()?;
        if n == 0 {
            return None;
        }
        Some(n - 1)
    };
    if col.is_none() && row.is_none() {
        return None;
    }
    Some(Endpoint { col, row })
}

/// The cell part alone: `A1`, `A1:B2`, `A:C`, `2:5`, `A5:A`, `A1:5`.
pub fn parse_cells(text: &str) -> Option<CellRange> {
    let (a, b) = match text.split_once(':') {
        Some((a, b)) => (a, Some(b)),
        None => (text, None),
    };
    let start = parse_endpoint(a)?;
    let end = match b {
        None => {
            // A single endpoint must be a full cell (`A1`); `A` or `5` alone is not a range.
            if start.col.is_none() || start.row.is_none() {
                return None;
            }
            start
        }
        Some(b) => {
            let end = parse_endpoint(b)?;
            // `1:A` mixes a row-only start with a column-only end: not valid.
            if start.col.is_none() && end.col.is_some() && end.row.is_none() {
                return None;
            }
            if start.row.is_none() && start.col.is_some() && end.col.is_none() {
                return None;
            }
            end
        }
    };
    Some(CellRange { start, end })
}

/// Parses a range as a client sends it. `None` means "Unable to parse range".
pub fn parse_range(text: &str) -> Option<ParsedRange> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Some(rest) = text.strip_prefix('\'') {
        // Quoted title: '' is an escaped apostrophe; the title ends at a lone '.
        let mut title = String::new();
        let mut chars = rest.char_indices().peekable();
        let mut end_at = None;
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if matches!(chars.peek(), Some((_, '\''))) {
                    title.push('\'');
                    chars.next();
                } else {
                    end_at = Some(i + 1);
                    break;
                }
            } else {
                title.push(c);
            }
        }
        let after = &rest[end_at?..];
        if title.is_empty() {
            return None;
        }
        if after.is_empty() {
            return Some(ParsedRange {
                sheet: Some(title),
                cells: None,
                bare: false,
            });
        }
        let cells = parse_cells(after.strip_prefix('!')?)?;
        return Some(ParsedRange {
            sheet: Some(title),
            cells: Some(cells),
            bare: false,
        });
    }
    if let Some((sheet, cells)) = text.rsplit_once('!') {
        if sheet.is_empty() || sheet.contains('\'') {
            return None;
        }
        return Some(ParsedRange {
            sheet: Some(sheet.to_string()),
            cells: Some(parse_cells(cells)?),
            bare: false,
        });
    }
    Some(ParsedRange {
        sheet: Some(text.to_string()),
        cells: parse_cells(text),
        bare: true,
    })
}

/// Whether a title must be quoted when echoed in a range.
pub fn needs_quotes(title: &str) -> bool {
    let simple = title.chars().all(|c| c.is_alphanumeric() || c == '_')
        && !title.chars().next().is_some_and(|c| c.is_ascii_digit());
    // A title that reads as a cell or column reference (`A1`, `AB`) must be quoted too.
    !simple || parse_cells(title).is_some() || column_index(title).is_some()
}

/// `Jon's Spools` -> `'Jon''s Spools'`; `Spools` -> `Spools`.
pub fn quote_title(title: &str) -> String {
    if needs_quotes(title) {
        format!("'{}'", title.replace('\'', "''"))
    } else {
        title.to_string()
    }
}

/// A resolved, bounded rectangle: 0-based, end-exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub row0: u32,
    pub col0: u32,
    pub row1: u32,
    pub col1: u32,
}

impl Rect {
    pub fn rows(&self) -> u32 {
        self.row1.saturating_sub(self.row0)
    }

    pub fn cols(&self) -> u32 {
        self.col1.saturating_sub(self.col0)
    }

    pub fn is_empty(&self) -> bool {
        self.rows() == 0 || self.cols() == 0
    }

    /// `A1` for one cell, `A1:C3` otherwise.
    pub fn a1(&self) -> String {
        let start = format!("{}{}", column_letters(self.col0), self.row0 + 1);
        if self.rows() <= 1 && self.cols() <= 1 {
            start
        } else {
            format!(
                "{start}:{}{}",
                column_letters(self.col1.saturating_sub(1).max(self.col0)),
                self.row1.max(self.row0 + 1)
            )
        }
    }
}

/// `'Jon''s Spools'!A1:C3`.
pub fn format_range(title: &str, rect: &Rect) -> String {
    format!("{}!{}", quote_title(title), rect.a1())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn columns_round_trip() {
        for (i, s) in [(0, "A"), (25, "Z"), (26, "AA"), (701, "ZZ"), (702, "AAA")] {
            assert_eq!(column_letters(i), s);
            assert_eq!(column_index(s), Some(i));
        }
        assert_eq!(column_index("zzz"), Some(18_277));
        assert_eq!(column_index("ZZZZ"), None);
    }

    #[test]
    fn quoted_titles_with_apostrophes() {
        let r = parse_range("'Jon''s Spools'!A1:C").unwrap();
        assert_eq!(r.sheet.as_deref(), Some("Jon's Spools"));
        let c = r.cells.unwrap();
        assert_eq!(
            c.start,
            Endpoint {
                col: Some(0),
                row: Some(0)
            }
        );
        assert_eq!(
            c.end,
            Endpoint {
                col: Some(2),
                row: None
            }
        );
        assert_eq!(quote_title("Jon's Spools"), "'Jon''s Spools'");
        assert_eq!(quote_title("Operaciones"), "Operaciones");
        assert_eq!(quote_title("A1"), "'A1'");
        assert_eq!(parse_range("'A1'").unwrap().sheet.as_deref(), Some("A1"));
    }

    #[test]
    fn forms() {
        assert!(parse_range("Sheet1!A:A").unwrap().cells.is_some());
        let rows = parse_range("Sheet1!2:5").unwrap().cells.unwrap();
        assert_eq!(
            rows.start,
            Endpoint {
                col: None,
                row: Some(1)
            }
        );
        let bare = parse_range("A1:B2").unwrap();
        assert!(bare.bare && bare.cells.is_some());
        let title = parse_range("Operaciones").unwrap();
        assert!(title.bare && title.cells.is_none());
        assert!(parse_range("Sheet1!").is_none());
        assert!(parse_range("Sheet1!A").is_none());
        assert!(parse_range("'unterminated!A1").is_none());
        assert_eq!(
            parse_cells("$A$1:$B$2").unwrap().end,
            Endpoint {
                col: Some(1),
                row: Some(1)
            }
        );
    }

    #[test]
    fn echo() {
        let r = Rect {
            row0: 0,
            col0: 0,
            row1: 3,
            col1: 3,
        };
        assert_eq!(format_range("Jon's Spools", &r), "'Jon''s Spools'!A1:C3");
        let one = Rect {
            row0: 41,
            col0: 1,
            row1: 42,
            col1: 2,
        };
        assert_eq!(format_range("Spools", &one), "Spools!B42");
    }
}
