//! The supervisor desk (desktop): every occupation with its duration and FORZAR LIBERACIÓN,
//! blocked spools with OVERRIDE, the conflicts inbox (descartar / re-aplicar), conflict metrics
//! per spool and per worker over a period (hot spots), sync health and devices online, the CSV
//! export, the trail of wrong PINs, and any spool's history by TAG (typed or scanned). Each
//! action sends the supervisor's PIN again: the shell checks it (and its rate limit) every time.

use leptos::prelude::*;
use zeues_sync::api::{
    ActionOutcome, ApiError, AppMode, ConflictDecision, ConflictMetrics, ConflictView,
    ExportRequest, ExportResult, ForAction, Periodo, PinAttempt, SpoolList, SpoolQuery, SpoolView,
    SupervisorRequest, SyncHealth, HOT_SPOT_THRESHOLD,
};
use zeues_sync::domain::Intent;

use crate::components::{ErrorBox, Load};
use crate::ipc;
use crate::screens::dashboard::{
    find_history, live_occupied, open_history, HistoryOverlay, HistorySlot,
};
use crate::state::{AppState, Screen, SupervisorSession};
use crate::text;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    Ocupados,
    Bloqueados,
    Conflictos,
    Metricas,
    Produccion,
    Sincronizacion,
    Exportar,
    Accesos,
}

impl Tab {
    const ALL: [Tab; 8] = [
        Tab::Ocupados,
        Tab::Bloqueados,
        Tab::Conflictos,
        Tab::Metricas,
        Tab::Produccion,
        Tab::Sincronizacion,
        Tab::Exportar,
        Tab::Accesos,
    ];

    fn id(self) -> &'static str {
        match self {
            Tab::Ocupados => "tab-ocupados",
            Tab::Bloqueados => "tab-bloqueados",
            Tab::Conflictos => "tab-conflictos",
            Tab::Metricas => "tab-metricas",
            Tab::Produccion => "tab-produccion",
            Tab::Sincronizacion => "tab-sincronizacion",
            Tab::Exportar => "tab-exportar",
            Tab::Accesos => "tab-accesos",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Tab::Ocupados => "OCUPADOS",
            Tab::Bloqueados => "BLOQUEADOS",
            Tab::Conflictos => "CONFLICTOS",
            Tab::Metricas => "MÉTRICAS",
            Tab::Produccion => "PRODUCCIÓN",
            Tab::Sincronizacion => "SINCRONIZACIÓN",
            Tab::Exportar => "EXPORTAR",
            Tab::Accesos => "ACCESOS",
        }
    }
}

/// `DD-MM-YYYY` of today minus `days_ago`, plant-local as the machine's clock shows it.
fn date_ago(days_ago: u32) -> String {
    let ms = js_sys::Date::now() - f64::from(days_ago) * 86_400_000.0;
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms));
    format!(
        "{:02}-{:02}-{}",
        d.get_date(),
        d.get_month() + 1,
        d.get_full_year()
    )
}

/// What the last desk action said (shown in a bar under the tabs).
#[derive(Debug, Clone, PartialEq)]
enum Said {
    Ok(String),
    Failed(ApiError),
}

#[derive(Clone, Copy)]
struct Desk {
    st: AppState,
    said: RwSignal<Option<Said>>,
    busy: RwSignal<bool>,
    history: HistorySlot,
}

impl Desk {
    fn session(&self) -> Option<SupervisorSession> {
        self.st.supervisor.get_untracked()
    }

    fn report(&self, r: Result<ActionOutcome, ApiError>) {
        match r {
            Ok(o) if o.succeeded() > 0 => self.said.set(Some(Said::Ok(o.summary))),
            Ok(o) => {
                let e = match o.results.into_iter().next() {
                    Some(r) => ApiError::new(r.code, r.message),
                    None => ApiError::new("ERROR_INTERNO", o.summary),
                };
                self.said.set(Some(Said::Failed(e)))
            }
            Err(e) => self.said.set(Some(Said::Failed(e))),
        }
        self.st.replica_rev.update(|r| *r += 1);
        self.st.refresh_sync();
    }

    fn act(self, intent: Intent, tag: String) {
        let Some(s) = self.session() else {
            return;
        };
        if self.busy.get_untracked() {
            return;
        }
        self.busy.set(true);
        self.said.set(None);
        leptos::task::spawn_local(async move {
            let r = ipc::supervisor_action(&SupervisorRequest {
                supervisor_id: s.worker.id,
                pin: s.pin,
                intent,
                tags: vec![tag],
            })
            .await;
            self.report(r);
            self.busy.set(false);
        });
    }

    fn decide(self, conflict_id: i64, reapply: bool, reload: RwSignal<u64>) {
        let Some(s) = self.session() else {
            return;
        };
        if self.busy.get_untracked() {
            return;
        }
        self.busy.set(true);
        self.said.set(None);
        leptos::task::spawn_local(async move {
            let d = ConflictDecision {
                conflict_id,
                supervisor_id: s.worker.id,
                pin: s.pin,
            };
            if reapply {
                let r = ipc::reapply_conflict(&d).await;
                self.report(r);
            } else {
                match ipc::discard_conflict(&d).await {
                    Ok(()) => self.said.set(Some(Said::Ok(format!(
                        "Conflicto {conflict_id} descartado: se mantiene el estado de la planta."
                    )))),
                    Err(e) => self.said.set(Some(Said::Failed(e))),
                }
                self.st.refresh_sync();
            }
            reload.update(|n| *n += 1);
            self.busy.set(false);
        });
    }
}

#[component]
pub fn Supervisor() -> impl IntoView {
    let st = expect_context::<AppState>();
    if st.supervisor.get_untracked().is_none() {
        st.go(Screen::SupervisorLogin);
    }
    let tab = RwSignal::new(Tab::Ocupados);
    let desk = Desk {
        st,
        said: RwSignal::new(None),
        busy: RwSignal::new(false),
        history: RwSignal::new(None),
    };
    // Any spool's history, by TAG typed + Enter or scanned (the tabs list only some spools).
    let search = RwSignal::new(String::new());
    let unknown = RwSignal::new(None::<String>);
    crate::scanner::on_scan(st, move |code| {
        search.set(String::new());
        find_history(desk.history, unknown, &code, None);
    });
    let on_enter = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Enter" {
            find_history(desk.history, unknown, &search.get_untracked(), None);
        }
    };

    let tabs = Tab::ALL
        .into_iter()
        .map(|t| {
            view! {
                <button
                    class="tab"
                    id=t.id()
                    class:active=move || tab.get() == t
                    on:click=move |_| {
                        desk.said.set(None);
                        tab.set(t);
                    }
                >
                    {t.label()}
                    {(t == Tab::Conflictos)
                        .then_some(move || {
                            st.sync
                                .get()
                                .filter(|s| s.conflicts > 0)
                                .map(|s| view! { <span class="tab-badge">{s.conflicts}</span> })
                        })}
                </button>
            }
        })
        .collect_view();

    view! {
        <section class="page desk" id="pantalla-supervisor">
            <div class="page-head">
                <h1>"ESCRITORIO DE SUPERVISOR"</h1>
                <span class="who-chip" id="supervisor-activo">
                    {move || st.supervisor.get().map(|s| format!("{} · {} {}", s.worker.token, s.worker.nombre, s.worker.apellido)).unwrap_or_default()}
                </span>
                <input
                    id="supervisor-buscar"
                    class="input"
                    type="search"
                    placeholder="TAG → historial"
                    prop:value=move || search.get()
                    on:input=move |ev| {
                        unknown.set(None);
                        search.set(event_target_value(&ev));
                    }
                    on:keydown=on_enter
                />
                // A plant device is reconfigured from here: the screen takes this supervisor.
                {move || {
                    (st.mode.get() == Some(AppMode::Planta))
                        .then(|| {
                            view! {
                                <button class="btn btn-ghost" id="supervisor-configurar" on:click=move |_| st.go(Screen::Configuracion)>
                                    "CONFIGURAR EQUIPO"
                                </button>
                            }
                        })
                }}
                <button class="btn btn-secondary" id="supervisor-salir" on:click=move |_| st.reset()>
                    "SALIR"
                </button>
            </div>
            {move || unknown.get().map(|m| view! { <p class="hint warn" id="aviso-supervisor-buscar" role="alert">{m}</p> })}
            <nav class="tabs">{tabs}</nav>
            {move || {
                desk.said
                    .get()
                    .map(|s| match s {
                        Said::Ok(m) => view! { <p class="said ok" id="supervisor-resultado">{m}</p> }.into_any(),
                        Said::Failed(e) => view! { <div id="supervisor-resultado"><ErrorBox error=e/></div> }.into_any(),
                    })
            }}
            <div class="desk-body">
                {move || match tab.get() {
                    Tab::Ocupados => view! { <Ocupados desk=desk/> }.into_any(),
                    Tab::Bloqueados => view! { <Bloqueados desk=desk/> }.into_any(),
                    Tab::Conflictos => view! { <Conflictos desk=desk/> }.into_any(),
                    Tab::Metricas => view! { <Metricas/> }.into_any(),
                    Tab::Produccion => view! { <ProduccionTab/> }.into_any(),
                    Tab::Sincronizacion => view! { <Sincronizacion/> }.into_any(),
                    Tab::Exportar => view! { <Exportar desk=desk/> }.into_any(),
                    Tab::Accesos => view! { <Accesos/> }.into_any(),
                }}
            </div>
            <HistoryOverlay history=desk.history/>
        </section>
    }
}

/// A row action that asks once more before it acts.
#[component]
fn Confirm(
    id: String,
    label: &'static str,
    question: String,
    on_yes: impl Fn() + Send + Sync + Clone + 'static,
    desk: Desk,
) -> impl IntoView {
    let asking = RwSignal::new(false);
    move || {
        if asking.get() {
            let yes = on_yes.clone();
            view! {
                <span class="confirm">
                    <span class="confirm-q">{question.clone()}</span>
                    <button
                        class="btn btn-danger"
                        id=format!("{id}-si")
                        disabled=move || desk.busy.get()
                        on:click=move |_| {
                            asking.set(false);
                            yes();
                        }
                    >
                        "CONFIRMAR"
                    </button>
                    <button class="btn btn-secondary" on:click=move |_| asking.set(false)>"NO"</button>
                </span>
            }
                .into_any()
        } else {
            view! {
                <button class="btn btn-warn" id=id.clone() on:click=move |_| asking.set(true)>
                    {label}
                </button>
            }
            .into_any()
        }
    }
}

#[component]
fn Ocupados(desk: Desk) -> impl IntoView {
    let st = desk.st;
    let list = live_occupied(st);
    view! {
        <div class="scroll" id="supervisor-ocupados">
            {move || match list.get() {
                Load::Loading => view! { <p class="hint">"Cargando…"</p> }.into_any(),
                Load::Failed(e) => view! { <ErrorBox error=e/> }.into_any(),
                Load::Ready(v) if v.is_empty() => view! { <p class="hint">"No hay spools ocupados."</p> }.into_any(),
                Load::Ready(v) => {
                    let long = v
                        .iter()
                        .filter(|s| s.ocupado_desde_epoch.is_some_and(|t| st.now.get_untracked() - t > text::LONG_OCCUPATION_SECS))
                        .count();
                    view! {
                        <p class="hint">
                            {format!(
                                "{} spools ocupados · {long} por más de {} h",
                                v.len(),
                                text::LONG_OCCUPATION_SECS / 3600,
                            )}
                        </p>
                        <table class="grid-table">
                            <thead>
                                <tr>
                                    <th>"Spool"</th>
                                    <th>"Trabajador"</th>
                                    <th>"Operación"</th>
                                    <th>"Desde"</th>
                                    <th>"Tiempo"</th>
                                    <th></th>
                                </tr>
                            </thead>
                            <tbody>
                                {v.into_iter().map(|s| occupied_row(desk, s)).collect_view()}
                            </tbody>
                        </table>
                    }
                        .into_any()
                }
            }}
        </div>
    }
}

fn occupied_row(desk: Desk, s: SpoolView) -> impl IntoView {
    let st = desk.st;
    let since = s.ocupado_desde_epoch;
    let tag = s.tag.clone();
    let tag_h = s.tag.clone();
    let who = s.ocupado_por.clone().unwrap_or_default();
    let op = s.operacion_ocupacion.clone().unwrap_or_default();
    let question = format!("¿Liberar? {who} deja de tenerlo.");
    view! {
        <tr
            data-tag=s.tag.clone()
            class:long=move || since.is_some_and(|t| st.now.get() - t > text::LONG_OCCUPATION_SECS)
        >
            <td>
                <button class="link" on:click=move |_| open_history(desk.history, tag_h.clone())>{s.tag.clone()}</button>
            </td>
            <td class="who">{who.clone()}</td>
            <td>{text::op_label(&op).to_string()}</td>
            <td class="muted">{s.fecha_ocupacion.clone().unwrap_or_default()}</td>
            <td class="dur">{move || since.map(|t| text::elapsed(st.now.get() - t)).unwrap_or_default()}</td>
            <td class="actions">
                <Confirm
                    id=format!("liberar-{}", s.tag)
                    label="FORZAR LIBERACIÓN"
                    question=question
                    desk=desk
                    on_yes=move || desk.act(Intent::ForzarLiberacion, tag.clone())
                />
            </td>
        </tr>
    }
}

#[component]
fn Bloqueados(desk: Desk) -> impl IntoView {
    let st = desk.st;
    let list = RwSignal::new(Load::<SpoolList>::Loading);
    Effect::new(move |_| {
        st.replica_rev.track();
        let Some(s) = st.supervisor.get_untracked() else {
            return;
        };
        leptos::task::spawn_local(async move {
            let q = SpoolQuery {
                for_action: Some(ForAction {
                    worker_id: s.worker.id,
                    intent: Intent::Override,
                }),
                limit: Some(1_000),
                ..SpoolQuery::default()
            };
            list.set(Load::from(ipc::list_spools(&q).await));
        });
    });
    view! {
        <div class="scroll" id="supervisor-bloqueados">
            <p class="hint">
                "Spools BLOQUEADOS tras 3 rechazos de metrología. OVERRIDE los devuelve a reparación una vez más: otro rechazo los vuelve a bloquear; una aprobación reinicia el ciclo."
            </p>
            {move || match list.get() {
                Load::Loading => view! { <p class="hint">"Cargando…"</p> }.into_any(),
                Load::Failed(e) => view! { <ErrorBox error=e/> }.into_any(),
                Load::Ready(l) if l.spools.is_empty() => view! { <p class="hint" id="sin-bloqueados">"No hay spools bloqueados."</p> }.into_any(),
                Load::Ready(l) => view! {
                    <table class="grid-table">
                        <thead>
                            <tr>
                                <th>"Spool"</th>
                                <th>"NV"</th>
                                <th>"Estado"</th>
                                <th></th>
                            </tr>
                        </thead>
                        <tbody>
                            {l
                                .spools
                                .into_iter()
                                .map(|s| {
                                    let tag = s.tag.clone();
                                    let tag_h = s.tag.clone();
                                    view! {
                                        <tr data-tag=s.tag.clone()>
                                            <td>
                                                <button class="link" on:click=move |_| open_history(desk.history, tag_h.clone())>{s.tag.clone()}</button>
                                            </td>
                                            <td>{s.nv.clone()}</td>
                                            <td class="estado">
                                                <span class="chip chip-bad">"BLOQUEADO"</span>
                                                {format!(" {}", s.estado_detalle)}
                                            </td>
                                            <td class="actions">
                                                <Confirm
                                                    id=format!("override-{}", s.tag)
                                                    label="OVERRIDE"
                                                    question="¿Devolver a reparación?".to_string()
                                                    desk=desk
                                                    on_yes=move || desk.act(Intent::Override, tag.clone())
                                                />
                                            </td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                }
                    .into_any(),
            }}
        </div>
    }
}

#[component]
fn Conflictos(desk: Desk) -> impl IntoView {
    let st = desk.st;
    let all = RwSignal::new(false);
    let reload = RwSignal::new(0u64);
    let list = RwSignal::new(Load::<Vec<ConflictView>>::Loading);
    Effect::new(move |_| {
        st.replica_rev.track();
        st.sync.track();
        reload.track();
        let include = all.get();
        leptos::task::spawn_local(async move {
            list.set(Load::from(ipc::list_conflicts(include).await));
        });
    });
    view! {
        <div class="scroll" id="supervisor-conflictos">
            <div class="filters">
                <p class="hint">
                    "Comandos que la planta rechazó porque otro equipo registró primero. DESCARTAR deja el estado de la planta; RE-APLICAR vuelve a intentar la acción sobre el estado actual (queda auditado)."
                </p>
                <button class="btn btn-secondary" id="conflictos-todos" on:click=move |_| all.update(|a| *a = !*a)>
                    {move || if all.get() { "SOLO ABIERTOS" } else { "VER RESUELTOS" }}
                </button>
            </div>
            {move || match list.get() {
                Load::Loading => view! { <p class="hint">"Cargando…"</p> }.into_any(),
                Load::Failed(e) => view! { <ErrorBox error=e/> }.into_any(),
                Load::Ready(v) if v.is_empty() => view! { <p class="hint" id="sin-conflictos">"No hay conflictos abiertos en este equipo."</p> }.into_any(),
                Load::Ready(v) => v
                    .into_iter()
                    .map(|c| {
                        let id = c.id;
                        let open = c.resolved_at.is_none();
                        let tag_h = c.tag.clone();
                        view! {
                            <div class="conflict-card" class:resolved=!open data-tag=c.tag.clone() data-conflict=id.to_string()>
                                <div class="conflict-main">
                                    <button class="link big" on:click=move |_| open_history(desk.history, tag_h.clone())>{c.tag.clone()}</button>
                                    <span class="chip chip-bad">{c.code.clone()}</span>
                                    <span class="muted">{c.created_at.clone()}</span>
                                </div>
                                <p class="conflict-msg">{c.message.clone()}</p>
                                <p class="conflict-meta">
                                    {format!(
                                        "{} {} {} · ganó: {}{}",
                                        c.worker,
                                        c.accion,
                                        text::op_label(&c.operacion),
                                        c.winner.clone().unwrap_or_else(|| "—".into()),
                                        if c.held > 0 { format!(" · {} acciones retenidas", c.held) } else { String::new() },
                                    )}
                                </p>
                                {if open {
                                    view! {
                                        <div class="conflict-actions">
                                            <button class="btn btn-secondary" id=format!("descartar-{id}") disabled=move || desk.busy.get() on:click=move |_| desk.decide(id, false, reload)>
                                                "DESCARTAR"
                                            </button>
                                            <button class="btn btn-primary" id=format!("reaplicar-{id}") disabled=move || desk.busy.get() on:click=move |_| desk.decide(id, true, reload)>
                                                "RE-APLICAR"
                                            </button>
                                        </div>
                                    }
                                        .into_any()
                                } else {
                                    view! {
                                        <p class="muted">{format!("Resuelto {} · {}", c.resolved_at.clone().unwrap_or_default(), c.resolution.clone().unwrap_or_default())}</p>
                                    }
                                        .into_any()
                                }}
                            </div>
                        }
                    })
                    .collect_view()
                    .into_any(),
            }}
        </div>
    }
}

#[component]
fn PeriodPicker(desde: RwSignal<String>, hasta: RwSignal<String>) -> impl IntoView {
    view! {
        <label class="field">
            <span>"Desde"</span>
            <input class="input input-date" id="periodo-desde" placeholder="DD-MM-AAAA" prop:value=move || desde.get() on:change=move |ev| desde.set(event_target_value(&ev))/>
        </label>
        <label class="field">
            <span>"Hasta"</span>
            <input class="input input-date" id="periodo-hasta" placeholder="DD-MM-AAAA" prop:value=move || hasta.get() on:change=move |ev| hasta.set(event_target_value(&ev))/>
        </label>
    }
}

/// One chart of the PRODUCCIÓN tab: the SVG, and its numbers behind a tap.
fn chart_figure(
    id: &'static str,
    svg: String,
    head: Vec<String>,
    rows: Vec<Vec<String>>,
) -> AnyView {
    view! {
        <figure class="chart" id=id>
            <div class="chart-svg" inner_html=svg></div>
            <details class="chart-numeros">
                <summary>"VER NÚMEROS"</summary>
                <table class="grid-table">
                    <thead>
                        <tr>{head.into_iter().map(|h| view! { <th>{h}</th> }).collect_view()}</tr>
                    </thead>
                    <tbody>
                        {rows
                            .into_iter()
                            .map(|r| view! { <tr>{r.into_iter().map(|c| view! { <td>{c}</td> }).collect_view()}</tr> })
                            .collect_view()}
                    </tbody>
                </table>
            </details>
        </figure>
    }
    .into_any()
}

/// Rows of a table: one per x label, one column per series.
fn by_label(labels: &[String], series: &[(String, Vec<String>)]) -> Vec<Vec<String>> {
    labels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            std::iter::once(l.clone())
                .chain(
                    series
                        .iter()
                        .map(|(_, v)| v.get(i).cloned().unwrap_or_default()),
                )
                .collect()
        })
        .collect()
}

/// PRODUCCIÓN: the shift as charts, from the audit log (the same figures as the CSV export's
/// `PRODUCCION` rows). `data-ms` says how long the figures and the charts took to make.
#[component]
fn ProduccionTab() -> impl IntoView {
    use crate::charts;
    let list = RwSignal::new(Load::<zeues_sync::domain::produccion::Produccion>::Loading);
    let started = js_sys::Date::now();
    leptos::task::spawn_local(async move {
        list.set(Load::from(ipc::produccion().await));
    });
    view! {
        <div class="scroll" id="supervisor-produccion">
            {move || match list.get() {
                Load::Loading => view! { <p class="hint">"Calculando…"</p> }.into_any(),
                Load::Failed(e) => view! { <ErrorBox error=e/> }.into_any(),
                Load::Ready(p) => {
                    let count = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>();
                    let minutes = |v: &[Option<f64>]| {
                        v.iter().map(|m| m.map_or("—".to_string(), |m| format!("{m:.0}"))).collect::<Vec<_>>()
                    };
                    let ops = |s: &[zeues_sync::domain::produccion::Serie]| {
                        s.iter().map(|s| (s.operacion.clone(), count(&s.valores))).collect::<Vec<_>>()
                    };
                    let heads = |first: &str, s: &[(String, Vec<String>)]| {
                        std::iter::once(first.to_string())
                            .chain(s.iter().map(|(n, _)| charts::label(n).to_string()))
                            .collect::<Vec<_>>()
                    };
                    let done = ops(&p.completados);
                    let wip = ops(&p.en_curso);
                    let times: Vec<(String, Vec<String>)> = p
                        .tiempos
                        .iter()
                        .flat_map(|t| {
                            [
                                (format!("{} mediana", t.operacion), minutes(&t.mediana_min)),
                                (format!("{} p90", t.operacion), minutes(&t.p90_min)),
                                (format!("{} n", t.operacion), count(&t.n)),
                            ]
                        })
                        .collect();
                    let rejections: Vec<(String, Vec<String>)> = vec![
                        ("Inspecciones".into(), p.rechazo.iter().map(|r| r.inspecciones.to_string()).collect()),
                        ("ARM %".into(), p.rechazo.iter().map(|r| format!("{:.1}", r.tasa(r.rechazos_arm))).collect()),
                        ("SOLD %".into(), p.rechazo.iter().map(|r| format!("{:.1}", r.tasa(r.rechazos_sold))).collect()),
                    ];
                    let figures = [
                        chart_figure("grafico-completados", charts::completados(&p), heads("Día", &done), by_label(&p.dias, &done)),
                        chart_figure("grafico-en-curso", charts::en_curso(&p), heads("Hora", &wip), by_label(&p.horas, &wip)),
                        chart_figure("grafico-tiempos", charts::tiempos(&p), heads("Semana", &times), by_label(&p.semanas, &times)),
                        chart_figure("grafico-rechazo", charts::rechazo(&p), heads("Semana", &rejections), by_label(&p.semanas, &rejections)),
                    ];
                    let ms = (js_sys::Date::now() - started).round();
                    view! {
                        <p class="hint" id="produccion-fuente" data-ms=ms.to_string()>
                            {format!(
                                "Calculado de {} filas del registro de auditoría que tiene este equipo (las que la planta ya recibió). Las mismas cifras van en el CSV de EXPORTAR.",
                                p.eventos
                            )}
                        </p>
                        <div class="charts">{figures.into_iter().collect_view()}</div>
                    }
                        .into_any()
                }
            }}
        </div>
    }
}

#[component]
fn Metricas() -> impl IntoView {
    let st = expect_context::<AppState>();
    let desde = RwSignal::new(date_ago(30));
    let hasta = RwSignal::new(date_ago(0));
    let data = RwSignal::new(Load::<ConflictMetrics>::Loading);
    Effect::new(move |_| {
        st.replica_rev.track();
        let p = Periodo {
            desde: desde.get(),
            hasta: hasta.get(),
        };
        leptos::task::spawn_local(async move {
            data.set(Load::from(ipc::conflict_metrics(&p).await));
        });
    });
    let table =
        |id: &'static str, what: &'static str, rows: Vec<zeues_sync::api::ConflictCount>| {
            view! {
                <div class="metric-col">
                    <h3>{format!("Por {}", what.to_lowercase())}</h3>
                    {if rows.is_empty() {
                        view! { <p class="hint">"Sin conflictos en el período."</p> }.into_any()
                    } else {
                        view! {
                            <table class="grid-table" id=id>
                                <thead>
                                    <tr>
                                        <th>{what}</th>
                                        <th class="num">"Conflictos"</th>
                                        <th>"Último"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {rows
                                        .into_iter()
                                        .take(25)
                                        .map(|c| {
                                            let hot = c.conflicts > HOT_SPOT_THRESHOLD;
                                            view! {
                                                <tr class:hot=hot data-key=c.key.clone()>
                                                    <td>{c.key.clone()}</td>
                                                    <td class="num">{c.conflicts}</td>
                                                    <td class="muted">{c.last.clone()}</td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        }
                            .into_any()
                    }}
                </div>
            }
        };
    view! {
        <div class="scroll" id="supervisor-metricas">
            <div class="filters">
                <PeriodPicker desde=desde hasta=hasta/>
            </div>
            {move || match data.get() {
                Load::Loading => view! { <p class="hint">"Calculando…"</p> }.into_any(),
                Load::Failed(e) => view! { <ErrorBox error=e/> }.into_any(),
                Load::Ready(m) => view! {
                    <div class="stats">
                        <div class="stat" id="metricas-total">
                            <span class="stat-n">{m.total}</span>
                            <span class="stat-l">{format!("conflictos del {} al {}", m.desde, m.hasta)}</span>
                        </div>
                        <div class=if m.hot_spots.is_empty() { "stat" } else { "stat stat-bad" } id="metricas-hot">
                            <span class="stat-n">{m.hot_spots.len()}</span>
                            <span class="stat-l">{format!("puntos calientes (más de {HOT_SPOT_THRESHOLD} por spool)")}</span>
                        </div>
                    </div>
                    {(!m.hot_spots.is_empty())
                        .then(|| {
                            view! {
                                <p class="hint warn">
                                    {format!(
                                        "Revise estos spools: {}",
                                        m.hot_spots.iter().map(|h| format!("{} ({})", h.key, h.conflicts)).collect::<Vec<_>>().join(", "),
                                    )}
                                </p>
                            }
                        })}
                    <div class="metric-cols">
                        {table("metricas-spool", "Spool", m.por_spool)}
                        {table("metricas-trabajador", "Trabajador", m.por_trabajador)}
                    </div>
                }
                    .into_any(),
            }}
        </div>
    }
}

fn health_card(
    id: &'static str,
    title: &'static str,
    ok: Option<bool>,
    detail: String,
) -> impl IntoView {
    let (tone, word) = match ok {
        Some(true) => ("ok", "ALCANZABLE"),
        Some(false) => ("bad", "SIN CONEXIÓN"),
        None => ("na", "NO APLICA"),
    };
    view! {
        <div class=format!("health-card {tone}") id=id>
            <span class="health-title">{title}</span>
            <span class="health-word">{word}</span>
            <span class="health-detail">{detail}</span>
        </div>
    }
}

#[component]
fn Sincronizacion() -> impl IntoView {
    let st = expect_context::<AppState>();
    let data = RwSignal::new(Load::<SyncHealth>::Loading);
    let reload = RwSignal::new(0u64);
    Effect::new(move |_| {
        st.sync.track();
        reload.track();
        leptos::task::spawn_local(async move {
            data.set(Load::from(ipc::sync_health().await));
        });
    });
    view! {
        <div class="scroll" id="supervisor-sincronizacion">
            {move || match data.get() {
                Load::Loading => view! { <p class="hint">"Consultando…"</p> }.into_any(),
                Load::Failed(e) => view! { <ErrorBox error=e/> }.into_any(),
                Load::Ready(h) => {
                    let standalone = h.sheets_ok.is_none();
                    let pending_class = if h.status.pending > 0 { "health-card warn" } else { "health-card ok" };
                    view! {
                        <div class="health-grid">
                            {health_card("salud-sheets", "GOOGLE SHEETS", h.sheets_ok, h.workbook.clone())}
                            {health_card("salud-redis", "REDIS", h.redis_ok, h.coordinator.clone())}
                            <div class="health-card na" id="salud-cuota">
                                <span class="health-title">"CUOTA DE SHEETS"</span>
                                <span class="health-word">{if standalone { "NO APLICA" } else { "COMPARTIDA" }}</span>
                                <span class="health-detail">
                                    {h.quota.clone().unwrap_or_else(|| "50 lecturas y 50 escrituras por minuto para todos los equipos; el uso en curso no está disponible en este equipo".into())}
                                </span>
                            </div>
                            <div class=pending_class id="salud-pendientes">
                                <span class="health-title">"ESTE EQUIPO"</span>
                                <span class="health-word">{format!("{} pendientes", h.status.pending)}</span>
                                <span class="health-detail">
                                    {match &h.oldest_pending {
                                        Some(t) => format!("El más antiguo: {t}"),
                                        None => "Nada esperando".to_string(),
                                    }}
                                    {h.status.last_sync.as_ref().map(|l| format!(" · última sincronización {l}"))}
                                </span>
                            </div>
                        </div>
                        {h.status.last_error.clone().map(|e| view! { <p class="hint warn">{format!("Último error: {e}")}</p> })}
                        <h3>"Equipos en línea"</h3>
                        {if standalone {
                            view! { <p class="hint" id="sin-equipos">"Modo de demostración: este es el único equipo."</p> }.into_any()
                        } else if let Some(e) = h.devices_error.clone() {
                            view! { <p class="hint warn">{format!("No se pudo leer la presencia: {e}")}</p> }.into_any()
                        } else if h.devices.is_empty() {
                            view! { <p class="hint" id="sin-equipos">"Sin Redis no se ve la presencia de otros equipos."</p> }.into_any()
                        } else {
                            view! {
                                <table class="grid-table" id="equipos">
                                    <thead>
                                        <tr>
                                            <th>"Equipo"</th>
                                            <th>"Trabajador"</th>
                                            <th>"En línea desde"</th>
                                            <th>"Último latido"</th>
                                            <th>"Pendientes"</th>
                                            <th>"Más antiguo"</th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {h.devices
                                            .into_iter()
                                            .map(|d| {
                                                let name = d.name.clone().unwrap_or_else(|| d.device_id.chars().take(8).collect());
                                                view! {
                                                    <tr data-device=d.device_id.clone()>
                                                        <td>
                                                            {name}
                                                            {d.this_device.then(|| view! { <span class="chip">"este equipo"</span> })}
                                                            {d.leader.then(|| view! { <span class="chip chip-accent">"líder"</span> })}
                                                        </td>
                                                        <td>{d.worker.clone().unwrap_or_default()}</td>
                                                        <td class="muted">{d.online_since.clone()}</td>
                                                        <td class="muted">{d.last_seen.clone()}</td>
                                                        <td class="num">{d.pending}</td>
                                                        <td class="muted">{d.oldest_pending.clone().unwrap_or_default()}</td>
                                                    </tr>
                                                }
                                            })
                                            .collect_view()}
                                    </tbody>
                                </table>
                            }
                                .into_any()
                        }}
                        <button class="btn btn-secondary" id="salud-actualizar" on:click=move |_| reload.update(|n| *n += 1)>
                            "ACTUALIZAR"
                        </button>
                    }
                        .into_any()
                }
            }}
        </div>
    }
}

#[component]
fn Exportar(desk: Desk) -> impl IntoView {
    let st = desk.st;
    let desde = RwSignal::new(date_ago(30));
    let hasta = RwSignal::new(date_ago(0));
    let carpeta = RwSignal::new(String::new());
    let result = RwSignal::new(None::<Result<ExportResult, ApiError>>);
    leptos::task::spawn_local(async move {
        match ipc::default_export_dir().await {
            Ok(d) => carpeta.set(d),
            Err(e) => web_sys::console::warn_1(&format!("default_export_dir: {e}").into()),
        }
    });
    let run = move || {
        let Some(s) = st.supervisor.get_untracked() else {
            return;
        };
        if desk.busy.get_untracked() {
            return;
        }
        desk.busy.set(true);
        result.set(None);
        let req = ExportRequest {
            supervisor_id: s.worker.id,
            pin: s.pin,
            periodo: Periodo {
                desde: desde.get_untracked(),
                hasta: hasta.get_untracked(),
            },
            carpeta: Some(carpeta.get_untracked()),
        };
        leptos::task::spawn_local(async move {
            result.set(Some(ipc::export_csv(&req).await));
            desk.busy.set(false);
        });
    };
    view! {
        <div class="scroll" id="supervisor-exportar">
            <p class="hint">
                "Registro de auditoría y sesiones de ocupación (con duración) del período, en un CSV que abre en Excel, LibreOffice o Google Sheets: el mismo formato que «zeues export». Incluye lo que la planilla ya tiene; lo pendiente de sincronizar no."
            </p>
            <div class="filters">
                <PeriodPicker desde=desde hasta=hasta/>
            </div>
            <label class="field wide">
                <span>"Carpeta"</span>
                <input class="input" id="exportar-carpeta" prop:value=move || carpeta.get() on:input=move |ev| carpeta.set(event_target_value(&ev))/>
            </label>
            <button class="btn btn-primary" id="exportar" disabled=move || desk.busy.get() on:click=move |_| run()>
                "EXPORTAR CSV"
            </button>
            {move || {
                result
                    .get()
                    .map(|r| match r {
                        Ok(x) => view! {
                            <div class="said ok" id="exportar-resultado">
                                <strong>{format!("Exportado: {} registros de auditoría y {} sesiones de ocupación", x.audit_rows, x.sessions)}</strong>
                                <ul><li class="path">{x.archivo}</li></ul>
                            </div>
                        }
                            .into_any(),
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    })
            }}
        </div>
    }
}

#[component]
fn Accesos() -> impl IntoView {
    let list = RwSignal::new(Load::<Vec<PinAttempt>>::Loading);
    leptos::task::spawn_local(async move {
        list.set(Load::from(ipc::pin_attempts(30).await));
    });
    view! {
        <div class="scroll" id="supervisor-accesos">
            <p class="hint">
                "Cada vez que se pidió el PIN de supervisor en este equipo (30 días): para entrar al escritorio o para una acción (OVERRIDE, FORZAR LIBERACIÓN, exportar, conflictos, configuración). Tras 5 PIN incorrectos seguidos el PIN se bloquea 5 minutos."
            </p>
            {move || match list.get() {
                Load::Loading => view! { <p class="hint">"Cargando…"</p> }.into_any(),
                Load::Failed(e) => view! { <ErrorBox error=e/> }.into_any(),
                Load::Ready(v) => view! {
                    <table class="grid-table" id="accesos">
                        <thead>
                            <tr>
                                <th>"Fecha"</th>
                                <th>"Supervisor"</th>
                                <th>"Acción"</th>
                                <th>"Resultado"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {v
                                .into_iter()
                                .map(|a| {
                                    let (class, word) = if a.ok {
                                        ("chip chip-ok", "PIN correcto")
                                    } else if a.bloqueado {
                                        ("chip chip-bad", "Rechazado: PIN bloqueado")
                                    } else {
                                        ("chip chip-warn", "PIN incorrecto")
                                    };
                                    let accion = a.accion.clone().unwrap_or_else(|| "—".into());
                                    let accion_attr = accion.clone();
                                    view! {
                                        <tr class:fallido=!a.ok data-accion=accion_attr>
                                            <td>{a.at.clone()}</td>
                                            <td>{a.worker.clone().unwrap_or_else(|| "—".into())}</td>
                                            <td class="accion">{accion}</td>
                                            <td><span class=class>{word}</span></td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                }
                    .into_any(),
            }}
        </div>
    }
}
