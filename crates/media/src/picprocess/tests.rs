use super::*;

fn geometry(ops: &str, size: (u32, u32)) -> (Vec<String>, (u32, u32)) {
    let ops = PicOps::parse(ops).unwrap();
    plan(&ops, size, ops.format.unwrap_or_default())
}

#[test]
fn parses_a_full_pipeline() {
    let ops = PicOps::parse(
        "imageMogr2/thumbnail/!50p/gravity/center/crop/100x80a5a0/rotate/90/format/png/quality/80!/strip",
    )
    .unwrap();
    assert_eq!(
        ops.steps,
        [
            PicStep::Thumbnail(Thumbnail::Percent {
                width: 50.0,
                height: 50.0
            }),
            PicStep::Crop {
                width: Some(100),
                height: Some(80),
                gravity: Gravity::Center,
                dx: 5,
                dy: 0
            },
            PicStep::Rotate(90.0),
        ]
    );
    assert_eq!(ops.format, Some(ImageFormat::Png));
    assert_eq!(ops.quality, Some(80));
    assert!(ops.strip);
    assert!(
        PicOps::parse("?imageMogr2/auto-orient/ignore-error/1")
            .unwrap()
            .steps
            .is_empty()
    );
}

#[test]
fn thumbnail_forms() {
    let t = |s| Thumbnail::parse(s).unwrap();
    assert_eq!(t("300x"), Thumbnail::Width(300, Only::Any));
    assert_eq!(t("x200"), Thumbnail::Height(200, Only::Any));
    assert_eq!(t("300x200"), Thumbnail::Fit(300, 200, Only::Any));
    assert_eq!(t("300x200>"), Thumbnail::Fit(300, 200, Only::Shrink));
    assert_eq!(t("!300x200r"), Thumbnail::Fill(300, 200));
    assert_eq!(t("300x200!"), Thumbnail::Exact(300, 200));
    assert_eq!(
        t("!25px"),
        Thumbnail::Percent {
            width: 25.0,
            height: 100.0
        }
    );
    assert_eq!(
        t("!x25p"),
        Thumbnail::Percent {
            width: 100.0,
            height: 25.0
        }
    );
    assert_eq!(t("10000@"), Thumbnail::Area(10_000));
    assert!(Thumbnail::parse("big").is_err());
    assert!(Thumbnail::parse("0x10").is_err());
}

#[test]
fn errors_name_the_problem() {
    let err = PicOps::parse("imageMogr2/blur/3x5").unwrap_err();
    assert_eq!(err.code(), "InvalidSpec");
    assert!(err.to_string().contains("\"blur\""), "{err}");
    assert!(PicOps::parse("imageMogr2/format/bmp").is_err());
    assert!(PicOps::parse("imageMogr2/quality/0").is_err());
    assert!(PicOps::parse("imageMogr2/rotate").is_err());
    assert!(PicOps::parse("watermark/1/image/xx").is_err());
    assert!(PicOps::parse("imageMogr2/format/png|watermark/1").is_err());
}

#[test]
fn geometry_is_exact() {
    let size = (400, 300);
    assert_eq!(geometry("imageMogr2/thumbnail/200x", size).1, (200, 150));
    assert_eq!(geometry("imageMogr2/thumbnail/x150", size).1, (200, 150));
    assert_eq!(geometry("imageMogr2/thumbnail/100x100", size).1, (100, 75));
    assert_eq!(
        geometry("imageMogr2/thumbnail/!100x100r", size).1,
        (133, 100)
    );
    assert_eq!(
        geometry("imageMogr2/thumbnail/100x100!", size).1,
        (100, 100)
    );
    assert_eq!(geometry("imageMogr2/thumbnail/!50p", size).1, (200, 150));
    assert_eq!(geometry("imageMogr2/thumbnail/1000x>", size).1, (400, 300));
    assert_eq!(geometry("imageMogr2/thumbnail/30000@", size).1, (200, 150));
    let (f, s) = geometry("imageMogr2/crop/100x100/gravity/center", size);
    assert_eq!((f[0].as_str(), s), ("crop=100:100:150:100", (100, 100)));
    let (f, _) = geometry("imageMogr2/gravity/southeast/crop/500x100", size);
    assert_eq!(f, ["crop=400:100:0:200"]);
    let (f, s) = geometry("imageMogr2/rotate/90", size);
    assert_eq!((f, s), (vec!["transpose=clock".to_owned()], (300, 400)));
    let (f, s) = geometry("imageMogr2/rotate/45/format/png", (100, 100));
    assert_eq!(f, ["format=rgba", "rotate=45*PI/180:ow=141:oh=141:c=none"]);
    assert_eq!(s, (141, 141));
    let (f, _) = geometry("imageMogr2/rotate/30", (100, 100));
    assert!(f[0].ends_with("c=white"), "{f:?}");
}

#[test]
fn output_names_and_args() {
    let ops = PicOps::parse("imageMogr2/format/webp/quality/60").unwrap();
    assert_eq!(
        pic_output_path(Path::new("/in/snap-00001.jpg"), Path::new("/out"), &ops),
        Path::new("/out/snap-00001.webp")
    );
    let args = pic_ops_args(
        Path::new("/in/a.png"),
        Path::new("/out/a.webp"),
        &ops,
        (10, 10),
    )
    .unwrap();
    assert!(args.windows(2).any(|w| w[0] == "-quality" && w[1] == "60"));
    assert!(!args.iter().any(|a| a == "-vf"));
    let keep = PicOps::parse("imageMogr2/thumbnail/50x").unwrap();
    assert_eq!(
        pic_output_path(Path::new("/in/a.PNG"), Path::new("/o"), &keep),
        Path::new("/o/a.png")
    );
}
