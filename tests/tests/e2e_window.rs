//! The real window, end to end: the built app under tauri-driver + WebKitWebDriver, driven like
//! a worker's fingers would. Run by `scripts/e2e.sh`; skipped loudly without `ZEUES_APP_BIN`.

use zeues_tests::support::e2e::{app_or_skip, with_session, Session, TestResult};
use zeues_tests::support::DataDir;

/// The ARMADO → worker → TOMAR path up to the spool list; returns the worker id.
async fn open_tomar_arm(s: &Session) -> TestResult<String> {
    s.click("#op-ARM").await?;
    // Read before clicking: the click replaces the screen.
    let worker = s.wait("#worker-list [data-worker-id]").await?;
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
            s.wait("#sync-badge").await?;
            s.wait("#op-METROLOGIA").await?;
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
            s.click("#confirmar").await?;
            s.wait("#exito").await?;
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
            *t.lock().map_err(|e| e.to_string())? = Some((tag, by));
            Ok(())
        })
    })
    .await?;

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
