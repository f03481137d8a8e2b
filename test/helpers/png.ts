import zlib from 'node:zlib';

// Bound once: global lookups are slow inside jest's sandbox and these run per pixel.
const abs = Math.abs;

export interface Image {
  width: number;
  height: number;
  /** RGBA, 4 bytes per pixel, row by row. */
  rgba: Uint8Array;
}

/**
 * Decodes the PNGs a browser writes for screenshots: 8-bit RGB or RGBA, not interlaced. Enough to look at
 * pixels without an image library; anything else is refused rather than misread.
 */
export function decodePng(buf: Buffer): Image {
  if (buf.subarray(0, 8).toString('hex') !== '89504e470d0a1a0a') throw new Error('not a PNG');
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  for (let off = 8; off < buf.length; ) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [depth, colour, , , interlace] = [data[8], data[9], data[10], data[11], data[12]];
      if (depth !== 8 || interlace !== 0 || (colour !== 2 && colour !== 6)) throw new Error(`unsupported PNG (depth ${depth}, colour type ${colour}, interlace ${interlace})`);
      channels = colour === 6 ? 4 : 3;
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    off += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? out[y * stride + x - channels]! : 0;
      const b = y > 0 ? out[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? out[(y - 1) * stride + x - channels]! : 0;
      let v = line[x]!;
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = abs(p - a);
        const pb = abs(p - b);
        const pc = abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (filter !== 0) throw new Error(`bad PNG filter ${filter}`);
      out[y * stride + x] = v & 0xff;
    }
  }
  if (channels === 4) return { width, height, rgba: out };
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < out.length; i += 3, j += 4) [rgba[j], rgba[j + 1], rgba[j + 2], rgba[j + 3]] = [out[i]!, out[i + 1]!, out[i + 2]!, 255];
  return { width, height, rgba };
}

/** Pixels within `tolerance` (per channel) of a #rrggbb colour. */
export function countColour(img: Image, hex: string, tolerance = 12): number {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
  let n = 0;
  for (let i = 0; i < img.rgba.length; i += 4) {
    if (abs(img.rgba[i]! - r) <= tolerance && abs(img.rgba[i + 1]! - g) <= tolerance && abs(img.rgba[i + 2]! - b) <= tolerance) n++;
  }
  return n;
}

/** Distinct colours after dropping the low 3 bits of each channel, and the share of the most common one. */
export function colourStats(img: Image): { distinct: number; dominantShare: number } {
  const counts = new Uint32Array(1 << 15);
  for (let i = 0; i < img.rgba.length; i += 4) counts[((img.rgba[i]! >> 3) << 10) | ((img.rgba[i + 1]! >> 3) << 5) | (img.rgba[i + 2]! >> 3)]!++;
  let distinct = 0;
  let top = 0;
  for (const c of counts) {
    if (c) distinct++;
    if (c > top) top = c;
  }
  return { distinct, dominantShare: top / (img.width * img.height) };
}
