//! Typed view of Snapshot templates.

use crate::error::InvalidInput;
use crate::fields::Fields;
use crate::xml::XmlElement;

/// How snapshot frames are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SnapshotMode {
    /// From Start every TimeInterval seconds.
    #[default]
    Interval,
    /// Count frames evenly spread from Start to the end.
    Average,
    /// Key frames.
    KeyFrame,
}

/// Whether to write images, sprite sheets, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SnapshotOutMode {
    /// Images only (default).
    #[default]
    OnlySnapshot,
    /// Sprite sheets only.
    OnlySprite,
    /// Both.
    SnapshotAndSprite,
}

/// `SpriteSnapshotConfig`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpriteParams {
    /// Cell width (default the snapshot width).
    pub cell_width: Option<u32>,
    /// Cell height.
    pub cell_height: Option<u32>,
    /// Pixels between cells.
    pub padding: u32,
    /// Pixels around the sheet.
    pub margin: u32,
    /// Background colour (ffmpeg colour name or 0xRRGGBB).
    pub color: String,
    /// Cells per row.
    pub columns: u32,
    /// Rows per sheet.
    pub lines: u32,
    /// `DirectScale`, `MaxWHScaleAndPad` or `MaxWHScale`.
    pub scale_method: String,
}

/// Typed view of a Snapshot template.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SnapshotParams {
    /// Frame choice.
    pub mode: SnapshotMode,
    /// Seconds.
    pub start: f64,
    /// Seconds between frames (Interval mode).
    pub interval: Option<f64>,
    /// Number of images.
    pub count: u32,
    /// Pixels.
    pub width: Option<u32>,
    /// Pixels.
    pub height: Option<u32>,
    /// `jpg` or `png`, from `CIParam` `imageMogr2/format/…` (default jpg).
    pub format: String,
    /// The whole `CIParam` processing rule, applied to each image after capture.
    pub ci_param: Option<String>,
    /// Fall back to Average to still produce Count images.
    pub is_check_count: bool,
    /// Skip black frames.
    pub is_check_black: bool,
    /// Percentage of black pixels that makes a frame black.
    pub black_level: Option<u32>,
    /// Luma at or below which a pixel is black.
    pub pixel_black_threshold: Option<u32>,
    /// Images, sprites or both.
    pub out_mode: SnapshotOutMode,
    /// Sprite layout, required for sprite modes.
    pub sprite: Option<SpriteParams>,
}

impl SnapshotParams {
    /// Reads a validated `Snapshot` container.
    pub fn from_container(snapshot: &XmlElement) -> Result<Self, InvalidInput> {
        let f = Fields::new(snapshot, "Request.Snapshot");
        let mode = match f.one_of("Mode", &["Interval", "Average", "KeyFrame"])? {
            Some("Average") => SnapshotMode::Average,
            Some("KeyFrame") => SnapshotMode::KeyFrame,
            _ => SnapshotMode::Interval,
        };
        let ci_param = f.str("CIParam").map(str::to_owned);
        let format = ci_param
            .as_deref()
            .and_then(|p| p.split("format/").nth(1))
            .map(|rest| rest.split('/').next().unwrap_or("jpg").to_ascii_lowercase())
            .unwrap_or_else(|| "jpg".to_owned());
        if !matches!(format.as_str(), "jpg" | "jpeg" | "png" | "webp") {
            return Err(InvalidInput::rule(
                "Request.Snapshot.CIParam",
                format!("image format {format:?} is not supported (jpg, png, webp)"),
            ));
        }
        let out_mode = match f.one_of(
            "SnapshotOutMode",
            &["OnlySnapshot", "OnlySprite", "SnapshotAndSprite"],
        )? {
            Some("OnlySprite") => SnapshotOutMode::OnlySprite,
            Some("SnapshotAndSprite") => SnapshotOutMode::SnapshotAndSprite,
            _ => SnapshotOutMode::OnlySnapshot,
        };
        let sprite = snapshot
            .child("SpriteSnapshotConfig")
            .filter(|s| !s.is_empty())
            .map(parse_sprite)
            .transpose()?;
        if out_mode != SnapshotOutMode::OnlySnapshot && sprite.is_none() {
            return Err(InvalidInput::rule(
                "Request.Snapshot.SpriteSnapshotConfig",
                "is required when SnapshotOutMode produces sprites",
            ));
        }
        Ok(SnapshotParams {
            mode,
            start: f.f64_in("Start", 0.0, 86_400.0)?.unwrap_or(0.0),
            interval: f.f64_in("TimeInterval", 0.001, 3600.0)?,
            count: f.u32_in("Count", 1, 10_000)?.unwrap_or(1),
            width: f.u32_in("Width", 128, 4096)?,
            height: f.u32_in("Height", 128, 4096)?,
            format: if format == "jpeg" {
                "jpg".to_owned()
            } else {
                format
            },
            ci_param,
            is_check_count: f.bool("IsCheckCount")?.unwrap_or(false),
            is_check_black: f.bool("IsCheckBlack")?.unwrap_or(false),
            black_level: f.u32_in("BlackLevel", 30, 100)?,
            pixel_black_threshold: f.u32_in("PixelBlackThreshold", 0, 255)?,
            out_mode,
            sprite,
        })
    }

    /// Whether the node writes more than one file.
    pub fn writes_several(&self) -> bool {
        self.count > 1 && self.out_mode != SnapshotOutMode::OnlySprite
    }
}

fn parse_sprite(s: &XmlElement) -> Result<SpriteParams, InvalidInput> {
    let f = Fields::new(s, "Request.Snapshot.SpriteSnapshotConfig");
    Ok(SpriteParams {
        cell_width: f.u32_in("CellWidth", 8, 4096)?,
        cell_height: f.u32_in("CellHeight", 8, 4096)?,
        padding: f.u32_in("Padding", 0, 1024)?.unwrap_or(0),
        margin: f.u32_in("Margin", 0, 1024)?.unwrap_or(0),
        color: f.required("Color")?.to_owned(),
        columns: f.u32_in("Columns", 1, 10_000)?.unwrap_or(1),
        lines: f.u32_in("Lines", 1, 10_000)?.unwrap_or(1),
        scale_method: f.str("ScaleMethod").unwrap_or("DirectScale").to_owned(),
    })
}
