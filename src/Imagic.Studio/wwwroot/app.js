// Imagic Studio: the page. Plain JavaScript against the HTTP API (see the README); no framework, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const STAGES = [
  { key: "stage A", cls: "a", label: "A · embedding" },
  { key: "stage B", cls: "b", label: "B · fine-tuning" },
  { key: "stage C (η sweep)", cls: "c", label: "C · first sample" },
];

const state = {
  info: null,
  file: null,         // the chosen upload, or null
  sample: null,       // the chosen sample name, or null
  current: null,      // id of the run shown
  run: null,          // its last state
  events: null,       // its EventSource while it trains
  losses: { a: [], b: [] },
  sampleRequest: null,
  sampleTimer: 0,
};

async function api(path, options) {
  const response = await fetch(path, options);
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try { message = (await response.json()).error || message; } catch { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

function fmtSeconds(s) {
  if (s == null || !isFinite(s)) return "";
  s = Math.round(s);
  if (s < 60) return `${s} s left`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s left` : `${Math.floor(m / 60)} h ${m % 60} min left`;
}

function fmtWhen(iso) {
  const d = new Date(iso);
  return isNaN(d) ? "" : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

// ---- the form ----

function chooseFile(file) {
  if (!file) return;
  state.file = file;
  state.sample = null;
  document.querySelectorAll(".samples button").forEach((b) => b.classList.remove("chosen"));
  showPreview(URL.createObjectURL(file), file.name);
}

function chooseSample(name, button) {
  state.sample = name;
  state.file = null;
  $("file").value = "";
  document.querySelectorAll(".samples button").forEach((b) => b.classList.toggle("chosen", b === button));
  showPreview(`/api/samples/${encodeURIComponent(name)}`, name);
}

function showPreview(src, name) {
  $("preview").src = src;
  $("preview").hidden = false;
  $("drop-text").textContent = name;
}

async function startEdit() {
  $("form-error").textContent = "";
  const form = new FormData();
  if (state.file) form.append("image", state.file, state.file.name);
  else if (state.sample) form.append("sample", state.sample);
  form.append("prompt", $("prompt").value);
  form.append("recipe", $("recipe").value);
  form.append("seed", $("seed").value);
  if ($("steps-a").value !== "") form.append("embedding_steps", $("steps-a").value);
  if ($("steps-b").value !== "") form.append("finetune_steps", $("steps-b").value);
  $("start").disabled = true;
  try {
    const run = await (await api("/api/edits", { method: "POST", body: form })).json();
    await refreshRuns();
    showRun(run.id);
  } catch (e) {
    $("form-error").textContent = e.message;
  } finally {
    $("start").disabled = false;
  }
}

// ---- the list of runs ----

async function refreshRuns() {
  let runs;
  try { runs = await (await api("/api/edits")).json(); } catch { return; }
  const list = $("runs");
  list.replaceChildren();
  if (runs.length === 0) {
    const li = document.createElement("li");
    li.className = "empty-list";
    li.textContent = "No runs yet.";
    list.append(li);
  }
  for (const run of runs) {
    const li = document.createElement("li");
    li.dataset.id = run.id;
    li.classList.toggle("current", run.id === state.current);
    li.title = run.id;
    const what = document.createElement("div");
    what.className = "what";
    const prompt = document.createElement("div");
    prompt.className = "prompt";
    prompt.textContent = run.prompt || run.id;
    const when = document.createElement("div");
    when.className = "when";
    when.textContent = fmtWhen(run.created);
    what.append(prompt, when);
    const badge = document.createElement("span");
    badge.className = `badge ${run.status}`;
    badge.textContent = run.status;
    li.append(what, badge);
    li.addEventListener("click", () => showRun(run.id));
    list.append(li);
  }
}

// ---- one run ----

async function showRun(id) {
  if (state.events) { state.events.close(); state.events = null; }
  state.current = id;
  if (location.hash !== `#run=${encodeURIComponent(id)}`) history.replaceState(null, "", `#run=${encodeURIComponent(id)}`);
  document.querySelectorAll("#runs li").forEach((li) => li.classList.toggle("current", li.dataset.id === id));
  $("empty").hidden = true;
  $("run").hidden = false;
  $("result").hidden = true;
  $("grid-figure").hidden = true;
  $("region").hidden = true;
  $("run-error").textContent = "";
  let run, losses;
  try {
    run = await (await api(`/api/edits/${encodeURIComponent(id)}`)).json();
    losses = await (await api(`/api/edits/${encodeURIComponent(id)}/losses`)).json();
  } catch (e) {
    $("run-error").textContent = e.message;
    return;
  }
  if (state.current !== id) return;
  state.losses = { a: losses.stage_a.filter((v) => v != null), b: losses.stage_b.filter((v) => v != null) };
  $("sample-seed").value = run.seed;
  $("eta").value = run.eta;
  $("mask").checked = run.mask === "auto"; // the run's own setting; the page may change it for stage C
  state.run = null; // shown afresh, with the control's state, even when it is the run shown already
  update(run);
  if (!isFinal(run)) listen(id);
}

function isFinal(run) {
  return ["ready", "failed", "cancelled", "interrupted"].includes(run.status);
}

function listen(id) {
  const events = new EventSource(`/api/edits/${encodeURIComponent(id)}/events`);
  state.events = events;
  events.addEventListener("progress", (e) => {
    const run = JSON.parse(e.data);
    if (state.current !== id) return;
    if (run.loss != null && run.status === "training") {
      const list = run.stage === "stage A" ? state.losses.a : run.stage === "stage B" ? state.losses.b : null;
      if (list && list.length < run.step) list.push(run.loss);
    }
    update(run);
    if (isFinal(run)) {
      events.close();
      state.events = null;
      refreshRuns();
    }
  });
  events.onerror = () => {
    // The server went away; stop retrying and show what the folder says when it is back.
    events.close();
    if (state.events === events) state.events = null;
  };
}

function update(run) {
  const previous = state.run;
  state.run = run;
  $("run-title").textContent = run.prompt;
  $("run-id").textContent = `${run.id} · seed ${run.seed} · recipe ${run.recipe}`;
  $("status").className = `badge ${run.status}`;
  $("status").textContent = run.status + (run.status === "queued" && run.queue_position ? ` (${run.queue_position} ahead)` : "");
  $("cancel").hidden = !(run.status === "queued" || run.status === "training");
  $("resume").hidden = !["cancelled", "interrupted", "failed"].includes(run.status);
  $("run-error").textContent = run.error || "";
  $("run-warning").textContent = run.warning ? `Warning: ${run.warning}` : "";
  renderStages(run);
  drawLoss();
  const ready = run.status === "ready";
  $("result").hidden = !ready;
  if (ready && (!previous || previous.id !== run.id || previous.status !== "ready")) {
    $("input").src = `/api/edits/${encodeURIComponent(run.id)}/input`;
    showEta();
    showRegion();
    loadSample();
  }
}

function renderStages(run) {
  const host = $("stages");
  host.replaceChildren();
  const a = state.losses.a.length, b = state.losses.b.length;
  for (const stage of STAGES) {
    const row = document.createElement("div");
    row.className = `stage ${stage.cls}`;
    row.dataset.stage = stage.key;
    let step = 0, total = 0, detail = "";
    const active = run.stage === stage.key && run.status !== "ready";
    if (active) {
      step = run.step; total = run.total;
      detail = `${step} / ${total}` + (run.loss != null && stage.cls !== "c" ? ` · loss ${run.loss.toFixed(4)}` : "") +
        (run.status === "training" && run.eta_seconds != null ? ` · ${fmtSeconds(run.eta_seconds)}` : "");
    } else {
      const order = STAGES.findIndex((s) => s.key === run.stage);
      const mine = STAGES.indexOf(stage);
      const done = run.status === "ready" || (order > mine && order >= 0);
      step = done ? 1 : 0; total = 1;
      detail = done ? (stage.cls === "a" && a ? `done · ${a} steps` : stage.cls === "b" && b ? `done · ${b} steps` : "done") : "waiting";
    }
    const name = document.createElement("span");
    name.textContent = stage.label;
    const bar = document.createElement("div");
    bar.className = "bar";
    const fill = document.createElement("span");
    fill.style.width = `${total ? (100 * step) / total : 0}%`;
    bar.append(fill);
    const info = document.createElement("span");
    info.className = "detail";
    info.textContent = detail;
    row.append(name, bar, info);
    host.append(row);
  }
}

function drawLoss() {
  const canvas = $("loss");
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 640, height = canvas.clientHeight || 160;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  g.clearRect(0, 0, width, height);
  const all = state.losses.a.concat(state.losses.b);
  g.fillStyle = "#6b7280";
  g.font = "12px system-ui, sans-serif";
  if (all.length < 2) {
    g.fillText(all.length ? "loss: one step so far" : "The loss curve appears as the stages train.", 12, 22);
    return;
  }
  const pad = { l: 48, r: 10, t: 10, b: 20 };
  const sorted = all.slice().sort((x, y) => x - y);
  const lo = sorted[0], hi = sorted[Math.floor(0.98 * (sorted.length - 1))] || sorted[sorted.length - 1];
  const span = hi - lo || 1;
  const x = (i) => pad.l + (i / (all.length - 1)) * (width - pad.l - pad.r);
  const y = (v) => pad.t + (1 - (Math.min(v, hi) - lo) / span) * (height - pad.t - pad.b);
  g.strokeStyle = "#e3e5e8";
  g.lineWidth = 1;
  for (const v of [lo, lo + span / 2, hi]) {
    g.beginPath(); g.moveTo(pad.l, y(v)); g.lineTo(width - pad.r, y(v)); g.stroke();
    g.fillText(v.toPrecision(3), 4, y(v) + 4);
  }
  const series = [[state.losses.a, 0, "#3b5bdb"], [state.losses.b, state.losses.a.length, "#e8590c"]];
  for (const [values, offset, colour] of series) {
    if (!values.length) continue;
    // Raw steps faint, a running mean over ~2 % of the steps on top.
    const window = Math.max(1, Math.round(all.length / 50));
    for (const [alpha, smooth] of [[0.25, false], [1, true]]) {
      g.strokeStyle = colour;
      g.globalAlpha = alpha;
      g.lineWidth = smooth ? 2 : 1;
      g.beginPath();
      let sum = 0;
      values.forEach((v, i) => {
        sum += v;
        if (i >= window) sum -= values[i - window];
        const value = smooth ? sum / Math.min(i + 1, window) : v;
        if (i === 0) g.moveTo(x(offset + i), y(value)); else g.lineTo(x(offset + i), y(value));
      });
      g.stroke();
    }
    g.globalAlpha = 1;
  }
  g.fillText(`${all.length} steps`, width - pad.r - 60, height - 5);
}

// ---- stage C: the η slider ----

function etaText() {
  return Number($("eta").value).toFixed(2);
}

function showEta() {
  $("eta-value").textContent = etaText();
}

function maskText() {
  return $("mask").checked ? "auto" : "none";
}

function sampleUrl(download) {
  const id = encodeURIComponent(state.current);
  const seed = Math.max(0, Math.floor(Number($("sample-seed").value) || 0));
  return `/api/edits/${id}/sample?eta=${etaText()}&seed=${seed}&mask=${maskText()}` + (download ? "&download=1" : "");
}

// With the mask on, the input is shown with the part every η keeps dimmed (the region PNG, multiplied over it).
async function showRegion() {
  const region = $("region");
  const id = state.current;
  if (!$("mask").checked || !state.run || state.run.status !== "ready") {
    region.hidden = true;
    $("input-caption").textContent = "Input";
    return;
  }
  $("input-caption").textContent = "Input · estimating the edit region…";
  try {
    const blob = await (await api(`/api/edits/${encodeURIComponent(id)}/mask`)).blob();
    if (state.current !== id || !$("mask").checked) return;
    const old = region.src;
    region.onload = () => {
      region.dataset.run = id;
      if (old.startsWith("blob:")) URL.revokeObjectURL(old);
    };
    region.src = URL.createObjectURL(blob);
    region.hidden = false;
    $("input-caption").textContent = "Input · the dimmed part is kept as it is";
  } catch (e) {
    if (state.current === id) {
      $("input-caption").textContent = "Input";
      $("run-error").textContent = e.message;
    }
  }
}

function toggleMask() {
  showRegion();
  scheduleSample();
}

async function loadSample() {
  if (!state.run || state.run.status !== "ready") return;
  if (state.sampleRequest) state.sampleRequest.abort();
  const request = new AbortController();
  state.sampleRequest = request;
  const url = sampleUrl(false);
  const eta = etaText();
  const mask = maskText();
  $("download").href = sampleUrl(true);
  $("spinner").hidden = false;
  try {
    const response = await api(url, { signal: request.signal });
    const warning = response.headers.get("X-Imagic-Warning");
    const blob = await response.blob();
    if (state.sampleRequest !== request) return;
    const img = $("edited");
    const old = img.src;
    img.onload = () => {
      img.dataset.eta = eta;
      img.dataset.mask = mask;
      img.dataset.url = url;
      if (old.startsWith("blob:")) URL.revokeObjectURL(old);
    };
    img.src = URL.createObjectURL(blob);
    $("edited-caption").textContent = `Edited · η = ${eta}, seed ${$("sample-seed").value}` + (mask === "auto" ? " · mask" : "");
    $("run-error").textContent = warning || "";
  } catch (e) {
    if (e.name !== "AbortError") $("run-error").textContent = e.message;
  } finally {
    if (state.sampleRequest === request) {
      state.sampleRequest = null;
      $("spinner").hidden = true;
    }
  }
}

function scheduleSample() {
  showEta();
  clearTimeout(state.sampleTimer);
  state.sampleTimer = setTimeout(loadSample, 120);
}

async function showGrid() {
  const button = $("grid-button");
  button.disabled = true;
  $("grid-caption").textContent = "Sampling the grid…";
  $("grid-figure").hidden = false;
  try {
    const blob = await (await api(`/api/edits/${encodeURIComponent(state.current)}/grid?seeds=2&mask=${maskText()}`)).blob();
    $("grid").src = URL.createObjectURL(blob);
    $("grid-caption").textContent = "η across, seeds down; written to samples/studio_grid.png in the run folder.";
  } catch (e) {
    $("grid-caption").textContent = e.message;
  } finally {
    button.disabled = false;
  }
}

async function cancelRun() {
  try { update(await (await api(`/api/edits/${encodeURIComponent(state.current)}`, { method: "DELETE" })).json()); }
  catch (e) { $("run-error").textContent = e.message; }
}

async function resumeRun() {
  try {
    await api(`/api/edits/${encodeURIComponent(state.current)}/resume`, { method: "POST" });
    showRun(state.current);
    refreshRuns();
  } catch (e) { $("run-error").textContent = e.message; }
}

// ---- start ----

async function init() {
  const drop = $("drop");
  $("file").addEventListener("change", (e) => chooseFile(e.target.files[0]));
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") $("file").click(); });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); chooseFile(e.dataTransfer.files[0]); });
  $("start").addEventListener("click", startEdit);
  $("eta").addEventListener("input", scheduleSample);
  $("sample-seed").addEventListener("change", scheduleSample);
  $("mask").addEventListener("change", toggleMask);
  $("grid-button").addEventListener("click", showGrid);
  $("cancel").addEventListener("click", cancelRun);
  $("resume").addEventListener("click", resumeRun);
  window.addEventListener("resize", drawLoss);

  const info = await (await api("/api/info")).json();
  state.info = info;
  $("model-meta").textContent = `model ${info.model_name} · runs in ${info.runs}`;
  for (const recipe of info.recipes) {
    const option = document.createElement("option");
    option.value = recipe.name;
    option.textContent = recipe.name;
    option.title = recipe.description;
    $("recipe").append(option);
  }
  // Empty step fields mean the chosen recipe's step counts, shown as placeholders.
  const showRecipeSteps = () => {
    const recipe = info.recipes.find((r) => r.name === $("recipe").value) ?? info.recipes[0];
    $("steps-a").placeholder = recipe.embedding_steps;
    $("steps-b").placeholder = recipe.finetune_steps;
  };
  $("recipe").addEventListener("change", showRecipeSteps);
  showRecipeSteps();
  $("seed").value = info.defaults.seed;
  $("eta").min = info.limits.min_eta;
  $("eta").max = info.limits.max_eta;
  for (const name of info.samples) {
    const button = document.createElement("button");
    button.type = "button";
    button.title = name;
    const img = document.createElement("img");
    img.src = `/api/samples/${encodeURIComponent(name)}`;
    img.alt = name;
    button.append(img);
    button.addEventListener("click", () => chooseSample(name, button));
    $("samples").append(button);
  }
  await refreshRuns();
  setInterval(refreshRuns, 10000);
  // A link to one run (#run=<id>) opens it, also when only the hash changes.
  const openLinked = () => {
    const linked = /^#run=(.+)$/.exec(location.hash);
    if (linked && decodeURIComponent(linked[1]) !== state.current) showRun(decodeURIComponent(linked[1]));
  };
  window.addEventListener("hashchange", openLinked);
  openLinked();
}

init().catch((e) => { $("form-error").textContent = `Cannot reach the studio: ${e.message}`; });
