import { defineConfig } from 'vite';

/**
 * A plain Vite build: Vite compiles the TSX itself (React's automatic JSX runtime); no plugin is
 * needed for a production build. The API's address is not baked in: public/config.js sets it at
 * run time, so one build serves every environment (the end-to-end test serves its own config.js).
 */
export default defineConfig({
  server: { port: 5173 },
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1024 },
});
