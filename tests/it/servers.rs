//! Real server processes for the stores' tests: a server's binary started on a free 127.0.0.1 port, waited for until it accepts
//! connections, stopped (and restartable on the same port), killed on drop.
//!
//! A missing binary fails the test with the command that installs it: these
//! tests never pass by skipping.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to accept connections after it started.
const STARTUP: Duration = Duration::from_secs(20);

/// What to run.
pub(crate) struct ServerSpec {
    /// The binary's name, looked up in `dirs` (where a script of ours builds
    /// it), then on `PATH`.
    pub(crate) binary: &'static str,
    /// Other directories that may hold it (e.g. `/usr/lib/postgresql/16/bin`).
    pub(crate) dirs: &'static [&'static str],
    /// The command that installs it, for the failure message.
    pub(crate) install: &'static str,
    /// The arguments that make it listen on 127.0.0.1 at the given port.
    pub(crate) args: Box<dyn Fn(u16) -> Vec<String> + Send + Sync>,
}

/// A running (or stopped) server.
pub(crate) struct Server {
    spec: ServerSpec,
    path: PathBuf,
    port: u16,
    log: PathBuf,
    child: Option<Child>,
}

impl ServerSpec {
    /// The binary's path; panics with the install command when it is missing.
    fn find(&self) -> PathBuf {
        let path_dirs = std::env::var_os("PATH")
            .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
            .unwrap_or_default();
        self.dirs
            .iter()
            .map(PathBuf::from)
            .chain(path_dirs)
            .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
            .map(|dir| dir.join(self.binary))
            .find(|path| path.is_file())
            .unwrap_or_else(|| {
                panic!(
                    "`{}` is not installed, and these tests need a real server: `{}`",
                    self.binary, self.install
                )
            })
    }
}

impl Server {
    /// Starts `spec` on a free port and waits until it accepts connections.
    pub(crate) fn start(spec: ServerSpec) -> Server {
        let mut server = Server {
            path: spec.find(),
            spec,
            port: 0,
            log: PathBuf::new(),
            child: None,
        };
        // Another process may take the free port before the server binds it:
        // then try another.
        let mut output = String::new();
        for _ in 0..3 {
            server.port = free_port();
            server.log = std::env::temp_dir().join(format!(
                "yoco-webhooks-test-{}-{}-{}.log",
                server.spec.binary,
                std::process::id(),
                server.port
            ));
            match server.run() {
                Ok(()) => return server,
                Err(log) => output = log,
            }
            let _ = std::fs::remove_file(&server.log);
        }
        panic!("{} did not start; its last output:\n{output}", server.path.display());
    }

    /// The port it listens on, the same after a restart.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (as a crash would) and waits until it is gone.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port.
    pub(crate) fn restart(&mut self) {
        self.stop();
        if let Err(log) = self.run() {
            panic!("{} did not restart; its output:\n{log}", self.path.display());
        }
    }

    /// Spawns the server and waits until its port accepts connections; on
    /// failure, stops it and gives its output.
    fn run(&mut self) -> Result<(), String> {
        let log = File::create(&self.log).unwrap();
        let child = Command::new(&self.path)
            .args((self.spec.args)(self.port))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot run {}: {err}", self.path.display()));
        self.child = Some(child);
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + STARTUP;
        loop {
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            let exited = self.child.as_mut().and_then(|child| child.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                self.stop();
                return Err(std::fs::read_to_string(&self.log).unwrap_or_default());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
#[should_panic(expected = "apt-get install -y some-package")]
fn a_missing_binary_fails_with_the_install_command() {
    Server::start(ServerSpec {
        binary: "yoco-webhooks-no-such-server",
        dirs: &[],
        install: "apt-get install -y some-package",
        args: Box::new(|_| Vec::new()),
    });
}
