//! Arguments of every kind: not `Debug`, generic with and without bounds, `impl Trait`,
//! destructured, `mut`, `_`, references to unsized types.

use std::collections::HashMap;
use std::fmt::Debug;

use traced::traced;

/// Neither `Debug` nor `Display`: left out of the span, no compile error.
pub struct Secretive(#[allow(dead_code)] u8);

#[traced]
fn opaque(value: Secretive, list: &[Secretive], map: HashMap<u8, Vec<Secretive>>) -> usize {
    let _ = value;
    list.len() + map.len()
}

#[traced]
fn generic<T, D: Debug, S>(plain: T, shown: D, text: S, dynamic: &dyn Debug) -> T
where
    S: AsRef<str>,
{
    let _ = (shown, text.as_ref(), dynamic);
    plain
}

#[traced]
fn patterns((a, b): (u8, u8), [c, _]: [u8; 2], mut counter: u32, _: Secretive, Point { x, .. }: Point) -> u32 {
    counter += u32::from(a + b + c) + x;
    counter
}

pub struct Point {
    pub x: u32,
    pub y: u32,
}

#[traced]
async fn async_patterns((a, b): (u8, u8), mut total: u32, _: Secretive, Point { x, y }: Point) -> u32 {
    total += u32::from(a + b) + x + y;
    total
}

#[traced]
fn impl_args(items: impl IntoIterator<Item = u8>, label: impl AsRef<str> + Debug) -> usize {
    items.into_iter().count() + label.as_ref().len()
}

#[traced]
fn lifetimes<'a, 'b: 'a>(first: &'a str, second: &'b str) -> &'a str {
    if first.is_empty() { second } else { first }
}

#[traced]
fn const_generic<const N: usize>(values: [u8; N]) -> usize {
    values.len()
}

#[traced]
fn raw_identifiers(r#type: &str, r#match: u8) -> usize {
    r#type.len() + usize::from(r#match)
}

fn main() {
    assert_eq!(opaque(Secretive(1), &[], HashMap::new()), 0);
    assert_eq!(generic(Secretive(2), 1, "x", &3).0, 2);
    assert_eq!(patterns((1, 2), [3, 4], 0, Secretive(0), Point { x: 1, y: 2 }), 7);
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert_eq!(runtime.block_on(async_patterns((1, 2), 0, Secretive(0), Point { x: 1, y: 2 })), 6);
    assert_eq!(impl_args([1, 2], "ab"), 4);
    assert_eq!(lifetimes("", "b"), "b");
    assert_eq!(const_generic([1, 2, 3]), 3);
    assert_eq!(raw_identifiers("t", 1), 2);
}
