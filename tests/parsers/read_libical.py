"""Reads an iCalendar file with libical 3 through GObject introspection (ICalGLib, the binding
Evolution and GNOME Calendar use) and prints its events as JSON, in the shape read_ical.mjs uses
plus "method" and "parser".

Run it with Debian's Python, which has python3-gi and gir1.2-ical-3.0:
    /usr/bin/python3 tests/parsers/read_libical.py FILE.ics

Time zones: a time with TZID is converted with an ICalGLib.Timezone that libical builds from the
file's own VTIMEZONE (Component.get_timezone on the VCALENDAR, i.e. icalcomponent_get_timezone),
so the instants printed test those VTIMEZONE components. libical itself, in
Component.get_dtstart, would fall back to its built-in zone database (the system zoneinfo) when
the file has no VTIMEZONE for a TZID; this reader does not: such a time is printed as
{"floating": ...} so that a missing VTIMEZONE shows up as a difference.

Errors: libical does not refuse a bad file; it keeps what it can and puts X-LIC-ERROR
properties where it dropped something. Any X-LIC-ERROR (and a file it cannot parse at all)
counts as a rejection here: the script prints libical's messages on stderr and exits 1.
Events are printed as written (no RRULE expansion), like read_ical.mjs.
"""

import datetime
import json
import sys

import gi

gi.require_version("ICalGLib", "3.0")
from gi.repository import ICalGLib  # noqa: E402

Kind = ICalGLib.ComponentKind
Prop = ICalGLib.PropertyKind


def library_name():
    for line in open("/proc/self/maps", encoding="utf-8"):
        path = line.split()[-1]
        if "/libical.so." in path:
            return "libical " + path.rsplit("libical.so.", 1)[1] + " (ICalGLib)"
    return "libical (ICalGLib " + ICalGLib._version + ")"


def errors(component):
    """libical's X-LIC-ERROR messages anywhere in the component tree."""
    found = []
    prop = component.get_first_property(Prop.XLICERROR_PROPERTY)
    while prop is not None:
        found.append(f"{component.isa().value_nick}: {prop.get_xlicerror()}")
        prop = component.get_next_property(Prop.XLICERROR_PROPERTY)
    child = component.get_first_component(Kind.ANY_COMPONENT)
    while child is not None:
        found.extend(errors(child))
        child = component.get_next_component(Kind.ANY_COMPONENT)
    return found


def text(component, kind):
    """The unescaped value of a TEXT property (libical's typed getters decode it), or None."""
    prop = component.get_first_property(kind)
    if prop is None:
        return None
    getter = {
        Prop.UID_PROPERTY: prop.get_uid,
        Prop.SUMMARY_PROPERTY: prop.get_summary,
        Prop.DESCRIPTION_PROPERTY: prop.get_description,
        Prop.LOCATION_PROPERTY: prop.get_location,
    }[kind]
    return getter()


def moment(calendar, event, kind):
    prop = event.get_first_property(kind)
    if prop is None:
        if kind == Prop.DTEND_PROPERTY:
            # No DTEND: libical derives the end from DURATION (or DTSTART).
            value = event.get_dtend()
            if value.is_null_time():
                return None
            start = event.get_first_property(Prop.DTSTART_PROPERTY)
            return convert(calendar, value, start and start.get_parameter_as_string("TZID"))
        return None
    value = prop.get_dtstart() if kind == Prop.DTSTART_PROPERTY else prop.get_dtend()
    return convert(calendar, value, prop.get_parameter_as_string("TZID"))


def convert(calendar, value, tzid):
    if value.is_date():
        return {"date": f"{value.get_year():04}-{value.get_month():02}-{value.get_day():02}"}
    if value.is_utc():
        zone = ICalGLib.Timezone.get_utc_timezone()
    elif tzid:
        zone = calendar.get_timezone(tzid)  # built from the file's VTIMEZONE, or None
        if zone is None:
            zone = False
    else:
        zone = False
    if zone is False:
        return {
            "floating": f"{value.get_year():04}-{value.get_month():02}-{value.get_day():02}T"
            f"{value.get_hour():02}:{value.get_minute():02}:{value.get_second():02}"
        }
    seconds = value.as_timet_with_zone(zone)
    instant = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return {"utc": instant.strftime("%Y-%m-%dT%H:%M:%SZ")}


def main():
    source = open(sys.argv[1], encoding="utf-8", newline="").read()
    try:
        calendar = ICalGLib.Component.new_from_string(source)
    except TypeError as error:  # "constructor returned NULL": nothing parsed
        sys.exit(f"libical could not parse {sys.argv[1]}: {error}")
    if calendar.isa() != Kind.VCALENDAR_COMPONENT:
        sys.exit(f"libical: expected a VCALENDAR, got {calendar.isa().value_nick}")
    problems = errors(calendar)
    if problems:
        sys.exit("libical rejected parts of the file:\n" + "\n".join(problems))
    method_prop = calendar.get_first_property(Prop.METHOD_PROPERTY)
    method = method_prop.get_value_as_string() if method_prop is not None else None
    events = []
    event = calendar.get_first_component(Kind.VEVENT_COMPONENT)
    while event is not None:
        status = event.get_first_property(Prop.STATUS_PROPERTY)
        sequence = event.get_first_property(Prop.SEQUENCE_PROPERTY)
        events.append(
            {
                "uid": text(event, Prop.UID_PROPERTY),
                "summary": text(event, Prop.SUMMARY_PROPERTY),
                "description": text(event, Prop.DESCRIPTION_PROPERTY),
                "location": text(event, Prop.LOCATION_PROPERTY),
                "status": status.get_value_as_string() if status is not None else None,
                "sequence": sequence.get_sequence() if sequence is not None else None,
                "start": moment(calendar, event, Prop.DTSTART_PROPERTY),
                "end": moment(calendar, event, Prop.DTEND_PROPERTY),
                "method": method,
            }
        )
        event = calendar.get_next_component(Kind.VEVENT_COMPONENT)
    print(json.dumps({"events": events, "parser": library_name()}))


if __name__ == "__main__":
    main()
