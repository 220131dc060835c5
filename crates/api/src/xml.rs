//! Reading XML request bodies (bounded) and writing XML responses.

use axum::body::{Body, to_bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use reelflow_model::XmlElement;

use crate::error::ApiError;

/// Reads and parses a CI request body, refusing bodies over `limit` bytes with 413.
pub async fn read_xml(body: Body, limit: usize) -> Result<XmlElement, ApiError> {
    let bytes = to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.to_string().contains("length limit"))
            || e.to_string().contains("length limit");
        if too_large {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "EntityTooLarge",
                format!("request body exceeds {limit} bytes"),
            )
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "IncompleteBody",
                format!("could not read the request body: {e}"),
            )
        }
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "MissingContent",
            "the request body is empty",
        ));
    }
    Ok(XmlElement::parse(&bytes).map_err(reelflow_model::InvalidInput::from)?)
}

/// A 200 `application/xml` response from a `Response` document.
pub fn xml_response(doc: &XmlElement) -> Response {
    let mut response = doc.to_document().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    response
}
