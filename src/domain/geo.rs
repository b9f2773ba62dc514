//! Where an event is on a map, as the organizer gives it: latitude and longitude in degrees
//! (WGS 84, as calendar apps and map links read them).

/// A validated pair of coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geo {
    latitude: f64,
    longitude: f64,
}

impl Geo {
    /// Both or neither: one without the other names the missing one. Problems are
    /// `(field, message)` pairs for `latitude` and `longitude`.
    pub fn parse(
        latitude: Option<f64>,
        longitude: Option<f64>,
    ) -> Result<Option<Self>, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        let mut check = |field: &'static str, value: Option<f64>, limit: f64| match value {
            Some(v) if !v.is_finite() || v.abs() > limit => {
                problems.push((
                    field,
                    format!("must be between -{limit} and {limit} degrees"),
                ));
                None
            }
            other => other,
        };
        let latitude = check("latitude", latitude, 90.0);
        let longitude = check("longitude", longitude, 180.0);
        match (latitude, longitude) {
            _ if !problems.is_empty() => Err(problems),
            (Some(latitude), Some(longitude)) => Ok(Some(Self {
                latitude,
                longitude,
            })),
            (None, None) => Ok(None),
            (Some(_), None) => Err(vec![("longitude", "is needed with the latitude".into())]),
            (None, Some(_)) => Err(vec![("latitude", "is needed with the longitude".into())]),
        }
    }

    /// Reads stored columns; None unless both are there.
    pub fn from_stored(latitude: Option<f64>, longitude: Option<f64>) -> Option<Self> {
        Self::parse(latitude, longitude).ok().flatten()
    }

    pub fn latitude(&self) -> f64 {
        self.latitude
    }

    pub fn longitude(&self) -> f64 {
        self.longitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_or_neither_within_range() {
        let berlin = Geo::parse(Some(52.52), Some(13.405)).unwrap().unwrap();
        assert_eq!((berlin.latitude(), berlin.longitude()), (52.52, 13.405));
        assert_eq!(Geo::parse(None, None), Ok(None));
        assert_eq!(Geo::parse(Some(1.0), None).unwrap_err()[0].0, "longitude");
        assert_eq!(Geo::parse(None, Some(1.0)).unwrap_err()[0].0, "latitude");
        let both = Geo::parse(Some(91.0), Some(-181.0)).unwrap_err();
        assert_eq!(
            both.iter().map(|p| p.0).collect::<Vec<_>>(),
            ["latitude", "longitude"]
        );
        assert!(Geo::parse(Some(f64::NAN), Some(0.0)).is_err());
    }
}
