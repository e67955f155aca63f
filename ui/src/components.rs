//! Pieces every screen shares: the top bar with the sync badge, banners, the footer and the
//! error box.

use leptos::prelude::*;
use zeues_sync::api::{ApiError, PendingCommand};

use crate::ipc;
use crate::state::{AppState, Screen};
use crate::text;

#[component]
pub fn TopBar() -> impl IntoView {
    let st = expect_context::<AppState>();
    let crumbs = move || {
        let mut parts: Vec<String> = Vec::new();
        match st.screen.get() {
            Screen::Dashboard | Screen::Arranque | Screen::Configuracion => return String::new(),
            Screen::SupervisorLogin => return "SUPERVISOR".to_string(),
            Screen::Supervisor => {
                return st
                    .supervisor
                    .get()
                    .map(|s| format!("SUPERVISOR  ›  {}", s.worker.token))
                    .unwrap_or_else(|| "SUPERVISOR".to_string())
            }
            _ => {}
        }
        if let Some(op) = st.op.get() {
            parts.push(op.label().to_string());
        }
        if let Some(w) = st.worker.get() {
            parts.push(w.token.clone());
        }
        if let Some(i) = st.intent.get() {
            if st.op.get() != Some(zeues_sync::domain::Operacion::Metrologia) {
                parts.push(text::intent_word(i).to_string());
            }
        }
        parts.join("  ›  ")
    };
    view! {
        <header class="topbar">
            <button class="brand" id="inicio-logo" on:click=move |_| st.reset()>
                <span class="logo">"Z"</span>
                <span class="brand-name">"ZEUES"</span>
            </button>
            <div class="crumbs">{crumbs}</div>
            <SyncBadge/>
            <button
                class="btn btn-ghost"
                id="link-dashboard"
                class:active=move || st.screen.get() == Screen::Dashboard
                on:click=move |_| st.go(Screen::Dashboard)
            >
                "QUIÉN TIENE QUÉ"
            </button>
        </header>
    }
}

#[component]
pub fn SyncBadge() -> impl IntoView {
    let st = expect_context::<AppState>();
    let badge = move || st.sync.with(|s| text::sync_badge(s.as_ref()));
    let connectivity = move || {
        st.sync
            .with(|s| s.as_ref().map(|s| format!("{:?}", s.connectivity)))
            .unwrap_or_default()
    };
    let pending = move || {
        st.sync
            .with(|s| s.as_ref().map_or(0, |s| s.pending))
            .to_string()
    };
    let detail = move || {
        st.sync.with(|s| match s {
            Some(s) => {
                let mut t = format!(
                    "{}; equipo {}",
                    text::mode_label(&s.mode),
                    text::short_id(&s.device_id)
                );
                if let Some(l) = &s.last_sync {
                    t.push_str(&format!("; última sincronización {l}"));
                }
                if let Some(e) = &s.last_error {
                    t.push_str(&format!("; último error: {e}"));
                }
                t
            }
            None => String::new(),
        })
    };
    view! {
        <button
            id="sync-badge"
            class=move || format!("sync-badge tone-{}", badge().1)
            data-connectivity=connectivity
            data-pending=pending
            title=detail
            on:click=move |_| st.pending_open.set(true)
        >
            <span class="dot"></span>
            <span>{move || badge().0}</span>
        </button>
    }
}

/// What this device has saved and not yet synced (opened from the sync badge).
#[component]
pub fn PendingPanel() -> impl IntoView {
    let st = expect_context::<AppState>();
    let list = RwSignal::new(Load::<Vec<PendingCommand>>::Loading);
    Effect::new(move |_| {
        st.replica_rev.track();
        st.sync.track();
        leptos::task::spawn_local(async move {
            list.set(Load::from(ipc::pending_commands().await));
        });
    });
    let status = move || {
        st.sync
            .get()
            .map(|s| {
                let mut t = format!(
                    "{} · equipo {}",
                    text::mode_label(&s.mode),
                    text::short_id(&s.device_id)
                );
                if let Some(l) = s.last_sync {
                    t.push_str(&format!(" · última sincronización {l}"));
                }
                t
            })
            .unwrap_or_default()
    };
    let last_error = move || {
        st.sync
            .get()
            .and_then(|s| s.last_error)
            .map(|e| view! { <p class="hint warn">{format!("Último error: {e}")}</p> })
    };
    view! {
        <div class="overlay">
            <div class="panel" id="pendientes">
                <div class="panel-head">
                    <h2>"Pendientes de sincronizar"</h2>
                    <button class="btn btn-secondary" id="cerrar-pendientes" on:click=move |_| st.pending_open.set(false)>
                        "CERRAR"
                    </button>
                </div>
                <p class="hint">{status}</p>
                {last_error}
                <div class="scroll">
                    {move || match list.get() {
                        Load::Loading => view! { <p class="hint">"Cargando…"</p> }.into_any(),
                        Load::Failed(e) => view! { <ErrorBox error=e/> }.into_any(),
                        Load::Ready(p) if p.is_empty() => {
                            view! { <p class="hint" id="sin-pendientes">"Todo sincronizado: no hay acciones pendientes"</p> }
                                .into_any()
                        }
                        Load::Ready(p) => view! {
                            <table class="history">
                                <thead>
                                    <tr>
                                        <th>"Spool"</th>
                                        <th>"Acción"</th>
                                        <th>"Trabajador"</th>
                                        <th>"Hora"</th>
                                        <th>"Estado"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {p
                                        .into_iter()
                                        .map(|c| {
                                            let estado = text::pending_state(&c.status, c.attempts, c.last_error.as_deref());
                                            view! {
                                                <tr data-tag=c.tag.clone()>
                                                    <td>{c.tag.clone()}</td>
                                                    <td>{format!("{} {}", c.accion, c.operacion)}</td>
                                                    <td>{c.worker.clone()}</td>
                                                    <td>{c.created_at.clone()}</td>
                                                    <td>{estado}</td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        }
                            .into_any(),
                    }}
                </div>
            </div>
        </div>
    }
}

#[component]
pub fn Notices() -> impl IntoView {
    let st = expect_context::<AppState>();
    view! {
        <div class="notices">
            {move || {
                st.notices
                    .get()
                    .into_iter()
                    .map(|n| {
                        let id = n.id;
                        let tone = if n.dom_id == "aviso-conflicto" { "notice bad" } else { "notice" };
                        view! {
                            <div class=tone id=n.dom_id data-tag=n.tag.clone().unwrap_or_default() role="alert">
                                <span class="notice-icon">"!"</span>
                                <div class="notice-text">
                                    <strong>{n.title}</strong>
                                    <span>{n.body}</span>
                                </div>
                                <button class="btn btn-small" on:click=move |_| st.dismiss(id)>
                                    "ENTENDIDO"
                                </button>
                            </div>
                        }
                    })
                    .collect_view()
            }}
        </div>
    }
}

/// A failed call: the headline by code, the service's message under it.
#[component]
pub fn ErrorBox(error: ApiError) -> impl IntoView {
    view! {
        <div class="error-box" role="alert" data-code=error.code.clone()>
            <strong>{text::error_title(&error.code)}</strong>
            <span class="error-message">{error.message}</span>
            <span class="error-action">{text::error_action(&error.code)}</span>
        </div>
    }
}

/// The bottom bar: VOLVER to `back` (if any), INICIO, and the screen's main action.
#[component]
pub fn Footer(#[prop(optional)] back: Option<Screen>, children: Children) -> impl IntoView {
    let st = expect_context::<AppState>();
    view! {
        <footer class="footer">
            {back
                .map(|b| {
                    view! {
                        <button class="btn btn-secondary" id="volver" on:click=move |_| st.go(b)>
                            "VOLVER"
                        </button>
                    }
                })}
            <button class="btn btn-secondary" id="inicio" on:click=move |_| st.reset()>
                "INICIO"
            </button>
            <div class="footer-main">{children()}</div>
        </footer>
    }
}

/// Loading state of a list fetched over IPC.
#[derive(Debug, Clone, PartialEq)]
pub enum Load<T> {
    Loading,
    Ready(T),
    Failed(ApiError),
}

impl<T> From<Result<T, ApiError>> for Load<T> {
    fn from(r: Result<T, ApiError>) -> Self {
        match r {
            Ok(v) => Load::Ready(v),
            Err(e) => Load::Failed(e),
        }
    }
}

/// A copy of `source` that follows it once it has been still for `ms`: typing a filter (or a
/// reader's burst) costs one query, not one per key.
pub fn debounced(source: RwSignal<String>, ms: u64) -> RwSignal<String> {
    let out = RwSignal::new(source.get_untracked());
    let generation = StoredValue::new(0u64);
    Effect::new(move |_| {
        let v = source.get();
        let g = generation.get_value() + 1;
        generation.set_value(g);
        set_timeout(
            move || {
                // The screen may be gone by then.
                if generation.try_get_value() == Some(g) {
                    out.try_set(v);
                }
            },
            std::time::Duration::from_millis(ms),
        );
    });
    out
}
