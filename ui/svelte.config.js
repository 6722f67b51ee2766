// Svelte compiler options for the LocalDx UI (TypeScript in components via vitePreprocess).
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

export default {
  preprocess: vitePreprocess(),
  compilerOptions: { runes: true },
};
