//! Typed readers for leaf values of CI request bodies, with range checks that name the element.

use crate::error::InvalidInput;
use crate::xml::XmlElement;

/// Reads optional typed leaves out of one container element, naming errors by `path`.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    element: &'a XmlElement,
    path: &'a str,
}

impl<'a> Fields<'a> {
    /// Reader for `element`, whose dotted path in the request is `path`.
    pub fn new(element: &'a XmlElement, path: &'a str) -> Self {
        Self { element, path }
    }

    fn at(&self, name: &str) -> String {
        format!("{}.{name}", self.path)
    }

    /// An optional string (empty counts as absent).
    pub fn str(&self, name: &str) -> Option<&'a str> {
        self.element.text_of(name)
    }

    /// A required string.
    pub fn required(&self, name: &str) -> Result<&'a str, InvalidInput> {
        self.str(name)
            .ok_or_else(|| InvalidInput::rule(self.at(name), "is required"))
    }

    /// An optional `true`/`false` (case-insensitive).
    pub fn bool(&self, name: &str) -> Result<Option<bool>, InvalidInput> {
        match self.str(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(InvalidInput::rule(
                self.at(name),
                format!("must be true or false, got {v:?}"),
            )),
        }
    }

    /// An optional number within `[min, max]`.
    pub fn f64_in(&self, name: &str, min: f64, max: f64) -> Result<Option<f64>, InvalidInput> {
        let Some(text) = self.str(name) else {
            return Ok(None);
        };
        let value: f64 = text
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| {
                InvalidInput::rule(self.at(name), format!("must be a number, got {text:?}"))
            })?;
        if value < min || value > max {
            return Err(InvalidInput::rule(
                self.at(name),
                format!("must be between {min} and {max}, got {text}"),
            ));
        }
        Ok(Some(value))
    }

    /// An optional integer within `[min, max]`.
    pub fn u32_in(&self, name: &str, min: u32, max: u32) -> Result<Option<u32>, InvalidInput> {
        let Some(text) = self.str(name) else {
            return Ok(None);
        };
        let value: u32 = text.parse().map_err(|_| {
            InvalidInput::rule(self.at(name), format!("must be an integer, got {text:?}"))
        })?;
        if value < min || value > max {
            return Err(InvalidInput::rule(
                self.at(name),
                format!("must be between {min} and {max}, got {value}"),
            ));
        }
        Ok(Some(value))
    }

    /// An optional value from a fixed set (matched case-insensitively, returned canonical).
    pub fn one_of(
        &self,
        name: &str,
        allowed: &[&'static str],
    ) -> Result<Option<&'static str>, InvalidInput> {
        let Some(text) = self.str(name) else {
            return Ok(None);
        };
        allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(text))
            .copied()
            .map(Some)
            .ok_or_else(|| {
                InvalidInput::rule(
                    self.at(name),
                    format!("must be one of {}, got {text:?}", allowed.join(", ")),
                )
            })
    }
}
