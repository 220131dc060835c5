//! The SigV4 test vectors of api-reference-2.md §3.5 a and b, checked step
//! by step and through `verify_v4` / `sign_v4`.

mod common;

use common::{E, S3_AK, S3_DATE, S3_NOW, S3_SECRET, headers, s3_lookup};
use reelflow_signature::v4::{
    canonical_headers, canonical_query, canonical_request, canonical_uri, scope, sha256_hex,
    signing_key, string_to_sign,
};
use reelflow_signature::{
    Credentials, PayloadMode, SignatureError, V4Request, V4Scope, sign_v4, verify_v4,
};

/// Builds the canonical request of a wire request, as the verifier does.
fn canonical(
    method: &str,
    target: &str,
    hdrs: &[(String, String)],
    signed: &str,
    payload: &str,
) -> String {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let signed: Vec<String> = signed.split(';').map(str::to_owned).collect();
    canonical_request(
        method,
        &canonical_uri(path),
        &canonical_query(query),
        &canonical_headers(hdrs, &signed).unwrap(),
        &signed.join(";"),
        payload,
    )
}

#[test]
fn get_vanilla_from_the_aws_test_suite() {
    // §3.5 a: region us-east-1, service `service`, no x-amz-content-sha256.
    let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    let hdrs = headers(&[
        ("host", "example.amazonaws.com"),
        ("x-amz-date", "20150830T123600Z"),
    ]);
    let creq = canonical("GET", "/", &hdrs, "host;x-amz-date", E);
    assert_eq!(
        creq,
        format!(
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n{E}"
        )
    );
    assert_eq!(
        sha256_hex(creq.as_bytes()),
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
    );
    let key = signing_key(secret, "20150830", "us-east-1", "service");
    assert_eq!(
        key.to_hex(),
        "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75"
    );
    let sts = string_to_sign(
        "20150830T123600Z",
        &scope("20150830", "us-east-1", "service"),
        &creq,
    );
    let signature = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
    assert_eq!(key.sign(&sts), signature);

    // The signer produces the same header.
    let req = V4Request {
        method: "GET",
        raw_path: "/",
        raw_query: None,
        headers: &hdrs,
    };
    let creds = Credentials {
        secret_id: "AKIDEXAMPLE".to_owned(),
        secret_key: secret.to_owned(),
    };
    let at = V4Scope {
        region: "us-east-1",
        service: "service",
        amz_date: "20150830T123600Z",
    };
    let signed = sign_v4(&req, &creds, &at, &["host", "x-amz-date"], E).unwrap();
    assert_eq!(
        signed.authorization,
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature={signature}"
        )
    );
}

#[test]
fn s3_example_signing_key() {
    let key = signing_key(S3_SECRET, "20130524", "us-east-1", "s3");
    assert_eq!(
        key.to_hex(),
        "dbb893acc010964918f1fd433add87c70e8b0db6be30c1fbeafefa5ec6ba8378"
    );
}

/// One §3.5 b header-auth case: wire request plus the published signature.
struct Case {
    method: &'static str,
    target: &'static str,
    headers: Vec<(String, String)>,
    signed: &'static str,
    signature: &'static str,
}

impl Case {
    fn authorization(&self) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential={S3_AK}/20130524/us-east-1/s3/aws4_request,SignedHeaders={},Signature={}",
            self.signed, self.signature
        )
    }

    /// Verifies the request at `now` with `lookup`.
    fn verify(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
        now: i64,
    ) -> Result<reelflow_signature::V4Verified, SignatureError> {
        let mut hdrs = self.headers.clone();
        hdrs.push(("authorization".to_owned(), self.authorization()));
        let (path, query) = match self.target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (self.target, None),
        };
        let req = V4Request {
            method: self.method,
            raw_path: path,
            raw_query: query,
            headers: &hdrs,
        };
        verify_v4(&req, lookup, now)
    }
}

fn s3_headers(host_extra: &[(&str, &str)], payload: &str) -> Vec<(String, String)> {
    let mut pairs = vec![("host", "examplebucket.s3.amazonaws.com")];
    pairs.extend_from_slice(host_extra);
    pairs.push(("x-amz-content-sha256", payload));
    pairs.push(("x-amz-date", S3_DATE));
    headers(&pairs)
}

const PUT_BODY_SHA256: &str = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";

fn cases() -> Vec<Case> {
    vec![
        Case {
            method: "GET",
            target: "/test.txt",
            headers: s3_headers(&[("range", "bytes=0-9")], E),
            signed: "host;range;x-amz-content-sha256;x-amz-date",
            signature: "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        },
        Case {
            method: "PUT",
            target: "/test%24file.text",
            headers: {
                let mut h = headers(&[("date", "Fri, 24 May 2013 00:00:00 GMT")]);
                h.extend(s3_headers(&[], PUT_BODY_SHA256));
                h.push((
                    "x-amz-storage-class".to_owned(),
                    "REDUCED_REDUNDANCY".to_owned(),
                ));
                h
            },
            signed: "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
            signature: "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
        },
        Case {
            method: "GET",
            target: "/?lifecycle",
            headers: s3_headers(&[], E),
            signed: "host;x-amz-content-sha256;x-amz-date",
            signature: "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
        },
        Case {
            method: "GET",
            target: "/?max-keys=2&prefix=J",
            headers: s3_headers(&[], E),
            signed: "host;x-amz-content-sha256;x-amz-date",
            signature: "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        },
    ]
}

#[test]
fn s3_get_object_canonical_request_hash() {
    let case = &cases()[0];
    let creq = canonical(case.method, case.target, &case.headers, case.signed, E);
    assert_eq!(
        sha256_hex(creq.as_bytes()),
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
    );
}

#[test]
fn every_s3_header_example_verifies() {
    for case in cases() {
        let verified = case
            .verify(s3_lookup, S3_NOW)
            .unwrap_or_else(|e| panic!("{} {}: {e:?}", case.method, case.target));
        assert_eq!(verified.access_key_id, S3_AK);
        assert_eq!(verified.region, "us-east-1");
        assert_eq!(verified.service, "s3");
        assert!(!verified.presigned);
        assert_eq!(verified.chunk_signer.seed_signature(), case.signature);
        let expected = if case.method == "PUT" {
            PayloadMode::Sha256(PUT_BODY_SHA256.to_owned())
        } else {
            PayloadMode::Sha256(E.to_owned())
        };
        assert_eq!(verified.payload, expected);
    }
}

#[test]
fn the_signer_reproduces_every_s3_header_example() {
    let creds = Credentials {
        secret_id: S3_AK.to_owned(),
        secret_key: S3_SECRET.to_owned(),
    };
    let at = V4Scope {
        region: "us-east-1",
        service: "s3",
        amz_date: S3_DATE,
    };
    for case in cases() {
        let (path, query) = match case.target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (case.target, None),
        };
        let req = V4Request {
            method: case.method,
            raw_path: path,
            raw_query: query,
            headers: &case.headers,
        };
        let payload = &case
            .headers
            .iter()
            .find(|(n, _)| n == "x-amz-content-sha256")
            .unwrap()
            .1;
        let signed: Vec<&str> = case.signed.split(';').collect();
        let out = sign_v4(&req, &creds, &at, &signed, payload).unwrap();
        assert!(
            out.authorization.ends_with(case.signature),
            "{}",
            case.target
        );
    }
}

#[test]
fn wrong_secret_unknown_key_and_skew_are_refused() {
    let case = &cases()[0];
    let wrong = |_: &str| Some("not-the-secret".to_owned());
    let err = case.verify(wrong, S3_NOW).unwrap_err();
    assert!(matches!(
        err,
        SignatureError::V4SignatureDoesNotMatch { .. }
    ));
    assert_eq!(
        (err.code(), err.http_status()),
        ("SignatureDoesNotMatch", 403)
    );
    assert!(!err.to_string().contains("not-the-secret"));
    assert!(!format!("{err:?}").contains(S3_SECRET));

    let err = case.verify(|_| None, S3_NOW).unwrap_err();
    assert_eq!((err.code(), err.http_status()), ("InvalidAccessKeyId", 403));
    assert!(err.to_string().contains(S3_AK));

    assert!(case.verify(s3_lookup, S3_NOW + 900).is_ok());
    assert!(case.verify(s3_lookup, S3_NOW - 900).is_ok());
    for now in [S3_NOW + 901, S3_NOW - 901] {
        let err = case.verify(s3_lookup, now).unwrap_err();
        assert!(matches!(err, SignatureError::V4RequestTimeTooSkewed { .. }));
        assert_eq!(
            (err.code(), err.http_status()),
            ("RequestTimeTooSkewed", 403)
        );
    }
}

#[test]
fn a_changed_request_no_longer_verifies() {
    let mut case = cases().remove(0);
    case.headers[1].1 = "bytes=0-10".to_owned();
    let err = case.verify(s3_lookup, S3_NOW).unwrap_err();
    let SignatureError::V4SignatureDoesNotMatch {
        canonical_request, ..
    } = err
    else {
        panic!("expected a signature mismatch, got {err:?}");
    };
    assert!(canonical_request.contains("range:bytes=0-10\n"));

    let mut case = cases().remove(3);
    case.target = "/?max-keys=3&prefix=J";
    assert!(case.verify(s3_lookup, S3_NOW).is_err());
}

const PRESIGNED_QUERY: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host";
const PRESIGNED_SIGNATURE: &str =
    "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

fn verify_presigned(
    query: &str,
    now: i64,
) -> Result<reelflow_signature::V4Verified, SignatureError> {
    let hdrs = headers(&[("host", "examplebucket.s3.amazonaws.com")]);
    let req = V4Request {
        method: "GET",
        raw_path: "/test.txt",
        raw_query: Some(query),
        headers: &hdrs,
    };
    verify_v4(&req, s3_lookup, now)
}

#[test]
fn s3_presigned_example_verifies_until_it_expires() {
    let hdrs = headers(&[("host", "examplebucket.s3.amazonaws.com")]);
    let creq = canonical(
        "GET",
        &format!("/test.txt?{PRESIGNED_QUERY}"),
        &hdrs,
        "host",
        "UNSIGNED-PAYLOAD",
    );
    assert_eq!(
        sha256_hex(creq.as_bytes()),
        "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04"
    );

    let query = format!("{PRESIGNED_QUERY}&X-Amz-Signature={PRESIGNED_SIGNATURE}");
    let verified = verify_presigned(&query, S3_NOW).unwrap();
    assert!(verified.presigned);
    assert_eq!(verified.payload, PayloadMode::Unsigned);
    assert!(verify_presigned(&query, S3_NOW + 86_400).is_ok());

    let err = verify_presigned(&query, S3_NOW + 86_401).unwrap_err();
    assert!(matches!(err, SignatureError::RequestExpired { .. }));
    assert_eq!((err.code(), err.http_status()), ("AccessDenied", 403));
    assert!(err.to_string().starts_with("Request has expired"));

    let err = verify_presigned(&query, S3_NOW - 901).unwrap_err();
    assert_eq!(err.code(), "AccessDenied");

    let tampered = query.replace("86400", "86401");
    assert!(matches!(
        verify_presigned(&tampered, S3_NOW),
        Err(SignatureError::V4SignatureDoesNotMatch { .. })
    ));
}

#[test]
fn presign_v4_reproduces_the_s3_example() {
    let hdrs = headers(&[("host", "examplebucket.s3.amazonaws.com")]);
    let req = V4Request {
        method: "GET",
        raw_path: "/test.txt",
        raw_query: None,
        headers: &hdrs,
    };
    let creds = Credentials {
        secret_id: S3_AK.to_owned(),
        secret_key: S3_SECRET.to_owned(),
    };
    let at = V4Scope {
        region: "us-east-1",
        service: "s3",
        amz_date: S3_DATE,
    };
    let query = reelflow_signature::presign_v4(&req, &creds, &at, 86_400, &["host"]).unwrap();
    assert_eq!(
        query,
        format!("{PRESIGNED_QUERY}&X-Amz-Signature={PRESIGNED_SIGNATURE}")
    );
}
