/**
 * `reproduce --executor slurm` against a real single-node SLURM (Debian's slurm-wlm and munge),
 * started by this test in a temporary folder with its own munge socket and ports: a small grid
 * gives the same results as the local executor; a cancelled array task is named by the report
 * job, and resubmitting redoes only that run. Daemons are stopped by pid, also on failure.
 * Skipped (with the reason printed) when sbatch is missing, unless CI is set: then it must run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSynth } from '../../src/data/index.js';
import type { ResultRow } from '../../src/experiments/types.js';
import { runCli } from '../helpers/cli.js';

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const installed = have('sbatch') && have('slurmctld') && have('slurmd') && have('munged');
const mustRun = !!process.env.CI;
if (!installed && !mustRun) console.warn('SKIPPED test/experiments/slurm.test.ts: SLURM is not installed (apt-get install slurm-wlm munge); CI runs it');

let dir: string;
let env: Record<string, string>;
const pidFiles: string[] = [];

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** SIGTERM to each daemon by the pid in its pid file, then wait (up to 15 s) until they are gone. */
async function stopDaemons(): Promise<void> {
  const pids: number[] = [];
  for (const f of pidFiles) {
    try {
      const pid = Number(readFileSync(f, 'utf8').trim());
      process.kill(pid, 'SIGTERM');
      pids.push(pid);
    } catch {
      // not started, or already gone
    }
  }
  const end = Date.now() + 15_000;
  while (pids.some(alive) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
}

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

const slurm = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env } });

async function startSlurm(): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), 'stmedfm-slurm-'));
  chmodSync(dir, 0o755); // munged runs as the munge user
  const munge = join(dir, 'munge');
  for (const d of [munge, join(dir, 'state'), join(dir, 'spool'), join(dir, 'log')]) mkdirSync(d);
  const uid = Number(execFileSync('id', ['-u', 'munge'], { encoding: 'utf8' }));
  const gid = Number(execFileSync('id', ['-g', 'munge'], { encoding: 'utf8' }));
  chownSync(munge, uid, gid);
  // Its own key, so the test needs nothing from /etc/munge.
  const key = join(munge, 'munge.key');
  execFileSync('mungekey', ['--create', `--keyfile=${key}`]);
  chownSync(key, uid, gid);
  chmodSync(key, 0o600);
  const socket = join(munge, 'munge.sock');
  pidFiles.push(join(munge, 'munged.pid'));
  execFileSync('runuser', ['-u', 'munge', '--', 'munged', `--key-file=${key}`, `--socket=${socket}`, `--pid-file=${join(munge, 'munged.pid')}`, `--log-file=${join(munge, 'munged.log')}`, `--seed-file=${join(munge, 'seed')}`]);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const host = hostname();
  const conf = join(dir, 'slurm.conf');
  writeFileSync(
    conf,
    [
      'ClusterName=stmedfmtest', `SlurmctldHost=${host}`, `SlurmctldPort=${port}`, `SlurmdPort=${port + 1}`, 'AuthType=auth/munge', `AuthInfo=socket=${socket}`,
      'SlurmUser=root', 'SlurmdUser=root', `StateSaveLocation=${dir}/state`, `SlurmdSpoolDir=${dir}/spool`, `SlurmctldPidFile=${dir}/slurmctld.pid`,
      `SlurmdPidFile=${dir}/slurmd.pid`, `SlurmctldLogFile=${dir}/log/ctld.log`, `SlurmdLogFile=${dir}/log/d.log`, 'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none', 'JobAcctGatherType=jobacct_gather/none', 'SelectType=select/cons_tres', 'SelectTypeParameters=CR_Core', 'MpiDefault=none',
      'ReturnToService=2', 'MinJobAge=600', `NodeName=${host} CPUs=2 RealMemory=4000 State=UNKNOWN`, `PartitionName=main Nodes=${host} Default=YES MaxTime=INFINITE State=UP`, '',
    ].join('\n'),
  );
  env = { SLURM_CONF: conf };
  pidFiles.push(join(dir, 'slurmctld.pid'), join(dir, 'slurmd.pid'));
  slurm('slurmctld', ['-f', conf]);
  slurm('slurmd', ['-f', conf]);
  await until('the SLURM node to be idle', () => /idle/.test(slurm('sinfo', ['-h', '-o', '%T'])), 60_000);
}

const grid = (out: string, data: string) => [
  'reproduce', '--data-dir', data, '--tasks', 'pathmnist', '--methods', 'scratch,lora', '--lora-rank', '2,4', '--seeds', '0',
  '--pretrain-steps', '4', '--steps-2d', '3', '--batch-2d', '8', '--threads', '1', '--out', out,
];

const metrics = (out: string) =>
  (JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ResultRow[]).map(({ train_seconds: _t, ...rest }) => rest);

describe.runIf(installed || mustRun)('reproduce --executor slurm (real SLURM)', () => {
  let data: string;

  beforeAll(async () => {
    data = mkdtempSync(join(tmpdir(), 'slurm-data-'));
    writeSynth(join(data, 'pathmnist.npz'), 'pathmnist', { sizes: { train: 48, val: 16, test: 24 }, seed: 11 });
    try {
      await startSlurm();
    } catch (e) {
      await stopDaemons();
      throw e;
    }
  }, 120_000);

  afterAll(async () => {
    await stopDaemons();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('runs a grid as job arrays with the local results; a cancelled task is named, and resubmitting redoes only it', async () => {
    const local = mkdtempSync(join(tmpdir(), 'slurm-local-'));
    expect(runCli([...grid(local, data), '--jobs', '1', '--quiet']).code).toBe(0);

    const out = mkdtempSync(join(tmpdir(), 'slurm-out-'));
    const sub = runCli([...grid(out, data), '--executor', 'slurm', '--json'], { env });
    expect(sub.code, sub.stderr).toBe(0);
    const jobs = JSON.parse(sub.stdout) as { pretrain: { job: string; runs: number[] }; finetune: { job: string; runs: number[] }; independent: { job: string; runs: number[] }; report: string };
    expect(jobs.pretrain.runs).toEqual([0]);
    // the LoRA runs start from the pretraining; the scratch run does not, and runs beside it
    expect(jobs.finetune.runs).toEqual([2, 3]);
    expect(jobs.independent.runs).toEqual([1]);
    expect(slurm('scontrol', ['show', 'job', jobs.finetune.job])).toMatch(/Dependency=afterok:/);
    expect(slurm('scontrol', ['show', 'job', jobs.independent.job])).toMatch(/Dependency=\(null\)/);
    // The fine-tuning array waits for pretraining (afterok), so task 2 (pathmnist-lora-r2a8-s0) is still pending.
    slurm('scancel', [`${jobs.finetune.job}_2`]);
    await until('the jobs to finish', () => slurm('squeue', ['-h', '-o', '%i']).trim() === '', 100_000);

    const reportLog = readdirSync(join(out, 'slurm')).find((f) => f.startsWith('report-'))!;
    expect(readFileSync(join(out, 'slurm', reportLog), 'utf8')).toMatch(/1 run\(s\) did not finish: pathmnist-lora-r2a8-s0 \(index 2\)/);
    expect(metrics(out).map((r) => `${r.method}/${r.lora_rank}`)).toEqual(['scratch/null', 'lora/4']);
    const kept = ['pathmnist-scratch-s0', 'pathmnist-lora-r4a8-s0'].map((id) => readFileSync(join(out, 'rows', `${id}.json`), 'utf8'));

    const again = runCli([...grid(out, data), '--executor', 'slurm', '--wait'], { env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/0 pretraining run\(s\), 1 fine-tuning run\(s\) .*, 0 scratch run\(s\), .* 3 of 4 runs were done earlier/);
    expect(['pathmnist-scratch-s0', 'pathmnist-lora-r4a8-s0'].map((id) => readFileSync(join(out, 'rows', `${id}.json`), 'utf8'))).toEqual(kept);
    expect(existsSync(join(out, 'failed', 'pathmnist-lora-r2a8-s0.txt'))).toBe(false);
    expect(metrics(out)).toEqual(metrics(local));
  }, 240_000);
});
