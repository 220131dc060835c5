//! Media queues: every bucket has a default queue. A Paused queue holds new work; MaxConcurrent
//! bounds how many of its tasks run at once; its NotifyConfig is the fallback callback.

use crate::error::InvalidInput;
use crate::fields::Fields;
use crate::schema::Kind::{Int, OneOf, Text};
use crate::schema::{self, Field, opt};
use crate::xml::XmlElement;

/// A stored queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Queue {
    /// `p` + 32 hex.
    pub id: String,
    /// Owning bucket.
    pub bucket: String,
    /// Name.
    pub name: String,
    /// Active (runs work) or Paused (holds it).
    pub active: bool,
    /// Most tasks waiting (informational).
    pub max_size: u32,
    /// Most tasks running at once.
    pub max_concurrent: u32,
    /// Fallback `NotifyConfig` element; empty when none.
    pub notify: XmlElement,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds.
    pub updated: i64,
}

impl Queue {
    /// The CI state name.
    pub fn state(&self) -> &'static str {
        if self.active { "Active" } else { "Paused" }
    }
}

/// Allowed MaxConcurrent range.
pub const MAX_CONCURRENT_LIMIT: u32 = 64;

const NOTIFY: &[Field] = &[
    opt("Url", Text(2048)),
    opt("State", OneOf(&["On", "Off"])),
    opt("Type", OneOf(&["Url"])),
    opt("Event", Text(256)),
    opt("ResultFormat", OneOf(&["XML", "JSON"])),
    opt("MqMode", Text(32)),
    opt("MqRegion", Text(32)),
    opt("MqName", Text(128)),
];
const UPDATE: &[Field] = &[
    opt("Name", Text(128)),
    opt("QueueID", Text(64)),
    opt("State", OneOf(&["Active", "Paused"])),
    opt("MaxConcurrent", Int(1, MAX_CONCURRENT_LIMIT as i64)),
    opt("MaxSize", Int(1, 100_000)),
    opt("NotifyConfig", crate::schema::Kind::Group(NOTIFY)),
];

/// A validated `PUT /queue/<id>` body applied to `queue`.
pub fn apply_update(queue: &Queue, request: &XmlElement, now: i64) -> Result<Queue, InvalidInput> {
    if request.name != "Request" {
        return Err(InvalidInput::rule(
            &request.name,
            "root element must be Request",
        ));
    }
    schema::check(request, "Request", UPDATE)?;
    let f = Fields::new(request, "Request");
    if let Some(id) = f.str("QueueID").filter(|id| *id != queue.id) {
        return Err(InvalidInput::rule(
            "Request.QueueID",
            format!("{id} does not match the queue in the path"),
        ));
    }
    let notify = match request.child("NotifyConfig") {
        Some(n) => {
            let url = Fields::new(n, "Request.NotifyConfig")
                .str("Url")
                .unwrap_or_default();
            if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
                return Err(InvalidInput::rule(
                    "Request.NotifyConfig.Url",
                    "must be an http:// or https:// URL",
                ));
            }
            n.clone()
        }
        None => queue.notify.clone(),
    };
    Ok(Queue {
        name: f
            .str("Name")
            .map_or_else(|| queue.name.clone(), str::to_owned),
        active: f.str("State").map_or(queue.active, |s| s == "Active"),
        max_concurrent: f
            .u32_in("MaxConcurrent", 1, MAX_CONCURRENT_LIMIT)?
            .unwrap_or(queue.max_concurrent),
        max_size: f.u32_in("MaxSize", 1, 100_000)?.unwrap_or(queue.max_size),
        notify,
        updated: now,
        ..queue.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue() -> Queue {
        Queue {
            id: "p1".into(),
            bucket: "b".into(),
            name: "default".into(),
            active: true,
            max_size: 10_000,
            max_concurrent: 2,
            notify: XmlElement::new("NotifyConfig"),
            created: 1,
            updated: 1,
        }
    }

    #[test]
    fn updates_and_validates() {
        let req = XmlElement::parse(b"<Request><Name>q</Name><QueueID>p1</QueueID><State>Paused</State><NotifyConfig><Url>http://x/</Url><State>On</State></NotifyConfig></Request>").unwrap();
        let q = apply_update(&queue(), &req, 5).unwrap();
        assert!(!q.active);
        assert_eq!((q.name.as_str(), q.updated), ("q", 5));
        assert_eq!(q.notify.text_of("Url"), Some("http://x/"));
        let bad = XmlElement::parse(b"<Request><State>Sleeping</State></Request>").unwrap();
        assert!(
            apply_update(&queue(), &bad, 5)
                .unwrap_err()
                .to_string()
                .contains("Request.State")
        );
        let bad = XmlElement::parse(b"<Request><QueueID>p2</QueueID></Request>").unwrap();
        assert!(apply_update(&queue(), &bad, 5).is_err());
        let bad =
            XmlElement::parse(b"<Request><MaxConcurrent>0</MaxConcurrent></Request>").unwrap();
        assert!(apply_update(&queue(), &bad, 5).is_err());
    }
}
