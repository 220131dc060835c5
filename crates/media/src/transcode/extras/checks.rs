//! Source checks (`IsCheckReso`, `IsCheckVideoBitrate`, `IsCheckAudioBitrate`,
//! `IsCheckVideoFps`) and crop bounds: the target compared with the probed source.

#![allow(clippy::wildcard_imports)]
use super::*;
use crate::probe::StreamInfo;

/// The source frame size after crop and rotation (what scaling starts from). Decoding
/// autorotates, so everything starts from the displayed size.
pub(super) fn effective_source(extras: &TranscodeExtras, info: &MediaInfo) -> Option<(u32, u32)> {
    let (mut w, mut h) = info.video()?.display_size()?;
    if let Some(crop) = extras.crop.as_deref().and_then(|c| Crop::parse(c).ok()) {
        (w, h) = (crop.width, crop.height);
    }
    match rotation(extras.rotate) {
        Rotation::None | Rotation::Half => {}
        Rotation::Quarter | Rotation::ThreeQuarters => (w, h) = (h, w),
        Rotation::Any(deg) => {
            let (sin, cos) = deg.to_radians().sin_cos();
            let (fw, fh) = (f64::from(w), f64::from(h));
            w = (fw * cos.abs() + fh * sin.abs()).round() as u32;
            h = (fw * sin.abs() + fh * cos.abs()).round() as u32;
        }
    }
    Some((w, h))
}

/// Applies the source checks (and crop bounds) to a spec, returning the spec to
/// encode: unchanged, or with source values substituted under `UseSource`.
pub(crate) fn apply_checks<'a>(
    spec: &'a TranscodeSpec,
    extras: &TranscodeExtras,
    info: &MediaInfo,
) -> Result<Cow<'a, TranscodeSpec>, MediaError> {
    validate_extras(extras)?;
    check_crop_bounds(extras, info)?;
    let mut spec = Cow::Borrowed(spec);
    let checks = extras.checks;
    if let Some(method) = checks.resolution {
        check_resolution(&mut spec, method, effective_source(extras, info))?;
    }
    if let Some(method) = checks.video_bitrate {
        let source = source_video_bitrate(info);
        let target = spec
            .video
            .as_ref()
            .filter(|v| v.crf.is_none())
            .and_then(|v| v.bitrate_kbps);
        if let Some(kbps) = exceeded("video bitrate", target, source, method, "kbps")?
            && let Some(v) = spec.to_mut().video.as_mut()
        {
            v.bitrate_kbps = Some(kbps);
        }
    }
    if let Some(method) = checks.audio_bitrate {
        let source = info.audio().and_then(|a| a.bit_rate).map(kbps_of);
        let target = spec.audio.as_ref().and_then(|a| a.bitrate_kbps);
        if let Some(kbps) = exceeded("audio bitrate", target, source, method, "kbps")?
            && let Some(a) = spec.to_mut().audio.as_mut()
        {
            a.bitrate_kbps = Some(kbps);
        }
    }
    if let Some(method) = checks.video_fps {
        let source = info.video().and_then(|v| v.fps);
        let target = spec.video.as_ref().and_then(|v| v.fps);
        if let (Some(t), Some(s)) = (target, source)
            && t > s + 0.01
        {
            match method {
                AdjMethod::Fail => {
                    return Err(check_failed("frame rate", &num(t), &num(s), "fps"));
                }
                AdjMethod::UseSource => {
                    if let Some(v) = spec.to_mut().video.as_mut() {
                        v.fps = None;
                    }
                }
            }
        }
    }
    Ok(spec)
}

pub(super) fn kbps_of(bits: u64) -> u32 {
    u32::try_from(bits / 1000).unwrap_or(u32::MAX).max(1)
}

/// The source video bitrate in kbit/s: the stream's, else the container's minus audio.
pub(super) fn source_video_bitrate(info: &MediaInfo) -> Option<u32> {
    let video = info.video()?;
    if let Some(bits) = video.bit_rate {
        return Some(kbps_of(bits));
    }
    let total = info.bit_rate?;
    let audio = info.audio().and_then(|a| a.bit_rate).unwrap_or(0);
    Some(kbps_of(total.saturating_sub(audio)))
}

/// `Some(source)` when `target` exceeds `source` and the method says use the source.
pub(super) fn exceeded(
    what: &str,
    target: Option<u32>,
    source: Option<u32>,
    method: AdjMethod,
    unit: &str,
) -> Result<Option<u32>, MediaError> {
    match (target, source) {
        (Some(t), Some(s)) if t > s => match method {
            AdjMethod::UseSource => Ok(Some(s)),
            AdjMethod::Fail => Err(check_failed(what, &t.to_string(), &s.to_string(), unit)),
        },
        _ => Ok(None),
    }
}

pub(super) fn check_failed(what: &str, target: &str, source: &str, unit: &str) -> MediaError {
    MediaError::invalid_input(format!(
        "the target {what} {target} {unit} exceeds the source's {source} {unit} \
         and the template's TransConfig says to fail (AdjMethod 1)"
    ))
}

pub(super) fn check_resolution(
    spec: &mut Cow<'_, TranscodeSpec>,
    method: AdjMethod,
    source: Option<(u32, u32)>,
) -> Result<(), MediaError> {
    let Some((sw, sh)) = source.filter(|(w, h)| *w > 0 && *h > 0) else {
        return Ok(());
    };
    let Some(v) = spec.video.as_ref() else {
        return Ok(());
    };
    let (tw, th) = match (v.width, v.height) {
        (None, None) => return Ok(()),
        (Some(w), Some(h)) => (w, h),
        (Some(w), None) => (w, scaled(sh, w, sw)),
        (None, Some(h)) => (scaled(sw, h, sh), h),
    };
    if tw <= sw && th <= sh {
        return Ok(());
    }
    match method {
        AdjMethod::Fail => Err(check_failed(
            "resolution",
            &format!("{tw}x{th}"),
            &format!("{sw}x{sh}"),
            "px",
        )),
        AdjMethod::UseSource => {
            if let Some(v) = spec.to_mut().video.as_mut() {
                v.width = None;
                v.height = None;
            }
            Ok(())
        }
    }
}

/// `side × num / den`, rounded.
pub(super) fn scaled(side: u32, num: u32, den: u32) -> u32 {
    (f64::from(side) * f64::from(num) / f64::from(den)).round() as u32
}

pub(super) fn check_crop_bounds(
    extras: &TranscodeExtras,
    info: &MediaInfo,
) -> Result<(), MediaError> {
    let Some(crop) = extras.crop.as_deref() else {
        return Ok(());
    };
    let crop = Crop::parse(crop)?;
    // Crop works on the displayed (autorotated) picture.
    let Some((w, h)) = info.video().and_then(StreamInfo::display_size) else {
        return Ok(());
    };
    let right = u64::from(crop.left) + u64::from(crop.width);
    let bottom = u64::from(crop.top) + u64::from(crop.height);
    if right > u64::from(w) || bottom > u64::from(h) {
        return Err(MediaError::invalid_input(format!(
            "crop {}:{}:{}:{} reaches outside the {w}x{h} source",
            crop.width, crop.height, crop.left, crop.top
        )));
    }
    Ok(())
}
