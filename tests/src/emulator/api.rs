//! The Sheets v4 methods: routing of the raw request path (custom `:verb` suffixes, ranges
//! encoded differently by each client), parameter validation with Google's messages, and the
//! method bodies over the model.

use std::collections::BTreeMap;

use percent_encoding::percent_decode_str;
use rand::rngs::StdRng;
use serde_json::{json, Map, Value as Json};

use super::a1::Rect;
use super::batch;
use super::cell::{DateRender, InputOption, RenderOption};
use super::error::{ApiError, ApiResult};
use super::fields;
use super::model::{Spreadsheet, Target};
use super::reqschema;
use super::resource;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    Get,
    BatchUpdate,
    ValuesGet(String),
    ValuesBatchGet,
    ValuesUpdate(String),
    ValuesBatchUpdate,
    ValuesAppend(String),
    ValuesClear(String),
    ValuesBatchClear,
}

impl Method {
    /// The discovery document's method id.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Get => "spreadsheets.get",
            Method::BatchUpdate => "spreadsheets.batchUpdate",
            Method::ValuesGet(_) => "spreadsheets.values.get",
            Method::ValuesBatchGet => "spreadsheets.values.batchGet",
            Method::ValuesUpdate(_) => "spreadsheets.values.update",
            Method::ValuesBatchUpdate => "spreadsheets.values.batchUpdate",
            Method::ValuesAppend(_) => "spreadsheets.values.append",
            Method::ValuesClear(_) => "spreadsheets.values.clear",
            Method::ValuesBatchClear => "spreadsheets.values.batchClear",
        }
    }

    /// Reads count against the read quota, everything else against the write quota.
    pub fn is_write(&self) -> bool {
        !matches!(
            self,
            Method::Get | Method::ValuesGet(_) | Method::ValuesBatchGet
        )
    }

    /// Query parameters the method declares (system parameters are accepted everywhere).
    fn params(&self) -> &'static [&'static str] {
        match self {
            Method::Get => &[
                "ranges",
                "includeGridData",
                "excludeTablesInBandedRanges",
                "commentsViewMode",
            ],
            Method::ValuesGet(_) => &[
                "majorDimension",
                "valueRenderOption",
                "dateTimeRenderOption",
            ],
            Method::ValuesBatchGet => &[
                "ranges",
                "majorDimension",
                "valueRenderOption",
                "dateTimeRenderOption",
            ],
            Method::ValuesUpdate(_) => &[
                "valueInputOption",
                "includeValuesInResponse",
                "responseValueRenderOption",
                "responseDateTimeRenderOption",
            ],
            Method::ValuesAppend(_) => &[
                "valueInputOption",
                "insertDataOption",
                "includeValuesInResponse",
                "responseValueRenderOption",
                "responseDateTimeRenderOption",
            ],
            _ => &[],
        }
    }

    /// The discovery schema of the request body.
    fn body_schema(&self) -> Option<&'static str> {
        match self {
            Method::ValuesUpdate(_) | Method::ValuesAppend(_) => Some("ValueRange"),
            Method::ValuesBatchUpdate => Some("BatchUpdateValuesRequest"),
            Method::BatchUpdate => Some("BatchUpdateSpreadsheetRequest"),
            Method::ValuesClear(_) => Some("ClearValuesRequest"),
            Method::ValuesBatchClear => Some("BatchClearValuesRequest"),
            _ => None,
        }
    }
}

/// System parameters of every Google API method (discovery `parameters`).
const SYSTEM_PARAMS: &[&str] = &[
    "$.xgafv",
    "access_token",
    "alt",
    "callback",
    "fields",
    "key",
    "oauth_token",
    "prettyPrint",
    "quotaUser",
    "upload_protocol",
    "uploadType",
];

/// Routes a raw (still percent-encoded) path. The range segment is decoded exactly once,
/// after stripping a trailing `:append` / `:clear` (clients differ in what they encode).
pub fn route(http: &str, raw_path: &str) -> Option<(String, Method)> {
    let rest = raw_path.strip_prefix("/v4/spreadsheets/")?;
    let decode = |s: &str| {
        percent_decode_str(s)
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned())
    };
    if let Some((id, values)) = rest.split_once("/values") {
        let id = decode(id)?;
        if id.is_empty() || id.contains(':') {
            return None;
        }
        let m = match (http, values) {
            ("GET", ":batchGet") => Method::ValuesBatchGet,
            ("POST", ":batchUpdate") => Method::ValuesBatchUpdate,
            ("POST", ":batchClear") => Method::ValuesBatchClear,
            (_, v) => {
                let seg = v.strip_prefix('/')?;
                match http {
                    "GET" => Method::ValuesGet(decode(seg)?),
                    "PUT" => Method::ValuesUpdate(decode(seg)?),
                    "POST" => {
                        if let Some(r) = seg.strip_suffix(":append") {
                            Method::ValuesAppend(decode(r)?)
                        } else if let Some(r) = seg.strip_suffix(":clear") {
                            Method::ValuesClear(decode(r)?)
                        } else {
                            return None;
                        }
                    }
                    _ => return None,
                }
            }
        };
        return Some((id, m));
    }
    let (id, m) = match (http, rest.strip_suffix(":batchUpdate")) {
        ("POST", Some(id)) => (id, Method::BatchUpdate),
        ("GET", None) => (rest, Method::Get),
        _ => return None,
    };
    let id = decode(id)?;
    if id.is_empty() || id.contains(['/', ':']) {
        return None;
    }
    Some((id, m))
}

/// Decoded query pairs, in order (repeated keys such as `ranges` allowed).
pub struct Query(pub Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        Query(
            raw.map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn check_known(&self, m: &Method) -> ApiResult<()> {
        for (k, _) in &self.0 {
            if !SYSTEM_PARAMS.contains(&k.as_str()) && !m.params().contains(&k.as_str()) {
                return Err(ApiError::invalid(format!(
                    "Invalid JSON payload received. Unknown name \"{k}\": Cannot bind query parameter. Field '{k}' could not be found in request message."
                )));
            }
        }
        Ok(())
    }
}

fn snake(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// An enum parameter: `Invalid value at 'value_render_option' (type.googleapis.com/...), "X"`.
fn enum_value<'a>(
    value: Option<&'a str>,
    field: &str,
    type_name: &str,
    allowed: &[&'a str],
) -> ApiResult<Option<&'a str>> {
    match value {
        None => Ok(None),
        Some(v) if allowed.contains(&v) => Ok(Some(v)),
        Some(v) => Err(ApiError::invalid(format!(
            "Invalid value at '{}' (type.googleapis.com/google.apps.sheets.v4.{type_name}), \"{v}\"",
            snake(field)
        ))),
    }
}

fn bool_value(value: Option<&str>, field: &str) -> ApiResult<bool> {
    match value {
        None => Ok(false),
        Some("true" | "True" | "1") => Ok(true),
        Some("false" | "False" | "0") => Ok(false),
        Some(v) => Err(ApiError::invalid(format!(
            "Invalid value at '{}' (TYPE_BOOL), \"{v}\"",
            snake(field)
        ))),
    }
}

fn major(v: Option<&str>) -> ApiResult<bool> {
    Ok(enum_value(
        v,
        "majorDimension",
        "Dimension",
        &["ROWS", "COLUMNS", "DIMENSION_UNSPECIFIED"],
    )? == Some("COLUMNS"))
}

fn render_option(v: Option<&str>, field: &str) -> ApiResult<RenderOption> {
    Ok(
        match enum_value(
            v,
            field,
            "ValueRenderOption",
            &["FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA"],
        )? {
            Some("UNFORMATTED_VALUE") => RenderOption::Unformatted,
            Some("FORMULA") => RenderOption::Formula,
            _ => RenderOption::Formatted,
        },
    )
}

fn date_render(v: Option<&str>, field: &str) -> ApiResult<DateRender> {
    Ok(
        match enum_value(
            v,
            field,
            "DateTimeRenderOption",
            &["SERIAL_NUMBER", "FORMATTED_STRING"],
        )? {
            Some("FORMATTED_STRING") => DateRender::FormattedString,
            _ => DateRender::SerialNumber,
        },
    )
}

fn input_option(v: Option<&str>) -> ApiResult<InputOption> {
    match enum_value(
        v,
        "valueInputOption",
        "ValueInputOption",
        &["RAW", "USER_ENTERED", "INPUT_VALUE_OPTION_UNSPECIFIED"],
    )? {
        None => Err(ApiError::invalid(
            "'valueInputOption' is required but not specified",
        )),
        Some("RAW") => Ok(InputOption::Raw),
        Some("USER_ENTERED") => Ok(InputOption::UserEntered),
        Some(_) => Err(ApiError::invalid(
            "Invalid valueInputOption: INPUT_VALUE_OPTION_UNSPECIFIED",
        )),
    }
}

/// Checks the body against Google's schema for the method (unknown fields, types, enums).
fn check_body(m: &Method, body: &mut Json) -> ApiResult<()> {
    let Some(root) = m.body_schema() else {
        return Ok(());
    };
    if !body.is_object() {
        return Err(ApiError::invalid(
            "Invalid JSON payload received. Expected an object.",
        ));
    }
    reqschema::validate(root, body)
}

/// Parses a request body (`{}` when empty).
pub fn parse_body(bytes: &[u8]) -> ApiResult<Json> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::invalid(format!(
            "Invalid JSON payload received. Unexpected token.\n{e}"
        ))
    })
}

/// A `ValueRange`'s values in row-major order.
fn rows_of(vr: &Json) -> ApiResult<Vec<Vec<Json>>> {
    let columns = major(vr.get("majorDimension").and_then(Json::as_str))?;
    let lines: Vec<Vec<Json>> =
        match vr.get("values") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Array(lines)) => lines
                .iter()
                .enumerate()
                .map(|(i, l)| match l {
                    Json::Array(cells) => Ok(cells.clone()),
                    Json::Null => Ok(Vec::new()),
                    _ => Err(ApiError::invalid(format!(
                        "Invalid values[{i}]: must be a list of values."
                    ))),
                })
                .collect::<ApiResult<_>>()?,
            Some(_) => return Err(ApiError::invalid(
                "Invalid value at 'data.values' (type.googleapis.com/google.protobuf.ListValue)",
            )),
        };
    if !columns {
        return Ok(lines);
    }
    let height = lines.iter().map(Vec::len).max().unwrap_or(0);
    Ok((0..height)
        .map(|r| {
            let mut row: Vec<Json> = lines
                .iter()
                .map(|col| col.get(r).cloned().unwrap_or(Json::Null))
                .collect();
            while row.last().is_some_and(Json::is_null) {
                row.pop();
            }
            row
        })
        .collect())
}

fn value_range(range: String, columns: bool, values: Option<Vec<Json>>) -> Json {
    let mut m = Map::new();
    m.insert("range".into(), json!(range));
    m.insert(
        "majorDimension".into(),
        json!(if columns { "COLUMNS" } else { "ROWS" }),
    );
    if let Some(v) = values {
        m.insert("values".into(), Json::Array(v));
    }
    Json::Object(m)
}

/// Executes one method against a spreadsheet. Writes change `book` only on success.
pub fn execute(
    book: &mut Spreadsheet,
    m: &Method,
    q: &Query,
    body: &Json,
    rng: &mut StdRng,
) -> ApiResult<Json> {
    q.check_known(m)?;
    let mut body = body.clone();
    check_body(m, &mut body)?;
    let body = &body;
    let id = book.id.clone();
    match m {
        Method::Get => {
            let mask =
                match q.get("fields") {
                    None => None,
                    Some(f) => Some(fields::parse(f).ok_or_else(|| {
                        ApiError::invalid("Request contains an invalid argument.")
                    })?),
                };
            let include = bool_value(q.get("includeGridData"), "includeGridData")?;
            // "If a field mask is set, the includeGridData parameter is ignored."
            let with_data = match &mask {
                Some(mask) => mask.touches(&["sheets", "data"]),
                None => include,
            };
            let ranges = q.all("ranges");
            let sheets = if ranges.is_empty() {
                resource::all_sheets(book)
            } else {
                let mut by_sheet: Vec<(usize, Vec<Rect>)> = Vec::new();
                for r in ranges {
                    let t = book.resolve(r)?;
                    match by_sheet.iter_mut().find(|(i, _)| *i == t.sheet) {
                        Some((_, rects)) => rects.push(t.rect),
                        None => by_sheet.push((t.sheet, vec![t.rect])),
                    }
                }
                by_sheet
            };
            Ok(resource::spreadsheet(book, &sheets, with_data))
        }
        Method::ValuesGet(range) => {
            let columns = major(q.get("majorDimension"))?;
            let render = render_option(q.get("valueRenderOption"), "valueRenderOption")?;
            let dates = date_render(q.get("dateTimeRenderOption"), "dateTimeRenderOption")?;
            let t = book.resolve(range)?;
            let r = book.read(&t, columns, render, dates);
            Ok(value_range(r.range, columns, r.values))
        }
        Method::ValuesBatchGet => {
            let columns = major(q.get("majorDimension"))?;
            let render = render_option(q.get("valueRenderOption"), "valueRenderOption")?;
            let dates = date_render(q.get("dateTimeRenderOption"), "dateTimeRenderOption")?;
            let mut out = Vec::new();
            for range in q.all("ranges") {
                let t = book.resolve(range)?;
                let r = book.read(&t, columns, render, dates);
                out.push(value_range(r.range, columns, r.values));
            }
            let mut m = Map::new();
            m.insert("spreadsheetId".into(), json!(id));
            if !out.is_empty() {
                m.insert("valueRanges".into(), Json::Array(out));
            }
            Ok(Json::Object(m))
        }
        Method::ValuesUpdate(range) | Method::ValuesAppend(range) => {
            let option = input_option(q.get("valueInputOption"))?;
            let include = bool_value(q.get("includeValuesInResponse"), "includeValuesInResponse")?;
            let render = render_option(
                q.get("responseValueRenderOption"),
                "responseValueRenderOption",
            )?;
            let dates = date_render(
                q.get("responseDateTimeRenderOption"),
                "responseDateTimeRenderOption",
            )?;
            let t = book.resolve(range)?;
            let rows = rows_of(body)?;
            let mut work = book.clone();
            let (table, res) = if let Method::ValuesAppend(_) = m {
                let insert = enum_value(
                    q.get("insertDataOption"),
                    "insertDataOption",
                    "InsertDataOption",
                    &["OVERWRITE", "INSERT_ROWS"],
                )? == Some("INSERT_ROWS");
                let (table, res) = work.append(&t, &rows, option, insert)?;
                (Some(table), res)
            } else {
                (None, work.write(&t, &rows, option)?)
            };
            *book = work;
            let mut upd = res.to_json(&id);
            if include {
                let rect = res.rect.unwrap_or(t.rect);
                let target = Target {
                    sheet: res.sheet,
                    rect,
                    open: false,
                    text: String::new(),
                };
                let r = book.read(&target, false, render, dates);
                if let Some(obj) = upd.as_object_mut() {
                    obj.insert("updatedData".into(), value_range(r.range, false, r.values));
                }
            }
            match table {
                None => Ok(upd),
                Some(table) => {
                    let mut m = Map::new();
                    m.insert("spreadsheetId".into(), json!(id));
                    if let Some(tr) = table {
                        m.insert("tableRange".into(), json!(tr));
                    }
                    m.insert("updates".into(), upd);
                    Ok(Json::Object(m))
                }
            }
        }
        Method::ValuesBatchUpdate => {
            let option = input_option(body.get("valueInputOption").and_then(Json::as_str))?;
            let include = body
                .get("includeValuesInResponse")
                .and_then(Json::as_bool)
                .unwrap_or(false);
            let render = render_option(
                body.get("responseValueRenderOption").and_then(Json::as_str),
                "responseValueRenderOption",
            )?;
            let dates = date_render(
                body.get("responseDateTimeRenderOption")
                    .and_then(Json::as_str),
                "responseDateTimeRenderOption",
            )?;
            let data = body
                .get("data")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default();
            let mut work = book.clone();
            let mut responses = Vec::new();
            let mut cells = 0u64;
            let mut sheets = std::collections::BTreeSet::new();
            let mut row_set = std::collections::BTreeSet::new();
            let mut col_set = std::collections::BTreeSet::new();
            for (i, vr) in data.iter().enumerate() {
                let range = vr.get("range").and_then(Json::as_str).ok_or_else(|| {
                    ApiError::invalid(format!("Invalid data[{i}]: range must be specified."))
                })?;
                let t = work.resolve(range).map_err(|e| e.in_data(i))?;
                let r = rows_of(vr).map_err(|e| e.in_data(i))?;
                let res = work.write(&t, &r, option).map_err(|e| e.in_data(i))?;
                cells += u64::from(res.cells);
                if let (Some(rect), true) = (res.rect, res.cells > 0) {
                    sheets.insert(res.sheet);
                    // "rows where at least one cell in the row was updated": distinct, not summed.
                    row_set.extend((rect.row0..rect.row1).map(|r| (res.sheet, r)));
                    col_set.extend((rect.col0..rect.col1).map(|c| (res.sheet, c)));
                }
                let mut upd = res.to_json(&id);
                if include {
                    if let Some(rect) = res.rect {
                        let target = Target {
                            sheet: res.sheet,
                            rect,
                            open: false,
                            text: String::new(),
                        };
                        let rr = work.read(&target, false, render, dates);
                        if let Some(obj) = upd.as_object_mut() {
                            obj.insert(
                                "updatedData".into(),
                                value_range(rr.range, false, rr.values),
                            );
                        }
                    }
                }
                responses.push(upd);
            }
            *book = work;
            let mut m = Map::new();
            m.insert("spreadsheetId".into(), json!(id));
            if cells > 0 {
                m.insert("totalUpdatedRows".into(), json!(row_set.len()));
                m.insert("totalUpdatedColumns".into(), json!(col_set.len()));
                m.insert("totalUpdatedCells".into(), json!(cells));
                m.insert("totalUpdatedSheets".into(), json!(sheets.len()));
            }
            if !responses.is_empty() {
                m.insert("responses".into(), Json::Array(responses));
            }
            Ok(Json::Object(m))
        }
        Method::ValuesClear(range) => {
            let t = book.resolve(range)?;
            let cleared = book.clear(&t);
            Ok(json!({ "spreadsheetId": id, "clearedRange": cleared }))
        }
        Method::ValuesBatchClear => {
            let ranges: Vec<String> = body
                .get("ranges")
                .and_then(Json::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Json::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            let mut work = book.clone();
            let mut cleared = Vec::new();
            for r in &ranges {
                let t = work.resolve(r)?;
                cleared.push(json!(work.clear(&t)));
            }
            *book = work;
            let mut m = Map::new();
            m.insert("spreadsheetId".into(), json!(id));
            if !cleared.is_empty() {
                m.insert("clearedRanges".into(), Json::Array(cleared));
            }
            Ok(Json::Object(m))
        }
        Method::BatchUpdate => {
            let requests = match body.get("requests") {
                Some(Json::Array(r)) if !r.is_empty() => r.clone(),
                _ => return Err(ApiError::invalid("Must specify at least one request.")),
            };
            let replies = batch::apply(book, &requests, rng)?;
            let mut m = Map::new();
            m.insert("spreadsheetId".into(), json!(id));
            m.insert("replies".into(), Json::Array(replies));
            if body
                .get("includeSpreadsheetInResponse")
                .and_then(Json::as_bool)
                .unwrap_or(false)
            {
                let with_data = body
                    .get("responseIncludeGridData")
                    .and_then(Json::as_bool)
                    .unwrap_or(false);
                m.insert(
                    "updatedSpreadsheet".into(),
                    resource::spreadsheet(book, &resource::all_sheets(book), with_data),
                );
            }
            Ok(Json::Object(m))
        }
    }
}

/// Applies the `fields` system parameter to a response.
pub fn apply_fields(q: &Query, body: Json) -> ApiResult<Json> {
    match q.get("fields") {
        None => Ok(body),
        Some(f) => {
            let mask = fields::parse(f)
                .ok_or_else(|| ApiError::invalid("Request contains an invalid argument."))?;
            Ok(mask.apply(&body))
        }
    }
}

/// Request counts per method, for "API calls per command" figures.
pub type Counts = BTreeMap<String, u64>;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn routes_every_client_encoding() {
        // googleapiclient: everything encoded, the verb's colon literal.
        assert_eq!(
            route(
                "POST",
                "/v4/spreadsheets/abc/values/%27Jon%27%27s%20Spools%27%21A1:append"
            ),
            Some((
                "abc".into(),
                Method::ValuesAppend("'Jon''s Spools'!A1".into())
            ))
        );
        // google-sheets4: only the space encoded.
        assert_eq!(
            route("GET", "/v4/spreadsheets/abc/values/'Jon''s%20Spools'!A1:C"),
            Some((
                "abc".into(),
                Method::ValuesGet("'Jon''s Spools'!A1:C".into())
            ))
        );
        assert_eq!(
            route("POST", "/v4/spreadsheets/abc/values/Sheet1!A1:C:append"),
            Some(("abc".into(), Method::ValuesAppend("Sheet1!A1:C".into())))
        );
        assert_eq!(
            route("POST", "/v4/spreadsheets/abc/values/Sheet1%21A1%3AC:clear"),
            Some(("abc".into(), Method::ValuesClear("Sheet1!A1:C".into())))
        );
        // Decoded once: a literal `%25` in a title stays `%`.
        assert_eq!(
            route("GET", "/v4/spreadsheets/abc/values/%2725%2541%27"),
            Some(("abc".into(), Method::ValuesGet("'25%41'".into())))
        );
        assert_eq!(
            route("POST", "/v4/spreadsheets/abc:batchUpdate"),
            Some(("abc".into(), Method::BatchUpdate))
        );
        assert_eq!(
            route("GET", "/v4/spreadsheets/abc/values:batchGet"),
            Some(("abc".into(), Method::ValuesBatchGet))
        );
        assert_eq!(
            route("GET", "/v4/spreadsheets/abc"),
            Some(("abc".into(), Method::Get))
        );
        assert_eq!(route("DELETE", "/v4/spreadsheets/abc"), None);
    }
}
