// Live sprint board: listens to the board's event stream and redraws the cards in place.
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

  var source = new EventSource(board.getAttribute("data-stream"));
  source.addEventListener("board", function (e) {
    var state = JSON.parse(e.data);
    var cards = document.createDocumentFragment();
    state.cards.forEach(function (c) { cards.appendChild(card(c)); });
    board.replaceChildren(cards);
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
