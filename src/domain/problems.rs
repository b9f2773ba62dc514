//! Field-by-field validation problems, collected while parsing one request so that the client
//! hears about every invalid field at once rather than one per round trip.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    /// The input field, as named in the request (`email`, `projects[2]`, ...).
    pub field: String,
    /// What is wrong with it, in words a person can act on.
    pub message: String,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Problems(Vec<FieldProblem>);

impl Problems {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldProblem {
            field: field.into(),
            message: message.into(),
        });
    }

    /// Records the error of `result` under `field` and returns its value, if any.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.add(field, message);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `field` has a problem already.
    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|p| p.field == field)
    }

    pub fn list(&self) -> &[FieldProblem] {
        &self.0
    }

    pub fn into_list(self) -> Vec<FieldProblem> {
        self.0
    }

    /// Ok(()) when nothing was recorded, so a parser can end with `problems.finish()?`.
    pub fn finish(self) -> Result<(), Problems> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut problems = Self::new();
        problems.add(field, message);
        problems
    }
}

impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|p| format!("{}: {}", p.field, p.message))
            .collect();
        f.write_str(&parts.join("; "))
    }
}
