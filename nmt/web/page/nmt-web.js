// nmt in the browser: an exported model (nmt export --web) run by ONNX Runtime Web, tokenized by
// sentencepiece compiled to WebAssembly; no server, nothing fetched from the network.
//
// The rules are nmt-lite's (nmt/lite/search.py and nmt/pipeline.py), ported for the plain search:
//   - greedy (beam 1) and beam search: the best 2k (hypothesis, token) pairs of a step, EOS pairs among the
//     first k finishing, the best k others going on, the stop-early rule, equal scores ranked by the lower
//     index; scores summed in float32 as NumPy sums them; GNMT length penalty; a hypothesis stops at
//     floor(1.5 x source length + 10) tokens;
//   - sentences decoded in batches sorted by length (at most 128 sentences and 8,000 source tokens);
//   - a line's sentences translated one by one and joined with the line's own spacing (the browser's
//     Intl.Segmenter finds them; nmt-lite's sentencex may cut differently after abbreviations);
//   - a sentence longer than the model's limit is truncated to it, and the page says so.
//   - a model trained with placeholders reads its numbers, URLs and e-mail addresses as them, and they are
//     written back (placeholders.js); a translation that misplaces one is translated again without them.
// Not ported (nmt-lite has them): spans kept by constraints (the page has no constrained search: a model
// without placeholders reads spans as words), glossaries and constraints, HTML, n-best lists, the
// no-repeat rule. They need the text pipeline's Python; the page translates plain text.
//
// API for scripts and tests: window.nmtWeb = {ready (a Promise of the load report), translate(lines,
// options) -> Promise of {translations, seconds, words, truncated, unplaced}}; options: beam, split,
// precision.
"use strict";

(() => {
  const assets = new Map();
  window.nmtAsset = (name, encoding, packed) => assets.set(name, { encoding, packed });

  const MAX_SENTENCES = 128, MAX_TOKENS = 8000, LEN_RATIO = 1.5, LEN_EXTRA = 10, ALPHA = 1.0;

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = () => reject(new Error(`${src} could not be loaded; is the folder complete?`));
      document.head.appendChild(script);
    });
  }

  async function bytesOf(name) {  // an asset script's content (assets.py): base64, of gzip or raw
    const asset = assets.get(name);
    if (asset === undefined) throw new Error(`${name} missing from the folder`);
    assets.delete(name);
    let raw;
    if (Uint8Array.fromBase64) raw = Uint8Array.fromBase64(asset.packed);
    else {
      const text = atob(asset.packed);
      raw = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i++) raw[i] = text.charCodeAt(i);
    }
    if (asset.encoding !== "gzip") return raw;
    const stream = new Blob([raw]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  // -- sentencepiece ---------------------------------------------------------------------------
  class Tokenizer {
    static async load(module, bytes) {
      const t = new Tokenizer();
      t.sp = module;
      const file = `m${Math.random().toString(36).slice(2)}.model`;
      module.FS.writeFile(file, bytes);
      const view = new module.StringView(file), name = view.getView();
      t.processor = new module.SentencePieceProcessor();
      const status = t.processor.Load(name);
      status.delete(); name.delete(); view.delete();
      module.FS.unlink(file);
      return t;
    }

    encode(text) {
      const view = new this.sp.StringView(text), s = view.getView();
      const ids = this.processor.EncodeAsIds(s), out = new Array(ids.size());
      for (let i = 0; i < out.length; i++) out[i] = ids.get(i);
      ids.delete(); s.delete(); view.delete();
      return out;
    }

    decode(ids) {
      const vec = this.sp.vecFromJSArray(ids), text = this.processor.DecodeIds(vec).slice();
      vec.delete();
      return text;
    }
  }

  // -- search (nmt/lite/search.py) ---------------------------------------------------------------
  const f32 = Math.fround;

  // The k largest of x[from .. from + width) and their columns, best first, equal values by the lower
  // column (the first k columns sorted, then only a strictly larger value enters).
  function top(x, from, width, k) {
    k = Math.min(k, width);
    const vals = new Array(k), cols = new Array(k);
    for (let j = 0; j < k; j++) {
      const v = x[from + j];
      let p = j;
      while (p > 0 && vals[p - 1] < v) { vals[p] = vals[p - 1]; cols[p] = cols[p - 1]; p--; }
      vals[p] = v; cols[p] = j;
    }
    let last = vals[k - 1];
    for (let j = k; j < width; j++) {
      const v = x[from + j];
      if (!(v > last)) continue;
      let p = k - 1;
      while (p > 0 && vals[p - 1] < v) { vals[p] = vals[p - 1]; cols[p] = cols[p - 1]; p--; }
      vals[p] = v; cols[p] = j;
      last = vals[k - 1];
    }
    return [vals, cols];
  }

  function normalise(logProb, length) {  // search/scoring.py, gnmt
    return logProb / Math.pow((5 + length) / 6, ALPHA);
  }

  function forceEos(logProbs, row, vocab, eos) {  // only EOS possible in a row at its length limit
    const keep = logProbs[row * vocab + eos];
    logProbs.fill(-Infinity, row * vocab, (row + 1) * vocab);
    logProbs[row * vocab + eos] = keep;
  }

  async function greedy(engine, state, maxLens) {
    const { bos, eos } = engine.meta, batch = maxLens.length, vocab = engine.vocab;
    let alive = [...Array(batch).keys()], tokens = new Array(batch).fill(bos);
    let history = alive.map(() => []), total = new Array(batch).fill(0);
    const results = new Array(batch).fill(null);
    const limit = Math.max(...maxLens);
    for (let t = 0; t <= limit; t++) {
      let logProbs, ranked;
      [logProbs, state, ranked] = await engine.step(tokens, state, 1);
      const ended = [];
      for (let i = 0; i < alive.length; i++) {
        if (t >= maxLens[alive[i]]) forceEos(logProbs, i, vocab, eos);
        const [vals, cols] = t >= maxLens[alive[i]] || !ranked ? top(logProbs, i * vocab, vocab, 1) : ranked(i, 1);
        tokens[i] = cols[0];
        total[i] = f32(total[i] + vals[0]);
        if (tokens[i] === eos) {
          results[alive[i]] = { ids: history[i], score: normalise(total[i], t + 1) };
          ended.push(i);
        }
      }
      if (ended.length) {
        const keep = alive.map((_, i) => i).filter((i) => tokens[i] !== eos);
        if (!keep.length) break;
        alive = keep.map((i) => alive[i]); history = keep.map((i) => history[i]);
        total = keep.map((i) => total[i]); tokens = keep.map((i) => tokens[i]);
        state = engine.reorder(state, keep);
      }
      history = history.map((h, i) => [...h, tokens[i]]);
    }
    return results;
  }

  // search/beam.Plain: one step's choice for n live sentences of k places each; ranked(row, best): the
  // graph's own best of a row (its TopK), for the rows no rule changed (atLimit: those at their limit)
  function choose(scores, logProbs, n, k, vocab, eos, ranked, atLimit) {
    const best = Math.min(k + 1, vocab), rowTop = [];
    for (let r = 0; r < n * k; r++) {
      rowTop.push(ranked && !atLimit[Math.floor(r / k)] ? ranked(r, best) : top(logProbs, r * vocab, vocab, best));
    }
    const finish = [], bestEnded = [], rows = [], tokens = [], newScores = [];
    const cand = new Array(k * best);
    for (let i = 0; i < n; i++) {
      for (let b = 0; b < k; b++) {
        const [vals] = rowTop[i * k + b];
        for (let j = 0; j < best; j++) cand[b * best + j] = f32(scores[i][b] + vals[j]);
      }
      const [topScores, topIdx] = top(cand, 0, k * best, 2 * k);
      const fromBeam = topIdx.map((x) => Math.floor(x / best));
      const topTok = topIdx.map((x, j) => rowTop[i * k + fromBeam[j]][1][x % best]);
      const live = topScores.map((s, j) => (topTok[j] === eos ? -Infinity : s));
      topScores.forEach((s, j) => {
        if (topTok[j] === eos && j < k && Number.isFinite(s)) finish.push([i, fromBeam[j], s]);
      });
      bestEnded.push(topTok[0] === eos && Number.isFinite(topScores[0]));
      const [liveScores, pos] = top(live, 0, live.length, k);
      newScores.push(liveScores);
      for (const p of pos) { rows.push(i * k + fromBeam[p]); tokens.push(topTok[p]); }
    }
    return { finish, bestEnded, rows, tokens, scores: newScores };
  }

  async function beamSearch(engine, state, maxLens, k) {
    const { bos, eos } = engine.meta, batch = maxLens.length, vocab = engine.vocab;
    let scores = maxLens.map(() => [0, ...new Array(k - 1).fill(-Infinity)]);
    const copies = [...Array(batch).keys()].flatMap((i) => new Array(k).fill(i));
    let alive = [...Array(batch).keys()], tokens = new Array(batch).fill(bos);
    let history = copies.map(() => []);
    const finished = maxLens.map(() => []), topFinished = new Array(batch).fill(false);
    const limit = Math.max(...maxLens);
    for (let t = 0; t <= limit; t++) {
      let logProbs, ranked;
      [logProbs, state, ranked] = await engine.step(tokens, state, Math.min(k + 1, vocab));
      if (t === 0) {
        const wide = new Float32Array(copies.length * vocab);
        copies.forEach((src, r) => wide.set(logProbs.subarray(src * vocab, (src + 1) * vocab), r * vocab));
        logProbs = wide;
        state = engine.reorder(state, copies);
        const first = ranked;
        ranked = first && ((r, best) => first(copies[r], best));
      }
      const atLimit = alive.map((s) => t >= maxLens[s]);
      atLimit.forEach((at, i) => { if (at) for (let b = 0; b < k; b++) forceEos(logProbs, i * k + b, vocab, eos); });
      const choice = choose(scores, logProbs, alive.length, k, vocab, eos, ranked, atLimit);
      for (const [i, place, lp] of choice.finish) {
        const sentence = alive[i];
        if (finished[sentence].length < k) {
          finished[sentence].push({ ids: history[i * k + place], score: normalise(lp, t + 1) });
        }
      }
      tokens = choice.tokens;
      history = choice.rows.map((r, j) => [...history[r], tokens[j]]);
      scores = choice.scores;
      state = engine.reorder(state, choice.rows);
      const done = alive.map((s, i) => {
        topFinished[s] = topFinished[s] || choice.bestEnded[i];
        return atLimit[i] || finished[s].length >= k || (topFinished[s] && finished[s].length >= 1);
      });
      if (done.some((d) => d)) {
        const keep = done.map((d, i) => (d ? -1 : i)).filter((i) => i >= 0);
        if (!keep.length) break;
        const keepRows = keep.flatMap((i) => [...Array(k).keys()].map((b) => i * k + b));
        alive = keep.map((i) => alive[i]); scores = keep.map((i) => scores[i]);
        tokens = keepRows.map((r) => tokens[r]); history = keepRows.map((r) => history[r]);
        state = engine.reorder(state, keepRows);
      }
    }
    return finished.map((hyps) => {
      const sorted = hyps.map((h, i) => [h, i]).sort((a, b) => b[0].score - a[0].score || a[1] - b[1]);
      return sorted.length ? sorted[0][0] : { ids: [], score: -Infinity };
    });
  }

  // -- the graphs (nmt/lite/translator.py) -------------------------------------------------------
  // nmt/regroup.py: where per-source tensors go when search keeps `rows` of a layout of `per` rows for each
  // of `sources` sources: [the sources kept, in order (null: all, unchanged), the rows per source after]
  function regroup(rows, per, sources) {
    if (!rows.length) return [rows, 1];
    const owner = rows.map((r) => Math.floor(r / per)), kept = [], counts = [];
    owner.forEach((o, i) => {
      if (i && o === owner[i - 1]) counts[counts.length - 1] += 1;
      else { kept.push(o); counts.push(1); }
    });
    if (!counts.every((c) => c === counts[0])) return [owner, 1];
    if (kept.length === sources && kept.every((s, i) => !i || s > kept[i - 1])) return [null, counts[0]];
    return [kept, counts[0]];
  }

  function takeRows(tensor, rows) {  // tensor[rows] along its first axis
    const width = tensor.dims.slice(1).reduce((a, b) => a * b, 1), data = tensor.data;
    const out = new data.constructor(rows.length * width);
    rows.forEach((r, j) => out.set(data.subarray(r * width, (r + 1) * width), j * width));
    return new ort.Tensor(tensor.type, out, [rows.length, ...tensor.dims.slice(1)]);
  }

  class Engine {
    static async load(meta, precision) {
      const e = new Engine();
      e.meta = meta;
      e.vocab = meta.vocab[1];
      const suffix = precision === "int8" ? ".int8.onnx" : ".onnx";
      const options = { executionProviders: ["wasm"], graphOptimizationLevel: "all" };
      e.encoder = await ort.InferenceSession.create(await bytesOf(`encoder${suffix}`), options);
      e.decoder = await ort.InferenceSession.create(await bytesOf(`decoder${suffix}`), options);
      return e;
    }

    async encode(srcIds) {  // reversed before padding, as data.py
      const batch = srcIds.length, width = Math.max(...srcIds.map((s) => s.length));
      const src = new BigInt64Array(batch * width).fill(BigInt(this.meta.pad));
      srcIds.forEach((ids, i) => {
        const read = this.meta.reverse_source ? [...ids].reverse() : ids;
        read.forEach((id, j) => { src[i * width + j] = BigInt(id); });
      });
      const lens = BigInt64Array.from(srcIds, (s) => BigInt(s.length));
      const out = await this.encoder.run({
        src: new ort.Tensor("int64", src, [batch, width]), src_lens: new ort.Tensor("int64", lens, [batch]),
      });
      const state = {};
      for (const name of this.meta.names.encoder_out) state[name] = out[name];
      const inputs = this.meta.names.decoder_in;
      if (inputs.includes("source")) {  // exports before rows read their source by layout
        state.source = new ort.Tensor("int64", BigInt64Array.from(srcIds, (_, i) => BigInt(i)), [batch]);
      } else if (inputs.includes("memory")) {
        state.per = 1;  // rows per source (nmt/regroup.py's layout)
      }
      if (inputs.includes("feed")) {
        state.feed = new ort.Tensor("float32", new Float32Array(batch * this.meta.hidden), [batch, this.meta.hidden]);
      }
      return state;
    }

    // one step: log-probabilities (rows x vocab), the next state, and where the graph ranks each row's best
    // k (its TopK outputs) ranked(row, n) -> [values, ids] of the row's best n <= k
    async step(tokens, state, k) {
      const feeds = {};
      for (const name of this.meta.names.decoder_in) {
        if (name === "tokens") feeds[name] = new ort.Tensor("int64", BigInt64Array.from(tokens, (t) => BigInt(t)), [tokens.length]);
        else if (name === "k") feeds[name] = new ort.Tensor("int64", BigInt64Array.of(BigInt(k)), [1]);
        else feeds[name] = state[name];
      }
      const out = await this.decoder.run(feeds);
      const next = { ...state };
      for (const name of this.meta.names.decoder_out) {
        if (name.endsWith("_out")) next[name.slice(0, -4)] = out[name];
      }
      let ranked = null;
      if (out.top_ids) {
        const values = out.top_values.data, ids = out.top_ids.data;
        ranked = (row, n) => [Array.from(values.subarray(row * k, row * k + n)),
                              Array.from(ids.subarray(row * k, row * k + n), Number)];
      }
      return [out.log_probs.data, next, ranked];
    }

    // follow rows: recurrent state (layers, rows, hidden), feed and source (rows, ...); what a source holds
    // (memory, keys, mask) stays once per source
    reorder(state, rows) {
      const out = { ...state };
      for (const name of ["h", "c"]) {
        if (!(name in out)) continue;
        const [layers, old, width] = out[name].dims, data = out[name].data;
        const next = new Float32Array(layers * rows.length * width);
        for (let l = 0; l < layers; l++) {
          rows.forEach((r, j) => next.set(data.subarray((l * old + r) * width, (l * old + r + 1) * width),
                                          (l * rows.length + j) * width));
        }
        out[name] = new ort.Tensor("float32", next, [layers, rows.length, width]);
      }
      if ("feed" in out) {
        const [, width] = out.feed.dims, data = out.feed.data, next = new Float32Array(rows.length * width);
        rows.forEach((r, j) => next.set(data.subarray(r * width, (r + 1) * width), j * width));
        out.feed = new ort.Tensor("float32", next, [rows.length, width]);
      }
      if ("source" in out) {
        const data = out.source.data;
        out.source = new ort.Tensor("int64", BigInt64Array.from(rows, (r) => data[r]), [rows.length]);
      }
      if ("per" in out) {
        let kept;
        [kept, out.per] = regroup(rows, out.per, out.memory.dims[0]);
        if (kept) for (const name of ["memory", "keys", "mask"]) out[name] = takeRows(out[name], kept);
      }
      return out;
    }

    async search(srcIds, beam) {
      const state = await this.encode(srcIds);
      const maxLens = srcIds.map((s) => Math.floor(s.length * LEN_RATIO + LEN_EXTRA));
      return beam <= 1 ? greedy(this, state, maxLens) : beamSearch(this, state, maxLens, beam);
    }
  }

  // -- text: lines, sentences, batches (nmt/pipeline.py) -----------------------------------------
  function lengthBatches(lengths) {
    const order = lengths.map((n, i) => i).filter((i) => lengths[i] > 0).sort((a, b) => lengths[a] - lengths[b] || a - b);
    const batches = [];
    let batch = [];
    for (const i of order) {
      if (batch.length && (batch.length + 1 > MAX_SENTENCES || (batch.length + 1) * lengths[i] > MAX_TOKENS)) {
        batches.push(batch);
        batch = [];
      }
      batch.push(i);
    }
    if (batch.length) batches.push(batch);
    return batches;
  }

  function splitLine(line, language, split) {  // parts alternate between sentences and spacing
    line = line.trim();
    if (!line) return { parts: [], sentences: [] };
    if (!split || !Intl.Segmenter) return { parts: [line], sentences: [0] };
    const parts = [];
    for (const { segment } of new Intl.Segmenter(language, { granularity: "sentence" }).segment(line)) {
      const body = segment.trim(), lead = segment.slice(0, segment.length - segment.trimStart().length);
      const trail = body ? segment.slice(segment.trimEnd().length) : "";
      for (const piece of [lead, body, trail]) {
        if (piece && !piece.trim() && parts.length && !parts[parts.length - 1].trim()) parts[parts.length - 1] += piece;
        else if (piece) parts.push(piece);
      }
    }
    return { parts, sentences: parts.map((p, i) => (p.trim() ? i : -1)).filter((i) => i >= 0) };
  }

  const state = { engines: {}, tokenizers: null, meta: null, manifest: null, tlds: new Set() };

  async function translate(lines, { beam = 5, split = true, precision } = {}) {
    await ready;
    const engine = state.engines[precision || state.manifest.graphs[0]];
    if (!engine) throw new Error(`no ${precision} graphs in this folder (it has ${state.manifest.graphs.join(", ")})`);
    const started = performance.now();
    const parsed = lines.map((line) => splitLine(line, state.meta.languages?.[0], split));
    const texts = parsed.flatMap((p) => p.sentences.map((i) => p.parts[i]));
    const limit = state.meta.max_len;
    let truncated = 0;
    const encoded = (text) => {
      const all = state.tokenizers.src.encode(text);
      if (all.length > limit) truncated += 1;
      return all.slice(0, limit);
    };
    // a model trained with placeholders reads its spans as them (placeholders.js)
    const masked = texts.map((text) => (state.meta.placeholders ? nmtPlaceholders.mask(text, state.tlds) : null));
    const found = await decoded(engine, texts.map((text, i) => encoded(masked[i] ? masked[i].text : text)), beam);
    const again = [];
    masked.forEach((m, i) => {
      if (!m || !Object.keys(m.count).length) return;
      const text = nmtPlaceholders.unmask(found[i], m);
      if (text === null) again.push(i);
      else found[i] = text;
    });
    const redone = await decoded(engine, again.map((i) => encoded(texts[i])), beam);
    again.forEach((i, j) => { found[i] = redone[j]; });
    let at = 0;
    const translations = parsed.map((p) => {
      const parts = [...p.parts];
      for (const i of p.sentences) parts[i] = found[at++];
      return parts.join("");
    });
    const words = texts.reduce((n, t) => n + t.split(/\s+/).filter(Boolean).length, 0);
    return { translations, seconds: (performance.now() - started) / 1000, words, truncated, unplaced: again.length };
  }

  async function decoded(engine, ids, beam) {  // each id sequence's best translation, as text
    const found = new Array(ids.length).fill("");
    for (const batch of lengthBatches(ids.map((x) => x.length))) {
      const hyps = await engine.search(batch.map((i) => ids[i]), beam);
      batch.forEach((i, j) => { found[i] = state.tokenizers.tgt.decode(hyps[j].ids); });
    }
    return found;
  }

  async function load() {
    const started = performance.now();
    await loadScript("manifest.js");
    const manifest = window.nmtManifest;
    // ONNX Runtime's module and WebAssembly from the asset scripts: no fetch (a page opened from disk may
    // not fetch). One thread: a page from disk or a plain static host is not cross-origin isolated, which
    // threads need. The graphs' sessions and the tokenizers load side by side.
    await loadScript("runtime/ort-wasm.js");
    const [glue, wasm] = await Promise.all(["ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"].map(bytesOf));
    ort.env.wasm.wasmPaths = { mjs: URL.createObjectURL(new Blob([glue], { type: "text/javascript" })) };
    ort.env.wasm.wasmBinary = wasm;
    ort.env.wasm.numThreads = 1;
    await Promise.all(manifest.files.map((f) => loadScript(`model/${f}.js`)));
    const meta = JSON.parse(new TextDecoder().decode(await bytesOf("nmt-export.json")));
    const engines = (async () => {
      for (const precision of manifest.graphs) state.engines[precision] = await Engine.load(meta, precision);
    })();
    const tokenizers = (async () => {
      const sp = await createSentencePieceModule();
      const [src, tgt] = await Promise.all(["src.model", "tgt.model"].map(bytesOf));
      state.tokenizers = { src: await Tokenizer.load(sp, src), tgt: await Tokenizer.load(sp, tgt) };
    })();
    await Promise.all([engines, tokenizers]);
    state.meta = meta;
    state.manifest = manifest;
    state.tlds = new Set(manifest.tlds || []);
    const now = performance.now();  // since the page was asked for: its scripts' loading included
    return { seconds: now / 1000, loading: (now - started) / 1000, graphs: manifest.graphs, languages: meta.languages };
  }

  const ready = load();
  window.nmtWeb = { ready, translate };
})();
