#!/usr/bin/python3
"""Compares the volumes dumped by dump_volumes.ts with nibabel and pydicom (Debian packages).
    /usr/bin/python3 scripts/analysis/compare_volumes.py ../shared/data/raw/ct /tmp/vols"""
import json, os, sys
import numpy as np, nibabel as nib, pydicom

ct, vols = sys.argv[1], sys.argv[2]
def ours(name):
    return np.load(os.path.join(vols, name + '.npy')), np.array(json.load(open(os.path.join(vols, name + '.affine.json'))))
def report(name, a, b, aff_a=None, aff_b=None):
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))
    extra = '' if aff_a is None else f', affine max diff {np.abs(aff_a - aff_b).max():.2e}'
    print(f'{name}: shape {a.shape} vs {b.shape}, voxel max abs diff {d.max():.3g}, mean {d.mean():.3g}{extra}')
for f in ('example_ct_sm', 'example_mr_sm', 'example_seg'):
    img = nib.load(os.path.join(ct, f + '.nii.gz'))
    data = img.get_fdata()
    a, aff = ours(f)
    report(f'{f} as stored', a, data, aff, img.affine)
    for target in ('RAS', 'LPS'):
        ornt = nib.orientations.ornt_transform(nib.orientations.io_orientation(img.affine), nib.orientations.axcodes2ornt(tuple(target)))
        ref = nib.orientations.apply_orientation(data, ornt)
        ref_aff = img.affine @ nib.orientations.inv_ornt_aff(ornt, img.shape)
        a, aff = ours(f'{f}_{target}')
        report(f'{f} -> {target} (axcodes {"".join(nib.aff2axcodes(aff))})', a, ref, aff, ref_aff)
d = os.path.join(ct, 'example_ct_dicom')
ds = sorted((pydicom.dcmread(os.path.join(d, n)) for n in os.listdir(d)), key=lambda x: float(np.dot(np.cross(np.array(x.ImageOrientationPatient[:3], float), np.array(x.ImageOrientationPatient[3:], float)), np.array(x.ImagePositionPatient, float))))
ref = np.stack([x.pixel_array * float(x.RescaleSlope) + float(x.RescaleIntercept) for x in ds])
a, _ = ours('dicom')
report('DICOM series (slice, row, col) in HU vs pydicom', a, ref)
