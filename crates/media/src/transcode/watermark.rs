//! CI watermark templates (reference section 5.7) as ffmpeg filters.
//!
//! - **Text**: `drawtext` with the text passed literally (`expansion=none`, every
//!   special character escaped for both filtergraph parser levels), `FontSize`,
//!   `FontColor` `0xRRGGBB` and opacity. The font is a file: the caller's, or a system
//!   font found at run time ([`find_font`]: `fc-match`, then a scan of the usual font
//!   directories for DejaVuSans). No font at all is [`MediaError::InvalidSpec`].
//! - **Image**: the image becomes an extra ffmpeg input drawn with `overlay`. `Mode`
//!   `Original` keeps its size, `Fixed` sets `Width`/`Height` in pixels, `Proportion`
//!   sets them in percent of the video frame (`scale2ref`); one side alone keeps the
//!   image's aspect ratio.
//!
//! `Pos` picks the anchor corner (or centre/edge), `LocMode` `Absolute` reads `Dx`/`Dy`
//! as pixels and `Relativity` as percent of the frame width/height, measured inwards
//! from the anchor. `StartTime`/`EndTime` become `enable='between(t,a,b)'` (output
//! time).
//!
//! `Transparency` is read as CI uses it for watermarks (like `dissolve` in image
//! processing): the percentage of the watermark that shows, 100 = fully opaque.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::extras::Overlay;
use crate::error::MediaError;
use crate::ffmpeg::{filter, filter_options, num};
use crate::process::{RunControl, ToolCommand};

/// Longest watermark text CI accepts.
const MAX_TEXT_CHARS: usize = 64;
/// Font directories scanned when `fc-match` is unavailable.
const FONT_DIRS: &[&str] = &["/usr/share/fonts", "/usr/local/share/fonts"];
/// The font preferred when nothing else is asked for.
const PREFERRED_FONT: &str = "DejaVuSans.ttf";

/// One watermark: what to draw, where and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Watermark {
    /// Text or image.
    pub kind: WatermarkKind,
    /// CI `Pos`: the anchor.
    pub pos: WatermarkPos,
    /// CI `LocMode`: how `dx`/`dy` are measured.
    pub loc_mode: LocMode,
    /// CI `Dx`: horizontal offset from the anchor, inwards.
    pub dx: f64,
    /// CI `Dy`: vertical offset from the anchor, inwards.
    pub dy: f64,
    /// CI `StartTime` in seconds of output time.
    pub start_time: Option<f64>,
    /// CI `EndTime` in seconds of output time.
    pub end_time: Option<f64>,
}

/// CI `Type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WatermarkKind {
    /// A text watermark.
    Text(TextWatermark),
    /// An image watermark.
    Image(ImageWatermark),
}

/// CI `Text`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextWatermark {
    /// The text (at most 64 characters), drawn literally.
    pub text: String,
    /// `FontSize` in pixels, 5–100.
    pub font_size: u32,
    /// `FontColor` as `0xRRGGBB` (or `#RRGGBB`).
    pub font_color: String,
    /// `Transparency`: opacity percent, 1–100 (100 = opaque).
    pub transparency: u8,
    /// A font file supplied by the caller. `None`: a system font is looked up.
    pub font_file: Option<PathBuf>,
    /// CI `FontType` (`simhei.ttf`, `arial.ttf`, …): the family asked of `fc-match`
    /// when there is no `font_file`.
    pub font_type: Option<String>,
}

impl Default for TextWatermark {
    fn default() -> Self {
        Self {
            text: String::new(),
            font_size: 24,
            font_color: "0xFFFFFF".into(),
            transparency: 100,
            font_file: None,
            font_type: None,
        }
    }
}

/// CI `Image`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageWatermark {
    /// The image file (the engine downloads CI's `Url`).
    pub path: PathBuf,
    /// CI `Mode`.
    pub mode: ImageWatermarkMode,
    /// `Width`: pixels (Fixed) or percent of the frame width (Proportion).
    pub width: Option<f64>,
    /// `Height`: pixels (Fixed) or percent of the frame height (Proportion).
    pub height: Option<f64>,
    /// `Transparency`: opacity percent, 1–100 (100 = opaque).
    pub transparency: u8,
}

/// CI image `Mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImageWatermarkMode {
    /// The image's own size.
    #[default]
    Original,
    /// Percent of the video frame.
    Proportion,
    /// Pixels.
    Fixed,
}

/// CI `Pos`. The GO SDK also lists the edge centres.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum WatermarkPos {
    /// Top left corner.
    TopLeft,
    /// Top right corner (default).
    #[default]
    TopRight,
    /// Bottom left corner.
    BottomLeft,
    /// Bottom right corner.
    BottomRight,
    /// Centre of the frame.
    Center,
    /// Centre of the top edge.
    Top,
    /// Centre of the bottom edge.
    Bottom,
    /// Centre of the left edge.
    Left,
    /// Centre of the right edge.
    Right,
}

impl WatermarkPos {
    /// Parses CI's names (case-insensitive): TopLeft, TopRight, BottomLeft,
    /// BottomRight, Center, Top, Bottom, Left, Right.
    pub fn parse(text: &str) -> Result<Self, MediaError> {
        Ok(match text.trim().to_ascii_lowercase().as_str() {
            "topleft" => Self::TopLeft,
            "topright" => Self::TopRight,
            "bottomleft" => Self::BottomLeft,
            "bottomright" => Self::BottomRight,
            "center" | "centre" => Self::Center,
            "top" => Self::Top,
            "bottom" => Self::Bottom,
            "left" => Self::Left,
            "right" => Self::Right,
            other => {
                return Err(MediaError::invalid_spec(format!(
                    "watermark Pos {other:?} is not supported"
                )));
            }
        })
    }

    /// Horizontal and vertical anchors.
    fn anchors(self) -> (Anchor, Anchor) {
        use Anchor::{Center as C, End as E, Start as S};
        match self {
            Self::TopLeft => (S, S),
            Self::TopRight => (E, S),
            Self::BottomLeft => (S, E),
            Self::BottomRight => (E, E),
            Self::Center => (C, C),
            Self::Top => (C, S),
            Self::Bottom => (C, E),
            Self::Left => (S, C),
            Self::Right => (E, C),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Anchor {
    Start,
    Center,
    End,
}

/// CI `LocMode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LocMode {
    /// Offsets in pixels.
    #[default]
    Absolute,
    /// Offsets in percent of the frame size.
    Relativity,
}

impl LocMode {
    /// Parses `Absolute` / `Relativity` (case-insensitive).
    pub fn parse(text: &str) -> Result<Self, MediaError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "absolute" => Ok(Self::Absolute),
            "relativity" | "relative" => Ok(Self::Relativity),
            other => Err(MediaError::invalid_spec(format!(
                "watermark LocMode {other:?} is not supported (Absolute, Relativity)"
            ))),
        }
    }
}

impl Watermark {
    /// A text watermark at `pos` with no offset, shown throughout.
    pub fn text(text: TextWatermark, pos: WatermarkPos) -> Self {
        Self::new(WatermarkKind::Text(text), pos)
    }

    /// An image watermark at `pos` with no offset, shown throughout.
    pub fn image(image: ImageWatermark, pos: WatermarkPos) -> Self {
        Self::new(WatermarkKind::Image(image), pos)
    }

    fn new(kind: WatermarkKind, pos: WatermarkPos) -> Self {
        Self {
            kind,
            pos,
            loc_mode: LocMode::Absolute,
            dx: 0.0,
            dy: 0.0,
            start_time: None,
            end_time: None,
        }
    }

    /// Checks the fields against CI's ranges.
    pub fn validate(&self) -> Result<(), MediaError> {
        let bad = |m: String| Err(MediaError::invalid_spec(format!("watermark: {m}")));
        if !(self.dx.is_finite() && self.dy.is_finite()) {
            return bad("Dx and Dy must be numbers".into());
        }
        for t in [self.start_time, self.end_time].into_iter().flatten() {
            if !(t.is_finite() && t >= 0.0) {
                return bad(format!("StartTime/EndTime must be ≥ 0, got {t}"));
            }
        }
        if let (Some(s), Some(e)) = (self.start_time, self.end_time)
            && e <= s
        {
            return bad(format!("EndTime {e} must be after StartTime {s}"));
        }
        match &self.kind {
            WatermarkKind::Text(t) => {
                if t.text.trim().is_empty() {
                    return bad("Text is empty".into());
                }
                if t.text.chars().count() > MAX_TEXT_CHARS {
                    return bad(format!("Text is longer than {MAX_TEXT_CHARS} characters"));
                }
                if !(5..=100).contains(&t.font_size) {
                    return bad(format!("FontSize must be in [5, 100], got {}", t.font_size));
                }
                parse_color(&t.font_color)?;
                check_transparency(t.transparency)?;
            }
            WatermarkKind::Image(i) => {
                check_transparency(i.transparency)?;
                let limit = match i.mode {
                    ImageWatermarkMode::Original => {
                        if i.width.is_some() || i.height.is_some() {
                            return bad("Width/Height cannot be set in Original mode".into());
                        }
                        0.0
                    }
                    ImageWatermarkMode::Proportion => 300.0,
                    ImageWatermarkMode::Fixed => 4096.0,
                };
                if i.mode != ImageWatermarkMode::Original && i.width.is_none() && i.height.is_none()
                {
                    return bad(format!("{:?} mode needs Width or Height", i.mode));
                }
                for v in [i.width, i.height].into_iter().flatten() {
                    if !(v.is_finite() && v > 0.0 && v <= limit) {
                        return bad(format!(
                            "image Width/Height must be in (0, {limit}], got {v}"
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

fn check_transparency(t: u8) -> Result<(), MediaError> {
    if (1..=100).contains(&t) {
        Ok(())
    } else {
        Err(MediaError::invalid_spec(format!(
            "watermark Transparency must be in [1, 100], got {t}"
        )))
    }
}

/// `0xRRGGBB` or `#RRGGBB` → `0xRRGGBB`.
fn parse_color(text: &str) -> Result<String, MediaError> {
    let t = text.trim();
    let hex = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .or_else(|| t.strip_prefix('#'))
        .unwrap_or(t);
    if hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(format!("0x{}", hex.to_ascii_uppercase()))
    } else {
        Err(MediaError::invalid_spec(format!(
            "watermark FontColor {text:?} must be 0xRRGGBB"
        )))
    }
}

/// `x` and `y` expressions placing an object of size (`ow`, `oh`) in a frame of size
/// (`fw`, `fh`), each pair named as the filter names them.
fn place(mark: &Watermark, frame: (&str, &str), object: (&str, &str)) -> (String, String) {
    let (fw, fh) = frame;
    let (ow, oh) = object;
    let offset = |d: f64, side: &str| match mark.loc_mode {
        LocMode::Absolute => num(d),
        LocMode::Relativity => format!("{side}*{}/100", num(d)),
    };
    let axis = |anchor: Anchor, d: String, full: &str, obj: &str| match (anchor, d == "0") {
        (Anchor::Start, _) => d,
        (Anchor::End, true) => format!("{full}-{obj}"),
        (Anchor::End, false) => format!("{full}-{obj}-{d}"),
        (Anchor::Center, true) => format!("({full}-{obj})/2"),
        (Anchor::Center, false) => format!("({full}-{obj})/2+{d}"),
    };
    let (h, v) = mark.pos.anchors();
    (
        axis(h, offset(mark.dx, fw), fw, ow),
        axis(v, offset(mark.dy, fh), fh, oh),
    )
}

/// The `enable` expression of a time window.
fn enable(mark: &Watermark) -> Option<String> {
    match (mark.start_time, mark.end_time) {
        (None, None) => None,
        (Some(s), None) => Some(format!("gte(t,{})", num(s))),
        (None, Some(e)) => Some(format!("lte(t,{})", num(e))),
        (Some(s), Some(e)) => Some(format!("between(t,{},{})", num(s), num(e))),
    }
}

fn opacity(transparency: u8) -> String {
    num(f64::from(transparency.clamp(1, 100)) / 100.0)
}

/// The `drawtext` filter of a text watermark (its font must be resolved).
pub(crate) fn text_filter(mark: &Watermark) -> Result<String, MediaError> {
    mark.validate()?;
    let WatermarkKind::Text(t) = &mark.kind else {
        return Err(MediaError::invalid_spec("not a text watermark"));
    };
    let font = t.font_file.as_deref().ok_or_else(|| {
        MediaError::invalid_spec("text watermark has no font (resolve it with find_font)")
    })?;
    let font = crate::paths::arg(font)?;
    let (x, y) = place(mark, ("w", "h"), ("tw", "th"));
    let mut options = vec![
        ("fontfile", font),
        ("text", t.text.clone()),
        ("expansion", "none".into()),
        ("fontsize", t.font_size.to_string()),
        (
            "fontcolor",
            format!(
                "{}@{}",
                parse_color(&t.font_color)?,
                opacity(t.transparency)
            ),
        ),
        ("x", x),
        ("y", y),
    ];
    if let Some(e) = enable(mark) {
        options.push(("enable", e));
    }
    Ok(filter("drawtext", &options))
}

/// The overlay of an image watermark.
pub(crate) fn overlay(mark: &Watermark) -> Result<Overlay, MediaError> {
    mark.validate()?;
    let WatermarkKind::Image(i) = &mark.kind else {
        return Err(MediaError::invalid_spec("not an image watermark"));
    };
    let mut prepare = vec!["format=rgba".to_owned()];
    if i.transparency < 100 {
        prepare.push(format!("colorchannelmixer=aa={}", opacity(i.transparency)));
    }
    let side = |v: Option<f64>| v.map_or("-1".to_owned(), |v| num(v.round()));
    let mut scale_ref = None;
    match i.mode {
        ImageWatermarkMode::Original => {}
        ImageWatermarkMode::Fixed => {
            prepare.push(format!("scale={}:{}", side(i.width), side(i.height)));
        }
        ImageWatermarkMode::Proportion => {
            // In scale2ref `iw`/`ih` are the reference (the video frame) and `main_*`
            // the image being scaled.
            let (w, h) = match (i.width, i.height) {
                (Some(w), Some(h)) => (format!("iw*{}/100", num(w)), format!("ih*{}/100", num(h))),
                (Some(w), None) => (format!("iw*{}/100", num(w)), "ow/main_a".into()),
                (None, Some(h)) => ("oh*main_a".into(), format!("ih*{}/100", num(h))),
                (None, None) => unreachable!("validate() requires a side"),
            };
            scale_ref = Some(filter_options(&[("w", w), ("h", h)]));
        }
    }
    let (x, y) = place(mark, ("main_w", "main_h"), ("overlay_w", "overlay_h"));
    let mut options = vec![("x", x), ("y", y)];
    if let Some(e) = enable(mark) {
        options.push(("enable", e));
    }
    Ok(Overlay {
        image: i.path.clone(),
        prepare,
        scale_ref,
        overlay: filter("overlay", &options),
    })
}

/// Checks image watermark files exist and gives every text watermark a font file:
/// its own, or [`find_font`]'s answer for its `font_type`.
pub(crate) async fn resolve(marks: &[Watermark]) -> Result<Vec<Watermark>, MediaError> {
    let mut out = Vec::with_capacity(marks.len());
    for mark in marks {
        let mut mark = mark.clone();
        match &mut mark.kind {
            WatermarkKind::Text(t) => match &t.font_file {
                Some(file) if !file.is_file() => {
                    return Err(MediaError::invalid_spec(format!(
                        "watermark font {} does not exist",
                        file.display()
                    )));
                }
                Some(_) => {}
                None => t.font_file = Some(find_font(t.font_type.as_deref()).await?),
            },
            WatermarkKind::Image(i) => {
                if !i.path.is_file() {
                    return Err(MediaError::invalid_spec(format!(
                        "watermark image {} does not exist",
                        i.path.display()
                    )));
                }
            }
        }
        out.push(mark);
    }
    Ok(out)
}

/// A font file for text watermarks: `fc-match` for `family` (CI `FontType` such as
/// `arial.ttf`; `sans-serif` when `None`), else DejaVuSans or any TrueType/OpenType
/// font under `/usr/share/fonts`. No font at all is [`MediaError::InvalidSpec`].
pub async fn find_font(family: Option<&str>) -> Result<PathBuf, MediaError> {
    let family = family
        .map(|f| {
            let f = f.trim();
            Path::new(f)
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or(f)
                .to_owned()
        })
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| "sans-serif".into());
    if let Some(found) = fc_match(&family).await {
        return Ok(found);
    }
    let scanned = tokio::task::spawn_blocking(scan_font_dirs)
        .await
        .ok()
        .flatten();
    scanned.ok_or_else(|| {
        MediaError::invalid_spec(
            "no font is available for the text watermark: install a font package \
             (e.g. fonts-dejavu-core) or pass a font file",
        )
    })
}

async fn fc_match(family: &str) -> Option<PathBuf> {
    let output = ToolCommand::new("fc-match")
        .args(["-f", "%{file}", family])
        .timeout(Duration::from_secs(10))
        .run(&RunControl::new())
        .await
        .ok()?;
    let path = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
    (path.is_absolute() && path.is_file()).then_some(path)
}

/// DejaVuSans.ttf if present, else the first font file by name, under [`FONT_DIRS`].
fn scan_font_dirs() -> Option<PathBuf> {
    let mut fonts = Vec::new();
    for dir in FONT_DIRS {
        collect_fonts(Path::new(dir), 0, &mut fonts);
    }
    fonts.sort();
    let preferred = fonts
        .iter()
        .find(|p| p.file_name().is_some_and(|n| n == PREFERRED_FONT));
    preferred.or(fonts.first()).cloned()
}

fn collect_fonts(dir: &Path, depth: u32, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && depth < 4 {
            collect_fonts(&path, depth + 1, out);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "ttf" | "otf" | "ttc"))
        {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod tests;
