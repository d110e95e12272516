//! `#[async_trait]` on the trait or impl, with `#[traced]` before or after other method
//! attributes, on required and default methods.

use async_trait::async_trait;
use traced::traced;

#[async_trait]
pub trait Store {
    async fn get(&self, key: &str) -> Option<String>;

    #[traced]
    #[allow(clippy::needless_lifetimes)]
    async fn get_or<'a>(&'a self, key: &'a str, fallback: &'a str) -> String {
        self.get(key).await.unwrap_or_else(|| fallback.to_owned())
    }
}

pub struct Memory;

#[async_trait]
impl Store for Memory {
    #[inline]
    #[traced(kind = "client")]
    async fn get(&self, key: &str) -> Option<String> {
        (!key.is_empty()).then(|| key.to_owned())
    }
}

#[async_trait]
pub trait Fallible: Send + Sync {
    async fn run(&self, input: u32) -> anyhow::Result<u32>;
}

pub struct Doubler;

#[async_trait]
impl Fallible for Doubler {
    #[traced(ret, err)]
    #[allow(unused_variables)]
    async fn run(&self, input: u32) -> anyhow::Result<u32> {
        let doubled = input.checked_mul(2).ok_or_else(|| anyhow::anyhow!("overflow"))?;
        Ok(doubled)
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let store: &(dyn Store + Sync) = &Memory;
    assert_eq!(runtime.block_on(store.get_or("", "x")), "x");
    let fallible: &dyn Fallible = &Doubler;
    assert_eq!(runtime.block_on(fallible.run(2)).unwrap(), 4);
}
