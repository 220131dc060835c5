//! The model's one error type: a request body that is not acceptable.

use crate::xml::XmlError;

/// Why a request body was refused. Every variant maps to CI's `InvalidArgument` (HTTP 400); the
/// message names the element or node and the rule, so users can fix the request.
#[derive(Debug, thiserror::Error)]
pub enum InvalidInput {
    /// The body is not well-formed XML.
    #[error("{source}")]
    Xml {
        #[from]
        source: XmlError,
    },
    /// A value or structure breaks a rule; `element` is a path such as `Request.Video.Width`.
    #[error("{element}: {reason}")]
    Rule { element: String, reason: String },
}

impl InvalidInput {
    /// A rule violation at `element`.
    pub fn rule(element: impl Into<String>, reason: impl Into<String>) -> Self {
        InvalidInput::Rule {
            element: element.into(),
            reason: reason.into(),
        }
    }

    /// The CI error code for this error: always `InvalidArgument` (decisions.md: invalid
    /// content, malformed XML included, is 400 `InvalidArgument`; the message says which).
    pub fn code(&self) -> &'static str {
        "InvalidArgument"
    }
}
