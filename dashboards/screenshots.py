"""Take the screenshots docs/dashboards.md shows: one per page of the dashboard, as the stack serves it.

    stack/demo.sh --duration 300 &      # or any fleet publishing for a few minutes
    .venv/bin/python dashboards/screenshots.py [--device ID] [--range 15m] [--pages device] [--url URL]

Each page is opened in Chromium (Debian's package, driven by Playwright),
and taken once every panel has answered, into dashboards/screenshots/
(fleet.png, device.png, tasks.png). The device page shows ``--device``, or a
power meter with the most predictions in the range. ``--url`` takes them
from another dashboard than the stack's service (one started from a checkout
whose pages changed: ``tickml dashboard --listen 127.0.0.1:PORT``);
``--pages`` retakes only the pages that look different. The browser logs in
as the stack's dashboard account (``tickml secrets login dashboard``).
"""

from __future__ import annotations

import argparse
import sys
import urllib.parse
from pathlib import Path

from tickml.dashboard.probe import ALL_ANSWERED_JS, launch, new_page, panel_states
from tickml.influx import Influx
from tickml.config import dashboard_address

OUT = Path(__file__).resolve().with_name("screenshots")
PAGES = ("fleet", "device", "tasks")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", help="the device page's device (default: a power meter with predictions)")
    parser.add_argument("--range", default="15m", help="the pages' range (default %(default)s)")
    parser.add_argument("--pages", default=",".join(PAGES),
                        help="the pages to take, comma-separated (default %(default)s)")
    parser.add_argument("--url", help="the dashboard's address (default: the stack's, dashboards/dashboard.toml)")
    args = parser.parse_args()
    pages = args.pages.split(",")
    if not set(pages) <= set(PAGES):
        parser.error(f"--pages: choose among {', '.join(PAGES)}")
    device = args.device
    if device is None:
        influx = Influx()
        counted = "SELECT count(\"Hyperprediction\") FROM \"predictions\" WHERE time > now() - {} " \
                  "AND \"model\" = 'power' GROUP BY \"device_id\""
        live = {r["device_id"] for r in influx.query(counted.format("1m"))}
        rows = [r for r in influx.query(counted.format(args.range)) if r["device_id"] in live]
        if not rows:
            print("no power meter had a prediction in the last minute: run a fleet first (stack/demo.sh)",
                  file=sys.stderr)
            return 1
        device = max(rows, key=lambda r: (r["count"], r["device_id"]))["device_id"]  # the longest history
    if args.url:
        base = args.url.rstrip("/")
    else:
        host, port = dashboard_address()
        base = f"http://{host}:{port}"
    OUT.mkdir(exist_ok=True)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        page = new_page(browser, viewport={"width": 1400, "height": 1000})  # the stack's dashboard login
        paths = {"fleet": "/", "device": f"/device/{urllib.parse.quote(device, safe='')}", "tasks": "/tasks"}
        for name in pages:
            page.goto(f"{base}{paths[name]}?range={args.range}&refresh=0")
            page.wait_for_function(ALL_ANSWERED_JS, timeout=120_000)
            page.wait_for_timeout(500)  # Plotly's transitions
            page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
            states = panel_states(page)
            drawn = sum(s["state"] == "ready" for s in states.values())
            print(f"{OUT / f'{name}.png'}: {drawn} of {len(states)} panels drawn")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
