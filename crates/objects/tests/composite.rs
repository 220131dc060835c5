//! Composite blobs (`BlobStore::compose`): content, ranges, download, delete,
//! and the multipart ETag and CRC, each checked against values computed here
//! independently from the concatenated bytes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use md5::{Digest, Md5};
use reelflow_objects::{
    BlobError, BlobStore, BlobWritten, LocalBlobStore, PartRef, is_composite_id,
};

async fn store() -> (tempfile::TempDir, Arc<dyn BlobStore>, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("blobs");
    let store = LocalBlobStore::open(&root).await.unwrap();
    (dir, Arc::new(store), root)
}

async fn put(store: &Arc<dyn BlobStore>, content: &[u8]) -> BlobWritten {
    // Several chunks, so parts are not written in one piece.
    let chunks: Vec<std::io::Result<Bytes>> = content
        .chunks(7_777)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    store
        .put_stream(stream::iter(chunks).boxed(), None)
        .await
        .unwrap()
}

async fn read(store: &Arc<dyn BlobStore>, id: &str, range: Option<(u64, u64)>) -> Vec<u8> {
    let stream = store.get(id, range).await.unwrap();
    let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
    chunks.concat()
}

/// Writes each content as a part and composes them; returns the parts too.
async fn compose(store: &Arc<dyn BlobStore>, contents: &[&[u8]]) -> (BlobWritten, Vec<PartRef>) {
    let mut parts = Vec::new();
    for content in contents {
        parts.push(PartRef::from(put(store, content).await));
    }
    (store.compose(&parts).await.unwrap(), parts)
}

/// CRC-64/XZ bit by bit: reflected ECMA-182 polynomial, init and xorout all
/// ones. Independent of the crate under test.
fn reference_crc64(data: &[u8]) -> u64 {
    const POLY_REFLECTED: u64 = 0xC96C_5795_D787_0F42;
    let mut crc = u64::MAX;
    for &byte in data {
        crc ^= u64::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY_REFLECTED
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The S3 multipart ETag computed from the parts' contents.
fn reference_etag(contents: &[&[u8]]) -> String {
    let mut binary = Vec::new();
    for content in contents {
        binary.extend_from_slice(&Md5::digest(content));
    }
    format!("{}-{}", hex::encode(Md5::digest(&binary)), contents.len())
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
    files.sort();
    files
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(31).wrapping_add(seed) % 251) as u8)
        .collect()
}

#[test]
fn reference_crc_matches_the_cos_vectors() {
    assert_eq!(reference_crc64(b"123456789"), 11_051_210_869_376_104_954);
    assert_eq!(reference_crc64(b""), 0);
    assert_eq!(reference_crc64(b"hello world"), 5_981_764_153_023_615_706);
}

#[tokio::test]
async fn every_range_of_a_small_composite_matches_the_concatenation() {
    let (_dir, store, _root) = store().await;
    let contents: [&[u8]; 5] = [b"abc", b"", b"defgh", b"ij", b""];
    let (written, _) = compose(&store, &contents).await;
    let whole = contents.concat();
    assert!(is_composite_id(&written.id));
    assert_eq!(written.size, 10);
    assert_eq!(store.size(&written.id).await.unwrap(), 10);
    assert_eq!(read(&store, &written.id, None).await, whole);
    for start in 0..10u64 {
        for end in start..12u64 {
            let want = &whole[start as usize..=(end.min(9) as usize)];
            let got = read(&store, &written.id, Some((start, end))).await;
            assert_eq!(got, want, "range {start}-{end}");
        }
    }
    for bad in [(10, 10), (5, 4), (11, 20)] {
        let err = store.get(&written.id, Some(bad)).await.err().unwrap();
        assert!(
            matches!(err, BlobError::InvalidRange { size: 10, .. }),
            "{err}"
        );
    }
}

#[tokio::test]
async fn etag_and_crc_match_independent_computation() {
    let (_dir, store, _root) = store().await;
    let (a, b, c) = (pattern(100_000, 1), pattern(65_537, 2), pattern(3, 3));
    let contents: [&[u8]; 3] = [&a, &b, &c];
    let (written, _) = compose(&store, &contents).await;
    let whole = contents.concat();
    assert_eq!(written.crc64, reference_crc64(&whole));
    assert_eq!(written.md5_hex, reference_etag(&contents));
    assert_eq!(written.size, whole.len() as u64);
    // The content really is the concatenation: hash what `get` streams.
    let streamed = read(&store, &written.id, None).await;
    assert_eq!(reference_crc64(&streamed), written.crc64);
    assert_eq!(streamed, whole);
}

#[tokio::test]
async fn large_parts_read_across_boundaries_in_many_chunks() {
    let (_dir, store, _root) = store().await;
    let (a, b) = (pattern(300_000, 7), pattern(200_001, 9));
    let (written, _) = compose(&store, &[&a, &b]).await;
    let whole = [a.as_slice(), b.as_slice()].concat();
    assert_eq!(read(&store, &written.id, None).await, whole);
    for (start, end) in [
        (299_990u64, 300_010u64),
        (0, 299_999),
        (300_000, 300_000),
        (299_999, 299_999),
        (123, 480_000),
        (500_000, 500_000),
        (499_000, 10_000_000),
    ] {
        let want = &whole[start as usize..=end.min(500_000) as usize];
        assert_eq!(
            read(&store, &written.id, Some((start, end))).await,
            want,
            "{start}-{end}"
        );
    }
}

#[tokio::test]
async fn many_parts_past_the_eagerly_opened_ones() {
    let (_dir, store, _root) = store().await;
    let owned: Vec<Vec<u8>> = (0..40).map(|i| pattern(1_000 + i, i as u32)).collect();
    let contents: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
    let (written, _) = compose(&store, &contents).await;
    let whole = contents.concat();
    assert_eq!(read(&store, &written.id, None).await, whole);
    assert_eq!(written.md5_hex, reference_etag(&contents));
    assert_eq!(written.crc64, reference_crc64(&whole));
    let (start, end) = (15_500u64, 35_100u64);
    assert_eq!(
        read(&store, &written.id, Some((start, end))).await,
        &whole[start as usize..=end as usize]
    );
}

#[tokio::test]
async fn zero_byte_last_part() {
    let (_dir, store, _root) = store().await;
    let contents: [&[u8]; 2] = [b"only content", b""];
    let (written, _) = compose(&store, &contents).await;
    assert_eq!(written.size, 12);
    assert_eq!(written.crc64, reference_crc64(b"only content"));
    assert_eq!(written.md5_hex, reference_etag(&contents));
    assert!(written.md5_hex.ends_with("-2"));
    assert_eq!(read(&store, &written.id, None).await, b"only content");
    assert_eq!(read(&store, &written.id, Some((11, 11))).await, b"t");
    assert_eq!(read(&store, &written.id, Some((11, 99))).await, b"t");
}

#[tokio::test]
async fn all_empty_parts_make_an_empty_object() {
    let (dir, store, _root) = store().await;
    let (written, _) = compose(&store, &[b"", b""]).await;
    assert_eq!((written.size, written.crc64), (0, 0));
    assert!(read(&store, &written.id, None).await.is_empty());
    let dest = dir.path().join("empty");
    store.download_to(&written.id, &dest).await.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), b"");
}

#[tokio::test]
async fn no_local_path_but_download_to_concatenates() {
    let (dir, store, _root) = store().await;
    let (a, b) = (pattern(70_000, 4), pattern(5, 5));
    let (written, parts) = compose(&store, &[&a, b"", &b]).await;
    assert_eq!(store.local_path(&written.id), None);
    assert!(store.local_path(&parts[0].id).is_some());
    let dest = dir.path().join("input.mp4");
    std::fs::write(&dest, b"stale content that must be replaced entirely").unwrap();
    store.download_to(&written.id, &dest).await.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), [a, b].concat());
}

#[tokio::test]
async fn delete_removes_the_manifest_and_every_part() {
    let (dir, store, root) = store().await;
    let (written, parts) = compose(&store, &[b"one", b"two", b""]).await;
    store.delete(&written.id).await.unwrap();
    store.delete(&written.id).await.unwrap();
    assert_eq!(files_under(&root), Vec::<PathBuf>::new());
    for part in &parts {
        assert!(matches!(
            store.size(&part.id).await,
            Err(BlobError::NotFound { .. })
        ));
    }
    let err = store.get(&written.id, None).await.err().unwrap();
    assert!(matches!(err, BlobError::NotFound { .. }), "{err}");
    assert!(matches!(
        store.size(&written.id).await,
        Err(BlobError::NotFound { .. })
    ));
    let dest = dir.path().join("gone");
    let err = store.download_to(&written.id, &dest).await.unwrap_err();
    assert!(matches!(err, BlobError::NotFound { .. }), "{err}");
    assert!(!dest.exists());
}

#[tokio::test]
async fn forget_keeps_the_parts_so_the_upload_can_complete_again() {
    let (_dir, store, root) = store().await;
    let (first, parts) = compose(&store, &[b"part one ", b"part two"]).await;
    store.forget_composite(&first.id).await.unwrap();
    store.forget_composite(&first.id).await.unwrap();
    assert!(matches!(
        store.get(&first.id, None).await.err().unwrap(),
        BlobError::NotFound { .. }
    ));
    // A crash after compose, then a second completion: parts are intact.
    let reopened: Arc<dyn BlobStore> = Arc::new(LocalBlobStore::open(&root).await.unwrap());
    let second = reopened.compose(&parts).await.unwrap();
    assert_ne!(second.id, first.id);
    assert_eq!(
        (second.md5_hex.as_str(), second.crc64),
        (first.md5_hex.as_str(), first.crc64)
    );
    assert_eq!(
        read(&reopened, &second.id, None).await,
        b"part one part two"
    );
    let err = store.forget_composite(&parts[0].id).await.unwrap_err();
    assert!(matches!(err, BlobError::InvalidComposite { .. }), "{err}");
}

#[tokio::test]
async fn an_open_read_survives_a_concurrent_delete() {
    let (_dir, store, _root) = store().await;
    let (written, _) = compose(&store, &[b"left|", b"right"]).await;
    let stream = store.get(&written.id, Some((2, 7))).await.unwrap();
    store.delete(&written.id).await.unwrap();
    let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
    assert_eq!(chunks.concat(), b"ft|rig");
}

#[tokio::test]
async fn compose_refuses_bad_parts_and_writes_nothing() {
    let (_dir, store, root) = store().await;
    let good = PartRef::from(put(&store, b"good").await);
    let before = files_under(&root);

    let err = store.compose(&[]).await.unwrap_err();
    assert!(matches!(err, BlobError::InvalidComposite { .. }), "{err}");

    let missing = PartRef {
        id: "0190aaaabbbbccccddddeeeeffff0000".into(),
        ..good.clone()
    };
    let err = store.compose(&[good.clone(), missing]).await.unwrap_err();
    assert!(matches!(err, BlobError::NotFound { .. }), "{err}");

    let wrong_size = PartRef {
        size: 5,
        ..good.clone()
    };
    let err = store.compose(&[wrong_size]).await.unwrap_err();
    assert!(matches!(err, BlobError::Corrupt { .. }), "{err}");
    assert!(!err.is_client_error());

    let composite = store.compose(std::slice::from_ref(&good)).await.unwrap();
    let nested = PartRef {
        id: composite.id.clone(),
        ..good.clone()
    };
    let err = store.compose(&[nested]).await.unwrap_err();
    assert!(matches!(err, BlobError::InvalidComposite { .. }), "{err}");
    store.forget_composite(&composite.id).await.unwrap();

    let hostile = PartRef {
        id: "../../etc/passwd".into(),
        ..good
    };
    let err = store.compose(&[hostile]).await.unwrap_err();
    assert!(matches!(err, BlobError::InvalidId { .. }), "{err}");
    assert_eq!(files_under(&root), before);
}

#[tokio::test]
async fn a_corrupt_manifest_is_reported_not_served() {
    let (_dir, store, root) = store().await;
    let (written, _) = compose(&store, &[b"abc", b"def"]).await;
    let manifest = files_under(&root)
        .into_iter()
        .find(|p| p.file_name().unwrap() == written.id.as_str())
        .unwrap();
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("2 6\n", "2 7\n")).unwrap();
    let err = store.get(&written.id, None).await.err().unwrap();
    assert!(matches!(err, BlobError::Corrupt { .. }), "{err}");
    assert_eq!(err.code(), "StorageCorrupt");
}
