//! `fields=` selection and cursor pagination of Graph responses.

use serde_json::{Map, Value, json};

use crate::graph_error::{GraphError, GraphResult};
use crate::ids;
use crate::params::Params;

/// Default page size of list edges.
const DEFAULT_LIMIT: u64 = 25;
/// Largest page size honoured.
const MAX_LIMIT: u64 = 5_000;

/// Keeps the requested fields of `all` (or `default` when none were requested). `id` is always
/// returned; a field the node type does not have is Facebook's "nonexisting field" error.
pub(crate) fn select(
    all: &Map<String, Value>,
    requested: Option<&[String]>,
    default: &[&str],
    known: &[&str],
    node_type: &str,
) -> GraphResult<Map<String, Value>> {
    let defaults: Vec<String> = default.iter().map(|s| (*s).to_owned()).collect();
    let wanted = requested.unwrap_or(&defaults);
    if let Some(bad) = wanted.iter().find(|f| !known.contains(&f.as_str())) {
        return Err(GraphError::invalid_param(format!(
            "Tried accessing nonexisting field ({bad}) on node type ({node_type})"
        )));
    }
    let mut out = Map::new();
    for f in wanted.iter().map(String::as_str).chain(["id"]) {
        if let Some(v) = all.get(f) {
            out.insert(f.to_owned(), v.clone());
        }
    }
    Ok(out)
}

/// Where a list edge lives, to build `paging.next`.
pub(crate) struct PageLink<'a> {
    /// `http://127.0.0.1:PORT`.
    pub(crate) base_url: &'a str,
    /// Request path.
    pub(crate) path: &'a str,
    /// The access token, when the client sent it as a parameter (Facebook repeats it in
    /// `next`); `None` when it came in the `Authorization` header.
    pub(crate) token_param: Option<&'a str>,
}

/// One page of `items` (id, object) after the `after` cursor, in Facebook's list shape.
pub(crate) fn page(
    items: Vec<(String, Map<String, Value>)>,
    params: &Params,
    link: &PageLink<'_>,
) -> GraphResult<Value> {
    let limit = params
        .positive_int("limit")?
        .unwrap_or(DEFAULT_LIMIT)
        .min(MAX_LIMIT) as usize;
    let start = match params.str("after") {
        None => 0,
        Some(cursor) => {
            let id = decode_cursor(&cursor).ok_or_else(|| {
                GraphError::invalid_param("The after cursor is not valid for this edge")
            })?;
            items
                .iter()
                .position(|(item, _)| *item == id)
                .map(|i| i + 1)
                .ok_or_else(|| {
                    GraphError::invalid_param("The after cursor is not valid for this edge")
                })?
        }
    };
    let total = items.len();
    let page: Vec<(String, Map<String, Value>)> =
        items.into_iter().skip(start).take(limit).collect();
    let mut out =
        json!({"data": page.iter().map(|(_, m)| Value::Object(m.clone())).collect::<Vec<_>>()});
    if let (Some((first, _)), Some((last, _))) = (page.first(), page.last()) {
        let after = ids::to_hex(last.as_bytes());
        let mut paging =
            json!({"cursors": {"before": ids::to_hex(first.as_bytes()), "after": after}});
        if start + page.len() < total {
            let mut q = form_urlencoded::Serializer::new(String::new());
            if let Some(token) = link.token_param {
                q.append_pair("access_token", token);
            }
            if let Some(fields) = params.str("fields") {
                q.append_pair("fields", &fields);
            }
            q.append_pair("limit", &limit.to_string());
            q.append_pair("after", &after);
            paging["next"] = json!(format!("{}{}?{}", link.base_url, link.path, q.finish()));
        }
        out["paging"] = paging;
    }
    Ok(out)
}

fn decode_cursor(cursor: &str) -> Option<String> {
    if !cursor.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(cursor.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize) -> Vec<(String, Map<String, Value>)> {
        (0..n)
            .map(|i| {
                let id = format!("act_{i}");
                let mut m = Map::new();
                m.insert("id".into(), json!(id));
                (id, m)
            })
            .collect()
    }

    const LINK: PageLink<'static> = PageLink {
        base_url: "http://127.0.0.1:1",
        path: "/v25.0/me/adaccounts",
        token_param: None,
    };

    #[test]
    fn pages_with_cursors() {
        let p1 = page(items(5), &Params::from_query(Some("limit=2")), &LINK).expect("page 1");
        assert_eq!(p1["data"].as_array().map(Vec::len), Some(2));
        let after = p1["paging"]["cursors"]["after"].as_str().expect("cursor");
        let next = p1["paging"]["next"].as_str().expect("next");
        assert!(next.starts_with("http://127.0.0.1:1/v25.0/me/adaccounts?limit=2&after="));
        let q = format!("limit=2&after={after}");
        let p2 = page(items(5), &Params::from_query(Some(&q)), &LINK).expect("page 2");
        assert_eq!(p2["data"][0]["id"], "act_2");
        let last = p2["paging"]["cursors"]["after"].as_str().expect("cursor");
        let q = format!("limit=2&after={last}");
        let p3 = page(items(5), &Params::from_query(Some(&q)), &LINK).expect("page 3");
        assert_eq!(p3["data"].as_array().map(Vec::len), Some(1));
        assert!(p3["paging"].get("next").is_none());
        assert!(page(items(5), &Params::from_query(Some("after=zz")), &LINK).is_err());
    }

    #[test]
    fn field_selection() {
        let mut all = Map::new();
        all.insert("id".into(), json!("1"));
        all.insert("name".into(), json!("n"));
        let known = ["id", "name", "subtype"];
        let one = select(
            &all,
            Some(&["name".to_owned()]),
            &["id"],
            &known,
            "CustomAudience",
        )
        .expect("known field");
        assert_eq!(Value::Object(one), json!({"id": "1", "name": "n"}));
        let err = select(
            &all,
            Some(&["nope".to_owned()]),
            &["id"],
            &known,
            "CustomAudience",
        )
        .expect_err("unknown field");
        assert!(err.message.contains("nonexisting field (nope)"));
    }
}
