//! What `parent = expr` accepts, and making a tracing span under it.

use tracing::span::Id;
use tracing::Span;
use tracing_core::Metadata;

use super::fields::Values;
use crate::model::{Remote, SpanContext};

/// Where a span's parent comes from: a span of this process, or a caller's context.
pub enum Parent {
    /// A local span; `None` makes a root.
    Local(Option<Id>),
    /// A remote caller's context; `None` makes a root.
    Remote(Option<Remote>),
}

/// What `parent = expr` accepts.
#[diagnostic::on_unimplemented(
    message = "`parent = ...` takes a span or a caller's context, not `{Self}`",
    label = "not a parent",
    note = "local parents: `&Span`, `Span`, `Id`, `Option<Id>`, or `None` for a new trace",
    note = "remote parents: `Remote`, `Option<Remote>`, `SpanContext`, `Option<SpanContext>` (or references)"
)]
pub trait IntoParent {
    fn into_parent(self) -> Parent;
}

impl IntoParent for &Span {
    fn into_parent(self) -> Parent {
        Parent::Local(self.id())
    }
}

impl IntoParent for Span {
    fn into_parent(self) -> Parent {
        Parent::Local(self.id())
    }
}

impl IntoParent for &tracing::span::EnteredSpan {
    fn into_parent(self) -> Parent {
        Parent::Local(self.id())
    }
}

impl IntoParent for Option<&Id> {
    fn into_parent(self) -> Parent {
        Parent::Local(self.cloned())
    }
}

impl IntoParent for Id {
    fn into_parent(self) -> Parent {
        Parent::Local(Some(self))
    }
}

impl IntoParent for &Id {
    fn into_parent(self) -> Parent {
        Parent::Local(Some(self.clone()))
    }
}

impl IntoParent for Option<Id> {
    fn into_parent(self) -> Parent {
        Parent::Local(self)
    }
}

impl IntoParent for &Option<Id> {
    fn into_parent(self) -> Parent {
        Parent::Local(self.clone())
    }
}

impl IntoParent for Remote {
    fn into_parent(self) -> Parent {
        Parent::Remote(Some(self))
    }
}

impl IntoParent for &Remote {
    fn into_parent(self) -> Parent {
        Parent::Remote(Some(*self))
    }
}

impl IntoParent for Option<Remote> {
    fn into_parent(self) -> Parent {
        Parent::Remote(self)
    }
}

impl IntoParent for &Option<Remote> {
    fn into_parent(self) -> Parent {
        Parent::Remote(*self)
    }
}

impl IntoParent for SpanContext {
    fn into_parent(self) -> Parent {
        Parent::Remote(Some(Remote::Context(self)))
    }
}

impl IntoParent for &SpanContext {
    fn into_parent(self) -> Parent {
        Parent::Remote(Some(Remote::Context(*self)))
    }
}

impl IntoParent for Option<SpanContext> {
    fn into_parent(self) -> Parent {
        Parent::Remote(self.map(Remote::Context))
    }
}

impl IntoParent for &Option<SpanContext> {
    fn into_parent(self) -> Parent {
        Parent::Remote(self.map(Remote::Context))
    }
}

pub(super) fn make_span(
    meta: &'static Metadata<'static>,
    mut parent: Option<Parent>,
    values: impl Values,
) -> Span {
    let mut span = Span::none();
    values(&mut |values| {
        span = match parent.take() {
            None => Span::new(meta, values),
            Some(Parent::Local(id)) => Span::child_of(id, meta, values),
            Some(Parent::Remote(Some(remote))) => {
                crate::remote_parent::with_remote_parent(remote, false, || {
                    Span::new_root(meta, values)
                })
            }
            Some(Parent::Remote(None)) => Span::new_root(meta, values),
        }
    });
    span
}
