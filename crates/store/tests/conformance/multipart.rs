//! The multipart upload catalog.

use std::sync::Arc;

use reelflow_model::execution::RunState;
use reelflow_store::*;

use crate::support::{self, B, record};

pub fn upload(id: &str, key: &str, initiated_ms: i64) -> MultipartUpload {
    MultipartUpload {
        upload_id: id.into(),
        bucket: B.into(),
        key: key.into(),
        content_type: "video/mp4".into(),
        user_meta: vec![
            ("x-cos-meta-b".into(), "2".into()),
            ("x-cos-meta-a".into(), "1".into()),
        ],
        initiated_ms,
    }
}

pub fn part(number: u32, blob: &str) -> UploadPart {
    UploadPart {
        part_number: number,
        blob_id: blob.into(),
        size: 1_048_576 + u64::from(number),
        md5_hex: format!("{number:032x}"),
        // Above i64::MAX: checks the bit-cast both ways.
        crc64: u64::MAX - u64::from(number),
        last_modified_ms: 1_000 + i64::from(number),
    }
}

fn run(run_id: &str) -> NewRun {
    let mut r = support::run(run_id, 1);
    r.instance.state = RunState::Running;
    r.tasks.clear();
    r
}

async fn run_count(store: &Arc<dyn Store>) -> usize {
    let query = RunQuery {
        workflow_id: "w1".into(),
        limit: 100,
        ..Default::default()
    };
    store.list_runs(&query).await.unwrap().len()
}

fn numbers(parts: &[UploadPart]) -> Vec<u32> {
    parts.iter().map(|p| p.part_number).collect()
}

pub async fn uploads_are_found_only_under_their_bucket_and_key(store: Arc<dyn Store>) {
    let u = upload("u1", "in/a.mp4", 10);
    store.create_upload(&u).await.unwrap();
    assert_eq!(
        store.get_upload(B, "in/a.mp4", "u1").await.unwrap(),
        Some(u)
    );
    assert_eq!(store.get_upload(B, "in/b.mp4", "u1").await.unwrap(), None);
    assert_eq!(
        store.get_upload("b-2", "in/a.mp4", "u1").await.unwrap(),
        None
    );
    assert_eq!(store.get_upload(B, "in/a.mp4", "u2").await.unwrap(), None);
}

pub async fn parts_overwrite_and_list_in_number_order_with_paging(store: Arc<dyn Store>) {
    store.create_upload(&upload("u1", "k", 10)).await.unwrap();
    for (n, blob) in [(3, "p3"), (1, "p1"), (2, "p2")] {
        assert_eq!(store.put_part("u1", &part(n, blob)).await.unwrap(), None);
    }
    // Re-uploading a part number replaces it and hands back the old blob.
    let replaced = store.put_part("u1", &part(2, "p2-again")).await.unwrap();
    assert_eq!(replaced.as_deref(), Some("p2"));
    // The same blob again is not a replacement.
    assert_eq!(
        store.put_part("u1", &part(2, "p2-again")).await.unwrap(),
        None
    );

    let all = store.list_parts("u1", 0, 1000).await.unwrap();
    assert_eq!(numbers(&all), [1, 2, 3]);
    assert_eq!(all[1], part(2, "p2-again"));
    assert_eq!(all[0], part(1, "p1"));
    assert_eq!(numbers(&store.list_parts("u1", 1, 1).await.unwrap()), [2]);
    assert_eq!(numbers(&store.list_parts("u1", 2, 5).await.unwrap()), [3]);
    assert!(store.list_parts("u1", 3, 5).await.unwrap().is_empty());

    for result in [
        store.put_part("nope", &part(1, "x")).await.map(drop),
        store.list_parts("nope", 0, 10).await.map(drop),
    ] {
        assert!(
            matches!(result, Err(StoreError::NoSuchUpload(ref id)) if id == "nope"),
            "{result:?}"
        );
    }
}

pub async fn uploads_list_in_key_then_id_byte_order_with_markers(store: Arc<dyn Store>) {
    for (id, key) in [("u2", "a/1"), ("u1", "a/1"), ("u3", "a%/x"), ("u4", "b")] {
        store.create_upload(&upload(id, key, 1)).await.unwrap();
    }
    let other = MultipartUpload {
        bucket: "b-2".into(),
        ..upload("u5", "a/1", 1)
    };
    store.create_upload(&other).await.unwrap();
    let list = |prefix: &'static str, key: &'static str, id: &'static str, limit: u32| {
        let store = store.clone();
        async move {
            store
                .list_uploads(B, prefix, key, id, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|u| format!("{}#{}", u.key, u.upload_id))
                .collect::<Vec<_>>()
        }
    };
    // '%' (0x25) sorts before '/' (0x2f); ids order within a key.
    assert_eq!(
        list("", "", "", 100).await,
        ["a%/x#u3", "a/1#u1", "a/1#u2", "b#u4"]
    );
    // The prefix is exact: '%' is not a wildcard.
    assert_eq!(list("a%", "", "", 100).await, ["a%/x#u3"]);
    assert_eq!(list("a/", "", "", 100).await, ["a/1#u1", "a/1#u2"]);
    // A key marker alone skips that key entirely.
    assert_eq!(list("", "a/1", "", 100).await, ["b#u4"]);
    // With an upload-id marker, the rest of that key's uploads come first.
    assert_eq!(list("", "a/1", "u1", 100).await, ["a/1#u2", "b#u4"]);
    assert_eq!(list("", "a/1", "u2", 100).await, ["b#u4"]);
    // An upload-id marker without a key marker is ignored.
    assert_eq!(list("", "", "u9", 2).await, ["a%/x#u3", "a/1#u1"]);
    // Paging by the last entry's (key, id) visits everything once.
    let mut seen = Vec::new();
    let (mut key, mut id) = (String::new(), String::new());
    loop {
        let page = store.list_uploads(B, "", &key, &id, 1).await.unwrap();
        let Some(last) = page.last() else { break };
        (key, id) = (last.key.clone(), last.upload_id.clone());
        seen.push(last.upload_id.clone());
    }
    assert_eq!(seen, ["u3", "u1", "u2", "u4"]);
}

pub async fn complete_commits_the_object_and_runs_once_and_ends_the_upload(store: Arc<dyn Store>) {
    store
        .put_object(&record("in/a.mp4", "old-blob"), &[])
        .await
        .unwrap();
    store
        .create_upload(&upload("u1", "in/a.mp4", 10))
        .await
        .unwrap();
    for (n, blob) in [(1, "p1"), (2, "p2"), (3, "p3"), (4, "p4")] {
        store.put_part("u1", &part(n, blob)).await.unwrap();
    }
    // Parts 1 and 3 are completed; 2 and 4 were uploaded but not listed.
    let used = [part(1, "p1"), part(3, "p3")];
    let new = record("in/a.mp4", "mcomposite");
    let done = store
        .complete_upload("u1", &used, &new, &[run("r1")])
        .await
        .unwrap();
    assert_eq!(
        done,
        CompletedUpload {
            replaced_blob: Some("old-blob".into()),
            unused_part_blobs: vec!["p2".into(), "p4".into()],
        }
    );
    assert_eq!(store.get_object(B, "in/a.mp4").await.unwrap(), Some(new));
    assert!(store.get_run("r1").await.unwrap().is_some());
    assert_eq!(store.get_upload(B, "in/a.mp4", "u1").await.unwrap(), None);

    // A second completion (a retried request, a racing one) finds no upload and changes nothing.
    let again = store
        .complete_upload("u1", &used, &record("in/a.mp4", "mother"), &[run("r2")])
        .await;
    assert!(
        matches!(again, Err(StoreError::NoSuchUpload(_))),
        "{again:?}"
    );
    assert_eq!(again.unwrap_err().code(), "NoSuchUpload");
    assert_eq!(run_count(&store).await, 1);
    let obj = store.get_object(B, "in/a.mp4").await.unwrap().unwrap();
    assert_eq!(obj.blob_id, "mcomposite");
    assert!(matches!(
        store.list_parts("u1", 0, 10).await,
        Err(StoreError::NoSuchUpload(_))
    ));
    assert!(matches!(
        store.put_part("u1", &part(5, "late")).await,
        Err(StoreError::NoSuchUpload(_))
    ));
}

pub async fn complete_of_a_new_key_replaces_nothing(store: Arc<dyn Store>) {
    store.create_upload(&upload("u1", "k", 10)).await.unwrap();
    store.put_part("u1", &part(1, "p1")).await.unwrap();
    let done = store
        .complete_upload("u1", &[part(1, "p1")], &record("k", "m1"), &[])
        .await
        .unwrap();
    assert_eq!(done, CompletedUpload::default());
}

pub async fn complete_refuses_another_key_or_a_reuploaded_part_and_changes_nothing(
    store: Arc<dyn Store>,
) {
    store.create_upload(&upload("u1", "k", 10)).await.unwrap();
    store.put_part("u1", &part(1, "p1")).await.unwrap();
    store.put_part("u1", &part(2, "p2")).await.unwrap();
    let listed = store.list_parts("u1", 0, 10).await.unwrap();

    let wrong_key = store
        .complete_upload("u1", &listed, &record("other", "m1"), &[run("r1")])
        .await;
    assert!(
        matches!(wrong_key, Err(StoreError::NoSuchUpload(_))),
        "{wrong_key:?}"
    );

    // Part 2 is uploaded again between listing and completing.
    store.put_part("u1", &part(2, "p2-new")).await.unwrap();
    let stale = store
        .complete_upload("u1", &listed, &record("k", "m1"), &[run("r1")])
        .await;
    assert!(
        matches!(stale, Err(StoreError::InvalidPart { part_number: 2, .. })),
        "{stale:?}"
    );
    let never = store
        .complete_upload("u1", &[part(9, "p9")], &record("k", "m1"), &[])
        .await;
    assert!(matches!(never, Err(StoreError::InvalidPart { .. })));

    // Nothing happened: no object, no run, the upload and its parts are intact.
    assert_eq!(store.get_object(B, "k").await.unwrap(), None);
    assert_eq!(run_count(&store).await, 0);
    assert!(store.get_upload(B, "k", "u1").await.unwrap().is_some());
    let parts = store.list_parts("u1", 0, 10).await.unwrap();
    assert_eq!(parts, [part(1, "p1"), part(2, "p2-new")]);
}

pub async fn abort_returns_every_part_blob_and_ends_the_upload(store: Arc<dyn Store>) {
    store.create_upload(&upload("u1", "k", 10)).await.unwrap();
    store.create_upload(&upload("u2", "k", 11)).await.unwrap();
    for (n, blob) in [(2, "p2"), (1, "p1"), (10, "p10")] {
        store.put_part("u1", &part(n, blob)).await.unwrap();
    }
    store.put_part("u2", &part(1, "keep")).await.unwrap();
    assert_eq!(store.abort_upload("u1").await.unwrap(), ["p1", "p2", "p10"]);
    assert_eq!(store.get_upload(B, "k", "u1").await.unwrap(), None);
    assert!(matches!(
        store.abort_upload("u1").await,
        Err(StoreError::NoSuchUpload(_))
    ));
    assert!(matches!(
        store.put_part("u1", &part(3, "p3")).await,
        Err(StoreError::NoSuchUpload(_))
    ));
    // The other upload of the same key is untouched.
    assert_eq!(numbers(&store.list_parts("u2", 0, 10).await.unwrap()), [1]);
    assert_eq!(store.abort_upload("u2").await.unwrap(), ["keep"]);
    // An upload without parts aborts to nothing.
    store.create_upload(&upload("u3", "k", 12)).await.unwrap();
    assert!(store.abort_upload("u3").await.unwrap().is_empty());
}

pub async fn stale_uploads_are_the_oldest_before_the_cutoff(store: Arc<dyn Store>) {
    for (id, ms) in [("u3", 30), ("u1", 10), ("u2", 20)] {
        store.create_upload(&upload(id, "k", ms)).await.unwrap();
    }
    let ids = |v: Vec<MultipartUpload>| v.into_iter().map(|u| u.upload_id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.stale_uploads(25, 100).await.unwrap()),
        ["u1", "u2"]
    );
    assert_eq!(ids(store.stale_uploads(25, 1).await.unwrap()), ["u1"]);
    assert!(store.stale_uploads(10, 100).await.unwrap().is_empty());
    let stale = store.stale_uploads(11, 100).await.unwrap();
    assert_eq!((stale[0].bucket.as_str(), stale[0].key.as_str()), (B, "k"));
}
