//! Screen 5/6, Confirmar: the chosen spools and one big CONFIRMAR; also the one place an action is
//! sent (metrología uses [`execute`] too).

use leptos::prelude::*;
use zeues_sync::api::{ActionRequest, ApiError};
use zeues_sync::domain::{Intent, Operacion};

use crate::components::{ErrorBox, Footer};
use crate::ipc;
use crate::state::{AppState, Done, Screen};
use crate::text;

/// Sends `intent` on `tags` for the chosen worker. Success (even partial) goes to Éxito; a
/// failure of every spool stays here with its reason.
pub fn execute(
    st: AppState,
    intent: Intent,
    tags: Vec<String>,
    busy: RwSignal<bool>,
    error: RwSignal<Option<ApiError>>,
) {
    if busy.get_untracked() {
        return;
    }
    let Some(worker) = st.worker.get_untracked() else {
        error.set(Some(ApiError::new(
            "WORKER_NO_ENCONTRADO",
            "Elige un trabajador antes de continuar",
        )));
        return;
    };
    busy.set(true);
    error.set(None);
    leptos::task::spawn_local(async move {
        let request = ActionRequest {
            worker_id: worker.id,
            intent,
            tags,
            supervisor_pin: None,
        };
        match ipc::execute_action(&request).await {
            Ok(outcome) if outcome.succeeded() == 0 => {
                let first = outcome.results.first();
                error.set(Some(ApiError::new(
                    first.map_or("ERROR_INTERNO", |r| r.code.as_str()),
                    first.map_or(outcome.summary.clone(), |r| r.message.clone()),
                )));
            }
            Ok(outcome) => {
                st.done.set(Some(Done { intent, outcome }));
                st.replica_rev.update(|r| *r += 1);
                st.go(Screen::Exito);
            }
            Err(e) => error.set(Some(e)),
        }
        st.refresh_sync();
        busy.set(false);
    });
}

fn today() -> String {
    let d = js_sys::Date::new_0();
    format!(
        "{:02}-{:02}-{}",
        d.get_date(),
        d.get_month() + 1,
        d.get_full_year()
    )
}

#[component]
pub fn Confirmar() -> impl IntoView {
    let st = expect_context::<AppState>();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let op = st.op.get_untracked();
    let intent = st.intent.get_untracked();
    let tags = st.selected.get_untracked();
    let n = tags.len();
    let title = format!(
        "{} - {}",
        op.map_or("", Operacion::label),
        intent.map_or("", text::intent_word)
    );
    let worker = st
        .worker
        .get_untracked()
        .map(|w| format!("{} · {} {}", w.token, w.nombre, w.apellido))
        .unwrap_or_default();
    let fecha = matches!(intent, Some(Intent::Completar(_)))
        .then(|| view! { <p class="fecha">{format!("FECHA: {}", today())}</p> });
    let send_tags = tags.clone();
    view! {
        <section class="page" id="pantalla-confirmar">
            <h1>{title}</h1>
            <div class="worker-bar">
                <span class="label">"TRABAJADOR"</span>
                <span class="value">{worker}</span>
            </div>
            <h2>{if n == 1 { "SPOOL SELECCIONADO".to_string() } else { format!("SPOOLS SELECCIONADOS ({n})") }}</h2>
            <div class="scroll tag-grid" id="confirmar-lista">
                {tags
                    .into_iter()
                    .map(|t| view! { <span class="tag-pill" data-tag=t.clone()>{t.clone()}</span> })
                    .collect_view()}
            </div>
            {fecha}
            {move || error.get().map(|e| view! { <ErrorBox error=e/> })}
            <Footer back=Screen::Spools>
                <button
                    class="btn btn-primary"
                    id="confirmar"
                    disabled=move || busy.get()
                    on:click=move |_| {
                        if let Some(i) = intent {
                            execute(st, i, send_tags.clone(), busy, error);
                        }
                    }
                >
                    {move || {
                        if busy.get() {
                            "GUARDANDO…".to_string()
                        } else {
                            format!("CONFIRMAR {}", text::spools_count(n))
                        }
                    }}
                </button>
            </Footer>
        </section>
    }
}
