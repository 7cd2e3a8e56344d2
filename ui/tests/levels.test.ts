// Level → speaking ring: visible exactly while speaking, louder is wider, and it falls
// back gently instead of flickering.
import { describe, expect, it } from 'vitest';
import { RING_MIN, nextRing, nextRings, ringTarget } from '../src/lib/levels';

describe('speaking ring', () => {
  it('is off when not speaking, however loud the level', () => {
    expect(ringTarget(1, false)).toBe(0);
    expect(ringTarget(0.5, false)).toBe(0);
  });

  it('is visible while speaking, even very quietly, and grows with the level', () => {
    expect(ringTarget(0, true)).toBe(RING_MIN);
    const quiet = ringTarget(0.05, true);
    const loud = ringTarget(0.6, true);
    expect(quiet).toBeGreaterThan(RING_MIN);
    expect(loud).toBeGreaterThan(quiet);
    expect(ringTarget(1, true)).toBe(1);
  });

  it('clamps levels outside 0..1 and ignores NaN', () => {
    expect(ringTarget(7, true)).toBe(1);
    expect(ringTarget(-1, true)).toBe(RING_MIN);
    expect(ringTarget(Number.NaN, true)).toBe(0);
  });

  it('rises at once and falls over several reports', () => {
    const up = nextRing(0, 0.8, true);
    expect(up).toBe(ringTarget(0.8, true));
    const down1 = nextRing(up, 0.0, true);
    expect(down1).toBeLessThan(up);
    expect(down1).toBeGreaterThan(ringTarget(0, true));
  });

  it('reaches silence a few reports after speech stops', () => {
    let ring = nextRing(0, 1, true);
    let reports = 0;
    while (ring > 0 && reports < 20) {
      ring = nextRing(ring, 0, false);
      reports++;
    }
    expect(ring).toBe(0);
    expect(reports).toBeGreaterThan(1);
    expect(reports).toBeLessThan(8);
  });

  it('tracks everyone, dropping people once their ring is off', () => {
    let rings = nextRings({}, { a: { level: 0.5, speaking: true }, b: { level: 0.5, speaking: false } });
    expect(Object.keys(rings)).toEqual(['a']);
    for (let i = 0; i < 10; i++) rings = nextRings(rings, {});
    expect(rings).toEqual({});
  });
});
