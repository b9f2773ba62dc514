//! The one place that builds absolute links. Every link in mail and feeds starts from the
//! configured base URL, never from a request's Host header.

use url::Url;

#[derive(Debug, Clone)]
pub struct Links {
    base: String,
}

impl Links {
    /// Accepts an http(s) URL without query or fragment; a trailing slash is dropped.
    pub fn parse(base: &str) -> Result<Self, String> {
        let url = Url::parse(base.trim())
            .map_err(|e| format!("CONVENE_BASE_URL `{base}` is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!(
                "CONVENE_BASE_URL `{base}` must be an http:// or https:// address"
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "CONVENE_BASE_URL `{base}` must not have a query or fragment"
            ));
        }
        Ok(Self {
            base: url.as_str().trim_end_matches('/').to_owned(),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `scheme://host[:port]`, as browsers send it in `Origin`.
    pub fn origin(&self) -> String {
        url::Url::parse(&self.base)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default()
    }

    pub fn is_https(&self) -> bool {
        self.base.starts_with("https://")
    }

    pub fn home(&self) -> String {
        format!("{}/", self.base)
    }

    pub fn event(&self, slug: &str) -> String {
        format!("{}/events/{slug}", self.base)
    }

    pub fn board(&self, slug: &str) -> String {
        format!("{}/events/{slug}/board", self.base)
    }

    /// A project lead's secret page.
    pub fn lead(&self, token: &str) -> String {
        format!("{}/lead/{token}", self.base)
    }

    pub fn manage(&self, token: &str) -> String {
        format!("{}/manage/{token}", self.base)
    }

    pub fn api_registration(&self, token: &str) -> String {
        format!("{}/api/v1/registrations/{token}", self.base)
    }

    pub fn unsubscribe(&self, token: &str) -> String {
        format!("{}/unsubscribe/{token}", self.base)
    }

    pub fn site_feed(&self) -> String {
        format!("{}/calendar.ics", self.base)
    }

    pub fn kind_feed(&self, kind: &str) -> String {
        format!("{}/calendar/{kind}.ics", self.base)
    }

    pub fn event_feed(&self, slug: &str) -> String {
        format!("{}/events/{slug}.ics", self.base)
    }

    pub fn project_feed(&self, slug: &str, project: &str) -> String {
        format!("{}/events/{slug}/projects/{project}.ics", self.base)
    }

    pub fn personal_feed(&self, token: &str) -> String {
        format!("{}/feeds/{token}.ics", self.base)
    }

    pub fn subscribe_help(&self) -> String {
        format!("{}/calendar", self.base)
    }

    /// The same address for calendar apps: `webcal://` makes them offer to subscribe.
    pub fn webcal(url: &str) -> String {
        match url.split_once("://") {
            Some((_, rest)) => format!("webcal://{rest}"),
            None => url.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_start_from_the_base() {
        let links = Links::parse("https://sprints.example.org/convene/").unwrap();
        assert_eq!(
            links.event("pycon"),
            "https://sprints.example.org/convene/events/pycon"
        );
        assert!(links.is_https());
        assert_eq!(
            Links::webcal(&links.site_feed()),
            "webcal://sprints.example.org/convene/calendar.ics"
        );
        assert!(Links::parse("ftp://x.org").is_err());
        assert!(Links::parse("https://x.org/?a=b").is_err());
    }
}
