//! `sheets-emulator`: the Sheets API v4 emulator as a standalone server for clients in other
//! languages. Prints `listening on 127.0.0.1:PORT` once it accepts connections.
//!
//! ```text
//! sheets-emulator [--port N] [--seed FILE.json]... [--write-key PATH --client-email EMAIL]
//!                 [--no-quota] [--reads-per-minute N] [--writes-per-minute N] [--record] [--verbose]
//! ```
//!
//! `--record` keeps every response body for `GET /__control/log` (schema validation).

use std::path::PathBuf;
use std::process::ExitCode;

use zeues_tests::emulator::{Emulator, EmulatorConfig, EmulatorError, SpreadsheetSeed};

struct Args {
    config: EmulatorConfig,
    seeds: Vec<PathBuf>,
    write_key: Option<PathBuf>,
    client_email: String,
}

fn usage() -> String {
    "usage: sheets-emulator [--port N] [--seed FILE.json]... [--write-key PATH] \
     [--client-email EMAIL] [--no-quota] [--reads-per-minute N] [--writes-per-minute N] [--record] [--verbose]"
        .to_string()
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        config: EmulatorConfig::default(),
        seeds: Vec::new(),
        write_key: None,
        client_email: "zeues-sync@zeues-test.iam.gserviceaccount.com".to_string(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--port" => {
                let p: u16 = value("--port")?
                    .parse()
                    .map_err(|e| format!("--port: {e}"))?;
                a.config.bind.set_port(p);
            }
            "--seed" => a.seeds.push(PathBuf::from(value("--seed")?)),
            "--write-key" => a.write_key = Some(PathBuf::from(value("--write-key")?)),
            "--client-email" => a.client_email = value("--client-email")?,
            "--no-quota" => a.config.quota.enabled = false,
            "--reads-per-minute" => {
                a.config.quota.reads_per_minute = value("--reads-per-minute")?
                    .parse()
                    .map_err(|e| format!("--reads-per-minute: {e}"))?;
            }
            "--writes-per-minute" => {
                a.config.quota.writes_per_minute = value("--writes-per-minute")?
                    .parse()
                    .map_err(|e| format!("--writes-per-minute: {e}"))?;
            }
            "--verbose" => a.config.verbose = true,
            "--record" => a.config.record_responses = true,
            "-h" | "--help" => return Err(usage()),
            other => return Err(format!("unknown argument {other}\n{}", usage())),
        }
    }
    Ok(a)
}

async fn run(args: Args) -> Result<(), EmulatorError> {
    let emu = Emulator::start(args.config).await?;
    for path in &args.seeds {
        let text = std::fs::read_to_string(path).map_err(|source| EmulatorError::Io {
            path: path.display().to_string(),
            source,
        })?;
        emu.seed(&SpreadsheetSeed::from_json(serde_json::from_str(&text)?)?)?;
    }
    if let Some(path) = &args.write_key {
        emu.write_service_account(&args.client_email, path)?;
        println!("key {} for {}", path.display(), args.client_email);
    }
    println!("listening on {}", emu.addr());
    // Runs until killed; the control API resets state between suites.
    std::future::pending::<()>().await;
    emu.shutdown().await;
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sheets-emulator: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sheets-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}
