//! Checksum values and the streaming `x-amz-content-sha256` /
//! `x-amz-checksum-*` checks (api-reference-2.md §3.2 step 7, §3.5 d, §3.6).

mod common;

use common::{drain, headers, pieces};
use reelflow_signature::{
    Checksum, SignatureError, check_checksum_headers, check_payload_sha256, compute_checksum,
};

#[test]
fn crc32_of_hello_world() {
    // §3.5 d.
    assert_eq!(Checksum::Crc32.compute(b"hello world"), "DUoRhQ==");
}

#[test]
fn every_algorithm_matches_its_reference_value() {
    let check = [
        (Checksum::Crc32, "y/Q5Jg=="),
        (Checksum::Crc32c, "4waSgw=="),
        (Checksum::Crc64Nvme, "rosUhgp5mIg="),
    ];
    for (checksum, value) in check {
        assert_eq!(checksum.compute(b"123456789"), value, "{checksum:?}");
    }
    assert_eq!(
        Checksum::Sha1.compute(b"hello world"),
        "Kq5sNclPz7QV2+lfQIuc6R7oRu0="
    );
    assert_eq!(
        Checksum::Sha256.compute(b"hello world"),
        "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="
    );
}

#[test]
fn streaming_hashers_equal_one_shot_values() {
    let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    for checksum in Checksum::ALL {
        let mut hasher = checksum.hasher();
        for piece in data.chunks(333) {
            hasher.update(piece);
        }
        assert_eq!(hasher.finalize_base64(), checksum.compute(&data));
    }
}

#[test]
fn names_round_trip() {
    for checksum in Checksum::ALL {
        assert_eq!(
            Checksum::from_header_name(checksum.header_name()),
            Some(checksum)
        );
        assert_eq!(
            Checksum::from_algorithm_name(&checksum.name().to_uppercase()),
            Some(checksum)
        );
    }
    assert_eq!(Checksum::from_header_name("x-amz-checksum-algorithm"), None);
    assert_eq!(Checksum::from_algorithm_name("MD5"), None);
}

const PUT_BODY: &[u8] = b"Welcome to Amazon S3.";
const PUT_SHA256: &str = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";

#[test]
fn payload_sha256_passes_a_matching_body() {
    let out = drain(check_payload_sha256(
        pieces(PUT_BODY, &[4]),
        PUT_SHA256.to_uppercase(),
    ));
    assert_eq!(out.ok(), PUT_BODY);
}

#[test]
fn payload_sha256_mismatch_ends_with_an_error_before_the_last_piece() {
    let out = drain(check_payload_sha256(
        pieces(b"Welcome to Amazon S4.", &[4]),
        PUT_SHA256.to_owned(),
    ));
    let err = out.signature_error();
    assert!(matches!(
        err,
        SignatureError::XAmzContentSha256Mismatch { .. }
    ));
    assert_eq!(
        (err.code(), err.http_status()),
        ("XAmzContentSHA256Mismatch", 400)
    );
    assert!(out.data.len() < PUT_BODY.len());
}

#[test]
fn checksum_headers_pass_and_fail() {
    let ok = headers(&[
        ("x-amz-checksum-crc32", "DUoRhQ=="),
        ("x-amz-sdk-checksum-algorithm", "CRC32"),
    ]);
    let body = check_checksum_headers(pieces(b"hello world", &[2]), &ok).unwrap();
    assert_eq!(drain(body).ok(), b"hello world");

    let body = check_checksum_headers(pieces(b"hello world!", &[2]), &ok).unwrap();
    let out = drain(body);
    let err = out.signature_error();
    assert_eq!((err.code(), err.http_status()), ("BadDigest", 400));
    assert!(err.to_string().contains("x-amz-checksum-crc32"));
    assert!(out.data.len() < 12);
}

#[test]
fn checksum_header_errors_are_reported_up_front() {
    let code = |pairs: &[(&str, &str)]| {
        check_checksum_headers(pieces(b"x", &[1]), &headers(pairs))
            .err()
            .map(|e| e.code())
    };
    assert_eq!(
        code(&[("x-amz-checksum-crc32", "not base64!")]),
        Some("InvalidRequest")
    );
    assert_eq!(
        code(&[("x-amz-checksum-sha256", "DUoRhQ==")]),
        Some("InvalidRequest")
    );
    assert_eq!(
        code(&[
            ("x-amz-checksum-crc32", "DUoRhQ=="),
            ("x-amz-checksum-sha1", "Kq5sNclPz7QV2+lfQIuc6R7oRu0=")
        ]),
        Some("InvalidRequest")
    );
    assert_eq!(code(&[("x-amz-checksum-algorithm", "CRC32")]), None);
    assert_eq!(code(&[]), None);
}

#[test]
fn compute_checksum_reports_after_a_clean_end() {
    let (body, value) = compute_checksum(pieces(b"hello world", &[3]), Checksum::Crc32);
    assert_eq!(value.get(), None);
    assert_eq!(drain(body).ok(), b"hello world");
    assert_eq!(value.get().as_deref(), Some("DUoRhQ=="));
}
