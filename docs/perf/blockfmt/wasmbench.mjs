// node wasmbench.mjs wasm/all.wasm 10000 [global]
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
const [file, nArg, numbering] = process.argv.slice(2);
const n = Number(nArg || 10000);
const { instance } = await WebAssembly.instantiate(readFileSync(file), {});
const x = instance.exports;
const nopts = x.prepare(n, numbering === 'global' ? 1 : 0);
const med = a => a.sort((p, q) => p - q)[a.length >> 1];
const per = 10000 / n, reps = 7;
for (let w = 0; w < 2; w++) for (let i = 0; i < nopts; i++) { x.enc(i); x.dec(i); } // tier-up warm-up
console.log(`# wasm (${file}) n=${n} numbering=${numbering || 'per-request'} node ${process.version}; ms per 10k spans, median of ${reps}, after 2 warm-up passes`);
for (let i = 0; i < nopts; i++) {
  const p = x.opt_name(i), l = x.opt_name_len();
  const name = new TextDecoder().decode(new Uint8Array(x.memory.buffer, p, l));
  let bytes = x.enc(i); x.dec(i); // warm-up
  const e = [], d = [];
  for (let r = 0; r < reps; r++) { const t = performance.now(); bytes = x.enc(i); e.push(performance.now() - t); }
  for (let r = 0; r < reps; r++) { const t = performance.now(); x.dec(i); d.push(performance.now() - t); }
  const ok = x.verify();
  console.log(`${name.padEnd(58)} ${String(bytes).padStart(9)} ${(bytes / n).toFixed(1).padStart(7)} ${(med(e) * per).toFixed(2).padStart(8)} ${(med(d) * per).toFixed(2).padStart(8)} ${ok ? 'ok' : 'MISMATCH'}`);
}
