// aTES: pages that tell their reader what changed since they were loaded (app/live.py).
//
// The page's notice (#live-notice, hidden) names its check (data-live-check) and the version
// of what the page shows (data-live-version). Every 15 s while the tab is visible, and at
// once when it is shown again, the check is asked with If-None-Match as a background request
// (X-Background: 1, not activity for the session): 304 while nothing changed. When it has
// changed, the page's parts (elements with data-live-part and an id) are fetched again from
// the page's own address and put in place — at once on pages marked data-live-auto where the
// reader has typed nothing into a part nor is inside one, else when the reader presses
// "show". What the reader typed into a part's fields is kept. Without JavaScript the notice
// stays hidden and the page is right as loaded.
(() => {
  const EVERY_MS = 15000;
  const notice = document.getElementById("live-notice");
  if (!notice || !window.fetch) return;

  let version = notice.dataset.liveVersion;
  let timer = null;
  let asking = false;
  let waiting = false; // changed, shown to the reader: nothing more to ask until "show"
  let stopped = false; // the check refused (signed out, no longer allowed): stay as loaded

  const parts = () => Array.from(document.querySelectorAll("[data-live-part][id]"));
  const fields = (root) => Array.from(root.querySelectorAll("input, textarea, select"));

  function typedInto(field) {
    if (field.type === "hidden" || field.type === "submit" || field.type === "button") return false;
    if (field.type === "checkbox" || field.type === "radio") return field.checked !== field.defaultChecked;
    if (field.tagName === "SELECT") return Array.from(field.options).some((o) => o.selected !== o.defaultSelected);
    return field.value !== field.defaultValue;
  }

  function untouched() {
    return parts().every(
      (part) => !part.contains(document.activeElement) && !fields(part).some(typedInto),
    );
  }

  const etagOf = (response) => (response.headers.get("ETag") || "").replace(/^W\//, "").replace(/"/g, "");

  async function ask() {
    const response = await fetch(notice.dataset.liveCheck, {
      headers: { "If-None-Match": `"${version}"`, "X-Background": "1" },
      cache: "no-store",
      credentials: "same-origin",
      redirect: "manual",
    });
    if (response.status === 304) return null;
    if (response.status === 200) return etagOf(response) || null;
    if (response.type === "opaqueredirect" || (response.status >= 400 && response.status < 500)) {
      stopped = true; // the top bar's count poll takes an ended session to sign-in
    }
    return null;
  }

  function showNotice() {
    waiting = true;
    notice.hidden = false;
  }

  // Fetches the page again and puts its parts in place (background: nobody pressed "show").
  async function refresh(background) {
    const response = await fetch(window.location.href, {
      headers: background ? { "X-Background": "1" } : {},
      cache: "no-store",
      credentials: "same-origin",
      redirect: "manual",
    });
    if (!response.ok) {
      if (background) showNotice(); // "show" then reloads the whole page
      else window.location.reload();
      return;
    }
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const part of parts()) {
      const replacement = fresh.getElementById(part.id);
      if (!replacement) continue;
      const typed = fields(part).filter((f) => f.name && typedInto(f));
      const node = document.importNode(replacement, true);
      for (const field of typed) {
        const twin = Array.from(node.querySelectorAll("[name]")).find((f) => f.name === field.name);
        if (twin && twin.type !== "checkbox" && twin.type !== "radio") twin.value = field.value;
      }
      part.replaceWith(node);
      if (window.htmx) window.htmx.process(node);
    }
    const balance = fresh.getElementById("my-balance");
    if (balance) document.getElementById("my-balance")?.replaceWith(document.importNode(balance, true));
    const freshNotice = fresh.getElementById("live-notice");
    if (freshNotice) version = freshNotice.dataset.liveVersion;
    notice.hidden = true;
    waiting = false;
  }

  async function check(afterAction = false) {
    if (asking || waiting || stopped || (document.hidden && !afterAction)) return;
    asking = true;
    try {
      const changed = await ask();
      if (changed === null) return;
      if (afterAction && !("liveAuto" in notice.dataset)) {
        // The reader's own action re-rendered what it changed: that is the page's version now.
        version = changed;
      } else if ("liveAuto" in notice.dataset && untouched()) {
        await refresh(true);
      } else {
        showNotice();
      }
    } catch {
      // Offline or the server restarting: ask again next time.
    } finally {
      asking = false;
    }
  }

  function schedule() {
    clearInterval(timer);
    timer = setInterval(() => check(), EVERY_MS);
  }

  notice.querySelector("[data-live-show]")?.addEventListener("click", (event) => {
    event.preventDefault();
    refresh(false).then(schedule, () => window.location.reload());
  });

  // Hidden tabs rest; shown again, they ask at once and then every 15 s.
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      clearInterval(timer);
      timer = null;
    } else {
      check();
      schedule();
    }
  });

  // After the reader's own htmx action (not a background poll), ask again: it changed what the
  // page shows, and it re-rendered that part itself.
  document.addEventListener("htmx:afterRequest", (event) => {
    const elt = event.detail.elt;
    if (!event.detail.successful || (elt.closest && elt.closest("[data-background-poll]"))) return;
    check(true);
  });

  if (!document.hidden) schedule();
})();
