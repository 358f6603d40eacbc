//! `${VAR}`, `${VAR:-default}` and `${VAR:?message}` in pipeline strings. `$$` is a literal `$`.

/// An interpolation failure.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum InterpolationError {
    /// `${VAR}` or `${VAR:?msg}` with VAR unset.
    #[error("environment variable `{name}` is not set{}", .message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Missing {
        /// The variable.
        name: String,
        /// The pipeline's own message (`${VAR:?message}`).
        message: Option<String>,
        /// The placeholder text, to locate it.
        placeholder: String,
    },
    /// `${` without `}` or with a bad name.
    #[error(
        "malformed placeholder `{placeholder}`: expected ${{NAME}}, ${{NAME:-default}} or ${{NAME:?message}}"
    )]
    Malformed {
        /// The placeholder text.
        placeholder: String,
    },
}

impl InterpolationError {
    /// The placeholder text as written (for locating it in the file).
    pub fn placeholder(&self) -> &str {
        match self {
            InterpolationError::Missing { placeholder, .. }
            | InterpolationError::Malformed { placeholder } => placeholder,
        }
    }
}

/// Replaces placeholders in `input` using `env` to look variables up. An empty variable
/// counts as set for `${VAR}` and as unset for `:-` and `:?`, as in POSIX shells.
pub fn interpolate(
    input: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, InterpolationError> {
    if !input.contains('$') {
        return Ok(input.to_owned());
    }
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let Some(body_start) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let Some(end) = body_start.find('}') else {
            return Err(InterpolationError::Malformed {
                placeholder: rest[i..].to_owned(),
            });
        };
        let body = &body_start[..end];
        let placeholder = format!("${{{body}}}");
        let (name, op) = match body.find(":-").or_else(|| body.find(":?")) {
            Some(j) => (&body[..j], Some((&body[j..j + 2], &body[j + 2..]))),
            None => (body, None),
        };
        let valid_name = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid_name {
            return Err(InterpolationError::Malformed { placeholder });
        }
        let value = env(name);
        let replacement = match op {
            None => value.ok_or_else(|| InterpolationError::Missing {
                name: name.to_owned(),
                message: None,
                placeholder: placeholder.clone(),
            })?,
            Some((":-", default)) => value
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned()),
            Some((_, message)) => {
                value
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| InterpolationError::Missing {
                        name: name.to_owned(),
                        message: Some(message.to_owned()).filter(|m| !m.is_empty()),
                        placeholder: placeholder.clone(),
                    })?
            }
        };
        out.push_str(&replacement);
        rest = &body_start[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
