import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// The build lands inside the Python package, so installing midimon needs no Node.
export default defineConfig({
  plugins: [vue()],
  base: '/',
  build: {
    outDir: fileURLToPath(new URL('../engine/ui/static', import.meta.url)),
    emptyOutDir: true,
    // the CSP is default-src 'self': no inline script, so no inline module-preload polyfill
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1024,
  },
})
