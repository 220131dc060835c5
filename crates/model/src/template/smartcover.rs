//! Typed view of SmartCover templates (and the inline `SmartCover` of a node).

use crate::error::InvalidInput;
use crate::fields::Fields;
use crate::xml::XmlElement;

/// Typed view of a SmartCover container.
#[derive(Debug, Clone, PartialEq)]
pub struct SmartCoverParams {
    /// `jpg`, `png` or `webp`.
    pub format: String,
    /// Pixels.
    pub width: Option<u32>,
    /// Pixels.
    pub height: Option<u32>,
    /// How many covers (1–10, default 3).
    pub count: u32,
    /// Drop near-identical picks.
    pub delete_duplicates: bool,
}

impl Default for SmartCoverParams {
    /// Three jpg covers at source size: what a node without template or parameters produces.
    fn default() -> Self {
        Self {
            format: "jpg".to_owned(),
            width: None,
            height: None,
            count: 3,
            delete_duplicates: false,
        }
    }
}

impl SmartCoverParams {
    /// Reads a validated `SmartCover` container.
    pub fn from_container(c: &XmlElement) -> Result<Self, InvalidInput> {
        let f = Fields::new(c, "Request.SmartCover");
        Ok(SmartCoverParams {
            format: f
                .one_of("Format", &["jpg", "png", "webp"])?
                .unwrap_or("jpg")
                .to_owned(),
            width: f.u32_in("Width", 128, 4096)?,
            height: f.u32_in("Height", 128, 4096)?,
            count: f.u32_in("Count", 1, 10)?.unwrap_or(3),
            delete_duplicates: f.bool("DeleteDuplicates")?.unwrap_or(false),
        })
    }
}
