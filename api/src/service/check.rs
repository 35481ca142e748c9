//! Input validation that reports every invalid field at once.
//!
//! A [`Check`] collects problems while a service function reads a request; [`Check::finish`]
//! turns them into one [`Error::Validation`]. Request types keep every field optional so
//! that a missing field is reported together with all the others, not one per round trip.

use std::str::FromStr;

use crate::error::{Error, InvalidParam, Result};

/// Longest accepted single-line text (names, titles, slugs, URLs).
pub const MAX_LINE: usize = 500;
/// Longest accepted long text (descriptions, bodies).
pub const MAX_TEXT: usize = 100_000;

/// Collects invalid fields.
#[derive(Debug, Default)]
pub struct Check {
    problems: Vec<InvalidParam>,
}

impl Check {
    /// A check with no problems yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a problem with `field`.
    pub fn fail(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.problems.push(InvalidParam::new(field, reason));
    }

    /// Whether nothing has failed so far.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// `Ok(())`, or every problem found as one validation error.
    pub fn finish(self) -> Result<()> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.problems))
        }
    }

    /// A required single-line text: present, not blank, at most [`MAX_LINE`] characters.
    pub fn line(&mut self, field: &str, value: &Option<String>) -> String {
        match value {
            None => {
                self.fail(field, "is required");
                String::new()
            }
            Some(v) => {
                self.check_line(field, v);
                v.clone()
            }
        }
    }

    /// An optional single-line text; blank counts as absent.
    pub fn opt_line(&mut self, field: &str, value: &Option<String>) -> Option<String> {
        let v = value.as_ref().filter(|v| !v.trim().is_empty())?;
        self.check_line(field, v);
        Some(v.clone())
    }

    fn check_line(&mut self, field: &str, v: &str) {
        if v.trim().is_empty() {
            self.fail(field, "must not be blank");
        } else if v.chars().count() > MAX_LINE {
            self.fail(field, format!("must be at most {MAX_LINE} characters"));
        } else if v.chars().any(char::is_control) {
            self.fail(field, "must be a single line without control characters");
        }
    }

    /// A required long text: present, not blank, at most [`MAX_TEXT`] characters.
    pub fn text(&mut self, field: &str, value: &Option<String>) -> String {
        match value {
            None => {
                self.fail(field, "is required");
                String::new()
            }
            Some(v) => {
                self.check_text(field, v);
                v.clone()
            }
        }
    }

    /// An optional long text; blank counts as absent.
    pub fn opt_text(&mut self, field: &str, value: &Option<String>) -> Option<String> {
        let v = value.as_ref().filter(|v| !v.trim().is_empty())?;
        self.check_text(field, v);
        Some(v.clone())
    }

    fn check_text(&mut self, field: &str, v: &str) {
        if v.trim().is_empty() {
            self.fail(field, "must not be blank");
        } else if v.chars().count() > MAX_TEXT {
            self.fail(field, format!("must be at most {MAX_TEXT} characters"));
        }
    }

    /// A slug: lowercase letters, digits and single hyphens, 1 to 100 characters.
    pub fn slug(&mut self, field: &str, value: &Option<String>) -> String {
        let Some(v) = value else {
            self.fail(field, "is required");
            return String::new();
        };
        let ok = !v.is_empty()
            && v.len() <= 100
            && v.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !v.starts_with('-')
            && !v.ends_with('-')
            && !v.contains("--");
        if !ok {
            self.fail(
                field,
                "must be 1 to 100 lowercase letters, digits and single hyphens, e.g. living-lab-m-en-gezond",
            );
        }
        v.clone()
    }

    /// An optional absolute http(s) URL.
    pub fn opt_url(&mut self, field: &str, value: &Option<String>) -> Option<String> {
        let v = value.as_ref().filter(|v| !v.trim().is_empty())?;
        self.url_value(field, v);
        Some(v.clone())
    }

    /// A required absolute http(s) URL.
    pub fn url(&mut self, field: &str, value: &Option<String>) -> String {
        match value {
            None => {
                self.fail(field, "is required");
                String::new()
            }
            Some(v) => {
                self.url_value(field, v);
                v.clone()
            }
        }
    }

    fn url_value(&mut self, field: &str, v: &str) {
        let rest = v
            .strip_prefix("https://")
            .or_else(|| v.strip_prefix("http://"));
        match rest {
            Some(host)
                if !host.is_empty() && !v.chars().any(char::is_whitespace) && v.len() <= 2000 => {}
            _ => self.fail(field, "must be an absolute http:// or https:// URL"),
        }
    }

    /// A required enum value given as its snake_case name.
    pub fn enumeration<E: FromStr<Err = String> + Default>(
        &mut self,
        field: &str,
        value: &Option<String>,
    ) -> E {
        match value {
            None => {
                self.fail(field, "is required");
                E::default()
            }
            Some(v) => self.enum_value(field, v).unwrap_or_default(),
        }
    }

    /// An enum value with a default when absent.
    pub fn enum_or<E: FromStr<Err = String>>(
        &mut self,
        field: &str,
        value: &Option<String>,
        default: E,
    ) -> E {
        match value {
            None => default,
            Some(v) => self.enum_value(field, v).unwrap_or(default),
        }
    }

    fn enum_value<E: FromStr<Err = String>>(&mut self, field: &str, v: &str) -> Option<E> {
        match v.parse() {
            Ok(e) => Some(e),
            Err(reason) => {
                self.fail(field, reason);
                None
            }
        }
    }

    /// An optional integer within `min..=max`.
    pub fn opt_range(
        &mut self,
        field: &str,
        value: Option<i32>,
        min: i32,
        max: i32,
    ) -> Option<i32> {
        let v = value?;
        if !(min..=max).contains(&v) {
            self.fail(field, format!("must be between {min} and {max}"));
        }
        Some(v)
    }

    /// An optional number within `min..=max`.
    pub fn opt_range_f64(
        &mut self,
        field: &str,
        value: Option<f64>,
        min: f64,
        max: f64,
    ) -> Option<f64> {
        let v = value?;
        if !v.is_finite() || v < min || v > max {
            self.fail(field, format!("must be between {min} and {max}"));
        }
        Some(v)
    }

    /// `first` must not come after `second` when both are given.
    pub fn order<T: PartialOrd>(
        &mut self,
        field: &str,
        first: Option<T>,
        second: Option<T>,
        what: &str,
    ) {
        if let (Some(a), Some(b)) = (first, second)
            && a > b
        {
            self.fail(field, what.to_owned());
        }
    }

    /// A BCP 47 language tag such as `nl` or `en-GB` (default `nl`).
    pub fn language(&mut self, field: &str, value: &Option<String>) -> String {
        let Some(v) = value else {
            return "nl".to_owned();
        };
        let mut parts = v.split('-');
        let primary = parts.next().unwrap_or_default();
        let ok = (2..=3).contains(&primary.len())
            && primary.bytes().all(|b| b.is_ascii_lowercase())
            && parts.all(|p| {
                (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric())
            });
        if !ok {
            self.fail(field, "must be a BCP 47 language tag such as nl or en-GB");
        }
        v.clone()
    }
}
