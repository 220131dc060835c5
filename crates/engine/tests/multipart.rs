//! Multipart completion through the engine: the composite object is committed with the runs it
//! triggers exactly once, and ffmpeg reads it through `download_to` (a composite has no local
//! path).

mod common;

use common::*;
use reelflow_engine::EngineError;
use reelflow_model::execution::RunState;
use reelflow_model::object::{ObjectOrigin, ObjectRecord, new_upload_id};
use reelflow_objects::{BlobError, BlobStore, PartRef, crc64};
use reelflow_store::{MultipartUpload, StoreError, UploadPart};

const MP4_160: &str = "<Request><Tag>Transcode</Tag><Name>small</Name><Container><Format>mp4</Format></Container><Video><Codec>H.264</Codec><Width>160</Width><Crf>35</Crf></Video></Request>";
const KEY: &str = "in/multi.mp4";

fn record(blob: &reelflow_objects::BlobWritten) -> ObjectRecord {
    ObjectRecord {
        bucket: BUCKET.into(),
        key: KEY.into(),
        blob_id: blob.id.clone(),
        size: blob.size,
        etag: blob.md5_hex.clone(),
        crc64: Some(blob.crc64),
        content_type: "video/mp4".into(),
        last_modified_ms: 1,
        user_meta: vec![],
        origin: ObjectOrigin::Upload,
    }
}

fn refs(parts: &[UploadPart]) -> Vec<PartRef> {
    parts
        .iter()
        .map(|p| PartRef {
            id: p.blob_id.clone(),
            size: p.size,
            md5_hex: p.md5_hex.clone(),
            crc64: p.crc64,
        })
        .collect()
}

#[tokio::test]
async fn completion_triggers_once_transcodes_the_composite_and_cleans_up() {
    let h = harness().await;
    let t = h.template(MP4_160).await;
    h.workflow(
        "<Start>T</Start><T>End</T>",
        &node("T", "Transcode", &t, "out/${RunId}/t.${Ext}"),
    )
    .await;

    // The object the completion replaces, recorded without starting runs.
    let old_file = h.dir.path().join("old");
    std::fs::write(&old_file, b"old body").unwrap();
    let old = h.blobs.put_file(&old_file).await.unwrap();
    h.store.put_object(&record(&old), &[]).await.unwrap();

    let upload_id = new_upload_id();
    let upload = MultipartUpload {
        upload_id: upload_id.clone(),
        bucket: BUCKET.into(),
        key: KEY.into(),
        content_type: "video/mp4".into(),
        user_meta: vec![],
        initiated_ms: 1,
    };
    h.store.create_upload(&upload).await.unwrap();
    let clip = std::fs::read(h.clip(2)).unwrap();
    let third = clip.len() / 3;
    let pieces = [
        &clip[..third],
        &clip[third..2 * third],
        &clip[2 * third..],
        b"never listed".as_slice(),
    ];
    for (i, piece) in pieces.iter().enumerate() {
        let path = h.dir.path().join(format!("part{i}"));
        std::fs::write(&path, piece).unwrap();
        let written = h.blobs.put_file(&path).await.unwrap();
        let part = UploadPart {
            part_number: i as u32 + 1,
            blob_id: written.id,
            size: written.size,
            md5_hex: written.md5_hex,
            crc64: written.crc64,
            last_modified_ms: 2,
        };
        h.store.put_part(&upload_id, &part).await.unwrap();
    }
    let stored = h.store.list_parts(&upload_id, 0, 1000).await.unwrap();
    let (used, unused) = stored.split_at(3);

    let composite = h.blobs.compose(&refs(used)).await.unwrap();
    assert_eq!(composite.crc64, crc64(&clip));
    assert!(composite.md5_hex.ends_with("-3"));
    let runs = h
        .engine
        .multipart_completed(&upload_id, used, record(&composite))
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);

    let object = h.store.get_object(BUCKET, KEY).await.unwrap().unwrap();
    assert_eq!(object.crc64, Some(crc64(&clip)));
    assert_eq!(object.blob_id, composite.id);
    let gone = |r: Result<u64, BlobError>| matches!(r, Err(BlobError::NotFound { .. }));
    assert!(gone(h.blobs.size(&old.id).await), "replaced blob deleted");
    assert!(
        gone(h.blobs.size(&unused[0].blob_id).await),
        "unused part deleted"
    );

    // Completing again (a retry, or a racing request that composed too) is NoSuchUpload; its
    // composite is forgotten without touching the parts the first completion owns.
    let late = h.blobs.compose(&refs(used)).await.unwrap();
    let err = h
        .engine
        .multipart_completed(&upload_id, used, record(&late))
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::Store(StoreError::NoSuchUpload(_))),
        "{err}"
    );
    assert_eq!(err.code(), "NoSuchUpload");
    assert!(
        gone(h.blobs.size(&late.id).await),
        "late composite forgotten"
    );
    for part in used {
        assert_eq!(h.blobs.size(&part.blob_id).await.unwrap(), part.size);
    }

    let (instance, tasks) = h.wait_run(&runs[0]).await;
    assert_eq!(instance.state, RunState::Success, "{tasks:?}");
    assert_eq!(instance.object, KEY);
    let output = &tasks[0].outputs[0];
    let out = h
        .store
        .get_object(&output.bucket, &output.key)
        .await
        .unwrap()
        .unwrap();
    let facts = probe(&h.blobs.local_path(&out.blob_id).unwrap());
    assert_eq!(facts["streams"][0]["width"], 160, "{facts}");
}

#[tokio::test]
async fn abandoned_uploads_are_reclaimed_after_their_age() {
    let h = harness().await;
    let mut parts = Vec::new();
    for (initiated_ms, key) in [(1_000, "old.bin"), (100_000, "fresh.bin")] {
        let upload = MultipartUpload {
            upload_id: new_upload_id(),
            bucket: BUCKET.into(),
            key: key.into(),
            content_type: "application/octet-stream".into(),
            user_meta: vec![],
            initiated_ms,
        };
        h.store.create_upload(&upload).await.unwrap();
        let path = h.dir.path().join(key);
        std::fs::write(&path, key.as_bytes()).unwrap();
        let written = h.blobs.put_file(&path).await.unwrap();
        let part = UploadPart {
            part_number: 1,
            blob_id: written.id.clone(),
            size: written.size,
            md5_hex: written.md5_hex.clone(),
            crc64: written.crc64,
            last_modified_ms: initiated_ms,
        };
        h.store.put_part(&upload.upload_id, &part).await.unwrap();
        parts.push((upload, written.id));
    }
    // At 61 s with a 60 s age, only the upload initiated at 1 s is abandoned.
    let max_age = std::time::Duration::from_secs(60);
    assert_eq!(
        h.engine
            .reclaim_stale_uploads(max_age, 61_001)
            .await
            .unwrap(),
        1
    );
    let (old, old_blob) = &parts[0];
    let (fresh, fresh_blob) = &parts[1];
    assert!(matches!(
        h.store.list_parts(&old.upload_id, 0, 10).await,
        Err(StoreError::NoSuchUpload(_))
    ));
    assert!(matches!(
        h.blobs.size(old_blob).await,
        Err(BlobError::NotFound { .. })
    ));
    assert_eq!(
        h.store
            .list_parts(&fresh.upload_id, 0, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(h.blobs.size(fresh_blob).await.unwrap(), 9);
    assert_eq!(
        h.engine
            .reclaim_stale_uploads(max_age, 61_001)
            .await
            .unwrap(),
        0
    );
}
