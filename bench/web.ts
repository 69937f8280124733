/**
 * Browser measurements (not a test): page load (including the packaged model), 2D/3D inference
 * and Grad-CAM latency in the page, and LoRA
 * fine-tuning steps/s in the page (onnxruntime-web, wasm) next to Node (onnxruntime-node) for the
 * same graph, at 1 thread and 2 threads. Uses the demo pack's real images.
 *
 *   npm run build:web && npx tsx bench/web.ts [--steps 20] [--batch 64]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PNG } from 'pngjs';
import '../src/engine/runtime/node.js';
import { loadTaskFile, npyArray, writeNpy } from '../src/data/index.js';
import { loadModel } from '../src/training/checkpoint.js';
import { finetune } from '../src/training/workflows.js';
import { launch } from '../test/web/browser.js';
import { makeFixtures } from '../test/web/fixtures.js';
import { serveStatic } from '../test/web/static_server.js';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '20' }, batch: { type: 'string', default: '64' }, repeats: { type: 'string', default: '20' } } });
const steps = Number(values.steps);
const batch = Number(values.batch);
const repeats = Number(values.repeats);
const ROOT = resolve(import.meta.dirname, '..');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const tmp = mkdtempSync(join(tmpdir(), 'stmedfm-webbench-'));
const fx = await makeFixtures(join(tmp, 'fx'));
const blood = join(ROOT, 'data/demo/bloodmnist.npz');
const organ = loadTaskFile('organmnist3d', join(ROOT, 'data/demo/organmnist3d.npz'));
const bloodTest = loadTaskFile('bloodmnist', blood).test;
const png = new PNG({ width: 28, height: 28 });
for (let p = 0; p < 784; p++) {
  for (let c = 0; c < 3; c++) png.data[p * 4 + c] = bloodTest.images[p * 3 + c]!;
  png.data[p * 4 + 3] = 255;
}
const pngPath = join(tmp, 'blood.png');
writeFileSync(pngPath, PNG.sync.write(png));
const npyPath = join(tmp, 'organ.npy');
writeFileSync(npyPath, writeNpy(npyArray('uint8', [28, 28, 28], organ.test.images.slice(0, 28 ** 3))));

const server = await serveStatic(join(ROOT, 'dist-web'));
const br = await launch();
const page = br.page;
const settled = (id: string) => page.waitForSelector(`#${id}[data-state]:not([data-state=busy])`, { timeout: 600_000 });
const rows: string[] = [];
for (const threads of [1, 2]) {
  const t0 = performance.now();
  await page.goto(`${server.url}?threads=${threads}`);
  await page.waitForSelector('body[data-ready=true]');
  const load = performance.now() - t0;
  await page.setInputFiles('#model-input', [fx.checkpoint]);
  await settled('model-status');
  const latency = async (task: string, file: string) => {
    await page.selectOption('#task', task);
    const ms: number[] = [];
    const cam: number[] = [];
    for (let i = 0; i < repeats + 1; i++) {
      await page.setInputFiles('#input-input', [file]);
      await settled('input-status');
      if (i > 0) ms.push(Number(await page.getAttribute('#result', 'data-ms')));
      if (i > 0) cam.push(Number(await page.getAttribute('#saliency', 'data-ms')));
    }
    return { infer: median(ms), cam: median(cam) };
  };
  const l2 = await latency('bloodmnist', pngPath);
  const l3 = await latency('organmnist3d', npyPath);
  await page.fill('#steps', String(steps));
  await page.fill('#batch', String(batch));
  await page.setInputFiles('#train-input', [blood]);
  await settled('train-status');
  const webSps = Number(await page.getAttribute('#train-status', 'data-steps-per-second'));
  const base = await loadModel(fx.checkpoint);
  const node = await finetune({ task: 'bloodmnist', method: 'lora', from: base, loaded: new Map([['bloodmnist', loadTaskFile('bloodmnist', blood)]]), steps, batch2d: batch, threads });
  const nodeSps = node.result.stepsDone / node.result.seconds;
  rows.push(`| ${threads} | ${load.toFixed(0)} ms | ${l2.infer.toFixed(1)} ms | ${l3.infer.toFixed(1)} ms | ${l2.cam.toFixed(1)} ms | ${l3.cam.toFixed(1)} ms | ${webSps.toFixed(2)} | ${nodeSps.toFixed(2)} | ${(nodeSps / webSps).toFixed(1)}x |`);
}
console.log(`LoRA fine-tuning of STMedFM-Tiny on bloodmnist (demo pack), batch ${batch}, ${steps} steps; inference batch 1, median of ${repeats}`);
console.log('| threads | page load | 2D inference | 3D inference | 2D Grad-CAM | 3D Grad-CAM | browser steps/s | Node steps/s | Node/browser |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(r);
console.log(`requests: ${br.requests.length}, off-machine: ${br.requests.filter((u) => !u.startsWith('blob:') && new URL(u).hostname !== '127.0.0.1').length}`);
await br.close();
await server.close();
rmSync(tmp, { recursive: true, force: true });
