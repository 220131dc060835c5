//! Declarative element schemas for CI request containers.
//!
//! Each container a request may carry is described once as a list of [`Field`]s; [`check`]
//! walks a received element against it, refusing unknown elements and out-of-range values with a
//! message naming the element path and the rule. Typed views are then read from the validated
//! element, and the element itself is what responses echo.

use crate::error::InvalidInput;
use crate::xml::XmlElement;

/// What a field may contain.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Any text (at most `max` characters).
    Text(usize),
    /// `true`/`false`.
    Bool,
    /// A number in `[min, max]`.
    Num(f64, f64),
    /// An integer in `[min, max]`.
    Int(i64, i64),
    /// An even integer in `[min, max]` (frame dimensions).
    Even(i64, i64),
    /// One of these values (case-insensitive).
    OneOf(&'static [&'static str]),
    /// A container with its own fields.
    Group(&'static [Field]),
    /// A repeatable container (at most `max` occurrences).
    List(&'static [Field], usize),
}

/// One allowed child element.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Element name.
    pub name: &'static str,
    /// Content rule.
    pub kind: Kind,
    /// Must be present and non-empty.
    pub required: bool,
}

/// An optional field.
pub const fn opt(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: false,
    }
}

/// A required field.
pub const fn req(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: true,
    }
}

/// Checks `element` (at dotted `path`) against `schema`.
pub fn check(element: &XmlElement, path: &str, schema: &[Field]) -> Result<(), InvalidInput> {
    for child in &element.children {
        let field = schema
            .iter()
            .find(|f| f.name == child.name)
            .ok_or_else(|| {
                InvalidInput::rule(
                    format!("{path}.{}", child.name),
                    "is not a known element here",
                )
            })?;
        let at = format!("{path}.{}", child.name);
        if !matches!(field.kind, Kind::List(..)) && element.children_named(field.name).count() > 1 {
            return Err(InvalidInput::rule(at, "may appear only once"));
        }
        check_value(child, &at, field.kind)?;
    }
    for field in schema.iter().filter(|f| f.required) {
        let present = element.children_named(field.name).any(|c| !c.is_empty());
        if !present {
            return Err(InvalidInput::rule(
                format!("{path}.{}", field.name),
                "is required",
            ));
        }
    }
    Ok(())
}

fn check_value(el: &XmlElement, at: &str, kind: Kind) -> Result<(), InvalidInput> {
    if el.is_empty() {
        return Ok(()); // empty means "not set" in the CI dialect
    }
    let text = el.text.as_str();
    let bad = |reason: String| Err(InvalidInput::rule(at, reason));
    match kind {
        Kind::Text(max) if text.chars().count() > max => {
            bad(format!("must be at most {max} characters"))
        }
        Kind::Text(_) => leaf(el, at),
        Kind::Bool if text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false") => {
            leaf(el, at)
        }
        Kind::Bool => bad(format!("must be true or false, got {text:?}")),
        Kind::Num(min, max) => match text.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= min && v <= max => leaf(el, at),
            Ok(_) => bad(format!("must be between {min} and {max}, got {text}")),
            Err(_) => bad(format!("must be a number, got {text:?}")),
        },
        Kind::Int(min, max) | Kind::Even(min, max) => match text.parse::<i64>() {
            Ok(v) if v < min || v > max => bad(format!("must be between {min} and {max}, got {v}")),
            Ok(v) if matches!(kind, Kind::Even(..)) && v % 2 != 0 => {
                bad(format!("must be an even number, got {v}"))
            }
            Ok(_) => leaf(el, at),
            Err(_) => bad(format!("must be an integer, got {text:?}")),
        },
        Kind::OneOf(values) if values.iter().any(|v| v.eq_ignore_ascii_case(text)) => leaf(el, at),
        Kind::OneOf(values) => bad(format!(
            "must be one of {}, got {text:?}",
            values.join(", ")
        )),
        Kind::Group(fields) => check(el, at, fields),
        Kind::List(fields, max) => {
            let _ = max; // the count is checked by the caller that knows the parent
            check(el, at, fields)
        }
    }
}

fn leaf(el: &XmlElement, at: &str) -> Result<(), InvalidInput> {
    if el.children.is_empty() {
        Ok(())
    } else {
        Err(InvalidInput::rule(at, "must be a value, not a container"))
    }
}

/// Checks that a repeatable `name` occurs at most `max` times in `element`.
pub fn check_count(
    element: &XmlElement,
    path: &str,
    name: &str,
    max: usize,
) -> Result<(), InvalidInput> {
    if element.children_named(name).count() > max {
        return Err(InvalidInput::rule(
            format!("{path}.{name}"),
            format!("may appear at most {max} times"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const INNER: &[Field] = &[req("A", Kind::Int(1, 5))];
    const SCHEMA: &[Field] = &[
        req("Name", Kind::Text(4)),
        opt("Flag", Kind::Bool),
        opt("Size", Kind::Even(128, 4096)),
        opt("Mode", Kind::OneOf(&["Interval", "Average"])),
        opt("Inner", Kind::Group(INNER)),
        opt("Item", Kind::List(INNER, 2)),
    ];

    fn run(xml: &str) -> Result<(), InvalidInput> {
        check(&XmlElement::parse(xml.as_bytes()).unwrap(), "R", SCHEMA)
    }

    #[test]
    fn accepts_valid_and_names_each_violation() {
        assert!(run("<R><Name>ab</Name><Flag>TRUE</Flag><Size>128</Size><Mode>average</Mode><Inner><A>3</A></Inner><Item><A>1</A></Item><Item><A>2</A></Item></R>").is_ok());
        let msg = |xml: &str| run(xml).unwrap_err().to_string();
        assert_eq!(msg("<R/>"), "R.Name: is required");
        assert_eq!(
            msg("<R><Name>abcde</Name></R>"),
            "R.Name: must be at most 4 characters"
        );
        assert!(
            msg("<R><Name>a</Name><Bogus>1</Bogus></R>")
                .contains("R.Bogus: is not a known element")
        );
        assert!(
            msg("<R><Name>a</Name><Flag>yes</Flag></R>").contains("R.Flag: must be true or false")
        );
        assert!(
            msg("<R><Name>a</Name><Size>130.5</Size></R>").contains("R.Size: must be an integer")
        );
        assert!(msg("<R><Name>a</Name><Size>131</Size></R>").contains("even"));
        assert!(msg("<R><Name>a</Name><Size>64</Size></R>").contains("between 128 and 4096"));
        assert!(msg("<R><Name>a</Name><Mode>x</Mode></R>").contains("one of Interval, Average"));
        assert!(msg("<R><Name>a</Name><Inner><A>9</A></Inner></R>").contains("R.Inner.A"));
        assert!(
            msg("<R><Name>a</Name><Flag>true</Flag><Flag>true</Flag></R>").contains("only once")
        );
    }
}
