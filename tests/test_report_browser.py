"""The HTML report in a real headless browser (Debian's chromium).

Snakemake's report is one self-contained HTML file: a React app whose results (figures
and HTML pages) are embedded as data URIs in a ``results`` object and shown by the app's
global ``app.setView(...)``: figures as an ``<img>``, pages in an ``<iframe>``. The test
copies the report, appends a probe script that shows every result in turn through the
app itself and measures it, and lets chromium run it (``--virtual-time-budget``) and
dump the DOM, from which it reads the probe's findings:

- every figure is drawn: the app's ``<img>`` has ``naturalWidth > 0``, and so has every
  image inside an HTML page (the sample images of the data pages);
- every page fits the report's content area of a 1400 px wide window without
  horizontal scrolling (``scrollWidth <= clientWidth`` of the page in the app's iframe;
  an iframe showing a data URI is cross-origin, so the probe puts the same page into the
  same iframe through ``srcdoc``, at the same size, to measure it).

Two controls make sure the probe can fail: a corrupt PNG must be reported as not drawn,
and a page with a 3000 px wide table as too wide.

Chromium is skipped with a message when it is not installed (CI installs it with
``apt-get install -y chromium``).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import pytest

WINDOW = (1400, 900)
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

PROBE = r"""
(async function () {
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const out = { images: {}, pages: {}, visited: 0, total: 0, errors: [] };
  async function waitFor(check, tries) {
    for (let i = 0; i < (tries || 250); i++) {
      const value = check();
      if (value) return value;
      await sleep(20);
    }
    return null;
  }
  function decode(uri) {
    const bytes = Uint8Array.from(atob(uri.split("base64,")[1]), (c) => c.charCodeAt(0));
    return new TextDecoder("utf-8").decode(bytes);
  }
  function encode(text) {
    const bytes = new TextEncoder().encode(text);
    let binary = "";
    bytes.forEach((b) => { binary += String.fromCharCode(b); });
    return "data:text/html;base64," + btoa(binary);
  }
  // Controls: the probe must report these as broken.
  results["__control__/broken.png"] = { mime_type: "image/png", data_uri: "data:image/png;base64,iVBORw0KGgoAAAA" };
  results["__control__/wide.html"] = { mime_type: "text/html",
    data_uri: encode('<!DOCTYPE html><html><body><table><tr><td><div style="width:3000px">wide</div></td></tr></table></body></html>') };
  try {
    const entries = Object.entries(results);
    out.total = entries.length;
    for (const [path, entry] of entries) {
      if (entry.mime_type.startsWith("image/")) {
        app.setView({ content: "img", contentPath: entry.data_uri, resultPath: path });
        const img = await waitFor(() => Array.from(document.querySelectorAll("img")).find(
          (i) => i.getAttribute("src") === entry.data_uri && i.complete));
        out.images[path] = img ? { naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
                                   shownWidth: img.clientWidth } : null;
        out.visited += 1;
      } else if (entry.mime_type === "text/html") {
        app.setView({ content: "html", contentPath: entry.data_uri, resultPath: path });
        const frame = await waitFor(() => document.querySelector("iframe[src='" + entry.data_uri + "']"));
        if (!frame) { out.pages[path] = null; continue; }
        const loaded = new Promise((resolve) => frame.addEventListener("load", resolve, { once: true }));
        frame.removeAttribute("src");
        frame.srcdoc = decode(entry.data_uri);
        await loaded;
        const doc = frame.contentDocument;
        const images = Array.from(doc.images);
        await waitFor(() => images.every((i) => i.complete));
        out.pages[path] = {
          frameWidth: frame.clientWidth,
          scrollWidth: doc.documentElement.scrollWidth,
          clientWidth: doc.documentElement.clientWidth,
          tables: doc.querySelectorAll("table").length,
          images: images.map((i) => i.naturalWidth),
        };
        out.visited += 1;
      }
    }
  } catch (error) {
    out.errors.push(String((error && error.stack) || error));
  }
  const pre = document.createElement("pre");
  pre.id = "probe-result";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
"""


def _browser():
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def probed(finished_run, tmp_path_factory):
    browser = _browser()
    if browser is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium); "
                    "the report cannot be checked in a browser")
    workdir, _, _ = finished_run
    report = (workdir / "results/report.html").read_text(encoding="utf-8")
    # The app's libraries hold "</body>" in strings: the probe goes before the last one.
    end = report.rfind("</body>")
    assert end > 0, "the report has no </body>"
    script = '<script>window.addEventListener("load", () => setTimeout(() => {' + PROBE + "}, 100));</script>"
    page = tmp_path_factory.mktemp("browser") / "report.html"
    page.write_text(report[:end] + script + report[end:], encoding="utf-8")
    command = [
        browser, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
        f"--window-size={WINDOW[0]},{WINDOW[1]}", "--virtual-time-budget=60000",
        f"--user-data-dir={page.parent / 'profile'}", "--dump-dom", page.as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    match = re.search(r'<pre id="probe-result">(.*?)</pre>', result.stdout, flags=re.S)
    assert match, f"the probe did not finish in chromium (exit {result.returncode}):\n{result.stderr[-3000:]}"
    found = json.loads(html.unescape(match.group(1)))
    embedded = json.loads(re.search(r"var results = (\{.*?\});\n", report, flags=re.S).group(1))
    return found, embedded


def test_the_probe_visited_every_result(probed):
    found, embedded = probed
    assert not found["errors"], found["errors"]
    assert found["total"] == len(embedded) + 2  # the two controls
    assert set(found["images"]) | set(found["pages"]) == set(embedded) | {
        "__control__/broken.png", "__control__/wide.html"}
    assert found["visited"] == found["total"]


def test_the_probe_detects_broken_figures_and_wide_pages(probed):
    found, _ = probed
    broken = found["images"]["__control__/broken.png"]
    assert broken is None or broken["naturalWidth"] == 0
    wide = found["pages"]["__control__/wide.html"]
    assert wide["scrollWidth"] > wide["clientWidth"]


def test_every_figure_is_drawn(probed):
    found, embedded = probed
    figures = [path for path, entry in embedded.items() if entry["mime_type"].startswith("image/")]
    assert len(figures) >= 20
    not_drawn = [path for path in figures if not found["images"][path] or found["images"][path]["naturalWidth"] <= 0]
    assert not not_drawn, f"not drawn in chromium: {not_drawn}"
    # Images inside pages (the data page's sample images) are drawn too.
    inline = {path: page["images"] for path, page in found["pages"].items()
              if page and page["images"] and not path.startswith("__control__")}
    assert "results/report/data/digits.html" in inline
    assert all(width > 0 for widths in inline.values() for width in widths), inline


def test_pages_fit_a_1400_px_window_without_horizontal_scrolling(probed):
    found, _ = probed
    summary = found["pages"]["results/report/summary.html"]
    assert summary and summary["tables"] >= 2
    # The report's sidebar takes part of the window: the page gets the content area.
    assert 0 < summary["frameWidth"] < WINDOW[0]
    too_wide = {path: (page["scrollWidth"], page["clientWidth"]) for path, page in found["pages"].items()
                if not path.startswith("__control__") and (page is None or page["scrollWidth"] > page["clientWidth"])}
    assert not too_wide, f"pages that need horizontal scrolling (scrollWidth, clientWidth): {too_wide}"


def test_figures_are_not_shrunk_much(probed):
    # Figures wider than the content area are scaled down in the report, and their text
    # with them; the comparison chart used to be squeezed to tiny text.
    found, embedded = probed
    shrunk = {}
    for path, entry in embedded.items():
        image = found["images"].get(path)
        if image and image["naturalWidth"] and image["shownWidth"] < 0.9 * image["naturalWidth"]:
            shrunk[path] = (image["naturalWidth"], image["shownWidth"])
    assert not shrunk, f"figures shown at under 90 % of their size (natural, shown): {shrunk}"
