//! A honey card's photo: a synthetic colour portrait, different for every
//! card, at the size and in the format a camera capture at the counter
//! sends (640×480 JPEG at quality 90, as `canvas.toBlob` writes it). Made
//! here from random shapes, colours and sensor noise: no external data, no
//! real face.

use rand::Rng;

/// What the console's webcam capture sends most often.
pub const WIDTH: u16 = 640;
pub const HEIGHT: u16 = 480;
const QUALITY: u8 = 90;

/// Background walls, skin tones, hair and clothing colours to draw from.
const WALLS: &[[u8; 3]] = &[
    [214, 220, 226],
    [196, 206, 214],
    [226, 222, 210],
    [188, 196, 204],
    [232, 232, 228],
];
const SKIN: &[[u8; 3]] = &[
    [241, 194, 160],
    [224, 172, 135],
    [198, 140, 104],
    [161, 102, 70],
    [120, 78, 52],
    [92, 58, 40],
];
const HAIR: &[[u8; 3]] = &[
    [30, 24, 20],
    [60, 42, 30],
    [100, 70, 45],
    [150, 120, 80],
    [80, 80, 80],
    [200, 190, 170],
];
const CLOTHES: &[[u8; 3]] = &[
    [40, 60, 110],
    [120, 30, 40],
    [50, 50, 55],
    [200, 200, 205],
    [60, 100, 70],
    [150, 120, 90],
];

fn pick<R: Rng>(rng: &mut R, from: &[[u8; 3]]) -> [f32; 3] {
    let c = from[rng.gen_range(0..from.len())];
    // A little of each: lighting and white balance differ.
    let tint = rng.gen_range(-12.0..12.0);
    [f32::from(c[0]) + tint, f32::from(c[1]) + tint, f32::from(c[2]) + tint]
}

/// A fresh synthetic portrait, as JPEG bytes.
#[must_use]
pub fn portrait<R: Rng>(rng: &mut R) -> Vec<u8> {
    super::jpeg::encode(&pixels(rng), WIDTH, HEIGHT, QUALITY)
}

/// A fresh synthetic portrait: `WIDTH × HEIGHT` RGB pixels, row by row.
fn pixels<R: Rng>(rng: &mut R) -> Vec<u8> {
    let (w, h) = (f32::from(WIDTH), f32::from(HEIGHT));
    let wall = pick(rng, WALLS);
    let skin = pick(rng, SKIN);
    let hair = pick(rng, HAIR);
    let clothes = pick(rng, CLOTHES);
    // The head: an ellipse near the centre, its size and place varying.
    let (cx, cy) = (w / 2.0 + rng.gen_range(-40.0..40.0), h * rng.gen_range(0.40..0.48));
    let (rx, ry) = (rng.gen_range(70.0..95.0), rng.gen_range(95.0..125.0));
    let hairline = rng.gen_range(0.25..0.55);
    let shoulders = cy + ry * rng.gen_range(1.05..1.2);
    let light = rng.gen_range(-0.4..0.4);
    let noise = rng.gen_range(3.0..8.0);
    let mut rgb = Vec::with_capacity(usize::from(WIDTH) * usize::from(HEIGHT) * 3);
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            let (fx, fy) = (f32::from(x), f32::from(y));
            let (dx, dy) = ((fx - cx) / rx, (fy - cy) / ry);
            let head = dx * dx + dy * dy;
            let base = if head < 1.0 {
                if dy < -hairline && head > 0.35 || dy < -0.75 {
                    hair
                } else {
                    // Shading across the face, darker to one side.
                    let shade = 1.0 - 0.15 * (dx * light).abs() - 0.1 * head;
                    skin.map(|c| c * shade)
                }
            } else if fy > shoulders && (fx - cx).abs() < (fy - shoulders) * 1.6 + rx * 1.1 {
                clothes
            } else if head < 1.25 && dy < 0.2 {
                hair
            } else {
                // The wall: a soft gradient with vignetting.
                let v = 1.0 - 0.25 * (((fx - w / 2.0) / w).powi(2) + ((fy - h / 2.0) / h).powi(2));
                wall.map(|c| c * v * (1.0 + light * 0.1 * (fx / w - 0.5)))
            };
            for c in base {
                let n: f32 = rng.gen_range(-noise..noise);
                rgb.push((c + n).clamp(0.0, 255.0) as u8);
            }
        }
    }
    rgb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_portrait_is_colour_and_each_differs() {
        let mut rng = rand::thread_rng();
        let a = pixels(&mut rng);
        assert_eq!(a.len(), 640 * 480 * 3);
        // Colour: channels differ, not a grey ramp.
        let chroma: u64 = a
            .chunks(3)
            .map(|p| u64::from(p[0].abs_diff(p[1])) + u64::from(p[1].abs_diff(p[2])))
            .sum();
        assert!(
            chroma / (640 * 480) > 8,
            "mean channel difference {}",
            chroma / (640 * 480)
        );
        let jpeg = portrait(&mut rng);
        assert!(jpeg.starts_with(&[0xFF, 0xD8, 0xFF, 0xE0]) && jpeg.ends_with(&[0xFF, 0xD9]));
        assert!(jpeg.len() > 20_000, "{} bytes", jpeg.len());
        assert_ne!(jpeg, portrait(&mut rng));
    }
}
