//! What an input's first bytes make ffmpeg read it as, where that matters for safety.
//!
//! ffmpeg picks a demuxer by content, not by name, and some demuxers open other files or
//! network addresses named inside the input: HLS playlists (`#EXTM3U`, RFC 8216 §4.3.1.1),
//! DASH manifests (`<MPD`, ISO/IEC 23009-1), ffconcat scripts, IMF composition playlists and
//! SDP session descriptions. A stored object with such content, whatever its key, must not
//! reach ffmpeg as a plain input: HLS and DASH go through the engine's package staging (which
//! checks every reference stays in the bucket), the others are refused.

/// How many leading bytes [`classify`] looks at.
pub const HEAD_LEN: u64 = 4096;

/// What the head of an input is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// Anything ffmpeg reads without opening other resources.
    Media,
    /// An HLS playlist.
    Hls,
    /// A DASH manifest.
    Dash,
    /// A file that names other resources and is never read: what it is, for messages.
    Refused(&'static str),
}

/// Classifies `head` (the first [`HEAD_LEN`] bytes, or fewer for a short input).
pub fn classify(head: &[u8]) -> InputKind {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    let text = &head[start..];
    if text.starts_with(b"#EXTM3U") {
        return InputKind::Hls;
    }
    if text.starts_with(b"ffconcat version") {
        return InputKind::Refused("an ffconcat script");
    }
    if text.starts_with(b"v=0") {
        return InputKind::Refused("an SDP session description");
    }
    if text.starts_with(b"<") {
        let lower = String::from_utf8_lossy(text).to_ascii_lowercase();
        if lower.contains("<mpd") {
            return InputKind::Dash;
        }
        if lower.contains("compositionplaylist") {
            return InputKind::Refused("an IMF composition playlist");
        }
    }
    InputKind::Media
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlists_are_known_by_content() {
        assert_eq!(
            classify(b"#EXTM3U\n#EXTINF:1,\n/etc/passwd\n"),
            InputKind::Hls
        );
        assert_eq!(classify(b"\xEF\xBB\xBF \r\n#EXTM3U\n"), InputKind::Hls);
        let mpd = br#"<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011">"#;
        assert_eq!(classify(mpd), InputKind::Dash);
        assert!(matches!(
            classify(b"ffconcat version 1.0\nfile '/etc/passwd'\n"),
            InputKind::Refused(_)
        ));
        assert!(matches!(
            classify(b"v=0\r\no=- 0 0 IN IP4 10.0.0.1\r\n"),
            InputKind::Refused(_)
        ));
        let cpl = br#"<?xml version="1.0"?><CompositionPlaylist xmlns="http://www.smpte-ra.org/">"#;
        assert!(matches!(classify(cpl), InputKind::Refused(_)));
    }

    #[test]
    fn media_and_other_text_pass() {
        // An mp4's ftyp box, an MPEG-TS sync byte, a WebVTT file, empty input, an SVG.
        assert_eq!(classify(b"\0\0\0\x20ftypisom\0\0\x02\0"), InputKind::Media);
        assert_eq!(classify(b"\x47\x40\x11\x10"), InputKind::Media);
        assert_eq!(
            classify(b"WEBVTT\n\n00:00.000 --> 00:01.000\nhi\n"),
            InputKind::Media
        );
        assert_eq!(classify(b""), InputKind::Media);
        assert_eq!(
            classify(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            InputKind::Media
        );
        assert_eq!(classify(b"hello #EXTM3U"), InputKind::Media);
    }
}
