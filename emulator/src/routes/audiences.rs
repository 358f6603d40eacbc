//! `act_{id}/customaudiences` (list, create CUSTOM and LOOKALIKE) and `{audience_id}` (read,
//! delete).

use serde_json::{Value, json};

use super::{Call, Reply};
use crate::fields::{PageLink, page, select};
use crate::graph_error::{GraphError, GraphResult};
use crate::params::lenient_f64;
use crate::state::World;
use crate::state::accounts::Account;
use crate::state::audiences::{Audience, FIELDS, Subtype};
use crate::state::integrity::is_sensitive;

/// Customer-list audiences allowed per ad account.
const MAX_CUSTOM: usize = 500;
/// Lookalike audiences allowed per ad account.
const MAX_LOOKALIKE: usize = 500;
/// Smallest seed a lookalike accepts.
const MIN_SEED: usize = 100;
const FILE_SOURCES: [&str; 3] = [
    "USER_PROVIDED_ONLY",
    "PARTNER_PROVIDED_ONLY",
    "BOTH_USER_AND_PARTNER_PROVIDED",
];

/// Refuses writes to an account that is not active.
pub(super) fn check_writable(account: &Account) -> GraphResult<()> {
    if account.is_active() {
        return Ok(());
    }
    Err(GraphError::new(
        200,
        format!(
            "(#200) The ad account {} is not active (account_status {}) and cannot be changed",
            account.id(),
            account.status
        ),
    )
    .user(
        "Ad Account Disabled",
        "This ad account is disabled, so its audiences can't be created or changed.",
    ))
}

/// Refuses custom audience calls until the account accepted the Custom Audience terms.
pub(super) fn check_tos(account: &Account) -> GraphResult<()> {
    if account.tos_accepted {
        return Ok(());
    }
    let url = format!(
        "https://business.facebook.com/ads/manage/customaudiences/tos/?act={}",
        account.digits
    );
    Err(GraphError::new(
        200,
        format!("(#200) Terms of service has not been accepted. To accept, go to {url}"),
    )
    .subcode(1_870_090)
    .user(
        "Custom Audience Terms Not Accepted",
        format!(
            "You need to accept the Custom Audience Terms before you can create or edit an \
             audience. To accept, go to {url}"
        ),
    ))
}

fn account<'w>(world: &'w World, digits: &str, method: &str) -> GraphResult<&'w Account> {
    world
        .account(digits)
        .ok_or_else(|| GraphError::unsupported(method, &format!("act_{digits}")))
}

/// `GET act_{id}/customaudiences`.
pub(super) fn list(
    world: &World,
    digits: &str,
    call: &Call<'_>,
    link: &PageLink<'_>,
) -> GraphResult<Reply> {
    check_tos(account(world, digits, "GET")?)?;
    let fields = call.params.fields();
    let items = world
        .audiences
        .iter()
        .filter(|a| a.account == digits)
        .map(|a| {
            select(
                &a.to_json(),
                fields.as_deref(),
                &[],
                &FIELDS,
                "CustomAudience",
            )
            .map(|m| (a.id.clone(), m))
        })
        .collect::<GraphResult<Vec<_>>>()?;
    page(items, call.params, link).map(Reply::Json)
}

/// `GET {audience_id}`.
pub(super) fn read(world: &World, id: &str, call: &Call<'_>) -> GraphResult<Reply> {
    let a = world
        .audience(id)
        .ok_or_else(|| GraphError::unsupported("GET", id))?;
    let fields = call.params.fields();
    let m = select(
        &a.to_json(),
        fields.as_deref(),
        &[],
        &FIELDS,
        "CustomAudience",
    )?;
    Ok(Reply::Json(Value::Object(m)))
}

/// `DELETE {audience_id}`.
pub(super) fn delete(world: &mut World, id: &str) -> GraphResult<Reply> {
    let digits = world
        .audience(id)
        .map(|a| a.account.clone())
        .ok_or_else(|| GraphError::unsupported("DELETE", id))?;
    check_writable(account(world, &digits, "DELETE")?)?;
    world.audiences.retain(|a| a.id != id);
    Ok(Reply::Json(json!({"success": true})))
}

/// `POST act_{id}/customaudiences`.
pub(super) fn create(world: &mut World, digits: &str, call: &Call<'_>) -> GraphResult<Reply> {
    let acct = account(world, digits, "POST")?;
    check_writable(acct)?;
    check_tos(acct)?;
    let p = call.params;
    let name = p.required("name")?;
    let subtype = p
        .str("subtype")
        .unwrap_or_else(|| "CUSTOM".to_owned())
        .to_ascii_uppercase();
    let description = p.str("description").filter(|d| !d.is_empty());
    let count = |s: Subtype| {
        world
            .audiences
            .iter()
            .filter(|a| a.account == digits && a.subtype == s)
            .count()
    };
    let now_s = call.now_ms / 1000;
    let mut audience = match subtype.as_str() {
        "CUSTOM" => {
            let source = p.required("customer_file_source")?;
            if !FILE_SOURCES.contains(&source.as_str()) {
                return Err(GraphError::invalid_param(format!(
                    "Param customer_file_source must be one of {{{}}}",
                    FILE_SOURCES.join(", ")
                )));
            }
            if count(Subtype::Custom) >= MAX_CUSTOM {
                return Err(limit_reached("customer list custom audiences", MAX_CUSTOM));
            }
            let mut a = Audience::new(digits, &name, Subtype::Custom, now_s);
            a.customer_file_source = Some(source);
            a
        }
        "LOOKALIKE" => {
            let (origin, spec) = lookalike(world, digits, call)?;
            if count(Subtype::Lookalike) >= MAX_LOOKALIKE {
                return Err(limit_reached("lookalike audiences", MAX_LOOKALIKE));
            }
            let mut a = Audience::new(digits, &name, Subtype::Lookalike, now_s);
            a.lookalike = Some((origin, spec));
            a
        }
        other => {
            return Err(GraphError::invalid_param(format!(
                "Param subtype must be one of {{CUSTOM, LOOKALIKE}} on this emulator, got {other}"
            )));
        }
    };
    audience.flagged = is_sensitive(&format!(
        "{name} {}",
        description.as_deref().unwrap_or_default()
    ));
    audience.description = description;
    let id = audience.id.clone();
    world.audiences.push(audience);
    Ok(Reply::Json(json!({ "id": id })))
}

fn limit_reached(what: &str, max: usize) -> GraphError {
    GraphError::new(
        2654,
        format!(
            "(#2654) Failed to create custom audience: this ad account has reached the limit of \
             {max} {what}"
        ),
    )
    .user(
        "Audience Limit Reached",
        format!("You can't have more than {max} {what} in one ad account. Delete some first."),
    )
}

/// Validates `origin_audience_id` and `lookalike_spec`; returns them.
fn lookalike(world: &World, digits: &str, call: &Call<'_>) -> GraphResult<(String, Value)> {
    let p = call.params;
    let origin_id = p.required("origin_audience_id")?;
    let origin = world
        .audience(&origin_id)
        .filter(|a| a.account == digits)
        .ok_or_else(|| {
            GraphError::invalid_param(format!(
                "Param origin_audience_id: audience {origin_id} does not exist in ad account \
                 act_{digits}"
            ))
        })?;
    let spec = p
        .json("lookalike_spec")?
        .ok_or_else(|| GraphError::missing_param("lookalike_spec"))?
        .into_owned();
    let obj = spec
        .as_object()
        .ok_or_else(|| GraphError::invalid_param("Param lookalike_spec must be a JSON object"))?;
    let ratio =
        match obj.get("ratio") {
            None => None,
            Some(v) => Some(lenient_f64(v).ok_or_else(|| {
                GraphError::invalid_param("lookalike_spec[ratio] must be a number")
            })?),
        };
    let kind = obj.get("type").and_then(Value::as_str);
    if let Some(k) = kind
        && !["similarity", "reach", "custom_ratio"].contains(&k)
    {
        return Err(GraphError::invalid_param(format!(
            "lookalike_spec[type] must be similarity, reach or custom_ratio, got {k}"
        )));
    }
    match (ratio, kind) {
        (None, None) | (None, Some("custom_ratio")) => {
            return Err(GraphError::invalid_param(
                "lookalike_spec must set either type or ratio",
            ));
        }
        (Some(r), _) if !(0.01 - 1e-9..=0.20 + 1e-9).contains(&r) => {
            return Err(GraphError::invalid_param(format!(
                "lookalike_spec[ratio] must be between 0.01 and 0.20, got {r}"
            )));
        }
        _ => {}
    }
    if let (Some(start), Some(r)) = (obj.get("starting_ratio").and_then(lenient_f64), ratio)
        && start >= r
    {
        return Err(GraphError::invalid_param(
            "lookalike_spec[starting_ratio] must be smaller than lookalike_spec[ratio]",
        ));
    }
    match obj.get("country").and_then(Value::as_str) {
        Some(c) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()) => {}
        Some(c) => {
            return Err(GraphError::invalid_param(format!(
                "lookalike_spec[country] must be an ISO 3166-1 alpha-2 code such as US, got {c}"
            )));
        }
        None if obj.contains_key("location_spec") => {}
        None => return Err(GraphError::missing_param("lookalike_spec[country]")),
    }
    if origin.members.len() < MIN_SEED {
        return Err(GraphError::new(
            2654,
            "(#2654) Source Audience is Too Small: There aren't enough people in your source \
             audience. Please choose a source audience with at least 100 people.",
        )
        .user(
            "Source Audience is Too Small",
            format!(
                "The source audience has {} people; a lookalike needs at least {MIN_SEED}.",
                origin.members.len()
            ),
        ));
    }
    Ok((origin_id, spec))
}
