//! The real window, end to end: the built app under tauri-driver + WebKitWebDriver, driven like
//! a worker's fingers would. Run by `scripts/e2e.sh`; skipped loudly without `ZEUES_APP_BIN`.

use zeues_tests::support::e2e::{app_or_skip, with_session, Session, TestResult};
use zeues_tests::support::DataDir;

/// The ARMADO → an Armador → TOMAR path up to the spool list; returns the worker id.
async fn open_tomar_arm(s: &Session) -> TestResult<String> {
    s.click("#op-ARM").await?;
    // Read before clicking: the click replaces the screen.
    let worker = s.wait("#worker-list [data-roles~='Armador']").await?;
    let worker_id = s.attr(&worker, "data-worker-id").await?;
    worker.click().await?;
    s.click("#accion-TOMAR").await?;
    s.wait("#spool-list").await?;
    Ok(worker_id)
}

#[tokio::test]
async fn window_starts_and_shows_the_spool_list() -> TestResult {
    let Some(app) = app_or_skip("window_starts_and_shows_the_spool_list") else {
        return Ok(());
    };
    let data = DataDir::new("smoke")?;
    with_session(&app, data.path(), "smoke", |s| {
        Box::pin(async move {
            let title = s.client.title().await?;
            assert_eq!(title, "ZEUES");
            s.wait("#op-METROLOGIA").await?;
            // The sync badge opens what is waiting to sync.
            s.click("#sync-badge").await?;
            s.wait("#pendientes #sin-pendientes, #pendientes table")
                .await?;
            s.click("#cerrar-pendientes").await?;
            open_tomar_arm(s).await?;
            s.wait("#spool-list button.spool-row[data-tag]").await?;
            let counter = s.text("#seleccionados").await?;
            assert!(counter.starts_with("SELECCIONADOS: 0 / "), "{counter}");
            let shot = s.screenshot("smoke-spool-list").await?;
            assert!(
                std::fs::metadata(&shot)?.len() > 10_000,
                "screenshot too small"
            );
            Ok(())
        })
    })
    .await
}

#[tokio::test]
async fn tomar_in_the_window_survives_a_restart() -> TestResult {
    let Some(app) = app_or_skip("tomar_in_the_window_survives_a_restart") else {
        return Ok(());
    };
    let data = DataDir::new("tomar")?;
    let taken = std::sync::Arc::new(std::sync::Mutex::new(None::<(String, String)>));

    let t = taken.clone();
    with_session(&app, data.path(), "tomar-first-run", move |s| {
        Box::pin(async move {
            let worker_id = open_tomar_arm(s).await?;
            let row = s
                .wait("#spool-list button.spool-row[data-ocupado='false']")
                .await?;
            let tag = s.attr(&row, "data-tag").await?;
            row.click().await?;
            let counter = s.text("#seleccionados").await?;
            assert!(counter.starts_with("SELECCIONADOS: 1 / "), "{counter}");
            s.click("#continuar").await?;
            s.wait(&format!("#confirmar-lista [data-tag='{tag}']"))
                .await?;
            s.screenshot("tomar-confirmar").await?;
            s.click("#confirmar").await?;
            s.wait("#exito").await?;
            s.screenshot("tomar-exito").await?;
            let summary = s.text("#exito-resumen").await?;
            assert!(
                summary.contains(&tag),
                "success text `{summary}` names {tag}"
            );
            s.click("#exito-continuar").await?;
            s.wait("#op-ARM").await?;

            // The spool is no longer offered to TOMAR …
            open_tomar_arm(s).await?;
            s.wait("#spool-list .spool-row, #sin-spools").await?;
            let still_free = s
                .client
                .find_all(fantoccini::Locator::Css(&format!(
                    "#spool-list button.spool-row[data-tag='{tag}']"
                )))
                .await?;
            assert!(
                still_free.is_empty(),
                "{tag} is still selectable after TOMAR"
            );
            // … and the dashboard shows who has it.
            s.click("#link-dashboard").await?;
            let dash = s
                .wait(&format!("#dashboard-list [data-tag='{tag}']"))
                .await?;
            let by = s.attr(&dash, "data-ocupado-por").await?;
            assert!(
                by.ends_with(&format!("({worker_id})")),
                "{tag} occupied by {by}"
            );
            s.screenshot("tomar-dashboard").await?;
            // Tapping it shows its history, with the TOMAR just made as an open session.
            dash.click().await?;
            s.wait("#historial table.history").await?;
            let history = s.text("#historial").await?;
            assert!(
                history.contains(&by),
                "history of {tag} names {by}: {history}"
            );
            s.screenshot("tomar-historial").await?;
            s.click("#cerrar-historial").await?;
            *t.lock().map_err(|e| e.to_string())? = Some((tag, by));
            Ok(())
        })
    })
    .await?;

    // The app really used the data dir it was given (not the OS default).
    assert!(
        data.path().join("logs").is_dir() && std::fs::read_dir(data.path())?.count() > 1,
        "the app wrote nothing into --data-dir {}",
        data.path().display()
    );
    let (tag, by) = taken
        .lock()
        .map_err(|e| e.to_string())?
        .clone()
        .ok_or("first run recorded no spool")?;
    with_session(&app, data.path(), "tomar-after-restart", move |s| {
        Box::pin(async move {
            s.click("#link-dashboard").await?;
            let dash = s
                .wait(&format!("#dashboard-list [data-tag='{tag}']"))
                .await?;
            assert_eq!(s.attr(&dash, "data-ocupado-por").await?, by);
            s.screenshot("tomar-after-restart").await?;
            Ok(())
        })
    })
    .await
}

#[tokio::test]
async fn metrologia_rechazo_sends_the_spool_to_reparacion() -> TestResult {
    let Some(app) = app_or_skip("metrologia_rechazo_sends_the_spool_to_reparacion") else {
        return Ok(());
    };
    let data = DataDir::new("metrologia")?;
    with_session(&app, data.path(), "metrologia", |s| {
        Box::pin(async move {
            s.click("#op-METROLOGIA").await?;
            s.wait("#worker-list [data-worker-id]").await?;
            s.screenshot("metrologia-trabajador").await?;
            s.click("#worker-list [data-worker-id]").await?;
            let row = s
                .wait("#spool-list button.spool-row[data-ocupado='false']")
                .await?;
            let tag = s.attr(&row, "data-tag").await?;
            row.click().await?;
            s.click("#continuar").await?;
            s.wait(&format!("#pantalla-metrologia [data-tag='{tag}']"))
                .await?;
            s.click("#metro-RECHAZADO").await?;
            s.screenshot("metrologia-origen").await?;
            s.click("#origen-ARM").await?;
            s.wait("#exito").await?;
            assert_eq!(s.text("#exito .exito-word").await?, "RECHAZADO");
            s.click("#exito-continuar").await?;

            // Rejected at ARM: an Armador can now take it for repair.
            s.click("#op-REPARACION").await?;
            s.click("#worker-list [data-roles~='Armador']").await?;
            s.click("#accion-TOMAR").await?;
            s.wait(&format!("#spool-list button.spool-row[data-tag='{tag}']"))
                .await?;
            s.screenshot("reparacion-tomar").await?;
            Ok(())
        })
    })
    .await
}

#[tokio::test]
async fn a_corrupt_local_database_is_recovered_and_the_user_told() -> TestResult {
    let Some(app) = app_or_skip("a_corrupt_local_database_is_recovered_and_the_user_told") else {
        return Ok(());
    };
    let data = DataDir::new("corrupt")?;
    // First start seeds the plant and creates the device database.
    with_session(&app, data.path(), "corrupt-seed", |s| {
        Box::pin(async move {
            s.wait("#op-ARM").await?;
            Ok(())
        })
    })
    .await?;

    let db = data.path().join(zeues_sync::service::DEVICE_DB);
    assert!(db.is_file(), "no device database at {}", db.display());
    for side in ["-wal", "-shm"] {
        let p = data
            .path()
            .join(format!("{}{side}", zeues_sync::service::DEVICE_DB));
        if p.exists() {
            std::fs::remove_file(p)?;
        }
    }
    std::fs::write(
        &db,
        b"this is not a sqlite database, it was damaged on purpose",
    )?;

    with_session(&app, data.path(), "corrupt-recovered", |s| {
        Box::pin(async move {
            let banner = s.text("#aviso-recuperacion").await?;
            assert!(banner.contains("recuperada"), "{banner}");
            s.screenshot("corrupt-recovered").await?;
            // The app still works after recovery.
            s.click("#op-ARM").await?;
            s.wait("#worker-list [data-worker-id]").await?;
            Ok(())
        })
    })
    .await
}
