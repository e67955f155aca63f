//! The bridge between the engine's failpoints and the run on this thread. The product keeps one
//! process-wide handler; each simulator thread (one seed at a time) registers what its devices
//! do at a failpoint, so parallel jobs never crash each other's devices. Also silences the panic
//! message of a simulated crash (the task ends with a `failpoint::Crash` payload by design).

use std::cell::RefCell;
use std::sync::{Arc, Once};

use zeues_sync::engine::failpoint::{set_handler, Crash};

type Hook = Arc<dyn Fn(&str, &str) -> bool>;

thread_local! {
    static CURRENT: RefCell<Option<Hook>> = const { RefCell::new(None) };
}

static INSTALL: Once = Once::new();

fn install_global() {
    INSTALL.call_once(|| {
        set_handler(Some(Arc::new(|device: &str, name: &str| {
            let hook = CURRENT.with(|c| c.borrow().clone());
            hook.is_some_and(|h| h(device, name))
        })));
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<Crash>().is_none() {
                previous(info);
            }
        }));
    });
}

/// While this lives, failpoints reached on this thread ask `hook` whether that device dies.
pub struct Scope(());

impl Scope {
    pub fn new(hook: Hook) -> Scope {
        install_global();
        CURRENT.with(|c| *c.borrow_mut() = Some(hook));
        Scope(())
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        CURRENT.with(|c| *c.borrow_mut() = None);
    }
}
