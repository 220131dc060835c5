use super::*;

fn text_mark(pos: WatermarkPos) -> Watermark {
    Watermark::text(
        TextWatermark {
            text: "Hi: it's 50%".into(),
            font_size: 20,
            font_color: "#ff0000".into(),
            transparency: 50,
            font_file: Some("/fonts/a.ttf".into()),
            font_type: None,
        },
        pos,
    )
}

#[test]
fn text_is_literal_and_placed() {
    let mut mark = text_mark(WatermarkPos::BottomRight);
    mark.dx = 10.0;
    mark.dy = 5.0;
    mark.start_time = Some(1.0);
    mark.end_time = Some(2.5);
    let f = text_filter(&mark).unwrap();
    assert_eq!(
        f,
        r"drawtext=fontfile=/fonts/a.ttf:text=Hi\\: it\\\'s 50%:expansion=none:fontsize=20:fontcolor=0xFF0000@0.5:x=w-tw-10:y=h-th-5:enable=between(t\,1\,2.5)"
    );
}

#[test]
fn relative_offsets_and_centre() {
    let mut mark = text_mark(WatermarkPos::Center);
    mark.loc_mode = LocMode::Relativity;
    mark.dx = 5.0;
    let (x, y) = place(&mark, ("w", "h"), ("tw", "th"));
    assert_eq!(x, "(w-tw)/2+w*5/100");
    assert_eq!(y, "(h-th)/2+h*0/100");
    mark.pos = WatermarkPos::TopLeft;
    mark.loc_mode = LocMode::Absolute;
    assert_eq!(
        place(&mark, ("W", "H"), ("w", "h")),
        ("5".into(), "0".into())
    );
}

#[test]
fn image_modes() {
    let mut image = ImageWatermark {
        path: "/logo.png".into(),
        mode: ImageWatermarkMode::Proportion,
        width: Some(20.0),
        height: None,
        transparency: 60,
    };
    let mut mark = Watermark::image(image.clone(), WatermarkPos::TopRight);
    mark.end_time = Some(3.0);
    let o = overlay(&mark).unwrap();
    assert_eq!(o.prepare, ["format=rgba", "colorchannelmixer=aa=0.6"]);
    assert_eq!(o.scale_ref.as_deref(), Some("w=iw*20/100:h=ow/main_a"));
    assert_eq!(
        o.overlay,
        "overlay=x=main_w-overlay_w:y=0:enable=lte(t\\,3)"
    );
    image.mode = ImageWatermarkMode::Fixed;
    image.width = Some(64.0);
    image.transparency = 100;
    let o = overlay(&Watermark::image(image.clone(), WatermarkPos::TopLeft)).unwrap();
    assert_eq!(o.prepare, ["format=rgba", "scale=64:-1"]);
    assert_eq!(o.scale_ref, None);
    image.mode = ImageWatermarkMode::Original;
    let err = overlay(&Watermark::image(image, WatermarkPos::TopLeft)).unwrap_err();
    assert_eq!(err.code(), "InvalidSpec");
}

#[test]
fn validation() {
    let mut mark = text_mark(WatermarkPos::TopLeft);
    assert!(mark.validate().is_ok());
    if let WatermarkKind::Text(t) = &mut mark.kind {
        t.font_color = "red".into();
    }
    assert!(mark.validate().is_err());
    let mut mark = text_mark(WatermarkPos::TopLeft);
    if let WatermarkKind::Text(t) = &mut mark.kind {
        t.text = "x".repeat(65);
    }
    assert!(mark.validate().is_err());
    let mut mark = text_mark(WatermarkPos::TopLeft);
    mark.start_time = Some(3.0);
    mark.end_time = Some(1.0);
    assert!(mark.validate().is_err());
    assert_eq!(
        WatermarkPos::parse("bottomleft").unwrap(),
        WatermarkPos::BottomLeft
    );
    assert_eq!(LocMode::parse("Relativity").unwrap(), LocMode::Relativity);
}

#[test]
fn colors() {
    assert_eq!(parse_color("0xffcc00").unwrap(), "0xFFCC00");
    assert_eq!(parse_color("#00FF00").unwrap(), "0x00FF00");
    assert!(parse_color("0xFFF").is_err());
}

#[tokio::test]
async fn a_system_font_is_found() {
    // The test machines have fontconfig and DejaVu (ffmpeg depends on them).
    let font = find_font(None).await.unwrap();
    assert!(font.is_file(), "{}", font.display());
    assert!(scan_font_dirs().is_some());
}
