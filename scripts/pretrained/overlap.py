"""How many images of the imported raw subsets are near-copies of the pretraining files' train images.
Measurement for data/pretrained/MODEL_CARD.md (numpy only; the product never needs Python).
Expects /tmp/stm-imp/{pbc,ham}.npz written by `stmedfm data import` (see the model card)."""
import numpy as np, sys
for imp, src in [('/tmp/stm-imp/pbc.npz','/work/shared/data/medmnist/bloodmnist-source28.npz'),('/tmp/stm-imp/ham.npz','/work/shared/data/medmnist/dermamnist-source28.npz')]:
    a=np.load(imp); b=np.load(src)
    tr=b['train_images'].reshape(len(b['train_images']),-1).astype(np.int16)
    for split in ['train','test']:
        x=a[f'{split}_images'].reshape(len(a[f'{split}_images']),-1).astype(np.int16)
        d=np.array([np.abs(tr-v).mean(1).min() for v in x])
        print(imp.split('/')[-1], split, len(x), 'near-duplicate of a source28 TRAIN image (mean |diff| < 4):', int((d<4).sum()), 'median min-dist', float(np.median(d)))
