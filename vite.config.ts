import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The renderer only: built to dist/renderer and served by the main process from app://keyceremony/.
// No inline scripts (the CSP forbids them), relative asset paths, no network at run time.
export default defineConfig({
  root: 'renderer',
  base: './',
  plugins: [react()],
  build: { outDir: '../dist/renderer', emptyOutDir: true, modulePreload: { polyfill: false }, sourcemap: false, target: 'chrome120' },
});
