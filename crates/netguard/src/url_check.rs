//! URL-level checks made before any connection: the scheme, the host, an IP-literal host
//! against the policy, and the same again for every redirect hop. Host names are checked
//! after DNS by [`crate::GuardedResolver`].

use std::error::Error;
use std::net::IpAddr;
use std::sync::Arc;

use crate::{AddressPolicy, RefusedAddress};

/// Why a URL may not be requested.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UrlRefusal {
    /// Not http or https.
    #[error("scheme {0} is not allowed (only http and https)")]
    Scheme(String),
    /// No host to connect to.
    #[error("the URL has no host")]
    NoHost,
    /// An IP-literal host in a refused range.
    #[error(transparent)]
    Address(#[from] RefusedAddress),
    /// The redirect chain is too long.
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
}

impl UrlRefusal {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            UrlRefusal::Scheme(_) | UrlRefusal::NoHost => "InvalidUrl",
            UrlRefusal::Address(_) => "SsrfRefused",
            UrlRefusal::TooManyRedirects(_) => "TooManyRedirects",
        }
    }
}

/// Checks what can be checked without DNS: scheme, host and an IP-literal host.
pub fn check_url(policy: &AddressPolicy, url: &url::Url) -> Result<(), UrlRefusal> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlRefusal::Scheme(url.scheme().to_owned()));
    }
    let literal = match url.host() {
        Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
        Some(url::Host::Domain(_)) => None,
        None => return Err(UrlRefusal::NoHost),
    };
    if let Some(ip) = literal {
        policy.check(ip)?;
    }
    Ok(())
}

/// A redirect policy following at most `max_hops` redirects, each re-checked with
/// [`check_url`] (its host name is checked after DNS by the resolver as usual).
pub fn redirect_policy(policy: Arc<AddressPolicy>, max_hops: usize) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > max_hops {
            return attempt.error(UrlRefusal::TooManyRedirects(max_hops));
        }
        match check_url(&policy, attempt.url()) {
            Ok(()) => attempt.follow(),
            Err(refusal) => attempt.error(refusal),
        }
    })
}

/// The guard's refusal somewhere in `error`'s chain (a redirect hop or a resolved address).
pub fn refused_in(error: &(dyn Error + 'static)) -> Option<UrlRefusal> {
    let mut source: Option<&(dyn Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(refusal) = e.downcast_ref::<UrlRefusal>() {
            return Some(refusal.clone());
        }
        if let Some(refused) = e.downcast_ref::<RefusedAddress>() {
            return Some(UrlRefusal::Address(refused.clone()));
        }
        source = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_before_any_request() {
        let policy = AddressPolicy::default();
        let check = |u: &str| check_url(&policy, &url::Url::parse(u).unwrap());
        assert!(check("https://example.com/a.mp4").is_ok());
        assert!(check("http://93.184.216.34/a.mp4").is_ok());
        assert!(matches!(
            check("ftp://example.com/a"),
            Err(UrlRefusal::Scheme(_))
        ));
        assert!(matches!(
            check("file:///etc/passwd"),
            Err(UrlRefusal::Scheme(_))
        ));
        let refused = check("http://169.254.169.254/latest").unwrap_err();
        assert_eq!(refused.code(), "SsrfRefused");
        assert!(refused.to_string().contains("169.254.169.254"), "{refused}");
        assert!(check("http://[::1]:80/").is_err());
        let loopback = AddressPolicy::parse("127.0.0.0/8").unwrap();
        assert!(check_url(&loopback, &url::Url::parse("http://127.0.0.1:9/x").unwrap()).is_ok());
    }

    #[test]
    fn refusals_are_found_in_error_chains() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] RefusedAddress);
        let inner = AddressPolicy::default()
            .check("10.0.0.1".parse().unwrap())
            .unwrap_err();
        let outer = Outer(inner);
        assert!(matches!(refused_in(&outer), Some(UrlRefusal::Address(_))));
        assert!(refused_in(&std::io::Error::other("x")).is_none());
    }
}
