/**
 * Short cues when the connection drops and when it comes back.
 *
 * Generated with WebAudio oscillators at the moment they play: no audio file, nothing
 * fetched. Falling two notes for "lost", rising for "back". Silent where the platform has
 * no AudioContext.
 */

export interface Tone {
  frequency: number;
  /** Start, seconds after the cue begins. */
  at: number;
  duration: number;
}

/** The notes of each cue. */
export const CUES: Record<'disconnected' | 'reconnected', Tone[]> = {
  disconnected: [
    { frequency: 660, at: 0, duration: 0.12 },
    { frequency: 440, at: 0.14, duration: 0.18 },
  ],
  reconnected: [
    { frequency: 523.25, at: 0, duration: 0.1 },
    { frequency: 784, at: 0.12, duration: 0.16 },
  ],
};

const VOLUME = 0.12;
let context: AudioContext | null = null;

/**
 * Web views start audio only after a person interacted with the page, so the context is
 * made (or resumed) on the first key press or click; a cue before that stays silent.
 */
export function armCues(target: EventTarget = globalThis): () => void {
  const unlock = () => {
    try {
      const Ctor = globalThis.AudioContext;
      if (!Ctor) return;
      context ??= new Ctor();
      if (context.state === 'suspended') void context.resume();
    } catch {
      // no audio on this platform
    }
  };
  target.addEventListener('pointerdown', unlock, { once: true });
  target.addEventListener('keydown', unlock, { once: true });
  return () => {
    target.removeEventListener('pointerdown', unlock);
    target.removeEventListener('keydown', unlock);
  };
}

/** Plays a cue; does nothing (and never throws) where audio is unavailable. */
export function playCue(cue: keyof typeof CUES): void {
  try {
    const ctx = context;
    if (!ctx || ctx.state !== 'running') return;
    const start = ctx.currentTime + 0.01;
    for (const tone of CUES[cue]) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = 'sine';
      osc.frequency.value = tone.frequency;
      const t0 = start + tone.at;
      const t1 = t0 + tone.duration;
      // Short ramps in and out: no click at either end.
      gain.gain.setValueAtTime(0, t0);
      gain.gain.linearRampToValueAtTime(VOLUME, t0 + 0.015);
      gain.gain.setValueAtTime(VOLUME, t1 - 0.03);
      gain.gain.linearRampToValueAtTime(0, t1);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0);
      osc.stop(t1 + 0.02);
    }
  } catch {
    // A cue is a courtesy: never let it break the app.
  }
}
