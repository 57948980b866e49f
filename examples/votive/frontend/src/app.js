// Votive's client: lists polls, creates them, votes. Talks to the API through the proxy (/api).
const list = document.querySelector("#polls");
const form = document.querySelector("#new-poll");

async function api(path, options = {}) {
  const res = await fetch(`/api${path}`, {
    headers: { "Content-Type": "application/json" },
    ...options,
  });
  if (!res.ok) throw new Error(`${options.method ?? "GET"} ${path}: ${res.status}`);
  return res.json();
}

function render(polls) {
  list.replaceChildren(
    ...polls.map((poll) => {
      const item = document.createElement("li");
      item.textContent = `${poll.question} — ${poll.yes} yes / ${poll.no} no `;
      for (const choice of ["yes", "no"]) {
        const button = document.createElement("button");
        button.textContent = choice;
        button.onclick = async () => {
          await api(`/polls/${poll.id}/votes`, { method: "POST", body: JSON.stringify({ choice }) });
          refresh();
        };
        item.append(button);
      }
      return item;
    }),
  );
}

async function refresh() {
  render(await api("/polls"));
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const question = new FormData(form).get("question");
  await api("/polls", { method: "POST", body: JSON.stringify({ question }) });
  form.reset();
  refresh();
});

refresh();
