/**
 * End to end in headless Chromium (Debian's, via playwright-core): the built app served from
 * 127.0.0.1 classifies a 2D image and a 3D volume with the probabilities Node computes, fine-tunes
 * LoRA in the tab with a falling loss, downloads adapter files that Node loads with equal
 * predictions, loads an adapter trained in Node, shows clear messages for bad input, falls back
 * to one thread without cross-origin isolation, and sends no request off the machine.
 * Screenshots of each state go to test-output/web/.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDataset, loadTaskFile } from '../../src/data/index.js';
import { ForwardSession } from '../../src/engine/runtime/session.js';
import { floatTensor } from '../../src/engine/runtime/tensors.js';
import { renderOverlay } from '../../src/explain/overlay.js';
import { GradCamExplainer } from '../../src/explain/saliency.js';
import { applyAdapter } from '../../src/inference/adapter.js';
import { readInput, readPredictInputs } from '../../src/inference/input.js';
import { Predictor } from '../../src/inference/predictor.js';
import { readPeftAdapter } from '../../src/io/peft_files.js';
import { parseSafetensors, serializeSafetensors } from '../../src/io/safetensors.js';
import { STMEDFM_TINY } from '../../src/model/config.js';
import { ParamStore } from '../../src/model/params.js';
import { STMedFM } from '../../src/model/stmedfm.js';
import { adapterFiles as adapterGroup } from '../../src/cli/adapter_files.js';
import { writeFileGroupAtomic } from '../../src/io/atomic.js';
import { type LoadedModel, loadModel, saveModel } from '../../src/training/checkpoint.js';
import { taskHead } from '../../src/training/tasks.js';
import { type TaskCalibration, storedTemperature } from '../../src/training/calibration.js';
import { finetune } from '../../src/training/workflows.js';
import { runCli } from '../helpers/cli.js';
import { type Browser, chromiumMissing, externalRequests, launch } from './browser.js';
import { type WebFixtures, makeFixtures } from './fixtures.js';
import { type StaticServer, serveStatic } from './static_server.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SHOTS = join(ROOT, 'test-output/web');
const missing = chromiumMissing();
if (missing && process.env.CI === 'true') throw new Error(`browser tests cannot run in CI: ${missing}`);
if (missing) console.warn(`[web] browser tests SKIPPED: ${missing}`);
const TOL = 1e-4;

/** What Predictor gives in Node for one input: logits (for calibrated probabilities) and probabilities. */
async function nodeLogits(m: { model: STMedFM; store: ParamStore }, task: string, file: string): Promise<number[]> {
  const x = readInput(file, getDataset(task));
  const p = await Predictor.create(m.model, m.store, task, { batch: 1 });
  const out = await p.run(x.data, 1);
  await p.release();
  return [...out.logits];
}

/** softmax(z / T), written out here (the page uses the evaluation module's softmaxRows). */
function softmaxT(z: number[], t: number): number[] {
  const m = Math.max(...z.map((v) => v / t));
  const e = z.map((v) => Math.exp(v / t - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** A copy of a checkpoint whose config carries `extra` fields (e.g. a stored calibration). */
function withConfig(src: string, dst: string, extra: Record<string, unknown>): void {
  const f = parseSafetensors(readFileSync(src), src);
  const cfg = JSON.parse(f.metadata!.stmedfm_config!) as Record<string, unknown>;
  writeFileSync(dst, serializeSafetensors(f.tensors, { ...f.metadata, stmedfm_config: JSON.stringify({ ...cfg, ...extra }) }));
}

/** What `stmedfm predict` gives for one input: calibrated with the temperature the model stores for `task`, if any. */
async function nodeProbs(
  m: { model: STMedFM; store: ParamStore; config?: { calibration?: Record<string, TaskCalibration> }; calibration?: Record<string, TaskCalibration> },
  task: string,
  file: string,
): Promise<number[]> {
  const x = readInput(file, getDataset(task));
  // (a checkpoint keeps it in its config; an applied adapter (applyAdapter) next to the model)
  const temperature = storedTemperature(m.config ?? m, task);
  const p = await Predictor.create(m.model, m.store, task, { batch: 1, ...(temperature !== undefined ? { temperature } : {}) });
  const out = await p.run(x.data, 1);
  await p.release();
  return [...out.probs];
}

describe.skipIf(missing !== undefined)(`browser app (headless Chromium)${missing ? ` — SKIPPED: ${missing}` : ''}`, () => {
  let tmp: string;
  let fx: WebFixtures;
  let server: StaticServer;
  let br: Browser;
  let base: LoadedModel;
  const errors: string[] = [];

  const page = () => br.page;
  const shot = (name: string) => page().screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const pick = async (input: string, files: string[]) => page().setInputFiles(`#${input}`, files);
  const settled = async (status: string) => {
    await page().waitForSelector(`#${status}[data-state]:not([data-state=busy])`, { timeout: 600_000 });
    return { state: await page().getAttribute(`#${status}`, 'data-state'), text: (await page().textContent(`#${status}`)) ?? '' };
  };
  const shownProbs = async () => {
    const rows = await page().$$eval('#probs tr[data-class]', (trs) => trs.map((tr) => ({ p: Number((tr as unknown as { dataset: Record<string, string> }).dataset.p), shown: Number(tr.children[1]!.textContent) })));
    for (const r of rows) expect(Math.abs(r.p - r.shown)).toBeLessThanOrEqual(5e-7 + 1e-12);
    return rows.map((r) => r.p);
  };
  const expectClose = (a: number[], b: number[]) => {
    expect(a.length).toBe(b.length);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(TOL);
  };
  /** Drops a file on a drop zone the way a user does (a DragEvent with a DataTransfer). */
  const drop = async (zone: string, file: string) => {
    const bytes = [...readFileSync(file)];
    const name = file.replace(/^.*\//, '');
    const dt = await page().evaluateHandle(
      ({ bytes, name }) => {
        // Runs in the page (DOM types are not in the tests' type library).
        const g = globalThis as unknown as { DataTransfer: new () => { items: { add(f: unknown): void } }; File: new (parts: unknown[], name: string) => unknown };
        const d = new g.DataTransfer();
        d.items.add(new g.File([new Uint8Array(bytes)], name));
        return d;
      },
      { bytes, name },
    );
    await page().dispatchEvent(`#${zone}`, 'drop', { dataTransfer: dt });
  };
  const selectTask = (task: string) => page().selectOption('#task', task);
  /** The fixture checkpoint as the base, and the in-tab training settings both fine-tuning tests use (24 steps). */
  const prepareTabTraining = async () => {
    await pick('model-input', [fx.checkpoint]);
    expect((await settled('model-status')).state).toBe('ok');
    await page().fill('#steps', '24');
    await page().fill('#batch', '32');
    await page().fill('#lr', '0.01');
  };
  /** In-tab training finished, ran its 24 steps, and the mean loss of the last 4 fell by more than 0.1 from the first 4. */
  const expectTabTrainingLearned = async () => {
    const t = await settled('train-status');
    expect(t.state, t.text).toBe('ok');
    const losses: number[] = JSON.parse((await page().getAttribute('#train-status', 'data-losses'))!);
    expect(losses).toHaveLength(24);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(losses.slice(-4))).toBeLessThan(mean(losses.slice(0, 4)) - 0.1);
  };

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'stmedfm-web-'));
    mkdirSync(SHOTS, { recursive: true });
    const outDir = join(tmp, 'site');
    await build({ configFile: join(ROOT, 'web/vite.config.ts'), logLevel: 'error', build: { outDir, emptyOutDir: true } });
    fx = await makeFixtures(join(tmp, 'fixtures'));
    base = await loadModel(fx.checkpoint);
    server = await serveStatic(outDir);
    br = await launch();
    page().on('pageerror', (e) => errors.push(e.message));
    // a step that waits for something that never comes fails with its location instead of hanging
    page().setDefaultTimeout(300_000);
    if (process.env.WEB_DEBUG) page().on('console', (m) => console.log(`[page] ${m.text()}`));
    const t0 = performance.now();
    await page().goto(server.url);
    await page().waitForSelector('body[data-ready=true]');
    console.log(`[web] page load ${(performance.now() - t0).toFixed(0)} ms`);
  }, 180_000);

  afterAll(async () => {
    await br?.close();
    await server?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('loads cross-origin isolated, with WebAssembly threads', async () => {
    expect(Number(await page().getAttribute('#runtime', 'data-threads'))).toBeGreaterThan(1);
    await shot('01-loaded');
  });

  it('offers the packaged pretrained STMedFM-Tiny by default, with registry class names and the probabilities Node computes', async () => {
    const st = await settled('model-status');
    expect(st.state, st.text).toBe('ok');
    expect(st.text).toMatch(/packaged STMedFM-Tiny, pretrained: pathmnist \(9 classes\), bloodmnist \(8 classes\), dermamnist \(7 classes\), organmnist3d \(11 classes\)/);
    expect(await page().getAttribute('#model-status', 'data-packaged')).toBe('true');
    // served by the page's own origin, as a file of the build
    expect(br.requests.some((u) => /^http:\/\/127\.0\.0\.1:\d+\/assets\/stmedfm-tiny-[\w-]+\.safetensors$/.test(u))).toBe(true);
    const pretrained = await loadModel(join(ROOT, 'data/pretrained/stmedfm-tiny.safetensors'));
    await selectTask('bloodmnist');
    await drop('input-drop', fx.png);
    expect((await settled('input-status')).state).toBe('ok');
    expectClose(await shownProbs(), await nodeProbs(pretrained, 'bloodmnist', fx.png));
    expect(await page().$$eval('#probs tr[data-class] td:first-child', (tds) => tds.map((td) => td.textContent))).toEqual([...getDataset('bloodmnist').labels]);
    expect(await page().textContent('#calibration')).toMatch(/^uncalibrated/);
    await selectTask('organmnist3d');
    await pick('input-input', [fx.volume]);
    expect((await settled('input-status')).state).toBe('ok');
    expectClose(await shownProbs(), await nodeProbs(pretrained, 'organmnist3d', fx.volume));
    await shot('01b-packaged-model');
  });

  it('shows calibrated probabilities softmax(logits / T) when a checkpoint or adapter stores T, and says uncalibrated otherwise', async () => {
    const calibrated = join(tmp, 'calibrated.safetensors');
    // a malformed stored calibration is refused, as the CLI's checkpoint loader refuses it
    const malformed = join(tmp, 'malformed-calibration.safetensors');
    withConfig(fx.checkpoint, malformed, { calibration: { organmnist3d: { temperature: 'bad' } } });
    await pick('model-input', [malformed]);
    const refused = await settled('model-status');
    expect(refused.state).toBe('error');
    expect(refused.text).toMatch(/stored calibration of organmnist3d is unusable: temperature must be a positive number/);
    withConfig(fx.checkpoint, calibrated, { calibration: { bloodmnist: { temperature: 2.5, split: 'val', nll_before: 1.3, nll_after: 1.1 } } });
    await pick('model-input', [calibrated]);
    expect((await settled('model-status')).state).toBe('ok');
    await selectTask('bloodmnist');
    await pick('input-input', [fx.png]);
    expect((await settled('input-status')).state).toBe('ok');
    expect(await page().textContent('#calibration')).toMatch(/^calibrated \(T=2\.5\): softmax\(logits \/ T\), T from the checkpoint/);
    const z = await nodeLogits(base, 'bloodmnist', fx.png);
    const shown = await shownProbs();
    expectClose(shown, softmaxT(z, 2.5));
    // not the uncalibrated probabilities
    expect(Math.max(...shown.map((p, i) => Math.abs(p - softmaxT(z, 1)[i]!)))).toBeGreaterThan(TOL);
    await shot('02b-calibrated');
    // a task without a stored temperature is uncalibrated
    await selectTask('organmnist3d');
    await pick('input-input', [fx.volume]);
    expect((await settled('input-status')).state).toBe('ok');
    expect(await page().textContent('#calibration')).toMatch(/^uncalibrated/);
    expectClose(await shownProbs(), await nodeProbs(base, 'organmnist3d', fx.volume));

    // An adapter's own temperature; the checkpoint's no longer applies once the adapter changes the model.
    const data = loadTaskFile('bloodmnist', fx.trainNpz);
    const trained = await finetune({ task: 'bloodmnist', method: 'lora', from: base, loaded: new Map([['bloodmnist', data]]), steps: 3, batch2d: 16 });
    const dir = join(tmp, 'calibrated-adapter');
    await writeFileGroupAtomic(adapterGroup(trained, dir, 'bloodmnist'));
    const cfgPath = join(dir, 'adapter_config.json');
    // (fine-tuning stored the temperature it fitted on val; `plain` is the config without one)
    const { stmedfm_calibration: fitted, ...rest } = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
    expect(fitted).toBeDefined();
    const plain = JSON.stringify(rest);
    writeFileSync(cfgPath, JSON.stringify({ ...rest, stmedfm_calibration: { task: 'bloodmnist', temperature: 0.5, split: 'val', nll_before: 1.2, nll_after: 1.0 } }));
    const files = [calibrated, join(dir, 'adapter_model.safetensors'), cfgPath];
    await pick('model-input', files);
    expect((await settled('model-status')).state).toBe('ok');
    await pick('input-input', [fx.png]);
    expect((await settled('input-status')).state).toBe('ok');
    expect(await page().textContent('#calibration')).toMatch(/^calibrated \(T=0\.5\): softmax\(logits \/ T\), T from the adapter/);
    expectClose(await shownProbs(), softmaxT(await nodeLogits(trained, 'bloodmnist', fx.png), 0.5));
    // the same adapter without the field: uncalibrated
    writeFileSync(cfgPath, plain);
    await pick('model-input', files);
    expect((await settled('model-status')).state).toBe('ok');
    await pick('input-input', [fx.png]);
    expect((await settled('input-status')).state).toBe('ok');
    expect(await page().textContent('#calibration')).toMatch(/^uncalibrated/);
    expectClose(await shownProbs(), softmaxT(await nodeLogits(trained, 'bloodmnist', fx.png), 1));
  });

  it('classifies a dropped 2D image with the probabilities Node computes', async () => {
    await pick('model-input', [fx.checkpoint]);
    expect((await settled('model-status')).state).toBe('ok');
    await selectTask('bloodmnist');
    await drop('input-drop', fx.png);
    expect((await settled('input-status')).state).toBe('ok');
    const shown = await shownProbs();
    expectClose(shown, await nodeProbs(base, 'bloodmnist', fx.png));
    // ... and with what the CLI prints for the same file.
    const cli = runCli(['predict', '--checkpoint', fx.checkpoint, '--task', 'bloodmnist', '--input', fx.png, '--json']);
    expect(cli.code, cli.stderr).toBe(0);
    expectClose(shown, (JSON.parse(cli.stdout) as { probabilities: number[][] }).probabilities[0]!);
    expect(await page().textContent('#top-class')).toBe(getDataset('bloodmnist').labels[shown.indexOf(Math.max(...shown))]);
    await shot('02-image-2d');
  });

  it('names every label above 0.5 for a multi-label task, as `stmedfm predict` does, not an argmax', async () => {
    const model = new STMedFM(STMEDFM_TINY, [taskHead('chestmnist')]);
    const ck = join(tmp, 'chest.safetensors');
    await saveModel(ck, model, ParamStore.init(model.specs(), 5));
    await pick('model-input', [ck]);
    expect((await settled('model-status')).state).toBe('ok');
    // (its one head is the task: no picker)
    expect(await page().$('#task')).toBeNull();
    await pick('input-input', [fx.png]);
    expect((await settled('input-status')).state).toBe('ok');
    const cli = runCli(['predict', '--checkpoint', ck, '--task', 'chestmnist', '--input', fx.png, '--json']);
    expect(cli.code, cli.stderr).toBe(0);
    const out = JSON.parse(cli.stdout) as { probabilities: number[][]; labels: number[][]; class_names: string[] };
    const shown = await shownProbs();
    expectClose(shown, out.probabilities[0]!);
    // the untrained head puts some labels above 0.5 and some below: a set, not one class
    expect(out.labels[0]!.length).toBeGreaterThan(1);
    expect(out.labels[0]!.length).toBeLessThan(14);
    expect(await page().textContent('#top-class')).toBe(out.labels[0]!.map((l) => out.class_names[l]).join('; '));
    expect(await page().textContent('#calibration')).toMatch(/sigmoid\(logits\) per label/);
    await shot('02d-multi-label');
    // back to the fixture checkpoint the next tests use
    await pick('model-input', [fx.checkpoint]);
    expect((await settled('model-status')).state).toBe('ok');
  });

  /** The page's Grad-CAM map and overlay pixels against `stmedfm explain`'s computation in Node. */
  const checkSaliency = async (task: string, file: string, z?: number) => {
    expect(await page().isVisible('#saliency')).toBe(true);
    const cam: number[] = JSON.parse((await page().getAttribute('#saliency', 'data-cam'))!);
    const x = readInput(file, getDataset(task));
    const e = await GradCamExplainer.create(base.model, base.store, task);
    const want = await e.explain(x.data);
    await e.release();
    expect(Number(await page().getAttribute('#saliency', 'data-class-index'))).toBe(want.classIndex);
    const max = Math.max(...want.cam);
    expect(max).toBeGreaterThan(0);
    expect(cam).toHaveLength(want.cam.length);
    for (let i = 0; i < cam.length; i++) expect(Math.abs(cam[i]! - want.cam[i]!)).toBeLessThanOrEqual(1e-4 * max);
    // the drawn pixels are renderOverlay's (the tile of slice z for a volume)
    const img = renderOverlay(x.data, x.shape.slice(1), want.cam, want.grid);
    const shown = await page().$eval('#saliency', (c) => {
      const cv = c as unknown as { width: number; height: number; getContext(k: '2d'): { getImageData(a: number, b: number, w: number, h: number): { data: ArrayLike<number> } } };
      return { w: cv.width, h: cv.height, px: Array.from(cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data) };
    });
    const ox = z === undefined ? 0 : (z % 7) * (shown.w + 2);
    const oy = z === undefined ? 0 : Math.floor(z / 7) * (shown.w + 2);
    let worst = 0;
    for (let y = 0; y < shown.h; y++) {
      for (let xx = 0; xx < shown.w; xx++) {
        for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(shown.px[(y * shown.w + xx) * 4 + c]! - img.rgb[((oy + y) * img.width + ox + xx) * 3 + c]!));
      }
    }
    expect(worst).toBeLessThanOrEqual(1);
    return shown;
  };

  it('draws the Grad-CAM overlay of the top class: the map and pixels `stmedfm explain` computes in Node', async () => {
    await selectTask('bloodmnist');
    await pick('input-input', [fx.png]);
    expect((await settled('input-status')).state).toBe('ok');
    const shown = await checkSaliency('bloodmnist', fx.png);
    expect([shown.w, shown.h]).toEqual([224, 224]);
    expect(await page().textContent('#saliency-note')).toMatch(/^Grad-CAM for .+ \(the top class\) on the 7x7 token grid/);
    await shot('02c-saliency');
  });

  it('classifies a 3D volume and shows its slices', async () => {
    await selectTask('organmnist3d');
    await pick('input-input', [fx.volume]);
    expect((await settled('input-status')).state).toBe('ok');
    expectClose(await shownProbs(), await nodeProbs(base, 'organmnist3d', fx.volume));
    expect(await page().getAttribute('#slice-range', 'max')).toBe('27');
    await page().fill('#slice-range', '3');
    expect(await page().textContent('#slice-index')).toBe('4 / 28');
    // the overlay follows the slice viewer
    const shown = await checkSaliency('organmnist3d', fx.volume, 3);
    expect([shown.w, shown.h]).toEqual([112, 112]);
    await shot('03-volume-3d');
  });

  it('classifies a NIfTI volume preprocessed by the shared imaging module, as Node does', async () => {
    await pick('input-input', [fx.nifti]);
    const st = await settled('input-status');
    expect(st.state, st.text).toBe('ok');
    // Node: what `stmedfm predict --input ct.nii` reads (readPredictInputs), run by the Predictor.
    const x = await readPredictInputs(fx.nifti, getDataset('organmnist3d'));
    const p = await Predictor.create(base.model, base.store, 'organmnist3d', { batch: 1 });
    const expected = [...(await p.run(x.data, 1)).probs];
    await p.release();
    expectClose(await shownProbs(), expected);
    await shot('03b-nifti');
  });

  it('says what is wrong with a wrong file type and a volume of the wrong shape', async () => {
    await pick('input-input', [fx.notAnImage]);
    let s = await settled('input-status');
    expect(s.state).toBe('error');
    expect(s.text).toMatch(/notes\.txt: not a file type this page reads; organmnist3d takes a NIfTI \(\.nii, \.nii\.gz\) or \.npy volume/);
    await pick('input-input', [fx.flatNpy]);
    s = await settled('input-status');
    expect(s.state).toBe('error');
    expect(s.text).toMatch(/shape \[28,28\] does not fit organmnist3d/);
    await pick('input-input', [fx.nifti4d]);
    s = await settled('input-status');
    expect(s.state).toBe('error');
    expect(s.text).toMatch(/series\.nii: a 4D NIfTI of shape 8x8x8x3; give one 3D volume/);
    await selectTask('bloodmnist');
    await pick('input-input', [fx.nifti]);
    s = await settled('input-status');
    expect(s.text).toMatch(/ct\.nii: a volume, but bloodmnist is a 2D task/);
    await shot('04-bad-input');
  });

  it('runs an exported ONNX model with the probabilities Node computes', async () => {
    await pick('model-input', [fx.onnx]);
    expect((await settled('model-status')).state).toBe('ok');
    await pick('input-input', [fx.jpeg]);
    expect((await settled('input-status')).state).toBe('ok');
    const s = await ForwardSession.create(readFileSync(fx.onnx));
    const x = readInput(fx.jpeg, getDataset('bloodmnist'));
    const out = await s.run({ x: floatTensor(x.data, x.shape) });
    await s.release();
    expectClose(await shownProbs(), [...(out.probabilities!.data as Float32Array)]);
    await shot('05-onnx-export');
  });

  it('loads an adapter trained in Node and predicts as Node does; refuses one that does not fit', async () => {
    const data = loadTaskFile('bloodmnist', fx.trainNpz);
    const trained = await finetune({ task: 'bloodmnist', method: 'lora', from: base, loaded: new Map([['bloodmnist', data]]), steps: 3, batch2d: 16 });
    const dir = join(tmp, 'node-adapter');
    await writeFileGroupAtomic(adapterGroup(trained, dir, 'bloodmnist'));
    const adapterFiles = [join(dir, 'adapter_model.safetensors'), join(dir, 'adapter_config.json')];
    await pick('model-input', [fx.checkpoint, ...adapterFiles]);
    const m = await settled('model-status');
    expect(m.state).toBe('ok');
    expect(m.text).toMatch(/LoRA adapter for bloodmnist/);
    await pick('input-input', [fx.png]);
    expect((await settled('input-status')).state).toBe('ok');
    // fine-tuning in Node fitted a temperature on val; the adapter carries it and the page applies it
    expect(await page().textContent('#calibration')).toMatch(/^calibrated \(T=[0-9.]+\): softmax\(logits \/ T\), T from the adapter/);
    const shown = await shownProbs();
    expectClose(shown, await nodeProbs(trained, 'bloodmnist', fx.png));
    // The adapter changed the prediction (the comparison is not just the base model's).
    const baseProbs = await nodeProbs(base, 'bloodmnist', fx.png);
    expect(Math.max(...shown.map((p, i) => Math.abs(p - baseProbs[i]!)))).toBeGreaterThan(TOL);
    await shot('06-node-adapter');

    // A bottleneck adapter (the CLI's other PEFT method) loads the same way.
    const bottleneck = await finetune({ task: 'bloodmnist', method: 'adapter', from: base, loaded: new Map([['bloodmnist', data]]), steps: 3, batch2d: 16 });
    const bdir = join(tmp, 'node-bottleneck');
    await writeFileGroupAtomic(adapterGroup(bottleneck, bdir, 'bloodmnist'));
    await pick('model-input', [fx.checkpoint, join(bdir, 'adapter_model.safetensors'), join(bdir, 'adapter_config.json')]);
    expect((await settled('model-status')).text).toMatch(/bottleneck adapter for bloodmnist/);
    await pick('input-input', [fx.png]);
    expect((await settled('input-status')).state).toBe('ok');
    expectClose(await shownProbs(), await nodeProbs(bottleneck, 'bloodmnist', fx.png));

    await pick('model-input', [fx.smallCheckpoint, ...adapterFiles]);
    const bad = await settled('model-status');
    expect(bad.state).toBe('error');
    expect(bad.text).toMatch(/the adapter does not fit the checkpoint/);
    await shot('07-adapter-misfit');
  });

  // (generous timeouts: the machine may be shared; no test asserts a duration)
  it('fine-tunes LoRA in the tab: the loss falls, held-out metrics show, and the downloaded adapter predicts the same in Node', { timeout: 600_000 }, async () => {
    await prepareTabTraining();
    await pick('train-input', [fx.trainNpz]);
    await expectTabTrainingLearned();
    // The loss curve is live: the page painted frames between the first and the last step.
    const frames: number[] = JSON.parse((await page().getAttribute('#train-status', 'data-frames-at-step'))!);
    expect(frames[frames.length - 1]!).toBeGreaterThan(frames[0]!);
    const acc = Number(await page().getAttribute('#eval-table', 'data-acc'));
    const auroc = Number(await page().getAttribute('#eval-table', 'data-auroc'));
    const ece = Number(await page().getAttribute('#eval-table', 'data-ece'));
    expect(acc).toBeGreaterThanOrEqual(0);
    expect(auroc).toBeGreaterThan(0.5);
    expect(ece).toBeGreaterThanOrEqual(0);
    console.log(`[web] in-tab LoRA: ${(await page().getAttribute('#train-status', 'data-steps-per-second'))} steps/s, test acc ${acc.toFixed(3)}, AUROC ${auroc.toFixed(3)}`);
    await shot('08-fine-tuned');

    // the files behind the download button (its blob URLs; a Download event can be held back by Chromium)
    const dir = join(tmp, 'page-adapter');
    mkdirSync(dir);
    for (const [key, name] of [['weights', 'adapter_model.safetensors'], ['config', 'adapter_config.json']] as const) {
      const url = (await page().getAttribute('#download', `data-${key}`))!;
      writeFileSync(join(dir, name), Buffer.from(await page().evaluate(async (u) => [...new Uint8Array(await (await fetch(u)).arrayBuffer())], url)));
    }
    const adapter = await readPeftAdapter(dir);
    const inNode = applyAdapter(base, adapter);
    expect(inNode.task).toBe('bloodmnist');

    await pick('input-input', [fx.png]);
    expect((await settled('input-status')).state).toBe('ok');
    // the temperature fitted in the tab is shown, travels in the downloaded adapter, and Node applies it
    const fittedT = Number(await page().getAttribute('#calibration', 'data-temperature'));
    expect(await page().textContent('#calibration')).toMatch(/^calibrated \(T=[0-9.]+\): softmax\(logits \/ T\), T from the fine-tuning in this tab/);
    expect(inNode.calibration?.bloodmnist?.temperature).toBeCloseTo(fittedT, 10);
    const shown = await shownProbs();
    expectClose(shown, await nodeProbs(inNode, 'bloodmnist', fx.png));
    const baseProbs = await nodeProbs(base, 'bloodmnist', fx.png);
    expect(Math.max(...shown.map((p, i) => Math.abs(p - baseProbs[i]!)))).toBeGreaterThan(TOL);
  });

  it('fine-tunes on a dropped class folder, imported as `stmedfm data import` does: loss falls, held-out metrics, adapter loads in the CLI', { timeout: 600_000 }, async () => {
    await prepareTabTraining();
    // The folder picker (<input webkitdirectory>): every file arrives with its path under the folder.
    await page().setInputFiles('#train-folder-input', fx.classFolders);
    await expectTabTrainingLearned();
    expect(await page().textContent('#train-notes')).toMatch(/train\/val\/test 72\/8\/16 images/);
    expect(Number(await page().getAttribute('#eval-table', 'data-auroc'))).toBeGreaterThan(0.5);
    expect(await page().textContent('#eval-table')).toMatch(/held-out \(16 test samples\)/);
    await shot('08b-class-folder');

    // The page's data set is byte for byte the file the CLI's import writes for the same folder.
    // (the files behind the page's download buttons, read through their blob URLs: Chromium holds back
    // a page's further automatic downloads, and the LoRA test above already downloaded)
    const blob = async (sel: string, key: string) =>
      Buffer.from(await page().evaluate(async (u) => [...new Uint8Array(await (await fetch(u)).arrayBuffer())], (await page().getAttribute(sel, `data-${key}`))!));
    const cliNpz = join(tmp, 'cli-import.npz');
    const r = runCli(['data', 'import', '--images', fx.classFolders, '--out', cliNpz]);
    expect(r.code, r.stderr).toBe(0);
    expect(Buffer.compare(await blob('#download-npz', 'href'), readFileSync(cliNpz))).toBe(0);

    const adapterDir = join(tmp, 'folder-adapter');
    mkdirSync(adapterDir);
    writeFileSync(join(adapterDir, 'adapter_model.safetensors'), await blob('#download', 'weights'));
    writeFileSync(join(adapterDir, 'adapter_config.json'), await blob('#download', 'config'));
    const inNode = applyAdapter(base, await readPeftAdapter(adapterDir));
    await pick('input-input', [fx.png]);
    expect((await settled('input-status')).state).toBe('ok');
    // Node reads the downloaded files (readPeftAdapter, as the CLI does) and predicts the same.
    expectClose(await shownProbs(), await nodeProbs(inNode, 'bloodmnist', fx.png));
  });

  it('says what is wrong with class folders that do not fit the task', async () => {
    const bad = join(tmp, 'fx-bad-folders', 'bloodmnist-two');
    for (const c of ['cats', 'dogs']) {
      mkdirSync(join(bad, c), { recursive: true });
      writeFileSync(join(bad, c, 'a.png'), readFileSync(fx.png));
    }
    await page().setInputFiles('#train-folder-input', bad);
    const t = await settled('train-status');
    expect(t.state).toBe('error');
    expect(t.text).toMatch(/2 class folders \(cats, dogs\) do not fit bloodmnist, which has 8 classes/);
  });

  it('sent no request off 127.0.0.1 and raised no page errors', () => {
    expect(br.requests.length).toBeGreaterThan(3);
    expect(externalRequests(br.requests)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('falls back to one thread with a note when the server does not isolate the page', async () => {
    const plain = await serveStatic(join(tmp, 'site'), { isolation: false });
    const p = await br.context.newPage();
    try {
      await p.goto(plain.url);
      await p.waitForSelector('body[data-ready=true]');
      expect(await p.getAttribute('#runtime', 'data-threads')).toBe('1');
      expect(await p.textContent('#runtime')).toMatch(/WebAssembly threads are not available .*running on 1 thread/);
      await p.screenshot({ path: join(SHOTS, '09-no-threads.png'), fullPage: true });
    } finally {
      await p.close();
      await plain.close();
    }
    expect(externalRequests(br.requests)).toEqual([]);
  });
});
