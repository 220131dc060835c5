//! One store per test, for each backend, plus the few backend-specific
//! probes the trait cannot express (what is stored, reopening, corrupting a
//! manifest on purpose).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use reelflow_objects::{BlobStore, BlobWritten, ByteStream, LocalBlobStore, S3BlobStore, S3Config};
use tokio::sync::OnceCell;

/// Runs each listed `async fn(Harness)` once per backend: `local::<name>`,
/// `s3::<name>` (the S3 test server) and `memory::<name>` (`S3BlobStore` on
/// `object_store`'s in-memory store: the S3 code path without a server).
macro_rules! conformance {
    ($($name:ident),+ $(,)?) => {
        mod local {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(crate::harness::Harness::local().await).await;
                }
            )+
        }
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(crate::harness::Harness::memory()).await;
                }
            )+
        }
        mod s3 {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(harness) = crate::harness::Harness::s3().await {
                        super::$name(harness).await;
                    }
                }
            )+
        }
    };
}
pub(crate) use conformance;

enum Backend {
    Local {
        root: PathBuf,
    },
    /// An `S3BlobStore` under `prefix` of `raw`; `config` rebuilds it (S3 only).
    Object {
        raw: Arc<dyn ObjectStore>,
        prefix: String,
        config: Option<S3Config>,
    },
}

/// A fresh, empty store and a scratch directory for files.
pub struct Harness {
    pub store: Arc<dyn BlobStore>,
    /// Scratch space for `put_file` sources and `download_to` targets.
    pub dir: tempfile::TempDir,
    backend: Backend,
}

/// The S3 test server's endpoint, set by `scripts/test.sh` from `target/test-s3-url`.
const ENDPOINT_VAR: &str = "REELFLOW_TEST_S3_ENDPOINT";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

impl Harness {
    pub async fn local() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("blobs");
        let store = LocalBlobStore::open(&root).await.unwrap();
        Self {
            store: Arc::new(store),
            dir,
            backend: Backend::Local { root },
        }
    }

    /// A store under a new prefix of the test bucket; `None` (skip) when no
    /// S3 test server is configured, except under `CI=true`, where that is
    /// a failure.
    pub async fn s3() -> Option<Self> {
        let Some(endpoint) = std::env::var(ENDPOINT_VAR).ok().filter(|v| !v.is_empty()) else {
            assert!(
                !in_ci(),
                "{ENDPOINT_VAR} is not set but CI is: the S3 conformance tests must run \
                 (scripts/setup.sh starts the moto S3 server; scripts/test.sh exports it)"
            );
            // Once per run, and past the test harness's output capture.
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                use std::io::Write as _;
                let _ = writeln!(
                    std::io::stderr(),
                    "NOTE: skipping the S3 backend of the BlobStore conformance suite: \
                     {ENDPOINT_VAR} is not set (scripts/test.sh sets it from target/test-s3-url, \
                     which scripts/setup.sh writes)"
                );
            });
            return None;
        };
        let bucket =
            std::env::var("REELFLOW_TEST_S3_BUCKET").unwrap_or_else(|_| "reelflow-test".into());
        ensure_bucket(&endpoint, &bucket).await;
        let config = S3Config {
            bucket,
            prefix: format!("conformance/{}", uuid::Uuid::new_v4().simple()),
            endpoint: Some(endpoint.clone()),
            region: Some("us-east-1".into()),
            access_key_id: Some("reelflow-test".into()),
            secret_access_key: Some("reelflow-test".into()),
            path_style: true,
            allow_http: endpoint.starts_with("http://"),
        };
        let store = S3BlobStore::new(&config).unwrap();
        let unprefixed = S3Config {
            prefix: String::new(),
            ..config.clone()
        };
        let raw = raw_client(&unprefixed);
        Some(Self {
            store: Arc::new(store),
            dir: tempfile::tempdir().unwrap(),
            backend: Backend::Object {
                raw,
                prefix: config.prefix.clone(),
                config: Some(config),
            },
        })
    }

    pub fn memory() -> Self {
        let raw: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let prefix = "conformance/memory".to_owned();
        Self {
            store: Arc::new(S3BlobStore::with_client(raw.clone(), &prefix).unwrap()),
            dir: tempfile::tempdir().unwrap(),
            backend: Backend::Object {
                raw,
                prefix,
                config: None,
            },
        }
    }

    pub fn is_local(&self) -> bool {
        matches!(self.backend, Backend::Local { .. })
    }

    /// Everything the backend holds for this store, as sorted relative
    /// names: every file below the local root (temporary files included),
    /// every key under the S3 prefix.
    pub async fn stored(&self) -> Vec<String> {
        match &self.backend {
            Backend::Local { root } => {
                let mut files: Vec<String> = files_under(root)
                    .iter()
                    .map(|p| p.strip_prefix(root).unwrap().display().to_string())
                    .collect();
                files.sort();
                files
            }
            Backend::Object { raw, prefix, .. } => {
                let prefix = Key::from(prefix.as_str());
                let mut keys: Vec<String> = raw
                    .list(Some(&prefix))
                    .map_ok(|meta| meta.location.to_string())
                    .try_collect()
                    .await
                    .unwrap();
                keys.sort();
                keys
            }
        }
    }

    /// Asserts the store holds nothing at all.
    pub async fn assert_empty(&self) {
        assert_eq!(self.stored().await, Vec::<String>::new());
    }

    /// A second store on the same storage, as after a restart.
    pub async fn reopen(&self) -> Arc<dyn BlobStore> {
        match &self.backend {
            Backend::Local { root } => Arc::new(LocalBlobStore::open(root).await.unwrap()),
            Backend::Object {
                config: Some(config),
                ..
            } => Arc::new(S3BlobStore::new(config).unwrap()),
            Backend::Object { raw, prefix, .. } => {
                Arc::new(S3BlobStore::with_client(raw.clone(), prefix).unwrap())
            }
        }
    }

    /// Rewrites the stored text of composite `id`'s manifest.
    pub async fn edit_manifest(&self, id: &str, edit: impl FnOnce(String) -> String) {
        let stored = self.stored().await;
        let name = stored
            .iter()
            .find(|name| name.ends_with(&format!("/{id}")))
            .expect("the manifest is stored");
        match &self.backend {
            Backend::Local { root } => {
                let path = root.join(name);
                let text = std::fs::read_to_string(&path).unwrap();
                std::fs::write(&path, edit(text)).unwrap();
            }
            Backend::Object { raw, .. } => {
                let key = Key::from(name.as_str());
                let bytes = raw.get(&key).await.unwrap().bytes().await.unwrap();
                let text = String::from_utf8(bytes.to_vec()).unwrap();
                raw.put(&key, PutPayload::from(edit(text))).await.unwrap();
            }
        }
    }

    /// Writes `content` in several chunks, so it is not stored in one piece.
    pub async fn put(&self, content: &[u8]) -> BlobWritten {
        let chunks: Vec<std::io::Result<Bytes>> = content
            .chunks(7_777)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        self.store
            .put_stream(stream::iter(chunks).boxed(), None)
            .await
            .unwrap()
    }

    pub async fn read(&self, id: &str, range: Option<(u64, u64)>) -> Vec<u8> {
        read_all(self.store.get(id, range).await.unwrap()).await
    }
}

fn raw_client(config: &S3Config) -> Arc<dyn ObjectStore> {
    let client = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(&config.bucket)
        .with_endpoint(config.endpoint.clone().unwrap())
        .with_region("us-east-1")
        .with_access_key_id("reelflow-test")
        .with_secret_access_key("reelflow-test")
        .with_allow_http(config.allow_http)
        .build()
        .unwrap();
    Arc::new(client)
}

/// Creates the test bucket once per test binary (moto accepts unsigned
/// requests; an existing bucket answers 409, which is fine).
async fn ensure_bucket(endpoint: &str, bucket: &str) {
    static CREATED: OnceCell<()> = OnceCell::const_new();
    CREATED
        .get_or_init(|| async {
            let url = format!("{}/{bucket}", endpoint.trim_end_matches('/'));
            let response = reqwest::Client::new()
                .put(&url)
                .send()
                .await
                .unwrap_or_else(|e| panic!("S3 test server at {endpoint} unreachable: {e}"));
            let status = response.status();
            assert!(
                status.is_success() || status.as_u16() == 409,
                "creating bucket {url}: {status}"
            );
        })
        .await;
}

pub fn body(chunks: &[&'static [u8]]) -> ByteStream {
    let items: Vec<std::io::Result<Bytes>> =
        chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
    stream::iter(items).boxed()
}

pub async fn read_all(stream: ByteStream) -> Vec<u8> {
    let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
    chunks.concat()
}

pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(31).wrapping_add(seed) % 251) as u8)
        .collect()
}

/// Every regular file below `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
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
