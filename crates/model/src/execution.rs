//! Workflow instances (runs) and their tasks (jobs), and the documents that report them.

use crate::clock::DisplayOffset;
use crate::xml::XmlElement;

/// State of a workflow instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// Tasks are pending or running.
    Running,
    /// Every task succeeded.
    Success,
    /// At least one task failed.
    Failed,
    /// Cancelled by a user.
    Cancel,
}

/// State of a task (job). `Waiting` and `Skipped` are internal: a task row exists for every
/// node from the start of a run (so its JobId and template are fixed up front), but only tasks
/// that were submitted are ever shown through the API or in callbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Internal: predecessors have not all succeeded yet.
    Waiting,
    /// Internal: never ran because an upstream node failed.
    Skipped,
    /// Waiting for a worker.
    Submitted,
    /// A worker runs it.
    Running,
    /// Finished with outputs.
    Success,
    /// Finished with an error.
    Failed,
    /// Cancelled.
    Cancel,
}

macro_rules! string_enum {
    ($ty:ident { $($variant:ident),* }) => {
        impl $ty {
            /// The CI spelling (also the stored form).
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => stringify!($variant)),* }
            }
            /// Parses the CI spelling, case-insensitively.
            pub fn parse(text: &str) -> Option<Self> {
                [$($ty::$variant),*].into_iter().find(|v| v.as_str().eq_ignore_ascii_case(text))
            }
        }
    };
}
string_enum!(RunState {
    Running,
    Success,
    Failed,
    Cancel
});
string_enum!(TaskState {
    Waiting,
    Skipped,
    Submitted,
    Running,
    Success,
    Failed,
    Cancel
});

impl TaskState {
    /// Whether the task will not change any more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskState::Success | TaskState::Failed | TaskState::Cancel | TaskState::Skipped
        )
    }

    /// Whether the task is visible to users (it was submitted at some point).
    pub fn is_visible(self) -> bool {
        !matches!(self, TaskState::Waiting | TaskState::Skipped)
    }
}

/// A workflow instance (RunId).
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// `i` + 32 hex.
    pub run_id: String,
    /// Workflow that ran.
    pub workflow_id: String,
    /// Its name at start time.
    pub workflow_name: String,
    /// Bucket of the input object.
    pub bucket: String,
    /// Input key.
    pub object: String,
    /// The input's custom headers (`x-cos-meta-*`) as uploaded.
    pub cos_headers: Vec<(String, String)>,
    /// Snapshot of the topology this run executes.
    pub topology_xml: XmlElement,
    /// State.
    pub state: RunState,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds, when terminal.
    pub ended: Option<i64>,
}

/// An object written by a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputObject {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
}

/// A task of an instance: one node's job.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// `j` + 32 hex.
    pub job_id: String,
    /// Owning run.
    pub run_id: String,
    /// Node name.
    pub node_name: String,
    /// Node type the task runs as.
    pub node_type: crate::workflow::NodeType,
    /// The CI type name shown for it (`Type` of workflow tasks, `Tag` of jobs): the node
    /// type's name, or a job's Tag as sent (`HighSpeedHd` runs as Transcode).
    pub tag: String,
    /// Template used.
    pub template_id: String,
    /// Template name at creation time.
    pub template_name: String,
    /// Queue the task runs in (its bucket's default queue unless chosen).
    pub queue_id: String,
    /// State.
    pub state: TaskState,
    /// `Success` or an error code.
    pub code: String,
    /// Human message (why it failed).
    pub message: String,
    /// 0–100.
    pub progress: u8,
    /// Input bucket for this task.
    pub input_bucket: String,
    /// Input key for this task (the run's object, or an upstream output).
    pub input_key: String,
    /// Objects written.
    pub outputs: Vec<OutputObject>,
    /// Extra result document (XML), e.g. a MediaInfo node's report; empty when none.
    pub result: String,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds, when it started running.
    pub started: Option<i64>,
    /// Unix seconds, when terminal.
    pub ended: Option<i64>,
    /// Earlier attempts that failed transiently and were put back (0 on the first run).
    pub attempts: u32,
    /// Unix seconds before which a retried task is not claimed (0: at once).
    pub not_before: i64,
    /// Set on internal sub-tasks only (a piece of a segmented Transcode): never shown.
    pub sub: Option<SubTask>,
}

/// What makes a task an internal sub-task: the task it works for and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubTask {
    /// The JobId of the task that split it off (same run).
    pub parent_job_id: String,
    /// What to do, as the engine wrote it (opaque to the store).
    pub spec: String,
}

impl Task {
    /// Whether users see the task (API views, callbacks): it was submitted at some point (or
    /// is [parked](Task::is_parked)) and is not an internal sub-task.
    pub fn is_shown(&self) -> bool {
        self.sub.is_none() && (self.state.is_visible() || self.is_parked())
    }

    /// A task that split its work into sub-tasks and gave up its worker slot until they end
    /// (segmented transcoding): stored `Waiting` with a start time, which a task not yet
    /// submitted never has. It is shown as `Running`.
    pub fn is_parked(&self) -> bool {
        self.state == TaskState::Waiting && self.started.is_some() && self.sub.is_none()
    }

    /// The state users see: [`Task::is_parked`] tasks are `Running`.
    pub fn shown_state(&self) -> TaskState {
        if self.is_parked() {
            TaskState::Running
        } else {
            self.state
        }
    }
}

/// Builds the WorkflowFinish callback document exactly in the seed's shape and order.
pub fn workflow_finish_document(
    instance: &Instance,
    tasks: &[Task],
    offset: DisplayOffset,
) -> XmlElement {
    let mut exec = XmlElement::new("WorkflowExecution")
        .with_leaf("RunId", &instance.run_id)
        .with_leaf("BucketId", &instance.bucket)
        .with_leaf("Object", &instance.object);
    for (key, value) in &instance.cos_headers {
        exec.push(
            XmlElement::new("CosHeaders")
                .with_leaf("Key", key)
                .with_leaf("Value", value),
        );
    }
    exec = exec
        .with_leaf("WorkflowId", &instance.workflow_id)
        .with_leaf("WorkflowName", &instance.workflow_name)
        .with_leaf("CreateTime", offset.callback_time(instance.created))
        .with_leaf("State", instance.state.as_str());
    for task in tasks.iter().filter(|t| t.is_shown()) {
        exec.push(
            XmlElement::new("Tasks")
                .with_leaf("Type", &task.tag)
                .with_leaf("CreateTime", offset.callback_time(task.created))
                .with_leaf(
                    "EndTime",
                    task.ended
                        .map(|t| offset.callback_time(t))
                        .unwrap_or_default(),
                )
                .with_leaf("State", task.state.as_str())
                .with_leaf("JobId", &task.job_id)
                .with_leaf("Name", &task.node_name)
                .with_leaf("TemplateId", &task.template_id)
                .with_leaf("TemplateName", &task.template_name),
        );
    }
    XmlElement::new("Response").with(exec)
}

/// Elements that are arrays in JSON callbacks even when they occur once.
pub const JSON_ARRAYS: &[&str] = &["CosHeaders", "Tasks", "JobsDetail"];

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "<Response>
<WorkflowExecution>
<RunId>ie4d9187d35dc11eb9cec525400860000</RunId>
<BucketId>examplebucket-1250000000</BucketId>
<Object>0000.mp4</Object>
<CosHeaders>
<Key>x-cos-meta-id</Key>
<Value>testid</Value>
</CosHeaders>
<WorkflowId>w2b22307fb0e44107bc8ffe71e1d20000</WorkflowId>
<WorkflowName>example</WorkflowName>
<CreateTime>2020-12-01 11:00:41+0800</CreateTime>
<State>Success</State>
<Tasks>
<Type>Transcode</Type>
<CreateTime>2020-12-01 11:00:42+0800</CreateTime>
<EndTime>2020-12-01 11:00:45+0800</EndTime>
<State>Success</State>
<JobId>je5195f3e35dc11ebbe6fed17a7c10000</JobId>
<Name>Transcode_1600413767353</Name>
<TemplateId>t182c0ca7d91ca40969a3fc97c5559091a</TemplateId>
<TemplateName>example</TemplateName>
</Tasks>
<Tasks>
<Type>Transcode</Type>
<CreateTime>2020-12-01 11:00:42+0800</CreateTime>
<EndTime>2020-12-01 11:00:45+0800</EndTime>
<State>Success</State>
<JobId>je55e922035dc11ebbe6fed17a7c10000</JobId>
<Name>Transcode_1600413767444</Name>
<TemplateId>t182c0ca7d91ca40969a3fc97c5559091b</TemplateId>
<TemplateName>example</TemplateName>
</Tasks>
</WorkflowExecution>
</Response>
";

    fn task(job: &str, name: &str, template: &str) -> Task {
        Task {
            job_id: job.into(),
            run_id: "ie4d9187d35dc11eb9cec525400860000".into(),
            node_name: name.into(),
            node_type: crate::workflow::NodeType::Transcode,
            tag: "Transcode".into(),
            template_id: template.into(),
            template_name: "example".into(),
            queue_id: String::new(),
            state: TaskState::Success,
            code: "Success".into(),
            message: String::new(),
            progress: 100,
            input_bucket: String::new(),
            input_key: String::new(),
            outputs: vec![],
            result: String::new(),
            created: 1_606_791_642,
            started: Some(1_606_791_642),
            ended: Some(1_606_791_645),
            attempts: 0,
            not_before: 0,
            sub: None,
        }
    }

    fn seed_instance() -> Instance {
        Instance {
            run_id: "ie4d9187d35dc11eb9cec525400860000".into(),
            workflow_id: "w2b22307fb0e44107bc8ffe71e1d20000".into(),
            workflow_name: "example".into(),
            bucket: "examplebucket-1250000000".into(),
            object: "0000.mp4".into(),
            cos_headers: vec![("x-cos-meta-id".into(), "testid".into())],
            topology_xml: XmlElement::new("Topology"),
            state: RunState::Success,
            created: 1_606_791_641,
            ended: Some(1_606_791_645),
        }
    }

    fn seed_tasks() -> Vec<Task> {
        vec![
            task(
                "je5195f3e35dc11ebbe6fed17a7c10000",
                "Transcode_1600413767353",
                "t182c0ca7d91ca40969a3fc97c5559091a",
            ),
            task(
                "je55e922035dc11ebbe6fed17a7c10000",
                "Transcode_1600413767444",
                "t182c0ca7d91ca40969a3fc97c5559091b",
            ),
        ]
    }

    #[test]
    fn reproduces_the_seed_document() {
        let offset = DisplayOffset::parse("+08:00").unwrap();
        let doc = workflow_finish_document(&seed_instance(), &seed_tasks(), offset);
        assert_eq!(doc.to_xml(), SEED);
    }

    #[test]
    fn no_cos_headers_element_without_headers() {
        let mut instance = seed_instance();
        instance.cos_headers.clear();
        let doc = workflow_finish_document(&instance, &seed_tasks(), DisplayOffset::UTC);
        assert!(doc.children[0].child("CosHeaders").is_none());
    }

    #[test]
    fn json_form_uses_arrays_and_strings() {
        let offset = DisplayOffset::parse("+08:00").unwrap();
        let doc = workflow_finish_document(&seed_instance(), &seed_tasks()[..1], offset);
        let json = doc.children[0].to_json(JSON_ARRAYS);
        let exec = &json["WorkflowExecution"];
        assert_eq!(exec["CosHeaders"][0]["Key"], "x-cos-meta-id");
        assert_eq!(exec["Tasks"].as_array().unwrap().len(), 1);
        assert_eq!(
            exec["Tasks"][0]["JobId"],
            "je5195f3e35dc11ebbe6fed17a7c10000"
        );
    }
}
