//! `ecosystem.config.js` under PM2 (installed from npm into the project, not globally), with
//! tansu, Redis and PostgreSQL: the services come up, one is killed, PM2 restarts it, and requests
//! succeed again.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use contracts::{CONTENT_DLQ_TOPIC, CONTENT_TOPIC};
use platform::testing::{Broker, free_port};
use serde_json::Value;

use crate::e2e::fresh_database;

fn project() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf()
}

/// PM2 with its own home, stopped (with every process it runs) when dropped.
struct Pm2 {
    home: PathBuf,
    env: Vec<(String, String)>,
}

impl Pm2 {
    fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::new(project().join("ops/node_modules/.bin/pm2"));
        command.args(args).current_dir(project()).env("PM2_HOME", &self.home);
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command.output().expect("pm2")
    }

    /// Each app's (name, pid, restarts, status).
    fn apps(&self) -> Vec<(String, u64, u64, String)> {
        let listed = self.run(&["jlist"]);
        let apps: Value = serde_json::from_slice(&listed.stdout).unwrap_or(Value::Null);
        apps.as_array()
            .map(|apps| {
                apps.iter()
                    .map(|app| {
                        (
                            app["name"].as_str().unwrap_or_default().to_owned(),
                            app["pid"].as_u64().unwrap_or(0),
                            app["pm2_env"]["restart_time"].as_u64().unwrap_or(0),
                            app["pm2_env"]["status"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Pm2 {
    fn drop(&mut self) {
        let _ = self.run(&["kill"]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pm2_restarts_a_killed_service_and_requests_succeed_again() {
    let installed = Command::new("npm")
        .args(["install", "--prefix", "ops", "--no-audit", "--no-fund"])
        .current_dir(project())
        .output()
        .expect("npm (Node.js) to install pm2 into the project");
    assert!(installed.status.success(), "{}", String::from_utf8_lossy(&installed.stderr));

    let dir = tempfile::tempdir().expect("dir");
    let broker = Broker::start();
    broker.create_topic(CONTENT_TOPIC, 3).await;
    broker.create_topic(CONTENT_DLQ_TOPIC, 1).await;
    let ports: Vec<u16> = (0..5).map(|_| free_port()).collect();
    let addr = |n: usize| format!("127.0.0.1:{}", ports[n]);
    let env: Vec<(String, String)> = [
        ("MEDIAMESH_BIN", env!("CARGO_BIN_EXE_mediamesh").to_owned()),
        ("MEDIAMESH_DATA_DIR", dir.path().join("data").display().to_string()),
        ("MEDIAMESH_LOG_DIR", dir.path().join("logs").display().to_string()),
        ("MEDIAMESH_DATABASE_URL", fresh_database().await),
        ("MEDIAMESH_KAFKA_BROKERS", broker.address()),
        ("MEDIAMESH_INDEXER_GROUP", format!("pm2-{}", uuid::Uuid::now_v7().simple())),
        ("MEDIAMESH_PUBLIC_ADDR", addr(0)),
        ("MEDIAMESH_CMS_GATEWAY_ADDR", addr(1)),
        ("MEDIAMESH_CMS_ADDR", addr(2)),
        ("MEDIAMESH_CMS_URL", format!("http://{}", addr(2))),
        ("MEDIAMESH_AUTH_ADDR", addr(3)),
        ("MEDIAMESH_AUTH_URL", format!("http://{}", addr(3))),
        ("MEDIAMESH_INDEXER_ADDR", addr(4)),
        ("MEDIAMESH_ADMIN_EMAIL", "admin@mediamesh.test".to_owned()),
        ("MEDIAMESH_ADMIN_PASSWORD", "a long passphrase".to_owned()),
        ("MEDIAMESH_CMS_RATE_LIMITS", "login=600/m".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let pm2 = Pm2 { home: dir.path().join("pm2"), env };
    let started = pm2.run(&["start", "ecosystem.config.js"]);
    assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("client");
    let logs = dir.path().join("logs");
    let dump = || {
        std::fs::read_dir(&logs)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| {
                        format!(
                            "---- {}\n{}",
                            e.path().display(),
                            std::fs::read_to_string(e.path()).unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    };

    // Five processes, all ready.
    let deadline = Instant::now() + Duration::from_secs(90);
    for n in 0..5 {
        while !client.get(format!("http://{}/readyz", addr(n))).send().await.is_ok_and(|r| r.status().is_success()) {
            assert!(Instant::now() < deadline, "{} never became ready: {:?}\n{}", addr(n), pm2.apps(), dump());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let apps = pm2.apps();
    assert_eq!(apps.len(), 5, "{apps:?}");
    assert!(apps.iter().all(|(_, _, _, status)| status == "online"), "{apps:?}");

    // Content through the editors' gateway, found through discovery.
    let editors = format!("http://{}", addr(1));
    let token = crate::login(&client, &editors, "admin@mediamesh.test").await;
    crate::publish_program(&client, &editors, &token, "Quarry songs").await;
    let searchable = || {
        let (client, url) = (client.clone(), format!("http://{}/v1/search?q=quarry", addr(0)));
        async move {
            match client.get(url).send().await {
                Ok(answer) => answer.json::<Value>().await.is_ok_and(|body| body["total"] == 1),
                Err(_) => false,
            }
        }
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !searchable().await {
        assert!(Instant::now() < deadline, "never searchable\n{}", dump());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Kill gateway-public outright; PM2 starts it again and discovery answers again.
    let (_, pid, restarts, _) =
        pm2.apps().into_iter().find(|(name, ..)| name == "mediamesh-gateway-public").expect("gateway-public");
    assert!(Command::new("kill").args(["-9", &pid.to_string()]).status().expect("kill").success());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let apps = pm2.apps();
        let restarted = apps.iter().any(|(name, new_pid, count, status)| {
            name == "mediamesh-gateway-public" && *count > restarts && *new_pid != pid && status == "online"
        });
        if restarted && searchable().await {
            break;
        }
        assert!(Instant::now() < deadline, "not restarted: {apps:?}\n{}", dump());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Per-service log files.
    for service in ["auth", "cms-core", "indexer", "gateway-public", "gateway-cms"] {
        assert!(logs.join(format!("{service}.log")).exists(), "{service}.log\n{}", dump());
    }
}
