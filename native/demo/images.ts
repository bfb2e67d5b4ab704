/**
 * Small synthetic pictures for the demo pool: a scene per topic (sky and ground, a dog, a car, a
 * plate, buildings, a face...) drawn straight into an RGB buffer with a few primitives, then
 * encoded as JPEG by sharp. Drawing in JS and encoding from raw pixels is several times faster
 * than rasterising SVG, which keeps a 20,000-image pool within seconds.
 */
import sharp from 'sharp';
import type { Rng } from './rng.js';
import type { Scene, Topic } from './topics.js';

type RGB = readonly number[];

class Canvas {
  readonly px: Buffer;
  constructor(
    readonly w: number,
    readonly h: number,
  ) {
    this.px = Buffer.alloc(w * h * 3);
  }

  /** Fill pixels [xa, xb) of row y (integers, in range) with one colour. */
  private span(y: number, xa: number, xb: number, c: RGB): void {
    const px = this.px;
    const n = xb - xa;
    if (n <= 0) return;
    const start = (y * this.w + xa) * 3;
    px[start] = c[0];
    px[start + 1] = c[1];
    px[start + 2] = c[2];
    // double the filled run until the span is full: a few native copies instead of a JS loop
    let filled = 3;
    const total = n * 3;
    while (filled < total) {
      const k = Math.min(filled, total - filled);
      px.copyWithin(start + filled, start, start + k);
      filled += k;
    }
  }

  gradient(top: RGB, bottom: RGB, y0 = 0, y1 = this.h): void {
    const ya = Math.max(0, Math.round(y0));
    const yb = Math.min(this.h, Math.round(y1));
    const span = Math.max(1, yb - ya - 1);
    const c = [0, 0, 0];
    for (let y = ya; y < yb; y++) {
      const f = (y - ya) / span;
      c[0] = Math.round(top[0] + (bottom[0] - top[0]) * f);
      c[1] = Math.round(top[1] + (bottom[1] - top[1]) * f);
      c[2] = Math.round(top[2] + (bottom[2] - top[2]) * f);
      this.span(y, 0, this.w, c);
    }
  }

  rect(x0: number, y0: number, x1: number, y1: number, c: RGB): void {
    const xa = Math.max(0, Math.round(x0));
    const xb = Math.min(this.w, Math.round(x1));
    const ya = Math.max(0, Math.round(y0));
    const yb = Math.min(this.h, Math.round(y1));
    for (let y = ya; y < yb; y++) this.span(y, xa, xb, c);
  }

  ellipse(cx: number, cy: number, rx: number, ry: number, c: RGB): void {
    if (!(rx > 0 && ry > 0)) return;
    const ya = Math.max(0, Math.floor(cy - ry));
    const yb = Math.min(this.h - 1, Math.ceil(cy + ry));
    for (let y = ya; y <= yb; y++) {
      const dy = (y + 0.5 - cy) / ry;
      const q = 1 - dy * dy;
      if (q <= 0) continue;
      const half = rx * Math.sqrt(q);
      this.span(y, Math.max(0, Math.round(cx - half)), Math.min(this.w, Math.round(cx + half)), c);
    }
  }

  /** A triangle with a flat base at `baseY` and its apex at (ax, ay). */
  peak(ax: number, ay: number, halfBase: number, baseY: number, c: RGB): void {
    const ya = Math.max(0, Math.floor(ay));
    const yb = Math.min(this.h, Math.ceil(baseY));
    for (let y = ya; y < yb; y++) {
      const f = (y - ay) / Math.max(1, baseY - ay);
      this.span(y, Math.max(0, Math.round(ax - halfBase * f)), Math.min(this.w, Math.round(ax + halfBase * f)), c);
    }
  }
}

function jitter(rng: Rng, c: RGB, amount = 24): number[] {
  return [0, 1, 2].map((i) => Math.max(0, Math.min(255, Math.round(c[i] + (rng.next() - 0.5) * 2 * amount))));
}

const SKIN: RGB[] = [[255, 224, 196], [241, 194, 160], [224, 172, 130], [198, 134, 90], [141, 85, 54], [92, 56, 40]];

function drawFace(cv: Canvas, rng: Rng, box: number[]): void {
  const [x0, y0, x1, y1] = box;
  const cx = ((x0 + x1) / 2) * cv.w;
  const cy = ((y0 + y1) / 2) * cv.h;
  const rx = ((x1 - x0) / 2) * cv.w;
  const ry = ((y1 - y0) / 2) * cv.h;
  const hair = jitter(rng, rng.pick([[40, 30, 20], [90, 60, 30], [200, 170, 90], [150, 150, 150], [20, 20, 20]]), 10);
  cv.ellipse(cx, cy - ry * 0.25, rx * 1.1, ry * 0.95, hair);
  cv.ellipse(cx, cy + ry * 1.6, rx * 1.6, ry * 0.9, jitter(rng, [80, 90, 140], 60)); // shoulders
  cv.ellipse(cx, cy, rx, ry, jitter(rng, rng.pick(SKIN), 8));
  const eye = [30, 25, 20];
  cv.ellipse(cx - rx * 0.38, cy - ry * 0.15, Math.max(1, rx * 0.12), Math.max(1, ry * 0.08), eye);
  cv.ellipse(cx + rx * 0.38, cy - ry * 0.15, Math.max(1, rx * 0.12), Math.max(1, ry * 0.08), eye);
  cv.rect(cx - rx * 0.3, cy + ry * 0.42, cx + rx * 0.3, cy + ry * 0.42 + Math.max(1, ry * 0.08), [150, 60, 60]);
}

function drawScene(cv: Canvas, rng: Rng, scene: Scene, pal: Topic['palette'], hasFaces: boolean): void {
  const { w, h } = cv;
  const top = jitter(rng, pal.top);
  const bottom = jitter(rng, pal.bottom);
  const acc = pal.accents.map((a) => jitter(rng, a, 30));
  switch (scene) {
    case 'dog': {
      const horizon = h * (0.45 + rng.next() * 0.2);
      cv.gradient(top, [235, 240, 250], 0, horizon);
      cv.gradient(bottom, jitter(rng, [50, 110, 40]), horizon, h);
      const cx = w * (0.3 + rng.next() * 0.4);
      const cy = h * 0.68;
      const s = Math.min(w, h) * (0.18 + rng.next() * 0.12);
      const fur = rng.pick(acc.slice(0, 3));
      for (const dx of [-0.8, -0.4, 0.4, 0.8]) cv.rect(cx + dx * s, cy, cx + dx * s + s * 0.18, cy + s * 0.9, fur);
      cv.ellipse(cx, cy, s * 1.1, s * 0.55, fur);
      const hx = cx + (rng.chance(0.5) ? 1 : -1) * s * 1.05;
      cv.ellipse(hx, cy - s * 0.55, s * 0.45, s * 0.42, fur);
      cv.ellipse(hx - s * 0.3, cy - s * 0.75, s * 0.14, s * 0.3, acc[2]);
      cv.ellipse(hx + s * 0.3, cy - s * 0.75, s * 0.14, s * 0.3, acc[2]);
      cv.ellipse(hx, cy - s * 0.45, s * 0.08, s * 0.07, [20, 20, 20]);
      break;
    }
    case 'beach': {
      const horizon = h * (0.35 + rng.next() * 0.15);
      const shore = horizon + h * (0.12 + rng.next() * 0.15);
      cv.gradient(top, [250, 230, 200], 0, horizon);
      cv.gradient(acc[0], jitter(rng, [70, 180, 200]), horizon, shore);
      cv.gradient(bottom, jitter(rng, [210, 190, 140]), shore, h);
      cv.ellipse(w * (0.2 + rng.next() * 0.6), horizon * 0.45, Math.min(w, h) * 0.08, Math.min(w, h) * 0.08, acc[1]);
      if (rng.chance(0.6)) {
        const px = w * (rng.chance(0.5) ? 0.15 : 0.85);
        cv.rect(px - 2, shore - h * 0.35, px + 3, shore + h * 0.05, [110, 80, 50]);
        for (let i = 0; i < 5; i++) cv.ellipse(px + (i - 2) * w * 0.04, shore - h * 0.36 + Math.abs(i - 2) * 4, w * 0.06, h * 0.025, acc[2]);
      }
      break;
    }
    case 'food': {
      cv.gradient(top, bottom);
      const cx = w / 2 + (rng.next() - 0.5) * w * 0.2;
      const cy = h / 2 + (rng.next() - 0.5) * h * 0.2;
      const r = Math.min(w, h) * (0.32 + rng.next() * 0.1);
      cv.ellipse(cx + r * 0.05, cy + r * 0.07, r, r, [60, 40, 25]);
      cv.ellipse(cx, cy, r, r, acc[0]);
      cv.ellipse(cx, cy, r * 0.8, r * 0.8, jitter(rng, [240, 240, 235], 10));
      const blobs = rng.range(3, 7);
      for (let i = 0; i < blobs; i++) {
        const a = rng.next() * Math.PI * 2;
        const d = rng.next() * r * 0.45;
        cv.ellipse(cx + Math.cos(a) * d, cy + Math.sin(a) * d, r * (0.12 + rng.next() * 0.2), r * (0.1 + rng.next() * 0.15), rng.pick(acc.slice(1)));
      }
      break;
    }
    case 'car': {
      const road = h * (0.55 + rng.next() * 0.1);
      cv.gradient(top, [230, 235, 240], 0, road);
      cv.gradient(bottom, [60, 60, 65], road, h);
      cv.rect(0, road + (h - road) * 0.45, w, road + (h - road) * 0.5, [230, 230, 200]);
      const cw = w * (0.45 + rng.next() * 0.25);
      const x0 = (w - cw) * rng.next();
      const body = rng.pick(acc.slice(0, 2).concat([acc[3]]));
      const y1 = road + (h - road) * 0.35;
      const bh = cw * 0.22;
      cv.rect(x0, y1 - bh, x0 + cw, y1, body);
      cv.rect(x0 + cw * 0.22, y1 - bh * 1.8, x0 + cw * 0.72, y1 - bh + 1, body);
      cv.rect(x0 + cw * 0.27, y1 - bh * 1.65, x0 + cw * 0.67, y1 - bh * 1.05, [170, 200, 220]);
      for (const fx of [0.2, 0.8]) {
        cv.ellipse(x0 + cw * fx, y1, cw * 0.1, cw * 0.1, [25, 25, 25]);
        cv.ellipse(x0 + cw * fx, y1, cw * 0.045, cw * 0.045, [170, 170, 170]);
      }
      break;
    }
    case 'city': {
      const night = rng.chance(0.3);
      cv.gradient(night ? [15, 20, 45] : top, night ? [40, 40, 70] : [220, 225, 230]);
      let x = -rng.next() * 20;
      while (x < w) {
        const bw = w * (0.1 + rng.next() * 0.18);
        const bh = h * (0.35 + rng.next() * 0.55);
        const col = night ? jitter(rng, [40, 40, 50], 10) : rng.pick(acc.slice(0, 2).concat([acc[3]]));
        cv.rect(x, h - bh, x + bw - 2, h, col);
        const win = night ? [250, 220, 120] : [190, 210, 230];
        for (let wy = h - bh + 6; wy < h - 10; wy += 10) {
          for (let wx = x + 4; wx < x + bw - 8; wx += 9) if (rng.chance(night ? 0.5 : 0.8)) cv.rect(wx, wy, wx + 4, wy + 5, win);
        }
        x += bw;
      }
      cv.rect(0, h * 0.9, w, h, [70, 70, 75]);
      break;
    }
    case 'portrait': {
      cv.gradient(top, bottom);
      if (!hasFaces) {
        // a backlit silhouette: a person, but no detectable face
        const cx = w * (0.4 + rng.next() * 0.2);
        const s = Math.min(w, h);
        const dark = jitter(rng, [35, 30, 30], 10);
        cv.ellipse(cx, h * 0.95, s * 0.38, s * 0.3, dark);
        cv.ellipse(cx, h * 0.45, s * 0.17, s * 0.22, dark);
      }
      break;
    }
    case 'flower': {
      cv.gradient(top, bottom);
      const n = rng.range(3, 8);
      const petal = rng.pick(acc.slice(0, 4));
      for (let i = 0; i < n; i++) {
        const cx = rng.next() * w;
        const cy = rng.next() * h;
        const r = Math.min(w, h) * (0.06 + rng.next() * 0.1);
        cv.rect(cx - 1, cy, cx + 2, Math.min(h, cy + r * 3), [40, 110, 40]);
        for (let k = 0; k < 6; k++) {
          const a = (k / 6) * Math.PI * 2;
          cv.ellipse(cx + Math.cos(a) * r * 0.7, cy + Math.sin(a) * r * 0.7, r * 0.5, r * 0.5, petal);
        }
        cv.ellipse(cx, cy, r * 0.4, r * 0.4, [250, 200, 40]);
      }
      break;
    }
    case 'mountain': {
      const base = h * (0.65 + rng.next() * 0.15);
      cv.gradient(top, [240, 220, 210], 0, base);
      cv.gradient(bottom, [30, 70, 40], base, h);
      const n = rng.range(2, 4);
      for (let i = 0; i < n; i++) {
        const ax = w * (i + 0.5 + (rng.next() - 0.5) * 0.6) / n;
        const ay = h * (0.12 + rng.next() * 0.3);
        const hb = w * (0.25 + rng.next() * 0.25);
        cv.peak(ax, ay, hb, base, rng.pick([acc[0], acc[2]]));
        cv.peak(ax, ay, hb * 0.3, ay + (base - ay) * 0.3, acc[1]);
      }
      if (rng.chance(0.4)) cv.rect(0, base, w, base + (h - base) * 0.4, acc[3]);
      break;
    }
    case 'document': {
      cv.gradient(top, bottom);
      cv.rect(0, 0, w, Math.max(6, h * 0.1), acc[1]);
      const lh = Math.max(4, Math.round(h / 22));
      for (let y = h * 0.16; y < h - lh; y += lh * 1.7) {
        const len = w * (0.3 + rng.next() * 0.6);
        cv.rect(w * 0.08, y, w * 0.08 + len, y + Math.max(2, lh * 0.55), acc[0]);
      }
      if (rng.chance(0.4)) {
        for (let i = 0; i < 5; i++) cv.rect(w * (0.55 + i * 0.08), h * (0.9 - 0.1 * (i + 1)), w * (0.6 + i * 0.08), h * 0.9, acc[3]);
      }
      break;
    }
    case 'product': {
      cv.gradient(top, bottom);
      const cx = w / 2;
      const cy = h * 0.52;
      const s = Math.min(w, h) * (0.28 + rng.next() * 0.12);
      cv.ellipse(cx, cy + s * 0.95, s * 1.1, s * 0.15, [200, 200, 200]);
      const col = rng.pick(acc);
      const shape = rng.int(3);
      if (shape === 0) cv.rect(cx - s, cy - s * 0.8, cx + s, cy + s * 0.9, col);
      else if (shape === 1) cv.ellipse(cx, cy, s, s * 0.9, col);
      else {
        cv.rect(cx - s * 0.8, cy - s * 0.4, cx + s * 0.8, cy + s * 0.9, col);
        cv.ellipse(cx, cy - s * 0.4, s * 0.5, s * 0.35, jitter(rng, col, 40));
      }
      break;
    }
    case 'art': {
      cv.gradient(top, bottom);
      const n = rng.range(6, 16);
      for (let i = 0; i < n; i++) {
        const col = jitter(rng, rng.pick(acc), 60);
        const x = rng.next() * w;
        const y = rng.next() * h;
        const s = Math.min(w, h) * (0.05 + rng.next() * 0.25);
        if (rng.chance(0.5)) cv.ellipse(x, y, s, s * (0.5 + rng.next()), col);
        else cv.rect(x - s, y - s * 0.6, x + s, y + s * 0.6, col);
      }
      break;
    }
    case 'sport': {
      const stands = h * (0.25 + rng.next() * 0.15);
      cv.gradient(top, [90, 90, 100], 0, stands);
      cv.gradient(bottom, jitter(rng, [30, 110, 40]), stands, h);
      for (let y = stands + 4; y < h; y += Math.max(8, h * 0.15)) cv.rect(0, y, w, y + 2, acc[0]);
      cv.rect(w * 0.5 - 1, stands, w * 0.5 + 1, h, acc[0]);
      const r = Math.min(w, h) * 0.05;
      cv.ellipse(rng.next() * w, stands + rng.next() * (h - stands), r, r, acc[rng.int(4)]);
      break;
    }
  }
}

/** Raw RGB pixels of a scene for `topic`, with a face drawn in each box (relative coordinates). */
export function renderScene(rng: Rng, topic: Topic, width: number, height: number, faces: number[][]): Buffer {
  const cv = new Canvas(width, height);
  drawScene(cv, rng, topic.scene, topic.palette, faces.length > 0);
  for (const box of faces) drawFace(cv, rng, box);
  return cv.px;
}

/** Encode raw RGB as JPEG (quality 80, baseline, no Huffman optimisation pass: fast and stable). */
export function encodeJpeg(px: Buffer, width: number, height: number): Promise<Buffer> {
  return sharp(px, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 80, optimiseCoding: false, chromaSubsampling: '4:2:0' })
    .toBuffer();
}
