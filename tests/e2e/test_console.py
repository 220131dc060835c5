"""The web console (/_reelflow/console/) in headless Chromium, driven by Selenium.

Debian's /usr/bin/chromium and /usr/bin/chromedriver (installed by scripts/setup.sh; test tools
never download a browser). The scenario, at 1280x800: log in with the key pair, create a bucket,
create a workflow (Transcode + Snapshot, callback to a local receiver) with the form, upload a
generated clip through the console (multipart, progress bar), watch the run finish live, open a
Snapshot thumbnail (decoded: naturalWidth > 0) and play the transcoded mp4 (currentTime advances);
then the callbacks, templates and queues pages, a phone-width (390 px) pass, and a login with a
token from `reelflow login`. Screenshots go to target/test-artifacts/console/ (and the pytest
tmp dir).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import reelflow_e2e as rf
from conftest import REPO, make_video

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = os.environ.get("REELFLOW_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("REELFLOW_CHROMEDRIVER", "/usr/bin/chromedriver")
BUCKET = "console-1250000000"
RUN_TIMEOUT = 120

pytestmark = pytest.mark.timeout(420)

XML_WORKFLOW = f"""<Request><MediaWorkflow><Name>from-xml</Name><State>Paused</State><Topology>
<Dependencies><Start>MediaInfo_1</Start><MediaInfo_1>End</MediaInfo_1></Dependencies>
<Nodes><Start><Type>Start</Type><Input><ObjectPrefix>xml/</ObjectPrefix></Input></Start>
<MediaInfo_1><Type>MediaInfo</Type></MediaInfo_1></Nodes>
</Topology></MediaWorkflow></Request>"""


# --- browser ---------------------------------------------------------------------------------
@pytest.fixture
def artifacts(tmp_path) -> Path:
    """Screenshots: the pytest tmp dir, copied to target/test-artifacts/console/ at the end."""
    d = tmp_path / "screenshots"
    d.mkdir()
    yield d
    dest = REPO / "target" / "test-artifacts" / "console"
    dest.mkdir(parents=True, exist_ok=True)
    for f in d.iterdir():
        shutil.copy2(f, dest / f.name)


def make_driver(tmp_path: Path, width: int = 1280, height: int = 800):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail(f"{CHROMIUM} / {CHROMEDRIVER} missing: run scripts/setup.sh", pytrace=False)
    opts = Options()
    opts.binary_location = CHROMIUM
    profile = tmp_path / f"chromium-profile-{time.monotonic_ns()}"
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required", "--mute-audio",
        f"--user-data-dir={profile}", f"--window-size={width},{height}",
    ):  # fmt: skip
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=opts)
    driver.implicitly_wait(0)
    set_viewport(driver, width, height)
    return driver


def set_viewport(driver, width: int, height: int) -> None:
    """Resizes the window so the page's viewport is width x height CSS pixels."""
    driver.set_window_size(width, height)
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    driver.set_window_size(width + (width - inner[0]), height + (height - inner[1]))


def wait(driver, timeout: float = 20):
    return WebDriverWait(driver, timeout, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException,))


def css(driver, selector: str, timeout: float = 20):
    return wait(driver, timeout).until(EC.visibility_of_element_located((By.CSS_SELECTOR, selector)))


def click(driver, selector: str, timeout: float = 20):
    el = wait(driver, timeout).until(EC.element_to_be_clickable((By.CSS_SELECTOR, selector)))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
    el.click()
    return el


def button(driver, text: str, timeout: float = 20):
    xpath = f"//button[normalize-space()='{text}'] | //a[contains(@class,'button') and normalize-space()='{text}']"
    el = wait(driver, timeout).until(EC.element_to_be_clickable((By.XPATH, xpath)))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
    el.click()
    return el


def toast_text(driver, contains: str, timeout: float = 20):
    return wait(driver, timeout).until(
        lambda d: any(contains in t.text for t in d.find_elements(By.CSS_SELECTOR, ".toast")) or None
    )


def shot(driver, artifacts: Path, name: str) -> Path:
    path = artifacts / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def no_horizontal_overflow(driver) -> bool:
    return driver.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1"
    )


def login_with_keys(driver, server):
    driver.get(f"{server.base_url}/_reelflow/console/")
    css(driver, "input[name=secret_id]").send_keys(server.secret_id)
    driver.find_element(By.CSS_SELECTOR, "input[name=secret_key]").send_keys(server.secret_key)
    driver.find_element(By.CSS_SELECTOR, "input[name=secret_key]").send_keys(Keys.ENTER)
    css(driver, "#nav")


# --- the scenario ----------------------------------------------------------------------------
def test_console_end_to_end(server_factory, receiver, tmp_path, artifacts):
    server = server_factory()
    clip = make_video(tmp_path / "clip.mp4", seconds=3.0)
    hook = receiver.url("console")
    driver = make_driver(tmp_path)
    try:
        _scenario(driver, server, clip, hook, receiver, tmp_path, artifacts)
    except Exception:
        shot(driver, artifacts, "failure")
        (tmp_path / "failure.html").write_text(driver.page_source)
        raise
    finally:
        try:
            logs = driver.get_log("browser")
            (artifacts.parent / "browser-console.log").write_text("\n".join(json.dumps(e) for e in logs))
        except Exception:  # noqa: BLE001
            pass
        driver.quit()


def _scenario(driver, server, clip, hook, receiver, tmp_path, artifacts):
    # Log in with the key pair; nothing but the session token may be kept by the browser.
    driver.get(f"{server.base_url}/_reelflow/console/")
    css(driver, "input[name=secret_id]")
    for field in driver.find_elements(By.CSS_SELECTOR, "main input, main textarea, main select"):
        fid = field.get_attribute("id")
        assert fid and driver.find_element(By.CSS_SELECTOR, f"label[for='{fid}']").text, "every field is labelled"
    assert not driver.find_element(By.ID, "who").is_displayed() and not driver.find_element(By.ID, "nav").is_displayed()
    shot(driver, artifacts, "01-login")
    login_with_keys(driver, server)
    stored = driver.execute_script(
        "return {s: JSON.stringify(Object.assign({}, sessionStorage)), l: localStorage.length, c: document.cookie}"
    )
    assert server.secret_key not in stored["s"], "the SecretKey must not be stored"
    assert "rfs1." in stored["s"]
    assert stored["l"] == 0 and stored["c"] == ""

    # Create a bucket (the console offers the form while there is none).
    css(driver, "input[name=bucket]").send_keys(BUCKET)
    button(driver, "Create bucket")
    wait(driver).until(lambda d: d.find_element(By.ID, "bucket-picker").get_attribute("value") == BUCKET)

    # Create a workflow with the form: Transcode (official MP4 360p) then Snapshot.
    driver.get(f"{server.base_url}/_reelflow/console/#/workflows/new")
    name = css(driver, "#workflow-form input[name=name]")
    name.send_keys("console-demo")
    prefix = driver.find_element(By.CSS_SELECTOR, "#workflow-form input[name=prefix]")
    prefix.clear()
    prefix.send_keys("console/")
    driver.find_element(By.CSS_SELECTOR, "#workflow-form input[name=callback]").send_keys(hook)
    tpl = Select(driver.find_element(By.CSS_SELECTOR, "li.step select[name=step_template]"))
    mp4 = [o.get_attribute("value") for o in tpl.options if "MP4" in o.text.upper() and "360" in o.text]
    assert mp4, [o.text for o in tpl.options]
    tpl.select_by_value(mp4[0])
    button(driver, "Add node")
    steps = driver.find_elements(By.CSS_SELECTOR, "li.step")
    assert len(steps) == 2
    Select(steps[1].find_element(By.NAME, "step_type")).select_by_value("Snapshot")
    snap_tpl = Select(steps[1].find_element(By.NAME, "step_template"))
    assert snap_tpl.options, "an official snapshot template is offered"
    Select(steps[1].find_element(By.NAME, "step_after")).select_by_value("Transcode_1")
    # A third node beside the first: HLS (official template), played with hls.js or natively.
    button(driver, "Add node")
    third = driver.find_elements(By.CSS_SELECTOR, "li.step")[2]
    Select(third.find_element(By.NAME, "step_type")).select_by_value("Transcode")
    hls_tpl = Select(third.find_element(By.NAME, "step_template"))
    hls = [o.get_attribute("value") for o in hls_tpl.options if "HLS" in o.text.upper()]
    assert hls, [o.text for o in hls_tpl.options]
    hls_tpl.select_by_value(hls[0])
    out = third.find_element(By.NAME, "step_output")
    out.clear()
    out.send_keys("output/${RunId}/hls/${InputName}.${Ext}")
    Select(third.find_element(By.NAME, "step_after")).select_by_value("Start")
    # The preview graph is drawn from the form.
    wait(driver).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".preview svg.dag g.node")) == 5)
    shot(driver, artifacts, "02-workflow-form")
    click(driver, "#save-workflow")
    # The workflow page draws the DAG: Start, Transcode_1, Snapshot_1, End.
    wait(driver).until(lambda d: "#/workflows/w" in d.current_url)
    css(driver, ".page-head .badge")
    css(driver, "svg.dag")
    nodes = {
        g.get_attribute("data-node"): g.get_attribute("data-type")
        for g in driver.find_elements(By.CSS_SELECTOR, "svg.dag g.node")
    }
    assert nodes == {
        "Start": "Start", "Transcode_1": "Transcode", "Snapshot_1": "Snapshot", "Transcode_2": "Transcode", "End": "End"
    }, nodes  # fmt: skip
    assert "Active" in driver.find_element(By.CSS_SELECTOR, ".page-head .badge").text
    shot(driver, artifacts, "03-workflow-dag")

    # A second workflow from XML (Paused), then activated from its page.
    driver.get(f"{server.base_url}/_reelflow/console/#/workflows/new")
    xml = css(driver, "textarea[name=xml]")
    driver.execute_script("arguments[0].value = arguments[1]", xml, XML_WORKFLOW)
    button(driver, "Create from XML")
    wait(driver).until(lambda d: "#/workflows/w" in d.current_url)
    wait(driver).until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "from-xml")
    nodes = {g.get_attribute("data-node") for g in driver.find_elements(By.CSS_SELECTOR, "svg.dag g.node")}
    assert nodes == {"Start", "MediaInfo_1", "End"}, nodes
    assert driver.find_element(By.CSS_SELECTOR, ".page-head .badge").text == "Paused"
    # Paused: editable with the form, prefilled from the workflow.
    button(driver, "Edit")
    prefix = css(driver, "#workflow-form input[name=prefix]")
    assert prefix.get_attribute("value") == "xml/"
    assert Select(driver.find_element(By.NAME, "step_type")).first_selected_option.text == "MediaInfo"
    prefix.clear()
    prefix.send_keys("xml2/")
    click(driver, "#save-workflow")
    wait(driver).until(lambda d: d.find_elements(By.XPATH, "//td[@data-label='Output' and normalize-space()='prefix xml2/']"))
    button(driver, "Activate")
    wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, ".page-head .badge").text == "Active")

    # Upload the clip through the console (multipart, progress bar).
    driver.get(f"{server.base_url}/_reelflow/console/#/buckets")
    key_prefix = css(driver, "input[name=key_prefix]")
    key_prefix.clear()
    key_prefix.send_keys("console/")
    driver.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(clip))
    click(driver, "#upload-button")
    wait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".upload-row.done"))
    bar = driver.find_element(By.CSS_SELECTOR, ".upload-row progress")
    assert float(bar.get_attribute("value")) == float(bar.get_attribute("max")) == clip.stat().st_size
    shot(driver, artifacts, "04-uploaded")

    # The run appears in the runs list; open it and watch it finish live.
    driver.get(f"{server.base_url}/_reelflow/console/#/runs")
    link = css(driver, "tr[data-run] a", timeout=30)
    run_id = link.text
    link.click()
    css(driver, "#run-state")
    shot(driver, artifacts, "05-run-live")
    wait(driver, RUN_TIMEOUT).until(
        lambda d: d.find_element(By.ID, "run-state").get_attribute("data-state") in ("Success", "Failed", "Cancel")
    )
    state = driver.find_element(By.ID, "run-state").get_attribute("data-state")
    tasks = {
        tr.get_attribute("data-task"): tr.get_attribute("data-state")
        for tr in driver.find_elements(By.CSS_SELECTOR, "tr[data-task]")
    }
    assert state == "Success", (state, tasks, server.log_tail())
    assert tasks == {"Transcode_1": "Success", "Snapshot_1": "Success", "Transcode_2": "Success"}, tasks
    assert len(driver.find_elements(By.CSS_SELECTOR, "svg.gantt rect.bar")) == 3, "a Gantt bar per task"
    codes = [td.text for td in driver.find_elements(By.CSS_SELECTOR, "tr[data-task] td[data-label=Code]")]
    assert codes and all(c == "Success" for c in codes), codes

    # A Snapshot thumbnail is decoded; opening it shows the full image.
    thumb = wait(driver, 30).until(EC.presence_of_element_located((By.CSS_SELECTOR, "img.thumb")))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", thumb)
    wait(driver, 30).until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", thumb))
    assert driver.execute_script("return arguments[0].naturalWidth", thumb) > 0
    src = thumb.get_attribute("src")
    assert "q-signature=" in src and "Bearer" not in src, "media URLs are short-lived pre-signed URLs"
    # The transcoded mp4 plays: currentTime advances.
    video = css(driver, "video.player:not(.hls)", timeout=30)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", video)
    driver.execute_script("arguments[0].muted = true; arguments[0].play().catch(e => window.__playError = String(e));", video)
    wait(driver, 30).until(
        lambda d: d.execute_script("return arguments[0].currentTime > 0.5 && arguments[0].readyState >= 2", video)
    )
    played = driver.execute_script(
        "return {t: arguments[0].currentTime, rs: arguments[0].readyState, w: arguments[0].videoWidth, err: window.__playError || null}",
        video,
    )
    assert played["t"] > 0.5 and played["rs"] >= 2 and played["w"] > 0, played
    driver.execute_script("arguments[0].pause()", video)
    # The HLS output plays too (pre-signed pm3u8 playlist; hls.js where there is no native HLS).
    hls_video = css(driver, "video.player.hls", timeout=30)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", hls_video)
    driver.execute_script("arguments[0].muted = true; arguments[0].play().catch(e => window.__hlsError = String(e));", hls_video)
    wait(driver, 30).until(lambda d: d.execute_script("return arguments[0].currentTime > 0.5", hls_video))
    driver.execute_script("arguments[0].pause()", hls_video)
    assert not driver.find_elements(By.CSS_SELECTOR, "li.output[data-key$='.ts']"), "segments are not listed"
    driver.execute_script("window.scrollTo(0, document.querySelector('#out-h').offsetTop - 10)")
    shot(driver, artifacts, "06-run-finished")
    driver.execute_script("document.querySelector('.thumb-button').scrollIntoView({block: 'center'})")
    click(driver, ".thumb-button")
    full = css(driver, "dialog img.full")
    wait(driver).until(lambda d: d.execute_script("return arguments[0].naturalWidth > 0", full))
    shot(driver, artifacts, "07-thumbnail-open")
    # Escape closes the dialog and focus returns to the thumbnail button.
    ActionChains(driver).send_keys(Keys.ESCAPE).perform()
    wait(driver).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))
    assert "thumb-button" in driver.switch_to.active_element.get_attribute("class")

    # Callbacks: the run's WorkflowFinish message with its attempt (status, latency, body).
    receiver.wait_count(hook, 1)
    driver.get(f"{server.base_url}/_reelflow/console/#/callbacks")
    css(driver, "tbody tr a", timeout=30).click()
    css(driver, "h1")
    wait(driver, 30).until(lambda d: d.find_elements(By.XPATH, "//td[@data-label='Status' and normalize-space()='200']"))
    assert run_id in driver.find_element(By.CSS_SELECTOR, "pre.xml").text
    button(driver, "Redeliver")
    toast_text(driver, "Redelivery queued")
    shot(driver, artifacts, "08-callback")
    receiver.wait_count(hook, 2, timeout=30)

    # Templates: Official ones are listed.
    driver.get(f"{server.base_url}/_reelflow/console/#/templates")
    css(driver, "tbody tr")
    assert driver.find_elements(By.XPATH, "//span[contains(@class,'cat-official')]")

    # Queues: pause, resume, MaxConcurrent.
    driver.get(f"{server.base_url}/_reelflow/console/#/queues")
    button(driver, "Pause")
    toast_text(driver, "Queue paused")
    button(driver, "Resume")
    toast_text(driver, "Queue resumed")
    mc = css(driver, "input[name=max_concurrent]")
    mc.clear()
    mc.send_keys("3")
    mc.send_keys(Keys.ENTER)
    toast_text(driver, "MaxConcurrent saved")
    wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, "input[name=max_concurrent]").get_attribute("value") == "3")
    shot(driver, artifacts, "09-queues")

    # Keyboard: the first Tab reaches the skip link, which moves focus to the content; Tab
    # reaches the navigation, Enter follows a link.
    driver.get(f"{server.base_url}/_reelflow/console/#/runs/{run_id}")
    driver.refresh()
    css(driver, "#run-state")
    ActionChains(driver).send_keys(Keys.TAB).perform()
    assert "skip" in (driver.switch_to.active_element.get_attribute("class") or "")
    nav_link = driver.find_element(By.CSS_SELECTOR, "#nav a[data-page=callbacks]")
    for _ in range(12):
        if driver.switch_to.active_element == nav_link:
            break
        ActionChains(driver).send_keys(Keys.TAB).perform()
    assert driver.switch_to.active_element == nav_link
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    wait(driver).until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Callbacks")
    driver.refresh()
    css(driver, "h1")
    ActionChains(driver).send_keys(Keys.TAB).send_keys(Keys.ENTER).perform()
    wait(driver).until(lambda d: d.switch_to.active_element.get_attribute("id") == "main")
    assert "#/callbacks" in driver.current_url

    # Phone width: no sideways scrolling, the menu opens, thumbnails still decode.
    set_viewport(driver, 390, 844)
    driver.get(f"{server.base_url}/_reelflow/console/#/runs/{run_id}")
    wait(driver, 30).until(lambda d: d.find_element(By.ID, "run-state").get_attribute("data-state") == "Success")
    thumb = wait(driver, 30).until(EC.presence_of_element_located((By.CSS_SELECTOR, "img.thumb")))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", thumb)
    wait(driver, 30).until(lambda d: d.execute_script("return arguments[0].naturalWidth > 0", thumb))
    assert no_horizontal_overflow(driver), driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    shot(driver, artifacts, "10-phone-run")
    assert not driver.find_element(By.ID, "nav").is_displayed()
    click(driver, ".nav-toggle")
    css(driver, "#nav a[data-page=workflows]").click()
    css(driver, "tr td[data-label=Name] a")
    assert no_horizontal_overflow(driver)
    shot(driver, artifacts, "11-phone-workflows")
    # Every other page fits the phone's width too.
    for n, (page, ready) in enumerate(
        [
            ("buckets", "input[name=key_prefix]"),
            ("workflows/new", "#workflow-form"),
            ("runs", "tr[data-run]"),
            ("callbacks", "tbody tr"),
            ("templates", "tbody tr"),
            ("queues", "input[name=max_concurrent]"),
        ]
    ):
        driver.get(f"{server.base_url}/_reelflow/console/#/{page}")
        css(driver, ready, timeout=30)
        assert no_horizontal_overflow(driver), (page, driver.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]"))
        shot(driver, artifacts, f"11{chr(ord('a') + n)}-phone-{page.replace('/', '-')}")


def test_console_token_login(server_factory, tmp_path, artifacts):
    """`reelflow login` prints a console URL whose #token logs the browser in; a tampered or
    expired-looking token is refused."""
    server = server_factory()
    env = dict(os.environ, REELFLOW_SECRET_ID=server.secret_id, REELFLOW_SECRET_KEY=server.secret_key)
    out = subprocess.run(
        [str(server.binary), "login", "--server", server.base_url, "--ttl", "10m"],
        env=env, capture_output=True, text=True, check=True, timeout=30,
    ).stdout
    url = next(line.split(" ", 1)[1].strip() for line in out.splitlines() if line.startswith("console:"))
    token = url.split("#token=", 1)[1]
    driver = make_driver(tmp_path, 1280, 800)
    try:
        driver.get(url)
        css(driver, "#nav")
        # The token left the address bar and is kept only in sessionStorage.
        assert "#token=" not in driver.current_url
        assert token in json.dumps(driver.execute_script("return Object.assign({}, sessionStorage)"))
        shot(driver, artifacts, "12-token-login")
        # A tampered token is refused at the login form.
        button(driver, "Log out")
        bad = token[:-1] + ("0" if token[-1] != "0" else "1")
        css(driver, "textarea[name=token]").send_keys(bad)
        button(driver, "Use token")
        err = css(driver, "p.error[role=alert]")
        assert "signature" in err.text, err.text
        assert not driver.find_element(By.ID, "nav").is_displayed()
    finally:
        driver.quit()


def test_console_reports_malformed_xml_under_the_editor(server_factory, tmp_path, artifacts):
    """XML that is not well-formed is reported under the editor with the parser's message."""
    server = server_factory()
    env = dict(os.environ, REELFLOW_SECRET_ID=server.secret_id, REELFLOW_SECRET_KEY=server.secret_key)
    login = json.loads(subprocess.run(
        [str(server.binary), "login", "--server", server.base_url, "--json"],
        env=env, capture_output=True, text=True, check=True, timeout=30,
    ).stdout)  # fmt: skip
    subprocess.run([str(server.binary), "mb", "cos://xml-1250000000", "--server", server.base_url],
                   env=env, capture_output=True, check=True, timeout=30)  # fmt: skip
    driver = make_driver(tmp_path, 1280, 800)
    try:
        driver.get(login["console_url"])
        css(driver, "#nav")
        driver.get(f"{server.base_url}/_reelflow/console/#/workflows/new")
        area = css(driver, "textarea[name=xml]")
        area.clear()
        area.send_keys("<Request>\n<MediaWorkflow><Name>x</Nme></MediaWorkflow></Request>")
        button(driver, "Preview graph")
        err = wait(driver).until(lambda d: d.find_element(By.ID, "xml-error") if d.find_element(By.ID, "xml-error").is_displayed() else None)
        assert "not well-formed" in err.text and "line" in err.text.lower(), err.text
        shot(driver, artifacts, "13-malformed-xml")
        # Parsing it logged no CSP violation (the parser's error document is allowed its styles).
        assert not [e for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]
    finally:
        driver.quit()


# --- defects found by a new user: each kind of fault, not only the one input ------------------
HLS_720 = "t00000000000000000000000000000a720"  # official HLS-H264-720P: a long name + id in a cell


def _no_overflow(driver, what):
    assert no_horizontal_overflow(driver), (what, driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"))


def test_console_shell_after_a_bad_token_url(server_factory, tmp_path, artifacts):
    """A bad token URL, then a key-pair login: navigation, the bucket picker and Log out work
    (handlers attached whichever way login went); two quick navigations render one page, the
    latest; a run or workflow looked up in the wrong bucket names the bucket and offers the
    others (and `?bucket=` links select it); XML errors do not repeat themselves."""
    server = server_factory()
    client = server.client()
    first, second = sorted([rf.create_bucket(client, "shell"), rf.create_bucket(client, "shell")])
    wid = rf.create_workflow(client, second, rf.workflow_body(
        "in-second", {"MediaInfo_1": {"Type": "MediaInfo"}}, notify_url=None, prefix="x/", state="Paused"))
    driver = make_driver(tmp_path, 1280, 800)
    try:
        driver.get(f"{server.base_url}/_reelflow/console/#token=rfs1.garbage")
        css(driver, "p.error[role=alert]")
        assert "#token=" not in driver.current_url
        css(driver, "input[name=secret_id]").send_keys(server.secret_id)
        key = driver.find_element(By.CSS_SELECTOR, "input[name=secret_key]")
        key.send_keys(server.secret_key)
        key.send_keys(Keys.ENTER)
        css(driver, "#nav")
        # Navigation renders the page, not only the hash.
        click(driver, "#nav a[data-page=workflows]")
        wait(driver).until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Workflows")
        click(driver, "#nav a[data-page=templates]")
        wait(driver).until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Templates")
        # The picker switches bucket (back to the page's list).
        click(driver, "#nav a[data-page=workflows]")
        Select(css(driver, "#bucket-picker")).select_by_value(second)
        wait(driver).until(lambda d: d.find_elements(By.XPATH, f"//caption[normalize-space()='Workflows of {second}']"))
        # Two navigations in a row: only the latest renders (one upload form, the right bucket).
        Select(css(driver, "#bucket-picker")).select_by_value(first)
        wait(driver).until(lambda d: d.find_elements(By.XPATH, "//p[contains(@class,'empty') and contains(., 'No workflows yet')]"))
        for _ in range(3):
            driver.execute_script(
                "location.hash = '#/buckets'; setTimeout(() => { location.hash = '#/buckets?bucket=' + arguments[0]; }, 5);", second)
            wait(driver).until(lambda d: d.find_elements(By.XPATH, f"//nav[@aria-label='Prefix']/a[normalize-space()='{second}']"))
            time.sleep(0.5)  # a stale render would land by now
            assert len(driver.find_elements(By.CSS_SELECTOR, "form.upload-form")) == 1
            assert len(driver.find_elements(By.TAG_NAME, "h1")) == 1
            assert driver.find_element(By.ID, "bucket-picker").get_attribute("value") == second
            driver.execute_script("location.hash = '#/templates'")
            wait(driver).until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Templates")
            Select(css(driver, "#bucket-picker")).select_by_value(first)
        # A workflow of another bucket: the error names the bucket searched and links the others.
        driver.get(f"{server.base_url}/_reelflow/console/#/workflows/{wid}")
        err = css(driver, "main div.error[role=alert]")
        assert first in err.text and "Another bucket may hold it" in err.text, err.text
        shot(driver, artifacts, "14-not-in-this-bucket")
        err.find_element(By.LINK_TEXT, second).click()
        wait(driver).until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "in-second")
        assert driver.find_element(By.ID, "bucket-picker").get_attribute("value") == second
        # Links carry the bucket: they open in any picker state.
        Select(css(driver, "#bucket-picker")).select_by_value(first)
        wait(driver).until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Workflows")
        driver.get(f"{server.base_url}/_reelflow/console/#/workflows/{wid}?bucket={second}")
        wait(driver).until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "in-second")
        # A parser error says what it is once.
        driver.get(f"{server.base_url}/_reelflow/console/#/workflows/new")
        area = css(driver, "textarea[name=xml]")
        area.send_keys("<Request><MediaWorkflow><Name>x</Nme></MediaWorkflow></Request>")
        button(driver, "Preview graph")
        err = css(driver, "#xml-error")
        assert err.text.startswith("BadXml: ") and err.text.lower().count("xml") == 2, err.text
        # Log out forgets the token and shows the form.
        button(driver, "Log out")
        css(driver, "input[name=secret_id]")
        assert "rfs1." not in json.dumps(driver.execute_script("return Object.assign({}, sessionStorage)"))
        assert not driver.find_element(By.ID, "nav").is_displayed()
    finally:
        driver.quit()


def test_console_form_keeps_what_it_does_not_show_and_phone_pages_fit(server_factory, tmp_path, artifacts):
    """Saving an unchanged workflow with the form changes nothing (NotifyConfig's Event and
    ResultFormat, no ExtFilter, a filter the select cannot express); at 390 px long names, ids
    and task messages wrap (workflow, failed run and objects pages); Escape closes the menu."""
    server = server_factory()
    client = server.client()
    bucket = rf.create_bucket(client, "keep")
    other = rf.create_bucket(client, "other")
    out = "out/${RunId}/${InputName}.${Ext}"
    plain = rf.workflow_body("keep-me", {"Transcode_1": rf.transcode_node(HLS_720, bucket, out)},
                             notify_url="http://127.0.0.1:9/hook", prefix="in/", state="Paused", result_format="JSON")
    start = plain["MediaWorkflow"]["Topology"]["Nodes"]["Start"]["Input"]
    start["NotifyConfig"]["Event"] = "TaskFinish"
    del start["ExtFilter"]
    custom = rf.workflow_body("custom-filter", {"MediaInfo_1": {"Type": "MediaInfo"}}, notify_url=None, prefix="c/",
                              state="Paused", ext_filter={"State": "On", "Video": "true", "Custom": "true", "CustomExts": "txt/srt"})
    failing = rf.workflow_body("fails", {"Transcode_1": rf.transcode_node(HLS_720, bucket, out)}, notify_url=None,
                               prefix="bad/", ext_filter={"State": "On", "AllFile": "true"})
    ids = {w["MediaWorkflow"]["Name"]: rf.create_workflow(client, bucket, w) for w in (plain, custom, failing)}
    rf.upload(client, bucket, "bad/" + "v" * 90 + ".mp4", os.urandom(4096))  # the key is in the task's Message

    def stored(name):
        w = client.ci_get_workflow(Bucket=bucket, Ids=ids[name])["MediaWorkflowList"]
        return (w[0] if isinstance(w, list) else w)["Topology"]

    before = {n: stored(n) for n in ("keep-me", "custom-filter")}
    driver = make_driver(tmp_path, 1280, 800)
    try:
        login_with_keys(driver, server)
        for name, files in (("keep-me", "all"), ("custom-filter", "stored")):
            driver.get(f"{server.base_url}/_reelflow/console/#/workflows/{ids[name]}/edit?bucket={bucket}")
            form = css(driver, "#workflow-form")
            assert Select(form.find_element(By.NAME, "filter")).first_selected_option.get_attribute("value") == files
            assert Select(form.find_element(By.NAME, "state")).first_selected_option.text == "Paused"
            click(driver, "#save-workflow")
            toast_text(driver, "saved")
            wait(driver).until(lambda d, name=name: d.find_element(By.TAG_NAME, "h1").text == name)
            assert stored(name) == before[name], (name, stored(name), before[name])
        shot(driver, artifacts, "15-saved-unchanged")

        runs = rf.eventually(lambda: [r for r in rf.list_executions(client, bucket, ids["fails"]) if r["State"] == "Failed"],
                             timeout=60, what="the failed run")
        run_id = runs[0]["RunId"]
        rf.upload(client, bucket, f"out/{run_id}/clip.mp4", b"x")

        set_viewport(driver, 390, 844)
        driver.get(f"{server.base_url}/_reelflow/console/#/workflows/{ids['keep-me']}?bucket={bucket}")
        wait(driver).until(lambda d: d.find_elements(By.XPATH, f"//td[@data-label='Template' and contains(., '{HLS_720}')]"))
        _no_overflow(driver, "workflow page")
        driver.get(f"{server.base_url}/_reelflow/console/#/runs/{run_id}?bucket={bucket}")
        wait(driver).until(lambda d: d.find_elements(By.XPATH, "//td[@data-label='Message' and contains(., 'vvvvvvvvvv')]"))
        _no_overflow(driver, "failed run page")
        shot(driver, artifacts, "16-phone-failed-run")
        driver.get(f"{server.base_url}/_reelflow/console/#/buckets?bucket={bucket}&prefix=out/")
        css(driver, "a.folder")
        _no_overflow(driver, "objects page")
        # Escape closes the menu; focus goes back to its button.
        click(driver, ".nav-toggle")
        css(driver, "#nav a[data-page=runs]")
        ActionChains(driver).send_keys(Keys.ESCAPE).perform()
        wait(driver).until(lambda d: not d.find_element(By.ID, "nav").is_displayed())
        assert "nav-toggle" in driver.switch_to.active_element.get_attribute("class")
        assert driver.find_element(By.CSS_SELECTOR, ".nav-toggle").get_attribute("aria-expanded") == "false"
        # An old run link while the picker is on another bucket: the bucket searched, and a way there.
        Select(css(driver, "#bucket-picker")).select_by_value(other)
        wait(driver).until(lambda d: d.find_elements(By.XPATH, f"//nav[@aria-label='Prefix']/a[normalize-space()='{other}']"))
        driver.get(f"{server.base_url}/_reelflow/console/#/runs/{run_id}")
        err = css(driver, "main div.error[role=alert]")
        assert other in err.text and "Another bucket may hold it" in err.text, err.text
        _no_overflow(driver, "run not found")
        click(driver, f"main div.error a[href*='bucket={bucket}']")
        wait(driver).until(lambda d: d.find_element(By.ID, "run-state").get_attribute("data-state") == "Failed")
    finally:
        driver.quit()
