// Strata's dashboard (issue 20, item 1): a page over the documented REST
// API, served by stratad at /dashboard/. Hash routes:
//   #/login            sign in (Keystone, or noauth's project and user)
//   #/volumes          volumes: status, chain, space, server, export
//   #/volume/ID        a volume's snapshot timeline; snapshot, rollback
//   #/rollback/ID/SNAP the confirm page, then live progress by phase
//   #/servers          servers (libvirt domains) and their disks
//   #/server/ID        a server's disks and the timeline of all of them
//   #/tasks            every long operation, its rate, refreshed each second
//   #/policies         backup policies: editor with next-runs preview and
//                      retention buckets, runs, prune dry run, run now
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

// The server a volume is a disk of (Cinder's attachment), as a link.
function serverLink(vol) {
  const a = (vol.attachments || [])[0];
  return a ? el("a", {href: "#/server/" + a.server_id},
                a.server_id.slice(0, 8) + " " + (a.device || ""))
           : el("span", {class: "muted"}, "none");
}

function whereItLives(v) {
  const x = v["os-strata:nbd_export"];
  return x ? "NBD export " + x.name + " (cache " +
             (x.redirect_cache ? x.redirect_cache.state : "off") +
             (x.chain_released ? ", chain released" : "") + ")"
           : "disk file";
}

function chainLength(v) {
  const n = v["os-strata:chain_length"];
  return n === undefined ? "" : n + (n === 1 ? " file" : " files");
}

async function volumesPage() {
  const r = await call("GET", "/v3/volumes/detail");
  const rows = r.volumes.map(v => [
    el("a", {href: "#/volume/" + v.id}, v.name || v.id),
    statusSpan(v.status),
    v.size + " GiB",
    el("span", {"data-chain": v.id}, chainLength(v)),
    bytes(v["os-strata:allocated_bytes"]),
    serverLink(v),
    v["os-strata:head_snapshot_id"] ? v["os-strata:head_snapshot_id"].slice(0, 8)
                                    : el("span", {class: "muted"}, "none"),
    whereItLives(v)]);
  page("Volumes", table("Volumes of your project",
    ["Name", "Status", "Size", "Chain", {label: "On disk", narrow: true},
     {label: "Server", narrow: true}, {label: "Head point", narrow: true},
     {label: "Where it lives", narrow: true}], rows));
}

// Snapshots as a timeline, newest first; failed points say which later
// point covers them. `diskOf` (optional) names each point's disk.
function timeline(snaps, heads, diskOf) {
  const coveredBy = {};
  for (const p of snaps)
    for (const c of p["os-strata:covers"] || []) coveredBy[c] = p;
  const items = snaps.map(p => {
    const failed = p.status === "error";
    const cover = coveredBy[p.id];
    const head = heads.has(p.id);
    return el("li", {class: failed ? "failed" : head ? "head" : null,
                     "data-snapshot": p.id},
      el("div", {class: "point"},
        el("span", {class: "when"}, when(p.created_at)),
        el("span", {}, p.name || p.id.slice(0, 8)),
        statusSpan(p.status),
        head ? el("span", {class: "status-available"}, "current") : null,
        memoryTag(p),
        diskOf ? el("span", {class: "muted"}, "disk " + diskOf(p)) : null),
      el("div", {class: "point muted"},
        el("span", {}, "stored " + bytes(p["os-strata:stored_bytes"]) +
           (p["os-strata:store"] ? " in " + p["os-strata:store"] : "")),
        verifyState(p),
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
  return snaps.length
    ? el("ol", {class: "timeline", "aria-label": "Snapshots, newest first"}, items)
    : el("p", {class: "muted"}, "No snapshots yet.");
}

// A point taken with its server's memory (issue 21): the memory's state,
// and how long the VM stood still for it.
function memoryTag(p) {
  const m = p["os-strata:memory"];
  if (!m) return null;
  const text = m.state === "complete"
    ? "with memory (" + bytes(m.region_bytes) + ", VM paused " +
      Math.round(m.vm_paused_ms) + " ms)"
    : "memory " + m.state;
  return el("span", {class: m.state === "complete" ? "memory" : "status-error",
                     title: m.error || ""}, text);
}

// A point's verify state (os-verify reads its stored layer back), with a
// button to verify it now.
function verifyState(p) {
  const v = p["os-strata:verify"];
  if (!v || p.status !== "available") return null;
  const text = v.state === "unverified" ? "not verified since upload"
    : v.state === "ok" ? "verified " + when(v.verified_at)
    : v.state === "verifying" ? "verifying…"
    : v.state + (v.error ? ": " + v.error : "");
  const span = el("span", {"data-verify": p.id,
                           class: v.state === "failed" ? "status-error"
                                : v.state === "ok" ? "status-available" : null},
                  text);
  if (v.state === "verifying") return span;
  const button = el("button", {type: "button", class: "link",
    id: "verify-" + p.id.slice(0, 8),
    "aria-label": "Verify the point " + (p.name || p.id.slice(0, 8)),
    onclick: async () => {
      clearError();
      button.disabled = true;
      try {
        await call("POST", "/v3/snapshots/" + p.id + "/action", {"os-verify": {}});
        span.textContent = "verifying…";
        for (;;) {
          await new Promise(r => setTimeout(r, 500));
          const x = (await call("GET", "/v3/snapshots/" + p.id)).snapshot;
          if (x["os-strata:verify"].state !== "verifying") break;
        }
        route();
      } catch (e) { showError(e); button.disabled = false; }
    }}, "verify");
  return el("span", {}, span, " ", button);
}

function newestFirst(snaps) {
  return snaps.slice().sort((a, b) => a.created_at < b.created_at ? 1 : -1);
}

async function snapshotsOf(volId) {
  return (await call("GET", "/v3/snapshots/detail?volume_id=" +
                     encodeURIComponent(volId))).snapshots;
}

// Follows a snapshot to available (or error) in the progress area.
function followSnapshot(id) {
  return follow("Snapshot " + id.slice(0, 8), async () => {
    const x = (await call("GET", "/v3/snapshots/" + id)).snapshot;
    return {phase: x.status,
            progress: parseInt(x["os-extended-snapshot-attributes:progress"]),
            done: x.status === "available", failed: x.status === "error",
            error: x["os-strata:error"]};
  });
}

// A button that runs `action` once, shows its fault, then reloads the page.
function actionButton(id, label, action, cls) {
  const b = el("button", {type: "button", id, class: cls || null,
    onclick: async () => {
      clearError();
      b.disabled = true;
      try { await action(); route(); }
      catch (e) { showError(e); b.disabled = false; }
    }}, label);
  return b;
}

async function volumePage(id) {
  const [v, s] = await Promise.all([call("GET", "/v3/volumes/" + id),
                                    snapshotsOf(id)]);
  const vol = v.volume;
  const snaps = newestFirst(s);
  const take = actionButton("take-snapshot", "Take a snapshot", async () => {
    const r = await call("POST", "/v3/snapshots", {snapshot: {
      volume_id: id, name: "dashboard " + new Date().toISOString(),
      force: true}});
    await followSnapshot(r.snapshot.id);
  });
  const rollback = el("button", {type: "button", class: "secondary",
    id: "rollback", onclick: () => chooseRollback(
      "Roll back " + (vol.name || vol.id), snaps, "#/volume/" + id)},
    "Rollback…");
  page("Volume " + (vol.name || vol.id),
    el("dl", {class: "facts"},
      el("dt", {}, "ID"), el("dd", {}, vol.id),
      el("dt", {}, "Status"), el("dd", {}, statusSpan(vol.status)),
      el("dt", {}, "Size"), el("dd", {}, vol.size + " GiB"),
      el("dt", {}, "Chain"), el("dd", {id: "chain-length"}, chainLength(vol)),
      el("dt", {}, "On disk"), el("dd", {}, bytes(vol["os-strata:allocated_bytes"])),
      el("dt", {}, "Server"), el("dd", {}, serverLink(vol)),
      el("dt", {}, "Where it lives"), el("dd", {}, whereItLives(vol))),
    el("div", {class: "actions"}, take, rollback),
    el("div", {id: "progress-area"}),
    el("h2", {}, "Timeline"),
    timeline(snaps, new Set([vol["os-strata:head_snapshot_id"]])));
}

// R2.10: the user chooses rollback, then the point (of any of the disks
// listed: a server's timeline has several).
function chooseRollback(title, snaps, back) {
  const points = snaps.filter(p => p.status === "available");
  const list = el("ol", {class: "timeline", "aria-label": "Points to roll back to"},
    points.map(p => el("li", {},
      el("div", {class: "point"},
        el("span", {class: "when"}, when(p.created_at)),
        el("span", {}, p.name || p.id.slice(0, 8)),
        el("a", {href: "#/rollback/" + p.volume_id + "/" + p.id, class: "button",
                 "data-point": p.id}, "Roll back to this point")))));
  page(title + ": choose the point",
       points.length ? list : el("p", {}, "No stored point to roll back to."),
       el("p", {}, el("a", {href: back}, "Cancel")));
}

// The confirm page: in place or into a new volume, instant or normal, what
// becomes of later points; then live progress by phase.
async function rollbackPage(volId, snapId) {
  const [v, s, all] = await Promise.all([call("GET", "/v3/volumes/" + volId),
                                         call("GET", "/v3/snapshots/" + snapId),
                                         snapshotsOf(volId)]);
  const vol = v.volume, snap = s.snapshot;
  const attached = (vol.attachments || [])[0];
  let server = null;
  if (attached) {
    try { server = (await call("GET", "/v2.1/servers/" + attached.server_id)).server; }
    catch (e) { server = null; }
  }
  const running = server && server.status === "ACTIVE";
  const later = all.filter(p => p.created_at > snap.created_at);
  const ways = [
    {value: "instant", label: "Instant rollback of the server (in place)",
     off: !attached && "this volume is no server's disk"},
    {value: "normal", label: "Normal rollback (in place)",
     off: running && "its server runs: stop it first, or roll back instantly"},
    {value: "new", label: "Into a new volume"},
    {value: "memory", label: "Restore the server with its memory (in place)",
     off: !(snap["os-strata:memory"] &&
            snap["os-strata:memory"].state === "complete")
            ? "this point holds no memory of a server"
            : !attached || attached.server_id !==
                snap["os-strata:memory"].server_id
            ? "its memory is of another server" : false}];
  const chosen = (ways.find(w => w.value === (running ? "instant" : "normal") &&
                               !w.off) || ways.find(w => !w.off)).value;
  const explain = el("ul", {id: "what-happens"});
  const describe = way => {
    const items = {
      instant: () => [
        "In place: server " + (server ? server.name : attached.server_id) +
        " is powered off and started again at once on the point (seconds, " +
        "whatever the disk's size).",
        "Its disk's own chain is rebuilt from the point in the background; " +
        "then the server's writes since the restart move onto it (the switch).",
        "The writes it made since the point are dropped, and so is its memory."],
      normal: () => [
        "In place: the volume itself is rolled back, not a new volume.",
        "Normal rollback: the volume's chain is rebuilt from the point, " +
        "then it is available again.",
        "Writes made since the last snapshot are not kept; take a snapshot " +
        "first to keep them."],
      memory: () => [
        "In place: server " + (server ? server.name : attached.server_id) +
        " is powered off, its disk rolled back to the point, and it starts " +
        "again from the memory taken with the point.",
        "It carries on where it was at that instant, its programs running: " +
        "no boot.",
        "The writes and the memory it had since the point are dropped."],
      new: () => [
        "Into a new volume: this volume stays as it is; a new volume of " +
        snap.size + " GiB holds exactly the point.",
        "The new volume is independent: either can be rolled back or deleted."],
    }[way]();
    items.push(later.length
      ? later.length + " later point(s) stay: snapshots form a tree, and you " +
        "can roll forward to any of them."
      : "No later points.");
    explain.replaceChildren(...items.map(t => el("li", {}, t)));
  };
  const radios = ways.map(w => el("div", {class: "choice"},
    el("input", {type: "radio", name: "way", id: "way-" + w.value,
                 value: w.value, checked: w.value === chosen,
                 disabled: !!w.off,
                 onchange: () => describe(w.value)}),
    el("label", {for: "way-" + w.value}, w.label,
       w.off ? el("span", {class: "muted"}, " (not possible: " + w.off + ")")
             : null)));
  describe(chosen);
  const confirm = el("button", {type: "button", id: "confirm-rollback",
    onclick: async () => {
      clearError();
      confirm.disabled = true;
      const way = document.querySelector('input[name="way"]:checked').value;
      try {
        if (way === "instant") await instantRollback(attached, snap);
        else if (way === "memory") await memoryRestore(attached, snap);
        else if (way === "new") await rollbackIntoNewVolume(vol, snap);
        else await normalRollback(vol, snap);
      } catch (e) { showError(e); confirm.disabled = false; }
    }}, "Roll back now");
  page("Confirm the rollback",
    el("div", {class: "card"},
      el("p", {}, "Volume ", el("strong", {}, vol.name || vol.id),
         " goes back to the point ", el("strong", {}, snap.name || snap.id),
         " of ", when(snap.created_at), "."),
      el("fieldset", {class: "choices"}, el("legend", {}, "How"), radios),
      explain),
    el("div", {class: "actions"}, confirm,
       el("a", {href: "#/volume/" + volId}, "Cancel")),
    el("div", {id: "progress-area"}));
}

function rolledBack(text) {
  document.getElementById("progress-area").append(
    el("p", {id: "rollback-done", class: "status-available"}, text));
}

async function normalRollback(vol, snap) {
  await call("POST", "/v3/volumes/" + vol.id + "/action",
             {revert: {snapshot_id: snap.id}},
             {"OpenStack-API-Version": "volume 3.40"});
  await follow("Rollback to " + (snap.name || snap.id.slice(0, 8)), async () => {
    const x = (await call("GET", "/v3/volumes/" + vol.id)).volume;
    const headNow = x["os-strata:head_snapshot_id"];
    const done = x.status !== "reverting" && headNow === snap.id;
    return {phase: x.status === "reverting" ? "reverting" : "done",
            progress: done ? 100 : -1, done,
            failed: x.status !== "reverting" && headNow !== snap.id,
            error: "the volume is " + x.status};
  });
  rolledBack("Rolled back: the volume now holds the point of " +
             when(snap.created_at) + ".");
}

async function memoryRestore(attached, snap) {
  const id = attached.server_id;
  await call("POST", "/v2.1/servers/" + id + "/action",
             {"os-strata:restoreMemory": {imageRef: snap.id}});
  await follow("Restore with memory to " + (snap.name || snap.id.slice(0, 8)),
    async () => {
      const x = (await call("GET", "/v3/snapshots/" + snap.id)).snapshot;
      if (x.status === "restoring") return {phase: "restoring", progress: -1};
      const srv = (await call("GET", "/v2.1/servers/" + id)).server;
      return {phase: srv.status === "ACTIVE" ? "done" : srv.status,
              progress: srv.status === "ACTIVE" ? 100 : -1,
              done: srv.status === "ACTIVE", failed: srv.status !== "ACTIVE",
              error: "the server is " + srv.status + " after the restore"};
    });
  rolledBack("Restored: the server runs on from the point of " +
             when(snap.created_at) + ", with its memory.");
}

async function instantRollback(attached, snap) {
  const r = await call("POST", "/v3/os-instant-rollbacks", {rollback: {
    server_id: attached.server_id, snapshot_id: snap.id,
    disk: (attached.device || "").replace(/^\/dev\//, ""), switch: "auto"}});
  let running = null;
  await follow("Instant rollback to " + (snap.name || snap.id.slice(0, 8)),
    async () => {
      const x = (await call("GET", "/v3/os-instant-rollbacks/" +
                            r.rollback.id)).rollback;
      if (x.seconds_to_running !== undefined && x.seconds_to_running !== null)
        running = x.seconds_to_running;
      return {phase: x.phase, progress: x.progress, done: x.phase === "done",
              failed: x.phase === "error" || x.phase === "aborted",
              error: x.error};
    });
  rolledBack("Rolled back: the server ran on the point of " +
             when(snap.created_at) +
             (running !== null ? " " + running.toFixed(1) + " s after the request"
                               : "") + ", and its disk holds it now.");
}

async function rollbackIntoNewVolume(vol, snap) {
  const r = await call("POST", "/v3/volumes", {volume: {
    snapshot_id: snap.id,
    name: (vol.name || vol.id.slice(0, 8)) + " at " + (snap.name || snap.id.slice(0, 8))}});
  const id = r.volume.id;
  await follow("New volume from " + (snap.name || snap.id.slice(0, 8)), async () => {
    const x = (await call("GET", "/v3/volumes/" + id)).volume;
    return {phase: x.status, progress: -1, done: x.status === "available",
            failed: x.status === "error", error: "the new volume is " + x.status};
  });
  document.getElementById("progress-area").append(
    el("p", {id: "rollback-done", class: "status-available", "data-volume": id},
       "The point is in a new volume: ",
       el("a", {href: "#/volume/" + id}, r.volume.name || id), "."));
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

// Nova's server views with the host name (microversion 2.3).
const nova23 = {"OpenStack-API-Version": "compute 2.3"};

function addressesOf(s) {
  return Object.entries(s.addresses || {}).flatMap(([net, list]) =>
    list.map(a => a.addr + " (" + net + ")")).join(", ");
}

async function serversPage() {
  const r = await call("GET", "/v2.1/servers/detail", undefined, nova23);
  page("Servers", table("Servers on this host",
    ["Name", "Status", {label: "Host name", narrow: true},
     {label: "Disks", narrow: true}, {label: "ID", narrow: true}],
    r.servers.map(s => [el("a", {href: "#/server/" + s.id}, s.name),
      statusSpan(s.status), s["OS-EXT-SRV-ATTR:hostname"] || "",
      (s["os-extended-volumes:volumes_attached"] || []).map(v =>
        el("a", {href: "#/volume/" + v.id}, v.id.slice(0, 8) + " ")),
      s.id])));
}

// A server's disks and one timeline of all their points.
async function serverPage(id) {
  const server = (await call("GET", "/v2.1/servers/" + id, undefined,
                             nova23)).server;
  const vols = await Promise.all(
    (server["os-extended-volumes:volumes_attached"] || []).map(async a =>
      (await call("GET", "/v3/volumes/" + a.id)).volume));
  const snaps = newestFirst((await Promise.all(vols.map(v => snapshotsOf(v.id))))
                            .flat());
  const device = {};
  for (const v of vols)
    device[v.id] = ((v.attachments || [])[0] || {}).device || v.id.slice(0, 8);
  const take = actionButton("take-snapshot", "Take a snapshot", async () => {
    const r = await call("POST", "/v2.1/servers/" + id + "/action",
                         {createImage: {name: "dashboard " + new Date().toISOString()}},
                         {"OpenStack-API-Version": "compute 2.45"});
    await followSnapshot(r.image_id);
  });
  // With its memory too (issue 21): only a running server has one.
  const takeMemory = server.status === "ACTIVE"
    ? actionButton("take-memory-snapshot", "Take a snapshot with memory",
        async () => {
          const r = await call("POST", "/v2.1/servers/" + id + "/action",
            {createImage: {name: "dashboard " + new Date().toISOString(),
                           "os-strata:memory": true}},
            {"OpenStack-API-Version": "compute 2.45"});
          await followSnapshot(r.image_id);
        }, "secondary")
    : null;
  const rollback = el("button", {type: "button", class: "secondary",
    id: "rollback", onclick: () => chooseRollback(
      "Roll back " + server.name, snaps, "#/server/" + id)}, "Rollback…");
  page("Server " + server.name,
    el("dl", {class: "facts"},
      el("dt", {}, "ID"), el("dd", {}, server.id),
      el("dt", {}, "Status"), el("dd", {}, statusSpan(server.status)),
      el("dt", {}, "Host name"), el("dd", {}, server["OS-EXT-SRV-ATTR:hostname"] || "—"),
      el("dt", {}, "Addresses"), el("dd", {}, addressesOf(server) || "—")),
    table("Disks", ["Device", "Volume", "Status", "Chain",
                    {label: "On disk", narrow: true},
                    {label: "Where it lives", narrow: true}],
      vols.map(v => [device[v.id],
        el("a", {href: "#/volume/" + v.id}, v.name || v.id.slice(0, 8)),
        statusSpan(v.status), chainLength(v),
        bytes(v["os-strata:allocated_bytes"]), whereItLives(v)])),
    el("div", {class: "actions"}, take, takeMemory, rollback),
    el("div", {id: "progress-area"}),
    el("h2", {}, "Timeline"),
    timeline(snaps, new Set(vols.map(v => v["os-strata:head_snapshot_id"])),
             p => device[p.volume_id]));
}

// ---- tasks ----

// Progress per second of each running task, from the last two polls
// (smoothed; at first the average since its start), for the rate and
// time-left columns. An ended task has none.
const taskSeen = {};

function rateOf(x, now) {
  const seen = taskSeen[x.id];
  let rate = null;
  if (x.status !== "running") {
    delete taskSeen[x.id];
    return null;
  } else if (seen && now > seen.t && x.progress >= seen.p) {
    const r = (x.progress - seen.p) / ((now - seen.t) / 1000);
    rate = seen.rate === null ? r : 0.5 * seen.rate + 0.5 * r;
  } else if (x.seconds > 0 && x.progress > 0) {
    rate = x.progress / x.seconds;
  }
  taskSeen[x.id] = {p: x.progress, t: now, rate};
  return rate;
}

async function tasksPage() {
  const draw = async () => {
    const r = await call("GET", "/v3/os-tasks?limit=50");
    const now = Date.now();
    const t = table("Long operations, newest first (live)",
      ["Kind", "Status", "Phase", "Progress", "Rate",
       {label: "Volume", narrow: true}, "Started", "Seconds",
       {label: "Error", narrow: true}],
      r.tasks.map(x => {
        const rate = rateOf(x, now);
        const left = x.status === "running" && rate > 0
          ? ", ~" + Math.ceil((100 - x.progress) / rate) + " s left" : "";
        return [x.kind, statusSpan(x.status), x.phase,
          el("progress", {max: 100, value: x.progress,
                          "aria-label": x.kind + " progress"}),
          el("span", {"data-rate": x.id},
             rate === null ? "—" : rate.toFixed(1) + " %/s" + left),
          el("a", {href: "#/volume/" + x.volume_id}, x.volume_id.slice(0, 8)),
          when(x.created_at), x.seconds.toFixed(1), x.error || ""];
      }));
    const holder = document.getElementById("tasks");
    if (holder) holder.replaceChildren(t);
  };
  page("Tasks", el("div", {id: "tasks"}));
  await draw();
  timer = setInterval(() => draw().catch(showError), 1000);
}

// ---- policies ----

const buckets = [["keep_last", "Keep the last"], ["keep_hourly", "Hourly"],
                 ["keep_daily", "Daily"], ["keep_weekly", "Weekly"],
                 ["keep_monthly", "Monthly"], ["keep_yearly", "Yearly"],
                 ["max_count", "At most (cap)"]];

// A policy's form, empty for a new one: name, schedule with its next runs
// previewed as it is typed, what it protects, retention buckets.
function policyForm(p, vols, servers, submitLabel, onSubmit) {
  const key = p ? "p" + p.id.slice(0, 8) : "new";  // ids start with a letter
  const idOf = f => key + "-" + f;
  const preview = el("ul", {id: idOf("preview"), class: "preview",
                            "aria-live": "polite"});
  const schedule = el("input", {id: idOf("schedule"),
                                value: p ? p.schedule : "wed 22:00",
                                "aria-describedby": idOf("preview")});
  // Answers may come back out of order as one types: only the latest
  // request's answer is shown.
  let asked = 0;
  const showPreview = async () => {
    const mine = ++asked;
    let items;
    try {
      const r = await call("GET", "/v3/os-snapshot-policies/preview?count=5&schedule=" +
                           encodeURIComponent(schedule.value));
      items = r.next_runs.map(t => el("li", {}, when(t)));
    } catch (e) {
      items = [el("li", {class: "status-error"}, e.message)];
    }
    if (mine === asked) preview.replaceChildren(...items);
  };
  // Asked once typing pauses (250 ms), not for every partial expression.
  let pause = null;
  schedule.addEventListener("input", () => {
    clearTimeout(pause);
    pause = setTimeout(showPreview, 250);
  });
  const name = el("input", {id: idOf("name"), value: p ? p.name : "dashboard"});
  const enabled = el("input", {type: "checkbox", id: idOf("enabled"),
                               checked: p ? p.enabled : true});
  const tv = (p && p.targets.volumes) || [];
  const ts = ((p && p.targets.servers) || []).map(t =>
    typeof t === "string" ? t : t.server);
  const checks = [
    ...vols.map(v => [v.id, "volume " + (v.name || v.id.slice(0, 8)),
                      tv.includes(v.id), "volume"]),
    ...servers.map(s => [s.id, "server " + s.name,
                         ts.includes(s.id) || ts.includes(s.name), "server"])];
  if (!p && vols.length && !checks.some(c => c[2])) checks[0][2] = true;
  const targets = el("fieldset", {class: "choices"},
    el("legend", {}, "Protect"),
    checks.map(([id, label, on, kind]) => el("div", {class: "choice"},
      el("input", {type: "checkbox", id: idOf("t-" + id), value: id,
                   "data-kind": kind, checked: on}),
      el("label", {for: idOf("t-" + id)}, label))));
  const r = (p && p.retention) || (p ? {} : {max_count: 8});
  const keep = el("fieldset", {class: "choices buckets"},
    el("legend", {}, "Retention (empty: not used)"),
    buckets.map(([f, label]) => el("div", {},
      el("label", {for: idOf(f)}, label),
      el("input", {id: idOf(f), type: "number", min: 0,
                   value: r[f] ? r[f] : ""}))));
  const form = el("form", {class: "card", "aria-label": p ? "Edit policy " + p.name
                                                          : "New policy"},
    el("label", {for: idOf("name")}, "Name"), name,
    el("label", {for: idOf("schedule")},
       "Schedule (systemd calendar, or every 10d from …)"),
    schedule, el("div", {class: "muted"}, "Next runs:"), preview,
    el("div", {class: "choice"}, enabled,
       el("label", {for: idOf("enabled")}, "Enabled")),
    targets, keep,
    el("div", {class: "actions"}, el("button", {type: "submit",
                                                id: idOf("save")}, submitLabel)));
  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    clearError();
    const retention = {};
    for (const [f] of buckets) {
      const v = document.getElementById(idOf(f)).value;
      if (v !== "") retention[f] = parseInt(v);
    }
    const picked = kind => [...targets.querySelectorAll(
      'input[data-kind="' + kind + '"]:checked')].map(i => i.value);
    try {
      await onSubmit({name: name.value, schedule: schedule.value,
                      enabled: enabled.checked,
                      targets: {volumes: picked("volume"),
                                servers: picked("server")},
                      retention});
      route();
    } catch (e) { showError(e); }
  });
  showPreview();
  return form;
}

async function policiesPage() {
  const [r, vols, servers] = await Promise.all([
    call("GET", "/v3/os-snapshot-policies"),
    call("GET", "/v3/volumes/detail").then(x => x.volumes),
    call("GET", "/v2.1/servers/detail").then(x => x.servers)]);
  const cards = r.policies.map(p => {
    const details = el("div", {});
    const base = "/v3/os-snapshot-policies/" + p.id;
    const show = el("button", {type: "button", class: "secondary",
      "data-policy": p.id, onclick: async () => {
        clearError();
        try {
          const [one, runs, prune] = await Promise.all([
            call("GET", base),
            call("GET", base + "/runs?limit=10"),
            call("POST", base + "/action", {"os-prune": {dry_run: true}})]);
          details.replaceChildren(
            el("p", {}, "Next runs: " +
               (one.policy.next_runs || []).map(when).join(", ")),
            table("Runs", ["Trigger", "Status", "Scheduled", "Snapshots", "Error"],
              runs.runs.map(x => [x.trigger, statusSpan(x.status),
                when(x.scheduled_at), x.snapshots.length, x.error || ""])),
            table("Prune dry run", ["Snapshot", "Action", "Reason"],
              prune.prune.map(x => [x.snapshot_id.slice(0, 8), x.action, x.reason])));
        } catch (e) { showError(e); }
      }}, "Runs and prune dry run");
    const run = actionButton("run-" + p.id.slice(0, 8), "Run now",
      () => call("POST", base + "/action", {"os-run": {}}), "secondary");
    const edit = el("button", {type: "button", class: "secondary",
      id: "edit-" + p.id.slice(0, 8),
      onclick: () => details.replaceChildren(policyForm(p, vols, servers, "Save",
        body => call("PUT", base, {policy: body})))}, "Edit…");
    const remove = actionButton("delete-" + p.id.slice(0, 8), "Delete",
      () => call("DELETE", base), "secondary");
    const keep = Object.entries(p.retention || {}).filter(([k, v]) => v)
      .map(([k, v]) => k.replace("keep_", "") + " " + v).join(", ");
    return el("div", {class: "card", "data-policy-card": p.id},
      el("div", {class: "point"}, el("strong", {}, p.name || p.id),
         el("span", {class: "schedule"}, p.schedule),
         p.enabled ? "enabled" : "disabled",
         el("span", {class: "muted"}, keep ? "keeps " + keep : "keeps all")),
      el("div", {class: "actions"}, show, run, edit, remove), details);
  });
  page("Backup policies", ...cards, el("h2", {}, "New policy"),
       policyForm(null, vols, servers, "Create policy",
                  body => call("POST", "/v3/os-snapshot-policies", {policy: body})));
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
      case "server": return await serverPage(parts[1]);
      case "tasks": return await tasksPage();
      case "policies": return await policiesPage();
      default: return await volumesPage();
    }
  } catch (e) { showError(e); }
}

document.getElementById("logout").addEventListener("click", signOut);
window.addEventListener("hashchange", route);
route();
