// Asks the backend whether it is up. In production the backend is reached on the same host
// under /cgi-bin (see compose.prod.yaml); during development on CARTRITA_API.
const out = document.querySelector("#health");
const base = globalThis.CARTRITA_API ?? `${location.protocol}//${location.hostname}:8000`;
fetch(`${base}/cgi-bin/health`)
  .then((res) => res.json())
  .then((body) => { out.value = `${body.status} (${body.version})`; })
  .catch((err) => { out.value = `unreachable: ${err.message}`; });
