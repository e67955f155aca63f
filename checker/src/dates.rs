//! Dates and timestamps as DOMAIN.md §1 allows them in a cell: serial numbers (days since
//! 1899-12-30, the fraction is the time of day) or the legacy text forms `DD-MM-YYYY`,
//! `D/M/YYYY`, `D/M/YY`, `YYYY-MM-DD`, ISO timestamps and `DD-MM-YYYY HH:MM:SS`. Values are
//! compared as written (Santiago wall-clock time); no time-zone conversion happens here.

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};

use crate::workbook::Cell;

/// A cell as a timestamp: `Ok(None)` when empty, `Err` when it is not a date (booleans included).
pub(crate) fn datetime_of(cell: &Cell) -> Result<Option<NaiveDateTime>, String> {
    match cell {
        Cell::Empty => Ok(None),
        Cell::Bool(b) => Err(format!("boolean {b} is not a date")),
        Cell::Number(n) => serial(*n).map(Some),
        Cell::Text(t) => parse_text(t.trim()).map(Some),
    }
}

/// A cell as a date (a timestamp's date part is accepted).
pub(crate) fn date_of(cell: &Cell) -> Result<Option<NaiveDate>, String> {
    datetime_of(cell).map(|o| o.map(|dt| dt.date()))
}

/// Text (a replica's ISO value, or any legacy form) as a timestamp.
pub(crate) fn datetime_text(t: &str) -> Result<Option<NaiveDateTime>, String> {
    let t = t.trim();
    if t.is_empty() {
        return Ok(None);
    }
    // A bare number in text is still a serial (some writers store it that way).
    if let Ok(n) = t.parse::<f64>() {
        return serial(n).map(Some);
    }
    parse_text(t).map(Some)
}

fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(1899, 12, 30)
        .unwrap_or(NaiveDate::MIN)
        .and_time(NaiveTime::MIN)
}

fn serial(n: f64) -> Result<NaiveDateTime, String> {
    // 1 = 1899-12-31 … 2958465 = 9999-12-31, as in Sheets.
    if !n.is_finite() || !(0.0..2_958_466.0).contains(&n) {
        return Err(format!("serial {n} is out of range"));
    }
    let millis = (n * 86_400_000.0).round() as i64;
    Ok(epoch() + Duration::milliseconds(millis))
}

/// The serial number of a timestamp (used by tests and by nothing that decides).
#[cfg(test)]
pub(crate) fn to_serial(dt: NaiveDateTime) -> f64 {
    (dt - epoch()).num_milliseconds() as f64 / 86_400_000.0
}

fn num(s: &str) -> Result<u32, String> {
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("{s:?} is not a number"));
    }
    s.parse::<u32>().map_err(|e| e.to_string())
}

fn parse_text(t: &str) -> Result<NaiveDateTime, String> {
    let bad = |why: String| format!("{t:?} is not a date ({why})");
    let (date_part, time_part) = match t.find(['T', ' ']) {
        Some(i) => (&t[..i], Some(t[i + 1..].trim())),
        None => (t, None),
    };
    let (y, m, d) = if date_part.contains('-') {
        let p: Vec<&str> = date_part.split('-').collect();
        if p.len() != 3 {
            return Err(bad("expected three parts".into()));
        }
        if p[0].len() == 4 {
            (
                num(p[0]).map_err(bad)?,
                num(p[1]).map_err(bad)?,
                num(p[2]).map_err(bad)?,
            )
        } else if p[2].len() == 4 {
            (
                num(p[2]).map_err(bad)?,
                num(p[1]).map_err(bad)?,
                num(p[0]).map_err(bad)?,
            )
        } else {
            return Err(bad("no four-digit year".into()));
        }
    } else if date_part.contains('/') {
        let p: Vec<&str> = date_part.split('/').collect();
        if p.len() != 3 {
            return Err(bad("expected three parts".into()));
        }
        let y = match p[2].len() {
            2 => 2000 + num(p[2]).map_err(bad)?,
            4 => num(p[2]).map_err(bad)?,
            _ => return Err(bad("year must have 2 or 4 digits".into())),
        };
        (y, num(p[1]).map_err(bad)?, num(p[0]).map_err(bad)?)
    } else {
        return Err(bad("unknown form".into()));
    };
    let date = i32::try_from(y)
        .ok()
        .and_then(|y| NaiveDate::from_ymd_opt(y, m, d))
        .ok_or_else(|| bad("no such day".into()))?;
    let time = match time_part {
        None | Some("") => NaiveTime::MIN,
        Some(tp) => parse_time(tp).map_err(bad)?,
    };
    Ok(date.and_time(time))
}

fn parse_time(tp: &str) -> Result<NaiveTime, String> {
    // Drop a zone designator: values are compared as written.
    let tp = tp.trim_end_matches('Z');
    let tp = match tp.rfind(['+', '-']) {
        Some(i) if i >= 5 => &tp[..i],
        _ => tp,
    };
    let (hms, frac) = match tp.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (tp, None),
    };
    let p: Vec<&str> = hms.split(':').collect();
    if !(2..=3).contains(&p.len()) {
        return Err(format!("time {tp:?}"));
    }
    let h = num(p[0])?;
    let mi = num(p[1])?;
    let s = p.get(2).map_or(Ok(0), |s| num(s))?;
    let ms = match frac {
        None => 0,
        Some(f) => {
            let digits: String = f.chars().take(3).collect();
            let v = num(&digits)?;
            v * 10u32.pow(3 - digits.len() as u32)
        }
    };
    NaiveTime::from_hms_milli_opt(h, mi, s, ms).ok_or_else(|| format!("time {tp:?}"))
}

/// Two timestamps are the same "to the second" when they differ by at most one second (one
/// writer may round a fraction, another truncate it).
pub(crate) fn same_second(a: NaiveDateTime, b: NaiveDateTime) -> bool {
    (a - b).num_milliseconds().abs() <= 1000
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn dt(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, mi, s)
            .unwrap()
    }

    #[test]
    fn every_legacy_form_and_serials_read_the_same_day() {
        let day = dt(2026, 1, 5, 0, 0, 0);
        for t in [
            "05-01-2026",
            "5/1/2026",
            "5/1/26",
            "2026-01-05",
            "2026-01-05T00:00:00",
        ] {
            assert_eq!(
                datetime_of(&Cell::Text(t.into())).unwrap(),
                Some(day),
                "{t}"
            );
        }
        assert_eq!(datetime_of(&Cell::Number(46027.0)).unwrap(), Some(day));
        let at = dt(2026, 1, 5, 12, 30, 15);
        assert_eq!(
            datetime_of(&Cell::Text("05-01-2026 12:30:15".into())).unwrap(),
            Some(at)
        );
        assert_eq!(
            datetime_text("2026-01-05T12:30:15.250")
                .unwrap()
                .map(|d| d.date()),
            Some(at.date())
        );
        let s = to_serial(at);
        assert_eq!(datetime_of(&Cell::Number(s)).unwrap(), Some(at));
        assert!(datetime_of(&Cell::Bool(true)).is_err());
        assert!(datetime_of(&Cell::Text("mañana".into())).is_err());
        assert!(datetime_of(&Cell::Text("31-02-2026".into())).is_err());
    }
}
