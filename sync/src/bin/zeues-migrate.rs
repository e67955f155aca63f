//! `zeues-migrate`: the schema migration of the plant's workbook from a terminal.
//!
//! ```text
//! zeues-migrate --sheet ID --key sa.json [--base-url URL] [--backup-dir DIR] [--yes]
//! zeues-migrate --sheet ID --key sa.json --rollback BACKUP.json
//! zeues-migrate --local plant.db [--backup-dir DIR] [--yes]        (embedded workbook)
//! ```
//! Without `--yes` it only prints what it would do (dry run).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use zeues_sync::domain::time::santiago;
use zeues_sync::migrate::{self, Outcome};
use zeues_sync::ports::sheets::auth::Credentials;
use zeues_sync::ports::sheets::{GoogleSheets, SheetsConfig};
use zeues_sync::ports::{LocalWorkbook, Workbook};

struct Args {
    sheet: Option<String>,
    key: Option<PathBuf>,
    base_url: Option<String>,
    local: Option<PathBuf>,
    backup_dir: PathBuf,
    rollback: Option<PathBuf>,
    yes: bool,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        sheet: None,
        key: None,
        base_url: None,
        local: None,
        backup_dir: PathBuf::from("."),
        rollback: None,
        yes: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("falta el valor de {flag}"));
        match flag.as_str() {
            "--sheet" => a.sheet = Some(value()?),
            "--key" => a.key = Some(PathBuf::from(value()?)),
            "--base-url" => a.base_url = Some(value()?),
            "--local" => a.local = Some(PathBuf::from(value()?)),
            "--backup-dir" => a.backup_dir = PathBuf::from(value()?),
            "--rollback" => a.rollback = Some(PathBuf::from(value()?)),
            "--yes" => a.yes = true,
            other => return Err(format!("opción desconocida: {other}")),
        }
    }
    Ok(a)
}

async fn workbook(a: &Args) -> Result<Arc<dyn Workbook>, String> {
    if let Some(p) = &a.local {
        return Ok(Arc::new(LocalWorkbook::open(p).map_err(|e| e.to_string())?));
    }
    let (Some(sheet), Some(key)) = (&a.sheet, &a.key) else {
        return Err("indique --sheet y --key (o --local)".into());
    };
    let mut cfg = SheetsConfig::new(sheet.clone());
    if let Some(u) = &a.base_url {
        cfg.base_url = u.clone();
    }
    let gs = GoogleSheets::connect(cfg, Credentials::ServiceAccountFile(key.clone()))
        .await
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(gs))
}

async fn run(a: Args) -> Result<(), String> {
    let wb = workbook(&a).await?;
    let now = santiago(chrono::Utc::now());
    let id = uuid::Uuid::new_v4().to_string();
    if let Some(backup) = &a.rollback {
        let b = migrate::load_backup(backup).map_err(|e| e.to_string())?;
        println!(
            "Revertir '{}' a {} columnas (respaldo del {}), quitando {:?}.",
            b.tab, b.shape.columns, b.taken_at, b.added
        );
        if !a.yes {
            println!("Simulación: agregue --yes para revertir.");
            return Ok(());
        }
        let out = migrate::rollback(wb.as_ref(), backup, now, &id)
            .await
            .map_err(|e| e.to_string())?;
        match out {
            Outcome::RolledBack { dropped } => println!("Revertido: se quitaron {dropped:?}."),
            _ => println!("No había nada que revertir."),
        }
        return Ok(());
    }
    let plan = migrate::plan(wb.as_ref())
        .await
        .map_err(|e| e.to_string())?;
    print!("{}", plan.preview());
    if plan.is_noop() {
        return Ok(());
    }
    if !a.yes {
        println!("Simulación: agregue --yes para aplicar.");
        return Ok(());
    }
    let path = migrate::backup_path(&a.backup_dir, now);
    migrate::save_backup(&plan, &path, now).map_err(|e| e.to_string())?;
    println!("Respaldo guardado en {}", path.display());
    let out = migrate::apply(wb.as_ref(), &plan, &path, now, &id)
        .await
        .map_err(|e| e.to_string())?;
    println!("Resultado: {out:?}. Verificado leyendo la hoja de nuevo.");
    println!(
        "Para revertir: zeues-migrate ... --rollback {}",
        path.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("no se pudo iniciar: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
