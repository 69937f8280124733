/** Evaluation metrics of SPEC 6: accuracy, AUROC, calibration, Brier, NLL, temperature scaling. */
export * from './scores.js';
export * from './auroc.js';
export * from './calibration.js';
export * from './metrics.js';
export * from './temperature.js';
export * from './multilabel.js';
