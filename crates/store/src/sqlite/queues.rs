//! Queues.

use async_trait::async_trait;
use reelflow_model::ids::new_queue_id;
use reelflow_model::queue::Queue;

use super::SqliteStore;
use crate::rows::{self, queue_notify};
use crate::{QueueStore, StoreResult};

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
        rows::queue(&row)
    }

    async fn get_queue(&self, id: &str) -> StoreResult<Option<Queue>> {
        sqlx::query("SELECT * FROM queues WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(rows::queue)
            .transpose()
    }

    async fn list_queues(&self, bucket: &str) -> StoreResult<Vec<Queue>> {
        let rows = sqlx::query("SELECT * FROM queues WHERE bucket = ? ORDER BY created, id")
            .bind(bucket)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::queue).collect()
    }

    async fn save_queue(&self, q: &Queue) -> StoreResult<()> {
        sqlx::query(
            "UPDATE queues SET name = ?, state = ?, max_size = ?, max_concurrent = ?, notify = ?, \
             updated = ? WHERE id = ?",
        )
        .bind(&q.name)
        .bind(q.state())
        .bind(i64::from(q.max_size))
        .bind(i64::from(q.max_concurrent))
        .bind(queue_notify(q))
        .bind(q.updated)
        .bind(&q.id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
