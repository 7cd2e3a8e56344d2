//! `wss://`: the client speaks TLS (rustls, ring) to a server with a certificate, trusts
//! the system's roots and any extra ones it is given, and refuses a certificate it
//! cannot verify with a clear connect error.

mod support;

use std::net::SocketAddr;

use salon_client::{Client, ClientError, ConnectionState};
use salon_server::Server;
use support::{Profile, server_config, unique_handle};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_with_a_trusted_certificate_and_refused_without() {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("a self-signed certificate");
    let files = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (files.path().join("cert.pem"), files.path().join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, signing_key.serialize_pem()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut config = server_config(SocketAddr::from(([127, 0, 0, 1], 0)), data.path());
    config.tls_cert = Some(cert_path);
    config.tls_key = Some(key_path);
    let server = Server::start(config).await.unwrap();
    let url = server.ws_url();
    assert!(url.starts_with("wss://"), "{url}");

    let profile = Profile::new();
    let err = Client::connect(profile.config(&url)).await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Connect { reason, .. } if reason.to_lowercase().contains("certificate")),
        "an unknown issuer is refused: {err}"
    );

    let mut trusting = profile.config(&url);
    trusting.extra_root_certs = vec![cert.der().to_vec()];
    let client = Client::connect(trusting).await.unwrap();
    assert_eq!(client.state(), ConnectionState::Connected);
    client
        .register(&unique_handle("tls"), "Tee", None)
        .await
        .unwrap();
    client.ping().await.unwrap();
    client.shutdown().await;
    server.shutdown().await;
}
