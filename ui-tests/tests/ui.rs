//! Compile tests for `#[traced]`: legal shapes must build, mistakes must fail with the messages
//! recorded next to each case (`fail/*.stderr`). Regenerate those with `TRYBUILD=overwrite` and
//! read the diff: each message must point at the offending token and say how to fix it.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("pass/*.rs");
    cases.compile_fail("fail/*.rs");
}
