//! Quién tiene qué: every occupied spool with worker, operation and elapsed time, live (the
//! list follows the shell's replica events; the elapsed times tick every second), long
//! occupations highlighted, spools ready per operation, a search, and a spool's history on tap,
//! on a TAG scan, or on a TAG typed in the search + Enter (any spool, free ones too).

use leptos::prelude::*;
use zeues_sync::api::{Disponibles, SpoolHistory, SpoolQuery, SpoolView};
use zeues_sync::domain::time::fmt_datetime;

use crate::components::{ErrorBox, Footer, Load};
use crate::ipc;
use crate::state::AppState;
use crate::text;

/// Occupied spools, longest first.
pub fn occupied(list: zeues_sync::api::SpoolList) -> Vec<SpoolView> {
    let mut occ: Vec<SpoolView> = list
        .spools
        .into_iter()
        .chain(list.ocupados)
        .filter(|s| s.ocupado_por.is_some())
        .collect();
    occ.sort_by_key(|s| s.ocupado_desde_epoch.unwrap_or(i64::MAX));
    occ.dedup_by(|a, b| a.tag == b.tag);
    occ
}

/// Loads the occupied spools now and again on every replica change (no polling).
pub fn live_occupied(st: AppState) -> RwSignal<Load<Vec<SpoolView>>> {
    let list = RwSignal::new(Load::<Vec<SpoolView>>::Loading);
    let seq = StoredValue::new(0u64);
    Effect::new(move |_| {
        st.replica_rev.track();
        let n = seq.get_value() + 1;
        seq.set_value(n);
        leptos::task::spawn_local(async move {
            let answer = ipc::list_spools(&SpoolQuery {
                solo_ocupados: true,
                limit: Some(5_000),
                ..SpoolQuery::default()
            })
            .await;
            if seq.get_value() != n {
                return; // a newer load is on its way
            }
            list.set(match answer {
                Ok(l) => Load::Ready(occupied(l)),
                Err(e) => Load::Failed(e),
            });
        });
    });
    list
}

fn matches(s: &SpoolView, q: &str) -> bool {
    if q.is_empty() {
        return true;
    }
    let q = q.to_uppercase();
    s.tag.to_uppercase().contains(&q)
        || s.nv.to_uppercase().contains(&q)
        || s.ocupado_por
            .as_deref()
            .is_some_and(|w| w.to_uppercase().contains(&q))
        || s.operacion_ocupacion
            .as_deref()
            .is_some_and(|o| text::op_label(o).contains(&q))
}

/// The history overlay's state: which spool, and its history once loaded.
pub type HistorySlot = RwSignal<Option<(String, Load<SpoolHistory>)>>;

/// Opens the history of a TAG someone typed (Enter) or scanned. Unlike a tapped row, the TAG
/// may not exist: then `unknown` says so next to the search, and no empty overlay hides the
/// field to correct it. When the TAG is not exact, the one spool `fallback` names is opened
/// instead (a partial TAG that leaves a single row in the list).
pub fn find_history(
    slot: HistorySlot,
    unknown: RwSignal<Option<String>>,
    typed: &str,
    fallback: Option<String>,
) {
    let tag = typed.trim().to_uppercase();
    unknown.set(None);
    if tag.is_empty() {
        return;
    }
    leptos::task::spawn_local(async move {
        match ipc::spool_history(&tag).await {
            Ok(h) => {
                slot.try_set(Some((h.tag.clone(), Load::Ready(h))));
            }
            Err(e) if e.code == "SPOOL_NO_ENCONTRADO" || e.code == "TAG_INVALIDO" => match fallback
            {
                Some(other) if other != tag => open_history(slot, other),
                _ => {
                    unknown.try_set(Some(text::unknown_tag(&tag)));
                }
            },
            Err(e) => {
                slot.try_set(Some((tag, Load::Failed(e))));
            }
        }
    });
}

pub fn open_history(slot: HistorySlot, tag: String) {
    slot.set(Some((tag.clone(), Load::Loading)));
    leptos::task::spawn_local(async move {
        let h = Load::from(ipc::spool_history(&tag).await);
        slot.update(|cur| {
            if let Some((t, loaded)) = cur {
                if *t == tag {
                    *loaded = h;
                }
            }
        });
    });
}

#[component]
pub fn Dashboard() -> impl IntoView {
    let st = expect_context::<AppState>();
    let list = live_occupied(st);
    let counts = RwSignal::new(None::<Disponibles>);
    let history: HistorySlot = RwSignal::new(None);
    let query = RwSignal::new(String::new());
    let shown_query = crate::components::debounced(query, 150);

    Effect::new(move |_| {
        st.replica_rev.track();
        leptos::task::spawn_local(async move {
            match ipc::disponibles().await {
                Ok(d) => counts.set(Some(d)),
                Err(e) => web_sys::console::warn_1(&format!("disponibles: {e}").into()),
            }
        });
    });
    let unknown = RwSignal::new(None::<String>);
    crate::scanner::on_scan(st, move |code| {
        query.set(String::new());
        find_history(history, unknown, &code, None);
    });
    // Enter in the search opens that TAG's history: the list only has occupied spools, and a
    // free or finished spool's history must be reachable without a reader.
    let on_enter = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() != "Enter" {
            return;
        }
        let q = query.get_untracked();
        let single = list.with_untracked(|l| match l {
            Load::Ready(v) => {
                let mut hits = v.iter().filter(|s| matches(s, q.trim()));
                match (hits.next(), hits.next()) {
                    (Some(s), None) => Some(s.tag.clone()),
                    _ => None,
                }
            }
            _ => None,
        });
        find_history(history, unknown, &q, single);
    };

    let stat = |id: &'static str, label: &'static str, n: Option<u32>, tone: &'static str| {
        view! {
            <div class=format!("stat {tone}") id=id>
                <span class="stat-n">{n.map(|n| n.to_string()).unwrap_or_else(|| "–".into())}</span>
                <span class="stat-l">{label}</span>
            </div>
        }
    };
    let stats = move || {
        let d = counts.get();
        view! {
            {stat("disp-ARM", "ARMADO disponibles", d.as_ref().map(|d| d.arm), "")}
            {stat("disp-SOLD", "SOLDADURA disponibles", d.as_ref().map(|d| d.sold), "")}
            {stat("disp-METROLOGIA", "por inspeccionar", d.as_ref().map(|d| d.metrologia), "")}
            {stat("disp-REPARACION", "por reparar", d.as_ref().map(|d| d.reparacion), "")}
            {stat("disp-ocupados", "ocupados", d.as_ref().map(|d| d.ocupados), "stat-accent")}
            {stat("disp-bloqueados", "bloqueados", d.as_ref().map(|d| d.bloqueados), "stat-bad")}
        }
    };

    view! {
        <section class="page" id="dashboard">
            <div class="page-head">
                <h1>"QUIÉN TIENE QUÉ"</h1>
                <input
                    id="dashboard-search"
                    class="input"
                    type="search"
                    placeholder="Buscar TAG, trabajador u operación"
                    prop:value=move || query.get()
                    on:input=move |ev| {
                        unknown.set(None);
                        query.set(event_target_value(&ev));
                    }
                    on:keydown=on_enter
                />
            </div>
            {move || unknown.get().map(|m| view! { <p class="hint warn" id="aviso-dashboard" role="alert">{m}</p> })}
            <div class="stats">{stats}</div>
            <div class="dash-head">
                <span>"SPOOL"</span>
                <span>"TRABAJADOR"</span>
                <span>"OPERACIÓN"</span>
                <span>"TIEMPO"</span>
                <span>"ESTADO"</span>
            </div>
            <div class="scroll" id="dashboard-list">
                {move || match list.get() {
                    Load::Loading => view! { <p class="hint">"Cargando…"</p> }.into_any(),
                    Load::Failed(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Load::Ready(v) if v.is_empty() => {
                        view! { <p class="hint" id="sin-ocupados">"No hay spools ocupados actualmente"</p> }
                            .into_any()
                    }
                    Load::Ready(v) => {
                        let q = shown_query.get();
                        let shown: Vec<SpoolView> = v.into_iter().filter(|s| matches(s, q.trim())).collect();
                        if shown.is_empty() {
                            return view! { <p class="hint" id="sin-resultados">{format!("Nada coincide con «{}»", q.trim())}</p> }
                                .into_any();
                        }
                        shown
                            .into_iter()
                            .map(|s| {
                                let tag = s.tag.clone();
                                let since = s.ocupado_desde_epoch;
                                let op = s.operacion_ocupacion.clone().unwrap_or_default();
                                let long = move || since.is_some_and(|t| st.now.get() - t > text::LONG_OCCUPATION_SECS);
                                view! {
                                    <button
                                        class="dash-row"
                                        class:long=long
                                        data-tag=s.tag.clone()
                                        data-ocupado-por=s.ocupado_por.clone().unwrap_or_default()
                                        data-op=op.clone()
                                        on:click=move |_| open_history(history, tag.clone())
                                    >
                                        <span class="tag">{s.tag.clone()}</span>
                                        <span class="who">{s.ocupado_por.clone().unwrap_or_default()}</span>
                                        <span class=format!("op op-{op}")>{text::op_label(&op).to_string()}</span>
                                        <span class="elapsed">
                                            {move || since.map(|t| text::elapsed(st.now.get() - t)).unwrap_or_default()}
                                        </span>
                                        <span class="estado">
                                            {s.estado_detalle.clone()}
                                            {s.pendiente.then(|| view! { <span class="chip chip-warn">"pendiente de sincronizar"</span> })}
                                        </span>
                                    </button>
                                }
                            })
                            .collect_view()
                            .into_any()
                    }
                }}
            </div>
            <HistoryOverlay history=history/>
            <Footer>
                <span class="hint legend">
                    <span class="legend-long"></span>
                    {format!("más de {} h ocupado", text::LONG_OCCUPATION_SECS / 3600)}
                </span>
            </Footer>
        </section>
    }
}

/// The history overlay over any screen; closes with CERRAR or Escape.
#[component]
pub fn HistoryOverlay(history: HistorySlot) -> impl IntoView {
    let st = expect_context::<AppState>();
    let esc = st.escape.get_untracked();
    Effect::new(move |_| {
        if st.escape.get() != esc {
            history.set(None);
        }
    });
    move || {
        history
            .get()
            .map(|(tag, h)| view! { <HistoryPanel tag=tag history=h on_close=move || history.set(None)/> })
    }
}

#[component]
fn HistoryPanel(
    tag: String,
    history: Load<SpoolHistory>,
    on_close: impl Fn() + Send + Sync + 'static,
) -> impl IntoView {
    let body = match history {
        Load::Loading => view! { <p class="hint">"Cargando historial…"</p> }.into_any(),
        Load::Failed(e) => view! { <ErrorBox error=e/> }.into_any(),
        Load::Ready(h) if h.history.sessions.is_empty() && h.history.events.is_empty() => {
            view! { <p class="hint">"Sin movimientos registrados"</p> }.into_any()
        }
        Load::Ready(h) => {
            let total: i64 = h.history.sessions.iter().map(|s| s.duration_secs).sum();
            let sessions = h.history.sessions.len();
            view! {
                <p class="hint" id="historial-resumen">
                    {format!(
                        "{sessions} sesiones de trabajo · {} en total · {} eventos",
                        text::elapsed(total),
                        h.history.events.len(),
                    )}
                </p>
                <table class="history" id="historial-sesiones">
                    <thead>
                        <tr>
                            <th>"Operación"</th>
                            <th>"Trabajador"</th>
                            <th>"Inicio"</th>
                            <th>"Fin"</th>
                            <th>"Duración"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {h
                            .history
                            .sessions
                            .into_iter()
                            .map(|s| {
                                let cierre = match (s.open, s.closed_by.as_deref()) {
                                    (true, _) => "en curso".to_string(),
                                    (false, Some(c)) => format!("({})", text::event_label(c).to_lowercase()),
                                    (false, None) => String::new(),
                                };
                                let worker = s.worker.clone();
                                view! {
                                    <tr class="session" data-op=s.operacion.clone() data-worker=worker class:open=s.open>
                                        <td><span class=format!("op-chip op-{}", s.operacion)>{text::op_label(&s.operacion).to_string()}</span></td>
                                        <td class="who">{s.worker}</td>
                                        <td>{fmt_datetime(s.start)}</td>
                                        <td>{s.end.map(fmt_datetime).unwrap_or_default()}{" "}<span class="muted">{cierre}</span></td>
                                        <td class="dur">
                                            {if s.days > 1 {
                                                format!("{} ({} días)", s.duration, s.days)
                                            } else {
                                                s.duration
                                            }}
                                        </td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
                <h3>"Inspecciones, overrides y conflictos"</h3>
                <ul class="events" id="historial-eventos">
                    {h
                        .history
                        .events
                        .into_iter()
                        .map(|e| {
                            view! {
                                <li data-event=e.event_type.clone()>
                                    <span class="when">{fmt_datetime(e.at)}</span>
                                    <span class=format!("ev ev-{}", e.event_type)>{text::event_label(&e.event_type).to_string()}</span>
                                    <span class="who">{e.worker}</span>
                                    <span class="detail">{e.detail}</span>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            }
                .into_any()
        }
    };
    view! {
        <div class="overlay">
            <div class="panel" id="historial" data-tag=tag.clone()>
                <div class="panel-head">
                    <h2>{format!("Historial de {tag}")}</h2>
                    <button class="btn btn-secondary" id="cerrar-historial" on:click=move |_| on_close()>
                        "CERRAR"
                    </button>
                </div>
                <div class="scroll">{body}</div>
            </div>
        </div>
    }
}
