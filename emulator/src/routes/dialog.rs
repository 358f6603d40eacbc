//! `dialog/oauth`: the Facebook Login consent page and its answer.
//!
//! `GET` renders a page naming the app and the requested scopes with two buttons, "Continue"
//! (`id="consent-continue"`) and "Cancel" (`id="consent-cancel"`), in a form that POSTs back to
//! the same path. The POST redirects (302) to `redirect_uri?code=...&state=...`, or on Cancel to
//! `redirect_uri?error=access_denied&error_code=200&error_description=Permissions+error&error_reason=user_denied&state=...`.

use super::{Call, Reply};
use crate::graph_error::{GraphError, GraphResult};
use crate::state::EmulatorState;
use crate::state::tokens::DialogRequest;

/// Answers `GET` (the page) or `POST` (the decision).
pub(super) fn dialog(state: &EmulatorState, call: &Call<'_>) -> GraphResult<Reply> {
    match call.method {
        "GET" => page(state, call),
        "POST" => decide(state, call),
        m => Err(GraphError::unsupported(m, "dialog")),
    }
}

fn page(state: &EmulatorState, call: &Call<'_>) -> GraphResult<Reply> {
    let p = call.params;
    let client_id = p.required("client_id")?;
    if client_id != state.app_id() {
        return Err(GraphError::new(
            101,
            "Error validating application. Invalid application ID.",
        ));
    }
    let redirect_uri = p.required("redirect_uri")?;
    if !(redirect_uri.starts_with("http://") || redirect_uri.starts_with("https://")) {
        return Err(GraphError::invalid_param(
            "Param redirect_uri must be an absolute http(s) URL",
        ));
    }
    if let Some(rt) = p.str("response_type")
        && rt != "code"
    {
        return Err(GraphError::invalid_param(format!(
            "response_type {rt} is not supported by the emulator; use response_type=code"
        )));
    }
    let mut scopes: Vec<String> = Vec::new();
    for s in p
        .str("scope")
        .unwrap_or_default()
        .split([',', ' '])
        .filter(|s| !s.is_empty())
    {
        if !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_owned());
        }
    }
    if scopes.is_empty() {
        scopes.push("public_profile".to_owned());
    }
    let request = DialogRequest {
        redirect_uri,
        state: p.str("state"),
        scopes,
    };
    let items: String = request
        .scopes
        .iter()
        .map(|s| format!("      <li><code>{}</code></li>\n", escape(s)))
        .collect();
    let host = escape(
        request
            .redirect_uri
            .split('/')
            .nth(2)
            .unwrap_or(&request.redirect_uri),
    );
    let id = state.world().tokens.open_dialog(request);
    Ok(Reply::Html(format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Log in with Facebook | Audex Emulator</title>
  <style>
    body {{ font-family: Helvetica, Arial, sans-serif; background: #f0f2f5; margin: 0; }}
    main {{ max-width: 420px; margin: 60px auto; background: #fff; border-radius: 8px;
            box-shadow: 0 2px 8px rgba(0,0,0,.15); padding: 24px; }}
    h1 {{ font-size: 20px; }}
    .note {{ color: #65676b; font-size: 13px; }}
    button {{ font-size: 15px; padding: 8px 20px; border-radius: 6px; border: 0; cursor: pointer; }}
    #consent-continue {{ background: #1877f2; color: #fff; }}
    #consent-cancel {{ background: #e4e6eb; color: #050505; }}
  </style>
</head>
<body>
  <main>
    <h1>Audex Emulator is requesting access</h1>
    <p>App <strong>Audex Emulator</strong> (app id {app_id}) would like to:</p>
    <ul id="scopes">
{items}    </ul>
    <p class="note">You will be sent back to <strong>{host}</strong>. This is the local Graph API
    emulator: no Facebook account is involved.</p>
    <form method="post" action="{action}">
      <input type="hidden" name="dialog_id" value="{id}">
      <button type="submit" id="consent-cancel" name="decision" value="cancel">Cancel</button>
      <button type="submit" id="consent-continue" name="decision" value="continue">Continue</button>
    </form>
  </main>
</body>
</html>
"#,
        app_id = escape(state.app_id()),
        action = escape(call.path),
    )))
}

fn decide(state: &EmulatorState, call: &Call<'_>) -> GraphResult<Reply> {
    let p = call.params;
    let id = p.required("dialog_id")?;
    let mut world = state.world();
    let request = world.tokens.take_dialog(&id).ok_or_else(|| {
        GraphError::invalid_param("This login dialog has expired or was already answered")
    })?;
    let mut q = form_urlencoded::Serializer::new(String::new());
    if p.str("decision").as_deref() == Some("continue") {
        let code = world.tokens.issue_code(&request, call.now_s());
        q.append_pair("code", &code);
    } else {
        q.append_pair("error", "access_denied");
        q.append_pair("error_code", "200");
        q.append_pair("error_description", "Permissions error");
        q.append_pair("error_reason", "user_denied");
    }
    if let Some(s) = &request.state {
        q.append_pair("state", s);
    }
    let sep = if request.redirect_uri.contains('?') {
        '&'
    } else {
        '?'
    };
    Ok(Reply::Redirect(format!(
        "{}{sep}{}",
        request.redirect_uri,
        q.finish()
    )))
}

/// Escapes text for HTML bodies and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
