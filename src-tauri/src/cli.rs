//! The `zeues` command line: the same binary as the app, without a window. `main` hands the
//! arguments here first; when they name a subcommand (or ask for help or the version) the
//! command runs and the process exits, before any GTK/WebKit is touched. Otherwise the window
//! starts as usual (launchers and WebDriver add flags of their own: those are left alone).
//!
//! Spanish by default; `--lang en` (or `ZEUES_LANG=en`) switches the help and this module's own
//! messages to English. The checks' details and fixes stay Spanish: they are the plant's text,
//! shared with the first-run screen.
//!
//! Exit codes: 0 done, 1 failed (a red check, an unreachable plant …), 2 wrong usage.
//!
//! `pin` and `demo` write the device database, so they take the data directory's lock
//! (`zeues_sync::instance`) and are refused while the window (or another of them) holds it;
//! the read-only commands never take it and work beside a running window. `migrate` does not
//! take it either: it writes the sheet, which every device of the plant uses anyway.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{value_parser, Arg, ArgAction, ArgMatches, Command};
use serde::Serialize;
use zeues_sync::api::{AppMode, Connectivity, DoctorReport};
use zeues_sync::doctor::{self, ConfigState, DoctorInput, Limits};
use zeues_sync::domain::sheet::METADATA;
use zeues_sync::domain::time::{fmt_datetime, santiago};
use zeues_sync::engine::NoNotifier;
use zeues_sync::instance::{Holder, InstanceError, InstanceLock};
use zeues_sync::migrate::{self, Outcome};
use zeues_sync::ports::redis::RedisCoordinator;
use zeues_sync::ports::sheets::auth::Credentials;
use zeues_sync::ports::sheets::{GoogleSheets, SheetsConfig};
use zeues_sync::ports::{LocalWorkbook, Workbook};
use zeues_sync::service::{SystemClock, Zeues, DEMO_WORKBOOK, DEVICE_DB};

use crate::plant_config::{self, ConfigFile, ConfigFileError, Mode};

/// Global flags that take a value (their value is never a subcommand).
const VALUE_FLAGS: [&str; 3] = ["--config", "--data-dir", "--lang"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Es,
    En,
}

impl Lang {
    fn t(self, es: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Es => es,
            Lang::En => en,
        }
    }
}

/// True when the arguments ask for the command line rather than the window: any word that is
/// not a flag (nor the value of `--config`/`--data-dir`/`--lang`), so `zeues doctr` is a usage
/// error with a suggestion instead of a window, or `--help`/`--version`. Launchers and WebDriver
/// only add flags.
pub fn is_cli(args: &[OsString]) -> bool {
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
            continue;
        }
        let Some(s) = a.to_str() else { continue };
        if VALUE_FLAGS.contains(&s) {
            skip = true;
            continue;
        }
        if matches!(s, "-h" | "--help" | "-V" | "--version") || !s.starts_with('-') {
            return true;
        }
    }
    false
}

/// `--lang en` / `--lang=en` among the arguments, else `ZEUES_LANG`, else Spanish.
pub fn lang_of(args: &[OsString]) -> Lang {
    let mut it = args.iter().filter_map(|a| a.to_str());
    let mut found: Option<String> = None;
    while let Some(a) = it.next() {
        if a == "--lang" {
            found = it.next().map(str::to_string);
        } else if let Some(v) = a.strip_prefix("--lang=") {
            found = Some(v.to_string());
        }
    }
    let v = found.or_else(|| std::env::var("ZEUES_LANG").ok());
    match v.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("en") => Lang::En,
        _ => Lang::Es,
    }
}

fn help_arg(l: Lang) -> Arg {
    Arg::new("help")
        .short('h')
        .long("help")
        .action(ArgAction::Help)
        .global(true)
        .help(l.t("Muestra esta ayuda", "Show this help"))
}

fn leaf(name: &'static str, l: Lang, about: &'static str, usage: &'static str) -> Command {
    Command::new(name)
        .about(about)
        .disable_help_flag(true)
        .override_usage(usage)
        .help_template(format!(
            "{{about-with-newline}}\n{}: {{usage}}\n\n{}:\n{{options}}{{after-help}}\n",
            l.t("Uso", "Usage"),
            l.t("Opciones", "Options")
        ))
}

fn json_arg(l: Lang) -> Arg {
    Arg::new("json")
        .long("json")
        .action(ArgAction::SetTrue)
        .help(l.t("Salida en JSON (para scripts)", "JSON output (for scripts)"))
}

/// The whole command line, with its help in `l`.
pub fn command(l: Lang) -> Command {
    Command::new("zeues")
        .version(env!("CARGO_PKG_VERSION"))
        .about(l.t(
            "ZEUES: quién tiene qué spool, en vivo. Sin comando abre la ventana; con un comando lo ejecuta sin ventana.",
            "ZEUES: who has which spool, live. Without a command it opens the window; with one it runs it without a window.",
        ))
        .disable_help_flag(true)
        .disable_version_flag(true)
        .disable_help_subcommand(true)
        .subcommand_required(true)
        .override_usage(l.t("zeues [OPCIONES] <COMANDO>", "zeues [OPTIONS] <COMMAND>"))
        .help_template(format!(
            "{{about-with-newline}}\n{}: {{usage}}\n\n{}:\n{{subcommands}}\n\n{}:\n{{options}}\n\n{}\n",
            l.t("Uso", "Usage"),
            l.t("Comandos", "Commands"),
            l.t("Opciones", "Options"),
            l.t(
                "`zeues <COMANDO> --help` explica cada comando. Configuración y diagnóstico: README y docs/OPERATIONS.md.",
                "`zeues <COMMAND> --help` explains each command. Configuration and troubleshooting: README and docs/OPERATIONS.md."
            )
        ))
        .arg(help_arg(l))
        .arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help(l.t("Muestra la versión", "Show the version")),
        )
        .arg(
            Arg::new("config")
                .long("config")
                .global(true)
                .value_name(l.t("ARCHIVO", "FILE"))
                .value_parser(value_parser!(PathBuf))
                .help(l.t(
                    "Archivo de configuración (si no: ZEUES_CONFIG, o zeues.toml en --data-dir si se indicó, o en el directorio de configuración del sistema)",
                    "Configuration file (else ZEUES_CONFIG, or zeues.toml in --data-dir when given, or in the OS config directory)",
                )),
        )
        .arg(
            Arg::new("data-dir")
                .long("data-dir")
                .global(true)
                .value_name(l.t("DIR", "DIR"))
                .value_parser(value_parser!(PathBuf))
                .help(l.t(
                    "Directorio de datos de este equipo (si no: ZEUES_DATA_DIR, o el del sistema)",
                    "This device's data directory (else ZEUES_DATA_DIR, or the OS one)",
                )),
        )
        .arg(
            Arg::new("lang")
                .long("lang")
                .global(true)
                .value_name("es|en")
                .value_parser(["es", "en"])
                .hide_possible_values(true)
                .help(l.t("Idioma de la ayuda y los mensajes: es (predeterminado) o en", "Language of help and messages: es (default) or en")),
        )
        .subcommand(
            leaf(
                "doctor",
                l,
                l.t(
                    "Revisa la instalación: configuración, clave, token, planilla, pestañas y columnas, Redis (TLS/AUTH), reloj, cuota, base local y pendientes. Sale con código 1 si algo está en rojo.",
                    "Checks the installation: configuration, key, token, spreadsheet, tabs and columns, Redis (TLS/AUTH), clock, quota, local database and backlog. Exits 1 when anything is red.",
                ),
                "zeues doctor [--json]",
            )
            .arg(json_arg(l)),
        )
        .subcommand(
            leaf(
                "migrate",
                l,
                l.t(
                    "Agrega a Operaciones las columnas de la aplicación que falten (al final, sin mover otras), con respaldo, verificación y registro en Metadata.",
                    "Adds the app-owned columns Operaciones lacks (at the end, moving nothing), with a backup, verification and a Metadata audit row.",
                ),
                l.t(
                    "zeues migrate [--dry-run] [--rollback <RESPALDO>] [--respaldos <DIR>]",
                    "zeues migrate [--dry-run] [--rollback <BACKUP>] [--respaldos <DIR>]",
                ),
            )
            .arg(
                Arg::new("dry-run")
                    .long("dry-run")
                    .visible_alias("simular")
                    .action(ArgAction::SetTrue)
                    .help(l.t("Solo muestra las columnas que agregaría; no cambia nada", "Only shows the columns it would add; changes nothing")),
            )
            .arg(
                Arg::new("rollback")
                    .long("rollback")
                    .value_name(l.t("RESPALDO", "BACKUP"))
                    .value_parser(value_parser!(PathBuf))
                    .help(l.t("Revierte la migración de ese respaldo (quita solo las columnas que agregó)", "Reverts the migration of that backup (drops only the columns it added)")),
            )
            .arg(
                Arg::new("respaldos")
                    .long("respaldos")
                    .value_name("DIR")
                    .value_parser(value_parser!(PathBuf))
                    .help(l.t("Dónde guardar el respaldo (si no: <datos>/respaldos)", "Where to keep the backup (else <data>/respaldos)")),
            ),
        )
        .subcommand(leaf(
            "demo",
            l,
            l.t(
                "Vuelve a sembrar la planta de demostración en el directorio de datos (borra la demo y su base local; no toca la planta real). Cierre ZEUES antes.",
                "Re-seeds the demo plant in the data directory (deletes the demo and its local database; never the real plant). Close ZEUES first.",
            ),
            "zeues demo",
        ))
        .subcommand(
            leaf(
                "export",
                l,
                l.t(
                    "Exporta la auditoría (pestaña Metadata) y el historial de ocupación de un rango de fechas a CSV, seguro de abrir en una planilla.",
                    "Exports the audit log (Metadata tab) and the occupation history of a date range to CSV, safe to open in a spreadsheet.",
                ),
                l.t(
                    "zeues export --desde DD-MM-YYYY --hasta DD-MM-YYYY [--formato csv] [--salida ARCHIVO]",
                    "zeues export --desde DD-MM-YYYY --hasta DD-MM-YYYY [--formato csv] [--salida FILE]",
                ),
            )
            .arg(
                Arg::new("desde")
                    .long("desde")
                    .required(true)
                    .value_name("DD-MM-YYYY")
                    .help(l.t("Primer día (incluido), fecha de la planta", "First day (included), plant date")),
            )
            .arg(
                Arg::new("hasta")
                    .long("hasta")
                    .required(true)
                    .value_name("DD-MM-YYYY")
                    .help(l.t("Último día (incluido)", "Last day (included)")),
            )
            .arg(
                Arg::new("formato")
                    .long("formato")
                    .value_name("csv")
                    .help(l.t("Formato de salida: csv (el único por ahora)", "Output format: csv (the only one for now)")),
            )
            .arg(
                Arg::new("salida")
                    .long("salida")
                    .value_name(l.t("ARCHIVO", "FILE"))
                    .value_parser(value_parser!(PathBuf))
                    .help(l.t("Archivo a escribir (si no: la salida estándar)", "File to write (else standard output)")),
            ),
        )
        .subcommand(
            leaf(
                "status",
                l,
                l.t(
                    "Estado de este equipo: modo, conectividad, pendientes, conflictos y última sincronización.",
                    "This device's state: mode, connectivity, pending, conflicts and last sync.",
                ),
                "zeues status [--json]",
            )
            .arg(json_arg(l)),
        )
        .subcommand(leaf(
            "pin",
            l,
            l.t(
                "Fija el PIN de supervisor de este equipo (lo lee de la entrada estándar: `echo 1234 | zeues pin`; se guarda solo su hash). Para equipos configurados copiando zeues.toml. Cierre ZEUES antes.",
                "Sets this device's supervisor PIN (read from standard input: `echo 1234 | zeues pin`; only its hash is kept). For devices configured by copying zeues.toml. Close ZEUES first.",
            ),
            "zeues pin < PIN",
        ))
}

/// clap's own errors, told in `l` (clap only speaks English).
fn usage_error(e: &clap::Error, l: Lang) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let ctx = |k: ContextKind| match e.get(k) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.join(", "),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let msg = match (e.kind(), l) {
        (ErrorKind::UnknownArgument, Lang::Es) => {
            format!("opción desconocida: {}", ctx(ContextKind::InvalidArg))
        }
        (ErrorKind::InvalidSubcommand, Lang::Es) => {
            let hint = ctx(ContextKind::SuggestedSubcommand);
            format!(
                "comando desconocido: {}{}",
                ctx(ContextKind::InvalidSubcommand),
                if hint.is_empty() {
                    String::new()
                } else {
                    format!(" (¿quiso decir {hint}?)")
                }
            )
        }
        (ErrorKind::InvalidValue, Lang::Es) => format!(
            "valor no válido '{}' para {}",
            ctx(ContextKind::InvalidValue),
            ctx(ContextKind::InvalidArg)
        ),
        (ErrorKind::MissingRequiredArgument, Lang::Es) => {
            format!("falta {}", ctx(ContextKind::InvalidArg))
        }
        (ErrorKind::MissingSubcommand, Lang::Es)
        | (ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand, Lang::Es) => {
            "falta el comando".to_string()
        }
        (
            ErrorKind::NoEquals | ErrorKind::TooManyValues | ErrorKind::ArgumentConflict,
            Lang::Es,
        ) => {
            format!("uso incorrecto de {}", ctx(ContextKind::InvalidArg))
        }
        _ => e.kind().to_string(),
    };
    format!(
        "zeues: {msg}\n{}",
        l.t(
            "Use `zeues --help` para ver los comandos.",
            "Use `zeues --help` to see the commands."
        )
    )
}

/// Runs the command line and returns the process's exit code.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let lang = lang_of(&args);
    let mut full = vec![OsString::from("zeues")];
    full.extend(args);
    let m = match command(lang).try_get_matches_from(full) {
        Ok(m) => m,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    print!("{}", e.render());
                    ExitCode::SUCCESS
                }
                _ => {
                    eprintln!("{}", usage_error(&e, lang));
                    ExitCode::from(2)
                }
            };
        }
    };
    let ctx = match Ctx::from(&m, lang) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("zeues: {msg}");
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
            eprintln!("zeues: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match m.subcommand() {
        Some(("doctor", s)) => rt.block_on(doctor_cmd(&ctx, s.get_flag("json"))),
        Some(("migrate", s)) => rt.block_on(migrate_cmd(&ctx, s)),
        Some(("demo", _)) => demo_cmd(&ctx, rt.handle().clone()),
        Some(("export", s)) => rt.block_on(export_cmd(&ctx, s)),
        Some(("status", s)) => rt.block_on(status_cmd(&ctx, s.get_flag("json"))),
        Some(("pin", _)) => pin_cmd(&ctx),
        _ => Err(Failure::Usage(
            ctx.l.t("falta el comando", "missing command").into(),
        )),
    };
    rt.shutdown_timeout(Duration::from_secs(2));
    match result {
        Ok(code) => code,
        Err(Failure::Usage(m)) => {
            eprintln!("zeues: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Failed(m)) => {
            eprintln!("zeues: {m}");
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    Usage(String),
    Failed(String),
}

fn failed(e: impl std::fmt::Display) -> Failure {
    Failure::Failed(e.to_string())
}

struct Ctx {
    l: Lang,
    config_path: PathBuf,
    data_dir: PathBuf,
    config: Result<Option<ConfigFile>, ConfigFileError>,
}

impl Ctx {
    fn from(m: &ArgMatches, l: Lang) -> Result<Ctx, String> {
        let config_path = plant_config::resolve_path(
            m.get_one::<PathBuf>("config").cloned(),
            std::env::var_os("ZEUES_CONFIG"),
            plant_config::explicit_data_dir(m.get_one::<PathBuf>("data-dir").cloned()),
        )
        .map_err(|e| e.to_string())?;
        let os = directories::ProjectDirs::from("cl", "ZEUES", "zeues");
        let paths = crate::config::resolve(
            m.get_one::<PathBuf>("data-dir").cloned(),
            std::env::var_os("ZEUES_DATA_DIR"),
            os.as_ref(),
        )
        .map_err(|e| e.to_string())?;
        let config = plant_config::load(&config_path);
        Ok(Ctx {
            l,
            config_path,
            data_dir: paths.data_dir,
            config,
        })
    }

    fn mode(&self) -> AppMode {
        match &self.config {
            Ok(Some(c)) if c.mode == Mode::Planta => AppMode::Planta,
            Ok(Some(_)) => AppMode::Demo,
            _ => AppMode::SinConfigurar,
        }
    }

    /// The plant configuration, or why there is none.
    fn plant(&self) -> Result<Option<&ConfigFile>, Failure> {
        match &self.config {
            Ok(Some(c)) if c.mode == Mode::Planta => Ok(Some(c)),
            Ok(_) => Ok(None),
            Err(e) => Err(failed(e)),
        }
    }

    /// Takes the data directory for a command that writes the device database (`doing` says
    /// what, to finish the refusal). While the window has it, or another such command, the
    /// command is refused: two processes on the device database would apply or push a command
    /// twice. Read-only commands (`status`, `doctor`, `export`) never take it.
    fn hold(
        &self,
        command: &str,
        doing: (&'static str, &'static str),
    ) -> Result<InstanceLock, Failure> {
        let l = self.l;
        match InstanceLock::acquire_as(&self.data_dir, Holder::Command(command.into())) {
            Ok(lock) => Ok(lock),
            Err(InstanceError::Held { held_by, .. }) => {
                let pid = held_by.pid.map_or(String::new(), |p| match l {
                    Lang::Es => format!(" (proceso {p})"),
                    Lang::En => format!(" (process {p})"),
                });
                Err(Failure::Failed(match (&held_by.holder, l) {
                    (Holder::Command(other), Lang::Es) => format!(
                        "el comando «zeues {other}»{pid} está usando este equipo; espere a que termine antes de {}.",
                        doing.0
                    ),
                    (Holder::Command(other), Lang::En) => format!(
                        "the command `zeues {other}`{pid} is using this device; wait for it to finish before {}.",
                        doing.1
                    ),
                    (_, Lang::Es) => format!(
                        "ZEUES está abierto en este equipo{pid}; ciérrelo antes de {}.",
                        doing.0
                    ),
                    (_, Lang::En) => format!(
                        "ZEUES is open on this device{pid}; close it before {}.",
                        doing.1
                    ),
                }))
            }
            Err(e) => Err(failed(e)),
        }
    }

    /// The device database this configuration uses.
    fn device_db(&self) -> PathBuf {
        match self.mode() {
            AppMode::Planta => plant_config::plant_data_dir(&self.data_dir).join(DEVICE_DB),
            _ => self.data_dir.join(DEVICE_DB),
        }
    }

    /// The workbook the configuration names: the plant's Google Sheets, or the demo's.
    async fn workbook(&self) -> Result<Arc<dyn Workbook>, Failure> {
        if let Some(cfg) = self.plant()? {
            let secrets = plant_config::load_secrets(&self.config_path).map_err(failed)?;
            let t = cfg.plant_target(&secrets).map_err(failed)?;
            let mut sc = SheetsConfig::new(t.spreadsheet_id);
            if let Some(u) = t.sheets_base_url {
                sc.base_url = u;
            }
            let gs = GoogleSheets::connect(sc, Credentials::ServiceAccountFile(t.key_file))
                .await
                .map_err(failed)?;
            return Ok(Arc::new(gs));
        }
        let path = self.data_dir.join(DEMO_WORKBOOK);
        if !path.is_file() {
            return Err(Failure::Failed(format!(
                "{} {}: {}",
                self.l.t("no hay planta demo en", "no demo plant in"),
                self.data_dir.display(),
                self.l.t(
                    "ejecute `zeues demo` o configure la planta",
                    "run `zeues demo` or configure the plant"
                )
            )));
        }
        Ok(Arc::new(LocalWorkbook::open(&path).map_err(failed)?))
    }
}

fn print_report(report: &DoctorReport, l: Lang, header: &str) {
    println!("ZEUES doctor — {header}");
    for c in &report.checks {
        let mark = if c.ok { "✔" } else { "✘" };
        println!("{mark} {}: {}", c.label, c.detail);
        if let Some(fix) = c.fix.as_deref().filter(|_| !c.ok) {
            println!("    → {fix}");
        }
    }
    let red = report.checks.iter().filter(|c| !c.ok).count();
    let omitted = doctor::omitted(report);
    if red == 0 {
        println!("{}", l.t("Todo en verde.", "All green."));
    } else {
        println!(
            "{} {red} {} {}.",
            l.t("Resultado:", "Result:"),
            l.t("en rojo de", "red out of"),
            report.checks.len()
        );
    }
    if !omitted.is_empty() {
        println!(
            "{} {}",
            l.t(
                "No revisado (no aplica, o espera a que se corrija lo anterior):",
                "Not checked (not applicable, or waiting for the above to be fixed):"
            ),
            omitted.join(", ")
        );
    }
}

async fn doctor_cmd(ctx: &Ctx, json: bool) -> Result<ExitCode, Failure> {
    let shown = ctx.config_path.display().to_string();
    let (config, plant, header) = match &ctx.config {
        Ok(None) => (
            ConfigState::Missing {
                path: shown.clone(),
            },
            None,
            ctx.l.t("sin configurar", "not configured").to_string(),
        ),
        Err(e) => (
            ConfigState::Invalid {
                path: shown.clone(),
                reason: e.to_string(),
            },
            None,
            ctx.l
                .t("configuración inválida", "invalid configuration")
                .to_string(),
        ),
        Ok(Some(c)) => {
            let target = match c.mode {
                Mode::Demo => Ok(None),
                Mode::Planta => plant_config::load_secrets(&ctx.config_path)
                    .and_then(|s| c.plant_target(&s))
                    .map(Some),
            };
            match target {
                Ok(t) => (
                    ConfigState::Valid {
                        detail: format!("{shown}: {}", c.describe()),
                    },
                    t,
                    c.describe(),
                ),
                Err(e) => (
                    ConfigState::Invalid {
                        path: shown.clone(),
                        reason: e.to_string(),
                    },
                    None,
                    c.describe(),
                ),
            }
        }
    };
    let input = DoctorInput {
        config,
        plant,
        device_db: Some(ctx.device_db()),
        limits: Limits::default(),
    };
    let report = doctor::run(&input, &SystemClock).await;
    if json {
        println!("{}", serde_json::to_string_pretty(&report).map_err(failed)?);
    } else {
        print_report(&report, ctx.l, &header);
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn migrate_cmd(ctx: &Ctx, s: &ArgMatches) -> Result<ExitCode, Failure> {
    let l = ctx.l;
    let wb = ctx.workbook().await?;
    let now = santiago(chrono::Utc::now());
    let id = uuid::Uuid::new_v4().to_string();
    let dry = s.get_flag("dry-run");
    if let Some(backup) = s.get_one::<PathBuf>("rollback") {
        let b = migrate::load_backup(backup).map_err(failed)?;
        println!(
            "{} '{}' {} {} ({} {}), {}: {}",
            l.t("Revertir", "Revert"),
            b.tab,
            l.t("a", "to"),
            b.shape.columns,
            l.t("respaldo del", "backup of"),
            b.taken_at.format("%d-%m-%Y %H:%M:%S"),
            l.t("quitando", "dropping"),
            b.added.join(", ")
        );
        if dry {
            println!(
                "{}",
                l.t(
                    "Simulación: no se cambió nada.",
                    "Dry run: nothing changed."
                )
            );
            return Ok(ExitCode::SUCCESS);
        }
        match migrate::rollback(wb.as_ref(), backup, now, &id)
            .await
            .map_err(failed)?
        {
            Outcome::RolledBack { dropped } => println!(
                "{} {}",
                l.t(
                    "Revertido; columnas quitadas:",
                    "Reverted; columns dropped:"
                ),
                dropped.join(", ")
            ),
            _ => println!(
                "{}",
                l.t("No había nada que revertir.", "Nothing to revert.")
            ),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let plan = migrate::plan(wb.as_ref()).await.map_err(failed)?;
    print!("{}", plan.preview());
    if plan.is_noop() {
        return Ok(ExitCode::SUCCESS);
    }
    if dry {
        println!(
            "{}",
            l.t(
                "Simulación: no se cambió nada. Ejecute `zeues migrate` para aplicarla.",
                "Dry run: nothing changed. Run `zeues migrate` to apply it."
            )
        );
        return Ok(ExitCode::SUCCESS);
    }
    let dir = s
        .get_one::<PathBuf>("respaldos")
        .cloned()
        .unwrap_or_else(|| ctx.data_dir.join("respaldos"));
    let path = migrate::backup_path(&dir, now);
    migrate::save_backup(&plan, &path, now).map_err(failed)?;
    println!("{} {}", l.t("Respaldo:", "Backup:"), path.display());
    match migrate::apply(wb.as_ref(), &plan, &path, now, &id)
        .await
        .map_err(failed)?
    {
        Outcome::Applied {
            columns,
            initialised,
        } => {
            println!(
                "{} {} ({} {initialised}). {}",
                l.t("Agregadas:", "Added:"),
                columns.join(", "),
                l.t("filas inicializadas:", "rows initialised:"),
                l.t(
                    "Verificado leyendo la hoja de nuevo.",
                    "Verified by reading the sheet again."
                )
            );
            println!(
                "{} zeues migrate --rollback {}",
                l.t("Para revertir:", "To revert:"),
                path.display()
            );
        }
        _ => println!("{}", l.t("No había nada que hacer.", "Nothing to do.")),
    }
    Ok(ExitCode::SUCCESS)
}

fn remove_if_present(p: &Path) -> Result<(), Failure> {
    match std::fs::remove_file(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Failure::Failed(format!("{}: {e}", p.display()))),
    }
}

fn demo_cmd(ctx: &Ctx, rt: tokio::runtime::Handle) -> Result<ExitCode, Failure> {
    let l = ctx.l;
    let _lock = ctx.hold(
        "demo",
        (
            "volver a sembrar la planta demo",
            "re-seeding the demo plant",
        ),
    )?;
    // Only the demo's files: the plant device lives in <data>/planta and is never touched.
    for name in [DEMO_WORKBOOK, DEVICE_DB] {
        for suffix in ["", "-wal", "-shm"] {
            remove_if_present(&ctx.data_dir.join(format!("{name}{suffix}")))?;
        }
    }
    std::fs::create_dir_all(&ctx.data_dir).map_err(failed)?;
    let (zeues, report) = Zeues::open_standalone_with(
        &ctx.data_dir,
        Arc::new(SystemClock),
        Arc::new(NoNotifier),
        rt,
    )
    .map_err(failed)?;
    let spools = zeues.tags().map_err(failed)?.len();
    let workers = zeues.workers(None).map_err(failed)?.len();
    zeues.shutdown();
    if !report.seeded_demo {
        // The files were deleted above: a workbook that was not seeded means they came back.
        return Err(Failure::Failed(
            l.t(
                "la planta demo no se volvió a sembrar: ¿ZEUES está abierto sobre este directorio? Ciérrelo y repita.",
                "the demo plant was not re-seeded: is ZEUES open on this directory? Close it and retry.",
            )
            .into(),
        ));
    }
    println!(
        "{} {}: {spools} spools, {workers} {}",
        l.t("Planta demo sembrada en", "Demo plant seeded in"),
        ctx.data_dir.display(),
        l.t("trabajadores", "workers"),
    );
    println!(
        "{} {}",
        l.t("PIN de supervisor de la demo:", "Demo supervisor PIN:"),
        zeues_sync::demo::DEMO_SUPERVISOR_PIN
    );
    if ctx.mode() == AppMode::Planta {
        println!(
            "{}",
            l.t(
                "Nota: este equipo está configurado en modo planta; la demo solo se ve cambiando `mode = \"demo\"` en la configuración.",
                "Note: this device is configured for plant mode; the demo only shows with `mode = \"demo\"` in the configuration."
            )
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn export_cmd(ctx: &Ctx, s: &ArgMatches) -> Result<ExitCode, Failure> {
    use zeues_sync::export;
    let l = ctx.l;
    let formato = s.get_one::<String>("formato").map_or("csv", String::as_str);
    if !formato.eq_ignore_ascii_case("csv") {
        return Err(Failure::Usage(
            export::ExportError::Format(formato.to_string()).to_string(),
        ));
    }
    let date = |k: &str| -> Result<chrono::NaiveDate, Failure> {
        let v = s.get_one::<String>(k).map_or("", String::as_str);
        export::parse_date(v).map_err(|e| Failure::Usage(e.to_string()))
    };
    let (desde, hasta) = (date("desde")?, date("hasta")?);
    if desde > hasta {
        return Err(Failure::Usage(
            export::ExportError::Reversed {
                desde: zeues_sync::domain::time::fmt_date(desde),
                hasta: zeues_sync::domain::time::fmt_date(hasta),
            }
            .to_string(),
        ));
    }
    let wb = ctx.workbook().await?;
    let grid = wb.read_tab(METADATA).await.map_err(failed)?;
    let (events, problems) = export::decode_audit(&grid).map_err(failed)?;
    let now = santiago(chrono::Utc::now());
    let (csv, n) = export::to_csv(&events, desde, hasta, now).map_err(failed)?;
    match s.get_one::<PathBuf>("salida") {
        Some(p) => std::fs::write(p, csv.as_bytes())
            .map_err(|e| Failure::Failed(format!("{}: {e}", p.display())))?,
        None => std::io::stdout()
            .write_all(csv.as_bytes())
            .map_err(failed)?,
    }
    eprintln!(
        "{} {} {} {}, {} {}.",
        l.t("Exportadas", "Exported"),
        n.audit_rows,
        l.t("filas de auditoría y", "audit rows and"),
        n.sessions,
        l.t("sesiones de ocupación de", "occupation sessions from"),
        wb.describe()
    );
    for p in problems.iter().take(20) {
        eprintln!(
            "  {} {p}",
            l.t(
                "fila ilegible, no exportada:",
                "unreadable row, not exported:"
            )
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The PIN comes from standard input, never from the arguments (shell history, `ps`).
fn pin_cmd(ctx: &Ctx) -> Result<ExitCode, Failure> {
    let l = ctx.l;
    // Before reading the PIN: nobody types it only to be refused.
    let _lock = ctx.hold(
        "pin",
        (
            "cambiar el PIN de supervisor",
            "changing the supervisor PIN",
        ),
    )?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(failed)?;
    let pin = line.trim();
    if pin.is_empty() {
        return Err(Failure::Usage(
            l.t(
                "escriba el PIN en la entrada estándar: echo 1234 | zeues pin",
                "give the PIN on standard input: echo 1234 | zeues pin",
            )
            .into(),
        ));
    }
    let db = ctx.device_db();
    let (store, _) = zeues_sync::store::Store::open(&db).map_err(failed)?;
    zeues_sync::service::set_pin(&store, pin).map_err(|e| Failure::Usage(e.message))?;
    println!(
        "{} {}",
        l.t(
            "PIN de supervisor guardado (hash argon2) en",
            "Supervisor PIN saved (argon2 hash) in"
        ),
        db.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Serialize)]
struct StatusOut {
    mode: AppMode,
    config: String,
    device_name: Option<String>,
    device_id: Option<String>,
    connectivity: Connectivity,
    pending: u32,
    held: u32,
    conflicts: u32,
    /// `DD-MM-YYYY HH:MM:SS`, plant time: the last command this device applied.
    last_sync: Option<String>,
    errors: Vec<String>,
}

/// Reaches the plant the way the app would, briefly: Redis `PING` and the spreadsheet's
/// metadata. Errors are returned as text (no secrets).
async fn probe(ctx: &Ctx, cfg: &ConfigFile) -> (Connectivity, Vec<String>) {
    let mut errors = Vec::new();
    let secrets = match plant_config::load_secrets(&ctx.config_path) {
        Ok(s) => s,
        Err(e) => return (Connectivity::Offline, vec![e.to_string()]),
    };
    let target = match cfg.plant_target(&secrets) {
        Ok(t) => t,
        Err(e) => return (Connectivity::Offline, vec![e.to_string()]),
    };
    let patience = Duration::from_secs(8);
    let redis_ok = match target.redis.clone() {
        None => false,
        Some(mut r) => {
            r.connect_timeout = Duration::from_secs(3);
            r.response_timeout = Duration::from_secs(3);
            let described = r.describe();
            let got = tokio::time::timeout(patience, async {
                RedisCoordinator::connect(r).await?.ping().await
            })
            .await;
            match got {
                Ok(Ok(())) => true,
                Ok(Err(e)) => {
                    errors.push(format!("{described}: {e}"));
                    false
                }
                Err(_) => {
                    errors.push(format!("{described}: sin respuesta"));
                    false
                }
            }
        }
    };
    let mut sc = SheetsConfig::new(target.spreadsheet_id);
    if let Some(u) = target.sheets_base_url {
        sc.base_url = u;
    }
    sc.max_attempts = 1;
    sc.request_timeout = Duration::from_secs(5);
    sc.connect_timeout = Duration::from_secs(5);
    let sheets = tokio::time::timeout(patience, async {
        let gs = GoogleSheets::connect(sc, Credentials::ServiceAccountFile(target.key_file))
            .await
            .map_err(|e| e.to_string())?;
        gs.sheets_info().await.map_err(|e| e.to_string())
    })
    .await;
    let sheets_ok = match sheets {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            errors.push(format!("Google Sheets: {e}"));
            false
        }
        Err(_) => {
            errors.push("Google Sheets: sin respuesta".into());
            false
        }
    };
    // The same four states as the app's sync badge (`Engine::status`).
    let c = match (sheets_ok, redis_ok) {
        (true, true) => Connectivity::Online,
        (true, false) => Connectivity::SheetsOnly,
        (false, true) => Connectivity::RedisOnly,
        (false, false) => Connectivity::Offline,
    };
    (c, errors)
}

fn connectivity_text(c: &Connectivity, l: Lang) -> &'static str {
    match c {
        Connectivity::Standalone => l.t(
            "independiente (demo, sin red)",
            "standalone (demo, no network)",
        ),
        Connectivity::Online => l.t(
            "en línea (Google Sheets y Redis)",
            "online (Google Sheets and Redis)",
        ),
        Connectivity::SheetsOnly => l.t(
            "solo Google Sheets (sin Redis)",
            "Google Sheets only (no Redis)",
        ),
        Connectivity::RedisOnly => l.t(
            "solo Redis (Google Sheets no responde)",
            "Redis only (Google Sheets not answering)",
        ),
        Connectivity::Offline => l.t("sin conexión", "offline"),
    }
}

async fn status_cmd(ctx: &Ctx, json: bool) -> Result<ExitCode, Failure> {
    let l = ctx.l;
    let mode = ctx.mode();
    let mut errors = Vec::new();
    let (config_text, device_name, connectivity) = match &ctx.config {
        Err(e) => {
            errors.push(e.to_string());
            (
                l.t("configuración inválida", "invalid configuration")
                    .to_string(),
                None,
                Connectivity::Standalone,
            )
        }
        Ok(None) => (
            l.t(
                "sin configurar (planta demo)",
                "not configured (demo plant)",
            )
            .to_string(),
            None,
            Connectivity::Standalone,
        ),
        Ok(Some(c)) if c.mode == Mode::Demo => (c.describe(), None, Connectivity::Standalone),
        Ok(Some(c)) => {
            let (conn, errs) = probe(ctx, c).await;
            errors.extend(errs);
            (c.describe(), c.device_name(), conn)
        }
    };
    let db = ctx.device_db();
    let inspection = if db.is_file() {
        match zeues_sync::store::inspect::inspect(&db) {
            Ok(i) => Some(i),
            Err(e) => {
                errors.push(format!("{}: {e}", db.display()));
                None
            }
        }
    } else {
        None
    };
    let out = StatusOut {
        mode,
        config: config_text,
        device_name,
        device_id: inspection.as_ref().and_then(|i| i.device_id.clone()),
        connectivity,
        pending: inspection.as_ref().map_or(0, |i| i.pending),
        held: inspection.as_ref().map_or(0, |i| i.held),
        conflicts: inspection.as_ref().map_or(0, |i| i.open_conflicts),
        last_sync: inspection
            .as_ref()
            .and_then(|i| i.last_applied)
            .map(|t| fmt_datetime(santiago(t))),
        errors,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&out).map_err(failed)?);
        return Ok(ExitCode::SUCCESS);
    }
    let label = |es, en| l.t(es, en);
    println!("{}: {}", label("Modo", "Mode"), out.config);
    if let Some(n) = &out.device_name {
        println!("{}: {n}", label("Equipo", "Device"));
    }
    println!(
        "{}: {}",
        label("Conectividad", "Connectivity"),
        connectivity_text(&out.connectivity, l)
    );
    println!(
        "{}: {}{}",
        label("Pendientes de sincronizar", "Pending sync"),
        out.pending + out.held,
        if out.held > 0 {
            format!(
                " ({} {})",
                out.held,
                label("retenidos por un conflicto", "held behind a conflict")
            )
        } else {
            String::new()
        }
    );
    println!(
        "{}: {}",
        label("Conflictos abiertos", "Open conflicts"),
        out.conflicts
    );
    println!(
        "{}: {}",
        label("Última sincronización", "Last sync"),
        out.last_sync.as_deref().unwrap_or(label(
            "nunca (o nada que sincronizar)",
            "never (or nothing to sync)"
        ))
    );
    if inspection.is_none() {
        println!(
            "{} {}",
            label(
                "Base local aún no creada:",
                "Local database not created yet:"
            ),
            db.display()
        );
    }
    for e in &out.errors {
        println!("! {e}");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn window_launches_are_not_commands() {
        assert!(!is_cli(&os(&[])));
        assert!(!is_cli(&os(&["--data-dir", "/tmp/x"])));
        assert!(
            !is_cli(&os(&["--data-dir", "doctor"])),
            "a value, not a command"
        );
        assert!(!is_cli(&os(&["--automation", "--config", "status"])));
        assert!(is_cli(&os(&["doctor"])));
        assert!(is_cli(&os(&["--lang", "en", "status", "--json"])));
        assert!(is_cli(&os(&["--help"])));
        assert!(is_cli(&os(&["-V"])));
        assert!(
            is_cli(&os(&["doctr"])),
            "a typo is a usage error, not a window"
        );
    }

    #[test]
    fn help_is_spanish_by_default_and_english_on_request() {
        assert_eq!(lang_of(&os(&["--lang", "en"])), Lang::En);
        assert_eq!(lang_of(&os(&["--lang=en", "doctor"])), Lang::En);
        let es = command(Lang::Es).render_help().to_string();
        assert!(es.contains("Uso:") && es.contains("Comandos:"), "{es}");
        assert!(es.contains("Muestra esta ayuda"), "{es}");
        assert!(!es.contains("Usage:"), "{es}");
        let en = command(Lang::En).render_help().to_string();
        assert!(
            en.contains("Usage:") && en.contains("Show this help"),
            "{en}"
        );
        command(Lang::Es).debug_assert();
    }
}
