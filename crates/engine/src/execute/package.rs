//! HLS and DASH inputs. A playlist (`.m3u8`) or manifest (`.mpd`) names its segments
//! relative to itself (RFC 8216 §4.1, ISO/IEC 23009-1 §5.6), so a task that reads one —
//! a Snapshot after an HLS Transcode, a StreamPack of HLS outputs — gets the playlist and
//! every object it references staged under the scratch directory at their keys' own
//! relative places: ffmpeg then resolves the references as it would on a web server.
//! On the local store the files are symbolic links to the stored blobs (nothing copied);
//! on S3 they are downloaded.
//!
//! What is staged: for HLS every URI line and every `URI="…"` attribute (`EXT-X-MAP`,
//! `EXT-X-MEDIA`, `EXT-X-KEY`, …), following variant playlists; for DASH every
//! `<BaseURL>`/`<SegmentURL media=…>` file and, for `SegmentTemplate`s, every object whose
//! name starts with the template's text before its first `$` identifier. References must
//! stay inside the bucket: absolute URLs and paths are refused, naming the playlist.

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use reelflow_media::sniff::{HEAD_LEN, InputKind, classify};
use reelflow_model::object::ObjectRecord;

use super::{Failure, ScratchDir};
use crate::Engine;

/// Objects one package may stage (a 10-hour HLS output at 2 s segments has 18,000).
const MAX_FILES: usize = 100_000;
/// Listing page size for DASH template prefixes.
const PAGE: u32 = 1000;

/// A streaming package format, known by the key's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Package {
    Hls,
    Dash,
}

impl Package {
    /// The package an input of `kind` is the playlist of, if any.
    pub(crate) fn of_kind(kind: InputKind) -> Option<Self> {
        match kind {
            InputKind::Hls => Some(Self::Hls),
            InputKind::Dash => Some(Self::Dash),
            _ => None,
        }
    }

    /// The package `key` is the playlist of, if any (`.m3u8`, `.mpd`; any case).
    pub(crate) fn of(key: &str) -> Option<Self> {
        let ext = key.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "m3u8" => Some(Self::Hls),
            "mpd" => Some(Self::Dash),
            _ => None,
        }
    }
}

/// What a playlist references, relative to its own directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reference {
    /// One file.
    File(String),
    /// Every file whose path starts with this (a DASH `SegmentTemplate`).
    Prefix(String),
}

/// The references of an HLS playlist: URI lines and `URI="…"` attributes, in order.
pub(crate) fn hls_references(text: &str) -> Vec<Reference> {
    let mut refs = Vec::new();
    let text = text.trim_start_matches('\u{feff}');
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !line.starts_with('#') {
            refs.push(Reference::File(line.to_owned()));
        } else if line.starts_with("#EXT") {
            let mut rest = line;
            while let Some(at) = rest.find("URI=\"") {
                let value = &rest[at + 5..];
                let Some(end) = value.find('"') else { break };
                refs.push(Reference::File(value[..end].to_owned()));
                rest = &value[end + 1..];
            }
        }
    }
    refs
}

/// The references of a DASH manifest: `<BaseURL>` texts, `media`/`initialization`
/// attributes (a literal file, or the prefix before the first `$` of a template) and
/// `sourceURL` attributes.
pub(crate) fn dash_references(text: &str) -> Vec<Reference> {
    let mut refs = Vec::new();
    for attr in ["media=\"", "initialization=\"", "sourceURL=\""] {
        let mut rest = text;
        while let Some(at) = rest.find(attr) {
            let value = &rest[at + attr.len()..];
            let Some(end) = value.find('"') else { break };
            refs.push(template_reference(&unescape_xml(&value[..end])));
            rest = &value[end + 1..];
        }
    }
    let mut rest = text;
    while let Some(at) = rest.find("<BaseURL>") {
        let value = &rest[at + 9..];
        let Some(end) = value.find("</BaseURL>") else {
            break;
        };
        let base = unescape_xml(value[..end].trim());
        if !base.is_empty() && !base.ends_with('/') {
            refs.push(Reference::File(base));
        }
        rest = &value[end..];
    }
    refs
}

fn template_reference(value: &str) -> Reference {
    match value.find('$') {
        Some(at) => Reference::Prefix(value[..at].to_owned()),
        None => Reference::File(value.to_owned()),
    }
}

fn unescape_xml(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The key `reference` names from a playlist at `playlist_key`, or why it cannot be read:
/// a URL with a scheme, an absolute path, or `..` above the bucket. A query or fragment is
/// dropped (a file has none).
pub(crate) fn resolve(playlist_key: &str, reference: &str) -> Result<String, String> {
    let path = reference.split(['?', '#']).next().unwrap_or_default();
    let scheme = path
        .split_once(':')
        .is_some_and(|(s, _)| !s.is_empty() && !s.contains('/'));
    if scheme || path.starts_with('/') {
        return Err(format!(
            "references {reference:?}, which is not relative to it (only objects of the same bucket are read)"
        ));
    }
    let mut parts: Vec<&str> = playlist_key.split('/').collect();
    parts.pop();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(format!(
                        "references {reference:?}, which is above the bucket"
                    ));
                }
            }
            other => parts.push(other),
        }
    }
    Ok(parts.join("/"))
}

impl Engine {
    /// Stages the package of `kind` whose playlist is `bucket/key` under `scratch` (see the
    /// module documentation) and returns the staged playlist's path.
    pub(crate) async fn stage_package(
        &self,
        bucket: &str,
        key: &str,
        kind: Package,
        scratch: &ScratchDir,
    ) -> Result<PathBuf, Failure> {
        let root = scratch.root.join("package");
        let mut staged = BTreeSet::new();
        let mut playlists = VecDeque::from([(key.to_owned(), kind)]);
        while let Some((playlist, kind)) = playlists.pop_front() {
            let path = self
                .stage_file(bucket, &playlist, &root, scratch, None)
                .await?;
            staged.insert(playlist.clone());
            let text = tokio::fs::read(&path).await.map_err(|e| {
                Failure::new("InternalError", format!("cannot read {playlist}: {e}"))
            })?;
            let text = String::from_utf8_lossy(&text);
            let refs = match kind {
                Package::Dash => dash_references(&text),
                Package::Hls => hls_references(&text),
            };
            for reference in refs {
                let keys = self.referenced_keys(bucket, &playlist, &reference).await?;
                for referenced in keys {
                    if !staged.insert(referenced.clone()) {
                        continue;
                    }
                    if staged.len() > MAX_FILES {
                        return Err(Failure::new(
                            "InvalidInput",
                            format!("{key} references more than {MAX_FILES} objects"),
                        ));
                    }
                    if Package::of(&referenced) == Some(Package::Hls) {
                        playlists.push_back((referenced, Package::Hls));
                    } else {
                        self.stage_file(bucket, &referenced, &root, scratch, Some(&playlist))
                            .await?;
                    }
                }
            }
        }
        Ok(root.join(key))
    }

    /// What the first bytes of the stored `object` are ([`classify`]).
    pub(crate) async fn input_kind(&self, object: &ObjectRecord) -> Result<InputKind, Failure> {
        let head = reelflow_objects::read_prefix(
            self.blobs().as_ref(),
            &object.blob_id,
            object.size,
            HEAD_LEN,
        )
        .await?;
        Ok(classify(&head))
    }

    /// The keys one reference of `playlist` names (one, or a template's matches).
    async fn referenced_keys(
        &self,
        bucket: &str,
        playlist: &str,
        reference: &Reference,
    ) -> Result<Vec<String>, Failure> {
        let invalid = |why: String| Failure::new("InvalidInput", format!("{playlist} {why}"));
        match reference {
            Reference::File(name) => Ok(vec![resolve(playlist, name).map_err(invalid)?]),
            Reference::Prefix(prefix) => {
                let prefix = resolve(playlist, &format!("{prefix}x")).map_err(invalid)?;
                let prefix = &prefix[..prefix.len() - 1];
                let mut keys = Vec::new();
                let mut after = String::new();
                loop {
                    let page = self
                        .store()
                        .list_objects(bucket, prefix, &after, PAGE)
                        .await?;
                    let Some(last) = page.last() else { break };
                    after = last.key.clone();
                    keys.extend(page.into_iter().map(|o| o.key));
                    if keys.len() > MAX_FILES {
                        break;
                    }
                }
                Ok(keys)
            }
        }
    }

    /// Places the object `bucket/key` at `root/key`: a link to its blob on the local
    /// store, a download otherwise. Missing objects are refused by their key. A key staged
    /// before in this scratch directory (packages sharing files, a StreamPack reading
    /// several renditions) is the same object: it stays.
    /// A file referenced by `playlist` must be media: a playlist under another name, or a
    /// file naming other resources, is refused.
    async fn stage_file(
        &self,
        bucket: &str,
        key: &str,
        root: &Path,
        scratch: &ScratchDir,
        playlist: Option<&str>,
    ) -> Result<PathBuf, Failure> {
        let dest = root.join(key);
        if tokio::fs::symlink_metadata(&dest).await.is_ok() {
            return Ok(dest);
        }
        let object = self.input_object(bucket, key, scratch).await?;
        let io = |e: std::io::Error| Failure {
            transient: true,
            ..Failure::new("InternalError", format!("cannot stage {key}: {e}"))
        };
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io)?;
        }
        match self.blobs().local_path(&object.blob_id) {
            Some(blob) => tokio::fs::symlink(&blob, &dest).await.map_err(io)?,
            None => self.blobs().download_to(&object.blob_id, &dest).await?,
        }
        scratch.names.add(&dest, key);
        // Checked where it now lies (no second read of the store per file).
        if let Some(playlist) = playlist
            && classify(&file_head(&dest).await.map_err(io)?) != InputKind::Media
        {
            return Err(Failure::new(
                "InvalidInput",
                format!("{playlist} references {key}, which is not a media file"),
            ));
        }
        Ok(dest)
    }
}

/// The first [`HEAD_LEN`] bytes of the file at `path` (all of it when shorter).
async fn file_head(path: &Path) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let file = tokio::fs::File::open(path).await?;
    let mut head = Vec::new();
    file.take(HEAD_LEN).read_to_end(&mut head).await?;
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_by_extension() {
        assert_eq!(Package::of("out/a.m3u8"), Some(Package::Hls));
        assert_eq!(Package::of("out/A.M3U8"), Some(Package::Hls));
        assert_eq!(Package::of("out/a.mpd"), Some(Package::Dash));
        assert_eq!(Package::of("out/a.mp4"), None);
        assert_eq!(Package::of("m3u8"), None);
    }

    #[test]
    fn hls_lines_and_uri_attributes() {
        // As ffmpeg's hls muxer writes a fMP4 (HEVC) playlist, plus a master's tags.
        let text = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-MAP:URI=\"clip-init.mp4\"\n\
            #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",URI=\"audio/a.m3u8\"\n\
            #EXTINF:5.000000,\nclip-00000.m4s\n#EXTINF:1.5,\n clip-00001.m4s \n#EXT-X-ENDLIST\n";
        assert_eq!(
            hls_references(text),
            [
                "clip-init.mp4",
                "audio/a.m3u8",
                "clip-00000.m4s",
                "clip-00001.m4s"
            ]
            .map(|s| Reference::File(s.into()))
        );
    }

    #[test]
    fn dash_templates_become_prefixes() {
        // The shape ffmpeg's dash muxer writes with -use_template 1 (issue: names from args.rs).
        let text = r#"<MPD><Period><AdaptationSet><Representation id="0">
            <SegmentTemplate timescale="1000" initialization="clip-init-$RepresentationID$.m4s"
             media="clip-chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1"/>
            </Representation><Representation id="1"><BaseURL>audio.mp4</BaseURL>
            <SegmentList><SegmentURL media="seg&amp;1.m4s"/></SegmentList>
            </Representation></AdaptationSet></Period></MPD>"#;
        assert_eq!(
            dash_references(text),
            vec![
                Reference::Prefix("clip-chunk-".into()),
                Reference::File("seg&1.m4s".into()),
                Reference::Prefix("clip-init-".into()),
                Reference::File("audio.mp4".into()),
            ]
        );
    }

    #[test]
    fn references_resolve_inside_the_bucket() {
        assert_eq!(
            resolve("out/r1/a.m3u8", "a-00000.ts").unwrap(),
            "out/r1/a-00000.ts"
        );
        assert_eq!(resolve("a.m3u8", "./x/b.ts?v=1#t").unwrap(), "x/b.ts");
        assert_eq!(resolve("out/r1/a.m3u8", "../k/b.ts").unwrap(), "out/k/b.ts");
        assert!(
            resolve("a.m3u8", "../b.ts")
                .unwrap_err()
                .contains("above the bucket")
        );
        for absolute in [
            "http://evil/x.ts",
            "/etc/passwd",
            "file:/etc/passwd",
            "data:,x",
        ] {
            let err = resolve("out/a.m3u8", absolute).unwrap_err();
            assert!(err.contains("not relative"), "{absolute}: {err}");
        }
    }
}
