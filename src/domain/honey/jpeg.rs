//! A baseline JPEG encoder (JFIF, YCbCr 4:2:0, the standard tables of
//! ITU T.81 Annex K scaled to a quality), just enough to write a honey
//! card's synthetic photo in the format a browser's camera capture sends
//! (`canvas.toBlob('image/jpeg', 0.9)`), so that a honey photo is not told
//! from a real one by its format. No crate in the tree encodes JPEG.

/// Annex K.1: luminance and chrominance quantization, natural order.
const LUMA_Q: [u8; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51,
    87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
];
const CHROMA_Q: [u8; 64] = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99,
];
/// Zigzag position → natural index.
const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
    28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54,
    47, 55, 62, 63,
];
/// Annex K.3: the typical Huffman tables (code counts per length, symbols).
const DC_LUMA: ([u8; 16], &[u8]) = (
    [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
    &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
);
const DC_CHROMA: ([u8; 16], &[u8]) = (
    [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
    &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
);
const AC_LUMA: ([u8; 16], &[u8]) = (
    [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d],
    &[
        0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71,
        0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72,
        0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37,
        0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59,
        0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83,
        0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3,
        0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
        0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
        0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
    ],
);
const AC_CHROMA: ([u8; 16], &[u8]) = (
    [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
    &[
        0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71, 0x13, 0x22,
        0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1,
        0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x35, 0x36,
        0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58,
        0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a,
        0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a,
        0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba,
        0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
        0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
    ],
);

/// (code, length) per symbol.
struct Huffman([(u16, u8); 256]);

impl Huffman {
    fn new(spec: &([u8; 16], &[u8])) -> Self {
        let mut table = [(0u16, 0u8); 256];
        let (mut code, mut k) = (0u16, 0usize);
        for (len, &count) in (1u8..).zip(spec.0.iter()) {
            for _ in 0..count {
                table[usize::from(spec.1[k])] = (code, len);
                code += 1;
                k += 1;
            }
            code <<= 1;
        }
        Self(table)
    }
}

/// Entropy-coded bits, with 0xFF bytes stuffed.
struct Bits {
    out: Vec<u8>,
    acc: u32,
    n: u8,
}

impl Bits {
    fn put(&mut self, code: u16, len: u8) {
        for i in (0..len).rev() {
            self.acc = (self.acc << 1) | u32::from((code >> i) & 1);
            self.n += 1;
            if self.n == 8 {
                let byte = (self.acc & 0xFF) as u8;
                self.out.push(byte);
                if byte == 0xFF {
                    self.out.push(0);
                }
                self.acc = 0;
                self.n = 0;
            }
        }
    }

    fn flush(&mut self) {
        while self.n != 0 {
            self.put(1, 1);
        }
    }
}

fn scaled(table: &[u8; 64], quality: u8) -> [u8; 64] {
    let q = u32::from(quality.clamp(1, 100));
    let scale = if q < 50 { 5000 / q } else { 200 - 2 * q };
    let mut out = [0u8; 64];
    for (o, &t) in out.iter_mut().zip(table) {
        *o = u8::try_from(((u32::from(t) * scale + 50) / 100).clamp(1, 255)).unwrap_or(255);
    }
    out
}

/// Magnitude category and its bits (T.81 F.1.2.1).
fn category(v: i32) -> (u8, u16) {
    let mag = v.unsigned_abs();
    let size = u8::try_from(32 - mag.leading_zeros()).unwrap_or(0);
    let bits = if v < 0 { v - 1 } else { v };
    let mask = (1u32 << size) - 1;
    (
        size,
        u16::try_from(u32::from_ne_bytes(bits.to_ne_bytes()) & mask).unwrap_or(0),
    )
}

struct Component<'a> {
    q: [u8; 64],
    dc: &'a Huffman,
    ac: &'a Huffman,
    pred: i32,
}

/// One 8×8 block: forward DCT, quantized, coded.
fn block(bits: &mut Bits, c: &mut Component<'_>, data: &[f32; 64], cos: &[[f32; 8]; 8]) {
    // Separable: rows, then columns.
    let mut rows = [0f32; 64];
    for y in 0..8 {
        for u in 0..8 {
            rows[y * 8 + u] = (0..8).map(|x| data[y * 8 + x] * cos[x][u]).sum();
        }
    }
    let mut coef = [0i32; 64];
    for v in 0..8 {
        for u in 0..8 {
            let s: f32 = (0..8).map(|y| rows[y * 8 + u] * cos[y][v]).sum();
            let cu = if u == 0 { std::f32::consts::FRAC_1_SQRT_2 } else { 1.0 };
            let cv = if v == 0 { std::f32::consts::FRAC_1_SQRT_2 } else { 1.0 };
            let f = 0.25 * cu * cv * s;
            let q = (f / f32::from(c.q[v * 8 + u])).round() as i32;
            coef[v * 8 + u] = q;
        }
    }
    let diff = coef[0] - c.pred;
    c.pred = coef[0];
    let (size, value) = category(diff);
    let (code, len) = c.dc.0[usize::from(size)];
    bits.put(code, len);
    bits.put(value, size);
    let mut run = 0u8;
    for &at in &ZIGZAG[1..] {
        let v = coef[at];
        if v == 0 {
            run += 1;
            continue;
        }
        while run > 15 {
            let (code, len) = c.ac.0[0xF0];
            bits.put(code, len);
            run -= 16;
        }
        let (size, value) = category(v);
        let (code, len) = c.ac.0[usize::from((run << 4) | size)];
        bits.put(code, len);
        bits.put(value, size);
        run = 0;
    }
    if run > 0 {
        let (code, len) = c.ac.0[0];
        bits.put(code, len);
    }
}

fn segment(out: &mut Vec<u8>, marker: u8, body: &[u8]) {
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&u16::try_from(body.len() + 2).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(body);
}

fn headers(out: &mut Vec<u8>, width: u16, height: u16, qy: &[u8; 64], qc: &[u8; 64]) {
    out.extend_from_slice(&[0xFF, 0xD8]);
    segment(out, 0xE0, &[b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
    for (id, q) in [(0u8, qy), (1, qc)] {
        let mut body = vec![id];
        body.extend(ZIGZAG.iter().map(|&i| q[i]));
        segment(out, 0xDB, &body);
    }
    let mut sof = vec![8];
    sof.extend_from_slice(&height.to_be_bytes());
    sof.extend_from_slice(&width.to_be_bytes());
    sof.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    segment(out, 0xC0, &sof);
    for (class_id, spec) in [
        (0x00u8, &DC_LUMA),
        (0x10, &AC_LUMA),
        (0x01, &DC_CHROMA),
        (0x11, &AC_CHROMA),
    ] {
        let mut body = vec![class_id];
        body.extend_from_slice(&spec.0);
        body.extend_from_slice(spec.1);
        segment(out, 0xC4, &body);
    }
    segment(out, 0xDA, &[3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0]);
}

/// Encodes `rgb` (`width × height` pixels, three bytes each, row by row)
/// as a baseline JFIF JPEG at `quality` (1–100).
#[must_use]
pub fn encode(rgb: &[u8], width: u16, height: u16, quality: u8) -> Vec<u8> {
    let (w, h) = (usize::from(width), usize::from(height));
    let pixel = |x: usize, y: usize| -> (f32, f32, f32) {
        let i = 3 * (y.min(h - 1) * w + x.min(w - 1));
        let (r, g, b) = (f32::from(rgb[i]), f32::from(rgb[i + 1]), f32::from(rgb[i + 2]));
        (
            0.299 * r + 0.587 * g + 0.114 * b,
            -0.168_736 * r - 0.331_264 * g + 0.5 * b + 128.0,
            0.5 * r - 0.418_688 * g - 0.081_312 * b + 128.0,
        )
    };
    let mut cos = [[0f32; 8]; 8];
    for (x, row) in cos.iter_mut().enumerate() {
        for (u, c) in row.iter_mut().enumerate() {
            let a = ((2 * x + 1) * u) as f32 * std::f32::consts::PI / 16.0;
            *c = a.cos();
        }
    }
    let (huff_dl, huff_al, huff_dc, huff_ac) = (
        Huffman::new(&DC_LUMA),
        Huffman::new(&AC_LUMA),
        Huffman::new(&DC_CHROMA),
        Huffman::new(&AC_CHROMA),
    );
    let (qy, qc) = (scaled(&LUMA_Q, quality), scaled(&CHROMA_Q, quality));
    let mut y_c = Component {
        q: qy,
        dc: &huff_dl,
        ac: &huff_al,
        pred: 0,
    };
    let mut cb_c = Component {
        q: qc,
        dc: &huff_dc,
        ac: &huff_ac,
        pred: 0,
    };
    let mut cr_c = Component {
        q: qc,
        dc: &huff_dc,
        ac: &huff_ac,
        pred: 0,
    };
    let mut out = Vec::new();
    headers(&mut out, width, height, &qy, &qc);
    let mut bits = Bits { out, acc: 0, n: 0 };
    for my in (0..h).step_by(16) {
        for mx in (0..w).step_by(16) {
            for (bx, by) in [(0, 0), (8, 0), (0, 8), (8, 8)] {
                let mut data = [0f32; 64];
                for (i, d) in data.iter_mut().enumerate() {
                    *d = pixel(mx + bx + i % 8, my + by + i / 8).0 - 128.0;
                }
                block(&mut bits, &mut y_c, &data, &cos);
            }
            let (mut cb, mut cr) = ([0f32; 64], [0f32; 64]);
            for i in 0..64 {
                let (x, y) = (mx + 2 * (i % 8), my + 2 * (i / 8));
                let mut sum = (0.0, 0.0);
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let (_, b, r) = pixel(x + dx, y + dy);
                    sum = (sum.0 + b, sum.1 + r);
                }
                cb[i] = sum.0 / 4.0 - 128.0;
                cr[i] = sum.1 / 4.0 - 128.0;
            }
            block(&mut bits, &mut cb_c, &cb, &cos);
            block(&mut bits, &mut cr_c, &cr, &cos);
        }
    }
    bits.flush();
    let mut out = bits.out;
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}
