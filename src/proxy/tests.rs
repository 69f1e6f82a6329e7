use super::*;

fn rules(vars: &[(&str, &str)]) -> ProxyRules {
    ProxyRules::from_env(&|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
}

/// The proxy `host:port` a URL goes through, `None` for a direct connection.
fn via(r: &ProxyRules, url: &str) -> Option<String> {
    r.for_url(url).unwrap().map(Proxy::authority)
}

#[test]
fn nothing_set_means_direct() {
    let r = rules(&[]);
    assert!(r.is_empty());
    assert_eq!(via(&r, "http://example.com/v1"), None);
    assert_eq!(via(&r, "https://example.com/v1"), None);
}

#[test]
fn each_scheme_has_its_own_variable() {
    let r = rules(&[("HTTP_PROXY", "http://p1:3128"), ("HTTPS_PROXY", "p2:3129")]);
    assert_eq!(via(&r, "http://example.com/v1").as_deref(), Some("p1:3128"));
    assert_eq!(
        via(&r, "https://example.com/v1").as_deref(),
        Some("p2:3129")
    );
    // HTTPS_PROXY alone says nothing about http URLs, and HTTP_PROXY nothing about https.
    let r = rules(&[("HTTPS_PROXY", "p2:3129")]);
    assert_eq!(via(&r, "http://example.com/v1"), None);
    let r = rules(&[("HTTP_PROXY", "p1:3128")]);
    assert_eq!(via(&r, "https://example.com/v1"), None);
}

#[test]
fn all_proxy_is_the_fallback_for_both() {
    let r = rules(&[("ALL_PROXY", "http://all:1"), ("https_proxy", "s:2")]);
    assert_eq!(via(&r, "http://example.com/").as_deref(), Some("all:1"));
    assert_eq!(via(&r, "https://example.com/").as_deref(), Some("s:2"));
    let r = rules(&[("all_proxy", "low:1"), ("ALL_PROXY", "up:2")]);
    assert_eq!(via(&r, "https://example.com/").as_deref(), Some("low:1"));
}

#[test]
fn lower_case_wins_and_empty_counts_as_unset() {
    let r = rules(&[
        ("http_proxy", "low:1"),
        ("HTTP_PROXY", "up:2"),
        ("https_proxy", "slow:3"),
        ("HTTPS_PROXY", "sup:4"),
    ]);
    assert_eq!(via(&r, "http://h/").as_deref(), Some("low:1"));
    assert_eq!(via(&r, "https://h/").as_deref(), Some("slow:3"));
    let r = rules(&[
        ("https_proxy", "  "),
        ("HTTPS_PROXY", "sup:4"),
        ("ALL_PROXY", ""),
    ]);
    assert_eq!(via(&r, "https://h/").as_deref(), Some("sup:4"));
    assert_eq!(via(&r, "http://h/"), None);
    let r = rules(&[("no_proxy", ""), ("NO_PROXY", "h"), ("HTTP_PROXY", "p:1")]);
    assert_eq!(via(&r, "http://h/"), None);
    let r = rules(&[
        ("no_proxy", "other"),
        ("NO_PROXY", "h"),
        ("HTTP_PROXY", "p:1"),
    ]);
    assert_eq!(via(&r, "http://h/").as_deref(), Some("p:1"));
}

#[test]
fn upper_case_http_proxy_is_ignored_under_cgi() {
    let r = rules(&[("HTTP_PROXY", "evil:1"), ("REQUEST_METHOD", "GET")]);
    assert_eq!(via(&r, "http://h/"), None);
    // The lower-case name and the other variables still apply.
    let r = rules(&[
        ("HTTP_PROXY", "evil:1"),
        ("http_proxy", "good:2"),
        ("HTTPS_PROXY", "s:3"),
        ("REQUEST_METHOD", "POST"),
    ]);
    assert_eq!(via(&r, "http://h/").as_deref(), Some("good:2"));
    assert_eq!(via(&r, "https://h/").as_deref(), Some("s:3"));
    let r = rules(&[
        ("HTTP_PROXY", "evil:1"),
        ("ALL_PROXY", "all:4"),
        ("REQUEST_METHOD", "GET"),
    ]);
    assert_eq!(via(&r, "http://h/").as_deref(), Some("all:4"));
}

#[test]
fn no_proxy_names_cover_subdomains_only() {
    let r = rules(&[
        ("ALL_PROXY", "p:1"),
        (
            "NO_PROXY",
            " example.com , .internal,*.corp.net , localhost:8080,",
        ),
    ]);
    for direct in [
        "http://example.com/",
        "https://api.example.com/",
        "http://EXAMPLE.COM./",
        "https://a.b.internal/",
        "https://internal/",
        "https://x.corp.net/",
        "http://localhost:8080/",
    ] {
        assert_eq!(via(&r, direct), None, "{direct}");
    }
    for proxied in [
        "http://notexample.com/",
        "http://example.com.evil.org/",
        "https://corp.net.org/",
        "http://localhost:9090/",
        "http://localhost/",
    ] {
        assert_eq!(via(&r, proxied).as_deref(), Some("p:1"), "{proxied}");
    }
}

#[test]
fn no_proxy_star_exempts_everything_ip_literals_included() {
    let r = rules(&[
        ("HTTP_PROXY", "p:1"),
        ("HTTPS_PROXY", "p:1"),
        ("NO_PROXY", "*"),
    ]);
    for url in [
        "http://example.com/",
        "https://10.0.0.1:8443/",
        "http://[::1]:8080/",
    ] {
        assert_eq!(via(&r, url), None, "{url}");
    }
    let r = rules(&[("HTTP_PROXY", "p:1"), ("NO_PROXY", "foo, *")]);
    assert_eq!(via(&r, "http://bar/"), None);
}

#[test]
fn no_proxy_ip_literals_blocks_and_ports() {
    let r = rules(&[
        ("ALL_PROXY", "p:1"),
        (
            "NO_PROXY",
            "127.0.0.1, 10.0.0.0/8, ::1, [fd00::1]:8080, 192.168.1.7:443, fe80::/10",
        ),
    ]);
    for direct in [
        "http://127.0.0.1:8080/",
        "http://10.20.30.40/",
        "http://[::1]:1234/",
        "http://[fd00::1]:8080/",
        "https://192.168.1.7/",
        "http://[fe80::abcd]/",
    ] {
        assert_eq!(via(&r, direct), None, "{direct}");
    }
    for proxied in [
        "http://127.0.0.2/",
        "http://11.0.0.1/",
        "http://[fd00::1]:8081/",
        "http://192.168.1.7:80/",
        "http://[fec0::1]/",
    ] {
        assert_eq!(via(&r, proxied).as_deref(), Some("p:1"), "{proxied}");
    }
    // A name never matches an address by suffix, and `localhost` is not 127.0.0.1.
    let r = rules(&[("ALL_PROXY", "p:1"), ("NO_PROXY", "0.0.1,localhost")]);
    assert_eq!(via(&r, "http://127.0.0.1/").as_deref(), Some("p:1"));
}

#[test]
fn proxy_urls_parse_with_credentials_and_defaults() {
    let r = rules(&[(
        "HTTP_PROXY",
        "http://us%40er:p%3Ass@proxy.corp:3128/ignored",
    )]);
    let p = r.for_url("http://h/").unwrap().unwrap();
    assert_eq!((p.host.as_str(), p.port), ("proxy.corp", 3128));
    assert_eq!(p.credentials, Some(("us@er".to_owned(), "p:ss".to_owned())));
    // base64("us@er:p:ss")
    assert_eq!(p.authorization().as_deref(), Some("Basic dXNAZXI6cDpzcw=="));
    assert_eq!(p.source, "HTTP_PROXY");
    let shown = format!("{p:?} {r:?}");
    assert!(
        !shown.contains("p:ss") && !shown.contains("p%3Ass"),
        "{shown}"
    );

    let r = rules(&[("HTTPS_PROXY", "HTTP://[::1]"), ("HTTP_PROXY", "plain")]);
    let p = r.for_url("https://h/").unwrap().unwrap();
    assert_eq!(
        (p.host.as_str(), p.port, p.authority()),
        ("::1", 80, "[::1]:80".to_owned())
    );
    assert_eq!(p.authorization(), None);
    assert_eq!(via(&r, "http://h/").as_deref(), Some("plain:80"));
}

#[test]
fn unusable_proxies_fail_only_when_used_and_hide_the_value() {
    let r = rules(&[
        ("HTTPS_PROXY", "socks5://user:hunter2@p:1080"),
        ("HTTP_PROXY", "http://p:notaport"),
        ("NO_PROXY", "direct.example"),
    ]);
    let e = r.for_url("https://h/").unwrap_err().to_string();
    assert!(e.contains("HTTPS_PROXY") && e.contains("socks5"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
    let e = r.for_url("http://h/").unwrap_err().to_string();
    assert!(e.contains("HTTP_PROXY") && e.contains("host[:port]"), "{e}");
    // An exempt host never looks at the proxy.
    assert_eq!(via(&r, "https://direct.example/"), None);
    let r = rules(&[("HTTPS_PROXY", "https://p:443")]);
    assert!(r.for_url("https://h/").is_err());
}

#[test]
fn targets_parse_like_the_model_urls() {
    let t = Target::of("https://user:pw@Example.com/v1?x=1").unwrap();
    assert_eq!((t.https, t.host, t.port), (true, "Example.com", 443));
    let t = Target::of("http://[::1]:8080/v1").unwrap();
    assert_eq!((t.https, t.host, t.port), (false, "::1", 8080));
    assert_eq!(t.authority(), "[::1]:8080");
    assert_eq!(Target::of("http://h:99999/").map(|t| t.port), None);
    assert_eq!(Target::of("ftp://h/"), None);
    assert_eq!(Target::of("http:///v1"), None);
}

#[test]
fn base64_matches_the_rfc_vectors() {
    for (plain, encoded) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64(plain.as_bytes()), encoded);
    }
}
