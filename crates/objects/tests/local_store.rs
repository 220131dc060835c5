//! `LocalBlobStore` behaviour, driven through the `BlobStore` trait object
//! the rest of the service uses.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use md5::{Digest, Md5};
use reelflow_objects::{BlobError, BlobStore, ByteStream, LocalBlobStore};

const HELLO_MD5: &str = "5eb63bbbe01eeed093cb22bb8f5acdc3"; // md5("hello world")
const HELLO_CRC64: u64 = 5_981_764_153_023_615_706; // COS x-cos-hash-crc64ecma vector
const MISSING: &str = "0190aaaabbbbccccddddeeeeffff0000";

async fn store() -> (tempfile::TempDir, Arc<dyn BlobStore>, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("blobs");
    let store = LocalBlobStore::open(&root).await.unwrap();
    (dir, Arc::new(store), root)
}

fn body(chunks: &[&'static [u8]]) -> ByteStream {
    let items: Vec<std::io::Result<Bytes>> =
        chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
    stream::iter(items).boxed()
}

async fn read_all(stream: ByteStream) -> Vec<u8> {
    let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
    chunks.concat()
}

/// Every regular file below `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Asserts the store holds no blob and no temporary file.
fn assert_empty(root: &Path) {
    assert_eq!(files_under(root), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn roundtrip_streams_content_size_and_md5() {
    let (_dir, store, root) = store().await;
    let written = store
        .put_stream(body(&[b"hello", b" ", b"world"]), None)
        .await
        .unwrap();
    assert_eq!((written.size, written.md5_hex.as_str()), (11, HELLO_MD5));
    assert_eq!(written.crc64, HELLO_CRC64);
    assert_eq!(
        read_all(store.get(&written.id, None).await.unwrap()).await,
        b"hello world"
    );
    assert_eq!(store.size(&written.id).await.unwrap(), 11);
    assert_eq!(files_under(&root.join("tmp")), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn large_body_in_many_chunks() {
    let (_dir, store, _root) = store().await;
    let data: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    let chunks: Vec<std::io::Result<Bytes>> = data
        .chunks(16 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let written = store
        .put_stream(stream::iter(chunks).boxed(), None)
        .await
        .unwrap();
    assert_eq!(written.size, data.len() as u64);
    assert_eq!(written.md5_hex, hex::encode(Md5::digest(&data)));
    assert_eq!(written.crc64, reelflow_objects::crc64(&data));
    assert_eq!(
        read_all(store.get(&written.id, None).await.unwrap()).await,
        data
    );
}

#[tokio::test]
async fn empty_body_is_a_valid_blob() {
    let (_dir, store, _root) = store().await;
    let written = store.put_stream(body(&[]), Some(0)).await.unwrap();
    assert_eq!(written.size, 0);
    assert_eq!(written.md5_hex, "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(written.crc64, 0);
    assert!(
        read_all(store.get(&written.id, None).await.unwrap())
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn range_reads_are_inclusive_and_clamped() {
    let (_dir, store, _root) = store().await;
    let id = store
        .put_stream(body(&[b"0123456789"]), None)
        .await
        .unwrap()
        .id;
    let read = |start, end| {
        let store = store.clone();
        let id = id.clone();
        async move { read_all(store.get(&id, Some((start, end))).await.unwrap()).await }
    };
    assert_eq!(read(0, 0).await, b"0");
    assert_eq!(read(2, 5).await, b"2345");
    assert_eq!(read(7, 9).await, b"789");
    assert_eq!(read(7, 1000).await, b"789");
    for bad in [(10, 10), (5, 4)] {
        let err = store.get(&id, Some(bad)).await.err().unwrap();
        assert!(
            matches!(err, BlobError::InvalidRange { size: 10, .. }),
            "{err}"
        );
        assert_eq!(err.code(), "InvalidRange");
    }
}

#[tokio::test]
async fn failing_body_leaves_no_temp_file_and_no_blob() {
    let (_dir, store, root) = store().await;
    let items = vec![
        Ok(Bytes::from_static(b"partial")),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ];
    let err = store
        .put_stream(stream::iter(items).boxed(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::BodyRead { .. }), "{err}");
    assert!(err.is_client_error());
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert_eq!(source, "client went away");
    assert_empty(&root);
}

#[tokio::test]
async fn cancelled_put_leaves_no_temp_file() {
    let (_dir, store, root) = store().await;
    let stalled = stream::iter([Ok(Bytes::from_static(b"first chunk"))])
        .chain(stream::pending())
        .boxed();
    let put = store.put_stream(stalled, None);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), put)
            .await
            .is_err()
    );
    assert_empty(&root);
}

#[tokio::test]
async fn body_over_the_limit_is_refused_and_not_stored() {
    let (_dir, store, root) = store().await;
    let err = store
        .put_stream(body(&[b"hello", b" world"]), Some(10))
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::TooLarge { limit: 10 }), "{err}");
    assert_eq!(err.code(), "EntityTooLarge");
    assert_empty(&root);

    let exact = store
        .put_stream(body(&[b"hello", b" worl"]), Some(10))
        .await
        .unwrap();
    assert_eq!(exact.size, 10);
}

#[tokio::test]
async fn delete_removes_and_is_idempotent() {
    let (_dir, store, root) = store().await;
    let id = store.put_stream(body(&[b"x"]), None).await.unwrap().id;
    store.delete(&id).await.unwrap();
    store.delete(&id).await.unwrap();
    assert_empty(&root);
    let err = store.get(&id, None).await.err().unwrap();
    assert!(matches!(err, BlobError::NotFound { .. }), "{err}");
    assert_eq!(err.code(), "BlobNotFound");
    assert!(matches!(
        store.size(&id).await,
        Err(BlobError::NotFound { .. })
    ));
}

#[tokio::test]
async fn invalid_ids_are_refused_everywhere() {
    let (dir, store, _root) = store().await;
    let dest = dir.path().join("out");
    for id in [
        "../../etc/passwd",
        "tmp",
        "",
        "0190AAAABBBBCCCCDDDDEEEEFFFF0000",
        "m../../etc/passwd",
        "m0190aaaabbbbccccddddeeeeffff000",
    ] {
        let is_invalid = |r: Result<(), BlobError>| matches!(r, Err(BlobError::InvalidId { .. }));
        assert!(is_invalid(store.get(id, None).await.map(drop)), "{id}");
        assert!(is_invalid(store.size(id).await.map(drop)), "{id}");
        assert!(is_invalid(store.delete(id).await), "{id}");
        assert!(is_invalid(store.download_to(id, &dest).await), "{id}");
        assert_eq!(store.local_path(id), None);
    }
}

#[tokio::test]
async fn missing_blob_is_not_found() {
    let (dir, store, _root) = store().await;
    let dest = dir.path().join("out");
    let err = store.download_to(MISSING, &dest).await.unwrap_err();
    assert!(matches!(err, BlobError::NotFound { .. }), "{err}");
    assert!(!dest.exists());
}

#[tokio::test]
async fn put_file_local_path_and_download_to() {
    let (dir, store, _root) = store().await;
    let source = dir.path().join("ffmpeg-output.mp4");
    std::fs::write(&source, b"hello world").unwrap();
    let written = store.put_file(&source).await.unwrap();
    assert_eq!((written.size, written.md5_hex.as_str()), (11, HELLO_MD5));
    assert_eq!(written.crc64, HELLO_CRC64);

    let local = store.local_path(&written.id).unwrap();
    assert_eq!(std::fs::read(&local).unwrap(), b"hello world");

    let dest = dir.path().join("copy.mp4");
    store.download_to(&written.id, &dest).await.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), b"hello world");
}

#[tokio::test]
async fn put_file_with_missing_source_is_an_io_error() {
    let (dir, store, root) = store().await;
    let err = store.put_file(&dir.path().join("nope")).await.unwrap_err();
    assert!(matches!(err, BlobError::Io { .. }), "{err}");
    assert!(!err.is_client_error());
    assert!(err.to_string().contains("nope"), "{err}");
    assert_empty(&root);
}

#[tokio::test]
async fn open_cleans_leftover_temp_files_and_keeps_blobs() {
    let (_dir, store, root) = store().await;
    let id = store
        .put_stream(body(&[b"keep me"]), None)
        .await
        .unwrap()
        .id;
    std::fs::write(root.join("tmp").join("crashed.tmp"), b"junk").unwrap();
    std::fs::create_dir(root.join("tmp").join("stray-dir")).unwrap();

    let reopened = LocalBlobStore::open(&root).await.unwrap();
    assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 0);
    assert_eq!(
        read_all(reopened.get(&id, None).await.unwrap()).await,
        b"keep me"
    );
    assert_eq!(reopened.root(), root);
}

#[tokio::test]
async fn concurrent_puts_get_distinct_ids_and_intact_content() {
    let (_dir, store, root) = store().await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..32u8 {
        let store = store.clone();
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
        assert_eq!(&read_all(store.get(id, None).await.unwrap()).await, content);
    }
    assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 0);
}
