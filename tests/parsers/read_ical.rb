# Reads an iCalendar file with the Ruby `icalendar` gem (2.8, Debian's ruby-icalendar, which
# uses ice_cube for recurrence) and prints its events as JSON, in the shape read_ical.mjs uses
# plus "method" and "parser".
#
#     ruby tests/parsers/read_ical.rb FILE.ics        (Debian: /usr/bin/ruby)
#
# Time zones: Icalendar::Calendar.parse keeps every VTIMEZONE it has read in a timezone store
# and, for a DATE-TIME with TZID, asks that VTIMEZONE for the offset
# (Icalendar::Timezone#offset_for_local, which walks the STANDARD/DAYLIGHT observances with
# ice_cube). So the instants printed test the file's own VTIMEZONE components. The library
# would use ActiveSupport's zone database instead if ActiveSupport were loadable; this script
# refuses to run then, because it would no longer test the VTIMEZONE.
# A TZID whose VTIMEZONE the parser has not seen yet (none in the file, or one written after the
# event) is left as a bare local time that Ruby would take for UTC: printed as {"floating": ...}.
#
# Errors: a file the library raises on makes the script print the error on stderr and exit 1.
# Known: offset_for_local raises "comparison of IceCube::Occurrence with nil failed" (or
# "undefined method `>' for nil") for an event before the DTSTART of some observance of its
# VTIMEZONE (with or without RRULE) unless that is the only observance, e.g. Convene's explicit
# observances for an event before the last change they list.
# Events are printed as written (no RRULE expansion), like read_ical.mjs; "end" is null for an
# event without DTEND, since the library derives no end from DURATION.

require "json"
require "stringio" # icalendar 2.8 uses StringIO without requiring it
require "time"
require "icalendar"

if defined?(ActiveSupport::TimeZone)
  warn "ActiveSupport is loaded: icalendar would resolve TZID from its zone database, not the VTIMEZONE"
  exit 2
end

def local_text(value)
  value.strftime("%Y-%m-%dT%H:%M:%S")
end

def moment(value)
  return nil if value.nil?
  case value
  when Icalendar::Values::Date
    { date: value.value.strftime("%Y-%m-%d") }
  when Icalendar::Values::DateTime
    tzid = Array(value.ical_params["tzid"]).first
    inner = value.value
    if value.tz_utc || inner.is_a?(::Time)
      # UTC ("Z"), or a local time that offset_for_local has given the VTIMEZONE's offset.
      { utc: inner.to_time.utc.strftime("%Y-%m-%dT%H:%M:%SZ") }
    elsif tzid.nil?
      { floating: local_text(inner) }
    else
      { floating: local_text(inner), unresolved_tzid: tzid }
    end
  else
    raise "unexpected value #{value.class} for a start or end"
  end
end

def text(value)
  value.nil? ? nil : value.to_s
end

begin
  source = File.read(ARGV.fetch(0), mode: "rb").force_encoding("UTF-8")
  calendars = Icalendar::Calendar.parse(source)
rescue StandardError => e
  warn "icalendar #{Icalendar::VERSION} could not read #{ARGV[0]}: #{e.class}: #{e.message}"
  warn e.backtrace.first(5).map { |line| "    #{line}" }.join("\n")
  exit 1
end
if calendars.empty?
  warn "icalendar #{Icalendar::VERSION} found no VCALENDAR in #{ARGV[0]}"
  exit 1
end

events = calendars.flat_map do |calendar|
  method = calendar.ip_method.nil? ? nil : calendar.ip_method.to_s
  calendar.events.map do |event|
    {
      uid: text(event.uid),
      summary: text(event.summary),
      description: text(event.description),
      location: text(event.location),
      status: text(event.status),
      sequence: event.sequence.nil? ? nil : event.sequence.to_i,
      start: moment(event.dtstart),
      end: moment(event.dtend),
      method: method,
    }
  end
end
puts JSON.generate({ events: events, parser: "ruby icalendar #{Icalendar::VERSION}" })
