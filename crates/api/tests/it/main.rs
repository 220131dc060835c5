//! Integration tests of the HTTP layer: one binary, one shared harness ([`harness`]).

mod ci_pm3u8;
mod ci_process;
mod console;
mod cos_api;
mod garbage;
mod harness;
mod multipart;
mod s3_ops;
mod sigv4;
mod wire;
