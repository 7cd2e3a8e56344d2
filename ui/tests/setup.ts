// Test environment: what jsdom lacks and the components use.
import { afterEach } from 'vitest';
import { setLang } from '../src/lib/i18n.svelte';

if (typeof Element !== 'undefined' && !Element.prototype.scrollTo) {
  Element.prototype.scrollTo = function scrollTo() {};
}

afterEach(() => setLang('en'));
