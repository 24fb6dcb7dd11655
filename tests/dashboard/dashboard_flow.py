"""The dashboard's volume flow in headless Chromium (issue 20, item 1).

Run by tests/integration/test-dashboard.sh (and by scripts/demo.sh, to show
the main job in the dashboard):
  dashboard_flow.py URL VOLUME_ID SHOTS_DIR [USER PASSWORD PROJECT]
Signs in (Keystone when USER is given, else noauth), finds the volume and
its chain length, takes a snapshot and watches its progress, picks
Rollback (by keyboard) and then the oldest point, reads the confirm page
(instant rollback offered only for a server's disk), confirms a rollback in
place and watches it to its end; verifies the point (its store named, its
state "not verified since upload", then "verified …"); then rolls the same
point into a new volume. Also the task view (live, with rates), and the policy editor: a
new policy with retention buckets and its next-runs preview, edited,
run now, its runs and prune dry run, deleted. At 1280x800 and at a phone's
width (390x844). Saves a screenshot of each page in SHOTS_DIR, fails on any
console error, and prints {"oldest", "new_volume", "paths"} as JSON.
"""
import re
import sys

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC

from browser import Browser

url, volume, shots = sys.argv[1], sys.argv[2], sys.argv[3]
user = sys.argv[4] if len(sys.argv) > 4 else None
password = sys.argv[5] if len(sys.argv) > 5 else None
project = sys.argv[6] if len(sys.argv) > 6 else None

b = Browser(url, shots)
d = b.driver


clickable = b.clickable


def choose_oldest_point():
    """From the volume's page: Rollback… (by keyboard), then the oldest
    point; returns its id."""
    clickable("#take-snapshot")
    points = d.find_elements(By.CSS_SELECTOR, "li[data-snapshot]")
    oldest = points[-1].get_attribute("data-snapshot")
    # Keyboard only: Tab from "Take a snapshot" reaches "Rollback…", and
    # Enter presses it.
    d.find_element(By.ID, "take-snapshot").send_keys(Keys.TAB)
    focused = d.switch_to.active_element
    assert focused.get_attribute("id") == "rollback", \
        "Tab did not reach Rollback: %s" % focused.get_attribute("outerHTML")
    focused.send_keys(Keys.ENTER)
    clickable('a[data-point="%s"]' % oldest).click()
    return oldest


try:
    b.sign_in(user, password, project)
    link = clickable('a[href="#/volume/%s"]' % volume)
    chain = d.find_element(By.CSS_SELECTOR, '[data-chain="%s"]' % volume).text
    assert re.fullmatch(r"[1-9][0-9]* files?", chain), \
        "the volumes page shows no chain length: %r" % chain
    b.shot("02-volumes")
    link.click()
    b.take_snapshot("03-snapshot-progress", "04-timeline")
    oldest = choose_oldest_point()
    confirm = clickable("#confirm-rollback")
    instant = d.find_element(By.ID, "way-instant")
    assert not instant.is_enabled(), \
        "instant rollback is offered for a volume that is no server's disk"
    assert d.find_element(By.ID, "way-normal").is_selected(), \
        "a quiet volume's confirm page does not default to a normal rollback"
    page = d.find_element(By.ID, "main").text
    for must in ("In place", "later point(s) stay", "Normal rollback"):
        assert must in page, "the confirm page does not say '%s': %s" % (must, page)
    b.check_labels()
    b.shot("05-confirm")
    confirm.click()
    b.until(EC.presence_of_element_located((By.ID, "rollback-done")))
    b.shot("06-rolled-back")
    # The oldest point verified: its stored layer read back.
    d.get(url + "/dashboard/#/volume/" + volume)
    state = clickable('[data-verify="%s"]' % oldest)
    assert state.text == "not verified since upload", state.text
    assert " in local" in d.find_element(
        By.CSS_SELECTOR, 'li[data-snapshot="%s"]' % oldest).text, \
        "the timeline does not name the point's store"
    clickable("#verify-" + oldest[:8]).click()
    b.until(lambda d: d.find_element(
        By.CSS_SELECTOR, '[data-verify="%s"]' % oldest).text.startswith("verified "))
    b.shot("07-verified")
    # The same point into a new volume: the confirm page says so.
    assert choose_oldest_point() == oldest
    clickable("#way-new").click()
    b.until(lambda d: "Into a new volume" in
               d.find_element(By.ID, "what-happens").text)
    b.shot("08-confirm-new-volume")
    clickable("#confirm-rollback").click()
    done = b.until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, "#rollback-done[data-volume]")))
    new_volume = done.get_attribute("data-volume")
    b.shot("09-new-volume")
    d.get(url + "/dashboard/#/tasks")
    b.until(lambda d: "revert" in d.find_element(By.ID, "tasks").text)
    rates = [e.text for e in d.find_elements(By.CSS_SELECTOR, "[data-rate]")]
    assert rates and all(r == "—" for r in rates), \
        "ended tasks show a rate: %s" % rates
    # A running task's rate: the average at first, then each poll's change
    # (smoothed), here fed two polls 2 s apart.
    got = d.execute_script("""
      const t = {id: "probe", status: "running", progress: 10, seconds: 2};
      const a = rateOf(t, 1000);
      const b = rateOf(Object.assign({}, t, {progress: 30, seconds: 4}), 3000);
      const c = rateOf(Object.assign({}, t, {status: "succeeded"}), 4000);
      return [a, b, c];""")
    assert got == [5, 7.5, None], "the task rate: %s" % got
    b.shot("10-tasks")
    # The policy editor: a new policy with buckets, its preview as typed.
    d.get(url + "/dashboard/#/policies")
    b.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#new-preview li")) == 5)
    name = d.find_element(By.ID, "new-name")
    name.clear()
    name.send_keys("flow policy")
    d.find_element(By.ID, "new-keep_daily").send_keys("7")
    box = d.find_element(By.ID, "new-t-" + volume)
    if not box.is_selected():
        box.click()
    b.check_labels()
    b.shot("11-new-policy")
    d.find_element(By.ID, "new-save").click()
    card = b.until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, "[data-policy-card]")))
    policy = card.get_attribute("data-policy-card")
    assert "daily 7" in card.text, "the new policy's card: %s" % card.text
    clickable("#edit-" + policy[:8]).click()
    sched = clickable("#p%s-schedule" % policy[:8])
    sched.clear()
    sched.send_keys("*-*-* 03:00")
    b.until(lambda d: len(d.find_elements(
        By.CSS_SELECTOR, "#p%s-preview li" % policy[:8])) == 5 and all(
        "3:00" in li.text for li in d.find_elements(
            By.CSS_SELECTOR, "#p%s-preview li" % policy[:8])))
    b.shot("12-edit-policy")
    d.find_element(By.ID, "p" + policy[:8] + "-save").click()
    b.until(lambda d: d.find_element(
        By.CSS_SELECTOR, '[data-policy-card="%s"] .schedule' % policy).text ==
        "*-*-* 03:00")
    run = clickable("#run-" + policy[:8])
    run.click()
    b.until(EC.staleness_of(run))  # the page is drawn again after the run
    # The run shows in the policy's runs (reloaded until it has ended).
    for _ in range(600):
        clickable('button[data-policy="%s"]' % policy).click()
        try:
            b.until(lambda d: "Prune dry run" in d.find_element(
                By.CSS_SELECTOR, '[data-policy-card="%s"]' % policy).text)
        except Exception:
            pass
        text = d.find_element(By.CSS_SELECTOR,
                              '[data-policy-card="%s"]' % policy).text
        if re.search(r"manual\s+success", text):
            break
        assert not re.search(r"manual\s+error", text), "the run failed: " + text
        d.execute_script("return new Promise(r => setTimeout(r, 500))")
    else:
        raise AssertionError("the manual run did not end: " + text)
    b.shot("13-policy-runs")
    clickable("#delete-" + policy[:8]).click()
    b.until(lambda d: not d.find_elements(
        By.CSS_SELECTOR, '[data-policy-card="%s"]' % policy))
    d.set_window_size(390, 844)
    d.get(url + "/dashboard/#/volume/" + volume)
    b.until(EC.presence_of_element_located((By.CSS_SELECTOR, "li[data-snapshot]")))
    width = d.execute_script("return document.documentElement.scrollWidth")
    assert width <= 390, "the phone-width page scrolls sideways: %d px" % width
    b.shot("14-phone-timeline")
    d.get(url + "/dashboard/#/policies")
    b.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#new-preview li")) == 5)
    width = d.execute_script("return document.documentElement.scrollWidth")
    assert width <= 390, "the phone-width policies page scrolls sideways: %d px" % width
    b.shot("15-phone-policies")
except BaseException:
    b.driver.save_screenshot("%s/failed.png" % shots)
    b.driver.quit()
    raise
b.finish({"oldest": oldest, "new_volume": new_volume})
