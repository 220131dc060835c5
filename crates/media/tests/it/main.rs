//! Integration tests running the real ffmpeg/ffprobe on tiny generated media.
//!
//! One test binary (like svix's `tests/it`), one module per concern. Media is made
//! with lavfi (`testsrc2` + `sine`) at 320x240 for 1–3 s so the whole suite stays fast
//! on two cores.

mod animation;
mod common;
mod concat;
mod picprocess;
mod probe;
mod process;
mod segment;
mod smartcover;
mod snapshot;
mod snapshot_extras;
mod streampack;
mod transcode;
mod transcode_extras;
