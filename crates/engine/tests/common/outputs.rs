//! Checking what nodes wrote into the bucket: generated clips of a given size, a local copy
//! of a folder (so players and ffprobe resolve playlists' relative URIs), the names each
//! playlist or manifest references, and the ownership rule — every object is referenced by
//! exactly one playlist/manifest and every reference exists.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use reelflow_model::execution::{RunState, Task};
use reelflow_objects::BlobStore;

use super::{BUCKET, Harness, ffmpeg};

impl Harness {
    /// A `secs`-second H.264/AAC clip of `size` (e.g. `640x360`) named `name`.
    pub fn clip_sized(&self, name: &str, size: &str, secs: u32) -> PathBuf {
        let path = self.dir.path().join(name);
        let source = format!("testsrc2=size={size}:rate=25");
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            &source,
            "-f",
            "lavfi",
            "-i",
            "sine",
            "-t",
            &secs.to_string(),
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-c:a",
            "aac",
            path.to_str().unwrap(),
        ]);
        path
    }

    /// The keys under `prefix`, in order.
    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        let objects = self
            .store
            .list_objects(BUCKET, prefix, "", 1000)
            .await
            .unwrap();
        objects.into_iter().map(|o| o.key).collect()
    }

    /// Copies every object under `prefix` into a fresh local directory, keys as paths;
    /// returns that directory (the bucket root).
    pub async fn materialize(&self, prefix: &str) -> PathBuf {
        let root = tempfile::Builder::new()
            .prefix("bucket")
            .tempdir_in(self.dir.path())
            .unwrap()
            .keep();
        for o in self
            .store
            .list_objects(BUCKET, prefix, "", 1000)
            .await
            .unwrap()
        {
            let dest = root.join(&o.key);
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(self.blobs.local_path(&o.blob_id).unwrap(), &dest).unwrap();
        }
        root
    }

    /// Uploads `key` and runs every run it starts to the end, asserting each succeeded;
    /// returns all their tasks.
    pub async fn run_ok(&self, key: &str, clip: &Path) -> Vec<Task> {
        let runs = self.upload(key, clip).await;
        assert!(!runs.is_empty(), "{key} started nothing");
        let mut all = Vec::new();
        for run in runs {
            let (instance, tasks) = self.wait_run(&run).await;
            let failures: Vec<_> = tasks
                .iter()
                .filter(|t| t.code != "Success")
                .map(|t| (&t.node_name, &t.code, &t.message))
                .collect();
            assert_eq!(instance.state, RunState::Success, "{key}: {failures:?}");
            all.extend(tasks);
        }
        all
    }
}

/// (width, height, duration) of the first video stream of `path` (a file or a playlist).
pub fn picture(path: &Path) -> (i64, i64, f64) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_streams",
            "-show_format",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let video = v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_type"] == "video")
        .unwrap_or_else(|| panic!("{} has no video", path.display()))
        .clone();
    let secs = v["format"]["duration"]
        .as_str()
        .map_or(0.0, |d| d.parse().unwrap());
    (
        video["width"].as_i64().unwrap(),
        video["height"].as_i64().unwrap(),
        secs,
    )
}

/// The names a playlist (its URI lines) or DASH manifest (its segment templates, as
/// patterns where `$…$` stands for digits) references, relative to its folder.
pub fn references(manifest: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    if manifest.extension().is_some_and(|e| e == "mpd") {
        let mut found = Vec::new();
        for attr in ["initialization=\"", "media=\""] {
            for part in text.split(attr).skip(1) {
                found.push(part.split('"').next().unwrap().to_owned());
            }
        }
        return found;
    }
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// Whether `name` matches the reference `pattern` (`$…$` = one or more digits).
pub fn matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('$');
    let Some(first) = parts.next() else {
        return false;
    };
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let mut token = true;
    for part in parts {
        if token {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return false;
            }
            rest = &rest[digits..];
        } else {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        }
        token = !token;
    }
    rest.is_empty()
}

/// Asserts the ownership rule over every object of the local bucket copy `root` under
/// `folder`: each object that is not a top-level playlist/manifest is referenced by exactly
/// one playlist/manifest, and each reference names an object that exists. Returns, per
/// playlist/manifest key, the keys it references.
pub fn assert_owned(root: &Path, folder: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut keys = BTreeSet::new();
    collect(&root.join(folder), folder, &mut keys);
    let manifests: Vec<&String> = keys
        .iter()
        .filter(|k| k.ends_with(".m3u8") || k.ends_with(".mpd"))
        .collect();
    let mut owners: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut owned = BTreeMap::new();
    for m in &manifests {
        let dir = m.rsplit_once('/').map_or("", |(d, _)| d);
        let mut mine = BTreeSet::new();
        for pattern in references(&root.join(m)) {
            let hits: Vec<&String> = keys
                .iter()
                .filter(|k| {
                    k.rsplit_once('/').map_or("", |(d, _)| d) == dir
                        && matches(&pattern, &k[dir.len() + 1..])
                })
                .collect();
            assert!(
                !hits.is_empty(),
                "{m} references {pattern}, which was not written"
            );
            for k in hits {
                // (a manifest may repeat one template, e.g. per adaptation set)
                if mine.insert(k.clone()) {
                    owners.entry(k.clone()).or_default().push((*m).clone());
                }
            }
        }
        owned.insert((*m).clone(), mine);
    }
    for k in &keys {
        let by = owners.get(k).map_or(&[][..], Vec::as_slice);
        let top = (k.ends_with(".m3u8") || k.ends_with(".mpd")) && by.is_empty();
        assert!(top || by.len() == 1, "{k} is referenced by {by:?}");
    }
    owned
}

fn collect(dir: &Path, prefix: &str, into: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let key = format!("{prefix}/{}", entry.file_name().to_str().unwrap());
        if entry.file_type().unwrap().is_dir() {
            collect(&entry.path(), &key, into);
        } else {
            into.insert(key);
        }
    }
}

/// The file name of a key.
pub fn name(key: &str) -> &str {
    key.rsplit('/').next().unwrap()
}

/// Asserts that no key appears among the outputs of two tasks, and returns them all, sorted.
pub fn distinct_outputs<'a>(tasks: impl IntoIterator<Item = &'a Task>) -> Vec<String> {
    let mut all: Vec<String> = tasks
        .into_iter()
        .flat_map(|t| t.outputs.iter().map(|o| o.key.clone()))
        .collect();
    let total = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), total, "a key was written twice: {all:?}");
    all
}
