//! The typed cell model (string / number / bool / formula text + number format), how input is
//! parsed (`RAW` vs `USER_ENTERED`) and how a cell is rendered (`FORMATTED_VALUE`,
//! `UNFORMATTED_VALUE`, `FORMULA`; `SERIAL_NUMBER` vs `FORMATTED_STRING` dates).
//!
//! Dates are numbers with a date format, as in Sheets: serial days since 1899-12-30.

use std::sync::Arc;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

/// `NumberFormat.type` of the discovery document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FormatType {
    Text,
    Number,
    Percent,
    Currency,
    Date,
    Time,
    DateTime,
    Scientific,
}

impl FormatType {
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Json::String(s.to_string())).ok()
    }

    pub fn name(self) -> &'static str {
        match self {
            FormatType::Text => "TEXT",
            FormatType::Number => "NUMBER",
            FormatType::Percent => "PERCENT",
            FormatType::Currency => "CURRENCY",
            FormatType::Date => "DATE",
            FormatType::Time => "TIME",
            FormatType::DateTime => "DATE_TIME",
            FormatType::Scientific => "SCIENTIFIC",
        }
    }

    pub fn is_date_like(self) -> bool {
        matches!(
            self,
            FormatType::Date | FormatType::Time | FormatType::DateTime
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberFormat {
    #[serde(rename = "type")]
    pub kind: FormatType,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pattern: String,
}

impl NumberFormat {
    pub fn new(kind: FormatType, pattern: &str) -> Arc<Self> {
        Arc::new(NumberFormat {
            kind,
            pattern: pattern.to_string(),
        })
    }
}

/// What a user (or the API) put in the cell.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Empty,
    Text(String),
    Number(f64),
    Bool(bool),
    /// Formula text including the leading `=`; `cached` is a seeded result used when the
    /// emulator's small evaluator cannot compute the formula itself.
    Formula {
        text: String,
        cached: Option<Box<Effective>>,
    },
}

/// The calculated value of a cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Effective {
    Empty,
    Text(String),
    Number(f64),
    Bool(bool),
    /// `#NAME?`, `#REF!`, `#DIV/0!`, `#VALUE!`.
    Error(String),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cell {
    pub value: Value,
    pub format: Option<Arc<NumberFormat>>,
}

impl Cell {
    pub fn is_blank(&self) -> bool {
        matches!(self.value, Value::Empty) && self.format.is_none()
    }

    pub fn has_value(&self) -> bool {
        !matches!(self.value, Value::Empty)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputOption {
    Raw,
    UserEntered,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderOption {
    Formatted,
    Unformatted,
    Formula,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateRender {
    SerialNumber,
    FormattedString,
}

/// How the locale orders day and month when a user types `1/3/2026`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateOrder {
    MonthFirst,
    DayFirst,
}

impl DateOrder {
    pub fn for_locale(locale: &str) -> Self {
        // en_US and its few month-first relatives; everything else Sheets treats day-first.
        if ["en_US", "en_PH", "en", "fil_PH"].contains(&locale) {
            DateOrder::MonthFirst
        } else {
            DateOrder::DayFirst
        }
    }
}

/// The result of parsing one input value.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub value: Value,
    /// A format the input implies (`2026-03-01` -> DATE `yyyy-mm-dd`), applied when the cell
    /// has no number format of its own.
    pub implied: Option<Arc<NumberFormat>>,
}

/// One JSON value of `ValueRange.values`; `Ok(None)` = null = leave the cell unchanged.
pub fn parse_input(
    v: &Json,
    option: InputOption,
    order: DateOrder,
) -> Result<Option<Parsed>, &'static str> {
    let plain = |value| {
        Ok(Some(Parsed {
            value,
            implied: None,
        }))
    };
    match v {
        Json::Null => Ok(None),
        Json::Bool(b) => plain(Value::Bool(*b)),
        Json::Number(n) => plain(Value::Number(n.as_f64().unwrap_or(0.0))),
        Json::String(s) => match option {
            InputOption::Raw => plain(if s.is_empty() {
                Value::Empty
            } else {
                Value::Text(s.clone())
            }),
            InputOption::UserEntered => Ok(Some(parse_user_entered(s, order))),
        },
        Json::Array(_) => Err("list_value"),
        Json::Object(_) => Err("struct_value"),
    }
}

/// What Sheets does with text typed into a cell.
pub fn parse_user_entered(s: &str, order: DateOrder) -> Parsed {
    let plain = |value| Parsed {
        value,
        implied: None,
    };
    if s.is_empty() {
        return plain(Value::Empty);
    }
    if let Some(rest) = s.strip_prefix('\'') {
        return plain(if rest.is_empty() {
            Value::Empty
        } else {
            Value::Text(rest.to_string())
        });
    }
    if s.len() > 1 && s.starts_with('=') {
        return plain(Value::Formula {
            text: s.to_string(),
            cached: None,
        });
    }
    let t = s.trim();
    if t.eq_ignore_ascii_case("true") {
        return plain(Value::Bool(true));
    }
    if t.eq_ignore_ascii_case("false") {
        return plain(Value::Bool(false));
    }
    if let Some(p) = parse_user_number(t) {
        return p;
    }
    if let Some(p) = parse_user_date(t, order) {
        return p;
    }
    plain(Value::Text(s.to_string()))
}

fn parse_user_number(t: &str) -> Option<Parsed> {
    let (neg, body) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (currency, body) = match body.strip_prefix('$') {
        Some(r) => (true, r),
        None => (false, body),
    };
    let (percent, body) = match body.strip_suffix('%') {
        Some(r) => (true, r),
        None => (false, body),
    };
    if body.is_empty()
        || !body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | 'e' | 'E' | '+' | '-'))
        || !body.starts_with(|c: char| c.is_ascii_digit() || c == '.')
    {
        return None;
    }
    let grouped = body.contains(',');
    if grouped {
        // Thousands separators must sit in groups of three before the decimal point.
        let int_part = body.split('.').next().unwrap_or("");
        let groups: Vec<&str> = int_part.split(',').collect();
        if groups[0].is_empty() || groups[0].len() > 3 || groups[1..].iter().any(|g| g.len() != 3) {
            return None;
        }
    }
    let clean: String = body.chars().filter(|c| *c != ',').collect();
    let scientific = clean.contains(['e', 'E']);
    let mut n: f64 = clean.parse().ok()?;
    if !n.is_finite() {
        return None;
    }
    if neg {
        n = -n;
    }
    let decimals = clean.split('.').nth(1).map_or(0, |d| d.len());
    let implied = if percent {
        n /= 100.0;
        Some(NumberFormat::new(
            FormatType::Percent,
            if decimals > 0 { "0.00%" } else { "0%" },
        ))
    } else if currency {
        Some(NumberFormat::new(FormatType::Currency, "\"$\"#,##0.00"))
    } else if scientific {
        Some(NumberFormat::new(FormatType::Scientific, "0.00E+00"))
    } else if grouped {
        Some(NumberFormat::new(
            FormatType::Number,
            if decimals > 0 { "#,##0.00" } else { "#,##0" },
        ))
    } else {
        None
    };
    Some(Parsed {
        value: Value::Number(n),
        implied,
    })
}

fn parse_user_date(t: &str, order: DateOrder) -> Option<Parsed> {
    let (date_part, time_part) = match t.split_once([' ', 'T']) {
        Some((d, tm)) => (d, Some(tm.trim())),
        None => (t, None),
    };
    if time_part.is_none() {
        if let Some(tm) = parse_time(date_part) {
            return Some(Parsed {
                value: Value::Number(time_fraction(tm)),
                implied: Some(NumberFormat::new(FormatType::Time, "h:mm:ss am/pm")),
            });
        }
    }
    let (date, pattern) = parse_date_text(date_part, order)?;
    match time_part {
        None => Some(Parsed {
            value: Value::Number(date_to_serial(date)),
            implied: Some(NumberFormat::new(FormatType::Date, pattern)),
        }),
        Some(tp) => {
            let tm = parse_time(tp)?;
            Some(Parsed {
                value: Value::Number(datetime_to_serial(date.and_time(tm))),
                implied: Some(NumberFormat::new(
                    FormatType::DateTime,
                    &format!("{pattern} H:mm:ss"),
                )),
            })
        }
    }
}

fn parse_date_text(t: &str, order: DateOrder) -> Option<(NaiveDate, &'static str)> {
    let sep = if t.contains('-') {
        '-'
    } else if t.contains('/') {
        '/'
    } else {
        return None;
    };
    let parts: Vec<&str> = t.split(sep).collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty() || p.len() > 4) {
        return None;
    }
    let nums: Vec<u32> = parts
        .iter()
        .map(|p| p.parse::<u32>().ok())
        .collect::<Option<_>>()?;
    if parts[0].len() == 4 {
        let d = NaiveDate::from_ymd_opt(nums[0] as i32, nums[1], nums[2])?;
        return Some((
            d,
            if sep == '-' {
                "yyyy-mm-dd"
            } else {
                "yyyy/mm/dd"
            },
        ));
    }
    if parts[2].len() != 4 {
        return None;
    }
    let (m, d, pattern) = match (order, sep) {
        (DateOrder::MonthFirst, '/') => (nums[0], nums[1], "M/d/yyyy"),
        (DateOrder::MonthFirst, _) => (nums[0], nums[1], "M-d-yyyy"),
        (DateOrder::DayFirst, '/') => (nums[1], nums[0], "d/M/yyyy"),
        (DateOrder::DayFirst, _) => (nums[1], nums[0], "d-M-yyyy"),
    };
    Some((NaiveDate::from_ymd_opt(nums[2] as i32, m, d)?, pattern))
}

fn parse_time(t: &str) -> Option<NaiveTime> {
    [
        "%H:%M:%S",
        "%H:%M",
        "%H:%M:%S%.f",
        "%I:%M %p",
        "%I:%M:%S %p",
    ]
    .iter()
    .find_map(|f| NaiveTime::parse_from_str(t, f).ok())
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1899, 12, 30).unwrap_or_default()
}

pub fn date_to_serial(d: NaiveDate) -> f64 {
    (d - epoch()).num_days() as f64
}

fn time_fraction(t: NaiveTime) -> f64 {
    (t.num_seconds_from_midnight() as f64 + t.nanosecond() as f64 / 1e9) / 86_400.0
}

pub fn datetime_to_serial(t: NaiveDateTime) -> f64 {
    date_to_serial(t.date()) + time_fraction(t.time())
}

pub fn serial_to_datetime(serial: f64) -> Option<NaiveDateTime> {
    if !serial.is_finite() || serial.abs() > 3e6 {
        return None;
    }
    let days = serial.floor();
    let ms = ((serial - days) * 86_400_000.0).round() as i64;
    let base = epoch().checked_add_signed(Duration::days(days as i64))?;
    base.and_time(NaiveTime::MIN)
        .checked_add_signed(Duration::milliseconds(ms))
}

/// Calculated value of a cell; formulas go through the evaluator (`lookup` reads other cells).
pub fn effective(cell: &Cell, eval: &dyn Fn(&str) -> Option<Effective>) -> Effective {
    match &cell.value {
        Value::Empty => Effective::Empty,
        Value::Text(s) => Effective::Text(s.clone()),
        Value::Number(n) => Effective::Number(*n),
        Value::Bool(b) => Effective::Bool(*b),
        Value::Formula { text, cached } => match eval(text) {
            Some(v) => v,
            None => cached
                .as_deref()
                .cloned()
                .unwrap_or_else(|| Effective::Error("#NAME?".to_string())),
        },
    }
}

/// JSON number the way Google prints it: `42`, not `42.0`.
pub fn json_number(n: f64) -> Json {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        json!(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number)
    }
}

/// One cell for `ValueRange.values`.
pub fn render(cell: &Cell, eff: &Effective, render: RenderOption, dates: DateRender) -> Json {
    if render == RenderOption::Formula {
        if let Value::Formula { text, .. } = &cell.value {
            return Json::String(text.clone());
        }
    }
    let fmt = cell.format.as_deref();
    match render {
        RenderOption::Formatted => Json::String(format_value(eff, fmt)),
        RenderOption::Unformatted | RenderOption::Formula => match eff {
            Effective::Empty => Json::String(String::new()),
            Effective::Text(s) | Effective::Error(s) => Json::String(s.clone()),
            Effective::Bool(b) => Json::Bool(*b),
            Effective::Number(n) => match (dates, fmt) {
                (DateRender::FormattedString, Some(f)) if f.kind.is_date_like() => {
                    Json::String(format_number(*n, Some(f)))
                }
                _ => json_number(*n),
            },
        },
    }
}

/// `formattedValue`: what a person sees in the cell.
pub fn format_value(eff: &Effective, fmt: Option<&NumberFormat>) -> String {
    match eff {
        Effective::Empty => String::new(),
        Effective::Text(s) | Effective::Error(s) => s.clone(),
        Effective::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        Effective::Number(n) => format_number(*n, fmt),
    }
}

/// Sheets' "automatic" number format: up to 10 significant digits, no trailing zeros.
pub fn auto_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        return format!("{}", n as i64);
    }
    let magnitude = if n == 0.0 {
        0
    } else {
        n.abs().log10().floor() as i32
    };
    let decimals = (9 - magnitude).clamp(0, 15) as usize;
    let s = format!("{n:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".to_string()
    } else {
        s
    }
}

pub fn format_number(n: f64, fmt: Option<&NumberFormat>) -> String {
    let Some(f) = fmt else {
        return auto_number(n);
    };
    match f.kind {
        FormatType::Date | FormatType::Time | FormatType::DateTime => {
            let pattern = if f.pattern.is_empty() {
                match f.kind {
                    FormatType::Date => "M/d/yyyy",
                    FormatType::Time => "h:mm:ss am/pm",
                    _ => "M/d/yyyy H:mm:ss",
                }
            } else {
                f.pattern.as_str()
            };
            match serial_to_datetime(n) {
                Some(t) => format_datetime(t, pattern),
                None => auto_number(n),
            }
        }
        FormatType::Scientific => {
            let s = format!("{n:.2E}");
            // Rust prints `1.23E3`; Sheets prints `1.23E+03`.
            match s.split_once('E') {
                Some((m, e)) => {
                    let (sign, digits) = match e.strip_prefix('-') {
                        Some(d) => ('-', d),
                        None => ('+', e),
                    };
                    format!("{m}E{sign}{digits:0>2}")
                }
                None => s,
            }
        }
        FormatType::Text => auto_number(n),
        FormatType::Number | FormatType::Percent | FormatType::Currency => {
            if f.pattern.is_empty() {
                if f.kind == FormatType::Percent {
                    return format!("{}%", auto_number(n * 100.0));
                }
                return auto_number(n);
            }
            format_numeric_pattern(n, &f.pattern)
        }
    }
}

/// `#,##0.00`, `0%`, `"$"#,##0.00`, `[$$]#,##0`: literal prefix/suffix, grouping, decimals.
fn format_numeric_pattern(n: f64, pattern: &str) -> String {
    // Only the positive section; negatives get a leading minus.
    let section = pattern.split(';').next().unwrap_or(pattern);
    let mut prefix = String::new();
    let mut suffix = String::new();
    let mut digits = String::new();
    let mut chars = section.chars().peekable();
    let mut in_digits = false;
    let mut seen_digits = false;
    while let Some(c) = chars.next() {
        match c {
            '0' | '#' | '?' | ',' | '.' if !seen_digits || in_digits => {
                in_digits = true;
                seen_digits = true;
                digits.push(c);
            }
            '"' => {
                let mut lit = String::new();
                for d in chars.by_ref() {
                    if d == '"' {
                        break;
                    }
                    lit.push(d);
                }
                push_literal(&mut prefix, &mut suffix, seen_digits, &lit);
                in_digits = false;
            }
            '[' => {
                // `[$€]` currency blocks and `[Red]` colours.
                let mut block = String::new();
                for d in chars.by_ref() {
                    if d == ']' {
                        break;
                    }
                    block.push(d);
                }
                if let Some(cur) = block.strip_prefix('$') {
                    let sym = cur.split('-').next().unwrap_or("");
                    push_literal(&mut prefix, &mut suffix, seen_digits, sym);
                }
                in_digits = false;
            }
            '\\' => {
                if let Some(d) = chars.next() {
                    push_literal(&mut prefix, &mut suffix, seen_digits, &d.to_string());
                }
                in_digits = false;
            }
            other => {
                push_literal(&mut prefix, &mut suffix, seen_digits, &other.to_string());
                in_digits = false;
            }
        }
    }
    let percent = prefix.contains('%') || suffix.contains('%');
    let value = if percent { n * 100.0 } else { n };
    let (int_pat, frac_pat) = digits.split_once('.').unwrap_or((digits.as_str(), ""));
    let grouping = int_pat.contains(',');
    let min_frac = frac_pat.chars().filter(|c| *c == '0').count();
    let max_frac = frac_pat.chars().filter(|c| matches!(c, '0' | '#')).count();
    let min_int = int_pat.chars().filter(|c| *c == '0').count();
    let s = format!("{:.*}", max_frac, value.abs());
    let (int_s, frac_s) = s.split_once('.').unwrap_or((s.as_str(), ""));
    let mut frac = frac_s.to_string();
    while frac.len() > min_frac && frac.ends_with('0') {
        frac.pop();
    }
    let mut int_str = int_s.trim_start_matches('0').to_string();
    while int_str.len() < min_int {
        int_str.insert(0, '0');
    }
    if grouping {
        let bytes: Vec<char> = int_str.chars().collect();
        let mut g = String::new();
        for (i, c) in bytes.iter().enumerate() {
            if i > 0 && (bytes.len() - i).is_multiple_of(3) {
                g.push(',');
            }
            g.push(*c);
        }
        int_str = g;
    }
    let mut body = int_str;
    if !frac.is_empty() {
        body.push('.');
        body.push_str(&frac);
    }
    if body.is_empty() {
        body.push('0');
    }
    let sign = if value < 0.0 && body.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    format!("{sign}{prefix}{body}{suffix}")
}

fn push_literal(prefix: &mut String, suffix: &mut String, after: bool, lit: &str) {
    if after {
        suffix.push_str(lit);
    } else {
        prefix.push_str(lit);
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Sheets date/time patterns: `d dd ddd dddd m mm mmm mmmm yy yyyy h hh s ss am/pm a/p`,
/// `"literal"`, `\x`; `m`/`mm` are minutes after an hour or before seconds.
pub fn format_datetime(t: NaiveDateTime, pattern: &str) -> String {
    #[derive(Debug)]
    enum Tok {
        Lit(String),
        Run(char, usize),
        AmPm(bool),
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let lower = c.to_ascii_lowercase();
        let rest: String = chars[i..].iter().collect::<String>().to_ascii_lowercase();
        if rest.starts_with("am/pm") {
            toks.push(Tok::AmPm(true));
            i += 5;
        } else if rest.starts_with("a/p") {
            toks.push(Tok::AmPm(false));
            i += 3;
        } else if matches!(lower, 'd' | 'm' | 'y' | 'h' | 's') {
            let mut n = 1;
            while i + n < chars.len() && chars[i + n].to_ascii_lowercase() == lower {
                n += 1;
            }
            toks.push(Tok::Run(lower, n));
            i += n;
        } else if c == '"' {
            let mut lit = String::new();
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                lit.push(chars[i]);
                i += 1;
            }
            i += 1;
            toks.push(Tok::Lit(lit));
        } else if c == '\\' && i + 1 < chars.len() {
            toks.push(Tok::Lit(chars[i + 1].to_string()));
            i += 2;
        } else {
            toks.push(Tok::Lit(c.to_string()));
            i += 1;
        }
    }
    let twelve = toks.iter().any(|t| matches!(t, Tok::AmPm(_)));
    let mut out = String::new();
    for (k, tok) in toks.iter().enumerate() {
        match tok {
            Tok::Lit(s) => out.push_str(s),
            Tok::AmPm(full) => {
                let pm = t.hour() >= 12;
                out.push_str(match (full, pm) {
                    (true, true) => "PM",
                    (true, false) => "AM",
                    (false, true) => "P",
                    (false, false) => "A",
                });
            }
            Tok::Run(c, n) => {
                let minutes = *c == 'm'
                    && *n <= 2
                    && (toks[..k]
                        .iter()
                        .rev()
                        .find(|t| matches!(t, Tok::Run(..)))
                        .is_some_and(|t| matches!(t, Tok::Run('h', _)))
                        || toks[k + 1..]
                            .iter()
                            .find(|t| matches!(t, Tok::Run(..)))
                            .is_some_and(|t| matches!(t, Tok::Run('s', _))));
                let text = match (c, n) {
                    ('d', 1) => t.day().to_string(),
                    ('d', 2) => format!("{:02}", t.day()),
                    ('d', 3) => DAYS[t.weekday().num_days_from_monday() as usize][..3].to_string(),
                    ('d', _) => DAYS[t.weekday().num_days_from_monday() as usize].to_string(),
                    ('m', 1) if minutes => t.minute().to_string(),
                    ('m', 2) if minutes => format!("{:02}", t.minute()),
                    ('m', 1) => t.month().to_string(),
                    ('m', 2) => format!("{:02}", t.month()),
                    ('m', 3) => MONTHS[t.month0() as usize][..3].to_string(),
                    ('m', _) => MONTHS[t.month0() as usize].to_string(),
                    ('y', 1 | 2) => format!("{:02}", t.year() % 100),
                    ('y', _) => t.year().to_string(),
                    ('h', n) => {
                        let h = if twelve {
                            (t.hour() + 11) % 12 + 1
                        } else {
                            t.hour()
                        };
                        if *n >= 2 {
                            format!("{h:02}")
                        } else {
                            h.to_string()
                        }
                    }
                    ('s', 1) => t.second().to_string(),
                    (_, _) => format!("{:02}", t.second()),
                };
                out.push_str(&text);
            }
        }
    }
    out
}

/// `ExtendedValue` JSON of a user-entered value (`None` for an empty cell).
pub fn extended_value(v: &Value) -> Option<Json> {
    let mut m = Map::new();
    match v {
        Value::Empty => return None,
        Value::Text(s) => m.insert("stringValue".into(), Json::String(s.clone())),
        Value::Number(n) => m.insert("numberValue".into(), json_number(*n)),
        Value::Bool(b) => m.insert("boolValue".into(), Json::Bool(*b)),
        Value::Formula { text, .. } => m.insert("formulaValue".into(), Json::String(text.clone())),
    };
    Some(Json::Object(m))
}

/// `ExtendedValue` JSON of a calculated value.
pub fn effective_json(e: &Effective) -> Option<Json> {
    Some(match e {
        Effective::Empty => return None,
        Effective::Text(s) => json!({ "stringValue": s }),
        Effective::Number(n) => json!({ "numberValue": json_number(*n) }),
        Effective::Bool(b) => json!({ "boolValue": b }),
        Effective::Error(code) => {
            let kind = match code.as_str() {
                "#REF!" => "REF",
                "#DIV/0!" => "DIVIDE_BY_ZERO",
                "#VALUE!" => "VALUE",
                "#N/A" => "N_A",
                _ => "NAME",
            };
            json!({ "errorValue": { "type": kind, "message": "Emulator could not evaluate this formula." } })
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ue(s: &str) -> Parsed {
        parse_user_entered(s, DateOrder::MonthFirst)
    }

    #[test]
    fn user_entered_parses_like_sheets() {
        assert_eq!(ue("42").value, Value::Number(42.0));
        assert_eq!(ue("-3.5").value, Value::Number(-3.5));
        assert_eq!(ue("1,234.5").value, Value::Number(1234.5));
        assert_eq!(ue("TRUE").value, Value::Bool(true));
        assert_eq!(ue("'42").value, Value::Text("42".into()));
        assert!(matches!(ue("=A1").value, Value::Formula { .. }));
        assert_eq!(ue("=").value, Value::Text("=".into()));
        let p = ue("50%");
        assert_eq!(p.value, Value::Number(0.5));
        assert_eq!(p.implied.unwrap().kind, FormatType::Percent);
        let d = ue("2026-11-29");
        assert_eq!(d.value, Value::Number(46355.0));
        assert_eq!(d.implied.unwrap().pattern, "yyyy-mm-dd");
        assert_eq!(ue("3/1/2026").value, ue("2026-03-01").value);
        let dm = parse_user_entered("3/1/2026", DateOrder::DayFirst);
        assert_eq!(dm.value, ue("2026-01-03").value);
        assert_eq!(ue("1,23").value, Value::Text("1,23".into()));
        assert_eq!(ue("SP-0042").value, Value::Text("SP-0042".into()));
    }

    #[test]
    fn raw_never_parses() {
        let p = parse_input(
            &json!("=IMPORTXML(\"x\")"),
            InputOption::Raw,
            DateOrder::DayFirst,
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.value, Value::Text("=IMPORTXML(\"x\")".into()));
        let n = parse_input(&json!("42"), InputOption::Raw, DateOrder::DayFirst)
            .unwrap()
            .unwrap();
        assert_eq!(n.value, Value::Text("42".into()));
        assert_eq!(
            parse_input(&Json::Null, InputOption::Raw, DateOrder::DayFirst).unwrap(),
            None
        );
    }

    #[test]
    fn serials() {
        let t = serial_to_datetime(2.5).unwrap();
        assert_eq!(t.to_string(), "1900-01-01 12:00:00");
        let d = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let s = datetime_to_serial(d.and_hms_opt(14, 30, 0).unwrap());
        assert!((s - 46_082.604_166_666_664).abs() < 1e-9);
    }

    #[test]
    fn formats() {
        let d = datetime_to_serial(
            NaiveDate::from_ymd_opt(2026, 3, 1)
                .unwrap()
                .and_hms_opt(14, 30, 5)
                .unwrap(),
        );
        let f = NumberFormat::new(FormatType::DateTime, "dd-mm-yyyy hh:mm:ss");
        assert_eq!(format_number(d, Some(&f)), "01-03-2026 14:30:05");
        let f = NumberFormat::new(FormatType::Date, "d mmm yyyy");
        assert_eq!(format_number(d, Some(&f)), "1 Mar 2026");
        let f = NumberFormat::new(FormatType::Currency, "\"$\"#,##0.00");
        assert_eq!(format_number(1234.5, Some(&f)), "$1,234.50");
        let f = NumberFormat::new(FormatType::Percent, "0.00%");
        assert_eq!(format_number(0.1234, Some(&f)), "12.34%");
        assert_eq!(auto_number(1.0 / 3.0), "0.3333333333");
        assert_eq!(auto_number(46_082.604_166_666_664), "46082.60417");
        assert_eq!(auto_number(93.0), "93");
        let f = NumberFormat::new(FormatType::Scientific, "0.00E+00");
        assert_eq!(format_number(1234.0, Some(&f)), "1.23E+03");
    }
}
