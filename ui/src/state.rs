//! The flow's state (which screen, operation, worker, action and spools) and the root view.
//! One `AppState` of signals lives in the Leptos context; screens read and move it. The shell
//! pushes every change as an event (no polling); a one-second tick only redraws elapsed times.

use std::time::Duration;

use leptos::prelude::*;
use zeues_sync::api::{ActionOutcome, AppEvent, AppMode, SyncStatus, WorkerView};
use zeues_sync::domain::{Intent, Operacion};

use crate::components::{Notices, PendingPanel, TopBar};
use crate::ipc;
use crate::scanner;
use crate::screens;
use crate::text;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Until the shell said how this device runs.
    Arranque,
    /// First run: demo or plant (and the plant's connection form).
    Configuracion,
    Operacion,
    Trabajador,
    Accion,
    Spools,
    Metrologia,
    Confirmar,
    Exito,
    Dashboard,
    SupervisorLogin,
    Supervisor,
}

/// What the success screen shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    pub intent: Intent,
    pub outcome: ActionOutcome,
}

/// A banner over every screen until dismissed.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub id: u64,
    /// Stable DOM id for tests (`aviso-recuperacion`, `aviso-conflicto`).
    pub dom_id: &'static str,
    pub title: String,
    pub body: String,
    /// The spool it is about (conflicts), for `data-tag`.
    pub tag: Option<String>,
}

/// A keyboard-wedge scan (a fast burst of keys ending in Enter), numbered so a screen acts on
/// each one once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    pub seq: u64,
    pub code: String,
    /// The screen shown when the scan ended: a screen that uses it may move on before the
    /// "lectura ignorada" check runs, and must not be blamed for it.
    pub screen: Screen,
}

/// The supervisor inside the desk. The PIN stays in memory only while the desk is open: each
/// supervisor action is checked again by the shell.
#[derive(Debug, Clone, PartialEq)]
pub struct SupervisorSession {
    pub worker: WorkerView,
    pub pin: String,
}

#[derive(Clone, Copy)]
pub struct AppState {
    pub screen: RwSignal<Screen>,
    pub mode: RwSignal<Option<AppMode>>,
    pub op: RwSignal<Option<Operacion>>,
    pub worker: RwSignal<Option<WorkerView>>,
    pub intent: RwSignal<Option<Intent>>,
    pub selected: RwSignal<Vec<String>>,
    pub done: RwSignal<Option<Done>>,
    pub sync: RwSignal<Option<SyncStatus>>,
    /// Bumped whenever the replica changed; lists refetch when it moves.
    pub replica_rev: RwSignal<u64>,
    pub notices: RwSignal<Vec<Notice>>,
    /// The "pendientes de sincronizar" panel behind the sync badge.
    pub pending_open: RwSignal<bool>,
    pub scan: RwSignal<Option<Scan>>,
    /// Why the last scan did nothing (a screen with nothing to scan), shown for a few seconds.
    pub scan_hint: RwSignal<Option<String>>,
    /// Bumped by Escape: open panels close.
    pub escape: RwSignal<u64>,
    /// Seconds since the epoch, ticking every second (elapsed times).
    pub now: RwSignal<i64>,
    pub supervisor: RwSignal<Option<SupervisorSession>>,
    next_notice: RwSignal<u64>,
}

pub fn now_secs() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

impl AppState {
    fn new() -> Self {
        AppState {
            screen: RwSignal::new(Screen::Arranque),
            mode: RwSignal::new(None),
            op: RwSignal::new(None),
            worker: RwSignal::new(None),
            intent: RwSignal::new(None),
            selected: RwSignal::new(Vec::new()),
            done: RwSignal::new(None),
            sync: RwSignal::new(None),
            replica_rev: RwSignal::new(0),
            notices: RwSignal::new(Vec::new()),
            pending_open: RwSignal::new(false),
            scan: RwSignal::new(None),
            scan_hint: RwSignal::new(None),
            escape: RwSignal::new(0),
            now: RwSignal::new(now_secs()),
            supervisor: RwSignal::new(None),
            next_notice: RwSignal::new(0),
        }
    }

    pub fn go(&self, screen: Screen) {
        self.screen.set(screen);
    }

    /// Back to the first screen with nothing chosen (INICIO, end of the success countdown).
    /// Leaving the desk forgets the supervisor's PIN.
    pub fn reset(&self) {
        self.op.set(None);
        self.worker.set(None);
        self.intent.set(None);
        self.selected.set(Vec::new());
        self.done.set(None);
        self.supervisor.set(None);
        self.go(Screen::Operacion);
    }

    pub fn notify(&self, dom_id: &'static str, title: impl Into<String>, body: impl Into<String>) {
        self.notify_about(dom_id, None, title, body);
    }

    pub fn notify_about(
        &self,
        dom_id: &'static str,
        tag: Option<String>,
        title: impl Into<String>,
        body: impl Into<String>,
    ) {
        let id = self.next_notice.get_untracked() + 1;
        self.next_notice.set(id);
        self.notices.update(|n| {
            n.push(Notice {
                id,
                dom_id,
                title: title.into(),
                body: body.into(),
                tag,
            })
        });
    }

    pub fn dismiss(&self, id: u64) {
        self.notices.update(|n| n.retain(|x| x.id != id));
    }

    /// The latest scan's number now: a screen acts only on scans after it.
    pub fn scan_mark(&self) -> u64 {
        self.scan
            .with_untracked(|s| s.as_ref().map_or(0, |s| s.seq))
    }

    /// Re-reads the sync status (after a local write; events keep it fresh otherwise).
    pub fn refresh_sync(&self) {
        let sync = self.sync;
        leptos::task::spawn_local(async move {
            match ipc::sync_status().await {
                Ok(s) => sync.set(Some(s)),
                Err(e) => web_sys::console::warn_1(&format!("sync_status: {e}").into()),
            }
        });
    }

    /// Asks the shell how this device runs and opens the matching first screen.
    pub fn load_mode(&self) {
        let st = *self;
        leptos::task::spawn_local(async move {
            match ipc::app_mode().await {
                Ok(mode) => {
                    let first = if mode == AppMode::SinConfigurar {
                        Screen::Configuracion
                    } else {
                        Screen::Operacion
                    };
                    st.mode.set(Some(mode));
                    if st.screen.get_untracked() == Screen::Arranque {
                        st.go(first);
                    }
                }
                Err(e) => {
                    // An older shell without first-run commands: straight to work.
                    web_sys::console::warn_1(&format!("app_mode: {e}").into());
                    if st.screen.get_untracked() == Screen::Arranque {
                        st.go(Screen::Operacion);
                    }
                }
            }
        });
    }

    fn on_event(&self, ev: AppEvent) {
        match ev {
            AppEvent::ReplicaChanged { .. } => self.replica_rev.update(|r| *r += 1),
            AppEvent::SyncChanged { status } => self.sync.set(Some(status)),
            AppEvent::Conflict {
                tag,
                message,
                winner,
            } => {
                let body = match winner {
                    Some(w) if !message.contains(&w) => {
                        format!("{message} (registró primero: {w})")
                    }
                    _ => message,
                };
                self.notify_about(
                    "aviso-conflicto",
                    Some(tag.clone()),
                    format!("Conflicto en {tag}"),
                    format!("{body}. Un supervisor puede revisarlo en SUPERVISOR › CONFLICTOS."),
                );
                self.replica_rev.update(|r| *r += 1);
                self.refresh_sync();
            }
        }
    }
}

/// How long a "lectura ignorada" hint stays up.
const SCAN_HINT_MS: u64 = 6_000;

/// A reader's scan on a screen with nothing to scan (Operación, Acción, Confirmar, Metrología,
/// Éxito) would otherwise vanish: the worker is told what to do first. The hint goes away after
/// a few seconds or when the screen changes.
fn explain_ignored_scans(st: AppState) {
    let shown = StoredValue::new(0u64);
    Effect::new(move |_| {
        let Some(scan) = st.scan.get() else {
            return;
        };
        let tag = st.selected.with_untracked(|s| s.first().cloned());
        let Some(hint) = text::ignored_scan(scan.screen, &scan.code, tag.as_deref()) else {
            return;
        };
        st.scan_hint.set(Some(hint));
        shown.set_value(scan.seq);
        set_timeout(
            move || {
                if shown.try_get_value() == Some(scan.seq) {
                    st.scan_hint.try_set(None);
                }
            },
            Duration::from_millis(SCAN_HINT_MS),
        );
    });
    Effect::new(move |_| {
        st.screen.track();
        st.scan_hint.set(None);
    });
}

/// Root view: top bar with the sync badge, banners, and the current screen.
#[component]
pub fn App() -> impl IntoView {
    let st = AppState::new();
    provide_context(st);
    scanner::install(st);

    match set_interval_with_handle(move || st.now.set(now_secs()), Duration::from_secs(1)) {
        // The root lives as long as the page.
        Ok(handle) => on_cleanup(move || handle.clear()),
        Err(e) => web_sys::console::warn_1(&e),
    }

    leptos::task::spawn_local(async move {
        if let Err(e) = ipc::listen_events(move |ev| st.on_event(ev)).await {
            st.notify(
                "aviso-eventos",
                "Sin actualizaciones en vivo",
                format!("{}: {}", e.code, e.message),
            );
        }
        match ipc::open_report().await {
            Ok(report) => {
                if let Some(rec) = report.recovered_from_corruption {
                    st.notify(
                        "aviso-recuperacion",
                        "La base de datos local estaba dañada y fue recuperada",
                        // The service's message names the copy and the salvaged commands.
                        rec.message,
                    );
                }
            }
            Err(e) if e.code == "SIN_CONFIGURAR" => {}
            Err(e) => web_sys::console::warn_1(&format!("open_report: {e}").into()),
        }
    });
    st.load_mode();
    st.refresh_sync();
    explain_ignored_scans(st);

    view! {
        <div class="app">
            <TopBar/>
            <Notices/>
            <main class="screen">
                {move || match st.screen.get() {
                    Screen::Arranque => view! { <div class="page arranque"><p class="hint">"Iniciando…"</p></div> }.into_any(),
                    Screen::Configuracion => view! { <screens::configuracion::Configuracion/> }.into_any(),
                    Screen::Operacion => view! { <screens::operacion::Operacion/> }.into_any(),
                    Screen::Trabajador => view! { <screens::trabajador::Trabajador/> }.into_any(),
                    Screen::Accion => view! { <screens::accion::Accion/> }.into_any(),
                    Screen::Spools => view! { <screens::spools::Spools/> }.into_any(),
                    Screen::Metrologia => view! { <screens::metrologia::Metrologia/> }.into_any(),
                    Screen::Confirmar => view! { <screens::confirmar::Confirmar/> }.into_any(),
                    Screen::Exito => view! { <screens::exito::Exito/> }.into_any(),
                    Screen::Dashboard => view! { <screens::dashboard::Dashboard/> }.into_any(),
                    Screen::SupervisorLogin => view! { <screens::supervisor_login::SupervisorLogin/> }.into_any(),
                    Screen::Supervisor => view! { <screens::supervisor::Supervisor/> }.into_any(),
                }}
            </main>
            {move || st.scan_hint.get().map(|m| view! { <div class="scan-hint" id="aviso-lectura" role="status">{m}</div> })}
            {move || st.pending_open.get().then(|| view! { <PendingPanel/> })}
        </div>
    }
}
