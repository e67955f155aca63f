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

/// The second tauri-driver (a second app instance = a second device).
pub fn webdriver_url_b() -> String {
    std::env::var("ZEUES_WEBDRIVER_URL_B").unwrap_or_else(|_| "http://127.0.0.1:4446".into())
}

/// The dbusmock notification daemon's log (`scripts/e2e.sh` starts it), if any.
pub fn notification_log() -> Option<PathBuf> {
    std::env::var_os("ZEUES_NOTIFY_LOG").map(PathBuf::from)
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
        Self::start_on(&webdriver_url(), app, data_dir).await
    }

    /// Starts the app through the tauri-driver at `driver` (one per app instance).
    pub async fn start_on(driver: &str, app: &Path, data_dir: &Path) -> TestResult<Session> {
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
            .connect(driver)
            .await?;
        Ok(Session { client })
    }

    /// Waits for the first screen; a fresh device shows the first-run screen, where this
    /// picks the demo plant. Returns whether it had to.
    pub async fn ready(&self) -> TestResult<bool> {
        let first = self.wait("#primer-inicio, #pantalla-operacion").await?;
        if first.attr("id").await?.as_deref() == Some("primer-inicio") {
            self.click("#usar-demo").await?;
            self.wait("#pantalla-operacion").await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Whether `css` matches something now (no waiting).
    pub async fn exists(&self, css: &str) -> TestResult<bool> {
        Ok(!self.client.find_all(Locator::Css(css)).await?.is_empty())
    }

    /// Clicks `click` inside the page and measures, in the page's own clock, how long until
    /// the DOM shows `until` (a MutationObserver, so no polling granularity). This is the
    /// tap-to-new-state latency a person sees, without WebDriver's round trips.
    pub async fn tap_latency(&self, click: &str, until: &str) -> TestResult<Duration> {
        let ms = self
            .client
            .execute_async(
                r#"const [click, until, done] = arguments;
                   const el = document.querySelector(click);
                   if (!el) { done(-1); return; }
                   const t0 = performance.now();
                   let finished = false;
                   const finish = () => {
                     if (finished) return;
                     finished = true;
                     obs.disconnect();
                     done(performance.now() - t0);
                   };
                   const obs = new MutationObserver(() => {
                     if (document.querySelector(until)) finish();
                   });
                   obs.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
                   el.click();
                   if (document.querySelector(until)) finish();
                   setTimeout(() => { if (!finished) { finished = true; obs.disconnect(); done(-2); } }, 15000);"#,
                vec![serde_json::json!(click), serde_json::json!(until)],
            )
            .await?;
        let ms = ms.as_f64().ok_or("tap_latency: no number")?;
        if ms < 0.0 {
            return Err(
                format!("tap_latency: `{click}` missing or `{until}` never shown ({ms})").into(),
            );
        }
        Ok(Duration::from_secs_f64(ms / 1000.0))
    }

    /// Types `code` + Enter into whatever has the focus, as fast as a keyboard-wedge barcode
    /// reader does.
    pub async fn scan(&self, code: &str) -> TestResult {
        let el = self.client.active_element().await?;
        el.send_keys(&format!("{code}\u{E007}")).await?;
        Ok(())
    }

    /// Types `text` into the field `css` as a person does and then presses Enter: the pause
    /// before Enter keeps the scanner's burst detector from taking it for a barcode reader
    /// (WebDriver types the characters themselves as fast as a reader would).
    pub async fn type_and_enter(&self, css: &str, text: &str) -> TestResult {
        let field = self.click(css).await?;
        field.clear().await?;
        field.send_keys(text).await?;
        tokio::time::sleep(Duration::from_millis(400)).await;
        field.send_keys("\u{E007}").await?;
        Ok(())
    }

    /// Every visible button, field and link on the page lower than a 56 px touch target, as
    /// `id-or-class (height)`.
    pub async fn small_touch_targets(&self) -> TestResult<Vec<String>> {
        let found = self
            .client
            .execute(
                r#"const small = [];
                   for (const el of document.querySelectorAll('button, input, select, a, [role=button]')) {
                     const r = el.getBoundingClientRect();
                     if (r.width === 0 || r.height === 0) continue;
                     if (r.height < 55.5) {
                       small.push(`${el.id || el.className || el.tagName} (${Math.round(r.height)} px)`);
                     }
                   }
                   return small;"#,
                Vec::new(),
            )
            .await?;
        Ok(serde_json::from_value(found)?)
    }

    /// Every visible field whose placeholder is wider than the room it has (the text is cut),
    /// as `id (needed/available px)`: measured with the field's own font.
    pub async fn cut_placeholders(&self) -> TestResult<Vec<String>> {
        let found = self
            .client
            .execute(
                r#"const cut = [];
                   const ctx = document.createElement('canvas').getContext('2d');
                   for (const el of document.querySelectorAll('input[placeholder]')) {
                     const r = el.getBoundingClientRect();
                     if (r.width === 0 || r.height === 0 || !el.placeholder) continue;
                     const cs = getComputedStyle(el);
                     ctx.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
                     const need = ctx.measureText(el.placeholder).width;
                     const room = el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight)
                       - (el.type === 'search' ? 28 : 0);
                     if (need > room) cut.push(`${el.id || el.className} (${Math.round(need)}/${Math.round(room)} px)`);
                   }
                   return cut;"#,
                Vec::new(),
            )
            .await?;
        Ok(serde_json::from_value(found)?)
    }

    /// Resizes the window (Xvfb's screen must be at least this big).
    pub async fn window_size(&self, width: u32, height: u32) -> TestResult {
        self.client.set_window_size(width, height).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok(())
    }

    pub async fn wait(&self, css: &str) -> TestResult<Element> {
        self.wait_for(css, TIMEOUT).await
    }

    /// Like [`Session::wait`] with its own limit (what depends on a retry timer).
    pub async fn wait_for(&self, css: &str, limit: Duration) -> TestResult<Element> {
        Ok(self
            .client
            .wait()
            .at_most(limit)
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
    let outcome = match session.ready().await {
        Ok(_) => scenario(&session).await,
        Err(e) => Err(e),
    };
    if outcome.is_err() {
        if let Err(e) = session.screenshot(&format!("{name}-failure")).await {
            eprintln!("could not save the failure screenshot: {e}");
        }
    }
    let closed = session.close().await;
    outcome?;
    closed
}

/// Memory (kB) of the app started on `data_dir` and of every process under it (the WebKit web
/// and network processes), found by the `--data-dir` in its command line. RSS counts a shared
/// library in every process that maps it (libwebkit2gtk is mapped by the app and by WebKit's
/// web process); PSS splits shared pages between the processes that share them, so its sum is
/// what the window really costs the tablet.
#[derive(Debug, Clone, Copy)]
pub struct AppMemory {
    pub pid: u32,
    pub rss_app: u64,
    pub rss_total: u64,
    pub pss_app: u64,
    pub pss_total: u64,
}

fn pss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("Pss:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

pub fn app_memory_kb(data_dir: &Path) -> TestResult<AppMemory> {
    let needle = data_dir.to_string_lossy().to_string();
    let mut app = None;
    let mut parents: Vec<(u32, u32, u64)> = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let entry = entry?;
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        };
        let rss = field("VmRSS:").unwrap_or(0);
        let ppid = field("PPid:").unwrap_or(0) as u32;
        parents.push((pid, ppid, rss));
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmdline);
        if cmd.contains(&needle) && cmd.contains("--data-dir") && !cmd.contains("WebKitWebDriver") {
            app = Some((pid, rss));
        }
    }
    let (pid, own) = app.ok_or("the app's process was not found")?;
    let mut m = AppMemory {
        pid,
        rss_app: own,
        rss_total: own,
        pss_app: pss_kb(pid),
        pss_total: pss_kb(pid),
    };
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for (child, parent, rss) in &parents {
            if *parent == p {
                m.rss_total += rss;
                m.pss_total += pss_kb(*child);
                frontier.push(*child);
            }
        }
    }
    Ok(m)
}
