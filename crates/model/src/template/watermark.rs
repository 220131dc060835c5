//! Typed view of Watermark templates.

use crate::error::InvalidInput;
use crate::fields::Fields;
use crate::xml::XmlElement;

/// What the watermark draws.
#[derive(Debug, Clone, PartialEq)]
pub enum WatermarkKind {
    /// Text via drawtext.
    Text {
        /// The text (≤ 64 characters).
        text: String,
        /// Points.
        font_size: u32,
        /// `simhei.ttf`, `arial.ttf`, … (informational; a system font is used).
        font_type: Option<String>,
        /// 0xRRGGBB.
        font_color: String,
        /// Opacity percent (1–100).
        transparency: u32,
    },
    /// An image from the same bucket via overlay.
    Image {
        /// Object URL or key.
        url: String,
        /// `Original`, `Proportion` or `Fixed`.
        mode: String,
        /// Pixels (Fixed) or percent of the video width (Proportion).
        width: Option<f64>,
        /// Pixels or percent.
        height: Option<f64>,
        /// Opacity percent.
        transparency: u32,
    },
}

/// Typed view of a Watermark template.
#[derive(Debug, Clone, PartialEq)]
pub struct WatermarkParams {
    /// Text or image.
    pub kind: WatermarkKind,
    /// `TopRight`, `TopLeft`, `BottomRight`, `BottomLeft`, `Center`, …
    pub pos: String,
    /// `Absolute` (px) or `Relativity` (%).
    pub relative: bool,
    /// Horizontal offset.
    pub dx: f64,
    /// Vertical offset.
    pub dy: f64,
    /// Seconds.
    pub start: Option<f64>,
    /// Seconds.
    pub end: Option<f64>,
}

impl WatermarkParams {
    /// Reads a validated `Watermark` container.
    pub fn from_container(w: &XmlElement) -> Result<Self, InvalidInput> {
        let f = Fields::new(w, "Request.Watermark");
        let relative = f
            .str("LocMode")
            .is_some_and(|m| m.eq_ignore_ascii_case("Relativity"));
        let (dx, dy) = (
            f.f64_in("Dx", -4096.0, 4096.0)?.unwrap_or(0.0),
            f.f64_in("Dy", -4096.0, 4096.0)?.unwrap_or(0.0),
        );
        if relative && !((0.0..=100.0).contains(&dx) && (0.0..=100.0).contains(&dy)) {
            return Err(InvalidInput::rule(
                "Request.Watermark.Dx",
                "with LocMode Relativity, Dx and Dy are percentages in [0, 100]",
            ));
        }
        let kind = if f.required("Type")?.eq_ignore_ascii_case("Text") {
            let t = w.child("Text").ok_or_else(|| {
                InvalidInput::rule("Request.Watermark.Text", "is required for a Text watermark")
            })?;
            let tf = Fields::new(t, "Request.Watermark.Text");
            let color = tf.str("FontColor").unwrap_or("0xFFFFFF").to_owned();
            let hex = color
                .strip_prefix("0x")
                .or_else(|| color.strip_prefix("0X"))
                .unwrap_or("");
            if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(InvalidInput::rule(
                    "Request.Watermark.Text.FontColor",
                    format!("must look like 0xRRGGBB, got {color:?}"),
                ));
            }
            WatermarkKind::Text {
                text: tf.required("Text")?.to_owned(),
                font_size: tf.u32_in("FontSize", 5, 100)?.unwrap_or(24),
                font_type: tf.str("FontType").map(str::to_owned),
                font_color: color,
                transparency: tf.u32_in("Transparency", 1, 100)?.unwrap_or(100),
            }
        } else {
            let i = w.child("Image").ok_or_else(|| {
                InvalidInput::rule(
                    "Request.Watermark.Image",
                    "is required for an Image watermark",
                )
            })?;
            let imf = Fields::new(i, "Request.Watermark.Image");
            WatermarkKind::Image {
                url: imf.required("Url")?.to_owned(),
                mode: imf.str("Mode").unwrap_or("Original").to_owned(),
                width: imf.f64_in("Width", 0.0, 4096.0)?,
                height: imf.f64_in("Height", 0.0, 4096.0)?,
                transparency: imf.u32_in("Transparency", 1, 100)?.unwrap_or(100),
            }
        };
        Ok(WatermarkParams {
            kind,
            pos: f.str("Pos").unwrap_or("TopRight").to_owned(),
            relative,
            dx,
            dy,
            start: f.f64_in("StartTime", 0.0, 86_400.0)?,
            end: f.f64_in("EndTime", 0.0, 86_400.0)?,
        })
    }
}
