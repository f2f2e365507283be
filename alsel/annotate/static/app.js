// alsel annotate: one query at a time; every answer is saved by the server before "saved" shows.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const ui = {
    image: $("image"), viewer: $("viewer"), placeholder: $("placeholder"), cls: $("class-name"),
    name: $("image-name"), yes: $("yes"), no: $("no"), skip: $("skip"), undo: $("undo"),
    status: $("status"), text: $("progress-text"), fill: $("bar-fill"), who: $("name"),
    help: $("help"), helpButton: $("help-button"),
  };
  let csrf = null, query = null, shownAt = null, busy = false, undoable = 0, pollTimer = null;

  async function call(path, body) {
    const response = await fetch(path, {
      method: body === undefined ? "GET" : "POST", credentials: "same-origin",
      headers: body === undefined ? {} : {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { /* not JSON: keep the status */ }
    if (!response.ok) {
      const error = new Error(data.error || `server answered ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function status(text, kind = "") { ui.status.textContent = text; ui.status.className = "status " + kind; }

  function progress(p) {
    if (!p) return;
    const median = p.median_seconds == null ? "–" : `${p.median_seconds.toFixed(1)} s`;
    ui.text.textContent = `${p.answered} / ${p.total} answered · ${p.remaining} remaining · ` +
      `your median ${median} per answer (${p.mine})`;
    ui.fill.style.width = p.total ? `${(100 * p.answered) / p.total}%` : "0";
  }

  function enable(on) {
    for (const b of [ui.yes, ui.no, ui.skip]) b.disabled = !on;
    ui.undo.disabled = busy || undoable === 0;
  }

  function show(data) {
    progress(data.progress);
    clearTimeout(pollTimer);
    ui.viewer.classList.remove("zoomed");
    if (!data.query) {
      query = null; shownAt = null;
      document.body.classList.add("done");
      ui.image.classList.remove("shown");
      ui.image.removeAttribute("src");
      ui.cls.textContent = data.done ? "All done" : "Waiting";
      ui.name.textContent = "";
      ui.placeholder.textContent = data.done
        ? "Every query of this round is answered. New queries appear here when the next round starts."
        : "The remaining queries are with other people right now; checking again in a moment.";
      enable(false);
      pollTimer = setTimeout(next, 3000);
      return;
    }
    document.body.classList.remove("done");
    const same = query && query.image === data.query.image && query.cls === data.query.cls;
    query = data.query;
    ui.cls.textContent = query.class_name;
    ui.name.textContent = query.name;
    ui.placeholder.textContent = "";
    if (same && shownAt !== null) { enable(true); return; }
    shownAt = null;
    enable(false);
    ui.image.classList.remove("shown");
    ui.image.src = query.image_url;
  }

  ui.image.addEventListener("load", () => {
    ui.image.classList.toggle("pixelated", ui.image.naturalWidth < 256);
    ui.image.classList.add("shown");
    shownAt = performance.now();   // the clock of "seconds per answer" starts when the image shows
    enable(!busy);
  });
  ui.image.addEventListener("error", () => {
    if (query) status(`the image of this query could not be loaded (${query.name}); skip it with S`, "error");
    shownAt = performance.now();
    enable(!busy);
  });

  async function run(action) {
    if (busy) return;
    busy = true; enable(false);
    try { await action(); } catch (e) {
      status(e.status ? e.message : `not saved: no connection to the server (${e.message}); try again`, "error");
      if (e.status === 409) { try { show(await call("api/next", {})); } catch (e2) { /* keep the message */ } }
    } finally { busy = false; enable(query !== null && shownAt !== null); }
  }

  function answer(yes) {
    if (!query || shownAt === null) return;
    const button = yes ? ui.yes : ui.no;
    button.classList.add("pressed"); setTimeout(() => button.classList.remove("pressed"), 120);
    const seconds = (performance.now() - shownAt) / 1000;
    const asked = query;
    return run(async () => {
      status("saving…");
      await call("api/answer", {image: asked.image, cls: asked.cls, answer: yes ? "yes" : "no", seconds});
      undoable += 1;
      status(`saved: ${yes ? "yes" : "no"} for “${asked.class_name}” (${seconds.toFixed(1)} s)`, "ok");
      show(await call("api/next", {}));
    });
  }

  const skip = () => query && run(async () => {
    const skipped = query;
    show(await call("api/skip", {image: skipped.image, cls: skipped.cls}));
    status(`skipped “${skipped.class_name}”; it will be asked again later`);
  });

  const undo = () => undoable > 0 && run(async () => {
    const data = await call("api/undo", {});
    undoable -= 1;
    query = null;
    show(data);
    status("undone: answer it again", "ok");
  });

  async function next() { try { show(await call("api/next", {})); } catch (e) { status(e.message, "error"); pollTimer = setTimeout(next, 5000); } }

  function toggleHelp(open) { ui.help.hidden = open === undefined ? !ui.help.hidden : !open; }

  function zoom(event) {
    if (!query) return;
    if (event && !ui.viewer.classList.contains("zoomed")) {
      const box = ui.image.getBoundingClientRect();
      ui.image.style.transformOrigin = `${event.clientX - box.left}px ${event.clientY - box.top}px`;
    } else if (!event) {
      ui.image.style.transformOrigin = "50% 50%";
    }
    ui.viewer.classList.toggle("zoomed");
  }

  document.addEventListener("keydown", (event) => {
    if (event.target === ui.who || event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key.toLowerCase();
    if (key === "?" ) { toggleHelp(); event.preventDefault(); return; }
    if (key === "escape") { toggleHelp(false); ui.viewer.classList.remove("zoomed"); return; }
    if (!ui.help.hidden) return;
    const actions = {y: () => answer(true), n: () => answer(false), s: skip, u: undo, z: () => zoom(null)};
    if (actions[key] && !event.repeat) { event.preventDefault(); actions[key](); }
  });
  ui.yes.addEventListener("click", () => answer(true));
  ui.no.addEventListener("click", () => answer(false));
  ui.skip.addEventListener("click", skip);
  ui.undo.addEventListener("click", undo);
  ui.viewer.addEventListener("click", zoom);
  ui.helpButton.addEventListener("click", () => toggleHelp());
  ui.help.addEventListener("click", (event) => { if (event.target === ui.help) toggleHelp(false); });
  ui.who.addEventListener("change", async () => {
    try {
      const data = await call("api/name", {name: ui.who.value});
      ui.who.value = data.name;
      localStorage.setItem("alsel-annotator", data.name);
      status(`answers are now stored as “${data.name}”`, "ok");
    } catch (e) { status(e.message, "error"); }
  });
  ui.who.addEventListener("keydown", (event) => { if (event.key === "Enter") ui.who.blur(); });

  (async () => {
    try {
      const state = await call("api/state");
      csrf = state.csrf;
      const saved = localStorage.getItem("alsel-annotator");
      if (saved && saved !== state.name) {
        try { ui.who.value = (await call("api/name", {name: saved})).name; } catch (e) { ui.who.value = state.name; }
      } else { ui.who.value = state.name; }
      progress(state.progress);
      await next();
    } catch (e) {
      status(`${e.message} — open the URL with ?token=… that the server printed`, "error");
    }
  })();
})();
