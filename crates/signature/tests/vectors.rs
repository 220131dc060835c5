//! The two test vectors from the COS "Request Signature" page (reference 2.4),
//! checked step by step and end to end.

use reelflow_signature::{
    Credentials, SignedRequest, canonical_list, canonical_name, http_string, sha1_hex, sign,
    sign_key, signature_hex, verify,
};

const SECRET_ID: &str = "AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q";
const SECRET_KEY: &str = "BQYIM75p8x0iWVFSIgqEKwFprpRSVHlz";
const HOST: &str = "examplebucket-1250000000.cos.ap-beijing.myqcloud.com";

fn creds() -> Credentials {
    Credentials {
        secret_id: SECRET_ID.to_owned(),
        secret_key: SECRET_KEY.to_owned(),
    }
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

fn lookup(id: &str) -> Option<String> {
    (id == SECRET_ID).then(|| SECRET_KEY.to_owned())
}

fn signature_of(authorization: &str) -> &str {
    authorization.rsplit_once("q-signature=").unwrap().1
}

mod put_object {
    use super::*;

    const KEY_TIME: &str = "1557989151;1557996351";
    const SIGNED_HEADERS: [&str; 7] = [
        "Content-Length",
        "Content-MD5",
        "Content-Type",
        "Date",
        "Host",
        "x-cos-acl",
        "x-cos-grant-read",
    ];

    fn headers() -> Vec<(String, String)> {
        pairs(&[
            ("Date", "Thu, 16 May 2019 06:45:51 GMT"),
            ("Host", HOST),
            ("Content-Type", "text/plain"),
            ("Content-Length", "13"),
            ("Content-MD5", "mQ/fVh815F3k6TAUm8m0eg=="),
            ("x-cos-acl", "private"),
            ("x-cos-grant-read", "uin=\"100000000011\""),
        ])
    }

    fn http() -> String {
        let headers = headers();
        let list = canonical_list(headers.iter().map(|(n, v)| (canonical_name(n), v.as_str())));
        assert_eq!(
            list.names,
            "content-length;content-md5;content-type;date;host;x-cos-acl;x-cos-grant-read"
        );
        http_string("PUT", "/exampleobject(腾讯云)", "", &list.pairs)
    }

    #[test]
    fn intermediate_values_match_the_documentation() {
        assert_eq!(
            sign_key(SECRET_KEY, KEY_TIME),
            "eb2519b498b02ac213cb1f3d1a3d27a3b3c9bc5f"
        );
        assert_eq!(
            sha1_hex(&http()),
            "8b2751e77f43a0995d6e9eb9477f4b685cca4172"
        );
        assert_eq!(
            signature_hex(SECRET_KEY, KEY_TIME, &http()),
            "3b8851a11a569213c17ba8fa7dcf2abec6935172"
        );
    }

    #[test]
    fn sign_and_verify_reproduce_the_documented_signature() {
        let headers = headers();
        let mut req = SignedRequest {
            method: "PUT",
            decoded_path: "/exampleobject(腾讯云)",
            query: &[],
            headers: &headers,
        };
        let authorization = sign(&req, &creds(), 1557989151, 1557996351, &SIGNED_HEADERS, &[]);
        assert_eq!(
            signature_of(&authorization),
            "3b8851a11a569213c17ba8fa7dcf2abec6935172"
        );

        let mut with_auth = headers.clone();
        with_auth.push(("Authorization".to_owned(), authorization));
        req.headers = &with_auth;
        let key = verify(&req, lookup, 1557989151 + 60).unwrap();
        assert_eq!(key.secret_id, SECRET_ID);
    }
}

mod get_object_with_params {
    use super::*;

    const KEY_TIME: &str = "1557989753;1557996953";

    fn query() -> Vec<(String, String)> {
        pairs(&[
            ("response-content-type", "application/octet-stream"),
            ("response-cache-control", "max-age=600"),
        ])
    }

    fn headers() -> Vec<(String, String)> {
        pairs(&[("Date", "Thu, 16 May 2019 06:55:53 GMT"), ("Host", HOST)])
    }

    #[test]
    fn intermediate_values_match_the_documentation() {
        let query = query();
        let params = canonical_list(query.iter().map(|(n, v)| (canonical_name(n), v.as_str())));
        assert_eq!(
            params.pairs,
            "response-cache-control=max-age%3D600&response-content-type=application%2Foctet-stream"
        );
        let headers = headers();
        let list = canonical_list(headers.iter().map(|(n, v)| (canonical_name(n), v.as_str())));
        let http = http_string("GET", "/exampleobject(腾讯云)", &params.pairs, &list.pairs);

        assert_eq!(
            sign_key(SECRET_KEY, KEY_TIME),
            "937914bf490e9e8c189836aad2052e4feeb35eaf"
        );
        assert_eq!(sha1_hex(&http), "54ecfe22f59d3514fdc764b87a32d8133ea611e6");
        assert_eq!(
            signature_hex(SECRET_KEY, KEY_TIME, &http),
            "01681b8c9d798a678e43b685a9f1bba0f6c0e012"
        );
    }

    #[test]
    fn sign_and_verify_reproduce_the_documented_signature() {
        let (query, headers) = (query(), headers());
        let mut req = SignedRequest {
            method: "get",
            decoded_path: "/exampleobject(腾讯云)",
            query: &query,
            headers: &headers,
        };
        let authorization = sign(
            &req,
            &creds(),
            1557989753,
            1557996953,
            &["date", "host"],
            &["response-content-type", "response-cache-control"],
        );
        assert_eq!(
            signature_of(&authorization),
            "01681b8c9d798a678e43b685a9f1bba0f6c0e012"
        );

        let mut with_auth = headers.clone();
        with_auth.push(("authorization".to_owned(), authorization));
        req.headers = &with_auth;
        assert!(verify(&req, lookup, 1557996953).is_ok());
    }
}
