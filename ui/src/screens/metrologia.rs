//! Screen 5, Metrología: APROBADO, or RECHAZADO with the defect's origin (ARM/SOLD). Sent at once,
//! no separate confirmation.

use leptos::prelude::*;
use zeues_sync::api::ApiError;
use zeues_sync::domain::{DefectoOrigen, Intent, ResultadoMetrologia};

use crate::components::{ErrorBox, Footer};
use crate::screens::confirmar::execute;
use crate::state::{AppState, Screen};

#[component]
pub fn Metrologia() -> impl IntoView {
    let st = expect_context::<AppState>();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let rechazo = RwSignal::new(false);
    let tag = st
        .selected
        .get_untracked()
        .first()
        .cloned()
        .unwrap_or_default();
    let send = {
        let tag = tag.clone();
        move |resultado: ResultadoMetrologia, origen: Option<DefectoOrigen>| {
            execute(
                st,
                Intent::Metrologia { resultado, origen },
                vec![tag.clone()],
                busy,
                error,
            );
        }
    };
    let send2 = send.clone();
    let send3 = send.clone();
    view! {
        <section class="page" id="pantalla-metrologia">
            <h1>"RESULTADO DE METROLOGÍA"</h1>
            <p class="big-tag" data-tag=tag.clone()>{tag.clone()}</p>
            <div class="metro-grid">
                <button
                    class="card metro-card aprobado"
                    id="metro-APROBADO"
                    disabled=move || busy.get()
                    on:click=move |_| send(ResultadoMetrologia::Aprobado, None)
                >
                    <span class="card-title">"APROBADO"</span>
                </button>
                <button
                    class="card metro-card rechazado"
                    id="metro-RECHAZADO"
                    class:active=move || rechazo.get()
                    disabled=move || busy.get()
                    on:click=move |_| rechazo.set(true)
                >
                    <span class="card-title">"RECHAZADO"</span>
                </button>
            </div>
            {move || {
                rechazo
                    .get()
                    .then(|| {
                        let s2 = send2.clone();
                        let s3 = send3.clone();
                        view! {
                            <div class="origen" id="origen">
                                <h2>"¿Dónde está el defecto?"</h2>
                                <div class="origen-grid">
                                    <button
                                        class="btn btn-primary"
                                        id="origen-ARM"
                                        disabled=move || busy.get()
                                        on:click=move |_| s2(ResultadoMetrologia::Rechazado, Some(DefectoOrigen::Arm))
                                    >
                                        "ARMADO (ARM)"
                                    </button>
                                    <button
                                        class="btn btn-primary"
                                        id="origen-SOLD"
                                        disabled=move || busy.get()
                                        on:click=move |_| s3(ResultadoMetrologia::Rechazado, Some(DefectoOrigen::Sold))
                                    >
                                        "SOLDADURA (SOLD)"
                                    </button>
                                </div>
                            </div>
                        }
                    })
            }}
            {move || error.get().map(|e| view! { <ErrorBox error=e/> })}
            <Footer back=Screen::Spools>
                <span></span>
            </Footer>
        </section>
    }
}
