//! What lets an event travel beyond its page: "add to calendar" links for Google Calendar and
//! Outlook.com (their documented "add event" addresses), a map link for its address
//! (OpenStreetMap), the link preview tags (Open Graph, Twitter cards) and the schema.org
//! `Event` that search engines read (JSON-LD).

use chrono::Duration;
use serde_json::{Value, json};
use url::Url;

use actix_web::HttpResponse;

use crate::db::events::{EventRow, Filter, Period};
use crate::domain::EventStatus;
use crate::http::pages::site::PageError;
use crate::links::Links;

/// The ways to put one event in a calendar, each a link.
pub struct AddToCalendar {
    pub google: String,
    pub outlook: String,
    /// The `.ics` file: Apple Calendar, Thunderbird and every other calendar open it.
    pub ics: String,
    /// A subscription that follows later changes.
    pub webcal: String,
}

impl AddToCalendar {
    pub fn of(e: &EventRow, links: &Links) -> Self {
        let page = links.event(&e.slug);
        let details = match e.summary.is_empty() {
            true => page.clone(),
            false => format!("{}\n\n{page}", e.summary),
        };
        let location = crate::ical::items::location_of(e);
        // Whole days end on the day after the last (the end is exclusive in both services).
        let (google_dates, outlook_start, outlook_end) = if e.all_day {
            let after = e.ends_local.date() + Duration::days(1);
            let first = e.starts_local.date();
            (
                format!("{}/{}", first.format("%Y%m%d"), after.format("%Y%m%d")),
                first.format("%Y-%m-%d").to_string(),
                after.format("%Y-%m-%d").to_string(),
            )
        } else {
            let google = |t: chrono::NaiveDateTime| t.format("%Y%m%dT%H%M%SZ").to_string();
            let iso = |t: chrono::NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
            (
                format!("{}/{}", google(e.starts_at), google(e.ends_at)),
                iso(e.starts_at),
                iso(e.ends_at),
            )
        };
        let google = Url::parse_with_params(
            "https://calendar.google.com/calendar/render",
            &[
                ("action", "TEMPLATE"),
                ("text", e.title.as_str()),
                ("dates", google_dates.as_str()),
                ("ctz", e.timezone.as_str()),
                ("details", details.as_str()),
                ("location", location.as_str()),
            ],
        );
        let outlook = Url::parse_with_params(
            "https://outlook.live.com/calendar/0/action/compose",
            &[
                ("rru", "addevent"),
                ("subject", e.title.as_str()),
                ("startdt", outlook_start.as_str()),
                ("enddt", outlook_end.as_str()),
                ("allday", if e.all_day { "true" } else { "false" }),
                ("body", details.as_str()),
                ("location", location.as_str()),
            ],
        );
        Self {
            google: google.map(String::from).unwrap_or_default(),
            outlook: outlook.map(String::from).unwrap_or_default(),
            ics: links.event_feed(&e.slug),
            webcal: Links::webcal(&links.event_feed(&e.slug)),
        }
    }
}

/// A map of where it is: the pin when the organizer gave coordinates, else a search for the
/// address; None for an event with neither.
pub fn map_link(e: &EventRow) -> Option<String> {
    if let Some(geo) = e.geo() {
        let (lat, lon) = (geo.latitude(), geo.longitude());
        return Some(format!(
            "https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}"
        ));
    }
    if e.address.is_empty() {
        return None;
    }
    let place = [e.venue.as_str(), e.address.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    Url::parse_with_params("https://www.openstreetmap.org/search", &[("query", place)])
        .ok()
        .map(String::from)
}

/// The link preview of a page: what a chat or social site shows when the link is pasted.
pub struct Preview {
    pub title: String,
    pub description: String,
    pub url: String,
}

impl Preview {
    pub fn of(e: &EventRow, when: &str, links: &Links) -> Self {
        let description = match e.summary.is_empty() {
            true => when.to_owned(),
            false => format!("{when}. {}", e.summary),
        };
        Self {
            title: e.title.clone(),
            description,
            url: links.event(&e.slug),
        }
    }
}

/// The schema.org `Event` of an event page, as JSON-LD ready to sit inside a `<script>` data
/// block (`<` is written as `\u003c`, so no text can close the element).
pub fn json_ld(e: &EventRow, links: &Links) -> String {
    // With the event's offset, or dates for whole days, as schema.org reads ISO 8601.
    let (start, end) = e
        .window()
        .map(|w| (w.start_text(), w.end_text()))
        .unwrap_or_default();
    let status = match (e.status(), e.revision) {
        (EventStatus::Cancelled, _) => "https://schema.org/EventCancelled",
        (_, 0) => "https://schema.org/EventScheduled",
        // Its time or place changed since it was announced.
        _ => "https://schema.org/EventRescheduled",
    };
    let physical = !e.venue.is_empty() || !e.address.is_empty();
    let mode = match (physical, e.online_url.is_some()) {
        (true, true) => "https://schema.org/MixedEventAttendanceMode",
        (false, true) => "https://schema.org/OnlineEventAttendanceMode",
        _ => "https://schema.org/OfflineEventAttendanceMode",
    };
    let mut locations = Vec::new();
    if physical {
        let mut place = json!({
            "@type": "Place",
            "name": if e.venue.is_empty() { &e.address } else { &e.venue },
            "address": e.address,
        });
        if let Some(geo) = e.geo() {
            place["geo"] = json!({
                "@type": "GeoCoordinates",
                "latitude": geo.latitude(),
                "longitude": geo.longitude(),
            });
        }
        locations.push(place);
    }
    if let Some(url) = &e.online_url {
        locations.push(json!({"@type": "VirtualLocation", "url": url}));
    }
    let mut event = json!({
        "@context": "https://schema.org",
        "@type": "Event",
        "name": e.title,
        "description": if e.summary.is_empty() { &e.title } else { &e.summary },
        "startDate": start,
        "endDate": end,
        "eventStatus": status,
        "eventAttendanceMode": mode,
        "url": links.event(&e.slug),
        "isAccessibleForFree": true,
        "location": match locations.len() {
            1 => locations.remove(0),
            _ => Value::Array(locations),
        },
    });
    if !e.contact_name.is_empty() {
        event["organizer"] = json!({"@type": "Organization", "name": e.contact_name});
    }
    if let Some(capacity) = e.capacity {
        event["maximumAttendeeCapacity"] = capacity.into();
    }
    event.to_string().replace('<', "\\u003c")
}

/// The most addresses one sitemap file may list.
const SITEMAP_MAX: i64 = 50_000;

/// `/sitemap.xml`: the home page, the subscription page and every published event's page,
/// with when each last changed, for search engines.
pub async fn sitemap(state: crate::http::State) -> Result<HttpResponse, PageError> {
    let events = crate::service::events::list(
        &state.service,
        Period::All,
        Filter::public(None),
        SITEMAP_MAX - 2,
    )
    .await?;
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    let mut entry = |loc: &str, lastmod: Option<chrono::NaiveDateTime>| {
        xml.push_str("<url><loc>");
        xml.push_str(&xml_text(loc));
        xml.push_str("</loc>");
        if let Some(at) = lastmod {
            xml.push_str(&format!(
                "<lastmod>{}</lastmod>",
                at.format("%Y-%m-%dT%H:%M:%SZ")
            ));
        }
        xml.push_str("</url>\n");
    };
    entry(&state.links.home(), None);
    entry(&state.links.subscribe_help(), None);
    for summary in &events {
        entry(
            &state.links.event(&summary.event.slug),
            Some(summary.event.updated_at),
        );
    }
    xml.push_str("</urlset>\n");
    Ok(HttpResponse::Ok()
        .content_type("application/xml; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(xml))
}

/// `/robots.txt`: private pages (manage links, lead links, personal feeds, the organizers'
/// pages) are not for crawlers; the sitemap is.
pub async fn robots(state: crate::http::State) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(format!(
            "User-agent: *\nDisallow: /manage/\nDisallow: /lead/\nDisallow: /feeds/\nDisallow: /unsubscribe/\nDisallow: /admin\nDisallow: /login\nDisallow: /api/\nSitemap: {}/sitemap.xml\n",
            state.links.base()
        ))
}

/// Text as XML element content.
fn xml_text(raw: &str) -> String {
    raw.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EventId, EventKind};

    fn event() -> EventRow {
        let at = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap();
        EventRow {
            id: EventId::new(1),
            slug: "sprint".into(),
            kind: EventKind::Sprint,
            title: "Docs & </script> sprint".into(),
            summary: "A day of docs".into(),
            description: String::new(),
            timezone: "Europe/Berlin".into(),
            all_day: false,
            starts_local: at("2031-03-06T09:30"),
            ends_local: at("2031-03-06T17:00"),
            starts_at: at("2031-03-06T08:30"),
            ends_at: at("2031-03-06T16:00"),
            venue: "Hall B".into(),
            address: "Main Street 1, Berlin".into(),
            online_url: Some("https://meet.example.org/s".into()),
            capacity: Some(30),
            going_count: 0,
            waitlist_seq: 0,
            signup_opens_at: None,
            signup_closes_at: None,
            status: EventStatus::Scheduled,
            revision: 0,
            created_at: at("2031-01-01T00:00"),
            updated_at: at("2031-01-01T00:00"),
            uid: "u".into(),
            reminder_offsets: None,
            contact_name: "PyBerlin".into(),
            contact_email: None,
            latitude: None,
            longitude: None,
            published_at: Some(at("2031-01-01T00:00")),
        }
    }

    fn links() -> Links {
        Links::parse("https://convene.example").unwrap()
    }

    fn query(url: &str) -> Vec<(String, String)> {
        Url::parse(url)
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    fn param(url: &str, name: &str) -> String {
        query(url)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("{name} in {url}"))
    }

    #[test]
    fn calendar_links_carry_the_instants_in_utc() {
        let add = AddToCalendar::of(&event(), &links());
        assert_eq!(
            param(&add.google, "dates"),
            "20310306T083000Z/20310306T160000Z"
        );
        assert_eq!(param(&add.google, "text"), "Docs & </script> sprint");
        assert_eq!(
            param(&add.google, "location"),
            "Hall B, Main Street 1, Berlin"
        );
        assert!(param(&add.google, "details").ends_with("https://convene.example/events/sprint"));
        assert_eq!(param(&add.outlook, "startdt"), "2031-03-06T08:30:00Z");
        assert_eq!(param(&add.outlook, "enddt"), "2031-03-06T16:00:00Z");
        assert_eq!(add.ics, "https://convene.example/events/sprint.ics");
    }

    #[test]
    fn whole_days_end_the_day_after_the_last() {
        let mut e = event();
        e.all_day = true;
        e.starts_local = e.starts_local.date().and_hms_opt(0, 0, 0).unwrap();
        e.ends_local = (e.starts_local + Duration::days(1))
            .date()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let add = AddToCalendar::of(&e, &links());
        assert_eq!(param(&add.google, "dates"), "20310306/20310308");
        assert_eq!(param(&add.outlook, "enddt"), "2031-03-08");
        assert_eq!(param(&add.outlook, "allday"), "true");
    }

    #[test]
    fn the_map_shows_the_pin_or_searches_the_address() {
        let mut e = event();
        let search = map_link(&e).unwrap();
        assert_eq!(param(&search, "query"), "Hall B, Main Street 1, Berlin");
        e.latitude = Some(52.5);
        e.longitude = Some(13.4);
        assert!(map_link(&e).unwrap().contains("mlat=52.5&mlon=13.4"));
        e.address.clear();
        e.latitude = None;
        assert_eq!(map_link(&e), None, "a venue name alone is no address");
    }

    #[test]
    fn json_ld_is_a_schema_org_event_that_cannot_close_its_script() {
        let text = json_ld(&event(), &links());
        assert!(!text.contains("</script>"), "{text}");
        let ld: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(ld["@type"], "Event");
        assert_eq!(ld["name"], "Docs & </script> sprint");
        assert_eq!(ld["startDate"], "2031-03-06T09:30:00+01:00");
        assert_eq!(ld["eventStatus"], "https://schema.org/EventScheduled");
        assert_eq!(
            ld["eventAttendanceMode"],
            "https://schema.org/MixedEventAttendanceMode"
        );
        assert_eq!(ld["location"][0]["@type"], "Place");
        assert_eq!(ld["location"][1]["url"], "https://meet.example.org/s");

        let mut cancelled = event();
        cancelled.status = EventStatus::Cancelled;
        let ld: Value = serde_json::from_str(&json_ld(&cancelled, &links())).unwrap();
        assert_eq!(ld["eventStatus"], "https://schema.org/EventCancelled");
    }
}
