/**
 * What the browser bundle sees for Node's fs, crypto, os, util, zlib, url and child_process.
 *
 * The page imports the CLI's own modules (model, training, inference, io, data). Some of those
 * files also hold Node-only functions (reading a path, writing atomically, fetching data). The page
 * never calls them: it hands bytes to the pure functions next to them. These stand-ins let such
 * files load in the browser and fail loudly if a file-system path is ever reached.
 */
function nodeOnly(name: string): (...args: unknown[]) => never {
  return () => {
    throw new Error(`${name} is not available in the browser (a Node-only code path was reached from the page)`);
  };
}

// node:fs and node:fs/promises
export const readFileSync = nodeOnly('fs.readFileSync');
export const writeFileSync = nodeOnly('fs.writeFileSync');
export const appendFileSync = nodeOnly('fs.appendFileSync');
export const existsSync = nodeOnly('fs.existsSync');
export const statSync = nodeOnly('fs.statSync');
export const mkdirSync = nodeOnly('fs.mkdirSync');
export const renameSync = nodeOnly('fs.renameSync');
export const rmSync = nodeOnly('fs.rmSync');
export const readdirSync = nodeOnly('fs.readdirSync');
export const openSync = nodeOnly('fs.openSync');
export const closeSync = nodeOnly('fs.closeSync');
export const fsyncSync = nodeOnly('fs.fsyncSync');
export const writeSync = nodeOnly('fs.writeSync');
export const unlinkSync = nodeOnly('fs.unlinkSync');
export const createReadStream = nodeOnly('fs.createReadStream');
export const readFile = nodeOnly('fs.readFile');
export const mkdir = nodeOnly('fs.mkdir');
export const open = nodeOnly('fs.open');
export const rename = nodeOnly('fs.rename');
export const unlink = nodeOnly('fs.unlink');
export const readSync = nodeOnly('fs.readSync');
export const close = nodeOnly('fs.close');
export const copyFileSync = nodeOnly('fs.copyFileSync');
export const fsync = nodeOnly('fs.fsync');
export const linkSync = nodeOnly('fs.linkSync');
export const write = nodeOnly('fs.write');
export const rmdirSync = nodeOnly('fs.rmdirSync');
export const realpathSync = nodeOnly('fs.realpathSync');
export const statfsSync = nodeOnly('fs.statfsSync');
export const utimesSync = nodeOnly('fs.utimesSync');
// node:crypto, node:os, node:child_process, node:url
export const createHash = nodeOnly('crypto.createHash');
export const randomBytes = nodeOnly('crypto.randomBytes');
export const homedir = nodeOnly('os.homedir');
export const availableParallelism = (): number => navigator.hardwareConcurrency || 1;
export const spawnSync = nodeOnly('child_process.spawnSync');
export const spawn = nodeOnly('child_process.spawn');
export const execFileSync = nodeOnly('child_process.execFileSync');
export const hostname = nodeOnly('os.hostname');
// node:util: modules promisify fs callbacks at load time; the stand-ins already throw when called.
export const promisify = <F>(fn: F): F => fn;
export const fileURLToPath = nodeOnly('url.fileURLToPath');

// node:zlib's crc32 (the .npz reader checks member CRCs with it): the standard CRC-32 (IEEE 802.3).
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
export function crc32(data: Uint8Array | string, value = 0): number {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  let c = (value ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export default {};
