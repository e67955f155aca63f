//! Screen 3, Acción: TOMAR / PAUSAR / COMPLETAR, and CANCELAR.

use leptos::prelude::*;
use zeues_sync::api::{ForAction, SpoolQuery};
use zeues_sync::domain::{Intent, Operacion};

use crate::components::Footer;
use crate::ipc;
use crate::state::{AppState, Screen};

#[component]
pub fn Accion() -> impl IntoView {
    let st = expect_context::<AppState>();
    let op = st.op.get_untracked().unwrap_or(Operacion::Arm);
    let pick = move |intent: Intent| {
        st.intent.set(Some(intent));
        st.selected.set(Vec::new());
        st.go(Screen::Spools);
    };
    let worker_line = move || {
        st.worker
            .get()
            .map(|w| format!("{} · {} {}", w.token, w.nombre, w.apellido))
            .unwrap_or_default()
    };
    // How many spools this worker holds in this operation (what PAUSAR/COMPLETAR will list).
    let held = RwSignal::new(None::<usize>);
    if let Some(worker_id) = st.worker.get_untracked().map(|w| w.id) {
        leptos::task::spawn_local(async move {
            let q = SpoolQuery {
                for_action: Some(ForAction {
                    worker_id,
                    intent: Intent::Pausar(op),
                }),
                limit: Some(0),
                ..SpoolQuery::default()
            };
            match ipc::list_spools(&q).await {
                Ok(l) => held.set(Some(l.total)),
                Err(e) => web_sys::console::warn_1(&format!("list_spools: {e}").into()),
            }
        });
    }
    let held_text = move || {
        held.get().map(|n| match n {
            0 => "No tiene spools tomados en esta operación".to_string(),
            1 => "Tiene 1 spool tomado en esta operación".to_string(),
            n => format!("Tiene {n} spools tomados en esta operación"),
        })
    };
    view! {
        <section class="page" id="pantalla-accion">
            <div class="worker-bar">
                <span class="label">"TRABAJADOR ASIGNADO"</span>
                <span class="value">{worker_line}</span>
                <span class="held" id="spools-tomados">{held_text}</span>
            </div>
            <h1>"¿QUÉ ACCIÓN REALIZARÁS?"</h1>
            <div class="action-grid">
                <button class="card action-card primary" id="accion-TOMAR" on:click=move |_| pick(Intent::Tomar(op))>
                    <span class="card-title">"TOMAR"</span>
                    <span class="card-sub">"Empezar o retomar trabajo"</span>
                </button>
                <button class="card action-card" id="accion-PAUSAR" on:click=move |_| pick(Intent::Pausar(op))>
                    <span class="card-title">"PAUSAR"</span>
                    <span class="card-sub">"Dejar el spool disponible"</span>
                </button>
                <button class="card action-card" id="accion-COMPLETAR" on:click=move |_| pick(Intent::Completar(op))>
                    <span class="card-title">"COMPLETAR"</span>
                    <span class="card-sub">"Terminar la operación"</span>
                </button>
            </div>
            <div class="action-secondary">
                <button class="btn btn-secondary" id="accion-CANCELAR" on:click=move |_| pick(Intent::Cancelar(op))>
                    {if op == Operacion::Reparacion { "CANCELAR REPARACIÓN" } else { "CANCELAR" }}
                </button>
            </div>
            <Footer back=Screen::Trabajador>
                <span></span>
            </Footer>
        </section>
    }
}
