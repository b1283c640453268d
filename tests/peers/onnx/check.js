// check.js: run an ONNX export with ONNX Runtime and compare its logits
// with a reference (bnrun's, written by build/tests/mkonnx --logits).
//
//   node check.js [--greedy] [--kv] [--lut] [--opt LEVEL] [--tol X]
//       [--bench N] MODEL.onnx REF.safetensors
//
// For each input_ids.K of REF: one run over the whole prompt (or, with
// --kv, the prompt minus its last 3 tokens, then those one at a time
// through the KV cache) and the largest absolute logit difference and
// argmax agreement with logits.K.  Prints one line per prompt and a
// closing "max_abs X argmax A/N" line; exits 1 past the tolerance or on
// an argmax disagreement.  --bench N: instead, time N single-token runs
// (the KV model) or N runs of input_ids.0, and print ms per run.
// --greedy: also continue each prompt greedily for as many tokens as
// REF's greedy.K holds and print the tokens; any difference fails.
// --opt LEVEL: graph optimization disabled, basic (default), extended
// or all.
// --lut: set the session option mlas.use_lut_gemm=1 (ONNX Runtime's
// lookup-table kernel for 2-bit MatMulNBits).
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function readSafetensors(path) {
	const buf = fs.readFileSync(path);
	const hl = Number(buf.readBigUInt64LE(0));
	const hdr = JSON.parse(buf.subarray(8, 8 + hl).toString('utf8'));
	const base = 8 + hl, out = {};
	for (const [name, d] of Object.entries(hdr)) {
		if (name === '__metadata__')
			continue;
		const [a, b] = d.data_offsets;
		const bytes = buf.subarray(base + a, base + b);
		const ab = bytes.buffer.slice(bytes.byteOffset,
		    bytes.byteOffset + bytes.length);
		if (d.dtype === 'F32')
			out[name] = { shape: d.shape, data: new Float32Array(ab) };
		else if (d.dtype === 'I32')
			out[name] = { shape: d.shape, data: new Int32Array(ab) };
	}
	return out;
}

function argmax(a, off, n) {
	let best = 0;
	for (let i = 1; i < n; i++)
		if (a[off + i] > a[off + best])
			best = i;
	return best;
}

async function main() {
	const args = process.argv.slice(2);
	let kv = false, greedy = false, tol = 1e-3, bench = 0, extra = {};
	let level = 'basic';
	while (args.length && args[0].startsWith('--')) {
		const a = args.shift();
		if (a === '--kv')
			kv = true;
		else if (a === '--tol')
			tol = Number(args.shift());
		else if (a === '--greedy')
			greedy = true;
		else if (a === '--opt')
			level = args.shift();
		else if (a === '--lut')
			extra = { mlas: { use_lut_gemm: '1' } };
		else if (a === '--bench')
			bench = Number(args.shift());
		else
			throw new Error('unknown option ' + a);
	}
	if (args.length !== 2)
		throw new Error('usage: check.js [--greedy] [--kv] [--lut] ' +
		    '[--opt level] [--tol X] [--bench N] model.onnx ' +
		    'ref.safetensors');
	const [model, refPath] = args;
	const t0 = process.hrtime.bigint();
	const sess = await ort.InferenceSession.create(model, {
		graphOptimizationLevel: level,
		intraOpNumThreads: 1,
		interOpNumThreads: 1,
		executionMode: 'sequential',
		extra,
	});
	const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
	const ref = readSafetensors(refPath);
	const pastNames = sess.inputNames.filter(n => n.startsWith('past_'));
	let worst = 0, agree = 0, total = 0, vocab = 0, kvShape = null;
	let gfail = 0;

	async function step(ids, pos0, past) {
		const T = ids.length;
		const feeds = {
			input_ids: new ort.Tensor('int64',
			    BigInt64Array.from(ids, BigInt), [1, T]),
		};
		if (kv) {
			feeds.position_ids = new ort.Tensor('int64',
			    BigInt64Array.from(ids, (_, i) => BigInt(pos0 + i)),
			    [1, T]);
			for (const n of pastNames)
				feeds[n] = past[n];
		}
		const out = await sess.run(feeds);
		const next = {};
		if (kv)
			for (const n of pastNames)
				next[n] = out[n.replace('past_key_values',
				    'present')];
		return { logits: out.logits, past: next };
	}

	function emptyPast() {
		const p = {};
		for (const n of pastNames)
			p[n] = new ort.Tensor('float32', new Float32Array(0),
			    [1, kvShape[0], 0, kvShape[1]]);
		return p;
	}

	if (kv) {
		// [batch, kv_heads, past_seq, head_dim] from the model's inputs
		const meta = sess.inputMetadata ? sess.inputMetadata.find(
		    m => m.name === pastNames[0]) : null;
		if (!meta || !meta.shape)
			throw new Error('cannot read past_key_values shapes');
		kvShape = [meta.shape[1], meta.shape[3]];
	}
	for (let K = 0; !bench && ref['input_ids.' + K]; K++) {
		const ids = Array.from(ref['input_ids.' + K].data);
		const want = ref['logits.' + K];
		const T = ids.length, V = want.shape[1];
		const got = new Float32Array(T * V);
		vocab = V;
		if (kv) {
			const n0 = Math.max(1, T - 3);
			let r = await step(ids.slice(0, n0), 0, emptyPast());
			got.set(r.logits.data, 0);
			for (let t = n0; t < T; t++) {
				r = await step([ids[t]], t, r.past);
				got.set(r.logits.data, t * V);
			}
		} else {
			const r = await step(ids, 0, null);
			got.set(r.logits.data, 0);
		}
		let d = 0, a = 0;
		for (let i = 0; i < T * V; i++) {
			const x = Math.abs(got[i] - want.data[i]);
			if (!(x <= d))
				d = x;
		}
		for (let t = 0; t < T; t++)
			a += argmax(got, t * V, V) === argmax(want.data, t * V, V);
		console.log(`input_ids.${K}: ${T} tokens: max_abs ` +
		    `${d.toPrecision(3)} argmax ${a}/${T}`);
		worst = Math.max(worst, d);
		agree += a;
		total += T;
		const g = ref['greedy.' + K];
		if (greedy && g) {
			const seq = ids.slice();
			let next = argmax(got, (T - 1) * V, V), r = null;
			if (kv)
				r = await step(ids, 0, emptyPast());
			while (seq.length < g.data.length) {
				seq.push(next);
				if (seq.length === g.data.length)
					break;
				if (kv) {
					r = await step([next], seq.length - 1,
					    r.past);
					next = argmax(r.logits.data, 0, V);
				} else {
					r = await step(seq, 0, null);
					next = argmax(r.logits.data,
					    (seq.length - 1) * V, V);
				}
			}
			let same = 0;
			while (T + same < seq.length &&
			    seq[T + same] === g.data[T + same])
				same++;
			console.log(`greedy.${K}: ${same}/${seq.length - T} ` +
			    `tokens agree: ${seq.slice(T).join(' ')}`);
			gfail += same !== seq.length - T;
		}
	}
	if (bench > 0) {
		const ids = Array.from(ref['input_ids.0'].data);
		let ms;
		if (kv) {
			let r = await step(ids, 0, emptyPast());
			const t1 = process.hrtime.bigint();
			for (let i = 0; i < bench; i++)
				r = await step([1], ids.length + i, r.past);
			ms = Number(process.hrtime.bigint() - t1) / 1e6 / bench;
			console.log(`bench: ${ms.toFixed(3)} ms/token ` +
			    `(KV cache, 1 thread), load ${loadMs.toFixed(0)} ms`);
		} else {
			await step(ids, 0, null);
			const t1 = process.hrtime.bigint();
			for (let i = 0; i < bench; i++)
				await step(ids, 0, null);
			ms = Number(process.hrtime.bigint() - t1) / 1e6 / bench;
			console.log(`bench: ${ms.toFixed(3)} ms/run of ` +
			    `${ids.length} tokens (1 thread), load ` +
			    `${loadMs.toFixed(0)} ms`);
		}
	}
	if (bench > 0)
		return;
	if (total === 0)
		throw new Error(refPath + ': no input_ids.0');
	console.log(`max_abs ${worst.toPrecision(3)} argmax ${agree}/${total}`);
	void vocab;
	process.exitCode = worst <= tol && agree === total && !gfail ? 0 : 1;
}

main().catch(err => {
	console.error('check.js: ' + (err && err.message ? err.message : err));
	process.exitCode = 2;
});
