//! Frame quality measures and the greedy pick, in pure Rust (no ffmpeg).
//!
//! Per sampled frame (small `rgb24`, about 160 px wide):
//! - **exposure**: mean luma and the share of near-black / near-white pixels;
//! - **contrast**: luma standard deviation;
//! - **sharpness**: variance of the 4-neighbour Laplacian of the luma (high for crisp
//!   edges, collapses under blur);
//! - **colourfulness**: Hasler & Süsstrunk (2003),
//!   `σ(rg,yb) + 0.3·μ(rg,yb)` with `rg = R−G`, `yb = (R+G)/2 − B`;
//! - **motion**: mean absolute luma difference to the partner frame a fraction of a
//!   second later (cuts, fades and dissolves change most of the picture);
//! - **dHash**: 64 bits comparing neighbouring cells of a 9×8 luma thumbnail, for
//!   near-duplicate detection by Hamming distance.
//!
//! Frames that are black, white, flat, blurred (sharpness far below the clip's
//! median) or in a transition are rejected; the rest get a weighted score. The pick
//! is greedy by score with a minimum distance in time and in dHash between picks,
//! relaxed step by step when too few frames qualify (never below the duplicate
//! threshold when `DeleteDuplicates` is on).

use crate::frames::Rgb;

/// Mean luma below which a frame is black.
const BLACK_MEAN: f64 = 30.0;
/// Mean luma above which a frame is washed out.
const WHITE_MEAN: f64 = 230.0;
/// Share of dark (luma < 32) or bright (> 235) pixels that rejects a frame.
const EXTREME_SHARE: f64 = 0.9;
/// Luma standard deviation below which a frame is flat.
const FLAT_STD: f64 = 12.0;
/// Sharpness below this share of the median (of exposed frames) is blur.
const BLUR_OF_MEDIAN: f64 = 0.3;
/// Sharpness below this is blur whatever the clip.
const BLUR_ABS: f64 = 15.0;
/// Mean absolute luma change to the partner frame that marks a transition.
const TRANSITION_DIFF: f64 = 30.0;
/// dHash distance below which two frames are duplicates (`DeleteDuplicates`).
pub(crate) const DUPLICATE_BITS: u32 = 10;
/// dHash distance preferred between picks otherwise.
const DIVERSE_BITS: u32 = 6;

/// Measures of one frame.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stats {
    pub mean: f64,
    pub std: f64,
    pub dark: f64,
    pub bright: f64,
    pub sharpness: f64,
    pub colourfulness: f64,
    /// Mean absolute luma difference to the partner frame, when there is one.
    pub motion: Option<f64>,
    pub dhash: u64,
    /// FNV-1a of the pixels: identical frames (two seeks landing on one key frame).
    pub checksum: u64,
}

/// Why a frame cannot be a cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Reject {
    /// A fade, dissolve or cut in progress.
    Transition,
    /// Out of focus or motion-blurred.
    Blurred,
    /// Almost uniform.
    Flat,
    /// Washed out.
    White,
    /// Black or nearly so.
    Black,
    /// The same frame as an earlier sample (seeks landing on one key frame).
    Duplicate,
}

/// A sampled frame with its measures and verdict.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub time: f64,
    pub stats: Stats,
    pub reject: Option<Reject>,
    pub score: f64,
}

fn luma(frame: &Rgb) -> Vec<f64> {
    frame
        .data
        .chunks_exact(3)
        .map(|p| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]))
        .collect()
}

fn mean_std(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let (n, sum) = values
        .clone()
        .fold((0usize, 0.0), |(n, s), v| (n + 1, s + v));
    if n == 0 {
        return (0.0, 0.0);
    }
    let mean = sum / n as f64;
    let var = values.map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
    (mean, var.sqrt())
}

/// Variance of the 4-neighbour Laplacian over interior pixels.
fn laplacian_variance(y: &[f64], w: usize, h: usize) -> f64 {
    if w < 3 || h < 3 {
        return 0.0;
    }
    let lap = (1..h - 1).flat_map(|r| {
        (1..w - 1).map(move |c| {
            let i = r * w + c;
            4.0 * y[i] - y[i - 1] - y[i + 1] - y[i - w] - y[i + w]
        })
    });
    let (_, std) = mean_std(lap);
    std * std
}

/// Hasler & Süsstrunk colourfulness.
fn colourfulness(frame: &Rgb) -> f64 {
    let px = frame.data.chunks_exact(3);
    let rg = px.clone().map(|p| f64::from(p[0]) - f64::from(p[1]));
    let yb = px.map(|p| 0.5 * (f64::from(p[0]) + f64::from(p[1])) - f64::from(p[2]));
    let (mrg, srg) = mean_std(rg);
    let (myb, syb) = mean_std(yb);
    (srg * srg + syb * syb).sqrt() + 0.3 * (mrg * mrg + myb * myb).sqrt()
}

/// 64-bit difference hash of a 9×8 box-averaged luma thumbnail.
pub(crate) fn dhash(y: &[f64], w: usize, h: usize) -> u64 {
    if w == 0 || h == 0 {
        return 0;
    }
    let cell = |cx: usize, cy: usize| {
        let (x0, x1) = (cx * w / 9, ((cx + 1) * w / 9).max(cx * w / 9 + 1).min(w));
        let (y0, y1) = (cy * h / 8, ((cy + 1) * h / 8).max(cy * h / 8 + 1).min(h));
        let mut sum = 0.0;
        for r in y0..y1 {
            sum += y[r * w + x0..r * w + x1].iter().sum::<f64>();
        }
        sum / ((x1 - x0) * (y1 - y0)).max(1) as f64
    };
    let mut hash = 0u64;
    for cy in 0..8 {
        for cx in 0..8 {
            hash = (hash << 1) | u64::from(cell(cx, cy) > cell(cx + 1, cy));
        }
    }
    hash
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Measures `frame` (and its motion against `partner`).
pub(crate) fn stats(frame: &Rgb, partner: Option<&Rgb>) -> Stats {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let y = luma(frame);
    let (mean, std) = mean_std(y.iter().copied());
    let n = y.len().max(1) as f64;
    let motion = partner
        .filter(|p| p.data.len() == frame.data.len())
        .map(|p| {
            let other = luma(p);
            y.iter()
                .zip(&other)
                .map(|(a, b)| (a - b).abs())
                .sum::<f64>()
                / n
        });
    Stats {
        mean,
        std,
        dark: y.iter().filter(|v| **v < 32.0).count() as f64 / n,
        bright: y.iter().filter(|v| **v > 235.0).count() as f64 / n,
        sharpness: laplacian_variance(&y, w, h),
        colourfulness: colourfulness(frame),
        motion,
        dhash: dhash(&y, w, h),
        checksum: fnv1a(&frame.data),
    }
}

/// Mean absolute luma difference between two frames of the same size.
pub(crate) fn motion(frame: &Rgb, partner: &Rgb) -> Option<f64> {
    if partner.data.len() != frame.data.len() || frame.data.is_empty() {
        return None;
    }
    let (a, b) = (luma(frame), luma(partner));
    Some(a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len() as f64)
}

/// `true` when a candidate has no verdict against it yet.
pub(crate) fn is_good(c: &Candidate) -> bool {
    c.reject.is_none()
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[values.len() / 2])
}

/// Judges and scores every sample (`(time, stats)` in time order).
pub(crate) fn judge(samples: Vec<(f64, Stats)>) -> Vec<Candidate> {
    let mut seen = std::collections::HashSet::new();
    let mut candidates: Vec<Candidate> = samples
        .into_iter()
        .map(|(time, stats)| {
            let s = &stats;
            let reject = if !seen.insert(s.checksum) {
                Some(Reject::Duplicate)
            } else if s.mean < BLACK_MEAN || s.dark > EXTREME_SHARE {
                Some(Reject::Black)
            } else if s.mean > WHITE_MEAN || s.bright > EXTREME_SHARE {
                Some(Reject::White)
            } else if s.std < FLAT_STD {
                Some(Reject::Flat)
            } else if s.motion.is_some_and(|m| m > TRANSITION_DIFF) {
                Some(Reject::Transition)
            } else {
                None
            };
            Candidate {
                time,
                stats,
                reject,
                score: 0.0,
            }
        })
        .collect();
    // Blur is relative to the clip: a soft film still has its sharpest frames.
    let exposed = || candidates.iter().filter(|c| c.reject.is_none());
    let blur_floor = median(exposed().map(|c| c.stats.sharpness).collect())
        .map_or(BLUR_ABS, |m| (m * BLUR_OF_MEDIAN).max(BLUR_ABS));
    for c in &mut candidates {
        if c.reject.is_none() && c.stats.sharpness < blur_floor {
            c.reject = Some(Reject::Blurred);
        }
    }
    let max_sharp = candidates
        .iter()
        .filter(|c| c.reject != Some(Reject::Duplicate))
        .map(|c| c.stats.sharpness)
        .fold(1.0, f64::max);
    let max_colour = candidates
        .iter()
        .map(|c| c.stats.colourfulness)
        .fold(1.0, f64::max);
    for c in &mut candidates {
        c.score = score(&c.stats, max_sharp, max_colour);
    }
    candidates
}

/// Weighted quality in about `[0, 1]`. Motion is not part of it: it is only measured
/// for frontrunners, and only rejects (transitions).
fn score(s: &Stats, max_sharp: f64, max_colour: f64) -> f64 {
    let sharp = (1.0 + s.sharpness).ln() / (1.0 + max_sharp).ln();
    let contrast = (s.std / 70.0).min(1.0);
    let exposure = (1.0 - (s.mean - 120.0).abs() / 120.0).clamp(0.0, 1.0);
    let colour = (s.colourfulness / max_colour).min(1.0);
    0.4 * sharp + 0.2 * contrast + 0.2 * exposure + 0.2 * colour
}

/// Picks up to `count` candidates: the best first, each far enough in time
/// (`min_gap`) and in dHash from those already picked. Returns indexes, best first.
pub(crate) fn pick(
    candidates: &[Candidate],
    count: usize,
    min_gap: f64,
    delete_duplicates: bool,
) -> Vec<usize> {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by(|a, b| candidates[*b].score.total_cmp(&candidates[*a].score));
    let good: Vec<usize> = order
        .iter()
        .copied()
        .filter(|i| candidates[*i].reject.is_none())
        .collect();
    let floor_bits = if delete_duplicates { DUPLICATE_BITS } else { 0 };
    // Relax the look-alike rule before the time rule: a clip whose frames all look
    // alike to dHash (a static set, a talking head) still gets covers spread in time.
    let rounds = [
        (min_gap, DIVERSE_BITS.max(floor_bits)),
        (min_gap, floor_bits.max(DIVERSE_BITS / 2)),
        (min_gap, floor_bits),
        (min_gap / 2.0, floor_bits),
        (0.0, floor_bits),
    ];
    let mut picked: Vec<usize> = Vec::new();
    let fits = |picked: &[usize], i: usize, gap: f64, bits: u32| {
        picked.iter().all(|p| {
            let (a, b) = (&candidates[*p], &candidates[i]);
            (a.time - b.time).abs() >= gap && (a.stats.dhash ^ b.stats.dhash).count_ones() >= bits
        })
    };
    for (gap, bits) in rounds {
        for &i in &good {
            if picked.len() >= count {
                return picked;
            }
            if !picked.contains(&i) && fits(&picked, i, gap, bits) {
                picked.push(i);
            }
        }
    }
    // Too few good frames: fill with the least bad ones (repeats of an already seen
    // frame last), unless duplicates are to be deleted: then fewer covers come out.
    if !delete_duplicates {
        let mut rest: Vec<usize> = order
            .iter()
            .copied()
            .filter(|i| candidates[*i].reject.is_some())
            .collect();
        rest.sort_by(|a, b| {
            let (ca, cb) = (&candidates[*a], &candidates[*b]);
            ca.reject
                .cmp(&cb.reject)
                .then(cb.score.total_cmp(&ca.score))
        });
        for i in rest {
            if picked.len() >= count {
                break;
            }
            if fits(&picked, i, 0.0, 0) {
                picked.push(i);
            }
        }
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `w`×`h` frame from a pixel function.
    fn frame(w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) -> Rgb {
        let mut data = Vec::new();
        for y in 0..h {
            for x in 0..w {
                data.extend(f(x, y));
            }
        }
        Rgb {
            width: w,
            height: h,
            data,
        }
    }

    fn checker(x: u32, y: u32) -> [u8; 3] {
        if (x / 4 + y / 4).is_multiple_of(2) {
            [230, 40, 40]
        } else {
            [20, 40, 220]
        }
    }

    fn gradient(x: u32, _y: u32) -> [u8; 3] {
        let v = (40 + x * 2) as u8;
        [v, v, 100]
    }

    #[test]
    fn measures_separate_sharp_flat_and_black() {
        let sharp = stats(&frame(64, 48, checker), None);
        let soft = stats(&frame(64, 48, gradient), None);
        let black = stats(&frame(64, 48, |_, _| [5, 5, 5]), None);
        assert!(sharp.sharpness > 1000.0, "{sharp:?}");
        assert!(soft.sharpness < 1.0, "{soft:?}");
        assert!(sharp.colourfulness > soft.colourfulness);
        assert!(black.mean < 10.0 && black.dark > 0.99);
        assert_eq!(black.std, 0.0);
    }

    #[test]
    fn dhash_is_stable_under_brightness_and_differs_across_pictures() {
        let blocks = |x: u32, y: u32| {
            if (x / 20 + y / 16).is_multiple_of(2) {
                [230, 40, 40]
            } else {
                [20, 40, 220]
            }
        };
        let a = frame(90, 64, blocks);
        let brighter = frame(90, 64, |x, y| blocks(x, y).map(|c| c.saturating_add(10)));
        let other = frame(90, 64, |x, _| [255 - 2 * x as u8, 100, 100]);
        let ha = stats(&a, None).dhash;
        assert!((ha ^ stats(&brighter, None).dhash).count_ones() <= 2);
        assert!((ha ^ stats(&other, None).dhash).count_ones() > DUPLICATE_BITS);
    }

    #[test]
    fn motion_flags_transitions() {
        let a = frame(32, 32, checker);
        let b = frame(32, 32, |_, _| [0, 0, 0]);
        let s = stats(&a, Some(&b));
        assert!(s.motion.unwrap() > TRANSITION_DIFF);
        let judged = judge(vec![(0.0, s)]);
        assert_eq!(judged[0].reject, Some(Reject::Transition));
    }

    fn cand(time: f64, score: f64, hash: u64, reject: Option<Reject>) -> Candidate {
        Candidate {
            time,
            stats: Stats {
                mean: 100.0,
                std: 40.0,
                dark: 0.0,
                bright: 0.0,
                sharpness: 100.0,
                colourfulness: 10.0,
                motion: None,
                dhash: hash,
                checksum: time.to_bits(),
            },
            reject,
            score,
        }
    }

    #[test]
    fn pick_spreads_over_time_then_relaxes() {
        let c = vec![
            cand(1.0, 0.9, 0x0, None),
            cand(1.5, 0.95, 0xFFFF, None),
            cand(8.0, 0.5, 0xFFFF_0000, None),
            cand(20.0, 0.4, 0xFF00_FF00_FF00, Some(Reject::Black)),
        ];
        // Best first; 1.0 is too close to 1.5 in the first round.
        assert_eq!(pick(&c, 2, 3.0, false), [1, 2]);
        // A third is only found by relaxing the gap.
        assert_eq!(pick(&c, 3, 3.0, false), [1, 2, 0]);
        // A fourth comes from the rejected, unless duplicates must go.
        assert_eq!(pick(&c, 4, 3.0, false), [1, 2, 0, 3]);
        assert_eq!(pick(&c, 4, 3.0, true).len(), 3);
    }

    #[test]
    fn look_alike_frames_are_still_spread_in_time() {
        let c: Vec<Candidate> = (0..10)
            .map(|t| cand(f64::from(t), 1.0 - f64::from(t) / 100.0, 0xABCD, None))
            .collect();
        assert_eq!(pick(&c, 3, 3.0, false), [0, 3, 6]);
        // As duplicates, only one survives.
        assert_eq!(pick(&c, 3, 3.0, true), [0]);
    }

    #[test]
    fn repeated_frames_only_fill_the_last_places() {
        let c = vec![
            cand(1.0, 0.9, 0x1, None),
            cand(2.0, 0.9, 0x1, Some(Reject::Duplicate)),
            cand(3.0, 0.2, 0xF0F0, Some(Reject::Blurred)),
        ];
        assert_eq!(pick(&c, 2, 0.0, false), [0, 2]);
        assert_eq!(pick(&c, 3, 0.0, false), [0, 2, 1]);
        assert_eq!(pick(&c, 3, 0.0, true), [0]);
    }

    #[test]
    fn delete_duplicates_never_picks_near_twins() {
        let c = vec![
            cand(1.0, 0.9, 0b1111, None),
            cand(9.0, 0.8, 0b0111, None),
            cand(5.0, 0.1, u64::MAX, None),
        ];
        assert_eq!(pick(&c, 3, 0.0, true), [0, 2]);
        // Without DeleteDuplicates the near twin still comes, last.
        assert_eq!(pick(&c, 3, 0.0, false), [0, 2, 1]);
    }

    #[test]
    fn blur_is_relative_to_the_clip() {
        let sharp = stats(&frame(64, 48, checker), None);
        let mut blurred = sharp.clone();
        blurred.sharpness = sharp.sharpness * 0.05;
        blurred.checksum = 1;
        let mut other = sharp.clone();
        other.checksum = 2;
        let judged = judge(vec![(0.0, sharp), (1.0, blurred), (2.0, other)]);
        assert_eq!(judged[0].reject, None);
        assert_eq!(judged[1].reject, Some(Reject::Blurred));
        assert!(judged[0].score > judged[1].score);
    }
}
