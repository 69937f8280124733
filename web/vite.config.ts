/**
 * Vite build of the browser app. The page bundles the project's own modules from src/ (engine,
 * model, training, inference, io, data, evaluation) with onnxruntime-web; nothing is fetched from
 * a CDN: the ONNX Runtime .wasm is emitted into the build from node_modules.
 *
 * Threads: onnxruntime-web runs multi-threaded only when the page is cross-origin isolated, which
 * needs these two response headers on every file of the app (the dev and preview servers send
 * them; a static server must be configured to, see web/README.md).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
} as const;

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const NODE_SHIM = here('./shims/node_builtins.ts');
const SHIMMED = new Set(['fs', 'fs/promises', 'crypto', 'os', 'util', 'zlib', 'url', 'child_process']);

/** Maps Node built-ins imported by shared src/ modules to browser stand-ins (node:path -> pathe). */
function nodeBuiltins(): Plugin {
  return {
    name: 'stmedfm-node-builtins',
    enforce: 'pre',
    resolveId(id) {
      const bare = id.startsWith('node:') ? id.slice(5) : id;
      if (bare === 'path') return this.resolve('pathe');
      if (SHIMMED.has(bare)) return NODE_SHIM;
      return null;
    },
  };
}

export default defineConfig({
  root: here('.'),
  base: './',
  plugins: [nodeBuiltins()],
  resolve: {
    // pngjs's own browser build (it bundles its stream/zlib needs); src/inference/input.ts decodes PNGs with it.
    alias: [{ find: /^pngjs$/, replacement: here('../node_modules/pngjs/browser.js') }],
  },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  server: { headers: ISOLATION_HEADERS, host: '127.0.0.1' },
  preview: { headers: ISOLATION_HEADERS, host: '127.0.0.1' },
  build: {
    outDir: here('../dist-web'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
  },
});
