// The chapter editor: edit a sentence, render it again, approve it, go back to an earlier take.
// Changes go through the JSON API; the project's live events say when to re-read the rows shown,
// which are then updated in place, so a new take appears without a reload. Plain JS, no build.
(function () {
  "use strict";

  var ENDED = ["done", "failed", "cancelled"];  // a render may start again (not "attention")
  var root, rows, template, statusLine, csrf;
  var lastKey = null;       // the chapter's state as last seen on the event stream
  var renderWanted = false; // a change was saved while a render ran: render once that one ends
  var reading = null, readAgain = false;
  var player = new Audio(); // plays earlier takes

  function toast(message, level) {
    statusLine.textContent = message;
    if (window.Voxflow) window.Voxflow.toast({ message: message, level: level || "info" });
  }

  // The API answers JSON; a refusal's `detail` says why. The page's CSRF token goes along, as
  // the API asks of signed-in pages.
  function api(method, url, body) {
    var init = {
      method: method,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf },
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.ok) return data;
        var error = new Error(data.detail || "the server answered " + response.status);
        error.status = response.status;
        throw error;
      });
    });
  }

  function segmentUrl(index) {
    return "/api/projects/" + root.dataset.project + "/chapters/" + root.dataset.chapter +
      "/segments/" + index;
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function button(label, hidden, attrs) {  // visible label plus words for screen readers
    var node = el("button", Object.assign({ type: "button", class: "small" }, attrs || {}), label);
    if (hidden) node.appendChild(el("span", { class: "visually-hidden" }, hidden));
    return node;
  }

  function seconds(value) {  // as the server's `seconds` filter writes it
    return value === null || value === undefined ? "–" : value.toFixed(2) + "s";
  }

  function role(tr, name) { return tr.querySelector("[data-role=" + name + "]"); }
  function action(tr, name) { return tr.querySelector("[data-action=" + name + "]"); }

  // Every cell that can change, from one SegmentOut (the same cells _segment.html renders).
  function fill(tr, s) {
    tr.id = "segment-" + s.index;
    tr.dataset.index = s.index;
    tr.className = "status-" + s.status;
    role(tr, "index").textContent = s.index;
    tr.querySelectorAll("[data-n]").forEach(function (n) {
      n.textContent = n.dataset.n.replace("#", s.index);
    });
    if (!tr.dataset.editing) role(tr, "text").textContent = s.text;
    var source = role(tr, "source");
    source.hidden = !s.edited;
    source.textContent = "Imported text: " + (s.source_text || "");
    var error = role(tr, "error");
    error.hidden = !s.error;
    error.textContent = s.error || "";
    action(tr, "edit").disabled = s.approved;
    action(tr, "edit").title = s.approved ? "Approved: unlock it to edit" : "";

    var badges = role(tr, "badges");
    badges.textContent = "";
    var attempts = s.attempts + " attempt" + (s.attempts === 1 ? "" : "s");
    badges.appendChild(el("span", { class: "badge state-" + s.status, title: attempts }, s.status));
    if (s.approved) badges.appendChild(el("span", { class: "badge state-done", "data-flag": "approved" }, "approved"));
    if (s.edited) badges.appendChild(el("span", { class: "badge state-queued", "data-flag": "edited" }, "edited"));
    if (s.qa && s.qa.flagged) badges.appendChild(el("span", { class: "badge state-failed", "data-flag": "flagged", title: s.qa.reason }, "flagged"));
    if (s.stale) badges.appendChild(el("span", { class: "badge", "data-flag": "stale" }, "awaiting render"));

    var cell = role(tr, "audio");
    var audio = cell.querySelector("audio");
    if (s.audio_url) {
      if (!audio) {
        audio = el("audio", { controls: "", preload: "none" });
        cell.insertBefore(audio, cell.firstChild);
      }
      audio.setAttribute("aria-label", "Segment " + s.index + " audio");
      // The URL carries a digest of the audio key: a new take is a new URL, never a cached one.
      if (audio.getAttribute("src") !== s.audio_url) audio.setAttribute("src", s.audio_url);
    } else if (audio) {
      audio.remove();
    }
    role(tr, "time").textContent = s.start_s !== null && s.start_s !== undefined
      ? seconds(s.start_s) + " – " + seconds(s.end_s) : seconds(s.duration_s);

    var qa = role(tr, "qa");
    qa.textContent = "";
    if (s.qa) {
      qa.appendChild(el("b", {}, "WER " + s.qa.wer.toFixed(2)));
      qa.appendChild(document.createTextNode(" · " + (s.qa.reason || "passes")));
      qa.appendChild(el("div", { class: "muted" }, "Heard: “" + s.qa.heard + "”"));
    } else {
      qa.appendChild(el("span", { class: "muted" }, "not checked"));
    }

    action(tr, "retake").disabled = s.approved;
    action(tr, "approve").hidden = s.approved;
    action(tr, "approve").disabled = s.status !== "done";
    action(tr, "unlock").hidden = !s.approved;

    var takes = tr.querySelector("details.takes");
    if (takes.open && tr.dataset.audio !== (s.audio_url || "")) loadTakes(tr);
    tr.dataset.audio = s.audio_url || "";
  }

  function loadTakes(tr) {
    var list = role(tr, "take-list");
    var index = tr.dataset.index;
    return api("GET", segmentUrl(index) + "/takes").then(function (takes) {
      list.textContent = "";
      if (!takes.length) list.appendChild(el("li", { class: "muted" }, "No renderings recorded yet."));
      takes.forEach(function (t) {
        var item = el("li", { "data-take": t.number });
        item.appendChild(el("div", {}, "Take " + t.number + " · made " + new Date(t.created_at).toLocaleString()));
        item.appendChild(el("div", { class: "muted" }, "“" + t.text + "”"));
        item.appendChild(el("div", {}, t.wer === null ? "QA: not checked"
          : "QA: WER " + t.wer.toFixed(2) + " · " + (t.reason || "passes")));
        var play = button("Play", " take " + t.number + " of segment " + index,
          { "data-action": "play", "data-url": t.audio_url });
        item.appendChild(play);
        if (t.in_use) {
          item.appendChild(el("span", { class: "badge state-done" }, "in use"));
        } else {
          item.appendChild(document.createTextNode(" "));
          item.appendChild(button("Use", " take " + t.number + " of segment " + index,
            { "data-action": "use", "data-take": t.number }));
        }
        list.appendChild(item);
      });
    }).catch(function (error) {
      list.textContent = "";
      list.appendChild(el("li", { class: "error" }, error.message));
    });
  }

  function openEditor(tr) {
    if (tr.dataset.editing) return;
    var text = role(tr, "text");
    var form = el("form", { class: "editor" });
    var label = el("label", {}, "New text for segment " + tr.dataset.index);
    var area = el("textarea", { name: "text", rows: "3", maxlength: "2000", required: "" });
    area.value = text.textContent;
    label.appendChild(area);
    form.appendChild(label);
    var buttons = el("div", { class: "actions" });
    buttons.appendChild(el("button", { type: "submit", class: "small primary", "data-action": "save" }, "Save"));
    buttons.appendChild(el("button", { type: "button", class: "small", "data-action": "cancel" }, "Cancel"));
    form.appendChild(buttons);
    form.appendChild(el("p", { class: "error small", role: "alert", "data-role": "problem", hidden: "" }));
    area.addEventListener("keydown", function (event) {
      if (event.key === "Escape") closeEditor(tr);
    });
    tr.dataset.editing = "1";
    text.hidden = true;
    action(tr, "edit").hidden = true;
    text.after(form);
    area.focus();
  }

  function closeEditor(tr) {
    var form = tr.querySelector("form.editor");
    if (form) form.remove();
    delete tr.dataset.editing;
    role(tr, "text").hidden = false;
    action(tr, "edit").hidden = false;
    action(tr, "edit").focus();
  }

  // Ask for a render of what changed; while one runs (409), ask again once it has ended.
  function startRender() {
    return api("POST", "/api/projects/" + root.dataset.project + "/rerender").then(function (out) {
      renderWanted = false;
      toast("Rendering the changes (" + out.message + ").");
    }).catch(function (error) {
      if (error.status === 409) {
        renderWanted = true;
        toast("A render is running; your change is rendered as soon as it ends.");
      } else {
        toast("The change is saved, but rendering could not start: " + error.message, "error");
      }
    });
  }

  // One change to a segment (`send` makes the request): the row shows the answer, then (if
  // asked) the project renders.
  function change(tr, send, done, render) {
    if (tr.dataset.busy) return Promise.resolve();  // one change at a time per row
    tr.dataset.busy = "1";
    tr.classList.add("busy");
    tr.setAttribute("aria-busy", "true");
    return send().then(function (segment) {
      fill(tr, segment);
      toast(done);
      if (render) return startRender();
    }).catch(function (error) {
      var problem = tr.querySelector("[data-role=problem]");
      if (problem) {
        problem.hidden = false;
        problem.textContent = error.message;
      }
      toast(error.message, "error");
    }).then(function () {
      delete tr.dataset.busy;
      tr.classList.remove("busy");
      tr.removeAttribute("aria-busy");
    });
  }

  function onClick(event) {
    var target = event.target.closest("button[data-action]");
    if (!target || !rows.contains(target)) return;
    var tr = target.closest("tr");
    var index = tr.dataset.index;
    var url = segmentUrl(index);
    var name = "Segment " + index;
    function post(path) { return function () { return api("POST", url + path); }; }
    switch (target.dataset.action) {
      case "edit": openEditor(tr); break;
      case "cancel": closeEditor(tr); break;
      case "approve":
        change(tr, post("/approve"), name + " approved: its audio is locked.");
        break;
      case "unlock":
        change(tr, post("/unlock"), name + " unlocked: a render may change it.");
        break;
      case "retake":
        change(tr, post("/retake"), name + ": another take is asked for.", true);
        break;
      case "use":
        change(tr, post("/takes/" + target.dataset.take + "/use"),
          name + " uses take " + target.dataset.take + " (approved).", true)
          .then(function () { loadTakes(tr); });
        break;
      case "play":
        player.src = target.dataset.url;
        player.play().catch(function (error) { toast("Could not play the take: " + error.message, "error"); });
        break;
    }
  }

  function onSubmit(event) {
    var form = event.target.closest("form.editor");
    if (!form) return;
    event.preventDefault();
    var tr = form.closest("tr");
    var text = form.elements.text.value;
    var index = tr.dataset.index;
    change(tr, function () {
      return api("POST", segmentUrl(index) + "/text", { text: text }).then(function (segment) {
        closeEditor(tr);
        return segment;
      });
    }, "Segment " + index + " saved; rendering it again.", true);
  }

  // Re-read the rows shown (same page, same filter) and update them in place; rows that left
  // the filter go, rows that joined it come, in reading order. Reads never overlap.
  function refresh() {
    if (reading) { readAgain = true; return; }
    reading = api("GET", root.dataset.segments).then(function (page) {
      var keep = {};
      var previous = null;
      page.items.forEach(function (s) {
        var tr = document.getElementById("segment-" + s.index);
        if (!tr) tr = template.content.firstElementChild.cloneNode(true);
        fill(tr, s);
        var next = previous ? previous.nextElementSibling : rows.firstElementChild;
        if (next !== tr) rows.insertBefore(tr, next);
        previous = tr;
        keep[s.index] = true;
      });
      Array.prototype.slice.call(rows.children).forEach(function (tr) {
        if (!keep[tr.dataset.index] && !tr.dataset.editing) tr.remove();
      });
    }).catch(function () { /* the next event reads again */ }).then(function () {
      reading = null;
      if (readAgain) { readAgain = false; refresh(); }
    });
  }

  function updateCard(c, stateChanged) {
    var card = document.getElementById("chapter-" + c.index);
    if (!card || !window.Voxflow) return;
    if (stateChanged || (c.audio && !card.querySelector("audio"))) {
      window.Voxflow.replaceFrom("/projects/" + root.dataset.project + "/_chapters/" + c.index, card);
      return;
    }
    var fillBar = card.querySelector("[data-role=fill]");
    if (fillBar) fillBar.style.width = c.percent + "%";
    var label = card.querySelector("[data-role=label]");
    if (label) label.textContent = window.Voxflow.label(c.done, c.total, c.percent, c.failed);
  }

  function follow() {
    var source = new EventSource(root.dataset.events);
    var chapterState = null;
    source.addEventListener("notice", function (event) {
      if (window.Voxflow) window.Voxflow.toast(JSON.parse(event.data));
    });
    source.addEventListener("progress", function (event) {
      var data = JSON.parse(event.data);
      var p = data.project;
      var c = data.chapters.filter(function (ch) { return String(ch.index) === root.dataset.chapter; })[0];
      if (!c) return;
      var key = [p.state, c.state, c.done, c.failed, c.audio, c.updated_at].join("/");
      if (key === lastKey) return;
      lastKey = key;
      root.dataset.projectState = p.state;  // tests and styles can see where the render is
      updateCard(c, chapterState !== null && chapterState !== c.state);
      chapterState = c.state;
      refresh();
      if (renderWanted && ENDED.indexOf(p.state) >= 0) startRender();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    root = document.getElementById("studio");
    if (!root) return;
    rows = root.querySelector("#segments tbody");
    template = document.getElementById("segment-row");
    statusLine = document.getElementById("studio-status");
    csrf = root.dataset.csrf;
    rows.addEventListener("click", onClick);
    rows.addEventListener("submit", onSubmit);
    rows.addEventListener("toggle", function (event) {  // toggle does not bubble: captured
      if (event.target.matches("details.takes") && event.target.open) {
        loadTakes(event.target.closest("tr"));
      }
    }, true);
    rows.querySelectorAll("tr").forEach(function (tr) {
      var audio = tr.querySelector("audio");
      tr.dataset.audio = audio ? audio.getAttribute("src") : "";
    });
    if (window.EventSource) follow();
  });
})();
