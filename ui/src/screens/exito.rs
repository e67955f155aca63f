//! Screen 6, Éxito: what happened, then back to the start after 5 seconds.

use std::time::Duration;

use leptos::prelude::*;

use crate::state::AppState;
use crate::text;

const SECONDS: u32 = 5;

#[component]
pub fn Exito() -> impl IntoView {
    let st = expect_context::<AppState>();
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

    let done = st.done.get_untracked();
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
    view! {
        <section class="page exito" id="exito">
            <div class=if cancel { "big-check warn" } else { "big-check" }>"✓"</div>
            <h1 class="exito-word">{word}</h1>
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
}
