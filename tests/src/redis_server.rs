//! A real `redis-server` for tests, started by the test itself (nothing may depend on a Redis
//! already running): a free loopback port, no persistence (`--save ''`, no AOF), answered
//! `PING` before use, stopped by PID when dropped. `kill9()` and `restart()` (same port, empty
//! data) are the Redis-restart fault. `fleet` builds devices (engines with their own SQLite
//! store and device id) around one shared workbook and one Redis.
//!
//! The binary is `redis-server` from `PATH` (Debian's package; `.ci/run` installs it) or
//! `ZEUES_REDIS_SERVER`.

pub mod fleet;
pub mod topologies;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum RedisServerError {
    #[error("no se pudo iniciar redis-server ({bin}): {source}")]
    Spawn { bin: String, source: std::io::Error },
    #[error("redis-server no respondió PING en {0:?}; log:\n{1}")]
    NoAnswer(Duration, String),
    #[error("E/S con redis-server: {0}")]
    Io(#[from] std::io::Error),
    #[error("respuesta inesperada de redis-server: {0}")]
    Protocol(String),
}

pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    opts: ServerOptions,
    tls_port: Option<u16>,
}

/// AUTH and TLS for a server (default: neither).
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// `requirepass`.
    pub password: Option<String>,
    /// Also listen with TLS on a second free port (certificates made with `openssl`).
    pub tls: bool,
    /// More `redis-server` arguments (e.g. `--cluster-enabled yes`).
    pub extra: Vec<String>,
}

/// The TLS side of a server: its port and the CA that signed its certificate.
#[derive(Debug, Clone)]
pub struct TlsInfo {
    pub port: u16,
    pub ca_file: PathBuf,
}

fn binary() -> String {
    std::env::var("ZEUES_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into())
}

fn resp(args: &[&str]) -> Vec<u8> {
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    req.into_bytes()
}

/// One command over plain TCP to `127.0.0.1:port` (AUTH first when a password is given).
pub fn raw_command(
    port: u16,
    password: Option<&str>,
    args: &[&str],
) -> Result<String, RedisServerError> {
    let mut s = TcpStream::connect(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut r = BufReader::new(s.try_clone()?);
    if let Some(p) = password {
        s.write_all(&resp(&["AUTH", p]))?;
        let mut ok = String::new();
        r.read_line(&mut ok)?;
        if !ok.starts_with("+OK") {
            return Err(RedisServerError::Protocol(ok.trim_end().to_string()));
        }
    }
    s.write_all(&resp(args))?;
    let mut line = String::new();
    r.read_line(&mut line)?;
    let line = line.trim_end().to_string();
    match line.chars().next() {
        Some('+') | Some(':') => Ok(line[1..].to_string()),
        Some('$') => {
            let n: i64 = line[1..]
                .parse()
                .map_err(|_| RedisServerError::Protocol(line.clone()))?;
            if n < 0 {
                return Ok(String::new());
            }
            let mut buf = vec![0u8; n as usize + 2];
            r.read_exact(&mut buf)?;
            buf.truncate(n as usize);
            String::from_utf8(buf).map_err(|e| RedisServerError::Protocol(e.to_string()))
        }
        _ => Err(RedisServerError::Protocol(line)),
    }
}

pub fn free_port() -> std::io::Result<u16> {
    let l = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))?;
    Ok(l.local_addr()?.port())
}

impl RedisServer {
    /// Starts a server on a free loopback port and waits until it answers.
    pub fn start() -> Result<RedisServer, RedisServerError> {
        Self::start_with(ServerOptions::default())
    }

    /// Starts a server with AUTH and/or TLS.
    pub fn start_with(opts: ServerOptions) -> Result<RedisServer, RedisServerError> {
        let mut last = None;
        // Another process may grab the port between our probe and redis binding it: retry.
        for _ in 0..5 {
            let mut s = RedisServer {
                child: None,
                port: free_port()?,
                dir: tempfile::Builder::new().prefix("zeues-redis-").tempdir()?,
                opts: opts.clone(),
                tls_port: None,
            };
            if s.opts.tls {
                s.tls_port = Some(free_port()?);
                s.make_certificates()?;
            }
            match s.spawn() {
                Ok(()) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| RedisServerError::Protocol("sin intentos".into())))
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    fn spawn(&mut self) -> Result<(), RedisServerError> {
        let bin = binary();
        let mut cmd = Command::new(&bin);
        if let Some(p) = &self.opts.password {
            cmd.args(["--requirepass", p]);
        }
        if let Some(t) = self.tls_port() {
            let d = self.dir.path();
            cmd.arg("--tls-port")
                .arg(t.to_string())
                .arg("--tls-cert-file")
                .arg(d.join("server.crt"))
                .arg("--tls-key-file")
                .arg(d.join("server.key"))
                .arg("--tls-ca-cert-file")
                .arg(d.join("ca.crt"))
                .args(["--tls-auth-clients", "no"]);
        }
        cmd.args(&self.opts.extra);
        let child = cmd
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--enable-debug-command", "local"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(self.log_path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| RedisServerError::Spawn {
                bin: bin.clone(),
                source,
            })?;
        self.child = Some(child);
        let limit = Duration::from_secs(10);
        let t0 = Instant::now();
        while t0.elapsed() < limit {
            if self.ping() {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        self.stop();
        Err(RedisServerError::NoAnswer(limit, log))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn tls_port(&self) -> Option<u16> {
        self.tls_port
    }

    pub fn tls(&self) -> Option<TlsInfo> {
        self.tls_port().map(|port| TlsInfo {
            port,
            ca_file: self.dir.path().join("ca.crt"),
        })
    }

    /// A CA and a server certificate for `localhost`/127.0.0.1, made with the `openssl` tool.
    fn make_certificates(&self) -> Result<(), RedisServerError> {
        let d = self.dir.path();
        std::fs::write(
            d.join("san.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )?;
        let steps: [&[&str]; 3] = [
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "2",
                "-subj",
                "/CN=zeues-test-ca",
            ],
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.crt",
                "-days",
                "2",
                "-extfile",
                "san.ext",
            ],
        ];
        for args in steps {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(d)
                .stdin(Stdio::null())
                .output()
                .map_err(|source| RedisServerError::Spawn {
                    bin: "openssl".into(),
                    source,
                })?;
            if !out.status.success() {
                return Err(RedisServerError::Protocol(format!(
                    "openssl {}: {}",
                    args[0],
                    String::from_utf8_lossy(&out.stderr)
                )));
            }
        }
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Whether it answers `PING` now.
    pub fn ping(&self) -> bool {
        matches!(self.command(&["PING"]), Ok(ref s) if s == "PONG")
    }

    /// Sends one command and returns the reply as text (simple/bulk strings and integers).
    pub fn command(&self, args: &[&str]) -> Result<String, RedisServerError> {
        raw_command(self.port, self.opts.password.as_deref(), args)
    }

    /// `INFO memory` → `used_memory` in bytes.
    pub fn used_memory(&self) -> Result<u64, RedisServerError> {
        let info = self.command(&["INFO", "memory"])?;
        info.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| RedisServerError::Protocol("INFO sin used_memory".into()))
    }

    /// `kill -9`: everything in memory is lost, clients see their connections drop.
    pub fn kill9(&mut self) {
        self.stop();
    }

    /// Starts again on the same port, empty (there is no persistence).
    pub fn restart(&mut self) -> Result<(), RedisServerError> {
        self.stop();
        let t0 = Instant::now();
        loop {
            match self.spawn() {
                Ok(()) => return Ok(()),
                // The old socket may linger for a moment.
                Err(e) if t0.elapsed() > Duration::from_secs(10) => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // Child::kill is SIGKILL on Unix: by PID, only the process we started.
            if let Err(e) = c.kill() {
                eprintln!("redis-server {}: kill: {e}", c.id());
            }
            if let Err(e) = c.wait() {
                eprintln!("redis-server {}: wait: {e}", c.id());
            }
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
