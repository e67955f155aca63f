//! Behaviour of the Sheets emulator itself, over raw HTTP: OAuth JWT-bearer token endpoint,
//! bearer checks, per-user quotas, fault injection, request counting, the control API, wire
//! quirks, and the time to read a 100,000-row sheet.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zeues_tests::emulator::{
    Emulator, EmulatorConfig, Fault, FaultRule, Phase, QuotaConfig, ServiceAccountKey, SheetSeed,
    SpreadsheetSeed, SPREADSHEETS_SCOPE,
};

const SA: &str = "sync@zeues-test.iam.gserviceaccount.com";

/// One HTTP/1.1 request on a fresh connection. `None` = the server closed without answering.
async fn http(
    emu: &Emulator,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<(u16, String, Json)> {
    let mut s = TcpStream::connect(emu.addr()).await.unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        emu.addr(),
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    if buf.is_empty() {
        return None;
    }
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let json = serde_json::from_str(body).unwrap_or(Json::Null);
    Some((status, head.to_string(), json))
}

async fn authed(emu: &Emulator, token: &str, method: &str, path: &str, body: &str) -> (u16, Json) {
    let auth = format!("Bearer {token}");
    let (s, _, j) = http(emu, method, path, &[("Authorization", &auth)], body)
        .await
        .unwrap();
    (s, j)
}

fn book() -> SpreadsheetSeed {
    SpreadsheetSeed::new(
        "book",
        vec![SheetSeed::from_rows(
            "Jon's Spools",
            vec![
                vec![json!("TAG"), json!("N")],
                vec![json!("SP-1"), json!(1)],
            ],
        )],
    )
}

async fn start(quota: QuotaConfig) -> Emulator {
    let emu = Emulator::start(EmulatorConfig {
        quota,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    emu.seed(&book()).unwrap();
    emu
}

fn form(assertion: &str) -> String {
    format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
    )
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn token_endpoint_verifies_rs256_jwt_bearer_grants() {
    let emu = start(QuotaConfig::default()).await;
    let key = emu.service_account(SA).unwrap();
    let ct = [("Content-Type", "application/x-www-form-urlencoded")];
    for (padded, aud) in [
        (false, "https://oauth2.googleapis.com/token"),
        (true, emu.token_url()),
    ] {
        let jwt = key.assertion_with(aud, SPREADSHEETS_SCOPE, now(), padded);
        let (status, _, body) = http(&emu, "POST", "/token", &ct, &form(&jwt))
            .await
            .unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3599);
        let token = body["access_token"].as_str().unwrap();
        let (s, j) = authed(&emu, token, "GET", "/v4/spreadsheets/book", "").await;
        assert_eq!(s, 200, "{j}");
    }
    // A key the emulator does not know, signing for a known account: bad signature.
    let forger = ServiceAccountKey::generate(SA, emu.token_url()).unwrap();
    let jwt = forger.assertion(emu.token_url(), SPREADSHEETS_SCOPE, now());
    let (status, _, body) = http(&emu, "POST", "/token", &ct, &form(&jwt))
        .await
        .unwrap();
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
    );
    let stale = key.assertion(emu.token_url(), SPREADSHEETS_SCOPE, now() - 7200);
    let (status, _, body) = http(&emu, "POST", "/token", &ct, &form(&stale))
        .await
        .unwrap();
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _, body) = http(
        &emu,
        "POST",
        "/token",
        &ct,
        "grant_type=password&assertion=x",
    )
    .await
    .unwrap();
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    // A read-only token cannot write.
    let ro = key.assertion(
        emu.token_url(),
        "https://www.googleapis.com/auth/spreadsheets.readonly",
        now(),
    );
    let (_, _, body) = http(&emu, "POST", "/token", &ct, &form(&ro)).await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    let (s, j) = authed(
        &emu,
        token,
        "PUT",
        "/v4/spreadsheets/book/values/A1?valueInputOption=RAW",
        r#"{"values":[["x"]]}"#,
    )
    .await;
    assert_eq!(
        (s, j["error"]["status"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn every_call_needs_a_valid_bearer_token() {
    let emu = start(QuotaConfig::default()).await;
    let (s, _, j) = http(&emu, "GET", "/v4/spreadsheets/book", &[], "")
        .await
        .unwrap();
    assert_eq!(
        (s, j["error"]["status"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );
    let (s, head, j) = http(&emu, "POST", "/v4/spreadsheets/book:batchUpdate", &[], "{}")
        .await
        .unwrap();
    assert_eq!(
        (s, j["error"]["status"].as_str()),
        (401, Some("UNAUTHENTICATED"))
    );
    assert!(j["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Request is missing required authentication credential."));
    assert!(head.to_lowercase().contains("www-authenticate: bearer"));
    let (s, j) = authed(&emu, "ya29.made-up", "GET", "/v4/spreadsheets/book", "").await;
    assert_eq!(s, 401);
    assert!(j["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Request had invalid authentication credentials."));
    let token = emu.mint_token(SA);
    assert_eq!(
        authed(&emu, &token, "GET", "/v4/spreadsheets/book", "")
            .await
            .0,
        200
    );
    // The same token in the access_token query parameter works too.
    let (s, _, _) = http(
        &emu,
        "GET",
        &format!("/v4/spreadsheets/book?access_token={token}"),
        &[],
        "",
    )
    .await
    .unwrap();
    assert_eq!(s, 200);
    emu.expire_tokens();
    assert_eq!(
        authed(&emu, &token, "GET", "/v4/spreadsheets/book", "")
            .await
            .0,
        401
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn quotas_are_60_reads_and_60_writes_per_minute_per_user_by_default() {
    let emu = start(QuotaConfig::default()).await;
    let a = emu.mint_token(SA);
    let b = emu.mint_token("other@zeues-test.iam.gserviceaccount.com");
    let read = "/v4/spreadsheets/book/values/A1";
    for _ in 0..60 {
        assert_eq!(authed(&emu, &a, "GET", read, "").await.0, 200);
    }
    let (s, j) = authed(&emu, &a, "GET", read, "").await;
    assert_eq!(s, 429);
    assert_eq!(j["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(
        j["error"]["message"],
        "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute per user' of service 'sheets.googleapis.com' for consumer 'project_number:424242424242'."
    );
    assert_eq!(j["error"]["details"][0]["reason"], "RATE_LIMIT_EXCEEDED");
    // Another user, and writes, have their own buckets.
    assert_eq!(authed(&emu, &b, "GET", read, "").await.0, 200);
    let write = "/v4/spreadsheets/book/values/B3?valueInputOption=RAW";
    assert_eq!(
        authed(&emu, &a, "PUT", write, r#"{"values":[[1]]}"#)
            .await
            .0,
        200
    );
    emu.reset_quotas();
    assert_eq!(authed(&emu, &a, "GET", read, "").await.0, 200);
    emu.shutdown().await;
}

#[tokio::test]
async fn faults_latency_drops_and_errors_around_the_commit() {
    let emu = start(QuotaConfig::default()).await;
    let t = emu.mint_token(SA);
    emu.add_fault(FaultRule::new(
        Some("spreadsheets.values.get"),
        Fault::Drop {
            phase: Phase::BeforeCommit,
        },
    ));
    let auth = format!("Bearer {t}");
    let dropped = http(
        &emu,
        "GET",
        "/v4/spreadsheets/book/values/A1",
        &[("Authorization", &auth)],
        "",
    )
    .await;
    assert!(
        dropped.is_none(),
        "the socket must close without a response"
    );
    emu.add_fault(FaultRule::new(None, Fault::Latency { ms: 300 }));
    let started = Instant::now();
    assert_eq!(
        authed(&emu, &t, "GET", "/v4/spreadsheets/book/values/A1", "")
            .await
            .0,
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    // Dropped after commit: the write lands, the client never hears.
    emu.add_fault(FaultRule::new(
        Some("spreadsheets.values.update"),
        Fault::Drop {
            phase: Phase::AfterCommit,
        },
    ));
    let put = "/v4/spreadsheets/book/values/C1?valueInputOption=RAW";
    let lost = http(
        &emu,
        "PUT",
        put,
        &[("Authorization", &auth)],
        r#"{"values":[["landed"]]}"#,
    )
    .await;
    assert!(lost.is_none());
    let dump = emu.dump("book").unwrap();
    assert_eq!(dump.sheets[0].rows[0][2], json!("landed"));
    // 429 injected: Google's quota envelope.
    emu.add_fault(FaultRule::new(
        None,
        Fault::Error {
            code: 429,
            phase: Phase::BeforeCommit,
        },
    ));
    let (s, j) = authed(&emu, &t, "GET", "/v4/spreadsheets/book", "").await;
    assert_eq!(
        (s, j["error"]["status"].as_str()),
        (429, Some("RESOURCE_EXHAUSTED"))
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn requests_are_counted_per_method() {
    let emu = start(QuotaConfig::default()).await;
    let t = emu.mint_token(SA);
    authed(&emu, &t, "GET", "/v4/spreadsheets/book", "").await;
    authed(
        &emu,
        &t,
        "GET",
        "/v4/spreadsheets/book/values:batchGet?ranges=A1&ranges=B1",
        "",
    )
    .await;
    authed(
        &emu,
        &t,
        "POST",
        "/v4/spreadsheets/book:batchUpdate",
        r#"{"requests":[{"appendDimension":{"sheetId":0,"dimension":"ROWS","length":3}}]}"#,
    )
    .await;
    let c = emu.counts();
    assert_eq!(c["spreadsheets.get"], 1);
    assert_eq!(c["spreadsheets.values.batchGet"], 1);
    assert_eq!(c["spreadsheets.batchUpdate"], 1);
    assert_eq!(emu.api_calls(), 3);
    let (s, _, j) = http(&emu, "GET", "/__control/counts", &[], "")
        .await
        .unwrap();
    assert_eq!((s, j["total"].as_u64()), (200, Some(3)));
    emu.shutdown().await;
}

#[tokio::test]
async fn parameters_are_validated_with_googles_messages() {
    let emu = start(QuotaConfig::default()).await;
    let t = emu.mint_token(SA);
    let cases = [
        (
            "PUT",
            "/v4/spreadsheets/book/values/A1",
            r#"{"values":[["x"]]}"#,
            "'valueInputOption' is required but not specified",
        ),
        (
            "PUT",
            "/v4/spreadsheets/book/values/A1?valueInputOption=USER_ENTER",
            r#"{"values":[["x"]]}"#,
            "Invalid value at 'value_input_option' (type.googleapis.com/google.apps.sheets.v4.ValueInputOption), \"USER_ENTER\"",
        ),
        (
            "POST",
            "/v4/spreadsheets/book/values:batchUpdate?valueInputOption=RAW",
            r#"{"data":[]}"#,
            "Invalid JSON payload received. Unknown name \"valueInputOption\": Cannot bind query parameter. Field 'valueInputOption' could not be found in request message.",
        ),
        (
            "PUT",
            "/v4/spreadsheets/book/values/A1?valueInputOption=RAW",
            r#"{"valuez":[["x"]]}"#,
            "Invalid JSON payload received. Unknown name \"valuez\": Cannot find field.",
        ),
        (
            "POST",
            "/v4/spreadsheets/book:batchUpdate",
            r#"{"requests":[{"updateCells":{"start":{"sheetID":0},"fields":"*"}}]}"#,
            "Invalid JSON payload received. Unknown name \"sheetID\" at 'requests[0].update_cells.start': Cannot find field.",
        ),
        (
            "POST",
            "/v4/spreadsheets/book:batchUpdate",
            r#"{"requests":[{"appendDimension":{"sheetId":0,"dimension":"ROW","length":1}}]}"#,
            "Invalid value at 'requests[0].append_dimension.dimension' (type.googleapis.com/google.apps.sheets.v4.Dimension), \"ROW\"",
        ),
        (
            "GET",
            "/v4/spreadsheets/book/values/Sheet%201!A1",
            "",
            "Unable to parse range: Sheet 1!A1",
        ),
    ];
    for (m, p, b, msg) in cases {
        let (s, j) = authed(&emu, &t, m, p, b).await;
        assert_eq!(s, 400, "{p}: {j}");
        assert_eq!(j["error"]["message"], msg);
        assert_eq!(j["error"]["status"], "INVALID_ARGUMENT");
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn control_api_seeds_and_dumps_over_http() {
    let emu = start(QuotaConfig::default()).await;
    let seed = json!({"spreadsheetId": "other", "sheets": [{"title": "T", "rows": [["a", {"formula": "=1+1"}]]}]});
    let (s, _, _) = http(
        &emu,
        "POST",
        "/__control/spreadsheets",
        &[("Content-Type", "application/json")],
        &seed.to_string(),
    )
    .await
    .unwrap();
    assert_eq!(s, 200);
    let t = emu.mint_token(SA);
    let (_, j) = authed(
        &emu,
        &t,
        "GET",
        "/v4/spreadsheets/other/values/T!A1:B1?valueRenderOption=UNFORMATTED_VALUE",
        "",
    )
    .await;
    assert_eq!(j["values"], json!([["a", 2]]));
    let (s, _, dump) = http(&emu, "GET", "/__control/spreadsheets/other", &[], "")
        .await
        .unwrap();
    assert_eq!(s, 200);
    assert_eq!(
        dump["sheets"][0]["rows"],
        json!([["a", {"formula": "=1+1"}]])
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn service_account_key_file_is_owner_only_and_shaped_like_googles() {
    let emu = start(QuotaConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sa.json");
    emu.write_service_account(SA, &path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let key: Json = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(key["type"], "service_account");
    assert_eq!(key["client_email"], SA);
    assert_eq!(key["token_uri"], emu.token_url());
    assert!(key["private_key"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!(key["private_key_id"].as_str().unwrap().len(), 40);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_a_100000_row_sheet() {
    let rows: Vec<Vec<Json>> = (0..100_000)
        .map(|i| {
            vec![
                json!(format!("SP-{i:06}")),
                json!("ARMADO"),
                json!(i),
                json!(46_000 + i % 400),
                json!(format!("worker {}", i % 37)),
                json!(""),
                json!(i % 3 == 0),
                json!("NRO OT 123"),
            ]
        })
        .collect();
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let mut sheet = SheetSeed::from_rows("Operaciones", rows);
    sheet.row_count = Some(100_001);
    emu.seed(&SpreadsheetSeed::new("big", vec![sheet])).unwrap();
    let t = emu.mint_token(SA);
    let started = Instant::now();
    let (s, j) = authed(
        &emu,
        &t,
        "GET",
        "/v4/spreadsheets/big/values/Operaciones!A:H?valueRenderOption=UNFORMATTED_VALUE&dateTimeRenderOption=SERIAL_NUMBER",
        "",
    )
    .await;
    let took = started.elapsed();
    assert_eq!(s, 200);
    assert_eq!(j["range"], "Operaciones!A1:H100001");
    assert_eq!(j["values"].as_array().unwrap().len(), 100_000);
    println!("values.get of 100,000 rows x 8 columns: {took:?} (debug build)");
    emu.shutdown().await;
}
