//! Plant time: business dates and timestamps are in `America/Santiago`, shown `DD-MM-YYYY` and
//! `DD-MM-YYYY HH:MM:SS`; Sheets stores dates as serial numbers (days since 1899-12-30).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::America::Santiago;

/// The plant's wall clock for an instant.
pub fn santiago(now: DateTime<Utc>) -> NaiveDateTime {
    now.with_timezone(&Santiago).naive_local()
}

/// Interprets a plant wall-clock time as an instant. Ambiguous or skipped local times (DST
/// changes) resolve to the earliest valid instant so that no input is rejected.
pub fn from_santiago(local: NaiveDateTime) -> DateTime<Utc> {
    match Santiago.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
        // A skipped hour (spring forward): the same wall time one hour later exists.
        chrono::LocalResult::None => {
            let shifted = local + Duration::hours(1);
            match Santiago.from_local_datetime(&shifted) {
                chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
                    t.with_timezone(&Utc)
                }
                chrono::LocalResult::None => Utc.from_utc_datetime(&local),
            }
        }
    }
}

pub fn fmt_date(d: NaiveDate) -> String {
    d.format("%d-%m-%Y").to_string()
}

pub fn fmt_datetime(t: NaiveDateTime) -> String {
    t.format("%d-%m-%Y %H:%M:%S").to_string()
}

fn serial_epoch() -> NaiveDate {
    // 1899-12-30 is Sheets' and Excel's day zero; this constant date always exists.
    NaiveDate::from_ymd_opt(1899, 12, 30).unwrap_or(NaiveDate::MIN)
}

pub fn date_to_serial(d: NaiveDate) -> f64 {
    (d - serial_epoch()).num_days() as f64
}

pub fn datetime_to_serial(t: NaiveDateTime) -> f64 {
    let days = date_to_serial(t.date());
    let secs = t.time().signed_duration_since(NaiveTime::MIN).num_seconds() as f64;
    days + secs / 86_400.0
}

/// Largest serial we accept: 31-12-9999.
pub const MAX_SERIAL: f64 = 2_958_465.0;

/// Converts a serial number into a plant timestamp. `None` outside 1900..=9999 or for NaN.
pub fn serial_to_datetime(serial: f64) -> Option<NaiveDateTime> {
    // The year check after rounding: serial 1 is 31-12-1899, and a fraction just under
    // MAX_SERIAL + 1 rounds up to 01-01-10000; neither can be written back as a plant date.
    serial_to_any_datetime(serial).filter(|t| plant_year(t.year()))
}

/// The years a plant date may have (what a `DD-MM-YYYY` cell and a serial both hold).
pub fn plant_year(year: i32) -> bool {
    (1900..=9999).contains(&year)
}

fn serial_to_any_datetime(serial: f64) -> Option<NaiveDateTime> {
    if !serial.is_finite() || !(1.0..MAX_SERIAL + 1.0).contains(&serial) {
        return None;
    }
    let days = serial.floor();
    // Round to the second: Sheets stores fractions of a day that are not exact in binary.
    let mut secs = ((serial - days) * 86_400.0).round() as i64;
    let mut date = serial_epoch() + Duration::days(days as i64);
    if secs >= 86_400 {
        secs -= 86_400;
        date += Duration::days(1);
    }
    Some(date.and_time(NaiveTime::MIN) + Duration::seconds(secs))
}

/// "Xh Ym" (or "Ym" under an hour); hours keep counting past a day so no day is ever dropped.
pub fn fmt_duration(total_secs: i64) -> String {
    let total_secs = total_secs.max(0);
    let hours = total_secs / 3600;
    let minutes = (total_secs % 3600) / 60;
    if hours == 0 {
        format!("{minutes}m")
    } else {
        format!("{hours}h {minutes}m")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn serials_match_sheets() {
        let d = NaiveDate::from_ymd_opt(2026, 5, 11).unwrap();
        assert_eq!(date_to_serial(d), 46153.0);
        let t = serial_to_datetime(46155.4818).unwrap();
        assert_eq!(fmt_datetime(t), "13-05-2026 11:33:48");
        let back = serial_to_datetime(datetime_to_serial(t)).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn serials_outside_plant_years_are_refused() {
        assert_eq!(serial_to_datetime(1.0), None, "31-12-1899");
        assert_eq!(
            fmt_date(serial_to_datetime(2.0).unwrap().date()),
            "01-01-1900"
        );
        assert_eq!(
            serial_to_datetime(MAX_SERIAL + 0.999_999_9),
            None,
            "rounds to 10000"
        );
        assert_eq!(
            fmt_datetime(serial_to_datetime(MAX_SERIAL + 0.5).unwrap()),
            "31-12-9999 12:00:00"
        );
    }

    #[test]
    fn durations_count_days() {
        assert_eq!(fmt_duration(59), "0m");
        assert_eq!(fmt_duration(2 * 3600 + 15 * 60), "2h 15m");
        assert_eq!(fmt_duration(26 * 3600 + 5 * 60), "26h 5m");
    }

    #[test]
    fn santiago_round_trip() {
        let now = Utc.with_ymd_and_hms(2026, 1, 28, 19, 56, 25).unwrap();
        let local = santiago(now);
        assert_eq!(fmt_datetime(local), "28-01-2026 16:56:25");
        assert_eq!(from_santiago(local), now);
    }
}
