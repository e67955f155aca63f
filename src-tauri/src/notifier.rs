//! Native desktop notifications (freedesktop `org.freedesktop.Notifications` over D-Bus via
//! notify-rust/zbus on Linux). The engine calls [`Notifier::notify`] from its sync loop, so a
//! notification is handed to one background thread and never blocks syncing, even when no
//! notification daemon answers (D-Bus activation can take 25 s to give up). A failure is
//! logged; the in-app banner shows the conflict anyway.

use std::sync::mpsc;
use std::sync::Mutex;

use zeues_sync::engine::Notifier;

/// The app name the notification daemon shows.
pub const APP_NAME: &str = "ZEUES";

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("no se pudo mostrar la notificación: {0}")]
    Daemon(String),
    #[error("el hilo de notificaciones terminó")]
    Closed,
}

struct Note {
    title: String,
    body: String,
}

pub struct DesktopNotifier {
    queue: Mutex<mpsc::Sender<Note>>,
}

impl Default for DesktopNotifier {
    fn default() -> Self {
        Self::new()
    }
}

impl DesktopNotifier {
    /// Starts the notification thread (it ends when the notifier is dropped).
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel::<Note>();
        let spawned = std::thread::Builder::new()
            .name("zeues-notify".into())
            .spawn(move || {
                for note in rx {
                    if let Err(e) = Self::send(&note.title, &note.body) {
                        tracing::warn!(error = %e, title = %note.title, "notificación nativa no mostrada");
                    }
                }
            });
        if let Err(e) = spawned {
            // Without the thread every notify() fails with Closed and is logged.
            tracing::error!(error = %e, "no se pudo iniciar el hilo de notificaciones");
        }
        DesktopNotifier {
            queue: Mutex::new(tx),
        }
    }

    /// Shows one notification now (blocking: one D-Bus call).
    pub fn send(title: &str, body: &str) -> Result<(), NotifyError> {
        let mut n = notify_rust::Notification::new();
        n.appname(APP_NAME)
            .summary(title)
            .body(body)
            .icon("dialog-warning")
            .timeout(notify_rust::Timeout::Milliseconds(15_000));
        #[cfg(all(unix, not(target_os = "macos")))]
        n.urgency(notify_rust::Urgency::Critical);
        n.show()
            .map(|_| ())
            .map_err(|e| NotifyError::Daemon(e.to_string()))
    }
}

impl Notifier for DesktopNotifier {
    fn notify(&self, title: &str, body: &str) -> Result<(), String> {
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(Note {
                title: title.to_string(),
                body: body.to_string(),
            })
            .map_err(|_| NotifyError::Closed.to_string())
    }
}
