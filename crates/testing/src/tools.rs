//! The real external tools the tests drive: an `mlflow server` and `dvc`, installed by
//! `make tools` into the project-local virtualenv `.venv-tools`.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The path of a tool from the tools virtualenv (`SALESCAST_TOOLS_VENV` or `.venv-tools`).
/// Panics with the command that installs it when it is missing: these tests never pass by
/// skipping.
pub fn tool(name: &str) -> PathBuf {
    let venv = std::env::var_os("SALESCAST_TOOLS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv-tools"));
    let path = venv.join("bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `make tools` (installs MLflow and DVC into .venv-tools)",
        path.display()
    );
    path
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// A real `mlflow server` (SQLite backend, artifact proxy) on a loopback port, in its own
/// process group so that stopping it also stops its workers.
#[derive(Debug)]
pub struct MlflowServer {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl MlflowServer {
    /// Starts a server storing into `dir` on a free port and waits until it answers `/health`.
    pub fn start(dir: &Path) -> Self {
        Self::start_on(dir, free_port())
    }

    /// Starts (or restarts) a server on `port` with the store in `dir`.
    pub fn start_on(dir: &Path, port: u16) -> Self {
        Self::launch(dir, port, None)
    }

    /// Starts a server behind MLflow's basic-auth app (its user store in `dir` too), whose
    /// `admin` user has `admin_password` (MLflow wants at least 12 characters); new users get
    /// READ on everything they did not create, as the app's default.
    pub fn start_with_auth(dir: &Path, admin_password: &str) -> Self {
        Self::launch(dir, free_port(), Some(admin_password))
    }

    fn launch(dir: &Path, port: u16, admin_password: Option<&str>) -> Self {
        use std::os::unix::process::CommandExt;
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let log = std::fs::File::create(dir.join(format!("server-{port}.log")))
            .unwrap_or_else(|e| panic!("server log: {e}"));
        let err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("server log: {e}"));
        let mut command = Command::new(tool("mlflow"));
        if let Some(password) = admin_password {
            let ini = dir.join("basic_auth.ini");
            std::fs::write(
                &ini,
                format!(
                    "[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///{}\n\
                     admin_username = admin\nadmin_password = {password}\n\
                     authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n",
                    dir.join("basic_auth.db").display()
                ),
            )
            .unwrap_or_else(|e| panic!("{}: {e}", ini.display()));
            command
                .args(["server", "--app-name", "basic-auth"])
                .env("MLFLOW_AUTH_CONFIG_PATH", &ini)
                .env("MLFLOW_FLASK_SERVER_SECRET_KEY", "salescast-tests-only");
        } else {
            command.arg("server");
        }
        let child = command
            .args(["--host", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .args(["--workers", "1", "--backend-store-uri"])
            .arg(format!("sqlite:///{}", dir.join("mlflow.db").display()))
            .arg("--artifacts-destination")
            .arg(dir.join("artifacts"))
            .env("MLFLOW_DISABLE_TELEMETRY", "true")
            .env("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
            .env("DO_NOT_TRACK", "true")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting mlflow server: {e}"));
        let mut server = Self {
            port,
            dir: dir.to_path_buf(),
            child: Some(child),
        };
        server.wait_healthy(Duration::from_secs(120));
        server
    }

    pub fn uri(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn wait_healthy(&mut self, limit: Duration) {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                let log =
                    std::fs::read_to_string(self.dir.join(format!("server-{}.log", self.port)))
                        .unwrap_or_default();
                panic!("mlflow server exited with {status}:\n{log}");
            }
            if health(self.port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        panic!(
            "mlflow server on port {} not healthy after {limit:?}",
            self.port
        );
    }

    /// Stops the whole process group and waits until the port no longer answers.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let group = format!("-{}", child.id());
            let _ = Command::new("kill")
                .args(["-TERM", "--", &group])
                .stderr(Stdio::null())
                .status();
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(30) {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            let _ = Command::new("kill")
                .args(["-KILL", "--", &group])
                .stderr(Stdio::null())
                .status();
            let _ = child.wait();
            while TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && started.elapsed() < Duration::from_secs(40)
            {
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

impl Drop for MlflowServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn health(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req =
        format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.1 200") || buf.starts_with("HTTP/1.0 200")
}
