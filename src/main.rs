//! The `vmi-operator` command: wiring only.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "vmi-operator", version, about = "vSphere Content Library templates as VM Operator VirtualMachineImages")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the CRD YAML files (or print them all to stdout with `--out -`).
    Crds {
        #[arg(long, default_value = "crds")]
        out: String,
    },
    /// Print the VMI ID of a content library item UUID.
    VmiId { uuid: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Crds { out } => {
            if out == "-" {
                print!("{}", vmi_operator::crdgen::render_stream());
                return ExitCode::SUCCESS;
            }
            match vmi_operator::crdgen::write_all(&PathBuf::from(&out)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: cannot write CRDs to {out}: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::VmiId { uuid } => match vmi_operator::vmi_id::vmi_id(&uuid) {
            Ok(id) => {
                println!("{id}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
    }
}
