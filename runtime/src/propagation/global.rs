//! The process-wide propagator, and the two free functions that use it.

use std::sync::{Arc, RwLock};

use super::carrier::{Carrier, CarrierMut};
use super::propagator::Propagator;
use crate::baggage::Baggage;
use crate::model::Remote;

fn global_slot() -> &'static RwLock<Arc<Propagator>> {
    static GLOBAL: std::sync::OnceLock<RwLock<Arc<Propagator>>> = std::sync::OnceLock::new();
    GLOBAL.get_or_init(|| RwLock::new(Arc::new(Propagator::default())))
}

/// Makes `propagator` the one [`extract`], [`inject`] and the HTTP integrations use.
/// Setup calls it with the propagator `OTEL_PROPAGATORS` describes.
///
/// ```
/// use traced::propagation::{self, Propagator};
///
/// propagation::set_global(Propagator::from_otel_propagators("b3multi").unwrap());
/// assert_eq!(propagation::global().inject_formats(), &[propagation::Format::B3Multi]);
/// # propagation::set_global(Propagator::default());
/// ```
pub fn set_global(propagator: Propagator) {
    let mut slot = global_slot()
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    *slot = Arc::new(propagator);
}

/// The global propagator ([`Propagator::default`] until [`set_global`] is called).
pub fn global() -> Arc<Propagator> {
    global_slot()
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

/// The caller's context from `carrier`, read with the global propagator: give it to
/// `#[traced(parent = ...)]` to continue the caller's trace. (To continue it in a `tracing`
/// span, use [`Propagator::continue_trace`] on [`global()`].)
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// headers.insert("b3", "0".parse().unwrap());
/// assert_eq!(
///     traced::propagation::extract(&headers),
///     Some(traced::model::Remote::DecisionOnly(traced::model::Sampling::Deny)),
/// );
/// ```
pub fn extract<C: Carrier + ?Sized>(carrier: &C) -> Option<Remote> {
    global().extract(carrier)
}

/// The caller's [baggage](crate::baggage) from `carrier`, read with the global propagator (see
/// [`Propagator::extract_baggage`]); add it to the span that continues the caller's trace with
/// [`baggage::extend`](crate::baggage::extend).
///
/// ```
/// let headers = vec![("baggage", "tenant=acme")];
/// assert_eq!(traced::propagation::extract_baggage(&headers).get("tenant"), Some("acme"));
/// ```
pub fn extract_baggage<C: Carrier + ?Sized>(carrier: &C) -> Baggage {
    global().extract_baggage(carrier)
}

/// Writes the current span's context and [baggage](crate::baggage) into `carrier` with the
/// global propagator, to carry the trace on to the service being called; writes nothing when
/// no span of ours is current.
///
/// ```
/// use traced::testing::Capture;
///
/// let mut headers = http::HeaderMap::new();
/// traced::propagation::inject(&mut headers);
/// assert!(headers.is_empty());
/// Capture::new().in_scope(|| {
///     tracing::info_span!("call").in_scope(|| traced::propagation::inject(&mut headers));
/// });
/// assert!(headers["b3"].to_str().unwrap().ends_with("-1"));
/// ```
pub fn inject<C: CarrierMut + ?Sized>(carrier: &mut C) {
    if let Some(context) = crate::layer::current_context() {
        global().inject(&context, carrier);
    }
}
