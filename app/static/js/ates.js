// aTES: small progressive enhancements; every page works without this file.
document.addEventListener("click", (event) => {
  const close = event.target.closest("[data-dismiss]");
  if (close) close.closest(".flash")?.remove();
});
