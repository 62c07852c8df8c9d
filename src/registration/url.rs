//! Which URLs the crate registers or sends to: `https://`, or plain
//! `http://` only to a loopback address, for local testing.

use std::net::IpAddr;

use super::Error;

/// Checks an endpoint URL before it is registered: absolute `https://`, or
/// `http://` to a loopback host for local testing.
///
/// # Errors
/// [`Error::InvalidEndpointUrl`] saying what is wrong.
pub fn check_endpoint_url(url: &str) -> Result<(), Error> {
    check(url)
        .map(drop)
        .map_err(|reason| Error::InvalidEndpointUrl { reason })
}

/// Checks the API base URL by the same rule (the secret API key goes to
/// it), and refuses a user name or password (they would be sent too, and
/// shown in errors) and a query (the paths go after the base).
pub(super) fn check_base_url(url: &str) -> Result<(), Error> {
    let invalid = |reason| Error::InvalidBaseUrl { reason };
    let uri = check(url).map_err(invalid)?;
    if uri
        .authority()
        .is_some_and(|authority| authority.as_str().contains('@'))
    {
        return Err(invalid("must not hold a user name or password"));
    }
    if uri.query().is_some() {
        return Err(invalid("must not have a query (`?...`)"));
    }
    Ok(())
}

/// The rule for every URL: absolute, with a host, and `https://`, or plain
/// `http://` only to a loopback address; the scheme in any casing.
fn check(url: &str) -> Result<http::Uri, &'static str> {
    let uri: http::Uri = url.parse().map_err(|_| "is not a URL")?;
    let host = uri
        .host()
        .filter(|host| !host.is_empty())
        .ok_or("must be absolute, with a host")?;
    let scheme = uri.scheme_str().unwrap_or_default();
    if scheme.eq_ignore_ascii_case("https") || (scheme.eq_ignore_ascii_case("http") && is_loopback(host)) {
        Ok(uri)
    } else if scheme.eq_ignore_ascii_case("http") {
        Err("must use https:// (plain http:// only for a loopback address)")
    } else {
        Err("must start with https://")
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls_must_be_https_except_on_loopback() {
        for ok in [
            "https://shop.example.com/hook",
            "http://127.0.0.1:3000/webhooks/yoco",
            "http://localhost/x",
            "http://[::1]:8080/",
            "HTTPS://shop.example.com/hook",
            "Https://shop.example.com/hook",
            "HTTP://127.0.0.1:3000/x",
            "hTtP://LOCALHOST/x",
            "http://127.8.9.10/x",
        ] {
            assert_eq!(check_endpoint_url(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://shop.example.com/hook",
            "http://10.0.0.1/x",
            "HTTP://shop.example.com/hook",
            "Http://10.0.0.1/x",
            "http://localhost.example.com/x",
            "http://127.0.0.1.example.com/x",
            "http://[::ffff:10.0.0.1]/x",
            "ftp://x/y",
            "/webhooks",
            "shop.example.com",
            "",
            "https://",
        ] {
            assert!(
                matches!(check_endpoint_url(bad), Err(Error::InvalidEndpointUrl { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_api_base_holds_no_credentials_or_query() {
        assert_eq!(check_base_url("https://payments.yoco.com/api"), Ok(()));
        for bad in [
            "https://user:hunter2@payments.yoco.com/api",
            "https://user@payments.yoco.com/api",
            "http://user:hunter2@127.0.0.1:9/api",
            "https://payments.yoco.com/api?x=1",
            "http://payments.yoco.com/api",
        ] {
            let err = check_base_url(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidBaseUrl { .. }), "{bad}");
            assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
        }
    }
}
