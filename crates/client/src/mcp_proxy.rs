//! `devauth mcp proxy URL`: a stdio ↔ Streamable HTTP bridge, so an MCP
//! client that only speaks stdio (or cannot log in headlessly) reaches a
//! remote MCP server with devauth's login.
//!
//! - each line on stdin is one JSON-RPC message, POSTed to the server with
//!   `Accept: application/json, text/event-stream` and a fresh token (the
//!   token source is asked every time; its fast path reads one file);
//! - a JSON answer is written to stdout as one line; an SSE answer is
//!   relayed event by event as it arrives (each `data:` payload one line);
//!   `202 Accepted` (a notification or response) writes nothing;
//! - `Mcp-Session-Id` from the server is sent back on every later request,
//!   and `MCP-Protocol-Version` once `initialize` has named it;
//! - once a session exists, a `GET` stream carries server-initiated
//!   messages (skipped when the server answers 405);
//! - a 401 makes the token source refresh and the request is sent once more;
//!   a 403 `insufficient_scope` (step-up) answers the request with the
//!   login command that asks for the scopes the server named;
//! - a request whose SSE answer ends before answering it gets a JSON-RPC
//!   error, so the client is never left waiting;
//! - a request the server cannot be reached for (a dropped connection, a
//!   restart) is sent again after 0.25, 0.5, 1 and 2 s, then answered with
//!   an error — never dropped;
//! - on end of input, the session is ended with `DELETE`.
//!
//! Requests run on worker threads (a new one only when all are busy), so a
//! long SSE answer does not hold up the next request; stdout writes are
//! whole lines under one lock.

use std::io::{BufRead, BufReader, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::Error;

/// The waits before sending a request again after the server could not
/// be reached.
pub const RETRY_DELAYS: [Duration; 4] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
];

/// Each connection's input buffer, bytes: the largest response head taken.
const INPUT_BUFFER_BYTES: usize = 64 * 1024;

/// Each connection's output buffer, bytes.
const OUTPUT_BUFFER_BYTES: usize = 16 * 1024;

/// Where the proxy gets its bearer token.
pub trait TokenSource: Send + Sync {
    /// A valid access token; with `force`, a newly refreshed one. `None`
    /// when there is no login: requests go without a token (a server
    /// without auth still works) and a 401 is answered with `login_hint`.
    fn token(&self, force: bool) -> Result<Option<String>, Error>;
    /// What to tell the client when the server wants a login there is not.
    fn login_hint(&self) -> String;
    /// What to tell the client when the server wants more scopes (`scope`,
    /// from its `insufficient_scope` challenge).
    fn step_up_hint(&self, scope: &str) -> String;
}

/// The bridge's shared state.
struct Shared {
    url: String,
    agent: ureq::Agent,
    tokens: Box<dyn TokenSource>,
    session: Mutex<Option<String>>,
    protocol: Mutex<Option<String>>,
    out: Mutex<Box<dyn Write + Send>>,
}

impl Shared {
    fn emit(&self, line: &str) {
        let line = line.trim();
        if line.is_empty() {
            return;
        }
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    fn request(
        &self,
        method: &str,
        body: Option<&str>,
        force: bool,
    ) -> Result<ureq::http::Response<ureq::Body>, Error> {
        let token = self.tokens.token(force)?;
        let mut req = ureq::http::Request::builder().method(method).uri(&self.url);
        if let Some(token) = token {
            req = req.header("Authorization", format!("Bearer {token}"));
        }
        req = req.header(
            "Accept",
            if body.is_some() {
                "application/json, text/event-stream"
            } else {
                "text/event-stream"
            },
        );
        if body.is_some() {
            req = req.header("Content-Type", "application/json");
        }
        if let Some(s) = self.session.lock().ok().and_then(|s| s.clone()) {
            req = req.header("Mcp-Session-Id", s);
        }
        if let Some(p) = self.protocol.lock().ok().and_then(|p| p.clone()) {
            req = req.header("MCP-Protocol-Version", p);
        }
        let req = req
            .body(body.unwrap_or("").to_owned())
            .map_err(|e| Error::InvalidInput(e.to_string()))?;
        self.agent.run(req).map_err(|e| Error::Unreachable {
            url: self.url.clone(),
            detail: e.to_string(),
        })
    }

    /// Sends one message (a retry after a 401 with a refreshed token) and
    /// relays the answer.
    fn send(&self, message: &str) -> Result<(), Error> {
        let mut resp = self.post_with_retries(message, false)?;
        if resp.status().as_u16() == 401 {
            resp = self.post_with_retries(message, true)?;
        }
        if resp.status().as_u16() == 401 {
            // Still refused: no login, or one the server does not take.
            self.refuse(message, &self.tokens.login_hint());
            return Ok(());
        }
        if resp.status().as_u16() == 403
            && let Some(scope) = resp
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .filter(|c| c.contains("insufficient_scope"))
                .and_then(|c| crate::mcp::challenge_param(c, "scope"))
        {
            // Step-up: the login must cover more scopes; that needs a person.
            self.refuse(message, &self.tokens.step_up_hint(&scope));
            return Ok(());
        }
        if let Some(s) = resp
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
        {
            *self
                .session
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(s.to_owned());
        }
        let status = resp.status().as_u16();
        let sse = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/event-stream"));
        match status {
            202 => Ok(()),
            200..=299 if sse => {
                let answered = self.relay_sse(resp.body_mut().as_reader());
                // A stream that ended (or broke) before answering the request
                // must not leave the client waiting.
                if let Ok(msg) = serde_json::from_str::<serde_json::Value>(message)
                    && let Some(id) = msg.get("id")
                    && msg.get("method").is_some()
                    && !answered.contains(id)
                {
                    self.refuse(message, "the MCP server closed the stream before answering");
                }
                Ok(())
            }
            200..=299 => {
                let text = resp
                    .body_mut()
                    .with_config()
                    .limit(16 << 20)
                    .read_to_string()
                    .map_err(|e| Error::Unreachable {
                        url: self.url.clone(),
                        detail: e.to_string(),
                    })?;
                self.note_protocol(&text);
                self.emit(&text);
                Ok(())
            }
            _ => {
                // Answer a request the server refused with a JSON-RPC error,
                // so the client is not left waiting.
                let said = resp
                    .body_mut()
                    .with_config()
                    .limit(4096)
                    .read_to_string()
                    .map(|t| crate::safe_text::sanitize(&t))
                    .unwrap_or_default();
                if let Ok(msg) = serde_json::from_str::<serde_json::Value>(message)
                    && let Some(id) = msg.get("id")
                {
                    let err = serde_json::json!({
                        "jsonrpc": "2.0", "id": id,
                        "error": {"code": -32000, "message": format!("the MCP server answered HTTP {status}: {said}")},
                    });
                    self.emit(&err.to_string());
                }
                Ok(())
            }
        }
    }

    /// POSTs `message`, trying again after [`RETRY_DELAYS`] when the server
    /// cannot be reached (a dropped connection, a restart); the last
    /// failure is returned, and the caller answers the client with it.
    fn post_with_retries(
        &self,
        message: &str,
        force: bool,
    ) -> Result<ureq::http::Response<ureq::Body>, Error> {
        let mut delays = RETRY_DELAYS.iter();
        loop {
            match self.request("POST", Some(message), force) {
                Err(e @ Error::Unreachable { .. }) => match delays.next() {
                    Some(d) => {
                        tracing::warn!(error = %e, "the MCP server cannot be reached; retrying");
                        std::thread::sleep(*d);
                    }
                    None => return Err(e),
                },
                other => return other,
            }
        }
    }

    /// Answers the request in `message` (if it is one) with a JSON-RPC error.
    fn refuse(&self, message: &str, why: &str) {
        if let Ok(msg) = serde_json::from_str::<serde_json::Value>(message)
            && let Some(id) = msg.get("id")
        {
            let err = serde_json::json!({
                "jsonrpc": "2.0", "id": id,
                "error": {"code": -32001, "message": why},
            });
            self.emit(&err.to_string());
        }
    }

    fn note_protocol(&self, text: &str) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(text)
            && let Some(p) = v["result"]["protocolVersion"].as_str()
        {
            *self
                .protocol
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(p.to_owned());
        }
    }

    /// Relays each SSE event's data as one line, as it arrives; returns
    /// the ids of the responses it relayed.
    fn relay_sse(&self, body: impl std::io::Read) -> Vec<serde_json::Value> {
        let mut answered = Vec::new();
        let mut data = String::new();
        let mut flush = |data: &mut String| {
            if data.is_empty() {
                return;
            }
            self.note_protocol(data);
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(data)
                && (v.get("result").is_some() || v.get("error").is_some())
                && let Some(id) = v.get("id")
            {
                answered.push(id.clone());
            }
            self.emit(data);
            data.clear();
        };
        for line in BufReader::new(body).lines() {
            let Ok(line) = line else { break };
            let line = line.trim_end_matches('\r');
            if line.is_empty() {
                flush(&mut data);
            } else if let Some(d) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(d.strip_prefix(' ').unwrap_or(d));
            }
        }
        flush(&mut data);
        answered
    }

    /// The server-initiated stream (`GET`), for as long as it lasts.
    fn listen(&self) {
        let Ok(mut resp) = self.request("GET", None, false) else {
            return;
        };
        if resp.status().as_u16() == 200 {
            let _ = self.relay_sse(resp.body_mut().as_reader());
        }
    }
}

/// One request's work.
type Job = Box<dyn FnOnce() + Send>;

/// The threads requests run on: as many as were ever busy at once, each
/// taken again once it is done, so a long session neither starts a thread
/// per request nor waits behind a long SSE answer.
struct Workers {
    queue: Option<std::sync::mpsc::Sender<Job>>,
    jobs: Arc<Mutex<std::sync::mpsc::Receiver<Job>>>,
    /// Threads waiting for a job and not yet promised one.
    idle: Arc<std::sync::atomic::AtomicUsize>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workers {
    fn new() -> Self {
        let (queue, jobs) = std::sync::mpsc::channel();
        Self {
            queue: Some(queue),
            jobs: Arc::new(Mutex::new(jobs)),
            idle: Arc::default(),
            threads: Vec::new(),
        }
    }

    /// Runs `job` on an idle thread, or on a new one when none is idle.
    fn run(&mut self, job: Job) {
        use std::sync::atomic::Ordering;
        let promised = self
            .idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        if !promised {
            let (jobs, idle) = (self.jobs.clone(), self.idle.clone());
            self.threads.push(std::thread::spawn(move || {
                loop {
                    let next = jobs
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .recv();
                    let Ok(job) = next else { return };
                    job();
                    idle.fetch_add(1, Ordering::AcqRel);
                }
            }));
        }
        if let Some(queue) = &self.queue {
            // The receiver lives as long as `self`: this cannot fail.
            let _ = queue.send(job);
        }
    }

    /// Waits for every job sent so far.
    fn finish(mut self) {
        self.queue = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Runs the bridge until `input` ends, then ends the session.
pub fn run(
    url: &str,
    tokens: Box<dyn TokenSource>,
    input: impl BufRead,
    output: Box<dyn Write + Send>,
) -> Result<(), Error> {
    crate::discovery::check_url(url)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(10)))
        .user_agent(concat!("devauth/", env!("CARGO_PKG_VERSION")))
        // ureq's 128 KiB per direction are zeroed whole on each connection
        // (the requests, the GET stream). The input side must hold a whole
        // response head: keep it at ureq's 64 KiB header limit; the output
        // side only stages what is written, in pieces.
        .input_buffer_size(INPUT_BUFFER_BYTES)
        .output_buffer_size(OUTPUT_BUFFER_BYTES)
        .build()
        .into();
    let shared = Arc::new(Shared {
        url: url.to_owned(),
        agent,
        tokens,
        session: Mutex::new(None),
        protocol: Mutex::new(None),
        out: Mutex::new(output),
    });
    let mut workers = Workers::new();
    let mut listening = false;
    for line in input.lines() {
        let line = line.map_err(|e| Error::InvalidInput(format!("cannot read stdin: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let initialize = line.contains("\"initialize\"");
        let s = shared.clone();
        let job = move || {
            if let Err(e) = s.send(&line) {
                tracing::warn!(error = %e, "an MCP request failed");
                if let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line)
                    && let Some(id) = msg.get("id")
                {
                    let err = serde_json::json!({
                        "jsonrpc": "2.0", "id": id,
                        "error": {"code": -32000, "message": e.to_string()},
                    });
                    s.emit(&err.to_string());
                }
            }
        };
        if initialize {
            // The session id comes with the answer to initialize.
            job();
        } else {
            workers.run(Box::new(job));
        }
        if !listening && shared.session.lock().is_ok_and(|s| s.is_some()) {
            listening = true;
            let s = shared.clone();
            std::thread::spawn(move || s.listen());
        }
    }
    // Every request read is answered before the session ends.
    workers.finish();
    if shared.session.lock().is_ok_and(|s| s.is_some()) {
        let _ = shared.request("DELETE", None, false);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::Workers;

    #[test]
    fn a_busy_worker_does_not_hold_up_the_next_job_and_idle_ones_are_reused() {
        let mut workers = Workers::new();
        let (release, held) = mpsc::channel::<()>();
        let (done, finished) = mpsc::channel::<&'static str>();
        let d = done.clone();
        // A long answer: runs until released.
        workers.run(Box::new(move || {
            held.recv().unwrap();
            d.send("long").unwrap();
        }));
        // Quick jobs one after another: they finish while the long one waits.
        for _ in 0..20 {
            let d = done.clone();
            workers.run(Box::new(move || d.send("quick").unwrap()));
            assert_eq!(
                finished.recv_timeout(Duration::from_secs(10)).unwrap(),
                "quick"
            );
            // The worker counts itself idle just after its job returns:
            // wait for that, so the next job finds it.
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while workers.idle.load(std::sync::atomic::Ordering::Acquire) == 0 {
                assert!(std::time::Instant::now() < deadline, "never idle");
                std::thread::yield_now();
            }
        }
        // One thread for the long job, one that took every quick job in turn.
        assert_eq!(workers.threads.len(), 2);
        release.send(()).unwrap();
        assert_eq!(
            finished.recv_timeout(Duration::from_secs(10)).unwrap(),
            "long"
        );
        workers.finish();
    }

    #[test]
    fn finish_waits_for_every_job_sent() {
        let mut workers = Workers::new();
        let (done, finished) = mpsc::channel::<usize>();
        for i in 0..50 {
            let d = done.clone();
            workers.run(Box::new(move || {
                std::thread::sleep(Duration::from_millis(1));
                d.send(i).unwrap();
            }));
        }
        workers.finish();
        drop(done);
        let mut got: Vec<usize> = finished.iter().collect();
        got.sort_unstable();
        assert_eq!(got, (0..50).collect::<Vec<_>>());
    }
}
