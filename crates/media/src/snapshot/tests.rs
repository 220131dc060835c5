//! Unit tests of the snapshot planner (no ffmpeg is run).

use super::*;
use crate::probe::StreamInfo;

fn info(duration: f64) -> MediaInfo {
    MediaInfo {
        format_name: "mp4".into(),
        duration: Some(duration),
        streams: vec![StreamInfo {
            codec_type: "video".into(),
            codec_name: "h264".into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn runs(spec: &SnapshotSpec, info: &MediaInfo) -> Vec<Vec<String>> {
    snapshot_args(Path::new("/in/v.mp4"), Path::new("/out"), spec, info).unwrap()
}

fn args(spec: &SnapshotSpec, info: &MediaInfo) -> Vec<String> {
    let mut runs = runs(spec, info);
    assert_eq!(runs.len(), 1);
    runs.remove(0)
}

fn value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let pos = args.iter().position(|a| a == flag)?;
    args.get(pos + 1).map(String::as_str)
}

#[test]
fn interval_scans_with_select() {
    let spec = SnapshotSpec {
        start: 1.0,
        interval: Some(0.5),
        count: 3,
        width: Some(160),
        ..Default::default()
    };
    let a = args(&spec, &info(10.0));
    assert_eq!(value(&a, "-ss"), Some("1"));
    assert_eq!(
        value(&a, "-vf"),
        Some("select='gte(t,selected_n*0.5)',scale=160:-2")
    );
    assert_eq!(value(&a, "-frames:v"), Some("3"));
    assert_eq!(value(&a, "-c:v"), Some("mjpeg"));
    assert_eq!(value(&a, "-fps_mode"), Some("passthrough"));
    assert_eq!(a.last().map(String::as_str), Some("/out/snap-%05d.jpg"));
}

#[test]
fn interval_without_time_interval_takes_consecutive_frames() {
    let spec = SnapshotSpec {
        count: 5,
        format: "png".into(),
        ..Default::default()
    };
    let a = args(&spec, &info(10.0));
    assert_eq!(value(&a, "-vf"), None);
    assert_eq!(value(&a, "-frames:v"), Some("5"));
    assert_eq!(value(&a, "-c:v"), Some("png"));
    assert_eq!(a.last().map(String::as_str), Some("/out/snap-%05d.png"));
}

#[test]
fn average_spreads_count_over_the_rest() {
    let spec = SnapshotSpec {
        mode: SnapshotMode::Average,
        start: 2.0,
        count: 4,
        ..Default::default()
    };
    let a = args(&spec, &info(10.0));
    assert_eq!(value(&a, "-vf"), Some("select='gte(t,selected_n*2)'"));
}

#[test]
fn sparse_targets_seek_each_frame() {
    let spec = SnapshotSpec {
        mode: SnapshotMode::Average,
        count: 3,
        ..Default::default()
    };
    let a = args(&spec, &info(60.0));
    let seeks: Vec<_> = a
        .iter()
        .enumerate()
        .filter(|(_, x)| *x == "-ss")
        .map(|(i, _)| a[i + 1].as_str())
        .collect();
    assert_eq!(seeks, ["0", "20", "40"]);
    assert_eq!(a.iter().filter(|x| *x == "-i").count(), 3);
    assert_eq!(value(&a, "-map"), Some("0:v:0"));
    assert!(a.iter().any(|x| x == "/out/snap-00002.jpg"));
}

#[test]
fn interval_targets_stop_at_the_end() {
    assert_eq!(targets(1.0, 4.0, 10, Some(10.0)), [1.0, 5.0, 9.0]);
    assert_eq!(targets(0.0, 1.0, 2, None), [0.0, 1.0]);
}

#[test]
fn keyframes_skip_non_key_frames() {
    let spec = SnapshotSpec {
        mode: SnapshotMode::KeyFrame,
        count: 2,
        ..Default::default()
    };
    let a = args(&spec, &info(10.0));
    let skip = a.iter().position(|x| x == "-skip_frame").unwrap();
    let input = a.iter().position(|x| x == "-i").unwrap();
    assert!(skip < input);
    assert_eq!(value(&a, "-skip_frame"), Some("nokey"));
    assert_eq!(value(&a, "-frames:v"), Some("2"));
}

#[test]
fn invalid_specs_and_inputs() {
    let audio_only = MediaInfo {
        duration: Some(3.0),
        ..Default::default()
    };
    let err = snapshot_args(
        Path::new("/i"),
        Path::new("/o"),
        &SnapshotSpec::default(),
        &audio_only,
    )
    .unwrap_err();
    assert_eq!(err.code(), "InvalidInput");
    let past_end = SnapshotSpec {
        start: 11.0,
        ..Default::default()
    };
    let err = snapshot_args(Path::new("/i"), Path::new("/o"), &past_end, &info(10.0)).unwrap_err();
    assert_eq!(err.code(), "InvalidInput");
    let bmp = SnapshotSpec {
        format: "bmp".into(),
        ..Default::default()
    };
    let err = snapshot_args(Path::new("/i"), Path::new("/o"), &bmp, &info(10.0)).unwrap_err();
    assert_eq!(err.code(), "InvalidSpec");
    let zero = SnapshotSpec {
        count: 0,
        ..Default::default()
    };
    assert!(snapshot_args(Path::new("/i"), Path::new("/o"), &zero, &info(10.0)).is_err());
}

#[test]
fn many_sparse_targets_are_batched() {
    let spec = SnapshotSpec {
        mode: SnapshotMode::Average,
        count: 40,
        ..Default::default()
    };
    let runs = runs(&spec, &info(1000.0));
    assert_eq!(runs.len(), 2);
    let inputs = |a: &[String]| a.iter().filter(|x| *x == "-i").count();
    assert_eq!((inputs(&runs[0]), inputs(&runs[1])), (32, 8));
    assert_eq!(value(&runs[1], "-ss"), Some("800"));
    assert!(runs[1].iter().any(|x| x == "/out/snap-00032.jpg"));
}

#[test]
fn image_names() {
    assert!(is_image_name("snap-00042.jpg", "jpg"));
    assert!(!is_image_name("snap-00042.png", "jpg"));
    assert!(!is_image_name("snap-.jpg", "jpg"));
    assert!(!is_image_name("cover.jpg", "jpg"));
}

fn black() -> SnapshotExtras {
    SnapshotExtras {
        black: Some(BlackCheck {
            black_level: 85,
            pixel_black_threshold: 40,
        }),
        ..Default::default()
    }
}

#[test]
fn black_check_selects_the_first_good_frame_of_each_slot() {
    let spec = SnapshotSpec {
        interval: Some(0.5),
        count: 3,
        ..Default::default()
    };
    let runs = snapshot_with_args(
        Path::new("/in/v.mp4"),
        Path::new("/out"),
        &spec,
        &black(),
        &info(10.0),
    )
    .unwrap();
    let vf = value(&runs[0], "-vf").unwrap();
    assert_eq!(
        vf,
        "blackframe=amount=0:threshold=40,\
         metadata=mode=select:key=lavfi.blackframe.pblack:value=85:function=less,\
         select='isnan(prev_selected_t)+gt(floor(t/0.5),floor(prev_selected_t/0.5))'"
    );
    assert_eq!(
        select_expr(2.0, 1.0, true),
        "select='gte(t,2)*(isnan(prev_selected_t)+gt(floor((t-2)/1),floor((prev_selected_t-2)/1)))'"
    );
    assert_eq!(
        select_expr(2.0, 1.0, false),
        "select='gte(t,2+selected_n*1)'"
    );
}

#[test]
fn black_check_bounds_each_seek_to_its_slot() {
    let spec = SnapshotSpec {
        mode: SnapshotMode::Average,
        count: 3,
        ..Default::default()
    };
    let runs = snapshot_with_args(
        Path::new("/in/v.mp4"),
        Path::new("/out"),
        &spec,
        &black(),
        &info(60.0),
    )
    .unwrap();
    let a = &runs[0];
    let limits: Vec<_> = a
        .iter()
        .enumerate()
        .filter(|(_, x)| *x == "-t")
        .map(|(i, _)| a[i + 1].as_str())
        .collect();
    assert_eq!(limits, ["20", "20", "20"]);
    assert!(value(a, "-vf").unwrap().starts_with("blackframe="));
}

#[test]
fn check_count_switches_interval_to_average() {
    let spec = SnapshotSpec {
        interval: Some(4.0),
        count: 5,
        ..Default::default()
    };
    let extras = SnapshotExtras {
        check_count: true,
        ..Default::default()
    };
    let a = snapshot_with_args(
        Path::new("/i.mp4"),
        Path::new("/out"),
        &spec,
        &extras,
        &info(10.0),
    )
    .unwrap();
    assert_eq!(value(&a[0], "-vf"), Some("select='gte(t,selected_n*2)'"));
    assert_eq!(value(&a[0], "-frames:v"), Some("5"));
    // Enough room for every capture: Interval stays.
    let fits = SnapshotSpec { count: 2, ..spec };
    let a = snapshot_with_args(
        Path::new("/i.mp4"),
        Path::new("/out"),
        &fits,
        &extras,
        &info(10.0),
    )
    .unwrap();
    assert_eq!(value(&a[0], "-vf"), Some("select='gte(t,selected_n*4)'"));
}

#[test]
fn webp_snapshots() {
    let spec = SnapshotSpec {
        format: "webp".into(),
        ..Default::default()
    };
    let a = args(&spec, &info(10.0));
    assert_eq!(value(&a, "-c:v"), Some("libwebp"));
    assert_eq!(a.last().map(String::as_str), Some("/out/snap-%05d.webp"));
}
