//! `LocalBlobStore`-specific behaviour: the on-disk layout, local paths and
//! crash recovery at open. Behaviour every backend shares is in the
//! conformance suite (`tests/conformance`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use reelflow_objects::{BlobStore, ByteStream, LocalBlobStore, PartRef};

async fn store() -> (tempfile::TempDir, Arc<dyn BlobStore>, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("blobs");
    let store = LocalBlobStore::open(&root).await.unwrap();
    (dir, Arc::new(store), root)
}

fn body(chunks: &[&'static [u8]]) -> ByteStream {
    let items: Vec<std::io::Result<Bytes>> =
        chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
    stream::iter(items).boxed()
}

async fn read_all(stream: ByteStream) -> Vec<u8> {
    let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
    chunks.concat()
}

/// Every regular file below `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test]
async fn blobs_are_files_sharded_by_the_tail_of_their_id() {
    let (dir, store, root) = store().await;
    let written = store
        .put_stream(body(&[b"hello world"]), None)
        .await
        .unwrap();
    let local = store.local_path(&written.id).unwrap();
    let tail = &written.id[written.id.len() - 4..];
    assert_eq!(
        local,
        root.join(&tail[..2]).join(&tail[2..]).join(&written.id)
    );
    assert_eq!(std::fs::read(&local).unwrap(), b"hello world");
    assert_eq!(files_under(&root), vec![local]);

    let source = dir.path().join("ffmpeg-output.mp4");
    std::fs::write(&source, b"from a file").unwrap();
    let from_file = store.put_file(&source).await.unwrap();
    let local = store.local_path(&from_file.id).unwrap();
    assert_eq!(std::fs::read(local).unwrap(), b"from a file");
}

#[tokio::test]
async fn composite_manifests_are_files_next_to_blobs() {
    let (_dir, store, root) = store().await;
    let a = store.put_stream(body(&[b"abc"]), None).await.unwrap();
    let composite = store.compose(&[PartRef::from(&a)]).await.unwrap();
    assert_eq!(store.local_path(&composite.id), None);
    let manifest = files_under(&root)
        .into_iter()
        .find(|p| p.file_name().unwrap() == composite.id.as_str())
        .unwrap();
    let text = std::fs::read_to_string(manifest).unwrap();
    assert!(text.starts_with("reelflow-composite v1\n1 3\n"), "{text}");
}

#[tokio::test]
async fn open_cleans_leftover_temp_files_and_keeps_blobs() {
    let (_dir, store, root) = store().await;
    let id = store
        .put_stream(body(&[b"keep me"]), None)
        .await
        .unwrap()
        .id;
    std::fs::write(root.join("tmp").join("crashed.tmp"), b"junk").unwrap();
    std::fs::create_dir(root.join("tmp").join("stray-dir")).unwrap();

    let reopened = LocalBlobStore::open(&root).await.unwrap();
    assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 0);
    assert_eq!(
        read_all(reopened.get(&id, None).await.unwrap()).await,
        b"keep me"
    );
    assert_eq!(reopened.root(), root);
}
