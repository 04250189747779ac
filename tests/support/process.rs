//! The `chatters` binary run as a user would: in a given directory with a cleared environment
//! (only PATH, HOME and the variables given), its output collected, and raw HTTP/1.0 requests
//! to what it serves.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// What a finished run printed.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// `chatters <args>` in `dir`, with only PATH, HOME and `vars` in its environment.
pub fn chatters(dir: &Path, args: &[&str], vars: &[(String, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chatters"));
    command.env_clear().current_dir(dir).args(args);
    for name in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    for (name, value) in vars {
        command.env(name, value);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Waits for a child, killing it (and failing the test) after `limit`.
pub fn finish(mut child: Child, limit: Duration) -> Finished {
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).map(|_| s)
    });
    let err = thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).map(|_| s)
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = err.join().expect("reader").unwrap_or_default();
            panic!("chatters still running after {limit:?}; stderr:\n{stderr}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    Finished {
        status,
        stdout: out.join().expect("reader").expect("utf-8 stdout"),
        stderr: err.join().expect("reader").expect("utf-8 stderr"),
    }
}

/// Runs `chatters <args>` to its end (at most a minute).
pub fn run_to_end(dir: &Path, args: &[&str], vars: &[(String, String)]) -> Finished {
    let child = chatters(dir, args, vars).spawn().expect("start chatters");
    finish(child, Duration::from_secs(60))
}

/// Sends `signal` (e.g. `-TERM`) to a child.
pub fn signal(child: &Child, signal: &str) {
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill {signal} failed");
}

/// A port nothing listens on (right now).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// `GET path` over a raw HTTP/1.0 connection: the whole answer (status line, headers, body).
pub fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}

/// Waits up to 30 s for `GET path` on `port` to answer.
pub fn wait_for(port: u16, path: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(answer) = get(port, path) {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "nothing answered {path} on port {port}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// `(name, value)` pairs as owned strings.
pub fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A running `chatters`, its output read as it comes.
pub struct Running {
    child: Child,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
}

impl Running {
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command.spawn().expect("start chatters");
        let out = child.stdout.take().expect("piped stdout");
        let err = child.stderr.take().expect("piped stderr");
        Self {
            stdout: read_all(out),
            stderr: read_all(err),
            child,
        }
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends `signal` (e.g. `-TERM`).
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill {signal}");
    }

    /// Waits for the end, killing it (and failing the test) after `limit`.
    pub fn finish(mut self, limit: Duration) -> Finished {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let stderr = self.stderr.join().unwrap_or_default();
                panic!("chatters still running after {limit:?}; stderr:\n{stderr}");
            }
            thread::sleep(Duration::from_millis(20));
        };
        Finished {
            status,
            stdout: self.stdout.join().expect("stdout reader"),
            stderr: self.stderr.join().expect("stderr reader"),
        }
    }
}

fn read_all(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}
