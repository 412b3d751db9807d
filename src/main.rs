//! The `nuki-edge` binary: parses the command line, runs one command and maps the outcome to
//! an exit code: 0 success, 2 bad input (usage, configuration, unknown device, bad hex) or a
//! store that needs an operator (damaged), 1 anything that went wrong at run time (device
//! unreachable, radio or store failure).
//! Every failure is one line on stderr: `error: …`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use clap::Parser;
use serde::Serialize;

use nuki_edge::app::accounts_cli::{self, AccountsCliError};
use nuki_edge::app::cli::{
    AccountAction, Cli, Command, DeviceCommandArgs, FamilyArg, OutputArg, StoreAction,
};
use nuki_edge::app::ops::{self, DeviceCommand, OpsError, PairProgress};
use nuki_edge::app::{decode, doctor, logging, run};
use nuki_edge::config::Config;

const EXIT_RUNTIME: u8 = 1;
const EXIT_BAD_INPUT: u8 = 2;

/// One-shot commands log only warnings unless RUST_LOG asks for more: their output is the
/// result on stdout.
const ONE_SHOT_LOG_LEVEL: &str = "warn";

enum Failure {
    BadInput(anyhow::Error),
    Runtime(anyhow::Error),
}

impl Failure {
    fn report(self) -> ExitCode {
        let (code, error) = match self {
            Failure::BadInput(error) => (EXIT_BAD_INPUT, error),
            Failure::Runtime(error) => (EXIT_RUNTIME, error),
        };
        eprintln!("error: {}", one_line(&describe(&error)));
        ExitCode::from(code)
    }
}

/// The error and its causes, each cause only when the text so far does not already say it
/// (our error types print their inner error themselves).
fn describe(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if text.contains(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

impl From<OpsError> for Failure {
    fn from(error: OpsError) -> Self {
        if error.is_bad_input() {
            Failure::BadInput(error.into())
        } else {
            Failure::Runtime(error.into())
        }
    }
}

impl From<AccountsCliError> for Failure {
    fn from(error: AccountsCliError) -> Self {
        if error.is_bad_input() {
            Failure::BadInput(error.into())
        } else {
            Failure::Runtime(error.into())
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error),
    };
    match execute(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

/// Help and version go to stdout as clap renders them; usage errors become one line.
fn usage_error(error: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        return match error.print() {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::from(EXIT_RUNTIME),
        };
    }
    if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        eprintln!("error: a command is required (see nuki-edge --help)");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    // clap's first paragraph is the message (a list of missing arguments spans several
    // lines); usage and tips follow after a blank line.
    let rendered = error.render().to_string();
    let paragraph: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .skip_while(|line| line.is_empty())
        .take_while(|line| !line.is_empty())
        .collect();
    let joined = paragraph.join(" ");
    let message = joined.strip_prefix("error:").unwrap_or(&joined).trim();
    eprintln!("error: {message} (see nuki-edge --help)");
    ExitCode::from(EXIT_BAD_INPUT)
}

fn execute(command: Command) -> Result<(), Failure> {
    match command {
        Command::CheckConfig { file } => check_config(&file),
        Command::Decode {
            key,
            advert,
            family,
            hex,
        } => {
            let family = family.unwrap_or(FamilyArg::Keyturner).into();
            let value = decode::decode_command_line(&hex, key.as_deref(), advert, family)
                .map_err(|error| Failure::BadInput(error.into()))?;
            print_json(&value)
        }
        Command::Run(args) => {
            let config = load_config(&args.config)?;
            init_logging(&config, &config.log.level)?;
            block_on(async move { run::run(config).await.map_err(Failure::from) })
        }
        Command::Scan {
            config,
            seconds,
            output,
        } => {
            let config = load_one_shot_config(&config.config)?;
            let seconds = seconds.unwrap_or(config.ble.scan_seconds);
            let rows =
                block_on(async { ops::scan(&config, seconds).await.map_err(Failure::from) })?;
            if output.json {
                print_json(&rows)
            } else if rows.is_empty() {
                print_line("no Nuki devices heard")
            } else {
                rows.iter().try_for_each(|row| print_line(&row.to_string()))
            }
        }
        Command::Pair {
            config,
            device,
            as_id_type,
            pin,
            output,
        } => {
            let config = load_one_shot_config(&config.config)?;
            pair(
                &config,
                &device.device,
                as_id_type.map(|a| a.is_bridge()),
                pin,
                output,
            )
        }
        Command::BridgeAuth {
            config,
            open,
            seconds,
        } => {
            let config = load_one_shot_config(&config.config)?;
            let message = ops::bridge_auth_window(&config, open, seconds)?;
            print_line(&message)
        }
        Command::Store { action } => match action {
            StoreAction::Check(args) => {
                let config = load_one_shot_config(&args.config)?;
                print_line(&ops::store_check(&config)?.to_string())
            }
            StoreAction::Recover(args) => {
                let config = load_one_shot_config(&args.config)?;
                print_line(&ops::store_recover(&config)?.to_string())
            }
        },
        Command::Account { action } => account_command(action),
        Command::Doctor { config, output } => doctor(&config.config, output),
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
                .render(&mut page)
                .context("cannot render the manual page")
                .map_err(Failure::Runtime)?;
            print_line(String::from_utf8_lossy(&page).trim_end())
        }
        Command::Sim {
            config,
            device,
            event,
        } => {
            let config = load_one_shot_config(&config.config)?;
            let value = block_on(async {
                nuki_edge::app::sim_cli::send(&config, &device.device, event.event())
                    .await
                    .map_err(Failure::from)
            })?;
            print_json(&value)
        }
        Command::State(args) => device_command(args, DeviceCommand::State),
        Command::Lock(args) => device_command(args, DeviceCommand::Lock),
        Command::Unlock(args) => device_command(args, DeviceCommand::Unlock),
        Command::Unlatch(args) => device_command(args, DeviceCommand::Unlatch),
    }
}

/// Prints the checks; exit code 1 (with one `error:` line) when any failed.
fn doctor(config: &Path, output: OutputArg) -> Result<(), Failure> {
    // Doctor's own findings are its output; the log only carries warnings.
    let _ = logging::init(ONE_SHOT_LOG_LEVEL, nuki_edge::config::LogFormat::Text);
    let report = block_on(async { Ok(doctor::run(config).await) })?;
    if output.json {
        print_json(&report)?;
    } else {
        print_line(&report.table())?;
    }
    match report.failed() {
        0 => Ok(()),
        1 => Err(Failure::Runtime(anyhow!("1 doctor check failed"))),
        n => Err(Failure::Runtime(anyhow!("{n} doctor checks failed"))),
    }
}

fn check_config(file: &Path) -> Result<(), Failure> {
    let config = load_config(file)?;
    print_line(&format!(
        "config OK: {} simulated devices, backend {}",
        config.sim.devices.len(),
        config.ble.backend
    ))
}

fn pair(
    config: &Config,
    device: &str,
    as_bridge: Option<bool>,
    pin: Option<String>,
    output: OutputArg,
) -> Result<(), Failure> {
    // In JSON mode stdout carries only the result, so the countdown goes to stderr.
    let show_progress = |progress: PairProgress| {
        if output.json {
            eprintln!("{progress}");
        } else {
            println!("{progress}");
        }
    };
    // Only a person at a terminal is asked for a PIN; scripts get a clear error instead.
    let ask_pin = |device: &str| {
        rpassword::prompt_password(format!("security PIN of {device}: "))
            .ok()
            .filter(|pin| !pin.trim().is_empty())
    };
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdin());
    let ask_pin: Option<&ops::PinPrompt> = if interactive { Some(&ask_pin) } else { None };
    let summary = block_on(async {
        ops::pair(config, device, as_bridge, pin, &show_progress, ask_pin)
            .await
            .map_err(Failure::from)
    })?;
    if output.json {
        print_json(&summary)
    } else {
        print_line(&summary.to_string())
    }
}

fn account_command(action: AccountAction) -> Result<(), Failure> {
    match action {
        AccountAction::CreateOwner {
            config,
            email,
            password_file,
            name,
        } => {
            let config = load_one_shot_config(&config.config)?;
            accounts_cli::check_email(&email)?;
            let password = accounts_cli::read_password(password_file.as_deref())?;
            let line = block_on(async {
                accounts_cli::create_owner(&config, &email, &name, password)
                    .await
                    .map_err(Failure::from)
            })?;
            print_line(&line)
        }
        AccountAction::Token {
            config,
            email,
            name,
        } => {
            let config = load_one_shot_config(&config.config)?;
            let token = block_on(async {
                accounts_cli::issue_token(&config, &email, &name)
                    .await
                    .map_err(Failure::from)
            })?;
            print_line(&token)
        }
    }
}

fn device_command(args: DeviceCommandArgs, command: DeviceCommand) -> Result<(), Failure> {
    let config = load_one_shot_config(&args.config.config)?;
    let value = block_on(async {
        ops::device_command(&config, &args.device.device, command)
            .await
            .map_err(Failure::from)
    })?;
    print_json(&value)
}

fn load_config(path: &Path) -> Result<Config, Failure> {
    Config::load(path).map_err(|error| Failure::BadInput(error.into()))
}

fn load_one_shot_config(path: &Path) -> Result<Config, Failure> {
    let config = load_config(path)?;
    init_logging(&config, ONE_SHOT_LOG_LEVEL)?;
    Ok(config)
}

fn init_logging(config: &Config, level: &str) -> Result<(), Failure> {
    logging::init(level, config.log.format).map_err(|error| Failure::BadInput(error.into()))
}

fn block_on<T>(work: impl std::future::Future<Output = Result<T, Failure>>) -> Result<T, Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(Failure::Runtime)?;
    runtime.block_on(work)
}

fn print_json(value: &impl Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .context("cannot render the result as JSON")
        .map_err(Failure::Runtime)?;
    print_line(&text)
}

/// Like println!, but a closed stdout is an error instead of a panic.
fn print_line(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}")
        .and_then(|()| stdout.flush())
        .map_err(|error| Failure::Runtime(anyhow!("cannot write to stdout: {error}")))
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
