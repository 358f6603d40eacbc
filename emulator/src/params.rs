//! Request parameters: the query string merged with a JSON, form-encoded or multipart body.
//!
//! Facebook's SDKs send form fields whose values are JSON strings (`payload`, `session`,
//! `lookalike_spec`); integrations such as Segment send a JSON body. Both are accepted: a field
//! read with [`Params::json`] may be a JSON value or a string holding JSON. Body fields override
//! query fields of the same name.

use std::borrow::Cow;
use std::collections::BTreeMap;

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequest, Multipart};
use axum::http::{Request, header};
use serde_json::Value;

use crate::graph_error::{GraphError, GraphResult};

/// Largest body accepted (a 10,000-row multi-key upload is a few MB).
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Merged request parameters.
#[derive(Debug, Default, Clone)]
pub(crate) struct Params {
    values: BTreeMap<String, Value>,
}

impl Params {
    /// Parameters of a query string alone.
    pub(crate) fn from_query(query: Option<&str>) -> Self {
        let mut p = Self::default();
        if let Some(q) = query {
            p.extend_form(q.as_bytes());
        }
        p
    }

    /// Reads the query string and body of `req`.
    pub(crate) async fn read(req: Request<Body>) -> GraphResult<Self> {
        let mut params = Self::from_query(req.uri().query());
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if content_type.starts_with("multipart/form-data") {
            let mut multipart = Multipart::from_request(req, &())
                .await
                .map_err(|e| GraphError::invalid_param(format!("Invalid multipart body: {e}")))?;
            while let Some(field) = multipart
                .next_field()
                .await
                .map_err(|e| GraphError::invalid_param(format!("Invalid multipart body: {e}")))?
            {
                let name = field.name().unwrap_or_default().to_owned();
                let text = field.text().await.map_err(|e| {
                    GraphError::invalid_param(format!("Invalid multipart field {name}: {e}"))
                })?;
                params.values.insert(name, Value::String(text));
            }
            return Ok(params);
        }
        let bytes = to_bytes(req.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|e| GraphError::invalid_param(format!("Could not read the body: {e}")))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(params);
        }
        if content_type.starts_with("application/json") {
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(map)) => params.values.extend(map),
                Ok(_) => {
                    return Err(GraphError::invalid_param(
                        "The JSON body must be an object of parameters",
                    ));
                }
                Err(e) => {
                    return Err(GraphError::invalid_param(format!(
                        "The JSON body could not be parsed: {e}"
                    )));
                }
            }
        } else {
            params.extend_form(&bytes);
        }
        Ok(params)
    }

    fn extend_form(&mut self, bytes: &[u8]) {
        for (k, v) in form_urlencoded::parse(bytes) {
            self.values
                .insert(k.into_owned(), Value::String(v.into_owned()));
        }
    }

    /// A scalar parameter as text (numbers and booleans are formatted).
    pub(crate) fn str(&self, name: &str) -> Option<String> {
        match self.values.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// A scalar parameter that must be non-empty, or `(#100) Missing parameter(s): name`.
    pub(crate) fn required(&self, name: &str) -> GraphResult<String> {
        self.str(name)
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| GraphError::missing_param(name))
    }

    /// A structured parameter: a JSON value (borrowed, never copied: an upload's `payload` is
    /// 10,000 rows), or a string that holds JSON.
    pub(crate) fn json(&self, name: &str) -> GraphResult<Option<Cow<'_, Value>>> {
        match self.values.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s)
                .map(|v| Some(Cow::Owned(v)))
                .map_err(|_| {
                    GraphError::invalid_param(format!("Param {name} must be a JSON object"))
                }),
            Some(v) => Ok(Some(Cow::Borrowed(v))),
        }
    }

    /// A positive integer parameter (`limit`).
    pub(crate) fn positive_int(&self, name: &str) -> GraphResult<Option<u64>> {
        match self.str(name) {
            None => Ok(None),
            Some(s) => match s.parse::<u64>() {
                Ok(n) if n > 0 => Ok(Some(n)),
                _ => Err(GraphError::invalid_param(format!(
                    "Param {name} must be a positive integer"
                ))),
            },
        }
    }

    /// The comma-separated `fields` list, with nested selections (`business{id,name}`) reduced
    /// to their top-level name.
    pub(crate) fn fields(&self) -> Option<Vec<String>> {
        let raw = self.str("fields")?;
        let mut out = Vec::new();
        let mut depth = 0_u32;
        let mut current = String::new();
        for c in raw.chars() {
            match c {
                '{' | '(' => depth += 1,
                '}' | ')' => depth = depth.saturating_sub(1),
                ',' if depth == 0 => out.push(std::mem::take(&mut current)),
                c if depth == 0 && !c.is_whitespace() => current.push(c),
                _ => {}
            }
        }
        out.push(current);
        // `.limit(5)`-style modifiers sit after a dot.
        let out: Vec<String> = out
            .into_iter()
            .map(|f| f.split('.').next().unwrap_or_default().to_owned())
            .filter(|f| !f.is_empty())
            .collect();
        Some(out)
    }
}

/// Reads a JSON bool leniently: `true`, `"true"`, `1`, `"1"`.
pub(crate) fn lenient_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_u64().map(|n| n != 0),
        Value::String(s) => match s.as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Reads a positive integer given as a JSON number or a numeric string.
pub(crate) fn lenient_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Reads a number given as a JSON number or a numeric string.
pub(crate) fn lenient_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_fields() {
        let p = Params::from_query(Some(
            "fields=id,name,business%7Bid,name%7D,adcreatives.limit(2)&limit=5",
        ));
        assert_eq!(
            p.fields(),
            Some(vec![
                "id".to_owned(),
                "name".to_owned(),
                "business".to_owned(),
                "adcreatives".to_owned()
            ])
        );
        assert_eq!(p.positive_int("limit"), Ok(Some(5)));
        assert!(p.positive_int("fields").is_err());
    }

    #[test]
    fn json_strings_inside_form_fields() {
        let p = Params::from_query(Some("payload=%7B%22schema%22%3A%22EMAIL_SHA256%22%7D"));
        let v = p.json("payload").expect("valid").expect("present");
        assert_eq!(v["schema"], "EMAIL_SHA256");
        let bad = Params::from_query(Some("payload=%7Bnope"));
        assert!(bad.json("payload").is_err());
    }

    #[test]
    fn lenient_readers() {
        assert_eq!(lenient_bool(&Value::String("true".into())), Some(true));
        assert_eq!(lenient_u64(&Value::String("12".into())), Some(12));
        assert_eq!(lenient_f64(&serde_json::json!(0.5)), Some(0.5));
    }
}
