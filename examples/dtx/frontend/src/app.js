// Reads the API's status through the gateway (nginx: /api → backend).
const out = document.querySelector("#status");
fetch("/api/status")
  .then((res) => res.json())
  .then((body) => { out.value = `${body.status}, ${body.env}, ${body.version}`; })
  .catch((err) => { out.value = `unreachable: ${err.message}`; });
