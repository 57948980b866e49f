// Builds the front end into dist/: every asset renamed with a content hash (long-lived
// caching), index.html rewritten to point at the hashed names. No dependencies: Node's
// standard library only. Run with `npm run build` (or `node frontend/build.mjs`).
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, "src");
const dist = join(here, "dist");

rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, "assets"), { recursive: true });

const renamed = new Map();
for (const name of readdirSync(src).sort()) {
  if (name === "index.html") continue;
  const bytes = readFileSync(join(src, name));
  const hash = createHash("sha256").update(bytes).digest("hex").slice(0, 10);
  const ext = extname(name);
  const out = `assets/${name.slice(0, -ext.length)}.${hash}${ext}`;
  writeFileSync(join(dist, out), bytes);
  renamed.set(name, out);
}

let html = readFileSync(join(src, "index.html"), "utf8");
for (const [from, to] of renamed) {
  html = html.replaceAll(`"./${from}"`, `"/${to}"`);
}
html = html.replace("%VERSION%", process.env.VERSION ?? "dev");
writeFileSync(join(dist, "index.html"), html);
console.log(`built ${renamed.size + 1} files into ${dist}`);
