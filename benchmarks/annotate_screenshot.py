"""The screenshot of docs/annotate.md: the page in headless Chromium, on scikit-learn's sample photos.

    PYTHONPATH=. python benchmarks/annotate_screenshot.py docs/annotate/page.png [--dark]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--dark", action="store_true")
    args = parser.parse_args()
    import annotate_support as support
    from PIL import Image
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from sklearn.datasets import load_sample_image

    from alsel.annotate import BackgroundServer, create_app, make_round

    work = Path(tempfile.mkdtemp())
    (work / "img").mkdir()
    for name in ("china.jpg", "flower.jpg"):
        Image.fromarray(load_sample_image(name)).save(work / "img" / name, quality=92)
    store = support.make_store(work / "a.json", 2, classes=["temple", "person", "bicycle", "tree"],
                               names=["china.jpg", "flower.jpg"])
    round_ = make_round(store, work / "img", annotator="alice")
    server = BackgroundServer(create_app(round_), port=0).start()
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,720", "--hide-scrollbars", f"--user-data-dir={work / 'profile'}",
                 *(["--force-dark-mode", "--blink-settings=preferredColorScheme=0"] if args.dark else [])]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=options)
    try:
        driver.get(server.url)
        body = lambda: driver.find_element("tag name", "body")  # noqa: E731
        for key in "yn":  # two answers, so the progress line has a median
            time.sleep(1.3 if key == "y" else 2.1)
            body().send_keys(key)
            time.sleep(0.6)
        time.sleep(1.0)
        driver.save_screenshot(args.out)
    finally:
        driver.quit()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
