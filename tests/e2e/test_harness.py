"""The harness itself: it must notice what it promises to notice."""

import pytest

pytestmark = pytest.mark.e2e


def test_javascript_contexts_run_htmx_and_nojs_contexts_do_not(context, nojs_context):
    context.goto("/sign-in")
    nojs_context.goto("/sign-in")
    assert context.page.evaluate("typeof window.htmx") == "object"
    assert nojs_context.page.evaluate("typeof window.htmx") == "undefined"


def test_a_csp_violation_is_reported(context):
    visitor = context
    visitor.goto("/sign-in")
    page = visitor.page
    with page.expect_console_message(lambda message: message.type == "error"):
        # An inline script, which the Content-Security-Policy (script-src 'self') refuses.
        page.evaluate(
            """() => { const s = document.createElement('script');
                       s.textContent = 'window.inlineRan = true';
                       document.head.appendChild(s); }"""
        )
    assert page.evaluate("window.inlineRan === undefined")
    assert any("Content Security Policy" in problem for problem in visitor.problems), (
        visitor.problems
    )
    visitor.problems.clear()  # provoked on purpose; the fixture's final check stays clean


def test_a_javascript_error_is_reported(context):
    visitor = context
    visitor.goto("/sign-in")
    with visitor.page.expect_event("pageerror"):
        visitor.page.evaluate("setTimeout(() => { throw new Error('a provoked error') }, 0)")
    assert any("a provoked error" in problem for problem in visitor.problems), visitor.problems
    visitor.problems.clear()
