//! A real `redis-server` for tests, started by the test itself (nothing may depend on a Redis
//! already running): a free loopback port, no persistence (`--save ''`, no AOF), answered
//! `PING` before use, stopped by PID when dropped. `kill9()` and `restart()` (same port, empty
//! data) are the Redis-restart fault. `fleet` builds devices (engines with their own SQLite
//! store and device id) around one shared workbook and one Redis.
//!
//! The binary is `redis-server` from `PATH` (Debian's package; `.ci/run` installs it) or
//! `ZEUES_REDIS_SERVER`.

pub mod fleet;

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
}

fn binary() -> String {
    std::env::var("ZEUES_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into())
}

fn free_port() -> std::io::Result<u16> {
    let l = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))?;
    Ok(l.local_addr()?.port())
}

impl RedisServer {
    /// Starts a server on a free loopback port and waits until it answers.
    pub fn start() -> Result<RedisServer, RedisServerError> {
        let mut last = None;
        // Another process may grab the port between our probe and redis binding it: retry.
        for _ in 0..5 {
            let mut s = RedisServer {
                child: None,
                port: free_port()?,
                dir: tempfile::Builder::new().prefix("zeues-redis-").tempdir()?,
            };
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
        let child = Command::new(&bin)
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
        let mut s = TcpStream::connect(SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        s.write_all(req.as_bytes())?;
        let mut r = BufReader::new(s);
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
