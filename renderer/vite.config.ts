// Vite build of the renderer: `npm run build:renderer` (vite build --config renderer/vite.config.ts).
// base './' keeps every asset URL relative, so the same bundle works under `sieve serve`'s
// http://127.0.0.1:PORT/TOKEN/ (the token is the first path segment) and from Electron's file/protocol.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: './',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/renderer', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    // deck.gl + luma.gl are one big chunk by nature; the warning says nothing useful here.
    chunkSizeWarningLimit: 4096,
  },
});
