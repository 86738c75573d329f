// Fetch Tools buttons. The session cookie is HttpOnly: this script never sees a token. The
// browser sends the cookie itself (credentials: "same-origin"), and the server accepts it
// because this page is on its allowlist (/admin, /oauth/callback) and the request is same-origin.
"use strict";

function clear(element) {
  while (element.firstChild) element.removeChild(element.firstChild);
}

function line(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  element.textContent = text;
  return element;
}

function showTools(target, data) {
  clear(target);
  target.className = "result success";
  const count = data.tools.length;
  target.appendChild(
    line("p", "", `Fetched ${count} tool${count === 1 ? "" : "s"} from ${data.gateway_id} as ${data.fetched_by}.`),
  );
  const list = document.createElement("ul");
  list.className = "tools";
  for (const tool of data.tools) {
    const item = document.createElement("li");
    item.appendChild(line("code", "", tool.name));
    if (tool.description) item.appendChild(line("span", "muted", ` ${tool.description}`));
    list.appendChild(item);
  }
  target.appendChild(list);
}

function showError(target, message) {
  clear(target);
  target.className = "result failure";
  target.appendChild(line("strong", "", "Could not fetch tools"));
  target.appendChild(line("p", "", message));
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && typeof body.detail === "string") return body.detail;
  } catch (_ignored) {
    // not JSON: fall through to the status line
  }
  return `HTTP ${response.status} ${response.statusText}`.trim();
}

async function fetchTools(button) {
  const target = document.getElementById(button.dataset.result);
  const label = button.textContent;
  button.disabled = true;
  button.textContent = "Fetching…";
  target.className = "result pending";
  target.textContent = "Fetching tools…";
  try {
    const response = await fetch(button.dataset.fetchTools, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (response.ok) {
      const data = await response.json();
      showTools(target, data);
      const count = button.dataset.count && document.getElementById(button.dataset.count);
      if (count) count.textContent = `${data.tools.length} (by ${data.fetched_by})`;
    } else {
      showError(target, await errorMessage(response));
    }
  } catch (error) {
    showError(target, `Request failed: ${error.message}`);
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button[data-fetch-tools]")) {
    button.addEventListener("click", () => fetchTools(button));
  }
});
