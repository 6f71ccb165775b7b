//! The `vmi-operator` command: parses flags and hands over; nothing else lives here.

use std::process::ExitCode;

use clap::Parser;
use vmi_operator::cli::{Cli, Command, LogFormat, OutputFormat, inspect_document, read_descriptor};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(all(
    target_env = "gnu",
    not(feature = "mimalloc"),
    not(feature = "system-allocator")
))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read at its start: one arena (this process's allocations are not
/// contended), freed pages returned within a second by a background thread rather than kept
/// for the next burst. Measured over 10,000 images (docs/benchmarks.md).
#[cfg(all(
    target_env = "gnu",
    not(feature = "mimalloc"),
    not(feature = "system-allocator")
))]
#[unsafe(export_name = "_rjem_malloc_conf")]
static JEMALLOC_CONF: &[u8; 70] =
    b"background_thread:true,narenas:1,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => {
            init_logging(args.log_format, &args.log_level);
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config = match args.config() {
                Ok(config) => config,
                Err(e) => return fail(1, &e),
            };
            let runtime = vmi_operator::runtime::build().expect("tokio runtime");
            match runtime.block_on(vmi_operator::operator::run(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(1, &e.to_string()),
            }
        }
        Command::Inspect {
            source,
            uuid,
            output,
        } => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
            let result = runtime
                .block_on(read_descriptor(&source))
                .and_then(|d| inspect_document(&d, uuid.as_deref()));
            match result {
                Ok(doc) => {
                    match output {
                        OutputFormat::Json => {
                            println!("{}", serde_json::to_string_pretty(&doc).expect("json"))
                        }
                        OutputFormat::Yaml => {
                            print!("{}", serde_saphyr::to_string(&doc).expect("yaml"))
                        }
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(2, &format!("{source}: {e}")),
            }
        }
        Command::Publish {
            dir,
            name,
            library_id,
        } => {
            let opts = vmi_operator::publish::PublishOptions {
                name,
                library_id,
                ..Default::default()
            };
            match vmi_operator::publish::publish_dir(&dir, opts) {
                Ok(summary) => {
                    for w in &summary.warnings {
                        eprintln!("warning: {w}");
                    }
                    println!(
                        "library {} ({}) version {}: {} items",
                        summary.name,
                        summary.library_id,
                        summary.version,
                        summary.items.len()
                    );
                    for item in &summary.items {
                        println!(
                            "  {:?} {} {} (content version {})",
                            item.change, item.id, item.name, item.content_version
                        );
                    }
                    println!(
                        "lib.json: file://{}/lib.json",
                        std::fs::canonicalize(&dir).unwrap_or(dir).display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(2, &e.to_string()),
            }
        }
        Command::VmiId { uuid } => match vmi_operator::vmi_id::vmi_id(&uuid) {
            Ok(id) => {
                println!("{id}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(2, &e.to_string()),
        },
        Command::Crds { out } => {
            if out == "-" {
                print!("{}", vmi_operator::crdgen::render_stream());
                return ExitCode::SUCCESS;
            }
            match vmi_operator::crdgen::write_all(std::path::Path::new(&out)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(1, &format!("cannot write CRDs to {out}: {e}")),
            }
        }
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}

fn init_logging(format: LogFormat, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
