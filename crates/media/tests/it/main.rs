//! Integration tests running the real ffmpeg/ffprobe on tiny generated media.
//!
//! One test binary (like svix's `tests/it`), one module per concern. Media is made
//! with lavfi (`testsrc2` + `sine`) at 320x240 for 1–3 s so the whole suite stays fast
//! on two cores.

mod animation;
mod common;
mod compat;
mod concat;
mod cover_art;
mod inspect;
mod odd_sizes;
mod picprocess;
mod probe;
mod process;
mod rotation;
mod segment;
mod smartcover;
mod snapshot;
mod snapshot_extras;
mod streampack;
mod transcode;
mod transcode_extras;
