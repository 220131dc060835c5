//! Plain blobs: streamed writes with their MD5 and CRC, ranges, limits,
//! failures that leave nothing behind, deletes, ids, files.

use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, stream};
use md5::{Digest, Md5};
use reelflow_objects::{BlobError, PART_SIZE};

use crate::harness::{Harness, body, conformance, pattern, read_all};

const HELLO_MD5: &str = "5eb63bbbe01eeed093cb22bb8f5acdc3"; // md5("hello world")
const HELLO_CRC64: u64 = 5_981_764_153_023_615_706; // COS x-cos-hash-crc64ecma vector
const MISSING: &str = "0190aaaabbbbccccddddeeeeffff0000";

conformance!(
    roundtrip_streams_content_size_and_md5,
    large_body_in_many_chunks,
    body_larger_than_a_part_is_uploaded_in_parts,
    empty_body_is_a_valid_blob,
    range_reads_are_inclusive_and_clamped,
    failing_body_leaves_nothing,
    failing_body_after_several_parts_leaves_nothing,
    cancelled_put_leaves_nothing,
    body_over_the_limit_is_refused_and_not_stored,
    delete_removes_and_is_idempotent,
    invalid_ids_are_refused_everywhere,
    missing_blob_is_not_found,
    put_file_and_download_to,
    put_file_with_missing_source_is_an_io_error,
    a_restarted_store_reads_existing_blobs,
    concurrent_puts_get_distinct_ids_and_intact_content,
);

async fn roundtrip_streams_content_size_and_md5(h: Harness) {
    let written = h
        .store
        .put_stream(body(&[b"hello", b" ", b"world"]), None)
        .await
        .unwrap();
    assert_eq!((written.size, written.md5_hex.as_str()), (11, HELLO_MD5));
    assert_eq!(written.crc64, HELLO_CRC64);
    assert_eq!(h.read(&written.id, None).await, b"hello world");
    assert_eq!(h.store.size(&written.id).await.unwrap(), 11);
    assert_eq!(h.stored().await.len(), 1, "one object, no leftovers");
}

async fn large_body_in_many_chunks(h: Harness) {
    let data = pattern(5_000_000, 0);
    let chunks: Vec<std::io::Result<Bytes>> = data
        .chunks(16 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let written = h
        .store
        .put_stream(stream::iter(chunks).boxed(), None)
        .await
        .unwrap();
    assert_eq!(written.size, data.len() as u64);
    assert_eq!(written.md5_hex, hex::encode(Md5::digest(&data)));
    assert_eq!(written.crc64, reelflow_objects::crc64(&data));
    assert_eq!(h.read(&written.id, None).await, data);
    h.store.delete(&written.id).await.unwrap();
}

/// Over two and a half S3 parts, in chunks that straddle part boundaries.
async fn body_larger_than_a_part_is_uploaded_in_parts(h: Harness) {
    let data = pattern(PART_SIZE * 5 / 2 + 12_345, 3);
    let chunks: Vec<std::io::Result<Bytes>> = data
        .chunks(1_000_003)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let written = h
        .store
        .put_stream(stream::iter(chunks).boxed(), None)
        .await
        .unwrap();
    assert_eq!(written.size, data.len() as u64);
    assert_eq!(written.md5_hex, hex::encode(Md5::digest(&data)));
    assert_eq!(written.crc64, reelflow_objects::crc64(&data));
    assert_eq!(h.store.size(&written.id).await.unwrap(), data.len() as u64);
    let got = h.read(&written.id, None).await;
    assert!(got == data, "content differs");
    let (start, end) = (PART_SIZE as u64 - 10, PART_SIZE as u64 + 10);
    assert_eq!(
        h.read(&written.id, Some((start, end))).await,
        &data[start as usize..=end as usize]
    );
    assert_eq!(h.stored().await.len(), 1);
    // The S3 test server keeps everything in memory: give it back.
    h.store.delete(&written.id).await.unwrap();
}

async fn empty_body_is_a_valid_blob(h: Harness) {
    let written = h.store.put_stream(body(&[]), Some(0)).await.unwrap();
    assert_eq!(written.size, 0);
    assert_eq!(written.md5_hex, "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(written.crc64, 0);
    assert!(h.read(&written.id, None).await.is_empty());
    assert_eq!(h.store.size(&written.id).await.unwrap(), 0);
    let err = h.store.get(&written.id, Some((0, 0))).await.err().unwrap();
    assert!(
        matches!(err, BlobError::InvalidRange { size: 0, .. }),
        "{err}"
    );
}

async fn range_reads_are_inclusive_and_clamped(h: Harness) {
    let id = h
        .store
        .put_stream(body(&[b"0123456789"]), None)
        .await
        .unwrap()
        .id;
    assert_eq!(h.read(&id, Some((0, 0))).await, b"0");
    assert_eq!(h.read(&id, Some((2, 5))).await, b"2345");
    assert_eq!(h.read(&id, Some((7, 9))).await, b"789");
    assert_eq!(h.read(&id, Some((7, 1000))).await, b"789");
    for bad in [(10, 10), (5, 4)] {
        let err = h.store.get(&id, Some(bad)).await.err().unwrap();
        assert!(
            matches!(err, BlobError::InvalidRange { size: 10, .. }),
            "{err}"
        );
        assert_eq!(err.code(), "InvalidRange");
    }
    let err = h.store.get(MISSING, Some((0, 1))).await.err().unwrap();
    assert!(matches!(err, BlobError::NotFound { .. }), "{err}");
}

async fn failing_body_leaves_nothing(h: Harness) {
    let items = vec![
        Ok(Bytes::from_static(b"partial")),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ];
    let err = h
        .store
        .put_stream(stream::iter(items).boxed(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::BodyRead { .. }), "{err}");
    assert!(err.is_client_error());
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert_eq!(source, "client went away");
    h.assert_empty().await;
}

/// A body that fails after parts were uploaded (S3: an aborted multipart upload).
async fn failing_body_after_several_parts_leaves_nothing(h: Harness) {
    let chunk = Bytes::from(pattern(1 << 20, 5));
    let count = PART_SIZE / (1 << 20) * 2 + 1;
    let items = std::iter::repeat_n(chunk, count)
        .map(Ok)
        .chain([Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        ))]);
    let err = h
        .store
        .put_stream(stream::iter(items).boxed(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::BodyRead { .. }), "{err}");
    h.assert_empty().await;
}

async fn cancelled_put_leaves_nothing(h: Harness) {
    let stalled = stream::iter([Ok(Bytes::from_static(b"first chunk"))])
        .chain(stream::pending())
        .boxed();
    let put = h.store.put_stream(stalled, None);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), put)
            .await
            .is_err()
    );
    h.assert_empty().await;
}

async fn body_over_the_limit_is_refused_and_not_stored(h: Harness) {
    let err = h
        .store
        .put_stream(body(&[b"hello", b" world"]), Some(10))
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::TooLarge { limit: 10 }), "{err}");
    assert_eq!(err.code(), "EntityTooLarge");
    h.assert_empty().await;

    let exact = h
        .store
        .put_stream(body(&[b"hello", b" worl"]), Some(10))
        .await
        .unwrap();
    assert_eq!(exact.size, 10);
}

async fn delete_removes_and_is_idempotent(h: Harness) {
    let id = h.store.put_stream(body(&[b"x"]), None).await.unwrap().id;
    h.store.delete(&id).await.unwrap();
    h.store.delete(&id).await.unwrap();
    h.store.delete(MISSING).await.unwrap();
    h.assert_empty().await;
    let err = h.store.get(&id, None).await.err().unwrap();
    assert!(matches!(err, BlobError::NotFound { .. }), "{err}");
    assert_eq!(err.code(), "BlobNotFound");
    assert!(matches!(
        h.store.size(&id).await,
        Err(BlobError::NotFound { .. })
    ));
}

async fn invalid_ids_are_refused_everywhere(h: Harness) {
    let dest = h.dir.path().join("out");
    for id in [
        "../../etc/passwd",
        "tmp",
        "",
        "0190AAAABBBBCCCCDDDDEEEEFFFF0000",
        "m../../etc/passwd",
        "m0190aaaabbbbccccddddeeeeffff000",
    ] {
        let is_invalid = |r: Result<(), BlobError>| matches!(r, Err(BlobError::InvalidId { .. }));
        assert!(is_invalid(h.store.get(id, None).await.map(drop)), "{id}");
        assert!(is_invalid(h.store.size(id).await.map(drop)), "{id}");
        assert!(is_invalid(h.store.delete(id).await), "{id}");
        assert!(is_invalid(h.store.download_to(id, &dest).await), "{id}");
        assert!(is_invalid(h.store.forget_composite(id).await), "{id}");
        assert_eq!(h.store.local_path(id), None);
    }
    assert!(!dest.exists());
}

async fn missing_blob_is_not_found(h: Harness) {
    let dest = h.dir.path().join("out");
    let err = h.store.download_to(MISSING, &dest).await.unwrap_err();
    assert!(matches!(err, BlobError::NotFound { .. }), "{err}");
    assert!(!dest.exists());
    let err = h.store.get(MISSING, None).await.err().unwrap();
    assert!(matches!(err, BlobError::NotFound { .. }), "{err}");
}

async fn put_file_and_download_to(h: Harness) {
    let source = h.dir.path().join("ffmpeg-output.mp4");
    std::fs::write(&source, b"hello world").unwrap();
    let written = h.store.put_file(&source).await.unwrap();
    assert_eq!((written.size, written.md5_hex.as_str()), (11, HELLO_MD5));
    assert_eq!(written.crc64, HELLO_CRC64);

    // Where a backend offers a local path, it holds the content.
    if let Some(local) = h.store.local_path(&written.id) {
        assert_eq!(std::fs::read(&local).unwrap(), b"hello world");
    } else {
        assert!(!h.is_local());
    }

    let dest = h.dir.path().join("copy.mp4");
    std::fs::write(&dest, b"stale content that must be replaced entirely").unwrap();
    h.store.download_to(&written.id, &dest).await.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), b"hello world");
}

async fn put_file_with_missing_source_is_an_io_error(h: Harness) {
    let err = h
        .store
        .put_file(&h.dir.path().join("nope"))
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::Io { .. }), "{err}");
    assert!(!err.is_client_error());
    assert!(err.to_string().contains("nope"), "{err}");
    h.assert_empty().await;
}

async fn a_restarted_store_reads_existing_blobs(h: Harness) {
    let id = h
        .store
        .put_stream(body(&[b"keep me"]), None)
        .await
        .unwrap()
        .id;
    let reopened = h.reopen().await;
    assert_eq!(
        read_all(reopened.get(&id, None).await.unwrap()).await,
        b"keep me"
    );
}

async fn concurrent_puts_get_distinct_ids_and_intact_content(h: Harness) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..32u8 {
        let store = h.store.clone();
        tasks.spawn(async move {
            let content = vec![i; 10_000 + usize::from(i)];
            let stream = stream::iter([Ok(Bytes::from(content.clone()))]).boxed();
            (store.put_stream(stream, None).await.unwrap().id, content)
        });
    }
    let results = tasks.join_all().await;
    let mut ids: Vec<&str> = results.iter().map(|(id, _)| id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 32);
    for (id, content) in &results {
        assert_eq!(&h.read(id, None).await, content);
    }
    assert_eq!(h.stored().await.len(), 32);
}
