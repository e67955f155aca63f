//! The desktop notification of a conflict really leaves the app: `DesktopNotifier` speaks
//! `org.freedesktop.Notifications` over D-Bus, and Debian's python3-dbusmock notification
//! daemon (started by `scripts/notify.sh` inside `dbus-run-session`) logs every `Notify` call.
//! Skipped loudly only when not inside such a session (`ZEUES_NOTIFY_LOG` unset).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use zeues_app::notifier::{DesktopNotifier, APP_NAME};
use zeues_sync::engine::Notifier;

fn mock_log() -> Option<PathBuf> {
    match std::env::var_os("ZEUES_NOTIFY_LOG") {
        Some(p) => {
            assert!(
                std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
                "ZEUES_NOTIFY_LOG is set but there is no D-Bus session"
            );
            Some(PathBuf::from(p))
        }
        None => {
            eprintln!(
                "\n*** SKIPPED notify_dbus: not inside a D-Bus session with the dbusmock \
                 notification daemon (ZEUES_NOTIFY_LOG unset). ***\n\
                 *** Run ./scripts/notify.sh (scripts/test.sh does). ***\n"
            );
            None
        }
    }
}

/// Waits until the daemon's log has a line with every one of `parts`.
fn logged(log: &PathBuf, parts: &[&str]) -> Result<String, String> {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).map_err(|e| e.to_string())?;
        if let Some(line) = text
            .lines()
            .find(|l| l.contains("Notify") && parts.iter().all(|p| l.contains(p)))
        {
            return Ok(line.to_string());
        }
        if start.elapsed() > Duration::from_secs(10) {
            return Err(format!(
                "no Notify call with {parts:?} in {}:\n{text}",
                log.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_conflict_notification_reaches_the_notification_daemon() -> Result<(), String> {
    let Some(log) = mock_log() else {
        return Ok(());
    };
    // What the engine sends when a spool taken offline was taken by someone else first.
    let summary = "Conflicto en spool MK-1335";
    let body = "Spool MK-1335 fue tomado por JP(94) mientras estabas sin conexión";
    DesktopNotifier::send(summary, body).map_err(|e| e.to_string())?;
    let line = logged(&log, &[APP_NAME, summary, body])?;
    eprintln!("daemon log: {line}");

    // The engine's path: `Notifier::notify` returns at once, a background thread delivers.
    let notifier = DesktopNotifier::new();
    let summary2 = "Conflicto en spool MK-2001";
    let body2 = "Spool MK-2001 fue tomado por MR(93) mientras estabas sin conexión";
    let t = Instant::now();
    notifier.notify(summary2, body2)?;
    assert!(
        t.elapsed() < Duration::from_millis(100),
        "notify must not block the engine"
    );
    logged(&log, &[APP_NAME, summary2, body2])?;
    Ok(())
}
