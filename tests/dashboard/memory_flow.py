"""The dashboard's memory snapshots in headless Chromium (issue 21): a
running server snapshotted with its memory, then restored from it.

Run by tests/integration/test-dashboard-memory.sh against a stratad with a
booted test guest running its memory workload:
  memory_flow.py URL SERVER_ID SHOTS_DIR
Signs in (noauth), opens the server's page, takes a snapshot with memory
(the "Take a snapshot with memory" button: createImage with
os-strata:memory) and watches its progress until the timeline shows the
new point "with memory"; picks Rollback and that point, checks the
confirm page offers the restore with memory (and says the server carries
on where it was), chooses it, confirms and follows it to its end. Saves
screenshots in SHOTS_DIR, fails on any console error, prints {"point",
"paths"} as JSON.
"""
import sys

from selenium.webdriver.common.by import By

from browser import Browser

url, server, shots = sys.argv[1:4]
b = Browser(url, shots)
d = b.driver
clickable = b.clickable

try:
    b.sign_in()
    b.open_server(server)
    clickable("#take-memory-snapshot")
    b.shot("01-server")
    b.take_snapshot("02-memory-progress", "03-timeline",
                    button="#take-memory-snapshot")
    newest = d.find_elements(By.CSS_SELECTOR, "li[data-snapshot]")[0]
    point = newest.get_attribute("data-snapshot")
    tag = newest.find_element(By.CSS_SELECTOR, ".memory").text
    assert tag.startswith("with memory"), "the new point's memory: %s" % tag
    clickable("#rollback").click()
    clickable('a[data-point="%s"]' % point).click()
    confirm = clickable("#confirm-rollback")
    way = d.find_element(By.ID, "way-memory")
    assert way.is_enabled(), "the restore with memory is not offered"
    way.click()
    text = d.find_element(By.ID, "what-happens").text
    for must in ("starts again from the memory", "carries on where it was"):
        assert must in text, "the confirm page does not say '%s': %s" % (must, text)
    b.shot("04-confirm-memory")
    confirm.click()
    b.until(lambda d: d.find_elements(By.ID, "rollback-done"))
    b.shot("05-restored")
except BaseException:
    d.save_screenshot("%s/failed.png" % shots)
    d.quit()
    raise
b.finish({"point": point})
