"""The dashboard's main flow in headless Chromium (issue 20, item 1).

Run by tests/integration/test-dashboard.sh with Debian's python3-selenium,
chromium and chromium-driver:
  dashboard_flow.py URL VOLUME_ID SHOTS_DIR [USER PASSWORD PROJECT]
Signs in (Keystone when USER is given, else noauth), finds the volume,
takes a snapshot and watches its progress, picks Rollback (by keyboard)
and then the
first point, reads the confirm page, confirms and watches the rollback to
its end; also the task view (live) and the policies page with its
next-runs preview, at 1280x800 and at a phone's width (390x844). Saves a
screenshot of each page in SHOTS_DIR and fails on any console error, and
prints the API paths the page called (from the browser's performance log)
for the caller to check against the documented API.
"""
import json
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

url, volume, shots = sys.argv[1], sys.argv[2], sys.argv[3]
user = sys.argv[4] if len(sys.argv) > 4 else None
password = sys.argv[5] if len(sys.argv) > 5 else None
project = sys.argv[6] if len(sys.argv) > 6 else None

opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
          "--no-first-run", "--disable-background-networking",
          "--disable-component-update", "--disable-sync",
          "--disable-dev-shm-usage", "--window-size=1280,800"):
    opts.add_argument(a)
opts.set_capability("goog:loggingPrefs", {"browser": "ALL",
                                          "performance": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                          options=opts)
# Every wait is on a condition; the bound only stops a broken page from
# hanging the test.
wait = WebDriverWait(driver, 300)
errors = []


def check_console():
    for e in driver.get_log("browser"):
        if e["level"] in ("SEVERE", "ERROR"):
            errors.append(e["message"])


def shot(name):
    driver.save_screenshot("%s/%s.png" % (shots, name))
    check_console()


def check_labels():
    """Every form field has a label (label[for] or aria-label), and every
    button and link a name: what a screen reader announces."""
    bad = driver.execute_script("""
      const out = [];
      for (const f of document.querySelectorAll('input, select')) {
        const named = f.getAttribute('aria-label') ||
          (f.id && document.querySelector('label[for="' + f.id + '"]'));
        if (!named) out.push(f.outerHTML);
      }
      for (const b of document.querySelectorAll('button, a'))
        if (!b.textContent.trim() && !b.getAttribute('aria-label'))
          out.push(b.outerHTML);
      return out;""")
    assert not bad, "unnamed controls: %s" % bad


try:
    driver.get(url + "/dashboard/")
    wait.until(EC.presence_of_element_located((By.ID, "signin")))
    shot("01-sign-in")
    if user:
        for field, value in (("username", user), ("password", password),
                             ("project", project)):
            box = driver.find_element(By.ID, field)
            box.clear()
            box.send_keys(value)
    check_labels()
    # Keyboard only: Enter in the last field submits the form.
    driver.find_element(By.ID, "username").send_keys(Keys.ENTER)
    link = wait.until(EC.element_to_be_clickable(
        (By.CSS_SELECTOR, 'a[href="#/volume/%s"]' % volume)))
    shot("02-volumes")
    link.click()
    take = wait.until(EC.element_to_be_clickable((By.ID, "take-snapshot")))
    before = len(driver.find_elements(By.CSS_SELECTOR, "li[data-snapshot]"))
    take.click()
    # The progress card appears, then the page reloads with one more point.
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-follow]")))
    shot("03-snapshot-progress")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR,
                                             "li[data-snapshot]")) == before + 1)
    shot("04-timeline")
    check_labels()
    points = driver.find_elements(By.CSS_SELECTOR, "li[data-snapshot]")
    oldest = points[-1].get_attribute("data-snapshot")
    # Keyboard only: Tab from "Take a snapshot" reaches "Rollback…", and
    # Enter presses it.
    driver.find_element(By.ID, "take-snapshot").send_keys(Keys.TAB)
    focused = driver.switch_to.active_element
    assert focused.get_attribute("id") == "rollback", \
        "Tab did not reach Rollback: %s" % focused.get_attribute("outerHTML")
    focused.send_keys(Keys.ENTER)
    choice = wait.until(EC.element_to_be_clickable(
        (By.CSS_SELECTOR, 'a[data-point="%s"]' % oldest)))
    shot("05-choose-point")
    choice.click()
    confirm = wait.until(EC.element_to_be_clickable((By.ID, "confirm-rollback")))
    page = driver.find_element(By.ID, "main").text
    for must in ("In place", "later point(s) stay", "Normal rollback"):
        assert must in page, "the confirm page does not say '%s': %s" % (must, page)
    shot("06-confirm")
    confirm.click()
    wait.until(EC.presence_of_element_located((By.ID, "rollback-done")))
    shot("07-rolled-back")
    driver.get(url + "/dashboard/#/tasks")
    wait.until(lambda d: "revert" in d.find_element(By.ID, "tasks").text)
    shot("08-tasks")
    driver.get(url + "/dashboard/#/policies")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#preview li")) == 5)
    check_labels()
    shot("09-policies")
    driver.set_window_size(390, 844)
    driver.get(url + "/dashboard/#/volume/" + volume)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "li[data-snapshot]")))
    width = driver.execute_script(
        "return document.documentElement.scrollWidth")
    assert width <= 390, "the phone-width page scrolls sideways: %d px" % width
    shot("10-phone-timeline")
    # The API paths the page called.
    paths = set()
    for e in driver.get_log("performance"):
        m = json.loads(e["message"])["message"]
        if m.get("method") == "Network.requestWillBeSent":
            r = m["params"]["request"]
            if r["url"].startswith(url):
                paths.add(r["method"] + " " + r["url"][len(url):].split("?")[0])
    print(json.dumps({"oldest": oldest, "paths": sorted(paths)}))
finally:
    driver.quit()

if errors:
    sys.exit("console errors: %s" % errors)
