//! Keyboard-wedge barcode readers type a code as a fast burst of keys and press Enter. This
//! module tells such a burst from a person typing (people leave ≥ 80 ms between keys; readers
//! 5–30 ms) and hands each scan to the current screen through `AppState::scan`. A scan's Enter
//! is swallowed so no focused field or button acts on it twice; the characters it left in a
//! focused field are cleared by the screen that uses the scan. On a screen with nothing to scan
//! the root says why it was ignored (`state::explain_ignored_scans`).

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::state::{AppState, Scan};

/// The widest gap between two keys of one scan (readers are steady; the margin covers a busy
/// page delivering queued keys late).
pub const MAX_GAP_MS: f64 = 60.0;
/// The shortest code worth treating as a scan.
pub const MIN_LEN: usize = 2;

/// Follows keys; answers the scanned code when a fast burst ends in Enter.
#[derive(Debug, Default, Clone)]
pub struct Detector {
    chars: String,
    count: usize,
    last: f64,
}

impl Detector {
    /// `key` is `KeyboardEvent.key`; `at_ms` its time; `chord` whether Ctrl/Alt/Meta was held.
    pub fn key(&mut self, key: &str, at_ms: f64, chord: bool) -> Option<String> {
        let gap = at_ms - self.last;
        if key == "Enter" {
            let scanned = (self.count >= MIN_LEN && gap <= MAX_GAP_MS * 2.0)
                .then(|| self.chars.trim().to_string())
                .filter(|c| !c.is_empty());
            self.reset();
            return scanned;
        }
        if key == "Shift" {
            // Readers send Shift for capitals: not a break in the burst.
            return None;
        }
        if chord || key.chars().count() != 1 {
            self.reset();
            return None;
        }
        if self.count > 0 && gap > MAX_GAP_MS {
            self.reset();
        }
        self.chars.push_str(key);
        self.count += 1;
        self.last = at_ms;
        None
    }

    fn reset(&mut self) {
        self.chars.clear();
        self.count = 0;
        self.last = f64::NEG_INFINITY;
    }
}

/// Listens on the window (capture phase, before any field or button sees the key).
pub fn install(st: AppState) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let detector = Rc::new(RefCell::new(Detector::default()));
    let handler =
        Closure::<dyn FnMut(web_sys::KeyboardEvent)>::new(move |ev: web_sys::KeyboardEvent| {
            let key = ev.key();
            if key == "Escape" {
                st.pending_open.set(false);
                st.escape.update(|n| *n += 1);
                return;
            }
            // A PIN typed into a password field is never a scan, however fast.
            let in_password = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
                .is_some_and(|i| i.type_() == "password");
            if in_password {
                return;
            }
            let chord = ev.ctrl_key() || ev.alt_key() || ev.meta_key();
            // The event's own time: when the key arrived, not when a busy page got to it.
            let scanned = detector.borrow_mut().key(&key, ev.time_stamp(), chord);
            if let Some(code) = scanned {
                ev.prevent_default();
                ev.stop_immediate_propagation();
                let seq = st.scan_mark() + 1;
                let screen = st.screen.get_untracked();
                st.scan.set(Some(Scan { seq, code, screen }));
            }
        });
    let opts = web_sys::AddEventListenerOptions::new();
    opts.set_capture(true);
    if let Err(e) = window.add_event_listener_with_callback_and_add_event_listener_options(
        "keydown",
        handler.as_ref().unchecked_ref(),
        &opts,
    ) {
        web_sys::console::warn_1(&e);
    }
    // The listener lives as long as the page.
    handler.forget();
}

/// Runs `on_scan` for every scan made while the calling screen is shown.
pub fn on_scan(st: AppState, on_scan: impl Fn(String) + 'static) {
    let mark = st.scan_mark();
    Effect::new(move |_| {
        if let Some(s) = st.scan.get() {
            if s.seq > mark {
                on_scan(s.code);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(d: &mut Detector, text: &str, start: f64, step: f64) -> Option<String> {
        let mut t = start;
        for c in text.chars() {
            assert_eq!(d.key(&c.to_string(), t, false), None);
            t += step;
        }
        d.key("Enter", t, false)
    }

    #[test]
    fn a_fast_burst_ending_in_enter_is_a_scan() {
        let mut d = Detector::default();
        assert_eq!(feed(&mut d, "MK-1335", 1000.0, 8.0), Some("MK-1335".into()));
        assert_eq!(feed(&mut d, "93", 5000.0, 20.0), Some("93".into()));
    }

    #[test]
    fn a_person_typing_is_not() {
        let mut d = Detector::default();
        assert_eq!(feed(&mut d, "MK-1335", 1000.0, 150.0), None);
        // Enter pressed long after a fast burst: a person confirming, not a reader.
        let mut d = Detector::default();
        for (i, c) in "93".chars().enumerate() {
            d.key(&c.to_string(), 100.0 + i as f64 * 5.0, false);
        }
        assert_eq!(d.key("Enter", 2000.0, false), None);
    }

    #[test]
    fn shift_is_part_of_a_burst_and_chords_break_it() {
        let mut d = Detector::default();
        d.key("Shift", 0.0, false);
        d.key("M", 1.0, false);
        d.key("Shift", 2.0, false);
        d.key("K", 3.0, false);
        assert_eq!(d.key("Enter", 6.0, false), Some("MK".into()));
        d.key("a", 10.0, false);
        d.key("c", 12.0, true);
        d.key("b", 14.0, false);
        assert_eq!(
            d.key("Enter", 16.0, false),
            None,
            "a single key is not a scan"
        );
    }
}
