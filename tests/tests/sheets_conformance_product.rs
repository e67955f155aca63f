//! The shared conformance scenario (`tests/fidelity/scenario.json`) driven by the product's own
//! client, `zeues_sync::ports::GoogleSheets`, through its real read and write primitives (the
//! ones `read_tab`/`read_rows`/`write` use) and its typed errors.
//!
//! The product speaks a subset of the API: `spreadsheets.get` with a `fields` mask,
//! `values.batchGet` with `UNFORMATTED_VALUE` + `SERIAL_NUMBER`, and `spreadsheets.batchUpdate`.
//! Steps in that subset must give the same results the scenario expects from
//! google-api-python-client and google-sheets4 (same values, same ranges, same error class and
//! status); the others (`values.update`/`append`/`clear`, formatted reads, grid data) are
//! listed as not used by the product. Errors are compared as the product reports them: the
//! typed `WorkbookError` for the HTTP status, and Google's `status` (and message) in its text.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::{json, Map, Value as Json};
use zeues_sync::ports::sheets::a1::A1Range;
use zeues_sync::ports::sheets::auth::Credentials;
use zeues_sync::ports::sheets::{GoogleSheets, SheetsConfig};
use zeues_sync::ports::WorkbookError;
use zeues_tests::emulator::scenario::{apply_control, json_match, Scenario, Step};
use zeues_tests::emulator::{Emulator, EmulatorConfig};

enum Verdict {
    Pass,
    Skip(String),
    Fail(Vec<String>),
}

struct Runner {
    emu: Emulator,
    key: std::path::PathBuf,
    clients: HashMap<String, Arc<GoogleSheets>>,
    faulted: BTreeSet<String>,
    /// Sheets written by steps the product does not execute: reading them back would compare
    /// different states, so such reads are skipped (and say why).
    dirty: BTreeSet<String>,
}

fn sheet_of(range: &str) -> String {
    A1Range::parse(range).map(|r| r.sheet).unwrap_or_default()
}

impl Runner {
    async fn client(&mut self, id: &str) -> Arc<GoogleSheets> {
        if let Some(c) = self.clients.get(id) {
            return c.clone();
        }
        let mut cfg = SheetsConfig::new(id);
        cfg.base_url = self.emu.base_url().to_string();
        cfg.backoff_base = std::time::Duration::from_millis(2);
        cfg.backoff_max = std::time::Duration::from_millis(10);
        cfg.max_attempts = 2;
        cfg.jitter_seed = Some(1);
        let c = Arc::new(
            GoogleSheets::connect(cfg, Credentials::ServiceAccountFile(self.key.clone()))
                .await
                .unwrap(),
        );
        self.clients.insert(id.to_string(), c.clone());
        c
    }
}

/// The typed error the product must report for an HTTP status (reads / writes).
fn expected_kind(status: u16, write: bool) -> &'static str {
    match status {
        400 => "Rejected",
        401 | 403 => "Denied",
        404 => "NotFound",
        429 => "Quota",
        _ if write => "OutcomeUnknown",
        _ => "Unavailable",
    }
}

fn kind(e: &WorkbookError) -> &'static str {
    match e {
        WorkbookError::Unavailable(_) => "Unavailable",
        WorkbookError::Quota(_) => "Quota",
        WorkbookError::OutcomeUnknown(_) => "OutcomeUnknown",
        WorkbookError::Schema(_) => "Schema",
        WorkbookError::Denied(_) => "Denied",
        WorkbookError::NotFound(_) => "NotFound",
        WorkbookError::Rejected(_) => "Rejected",
        WorkbookError::WriterLost(_) => "WriterLost",
    }
}

fn check_error(step: &Step, e: &WorkbookError, write: bool) -> Verdict {
    let exp = step.expect.as_ref().unwrap();
    if exp.transport_error {
        return if kind(e) == expected_kind(503, write) {
            Verdict::Pass
        } else {
            Verdict::Fail(vec![format!("expected a transport failure, got {e}")])
        };
    }
    let Some(status) = exp.status.filter(|s| *s >= 400) else {
        return Verdict::Fail(vec![format!("expected success, got {e}")]);
    };
    let mut diffs = Vec::new();
    if kind(e) != expected_kind(status, write) {
        diffs.push(format!(
            "HTTP {status} should be {}, got {e}",
            expected_kind(status, write)
        ));
    }
    let text = e.to_string();
    let err = exp.body.as_ref().and_then(|b| b.get("error"));
    if let Some(s) = err.and_then(|x| x.get("status")).and_then(Json::as_str) {
        if !text.contains(s) {
            diffs.push(format!("'{s}' missing from: {text}"));
        }
    }
    if let Some(m) = err.and_then(|x| x.get("message")).and_then(Json::as_str) {
        // The product always quotes titles, so a range echoed in a message is quoted too.
        let head = m.split(": ").next().unwrap_or(m);
        let want = if m.starts_with("Unable to parse range") {
            head
        } else {
            m
        };
        if !text.contains(want) {
            diffs.push(format!("'{want}' missing from: {text}"));
        }
    }
    if diffs.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Fail(diffs)
    }
}

/// A ValueRange as the product holds it: `range` and `values` (absent when empty).
fn vr_json(v: &zeues_sync::ports::sheets::wire::ValueRange) -> Json {
    let mut m = Map::new();
    m.insert("range".into(), json!(v.range));
    if !v.values.is_empty() {
        m.insert("values".into(), json!(v.values));
    }
    Json::Object(m)
}

/// The expected body restricted to what the product parses.
fn restrict(v: &Json, keys: &[&str]) -> Json {
    match v {
        Json::Object(m) => Json::Object(
            m.iter()
                .filter(|(k, _)| keys.contains(&k.as_str()))
                .map(|(k, x)| (k.clone(), x.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

async fn run_step(r: &mut Runner, step: &Step) -> Verdict {
    if let Some(c) = &step.control {
        apply_control(&r.emu, c).unwrap();
        match (c.method.as_str(), c.path.as_str()) {
            ("POST", "/__control/faults") => {
                if let Some(m) = c
                    .body
                    .as_ref()
                    .and_then(|b| b.get("method"))
                    .and_then(Json::as_str)
                {
                    r.faulted.insert(m.to_string());
                }
            }
            ("DELETE", "/__control/faults") => r.faulted.clear(),
            _ => {}
        }
        return Verdict::Pass;
    }
    let call = step.call.as_deref().unwrap_or_default();
    let exp = step
        .expect
        .clone()
        .unwrap_or_else(|| serde_json::from_value(json!({})).unwrap());
    let ok_expected = exp.status.is_some_and(|s| s < 400) && !exp.transport_error;
    let id = step
        .str_param("spreadsheetId")
        .unwrap_or_default()
        .to_string();
    match call {
        "spreadsheets.get" => {
            if step.params.contains_key("ranges") || step.params.contains_key("includeGridData") {
                return Verdict::Skip(
                    "el producto no lee datos de grilla con spreadsheets.get".into(),
                );
            }
            let c = r.client(&id).await;
            match c.sheets_info().await {
                Err(e) => check_error(step, &e, false),
                Ok(_) if !ok_expected => Verdict::Fail(vec!["expected an error, got 200".into()]),
                Ok(info) => {
                    let seen: Vec<Json> = info
                        .iter()
                        .map(|s| {
                            json!({"properties": {"sheetId": s.sheet_id, "title": s.title,
                                "gridProperties": {"rowCount": s.rows, "columnCount": s.columns}}})
                        })
                        .collect();
                    let want: Vec<Json> = exp
                        .body
                        .as_ref()
                        .and_then(|b| b.get("sheets"))
                        .and_then(Json::as_array)
                        .cloned()
                        .unwrap_or_default()
                        .iter()
                        .map(|s| {
                            let p = &s["properties"];
                            json!({"properties": {"sheetId": p["sheetId"], "title": p["title"],
                                "gridProperties": {"rowCount": p["gridProperties"]["rowCount"],
                                    "columnCount": p["gridProperties"]["columnCount"]}}})
                        })
                        .collect();
                    let d = json_match(&json!(want), &json!(seen), false, "$.sheets");
                    if d.is_empty() {
                        Verdict::Pass
                    } else {
                        Verdict::Fail(d)
                    }
                }
            }
        }
        "spreadsheets.values.get" | "spreadsheets.values.batchGet" => {
            let unformatted = step.str_param("valueRenderOption") == Some("UNFORMATTED_VALUE")
                && matches!(
                    step.str_param("dateTimeRenderOption"),
                    None | Some("SERIAL_NUMBER")
                )
                && matches!(step.str_param("majorDimension"), None | Some("ROWS"));
            if ok_expected && !unformatted {
                return Verdict::Skip(
                    "el producto solo lee UNFORMATTED_VALUE + SERIAL_NUMBER por filas".into(),
                );
            }
            if r.faulted.contains(call) {
                return Verdict::Skip(format!(
                    "la falla inyectada apunta a {call}; el producto lee con values.batchGet"
                ));
            }
            let texts: Vec<&str> = if call == "spreadsheets.values.get" {
                step.str_param("range").into_iter().collect()
            } else {
                step.list_param("ranges")
            };
            if ok_expected && texts.iter().any(|t| r.dirty.contains(&sheet_of(t))) {
                return Verdict::Skip(
                    "lee lo que escribió un paso que el producto no ejecuta".into(),
                );
            }
            let ranges: Vec<A1Range> = texts.iter().map(|t| A1Range::parse(t).unwrap()).collect();
            let c = r.client(&id).await;
            match c.values_batch_get(&ranges).await {
                Err(e) => check_error(step, &e, false),
                Ok(_) if !ok_expected => Verdict::Fail(vec!["expected an error, got 200".into()]),
                Ok(vrs) => {
                    let (seen, want) = if call == "spreadsheets.values.get" {
                        (
                            vr_json(&vrs[0]),
                            restrict(
                                exp.body.as_ref().unwrap_or(&json!({})),
                                &["range", "values"],
                            ),
                        )
                    } else {
                        let want = exp
                            .body
                            .as_ref()
                            .and_then(|b| b.get("valueRanges"))
                            .and_then(Json::as_array)
                            .map(|a| {
                                a.iter()
                                    .map(|v| restrict(v, &["range", "values"]))
                                    .collect::<Vec<_>>()
                            })
                            .unwrap_or_default();
                        (
                            json!({"valueRanges": vrs.iter().map(vr_json).collect::<Vec<_>>()}),
                            json!({"valueRanges": want}),
                        )
                    };
                    let mut d = json_match(&want, &seen, false, "$");
                    for k in &exp.absent {
                        if seen.get(k).is_some() {
                            d.push(format!("$.{k}: must be absent"));
                        }
                    }
                    if d.is_empty() {
                        Verdict::Pass
                    } else {
                        Verdict::Fail(d)
                    }
                }
            }
        }
        "spreadsheets.batchUpdate" => {
            let requests = step
                .body
                .as_ref()
                .and_then(|b| b.get("requests"))
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default();
            let c = r.client(&id).await;
            match c.batch_update_requests(&requests).await {
                Err(e) => check_error(step, &e, true),
                Ok(()) if ok_expected => Verdict::Pass,
                Ok(()) => Verdict::Fail(vec!["expected an error, got 200".into()]),
            }
        }
        other => {
            let mut written: Vec<String> =
                step.str_param("range").map(sheet_of).into_iter().collect();
            if let Some(data) = step
                .body
                .as_ref()
                .and_then(|b| b.get("data"))
                .and_then(Json::as_array)
            {
                written.extend(
                    data.iter()
                        .filter_map(|d| d.get("range")?.as_str())
                        .map(sheet_of),
                );
            }
            r.dirty.extend(written);
            Verdict::Skip(format!("el producto no usa {other}"))
        }
    }
}

#[tokio::test]
async fn the_product_client_sees_what_googles_clients_see() {
    let scenario = Scenario::load().unwrap();
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    scenario.prepare(&emu).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("sa.json");
    emu.write_service_account(&scenario.client_email, &key)
        .unwrap();
    let mut r = Runner {
        emu,
        key,
        clients: HashMap::new(),
        faulted: BTreeSet::new(),
        dirty: BTreeSet::new(),
    };
    let (mut pass, mut skip, mut fail) = (0, 0, Vec::new());
    for step in &scenario.steps {
        match run_step(&mut r, step).await {
            Verdict::Pass => {
                pass += 1;
                println!("PASS  {}", step.name);
            }
            Verdict::Skip(why) => {
                skip += 1;
                println!("SKIP  {} — {why}", step.name);
            }
            Verdict::Fail(d) => {
                println!("FAIL  {}: {d:?}", step.name);
                fail.push(format!("{}: {d:?}", step.name));
            }
        }
    }
    println!(
        "producto: {pass} pasos iguales, {skip} fuera del subconjunto del producto, {} distintos",
        fail.len()
    );
    assert!(fail.is_empty(), "{fail:#?}");
    assert!(pass >= 12, "too few steps exercised: {pass}");
}
