// Reads an iCalendar file with Mozilla's ical.js and prints its events as JSON. ical.js has no
// time zone database of its own: it resolves TZID only through the feed's own VTIMEZONE
// components, registered here, so the instants it reports test those components.
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const text = readFileSync(process.argv[2], "utf8");
const root = new ICAL.Component(ICAL.parse(text));
for (const vtimezone of root.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(vtimezone);
}
const moment = (time) =>
  time.isDate
    ? { date: time.toString() }
    : { utc: time.toJSDate().toISOString().replace(".000Z", "Z") };
const events = root.getAllSubcomponents("vevent").map((component) => {
  const event = new ICAL.Event(component);
  return {
    uid: event.uid,
    summary: event.summary,
    description: event.description,
    location: event.location,
    status: component.getFirstPropertyValue("status"),
    sequence: event.sequence,
    start: moment(event.startDate),
    end: moment(event.endDate),
    tzid: event.startDate.isDate ? null : (event.startDate.zone ? event.startDate.zone.tzid : null),
    alarms: component.getAllSubcomponents("valarm").length,
  };
});
console.log(JSON.stringify({ events }));
