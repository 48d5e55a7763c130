"""`patchdna ui` end to end in a real headless Chromium (Debian's package, driven by Playwright).

The server is started by the fixture as `patchdna ui --port <free> --models <tmp> --max-upload-mb 0.2` in a
subprocess and stopped at the end. Training uses the page's `tiny` preset (3 scales of a <= 40 px image).
Screenshots are written to <pytest tmp>/ui_screenshots/ (printed at the end of the run).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
from images_fixtures import make_texture, save_tiny_instagan, write_scene_with_box_masks
from PIL import Image

pytestmark = pytest.mark.browser

pytest.importorskip("gradio")
playwright_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TINY_LABEL = "tiny: 40 px, seconds (a smoke test)"
TIMEOUT_MS = 120_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        result = subprocess.run(["bash", str(ROOT / "scripts" / "install_chromium.sh")], capture_output=True)
        if result.returncode != 0 or not Path(CHROMIUM).exists():
            pytest.skip(f"Debian's chromium is not installed and could not be installed: {result.stderr[-300:]!r}")
    return CHROMIUM


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(url, models root) of a `patchdna ui` subprocess, shut down after the module."""
    base = tmp_path_factory.mktemp("ui_server")
    port = _free_port()
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", ""),
        OMP_NUM_THREADS="1",
        GRADIO_ANALYTICS_ENABLED="False",
        GRADIO_TEMP_DIR=str(base / "gradio_cache"),
    )
    command = [sys.executable, "-m", "patchdna.cli", "ui", "--port", str(port), "--models", str(base / "models")]
    command += ["--device", "cpu", "--max-upload-mb", "0.2"]
    log = open(base / "server.log", "w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=base)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            break
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the UI server did not start:\n{(base / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
    yield url, base / "models"
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
    log.close()


@pytest.fixture(scope="module")
def browser(chromium):
    with playwright_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ui_screenshots")
    yield folder
    print(f"\nUI screenshots: {folder}")


@pytest.fixture
def texture_png(tmp_path) -> Path:
    path = tmp_path / "texture.png"
    Image.fromarray(make_texture(32, 40)).save(path)
    return path


def _open(browser, url, outside: list[str] | None = None):
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page.set_default_timeout(TIMEOUT_MS)
    if outside is not None:
        page.on(
            "request",
            lambda request: (
                outside.append(request.url) if not request.url.startswith((url, "data:", "blob:")) else None
            ),
        )
    page.goto(url)
    page.get_by_role("heading", name="patchdna").wait_for()
    return page


def _train(page, image: Path, name: str, family: str = "SinGAN") -> None:
    page.get_by_role("tab", name="Train", exact=True).click()
    if family != "SinGAN":
        page.locator("#train-family input").click()
        page.get_by_role("option", name=family, exact=True).click()
    page.locator("#train-image input[type=file]").set_input_files(str(image))
    page.locator("#train-status").get_by_text(f"Ready to train on '{image.name}'").wait_for()
    page.get_by_label(TINY_LABEL).check()
    page.locator("#train-name textarea, #train-name input").first.fill(name)
    page.locator("#train-start").click()


def _wait_trained(page, name: str) -> None:
    page.locator("#train-status").get_by_text(f"saved as model '{name}'").wait_for(timeout=TIMEOUT_MS)


def _error_toast(page, text: str) -> None:
    page.get_by_text(text).first.wait_for(timeout=30_000)


def test_train_generate_download(server, browser, shots, texture_png, tmp_path):
    url, models = server
    outside: list[str] = []
    page = _open(browser, url, outside)
    _train(page, texture_png, "tiny1")
    page.locator("#train-status").get_by_text("Training").first.wait_for()  # queued or running: the page updates
    _wait_trained(page, "tiny1")
    page.screenshot(path=str(shots / "01_trained.png"), full_page=True)
    stored = json.loads((models / "tiny1" / "config.json").read_text())
    assert stored["sizes"][-1] == [32, 40]  # trained on the uploaded 40x32 texture, not the bundled image
    assert (
        "tiny1" in page.locator("#model-select").inner_text()
        or "tiny1" in page.locator("#model-select input").input_value()
    )

    # Generate: 4 samples appear as images in the page.
    page.get_by_role("tab", name="Generate", exact=True).click()
    page.locator("#generate").click()
    page.locator("#samples img").nth(3).wait_for()
    assert page.locator("#samples img").count() >= 4
    page.screenshot(path=str(shots / "02_generated.png"), full_page=True)

    # Models: download the model as a zip through the page.
    page.get_by_role("tab", name="Models", exact=True).click()
    page.locator("#model-export").click()
    link = page.locator("#model-zip a").first
    link.wait_for()
    with page.expect_download() as download_info:
        link.click()
    saved = tmp_path / "downloaded.zip"
    download_info.value.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        assert {"tiny1/config.json", "tiny1/model.safetensors"} <= set(archive.namelist())
    page.screenshot(path=str(shots / "03_models.png"), full_page=True)

    # Animate: the video plays in the page, MP4 and GIF are offered for download.
    page.get_by_role("tab", name="Harmonize / edit / paint / SR / animate").click()
    page.get_by_role("tab", name="Animate", exact=True).click()
    page.locator("#animate").click()
    page.locator("#anim-video video").wait_for()
    page.locator("#anim-files").get_by_text(".gif").first.wait_for()
    assert page.locator("#anim-files").get_by_text(".mp4").count() >= 1
    page.screenshot(path=str(shots / "04_animation.png"), full_page=True)
    assert outside == [], f"the page reached outside the server: {outside[:5]}"
    page.close()


def test_two_sessions_stay_responsive(server, browser, shots, texture_png):
    url, models = server
    first, second = _open(browser, url), _open(browser, url)
    _train(first, texture_png, "session-a")
    _train(second, texture_png, "session-b")
    # While one trains and the other waits in the queue, both pages keep answering other requests.
    for page in (first, second):
        page.locator("#train-status").get_by_text("Training").or_(page.get_by_text("Queued")).first.wait_for()
        page.get_by_role("tab", name="Models", exact=True).click()
        page.locator("#refresh-models").click()
        page.get_by_role("tab", name="Train", exact=True).click()
    _wait_trained(first, "session-a")
    _wait_trained(second, "session-b")
    second.screenshot(path=str(shots / "05_second_session.png"), full_page=True)
    assert (models / "session-a" / "config.json").is_file() and (models / "session-b" / "config.json").is_file()
    first.close()
    second.close()


def test_bad_uploads_and_paths_are_refused(server, browser, shots, tmp_path, texture_png):
    url, models = server
    page = _open(browser, url)
    not_image = tmp_path / "notes.png"
    not_image.write_text("this is not an image")
    page.locator("#train-image input[type=file]").set_input_files(str(not_image))
    _error_toast(page, "not a readable image")
    page.screenshot(path=str(shots / "06_not_an_image.png"), full_page=True)

    oversized = tmp_path / "huge.png"
    oversized.write_bytes(os.urandom(300_000))  # over the server's 0.2 MB limit
    page.locator("#train-image input[type=file]").set_input_files(str(oversized))
    _error_toast(page, "exceed the maximum allowed size")

    pickled = tmp_path / "model.zip"
    with zipfile.ZipFile(pickled, "w") as archive:
        archive.writestr("model/config.json", '{"family": "singan", "config": {}}')
        archive.writestr("model/model.pt", b"\x80\x04pickle")
    page.get_by_role("tab", name="Models", exact=True).click()
    page.locator("#model-upload input[type=file]").set_input_files(str(pickled))
    _error_toast(page, "no pickles")

    page.get_by_role("tab", name="Train", exact=True).click()
    page.locator("#train-name textarea, #train-name input").first.fill("../escape")
    page.locator("#train-start").click()
    _error_toast(page, "invalid model name '../escape'")
    assert not (models.parent / "escape").exists()
    page.screenshot(path=str(shots / "07_refused.png"), full_page=True)

    # No arbitrary file reads through Gradio's file route, not even of the models root.
    for target in ("/etc/passwd", str(models / "tiny1" / "config.json"), "../../../etc/passwd"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}gradio_api/file={target}", timeout=10)
        assert refused.value.code in (403, 404)

    # The server still works after all that: a training runs to the end.
    _train(page, texture_png, "after-errors")
    _wait_trained(page, "after-errors")
    page.close()


def test_ingan_retarget_follows_the_sliders(server, browser, shots, texture_png):
    pytest.importorskip("patchdna.ingan")
    url, _ = server
    page = _open(browser, url)
    _train(page, texture_png, "ingan1", family="InGAN")
    _wait_trained(page, "ingan1")
    page.get_by_role("tab", name="Retarget (InGAN)").click()
    width = page.locator("#retarget-w input[type=number]")
    width.fill("2")
    width.press("Enter")
    script = """previous => {
        const img = document.querySelector('#retarget-out img');
        return img && img.complete && img.naturalWidth > 0 && img.getAttribute('src') !== previous
            ? [img.getAttribute('src'), img.naturalWidth] : null;
    }"""
    first_src, wide = page.wait_for_function(script, arg=None).json_value()
    width.fill("0.5")
    width.press("Enter")
    _, narrow = page.wait_for_function(script, arg=first_src).json_value()
    assert wide == 4 * narrow or abs(wide / narrow - 4) < 0.2  # the output follows the width slider
    page.screenshot(path=str(shots / "08_retarget.png"), full_page=True)
    page.close()


def test_instagan_translate_tab(server, browser, shots, tmp_path):
    pytest.importorskip("patchdna.instagan")
    url, models = server
    # A tiny untrained model written where the server keeps its models; the page picks it up on refresh.
    save_tiny_instagan(models / "shapes-ui")
    image, masks = write_scene_with_box_masks(tmp_path)

    page = _open(browser, url)
    page.get_by_role("tab", name="Models", exact=True).click()
    page.locator("#refresh-models").click()
    page.locator("#model-select input").click()
    page.get_by_role("option", name="shapes-ui", exact=False).first.click()
    page.get_by_role("tab", name="Translate (InstaGAN)").click()
    page.locator("#translate-image input[type=file]").set_input_files(str(image))
    page.locator("#translate-masks input[type=file]").set_input_files([str(m) for m in masks])
    # the upload is done when both files are listed (Gradio renders the stem and the suffix in separate elements)
    page.locator("#translate-masks").get_by_text("mask_1").first.wait_for()
    page.locator("#translate-go").click()
    page.locator("#translate-out img").wait_for()
    page.locator("#translate-masks-out img").nth(1).wait_for()  # one translated mask per uploaded mask
    assert page.locator("#translate-masks-out img").count() >= 2
    page.screenshot(path=str(shots / "09_translate.png"), full_page=True)
    page.close()
