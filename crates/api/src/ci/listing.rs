//! Query parameters shared by the CI list endpoints (`/workflowexecution`, `/jobs`, and the
//! paged `/template`, `/workflow`, `/queue`), parsed once with the same messages everywhere.

use reelflow_model::clock::parse_api_time;

use crate::context::query_value;
use crate::{ApiError, Ctx};

/// A non-empty query value.
pub(super) fn value<'a>(ctx: &'a Ctx, name: &str) -> Option<&'a str> {
    query_value(&ctx.query, name).filter(|v| !v.is_empty())
}

/// `orderByTime`: Desc (default) or Asc → newest first?
pub(super) fn descending(ctx: &Ctx) -> Result<bool, ApiError> {
    match value(ctx, "orderByTime") {
        None => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("desc") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("asc") => Ok(false),
        Some(v) => Err(ApiError::invalid(format!(
            "orderByTime must be Desc or Asc, got {v:?}"
        ))),
    }
}

/// A positive integer parameter within `1..=max`, with a default.
pub(super) fn bounded(ctx: &Ctx, name: &str, default: u32, max: u32) -> Result<u32, ApiError> {
    match value(ctx, name) {
        None => Ok(default),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "{name} must be an integer between 1 and {max}, got {v:?}"
                ))
            }),
    }
}

/// `states`: a comma list of names parsed by `parse`; empty for `All`.
pub(super) fn states<T>(ctx: &Ctx, parse: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, ApiError> {
    let mut states = Vec::new();
    for s in value(ctx, "states")
        .unwrap_or("All")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if s.eq_ignore_ascii_case("All") {
            return Ok(Vec::new());
        }
        states.push(
            parse(s).ok_or_else(|| ApiError::invalid(format!("states: unknown state {s:?}")))?,
        );
    }
    Ok(states)
}

/// A time filter such as `startCreationTime` (`2022-08-09T14:54:17+0800`).
pub(super) fn time(ctx: &Ctx, name: &str) -> Result<Option<i64>, ApiError> {
    value(ctx, name)
        .map(|v| {
            parse_api_time(v).ok_or_else(|| {
                ApiError::invalid(format!(
                    "{name} must look like 2022-08-09T14:54:17+0800, got {v:?}"
                ))
            })
        })
        .transpose()
}

/// `nextToken`: an id this API returned (checked by `valid`).
pub(super) fn next_token(ctx: &Ctx, valid: fn(&str) -> bool) -> Result<Option<String>, ApiError> {
    match value(ctx, "nextToken") {
        Some(t) if !valid(t) => Err(ApiError::invalid(
            "nextToken is not a token returned by this API",
        )),
        other => Ok(other.map(str::to_owned)),
    }
}

/// A comma list parameter such as `ids` (empty when absent).
pub(super) fn list<'a>(ctx: &'a Ctx, name: &str) -> Vec<&'a str> {
    value(ctx, name)
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// A `Response` with `RequestId`, `TotalCount`, `PageNumber`, `PageSize` and the requested page
/// of `items` rendered by `element`.
pub(super) fn paged_document<T>(
    ctx: &Ctx,
    items: &[T],
    element: impl Fn(&T) -> reelflow_model::XmlElement,
) -> Result<reelflow_model::XmlElement, ApiError> {
    let number = bounded(ctx, "pageNumber", 1, 100_000)? as usize;
    let size = bounded(ctx, "pageSize", 10, 100)? as usize;
    let mut doc = reelflow_model::XmlElement::new("Response")
        .with_leaf("RequestId", &ctx.request_id)
        .with_leaf("TotalCount", items.len().to_string())
        .with_leaf("PageNumber", number.to_string())
        .with_leaf("PageSize", size.to_string());
    for item in items.iter().skip((number - 1) * size).take(size) {
        doc.push(element(item));
    }
    Ok(doc)
}
