//! Screen 6, Éxito: what happened, then back to the start after 5 seconds.

use std::time::Duration;

use leptos::prelude::*;

use crate::state::AppState;
use crate::text;

const SECONDS: u32 = 5;

#[component]
pub fn Exito() -> impl IntoView {
    let st = expect_context::<AppState>();
    let done = st.done.get_untracked();
    // A rejection (one spool, METROLOGÍA RECHAZADO): its cycle and origin; the third blocks.
    let rechazo = done
        .as_ref()
        .and_then(|d| match d.outcome.results.as_slice() {
            [only] => only.rechazo.clone(),
            _ => None,
        });
    if let Some(r) = rechazo.clone().filter(|r| r.bloqueado) {
        return bloqueado(st, done.map(|d| d.outcome.summary).unwrap_or_default(), r).into_any();
    }
    let remaining = RwSignal::new(SECONDS);
    match set_interval_with_handle(
        move || {
            let r = remaining.get_untracked();
            if r <= 1 {
                st.reset();
            } else {
                remaining.set(r - 1);
            }
        },
        Duration::from_secs(1),
    ) {
        Ok(handle) => on_cleanup(move || handle.clear()),
        // Without the timer the CONTINUAR button still returns.
        Err(e) => web_sys::console::warn_1(&e),
    }

    let word = done.as_ref().map_or("LISTO", |d| text::done_word(d.intent));
    let cancel = matches!(
        done.as_ref().map(|d| d.intent),
        Some(zeues_sync::domain::Intent::Cancelar(_))
    );
    let summary = done
        .as_ref()
        .map(|d| d.outcome.summary.clone())
        .unwrap_or_default();
    let queued = done
        .as_ref()
        .is_some_and(|d| d.outcome.queued)
        .then(|| view! { <p class="queued" id="exito-pendiente">{text::QUEUED}</p> });
    let failures = done
        .map(|d| {
            d.outcome
                .results
                .into_iter()
                .filter(|r| !r.ok)
                .map(|r| {
                    view! {
                        <li data-tag=r.tag.clone() data-code=r.code.clone()>
                            <strong>{r.tag.clone()}</strong>
                            {format!(": {} — {}", text::error_title(&r.code), r.message)}
                        </li>
                    }
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let has_failures = !failures.is_empty();
    // A rejection is not a success: a cross, not a check, with its cycle and the defect's origin.
    let (mark, mark_class) = match (&rechazo, cancel) {
        (Some(_), _) => ("✕", "big-check rechazo"),
        (None, true) => ("✓", "big-check warn"),
        (None, false) => ("✓", "big-check"),
    };
    let ciclo = rechazo.map(|r| {
        view! {
            <p class="rechazo-ciclo" id="exito-ciclo">
                <span class="chip chip-warn">{format!("Ciclo {}/3", r.ciclo)}</span>
                {format!(" Defecto de {}", r.origen)}
            </p>
        }
    });
    view! {
        <section class="page exito" id="exito">
            <div class=mark_class>{mark}</div>
            <h1 class="exito-word">{word}</h1>
            {ciclo}
            <p class="summary" id="exito-resumen">{summary}</p>
            {queued}
            {has_failures.then(|| view! { <ul class="fallos">{failures}</ul> })}
            <p class="countdown">
                {move || format!("Volviendo al inicio en {} segundos", remaining.get())}
            </p>
            <button class="btn btn-primary btn-wide" id="exito-continuar" on:click=move |_| st.reset()>
                "CONTINUAR"
            </button>
        </section>
    }
    .into_any()
}

/// The third rejection: the spool is BLOQUEADO. Red, a cross, no return by itself: the
/// inspector acknowledges it, and is told a supervisor must release it (the desk's BLOQUEADOS
/// tab lists it already: the local replica has the block).
fn bloqueado(st: AppState, summary: String, r: zeues_sync::api::Rechazo) -> impl IntoView {
    view! {
        <section class="page exito exito-bloqueado" id="exito" data-kind="bloqueado">
            <div class="big-check bloqueado" aria-hidden="true">"✕"</div>
            <h1 class="exito-word">"BLOQUEADO"</h1>
            <p class="rechazo-ciclo" id="exito-ciclo">
                <span class="chip chip-bad">{format!("Ciclo {}/3", r.ciclo)}</span>
                {format!(" Defecto de {}", r.origen)}
            </p>
            <p class="summary" id="exito-resumen" role="alert">{summary}</p>
            <p class="bloqueado-paso" id="exito-bloqueado-paso">
                "Avise a su supervisor: debe desbloquearlo en el escritorio del supervisor (pestaña BLOQUEADOS). Nadie puede repararlo ni inspeccionarlo hasta entonces."
            </p>
            <button class="btn btn-primary btn-wide" id="exito-continuar" on:click=move |_| st.reset()>
                "ENTENDIDO"
            </button>
        </section>
    }
}
