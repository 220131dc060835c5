//! Plan tests on captured ffprobe 5.1 packet listings.

use super::*;

/// 60 s, 25 fps, x264 with B-frames, key frame every 2 s (`-g 50`).
const MP4_GOP50: &str = include_str!("../../tests/fixtures/ffprobe_5_1_packets_mp4_gop50.txt");
/// 12 s of 30000/1001 fps H.264 in MPEG-TS (start time 1.466733), key frames every ~3 s.
const TS_NTSC: &str = include_str!("../../tests/fixtures/ffprobe_5_1_packets_ts_ntsc.txt");

fn params(target: usize, min: f64) -> SegmentParams {
    SegmentParams {
        target_segments: target,
        min_segment_secs: min,
        multiple_of: 1,
    }
}

#[test]
fn parses_packets_into_presentation_order() {
    let index = FrameIndex::parse(MP4_GOP50).unwrap();
    assert_eq!(index.times.len(), 1500);
    assert_eq!(index.start_time, 0.0);
    assert!(index.times.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(index.keyframes.len(), 30);
    assert_eq!(index.times[index.keyframes[1]], 2.0);
    assert!((index.frame_duration().unwrap() - 0.04).abs() < 1e-9);
}

#[test]
fn ts_start_time_and_side_data_lines() {
    let index = FrameIndex::parse(TS_NTSC).unwrap();
    assert_eq!(index.start_time, 1.466733);
    assert_eq!(index.times.len(), 360);
    assert_eq!(index.times[0], 1.466733);
    let keys: Vec<f64> = index.keyframes.iter().map(|&i| index.times[i]).collect();
    assert_eq!(keys, [1.466733, 4.469733, 7.472733, 10.475733]);
}

#[test]
fn sixty_seconds_in_four_equal_segments() {
    let index = FrameIndex::parse(MP4_GOP50).unwrap();
    let plan = plan_segments(&index, &params(4, 10.0)).unwrap();
    let offsets: Vec<f64> = plan.segments.iter().map(|s| s.offset).collect();
    // Ideal cuts 15, 29.3, 45: ties between 2 s key frames go to the earlier one.
    assert_eq!(offsets, [0.0, 14.0, 30.0, 44.0]);
    let frames: Vec<usize> = plan.segments.iter().map(|s| s.frames).collect();
    assert_eq!(frames, [350, 400, 350, 400]);
    assert_eq!(frames.iter().sum::<usize>(), plan.total_frames);
    assert_eq!(plan.segments[0].seek, None);
    assert!((plan.segments[1].seek.unwrap() - 13.98).abs() < 1e-9);
    let total: f64 = plan.segments.iter().map(|s| s.duration).sum();
    assert!((total - 60.0).abs() < 1e-9);
}

#[test]
fn min_length_limits_the_count() {
    let index = FrameIndex::parse(MP4_GOP50).unwrap();
    let plan = plan_segments(&index, &params(16, 20.0)).unwrap();
    assert_eq!(plan.segments.len(), 3);
    let plan = plan_segments(&index, &params(16, 4.0)).unwrap();
    assert_eq!(plan.segments.len(), 15);
    assert!(plan.segments.iter().all(|s| s.duration >= 4.0 - 1e-9));
}

#[test]
fn short_input_is_one_segment() {
    let index = FrameIndex::parse(TS_NTSC).unwrap();
    let plan = plan_segments(&index, &params(4, 30.0)).unwrap();
    assert_eq!(plan.segments.len(), 1);
    assert_eq!(plan.segments[0].frames, 360);
    assert_eq!(plan.video_offset, 0.0);
}

#[test]
fn ts_cuts_seek_relative_to_the_container_start() {
    let index = FrameIndex::parse(TS_NTSC).unwrap();
    let plan = plan_segments(&index, &params(4, 2.5)).unwrap();
    let offsets: Vec<String> = plan
        .segments
        .iter()
        .map(|s| format!("{:.6}", s.offset))
        .collect();
    assert_eq!(offsets, ["0.000000", "3.003000", "6.006000", "9.009000"]);
    let seek = plan.segments[1].seek.unwrap();
    let half = plan.frame_duration / 2.0;
    assert!((seek - (3.003 - half)).abs() < 1e-6, "{seek}");
    let frames: usize = plan.segments.iter().map(|s| s.frames).sum();
    assert_eq!(frames, 360);
}

#[test]
fn long_gop_gives_fewer_segments() {
    // Key frames only at 0 and 50 s of a 60 s video: a cut at 50 leaves 10 s.
    let cuts = choose_cuts(&[0.0, 50.0], 0.0, 60.0, &params(4, 10.0)).unwrap();
    assert_eq!(cuts, [50.0]);
    let cuts = choose_cuts(&[0.0, 55.0], 0.0, 60.0, &params(4, 10.0)).unwrap();
    assert!(cuts.is_empty());
}

#[test]
fn cuts_rebalance_after_a_forced_choice() {
    // Key frames every 7 s; the first cut lands at 14 (ideal 15), the rest split 14..60.
    let keys: Vec<f64> = (0..9).map(|k| f64::from(k) * 7.0).collect();
    let cuts = choose_cuts(&keys, 0.0, 60.0, &params(4, 5.0)).unwrap();
    assert_eq!(cuts, [14.0, 28.0, 42.0]);
}

#[test]
fn bad_params_and_inputs_are_errors() {
    assert!(matches!(
        choose_cuts(&[0.0], 0.0, 10.0, &params(0, 1.0)),
        Err(PlanError::BadParams(_))
    ));
    assert!(matches!(
        choose_cuts(&[0.0], 0.0, 10.0, &params(2, 0.0)),
        Err(PlanError::BadParams(_))
    ));
    let empty = FrameIndex::parse("format|start_time=0.000000\n").unwrap();
    assert_eq!(
        plan_segments(&empty, &params(2, 1.0)),
        Err(PlanError::NoFrames)
    );
    let err = FrameIndex::parse("packet|pts_time=abc|flags=K_\n").unwrap_err();
    assert!(matches!(err, PlanError::BadLine { line: 1, .. }));
    let skipped = FrameIndex::parse("packet|pts_time=N/A|dts_time=N/A|flags=K_\n").unwrap();
    assert!(skipped.times.is_empty());
}

/// Key frames of a 60 s x264 source with `-g 60` and scene cuts (bench/segmented's source).
const IRREGULAR: [f64; 38] = [
    0.0, 1.967, 2.633, 3.3, 4.067, 4.7, 6.667, 8.633, 10.6, 12.567, 14.533, 16.5, 17.2, 19.167,
    21.133, 23.1, 25.067, 25.567, 27.533, 28.2, 28.833, 30.8, 32.767, 34.733, 36.7, 38.667, 40.633,
    42.6, 43.367, 45.333, 47.3, 49.267, 51.233, 53.2, 53.867, 55.833, 57.8, 59.767,
];

fn lengths(cuts: &[f64], end: f64) -> Vec<f64> {
    let mut edges = vec![0.0];
    edges.extend_from_slice(cuts);
    edges.push(end);
    edges.windows(2).map(|w| w[1] - w[0]).collect()
}

#[test]
fn a_lost_cut_plans_fewer_equal_segments_not_a_long_last_one() {
    // Six segments of at least 9.5 s do not fit these key frames (the fifth cut finds none);
    // five do, all near 12 s, instead of four of 10 s and a last one of 19 s.
    let cuts = choose_cuts(&IRREGULAR, 0.0, 60.0, &params(6, 9.5)).unwrap();
    let parts = lengths(&cuts, 60.0);
    assert_eq!(parts.len(), 5, "{parts:?}");
    let (short, long) = (
        parts.iter().copied().fold(f64::MAX, f64::min),
        parts.iter().copied().fold(0.0, f64::max),
    );
    assert!(short >= 9.5 && long / short < 1.25, "{parts:?}");
}

#[test]
fn a_multiple_of_the_encoders_is_preferred() {
    let two = SegmentParams {
        multiple_of: 2,
        ..params(6, 9.5)
    };
    let parts = lengths(&choose_cuts(&IRREGULAR, 0.0, 60.0, &two).unwrap(), 60.0);
    assert_eq!(parts.len(), 4, "{parts:?}");
    let three = SegmentParams {
        multiple_of: 3,
        ..params(6, 9.5)
    };
    let parts = lengths(&choose_cuts(&IRREGULAR, 0.0, 60.0, &three).unwrap(), 60.0);
    assert_eq!(parts.len(), 3, "{parts:?}");
}
