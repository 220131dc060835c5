//! Property tests: the SigV4 parsers never panic on arbitrary input, and the
//! aws-chunked decoder ends cleanly exactly when its input is a valid
//! framing, compared with a whole-buffer reference parser written
//! independently from the grammar in api-reference-2.md §3.3.

mod common;

use common::{E, S3_DATE, S3_NOW, drain, example_chunk_signer, pieces, s3_lookup, verified};
use proptest::prelude::*;
use reelflow_signature::{
    Checksum, ChunkSigner, PayloadMode, V4Request, decode_aws_chunked, is_sigv4, verify_v4,
};

fn verify_header(authorization: &str) {
    let headers = common::headers(&[
        ("host", "h"),
        ("x-amz-content-sha256", E),
        ("x-amz-date", S3_DATE),
        ("authorization", authorization),
    ]);
    let req = V4Request {
        method: "GET",
        raw_path: "/",
        raw_query: None,
        headers: &headers,
    };
    let _ = is_sigv4(Some(authorization), None);
    let _ = verify_v4(&req, s3_lookup, S3_NOW);
}

fn verify_query(query: &str, path: &str) {
    let headers = common::headers(&[("host", "h")]);
    let req = V4Request {
        method: "GET",
        raw_path: path,
        raw_query: Some(query),
        headers: &headers,
    };
    let _ = is_sigv4(None, Some(query));
    let _ = verify_v4(&req, s3_lookup, S3_NOW);
}

fn header_component() -> impl Strategy<Value = String> {
    prop_oneof![
        "Credential=[A-Za-z0-9/_-]{0,48}",
        "Credential=AKIAIOSFODNN7EXAMPLE/2013052[0-9]/[a-z0-9-]{0,12}/s3/aws4_request",
        "SignedHeaders=[a-z;-]{0,40}",
        "Signature=[0-9a-fA-F]{0,70}",
        ".{0,24}",
    ]
}

fn query_pair() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("X-Amz-Algorithm".to_owned()),
        Just("X-Amz-Credential".to_owned()),
        Just("X-Amz-Date".to_owned()),
        Just("X-Amz-Expires".to_owned()),
        Just("X-Amz-SignedHeaders".to_owned()),
        Just("X-Amz-Signature".to_owned()),
        "[%A-Za-z0-9+=-]{0,12}",
    ];
    let value = prop_oneof![
        Just("AWS4-HMAC-SHA256".to_owned()),
        Just("AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request".to_owned()),
        "2013052[0-9]T0[0-9]{5}Z",
        "-?[0-9]{0,8}",
        "[0-9a-f]{64}",
        "[%0-9A-Za-z+;/&=]{0,24}",
        ".{0,16}",
    ];
    (name, value).prop_map(|(n, v)| format!("{n}={v}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn authorization_parser_never_panics(raw in ".{0,200}", parts in prop::collection::vec(header_component(), 0..5)) {
        verify_header(&raw);
        verify_header(&format!("AWS4-HMAC-SHA256 {raw}"));
        verify_header(&format!("AWS4-HMAC-SHA256 {}", parts.join(", ")));
        verify_header(&format!("AWS4-HMAC-SHA256 {}", parts.join(",")));
    }

    #[test]
    fn presigned_query_parser_never_panics(raw in ".{0,200}", pairs in prop::collection::vec(query_pair(), 0..8), path in ".{0,40}") {
        verify_query(&raw, &path);
        verify_query(&pairs.join("&"), &path);
    }
}

/// How a body is framed and checked.
#[derive(Debug, Clone)]
struct Mode {
    signed: bool,
    trailer: bool,
    declared: Vec<Checksum>,
    decoded_len: Option<u64>,
}

impl Mode {
    fn payload(&self) -> PayloadMode {
        match (self.signed, self.trailer) {
            (true, trailer) => PayloadMode::StreamingSigned { trailer },
            (false, _) => PayloadMode::StreamingUnsignedTrailer,
        }
    }

    fn declared_names(&self) -> Vec<String> {
        self.declared
            .iter()
            .map(|c| c.header_name().to_owned())
            .collect()
    }
}

fn mode() -> impl Strategy<Value = Mode> {
    (0..4u8, any::<bool>()).prop_map(|(kind, with_len)| {
        let (signed, trailer, declared) = match kind {
            0 => (false, true, vec![Checksum::Crc32]),
            1 => (false, true, vec![]),
            2 => (true, false, vec![]),
            _ => (true, true, vec![Checksum::Crc32]),
        };
        Mode {
            signed,
            trailer,
            declared,
            decoded_len: with_len.then_some(0),
        }
    })
}

/// A valid framing of `chunks` in `mode`.
fn frame(chunks: &[Vec<u8>], mode: &Mode) -> Vec<u8> {
    let signer = example_chunk_signer();
    let mut previous = signer.seed_signature().to_owned();
    let mut out = Vec::new();
    let all: Vec<u8> = chunks.concat();
    for chunk in chunks.iter().map(Vec::as_slice).chain([&[][..]]) {
        out.extend_from_slice(format!("{:x}", chunk.len()).as_bytes());
        if mode.signed {
            previous = signer.chunk_signature(&previous, chunk);
            out.extend_from_slice(format!(";chunk-signature={previous}").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(chunk);
        if !chunk.is_empty() {
            out.extend_from_slice(b"\r\n");
        }
    }
    let lines: String = mode
        .declared
        .iter()
        .map(|c| format!("{}:{}\n", c.header_name(), c.compute(&all)))
        .collect();
    out.extend_from_slice(lines.replace('\n', "\r\n").as_bytes());
    if mode.signed && mode.trailer && !lines.is_empty() {
        let signature = signer.trailer_signature(&previous, lines.as_bytes());
        out.extend_from_slice(format!("x-amz-trailer-signature:{signature}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The reference parser: `Some(data)` exactly for valid bodies.
fn reference(body: &[u8], mode: &Mode, signer: &ChunkSigner) -> Option<Vec<u8>> {
    let line = |pos: usize| -> Option<(&[u8], usize)> {
        let nl = body.get(pos..)?.iter().position(|&b| b == b'\n')?;
        let text = body[pos..pos + nl].strip_suffix(b"\r")?;
        (text.len() <= 4096).then_some((text, pos + nl + 1))
    };
    let mut pos = 0;
    let mut data = Vec::new();
    let mut previous = signer.seed_signature().to_owned();
    loop {
        let (text, next) = line(pos)?;
        pos = next;
        let text = std::str::from_utf8(text).ok()?;
        let (size, ext) = match text.split_once(';') {
            Some((s, e)) => (s, Some(e)),
            None => (text, None),
        };
        if size.is_empty() || size.len() > 16 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let size = usize::from_str_radix(size, 16).ok()?;
        let claimed = match (mode.signed, ext) {
            (true, Some(ext)) => {
                let sig = ext.strip_prefix("chunk-signature=")?;
                (sig.len() == 64 && hex::decode(sig).is_ok()).then(|| sig.to_ascii_lowercase())?
            }
            (false, None) => String::new(),
            _ => return None,
        };
        if mode
            .decoded_len
            .is_some_and(|limit| (data.len() + size) as u64 > limit)
        {
            return None;
        }
        let chunk = body.get(pos..pos.checked_add(size)?)?;
        if mode.signed {
            let expected = signer.chunk_signature(&previous, chunk);
            if expected != claimed {
                return None;
            }
            previous = expected;
        }
        if size == 0 {
            break;
        }
        data.extend_from_slice(chunk);
        pos += size;
        if body.get(pos..pos + 2)? != b"\r\n" {
            return None;
        }
        pos += 2;
    }
    let mut trailers: Vec<(String, String)> = Vec::new();
    let mut trailer_signature = None;
    loop {
        let (text, next) = line(pos)?;
        pos = next;
        if text.is_empty() {
            break;
        }
        if !mode.trailer || trailer_signature.is_some() {
            return None;
        }
        let (name, value) = std::str::from_utf8(text).ok()?.split_once(':')?;
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
        if name == "x-amz-trailer-signature" {
            if !mode.signed || value.len() != 64 || hex::decode(&value).is_err() {
                return None;
            }
            trailer_signature = Some(value.to_ascii_lowercase());
            continue;
        }
        if !mode.declared.iter().any(|c| c.header_name() == name)
            || trailers.iter().any(|(n, _)| *n == name)
        {
            return None;
        }
        trailers.push((name, value));
    }
    if pos != body.len() {
        return None;
    }
    if mode.signed && mode.trailer {
        let lines: String = trailers.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
        let valid = match &trailer_signature {
            None => trailers.is_empty(),
            Some(claimed) => signer.trailer_signature(&previous, lines.as_bytes()) == *claimed,
        };
        if !valid {
            return None;
        }
    }
    for checksum in &mode.declared {
        let (_, value) = trailers.iter().find(|(n, _)| n == checksum.header_name())?;
        if checksum.compute(&data) != *value {
            return None;
        }
    }
    if mode
        .decoded_len
        .is_some_and(|limit| data.len() as u64 != limit)
    {
        return None;
    }
    Some(data)
}

/// Runs the decoder and the reference on `body` and checks they agree.
fn check_agreement(body: &[u8], mode: &Mode, sizes: &[usize]) -> Option<Vec<u8>> {
    let signer = example_chunk_signer();
    let out = drain(decode_aws_chunked(
        pieces(body, sizes),
        &verified(mode.payload()),
        mode.decoded_len,
        &mode.declared_names(),
    ));
    let expected = reference(body, mode, &signer);
    match (&out.error, &expected) {
        (None, Some(data)) => assert_eq!(&out.data, data, "decoded data differs"),
        (None, None) => panic!(
            "clean end for an invalid body {:?}",
            String::from_utf8_lossy(body)
        ),
        (Some(err), Some(_)) => panic!(
            "valid body {:?} refused: {err}",
            String::from_utf8_lossy(body)
        ),
        (Some(_), None) => {}
    }
    expected
}

/// Token soup: fragments of the grammar and random bytes.
fn token() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"\r\n".to_vec()),
        Just(b"0".to_vec()),
        Just(b"b".to_vec()),
        Just(b"3".to_vec()),
        Just(b";chunk-signature=".to_vec()),
        Just(b"hello world".to_vec()),
        Just(b"x-amz-checksum-crc32:".to_vec()),
        Just(b"DUoRhQ==".to_vec()),
        Just(b"x-amz-trailer-signature:".to_vec()),
        prop::collection::vec(any::<u8>(), 0..6),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(body: &mut Vec<u8>, mutation: &Mutation) {
    if body.is_empty() {
        return;
    }
    let len = body.len();
    match *mutation {
        Mutation::Replace(i, b) => body[i % len] = b,
        Mutation::Insert(i, b) => body.insert(i % (len + 1), b),
        Mutation::Delete(i) => {
            body.remove(i % len);
        }
        Mutation::Truncate(i) => body.truncate(i % len),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_end_cleanly_unless_valid(
        body in prop::collection::vec(any::<u8>(), 0..200),
        mode in mode(),
        sizes in prop::collection::vec(1usize..40, 1..6),
    ) {
        check_agreement(&body, &mode, &sizes);
    }

    #[test]
    fn token_soup_never_ends_cleanly_unless_valid(
        tokens in prop::collection::vec(token(), 0..16),
        mode in mode(),
        sizes in prop::collection::vec(1usize..16, 1..6),
    ) {
        check_agreement(&tokens.concat(), &mode, &sizes);
    }

    #[test]
    fn valid_framings_decode_and_garbled_ones_only_if_still_valid(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..40), 0..4),
        mode in mode(),
        mutations in prop::collection::vec(mutation(), 0..3),
        sizes in prop::collection::vec(1usize..50, 1..6),
    ) {
        let mut mode = mode;
        let data: Vec<u8> = chunks.concat();
        mode.decoded_len = mode.decoded_len.map(|_| data.len() as u64);
        let mut body = frame(&chunks, &mode);
        let valid = check_agreement(&body, &mode, &sizes);
        prop_assert_eq!(valid.as_ref(), Some(&data), "the reference accepts a valid framing");
        for m in &mutations {
            apply(&mut body, m);
        }
        check_agreement(&body, &mode, &sizes);
    }
}

/// q-sign `Authorization` values: the scheme's fields mixed with arbitrary text.
fn q_sign_component() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("q-sign-algorithm=sha1".to_owned()),
        "q-ak=[A-Za-z0-9]{0,12}",
        "q-sign-time=[0-9;]{0,24}",
        "q-key-time=[0-9;]{0,24}",
        "q-header-list=[a-z;-]{0,30}",
        "q-url-param-list=[a-z;-]{0,30}",
        "q-signature=[0-9a-f]{0,40}",
        ".{0,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn q_sign_parser_never_panics(raw in ".{0,200}", parts in prop::collection::vec(q_sign_component(), 0..8)) {
        for authorization in [raw, parts.join("&")] {
            let headers = vec![
                ("host".to_owned(), "b-1.cos.ap-guangzhou.myqcloud.com".to_owned()),
                ("authorization".to_owned(), authorization.clone()),
            ];
            let query: Vec<(String, String)> = Vec::new();
            let req = reelflow_signature::SignedRequest {
                method: "GET",
                decoded_path: "/k",
                query: &query,
                headers: &headers,
            };
            let verdict = reelflow_signature::verify(&req, |_| Some("secret".to_owned()), S3_NOW);
            prop_assert!(verdict.is_err(), "random text never verifies: {authorization}");
            // The same text as a presigned query.
            let query: Vec<(String, String)> = authorization
                .split('&')
                .map(|p| p.split_once('=').map_or((p.to_owned(), String::new()), |(k, v)| (k.to_owned(), v.to_owned())))
                .collect();
            let headers = vec![("host".to_owned(), "b-1.cos.ap-guangzhou.myqcloud.com".to_owned())];
            let req = reelflow_signature::SignedRequest {
                method: "GET",
                decoded_path: "/k",
                query: &query,
                headers: &headers,
            };
            prop_assert!(reelflow_signature::verify(&req, |_| Some("secret".to_owned()), S3_NOW).is_err());
        }
    }
}
