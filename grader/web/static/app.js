// Live deadlines and live submission status; no dependencies.
"use strict";

function describeRemaining(ms) {
  if (ms <= 0) return "deadline passed";
  const s = Math.floor(ms / 1000), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600);
  const m = Math.floor(s % 3600 / 60), sec = s % 60;
  return (d ? d + "d " : "") + h + "h " + m + "m " + sec + "s left";
}

function tickCountdowns() {
  for (const el of document.querySelectorAll(".countdown[data-due]")) {
    const left = Date.parse(el.dataset.due) - Date.now();
    el.textContent = describeRemaining(left);
    el.classList.toggle("past", left <= 0);
  }
}

function describeStatus(s) {
  if (s.state === "queued" || s.state === "running") return s.status_text;  // worded by grader/web/live_status.py
  const hidden = s.feedback && s.feedback.hidden ? " (score " + s.feedback.hidden + ")" : "";  // daily limit
  return s.score === null ? s.status + hidden : s.status + ": " + s.score + " / " + s.max_score;
}

async function pollStatuses() {
  const live = document.querySelectorAll("[data-poll]");
  for (const el of live) {
    const response = await fetch(el.dataset.poll, {headers: {Accept: "application/json"}});
    if (!response.ok) continue;
    const s = await response.json();
    el.textContent = describeStatus(s);
    el.className = "status status-" + s.status;
    const message = document.querySelector("[data-live-message]");  // the submission page's sentence
    if (message && s.student_message && (s.state === "queued" || s.state === "running")) {
      message.textContent = s.student_message;
    }
    if (s.state !== "queued" && s.state !== "running") {
      el.removeAttribute("data-poll");
      if (/\/submissions\/\d+$/.test(location.pathname)) location.reload();  // show the full result
    }
  }
}

// Refuse a too-large file before sending it; the server checks again.
for (const input of document.querySelectorAll("input[type=file][data-limit]")) {
  input.addEventListener("change", () => {
    const file = input.files[0], limit = Number(input.dataset.limit);
    const tooLarge = file && file.size > limit;
    input.setCustomValidity(tooLarge ? "The file is too large: the limit is " + (limit / 1048576) + " MiB." : "");
    input.reportValidity();
  });
}

// Copy a shown-once secret (the account page's new token) from the field the button names.
for (const button of document.querySelectorAll("button[data-copy]")) {
  button.addEventListener("click", async () => {
    const field = document.getElementById(button.dataset.copy);
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
    } catch {
      document.execCommand("copy");  // plain http on another host: no clipboard API
    }
    button.textContent = "Copied";
  });
}

tickCountdowns();
setInterval(tickCountdowns, 1000);
setInterval(pollStatuses, 2000);
