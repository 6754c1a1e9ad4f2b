//! The server behind a real nginx with TLS, configured with the README's own server block and
//! a certificate made at test time: devices reach it over https, browsers are told to stay on
//! https, and the per-address sign-in limit and the audit log see each client's address,
//! never the proxy's, nor one a client wrote into the header itself.
//!
//! nginx is found at `DOORSTEP_TEST_NGINX` (`scripts/test` sets it from
//! `scripts/nginx-for-tests`); without it the test says so and is skipped.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use doorstep_shared::sync::protocol::{self, CONTENT_TYPE, Cursor, SyncRequest};
use doorstep_tests::ServerProcess;
use doorstep_tests::tls::TestCertificates;
use serde_json::json;

/// The README's nginx server block, as an administrator would copy it.
fn readme_server_block() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let start = readme
        .find("```nginx\n")
        .expect("the README has an nginx block")
        + 9;
    let end = start + readme[start..].find("```").unwrap();
    readme[start..end].to_owned()
}

/// Replaces `from` with `to` in `text`, which must hold it: if the README's block changes,
/// this test must be brought along.
fn put(text: String, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "the README's nginx block no longer has {from:?}"
    );
    text.replace(from, to)
}

/// nginx in the foreground, killed when dropped.
struct Nginx {
    child: Child,
    dir: PathBuf,
}

impl Nginx {
    fn start(binary: &str, dir: &Path, server_block: String) -> Nginx {
        let config = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {dir}/nginx.pid;\n\
             error_log {dir}/error.log;\nevents {{ worker_connections 64; }}\nhttp {{\n\
             access_log off;\nclient_body_temp_path {dir}/body;\nproxy_temp_path {dir}/proxy;\n\
             fastcgi_temp_path {dir}/fastcgi;\nuwsgi_temp_path {dir}/uwsgi;\n\
             scgi_temp_path {dir}/scgi;\n{server_block}\n}}\n",
            dir = dir.display()
        );
        let path = dir.join("nginx.conf");
        std::fs::write(&path, config).unwrap();
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nginx");
        Nginx {
            child,
            dir: dir.to_owned(),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A client from `from`, a loopback address of its own, that trusts the test's authority.
fn client(from: Ipv4Addr, authority: &Path) -> reqwest::Client {
    let authority = reqwest::Certificate::from_pem(&std::fs::read(authority).unwrap()).unwrap();
    reqwest::Client::builder()
        .local_address(IpAddr::V4(from))
        .add_root_certificate(authority)
        .build()
        .unwrap()
}

async fn sign_in(client: &reqwest::Client, url: &str, user: &str, password: &str) -> u16 {
    client
        .post(format!("{url}/v1/sign-in"))
        .header("x-forwarded-for", "127.0.0.9")
        .json(&json!({"user": user, "password": password, "device_name": "phone"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn behind_nginx_with_tls_each_client_is_seen_by_its_own_address() {
    let Ok(nginx) = std::env::var("DOORSTEP_TEST_NGINX") else {
        eprintln!("skipped: DOORSTEP_TEST_NGINX is not set (scripts/test sets it)");
        return;
    };
    // nginx connects to the server from 127.0.0.1; clients come from 127.0.30.x.
    let server = ServerProcess::start_with_settings("trusted_proxies = [\"127.0.0.1\"]\n").unwrap();
    server.team("north", &[("amara", "worker")]).unwrap();
    let dir = tempfile::TempDir::new().unwrap();
    let certificates = TestCertificates::make_in(dir.path()).unwrap();
    let port = free_port();
    let block = readme_server_block();
    let block = put(
        block,
        "listen 443 ssl;",
        &format!("listen 127.0.0.1:{port} ssl;"),
    );
    let block = put(
        block,
        "/etc/ssl/doorstep/fullchain.pem",
        &certificates.certificate.display().to_string(),
    );
    let block = put(
        block,
        "/etc/ssl/doorstep/privkey.pem",
        &certificates.key.display().to_string(),
    );
    let block = put(
        block,
        "http://127.0.0.1:8080",
        &format!("http://{}", server.address),
    );
    let proxy = Nginx::start(&nginx, dir.path(), block);
    let url = format!("https://localhost:{port}");

    let guesser = client(Ipv4Addr::new(127, 0, 30, 4), &certificates.authority);
    let mut up = None;
    for _ in 0..100 {
        match guesser.get(format!("{url}/healthz")).send().await {
            Ok(answer) => {
                up = Some(answer);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let health = up.unwrap_or_else(|| panic!("nginx did not answer: {}", proxy.log()));
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );
    assert_eq!(health.headers()["cache-control"], "no-store");

    // A stranger guesses at ten names through the proxy, writing another address into the
    // header each time; the eleventh is refused for his address.
    for n in 0..10 {
        let status = sign_in(&guesser, &url, &format!("nobody{n}"), "a wrong guess").await;
        assert_eq!(status, 401);
    }
    assert_eq!(
        sign_in(&guesser, &url, "nobody10", "a wrong guess").await,
        429
    );
    // A worker elsewhere, through the same proxy, is not held up by him.
    let worker = client(Ipv4Addr::new(127, 0, 30, 5), &certificates.authority);
    let response = worker
        .post(format!("{url}/v1/sign-in"))
        .json(&json!({"user": "amara", "password": "password-amara", "device_name": "phone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let token = response.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // She syncs over https.
    let request = SyncRequest {
        cursor: Cursor::default(),
        pushes: Vec::new(),
    };
    let synced = worker
        .post(format!("{url}/v1/sync"))
        .bearer_auth(&token)
        .header("content-type", CONTENT_TYPE)
        .body(protocol::encode(&request))
        .send()
        .await
        .unwrap();
    assert_eq!(synced.status(), 200);

    // Straight to the server, bypassing the proxy, the header is not believed.
    let direct = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 30, 6)))
        .build()
        .unwrap();
    let status = direct
        .post(format!("{}/v1/sign-in", server.url()))
        .header("x-forwarded-for", "127.0.30.5")
        .json(&json!({"user": "nobody", "password": "a wrong guess", "device_name": "x"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);

    let audit = server.admin(&["admin", "audit"], "").unwrap();
    let lines: Vec<&str> = audit.lines().collect();
    let with = |action: &str, address: &str| {
        lines
            .iter()
            .filter(|line| line.contains(action) && line.contains(&format!("\t{address}\t")))
            .count()
    };
    assert_eq!(with("sign_in_refused", "127.0.30.4"), 11, "{audit}");
    assert_eq!(with("sign_in\t", "127.0.30.5"), 1, "{audit}");
    assert_eq!(with("sync\t", "127.0.30.5"), 1, "{audit}");
    assert_eq!(with("sign_in_refused", "127.0.30.6"), 1, "{audit}");
    assert!(
        !audit.contains("127.0.0.9") && !audit.contains("\t127.0.0.1\t"),
        "neither the header a client wrote nor the proxy's address is taken for a client's: {audit}"
    );
}
