/** Seeded pseudo-random numbers for data order, sampling and tests: small, fast, and identical on every platform. */

/** mulberry32 (Tommy Ettinger): a small 32-bit PRNG whose whole state is one uint32 (period 2^32). */
export class Mulberry32 {
  state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A uniform float in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }

  /** A uniform integer in [0, bound) (bound ≤ 2^32; multiply-shift, bias ≤ bound / 2^32). */
  nextInt(bound: number): number {
    return Math.floor(this.nextFloat() * bound);
  }
}

/** Mixes two 32-bit integers into one (murmur3's finaliser over a combination); used to seed epochs. */
export function hash32(a: number, b: number): number {
  let h = (Math.imul(a >>> 0, 0x9e3779b1) ^ Math.imul((b >>> 0) + 0x7f4a7c15, 0x85ebca77)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
