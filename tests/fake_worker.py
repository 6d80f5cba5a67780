"""The real screenshot worker (sealing, render jobs, claim, reuse, store, link) with a fixed
picture instead of a browser, for tests that need the database side of screenshots without
Chromium (tests/e2e/test_screenshots.py runs the real browser)."""

from __future__ import annotations

import io

from PIL import Image

from sidecar import config
from sidecar.screenshots import RenderError, Worker


class FakeBrowserWorker(Worker):
    """Records which URL it was asked to load; raises `failure` (a RenderError) instead of
    rendering when it is set."""

    loaded: list
    failure: RenderError | None = None

    def render_with_deadline(self, job):
        self.loaded.append(job["page_url"])
        if self.failure is not None:
            raise self.failure
        out = io.BytesIO()
        Image.new("RGB", (64, 40), (200, 30, 30)).save(out, "PNG")
        return {"png": out.getvalue(), "banner_text": "Accept all", "banner_version": "b4nn3r",
                "final_url": job["page_url"], "ms": 1}


def run_worker(app, failure: RenderError | None = None, **overrides) -> FakeBrowserWorker:
    """Seal what is pending and work the queue until nothing is due; return the worker."""
    settings = {k: v for k, v in app.config.items() if k.startswith("SP_")}
    w = FakeBrowserWorker(config.load(overrides={**settings, **overrides}))
    w.loaded, w.failure = [], failure
    try:
        while w.run_once():
            w.next_seal = 0.0  # seal again before each job, as records may keep coming
    finally:
        w.conn.close()
    return w
