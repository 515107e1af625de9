"""At 360 px wide no page scrolls sideways as a whole; wide tables scroll inside .table-wrap."""

import pytest

from tests.e2e.conftest import PHONE
from tests.e2e.ui import demo_user, tour

pytestmark = pytest.mark.e2e

ROLES = ["anonymous", "worker", "accountant", "manager", "admin"]
WIDTH = PHONE["width"]


@pytest.mark.parametrize("role", ROLES)
def test_no_page_scrolls_sideways_on_a_phone(visit, demo_roles, shuffle_record_path, role):
    visitor = visit(js=True, viewport=PHONE, as_popug=demo_user(demo_roles, role))
    too_wide = {}
    for where in tour(visitor, role, shuffle_record_path):
        width = visitor.page.evaluate("document.documentElement.scrollWidth")
        if width > WIDTH:
            too_wide[where] = (width, widest_elements(visitor.page))
    assert not too_wide, f"pages wider than {WIDTH}px: {too_wide}"


def widest_elements(page) -> list[str]:
    """The outermost elements that stick out to the right, to say what to fix."""
    return page.evaluate(
        """(width) => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > width
                         && !e.closest('.table-wrap') && e.parentElement
                         && e.parentElement.getBoundingClientRect().right <= width)
            .slice(0, 5)
            .map(e => `${e.tagName.toLowerCase()}.${[...e.classList].join('.')}`
                      + ` right=${Math.round(e.getBoundingClientRect().right)}`)""",
        WIDTH,
    )
