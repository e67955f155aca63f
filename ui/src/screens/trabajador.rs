//! Screen 2, Trabajador: workers who may act on the chosen operation; search, or scan a badge
//! (a keyboard-wedge reader types the id or token and Enter).

use leptos::prelude::*;
use zeues_sync::api::WorkerView;
use zeues_sync::domain::{Intent, Operacion, ResultadoMetrologia};

use crate::components::{ErrorBox, Footer, Load};
use crate::ipc;
use crate::state::{AppState, Screen};
use crate::text;

fn matches(w: &WorkerView, q: &str) -> bool {
    if q.is_empty() {
        return true;
    }
    let q = q.to_lowercase();
    w.token.to_lowercase().contains(&q)
        || w.id.to_string() == q
        || format!("{} {}", w.nombre, w.apellido)
            .to_lowercase()
            .contains(&q)
}

fn choose(st: AppState, w: WorkerView) {
    let op = st.op.get_untracked();
    st.worker.set(Some(w));
    st.selected.set(Vec::new());
    if op == Some(Operacion::Metrologia) {
        // Metrología is instant: straight to the spool, the result is chosen after.
        st.intent.set(Some(Intent::Metrologia {
            resultado: ResultadoMetrologia::Aprobado,
            origen: None,
        }));
        st.go(Screen::Spools);
    } else {
        st.intent.set(None);
        st.go(Screen::Accion);
    }
}

#[component]
pub fn Trabajador() -> impl IntoView {
    let st = expect_context::<AppState>();
    let op = st.op.get_untracked();
    let workers = RwSignal::new(Load::<Vec<WorkerView>>::Loading);
    let query = RwSignal::new(String::new());
    let scan_error = RwSignal::new(None::<String>);

    let load = move || {
        workers.set(Load::Loading);
        leptos::task::spawn_local(async move {
            workers.set(Load::from(ipc::list_workers(op).await));
        });
    };
    load();

    let op_label = op.map_or("", Operacion::label);
    // The plant's whole list says whose the number is, so the message can name the roles.
    let explain_not_enabled = move |id: u32| {
        leptos::task::spawn_local(async move {
            let said = match ipc::list_workers(None).await {
                Ok(everyone) => {
                    text::worker_not_enabled(op_label, id, everyone.iter().find(|w| w.id == id))
                }
                Err(e) => format!("No se pudo revisar el trabajador {id}: {}", e.message),
            };
            scan_error.set(Some(said));
        });
    };
    let on_enter = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() != "Enter" {
            return;
        }
        let q = query.get_untracked();
        let Load::Ready(list) = workers.get_untracked() else {
            return;
        };
        let id = text::scanned_worker_id(&q);
        let by_id = id.and_then(|id| list.iter().find(|w| w.id == id));
        let only: Vec<&WorkerView> = list.iter().filter(|w| matches(w, q.trim())).collect();
        match (by_id, id, only.as_slice()) {
            (Some(w), _, _) | (None, None, &[w]) => choose(st, w.clone()),
            // A number that is not on this list: whose it is and why it is not here.
            (None, Some(id), _) => explain_not_enabled(id),
            (None, None, found) => scan_error.set(Some(text::worker_search_ambiguous(
                op_label,
                q.trim(),
                found.len(),
            ))),
        }
    };

    // A badge scan picks the worker directly, wherever the focus is.
    crate::scanner::on_scan(st, move |code| {
        query.set(String::new());
        let Load::Ready(list) = workers.get_untracked() else {
            return;
        };
        let id = text::scanned_worker_id(&code);
        match id.and_then(|id| list.iter().find(|w| w.id == id)) {
            Some(w) => choose(st, w.clone()),
            None => match id {
                Some(id) => explain_not_enabled(id),
                None => scan_error.set(Some(format!(
                    "La credencial «{code}» no es de un trabajador habilitado para {op_label}. Elija de la lista o pida ayuda a su supervisor."
                ))),
            },
        }
    });
    let question = op.map_or("¿Quién?", text::who_question);
    view! {
        <section class="page" id="pantalla-trabajador">
            <h1>{question}</h1>
            <div class="filters">
                <input
                    id="worker-search"
                    class="input"
                    type="search"
                    autofocus
                    placeholder="Buscar por nombre o número — o escanee su credencial"
                    prop:value=move || query.get()
                    on:input=move |ev| {
                        scan_error.set(None);
                        query.set(event_target_value(&ev));
                    }
                    on:keydown=on_enter
                />
            </div>
            {move || scan_error.get().map(|m| view! { <p class="hint warn" id="aviso-trabajador">{m}</p> })}
            <div class="scroll">
                {move || match workers.get() {
                    Load::Loading => view! { <p class="hint">"Cargando trabajadores…"</p> }.into_any(),
                    Load::Failed(e) => {
                        view! {
                            <div>
                                <ErrorBox error=e/>
                                <button class="btn btn-secondary" on:click=move |_| load()>
                                    "REINTENTAR"
                                </button>
                            </div>
                        }
                            .into_any()
                    }
                    Load::Ready(list) if list.is_empty() => {
                        view! {
                            <p class="hint" id="sin-trabajadores">
                                {format!("No hay trabajadores disponibles para {op_label}")}
                            </p>
                        }
                            .into_any()
                    }
                    Load::Ready(list) => {
                        let q = query.get();
                        view! {
                            <div class="worker-grid" id="worker-list">
                                {list
                                    .into_iter()
                                    .filter(|w| matches(w, q.trim()))
                                    .map(|w| {
                                        let chosen = w.clone();
                                        view! {
                                            <button
                                                class="card worker-card"
                                                data-worker-id=w.id.to_string()
                                                data-roles=w.roles.join(" ")
                                                on:click=move |_| choose(st, chosen.clone())
                                            >
                                                <span class="token">{w.token.clone()}</span>
                                                <span class="name">
                                                    {format!("{} {}", w.nombre, w.apellido)}
                                                </span>
                                                <span class="roles">
                                                    {w
                                                        .roles
                                                        .iter()
                                                        .map(|r| view! { <span class="chip">{r.clone()}</span> })
                                                        .collect_view()}
                                                </span>
                                            </button>
                                        }
                                    })
                                    .collect_view()}
                            </div>
                        }
                            .into_any()
                    }
                }}
            </div>
            <Footer back=Screen::Operacion>
                <span></span>
            </Footer>
        </section>
    }
}
