//! Property tests of the emulator's parsers: A1 ranges, column letters, USER_ENTERED input,
//! date serials and the formula evaluator. `PROPTEST_CASES` scales them (CI: 10,000).
#![allow(clippy::unwrap_used)]

use chrono::{Datelike, NaiveDate};
use proptest::prelude::*;
use serde_json::json;
use zeues_tests::emulator::a1::{self, format_range, parse_range, Rect};
use zeues_tests::emulator::cell::{
    auto_number, date_to_serial, format_datetime, parse_user_entered, serial_to_datetime,
    DateOrder, DateRender, InputOption, RenderOption, Value,
};
use zeues_tests::emulator::formula;
use zeues_tests::emulator::{SheetSeed, SpreadsheetSeed};

fn title() -> impl Strategy<Value = String> {
    // Anything printable, including quotes, `!`, spaces, accents and digits.
    "[A-Za-z0-9 '!:_áéñÜ$-]{1,20}".prop_filter("not blank", |t| !t.trim().is_empty())
}

fn rect() -> impl Strategy<Value = Rect> {
    (0u32..5000, 0u32..300, 1u32..50, 1u32..30).prop_map(|(r, c, h, w)| Rect {
        row0: r,
        col0: c,
        row1: r + h,
        col1: c + w,
    })
}

proptest! {
    #[test]
    fn column_letters_round_trip(i in 0u32..a1::MAX_COLUMNS) {
        prop_assert_eq!(a1::column_index(&a1::column_letters(i)), Some(i));
    }

    #[test]
    fn echoed_ranges_parse_back_to_the_same_sheet_and_cells(t in title(), r in rect()) {
        let text = format_range(&t, &r);
        let p = parse_range(&text).unwrap();
        prop_assert_eq!(p.sheet.as_deref(), Some(t.as_str()));
        let c = p.cells.unwrap();
        prop_assert_eq!(c.start.row, Some(r.row0));
        prop_assert_eq!(c.start.col, Some(r.col0));
        prop_assert_eq!(c.end.row, Some(r.row1 - 1));
        prop_assert_eq!(c.end.col, Some(r.col1 - 1));
    }

    #[test]
    fn range_parser_never_panics(s in "\\PC{0,40}") {
        let _parsed = parse_range(&s);
    }

    #[test]
    fn formula_evaluator_never_panics(s in "=[A-Z0-9+*/&()\"' !:.-]{0,30}") {
        let lookup = |_: Option<&str>, _: u32, _: u32| None;
        let _value = formula::evaluate(&s, &lookup);
    }

    #[test]
    fn user_entered_reads_back_displayed_numbers(n in -1.0e12f64..1.0e12) {
        let shown = auto_number(n);
        match parse_user_entered(&shown, DateOrder::MonthFirst).value {
            Value::Number(m) => prop_assert!((m - n).abs() <= 1e-9 * n.abs().max(1.0), "{} -> {}", shown, m),
            other => prop_assert!(false, "{} parsed as {:?}", shown, other),
        }
    }

    #[test]
    fn user_entered_iso_dates_become_their_serial(days in 0i64..2_900_000) {
        let d = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + chrono::Duration::days(days);
        prop_assume!(d.year_ce().1 <= 9999);
        let text = format_datetime(d.and_hms_opt(0, 0, 0).unwrap(), "yyyy-mm-dd");
        let p = parse_user_entered(&text, DateOrder::DayFirst);
        prop_assert_eq!(p.value, Value::Number(date_to_serial(d)));
        prop_assert_eq!(serial_to_datetime(date_to_serial(d)).unwrap().date(), d);
    }

    #[test]
    fn raw_strings_read_back_unchanged(cells in proptest::collection::vec(proptest::collection::vec("[ -~]{0,8}", 0..6), 0..6)) {
        let seed = SpreadsheetSeed::new("p", vec![SheetSeed::from_rows("S", vec![])]);
        let mut book = seed.build().unwrap();
        let rows: Vec<Vec<serde_json::Value>> =
            cells.iter().map(|r| r.iter().map(|c| json!(c)).collect()).collect();
        let t = book.resolve("S!A1").unwrap();
        book.write(&t, &rows, InputOption::Raw).unwrap();
        let all = book.resolve("S").unwrap();
        let read = book.read(&all, false, RenderOption::Formatted, DateRender::SerialNumber);
        // Expected: the same strings with trailing empties trimmed and no `values` when empty.
        let mut want: Vec<serde_json::Value> = cells
            .iter()
            .map(|r| {
                let mut r = r.clone();
                while r.last().is_some_and(String::is_empty) {
                    r.pop();
                }
                json!(r)
            })
            .collect();
        while want.last().is_some_and(|r| r.as_array().is_some_and(Vec::is_empty)) {
            want.pop();
        }
        prop_assert_eq!(read.values.unwrap_or_default(), want);
    }
}
