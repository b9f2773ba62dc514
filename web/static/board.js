// Live sprint board: listens to the board's event stream and updates the cards in place: only
// the lines that changed are replaced, so a link someone has focused keeps its focus.
// Without this script the page is still complete; it just needs a reload.
(function () {
  "use strict";
  var board = document.getElementById("board");
  if (!board || !window.EventSource) return;
  var live = document.getElementById("live");
  var signage = board.getAttribute("data-signage") === "1";

  function text(el, value) {
    el.textContent = value;
    return el;
  }

  function line(cls, label, value) {
    var p = document.createElement("p");
    p.className = cls;
    if (!value) return p;
    var l = text(document.createElement("span"), label);
    l.className = "label";
    var t = text(document.createElement("span"), value);
    t.className = "text";
    p.appendChild(l);
    p.appendChild(document.createTextNode(" "));
    p.appendChild(t);
    return p;
  }

  function card(c) {
    var a = document.createElement("article");
    a.className = "card board-card";
    a.setAttribute("data-project", c.slug);
    a.appendChild(text(document.createElement("h2"), c.name));
    var where = c.location || "";
    if (c.leads.length) where += (where ? " · " : "") + "led by " + c.leads.join(", ");
    var w = text(document.createElement("p"), where);
    w.className = "where";
    a.appendChild(w);
    a.appendChild(line("now", "Now", c.now || "–"));
    a.appendChild(line("next", "Next", c.next || "–"));
    a.appendChild(line("slot", "Booked", c.next_slot || ""));
    var here = document.createElement("p");
    here.className = "here";
    var n = text(document.createElement("span"), String(c.checked_in));
    n.className = "count";
    here.appendChild(n);
    here.appendChild(document.createTextNode(" checked in at the table"));
    a.appendChild(here);
    if (!signage && c.notes_url && /^https?:\/\//.test(c.notes_url)) {
      var p = document.createElement("p");
      var link = text(document.createElement("a"), "Notes");
      link.className = "notes";
      link.href = c.notes_url;
      p.appendChild(link);
      a.appendChild(p);
    }
    return a;
  }

  // Replaces those children of `old` that differ from the fresh card's.
  function patch(old, fresh) {
    var a = old.children, b = fresh.children;
    if (a.length !== b.length) {
      old.replaceChildren.apply(old, Array.prototype.slice.call(b));
      return;
    }
    for (var i = b.length - 1; i >= 0; i--) {
      if (!a[i].isEqualNode(b[i])) old.replaceChild(b[i], a[i]);
    }
  }

  // Brings the board to `cards`: cards kept are patched, new ones added, gone ones removed,
  // and a card moves only when its place changed.
  function update(cards) {
    var existing = {};
    Array.prototype.forEach.call(board.children, function (el) {
      var slug = el.getAttribute("data-project");
      if (slug === null) {
        if (cards.length) board.removeChild(el);
      } else {
        existing[slug] = el;
      }
    });
    var previous = null;
    cards.forEach(function (c) {
      var fresh = card(c);
      var el = existing[c.slug];
      if (el) {
        patch(el, fresh);
        delete existing[c.slug];
      } else {
        el = fresh;
      }
      var wanted = previous ? previous.nextSibling : board.firstChild;
      if (wanted !== el) board.insertBefore(el, wanted);
      previous = el;
    });
    Object.keys(existing).forEach(function (slug) { board.removeChild(existing[slug]); });
  }

  var source = new EventSource(board.getAttribute("data-stream"));
  source.addEventListener("board", function (e) {
    var state = JSON.parse(e.data);
    update(state.cards);
    if (live) live.textContent = "live";
    cycle();
  });
  source.onerror = function () {
    if (live) live.textContent = "reconnecting…";
  };

  // On a screen, show the cards a screenful at a time when they do not all fit.
  var page = 0;
  function cycle() {
    if (!signage) return;
    var cards = board.children;
    var perPage = Math.max(1, Math.floor(window.innerHeight / 260) * Math.max(1, Math.floor(board.clientWidth / 420)));
    var pages = Math.ceil(cards.length / perPage);
    if (pages <= 1) {
      for (var i = 0; i < cards.length; i++) cards[i].hidden = false;
      return;
    }
    page = page % pages;
    for (var j = 0; j < cards.length; j++) {
      cards[j].hidden = Math.floor(j / perPage) !== page;
    }
  }
  if (signage) {
    setInterval(function () { page += 1; cycle(); }, 10000);
    cycle();
  }
})();
