// Generates cases.json from docker/metadata-action's own test tables.
//
// Usage (from a clone or mirror of https://github.com/docker/metadata-action, Apache-2.0):
//   node extract.mjs /path/to/metadata-action.git dc802804100637a589fabce1cb79ff13a1411302 > cases.json
//
// It reads __tests__/meta.test.ts at that commit, evaluates every `test.each([...])` table of
// the describe blocks that compute tags, and writes one case per row: the fixture's variables
// (dotenv, in `envs`), its event payload (in `events`), the `tags:`/`flavor:` inputs and the tags expected for the first
// image (the `user/app:` part removed). Nothing is hand-edited.
import {execFileSync} from 'node:child_process';

const [gitDir, commit] = process.argv.slice(2);
const show = path => execFileSync('git', ['--git-dir', gitDir, 'show', `${commit}:${path}`], {encoding: 'utf8', maxBuffer: 1 << 26});
const src = show('__tests__/meta.test.ts');

// Finds the matching close bracket of the `[` at `start`, skipping strings and comments.
function matchBracket(text, start) {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (c === '"' || c === "'" || c === '`') {
      for (i++; text[i] !== c; i++) if (text[i] === '\\') i++;
    } else if (c === '/' && text[i + 1] === '/') {
      while (text[i] !== '\n') i++;
    } else if (c === '[' || c === '{' || c === '(') depth++;
    else if (c === ']' || c === '}' || c === ')') {
      depth--;
      if (depth === 0) return i;
    }
  }
  throw new Error('unbalanced');
}

// Removes TypeScript `as Type` casts outside strings.
function stripCasts(text) {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      for (; text[j] !== c; j++) if (text[j] === '\\') j++;
      out += text.slice(i, j + 1);
      i = j;
      continue;
    }
    const m = /^\s+as\s+[A-Za-z]+(\[\])?/.exec(text.slice(i, i + 40));
    if (m && /\s/.test(c)) {
      i += m[0].length - 1;
      continue;
    }
    out += c;
  }
  return out;
}

function dotenv(text) {
  const env = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) env[m[1]] = m[2];
  }
  return env;
}

const tagSuites = ['null', 'push', 'tag', 'latest', 'pr', 'pr-head-sha', 'schedule', 'release', 'raw', 'json', 'bakeFile', 'bakeFileTagsLabels', 'sepTags'];
const cases = [];
const events = {};
const envs = {};
const describeRe = /describe\('([^']+)'/g;
let m;
while ((m = describeRe.exec(src))) {
  const suite = m[1];
  if (!tagSuites.includes(suite)) continue;
  const each = src.indexOf('test.each(', m.index);
  const open = src.indexOf('[', each);
  const close = matchBracket(src, open);
  const rows = new Function(`return ${stripCasts(src.slice(open, close + 1))};`)();
  for (const row of rows) {
    const [name, envFile, inputs, expected] = row;
    const env = (envs[envFile] ??= dotenv(show(`__tests__/fixtures/${envFile}`)));
    // The test's mock reads the payload only when the file exists (a commented-out
    // GITHUB_EVENT_PATH gives {}): `event` names the payload in `events`, or is null.
    let event = null;
    const eventPath = env.GITHUB_EVENT_PATH;
    if (eventPath) {
      const file = eventPath.replace(/^\.\//, '');
      try {
        events[file] ??= JSON.parse(show(file));
        event = file;
      } catch {
        event = null;
      }
    }
    // The tags metadata-action gives, for every image.
    let full;
    if (suite === 'json') full = expected.tags;
    else if (suite === 'bakeFile' || suite === 'bakeFileTagsLabels') full = Object.values(expected.target)[0].tags;
    else if (suite === 'sepTags') full = expected.split(inputs.sepTags);
    else full = row[4];
    const images = inputs.images || [];
    const first = images.length ? (typeof images[0] === 'string' ? images[0] : images[0].name) : '';
    const prefix = first.replace(/^name=/, '').split(',')[0].toLowerCase() + ':';
    const tags = images.length ? full.filter(t => t.startsWith(prefix)).map(t => t.slice(prefix.length)) : full;
    cases.push({suite, name, env_file: envFile, pr_head_sha: suite === 'pr-head-sha', event, tags: inputs.tags || [], flavor: inputs.flavor || [], expected: tags});
  }
}
process.stdout.write(JSON.stringify({source: `https://github.com/docker/metadata-action/blob/${commit}/__tests__/meta.test.ts`, license: 'Apache-2.0', commit, cases, envs, events}, null, 1) + '\n');
