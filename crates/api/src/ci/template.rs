//! Template create/update/list/delete.

use axum::body::Body;
use axum::response::Response;
use reelflow_model::XmlElement;
use reelflow_model::clock::now_unix;
use reelflow_model::ids::new_template_id;
use reelflow_model::template::{Template, TemplateCategory, TemplateSpec, TemplateTag};

use super::listing;
use crate::state::AppState;
use crate::xml::{read_xml, xml_response};
use crate::{ApiError, Ctx};

/// The `Template` element of responses.
pub(crate) fn template_xml(t: &Template, state: &AppState) -> XmlElement {
    let offset = state.config.offset;
    XmlElement::new("Template")
        .with_leaf("TemplateId", &t.id)
        .with_leaf("Name", &t.name)
        .with_leaf("Tag", t.tag.as_str())
        .with_leaf("BucketId", &t.bucket)
        .with_leaf("Category", t.category.as_str())
        .with_leaf("CreateTime", offset.api_time(t.created))
        .with_leaf("UpdateTime", offset.api_time(t.updated))
        .with(t.params.clone())
}

fn single(ctx: &Ctx, t: &Template, state: &AppState) -> Response {
    xml_response(
        &XmlElement::new("Response")
            .with_leaf("RequestId", &ctx.request_id)
            .with(template_xml(t, state)),
    )
}

pub(super) async fn create(
    state: &AppState,
    ctx: &Ctx,
    body: Body,
    limit: usize,
) -> Result<Response, ApiError> {
    let spec = TemplateSpec::from_request(&read_xml(body, limit).await?)?;
    let now = now_unix();
    let template = Template {
        id: new_template_id(),
        bucket: ctx.bucket.clone(),
        name: spec.name,
        tag: spec.tag,
        category: TemplateCategory::Custom,
        params: spec.params,
        created: now,
        updated: now,
    };
    state.store.save_template(&template).await?;
    Ok(single(ctx, &template, state))
}

/// The bucket's own template `id` (official templates are read-only), or an error.
pub(crate) async fn owned(state: &AppState, ctx: &Ctx, id: &str) -> Result<Template, ApiError> {
    let template = state
        .store
        .get_template(id)
        .await?
        .filter(|t| t.bucket == ctx.bucket || t.category == TemplateCategory::Official)
        .ok_or_else(|| ApiError::not_found(format!("template {id} does not exist")))?;
    if template.category == TemplateCategory::Official {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "AccessDenied",
            format!("template {id} is an Official template and cannot be changed or deleted"),
        ));
    }
    Ok(template)
}

pub(super) async fn update(
    state: &AppState,
    ctx: &Ctx,
    id: &str,
    body: Body,
    limit: usize,
) -> Result<Response, ApiError> {
    let existing = owned(state, ctx, id).await?;
    let spec = TemplateSpec::from_request(&read_xml(body, limit).await?)?;
    if spec.tag != existing.tag {
        return Err(ApiError::invalid(format!(
            "Request.Tag: template {id} is a {} template and cannot become {}",
            existing.tag.as_str(),
            spec.tag.as_str()
        )));
    }
    let template = Template {
        name: spec.name,
        params: spec.params,
        updated: now_unix(),
        ..existing
    };
    state.store.save_template(&template).await?;
    Ok(single(ctx, &template, state))
}

pub(super) async fn delete(state: &AppState, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    owned(state, ctx, id).await?;
    state.store.delete_template(id).await?;
    Ok(xml_response(
        &XmlElement::new("Response")
            .with_leaf("RequestId", &ctx.request_id)
            .with_leaf("TemplateId", id),
    ))
}

pub(super) async fn list(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let tag = listing::value(ctx, "tag")
        .map(|t| {
            TemplateTag::parse(t)
                .ok_or_else(|| ApiError::invalid(format!("tag {t:?} is not supported")))
        })
        .transpose()?;
    let category = listing::value(ctx, "category").unwrap_or("Custom");
    let ids = listing::list(ctx, "ids");
    let name = listing::value(ctx, "name").unwrap_or("");
    // Official templates are stored once under the empty bucket name and seen by every bucket.
    let owner = if category.eq_ignore_ascii_case("Official") {
        ""
    } else {
        ctx.bucket.as_str()
    };
    let all: Vec<Template> = state
        .store
        .list_templates(owner, tag)
        .await?
        .into_iter()
        .filter(|t| t.category.as_str().eq_ignore_ascii_case(category))
        .filter(|t| ids.is_empty() || ids.contains(&t.id.as_str()))
        .filter(|t| t.name.starts_with(name))
        .collect();
    let doc = listing::paged_document(ctx, &all, |t| {
        let mut el = template_xml(t, state);
        el.name = "TemplateList".to_owned();
        el
    })?;
    Ok(xml_response(&doc))
}
