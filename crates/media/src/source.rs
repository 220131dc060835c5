//! Where a synchronous media call reads its input: a local file read in place, or an
//! `http://` URL the caller serves itself on the loopback interface (for objects with no
//! local file, such as multipart uploads stored as a list of parts).
//!
//! User media can be a playlist or a script naming other inputs (an HLS `.m3u8` listing
//! `http://` segments, an ffconcat file). Every run over a [`MediaSource`] therefore gets
//! `-protocol_whitelist` with exactly the protocols its input needs, so a hostile file
//! cannot make ffmpeg or ffprobe fetch other URLs: `file` for a local file, `http,tcp` for
//! the loopback URL.

use std::path::PathBuf;

use crate::error::MediaError;
use crate::paths;

/// The input of a probe or a still extraction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaSource {
    /// A local file, read in place.
    File(PathBuf),
    /// An `http://` URL served by the caller (seekable: it must honour `Range`).
    Http(String),
}

impl MediaSource {
    /// `-protocol_whitelist <protocols>`: an input option, placed before the input.
    fn whitelist_args(&self) -> [&'static str; 2] {
        match self {
            Self::File(_) => ["-protocol_whitelist", "file"],
            Self::Http(_) => ["-protocol_whitelist", "http,tcp"],
        }
    }

    /// The input argument: an absolute path (never mistaken for a protocol or an option),
    /// or the URL.
    pub(crate) fn input_arg(&self) -> Result<String, MediaError> {
        match self {
            Self::File(path) => paths::arg(path),
            Self::Http(url) if url.starts_with("http://") => Ok(url.clone()),
            Self::Http(url) => Err(MediaError::invalid_spec(format!(
                "input URL {url:?} is not an http:// URL"
            ))),
        }
    }

    /// `-protocol_whitelist … -i <input>`. A loopback URL also gets `-http_proxy ""`:
    /// ffmpeg otherwise sends even 127.0.0.1 through an `http_proxy` from the environment.
    pub(crate) fn input_args(&self) -> Result<Vec<String>, MediaError> {
        let mut args: Vec<String> = self.whitelist_args().map(String::from).to_vec();
        if let Self::Http(_) = self {
            args.extend(["-http_proxy".into(), String::new()]);
        }
        args.push("-i".into());
        args.push(self.input_arg()?);
        Ok(args)
    }

    /// Removes the input's path or URL from a tool message, so errors shown to users name
    /// neither scratch paths nor blob ids.
    pub(crate) fn scrub(&self, message: &str) -> String {
        let input = match self {
            Self::File(path) => paths::arg(path).unwrap_or_default(),
            Self::Http(url) => url.clone(),
        };
        if input.is_empty() {
            message.to_owned()
        } else {
            message.replace(&input, "input")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitelists_match_the_input() {
        let file = MediaSource::File("/data/blobs/ab/cd".into());
        assert_eq!(
            file.input_args().unwrap(),
            ["-protocol_whitelist", "file", "-i", "/data/blobs/ab/cd"]
        );
        let http = MediaSource::Http("http://127.0.0.1:5/t".into());
        assert_eq!(
            http.input_args().unwrap(),
            [
                "-protocol_whitelist",
                "http,tcp",
                "-http_proxy",
                "",
                "-i",
                "http://127.0.0.1:5/t"
            ]
        );
        let bad = MediaSource::Http("file:/etc/passwd".into());
        assert_eq!(bad.input_args().unwrap_err().code(), "InvalidSpec");
    }

    #[test]
    fn scrub_hides_the_input() {
        let file = MediaSource::File("/data/blobs/ab/cd".into());
        assert_eq!(
            file.scrub("/data/blobs/ab/cd: Invalid data found"),
            "input: Invalid data found"
        );
    }
}
