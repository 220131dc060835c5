//! `verify_v4` behaviour beyond the published vectors: error codes, the
//! `Date` fallback, presigned details and wire-encoding tolerance
//! (api-reference-2.md §3.2, §3.4).

mod common;

use common::{E, S3_AK, S3_DATE, S3_NOW, S3_SECRET, headers, s3_lookup};
use reelflow_signature::{
    Credentials, PayloadMode, SignatureError, V4Request, V4Scope, V4Verified, presign_v4, sign_v4,
    verify_v4,
};

fn creds() -> Credentials {
    Credentials {
        secret_id: S3_AK.to_owned(),
        secret_key: S3_SECRET.to_owned(),
    }
}

const AT: V4Scope<'static> = V4Scope {
    region: "ap-guangzhou",
    service: "s3",
    amz_date: S3_DATE,
};

/// A request signed over `signed`, then verified as received.
struct Signed {
    method: &'static str,
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
}

impl Signed {
    fn new(method: &'static str, path: &str, query: Option<&str>, pairs: &[(&str, &str)]) -> Self {
        Self {
            method,
            path: path.to_owned(),
            query: query.map(str::to_owned),
            headers: headers(pairs),
        }
    }

    fn req(&self) -> V4Request<'_> {
        V4Request {
            method: self.method,
            raw_path: &self.path,
            raw_query: self.query.as_deref(),
            headers: &self.headers,
        }
    }

    /// Adds an Authorization header signing `names` with payload `payload`.
    fn sign(mut self, names: &[&str], payload: &str) -> Self {
        let auth = sign_v4(&self.req(), &creds(), &AT, names, payload)
            .unwrap()
            .authorization;
        self.headers.push(("authorization".to_owned(), auth));
        self
    }

    fn verify(&self) -> Result<V4Verified, SignatureError> {
        verify_v4(&self.req(), s3_lookup, S3_NOW)
    }
}

const BASE: &[(&str, &str)] = &[
    ("host", "127.0.0.1:9600"),
    ("x-amz-content-sha256", E),
    ("x-amz-date", S3_DATE),
];
const BASE_SIGNED: &[&str] = &["host", "x-amz-content-sha256", "x-amz-date"];

#[test]
fn any_region_verifies_and_host_keeps_its_port() {
    let req = Signed::new("GET", "/b/k", None, BASE).sign(BASE_SIGNED, E);
    let verified = req.verify().unwrap();
    assert_eq!(verified.region, "ap-guangzhou");
    assert_eq!(
        verified.chunk_signer.scope(),
        "20130524/ap-guangzhou/s3/aws4_request"
    );

    let mut moved = req;
    moved.headers[0].1 = "127.0.0.1".to_owned();
    assert!(matches!(
        moved.verify(),
        Err(SignatureError::V4SignatureDoesNotMatch { .. })
    ));
}

#[test]
fn paths_and_queries_verify_however_the_wire_encodes_them() {
    let req = Signed::new(
        "PUT",
        "/b/%E8%85%BE a+b(1)",
        Some("tagging&x=a b&y=%2B"),
        BASE,
    )
    .sign(BASE_SIGNED, E);
    let canonical_twin = Signed {
        path: "/b/%e8%85%be%20a%2Bb%281%29".to_owned(),
        query: Some("x=a%20b&tagging=&y=%2b".to_owned()),
        ..Signed::new("PUT", "", None, &[])
    };
    let canonical_twin = Signed {
        headers: req.headers.clone(),
        ..canonical_twin
    };
    assert!(req.verify().is_ok());
    assert!(canonical_twin.verify().is_ok());
}

#[test]
fn repeated_headers_and_odd_whitespace_are_canonicalised() {
    let mut pairs = BASE.to_vec();
    pairs.extend([("x-amz-meta-a", "  one   two "), ("x-amz-meta-a", "three")]);
    let mut names = BASE_SIGNED.to_vec();
    names.push("x-amz-meta-a");
    let req = Signed::new("PUT", "/b/k", None, &pairs).sign(&names, E);
    assert!(req.verify().is_ok());
    let mut reordered = req;
    reordered.headers.swap(3, 4);
    assert!(reordered.verify().is_err(), "value order is significant");
}

#[test]
fn the_date_header_stands_in_for_x_amz_date() {
    let pairs = [
        ("date", "Fri, 24 May 2013 00:00:00 GMT"),
        ("host", "h"),
        ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
    ];
    let req = Signed::new("GET", "/", None, &pairs).sign(
        &["date", "host", "x-amz-content-sha256"],
        "UNSIGNED-PAYLOAD",
    );
    let verified = req.verify().unwrap();
    assert_eq!(verified.payload, PayloadMode::Unsigned);
    assert_eq!(verified.chunk_signer.amz_date(), S3_DATE);
}

fn code(result: Result<V4Verified, SignatureError>) -> (&'static str, u16, String) {
    let err = result.unwrap_err();
    (err.code(), err.http_status(), err.to_string())
}

#[test]
fn header_auth_requires_its_headers() {
    let no_sha = Signed::new("GET", "/", None, &BASE[..1]).sign(&["host"], E);
    let (c, s, msg) = code(no_sha.verify());
    assert_eq!((c, s), ("MissingSecurityHeader", 400));
    assert!(msg.contains("x-amz-content-sha256"));

    let pairs = [("host", "h"), ("x-amz-content-sha256", E)];
    let no_date = Signed::new("GET", "/", None, &pairs).sign(&["host"], E);
    let (c, _, msg) = code(no_date.verify());
    assert_eq!(c, "MissingSecurityHeader");
    assert!(msg.contains("x-amz-date"));

    let mut bad_date = Signed::new("GET", "/", None, BASE).sign(BASE_SIGNED, E);
    bad_date.headers[2].1 = "2013-05-24".to_owned();
    assert_eq!(code(bad_date.verify()).0, "InvalidArgument");

    let mut other_day = Signed::new("GET", "/", None, BASE).sign(BASE_SIGNED, E);
    other_day.headers[2].1 = "20130523T235959Z".to_owned();
    let (c, s, msg) = code(other_day.verify());
    assert_eq!((c, s), ("AuthorizationHeaderMalformed", 400));
    assert!(msg.contains("20130524"));

    let mut missing = Signed::new("GET", "/", None, BASE).sign(BASE_SIGNED, E);
    missing.headers.remove(1);
    missing
        .headers
        .push(("x-amz-content-sha256".to_owned(), E.to_owned()));
    assert!(missing.verify().is_ok(), "header order does not matter");
    let pairs = [BASE, &[("range", "bytes=0-1")]].concat();
    let mut names = BASE_SIGNED.to_vec();
    names.push("range");
    let mut dropped = Signed::new("GET", "/", None, &pairs).sign(&names, E);
    dropped.headers.retain(|(n, _)| n != "range");
    let (c, _, msg) = code(dropped.verify());
    assert_eq!(c, "AuthorizationHeaderMalformed");
    assert!(msg.contains("range"));
}

#[test]
fn payload_modes_are_parsed() {
    let modes = [
        ("UNSIGNED-PAYLOAD", PayloadMode::Unsigned),
        (
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            PayloadMode::StreamingSigned { trailer: false },
        ),
        (
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            PayloadMode::StreamingSigned { trailer: true },
        ),
        (
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            PayloadMode::StreamingUnsignedTrailer,
        ),
        (&E.to_uppercase(), PayloadMode::Sha256(E.to_owned())),
    ];
    for (value, mode) in modes {
        let pairs = [
            ("host", "h"),
            ("x-amz-content-sha256", value),
            ("x-amz-date", S3_DATE),
        ];
        let req = Signed::new("PUT", "/", None, &pairs).sign(BASE_SIGNED, value);
        assert_eq!(req.verify().unwrap().payload, mode, "{value}");
        assert_eq!(mode.is_streaming(), value.starts_with("STREAMING"));
    }
    for (value, expected) in [
        (
            "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
            ("NotImplemented", 501),
        ),
        (
            "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
            ("NotImplemented", 501),
        ),
        ("md5", ("InvalidArgument", 400)),
    ] {
        let pairs = [
            ("host", "h"),
            ("x-amz-content-sha256", value),
            ("x-amz-date", S3_DATE),
        ];
        let req = Signed::new("PUT", "/", None, &pairs).sign(BASE_SIGNED, value);
        let (c, s, msg) = code(req.verify());
        assert_eq!((c, s), expected, "{value}");
        assert!(msg.contains("x-amz-content-sha256"));
    }
}

#[test]
fn sigv4a_and_mixed_mechanisms_are_refused() {
    let pairs = [BASE, &[("authorization", "AWS4-ECDSA-P256-SHA256 Credential=AK/20130524/s3/aws4_request, SignedHeaders=host, Signature=00")]].concat();
    let req = Signed::new("GET", "/", None, &pairs);
    let (c, s, _) = code(req.verify());
    assert_eq!((c, s), ("NotImplemented", 501));

    let mut both = Signed::new("GET", "/", Some("X-Amz-Algorithm=AWS4-HMAC-SHA256"), BASE)
        .sign(BASE_SIGNED, E);
    both.query = Some("X-Amz-Algorithm=AWS4-HMAC-SHA256".to_owned());
    assert_eq!(code(both.verify()).0, "InvalidArgument");

    let unsigned = Signed::new("GET", "/", None, BASE);
    assert_eq!(code(unsigned.verify()).0, "MissingAuthorization");
}

fn presigned(query: &str, extra: &[(&str, &str)]) -> Signed {
    let mut pairs = vec![("host", "127.0.0.1:9600")];
    pairs.extend_from_slice(extra);
    let mut req = Signed::new("GET", "/b/k1", Some(query), &pairs);
    let full = presign_v4(&req.req(), &creds(), &AT, 600, &["host"]).unwrap();
    req.query = Some(full);
    req
}

#[test]
fn presigned_urls_keep_their_own_query_and_use_the_payload_header() {
    let req = presigned("response-content-type=text%2Fplain&versionId=", &[]);
    let verified = req.verify().unwrap();
    assert!(verified.presigned);
    assert_eq!(verified.payload, PayloadMode::Unsigned);
    assert!(verify_v4(&req.req(), s3_lookup, S3_NOW + 601).is_err());

    let req = presigned("", &[("x-amz-content-sha256", E)]);
    assert_eq!(
        req.verify().unwrap().payload,
        PayloadMode::Sha256(E.to_owned())
    );

    let mut wrong = presigned("a=1", &[]);
    wrong.query = wrong.query.map(|q| q.replace("a=1", "a=2"));
    assert!(matches!(
        wrong.verify(),
        Err(SignatureError::V4SignatureDoesNotMatch { .. })
    ));
}

#[test]
fn presigned_parameter_errors_are_400_and_name_the_parameter() {
    let req = presigned("", &[]);
    let query = req.query.clone().unwrap();
    for (from, to, name) in [
        ("X-Amz-Expires=600", "X-Amz-Expires=604801", "X-Amz-Expires"),
        ("X-Amz-Expires=600", "X-Amz-Expires=soon", "X-Amz-Expires"),
        ("X-Amz-Date=", "X-Amz-Datum=", "X-Amz-Date"),
        ("X-Amz-Signature=", "X-Amz-Signature=zz", "Signature"),
        (
            "X-Amz-SignedHeaders=host",
            "X-Amz-SignedHeaders=range",
            "host",
        ),
    ] {
        let mut bad = presigned("", &[]);
        bad.query = Some(query.replace(from, to));
        let (c, s, msg) = code(bad.verify());
        assert_eq!((c, s), ("AuthorizationQueryParametersError", 400), "{to}");
        assert!(msg.contains(name), "{msg}");
    }
}

#[test]
fn error_messages_never_contain_the_secret() {
    let req = Signed::new("GET", "/", None, BASE).sign(BASE_SIGNED, E);
    let wrong = |_: &str| Some("other-secret-value".to_owned());
    let err = verify_v4(&req.req(), wrong, S3_NOW).unwrap_err();
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("other-secret-value"));
        assert!(!text.contains(S3_SECRET));
    }
    let verified = req.verify().unwrap();
    assert!(!format!("{verified:?}").contains(S3_SECRET));
}
