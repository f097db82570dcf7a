//! The HTTPS client of the AWS SDK in a deployed function: rustls (aws-lc) trusting
//! the Amazon Trust Services roots compiled in (`amazon-roots.pem`: Amazon Root CA
//! 1–4 and the Starfield Services root that cross-signs them, the chain every AWS
//! service endpoint presents).
//!
//! The SDK's default client loads the system certificate store when a client is
//! built: on a cold start that is a bundle and a directory of some 150 certificates
//! read and parsed, several milliseconds of init for roots no AWS endpoint uses.
//! A local endpoint over plain HTTP (`CMP_AWS_ENDPOINT=http://…`) uses this client
//! too (no TLS at all); an HTTPS one keeps the SDK's default client and the system
//! roots.

use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_http_client::Builder;

/// The roots, PEM.
const AMAZON_ROOTS: &str = include_str!("amazon-roots.pem");

/// An HTTPS client for AWS endpoints that trusts only [`AMAZON_ROOTS`].
pub fn https_client() -> SharedHttpClient {
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AMAZON_ROOTS.as_bytes());
    let builder = Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
    match TlsContext::builder().with_trust_store(trust).build() {
        Ok(ctx) => builder.tls_context(ctx).build_https(),
        // Cannot happen with a valid compiled-in bundle (a test parses it); the
        // default trust store is the safe fallback.
        Err(e) => {
            tracing::error!(error = %e, "Amazon roots refused: system roots used");
            builder.build_https()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_roots_are_five_valid_certificates() {
        use rustls::pki_types::{pem::PemObject, CertificateDer};
        let certs: Vec<_> = CertificateDer::pem_slice_iter(AMAZON_ROOTS.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(certs.len(), 5);
        let mut store = rustls::RootCertStore::empty();
        let (valid, invalid) = store.add_parsable_certificates(certs);
        assert_eq!((valid, invalid), (5, 0));
    }
}
