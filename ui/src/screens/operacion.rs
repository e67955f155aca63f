//! Screen 1, Operación: the four operations as big cards.

use leptos::prelude::*;
use zeues_sync::domain::Operacion as Op;

use crate::state::{AppState, Screen};

fn subtitle(op: Op) -> &'static str {
    match op {
        Op::Arm => "Tomar, pausar o completar armado",
        Op::Sold => "Tomar, pausar o completar soldadura",
        Op::Metrologia => "Inspección dimensional: aprobar o rechazar",
        Op::Reparacion => "Spools rechazados por metrología",
    }
}

#[component]
pub fn Operacion() -> impl IntoView {
    let st = expect_context::<AppState>();
    let cards = Op::ALL
        .into_iter()
        .map(|op| {
            view! {
                <button
                    class="card op-card"
                    id=format!("op-{}", op.code())
                    data-op=op.code()
                    on:click=move |_| {
                        st.op.set(Some(op));
                        st.worker.set(None);
                        st.intent.set(None);
                        st.selected.set(Vec::new());
                        st.go(Screen::Trabajador);
                    }
                >
                    <span class="card-title">{op.label()}</span>
                    <span class="card-sub">{subtitle(op)}</span>
                </button>
            }
        })
        .collect_view();
    view! {
        <section class="page" id="pantalla-operacion">
            <h1>"SELECCIONA OPERACIÓN"</h1>
            <div class="op-grid">{cards}</div>
        </section>
    }
}
