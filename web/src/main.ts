/** The page: wiring between the drop zones, the model, classification, fine-tuning and downloads. */
import './polyfills.js';
import type { LoadedModel } from '../../src/training/checkpoint.js';
import type { StepLog } from '../../src/training/trainer.js';
import { type Classification, type PageModel, type PageSaliency, PageError, checkpointModel, loadModelFiles, parseCheckpoint, sortModelFiles } from './model.js';
import { storedCalibration } from './calibration.js';
// The packaged pretrained STMedFM-Tiny: emitted into the build as a file of the site (same origin).
import pretrainedUrl from '../../data/pretrained/stmedfm-tiny.safetensors?url';
import { type Dropped, droppedFiles, pickedFiles } from './folder.js';
import { describeCalibration } from './calibration.js';
import { setUpRuntime } from './runtime.js';
import { type TrainOutcome, fineTuneInTab } from './train.js';
import { drawLoss, drawOverlay, drawSlice } from './views.js';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const runtime = await setUpRuntime(params.has('threads') ? Number(params.get('threads')) : undefined);

const state: { model?: PageModel; base?: LoadedModel; last?: Classification; trained?: TrainOutcome } = {};

function status(id: string, text: string, error = false): void {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle('error', error);
  el.dataset.state = error ? 'error' : 'ok';
}

/** Marks a section as working; tests wait for the state to change. */
function busy(id: string, text: string): void {
  status(id, text);
  $(id).dataset.state = 'busy';
}

function fail(id: string, e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  status(id, msg, true);
  if (!(e instanceof PageError) && !(e instanceof Error && e.name === 'UserError')) console.error(e);
}

$('runtime').textContent = `onnxruntime-web ${runtime.version}, ${runtime.threads} thread${runtime.threads > 1 ? 's' : ''}${runtime.note ? '. ' + runtime.note : ''}`;
$('runtime').dataset.threads = String(runtime.threads);
if (runtime.note) $('runtime').classList.add('error');

function onDrop(zoneId: string, inputId: string, handle: (files: File[]) => void): void {
  const zone = $(zoneId);
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    handle([...(e.dataTransfer?.files ?? [])]);
  });
  const input = $<HTMLInputElement>(inputId);
  input.addEventListener('change', () => {
    handle([...(input.files ?? [])]);
    input.value = '';
  });
}

/** The training zone: files or whole folders (dropped, or picked with the folder picker). */
function onDropTree(zoneId: string, inputIds: string[], handle: (files: Dropped[]) => void): void {
  const zone = $(zoneId);
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', async (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    if (e.dataTransfer) handle(await droppedFiles(e.dataTransfer));
  });
  for (const id of inputIds) {
    const input = $<HTMLInputElement>(id);
    input.addEventListener('change', () => {
      handle(pickedFiles(input.files));
      input.value = '';
    });
  }
}

function taskPicker(): void {
  const m = state.model;
  const old = document.getElementById('task');
  old?.parentElement?.remove();
  if (!m || m.tasks.length < 2) return;
  const label = document.createElement('label');
  label.textContent = 'task ';
  const sel = document.createElement('select');
  sel.id = 'task';
  for (const t of m.tasks) sel.add(new Option(t, t, t === m.task, t === m.task));
  sel.addEventListener('change', () => (m.task = sel.value));
  label.append(sel);
  $('model-status').after(label);
}

onDrop('model-drop', 'model-input', async (files) => {
  busy('model-status', 'loading...');
  try {
    const sorted = sortModelFiles(files);
    const t0 = performance.now();
    const { model, base } = await loadModelFiles(sorted, state.base, runtime.threads);
    await state.model?.release();
    state.model = model;
    if (base) state.base = base;
    status('model-status', `${model.description} (${(performance.now() - t0).toFixed(0)} ms)`);
    $('model-status').dataset.packaged = 'false';
    taskPicker();
  } catch (e) {
    fail('model-status', e);
  }
});

function showResult(c: Classification, name: string, sal?: PageSaliency | string): void {
  const rows = c.labels
    .map((l, i) => {
      const p = c.probs[i]!;
      const marked = c.present ? c.present.includes(i) : i === c.top;
      return `<tr class="${marked ? 'top' : ''}" data-class="${i}" data-p="${p}"><td>${escapeHtml(l)}</td><td class="num">${p.toFixed(6)}</td><td><span class="bar" style="width:${(p * 160).toFixed(1)}px"></span></td></tr>`;
    })
    .join('');
  $('result').innerHTML =
    `<p id="calibration" class="note" data-temperature="${c.calibration?.temperature ?? ''}">${describeCalibration(c.calibration)}${c.calibration ? `: softmax(logits / T), T from the ${c.calibration.from}` : c.present ? ': sigmoid(logits) per label' : ': softmax(logits); no temperature stored with this model'}</p>` +
    (c.present
      ? `<p><strong id="top-class">${escapeHtml(c.present.length ? c.present.map((i) => c.labels[i]!).join('; ') : '(no label above 0.5)')}</strong> for ${escapeHtml(name)}: multi-label, every label with sigmoid probability above 0.5 (${c.ms.toFixed(1)} ms)</p>`
      : `<p><strong id="top-class">${escapeHtml(c.labels[c.top]!)}</strong> for ${escapeHtml(name)} (${c.ms.toFixed(1)} ms)</p>`) +
    (c.input.warnings.length ? `<p class="note">${c.input.warnings.map(escapeHtml).join('<br>')}</p>` : '') +
    `<table id="probs"><tr><th>class</th><th>probability</th><th></th></tr>${rows}</table>`;
  $('result').dataset.ms = String(c.ms);
  const volume = c.input.shape.length === 5;
  const viewer = $('viewer');
  viewer.hidden = false;
  const range = $<HTMLInputElement>('slice-range');
  range.disabled = !volume;
  const depth = volume ? c.input.shape[2]! : 1;
  range.max = String(depth - 1);
  range.value = String(Math.floor(depth / 2));
  const overlay = $<HTMLCanvasElement>('saliency');
  overlay.hidden = typeof sal !== 'object';
  $('saliency-note').textContent =
    typeof sal === 'object'
      ? `Grad-CAM for ${c.labels[sal.classIndex]} (${c.present ? 'the label with the highest probability' : 'the top class'}) on the ${sal.grid.join('x')} token grid, as stmedfm explain draws it${volume ? '; this slice' : ''} (${sal.ms.toFixed(0)} ms)`
      : (sal ?? '');
  if (typeof sal === 'object') {
    overlay.dataset.cam = JSON.stringify([...sal.cam]);
    overlay.dataset.classIndex = String(sal.classIndex);
    overlay.dataset.ms = String(sal.ms);
  }
  const draw = (): void => {
    drawSlice($<HTMLCanvasElement>('slice'), c.input, Number(range.value));
    if (typeof sal === 'object') drawOverlay(overlay, sal.overlay, volume ? { size: c.input.shape[4]! * 4, z: Number(range.value) } : undefined);
    $('slice-index').textContent = volume ? `${Number(range.value) + 1} / ${depth}` : '2D image';
  };
  range.oninput = draw;
  draw();
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

onDrop('input-drop', 'input-input', async (files) => {
  const f = files[0];
  if (!f) return;
  if (!state.model) return status('input-status', 'load a model first (section 1)', true);
  busy('input-status', `classifying ${f.name}...`);
  $('result').innerHTML = '';
  try {
    const c = await state.model.classify(f.name, new Uint8Array(await f.arrayBuffer()));
    state.last = c;
    const sal = state.model.explain ? await state.model.explain(c.input, c.top) : 'no saliency overlay: an ONNX export has no gradient graph; load the checkpoint to see one';
    showResult(c, f.name, sal);
    status('input-status', `${f.name}: ${state.model.task}`);
  } catch (e) {
    $('viewer').hidden = true;
    fail('input-status', e);
  }
});

onDropTree('train-drop', ['train-input', 'train-folder-input'], async (files) => {
  const f = files[0];
  if (!f) return;
  const what = f.path.includes('/') ? `folder ${f.path.split('/')[0]}` : f.file.name;
  const base = state.base;
  if (!base || !state.model) return status('train-status', 'load a base checkpoint (.safetensors) first (section 1)', true);
  const steps = Number($<HTMLInputElement>('steps').value);
  const losses: number[] = [];
  // Frames painted while training: the curve is live only if they advance between steps.
  let frames = 0;
  let training = true;
  const tick = (): void => {
    frames++;
    if (training) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  const framesAtStep: number[] = [];
  busy('train-status', `fine-tuning on ${what}...`);
  $('eval').innerHTML = '';
  $<HTMLButtonElement>('download').disabled = true;
  $<HTMLButtonElement>('download-npz').hidden = true;
  try {
    const out = await fineTuneInTab({
      base,
      files,
      fallbackTask: state.model.task,
      method: $<HTMLSelectElement>('method').value as 'lora' | 'adapter',
      steps,
      batch: Number($<HTMLInputElement>('batch').value),
      lr: Number($<HTMLInputElement>('lr').value),
      threads: runtime.threads,
      onStep: (log: StepLog) => {
        losses.push(log.loss);
        framesAtStep.push(frames);
        drawLoss($<HTMLCanvasElement>('loss'), losses, log.total);
        $('train-status').textContent = `step ${log.step}/${log.total}: loss ${log.loss.toFixed(4)}`;
      },
    });
    state.trained = out;
    $('train-status').dataset.framesAtStep = JSON.stringify(framesAtStep);
    await state.model.release();
    // the shared finetune fitted a temperature on the held-out val split; the page shows what the CLI would
    state.model = checkpointModel(`fine-tuned ${out.trained.model.peft?.kind} for ${out.task} (in this tab)`, out.trained, base, runtime.threads, out.task, (t) =>
      storedCalibration(out.trained.config, t, 'fine-tuning in this tab (fitted on its val split)'),
    );
    taskPicker();
    status('model-status', state.model.description);
    $('model-status').dataset.packaged = 'false';
    const e = out.eval;
    $('eval').innerHTML =
      (out.notes.length ? `<p class="note" id="train-notes">${out.notes.map(escapeHtml).join('<br>')}</p>` : '') +
      `<table id="eval-table" data-acc="${e.acc}" data-auroc="${e.auroc}" data-ece="${e.ece}"><tr><th>held-out (${e.n} test samples)</th><th></th></tr>` +
      `<tr><td>accuracy</td><td class="num">${e.acc.toFixed(4)}</td></tr><tr><td>AUROC (macro)</td><td class="num">${e.auroc.toFixed(4)}</td></tr>` +
      `<tr><td>ECE</td><td class="num">${e.ece.toFixed(4)}</td></tr></table>`;
    $('train-status').dataset.losses = JSON.stringify(losses);
    $('train-status').dataset.stepsPerSecond = String(out.stepsPerSecond);
    status('train-status', `done: ${out.trained.result.stepsDone} steps, ${out.stepsPerSecond.toFixed(2)} steps/s, loss ${losses[0]!.toFixed(4)} -> ${losses[losses.length - 1]!.toFixed(4)}`);
    $('train-status').dataset.losses = JSON.stringify(losses);
    $<HTMLButtonElement>('download').disabled = false;
    $<HTMLButtonElement>('download-npz').hidden = !out.npz;
    // the files' blob URLs, also readable by a test (Chromium may hold back a page's later downloads)
    if (out.npz) $('download-npz').dataset.href = URL.createObjectURL(new Blob([out.npz as Uint8Array<ArrayBuffer>]));
    $('download').dataset.weights = URL.createObjectURL(new Blob([out.files.weights as Uint8Array<ArrayBuffer>]));
    $('download').dataset.config = URL.createObjectURL(new Blob([out.files.config]));
  } catch (e) {
    fail('train-status', e);
  } finally {
    training = false;
  }
});

function download(name: string, data: BlobPart, type: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([data], { type }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

$('download').addEventListener('click', () => {
  const t = state.trained;
  if (!t) return;
  download('adapter_model.safetensors', t.files.weights as Uint8Array<ArrayBuffer>, 'application/octet-stream');
  download('adapter_config.json', t.files.config, 'application/json');
});

$('download-npz').addEventListener('click', () => {
  const npz = state.trained?.npz;
  if (npz) download(`${state.trained!.task}-imported.npz`, npz as Uint8Array<ArrayBuffer>, 'application/octet-stream');
});

/** Loads the packaged pretrained model (a file of this site: no request leaves the page's origin). */
async function loadPackaged(): Promise<void> {
  busy('model-status', 'loading the packaged STMedFM-Tiny...');
  try {
    const t0 = performance.now();
    const res = await fetch(pretrainedUrl);
    if (!res.ok) throw new PageError(`the packaged model could not be read from this site (HTTP ${res.status}); drop a model file instead`);
    const ck = parseCheckpoint('stmedfm-tiny.safetensors', new Uint8Array(await res.arrayBuffer()));
    await state.model?.release();
    const heads = ck.model.heads.map((h) => `${h.name} (${h.numClasses} classes)`).join(', ');
    state.model = checkpointModel(`packaged STMedFM-Tiny, pretrained: ${heads}`, ck, ck, runtime.threads, undefined, (t) => storedCalibration(ck.config, t, 'checkpoint'));
    state.base = ck;
    status('model-status', `${state.model.description} (${(performance.now() - t0).toFixed(0)} ms)`);
    $('model-status').dataset.packaged = 'true';
    taskPicker();
  } catch (e) {
    fail('model-status', e);
  }
}
$('use-packaged').addEventListener('click', () => void loadPackaged());
await loadPackaged();

document.body.dataset.ready = 'true';
