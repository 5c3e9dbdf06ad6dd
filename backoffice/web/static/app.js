// Progressive enhancement of the backoffice's pages; every page works without it.
// Confirmation pop-ups (<dialog>), copy buttons, and a busy state on slow forms.
"use strict";

function enhanceDialogs() {
  for (const opener of document.querySelectorAll("[data-dialog]")) {
    const dialog = document.getElementById(opener.dataset.dialog);
    if (!dialog || typeof dialog.showModal !== "function") {
      continue; // the link still leads to the confirmation page
    }
    opener.addEventListener("click", (event) => {
      event.preventDefault();
      dialog.showModal();
      const first = dialog.querySelector("input, button");
      if (first) {
        first.focus();
      }
    });
  }
  for (const closer of document.querySelectorAll("dialog [data-close]")) {
    closer.addEventListener("click", (event) => {
      event.preventDefault();
      closer.closest("dialog").close();
    });
  }
}

function enhanceCopyButtons() {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const source = document.getElementById(button.dataset.copy);
    const status = button.parentElement.querySelector(".copy-status");
    if (!source || !navigator.clipboard) {
      continue;
    }
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(source.textContent.trim());
        if (status) {
          status.textContent = button.dataset.copied;
        }
      } catch (error) {
        if (status) {
          status.textContent = button.dataset.copyFailed;
        }
      }
    });
  }
}

function markBusy(form, button, text) {
  form.setAttribute("aria-busy", "true");
  const live = document.querySelector(".live");
  if (live) {
    live.textContent = text;
  }
  // After the submission has taken the button's name and value.
  window.setTimeout(() => {
    button.disabled = true;
    button.textContent = text;
  }, 0);
}

function enhanceSlowForms() {
  for (const form of document.querySelectorAll("form[data-busy]")) {
    form.addEventListener("submit", (event) => {
      const button = event.submitter || form.querySelector("button[type=submit]");
      if (button) {
        markBusy(form, button, form.dataset.busy);
      }
    });
  }
  for (const form of document.querySelectorAll("form[data-busy-last]")) {
    form.addEventListener("submit", (event) => {
      if (event.submitter && event.submitter.hasAttribute("data-busy-submit")) {
        markBusy(form, event.submitter, form.dataset.busyLast);
      }
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  enhanceDialogs();
  enhanceCopyButtons();
  enhanceSlowForms();
});
