/**
 * From live audio levels to the speaking ring around an avatar.
 *
 * The shell reports up to ten levels a second. The ring shows who is speaking (the
 * shell's voice detection decides, not a threshold here) and how loud: it rises at once
 * and falls back gently, so it does not flicker between two reports.
 */

/** The ring of a silent person. */
export const SILENT = 0;
/** The thinnest visible ring: speaking, however quietly. */
export const RING_MIN = 0.35;
/** How much of the previous ring remains one report later when the level falls. */
export const RELEASE = 0.55;

/** Ring strength 0..1 for one report: 0 when not speaking, else at least `RING_MIN`. */
export function ringTarget(level: number, speaking: boolean): number {
  if (!speaking || !Number.isFinite(level)) return SILENT;
  const clamped = Math.min(1, Math.max(0, level));
  // Levels are linear amplitude; the square root spreads quiet speech over the ring.
  return RING_MIN + (1 - RING_MIN) * Math.sqrt(clamped);
}

/** The ring after a new report, given the ring shown before it. */
export function nextRing(previous: number, level: number, speaking: boolean): number {
  const target = ringTarget(level, speaking);
  if (target >= previous) return target;
  const eased = previous * RELEASE + target * (1 - RELEASE);
  // Below the visible minimum and falling: off, so silence is shown as silence.
  return eased < RING_MIN * 0.5 ? SILENT : eased;
}

/** Rings for everyone in `levels`, carrying each person's previous ring forward. */
export function nextRings(
  previous: Record<string, number>,
  levels: Record<string, { level: number; speaking: boolean }>,
): Record<string, number> {
  const rings: Record<string, number> = {};
  const ids = new Set([...Object.keys(previous), ...Object.keys(levels)]);
  for (const id of ids) {
    const report = levels[id];
    const ring = nextRing(previous[id] ?? SILENT, report?.level ?? 0, report?.speaking ?? false);
    if (ring > SILENT) rings[id] = ring;
  }
  return rings;
}
