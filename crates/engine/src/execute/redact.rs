//! Task failure messages name what the user knows — object keys, node names — never internal
//! blob ids or scratch paths. Tools print the paths they were given (`/…/work/j…/in-<blob>.mp4:
//! Invalid data found…`), so every local file a task stages is recorded with the object key it
//! holds, and a failure's message is rewritten through those records before it is stored:
//!
//! 1. a recorded path (as given or made absolute) or file name becomes its object key;
//! 2. the task's scratch directory prefix is dropped (`…/work/j…/out/a.m3u8` → `out/a.m3u8`);
//! 3. anything still carrying a blob id (32 lowercase hex, or `m` + 32 for a composite) — a
//!    path or a bare id — becomes "a stored file".
//!
//! Object keys found in the message are kept as written (a key may itself look like a hash).

use std::path::Path;
use std::sync::Mutex;

/// What a message's stray blob references are replaced with.
const UNNAMED: &str = "a stored file";
/// What the scratch directory itself is called.
const WORK_DIR: &str = "the work directory";

/// Local names recorded during one task: `(text as a tool may print it, what to print)`.
#[derive(Debug, Default)]
pub(crate) struct Names(Mutex<Vec<(String, String)>>);

impl Names {
    /// Records that `local` holds `name` (an object key): the path as given, made absolute,
    /// and its file name when that is internal (a blob id or a staged input).
    pub(crate) fn add(&self, local: &Path, name: &str) {
        let mut forms = vec![local.to_string_lossy().into_owned()];
        if let Ok(abs) = std::path::absolute(local) {
            forms.push(abs.to_string_lossy().into_owned());
        }
        if let Some(file) = local.file_name().map(|f| f.to_string_lossy())
            && has_blob_id(&file)
        {
            forms.push(file.into_owned());
        }
        let mut pairs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for form in forms {
            if !form.is_empty() && !pairs.iter().any(|(l, _)| *l == form) {
                pairs.push((form, name.to_owned()));
            }
        }
    }

    /// Records the scratch directory itself: its prefix is dropped from messages.
    pub(crate) fn add_root(&self, root: &Path) {
        let mut pairs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut forms = vec![root.to_string_lossy().into_owned()];
        if let Ok(abs) = std::path::absolute(root) {
            forms.push(abs.to_string_lossy().into_owned());
        }
        for form in forms.into_iter().filter(|f| !f.is_empty()) {
            pairs.push((format!("{}/", form.trim_end_matches('/')), String::new()));
            pairs.push((form, WORK_DIR.to_owned()));
        }
    }

    /// Whether `message` names one of the recorded objects.
    pub(crate) fn mentioned_in(&self, message: &str) -> bool {
        self.pairs()
            .iter()
            .any(|(_, name)| !name.is_empty() && *name != WORK_DIR && message.contains(name))
    }

    fn pairs(&self) -> Vec<(String, String)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// `message` rewritten through the records of every `names` (see the module documentation).
pub(crate) fn redact<'a>(names: impl IntoIterator<Item = &'a Names>, message: &str) -> String {
    let mut patterns: Vec<(String, String)> = Vec::new();
    for n in names {
        for (local, name) in n.pairs() {
            if !name.is_empty() {
                // A key already in the message stays as written.
                patterns.push((name.clone(), name.clone()));
            }
            patterns.push((local, name));
        }
    }
    // Longest first, so a full path wins over its file name.
    patterns.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
    let mut out = String::with_capacity(message.len());
    let mut i = 0;
    while i < message.len() {
        let rest = &message[i..];
        // The longest recorded text here, unless a longer blob reference starts here (a short
        // key such as `0` must not shield the id that begins with it).
        let recorded = patterns
            .iter()
            .find(|(from, _)| rest.starts_with(from.as_str()));
        let blob = blob_token_end(message, i);
        match (recorded, blob) {
            (Some((from, to)), blob) if blob.is_none_or(|end| from.len() >= end - i) => {
                out.push_str(to);
                i += from.len();
            }
            (_, Some(end)) => {
                // Drop the path already copied before the id, then skip the rest of it.
                let start = out
                    .rfind(is_delimiter)
                    .map_or(0, |p| p + out[p..].chars().next().map_or(1, char::len_utf8));
                out.truncate(start);
                out.push_str(UNNAMED);
                i = end;
            }
            _ => {
                let c = rest.chars().next().unwrap_or(' ');
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

fn is_delimiter(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\'' | '"' | '(' | ')' | '[' | ']' | '<' | '>' | '=' | ','
        )
}

/// When a blob id starts at byte `i` of `text` (as a whole alphanumeric word), the end of the
/// path-like token that holds it: up to the next delimiter or `:`.
fn blob_token_end(text: &str, i: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    if i > 0 && bytes[i - 1].is_ascii_alphanumeric() {
        return None;
    }
    let word_end = bytes[i..]
        .iter()
        .position(|b| !b.is_ascii_alphanumeric())
        .map_or(bytes.len(), |p| i + p);
    if !is_blob_id(&text[i..word_end]) {
        return None;
    }
    let end = text[word_end..]
        .find(|c: char| is_delimiter(c) || c == ':')
        .map_or(text.len(), |p| word_end + p);
    Some(end)
}

fn is_blob_id(word: &str) -> bool {
    let hex = word.strip_prefix('m').unwrap_or(word);
    hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn has_blob_id(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .any(is_blob_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0190f0e2a1b24c3d8e9f00112233aabb";

    #[test]
    fn staged_inputs_and_scratch_paths_become_keys() {
        let names = Names::default();
        names.add_root(Path::new("/data/work/j1"));
        names.add(
            Path::new(&format!("/data/blobs/01/90/{ID}")),
            "in/empty.mp4",
        );
        names.add(
            Path::new(&format!("/data/work/j1/in-{ID}.mp4")),
            "in/other.mp4",
        );
        names.add(Path::new("/data/work/j1/out/a.m3u8"), "out/hls/a.m3u8");
        let msg = format!(
            "invalid input: ffprobe could not read the input: {ID}: Invalid data; \
             /data/blobs/01/90/{ID}: x; /data/work/j1/in-{ID}.mp4: y; \
             no output to /data/work/j1/out/a.m3u8; cannot write /data/work/j1/out/b.jpg"
        );
        let got = redact([&names], &msg);
        assert!(!got.contains(ID) && !got.contains("/data/"), "{got}");
        assert!(
            got.contains("the input: in/empty.mp4: Invalid data"),
            "{got}"
        );
        assert!(got.contains("; in/empty.mp4: x; "), "{got}");
        assert!(got.contains("in/other.mp4: y"), "{got}");
        assert!(got.contains("no output to out/hls/a.m3u8"), "{got}");
        assert!(got.contains("cannot write out/b.jpg"), "{got}");
    }

    #[test]
    fn unknown_blob_references_are_hidden_and_keys_kept() {
        let names = Names::default();
        let key = format!("in/{ID}.mp4");
        names.add(Path::new("/x/staged.mp4"), &key);
        let other = "0190f0e2a1b24c3d8e9f00112233ffff";
        let msg = format!(
            "object {key} failed: blob m{other} missing at /srv/blobs/ab/{other}: gone \
             (job j{other})"
        );
        let got = redact([&names], &msg);
        assert_eq!(
            redact([&names], &format!("{ID}: x")),
            format!("{UNNAMED}: x")
        );
        let short = Names::default();
        short.add(Path::new("/x/y.mp4"), "0");
        assert_eq!(redact([&short], &format!("0 {ID}")), format!("0 {UNNAMED}"));
        assert_eq!(
            got,
            format!(
                "object {key} failed: blob a stored file missing at a stored file: gone \
                 (job j{other})"
            )
        );
    }
}
