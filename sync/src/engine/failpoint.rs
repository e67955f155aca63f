//! Named crash points on the push path, for the exactly-once tests: a test build started with
//! `ZEUES_FAILPOINTS=push.after_write` dies (like `kill -9`: no cleanup, no flush) the first time
//! it reaches that step. The deterministic simulator, which runs every device in one process,
//! installs a handler instead ([`set_handler`]): it decides per device and crashes only that
//! device. Compiled in only with the `failpoints` feature; release builds of the app never
//! contain them.

/// Decides, at failpoint `name` on device `device`, whether that device dies there. A handler
/// that returns `true` must already have stopped the device's other tasks: the caller then
/// panics, ending the task that reached the failpoint.
#[cfg(feature = "failpoints")]
pub type Handler = std::sync::Arc<dyn Fn(&str, &str) -> bool + Send + Sync>;

#[cfg(feature = "failpoints")]
fn handler_slot() -> &'static std::sync::RwLock<Option<Handler>> {
    static SLOT: std::sync::OnceLock<std::sync::RwLock<Option<Handler>>> =
        std::sync::OnceLock::new();
    SLOT.get_or_init(|| std::sync::RwLock::new(None))
}

/// Installs (or removes) the in-process handler; without one, `ZEUES_FAILPOINTS` decides.
#[cfg(feature = "failpoints")]
pub fn set_handler(handler: Option<Handler>) {
    *handler_slot().write().unwrap_or_else(|p| p.into_inner()) = handler;
}

#[cfg(feature = "failpoints")]
pub fn hit_on(device: &str, name: &str) {
    use std::sync::OnceLock;
    let handler = handler_slot()
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if let Some(h) = handler {
        if h(device, name) {
            // The simulated crash of one device: this task ends here, like the process would.
            std::panic::panic_any(Crash(format!("failpoint {name} en {device}")));
        }
        return;
    }
    static ARMED: OnceLock<Vec<String>> = OnceLock::new();
    let armed = ARMED.get_or_init(|| {
        std::env::var("ZEUES_FAILPOINTS")
            .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default()
    });
    if armed.iter().any(|a| a == name) {
        eprintln!("failpoint {name}: el proceso muere aquí");
        std::process::abort();
    }
}

/// The panic payload of a simulated crash.
#[cfg(feature = "failpoints")]
#[derive(Debug)]
pub struct Crash(pub String);

#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit_on(_device: &str, _name: &str) {}
