"""Reads an iCalendar file with the strict `ical` package and prints its events as JSON.

Used by Convene's integration tests: the feed must parse, and the instants read here must be
the ones Convene meant. Timed starts and ends are printed as UTC instants, dates as dates.
"""

import datetime
import json
import sys

from ical.calendar_stream import IcsCalendarStream


def moment(value):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            return {"floating": value.isoformat()}
        return {"utc": value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    return {"date": value.isoformat()}


def main():
    text = open(sys.argv[1], encoding="utf-8", newline="").read()
    calendar = IcsCalendarStream.calendar_from_ics(text)
    events = []
    for event in calendar.events:
        events.append(
            {
                "uid": event.uid,
                "summary": event.summary,
                "description": event.description,
                "location": event.location,
                "status": str(event.status.value) if event.status else None,
                "sequence": event.sequence,
                "start": moment(event.dtstart),
                "end": moment(event.dtend),
                "url": str(event.url) if getattr(event, "url", None) else None,
            }
        )
    print(json.dumps({"events": events, "timezones": [tz.tz_id for tz in calendar.timezones]}))


if __name__ == "__main__":
    main()
