//! Per-request sampling rules for the HTTP server layer, in the manner of Brave's
//! `HttpRuleSampler`: a method and a path pattern → a decision, the first matching rule wins.

use std::fmt;
use std::sync::Arc;

use super::{AlwaysOff, AlwaysOn, RateLimiting, Sampler, TraceIdRatio};

/// Which requests a sampling rule applies to: an optional method and an optional path pattern.
/// A rule with neither matches every request.
///
/// The path patterns match the request's path without its query (`path`, `path_prefix`) or
/// the route template axum matched (`route`, such as `/items/{id}`; needs the `axum` feature
/// and the layer added with `Router::layer`). A later pattern replaces an earlier one.
///
/// ```
/// use traced::sample::Rule;
///
/// let health = Rule::new().method("GET").path_prefix("/health");
/// assert!(health.matches("GET", "/health/live", None));
/// assert!(!health.matches("POST", "/health/live", None));
/// assert!(!health.matches("GET", "/items", None));
///
/// let item = Rule::new().route("/items/{id}");
/// assert!(item.matches("DELETE", "/items/7", Some("/items/{id}")));
/// assert!(!item.matches("DELETE", "/items/7", None));
/// ```
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Rule {
    method: Option<Box<str>>,
    path: PathPattern,
}

#[derive(Clone, PartialEq, Eq, Debug, Default)]
enum PathPattern {
    #[default]
    Any,
    Exact(Box<str>),
    Prefix(Box<str>),
    Route(Box<str>),
}

impl Rule {
    /// A rule that matches every request; narrow it with the other methods.
    pub fn new() -> Rule {
        Rule::default()
    }

    /// Only requests with this method (compared without regard to case: `"get"` is `GET`).
    ///
    /// ```
    /// use traced::sample::Rule;
    /// assert!(Rule::new().method("post").matches("POST", "/orders", None));
    /// ```
    pub fn method(mut self, method: &str) -> Rule {
        self.method = Some(method.to_ascii_uppercase().into());
        self
    }

    /// Only requests whose path is exactly `path` (the query is not part of it).
    ///
    /// ```
    /// use traced::sample::Rule;
    /// let metrics = Rule::new().path("/metrics");
    /// assert!(metrics.matches("GET", "/metrics", None));
    /// assert!(!metrics.matches("GET", "/metrics/old", None));
    /// ```
    pub fn path(mut self, path: &str) -> Rule {
        self.path = PathPattern::Exact(path.into());
        self
    }

    /// Only requests whose path starts with `prefix`, character for character as Brave's
    /// `pathStartsWith`: `/health` matches `/health`, `/health/live` and `/healthz`.
    ///
    /// ```
    /// use traced::sample::Rule;
    /// assert!(Rule::new().path_prefix("/static/").matches("GET", "/static/app.js", None));
    /// ```
    pub fn path_prefix(mut self, prefix: &str) -> Rule {
        self.path = PathPattern::Prefix(prefix.into());
        self
    }

    /// Only requests that axum routed to this route template, exactly as it was registered
    /// (`/items/{id}`). A request without a matched route (no axum, or no route matched) never
    /// matches.
    ///
    /// ```
    /// use traced::sample::Rule;
    /// let rule = Rule::new().route("/users/{id}/avatar");
    /// assert!(rule.matches("GET", "/users/9/avatar", Some("/users/{id}/avatar")));
    /// ```
    pub fn route(mut self, template: &str) -> Rule {
        self.path = PathPattern::Route(template.into());
        self
    }

    /// Whether a request with `method`, `path` and the matched route template `route` (if
    /// any) is one this rule applies to.
    pub fn matches(&self, method: &str, path: &str, route: Option<&str>) -> bool {
        if let Some(wanted) = &self.method {
            if !wanted.eq_ignore_ascii_case(method) {
                return false;
            }
        }
        match &self.path {
            PathPattern::Any => true,
            PathPattern::Exact(exact) => path == &**exact,
            PathPattern::Prefix(prefix) => path.starts_with(&**prefix),
            PathPattern::Route(template) => route == Some(&**template),
        }
    }
}

/// What a matching rule decides for a request that starts a new trace.
///
/// ```
/// use traced::model::{Sampling, TraceId};
/// use traced::sample::Decision;
///
/// assert_eq!(Decision::Never.sampler().sample(TraceId(1), None), Sampling::Deny);
/// assert_eq!(Decision::Ratio(1.0).sampler().sample(TraceId(1), None), Sampling::Accept);
/// ```
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Decision {
    /// Never sampled.
    Never,
    /// Always sampled.
    Always,
    /// This fraction (0 to 1), decided on the trace id as [`TraceIdRatio`] does.
    Ratio(f64),
    /// At most this many new traces per second, as [`RateLimiting`] does; each rule has its
    /// own budget.
    RateLimited(f64),
}

impl Decision {
    /// The sampler that makes this decision: a new one, with its own rate budget.
    pub fn sampler(self) -> Arc<dyn Sampler> {
        match self {
            Decision::Never => Arc::new(AlwaysOff),
            Decision::Always => Arc::new(AlwaysOn),
            Decision::Ratio(ratio) => Arc::new(TraceIdRatio::new(ratio)),
            Decision::RateLimited(per_second) => Arc::new(RateLimiting::new(per_second)),
        }
    }
}

/// The rules of one server layer, in order, each with the sampler its decision made.
#[cfg_attr(not(feature = "tower"), allow(dead_code))]
#[derive(Clone, Default)]
pub(crate) struct Rules {
    rules: Vec<(Rule, Decision, Arc<dyn Sampler>)>,
}

#[cfg_attr(not(feature = "tower"), allow(dead_code))]
impl Rules {
    pub(crate) fn push(&mut self, rule: Rule, decision: Decision) {
        let sampler = decision.sampler();
        self.rules.push((rule, decision, sampler));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The sampler of the first rule that matches, if any.
    pub(crate) fn find(
        &self,
        method: &str,
        path: &str,
        route: Option<&str>,
    ) -> Option<&Arc<dyn Sampler>> {
        self.rules
            .iter()
            .find(|(rule, _, _)| rule.matches(method, path, route))
            .map(|(_, _, sampler)| sampler)
    }
}

impl fmt::Debug for Rules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.rules
                    .iter()
                    .map(|(rule, decision, _)| (rule, decision)),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Sampling, TraceId};

    #[test]
    fn the_first_matching_rule_decides() {
        let mut rules = Rules::default();
        rules.push(
            Rule::new().method("GET").path_prefix("/health"),
            Decision::Never,
        );
        rules.push(Rule::new().path_prefix("/health"), Decision::Always);
        rules.push(Rule::new().route("/items/{id}"), Decision::Ratio(0.0));
        let decide = |method, path, route| {
            rules
                .find(method, path, route)
                .map(|sampler| sampler.sample(TraceId(1), None))
        };
        assert_eq!(decide("GET", "/health", None), Some(Sampling::Deny));
        assert_eq!(decide("POST", "/health", None), Some(Sampling::Accept));
        assert_eq!(
            decide("GET", "/items/3", Some("/items/{id}")),
            Some(Sampling::Deny)
        );
        assert_eq!(decide("GET", "/items/3", None), None);
        assert_eq!(decide("GET", "/", None), None);
    }

    #[test]
    fn a_rate_limited_rule_keeps_its_own_budget() {
        let mut rules = Rules::default();
        rules.push(Rule::new().path("/a"), Decision::RateLimited(1.0));
        rules.push(Rule::new().path("/b"), Decision::RateLimited(1.0));
        let sample = |path| {
            rules
                .find("GET", path, None)
                .unwrap()
                .sample(TraceId(1), None)
        };
        assert_eq!(sample("/a"), Sampling::Accept);
        assert_eq!(sample("/a"), Sampling::Deny);
        assert_eq!(sample("/b"), Sampling::Accept);
    }
}
