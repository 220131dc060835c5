//! Verification behaviour, driven by requests captured from the real
//! cos-python-sdk-v5 1.9.44 (clock fixed at unix 1700000000, SecretId
//! `AKIDtest`, SecretKey `secretkey`; regenerate with
//! `tests/fixtures/capture_python_sdk.py`) and by requests signed with [`sign`].

use percent_encoding::percent_decode_str;
use reelflow_signature::{Credentials, SignatureError, SignedRequest, presign, sign, verify};

const SDK_ID: &str = "AKIDtest";
const SDK_KEY: &str = "secretkey";
const SDK_NOW: i64 = 1_700_000_000;
const COS_HOST: &str = "test-1250000000.cos.ap-guangzhou.myqcloud.com";

/// A request as it arrives on the wire, decoded the way the HTTP layer must.
struct Wire {
    method: &'static str,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
}

impl Wire {
    /// `target` is the raw request target; `headers` are as received.
    fn new(method: &'static str, target: &str, headers: &[(&str, &str)]) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Self {
            method,
            path: percent_decode_str(path).decode_utf8().unwrap().into_owned(),
            query: url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    fn sdk(
        method: &'static str,
        target: &str,
        host: &str,
        content_length: bool,
        auth: &str,
    ) -> Self {
        let mut headers = vec![("User-Agent", "cos-python-sdk-v5.1.9.44"), ("Host", host)];
        if content_length {
            headers.push(("Content-Length", "0"));
        }
        headers.push(("Authorization", auth));
        Self::new(method, target, &headers)
    }

    fn req(&self) -> SignedRequest<'_> {
        SignedRequest {
            method: self.method,
            decoded_path: &self.path,
            query: &self.query,
            headers: &self.headers,
        }
    }

    fn verify_sdk(&self) -> Result<String, SignatureError> {
        verify(&self.req(), sdk_lookup, SDK_NOW).map(|k| k.secret_id)
    }
}

fn sdk_lookup(id: &str) -> Option<String> {
    (id == SDK_ID).then(|| SDK_KEY.to_owned())
}

fn sdk_auth(header_list: &str, param_list: &str, signature: &str) -> String {
    format!(
        "q-sign-algorithm=sha1&q-ak=AKIDtest&q-sign-time=1699999940;1700010000\
         &q-key-time=1699999940;1700010000&q-header-list={header_list}\
         &q-url-param-list={param_list}&q-signature={signature}"
    )
}

mod python_sdk {
    use super::*;

    fn trigger(host: &str, signature: &str) -> Wire {
        let auth = sdk_auth("content-length;host", "object;workflowid", signature);
        Wire::sdk(
            "POST",
            "/triggerworkflow?workflowId=w0123&object=dir%2Fa+b%2Bc.mp4",
            host,
            true,
            &auth,
        )
    }

    #[test]
    fn trigger_with_camel_case_name_and_plus_in_value() {
        let wire = trigger(COS_HOST, "6b25baf1185e6e52f0e9b70d0db200c48e1f26b0");
        assert_eq!(
            wire.query[1],
            ("object".to_owned(), "dir/a b+c.mp4".to_owned())
        );
        assert_eq!(wire.verify_sdk().unwrap(), SDK_ID);
    }

    #[test]
    fn plus_decoded_literally_breaks_the_signature() {
        let mut wire = trigger(COS_HOST, "6b25baf1185e6e52f0e9b70d0db200c48e1f26b0");
        wire.query[1].1 = "dir/a+b+c.mp4".to_owned();
        assert!(matches!(
            wire.verify_sdk(),
            Err(SignatureError::SignatureDoesNotMatch { .. })
        ));
    }

    #[test]
    fn domain_mode_signs_host_without_port() {
        let wire = trigger(
            "127.0.0.1:33043",
            "ddddf6ff2a15188b95c9464b6f071436c38e139b",
        );
        assert_eq!(wire.verify_sdk().unwrap(), SDK_ID);
    }

    #[test]
    fn host_retry_still_requires_the_right_host() {
        let wire = trigger(
            "127.0.0.2:33043",
            "ddddf6ff2a15188b95c9464b6f071436c38e139b",
        );
        assert!(matches!(
            wire.verify_sdk(),
            Err(SignatureError::SignatureDoesNotMatch { .. })
        ));
    }

    #[test]
    fn unsigned_cancel_parameter_is_ignored() {
        let auth = sdk_auth(
            "content-length;host",
            "",
            "8cd0c2b405912376dd73bee987bb3f07926c100d",
        );
        let wire = Wire::sdk("PUT", "/jobs/j1?cancel", COS_HOST, true, &auth);
        assert_eq!(wire.query, [("cancel".to_owned(), String::new())]);
        assert_eq!(wire.verify_sdk().unwrap(), SDK_ID);
    }

    #[test]
    fn bare_signed_parameter_counts_as_empty_value() {
        let auth = sdk_auth(
            "content-length;host",
            "active",
            "3d997ea8f516521783ab40566affdb4b3a5ef5b3",
        );
        let wire = Wire::sdk("PUT", "/workflow/w0123?active=", COS_HOST, true, &auth);
        assert_eq!(wire.verify_sdk().unwrap(), SDK_ID);
        let bare = Wire::sdk("PUT", "/workflow/w0123?active", COS_HOST, true, &auth);
        assert_eq!(bare.verify_sdk().unwrap(), SDK_ID);
    }

    #[test]
    fn decoded_path_with_encoded_comma() {
        let auth = sdk_auth("host", "", "8523397a7d5356d02cd57c810faaee4d9f0f0165");
        let wire = Wire::sdk("GET", "/jobs/j1%2Cj2", COS_HOST, false, &auth);
        assert_eq!(wire.path, "/jobs/j1,j2");
        assert_eq!(wire.verify_sdk().unwrap(), SDK_ID);
    }

    const PRESIGNED: &str = "/in/a%20b%281%29.mp4?q-sign-algorithm=sha1&q-ak=AKIDtest\
        &q-sign-time=1699999940%3B1700000600&q-key-time=1699999940%3B1700000600\
        &q-header-list=host&q-url-param-list=response-content-type\
        &q-signature=5779bba044336ae9a8652e0ee16b6d797f208a66&response-content-type=video%2Fmp4";

    #[test]
    fn presigned_url_verifies_from_query_fields() {
        let wire = Wire::new("GET", PRESIGNED, &[("Host", COS_HOST)]);
        assert_eq!(wire.verify_sdk().unwrap(), SDK_ID);
    }

    #[test]
    fn presigned_url_tampered_parameter_fails() {
        let target = PRESIGNED.replace("video%2Fmp4", "text%2Fhtml");
        let wire = Wire::new("GET", &target, &[("Host", COS_HOST)]);
        assert!(matches!(
            wire.verify_sdk(),
            Err(SignatureError::SignatureDoesNotMatch { .. })
        ));
    }

    #[test]
    fn presigned_url_expires() {
        let wire = Wire::new("GET", PRESIGNED, &[("Host", COS_HOST)]);
        let err = verify(&wire.req(), sdk_lookup, 1_700_000_601).unwrap_err();
        assert_eq!(err.code(), "SignatureExpired");
    }
}

mod signed_here {
    use super::*;

    const START: i64 = 1_800_000_000;
    const END: i64 = START + 3600;
    const HEADERS: [&str; 2] = ["host", "content-type"];
    const PARAMS: [&str; 2] = ["workflowId", "object"];

    fn creds() -> Credentials {
        Credentials {
            secret_id: "AKIDmine".to_owned(),
            secret_key: "mine-secret".to_owned(),
        }
    }

    fn lookup(id: &str) -> Option<String> {
        (id == "AKIDmine").then(|| "mine-secret".to_owned())
    }

    /// A trigger request with an unsigned extra parameter and header.
    fn wire() -> Wire {
        Wire::new(
            "POST",
            "/triggerworkflow?workflowId=w1&object=in%2Fclip+1.mp4&extra=1",
            &[
                ("Host", "bucket-1250000000.cos.local"),
                ("Content-Type", "application/xml"),
                ("User-Agent", "test"),
            ],
        )
    }

    fn signed(wire: &mut Wire) {
        let auth = sign(&wire.req(), &creds(), START, END, &HEADERS, &PARAMS);
        wire.headers.push(("Authorization".to_owned(), auth));
    }

    fn check(wire: &Wire, now: i64) -> Result<String, SignatureError> {
        verify(&wire.req(), lookup, now).map(|k| k.secret_id)
    }

    fn assert_code(result: Result<String, SignatureError>, code: &str) {
        let err = result.unwrap_err();
        assert_eq!(err.code(), code, "{err}");
        assert_eq!(err.http_status(), 403);
        assert!(!err.to_string().is_empty());
    }

    #[test]
    fn signed_request_verifies_and_lists_are_lowercased() {
        let mut wire = wire();
        signed(&mut wire);
        let auth = &wire.headers.last().unwrap().1;
        assert!(auth.contains("&q-header-list=content-type;host&"), "{auth}");
        assert!(
            auth.contains("&q-url-param-list=object;workflowid&"),
            "{auth}"
        );
        assert_eq!(check(&wire, START + 10).unwrap(), "AKIDmine");
    }

    #[test]
    fn name_lookup_ignores_case() {
        let mut wire = wire();
        signed(&mut wire);
        wire.query[0].0 = "WORKFLOWID".to_owned();
        wire.headers[0].0 = "HOST".to_owned();
        assert!(check(&wire, START).is_ok());
    }

    #[test]
    fn wrong_key_does_not_match() {
        let mut wire = wire();
        signed(&mut wire);
        let result = verify(&wire.req(), |_| Some("other".to_owned()), START);
        assert_code(result.map(|k| k.secret_id), "SignatureDoesNotMatch");
    }

    #[test]
    fn tampering_with_signed_parts_does_not_match() {
        let tamper: [fn(&mut Wire); 4] = [
            |w| w.path = "/triggerworkflow2".to_owned(),
            |w| w.query[1].1 = "in/other.mp4".to_owned(),
            |w| w.headers[1].1 = "text/plain".to_owned(),
            |w| w.method = "PUT",
        ];
        for change in tamper {
            let mut wire = wire();
            signed(&mut wire);
            change(&mut wire);
            assert_code(check(&wire, START), "SignatureDoesNotMatch");
        }
    }

    #[test]
    fn unsigned_parts_may_change() {
        let mut wire = wire();
        signed(&mut wire);
        wire.query[2].1 = "changed".to_owned();
        wire.query.push(("cancel".to_owned(), String::new()));
        wire.headers[2].1 = "changed".to_owned();
        assert!(check(&wire, START).is_ok());
    }

    #[test]
    fn time_window_is_enforced() {
        let mut wire = wire();
        signed(&mut wire);
        assert!(check(&wire, END).is_ok());
        assert!(check(&wire, START - 300).is_ok());
        assert_code(check(&wire, END + 1), "SignatureExpired");
        assert_code(check(&wire, START - 301), "RequestTimeTooSkewed");
    }

    #[test]
    fn unsigned_request_is_missing_authorization() {
        assert_code(check(&wire(), START), "MissingAuthorization");
        let mut anonymous = wire();
        anonymous
            .headers
            .push(("Authorization".to_owned(), String::new()));
        assert_code(check(&anonymous, START), "MissingAuthorization");
    }

    #[test]
    fn malformed_authorization_is_invalid() {
        let mut wire = wire();
        wire.headers
            .push(("Authorization".to_owned(), "Bearer abc".to_owned()));
        assert_code(check(&wire, START), "InvalidAuthorization");
    }

    #[test]
    fn unknown_secret_id_is_reported() {
        let mut wire = wire();
        let other = Credentials {
            secret_id: "AKIDother".to_owned(),
            ..creds()
        };
        let auth = sign(&wire.req(), &other, START, END, &HEADERS, &PARAMS);
        wire.headers.push(("Authorization".to_owned(), auth));
        let err = verify(&wire.req(), lookup, START).unwrap_err();
        assert_eq!(
            err,
            SignatureError::SecretidNotExist {
                secret_id: "AKIDother".to_owned()
            }
        );
        assert!(err.to_string().contains("AKIDother"));
    }

    #[test]
    fn presigned_query_form_roundtrips() {
        let mut wire = wire();
        let fields = presign(&wire.req(), &creds(), START, END, &HEADERS, &PARAMS);
        wire.query.extend(fields);
        assert_eq!(check(&wire, START).unwrap(), "AKIDmine");
        wire.query[0].1 = "w2".to_owned();
        assert_code(check(&wire, START), "SignatureDoesNotMatch");
    }

    #[test]
    fn signed_host_with_port_verifies_as_sent() {
        let mut wire = wire();
        wire.headers[0].1 = "127.0.0.1:9000".to_owned();
        signed(&mut wire);
        assert!(check(&wire, START).is_ok());
    }

    #[test]
    fn credentials_debug_redacts_the_secret() {
        let shown = format!("{:?}", creds());
        assert!(shown.contains("AKIDmine") && !shown.contains("mine-secret"));
    }
}
