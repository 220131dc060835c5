//! Row ↔ model conversions shared by the SQLite modules.

use reelflow_model::XmlElement;
use reelflow_model::execution::{Instance, OutputObject, RunState, Task, TaskState};
use reelflow_model::object::{ObjectOrigin, ObjectRecord};
use reelflow_model::template::{Template, TemplateCategory, TemplateTag};
use reelflow_model::workflow::{Workflow, WorkflowState};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::error::corrupt;
use crate::{MultipartUpload, StoreResult, UploadPart};

/// A CRC-64 as SQLite stores it: the signed integer with the same bits.
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

pub(crate) fn object(row: &SqliteRow) -> StoreResult<ObjectRecord> {
    let origin: String = row.try_get("origin")?;
    Ok(ObjectRecord {
        bucket: row.try_get("bucket")?,
        key: row.try_get("key")?,
        blob_id: row.try_get("blob_id")?,
        size: row.try_get::<i64, _>("size")? as u64,
        etag: row.try_get("etag")?,
        crc64: row.try_get::<Option<i64>, _>("crc64")?.map(crc_from_sql),
        content_type: row.try_get("content_type")?,
        last_modified_ms: row.try_get("last_modified_ms")?,
        user_meta: pairs_from_json("objects.user_meta", &row.try_get::<String, _>("user_meta")?)?,
        origin: if origin == "Workflow" {
            ObjectOrigin::Workflow
        } else {
            ObjectOrigin::Upload
        },
    })
}

pub(crate) fn upload(row: &SqliteRow) -> StoreResult<MultipartUpload> {
    Ok(MultipartUpload {
        upload_id: row.try_get("upload_id")?,
        bucket: row.try_get("bucket")?,
        key: row.try_get("key")?,
        content_type: row.try_get("content_type")?,
        user_meta: pairs_from_json(
            "multipart_uploads.user_meta",
            &row.try_get::<String, _>("user_meta")?,
        )?,
        initiated_ms: row.try_get("initiated_ms")?,
    })
}

pub(crate) fn part(row: &SqliteRow) -> StoreResult<UploadPart> {
    let number: i64 = row.try_get("part_number")?;
    Ok(UploadPart {
        part_number: u32::try_from(number)
            .map_err(|_| corrupt("multipart_parts.part_number", number))?,
        blob_id: row.try_get("blob_id")?,
        size: row.try_get::<i64, _>("size")? as u64,
        md5_hex: row.try_get("md5_hex")?,
        crc64: crc_from_sql(row.try_get("crc64")?),
        last_modified_ms: row.try_get("last_modified_ms")?,
    })
}

pub(crate) fn origin_str(origin: ObjectOrigin) -> &'static str {
    match origin {
        ObjectOrigin::Upload => "Upload",
        ObjectOrigin::Workflow => "Workflow",
    }
}

pub(crate) fn template(row: &SqliteRow) -> StoreResult<Template> {
    let tag: String = row.try_get("tag")?;
    let category: String = row.try_get("category")?;
    Ok(Template {
        id: row.try_get("id")?,
        bucket: row.try_get("bucket")?,
        name: row.try_get("name")?,
        tag: TemplateTag::parse(&tag).ok_or_else(|| corrupt("templates.tag", &tag))?,
        category: if category == "Official" {
            TemplateCategory::Official
        } else {
            TemplateCategory::Custom
        },
        params: xml("templates.params", &row.try_get::<String, _>("params")?)?,
        created: row.try_get("created")?,
        updated: row.try_get("updated")?,
    })
}

pub(crate) fn workflow(row: &SqliteRow) -> StoreResult<Workflow> {
    let state: String = row.try_get("state")?;
    Ok(Workflow {
        id: row.try_get("id")?,
        bucket: row.try_get("bucket")?,
        name: row.try_get("name")?,
        state: WorkflowState::parse(&state).ok_or_else(|| corrupt("workflows.state", &state))?,
        topology_xml: xml("workflows.topology", &row.try_get::<String, _>("topology")?)?,
        created: row.try_get("created")?,
        updated: row.try_get("updated")?,
    })
}

pub(crate) fn instance(row: &SqliteRow) -> StoreResult<Instance> {
    instance_prefixed(row, "")
}

/// An instance read from columns named `<prefix><column>` (joined queries).
pub(crate) fn instance_prefixed(row: &SqliteRow, prefix: &str) -> StoreResult<Instance> {
    let col = |name: &str| format!("{prefix}{name}");
    let state: String = row.try_get(col("state").as_str())?;
    Ok(Instance {
        run_id: row.try_get(col("run_id").as_str())?,
        workflow_id: row.try_get(col("workflow_id").as_str())?,
        workflow_name: row.try_get(col("workflow_name").as_str())?,
        bucket: row.try_get(col("bucket").as_str())?,
        object: row.try_get(col("object").as_str())?,
        cos_headers: pairs_from_json(
            "instances.cos_headers",
            &row.try_get::<String, _>(col("cos_headers").as_str())?,
        )?,
        topology_xml: xml(
            "instances.topology",
            &row.try_get::<String, _>(col("topology").as_str())?,
        )?,
        state: RunState::parse(&state).ok_or_else(|| corrupt("instances.state", &state))?,
        created: row.try_get(col("created").as_str())?,
        ended: row.try_get(col("ended").as_str())?,
    })
}

pub(crate) fn task(row: &SqliteRow) -> StoreResult<Task> {
    let state: String = row.try_get("state")?;
    let outputs = pairs_from_json("tasks.outputs", &row.try_get::<String, _>("outputs")?)?
        .into_iter()
        .map(|(bucket, key)| OutputObject { bucket, key })
        .collect();
    Ok(Task {
        job_id: row.try_get("job_id")?,
        run_id: row.try_get("run_id")?,
        node_name: row.try_get("node_name")?,
        node_type: row.try_get("node_type")?,
        template_id: row.try_get("template_id")?,
        template_name: row.try_get("template_name")?,
        queue_id: row.try_get("queue_id")?,
        state: TaskState::parse(&state).ok_or_else(|| corrupt("tasks.state", &state))?,
        code: row.try_get("code")?,
        message: row.try_get("message")?,
        progress: row.try_get::<i64, _>("progress")?.clamp(0, 100) as u8,
        input_bucket: row.try_get("input_bucket")?,
        input_key: row.try_get("input_key")?,
        outputs,
        result: row.try_get("result")?,
        created: row.try_get("created")?,
        started: row.try_get("started")?,
        ended: row.try_get("ended")?,
    })
}
