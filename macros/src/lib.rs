//! The `#[traced]` attribute; see the `traced` crate for documentation.
//!
//! Parse (`attr`), check against the function (`valid`), generate (`expand`). On any error the
//! function is emitted unchanged next to the errors, so the rest of the crate still compiles and
//! the user sees every mistake at once, each on the token that caused it.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::ToTokens;

mod attr;
mod expand;
mod valid;

/// Traces each call of the function as a span.
#[proc_macro_attribute]
pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    traced2(args.into(), item.into()).into()
}

fn traced2(args: TokenStream2, item: TokenStream2) -> TokenStream2 {
    let mut errors = Errors::default();
    let options = attr::parse(args, &mut errors);
    let Some(function) = valid::function(item.clone(), &mut errors) else {
        return fallback(item, errors);
    };
    let checked = valid::check(&function, options, &mut errors);
    if !errors.is_empty() {
        return fallback(item, errors);
    }
    expand::function(function, checked)
}

/// The original item, untouched, plus the errors.
fn fallback(item: TokenStream2, errors: Errors) -> TokenStream2 {
    let mut tokens = item;
    if let Some(error) = errors.into_combined() {
        error.to_compile_error().to_tokens(&mut tokens);
    }
    tokens
}

/// Errors collected over a whole expansion.
#[derive(Default)]
pub(crate) struct Errors(Vec<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        self.0.push(error);
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn into_combined(self) -> Option<syn::Error> {
        self.0.into_iter().reduce(|mut all, next| {
            all.combine(next);
            all
        })
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(word, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len().max(word.len()) / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_only_near_names() {
        let names = ["user_id", "password", "body"];
        assert_eq!(closest("usr_id", names), Some("user_id"));
        assert_eq!(closest("pasword", names), Some("password"));
        assert_eq!(closest("zzz", names), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
