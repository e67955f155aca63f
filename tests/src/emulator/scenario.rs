//! The shared conformance scenario (`tests/fidelity/scenario.json`): every client — Google's
//! Python client, the `google-sheets4` crate and the product's own `GoogleSheets` — runs the same
//! steps against a freshly seeded emulator and must observe the same results.
//!
//! A Rust runner: `Scenario::load()`, `scenario.prepare(&emu)`, then
//! `scenario.run(&emu, "my-client", |step| async move { /* perform step.call */ }).await`:
//! control steps are applied to the emulator, every call step is checked, and the report says
//! what passed. A client that cannot express a call (the product's port has no generic
//! `values.append`) answers [`Observed::Unsupported`]; the step is reported as skipped.

use serde::Deserialize;
use serde_json::{Map, Value as Json};

use super::error::EmulatorError;
use super::{Emulator, FaultRule, QuotaConfig, SpreadsheetSeed};

/// Path of the scenario file in the repository.
pub const SCENARIO_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fidelity/scenario.json");

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scenario {
    pub client_email: String,
    pub seeds: Vec<SpreadsheetSeed>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Step {
    pub name: String,
    /// Discovery method id without the `sheets.` prefix (`spreadsheets.values.get`).
    #[serde(default)]
    pub call: Option<String>,
    #[serde(default)]
    pub params: Map<String, Json>,
    #[serde(default)]
    pub body: Option<Json>,
    #[serde(default)]
    pub control: Option<Control>,
    #[serde(default)]
    pub expect: Option<Expect>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Control {
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub body: Option<Json>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Expect {
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub body: Option<Json>,
    #[serde(default)]
    pub exact: bool,
    #[serde(default)]
    pub absent: Vec<String>,
    #[serde(default)]
    pub transport_error: bool,
}

/// What a client saw.
#[derive(Debug, Clone)]
pub enum Observed {
    /// HTTP status and the JSON body (for errors: Google's envelope).
    Http(u16, Json),
    /// No HTTP response at all (connection closed, reset, timeout).
    Transport(String),
    /// The client has no way to make this call; reported as skipped, not failed.
    Unsupported,
}

/// The outcome of one client's run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub client: String,
    pub passed: Vec<String>,
    pub skipped: Vec<String>,
    /// Step name and its differences.
    pub failed: Vec<(String, Vec<String>)>,
}

impl Report {
    /// `client: N passed, M failed, K skipped` (the closing line CI looks for).
    pub fn summary(&self) -> String {
        format!(
            "{}: {} passed, {} failed, {} skipped",
            self.client,
            self.passed.len(),
            self.failed.len(),
            self.skipped.len()
        )
    }
}

impl Scenario {
    pub fn load() -> Result<Self, EmulatorError> {
        let text = std::fs::read_to_string(SCENARIO_PATH).map_err(|source| EmulatorError::Io {
            path: SCENARIO_PATH.to_string(),
            source,
        })?;
        Ok(serde_json::from_str(&text)?)
    }

    /// Seeds the spreadsheets (the emulator should be fresh).
    pub fn prepare(&self, emu: &Emulator) -> Result<(), EmulatorError> {
        for s in &self.seeds {
            emu.seed(s)?;
        }
        Ok(())
    }
}

impl Scenario {
    /// Runs every step: control steps on the emulator, call steps through `call`, printing one
    /// line per step.
    pub async fn run<F, Fut>(
        &self,
        emu: &Emulator,
        client: &str,
        mut call: F,
    ) -> Result<Report, EmulatorError>
    where
        F: FnMut(Step) -> Fut,
        Fut: std::future::Future<Output = Observed>,
    {
        let mut report = Report {
            client: client.to_string(),
            ..Report::default()
        };
        for step in &self.steps {
            if let Some(c) = &step.control {
                apply_control(emu, c)?;
                continue;
            }
            let observed = call(step.clone()).await;
            if matches!(observed, Observed::Unsupported) {
                println!("skip  {}", step.name);
                report.skipped.push(step.name.clone());
                continue;
            }
            let diffs = step.check(&observed);
            if diffs.is_empty() {
                println!("ok    {}", step.name);
                report.passed.push(step.name.clone());
            } else {
                println!("FAIL  {}", step.name);
                for d in &diffs {
                    println!("        {d}");
                }
                report.failed.push((step.name.clone(), diffs));
            }
        }
        println!("{}", report.summary());
        Ok(report)
    }
}

impl Step {
    pub fn str_param(&self, key: &str) -> Option<&str> {
        self.params.get(key).and_then(Json::as_str)
    }

    pub fn list_param(&self, key: &str) -> Vec<&str> {
        match self.params.get(key) {
            Some(Json::Array(a)) => a.iter().filter_map(Json::as_str).collect(),
            Some(Json::String(s)) => vec![s.as_str()],
            _ => Vec::new(),
        }
    }

    pub fn bool_param(&self, key: &str) -> Option<bool> {
        self.params.get(key).and_then(Json::as_bool)
    }

    /// Differences between what the step expects and what the client observed.
    pub fn check(&self, observed: &Observed) -> Vec<String> {
        let Some(exp) = &self.expect else {
            return Vec::new();
        };
        match observed {
            // Any transport failure is what was expected.
            Observed::Transport(_) if exp.transport_error => Vec::new(),
            Observed::Transport(e) => vec![format!("transport error: {e}")],
            Observed::Unsupported => Vec::new(),
            Observed::Http(status, body) => {
                if exp.transport_error {
                    return vec![format!("expected a transport error, got HTTP {status}")];
                }
                if Some(*status) != exp.status {
                    return vec![format!(
                        "HTTP {status}, expected {:?}: {}",
                        exp.status,
                        truncate(&body.to_string(), 400)
                    )];
                }
                let mut diffs = match &exp.body {
                    Some(e) => json_match(e, body, exp.exact, "$"),
                    None => Vec::new(),
                };
                for k in &exp.absent {
                    if let Some(v) = body.get(k) {
                        diffs.push(format!("$.{k}: must be absent, got {v}"));
                    }
                }
                diffs
            }
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Subset match (objects: listed keys; arrays: same length) or exact match; numbers compare by
/// value (`46355` = `46355.0`).
pub fn json_match(expected: &Json, actual: &Json, exact: bool, path: &str) -> Vec<String> {
    match (expected, actual) {
        (Json::Number(a), Json::Number(b)) if a.as_f64() == b.as_f64() => Vec::new(),
        (Json::Object(e), Json::Object(a)) => {
            let mut diffs = Vec::new();
            for (k, v) in e {
                match a.get(k) {
                    None => diffs.push(format!("{path}.{k}: missing")),
                    Some(av) => diffs.extend(json_match(v, av, exact, &format!("{path}.{k}"))),
                }
            }
            if exact {
                for (k, v) in a {
                    if !e.contains_key(k) {
                        diffs.push(format!("{path}.{k}: unexpected ({v})"));
                    }
                }
            }
            diffs
        }
        (Json::Array(e), Json::Array(a)) if e.len() == a.len() => e
            .iter()
            .zip(a)
            .enumerate()
            .flat_map(|(i, (ev, av))| json_match(ev, av, exact, &format!("{path}[{i}]")))
            .collect(),
        (e, a) if e == a => Vec::new(),
        (e, a) => vec![format!("{path}: expected {e}, got {a}")],
    }
}

/// Carries out a `control` step on an in-process emulator (same effect as the HTTP control API).
pub fn apply_control(emu: &Emulator, c: &Control) -> Result<(), EmulatorError> {
    let body = c.body.clone().unwrap_or(Json::Null);
    match (c.method.as_str(), c.path.as_str()) {
        ("PUT", "/__control/quota") => emu.set_quota(serde_json::from_value::<QuotaConfig>(body)?),
        ("POST", "/__control/quota/reset") => emu.reset_quotas(),
        ("POST", "/__control/faults") => emu.add_fault(serde_json::from_value::<FaultRule>(body)?),
        ("DELETE", "/__control/faults") => emu.clear_faults(),
        ("POST", "/__control/tokens/expire") => emu.expire_tokens(),
        (m, p) => {
            return Err(EmulatorError::Seed(format!(
                "control step {m} {p} has no in-process equivalent"
            )))
        }
    }
    Ok(())
}
