//! A TCP chaos proxy between devices and Redis / the Sheets emulator. It forwards bytes until
//! told to cut (close every connection and refuse new ones), black-hole (accept, swallow, never
//! answer), or delay (hold each chunk for a while). Modes change at any time, for every
//! connection at once, as a flaky factory Wi-Fi does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pass,
    /// Each chunk is held this long before it is forwarded (both directions).
    Delay(Duration),
    /// Every open connection is closed; new ones are closed on accept.
    Cut,
    /// Connections are accepted and their bytes swallowed; nothing is ever answered.
    Blackhole,
}

pub struct ChaosProxy {
    addr: SocketAddr,
    mode: Arc<watch::Sender<Mode>>,
    accept: JoinHandle<()>,
}

impl ChaosProxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<ChaosProxy> {
        Self::start_on(
            "127.0.0.1:0".parse().map_err(std::io::Error::other)?,
            upstream,
        )
        .await
    }

    /// Listens on `listen` (a fixed port lets restarted devices find it again).
    pub async fn start_on(listen: SocketAddr, upstream: SocketAddr) -> std::io::Result<ChaosProxy> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let mode = Arc::new(watch::channel(Mode::Pass).0);
        let accept_mode = mode.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let rx = accept_mode.subscribe();
                tokio::spawn(handle(client, upstream, rx));
            }
        });
        Ok(ChaosProxy { addr, mode, accept })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn mode(&self) -> Mode {
        *self.mode.borrow()
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.accept.abort();
        // Wakes every connection task so it closes.
        self.mode.send_replace(Mode::Cut);
    }
}

async fn handle(client: TcpStream, upstream: SocketAddr, mut mode: watch::Receiver<Mode>) {
    let current = *mode.borrow_and_update();
    match current {
        Mode::Cut => return,
        Mode::Blackhole => {
            swallow(client, mode).await;
            return;
        }
        Mode::Pass | Mode::Delay(_) => {}
    }
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = tokio::spawn(pump(cr, sw, mode.clone()));
    let down = tokio::spawn(pump(sr, cw, mode.clone()));
    // Either side closing, or a cut, ends the connection.
    loop {
        tokio::select! {
            _ = mode.changed() => {
                if matches!(*mode.borrow(), Mode::Cut | Mode::Blackhole) {
                    break;
                }
            }
            _ = wait_finished(&up, &down) => break,
        }
    }
    up.abort();
    down.abort();
}

async fn wait_finished(a: &JoinHandle<()>, b: &JoinHandle<()>) {
    while !a.is_finished() && !b.is_finished() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn swallow(mut client: TcpStream, mut mode: watch::Receiver<Mode>) {
    let mut buf = [0u8; 4096];
    loop {
        tokio::select! {
            r = client.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            _ = mode.changed() => {
                if *mode.borrow() == Mode::Cut {
                    return;
                }
            }
        }
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mode: watch::Receiver<Mode>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let current = *mode.borrow();
        match current {
            Mode::Delay(d) => tokio::time::sleep(d).await,
            Mode::Blackhole => continue,
            Mode::Cut => break,
            Mode::Pass => {}
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    // Best effort: the peer may already be gone.
    if let Err(e) = to.shutdown().await {
        log_shutdown_error(&e);
    }
}

fn log_shutdown_error(e: &std::io::Error) {
    // The proxy is test support with no logger of its own; a failed shutdown is normal on cut.
    if e.kind() != std::io::ErrorKind::NotConnected {
        eprintln!("chaos proxy: shutdown: {e}");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    async fn echo_server() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = l.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut b = [0u8; 1024];
                    while let Ok(n) = s.read(&mut b).await {
                        if n == 0 || s.write_all(&b[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    async fn roundtrip(addr: SocketAddr) -> std::io::Result<Vec<u8>> {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(b"hola").await?;
        let mut b = [0u8; 4];
        tokio::time::timeout(Duration::from_millis(500), s.read_exact(&mut b))
            .await
            .map_err(std::io::Error::other)??;
        Ok(b.to_vec())
    }

    #[tokio::test]
    async fn pass_cut_blackhole_delay() {
        let proxy = ChaosProxy::start(echo_server().await).await.unwrap();
        assert_eq!(roundtrip(proxy.addr()).await.unwrap(), b"hola");
        proxy.set(Mode::Cut);
        assert!(roundtrip(proxy.addr()).await.is_err());
        proxy.set(Mode::Blackhole);
        assert!(roundtrip(proxy.addr()).await.is_err());
        proxy.set(Mode::Delay(Duration::from_millis(100)));
        let t = std::time::Instant::now();
        assert_eq!(roundtrip(proxy.addr()).await.unwrap(), b"hola");
        assert!(t.elapsed() >= Duration::from_millis(100));
        proxy.set(Mode::Pass);
        assert_eq!(roundtrip(proxy.addr()).await.unwrap(), b"hola");
    }

    #[tokio::test]
    async fn cut_closes_open_connections() {
        let proxy = ChaosProxy::start(echo_server().await).await.unwrap();
        let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
        s.write_all(b"a").await.unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        proxy.set(Mode::Cut);
        let mut rest = Vec::new();
        let r = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut rest)).await;
        assert!(r.is_ok(), "connection must be closed by the cut");
    }
}
