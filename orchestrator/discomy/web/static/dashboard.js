// Discomy's dashboard: applies the server's live events to the page (no framework).
// Each event is one campaign's new counts, and on its own page its tiers and the
// nodes that changed; the server renders the bars (SVG), this sets text and classes.
(function () {
  "use strict";
  var body = document.body;
  if (!body.dataset.live || !window.EventSource) { return; }
  var campaign = body.dataset.campaign;
  var badge = document.getElementById("live");
  var url = "/events" + (campaign ? "?campaign=" + encodeURIComponent(campaign) : "");
  // what moved between the page being made and it listening comes first
  if (campaign && body.dataset.version) { url += "&since=" + encodeURIComponent(body.dataset.version); }
  var source = new EventSource(url);
  var GROUPS = ["done", "running", "failed", "quarantined", "waiting"];

  function status(on, text) {
    if (!badge) { return; }
    badge.className = "live " + (on ? "on" : "off");
    badge.textContent = text;
  }
  function setState(el, state) {
    el.textContent = state;
    el.className = "state st-" + state;
  }
  function counts(scope, groups) {
    GROUPS.forEach(function (g) {
      scope.querySelectorAll('[data-count="' + g + '"]').forEach(function (el) {
        if (el.closest("[data-cid], tr[id^='tier-']") === scope) { el.textContent = groups[g]; }
      });
    });
  }
  function field(scope, name) { return scope.querySelector('[data-field="' + name + '"]'); }

  function applyCampaign(c) {
    document.querySelectorAll('[data-cid="' + c.id + '"]').forEach(function (scope) {
      var el = field(scope, "state"); if (el) { setState(el, c.state); }
      el = field(scope, "bar"); if (el) { el.innerHTML = c.bar; }
      el = field(scope, "progress"); if (el) { el.textContent = c.progress; }
      el = field(scope, "eta"); if (el) { el.textContent = c.eta; }
      el = field(scope, "eta_basis"); if (el) { el.textContent = c.eta_basis; }
      el = field(scope, "total"); if (el) { el.textContent = c.total; }
      counts(scope, c.groups);
    });
    (c.tiers || []).forEach(function (t) {
      var row = document.getElementById("tier-" + t.tier);
      if (!row) { return; }
      var bar = field(row, "bar"); if (bar) { bar.innerHTML = t.bar; }
      counts(row, t.groups);
    });
    if (c.timeline) {
      var chart = document.getElementById("timeline");
      if (chart) { chart.innerHTML = c.timeline; }
    }
    if (c.nodes && c.nodes.length) {
      var crit = {};
      document.querySelectorAll("li[data-crit]").forEach(function (li) { crit[li.dataset.crit] = li; });
      c.nodes.forEach(function (n) {
        var li = crit[n.name];
        if (li) { setState(li.querySelector(".state"), n.state); }
      });
      var rows = {};
      document.querySelectorAll("tr[data-node]").forEach(function (r) { rows[r.dataset.node] = r; });
      c.nodes.forEach(function (n) {
        var row = rows[n.name];
        if (!row) { return; }
        setState(field(row, "state"), n.state);
        field(row, "why").textContent = n.why;
        var explain = field(row, "explain");
        if (explain) {
          explain.hidden = !n.explain_url;
          explain.setAttribute("href", n.explain_url || "#");
        }
        field(row, "age").textContent = n.age;
        field(row, "planned").textContent = n.planned;
        field(row, "ran").textContent = n.ran;
        var task = field(row, "task");
        task.textContent = n.host && n.task ? n.host + " · " : n.host;
        if (n.task) {
          if (n.task_url) {
            var a = document.createElement("a"); a.href = n.task_url; a.textContent = "task " + n.task;
            task.appendChild(a);
          } else { task.textContent = n.task; }
        }
        var log = field(row, "log");
        log.textContent = "";
        if (n.log_url) {
          var l = document.createElement("a"); l.href = n.log_url; l.textContent = "log"; log.appendChild(l);
        }
        row.className = row.className.replace(/\bg-\S+/g, "").replace(/\bchanged\b/g, "").trim() + " g-" + n.group;
        void row.offsetWidth;      // restart the highlight
        row.classList.add("changed");
      });
    }
    body.dataset.updates = String(Number(body.dataset.updates || 0) + 1);
  }

  source.addEventListener("open", function () { status(true, "live"); });
  source.addEventListener("error", function () { status(false, "reconnecting…"); });
  source.addEventListener("campaign", function (ev) {
    var c;
    try { c = JSON.parse(ev.data); } catch (e) { return; }
    applyCampaign(c);
  });
}());
