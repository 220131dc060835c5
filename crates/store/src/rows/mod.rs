//! Row ↔ model conversions shared by the backends.
//!
//! Both schemas use the same table and column names, text for strings, XML and JSON, and 64-bit
//! integers for numbers, so one set of decoders serves SQLite and PostgreSQL rows through the
//! small [`Cols`] accessor trait.

pub(crate) mod outbox;

use reelflow_model::XmlElement;
use reelflow_model::execution::{Instance, OutputObject, RunState, SubTask, Task, TaskState};
use reelflow_model::object::{ObjectOrigin, ObjectRecord};
use reelflow_model::queue::Queue;
use reelflow_model::template::{Template, TemplateCategory, TemplateTag};
use reelflow_model::workflow::{NodeType, Workflow, WorkflowState};

use crate::StoreError;

use crate::error::corrupt;
use crate::{MultipartUpload, StoreResult, UploadPart};

/// Typed column reads, the only thing the decoders need from a database row.
pub(crate) trait Cols {
    /// A non-null text column.
    fn text(&self, column: &str) -> StoreResult<String>;
    /// A nullable text column.
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>>;
    /// A non-null integer column.
    fn int(&self, column: &str) -> StoreResult<i64>;
    /// A nullable integer column.
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>>;
}

macro_rules! impl_cols {
    ($row:ty) => {
        impl Cols for $row {
            fn text(&self, column: &str) -> StoreResult<String> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn int(&self, column: &str) -> StoreResult<i64> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn opt_int(&self, column: &str) -> StoreResult<Option<i64>> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
        }
    };
}

impl_cols!(sqlx::sqlite::SqliteRow);
impl_cols!(sqlx::postgres::PgRow);

/// A CRC-64 as both databases store it: the signed 64-bit integer with the same bits.
pub(crate) fn crc_to_sql(crc: u64) -> i64 {
    crc as i64
}

/// The inverse of [`crc_to_sql`].
pub(crate) fn crc_from_sql(value: i64) -> u64 {
    value as u64
}

pub(crate) fn pairs_to_json(pairs: &[(String, String)]) -> String {
    serde_json::to_string(pairs).unwrap_or_else(|_| "[]".to_owned())
}

fn pairs_from_json(column: &'static str, text: &str) -> StoreResult<Vec<(String, String)>> {
    serde_json::from_str(text).map_err(|e| corrupt(column, e))
}

pub(crate) fn outputs_to_json(outputs: &[OutputObject]) -> String {
    let pairs: Vec<(String, String)> = outputs
        .iter()
        .map(|o| (o.bucket.clone(), o.key.clone()))
        .collect();
    pairs_to_json(&pairs)
}

fn xml(column: &'static str, text: &str) -> StoreResult<XmlElement> {
    XmlElement::parse(text.as_bytes()).map_err(|e| corrupt(column, e))
}

pub(crate) fn origin_str(origin: ObjectOrigin) -> &'static str {
    match origin {
        ObjectOrigin::Upload => "Upload",
        ObjectOrigin::Workflow => "Workflow",
    }
}

pub(crate) fn object(row: &impl Cols) -> StoreResult<ObjectRecord> {
    let origin = row.text("origin")?;
    Ok(ObjectRecord {
        bucket: row.text("bucket")?,
        key: row.text("key")?,
        blob_id: row.text("blob_id")?,
        size: row.int("size")? as u64,
        etag: row.text("etag")?,
        crc64: row.opt_int("crc64")?.map(crc_from_sql),
        content_type: row.text("content_type")?,
        last_modified_ms: row.int("last_modified_ms")?,
        user_meta: pairs_from_json("objects.user_meta", &row.text("user_meta")?)?,
        origin: if origin == "Workflow" {
            ObjectOrigin::Workflow
        } else {
            ObjectOrigin::Upload
        },
    })
}

pub(crate) fn upload(row: &impl Cols) -> StoreResult<MultipartUpload> {
    Ok(MultipartUpload {
        upload_id: row.text("upload_id")?,
        bucket: row.text("bucket")?,
        key: row.text("key")?,
        content_type: row.text("content_type")?,
        user_meta: pairs_from_json("multipart_uploads.user_meta", &row.text("user_meta")?)?,
        initiated_ms: row.int("initiated_ms")?,
    })
}

/// A stored part number as the model's `u32`.
pub(crate) fn part_number(number: i64) -> StoreResult<u32> {
    u32::try_from(number).map_err(|_| corrupt("multipart_parts.part_number", number))
}

pub(crate) fn part(row: &impl Cols) -> StoreResult<UploadPart> {
    Ok(UploadPart {
        part_number: part_number(row.int("part_number")?)?,
        blob_id: row.text("blob_id")?,
        size: row.int("size")? as u64,
        md5_hex: row.text("md5_hex")?,
        crc64: crc_from_sql(row.int("crc64")?),
        last_modified_ms: row.int("last_modified_ms")?,
    })
}

pub(crate) fn template(row: &impl Cols) -> StoreResult<Template> {
    let tag = row.text("tag")?;
    let category = row.text("category")?;
    Ok(Template {
        id: row.text("id")?,
        bucket: row.text("bucket")?,
        name: row.text("name")?,
        tag: TemplateTag::parse(&tag).ok_or_else(|| corrupt("templates.tag", &tag))?,
        category: if category == "Official" {
            TemplateCategory::Official
        } else {
            TemplateCategory::Custom
        },
        params: xml("templates.params", &row.text("params")?)?,
        created: row.int("created")?,
        updated: row.int("updated")?,
    })
}

pub(crate) fn workflow(row: &impl Cols) -> StoreResult<Workflow> {
    let state = row.text("state")?;
    Ok(Workflow {
        id: row.text("id")?,
        bucket: row.text("bucket")?,
        name: row.text("name")?,
        state: WorkflowState::parse(&state).ok_or_else(|| corrupt("workflows.state", &state))?,
        topology_xml: xml("workflows.topology", &row.text("topology")?)?,
        created: row.int("created")?,
        updated: row.int("updated")?,
    })
}

pub(crate) fn instance(row: &impl Cols) -> StoreResult<Instance> {
    instance_prefixed(row, "")
}

/// An instance read from columns named `<prefix><column>` (joined queries).
pub(crate) fn instance_prefixed(row: &impl Cols, prefix: &str) -> StoreResult<Instance> {
    let col = |name: &str| format!("{prefix}{name}");
    let state = row.text(&col("state"))?;
    Ok(Instance {
        run_id: row.text(&col("run_id"))?,
        workflow_id: row.text(&col("workflow_id"))?,
        workflow_name: row.text(&col("workflow_name"))?,
        bucket: row.text(&col("bucket"))?,
        object: row.text(&col("object"))?,
        cos_headers: pairs_from_json("instances.cos_headers", &row.text(&col("cos_headers"))?)?,
        topology_xml: xml("instances.topology", &row.text(&col("topology"))?)?,
        state: RunState::parse(&state).ok_or_else(|| corrupt("instances.state", &state))?,
        created: row.int(&col("created"))?,
        ended: row.opt_int(&col("ended"))?,
    })
}

/// A stored task state.
pub(crate) fn task_state(text: &str) -> StoreResult<TaskState> {
    TaskState::parse(text).ok_or_else(|| corrupt("tasks.state", text))
}

pub(crate) fn task(row: &impl Cols) -> StoreResult<Task> {
    let outputs = pairs_from_json("tasks.outputs", &row.text("outputs")?)?
        .into_iter()
        .map(|(bucket, key)| OutputObject { bucket, key })
        .collect();
    Ok(Task {
        job_id: row.text("job_id")?,
        run_id: row.text("run_id")?,
        node_name: row.text("node_name")?,
        node_type: {
            let text = row.text("node_type")?;
            NodeType::of_task_type(&text).ok_or_else(|| StoreError::Corrupt {
                column: "tasks.node_type",
                detail: format!("unknown node type {text:?}"),
            })?
        },
        tag: row.text("node_type")?,
        template_id: row.text("template_id")?,
        template_name: row.text("template_name")?,
        queue_id: row.text("queue_id")?,
        state: task_state(&row.text("state")?)?,
        code: row.text("code")?,
        message: row.text("message")?,
        progress: row.int("progress")?.clamp(0, 100) as u8,
        input_bucket: row.text("input_bucket")?,
        input_key: row.text("input_key")?,
        outputs,
        result: row.text("result")?,
        created: row.int("created")?,
        started: row.opt_int("started")?,
        ended: row.opt_int("ended")?,
        attempts: row.int("attempts")?.clamp(0, i64::from(u32::MAX)) as u32,
        not_before: row.int("not_before")?,
        sub: sub_task(row)?,
    })
}

pub(crate) fn queue(row: &impl Cols) -> StoreResult<Queue> {
    let notify = row.text("notify")?;
    Ok(Queue {
        id: row.text("id")?,
        bucket: row.text("bucket")?,
        name: row.text("name")?,
        active: row.text("state")? == "Active",
        max_size: row.int("max_size")? as u32,
        max_concurrent: row.int("max_concurrent")? as u32,
        notify: if notify.is_empty() {
            XmlElement::new("NotifyConfig")
        } else {
            XmlElement::parse(notify.as_bytes()).map_err(|e| corrupt("queues.notify", e))?
        },
        created: row.int("created")?,
        updated: row.int("updated")?,
    })
}

/// A queue's notify element as stored: empty text when it has no content.
pub(crate) fn queue_notify(queue: &Queue) -> String {
    if queue.notify.is_empty() {
        String::new()
    } else {
        queue.notify.to_xml()
    }
}

/// Free text stored as given, except NUL characters, which PostgreSQL text cannot hold: both
/// backends store U+FFFD in their place, so the same input reads back the same everywhere.
pub(crate) fn clean_text(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\0') {
        std::borrow::Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// The sub-task marker of a task row (`parent_job_id`, `sub_spec`); `None` for ordinary tasks
/// and for rows read without those columns.
fn sub_task(row: &impl Cols) -> StoreResult<Option<SubTask>> {
    let Ok(Some(parent_job_id)) = row.opt_text("parent_job_id") else {
        return Ok(None);
    };
    Ok(Some(SubTask {
        parent_job_id,
        spec: row.opt_text("sub_spec")?.unwrap_or_default(),
    }))
}
