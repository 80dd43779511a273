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
        Self::launch(dir, port, None, None)
    }

    /// Starts (or restarts) a server on `port` whose runs and registry live in the database at
    /// `backend_uri` (a [`PostgresServer::uri`]); artifacts stay in `dir`.
    pub fn start_with_backend(dir: &Path, port: u16, backend_uri: &str) -> Self {
        Self::launch(dir, port, None, Some(backend_uri))
    }

    /// Starts a server behind MLflow's basic-auth app (its user store in `dir` too), whose
    /// `admin` user has `admin_password` (MLflow wants at least 12 characters); new users get
    /// READ on everything they did not create, as the app's default.
    pub fn start_with_auth(dir: &Path, admin_password: &str) -> Self {
        Self::launch(dir, free_port(), Some(admin_password), None)
    }

    fn launch(
        dir: &Path,
        port: u16,
        admin_password: Option<&str>,
        backend_uri: Option<&str>,
    ) -> Self {
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
            .arg(backend_uri.map_or_else(
                || format!("sqlite:///{}", dir.join("mlflow.db").display()),
                str::to_owned,
            ))
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

/// A real PostgreSQL server (Debian's `postgresql` package) on a loopback port with its data in
/// a directory of the test's, holding a database `mlflow` owned by a user `mlflow` who logs in
/// with a password (SCRAM), as a production MLflow would reach it. Run as the `postgres` user
/// when the tests run as root (PostgreSQL refuses root). Stopped on drop.
#[derive(Debug)]
pub struct PostgresServer {
    pub port: u16,
    data: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
}

/// The password of the test database's user (a test-only database on loopback).
const PG_PASSWORD: &str = "mlflow-test-password";

impl PostgresServer {
    pub fn start(dir: &Path) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|versions| {
                versions
                    .filter_map(|v| v.ok().map(|v| v.path().join("bin")))
                    .filter(|b| b.join("initdb").is_file())
                    .max()
            })
            .unwrap_or_else(|| {
                panic!("PostgreSQL is missing: apt-get install postgresql (make test installs it)")
            });
        let as_postgres = std::env::var("USER").as_deref() == Ok("root")
            || Command::new("id")
                .arg("-u")
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        // The server's user must reach its directory (a test's temporary directory is 0700).
        let mut open = Some(dir.to_path_buf());
        while let Some(d) = open {
            if d.starts_with(std::env::temp_dir()) && d != std::env::temp_dir() {
                let _ = std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755));
                open = d.parent().map(Path::to_path_buf);
            } else {
                open = None;
            }
        }
        let data = dir.join("pgdata");
        let port = free_port();
        let server = Self {
            port,
            data: data.clone(),
            bin,
            as_postgres,
        };
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown {} to postgres failed", dir.display());
        }
        let pwfile = dir.join("superuser-password");
        std::fs::write(&pwfile, "postgres-test-password\n")
            .unwrap_or_else(|e| panic!("{}: {e}", pwfile.display()));
        if as_postgres {
            let _ = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&pwfile)
                .status();
        }
        server.run(
            "initdb",
            &[
                "-D",
                &data.display().to_string(),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--pwfile",
                &pwfile.display().to_string(),
            ],
        );
        server.run(
            "pg_ctl",
            &[
                "-D",
                &data.display().to_string(),
                "-l",
                &dir.join("postgres.log").display().to_string(),
                "-w",
                "-o",
                &format!(
                    "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={}",
                    dir.display()
                ),
                "start",
            ],
        );
        let sql = [
            format!("CREATE ROLE mlflow LOGIN PASSWORD '{PG_PASSWORD}'"),
            "CREATE DATABASE mlflow OWNER mlflow".to_owned(),
        ];
        for statement in sql {
            server.run(
                "psql",
                &[
                    "-h",
                    &dir.display().to_string(),
                    "-p",
                    &port.to_string(),
                    "-U",
                    "postgres",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-q",
                    "-c",
                    &statement,
                ],
            );
        }
        server
    }

    /// The database's URI for MLflow's `--backend-store-uri`.
    pub fn uri(&self) -> String {
        format!(
            "postgresql://mlflow:{PG_PASSWORD}@127.0.0.1:{}/mlflow",
            self.port
        )
    }

    /// One of PostgreSQL's programs, run as the `postgres` user when we are root.
    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let path = self.bin.join(tool);
        let out = self
            .command(tool)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let _ = self
            .command("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
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
