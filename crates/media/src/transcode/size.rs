//! Frame sizes encoders accept: the one place that decides them.
//!
//! Chroma subsampling sets the step of each side: 4:2:0 halves the chroma planes both
//! ways, so width and height must be even (libx264 and libx265 refuse odd sizes,
//! libsvtav1 too); 4:2:2 halves them horizontally only; 4:4:4 takes any size. When the
//! pixel format is left to the encoder (`auto`) the step is 2 both ways, since most
//! inputs are 4:2:0 and players want even sizes anyway. SVT-AV1 also needs at least
//! 64×64. GIF takes any size.
//!
//! Every encoding path asks a [`SizeRule`]: explicit `Width`/`Height` are rounded down
//! to the step ([`SizeRule::width`], [`SizeRule::height`]), a side that follows the
//! aspect ratio is derived with `scale`'s `-n` ([`SizeRule::derived_width`]), and a frame
//! whose size is not known to fit (source size, crop, free rotation) goes through
//! [`SizeRule::guard`], which rounds down to the step (and pads up to the minimum)
//! and passes frames through untouched when they already fit.

use super::VideoSpec;
use super::codec::VideoCodec;
use super::encoders::pixel_format;

/// Smallest side SVT-AV1 encodes.
const AV1_MIN_SIDE: u32 = 64;

/// What an encoder (with its pixel format) needs of the frame size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SizeRule {
    /// The width must be a multiple of this.
    pub step_w: u32,
    /// The height must be a multiple of this.
    pub step_h: u32,
    /// Smallest width and height.
    pub min: u32,
}

impl SizeRule {
    /// No constraint.
    pub(crate) const ANY: Self = Self {
        step_w: 1,
        step_h: 1,
        min: 1,
    };

    /// The rule of `codec` writing the pixel format `spec` asks for.
    pub(crate) fn for_encode(codec: VideoCodec, spec: &VideoSpec) -> Self {
        if codec == VideoCodec::Gif {
            return Self::ANY;
        }
        // An invalid pixel format fails in `encode_args`; be strict meanwhile.
        let pixfmt = pixel_format(codec, spec.pixfmt.as_deref()).unwrap_or(None);
        let (step_w, step_h) = match pixfmt.map(chroma) {
            Some(Chroma::Full) => (1, 1),
            Some(Chroma::Horizontal) => (2, 1),
            Some(Chroma::Both) | None => (2, 2),
        };
        let min = if codec == VideoCodec::Av1 {
            AV1_MIN_SIDE
        } else {
            1
        };
        Self {
            step_w,
            step_h,
            min,
        }
    }

    /// An explicit width made acceptable: rounded down to the step, at least the
    /// minimum.
    pub(crate) fn width(&self, width: u32) -> u32 {
        fit(width, self.step_w, self.min)
    }

    /// An explicit height made acceptable.
    pub(crate) fn height(&self, height: u32) -> u32 {
        fit(height, self.step_h, self.min)
    }

    /// `scale`'s value for a width that follows the aspect ratio: `-n` keeps the
    /// ratio and makes the side a multiple of `n`.
    pub(crate) fn derived_width(&self) -> String {
        format!("-{}", self.step_w)
    }

    /// `scale`'s value for a height that follows the aspect ratio.
    pub(crate) fn derived_height(&self) -> String {
        format!("-{}", self.step_h)
    }

    /// `true` when a `width`×`height` frame can be encoded as it is.
    pub(crate) fn fits(&self, (width, height): (u32, u32)) -> bool {
        width % self.step_w == 0
            && height % self.step_h == 0
            && width >= self.min
            && height >= self.min
    }

    /// Filters bringing a frame of unknown size to one that fits; empty when any size
    /// does. At run time they pass frames through when the size already fits.
    pub(crate) fn guard(&self) -> Vec<String> {
        let mut filters = Vec::new();
        if self.step_w > 1 || self.step_h > 1 {
            let side = |dim: &str, step: u32| match step {
                1 => dim.to_owned(),
                n => format!("trunc({dim}/{n})*{n}"),
            };
            filters.push(format!(
                "scale={}:{}",
                side("iw", self.step_w),
                side("ih", self.step_h)
            ));
        }
        if self.min > 1 {
            let m = self.min;
            filters.push(format!(
                "pad=w='max(iw,{m})':h='max(ih,{m})':x=(ow-iw)/2:y=(oh-ih)/2"
            ));
        }
        filters
    }
}

fn fit(value: u32, step: u32, min: u32) -> u32 {
    let rounded = (value / step * step).max(step);
    rounded.max(min.div_ceil(step) * step)
}

/// How a pixel format subsamples its chroma planes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chroma {
    /// 4:4:4 (and RGB, gray).
    Full,
    /// 4:2:2, 4:1:1.
    Horizontal,
    /// 4:2:0.
    Both,
}

fn chroma(pixfmt: &str) -> Chroma {
    let body = pixfmt.trim_start_matches("yuvj").trim_start_matches("yuv");
    if body.starts_with("444") || !pixfmt.starts_with("yuv") {
        Chroma::Full
    } else if body.starts_with("422") || body.starts_with("411") {
        Chroma::Horizontal
    } else {
        Chroma::Both
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(codec: VideoCodec, pixfmt: Option<&str>) -> SizeRule {
        let spec = VideoSpec {
            pixfmt: pixfmt.map(String::from),
            ..Default::default()
        };
        SizeRule::for_encode(codec, &spec)
    }

    #[test]
    fn steps_follow_chroma_subsampling() {
        let even = rule(VideoCodec::H264, None);
        assert_eq!((even.step_w, even.step_h, even.min), (2, 2, 1));
        assert_eq!(rule(VideoCodec::H264, Some("yuv444p")), SizeRule::ANY);
        let h422 = rule(VideoCodec::H264, Some("yuv422p"));
        assert_eq!((h422.step_w, h422.step_h), (2, 1));
        for codec in [VideoCodec::H265, VideoCodec::Vp8, VideoCodec::Vp9] {
            assert_eq!(rule(codec, None).step_h, 2, "{codec:?}");
        }
        assert_eq!(rule(VideoCodec::H264, Some("auto")).step_w, 2);
        assert_eq!(rule(VideoCodec::Av1, Some("yuv420p10le")).min, 64);
        assert_eq!(rule(VideoCodec::Gif, None), SizeRule::ANY);
    }

    #[test]
    fn explicit_sizes_round_down() {
        let even = rule(VideoCodec::H264, None);
        assert_eq!((even.width(1165), even.height(767)), (1164, 766));
        assert_eq!(even.width(1), 2);
        let av1 = rule(VideoCodec::Av1, None);
        assert_eq!((av1.width(33), av1.height(641)), (64, 640));
        assert_eq!(SizeRule::ANY.width(1165), 1165);
    }

    #[test]
    fn guard_rounds_and_pads() {
        let even = rule(VideoCodec::H264, None);
        assert_eq!(even.guard(), ["scale=trunc(iw/2)*2:trunc(ih/2)*2"]);
        assert!(even.fits((1164, 766)) && !even.fits((1164, 767)));
        let h422 = rule(VideoCodec::H264, Some("yuv422p"));
        assert_eq!(h422.guard(), ["scale=trunc(iw/2)*2:ih"]);
        assert!(SizeRule::ANY.guard().is_empty());
        let av1 = rule(VideoCodec::Av1, None);
        assert_eq!(
            av1.guard(),
            [
                "scale=trunc(iw/2)*2:trunc(ih/2)*2",
                "pad=w='max(iw,64)':h='max(ih,64)':x=(ow-iw)/2:y=(oh-ih)/2"
            ]
        );
        assert!(!av1.fits((62, 640)));
    }
}
