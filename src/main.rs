//! The `civic-vault` command: parse the command line, wire I/O, call the
//! library (`cli` says which call each command makes).

use std::process::ExitCode;

use clap::Parser;

mod cli;

/// Cedar evaluation allocates many small objects on every worker thread;
/// glibc's allocator serialises them on arena locks (a profile showed a
/// tenth of all CPU in its futex), mimalloc's per-thread heaps do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Whatever this process writes (data, checkpoints, backups, restores,
    // keys) is its owner's only.
    civic_vault::vault::owner_only_umask();
    let cli = cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never into a file or journal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match cli.log_format {
        cli::LogFormat::Text => logs.init(),
        // One JSON object per line: time, level, target, the event's
        // fields and the request span's (method, route) — the same fields
        // as the text lines, never more.
        cli::LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
    match cli::run(cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("civic-vault: {message}");
            ExitCode::from(2)
        }
    }
}
