//! Queues on PostgreSQL.

use async_trait::async_trait;
use reelflow_model::ids::new_queue_id;
use reelflow_model::queue::Queue;

use super::{PgStore, notify};
use crate::rows::{self, queue_notify};
use crate::{QueueStore, StoreResult};

#[async_trait]
impl QueueStore for PgStore {
    async fn default_queue(
        &self,
        bucket: &str,
        max_concurrent: u32,
        now: i64,
    ) -> StoreResult<Queue> {
        // The unique index on (bucket) WHERE is_default makes the first writer win.
        sqlx::query(
            "INSERT INTO queues (id, bucket, name, state, max_size, max_concurrent, notify, \
             is_default, created, updated) \
             VALUES ($1, $2, 'default', 'Active', 10000, $3, '', TRUE, $4, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(new_queue_id())
        .bind(bucket)
        .bind(i64::from(max_concurrent))
        .bind(now)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT * FROM queues WHERE bucket = $1 AND is_default")
            .bind(bucket)
            .fetch_one(&self.pool)
            .await?;
        rows::queue(&row)
    }

    async fn get_queue(&self, id: &str) -> StoreResult<Option<Queue>> {
        sqlx::query("SELECT * FROM queues WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(rows::queue)
            .transpose()
    }

    async fn list_queues(&self, bucket: &str) -> StoreResult<Vec<Queue>> {
        let rows = sqlx::query("SELECT * FROM queues WHERE bucket = $1 ORDER BY created, id")
            .bind(bucket)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::queue).collect()
    }

    async fn save_queue(&self, q: &Queue) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE queues SET name = $1, state = $2, max_size = $3, max_concurrent = $4, \
             notify = $5, updated = $6 WHERE id = $7",
        )
        .bind(&q.name)
        .bind(q.state())
        .bind(i64::from(q.max_size))
        .bind(i64::from(q.max_concurrent))
        .bind(queue_notify(q))
        .bind(q.updated)
        .bind(&q.id)
        .execute(&mut *tx)
        .await?;
        // A resumed or widened queue may have claimable tasks.
        notify(&mut tx, &self.channels.tasks).await?;
        tx.commit().await?;
        Ok(())
    }
}
