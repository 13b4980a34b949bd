//! `midgame cluster scheduler` and `midgame cluster executor`: Ballista's scheduler and
//! executor processes, with midgame's functions, codec and lake store.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ballista_core::JobId;
use ballista_core::config::TaskSchedulingPolicy;
use ballista_core::extension::{
    ballista_aggregate_functions, ballista_scalar_functions, ballista_window_functions,
};
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::BallistaPhysicalExtensionCodec;
use ballista_executor::execution_engine::{
    DefaultExecutionEngine, ExecutionEngine, QueryStageExecutor,
};
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::TaskContext;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::ScalarUDF;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::prelude::SessionConfig;

use crate::ClusterError;
use crate::codec::MidgameCodec;
use crate::options::{config_producer, register_lake_store};

/// How to run a scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerArgs {
    /// Where its gRPC service listens (clients and executors connect here).
    pub bind: SocketAddr,
    /// Seconds without a heartbeat after which an executor counts as lost and its
    /// tasks are run again elsewhere.
    pub executor_timeout_secs: u64,
    /// midgame's functions, `geoip_*` included when configured.
    pub functions: Vec<Arc<ScalarUDF>>,
}

/// How to run an executor.
#[derive(Debug, Clone)]
pub struct ExecutorArgs {
    /// The scheduler's address.
    pub scheduler: SocketAddr,
    /// Where its Arrow Flight service (shuffle data, results) listens. It asks the
    /// scheduler for tasks itself, so this is its only port.
    pub bind: SocketAddr,
    /// The host name the scheduler and the other executors reach it by.
    pub external_host: String,
    /// Tasks it runs at once (0: one per core).
    pub concurrent_tasks: usize,
    /// Seconds between heartbeats to the scheduler.
    pub heartbeat_secs: u64,
    /// Where it keeps shuffle files (a fresh temporary folder when `None`).
    pub work_dir: Option<PathBuf>,
    /// midgame's functions, `geoip_*` included when configured.
    pub functions: Vec<Arc<ScalarUDF>>,
}

fn session_builder(
    functions: Vec<Arc<ScalarUDF>>,
) -> ballista_scheduler::scheduler_server::SessionBuilder {
    Arc::new(move |config: SessionConfig| {
        // A fresh runtime per job (as Ballista's own builder does), listing the lake the
        // client named through the lake's store.
        let runtime = RuntimeEnvBuilder::new().build_arc()?;
        register_lake_store(&config, &runtime)?;
        let mut scalar = ballista_scalar_functions();
        scalar.extend(functions.iter().cloned());
        Ok(SessionStateBuilder::new()
            .with_default_features()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_optimizer_rules(ballista_core::optimizer::ballista_default_optimizer_rules())
            .with_scalar_functions(scalar)
            .with_aggregate_functions(ballista_aggregate_functions())
            .with_window_functions(ballista_window_functions())
            .build())
    })
}

/// Run a scheduler until SIGTERM or Ctrl-C.
///
/// # Errors
/// It cannot bind its address, or its service fails.
pub async fn run_scheduler(args: SchedulerArgs) -> Result<(), ClusterError> {
    let config = SchedulerConfig {
        bind_host: args.bind.ip().to_string(),
        bind_port: args.bind.port(),
        external_host: args.bind.ip().to_string(),
        // Executors ask for tasks. With the scheduler pushing them, a task reset when an
        // executor was lost mid-query was never offered again and the job waited for
        // ever (Ballista 55, loopback test of a killed executor); pulled, it runs on the
        // executor that is left.
        scheduling_policy: TaskSchedulingPolicy::PullStaged,
        executor_timeout_seconds: args.executor_timeout_secs,
        expire_dead_executor_interval_seconds: (args.executor_timeout_secs / 2).clamp(1, 15),
        override_config_producer: Some(Arc::new(config_producer)),
        override_session_builder: Some(session_builder(args.functions)),
        override_logical_codec: Some(Arc::new(MidgameCodec::default())),
        override_physical_codec: Some(Arc::new(BallistaPhysicalExtensionCodec::default())),
        ..SchedulerConfig::default()
    };
    let cluster = BallistaCluster::new_from_config(&config).await?;
    tracing::info!("midgame scheduler listening on {}", args.bind);
    let server =
        ballista_scheduler::scheduler_process::start_server(cluster, args.bind, Arc::new(config));
    tokio::select! {
        r = server => r.map_err(ClusterError::from),
        () = stop_signal() => {
            tracing::info!("midgame scheduler stopping");
            Ok(())
        }
    }
}

/// SIGTERM or Ctrl-C.
async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = async {
            match term.as_mut() {
                Some(t) => { t.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}

/// Ballista's execution engine, its tasks reporting no operator metrics.
///
/// Ballista 55's scheduler restricts each task's plan to the partitions it reads, so
/// the tasks of one stage over a `UNION ALL` whose branch became empty carry plans of
/// different sizes; the scheduler then refuses the second task's metrics ("task metrics
/// array size 9 does not equal with the stage metrics array size 8"), drops its status
/// and waits on the job for ever (seen with `unusual_admin_access` and `data_staging`
/// over sample-logs). A task with no metrics is accepted as it is. The metrics only
/// feed Ballista's job display; results, shuffle statistics and window state still
/// travel.
struct WithoutOperatorMetrics(DefaultExecutionEngine);

impl ExecutionEngine for WithoutOperatorMetrics {
    fn create_query_stage_exec(
        &self,
        job_id: JobId,
        stage_id: usize,
        task_id: usize,
        global_output_partition_ids: Vec<usize>,
        plan: Arc<dyn ExecutionPlan>,
        work_dir: &str,
        config: &SessionConfig,
    ) -> datafusion::error::Result<Arc<dyn QueryStageExecutor>> {
        let inner = self.0.create_query_stage_exec(
            job_id,
            stage_id,
            task_id,
            global_output_partition_ids,
            plan,
            work_dir,
            config,
        )?;
        Ok(Arc::new(StageWithoutMetrics(inner)))
    }
}

#[derive(Debug)]
struct StageWithoutMetrics(Arc<dyn QueryStageExecutor>);

impl std::fmt::Display for StageWithoutMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[async_trait::async_trait]
impl QueryStageExecutor for StageWithoutMetrics {
    async fn execute_query_stage(
        &self,
        task_id: usize,
        context: Arc<TaskContext>,
    ) -> datafusion::error::Result<Vec<ballista_core::serde::protobuf::ShuffleWritePartition>> {
        self.0.execute_query_stage(task_id, context).await
    }

    fn collect_plan_metrics(&self) -> Vec<MetricsSet> {
        Vec::new()
    }

    fn collect_runtime_stats_reports(
        &self,
    ) -> Vec<ballista_core::serde::protobuf::RuntimeStatsReport> {
        self.0.collect_runtime_stats_reports()
    }

    fn collect_window_state_reports(
        &self,
    ) -> datafusion::error::Result<Vec<ballista_core::serde::protobuf::WindowStateReport>> {
        self.0.collect_window_state_reports()
    }

    fn collect_column_stats(&self) -> Vec<ballista_core::serde::protobuf::TaskColumnStats> {
        self.0.collect_column_stats()
    }
}

/// Run an executor until SIGTERM or Ctrl-C (Ballista's executor handles both: it tells
/// the scheduler it is leaving and stops).
///
/// # Errors
/// It cannot bind its addresses or reach the scheduler.
pub async fn run_executor(args: ExecutorArgs) -> Result<(), ClusterError> {
    // The shuffle files' folder: ours when not given, removed when the executor stops.
    let temp = match &args.work_dir {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("midgame-executor-")
                .tempdir()
                .map_err(|e| ClusterError::Ballista(format!("executor work folder: {e}")))?,
        ),
    };
    let work_dir = args
        .work_dir
        .clone()
        .or_else(|| temp.as_ref().map(|t| t.path().to_path_buf()))
        .expect("a work folder");
    let mut registry = BallistaFunctionRegistry::default();
    for f in &args.functions {
        registry
            .scalar_functions
            .insert(f.name().to_owned(), Arc::clone(f));
    }
    let temp_files = work_dir.clone();
    let config = ExecutorProcessConfig {
        bind_host: args.bind.ip().to_string(),
        external_host: Some(args.external_host.clone()),
        port: args.bind.port(),
        // Pull scheduling starts no task service: the port is only reported.
        grpc_port: args.bind.port(),
        scheduler_host: args.scheduler.ip().to_string(),
        scheduler_port: args.scheduler.port(),
        vcores: args.concurrent_tasks,
        task_scheduling_policy: TaskSchedulingPolicy::PullStaged,
        work_dir: Some(work_dir.display().to_string()),
        executor_heartbeat_interval_seconds: args.heartbeat_secs,
        print_thread_info: false,
        // The same bound as a local run (MIDGAME_MEMORY_LIMIT, else half the machine),
        // not Ballista's 70% of the host per executor: two executors on one machine
        // would promise 140%.
        memory_pool_size: Some(midgame_detect::memory_limit() as u64),
        // (Ballista's pooled shuffle clients are private to its crate: a connection per
        // shuffle read, as its engine makes without a pool.)
        override_execution_engine: Some(Arc::new(WithoutOperatorMetrics(
            DefaultExecutionEngine::new(),
        ))),
        override_function_registry: Some(Arc::new(registry)),
        override_config_producer: Some(Arc::new(config_producer)),
        override_runtime_producer: Some(Arc::new(move |config: &SessionConfig| {
            let runtime = RuntimeEnvBuilder::new()
                .with_temp_file_path(temp_files.clone())
                .build_arc()?;
            register_lake_store(config, &runtime)?;
            Ok(runtime)
        })),
        override_logical_codec: Some(Arc::new(MidgameCodec::default())),
        override_physical_codec: Some(Arc::new(BallistaPhysicalExtensionCodec::default())),
        ..ExecutorProcessConfig::default()
    };
    tracing::info!(
        "midgame executor on {}, scheduler {}",
        args.bind,
        args.scheduler
    );
    let r = start_executor_process(Arc::new(config)).await;
    drop(temp);
    r.map_err(ClusterError::from)
}
