//! Links that people follow (repository, notes pad, online meeting): http or https only.

use url::Url;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebUrl(Url);

impl WebUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        if trimmed.len() > 2048 {
            return Err("must be at most 2048 characters".into());
        }
        if trimmed.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        let url = Url::parse(trimmed).map_err(|e| match e {
            url::ParseError::RelativeUrlWithoutBase => {
                "must be a full web address starting with https://, such as https://meet.example.org/sprint".to_owned()
            }
            url::ParseError::EmptyHost => "must name a host after https://".to_owned(),
            url::ParseError::InvalidPort => "has a port that is not a number from 1 to 65535".to_owned(),
            _ => "is not a web address Convene can read; copy it from the browser's address bar".to_owned(),
        })?;
        match url.scheme() {
            "http" | "https" => {}
            other => {
                return Err(format!(
                    "must start with http:// or https:// (not {other}:)"
                ));
            }
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("must name a host".into());
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https() {
        assert!(WebUrl::parse("https://github.com/org/repo").is_ok());
        assert!(WebUrl::parse("http://pad.example.org/p/sprint").is_ok());
        for bad in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,x",
            "ftp://x.org",
            "//x.org",
            "not a url",
            "https://",
        ] {
            assert!(WebUrl::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
