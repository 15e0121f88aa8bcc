// A strict reader of the Prometheus text exposition format (0.0.4): # HELP and
// # TYPE lines, samples with labels. Anything it does not understand throws,
// naming the line, so a malformed exposition fails the test that reads it.

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES = { histogram: ['_bucket', '_count', '_sum'], summary: ['_count', '_sum'] };

function parseValue(text, line) {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const v = Number(text);
  if (text === '' || Number.isNaN(v)) throw new Error(`bad value in: ${line}`);
  return v;
}

// `{a="x",b="y\"z"}` from position i of line; returns [labels, index after '}'].
function parseLabels(line, i) {
  const labels = {};
  i += 1;  // '{'
  while (line[i] !== '}') {
    const eq = line.indexOf('=', i);
    if (eq < 0 || line[eq + 1] !== '"') throw new Error(`bad label in: ${line}`);
    const name = line.slice(i, eq);
    if (!LABEL.test(name) || name in labels) throw new Error(`bad or repeated label ${name} in: ${line}`);
    let value = '';
    let j = eq + 2;
    for (; j < line.length && line[j] !== '"'; j++) {
      if (line[j] !== '\\') { value += line[j]; continue; }
      const esc = line[++j];
      if (esc === 'n') value += '\n';
      else if (esc === '\\' || esc === '"') value += esc;
      else throw new Error(`bad escape in: ${line}`);
    }
    if (j >= line.length) throw new Error(`unterminated label value in: ${line}`);
    labels[name] = value;
    i = j + 1;
    if (line[i] === ',') i += 1;
    else if (line[i] !== '}') throw new Error(`expected , or } in: ${line}`);
  }
  return [labels, i + 1];
}

/**
 * Parses an exposition. Returns Map(family name → {help, type, samples: [{name, labels, value}]}).
 * Throws when a sample has no family declared before it by # TYPE, or a family lacks # HELP.
 */
export function parsePrometheus(text) {
  const families = new Map();
  const family = (name) => {
    if (!families.has(name)) families.set(name, { help: undefined, type: undefined, samples: [] });
    return families.get(name);
  };
  let current;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      if (!NAME.test(name)) throw new Error(`bad metric name in: ${line}`);
      const f = family(name);
      if (kind === 'HELP') f.help = rest;
      else if (TYPES.has(rest)) f.type = rest;
      else throw new Error(`bad type in: ${line}`);
      current = name;
      continue;
    }
    if (line.startsWith('#')) continue;  // a comment
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) throw new Error(`bad sample: ${line}`);
    const name = line.slice(0, nameEnd);
    let labels = {};
    let i = nameEnd;
    if (line[i] === '{') [labels, i] = parseLabels(line, i);
    const parts = line.slice(i).trim().split(/\s+/);
    if (parts.length < 1 || parts.length > 2) throw new Error(`bad sample: ${line}`);
    const f = families.get(current);
    const allowed = [current, ...(SUFFIXES[f?.type] ?? []).map((s) => current + s)];
    if (!f?.type || !allowed.includes(name)) throw new Error(`sample outside its family (# TYPE first): ${line}`);
    f.samples.push({ name, labels, value: parseValue(parts[0], line) });
  }
  for (const [name, f] of families) {
    if (f.help === undefined || f.type === undefined) throw new Error(`${name} lacks # HELP or # TYPE`);
  }
  return families;
}

/**
 * The sum of the samples called `name` whose labels include every one in `labels`
 * (a family's name, or a histogram's name_count and so on). Throws when none matches.
 */
export function sampleSum(families, name, labels = {}) {
  const fam = families.get(name) ?? families.get(name.replace(/_(bucket|count|sum)$/, ''));
  const matching = (fam?.samples ?? []).filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matching.length === 0) throw new Error(`no sample ${name} ${JSON.stringify(labels)}`);
  return matching.reduce((sum, s) => sum + s.value, 0);
}
