//! TLS to the Elasticsearch endpoint: a server whose certificate no trusted CA signed is
//! refused (nothing is sent to it), and `SLUICEGATE_ES_CA_BUNDLE` trusts a private CA instead
//! of the public roots. The CA and the server's certificate are made at test time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use sluicegate_lambda::es::{EsClient, EsConfig};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

/// A CA, as its PEM certificate, and a certificate for 127.0.0.1 it signed, with the key.
struct Pki {
    ca_pem: String,
    server_cert: rustls::pki_types::CertificateDer<'static>,
    server_key: Vec<u8>,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap().signed_by(&server_key, &ca, &ca_key).unwrap();
    Pki { ca_pem: ca.pem(), server_cert: server.der().clone(), server_key: server_key.serialize_der() }
}

/// An HTTPS server on 127.0.0.1 presenting `pki`'s certificate and answering `{}` to anything;
/// its URL and a count of the requests that reached it.
async fn https_server(pki: &Pki) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let key = rustls::pki_types::PrivateKeyDer::try_from(pki.server_key.clone()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![pki.server_cert.clone()], key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let n_requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = n_requests.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let acceptor = acceptor.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to serve.
                let Ok(stream) = acceptor.accept(stream).await else { return };
                let service = hyper::service::service_fn(move |_request| {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    async { Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from_static(b"{}")))) }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    (format!("https://{addr}"), n_requests)
}

async fn get(config: EsConfig) -> Result<u16, String> {
    let client = EsClient::new(config, None).map_err(|error| error.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(10);
    client.request(Method::GET, "/", None, deadline).await.map(|(status, _)| status.as_u16()).map_err(|error| error.to_string())
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_and_a_private_ca_bundle_trusted() {
    let ours = pki();
    let (url, n_requests) = https_server(&ours).await;
    let folder = sluicegate_tests::process::scratch_dir("es-tls");

    // The public roots do not know this CA: the handshake fails, nothing is sent.
    let error = get(EsConfig::new(url.clone())).await.unwrap_err();
    assert!(error.contains("invalid peer certificate: UnknownIssuer"), "{error}");
    assert_eq!(n_requests.load(std::sync::atomic::Ordering::SeqCst), 0);

    // With the CA's bundle, the same server is trusted.
    let bundle = folder.join("ca.pem");
    std::fs::write(&bundle, &ours.ca_pem).unwrap();
    assert_eq!(get(EsConfig { ca_bundle: Some(bundle), ..EsConfig::new(url.clone()) }).await, Ok(200));
    assert_eq!(n_requests.load(std::sync::atomic::Ordering::SeqCst), 1);

    // Another CA's bundle replaces the roots: this server is refused again.
    let other = folder.join("other.pem");
    std::fs::write(&other, pki().ca_pem).unwrap();
    let error = get(EsConfig { ca_bundle: Some(other), ..EsConfig::new(url) }).await.unwrap_err();
    // The other CA has the same name, so rustls finds it and the signature fails instead.
    assert!(error.contains("invalid peer certificate: BadSignature"), "{error}");

    // A bundle without a certificate stops the client from being built, naming the file.
    let empty = folder.join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let error = get(EsConfig { ca_bundle: Some(empty.clone()), ..EsConfig::new("https://127.0.0.1:9") }).await.unwrap_err();
    assert_eq!(error, format!("SLUICEGATE_ES_CA_BUNDLE {}: no CERTIFICATE in the file", empty.display()));
}
