"""The inspector's field app on an emulated Slow 3G network (Chromium's DevTools preset through CDP
Network.emulateNetworkConditions: 2,000 ms latency, 50,000 bytes/s each way), in Debian's Chromium, phone viewport.

    JQS_VAR_DIR=/tmp/fieldbench python3 dev.py demo --no-serve     # demo data (SQLite) with dispatched tasks
    JQS_VAR_DIR=/tmp/fieldbench python -m bench.field_offline [--runs 3] [--port 8301]

It starts ``manage.py runserver`` (no reloader) on 127.0.0.1 (a secure context for the service worker), picks the
demo's inspector_nanhu_1, gives them one new task per run (with inspector_nanhu_2) and, per run, in a fresh
browser profile:

1. logs in without throttling, then empties the browser's HTTP cache, the service worker and its caches (the
   session cookie stays), so that what follows is a first visit;
2. **first visit** of a check form on Slow 3G: bytes over the network for the page (CDP encodedDataLength of
   every response the page loaded) and the time from navigation to interactive (check.js has its draft:
   ``#check-form[data-draft]``);
3. **offline reload**: offline, reload, time until the form is back with its draft (served by the service worker);
4. fills the form with one 3000 × 2000 photo (resized on the phone), submits it offline (into the outbox), then
   **back online** on Slow 3G: time from going online to the server's confirmation (the page opens the
   confirmation, whose result number is on it).

The medians of the runs are printed; record them in bench/README.md. Each run stores a result in the database.
"""

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

SLOW_3G = {"offline": False, "latency": 2000, "downloadThroughput": 50_000, "uploadThroughput": 50_000}
OFFLINE = {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
PASSWORD = "jiaxing-demo-2026"
ROOT = Path(__file__).resolve().parent.parent


def _until(page, expression: str, seconds: float) -> None:
    """Wait for a page expression to be truthy (wait_for_function would eval() it, which the CSP refuses)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {seconds} s: {expression}"
        page.wait_for_timeout(200)


def make_tasks(count: int) -> tuple[str, list[int]]:
    """`count` fresh open tasks for inspector_nanhu_1 (with inspector_nanhu_2) at demo enterprises of their county
    whose product has a checklist: the demo dispatches no plan, and each run stores a result."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiaxing_qs.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import datetime as dt

    from django.contrib.auth import get_user_model

    from enterprises.models import EnterpriseProduct
    from inspections.models import DrawArm, InspectionTask, TaskAssignment

    users = get_user_model().objects
    officer, partner = users.get(username="inspector_nanhu_1"), users.get(username="inspector_nanhu_2")
    county = officer.staff_profile.jurisdiction
    made = EnterpriseProduct.objects.filter(enterprise__town__parent=county, product__checklist_items__isnull=False)
    made = made.exclude(enterprise__inspection_tasks__isnull=False).distinct().select_related("enterprise", "product")[:count]
    ids = []
    for row in made:
        task = InspectionTask.objects.create(
            enterprise=row.enterprise,
            product=row.product,
            arm=DrawArm.RISK,
            reason="bench",
            due_date=dt.date.today() + dt.timedelta(days=7),
        )
        TaskAssignment.objects.bulk_create(
            [TaskAssignment(task=task, officer=officer, position=1), TaskAssignment(task=task, officer=partner, position=2)]
        )
        ids.append(task.pk)
    if len(ids) < count:
        sys.exit("not enough demo enterprises: run `python3 dev.py demo --no-serve` first")
    return officer.username, ids


def serve(port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=1)
            return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    sys.exit("runserver did not start")


def photo_file(folder: Path) -> str:
    from PIL import Image

    image = Image.new("RGB", (3000, 2000), (200, 180, 150))
    for x in range(0, 3000, 60):
        image.paste((90, 60, 40), (x, 0, x + 20, 2000))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    path = folder / "shot.png"
    path.write_bytes(buffer.getvalue())
    return str(path)


def one_run(playwright, base: str, username: str, task_id: int, folder: Path) -> dict:
    context = playwright.chromium.launch_persistent_context(
        str(folder / "profile"),
        executable_path="/usr/bin/chromium",
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        geolocation={"latitude": 30.75, "longitude": 120.75, "accuracy": 20},
        permissions=["geolocation"],
    )
    context.on("dialog", lambda dialog: dialog.accept())
    page = context.pages[0] if context.pages else context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    sizes: dict[str, int] = {}
    cdp.on("Network.loadingFinished", lambda event: sizes.__setitem__(event["requestId"], event["encodedDataLength"]))

    page.goto(f"{base}/accounts/login/?next=/tasks/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click(".login-card button[type=submit]")
    page.wait_for_url(f"{base}/tasks/")
    page.evaluate(
        """async () => { for (const r of await navigator.serviceWorker.getRegistrations()) await r.unregister();
           for (const name of await caches.keys()) await caches.delete(name); }"""
    )
    page.goto("about:blank")
    cdp.send("Network.clearBrowserCache")
    sizes.clear()

    cdp.send("Network.emulateNetworkConditions", SLOW_3G)
    start = time.perf_counter()
    page.goto(f"{base}/tasks/{task_id}/check/", wait_until="commit")
    page.wait_for_selector("#check-form[data-draft]", timeout=120_000)
    interactive = time.perf_counter() - start
    page.wait_for_load_state("load")
    first_bytes = sum(sizes.values())
    _until(page, "navigator.serviceWorker.controller !== null", 120)
    kept = f"""(async () => {{ for (const name of await caches.keys()) {{
        const cache = await caches.open(name);
        if (name.startsWith('jqs-pages-u') && await cache.match('/tasks/{task_id}/check/', {{ignoreVary: true}})) return true; }}
        return false; }})()"""
    deadline = time.monotonic() + 180
    while not page.evaluate(kept):  # the phone stays online until the service worker has kept the form
        assert time.monotonic() < deadline, "the form was not kept for offline use"
        page.wait_for_timeout(250)

    cdp.send("Network.emulateNetworkConditions", OFFLINE)
    context.set_offline(True)
    start = time.perf_counter()
    page.reload(wait_until="commit")
    page.wait_for_selector("#check-form[data-draft=restored]", timeout=60_000)
    offline_reload = time.perf_counter() - start

    for label in page.locator("fieldset.item label.opt-conforming").all():
        label.click()
    page.set_input_files("input[type=file][multiple]", photo_file(folder))
    _until(page, "document.querySelectorAll('#thumbs li').length === 1", 60)
    page.click("#submit-button")
    page.wait_for_selector("#outbox .outbox-item", timeout=30_000)

    start = time.perf_counter()
    cdp.send("Network.emulateNetworkConditions", SLOW_3G)
    context.set_offline(False)
    page.wait_for_selector("[data-testid=result-number]", timeout=300_000)
    confirmed = time.perf_counter() - start
    context.close()
    return {"first_kb": first_bytes / 1024, "interactive_s": interactive, "offline_reload_s": offline_reload, "confirmed_s": confirmed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=8301)
    options = parser.parse_args()
    username, task_ids = make_tasks(options.runs)
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    server = serve(options.port)
    results = []
    try:
        with sync_playwright() as playwright:
            for task_id in task_ids:
                with tempfile.TemporaryDirectory() as folder:
                    result = one_run(playwright, f"http://127.0.0.1:{options.port}", username, task_id, Path(folder))
                print(f"task {task_id}: " + ", ".join(f"{key} {value:.2f}" for key, value in result.items()), flush=True)
                results.append(result)
    finally:
        server.terminate()
        server.wait()
    print(f"\nmedian of {len(results)} runs ({username}, Slow 3G: 2,000 ms latency, 50,000 B/s each way):")
    for key in results[0]:
        print(f"  {key:18} {statistics.median(r[key] for r in results):8.2f}")


if __name__ == "__main__":
    main()
