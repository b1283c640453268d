// peer.mjs: llama.cpp, through node-llama-cpp 3.21.1's prebuilt CPU
// binary, loads a GGUF file written by bnexport and runs it.
//
//   node peer.mjs info MODEL.gguf
//       one JSON line: architecture, the tensors (name, ggml type,
//       dims), the tokenizer model and vocabulary size
//   node peer.mjs tokenize MODEL.gguf FILE.inp
//       llama.cpp's tokenization of each text of FILE.inp (llama.cpp's
//       test-vector format: texts separated by lines
//       "__ggml_vocab_test__"), one line of ids per text, no BOS
//   node peer.mjs greedy MODEL.gguf CASES.json N
//       CASES.json: [{"prompt": TEXT, "ids": [BOS, ...prompt ids as
//       bnrun tokenizes them], "bnrun": bnrun's output text}, ...].
//       For each case: llama.cpp's tokenization of TEXT, then N greedy
//       tokens after ids (1 thread), compared with bnrun's text; one
//       JSON line per case, then one summary line per case:
//         case K: tokenize equal|DIFFERENT, greedy equal N/N
//         case K: ... first divergence at token I: llama.cpp T1 'x',
//                 bnrun T2 'y', logit gap G
//       where G = ln p(T1) - ln p(T2) = logit(T1) - logit(T2) in
//       llama.cpp's distribution at that step.
// Exit status: 0 when it ran (the caller judges), 1 on an error.
import {readFileSync} from "node:fs";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [mode, modelPath, casesPath, nArg] = process.argv.slice(2);
if (!mode || !modelPath || (mode !== "info" && !casesPath)) {
    console.error("usage: node peer.mjs info MODEL.gguf | " +
        "node peer.mjs tokenize MODEL.gguf FILE.inp | " +
        "node peer.mjs greedy MODEL.gguf CASES.json N");
    process.exit(64);
}

const llama = await getLlama({gpu: false, build: "never", usePrebuiltBinaries: true,
    logLevel: LlamaLogLevel.error, maxThreads: 1});
const model = await llama.loadModel({modelPath, gpuLayers: 0, useMmap: true});
const meta = model.fileInfo.metadata;
const arch = meta.general.architecture;

if (mode === "info") {
    const tensors = model.fileInfo.tensorInfo.map((t) => ({
        name: t.name, type: t.ggmlType, dims: t.dimensions.map(Number)}));
    console.log(JSON.stringify({arch, n_tensors: tensors.length,
        tokenizer: meta.tokenizer?.ggml?.model ?? null,
        pre: meta.tokenizer?.ggml?.pre ?? null,
        vocab: meta.tokenizer?.ggml?.tokens?.length ?? null,
        bos: model.tokens.bos ?? null,
        hello: Array.from(model.tokenize("Hello world, it is a truth.")),
        tensors}));
    await model.dispose();
    await llama.dispose();
    process.exit(0);
}

if (mode === "tokenize") {
    const texts = readFileSync(casesPath, "utf8").split("\n__ggml_vocab_test__\n");
    texts.pop();	// after the last separator
    const bos = model.tokens.bos;
    for (const t of texts) {
        let ids = Array.from(model.tokenize(t));
        if (ids.length > 0 && ids[0] === bos)
            ids = ids.slice(1);
        console.log(ids.join(" "));
    }
    await model.dispose();
    await llama.dispose();
    process.exit(0);
}

const n = Number(nArg ?? 24);
const cases = JSON.parse(readFileSync(casesPath, "utf8"));
const context = await model.createContext({contextSize: 256, threads: 1,
    batchSize: 256, sequences: 1});
const seq = context.getSequence();
const sample = {probabilities: true, token: true,
    options: {temperature: 1, topK: 0, topP: 1, minP: 0, seed: 1}};

// The distribution after the last of ids, evaluated on top of what the
// sequence holds; returns [[token, p], ...] sorted, highest first.
async function next(ids) {
    const input = ids.slice(0, -1);
    input.push([ids[ids.length - 1], {generateNext: sample}]);
    const res = await seq.controlledEvaluate(input);
    const out = res[res.length - 1];
    return Array.from(out.next.probabilities.entries());
}

const summary = [];
for (const [k, c] of cases.entries()) {
    const tok = Array.from(model.tokenize(c.prompt));
    const want = c.ids.slice(1);
    const tokEqual = JSON.stringify(tok) === JSON.stringify(want);
    await seq.clearHistory();
    let probs = await next(c.ids);
    const gen = [], steps = [];
    for (let i = 0; i < n; i++) {
        const [t1, p1] = probs[0];
        const [, p2] = probs[1] ?? [null, 0];
        gen.push(t1);
        steps.push({probs: probs.slice(0, 8)});
        steps[i].gap12 = Math.log(p1) - Math.log(p2);
        if (i + 1 < n)
            probs = await next([t1]);
    }
    const text = model.detokenize([...want, ...gen]);
    // First divergence: the first generated token whose text no longer
    // continues bnrun's output.
    let div = -1;
    for (let i = 0; i < n; i++) {
        const pre = model.detokenize([...want, ...gen.slice(0, i + 1)]);
        if (!c.bnrun.startsWith(pre)) {
            div = i;
            break;
        }
    }
    const line = {case: k, prompt: c.prompt, tokenize: tok, tokenize_equal: tokEqual,
        greedy: gen, text};
    let s = `case ${k}: tokenize ${tokEqual ? "equal" : "DIFFERENT"}, `;
    if (div < 0) {
        s += `greedy equal ${n}/${n}`;
    } else {
        // bnrun's token there: llama.cpp's tokenization of bnrun's text
        // continues the common prefix (the tokenizers agree)
        const upto = model.detokenize([...want, ...gen.slice(0, div)]);
        const rest = Array.from(model.tokenize(c.bnrun.slice(upto.length)));
        const t2 = rest[0];
        const ps = steps[div].probs;
        const all = new Map(ps);
        const [t1, p1] = ps[0];
        // the full distribution was sampled: look bnrun's token up
        await seq.clearHistory();
        const full = new Map(await next([...c.ids, ...gen.slice(0, div)]));
        const p2 = full.get(t2) ?? all.get(t2) ?? 0;
        const gap = Math.log(p1) - Math.log(p2);
        line.divergence = {index: div, llamacpp: t1, bnrun: t2, gap};
        s += `greedy equal ${div}/${n}, first divergence at token ${div}: ` +
            `llama.cpp ${t1} ${JSON.stringify(model.detokenize([t1]))}, bnrun ${t2} ` +
            `${JSON.stringify(model.detokenize([t2]))}, logit gap ${gap.toFixed(4)}`;
    }
    line.steps_gap12 = steps.map((x) => +x.gap12.toFixed(4));
    console.log(JSON.stringify(line));
    summary.push(s);
}
for (const s of summary)
    console.log(s);
await context.dispose();
await model.dispose();
await llama.dispose();
