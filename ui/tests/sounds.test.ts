// The disconnect and reconnect cues: generated tones, only once audio may start.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

class FakeParam {
  value = 0;
  setValueAtTime() {}
  linearRampToValueAtTime() {}
}
class FakeNode {
  frequency = new FakeParam();
  gain = new FakeParam();
  type = '';
  connect(next: FakeNode) {
    return next;
  }
  start() {}
  stop() {}
}
const made: FakeNode[] = [];
class FakeAudioContext {
  static count = 0;
  state: 'suspended' | 'running' = 'suspended';
  currentTime = 0;
  destination = new FakeNode();
  constructor() {
    FakeAudioContext.count++;
  }
  resume() {
    this.state = 'running';
    return Promise.resolve();
  }
  createOscillator() {
    const node = new FakeNode();
    made.push(node);
    return node;
  }
  createGain() {
    return new FakeNode();
  }
}

describe('cues', () => {
  beforeEach(() => {
    vi.resetModules();
    made.length = 0;
    FakeAudioContext.count = 0;
    vi.stubGlobal('AudioContext', FakeAudioContext);
  });
  afterEach(() => vi.unstubAllGlobals());

  it('stay silent until the person interacted with the window', async () => {
    const { playCue } = await import('../src/lib/sounds');
    playCue('disconnected');
    expect(made).toHaveLength(0);
    expect(FakeAudioContext.count).toBe(0);
  });

  it('play falling notes for a loss and rising notes for a return once armed', async () => {
    const { armCues, playCue, CUES } = await import('../src/lib/sounds');
    const target = new EventTarget();
    armCues(target);
    target.dispatchEvent(new Event('keydown'));
    await Promise.resolve();
    playCue('disconnected');
    expect(made.map((o) => o.frequency.value)).toEqual(CUES.disconnected.map((t) => t.frequency));
    expect(CUES.disconnected[0].frequency).toBeGreaterThan(CUES.disconnected[1].frequency);
    made.length = 0;
    playCue('reconnected');
    expect(made.map((o) => o.frequency.value)).toEqual(CUES.reconnected.map((t) => t.frequency));
    expect(CUES.reconnected[0].frequency).toBeLessThan(CUES.reconnected[1].frequency);
    expect(FakeAudioContext.count).toBe(1);
  });

  it('never throw where there is no audio at all', async () => {
    vi.stubGlobal('AudioContext', undefined);
    const { armCues, playCue } = await import('../src/lib/sounds');
    const target = new EventTarget();
    armCues(target);
    target.dispatchEvent(new Event('pointerdown'));
    expect(() => playCue('reconnected')).not.toThrow();
  });
});
