//! Shared state of the HTTP layer.

use std::sync::Arc;

use reelflow_engine::Engine;
use reelflow_model::clock::DisplayOffset;
use reelflow_objects::BlobStore;
use reelflow_store::Store;

/// API settings.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Accepted key pairs (SecretId, SecretKey).
    pub credentials: Vec<(String, String)>,
    /// Offset for times in responses.
    pub offset: DisplayOffset,
    /// Largest CI request body (XML), in bytes.
    pub max_xml_body: usize,
    /// Largest object upload, in bytes.
    pub max_object_size: u64,
    /// Host names under which buckets are addressed virtual-host style (`<bucket>.<domain>`).
    pub domains: Vec<String>,
    /// Region reported in bucket listings.
    pub region: String,
}

impl ApiConfig {
    /// The SecretKey of a SecretId (an S3 access key id), when it is one of ours.
    pub fn secret_of(&self, id: &str) -> Option<String> {
        self.credentials
            .iter()
            .find(|(sid, _)| sid == id)
            .map(|(_, key)| key.clone())
    }
}

/// Everything a handler needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Object bodies.
    pub blobs: Arc<dyn BlobStore>,
    /// Runs and triggers.
    pub engine: Engine,
    /// Settings.
    pub config: Arc<ApiConfig>,
}
