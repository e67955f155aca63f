//! First run: the embedded demo plant, or the plant's Google Sheets + Redis. The plant form
//! runs the same checks as `zeues doctor` (`Probar conexión`, green/red with the fix) and the
//! shell saves only when all are green; the device opens at once, no restart. A sheet without
//! the app's columns shows the migration's plan and `Migrar planilla` (the same migration as
//! `zeues migrate`), which checks again when done.
//!
//! On a device already connected to the plant (reached from the supervisor desk, CONFIGURAR
//! EQUIPO) the screen also asks which supervisor authorizes the change and the PIN,
//! prefilled from the desk's session: the shell refuses "Guardar" and "Migrar planilla"
//! without them. The new PIN fields may then stay empty to keep the current PIN.

use leptos::prelude::*;
use zeues_sync::api::{
    ApiError, AppMode, DoctorReport, MigrationDone, MigrationPreview, PlantSettings, WorkerView,
};

use crate::components::ErrorBox;
use crate::ipc;
use crate::state::{AppState, Screen};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    None,
    Planta,
}

#[component]
fn Field(
    id: &'static str,
    label: &'static str,
    hint: &'static str,
    value: RwSignal<String>,
    #[prop(optional)] secret: bool,
) -> impl IntoView {
    view! {
        <label class="field wide">
            <span>{label}</span>
            <input
                class="input"
                id=id
                type=if secret { "password" } else { "text" }
                autocomplete="off"
                placeholder=hint
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            />
        </label>
    }
}

#[component]
pub fn Configuracion() -> impl IntoView {
    let st = expect_context::<AppState>();
    let choice = RwSignal::new(Choice::None);
    let planilla = RwSignal::new(String::new());
    let clave = RwSignal::new(String::new());
    let redis = RwSignal::new(String::new());
    let equipo = RwSignal::new(String::new());
    let pin = RwSignal::new(String::new());
    let pin2 = RwSignal::new(String::new());
    let report = RwSignal::new(None::<DoctorReport>);
    let error = RwSignal::new(None::<ApiError>);
    let busy = RwSignal::new(None::<&'static str>);
    let migracion = RwSignal::new(None::<MigrationPreview>);
    let migrada = RwSignal::new(None::<MigrationDone>);
    // Reconfiguring a plant device: who authorizes it (the desk's supervisor, if coming from it).
    let reconfig = st.mode.get_untracked() == Some(AppMode::Planta);
    let session = st.supervisor.get_untracked();
    let boss = RwSignal::new(session.as_ref().map(|s| s.worker.id));
    let boss_pin = RwSignal::new(session.map(|s| s.pin).unwrap_or_default());
    let supervisors = RwSignal::new(Vec::<WorkerView>::new());
    if reconfig {
        leptos::task::spawn_local(async move {
            match ipc::list_workers(None).await {
                Ok(all) => supervisors.set(
                    all.into_iter()
                        .filter(|w| w.roles.iter().any(|r| r == "Supervisor"))
                        .collect(),
                ),
                Err(e) => error.set(Some(e)),
            }
        });
    }
    let who = move || {
        boss.get_untracked()
            .map(|id| (id, boss_pin.get_untracked()))
    };

    let settings = move || PlantSettings {
        spreadsheet: planilla.get_untracked().trim().to_string(),
        key_file: clave.get_untracked().trim().to_string(),
        redis_url: Some(redis.get_untracked().trim().to_string()).filter(|r| !r.is_empty()),
        device_name: equipo.get_untracked().trim().to_string(),
        supervisor_pin: Some(pin.get_untracked()).filter(|p| !p.is_empty()),
    };
    let save = move |s: PlantSettings| {
        busy.set(Some("GUARDANDO…"));
        error.set(None);
        leptos::task::spawn_local(async move {
            let who = who();
            let who = who.as_ref().map(|(id, pin)| (*id, pin.as_str()));
            match ipc::guardar_configuracion(&s, who).await {
                Ok(mode) => {
                    st.mode.set(Some(mode));
                    st.replica_rev.update(|r| *r += 1);
                    st.refresh_sync();
                    st.reset();
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(None);
        });
    };
    // A red `app_columns` line (the sheet was never migrated): fetch the plan to show it.
    let show_report = move |r: DoctorReport, s: PlantSettings| {
        let unmigrated = r.checks.iter().any(|c| c.id == "app_columns" && !c.ok);
        report.set(Some(r));
        migracion.set(None);
        if unmigrated {
            leptos::task::spawn_local(async move {
                match ipc::vista_migracion(&s).await {
                    Ok(p) if !p.columns.is_empty() => migracion.set(Some(p)),
                    Ok(_) => {}
                    Err(e) => error.set(Some(e)),
                }
            });
        }
    };
    let test = move || {
        busy.set(Some("PROBANDO…"));
        error.set(None);
        report.set(None);
        migrada.set(None);
        let s = settings();
        leptos::task::spawn_local(async move {
            match ipc::probar_conexion(&s).await {
                Ok(r) => show_report(r, s),
                Err(e) => error.set(Some(e)),
            }
            busy.set(None);
        });
    };
    let migrate = move || {
        busy.set(Some("MIGRANDO…"));
        error.set(None);
        let s = settings();
        leptos::task::spawn_local(async move {
            let who = who();
            let who = who.as_ref().map(|(id, pin)| (*id, pin.as_str()));
            match ipc::migrar_planilla(&s, who).await {
                Ok(done) => {
                    show_report(done.report.clone(), s);
                    migrada.set(Some(done));
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(None);
        });
    };
    let save_plant = move || {
        if pin.get_untracked() != pin2.get_untracked() {
            error.set(Some(ApiError::new(
                "PIN_INVALIDO",
                "Los dos PIN no coinciden.",
            )));
            return;
        }
        save(settings());
    };
    let can_leave = move || !matches!(st.mode.get(), Some(AppMode::SinConfigurar) | None);

    view! {
        <section class="page" id="primer-inicio">
            <h1>"CONFIGURAR ESTE EQUIPO"</h1>
            <p class="hint">"Elija cómo trabajará este equipo. Se puede cambiar después: en la demo desde la pantalla de inicio; conectado a la planta, desde el escritorio de supervisor."</p>
            {reconfig
                .then(|| {
                    view! {
                        <div class="checks" id="cfg-autoriza">
                            <p class="hint warn">"Este equipo ya está conectado a la planta: un supervisor debe autorizar el cambio con su PIN."</p>
                            <div class="worker-grid two" id="cfg-supervisores">
                                {move || {
                                    supervisors
                                        .get()
                                        .into_iter()
                                        .map(|w| {
                                            let id = w.id;
                                            view! {
                                                <button
                                                    class="card worker-card"
                                                    class:selected=move || boss.get() == Some(id)
                                                    data-worker-id=id.to_string()
                                                    on:click=move |_| {
                                                        boss.set(Some(id));
                                                        error.set(None);
                                                    }
                                                >
                                                    <span class="token">{w.token.clone()}</span>
                                                    <span class="name">{format!("{} {}", w.nombre, w.apellido)}</span>
                                                </button>
                                            }
                                        })
                                        .collect_view()
                                }}
                            </div>
                            <Field id="cfg-supervisor-pin" label="PIN del supervisor que autoriza" hint="••••" value=boss_pin secret=true/>
                        </div>
                    }
                })}
            <div class="choice-grid">
                <button
                    class="card choice-card"
                    id="usar-demo"
                    disabled=move || busy.get().is_some()
                    on:click=move |_| save(PlantSettings::default())
                >
                    <span class="card-title">"PLANTA DE DEMOSTRACIÓN"</span>
                    <span class="card-sub">"Datos de ejemplo guardados solo en este equipo. Para conocer ZEUES y capacitar, sin red."</span>
                </button>
                <button
                    class="card choice-card"
                    class:selected=move || choice.get() == Choice::Planta
                    id="usar-planta"
                    on:click=move |_| choice.set(Choice::Planta)
                >
                    <span class="card-title">"CONECTAR A LA PLANTA"</span>
                    <span class="card-sub">"La planilla de Google Sheets de la planta y su Redis. Lo prepara el encargado de TI."</span>
                </button>
            </div>
            {move || error.get().map(|e| view! { <ErrorBox error=e/> })}
            {move || {
                (choice.get() == Choice::Planta)
                    .then(|| {
                        view! {
                            <div class="scroll config-form" id="form-planta">
                                <div class="form-cols">
                                    <div>
                                        <Field id="cfg-planilla" label="Planilla de Google Sheets" hint="https://docs.google.com/spreadsheets/d/… o su ID" value=planilla/>
                                        <Field id="cfg-clave" label="Archivo de clave de la cuenta de servicio" hint="/etc/zeues/cuenta-servicio.json" value=clave/>
                                        <Field id="cfg-redis" label="Redis (opcional)" hint="rediss://usuario:clave@redis.planta:6380/0" value=redis/>
                                    </div>
                                    <div>
                                        <Field id="cfg-equipo" label="Nombre del equipo" hint="Tablet ARM 1" value=equipo/>
                                        <Field
                                            id="cfg-pin"
                                            label=if reconfig { "Nuevo PIN de supervisor (vacío: se mantiene el actual)" } else { "PIN de supervisor (4 dígitos o más)" }
                                            hint="••••"
                                            value=pin
                                            secret=true
                                        />
                                        <Field id="cfg-pin2" label="Repita el PIN" hint="••••" value=pin2 secret=true/>
                                    </div>
                                </div>
                                <div class="form-actions">
                                    <button class="btn btn-secondary" id="cfg-probar" disabled=move || busy.get().is_some() on:click=move |_| test()>
                                        "PROBAR CONEXIÓN"
                                    </button>
                                    <button class="btn btn-primary" id="cfg-guardar" disabled=move || busy.get().is_some() on:click=move |_| save_plant()>
                                        "GUARDAR Y CONECTAR"
                                    </button>
                                    {move || busy.get().map(|b| view! { <span class="hint">{b}</span> })}
                                </div>
                                {move || {
                                    report
                                        .get()
                                        .map(|r| {
                                            let all_ok = r.ok();
                                            view! {
                                                <div class="checks" id="cfg-checks" data-ok=all_ok.to_string()>
                                                    <p class=if all_ok { "said ok" } else { "hint warn" }>
                                                        {if all_ok { "Todo en verde: puede guardar." } else { "Corrija las líneas en rojo y pruebe de nuevo." }}
                                                    </p>
                                                    {r
                                                        .checks
                                                        .into_iter()
                                                        .map(|c| {
                                                            view! {
                                                                <div class=if c.ok { "check-line ok" } else { "check-line bad" } data-check=c.id.clone()>
                                                                    <span class="check-mark">{if c.ok { "✓" } else { "✗" }}</span>
                                                                    <span class="check-label">{c.label.clone()}</span>
                                                                    <span class="check-detail">{c.detail.clone()}</span>
                                                                    {c.fix.clone().map(|f| view! { <span class="check-fix">{f}</span> })}
                                                                </div>
                                                            }
                                                        })
                                                        .collect_view()}
                                                </div>
                                            }
                                        })
                                }}
                                {move || {
                                    migrada
                                        .get()
                                        .filter(|d| !d.columns.is_empty())
                                        .map(|d| {
                                            view! {
                                                <p class="said ok" id="cfg-migrada">
                                                    {format!("Planilla migrada: se agregaron {}.", d.columns.join(", "))}
                                                    {d.backup.map(|b| view! { <span class="path">{format!(" Respaldo: {b}")}</span> })}
                                                </p>
                                            }
                                        })
                                }}
                                {move || {
                                    migracion
                                        .get()
                                        .map(|p| {
                                            view! {
                                                <div class="checks" id="cfg-migracion">
                                                    <p class="hint warn">"La planilla no tiene las columnas de ZEUES. Esto es lo que hará la migración:"</p>
                                                    <pre class="path">{p.preview}</pre>
                                                    <div class="form-actions">
                                                        <button class="btn btn-warn" id="cfg-migrar" disabled=move || busy.get().is_some() on:click=move |_| migrate()>
                                                            "MIGRAR PLANILLA"
                                                        </button>
                                                    </div>
                                                </div>
                                            }
                                        })
                                }}
                            </div>
                        }
                    })
            }}
            {move || {
                can_leave()
                    .then(|| {
                        view! {
                            <footer class="footer">
                                <button class="btn btn-secondary" id="volver" on:click=move |_| {
                                    // Back where the screen was opened from: the desk, or the start.
                                    st.go(if st.supervisor.get_untracked().is_some() { Screen::Supervisor } else { Screen::Operacion })
                                }>
                                    "VOLVER"
                                </button>
                            </footer>
                        }
                    })
            }}
        </section>
    }
}
