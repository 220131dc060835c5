//! CI bodies are XML; people often prefer writing JSON. A request file given as JSON is turned
//! into the very XML the CI API takes (the SDKs' xmltodict mapping run backwards): an object's
//! keys become child elements in order, an array becomes the element repeated, a scalar becomes
//! text. Answers go the other way through [`XmlElement::to_json`].

use std::path::Path;

use anyhow::{Context, Result, bail};
use reelflow_model::XmlElement;
use serde_json::Value;

/// Reads a request body from `path`: XML as it is, or JSON (`.json`, or text starting with `{`)
/// converted. `wrapper` is the element the JSON may leave out under `<Request>`
/// (`MediaWorkflow` for workflows): `{"Name": …}`, `{"MediaWorkflow": {…}}` and
/// `{"Request": {"MediaWorkflow": {…}}}` give the same document.
pub fn read_request(path: &Path, wrapper: Option<&str>) -> Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let is_json = path.extension().is_some_and(|e| e == "json") || text.trim().starts_with('{');
    if !is_json {
        if let Err(e) = XmlElement::parse(text.as_bytes()) {
            bail!("{}", xml_problem(&path.display().to_string(), &text, &e));
        }
        return Ok(text);
    }
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}:{}:{}: not valid JSON: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    Ok(request_from_json(&value, wrapper)
        .with_context(|| format!("{}", path.display()))?
        .to_xml())
}

/// `NAME:LINE:COLUMN: not well-formed XML: WHAT` for a document `XmlElement::parse` refused:
/// the parser's own error once (not the layers that wrap it), and where it stopped.
pub fn xml_problem(name: &str, text: &str, error: &reelflow_model::xml::XmlError) -> String {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut buf = Vec::new();
    let stopped = loop {
        match reader.read_event_into(&mut buf) {
            Err(e) => break Some((reader.error_position(), e.to_string())),
            Ok(quick_xml::events::Event::Eof) => break None,
            Ok(_) => buf.clear(),
        }
    };
    match stopped {
        Some((at, what)) => {
            let at = usize::try_from(at).unwrap_or(0).min(text.len());
            let before = text.as_bytes().get(..at).unwrap_or_default();
            let line = before.iter().filter(|b| **b == b'\n').count() + 1;
            let column = at
                - before
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |i| i + 1)
                + 1;
            format!("{name}:{line}:{column}: not well-formed XML: {what}")
        }
        None => format!("{name}: not a usable XML document: {error}"),
    }
}

/// The `<Request>` document for a JSON body (see [`read_request`]).
pub fn request_from_json(value: &Value, wrapper: Option<&str>) -> Result<XmlElement> {
    let Value::Object(map) = value else {
        let kind = match value {
            Value::Array(_) => "an array",
            Value::String(_) => "a string",
            Value::Number(_) => "a number",
            Value::Bool(_) => "a boolean",
            _ => "null",
        };
        bail!("a JSON request must be an object ({{…}}), not {kind}");
    };
    if let Some(inner) = map.get("Request").filter(|_| map.len() == 1) {
        return element("Request", inner);
    }
    match wrapper {
        Some(name) if !map.contains_key(name) => {
            Ok(XmlElement::new("Request").with(element(name, value)?))
        }
        _ => element("Request", value),
    }
}

/// One element called `name` holding `value`'s content.
fn element(name: &str, value: &Value) -> Result<XmlElement> {
    let mut el = XmlElement::new(name);
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                for item in repeated(child) {
                    el.push(element(key, item)?);
                }
            }
        }
        Value::Array(_) => bail!("{name}: an array must be the value of a named element"),
        Value::Null => {}
        Value::String(s) => el.text = s.clone(),
        other => el.text = other.to_string(),
    }
    Ok(el)
}

/// An array's items (each becomes one element of the same name), or the value itself.
fn repeated(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// A CI/COS answer as JSON: the root element's content, lists always arrays.
pub fn answer_json(xml: &str, lists: &[&str]) -> Result<Value> {
    let doc = XmlElement::parse(xml.as_bytes()).context("the server answered malformed XML")?;
    Ok(doc
        .json_value(lists)
        .unwrap_or_else(|| Value::Object(Default::default())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_workflows_become_the_ci_request_shape() {
        let body = json!({"Name": "wf", "State": "Paused", "Topology": {
            "Dependencies": {"Start": "A", "A": "End"},
            "Nodes": {"Start": {"Type": "Start"}, "A": {"Type": "Snapshot"}}}});
        let xml = request_from_json(&body, Some("MediaWorkflow"))
            .unwrap()
            .to_xml();
        assert!(
            xml.starts_with("<Request>\n<MediaWorkflow>\n<Name>wf</Name>"),
            "{xml}"
        );
        let wrapped = json!({"MediaWorkflow": body});
        assert_eq!(
            request_from_json(&wrapped, Some("MediaWorkflow"))
                .unwrap()
                .to_xml(),
            xml
        );
        let full = json!({"Request": wrapped});
        assert_eq!(
            request_from_json(&full, Some("MediaWorkflow"))
                .unwrap()
                .to_xml(),
            xml
        );
    }

    #[test]
    fn arrays_repeat_and_numbers_are_text() {
        let body =
            json!({"Tag": "Transcode", "Operation": [{"Tag": "A"}, {"Tag": "B"}], "JobLevel": 1});
        let el = request_from_json(&body, None).unwrap();
        assert_eq!(el.children_named("Operation").count(), 2);
        assert_eq!(el.text_of("JobLevel"), Some("1"));
    }
}
