//! PUT, HEAD and DELETE Bucket.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use reelflow_model::clock::now_unix;
use reelflow_model::object::valid_bucket_name;

use super::{no_such_bucket, require_bucket};
use crate::state::AppState;
use crate::{ApiError, Ctx};

/// `PUT /`: creates the bucket; 409 `BucketAlreadyOwnedByYou` when it exists. Any
/// `CreateBucketConfiguration` body is ignored.
pub(super) async fn create(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    if !valid_bucket_name(&ctx.bucket) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidBucketName",
            format!(
                "invalid bucket name {:?}: use 1-63 lowercase letters, digits and '-', \
                 not starting or ending with '-'",
                ctx.bucket
            ),
        ));
    }
    if !state.store.create_bucket(&ctx.bucket, now_unix()).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "BucketAlreadyOwnedByYou",
            format!("bucket {} already exists and is owned by you", ctx.bucket),
        ));
    }
    Ok(StatusCode::OK.into_response())
}

/// `HEAD /`: 200 when the bucket exists, else 404 `NoSuchBucket` (no body for HEAD).
pub(super) async fn head(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    require_bucket(state, &ctx.bucket).await?;
    Ok(StatusCode::OK.into_response())
}

/// `DELETE /`: deletes an empty bucket (204); 409 `BucketNotEmpty`, 404 `NoSuchBucket`.
pub(super) async fn delete(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    match state.store.delete_bucket(&ctx.bucket).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(reelflow_store::StoreError::NoSuchBucket(_)) => Err(no_such_bucket(&ctx.bucket)),
        Err(e) => Err(e.into()),
    }
}

/// `GET /?location`: the bucket's region as `LocationConstraint` (S3 clients ask for it).
pub(super) async fn location(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    require_bucket(state, &ctx.bucket).await?;
    let doc = reelflow_model::XmlElement::leaf("LocationConstraint", &state.config.region);
    Ok(crate::xml::xml_response(&doc))
}
