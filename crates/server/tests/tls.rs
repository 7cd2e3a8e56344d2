//! TLS: with `tls_cert` and `tls_key` set, the server speaks `wss://` (and HTTPS) on its
//! one port, with ALPN `http/1.1`; a plain `ws://` client is refused; a client that
//! connects and never starts its handshake does not hold up anyone else; and a missing,
//! unreadable or half-given certificate/key is a startup error naming the file.
//!
//! The certificate is a self-signed one for `localhost` and `127.0.0.1`, made by
//! `rcgen` for each test, and the test client trusts exactly that certificate.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use salon_server::{Server, ServerConfig, StartError};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{Connector, connect_async, connect_async_tls_with_config};

/// Deadline for anything a test waits for (generous: a loaded 2-core machine).
const TIMEOUT: Duration = Duration::from_secs(15);

/// A self-signed certificate and its key, written as PEM files into a temp dir.
struct TestCert {
    dir: TempDir,
    cert: PathBuf,
    key: PathBuf,
    client: Arc<ClientConfig>,
}

fn make_cert() -> TestCert {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("generate a self-signed certificate");
    let dir = tempfile::tempdir().expect("temporary directory");
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.pem()).expect("write the certificate");
    std::fs::write(&key_path, signing_key.serialize_pem()).expect("write the key");

    let mut roots = RootCertStore::empty();
    roots
        .add(cert.der().clone())
        .expect("the test certificate is a valid root");
    let mut client =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    client.alpn_protocols = vec![b"http/1.1".to_vec()];
    TestCert {
        dir,
        cert: cert_path,
        key: key_path,
        client: Arc::new(client),
    }
}

fn config(data_dir: &Path, cert: Option<&Path>, key: Option<&Path>) -> ServerConfig {
    ServerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: data_dir.to_path_buf(),
        database_url: None,
        tls_cert: cert.map(Path::to_path_buf),
        tls_key: key.map(Path::to_path_buf),
        ..ServerConfig::default()
    }
}

async fn start_tls(cert: &TestCert) -> Server {
    let data = cert.dir.path().join("data");
    Server::start(config(&data, Some(&cert.cert), Some(&cert.key)))
        .await
        .expect("the server starts with TLS")
}

/// Connects over `wss://`, says hello and returns the parsed reply.
async fn hello_over_wss(url: &str, client: &Arc<ClientConfig>) -> serde_json::Value {
    let (mut ws, _) = tokio::time::timeout(
        TIMEOUT,
        connect_async_tls_with_config(url, None, false, Some(Connector::Rustls(client.clone()))),
    )
    .await
    .expect("wss connect in time")
    .expect("wss connect");
    ws.send(Message::text(
        r#"{"id":1,"type":"hello","version":1,"client":"tls-test"}"#,
    ))
    .await
    .expect("send hello");
    let reply = loop {
        let message = tokio::time::timeout(TIMEOUT, ws.next())
            .await
            .expect("a reply in time")
            .expect("the connection stays open")
            .expect("a WebSocket message");
        if let Message::Text(text) = message {
            break serde_json::from_str(&text).expect("the reply is JSON");
        }
    };
    let _ = ws.close(None).await;
    reply
}

#[tokio::test]
async fn wss_hello_gets_welcome() {
    let cert = make_cert();
    let server = start_tls(&cert).await;
    let url = server.ws_url();
    assert_eq!(
        url,
        format!("wss://{}/v1/ws", server.local_addr()),
        "ws_url says wss"
    );

    let reply = hello_over_wss(&url, &cert.client).await;
    assert_eq!(reply["type"], "welcome", "reply: {reply}");
    assert_eq!(reply["re"], 1, "reply: {reply}");

    server.shutdown().await;
}

#[tokio::test]
async fn https_healthz_with_alpn_http11() {
    let cert = make_cert();
    let server = start_tls(&cert).await;

    let tcp = TcpStream::connect(server.local_addr())
        .await
        .expect("tcp connect");
    let connector = tokio_rustls::TlsConnector::from(cert.client.clone());
    let name = ServerName::try_from("localhost").expect("server name");
    let mut tls = tokio::time::timeout(TIMEOUT, connector.connect(name, tcp))
        .await
        .expect("handshake in time")
        .expect("TLS handshake");
    assert_eq!(
        tls.get_ref().1.alpn_protocol(),
        Some(&b"http/1.1"[..]),
        "ALPN http/1.1"
    );
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("send request");
    let mut response = Vec::new();
    tokio::time::timeout(TIMEOUT, tls.read_to_end(&mut response))
        .await
        .expect("response in time")
        .expect("read response");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200"), "response: {response}");
    assert!(response.ends_with("ok"), "response: {response}");

    server.shutdown().await;
}

#[tokio::test]
async fn plain_ws_to_tls_port_fails() {
    let cert = make_cert();
    let server = start_tls(&cert).await;
    let plain = format!("ws://{}/v1/ws", server.local_addr());

    let result = tokio::time::timeout(TIMEOUT, connect_async(plain.as_str()))
        .await
        .expect("the plain attempt ends in time");
    assert!(
        result.is_err(),
        "a plain ws:// connection to the TLS port must fail"
    );

    // The server is still fine for TLS clients afterwards.
    let reply = hello_over_wss(&server.ws_url(), &cert.client).await;
    assert_eq!(reply["type"], "welcome", "reply: {reply}");
    server.shutdown().await;
}

#[tokio::test]
async fn stalled_handshake_does_not_block_others() {
    let cert = make_cert();
    let server = start_tls(&cert).await;

    // Connects over TCP and never sends a ClientHello.
    let _stalled = TcpStream::connect(server.local_addr())
        .await
        .expect("tcp connect");
    tokio::time::sleep(Duration::from_millis(100)).await;

    // Well inside the server's 10 s handshake deadline.
    let started = std::time::Instant::now();
    let reply = hello_over_wss(&server.ws_url(), &cert.client).await;
    assert_eq!(reply["type"], "welcome", "reply: {reply}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );

    server.shutdown().await;
}

#[tokio::test]
async fn missing_key_file_is_a_clear_error() {
    let cert = make_cert();
    let missing = cert.dir.path().join("no-such-key.pem");
    let data = cert.dir.path().join("data");

    let err = Server::start(config(&data, Some(&cert.cert), Some(&missing)))
        .await
        .expect_err("a missing key file stops the start");
    match &err {
        StartError::Tls { path, .. } => assert_eq!(path, &missing),
        other => panic!("expected StartError::Tls, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(&missing.display().to_string()),
        "the message names the file: {message}"
    );
}

#[tokio::test]
async fn unparsable_certificate_is_a_clear_error() {
    let cert = make_cert();
    let data = cert.dir.path().join("data");
    // A key is not a certificate.
    let err = Server::start(config(&data, Some(&cert.key), Some(&cert.key)))
        .await
        .expect_err("a file without a certificate stops the start");
    match &err {
        StartError::Tls { path, reason } => {
            assert_eq!(path, &cert.key);
            assert!(reason.contains("no certificate"), "reason: {reason}");
        }
        other => panic!("expected StartError::Tls, got {other:?}"),
    }
}

#[tokio::test]
async fn cert_without_key_is_a_clear_error() {
    let cert = make_cert();
    let data = cert.dir.path().join("data");
    let err = Server::start(config(&data, Some(&cert.cert), None))
        .await
        .expect_err("a certificate alone stops the start");
    assert!(
        matches!(err, StartError::TlsIncomplete { .. }),
        "got {err:?}"
    );
    assert!(
        err.to_string().contains("both"),
        "the message says both are needed: {err}"
    );
}
