/**
 * Procedural pictures for the virtual iPhone (pure, deterministic per seed): a sky gradient, a sun, two or three
 * layers of hills and a lake or meadow, in one of a few palettes, so a grid of thumbnails looks like a camera
 * roll rather than test noise. RGB, row-major, 3 bytes per pixel.
 */
import { mulberry32 } from '../../core/prng.ts';

type Rgb = [number, number, number];

const PALETTES: { sky: [Rgb, Rgb]; sun: Rgb; hills: Rgb[]; ground: Rgb }[] = [
  { sky: [[70, 130, 220], [190, 220, 250]], sun: [255, 245, 200], hills: [[90, 140, 90], [60, 110, 70], [40, 85, 55]], ground: [70, 120, 160] },
  { sky: [[250, 120, 80], [255, 210, 140]], sun: [255, 250, 220], hills: [[150, 80, 90], [110, 60, 80], [70, 40, 60]], ground: [200, 120, 100] },
  { sky: [[20, 30, 80], [90, 80, 160]], sun: [240, 240, 255], hills: [[40, 50, 90], [30, 35, 70], [15, 20, 45]], ground: [30, 40, 80] },
  { sky: [[120, 190, 230], [230, 240, 250]], sun: [255, 255, 235], hills: [[200, 200, 210], [150, 160, 175], [110, 120, 140]], ground: [235, 240, 245] },
  { sky: [[255, 180, 120], [255, 230, 190]], sun: [255, 255, 240], hills: [[200, 150, 80], [170, 110, 60], [120, 80, 50]], ground: [220, 180, 110] },
];

const mix = (a: number, b: number, t: number): number => Math.round(a + (b - a) * t);

/** Renders a `width`×`height` scene for `seed`. */
export function renderScene(seed: number, width: number, height: number): Uint8Array {
  const rand = mulberry32(seed >>> 0 || 1);
  const pal = PALETTES[Math.floor(rand() * PALETTES.length)]!;
  const sunX = (0.15 + rand() * 0.7) * width;
  const sunY = (0.12 + rand() * 0.3) * height;
  const sunR = (0.05 + rand() * 0.07) * Math.min(width, height) * 2;
  const layers = pal.hills.slice(0, 2 + Math.floor(rand() * 2)).map((color, i) => ({
    color,
    base: (0.45 + i * 0.12 + rand() * 0.08) * height,
    amp: (0.04 + rand() * 0.1) * height,
    freq: (1 + rand() * 3) * (Math.PI * 2) / width,
    phase: rand() * Math.PI * 2,
  }));
  const groundAt = (0.82 + rand() * 0.08) * height;
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const t = y / Math.max(1, height - 1);
    for (let x = 0; x < width; x++) {
      let c: Rgb = [mix(pal.sky[0][0], pal.sky[1][0], t), mix(pal.sky[0][1], pal.sky[1][1], t), mix(pal.sky[0][2], pal.sky[1][2], t)];
      const d = Math.hypot(x - sunX, y - sunY);
      if (d < sunR) c = pal.sun;
      else if (d < sunR * 1.6) {
        const g = (sunR * 1.6 - d) / (sunR * 0.6) * 0.5;
        c = [mix(c[0], pal.sun[0], g), mix(c[1], pal.sun[1], g), mix(c[2], pal.sun[2], g)];
      }
      for (const l of layers) if (y > l.base + Math.sin(x * l.freq + l.phase) * l.amp) c = l.color;
      if (y > groundAt) {
        const s = 0.85 + 0.15 * Math.sin(y * 0.9 + x * 0.05);
        c = [Math.round(pal.ground[0] * s), Math.round(pal.ground[1] * s), Math.round(pal.ground[2] * s)];
      }
      const i = (y * width + x) * 3;
      out[i] = c[0];
      out[i + 1] = c[1];
      out[i + 2] = c[2];
    }
  }
  return out;
}
