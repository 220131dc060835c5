//! Picture processing (CI `PicProcess` node): the common `imageMogr2` operations,
//! parsed into [`PicOps`] and applied to one image with ffmpeg.
//!
//! Supported, applied in the order written:
//! - `thumbnail/<spec>`: `!<P>p` (both sides to P %), `!<P>px` (width only),
//!   `!x<P>p` (height only), `<W>x` / `x<H>` (one side, aspect kept), `<W>x<H>`
//!   (fit inside), `!<W>x<H>r` (cover), `<W>x<H>!` (exactly), `<A>@` (about A pixels);
//!   a trailing `>` scales only down, `<` only up;
//! - `crop/<W>x<H>` (also `<W>x`, `x<H>`, with `a<dx>a<dy>` offsets), placed by
//!   `gravity/<northwest|north|northeast|west|center|east|southwest|south|southeast>`
//!   (default northwest, as in CI);
//! - `rotate/<degrees>` clockwise; quarter turns are exact, other angles enlarge the
//!   picture and fill the corners (white for JPEG, transparent otherwise);
//! - `format/<jpg|jpeg|png|webp>`, `quality/<1-100>` (also `rquality`/`lquality`,
//!   a trailing `!` is accepted), `strip` (drop metadata); `auto-orient` and
//!   `ignore-error/1` are accepted and change nothing.
//!
//! Anything else is [`MediaError::InvalidSpec`] naming the operation. Geometry is
//! computed in Rust from the probed size, so every filter gets exact pixel values.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::MediaError;
use crate::ffmpeg::{num, prelude};
use crate::image::ImageFormat;
use crate::limits::MediaTools;
use crate::paths;
use crate::process::RunControl;

/// Largest side a thumbnail may reach.
const MAX_SIDE: u32 = 16_384;

/// A parsed `imageMogr2` pipeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PicOps {
    /// Geometry steps, in order.
    pub steps: Vec<PicStep>,
    /// `format/…`; `None` keeps the input's format (JPEG when it is none of ours).
    pub format: Option<ImageFormat>,
    /// `quality/…`, 1–100.
    pub quality: Option<u8>,
    /// `strip`: drop metadata.
    pub strip: bool,
}

/// One geometry step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PicStep {
    /// `thumbnail/…`.
    Thumbnail(Thumbnail),
    /// `crop/…` with its gravity.
    Crop {
        /// Crop width (`None`: the whole width).
        width: Option<u32>,
        /// Crop height (`None`: the whole height).
        height: Option<u32>,
        /// Where the kept region sits.
        gravity: Gravity,
        /// Offset from the gravity point, pixels.
        dx: u32,
        /// Offset from the gravity point, pixels.
        dy: u32,
    },
    /// `rotate/…`, clockwise degrees.
    Rotate(f64),
}

/// A `thumbnail` size rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Thumbnail {
    /// Width and height percentages.
    Percent {
        /// Width percent.
        width: f64,
        /// Height percent.
        height: f64,
    },
    /// A width, the height following.
    Width(u32, Only),
    /// A height, the width following.
    Height(u32, Only),
    /// Fit inside a box.
    Fit(u32, u32, Only),
    /// Cover a box (the result is at least that big).
    Fill(u32, u32),
    /// Exactly this size.
    Exact(u32, u32),
    /// About this many pixels.
    Area(u64),
}

/// `>` / `<` markers of a thumbnail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Only {
    /// Scale either way.
    #[default]
    Any,
    /// Only when that makes the picture smaller (`>`).
    Shrink,
    /// Only when that makes the picture larger (`<`).
    Enlarge,
}

/// Crop placement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Gravity {
    /// Top left (CI default).
    #[default]
    NorthWest,
    /// Top centre.
    North,
    /// Top right.
    NorthEast,
    /// Middle left.
    West,
    /// Centre.
    Center,
    /// Middle right.
    East,
    /// Bottom left.
    SouthWest,
    /// Bottom centre.
    South,
    /// Bottom right.
    SouthEast,
}

impl Gravity {
    fn parse(text: &str) -> Result<Self, MediaError> {
        Ok(match text.to_ascii_lowercase().as_str() {
            "northwest" => Self::NorthWest,
            "north" => Self::North,
            "northeast" => Self::NorthEast,
            "west" => Self::West,
            "center" | "centre" => Self::Center,
            "east" => Self::East,
            "southwest" => Self::SouthWest,
            "south" => Self::South,
            "southeast" => Self::SouthEast,
            other => return Err(bad(format!("gravity {other:?} is not supported"))),
        })
    }

    /// Horizontal and vertical position: 0 start, 1 middle, 2 end.
    fn anchors(self) -> (u8, u8) {
        match self {
            Self::NorthWest => (0, 0),
            Self::North => (1, 0),
            Self::NorthEast => (2, 0),
            Self::West => (0, 1),
            Self::Center => (1, 1),
            Self::East => (2, 1),
            Self::SouthWest => (0, 2),
            Self::South => (1, 2),
            Self::SouthEast => (2, 2),
        }
    }
}

fn bad(message: impl Into<String>) -> MediaError {
    MediaError::invalid_spec(format!("imageMogr2: {}", message.into()))
}

fn int<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, MediaError> {
    text.parse()
        .map_err(|_| bad(format!("{what} {text:?} is not a number")))
}

fn size(text: &str, what: &str) -> Result<u32, MediaError> {
    let v: u32 = int(text, what)?;
    if v == 0 || v > MAX_SIDE {
        return Err(bad(format!("{what} {v} must be in [1, {MAX_SIDE}]")));
    }
    Ok(v)
}

fn percent(text: &str) -> Result<f64, MediaError> {
    let v: f64 = int(text, "scale")?;
    if !(v > 0.0 && v <= 1000.0) {
        return Err(bad(format!("scale {v}% must be in (0, 1000]")));
    }
    Ok(v)
}

impl Thumbnail {
    fn parse(text: &str) -> Result<Self, MediaError> {
        let t = text.trim();
        if let Some(rest) = t.strip_prefix('!') {
            if let Some(p) = rest.strip_prefix('x').and_then(|r| r.strip_suffix('p')) {
                return Ok(Self::Percent {
                    width: 100.0,
                    height: percent(p)?,
                });
            }
            if let Some(p) = rest.strip_suffix("px") {
                return Ok(Self::Percent {
                    width: percent(p)?,
                    height: 100.0,
                });
            }
            if let Some(p) = rest.strip_suffix('p') {
                let p = percent(p)?;
                return Ok(Self::Percent {
                    width: p,
                    height: p,
                });
            }
            if let Some((w, h)) = rest.strip_suffix('r').and_then(|r| r.split_once('x')) {
                return Ok(Self::Fill(size(w, "width")?, size(h, "height")?));
            }
            return Err(bad(format!("thumbnail {t:?} is not supported")));
        }
        if let Some(area) = t.strip_suffix('@') {
            let a: u64 = int(area, "area")?;
            if a == 0 {
                return Err(bad("thumbnail area must be positive"));
            }
            return Ok(Self::Area(a));
        }
        if let Some((w, h)) = t.strip_suffix('!').and_then(|r| r.split_once('x')) {
            return Ok(Self::Exact(size(w, "width")?, size(h, "height")?));
        }
        let (body, only) = match t.as_bytes().last() {
            Some(b'>') => (&t[..t.len() - 1], Only::Shrink),
            Some(b'<') => (&t[..t.len() - 1], Only::Enlarge),
            _ => (t, Only::Any),
        };
        match body.split_once('x') {
            Some((w, "")) => Ok(Self::Width(size(w, "width")?, only)),
            Some(("", h)) => Ok(Self::Height(size(h, "height")?, only)),
            Some((w, h)) => Ok(Self::Fit(size(w, "width")?, size(h, "height")?, only)),
            None => Err(bad(format!("thumbnail {t:?} is not supported"))),
        }
    }
}

/// `<W>x<H>[a<dx>a<dy>]`, either side optional.
fn parse_crop(text: &str) -> Result<(Option<u32>, Option<u32>, u32, u32), MediaError> {
    let (dims, offsets) = match text.find('a') {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let (w, h) = dims
        .split_once('x')
        .ok_or_else(|| bad(format!("crop {text:?} must be <W>x<H>")))?;
    let side = |s: &str, what| (!s.is_empty()).then(|| size(s, what)).transpose();
    let (w, h) = (side(w, "crop width")?, side(h, "crop height")?);
    if w.is_none() && h.is_none() {
        return Err(bad("crop needs a width or a height"));
    }
    let (dx, dy) = match offsets {
        None => (0, 0),
        Some(o) => {
            let (dx, dy) = o.split_once('a').unwrap_or((o, "0"));
            (int(dx, "crop offset")?, int(dy, "crop offset")?)
        }
    };
    Ok((w, h, dx, dy))
}

impl PicOps {
    /// Parses an `imageMogr2/…` string (a leading `?` or `/` is ignored).
    pub fn parse(text: &str) -> Result<Self, MediaError> {
        let text = text.trim().trim_start_matches(['?', '/']);
        if text.contains('|') {
            return Err(bad("only one imageMogr2 pipeline is supported"));
        }
        let rest = text
            .strip_prefix("imageMogr2")
            .ok_or_else(|| bad(format!("{text:?} is not an imageMogr2 operation")))?;
        let mut tokens = rest.split('/').filter(|t| !t.is_empty());
        let mut ops = Self::default();
        let mut gravity = None;
        while let Some(op) = tokens.next() {
            let mut value = || {
                tokens
                    .next()
                    .ok_or_else(|| bad(format!("{op} needs a value")))
            };
            match op {
                "thumbnail" => ops
                    .steps
                    .push(PicStep::Thumbnail(Thumbnail::parse(value()?)?)),
                "crop" => {
                    let (width, height, dx, dy) = parse_crop(value()?)?;
                    ops.steps.push(PicStep::Crop {
                        width,
                        height,
                        gravity: Gravity::NorthWest,
                        dx,
                        dy,
                    });
                }
                "gravity" => gravity = Some(Gravity::parse(value()?)?),
                "rotate" => {
                    let deg: f64 = int(value()?, "rotation")?;
                    if !(0.0..=360.0).contains(&deg) {
                        return Err(bad(format!("rotate {deg} must be in [0, 360]")));
                    }
                    ops.steps.push(PicStep::Rotate(deg));
                }
                "format" => ops.format = Some(ImageFormat::parse(value()?)?),
                "quality" | "rquality" | "lquality" => {
                    let q: u8 = int(value()?.trim_end_matches('!'), "quality")?;
                    if !(1..=100).contains(&q) {
                        return Err(bad(format!("quality {q} must be in [1, 100]")));
                    }
                    ops.quality = Some(q);
                }
                "strip" => ops.strip = true,
                "auto-orient" => {}
                "ignore-error" => {
                    value()?;
                }
                other => return Err(bad(format!("operation {other:?} is not supported"))),
            }
        }
        // `gravity` applies to the crops of the pipeline, wherever it is written.
        if let Some(g) = gravity {
            for step in &mut ops.steps {
                if let PicStep::Crop { gravity, .. } = step {
                    *gravity = g;
                }
            }
        }
        Ok(ops)
    }
}

/// The filters of `ops` for an image of `size`, and the resulting size.
fn plan(ops: &PicOps, size: (u32, u32), format: ImageFormat) -> (Vec<String>, (u32, u32)) {
    let (mut w, mut h) = size;
    let mut filters = Vec::new();
    for step in &ops.steps {
        match step {
            PicStep::Thumbnail(t) => {
                let (fw, fh) = (f64::from(w), f64::from(h));
                let scaled = |s: f64| ((fw * s).round().max(1.0), (fh * s).round().max(1.0));
                let (nw, nh) = match *t {
                    Thumbnail::Percent { width, height } => (
                        (fw * width / 100.0).round().max(1.0),
                        (fh * height / 100.0).round().max(1.0),
                    ),
                    Thumbnail::Width(tw, only) => keep(scaled(f64::from(tw) / fw), only, w),
                    Thumbnail::Height(th, only) => keep(scaled(f64::from(th) / fh), only, w),
                    Thumbnail::Fit(tw, th, only) => keep(
                        scaled((f64::from(tw) / fw).min(f64::from(th) / fh)),
                        only,
                        w,
                    ),
                    Thumbnail::Fill(tw, th) => scaled((f64::from(tw) / fw).max(f64::from(th) / fh)),
                    Thumbnail::Exact(tw, th) => (f64::from(tw), f64::from(th)),
                    Thumbnail::Area(a) => scaled((a as f64 / (fw * fh)).sqrt()),
                };
                let (nw, nh) = ((nw as u32).min(MAX_SIDE), (nh as u32).min(MAX_SIDE));
                if (nw, nh) != (w, h) {
                    filters.push(format!("scale={nw}:{nh}:flags=lanczos"));
                    (w, h) = (nw, nh);
                }
            }
            PicStep::Crop {
                width,
                height,
                gravity,
                dx,
                dy,
            } => {
                let cw = width.unwrap_or(w).min(w);
                let ch = height.unwrap_or(h).min(h);
                let (ax, ay) = gravity.anchors();
                let place = |anchor: u8, full: u32, part: u32, d: u32| {
                    let base = match anchor {
                        0 => 0,
                        1 => (full - part) / 2,
                        _ => full - part,
                    };
                    (base + d).min(full - part)
                };
                let (x, y) = (place(ax, w, cw, *dx), place(ay, h, ch, *dy));
                filters.push(format!("crop={cw}:{ch}:{x}:{y}"));
                (w, h) = (cw, ch);
            }
            PicStep::Rotate(deg) => {
                let d = deg.rem_euclid(360.0);
                if d == 0.0 {
                    continue;
                }
                if d == 90.0 || d == 270.0 {
                    let dir = if d == 90.0 { "clock" } else { "cclock" };
                    filters.push(format!("transpose={dir}"));
                    (w, h) = (h, w);
                } else if d == 180.0 {
                    filters.extend(["hflip".into(), "vflip".into()]);
                } else {
                    let (sin, cos) = d.to_radians().sin_cos();
                    let (fw, fh) = (f64::from(w), f64::from(h));
                    let nw = (fw * cos.abs() + fh * sin.abs()).round() as u32;
                    let nh = (fw * sin.abs() + fh * cos.abs()).round() as u32;
                    let fill = if format.has_alpha() { "none" } else { "white" };
                    if format.has_alpha() {
                        filters.push("format=rgba".into());
                    }
                    filters.push(format!("rotate={}*PI/180:ow={nw}:oh={nh}:c={fill}", num(d)));
                    (w, h) = (nw, nh);
                }
            }
        }
    }
    (filters, (w, h))
}

/// Applies a `>` / `<` marker: the new size, or the current one.
fn keep((nw, nh): (f64, f64), only: Only, current_w: u32) -> (f64, f64) {
    let bigger = nw > f64::from(current_w);
    match only {
        Only::Shrink if bigger => (f64::from(current_w), nh * f64::from(current_w) / nw),
        Only::Enlarge if !bigger => (f64::from(current_w), nh * f64::from(current_w) / nw),
        _ => (nw, nh),
    }
}

/// The output format: the ops', else the input's when it is one of ours, else JPEG.
fn output_format(ops: &PicOps, input: &Path) -> ImageFormat {
    ops.format.unwrap_or_else(|| {
        input
            .extension()
            .and_then(|e| e.to_str())
            .and_then(|e| ImageFormat::parse(e).ok())
            .unwrap_or(ImageFormat::Jpg)
    })
}

/// The file [`apply_pic_ops`] writes: the input's name with the output extension, in
/// `output_dir`.
pub fn pic_output_path(input: &Path, output_dir: &Path, ops: &PicOps) -> PathBuf {
    let stem = input
        .file_stem()
        .map_or("image".into(), |s| s.to_string_lossy());
    output_dir.join(format!("{stem}.{}", output_format(ops, input).ext()))
}

/// The ffmpeg arguments applying `ops` to an image of `size`, writing `output`.
pub fn pic_ops_args(
    input: &Path,
    output: &Path,
    ops: &PicOps,
    size: (u32, u32),
) -> Result<Vec<String>, MediaError> {
    let format = output_format(ops, input);
    let (filters, _) = plan(ops, size, format);
    let mut args = prelude();
    args.extend([
        "-i".into(),
        paths::arg(input)?,
        "-map".into(),
        "0:v:0".into(),
    ]);
    if !filters.is_empty() {
        args.extend(["-vf".into(), filters.join(",")]);
    }
    args.extend(["-frames:v".into(), "1".into()]);
    args.extend(format.encoder_args(ops.quality));
    if ops.strip {
        args.extend(["-map_metadata".into(), "-1".into()]);
    }
    args.extend(["-update", "1", "-f", "image2"].map(String::from));
    args.push(paths::arg(output)?);
    Ok(args)
}

/// Applies `ops` to `input_image`, writing `<stem>.<ext>` into `output_dir` (the
/// extension from `format/…`), with default tools and limits. Processing in place
/// (same directory, same format) is allowed.
pub async fn apply_pic_ops(
    input_image: &Path,
    output_dir: &Path,
    ops: &PicOps,
    ctl: &RunControl,
) -> Result<PathBuf, MediaError> {
    MediaTools::default()
        .apply_pic_ops(input_image, output_dir, ops, ctl)
        .await
}

impl MediaTools {
    /// [`apply_pic_ops`] with these tools and limits.
    pub async fn apply_pic_ops(
        &self,
        input_image: &Path,
        output_dir: &Path,
        ops: &PicOps,
        ctl: &RunControl,
    ) -> Result<PathBuf, MediaError> {
        let info = self.probe(input_image, ctl).await?;
        let size = info
            .video()
            .and_then(|v| Some((v.width?, v.height?)))
            .ok_or_else(|| MediaError::invalid_input("the input is not an image"))?;
        tokio::fs::create_dir_all(output_dir)
            .await
            .map_err(MediaError::io(
                "could not create output directory",
                output_dir,
            ))?;
        let output = paths::absolute(&pic_output_path(input_image, output_dir, ops))?;
        // Written aside first: the output may replace the input.
        let name = output
            .file_name()
            .map_or_else(Default::default, |n| n.to_string_lossy().into_owned());
        let temp = output.with_file_name(format!(
            ".{name}.part.{}",
            output_format(ops, input_image).ext()
        ));
        let args = pic_ops_args(input_image, &temp, ops, size)?;
        let run = self
            .ffmpeg_command(args, Some(1.0))
            .progress_frames(1)
            .run(ctl)
            .await;
        if let Err(err) = run {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(err.into());
        }
        if !tokio::fs::metadata(&temp).await.is_ok_and(|m| m.len() > 0) {
            return Err(MediaError::NoOutput { path: output });
        }
        tokio::fs::rename(&temp, &output)
            .await
            .map_err(MediaError::io(
                "could not move the processed image",
                &output,
            ))?;
        Ok(output)
    }
}

#[cfg(test)]
mod tests;
