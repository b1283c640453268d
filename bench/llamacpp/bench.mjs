// bench.mjs: llama.cpp prompt and generation speed, as bnrun --bench does.
// Usage: node bench.mjs MODEL.gguf THREADS PP TG [REPS]
// Prompt: PP tokens (i * 7919 % vocab), logits for the last one only.
// Generation: TG single-token forward passes, each with full logits and
// a greedy pick.  Best of REPS (3).  Prints one JSON line.
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [modelPath, threadsArg, ppArg, tgArg, repsArg] = process.argv.slice(2);
if (!modelPath) {
    console.error("usage: node bench.mjs MODEL.gguf THREADS PP TG [REPS]");
    process.exit(64);
}
const threads = Number(threadsArg ?? 2), pp = Number(ppArg ?? 128);
const tg = Number(tgArg ?? 32), reps = Number(repsArg ?? 3);

const llama = await getLlama({gpu: false, build: "never", usePrebuiltBinaries: true,
    logLevel: LlamaLogLevel.error, maxThreads: threads});
const model = await llama.loadModel({modelPath, gpuLayers: 0, useMmap: true});
const nVocab = Number(model.fileInfo.metadata?.llama?.vocab_size ?? 32000);
const context = await model.createContext({contextSize: pp + tg + 64, batchSize: pp,
    threads, sequences: 1});
const seq = context.getSequence();
const prompt = Array.from({length: pp}, (_, i) => (i * 7919) % nVocab);
const now = () => Number(process.hrtime.bigint()) / 1e9;

let bestPp = 0, bestTg = 0;
for (let r = 0; r < reps; r++) {
    await seq.clearHistory();
    let t0 = now();
    const itp = seq.evaluate(prompt, {temperature: 0});
    await itp.next();
    const tp = pp / (now() - t0);
    await itp.return();
    await seq.clearHistory();
    t0 = now();
    let n = 0;
    for await (const tok of seq.evaluate([prompt[0]], {temperature: 0})) {
        void tok;
        if (++n >= tg)
            break;
    }
    const tt = tg / (now() - t0);
    bestPp = Math.max(bestPp, tp);
    bestTg = Math.max(bestTg, tt);
}
console.log(JSON.stringify({model: modelPath, threads: context.currentThreads ?? threads,
    pp, pp_tps: +bestPp.toFixed(3), tg, tg_tps: +bestTg.toFixed(3),
    binary_release: llama.llamaCppRelease?.release ?? null}));
await context.dispose();
await model.dispose();
await llama.dispose();
