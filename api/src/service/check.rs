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
/// Longest accepted `externalId`.
pub const MAX_EXTERNAL_ID: usize = 200;
/// Most items in a list of a request body (themes, regions, links, levels, programmes).
pub const MAX_LIST: usize = 100;
/// Earliest accepted date (as years: 1900).
pub const MIN_DATE: chrono::NaiveDate = match chrono::NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(d) => d,
    None => panic!("a valid date"),
};
/// Latest accepted date (as years: 2200).
pub const MAX_DATE: chrono::NaiveDate = match chrono::NaiveDate::from_ymd_opt(2200, 12, 31) {
    Some(d) => d,
    None => panic!("a valid date"),
};
/// Words a slug may not be, since they are paths of their own (`/networks/external/...`).
pub const RESERVED_SLUGS: &[&str] = &["external", "bulk"];
/// Longest accepted slug.
pub const MAX_SLUG: usize = 100;
/// What a slug looks like (what [`Check::slug`] accepts, as a regular expression): lowercase
/// letters and digits in groups joined by single hyphens.
pub const SLUG_PATTERN: &str = "^[a-z0-9]+(-[a-z0-9]+)*$";
/// Longest accepted URL.
pub const MAX_URL: usize = 2000;
/// How an accepted URL begins (see [`Check::url`]): `http://` or `https://` in any case, then
/// a host.
pub const URL_PATTERN: &str = "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]";
/// Longest accepted language tag (the length RFC 5646 §4.4.1 asks every implementation to
/// take).
pub const MAX_LANGUAGE: usize = 35;
/// What a language tag looks like (what [`Check::language`] accepts): a lowercase primary
/// language of 2 or 3 letters, then subtags of 1 to 8 letters or digits.
pub const LANGUAGE_PATTERN: &str = "^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$";

/// The smallest and largest accepted value of a number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds<T> {
    /// The smallest.
    pub min: T,
    /// The largest.
    pub max: T,
}

/// A year something happened or is planned in.
pub const YEARS: Bounds<i32> = Bounds {
    min: 1900,
    max: 2200,
};
/// A percentage.
pub const PERCENT: Bounds<i32> = Bounds { min: 0, max: 100 };
/// A count of people or things.
pub const COUNT: Bounds<i32> = Bounds {
    min: 0,
    max: i32::MAX,
};

/// What a [`Check`] asks of one field of a request, as data. Each request type lists its
/// fields' rules ([`crate::dto::Rules`]), and the OpenAPI document states them
/// (`rest::openapi`) from the same constants the checks use; a test sends every declared
/// bound to the service.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// [`Check::line`]: a required single line, 1 to [`MAX_LINE`] characters, not blank.
    Line,
    /// [`Check::opt_line`]: a single line of at most [`MAX_LINE`] characters; blank is
    /// absent.
    OptLine,
    /// [`Check::text`]: a required text, 1 to [`MAX_TEXT`] characters, not blank.
    Text,
    /// [`Check::opt_text`]: a text of at most [`MAX_TEXT`] characters; blank is absent.
    OptText,
    /// [`Check::external_id`]: 1 to [`MAX_EXTERNAL_ID`] characters.
    ExternalId,
    /// [`Check::slug`]: [`SLUG_PATTERN`], 1 to [`MAX_SLUG`] characters.
    Slug,
    /// [`Check::url`], [`Check::opt_url`]: an http(s) URL ([`URL_PATTERN`]) of at most
    /// [`MAX_URL`] characters.
    Url,
    /// [`Check::language`]: [`LANGUAGE_PATTERN`], at most [`MAX_LANGUAGE`] characters.
    Language,
    /// [`Check::opt_date`]: a date from [`MIN_DATE`] to [`MAX_DATE`].
    Date,
    /// [`Check::opt_range`]: a whole number within the bounds.
    Int(Bounds<i32>),
    /// [`Check::opt_range_f64`]: a number within the bounds.
    Number(Bounds<f64>),
    /// [`Check::enumeration`], [`Check::enum_or`]: one of an enumeration's values, which the
    /// field's schema lists (its type is the Rust enum's).
    Enum,
    /// One of these values.
    OneOf(&'static [&'static str]),
    /// A text of `min` to `max` characters.
    Length(usize, usize),
    /// A CBS region code of the shape its kind has ([`crate::dto::RegionKind::cbs_code`]).
    CbsCode,
    /// The natural key of another row (a CBS code, a slug), looked up: at most
    /// [`MAX_LINE`] characters (a longer one cannot name a row).
    Key,
    /// [`Check::list_len`]: at most [`MAX_LIST`] items, each by the inner rule.
    List(&'static Rule),
    /// Nothing beyond its type: an id (a UUID, looked up), a flag.
    Plain,
}

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

    /// Whether nothing has failed so far at `field`.
    pub fn is_ok_at(&self, field: &str) -> bool {
        !self.problems.iter().any(|p| p.name == field)
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
        } else if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            self.fail(
                field,
                "must not contain control characters other than newline (\\n) and tab (\\t)",
            );
        }
    }

    /// An `externalId`: 1 to [`MAX_EXTERNAL_ID`] printable characters (no control characters,
    /// not blank, no spaces around it), the same rule wherever one is given.
    pub fn external_id(&mut self, field: &str, v: &str) {
        if v.is_empty() || v.chars().count() > MAX_EXTERNAL_ID {
            self.fail(field, format!("must be 1 to {MAX_EXTERNAL_ID} characters"));
        } else if v.chars().any(char::is_control) {
            self.fail(field, "must not contain control characters");
        } else if v.trim() != v || v.trim().is_empty() {
            self.fail(field, "must not be blank or begin or end with spaces");
        }
    }

    /// An optional `externalId` (see [`Check::external_id`]).
    pub fn opt_external_id(&mut self, field: &str, value: &Option<String>) {
        if let Some(v) = value {
            self.external_id(field, v);
        }
    }

    /// A list of at most [`MAX_LIST`] items.
    pub fn list_len<T>(&mut self, field: &str, value: &Option<Vec<T>>) {
        if let Some(items) = value
            && items.len() > MAX_LIST
            && self.is_ok_at(field)
        {
            self.fail(
                field,
                format!("must have at most {MAX_LIST} items, got {}", items.len()),
            );
        }
    }

    /// An optional date between [`MIN_DATE`] and [`MAX_DATE`].
    pub fn opt_date(
        &mut self,
        field: &str,
        value: Option<chrono::NaiveDate>,
    ) -> Option<chrono::NaiveDate> {
        let v = value?;
        if !(MIN_DATE..=MAX_DATE).contains(&v) {
            self.fail(field, format!("must be between {MIN_DATE} and {MAX_DATE}"));
        }
        Some(v)
    }

    /// A slug: lowercase letters, digits and single hyphens, 1 to [`MAX_SLUG`] characters.
    pub fn slug(&mut self, field: &str, value: &Option<String>) -> String {
        let Some(v) = value else {
            self.fail(field, "is required");
            return String::new();
        };
        let ok = !v.is_empty()
            && v.len() <= MAX_SLUG
            && v.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !v.starts_with('-')
            && !v.ends_with('-')
            && !v.contains("--");
        if !ok {
            self.fail(
                field,
                format!("must be 1 to {MAX_SLUG} lowercase letters, digits and single hyphens, e.g. living-lab-m-en-gezond"),
            );
        } else if uuid::Uuid::try_parse(v).is_ok() {
            self.fail(
                field,
                "must not look like an id (a UUID), so that paths by id and by slug stay apart",
            );
        } else if RESERVED_SLUGS.contains(&v.as_str()) {
            self.fail(
                field,
                format!(
                    "must not be one of the reserved words {}",
                    RESERVED_SLUGS.join(", ")
                ),
            );
        }
        v.clone()
    }

    /// An optional absolute http(s) URL, normalized.
    pub fn opt_url(&mut self, field: &str, value: &Option<String>) -> Option<String> {
        let v = value.as_ref().filter(|v| !v.trim().is_empty())?;
        Some(self.url_value(field, v))
    }

    /// A required absolute http(s) URL.
    pub fn url(&mut self, field: &str, value: &Option<String>) -> String {
        match value {
            None => {
                self.fail(field, "is required");
                String::new()
            }
            Some(v) => self.url_value(field, v),
        }
    }

    /// Checks an http(s) URL as RFC 9110 §4.2 has it (an authority with a non-empty host:
    /// `http:///x` is refused, where a browser's parser would make `x` the host) and
    /// answers its normalized form (scheme and host lowercased, default port dropped, an
    /// empty path as `/`), which is what is stored.
    fn url_value(&mut self, field: &str, v: &str) -> String {
        let authority = v
            .split_once(':')
            .and_then(|(_, rest)| rest.strip_prefix("//"))
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with(['/', '?', '#']));
        let parsed = url::Url::parse(v).ok().filter(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some_and(|h| !h.is_empty())
                && u.username().is_empty()
                && u.password().is_none()
        });
        match parsed {
            Some(url)
                if authority
                    && v.chars().count() <= MAX_URL
                    && !v
                        .chars()
                        .any(|c| c.is_whitespace() || c.is_control() || c == '\\') =>
            {
                url.into()
            }
            _ => {
                self.fail(
                    field,
                    format!("must be an absolute http:// or https:// URL with a host (at most {MAX_URL} characters, no credentials)"),
                );
                v.to_owned()
            }
        }
    }

    /// A required enum value given as its snake_case name.
    pub fn enumeration<E: FromStr<Err = String> + Default>(
        &mut self,
        field: &str,
        value: &Option<impl AsRef<str>>,
    ) -> E {
        match value {
            None => {
                self.fail(field, "is required");
                E::default()
            }
            Some(v) => self.enum_value(field, v.as_ref()).unwrap_or_default(),
        }
    }

    /// An enum value with a default when absent.
    pub fn enum_or<E: FromStr<Err = String>>(
        &mut self,
        field: &str,
        value: &Option<impl AsRef<str>>,
        default: E,
    ) -> E {
        match value {
            None => default,
            Some(v) => self.enum_value(field, v.as_ref()).unwrap_or(default),
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

    /// An optional integer within `bounds`.
    pub fn opt_range(
        &mut self,
        field: &str,
        value: Option<i32>,
        bounds: Bounds<i32>,
    ) -> Option<i32> {
        let v = value?;
        let Bounds { min, max } = bounds;
        if !(min..=max).contains(&v) {
            self.fail(field, format!("must be between {min} and {max}"));
        }
        Some(v)
    }

    /// An optional number within `bounds`.
    pub fn opt_range_f64(
        &mut self,
        field: &str,
        value: Option<f64>,
        bounds: Bounds<f64>,
    ) -> Option<f64> {
        let v = value?;
        let Bounds { min, max } = bounds;
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

    /// A BCP 47 language tag such as `nl` or `en-GB` (default `nl`), at most
    /// [`MAX_LANGUAGE`] characters.
    pub fn language(&mut self, field: &str, value: &Option<String>) -> String {
        let Some(v) = value else {
            return "nl".to_owned();
        };
        let mut parts = v.split('-');
        let primary = parts.next().unwrap_or_default();
        let ok = v.len() <= MAX_LANGUAGE
            && (2..=3).contains(&primary.len())
            && primary.bytes().all(|b| b.is_ascii_lowercase())
            && parts.all(|p| {
                (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric())
            });
        if !ok {
            self.fail(
                field,
                format!(
                    "must be a BCP 47 language tag such as nl or en-GB (at most {MAX_LANGUAGE} characters)"
                ),
            );
        }
        v.clone()
    }
}
