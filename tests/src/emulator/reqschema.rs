//! Request bodies checked against Google's own schemas (extracted from the discovery document
//! into `tests/fidelity/request-schemas.json` by `extract_request_schemas.py`), so a client that
//! misspells a field or sends the wrong type fails here as it would on Google:
//! `Invalid JSON payload received. Unknown name "sheetID" at 'requests[0].update_cells.start':
//! Cannot find field.` Proto3 JSON also accepts `snake_case` names; they are renamed to
//! `lowerCamelCase` here so the handlers see one spelling.

use std::sync::OnceLock;

use serde_json::{Map, Value as Json};

use super::error::{ApiError, ApiResult};

const SCHEMAS_JSON: &str = include_str!("../../fidelity/request-schemas.json");

fn schemas() -> &'static Map<String, Json> {
    static S: OnceLock<Map<String, Json>> = OnceLock::new();
    S.get_or_init(|| {
        serde_json::from_str::<Json>(SCHEMAS_JSON)
            .ok()
            .and_then(|v| v.get("schemas").and_then(Json::as_object).cloned())
            .unwrap_or_default()
    })
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

fn camel(name: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in name.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.push(c.to_ascii_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The proto enum type Google names in `Invalid value` messages.
fn enum_type(field: &str) -> String {
    match field {
        "dimension" | "majorDimension" => "Dimension".into(),
        "responseValueRenderOption" => "ValueRenderOption".into(),
        "responseDateTimeRenderOption" => "DateTimeRenderOption".into(),
        "type" => "NumberFormatType".into(),
        other => {
            let mut c = other.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        }
    }
}

fn invalid_value(path: &str, kind: &str, v: &Json) -> ApiError {
    ApiError::invalid(format!("Invalid value at '{path}' ({kind}), {v}"))
}

/// Validates (and normalises) a request body against the named schema.
pub fn validate(root: &str, body: &mut Json) -> ApiResult<()> {
    let schema = Json::Object(
        [("$ref".to_string(), Json::String(root.to_string()))]
            .into_iter()
            .collect(),
    );
    check(&schema, body, "", "")
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        snake(field)
    } else {
        format!("{path}.{}", snake(field))
    }
}

fn check(schema: &Json, v: &mut Json, path: &str, field: &str) -> ApiResult<()> {
    if let Some(r) = schema.get("$ref").and_then(Json::as_str) {
        let Some(s) = schemas().get(r) else {
            return Ok(());
        };
        if s.get("type").and_then(Json::as_str) == Some("object") && !v.is_object() && !v.is_null()
        {
            return Err(invalid_value(
                path,
                &format!("type.googleapis.com/google.apps.sheets.v4.{r}"),
                v,
            ));
        }
        return check(s, v, path, field);
    }
    if v.is_null() {
        // Proto3 JSON: null is the field's default.
        return Ok(());
    }
    match schema.get("type").and_then(Json::as_str).unwrap_or("any") {
        "object" => {
            let Some(obj) = v.as_object_mut() else {
                return Err(invalid_value(path, "TYPE_MESSAGE", v));
            };
            let empty = Map::new();
            let props = schema
                .get("properties")
                .and_then(Json::as_object)
                .unwrap_or(&empty);
            let extra = schema.get("additionalProperties");
            let keys: Vec<String> = obj.keys().cloned().collect();
            for k in keys {
                let name = if props.contains_key(&k) {
                    k.clone()
                } else {
                    let c = camel(&k);
                    if c != k && props.contains_key(&c) && !obj.contains_key(&c) {
                        if let Some(moved) = obj.remove(&k) {
                            obj.insert(c.clone(), moved);
                        }
                        c
                    } else if extra.is_some() {
                        k.clone()
                    } else {
                        let at = if path.is_empty() {
                            String::new()
                        } else {
                            format!(" at '{path}'")
                        };
                        return Err(ApiError::invalid(format!(
                            "Invalid JSON payload received. Unknown name \"{k}\"{at}: Cannot find field."
                        )));
                    }
                };
                let sub = props.get(&name).or(extra).cloned().unwrap_or(Json::Null);
                if let Some(child) = obj.get_mut(&name) {
                    check(&sub, child, &join(path, &name), &name)?;
                }
            }
            Ok(())
        }
        "array" => {
            let Some(items) = v.as_array_mut() else {
                return Err(invalid_value(path, "TYPE_LIST", v));
            };
            let item_schema = schema.get("items").cloned().unwrap_or(Json::Null);
            for (i, item) in items.iter_mut().enumerate() {
                check(&item_schema, item, &format!("{path}[{i}]"), field)?;
            }
            Ok(())
        }
        "string" => {
            let Some(s) = v.as_str() else {
                // int64 fields are strings in JSON but numbers are accepted too.
                if schema.get("format").and_then(Json::as_str) == Some("int64") && v.is_i64() {
                    return Ok(());
                }
                return Err(invalid_value(path, "TYPE_STRING", v));
            };
            if let Some(values) = schema.get("enum").and_then(Json::as_array) {
                if !values.iter().any(|e| e.as_str() == Some(s)) {
                    return Err(invalid_value(
                        path,
                        &format!(
                            "type.googleapis.com/google.apps.sheets.v4.{}",
                            enum_type(field)
                        ),
                        v,
                    ));
                }
            }
            Ok(())
        }
        "integer" => {
            let ok = v.as_i64().is_some_and(|n| i32::try_from(n).is_ok())
                || v.as_str().is_some_and(|s| s.parse::<i32>().is_ok());
            if ok {
                Ok(())
            } else {
                Err(invalid_value(path, "TYPE_INT32", v))
            }
        }
        "number" => {
            let ok = v.is_number()
                || v.as_str().is_some_and(|s| {
                    s.parse::<f64>().is_ok() || ["NaN", "Infinity", "-Infinity"].contains(&s)
                });
            if ok {
                Ok(())
            } else {
                Err(invalid_value(path, "TYPE_DOUBLE", v))
            }
        }
        "boolean" => {
            if v.is_boolean() {
                Ok(())
            } else {
                Err(invalid_value(path, "TYPE_BOOL", v))
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn schemas_are_embedded() {
        assert!(schemas().contains_key("BatchUpdateSpreadsheetRequest"));
        assert!(schemas().contains_key("CellData"));
    }

    #[test]
    fn rejects_unknown_fields_and_wrong_types_like_google() {
        let mut b =
            json!({"requests": [{"updateCells": {"start": {"sheetID": 0}, "fields": "*"}}]});
        assert_eq!(
            validate("BatchUpdateSpreadsheetRequest", &mut b).unwrap_err().message,
            "Invalid JSON payload received. Unknown name \"sheetID\" at 'requests[0].update_cells.start': Cannot find field."
        );
        let mut b = json!({"requests": [{"appendDimension": {"sheetId": 0, "dimension": "ROW", "length": 1}}]});
        assert_eq!(
            validate("BatchUpdateSpreadsheetRequest", &mut b).unwrap_err().message,
            "Invalid value at 'requests[0].append_dimension.dimension' (type.googleapis.com/google.apps.sheets.v4.Dimension), \"ROW\""
        );
        let mut b =
            json!({"requests": [{"appendDimension": {"sheetId": "x", "dimension": "ROWS"}}]});
        assert_eq!(
            validate("BatchUpdateSpreadsheetRequest", &mut b)
                .unwrap_err()
                .message,
            "Invalid value at 'requests[0].append_dimension.sheet_id' (TYPE_INT32), \"x\""
        );
        let mut b = json!({"valuez": []});
        assert_eq!(
            validate("ValueRange", &mut b).unwrap_err().message,
            "Invalid JSON payload received. Unknown name \"valuez\": Cannot find field."
        );
    }

    #[test]
    fn accepts_snake_case_and_unsupported_kinds() {
        let mut b = json!({"requests": [{"append_dimension": {"sheet_id": 3, "dimension": "ROWS", "length": "2"}},
                                       {"repeatCell": {"anything": true}}]});
        validate("BatchUpdateSpreadsheetRequest", &mut b).unwrap();
        assert_eq!(b["requests"][0]["appendDimension"]["sheetId"], 3);
    }
}
