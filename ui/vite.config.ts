/// <reference types="vitest/config" />
// Build, dev server and tests for the UI.
//
// `$lib/api` is the only door to the Rust backend. In the `demo` mode (`npm run demo`,
// `npm run build:demo`) it resolves to `src/demo/api.ts`, an in-memory stand-in used to
// look at the screens in a plain browser; every other mode, the production build
// included, resolves it to the real `src/lib/api.ts`, so the demo never ships.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

const src = fileURLToPath(new URL('./src', import.meta.url));

/** The CSP the app window runs under, read from the Tauri config, for `vite preview`. */
function appCsp(): string | undefined {
  try {
    const conf = JSON.parse(readFileSync(new URL('../tauri.conf.json', import.meta.url), 'utf8'));
    const csp = conf?.app?.security?.csp;
    return typeof csp === 'string' ? csp : undefined;
  } catch {
    return undefined;
  }
}

export function apiModule(mode: string): string {
  return mode === 'demo' ? `${src}/demo/api.ts` : `${src}/lib/api.ts`;
}

export default defineConfig(({ mode }) => {
  const csp = appCsp();
  return {
    plugins: [svelte()],
    resolve: {
      alias: [
        { find: /^\$lib\/api$/, replacement: apiModule(mode) },
        { find: /^\$lib\//, replacement: `${src}/lib/` },
        { find: /^\$components\//, replacement: `${src}/components/` },
        { find: /^\$locales\//, replacement: `${src}/locales/` },
      ],
      conditions: mode === 'test' ? ['browser'] : undefined,
    },
    // Tauri serves the files itself; relative paths keep them working from any origin.
    base: './',
    clearScreen: false,
    server: { port: 5173, strictPort: true },
    preview: { headers: csp ? { 'Content-Security-Policy': csp } : {} },
    build: {
      target: 'es2022',
      outDir: 'dist',
      emptyOutDir: true,
      // One CSS file and no inline assets: the window's CSP allows only 'self'.
      assetsInlineLimit: 0,
      cssCodeSplit: false,
      modulePreload: { polyfill: false },
      sourcemap: false,
    },
    test: {
      environment: 'jsdom',
      globals: true,
      include: ['src/**/*.test.ts', 'tests/**/*.test.ts'],
      setupFiles: ['tests/setup.ts'],
    },
  };
});
