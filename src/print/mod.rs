//! The printed card as a PDF: two pages at ID-1 size (ISO/IEC 7810, the
//! CR80 of card printers: 85.60 × 53.98 mm), front and back, drawn with
//! krilla (text shaping in any script the font covers, the font subset
//! into the file, the photo as the JPEG or PNG it was enrolled as).
//!
//! Front: the program, the photo, the name, the birth date, the card number
//! and the dates. Back: the seal's QR code (drawn as vector squares, for a
//! crisp print), the address the card prints if any, and where to check
//! it. The font is DejaVu Sans (assets/fonts, its licence beside it):
//! Latin, Greek, Cyrillic, Armenian, Georgian, Hebrew and most of Arabic
//! among others. Scripts it lacks — Chinese, Japanese, Korean, Bengali,
//! Devanagari and the other Indic scripts, a few Urdu letters — print as
//! empty boxes; the seal keeps the exact name.

use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::image::Image;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use krilla::Document;

/// ID-1 in points (1/72 inch).
const W: f32 = 85.60 / 25.4 * 72.0;
const H: f32 = 53.98 / 25.4 * 72.0;
const MARGIN: f32 = 8.0;

static REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// What the card shows.
#[derive(Debug)]
pub struct Face<'a> {
    pub program: &'a str,
    pub number: &'a str,
    pub name: &'a str,
    pub birth_date: &'a str,
    pub issued: &'a str,
    pub expires: Option<&'a str>,
    pub address: Option<&'a [String]>,
    /// The photo as enrolled (JPEG or PNG).
    pub photo: &'a [u8],
    /// `image/jpeg` or `image/png`.
    pub photo_type: &'a str,
    /// The seal, the QR code's text.
    pub seal: &'a str,
    /// Where anyone can check a card (`<origin>/verify/`).
    pub verify_url: &'a str,
}

/// Why a card could not be drawn (nothing about the holder in it).
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error("the photo does not read as a JPEG or PNG image")]
    Photo,
    #[error("the seal does not fit a QR code")]
    Seal,
    #[error("the PDF could not be written: {0}")]
    Pdf(String),
}

struct Fonts {
    regular: Font,
    bold: Font,
}

fn fill(surface: &mut Surface<'_>, color: rgb::Color) {
    surface.set_fill(Some(Fill {
        paint: color.into(),
        opacity: NormalizedF32::ONE,
        rule: krilla::paint::FillRule::default(),
    }));
}

fn rect(surface: &mut Surface<'_>, x: f32, y: f32, w: f32, h: f32) {
    let mut pb = PathBuilder::new();
    if let Some(r) = Rect::from_xywh(x, y, w, h) {
        pb.push_rect(r);
    }
    if let Some(path) = pb.finish() {
        surface.draw_path(&path);
    }
}

/// A font size at which `text` fits `width` points (DejaVu Sans averages
/// under 0.62 em a character, its bold under 0.7), at most `max`.
#[allow(clippy::cast_precision_loss, reason = "a character count, far below 2^23")]
fn fitting(text: &str, width: f32, max: f32) -> f32 {
    let chars = text.chars().count().max(1) as f32;
    (width / (chars * 0.7)).min(max)
}

/// `text` in at most two lines of `width` (split at the space nearest the
/// middle when one line would be smaller than `min`), and the size.
fn lines(text: &str, width: f32, max: f32, min: f32) -> (Vec<String>, f32) {
    let one = fitting(text, width, max);
    if one >= min || !text.contains(' ') {
        return (vec![text.to_owned()], one);
    }
    let mid = text.len() / 2;
    let split = text
        .match_indices(' ')
        .map(|(i, _)| i)
        .min_by_key(|i| i.abs_diff(mid))
        .unwrap_or(mid);
    let (a, b) = text.split_at(split);
    let (a, b) = (a.trim().to_owned(), b.trim().to_owned());
    let size = fitting(if a.len() > b.len() { &a } else { &b }, width, max);
    (vec![a, b], size)
}

fn label_value(surface: &mut Surface<'_>, fonts: &Fonts, (x, y): (f32, f32), label: &str, value: &str) {
    let width = W - x - MARGIN;
    fill(surface, rgb::Color::new(90, 90, 90));
    surface.draw_text(
        Point::from_xy(x, y),
        fonts.regular.clone(),
        5.0,
        label,
        false,
        TextDirection::Auto,
    );
    fill(surface, rgb::Color::new(0, 0, 0));
    surface.draw_text(
        Point::from_xy(x, y + 8.0),
        fonts.regular.clone(),
        fitting(value, width, 7.5),
        value,
        false,
        TextDirection::Auto,
    );
}

fn front(surface: &mut Surface<'_>, fonts: &Fonts, face: &Face<'_>, photo: Image) {
    fill(surface, rgb::Color::new(255, 255, 255));
    rect(surface, 0.0, 0.0, W, H);
    fill(surface, rgb::Color::new(16, 52, 110));
    rect(surface, 0.0, 0.0, W, 22.0);
    fill(surface, rgb::Color::new(255, 255, 255));
    surface.draw_text(
        Point::from_xy(MARGIN, 15.0),
        fonts.bold.clone(),
        fitting(face.program, 120.0, 11.0),
        face.program,
        false,
        TextDirection::Auto,
    );
    surface.draw_text(
        Point::from_xy(W - 78.0, 14.0),
        fonts.regular.clone(),
        6.0,
        "Municipal ID card",
        false,
        TextDirection::Auto,
    );
    // The photo, fitted to a 62 × 80 pt box.
    let (pw, ph) = photo.size();
    #[allow(clippy::cast_precision_loss, reason = "image sides, far below 2^23")]
    let (pw, ph) = (pw.max(1) as f32, ph.max(1) as f32);
    let scale = (62.0 / pw).min(80.0 / ph);
    let (dw, dh) = (pw * scale, ph * scale);
    surface.push_transform(&Transform::from_translate(MARGIN + (62.0 - dw) / 2.0, 30.0));
    if let Some(size) = Size::from_wh(dw, dh) {
        surface.draw_image(photo, size);
    }
    surface.pop();
    let x = MARGIN + 62.0 + 8.0;
    let (name, size) = lines(face.name, W - x - MARGIN, 9.0, 6.0);
    fill(surface, rgb::Color::new(0, 0, 0));
    let mut y = 36.0;
    for line in &name {
        surface.draw_text(
            Point::from_xy(x, y),
            fonts.bold.clone(),
            size,
            line,
            false,
            TextDirection::Auto,
        );
        y += size + 2.0;
    }
    y += 4.0;
    label_value(surface, fonts, (x, y), "Date of birth", face.birth_date);
    label_value(surface, fonts, (x, y + 19.0), "Card number", face.number);
    label_value(surface, fonts, (x, y + 38.0), "Issued", face.issued);
    label_value(
        surface,
        fonts,
        (x + 52.0, y + 38.0),
        "Expires",
        face.expires.unwrap_or("No expiry"),
    );
}

fn back(surface: &mut Surface<'_>, fonts: &Fonts, face: &Face<'_>, qr: &qrcode::QrCode) {
    fill(surface, rgb::Color::new(255, 255, 255));
    rect(surface, 0.0, 0.0, W, H);
    let side = H - 2.0 * MARGIN;
    let n = qr.width();
    #[allow(clippy::cast_precision_loss, reason = "a QR code is at most 177 modules wide")]
    let module = side / (n + 8) as f32;
    let origin = MARGIN + 4.0 * module;
    fill(surface, rgb::Color::new(0, 0, 0));
    let mut pb = PathBuilder::new();
    for (i, c) in qr.to_colors().iter().enumerate() {
        if *c == qrcode::Color::Dark {
            #[allow(clippy::cast_precision_loss, reason = "module coordinates, below 177")]
            let (cx, cy) = ((i % n) as f32, (i / n) as f32);
            if let Some(r) = Rect::from_xywh(origin + cx * module, origin + cy * module, module, module) {
                pb.push_rect(r);
            }
        }
    }
    if let Some(path) = pb.finish() {
        surface.draw_path(&path);
    }
    let x = MARGIN + side + 6.0;
    let width = W - x - MARGIN;
    let mut y = MARGIN + 8.0;
    if let Some(address) = face.address {
        fill(surface, rgb::Color::new(90, 90, 90));
        surface.draw_text(
            Point::from_xy(x, y),
            fonts.regular.clone(),
            5.0,
            "Address",
            false,
            TextDirection::Auto,
        );
        fill(surface, rgb::Color::new(0, 0, 0));
        for line in address {
            y += 8.0;
            surface.draw_text(
                Point::from_xy(x, y),
                fonts.regular.clone(),
                fitting(line, width, 6.5),
                line,
                false,
                TextDirection::Auto,
            );
        }
        y += 12.0;
    }
    fill(surface, rgb::Color::new(0, 0, 0));
    for (i, line) in ["Check this card:", "scan the code at", face.verify_url]
        .into_iter()
        .enumerate()
    {
        #[allow(clippy::cast_precision_loss, reason = "three lines")]
        let dy = i as f32 * 7.0;
        surface.draw_text(
            Point::from_xy(x, y + dy),
            fonts.regular.clone(),
            fitting(line, width, 5.5),
            line,
            false,
            TextDirection::Auto,
        );
    }
    surface.draw_text(
        Point::from_xy(x, H - MARGIN),
        fonts.regular.clone(),
        fitting(face.number, width, 6.0),
        face.number,
        false,
        TextDirection::Auto,
    );
}

/// The card as a two-page PDF, front then back.
///
/// # Errors
/// The photo is not an image krilla reads, the seal does not fit a QR
/// code, or the PDF could not be written.
pub fn card_pdf(face: &Face<'_>) -> Result<Vec<u8>, PrintError> {
    let fonts = Fonts {
        regular: Font::new(REGULAR.into(), 0).ok_or(PrintError::Pdf("the font does not load".into()))?,
        bold: Font::new(BOLD.into(), 0).ok_or(PrintError::Pdf("the font does not load".into()))?,
    };
    let data: krilla::Data = face.photo.to_vec().into();
    let photo = if face.photo_type == "image/png" {
        Image::from_png(data, true)
    } else {
        Image::from_jpeg(data, true)
    }
    .map_err(|_| PrintError::Photo)?;
    let qr = qrcode::QrCode::with_error_correction_level(face.seal.as_bytes(), qrcode::EcLevel::M)
        .map_err(|_| PrintError::Seal)?;
    let mut document = Document::new();
    let settings = || PageSettings::from_wh(W, H).ok_or(PrintError::Pdf("the page size".into()));
    {
        let mut page = document.start_page_with(settings()?);
        let mut surface = page.surface();
        front(&mut surface, &fonts, face, photo);
        surface.finish();
        page.finish();
    }
    {
        let mut page = document.start_page_with(settings()?);
        let mut surface = page.surface();
        back(&mut surface, &fonts, face, &qr);
        surface.finish();
        page.finish();
    }
    // krilla decodes the photo when it writes the file.
    document.finish().map_err(|e| match e {
        krilla::error::KrillaError::Image(..) => PrintError::Photo,
        e => PrintError::Pdf(format!("{e:?}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4 × 4 PNG.
    const PNG: &[u8] = &[
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
        0x00, 0x04, 0x00, 0x00, 0x00, 0x04, 0x08, 0x02, 0x00, 0x00, 0x00, 0x26, 0x93, 0x09, 0x29, 0x00, 0x00, 0x00,
        0x11, 0x49, 0x44, 0x41, 0x54, 0x78, 0xDA, 0x63, 0x38, 0xB1, 0x65, 0x01, 0x1C, 0x31, 0x10, 0xC7, 0x01, 0x00,
        0x70, 0x61, 0x21, 0xC1, 0xAB, 0x62, 0x70, 0xCD, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42,
        0x60, 0x82,
    ];

    #[test]
    fn a_card_is_two_pages_in_any_script_the_font_has() {
        let address = vec!["12 Main St".to_owned(), "Hartford 06103".to_owned()];
        let face = Face {
            program: "Hartford City ID",
            number: "1234 5678 9012",
            name: "Nguyễn Thị Mai Ελένη Жанна مريم",
            birth_date: "1990-04-12",
            issued: "2026-12-07",
            expires: None,
            address: Some(&address),
            photo: PNG,
            photo_type: "image/png",
            seal: "CV1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEXWK G2EP4J0BGJLFX3R3VHXK.PJ:2DA6ZM",
            verify_url: "https://ids.example.gov/verify/",
        };
        let pdf = card_pdf(&face).unwrap();
        if let Ok(out) = std::env::var("CIVIC_VAULT_CARD_PDF") {
            std::fs::write(out, &pdf).unwrap();
        }
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(matches!(
            card_pdf(&Face {
                photo: b"not an image",
                ..face
            }),
            Err(PrintError::Photo)
        ));
    }
}
