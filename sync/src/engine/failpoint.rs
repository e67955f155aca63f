//! Named crash points on the push path, for the exactly-once tests: a test build started with
//! `ZEUES_FAILPOINTS=push.after_write` dies (like `kill -9`: no cleanup, no flush) the first time
//! it reaches that step. Compiled in only with the `failpoints` feature; release builds of the
//! app never contain them.

#[cfg(feature = "failpoints")]
pub fn hit(name: &str) {
    use std::sync::OnceLock;
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

#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) {}
