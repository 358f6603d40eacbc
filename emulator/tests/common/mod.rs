//! Helpers shared by the integration tests: start an emulator, call it over real HTTP.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::time::Duration;

use audex_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

pub const VERSION: &str = "v25.0";
pub const ACCOUNT: &str = "act_1000000001";

/// A started emulator and an HTTP client for it.
pub struct Fixture {
    pub emu: EmulatorHandle,
    pub http: Client,
}

/// One answer: status, headers, JSON body (`Value::Null` when not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn code(&self) -> Option<i64> {
        self.body["error"]["code"].as_i64()
    }
    pub fn subcode(&self) -> Option<i64> {
        self.body["error"]["error_subcode"].as_i64()
    }
    pub fn message(&self) -> String {
        self.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
    /// Panics with the body unless the status is 200.
    pub fn ok(self) -> Value {
        assert_eq!(self.status, 200, "unexpected answer: {}", self.text);
        self.body
    }
}

pub fn client() -> Client {
    install_crypto_provider();
    Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client builds")
}

pub fn answer(r: Response) -> Answer {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().expect("body readable");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
        text,
    }
}

pub fn start() -> Fixture {
    start_with(EmulatorConfig::default())
}

pub fn start_with(config: EmulatorConfig) -> Fixture {
    Fixture {
        emu: Emulator::start(config).expect("emulator starts"),
        http: client(),
    }
}

/// A distinct SHA-256-shaped hex string for `n`.
pub fn h(n: u64) -> String {
    format!("{n:064x}")
}

impl Fixture {
    pub fn url(&self, path: &str) -> String {
        format!("{}/{VERSION}/{path}", self.emu.base_url())
    }

    pub fn send(&self, rb: RequestBuilder) -> Answer {
        answer(rb.send().expect("request answered"))
    }

    /// GET with the token in the Authorization header.
    pub fn get(&self, path: &str, query: &[(&str, &str)]) -> Answer {
        self.send(
            self.http
                .get(self.url(path))
                .bearer_auth(self.emu.access_token())
                .query(query),
        )
    }

    /// POST a JSON body with the token in the Authorization header.
    pub fn post_json(&self, path: &str, body: &Value) -> Answer {
        self.send(
            self.http
                .post(self.url(path))
                .bearer_auth(self.emu.access_token())
                .json(body),
        )
    }

    /// POST a form body with the token as a form field.
    pub fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        fields.push(("access_token", self.emu.access_token()));
        self.send(self.http.post(self.url(path)).form(&fields))
    }

    /// DELETE with a JSON body.
    pub fn delete_json(&self, path: &str, body: &Value) -> Answer {
        self.send(
            self.http
                .delete(self.url(path))
                .bearer_auth(self.emu.access_token())
                .json(body),
        )
    }

    /// Creates a CUSTOM audience in `account` and returns its id.
    pub fn create_in(&self, account: &str, name: &str) -> String {
        let body = self
            .post_json(
                &format!("{account}/customaudiences"),
                &json!({"name": name, "subtype": "CUSTOM",
                        "customer_file_source": "USER_PROVIDED_ONLY"}),
            )
            .ok();
        body["id"].as_str().expect("id is a string").to_owned()
    }

    /// Creates a CUSTOM audience in the demo account and returns its id.
    pub fn create(&self, name: &str) -> String {
        self.create_in(ACCOUNT, name)
    }

    /// POSTs `/users` with a single-key EMAIL_SHA256 payload and an optional session.
    pub fn add_emails(&self, audience: &str, data: &[String], session: Option<Value>) -> Answer {
        let mut body = json!({"payload": {"schema": "EMAIL_SHA256", "data": data}});
        if let Some(s) = session {
            body["session"] = s;
        }
        self.post_json(&format!("{audience}/users"), &body)
    }

    pub fn members(&self, audience: &str) -> Vec<String> {
        self.emu
            .audience(audience)
            .expect("audience exists")
            .members
    }
}

/// Makes rustls usable whatever reqwest features the workspace unified (see Cargo.toml).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
