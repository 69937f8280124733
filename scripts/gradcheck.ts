/**
 * `npm run gradcheck`: every gradient case, checked twice:
 *   - FD: the analytic gradient (float64 interpreter) against central differences (< 1e-6);
 *   - ORT: ONNX Runtime's float32 run of output, loss and gradients against float64 (< 1e-4).
 * Prints a table, then as its last line one JSON object {"checked": N, "max_rel_err": X} where X
 * is the worst finite-difference error. Exits with 1 if any case fails either threshold.
 */
import { type GradCheckResult, checkGradients } from '../src/engine/testing/gradcheck.js';
import '../src/engine/runtime/node.js';
import { ORT_F32_TOLERANCE, type OrtCheckResult, checkOnOrt } from '../src/engine/testing/ortcheck.js';
import { allCases } from '../test/cases/index.js';

const FD_TOLERANCE = 1e-6;

const fmt = (e: number): string => (Number.isFinite(e) ? e.toExponential(2) : String(e));
const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const lpad = (s: string, n: number): string => (s.length >= n ? s : ' '.repeat(n - s.length) + s);
const fails = (e: number, tol: number): boolean => !(e < tol);

interface Row {
  fd: GradCheckResult;
  ort: OrtCheckResult | { error: string };
}

async function main(): Promise<number> {
  const rows: Row[] = [];
  for (const c of allCases) {
    const fd = checkGradients(c);
    let ort: Row['ort'];
    try {
      ort = await checkOnOrt(c);
    } catch (e) {
      ort = { error: e instanceof Error ? e.message.split('\n')[0]! : String(e) };
    }
    rows.push({ fd, ort });
  }

  const opW = Math.max(2, ...rows.map((r) => r.fd.op.length));
  const nameW = Math.max(4, ...rows.map((r) => r.fd.name.length));
  const header = `${pad('op', opW)}  ${pad('case', nameW)}  ${lpad('elements', 8)}  ${lpad('FD rel err', 10)}  ${lpad('ORT f32 err', 11)}  status`;
  console.log(header);
  console.log('-'.repeat(header.length));
  let failed = 0;
  let maxFd = 0;
  let maxOrt = 0;
  for (const { fd, ort } of rows) {
    const ortErr = 'error' in ort ? NaN : ort.maxRelErr;
    const bad = fails(fd.maxRelErr, FD_TOLERANCE) || fails(ortErr, ORT_F32_TOLERANCE);
    if (bad) failed++;
    if (!(fd.maxRelErr <= maxFd)) maxFd = fd.maxRelErr;
    if (!(ortErr <= maxOrt)) maxOrt = ortErr;
    const status = bad ? ('error' in ort ? `FAIL (ORT: ${ort.error})` : 'FAIL') : 'ok';
    console.log(`${pad(fd.op, opW)}  ${pad(fd.name, nameW)}  ${lpad(String(fd.elements), 8)}  ${lpad(fmt(fd.maxRelErr), 10)}  ${lpad(fmt(ortErr), 11)}  ${status}`);
  }
  console.log('-'.repeat(header.length));
  console.log(
    `${rows.length} cases, ${failed} failed; worst FD rel err ${fmt(maxFd)} (threshold ${FD_TOLERANCE}), worst ORT float32 rel err ${fmt(maxOrt)} (threshold ${ORT_F32_TOLERANCE})`,
  );
  console.log(JSON.stringify({ checked: rows.length, max_rel_err: Number.isFinite(maxFd) ? maxFd : null }));
  return failed > 0 ? 1 : 0;
}

process.exitCode = await main();
