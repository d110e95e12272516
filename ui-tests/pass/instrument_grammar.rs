//! Every spelling of `#[tracing::instrument]`'s options that tracing-attributes 0.1.x documents
//! and tests compiles under `#[traced]`: switching is a rename.

use traced::traced;
use tracing::field::Empty;
use tracing::{Level, Span};

const MY_NAME: &str = "my_name";
const MY_TARGET: &str = "my_target";

#[traced]
fn plain() {}

#[traced("my_other_name")]
fn bare_name() {}

#[traced(name = "my_name")]
fn named() {}

#[traced(name = MY_NAME)]
fn const_name() {}

#[traced(target = "my_target")]
fn targeted() {}

#[traced(target = MY_TARGET)]
fn const_target() {}

#[traced(target = MY_TARGET, name = MY_NAME)]
fn const_target_and_name() {}

#[traced(level = "trace")]
fn level_trace() {}

#[traced(level = "Debug")]
fn level_debug_capitalised() {}

#[traced(level = "INFO")]
fn level_info_upper() {}

#[traced(level = "WARn")]
fn level_warn_mixed() {}

#[traced(level = "eRrOr")]
fn level_error_mixed() {}

#[traced(level = 1)]
fn level_1() {}

#[traced(level = 2)]
fn level_2() {}

#[traced(level = 3)]
fn level_3() {}

#[traced(level = 4)]
fn level_4() {}

#[traced(level = 5)]
fn level_5() {}

#[traced(level = Level::TRACE)]
fn level_const_trace() {}

#[traced(level = Level::DEBUG)]
fn level_const_debug() {}

#[traced(level = Level::WARN)]
fn level_const_warn() {}

#[traced(level = Level::ERROR)]
fn level_const_error() {}

#[traced(level = tracing::Level::INFO)]
fn level_full_path() {}

#[traced(level = Level::DEBUG, target = "my_target")]
fn level_const_and_target() {}

#[traced(target = "my_target", level = "debug")]
fn target_and_level() {}

#[traced(target = "my_target", level = "debug", skip(_arg2, _arg3))]
fn target_level_skip(_arg1: u8, _arg2: u8, _arg3: u8) {}

#[traced(target = "my_target", level = "debug", skip_all)]
fn target_level_skip_all(_arg1: u8, _arg2: u8) {}

#[traced(target = "my_target", ret)]
fn target_ret() -> u8 {
    1
}

#[traced(err)]
fn err_plain() -> Result<u8, String> {
    Ok(1)
}

#[traced(err(Debug))]
fn err_debug() -> Result<u8, String> {
    Ok(1)
}

#[traced(err(level = "info"))]
fn err_level() -> Result<u8, String> {
    Ok(1)
}

#[traced(err(Debug, level = "info"))]
fn err_debug_level() -> Result<u8, String> {
    Ok(1)
}

#[traced(level = "warn", err(level = "info"))]
fn level_and_err_level() -> Result<u8, String> {
    Ok(1)
}

#[traced(err, ret)]
fn err_ret() -> Result<u8, String> {
    Ok(1)
}

#[traced(ret, err)]
fn ret_err() -> Result<u8, String> {
    Ok(1)
}

#[traced(ret)]
fn ret_plain() -> u8 {
    1
}

#[traced(ret(Display))]
fn ret_display() -> u8 {
    1
}

#[traced(ret(level = "warn", Debug))]
fn ret_level_debug() -> u8 {
    1
}

#[traced(level = "warn", ret(level = "info"))]
fn level_and_ret_level() -> u8 {
    1
}

#[traced(level = "warn", ret)]
fn level_and_ret() -> u8 {
    1
}

#[traced(fields(foo = "bar", dsa = true, num = 1))]
fn fields_no_param() {}

#[traced(fields(foo = "bar"))]
fn fields_param(param: u32) {
    let _ = param;
}

#[traced(fields(foo = "bar", empty))]
fn fields_empty() {}

#[traced(fields(f = Empty))]
fn fields_empty_value() {}

#[traced(fields(len = s.len()))]
fn fields_expr(s: &str) {
    let _ = s;
}

#[traced(fields(s.len = s.len(), s.is_empty = s.is_empty()))]
fn fields_two_exprs(s: &str) {
    let _ = s;
}

#[traced(fields(%s, s.len = s.len()))]
fn fields_clashy_shorthand(s: &str) {
    let _ = s;
}

#[traced(fields(s = "s"))]
fn fields_clashy(s: &str) {
    let _ = s;
}

#[traced(fields(s = &s))]
fn fields_ref(s: String) {
    let _ = s;
}

#[traced(fields(keywords.impl.type.fn = _arg), skip(_arg))]
fn fields_keyword_names(_arg: &str) {}

#[traced(fields("quoted key" = 1, a.b = 2, later))]
fn fields_quoted_dotted_later() {}

#[traced(fields(?shape))]
fn fields_debug_shorthand(shape: (u8, u8)) {
    let _ = shape;
}

#[traced(parent = parent_span, skip(parent_span))]
fn with_parent(parent_span: Span) {}

#[traced(follows_from = [cause], skip(cause))]
fn with_cause(cause: &Span) {
    let _ = cause;
}

// tracing-attributes' documented forms: a slice of ids, and an entered span in an array.
#[traced(follows_from = causes)]
fn with_causes(causes: &[tracing::Id]) {
    let _ = causes;
}

#[traced(follows_from = [cause])]
fn with_entered_cause(cause: &tracing::span::EnteredSpan) {
    let _ = cause;
}

// Its tests: any iterator of things that convert into `Option<Id>`, sync and async.
#[traced(follows_from = causes, skip(causes))]
fn with_cause_iterator(causes: impl IntoIterator<Item = impl Into<Option<tracing::Id>>>) {}

#[traced(follows_from = causes, skip(causes))]
async fn with_cause_iterator_async(causes: impl IntoIterator<Item = impl Into<Option<tracing::Id>>>) {}

#[derive(Clone, Debug)]
struct Thing {
    my_field: u8,
}

impl Thing {
    fn foo(&self) -> u8 {
        self.my_field
    }

    #[traced(skip(self))]
    fn skip_self(&self) {}

    #[traced(skip(self, _req), fields(app_id))]
    fn skip_request(&self, _req: u8) {}

    #[traced(fields(my_field = self.my_field), skip(self))]
    fn self_field(&self) {}

    #[traced(fields(val = self.foo(), val2 = Self::clone(self).foo(), test = %_v + 5))]
    fn method_fields(&self, _v: usize) {}

    #[traced(fields(Self = std::any::type_name::<Self>()))]
    fn self_named_field(&self) {}
}

#[traced(level = "debug", err(level = "warn", Display), ret(level = "trace", Debug))]
async fn async_everything(x: u8) -> Result<u8, String> {
    Ok(x)
}

fn main() {
    plain();
    bare_name();
    named();
    const_name();
    targeted();
    const_target();
    const_target_and_name();
    level_trace();
    level_debug_capitalised();
    level_info_upper();
    level_warn_mixed();
    level_error_mixed();
    level_1();
    level_2();
    level_3();
    level_4();
    level_5();
    level_const_trace();
    level_const_debug();
    level_const_warn();
    level_const_error();
    level_full_path();
    level_const_and_target();
    target_and_level();
    target_level_skip(1, 2, 3);
    target_level_skip_all(1, 2);
    let _ = target_ret();
    let _ = err_plain();
    let _ = err_debug();
    let _ = err_level();
    let _ = err_debug_level();
    let _ = level_and_err_level();
    let _ = err_ret();
    let _ = ret_err();
    let _ = ret_plain();
    let _ = ret_display();
    let _ = ret_level_debug();
    let _ = level_and_ret_level();
    let _ = level_and_ret();
    fields_no_param();
    fields_param(1);
    fields_empty();
    fields_empty_value();
    fields_expr("a");
    fields_two_exprs("a");
    fields_clashy_shorthand("a");
    fields_clashy("a");
    fields_ref("a".to_owned());
    fields_keyword_names("a");
    fields_quoted_dotted_later();
    fields_debug_shorthand((1, 2));
    with_parent(Span::none());
    with_cause(&Span::none());
    with_causes(&[]);
    with_entered_cause(&Span::none().entered());
    with_cause_iterator(Vec::<tracing::Id>::new());
    drop(with_cause_iterator_async(Vec::<tracing::Id>::new()));
    computed_field_names();
    computed_field_name_recorded_later();
    conventional_field_names();
    with_generic_parent(None::<tracing::Id>);
    with_impl_parent(&Span::none());
    let thing = Thing { my_field: 1 };
    thing.skip_self();
    thing.skip_request(1);
    thing.self_field();
    thing.method_fields(1);
    thing.self_named_field();
    drop(async_everything(1));
}

// Field names computed by a constant expression, as tracing's own tests spell them.
const CONST_FIELD_NAME: &str = "foo.bar";

const fn get_const_fn_field_name() -> &'static str {
    "foo.baz"
}

struct FieldNames;

impl FieldNames {
    const FOO_BAR: &'static str = "foo.bar.baz";
}

#[traced(fields({CONST_FIELD_NAME} = "quux", {get_const_fn_field_name()} = 1, {FieldNames::FOO_BAR} = %"x", {"literal"} = ?3))]
fn computed_field_names() {}

#[traced(fields({CONST_FIELD_NAME}))]
fn computed_field_name_recorded_later() {
    Span::current().record(CONST_FIELD_NAME, 5);
}

// Names tracing users commonly give their fields: the kind as tracing-opentelemetry reads it,
// and an error recorded by hand.
#[traced(fields(otel.kind = "server", error = tracing::field::Empty))]
fn conventional_field_names() {
    Span::current().record("error", "failed by hand");
}

// A parent of a generic type, as tracing's own tests pass one.
#[traced(parent = parent_span, skip(parent_span))]
fn with_generic_parent<P: Into<Option<tracing::Id>>>(parent_span: P) {}

#[traced(parent = parent_span, skip(parent_span))]
fn with_impl_parent(parent_span: impl Into<Option<tracing::Id>>) {}
