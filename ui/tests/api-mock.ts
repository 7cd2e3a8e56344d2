// Stands in for `$lib/api` in component tests: the Rust backend cannot run inside
// Vitest. Every command is a spy resolving to `undefined` unless a test says otherwise;
// `emit` plays an event from the shell to whoever listens.
import { vi, type Mock } from 'vitest';
import type { UiEvent } from '../src/lib/types';

const spies: Record<string, Mock> = {};
const listeners = new Set<(event: UiEvent) => void>();

export const api = new Proxy(spies, {
  get(target, name: string) {
    target[name] ??= vi.fn(async () => undefined);
    return target[name];
  },
});

export const onEvent = vi.fn(async (handler: (event: UiEvent) => void) => {
  listeners.add(handler);
  return () => listeners.delete(handler);
});

export function emit(event: UiEvent): void {
  for (const listener of listeners) listener(event);
}

export function resetApi(): void {
  for (const spy of Object.values(spies)) spy.mockReset().mockResolvedValue(undefined);
  listeners.clear();
}
