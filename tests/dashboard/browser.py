"""Headless Chromium for the dashboard's tests (issue 20, item 1).

What every flow needs: a driver (Debian's chromium and chromium-driver,
through python3-selenium) at 1280x800 with the browser and performance
logs on; a bounded wait on conditions; screenshots; the console checked for
errors; every control checked for a name; and the API paths the page
called, read from the performance log, for the caller to check against the
documented API.
"""
import json

from selenium import webdriver
from selenium.common.exceptions import (NoSuchElementException,
                                        StaleElementReferenceException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait


class Browser:
    def __init__(self, url, shots):
        self.url, self.shots, self.errors = url, shots, []
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
                  "--disable-quic", "--no-first-run",
                  "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,800"):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL",
                                                  "performance": "ALL"})
        self.driver = webdriver.Chrome(
            service=Service("/usr/bin/chromedriver"), options=opts)
        # Every wait is on a condition; the bound only stops a broken page
        # from hanging the test.
        # A page redrawn while a condition reads it is read again.
        self.wait = WebDriverWait(
            self.driver, 300,
            ignored_exceptions=(NoSuchElementException,
                                StaleElementReferenceException))
        self.paths = set()

    def until(self, cond):
        """Waits for COND(driver); a fault the page shows ends the wait at
        once, with its message."""
        def step(d):
            box = d.find_elements("id", "error")
            if box and box[0].is_displayed():
                raise AssertionError("the page shows a fault: " + box[0].text)
            return cond(d)
        return self.wait.until(step)

    def clickable(self, css):
        """Waits for the element CSS names to be clickable; returns it."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as EC
        try:
            return self.until(EC.element_to_be_clickable((By.CSS_SELECTOR, css)))
        except Exception as e:
            raise AssertionError("waiting for %s: %s" % (css, e)) from e

    def take_snapshot(self, progress_shot, timeline_shot,
                      button="#take-snapshot"):
        """On a volume's or server's page: Take a snapshot (`button`), its
        progress card, then the page drawn again with one more point."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as EC
        take = self.clickable(button)
        points = "li[data-snapshot]"
        before = len(self.driver.find_elements(By.CSS_SELECTOR, points))
        take.click()
        self.until(EC.presence_of_element_located(
            (By.CSS_SELECTOR, "[data-follow]")))
        self.shot(progress_shot)
        self.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, points)) ==
                   before + 1)
        self.shot(timeline_shot)
        self.check_labels()

    def check_console(self):
        for e in self.driver.get_log("browser"):
            if e["level"] in ("SEVERE", "ERROR"):
                self.errors.append(e["message"])

    def shot(self, name):
        self.driver.save_screenshot("%s/%s.png" % (self.shots, name))
        self.check_console()
        self.collect_paths()

    def check_labels(self):
        """Every form field has a label (label[for] or aria-label), and
        every button and link a name: what a screen reader announces."""
        bad = self.driver.execute_script("""
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

    def collect_paths(self):
        """Adds the API paths the page called since the last collection
        (the performance log is read once)."""
        for e in self.driver.get_log("performance"):
            m = json.loads(e["message"])["message"]
            if m.get("method") == "Network.requestWillBeSent":
                r = m["params"]["request"]
                if r["url"].startswith(self.url):
                    self.paths.add(r["method"] + " " +
                                   r["url"][len(self.url):].split("?")[0])

    def open_server(self, server):
        """From any page: the servers page, then SERVER's own page."""
        self.clickable('a[href="#/servers"]').click()
        self.clickable('a[href="#/server/%s"]' % server).click()

    def sign_in(self, user=None, password=None, project=None):
        """The sign-in page, by keyboard: Keystone when USER is given,
        else noauth's defaults."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys
        from selenium.webdriver.support import expected_conditions as EC
        self.driver.get(self.url + "/dashboard/")
        self.wait.until(EC.presence_of_element_located((By.ID, "signin")))
        self.shot("01-sign-in")
        if user:
            for field, value in (("username", user), ("password", password),
                                 ("project", project)):
                box = self.driver.find_element(By.ID, field)
                box.clear()
                box.send_keys(value)
        self.check_labels()
        # Keyboard only: Enter in the last field submits the form.
        self.driver.find_element(By.ID, "username").send_keys(Keys.ENTER)

    def finish(self, result):
        """Prints RESULT with the paths called, as JSON, and quits; exits
        non-zero on console errors."""
        self.collect_paths()
        self.driver.quit()
        result["paths"] = sorted(self.paths)
        print(json.dumps(result))
        if self.errors:
            raise SystemExit("console errors: %s" % self.errors)
