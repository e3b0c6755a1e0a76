"""The editor page in a real browser (headless Chromium driven by Selenium).

Run by ``make test-browser`` (which installs Debian's ``chromium`` and ``chromium-driver``); kept out
of ``make test`` by the ``browser`` marker and skipped unless ``SGKIT_BROWSER_TESTS=1``. The
screenshot is written to the test's tmp folder (and copied to ``$SGKIT_EDITOR_SCREENSHOT`` when set).
"""
import base64
import io
import os
import shutil
import threading
import time

import numpy as np
import pytest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(os.environ.get("SGKIT_BROWSER_TESTS") != "1", reason="set SGKIT_BROWSER_TESTS=1 (make test-browser)"),
]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    uvicorn = pytest.importorskip("uvicorn")
    from sgkit.datasets import ShapesWorld
    from sgkit.editor import create_app
    from sgkit.models import SIMSG, SIMSGConfig

    world = ShapesWorld(2, image_size=32, progress=False, seed=3)
    model = SIMSG(SIMSGConfig.preset("crn-32-shapes", world.num_classes, world.num_predicates), vocab=world.vocab,
                  seed=0).eval()
    out = tmp_path_factory.mktemp("saved")
    app = create_app(model, [world[i] for i in range(len(world))], world.vocab, out)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture()
def browser(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    if CHROMIUM is None or DRIVER is None:
        pytest.fail("chromium and chromedriver are needed (make test-browser installs them)")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--window-size=1100,720",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=DRIVER))
    yield driver
    driver.quit()


def _wait(driver, condition, what, timeout=120.0):
    end = time.time() + timeout
    while time.time() < end:
        value = driver.execute_script(condition)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _pixels(data_url):
    from PIL import Image

    return np.array(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))).convert("RGB"))


def test_remove_node_generate_and_save(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(server)
    _wait(browser, "return document.querySelectorAll('#graph g.node').length > 0", "the graph drawing")
    before = browser.execute_script("return window.sgEditor.state()")
    src = _pixels(browser.find_element(By.ID, "picture").get_attribute("src"))
    names = [n["name"] for n in before["nodes"]]
    victim = names[0]
    count = names.count(victim)
    drawn = [e.get_attribute("data-name") for e in browser.find_elements(By.CSS_SELECTOR, "#graph g.node")]
    assert drawn == names

    # a bad edit shows the server's message on the page and changes nothing
    browser.execute_script("window.sgEditor.call('replace', {node: 0, category: 'unicorn'})")
    _wait(browser, "return !document.getElementById('error').hidden", "the error message")
    assert "unknown category 'unicorn'" in browser.find_element(By.ID, "error").text

    browser.find_element(By.CSS_SELECTOR, '#graph g.node[data-id="0"] rect').click()
    assert browser.find_element(By.ID, "node-title").text == f"node 0: {victim}"
    browser.find_element(By.ID, "remove").click()
    _wait(browser, f"return document.querySelectorAll('#graph g.node').length == {len(names) - 1}", "the removal")
    assert browser.find_element(By.ID, "error").get_attribute("hidden") is not None
    drawn = [e.get_attribute("data-name") for e in browser.find_elements(By.CSS_SELECTOR, "#graph g.node")]
    assert drawn.count(victim) == count - 1 and drawn == names[1:]
    texts = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#graph g.node text")]
    assert texts.count(victim) == count - 1

    browser.find_element(By.ID, "generate").click()
    _wait(browser, "return window.sgEditor.state().generated", "the generated image")
    after = browser.execute_script("return window.sgEditor.state()")
    new = _pixels(browser.find_element(By.ID, "picture").get_attribute("src"))
    assert not browser.find_element(By.ID, "region").get_attribute("hidden")
    changed = np.abs(new.astype(int) - src.astype(int)).sum(-1) > 0
    assert changed.any(), "the image did not change"
    x0, y0, x1, y1 = (np.array(after["region_box"]) * src.shape[0]).round().astype(int)
    inside = np.zeros_like(changed)
    inside[y0:y1, x0:x1] = True
    assert not (changed & ~inside).any(), "pixels changed outside the edited region"
    box = before["nodes"][0]["box"]  # the removed object's box lies in the redrawn region
    bx0, by0 = int(box[0] * src.shape[0]), int(box[1] * src.shape[0])
    assert x0 <= bx0 and y0 <= by0
    assert len(browser.find_elements(By.CSS_SELECTOR, "#graph g.node")) == len(names) - 1

    name = browser.find_element(By.ID, "save-name")
    name.clear()
    name.send_keys("browser_edit")
    browser.find_element(By.ID, "save").click()
    _wait(browser, "return document.getElementById('status').textContent.startsWith('saved')", "the save")
    shot = tmp_path / "editor.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 1000
    if os.environ.get("SGKIT_EDITOR_SCREENSHOT"):
        shutil.copy(shot, os.environ["SGKIT_EDITOR_SCREENSHOT"])
