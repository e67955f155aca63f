//! One tolerant cell parser for everything the plant has ever typed into a sheet, and the typed
//! values the app writes back (which Sheets can never evaluate as a formula).

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime};
use serde::{Deserialize, Serialize};

use super::time::{fmt_date, fmt_datetime, plant_year, santiago, serial_to_datetime};

/// A cell as read with `UNFORMATTED_VALUE` + `SERIAL_NUMBER`: what Sheets really stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "t", content = "v")]
pub enum RawCell {
    #[default]
    Empty,
    Text(String),
    Number(f64),
    Bool(bool),
}

impl RawCell {
    /// Empty = missing, empty string or whitespace only.
    pub fn is_empty(&self) -> bool {
        match self {
            RawCell::Empty => true,
            RawCell::Text(s) => s.trim().is_empty(),
            RawCell::Number(_) | RawCell::Bool(_) => false,
        }
    }

    /// The cell as the trimmed text a person sees; `None` when empty. Whole numbers print
    /// without a decimal point (`93`, not `93.0`).
    pub fn text(&self) -> Option<String> {
        match self {
            RawCell::Empty => None,
            RawCell::Text(s) => {
                let t = s.trim();
                (!t.is_empty()).then(|| t.to_string())
            }
            RawCell::Number(n) => Some(fmt_number(*n)),
            RawCell::Bool(b) => Some(if *b { "TRUE" } else { "FALSE" }.to_string()),
        }
    }

    /// What a person would see in the cell, for error messages.
    pub fn shown(&self) -> String {
        self.text().unwrap_or_default()
    }
}

pub fn fmt_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// A value the app writes. Text is always a plain string value (never `USER_ENTERED`), dates are
/// serial numbers with a date format, so nothing written can turn into a formula.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", content = "v")]
pub enum CellValue {
    Empty,
    Text(String),
    Number(f64),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
}

impl CellValue {
    pub fn text(s: impl Into<String>) -> Self {
        let s = s.into();
        if s.is_empty() {
            CellValue::Empty
        } else {
            CellValue::Text(s)
        }
    }

    pub fn opt_text(s: Option<&str>) -> Self {
        s.map_or(CellValue::Empty, CellValue::text)
    }

    /// The value as it reads back from Sheets unformatted.
    pub fn to_raw(&self) -> RawCell {
        match self {
            CellValue::Empty => RawCell::Empty,
            CellValue::Text(s) => RawCell::Text(s.clone()),
            CellValue::Number(n) => RawCell::Number(*n),
            CellValue::Date(d) => RawCell::Number(super::time::date_to_serial(*d)),
            CellValue::DateTime(t) => RawCell::Number(super::time::datetime_to_serial(*t)),
        }
    }

    /// Human form, for the local audit, logs and CSV export.
    pub fn display(&self) -> String {
        match self {
            CellValue::Empty => String::new(),
            CellValue::Text(s) => s.clone(),
            CellValue::Number(n) => fmt_number(*n),
            CellValue::Date(d) => fmt_date(*d),
            CellValue::DateTime(t) => fmt_datetime(*t),
        }
    }
}

/// An unparseable cell. The caller adds the TAG and column and turns it into `DATOS_CORRUPTOS`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("valor no válido: '{value}'")]
pub struct BadCell {
    pub value: String,
}

fn bad(raw: &RawCell) -> BadCell {
    BadCell { value: raw.shown() }
}

/// A date in any legacy form (`DD-MM-YYYY`, `D/M/YYYY`, `D/M/YY`, `YYYY-MM-DD`, ISO timestamps,
/// `DD-MM-YYYY HH:MM:SS`, `DD-Mon-YYYY`) or a serial number. Booleans are rejected.
pub fn parse_date(raw: &RawCell) -> Result<Option<NaiveDate>, BadCell> {
    Ok(parse_datetime(raw)?.map(|t| t.date()))
}

/// A timestamp in any legacy form or a serial (the fraction is the time of day). A date alone
/// means midnight. ISO timestamps with an offset are converted to plant time.
pub fn parse_datetime(raw: &RawCell) -> Result<Option<NaiveDateTime>, BadCell> {
    match raw {
        RawCell::Empty => Ok(None),
        RawCell::Bool(_) => Err(bad(raw)),
        RawCell::Number(n) => serial_to_datetime(*n).map(Some).ok_or_else(|| bad(raw)),
        RawCell::Text(s) => {
            let t = s.trim();
            if t.is_empty() {
                return Ok(None);
            }
            // Every text form is held to the serial's years, so what is read can be written
            // back as a date cell (`%Y` alone would take year 1 or 20000).
            parse_text_datetime(t)
                .filter(|v| plant_year(v.year()))
                .map(Some)
                .ok_or_else(|| bad(raw))
        }
    }
}

const DATE_FORMATS: &[&str] = &["%d-%m-%Y", "%d/%m/%Y", "%Y-%m-%d", "%Y/%m/%d"];
const DATETIME_FORMATS: &[&str] = &[
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
];

fn parse_text_datetime(t: &str) -> Option<NaiveDateTime> {
    if t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false") {
        return None;
    }
    if let Ok(with_offset) = DateTime::parse_from_rfc3339(t) {
        return Some(santiago(with_offset.with_timezone(&chrono::Utc)));
    }
    for f in DATETIME_FORMATS {
        if let Ok(v) = NaiveDateTime::parse_from_str(t, f) {
            return Some(v);
        }
    }
    parse_text_date(t).map(|d| d.and_time(NaiveTime::MIN))
}

fn parse_text_date(t: &str) -> Option<NaiveDate> {
    for f in DATE_FORMATS {
        if let Ok(d) = NaiveDate::parse_from_str(t, f) {
            if d.year_ok() {
                return Some(d);
            }
        }
    }
    parse_short_year(t).or_else(|| parse_month_name(t))
}

trait YearOk {
    fn year_ok(&self) -> bool;
}

impl YearOk for NaiveDate {
    fn year_ok(&self) -> bool {
        plant_year(self.year())
    }
}

/// `D/M/YY` and `DD-MM-YY`: two-digit years are this century.
fn parse_short_year(t: &str) -> Option<NaiveDate> {
    let sep = if t.contains('/') { '/' } else { '-' };
    let parts: Vec<&str> = t.split(sep).collect();
    if parts.len() != 3 || parts[2].len() != 2 {
        return None;
    }
    let day: u32 = parts[0].parse().ok()?;
    let month: u32 = parts[1].parse().ok()?;
    let year: i32 = parts[2].parse().ok()?;
    NaiveDate::from_ymd_opt(2000 + year, month, day)
}

const MONTHS: &[(&str, u32)] = &[
    ("jan", 1),
    ("ene", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("abr", 4),
    ("may", 5),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("ago", 8),
    ("sep", 9),
    ("set", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
    ("dic", 12),
];

/// `DD-Mon-YYYY` with English or Spanish month abbreviations (`20-Jan-2026`, `20-ene-2026`).
fn parse_month_name(t: &str) -> Option<NaiveDate> {
    let parts: Vec<&str> = t.split(['-', ' ', '/']).filter(|p| !p.is_empty()).collect();
    if parts.len() != 3 {
        return None;
    }
    let day: u32 = parts[0].parse().ok()?;
    let mon = parts[1].to_lowercase();
    let month = MONTHS
        .iter()
        .find(|(name, _)| mon.starts_with(name))
        .map(|(_, m)| *m)?;
    let year: i32 = parts[2].parse().ok()?;
    let year = if parts[2].len() == 2 {
        2000 + year
    } else {
        year
    };
    NaiveDate::from_ymd_opt(year, month, day)
}

/// A non-negative small integer (cycle counts). Accepts `2`, `2.0`, `"2"`; empty = 0.
pub fn parse_small_int(raw: &RawCell) -> Result<u32, BadCell> {
    match raw {
        RawCell::Empty => Ok(0),
        RawCell::Bool(_) => Err(bad(raw)),
        RawCell::Number(n) => {
            if n.fract() == 0.0 && *n >= 0.0 && *n < 1_000_000.0 {
                Ok(*n as u32)
            } else {
                Err(bad(raw))
            }
        }
        RawCell::Text(s) => {
            let t = s.trim();
            if t.is_empty() {
                return Ok(0);
            }
            t.parse::<u32>()
                .ok()
                .or_else(|| {
                    t.parse::<f64>()
                        .ok()
                        .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1_000_000.0)
                        .map(|f| f as u32)
                })
                .ok_or_else(|| bad(raw))
        }
    }
}

/// `TRUE`/`FALSE` flags of the Trabajadores/Roles tabs: only a real TRUE (or the text) is
/// true; empty or anything else is false (inactive), as the plant has always read it.
pub fn parse_flag(raw: &RawCell) -> bool {
    match raw {
        RawCell::Bool(b) => *b,
        RawCell::Text(s) => {
            let t = s.trim();
            t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("verdadero")
        }
        RawCell::Number(_) | RawCell::Empty => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn txt(s: &str) -> RawCell {
        RawCell::Text(s.to_string())
    }

    #[test]
    fn every_legacy_date_form() {
        let want = Some(d(2026, 1, 20));
        for s in [
            "20-01-2026",
            "20/1/2026",
            "20/01/26",
            "2026-01-20",
            "20-01-2026 10:11:12",
            "2026-01-20T10:11:12",
            "20-Jan-2026",
            "20-ene-2026",
            "  20-01-2026  ",
        ] {
            assert_eq!(parse_date(&txt(s)).unwrap(), want, "{s}");
        }
        assert_eq!(parse_date(&RawCell::Number(46042.0)).unwrap(), want);
    }

    #[test]
    fn iso_with_zone_becomes_plant_time() {
        let t = parse_datetime(&txt("2026-01-28T16:56:25.026880Z"))
            .unwrap()
            .unwrap();
        assert_eq!(fmt_datetime(t), "28-01-2026 13:56:25");
    }

    #[test]
    fn serial_datetime_keeps_time() {
        let t = parse_datetime(&RawCell::Number(46155.5)).unwrap().unwrap();
        assert_eq!(fmt_datetime(t), "13-05-2026 12:00:00");
    }

    #[test]
    fn empty_forms_are_missing() {
        for raw in [RawCell::Empty, txt(""), txt("   "), txt("\t")] {
            assert_eq!(parse_date(&raw).unwrap(), None);
        }
    }

    #[test]
    fn booleans_and_garbage_are_rejected() {
        assert!(parse_date(&RawCell::Bool(true)).is_err());
        assert!(parse_date(&txt("TRUE")).is_err());
        assert!(parse_date(&txt("mañana")).is_err());
        assert!(parse_date(&txt("32-01-2026")).is_err());
        assert!(parse_date(&RawCell::Number(-3.0)).is_err());
        assert!(parse_date(&RawCell::Number(f64::NAN)).is_err());
        assert_eq!(parse_date(&txt("x")).unwrap_err().value, "x");
    }

    #[test]
    fn small_ints() {
        assert_eq!(parse_small_int(&RawCell::Number(2.0)).unwrap(), 2);
        assert_eq!(parse_small_int(&txt(" 3 ")).unwrap(), 3);
        assert_eq!(parse_small_int(&txt("")).unwrap(), 0);
        assert!(parse_small_int(&txt("dos")).is_err());
        assert!(parse_small_int(&RawCell::Number(1.5)).is_err());
    }

    #[test]
    fn numbers_print_like_sheets() {
        assert_eq!(RawCell::Number(93.0).text().unwrap(), "93");
        assert_eq!(RawCell::Number(1.5).text().unwrap(), "1.5");
    }

    /// Property tests: every accepted form round-trips, every serial too, and no input panics.
    /// `PROPTEST_CASES` (10 000 in CI) sets the count; each case is a handful of parses.
    mod props {
        use super::*;
        use crate::domain::time::{date_to_serial, datetime_to_serial, MAX_SERIAL};
        use chrono::{Datelike, Duration, TimeZone, Timelike, Utc};
        use proptest::prelude::*;

        /// 01-01-1900 ..= 31-12-9999: the dates the plant's sheets can hold.
        fn date() -> impl Strategy<Value = NaiveDate> {
            (0i64..=2_958_463).prop_map(|n| d(1900, 1, 1) + Duration::days(n))
        }

        fn datetime() -> impl Strategy<Value = NaiveDateTime> {
            (date(), 0u32..86_400)
                .prop_map(|(day, s)| day.and_time(NaiveTime::MIN) + Duration::seconds(i64::from(s)))
        }

        const MONTH_NAMES: [[&str; 4]; 12] = [
            ["Jan", "ene", "january", "ENERO"],
            ["Feb", "feb", "february", "Febrero"],
            ["Mar", "mar", "march", "marzo"],
            ["Apr", "abr", "april", "abril"],
            ["May", "may", "may", "mayo"],
            ["Jun", "jun", "june", "junio"],
            ["Jul", "jul", "july", "julio"],
            ["Aug", "ago", "august", "agosto"],
            ["Sep", "set", "september", "septiembre"],
            ["Oct", "oct", "october", "octubre"],
            ["Nov", "nov", "november", "noviembre"],
            ["Dec", "dic", "december", "diciembre"],
        ];

        /// Every written form of a date the plant has used (`form` picks one).
        fn legacy_date_text(day: NaiveDate, form: usize, name: usize) -> String {
            let (y, m, dd) = (day.year(), day.month(), day.day());
            let mon = MONTH_NAMES[m as usize - 1][name % 4];
            match form % 8 {
                0 => format!("{dd:02}-{m:02}-{y:04}"),
                1 => format!("{dd}/{m}/{y}"),
                2 => format!("{dd:02}/{m:02}/{y:04}"),
                3 => format!("{y:04}-{m:02}-{dd:02}"),
                4 => format!("{y:04}/{m:02}/{dd:02}"),
                5 => format!("{dd:02}-{mon}-{y:04}"),
                6 => format!("{dd} {mon} {y}"),
                _ => format!("  {dd:02}-{m:02}-{y:04}\t"),
            }
        }

        /// A float, biased to the edges of the serial range and to odd values.
        fn number() -> impl Strategy<Value = f64> {
            prop_oneof![
                any::<f64>(),
                -10.0f64..10.0,
                (MAX_SERIAL - 2.0)..(MAX_SERIAL + 2.0),
                Just(f64::NAN),
                Just(f64::INFINITY),
                Just(f64::NEG_INFINITY),
                Just(MAX_SERIAL + 0.999_999_9),
            ]
        }

        /// Anything accepted is a plant date that survives being written back as a serial.
        fn check_accepted(raw: &RawCell) -> Result<(), TestCaseError> {
            let Ok(Some(t)) = parse_datetime(raw) else {
                return Ok(());
            };
            prop_assert!((1900..=9999).contains(&t.year()), "{raw:?} → {t}");
            let back = parse_datetime(&CellValue::DateTime(t).to_raw())
                .map_err(|e| TestCaseError::fail(format!("{raw:?} → {t}: {e}")))?;
            let back = back.ok_or_else(|| TestCaseError::fail("empty"))?;
            // A serial keeps the second; text may carry a fraction of one.
            prop_assert!(
                (back - t).num_milliseconds().abs() <= 500,
                "{raw:?}: {t} → {back}"
            );
            prop_assert_eq!(parse_date(raw), Ok(Some(t.date())));
            Ok(())
        }

        proptest! {
            #[test]
            fn every_legacy_date_form_round_trips(day in date(), form in 0usize..8, name in 0usize..4) {
                let text = legacy_date_text(day, form, name);
                prop_assert_eq!(parse_date(&txt(&text)), Ok(Some(day)), "{}", text);
                prop_assert_eq!(
                    parse_datetime(&txt(&text)),
                    Ok(Some(day.and_time(NaiveTime::MIN))),
                    "{}", text
                );
            }

            #[test]
            fn two_digit_years_are_this_century(day in date(), form in 0usize..3, name in 0usize..4) {
                let day = day.with_year(2000 + day.year() % 100).unwrap_or(d(2000, 3, 1));
                let (y, m, dd) = (day.year() % 100, day.month(), day.day());
                let mon = MONTH_NAMES[m as usize - 1][name];
                let text = match form {
                    0 => format!("{dd}/{m}/{y:02}"),
                    1 => format!("{dd:02}-{m:02}-{y:02}"),
                    _ => format!("{dd:02}-{mon}-{y:02}"),
                };
                prop_assert_eq!(parse_date(&txt(&text)), Ok(Some(day)), "{}", text);
            }

            #[test]
            fn every_legacy_timestamp_form_round_trips(t in datetime(), form in 0usize..7, ms in 0u32..1000) {
                let to_minute = t.with_second(0).unwrap_or(t);
                let with_ms = t + Duration::milliseconds(i64::from(ms));
                let (text, want) = match form {
                    0 => (t.format("%d-%m-%Y %H:%M:%S").to_string(), t),
                    1 => (t.format("%d/%m/%Y %H:%M:%S").to_string(), t),
                    2 => (t.format("%Y-%m-%d %H:%M:%S").to_string(), t),
                    3 => (t.format("%Y-%m-%dT%H:%M:%S").to_string(), t),
                    4 => (t.format("%d-%m-%Y %H:%M").to_string(), to_minute),
                    5 => (t.format("%d/%m/%Y %H:%M").to_string(), to_minute),
                    _ => (with_ms.format("%Y-%m-%dT%H:%M:%S%.3f").to_string(), with_ms),
                };
                prop_assert_eq!(parse_datetime(&txt(&text)), Ok(Some(want)), "{}", text);
                prop_assert_eq!(parse_date(&txt(&text)), Ok(Some(want.date())), "{}", text);
            }

            #[test]
            fn iso_timestamps_with_an_offset_are_plant_time(secs in -2_177_452_800i64..253_370_764_800, zulu in any::<bool>()) {
                // 1901-01-01 ..= 9998-12-31 UTC, so plant time stays inside 1900..=9999.
                let Some(at) = Utc.timestamp_opt(secs, 0).single() else {
                    return Ok(());
                };
                let Some(chile) = chrono::FixedOffset::west_opt(3 * 3600) else {
                    return Ok(());
                };
                let text = if zulu {
                    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
                } else {
                    at.with_timezone(&chile).to_rfc3339()
                };
                prop_assert_eq!(parse_datetime(&txt(&text)), Ok(Some(santiago(at))), "{}", text);
            }

            #[test]
            fn serials_round_trip(t in datetime()) {
                let day = t.date();
                prop_assert_eq!(parse_date(&CellValue::Date(day).to_raw()), Ok(Some(day)));
                prop_assert_eq!(parse_datetime(&CellValue::DateTime(t).to_raw()), Ok(Some(t)));
                let whole = date_to_serial(day);
                prop_assert_eq!(parse_datetime(&RawCell::Number(whole)), Ok(Some(day.and_time(NaiveTime::MIN))));
                prop_assert!((datetime_to_serial(t) - whole - f64::from(t.num_seconds_from_midnight()) / 86_400.0).abs() < 1e-6);
            }

            #[test]
            fn any_number_is_a_plant_date_or_rejected(n in number()) {
                let raw = RawCell::Number(n);
                match parse_datetime(&raw) {
                    Ok(Some(_)) => check_accepted(&raw)?,
                    Ok(None) => prop_assert!(false, "a number is never empty: {}", n),
                    Err(e) => {
                        prop_assert_eq!(e.value, raw.shown());
                        prop_assert!(parse_date(&raw).is_err());
                    }
                }
            }

            #[test]
            fn any_text_never_panics_and_what_it_accepts_is_a_plant_date(
                s in prop_oneof![any::<String>(), "[0-9a-zA-ZñÑé /:.+TZ-]{0,26}", "[0-9]{1,6}[-/ ][0-9a-zA-Z]{1,9}[-/ ][0-9+-]{1,7}( [0-9:.]{0,12})?"]
            ) {
                let raw = txt(&s);
                match parse_datetime(&raw) {
                    Ok(None) => prop_assert!(raw.is_empty()),
                    Ok(Some(_)) => check_accepted(&raw)?,
                    Err(e) => prop_assert_eq!(e.value, s.trim()),
                }
            }

            #[test]
            fn booleans_are_never_dates(b in any::<bool>(), case in 0usize..4, pad in "[ \t]{0,2}") {
                prop_assert!(parse_date(&RawCell::Bool(b)).is_err());
                prop_assert!(parse_datetime(&RawCell::Bool(b)).is_err());
                let word = ["true", "TRUE", "False", "fAlSe"][case];
                let text = format!("{pad}{word}{pad}");
                prop_assert!(parse_date(&txt(&text)).is_err(), "{:?}", text);
            }
        }
    }
}
