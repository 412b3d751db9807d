//! The command line, as clap types. `main.rs` carries the commands out.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::nuki::uuids::ServiceFamily;

/// BLE gateway for Nuki Boxes, Smart Locks and Openers.
#[derive(Debug, Parser)]
#[command(name = "nuki-edge", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway until SIGINT or SIGTERM.
    Run(ConfigArg),
    /// Load and validate a configuration file, then exit.
    CheckConfig {
        /// The TOML file to check.
        file: PathBuf,
    },
    /// Listen for Nuki devices and list them.
    Scan {
        #[command(flatten)]
        config: ConfigArg,
        /// How long to listen (default: ble.scan_seconds).
        #[arg(long, value_name = "N")]
        seconds: Option<u64>,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Pair with a device in pairing mode and store the key.
    Pair {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        device: DeviceArg,
        /// Pair as bridge or as app (default: pairing.id_type).
        #[arg(long = "as", value_enum, value_name = "ID_TYPE")]
        as_id_type: Option<PairAs>,
        /// The device's security PIN (needed for a Smart Lock Ultra). Prefer
        /// pairing.security_pin_file: command lines are visible to other users.
        #[arg(long, value_name = "PIN")]
        pin: Option<String>,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Let Bridge API clients fetch the token through /auth for a while, as pressing the
    /// official Bridge's button does.
    BridgeAuth {
        #[command(flatten)]
        config: ConfigArg,
        /// Open the window (without it, the window is closed at once).
        #[arg(long)]
        open: bool,
        /// How long the window stays open, 1 to 600 s.
        #[arg(
            long,
            value_name = "SECONDS",
            default_value_t = 30,
            value_parser = clap::value_parser!(u64).range(1..=600)
        )]
        seconds: u64,
    },
    /// Verify or repair the store (pairings and settings).
    Store {
        #[command(subcommand)]
        action: StoreAction,
    },
    /// Accounts of the building's management: the first owner, API tokens for scripts. Both
    /// work with the daemon stopped or running.
    Account {
        #[command(subcommand)]
        action: AccountAction,
    },
    /// Read a paired device's state.
    State(DeviceCommandArgs),
    /// Lock a paired device.
    Lock(DeviceCommandArgs),
    /// Unlock a paired device.
    Unlock(DeviceCommandArgs),
    /// Unlock and pull the latch (Opener: open the door).
    Unlatch(DeviceCommandArgs),
    /// Make something happen at a door of the simulated building of a running daemon
    /// (`ble.backend = "sim"`): a turn by hand, a keypad code, the door, the doorbell.
    Sim {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        device: DeviceArg,
        #[command(subcommand)]
        event: SimEventArg,
    },
    /// Check the installation: configuration, store, Bluetooth, devices, clock, HTTP port.
    /// Exit code 0 when no check failed, 1 when one did.
    Doctor {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Print the manual page (roff), generated from this command line definition.
    #[command(hide = true)]
    Man,
    /// Decode captured messages or advertisements (hex) into JSON.
    Decode {
        /// The shared key (64 hex digits), to open encrypted messages.
        #[arg(long, value_name = "HEX")]
        key: Option<String>,
        /// The hex is advertisement data, not a message.
        #[arg(long)]
        advert: bool,
        /// Which payload layouts to use (default: keyturner).
        #[arg(long, value_enum)]
        family: Option<FamilyArg>,
        /// One message, possibly in several fragments as captured.
        #[arg(required = true, value_name = "HEX")]
        hex: Vec<String>,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum SimEventArg {
    /// Turn the knob or key by hand.
    Turn {
        #[arg(value_enum)]
        action: crate::app::sim_cli::ManualTurn,
    },
    /// Type a code on the device's keypad.
    Keypad {
        /// Six digits, as typed.
        code: u32,
    },
    /// Open or close the door (the device needs a door sensor).
    Door {
        #[arg(value_enum)]
        state: DoorArg,
    },
    /// Ring the doorbell (Opener).
    Ring,
    /// Press the device's button once.
    Button,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DoorArg {
    Open,
    Closed,
}

impl SimEventArg {
    pub fn event(&self) -> crate::app::sim_cli::SimEvent {
        use crate::app::sim_cli::SimEvent;
        match self {
            SimEventArg::Turn { action } => SimEvent::Turn { action: *action },
            SimEventArg::Keypad { code } => SimEvent::Keypad { code: *code },
            SimEventArg::Door { state } => SimEvent::Door {
                open: *state == DoorArg::Open,
            },
            SimEventArg::Ring => SimEvent::Ring,
            SimEventArg::Button => SimEvent::Button,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum StoreAction {
    /// Verify every page and record of the store; writes nothing, so it may run beside the
    /// daemon.
    Check(ConfigArg),
    /// Copy the store aside (`<store>.damaged-<time>`), then repair it if it can be. Stop the
    /// daemon first.
    Recover(ConfigArg),
}

#[derive(Debug, Subcommand)]
pub enum AccountAction {
    /// Create the one owner account (refused when there is one).
    CreateOwner {
        #[command(flatten)]
        config: ConfigArg,
        /// The owner's e-mail address, used to log in.
        #[arg(long, value_name = "EMAIL")]
        email: String,
        /// A file holding the password (a trailing newline is not part of it). Without it,
        /// the password is asked for at the terminal.
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        /// The owner's display name.
        #[arg(long, value_name = "NAME", default_value = "Owner")]
        name: String,
    },
    /// Issue an API token for an account and print it on stdout; it is shown only this once.
    Token {
        #[command(flatten)]
        config: ConfigArg,
        /// The account's e-mail address.
        #[arg(long, value_name = "EMAIL")]
        email: String,
        /// What the token is for (e.g. "backup script").
        #[arg(long, value_name = "NAME")]
        name: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct ConfigArg {
    /// The configuration file.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct DeviceArg {
    /// The device: its address, or its name as configured or paired.
    #[arg(value_name = "DEVICE")]
    pub device: String,
}

#[derive(Debug, Clone, Copy, Args)]
pub struct OutputArg {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DeviceCommandArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(flatten)]
    pub device: DeviceArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PairAs {
    Bridge,
    App,
}

impl PairAs {
    pub fn is_bridge(self) -> bool {
        self == PairAs::Bridge
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FamilyArg {
    Keyturner,
    Ultra,
    Opener,
}

impl From<FamilyArg> for ServiceFamily {
    fn from(family: FamilyArg) -> Self {
        match family {
            FamilyArg::Keyturner => ServiceFamily::Keyturner,
            FamilyArg::Ultra => ServiceFamily::Ultra,
            FamilyArg::Opener => ServiceFamily::Opener,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn pair_takes_as_and_pin() {
        let cli = Cli::try_parse_from([
            "nuki-edge",
            "pair",
            "--config",
            "c.toml",
            "Flat 2.1",
            "--as",
            "bridge",
            "--pin",
            "1234",
        ])
        .unwrap();
        let Command::Pair {
            device,
            as_id_type,
            pin,
            ..
        } = cli.command
        else {
            panic!("not pair");
        };
        assert_eq!(device.device, "Flat 2.1");
        assert_eq!(as_id_type, Some(PairAs::Bridge));
        assert_eq!(pin.as_deref(), Some("1234"));
    }

    #[test]
    fn the_auth_window_range_matches_the_operation() {
        let parse = |seconds: &str| {
            Cli::try_parse_from([
                "nuki-edge",
                "bridge-auth",
                "-c",
                "c.toml",
                "--open",
                "--seconds",
                seconds,
            ])
        };
        let end = crate::app::ops::AUTH_WINDOW_SECONDS.end().to_string();
        assert!(parse(&end).is_ok());
        let past = (crate::app::ops::AUTH_WINDOW_SECONDS.end() + 1).to_string();
        assert!(parse(&past).is_err());
        assert!(parse("0").is_err());
    }

    #[test]
    fn account_commands_take_their_flags() {
        let cli = Cli::try_parse_from([
            "nuki-edge",
            "account",
            "create-owner",
            "--config",
            "c.toml",
            "--email",
            "ann@example.org",
            "--password-file",
            "pw.txt",
        ])
        .unwrap();
        let Command::Account {
            action:
                AccountAction::CreateOwner {
                    email,
                    password_file,
                    name,
                    ..
                },
        } = cli.command
        else {
            panic!("not account create-owner");
        };
        assert_eq!(email, "ann@example.org");
        assert_eq!(password_file, Some(PathBuf::from("pw.txt")));
        assert_eq!(name, "Owner");
        let token = |args: &[&str]| {
            let mut all = vec!["nuki-edge", "account", "token", "-c", "c.toml"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all)
        };
        assert!(token(&["--email", "a@b.org", "--name", "script"]).is_ok());
        assert!(
            token(&["--email", "a@b.org"]).is_err(),
            "a token has a name"
        );
    }

    #[test]
    fn decode_needs_hex() {
        assert!(Cli::try_parse_from(["nuki-edge", "decode"]).is_err());
        let cli = Cli::try_parse_from(["nuki-edge", "decode", "--family", "opener", "0A00", "FF"])
            .unwrap();
        assert!(matches!(
            cli.command,
            Command::Decode { family: Some(FamilyArg::Opener), ref hex, .. } if hex.len() == 2
        ));
    }
}
