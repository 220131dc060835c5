//! The `BlobStore` conformance suite: one set of tests written against the
//! trait, run for every backend: `local::*` on `LocalBlobStore`, `s3::*` on
//! `S3BlobStore` against the S3 test server named by
//! `REELFLOW_TEST_S3_ENDPOINT` (without it these skip locally and fail under
//! `CI=true`), and `memory::*` on `S3BlobStore` over `object_store`'s
//! in-memory store (the S3 code path, always run).

mod harness;

mod blobs;
mod composites;
