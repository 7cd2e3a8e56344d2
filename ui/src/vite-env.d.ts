// Types for Svelte components and Vite-specific imports (JSON, ?url) in TypeScript.
/// <reference types="svelte" />
/// <reference types="vite/client" />
