//! QR codes: rendering a string (an `otpauth://` URI) for a web page (SVG),
//! a file (PNG) or a terminal (Unicode half blocks), and reading every QR
//! code in a PNG or JPEG image, such as a screenshot of an enrolment page or
//! of Google Authenticator's transfer screen.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits, Luma};
use qrcode::{EcLevel, QrCode, render::svg, render::unicode};

/// Why a QR code could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    /// The text does not fit in the largest QR code.
    #[error("the text is too long for a QR code ({0} bytes)")]
    TooLong(usize),
    /// The bytes are not a PNG or JPEG image, or are corrupt.
    #[error("the file is not a readable PNG or JPEG image: {0}")]
    NotAnImage(String),
    /// The image is larger than [`MAX_IMAGE_SIDE`] pixels on a side.
    #[error("the image is {width}x{height} pixels; at most {MAX_IMAGE_SIDE} on a side are read")]
    ImageTooLarge {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// No QR code was found anywhere in the image.
    #[error("no QR code was found in the image")]
    NoQrCode,
    /// QR codes were found but none could be read (blurred, cut off).
    #[error("{found} QR code(s) were found but none could be read; try a sharper or larger image")]
    Unreadable {
        /// How many were detected.
        found: usize,
    },
    /// Encoding the PNG failed.
    #[error("could not write the PNG image: {0}")]
    Png(String),
}

/// The largest image side decoded, to bound memory on hostile input.
pub const MAX_IMAGE_SIDE: u32 = 8192;

fn code_for(text: &str) -> Result<QrCode, QrError> {
    // Medium error correction: survives a smudged screen, keeps URIs with
    // long issuer names at a size phones scan easily.
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|_| QrError::TooLong(text.len()))
}

/// An SVG document, scalable, for inline use in an HTML page.
pub fn render_svg(text: &str) -> Result<String, QrError> {
    let code = code_for(text)?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

/// A PNG image with `scale` pixels per module (at least 1) and a quiet zone.
pub fn render_png(text: &str, scale: u32) -> Result<Vec<u8>, QrError> {
    let code = code_for(text)?;
    let scale = scale.max(1);
    let image = code
        .render::<Luma<u8>>()
        .module_dimensions(scale, scale)
        .quiet_zone(true)
        .build();
    let mut png = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| QrError::Png(e.to_string()))?;
    Ok(png)
}

/// Text for a terminal: two modules per character cell using half blocks,
/// dark on light, with a quiet zone so phone cameras find it.
pub fn render_terminal(text: &str) -> Result<String, QrError> {
    let code = code_for(text)?;
    Ok(code
        .render::<unicode::Dense1x2>()
        .dark_color(unicode::Dense1x2::Light)
        .light_color(unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

/// Every QR code readable in a PNG or JPEG image (format detected from the
/// content), in the order found.
pub fn decode_image(bytes: &[u8]) -> Result<Vec<String>, QrError> {
    let open = || {
        ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| QrError::NotAnImage(e.to_string()))
    };
    let mut reader = open()?;
    if !matches!(reader.format(), Some(ImageFormat::Png | ImageFormat::Jpeg)) {
        return Err(QrError::NotAnImage("only PNG and JPEG are read".into()));
    }
    // Read the header alone first, so a hostile 100000x100000 image is
    // refused before anything is allocated for its pixels.
    let (width, height) = open()?
        .into_dimensions()
        .map_err(|e| QrError::NotAnImage(e.to_string()))?;
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(QrError::ImageTooLarge { width, height });
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|e| QrError::NotAnImage(e.to_string()))?
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    if grids.is_empty() {
        return Err(QrError::NoQrCode);
    }
    let found = grids.len();
    let texts: Vec<String> = grids
        .into_iter()
        .filter_map(|grid| grid.decode().ok().map(|(_, text)| text))
        .collect();
    if texts.is_empty() {
        return Err(QrError::Unreadable { found });
    }
    Ok(texts)
}
