//! A web server for a published library folder whose behaviour a test switches while it runs:
//! serve, hang after accepting, trickle a byte a second, reset mid-body, answer slowly, vanish
//! (port closed, every connection dropped) and come back on the same port. It counts what it
//! was asked, so a test can prove a refused source was never contacted.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Serve,
    /// Accept, read the request, never answer.
    Hang,
    /// Headers at once, then one body byte a second, forever.
    SlowLoris,
    /// Headers and half the body, then a TCP reset.
    Reset,
    /// Wait this long before answering each request.
    Slow(Duration),
}

#[derive(Default)]
pub struct Stats {
    pub connections: AtomicUsize,
    pub requests: AtomicUsize,
    /// `lib.json` requests: two per listing (the library, then the items).
    pub lib_requests: AtomicUsize,
    pub lib_in_flight: AtomicUsize,
    pub lib_max_in_flight: AtomicUsize,
}

struct Shared {
    dir: PathBuf,
    mode: Mutex<Mode>,
    /// path -> Location of a 302 answer.
    redirects: Mutex<HashMap<String, String>>,
    stats: Arc<Stats>,
}

pub struct FaultServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: Option<JoinSet<()>>,
}

impl FaultServer {
    /// Serves `dir` on `bind` (port 0: any) on the current runtime.
    pub async fn start(bind: SocketAddr, dir: &Path) -> FaultServer {
        let listener = TcpListener::bind(bind).await.expect("bind fault server");
        let addr = listener.local_addr().unwrap();
        let mut server = FaultServer {
            addr,
            shared: Arc::new(Shared {
                dir: dir.to_path_buf(),
                mode: Mutex::new(Mode::Serve),
                redirects: Mutex::default(),
                stats: Arc::default(),
            }),
            tasks: None,
        };
        server.serve(listener);
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    pub fn set(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    pub fn redirect(&self, path: &str, location: &str) {
        self.shared
            .redirects
            .lock()
            .unwrap()
            .insert(path.to_string(), location.to_string());
    }

    pub fn stats(&self) -> Arc<Stats> {
        self.shared.stats.clone()
    }

    fn serve(&mut self, listener: TcpListener) {
        let shared = self.shared.clone();
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                shared.stats.connections.fetch_add(1, Ordering::SeqCst);
                connections.spawn(handle(stream, shared.clone()));
                while connections.try_join_next().is_some() {}
            }
        });
        self.tasks = Some(tasks);
    }

    /// Vanishes: the port closes and every open connection is dropped.
    pub async fn down(&mut self) {
        if let Some(mut tasks) = self.tasks.take() {
            tasks.shutdown().await;
        }
    }

    /// Comes back on the same port.
    pub async fn up(&mut self) {
        let listener = TcpListener::bind(self.addr)
            .await
            .expect("bind fault server again");
        self.serve(listener);
    }
}

struct InFlight<'a>(&'a Stats);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.lib_in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle(mut stream: TcpStream, shared: Arc<Shared>) {
    loop {
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
            if request.len() > 65536 {
                return;
            }
        }
        let stats = &shared.stats;
        stats.requests.fetch_add(1, Ordering::SeqCst);
        let text = String::from_utf8_lossy(&request);
        let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
        let _guard = path.ends_with("lib.json").then(|| {
            stats.lib_requests.fetch_add(1, Ordering::SeqCst);
            let now = stats.lib_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            stats.lib_max_in_flight.fetch_max(now, Ordering::SeqCst);
            InFlight(stats)
        });
        let mode = *shared.mode.lock().unwrap();
        let redirect = shared.redirects.lock().unwrap().get(&path).cloned();
        if let Some(location) = redirect {
            let answer =
                format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n");
            if stream.write_all(answer.as_bytes()).await.is_err() {
                return;
            }
            continue;
        }
        let body = (!path.split('/').any(|s| s == ".."))
            .then(|| std::fs::read(shared.dir.join(path.trim_start_matches('/'))).ok())
            .flatten();
        match mode {
            Mode::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return;
            }
            Mode::SlowLoris => {
                let head = "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n";
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                loop {
                    if stream.write_all(b" ").await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            Mode::Reset => {
                let body = body.unwrap_or_else(|| vec![b' '; 1000]);
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                    body.len() * 2
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&body[..body.len() / 2]).await;
                let _ = stream.flush().await;
                // SO_LINGER 0: closing sends RST instead of FIN (and, with a zero linger, never
                // blocks the thread, which is what the deprecation warns of).
                #[allow(deprecated)]
                let _ = stream.set_linger(Some(Duration::ZERO));
                return;
            }
            Mode::Slow(delay) => tokio::time::sleep(delay).await,
            Mode::Serve => {}
        }
        let answer = match body {
            Some(body) => {
                let mut r = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len())
                    .into_bytes();
                r.extend(body);
                r
            }
            None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
        };
        if stream.write_all(&answer).await.is_err() {
            return;
        }
    }
}
