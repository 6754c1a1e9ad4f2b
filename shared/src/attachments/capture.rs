//! What happens to a photo or a signature on the device before it is stored (feature
//! `capture`).
//!
//! A photo is decoded, turned upright by its EXIF orientation, downscaled so its longest side
//! is at most the device's setting, and encoded again. The new file carries no metadata at
//! all: the EXIF block (the GPS position where the photo was taken above all, the camera, the
//! time) never reaches the store. A signature is kept as its strokes, exactly as drawn, and
//! as a picture drawn from them.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageFormat, ImageReader, Limits, Luma};
use serde::{Deserialize, Serialize};

/// The quality photos are encoded at: a note's photo is evidence, not art, and this keeps a
/// 2,048-pixel photo near half a megabyte.
const JPEG_QUALITY: u8 = 85;

/// The largest picture decoded, per side: a bomb of a file claiming more is refused before
/// its pixels take the phone's memory.
const MAX_DECODED_SIDE: u32 = 12_000;

/// A picture ready to be attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// Its bytes, re-encoded.
    pub bytes: Vec<u8>,
    /// `image/jpeg` or `image/png`.
    pub media_type: &'static str,
    /// Its width in pixels.
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
}

/// Why a picture could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// Not a JPEG or PNG the app can read (a HEIC from an iPhone set to "High Efficiency").
    #[error(
        "this picture could not be read: attach a JPEG or PNG (on an iPhone, Settings › Camera › \
         Formats › Most Compatible)"
    )]
    Unreadable(#[source] image::ImageError),
    /// Encoding failed.
    #[error("the picture could not be saved: {0}")]
    Encode(#[source] image::ImageError),
}

/// Decodes a photo, turns it upright, fits its longest side within `longest_side` pixels and
/// encodes it again (a PNG stays a PNG, so a screenshot or a scan keeps its sharp edges;
/// anything else becomes a JPEG). The result holds no EXIF, no GPS position, no colour profile.
pub fn prepare_photo(bytes: &[u8], longest_side: u32) -> Result<Prepared, CaptureError> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|error| CaptureError::Unreadable(error.into()))?;
    let png = reader.format() == Some(ImageFormat::Png);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DECODED_SIDE);
    limits.max_image_height = Some(MAX_DECODED_SIDE);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(CaptureError::Unreadable)?;
    let orientation = decoder.orientation().map_err(CaptureError::Unreadable)?;
    let mut picture = DynamicImage::from_decoder(decoder).map_err(CaptureError::Unreadable)?;
    picture.apply_orientation(orientation);
    if picture.width().max(picture.height()) > longest_side {
        picture = picture.resize(longest_side, longest_side, FilterType::Triangle);
    }
    let mut out = Vec::new();
    let media_type = if png {
        picture
            .write_with_encoder(PngEncoder::new(&mut out))
            .map_err(CaptureError::Encode)?;
        "image/png"
    } else {
        // JPEG has no transparency: what was transparent becomes white, not black.
        let rgb = flatten_on_white(&picture);
        rgb.write_with_encoder(JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY))
            .map_err(CaptureError::Encode)?;
        "image/jpeg"
    };
    Ok(Prepared {
        bytes: out,
        media_type,
        width: picture.width(),
        height: picture.height(),
    })
}

fn flatten_on_white(picture: &DynamicImage) -> DynamicImage {
    if !picture.color().has_alpha() {
        return DynamicImage::ImageRgb8(picture.to_rgb8());
    }
    let rgba = picture.to_rgba8();
    let rgb = image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over = |channel: u8| {
            let alpha = u16::from(a);
            ((u16::from(channel) * alpha + 255 * (255 - alpha)) / 255) as u8
        };
        image::Rgb([over(r), over(g), over(b)])
    });
    DynamicImage::ImageRgb8(rgb)
}

/// A signature as drawn: strokes of points, in the pad's own units, and the pad's size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Strokes {
    /// The pad's width and height when it was signed.
    pub pad: (f32, f32),
    /// Each stroke's points, in order.
    pub strokes: Vec<Vec<(f32, f32)>>,
}

impl Strokes {
    /// Whether anything was drawn: a dot counts, an empty pad does not.
    pub fn is_empty(&self) -> bool {
        self.strokes.iter().all(Vec::is_empty)
    }

    /// The strokes as stored beside the picture ([`super::STROKES_MEDIA_TYPE`]).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("strokes serialise")
    }

    /// The signature drawn black on white, `width` pixels wide, as a PNG.
    pub fn to_png(&self, width: u32) -> Result<Prepared, CaptureError> {
        let (pad_width, pad_height) = (self.pad.0.max(1.0), self.pad.1.max(1.0));
        let scale = width as f32 / pad_width;
        let height = ((pad_height * scale).round() as u32).max(1);
        let mut picture = GrayImage::from_pixel(width, height, Luma([255]));
        let radius = (1.5 * scale).max(1.0);
        for stroke in &self.strokes {
            let points: Vec<(f32, f32)> = stroke
                .iter()
                .map(|&(x, y)| (x * scale, y * scale))
                .collect();
            if let [only] = points.as_slice() {
                ink(&mut picture, *only, *only, radius);
            }
            for pair in points.windows(2) {
                ink(&mut picture, pair[0], pair[1], radius);
            }
        }
        let mut out = Vec::new();
        DynamicImage::ImageLuma8(picture)
            .write_with_encoder(PngEncoder::new(&mut out))
            .map_err(CaptureError::Encode)?;
        Ok(Prepared {
            bytes: out,
            media_type: "image/png",
            width,
            height,
        })
    }
}

/// Inks the segment from `a` to `b` with a round pen of `radius`, its edges antialiased.
fn ink(picture: &mut GrayImage, a: (f32, f32), b: (f32, f32), radius: f32) {
    let (width, height) = picture.dimensions();
    let left = (a.0.min(b.0) - radius - 1.0).max(0.0) as u32;
    let top = (a.1.min(b.1) - radius - 1.0).max(0.0) as u32;
    let right = ((a.0.max(b.0) + radius + 2.0).max(0.0) as u32).min(width);
    let bottom = ((a.1.max(b.1) + radius + 2.0).max(0.0) as u32).min(height);
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let length_squared = dx * dx + dy * dy;
    for y in top..bottom {
        for x in left..right {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let along = if length_squared > 0.0 {
                (((px - a.0) * dx + (py - a.1) * dy) / length_squared).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let (ex, ey) = (a.0 + along * dx - px, a.1 + along * dy - py);
            let cover = (radius + 0.5 - (ex * ex + ey * ey).sqrt()).clamp(0.0, 1.0);
            let shade = (255.0 * (1.0 - cover)).round() as u8;
            let pixel = &mut picture.get_pixel_mut(x, y).0[0];
            *pixel = (*pixel).min(shade);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::codecs::jpeg::JpegDecoder;

    /// An EXIF block (big-endian TIFF) with an orientation and a GPS position: 51°30'26.28"N,
    /// 0°7'39.84"W.
    fn exif_with_gps(orientation: u16) -> Vec<u8> {
        fn entry(tiff: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]) {
            tiff.extend(tag.to_be_bytes());
            tiff.extend(kind.to_be_bytes());
            tiff.extend(count.to_be_bytes());
            tiff.extend(value);
        }
        let (gps_directory, latitude, longitude) = (38u32, 104u32, 128u32);
        let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
        tiff.extend(2u16.to_be_bytes());
        let o = orientation.to_be_bytes();
        entry(&mut tiff, 0x0112, 3, 1, [o[0], o[1], 0, 0]);
        entry(&mut tiff, 0x8825, 4, 1, gps_directory.to_be_bytes());
        tiff.extend(0u32.to_be_bytes());
        assert_eq!(tiff.len(), gps_directory as usize);
        tiff.extend(5u16.to_be_bytes());
        entry(&mut tiff, 0x0000, 1, 4, [2, 3, 0, 0]);
        entry(&mut tiff, 0x0001, 2, 2, *b"N\0\0\0");
        entry(&mut tiff, 0x0002, 5, 3, latitude.to_be_bytes());
        entry(&mut tiff, 0x0003, 2, 2, *b"W\0\0\0");
        entry(&mut tiff, 0x0004, 5, 3, longitude.to_be_bytes());
        tiff.extend(0u32.to_be_bytes());
        assert_eq!(tiff.len(), latitude as usize);
        for (numerator, denominator) in [
            (51u32, 1u32),
            (30, 1),
            (2628, 100),
            (0, 1),
            (7, 1),
            (3984, 100),
        ] {
            tiff.extend(numerator.to_be_bytes());
            tiff.extend(denominator.to_be_bytes());
        }
        let mut segment = vec![0xFF, 0xE1];
        segment.extend(((2 + 6 + tiff.len()) as u16).to_be_bytes());
        segment.extend(b"Exif\0\0");
        segment.extend(tiff);
        segment
    }

    fn plain_jpeg(width: u32, height: u32) -> Vec<u8> {
        let picture = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x * 5) as u8, (y * 5) as u8, 128])
        });
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(picture)
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, 90))
            .unwrap();
        out
    }

    /// A phone's photo: a JPEG with the EXIF block right after its start marker.
    fn jpeg_with_gps(width: u32, height: u32, orientation: u16) -> Vec<u8> {
        let jpeg = plain_jpeg(width, height);
        [&jpeg[..2], &exif_with_gps(orientation)[..], &jpeg[2..]].concat()
    }

    /// The markers of a JPEG's segments before its image data.
    fn header_markers(jpeg: &[u8]) -> Vec<u8> {
        let (mut at, mut markers) = (2, Vec::new());
        while at + 4 <= jpeg.len() && jpeg[at] == 0xFF && jpeg[at + 1] != 0xDA {
            markers.push(jpeg[at + 1]);
            at += 2 + u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]) as usize;
        }
        markers
    }

    fn holds(haystack: &[u8], needle: &[u8]) -> bool {
        haystack
            .windows(needle.len())
            .any(|window| window == needle)
    }

    #[test]
    fn a_photo_with_a_gps_position_comes_out_without_it_upright_and_downscaled() {
        let photo = jpeg_with_gps(400, 200, 6);
        let mut decoder = JpegDecoder::new(Cursor::new(&photo)).unwrap();
        assert!(
            decoder.exif_metadata().unwrap().is_some(),
            "the photo taken carries EXIF"
        );
        assert!(holds(&photo, b"Exif\0\0") && holds(&photo, &[0x88, 0x25, 0, 4]));

        let prepared = prepare_photo(&photo, 100).unwrap();
        assert_eq!(prepared.media_type, "image/jpeg");
        // Orientation 6: the camera was held on its side. Upright, 200 × 400, within 100.
        assert_eq!((prepared.width, prepared.height), (50, 100));
        let out = &prepared.bytes;
        assert!(
            !header_markers(out).contains(&0xE1),
            "no APP1 segment at all"
        );
        assert!(!holds(out, b"Exif\0\0"));
        assert!(!holds(out, &[0x88, 0x25, 0, 4]), "no GPS directory");
        let decoder = JpegDecoder::new(Cursor::new(out)).unwrap();
        assert_eq!(decoder.dimensions(), (50, 100));
        let mut decoder = decoder;
        assert!(decoder.exif_metadata().unwrap().is_none());
    }

    #[test]
    fn a_small_png_keeps_its_size_and_kind_and_nonsense_is_a_clear_error() {
        let picture = image::RgbaImage::from_pixel(30, 20, image::Rgba([10, 20, 30, 128]));
        let mut png = Vec::new();
        DynamicImage::ImageRgba8(picture)
            .write_with_encoder(PngEncoder::new(&mut png))
            .unwrap();
        let prepared = prepare_photo(&png, 2048).unwrap();
        assert_eq!(
            (prepared.media_type, prepared.width, prepared.height),
            ("image/png", 30, 20)
        );
        let error = prepare_photo(b"%PDF-1.7 not a picture", 2048).unwrap_err();
        assert!(error.to_string().contains("JPEG or PNG"), "{error}");
    }

    #[test]
    fn a_signature_is_drawn_from_its_strokes() {
        let strokes = Strokes {
            pad: (300.0, 100.0),
            strokes: vec![vec![(10.0, 50.0), (290.0, 50.0)], vec![(150.0, 10.0)]],
        };
        assert!(!strokes.is_empty());
        let png = strokes.to_png(600).unwrap();
        assert_eq!((png.width, png.height), (600, 200));
        let picture = image::load_from_memory(&png.bytes).unwrap().to_luma8();
        assert!(picture.get_pixel(300, 100).0[0] < 64, "the line is inked");
        assert!(picture.get_pixel(300, 20).0[0] < 64, "the dot is inked");
        assert_eq!(picture.get_pixel(300, 160).0[0], 255, "the rest is paper");
        let json = strokes.to_json();
        assert_eq!(serde_json::from_slice::<Strokes>(&json).unwrap(), strokes);
        assert!(
            Strokes {
                pad: (1.0, 1.0),
                strokes: vec![vec![]]
            }
            .is_empty()
        );
    }
}
