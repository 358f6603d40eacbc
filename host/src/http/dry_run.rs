//! Dry runs: every request is written to `requests.jsonl` with the synthetic answer it got,
//! and nothing leaves the machine.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde_json::{Value, json};

use super::{HttpResponse, PreparedRequest, QueryValue, Transport, TransportError};

/// First synthetic object id; numeric like Facebook's, and easy to recognise.
const FIRST_SYNTHETIC_ID: u64 = 990_000_000_000_001;

/// Records requests and answers each with `{"id": "<synthetic>"}` and status 200.
pub struct DryRunTransport {
    out: Option<BufWriter<File>>,
    pending: BTreeMap<u64, HttpResponse>,
    next_request: u64,
    next_object: u64,
    recorded: u64,
    error: Option<std::io::Error>,
}

impl DryRunTransport {
    /// Writes to `path` (created or truncated), or records nothing when `None`.
    pub fn new(path: Option<&Path>) -> std::io::Result<Self> {
        let out = match path {
            Some(p) => Some(BufWriter::with_capacity(1 << 20, File::create(p)?)),
            None => None,
        };
        Ok(Self {
            out,
            pending: BTreeMap::new(),
            next_request: 1,
            next_object: FIRST_SYNTHETIC_ID,
            recorded: 0,
            error: None,
        })
    }

    /// Requests recorded so far.
    pub fn recorded(&self) -> u64 {
        self.recorded
    }

    /// Flushes the file; reports the first write error, if any happened.
    pub fn flush(&mut self) -> std::io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if let Some(out) = &mut self.out {
            out.flush()?;
        }
        Ok(())
    }

    fn record(&mut self, request: &PreparedRequest, response: &HttpResponse) {
        let Some(out) = &mut self.out else {
            return;
        };
        let query: serde_json::Map<String, Value> = request
            .query
            .iter()
            .map(|(name, value)| {
                let v = match value {
                    QueryValue::Plain(v) => v.clone(),
                    QueryValue::Secret(s) => format!("<secret:{s}>"),
                };
                (name.clone(), Value::String(v))
            })
            .collect();
        let body = request.body.as_deref().map(|b| {
            serde_json::from_slice::<Value>(b)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(b).into_owned()))
        });
        let line = json!({
            "method": request.method.as_str(),
            "endpoint": request.endpoint,
            "path": request.path,
            "query": query,
            "body": body,
            "response": {
                "status": response.status,
                "body": serde_json::from_slice::<Value>(&response.body).unwrap_or(Value::Null),
            },
        });
        let written = serde_json::to_writer(&mut *out, &line)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n"));
        if let Err(e) = written {
            self.error.get_or_insert(e);
        }
        self.recorded += 1;
    }
}

impl Transport for DryRunTransport {
    fn submit(&mut self, request: PreparedRequest) -> Result<u64, TransportError> {
        let id = self.next_request;
        self.next_request += 1;
        let object = self.next_object;
        self.next_object += 1;
        let response = HttpResponse {
            status: 200,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: format!("{{\"id\":\"{object}\"}}").into_bytes(),
        };
        self.record(&request, &response);
        self.pending.insert(id, response);
        Ok(id)
    }

    fn finish(&mut self) -> Result<(), String> {
        self.flush().map_err(|e| e.to_string())
    }

    fn wait(&mut self, id: u64) -> Result<HttpResponse, TransportError> {
        self.pending
            .remove(&id)
            .ok_or(TransportError::UnknownRequest(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::mediator::Method;

    #[test]
    fn records_requests_with_json_bodies_and_secret_placeholders() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("requests.jsonl");
        let mut t = DryRunTransport::new(Some(&path)).expect("transport");
        let request = PreparedRequest {
            method: Method::Post,
            endpoint: "graph".into(),
            base_url: "https://graph.facebook.com".into(),
            path: "/v25.0/act_1/customaudiences".into(),
            query: vec![(
                "input_token".into(),
                QueryValue::Secret("access-token".into()),
            )],
            headers: vec![],
            body: Some(br#"{"name":"x"}"#.to_vec()),
            authenticate: true,
            idempotent: false,
        };
        let a = t.submit(request.clone()).expect("submit");
        let b = t.submit(request).expect("submit");
        assert_ne!(t.wait(a).expect("a").body, t.wait(b).expect("b").body);
        assert_eq!(t.wait(a), Err(TransportError::UnknownRequest(a)));
        t.flush().expect("flush");
        let text = std::fs::read_to_string(&path).expect("read");
        let first: Value = serde_json::from_str(text.lines().next().expect("line")).expect("json");
        assert_eq!(first["body"]["name"], "x");
        assert_eq!(first["query"]["input_token"], "<secret:access-token>");
        assert_eq!(first["response"]["body"]["id"], "990000000000001");
        assert_eq!(text.lines().count(), 2);
    }
}
