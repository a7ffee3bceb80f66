/**
 * Pathfinder (Linsley et al. 2018, "Learning long-range spatial dependencies with horizontal gated recurrent
 * units"; LRA's Pathfinder-32, Tay et al. 2021), generated here from the published description: a grey image
 * with two marked dots and several dashed curves; label 1 when the dots are the two ends of one curve, 0 when
 * they sit on two different curves. Every image has the same two long target curves (A and B) and the same
 * number of short distractor curves, so only the path between the dots tells the classes apart:
 * positive — dots at both ends of A; negative — a dot at one end of A and one at an end of B. The distance
 * between the dots would give the label away (with dots at random ends, a threshold on it scores 74%,
 * measured on 2,000 images), so a negative's dots are placed at a distance drawn from the positives'
 * distribution: the end-to-end distance of a target curve drawn alone, matched within DISTANCE_TOLERANCE
 * pixels by choosing among the four end pairs and redrawing the image (the nearest of MATCH_TRIES images
 * otherwise). Then the best threshold scores 53% on 2,000 images (chance 50%; the test checks it).
 *
 * A curve is `dashes` straight dashes of dashLength pixels separated by gaps of dashSpacing pixels along a
 * smoothly turning path: a first dash at a random point and heading, then dashes added at either end in
 * turn, the heading turning by a uniform angle in [−maxTurn, maxTurn] before each. A dash is drawn anti-aliased, intensity
 * max(0, 1 − d) at a pixel whose centre is at distance d from the segment; a dot is a disc of markerRadius,
 * intensity clamp(markerRadius + ½ − d, 0, 1) around the curve's end. Grey values are quantised upward,
 * level ⌈v · (levels − 1)⌉, so every lit pixel has a level ≥ 1; the token is level + 1 (0 is PAD).
 *
 * Correct labels by construction: a curve's lit pixels (with discs at both ends of A and B, drawn or not)
 * stay at Chebyshev distance ≥ separation from every other curve's, and a new dash stays that far from the
 * dashes of its own curve two or more places away along it (no folding back); dashes and discs stay inside
 * the image. Any two
 * consecutive dashes of a curve have lit pixels within ⌈dashSpacing⌉ of each other, and separation >
 * ⌈dashSpacing⌉ is required, so joining lit pixels closer than that links exactly the pixels of one curve:
 * the dots are linked iff they are on the same curve. A placement that fails is retried (the dash, then the
 * curve, then the whole image). The test file checks this with a flood fill over the image alone.
 * imageRows (classification.ts) renders an example as a 2-D array of levels. Speed with the defaults: 150–700
 * images per second, measured on 2 shared cores (the range is the machine's load).
 *
 * Left out: Linsley et al.'s paddle shapes, contour-length-matched distractor snakes, and their image sizes
 * (LRA resizes theirs to 32 × 32; ours are drawn at the target size directly).
 */
import type { ClassificationTask, Example } from './classification.js';
import { shuffled } from './classification.js';
import { hash32, Mulberry32 } from './rng.js';

export interface PathfinderOptions {
  /** Images per split (balanced: ⌈n/2⌉ negative, ⌊n/2⌋ positive, in random order). */
  train: number;
  valid: number;
  test: number;
  seed: number;
  /** Image height and width in pixels (LRA: 32). */
  size: number;
  /** Dashes of each of the two target curves: the path length (difficulty). */
  contourDashes: number;
  /** Distractor curves per image, and their dashes. */
  distractors: number;
  distractorDashes: number;
  /** Dash length and the gap between dashes, in pixels. */
  dashLength: number;
  dashSpacing: number;
  /** Largest heading change between consecutive dashes, in radians. */
  maxTurn: number;
  /** Least Chebyshev distance in pixels between lit pixels of different curves (> ⌈dashSpacing⌉). */
  separation: number;
  /** Radius of the end dots in pixels. */
  markerRadius: number;
  /** Grey levels, 2..256 (vocabulary levels + 1). */
  levels: number;
}

export const PATHFINDER_DEFAULTS: Readonly<PathfinderOptions> = Object.freeze({
  train: 2000, valid: 200, test: 200, seed: 0, size: 32, contourDashes: 6, distractors: 3, distractorDashes: 2,
  dashLength: 3, dashSpacing: 2, maxTurn: 0.6, separation: 3, markerRadius: 1.5, levels: 256,
});

/** One generated image with what the generator knows about it (for checks and figures). */
export interface PathfinderDrawing {
  /** [size · size] row-major intensities in [0, 1]. */
  intensity: Float32Array;
  label: 0 | 1;
  /** Pixel indices (row · size + column) of the two dots' centres. */
  markers: [number, number];
  /** Per curve, its lit pixel indices (ascending): [0] target A, [1] target B, then the distractors. */
  contours: Int32Array[];
}

/** Tries per dash, per curve and per image before giving up. */
const DASH_TRIES = 12;
const CURVE_TRIES = 40;
const IMAGE_TRIES = 200;
/** A negative's dot distance is kept within this many pixels of its target (else the nearest of MATCH_TRIES images). */
const DISTANCE_TOLERANCE = 1;
const MATCH_TRIES = 40;

/** Throws, naming the field, for options that cannot give correct labels. */
export function checkPathfinderOptions(options: PathfinderOptions): void {
  const where = 'Error in Pathfinder options';
  for (const key of Object.keys(options)) {
    if (!(key in PATHFINDER_DEFAULTS)) throw new Error(`${where}: unknown option '${key}'; expected one of ${Object.keys(PATHFINDER_DEFAULTS).join(', ')}.`);
  }
  for (const key of ['train', 'valid', 'test', 'distractors'] as const) {
    if (!Number.isInteger(options[key]) || options[key] < 0) throw new Error(`${where}: ${key} must be an integer ≥ 0, but got ${options[key]}.`);
  }
  for (const key of ['size', 'contourDashes', 'distractorDashes', 'separation'] as const) {
    if (!Number.isInteger(options[key]) || options[key] < 1) throw new Error(`${where}: ${key} must be an integer ≥ 1, but got ${options[key]}.`);
  }
  if (!Number.isInteger(options.seed)) throw new Error(`${where}: seed must be an integer, but got ${options.seed}.`);
  for (const key of ['dashLength', 'dashSpacing', 'markerRadius'] as const) {
    if (!(options[key] > 0)) throw new Error(`${where}: ${key} must be > 0, but got ${options[key]}.`);
  }
  if (!(options.maxTurn >= 0 && options.maxTurn <= Math.PI)) throw new Error(`${where}: maxTurn must be in [0, π], but got ${options.maxTurn}.`);
  if (options.separation <= Math.ceil(options.dashSpacing)) {
    throw new Error(`${where}: separation must be > ⌈dashSpacing⌉ = ${Math.ceil(options.dashSpacing)} so that gaps within a curve are shorter than gaps between curves, but got ${options.separation}.`);
  }
  if (!Number.isInteger(options.levels) || options.levels < 2 || options.levels > 256) throw new Error(`${where}: levels must be an integer in [2, 256], but got ${options.levels}.`);
}

/** Lit pixels of a stroke: indices and intensities. */
interface Stroke {
  pixels: number[];
  values: number[];
}

/** Pixels of segment (x0, y0)–(x1, y1), intensity max(0, 1 − d); null when one falls outside the image. */
function dashStroke(size: number, x0: number, y0: number, x1: number, y1: number): Stroke | null {
  const stroke: Stroke = { pixels: [], values: [] };
  const dx = x1 - x0;
  const dy = y1 - y0;
  const length2 = dx * dx + dy * dy;
  for (let r = Math.floor(Math.min(y0, y1) - 1); r <= Math.floor(Math.max(y0, y1) + 1); r++) {
    for (let c = Math.floor(Math.min(x0, x1) - 1); c <= Math.floor(Math.max(x0, x1) + 1); c++) {
      const px = c + 0.5;
      const py = r + 0.5;
      const t = length2 === 0 ? 0 : Math.max(0, Math.min(1, ((px - x0) * dx + (py - y0) * dy) / length2));
      const v = 1 - Math.hypot(px - (x0 + t * dx), py - (y0 + t * dy));
      if (v <= 0) continue;
      if (r < 0 || c < 0 || r >= size || c >= size) return null;
      stroke.pixels.push(r * size + c);
      stroke.values.push(v);
    }
  }
  return stroke;
}

/** A disc of `radius` at (x, y), intensity clamp(radius + ½ − d, 0, 1); null when it leaves the image. */
function discStroke(size: number, x: number, y: number, radius: number): Stroke | null {
  const stroke: Stroke = { pixels: [], values: [] };
  const reach = Math.ceil(radius + 1);
  for (let r = Math.floor(y) - reach; r <= Math.floor(y) + reach; r++) {
    for (let c = Math.floor(x) - reach; c <= Math.floor(x) + reach; c++) {
      const v = Math.min(1, radius + 0.5 - Math.hypot(c + 0.5 - x, r + 0.5 - y));
      if (v <= 0) continue;
      if (r < 0 || c < 0 || r >= size || c >= size) return null;
      stroke.pixels.push(r * size + c);
      stroke.values.push(v);
    }
  }
  return stroke;
}

/** A placed curve: its strokes (dashes, then any end discs) and its two end points. */
interface Curve {
  dashes: Stroke[];
  discs: Stroke[];
  ends: [[number, number], [number, number]];
}

/** Whether any pixel within Chebyshev `reach` of `pixel` passes `hit`. */
function near(size: number, pixel: number, reach: number, hit: (p: number) => boolean): boolean {
  const r0 = Math.floor(pixel / size);
  const c0 = pixel % size;
  for (let r = Math.max(0, r0 - reach); r <= Math.min(size - 1, r0 + reach); r++) {
    for (let c = Math.max(0, c0 - reach); c <= Math.min(size - 1, c0 + reach); c++) if (hit(r * size + c)) return true;
  }
  return false;
}

/** One growing end of a curve: where it stops, the heading it points along, its dash's place along the curve. */
interface CurveEnd {
  x: number;
  y: number;
  heading: number;
  place: number;
}

/**
 * Grows one curve of `dashes` dashes (with end discs when `discs`) clear of `blocked` (pixels within
 * separation − 1 of placed curves); null after CURVE_TRIES failed starts. The first dash is centred on a
 * random point; the curve then grows at both ends in turn (gap, then dash, along the end's heading turned by
 * at most maxTurn), so a long curve fits a small image; when one end is stuck the other grows.
 */
function growCurve(random: Mulberry32, o: PathfinderOptions, dashes: number, discs: boolean, blocked: Uint8Array): Curve | null {
  const size = o.size;
  const reach = o.separation - 1;
  const free = (stroke: Stroke): boolean => stroke.pixels.every((p) => blocked[p] === 0);
  for (let attempt = 0; attempt < CURVE_TRIES; attempt++) {
    // place (position along the curve, dashes counted from the first) of this curve's pixels; NaN: none.
    const owner = new Float64Array(size * size).fill(Number.NaN);
    const cx = 1 + random.nextFloat() * (size - 2);
    const cy = 1 + random.nextFloat() * (size - 2);
    const h0 = random.nextFloat() * 2 * Math.PI;
    const ux = (o.dashLength / 2) * Math.cos(h0);
    const uy = (o.dashLength / 2) * Math.sin(h0);
    const first = dashStroke(size, cx - ux, cy - uy, cx + ux, cy + uy);
    if (first === null || !free(first)) continue;
    const placed: Stroke[] = [first];
    for (const p of first.pixels) owner[p] = 0;
    const ends: [CurveEnd, CurveEnd] = [
      { x: cx - ux, y: cy - uy, heading: h0 + Math.PI, place: 0 },
      { x: cx + ux, y: cy + uy, heading: h0, place: 0 },
    ];
    for (let k = 1; k < dashes; k++) {
      let grown = false;
      for (const side of [k % 2, 1 - (k % 2)]) {
        const end = ends[side];
        const place = end.place + (side === 1 ? 1 : -1);
        // A pixel near a dash of this curve two or more places away would fold the curve back onto itself.
        const folds = (p: number): boolean => near(size, p, reach, (q) => Math.abs(owner[q] - place) >= 2);
        for (let t = 0; t < DASH_TRIES && !grown; t++) {
          const h = end.heading + (2 * random.nextFloat() - 1) * o.maxTurn;
          const sx = end.x + o.dashSpacing * Math.cos(h);
          const sy = end.y + o.dashSpacing * Math.sin(h);
          const ex = sx + o.dashLength * Math.cos(h);
          const ey = sy + o.dashLength * Math.sin(h);
          const stroke = dashStroke(size, sx, sy, ex, ey);
          if (stroke === null || !free(stroke) || stroke.pixels.some(folds)) continue;
          for (const p of stroke.pixels) if (Number.isNaN(owner[p])) owner[p] = place;
          placed.push(stroke);
          ends[side] = { x: ex, y: ey, heading: h, place };
          grown = true;
        }
        if (grown) break;
      }
      if (!grown) break;
    }
    if (placed.length < dashes) continue;
    const points: [[number, number], [number, number]] = [[ends[0].x, ends[0].y], [ends[1].x, ends[1].y]];
    const endDiscs = discs ? points.map(([x, y]) => discStroke(size, x, y, o.markerRadius)) : [];
    if (endDiscs.some((d) => d === null || !free(d))) continue;
    return { dashes: placed, discs: endDiscs as Stroke[], ends: points };
  }
  return null;
}

/** Sets mask to 1 at every pixel within Chebyshev distance `reach` of one of `pixels`. */
function dilateInto(size: number, pixels: Int32Array, reach: number, mask: Uint8Array): void {
  for (const pixel of pixels) {
    const r0 = Math.floor(pixel / size);
    const c0 = pixel % size;
    for (let r = Math.max(0, r0 - reach); r <= Math.min(size - 1, r0 + reach); r++) {
      mask.fill(1, r * size + Math.max(0, c0 - reach), r * size + Math.min(size - 1, c0 + reach) + 1);
    }
  }
}

/** The pixels of a curve (ascending, distinct). */
function curvePixels(curve: Curve): Int32Array {
  return Int32Array.from(new Set([...curve.dashes, ...curve.discs].flatMap((s) => s.pixels))).sort();
}

/** All curves of one image (the two targets first, then the distractors), or null when one does not fit. */
function placeCurves(random: Mulberry32, options: PathfinderOptions): Curve[] | null {
  const blocked = new Uint8Array(options.size * options.size);
  const curves: Curve[] = [];
  for (let i = 0; i < 2 + options.distractors; i++) {
    const curve = growCurve(random, options, i < 2 ? options.contourDashes : options.distractorDashes, i < 2, blocked);
    if (curve === null) return null;
    curves.push(curve);
    dilateInto(options.size, curvePixels(curve), options.separation - 1, blocked);
  }
  return curves;
}

/** The image of placed curves with dots at the given ends: (curve, 0 | 1) pairs. */
function render(size: number, curves: Curve[], dotted: [Curve, number][], label: 0 | 1): PathfinderDrawing {
  const intensity = new Float32Array(size * size);
  for (const stroke of [...curves.flatMap((c) => c.dashes), ...dotted.map(([c, end]) => c.discs[end])]) {
    stroke.pixels.forEach((p, i) => { intensity[p] = Math.max(intensity[p], stroke.values[i]); });
  }
  const [m0, m1] = dotted.map(([c, end]) => Math.floor(c.ends[end][1]) * size + Math.floor(c.ends[end][0]));
  return { intensity, label, markers: [m0, m1], contours: curves.map(curvePixels) };
}

const distance = ([x0, y0]: [number, number], [x1, y1]: [number, number]): number => Math.hypot(x1 - x0, y1 - y0);

/** Draws one image of the given label (see the file header); `random` is advanced. */
export function drawPathfinder(random: Mulberry32, options: PathfinderOptions, label: 0 | 1): PathfinderDrawing {
  checkPathfinderOptions(options);
  const size = options.size;
  // A negative's target dot distance: the end-to-end distance of a target curve drawn alone, which is how
  // curve A, the first curve of every image, is drawn, so targets follow the positives' dot distances.
  const alone = label === 0 ? growCurve(random, options, options.contourDashes, true, new Uint8Array(size * size)) : null;
  const target = alone === null ? undefined : distance(alone.ends[0], alone.ends[1]);
  let nearest: { curves: Curve[]; dotted: [Curve, number][]; miss: number } | undefined;
  for (let attempt = 0; attempt < IMAGE_TRIES; attempt++) {
    const curves = placeCurves(random, options);
    if (curves === null) continue;
    const [a, b] = curves;
    if (label === 1) return render(size, curves, [[a, 0], [a, 1]], 1);
    const pairs = ([[0, 0], [0, 1], [1, 0], [1, 1]] as const).map(([i, j]) => ({
      dotted: [[a, i], [b, j]] as [Curve, number][],
      miss: target === undefined ? 0 : Math.abs(distance(a.ends[i], b.ends[j]) - target),
    }));
    const close = pairs.filter((pair) => pair.miss <= DISTANCE_TOLERANCE);
    if (close.length > 0) return render(size, curves, close[random.nextInt(close.length)].dotted, 0);
    for (const pair of pairs) if (nearest === undefined || pair.miss < nearest.miss) nearest = { curves, ...pair };
    if (attempt + 1 >= MATCH_TRIES && nearest !== undefined) break;
  }
  if (nearest !== undefined) return render(size, nearest.curves, nearest.dotted, 0);
  throw new Error(`Error in drawPathfinder: no placement of 2 curves of ${options.contourDashes} dashes and ${options.distractors} distractors in a ${size}×${size} image after ${IMAGE_TRIES} tries; use fewer or shorter curves or a smaller separation, but got separation ${options.separation}.`);
}

/** Intensities [size²] in [0, 1] as tokens: ⌈v · (levels − 1)⌉ + 1 (see the file header). */
export function intensityTokens(intensity: Float32Array, levels: number): Int32Array {
  return Int32Array.from(intensity, (v) => Math.ceil(v * (levels - 1)) + 1);
}

/** Pathfinder as a classification task of size²-token sequences (see the file header); unknown option keys throw. */
export function pathfinderTask(overrides: Partial<PathfinderOptions> = {}): ClassificationTask {
  const options: PathfinderOptions = { ...PATHFINDER_DEFAULTS, ...overrides };
  checkPathfinderOptions(options);
  const splits = (['train', 'valid', 'test'] as const).map((split, s): Example[] => {
    const random = new Mulberry32(hash32(options.seed, s));
    const n = options[split];
    const order = shuffled(n, random); // positions < ⌊n/2⌋ are positive
    return Array.from(order, (k) => {
      const drawing = drawPathfinder(random, options, k < n >> 1 ? 1 : 0);
      return { tokens: intensityTokens(drawing.intensity, options.levels), label: drawing.label };
    });
  });
  const { size, contourDashes, distractors, distractorDashes, dashLength, dashSpacing, separation, seed, levels } = options;
  return {
    name: `pathfinder-${size}`, vocabSize: levels + 1, numClasses: 2, maxLength: size * size,
    train: splits[0], valid: splits[1], test: splits[2], image: { height: size, width: size },
    description: `Pathfinder (Linsley et al. 2018) as LRA's Pathfinder-${size}: ${size}×${size} grey images, two dots, label 1 when one dashed `
      + `curve joins them. Generated here from the published description (seed ${seed}): two target curves of ${contourDashes} dashes `
      + `(${dashLength} px, gaps ${dashSpacing} px), ${distractors} distractors of ${distractorDashes} dashes, curves ≥ ${separation} px apart; `
      + `${splits[0].length}/${splits[1].length}/${splits[2].length} train/valid/test, balanced; tokens grey level + 1 of ${levels} levels, `
      + `${size * size} a sequence. LRA uses Linsley et al.'s rendered images (paddle-shaped dashes, drawn larger and resized).`,
  };
}
