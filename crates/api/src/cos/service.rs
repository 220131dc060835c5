//! GET Service (ListBuckets): `GET /` on a host that names no bucket (api-reference-2.md §2.1,
//! DOC-COS 8291).
//!
//! Answers `ListAllMyBucketsResult` with every bucket in one page (`IsTruncated` false):
//! reelflow deployments hold few buckets, so `marker`/`max-keys` are accepted and ignored.

use axum::response::Response;
use reelflow_model::XmlElement;

use super::iso8601_ms;
use crate::state::AppState;
use crate::xml::xml_response;
use crate::{ApiError, Ctx};

/// The owner shown for every bucket: this deployment has one account.
const OWNER: &str = "reelflow";

/// `GET /` without a bucket.
pub async fn list_buckets(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let buckets = state.store.list_buckets().await?;
    let _ = ctx;
    Ok(xml_response(&render(&buckets, &state.config.region)))
}

fn render(buckets: &[(String, i64)], region: &str) -> XmlElement {
    let mut list = XmlElement::new("Buckets");
    for (name, created) in buckets {
        list.push(
            XmlElement::new("Bucket")
                .with_leaf("Name", name)
                .with_leaf("Location", region)
                .with_leaf("CreationDate", creation_date(*created)),
        );
    }
    XmlElement::new("ListAllMyBucketsResult")
        .with(
            XmlElement::new("Owner")
                .with_leaf("ID", OWNER)
                .with_leaf("DisplayName", OWNER),
        )
        .with_leaf("Marker", "")
        .with_leaf("NextMarker", "")
        .with_leaf("IsTruncated", "false")
        .with(list)
}

/// `2019-05-24T11:49:50Z`: second precision, as COS shows it.
fn creation_date(unix_secs: i64) -> String {
    let ms = iso8601_ms(unix_secs.saturating_mul(1000));
    format!("{}Z", ms.trim_end_matches('Z').trim_end_matches(".000"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_cos_shape() {
        let doc = render(&[("b-1250000000".into(), 1_558_698_590)], "ap-guangzhou");
        let xml = doc.to_xml();
        assert!(xml.contains("<Name>b-1250000000</Name>"), "{xml}");
        assert!(xml.contains("<Location>ap-guangzhou</Location>"), "{xml}");
        assert!(
            xml.contains("<CreationDate>2019-05-24T11:49:50Z</CreationDate>"),
            "{xml}"
        );
        assert!(xml.contains("<IsTruncated>false</IsTruncated>"), "{xml}");
        // An empty list still has the Buckets element (the Python SDK indexes it).
        assert!(
            render(&[], "r").to_xml().contains("<Buckets"),
            "Buckets present"
        );
    }
}
