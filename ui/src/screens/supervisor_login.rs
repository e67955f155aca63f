//! The supervisor desk's door: a worker with the Supervisor role (tap, search or badge scan)
//! and the PIN set at installation (on-screen keypad or keyboard). Wrong PINs are counted and
//! locked out by the shell; this screen only shows what it answers.

use leptos::prelude::*;
use zeues_sync::api::{ApiError, WorkerView};

use crate::components::{ErrorBox, Footer, Load};
use crate::ipc;
use crate::state::{AppState, Screen, SupervisorSession};
use crate::text;

#[component]
pub fn SupervisorLogin() -> impl IntoView {
    let st = expect_context::<AppState>();
    let supervisors = RwSignal::new(Load::<Vec<WorkerView>>::Loading);
    let chosen = RwSignal::new(None::<WorkerView>);
    let pin = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    let busy = RwSignal::new(false);

    leptos::task::spawn_local(async move {
        supervisors.set(match ipc::list_workers(None).await {
            Ok(all) => Load::Ready(
                all.into_iter()
                    .filter(|w| w.roles.iter().any(|r| r == "Supervisor"))
                    .collect(),
            ),
            Err(e) => Load::Failed(e),
        });
    });
    crate::scanner::on_scan(st, move |code| {
        let Load::Ready(list) = supervisors.get_untracked() else {
            return;
        };
        match text::scanned_worker_id(&code).and_then(|id| list.iter().find(|w| w.id == id)) {
            Some(w) => {
                chosen.set(Some(w.clone()));
                pin.set(String::new());
                error.set(None);
            }
            None => error.set(Some(ApiError::new(
                "ROL_NO_AUTORIZADO",
                format!("La credencial «{code}» no es de un supervisor."),
            ))),
        }
    });

    let enter = move || {
        let Some(w) = chosen.get_untracked() else {
            return;
        };
        if busy.get_untracked() || pin.get_untracked().is_empty() {
            return;
        }
        busy.set(true);
        error.set(None);
        let typed = pin.get_untracked();
        leptos::task::spawn_local(async move {
            match ipc::supervisor_login(w.id, &typed).await {
                Ok(worker) => {
                    st.supervisor
                        .set(Some(SupervisorSession { worker, pin: typed }));
                    st.go(Screen::Supervisor);
                }
                Err(e) => {
                    pin.set(String::new());
                    error.set(Some(e));
                }
            }
            busy.set(false);
        });
    };
    let press = move |d: &'static str| {
        error.set(None);
        pin.update(|p| {
            if p.len() < 12 {
                p.push_str(d);
            }
        });
    };
    let keypad = ["1", "2", "3", "4", "5", "6", "7", "8", "9"]
        .into_iter()
        .map(|d| {
            view! {
                <button class="key" id=format!("pin-{d}") on:click=move |_| press(d)>{d}</button>
            }
        })
        .collect_view();

    view! {
        <section class="page" id="pantalla-supervisor-login">
            <h1>"ESCRITORIO DE SUPERVISOR"</h1>
            <div class="login-grid">
                <div class="login-who">
                    <h2>"¿Quién eres?"</h2>
                    <p class="hint">"Toque su nombre o escanee su credencial."</p>
                    {move || match supervisors.get() {
                        Load::Loading => view! { <p class="hint">"Cargando…"</p> }.into_any(),
                        Load::Failed(e) => view! { <ErrorBox error=e/> }.into_any(),
                        Load::Ready(list) if list.is_empty() => view! {
                            <p class="hint warn">"No hay trabajadores con el rol Supervisor en la planilla."</p>
                        }
                            .into_any(),
                        Load::Ready(list) => view! {
                            <div class="worker-grid two" id="supervisor-list">
                                {list
                                    .into_iter()
                                    .map(|w| {
                                        let id = w.id;
                                        let pick = w.clone();
                                        view! {
                                            <button
                                                class="card worker-card"
                                                class:selected=move || chosen.with(|c| c.as_ref().is_some_and(|c| c.id == id))
                                                data-worker-id=id.to_string()
                                                on:click=move |_| {
                                                    chosen.set(Some(pick.clone()));
                                                    pin.set(String::new());
                                                    error.set(None);
                                                }
                                            >
                                                <span class="token">{w.token.clone()}</span>
                                                <span class="name">{format!("{} {}", w.nombre, w.apellido)}</span>
                                            </button>
                                        }
                                    })
                                    .collect_view()}
                            </div>
                        }
                            .into_any(),
                    }}
                    // Here, not under the keypad: at 1280×800 the keypad fills its column and a
                    // wrong PIN's (or the lockout's) box would be cut (issue 15).
                    {move || error.get().map(|e| view! { <div id="pin-error"><ErrorBox error=e/></div> })}
                </div>
                <div class="login-pin" class:disabled=move || chosen.with(Option::is_none)>
                    <h2>{move || chosen.get().map_or_else(|| "PIN".to_string(), |w| format!("PIN de {}", w.token))}</h2>
                    <input
                        id="pin-input"
                        class="input pin-input"
                        type="password"
                        inputmode="numeric"
                        autocomplete="off"
                        placeholder="••••"
                        disabled=move || chosen.with(Option::is_none)
                        prop:value=move || pin.get()
                        on:input=move |ev| {
                            error.set(None);
                            pin.set(event_target_value(&ev).chars().filter(char::is_ascii_digit).take(12).collect());
                        }
                        on:keydown=move |ev| {
                            if ev.key() == "Enter" {
                                enter();
                            }
                        }
                    />
                    <div class="keypad">
                        {keypad}
                        <button class="key key-muted" id="pin-borrar" on:click=move |_| pin.update(|p| { p.pop(); })>"⌫"</button>
                        <button class="key" id="pin-0" on:click=move |_| press("0")>"0"</button>
                        <button
                            class="key key-go"
                            id="pin-entrar"
                            disabled=move || busy.get() || chosen.with(Option::is_none) || pin.with(String::is_empty)
                            on:click=move |_| enter()
                        >
                            "ENTRAR"
                        </button>
                    </div>
                </div>
            </div>
            <Footer back=Screen::Operacion>
                <span></span>
            </Footer>
        </section>
    }
}
