//! The shop: a catalog service and an inventory service, each with its own SQLite database,
//! traced end to end — every request a SERVER span, every call between them a CLIENT span with
//! the context in its headers, every query a `#[traced]` database span.
//!
//! ```no_run
//! # async fn run() -> Result<(), String> {
//! use traced_examples::shop::{self, Config, DataDir};
//!
//! let data = DataDir::temporary().map_err(|e| e.to_string())?;
//! let shop = shop::start(&Config::loopback(data.path())).await?;
//! println!("catalog on {}", shop.catalog_url());
//! shop.stop().await;
//! # Ok(()) }
//! ```

pub mod api;
pub mod catalog;
pub mod db;
pub mod inventory;
pub mod scenario;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use tokio::net::TcpListener;

use crate::common::Served;
use db::Db;

/// Where the services listen and keep their databases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The catalog's address (port 0: any free port).
    pub catalog_addr: SocketAddr,
    /// The inventory's address (port 0: any free port).
    pub inventory_addr: SocketAddr,
    /// The directory of `catalog.db` and `inventory.db`.
    pub data_dir: PathBuf,
}

impl Config {
    /// Both services on free loopback ports, databases in `data_dir`.
    ///
    /// ```
    /// let config = traced_examples::shop::Config::loopback("/tmp/shop");
    /// assert_eq!(config.catalog_addr.port(), 0);
    /// ```
    pub fn loopback(data_dir: impl Into<PathBuf>) -> Config {
        let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        Config {
            catalog_addr: any,
            inventory_addr: any,
            data_dir: data_dir.into(),
        }
    }
}

/// The directory the databases live in: `DATA_DIR`, or a fresh temporary directory that is
/// removed again when this is dropped.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    temporary: bool,
}

impl DataDir {
    /// `DATA_DIR` (created if missing) when set, else [`DataDir::temporary`].
    pub fn from_env() -> io::Result<DataDir> {
        match std::env::var_os("DATA_DIR").filter(|dir| !dir.is_empty()) {
            Some(dir) => {
                let path = PathBuf::from(dir);
                std::fs::create_dir_all(&path)?;
                Ok(DataDir {
                    path,
                    temporary: false,
                })
            }
            None => DataDir::temporary(),
        }
    }

    /// A new, empty directory under the system's temporary directory.
    ///
    /// ```
    /// let dir = traced_examples::shop::DataDir::temporary().unwrap();
    /// let path = dir.path().to_owned();
    /// assert!(path.is_dir());
    /// drop(dir);
    /// assert!(!path.exists());
    /// ```
    pub fn temporary() -> io::Result<DataDir> {
        let base = std::env::temp_dir();
        let pid = std::process::id();
        // Several shops may run in one process (tests) or at once (several terminals).
        for attempt in 0..1000 {
            let path = base.join(format!("traced-shop-{pid}-{attempt}"));
            match std::fs::create_dir(&path) {
                Ok(()) => {
                    return Ok(DataDir {
                        path,
                        temporary: true,
                    })
                }
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
                Err(error) => return Err(error),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{}/traced-shop-{pid}-* are all taken", base.display()),
        ))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// The two running services.
#[derive(Debug)]
pub struct Shop {
    catalog: Served,
    inventory: Served,
}

impl Shop {
    /// The catalog's address.
    pub fn catalog_addr(&self) -> SocketAddr {
        self.catalog.addr
    }

    /// The inventory's address.
    pub fn inventory_addr(&self) -> SocketAddr {
        self.inventory.addr
    }

    /// `http://` and the catalog's address.
    pub fn catalog_url(&self) -> String {
        format!("http://{}", self.catalog.addr)
    }

    /// `http://` and the inventory's address.
    pub fn inventory_url(&self) -> String {
        format!("http://{}", self.inventory.addr)
    }

    /// Stops both services, letting requests under way finish.
    pub async fn stop(self) {
        for (name, served) in [("catalog", self.catalog), ("inventory", self.inventory)] {
            if let Err(error) = served.stop().await {
                eprintln!("{name} stopped with an error: {error}");
            }
        }
    }
}

/// Opens (or creates) both databases and starts both services.
pub async fn start(config: &Config) -> Result<Shop, String> {
    // Both listeners first: each service must know the other's address, and port 0 is only
    // resolved by binding.
    let catalog_listener = bind(config.catalog_addr, "catalog").await?;
    let inventory_listener = bind(config.inventory_addr, "inventory").await?;
    let catalog_url = url_of(&catalog_listener)?;
    let inventory_url = url_of(&inventory_listener)?;

    let open = |file: &str, schema: &str| {
        let path = config.data_dir.join(file);
        Db::open(&path, schema).map_err(|error| format!("cannot open {}: {error}", path.display()))
    };
    let catalog_db = open("catalog.db", catalog::SCHEMA)?;
    let inventory_db = open("inventory.db", inventory::SCHEMA)?;

    let catalog = Served::on(catalog_listener, catalog::router(catalog_db, inventory_url));
    let inventory = Served::on(
        inventory_listener,
        inventory::router(inventory_db, catalog_url),
    );
    match (catalog, inventory) {
        (Ok(catalog), Ok(inventory)) => Ok(Shop { catalog, inventory }),
        (Err(error), _) | (_, Err(error)) => Err(format!("cannot serve: {error}")),
    }
}

async fn bind(addr: SocketAddr, service: &str) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|error| format!("the {service} service cannot listen on {addr}: {error}"))
}

fn url_of(listener: &TcpListener) -> Result<String, String> {
    let addr = listener
        .local_addr()
        .map_err(|error| format!("a listener without an address: {error}"))?;
    Ok(format!("http://{addr}"))
}
