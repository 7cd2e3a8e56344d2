// @vitest-environment node
// The window runs under `default-src 'self'; style-src 'self'; script-src 'self'`: no
// inline script, no style attribute, nothing remote. These checks keep the source that
// way; the built output is checked in a real browser under the same policy (README).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apiModule } from '../vite.config';

const root = join(__dirname, '..');
const componentsDir = join(root, 'src/components');

describe('content security policy', () => {
  it('index.html loads one module script by path and nothing inline', () => {
    const html = readFileSync(join(root, 'index.html'), 'utf8');
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts).toHaveLength(1);
    expect(scripts[0][1]).toMatch(/type="module"/);
    expect(scripts[0][1]).toMatch(/src="\/src\/main\.ts"/);
    expect(scripts[0][2].trim()).toBe('');
    expect(html).not.toMatch(/<style|style="|https?:\/\//);
  });

  it('no component has a style attribute (blocked by style-src) or loads anything remote', () => {
    for (const file of readdirSync(componentsDir).filter((f) => f.endsWith('.svelte'))) {
      const source = readFileSync(join(componentsDir, file), 'utf8');
      const markup = source.replace(/<script[\s\S]*?<\/script>/g, '').replace(/<style[\s\S]*?<\/style>/g, '');
      expect(markup, file).not.toMatch(/\sstyle=/);
      expect(source, file).not.toMatch(/@import|url\(\s*['"]?https?:|<link\b|\{@html/);
    }
    const css = readFileSync(join(root, 'src/app.css'), 'utf8');
    expect(css).not.toMatch(/@import|@font-face|url\(/);
  });

  it('the production build talks to the real backend; only the demo mode swaps it', () => {
    expect(apiModule('production')).toMatch(/src\/lib\/api\.ts$/);
    expect(apiModule('development')).toMatch(/src\/lib\/api\.ts$/);
    expect(apiModule('demo')).toMatch(/src\/demo\/api\.ts$/);
  });
});
