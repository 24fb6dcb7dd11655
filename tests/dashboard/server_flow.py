"""The dashboard's server flow in headless Chromium (issue 20, item 1):
the guest found, snapshotted, rolled back instantly.

Run by tests/integration/test-dashboard-server.sh against a stratad with a
booted test guest whose disk has a point already:
  server_flow.py URL SERVER_ID SNAPSHOT_ID SHOTS_DIR
Signs in (noauth), finds the server on the servers page, opens it (its
disks with chain length, one timeline of them), takes a snapshot (Nova's
createImage) and watches its progress, picks Rollback and then SNAPSHOT_ID,
reads the confirm page (a running server: instant rollback chosen, a normal
one refused), confirms and follows the rollback's phases to its end, then
finds it in the task view. Saves screenshots in SHOTS_DIR, fails on any
console error, prints {"paths"} as JSON.
"""
import re
import sys

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from browser import Browser

url, server, point, shots = sys.argv[1:5]
b = Browser(url, shots)
d = b.driver


clickable = b.clickable


try:
    b.sign_in()
    b.open_server(server)
    clickable("#take-snapshot")
    main = d.find_element(By.ID, "main").text
    assert re.search(r"/dev/vda\s+\S+\s+(in-use|available)\s+[1-9][0-9]* files?", main), \
        "the server's disks table: %s" % main
    b.shot("01-server")
    b.take_snapshot("02-snapshot-progress", "03-timeline")
    clickable("#rollback").click()
    clickable('a[data-point="%s"]' % point).click()
    confirm = clickable("#confirm-rollback")
    assert d.find_element(By.ID, "way-instant").is_selected(), \
        "a running server's confirm page does not choose instant rollback"
    assert not d.find_element(By.ID, "way-normal").is_enabled(), \
        "a normal rollback is offered for a running server's disk"
    text = d.find_element(By.ID, "what-happens").text
    for must in ("powered off and started again", "rebuilt from the point",
                 "later point(s) stay"):
        assert must in text, "the confirm page does not say '%s': %s" % (must, text)
    b.shot("04-confirm-instant")
    confirm.click()
    # Phases as they come, each seen by the page's progress line.
    phases = set()
    status = b.until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, "[data-follow] [role=status]")))

    def ended(d):
        try:
            phases.add(status.text.split(" ")[0])
        except Exception:
            pass
        return d.find_elements(By.ID, "rollback-done")
    b.until(ended)
    b.shot("05-rolled-back")
    d.get(url + "/dashboard/#/tasks")
    b.until(lambda d: "instant" in d.find_element(By.ID, "tasks").text)
    b.shot("06-tasks")
except BaseException:
    d.save_screenshot("%s/failed.png" % shots)
    d.quit()
    raise
b.finish({"phases": sorted(phases)})
