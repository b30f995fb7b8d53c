// voiceguide station page.
//
// Plain JavaScript, no build step, nothing fetched from anywhere but the
// station. The token never appears here: the station swapped it for an
// HttpOnly cookie when the pairing address was opened, and the browser sends
// that cookie with every same-origin request below.
//
// Live state comes from the event stream (/api/events), never from a polling
// loop. EventSource retries by itself after a dropped connection, but gives up
// for good when the answer is not an event stream (the station restarting, a
// 401): then we retry with a growing pause. A phone that sleeps may keep a dead
// connection that still looks open, so coming back to the page always opens a
// fresh stream. The only timer that runs is the one that moves the elapsed
// time on between events while a session plays, and it does not talk to the
// station.
"use strict";
(function () {
  var $ = function (id) { return document.getElementById(id); };

  var state = null;          // the last state object from the station
  var stateAt = 0;           // performance.now() when it arrived
  var source = null;         // the EventSource
  var retryDelay = 1000;
  var retryTimer = 0;
  var ticker = 0;
  var exercises = [];
  var pieces = [];           // the station's music folder: [{name, seconds?}] (GET /api/music)
  var unpaired = false;
  var wasLost = false;       // the stream failed since it last opened

  // ---- talking to the station --------------------------------------------

  function ApiError(message, status) {
    this.message = message;
    this.status = status;
  }

  function api(path, body) {
    var options = { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      options.method = "POST";
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(path, options).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (res.status === 401) {
          showUnpaired();
          throw new ApiError("not paired", 401);
        }
        if (!res.ok) {
          throw new ApiError((data && data.error) || ("The station answered " + res.status + "."), res.status);
        }
        return data;
      });
    });
  }

  function send(path, body) {
    hideAlert();
    return api(path, body === undefined ? {} : body).then(function (data) {
      if (data && typeof data.state === "string") render(data);
      return data;
    }, showError);
  }

  // ---- messages ------------------------------------------------------------

  function showError(err) {
    if (err && err.status === 401) return;
    var text = (err && err.message) || "Something went wrong.";
    if (err instanceof TypeError) text = "The station cannot be reached. It may be restarting.";
    showAlert(text);
  }

  function showAlert(text) {
    // Fixed at the top of the screen, out of the flow: a message never shifts the controls.
    setText($("alert-text"), text);
    $("alert").hidden = false;
  }

  function hideAlert() {
    if (!unpaired) $("alert").hidden = true;
  }

  function showUnpaired() {
    unpaired = true;
    showAlert("This page is not paired with the station. Open the pairing address that " +
      "`voiceguide station` printed (it ends in ?token=...), or scan its QR code.");
    setConn("lost", "Not paired");
    if (source) { source.close(); source = null; }
  }

  function setConn(kind, text) {
    var el = $("conn");
    el.dataset.state = kind;
    el.textContent = text;
  }

  // ---- formatting ----------------------------------------------------------

  function clock(seconds) {
    seconds = Math.max(0, Math.floor(Number(seconds) || 0));
    var h = Math.floor(seconds / 3600);
    var m = Math.floor((seconds % 3600) / 60);
    var s = seconds % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }

  function lengthText(item) {
    // The station's own words for a length ("7:25", "~7:30" for an estimate): the same one
    // function writes it for `voiceguide list`, `ctl list` and this page.
    if (item.duration_text) return item.duration_text;
    if (item.duration === null || item.duration === undefined) return "";
    return (item.estimated ? "~" : "") + clock(Math.round(Number(item.duration)));
  }

  var DAY_NAMES = { mon: "Mon", tue: "Tue", wed: "Wed", thu: "Thu", fri: "Fri", sat: "Sat", sun: "Sun" };

  function daysText(days) {
    // The station says "daily", "mon..fri" or "sat,sun" (systemd's own words).
    if (Array.isArray(days)) days = days.join(",");
    days = String(days || "daily").toLowerCase();
    if (days === "daily") return "every day";
    return days.split(",").map(function (part) {
      return part.split("..").map(function (d) { return DAY_NAMES[d] || d; }).join("–");
    }).join(", ");
  }

  function setText(el, text) {
    // Only touch the DOM when the text changes: aria-live regions announce
    // every change, and a screen reader should not hear the same words twice.
    text = text || "";
    if (el.textContent !== text) el.textContent = text;
  }

  // ---- now playing ---------------------------------------------------------

  function render(s) {
    state = s;
    stateAt = performance.now();
    var now = $("now");
    var active = s.state === "playing" || s.state === "paused" || s.state === "starting";
    now.dataset.state = s.state;
    setText($("now-title"), active ? (s.title || s.exercise || "") : "Nothing is playing");
    setText($("now-section"), active ? (s.section || "") : "");
    setText($("now-text"), active ? (s.text || "") : "");
    setText($("now-state"), stateWords(s));
    setText($("vol"), (s.volume_db > 0 ? "+" : "") + (Math.round((s.volume_db || 0) * 10) / 10) + " dB");
    var toggle = $("btn-toggle");
    setText(toggle, s.state === "paused" ? "Resume" : "Pause");
    toggle.setAttribute("aria-pressed", s.state === "paused" ? "true" : "false");
    ["btn-back", "btn-toggle", "btn-next", "btn-stop"].forEach(function (id) { $(id).disabled = !active; });
    var items = document.querySelectorAll("#exercise-list > li");
    for (var i = 0; i < items.length; i++) {
      items[i].classList.toggle("ex-playing", active && items[i].dataset.id === s.exercise);
    }
    // A session that failed, told to everyone who looks (the request may have come from elsewhere).
    var error = $("now-error");
    setText(error, s.error ? "The last session could not play: " + s.error : "");
    error.hidden = !s.error;
    tick();
    var every = s.breathing ? 100 : 500;   // the breathing phase is shown as it changes
    if (ticker && every !== tickEvery) { clearInterval(ticker); ticker = 0; }
    var moving = s.state === "playing" || s.state === "starting";   // the clock or the start delay's count
    if (moving && !ticker) { ticker = setInterval(tick, every); tickEvery = every; }
    if (!moving && ticker) { clearInterval(ticker); ticker = 0; }
    if (s.state === "idle" && previousState && previousState !== "idle") loadLog();
    previousState = s.state;
  }
  var previousState = null;
  var tickEvery = 0;

  function stateWords(s) {
    // Said plainly, in the line under the title: paused, or why nothing sounds yet.
    var preparing = s.preparing && s.preparing.total ? "Preparing speech (" + s.preparing.done + " of " +
      s.preparing.total + ")…" : "";
    var startsIn = startsInText(s);
    if (s.state === "paused") return "Paused" + (startsIn ? " · " + startsIn : preparing ? " · " + preparing : "");
    if (s.state === "starting") return startsIn;
    if (s.state === "playing") return preparing;
    return "";
  }

  function startsInText(s) {
    // The start delay: "Starts in 0:25", counted here between the station's once-a-second answers.
    if (s.starts_in === null || s.starts_in === undefined) return "";
    var left = Number(s.starts_in);
    if (s.state === "starting") left = Math.max(0, left - (performance.now() - stateAt) / 1000);
    return "Starts in " + clock(Math.ceil(left));
  }

  function breathPhase(b, into) {
    // As the terminal shows it (player/status_line.py breath_phase): in, hold, out, hold; the cycle.
    var period = b.inhale + b.hold + b.exhale + b.hold_out;
    if (!(period > 0) || into < 0) return null;
    var cycle = Math.floor(into / period);
    if (cycle >= b.cycles) return { phase: "done", cycle: b.cycles, left: 0, size: "small" };
    var t = into - cycle * period;
    var phase, left, size;
    if (t < b.inhale) { phase = "in"; left = b.inhale - t; size = "large"; }
    else if (t < b.inhale + b.hold) { phase = "hold"; left = b.inhale + b.hold - t; size = "large"; }
    else if (t < b.inhale + b.hold + b.exhale) { phase = "out"; left = b.inhale + b.hold + b.exhale - t; size = "small"; }
    else { phase = "hold"; left = period - t; size = "small"; }
    return { phase: phase, cycle: cycle + 1, left: left, size: size };
  }

  var PHASE_WORDS = { "in": "Breathe in", hold: "Hold", out: "Breathe out", done: "Done" };

  function showBreath(s, elapsed) {
    var box = $("breath");
    var b = s.breathing;
    var at = b && (s.state === "playing" || s.state === "paused") ? breathPhase(b, elapsed - b.start) : null;
    box.hidden = !at;
    $("now").classList.toggle("breathing", !!at);
    if (!at) return;
    setText($("breath-phase"), PHASE_WORDS[at.phase]);
    setText($("breath-count"), at.phase === "done" ? "" : at.cycle + " of " + b.cycles);
    var ring = $("breath-ring");
    // The ring grows over the inhale and shrinks over the exhale, taking the phase's own time
    // (a transition, so it stays smooth between ticks); style.css drops the motion for
    // prefers-reduced-motion and while paused.
    if (ring.dataset.size !== at.size || ring.dataset.cycle !== String(at.cycle)) {
      ring.style.transitionDuration = Math.max(0, at.left).toFixed(2) + "s";
      ring.dataset.size = at.size;
      ring.dataset.cycle = String(at.cycle);
    }
  }

  function tick() {
    if (!state) return;
    var total = Number(state.duration) || 0;
    var elapsed = Number(state.elapsed) || 0;
    if (state.state === "playing") elapsed += (performance.now() - stateAt) / 1000;
    if (total) elapsed = Math.min(elapsed, total);
    if (state.state === "idle") { elapsed = 0; total = 0; }
    var bar = $("now-progress");
    bar.max = total || 1;
    bar.value = elapsed;
    var totalText = state.state === "idle" ? clock(0) : (total ? lengthText(state) : "?");
    bar.setAttribute("aria-valuetext", clock(elapsed) + " of " + totalText);
    setText($("now-elapsed"), clock(elapsed));
    setText($("now-total"), totalText);
    if (state.state === "starting") setText($("now-state"), stateWords(state));
    showBreath(state, elapsed);
  }

  // ---- exercises -----------------------------------------------------------

  function startExercise(ex, music) {
    var body = { id: ex.id, origin: "web" };   // the practice log notes who asked
    if (music) body.music = music;             // a piece's name from the station's music folder
    var length = $("ex-length").value.trim();
    if (length) body.length = length;
    var delay = $("ex-delay").value;
    if (delay) body.delay = delay;
    send("/api/play", body).then(function (data) {
      // the list is long on a phone: bring the card with the controls into view
      if (data && (data.state === "playing" || data.state === "paused" || data.state === "starting")) {
        var reduce = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
        $("now").scrollIntoView({ block: "start", behavior: reduce ? "auto" : "smooth" });
      }
    });
  }

  // ---- downloads: the session as an MP3 for a phone's own player ----------

  // Bytes a second of the station's MP3 (LAME VBR quality 5, mono), measured over the built-in
  // sessions by benchmarks/downloads.py: 0.488 MB a minute (0.475-0.501 each).
  var MP3_BYTES_PER_SECOND = 8140;

  function parseLength(text) {
    // The station's duration words, as --length takes them: "15m", "1m30s", "90s", "1.5m", "500ms", "1h", "90".
    text = String(text || "").trim().toLowerCase().replace(/\s+/g, "");
    if (!text) return null;
    if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
    var re = /(\d+(?:\.\d+)?)(ms|min|h|m|s)/g, total = 0, used = 0, m;
    while ((m = re.exec(text)) !== null) {
      total += Number(m[1]) * { ms: 0.001, s: 1, m: 60, min: 60, h: 3600 }[m[2]];
      used += m[0].length;
    }
    return used === text.length && total > 0 ? total : null;
  }

  function sizeText(seconds) {
    var mb = seconds * MP3_BYTES_PER_SECOND / 1e6;
    return "about " + (mb < 10 ? mb.toFixed(1) : String(Math.round(mb))) + " MB";
  }

  function downloadLink(ex) {
    // A link, not a button: the browser saves what it points at (the station says "attachment").
    var a = document.createElement("a");
    a.className = "ex-download";
    a.setAttribute("download", "");
    var word = document.createElement("span");
    word.className = "ex-download-word";
    word.textContent = "Download";
    var size = document.createElement("span");
    size.className = "ex-download-size";
    a.appendChild(word);
    a.appendChild(size);
    updateDownload(a, ex);
    return a;
  }

  function updateDownload(a, ex) {
    // The address holds the length typed above (the station refuses one the exercise cannot last);
    // the link says how long the file is and roughly how big.
    var typed = $("ex-length").value.trim();
    a.href = "/api/exercises/" + encodeURIComponent(ex.id) + "/audio?format=mp3" +
      (typed ? "&length=" + encodeURIComponent(typed) : "");
    var seconds = typed ? parseLength(typed) : Number(ex.duration);
    var length = seconds ? (typed ? clock(seconds) : lengthText(ex)) : "";
    // the size only, to keep the row compact (the length is in the row, or typed above)
    setText(a.querySelector(".ex-download-size"), seconds ? sizeText(seconds).replace("about ", "~") : "MP3");
    a.setAttribute("aria-label", "Download " + (ex.title || ex.id) + " (MP3" +
      (seconds ? ", " + length + ", " + sizeText(seconds) : "") + ")");
  }

  function updateDownloads() {
    var items = document.querySelectorAll("#exercise-list > li");
    for (var i = 0; i < items.length; i++) {
      var a = items[i].querySelector(".ex-download");
      if (a && exercises[i] && exercises[i].id === items[i].dataset.id) updateDownload(a, exercises[i]);
    }
  }

  function musicRow(li, ex) {
    // Start with a small select of the pieces beside it; without pieces, a line saying what to do.
    if (!pieces.length) {
      var needs = document.createElement("p");
      needs.className = "ex-needs-music";
      needs.textContent = "needs music: set music_folder on the station";
      li.appendChild(needs);
      return;
    }
    var select = document.createElement("select");
    select.className = "ex-music";
    select.setAttribute("aria-label", "Music for " + (ex.title || ex.id));
    pieces.forEach(function (piece) {
      var option = document.createElement("option");
      option.value = piece.name;
      option.textContent = piece.name.replace(/\.[^.]+$/, "") +
        (typeof piece.seconds === "number" ? " (" + clock(piece.seconds) + ")" : "");
      select.appendChild(option);
    });
    var start = document.createElement("button");
    start.type = "button";
    start.className = "primary";
    start.textContent = "Start";
    start.setAttribute("aria-label", "Start " + (ex.title || ex.id) + " with the chosen music");
    start.addEventListener("click", function () { startExercise(ex, select.value); });
    li.appendChild(select);
    li.appendChild(start);
  }

  function renderExercises(list) {
    exercises = list || [];
    var ul = $("exercise-list");
    ul.textContent = "";
    exercises.forEach(function (ex) {
      // One compact row each: the title, its length and summary, and Start. The length
      // field above the list serves them all.
      var li = document.createElement("li");
      li.dataset.id = ex.id;
      var info = document.createElement("div");
      info.className = "ex-info";
      var h = document.createElement("h3");
      h.textContent = ex.title || ex.id;
      var meta = document.createElement("p");
      meta.className = "ex-meta";
      var len = document.createElement("span");
      len.className = "ex-length-text";
      len.textContent = lengthText(ex);
      if (ex.estimated) len.title = "An estimate: the speech is made when it first plays.";
      meta.appendChild(len);
      if (ex.summary) {
        var summary = document.createElement("span");
        summary.className = "ex-summary";
        summary.textContent = ex.summary;
        meta.appendChild(document.createTextNode(" · "));
        meta.appendChild(summary);
      }
      info.appendChild(h);
      info.appendChild(meta);
      li.appendChild(info);
      if (ex.needs_music) {
        // an exercise with a music step plays a piece from the station's music folder, or is not offered
        musicRow(li, ex);
        ul.appendChild(li);
        return;
      }
      var start = document.createElement("button");
      start.type = "button";
      start.className = "primary";
      start.textContent = "Start";
      start.setAttribute("aria-label", "Start " + (ex.title || ex.id));
      start.addEventListener("click", function () { startExercise(ex); });
      li.appendChild(downloadLink(ex));
      li.appendChild(start);
      ul.appendChild(li);
    });
    $("ex-empty").hidden = exercises.length > 0;
    setText($("ex-empty"), exercises.length ? "" : "No exercises were found.");
    var select = $("sched-exercise");
    var chosen = select.value;
    select.textContent = "";
    exercises.forEach(function (ex) {
      var o = document.createElement("option");
      o.value = ex.id;
      o.textContent = ex.title || ex.id;
      select.appendChild(o);
    });
    if (chosen) select.value = chosen;
    if (state) render(state);
    if (schedules) renderSchedules(schedules);   // their labels name the exercises' titles
  }

  // ---- schedules -----------------------------------------------------------

  function titleOf(id) {
    for (var i = 0; i < exercises.length; i++) if (exercises[i].id === id) return exercises[i].title;
    return id;
  }

  var schedules = null;       // the last list of schedules, drawn again once the titles are known

  function renderSchedules(list) {
    schedules = list;
    var ul = $("schedule-list");
    ul.textContent = "";
    (list || []).forEach(function (sc) {
      var li = document.createElement("li");
      li.dataset.name = sc.name;
      var text = document.createElement("div");
      text.className = "sched-text";
      var what = document.createElement("p");
      what.className = "sched-what";
      what.textContent = (sc.at || "") + ", " + daysText(sc.days) + ": " + titleOf(sc.exercise || sc.id);
      text.appendChild(what);
      if (sc.inactive || sc.next) {
        // A timer no systemd runs will not fire: say so rather than promise a next time.
        var next = document.createElement("p");
        next.className = sc.inactive ? "sched-next sched-inactive" : "sched-next";
        next.textContent = sc.inactive || ("next: " + sc.next);
        text.appendChild(next);
      }
      var remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "Remove";
      remove.setAttribute("aria-label", "Remove the schedule " + what.textContent);
      remove.addEventListener("click", function () {
        hideAlert();
        api("/api/schedules/remove", { name: sc.name }).then(renderSchedules, showError);
      });
      li.appendChild(text);
      li.appendChild(remove);
      ul.appendChild(li);
    });
    var empty = !list || list.length === 0;
    $("sched-empty").hidden = !empty;
    setText($("sched-empty"), empty ? "No schedules yet." : "");
  }

  function addSchedule(e) {
    e.preventDefault();
    hideAlert();
    var form = $("schedule-form");
    var days = [];
    var boxes = form.querySelectorAll('input[name="day"]:checked');
    for (var i = 0; i < boxes.length; i++) days.push(boxes[i].value);
    var at = $("sched-at").value;
    if (!at) { showError({ message: "Choose a time for the schedule." }); return; }
    var body = { id: $("sched-exercise").value, at: at, days: days.join(",") };
    var button = $("sched-add");
    button.disabled = true;
    api("/api/schedules", body).then(function (list) {
      renderSchedules(list);
      for (var j = 0; j < boxes.length; j++) boxes[j].checked = false;
    }, showError).then(function () { button.disabled = false; });
  }

  function loadSchedules() {
    return api("/api/schedules").then(renderSchedules, function (err) {
      if (err && err.status === 404) {
        $("schedules").hidden = true;   // a station without schedules
        return;
      }
      showError(err);
    });
  }

  // ---- recent sessions (the practice log, when the station has one) --------

  function loadLog() {
    return api("/api/log").then(function (entries) {
      var ul = $("log-list");
      ul.textContent = "";
      (entries || []).slice(0, 10).forEach(function (entry) {
        // One practice-log row: when, what, how long, and how it ended
        // (said plainly: a session stopped early is not a failure).
        var li = document.createElement("li");
        var when = String(entry.started || "").replace("T", " ").slice(0, 16);
        var parts = [when, entry.title || titleOf(entry.exercise) || entry.exercise, clock(entry.listened)];
        if (entry.ended && entry.ended !== "completed") parts.push(entry.ending || entry.ended);
        li.textContent = parts.filter(Boolean).join(" · ");
        ul.appendChild(li);
      });
      $("log").hidden = !entries || entries.length === 0;
    }, function () { $("log").hidden = true; });
  }

  // ---- the event stream ----------------------------------------------------

  var loadingExercises = null;

  function loadExercises() {
    // asked at once when the page opens, beside the event stream (not after it)
    if (exercises.length || loadingExercises) return;
    // with the music folder's pieces, for the rows of exercises with music (a station without GET /api/music: none)
    var music = api("/api/music").then(function (list) { pieces = Array.isArray(list) ? list : []; },
                                       function () { pieces = []; });
    loadingExercises = Promise.all([api("/api/exercises"), music])
      .then(function (answers) { renderExercises(answers[0]); }, showError)
      .then(function () { loadingExercises = null; });
  }

  function refresh() {
    loadExercises();
    loadSchedules();
    loadLog();
  }

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = 0;
    if (source) source.close();
    unpaired = false;
    setConn("connecting", "Connecting…");
    var es = new EventSource("/api/events");
    source = es;
    es.onopen = function () {
      // after the station was away (a restart), its exercises may have changed
      if (wasLost) { exercises = []; wasLost = false; }
      retryDelay = 1000;
      setConn("connected", "Connected");
      hideAlert();
      refresh();
    };
    es.onmessage = function (e) {
      var s;
      try { s = JSON.parse(e.data); } catch (err) { return; }
      if (s && typeof s.state === "string") render(s);
    };
    es.onerror = function () {
      if (es !== source) return;
      wasLost = true;
      setConn("lost", "Reconnecting…");
      if (es.readyState === EventSource.CLOSED) {
        // The browser gave up (station down, or it answered 401): ask once
        // to tell the two apart, then try again after a growing pause.
        source = null;
        api("/api/state").then(render, function () {}).then(function () {
          if (unpaired) return;
          retryTimer = setTimeout(connect, retryDelay);
          retryDelay = Math.min(retryDelay * 2, 15000);
        });
      }
    };
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      // A hidden page keeps no connection open (a phone's battery).
      if (source) { source.close(); source = null; }
      clearTimeout(retryTimer);
      if (ticker) { clearInterval(ticker); ticker = 0; }
    } else {
      retryDelay = 1000;
      connect();
    }
  });
  window.addEventListener("online", function () { retryDelay = 1000; connect(); });
  window.addEventListener("pageshow", function (e) { if (e.persisted) connect(); });

  // ---- controls ------------------------------------------------------------

  function wire() {
    ["btn-back", "btn-toggle", "btn-next", "btn-stop"].forEach(function (id) {
      var b = $(id);
      b.addEventListener("click", function () {
        var action = b.dataset.action;
        if (action === "toggle" && state) action = state.state === "paused" ? "resume" : "pause";
        send("/api/" + action);
      });
    });
    $("vol-down").addEventListener("click", function () { send("/api/volume", { db: -2 }); });
    $("vol-up").addEventListener("click", function () { send("/api/volume", { db: 2 }); });
    $("schedule-form").addEventListener("submit", addSchedule);
    $("ex-length").addEventListener("input", updateDownloads);
    $("alert-close").addEventListener("click", function () { $("alert").hidden = true; });
    render({ state: "idle", exercise: null, title: null, elapsed: 0, duration: 0, section: null, text: null, volume_db: 0 });
    connect();
    loadExercises();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();
