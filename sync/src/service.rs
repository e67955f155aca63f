//! The public face of `zeues-sync`: what the Tauri shell, the CLI and the tests call. Each method
//! is a thin, typed entry point: validate, call the store or engine, return `{code, message}`
//! errors. No Tauri here.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
use argon2::Argon2;
use tokio::sync::broadcast;

use crate::api::{
    ActionOutcome, ActionRequest, ApiError, AppEvent, ConflictDecision, ConflictView, ForAction,
    OpenReport, PendingCommand, Rechazo, SpoolHistory, SpoolList, SpoolOutcome, SpoolQuery,
    SpoolView, SyncStatus, TagCheck, WorkerView,
};
use crate::domain::history::history;
use crate::domain::spool::normalize_tag;
use crate::domain::time::{fmt_datetime, santiago};
use crate::domain::transitions::{apply, eligible};
use crate::domain::{Actor, DomainError, Intent, Operacion, ResultadoMetrologia, Spool, Worker};
use crate::engine::{Engine, EngineConfig, Notifier};
use crate::ports::{Coordinator, InProcessCoordinator, LocalWorkbook, Workbook};
use crate::store::{LocalAction, Store, StoreError};

pub use crate::engine::{Clock, NoNotifier, SystemClock};

/// File names inside the data directory.
pub const DEVICE_DB: &str = "zeues.db";
pub const DEMO_WORKBOOK: &str = "planta-demo.db";

const MAX_LIST: usize = 500;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Domain(d) => d.into(),
            other => {
                tracing::error!(error = %other, "error de la base local");
                ApiError::new(
                    "ERROR_LOCAL",
                    format!("Error de la base de datos local: {other}"),
                )
            }
        }
    }
}

pub struct Zeues {
    store: Arc<Store>,
    engine: Arc<Engine>,
    clock: Arc<dyn Clock>,
    events: broadcast::Sender<AppEvent>,
    ids: Mutex<Box<dyn FnMut() -> String + Send>>,
    data_dir: PathBuf,
    /// The device's background tasks (push, stream, leader, presence, probes).
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// How a device is wired: its database, its ports, its clock and id source.
pub struct Wiring {
    pub store: Arc<Store>,
    pub workbook: Arc<dyn Workbook>,
    pub coordinator: Arc<dyn Coordinator>,
    pub clock: Arc<dyn Clock>,
    pub notifier: Arc<dyn Notifier>,
    pub ids: Box<dyn FnMut() -> String + Send>,
    pub config: EngineConfig,
    pub data_dir: PathBuf,
    /// Plant mode: the stream follower, leader candidacy and presence run beside the push loop.
    pub plant: Option<PlantTasks>,
}

/// Where a plant device finds the plant. Secrets stay in files (the key) or in the Redis URL
/// the shell reads from its protected config; none of this is ever logged.
#[derive(Clone)]
pub struct PlantConfig {
    pub spreadsheet_id: String,
    pub key_file: PathBuf,
    /// Tests point this at the Sheets emulator.
    pub sheets_base_url: Option<String>,
    pub redis: Option<crate::ports::redis::RedisConfig>,
    pub device_name: Option<String>,
}

/// The tasks a plant device runs besides push.
#[derive(Debug, Clone)]
pub struct PlantTasks {
    pub follow: crate::engine::FollowConfig,
    pub leader: crate::engine::LeaderConfig,
    pub presence: crate::engine::PresenceConfig,
    /// How often Redis and the Sheets endpoint are probed for the sync badge.
    pub probe_every: std::time::Duration,
    /// Without Redis, how often the sheet itself is read to refresh the replica.
    pub sheets_fallback_every: std::time::Duration,
}

impl Default for PlantTasks {
    fn default() -> Self {
        PlantTasks {
            follow: Default::default(),
            leader: Default::default(),
            presence: Default::default(),
            probe_every: std::time::Duration::from_secs(10),
            sheets_fallback_every: std::time::Duration::from_secs(30),
        }
    }
}

pub fn uuid_ids() -> Box<dyn FnMut() -> String + Send> {
    Box::new(|| uuid::Uuid::new_v4().to_string())
}

fn success_message(intent: Intent, tag: &str, worker: &Worker) -> String {
    match intent {
        Intent::Tomar(Operacion::Reparacion) => format!("Reparación tomada para spool {tag}"),
        Intent::Tomar(_) => format!("Spool {tag} tomado por {}", worker.token()),
        Intent::Pausar(_) => format!("Trabajo pausado en {tag}"),
        Intent::Completar(Operacion::Reparacion) => {
            format!("Reparación completada para spool {tag} - devuelto a metrología")
        }
        Intent::Completar(_) => format!("Operación completada en {tag}"),
        Intent::Cancelar(_) => format!("Trabajo cancelado en {tag}"),
        Intent::Metrologia {
            resultado: ResultadoMetrologia::Aprobado,
            ..
        } => format!("Metrología aprobada para spool {tag}"),
        Intent::Metrologia { .. } => format!("Metrología rechazada para spool {tag}"),
        Intent::Override => format!("Override registrado en {tag}: vuelve a reparación"),
        Intent::ForzarLiberacion => format!("Spool {tag} liberado por el supervisor"),
    }
}

/// A supervisor action as ACCESOS lists it: `OVERRIDE MK-1`, `FORZAR LIBERACIÓN MK-1, MK-2 y 3 más`.
fn pin_action(accion: &str, tags: &[String]) -> String {
    let word = match accion {
        "FORZAR_LIBERACION" => "FORZAR LIBERACIÓN",
        other => other,
    };
    let shown: Vec<&str> = tags.iter().take(2).map(String::as_str).collect();
    match tags.len() {
        0 => word.to_string(),
        n if n <= 2 => format!("{word} {}", shown.join(", ")),
        n => format!("{word} {} y {} más", shown.join(", "), n - 2),
    }
}

/// What a METROLOGÍA RECHAZADO left on the spool: its cycle, the defect's origin, blocked or not.
fn rechazo_of(intent: Intent, after: &Spool) -> Option<Rechazo> {
    match intent {
        Intent::Metrologia {
            resultado: ResultadoMetrologia::Rechazado,
            origen,
        } => Some(Rechazo {
            ciclo: after.ciclo_reparacion,
            origen: origen
                .or(after.defecto_origen)
                .map_or("", |o| o.code())
                .to_string(),
            bloqueado: after.is_blocked(),
        }),
        _ => None,
    }
}

fn rejection_message(tag: &str, r: &Rechazo) -> String {
    if r.bloqueado {
        format!(
            "Spool {tag} BLOQUEADO: {} rechazos (defecto de {}). Un supervisor debe desbloquearlo antes de repararlo de nuevo.",
            r.ciclo, r.origen
        )
    } else {
        format!(
            "Metrología rechazada para spool {tag}: Ciclo {}/3, defecto de {}. Pendiente de reparación.",
            r.ciclo, r.origen
        )
    }
}

impl Zeues {
    /// Opens (or creates, seeding the demo plant on first start) the standalone embedded plant
    /// in `data_dir` and spawns the sync engine on `rt`.
    pub fn open_standalone(
        data_dir: &Path,
        clock: Arc<dyn Clock>,
        rt: tokio::runtime::Handle,
    ) -> Result<(Arc<Zeues>, OpenReport), ApiError> {
        Self::open_standalone_with(data_dir, clock, Arc::new(NoNotifier), rt)
    }

    pub fn open_standalone_with(
        data_dir: &Path,
        clock: Arc<dyn Clock>,
        notifier: Arc<dyn Notifier>,
        rt: tokio::runtime::Handle,
    ) -> Result<(Arc<Zeues>, OpenReport), ApiError> {
        let (store, recovered) = Store::open(&data_dir.join(DEVICE_DB))?;
        let workbook = LocalWorkbook::open(&data_dir.join(DEMO_WORKBOOK))
            .map_err(|e| ApiError::new(e.code(), e.to_string()))?;
        let mut report = OpenReport {
            recovered_from_corruption: recovered,
            seeded_demo: false,
        };
        if workbook
            .tabs()
            .map_err(|e| ApiError::new(e.code(), e.to_string()))?
            .is_empty()
        {
            crate::demo::seed(&workbook, clock.now(), 2026, crate::demo::DEMO_SPOOLS)
                .map_err(|e| ApiError::new(e.code(), e.to_string()))?;
            report.seeded_demo = true;
        }
        let store = Arc::new(store);
        if store.setting("supervisor_pin")?.is_none() {
            set_pin(&store, crate::demo::DEMO_SUPERVISOR_PIN)?;
        }
        let wiring = Wiring {
            store,
            workbook: Arc::new(workbook),
            coordinator: Arc::new(InProcessCoordinator::new()),
            clock,
            notifier,
            ids: uuid_ids(),
            config: EngineConfig::default(),
            data_dir: data_dir.to_path_buf(),
            plant: None,
        };
        let zeues = Self::start(wiring, rt)?;
        Ok((zeues, report))
    }

    /// Opens a plant device: the plant's Google Sheets workbook (the system of record) and,
    /// when configured, Redis to coordinate with the other devices (without it, Sheets-only:
    /// the version check keeps writes safe and the sheet is polled on the read budget).
    pub fn open_plant(
        data_dir: &Path,
        cfg: PlantConfig,
        clock: Arc<dyn Clock>,
        notifier: Arc<dyn Notifier>,
        rt: tokio::runtime::Handle,
    ) -> Result<(Arc<Zeues>, OpenReport), ApiError> {
        let (store, recovered) = Store::open(&data_dir.join(DEVICE_DB))?;
        let mut sheets = crate::ports::sheets::SheetsConfig::new(cfg.spreadsheet_id.clone());
        if let Some(url) = &cfg.sheets_base_url {
            sheets.base_url = url.clone();
        }
        let creds =
            crate::ports::sheets::auth::Credentials::ServiceAccountFile(cfg.key_file.clone());
        let handle = rt.clone();
        let redis_cfg = cfg.redis.clone();
        let (workbook, coordinator) = std::thread::scope(|s| {
            s.spawn(move || {
                handle.block_on(async {
                    let wb = crate::ports::sheets::GoogleSheets::connect(sheets, creds)
                        .await
                        .map_err(|e| ApiError::new("CONFIGURACION_SHEETS", e.to_string()))?;
                    let coord: Arc<dyn Coordinator> = match redis_cfg {
                        Some(r) => Arc::new(
                            crate::ports::redis::RedisCoordinator::connect(r)
                                .await
                                .map_err(|e| ApiError::new("CONFIGURACION_REDIS", e.to_string()))?,
                        ),
                        // Without Redis the device's own calls keep under Google's limit.
                        None => Arc::new(InProcessCoordinator::with_quota(
                            crate::ports::redis::RateLimit::per_minute(50),
                            crate::ports::redis::RateLimit::per_minute(50),
                        )),
                    };
                    Ok::<_, ApiError>((Arc::new(wb) as Arc<dyn Workbook>, coord))
                })
            })
            .join()
            .map_err(|_| ApiError::internal("la conexión con la planta se interrumpió"))
        })??;
        let store = Arc::new(store);
        if let Some(name) = &cfg.device_name {
            store.set_setting("device_name", name)?;
        }
        let wiring = Wiring {
            store,
            workbook,
            coordinator,
            clock,
            notifier,
            ids: uuid_ids(),
            config: EngineConfig {
                mode: "plant",
                jitter_seed: rand::random(),
                single_writer: cfg.redis.is_none(),
                ..EngineConfig::default()
            },
            data_dir: data_dir.to_path_buf(),
            plant: Some(PlantTasks::default()),
        };
        let zeues = Self::start(wiring, rt)?;
        Ok((
            zeues,
            OpenReport {
                recovered_from_corruption: recovered,
                seeded_demo: false,
            },
        ))
    }

    /// Wires a device from its parts, loads the plant into the replica and starts the engine.
    pub fn start(w: Wiring, rt: tokio::runtime::Handle) -> Result<Arc<Zeues>, ApiError> {
        let events = broadcast::channel(256).0;
        let engine = Engine::new(
            w.store.clone(),
            w.workbook,
            w.coordinator,
            w.clock.clone(),
            w.notifier,
            events.clone(),
            w.config,
        );
        // A plant device that already has a replica starts at once and catches up from the
        // change stream; only a first start (or standalone, where reads are free) loads the
        // whole plant before the first screen.
        let plant = w.plant.is_some();
        let must_load = !plant || w.store.spool_count()? == 0;
        // The first snapshot runs on its own thread: this may be called from inside the runtime.
        let loader = engine.clone();
        let handle = rt.clone();
        let loaded = if must_load {
            std::thread::scope(|s| {
                s.spawn(move || {
                    handle.block_on(async {
                        let problems = if plant {
                            loader.load_snapshot_within_budget().await?
                        } else {
                            loader.load_snapshot().await?
                        };
                        if !plant {
                            loader.import_audit().await?;
                        }
                        Ok::<_, crate::ports::WorkbookError>(problems)
                    })
                })
                .join()
                .map_err(|_| ApiError::internal("la carga inicial de la planta se interrumpió"))
            })?
        } else {
            Ok(Vec::new())
        };
        match loaded {
            Ok(problems) if !problems.is_empty() => {
                tracing::warn!(count = problems.len(), "filas de la planilla con problemas");
            }
            Ok(_) => {}
            Err(e) => {
                // The replica (if any) still works offline; the engine keeps retrying.
                tracing::error!(error = %e, "no se pudo cargar la planta; se trabaja con la réplica local");
                if w.store.spool_count()? == 0 {
                    return Err(ApiError::new(e.code(), e.to_string()));
                }
            }
        }
        let tasks = match w.plant {
            Some(p) => {
                // Devices started together spread their first refresh (from the seed, so a
                // simulated fleet replays the same schedule).
                let jitter = std::time::Duration::from_millis(engine.config.jitter_seed % 30_000);
                vec![
                    rt.spawn(engine.clone().run_probes(p.probe_every)),
                    rt.spawn(
                        engine
                            .clone()
                            .run_refresh(std::time::Duration::from_secs(5) + jitter),
                    ),
                    rt.spawn(engine.clone().run_sheets_fallback(p.sheets_fallback_every)),
                    rt.spawn(engine.clone().run_plant(p.follow, p.leader, p.presence)),
                ]
            }
            None => vec![rt.spawn(engine.clone().run())],
        };
        Ok(Arc::new(Zeues {
            store: w.store,
            engine,
            clock: w.clock,
            events,
            ids: Mutex::new(w.ids),
            data_dir: w.data_dir,
            tasks: Mutex::new(tasks),
        }))
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn subscribe(&self) -> broadcast::Receiver<AppEvent> {
        self.events.subscribe()
    }

    /// Listed workers (active, with a role) who may act on `operacion` (all listed when `None`).
    pub fn workers(&self, operacion: Option<Operacion>) -> Result<Vec<WorkerView>, ApiError> {
        Ok(self
            .store
            .workers()?
            .into_iter()
            .filter(|w| w.is_listed())
            .filter(|w| operacion.is_none_or(|op| w.may_act(op, None)))
            .map(|w| WorkerView {
                id: w.id,
                token: w.token(),
                nombre: w.nombre.clone(),
                apellido: w.apellido.clone(),
                roles: w.roles.iter().map(|r| r.as_str().to_string()).collect(),
            })
            .collect())
    }

    fn worker(&self, id: u32) -> Result<Worker, ApiError> {
        self.store
            .worker(id)?
            .filter(|w| w.activo)
            .ok_or_else(|| DomainError::WorkerNoEncontrado { id }.into())
    }

    pub fn spool(&self, tag: &str) -> Result<SpoolView, ApiError> {
        let tag = normalize_tag(tag)?;
        let s = self
            .store
            .spool(&tag)?
            .ok_or(DomainError::SpoolNoEncontrado { tag: tag.clone() })?;
        Ok(SpoolView::from_spool(&s, self.store.has_pending(&tag)?))
    }

    /// A list screen's spools: filtered by TAG/NV; for an action, only those the rules allow
    /// (occupied and blocked ones come back separately, to show greyed).
    pub fn spools(&self, q: &SpoolQuery) -> Result<SpoolList, ApiError> {
        let limit = q.limit.unwrap_or(MAX_LIST).min(5_000);
        let like = |v: &Option<String>| {
            v.as_ref()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .map(|s| {
                    let escaped = s
                        .to_uppercase()
                        .replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_");
                    format!("%{escaped}%")
                })
        };
        let tag_like = like(&q.tag);
        let nv_like = like(&q.nv);
        let mut cond = vec!["1=1".to_string()];
        let mut params: Vec<String> = Vec::new();
        if let Some(t) = tag_like {
            params.push(t);
            cond.push(format!("upper(tag) LIKE ?{} ESCAPE '\\'", params.len()));
        }
        if let Some(n) = nv_like {
            params.push(n);
            cond.push(format!("upper(nv) LIKE ?{} ESCAPE '\\'", params.len()));
        }
        if q.solo_ocupados {
            cond.push("ocupado_por IS NOT NULL".into());
        }
        let action = match &q.for_action {
            Some(a) => {
                let w = self.worker(a.worker_id)?;
                let coarse = match a.intent {
                    Intent::Tomar(Operacion::Arm) => {
                        "fecha_materiales IS NOT NULL AND fecha_armado IS NULL".to_string()
                    }
                    Intent::Tomar(Operacion::Sold) => "fecha_materiales IS NOT NULL AND armador IS NOT NULL AND fecha_soldadura IS NULL".to_string(),
                    Intent::Tomar(_) => "estado_reparacion IN ('PENDIENTE', 'PAUSADA', 'BLOQUEADO')".to_string(),
                    Intent::Pausar(_) | Intent::Completar(_) | Intent::Cancelar(_) => {
                        params.push(w.token());
                        format!("ocupado_por = ?{}", params.len())
                    }
                    Intent::Metrologia { .. } => "fecha_armado IS NOT NULL AND fecha_soldadura IS NOT NULL AND (resultado_metrologia IS NULL OR estado_reparacion = 'COMPLETADA')".to_string(),
                    Intent::Override => "estado_reparacion = 'BLOQUEADO'".to_string(),
                    Intent::ForzarLiberacion => "ocupado_por IS NOT NULL".to_string(),
                };
                cond.push(format!("({coarse})"));
                Some((w, a.intent))
            }
            None => None,
        };
        let sql_params: Vec<&dyn rusqlite::ToSql> =
            params.iter().map(|p| p as &dyn rusqlite::ToSql).collect();
        let candidates =
            self.store
                .spools_where(&cond.join(" AND "), &sql_params, usize::MAX >> 1)?;
        let pending = self.store.pending_tags()?;
        let view = |s: &Spool| SpoolView::from_spool(s, pending.contains(&s.tag));
        let now = santiago(self.clock.now());
        let (mut ok, mut greyed): (Vec<SpoolView>, Vec<SpoolView>) = (Vec::new(), Vec::new());
        match action {
            None => ok = candidates.iter().map(view).collect(),
            Some((w, intent)) => {
                let supervisor = w.has(crate::domain::Rol::Supervisor);
                let actor = Actor {
                    worker: &w,
                    supervisor_verified: supervisor,
                };
                let mine = |s: &Spool| {
                    s.ocupado_por
                        .as_deref()
                        .and_then(crate::domain::worker::worker_id_from_token)
                        == Some(w.id)
                };
                for s in &candidates {
                    if eligible(s, actor, intent, now) {
                        ok.push(view(s));
                    } else if (s.is_occupied() && !mine(s)) || s.is_blocked() {
                        // Greyed: someone else's, or BLOQUEADO. One's own spools that this
                        // action does not fit are not "ocupados por otros".
                        greyed.push(view(s));
                    }
                }
            }
        }
        let total = ok.len();
        ok.truncate(limit);
        greyed.truncate(limit);
        let checked = q
            .check
            .iter()
            .map(|t| self.check_tag(t, q.for_action.as_ref(), &pending, now))
            .collect::<Result<_, ApiError>>()?;
        Ok(SpoolList {
            spools: ok,
            ocupados: greyed,
            total,
            checked,
        })
    }

    /// One TAG judged by the same rule a tap would meet ([`apply`]), wherever it sits in the
    /// list: a label scanned past the rows on screen, or a selection hidden by a filter.
    fn check_tag(
        &self,
        asked: &str,
        action: Option<&ForAction>,
        pending: &HashSet<String>,
        now: chrono::NaiveDateTime,
    ) -> Result<TagCheck, ApiError> {
        let refused = |tag: String, e: ApiError| TagCheck {
            tag,
            spool: None,
            refusal: Some(e),
        };
        let tag = match normalize_tag(asked) {
            Ok(t) => t,
            Err(e) => return Ok(refused(asked.trim().to_string(), e.into())),
        };
        let Some(s) = self.store.spool(&tag)? else {
            return Ok(refused(
                tag.clone(),
                DomainError::SpoolNoEncontrado { tag }.into(),
            ));
        };
        if let Some(a) = action {
            let w = self.worker(a.worker_id)?;
            let actor = Actor {
                worker: &w,
                supervisor_verified: w.has(crate::domain::Rol::Supervisor),
            };
            if let Err(e) = apply(&s, actor, a.intent, now, "") {
                return Ok(refused(tag, e.into()));
            }
        }
        Ok(TagCheck {
            spool: Some(SpoolView::from_spool(&s, pending.contains(&s.tag))),
            tag,
            refusal: None,
        })
    }

    /// A tap: validated locally and written (replica + outbox, one transaction) at once; the
    /// engine applies it when it can. Each spool of a batch gets its own outcome.
    pub fn execute(&self, req: ActionRequest) -> Result<ActionOutcome, ApiError> {
        if let Some((code, message)) = self.engine.writer_refusal() {
            return Err(ApiError::new(&code, message));
        }
        let worker = self.worker(req.worker_id)?;
        let supervisor_verified = if req.intent.needs_supervisor() {
            if !worker.has(crate::domain::Rol::Supervisor) {
                return Err(DomainError::RolNoAutorizado {
                    token: worker.token(),
                    operacion: "supervisión".into(),
                    roles: worker.roles_text(),
                }
                .into());
            }
            self.check_pin(
                req.supervisor_pin.as_deref().unwrap_or(""),
                Some(worker.id),
                &pin_action(req.intent.accion(), &req.tags),
            )?;
            true
        } else {
            false
        };
        let now = self.clock.now();
        let results = {
            let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
            self.store.execute(
                &LocalAction {
                    worker_id: worker.id,
                    intent: req.intent,
                    tags: &req.tags,
                    supervisor_verified,
                    now,
                    reapplied: None,
                },
                &mut *ids,
            )?
        };
        let outcomes: Vec<SpoolOutcome> = results
            .iter()
            .map(|(tag, r)| match r {
                Ok(t) => {
                    let rechazo = rechazo_of(req.intent, &t.after);
                    SpoolOutcome {
                        tag: tag.clone(),
                        ok: true,
                        code: "OK".into(),
                        message: match &rechazo {
                            Some(r) => rejection_message(tag, r),
                            None => success_message(req.intent, tag, &worker),
                        },
                        rechazo,
                    }
                }
                Err(e) => SpoolOutcome {
                    tag: tag.clone(),
                    ok: false,
                    code: e.code().into(),
                    message: e.to_string(),
                    rechazo: None,
                },
            })
            .collect();
        let ok_tags: Vec<String> = outcomes
            .iter()
            .filter(|o| o.ok)
            .map(|o| o.tag.clone())
            .collect();
        let summary = if outcomes.len() == 1 {
            outcomes[0].message.clone()
        } else {
            let fails = outcomes.len() - ok_tags.len();
            format!(
                "{} de {} spools exitosos ({fails} fallos)",
                ok_tags.len(),
                outcomes.len()
            )
        };
        if !ok_tags.is_empty() {
            self.engine.wake();
            if self
                .events
                .send(AppEvent::ReplicaChanged {
                    tags: ok_tags.clone(),
                })
                .is_err()
            {
                tracing::trace!("sin oyentes de eventos");
            }
        }
        let status = self.engine.status();
        let queued = !ok_tags.is_empty()
            && matches!(
                status.connectivity,
                crate::api::Connectivity::Offline
                    | crate::api::Connectivity::RedisOnly
                    | crate::api::Connectivity::SheetsOnly
            );
        tracing::info!(worker = worker.id, intent = ?req.intent, ok = ok_tags.len(), total = outcomes.len(), "acción local");
        Ok(ActionOutcome {
            results: outcomes,
            summary,
            queued,
        })
    }

    pub fn sync_status(&self) -> SyncStatus {
        self.engine.status()
    }

    pub fn pending_commands(&self) -> Result<Vec<PendingCommand>, ApiError> {
        let workers = self.store.workers()?;
        let token = |id: u32| {
            workers
                .iter()
                .find(|w| w.id == id)
                .map_or_else(|| format!("({id})"), Worker::token)
        };
        Ok(self
            .store
            .unapplied_commands()?
            .into_iter()
            .map(|c| PendingCommand {
                worker: token(c.worker_id),
                accion: c.payload.intent.accion().into(),
                operacion: c
                    .payload
                    .intent
                    .operacion()
                    .map_or(String::new(), |o| o.code().into()),
                created_at: fmt_datetime(santiago(c.created_at)),
                status: c.status.as_str().into(),
                attempts: c.attempts,
                last_error: c.last_error,
                id: c.id,
                tag: c.tag,
            })
            .collect())
    }

    pub fn history(&self, tag: &str) -> Result<SpoolHistory, ApiError> {
        let tag = normalize_tag(tag)?;
        if self.store.spool(&tag)?.is_none() {
            return Err(DomainError::SpoolNoEncontrado { tag }.into());
        }
        let events = self.store.audit_events(&tag)?;
        Ok(SpoolHistory {
            history: history(&events, santiago(self.clock.now())),
            tag,
        })
    }

    /// Checks the supervisor PIN against its stored argon2 hash (rate limited and recorded:
    /// see `reports::PIN_MAX_FAILURES`).
    pub fn verify_pin(&self, pin: &str) -> Result<(), ApiError> {
        self.check_pin(pin, None, "Verificación del PIN")
    }

    pub fn set_supervisor_pin(&self, pin: &str) -> Result<(), ApiError> {
        set_pin(&self.store, pin)
    }

    /// The conflicts inbox (open ones, or all).
    pub fn conflicts(&self, include_resolved: bool) -> Result<Vec<ConflictView>, ApiError> {
        let workers = self.store.workers()?;
        let token = |id: u32| {
            workers
                .iter()
                .find(|w| w.id == id)
                .map_or_else(|| format!("({id})"), Worker::token)
        };
        let fmt = |t: chrono::DateTime<chrono::Utc>| fmt_datetime(santiago(t));
        let mut out = Vec::new();
        for c in self.store.conflicts(include_resolved)? {
            let cmd = self.store.command(&c.command_id)?;
            out.push(ConflictView {
                worker: cmd
                    .as_ref()
                    .map_or_else(String::new, |x| token(x.worker_id)),
                accion: cmd
                    .as_ref()
                    .map_or_else(String::new, |x| x.payload.intent.accion().to_string()),
                operacion: cmd.as_ref().map_or_else(String::new, |x| {
                    x.payload
                        .intent
                        .operacion()
                        .map_or(String::new(), |o| o.code().to_string())
                }),
                held: c.held.len(),
                created_at: fmt(c.created_at),
                resolved_at: c.resolved_at.map(fmt),
                id: c.id,
                command_id: c.command_id,
                tag: c.tag,
                code: c.code,
                message: c.message,
                winner: c.winner,
                resolution: c.resolution,
            });
        }
        Ok(out)
    }

    /// A worker with the Supervisor role who gave the right PIN.
    pub(crate) fn checked_supervisor(
        &self,
        id: u32,
        pin: &str,
        accion: &str,
    ) -> Result<Worker, ApiError> {
        let w = self.worker(id)?;
        if !w.has(crate::domain::Rol::Supervisor) {
            return Err(DomainError::RolNoAutorizado {
                token: w.token(),
                operacion: "supervisión".into(),
                roles: w.roles_text(),
            }
            .into());
        }
        self.check_pin(pin, Some(id), accion)?;
        Ok(w)
    }

    /// A supervisor closes a conflict without doing anything more (the plant's state stands).
    pub fn discard_conflict(&self, d: &ConflictDecision) -> Result<(), ApiError> {
        let boss = self.checked_supervisor(
            d.supervisor_id,
            &d.pin,
            &format!("Descartar conflicto {}", d.conflict_id),
        )?;
        let rec =
            self.store
                .resolve_conflict(d.conflict_id, "DESCARTADO", boss.id, self.clock.now())?;
        // Its CONFLICTO_DESCARTADO row goes to Metadata with the next push round.
        self.engine.wake();
        tracing::info!(conflict = rec.id, tag = %rec.tag, supervisor = boss.id, "conflicto descartado");
        self.emit_sync();
        Ok(())
    }

    /// A supervisor re-applies the refused command's intent on the spool's current state. It
    /// goes through the same rules as any tap (it may fail again) and its audit row says who
    /// re-applied it and which conflict it resolves.
    pub fn reapply_conflict(&self, d: &ConflictDecision) -> Result<ActionOutcome, ApiError> {
        let boss = self.checked_supervisor(
            d.supervisor_id,
            &d.pin,
            &format!("Re-aplicar conflicto {}", d.conflict_id),
        )?;
        let rec = self
            .store
            .conflicts(true)?
            .into_iter()
            .find(|c| c.id == d.conflict_id)
            .ok_or_else(|| {
                ApiError::new(
                    "CONFLICTO_NO_ENCONTRADO",
                    format!("No existe el conflicto {}.", d.conflict_id),
                )
            })?;
        if rec.resolved_at.is_some() {
            return Err(ApiError::new(
                "CONFLICTO_RESUELTO",
                "Ese conflicto ya fue resuelto.",
            ));
        }
        let cmd = self
            .store
            .command(&rec.command_id)?
            .ok_or_else(|| ApiError::internal("el comando del conflicto no está en el outbox"))?;
        let worker = self.worker(cmd.worker_id)?;
        let tags = vec![cmd.tag.clone()];
        let results = {
            let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
            self.store.execute(
                &LocalAction {
                    worker_id: worker.id,
                    intent: cmd.payload.intent,
                    tags: &tags,
                    supervisor_verified: cmd.payload.supervisor_verified,
                    now: self.clock.now(),
                    reapplied: Some((boss.id, cmd.id.clone())),
                },
                &mut *ids,
            )?
        };
        let (tag, result) = results
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::internal("re-aplicación sin resultado"))?;
        match result {
            Ok(_) => {
                self.store
                    .resolve_conflict(rec.id, "REAPLICADO", boss.id, self.clock.now())?;
                tracing::info!(conflict = rec.id, %tag, supervisor = boss.id, "conflicto re-aplicado");
                self.engine.wake();
                self.emit_sync();
                Ok(ActionOutcome {
                    summary: format!(
                        "Re-aplicado en {tag}: {}",
                        success_message(cmd.payload.intent, &tag, &worker)
                    ),
                    results: vec![SpoolOutcome {
                        tag,
                        ok: true,
                        code: "OK".into(),
                        message: "re-aplicado".into(),
                        rechazo: None,
                    }],
                    queued: false,
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    fn emit_sync(&self) {
        if self
            .events
            .send(AppEvent::SyncChanged {
                status: self.engine.status(),
            })
            .is_err()
        {
            tracing::trace!("sin oyentes de eventos");
        }
    }

    pub fn shutdown(&self) {
        self.engine.shutdown();
    }

    /// Stops every background task at once, wherever it is, with no cleanup: what a crash
    /// (`kill -9`) does to the device, short of the process. The database keeps what it
    /// committed. For the simulator and crash tests.
    pub fn abort(&self) {
        self.engine.shutdown();
        for t in self.tasks.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            t.abort();
        }
    }

    /// Tags present in the replica (tests, CLI).
    pub fn tags(&self) -> Result<HashSet<String>, ApiError> {
        Ok(self
            .store
            .spools_where("1=1", &[], usize::MAX >> 1)?
            .into_iter()
            .map(|s| s.tag)
            .collect())
    }
}

/// Stores the supervisor PIN as a salted argon2 hash (the first-run screen sets it before the
/// plant device is opened).
pub fn set_pin(store: &Store, pin: &str) -> Result<(), ApiError> {
    if pin.len() < 4 || !pin.chars().all(|c| c.is_ascii_digit()) {
        return Err(ApiError::new(
            "PIN_INVALIDO",
            "El PIN debe tener al menos 4 dígitos.",
        ));
    }
    let salt = SaltString::generate(&mut OsRng);
    let hash = Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .map_err(|e| ApiError::internal(format!("no se pudo guardar el PIN: {e}")))?
        .to_string();
    store.set_setting("supervisor_pin", &hash)?;
    Ok(())
}

#[cfg(test)]
mod tests;
