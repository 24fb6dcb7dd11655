// Strata's dashboard (issue 20, item 1): a page over the documented REST
// API, served by stratad at /dashboard/. Hash routes:
//   #/login            sign in (Keystone, or noauth's project and user)
//   #/volumes          volumes, their status, chain head and export
//   #/volume/ID        a volume's snapshot timeline; snapshot, rollback
//   #/rollback/ID/SNAP the confirm page, then live progress by phase
//   #/servers          servers (libvirt domains) and their disks
//   #/tasks            every long operation, refreshed each second
//   #/policies         backup policies, next runs, runs, prune dry run
// Faults are shown as the API's messages. No framework, no CDN.
"use strict";

const main = document.getElementById("main");
const errorBox = document.getElementById("error");
let timer = null;  // the current page's refresh

// ---- API ----

function token() { return sessionStorage.getItem("strata.token"); }

async function call(method, path, body, headers) {
  const h = Object.assign({"Accept": "application/json",
                           "X-Auth-Token": token() || "",
                           "X-Strata-Details": "true"}, headers || {});
  if (body !== undefined) h["Content-Type"] = "application/json";
  const r = await fetch(path, {method, headers: h,
                               body: body === undefined ? undefined
                                                        : JSON.stringify(body)});
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
  if (!r.ok) {
    // An OpenStack fault: {"itemNotFound": {"message": …, "code": 404}}.
    let message = text;
    if (json && typeof json === "object")
      for (const k of Object.keys(json))
        if (json[k] && json[k].message) message = json[k].message;
    const e = new Error(message);
    e.status = r.status;
    throw e;
  }
  return json;
}

function showError(e) {
  if (e && e.status === 401) { signOut(); return; }
  errorBox.textContent = e && e.message ? e.message : String(e);
  errorBox.hidden = false;
}
function clearError() { errorBox.hidden = true; errorBox.textContent = ""; }

// ---- rendering helpers ----

function el(tag, attrs, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
    else if (k === "class") n.className = v;
    else n.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    n.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return n;
}

function statusSpan(s) { return el("span", {class: "status-" + s}, s); }

function bytes(n) {
  if (n === undefined || n === null) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + units[i];
}

function when(iso) {
  if (!iso) return "";
  const d = new Date(iso.endsWith("Z") ? iso : iso + "Z");
  return isNaN(d) ? iso : d.toLocaleString();
}

function table(caption, headers, rows) {
  return el("div", {class: "scroll"},
    el("table", {},
      el("caption", {class: "muted"}, caption),
      el("thead", {}, el("tr", {}, headers.map(h =>
        el("th", {scope: "col", class: h.narrow ? "hide-narrow" : null},
           h.label || h)))),
      el("tbody", {}, rows.length ? rows.map(r => el("tr", {}, r.map((c, i) =>
        el("td", {class: headers[i].narrow ? "hide-narrow" : null}, c))))
        : el("tr", {}, el("td", {colspan: headers.length, class: "muted"},
                          "None.")))));
}

function page(title, ...content) {
  main.replaceChildren(el("h1", {}, title), ...content);
  document.title = title + " · Strata";
  main.focus();
}

// ---- sign in ----

function signOut() {
  sessionStorage.removeItem("strata.token");
  location.hash = "#/login";
}

async function loginPage() {
  document.getElementById("nav").hidden = true;
  const info = await call("GET", "/dashboard/api/auth");
  const keystone = info.strategy === "keystone";
  const form = el("form", {class: "card", "aria-label": "Sign in"},
    keystone ? [
      el("label", {for: "username"}, "User name"),
      el("input", {id: "username", name: "username", autocomplete: "username",
                   required: true}),
      el("label", {for: "password"}, "Password"),
      el("input", {id: "password", name: "password", type: "password",
                   autocomplete: "current-password", required: true}),
      el("label", {for: "project"}, "Project"),
      el("input", {id: "project", name: "project", required: true}),
      el("label", {for: "domain"}, "Domain"),
      el("input", {id: "domain", name: "domain", value: "Default"}),
    ] : [
      el("p", {class: "muted"},
         "This stratad runs without Keystone (noauth): say which project " +
         "and user you act as."),
      el("label", {for: "project"}, "Project"),
      el("input", {id: "project", name: "project", value: "admin",
                   required: true}),
      el("label", {for: "username"}, "User"),
      el("input", {id: "username", name: "username", value: "admin",
                   required: true}),
    ],
    el("div", {class: "actions"},
       el("button", {type: "submit", id: "signin"}, "Sign in")));
  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    clearError();
    const f = new FormData(form);
    try {
      let t;
      if (keystone) {
        const r = await call("POST", "/dashboard/api/login", {
          username: f.get("username"), password: f.get("password"),
          project_name: f.get("project"),
          domain_name: f.get("domain") || "Default"});
        t = r.token;
      } else {
        t = f.get("project") + ":" + f.get("username");
      }
      sessionStorage.setItem("strata.token", t);
      location.hash = "#/volumes";
    } catch (e) { showError(e); }
  });
  page("Sign in to Strata", form);
}

// ---- volumes ----

async function volumesPage() {
  const r = await call("GET", "/v3/volumes/detail");
  const rows = r.volumes.map(v => [
    el("a", {href: "#/volume/" + v.id}, v.name || v.id),
    statusSpan(v.status),
    v.size + " GiB",
    v["os-strata:head_snapshot_id"] ? v["os-strata:head_snapshot_id"].slice(0, 8)
                                    : el("span", {class: "muted"}, "none"),
    v["os-strata:nbd_export"]
      ? "NBD export " + v["os-strata:nbd_export"].name + " (cache " +
        (v["os-strata:nbd_export"].redirect_cache
           ? v["os-strata:nbd_export"].redirect_cache.state : "off") +
        (v["os-strata:nbd_export"].chain_released ? ", chain released" : "") + ")"
      : "disk file"]);
  page("Volumes", table("Volumes of your project",
    ["Name", "Status", "Size", {label: "Head point", narrow: true},
     {label: "Where it lives", narrow: true}], rows));
}

// A volume's snapshots as a timeline, newest first; failed points say
// which later point covers them.
async function volumePage(id) {
  const [v, s] = await Promise.all([
    call("GET", "/v3/volumes/" + id),
    call("GET", "/v3/snapshots/detail?volume_id=" + encodeURIComponent(id))]);
  const vol = v.volume;
  const snaps = s.snapshots.slice().sort((a, b) =>
    a.created_at < b.created_at ? 1 : -1);
  const coveredBy = {};
  for (const p of snaps)
    for (const c of p["os-strata:covers"] || []) coveredBy[c] = p;
  const head = vol["os-strata:head_snapshot_id"];
  const items = snaps.map(p => {
    const failed = p.status === "error";
    const cover = coveredBy[p.id];
    return el("li", {class: failed ? "failed" : p.id === head ? "head" : null,
                     "data-snapshot": p.id},
      el("div", {class: "point"},
        el("span", {class: "when"}, when(p.created_at)),
        el("span", {}, p.name || p.id.slice(0, 8)),
        statusSpan(p.status),
        p.id === head ? el("span", {class: "status-available"}, "current") : null),
      el("div", {class: "point muted"},
        el("span", {}, "stored " + bytes(p["os-strata:stored_bytes"])),
        el("span", {title: p["os-strata:sha256"] || ""},
           "SHA-256 " + (p["os-strata:sha256"]
                         ? p["os-strata:sha256"].slice(0, 12) + "…" : "—")),
        el("span", {}, "parent " + (p["os-strata:parent_id"]
                                    ? p["os-strata:parent_id"].slice(0, 8)
                                    : "none")),
        failed ? el("span", {}, cover ? "covered by " + (cover.name ||
                                        cover.id.slice(0, 8))
                                      : "not yet covered") : null));
  });
  const takeButton = el("button", {type: "button", id: "take-snapshot",
    onclick: async () => {
      clearError();
      takeButton.disabled = true;
      try {
        const r = await call("POST", "/v3/snapshots", {snapshot: {
          volume_id: id, name: "dashboard " + new Date().toISOString(),
          force: true}});
        await follow("Snapshot " + r.snapshot.id.slice(0, 8), async () => {
          const x = (await call("GET", "/v3/snapshots/" + r.snapshot.id)).snapshot;
          return {phase: x.status,
                  progress: parseInt(x["os-extended-snapshot-attributes:progress"]),
                  done: x.status === "available", failed: x.status === "error",
                  error: x["os-strata:error"]};
        });
        route();
      } catch (e) { showError(e); takeButton.disabled = false; }
    }}, "Take a snapshot");
  const rollbackButton = el("button", {type: "button", class: "secondary",
    id: "rollback", onclick: () => chooseRollback(vol, snaps)}, "Rollback…");
  page("Volume " + (vol.name || vol.id),
    el("dl", {class: "facts"},
      el("dt", {}, "ID"), el("dd", {}, vol.id),
      el("dt", {}, "Status"), el("dd", {}, statusSpan(vol.status)),
      el("dt", {}, "Size"), el("dd", {}, vol.size + " GiB")),
    el("div", {class: "actions"}, takeButton, rollbackButton),
    el("div", {id: "progress-area"}),
    el("h2", {}, "Timeline"),
    snaps.length ? el("ol", {class: "timeline", "aria-label": "Snapshots, newest first"}, items)
                 : el("p", {class: "muted"}, "No snapshots yet."));
}

// R2.10: the user chooses rollback, then the point.
function chooseRollback(vol, snaps) {
  const points = snaps.filter(p => p.status === "available");
  const list = el("ol", {class: "timeline", "aria-label": "Points to roll back to"},
    points.map(p => el("li", {},
      el("div", {class: "point"},
        el("span", {class: "when"}, when(p.created_at)),
        el("span", {}, p.name || p.id.slice(0, 8)),
        el("a", {href: "#/rollback/" + vol.id + "/" + p.id, class: "button",
                 "data-point": p.id}, "Roll back to this point")))));
  page("Roll back " + (vol.name || vol.id) + ": choose the point",
       points.length ? list : el("p", {}, "No stored point to roll back to."),
       el("p", {}, el("a", {href: "#/volume/" + vol.id}, "Cancel")));
}

async function rollbackPage(volId, snapId) {
  const [v, s] = await Promise.all([call("GET", "/v3/volumes/" + volId),
                                    call("GET", "/v3/snapshots/" + snapId)]);
  const vol = v.volume, snap = s.snapshot;
  const all = (await call("GET", "/v3/snapshots/detail?volume_id=" +
                          encodeURIComponent(volId))).snapshots;
  const later = all.filter(p => p.created_at > snap.created_at);
  const confirm = el("button", {type: "button", id: "confirm-rollback",
    onclick: async () => {
      clearError();
      confirm.disabled = true;
      try {
        await call("POST", "/v3/volumes/" + volId + "/action",
                   {revert: {snapshot_id: snapId}},
                   {"OpenStack-API-Version": "volume 3.40"});
        await follow("Rollback to " + (snap.name || snapId.slice(0, 8)),
          async () => {
            const x = (await call("GET", "/v3/volumes/" + volId)).volume;
            const headNow = x["os-strata:head_snapshot_id"];
            const done = x.status !== "reverting" && headNow === snapId;
            return {phase: x.status === "reverting" ? "reverting" : "done",
                    progress: done ? 100 : -1, done,
                    failed: x.status !== "reverting" && headNow !== snapId,
                    error: "the volume is " + x.status};
          });
        document.getElementById("progress-area").append(
          el("p", {id: "rollback-done", class: "status-available"},
             "Rolled back: the volume now holds the point of " +
             when(snap.created_at) + "."));
      } catch (e) { showError(e); confirm.disabled = false; }
    }}, "Roll back now");
  page("Confirm the rollback",
    el("div", {class: "card"},
      el("p", {}, "Volume ", el("strong", {}, vol.name || vol.id),
         " goes back to the point ", el("strong", {}, snap.name || snap.id),
         " of ", when(snap.created_at), "."),
      el("ul", {},
        el("li", {}, "In place: the volume itself is rolled back, not a new volume."),
        el("li", {}, "Normal rollback: a running server's disk is switched " +
                     "live; a stopped volume's chain is rebuilt from the point."),
        el("li", {}, later.length
          ? later.length + " later point(s) stay: snapshots form a tree, " +
            "and you can roll forward to any of them."
          : "No later points."),
        el("li", {}, "Writes made since the last snapshot are not kept; " +
                     "take a snapshot first to keep them."))),
    el("div", {class: "actions"}, confirm,
       el("a", {href: "#/volume/" + volId}, "Cancel")),
    el("div", {id: "progress-area"}));
}

// Polls `poll` each 500 ms into a live progress bar until done or failed.
async function follow(label, poll) {
  const area = document.getElementById("progress-area");
  const bar = el("progress", {max: 100, "aria-label": label});
  const text = el("span", {role: "status", "aria-live": "polite"}, "starting");
  const box = el("div", {class: "card", "data-follow": label},
                 el("div", {}, label), bar, text);
  area.replaceChildren(box);
  for (;;) {
    const p = await poll();
    if (p.progress >= 0) bar.value = p.progress; else bar.removeAttribute("value");
    text.textContent = p.phase + (p.progress >= 0 ? " " + p.progress + "%" : "");
    if (p.failed) throw new Error(label + " failed: " + (p.error || p.phase));
    if (p.done) { bar.value = 100; text.textContent = "done"; return; }
    await new Promise(r => setTimeout(r, 500));
  }
}

// ---- servers ----

async function serversPage() {
  const r = await call("GET", "/v2.1/servers/detail");
  page("Servers", table("Servers on this host",
    ["Name", "Status", {label: "Disks", narrow: true}, "ID"],
    r.servers.map(s => [s.name, statusSpan(s.status),
      (s["os-extended-volumes:volumes_attached"] || []).map(v =>
        el("a", {href: "#/volume/" + v.id}, v.id.slice(0, 8) + " ")),
      s.id])));
}

// ---- tasks ----

async function tasksPage() {
  const draw = async () => {
    const r = await call("GET", "/v3/os-tasks?limit=50");
    const t = table("Long operations, newest first (live)",
      ["Kind", "Status", "Phase", "Progress", {label: "Volume", narrow: true},
       "Started", "Seconds", {label: "Error", narrow: true}],
      r.tasks.map(x => [x.kind, statusSpan(x.status), x.phase,
        el("progress", {max: 100, value: x.progress,
                        "aria-label": x.kind + " progress"}),
        el("a", {href: "#/volume/" + x.volume_id}, x.volume_id.slice(0, 8)),
        when(x.created_at), x.seconds.toFixed(1), x.error || ""]));
    const holder = document.getElementById("tasks");
    if (holder) holder.replaceChildren(t);
  };
  page("Tasks", el("div", {id: "tasks"}));
  await draw();
  timer = setInterval(() => draw().catch(showError), 1000);
}

// ---- policies ----

async function policiesPage() {
  const r = await call("GET", "/v3/os-snapshot-policies");
  const vols = (await call("GET", "/v3/volumes/detail")).volumes;
  const preview = el("ul", {id: "preview", "aria-live": "polite"});
  const schedule = el("input", {id: "schedule", value: "wed 22:00",
                                "aria-describedby": "preview"});
  const showPreview = async () => {
    try {
      const p = await call("GET", "/v3/os-snapshot-policies/preview?count=5&schedule=" +
                           encodeURIComponent(schedule.value));
      preview.replaceChildren(...p.next_runs.map(t => el("li", {}, when(t))));
    } catch (e) {
      preview.replaceChildren(el("li", {class: "status-error"}, e.message));
    }
  };
  schedule.addEventListener("input", showPreview);
  const volume = el("select", {id: "policy-volume"},
                    vols.map(v => el("option", {value: v.id}, v.name || v.id)));
  const keep = el("input", {id: "keep", type: "number", min: 0, value: 8});
  const create = el("form", {class: "card", "aria-label": "New policy"},
    el("label", {for: "schedule"}, "Schedule (systemd calendar, or every 10d from …)"),
    schedule, el("div", {class: "muted"}, "Next runs:"), preview,
    el("label", {for: "policy-volume"}, "Volume"), volume,
    el("label", {for: "keep"}, "Keep at most"), keep,
    el("div", {class: "actions"}, el("button", {type: "submit"}, "Create policy")));
  create.addEventListener("submit", async ev => {
    ev.preventDefault();
    clearError();
    try {
      await call("POST", "/v3/os-snapshot-policies", {policy: {
        name: "dashboard", schedule: schedule.value,
        targets: {volumes: [volume.value]},
        retention: {max_count: parseInt(keep.value)}}});
      route();
    } catch (e) { showError(e); }
  });
  const cards = r.policies.map(p => {
    const details = el("div", {});
    const show = el("button", {type: "button", class: "secondary",
      onclick: async () => {
        try {
          const [runs, prune] = await Promise.all([
            call("GET", "/v3/os-snapshot-policies/" + p.id + "/runs?limit=10"),
            call("POST", "/v3/os-snapshot-policies/" + p.id + "/action",
                 {"os-prune": {dry_run: true}})]);
          details.replaceChildren(
            table("Runs", ["Trigger", "Status", "Scheduled", "Snapshots", "Error"],
              runs.runs.map(x => [x.trigger, statusSpan(x.status),
                when(x.scheduled_at), x.snapshots.length, x.error || ""])),
            table("Prune dry run", ["Snapshot", "Action", "Reason"],
              prune.prune.map(x => [x.snapshot_id.slice(0, 8), x.action, x.reason])));
        } catch (e) { showError(e); }
      }}, "Runs and prune dry run");
    return el("div", {class: "card"},
      el("div", {class: "point"}, el("strong", {}, p.name || p.id),
         el("span", {}, p.schedule), p.enabled ? "enabled" : "disabled"),
      el("div", {class: "actions"}, show), details);
  });
  page("Backup policies", ...cards, el("h2", {}, "New policy"), create);
  showPreview();
}

// ---- routing ----

async function route() {
  if (timer) { clearInterval(timer); timer = null; }
  clearError();
  const parts = location.hash.replace(/^#\/?/, "").split("/");
  if (!token() && parts[0] !== "login") { location.hash = "#/login"; return; }
  document.getElementById("nav").hidden = parts[0] === "login";
  for (const a of document.querySelectorAll("nav a"))
    a.toggleAttribute("aria-current", a.getAttribute("href") === "#/" + parts[0]);
  for (const a of document.querySelectorAll("nav a[aria-current]"))
    a.setAttribute("aria-current", "page");
  try {
    switch (parts[0]) {
      case "login": return await loginPage();
      case "volume": return await volumePage(parts[1]);
      case "rollback": return await rollbackPage(parts[1], parts[2]);
      case "servers": return await serversPage();
      case "tasks": return await tasksPage();
      case "policies": return await policiesPage();
      default: return await volumesPage();
    }
  } catch (e) { showError(e); }
}

document.getElementById("logout").addEventListener("click", signOut);
window.addEventListener("hashchange", route);
route();
