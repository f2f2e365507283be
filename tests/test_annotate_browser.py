"""The page in a real browser: headless Debian Chromium driven by Selenium answers with the
keyboard, undoes, skips; then the store is read. Skipped when Chromium or Selenium is missing."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="alsel annotate needs the 'annotate' extra (starlette)")
pytest.importorskip("uvicorn", reason="alsel annotate needs the 'annotate' extra (uvicorn)")
pytest.importorskip("selenium", reason="the browser test drives Chromium with selenium (pip install selenium)")
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
if CHROMIUM is None or DRIVER is None:
    pytest.skip("headless Chromium is not installed (apt-get install chromium chromium-driver; "
                ".ci/run does it)", allow_module_level=True)
sys.path.insert(0, str(Path(__file__).parent))
import annotate_support as support  # noqa: E402


from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from alsel.annotate import BackgroundServer, create_app, make_round  # noqa: E402
from alsel.loop.store import AnswerStore  # noqa: E402

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,800"]


def chromium(profile: str):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    # An explicit driver path: Selenium Manager never runs, nothing is downloaded.
    return webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)


def open_page(tmp_path, n_images=3, classes=("cat", "bicycle")):
    support.image_folder(tmp_path / "img", n_images, size=160)
    store = support.make_store(tmp_path / "a.json", n_images, classes=classes)
    round_ = make_round(store, tmp_path / "img", annotator="browser")
    server = BackgroundServer(create_app(round_), port=0).start()
    return server, round_


class Page:
    def __init__(self, driver):
        self.driver = driver
        self.wait = WebDriverWait(driver, 20)

    def text(self, element_id: str) -> str:
        return self.driver.find_element(By.ID, element_id).text

    def current(self) -> tuple[str, str]:
        """(image file, class) once the image is shown and the buttons are live."""
        self.wait.until(lambda d: d.find_element(By.ID, "yes").is_enabled())
        return self.text("image-name"), self.text("class-name")

    def key(self, key: str) -> None:
        self.driver.find_element(By.TAG_NAME, "body").send_keys(key)

    def status_after(self, key: str, expected: str) -> str:
        self.key(key)
        self.wait.until(lambda d: expected in self.text("status"))
        return self.text("status")


def test_answer_undo_and_skip_with_the_keyboard(tmp_path):
    server, round_ = open_page(tmp_path)
    profile = tempfile.mkdtemp(prefix="alsel-chromium-")
    driver = chromium(profile)
    try:
        driver.get(server.url)
        page = Page(driver)
        assert "token" not in driver.current_url                   # dropped from the address bar
        first = page.current()
        assert first == ("img000.png", "cat")
        page.status_after("y", "saved: yes")
        second = page.current()
        assert second == ("img000.png", "bicycle")
        page.status_after("n", "saved: no")
        third = page.current()
        page.status_after("u", "undone")                            # the "no" is taken back ...
        assert page.current() == second
        page.status_after("s", "skipped")                           # ... then skipped for later
        assert page.current() == third
        page.status_after("n", "saved: no")
        assert "2 / 6 answered" in page.text("progress-text") and "median" in page.text("progress-text")
        page.key("?")
        page.wait.until(lambda d: d.find_element(By.ID, "help").is_displayed())
        page.key("\ue00c")                                          # Escape
        page.wait.until(lambda d: not d.find_element(By.ID, "help").is_displayed())
        store = AnswerStore.load(tmp_path / "a.json")
        names = store.image_names or [f"img{i:03d}.png" for i in range(store.n_images)]
        as_pair = lambda shown: (names.index(shown[0]), store.classes.index(shown[1]))  # noqa: E731
        assert store.answers() == {as_pair(first): True, as_pair(third): False}
        assert store.state(*as_pair(second)) == "unknown"          # undone, skipped: still open
        for pair in (as_pair(first), as_pair(third)):
            provenance = store.provenance(*pair)
            assert provenance["by"] == "browser" and 0 < provenance["seconds"] < 120
        while True:                                                 # finish: the skipped one last
            shown = page.current()
            page.key("y")
            if shown == second:
                break
        page.wait.until(lambda d: page.text("class-name") == "All done")
        assert AnswerStore.load(tmp_path / "a.json").unanswered_pending() == []
        shot = Path(tmp_path / "page.png")
        driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 0
    finally:
        driver.quit()
        server.stop()
        shutil.rmtree(profile, ignore_errors=True)
