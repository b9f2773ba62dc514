// Times in the reader's zone: every <time> that names its event's zone (data-zone) and end
// (data-end) gets a second line in the zone the reader chose (the convene_tz cookie) or the
// browser's own, when the clocks differ. Pages are complete without it: the event's own zone
// comes first, and /preferences/zone chooses a zone without JavaScript.
(function () {
  "use strict";
  if (!window.Intl || !Intl.DateTimeFormat) return;
  var chosen = document.cookie.split("; ").filter(function (c) { return c.indexOf("convene_tz=") === 0; })[0];
  var zone = chosen ? decodeURIComponent(chosen.slice(11)) : Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone) return;
  var format;
  try {
    format = new Intl.DateTimeFormat(undefined, {
      weekday: "short", day: "numeric", month: "short", year: "numeric",
      hour: "2-digit", minute: "2-digit", timeZone: zone
    });
  } catch (e) {
    return;
  }
  function clocks(date, tz) {
    return new Intl.DateTimeFormat("en-GB", { timeZone: tz, hour: "2-digit", minute: "2-digit", day: "numeric", month: "numeric", year: "numeric" }).format(date);
  }
  var times = document.querySelectorAll("time[data-zone][data-end]");
  Array.prototype.forEach.call(times, function (t) {
    var home = t.getAttribute("data-zone");
    if (home === zone || t.parentNode.querySelector(".reader-time")) return;
    var start = new Date(t.getAttribute("datetime"));
    var end = new Date(t.getAttribute("data-end"));
    if (isNaN(start) || isNaN(end)) return;
    try {
      if (clocks(start, home) === clocks(start, zone) && clocks(end, home) === clocks(end, zone)) return;
    } catch (e) {
      return;
    }
    var text = format.formatRange ? format.formatRange(start, end) : format.format(start) + " – " + format.format(end);
    var line = document.createElement("span");
    line.className = "reader-time";
    line.textContent = text + " (" + zone + ")";
    t.parentNode.insertBefore(line, t.nextSibling);
  });
})();
