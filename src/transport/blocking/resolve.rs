//! Name lookups for the default agent's connector, without a thread per request.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// How long a looked-up host name is reused. Addresses only matter when a new connection is
/// opened, and one second is far below any DNS TTL worth honouring.
const RESOLVED_FOR: Duration = Duration::from_secs(1);

/// ureq's resolver, minus a thread per request.
///
/// When a call has a timeout (ours always do) ureq's default resolver spawns a thread for the
/// lookup so that it can give up on time. Measured on loopback (benches/README.md), that
/// thread cut the request rate from about 35k/s to 6k/s. Here an IP literal is used as it is
/// (no lookup at all, as ureq itself does without a timeout), and a host name is looked up
/// by ureq's resolver — with its thread and its timeout — at most once a second; later
/// connections reuse the addresses. The connector calls it only for new connections; the
/// agent's own resolver ([`NoLookup`]) does nothing, so pooled requests never look up.
#[derive(Debug, Default)]
pub(super) struct QuickResolver {
    lookup: DefaultResolver,
    /// The last name looked up, as `host:port`.
    recent: Mutex<Option<(String, Instant, ResolvedSocketAddrs)>>,
}

impl QuickResolver {
    /// The addresses of `host` (IPv6 without brackets) on `port`.
    pub(super) fn resolve(
        &self,
        host: &str,
        port: u16,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            let mut addrs = self.lookup.empty();
            for addr in config
                .ip_family()
                .keep_wanted(std::iter::once(SocketAddr::new(ip, port)))
            {
                addrs.push(addr);
            }
            return if addrs.is_empty() {
                Err(ureq::Error::HostNotFound)
            } else {
                Ok(addrs)
            };
        }
        let key = crate::proxy::authority(host, port);
        let now = Instant::now();
        if let Ok(recent) = self.recent.lock() {
            if let Some((k, at, addrs)) = recent.as_ref() {
                if *k == key && now.duration_since(*at) < RESOLVED_FOR {
                    return Ok(addrs.clone());
                }
            }
        }
        // ureq's resolver takes a URI; only its authority matters.
        let uri: ureq::http::Uri = format!("http://{key}/")
            .parse()
            .map_err(|_| ureq::Error::HostNotFound)?;
        let addrs = self.lookup.resolve(&uri, config, timeout)?;
        if let Ok(mut recent) = self.recent.lock() {
            *recent = Some((key, now, addrs.clone()));
        }
        Ok(addrs)
    }
}

/// The default agent's resolver: no lookup at all. ureq asks for addresses before it looks
/// in its pool; the connector looks the peer (server or proxy) up itself, only when it opens
/// a connection, within the connect timeout.
#[derive(Debug, Default)]
pub(super) struct NoLookup;

impl Resolver for NoLookup {
    fn resolve(
        &self,
        _uri: &ureq::http::Uri,
        _config: &ureq::config::Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        Ok(self.empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(r: &QuickResolver, host: &str, port: u16) -> Result<Vec<SocketAddr>, ureq::Error> {
        let config = ureq::config::Config::default();
        let timeout = NextTimeout {
            after: ureq::unversioned::transport::time::Duration::from_secs(5),
            reason: ureq::Timeout::Resolve,
            ..NextTimeout::default()
        };
        r.resolve(host, port, &config, timeout).map(|a| a.to_vec())
    }

    #[test]
    fn ip_literals_need_no_lookup() {
        let r = QuickResolver::default();
        assert_eq!(
            resolve(&r, "127.0.0.1", 8080).unwrap(),
            vec!["127.0.0.1:8080".parse().unwrap()]
        );
        assert_eq!(
            resolve(&r, "::1", 443).unwrap(),
            vec!["[::1]:443".parse().unwrap()]
        );
        assert!(r.recent.lock().unwrap().is_none());
    }

    #[test]
    fn a_host_name_is_looked_up_once_a_second() {
        let r = QuickResolver::default();
        let first = resolve(&r, "localhost", 8080).unwrap();
        assert!(first
            .iter()
            .all(|a| a.port() == 8080 && a.ip().is_loopback()));
        assert_eq!(
            r.recent.lock().unwrap().as_ref().map(|(k, _, _)| k.clone()),
            Some("localhost:8080".to_owned())
        );
        assert_eq!(resolve(&r, "localhost", 8080).unwrap(), first);
        // Another port is another name.
        let other = resolve(&r, "localhost", 9090).unwrap();
        assert!(other.iter().all(|a| a.port() == 9090));
    }
}
