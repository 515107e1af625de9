// aTES: small progressive enhancements; every page works without this file.
document.addEventListener("click", (event) => {
  const close = event.target.closest("[data-dismiss]");
  if (close) close.closest(".flash")?.remove();
});

// data-hx-confirm asks in the page's own dialog instead of the browser's confirm(): it is
// styled, names the action on its button, and is used by keyboard like the rest of the page
// (focus starts on Cancel, Tab moves to the action, Escape cancels).
document.addEventListener("htmx:confirm", (event) => {
  const dialog = document.getElementById("confirm-dialog");
  if (!event.detail.question || !dialog) return;
  event.preventDefault();
  const button = event.detail.elt.querySelector("button[type=submit]") ?? event.detail.elt;
  const action = button.textContent.trim();
  const yes = dialog.querySelector("#confirm-yes");
  yes.textContent = action;
  yes.className = button.className.replace("btn-small", "").trim() || "btn";
  dialog.querySelector("#confirm-title").textContent = `${action}?`;
  dialog.querySelector("#confirm-question").textContent = event.detail.question;
  dialog.returnValue = "";
  dialog.addEventListener(
    "close",
    () => {
      if (dialog.returnValue === "confirm") event.detail.issueRequest(true);
    },
    { once: true },
  );
  dialog.showModal();
});
