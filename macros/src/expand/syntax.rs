//! Questions about the user's syntax, and the small rewrites of it that every shape needs.

use proc_macro2::{Spacing, TokenStream, TokenTree};
use quote::ToTokens;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Block, Expr, ExprAsync, PatIdent, ReturnType, Stmt, Type};

/// The async block a function body ends in, alone or as `Box::pin(async ..)`.
pub(super) fn future_tail(block: &Block) -> Option<&ExprAsync> {
    let Some(Stmt::Expr(tail, None)) = block.stmts.last() else {
        return None;
    };
    match wrapped_future(tail) {
        Wrapped::Bare => match tail {
            Expr::Async(future) => Some(future),
            _ => None,
        },
        Wrapped::Call => match tail {
            Expr::Call(call) => match call.args.first() {
                Some(Expr::Async(future)) => Some(future),
                _ => None,
            },
            _ => None,
        },
        Wrapped::Method => match tail {
            Expr::MethodCall(call) => match &*call.receiver {
                Expr::Async(future) => Some(future),
                _ => None,
            },
            _ => None,
        },
    }
}

/// Replaces the async block a function body ends in (see `future_tail`) with `rewrite(block)`.
pub(super) fn rewrite_future_tail(
    block: &mut Block,
    rewrite: impl FnOnce(ExprAsync) -> TokenStream,
) {
    let Some(slot) = future_tail_slot(block) else {
        return;
    };
    *slot = match std::mem::replace(slot, Expr::Verbatim(TokenStream::new())) {
        Expr::Async(future) => Expr::Verbatim(rewrite(future)),
        other => other,
    };
}

/// Where `future_tail` finds the async block, to be replaced.
fn future_tail_slot(block: &mut Block) -> Option<&mut Expr> {
    let Some(Stmt::Expr(tail, None)) = block.stmts.last_mut() else {
        return None;
    };
    match wrapped_future(tail) {
        Wrapped::Bare => Some(tail),
        Wrapped::Call => match tail {
            Expr::Call(call) => call.args.first_mut(),
            _ => None,
        },
        Wrapped::Method => match tail {
            Expr::MethodCall(call) => Some(&mut *call.receiver),
            _ => None,
        },
    }
}

/// Where the async block sits in a tail expression.
enum Wrapped {
    /// `async { .. }`
    Bare,
    /// `Box::pin(async { .. })`
    Call,
    /// `async { .. }.boxed()` (the `futures` crate's `FutureExt`)
    Method,
}

fn wrapped_future(tail: &Expr) -> Wrapped {
    match tail {
        Expr::Call(call) if is_box_pin(&call.func) && call.args.len() == 1 => Wrapped::Call,
        Expr::MethodCall(call)
            if (call.method == "boxed" || call.method == "boxed_local") && call.args.is_empty() =>
        {
            Wrapped::Method
        }
        _ => Wrapped::Bare,
    }
}

/// `Box::pin`, `std::boxed::Box::pin` and the like.
fn is_box_pin(func: &Expr) -> bool {
    let Expr::Path(path) = func else {
        return false;
    };
    let mut segments = path.path.segments.iter().rev();
    matches!(
        (segments.next(), segments.next()),
        (Some(pin), Some(boxed)) if pin.ident == "pin" && boxed.ident == "Box"
    )
}

/// Whether the body asks `tracing` for the current span (`Span::current()`,
/// `in_current_span()`, `current_span()`), which a frame would not be. The tokens are scanned,
/// not the syntax tree, so that calls inside macros (`info!(parent: Span::current(), ..)`)
/// count too.
pub(super) fn uses_current_span(block: &Block) -> bool {
    /// `after_path` is whether the previous two tokens were `::`.
    fn scan(tokens: TokenStream, after_path: &mut bool, colons: &mut u8) -> bool {
        for token in tokens {
            match token {
                TokenTree::Group(group) => {
                    *colons = 0;
                    *after_path = false;
                    if scan(group.stream(), after_path, colons) {
                        return true;
                    }
                    *colons = 0;
                    *after_path = false;
                }
                TokenTree::Ident(ident) => {
                    if ident == "in_current_span"
                        || ident == "current_span"
                        || (ident == "current" && *after_path)
                    {
                        return true;
                    }
                    *colons = 0;
                    *after_path = false;
                }
                TokenTree::Punct(punct) => {
                    *colons = if punct.as_char() == ':' {
                        *colons + 1
                    } else {
                        0
                    };
                    *after_path = *colons >= 2 && punct.spacing() == Spacing::Alone;
                }
                TokenTree::Literal(_) => {
                    *colons = 0;
                    *after_path = false;
                }
            }
        }
        false
    }
    scan(block.to_token_stream(), &mut false, &mut 0)
}

/// Whether the function returns `()`, written or not.
pub(super) fn returns_unit(output: &ReturnType) -> bool {
    match output {
        ReturnType::Default => true,
        ReturnType::Type(_, ty) => matches!(&**ty, Type::Tuple(tuple) if tuple.elems.is_empty()),
    }
}

/// Whether the function is declared `-> !`.
pub(super) fn returns_never(output: &ReturnType) -> bool {
    matches!(output, ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)))
}

/// The output type of the future a function returns, when it can be named.
pub(super) fn future_output(output: &ReturnType) -> Option<TokenStream> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let mut finder = FindOutput(None);
    finder.visit_type(ty);
    if let Some(output) = finder.0 {
        if !contains_impl_trait(&output) {
            return Some(output.to_token_stream());
        }
        return None;
    }
    if contains_impl_trait(ty) {
        return None;
    }
    Some(quote::quote!(<#ty as ::core::future::Future>::Output))
}

/// Finds `Output = T` in a `Future` bound.
struct FindOutput(Option<Type>);

impl<'ast> Visit<'ast> for FindOutput {
    fn visit_trait_bound(&mut self, bound: &'ast syn::TraitBound) {
        let Some(last) = bound.path.segments.last() else {
            return;
        };
        if last.ident == "Future" {
            if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
                for arg in &args.args {
                    if let syn::GenericArgument::AssocType(assoc) = arg {
                        if assoc.ident == "Output" && self.0.is_none() {
                            self.0 = Some(assoc.ty.clone());
                        }
                    }
                }
            }
        }
        syn::visit::visit_trait_bound(self, bound);
    }
}

/// `impl Trait` cannot be written in a closure's return type or a `let`: `_` infers the same.
pub(super) fn erase_impl_trait(ty: &Type) -> Type {
    struct Erase;
    impl VisitMut for Erase {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(impl_trait) = ty {
                *ty = Type::Infer(syn::TypeInfer {
                    underscore_token: syn::Token![_](impl_trait.impl_token.span),
                });
                return;
            }
            syn::visit_mut::visit_type_mut(self, ty);
        }
    }
    let mut ty = ty.clone();
    Erase.visit_type_mut(&mut ty);
    ty
}

pub(super) fn contains_impl_trait(ty: &Type) -> bool {
    struct Find(bool);
    impl<'ast> Visit<'ast> for Find {
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut find = Find(false);
    find.visit_type(ty);
    find.0
}

/// Turns every binding of a pattern into a `ref` binding, to read arguments without moving them.
pub(super) struct RefBindings;

impl VisitMut for RefBindings {
    fn visit_pat_ident_mut(&mut self, ident: &mut PatIdent) {
        ident.by_ref = Some(syn::Token![ref](ident.ident.span()));
        ident.mutability = None;
        syn::visit_mut::visit_pat_ident_mut(self, ident);
    }
}
