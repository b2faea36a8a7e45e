//! QR codes: what is rendered can be read back, from PNG and JPEG, several
//! per image, and bad images get their own errors.
#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    missing_docs
)]

use std::io::Cursor;

use image::{GenericImage, ImageFormat, Luma};
use nidan_otp::qr::{self, QrError};
use nidan_otp::{KeyUri, Secret};

fn uri(account: &str) -> String {
    KeyUri::new_totp(
        Secret::generate().unwrap(),
        Some("nidan example".into()),
        account.into(),
    )
    .to_uri()
    .to_string()
}

#[test]
fn a_rendered_png_decodes_to_the_same_uri() {
    let text = uri("alice@example.com");
    let png = qr::render_png(&text, 4).unwrap();
    assert_eq!(qr::decode_image(&png).unwrap(), vec![text]);
}

#[test]
fn a_jpeg_screenshot_decodes_too() {
    let text = uri("bob@example.com");
    let png = qr::render_png(&text, 6).unwrap();
    let image = image::load_from_memory(&png).unwrap();
    let mut jpeg = Vec::new();
    image
        .to_rgb8()
        .write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)
        .unwrap();
    assert_eq!(qr::decode_image(&jpeg).unwrap(), vec![text]);
}

#[test]
fn every_code_in_an_image_is_read() {
    let first = uri("one@example.com");
    let second = uri("two@example.com");
    let a = image::load_from_memory(&qr::render_png(&first, 4).unwrap())
        .unwrap()
        .to_luma8();
    let b = image::load_from_memory(&qr::render_png(&second, 4).unwrap())
        .unwrap()
        .to_luma8();
    let mut canvas = image::GrayImage::from_pixel(
        a.width() + b.width() + 40,
        a.height().max(b.height()) + 40,
        Luma([255]),
    );
    canvas.copy_from(&a, 10, 20).unwrap();
    canvas.copy_from(&b, a.width() + 30, 20).unwrap();
    let mut png = Vec::new();
    canvas
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .unwrap();
    let mut found = qr::decode_image(&png).unwrap();
    found.sort();
    let mut expected = vec![first, second];
    expected.sort();
    assert_eq!(found, expected);
}

#[test]
fn svg_and_terminal_renderings_are_produced() {
    let text = uri("carol@example.com");
    let svg = qr::render_svg(&text).unwrap();
    assert!(svg.contains("<svg"));
    let terminal = qr::render_terminal(&text).unwrap();
    assert!(terminal.lines().count() > 10);
    assert!(terminal.contains('█') || terminal.contains('▀') || terminal.contains('▄'));
}

#[test]
fn images_without_a_code_are_told_apart_from_non_images() {
    let blank = image::GrayImage::from_pixel(200, 200, Luma([255]));
    let mut png = Vec::new();
    blank
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .unwrap();
    assert_eq!(qr::decode_image(&png), Err(QrError::NoQrCode));
    assert!(matches!(
        qr::decode_image(b"MZ\x90\x00 not an image"),
        Err(QrError::NotAnImage(_))
    ));
    assert!(matches!(
        qr::decode_image(&png[..png.len() / 2]),
        Err(QrError::NotAnImage(_))
    ));
}

#[test]
fn text_too_long_for_a_qr_code_is_refused() {
    let long = "x".repeat(5000);
    assert_eq!(qr::render_svg(&long), Err(QrError::TooLong(5000)));
}
