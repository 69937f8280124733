/**
 * Decodes the real CT, MR and DICOM files with the imaging module and writes what it read as .npy
 * (stored orientation and reoriented to RAS and LPS), for scripts/analysis/compare_volumes.py to
 * check against nibabel and pydicom.
 *   npx tsx scripts/analysis/dump_volumes.ts ../shared/data/raw/ct /tmp/vols
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeNpy } from '../../src/data/npy.js';
import { axisCodes, decodeDicomSeries, decodeNifti, reorient, type Volume } from '../../src/data/imaging/index.js';

const [ct, out] = process.argv.slice(2) as [string, string];
mkdirSync(out, { recursive: true });
const save = (name: string, v: Volume): void => {
  writeFileSync(join(out, `${name}.npy`), writeNpy({ dtype: 'float32', shape: v.shape, data: v.data }));
  writeFileSync(join(out, `${name}.affine.json`), JSON.stringify(v.affine));
  console.log(name, v.shape.join('x'), axisCodes(v.affine));
};
for (const f of ['example_ct_sm.nii.gz', 'example_mr_sm.nii.gz', 'example_seg.nii.gz']) {
  const v = decodeNifti(readFileSync(join(ct, f)), f);
  const base = f.replace('.nii.gz', '');
  save(base, v);
  save(`${base}_RAS`, reorient(v, 'RAS'));
  save(`${base}_LPS`, reorient(v, 'LPS'));
}
const d = join(ct, 'example_ct_dicom');
const t0 = performance.now();
const v = await decodeDicomSeries(readdirSync(d).sort().map((n) => ({ name: n, bytes: readFileSync(join(d, n)) })), d);
console.log(`dicom decoded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
save('dicom', v);
save('dicom_RAS', reorient(v, 'RAS'));
