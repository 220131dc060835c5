//! Snapshot settings beyond [`SnapshotSpec`]: `IsCheckCount`, `IsCheckBlack`
//! (+`BlackLevel`, `PixelBlackThreshold`), `SnapshotOutMode` and
//! `SpriteSnapshotConfig` (reference section 5.3).
//!
//! - **Black frames** are found by ffmpeg itself: `blackframe=amount=0` tags every
//!   frame with the percentage of pixels darker than `PixelBlackThreshold`, and
//!   `metadata=mode=select` keeps the frames below `BlackLevel` percent. Timed captures
//!   then take the first kept frame of each interval slot, so a black stretch delays a
//!   capture instead of producing a black image (a slot that is black throughout
//!   yields no image).
//! - **Sprites** are made after the capture from the images on disk: one more ffmpeg
//!   run scales each image to the cell (`ScaleMethod`) and lays them out with `tile`
//!   (`Columns`×`Lines`, `Padding`, `Margin`, `Color`), one sheet per
//!   `Columns × Lines` images: `sprite-00000.jpg`, `sprite-00001.jpg`, …

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::MediaError;
use crate::ffmpeg::{filter, prelude};
use crate::image::ImageFormat;
use crate::paths;
use crate::probe::MediaInfo;

use super::SnapshotSpec;

/// File-name prefix of sprite sheets.
pub(crate) const SPRITE_PREFIX: &str = "sprite-";

/// Snapshot settings that [`SnapshotSpec`] does not carry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SnapshotExtras {
    /// `IsCheckCount`: in Interval mode, when `start + k·interval` runs past the end
    /// before `count` images, switch to Average so `count` images still come out.
    pub check_count: bool,
    /// `IsCheckBlack`: skip black frames.
    pub black: Option<BlackCheck>,
    /// `SnapshotOutMode`.
    pub out_mode: SnapshotOutMode,
    /// `SpriteSnapshotConfig`; required unless `out_mode` is `OnlySnapshot`.
    pub sprite: Option<SpriteSpec>,
}

/// `BlackLevel` and `PixelBlackThreshold`: a frame is black when at least
/// `black_level` percent of its pixels have a luma below `pixel_black_threshold`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlackCheck {
    /// Percent of dark pixels that makes a frame black, 30–100 (CI range).
    pub black_level: u8,
    /// Luma below which a pixel is dark, 0–255.
    pub pixel_black_threshold: u8,
}

impl Default for BlackCheck {
    /// Black when 90 % of the pixels are below luma 32 (`blackframe`'s threshold).
    fn default() -> Self {
        Self {
            black_level: 90,
            pixel_black_threshold: 32,
        }
    }
}

impl BlackCheck {
    /// `blackframe` tagging every frame, then `metadata` keeping the non-black ones.
    pub(crate) fn filters(&self) -> Vec<String> {
        vec![
            format!(
                "blackframe=amount=0:threshold={}",
                self.pixel_black_threshold
            ),
            format!(
                "metadata=mode=select:key=lavfi.blackframe.pblack:value={}:function=less",
                self.black_level
            ),
        ]
    }

    fn validate(&self) -> Result<(), MediaError> {
        if (30..=100).contains(&self.black_level) {
            Ok(())
        } else {
            Err(MediaError::invalid_spec(format!(
                "BlackLevel must be in [30, 100], got {}",
                self.black_level
            )))
        }
    }
}

/// CI `SnapshotOutMode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SnapshotOutMode {
    /// Images only (default).
    #[default]
    OnlySnapshot,
    /// Sprite sheets only (the images are deleted once the sheets exist).
    OnlySprite,
    /// Both.
    SnapshotAndSprite,
}

impl SnapshotOutMode {
    /// Parses CI's names (case-insensitive).
    pub fn parse(text: &str) -> Result<Self, MediaError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "onlysnapshot" => Ok(Self::OnlySnapshot),
            "onlysprite" => Ok(Self::OnlySprite),
            "snapshotandsprite" => Ok(Self::SnapshotAndSprite),
            other => Err(MediaError::invalid_spec(format!(
                "SnapshotOutMode {other:?} is not supported"
            ))),
        }
    }

    pub(crate) fn sprites(self) -> bool {
        self != Self::OnlySnapshot
    }
}

/// CI `SpriteSnapshotConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpriteSpec {
    /// Cell width, 8–4096; default the snapshot width.
    pub cell_width: Option<u32>,
    /// Cell height, 8–4096; default the snapshot height.
    pub cell_height: Option<u32>,
    /// Pixels between cells, 0–1024.
    pub padding: u32,
    /// Pixels around the sheet, 0–1024.
    pub margin: u32,
    /// Background colour: an ffmpeg colour name (`black`, `white`) or `0xRRGGBB`.
    pub color: String,
    /// Cells per row.
    pub columns: u32,
    /// Rows per sheet.
    pub lines: u32,
    /// How an image is fitted into its cell.
    pub scale_method: SpriteScaleMethod,
}

impl Default for SpriteSpec {
    fn default() -> Self {
        Self {
            cell_width: None,
            cell_height: None,
            padding: 0,
            margin: 0,
            color: "black".into(),
            columns: 10,
            lines: 10,
            scale_method: SpriteScaleMethod::DirectScale,
        }
    }
}

/// CI `ScaleMethod`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SpriteScaleMethod {
    /// Stretch to the cell size (default).
    #[default]
    DirectScale,
    /// Fit inside the cell keeping the aspect ratio, pad to the cell with `color`.
    MaxWHScaleAndPad,
    /// Fit inside the cell keeping the aspect ratio; the cell shrinks to the image.
    MaxWHScale,
}

impl SpriteScaleMethod {
    /// Parses CI's names (case-insensitive).
    pub fn parse(text: &str) -> Result<Self, MediaError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "directscale" => Ok(Self::DirectScale),
            "maxwhscaleandpad" => Ok(Self::MaxWHScaleAndPad),
            "maxwhscale" => Ok(Self::MaxWHScale),
            other => Err(MediaError::invalid_spec(format!(
                "sprite ScaleMethod {other:?} is not supported"
            ))),
        }
    }
}

impl SpriteSpec {
    fn validate(&self) -> Result<(), MediaError> {
        let bad = |m: String| Err(MediaError::invalid_spec(format!("sprite: {m}")));
        for cell in [self.cell_width, self.cell_height].into_iter().flatten() {
            if !(8..=4096).contains(&cell) {
                return bad(format!("cell size must be in [8, 4096], got {cell}"));
            }
        }
        if self.padding > 1024 || self.margin > 1024 {
            return bad("Padding and Margin must be in [0, 1024]".into());
        }
        if !(1..=10_000).contains(&self.columns) || !(1..=10_000).contains(&self.lines) {
            return bad("Columns and Lines must be in [1, 10000]".into());
        }
        let color = self.color.trim();
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '#' | '@' | '.' | '_');
        if color.is_empty() || !color.chars().all(plain) {
            return bad(format!("Color {:?} is not an ffmpeg colour", self.color));
        }
        Ok(())
    }

    /// Images per sheet.
    pub(crate) fn per_sheet(&self) -> u32 {
        self.columns.saturating_mul(self.lines).max(1)
    }
}

impl SnapshotExtras {
    /// Checks the fields on their own.
    pub fn validate(&self) -> Result<(), MediaError> {
        if let Some(black) = &self.black {
            black.validate()?;
        }
        match (&self.sprite, self.out_mode.sprites()) {
            (Some(sprite), _) => sprite.validate(),
            (None, true) => Err(MediaError::invalid_spec(format!(
                "SnapshotOutMode {:?} needs a SpriteSnapshotConfig",
                self.out_mode
            ))),
            (None, false) => Ok(()),
        }
    }
}

/// The snapshot size: the spec's (one side following the source aspect ratio, even),
/// else the source's as displayed (decoding autorotates).
fn snapshot_size(spec: &SnapshotSpec, info: &MediaInfo) -> Option<(u32, u32)> {
    let source = info
        .video()
        .and_then(crate::probe::StreamInfo::display_size);
    let even = |v: f64| ((v / 2.0).round() * 2.0).max(2.0) as u32;
    match (spec.width, spec.height, source) {
        (Some(w), Some(h), _) => Some((w, h)),
        (Some(w), None, Some((sw, sh))) => {
            Some((w, even(f64::from(w) * f64::from(sh) / f64::from(sw))))
        }
        (None, Some(h), Some((sw, sh))) => {
            Some((even(f64::from(h) * f64::from(sw) / f64::from(sh)), h))
        }
        (None, None, source) => source,
        _ => None,
    }
}

/// The ffmpeg arguments laying `count` captured images (`snap-%05d.<ext>` in
/// `out_dir`) out on sprite sheets `sprite-%05d.<ext>`.
pub fn sprite_args(
    out_dir: &Path,
    spec: &SnapshotSpec,
    sprite: &SpriteSpec,
    info: &MediaInfo,
) -> Result<Vec<String>, MediaError> {
    sprite.validate()?;
    let format = ImageFormat::parse(&spec.format)?;
    let size = snapshot_size(spec, info);
    let (cw, ch) = match (sprite.cell_width, sprite.cell_height) {
        (Some(w), Some(h)) => (w, h),
        (w, h) => {
            let (sw, sh) = size.ok_or_else(|| {
                MediaError::invalid_input(
                    "the video size is unknown: set the sprite CellWidth and CellHeight",
                )
            })?;
            let ratio = |a: u32, b: u32, c: u32| {
                (f64::from(a) * f64::from(b) / f64::from(c)).round() as u32
            };
            match (w, h) {
                (Some(w), None) => (w, ratio(w, sh, sw)),
                (None, Some(h)) => (ratio(h, sw, sh), h),
                _ => (sw, sh),
            }
        }
    };
    let color = sprite.color.trim().to_owned();
    let mut filters = match sprite.scale_method {
        SpriteScaleMethod::DirectScale => vec![format!("scale={cw}:{ch}")],
        SpriteScaleMethod::MaxWHScale => {
            vec![format!(
                "scale={cw}:{ch}:force_original_aspect_ratio=decrease"
            )]
        }
        SpriteScaleMethod::MaxWHScaleAndPad => vec![
            format!("scale={cw}:{ch}:force_original_aspect_ratio=decrease"),
            filter(
                "pad",
                &[
                    ("w", cw.to_string()),
                    ("h", ch.to_string()),
                    ("x", "(ow-iw)/2".into()),
                    ("y", "(oh-ih)/2".into()),
                    ("color", color.clone()),
                ],
            ),
        ],
    };
    filters.push("setsar=1".into());
    filters.push(filter(
        "tile",
        &[
            ("layout", format!("{}x{}", sprite.columns, sprite.lines)),
            ("padding", sprite.padding.to_string()),
            ("margin", sprite.margin.to_string()),
            ("color", color),
        ],
    ));
    let dir = super::dir_arg(out_dir)?;
    let ext = format.ext();
    let mut args = prelude();
    args.extend([
        "-f".into(),
        "image2".into(),
        "-start_number".into(),
        "0".into(),
        "-i".into(),
        format!("{}{}%05d.{ext}", paths::escape_pattern(&dir), super::PREFIX),
        "-vf".into(),
        filters.join(","),
        "-fps_mode".into(),
        "passthrough".into(),
    ]);
    args.extend(format.encoder_args(None));
    args.extend([
        "-start_number".into(),
        "0".into(),
        "-f".into(),
        "image2".into(),
        format!("{}{SPRITE_PREFIX}%05d.{ext}", paths::escape_pattern(&dir)),
    ]);
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::StreamInfo;

    fn info() -> MediaInfo {
        MediaInfo {
            duration: Some(10.0),
            streams: vec![StreamInfo {
                codec_type: "video".into(),
                width: Some(320),
                height: Some(240),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
        let pos = args.iter().position(|a| a == flag)?;
        args.get(pos + 1).map(String::as_str)
    }

    #[test]
    fn black_filters_keep_non_black_frames() {
        let black = BlackCheck {
            black_level: 80,
            pixel_black_threshold: 20,
        };
        assert_eq!(
            black.filters(),
            [
                "blackframe=amount=0:threshold=20",
                "metadata=mode=select:key=lavfi.blackframe.pblack:value=80:function=less"
            ]
        );
        let bad = SnapshotExtras {
            black: Some(BlackCheck {
                black_level: 10,
                pixel_black_threshold: 0,
            }),
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().code(), "InvalidSpec");
    }

    #[test]
    fn sprite_tiles_cells_of_the_snapshot_size() {
        let spec = SnapshotSpec {
            width: Some(160),
            ..Default::default()
        };
        let sprite = SpriteSpec {
            columns: 3,
            lines: 2,
            padding: 4,
            margin: 2,
            color: "white".into(),
            ..Default::default()
        };
        let args = sprite_args(Path::new("/out"), &spec, &sprite, &info()).unwrap();
        assert_eq!(value(&args, "-i"), Some("/out/snap-%05d.jpg"));
        assert_eq!(
            value(&args, "-vf"),
            Some("scale=160:120,setsar=1,tile=layout=3x2:padding=4:margin=2:color=white")
        );
        assert_eq!(
            args.last().map(String::as_str),
            Some("/out/sprite-%05d.jpg")
        );
    }

    #[test]
    fn sprite_scale_methods() {
        let sprite = SpriteSpec {
            cell_width: Some(100),
            cell_height: Some(100),
            color: "0x336699".into(),
            scale_method: SpriteScaleMethod::MaxWHScaleAndPad,
            ..Default::default()
        };
        let args =
            sprite_args(Path::new("/o"), &SnapshotSpec::default(), &sprite, &info()).unwrap();
        let vf = value(&args, "-vf").unwrap();
        assert!(
            vf.starts_with("scale=100:100:force_original_aspect_ratio=decrease,pad=w=100:h=100"),
            "{vf}"
        );
        assert!(vf.contains("color=0x336699"), "{vf}");
        let bad = SpriteSpec {
            color: "red;drop".into(),
            ..Default::default()
        };
        assert!(sprite_args(Path::new("/o"), &SnapshotSpec::default(), &bad, &info()).is_err());
        assert_eq!(
            SpriteScaleMethod::parse("MaxWHScale").unwrap(),
            SpriteScaleMethod::MaxWHScale
        );
        assert_eq!(
            SnapshotOutMode::parse("OnlySprite").unwrap(),
            SnapshotOutMode::OnlySprite
        );
    }

    #[test]
    fn sprite_modes_need_a_config() {
        let extras = SnapshotExtras {
            out_mode: SnapshotOutMode::OnlySprite,
            ..Default::default()
        };
        assert_eq!(extras.validate().unwrap_err().code(), "InvalidSpec");
    }
}
