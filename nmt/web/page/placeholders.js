// Kept spans as placeholders, for a model trained with them: nmt/text/spans.py and
// nmt/text/placeholders.py in JavaScript. Numbers are the same regular expression; URLs and e-mail
// addresses are whitespace-separated words (their enclosing punctuation stripped) whose host ends in a
// top-level domain of the list urlextract ships (the manifest carries it), which finds the same ones in
// running text (tests/test_web.py compares both on bench/data/spans.tsv). A translation that does not hold
// each placeholder as often as its source is translated again without them (the page has no constrained
// search): its spans then go through the model as words.
//
// window.nmtPlaceholders = {mask(text, tlds) -> {text, spans: {placeholder: span}, count: {placeholder: n}},
// unmask(translation, masked) -> text or null}
"use strict";

(() => {
  const NUMBER = /\+\d{1,3}(?:[ -]\d{1,8}){1,5}(?!\d)|\d+(?:[.,:/-]\d+)*/g;
  const MAYBE_ADDRESS = /\.\w|@/;
  const PLACEHOLDER = /⦅[nue][1-9]⦆/g;
  const SLOTS = 9;
  const TRAILING = ".,;:!?)]}'\"";
  const LEADING = "([{<'\"";
  const HOST = /^(?:[\w-]+\.)+([a-z][a-z0-9-]*)$/i;

  function address(word, tlds) {  // "u", "e" or null
    const at = word.indexOf("@");
    const scheme = word.match(/^[a-z][a-z0-9+.-]*:\/\//i);
    if (at > 0 && !scheme && !word.toLowerCase().startsWith("mailto:")) {
      const host = word.slice(at + 1).match(HOST);
      return /^[\w.+-]+$/.test(word.slice(0, at)) && host && tlds.has(host[1].toLowerCase()) ? "e" : null;
    }
    const rest = scheme ? word.slice(scheme[0].length) : word;
    const host = rest.split(/[/?#:]/, 1)[0].match(HOST);
    return host && tlds.has(host[1].toLowerCase()) ? "u" : null;
  }

  function located(text, tlds) {  // [{start, end, kind, text}] in order
    const found = [];
    if (MAYBE_ADDRESS.test(text)) {
      for (const m of text.matchAll(/\S+/g)) {
        let start = m.index, end = m.index + m[0].length;
        while (start < end && LEADING.includes(text[start])) start += 1;
        while (end > start && TRAILING.includes(text[end - 1])) end -= 1;
        const kind = address(text.slice(start, end), tlds);
        if (kind) found.push({ start, end, kind, text: text.slice(start, end) });
      }
    }
    const taken = [...found];
    for (const m of text.matchAll(NUMBER)) {
      const start = m.index, end = m.index + m[0].length;
      if (!taken.some((s) => s.start < end && start < s.end)) found.push({ start, end, kind: "n", text: m[0] });
    }
    return found.sort((a, b) => a.start - b.start);
  }

  function mask(text, tlds) {
    if (text.match(PLACEHOLDER)) return { text, spans: {}, count: {} };
    const names = new Map(), perKind = { n: 0, u: 0, e: 0 }, spans = {}, count = {};
    let out = "", at = 0;
    for (const span of located(text, tlds)) {
      const key = `${span.kind} ${span.text}`;
      if (!names.has(key) && perKind[span.kind] < SLOTS) {
        perKind[span.kind] += 1;
        names.set(key, `⦅${span.kind}${perKind[span.kind]}⦆`);
      }
      const name = names.get(key);
      if (!name) continue;
      spans[name] = span.text;
      count[name] = (count[name] || 0) + 1;
      out += text.slice(at, span.start) + name;
      at = span.end;
    }
    return { text: out + text.slice(at), spans, count };
  }

  function unmask(translation, masked) {
    const count = {};
    for (const m of translation.matchAll(PLACEHOLDER)) count[m[0]] = (count[m[0]] || 0) + 1;
    const names = new Set([...Object.keys(count), ...Object.keys(masked.count)]);
    if ([...names].some((n) => count[n] !== masked.count[n])) return null;
    const isWord = (c) => c !== undefined && /[\p{L}\p{N}]/u.test(c);
    return translation.replace(PLACEHOLDER, (name, at, whole) => {
      const before = whole[at - 1], after = whole[at + name.length];
      return (isWord(before) || before === "⦆" ? " " : "") + masked.spans[name] + (isWord(after) ? " " : "");
    });
  }

  window.nmtPlaceholders = { located, mask, unmask };
})();
