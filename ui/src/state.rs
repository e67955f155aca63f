//! The flow's state (which screen, operation, worker, action and spools) and the root view.
//! One `AppState` of signals lives in the Leptos context; screens read and move it.

use leptos::prelude::*;
use zeues_sync::api::{ActionOutcome, AppEvent, SyncStatus, WorkerView};
use zeues_sync::domain::{Intent, Operacion};

use crate::components::{Notices, PendingPanel, TopBar};
use crate::ipc;
use crate::screens;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Operacion,
    Trabajador,
    Accion,
    Spools,
    Metrologia,
    Confirmar,
    Exito,
    Dashboard,
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
}

#[derive(Clone, Copy)]
pub struct AppState {
    pub screen: RwSignal<Screen>,
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
    next_notice: RwSignal<u64>,
}

impl AppState {
    fn new() -> Self {
        AppState {
            screen: RwSignal::new(Screen::Operacion),
            op: RwSignal::new(None),
            worker: RwSignal::new(None),
            intent: RwSignal::new(None),
            selected: RwSignal::new(Vec::new()),
            done: RwSignal::new(None),
            sync: RwSignal::new(None),
            replica_rev: RwSignal::new(0),
            notices: RwSignal::new(Vec::new()),
            pending_open: RwSignal::new(false),
            next_notice: RwSignal::new(0),
        }
    }

    pub fn go(&self, screen: Screen) {
        self.screen.set(screen);
    }

    /// Back to the first screen with nothing chosen (INICIO, end of the success countdown).
    pub fn reset(&self) {
        self.op.set(None);
        self.worker.set(None);
        self.intent.set(None);
        self.selected.set(Vec::new());
        self.done.set(None);
        self.go(Screen::Operacion);
    }

    pub fn notify(&self, dom_id: &'static str, title: impl Into<String>, body: impl Into<String>) {
        let id = self.next_notice.get_untracked() + 1;
        self.next_notice.set(id);
        self.notices.update(|n| {
            n.push(Notice {
                id,
                dom_id,
                title: title.into(),
                body: body.into(),
            })
        });
    }

    pub fn dismiss(&self, id: u64) {
        self.notices.update(|n| n.retain(|x| x.id != id));
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
                    Some(w) => format!("{message} (registró primero: {w})"),
                    None => message,
                };
                self.notify("aviso-conflicto", format!("Conflicto en {tag}"), body);
                self.replica_rev.update(|r| *r += 1);
            }
        }
    }
}

/// Root view: top bar with the sync badge, banners, and the current screen.
#[component]
pub fn App() -> impl IntoView {
    let st = AppState::new();
    provide_context(st);

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
            Err(e) => web_sys::console::warn_1(&format!("open_report: {e}").into()),
        }
    });
    st.refresh_sync();

    view! {
        <div class="app">
            <TopBar/>
            <Notices/>
            <main class="screen">
                {move || match st.screen.get() {
                    Screen::Operacion => view! { <screens::operacion::Operacion/> }.into_any(),
                    Screen::Trabajador => view! { <screens::trabajador::Trabajador/> }.into_any(),
                    Screen::Accion => view! { <screens::accion::Accion/> }.into_any(),
                    Screen::Spools => view! { <screens::spools::Spools/> }.into_any(),
                    Screen::Metrologia => view! { <screens::metrologia::Metrologia/> }.into_any(),
                    Screen::Confirmar => view! { <screens::confirmar::Confirmar/> }.into_any(),
                    Screen::Exito => view! { <screens::exito::Exito/> }.into_any(),
                    Screen::Dashboard => view! { <screens::dashboard::Dashboard/> }.into_any(),
                }}
            </main>
            {move || st.pending_open.get().then(|| view! { <PendingPanel/> })}
        </div>
    }
}
