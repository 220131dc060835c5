//! A small ordered XML element tree: the one representation every CI body passes through.
//!
//! The CI API carries documents whose element *names* are data (a workflow's `Dependencies` and
//! `Nodes` are keyed by node name), whose element *order* matters (the callback must list its
//! elements in the seed's order), and which must also be rendered as JSON with Tencent's rules.
//! A serde mapping fits none of these well, so requests are parsed into [`XmlElement`] trees,
//! validated by hand into domain types, and responses are built as trees and rendered to XML or
//! JSON from the same value. Mixed content and attributes are not part of the CI dialect: text
//! inside an element that also has children is ignored, attributes are ignored.

use std::fmt::Write as _;

use quick_xml::Reader;
use quick_xml::events::Event;

/// Deepest nesting accepted when parsing; CI bodies are a handful of levels deep, so anything
/// beyond this is hostile input.
const MAX_DEPTH: usize = 32;

/// Errors from parsing an XML document.
#[derive(Debug, thiserror::Error)]
pub enum XmlError {
    /// The bytes are not well-formed XML.
    #[error("malformed XML: {source}")]
    Malformed {
        #[source]
        source: quick_xml::Error,
    },
    /// The document has no root element, or a second one.
    #[error("malformed XML: {0}")]
    Structure(&'static str),
    /// The document nests deeper than [`MAX_DEPTH`].
    #[error("XML nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// Text could not be decoded as UTF-8 or unescaped.
    #[error("malformed XML text: {0}")]
    Text(String),
}

/// One XML element: a name, its text (for leaves) and its ordered children.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct XmlElement {
    /// Element name as written (namespace prefixes are kept as-is).
    pub name: String,
    /// Unescaped, trimmed text content; empty for containers.
    pub text: String,
    /// Child elements in document order.
    pub children: Vec<XmlElement>,
}

impl XmlElement {
    /// An empty element called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            text: String::new(),
            children: Vec::new(),
        }
    }

    /// A leaf element with text.
    pub fn leaf(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
            children: Vec::new(),
        }
    }

    /// Appends a child and returns `self`, for building documents fluently.
    pub fn with(mut self, child: XmlElement) -> Self {
        self.children.push(child);
        self
    }

    /// Appends a leaf child and returns `self`.
    pub fn with_leaf(self, name: &str, text: impl Into<String>) -> Self {
        self.with(XmlElement::leaf(name, text))
    }

    /// Appends a child.
    pub fn push(&mut self, child: XmlElement) {
        self.children.push(child);
    }

    /// Appends a leaf child.
    pub fn push_leaf(&mut self, name: &str, text: impl Into<String>) {
        self.children.push(XmlElement::leaf(name, text));
    }

    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&XmlElement> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`, in order.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a XmlElement> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the first child named `name`, `None` when absent **or empty** (the SDK
    /// demos send `<X></X>` for "not set", so empty means unset everywhere in the CI dialect).
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name)
            .map(|c| c.text.as_str())
            .filter(|t| !t.is_empty())
    }

    /// True when the element has neither text nor children.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty() && self.children.is_empty()
    }

    /// Parses a whole document and returns its root element. An XML declaration is optional.
    pub fn parse(input: &[u8]) -> Result<XmlElement, XmlError> {
        let mut root = Self::parse_untrimmed(input)?;
        trim_all(&mut root);
        Ok(root)
    }

    /// Like [`XmlElement::parse`], but keeps leading and trailing whitespace of text, for
    /// documents whose text is data (object keys in S3 `Delete` bodies).
    pub fn parse_untrimmed(input: &[u8]) -> Result<XmlElement, XmlError> {
        let mut reader = Reader::from_reader(input);
        let mut stack: Vec<XmlElement> = Vec::new();
        let mut root: Option<XmlElement> = None;
        let mut buf = Vec::new();
        loop {
            let event = reader
                .read_event_into(&mut buf)
                .map_err(|source| XmlError::Malformed { source })?;
            match event {
                Event::Start(start) => {
                    if root.is_some() {
                        return Err(XmlError::Structure("content after the root element"));
                    }
                    if stack.len() >= MAX_DEPTH {
                        return Err(XmlError::TooDeep);
                    }
                    stack.push(XmlElement::new(start.name().as_ref().to_owned()));
                }
                Event::Empty(start) => {
                    let element = XmlElement::new(start.name().as_ref().to_owned());
                    attach(&mut stack, &mut root, element)?;
                }
                Event::End(_) => {
                    let element = stack
                        .pop()
                        .ok_or(XmlError::Structure("unbalanced end tag"))?;
                    attach(&mut stack, &mut root, element)?;
                }
                Event::Text(text) => {
                    let content = text.xml10_content();
                    let unescaped = quick_xml::escape::unescape(&content)
                        .map_err(|e| XmlError::Text(e.to_string()))?;
                    append_text(&mut stack, &unescaped)?;
                }
                Event::GeneralRef(r) => {
                    let entity = format!("&{};", &*r);
                    let unescaped = quick_xml::escape::unescape(&entity)
                        .map_err(|e| XmlError::Text(e.to_string()))?;
                    append_text(&mut stack, &unescaped)?;
                }
                Event::CData(data) => {
                    append_text(&mut stack, &data.into_inner())?;
                }
                Event::Eof => break,
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
            }
            buf.clear();
        }
        if !stack.is_empty() {
            return Err(XmlError::Structure("unclosed element"));
        }
        root.ok_or(XmlError::Structure("no root element"))
    }

    /// Renders the element as an XML document with the usual declaration.
    pub fn to_document(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        self.write_into(&mut out);
        out
    }

    /// Renders the element without a declaration, one element per line like the seed document.
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        self.write_into(&mut out);
        out
    }

    fn write_into(&self, out: &mut String) {
        if self.children.is_empty() {
            let _ = writeln!(
                out,
                "<{0}>{1}</{0}>",
                self.name,
                quick_xml::escape::escape(self.text.as_str())
            );
            return;
        }
        let _ = writeln!(out, "<{}>", self.name);
        for child in &self.children {
            child.write_into(out);
        }
        let _ = writeln!(out, "</{}>", self.name);
    }

    /// Renders the element's *content* as JSON by Tencent's callback rules: element names become
    /// keys, every scalar is a string, empty elements are omitted, and repeated elements become
    /// arrays. Names in `always_array` are arrays even when they occur once (CosHeaders, Tasks,
    /// JobsDetail). The element's own name is the single top-level key.
    pub fn to_json(&self, always_array: &[&str]) -> serde_json::Value {
        let mut top = serde_json::Map::new();
        if let Some(value) = self.json_value(always_array) {
            top.insert(self.name.clone(), value);
        }
        serde_json::Value::Object(top)
    }

    /// The JSON value of this element's content; `None` when it is empty.
    pub fn json_value(&self, always_array: &[&str]) -> Option<serde_json::Value> {
        if self.children.is_empty() {
            return (!self.text.is_empty()).then(|| serde_json::Value::String(self.text.clone()));
        }
        let mut map = serde_json::Map::new();
        let mut seen: Vec<&str> = Vec::new();
        for child in &self.children {
            if seen.contains(&child.name.as_str()) {
                continue;
            }
            seen.push(child.name.as_str());
            let values: Vec<serde_json::Value> = self
                .children_named(&child.name)
                .filter_map(|c| c.json_value(always_array))
                .collect();
            let value = match values.len() {
                0 => continue,
                1 if !always_array.contains(&child.name.as_str()) => {
                    values.into_iter().next().unwrap_or_default()
                }
                _ => serde_json::Value::Array(values),
            };
            map.insert(child.name.clone(), value);
        }
        (!map.is_empty()).then_some(serde_json::Value::Object(map))
    }
}

fn attach(
    stack: &mut [XmlElement],
    root: &mut Option<XmlElement>,
    element: XmlElement,
) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None if root.is_none() => *root = Some(element),
        None => return Err(XmlError::Structure("more than one root element")),
    }
    Ok(())
}

fn append_text(stack: &mut [XmlElement], text: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(current) => current.text.push_str(text),
        None if text.trim().is_empty() => {}
        None => return Err(XmlError::Structure("text outside the root element")),
    }
    Ok(())
}

fn trim_all(element: &mut XmlElement) {
    if element.children.is_empty() {
        let trimmed = element.text.trim();
        if trimmed.len() != element.text.len() {
            element.text = trimmed.to_owned();
        }
    } else {
        element.text.clear();
        element.children.iter_mut().for_each(trim_all);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_declaration_nesting_entities_and_empty_elements() {
        let doc = br#"<?xml version="1.0" encoding="utf-8"?>
<Request><Tag>Transcode</Tag><Name>a &amp; b</Name><Empty/><Blank></Blank>
<Video><Codec>H.264</Codec></Video></Request>"#;
        let root = XmlElement::parse(doc).unwrap();
        assert_eq!(root.name, "Request");
        assert_eq!(root.text_of("Tag"), Some("Transcode"));
        assert_eq!(root.text_of("Name"), Some("a & b"));
        assert_eq!(root.text_of("Empty"), None);
        assert!(root.child("Blank").unwrap().is_empty());
        assert_eq!(root.child("Video").unwrap().text_of("Codec"), Some("H.264"));
    }

    #[test]
    fn rejects_malformed_documents() {
        for bad in [
            &b"<a><b></a>"[..],
            b"<a>",
            b"",
            b"<a/><b/>",
            b"text",
            b"<a></a>trailing",
        ] {
            assert!(
                XmlElement::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn rejects_deep_nesting() {
        let deep = "<a>".repeat(40) + &"</a>".repeat(40);
        assert!(matches!(
            XmlElement::parse(deep.as_bytes()),
            Err(XmlError::TooDeep)
        ));
    }

    #[test]
    fn writes_escaped_text_and_roundtrips() {
        let doc = XmlElement::new("Response")
            .with_leaf("Name", "<x> & \"y\"")
            .with(
                XmlElement::new("List")
                    .with_leaf("K", "1")
                    .with_leaf("K", "2"),
            );
        let parsed = XmlElement::parse(doc.to_document().as_bytes()).unwrap();
        assert_eq!(parsed, doc);
    }

    #[test]
    fn json_follows_callback_rules() {
        let doc = XmlElement::new("Response").with(
            XmlElement::new("WorkflowExecution")
                .with_leaf("RunId", "i1")
                .with_leaf("Empty", "")
                .with(XmlElement::new("Tasks").with_leaf("Type", "Transcode"))
                .with(
                    XmlElement::new("Md5Info")
                        .with_leaf("Md5", "x")
                        .with_leaf("Index", "0"),
                ),
        );
        let json = doc.to_json(&["Tasks", "CosHeaders"]);
        assert_eq!(
            json,
            serde_json::json!({"Response": {"WorkflowExecution": {
                "RunId": "i1",
                "Tasks": [{"Type": "Transcode"}],
                "Md5Info": {"Md5": "x", "Index": "0"}
            }}})
        );
    }
}
