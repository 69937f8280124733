/**
 * The 18 MedMNIST v2 datasets at 28 px (28x28 2D, 28x28x28 3D), transcribed from the `INFO` dict
 * of the `medmnist` package (medmnist/info.py in MedMNIST/MedMNIST).
 *
 * `url`, `md5` and `nSamples` are those of the current release (package 3.0.x, Zenodo record
 * 10519652), whose 28-px files are the MedMNIST v2 data. Five files were re-issued there with
 * corrected samples (organamnist, organcmnist, organsmnist, organmnist3d, vesselmnist3d); the
 * values of the earlier release (package 2.x, Zenodo record 6496656) are kept in `legacy` so an
 * older download can still be recognised. The other 13 files are byte-identical in both releases
 * (same MD5). Label names are index -> name as in `INFO[name]['label']`.
 */
import { DataError } from './errors.js';

export type TaskType = 'multi-class' | 'binary-class' | 'ordinal-regression' | 'multi-label, binary-class';
export type Split = 'train' | 'val' | 'test';
export const SPLITS: readonly Split[] = ['train', 'val', 'test'];

export interface SplitSizes {
  readonly train: number;
  readonly val: number;
  readonly test: number;
}

export interface DatasetInfo {
  readonly name: DatasetName;
  readonly pythonClass: string;
  readonly dim: 2 | 3;
  readonly task: TaskType;
  /** Channels in the file: 3 for RGB, 1 for grayscale 2D and for all 3D volumes. */
  readonly channels: 1 | 3;
  /** index -> name; for multi-label tasks one entry per label. */
  readonly labels: readonly string[];
  readonly nSamples: SplitSizes;
  readonly license: string;
  readonly url: string;
  /** MD5 of the 28-px file at `url`. */
  readonly md5: string;
  /** The earlier release's file where it differs (see the module comment). */
  readonly legacy?: { readonly url: string; readonly md5: string; readonly nSamples: SplitSizes };
}

const ZENODO = 'https://zenodo.org/records/10519652/files';
const ZENODO_V2 = 'https://zenodo.org/record/6496656/files';
const url = (name: string): string => `${ZENODO}/${name}.npz?download=1`;
const legacyUrl = (name: string): string => `${ZENODO_V2}/${name}.npz?download=1`;

const ORGAN_2D = [
  'bladder',
  'femur-left',
  'femur-right',
  'heart',
  'kidney-left',
  'kidney-right',
  'liver',
  'lung-left',
  'lung-right',
  'pancreas',
  'spleen',
] as const;

const CC_BY = 'CC BY 4.0';

const RAW = {
  pathmnist: {
    pythonClass: 'PathMNIST',
    dim: 2,
    task: 'multi-class',
    channels: 3,
    labels: [
      'adipose',
      'background',
      'debris',
      'lymphocytes',
      'mucus',
      'smooth muscle',
      'normal colon mucosa',
      'cancer-associated stroma',
      'colorectal adenocarcinoma epithelium',
    ],
    nSamples: { train: 89996, val: 10004, test: 7180 },
    license: CC_BY,
    md5: 'a8b06965200029087d5bd730944a56c1',
  },
  chestmnist: {
    pythonClass: 'ChestMNIST',
    dim: 2,
    task: 'multi-label, binary-class',
    channels: 1,
    labels: [
      'atelectasis',
      'cardiomegaly',
      'effusion',
      'infiltration',
      'mass',
      'nodule',
      'pneumonia',
      'pneumothorax',
      'consolidation',
      'edema',
      'emphysema',
      'fibrosis',
      'pleural',
      'hernia',
    ],
    nSamples: { train: 78468, val: 11219, test: 22433 },
    license: CC_BY,
    md5: '02c8a6516a18b556561a56cbdd36c4a8',
  },
  dermamnist: {
    pythonClass: 'DermaMNIST',
    dim: 2,
    task: 'multi-class',
    channels: 3,
    labels: [
      'actinic keratoses and intraepithelial carcinoma',
      'basal cell carcinoma',
      'benign keratosis-like lesions',
      'dermatofibroma',
      'melanoma',
      'melanocytic nevi',
      'vascular lesions',
    ],
    nSamples: { train: 7007, val: 1003, test: 2005 },
    // The 2.x INFO said CC BY 4.0; the current one says CC BY-NC 4.0 (HAM10000's licence).
    license: 'CC BY-NC 4.0',
    md5: '0744692d530f8e62ec473284d019b0c7',
  },
  octmnist: {
    pythonClass: 'OCTMNIST',
    dim: 2,
    task: 'multi-class',
    channels: 1,
    labels: ['choroidal neovascularization', 'diabetic macular edema', 'drusen', 'normal'],
    nSamples: { train: 97477, val: 10832, test: 1000 },
    license: CC_BY,
    md5: 'c68d92d5b585d8d81f7112f81e2d0842',
  },
  pneumoniamnist: {
    pythonClass: 'PneumoniaMNIST',
    dim: 2,
    task: 'binary-class',
    channels: 1,
    labels: ['normal', 'pneumonia'],
    nSamples: { train: 4708, val: 524, test: 624 },
    license: CC_BY,
    md5: '28209eda62fecd6e6a2d98b1501bb15f',
  },
  retinamnist: {
    pythonClass: 'RetinaMNIST',
    dim: 2,
    task: 'ordinal-regression',
    channels: 3,
    labels: ['0', '1', '2', '3', '4'],
    nSamples: { train: 1080, val: 120, test: 400 },
    license: CC_BY,
    md5: 'bd4c0672f1bba3e3a89f0e4e876791e4',
  },
  breastmnist: {
    pythonClass: 'BreastMNIST',
    dim: 2,
    task: 'binary-class',
    channels: 1,
    labels: ['malignant', 'normal, benign'],
    nSamples: { train: 546, val: 78, test: 156 },
    license: CC_BY,
    md5: '750601b1f35ba3300ea97c75c52ff8f6',
  },
  bloodmnist: {
    pythonClass: 'BloodMNIST',
    dim: 2,
    task: 'multi-class',
    channels: 3,
    labels: [
      'basophil',
      'eosinophil',
      'erythroblast',
      'immature granulocytes(myelocytes, metamyelocytes and promyelocytes)',
      'lymphocyte',
      'monocyte',
      'neutrophil',
      'platelet',
    ],
    nSamples: { train: 11959, val: 1712, test: 3421 },
    license: CC_BY,
    md5: '7053d0359d879ad8a5505303e11de1dc',
  },
  tissuemnist: {
    pythonClass: 'TissueMNIST',
    dim: 2,
    task: 'multi-class',
    channels: 1,
    labels: [
      'Collecting Duct, Connecting Tubule',
      'Distal Convoluted Tubule',
      'Glomerular endothelial cells',
      'Interstitial endothelial cells',
      'Leukocytes',
      'Podocytes',
      'Proximal Tubule Segments',
      'Thick Ascending Limb',
    ],
    nSamples: { train: 165466, val: 23640, test: 47280 },
    license: CC_BY,
    md5: 'ebe78ee8b05294063de985d821c1c34b',
  },
  organamnist: {
    pythonClass: 'OrganAMNIST',
    dim: 2,
    task: 'multi-class',
    channels: 1,
    labels: ORGAN_2D,
    nSamples: { train: 34561, val: 6491, test: 17778 },
    license: CC_BY,
    md5: '68e3f8846a6bd62f0c9bf841c0d9eacc',
    legacy: { md5: '866b832ed4eeba67bfb9edee1d5544e6', nSamples: { train: 34581, val: 6491, test: 17778 } },
  },
  organcmnist: {
    pythonClass: 'OrganCMNIST',
    dim: 2,
    task: 'multi-class',
    channels: 1,
    labels: ORGAN_2D,
    nSamples: { train: 12975, val: 2392, test: 8216 },
    license: CC_BY,
    md5: 'b9ceb9546e10131b32923c5bbeaea2b1',
    legacy: { md5: '0afa5834fb105f7705a7d93372119a21', nSamples: { train: 13000, val: 2392, test: 8268 } },
  },
  organsmnist: {
    pythonClass: 'OrganSMNIST',
    dim: 2,
    task: 'multi-class',
    channels: 1,
    labels: ORGAN_2D,
    nSamples: { train: 13932, val: 2452, test: 8827 },
    license: CC_BY,
    md5: '9ab87b696fb54e2a387ebe992d6ed5f1',
    legacy: { md5: 'e5c39f1af030238290b9557d9503af9d', nSamples: { train: 13940, val: 2452, test: 8829 } },
  },
  organmnist3d: {
    pythonClass: 'OrganMNIST3D',
    dim: 3,
    task: 'multi-class',
    channels: 1,
    // Note: not the order of the 2D organ datasets.
    labels: [
      'liver',
      'kidney-right',
      'kidney-left',
      'femur-right',
      'femur-left',
      'bladder',
      'heart',
      'lung-right',
      'lung-left',
      'spleen',
      'pancreas',
    ],
    nSamples: { train: 971, val: 161, test: 610 },
    license: CC_BY,
    md5: 'a0c5a1ff56af4f155c46d46fbb45a2fe',
    legacy: { md5: '21f0a239e7f502e6eca33c3fc453c0b6', nSamples: { train: 972, val: 161, test: 610 } },
  },
  nodulemnist3d: {
    pythonClass: 'NoduleMNIST3D',
    dim: 3,
    task: 'binary-class',
    channels: 1,
    labels: ['benign', 'malignant'],
    nSamples: { train: 1158, val: 165, test: 310 },
    license: CC_BY,
    md5: '8755a7e9e05a4d9ce80a24c3e7a256f3',
  },
  adrenalmnist3d: {
    pythonClass: 'AdrenalMNIST3D',
    dim: 3,
    task: 'binary-class',
    channels: 1,
    labels: ['normal', 'hyperplasia'],
    nSamples: { train: 1188, val: 98, test: 298 },
    license: CC_BY,
    md5: 'bbd3c5a5576322bc4cdfea780653b1ce',
  },
  fracturemnist3d: {
    pythonClass: 'FractureMNIST3D',
    dim: 3,
    task: 'multi-class',
    channels: 1,
    labels: ['buckle rib fracture', 'nondisplaced rib fracture', 'displaced rib fracture'],
    nSamples: { train: 1027, val: 103, test: 240 },
    license: CC_BY,
    md5: '6aa7b0143a6b42da40027a9dda61302f',
  },
  vesselmnist3d: {
    pythonClass: 'VesselMNIST3D',
    dim: 3,
    task: 'binary-class',
    channels: 1,
    labels: ['vessel', 'aneurysm'],
    nSamples: { train: 1335, val: 191, test: 382 },
    license: CC_BY,
    md5: 'b41fd4f7e7e2feedddb201585ecafa1b',
    legacy: { md5: '2ba5b80617d705141f3f85627108fce8', nSamples: { train: 1335, val: 192, test: 382 } },
  },
  synapsemnist3d: {
    pythonClass: 'SynapseMNIST3D',
    dim: 3,
    task: 'binary-class',
    channels: 1,
    labels: ['inhibitory synapse', 'excitatory synapse'],
    nSamples: { train: 1230, val: 177, test: 352 },
    license: CC_BY,
    md5: '1235b78a3cd6280881dd7850a78eadb6',
  },
} as const;

export type DatasetName = keyof typeof RAW;

export const DATASET_NAMES = Object.keys(RAW) as DatasetName[];

export const DATASETS: Readonly<Record<DatasetName, DatasetInfo>> = Object.fromEntries(
  DATASET_NAMES.map((name) => {
    const r = RAW[name] as (typeof RAW)[DatasetName] & { legacy?: { md5: string; nSamples: SplitSizes } };
    const info: DatasetInfo = {
      name,
      pythonClass: r.pythonClass,
      dim: r.dim,
      task: r.task,
      channels: r.channels,
      labels: r.labels,
      nSamples: r.nSamples,
      license: r.license,
      url: url(name),
      md5: r.md5,
      ...(r.legacy ? { legacy: { url: legacyUrl(name), md5: r.legacy.md5, nSamples: r.legacy.nSamples } } : {}),
    };
    return [name, Object.freeze(info)];
  }),
) as Record<DatasetName, DatasetInfo>;

export function isDatasetName(name: string): name is DatasetName {
  return Object.prototype.hasOwnProperty.call(RAW, name);
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

/**
 * Tasks defined at run time from a data file's own metadata or a checkpoint's head (see
 * data/custom_task.ts): they are looked up like registry tasks, so every command takes them.
 */
const CUSTOM_TASKS = new Map<string, DatasetInfo>();

/** Adds (or replaces) a task that is not in the registry; registry names are refused. */
export function registerCustomTask(info: DatasetInfo): void {
  if (isDatasetName(info.name)) throw new DataError(`'${info.name}' is a MedMNIST registry task; it cannot be redefined`);
  CUSTOM_TASKS.set(info.name, Object.freeze({ ...info }));
}

/** The task defined at run time under `name`, if any. */
export function customTask(name: string): DatasetInfo | undefined {
  return CUSTOM_TASKS.get(name.toLowerCase());
}

/** Forgets the tasks defined at run time (tests). */
export function clearCustomTasks(): void {
  CUSTOM_TASKS.clear();
}

/** Looks a dataset up by name (case-insensitive); unknown names get a suggestion. */
export function getDataset(name: string): DatasetInfo {
  const key = name.toLowerCase();
  if (isDatasetName(key)) return DATASETS[key];
  const custom = CUSTOM_TASKS.get(key);
  if (custom) return custom;
  const best = DATASET_NAMES.map((n) => [n, editDistance(key, n)] as const).sort((x, y) => x[1] - y[1])[0]!;
  const guess = best[1] <= 3 ? ` Did you mean '${best[0]}'?` : '';
  throw new DataError(`unknown MedMNIST dataset '${name}'.${guess} Known: ${DATASET_NAMES.join(', ')}; a task of your own needs its file: --data ${key}=FILE.npz (e.g. from \`stmedfm data import\`)`);
}

/** Number of outputs of the task: classes, or labels for the multi-label task. */
export function numClasses(info: DatasetInfo): number {
  return info.labels.length;
}

export function isMultiLabel(info: DatasetInfo): boolean {
  return info.task === 'multi-label, binary-class';
}

/**
 * Per-sample image shape in the file: [S,S] gray, [S,S,3] RGB (S = `size`, the 2D image side:
 * 28, or a MedMNIST+ size), [28,28,28] volume (STMedFM takes 28^3 volumes only, whatever `size`).
 */
export function fileImageShape(info: DatasetInfo, size = 28): number[] {
  if (info.dim === 3) return [28, 28, 28];
  return info.channels === 3 ? [size, size, 3] : [size, size];
}

/** Width of a label row in the file: 1, or the number of labels for multi-label tasks. */
export function labelWidth(info: DatasetInfo): number {
  return isMultiLabel(info) ? info.labels.length : 1;
}

/**
 * The registry task a file name refers to: the exact official name (`bloodmnist.npz`) or an
 * official name followed by a separator and a suffix (`bloodmnist-source28.npz`).
 */
export function datasetFromFileName(fileName: string): DatasetName | undefined {
  const base = fileName.replace(/^.*[\\/]/, '').toLowerCase().replace(/\.npz$/, '');
  const hits = DATASET_NAMES.filter((n) => base === n || (base.startsWith(n) && /[^a-z0-9]/.test(base[n.length]!)));
  return hits.sort((a, b) => b.length - a.length)[0];
}
