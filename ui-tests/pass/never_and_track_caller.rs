//! `-> !`, `#[track_caller]`, `unsafe` and `extern "C"` functions, and default trait methods.

use traced::traced;

#[traced]
fn fail(message: &str) -> ! {
    panic!("{message}")
}

#[traced]
fn exit_loop() -> ! {
    loop {
        std::thread::park();
    }
}

#[traced]
#[track_caller]
fn where_called() -> u32 {
    std::panic::Location::caller().line()
}

#[track_caller]
#[traced]
fn checked(value: Option<u8>) -> u8 {
    value.expect("a value")
}

/// # Safety
/// `pointer` must be valid.
#[traced]
unsafe fn read(pointer: *const u8) -> u8 {
    unsafe { *pointer }
}

#[traced]
extern "C" fn callback(code: i32) -> i32 {
    code
}

pub trait Greeter {
    fn name(&self) -> String;

    #[traced]
    fn greet(&self, punctuation: char) -> String {
        format!("hello {}{punctuation}", self.name())
    }
}

struct World;

impl Greeter for World {
    fn name(&self) -> String {
        "world".to_owned()
    }
}

fn main() {
    let line = line!(); let reported = where_called();
    assert_eq!(line, reported);
    assert_eq!(checked(Some(1)), 1);
    assert_eq!(unsafe { read(&5) }, 5);
    assert_eq!(callback(3), 3);
    assert_eq!(World.greet('!'), "hello world!");
    if line == 0 {
        fail("unreachable");
    }
    if line == 1 {
        exit_loop();
    }
}
