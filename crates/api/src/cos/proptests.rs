//! Property tests of every parser here that reads untrusted bytes: `Range` headers, object
//! keys, copy sources, DeleteObjects and CompleteMultipartUpload bodies. Arbitrary input never
//! panics, and what is accepted obeys the documented limits.

use proptest::prelude::*;

use super::{check_key, copy, delete, multipart};
use reelflow_objects::range::{RangeAnswer, resolve};

/// XML-ish text: markup tokens of the two body grammars mixed with arbitrary text.
fn xml_soup() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("<Delete>".to_owned()),
        Just("</Delete>".to_owned()),
        Just("<Object><Key>".to_owned()),
        Just("</Key></Object>".to_owned()),
        Just("<Quiet>true</Quiet>".to_owned()),
        Just("<CompleteMultipartUpload>".to_owned()),
        Just("</CompleteMultipartUpload>".to_owned()),
        Just("<Part><PartNumber>".to_owned()),
        Just("</PartNumber><ETag>".to_owned()),
        Just("</ETag></Part>".to_owned()),
        Just("&quot;".to_owned()),
        Just("&amp;".to_owned()),
        Just("<![CDATA[".to_owned()),
        "[0-9]{1,6}",
        ".{0,12}",
    ];
    prop::collection::vec(token, 0..24).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn range_headers_resolve_inside_the_object(header in ".{0,40}", size in 0u64..1_000_000) {
        if let RangeAnswer::Partial { start, end } = resolve(Some(&header), size) {
            prop_assert!(start <= end && end < size);
        }
    }

    #[test]
    fn numeric_ranges_resolve_inside_the_object(a in 0u64..2000, b in 0u64..2000, size in 0u64..1500) {
        for header in [format!("bytes={a}-{b}"), format!("bytes={a}-"), format!("bytes=-{b}")] {
            if let RangeAnswer::Partial { start, end } = resolve(Some(&header), size) {
                prop_assert!(start <= end && end < size, "{header} on {size}");
            }
        }
    }

    #[test]
    fn keys_never_panic_and_accepted_keys_are_safe(key in "\\PC{0,60}|.{0,60}") {
        if check_key(&key).is_ok() {
            prop_assert!(!key.is_empty() && key.len() <= 850);
            prop_assert!(!key.split('/').any(|s| s == "." || s == ".."));
            prop_assert!(!key.chars().any(char::is_control));
        }
    }

    #[test]
    fn copy_sources_never_panic(source in ".{0,80}") {
        if let Ok((bucket, key)) = copy::parse_source(&source) {
            prop_assert!(!bucket.is_empty() && !key.is_empty());
        }
    }

    #[test]
    fn delete_bodies_never_panic(body in xml_soup(), raw in prop::collection::vec(any::<u8>(), 0..200)) {
        for bytes in [body.as_bytes(), raw.as_slice()] {
            if let Ok(request) = delete::parse(bytes) {
                prop_assert!(!request.keys.is_empty() && request.keys.len() <= 1000);
            }
        }
    }

    #[test]
    fn complete_bodies_never_panic(body in xml_soup(), raw in prop::collection::vec(any::<u8>(), 0..200)) {
        for bytes in [body.as_bytes(), raw.as_slice()] {
            if let Ok(parts) = multipart::parse_complete(bytes) {
                prop_assert!(!parts.is_empty());
                prop_assert!(parts.iter().all(|p| (1..=multipart::MAX_PART_NUMBER).contains(&p.number)));
            }
        }
    }
}
