//! SQLite-only checks: what the trait cannot see (rows written by older schemas, migrations).
//! Trait behaviour is tested for every backend by the conformance suite (`tests/conformance`).

use reelflow_model::object::{ObjectOrigin, ObjectRecord};

use super::SqliteStore;
use crate::CatalogStore;

#[tokio::test]
async fn object_crc_is_null_for_rows_written_before_it_existed() {
    let store = SqliteStore::in_memory().await.unwrap();
    // A row as the pre-CRC schema wrote it.
    sqlx::query(
        "INSERT INTO objects (bucket, key, blob_id, size, etag, content_type, last_modified_ms, \
         user_meta, origin) VALUES ('b-1', 'legacy', 'b', 1, 'e', 't', 0, '[]', 'Upload')",
    )
    .execute(&store.pool)
    .await
    .unwrap();
    let legacy = store.get_object("b-1", "legacy").await.unwrap().unwrap();
    assert_eq!(legacy.crc64, None);
    assert_eq!(legacy.origin, ObjectOrigin::Upload);
    let _: Option<ObjectRecord> = store.delete_object("b-1", "legacy").await.unwrap();
}

#[tokio::test]
async fn no_trigger_applies_verdicts_besides_the_store_code() {
    // Migration 0005 drops the verdict trigger of 0002: with both, an attempt would count twice.
    let store = SqliteStore::in_memory().await.unwrap();
    let triggers: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'")
            .fetch_one(&store.pool)
            .await
            .unwrap();
    assert_eq!(triggers, 0);
}
