//! Screen 4, Spools: the spools this worker may pick for the chosen action (occupied ones greyed with
//! `Ocupado por MR(93)`, behind a count line at the top and listed first when a filter is typed),
//! NV/TAG filters, a TAG scan selects, select all/none, at most 50.

use leptos::prelude::*;
use zeues_sync::api::{ApiError, ForAction, SpoolList, SpoolQuery, SpoolView, TagCheck};
use zeues_sync::domain::{Intent, Operacion, MAX_BATCH};

use crate::components::{ErrorBox, Footer, Load};
use crate::ipc;
use crate::state::{AppState, Screen};
use crate::text;

/// Rows fetched per query; the filters find the rest.
const LIST_LIMIT: usize = 300;

fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

#[component]
pub fn Spools() -> impl IntoView {
    let st = expect_context::<AppState>();
    let op = st.op.get_untracked();
    let intent = st.intent.get_untracked();
    let worker_id = st.worker.get_untracked().map(|w| w.id);
    let single = matches!(intent, Some(Intent::Metrologia { .. }));
    let tag_f = RwSignal::new(String::new());
    let nv_f = RwSignal::new(String::new());
    let list = RwSignal::new(Load::<SpoolList>::Loading);
    let notice = RwSignal::new(None::<String>);
    let scan_error = RwSignal::new(None::<ApiError>);
    let seq = StoredValue::new(0u64);

    let tag_q = crate::components::debounced(tag_f, 150);
    let nv_q = crate::components::debounced(nv_f, 150);
    // Greyed rows (occupied by others, BLOQUEADO) sit behind a count line at the top: after up
    // to LIST_LIMIT eligible rows nobody would scroll to them. A filter opens them, listed
    // first, since whoever looks for a given TAG wants to see why it cannot be picked.
    let show_greyed = RwSignal::new(false);
    Effect::new(move |_| {
        let filtering = !tag_q.get().trim().is_empty() || !nv_q.get().trim().is_empty();
        show_greyed.set(filtering);
    });
    let for_action = move || {
        worker_id
            .zip(intent)
            .map(|(worker_id, intent)| ForAction { worker_id, intent })
    };
    Effect::new(move |_| {
        let query = SpoolQuery {
            tag: non_empty(tag_q.get()),
            nv: non_empty(nv_q.get()),
            for_action: for_action(),
            limit: Some(LIST_LIMIT),
            solo_ocupados: false,
            // The selection is judged on its own: a filter or the row limit hides a selected
            // spool, it does not unselect it (issue 15).
            check: st.selected.get_untracked(),
        };
        st.replica_rev.track();
        let n = seq.get_value() + 1;
        seq.set_value(n);
        leptos::task::spawn_local(async move {
            let answer = ipc::list_spools(&query).await;
            if seq.get_value() != n {
                return; // a newer query is on its way
            }
            match answer {
                Ok(l) => {
                    // A spool someone else just took cannot stay selected, and the worker is
                    // told which and why.
                    let gone: Vec<String> = l
                        .checked
                        .iter()
                        .filter_map(|c| {
                            c.refusal
                                .as_ref()
                                .map(|e| format!("{}: {}", c.tag, e.message))
                        })
                        .collect();
                    if !gone.is_empty() {
                        let tags: Vec<&String> = l
                            .checked
                            .iter()
                            .filter(|c| c.refusal.is_some())
                            .map(|c| &c.tag)
                            .collect();
                        st.selected.update(|sel| sel.retain(|t| !tags.contains(&t)));
                        notice.set(Some(format!(
                            "Se quitó de la selección: {}",
                            gone.join(" · ")
                        )));
                    }
                    list.set(Load::Ready(l));
                }
                Err(e) => list.set(Load::Failed(e)),
            }
        });
    });

    let toggle = move |tag: String| {
        notice.set(None);
        st.selected.update(|sel| {
            if let Some(pos) = sel.iter().position(|t| *t == tag) {
                sel.remove(pos);
            } else if single {
                *sel = vec![tag];
            } else if sel.len() >= MAX_BATCH {
                notice.set(Some(format!("Máximo {MAX_BATCH} spools por vez")));
            } else {
                sel.push(tag);
            }
        });
    };

    let select_all = move |_| {
        notice.set(None);
        if let Load::Ready(l) = list.get_untracked() {
            let all: Vec<String> = l
                .spools
                .iter()
                .filter(|s| !s.bloqueado)
                .map(|s| s.tag.clone())
                .take(MAX_BATCH)
                .collect();
            if l.spools.len() > MAX_BATCH {
                notice.set(Some(format!(
                    "Se seleccionaron los primeros {MAX_BATCH} (máximo por vez)"
                )));
            }
            st.selected.set(all);
        }
    };

    let select = move |tag: &str| {
        if !st
            .selected
            .with_untracked(|sel| sel.iter().any(|t| t == tag))
        {
            toggle(tag.to_string());
        }
    };
    // A TAG typed + Enter, or scanned anywhere on this screen, selects that spool — wherever it
    // is in the list, rows on screen or not; when the rules refuse it, the tap's own reason
    // (occupied by whom, blocked, not ready for this operation, unknown or malformed TAG).
    let pick = move |typed: String| {
        scan_error.set(None);
        notice.set(None);
        let typed = typed.trim().to_uppercase();
        if typed.is_empty() {
            return;
        }
        let on_screen = list.with_untracked(|l| match l {
            Load::Ready(l) => l
                .spools
                .iter()
                .find(|s| s.tag.eq_ignore_ascii_case(&typed))
                .map(|s| s.tag.clone()),
            _ => None,
        });
        if let Some(tag) = on_screen {
            select(&tag);
            tag_f.set(String::new());
            return;
        }
        let query = SpoolQuery {
            for_action: for_action(),
            limit: Some(0),
            check: vec![typed.clone()],
            ..SpoolQuery::default()
        };
        leptos::task::spawn_local(async move {
            let verdict = match ipc::list_spools(&query).await {
                Ok(l) => l.checked.into_iter().next(),
                Err(e) => {
                    scan_error.set(Some(e));
                    return;
                }
            };
            match verdict {
                Some(TagCheck { spool: Some(s), .. }) => {
                    select(&s.tag);
                    tag_f.set(String::new());
                }
                Some(TagCheck {
                    refusal: Some(e), ..
                }) => scan_error.set(Some(e)),
                _ => scan_error.set(Some(ApiError::new(
                    "SPOOL_NO_ENCONTRADO",
                    format!("No se pudo revisar el spool '{typed}'. Intenta de nuevo."),
                ))),
            }
        });
    };
    let on_enter = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Enter" {
            pick(tag_f.get_untracked());
        }
    };
    crate::scanner::on_scan(st, move |code| {
        tag_f.set(String::new());
        pick(code);
    });

    let title = format!(
        "{} - {}",
        op.map_or("", Operacion::label),
        intent.map_or("", text::intent_word)
    );
    let empty_text = move || {
        let filter = [tag_q.get(), nv_q.get()]
            .into_iter()
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect::<Vec<_>>()
            .join(" / ");
        if !filter.is_empty() {
            return format!("Ningún spool coincide con «{filter}»");
        }
        match intent {
            Some(Intent::Pausar(_) | Intent::Completar(_) | Intent::Cancelar(_)) => {
                "No tienes spools tomados en esta operación".to_string()
            }
            _ => "No hay spools disponibles para esta acción".to_string(),
        }
    };
    let count = move || st.selected.with(Vec::len);
    // Eligible spools matching the filters (the list itself may be cut at LIST_LIMIT).
    let shown = move || {
        list.with(|l| match l {
            Load::Ready(l) => l.total,
            _ => 0,
        })
    };

    let row = move |s: SpoolView| {
        let tag = s.tag.clone();
        let tag_sel = s.tag.clone();
        let tag_sel2 = s.tag.clone();
        // A memo is Copy, so the row's class, attribute and check mark can all follow it.
        let is_sel = Memo::new(move |_| st.selected.with(|sel| sel.contains(&tag_sel)));
        let ciclo = (s.ciclo_reparacion > 0 && op == Some(Operacion::Reparacion)).then(
            || view! { <span class="chip">{format!("Ciclo {}/3", s.ciclo_reparacion)}</span> },
        );
        // A repairer needs to know what to repair: the origin metrología gave the defect.
        let origen = s
            .defecto_origen
            .clone()
            .filter(|_| op == Some(Operacion::Reparacion))
            .map(
                |o| view! { <span class="chip chip-warn defecto">{format!("Defecto {o}")}</span> },
            );
        let pend = s
            .pendiente
            .then(|| view! { <span class="chip chip-warn">"pendiente de sincronizar"</span> });
        if s.bloqueado {
            return view! {
                <div class="spool-row disabled bloqueado" data-tag=tag data-ocupado="false" aria-disabled="true">
                    <span class="check"></span>
                    <span class="tag">{s.tag.clone()}</span>
                    <span class="nv">{format!("NV {}", s.nv)}</span>
                    <span class="estado">{s.estado_detalle.clone()}</span>
                    <span class="chip chip-bad">"BLOQUEADO - Supervisor"</span>
                </div>
            }
                .into_any();
        }
        view! {
            <button
                class="spool-row"
                class:selected=is_sel
                data-tag=tag
                data-ocupado="false"
                data-selected=move || is_sel.get().to_string()
                on:click=move |_| toggle(tag_sel2.clone())
            >
                <span class="check">{move || if is_sel.get() { "✓" } else { "" }}</span>
                <span class="tag">{s.tag.clone()}</span>
                <span class="nv">{format!("NV {}", s.nv)}</span>
                <span class="estado">{s.estado_detalle.clone()}</span>
                {ciclo}
                {origen}
                {pend}
            </button>
        }
        .into_any()
    };

    view! {
        <section class="page" id="pantalla-spools">
            <h1>{title}</h1>
            <div class="filters">
                <input
                    id="tag-filter"
                    class="input"
                    type="search"
                    autofocus
                    placeholder="TAG o escanee"
                    prop:value=move || tag_f.get()
                    on:input=move |ev| {
                        // A warning about what was typed before goes when the input changes.
                        notice.set(None);
                        scan_error.set(None);
                        tag_f.set(event_target_value(&ev));
                    }
                    on:keydown=on_enter
                />
                <input
                    id="nv-filter"
                    class="input input-narrow"
                    type="search"
                    placeholder="NV"
                    prop:value=move || nv_f.get()
                    on:input=move |ev| nv_f.set(event_target_value(&ev))
                />
                {(!single)
                    .then(|| {
                        view! {
                            <button class="btn btn-secondary" id="select-all" on:click=select_all>
                                "TODOS"
                            </button>
                            <button
                                class="btn btn-secondary"
                                id="select-none"
                                on:click=move |_| st.selected.set(Vec::new())
                            >
                                "NINGUNO"
                            </button>
                        }
                    })}
                <span class="counter" id="seleccionados">
                    {move || format!("SELECCIONADOS: {} / {}", count(), shown())}
                </span>
            </div>
            {move || {
                // Selected spools that no row on screen shows (a filter or the row limit hides
                // them): still selected, listed here, each can be removed.
                let hidden: Vec<String> = list.with(|l| {
                    let shown: Vec<&str> = match l {
                        Load::Ready(l) => l.spools.iter().map(|s| s.tag.as_str()).collect(),
                        _ => Vec::new(),
                    };
                    st.selected
                        .with(|sel| sel.iter().filter(|t| !shown.contains(&t.as_str())).cloned().collect())
                });
                (!hidden.is_empty())
                    .then(|| {
                        view! {
                            <div class="seleccion-oculta" id="seleccion-oculta">
                                <span class="hint">"También seleccionados:"</span>
                                {hidden
                                    .into_iter()
                                    .map(|t| {
                                        let t2 = t.clone();
                                        view! {
                                            <button
                                                class="btn btn-small chip-sel"
                                                data-tag=t.clone()
                                                title="Quitar de la selección"
                                                on:click=move |_| toggle(t2.clone())
                                            >
                                                {format!("{t} ✕")}
                                            </button>
                                        }
                                    })
                                    .collect_view()}
                            </div>
                        }
                    })
            }}
            {move || notice.get().map(|m| view! { <p class="hint warn" id="aviso-spools">{m}</p> })}
            {move || scan_error.get().map(|e| view! { <div id="aviso-spools-error"><ErrorBox error=e/></div> })}
            <div class="scroll" id="spool-list">
                {move || match list.get() {
                    Load::Loading => view! { <p class="hint">"Cargando spools…"</p> }.into_any(),
                    Load::Failed(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Load::Ready(l) => {
                        let more = (l.total > l.spools.len())
                            .then(|| {
                                view! {
                                    <p class="hint">
                                        {format!(
                                            "Mostrando {} de {}. Use los filtros para encontrar otros.",
                                            l.spools.len(),
                                            l.total,
                                        )}
                                    </p>
                                }
                            });
                        let empty = l
                            .spools
                            .is_empty()
                            .then(|| view! { <p class="hint" id="sin-spools">{empty_text()}</p> });
                        let occupied = l.ocupados.iter().filter(|s| s.ocupado_por.is_some()).count();
                        let blocked = l.ocupados.len() - occupied;
                        let open = show_greyed.get();
                        let toggle_greyed = (!l.ocupados.is_empty())
                            .then(|| {
                                view! {
                                    <button
                                        class="greyed-toggle"
                                        id="ver-ocupados"
                                        data-count=l.ocupados.len().to_string()
                                        aria-expanded=open.to_string()
                                        on:click=move |_| show_greyed.update(|o| *o = !*o)
                                    >
                                        <span>{text::greyed_summary(occupied, blocked)}</span>
                                        <span class="greyed-action">{if open { "OCULTAR" } else { "VER" }}</span>
                                    </button>
                                }
                            });
                        let greyed = open
                            .then(|| {
                                l.ocupados
                                    .into_iter()
                                    .map(|s| {
                                        // Greyed: occupied by someone, or BLOQUEADO (supervisor only).
                                        let (why, ocupado) = match &s.ocupado_por {
                                            Some(por) => (format!("Ocupado por {por}"), "true"),
                                            None if s.bloqueado => ("BLOQUEADO - Supervisor".to_string(), "false"),
                                            None => ("No disponible".to_string(), "false"),
                                        };
                                        view! {
                                            <div
                                                class="spool-row disabled ocupado"
                                                data-tag=s.tag.clone()
                                                data-ocupado=ocupado
                                                aria-disabled="true"
                                            >
                                                <span class="check"></span>
                                                <span class="tag">{s.tag.clone()}</span>
                                                <span class="nv">{format!("NV {}", s.nv)}</span>
                                                <span class="ocupado-por">{why}</span>
                                            </div>
                                        }
                                    })
                                    .collect_view()
                            });
                        view! {
                            {toggle_greyed}
                            {greyed}
                            {empty}
                            {l.spools.into_iter().map(row).collect_view()}
                            {more}
                        }
                            .into_any()
                    }
                }}
            </div>
            <Footer back=if single { Screen::Trabajador } else { Screen::Accion }>
                <button
                    class="btn btn-primary"
                    id="continuar"
                    disabled=move || count() == 0
                    on:click=move |_| {
                        if count() > 0 {
                            st.go(if single { Screen::Metrologia } else { Screen::Confirmar });
                        }
                    }
                >
                    {move || {
                        if single {
                            "INSPECCIONAR".to_string()
                        } else {
                            format!("CONTINUAR CON {}", text::spools_count(count()))
                        }
                    }}
                </button>
            </Footer>
        </section>
    }
}
