"""Using aTES by keyboard alone: Tab to a control, see where the focus is, press keys."""

from playwright.sync_api import Page

FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  return {
    text: (e.textContent || e.value || "").trim(),
    tag: e.tagName.toLowerCase(),
    inDialog: !!e.closest("dialog[open]"),
    ring: getComputedStyle(e).boxShadow !== "none" || getComputedStyle(e).outlineStyle !== "none",
  };
}"""


def focused(page: Page) -> dict | None:
    """What has the keyboard focus: its text, tag, whether it is in an open dialog, and
    whether it shows a focus ring."""
    return page.evaluate(FOCUSED)


def tab_to(page: Page, text: str, limit: int = 80) -> dict:
    """Press Tab until the focused element's text is `text`; it must show a focus ring."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        if now and now["text"] == text:
            assert now["ring"], f"{text!r} has the focus but no visible focus ring"
            return now
    raise AssertionError(f"{limit} presses of Tab never reached {text!r}")
