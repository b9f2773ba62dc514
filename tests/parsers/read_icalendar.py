"""Reads an iCalendar file with the PyPI `icalendar` package and expands it with
`recurring-ical-events` (every occurrence between 2000-01-01 and 2200-01-01, as a calendar app
such as Google's shows it), and prints each occurrence as JSON, in the shape read_ical.mjs uses
plus "method" and "parser".

    target/parsers-venv/bin/python tests/parsers/read_icalendar.py FILE.ics [--own-database]

Time zones: icalendar itself does NOT use the file's VTIMEZONE for a TZID it knows: a TZID
such as Europe/Berlin is resolved from its own zone database (zoneinfo, with the tzdata
package), and a VTIMEZONE is only used for a TZID that database does not know. So that the
instants printed test the file's VTIMEZONE components, this reader builds a tzinfo from each
VTIMEZONE with icalendar's own converter (Timezone.to_tz(lookup_tzid=False), which hands the
component to dateutil's tzical) and puts every DTSTART, DTEND, RECURRENCE-ID, RDATE and EXDATE
with that TZID on it, keeping its local time, before expanding. With --own-database it leaves
icalendar's own resolution alone (to see what icalendar alone would read). A TZID with no
VTIMEZONE in the file is printed as {"floating": ...}.

Errors: icalendar keeps a value it cannot parse and notes the problem in the component's
`errors`; any such note, and any exception, counts as a rejection: the script prints it on
stderr and exits 1.
"""

import datetime
import json
import sys
from importlib.metadata import version

import icalendar
import recurring_ical_events

WINDOW = (datetime.datetime(2000, 1, 1), datetime.datetime(2200, 1, 1))
TIMED = ("DTSTART", "DTEND", "RECURRENCE-ID")
LISTS = ("RDATE", "EXDATE")


def rebind(value, zones, missing):
    """The same local time on the tzinfo built from the file's VTIMEZONE for its TZID."""
    tzid = value.params.get("TZID")
    dt = value.dt
    if not tzid or not isinstance(dt, datetime.datetime):
        return
    zone = zones.get(tzid)
    if zone is None:
        missing.add(tzid)
        value.dt = dt.replace(tzinfo=None)
        return
    value.dt = dt.replace(tzinfo=zone)


def use_vtimezones(calendar):
    zones = {str(tz["TZID"]): tz.to_tz(lookup_tzid=False) for tz in calendar.walk("VTIMEZONE")}
    missing = set()
    for event in calendar.walk("VEVENT"):
        for name in TIMED:
            if name in event:
                rebind(event[name], zones, missing)
        for name in LISTS:
            values = event.get(name)
            for value in values if isinstance(values, list) else [values] if values else []:
                for item in value.dts:
                    if "TZID" not in item.params and "TZID" in value.params:
                        item.params["TZID"] = value.params["TZID"]
                    rebind(item, zones, missing)
    return missing


def moment(value):
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            return {"floating": value.isoformat()}
        return {"utc": value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    return {"date": value.isoformat()}


def text(component, name):
    value = component.get(name)
    return None if value is None else str(value)


def main():
    own_database = "--own-database" in sys.argv[2:]
    source = open(sys.argv[1], "rb").read()
    try:
        calendar = icalendar.Calendar.from_ical(source)
    except Exception as error:  # noqa: BLE001 - the library's own message is the point
        sys.exit(f"icalendar could not parse {sys.argv[1]}: {type(error).__name__}: {error}")
    problems = [
        f"{component.name}: {error}" for component in calendar.walk() for error in component.errors
    ]
    if problems:
        sys.exit("icalendar found errors:\n" + "\n".join(problems))
    if not own_database:
        use_vtimezones(calendar)
    method = text(calendar, "METHOD")
    try:
        occurrences = recurring_ical_events.of(calendar, components=["VEVENT"]).between(*WINDOW)
    except Exception as error:  # noqa: BLE001
        sys.exit(f"recurring-ical-events failed on {sys.argv[1]}: {type(error).__name__}: {error}")
    events = []
    for event in occurrences:
        sequence = event.get("SEQUENCE")
        end = event.get("DTEND")
        events.append(
            {
                "uid": text(event, "UID"),
                "summary": text(event, "SUMMARY"),
                "description": text(event, "DESCRIPTION"),
                "location": text(event, "LOCATION"),
                "status": text(event, "STATUS"),
                "sequence": None if sequence is None else int(sequence),
                "start": moment(event["DTSTART"].dt),
                "end": moment(end.dt if end is not None else None),
                "method": method,
            }
        )
    parser = (
        f"icalendar {version('icalendar')} + recurring-ical-events "
        f"{version('recurring-ical-events')}"
        + (" (own zone database)" if own_database else " (VTIMEZONE)")
    )
    print(json.dumps({"events": events, "parser": parser}))


if __name__ == "__main__":
    main()
