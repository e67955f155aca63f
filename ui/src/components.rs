//! Pieces every screen shares: the top bar with the sync badge, banners, the footer and the
//! error box.

use leptos::prelude::*;
use zeues_sync::api::ApiError;

use crate::state::{AppState, Screen};
use crate::text;

#[component]
pub fn TopBar() -> impl IntoView {
    let st = expect_context::<AppState>();
    let crumbs = move || {
        let mut parts: Vec<String> = Vec::new();
        if st.screen.get() == Screen::Dashboard {
            return String::new();
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
                let mut t = format!("Modo {}; equipo {}", s.mode, s.device_id);
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
        <div
            id="sync-badge"
            class=move || format!("sync-badge tone-{}", badge().1)
            data-connectivity=connectivity
            data-pending=pending
            title=detail
        >
            <span class="dot"></span>
            <span>{move || badge().0}</span>
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
                        view! {
                            <div class="notice" id=n.dom_id>
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
            <span>{error.message}</span>
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
