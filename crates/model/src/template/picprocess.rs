//! Typed view of PicProcess templates: an `imageMogr2/…` processing rule.

use crate::error::InvalidInput;
use crate::fields::Fields;
use crate::xml::XmlElement;

/// Typed view of a PicProcess template.
#[derive(Debug, Clone, PartialEq)]
pub struct PicProcessParams {
    /// The processing rule, e.g. `imageMogr2/thumbnail/320x/format/png`.
    pub rule: String,
}

impl PicProcessParams {
    /// Reads a validated `PicProcess` container.
    pub fn from_container(c: &XmlElement) -> Result<Self, InvalidInput> {
        let rule = Fields::new(c, "Request.PicProcess").required("ProcessRule")?;
        if !rule.trim_start_matches('/').starts_with("imageMogr2/") {
            return Err(InvalidInput::rule(
                "Request.PicProcess.ProcessRule",
                format!("only imageMogr2 rules are supported, got {rule:?}"),
            ));
        }
        Ok(PicProcessParams {
            rule: rule.to_owned(),
        })
    }
}
