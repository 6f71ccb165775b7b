//! Serving published libraries over HTTP on loopback.

use std::net::TcpListener;
use std::path::PathBuf;

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Serves `dir` read-only on 127.0.0.1 (a stand-in for any static web server).
pub async fn serve_dir(dir: PathBuf) -> url::Url {
    use axum::extract::{Request, State};
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    async fn get(State(dir): State<PathBuf>, req: Request) -> Response {
        let path = percent_encoding::percent_decode_str(req.uri().path())
            .decode_utf8_lossy()
            .into_owned();
        if path.split('/').any(|s| s == "..") {
            return StatusCode::BAD_REQUEST.into_response();
        }
        match std::fs::read(dir.join(path.trim_start_matches('/'))) {
            Ok(bytes) => bytes.into_response(),
            Err(_) => StatusCode::NOT_FOUND.into_response(),
        }
    }
    let app = axum::Router::new().fallback(get).with_state(dir);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url::Url::parse(&format!("http://{addr}/lib.json")).unwrap()
}
