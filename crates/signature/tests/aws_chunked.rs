//! aws-chunked decoding: the §3.5 c signed upload, the §3.3 unsigned-trailer
//! example, signed trailers, and failure cases (api-reference-2.md §3.3).

mod common;

use common::{
    E, S3_DATE, S3_NOW, XorShift, drain, example_chunk_signer, headers, pieces, s3_lookup, verified,
};
use reelflow_signature::{
    ChunkSigner, PayloadMode, SignatureError, V4Request, decode_aws_chunked, verify_v4,
};

const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
const CHUNK_SIGS: [&str; 3] = [
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
];
const SIGNED: PayloadMode = PayloadMode::StreamingSigned { trailer: false };

/// Frames `chunks` (the last should be empty) with chunk signatures from `signer`.
fn frame_signed(signer: &ChunkSigner, chunks: &[&[u8]]) -> (Vec<u8>, String) {
    let mut out = Vec::new();
    let mut previous = signer.seed_signature().to_owned();
    for chunk in chunks {
        let signature = signer.chunk_signature(&previous, chunk);
        out.extend_from_slice(
            format!("{:x};chunk-signature={signature}\r\n", chunk.len()).as_bytes(),
        );
        out.extend_from_slice(chunk);
        if !chunk.is_empty() {
            out.extend_from_slice(b"\r\n");
        }
        previous = signature;
    }
    (out, previous)
}

/// The §3.5 c body: 65536 + 1024 `a` bytes and the final chunk, 66824 bytes.
fn example_body() -> Vec<u8> {
    let (mut body, _) = frame_signed(
        &example_chunk_signer(),
        &[&[b'a'; 65536], &[b'a'; 1024], b""],
    );
    body.extend_from_slice(b"\r\n");
    body
}

#[test]
fn the_example_request_verifies_with_the_seed_signature() {
    let hdrs = headers(&[
        ("content-encoding", "aws-chunked"),
        ("content-length", "66824"),
        ("host", "s3.amazonaws.com"),
        ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        ("x-amz-date", S3_DATE),
        ("x-amz-decoded-content-length", "66560"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        (
            "authorization",
            &format!(
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature={SEED}"
            ),
        ),
    ]);
    let req = V4Request {
        method: "PUT",
        raw_path: "/examplebucket/chunkObject.txt",
        raw_query: None,
        headers: &hdrs,
    };
    let verified = verify_v4(&req, s3_lookup, S3_NOW).unwrap();
    assert_eq!(verified.payload, SIGNED);
    assert_eq!(verified.chunk_signer, example_chunk_signer());
    let out = drain(decode_aws_chunked(
        pieces(&example_body(), &[8192]),
        &verified,
        Some(66_560),
        &[],
    ));
    assert_eq!(out.ok(), vec![b'a'; 66_560]);
}

#[test]
fn chunk_signatures_match_the_published_chain() {
    let signer = example_chunk_signer();
    assert_eq!(signer.seed_signature(), SEED);
    let first = signer.chunk_signature(SEED, &[b'a'; 65536]);
    assert_eq!(first, CHUNK_SIGS[0]);
    let second = signer.chunk_signature(&first, &[b'a'; 1024]);
    assert_eq!(second, CHUNK_SIGS[1]);
    assert_eq!(signer.chunk_signature(&second, b""), CHUNK_SIGS[2]);
    assert_eq!(
        signer.chunk_string_to_sign(SEED, E).lines().nth(4),
        Some(E),
        "the empty-string hash line"
    );
}

#[test]
fn the_example_body_is_66824_bytes_and_decodes_to_66560_a() {
    let body = example_body();
    assert_eq!(body.len(), 66_824);
    for sig in CHUNK_SIGS {
        assert!(body.windows(64).any(|w| w == sig.as_bytes()));
    }
    let out = drain(decode_aws_chunked(
        pieces(&body, &[body.len()]),
        &verified(SIGNED),
        Some(66_560),
        &[],
    ));
    assert_eq!(out.ok(), vec![b'a'; 66_560]);
}

#[test]
fn the_example_decodes_in_random_and_one_byte_pieces() {
    let body = example_body();
    let out = drain(decode_aws_chunked(
        pieces(&body, &[1]),
        &verified(SIGNED),
        Some(66_560),
        &[],
    ));
    assert_eq!(out.ok(), vec![b'a'; 66_560]);
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20 {
        let sizes: Vec<usize> = (0..50).map(|_| 1 + rng.below(5000)).collect();
        let out = drain(decode_aws_chunked(
            pieces(&body, &sizes),
            &verified(SIGNED),
            None,
            &[],
        ));
        assert_eq!(out.ok().len(), 66_560);
    }
}

#[test]
fn a_tampered_chunk_fails_and_never_ends_cleanly() {
    let mut body = example_body();
    body[88 + 1000] = b'b';
    for sizes in [&[1][..], &[4096], &[body.len()]] {
        let out = drain(decode_aws_chunked(
            pieces(&body, sizes),
            &verified(SIGNED),
            Some(66_560),
            &[],
        ));
        let err = out.signature_error();
        assert_eq!(
            err,
            &SignatureError::StreamSignatureDoesNotMatch {
                part: "chunk 1".to_owned()
            }
        );
        assert_eq!(err.http_status(), 403);
        assert!(
            out.data.len() < 65_536,
            "the bad chunk was not released whole"
        );
    }
}

#[test]
fn a_tampered_final_signature_fails_before_the_last_data_is_released() {
    let mut body = example_body();
    let at = body.len() - 10;
    body[at] = if body[at] == b'0' { b'1' } else { b'0' };
    let out = drain(decode_aws_chunked(
        pieces(&body, &[4096]),
        &verified(SIGNED),
        None,
        &[],
    ));
    assert_eq!(out.signature_error().code(), "SignatureDoesNotMatch");
    assert!(out.data.len() < 66_560);
}

#[test]
fn truncation_trailing_garbage_and_length_mismatch_fail() {
    let body = example_body();
    let run = |body: &[u8], len: Option<u64>| {
        drain(decode_aws_chunked(
            pieces(body, &[1000]),
            &verified(SIGNED),
            len,
            &[],
        ))
    };
    let out = run(&body[..body.len() - 2], None);
    assert_eq!(out.signature_error().code(), "IncompleteBody");
    assert!(out.data.len() < 66_560);
    let mut longer = body.clone();
    longer.push(b'x');
    assert_eq!(
        run(&longer, None).signature_error().code(),
        "InvalidRequest"
    );
    assert_eq!(
        run(&body, Some(66_561)).signature_error().code(),
        "IncompleteBody"
    );
    let out = run(&body, Some(1000));
    assert_eq!(out.signature_error().code(), "InvalidRequest");
    assert!(
        out.data.is_empty(),
        "nothing past the declared length is released"
    );
}

#[test]
fn a_missing_chunk_signature_is_refused() {
    let body = b"b\r\nhello world\r\n0\r\n\r\n";
    let out = drain(decode_aws_chunked(
        pieces(body, &[3]),
        &verified(SIGNED),
        None,
        &[],
    ));
    assert!(
        out.signature_error()
            .to_string()
            .contains("chunk-signature")
    );
}

const UNSIGNED_TRAILER_EXAMPLE: &[u8] =
    b"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";

fn crc32_declared() -> Vec<String> {
    vec!["x-amz-checksum-crc32".to_owned()]
}

#[test]
fn the_unsigned_trailer_example_decodes_to_hello_world() {
    for sizes in [&[1][..], &[2, 7], &[100]] {
        let out = drain(decode_aws_chunked(
            pieces(UNSIGNED_TRAILER_EXAMPLE, sizes),
            &verified(PayloadMode::StreamingUnsignedTrailer),
            Some(11),
            &crc32_declared(),
        ));
        assert_eq!(out.ok(), b"hello world");
    }
}

#[test]
fn unsigned_trailer_failures() {
    let run = |body: &[u8], declared: &[String]| {
        drain(decode_aws_chunked(
            pieces(body, &[5]),
            &verified(PayloadMode::StreamingUnsignedTrailer),
            Some(11),
            declared,
        ))
    };
    let wrong_crc =
        String::from_utf8_lossy(UNSIGNED_TRAILER_EXAMPLE).replace("DUoRhQ==", "DUoRhA==");
    let out = run(wrong_crc.as_bytes(), &crc32_declared());
    let err = out.signature_error();
    assert_eq!((err.code(), err.http_status()), ("BadDigest", 400));
    assert!(err.to_string().contains("x-amz-checksum-crc32"));
    assert!(
        out.data.len() < 11,
        "the last data is held back until the checksum passes"
    );

    let bad_base64 = String::from_utf8_lossy(UNSIGNED_TRAILER_EXAMPLE).replace("DUoRhQ==", "***");
    assert_eq!(
        run(bad_base64.as_bytes(), &crc32_declared())
            .signature_error()
            .code(),
        "InvalidRequest"
    );
    // Undeclared, missing and unsupported trailers.
    assert!(
        run(UNSIGNED_TRAILER_EXAMPLE, &[])
            .signature_error()
            .to_string()
            .contains("not declared")
    );
    let missing = b"b\r\nhello world\r\n0\r\n\r\n";
    assert!(
        run(missing, &crc32_declared())
            .signature_error()
            .to_string()
            .contains("not sent")
    );
    let other = vec!["x-amz-meta-a".to_owned()];
    assert!(
        run(UNSIGNED_TRAILER_EXAMPLE, &other)
            .signature_error()
            .to_string()
            .contains("x-amz-meta-a")
    );
    // Chunk signatures have no place in an unsigned body.
    let signed = b"b;chunk-signature=00\r\nhello world\r\n0\r\n\r\n";
    assert_eq!(run(signed, &[]).signature_error().code(), "InvalidRequest");
}

#[test]
fn other_checksum_trailers_are_verified() {
    use reelflow_signature::Checksum;
    for checksum in Checksum::ALL {
        let value = checksum.compute(b"hello world");
        let body = format!(
            "b\r\nhello world\r\n0\r\n{}:{value}\r\n\r\n",
            checksum.header_name()
        );
        let out = drain(decode_aws_chunked(
            pieces(body.as_bytes(), &[4]),
            &verified(PayloadMode::StreamingUnsignedTrailer),
            None,
            &[checksum.header_name().to_uppercase()],
        ));
        assert_eq!(out.ok(), b"hello world", "{checksum:?}");
    }
}

/// Frames a signed body with a signed trailer section.
fn signed_trailer_body(data: &[u8], trailer: &str) -> Vec<u8> {
    let signer = example_chunk_signer();
    let (mut body, last) = frame_signed(&signer, &[data, b""]);
    let lines = format!("{trailer}\n");
    let trailer_sig = signer.trailer_signature(&last, lines.as_bytes());
    body.extend_from_slice(
        format!("{trailer}\r\nx-amz-trailer-signature:{trailer_sig}\r\n\r\n").as_bytes(),
    );
    body
}

#[test]
fn signed_trailers_are_verified() {
    let signed = PayloadMode::StreamingSigned { trailer: true };
    let body = signed_trailer_body(b"hello world", "x-amz-checksum-crc32:DUoRhQ==");
    let out = drain(decode_aws_chunked(
        pieces(&body, &[1]),
        &verified(signed.clone()),
        Some(11),
        &crc32_declared(),
    ));
    assert_eq!(out.ok(), b"hello world");

    // A trailer value changed after signing fails on the signature.
    let altered = String::from_utf8_lossy(&body).replace("DUoRhQ==", "DUoRhA==");
    let out = drain(decode_aws_chunked(
        pieces(altered.as_bytes(), &[7]),
        &verified(signed.clone()),
        None,
        &crc32_declared(),
    ));
    assert_eq!(
        out.signature_error(),
        &SignatureError::StreamSignatureDoesNotMatch {
            part: "trailer".to_owned()
        }
    );

    // A correctly signed but wrong checksum fails on the checksum.
    let body = signed_trailer_body(b"hello world", "x-amz-checksum-crc32:AAAAAA==");
    let out = drain(decode_aws_chunked(
        pieces(&body, &[7]),
        &verified(signed.clone()),
        None,
        &crc32_declared(),
    ));
    assert_eq!(out.signature_error().code(), "BadDigest");

    // Trailers without their signature.
    let (mut body, _) = frame_signed(&example_chunk_signer(), &[b"hello world", b""]);
    body.extend_from_slice(b"x-amz-checksum-crc32:DUoRhQ==\r\n\r\n");
    let out = drain(decode_aws_chunked(
        pieces(&body, &[7]),
        &verified(signed),
        None,
        &crc32_declared(),
    ));
    assert!(
        out.signature_error()
            .to_string()
            .contains("x-amz-trailer-signature")
    );
}

#[test]
fn non_streaming_modes_are_refused_at_once() {
    for mode in [PayloadMode::Unsigned, PayloadMode::Sha256(E.to_owned())] {
        let out = drain(decode_aws_chunked(
            pieces(UNSIGNED_TRAILER_EXAMPLE, &[4]),
            &verified(mode),
            None,
            &[],
        ));
        assert!(out.data.is_empty());
        assert_eq!(out.signature_error().code(), "InvalidRequest");
    }
    let out = drain(decode_aws_chunked(
        pieces(&example_body(), &[4]),
        &verified(SIGNED),
        None,
        &crc32_declared(),
    ));
    assert_eq!(out.signature_error().code(), "InvalidRequest");
}

#[test]
fn a_boto3_style_unsigned_trailer_upload_end_to_end() {
    // Signed the way boto3 over HTTPS signs an UploadPart (§3.6).
    use reelflow_signature::{Credentials, V4Scope, sign_v4};
    let mut hdrs = headers(&[
        ("content-encoding", "aws-chunked"),
        ("host", "localhost:18083"),
        ("transfer-encoding", "chunked"),
        ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
        ("x-amz-date", S3_DATE),
        ("x-amz-decoded-content-length", "11"),
        ("x-amz-sdk-checksum-algorithm", "CRC32"),
        ("x-amz-trailer", "x-amz-checksum-crc32"),
    ]);
    let creds = Credentials {
        secret_id: common::S3_AK.to_owned(),
        secret_key: common::S3_SECRET.to_owned(),
    };
    let at = V4Scope {
        region: "ap-guangzhou",
        service: "s3",
        amz_date: S3_DATE,
    };
    let signed_names = [
        "content-encoding",
        "host",
        "x-amz-content-sha256",
        "x-amz-date",
        "x-amz-decoded-content-length",
        "x-amz-sdk-checksum-algorithm",
        "x-amz-trailer",
    ];
    let req = V4Request {
        method: "PUT",
        raw_path: "/b/k1",
        raw_query: Some("partNumber=1&uploadId=u"),
        headers: &hdrs,
    };
    let signed = sign_v4(
        &req,
        &creds,
        &at,
        &signed_names,
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    )
    .unwrap();
    hdrs.push(("authorization".to_owned(), signed.authorization));
    let req = V4Request {
        method: "PUT",
        raw_path: "/b/k1",
        raw_query: Some("partNumber=1&uploadId=u"),
        headers: &hdrs,
    };
    let verified = verify_v4(&req, s3_lookup, S3_NOW + 60).unwrap();
    assert_eq!(verified.region, "ap-guangzhou");
    assert_eq!(verified.payload, PayloadMode::StreamingUnsignedTrailer);
    let out = drain(decode_aws_chunked(
        pieces(UNSIGNED_TRAILER_EXAMPLE, &[3]),
        &verified,
        Some(11),
        &crc32_declared(),
    ));
    assert_eq!(out.ok(), b"hello world");
}
