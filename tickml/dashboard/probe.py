"""What a page of the dashboard shows, read in a real browser: for the tests, the benchmark and the screenshots.

Each panel is a ``section.panel`` whose class says its state (``ready``,
``empty`` or ``error``; none while it loads) and whose note says what it
fetched; Plotly keeps a graph's traces on its element (``.data``).
"""

from __future__ import annotations

import re
import shutil

# Every panel of the page in view: its name, state, note, and what it drew (plot points, table rows, a number).
PANEL_STATES_JS = """() => [...document.querySelectorAll('section.panel')].map(s => ({
    name: JSON.parse(s.id).panel,
    state: s.className.split(' ').filter(c => ['ready', 'empty', 'error'].includes(c))[0] || 'loading',
    note: s.querySelector('.note').innerText,
    points: [...s.querySelectorAll('.js-plotly-plot')].reduce((n, g) =>
        n + (g.data || []).reduce((m, t) => m + ((t.x && t.x.length) || 0), 0), 0),
    traces: [...s.querySelectorAll('.js-plotly-plot')].flatMap(g => (g.data || []).map(t => t.name)),
    rows: [...s.querySelectorAll('tbody tr')].map(r => [...r.cells].map(c => c.innerText)),
    number: (s.querySelector('.number') || {}).innerText || null,
}))"""

# True once the page has panels and every one of them is ready, empty or in error.
ALL_ANSWERED_JS = """() => {
    const panels = [...document.querySelectorAll('section.panel')];
    return panels.length > 0 && panels.every(p => /\\b(ready|empty|error)\\b/.test(p.className));
}"""

_FETCHED = re.compile(r"^([\d,]+) points fetched")


def panel_states(page) -> dict[str, dict]:
    return {p["name"]: p for p in page.evaluate(PANEL_STATES_JS)}


def points_fetched(states: dict[str, dict]) -> int:
    """The points the page's queries returned, as each panel's note says."""
    return sum(int(m.group(1).replace(",", "")) for s in states.values() if (m := _FETCHED.match(s["note"])))


def new_page(browser, **options):
    """A page of a browser context of its own that logs in to the dashboard as the stack's account (basic auth,
    answered when the app asks); ``page.context.close()`` ends both."""
    from tickml import secrets

    username, password = secrets.dashboard_login()
    context = browser.new_context(http_credentials={"username": username, "password": password}, **options)
    return context.new_page()


def launch(playwright):
    """Chromium from the system's packages (Playwright's own download is not reachable everywhere)."""
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    return playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
