//! The loopback redirect listener: a tiny HTTP server on the redirect URI's host, port and
//! path that waits for the browser to come back from the authorization dialog.
//!
//! Destinations match redirect URIs exactly, so the listener binds the configured port (never
//! a random one). `localhost` is served on both 127.0.0.1 and ::1, since browsers try either.
//! Every connection is handled on its own thread, so a browser's idle pre-connection cannot
//! hold the real redirect up; other paths (`/favicon.ico`) get a 404.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use super::oauth::Callback;

/// How long one browser connection may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest request head read.
const MAX_HEAD: u64 = 16 * 1024;

/// Why the listener could not be set up or got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ListenerError {
    /// The redirect URI cannot be served locally.
    #[error(
        "redirect URI `{uri}` {reason}; use `--manual` to paste the redirected address instead"
    )]
    NotLoopback {
        /// The URI.
        uri: String,
        /// Why.
        reason: &'static str,
    },
    /// The port could not be bound.
    #[error(
        "cannot listen on {addr} for the redirect: {source}; free the port, or choose another redirect URI with --redirect-uri (and register it with the app)"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// Nothing came back in time.
    #[error(
        "no answer from the browser within {0} s; run `audex connect` again (or use `--manual`)"
    )]
    Timeout(u64),
}

/// A bound redirect listener.
pub struct Listener {
    sockets: Vec<TcpListener>,
    path: String,
}

impl Listener {
    /// Binds the redirect URI's loopback host and port (an `http://` URI).
    pub fn bind(redirect_uri: &str) -> Result<Self, ListenerError> {
        let not_loopback = |reason| ListenerError::NotLoopback {
            uri: redirect_uri.to_owned(),
            reason,
        };
        let url = reqwest::Url::parse(redirect_uri).map_err(|_| not_loopback("is not a URL"))?;
        if url.scheme() != "http" {
            return Err(not_loopback(
                "is not an http:// address (a local listener cannot serve https)",
            ));
        }
        let port = url
            .port_or_known_default()
            .ok_or_else(|| not_loopback("has no port"))?;
        let host = url.host_str().unwrap_or_default();
        let addrs: Vec<IpAddr> = if host.eq_ignore_ascii_case("localhost") {
            vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()]
        } else {
            match host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
            {
                Ok(ip) if ip.is_loopback() => vec![ip],
                _ => {
                    return Err(not_loopback(
                        "is not on this machine (localhost, 127.0.0.1 or [::1])",
                    ));
                }
            }
        };
        let mut sockets = Vec::new();
        for (i, ip) in addrs.iter().enumerate() {
            let addr = SocketAddr::new(*ip, port);
            match TcpListener::bind(addr) {
                Ok(s) => sockets.push(s),
                // `localhost` on a machine without IPv6: the IPv4 socket is enough.
                Err(_) if i > 0 && !sockets.is_empty() => {}
                Err(source) => return Err(ListenerError::Bind { addr, source }),
            }
        }
        for s in &sockets {
            s.set_nonblocking(true)
                .map_err(|source| ListenerError::Bind {
                    addr: s
                        .local_addr()
                        .unwrap_or_else(|_| SocketAddr::new(addrs[0], port)),
                    source,
                })?;
        }
        Ok(Self {
            sockets,
            path: url.path().to_owned(),
        })
    }

    /// Waits for the first request on the redirect path and returns what it carried. The
    /// browser gets a short page telling the user to go back to the terminal (or, when its
    /// `state` is not `expected_state`, that the answer was rejected).
    pub fn wait(self, expected_state: &str, timeout: Duration) -> Result<Callback, ListenerError> {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel::<Callback>();
        let path = Arc::new((self.path, expected_state.to_owned()));
        for socket in self.sockets {
            let stop = stop.clone();
            let tx = tx.clone();
            let path = path.clone();
            std::thread::Builder::new()
                .name("audex-redirect".to_owned())
                .spawn(move || accept_loop(&socket, &stop, &tx, &path))
                .map_err(|source| ListenerError::Bind {
                    addr: SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0),
                    source,
                })?;
        }
        drop(tx);
        let result = rx
            .recv_timeout(timeout)
            .map_err(|_| ListenerError::Timeout(timeout.as_secs()));
        stop.store(true, Ordering::Relaxed);
        result
    }
}

fn accept_loop(
    socket: &TcpListener,
    stop: &AtomicBool,
    tx: &mpsc::Sender<Callback>,
    path: &Arc<(String, String)>,
) {
    while !stop.load(Ordering::Relaxed) {
        match socket.accept() {
            Ok((stream, _)) => {
                let tx = tx.clone();
                let path = path.clone();
                let _ = std::thread::Builder::new()
                    .name("audex-redirect-conn".to_owned())
                    .spawn(move || {
                        if let Some(cb) = serve(stream, &path.0, &path.1) {
                            let _ = tx.send(cb);
                        }
                    });
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Answers one connection; returns the callback when it was a request for the redirect path.
fn serve(stream: TcpStream, path: &str, expected_state: &str) -> Option<Callback> {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let mut reader = BufReader::new(std::io::Read::take(&stream, MAX_HEAD));
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    // Drain the header lines so the browser sees an orderly answer.
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line.trim().is_empty() => break,
            Ok(_) => {}
        }
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let (req_path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut out = &stream;
    if method != "GET" || req_path != path {
        let _ = respond(&mut out, "404 Not Found", "Not found", "Nothing here.");
        return None;
    }
    let callback = Callback::from_query(query);
    let (title, body) = if callback.state.as_deref() != Some(expected_state) {
        (
            "Authorization rejected",
            "This answer does not belong to the authorization audex started, so audex rejected it. Run `audex connect` again.",
        )
    } else if callback.error.is_some() {
        (
            "Authorization refused",
            "audex was not authorized. You can close this tab; the terminal says what happened.",
        )
    } else {
        (
            "audex received the authorization",
            "You can close this tab and go back to the terminal.",
        )
    };
    let _ = respond(&mut out, "200 OK", title, body);
    Some(callback)
}

fn respond(out: &mut &TcpStream, status: &str, title: &str, body: &str) -> std::io::Result<()> {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n<body style=\"font-family: sans-serif; margin: 60px auto; max-width: 480px\"><h1>{title}</h1><p>{body}</p></body></html>\n"
    );
    write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n{html}",
        html.len()
    )?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port")
    }

    fn get(port: u16, target: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        write!(s, "GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").expect("write");
        let mut answer = String::new();
        s.read_to_string(&mut answer).expect("read");
        answer
    }

    #[test]
    fn returns_the_redirect_and_ignores_other_paths() {
        let port = free_port();
        let listener = Listener::bind(&format!("http://localhost:{port}/callback")).expect("bind");
        let waiter = std::thread::spawn(move || listener.wait("s1", Duration::from_secs(10)));
        // An idle connection (a browser's pre-connection) must not hold anything up.
        let _idle = TcpStream::connect(("127.0.0.1", port)).expect("idle");
        assert!(get(port, "/favicon.ico").starts_with("HTTP/1.1 404"));
        let page = get(port, "/callback?code=AQ1&state=s1");
        assert!(page.starts_with("HTTP/1.1 200") && page.contains("go back to the terminal"));
        let cb = waiter.join().expect("thread").expect("callback");
        assert_eq!(cb.state.as_deref(), Some("s1"));
        assert_eq!(
            cb.code.map(|c| c.expose().to_owned()).as_deref(),
            Some("AQ1")
        );
    }

    #[test]
    fn a_foreign_state_gets_a_rejection_page() {
        let port = free_port();
        let listener = Listener::bind(&format!("http://127.0.0.1:{port}/cb")).expect("bind");
        let waiter = std::thread::spawn(move || listener.wait("s1", Duration::from_secs(10)));
        let page = get(port, "/cb?code=AQ1&state=forged");
        assert!(page.contains("audex rejected it"), "{page}");
        let cb = waiter.join().expect("thread").expect("callback");
        assert_eq!(cb.state.as_deref(), Some("forged"));
    }

    #[test]
    fn times_out_and_refuses_remote_or_https_uris() {
        let port = free_port();
        let listener = Listener::bind(&format!("http://127.0.0.1:{port}/cb")).expect("bind");
        assert!(matches!(
            listener.wait("s1", Duration::from_millis(100)),
            Err(ListenerError::Timeout(_))
        ));
        for uri in [
            "https://localhost:8765/callback",
            "http://example.com:8765/callback",
            "not a url",
        ] {
            assert!(
                matches!(Listener::bind(uri), Err(ListenerError::NotLoopback { .. })),
                "{uri}"
            );
        }
    }

    #[test]
    fn a_busy_port_is_reported() {
        let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = taken.local_addr().expect("addr").port();
        let e = Listener::bind(&format!("http://127.0.0.1:{port}/cb"))
            .err()
            .expect("busy");
        assert!(e.to_string().contains("--redirect-uri"), "{e}");
    }
}
