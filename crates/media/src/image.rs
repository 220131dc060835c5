//! Still-image output formats shared by snapshots, smart covers, sprites and picture
//! processing: CI names (`jpg`, `jpeg`, `png`, `webp`) mapped to ffmpeg encoders.
//!
//! Quality follows CI's 1–100 scale (higher is better). JPEG maps it onto mjpeg's
//! `-q:v` 2–31 scale (lower is better), WebP passes it to libwebp's `-quality`, PNG is
//! lossless and ignores it.

use serde::{Deserialize, Serialize};

use crate::error::MediaError;

/// An image format CI templates can ask for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ImageFormat {
    /// JPEG (mjpeg encoder), the CI default.
    #[default]
    Jpg,
    /// PNG (lossless).
    Png,
    /// WebP (libwebp).
    Webp,
}

/// mjpeg `-q:v` used when no quality is asked for (visually lossless).
const DEFAULT_JPEG_Q: u32 = 2;
/// libwebp quality used when none is asked for (libwebp's own default).
const DEFAULT_WEBP_QUALITY: u8 = 75;

impl ImageFormat {
    /// Parses a CI format name, case-insensitive: `jpg`/`jpeg`, `png`, `webp`.
    pub fn parse(name: &str) -> Result<Self, MediaError> {
        match name.trim().to_ascii_lowercase().as_str() {
            "jpg" | "jpeg" => Ok(Self::Jpg),
            "png" => Ok(Self::Png),
            "webp" => Ok(Self::Webp),
            other => Err(MediaError::invalid_spec(format!(
                "image format {other:?} is not supported (jpg, png, webp)"
            ))),
        }
    }

    /// The file extension.
    pub fn ext(self) -> &'static str {
        match self {
            Self::Jpg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
        }
    }

    /// `true` when the format keeps an alpha channel.
    pub(crate) fn has_alpha(self) -> bool {
        !matches!(self, Self::Jpg)
    }

    /// Encoder arguments for one image; `quality` is CI's 1–100 (higher is better).
    pub(crate) fn encoder_args(self, quality: Option<u8>) -> Vec<String> {
        let quality = quality.map(|q| q.clamp(1, 100));
        match self {
            Self::Jpg => {
                let q = quality.map_or(DEFAULT_JPEG_Q, jpeg_qscale);
                vec!["-c:v".into(), "mjpeg".into(), "-q:v".into(), q.to_string()]
            }
            Self::Png => vec!["-c:v".into(), "png".into()],
            Self::Webp => vec![
                "-c:v".into(),
                "libwebp".into(),
                "-quality".into(),
                quality.unwrap_or(DEFAULT_WEBP_QUALITY).to_string(),
            ],
        }
    }
}

/// CI quality 100 → mjpeg q 2 (best), 1 → 31 (worst), linear in between.
fn jpeg_qscale(quality: u8) -> u32 {
    let quality = u32::from(quality.clamp(1, 100));
    2 + ((100 - quality) * 29 + 49) / 99
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_extensions() {
        assert_eq!(ImageFormat::parse("JPEG").unwrap().ext(), "jpg");
        assert_eq!(ImageFormat::parse("png").unwrap(), ImageFormat::Png);
        assert_eq!(ImageFormat::parse(" webp ").unwrap().ext(), "webp");
        assert_eq!(ImageFormat::parse("bmp").unwrap_err().code(), "InvalidSpec");
    }

    #[test]
    fn quality_maps_onto_each_encoder() {
        assert_eq!(jpeg_qscale(100), 2);
        assert_eq!(jpeg_qscale(1), 31);
        assert_eq!(jpeg_qscale(50), 17);
        assert_eq!(ImageFormat::Jpg.encoder_args(None)[3], "2");
        assert_eq!(ImageFormat::Webp.encoder_args(Some(80))[3], "80");
        assert_eq!(ImageFormat::Png.encoder_args(Some(10)), ["-c:v", "png"]);
    }
}
