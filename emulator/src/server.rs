//! The HTTP server: an accept loop on a Tokio listener, one HTTP/1.1 connection task per
//! client, each able to be closed mid-request by a `drop` fault.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tower::ServiceExt;

use crate::params::MAX_BODY_BYTES;
use crate::pipeline::{self, ConnKill};
use crate::routes::admin;
use crate::state::EmulatorState;

/// The application: `/_emulator` control routes, everything else is the Graph API.
fn app(state: EmulatorState) -> Router {
    admin::router()
        .fallback(pipeline::graph)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Serves the emulator on `listener` until the task is dropped.
///
/// For a CLI that runs the emulator in the foreground on its own runtime;
/// [`Emulator::start`](crate::Emulator::start) does this on a background thread.
pub async fn serve(listener: TcpListener, state: EmulatorState) -> std::io::Result<()> {
    serve_with_shutdown(listener, state, std::future::pending()).await
}

/// Serves the emulator on `listener` until `shutdown` completes. Connections already open when
/// it does are not waited for.
pub async fn serve_with_shutdown(
    listener: TcpListener,
    state: EmulatorState,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    // Already set when started through `Emulator::start`, with the same value.
    let _ = state.shared.base_url.set(format!("http://{addr}"));
    let app = app(state);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(connection(stream, app.clone()));
                }
                // Out of file descriptors and the like: back off a little, keep serving.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
        }
    }
}

/// Serves one connection until the client closes it or a fault asks for it to be dropped.
async fn connection(stream: TcpStream, app: Router) {
    let _ = stream.set_nodelay(true);
    let kill = Arc::new(Notify::new());
    let marker = ConnKill(Arc::clone(&kill));
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(marker.clone());
        app.clone().oneshot(req.map(Body::new))
    });
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = conn => {}
        // Dropping the connection closes the socket without an answer.
        () = kill.notified() => {}
    }
}
