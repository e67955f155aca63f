//! Driving the real window: the built `zeues` binary (`ZEUES_APP_BIN`) under tauri-driver and
//! WebKitWebDriver (`scripts/e2e.sh` starts them inside Xvfb and a private D-Bus session).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

pub type TestResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// How long a screen may take to show something.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// The app binary, or `None` after a loud notice when `ZEUES_APP_BIN` is unset. Set but wrong
/// is a failure, never a skip.
pub fn app_or_skip(test: &str) -> Option<PathBuf> {
    match std::env::var_os("ZEUES_APP_BIN") {
        None => {
            eprintln!(
                "\n*** SKIPPED E2E `{test}`: ZEUES_APP_BIN is not set. ***\n\
                 *** Run ./scripts/e2e.sh (scripts/test.sh does) to drive the real window. ***\n"
            );
            None
        }
        Some(p) => {
            let p = PathBuf::from(p);
            assert!(
                p.is_absolute() && p.is_file(),
                "ZEUES_APP_BIN={} is not an absolute path to the built app",
                p.display()
            );
            Some(p)
        }
    }
}

pub fn webdriver_url() -> String {
    std::env::var("ZEUES_WEBDRIVER_URL").unwrap_or_else(|_| "http://127.0.0.1:4444".into())
}

pub fn screenshot_dir() -> PathBuf {
    super::target_dir().join("e2e-screenshots")
}

/// One app instance driven over WebDriver. Always end it with [`Session::close`] (the app
/// quits with the session).
pub struct Session {
    pub client: Client,
}

impl Session {
    /// Starts the app on `data_dir` (passed as `--data-dir`, since tauri-driver does not
    /// forward the test's environment).
    pub async fn start(app: &Path, data_dir: &Path) -> TestResult<Session> {
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), serde_json::json!("wry"));
        caps.insert(
            "tauri:options".into(),
            serde_json::json!({
                "application": app,
                "args": ["--data-dir", data_dir],
            }),
        );
        let client = ClientBuilder::native()
            .capabilities(caps)
            .connect(&webdriver_url())
            .await?;
        Ok(Session { client })
    }

    pub async fn wait(&self, css: &str) -> TestResult<Element> {
        Ok(self
            .client
            .wait()
            .at_most(TIMEOUT)
            .for_element(Locator::Css(css))
            .await
            .map_err(|e| format!("waiting for `{css}`: {e}"))?)
    }

    pub async fn click(&self, css: &str) -> TestResult<Element> {
        let el = self.wait(css).await?;
        el.click()
            .await
            .map_err(|e| format!("clicking `{css}`: {e}"))?;
        Ok(el)
    }

    pub async fn attr(&self, el: &Element, name: &str) -> TestResult<String> {
        Ok(el
            .attr(name)
            .await?
            .ok_or_else(|| format!("element has no `{name}`"))?)
    }

    /// Polls `check` until it answers true or [`TIMEOUT`] passes.
    pub async fn until<F, Fut>(&self, what: &str, mut check: F) -> TestResult
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = TestResult<bool>>,
    {
        let start = Instant::now();
        loop {
            if check().await? {
                return Ok(());
            }
            if start.elapsed() > TIMEOUT {
                return Err(format!("timed out waiting until {what}").into());
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    pub async fn text(&self, css: &str) -> TestResult<String> {
        Ok(self.wait(css).await?.text().await?)
    }

    /// Writes `target/e2e-screenshots/<name>.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> TestResult<PathBuf> {
        // WebKitWebDriver captures the last painted frame: let the DOM changes reach the screen.
        self.client
            .execute_async(
                "const done = arguments[arguments.length - 1];\n\
                 requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
                Vec::new(),
            )
            .await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let png = self.client.screenshot().await?;
        assert!(
            png.starts_with(b"\x89PNG"),
            "WebDriver screenshot is not a PNG"
        );
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        eprintln!("screenshot: {}", path.display());
        Ok(path)
    }

    /// Ends the session (the app quits) and gives its process a moment to let go of the
    /// data dir before another instance opens it.
    pub async fn close(self) -> TestResult {
        self.client.close().await?;
        tokio::time::sleep(Duration::from_millis(800)).await;
        Ok(())
    }
}

/// Runs `scenario` in a session and always closes it; on failure a screenshot named
/// `<name>-failure` is saved first.
pub async fn with_session<F>(app: &Path, data_dir: &Path, name: &str, scenario: F) -> TestResult
where
    F: for<'s> FnOnce(
        &'s Session,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = TestResult> + 's>>,
{
    let session = Session::start(app, data_dir).await?;
    let outcome = scenario(&session).await;
    if outcome.is_err() {
        if let Err(e) = session.screenshot(&format!("{name}-failure")).await {
            eprintln!("could not save the failure screenshot: {e}");
        }
    }
    let closed = session.close().await;
    outcome?;
    closed
}
