//! Starting and stopping: from sync code, inside a Tokio runtime, on a fixed port, and the
//! async `serve` entry point.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpStream;
use std::time::Duration;

use audex_emulator::{Emulator, EmulatorConfig, EmulatorError, EmulatorState, serve_with_shutdown};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_and_stops_inside_a_tokio_runtime() {
    let emu = Emulator::start(EmulatorConfig::default()).expect("starts inside a runtime");
    let http = {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
    }
    .no_proxy()
    .build()
    .unwrap();
    let r = http
        .get(format!("{}/v25.0/me/adaccounts", emu.base_url()))
        .bearer_auth(emu.access_token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 3);
    drop(emu); // Drop shuts down without panicking inside the runtime.
}

#[test]
fn shutdown_closes_the_port() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let addr = emu.addr();
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok());
    emu.shutdown();
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}

#[test]
fn a_taken_port_and_a_bad_config_are_start_errors() {
    let first = Emulator::start(EmulatorConfig::default()).unwrap();
    let port = first.addr().port();
    let again = Emulator::start(EmulatorConfig {
        port,
        ..EmulatorConfig::default()
    });
    match again {
        Err(e @ EmulatorError::Bind { .. }) => assert!(e.to_string().contains(&port.to_string())),
        other => panic!("expected a bind error, got {other:?}"),
    }
    let bad = Emulator::start(EmulatorConfig {
        calls_per_hour: 0,
        ..EmulatorConfig::default()
    });
    assert!(matches!(bad, Err(EmulatorError::Config(m)) if m.contains("calls_per_hour")));
    // Each emulator has its own state and token.
    let second = Emulator::start(EmulatorConfig::default()).unwrap();
    assert_ne!(first.access_token(), second.access_token());
    assert_ne!(first.base_url(), second.base_url());
}

#[test]
fn serve_runs_on_a_callers_runtime_until_shutdown() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let state = EmulatorState::new(&EmulatorConfig::default()).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let server = runtime.spawn(serve_with_shutdown(listener, state.clone(), async {
        let _ = rx.await;
    }));
    let http = common::client();
    let r = http
        .get(format!("http://{addr}/v25.0/act_1000000001"))
        .bearer_auth(state.access_token())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(state.request_log().len(), 1);
    // Set before the first connection was accepted.
    assert_eq!(state.base_url(), Some(format!("http://{addr}").as_str()));
    tx.send(()).unwrap();
    runtime.block_on(server).unwrap().unwrap();
}
