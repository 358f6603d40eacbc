//! [`Emulator::start`]: the emulator on its own runtime and thread, and the handle on it.

use std::net::{Ipv4Addr, SocketAddr};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::EmulatorError;
use crate::config::EmulatorConfig;
use crate::faults::FaultSpec;
use crate::server::serve_with_shutdown;
use crate::state::{AudienceDetail, AudienceSummary, EmulatorState, LoggedRequest};

/// Entry point: starts emulators.
#[derive(Debug)]
pub struct Emulator;

impl Emulator {
    /// Binds `127.0.0.1:config.port` and serves the emulator from a background thread running
    /// its own Tokio runtime. Returns once the port is listening. Works from synchronous code
    /// and from inside an async runtime (e.g. a `#[tokio::test]`).
    pub fn start(config: EmulatorConfig) -> Result<EmulatorHandle, EmulatorError> {
        let state = EmulatorState::new(&config)?;
        let bind_err = |source| EmulatorError::Bind {
            port: config.port,
            source,
        };
        let listener =
            std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, config.port)).map_err(bind_err)?;
        listener.set_nonblocking(true).map_err(bind_err)?;
        let addr = listener.local_addr().map_err(bind_err)?;
        let _ = state.shared.base_url.set(format!("http://{addr}"));

        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread_state = state.clone();
        let thread = std::thread::Builder::new()
            .name("audex-emulator".to_owned())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("audex-emulator-worker")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(EmulatorError::Runtime(e)));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(EmulatorError::Runtime(e)));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(tokio::runtime::Handle::current()));
                    let shutdown = async {
                        let _ = shutdown_rx.await;
                    };
                    let _ = serve_with_shutdown(listener, thread_state, shutdown).await;
                });
                runtime.shutdown_timeout(Duration::from_millis(500));
            })
            .map_err(EmulatorError::Runtime)?;
        let runtime = match ready_rx.recv() {
            Ok(Ok(handle)) => handle,
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(EmulatorError::Runtime(std::io::Error::other(
                    "the emulator thread exited during start-up",
                )));
            }
        };
        Ok(EmulatorHandle {
            state,
            addr,
            runtime,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }
}

/// A running emulator. Dropping it shuts the emulator down, like [`EmulatorHandle::shutdown`].
#[derive(Debug)]
pub struct EmulatorHandle {
    state: EmulatorState,
    addr: SocketAddr,
    runtime: tokio::runtime::Handle,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EmulatorHandle {
    /// `http://127.0.0.1:PORT`, the Graph base URL (append `/v25.0/...`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address listened on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared state, for everything the handle does not forward.
    pub fn state(&self) -> &EmulatorState {
        &self.state
    }

    /// The seeded user access token.
    pub fn access_token(&self) -> &str {
        self.state.access_token()
    }

    /// The app id.
    pub fn app_id(&self) -> &str {
        self.state.app_id()
    }

    /// The app secret.
    pub fn app_secret(&self) -> &str {
        self.state.app_secret()
    }

    /// Adds a fault after those already active.
    pub fn inject(&self, fault: FaultSpec) {
        self.state.inject(fault);
    }

    /// Removes every active fault.
    pub fn clear_faults(&self) {
        self.state.clear_faults();
    }

    /// Moves the emulator's clock forward.
    pub fn advance_clock(&self, by: Duration) {
        self.state.advance_clock(by);
    }

    /// Invalidates every token issued so far (later calls get 190/460).
    pub fn revoke_token(&self) {
        self.state.revoke_token();
    }

    /// Every audience, in creation order.
    pub fn audiences(&self) -> Vec<AudienceSummary> {
        self.state.audiences()
    }

    /// The contents of one audience.
    pub fn audience(&self, id: &str) -> Option<AudienceDetail> {
        self.state.audience(id)
    }

    /// The Graph requests received so far (never tokens or parameters).
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.state.request_log()
    }

    /// Blocks until Ctrl-C (SIGINT), then shuts the emulator down. For a foreground CLI; call
    /// it from synchronous code.
    pub fn wait(self) {
        let (tx, rx) = std::sync::mpsc::channel();
        self.runtime.spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            let _ = tx.send(());
        });
        let _ = rx.recv();
        self.shutdown();
    }

    /// Stops listening and waits for the emulator's thread to finish.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.stop();
    }
}
