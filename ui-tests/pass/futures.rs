//! Functions that return futures: `impl Future`, `Pin<Box<dyn Future>>`, a tower-style
//! `Service::call`, and an `async fn` under `#[tokio::main]`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use traced::traced;

#[traced]
fn later(x: u32) -> impl Future<Output = Result<u32, String>> + Send {
    async move {
        let half = x.checked_div(2).ok_or("zero")?;
        Ok(half)
    }
}

#[traced(ret)]
fn boxed<'a>(name: &'a str) -> Pin<Box<dyn Future<Output = usize> + Send + 'a>> {
    Box::pin(async move { name.len() })
}

pub trait Service<Request> {
    type Response;
    type Error;
    type Future: Future<Output = Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>>;
    fn call(&mut self, request: Request) -> Self::Future;
}

pub struct Echo {
    served: u64,
}

impl Service<String> for Echo {
    type Response = String;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<String, std::io::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    #[traced(kind = "server", skip(self))]
    fn call(&mut self, request: String) -> Self::Future {
        self.served += 1;
        let served = self.served;
        Box::pin(async move { Ok(format!("{served}: {request}")) })
    }
}

#[tokio::main(flavor = "current_thread")]
#[traced]
async fn main() {
    assert_eq!(later(4).await, Ok(2));
    assert_eq!(boxed("abc").await, 3);
    let mut echo = Echo { served: 0 };
    assert_eq!(echo.call("hi".to_owned()).await.unwrap(), "1: hi");
}
