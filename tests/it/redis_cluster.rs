//! The Redis store on a real Redis Cluster on 127.0.0.1: six
//! `valkey-server` nodes in cluster mode (three primaries, three replicas),
//! joined by Valkey's own `valkey-cli --cluster create`. The store contract,
//! the adapter suite and two example receivers sharing the cluster, the
//! round trips per delivery on the key's node, and a primary killed mid-run:
//! 503 while no node owns its slots, then its replica promoted and the
//! receivers recovering by themselves. Most tests share one cluster; the
//! kill test starts its own. Needs a Valkey built by `scripts/install-valkey`
//! (else one on `PATH`).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use yoco_webhooks::dedup::{Claim, Deduplicator, IdempotencyStore, StoreErrorKind};
use yoco_webhooks::redis::{RedisStore, RedisStoreBuilder};
use yoco_webhooks::testing::check_store;
use yoco_webhooks::{Processed, WebhookId, YocoWebhookConfig};

use crate::adapters::{Recorder, receiver};
use crate::conformance::passed;
use crate::redis::{assert_no_secret, deliver, serve, url};
use crate::servers::{Ready, Server, ServerSpec, Shared, free_port};

/// Where `scripts/install-valkey` puts its build.
const VALKEY_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/tools/valkey/bin");

/// How long a node waits for another before it counts it as failed: short,
/// so that a replica takes over a killed primary within a few seconds.
const NODE_TIMEOUT_MS: u32 = 1000;

/// Six nodes in cluster mode, joined as three primaries with a replica each.
struct Cluster {
    nodes: Vec<Server>,
    /// The ports of the nodes killed.
    down: HashSet<u16>,
}

impl Cluster {
    fn start() -> Cluster {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let run = NEXT.fetch_add(1, Ordering::SeqCst);
        let nodes: Vec<Server> = (0..6)
            .map(|n| {
                let dir = std::env::temp_dir().join(format!("yoco-webhooks-cluster-{}-{run}-{n}", std::process::id()));
                std::fs::create_dir_all(&dir).unwrap();
                Server::start(node_spec(dir))
            })
            .collect();
        let addresses: Vec<String> = nodes.iter().map(|node| node.address().to_string()).collect();
        let created = Command::new(valkey_cli())
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .unwrap();
        assert!(
            created.status.success(),
            "valkey-cli --cluster create failed:\n{}\n{}",
            String::from_utf8_lossy(&created.stdout),
            String::from_utf8_lossy(&created.stderr)
        );
        let cluster = Cluster {
            nodes,
            down: HashSet::new(),
        };
        cluster.wait_until_ok();
        cluster
    }

    /// Until every node still up says the cluster is ok, knows every slot,
    /// and every replica has synchronised with its primary.
    fn wait_until_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let up = || self.up();
        loop {
            let ok = up().all(|port| {
                let info = cli(port, &["cluster", "info"]);
                info.contains("cluster_state:ok") && info.contains("cluster_slots_ok:16384")
            }) && up().all(|port| {
                let replication = cli(port, &["info", "replication"]);
                replication.contains("role:master") || replication.contains("master_link_status:up")
            });
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster is not ok:\n{}",
                self.nodes_said()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(Server::port).collect()
    }

    /// The ports of the nodes not killed.
    fn up(&self) -> impl Iterator<Item = u16> {
        self.ports().into_iter().filter(|port| !self.down.contains(port))
    }

    /// Kills the node at `port` (SIGKILL), as a crash would.
    fn kill(&mut self, port: u16) {
        let index = self.ports().iter().position(|node| *node == port).unwrap();
        self.nodes[index].stop();
        self.down.insert(port);
    }

    fn urls(&self) -> Vec<String> {
        self.ports()
            .iter()
            .map(|port| format!("redis://127.0.0.1:{port}"))
            .collect()
    }

    /// `YOCO_REDIS_CLUSTER`'s value: two of the nodes are enough to find
    /// the rest.
    fn env_value(&self) -> String {
        self.urls()[..2].join(",")
    }

    async fn store(&self) -> RedisStore {
        let store = RedisStore::connect_cluster(self.urls()).await.unwrap();
        assert!(
            store.claims_with_set() && store.completes_with_set(),
            "every node is a Valkey 8.1 or later"
        );
        store
    }

    /// The ports of the primaries, as the first node up sees them.
    fn primaries(&self) -> Vec<u16> {
        let port = self.up().next().unwrap();
        cli(port, &["cluster", "nodes"])
            .lines()
            .filter(|line| {
                let flags = line.split(' ').nth(2).unwrap_or("");
                flags.contains("master") && !flags.contains("fail")
            })
            .map(node_port)
            .collect()
    }

    /// The port of the primary that owns `key`'s slot now.
    fn owner(&self, key: &str) -> u16 {
        let port = self.up().next().unwrap();
        let slot: u16 = cli(port, &["cluster", "keyslot", key]).trim().parse().unwrap();
        let nodes = cli(port, &["cluster", "nodes"]);
        nodes
            .lines()
            .find(|line| {
                line.split(' ').skip(8).any(|range| {
                    let (first, last) = range.split_once('-').unwrap_or((range, range));
                    match (first.parse::<u16>(), last.parse::<u16>()) {
                        (Ok(first), Ok(last)) => (first..=last).contains(&slot),
                        _ => false,
                    }
                })
            })
            .map(node_port)
            .unwrap_or_else(|| panic!("no owner of slot {slot}:\n{nodes}"))
    }

    /// What every node says of the cluster, for a failure message.
    fn nodes_said(&self) -> String {
        self.up()
            .map(|port| format!("{port}:\n{}", cli(port, &["cluster", "nodes"])))
            .collect()
    }
}

/// A node in cluster mode in `dir`, its cluster bus on a port of its own.
fn node_spec(dir: PathBuf) -> ServerSpec {
    let node_dir = dir.clone();
    let args = move |port: u16| {
        [
            "--port",
            &port.to_string(),
            "--cluster-port",
            &free_port().to_string(),
            "--bind",
            "127.0.0.1",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            &node_dir.join(format!("nodes-{port}.conf")).display().to_string(),
            "--cluster-node-timeout",
            &NODE_TIMEOUT_MS.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--logfile",
            "",
            "--dir",
            &node_dir.display().to_string(),
        ]
        .map(String::from)
        .to_vec()
    };
    ServerSpec::new(
        "valkey-server",
        "scripts/install-valkey",
        args,
        Ready::Line("Ready to accept connections"),
    )
    .in_dir(VALKEY_DIR)
    .stopped_with("KILL")
    .leaving(dir)
}

fn valkey_cli() -> PathBuf {
    let built = PathBuf::from(VALKEY_DIR).join("valkey-cli");
    if built.is_file() {
        built
    } else {
        PathBuf::from("valkey-cli")
    }
}

/// What `valkey-cli -p port args...` printed.
fn cli(port: u16, args: &[&str]) -> String {
    let output = Command::new(valkey_cli())
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The port of a `CLUSTER NODES` line (`id 127.0.0.1:port@bus flags ...`).
fn node_port(line: &str) -> u16 {
    let address = line.split(' ').nth(1).unwrap();
    address
        .split(['@', ','])
        .next()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The cluster most tests share, started by the first.
fn shared() -> &'static Cluster {
    static SHARED: Shared<Cluster> = Shared::new();
    SHARED.get(Cluster::start)
}

async fn shared_cluster() -> &'static Cluster {
    tokio::task::spawn_blocking(shared).await.unwrap()
}

fn id(text: &str) -> WebhookId {
    WebhookId::new(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_store_on_a_cluster_keeps_the_contract() {
    let cluster = shared_cluster().await;
    let store = cluster.store().await;
    passed(check_store(&store).await);
    // Again: the first run's keys stay out of the way.
    passed(check_store(&store).await);
    let script = RedisStoreBuilder::cluster(cluster.urls())
        .unwrap()
        .key_prefix("cluster-script:")
        .claim_with_script(true)
        .complete_with(yoco_webhooks::redis::CompleteWith::Script)
        .connect()
        .await
        .unwrap();
    passed(check_store(&script).await);
}

/// The adapter suite on an axum server deduplicating on the cluster, each
/// test under a key prefix of its own.
async fn serve_on_the_cluster(limit: usize) -> (SocketAddr, Recorder) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let cluster = shared_cluster().await;
    let store = RedisStoreBuilder::cluster(cluster.urls())
        .unwrap()
        .key_prefix(format!("suite-{}:", NEXT.fetch_add(1, Ordering::SeqCst)))
        .connect()
        .await
        .unwrap();
    crate::axum::serve_config(YocoWebhookConfig::new(receiver()).body_limit(limit).with_store(store)).await
}

mod adapter_suite_on_the_cluster {
    use super::serve_on_the_cluster;
    crate::adapters::adapter_suite!(serve_on_the_cluster);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_receiver_processes_on_one_cluster_print_each_delivery_once() {
    let cluster = shared_cluster().await;
    crate::example_receivers::two_processes_print_each_delivery_once(
        ["axum_receiver", "actix_receiver"],
        ("YOCO_REDIS_CLUSTER", &cluster.env_value()),
    )
    .await;
}

/// Each call is one command on the node that owns the key: a processed
/// delivery costs a claim and a completion, a duplicate the claim, counted
/// by `MONITOR` on every primary. A node that never ran a script is sent it
/// whole once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_round_trips_per_processed_delivery_and_one_per_duplicate_on_the_keys_node() {
    let cluster = shared_cluster().await;
    let primaries = cluster.primaries();
    assert_eq!(primaries.len(), 3);
    let once = Deduplicator::new(cluster.store().await);
    let process = |name: String| {
        let once = &once;
        async move {
            let processed: Processed<(), ()> = once.process(&id(&name), || async { Ok(()) }).await;
            processed
        }
    };
    // Warm up: every node's connection made.
    for n in 0..30 {
        assert!(matches!(process(format!("rt-warm-{n}")).await, Processed::Done { .. }));
    }
    let names: Vec<String> = (0..10).map(|n| format!("rt-{n}")).collect();
    let processing = commands_on(&primaries, async {
        for name in &names {
            assert!(matches!(
                process(name.clone()).await,
                Processed::Done { recorded: Ok(()), .. }
            ));
        }
    })
    .await;
    let mut expected = HashMap::new();
    for name in &names {
        let owner = cluster.owner(&format!("yoco-webhooks:{name}"));
        expected.entry(owner).or_insert_with(Vec::new).extend(["SET", "SET"]);
    }
    assert_eq!(processing, expected, "claim + complete per delivery, on its key's node");
    let duplicates = commands_on(&primaries, async {
        for name in &names {
            assert!(matches!(process(name.clone()).await, Processed::Duplicate));
        }
    })
    .await;
    let one_claim: HashMap<u16, Vec<&str>> = expected
        .iter()
        .map(|(owner, commands)| (*owner, vec!["SET"; commands.len() / 2]))
        .collect();
    assert_eq!(duplicates, one_claim, "one claim per duplicate");

    // Scripts: each primary that never ran one answers NOSCRIPT once.
    let script = RedisStoreBuilder::cluster(cluster.urls())
        .unwrap()
        .key_prefix("rt-script:")
        .claim_with_script(true)
        .connect()
        .await
        .unwrap();
    for port in &primaries {
        cli(*port, &["script", "flush"]);
    }
    let once = Deduplicator::new(script);
    let claims = commands_on(&primaries, async {
        for name in &names {
            let processed: Processed<(), ()> = once.process(&id(name), || async { Ok(()) }).await;
            assert!(matches!(processed, Processed::Done { recorded: Ok(()), .. }));
        }
    })
    .await;
    for (port, commands) in &claims {
        let evals = commands.iter().filter(|command| **command == "EVAL").count();
        assert_eq!(evals, 1, "{port}: the script sent whole once: {commands:?}");
        assert_eq!(
            commands.first().map(|command| &**command),
            Some("EVALSHA"),
            "{commands:?}"
        );
    }
    assert_eq!(
        claims.values().flatten().filter(|command| **command != "EVAL").count(),
        20,
        "claim and completion per delivery, besides the loads: {claims:?}"
    );
}

/// The commands clients sent to each of `ports` while `run` ran, as
/// `MONITOR` reports them (not those scripts ran), for each port that saw
/// any.
async fn commands_on(ports: &[u16], run: impl Future<Output = ()>) -> HashMap<u16, Vec<&'static str>> {
    const END: &str = "end-of-the-counted-commands";
    let mut monitors = Vec::new();
    for port in ports {
        let mut monitor = tokio::net::TcpStream::connect(("127.0.0.1", *port)).await.unwrap();
        monitor.write_all(b"MONITOR\r\n").await.unwrap();
        let mut lines = BufReader::new(monitor).lines();
        assert_eq!(lines.next_line().await.unwrap().unwrap(), "+OK");
        monitors.push((*port, lines));
    }
    run.await;
    let mut seen = HashMap::new();
    for (port, mut lines) in monitors {
        cli(port, &["echo", END]);
        let mut commands = Vec::new();
        loop {
            let line = lines.next_line().await.unwrap().expect("MONITOR stopped");
            if line.contains(END) {
                break;
            }
            let (client, command) = line.split_once("] ").unwrap();
            if !client.ends_with(" lua") {
                let name = command.split('"').nth(1).unwrap();
                // Leaked: a handful of short names per test.
                commands.push(&*Box::leak(name.to_owned().into_boxed_str()));
            }
        }
        if !commands.is_empty() {
            seen.insert(port, commands);
        }
    }
    seen
}

/// A primary killed (SIGKILL) while two receivers share the cluster: the
/// deliveries whose keys it owned are answered 503 until its replica takes
/// over (the node timeout and an election, a few seconds), then 200, with
/// no restart of the receivers; the other primaries' keys are answered
/// throughout. Nothing is processed twice but a delivery in flight at the
/// kill: a claim the primary took but had not yet sent its replica is lost
/// with it, so a retry may run while the first attempt still runs (its
/// lease bounds how long that can happen; on loopback, replication is
/// almost always ahead of the kill).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_primary_killed_mid_run_is_replaced_and_the_receivers_recover_by_themselves() {
    let mut cluster = tokio::task::spawn_blocking(Cluster::start).await.unwrap();
    let recorder = Recorder::default();
    let receivers = [
        url(serve(cluster.store().await, recorder.clone()).await),
        url(serve(cluster.store().await, recorder.clone()).await),
    ];
    // Deliveries on every primary, those of the victim known.
    let victim = cluster.owner("yoco-webhooks:msg_0");
    let victims: HashSet<String> = (0..60)
        .map(|n| format!("msg_{n}"))
        .filter(|name| cluster.owner(&format!("yoco-webhooks:{name}")) == victim)
        .collect();
    assert!(victims.len() > 5 && victims.len() < 60, "{victims:?}");

    // Posted in turn, as Yoco retries: until 200, each status kept.
    let statuses = std::sync::Arc::new(Mutex::new(HashMap::<String, Vec<(Instant, u16)>>::new()));
    let next = std::sync::Arc::new(AtomicUsize::new(0));
    let mut posting = tokio::task::JoinSet::new();
    for worker in 0..4 {
        let (receivers, statuses, next) = (receivers.clone(), statuses.clone(), next.clone());
        posting.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= 60 {
                    return;
                }
                let name = format!("msg_{n}");
                let deadline = Instant::now() + Duration::from_secs(30);
                loop {
                    let status = deliver(&receivers[(n + worker) % 2], &name).await;
                    statuses
                        .lock()
                        .unwrap()
                        .entry(name.clone())
                        .or_default()
                        .push((Instant::now(), status));
                    if status == 200 {
                        break;
                    }
                    assert!(Instant::now() < deadline, "{name} never answered 200");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                // Spread over the failover.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }
    // Kill once a few are through.
    while next.load(Ordering::SeqCst) < 8 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let killed_at = Instant::now();
    cluster.kill(victim);
    // Every delivery started by now, and not answered 200 before the kill.
    let started = next.load(Ordering::SeqCst);
    while let Some(done) = posting.join_next().await {
        done.unwrap();
    }
    let statuses = statuses.lock().unwrap().clone();
    let in_flight: HashSet<String> = (0..started)
        .map(|n| format!("msg_{n}"))
        .filter(|name| {
            !statuses[name]
                .iter()
                .any(|(at, status)| *status == 200 && *at < killed_at)
        })
        .collect();
    tokio::task::block_in_place(|| cluster.wait_until_ok());

    let after_kill = |name: &String| {
        statuses[name]
            .iter()
            .filter(|(at, _)| *at > killed_at)
            .map(|(_, status)| *status)
            .collect::<Vec<_>>()
    };
    let unavailable: Vec<&String> = statuses.keys().filter(|name| after_kill(name).contains(&503)).collect();
    assert!(!unavailable.is_empty(), "503 while no node owned the victim's slots");
    for name in &unavailable {
        assert!(
            victims.contains(*name),
            "{name} is not on the killed primary, yet answered 503"
        );
    }
    for (name, seen) in &statuses {
        assert!(
            seen.iter().all(|(_, status)| [200, 409, 503].contains(status)),
            "{name}: {seen:?}"
        );
    }
    let new_owner = cluster.owner("yoco-webhooks:msg_0");
    assert_ne!(new_owner, victim, "the replica took over");

    let mut counts = HashMap::<String, usize>::new();
    for name in recorder.processed() {
        *counts.entry(name).or_default() += 1;
    }
    assert_eq!(counts.len(), 60, "every delivery processed");
    for (name, count) in &counts {
        let allowed = if in_flight.contains(name) { 2 } else { 1 };
        assert!(
            *count <= allowed,
            "{name} processed {count} times (in flight at the kill: {in_flight:?})"
        );
    }
    // And the receivers, never restarted, take new deliveries on the
    // promoted replica's slots.
    for (n, receiver) in receivers.iter().enumerate() {
        assert_eq!(deliver(receiver, &format!("msg_after_{n}")).await, 200);
    }
    for name in &victims {
        let status = deliver(&receivers[0], name).await;
        // A delivery whose completion failed at the kill was answered 200
        // (its handler had run) and keeps its claim until the lease runs
        // out: 409 to a retry meanwhile, never a second run.
        let expected: &[u16] = if in_flight.contains(name) { &[200, 409] } else { &[200] };
        assert!(expected.contains(&status), "{name}: {status}, a duplicate now");
    }
}

#[tokio::test]
async fn cluster_errors_tell_a_mistake_from_an_outage_and_show_no_url() {
    let unparsable = RedisStore::connect_cluster(["redis://:s3cret@127.0.0.1:99999"])
        .await
        .unwrap_err();
    assert_eq!(unparsable.kind(), StoreErrorKind::Configuration, "{unparsable}");
    assert_no_secret(&unparsable, "s3cret");
    let nowhere = format!("redis://:s3cret@127.0.0.1:{}", free_port());
    let refused = RedisStore::connect_cluster([nowhere]).await.unwrap_err();
    assert_eq!(refused.kind(), StoreErrorKind::Unavailable, "{refused}");
    assert!(
        refused
            .to_string()
            .starts_with("unavailable: cannot connect to Redis: "),
        "{refused}"
    );
    assert_no_secret(&refused, "s3cret");
    assert_no_secret(&refused, "127.0.0.1");
    let store = shared_cluster().await.store().await;
    assert!(matches!(
        store.claim(&id("errors-1"), Duration::from_secs(60)).await,
        Ok(Claim::Acquired(_))
    ));
}
