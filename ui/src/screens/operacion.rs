//! Screen 1, Operación: the four operations as big cards, each with how many spools are ready
//! for it now; the way to the supervisor desk and, on a demo device, to connecting the plant.

use leptos::prelude::*;
use zeues_sync::api::{AppMode, Disponibles};
use zeues_sync::domain::Operacion as Op;

use crate::ipc;
use crate::state::{AppState, Screen};

fn subtitle(op: Op) -> &'static str {
    match op {
        Op::Arm => "Tomar, pausar o completar armado",
        Op::Sold => "Tomar, pausar o completar soldadura",
        Op::Metrologia => "Inspección dimensional: aprobar o rechazar",
        Op::Reparacion => "Spools rechazados por metrología",
    }
}

fn ready(d: &Disponibles, op: Op) -> u32 {
    match op {
        Op::Arm => d.arm,
        Op::Sold => d.sold,
        Op::Metrologia => d.metrologia,
        Op::Reparacion => d.reparacion,
    }
}

fn ready_text(op: Op, n: u32) -> String {
    let what = match op {
        Op::Metrologia => "por inspeccionar",
        Op::Reparacion => "por reparar",
        _ => "disponibles",
    };
    format!("{n} {what}")
}

#[component]
pub fn Operacion() -> impl IntoView {
    let st = expect_context::<AppState>();
    let counts = RwSignal::new(None::<Disponibles>);
    Effect::new(move |_| {
        st.replica_rev.track();
        leptos::task::spawn_local(async move {
            match ipc::disponibles().await {
                Ok(d) => counts.set(Some(d)),
                Err(e) => web_sys::console::warn_1(&format!("disponibles: {e}").into()),
            }
        });
    });
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
                    <span class="card-count" data-op=op.code()>
                        {move || counts.get().map(|d| ready_text(op, ready(&d, op))).unwrap_or_default()}
                    </span>
                </button>
            }
        })
        .collect_view();
    let demo = move || {
        matches!(
            st.mode.get(),
            Some(AppMode::Demo) | Some(AppMode::SinConfigurar)
        )
    };
    view! {
        <section class="page" id="pantalla-operacion">
            <h1>"SELECCIONA OPERACIÓN"</h1>
            <div class="op-grid">{cards}</div>
            <footer class="footer">
                <button class="btn btn-secondary" id="link-supervisor" on:click=move |_| st.go(Screen::SupervisorLogin)>
                    "SUPERVISOR"
                </button>
                {move || {
                    demo()
                        .then(|| {
                            view! {
                                <span class="mode-chip" id="modo-demo">"PLANTA DE DEMOSTRACIÓN"</span>
                                <button class="btn btn-ghost" id="link-configuracion" on:click=move |_| st.go(Screen::Configuracion)>
                                    "CONECTAR PLANTA"
                                </button>
                            }
                        })
                }}
                <div class="footer-main">
                    <button class="btn btn-primary" id="link-dashboard-grande" on:click=move |_| st.go(Screen::Dashboard)>
                        "QUIÉN TIENE QUÉ"
                    </button>
                </div>
            </footer>
        </section>
    }
}
