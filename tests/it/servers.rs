//! Every server process the tests start (PostgreSQL, Redis, Valkey, the
//! Lambda emulator, workerd), started one way:
//!
//! - the port is chosen just before the server starts, and a start that
//!   fails (another process took the port first, or anything else) is tried
//!   once more on a new port;
//! - ready means the server said so (its own ready line in its log) or
//!   answered a real request, never that a port accepted a connection;
//! - a server that does not start fails the test with its log;
//! - the server runs under a small shell that stops it when this process
//!   goes away (its stdin, a pipe from us, ends), so a server kept for the
//!   whole run ([`Shared`]) never outlives the run;
//! - a test that panics keeps the server's log, and says where it is.
//!
//! A missing binary fails the test with the command that installs it: these
//! tests never pass by skipping.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a server may take to say it is ready: a bound on a failure, not
/// a wait (a server that is ready goes on at once). Generous, for a loaded
/// machine.
const STARTUP: Duration = Duration::from_secs(90);

/// Runs the server (`$3...`) in the background and stops it with the signal
/// a line on stdin names, or with `$1` when stdin ends (the test process is
/// gone); exits with the server's status. When the test process is gone it
/// also removes `$2` (the server's directory), if given.
const SUPERVISOR: &str = r#"
signal=$1; leftovers=$2; shift 2
exec 3<&0
"$@" </dev/null &
server=$!
(
  if read -r asked <&3; then
    kill -s "$asked" "$server"
  else
    [ -z "$leftovers" ] || : >"$leftovers.orphaned"
    kill -s "$signal" "$server"
  fi
) &
watcher=$!
wait "$server"; status=$?
kill "$watcher" 2>/dev/null
if [ -n "$leftovers" ] && [ -e "$leftovers.orphaned" ]; then rm -rf "$leftovers" "$leftovers.orphaned"; fi
exit "$status"
"#;

/// How to tell that a server is ready.
pub(crate) enum Ready {
    /// It printed this (on stdout or stderr) since it was started.
    Line(&'static str),
    /// It answers this probe (given its address) with what it should.
    Answers(Box<dyn Fn(SocketAddr) -> bool + Send + Sync>),
}

/// What to run.
pub(crate) struct ServerSpec {
    /// The binary's name, looked up in `dirs` (where a script of ours builds
    /// it), then on `PATH`.
    binary: &'static str,
    /// Other directories that may hold it (e.g. `/usr/lib/postgresql/16/bin`).
    dirs: Vec<PathBuf>,
    /// The command that installs it, for the failure message.
    install: &'static str,
    /// The arguments that make it listen on 127.0.0.1 at the given port.
    args: Box<dyn Fn(u16) -> Vec<String> + Send + Sync>,
    ready: Ready,
    /// The signal [`Server::stop`] sends (and the run's end).
    stop_signal: &'static str,
    /// The user it runs as (`runuser`), when not ours.
    user: Option<&'static str>,
    current_dir: Option<PathBuf>,
    /// Its stdout is for the test ([`Server::take_stdout`]), not the log.
    stdout_to_test: bool,
    /// The server's directory: its log goes there, and it is removed when
    /// the test process is gone.
    leftovers: Option<PathBuf>,
}

impl ServerSpec {
    /// `binary`, installed by `install`, run with `args(port)`, ready when
    /// `ready` says so, stopped with SIGTERM.
    pub(crate) fn new(
        binary: &'static str,
        install: &'static str,
        args: impl Fn(u16) -> Vec<String> + Send + Sync + 'static,
        ready: Ready,
    ) -> Self {
        Self {
            binary,
            dirs: Vec::new(),
            install,
            args: Box::new(args),
            ready,
            stop_signal: "TERM",
            user: None,
            current_dir: None,
            stdout_to_test: false,
            leftovers: None,
        }
    }

    /// Looks for the binary in `dir` before `PATH`.
    pub(crate) fn in_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dirs.push(dir.into());
        self
    }

    /// Stops it with `signal` (`KILL`: as a crash would).
    pub(crate) fn stopped_with(mut self, signal: &'static str) -> Self {
        self.stop_signal = signal;
        self
    }

    /// Runs it as `user` (`runuser`), when given.
    pub(crate) fn run_by(mut self, user: Option<&'static str>) -> Self {
        self.user = user;
        self
    }

    pub(crate) fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = Some(dir.into());
        self
    }

    pub(crate) fn stdout_to_test(mut self) -> Self {
        self.stdout_to_test = true;
        self
    }

    pub(crate) fn leaving(mut self, dir: impl Into<PathBuf>) -> Self {
        self.leftovers = Some(dir.into());
        self
    }

    /// The binary's path; panics with the install command when it is missing.
    fn find(&self) -> PathBuf {
        let path_dirs = std::env::var_os("PATH")
            .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
            .unwrap_or_default();
        self.dirs
            .iter()
            .cloned()
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

/// A running (or stopped) server.
pub(crate) struct Server {
    spec: ServerSpec,
    path: PathBuf,
    port: u16,
    log: PathBuf,
    child: Option<Child>,
    /// Our end of its supervisor's stdin: a line stops it, and its end too.
    stopper: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
}

impl Server {
    /// Starts `spec` on a port chosen now, and waits until it is ready; a
    /// failed start is tried once more on a new port, then fails the test
    /// with the server's log.
    pub(crate) fn start(spec: ServerSpec) -> Server {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        // In the server's directory when it has one, which goes with it.
        let log = match &spec.leftovers {
            Some(dir) => dir.join(format!("{}.log", spec.binary)),
            None => std::env::temp_dir().join(format!(
                "yoco-webhooks-test-{}-{}-{}.log",
                spec.binary,
                std::process::id(),
                NEXT.fetch_add(1, Ordering::SeqCst)
            )),
        };
        let mut server = Server {
            path: spec.find(),
            spec,
            port: 0,
            log,
            child: None,
            stopper: None,
            stdout: None,
        };
        let mut failures = Vec::new();
        for _ in 0..2 {
            server.port = free_port();
            match server.run() {
                Ok(()) => return server,
                Err(failure) => failures.push(format!("on port {}: {failure}", server.port)),
            }
        }
        let failures = failures.join("\n");
        // All it logged is in the message.
        let _ = std::fs::remove_file(&server.log);
        if let Some(dir) = &server.spec.leftovers {
            let _ = std::fs::remove_dir_all(dir);
        }
        panic!("{} did not start, twice:\n{failures}", server.path.display());
    }

    /// The port it listens on, the same after a restart.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Its address, `127.0.0.1:port`.
    pub(crate) fn address(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// What it printed on stdout, when the spec kept that for the test
    /// (once).
    pub(crate) fn take_stdout(&mut self) -> ChildStdout {
        self.stdout.take().expect("the spec gives stdout to the test, once")
    }

    /// Everything it logged so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the server with its stop signal, and waits until it is gone.
    pub(crate) fn stop(&mut self) {
        let signal = self.spec.stop_signal;
        self.stop_with(signal);
    }

    /// Stops the server with `signal`, and waits until it is gone.
    fn stop_with(&mut self, signal: &str) {
        if let Some(mut stopper) = self.stopper.take() {
            let _ = writeln!(stopper, "{signal}");
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port; fails the test with its
    /// log when it does not start.
    pub(crate) fn restart(&mut self) {
        self.stop();
        if let Err(failure) = self.run() {
            panic!("{} did not restart: {failure}", self.path.display());
        }
    }

    /// Spawns the server and waits until it is ready; on failure, stops it
    /// and says why, with what it logged.
    fn run(&mut self) -> Result<(), String> {
        let mut log = OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let logged_before = log.seek(SeekFrom::End(0)).unwrap();
        let mut command = match self.spec.user {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--", "sh"]);
                command
            }
            None => Command::new("sh"),
        };
        command
            .args(["-c", SUPERVISOR, "sh", self.spec.stop_signal])
            .arg(self.spec.leftovers.clone().unwrap_or_default())
            .arg(&self.path)
            .args((self.spec.args)(self.port))
            .stdin(Stdio::piped())
            .stderr(log.try_clone().unwrap());
        if let Some(dir) = &self.spec.current_dir {
            command.current_dir(dir);
        }
        if self.spec.stdout_to_test {
            command.stdout(Stdio::piped());
        } else {
            command.stdout(log.try_clone().unwrap());
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot run {}: {err}", self.path.display()));
        self.stopper = child.stdin.take();
        self.stdout = child.stdout.take();
        self.child = Some(child);
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Some(status) = self.child.as_mut().and_then(|child| child.try_wait().unwrap()) {
                self.child = None;
                self.stopper = None;
                return Err(format!(
                    "it exited ({status}); its log:\n{}",
                    self.log_since(logged_before)
                ));
            }
            if self.is_ready(logged_before) {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.stop_with("KILL");
                return Err(format!(
                    "it was not ready within {STARTUP:?}; its log:\n{}",
                    self.log_since(logged_before)
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn is_ready(&self, logged_before: u64) -> bool {
        match &self.spec.ready {
            Ready::Line(line) => self.log_since(logged_before).contains(line),
            Ready::Answers(probe) => probe(self.address()),
        }
    }

    /// What it logged since this start.
    fn log_since(&self, offset: u64) -> String {
        let mut text = String::new();
        if let Ok(mut log) = File::open(&self.log) {
            let _ = log.seek(SeekFrom::Start(offset));
            let _ = log.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() && self.log.exists() {
            eprintln!("{}'s log is kept in {}", self.spec.binary, self.log.display());
        } else {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// One server of a kind for the whole run: started by the first test that
/// asks, never stopped before the run ends (its supervisor stops it then).
pub(crate) struct Shared<T>(OnceLock<T>);

impl<T> Shared<T> {
    pub(crate) const fn new() -> Self {
        Self(OnceLock::new())
    }

    /// The server, started by `start` the first time.
    pub(crate) fn get(&self, start: impl FnOnce() -> T) -> &T {
        self.0.get_or_init(start)
    }
}

/// A port nobody listens on now, for a server started right after (which
/// [`Server::start`] retries on another should someone take it first), or
/// for a client that must find nothing there.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether an HTTP server at `address` answers `GET path` (with `status`,
/// when given).
pub(crate) fn http_answers(address: SocketAddr, path: &str, status: Option<u16>) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0; 12];
    stream.read_exact(&mut head).is_ok()
        && head.starts_with(b"HTTP/1.1 ")
        && status.is_none_or(|status| head[9..] == *status.to_string().as_bytes())
}

#[test]
#[should_panic(expected = "apt-get install -y some-package")]
fn a_missing_binary_fails_with_the_install_command() {
    Server::start(ServerSpec::new(
        "yoco-webhooks-no-such-server",
        "apt-get install -y some-package",
        |_| Vec::new(),
        Ready::Line("ready"),
    ));
}

#[test]
fn a_server_that_does_not_start_fails_with_its_log_after_a_second_port() {
    let failure = std::panic::catch_unwind(|| {
        Server::start(ServerSpec::new(
            "sh",
            "apt-get install -y dash",
            |port| vec!["-c".into(), format!("echo cannot bind {port} >&2; exit 3")],
            Ready::Line("ready"),
        ))
    })
    .err()
    .unwrap();
    let message = failure.downcast_ref::<String>().unwrap();
    assert_eq!(message.matches("cannot bind").count(), 2, "{message}");
    assert!(message.contains("exited (exit status: 3)"), "{message}");
}

#[test]
fn ready_is_the_line_not_the_start() {
    // Ready once it printed the line, not when it started; a restart waits
    // for the line again.
    let mut server = Server::start(ServerSpec::new(
        "sh",
        "apt-get install -y dash",
        |_| vec!["-c".into(), "echo starting; echo ready now; exec sleep 600".into()],
        Ready::Line("ready now"),
    ));
    assert!(server.log().contains("starting\nready now"), "{}", server.log());
    server.stop();
    server.restart();
    assert_eq!(server.log().matches("ready now").count(), 2, "{}", server.log());
}
