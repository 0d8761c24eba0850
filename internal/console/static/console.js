// kordon console: the little the pages need a script for. Pages are
// rendered by the server; this script signs in and out, follows the watch
// stream to refresh what is on screen, and makes changes through the same
// JSON API every client uses, sending the session's CSRF token. It never
// puts text from the API into markup: it sets textContent, or swaps in
// the server's own escaped rendering of the page.
"use strict";

(function () {
  const csrf = () => (document.querySelector('meta[name="kordon-csrf"]') || {}).content || "";

  // api calls the JSON API as the signed-in session.
  async function api(method, path, body) {
    const opts = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") {
      opts.headers["X-XSRF-TOKEN"] = csrf();
    }
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const resp = await fetch(path, opts);
    let data = null;
    const text = await resp.text();
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = { error_message: text }; }
    if (resp.status === 401) {
      location.assign("/ui/signin?next=" + encodeURIComponent(location.pathname + location.search));
    }
    return { ok: resp.ok, status: resp.status, data };
  }

  function message(r) {
    if (!r.data) return "error " + r.status;
    return r.data.error_message || ("error " + r.status);
  }

  function show(el, text) {
    if (!el) return;
    el.textContent = text;
    el.hidden = !text;
  }

  // ---- sign in and out

  function signin() {
    const form = document.getElementById("signin-form");
    if (!form) return;
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const err = document.getElementById("signin-error");
      const token = document.getElementById("token").value.trim();
      if (!token) { show(err, "Give an API token."); return; }
      const resp = await fetch("/api/session/create", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ j_username: "console", j_password: token }),
      });
      if (resp.ok) {
        location.assign(form.dataset.next || "/");
        return;
      }
      let msg = "sign-in refused (" + resp.status + ")";
      try { msg = (await resp.json()).error_message || msg; } catch (e) { /* keep */ }
      show(err, msg);
      document.getElementById("token").focus();
    });
    document.getElementById("token").focus();
  }

  function signout() {
    const b = document.getElementById("signout");
    if (!b) return;
    b.addEventListener("click", async () => {
      await api("POST", "/api/session/destroy");
      location.assign("/ui/signin");
    });
  }

  // ---- live pages

  const changes = [];
  let refreshTimer = null;
  let pending = false;

  // refresh swaps in the server's new rendering of the page's main part,
  // unless someone is typing in it (then it waits for them to leave).
  async function refresh(revision) {
    const main = document.getElementById("main");
    const active = document.activeElement;
    if (active && main.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) {
      pending = true;
      return;
    }
    pending = false;
    const resp = await fetch(location.href, { credentials: "same-origin", headers: { "X-Kordon-Fragment": "1" } });
    if (resp.status === 401) {
      location.assign("/ui/signin?next=" + encodeURIComponent(location.pathname + location.search));
      return;
    }
    if (!resp.ok) return;
    main.innerHTML = await resp.text(); // the server's own escaped rendering
    renderChanges();
    bindPage();
    document.body.dataset.revision = String(revision);
    show(document.getElementById("live-status"), "Updated to revision " + revision + ".");
  }

  function schedule(revision) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => refresh(revision), 250);
  }

  function renderChanges() {
    const table = document.getElementById("changes");
    if (!table) return;
    const tbody = table.tBodies[0];
    tbody.textContent = "";
    for (const e of changes.slice(-20).reverse()) {
      const tr = document.createElement("tr");
      for (const v of [String(e.revision), new Date(e.time).toLocaleString(), e.type + (e.op ? " " + e.op : ""), e.path || ""]) {
        const td = document.createElement("td");
        td.textContent = v;
        tr.appendChild(td);
      }
      tbody.appendChild(tr);
    }
  }

  async function follow() {
    const types = document.body.dataset.live;
    if (!types) return;
    const prefix = document.body.dataset.livePrefix || "";
    const table = document.getElementById("changes");
    const revEl = document.getElementById("revision");
    const shown = revEl ? Number(revEl.textContent) : 0;
    let since = table ? table.dataset.since : "";
    for (let attempt = 0; attempt < 100; attempt++) {
      const q = new URLSearchParams({ types });
      if (prefix) q.set("path_prefix", prefix);
      if (since) q.set("since", since);
      let resp;
      try {
        resp = await fetch("/policy/api/v1/kordon/watch?" + q, { credentials: "same-origin" });
      } catch (e) {
        resp = null;
      }
      if (resp && resp.status === 401) {
        location.assign("/ui/signin?next=" + encodeURIComponent(location.pathname + location.search));
        return;
      }
      if (resp && resp.status === 403) return; // this role has no stream: the page stays as rendered
      if (resp && resp.status === 410) { since = ""; continue; } // history gone: follow from now
      if (resp && resp.ok && resp.body) {
        document.body.dataset.watching = "true";
        const reader = resp.body.getReader();
        const dec = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let nl;
          while ((nl = buf.indexOf("\n")) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (!line) continue;
            let e;
            try { e = JSON.parse(line); } catch (err) { continue; }
            if (e.type === "start" || e.type === "heartbeat") continue;
            since = String(e.revision);
            if (table) {
              changes.push(e);
              renderChanges();
            }
            if (!table || e.revision > shown) schedule(e.revision);
          }
        }
      }
      document.body.dataset.watching = "false";
      await new Promise((r) => setTimeout(r, Math.min(30000, 500 * (attempt + 1))));
    }
  }

  document.addEventListener("focusout", () => {
    if (pending) setTimeout(() => { if (pending) refresh(document.body.dataset.revision || ""); }, 0);
  });

  // ---- firewall: reorder, enable, disable

  function apiPath(nsxPath) { return "/policy/api/v1" + nsxPath; }

  async function ruleAction(btn) {
    const row = btn.closest("tr");
    const err = document.getElementById("fw-error");
    show(err, "");
    const path = row.dataset.path;
    const cur = await api("GET", apiPath(path));
    if (!cur.ok) { show(err, message(cur)); return; }
    const rule = cur.data;
    if (String(rule._revision) !== row.dataset.revision) {
      show(err, "This rule was changed since the page was shown (revision " + row.dataset.revision + ", now " + rule._revision + "); the page is being refreshed.");
      schedule(document.body.dataset.revision || "");
      return;
    }
    if (btn.dataset.op === "toggle") {
      rule.disabled = !rule.disabled;
      const r = await api("PUT", apiPath(path), rule);
      if (!r.ok) show(err, conflictText(r));
      return;
    }
    const other = await api("GET", apiPath(btn.dataset.other));
    if (!other.ok) { show(err, message(other)); return; }
    const o = other.data;
    const mine = rule.sequence_number, theirs = o.sequence_number;
    if (mine !== theirs) {
      rule.sequence_number = theirs;
      o.sequence_number = mine;
    } else if (btn.dataset.op === "up") {
      // Equal numbers order by path: step past the other rule.
      if (theirs > 0) rule.sequence_number = theirs - 1; else o.sequence_number = theirs + 1;
    } else {
      rule.sequence_number = theirs + 1;
    }
    const first = await api("PUT", apiPath(path), rule);
    if (!first.ok) { show(err, conflictText(first)); return; }
    const second = await api("PUT", apiPath(btn.dataset.other), o);
    if (!second.ok) {
      // Put the first rule back, so that a refused move changes nothing.
      const back = first.data;
      back.sequence_number = mine;
      await api("PUT", apiPath(path), back);
      show(err, conflictText(second));
    }
  }

  function conflictText(r) {
    if (r.status === 412) return "Conflict: " + message(r) + ". Nothing was changed; the page shows the current state.";
    return message(r);
  }

  function bindFirewall() {
    const table = document.getElementById("rules");
    if (!table || table.dataset.bound) return;
    table.dataset.bound = "true";
    table.addEventListener("click", (ev) => {
      const btn = ev.target.closest("button[data-op]");
      if (btn && !btn.disabled) ruleAction(btn);
    });
    const focus = table.querySelector("tr.focus");
    if (focus && !document.body.dataset.focused) {
      document.body.dataset.focused = "true";
      focus.scrollIntoView({ block: "center" });
    }
  }

  // ---- group editor

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function options(select, values, selected) {
    select.textContent = "";
    for (const v of values) {
      const o = el("option", { value: v }, v);
      if (v === selected) o.selected = true;
      select.appendChild(o);
    }
  }

  function bindEditor() {
    const form = document.getElementById("group-editor");
    if (!form || form.dataset.bound) return;
    form.dataset.bound = "true";
    const group = JSON.parse(document.getElementById("group-json").textContent);
    const kinds = JSON.parse(document.getElementById("kinds-json").textContent);
    const byName = Object.fromEntries(kinds.map((k) => [k.name, k]));
    const box = document.getElementById("criteria");
    let rowID = 0;

    function conditionRow(c) {
      const id = "c" + (++rowID);
      const row = el("div", { class: "condition", role: "group", "aria-label": "Condition" });
      const type = el("select", { id: id + "-type", "aria-label": "Member type" });
      const key = el("select", { id: id + "-key", "aria-label": "Key" });
      const op = el("select", { id: id + "-op", "aria-label": "Operator" });
      const val = el("input", { id: id + "-value", "aria-label": "Value", size: "28" });
      const del = el("button", { type: "button", "aria-label": "Remove condition" }, "Remove");
      const errSpan = el("span", { class: "field-error", role: "alert" });
      options(type, kinds.map((k) => k.name), c.member_type || kinds.find((k) => !k.scoping).name);
      function refill() {
        const k = byName[type.value];
        options(key, k.keys.map((x) => x.key), c.key);
        refillOps();
      }
      function refillOps() {
        const k = byName[type.value];
        const ks = k.keys.find((x) => x.key === key.value) || k.keys[0];
        options(op, ks.operators, c.operator);
        val.placeholder = { tag: "scope|tag", clusters: "cluster names, comma-separated", all: "*" }[ks.value] || "value";
        if (ks.value === "all") val.value = "*";
      }
      type.addEventListener("change", () => { c = {}; refill(); });
      key.addEventListener("change", () => { c.operator = undefined; refillOps(); });
      del.addEventListener("click", () => {
        const crit = row.parentElement;
        row.remove();
        if (!crit.querySelector(".condition")) crit.closest(".criterion").remove();
      });
      refill();
      val.value = c.value || val.value;
      row.append(type, key, op, val, del, errSpan);
      row.read = () => ({ resource_type: "Condition", member_type: type.value, key: key.value, operator: op.value, value: val.value });
      row.error = errSpan;
      return row;
    }

    function criterionBox(conds) {
      const crit = el("div", { class: "criterion", role: "group", "aria-label": "Criterion" });
      const head = el("p", { class: "conj" }, box.children.length ? "OR" : "Members where");
      const list = el("div", { class: "conditions" });
      const add = el("button", { type: "button" }, "Add condition (AND)");
      add.addEventListener("click", () => list.appendChild(conditionRow({})).querySelector("select").focus());
      for (const c of conds) list.appendChild(conditionRow(c));
      crit.append(head, list, add);
      box.appendChild(crit);
      return crit;
    }

    // Load the group into the form.
    const ips = [], paths = [];
    for (const e of group.expression || []) {
      if (e.resource_type === "Condition") criterionBox([e]);
      else if (e.resource_type === "NestedExpression") criterionBox((e.expressions || []).filter((x) => x.resource_type === "Condition"));
      else if (e.resource_type === "IPAddressExpression") ips.push(...(e.ip_addresses || []));
      else if (e.resource_type === "PathExpression") paths.push(...(e.paths || []));
    }
    document.getElementById("g-name").value = group.display_name || "";
    document.getElementById("g-desc").value = group.description || "";
    document.getElementById("g-ips").value = ips.join("\n");
    document.getElementById("g-paths").value = paths.join("\n");
    document.getElementById("add-criterion").addEventListener("click", () => {
      criterionBox([{}]).querySelector("select").focus();
    });

    // rows lists the condition rows with the expression index each
    // lands at, to put a server's error next to the field it names.
    function build() {
      const g = Object.assign({}, group);
      delete g.children;
      const idField = document.getElementById("g-id");
      if (idField) g.id = idField.value.trim();
      g.resource_type = "Group";
      g.display_name = document.getElementById("g-name").value.trim() || g.id;
      g.description = document.getElementById("g-desc").value;
      const expr = [];
      const where = [];
      for (const crit of box.querySelectorAll(".criterion")) {
        const rows = [...crit.querySelectorAll(".condition")];
        if (!rows.length) continue;
        if (expr.length) expr.push({ resource_type: "ConjunctionOperator", conjunction_operator: "OR" });
        if (rows.length === 1) {
          where.push({ prefix: "expression[" + expr.length + "]", row: rows[0] });
          expr.push(rows[0].read());
        } else {
          rows.forEach((r, i) => where.push({ prefix: "expression[" + expr.length + "].expressions[" + (2 * i) + "]", row: r }));
          const nested = [];
          rows.forEach((r, i) => {
            if (i) nested.push({ resource_type: "ConjunctionOperator", conjunction_operator: "AND" });
            nested.push(r.read());
          });
          expr.push({ resource_type: "NestedExpression", expressions: nested });
        }
      }
      const lines = (id) => document.getElementById(id).value.split(/\n/).map((s) => s.trim()).filter(Boolean);
      const ipList = lines("g-ips"), pathList = lines("g-paths");
      if (ipList.length) {
        if (expr.length) expr.push({ resource_type: "ConjunctionOperator", conjunction_operator: "OR" });
        where.push({ prefix: "expression[" + expr.length + "]", field: "err-ips" });
        expr.push({ resource_type: "IPAddressExpression", ip_addresses: ipList });
      }
      if (pathList.length) {
        if (expr.length) expr.push({ resource_type: "ConjunctionOperator", conjunction_operator: "OR" });
        where.push({ prefix: "expression[" + expr.length + "]", field: "err-paths" });
        expr.push({ resource_type: "PathExpression", paths: pathList });
      }
      g.expression = expr;
      return { g, where };
    }

    function clearErrors() {
      for (const e of form.querySelectorAll(".field-error")) e.textContent = "";
      show(document.getElementById("form-error"), "");
    }

    // place puts each of a server's errors next to the field it names;
    // what names no field of the form goes above the buttons.
    function place(r, where) {
      const errs = (r.data && r.data.related_errors && r.data.related_errors.length) ? r.data.related_errors : [r.data || {}];
      const rest = [];
      for (const e of errs) {
        const f = e.field || "";
        const msg = e.error_message || message(r);
        const hit = where.filter((w) => f === w.prefix || f.startsWith(w.prefix + ".") || f.startsWith(w.prefix + "[")).pop();
        let target = null;
        if (hit) target = hit.row ? hit.row.error : document.getElementById(hit.field);
        else if (f && document.getElementById("err-" + f)) target = document.getElementById("err-" + f);
        if (target) target.textContent = msg; else rest.push(msg);
      }
      if (r.status === 412) rest.unshift("Conflict: somebody changed this group since you opened it. Reload to see their change; nothing was saved.");
      show(document.getElementById("form-error"), rest.join(" "));
    }

    const prefix = form.dataset.api.replace(/\/infra\/domains\/.*$/, "");
    async function preview() {
      clearErrors();
      const { g, where } = build();
      if (!g.id) { document.getElementById("err-id").textContent = "give the group an id"; return; }
      const dom = await api("GET", prefix + "/infra/domains/" + encodeURIComponent(form.dataset.domain));
      const domain = dom.ok ? dom.data : { id: form.dataset.domain, resource_type: "Domain" };
      delete domain.children;
      domain.children = [{ resource_type: "ChildGroup", Group: g }];
      const r = await api("PATCH", prefix + "/infra?dry_run=true", { resource_type: "Infra", children: [{ resource_type: "ChildDomain", Domain: domain }] });
      const box = document.getElementById("preview-result");
      if (!r.ok) { box.hidden = true; place(r, where); return; }
      const gc = (r.data.group_changes || []).find((x) => x.path.endsWith("/groups/" + g.id));
      const delta = (gc && gc.delta) || {};
      const name = (m) => m.member_type + " " + [m.object.cluster, m.object.namespace, m.object.name].filter(Boolean).join("/");
      const added = (delta.added_members || []).map((m) => "+ " + name(m)).concat((delta.added_addresses || []).map((a) => "+ " + a));
      const removed = (delta.removed_members || []).map((m) => "− " + name(m)).concat((delta.removed_addresses || []).map((a) => "− " + a));
      const fill = (id, items) => {
        const ul = document.getElementById(id);
        ul.textContent = "";
        for (const t of items) ul.appendChild(el("li", {}, t));
      };
      fill("preview-added", added);
      fill("preview-removed", removed);
      document.getElementById("preview-summary").textContent = added.length || removed.length
        ? added.length + " would join, " + removed.length + " would leave (nothing is saved yet)."
        : "No member would change (nothing is saved yet).";
      box.hidden = false;
    }

    document.getElementById("preview").addEventListener("click", preview);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearErrors();
      const { g, where } = build();
      if (!g.id) { document.getElementById("err-id").textContent = "give the group an id"; return; }
      const path = form.dataset.new === "true" ? form.dataset.api + encodeURIComponent(g.id) : form.dataset.api;
      if (form.dataset.new === "true") {
        delete g._revision;
        // PATCH would replace a group of that id: refuse to create over one.
        const exists = await api("GET", path);
        if (exists.ok) { document.getElementById("err-id").textContent = "a group " + g.id + " exists; choose another id or edit it"; return; }
      }
      const r = await api(form.dataset.new === "true" ? "PATCH" : "PUT", path, g);
      if (!r.ok) { place(r, where); return; }
      const q = new URLSearchParams({ domain: form.dataset.domain, id: g.id });
      if (form.dataset.project) q.set("project", form.dataset.project);
      location.assign("/ui/group?" + q);
    });
  }

  // ---- object editor (rules): each control names its field and type

  function bindObjectEditor() {
    const form = document.getElementById("object-editor");
    if (!form || form.dataset.bound) return;
    form.dataset.bound = "true";
    const obj = JSON.parse(document.getElementById("object-json").textContent);
    const controls = [...form.querySelectorAll("[data-field]")];
    for (const c of controls) {
      const v = obj[c.dataset.field];
      if (c.dataset.type === "bool") c.checked = !!v;
      else if (c.dataset.type === "lines") c.value = (v || []).filter((x) => x !== "ANY").join("\n");
      else if (v !== undefined && v !== null) c.value = String(v);
    }
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      for (const e of form.querySelectorAll(".field-error")) e.textContent = "";
      show(document.getElementById("form-error"), "");
      const out = Object.assign({}, obj);
      for (const c of controls) {
        const f = c.dataset.field;
        if (c.dataset.type === "bool") out[f] = c.checked;
        else if (c.dataset.type === "int") out[f] = c.value.trim() === "" ? 0 : Number(c.value);
        else if (c.dataset.type === "lines") {
          const l = c.value.split(/\n/).map((x) => x.trim()).filter(Boolean);
          out[f] = l.length ? l : ["ANY"];
        } else out[f] = c.value.trim();
      }
      for (const k of (form.dataset.drop || "").split(",").filter(Boolean)) delete out[k];
      const what = form.dataset.what || "rule";
      const isNew = form.dataset.new === "true";
      if (isNew && !out.id) { document.getElementById("err-id").textContent = "give the " + what + " an id"; return; }
      const path = isNew ? form.dataset.api + encodeURIComponent(out.id) : form.dataset.api;
      if (isNew) {
        delete out._revision;
        const exists = await api("GET", path);
        if (exists.ok) { document.getElementById("err-id").textContent = "a " + what + " " + out.id + " exists here; choose another id"; return; }
      }
      const r = await api(isNew ? "PATCH" : "PUT", path, out);
      if (r.ok) { location.assign(form.dataset.back); return; }
      const errs = (r.data && r.data.related_errors && r.data.related_errors.length) ? r.data.related_errors : [r.data || {}];
      const rest = [];
      for (const e of errs) {
        const f = (e.field || "").split(/[.[]/)[0];
        const target = f && document.getElementById("err-" + f);
        if (target) target.textContent = e.error_message || message(r); else rest.push(e.error_message || message(r));
      }
      if (r.status === 412) rest.unshift("Conflict: somebody changed this " + what + " since you opened it. Reload to see their change; nothing was saved.");
      show(document.getElementById("form-error"), rest.join(" "));
    });
  }

  function bindPage() {
    bindObjectEditor();
    bindFirewall();
    bindEditor();
  }

  document.addEventListener("DOMContentLoaded", () => {
    signin();
    signout();
    bindPage();
    follow();
  });
})();
