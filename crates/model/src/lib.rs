//! reelflow's domain model: workflows, templates, runs and tasks, object records, IDs, time
//! formats, and the CI XML/JSON codecs. No IO lives here, so every rule (topology validation,
//! trigger matching, output naming, callback shape) is testable in isolation.

pub mod batch;
pub mod clock;
pub mod error;
pub mod execution;
pub mod fields;
pub mod ids;
pub mod job;
pub mod jobs_detail;
pub mod naming;
pub mod node;
pub mod object;
pub mod operation;
pub mod queue;
pub mod schema;
pub mod template;
pub mod topology;
pub mod workflow;
pub mod xml;

pub use error::InvalidInput;
pub use xml::XmlElement;
