//! Which proxy a request goes through, decided once for both transports: curl's rules for
//! `http_proxy`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY` (the crate guide, "Proxies").
//! Pure: the environment is passed in, so every rule is unit-tested without touching the
//! process environment.
//!
//! * `http_proxy` / `HTTP_PROXY` for `http://` URLs, `https_proxy` / `HTTPS_PROXY` for
//!   `https://` URLs, else `all_proxy` / `ALL_PROXY` for both.
//! * The lower-case name wins over the upper-case one (curl, and Python's `urllib`, which
//!   requests and httpx use). An empty variable counts as unset, as curl's `curl_getenv` does.
//! * Upper-case `HTTP_PROXY` is read, as requests and httpx read it (curl ignores it) — except
//!   when `REQUEST_METHOD` is set: in a CGI program `HTTP_PROXY` may come from a request's
//!   `Proxy:` header ("httpoxy"), so there it is ignored, as Python's `urllib` does.
//! * `no_proxy` / `NO_PROXY`: a comma-separated list, each entry trimmed. `*` exempts every
//!   host. A name exempts itself and its subdomains (`example.com` and `.example.com` both
//!   cover `api.example.com`). An IP address exempts that address, a CIDR block
//!   (`10.0.0.0/8`, `fd00::/8`) every address in it; names never match IP literals by
//!   suffix. An entry may carry a port (`localhost:8080`, `[::1]:8080`), and then exempts
//!   only that port.
//! * A proxy is written `http://[user:password@]host[:port]` or `host[:port]`; the port
//!   defaults to 80, as requests, httpx, ureq and reqwest have it (curl would use 1080).
//!   Only `http://` proxies are spoken to: another scheme (`https://`, `socks5://`, …) fails
//!   the request with [`Error::Config`] when it would be used.

use std::fmt;
use std::net::IpAddr;

use crate::error::Error;

/// The proxy rules of a model, read from the environment once when it is built.
#[derive(Clone, Default)]
pub(crate) struct ProxyRules {
    http: Option<Setting>,
    https: Option<Setting>,
    no_proxy: Vec<Exempt>,
}

/// One variable's proxy, or why it cannot be used.
#[derive(Clone)]
enum Setting {
    Proxy(Proxy),
    /// The variable is set to something this crate cannot use; the text names the variable
    /// and the problem, never the value (it may hold a password).
    Unusable(String),
}

/// An HTTP proxy: where it listens, and the credentials to give it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Proxy {
    /// The host as written, IPv6 addresses without brackets.
    pub host: String,
    pub port: u16,
    /// User and password, percent-decoded; sent as `Proxy-Authorization: Basic`.
    pub credentials: Option<(String, String)>,
    /// The variable it came from, for messages.
    pub source: &'static str,
}

impl Proxy {
    /// `host:port`, IPv6 in brackets: what error messages show (never the credentials).
    pub(crate) fn authority(&self) -> String {
        authority(&self.host, self.port)
    }

    /// The `Proxy-Authorization` header value, when the proxy URL carries credentials. (The
    /// async build hands reqwest the credentials in the proxy URL instead.)
    #[cfg_attr(feature = "async", allow(dead_code))]
    pub(crate) fn authorization(&self) -> Option<String> {
        self.credentials.as_ref().map(|(user, password)| {
            format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
        })
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("host", &self.host)
            .field("port", &self.port)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "<redacted>"),
            )
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Debug for ProxyRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |s: &Option<Setting>| match s {
            None => "none".to_owned(),
            Some(Setting::Proxy(p)) => format!("{} from {}", p.authority(), p.source),
            Some(Setting::Unusable(why)) => format!("unusable ({why})"),
        };
        f.debug_struct("ProxyRules")
            .field("http", &show(&self.http))
            .field("https", &show(&self.https))
            .field("no_proxy_entries", &self.no_proxy.len())
            .finish()
    }
}

/// `host:port` with IPv6 addresses in brackets.
pub(crate) fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Where a URL points: its scheme, host (IPv6 without brackets) and port (the scheme's
/// default when the URL has none). Lenient on purpose: the URL was validated when the model
/// was built, and a URL that does not parse here simply gets no proxy and no details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target<'a> {
    pub https: bool,
    pub host: &'a str,
    pub port: u16,
}

impl<'a> Target<'a> {
    pub(crate) fn of(url: &'a str) -> Option<Target<'a>> {
        let (scheme, rest) = url.split_once("://")?;
        let https = if scheme.eq_ignore_ascii_case("https") {
            true
        } else if scheme.eq_ignore_ascii_case("http") {
            false
        } else {
            return None;
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..end];
        // Credentials in the URL are not part of where it points.
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
        let (host, port) = split_host_port(host_port)?;
        let port = match port {
            Some(p) => p,
            None if https => 443,
            None => 80,
        };
        (!host.is_empty()).then_some(Target { https, host, port })
    }

    #[cfg_attr(feature = "async", allow(dead_code))]
    pub(crate) fn authority(&self) -> String {
        authority(self.host, self.port)
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; `None` when the port is not a number.
fn split_host_port(s: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(port) => Some((host, Some(port.parse().ok()?))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match s.rsplit_once(':') {
        // A bare IPv6 address has several colons and no port.
        Some((host, _)) if host.contains(':') => Some((s, None)),
        Some((host, port)) => Some((host, Some(port.parse().ok()?))),
        None => Some((s, None)),
    }
}

impl ProxyRules {
    /// Reads the proxy variables (the module docs give the rules).
    pub(crate) fn from_env(env: &dyn Fn(&str) -> Option<String>) -> ProxyRules {
        let var = |name: &'static str| {
            env(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .map(|v| (name, v))
        };
        let cgi = env("REQUEST_METHOD").is_some();
        let all = var("all_proxy").or_else(|| var("ALL_PROXY"));
        let http = var("http_proxy")
            .or_else(|| if cgi { None } else { var("HTTP_PROXY") })
            .or_else(|| all.clone());
        let https = var("https_proxy")
            .or_else(|| var("HTTPS_PROXY"))
            .or_else(|| all.clone());
        let no_proxy = var("no_proxy")
            .or_else(|| var("NO_PROXY"))
            .map(|(_, list)| parse_no_proxy(&list))
            .unwrap_or_default();
        ProxyRules {
            http: http.map(|(name, v)| Setting::parse(name, &v)),
            https: https.map(|(name, v)| Setting::parse(name, &v)),
            no_proxy,
        }
    }

    /// Whether any proxy variable is set: without one, nothing needs deciding.
    pub(crate) fn is_empty(&self) -> bool {
        self.http.is_none() && self.https.is_none()
    }

    /// The proxy for a request to `target`: `Ok(None)` to connect directly, or
    /// [`Error::Config`] when the variable that applies cannot be used.
    pub(crate) fn for_target(&self, target: &Target<'_>) -> Result<Option<&Proxy>, Error> {
        let setting = if target.https {
            &self.https
        } else {
            &self.http
        };
        let Some(setting) = setting else {
            return Ok(None);
        };
        if self.exempts(target.host, target.port) {
            return Ok(None);
        }
        match setting {
            Setting::Proxy(p) => Ok(Some(p)),
            Setting::Unusable(why) => Err(Error::Config(format!(
                "{why}; unset it, or list {} in NO_PROXY",
                target.host
            ))),
        }
    }

    /// The proxy for a URL (`None` also when the URL does not parse).
    pub(crate) fn for_url(&self, url: &str) -> Result<Option<&Proxy>, Error> {
        if self.is_empty() {
            return Ok(None);
        }
        match Target::of(url) {
            Some(target) => self.for_target(&target),
            None => Ok(None),
        }
    }

    /// Whether `NO_PROXY` exempts `host` (IPv6 with or without brackets) on `port`.
    pub(crate) fn exempts(&self, host: &str, port: u16) -> bool {
        if self.no_proxy.is_empty() {
            return false;
        }
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok();
        self.no_proxy.iter().any(|e| e.matches(&host, ip, port))
    }
}

impl Setting {
    fn parse(source: &'static str, value: &str) -> Setting {
        match parse_proxy(source, value) {
            Ok(p) => Setting::Proxy(p),
            Err(why) => Setting::Unusable(why),
        }
    }
}

/// Parses `[http://][user[:password]@]host[:port][/…]`. The error names the variable and
/// the problem, never the value.
fn parse_proxy(source: &'static str, value: &str) -> Result<Proxy, String> {
    let rest = match value.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
        Some((scheme, _)) => {
            let scheme = if scheme.len() <= 10 && scheme.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                scheme.to_ascii_lowercase()
            } else {
                "an unknown".to_owned()
            };
            return Err(format!(
                "the proxy in {source} uses the {scheme} scheme, but only http:// proxies are supported"
            ));
        }
        None => value,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((u, hp)) => (Some(u), hp),
        None => (None, authority),
    };
    let bad = || format!("the proxy in {source} is not a valid host[:port]");
    let (host, port) = split_host_port(host_port).ok_or_else(bad)?;
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let credentials = userinfo.map(|u| {
        let (user, password) = u.split_once(':').unwrap_or((u, ""));
        (percent_decode(user), percent_decode(password))
    });
    Ok(Proxy {
        host: host.to_owned(),
        port: port.unwrap_or(80),
        credentials,
        source,
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg_attr(feature = "async", allow(dead_code))]
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> shift) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One `NO_PROXY` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Exempt {
    /// `*`: every host.
    All,
    /// A name (lower case, without leading or trailing dots): itself and its subdomains.
    Name(String, Option<u16>),
    /// One address.
    Ip(IpAddr, Option<u16>),
    /// Every address whose first `bits` bits are those of the network.
    Block(IpAddr, u8),
}

fn parse_no_proxy(list: &str) -> Vec<Exempt> {
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .filter_map(parse_exempt)
        .collect()
}

fn parse_exempt(entry: &str) -> Option<Exempt> {
    if entry == "*" {
        return Some(Exempt::All);
    }
    if let Some((net, bits)) = entry.split_once('/') {
        let net: IpAddr = net.trim_matches(['[', ']']).parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits: u8 = bits.parse().ok().filter(|b| *b <= max)?;
        return Some(Exempt::Block(net, bits));
    }
    let (host, port) = split_host_port(entry)?;
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(Exempt::Ip(ip, port));
    }
    // `*.example.com` (httpx) and `.example.com` (curl) mean the same as `example.com`.
    let name = host.strip_prefix("*.").unwrap_or(host);
    let name = name.trim_start_matches('.').trim_end_matches('.');
    (!name.is_empty()).then(|| Exempt::Name(name.to_ascii_lowercase(), port))
}

impl Exempt {
    /// `host` is lower case, without brackets or a trailing dot; `ip` is it parsed.
    fn matches(&self, host: &str, ip: Option<IpAddr>, port: u16) -> bool {
        let port_ok = |p: &Option<u16>| p.is_none_or(|p| p == port);
        match self {
            Exempt::All => true,
            Exempt::Ip(addr, p) => ip == Some(*addr) && port_ok(p),
            Exempt::Block(net, bits) => ip.is_some_and(|ip| in_block(ip, *net, *bits)),
            // Names never match an IP literal by suffix (`0.0.1` must not exempt 127.0.0.1).
            Exempt::Name(name, p) => {
                ip.is_none()
                    && port_ok(p)
                    && (host == name
                        || host
                            .strip_suffix(name.as_str())
                            .is_some_and(|rest| rest.ends_with('.')))
            }
        }
    }
}

fn in_block(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (ip, net, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return false,
    };
    if bits == 0 {
        return true;
    }
    let shift = width - u32::from(bits);
    (ip >> shift) == (net >> shift)
}

#[cfg(test)]
mod tests;
