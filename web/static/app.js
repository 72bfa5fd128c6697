// Voxflow pages: live progress over server-sent events, notices, and subtitle captions.
// Plain JS, no build step. The server renders every page; this only keeps it current.
(function () {
  "use strict";

  function toast(notice) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var el = document.createElement("div");
    el.className = "toast " + (notice.level || "info");
    el.setAttribute("role", "status");
    el.textContent = notice.message;
    box.appendChild(el);
    while (box.children.length > 5) box.removeChild(box.firstChild);
    setTimeout(function () { el.remove(); }, 20000);
  }

  function pct(value) {  // 58.1 → "58.1", 100 → "100": as the server renders it
    return Number(value).toFixed(1).replace(/\.0$/, "");
  }

  function label(done, total, percent, failed) {
    return done + " / " + total + " segments · " + pct(percent) + "%" + (failed ? " · " + failed + " failed" : "");
  }

  function replaceFrom(url, target) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) return;
      return r.text().then(function (html) {
        var tpl = document.createElement("template");
        tpl.innerHTML = html.trim();
        var fresh = tpl.content.firstElementChild;
        if (target.tagName === "SECTION") { target.innerHTML = html; } else if (fresh) { target.replaceWith(fresh); }
        wireCaptions(document);
      });
    });
  }

  function wireCaptions(root) {
    root.querySelectorAll("audio").forEach(function (audio) {
      if (audio.dataset.wired) return;
      audio.dataset.wired = "1";
      var track = audio.textTracks && audio.textTracks[0];
      var caption = audio.parentElement.querySelector("[data-role=caption]");
      if (!track || !caption) return;
      track.mode = "hidden";
      track.addEventListener("cuechange", function () {
        var cue = track.activeCues && track.activeCues[0];
        caption.textContent = cue ? cue.text : "";
      });
    });
  }

  function watch(root) {
    var projectId = root.dataset.project;
    var source = new EventSource(root.dataset.events);
    var projectState = root.dataset.key;

    source.addEventListener("notice", function (event) { toast(JSON.parse(event.data)); });
    source.addEventListener("progress", function (event) {
      var data = JSON.parse(event.data);
      var p = data.project;
      var bar = document.getElementById("project-progress");
      if (bar) {
        bar.querySelector(".fill").style.width = p.percent + "%";
        bar.setAttribute("aria-valuenow", p.percent);
        bar.classList.toggle("has-failed", p.failed > 0);
      }
      var text = document.getElementById("project-progress-label");
      if (text) text.innerHTML = "<b>" + pct(p.percent) + "%</b> · " + label(p.done, p.total, p.percent, p.failed).replace(/ · [0-9.]+%/, "");
      var summaryKey = p.state + "/" + (p.started ? "yes" : "no") + "/" + p.book + "/" + p.manifest;
      if (summaryKey !== projectState) {
        projectState = summaryKey;
        replaceFrom("/projects/" + projectId + "/_summary", document.getElementById("summary"));
      }
      var section = document.getElementById("chapters");
      data.chapters.forEach(function (c) {
        var card = document.getElementById("chapter-" + c.index);
        if (!card) {  // chapters appear once the import has stored them
          card = document.createElement("article");
          card.id = "chapter-" + c.index;
          card.dataset.state = "";
          ["importing", "preview-table"].forEach(function (id) {
            var el = document.getElementById(id);
            if (el) el.remove();
          });
          section.appendChild(card);
        }
        if (card.dataset.state !== c.state || (c.audio && !card.querySelector("audio"))) {
          card.dataset.state = c.state;
          replaceFrom("/projects/" + projectId + "/_chapters/" + c.index, card);
          return;
        }
        var fill = card.querySelector("[data-role=fill]");
        if (fill) fill.style.width = c.percent + "%";
        var lab = card.querySelector("[data-role=label]");
        if (lab) lab.textContent = label(c.done, c.total, c.percent, c.failed);
      });
    });
  }

  window.Voxflow = { toast: toast, replaceFrom: replaceFrom, label: label };  // studio.js uses them

  document.addEventListener("DOMContentLoaded", function () {
    wireCaptions(document);
    var root = document.getElementById("project");
    if (root && root.dataset.events && window.EventSource) watch(root);
  });
})();
