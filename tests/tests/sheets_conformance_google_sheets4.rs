//! The shared conformance scenario driven by an independent Rust client, the `google-sheets4`
//! crate (generated from Google's discovery document), authenticated by yup-oauth2's
//! `ServiceAccountAuthenticator` against the emulator's token endpoint.
//!
//! With `FIDELITY_LOG_DIR` set, the emulator's responses are written there for
//! `tests/fidelity/validate_schemas.py`.
#![allow(clippy::unwrap_used)]

use google_sheets4::api::{
    BatchUpdateSpreadsheetRequest, BatchUpdateValuesRequest, ClearValuesRequest, ValueRange,
};
use google_sheets4::{hyper_rustls, hyper_util, yup_oauth2, Error, Sheets};
use serde::Serialize;
use serde_json::Value as Json;
use zeues_tests::emulator::scenario::{Observed, Scenario, Step};
use zeues_tests::emulator::{Emulator, EmulatorConfig};

type Hub = Sheets<hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>>;

fn observe<T: Serialize>(
    r: google_sheets4::Result<(google_sheets4::common::Response, T)>,
) -> Observed {
    match r {
        Ok((resp, body)) => {
            // google-sheets4 serializes absent optionals as null: drop them to compare.
            let mut v = serde_json::to_value(body).unwrap();
            strip_nulls(&mut v);
            Observed::Http(resp.status().as_u16(), v)
        }
        Err(Error::BadRequest(v)) => {
            let code = v["error"]["code"].as_u64().unwrap_or(0) as u16;
            Observed::Http(code, v)
        }
        Err(Error::Failure(resp)) => Observed::Http(resp.status().as_u16(), Json::Null),
        Err(Error::HttpError(e)) => Observed::Transport(e.to_string()),
        Err(Error::Io(e)) => Observed::Transport(e.to_string()),
        Err(other) => Observed::Transport(format!("{other}")),
    }
}

fn strip_nulls(v: &mut Json) {
    match v {
        Json::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Json::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

fn req<T: serde::de::DeserializeOwned>(step: &Step) -> T {
    // From text, not from a `Value`: google-apis-common's FieldMask only deserializes from
    // borrowed strings.
    let text = step
        .body
        .as_ref()
        .map_or_else(|| "{}".to_string(), Json::to_string);
    serde_json::from_str(&text).unwrap()
}

async fn run(hub: &Hub, step: &Step) -> Observed {
    let id = step.str_param("spreadsheetId").unwrap();
    let call = step.call.as_deref().unwrap();
    let sheets = hub.spreadsheets();
    match call {
        "spreadsheets.get" => {
            let mut c = sheets.get(id);
            for r in step.list_param("ranges") {
                c = c.add_ranges(r);
            }
            if let Some(b) = step.bool_param("includeGridData") {
                c = c.include_grid_data(b);
            }
            if let Some(f) = step.str_param("fields") {
                c = c.param("fields", f);
            }
            observe(c.doit().await)
        }
        "spreadsheets.values.get" => {
            let mut c = sheets.values_get(id, step.str_param("range").unwrap());
            if let Some(v) = step.str_param("valueRenderOption") {
                c = c.value_render_option(v);
            }
            if let Some(v) = step.str_param("dateTimeRenderOption") {
                c = c.date_time_render_option(v);
            }
            if let Some(v) = step.str_param("majorDimension") {
                c = c.major_dimension(v);
            }
            observe(c.doit().await)
        }
        "spreadsheets.values.batchGet" => {
            let mut c = sheets.values_batch_get(id);
            for r in step.list_param("ranges") {
                c = c.add_ranges(r);
            }
            if let Some(v) = step.str_param("valueRenderOption") {
                c = c.value_render_option(v);
            }
            if let Some(v) = step.str_param("dateTimeRenderOption") {
                c = c.date_time_render_option(v);
            }
            if let Some(v) = step.str_param("majorDimension") {
                c = c.major_dimension(v);
            }
            observe(c.doit().await)
        }
        "spreadsheets.values.update" => {
            let mut c = sheets.values_update(
                req::<ValueRange>(step),
                id,
                step.str_param("range").unwrap(),
            );
            if let Some(v) = step.str_param("valueInputOption") {
                c = c.value_input_option(v);
            }
            observe(c.doit().await)
        }
        "spreadsheets.values.append" => {
            let mut c = sheets.values_append(
                req::<ValueRange>(step),
                id,
                step.str_param("range").unwrap(),
            );
            if let Some(v) = step.str_param("valueInputOption") {
                c = c.value_input_option(v);
            }
            if let Some(v) = step.str_param("insertDataOption") {
                c = c.insert_data_option(v);
            }
            observe(c.doit().await)
        }
        "spreadsheets.values.clear" => observe(
            sheets
                .values_clear(
                    req::<ClearValuesRequest>(step),
                    id,
                    step.str_param("range").unwrap(),
                )
                .doit()
                .await,
        ),
        "spreadsheets.values.batchUpdate" => observe(
            sheets
                .values_batch_update(req::<BatchUpdateValuesRequest>(step), id)
                .doit()
                .await,
        ),
        "spreadsheets.batchUpdate" => observe(
            sheets
                .batch_update(req::<BatchUpdateSpreadsheetRequest>(step), id)
                .doit()
                .await,
        ),
        other => panic!("the google-sheets4 runner has no mapping for {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_sheets4_passes_the_shared_conformance_scenario() {
    let scenario = Scenario::load().unwrap();
    let emu = Emulator::start(EmulatorConfig {
        record_responses: true,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    scenario.prepare(&emu).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("sa.json");
    emu.write_service_account(&scenario.client_email, &key_path)
        .unwrap();

    let key = yup_oauth2::read_service_account_key(&key_path)
        .await
        .unwrap();
    let auth = yup_oauth2::ServiceAccountAuthenticator::builder(key)
        .build()
        .await
        .unwrap();
    // The emulator is plain HTTP, so no CA is ever consulted: an empty root store keeps the
    // test independent of the machine's certificates.
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(connector);
    let mut hub = Sheets::new(client, auth);
    hub.base_url(emu.base_url().to_string());
    hub.root_url(emu.base_url().to_string());

    let started = std::time::Instant::now();
    let hub = &hub;
    let report = scenario
        .run(&emu, "google-sheets4", |step| async move {
            run(hub, &step).await
        })
        .await
        .unwrap();
    println!(
        "google-sheets4 took {:?}; requests per method: {:?}",
        started.elapsed(),
        emu.counts()
    );
    // Client-specific: google-sheets4 does not refresh on 401, it surfaces Google's envelope.
    emu.expire_tokens();
    let a_read = scenario
        .steps
        .iter()
        .find(|s| s.call.as_deref() == Some("spreadsheets.values.get"))
        .unwrap();
    match run(hub, a_read).await {
        Observed::Http(401, body) => assert_eq!(body["error"]["status"], "UNAUTHENTICATED"),
        other => panic!("expected a 401 after the token expired, got {other:?}"),
    }
    if let Ok(dir) = std::env::var("FIDELITY_LOG_DIR") {
        std::fs::create_dir_all(&dir).unwrap();
        let path = std::path::Path::new(&dir).join("google-sheets4-responses.json");
        std::fs::write(&path, serde_json::to_string(&emu.responses()).unwrap()).unwrap();
    }
    emu.shutdown().await;
    assert!(
        report.failed.is_empty(),
        "{}: {:?}",
        report.summary(),
        report.failed
    );
    assert!(
        report.skipped.is_empty(),
        "google-sheets4 can make every call"
    );
}
