/**
 * Learning-rate schedules: linear warm-up to the peak, then inverse square root (the TNN paper, fairseq's
 * `inverse_sqrt`: lr · √(warmup / step)) or cosine decay to `minLr` at `totalSteps`.
 */
export interface ScheduleConfig {
  kind: 'inverse-sqrt' | 'cosine' | 'constant';
  peakLr: number;
  warmupSteps: number;
  /** Cosine only: where it reaches minLr. */
  totalSteps: number;
  minLr: number;
}

/** Learning rate for 1-based step `step`. */
export function learningRate(s: ScheduleConfig, step: number): number {
  if (s.warmupSteps > 0 && step <= s.warmupSteps) return (s.peakLr * step) / s.warmupSteps;
  if (s.kind === 'constant') return s.peakLr;
  if (s.kind === 'inverse-sqrt') return s.peakLr * Math.sqrt(Math.max(1, s.warmupSteps) / step);
  const progress = Math.min(1, (step - s.warmupSteps) / Math.max(1, s.totalSteps - s.warmupSteps));
  return s.minLr + 0.5 * (s.peakLr - s.minLr) * (1 + Math.cos(Math.PI * progress));
}
