//! `verify_cert` and `verify_cert_chain`: an X.509 chain checked by webpki (the verifier
//! rustls uses) for TLS server use at the current time, as Rex does.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, UnixTime};

/// Why a chain was not accepted.
#[derive(Debug)]
pub(crate) enum CertError {
    /// A file holds no certificate, or one that cannot be parsed.
    Parse(String),
    /// The chain does not verify.
    Untrusted(String),
}

fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertError::Parse(format!("the {what} is not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(CertError::Parse(format!("the {what} holds no certificate")));
    }
    Ok(certs)
}

/// Verifies the first certificate of `chain` up to the first of `root`, through the rest of
/// `chain` and `intermediates`.
pub(crate) fn verify(
    chain: &[u8],
    root: &[u8],
    intermediates: &[Vec<u8>],
) -> Result<(), CertError> {
    let mut between = certificates(chain, "certificate file")?;
    // `certificates` returns at least one.
    let leaf = between.remove(0);
    for file in intermediates {
        between.extend(certificates(file, "intermediate certificate file")?);
    }
    let root = certificates(root, "root CA file")?.remove(0);
    let anchor = webpki::anchor_from_trusted_cert(&root)
        .map_err(|e| CertError::Parse(format!("the root CA is not a usable trust anchor: {e}")))?;
    let leaf = webpki::EndEntityCert::try_from(&leaf)
        .map_err(|e| CertError::Parse(format!("the certificate cannot be parsed: {e}")))?;
    let now = UnixTime::now();
    leaf.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &[anchor],
        &between,
        now,
        webpki::KeyUsage::server_auth(),
        None,
        None,
    )
    .map(drop)
    .map_err(|e| CertError::Untrusted(format!("the certificate chain does not verify: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../tests/support/tls/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn a_chain_verifies_against_its_own_root_only() {
        let server = fixture("server.pem");
        assert!(verify(&server, &fixture("ca.pem"), &[]).is_ok());
        assert!(matches!(
            verify(&server, &fixture("other_ca.pem"), &[]),
            Err(CertError::Untrusted(_))
        ));
        assert!(matches!(
            verify(b"not pem", &fixture("ca.pem"), &[]),
            Err(CertError::Parse(_))
        ));
        assert!(matches!(
            verify(&fixture("server.key"), &fixture("ca.pem"), &[]),
            Err(CertError::Parse(_))
        ));
    }
}
