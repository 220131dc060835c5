//! Turning caller paths into ffmpeg arguments safely.
//!
//! ffmpeg treats `name:rest` as a protocol URL and a leading `-` as an option, so every
//! path is made absolute first (it then starts with `/`, which is always a plain file).
//! Arguments are `String`s so the builders stay easy to test; non-UTF-8 paths are
//! rejected rather than mangled. Output patterns (`%05d`) need literal `%` escaped.

use std::path::{Path, PathBuf};

use crate::error::MediaError;

/// The absolute form of `path` (not resolving symlinks; the file need not exist).
pub(crate) fn absolute(path: &Path) -> Result<PathBuf, MediaError> {
    std::path::absolute(path).map_err(MediaError::io("could not resolve path", path))
}

/// The absolute path as a UTF-8 argument.
pub(crate) fn arg(path: &Path) -> Result<String, MediaError> {
    let abs = absolute(path)?;
    abs.to_str().map(str::to_owned).ok_or_else(|| {
        MediaError::invalid_spec(format!("path is not valid UTF-8: {}", path.display()))
    })
}

/// An input argument: a loopback URL (`http://127.0.0.1:<port>/…`, the engine's ranged-read
/// blob server, through which ffmpeg reads only the bytes it needs) as it is, anything else
/// as an absolute path ([`arg`]). Only the loopback address is let through, so no input can
/// name another protocol or host.
pub(crate) fn input_arg(path: &Path) -> Result<String, MediaError> {
    match path.to_str() {
        Some(url) if is_loopback_url(url) => Ok(url.to_owned()),
        _ => arg(path),
    }
}

fn is_loopback_url(text: &str) -> bool {
    text.strip_prefix("http://127.0.0.1:")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(port, _)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
}

/// Escapes `%` for use in an ffmpeg output pattern (image2, hls segment names).
pub(crate) fn escape_pattern(text: &str) -> String {
    text.replace('%', "%%")
}

/// The file name of `path` without its extension, as UTF-8.
pub(crate) fn stem(path: &Path) -> Result<String, MediaError> {
    path.file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            MediaError::invalid_spec(format!("output has no file name: {}", path.display()))
        })
}

/// The directory holding `path` (absolute).
pub(crate) fn parent(path: &Path) -> Result<PathBuf, MediaError> {
    let abs = absolute(path)?;
    Ok(abs
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/")))
}

/// Files directly in `dir` whose name satisfies `wanted`, sorted by name. A missing
/// directory holds no files.
pub(crate) async fn list_matching(
    dir: &Path,
    wanted: impl Fn(&str) -> bool,
) -> Result<Vec<PathBuf>, MediaError> {
    let listing_failed = || MediaError::io("could not list directory", dir);
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(listing_failed()(err)),
    };
    let mut found = Vec::new();
    while let Some(entry) = entries.next_entry().await.map_err(listing_failed())? {
        if entry.file_name().to_str().is_some_and(&wanted) {
            found.push(entry.path());
        }
    }
    found.sort();
    Ok(found)
}

/// Deletes the files [`list_matching`] finds: leftovers of an earlier attempt must not
/// be mistaken for this run's output.
pub(crate) async fn remove_matching(
    dir: &Path,
    wanted: impl Fn(&str) -> bool,
) -> Result<(), MediaError> {
    for path in list_matching(dir, wanted).await? {
        tokio::fs::remove_file(&path)
            .await
            .map_err(MediaError::io("could not remove stale output", &path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_urls_pass_as_inputs() {
        let url = "http://127.0.0.1:4321/b/abc/in.mp4";
        assert_eq!(input_arg(Path::new(url)).unwrap(), url);
        for other in [
            "http://10.0.0.1:80/x",
            "https://127.0.0.1:1/x",
            "http://127.0.0.1:/x",
            "file:/etc/passwd",
        ] {
            assert!(
                input_arg(Path::new(other)).unwrap().starts_with('/'),
                "{other}"
            );
        }
    }

    #[test]
    fn relative_paths_become_absolute() {
        let a = arg(Path::new("a:b.mp4")).unwrap();
        assert!(a.starts_with('/'), "{a}");
        assert!(a.ends_with("/a:b.mp4"));
    }

    #[test]
    fn percent_is_escaped() {
        assert_eq!(escape_pattern("50%off"), "50%%off");
    }
}
