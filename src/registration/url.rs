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
    let invalid = |reason| Error::InvalidEndpointUrl { reason };
    let uri: http::Uri = url.parse().map_err(|_| invalid("is not a URL"))?;
    let host = uri
        .host()
        .filter(|host| !host.is_empty())
        .ok_or(invalid("must be absolute, with a host"))?;
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if is_loopback(host) => Ok(()),
        Some("http") => Err(invalid("must use https:// (plain http:// only for a loopback address)")),
        _ => Err(invalid("must start with https://")),
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
        ] {
            assert_eq!(check_endpoint_url(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://shop.example.com/hook",
            "http://10.0.0.1/x",
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
}
