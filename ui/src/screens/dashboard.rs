//! Quién tiene qué: every occupied spool with worker, operation and elapsed time, live; a
//! spool's history on tap.

use std::time::Duration;

use leptos::prelude::*;
use zeues_sync::api::{SpoolHistory, SpoolQuery, SpoolView};
use zeues_sync::domain::time::fmt_datetime;

use crate::components::{ErrorBox, Footer, Load};
use crate::ipc;
use crate::state::AppState;
use crate::text;

fn now_secs() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

fn op_label(code: &str) -> &str {
    match code {
        "ARM" => "ARMADO",
        "SOLD" => "SOLDADURA",
        "REPARACION" => "REPARACIÓN",
        other => other,
    }
}

#[component]
pub fn Dashboard() -> impl IntoView {
    let st = expect_context::<AppState>();
    let list = RwSignal::new(Load::<Vec<SpoolView>>::Loading);
    let now = RwSignal::new(now_secs());
    let history = RwSignal::new(None::<(String, Load<SpoolHistory>)>);
    let seq = StoredValue::new(0u64);

    match set_interval_with_handle(move || now.set(now_secs()), Duration::from_secs(15)) {
        Ok(handle) => on_cleanup(move || handle.clear()),
        // Elapsed times then refresh only with the list.
        Err(e) => web_sys::console::warn_1(&e),
    }

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
                return;
            }
            now.set(now_secs());
            list.set(match answer {
                Ok(l) => {
                    let mut occ: Vec<SpoolView> = l
                        .spools
                        .into_iter()
                        .chain(l.ocupados)
                        .filter(|s| s.ocupado_por.is_some())
                        .collect();
                    occ.sort_by_key(|s| s.ocupado_desde_epoch.unwrap_or(i64::MAX));
                    occ.dedup_by(|a, b| a.tag == b.tag);
                    Load::Ready(occ)
                }
                Err(e) => Load::Failed(e),
            });
        });
    });

    let open_history = move |tag: String| {
        history.set(Some((tag.clone(), Load::Loading)));
        leptos::task::spawn_local(async move {
            let h = match ipc::spool_history(&tag).await {
                Ok(h) => Load::Ready(h),
                Err(e) => Load::Failed(e),
            };
            history.update(|cur| {
                if let Some((t, slot)) = cur {
                    if *t == tag {
                        *slot = h;
                    }
                }
            });
        });
    };

    let counts = move || {
        list.with(|l| match l {
            Load::Ready(v) => ["ARM", "SOLD", "REPARACION"]
                .into_iter()
                .map(|code| {
                    let n = v
                        .iter()
                        .filter(|s| s.operacion_ocupacion.as_deref() == Some(code))
                        .count();
                    view! {
                        <div class="stat" data-op=code>
                            <span class="stat-n">{n}</span>
                            <span class="stat-l">{op_label(code).to_string()}</span>
                        </div>
                    }
                })
                .collect_view()
                .into_any(),
            _ => ().into_any(),
        })
    };

    view! {
        <section class="page" id="dashboard">
            <h1>"QUIÉN TIENE QUÉ"</h1>
            <div class="stats">{counts}</div>
            <div class="scroll" id="dashboard-list">
                {move || match list.get() {
                    Load::Loading => view! { <p class="hint">"Cargando…"</p> }.into_any(),
                    Load::Failed(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Load::Ready(v) if v.is_empty() => {
                        view! { <p class="hint" id="sin-ocupados">"No hay spools ocupados actualmente"</p> }
                            .into_any()
                    }
                    Load::Ready(v) => {
                        v.into_iter()
                            .map(|s| {
                                let tag = s.tag.clone();
                                let since = s.ocupado_desde_epoch;
                                let op = s.operacion_ocupacion.clone().unwrap_or_default();
                                view! {
                                    <button
                                        class="dash-row"
                                        data-tag=s.tag.clone()
                                        data-ocupado-por=s.ocupado_por.clone().unwrap_or_default()
                                        on:click=move |_| open_history(tag.clone())
                                    >
                                        <span class="tag">{s.tag.clone()}</span>
                                        <span class="who">{s.ocupado_por.clone().unwrap_or_default()}</span>
                                        <span class="op">{op_label(&op).to_string()}</span>
                                        <span class="elapsed">
                                            {move || since.map(|t| text::elapsed(now.get() - t)).unwrap_or_default()}
                                        </span>
                                        <span class="estado">{s.estado_detalle.clone()}</span>
                                        {s.pendiente.then(|| view! { <span class="chip chip-warn">"pendiente"</span> })}
                                    </button>
                                }
                            })
                            .collect_view()
                            .into_any()
                    }
                }}
            </div>
            {move || history.get().map(|(tag, h)| view! { <HistoryPanel tag=tag history=h on_close=move || history.set(None)/> })}
            <Footer>
                <span></span>
            </Footer>
        </section>
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
        Load::Ready(h) => view! {
            <table class="history">
                <thead>
                    <tr>
                        <th>"Trabajador"</th>
                        <th>"Operación"</th>
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
                            view! {
                                <tr>
                                    <td>{s.worker}</td>
                                    <td>{s.operacion}</td>
                                    <td>{fmt_datetime(s.start)}</td>
                                    <td>{s.end.map_or_else(|| "en curso".to_string(), fmt_datetime)}</td>
                                    <td>
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
            <ul class="events">
                {h
                    .history
                    .events
                    .into_iter()
                    .map(|e| {
                        view! {
                            <li>
                                {format!("{} · {} · {} {}", fmt_datetime(e.at), e.event_type, e.worker, e.detail)}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
            .into_any(),
    };
    view! {
        <div class="overlay">
            <div class="panel" id="historial">
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
