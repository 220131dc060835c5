//! Queues.

use async_trait::async_trait;
use reelflow_model::XmlElement;
use reelflow_model::ids::new_queue_id;
use reelflow_model::queue::Queue;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::SqliteStore;
use crate::error::corrupt;
use crate::{QueueStore, StoreResult};

fn queue(row: &SqliteRow) -> StoreResult<Queue> {
    let notify: String = row.try_get("notify")?;
    let state: String = row.try_get("state")?;
    Ok(Queue {
        id: row.try_get("id")?,
        bucket: row.try_get("bucket")?,
        name: row.try_get("name")?,
        active: state == "Active",
        max_size: row.try_get::<i64, _>("max_size")? as u32,
        max_concurrent: row.try_get::<i64, _>("max_concurrent")? as u32,
        notify: if notify.is_empty() {
            XmlElement::new("NotifyConfig")
        } else {
            XmlElement::parse(notify.as_bytes()).map_err(|e| corrupt("queues.notify", e))?
        },
        created: row.try_get("created")?,
        updated: row.try_get("updated")?,
    })
}

#[async_trait]
impl QueueStore for SqliteStore {
    async fn default_queue(
        &self,
        bucket: &str,
        max_concurrent: u32,
        now: i64,
    ) -> StoreResult<Queue> {
        sqlx::query(
            "INSERT OR IGNORE INTO queues (id, bucket, name, state, max_size, max_concurrent, \
             notify, is_default, created, updated) VALUES (?, ?, 'default', 'Active', 10000, ?, '', 1, ?, ?)",
        )
        .bind(new_queue_id())
        .bind(bucket)
        .bind(i64::from(max_concurrent))
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT * FROM queues WHERE bucket = ? AND is_default = 1")
            .bind(bucket)
            .fetch_one(&self.pool)
            .await?;
        queue(&row)
    }

    async fn get_queue(&self, id: &str) -> StoreResult<Option<Queue>> {
        sqlx::query("SELECT * FROM queues WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(queue)
            .transpose()
    }

    async fn list_queues(&self, bucket: &str) -> StoreResult<Vec<Queue>> {
        let rows = sqlx::query("SELECT * FROM queues WHERE bucket = ? ORDER BY created, id")
            .bind(bucket)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(queue).collect()
    }

    async fn save_queue(&self, q: &Queue) -> StoreResult<()> {
        let notify = if q.notify.is_empty() {
            String::new()
        } else {
            q.notify.to_xml()
        };
        sqlx::query(
            "UPDATE queues SET name = ?, state = ?, max_size = ?, max_concurrent = ?, notify = ?, \
             updated = ? WHERE id = ?",
        )
        .bind(&q.name)
        .bind(q.state())
        .bind(i64::from(q.max_size))
        .bind(i64::from(q.max_concurrent))
        .bind(notify)
        .bind(q.updated)
        .bind(&q.id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
