//! Templates and workflows on PostgreSQL.

use async_trait::async_trait;
use reelflow_model::template::{Template, TemplateTag};
use reelflow_model::workflow::Workflow;

use super::PgStore;
use crate::rows;
use crate::{DefinitionStore, StoreResult};

#[async_trait]
impl DefinitionStore for PgStore {
    async fn save_template(&self, t: &Template) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO templates (id, bucket, name, tag, category, params, created, updated) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO UPDATE SET \
             bucket = $2, name = $3, tag = $4, category = $5, params = $6, created = $7, \
             updated = $8",
        )
        .bind(&t.id)
        .bind(&t.bucket)
        .bind(&t.name)
        .bind(t.tag.as_str())
        .bind(t.category.as_str())
        .bind(t.params.to_xml())
        .bind(t.created)
        .bind(t.updated)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_template(&self, id: &str) -> StoreResult<Option<Template>> {
        sqlx::query("SELECT * FROM templates WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(rows::template)
            .transpose()
    }

    async fn list_templates(
        &self,
        bucket: &str,
        tag: Option<TemplateTag>,
    ) -> StoreResult<Vec<Template>> {
        let rows = sqlx::query(
            "SELECT * FROM templates WHERE bucket = $1 AND ($2::text IS NULL OR tag = $2) \
             ORDER BY created, id",
        )
        .bind(bucket)
        .bind(tag.map(TemplateTag::as_str))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::template).collect()
    }

    async fn delete_template(&self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM templates WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn save_workflow(&self, w: &Workflow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO workflows (id, bucket, name, state, topology, created, updated) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET bucket = $2, \
             name = $3, state = $4, topology = $5, created = $6, updated = $7",
        )
        .bind(&w.id)
        .bind(&w.bucket)
        .bind(&w.name)
        .bind(w.state.as_str())
        .bind(w.topology_xml.to_xml())
        .bind(w.created)
        .bind(w.updated)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_workflow(&self, id: &str) -> StoreResult<Option<Workflow>> {
        sqlx::query("SELECT * FROM workflows WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(rows::workflow)
            .transpose()
    }

    async fn list_workflows(&self, bucket: &str) -> StoreResult<Vec<Workflow>> {
        let rows = sqlx::query("SELECT * FROM workflows WHERE bucket = $1 ORDER BY created, id")
            .bind(bucket)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::workflow).collect()
    }

    async fn delete_workflow(&self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM workflows WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
