//! A real stack for the UI's tests and benchmark: models trained on generated data (with the
//! daily history and the monitor's reference profile), a monitor run on later days, and
//! `salescast-api` serving them on a loopback socket.
#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    dead_code,
    missing_debug_implementations
)]

use std::path::{Path, PathBuf};

use salescast_pipeline::stage::fixture;

pub(crate) struct Stack {
    pub dir: tempfile::TempDir,
    pub models: PathBuf,
    pub reports: PathBuf,
    pub raw: PathBuf,
    pub api_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Stack {
    /// Trains on `rows` transactions over `days` days, runs the monitor on the 28 days after,
    /// and starts the API.
    pub(crate) fn start(rows: usize, days: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let cfg = salescast_synth::Config {
            rows,
            days,
            stores: 4,
            ..Default::default()
        };
        let raw = fixture::generated(&dir.path().join("raw.csv"), &cfg).unwrap();
        let spec = fixture::Spec {
            test_days: 28,
            validation_days: 14,
            trees: 8,
            rounds: 30,
            monitor: salescast_monitor::settings::MonitorSettings {
                reference_rows: 5_000,
                ..Default::default()
            },
            ..Default::default()
        };
        let models = fixture::trained(&raw, dir.path(), &spec).unwrap().models;
        let monitor = spec.monitor;

        // The monitor on 28 later days from another seed.
        let later = salescast_synth::Config {
            rows: 3_000,
            days: 28,
            stores: 4,
            seed: 7,
            start: cfg.start + chrono::Days::new(u64::from(days)),
            ..Default::default()
        };
        let new_data = dir.path().join("new.csv");
        let mut bytes = Vec::new();
        salescast_synth::generate(&later, &mut bytes, |_| {}).unwrap();
        std::fs::write(&new_data, bytes).unwrap();
        let reports = dir.path().join("reports");
        let run = salescast_monitor::run::RunOptions {
            new_data,
            models_dir: models.clone(),
            baseline_metrics: None,
            report_dir: reports.clone(),
            alert_log: reports.join("alerts.jsonl"),
            history: reports.join("history.jsonl"),
            prometheus: reports.join("salescast_monitor.prom"),
            webhook: None,
            settings: monitor,
            project_dir: dir.path().to_path_buf(),
            mlflow: false,
        };
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(salescast_monitor::run::run(&run))
            .unwrap();

        let mut stack = Self {
            dir,
            models,
            reports,
            raw,
            api_url: String::new(),
            stop: None,
            thread: None,
        };
        stack.start_api();
        stack
    }

    /// Starts (or restarts) the API on a fresh loopback port.
    pub(crate) fn start_api(&mut self) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        self.api_url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let models = self.models.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let cfg = salescast_api::Config::new(models);
                let (app, state) = salescast_api::build(&cfg);
                state.reload().unwrap();
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        self.stop = Some(tx);
        self.thread = Some(thread);
    }

    /// Stops the API and waits until it no longer listens.
    pub(crate) fn stop_api(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// A UI configuration against this stack's API and reports.
    pub(crate) fn ui_config(&self) -> salescast_ui::Config {
        let mut cfg = salescast_ui::Config::new(&self.api_url);
        cfg.reports_dir = self.reports.clone();
        cfg.api_timeout = std::time::Duration::from_secs(3);
        cfg
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.stop_api();
    }
}
