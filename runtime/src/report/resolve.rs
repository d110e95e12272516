//! Name resolution for the reporter's HTTP agent: no lookup for an IP address, and one lookup
//! per host name every 30 s instead of one per POST.
//!
//! ureq's default resolver looks the endpoint's host up again for every request, and when the
//! request has a timeout (ours always do: the whole exchange is bounded) it looks up on a new
//! thread, so that it can give up: one thread spawned per batch, even for `127.0.0.1` (strace of
//! the export benchmark's reporter thread: a `clone3` for every POST). This resolver answers an
//! IP address at once, and keeps a host name's addresses for [`KEEP`] (the JVM's default for
//! successful lookups), looking the name up through ureq's resolver, timeout and all, when they
//! are older or when none is kept, and again after any POST that failed short of an answer
//! (the collector may have moved: [`Lookups::forget`]).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// How long a host name's addresses are used before it is looked up again.
pub(crate) const KEEP: Duration = Duration::from_secs(30);

/// See the module documentation.
#[derive(Default)]
pub(crate) struct ReporterResolver {
    lookup: DefaultResolver,
    kept: Lookups,
}

/// The lookup a [`ReporterResolver`] keeps, shared with the sender that can forget it.
#[derive(Clone, Default)]
pub(crate) struct Lookups(Arc<Mutex<Option<Kept>>>);

impl Lookups {
    /// Drops the kept addresses: the next POST looks the host up again.
    pub(crate) fn forget(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Kept>> {
        self.0.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

impl ReporterResolver {
    /// The resolver, and a handle on what it keeps.
    pub(crate) fn new() -> (ReporterResolver, Lookups) {
        let resolver = ReporterResolver::default();
        let lookups = resolver.kept.clone();
        (resolver, lookups)
    }
}

/// The last lookup: which host and port, its answer, and when.
struct Kept {
    host_and_port: String,
    addresses: ResolvedSocketAddrs,
    at: Instant,
}

impl fmt::Debug for ReporterResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReporterResolver").finish_non_exhaustive()
    }
}

impl Resolver for ReporterResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let Some((host, port)) = host_and_port(uri) else {
            // Not a URL we can read: ureq's resolver says what is wrong with it.
            return self.lookup.resolve(uri, config, timeout);
        };
        if let Ok(ip) = host.parse::<IpAddr>() {
            let mut addresses = self.empty();
            addresses.push(SocketAddr::new(ip, port));
            return Ok(addresses);
        }
        let host_and_port = format!("{host}:{port}");
        let mut kept = self.kept.lock();
        if let Some(kept) = kept
            .as_ref()
            .filter(|kept| kept.host_and_port == host_and_port && kept.at.elapsed() < KEEP)
        {
            return Ok(kept.addresses.clone());
        }
        // Only the reporter's thread resolves: holding the lock while it looks up blocks nobody.
        let addresses = self.lookup.resolve(uri, config, timeout)?;
        *kept = Some(Kept {
            host_and_port,
            addresses: addresses.clone(),
            at: Instant::now(),
        });
        Ok(addresses)
    }
}

/// The host (brackets taken off an IPv6 address) and port (the scheme's default if none) of
/// `uri`.
fn host_and_port(uri: &Uri) -> Option<(&str, u16)> {
    let authority = uri.authority()?;
    let port = match authority.port_u16() {
        Some(port) => port,
        None => match uri.scheme_str()? {
            "http" => 80,
            "https" => 443,
            _ => return None,
        },
    };
    let host = authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|host| host.strip_suffix(']'))
        .unwrap_or(host);
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(url: &str) -> Result<Vec<SocketAddr>, ureq::Error> {
        let resolver = ReporterResolver::default();
        let uri: Uri = url.parse().expect("a valid URI");
        let config = Config::default();
        let timeout = NextTimeout {
            after: ureq::unversioned::transport::time::Duration::Exact(Duration::from_secs(5)),
            reason: ureq::Timeout::Resolve,
            ..NextTimeout::default()
        };
        resolver
            .resolve(&uri, &config, timeout)
            .map(|addresses| addresses.iter().copied().collect())
    }

    #[test]
    fn ip_addresses_are_answered_without_a_lookup() {
        assert_eq!(
            resolve("http://127.0.0.1:9411/api/v2/spans").unwrap(),
            vec!["127.0.0.1:9411".parse().unwrap()]
        );
        assert_eq!(
            resolve("http://[::1]:4318/v1/traces").unwrap(),
            vec!["[::1]:4318".parse().unwrap()]
        );
        assert_eq!(
            resolve("https://10.0.0.7/api/v2/spans").unwrap(),
            vec!["10.0.0.7:443".parse().unwrap()]
        );
    }

    #[test]
    fn a_host_name_is_looked_up_and_kept() {
        let resolver = ReporterResolver::default();
        let uri: Uri = "http://localhost:9411/api/v2/spans".parse().unwrap();
        let config = Config::default();
        let timeout = || NextTimeout {
            after: ureq::unversioned::transport::time::Duration::Exact(Duration::from_secs(5)),
            reason: ureq::Timeout::Resolve,
            ..NextTimeout::default()
        };
        let first = resolver.resolve(&uri, &config, timeout()).unwrap();
        assert!(first.iter().all(|address| address.port() == 9411));
        assert!(first.iter().all(|address| address.ip().is_loopback()));
        let kept_at = resolver.kept.lock().as_ref().unwrap().at;
        let second = resolver.resolve(&uri, &config, timeout()).unwrap();
        assert_eq!(first.len(), second.len());
        // The second answer came from what was kept: no new lookup was made.
        assert_eq!(resolver.kept.lock().as_ref().unwrap().at, kept_at);
        // Forgotten after a failed POST: the next one looks up again.
        resolver.kept.forget();
        resolver.resolve(&uri, &config, timeout()).unwrap();
        assert!(resolver.kept.lock().as_ref().unwrap().at > kept_at);
    }
}
