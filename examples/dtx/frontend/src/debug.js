// Loaded only by the -dev image: logs every fetch, for staging.
const original = globalThis.fetch;
globalThis.fetch = async (...args) => {
  const res = await original(...args);
  console.debug("fetch", args[0], res.status);
  return res;
};
