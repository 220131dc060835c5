//! Composite blobs (`BlobStore::compose`): content, ranges, download, delete,
//! forget, and the multipart ETag and CRC, each checked against values
//! computed here independently from the concatenated bytes.

use bytes::Bytes;
use futures::TryStreamExt;
use md5::{Digest, Md5};
use reelflow_objects::{BlobError, BlobWritten, PartRef, is_composite_id};

use crate::harness::{Harness, conformance, pattern, read_all};

conformance!(
    every_range_of_a_small_composite_matches_the_concatenation,
    etag_and_crc_match_independent_computation,
    large_parts_read_across_boundaries_in_many_chunks,
    many_parts_past_the_eagerly_opened_ones,
    zero_byte_last_part,
    all_empty_parts_make_an_empty_object,
    no_local_path_but_download_to_concatenates,
    delete_removes_the_manifest_and_every_part,
    forget_keeps_the_parts_so_the_upload_can_complete_again,
    a_missing_part_makes_the_composite_not_found,
    an_open_read_survives_a_concurrent_delete,
    compose_refuses_bad_parts_and_writes_nothing,
    a_corrupt_manifest_is_reported_not_served,
);

/// Writes each content as a part and composes them; returns the parts too.
async fn compose(h: &Harness, contents: &[&[u8]]) -> (BlobWritten, Vec<PartRef>) {
    let mut parts = Vec::new();
    for content in contents {
        parts.push(PartRef::from(h.put(content).await));
    }
    (h.store.compose(&parts).await.unwrap(), parts)
}

/// CRC-64/XZ bit by bit: reflected ECMA-182 polynomial, init and xorout all
/// ones. Independent of the crate under test.
pub fn reference_crc64(data: &[u8]) -> u64 {
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

#[test]
fn reference_crc_matches_the_cos_vectors() {
    assert_eq!(reference_crc64(b"123456789"), 11_051_210_869_376_104_954);
    assert_eq!(reference_crc64(b""), 0);
    assert_eq!(reference_crc64(b"hello world"), 5_981_764_153_023_615_706);
}

async fn every_range_of_a_small_composite_matches_the_concatenation(h: Harness) {
    let contents: [&[u8]; 5] = [b"abc", b"", b"defgh", b"ij", b""];
    let (written, _) = compose(&h, &contents).await;
    let whole = contents.concat();
    assert!(is_composite_id(&written.id));
    assert_eq!(written.size, 10);
    assert_eq!(h.store.size(&written.id).await.unwrap(), 10);
    assert_eq!(h.read(&written.id, None).await, whole);
    for start in 0..10u64 {
        for end in start..12u64 {
            let want = &whole[start as usize..=(end.min(9) as usize)];
            let got = h.read(&written.id, Some((start, end))).await;
            assert_eq!(got, want, "range {start}-{end}");
        }
    }
    for bad in [(10, 10), (5, 4), (11, 20)] {
        let err = h.store.get(&written.id, Some(bad)).await.err().unwrap();
        assert!(
            matches!(err, BlobError::InvalidRange { size: 10, .. }),
            "{err}"
        );
    }
}

async fn etag_and_crc_match_independent_computation(h: Harness) {
    let (a, b, c) = (pattern(100_000, 1), pattern(65_537, 2), pattern(3, 3));
    let contents: [&[u8]; 3] = [&a, &b, &c];
    let (written, _) = compose(&h, &contents).await;
    let whole = contents.concat();
    assert_eq!(written.crc64, reference_crc64(&whole));
    assert_eq!(written.md5_hex, reference_etag(&contents));
    assert_eq!(written.size, whole.len() as u64);
    // The content really is the concatenation: hash what `get` streams.
    let streamed = h.read(&written.id, None).await;
    assert_eq!(reference_crc64(&streamed), written.crc64);
    assert_eq!(streamed, whole);
}

async fn large_parts_read_across_boundaries_in_many_chunks(h: Harness) {
    let (a, b) = (pattern(300_000, 7), pattern(200_001, 9));
    let (written, _) = compose(&h, &[&a, &b]).await;
    let whole = [a.as_slice(), b.as_slice()].concat();
    assert_eq!(h.read(&written.id, None).await, whole);
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
            h.read(&written.id, Some((start, end))).await,
            want,
            "{start}-{end}"
        );
    }
}

async fn many_parts_past_the_eagerly_opened_ones(h: Harness) {
    let owned: Vec<Vec<u8>> = (0..40).map(|i| pattern(1_000 + i, i as u32)).collect();
    let contents: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
    let (written, _) = compose(&h, &contents).await;
    let whole = contents.concat();
    assert_eq!(h.read(&written.id, None).await, whole);
    assert_eq!(written.md5_hex, reference_etag(&contents));
    assert_eq!(written.crc64, reference_crc64(&whole));
    let (start, end) = (15_500u64, 35_100u64);
    assert_eq!(
        h.read(&written.id, Some((start, end))).await,
        &whole[start as usize..=end as usize]
    );
}

async fn zero_byte_last_part(h: Harness) {
    let contents: [&[u8]; 2] = [b"only content", b""];
    let (written, _) = compose(&h, &contents).await;
    assert_eq!(written.size, 12);
    assert_eq!(written.crc64, reference_crc64(b"only content"));
    assert_eq!(written.md5_hex, reference_etag(&contents));
    assert!(written.md5_hex.ends_with("-2"));
    assert_eq!(h.read(&written.id, None).await, b"only content");
    assert_eq!(h.read(&written.id, Some((11, 11))).await, b"t");
    assert_eq!(h.read(&written.id, Some((11, 99))).await, b"t");
}

async fn all_empty_parts_make_an_empty_object(h: Harness) {
    let (written, _) = compose(&h, &[b"", b""]).await;
    assert_eq!((written.size, written.crc64), (0, 0));
    assert!(h.read(&written.id, None).await.is_empty());
    let dest = h.dir.path().join("empty");
    h.store.download_to(&written.id, &dest).await.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), b"");
}

async fn no_local_path_but_download_to_concatenates(h: Harness) {
    let (a, b) = (pattern(70_000, 4), pattern(5, 5));
    let (written, parts) = compose(&h, &[&a, b"", &b]).await;
    assert_eq!(h.store.local_path(&written.id), None);
    assert_eq!(h.store.local_path(&parts[0].id).is_some(), h.is_local());
    let dest = h.dir.path().join("input.mp4");
    std::fs::write(&dest, b"stale content that must be replaced entirely").unwrap();
    h.store.download_to(&written.id, &dest).await.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), [a, b].concat());
}

async fn delete_removes_the_manifest_and_every_part(h: Harness) {
    let (written, parts) = compose(&h, &[b"one", b"two", b""]).await;
    h.store.delete(&written.id).await.unwrap();
    h.store.delete(&written.id).await.unwrap();
    h.assert_empty().await;
    for part in &parts {
        assert!(matches!(
            h.store.size(&part.id).await,
            Err(BlobError::NotFound { .. })
        ));
    }
    let err = h.store.get(&written.id, None).await.err().unwrap();
    assert!(matches!(err, BlobError::NotFound { .. }), "{err}");
    assert!(matches!(
        h.store.size(&written.id).await,
        Err(BlobError::NotFound { .. })
    ));
    let dest = h.dir.path().join("gone");
    let err = h.store.download_to(&written.id, &dest).await.unwrap_err();
    assert!(matches!(err, BlobError::NotFound { .. }), "{err}");
    assert!(!dest.exists());
}

async fn forget_keeps_the_parts_so_the_upload_can_complete_again(h: Harness) {
    let (first, parts) = compose(&h, &[b"part one ", b"part two"]).await;
    h.store.forget_composite(&first.id).await.unwrap();
    h.store.forget_composite(&first.id).await.unwrap();
    assert!(matches!(
        h.store.get(&first.id, None).await.err().unwrap(),
        BlobError::NotFound { .. }
    ));
    assert_eq!(h.stored().await.len(), 2, "the parts remain");
    // A crash after compose, then a second completion: parts are intact.
    let reopened = h.reopen().await;
    let second = reopened.compose(&parts).await.unwrap();
    assert_ne!(second.id, first.id);
    assert_eq!(
        (second.md5_hex.as_str(), second.crc64),
        (first.md5_hex.as_str(), first.crc64)
    );
    assert_eq!(
        read_all(reopened.get(&second.id, None).await.unwrap()).await,
        b"part one part two"
    );
    let err = h.store.forget_composite(&parts[0].id).await.unwrap_err();
    assert!(matches!(err, BlobError::InvalidComposite { .. }), "{err}");
}

/// A part deleted before the read starts: the composite is reported gone.
async fn a_missing_part_makes_the_composite_not_found(h: Harness) {
    let (written, parts) = compose(&h, &[b"left|", b"right"]).await;
    h.store.delete(&parts[0].id).await.unwrap();
    let err = h.store.get(&written.id, None).await.err().unwrap();
    assert!(matches!(err, BlobError::NotFound { .. }), "{err}");
    let dest = h.dir.path().join("partial");
    let err = h.store.download_to(&written.id, &dest).await.unwrap_err();
    assert!(matches!(err, BlobError::NotFound { .. }), "{err}");
    assert!(!dest.exists());
}

async fn an_open_read_survives_a_concurrent_delete(h: Harness) {
    let (written, _) = compose(&h, &[b"left|", b"right"]).await;
    let stream = h.store.get(&written.id, Some((2, 7))).await.unwrap();
    h.store.delete(&written.id).await.unwrap();
    let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
    assert_eq!(chunks.concat(), b"ft|rig");
}

async fn compose_refuses_bad_parts_and_writes_nothing(h: Harness) {
    let good = PartRef::from(h.put(b"good").await);
    let before = h.stored().await;

    let err = h.store.compose(&[]).await.unwrap_err();
    assert!(matches!(err, BlobError::InvalidComposite { .. }), "{err}");

    let missing = PartRef {
        id: "0190aaaabbbbccccddddeeeeffff0000".into(),
        ..good.clone()
    };
    let err = h.store.compose(&[good.clone(), missing]).await.unwrap_err();
    assert!(matches!(err, BlobError::NotFound { .. }), "{err}");

    let wrong_size = PartRef {
        size: 5,
        ..good.clone()
    };
    let err = h.store.compose(&[wrong_size]).await.unwrap_err();
    assert!(matches!(err, BlobError::Corrupt { .. }), "{err}");
    assert!(!err.is_client_error());

    let composite = h.store.compose(std::slice::from_ref(&good)).await.unwrap();
    let nested = PartRef {
        id: composite.id.clone(),
        ..good.clone()
    };
    let err = h.store.compose(&[nested]).await.unwrap_err();
    assert!(matches!(err, BlobError::InvalidComposite { .. }), "{err}");
    h.store.forget_composite(&composite.id).await.unwrap();

    let hostile = PartRef {
        id: "../../etc/passwd".into(),
        ..good
    };
    let err = h.store.compose(&[hostile]).await.unwrap_err();
    assert!(matches!(err, BlobError::InvalidId { .. }), "{err}");
    assert_eq!(h.stored().await, before);
}

async fn a_corrupt_manifest_is_reported_not_served(h: Harness) {
    let (written, _) = compose(&h, &[b"abc", b"def"]).await;
    h.edit_manifest(&written.id, |text| text.replace("2 6\n", "2 7\n"))
        .await;
    let err = h.store.get(&written.id, None).await.err().unwrap();
    assert!(matches!(err, BlobError::Corrupt { .. }), "{err}");
    assert_eq!(err.code(), "StorageCorrupt");
    let err = h.store.size(&written.id).await.unwrap_err();
    assert!(matches!(err, BlobError::Corrupt { .. }), "{err}");
}
