// aTES: small progressive enhancements; every page works without this file.
document.addEventListener("click", (event) => {
  const close = event.target.closest("[data-dismiss]");
  if (close) close.closest(".flash")?.remove();
});

// data-hx-confirm asks in the page's own dialog instead of the browser's confirm(): it is
// styled, names the action on its button, and is used by keyboard like the rest of the page
// (focus starts on Cancel, Tab moves to the action, Escape cancels).
// One question at a time: `asking` is the request the dialog asks about. A dialog's "close"
// event comes after it has closed, so an Escape quickly followed by asking again delivers the
// first closing's event while the dialog is open again: that one is ignored (it used to use
// up the second question's answer, and the action never ran).
let asking = null;

function answered(dialog) {
  if (dialog.open) return;
  const request = asking;
  asking = null;
  if (request && dialog.returnValue === "confirm") request.issueRequest(true);
}

document.addEventListener("htmx:confirm", (event) => {
  const dialog = document.getElementById("confirm-dialog");
  if (!event.detail.question || !dialog) return;
  event.preventDefault();
  if (!dialog.dataset.answers) {
    dialog.addEventListener("close", () => answered(dialog));
    dialog.dataset.answers = "listening";
  }
  const button = event.detail.elt.querySelector("button[type=submit]") ?? event.detail.elt;
  const action = button.textContent.trim();
  const yes = dialog.querySelector("#confirm-yes");
  yes.textContent = action;
  yes.className = button.className.replace("btn-small", "").trim() || "btn";
  dialog.querySelector("#confirm-title").textContent = `${action}?`;
  dialog.querySelector("#confirm-question").textContent = event.detail.question;
  dialog.returnValue = "";
  asking = event.detail;
  dialog.showModal();
});

// Background polls (data-background-poll: the top bar's notification count) rest while the
// tab is hidden; they ask again the moment it is shown (their visibilitychange trigger).
document.addEventListener("htmx:beforeRequest", (event) => {
  if (document.hidden && event.detail.elt.matches("[data-background-poll]")) {
    event.preventDefault();
  }
});

// data-copy="#id": copy that element's text (a new API token) and say so on the button.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source || !navigator.clipboard) return;
  await navigator.clipboard.writeText(source.textContent.trim());
  button.textContent = button.dataset.copied || button.textContent;
});
