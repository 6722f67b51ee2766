// Vite config of the LocalDx UI. The build is a static bundle in ui/dist that the desktop binary
// embeds at compile time; it references no remote URL (see the CSP in src-tauri/tauri.conf.json).
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: './',
  plugins: [svelte()],
  clearScreen: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'safari15',
    // Inline nothing as data: URLs and keep one CSS file, so the strict CSP needs no exceptions.
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    modulePreload: { polyfill: false },
  },
  server: { port: 1420, strictPort: true },
});
