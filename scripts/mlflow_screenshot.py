"""Screenshot of a study in the MLflow UI, as a user sees it: a real local `mlflow server` on 127.0.0.1 and
headless Chromium, runs filtered to the study and grouped by sampler.

    pip install playwright && apt-get install chromium      # once; Playwright drives Debian's Chromium
    .venv/bin/python scripts/mlflow_screenshot.py --db mlflow.db --study demo --out docs/mlflow_ui.png
    .venv/bin/python scripts/mlflow_screenshot.py --db mlflow.db --study demo --view chart --metric test/acc \\
        --out docs/mlflow_charts.png"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: Path, port: int) -> subprocess.Popen:
    mlflow = Path(sys.executable).with_name("mlflow")
    proc = subprocess.Popen([str(mlflow), "server", "--backend-store-uri", f"sqlite:///{db.resolve()}",
                             "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(120):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("mlflow server did not answer on /health within 60 s")


def experiment_id(db: Path, name: str) -> str:
    from mlflow.tracking import MlflowClient

    found = MlflowClient(f"sqlite:///{db.resolve()}").get_experiment_by_name(name)
    if found is None:
        raise SystemExit(f"no experiment {name!r} in {db}")
    return found.experiment_id


def _click_if_present(page, role: str, name: str) -> None:
    try:
        page.get_by_role(role, name=name).first.click(timeout=2000)
    except Exception:  # playwright's TimeoutError: the element is not on this version's page
        pass


def screenshot(url: str, out: Path, group_by: str, metric: str, view: str = "table") -> None:
    """Runs page in "Model training" mode, grouped by the tag `group_by`; view=table adds `metric` as a column,
    view=chart switches to the chart view and keeps the charts whose metric name contains `metric` (the learning
    curves, each group's mean over its runs)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 900})
        page.goto(url)
        page.wait_for_timeout(5000)
        page.get_by_text("Model training", exact=True).first.click(timeout=10000)
        page.wait_for_timeout(2000)
        _click_if_present(page, "button", "Close")  # the assistant side panel
        page.get_by_role("button", name="Group by").first.click(timeout=10000)
        page.locator("[role=menu]").get_by_text(group_by, exact=True).first.click(timeout=10000)
        page.keyboard.press("Escape")
        (show_charts if view == "chart" else show_column)(page, metric)
        page.wait_for_timeout(1500)
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()


def show_column(page, metric: str) -> None:
    page.get_by_role("button", name="Columns").first.click(timeout=10000)
    page.keyboard.type(metric.split("/")[-1])
    page.locator("[role=dialog], [role=menu], [role=tree]").get_by_text(metric, exact=True).first.click(timeout=10000)
    page.keyboard.press("Escape")


def show_charts(page, metric: str) -> None:
    """The chart view (the toolbar's radio of value CHART), its charts filtered by `metric`."""
    page.locator("label:has(input[value=CHART])").first.click(timeout=10000)
    page.wait_for_timeout(3000)
    page.get_by_placeholder("Search metric charts").first.fill(metric)
    page.wait_for_timeout(3000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="mlflow.db")
    parser.add_argument("--experiment", default="curriculum")
    parser.add_argument("--study", required=True)
    parser.add_argument("--group-by", default="sampler", help="tag whose values group the runs")
    parser.add_argument("--metric", default="test/acc_at_best_val",
                        help="table: the metric column to show; chart: the text the charts' metric names contain")
    parser.add_argument("--view", choices=("table", "chart"), default="table",
                        help="table: runs grouped with the metric as a column; chart: their learning curves")
    parser.add_argument("--out", default="docs/mlflow_ui.png")
    args = parser.parse_args()
    db = Path(args.db)
    port = free_port()
    server = start_server(db, port)
    try:
        query = urllib.parse.urlencode({"searchFilter": f"tags.study = '{args.study}' and tags.stage = 'train'"}, quote_via=urllib.parse.quote)
        url = f"http://127.0.0.1:{port}/#/experiments/{experiment_id(db, args.experiment)}/runs?{query}"
        screenshot(url, Path(args.out), args.group_by, args.metric, args.view)
        print(f"wrote {args.out} from {url}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
