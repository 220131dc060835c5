//! Buckets and object records.

use std::sync::Arc;

use reelflow_model::object::ObjectRecord;
use reelflow_store::*;

use crate::support::*;

pub async fn buckets_are_created_once_listed_by_name_and_deleted_when_empty(store: Arc<dyn Store>) {
    assert!(store.create_bucket("b-2", 2).await.unwrap());
    assert!(store.create_bucket("b-1", 1).await.unwrap());
    assert!(!store.create_bucket("b-1", 9).await.unwrap(), "exists");
    assert!(store.bucket_exists("b-1").await.unwrap());
    assert!(!store.bucket_exists("b-3").await.unwrap());
    assert_eq!(
        store.list_buckets().await.unwrap(),
        [("b-1".to_owned(), 1), ("b-2".to_owned(), 2)]
    );
    store.put_object(&record("k", "blob"), &[]).await.unwrap();
    let err = store.delete_bucket(B).await.unwrap_err();
    assert!(matches!(err, StoreError::BucketNotEmpty(_)), "{err:?}");
    assert_eq!(err.code(), "BucketNotEmpty");
    store.delete_object(B, "k").await.unwrap();
    store.delete_bucket(B).await.unwrap();
    assert!(!store.bucket_exists(B).await.unwrap());
    let err = store.delete_bucket(B).await.unwrap_err();
    assert!(matches!(err, StoreError::NoSuchBucket(_)), "{err:?}");
}

pub async fn object_listing_is_byte_ordered_and_prefix_exact(store: Arc<dyn Store>) {
    // '%' and '_' are LIKE wildcards; 'Z' < 'a' < 'é' in byte order (not in most locales).
    for key in ["a%/1", "a_/2", "ab/3", "a%/0", "Zz", "é/1", "a/é"] {
        store.put_object(&record(key, "b"), &[]).await.unwrap();
    }
    let keys = |v: Vec<ObjectRecord>| v.into_iter().map(|r| r.key).collect::<Vec<_>>();
    assert_eq!(
        keys(store.list_objects(B, "", "", 100).await.unwrap()),
        ["Zz", "a%/0", "a%/1", "a/é", "a_/2", "ab/3", "é/1"]
    );
    assert_eq!(
        keys(store.list_objects(B, "a%", "", 10).await.unwrap()),
        ["a%/0", "a%/1"]
    );
    assert_eq!(
        keys(store.list_objects(B, "a_", "", 10).await.unwrap()),
        ["a_/2"]
    );
    assert_eq!(
        keys(store.list_objects(B, "", "a%/1", 2).await.unwrap()),
        ["a/é", "a_/2"]
    );
    assert_eq!(
        keys(store.list_objects(B, "é", "", 10).await.unwrap()),
        ["é/1"]
    );
    assert!(
        store
            .list_objects("b-2", "", "", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn objects_round_trip_and_replacements_hand_back_the_old_blob(store: Arc<dyn Store>) {
    for crc in [Some(u64::MAX), Some(0), Some(1 << 63), None] {
        let r = ObjectRecord {
            crc64: crc,
            ..record("k", "blob")
        };
        store.put_object(&r, &[]).await.unwrap();
        assert_eq!(store.get_object(B, "k").await.unwrap(), Some(r));
    }
    let replaced = store.put_object(&record("k", "new"), &[]).await.unwrap();
    assert_eq!(replaced.as_deref(), Some("blob"));
    // Writing the same blob again replaces nothing the caller should delete.
    assert_eq!(
        store.put_object(&record("k", "new"), &[]).await.unwrap(),
        None
    );
    let deleted = store.delete_object(B, "k").await.unwrap();
    assert_eq!(deleted, Some(record("k", "new")));
    assert_eq!(store.delete_object(B, "k").await.unwrap(), None);
    assert_eq!(store.get_object(B, "k").await.unwrap(), None);
}

pub async fn an_upload_and_its_runs_commit_together(store: Arc<dyn Store>) {
    store
        .put_object(&record("in/a.mp4", "v1"), &[run("r1", 1)])
        .await
        .unwrap();
    let (instance, tasks) = store.get_run("r1").await.unwrap().unwrap();
    assert_eq!(instance, run("r1", 1).instance);
    assert_eq!(tasks, run("r1", 1).tasks);
    // A run that cannot be created (its id exists) fails the whole upload: the object stays v1.
    let failed = store
        .put_object(&record("in/a.mp4", "v2"), &[run("r2", 2), run("r1", 3)])
        .await;
    assert!(failed.is_err());
    let kept = store.get_object(B, "in/a.mp4").await.unwrap().unwrap();
    assert_eq!(kept.blob_id, "v1");
    assert!(store.get_run("r2").await.unwrap().is_none());
}
