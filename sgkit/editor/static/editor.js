// The scene-graph editor page: draws the server's state and sends edits (plain JS, no libraries).
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const COLOURS = ["#1a73e8", "#188038", "#e37400", "#00838f", "#d93025", "#795548", "#5f6368", "#f9ab00"];
  let sid = null;
  let state = null;
  let selected = null; // {kind: "node"|"edge", id}
  const $ = (id) => document.getElementById(id);

  function showError(message) {
    const box = $("error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  async function call(op, body) {
    $("status").textContent = op === "generate" || op === "sample" ? "generating..." : "";
    const response = await fetch("/api/" + op, {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify(Object.assign({sid: sid}, body || {})),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {error: "the server answered " + response.status}; }
    if (!response.ok || data.error) {
      showError(data.error || ("request failed: " + response.status));
      $("status").textContent = "";
      return null;
    }
    showError("");
    sid = data.sid;
    if (data.saved) { $("status").textContent = "saved " + data.saved.join(", "); }
    else { $("status").textContent = ""; }
    render(data.state);
    return data;
  }

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    for (const k in attrs) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }

  function fillSelect(select, names, value) {
    select.textContent = "";
    for (const n of names) {
      const o = document.createElement("option");
      o.value = n; o.textContent = n;
      select.appendChild(o);
    }
    if (value !== undefined) select.value = value;
  }

  function drawBoxes() {
    const svg = $("boxes");
    svg.textContent = "";
    const shown = state.nodes.filter((n) => n.box);
    shown.forEach((n) => {
      const c = COLOURS[n.id % COLOURS.length];
      const [x0, y0, x1, y1] = n.box;
      el("rect", {x: x0, y: y0, width: x1 - x0, height: y1 - y0, stroke: c}, svg);
      const t = el("text", {x: x0 + 0.005, y: Math.max(y0 - 0.006, 0.04), fill: c}, svg);
      t.textContent = n.name;
    });
    for (const r of state.removed) {
      const [x0, y0, x1, y1] = r.box;
      el("rect", {x: x0, y: y0, width: x1 - x0, height: y1 - y0, stroke: "#000", "stroke-dasharray": "0.02 0.02"}, svg);
    }
  }

  function layout(n) {
    const cx = 260, cy = 210, r = n > 1 ? 150 : 0;
    const pos = [];
    for (let i = 0; i < n; i++) {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / n;
      pos.push([cx + r * Math.cos(a), cy + r * Math.sin(a)]);
    }
    return pos;
  }

  function drawGraph() {
    const svg = $("graph");
    svg.textContent = "";
    const defs = el("defs", {}, svg);
    const marker = el("marker", {id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5",
      markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse"}, defs);
    el("path", {d: "M 0 0 L 10 5 L 0 10 z", fill: "#555"}, marker);
    const pos = layout(state.nodes.length);
    const H = 26;
    const W = Math.max(70, 12 + 7 * Math.max(...state.nodes.map((n) => n.name.length)));
    state.edges.forEach((e) => {
      const [x1, y1] = pos[e.subject], [x2, y2] = pos[e.object];
      const dx = x2 - x1, dy = y2 - y1, len = Math.hypot(dx, dy) || 1;
      // stop the arrow at the box border of the object node
      const t = Math.min((W / 2) / (Math.abs(dx) || 1e-9), (H / 2) / (Math.abs(dy) || 1e-9));
      const ex = x2 - dx * Math.min(t, 1), ey = y2 - dy * Math.min(t, 1);
      const g = el("g", {class: "edge" + (selected && selected.kind === "edge" && selected.id === e.id ? " selected" : ""),
        "data-id": e.id}, svg);
      el("line", {x1: x1, y1: y1, x2: ex, y2: ey, "marker-end": "url(#arrow)"}, g);
      const off = 8 * (e.id % 3 - 1);
      const label = el("text", {x: (x1 + x2) / 2 - dy / len * off, y: (y1 + y2) / 2 + dx / len * off,
        "text-anchor": "middle"}, g);
      label.textContent = e.predicate;
      label.addEventListener("click", () => select("edge", e.id));
    });
    state.nodes.forEach((n, i) => {
      const [x, y] = pos[i];
      const cls = "node " + n.status + (selected && selected.kind === "node" && selected.id === n.id ? " selected" : "");
      const g = el("g", {class: cls, "data-id": n.id, "data-name": n.name}, svg);
      el("rect", {x: x - W / 2, y: y - H / 2, width: W, height: H, rx: 6}, g);
      const t = el("text", {x: x, y: y + 4, "text-anchor": "middle"}, g);
      t.textContent = n.name;
      g.addEventListener("click", () => select("node", n.id));
    });
  }

  function select(kind, id) {
    selected = {kind: kind, id: id};
    render(state);
  }

  function render(next) {
    state = next;
    if (selected) {
      const list = selected.kind === "node" ? state.nodes : state.edges;
      if (!list.some((x) => x.id === selected.id)) selected = null;
    }
    $("picture").src = state.image;
    $("region").hidden = !state.region;
    if (state.region) $("region").src = state.region;
    $("info").textContent = state.model + " - image " + (state.scene + 1) + " of " + state.num_scenes +
      (state.pending ? " - edits pending" : "");
    drawBoxes();
    drawGraph();
    $("undo").disabled = !state.can_undo;
    $("generate").disabled = !state.pending;
    $("sample").hidden = !state.sampling;
    $("sample").disabled = !state.can_sample;
    const nodeTools = $("node-tools"), edgeTools = $("edge-tools");
    nodeTools.hidden = !(selected && selected.kind === "node");
    edgeTools.hidden = !(selected && selected.kind === "edge");
    if (selected && selected.kind === "node") {
      const n = state.nodes[selected.id];
      $("node-title").textContent = "node " + n.id + ": " + n.name;
      fillSelect($("node-category"), state.categories, n.name);
      fillSelect($("add-category"), state.categories, $("add-category").value || state.categories[0]);
      fillSelect($("add-predicate"), state.predicates, $("add-predicate").value || state.predicates[0]);
    } else if (selected && selected.kind === "edge") {
      const e = state.edges[selected.id];
      $("edge-title").textContent = state.nodes[e.subject].name + " -[" + e.predicate + "]-> " + state.nodes[e.object].name;
      fillSelect($("edge-predicate"), state.predicates, e.predicate);
    }
  }

  function on(id, fn) { $(id).addEventListener("click", fn); }
  function structural(op, body) { selected = null; return call(op, body); }
  on("remove", () => structural("remove", {node: selected.id}));
  on("replace", () => call("replace", {node: selected.id, category: $("node-category").value}));
  on("add", () => structural("add", {anchor: selected.id, category: $("add-category").value,
    predicate: $("add-predicate").value, as_subject: $("add-role").value === "subject"}));
  on("change-predicate", () => call("predicate", {edge: selected.id, predicate: $("edge-predicate").value}));
  on("generate", () => structural("generate"));
  on("sample", () => structural("sample"));
  on("undo", () => structural("undo"));
  on("next", () => structural("next"));
  on("save", () => call("save", {name: $("save-name").value}));
  window.sgEditor = {call: call, state: () => state, select: select};
  call("session");
})();
